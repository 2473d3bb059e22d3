/*
 * test_fraud_model.c - the fraud model (fraud.h): the artifact round trip
 * and every corruption refused, scoring reproducible with reasons that are
 * the largest positive TreeSHAP contributions, the reason sentences,
 * training from a file, and training from a generated bank's store (the
 * model registered, champion, loaded and scoring).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/fraud.h>
#include <teller/fraud_alerts.h>
#include <teller/generate.h>
#include <teller/ingest.h>
#include <teller/ml_iforest.h>
#include <teller/ml_models.h>
#include <teller/ml_stats.h>
#include <teller/registry.h>

#include "testutil.h"

#include "bank/fraud_internal.h" /* internal: the test links the static library */

static void trained_cfg(struct tl_stream_config *cfg)
{
    tl_stream_config_default(cfg);
    cfg->n_windows = 4;
    cfg->window_s[0] = 3600;
    cfg->window_s[1] = 86400;
    cfg->window_s[2] = 7 * 86400;
    cfg->window_s[3] = 30 * 86400;
    cfg->label_delay_s = 7 * 86400;
}

/* A model over random features: fraud when the 7-day ratio is high. */
struct fixture {
    struct tl_stream_config cfg;
    tl_gbdt *g;
    tl_iforest *f;
    size_t d, n_stream;
    char *bytes;
    size_t len;
};

static void make(struct fixture *fx, size_t iforest_dim)
{
    trained_cfg(&fx->cfg);
    tl_stream *s;
    tl_err err = {0};
    cr_assert_eq(tl_stream_new(&fx->cfg, &s, &err), 0, "%s", err.msg);
    struct tl__fraud_derive dv;
    tl__fraud_derive_setup(&dv, s);
    tl_stream_free(s);
    fx->n_stream = dv.n_stream;
    fx->d = dv.n_stream + dv.n_ratio;
    cr_assert_eq(fx->d, 28);
    size_t n = 3000, d = fx->d;
    float *X = malloc(n * d * sizeof *X);
    uint8_t *y = malloc(n);
    tl_rng r;
    tl_rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) {
        double f[TL__FRAUD_MAX_FEATURES];
        for (size_t j = 0; j < dv.n_stream; j++)
            f[j] = tl_rng_uniform(&r) * 10;
        f[0] = 5 + tl_rng_uniform(&r) * 200;
        tl__fraud_derive(&dv, f);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = (float)f[j];
        y[i] = f[dv.n_stream + 2] > 8 && tl_rng_uniform(&r) < 0.9;
    }
    struct tl_gbdt_opts o = TL_GBDT_OPTS_DEFAULT;
    o.max_rounds = 60;
    o.nthread = 1;
    cr_assert_eq(tl_gbdt_train(X, y, n, d, NULL, NULL, 0, &o, &fx->g, &err), 0, "%s", err.msg);
    struct tl_iforest_opts io = TL_IFOREST_OPTS_DEFAULT;
    io.n_trees = 20;
    cr_assert_eq(tl_iforest_fit(X, n, iforest_dim, &io, &fx->f, &err), 0, "%s", err.msg);
    free(X);
    free(y);
    struct tl__fraud_parts p = {.cfg = &fx->cfg, .currency = "EUR", .gbdt = fx->g,
                                .iforest = fx->f, .iforest_weight = 0.3, .cold_max_tx = 2,
                                .review = 0.3, .block = 0.9};
    cr_assert_eq(tl__fraud_artifact(&p, &fx->bytes, &fx->len, &err), 0, "%s", err.msg);
}

static void clear(struct fixture *fx)
{
    tl_gbdt_free(fx->g);
    tl_iforest_free(fx->f);
    free(fx->bytes);
}

/* An artifact of fx's parts plus a logistic regression with weight v. */
static char *with_linear(const struct fixture *fx, const tl_linear *l, const double *mean,
                         const double *sd, double v, size_t *len)
{
    struct tl__fraud_parts p = {.cfg = &fx->cfg, .currency = "EUR", .gbdt = fx->g,
                                .iforest = fx->f, .iforest_weight = 0.3, .cold_max_tx = 2,
                                .review = 0.3, .block = 0.9, .linear = l, .lr_mean = mean,
                                .lr_sd = sd, .linear_weight = v};
    char *bytes = NULL;
    tl_err err = {0};
    cr_assert_eq(tl__fraud_artifact(&p, &bytes, len, &err), 0, "%s", err.msg);
    return bytes;
}

Test(fraud_model, logistic_regression_blends_into_the_score_reasons_stay_the_trees)
{
    struct fixture fx;
    make(&fx, 28);
    double w[TL__FRAUD_MAX_FEATURES], mean[TL__FRAUD_MAX_FEATURES], sd[TL__FRAUD_MAX_FEATURES];
    for (size_t j = 0; j < fx.d; j++) {
        w[j] = 0.1 * (double)(j % 5) - 0.15;
        mean[j] = 2 + 0.5 * (double)j;
        sd[j] = 1 + 0.25 * (double)(j % 3);
    }
    tl_linear *l;
    tl_err err = {0};
    cr_assert_eq(tl_linear_from_weights(w, fx.d, -1.5, &l, &err), 0, "%s", err.msg);
    size_t len;
    char *bytes = with_linear(&fx, l, mean, sd, 0.25, &len);
    tl_fraud_model *m, *m0;
    cr_assert_eq(tl_fraud_model_from_artifact(bytes, len, "fraud-lr", &m, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_fraud_model_from_artifact(fx.bytes, fx.len, "fraud-0", &m0, &err), 0, "%s",
                 err.msg);
    tl_rng r;
    tl_rng_seed(&r, 5);
    for (int t = 0; t < 100; t++) {
        double sf[TL_STREAM_MAX_FEATURES], f[TL__FRAUD_MAX_FEATURES];
        for (size_t j = 0; j < fx.n_stream; j++)
            sf[j] = tl_rng_uniform(&r) * 10;
        sf[0] = 5 + tl_rng_uniform(&r) * 200;
        sf[9] = 50; /* not cold: the score is the blend alone */
        struct tl_fraud_score a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        tl_fraud_model_score(m, sf, TL_FRAUD_REASONS_EXACT, &a);
        tl_fraud_model_score(m0, sf, TL_FRAUD_REASONS_EXACT, &b);
        memcpy(f, sf, fx.n_stream * sizeof *f);
        struct tl__fraud_derive dv = {.n_stream = fx.n_stream, .n_ratio = 4,
                                      .avg_col = {4, 6, 8, 10}};
        tl__fraud_derive(&dv, f);
        double margin = -1.5;
        for (size_t j = 0; j < fx.d; j++)
            margin += w[j] * (double)(float)(((double)(float)f[j] - mean[j]) / sd[j]);
        double pl = 1 / (1 + exp(-margin));
        cr_assert_float_eq(a.model_score, 0.75 * b.model_score + 0.25 * pl, 1e-9, "row %d", t);
        cr_assert_float_eq(a.score, a.model_score, 1e-15);
        cr_assert_eq(a.n_reasons, b.n_reasons);
        for (size_t k = 0; k < a.n_reasons; k++) {
            cr_assert_eq(a.reasons[k].feature, b.reasons[k].feature);
            cr_assert_eq(a.reasons[k].contribution, b.reasons[k].contribution);
        }
    }
    tl_fraud_model_free(m);
    tl_fraud_model_free(m0);
    free(bytes);

    /* weight 0 leaves the trees' score; a weight without a regression, a
     * short scaler or a zero sd are refused naming the part */
    bytes = with_linear(&fx, l, mean, sd, 0, &len);
    cr_assert_eq(tl_fraud_model_from_artifact(bytes, len, "fraud-lr0", &m, &err), 0, "%s", err.msg);
    tl_fraud_model_free(m);
    free(bytes);
    bytes = with_linear(&fx, l, mean, sd, 0.5, &len);
    json_t *doc = json_loadb(bytes, len, 0, NULL);
    json_t *d1 = json_deep_copy(doc), *d2 = json_deep_copy(doc), *d3 = json_deep_copy(doc);
    json_object_set_new(d1, "linear", json_null());
    json_array_remove(json_object_get(json_object_get(d2, "linear"), "mean"), 0);
    json_array_set_new(json_object_get(json_object_get(d3, "linear"), "sd"), 3, json_real(0));
    json_t *docs[3] = {d1, d2, d3};
    const char *part[3] = {"combine", "linear", "linear"};
    for (int i = 0; i < 3; i++) {
        char *s2 = json_dumps(docs[i], JSON_COMPACT);
        m = NULL;
        cr_assert_eq(tl_fraud_model_from_artifact(s2, strlen(s2), "fraud-bad", &m, &err), TL_EPARSE,
                     "%d", i);
        char want[40];
        snprintf(want, sizeof want, "part \"%s\"", part[i]);
        cr_assert(strstr(err.msg, want), "%d: %s", i, err.msg);
        cr_assert_null(m);
        free(s2);
        json_decref(docs[i]);
    }
    json_decref(doc);
    free(bytes);
    tl_linear_free(l);
    clear(&fx);
}

static size_t feature(const tl_fraud_model *m, const char *name)
{
    for (size_t j = 0; j < tl_fraud_model_n_features(m); j++)
        if (strcmp(tl_fraud_model_feature(m, j), name) == 0)
            return j;
    cr_assert_fail("no feature %s", name);
    return 0;
}

Test(fraud_model, artifact_round_trip_and_scores_reproducibly)
{
    struct fixture fx;
    make(&fx, 28);
    tl_fraud_model *m;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_model_from_artifact(fx.bytes, fx.len, "fraud-v9", &m, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(tl_fraud_model_id(m), "fraud-v9");
    cr_assert_str_eq(tl_fraud_model_currency(m), "EUR");
    cr_assert_eq(tl_fraud_model_n_features(m), 28);
    cr_assert_str_eq(tl_fraud_model_feature(m, 27), "amount_over_avg_amount_30day");
    cr_assert_null(tl_fraud_model_feature(m, 28));
    struct tl_stream_config c;
    tl_fraud_model_stream_config(m, &c);
    cr_assert_eq(c.n_windows, 4);
    cr_assert_eq(c.window_s[0], 3600);
    cr_assert_eq(c.label_delay_s, 7 * 86400);

    tl_rng r;
    tl_rng_seed(&r, 3);
    int n_block = 0;
    for (int t = 0; t < 200; t++) {
        double sf[TL_STREAM_MAX_FEATURES], f[TL__FRAUD_MAX_FEATURES];
        for (size_t j = 0; j < fx.n_stream; j++)
            sf[j] = tl_rng_uniform(&r) * 10;
        sf[0] = 5 + tl_rng_uniform(&r) * 200;
        sf[9] = t % 2 ? 1 : 50; /* customer_nb_tx_30day: cold or not */
        struct tl_fraud_score a, b;
        /* padding and the unused reasons are not written: zero them so
         * memcmp compares what the score wrote */
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        tl_fraud_model_score(m, sf, TL_FRAUD_REASONS_EXACT, &a);
        tl_fraud_model_score(m, sf, TL_FRAUD_REASONS_EXACT, &b);
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "the same input scores the same");
        /* the score is the trees' on the derived vector */
        memcpy(f, sf, fx.n_stream * sizeof *f);
        struct tl__fraud_derive dv = {.n_stream = fx.n_stream, .n_ratio = 4,
                                      .avg_col = {4, 6, 8, 10}};
        tl__fraud_derive(&dv, f);
        float x[TL__FRAUD_MAX_FEATURES];
        for (size_t j = 0; j < fx.d; j++)
            x[j] = (float)f[j];
        double margin = tl_gbdt_margin(fx.g, x);
        cr_assert_float_eq(a.model_score, 1 / (1 + exp(-margin)), 1e-12);
        cr_assert_eq(a.cold, t % 2 == 1);
        if (a.cold) {
            double an = tl_iforest_score(fx.f, x);
            cr_assert_float_eq(a.anomaly, an, 1e-12);
            cr_assert_float_eq(a.score, 0.7 * a.model_score + 0.3 * an, 1e-12);
        } else {
            cr_assert(isnan(a.anomaly));
            cr_assert_float_eq(a.score, a.model_score, 1e-15);
        }
        enum tl_rule_action want = a.score >= 0.9   ? TL_RULE_BLOCK
                                   : a.score >= 0.3 ? TL_RULE_REVIEW
                                                    : TL_RULE_ALLOW;
        cr_assert_eq(a.action, want);
        n_block += a.action == TL_RULE_BLOCK;
        /* contributions sum to the margin; reasons are the largest positive */
        double phi[TL__FRAUD_MAX_FEATURES + 1], sum = 0;
        tl_gbdt_contribs(fx.g, x, phi);
        for (size_t j = 0; j <= fx.d; j++)
            sum += phi[j];
        cr_assert_float_eq(sum, margin, 1e-4);
        size_t n_pos = 0;
        for (size_t j = 0; j < fx.d; j++)
            n_pos += phi[j] > 0;
        cr_assert_eq(a.n_reasons, n_pos < 3 ? n_pos : 3);
        for (size_t k = 0; k < a.n_reasons; k++) {
            size_t j = a.reasons[k].feature;
            cr_assert_float_eq(a.reasons[k].contribution, phi[j], 1e-12);
            cr_assert_float_eq(a.reasons[k].value, f[j], 1e-12);
            if (k)
                cr_assert_geq(a.reasons[k - 1].contribution, a.reasons[k].contribution);
            for (size_t i = 0; i < fx.d; i++) /* nothing larger left out */
                if (phi[i] > a.reasons[k].contribution) {
                    bool in = false;
                    for (size_t q = 0; q < k; q++)
                        in |= a.reasons[q].feature == i;
                    cr_assert(in, "feature %zu (%g) beats reason %zu", i, phi[i], k);
                }
        }
        /* approximate reasons: the path attribution's values */
        struct tl_fraud_score ap;
        tl_fraud_model_score(m, sf, TL_FRAUD_REASONS_APPROX, &ap);
        tl_gbdt_contribs_approx(fx.g, x, phi);
        cr_assert_float_eq(ap.score, a.score, 1e-15);
        for (size_t k = 0; k < ap.n_reasons; k++)
            cr_assert_float_eq(ap.reasons[k].contribution, phi[ap.reasons[k].feature], 1e-12);
    }
    cr_assert_gt(n_block, 0, "some rows block");
    tl_fraud_model_free(m);
    clear(&fx);
}

/* Parses the artifact, lets edit change it, and expects a refusal naming part. */
static void refused(const struct fixture *fx, void (*edit)(json_t *doc, const struct fixture *fx),
                    const char *part)
{
    json_t *doc = json_loadb(fx->bytes, fx->len, 0, NULL);
    cr_assert(doc);
    edit(doc, fx);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    tl_fraud_model *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_model_from_artifact(s, strlen(s), "fraud-v2", &m, &err), TL_EPARSE,
                 "edit of %s: accepted", part);
    char want[80];
    snprintf(want, sizeof want, "part \"%s\"", part);
    cr_assert(strstr(err.msg, want), "%s: %s", part, err.msg);
    cr_assert(strstr(err.msg, "fraud-v2"), "%s", err.msg);
    free(s);
}

static void drop_feature(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_array_remove(json_object_get(d, "features"), 25);
}
static void rename_feature(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_array_set_new(json_object_get(d, "features"), 3, json_string("customer_nb_tx_2h"));
}
static void review_high(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "thresholds"), "review", json_real(1.5));
}
static void block_negative(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "thresholds"), "block", json_real(-0.1));
}
static void review_above_block(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "thresholds"), "review", json_real(0.95));
}
static void no_thresholds(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_del(d, "thresholds");
}
static void weight_two(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "combine"), "iforest_weight", json_real(2));
}
static void format_other(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(d, "format", json_string("teller-credit"));
}
static void version_two(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(d, "version", json_integer(2));
}
static void currency_bad(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(d, "currency", json_string("EURO"));
}
static void window_zero(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_array_set_new(json_object_get(json_object_get(d, "stream"), "windows_s"), 0,
                       json_integer(0));
}
static void window_more(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_array_append_new(json_object_get(json_object_get(d, "stream"), "windows_s"),
                          json_integer(90 * 86400));
}
static void gbdt_gone(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(d, "gbdt", json_string("trees"));
}
static void gbdt_broken(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_t *l = json_object_get(json_object_get(d, "gbdt"), "learner");
    json_object_del(l, "gradient_booster");
}
static void iforest_gone(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_del(d, "iforest");
}
static void iforest_broken(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "iforest"), "dim", json_integer(-3));
}
static void text_unknown_placeholder(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "reason_texts"), "tx_amount",
                        json_string("amount {dollars}"));
}
static void text_unbalanced(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "reason_texts"), "tx_amount",
                        json_string("amount {money"));
}
static void text_unknown_feature(json_t *d, const struct fixture *fx)
{
    (void)fx;
    json_object_set_new(json_object_get(d, "reason_texts"), "color", json_string("red"));
}

Test(fraud_model, every_corruption_is_refused_naming_the_part)
{
    struct fixture fx;
    make(&fx, 28);
    refused(&fx, drop_feature, "features");
    refused(&fx, rename_feature, "features");
    refused(&fx, review_high, "thresholds");
    refused(&fx, block_negative, "thresholds");
    refused(&fx, review_above_block, "thresholds");
    refused(&fx, no_thresholds, "thresholds");
    refused(&fx, weight_two, "combine");
    refused(&fx, format_other, "format");
    refused(&fx, version_two, "version");
    refused(&fx, currency_bad, "currency");
    refused(&fx, window_zero, "stream");
    refused(&fx, window_more, "features"); /* 5 windows: 33 features expected */
    refused(&fx, gbdt_gone, "gbdt");
    refused(&fx, gbdt_broken, "gbdt");
    refused(&fx, iforest_gone, "iforest");
    refused(&fx, iforest_broken, "iforest");
    refused(&fx, text_unknown_placeholder, "reason_texts");
    refused(&fx, text_unbalanced, "reason_texts");
    refused(&fx, text_unknown_feature, "reason_texts");

    tl_err err = {0};
    tl_fraud_model *m = NULL;
    /* an artifact trained before customer_country_new and
     * customer_channel_new: refused, saying to retrain */
    json_t *doc = json_loadb(fx.bytes, fx.len, 0, NULL);
    json_t *fa = json_object_get(doc, "features");
    for (size_t i = 0; i < json_array_size(fa);) {
        const char *nm = json_string_value(json_array_get(fa, i));
        if (!strcmp(nm, "customer_country_new") || !strcmp(nm, "customer_channel_new"))
            json_array_remove(fa, i);
        else
            i++;
    }
    cr_assert_eq(json_array_size(fa), 26);
    char *old = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    cr_assert_eq(tl_fraud_model_from_artifact(old, strlen(old), "fraud-v1", &m, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "part \"features\"") && strstr(err.msg, "retrain"), "%s", err.msg);
    cr_assert_null(m);
    free(old);

    /* truncated anywhere: never a model */
    for (size_t cut = 0; cut < fx.len; cut += 1 + fx.len / 97) {
        cr_assert_eq(tl_fraud_model_from_artifact(fx.bytes, cut, NULL, &m, &err), TL_EPARSE,
                     "cut at %zu", cut);
        cr_assert_null(m);
    }
    clear(&fx);

    /* an isolation forest over other features than the model's */
    make(&fx, 20);
    cr_assert_eq(tl_fraud_model_from_artifact(fx.bytes, fx.len, NULL, &m, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "part \"iforest\""), "%s", err.msg);
    clear(&fx);
}

Test(fraud_model, reason_sentences_per_feature_family)
{
    struct fixture fx;
    make(&fx, 28);
    tl_fraud_model *m;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_model_from_artifact(fx.bytes, fx.len, NULL, &m, &err), 0, "%s", err.msg);
    static const struct {
        const char *feature;
        double value;
        const char *text;
    } cases[] = {
        {"amount_over_avg_amount_7day", 9.31, "amount is 9.3 times the card's 7-day average"},
        {"amount_over_avg_amount_3600s", 2, "amount is 2.0 times the card's 1-hour average"},
        {"customer_nb_tx_3600s", 12, "12 transactions on the card in the last hour"},
        {"customer_nb_tx_30day", 40, "40 transactions on the card in the last 30 days"},
        {"terminal_risk_7day", 0.42,
         "terminal's fraud rate 42% over the 7 days before the last 7 days"},
        {"terminal_risk_1day", 0.025, "terminal's fraud rate 2.5% over the day before the last 7 days"},
        {"terminal_nb_tx_30day", 310,
         "310 transactions at the terminal over the 30 days before the last 7 days"},
        {"customer_terminal_new", 1, "first transaction of the card at this terminal"},
        {"customer_terminal_new", 0, "the card has used this terminal before"},
        {"tx_during_night", 1, "transaction at night (before 07:00)"},
        {"tx_during_weekend", 0, "transaction on a weekday"},
        {"tx_amount", 812.4, "amount 812.40"},
        {"customer_avg_amount_1day", 35.5, "the card's average amount over the last day is 35.50"},
        {"customer_secs_since_prev", 5400, "90 minutes since the card's previous transaction"},
        {"customer_secs_since_prev", 30, "30 seconds since the card's previous transaction"},
        {"customer_secs_since_prev", -1,
         "no earlier transaction of the card in the last 30 days"},
        {"customer_amount_z", 3.25, "amount 3.2 standard deviations from the card's 30 days mean"},
        {"customer_country_new", 1,
         "first transaction of the card in this country in the last 30 days"},
        {"customer_channel_new", 0, "the card has used this channel before"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tl_fraud_contribution c = {.feature = feature(m, cases[i].feature),
                                          .value = cases[i].value, .contribution = 1};
        char buf[200];
        tl_fraud_reason_text(m, &c, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].text, "%s", cases[i].feature);
    }
    /* a short buffer is cut, still terminated */
    struct tl_fraud_contribution c = {.feature = feature(m, "customer_nb_tx_3600s"), .value = 12};
    char small[8];
    tl_fraud_reason_text(m, &c, small, sizeof small);
    cr_assert_str_eq(small, "12 tran");
    tl_fraud_model_free(m);
    clear(&fx);
}

/* ---- training ---------------------------------------------------------------- */

/* The history of test_fraud_eval.c: 24 days of 30 genuine cards paying 3
 * times a day, a fresh card with one fraud of 500 every day from day 0,
 * c0/c1/c2 with a fraud on days 3, 7, 13. */
static char *write_history(const char *dir, bool no_late_frauds)
{
    size_t size = strlen(dir) + 32;
    char *path = malloc(size);
    snprintf(path, size, "%s/tx.csv", dir);
    FILE *fp = fopen(path, "w");
    cr_assert(fp);
    fprintf(fp, "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud\n");
    long id = 0;
    for (int d = -3; d <= 20; d++) {
        for (int k = 0; k < 3; k++)
            for (int c = 0; c < 30; c++) {
                int fraud = k == 1 && ((c == 0 && d == 3) || (c == 1 && d == 7) ||
                                       (c == 2 && d == 13)) &&
                            !(no_late_frauds && d >= 10);
                long cents = fraud ? 60000 : 1000 + (id * 7919) % 9100;
                fprintf(fp, "tx-%ld,2020-01-%02d %02d:%02d:%02d,c%d,t%d,%ld.%02ld,%d\n", id,
                        10 + d, 8 + 4 * k, c, c, c, (c + k + d + 10) % 10, cents / 100, cents % 100,
                        fraud);
                id++;
            }
        if (d >= 0 && !(no_late_frauds && d >= 10))
            fprintf(fp, "tx-%ld,2020-01-%02d 21:00:00,f%d,t%d,500.00,1\n", id++, 10 + d, d, d % 10);
    }
    fclose(fp);
    return path;
}

Test(fraud_model, trains_from_a_file_without_a_store)
{
    char *dir = tu_tmpdir();
    char *path = write_history(dir, false);
    struct tl_fraud_train_opts o = TL_FRAUD_TRAIN_OPTS_DEFAULT;
    o.data_path = path;
    o.no_register = true;
    o.nthread = 1;
    json_t *rep = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_train(NULL, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(json_integer_value(json_object_get(rep, "transactions")), 24 * 90 + 21);
    json_t *tr = json_object_get(rep, "train"), *va = json_object_get(rep, "valid");
    /* newest day 2020-01-30: training ends 7 days before the day after */
    cr_assert_str_eq(json_string_value(json_object_get(tr, "to")), "2020-01-24");
    cr_assert_str_eq(json_string_value(json_object_get(va, "from")), "2020-01-22");
    cr_assert_eq(json_integer_value(json_object_get(va, "frauds")), 3); /* f12, f13, c2 */
    cr_assert_gt(json_number_value(json_object_get(va, "auc")), 0.95);
    cr_assert(json_is_null(json_object_get(rep, "id")));
    cr_assert_eq(json_array_size(json_object_get(rep, "features")), 28);
    json_t *th = json_object_get(rep, "thresholds");
    double rv = json_number_value(json_object_get(th, "review"));
    double bl = json_number_value(json_object_get(th, "block"));
    cr_assert(rv > 0 && rv <= bl && bl <= 1, "%g %g", rv, bl);
    json_t *cb = json_object_get(rep, "combine");
    cr_assert_eq(json_array_size(json_object_get(cb, "candidates")), 4);
    json_decref(rep);

    /* registering needs a store */
    o.no_register = false;
    cr_assert_eq(tl_fraud_train(NULL, &o, &rep, &err), TL_EINVAL);
    /* validation days with no fraud: refused, naming the period */
    free(path);
    path = write_history(dir, true);
    o.data_path = path;
    o.no_register = true;
    cr_assert_eq(tl_fraud_train(NULL, &o, &rep, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "validation days 2020-01-22..2020-01-24"), "%s", err.msg);
    free(path);
    free(dir);
}

struct scan {
    size_t n, labelled, with_home;
    int64_t last_ts;
    char last_id[80];
};

static int on_tx(void *ud, const struct tl_fraud_tx *tx, tl_err *err)
{
    (void)err;
    struct scan *sc = ud;
    cr_assert(tx->ts_ms > sc->last_ts ||
                  (tx->ts_ms == sc->last_ts && strcmp(tx->id, sc->last_id) > 0),
              "(ts, id) order at %s", tx->id);
    cr_assert_gt(tx->amount_minor, 0);
    cr_assert(tx->card_id && tx->customer_id && tx->currency[0]);
    sc->last_ts = tx->ts_ms;
    snprintf(sc->last_id, sizeof sc->last_id, "%s", tx->id);
    sc->n++;
    sc->labelled += tx->label >= 0;
    sc->with_home += tx->home_country != NULL;
    return 0;
}

static int stop_at_third(void *ud, const struct tl_fraud_tx *tx, tl_err *err)
{
    (void)tx;
    if (++*(int *)ud == 3)
        return tl_err_set(err, TL_ECANCELED, "enough");
    return 0;
}

Test(fraud_model, trains_from_a_generated_bank_store_registers_and_scores, .timeout = 600)
{
    char *dir = tu_tmpdir();
    char out[1100], url[1100];
    snprintf(out, sizeof out, "%s/bank", dir);
    snprintf(url, sizeof url, "sqlite:%s/bank.db", dir);
    struct tl_generate_opts g = {.n_customers = 200, .seed = 11, .out_dir = out, .months = 8,
                                 .quiet = true};
    struct tl_generate_result res;
    tl_err err = {0};
    cr_assert_eq(tl_generate(&g, &res, &err), 0, "%s", err.msg);
    tl_config *cfg = tu_config(url, dir);
    tl_ctx *ctx;
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
    for (size_t t = 0; t < res.n_tables; t++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s.csv", out, res.tables[t]);
        struct tl_ingest_opts io = {.table = res.tables[t], .path = path, .quiet = true};
        struct tl_ingest_result ir;
        cr_assert_eq(tl_ingest_file(tl_ctx_store(ctx), &io, &ir, &err), 0, "%s: %s",
                     res.tables[t], err.msg);
    }
    /* the scan: card debits, time order, amounts positive */
    int64_t newest;
    cr_assert_eq(tl_fraud_store_newest_ms(ctx, &newest, &err), 0, "%s", err.msg);
    cr_assert_gt(newest, 0);
    struct scan scn = {.last_ts = INT64_MIN};
    cr_assert_eq(tl_fraud_scan_store(ctx, INT64_MIN, on_tx, &scn, &err), 0, "%s", err.msg);
    cr_assert_gt(scn.n, 20000, "more than one batch of 20000 rows: %zu", scn.n);
    cr_assert_eq(scn.labelled, scn.n, "the generator labels every card payment");
    cr_assert_eq(scn.with_home, scn.n);
    cr_assert_eq(scn.last_ts, newest);
    int calls = 0;
    cr_assert_eq(tl_fraud_scan_store(ctx, INT64_MIN, stop_at_third, &calls, &err), TL_ECANCELED);
    cr_assert_eq(calls, 3);

    struct tl_fraud_train_opts o = TL_FRAUD_TRAIN_OPTS_DEFAULT;
    o.nthread = 1;
    o.valid_days = 21;
    json_t *rep = NULL;
    cr_assert_eq(tl_fraud_train(ctx, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "source")), "store");
    cr_assert_str_eq(json_string_value(json_object_get(rep, "id")), "fraud-v1");
    cr_assert(json_is_true(json_object_get(rep, "promoted")));
    cr_assert_gt(json_number_value(json_object_get(json_object_get(rep, "valid"), "auc")), 0.7);
    json_decref(rep);
    struct tl_model_info info;
    cr_assert_eq(tl_registry_champion(ctx, "fraud", &info, &err), 0, "%s", err.msg);
    cr_assert_str_eq(info.id, "fraud-v1");
    cr_assert(json_is_object(json_object_get(info.metadata, "card")));
    cr_assert(json_is_object(json_object_get(json_object_get(info.metadata, "metrics"),
                                             "validation")));
    tl_model_info_clear(&info);

    /* a second training: a challenger, the champion stays */
    cr_assert_eq(tl_fraud_train(ctx, &o, &rep, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "id")), "fraud-v2");
    cr_assert(json_is_false(json_object_get(rep, "promoted")));
    json_decref(rep);

    tl_fraud_model *m;
    cr_assert_eq(tl_fraud_model_load(ctx, NULL, &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(tl_fraud_model_id(m), "fraud-v1");
    struct tl_stream_config sc;
    tl_fraud_model_stream_config(m, &sc);
    tl_stream *s;
    cr_assert_eq(tl_stream_new(&sc, &s, &err), 0, "%s", err.msg);
    struct tl_stream_tx tx = {.tx_id = "x1", .customer_id = "card-new", .terminal_id = "t1",
                              .ts_s = newest / 1000, .amount_cents = 99999, .label = -1};
    double f[TL_STREAM_MAX_FEATURES];
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    struct tl_fraud_score sco;
    tl_fraud_model_score(m, f, TL_FRAUD_REASONS_SHAP, &sco);
    cr_assert(sco.cold, "a card never seen is cold");
    cr_assert(sco.score >= 0 && sco.score <= 1);
    tl_stream_free(s);
    tl_fraud_model_free(m);
    cr_assert_eq(tl_fraud_model_load(ctx, "fraud-v9", &m, &err), TL_ENOTFOUND);
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    free(dir);
}
