/* test_fraud_engine.c - the live fraud engine (fraud.h, "the engine"):
 * decisions by thresholds, rules precedence, duplicates and conflicts, bad
 * input named and leaving the state unchanged, cold starts, the decision
 * JSON, and transactions from JSON.
 *
 * The model is built here: a GBDT whose score depends on the amount only
 * (genuine up to 400, a coin toss from 400 to 700, fraud above), so that
 * 100 is allowed, 550 reviewed and 900 blocked with thresholds 0.3 / 0.8. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/datetime.h>
#include <teller/fraud.h>
#include <teller/json.h>
#include <teller/ml_iforest.h>
#include <teller/ml_models.h>

#include "testutil.h"

#include "bank/fraud_internal.h" /* internal: the test links the static library */

#define DAY_MS INT64_C(86400000)

static tl_fraud_model *make_model(const int64_t *windows, int n_windows, double iforest_weight)
{
    struct tl_stream_config cfg;
    tl_stream_config_default(&cfg);
    cfg.n_windows = n_windows;
    for (int k = 0; k < n_windows; k++)
        cfg.window_s[k] = windows[k];
    tl_stream *st;
    tl_err err = {0};
    cr_assert_eq(tl_stream_new(&cfg, &st, &err), 0, "%s", err.msg);
    struct tl__fraud_derive dv;
    tl__fraud_derive_setup(&dv, st);
    tl_stream_free(st);
    size_t d = dv.n_stream + dv.n_ratio, n = 3000;
    float *X = calloc(n * d, sizeof *X);
    uint8_t *y = calloc(n, 1);
    cr_assert(X && y);
    for (size_t i = 0; i < n; i++) {
        double amount = 1 + (double)((i * 7919) % 1000); /* 1 .. 1000 */
        X[i * d] = (float)amount;
        y[i] = amount > 700 || (amount > 400 && i % 2 == 0);
    }
    struct tl_gbdt_opts o = TL_GBDT_OPTS_DEFAULT;
    o.max_rounds = 80;
    o.eta = 0.3;
    o.max_depth = 3;
    o.subsample = 1;
    o.colsample = 1;
    o.nthread = 1;
    o.seed = 1;
    tl_gbdt *g;
    cr_assert_eq(tl_gbdt_train(X, y, n, d, NULL, NULL, 0, &o, &g, &err), 0, "%s", err.msg);
    struct tl_iforest_opts fo = TL_IFOREST_OPTS_DEFAULT;
    fo.n_trees = 20;
    tl_iforest *f;
    cr_assert_eq(tl_iforest_fit(X, n, d, &fo, &f, &err), 0, "%s", err.msg);
    struct tl__fraud_parts p = {.cfg = &cfg, .currency = "EUR", .gbdt = g, .iforest = f,
                                .iforest_weight = iforest_weight, .cold_max_tx = 0,
                                .review = 0.3, .block = 0.8};
    char *bytes;
    size_t len;
    cr_assert_eq(tl__fraud_artifact(&p, &bytes, &len, &err), 0, "%s", err.msg);
    tl_fraud_model *m;
    cr_assert_eq(tl_fraud_model_from_artifact(bytes, len, "fraud-test-1", &m, &err), 0, "%s",
                 err.msg);
    free(bytes);
    tl_gbdt_free(g);
    tl_iforest_free(f);
    free(X);
    free(y);
    return m;
}

static const int64_t WINDOWS[4] = {3600, 86400, 604800, 2592000};

static tl_fraud_model *model(void)
{
    return make_model(WINDOWS, 4, 0.0);
}

static tl_fraud_engine *engine(const tl_fraud_model *m, const char *rules_path)
{
    struct tl_fraud_engine_opts o = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    o.rules_path = rules_path;
    tl_fraud_engine *e;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_engine_new(m, &o, &e, &err), 0, "%s", err.msg);
    return e;
}

/* A transaction `days` after a base ten days ago, amount in cents. */
static struct tl_fraud_tx tx_at(const char *id, const char *card, const char *term, double days,
                                int64_t cents)
{
    static int64_t base = 0;
    if (!base)
        base = (tl_time_now_ms() / DAY_MS - 10) * DAY_MS + 12 * 3600000;
    struct tl_fraud_tx t = {.id = id, .card_id = card, .terminal_id = term,
                            .ts_ms = base + (int64_t)(days * DAY_MS), .amount_minor = cents,
                            .currency = "EUR", .mcc = -1, .label = -1};
    return t;
}

static struct tl_fraud_decision decide_ok(tl_fraud_engine *e, const struct tl_fraud_tx *t)
{
    struct tl_fraud_decision d;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_decide(e, t, &d, &err), 0, "%s: %s", t->id, err.msg);
    return d;
}

/* The whole state as bytes, to prove an error changed nothing. */
static char *snapshot(tl_fraud_engine *e, size_t *len)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, len);
    tl_err err = {0};
    cr_assert_eq(tl_stream_snapshot(tl_fraud_engine_stream(e), fp, &err), 0, "%s", err.msg);
    fclose(fp);
    return buf;
}

/* Warms card c up at terminal t so it is no longer cold. */
static void warm(tl_fraud_engine *e, const char *card, const char *term)
{
    char id[64];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "warm-%s-%d", card, i);
        struct tl_fraud_tx t = tx_at(id, card, term, 0.1 * i, 5000);
        decide_ok(e, &t);
    }
}

Test(fraud_engine, thresholds_decide_allow_review_block)
{
    tl_fraud_model *m = model();
    tl_fraud_engine *e = engine(m, NULL);
    warm(e, "c1", "t1");
    struct tl_fraud_tx a = tx_at("a", "c1", "t1", 1, 10000), r = tx_at("r", "c1", "t1", 1.1, 55000),
                       b = tx_at("b", "c1", "t1", 1.2, 90000);
    struct tl_fraud_decision da = decide_ok(e, &a), dr = decide_ok(e, &r), db = decide_ok(e, &b);
    cr_expect_eq(da.action, TL_RULE_ALLOW, "score %g", da.score.score);
    cr_expect_eq(dr.action, TL_RULE_REVIEW, "score %g", dr.score.score);
    cr_expect_eq(db.action, TL_RULE_BLOCK, "score %g", db.score.score);
    cr_expect(da.score.score < 0.3 && dr.score.score >= 0.3 && dr.score.score < 0.8 &&
              db.score.score >= 0.8);
    cr_expect_eq(da.basis, TL_FRAUD_BY_MODEL);
    cr_expect_eq(db.basis, TL_FRAUD_BY_MODEL);
    cr_expect(!da.score.cold && !db.duplicate);
    cr_expect_eq(db.card_tx_before, 5);
    cr_expect_eq(db.rules.n_fired, 0);
    /* the reasons of a block name the amount, the only feature the trees use */
    cr_assert(db.score.n_reasons >= 1);
    cr_expect_str_eq(tl_fraud_model_feature(m, db.score.reasons[0].feature), "tx_amount");
    tl_fraud_engine_free(e);

    /* the engine's thresholds override the model's */
    struct tl_fraud_engine_opts o = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    o.review_threshold = 0.95;
    o.block_threshold = 0.99;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_engine_new(m, &o, &e, &err), 0, "%s", err.msg);
    warm(e, "c1", "t1");
    struct tl_fraud_decision d = decide_ok(e, &r);
    cr_expect_eq(d.action, TL_RULE_ALLOW);
    tl_fraud_engine_free(e);
    o.review_threshold = 0.9;
    o.block_threshold = 0.5;
    cr_expect_eq(tl_fraud_engine_new(m, &o, &e, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "review threshold"), "%s", err.msg);
    tl_fraud_model_free(m);
}

static char *rules_file(const char *text)
{
    char *dir = tu_tmpdir();
    char *p = tu_write_file(dir, "rules.json", text);
    free(dir);
    return p;
}

static const char RULES[] =
    "{\"rules\": ["
    " {\"name\": \"online_small\", \"action\": \"review\","
    "  \"when\": \"channel == 'online' and amount > 80 and amount < 200\","
    "  \"reason\": \"Small online payment of the pattern card testers use.\"},"
    " {\"name\": \"abroad_big\", \"action\": \"block\", \"when\": \"foreign and amount >= 500\","
    "  \"reason\": \"Large payment outside the card's home country.\"},"
    " {\"name\": \"burst\", \"action\": \"review\","
    "  \"when\": \"customer_nb_tx_3600s >= 6 and amount_over_avg_amount_1day > 1.5\","
    "  \"reason\": \"Many payments within an hour, this one above the day's average.\"}],"
    " \"allow_lists\": [{\"name\": \"vip\", \"field\": \"card_id\", \"values\": [\"c-vip\"]}],"
    " \"block_lists\": [{\"name\": \"stolen\", \"field\": \"card_id\","
    "  \"values\": [\"c-stolen\", \"c-vip\"]}]}";

Test(fraud_engine, rules_take_precedence_when_more_severe)
{
    tl_fraud_model *m = model();
    char *path = rules_file(RULES);
    tl_fraud_engine *e = engine(m, path);
    warm(e, "c1", "t1");
    warm(e, "c-vip", "t1");
    warm(e, "c-stolen", "t1");

    /* a review rule over a model allow */
    struct tl_fraud_tx t = tx_at("on", "c1", "t1", 1, 15000);
    t.channel = "online";
    struct tl_fraud_decision d = decide_ok(e, &t);
    cr_expect_eq(d.score.action, TL_RULE_ALLOW);
    cr_expect_eq(d.action, TL_RULE_REVIEW);
    cr_expect_eq(d.basis, TL_FRAUD_BY_RULES);
    cr_expect_eq(d.rules.n_fired, 1);
    cr_expect_eq(d.rules.fired[0], 0);

    /* foreign needs both countries known and different */
    t = tx_at("ab", "c1", "t1", 1.01, 60000);
    t.country = "BR";
    t.home_country = "FR";
    d = decide_ok(e, &t);
    cr_expect_eq(d.action, TL_RULE_BLOCK);
    cr_expect_eq(d.basis, TL_FRAUD_BY_RULES);
    t = tx_at("ab2", "c1", "t1", 1.02, 60000);
    t.country = "FR";
    t.home_country = "FR";
    d = decide_ok(e, &t);
    cr_expect_eq(d.action, TL_RULE_REVIEW, "the model's review of 600 stands");
    cr_expect_eq(d.basis, TL_FRAUD_BY_MODEL);

    /* a rule less severe than the model leaves the model's decision */
    t = tx_at("big-online", "c1", "t1", 1.03, 95000);
    t.channel = "online";
    d = decide_ok(e, &t);
    cr_expect_eq(d.action, TL_RULE_BLOCK);
    cr_expect_eq(d.basis, TL_FRAUD_BY_MODEL);

    /* a block list blocks a small payment */
    t = tx_at("st", "c-stolen", "t1", 1, 1000);
    d = decide_ok(e, &t);
    cr_expect_eq(d.action, TL_RULE_BLOCK);
    cr_expect_eq(d.basis, TL_FRAUD_BY_RULES);
    cr_expect_eq(d.rules.n_lists_hit, 1);

    /* an allow list overrides the model's block and the block list */
    t = tx_at("vip", "c-vip", "t1", 1, 95000);
    d = decide_ok(e, &t);
    cr_expect_eq(d.score.action, TL_RULE_BLOCK);
    cr_expect_eq(d.action, TL_RULE_ALLOW);
    cr_expect_eq(d.basis, TL_FRAUD_BY_RULES);
    cr_expect_eq(d.rules.n_lists_hit, 2);
    json_t *j = tl_fraud_decision_json(e, &t, &d);
    cr_assert(j);
    size_t i, lists = 0;
    json_t *r;
    json_array_foreach(json_object_get(j, "reasons"), i, r)
        if (strcmp(json_string_value(json_object_get(r, "kind")), "list") == 0)
            lists++;
    cr_expect_eq(lists, 2, "both lists are reported");
    cr_expect_str_eq(json_string_value(json_object_get(j, "basis")), "rules");
    json_decref(j);

    /* rules see model features, derived ones included: the 7th payment of
     * the hour at twice the day's average */
    for (int k = 0; k < 5; k++) {
        char id[16];
        snprintf(id, sizeof id, "burst%d", k);
        t = tx_at(id, "c2", "t1", 2 + k * 0.001, 3000);
        decide_ok(e, &t);
    }
    t = tx_at("burst-last", "c2", "t1", 2.006, 9000);
    d = decide_ok(e, &t);
    cr_expect_eq(d.action, TL_RULE_REVIEW);
    cr_expect_eq(d.rules.n_fired, 1);
    cr_expect_eq(d.rules.fired[0], 2);
    j = tl_fraud_decision_json(e, &t, &d);
    char *s = tl_json_dump(j);
    cr_expect(strstr(s, "\"rule\":\"burst\"") && strstr(s, "Many payments within an hour"), "%s", s);
    free(s);
    json_decref(j);
    tl_fraud_engine_free(e);
    tl_fraud_model_free(m);
    free(path);
}

Test(fraud_engine, a_bad_rule_file_fails_at_load_with_its_position)
{
    tl_fraud_model *m = model();
    char *path = rules_file("{\"rules\": [{\"name\": \"oops\", \"action\": \"block\","
                            " \"when\": \"amount > 5 and contry == 'FR'\", \"reason\": \"x\"}]}");
    struct tl_fraud_engine_opts o = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    o.rules_path = path;
    tl_fraud_engine *e = NULL;
    tl_err err = {0};
    cr_expect_eq(tl_fraud_engine_new(m, &o, &e, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "oops") && strstr(err.msg, "1:16") && strstr(err.msg, "contry"),
              "%s", err.msg);
    cr_expect_null(e);
    tl_fraud_model_free(m);
    free(path);
}

Test(fraud_engine, duplicate_gets_the_same_answer_and_counts_nothing)
{
    tl_fraud_model *m = model();
    char *path = rules_file(RULES);
    tl_fraud_engine *e = engine(m, path);
    warm(e, "c1", "t1");
    struct tl_fraud_tx t = tx_at("dup", "c1", "t1", 1, 55000);
    t.channel = "pos";
    struct tl_fraud_decision d1 = decide_ok(e, &t);
    struct tl_fraud_tx later = tx_at("later", "c1", "t1", 1.5, 20000);
    decide_ok(e, &later);
    struct tl_stream_stats s1, s2;
    tl_stream_get_stats(tl_fraud_engine_stream(e), &s1);
    struct tl_fraud_decision d2 = decide_ok(e, &t);
    tl_stream_get_stats(tl_fraud_engine_stream(e), &s2);
    cr_expect(!d1.duplicate && d2.duplicate);
    cr_expect_eq(d2.action, d1.action);
    cr_expect_eq(d2.score.score, d1.score.score);
    cr_expect_eq(d2.card_tx_before, d1.card_tx_before);
    cr_expect_str_eq(d2.inputs_digest, d1.inputs_digest);
    cr_expect_eq(s2.n_tx, s1.n_tx);
    cr_expect_eq(s2.n_duplicates, s1.n_duplicates + 1);
    json_t *j = tl_fraud_decision_json(e, &t, &d2);
    cr_expect(json_is_true(json_object_get(j, "duplicate")));
    json_decref(j);

    /* the same id with another amount is a conflict naming the id */
    struct tl_fraud_tx c = tx_at("dup", "c1", "t1", 1, 55001);
    struct tl_fraud_decision d;
    tl_err err = {0};
    cr_expect_eq(tl_fraud_decide(e, &c, &d, &err), TL_ECONSTRAINT);
    cr_expect(strstr(err.msg, "transaction dup "), "%s", err.msg);
    c = tx_at("dup", "c9", "t1", 1, 55000);
    cr_expect_eq(tl_fraud_decide(e, &c, &d, &err), TL_ECONSTRAINT);
    tl_fraud_engine_free(e);
    tl_fraud_model_free(m);
    free(path);
}

struct bad_case {
    const char *field; /* expected in the message */
    struct tl_fraud_tx tx;
};

Test(fraud_engine, bad_fields_are_named_and_change_nothing)
{
    tl_fraud_model *m = model();
    tl_fraud_engine *e = engine(m, NULL);
    warm(e, "c1", "t1");
    struct tl_fraud_tx ok = tx_at("x", "c1", "t1", 1, 1000);
    char long_id[80];
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    int64_t now = tl_time_now_ms();
    struct bad_case cases[16];
    size_t n = 0;
    cases[n] = (struct bad_case){"id", ok}, cases[n++].tx.id = "";
    cases[n] = (struct bad_case){"id", ok}, cases[n++].tx.id = NULL;
    cases[n] = (struct bad_case){"id", ok}, cases[n++].tx.id = long_id;
    cases[n] = (struct bad_case){"card_id", ok}, cases[n++].tx.card_id = NULL;
    cases[n] = (struct bad_case){"card_id", ok}, cases[n++].tx.card_id = long_id;
    cases[n] = (struct bad_case){"terminal_id", ok}, cases[n++].tx.terminal_id = long_id;
    cases[n] = (struct bad_case){"terminal_id", ok}, cases[n++].tx.terminal_id = NULL;
    cases[n] = (struct bad_case){"amount", ok}, cases[n++].tx.amount_minor = 0;
    cases[n] = (struct bad_case){"amount", ok}, cases[n++].tx.amount_minor = -500;
    cases[n] = (struct bad_case){"currency", ok}, memcpy(cases[n++].tx.currency, "ZZZ", 4);
    cases[n] = (struct bad_case){"currency USD is not the model's EUR", ok},
    memcpy(cases[n++].tx.currency, "USD", 4);
    cases[n] = (struct bad_case){"before 2000-01-01", ok}, cases[n++].tx.ts_ms = 946684799999;
    cases[n] = (struct bad_case){"ahead of this machine's clock", ok},
    cases[n++].tx.ts_ms = now + 2 * 3600000;
    cases[n] = (struct bad_case){"max_lateness_s", ok}, cases[n++].tx.ts_ms = ok.ts_ms - 3 * DAY_MS;
    cases[n] = (struct bad_case){"mcc", ok}, cases[n++].tx.mcc = 10000;
    size_t len0;
    char *before = snapshot(e, &len0);
    for (size_t i = 0; i < n; i++) {
        struct tl_fraud_decision d;
        tl_err err = {0};
        cr_expect_eq(tl_fraud_decide(e, &cases[i].tx, &d, &err), TL_EINVAL, "case %zu", i);
        cr_expect(strstr(err.msg, cases[i].field), "case %zu: \"%s\" not in: %s", i,
                  cases[i].field, err.msg);
        size_t len;
        char *after = snapshot(e, &len);
        cr_expect(len == len0 && memcmp(before, after, len) == 0, "case %zu changed the state", i);
        free(after);
    }
    free(before);
    /* a merchant stands for a missing terminal; a little in the future is fine */
    ok.terminal_id = NULL;
    ok.merchant_id = "m1";
    ok.ts_ms = now + 60000;
    decide_ok(e, &ok);
    tl_fraud_engine_free(e);
    tl_fraud_model_free(m);
}

static bool has_reason(json_t *j, const char *kind, const char *needle)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "reasons"), i, r) {
        const char *text = json_string_value(json_object_get(r, "text"));
        if (strcmp(json_string_value(json_object_get(r, "kind")), kind) == 0 &&
            (!needle || (text && strstr(text, needle))))
            return true;
    }
    return false;
}

Test(fraud_engine, a_new_card_and_an_unknown_terminal_are_cold_starts)
{
    tl_fraud_model *m = make_model(WINDOWS, 4, 0.5);
    tl_fraud_engine *e = engine(m, NULL);
    struct tl_fraud_tx t = tx_at("first", "c-new", "t-new", 1, 2000);
    struct tl_fraud_decision d = decide_ok(e, &t);
    cr_expect(d.score.cold);
    cr_expect(isfinite(d.score.anomaly));
    cr_expect(fabs(d.score.score - (0.5 * d.score.model_score + 0.5 * d.score.anomaly)) < 1e-12);
    cr_expect_eq(d.card_tx_before, 0);
    json_t *j = tl_fraud_decision_json(e, &t, &d);
    cr_expect(json_is_true(json_object_get(j, "cold_start")));
    cr_expect(json_is_number(json_object_get(j, "anomaly")));
    cr_expect(has_reason(j, "cold_start", "card \"c-new\" has 0 earlier transactions"));
    cr_expect(has_reason(j, "cold_start", "terminal \"t-new\""));
    json_decref(j);

    /* a warm card at a terminal it knows: no cold start at all */
    t = tx_at("second", "c-new", "t-new", 1.1, 2000);
    d = decide_ok(e, &t);
    cr_expect(!d.score.cold);
    j = tl_fraud_decision_json(e, &t, &d);
    cr_expect(json_is_false(json_object_get(j, "cold_start")));
    cr_expect(json_is_null(json_object_get(j, "anomaly")));
    cr_expect(!has_reason(j, "cold_start", NULL));
    json_decref(j);
    tl_fraud_engine_free(e);
    tl_fraud_model_free(m);
}

Test(fraud_engine, decision_json_shape)
{
    tl_fraud_model *m = model();
    char *path = rules_file(RULES);
    tl_fraud_engine *e = engine(m, path);
    warm(e, "c1", "t1");
    struct tl_fraud_tx t = tx_at("shape", "c1", "t1", 1, 95050);
    t.channel = "online";
    struct tl_fraud_decision d = decide_ok(e, &t);
    json_t *j = tl_fraud_decision_json(e, &t, &d);
    cr_assert(j);
    static const char *const keys[] = {"transaction_id", "card_id", "amount", "currency",
                                       "decision", "score", "model_score", "anomaly", "model",
                                       "cold_start", "duplicate", "reasons", "basis",
                                       "inputs_digest"};
    size_t nk = sizeof keys / sizeof keys[0], i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        cr_assert(i < nk, "extra member %s", k);
        cr_expect_str_eq(k, keys[i]);
        i++;
    }
    cr_expect_eq(i, nk);
    cr_expect_str_eq(json_string_value(json_object_get(j, "transaction_id")), "shape");
    cr_expect_str_eq(json_string_value(json_object_get(j, "amount")), "950.50");
    cr_expect_str_eq(json_string_value(json_object_get(j, "currency")), "EUR");
    cr_expect_str_eq(json_string_value(json_object_get(j, "decision")), "block");
    cr_expect_str_eq(json_string_value(json_object_get(j, "model")), "fraud-test-1");
    cr_expect_str_eq(json_string_value(json_object_get(j, "basis")), "model");
    const char *dg = json_string_value(json_object_get(j, "inputs_digest"));
    cr_expect_eq(strlen(dg), 64);
    cr_expect_eq(strspn(dg, "0123456789abcdef"), 64);
    json_t *r0 = json_array_get(json_object_get(j, "reasons"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(r0, "kind")), "model");
    cr_expect_str_eq(json_string_value(json_object_get(r0, "feature")), "tx_amount");
    cr_expect(json_real_value(json_object_get(r0, "value")) == 950.5);
    cr_expect(json_real_value(json_object_get(r0, "contribution")) > 0);
    cr_expect(strlen(json_string_value(json_object_get(r0, "text"))) > 0);
    json_decref(j);

    /* the digest covers every field but the label */
    struct tl_fraud_tx t2 = tx_at("shape2", "c1", "t1", 1.01, 95050);
    t2.channel = "online";
    struct tl_fraud_decision d2 = decide_ok(e, &t2);
    cr_expect_str_neq(d2.inputs_digest, d.inputs_digest);
    tl_fraud_engine_free(e);
    tl_fraud_model_free(m);
    free(path);
}

Test(fraud_engine, rule_schema_names_the_fields)
{
    tl_fraud_model *m = model();
    static const char *const tx_fields[] = {
        "amount", "currency", "card_id", "customer_id", "terminal_id", "merchant_id", "country",
        "home_country", "channel", "mcc", "ts_ms", "score", "model_score", "is_night",
        "is_weekend", "is_cold", "first_seen_terminal", "foreign"};
    size_t nt = sizeof tx_fields / sizeof tx_fields[0];
    cr_expect_eq(tl_fraud_rule_schema(NULL, NULL, 0), nt);
    size_t n = tl_fraud_rule_schema(m, NULL, 0);
    cr_assert_eq(n, nt + tl_fraud_model_n_features(m));
    struct tl_rule_field f[128];
    cr_assert_eq(tl_fraud_rule_schema(m, f, 128), n);
    for (size_t i = 0; i < nt; i++)
        cr_expect_str_eq(f[i].name, tx_fields[i]);
    cr_expect_eq(f[0].type, TL_RULE_NUM);
    cr_expect_eq(f[1].type, TL_RULE_STR);
    cr_expect_eq(f[nt - 1].type, TL_RULE_BOOL);
    for (size_t j = 0; j < tl_fraud_model_n_features(m); j++) {
        cr_expect_str_eq(f[nt + j].name, tl_fraud_model_feature(m, j));
        cr_expect_eq(f[nt + j].type, TL_RULE_NUM);
    }
    cr_expect_eq(tl_fraud_rule_schema(m, f, 3), n, "the count whatever the room");
    tl_fraud_model_free(m);
}

Test(fraud_engine, model_and_state_swaps_check_the_stream_configuration)
{
    tl_fraud_model *m = model(), *m2 = model();
    static const int64_t other[3] = {86400, 604800, 2592000};
    tl_fraud_model *m3 = make_model(other, 3, 0.0);
    tl_fraud_engine *e = engine(m, NULL);
    warm(e, "c1", "t1");
    tl_err err = {0};
    cr_expect_eq(tl_fraud_engine_set_model(e, m2, &err), 0, "%s", err.msg);
    cr_expect_eq(tl_fraud_engine_set_model(e, m3, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "replay"), "%s", err.msg);

    /* a snapshot restored into a new engine answers a duplicate the same */
    struct tl_fraud_tx t = tx_at("snap", "c1", "t1", 1, 55000);
    struct tl_fraud_decision d1 = decide_ok(e, &t);
    size_t len;
    char *bytes = snapshot(e, &len);
    FILE *fp = fmemopen(bytes, len, "rb");
    tl_stream *s;
    cr_assert_eq(tl_stream_restore(fp, &s, &err), 0, "%s", err.msg);
    fclose(fp);
    tl_fraud_engine *e2 = engine(m2, NULL);
    cr_assert_eq(tl_fraud_engine_set_stream(e2, s, &err), 0, "%s", err.msg);
    struct tl_fraud_decision d2 = decide_ok(e2, &t);
    cr_expect(d2.duplicate);
    cr_expect_eq(d2.score.score, d1.score.score);
    cr_expect_eq(d2.action, d1.action);

    /* a state with other windows is refused (and stays the caller's) */
    struct tl_stream_config cfg;
    tl_fraud_model_stream_config(m3, &cfg);
    cr_assert_eq(tl_stream_new(&cfg, &s, &err), 0);
    cr_expect_eq(tl_fraud_engine_set_stream(e2, s, &err), TL_EINVAL);
    tl_stream_free(s);
    free(bytes);
    tl_fraud_engine_free(e);
    tl_fraud_engine_free(e2);
    tl_fraud_model_free(m);
    tl_fraud_model_free(m2);
    tl_fraud_model_free(m3);
}

/* ---- tl_fraud_tx_from_json ---------------------------------------------- */

static int from_json(const char *text, struct tl_fraud_tx *tx, json_t **keep, tl_err *err)
{
    json_t *j = tl_json_parse(text, strlen(text), "test", err);
    cr_assert(j, "%s", err->msg);
    *keep = j;
    return tl_fraud_tx_from_json(j, tx, err);
}

Test(fraud_tx, from_json_reads_every_member)
{
    struct tl_fraud_tx t;
    json_t *j;
    tl_err err = {0};
    cr_assert_eq(from_json("{\"id\":\"t1\",\"card_id\":\"c1\",\"customer_id\":\"K1\","
                           "\"terminal_id\":\"T9\",\"merchant_id\":\"M3\","
                           "\"ts\":\"2024-03-01T10:20:30Z\",\"amount\":\"-12.30\","
                           "\"currency\":\"EUR\",\"country\":\"FR\",\"home_country\":\"DE\","
                           "\"channel\":\"online\",\"mcc\":\"5411\",\"is_fraud\":true,"
                           "\"extra\":[1,2]}",
                           &t, &j, &err),
                 0, "%s", err.msg);
    cr_expect_str_eq(t.id, "t1");
    cr_expect_str_eq(t.card_id, "c1");
    cr_expect_str_eq(t.customer_id, "K1");
    cr_expect_str_eq(t.terminal_id, "T9");
    cr_expect_str_eq(t.merchant_id, "M3");
    cr_expect_eq(t.ts_ms, INT64_C(1709288430000));
    cr_expect_eq(t.amount_minor, 1230, "a debit counts as paid");
    cr_expect_str_eq(t.currency, "EUR");
    cr_expect_str_eq(t.country, "FR");
    cr_expect_str_eq(t.home_country, "DE");
    cr_expect_str_eq(t.channel, "online");
    cr_expect_eq(t.mcc, 5411);
    cr_expect_eq(t.label, 1);
    json_decref(j);

    cr_assert_eq(from_json("{\"id\":\"t2\",\"account_id\":\"A7\",\"ts\":1709288430123,"
                           "\"amount\":12.3,\"currency\":\"JPY\",\"merchant_id\":\"M\"}",
                           &t, &j, &err),
                 TL_EINVAL, "12.3 yen has a decimal JPY does not have");
    cr_expect(strstr(err.msg, "amount"), "%s", err.msg);
    json_decref(j);
    cr_assert_eq(from_json("{\"id\":\"t2\",\"account_id\":\"A7\",\"ts\":1709288430123,"
                           "\"amount\":12.3,\"currency\":\"EUR\",\"mcc\":5999,\"is_fraud\":0}",
                           &t, &j, &err),
                 0, "%s", err.msg);
    cr_expect_str_eq(t.card_id, "A7");
    cr_expect_eq(t.ts_ms, INT64_C(1709288430123));
    cr_expect_eq(t.amount_minor, 1230);
    cr_expect_eq(t.mcc, 5999);
    cr_expect_eq(t.label, 0);
    cr_expect_null(t.terminal_id);
    cr_expect_null(t.country);
    json_decref(j);
    cr_assert_eq(from_json("{\"id\":\"t3\",\"card_id\":\"c\",\"ts\":\"2024-03-01\","
                           "\"amount\":1500,\"currency\":\"JPY\"}",
                           &t, &j, &err),
                 0, "%s", err.msg);
    cr_expect_eq(t.amount_minor, 1500);
    cr_expect_eq(t.mcc, -1);
    cr_expect_eq(t.label, -1);
    json_decref(j);
}

Test(fraud_tx, from_json_errors_name_the_member)
{
    static const struct {
        const char *json, *member;
    } cases[] = {
        {"[1]", "JSON object"},
        {"{\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\"}", "\"id\" is missing"},
        {"{\"id\":7,\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\"}", "\"id\" must be"},
        {"{\"id\":\"x\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\"}", "card_id"},
        {"{\"id\":\"x\",\"card_id\":\"a\",\"account_id\":\"b\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\"}",
         "differ"},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"amount\":\"1\",\"currency\":\"EUR\"}", "\"ts\" is missing"},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":\"yesterday\",\"amount\":\"1\",\"currency\":\"EUR\"}",
         "\"ts\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1.5,\"amount\":\"1\",\"currency\":\"EUR\"}", "\"ts\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"currency\":\"EUR\"}", "\"amount\" is missing"},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"0.00\",\"currency\":\"EUR\"}",
         "\"amount\" is zero"},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1.234\",\"currency\":\"EUR\"}",
         "\"amount\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":true,\"currency\":\"EUR\"}", "\"amount\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\"}", "\"currency\" is missing"},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"eur\"}", "\"currency\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\",\"country\":\"fr\"}",
         "\"country\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\",\"mcc\":\"54a1\"}",
         "\"mcc\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\",\"mcc\":12345}",
         "\"mcc\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\",\"is_fraud\":\"yes\"}",
         "\"is_fraud\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":\"1\",\"currency\":\"EUR\",\"channel\":3}",
         "\"channel\""},
        {"{\"id\":\"x\",\"card_id\":\"c\",\"ts\":1,\"amount\":1e300,\"currency\":\"EUR\"}", "\"amount\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tl_fraud_tx t;
        memset(&t, 0x5a, sizeof t);
        struct tl_fraud_tx before = t;
        json_t *j;
        tl_err err = {0};
        cr_expect_eq(from_json(cases[i].json, &t, &j, &err), TL_EINVAL, "case %zu", i);
        cr_expect(strstr(err.msg, cases[i].member), "case %zu: \"%s\" not in: %s", i,
                  cases[i].member, err.msg);
        cr_expect(memcmp(&t, &before, sizeof t) == 0, "case %zu: tx touched on error", i);
        json_decref(j);
    }
}
