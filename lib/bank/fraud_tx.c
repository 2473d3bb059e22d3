/*
 * fraud_tx.c - a card transaction to decide: from JSON, checked, and its
 * canonical form, whose SHA-256 is the decision's inputs_digest.
 *
 * The canonical form is what the audit log can recompute from the stored
 * transaction: a version tag, then for each field in a fixed order its name,
 * NUL, and 0 (absent) or 1 followed by the value's text and NUL. Integers
 * are written in decimal, the amount in minor units with its currency, the
 * time in epoch milliseconds; the label is not part of it (a chargeback
 * arriving later does not change what was decided on).
 */
#include <teller/datetime.h>
#include <teller/fraud.h>
#include <teller/money.h>

#include "core/internal.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* 2000-01-01T00:00:00Z: anything older is a clock or unit error (seconds
 * given as milliseconds), not a card transaction to decide. */
#define MIN_TS_MS INT64_C(946684800000)
/* Amounts up to 10^13 minor units: the stream engine counts hundredths and
 * refuses beyond 2^50, and no card payment comes near either. */
#define MAX_AMOUNT_MINOR INT64_C(10000000000000)

static int bad_type(tl_err *err, const char *member, const char *want)
{
    return tl_err_set(err, TL_EINVAL, "transaction: \"%s\" must be %s", member, want);
}

/* An optional string member: *out NULL when absent or null. */
static int opt_str(const json_t *j, const char *member, const char **out, tl_err *err)
{
    json_t *v = json_object_get(j, member);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad_type(err, member, "a string");
    *out = json_string_value(v);
    return 0;
}

static int req_str(const json_t *j, const char *member, const char **out, tl_err *err)
{
    int rc = opt_str(j, member, out, err);
    if (rc < 0)
        return rc;
    if (!*out || !**out)
        return tl_err_set(err, TL_EINVAL, "transaction: \"%s\" is missing", member);
    return 0;
}

/* A country member: two upper-case letters, so that rules comparing it with
 * 'FR' cannot silently miss a lower-case "fr". */
static int opt_country(const json_t *j, const char *member, const char **out, tl_err *err)
{
    int rc = opt_str(j, member, out, err);
    if (rc < 0 || !*out)
        return rc;
    const char *c = *out;
    if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL,
                          "transaction: \"%s\" \"%s\" is not an ISO 3166 alpha-2 code "
                          "(two upper-case letters)",
                          member, tl__quote(q, sizeof q, c, strlen(c)));
    }
    return 0;
}

static int parse_ts(const json_t *v, int64_t *ms, tl_err *err)
{
    if (!v || json_is_null(v))
        return tl_err_set(err, TL_EINVAL, "transaction: \"ts\" is missing");
    if (json_is_integer(v)) {
        *ms = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return bad_type(err, "ts", "an ISO 8601 time or epoch milliseconds (an integer)");
    int rc = tl_time_parse(json_string_value(v), json_string_length(v), ms, err);
    if (rc < 0)
        tl_err_prefix(err, "transaction: \"ts\": ");
    return rc;
}

/* The amount in minor units of currency. A JSON number is a float in
 * currency units: it must be within a millionth of a whole minor unit, so
 * 12.3 EUR is 1230 cents but 12.345 EUR is refused as the string would be. */
static int parse_amount(const json_t *v, const char *currency, int64_t *minor, tl_err *err)
{
    if (!v || json_is_null(v))
        return tl_err_set(err, TL_EINVAL, "transaction: \"amount\" is missing");
    int rc;
    int exp = tl_currency_exponent(currency);
    if (json_is_string(v)) {
        rc = tl_money_parse(json_string_value(v), json_string_length(v), currency, minor, err);
        if (rc < 0) {
            tl_err_prefix(err, "transaction: \"amount\": ");
            return rc;
        }
    } else if (json_is_number(v)) {
        double x = json_number_value(v) * pow(10, exp);
        double r = nearbyint(x);
        if (!(fabs(r) <= (double)MAX_AMOUNT_MINOR))
            return tl_err_set(err, TL_EINVAL, "transaction: \"amount\" %g is out of range",
                              json_number_value(v));
        if (fabs(x - r) > 1e-6 * (fabs(r) > 1 ? fabs(r) : 1))
            return tl_err_set(err, TL_EINVAL,
                              "transaction: \"amount\" %.17g has more decimals than %s allows (%d)",
                              json_number_value(v), currency, exp);
        *minor = (int64_t)r;
    } else {
        return bad_type(err, "amount", "a decimal string or a number");
    }
    if (*minor == 0)
        return tl_err_set(err, TL_EINVAL, "transaction: \"amount\" is zero");
    if (*minor == INT64_MIN || (*minor < 0 ? -*minor : *minor) > MAX_AMOUNT_MINOR)
        return tl_err_set(err, TL_EINVAL, "transaction: \"amount\" is out of range");
    if (*minor < 0)
        *minor = -*minor; /* a debit as the bank books it: the amount paid */
    return 0;
}

int tl_fraud_tx_from_json(const json_t *j, struct tl_fraud_tx *tx, tl_err *err)
{
    if (!json_is_object(j))
        return tl_err_set(err, TL_EINVAL, "a transaction must be a JSON object");
    struct tl_fraud_tx t = {.mcc = -1, .label = -1};
    const char *account = NULL, *currency = NULL;
    int rc;
    if ((rc = req_str(j, "id", &t.id, err)) < 0 ||
        (rc = opt_str(j, "card_id", &t.card_id, err)) < 0 ||
        (rc = opt_str(j, "account_id", &account, err)) < 0 ||
        (rc = opt_str(j, "customer_id", &t.customer_id, err)) < 0 ||
        (rc = opt_str(j, "terminal_id", &t.terminal_id, err)) < 0 ||
        (rc = opt_str(j, "merchant_id", &t.merchant_id, err)) < 0 ||
        (rc = opt_country(j, "country", &t.country, err)) < 0 ||
        (rc = opt_country(j, "home_country", &t.home_country, err)) < 0 ||
        (rc = opt_str(j, "channel", &t.channel, err)) < 0 ||
        (rc = req_str(j, "currency", &currency, err)) < 0)
        return rc;
    if (!t.card_id || !*t.card_id)
        t.card_id = account;
    else if (account && strcmp(account, t.card_id) != 0)
        return tl_err_set(err, TL_EINVAL,
                          "transaction: \"card_id\" and \"account_id\" differ: give one of them");
    if (!t.card_id || !*t.card_id)
        return tl_err_set(err, TL_EINVAL, "transaction: \"card_id\" (or \"account_id\") is missing");
    char q[TL__QUOTE_SIZE];
    if (strlen(currency) != 3 || !tl_currency_valid(currency))
        return tl_err_set(err, TL_EINVAL, "transaction: \"currency\" \"%s\" is not an ISO 4217 code",
                          tl__quote(q, sizeof q, currency, strlen(currency)));
    memcpy(t.currency, currency, 4);
    if ((rc = parse_ts(json_object_get(j, "ts"), &t.ts_ms, err)) < 0 ||
        (rc = parse_amount(json_object_get(j, "amount"), t.currency, &t.amount_minor, err)) < 0)
        return rc;

    json_t *v = json_object_get(j, "mcc");
    if (json_is_integer(v)) {
        json_int_t m = json_integer_value(v);
        if (m < 0 || m > 9999)
            return tl_err_set(err, TL_EINVAL, "transaction: \"mcc\" %" JSON_INTEGER_FORMAT
                              " is not a merchant category code (0..9999)", m);
        t.mcc = (int)m;
    } else if (json_is_string(v)) {
        /* MCCs are often written as four digits: "5411", "0742" */
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        bool ok = n >= 1 && n <= 4;
        int m = 0;
        for (size_t i = 0; ok && i < n; i++) {
            ok = s[i] >= '0' && s[i] <= '9';
            m = m * 10 + (s[i] - '0');
        }
        if (!ok)
            return tl_err_set(err, TL_EINVAL,
                              "transaction: \"mcc\" \"%s\" is not a merchant category code (0..9999)",
                              tl__quote(q, sizeof q, s, n));
        t.mcc = m;
    } else if (v && !json_is_null(v)) {
        return bad_type(err, "mcc", "an integer or a string of digits");
    }

    v = json_object_get(j, "is_fraud");
    if (json_is_boolean(v))
        t.label = json_is_true(v) ? 1 : 0;
    else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        t.label = (int)json_integer_value(v);
    else if (v && !json_is_null(v))
        return bad_type(err, "is_fraud", "true, false, 0, 1 or null");
    *tx = t;
    return 0;
}

/* An id the stream engine can hold: 1..TL_STREAM_MAX_ID bytes. */
static int check_id(const char *tx_id, const char *field, const char *v, bool required,
                    tl_err *err)
{
    char q[TL__QUOTE_SIZE], q2[TL__QUOTE_SIZE];
    if (!v || !*v) {
        if (!required)
            return 0;
        if (tx_id && *tx_id)
            return tl_err_set(err, TL_EINVAL, "transaction \"%s\": %s is missing",
                              tl__quote(q2, sizeof q2, tx_id, strlen(tx_id)), field);
        return tl_err_set(err, TL_EINVAL, "transaction: %s is missing", field);
    }
    size_t n = strlen(v);
    if (n > TL_STREAM_MAX_ID)
        return tl_err_set(err, TL_EINVAL, "transaction: %s \"%s\" is %zu bytes, longer than %d",
                          field, tl__quote(q, sizeof q, v, n), n, TL_STREAM_MAX_ID);
    return 0;
}

int tl__fraud_tx_check(const struct tl_fraud_tx *tx, int64_t now_ms, int64_t max_future_ms,
                       tl_err *err)
{
    if (!tx)
        return tl_err_set(err, TL_EINVAL, "no transaction given");
    int rc;
    if ((rc = check_id(NULL, "id", tx->id, true, err)) < 0 ||
        (rc = check_id(tx->id, "card_id", tx->card_id, true, err)) < 0 ||
        (rc = check_id(tx->id, "customer_id", tx->customer_id, false, err)) < 0 ||
        (rc = check_id(tx->id, "terminal_id", tx->terminal_id, false, err)) < 0 ||
        (rc = check_id(tx->id, "merchant_id", tx->merchant_id, false, err)) < 0)
        return rc;
    char q[TL__QUOTE_SIZE];
    const char *id = tl__quote(q, sizeof q, tx->id, strlen(tx->id));
    if ((!tx->terminal_id || !*tx->terminal_id) && (!tx->merchant_id || !*tx->merchant_id))
        return tl_err_set(err, TL_EINVAL,
                          "transaction \"%s\": terminal_id is missing (and no merchant_id to stand for it)",
                          id);
    if (tx->amount_minor <= 0 || tx->amount_minor > MAX_AMOUNT_MINOR)
        return tl_err_set(err, TL_EINVAL, "transaction \"%s\": amount %" PRId64
                          " (minor units) must be from 1 to %" PRId64,
                          id, tx->amount_minor, MAX_AMOUNT_MINOR);
    if (strnlen(tx->currency, 4) != 3 || !tl_currency_valid(tx->currency)) {
        char qc[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL, "transaction \"%s\": currency \"%s\" is not an ISO 4217 code",
                          id, tl__quote(qc, sizeof qc, tx->currency, strnlen(tx->currency, 4)));
    }
    char when[32] = "?";
    if (tx->ts_ms < MIN_TS_MS) {
        if (tl_time_format(tx->ts_ms, when, sizeof when) < 0)
            snprintf(when, sizeof when, "%" PRId64 " ms", tx->ts_ms);
        return tl_err_set(err, TL_EINVAL,
                          "transaction \"%s\": ts %s is before 2000-01-01 (seconds given as "
                          "milliseconds?)",
                          id, when);
    }
    if (tx->ts_ms > now_ms && (uint64_t)tx->ts_ms - (uint64_t)now_ms > (uint64_t)max_future_ms) {
        if (tl_time_format(tx->ts_ms, when, sizeof when) < 0)
            snprintf(when, sizeof when, "%" PRId64 " ms", tx->ts_ms);
        return tl_err_set(err, TL_EINVAL,
                          "transaction \"%s\": ts %s is more than %" PRId64
                          " s ahead of this machine's clock",
                          id, when, max_future_ms / 1000);
    }
    if (tx->mcc < -1 || tx->mcc > 9999)
        return tl_err_set(err, TL_EINVAL, "transaction \"%s\": mcc %d is not -1 (unknown) or 0..9999",
                          id, tx->mcc);
    if (tx->label < -1 || tx->label > 1)
        return tl_err_set(err, TL_EINVAL, "transaction \"%s\": label %d is not -1, 0 or 1", id,
                          tx->label);
    return 0;
}

static void put(crypto_hash_sha256_state *st, const char *name, const char *value)
{
    crypto_hash_sha256_update(st, (const unsigned char *)name, strlen(name) + 1);
    unsigned char tag = value ? 1 : 0;
    crypto_hash_sha256_update(st, &tag, 1);
    if (value)
        crypto_hash_sha256_update(st, (const unsigned char *)value, strlen(value) + 1);
}

void tl__fraud_tx_digest(const struct tl_fraud_tx *tx, char hex[65])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    static const char tag[] = "teller-fraud-tx/1";
    crypto_hash_sha256_update(&st, (const unsigned char *)tag, sizeof tag);
    char ts[24], amount[24], mcc[8];
    snprintf(ts, sizeof ts, "%" PRId64, tx->ts_ms);
    snprintf(amount, sizeof amount, "%" PRId64, tx->amount_minor);
    snprintf(mcc, sizeof mcc, "%d", tx->mcc);
    char currency[4];
    memcpy(currency, tx->currency, 3);
    currency[3] = '\0';
    put(&st, "id", tx->id);
    put(&st, "card_id", tx->card_id);
    put(&st, "customer_id", tx->customer_id);
    put(&st, "terminal_id", tx->terminal_id);
    put(&st, "merchant_id", tx->merchant_id);
    put(&st, "ts_ms", ts);
    put(&st, "amount_minor", amount);
    put(&st, "currency", currency);
    put(&st, "country", tx->country);
    put(&st, "home_country", tx->home_country);
    put(&st, "channel", tx->channel);
    put(&st, "mcc", tx->mcc >= 0 ? mcc : NULL);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}
