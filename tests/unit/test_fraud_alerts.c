/* needs: postgres */
/*
 * test_fraud_alerts.c - fraud decisions in the store (fraud_alerts.h), on
 * SQLite and PostgreSQL: a decided payment is stored with its decision; a
 * duplicate is told from a conflict; an unknown card stores nothing; a
 * failure half-way leaves nothing behind; review and block open one alert
 * per card that later flagged payments join (score the highest, count up);
 * the queue is ordered by score and cut at the limit; resolving labels the
 * alert's payments, once; unknown ids and bad arguments say what is wrong.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct env {
    char *dir;
    tl_config *cfg;
    tl_ctx *ctx;
};

static void exec_ok(tl_ctx *ctx, const char *sql)
{
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), sql, 0, NULL, NULL, NULL, &err), 0, "%s: %s",
                 sql, err.msg);
}

/* Two customers with one card each: A1 (C1, DE) and A2 (C2, FR). */
static void env_open(struct env *e, const char *url)
{
    e->dir = tu_tmpdir();
    cr_assert_not_null(e->dir);
    e->cfg = tu_config(url, e->dir);
    tl_err err = {0};
    cr_assert_eq(tl_ctx_open(e->cfg, &e->ctx, &err), 0, "tl_ctx_open: %s", err.msg);
    exec_ok(e->ctx, "INSERT INTO customers (id, name, birth_date, country, currency, customer_since)"
                    " VALUES ('C1', 'x', '1980-01-01', 'DE', 'EUR', '2015-01-01'),"
                    " ('C2', 'y', '1985-01-01', 'FR', 'EUR', '2016-01-01')");
    exec_ok(e->ctx, "INSERT INTO accounts (id, customer_id, type, currency, balance_minor, opened_ms,"
                    " status) VALUES ('A1', 'C1', 'credit_card', 'EUR', 0, 0, 'open'),"
                    " ('A2', 'C2', 'credit_card', 'EUR', 0, 0, 'open')");
}

static void env_close(struct env *e)
{
    tl_ctx_close(e->ctx);
    tl_config_free(e->cfg);
    free(e->dir);
}

#define T0 INT64_C(1700000000000)

static struct tl_fraud_tx tx(const char *id, const char *card, int64_t ts_ms, int64_t amount)
{
    struct tl_fraud_tx t = {.id = id, .card_id = card, .terminal_id = "TERM-1", .ts_ms = ts_ms,
                            .amount_minor = amount, .currency = "EUR", .channel = "pos",
                            .country = "DE", .mcc = 5411, .label = -1};
    return t;
}

static json_t *decision(const char *id, const char *d, double score)
{
    json_t *j = json_pack("{s:s, s:s, s:f, s:s, s:[{s:s, s:s, s:s}]}", "transaction_id", id,
                          "decision", d, "score", score, "model", "fraud-v1", "reasons", "kind",
                          "model", "feature", "tx_amount", "text", id);
    cr_assert_not_null(j);
    return j;
}

/* Records tx with decision d; returns the code, *out the result. */
static int record(tl_ctx *ctx, const struct tl_fraud_tx *t, const char *d, double score,
                  json_t **out, tl_err *err)
{
    json_t *dj = decision(t->id, d, score);
    *out = NULL;
    int rc = tl_fraud_record(ctx, t, dj, out, err);
    json_decref(dj);
    return rc;
}

static void record_ok(tl_ctx *ctx, const struct tl_fraud_tx *t, const char *d, double score,
                      const char *want_alert, int want_n)
{
    tl_err err = {0};
    json_t *out = NULL;
    cr_assert_eq(record(ctx, t, d, score, &out, &err), 0, "record %s: %s", t->id, err.msg);
    cr_assert(json_is_true(json_object_get(out, "stored")));
    const json_t *a = json_object_get(out, "alert");
    if (!want_alert) {
        cr_assert(json_is_null(a), "%s: no alert expected", t->id);
    } else {
        cr_assert_str_eq(json_string_value(json_object_get(a, "id")), want_alert);
        cr_assert_eq(json_integer_value(json_object_get(a, "n_transactions")), want_n);
        cr_assert_str_eq(json_string_value(json_object_get(a, "status")), "open");
    }
    json_decref(out);
}

static int grab_int(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    int64_t *out = ud;
    *out = n > 0 && v[0].type == TL_VAL_INT ? v[0].i : n > 0 && v[0].type == TL_VAL_NULL ? -1 : -2;
    return 1;
}

/* The first column of the first row of sql, an integer (-1 NULL). */
static int64_t scalar(tl_ctx *ctx, const char *sql)
{
    int64_t out = -3;
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), sql, 0, NULL, grab_int, &out, &err), 0, "%s: %s",
                 sql, err.msg);
    return out;
}

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ------------------------------------------------------------------ tests */

TU_BOTH(enrich_fills_the_card_holder)
{
    struct env e;
    env_open(&e, url);
    struct tl_fraud_tx t = tx("T1", "A2", T0, 1000);
    char cust[65], home[3];
    tl_err err = {0};
    cr_assert_eq(tl_fraud_enrich(e.ctx, &t, cust, home, &err), 0, "%s", err.msg);
    cr_assert_str_eq(t.customer_id, "C2");
    cr_assert_str_eq(t.home_country, "FR");
    t = tx("T1", "A2", T0, 1000);
    t.customer_id = "given";
    cr_assert_eq(tl_fraud_enrich(e.ctx, &t, cust, home, &err), 0, "%s", err.msg);
    cr_assert_str_eq(t.customer_id, "given", "what the caller gave is kept");
    t = tx("T1", "NOPE", T0, 1000);
    cr_assert_eq(tl_fraud_enrich(e.ctx, &t, cust, home, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"NOPE\"") && strstr(err.msg, "unknown to the bank"), "%s", err.msg);
    t = tx("T1", "A1", T0, 1000);
    t.channel = "teleport";
    cr_assert_eq(tl_fraud_enrich(e.ctx, &t, cust, home, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"channel\""), "%s", err.msg);
    t = tx("T 1", "A1", T0, 1000);
    cr_assert_eq(tl_fraud_enrich(e.ctx, &t, cust, home, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"id\""), "%s", err.msg);
    env_close(&e);
}

TU_BOTH(a_decision_is_stored_and_read_back)
{
    struct env e;
    env_open(&e, url);
    struct tl_fraud_tx t = tx("T1", "A1", T0, 4217);
    record_ok(e.ctx, &t, "allow", 0.0125, NULL, 0);
    cr_assert_eq(scalar(e.ctx, "SELECT amount_minor FROM transactions WHERE id = 'T1'"), -4217,
                 "a card payment is a debit");
    cr_assert_eq(scalar(e.ctx, "SELECT fraud_decided_ms FROM transactions WHERE id = 'T1'") > 0, 1);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions WHERE kind = 'card'"
                               " AND fraud_decision = 'allow' AND fraud_model = 'fraud-v1'"),
                 1);
    json_t *d = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_stored_decision(e.ctx, "T1", &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(sget(d, "decision"), "allow");
    cr_assert_str_eq(sget(d, "card_id"), "A1");
    cr_assert_float_eq(json_real_value(json_object_get(d, "score")), 0.0125, 1e-12);
    cr_assert(json_is_true(json_object_get(d, "duplicate")));
    cr_assert(json_is_null(json_object_get(d, "alert")));
    cr_assert_str_eq(sget(json_array_get(json_object_get(d, "reasons"), 0), "feature"),
                     "tx_amount");
    json_decref(d);
    cr_assert_eq(tl_fraud_stored_decision(e.ctx, "T404", &d, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "T404"), "%s", err.msg);
    /* a transaction loaded by ingest has no decision */
    exec_ok(e.ctx, "INSERT INTO transactions (id, account_id, ts_ms, amount_minor, currency, kind)"
                   " VALUES ('T-ING', 'A1', 1, -5, 'EUR', 'card')");
    cr_assert_eq(tl_fraud_stored_decision(e.ctx, "T-ING", &d, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "without a fraud decision"), "%s", err.msg);
    env_close(&e);
}

TU_BOTH(duplicates_and_conflicts)
{
    struct env e;
    env_open(&e, url);
    struct tl_fraud_tx t = tx("T1", "A1", T0, 900000);
    record_ok(e.ctx, &t, "review", 0.7, "FA-T1", 1);
    json_t *out = NULL;
    tl_err err = {0};
    cr_assert_eq(record(e.ctx, &t, "review", 0.7, &out, &err), TL_EEXISTS);
    cr_assert_null(out);
    struct tl_fraud_tx other = tx("T1", "A1", T0, 900001);
    cr_assert_eq(record(e.ctx, &other, "review", 0.7, &out, &err), TL_ECONSTRAINT);
    cr_assert(strstr(err.msg, "\"T1\""), "%s", err.msg);
    other = tx("T1", "A2", T0, 900000);
    cr_assert_eq(record(e.ctx, &other, "allow", 0.1, &out, &err), TL_ECONSTRAINT);
    other = tx("T1", "A1", T0 + 1, 900000);
    cr_assert_eq(record(e.ctx, &other, "allow", 0.1, &out, &err), TL_ECONSTRAINT);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions"), 1);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM alerts"), 1, "never a second alert");
    cr_assert_eq(scalar(e.ctx, "SELECT n_transactions FROM alerts"), 1);
    env_close(&e);
}

TU_BOTH(an_unknown_card_or_a_bad_decision_stores_nothing)
{
    struct env e;
    env_open(&e, url);
    json_t *out = NULL;
    tl_err err = {0};
    struct tl_fraud_tx t = tx("T1", "A9", T0, 100);
    cr_assert_eq(record(e.ctx, &t, "block", 0.99, &out, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"A9\""), "%s", err.msg);
    t = tx("T1", "A1", T0, 100);
    cr_assert_eq(record(e.ctx, &t, "maybe", 0.5, &out, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"decision\""), "%s", err.msg);
    cr_assert_eq(record(e.ctx, &t, "allow", 1.5, &out, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"score\""), "%s", err.msg);
    t.amount_minor = 0;
    cr_assert_eq(record(e.ctx, &t, "allow", 0.5, &out, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"amount\""), "%s", err.msg);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions"), 0);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM alerts"), 0);
    env_close(&e);
}

/* The payment is written first, then its alert: an alert that cannot be
 * written takes the payment back with it. */
TU_BOTH(all_or_nothing_when_the_alert_cannot_be_written)
{
    struct env e;
    env_open(&e, url);
    exec_ok(e.ctx, "INSERT INTO alerts (id, customer_id, created_ms, kind, status)"
                   " VALUES ('FA-T9', 'C2', 1, 'fraud', 'closed')");
    char before[65], after[65];
    tl_err err = {0};
    cr_assert_eq(tl_store_checksum(tl_ctx_store(e.ctx), before, &err), 0, "%s", err.msg);
    struct tl_fraud_tx t = tx("T9", "A1", T0, 100);
    json_t *out = NULL;
    cr_assert_eq(record(e.ctx, &t, "block", 0.97, &out, &err), TL_ECONSTRAINT);
    cr_assert(strstr(err.msg, "FA-T9"), "%s", err.msg);
    cr_assert_eq(tl_store_checksum(tl_ctx_store(e.ctx), after, &err), 0, "%s", err.msg);
    cr_assert_str_eq(after, before, "the store is as it was");
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions"), 0);
    /* and the connection is usable: the next decision goes through */
    t = tx("T10", "A1", T0, 100);
    record_ok(e.ctx, &t, "block", 0.97, "FA-T10", 1);
    env_close(&e);
}

TU_BOTH(one_open_alert_per_card_and_the_queue)
{
    struct env e;
    env_open(&e, url);
    struct tl_fraud_tx t1 = tx("T1", "A1", T0, 100), t2 = tx("T2", "A1", T0 + 60000, 200),
                       t3 = tx("T3", "A1", T0 + 120000, 300), t4 = tx("T4", "A2", T0, 400),
                       t5 = tx("T5", "A1", T0 + 180000, 500);
    record_ok(e.ctx, &t1, "review", 0.6, "FA-T1", 1);
    record_ok(e.ctx, &t2, "block", 0.95, "FA-T1", 2);
    record_ok(e.ctx, &t3, "allow", 0.01, NULL, 0);
    record_ok(e.ctx, &t4, "review", 0.8, "FA-T4", 1);
    record_ok(e.ctx, &t5, "review", 0.7, "FA-T1", 3);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions WHERE fraud_alert_id = 'FA-T1'"),
                 3);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions WHERE id = 'T3'"
                               " AND fraud_alert_id IS NULL"),
                 1, "an allowed payment joins nothing");
    /* an ingested alert without a score comes last, one of another kind never */
    exec_ok(e.ctx, "INSERT INTO alerts (id, customer_id, created_ms, kind, status)"
                   " VALUES ('EXT-1', 'C2', 1, 'fraud', 'open'),"
                   " ('EW-1', 'C2', 1, 'early_warning', 'open')");
    json_t *q = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, NULL, 100, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(q), 3);
    const json_t *a0 = json_array_get(q, 0);
    cr_assert_str_eq(sget(a0, "id"), "FA-T1");
    cr_assert_float_eq(json_real_value(json_object_get(a0, "score")), 0.95, 1e-12,
                       "the alert's score is its highest");
    cr_assert_eq(json_integer_value(json_object_get(a0, "n_transactions")), 3);
    cr_assert_str_eq(sget(a0, "account_id"), "A1");
    cr_assert_str_eq(sget(a0, "customer_id"), "C1");
    cr_assert_str_eq(sget(a0, "transaction_id"), "T1");
    cr_assert_str_eq(sget(json_array_get(json_object_get(a0, "reasons"), 0), "text"), "T2",
                     "the reasons of its highest-scored payment");
    cr_assert_not_null(sget(a0, "created_at"));
    cr_assert(json_is_null(json_object_get(a0, "outcome")));
    cr_assert_str_eq(sget(json_array_get(q, 1), "id"), "FA-T4");
    cr_assert_str_eq(sget(json_array_get(q, 2), "id"), "EXT-1");
    json_decref(q);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "open", 1, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(q), 1, "the limit cuts the queue");
    cr_assert_str_eq(sget(json_array_get(q, 0), "id"), "FA-T1");
    json_decref(q);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "closed", 10, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(q), 0);
    json_decref(q);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "open", 0, &q, &err), TL_EINVAL);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "open", 10001, &q, &err), TL_EINVAL);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "bogus", 10, &q, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "bogus"), "%s", err.msg);

    json_t *a = NULL;
    cr_assert_eq(tl_fraud_alert_get(e.ctx, "FA-T1", &a, &err), 0, "%s", err.msg);
    const json_t *txs = json_object_get(a, "transactions");
    cr_assert_eq(json_array_size(txs), 3);
    cr_assert_str_eq(sget(json_array_get(txs, 0), "id"), "T1", "oldest first");
    cr_assert_str_eq(sget(json_array_get(txs, 1), "id"), "T2");
    cr_assert_str_eq(sget(json_array_get(txs, 1), "amount"), "-2.00");
    cr_assert_str_eq(sget(json_array_get(txs, 1), "decision"), "block");
    cr_assert_str_eq(sget(json_array_get(txs, 2), "id"), "T5");
    json_decref(a);
    cr_assert_eq(tl_fraud_alert_get(e.ctx, "FA-NONE", &a, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"FA-NONE\""), "%s", err.msg);

    /* the stored decision of a flagged payment names its alert */
    json_t *d = NULL;
    cr_assert_eq(tl_fraud_stored_decision(e.ctx, "T2", &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(sget(json_object_get(d, "alert"), "id"), "FA-T1");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "alert"), "n_transactions")),
                 3);
    json_decref(d);
    env_close(&e);
}

TU_BOTH(resolving_labels_the_payments_once)
{
    struct env e;
    env_open(&e, url);
    struct tl_fraud_tx t1 = tx("T1", "A1", T0, 100), t2 = tx("T2", "A1", T0 + 1000, 200),
                       t3 = tx("T3", "A1", T0 + 2000, 300), t4 = tx("T4", "A2", T0, 400);
    record_ok(e.ctx, &t1, "review", 0.6, "FA-T1", 1);
    record_ok(e.ctx, &t2, "block", 0.9, "FA-T1", 2);
    record_ok(e.ctx, &t3, "allow", 0.1, NULL, 0);
    record_ok(e.ctx, &t4, "review", 0.5, "FA-T4", 1);
    json_t *out = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-T1", "maybe", "analyst-1", NULL, &out, &err),
                 TL_EINVAL);
    cr_assert(strstr(err.msg, "outcome"), "%s", err.msg);
    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-NONE", "fraud", "analyst-1", NULL, &out, &err),
                 TL_ENOTFOUND);
    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-T1", "fraud", "", NULL, &out, &err), TL_EINVAL);
    char long_note[1002];
    memset(long_note, 'n', sizeof long_note - 1);
    long_note[sizeof long_note - 1] = '\0';
    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-T1", "fraud", "a", long_note, &out, &err),
                 TL_EINVAL);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions WHERE is_fraud IS NOT NULL"), 0,
                 "refused resolutions label nothing");

    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-T1", "fraud", "analyst-1", "card skimmed", &out,
                                        &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(sget(out, "status"), "confirmed_fraud");
    cr_assert_str_eq(sget(out, "outcome"), "fraud");
    cr_assert_str_eq(sget(out, "resolved_by"), "analyst-1");
    cr_assert_not_null(sget(out, "resolved_at"));
    cr_assert_eq(json_array_size(json_object_get(out, "transactions")), 2,
                 "the ids to label in the live engine");
    json_decref(out);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions WHERE is_fraud = 1"), 2);
    cr_assert_eq(scalar(e.ctx, "SELECT is_fraud FROM transactions WHERE id = 'T3'"), -1,
                 "a payment outside the alert keeps no label");
    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-T1", "genuine", "analyst-2", NULL, &out, &err),
                 TL_ECONSTRAINT);
    cr_assert(strstr(err.msg, "already resolved as fraud"), "%s", err.msg);
    cr_assert_eq(scalar(e.ctx, "SELECT count(*) FROM transactions WHERE is_fraud = 1"), 2,
                 "a second resolution changes nothing");

    cr_assert_eq(tl_fraud_alert_resolve(e.ctx, "FA-T4", "genuine", "analyst-2", NULL, NULL, &err),
                 0, "%s", err.msg);
    cr_assert_eq(scalar(e.ctx, "SELECT is_fraud FROM transactions WHERE id = 'T4'"), 0);
    json_t *q = NULL;
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, NULL, 10, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(q), 0, "resolved alerts leave the queue");
    json_decref(q);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "false_positive", 10, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(q), 1);
    json_decref(q);
    cr_assert_eq(tl_fraud_alerts_list(e.ctx, "all", 10, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(q), 2);
    json_decref(q);

    /* the card's next flagged payment opens a new alert */
    struct tl_fraud_tx t6 = tx("T6", "A1", T0 + 5000, 600);
    record_ok(e.ctx, &t6, "review", 0.55, "FA-T6", 1);
    env_close(&e);
}

TU_BOTH(a_long_transaction_id_gets_a_valid_alert_id)
{
    struct env e;
    env_open(&e, url);
    char id[65];
    memset(id, 'x', 64);
    id[64] = '\0';
    struct tl_fraud_tx t = tx(id, "A1", T0, 100);
    json_t *out = NULL;
    tl_err err = {0};
    cr_assert_eq(record(e.ctx, &t, "block", 0.9, &out, &err), 0, "%s", err.msg);
    const char *aid = sget(json_object_get(out, "alert"), "id");
    cr_assert(aid && strlen(aid) <= 64 && strncmp(aid, "FA-xxxx", 7) == 0, "%s", aid);
    json_decref(out);
    env_close(&e);
}
