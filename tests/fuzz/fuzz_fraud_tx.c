/*
 * fuzz_fraud_tx.c - a card transaction from JSON (tl_fraud_tx_from_json in
 * include/teller/fraud.h), the engine's checks of it and its digest.
 *
 * The input is JSON text. When it parses, tl_fraud_tx_from_json either
 * fails following the tl_err contract without touching the transaction, or
 * gives one whose every member keeps the header's promises: id and card
 * present, a positive amount within range, a known currency, countries of
 * two upper-case letters, mcc and label in range. Written back as JSON (the
 * amount in minor units through money formatting, ts in epoch ms) it must
 * read back to the same transaction, and its digest must be the same
 * 64 hex digits both times. The engine's own check (ids within the stream
 * engine's length, time bounds) must fail cleanly or pass.
 */
#include "fuzz.h"

#include <jansson.h>
#include <teller/fraud.h>
#include <teller/json.h>
#include <teller/money.h>

#include "bank/fraud_internal.h"

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_tx(const struct tl_fraud_tx *t)
{
    FUZZ_CHECK(t->id && t->id[0] && t->card_id && t->card_id[0]);
    FUZZ_CHECK(t->amount_minor > 0);
    FUZZ_CHECK(t->currency[3] == '\0' && tl_currency_valid(t->currency));
    const char *cc[2] = {t->country, t->home_country};
    for (int i = 0; i < 2; i++)
        FUZZ_CHECK(!cc[i] || (strlen(cc[i]) == 2 && cc[i][0] >= 'A' && cc[i][0] <= 'Z' &&
                              cc[i][1] >= 'A' && cc[i][1] <= 'Z'));
    FUZZ_CHECK(t->mcc >= -1 && t->mcc <= 9999);
    FUZZ_CHECK(t->label >= -1 && t->label <= 1);
}

/* The transaction as JSON the way a card processor would send it. */
static json_t *to_json(const struct tl_fraud_tx *t)
{
    char amount[48];
    FUZZ_CHECK(tl_money_format(t->amount_minor, t->currency, amount, sizeof amount) > 0);
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", t->id, "card_id", t->card_id, "ts",
                          (json_int_t)t->ts_ms, "amount", amount, "currency", t->currency);
    FUZZ_CHECK(j);
    const char *names[] = {"customer_id", "terminal_id", "merchant_id", "country",
                           "home_country", "channel"};
    const char *vals[] = {t->customer_id, t->terminal_id, t->merchant_id, t->country,
                          t->home_country, t->channel};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (vals[i])
            json_object_set_new(j, names[i], json_string(vals[i]));
    if (t->mcc >= 0)
        json_object_set_new(j, "mcc", json_integer(t->mcc));
    if (t->label >= 0)
        json_object_set_new(j, "is_fraud", json_boolean(t->label == 1));
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tl_err err = {0};
    json_t *j = tl_json_parse((const char *)data, size, "fuzz", &err);
    if (!j)
        return 0;
    struct tl_fraud_tx t, before;
    memset(&t, 0xa5, sizeof t);
    before = t;
    int rc = tl_fraud_tx_from_json(j, &t, &err);
    if (rc < 0) {
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(rc == TL_EINVAL);
        FUZZ_CHECK(memcmp(&t, &before, sizeof t) == 0);
        json_decref(j);
        return 0;
    }
    check_tx(&t);

    char d1[65], d2[65];
    tl__fraud_tx_digest(&t, d1);
    FUZZ_CHECK(strlen(d1) == 64 && strspn(d1, "0123456789abcdef") == 64);

    json_t *back = to_json(&t);
    struct tl_fraud_tx u;
    tl_err e2 = {0};
    FUZZ_CHECK(tl_fraud_tx_from_json(back, &u, &e2) == 0);
    FUZZ_CHECK(same_str(t.id, u.id) && same_str(t.card_id, u.card_id) &&
               same_str(t.customer_id, u.customer_id) && same_str(t.terminal_id, u.terminal_id) &&
               same_str(t.merchant_id, u.merchant_id) && same_str(t.country, u.country) &&
               same_str(t.home_country, u.home_country) && same_str(t.channel, u.channel));
    FUZZ_CHECK(t.ts_ms == u.ts_ms && t.amount_minor == u.amount_minor && t.mcc == u.mcc &&
               t.label == u.label && strcmp(t.currency, u.currency) == 0);
    tl__fraud_tx_digest(&u, d2);
    FUZZ_CHECK(strcmp(d1, d2) == 0);

    /* the engine's check, at a clock just after the transaction and far
     * before it: each fails cleanly or passes */
    int64_t nows[2] = {t.ts_ms, t.ts_ms > INT64_MIN / 2 ? t.ts_ms / 2 : 0};
    for (int i = 0; i < 2; i++) {
        tl_err e3 = {0};
        rc = tl__fraud_tx_check(&t, nows[i], 3600000, &e3);
        if (rc < 0) {
            fuzz_check_err(rc, &e3);
            FUZZ_CHECK(rc == TL_EINVAL);
        }
    }
    json_decref(back);
    json_decref(j);
    return 0;
}
