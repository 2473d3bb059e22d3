/*
 * money.h - exact money: integer minor units with an ISO 4217 currency.
 *
 * Never floating point. "12.30" USD parses to 1230 cents; "12.345" USD is an
 * error (three decimals for a currency with exponent 2); "100" JPY is 100 yen
 * (exponent 0); "1.234" BHD is 1234 fils (exponent 3).
 */
#ifndef TELLER_MONEY_H
#define TELLER_MONEY_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_money {
    int64_t minor;    /* amount in minor units (cents for USD/EUR) */
    char currency[4]; /* ISO 4217 alphabetic code, NUL-terminated */
} tl_money;

/* Returns the minor-unit exponent of an active ISO 4217 code (2 for "USD",
 * 0 for "JPY", 3 for "KWD"), or -1 when the code is unknown. Case-sensitive:
 * codes are upper case. code need not be NUL-terminated past 3 bytes. */
TL_API int tl_currency_exponent(const char *code);

/* True when code is a known ISO 4217 currency. */
TL_API bool tl_currency_valid(const char *code);

/* Parses a decimal string s[0..len) ("-12.30", "+5", "0.5") into minor units
 * of `currency`. Accepts an optional sign, digits, and at most `exponent`
 * decimals; rejects empty strings, spaces, exponents ("1e3"), thousands
 * separators, and values that overflow int64. Errors name the value and, for
 * precision, the currency ("3 decimals for USD, which allows 2"). */
TL_API int tl_money_parse(const char *s, size_t len, const char *currency, int64_t *minor,
                          tl_err *err);

/* Formats minor units as a decimal string with exactly `exponent` decimals
 * ("1230" USD -> "12.30"). Returns the length written (excluding NUL), or
 * TL_EINVAL for an unknown currency / TL_ETOOBIG when buf is too small. */
TL_API int tl_money_format(int64_t minor, const char *currency, char *buf, size_t bufsize);

TL_END_DECLS

#endif
