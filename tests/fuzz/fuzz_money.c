/*
 * fuzz_money.c - exact money parsing and formatting (include/teller/money.h).
 *
 * The input is an amount string, parsed in currencies with exponents 0, 2, 3
 * and 4. Each result is compared with a reference parser written here from
 * the header's contract ([+-]digits[.digits], at most `exponent` decimals,
 * within int64), and every parsed amount must format and parse back to the
 * same minor units. The first eight bytes, taken as an int64, must survive
 * format then parse in every currency too.
 */
#include "fuzz.h"

#include <teller/money.h>

#include <stdbool.h>

static const char *const CURRENCIES[] = {"USD", "JPY", "BHD", "CLF", "EUR", "KWD"};
#define N_CURRENCIES (sizeof CURRENCIES / sizeof CURRENCIES[0])

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The contract of tl_money_parse, the slow obvious way. */
static bool ref_parse(const char *s, size_t len, int exponent, int64_t *out)
{
    const unsigned __int128 cap = (unsigned __int128)1 << 80; /* far past int64, far from overflow */
    size_t i = 0;
    bool negative = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        negative = s[i++] == '-';
    unsigned __int128 v = 0;
    size_t n_int = 0;
    for (; i < len && is_digit(s[i]); i++, n_int++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > cap)
            v = cap;
    }
    if (n_int == 0)
        return false;
    size_t decimals = 0;
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && is_digit(s[i]); i++, decimals++) {
            if (decimals < (size_t)exponent)
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (decimals == 0)
            return false;
    }
    if (i != len || decimals > (size_t)exponent)
        return false;
    for (size_t k = decimals; k < (size_t)exponent; k++)
        v *= 10;
    unsigned __int128 limit = (unsigned __int128)INT64_MAX + (negative ? 1 : 0);
    if (v > limit)
        return false;
    *out = negative ? (int64_t)(0 - (uint64_t)v) : (int64_t)(uint64_t)v;
    return true;
}

/* minor formats with exactly `exponent` decimals and parses back to itself. */
static void check_format(int64_t minor, const char *currency)
{
    int exponent = tl_currency_exponent(currency);
    char buf[48];
    int n = tl_money_format(minor, currency, buf, sizeof buf);
    FUZZ_CHECK(n > 0 && (size_t)n == strlen(buf));
    const char *dot = strchr(buf, '.');
    if (exponent == 0)
        FUZZ_CHECK(dot == NULL);
    else
        FUZZ_CHECK(dot && buf + n - dot - 1 == exponent);
    /* The buffer size is exact: n + 1 fits, n does not. */
    char tight[48];
    FUZZ_CHECK(tl_money_format(minor, currency, tight, (size_t)n + 1) == n);
    FUZZ_CHECK(strcmp(tight, buf) == 0);
    FUZZ_CHECK(tl_money_format(minor, currency, tight, (size_t)n) == TL_ETOOBIG);

    int64_t back = 0;
    tl_err err = {0};
    int rc = tl_money_parse(buf, (size_t)n, currency, &back, &err);
    if (rc != 0 || back != minor)
        fprintf(stderr, "%lld %s formats as \"%s\", which parses to %lld (rc %d: %s)\n",
                (long long)minor, currency, buf, (long long)back, rc, err.msg);
    FUZZ_CHECK(rc == 0 && back == minor);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    for (size_t c = 0; c < N_CURRENCIES; c++) {
        const char *cur = CURRENCIES[c];
        int exponent = tl_currency_exponent(cur);
        FUZZ_CHECK(exponent >= 0 && exponent <= 4);
        int64_t minor = 0, want = 0;
        tl_err err = {0};
        int rc = tl_money_parse(s, size, cur, &minor, &err);
        bool ok = ref_parse(s, size, exponent, &want);
        if ((rc == 0) != ok || (ok && minor != want))
            fprintf(stderr, "%s: tl_money_parse rc %d minor %lld, reference %s %lld (%s)\n", cur,
                    rc, (long long)minor, ok ? "ok" : "refuses", (long long)want, err.msg);
        FUZZ_CHECK((rc == 0) == ok);
        if (rc < 0) {
            fuzz_check_err(rc, &err);
            FUZZ_CHECK(rc == TL_EINVAL || rc == TL_ETOOBIG);
            continue;
        }
        FUZZ_CHECK(minor == want);
        check_format(minor, cur);
    }

    /* Unknown and lower-case codes are refused before the amount is read. */
    int64_t untouched = 42;
    tl_err err = {0};
    int rc = tl_money_parse(s, size, "usd", &untouched, &err);
    fuzz_check_err(rc, &err);
    FUZZ_CHECK(untouched == 42);

    /* The input's first three bytes as a currency code. */
    if (size >= 3) {
        char code[4] = {s[0], s[1], s[2], '\0'};
        int e = tl_currency_exponent(code);
        FUZZ_CHECK(e >= -1 && e <= 4);
        for (int k = 0; k < 3; k++)
            if (code[k] < 'A' || code[k] > 'Z')
                FUZZ_CHECK(e == -1);
        FUZZ_CHECK(tl_currency_valid(code) == (e >= 0));
        if (e >= 0 && size >= 11) {
            int64_t v;
            memcpy(&v, data + 3, sizeof v);
            check_format(v, code);
        }
    }

    /* Any int64 formats and parses back. */
    if (size >= 8) {
        int64_t v;
        memcpy(&v, data, sizeof v);
        for (size_t c = 0; c < N_CURRENCIES; c++)
            check_format(v, CURRENCIES[c]);
    }
    return 0;
}
