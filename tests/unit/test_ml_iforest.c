/* test_ml_iforest.c - the isolation forest: the c(n) normalizer against hand
 * values, determinism for a seed, outliers of a synthetic Gaussian blob
 * scored above its inliers, the JSON round trip, tampered JSON, and bad
 * input. Needs no shared data: the data are drawn from tl_rng. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_iforest.h>
#include <teller/ml_stats.h>

#define D 3
#define N_IN 500
#define N_OUT 10
#define N (N_IN + N_OUT)

/* N_IN rows from a standard normal in D dimensions (Box-Muller over
 * tl_rng), then N_OUT distinct rows at 6 .. 9.6 on every axis, signs from
 * the bits of k: far outside the blob in all directions. (An outlier far out
 * along one axis only is isolated more slowly; scikit-learn 1.2.1's
 * IsolationForest scores it about 0.6 too.) On a numpy blob of the same
 * shape scikit-learn gives these outliers 0.75 .. 0.83 and the inliers a
 * median of 0.39, over four seeds. y marks the outliers. */
static void make_blob(float *X, uint8_t *y)
{
    tl_rng r;
    tl_rng_seed(&r, 7);
    for (size_t i = 0; i < N_IN * D; i++) {
        double u1 = 1.0 - tl_rng_uniform(&r), u2 = tl_rng_uniform(&r);
        X[i] = (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
    }
    for (size_t i = 0; i < N_IN; i++)
        y[i] = 0;
    for (size_t k = 0; k < N_OUT; k++) {
        float *row = X + (N_IN + k) * D;
        for (size_t f = 0; f < D; f++)
            row[f] = (((k >> f) & 1) ? -1.0f : 1.0f) * (6.0f + 0.4f * (float)k);
        y[N_IN + k] = 1;
    }
}

static tl_iforest *fit_blob(const float *X, uint64_t seed)
{
    struct tl_iforest_opts o = TL_IFOREST_OPTS_DEFAULT;
    o.seed = seed;
    tl_iforest *m = NULL;
    tl_err err = {0};
    int rc = tl_iforest_fit(X, N, D, &o, &m, &err);
    cr_assert_eq(rc, 0, "fit: %s", err.msg);
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Hand values: c(2) = 1 by definition (H(1) = 1); c(3) = 2 (ln 2 + gamma) -
 * 4/3; c(10), c(256) from Python's math.log with gamma = 0.5772156649015329. */
Test(ml_iforest, c_normalizer)
{
    cr_assert_eq(tl_iforest_c(0), 0.0);
    cr_assert_eq(tl_iforest_c(1), 0.0);
    cr_assert_eq(tl_iforest_c(2), 1.0);
    cr_assert_float_eq(tl_iforest_c(3), 1.207392357589623, 1e-12);
    cr_assert_float_eq(tl_iforest_c(10), 3.748880484475505, 1e-12);
    cr_assert_float_eq(tl_iforest_c(256), 10.244770920119917, 1e-12);
}

Test(ml_iforest, separates_outliers_from_blob)
{
    static float X[N * D];
    static uint8_t y[N];
    static double s[N], in[N_IN];
    make_blob(X, y);
    tl_iforest *m = fit_blob(X, 42);
    cr_assert_eq(tl_iforest_sample_size(m), 256);
    cr_assert_eq(tl_iforest_n_trees(m), 100);
    cr_assert_eq(tl_iforest_dim(m), D);
    for (size_t i = 0; i < N; i++) {
        s[i] = tl_iforest_score(m, X + i * D);
        cr_assert(s[i] > 0.0 && s[i] <= 1.0, "row %zu score %g outside (0, 1]", i, s[i]);
        if (i < N_IN)
            in[i] = s[i];
        else
            cr_assert_gt(s[i], 0.6, "outlier %zu scored %g", i, s[i]);
    }
    qsort(in, N_IN, sizeof in[0], cmp_double);
    double median = 0.5 * (in[N_IN / 2 - 1] + in[N_IN / 2]);
    cr_assert_lt(median, 0.5, "inlier median %g", median);
    double auc;
    tl_err err = {0};
    cr_assert_eq(tl_ml_auc(s, y, N, &auc, &err), 0, "%s", err.msg);
    cr_assert_gt(auc, 0.95, "AUC %g", auc);
    tl_iforest_free(m);
}

Test(ml_iforest, deterministic_for_a_seed)
{
    static float X[N * D];
    static uint8_t y[N];
    make_blob(X, y);
    tl_iforest *a = fit_blob(X, 123), *b = fit_blob(X, 123), *c = fit_blob(X, 124);
    size_t differ = 0;
    for (size_t i = 0; i < N; i++) {
        double sa = tl_iforest_score(a, X + i * D);
        cr_assert_eq(sa, tl_iforest_score(b, X + i * D), "row %zu differs for one seed", i);
        differ += sa != tl_iforest_score(c, X + i * D);
    }
    cr_assert_gt(differ, N / 2, "another seed should give another forest");
    tl_iforest_free(a);
    tl_iforest_free(b);
    tl_iforest_free(c);
}

Test(ml_iforest, json_round_trip)
{
    static float X[N * D];
    static uint8_t y[N];
    make_blob(X, y);
    X[3 * D + 1] = NAN; /* a missing value takes part too */
    tl_iforest *m = fit_blob(X, 5);
    json_t *j = tl_iforest_to_json(m);
    cr_assert_not_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(back);
    tl_iforest *m2 = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_iforest_from_json(back, &m2, &err), 0, "%s", err.msg);
    json_decref(back);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(tl_iforest_score(m, X + i * D), tl_iforest_score(m2, X + i * D), "row %zu",
                     i);
    float probe[D] = {NAN, 100.0f, -3.0f};
    cr_assert_eq(tl_iforest_score(m, probe), tl_iforest_score(m2, probe));
    tl_iforest_free(m);
    tl_iforest_free(m2);
}

/* A small forest's JSON, for tampering. */
static json_t *small_json(void)
{
    static float X[N * D];
    static uint8_t y[N];
    make_blob(X, y);
    struct tl_iforest_opts o = {.n_trees = 3, .sample_size = 16, .seed = 9};
    tl_iforest *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_iforest_fit(X, N, D, &o, &m, &err), 0, "%s", err.msg);
    json_t *j = tl_iforest_to_json(m);
    tl_iforest_free(m);
    return j;
}

static json_t *arr(json_t *j, size_t t, const char *key)
{
    return json_object_get(json_array_get(json_object_get(j, "trees"), t), key);
}

static void expect_rejected(json_t *j, const char *what)
{
    tl_iforest *m = NULL;
    tl_err err = {0};
    int rc = tl_iforest_from_json(j, &m, &err);
    cr_assert_lt(rc, 0, "%s was accepted", what);
    cr_assert_null(m, "%s: *out was touched", what);
    cr_assert_neq(err.msg[0], '\0', "%s: no message", what);
    json_decref(j);
}

Test(ml_iforest, tampered_json_is_an_error)
{
    json_t *j = small_json();
    size_t internal = 0; /* the root of tree 0 is internal (16 distinct rows) */
    cr_assert_geq(json_integer_value(json_array_get(arr(j, 0, "feature"), internal)), 0);
    json_decref(j);

    j = small_json();
    json_array_set_new(arr(j, 0, "feature"), 0, json_integer(D));
    expect_rejected(j, "feature = dim");
    j = small_json();
    json_array_set_new(arr(j, 0, "left"), 0, json_integer(0));
    expect_rejected(j, "self loop");
    j = small_json();
    json_array_set_new(arr(j, 0, "right"), 0, json_integer(1000));
    expect_rejected(j, "child out of the tree");
    j = small_json();
    json_array_set_new(arr(j, 0, "right"), 0,
                       json_integer(json_integer_value(json_array_get(arr(j, 0, "left"), 0))));
    expect_rejected(j, "both children the same");
    j = small_json();
    json_array_set_new(arr(j, 0, "threshold"), 0, json_string("1.5"));
    expect_rejected(j, "string threshold");
    j = small_json();
    json_array_set_new(arr(j, 0, "threshold"), 0, json_real(0.1)); /* not a float */
    expect_rejected(j, "threshold not exact in float");
    j = small_json();
    json_array_set_new(arr(j, 1, "size"), 0, json_integer(0));
    expect_rejected(j, "size 0");
    j = small_json();
    json_array_remove(arr(j, 2, "left"), 0);
    expect_rejected(j, "short array");
    j = small_json();
    json_object_del(json_array_get(json_object_get(j, "trees"), 1), "right");
    expect_rejected(j, "missing array");
    j = small_json();
    json_object_set_new(j, "trees", json_array());
    expect_rejected(j, "no trees");
    j = small_json();
    json_object_set_new(j, "sample_size", json_integer(1));
    expect_rejected(j, "sample_size 1");
    j = small_json();
    json_object_set_new(j, "model", json_string("gbdt"));
    expect_rejected(j, "wrong model kind");
    j = small_json();
    json_object_set_new(j, "dim", json_real(3.0));
    expect_rejected(j, "real dim");
    expect_rejected(json_array(), "an array");

    /* Every integer of tree 0 replaced in turn by nearby values: each load
     * must either fail cleanly or give a model that scores within (0, 1]
     * (the sanitizers catch any stray read). */
    static const char *const keys[] = {"feature", "left", "right", "size"};
    static const int deltas[] = {-2, -1, 1, 2, 7};
    float x[D] = {0.1f, -0.2f, 0.3f};
    json_t *base = small_json();
    size_t cnt = json_array_size(arr(base, 0, "feature"));
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < cnt; i++)
            for (size_t dd = 0; dd < sizeof deltas / sizeof deltas[0]; dd++) {
                json_t *t = json_deep_copy(base);
                json_t *a = arr(t, 0, keys[k]);
                json_int_t v = json_integer_value(json_array_get(a, i));
                json_array_set_new(a, i, json_integer(v + deltas[dd]));
                tl_iforest *m = NULL;
                tl_err err = {0};
                if (tl_iforest_from_json(t, &m, &err) == 0) {
                    double s = tl_iforest_score(m, x);
                    cr_assert(s > 0.0 && s <= 1.0);
                    tl_iforest_free(m);
                }
                json_decref(t);
            }
    json_decref(base);
}

Test(ml_iforest, bad_input)
{
    float X[4 * 2] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct tl_iforest_opts o = TL_IFOREST_OPTS_DEFAULT;
    tl_iforest *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_iforest_fit(X, 0, 2, &o, &m, &err), TL_EINVAL);
    cr_assert_eq(tl_iforest_fit(X, 1, 2, &o, &m, &err), TL_EINVAL);
    cr_assert_eq(tl_iforest_fit(X, 4, 0, &o, &m, &err), TL_EINVAL);
    o.n_trees = 0;
    cr_assert_eq(tl_iforest_fit(X, 4, 2, &o, &m, &err), TL_EINVAL);
    o.n_trees = -5;
    cr_assert_eq(tl_iforest_fit(X, 4, 2, &o, &m, &err), TL_EINVAL);
    o = TL_IFOREST_OPTS_DEFAULT;
    o.sample_size = 1;
    cr_assert_eq(tl_iforest_fit(X, 4, 2, &o, &m, &err), TL_EINVAL);
    o = TL_IFOREST_OPTS_DEFAULT;
    X[5] = INFINITY;
    cr_assert_eq(tl_iforest_fit(X, 4, 2, &o, &m, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 2 column 1"), "%s", err.msg);
    cr_assert_null(m, "*out touched on error");

    /* sample_size 256 > n = 4 is clamped to 4; NaN is allowed. */
    X[5] = NAN;
    cr_assert_eq(tl_iforest_fit(X, 4, 2, NULL, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_iforest_sample_size(m), 4);
    double s = tl_iforest_score(m, X + 4);
    cr_assert(s > 0.0 && s <= 1.0, "%g", s);
    tl_iforest_free(m);
}

/* Rows that are all equal cannot be isolated: every tree is one leaf of
 * psi rows, so E[h] = c(psi) and the score is exactly 2^-1. */
Test(ml_iforest, constant_rows_score_one_half)
{
    float X[20 * 2];
    for (size_t i = 0; i < 40; i++)
        X[i] = 3.0f;
    struct tl_iforest_opts o = {.n_trees = 10, .sample_size = 8, .seed = 1};
    tl_iforest *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_iforest_fit(X, 20, 2, &o, &m, &err), 0, "%s", err.msg);
    float far[2] = {-100.0f, 100.0f};
    cr_assert_float_eq(tl_iforest_score(m, X), 0.5, 1e-15);
    cr_assert_float_eq(tl_iforest_score(m, far), 0.5, 1e-15);
    tl_iforest_free(m);
}
