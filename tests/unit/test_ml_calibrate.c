/* test_ml_calibrate.c - Platt and isotonic calibration, and their JSON. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/json.h>
#include <teller/ml_stats.h>

/* The probabilities of test_ml_metrics.c turned into margins log(p/(1-p)):
 * ties at four places. */
static const double P[20] = {0.05, 0.10, 0.10, 0.20, 0.25, 0.30, 0.30, 0.30, 0.42, 0.45,
                             0.50, 0.55, 0.55, 0.61, 0.70, 0.72, 0.80, 0.80, 0.88, 0.95};
static const uint8_t Y[20] = {0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1};

static void margins(double s[20])
{
    for (int i = 0; i < 20; i++)
        s[i] = log(P[i] / (1 - P[i]));
}

Test(calib, kind_names)
{
    enum tl_calib_kind k;
    tl_err err = {0};
    cr_assert_eq(tl_calib_kind_parse("isotonic", &k, &err), 0);
    cr_assert_eq(k, TL_CALIB_ISOTONIC);
    cr_assert_eq(tl_calib_kind_parse("platt", &k, &err), 0);
    cr_assert_eq(k, TL_CALIB_PLATT);
    cr_assert_eq(tl_calib_kind_parse("none", &k, &err), 0);
    cr_assert_eq(k, TL_CALIB_NONE);
    cr_assert_eq(tl_calib_kind_parse("Platt", &k, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"Platt\""), "%s", err.msg);
    cr_assert_eq(tl_calib_kind_parse(NULL, &k, &err), TL_EINVAL);
    cr_assert_str_eq(tl_calib_kind_name(TL_CALIB_PLATT), "platt");
    cr_assert_str_eq(tl_calib_kind_name(TL_CALIB_ISOTONIC), "isotonic");
    cr_assert_str_eq(tl_calib_kind_name(TL_CALIB_NONE), "none");
}

Test(calib, platt_matches_an_independent_optimizer)
{
    /* Expected (a, b): scipy.optimize.minimize(method="BFGS", gtol=1e-13) on
     * the same smoothed negative log-likelihood, t+ = 11/12, t- = 1/12
     * (10 positives, 10 negatives), gradient below 1e-12 at the optimum. */
    double s[20];
    margins(s);
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_PLATT, s, Y, 20, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.kind, TL_CALIB_PLATT);
    cr_assert_float_eq(c.a, -0.45193886429641289, 1e-10);
    cr_assert_float_eq(c.b, -0.058433224774397587, 1e-10);
    cr_assert_null(c.x);
    double z = c.a * 1.0 + c.b;
    cr_assert_float_eq(tl_calibrator_apply(&c, 1.0), 1 / (1 + exp(z)), 1e-15);
    /* saturates without overflow */
    cr_assert_float_eq(tl_calibrator_apply(&c, 1e6), 1, 1e-15);
    cr_assert_float_eq(tl_calibrator_apply(&c, -1e6), 0, 1e-15);
    cr_assert(isnan(tl_calibrator_apply(&c, NAN)));
    tl_calibrator_clear(&c);
}

Test(calib, platt_gradient_vanishes_on_larger_data)
{
    /* First-order optimality of the smoothed objective, checked directly:
     * sum (t_i - p_i) s_i and sum (t_i - p_i) are ~0 at the fit. */
    enum { N = 5000 };
    static double s[N];
    static uint8_t y[N];
    tl_rng r;
    tl_rng_seed(&r, 17);
    size_t pos = 0;
    for (size_t i = 0; i < N; i++) {
        double x = 6 * tl_rng_uniform(&r) - 3;
        y[i] = tl_rng_uniform(&r) < 1 / (1 + exp(-(2 * x - 1)));
        s[i] = x * 10 + 4; /* a badly scaled margin */
        pos += y[i];
    }
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_PLATT, s, y, N, &c, &err), 0, "%s", err.msg);
    double t_hi = (pos + 1.0) / (pos + 2.0), t_lo = 1.0 / (N - pos + 2.0), g1 = 0, g2 = 0;
    for (size_t i = 0; i < N; i++) {
        double d = (y[i] ? t_hi : t_lo) - tl_calibrator_apply(&c, s[i]);
        g1 += d * s[i];
        g2 += d;
    }
    cr_assert_lt(fabs(g1), 1e-6, "g1 %g", g1);
    cr_assert_lt(fabs(g2), 1e-6, "g2 %g", g2);
    /* the true slope on s is 2/10 and the intercept 2*(-4/10) - 1 */
    cr_assert_float_eq(c.a, -0.2, 0.02);
    cr_assert_float_eq(c.b, 1.8, 0.2);
    tl_calibrator_clear(&c);
}

Test(calib, isotonic_matches_sklearn)
{
    /* sklearn 1.2.1: IsotonicRegression(out_of_bounds="clip", increasing=True)
     * .fit(s, y): X_thresholds_, y_thresholds_, and predict(Q). */
    static const double want_x[11] = {-2.9444389791664403, -2.1972245773362191, -1.0986122886681098,
                                      -0.84729786038720356, -0.32277339226305113,
                                      -0.20067069546215124, 0, 0.84729786038720345,
                                      0.94446160884085129, 1.9924301646902061, 2.9444389791664394};
    static const double want_y[11] = {0, 0.25, 0.25, 0.33333333333333331, 0.5, 0.5,
                                      0.59999999999999998, 0.59999999999999998, 0.75, 0.75, 1};
    static const double q[10] = {-5, -2.5, -1.0, -0.5, 0, 0.3, 1.0, 1.5, 3, 10};
    static const double want_q[10] = {0, 0.14869861249924884, 0.28269884175992144,
                                      0.4436865775551071, 0.59999999999999998, 0.59999999999999998,
                                      0.75, 0.75, 1, 1};
    double s[20];
    margins(s);
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_ISOTONIC, s, Y, 20, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.kind, TL_CALIB_ISOTONIC);
    cr_assert_eq(c.n_knots, 11);
    for (int i = 0; i < 11; i++) {
        cr_assert_float_eq(c.x[i], want_x[i], 1e-15, "knot %d", i);
        cr_assert_float_eq(c.y[i], want_y[i], 1e-15, "knot %d", i);
    }
    for (int i = 0; i < 10; i++)
        cr_assert_float_eq(tl_calibrator_apply(&c, q[i]), want_q[i], 1e-12, "query %g", q[i]);
    tl_calibrator_clear(&c);
    cr_assert_eq(c.n_knots, 0);
    cr_assert_null(c.x);
    tl_calibrator_clear(&c); /* twice is fine */
}

Test(calib, isotonic_is_monotone_and_fits_means)
{
    /* Already increasing means: every distinct score keeps its own mean */
    double s[6] = {3, 1, 2, 1, 3, 2};
    uint8_t y[6] = {1, 0, 1, 0, 1, 0};
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_ISOTONIC, s, y, 6, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.n_knots, 3);
    cr_assert_eq(c.y[0], 0);
    cr_assert_eq(c.y[1], 0.5);
    cr_assert_eq(c.y[2], 1);
    cr_assert_eq(tl_calibrator_apply(&c, 1.5), 0.25);
    tl_calibrator_clear(&c);
    /* Fully decreasing: one block, one level (the base rate), two knots */
    double d[4] = {1, 2, 3, 4};
    uint8_t dy[4] = {1, 1, 0, 0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_ISOTONIC, d, dy, 4, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.n_knots, 2);
    cr_assert_eq(c.x[0], 1);
    cr_assert_eq(c.x[1], 4);
    cr_assert_eq(c.y[0], 0.5);
    cr_assert_eq(c.y[1], 0.5);
    cr_assert_eq(tl_calibrator_apply(&c, 2.5), 0.5);
    tl_calibrator_clear(&c);
}

Test(calib, none_is_the_logistic)
{
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_NONE, NULL, NULL, 0, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_calibrator_apply(&c, 0), 0.5);
    cr_assert_float_eq(tl_calibrator_apply(&c, 2), 1 / (1 + exp(-2.0)), 1e-15);
    cr_assert_float_eq(tl_calibrator_apply(&c, -800), 0, 1e-300);
    cr_assert_eq(tl_calibrator_apply(&c, 800), 1);
    tl_calibrator_clear(&c);
}

Test(calib, fit_rejects_bad_input)
{
    double s[4] = {1, 2, 3, 4};
    uint8_t one[4] = {1, 1, 1, 1}, two[4] = {0, 1, 2, 1}, ok[4] = {0, 1, 0, 1};
    tl_calibrator c = {.kind = TL_CALIB_NONE};
    tl_err err = {0};
    for (int k = TL_CALIB_PLATT; k <= TL_CALIB_ISOTONIC; k++) {
        cr_assert_eq(tl_calibrator_fit(k, s, one, 4, &c, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "both classes"), "%s", err.msg);
        cr_assert_eq(tl_calibrator_fit(k, s, two, 4, &c, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "row 2"), "%s", err.msg);
        cr_assert_eq(tl_calibrator_fit(k, s, ok, 0, &c, &err), TL_EINVAL);
        s[1] = NAN;
        cr_assert_eq(tl_calibrator_fit(k, s, ok, 4, &c, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "row 1"), "%s", err.msg);
        s[1] = 2;
    }
    cr_assert_eq(tl_calibrator_fit((enum tl_calib_kind)7, s, ok, 4, &c, &err), TL_EINVAL);
    cr_assert_eq(c.kind, TL_CALIB_NONE, "untouched on error");
}

/* to_json -> text -> parse -> from_json, and every double is the same bits. */
static void round_trip(const tl_calibrator *c)
{
    json_t *j = tl_calibrator_to_json(c);
    cr_assert(j);
    char *text = tl_json_dump(j);
    json_decref(j);
    tl_err err = {0};
    json_t *back = tl_json_parse(text, strlen(text), "calibrator", &err);
    cr_assert(back, "%s", err.msg);
    tl_calibrator d;
    cr_assert_eq(tl_calibrator_from_json(back, &d, &err), 0, "%s: %s", text, err.msg);
    json_decref(back);
    cr_assert_eq(d.kind, c->kind);
    cr_assert_eq(memcmp(&d.a, &c->a, sizeof d.a), 0, "a %.17g", d.a);
    cr_assert_eq(memcmp(&d.b, &c->b, sizeof d.b), 0, "b %.17g", d.b);
    cr_assert_eq(d.n_knots, c->n_knots);
    if (c->n_knots) {
        cr_assert_arr_eq(d.x, c->x, c->n_knots * sizeof *d.x, "%s", text);
        cr_assert_arr_eq(d.y, c->y, c->n_knots * sizeof *d.y, "%s", text);
    }
    tl_calibrator_clear(&d);
    free(text);
}

Test(calib, json_round_trip_is_exact)
{
    double s[20];
    margins(s);
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_PLATT, s, Y, 20, &c, &err), 0);
    round_trip(&c);
    c.a = 0.1 + 0.2; /* 0.30000000000000004: needs 17 digits */
    c.b = -5e-324;   /* a subnormal */
    round_trip(&c);
    tl_calibrator_clear(&c);
    cr_assert_eq(tl_calibrator_fit(TL_CALIB_ISOTONIC, s, Y, 20, &c, &err), 0);
    round_trip(&c);
    tl_calibrator_clear(&c);
    tl_calibrator none = {.kind = TL_CALIB_NONE};
    round_trip(&none);
}

static int load(const char *text, tl_calibrator *c, tl_err *err)
{
    tl_err perr = {0};
    json_t *j = tl_json_parse(text, strlen(text), "t", &perr);
    cr_assert(j, "%s: %s", text, perr.msg);
    int rc = tl_calibrator_from_json(j, c, err);
    json_decref(j);
    return rc;
}

static void reject(const char *text, const char *why)
{
    tl_calibrator c = {.kind = TL_CALIB_NONE};
    tl_err err = {0};
    cr_assert_eq(load(text, &c, &err), TL_EINVAL, "%s", text);
    cr_assert(strstr(err.msg, why), "%s: got \"%s\", want \"%s\"", text, err.msg, why);
    cr_assert_eq(c.kind, TL_CALIB_NONE, "untouched on error");
    cr_assert_null(c.x);
}

Test(calib, from_json_rejects_bad_input)
{
    reject("[]", "not an object");
    reject("{}", "\"kind\" is missing");
    reject("{\"kind\":3}", "\"kind\" is not a string");
    reject("{\"kind\":\"sigmoid\"}", "\"kind\" is \"sigmoid\"");
    reject("{\"kind\":\"platt\",\"a\":1}", "needs member \"b\"");
    reject("{\"kind\":\"platt\",\"a\":\"1\",\"b\":0}", "\"a\" is not a number");
    reject("{\"kind\":\"platt\",\"a\":1,\"b\":0,\"c\":2}", "unknown member \"c\"");
    reject("{\"kind\":\"none\",\"a\":1}", "unknown member \"a\"");
    reject("{\"kind\":\"isotonic\",\"x\":[1]}", "needs member \"y\"");
    reject("{\"kind\":\"isotonic\",\"x\":[],\"y\":[]}", "has 0 knots");
    reject("{\"kind\":\"isotonic\",\"x\":{},\"y\":[]}", "\"x\" is not an array");
    reject("{\"kind\":\"isotonic\",\"x\":[1,2],\"y\":[0.5]}", "must match");
    reject("{\"kind\":\"isotonic\",\"x\":[1,\"2\"],\"y\":[0,1]}", "element 1 is not a number");
    reject("{\"kind\":\"isotonic\",\"x\":[1,1],\"y\":[0,1]}", "\"x\": element 1 (1) is not above");
    reject("{\"kind\":\"isotonic\",\"x\":[2,1],\"y\":[0,1]}", "strictly ascending");
    reject("{\"kind\":\"isotonic\",\"x\":[1,2],\"y\":[0.6,0.5]}", "\"y\": element 1 (0.5) is below");
    reject("{\"kind\":\"isotonic\",\"x\":[1,2],\"y\":[0,1.5]}",
           "\"y\": element 1 (1.5) is not a probability");
    reject("{\"kind\":\"isotonic\",\"x\":[1,2],\"y\":[-0.1,1]}", "element 0 (-0.10000000000000001)");

    /* integers are numbers too */
    tl_calibrator c;
    tl_err err = {0};
    cr_assert_eq(load("{\"kind\":\"isotonic\",\"x\":[1,2],\"y\":[0,1]}", &c, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_calibrator_apply(&c, 1.25), 0.25);
    tl_calibrator_clear(&c);
    cr_assert_eq(load("{\"kind\":\"platt\",\"a\":-1,\"b\":0}", &c, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_calibrator_apply(&c, 0), 0.5);
}
