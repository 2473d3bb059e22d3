/* test_ml_gbdt.c - gradient-boosted trees: training through XGBoost, our own
 * tree walk, TreeSHAP and approximate contributions against XGBoost's
 * predictions, early stopping,
 * save/load and damaged model bytes. Uses the Taiwan default data set
 * ($TELLER_SHARED/data/taiwan_default/dev.csv) and skips without it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include <teller/ml_models.h>

#include "testutil.h"

#define NF 23 /* features: every column but ID and the label */

struct data {
    float *X; /* (n, NF) */
    uint8_t *y;
    size_t n;
};

/* Reads the numeric CSV; a simple parser is enough (no quotes, no blanks).
 * About 4 % of the cells of columns 0, 5, 11 and 17 become NaN so missing
 * values take part in training, margins and contributions. */
static struct data load_taiwan(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data/taiwan_default/dev.csv", tu_shared_dir());
    FILE *fp = fopen(path, "r");
    if (!fp)
        cr_skip_test("%s is absent: the GBDT tests need the shared data sets", path);
    struct data d = {.X = malloc(24000 * NF * sizeof(float)), .y = malloc(24000)};
    char *line = NULL;
    size_t cap = 0;
    cr_assert(getline(&line, &cap, fp) > 0, "header");
    uint64_t s = 42;
    while (getline(&line, &cap, fp) > 0 && d.n < 24000) {
        char *p = line, *end;
        double v[NF + 2];
        for (int k = 0; k < NF + 2; k++) {
            v[k] = strtod(p, &end);
            cr_assert(end != p, "%s: row %zu field %d", path, d.n + 2, k);
            p = end + (*end == ',');
        }
        for (int k = 0; k < NF; k++) {
            float x = (float)v[k + 1];
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            if ((k == 0 || k == 5 || k == 11 || k == 17) && (s >> 33) % 25 == 0)
                x = NAN;
            d.X[d.n * NF + k] = x;
        }
        d.y[d.n] = v[NF + 1] != 0;
        d.n++;
    }
    free(line);
    fclose(fp);
    cr_assert_eq(d.n, 24000, "%s has %zu rows", path, d.n);
    return d;
}

static void free_data(struct data *d)
{
    free(d->X);
    free(d->y);
}

/* XGBoost's own booster over the bytes tl_gbdt_save wrote. */
static BoosterHandle xgb_load(const tl_gbdt *m)
{
    char *buf;
    size_t len;
    tl_err err = {0};
    cr_assert_eq(tl_gbdt_save(m, &buf, &len, &err), 0, "%s", err.msg);
    BoosterHandle b;
    cr_assert_eq(XGBoosterCreate(NULL, 0, &b), 0);
    cr_assert_eq(XGBoosterLoadModelFromBuffer(b, buf, len), 0, "%s", XGBGetLastError());
    free(buf);
    return b;
}

/* XGBoost's predictions of type 0 (probability), 1 (margin), 2
 * (contributions) or 3 (approximate contributions) for rows X[0..n),
 * copied to a malloc'ed array. */
static float *xgb_predict(BoosterHandle b, const float *X, size_t n, int type, int iteration_end)
{
    DMatrixHandle dm;
    cr_assert_eq(XGDMatrixCreateFromMat(X, n, NF, NAN, &dm), 0);
    char cfg[200];
    snprintf(cfg, sizeof cfg, "{\"type\":%d,\"training\":false,\"iteration_begin\":0,"
             "\"iteration_end\":%d,\"strict_shape\":false}", type, iteration_end);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    cr_assert_eq(XGBoosterPredictFromDMatrix(b, dm, cfg, &shape, &dim, &res), 0, "%s", XGBGetLastError());
    size_t total = 1;
    for (bst_ulong k = 0; k < dim; k++)
        total *= shape[k];
    cr_assert_eq(total, n * (type == 2 || type == 3 ? NF + 1 : 1));
    float *out = malloc(total * sizeof *out);
    memcpy(out, res, total * sizeof *out);
    XGDMatrixFree(dm);
    return out;
}

static tl_gbdt *train(const struct data *d, size_t n, size_t nv, struct tl_gbdt_opts o)
{
    tl_gbdt *m = NULL;
    tl_err err = {0};
    o.nthread = 2;
    const float *Xv = nv ? d->X + n * NF : NULL;
    const uint8_t *yv = nv ? d->y + n : NULL;
    cr_assert_eq(tl_gbdt_train(d->X, d->y, n, NF, Xv, yv, nv, &o, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_gbdt_dim(m), NF);
    return m;
}

static struct tl_gbdt_opts quick_opts(int rounds, int depth)
{
    struct tl_gbdt_opts o = TL_GBDT_OPTS_DEFAULT;
    o.max_rounds = rounds;
    o.max_depth = depth;
    o.eta = 0.1;
    return o;
}

/* Our tree walk against XGBoost's output_margin prediction, our TreeSHAP
 * against its pred_contribs and our approximate contributions against its
 * pred_contribs with approx_contribs, on held-out rows (with NaNs). */
Test(gbdt, margins_and_contribs_match_xgboost)
{
    struct data d = load_taiwan();
    tl_gbdt *m = train(&d, 6000, 0, quick_opts(150, 5));
    cr_assert_eq(tl_gbdt_rounds(m), 150, "no validation set: every round is kept");
    BoosterHandle b = xgb_load(m);
    enum { NT = 1500 };
    const float *X = d.X + 20000 * NF;
    float *want = xgb_predict(b, X, NT, 1, 0);
    float *want_phi = xgb_predict(b, X, NT, 2, 0);
    float *want_apx = xgb_predict(b, X, NT, 3, 0);
    double *got = malloc(NT * sizeof *got);
    tl_gbdt_margins(m, X, NT, got);
    int nan_rows = 0;
    double max_m = 0, max_phi = 0, max_apx = 0;
    int rank_differs = 0;
    for (size_t i = 0; i < NT; i++) {
        const float *x = X + i * NF;
        for (int k = 0; k < NF; k++)
            if (isnan(x[k])) {
                nan_rows++;
                break;
            }
        double mg = tl_gbdt_margin(m, x);
        cr_assert_eq(mg, got[i], "tl_gbdt_margins row %zu", i);
        max_m = fmax(max_m, fabs(mg - want[i]));
        cr_assert(fabs(mg - want[i]) < 1e-5, "row %zu: margin %.9f, XGBoost %.9f", i, mg, want[i]);
        double phi[NF + 1], sum = 0;
        tl_gbdt_contribs(m, x, phi);
        for (int k = 0; k <= NF; k++) {
            sum += phi[k];
            max_phi = fmax(max_phi, fabs(phi[k] - want_phi[i * (NF + 1) + k]));
            cr_assert(fabs(phi[k] - want_phi[i * (NF + 1) + k]) < 1e-4, "row %zu: phi[%d] %.9f, XGBoost %.9f",
                      i, k, phi[k], want_phi[i * (NF + 1) + k]);
        }
        cr_assert(fabs(sum - mg) < 1e-9, "row %zu: contributions sum to %.12f, margin %.12f", i, sum, mg);
        double apx[NF + 1], asum = 0;
        tl_gbdt_contribs_approx(m, x, apx);
        int top_phi = 0, top_apx = 0;
        for (int k = 0; k <= NF; k++) {
            float w = want_apx[i * (NF + 1) + k];
            asum += apx[k];
            max_apx = fmax(max_apx, fabs(apx[k] - w));
            cr_assert(fabs(apx[k] - w) < 1e-5, "row %zu: approx phi[%d] %.9f, XGBoost %.9f", i, k, apx[k], w);
            if (k < NF && apx[k] > apx[top_apx])
                top_apx = k;
            if (k < NF && phi[k] > phi[top_phi])
                top_phi = k;
        }
        cr_assert(fabs(asum - mg) < 1e-9, "row %zu: approx contributions sum to %.12f, margin %.12f", i, asum,
                  mg);
        cr_assert_eq(apx[NF], phi[NF], "row %zu: both methods have the same bias", i);
        rank_differs += top_phi != top_apx;
        if (i < 200) { /* a missing feature takes no share */
            for (int k = 0; k < NF; k++)
                if (isnan(x[k]) && phi[k] != 0 && want_phi[i * (NF + 1) + k] == 0)
                    cr_assert_fail("row %zu: missing feature %d got %g", i, k, phi[k]);
        }
    }
    cr_expect_gt(nan_rows, 100, "the test rows hold missing values");
    cr_log_info("max |margin - XGBoost| %.3g, max |phi - XGBoost| %.3g, max |approx - XGBoost| %.3g, "
                "top feature differs in %d of %d rows", max_m, max_phi, max_apx, rank_differs, NT);
    /* Not SHAP: on some rows the two disagree on the top feature. */
    cr_expect_gt(rank_differs, 0, "approximate and exact contributions never disagree on the top");
    free(got);
    free(want);
    free(want_phi);
    free(want_apx);
    XGBoosterFree(b);
    tl_gbdt_free(m);
    free_data(&d);
}

/* Early stopping keeps the rounds up to the best validation log loss. With
 * no sampling the run is deterministic, so a model trained for all rounds
 * without validation has the same trees: its validation log loss after
 * each round (from XGBoost) must be lowest at the kept round count. */
Test(gbdt, early_stopping_keeps_the_best_round)
{
    struct data d = load_taiwan();
    struct tl_gbdt_opts o = quick_opts(400, 4);
    o.eta = 0.3;
    o.subsample = 1;
    o.colsample = 1;
    o.early_stopping = 15;
    enum { N = 5000, NV = 2000 };
    tl_gbdt *es = train(&d, N, NV, o);
    int kept = tl_gbdt_rounds(es);
    cr_assert(kept >= 1 && kept < 400 - 15, "kept %d rounds: early stopping did not stop", kept);

    o.early_stopping = 0;
    o.max_rounds = kept + 15;
    tl_gbdt *full = train(&d, N, 0, o);
    cr_assert_eq(tl_gbdt_rounds(full), kept + 15);
    BoosterHandle b = xgb_load(full), bes = xgb_load(es);
    const float *Xv = d.X + N * NF;
    const uint8_t *yv = d.y + N;
    int best = 0;
    double best_loss = INFINITY, kept_loss = NAN;
    for (int r = 1; r <= kept + 15; r++) {
        float *p = xgb_predict(b, Xv, NV, 0, r);
        double loss = 0;
        for (size_t i = 0; i < NV; i++) {
            double q = fmin(fmax(p[i], 1e-15), 1 - 1e-15);
            loss -= yv[i] ? log(q) : log(1 - q);
        }
        loss /= NV;
        if (r == kept)
            kept_loss = loss;
        if (loss < best_loss) {
            best_loss = loss;
            best = r;
        }
        free(p);
    }
    /* XGBoost's evaluation text has 6 digits: a near tie may go either way. */
    cr_expect(kept_loss <= best_loss + 2e-6, "lowest validation loss %.8f after %d rounds, kept %d "
              "with %.8f", best_loss, best, kept, kept_loss);
    /* The kept model is the first `kept` rounds of the full one. */
    float *a = xgb_predict(b, Xv, 300, 1, kept);
    double mg[300];
    tl_gbdt_margins(es, Xv, 300, mg);
    for (int i = 0; i < 300; i++)
        cr_assert(fabs(mg[i] - a[i]) < 1e-5, "row %d: %.9f vs %.9f", i, mg[i], a[i]);
    int rounds = 0;
    cr_assert_eq(XGBoosterBoostedRounds(bes, &rounds), 0);
    cr_expect_eq(rounds, kept, "the saved bytes hold only the kept trees");
    free(a);
    XGBoosterFree(b);
    XGBoosterFree(bes);
    tl_gbdt_free(es);
    tl_gbdt_free(full);
    free_data(&d);
}

Test(gbdt, save_load_round_trip_and_importance)
{
    struct data d = load_taiwan();
    tl_gbdt *m = train(&d, 4000, 1000, quick_opts(60, 3));
    char *buf, *buf2;
    size_t len, len2;
    tl_err err = {0};
    cr_assert_eq(tl_gbdt_save(m, &buf, &len, &err), 0, "%s", err.msg);
    tl_gbdt *back = NULL;
    cr_assert_eq(tl_gbdt_load(buf, len, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_gbdt_rounds(back), tl_gbdt_rounds(m));
    cr_assert_eq(tl_gbdt_dim(back), NF);
    for (size_t i = 0; i < 500; i++) {
        const float *x = d.X + (10000 + i) * NF;
        cr_assert_eq(tl_gbdt_margin(back, x), tl_gbdt_margin(m, x));
    }
    cr_assert_eq(tl_gbdt_save(back, &buf2, &len2, &err), 0, "%s", err.msg);
    cr_assert_eq(len2, len);
    cr_assert(memcmp(buf, buf2, len) == 0, "save(load(bytes)) == bytes");

    /* Gain importance equals XGBoost's total_gain. */
    double imp[NF];
    tl_gbdt_importance(m, imp);
    BoosterHandle b = xgb_load(m);
    bst_ulong n_names, n_dim;
    const char **names;
    const bst_ulong *shape;
    const float *scores;
    cr_assert_eq(XGBoosterFeatureScore(b, "{\"importance_type\":\"total_gain\"}", &n_names, &names, &n_dim,
                                       &shape, &scores), 0, "%s", XGBGetLastError());
    cr_assert_gt(n_names, 0);
    double listed = 0, total = 0;
    for (bst_ulong k = 0; k < n_names; k++) {
        int f = (int)strtol(names[k] + 1, NULL, 10); /* "f12" */
        cr_assert(f >= 0 && f < NF, "%s", names[k]);
        cr_expect(fabs(imp[f] - scores[k]) <= 1e-4 * scores[k], "feature %d: %g vs XGBoost %g", f, imp[f],
                  (double)scores[k]);
        listed += imp[f];
    }
    for (int f = 0; f < NF; f++)
        total += imp[f];
    cr_expect(fabs(total - listed) < 1e-9, "features XGBoost does not list have no gain");
    XGBoosterFree(b);
    free(buf);
    free(buf2);
    tl_gbdt_free(m);
    tl_gbdt_free(back);
    free_data(&d);
}

/* Small model bytes to damage. */
static char *small_model(size_t *len)
{
    struct data d = load_taiwan();
    tl_gbdt *m = train(&d, 2000, 0, quick_opts(6, 3));
    char *buf;
    tl_err err = {0};
    cr_assert_eq(tl_gbdt_save(m, &buf, len, &err), 0, "%s", err.msg);
    tl_gbdt_free(m);
    free_data(&d);
    return buf;
}

static void expect_eparse(const char *buf, size_t len, const char *what)
{
    tl_gbdt *m = NULL;
    tl_err err = {0};
    int rc = tl_gbdt_load(buf, len, &m, &err);
    cr_expect_eq(rc, TL_EPARSE, "%s: rc %d (%s)", what, rc, err.msg);
    cr_expect_null(m, "%s", what);
    cr_expect_gt(strlen(err.msg), 0, "%s", what);
    tl_gbdt_free(m);
}

Test(gbdt, truncated_bytes_are_eparse)
{
    size_t len;
    char *buf = small_model(&len);
    for (size_t cut = 0; cut < len; cut += len / 97 + 1)
        expect_eparse(buf, cut, "truncated");
    expect_eparse(buf, len - 1, "last byte cut");
    free(buf);
}

/* The bytes with the first occurrence of from (at or after key) replaced by
 * to; a malloc'ed NUL-terminated string. */
static char *altered(const char *buf, size_t len, const char *key, const char *from, const char *to)
{
    char *c = malloc(len + 1);
    memcpy(c, buf, len);
    c[len] = '\0';
    char *k = strstr(c, key);
    cr_assert(k, "%s in the model", key);
    char *at = strstr(k, from);
    cr_assert(at, "%s after %s", from, key);
    size_t pre = (size_t)(at - c), nf = strlen(from), nt = strlen(to);
    char *o = malloc(len + nt + 1);
    memcpy(o, c, pre);
    memcpy(o + pre, to, nt);
    memcpy(o + pre + nt, at + nf, len - pre - nf + 1);
    free(c);
    return o;
}

Test(gbdt, altered_structure_is_eparse)
{
    size_t len;
    char *buf = small_model(&len);
    struct {
        const char *key, *from, *to, *what;
    } cases[] = {
        {"\"left_children\":[", "[1,", "[0,", "a root that is its own child"},
        {"\"right_children\":[", "[2,", "[99,", "a child past the end (depth 3 has 15 nodes at most)"},
        {"\"left_children\":[", "[1,", "[2,", "both children the same node"},
        {"\"left_children\":[", "[1,", "[\"1\",", "a string child"},
        {"\"split_indices\":[", "[", "[9", "a feature beyond num_feature"},
        {"\"sum_hessian\":[", "[", "[-", "a negative cover"},
        {"\"base_score\":\"", "5E-1", "5E+1", "base_score not a probability"},
        {"\"num_trees\":\"", "6", "7", "num_trees not the tree count"},
        {"\"objective\"", "binary:logistic", "binary:hingeXXX", "another objective"},
        {"\"learner\"", "learner", "learnex", "no learner"},
        {"\"default_left\":[", "[", "[7,", "an array of the wrong length"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *c = altered(buf, len, cases[k].key, cases[k].from, cases[k].to);
        expect_eparse(c, strlen(c), cases[k].what);
        free(c);
    }
    /* The first value of an array replaced by another type: still JSON,
     * still the right length. */
    const char *keys[] = {"\"split_conditions\":[", "\"sum_hessian\":[", "\"default_left\":[",
                          "\"loss_changes\":["};
    const char *values[] = {"[0]", "null", "\"1\"", "{}"};
    for (size_t k = 0; k < 4; k++) {
        char *c = malloc(len + 1);
        memcpy(c, buf, len);
        c[len] = '\0';
        char *at = strstr(c, keys[k]);
        cr_assert(at);
        at += strlen(keys[k]);
        char *comma = strchr(at, ',');
        char *o = malloc(len + 8);
        size_t pre = (size_t)(at - c);
        memcpy(o, c, pre);
        memcpy(o + pre, values[k], strlen(values[k]));
        memcpy(o + pre + strlen(values[k]), comma, len - (size_t)(comma - c) + 1);
        expect_eparse(o, strlen(o), keys[k]);
        free(o);
        free(c);
    }
    free(buf);
}

/* Every byte flipped to something else, one at a time: the load either
 * fails with TL_EPARSE or gives a model that walks without a fault
 * (a changed digit in a threshold is still a model). ASan watches. */
Test(gbdt, flipped_bytes_never_crash)
{
    size_t len;
    char *buf = small_model(&len);
    const char repl[] = "0123456789-[]{}\",:eE.x ";
    float x[NF] = {0};
    x[3] = NAN;
    int loaded = 0, refused = 0;
    char *c = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(c, buf, len);
        char r = repl[(i * 7) % (sizeof repl - 1)];
        c[i] = c[i] == r ? 'Z' : r;
        tl_gbdt *m = NULL;
        tl_err err = {0};
        int rc = tl_gbdt_load(c, len, &m, &err);
        if (rc == 0) {
            loaded++;
            double phi[NF + 1];
            (void)tl_gbdt_margin(m, x);
            tl_gbdt_contribs(m, x, phi);
            tl_gbdt_contribs_approx(m, x, phi);
            tl_gbdt_free(m);
        } else {
            cr_assert(rc == TL_EPARSE || rc == TL_EUNSUPPORTED, "byte %zu: rc %d (%s)", i, rc, err.msg);
            cr_assert_null(m);
            refused++;
        }
    }
    cr_expect_gt(refused, (int)len / 2, "%d of %zu changes refused", refused, len);
    free(c);
    free(buf);
}

Test(gbdt, train_refuses_bad_input)
{
    float X[6] = {1, 2, 3, 4, 5, 6};
    uint8_t y[3] = {0, 1, 0}, bad_y[3] = {0, 1, 3};
    tl_gbdt *m = NULL;
    tl_err err = {0};
    struct tl_gbdt_opts o = quick_opts(5, 2);
    cr_expect_eq(tl_gbdt_train(X, bad_y, 3, 2, NULL, NULL, 0, &o, &m, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "row 2"), "%s", err.msg);
    X[3] = INFINITY;
    cr_expect_eq(tl_gbdt_train(X, y, 3, 2, NULL, NULL, 0, &o, &m, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "row 1 column 1"), "%s", err.msg);
    X[3] = 4;
    o.max_depth = TL_GBDT_MAX_DEPTH + 1;
    cr_expect_eq(tl_gbdt_train(X, y, 3, 2, NULL, NULL, 0, &o, &m, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "max_depth"), "%s", err.msg);
    o = quick_opts(5, 2);
    o.eta = 0;
    cr_expect_eq(tl_gbdt_train(X, y, 3, 2, NULL, NULL, 0, &o, &m, &err), TL_EINVAL);
    o = quick_opts(5, 2);
    cr_expect_eq(tl_gbdt_train(X, y, 3, 2, NULL, y, 2, &o, &m, &err), TL_EINVAL, "nv without Xv");
    cr_expect_null(m);
    /* A tiny valid set trains (a stump or two), NaN allowed. */
    X[0] = NAN;
    cr_assert_eq(tl_gbdt_train(X, y, 3, 2, NULL, NULL, 0, &o, &m, &err), 0, "%s", err.msg);
    cr_expect_eq(tl_gbdt_rounds(m), 5);
    double phi[3];
    tl_gbdt_contribs(m, X, phi);
    cr_expect(fabs(phi[0] + phi[1] + phi[2] - tl_gbdt_margin(m, X)) < 1e-9);
    tl_gbdt_contribs_approx(m, X, phi);
    cr_expect(fabs(phi[0] + phi[1] + phi[2] - tl_gbdt_margin(m, X)) < 1e-9);
    tl_gbdt_free(m);
}
