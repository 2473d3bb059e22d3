/* test_core_money.c - exact decimal money parsing and formatting. */
#include <criterion/criterion.h>
#include <string.h>

#include <teller/money.h>

static int parse(const char *s, const char *cur, int64_t *out, tl_err *err)
{
    return tl_money_parse(s, strlen(s), cur, out, err);
}

static int64_t ok(const char *s, const char *cur)
{
    tl_err err = {0};
    int64_t v = 0x5555;
    int rc = parse(s, cur, &v, &err);
    cr_assert_eq(rc, 0, "\"%s\" %s should parse: %s", s, cur, err.msg);
    return v;
}

static void bad(const char *s, const char *cur, int code, const char *needle)
{
    tl_err err = {0};
    int64_t v = 0x5555;
    int rc = parse(s, cur, &v, &err);
    cr_assert_eq(rc, code, "\"%s\" %s: expected %d, got %d (%s)", s, cur, code, rc, err.msg);
    cr_assert_eq(err.code, code);
    cr_assert_eq(v, 0x5555, "output must be untouched on error");
    if (needle)
        cr_assert(strstr(err.msg, needle), "message \"%s\" should contain \"%s\"", err.msg, needle);
}

Test(money, exponents)
{
    cr_assert_eq(tl_currency_exponent("USD"), 2);
    cr_assert_eq(tl_currency_exponent("EUR"), 2);
    cr_assert_eq(tl_currency_exponent("JPY"), 0);
    cr_assert_eq(tl_currency_exponent("KRW"), 0);
    cr_assert_eq(tl_currency_exponent("ISK"), 0);
    cr_assert_eq(tl_currency_exponent("VND"), 0);
    cr_assert_eq(tl_currency_exponent("XAF"), 0);
    cr_assert_eq(tl_currency_exponent("XOF"), 0);
    cr_assert_eq(tl_currency_exponent("BHD"), 3);
    cr_assert_eq(tl_currency_exponent("KWD"), 3);
    cr_assert_eq(tl_currency_exponent("OMR"), 3);
    cr_assert_eq(tl_currency_exponent("JOD"), 3);
    cr_assert_eq(tl_currency_exponent("TND"), 3);
    cr_assert_eq(tl_currency_exponent("LYD"), 3);
    cr_assert_eq(tl_currency_exponent("IQD"), 3);
    cr_assert_eq(tl_currency_exponent("CLF"), 4);
    cr_assert_eq(tl_currency_exponent("UYW"), 4);
    cr_assert_eq(tl_currency_exponent("CHF"), 2);
    cr_assert_eq(tl_currency_exponent("AED"), 2);
    cr_assert_eq(tl_currency_exponent("ZWG"), 2);
    /* unknown, lower case, short, non-letters, N.A. codes */
    cr_assert_eq(tl_currency_exponent("XXY"), -1);
    cr_assert_eq(tl_currency_exponent("usd"), -1);
    cr_assert_eq(tl_currency_exponent("US"), -1);
    cr_assert_eq(tl_currency_exponent(""), -1);
    cr_assert_eq(tl_currency_exponent(NULL), -1);
    cr_assert_eq(tl_currency_exponent("U$D"), -1);
    cr_assert_eq(tl_currency_exponent("XAU"), -1);
    cr_assert_eq(tl_currency_exponent("XXX"), -1);
    cr_assert_eq(tl_currency_exponent("HRK"), -1, "withdrawn in 2023");
    cr_assert(tl_currency_valid("GBP"));
    cr_assert_not(tl_currency_valid("ABC"));
    /* only the first three bytes are read */
    char buf[3] = {'U', 'S', 'D'};
    cr_assert_eq(tl_currency_exponent(buf), 2);
}

Test(money, counts_all_of_list_one)
{
    int n = 0;
    char c[4] = {0};
    for (c[0] = 'A'; c[0] <= 'Z'; c[0]++)
        for (c[1] = 'A'; c[1] <= 'Z'; c[1]++)
            for (c[2] = 'A'; c[2] <= 'Z'; c[2]++)
                n += tl_currency_valid(c);
    cr_assert_geq(n, 150, "ISO 4217 list one has about 150 active codes, found %d", n);
    cr_assert_leq(n, 180);
}

Test(money, parses_plain_values)
{
    cr_assert_eq(ok("12.30", "USD"), 1230);
    cr_assert_eq(ok("12.3", "USD"), 1230);
    cr_assert_eq(ok("12", "USD"), 1200);
    cr_assert_eq(ok("0", "USD"), 0);
    cr_assert_eq(ok("0.5", "USD"), 50);
    cr_assert_eq(ok("0.05", "USD"), 5);
    cr_assert_eq(ok("-12.30", "USD"), -1230);
    cr_assert_eq(ok("+5", "USD"), 500);
    cr_assert_eq(ok("-0.00", "USD"), 0);
    cr_assert_eq(ok("007.50", "USD"), 750, "leading zeros are accepted");
    cr_assert_eq(ok("100", "JPY"), 100);
    cr_assert_eq(ok("-100", "KRW"), -100);
    cr_assert_eq(ok("1.234", "BHD"), 1234);
    cr_assert_eq(ok("1.2", "BHD"), 1200);
    cr_assert_eq(ok("1.2345", "CLF"), 12345);
}

Test(money, int64_boundaries)
{
    cr_assert_eq(ok("92233720368547758.07", "USD"), INT64_MAX);
    cr_assert_eq(ok("-92233720368547758.08", "USD"), INT64_MIN);
    cr_assert_eq(ok("9223372036854775807", "JPY"), INT64_MAX);
    cr_assert_eq(ok("-9223372036854775808", "JPY"), INT64_MIN);
    bad("92233720368547758.08", "USD", TL_ETOOBIG, "out of range");
    bad("-92233720368547758.09", "USD", TL_ETOOBIG, "out of range");
    bad("9223372036854775808", "JPY", TL_ETOOBIG, "out of range");
    bad("92233720368547758080", "USD", TL_ETOOBIG, NULL);
    bad("99999999999999999999999999", "USD", TL_ETOOBIG, NULL);
    bad("18446744073709551616", "JPY", TL_ETOOBIG, NULL); /* wraps uint64 exactly */
}

Test(money, precision_is_per_currency)
{
    bad("12.345", "USD", TL_EINVAL, "amount \"12.345\" has 3 decimals but USD allows 2");
    bad("12.340", "USD", TL_EINVAL, "3 decimals");
    bad("100.5", "JPY", TL_EINVAL, "JPY allows 0");
    bad("100.0", "JPY", TL_EINVAL, "1 decimals but JPY allows 0");
    bad("1.2345", "BHD", TL_EINVAL, "BHD allows 3");
}

Test(money, rejects_non_decimals)
{
    bad("", "USD", TL_EINVAL, "empty");
    bad(" 5", "USD", TL_EINVAL, "not a decimal number");
    bad("5 ", "USD", TL_EINVAL, "spaces");
    bad("1 000", "USD", TL_EINVAL, NULL);
    bad("1,000", "USD", TL_EINVAL, "thousands separators");
    bad("1,5", "USD", TL_EINVAL, NULL);
    bad("1e3", "USD", TL_EINVAL, "amount \"1e3\" is not a decimal number");
    bad("1E3", "USD", TL_EINVAL, "exponents");
    bad("0x10", "USD", TL_EINVAL, "not a decimal number");
    bad(".5", "USD", TL_EINVAL, "not a decimal number");
    bad("5.", "USD", TL_EINVAL, "not a decimal number");
    bad("-", "USD", TL_EINVAL, NULL);
    bad("+", "USD", TL_EINVAL, NULL);
    bad("--5", "USD", TL_EINVAL, NULL);
    bad("+-5", "USD", TL_EINVAL, NULL);
    bad("5-", "USD", TL_EINVAL, NULL);
    bad("1.2.3", "USD", TL_EINVAL, NULL);
    bad("$5", "USD", TL_EINVAL, NULL);
    bad("5USD", "USD", TL_EINVAL, NULL);
    bad("NaN", "USD", TL_EINVAL, NULL);
    bad("inf", "USD", TL_EINVAL, NULL);
    bad("١٢", "USD", TL_EINVAL, NULL); /* Arabic-Indic digits */
}

Test(money, unknown_currency)
{
    bad("5", "XXY", TL_EINVAL, "unknown currency \"XXY\"");
    bad("5", "usd", TL_EINVAL, "unknown currency");
    bad("5", "", TL_EINVAL, "unknown currency");
}

Test(money, length_bounds_the_input)
{
    /* only s[0..len) is read: "12.345" cut to "12.34" is fine */
    int64_t v = 0;
    cr_assert_eq(tl_money_parse("12.345", 5, "USD", &v, NULL), 0);
    cr_assert_eq(v, 1234);
    /* an embedded NUL is not a digit */
    cr_assert_eq(tl_money_parse("1\0" "2", 3, "USD", &v, NULL), TL_EINVAL);
}

Test(money, message_escapes_hostile_values)
{
    tl_err err = {0};
    const char *s = "\x1b[31m\"\xff";
    cr_assert_eq(tl_money_parse(s, strlen(s), "USD", NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\\x1b[31m\\\"\\xff"), "got %s", err.msg);
    char big[5000];
    memset(big, '9', sizeof big);
    big[10] = 'x';
    cr_assert_eq(tl_money_parse(big, sizeof big, "USD", NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "..."), "long values are cut: %s", err.msg);
    cr_assert_lt(strlen(err.msg), 200);
}

static void fmt(int64_t minor, const char *cur, const char *want)
{
    char buf[64];
    int n = tl_money_format(minor, cur, buf, sizeof buf);
    cr_assert_eq(n, (int)strlen(want), "%lld %s: got %d \"%s\"", (long long)minor, cur, n, buf);
    cr_assert_str_eq(buf, want);
    /* and it parses back to the same value */
    int64_t back = 0;
    cr_assert_eq(tl_money_parse(buf, (size_t)n, cur, &back, NULL), 0);
    cr_assert_eq(back, minor);
}

Test(money, formats)
{
    fmt(1230, "USD", "12.30");
    fmt(5, "USD", "0.05");
    fmt(-5, "USD", "-0.05");
    fmt(0, "USD", "0.00");
    fmt(-1230, "EUR", "-12.30");
    fmt(100, "JPY", "100");
    fmt(0, "JPY", "0");
    fmt(-7, "KRW", "-7");
    fmt(1234, "BHD", "1.234");
    fmt(1, "BHD", "0.001");
    fmt(12345, "CLF", "1.2345");
    fmt(INT64_MAX, "USD", "92233720368547758.07");
    fmt(INT64_MIN, "USD", "-92233720368547758.08");
    fmt(INT64_MIN, "JPY", "-9223372036854775808");
}

Test(money, format_errors)
{
    char buf[8];
    cr_assert_eq(tl_money_format(100, "XXY", buf, sizeof buf), TL_EINVAL);
    cr_assert_eq(tl_money_format(123456789, "USD", buf, sizeof buf), TL_ETOOBIG);
    cr_assert_eq(tl_money_format(1230, "USD", buf, 5), TL_ETOOBIG, "needs 6 bytes with the NUL");
    cr_assert_eq(tl_money_format(1230, "USD", buf, 6), 5);
    cr_assert_str_eq(buf, "12.30");
}
