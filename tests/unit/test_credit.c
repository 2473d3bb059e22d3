/*
 * test_credit.c - credit models: the points arithmetic, decisions and
 * reason codes (exact or approximate for trees), the artifact round trip
 * and tamper detection, fairness figures on a hand-made table, bad training
 * input, and a real training run on German credit (skipped visibly without
 * $TELLER_SHARED).
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <teller/credit.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;
static tl_config *cfg;
static tl_ctx *ctx;

static void setup(void)
{
    dir = tu_tmpdir();
    cr_assert_not_null(dir);
    tl_err err = {0};
    char url[1024];
    snprintf(url, sizeof url, "sqlite:%s/c.db", dir);
    cfg = tu_config(url, dir);
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    free(dir);
}

TestSuite(credit, .init = setup, .fini = teardown);

/* A synthetic table: risk (numeric, drives default), grade (A/B/C,
 * correlated), noise, age and sex (protected). Deterministic. */
static char *synthetic_csv(size_t n, bool one_class)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/synth.csv", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "risk,grade,noise,age,sex,bad\n");
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int risk = (int)((s >> 33) % 100);
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int noise = (int)((s >> 33) % 100);
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int jitter = (int)((s >> 33) % 60); /* unobserved: the label is not a step */
        int bad = one_class ? 0 : (risk + jitter > 100);
        const char *grade = risk < 30 ? "A" : risk < 70 ? "B" : "C";
        fprintf(fp, "%d,%s,%d,%d,%s,%d\n", risk, grade, noise, 20 + (int)(i % 50),
                i % 2 ? "f" : "m", bad);
    }
    fclose(fp);
    return strdup(path);
}

Test(credit, points_scaling_is_exact)
{
    /* odds 50:1 good:bad is PD 1/51: exactly the base */
    cr_assert_float_eq(tl_credit_points(1.0 / 51, 600, 50, 20), 600.0, 1e-9);
    /* doubling the good odds (100:1, PD 1/101) adds exactly pdo points */
    cr_assert_float_eq(tl_credit_points(1.0 / 101, 600, 50, 20), 620.0, 1e-9);
    /* halving them (25:1) takes pdo away; 1:1 is 600 - 20 * log2(50) */
    cr_assert_float_eq(tl_credit_points(1.0 / 26, 600, 50, 20), 580.0, 1e-9);
    cr_assert_float_eq(tl_credit_points(0.5, 600, 50, 20), 600.0 - 20 * log2(50.0), 1e-9);
    /* another scale: 500 at 20:1, 40 to double */
    cr_assert_float_eq(tl_credit_points(1.0 / 41, 500, 20, 40), 540.0, 1e-9);
}

Test(credit, protected_names_and_age_bands)
{
    cr_assert(tl_credit_is_protected_name("AGE"));
    cr_assert(tl_credit_is_protected_name("personal_status_sex"));
    cr_assert(tl_credit_is_protected_name("Marriage"));
    cr_assert_not(tl_credit_is_protected_name("duration_months"));
    cr_assert_not(tl_credit_is_protected_name("ages"));
    cr_assert_str_eq(tl_credit_age_band("24.9"), "<25");
    cr_assert_str_eq(tl_credit_age_band("25"), "25-34");
    cr_assert_str_eq(tl_credit_age_band("64"), "55-64");
    cr_assert_str_eq(tl_credit_age_band("65"), "65+");
    cr_assert_null(tl_credit_age_band("old"));
    cr_assert_null(tl_credit_age_band(NULL));
}

Test(credit, fairness_on_a_hand_made_table)
{
    /* group a: PD 0.1..1.0 with the five highest defaulting (AUC 1), 6
     * approved; group b: the same PDs with the five lowest defaulting (AUC 0),
     * 3 approved. Rates 0.6 and 0.3: adverse impact ratio 0.5, flagged. */
    const char *g[20];
    double pd[20];
    uint8_t y[20], ap[20];
    for (int i = 0; i < 20; i++) {
        int k = i % 10;
        g[i] = i < 10 ? "a" : "b";
        pd[i] = 0.1 * (k + 1);
        y[i] = i < 10 ? k >= 5 : k < 5;
        ap[i] = i < 10 ? k < 6 : k < 3;
    }
    json_t *out = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_credit_fairness("sex", g, pd, y, ap, 20, &out, &err), 0, "%s", err.msg);
    json_t *gs = json_object_get(out, "groups");
    cr_assert_eq(json_array_size(gs), 2);
    json_t *a = json_array_get(gs, 0), *b = json_array_get(gs, 1);
    cr_assert_str_eq(json_string_value(json_object_get(a, "group")), "a");
    cr_assert_float_eq(json_number_value(json_object_get(a, "approval_rate")), 0.6, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(b, "approval_rate")), 0.3, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(a, "auc")), 1.0, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(b, "auc")), 0.0, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(out, "adverse_impact_ratio")), 0.5, 1e-9);
    cr_assert(json_is_true(json_object_get(out, "flag")));
    json_decref(out);

    /* equal rates: ratio 1, not flagged */
    for (int i = 0; i < 20; i++)
        ap[i] = 1;
    cr_assert_eq(tl_credit_fairness("sex", g, pd, y, ap, 20, &out, &err), 0, "%s", err.msg);
    cr_assert_float_eq(json_number_value(json_object_get(out, "adverse_impact_ratio")), 1.0, 1e-9);
    cr_assert(json_is_false(json_object_get(out, "flag")));
    json_decref(out);
    /* a group below 10 rows has no AUC and stays out of the ratio: group a
     * alone (13 rows, all approved) against b (3 rows, none approved) */
    for (int i = 10; i < 20; i++)
        ap[i] = 0;
    for (int i = 10; i < 13; i++)
        g[i] = "a";
    cr_assert_eq(tl_credit_fairness("sex", g, pd, y, ap, 16, &out, &err), 0, "%s", err.msg);
    json_t *small = json_array_get(json_object_get(out, "groups"), 1);
    cr_assert(json_is_true(json_object_get(small, "small")));
    cr_assert(json_is_null(json_object_get(small, "auc")));
    cr_assert_float_eq(json_number_value(json_object_get(out, "adverse_impact_ratio")), 1.0, 1e-9);
    cr_assert(json_is_false(json_object_get(out, "flag")));
    json_decref(out);
}

static json_t *train(const char *path, enum tl_credit_algo algo, tl_err *err, int *rc)
{
    struct tl_credit_train_opts o = TL_CREDIT_TRAIN_OPTS_DEFAULT;
    o.data_path = path;
    o.label = "bad";
    o.positive = "1";
    o.algo = algo;
    json_t *rep = NULL;
    *rc = tl_credit_train(ctx, &o, &rep, err);
    return rep;
}

/* The model's input cells of one application, by name. */
static void cells_of(const tl_credit_model *m, const char *risk, const char *grade,
                     const char *noise, const char **cells)
{
    for (size_t j = 0; j < tl_credit_model_n_inputs(m); j++) {
        const char *n = tl_credit_model_input(m, j);
        cells[j] = strcmp(n, "risk") == 0 ? risk : strcmp(n, "grade") == 0 ? grade : noise;
    }
}

Test(credit, train_score_reasons_and_decisions)
{
    char *path = synthetic_csv(600, false);
    tl_err err = {0};
    int rc;
    json_t *rep = train(path, TL_CREDIT_ALL, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    /* the protected columns are found by name and kept out of the inputs */
    cr_assert_eq(json_array_size(json_object_get(rep, "protected")), 2);
    cr_assert_eq(json_array_size(json_object_get(rep, "models")), 3);
    cr_assert_not_null(json_string_value(json_object_get(rep, "promoted")));
    json_decref(rep);

    static const char *const ids[] = {"credit-v1", "credit-v2", "credit-v3"};
    static const enum tl_credit_algo algos[] = {TL_CREDIT_SCORECARD, TL_CREDIT_GBDT, TL_CREDIT_MLP};
    static const char *const methods[] = {"points", "shap", "occlusion"};
    for (int k = 0; k < 3; k++) {
        tl_credit_model *m = NULL;
        const char *id = ids[k];
        cr_assert_eq(tl_credit_model_load(ctx, id, &m, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_credit_model_algo(m), algos[k], "%s", id);
        cr_assert_eq(tl_credit_model_n_inputs(m), 3, "risk, grade, noise; not age or sex");
        for (size_t j = 0; j < 3; j++) {
            cr_assert_str_neq(tl_credit_model_input(m, j), "age");
            cr_assert_str_neq(tl_credit_model_input(m, j), "sex");
        }
        const char *cells[3];
        struct tl_credit_decision lo, hi;
        cells_of(m, "5", "A", "10", cells);
        cr_assert_eq(tl_credit_score_row(m, cells, &lo, &err), 0, "%s", err.msg);
        cells_of(m, "95", "C", "90", cells);
        cr_assert_eq(tl_credit_score_row(m, cells, &hi, &err), 0, "%s", err.msg);
        /* riskier: higher PD, fewer points; risk is the top reason */
        cr_assert_gt(hi.pd, lo.pd, "%s", id);
        cr_assert_lt(hi.score, lo.score, "%s", id);
        cr_assert_float_eq(hi.score, tl_credit_points(hi.pd, 600, 50, 20), 1e-6);
        cr_assert_geq(hi.n_reasons, 1);
        cr_assert_leq(hi.n_reasons, TL_CREDIT_MAX_REASONS);
        const char *top = tl_credit_model_input(m, hi.reasons[0].input);
        cr_assert(strcmp(top, "risk") == 0 || strcmp(top, "grade") == 0, "%s top reason %s", id, top);
        for (size_t r = 1; r < hi.n_reasons; r++)
            cr_assert_geq(hi.reasons[r - 1].impact, hi.reasons[r].impact, "largest first");
        for (size_t r = 0; r < hi.n_reasons; r++)
            cr_assert_gt(hi.reasons[r].impact, 0);
        /* the default cut-offs: approve below PD 0.15, decline from 0.40 */
        struct tl_credit_decision *d[2] = {&lo, &hi};
        for (int i = 0; i < 2; i++) {
            enum tl_credit_outcome want = d[i]->pd < 0.15   ? TL_CREDIT_APPROVE
                                          : d[i]->pd >= 0.4 ? TL_CREDIT_DECLINE
                                                            : TL_CREDIT_REFER;
            cr_assert_eq(d[i]->outcome, want, "%s pd %g", id, d[i]->pd);
        }
        /* an unseen category and a missing value still score */
        cells_of(m, NULL, "Z", "50", cells);
        struct tl_credit_decision u;
        cr_assert_eq(tl_credit_score_row(m, cells, &u, &err), 0, "%s", err.msg);
        cr_assert(u.pd > 0 && u.pd < 1);
        /* a cell that is not a number in a numeric column names it */
        cells_of(m, "lots", "A", "50", cells);
        cr_assert_eq(tl_credit_score_row(m, cells, &u, &err), TL_EINVAL);
        /* an infinity is refused too; NaN-like text is missing */
        cells_of(m, "inf", "A", "50", cells);
        cr_assert_eq(tl_credit_score_row(m, cells, &u, &err), TL_EINVAL, "%s", id);
        cells_of(m, NULL, NULL, NULL, cells);
        cr_assert_eq(tl_credit_score_row(m, cells, &u, &err), 0, "%s", err.msg);
        /* the JSON path gives the same PD and sentences for the reasons */
        json_t *app = json_pack("{s:i,s:s,s:i,s:s}", "risk", 95, "grade", "C", "noise", 90,
                                "unknown_member", "ignored");
        json_t *dj = NULL;
        cr_assert_eq(tl_credit_score_json(m, app, &dj, &err), 0, "%s", err.msg);
        cr_assert_float_eq(json_number_value(json_object_get(dj, "pd")), hi.pd, 1e-6);
        cr_assert_str_eq(json_string_value(json_object_get(dj, "decision")),
                         tl_credit_outcome_name(hi.outcome));
        cr_assert_eq(strlen(json_string_value(json_object_get(dj, "inputs_digest"))), 64);
        json_t *r0 = json_array_get(json_object_get(dj, "reasons"), 0);
        cr_assert_not_null(strstr(json_string_value(json_object_get(r0, "text")),
                                  "weighed against the application"));
        /* scorecard reasons are points below the best bin; trees' are SHAP by default */
        cr_assert_str_eq(json_string_value(json_object_get(dj, "reasons_method")), methods[k]);
        json_decref(dj);
        json_decref(app);
        tl_credit_model_free(m);
    }
    free(path);
}

Test(credit, cutoffs_from_the_configuration)
{
    char *path = synthetic_csv(600, false);
    tl_err err = {0};
    int rc;
    json_decref(train(path, TL_CREDIT_SCORECARD, &err, &rc));
    cr_assert_eq(rc, 0, "%s", err.msg);
    /* decide on the score: approve from 600, decline below 560 */
    cr_assert_eq(tl_config_set(cfg, "credit.decide_on", "score", TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_config_set(cfg, "credit.approve_min_score", "600", TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_config_set(cfg, "credit.decline_max_score", "560", TL_CONFIG_FLAG, &err), 0);
    tl_credit_model *m = NULL;
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &m, &err), 0, "%s", err.msg);
    int seen[3] = {0};
    for (int risk = 0; risk < 100; risk += 3) {
        char r[8];
        snprintf(r, sizeof r, "%d", risk);
        const char *cells[3];
        cells_of(m, r, risk < 30 ? "A" : risk < 70 ? "B" : "C", "50", cells);
        struct tl_credit_decision d;
        cr_assert_eq(tl_credit_score_row(m, cells, &d, &err), 0, "%s", err.msg);
        enum tl_credit_outcome want = d.score >= 600  ? TL_CREDIT_APPROVE
                                      : d.score < 560 ? TL_CREDIT_DECLINE
                                                      : TL_CREDIT_REFER;
        cr_assert_eq(d.outcome, want, "score %g", d.score);
        seen[d.outcome]++;
    }
    cr_assert(seen[TL_CREDIT_DECLINE] > 0);
    tl_credit_model_free(m);
    /* cut-offs out of order are refused at load, naming the keys */
    cr_assert_eq(tl_config_set(cfg, "credit.decline_max_score", "700", TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &m, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "credit.decline_max_score"), "%s", err.msg);
    free(path);
}

Test(credit, artifact_round_trip_and_tampering)
{
    char *path = synthetic_csv(600, false);
    tl_err err = {0};
    int rc;
    json_decref(train(path, TL_CREDIT_ALL, &err, &rc));
    cr_assert_eq(rc, 0, "%s", err.msg);
    for (int k = 1; k <= 3; k++) {
        char id[16];
        snprintf(id, sizeof id, "credit-v%d", k);
        char *bytes = NULL;
        size_t len = 0;
        cr_assert_eq(tl_registry_artifact(ctx, id, &bytes, &len, &err), 0, "%s", err.msg);
        tl_credit_model *a = NULL, *b = NULL;
        cr_assert_eq(tl_credit_model_from_artifact(bytes, len, id, &a, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_credit_model_load(ctx, id, &b, &err), 0, "%s", err.msg);
        const char *cells[3];
        cells_of(a, "77", "C", "12", cells);
        struct tl_credit_decision da, db;
        cr_assert_eq(tl_credit_score_row(a, cells, &da, &err), 0);
        cr_assert_eq(tl_credit_score_row(b, cells, &db, &err), 0);
        cr_assert_eq(da.pd, db.pd, "the same bytes score the same");
        tl_credit_model_free(a);
        tl_credit_model_free(b);

        /* truncated */
        cr_assert_eq(tl_credit_model_from_artifact(bytes, len / 2, id, &a, &err), TL_EPARSE);
        cr_assert_not_null(strstr(err.msg, id), "%s", err.msg);
        /* a part altered: the format tag, then the scaling */
        char *t = strdup(bytes);
        char *p = strstr(t, "teller-credit");
        cr_assert_not_null(p);
        p[0] = 'T';
        cr_assert_eq(tl_credit_model_from_artifact(t, len, id, &a, &err), TL_EPARSE);
        cr_assert_not_null(strstr(err.msg, "format"), "%s", err.msg);
        free(t);
        t = strdup(bytes);
        p = strstr(t, "\"pdo\":");
        cr_assert_not_null(p);
        memcpy(p + 6, "-1", 2);
        cr_assert_eq(tl_credit_model_from_artifact(t, len, id, &a, &err), TL_EPARSE);
        cr_assert_not_null(strstr(err.msg, "scaling"), "%s", err.msg);
        free(t);
        /* the encoder of another shape */
        t = strdup(bytes);
        p = strstr(t, "\"encoder\":");
        cr_assert_not_null(p);
        memcpy(p + 1, "encodex", 7);
        cr_assert_eq(tl_credit_model_from_artifact(t, len, id, &a, &err), TL_EPARSE);
        cr_assert_not_null(strstr(err.msg, "encoder"), "%s", err.msg);
        free(t);
        /* the model part itself damaged: a byte of the base64 changed */
        const char *part = k == 2 ? "\"gbdt\":\"" : k == 3 ? "\"mlp\":\"" : NULL;
        if (part) {
            t = strdup(bytes);
            p = strstr(t, part);
            cr_assert_not_null(p, "%s", id);
            p[strlen(part) + 2] = '*';
            cr_assert_eq(tl_credit_model_from_artifact(t, len, id, &a, &err), TL_EPARSE, "%s", id);
            cr_assert_not_null(strstr(err.msg, k == 2 ? "gbdt" : "mlp"), "%s", err.msg);
            free(t);
            /* valid base64 of other bytes: the part's own checks name it */
            t = strdup(bytes);
            p = strstr(t, part);
            memcpy(p + strlen(part), "QUJD", 4);
            cr_assert_eq(tl_credit_model_from_artifact(t, len, id, &a, &err), TL_EPARSE, "%s", id);
            cr_assert_not_null(strstr(err.msg, k == 2 ? "gbdt" : "mlp"), "%s", err.msg);
            free(t);
        }
        free(bytes);
    }
    free(path);
}

Test(credit, bad_training_input)
{
    tl_err err = {0};
    int rc;
    char *path = synthetic_csv(200, true);
    /* a label with one class */
    json_t *rep = train(path, TL_CREDIT_SCORECARD, &err, &rc);
    cr_assert_eq(rc, TL_EINVAL);
    cr_assert_null(rep);
    free(path);
    path = synthetic_csv(200, false);
    /* a missing label column */
    struct tl_credit_train_opts o = TL_CREDIT_TRAIN_OPTS_DEFAULT;
    o.data_path = path;
    o.label = "nope";
    cr_assert_eq(tl_credit_train(ctx, &o, &rep, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "nope"), "%s", err.msg);
    /* --allow-protected of a column that is not protected */
    o.label = "bad";
    o.positive = "1";
    const char *allow[] = {"risk"};
    o.allow_protected = allow;
    o.n_allow_protected = 1;
    cr_assert_eq(tl_credit_train(ctx, &o, &rep, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "risk"), "%s", err.msg);
    /* --protected of a column that does not exist */
    o.n_allow_protected = 0;
    const char *prot[] = {"zip"};
    o.protected_cols = prot;
    o.n_protected = 1;
    cr_assert_eq(tl_credit_train(ctx, &o, &rep, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "zip"), "%s", err.msg);
    /* no model yet: scoring says so */
    tl_credit_model *m = NULL;
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &m, &err), TL_ENOTFOUND);
    free(path);
}

Test(credit, german_credit_trains_above_a_floor, .timeout = 120)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/german_credit/dev.csv", tu_shared_dir());
    if (access(path, R_OK) != 0)
        cr_skip_test("German credit data not found at %s (set TELLER_SHARED)", path);
    struct tl_credit_train_opts o = TL_CREDIT_TRAIN_OPTS_DEFAULT;
    o.data_path = path;
    o.label = "class";
    o.positive = "2";
    json_t *rep = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_credit_train(ctx, &o, &rep, &err), 0, "%s", err.msg);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(rep, "models"), i, m) {
        double auc = json_number_value(json_object_get(json_object_get(m, "valid"), "auc"));
        /* validation AUC on 160 held-out rows; the anchors' 5-fold CV AUC is
         * 0.766 (LR) and 0.777 (XGBoost) with every column */
        cr_assert_gt(auc, 0.72, "%s AUC %g", json_string_value(json_object_get(m, "algo")), auc);
        json_t *card = json_object_get(m, "card");
        cr_assert_not_null(json_object_get(card, "intended_use"));
        /* 800 rows: train cross-validates by default, on 5 folds */
        json_t *cv = json_object_get(m, "cv");
        cr_assert_eq(json_array_size(json_object_get(cv, "auc_folds")), 5);
        cr_assert_gt(json_number_value(json_object_get(cv, "auc_mean")), 0.72);
        cr_assert_eq(json_array_size(json_object_get(m, "fairness")), 3,
                     "personal_status_sex, age_years, foreign_worker");
        /* the card writes the fairness groups out as rows, 8 or more here */
        cr_assert_gt(json_array_size(json_object_get(card, "fairness")), 6);
        cr_assert_not_null(json_object_get(json_object_get(card, "metrics"), "5-fold CV AUC"));
        if (strcmp(json_string_value(json_object_get(m, "algo")), "scorecard") == 0)
            cr_assert_gt(json_array_size(json_object_get(card, "points")), 20);
        /* the training time of the model and of a CV fold, search included */
        cr_assert_gt(json_number_value(json_object_get(m, "train_s")), 0);
        cr_assert_gt(json_number_value(json_object_get(cv, "train_s")), 0);
        if (strcmp(json_string_value(json_object_get(m, "algo")), "gbdt") == 0) {
            /* 800 rows: the trees' search validates on 5 splits and bags
             * their 5 models into one booster */
            json_t *hp = json_object_get(m, "hyperparameters");
            cr_assert_eq(json_integer_value(json_object_get(hp, "bag")), 5);
            cr_assert_geq(json_integer_value(json_object_get(hp, "trees")), 5);
        }
    }
    struct tl_model_info champ = {0};
    cr_assert_eq(tl_registry_champion(ctx, "credit", &champ, &err), 0, "%s", err.msg);
    cr_assert_str_eq(champ.id, json_string_value(json_object_get(rep, "promoted")));
    tl_model_info_clear(&champ);
    json_decref(rep);
}

Test(credit, reason_sentences_from_a_file)
{
    char *path = synthetic_csv(600, false);
    char *rf = tu_write_file(dir, "reasons.json", "{\"risk\": \"A risk rating of {value} is high.\"}");
    tl_err err = {0};
    cr_assert_eq(tl_config_set(cfg, "credit.reasons_file", rf, TL_CONFIG_FLAG, &err), 0);
    int rc;
    json_decref(train(path, TL_CREDIT_SCORECARD, &err, &rc));
    cr_assert_eq(rc, 0, "%s", err.msg);
    tl_credit_model *m = NULL;
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &m, &err), 0, "%s", err.msg);
    size_t risk = 0, grade = 0;
    for (size_t j = 0; j < tl_credit_model_n_inputs(m); j++) {
        if (strcmp(tl_credit_model_input(m, j), "risk") == 0)
            risk = j;
        if (strcmp(tl_credit_model_input(m, j), "grade") == 0)
            grade = j;
    }
    char buf[128];
    tl_credit_reason_text(m, risk, "95", buf, sizeof buf);
    cr_assert_str_eq(buf, "A risk rating of 95 is high.");
    /* a column without a template: the sentence from its name */
    tl_credit_reason_text(m, grade, "C", buf, sizeof buf);
    cr_assert_str_eq(buf, "Grade (C) weighed against the application.");
    tl_credit_reason_text(m, grade, NULL, buf, sizeof buf);
    cr_assert_str_eq(buf, "Grade (missing) weighed against the application.");
    /* truncated to the buffer, NUL-terminated */
    tl_credit_reason_text(m, risk, "95", buf, 8);
    cr_assert_str_eq(buf, "A risk ");
    tl_credit_model_free(m);
    /* a reasons file that is not an object of strings is refused at training */
    char *bad = tu_write_file(dir, "bad.json", "{\"risk\": 3}");
    cr_assert_eq(tl_config_set(cfg, "credit.reasons_file", bad, TL_CONFIG_FLAG, &err), 0);
    json_decref(train(path, TL_CREDIT_SCORECARD, &err, &rc));
    cr_assert_eq(rc, TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "risk"), "%s", err.msg);
    free(bad);
    free(rf);
    free(path);
}

Test(credit, many_levels_and_isotonic_calibration)
{
    /* a categorical of 300 levels over 2,400 rows (about 8 rows each, under
     * the 10 a one-hot level needs): it folds into one "other" level for the
     * trees and merged bins for the scorecard, and a level never seen scores.
     * (A column with more levels than half the rows is ID-like and left out,
     * as the bad-input cases of credit.sh show.) */
    char p[1024];
    snprintf(p, sizeof p, "%s/levels.csv", dir);
    FILE *fp = fopen(p, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "risk,zip,bad\n");
    uint64_t s = 99;
    for (int i = 0; i < 2400; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int risk = (int)((s >> 33) % 100), jitter = (int)((s >> 20) % 60);
        fprintf(fp, "%d,Z%04d,%d\n", risk, (int)((s >> 40) % 300), risk + jitter > 100);
    }
    fclose(fp);
    tl_err err = {0};
    cr_assert_eq(tl_config_set(cfg, "credit.calibration", "isotonic", TL_CONFIG_FLAG, &err), 0);
    int rc;
    json_t *rep = train(p, TL_CREDIT_BOTH, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    json_t *gb = json_array_get(json_object_get(rep, "models"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(gb, "hyperparameters"),
                                                       "calibration")),
                     "isotonic");
    json_decref(rep);
    for (int k = 1; k <= 2; k++) {
        tl_credit_model *m = NULL;
        cr_assert_eq(tl_credit_model_load(ctx, k == 1 ? "credit-v1" : "credit-v2", &m, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(tl_credit_model_n_inputs(m), 2, "risk and zip");
        const char *cells[2];
        double last = -1;
        for (int risk = 0; risk <= 99; risk += 11) {
            char r[8];
            snprintf(r, sizeof r, "%d", risk);
            for (size_t j = 0; j < tl_credit_model_n_inputs(m); j++)
                cells[j] = strcmp(tl_credit_model_input(m, j), "risk") == 0 ? r : "NEWZIP";
            struct tl_credit_decision d;
            cr_assert_eq(tl_credit_score_row(m, cells, &d, &err), 0, "%s", err.msg);
            cr_assert(d.pd > 0 && d.pd < 1);
            /* isotonic is monotone: more risk never lowers the PD much */
            cr_assert_geq(d.pd, last - 0.05, "risk %d pd %g after %g", risk, d.pd, last);
            last = d.pd;
        }
        tl_credit_model_free(m);
    }
}

/* credit.reasons = approx: the same model, loaded again under that setting,
 * gives the same PD and the same shape of reasons (four, positive, largest
 * first) from the approximate contributions, and the decision says which
 * method produced them. Five columns raise the risk (a..e), one does not
 * (f), so a risky application has four positive reasons either way. */
Test(credit, approximate_reasons_from_the_configuration)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/six.csv", dir);
    FILE *fp = fopen(p, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "a,b,c,d,e,f,bad\n");
    uint64_t s = 7;
    for (int i = 0; i < 1500; i++) {
        int v[7], sum = 0;
        for (int k = 0; k < 7; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            v[k] = (int)((s >> 33) % 100);
        }
        for (int k = 0; k < 5; k++)
            sum += v[k];
        fprintf(fp, "%d,%d,%d,%d,%d,%d,%d\n", v[0], v[1], v[2], v[3], v[4], v[5],
                sum + v[6] * 2 > 330);
    }
    fclose(fp);
    tl_err err = {0};
    int rc;
    json_decref(train(p, TL_CREDIT_GBDT, &err, &rc));
    cr_assert_eq(rc, 0, "%s", err.msg);

    tl_credit_model *exact = NULL, *approx = NULL;
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &exact, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "credit.reasons", "approx", TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &approx, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_credit_model_n_inputs(approx), 6);

    /* risky applications: a..e high, f anywhere */
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        char val[6][8];
        const char *cells[6];
        for (size_t j = 0; j < 6; j++) {
            const char *n = tl_credit_model_input(approx, j);
            int x = n[0] == 'f' ? (i * 37) % 100 : 70 + (i * 7 + (int)j * 13) % 30;
            snprintf(val[j], sizeof val[j], "%d", x);
            cells[j] = val[j];
        }
        struct tl_credit_decision de, da;
        cr_assert_eq(tl_credit_score_row(exact, cells, &de, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_credit_score_row(approx, cells, &da, &err), 0, "%s", err.msg);
        /* both sum to the margin: the PD and the decision do not change */
        cr_assert_float_eq(da.margin, de.margin, 1e-9, "application %d", i);
        cr_assert_eq(da.outcome, de.outcome);
        const struct tl_credit_decision *d[2] = {&de, &da};
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(d[k]->n_reasons, TL_CREDIT_MAX_REASONS, "application %d, %s: %zu reasons", i,
                         k ? "approx" : "shap", d[k]->n_reasons);
            for (size_t r = 0; r < d[k]->n_reasons; r++) {
                cr_assert_gt(d[k]->reasons[r].impact, 0);
                cr_assert_lt(d[k]->reasons[r].input, 6);
                if (r > 0)
                    cr_assert_geq(d[k]->reasons[r - 1].impact, d[k]->reasons[r].impact, "largest first");
            }
        }
        for (size_t r = 0; r < TL_CREDIT_MAX_REASONS; r++)
            differ += fabs(da.reasons[r].impact - de.reasons[r].impact) > 1e-9;
    }
    /* the setting took effect: other attributions, not SHAP's again */
    cr_assert_gt(differ, 0, "approx reasons equal the SHAP ones everywhere");

    /* the JSON decision names the method */
    json_t *app = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "a", 90, "b", 85, "c", 95, "d", 80, "e",
                            88, "f", 10);
    json_t *dj = NULL;
    cr_assert_eq(tl_credit_score_json(approx, app, &dj, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(dj, "reasons_method")), "approx");
    cr_assert_eq(json_array_size(json_object_get(dj, "reasons")), TL_CREDIT_MAX_REASONS);
    json_decref(dj);
    cr_assert_eq(tl_credit_score_json(exact, app, &dj, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(dj, "reasons_method")), "shap");
    json_decref(dj);
    json_decref(app);
    tl_credit_model_free(exact);
    tl_credit_model_free(approx);

    /* another value is refused at load, naming the key */
    cr_assert_eq(tl_config_set(cfg, "credit.reasons", "fast", TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    tl_credit_model *m = NULL;
    cr_assert_eq(tl_credit_model_load(ctx, NULL, &m, &err), TL_EINVAL);
    cr_assert_null(m);
    cr_assert_not_null(strstr(err.msg, "credit.reasons"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "fast"), "%s", err.msg);
}
