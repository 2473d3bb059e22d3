/* test_ml_linear.c - logistic regression trained by LIBLINEAR, scored by us. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_models.h>

#include "testutil.h"

/* A fixed 24 x 3 data set (multiples of 1/8, exact in float) and its
 * labels, from numpy's default_rng(7): X = integers(-16, 17) / 8, y = 1 when
 * X @ [1, -0.5, 0.25] + normal(0, 0.8) > 0. */
static const float FX[24 * 3] = {
    1.875f, 0.5f, 0.75f, 1.625f, 0.375f, 1.125f, 1.375f, -1.125f, -1.875f, -0.875f, -0.875f, 1.5f,
    1.75f, -2.0f, 0.0f, 1.375f, -1.5f, 1.25f, -1.625f, -0.125f, 1.25f, -0.75f, -0.625f, -0.875f,
    0.875f, -1.0f, 2.0f, -0.25f, -0.125f, 0.0f, 0.375f, 0.25f, 0.0f, 2.0f, 1.25f, 1.25f,
    0.875f, 0.5f, -0.625f, 2.0f, -0.125f, -1.125f, 1.375f, -1.375f, 1.5f, 0.5f, -1.625f, -1.875f,
    -0.25f, -1.875f, -1.5f, 0.0f, 2.0f, -0.125f, 1.25f, 1.75f, 1.375f, 0.5f, -0.25f, 0.0f,
    -1.0f, 0.0f, -0.5f, -1.0f, 2.0f, -2.0f, -1.625f, -1.25f, 1.875f, 0.75f, 1.625f, -1.25f,
};
static const uint8_t FY[24] = {1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};

/* Trains on the fixed set and compares with sklearn 1.2.1's
 * LogisticRegression(solver='liblinear', penalty, C, intercept_scaling=1,
 * tol=1e-10, class_weight={1: pos_weight}) coef_ and intercept_. */
static void expect_sklearn(int penalty, double C, double pos_weight, const double want_w[3],
                           double want_b)
{
    struct tl_linear_opts o = TL_LINEAR_OPTS_DEFAULT;
    o.penalty = penalty;
    o.C = C;
    o.pos_weight = pos_weight;
    o.eps = 1e-10;
    tl_linear *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_linear_train(FX, FY, 24, 3, &o, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_linear_dim(m), 3);
    for (int j = 0; j < 3; j++)
        cr_expect(fabs(tl_linear_weights(m)[j] - want_w[j]) < 1e-4, "penalty %d w[%d] = %.10f, want %.10f",
                  penalty, j, tl_linear_weights(m)[j], want_w[j]);
    cr_expect(fabs(tl_linear_bias(m) - want_b) < 1e-4, "penalty %d bias = %.10f, want %.10f", penalty,
              tl_linear_bias(m), want_b);
    tl_linear_free(m);
}

Test(linear, matches_sklearn_liblinear_l2)
{
    expect_sklearn(2, 1.0, 1.0, (const double[]){1.4624502832, -0.3436676654, 0.4374083348}, 0.2841172209);
}

Test(linear, matches_sklearn_liblinear_l1)
{
    expect_sklearn(1, 0.5, 1.0, (const double[]){1.2514181224, -0.0349413361, 0.0923154388}, 0.0);
}

Test(linear, matches_sklearn_liblinear_class_weight)
{
    expect_sklearn(2, 0.3, 2.0, (const double[]){1.0673169073, -0.2736000484, 0.3118533578}, 0.6000628838);
}

/* LIBLINEAR orders classes by first appearance; flipping every label (the
 * first row is then class 0) must flip the sign of every weight, so the
 * margin stays the log-odds of class 1. */
Test(linear, margin_is_log_odds_of_class_1_whatever_the_first_label)
{
    uint8_t flipped[24];
    for (int i = 0; i < 24; i++)
        flipped[i] = (uint8_t)(1 - FY[i]);
    struct tl_linear_opts o = TL_LINEAR_OPTS_DEFAULT;
    o.eps = 1e-10;
    tl_linear *a = NULL, *b = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_linear_train(FX, FY, 24, 3, &o, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_linear_train(FX, flipped, 24, 3, &o, &b, &err), 0, "%s", err.msg);
    for (int j = 0; j < 3; j++)
        cr_expect(fabs(tl_linear_weights(a)[j] + tl_linear_weights(b)[j]) < 1e-6);
    cr_expect(fabs(tl_linear_bias(a) + tl_linear_bias(b)) < 1e-6);
    tl_linear_free(a);
    tl_linear_free(b);
}

/* A separable-ish synthetic set: y = 1 when 2 x0 - x1 + 0.5 > 0, with
 * zeros in the features (the sparse conversion skips them). */
Test(linear, margin_sign_agrees_with_labels)
{
    enum { N = 400, D = 4 };
    float *X = malloc(N * D * sizeof *X);
    uint8_t *y = malloc(N);
    uint64_t s = 12345;
    for (int i = 0; i < N * D; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        X[i] = (i % 7 == 0) ? 0.0f : (float)((double)(s >> 11) / 9007199254740992.0 * 4.0 - 2.0);
    }
    for (int i = 0; i < N; i++)
        y[i] = 2 * X[i * D] - X[i * D + 1] + 0.5f > 0;
    struct tl_linear_opts o = TL_LINEAR_OPTS_DEFAULT;
    o.C = 100;
    tl_linear *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_linear_train(X, y, N, D, &o, &m, &err), 0, "%s", err.msg);
    int agree = 0;
    for (int i = 0; i < N; i++) {
        double mg = tl_linear_margin(m, X + i * D);
        agree += (mg > 0) == (y[i] == 1);
        /* the margin is exactly w . x + b */
        double want = tl_linear_bias(m);
        for (int j = 0; j < D; j++)
            want += tl_linear_weights(m)[j] * X[i * D + j];
        cr_assert(fabs(mg - want) < 1e-12);
    }
    cr_expect_geq(agree, N * 98 / 100, "%d of %d margins agree in sign with the label", agree, N);
    cr_expect_gt(tl_linear_weights(m)[0], 0);
    cr_expect_lt(tl_linear_weights(m)[1], 0);
    tl_linear_free(m);
    free(X);
    free(y);
}

Test(linear, json_round_trip_is_exact)
{
    double w[3] = {0.1, -1.0 / 3.0, 1e-300};
    tl_linear *m = NULL, *back = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_linear_from_weights(w, 3, M_PI, &m, &err), 0, "%s", err.msg);
    w[0] = 99; /* copied, not borrowed */
    json_t *j = tl_linear_to_json(m);
    cr_assert(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_t *j2 = json_loads(text, 0, NULL);
    cr_assert_eq(tl_linear_from_json(j2, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_linear_dim(back), 3);
    cr_expect_eq(tl_linear_weights(back)[0], 0.1);
    cr_expect_eq(tl_linear_weights(back)[1], -1.0 / 3.0);
    cr_expect_eq(tl_linear_weights(back)[2], 1e-300);
    cr_expect_eq(tl_linear_bias(back), M_PI);
    float x[3] = {1, 2, 3};
    cr_expect_eq(tl_linear_margin(back, x), tl_linear_margin(m, x));
    free(text);
    json_decref(j);
    json_decref(j2);
    tl_linear_free(m);
    tl_linear_free(back);
}

Test(linear, from_json_refuses_bad_models)
{
    const char *bad[] = {
        "[]",
        "{\"bias\":0,\"w\":[1]}",
        "{\"dim\":0,\"bias\":0,\"w\":[]}",
        "{\"dim\":2,\"bias\":0,\"w\":[1]}",
        "{\"dim\":1,\"bias\":\"x\",\"w\":[1]}",
        "{\"dim\":1,\"bias\":0,\"w\":[\"1\"]}",
        "{\"dim\":-5,\"bias\":0,\"w\":[1]}",
        "{\"dim\":1.5,\"bias\":0,\"w\":[1]}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *j = json_loads(bad[k], JSON_DECODE_ANY, NULL);
        cr_assert(j, "%s", bad[k]);
        tl_linear *m = NULL;
        tl_err err = {0};
        cr_expect_eq(tl_linear_from_json(j, &m, &err), TL_EPARSE, "%s", bad[k]);
        cr_expect_null(m);
        cr_expect_gt(strlen(err.msg), 0);
        json_decref(j);
    }
}

Test(linear, train_refuses_bad_input)
{
    float X[4] = {1, 2, 3, 4};
    uint8_t y[2] = {0, 1}, same[2] = {1, 1}, two[2] = {0, 2};
    tl_linear *m = NULL;
    tl_err err = {0};
    struct tl_linear_opts o = TL_LINEAR_OPTS_DEFAULT;
    cr_expect_eq(tl_linear_train(X, same, 2, 2, &o, &m, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "both classes"), "%s", err.msg);
    cr_expect_eq(tl_linear_train(X, two, 2, 2, &o, &m, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "row 1"), "%s", err.msg);
    X[3] = NAN;
    cr_expect_eq(tl_linear_train(X, y, 2, 2, &o, &m, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "row 1 column 1"), "%s", err.msg);
    X[3] = 4;
    o.penalty = 3;
    cr_expect_eq(tl_linear_train(X, y, 2, 2, &o, &m, &err), TL_EINVAL);
    o.penalty = 2;
    o.C = 0;
    cr_expect_eq(tl_linear_train(X, y, 2, 2, &o, &m, &err), TL_EINVAL);
    cr_expect_null(m);
    double w[1] = {INFINITY};
    cr_expect_eq(tl_linear_from_weights(w, 1, 0, &m, &err), TL_EINVAL);
    cr_expect_null(m);
}
