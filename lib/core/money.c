/* money.c - ISO 4217 exponents and exact decimal parsing into minor units. */
#include <teller/money.h>

#include <string.h>

#include "internal.h"

/* ISO 4217 list one: active alphabetic codes with a defined minor unit
 * (fund codes included; XAU, XDR, XTS, XXX and other "N.A." codes are not
 * money amounts and are left out). ANG stays while XCG replaces it. */
#define TL_CURRENCIES(X)                                                                 \
    X('A','E','D',2) X('A','F','N',2) X('A','L','L',2) X('A','M','D',2) X('A','N','G',2) \
    X('A','O','A',2) X('A','R','S',2) X('A','U','D',2) X('A','W','G',2) X('A','Z','N',2) \
    X('B','A','M',2) X('B','B','D',2) X('B','D','T',2) X('B','G','N',2) X('B','H','D',3) \
    X('B','I','F',0) X('B','M','D',2) X('B','N','D',2) X('B','O','B',2) X('B','O','V',2) \
    X('B','R','L',2) X('B','S','D',2) X('B','T','N',2) X('B','W','P',2) X('B','Y','N',2) \
    X('B','Z','D',2) X('C','A','D',2) X('C','D','F',2) X('C','H','E',2) X('C','H','F',2) \
    X('C','H','W',2) X('C','L','F',4) X('C','L','P',0) X('C','N','Y',2) X('C','O','P',2) \
    X('C','O','U',2) X('C','R','C',2) X('C','U','C',2) X('C','U','P',2) X('C','V','E',2) \
    X('C','Z','K',2) X('D','J','F',0) X('D','K','K',2) X('D','O','P',2) X('D','Z','D',2) \
    X('E','G','P',2) X('E','R','N',2) X('E','T','B',2) X('E','U','R',2) X('F','J','D',2) \
    X('F','K','P',2) X('G','B','P',2) X('G','E','L',2) X('G','H','S',2) X('G','I','P',2) \
    X('G','M','D',2) X('G','N','F',0) X('G','T','Q',2) X('G','Y','D',2) X('H','K','D',2) \
    X('H','N','L',2) X('H','T','G',2) X('H','U','F',2) X('I','D','R',2) X('I','L','S',2) \
    X('I','N','R',2) X('I','Q','D',3) X('I','R','R',2) X('I','S','K',0) X('J','M','D',2) \
    X('J','O','D',3) X('J','P','Y',0) X('K','E','S',2) X('K','G','S',2) X('K','H','R',2) \
    X('K','M','F',0) X('K','P','W',2) X('K','R','W',0) X('K','W','D',3) X('K','Y','D',2) \
    X('K','Z','T',2) X('L','A','K',2) X('L','B','P',2) X('L','K','R',2) X('L','R','D',2) \
    X('L','S','L',2) X('L','Y','D',3) X('M','A','D',2) X('M','D','L',2) X('M','G','A',2) \
    X('M','K','D',2) X('M','M','K',2) X('M','N','T',2) X('M','O','P',2) X('M','R','U',2) \
    X('M','U','R',2) X('M','V','R',2) X('M','W','K',2) X('M','X','N',2) X('M','X','V',2) \
    X('M','Y','R',2) X('M','Z','N',2) X('N','A','D',2) X('N','G','N',2) X('N','I','O',2) \
    X('N','O','K',2) X('N','P','R',2) X('N','Z','D',2) X('O','M','R',3) X('P','A','B',2) \
    X('P','E','N',2) X('P','G','K',2) X('P','H','P',2) X('P','K','R',2) X('P','L','N',2) \
    X('P','Y','G',0) X('Q','A','R',2) X('R','O','N',2) X('R','S','D',2) X('R','U','B',2) \
    X('R','W','F',0) X('S','A','R',2) X('S','B','D',2) X('S','C','R',2) X('S','D','G',2) \
    X('S','E','K',2) X('S','G','D',2) X('S','H','P',2) X('S','L','E',2) X('S','O','S',2) \
    X('S','R','D',2) X('S','S','P',2) X('S','T','N',2) X('S','V','C',2) X('S','Y','P',2) \
    X('S','Z','L',2) X('T','H','B',2) X('T','J','S',2) X('T','M','T',2) X('T','N','D',3) \
    X('T','O','P',2) X('T','R','Y',2) X('T','T','D',2) X('T','W','D',2) X('T','Z','S',2) \
    X('U','A','H',2) X('U','G','X',0) X('U','S','D',2) X('U','S','N',2) X('U','Y','I',0) \
    X('U','Y','U',2) X('U','Y','W',4) X('U','Z','S',2) X('V','E','D',2) X('V','E','S',2) \
    X('V','N','D',0) X('V','U','V',0) X('W','S','T',2) X('X','A','F',0) X('X','C','D',2) \
    X('X','C','G',2) X('X','O','F',0) X('X','P','F',0) X('Y','E','R',2) X('Z','A','R',2) \
    X('Z','M','W',2) X('Z','W','G',2)

/* A perfect hash by construction: one byte per possible upper-case code
 * (26^3 = 17576), holding exponent + 1, so a lookup per row is three
 * subtractions and a load. */
#define CODE_INDEX(a, b, c) (((a) - 'A') * 676 + ((b) - 'A') * 26 + ((c) - 'A'))
#define TL_X_ENTRY(a, b, c, e) [CODE_INDEX(a, b, c)] = (e) + 1,
static const unsigned char EXPONENT_PLUS1[26 * 26 * 26] = {TL_CURRENCIES(TL_X_ENTRY)};
#undef TL_X_ENTRY

static const int64_t POW10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

static inline bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

int tl_currency_exponent(const char *code)
{
    if (!code || !is_upper(code[0]) || !is_upper(code[1]) || !is_upper(code[2]))
        return -1;
    return (int)EXPONENT_PLUS1[CODE_INDEX(code[0], code[1], code[2])] - 1;
}

bool tl_currency_valid(const char *code)
{
    return tl_currency_exponent(code) >= 0;
}

static int not_decimal(const char *s, size_t len, tl_err *err, const char *why)
{
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EINVAL, "amount \"%s\" is not a decimal number%s",
                      tl__quote(q, sizeof q, s, len), why);
}

int tl_money_parse(const char *s, size_t len, const char *currency, int64_t *minor, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    int exponent = tl_currency_exponent(currency);
    if (exponent < 0)
        return tl_err_set(err, TL_EINVAL, "unknown currency \"%s\"",
                          tl__quote(q, sizeof q, currency, currency ? strnlen(currency, 16) : 0));
    if (!s || len == 0)
        return tl_err_set(err, TL_EINVAL, "amount is empty");

    size_t i = 0;
    bool negative = false;
    if (s[0] == '-' || s[0] == '+') {
        negative = s[0] == '-';
        i = 1;
    }
    /* Integer digits, accumulated in uint64 so that -9223372036854775808 fits
     * before the sign is applied. */
    uint64_t units = 0;
    size_t int_digits = 0;
    bool overflow = false;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, int_digits++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (units > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            units = units * 10 + d;
    }
    if (int_digits == 0) {
        const char *why = i < len && s[i] == '.' ? " (a digit must come before \".\")" : "";
        return not_decimal(s, len, err, why);
    }
    uint64_t frac = 0;
    size_t decimals = 0;
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, decimals++)
            if (decimals < 18)
                frac = frac * 10 + (unsigned)(s[i] - '0');
        if (decimals == 0 && i == len)
            return not_decimal(s, len, err, " (a digit must follow \".\")");
    }
    if (i < len) {
        const char *why = "";
        char c = s[i];
        if (c == ',' || c == '_' || c == '\'')
            why = " (thousands separators are not allowed)";
        else if (c == 'e' || c == 'E')
            why = " (exponents are not allowed)";
        else if (c == ' ' || c == '\t')
            why = " (spaces are not allowed)";
        return not_decimal(s, len, err, why);
    }
    if (decimals > (size_t)exponent)
        return tl_err_set(err, TL_EINVAL, "amount \"%s\" has %zu decimals but %.3s allows %d",
                          tl__quote(q, sizeof q, s, len), decimals, currency, exponent);

    /* value = units * 10^exponent + frac * 10^(exponent - decimals) */
    uint64_t scale = (uint64_t)POW10[exponent];
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t fpart = frac * (uint64_t)POW10[exponent - (int)decimals];
    if (overflow || units > (limit - fpart) / scale)
        return tl_err_set(err, TL_ETOOBIG, "amount \"%s\" is out of range for %.3s",
                          tl__quote(q, sizeof q, s, len), currency);
    uint64_t mag = units * scale + fpart;
    if (minor)
        *minor = negative ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int tl_money_format(int64_t minor, const char *currency, char *buf, size_t bufsize)
{
    int exponent = tl_currency_exponent(currency);
    if (exponent < 0)
        return TL_EINVAL;
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    /* Digits backwards into a scratch buffer: at most 20 digits, ".", "-". */
    char tmp[32];
    size_t n = 0;
    int written = 0;
    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
        if (++written == exponent)
            tmp[n++] = '.';
    } while (mag > 0 || written <= exponent);
    if (minor < 0)
        tmp[n++] = '-';
    if (!buf || bufsize < n + 1)
        return TL_ETOOBIG;
    for (size_t k = 0; k < n; k++)
        buf[k] = tmp[n - 1 - k];
    buf[n] = '\0';
    return (int)n;
}
