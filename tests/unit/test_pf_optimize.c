/*
 * test_pf_optimize.c - the portfolio optimisers against PyPortfolioOpt's
 * reference cases ($TELLER_SHARED/data/markets/reference_cases.json), each
 * asserted by id with the case's own tolerance, plus infeasible
 * constraints and bad arguments. The cases need the shared market data and
 * skip visibly without it; the toy cases and the error cases always run.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <teller/pf_estimate.h>
#include <teller/pf_optimize.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 20

static char mdir[1024];

static int have_data(void)
{
    snprintf(mdir, sizeof mdir, "%s/data/markets", tu_shared_dir());
    char p[1200];
    snprintf(p, sizeof p, "%s/reference_cases.json", mdir);
    return access(p, R_OK) == 0;
}

#define NEED_DATA()                                                                           \
    do {                                                                                      \
        if (!have_data())                                                                     \
            cr_skip_test("market data not found at %s (set TELLER_SHARED)", mdir);            \
    } while (0)

static json_t *cases;

static json_t *case_by_id(const char *id)
{
    if (!cases) {
        char p[1200];
        snprintf(p, sizeof p, "%s/reference_cases.json", mdir);
        json_error_t je;
        cases = json_load_file(p, 0, &je);
        cr_assert_not_null(cases, "reference_cases.json: %s", je.text);
    }
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
            return c;
    }
    cr_assert_fail("case %s not in reference_cases.json", id);
    return NULL;
}

/* rtol/atol of a case: assert_allclose fields, or abs_tol for decimals */
static void case_tol(json_t *c, double *rtol, double *atol)
{
    json_t *t = json_object_get(c, "tolerance");
    *rtol = json_number_value(json_object_get(t, "rtol"));
    *atol = json_number_value(json_object_get(t, "atol"));
    if (json_object_get(t, "abs_tol")) {
        *atol = json_number_value(json_object_get(t, "abs_tol"));
        *rtol = 0;
    }
}

static void check_close(const char *id, const char *what, double got, double want, double rtol,
                        double atol)
{
    cr_expect(fabs(got - want) <= atol + rtol * fabs(want),
              "case %s: %s = %.17g, expected %.17g (rtol %g, atol %g, diff %.3g)", id, what, got,
              want, rtol, atol, fabs(got - want));
}

/* compare (ret, risk, ratio) with expected.portfolio_performance */
static void check_perf(const char *id, const double *got, size_t k)
{
    json_t *c = case_by_id(id);
    json_t *pp = json_object_get(json_object_get(c, "expected"), "portfolio_performance");
    cr_assert(json_is_array(pp), "case %s has no portfolio_performance", id);
    double rtol, atol;
    case_tol(c, &rtol, &atol);
    for (size_t i = 0; i < k && i < json_array_size(pp); i++) {
        char what[48];
        snprintf(what, sizeof what, "performance[%zu]", i);
        check_close(id, what, got[i], json_number_value(json_array_get(pp, i)), rtol, atol);
    }
}

/* ---- data --------------------------------------------------------------------- */

static struct tl_pf_table *px, *rets, *px_f, *rets_f;
static double mu[N], S[N * N];

static void load(void)
{
    tl_err err = {0};
    char p[1200];
    snprintf(p, sizeof p, "%s/stock_prices.csv", mdir);
    cr_assert_eq(tl_pf_prices_read_csv(p, 0, &px, &err), 0, "%s", err.msg);
    cr_assert_eq(px->n_assets, (size_t)N);
    cr_assert_eq(tl_pf_returns(px, false, &rets, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_mean_return(rets, true, 252, mu, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_sample_cov(rets, 252, S, NULL, &err), 0, "%s", err.msg);
}

/* the CVaR/CDaR/semivariance setup: price rows with any NaN dropped */
static void load_filtered(double *mu_f)
{
    tl_err err = {0};
    cr_assert_eq(tl_pf_table_dropna(px, 2, &px_f, &err), 0, "%s", err.msg);
    cr_assert_eq(px_f->n_rows, (size_t)896);
    cr_assert_eq(tl_pf_returns(px_f, false, &rets_f, &err), 0, "%s", err.msg);
    cr_assert_eq(rets_f->n_rows, (size_t)895);
    if (mu_f)
        cr_assert_eq(tl_pf_mean_return(rets_f, true, 252, mu_f, &err), 0, "%s", err.msg);
}

static void unload(void)
{
    tl_pf_table_free(px);
    tl_pf_table_free(rets);
    tl_pf_table_free(px_f);
    tl_pf_table_free(rets_f);
    px = rets = px_f = rets_f = NULL;
    json_decref(cases);
    cases = NULL;
}

static void perf(const double *w, const double *m, const double *cov, double rf, double out[3])
{
    tl_err err = {0};
    tl_pf_perf p;
    cr_assert_eq(tl_pf_performance(N, w, m, cov, rf, &p, &err), 0, "%s", err.msg);
    out[0] = p.ret;
    out[1] = p.risk;
    out[2] = p.ratio;
}

static double wsum(const double *w, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += w[i];
    return s;
}

TestSuite(pf_optimize, .fini = unload);

/* ---- efficient frontier --------------------------------------------------------- */

Test(pf_optimize, ef_min_volatility)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    double w[N], p[3];
    cr_assert_eq(tl_pf_min_volatility(N, S, &c, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_min_volatility", p, 3);
    cr_expect(fabs(wsum(w, N) - 1) < 1e-12);
    for (int i = 0; i < N; i++)
        cr_expect(w[i] >= 0, "ef_min_volatility: w[%d] = %g < 0", i, w[i]);
    /* without expected returns: volatility only */
    tl_pf_perf pp;
    cr_assert_eq(tl_pf_performance(N, w, NULL, S, 0.02, &pp, &err), 0, "%s", err.msg);
    json_t *c2 = case_by_id("ef_min_volatility_no_expected_returns");
    double want = json_number_value(json_object_get(json_object_get(c2, "expected"),
                                                    "volatility"));
    check_close("ef_min_volatility_no_expected_returns", "volatility", pp.risk, want, 0, 1.5e-7);
    cr_expect(isnan(pp.ret) && isnan(pp.ratio));
    /* CLA's minimum volatility is the same exact QP optimum */
    check_perf("cla_min_volatility", p, 3);
}

Test(pf_optimize, ef_min_volatility_L2_gamma1)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.gamma = 1;
    double w[N], p[3];
    cr_assert_eq(tl_pf_min_volatility(N, S, &c, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_min_volatility_L2_gamma1", p, 3);
}

Test(pf_optimize, ef_max_return_unconstrained)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], r;
    cr_assert_eq(tl_pf_max_return(N, mu, NULL, w, &r, &err), 0, "%s", err.msg);
    json_t *c = case_by_id("ef_max_return_unconstrained");
    double rtol, atol;
    case_tol(c, &rtol, &atol);
    check_close("ef_max_return_unconstrained", "max return", r,
                json_number_value(json_object_get(json_object_get(c, "expected"), "value")), rtol,
                atol);
    int ma = tl_pf_table_col(px, "MA");
    cr_expect(fabs(w[ma] - 1) < 1e-12, "ef_max_return_unconstrained: not one-hot on MA");
    /* with w <= 0.2 the maximum is strictly lower */
    tl_pf_constraints cc = TL_PF_CONSTRAINTS_DEFAULT;
    cc.hi = 0.2;
    double r2;
    cr_assert_eq(tl_pf_max_return(N, mu, &cc, NULL, &r2, &err), 0, "%s", err.msg);
    cr_expect(r2 < r - 1e-6);
}

Test(pf_optimize, ef_max_sharpe)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], p[3];
    cr_assert_eq(tl_pf_max_sharpe(N, mu, S, 0.02, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_max_sharpe", p, 3);
    for (int i = 0; i < N; i++)
        cr_expect(w[i] >= 0);
    cr_expect(fabs(wsum(w, N) - 1) < 1e-12);
    /* CLA.max_sharpe is the rf = 0 tangency portfolio, reported with rf 0.02 */
    cr_assert_eq(tl_pf_max_sharpe(N, mu, S, 0.0, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("cla_max_sharpe", p, 3);
}

Test(pf_optimize, ef_max_quadratic_utility_delta2)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], p[3], p10[3];
    cr_assert_eq(tl_pf_max_quadratic_utility(N, mu, S, 2, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_max_quadratic_utility_delta2", p, 3);
    cr_assert_eq(tl_pf_max_quadratic_utility(N, mu, S, 10, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p10);
    cr_expect(p10[0] < p[0] && p10[1] < p[1]);
}

Test(pf_optimize, ef_efficient_risk)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], p[3];
    cr_assert_eq(tl_pf_efficient_risk(N, mu, S, 0.19, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_efficient_risk_0.19", p, 3);
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.lo = -1;
    c.market_neutral = true;
    cr_assert_eq(tl_pf_efficient_risk(N, mu, S, 0.21, &c, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_efficient_risk_market_neutral", p, 3);
    cr_expect(fabs(wsum(w, N)) < 1e-12);
    /* below the global minimum volatility */
    cr_expect_eq(tl_pf_efficient_risk(N, mu, S, 0.01, NULL, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "global minimum volatility"), "%s", err.msg);
}

Test(pf_optimize, ef_efficient_return)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], p[3];
    cr_assert_eq(tl_pf_efficient_return(N, mu, S, 0.25, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, S, 0.02, p);
    check_perf("ef_efficient_return_0.25", p, 3);
    /* above the maximum return */
    cr_expect_eq(tl_pf_efficient_return(N, mu, S, 0.5, NULL, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "maximum return"), "%s", err.msg);
    /* (None, None) bounds: the Lagrangian closed form */
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.lo = NAN;
    c.hi = NAN;
    cr_assert_eq(tl_pf_efficient_return(N, mu, S, 0.25, &c, w, &err), 0, "%s", err.msg);
    json_t *cs = case_by_id("ef_efficient_return_short_closed_form");
    json_t *dw = json_object_get(json_object_get(cs, "expected"), "derived_weights");
    for (int i = 0; i < N; i++) {
        double want = json_number_value(json_object_get(dw, px->tickers[i]));
        check_close("ef_efficient_return_short_closed_form", px->tickers[i], w[i], want, 0,
                    1.5e-7);
    }
    perf(w, mu, S, 0.02, p);
    json_t *dp = json_object_get(json_object_get(cs, "expected"), "derived_portfolio_performance");
    for (int i = 0; i < 3; i++)
        check_close("ef_efficient_return_short_closed_form", "performance", p[i],
                    json_number_value(json_array_get(dp, i)), 1e-7, 0);
}

Test(pf_optimize, ef_efficient_return_longshort_toy)
{
    NEED_DATA();
    double m[9] = {-0.15, -0.12, -0.1, -0.05, -0.01, 0.02, 0.03, 0.04, 0.05};
    double d[9] = {0.2, 0.2, 0.4, 0.3, 0.1, 0.5, 0.2, 0.3, 0.1};
    double cov[81] = {0}, w[9];
    for (int i = 0; i < 9; i++)
        cov[i * 9 + i] = d[i];
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.lo = -1;
    c.market_neutral = true;
    tl_err err = {0};
    cr_assert_eq(tl_pf_efficient_return(9, m, cov, 0.08, &c, w, &err), 0, "%s", err.msg);
    tl_pf_perf pp;
    cr_assert_eq(tl_pf_performance(9, w, m, cov, 0.02, &pp, &err), 0, "%s", err.msg);
    double p[3] = {pp.ret, pp.risk, pp.ratio};
    check_perf("ef_efficient_return_longshort_toy", p, 3);
    cr_expect(fabs(wsum(w, 9)) < 1e-12);
}

Test(pf_optimize, ef_max_sharpe_semicovariance)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double SC[N * N], w[N], p[3];
    cr_assert_eq(tl_pf_semicov(rets, 0, 252, SC, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_max_sharpe(N, mu, SC, 0.02, NULL, w, &err), 0, "%s", err.msg);
    perf(w, mu, SC, 0.02, p);
    check_perf("ef_max_sharpe_semicovariance", p, 3);
}

Test(pf_optimize, ef_bounds_infeasible_and_custom)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], p[3];
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.lo = 0.06;
    c.hi = 0.13;
    cr_expect_eq(tl_pf_min_volatility(N, S, &c, w, &err), TL_EINVAL, "ef_bounds_infeasible");
    cr_expect_not_null(strstr(err.msg, "lower bounds"), "%s", err.msg);
    c.lo = 0;
    c.hi = 0.04;
    cr_expect_eq(tl_pf_min_volatility(N, S, &c, w, &err), TL_EINVAL, "ef_bounds_infeasible");
    cr_expect_not_null(strstr(err.msg, "upper bounds"), "%s", err.msg);
    /* ef_custom_bounds_min_volatility */
    c.lo = 0.02;
    c.hi = 0.13;
    cr_assert_eq(tl_pf_min_volatility(N, S, &c, w, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++)
        cr_expect(w[i] >= 0.02 - 1e-12 && w[i] <= 0.13 + 1e-12);
    cr_expect(fabs(wsum(w, N) - 1) < 1.5e-7);
    perf(w, mu, S, 0.02, p);
    json_t *cs = case_by_id("ef_custom_bounds_min_volatility");
    json_t *dp = json_object_get(json_object_get(cs, "expected"),
                                 "derived_portfolio_performance_0.02_0.13");
    for (int i = 0; i < 3; i++)
        check_close("ef_custom_bounds_min_volatility", "performance", p[i],
                    json_number_value(json_array_get(dp, i)), 1e-7, 0);
    double lo[N], hi[N];
    for (int i = 0; i < N; i++) {
        lo[i] = i % 2 ? 0.02 : 0.01;
        hi[i] = i % 2 ? 0.11 : 0.13;
    }
    c.lo_each = lo;
    c.hi_each = hi;
    cr_assert_eq(tl_pf_min_volatility(N, S, &c, w, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++)
        cr_expect(w[i] >= lo[i] - 1e-12 && w[i] <= hi[i] + 1e-12);
    cr_expect(fabs(wsum(w, N) - 1) < 1.5e-7);
}

static const char *sector_of[N] = {"tech", "tech", "tech", "tech", "tech", "utility", "tech",
                                   "retail", "fig", "auto", "auto", "airline", "retail",
                                   "energy", "energy", "retail", "fig", "pharma", "fig",
                                   "retail"};
static const char *sectors[] = {"tech", "utility", "retail", "fig", "auto", "airline", "energy",
                                "pharma"};

static void sector_cons(tl_pf_constraints *c, int *gof, double *glo, double *ghi)
{
    for (int i = 0; i < N; i++)
        for (int g = 0; g < 8; g++)
            if (strcmp(sector_of[i], sectors[g]) == 0)
                gof[i] = g;
    double lo[8] = {NAN, 0.01, NAN, 0.02, NAN, 0.01, NAN, NAN};
    double hi[8] = {0.2, 0.1, 0.2, 0.4, NAN, 0.05, 0.2, NAN};
    memcpy(glo, lo, sizeof lo);
    memcpy(ghi, hi, sizeof hi);
    c->n_groups = 8;
    c->group_of = gof;
    c->group_lo = glo;
    c->group_hi = ghi;
}

static void check_sectors(const char *variant, const double *w, const tl_pf_constraints *c)
{
    for (int g = 0; g < 8; g++) {
        double s = 0;
        for (int i = 0; i < N; i++)
            if (c->group_of[i] == g)
                s += w[i];
        if (!isnan(c->group_lo[g]))
            cr_expect(s >= c->group_lo[g] - 1e-5, "ef_sector_constraints %s: %s sum %g < %g",
                      variant, sectors[g], s, c->group_lo[g]);
        if (!isnan(c->group_hi[g]))
            cr_expect(s <= c->group_hi[g] + 1e-5, "ef_sector_constraints %s: %s sum %g > %g",
                      variant, sectors[g], s, c->group_hi[g]);
    }
}

Test(pf_optimize, ef_sector_constraints, .timeout = 300)
{
    NEED_DATA();
    load();
    double mu_f[N];
    load_filtered(mu_f);
    tl_err err = {0};
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    int gof[N];
    double glo[8], ghi[8], w[N], risk;
    sector_cons(&c, gof, glo, ghi);
    cr_assert_eq(tl_pf_max_sharpe(N, mu, S, 0.02, &c, w, &err), 0, "%s", err.msg);
    check_sectors("max_sharpe", w, &c);
    cr_assert_eq(tl_pf_efficient_risk(N, mu, S, 0.19, &c, w, &err), 0, "%s", err.msg);
    check_sectors("efficient_risk", w, &c);
    tl_pf_constraints cn = c;
    cn.lo = NAN;
    cn.hi = NAN;
    cr_assert_eq(tl_pf_min_volatility(N, S, &cn, w, &err), 0, "%s", err.msg);
    check_sectors("min_volatility (None, None)", w, &cn);
    tl_pf_scenarios sc = {rets_f->n_rows, rets_f->v, 0.95};
    cr_assert_eq(tl_pf_min_cvar(N, &sc, &c, w, &risk, &err), 0, "%s", err.msg);
    check_sectors("min_cvar", w, &c);
    cr_assert_eq(tl_pf_min_cdar(N, &sc, &c, w, &risk, &err), 0, "%s", err.msg);
    check_sectors("min_cdar", w, &c);
    tl_pf_semi sm = {rets_f->n_rows, rets_f->v, 0, 252};
    cr_assert_eq(tl_pf_min_semivariance(N, &sm, &c, w, &err), 0, "%s", err.msg);
    check_sectors("min_semivariance", w, &c);
}

Test(pf_optimize, clean_weights_semantics)
{
    double w[5] = {0.123456789, 0.00009, -0.00005, 0.5000049999, -0.25};
    tl_err err = {0};
    cr_assert_eq(tl_pf_clean_weights(5, w, 1e-4, 5, &err), 0, "%s", err.msg);
    cr_expect_eq(w[0], 0.12346);
    cr_expect_eq(w[1], 0.0);
    cr_expect_eq(w[2], 0.0);
    cr_expect_eq(w[3], 0.5);
    cr_expect_eq(w[4], -0.25);
    cr_expect_eq(tl_pf_clean_weights(5, w, 1e-4, -1, &err), TL_EINVAL);
}

/* ---- HRP -------------------------------------------------------------------------- */

Test(pf_optimize, hrp_weights_single_linkage)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double cov[N * N], corr[N * N], w[N];
    size_t order[N];
    cr_assert_eq(tl_pf_cov_pairwise(rets, cov, corr, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_hrp(N, cov, corr, w, order, &err), 0, "%s", err.msg);
    size_t first[5] = {12, 6, 15, 14, 2};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(order[i], first[i], "hrp_weights_single_linkage: leaf %d is %zu, not %zu", i,
                     order[i], first[i]);
    json_t *c = case_by_id("hrp_weights_single_linkage");
    double rtol, atol;
    case_tol(c, &rtol, &atol);
    json_t *ew = json_object_get(json_object_get(c, "expected"), "weights");
    for (int i = 0; i < N; i++) {
        json_t *v = json_object_get(ew, px->tickers[i]);
        cr_assert_not_null(v);
        check_close("hrp_weights_single_linkage", px->tickers[i], w[i], json_number_value(v),
                    1e-12, 1e-15); /* tighter than the case's 1e-2: the method is exact */
    }
    cr_expect(fabs(wsum(w, N) - 1) < 1e-12);
    /* the cluster variance case */
    json_t *cv = case_by_id("hrp_cluster_variance");
    json_t *tk = json_object_get(json_object_get(cv, "setup"), "tickers");
    size_t idx[16], k = json_array_size(tk);
    for (size_t i = 0; i < k; i++)
        idx[i] = (size_t)tl_pf_table_col(px, json_string_value(json_array_get(tk, i)));
    double var;
    cr_assert_eq(tl_pf_hrp_cluster_var(N, cov, idx, k, &var, &err), 0, "%s", err.msg);
    check_close("hrp_cluster_variance", "variance", var,
                json_number_value(json_object_get(json_object_get(cv, "expected"), "value")), 0,
                1.5e-7);
}

Test(pf_optimize, erc_equalises_risk_contributions)
{
    double cov[9] = {0.04, 0.006, 0.01, 0.006, 0.09, 0.02, 0.01, 0.02, 0.16}, w[3];
    tl_err err = {0};
    cr_assert_eq(tl_pf_erc(3, cov, w, &err), 0, "%s", err.msg);
    double rc[3];
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += cov[i * 3 + j] * w[j];
        rc[i] = w[i] * s;
    }
    cr_expect(fabs(rc[0] - rc[1]) < 1e-14 && fabs(rc[1] - rc[2]) < 1e-14);
    cr_expect(fabs(w[0] + w[1] + w[2] - 1) < 1e-14);
}

/* ---- Black-Litterman ------------------------------------------------------------- */

static double spy_delta(double rf)
{
    tl_err err = {0};
    char p[1200];
    struct tl_pf_table *spy = NULL;
    snprintf(p, sizeof p, "%s/spy_prices.csv", mdir);
    cr_assert_eq(tl_pf_prices_read_csv(p, 0, &spy, &err), 0, "%s", err.msg);
    double d;
    cr_assert_eq(tl_pf_bl_market_risk_aversion(spy->n_rows, spy->v, 252, rf, &d, &err), 0, "%s",
                 err.msg);
    tl_pf_table_free(spy);
    return d;
}

Test(pf_optimize, bl_market_implied)
{
    NEED_DATA();
    load();
    json_t *c = case_by_id("bl_market_implied_risk_aversion");
    double d = spy_delta(0.02);
    cr_expect_eq(nearbyint(d * 1e5) / 1e5, 2.68549, "bl_market_implied_risk_aversion: %.10g", d);
    check_close("bl_market_implied_risk_aversion", "derived_rf0", spy_delta(0),
                json_number_value(json_object_get(json_object_get(c, "expected"), "derived_rf0")),
                1e-12, 0);
    json_t *cp = case_by_id("bl_market_implied_prior");
    json_t *caps = json_object_get(json_object_get(cp, "setup"), "market_caps");
    double mcap[N], pi[N];
    for (int i = 0; i < N; i++)
        mcap[i] = json_number_value(json_object_get(caps, px->tickers[i]));
    tl_err err = {0};
    cr_assert_eq(tl_pf_bl_market_prior(N, S, mcap, d, 0.02, pi, &err), 0, "%s", err.msg);
    json_t *ep = json_object_get(json_object_get(cp, "expected"), "pi_by_ticker");
    for (int i = 0; i < N; i++)
        check_close("bl_market_implied_prior", px->tickers[i], pi[i],
                    json_number_value(json_object_get(ep, px->tickers[i])), 0, 1.5e-6);
}

static const char *vt[5] = {"AAPL", "BBY", "BAC", "SBUX", "T"};
static const double vv[5] = {0.2, -0.3, 0, -0.2, 0.131321};

Test(pf_optimize, bl_equal_prior_and_no_prior)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double P[5 * N], Q[5], pi[N], post[N], postS[N * N], w[N], p[3];
    cr_assert_eq(tl_pf_bl_absolute_views(N, (const char *const *)px->tickers, 5, vt, vv, P, Q,
                                         &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++)
        pi[i] = 1.0 / N;
    cr_assert_eq(tl_pf_bl_posterior(N, S, pi, 5, P, Q, NULL, 0.05, post, postS, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(tl_pf_bl_weights(N, S, post, 1, w, &err), 0, "%s", err.msg);
    perf(w, post, postS, 0.02, p);
    check_perf("bl_equal_prior_performance", p, 3);
    /* no prior, delta from SPY with rf 0, cleaned weights equal exactly */
    cr_assert_eq(tl_pf_bl_posterior(N, S, NULL, 5, P, Q, NULL, 0.05, post, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(tl_pf_bl_weights(N, S, post, spy_delta(0), w, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_clean_weights(N, w, 1e-4, 5, &err), 0, "%s", err.msg);
    json_t *cw = json_object_get(json_object_get(case_by_id("bl_weights_no_prior"), "expected"),
                                 "clean_weights");
    for (int i = 0; i < N; i++) {
        double want = json_number_value(json_object_get(cw, px->tickers[i]));
        cr_expect_eq(w[i], want, "bl_weights_no_prior: %s = %.17g, expected %.17g",
                     px->tickers[i], w[i], want);
    }
}

Test(pf_optimize, bl_idzorek_identity_toy)
{
    double I[25] = {0}, P[25] = {0}, Q[5], pi[5], om[25], post[5];
    for (int i = 0; i < 5; i++) {
        I[i * 5 + i] = 1;
        P[i * 5 + i] = 1;
        Q[i] = 0.3;
        pi[i] = 0.1;
    }
    tl_err err = {0};
    double confs[7] = {0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.5};
    for (int c = 0; c < 7; c++) {
        double conf[5];
        for (int i = 0; i < 5; i++)
            conf[i] = confs[c];
        cr_assert_eq(tl_pf_bl_omega(5, I, 5, P, 0.05, conf, om, &err), 0, "%s", err.msg);
        if (confs[c] == 1.0)
            for (int i = 0; i < 25; i++)
                cr_expect_eq(om[i], 0.0);
        if (confs[c] == 0)
            cr_expect_eq(om[0], 1e6);
        cr_assert_eq(tl_pf_bl_posterior(5, I, pi, 5, P, Q, om, 0.05, post, NULL, &err), 0, "%s",
                     err.msg);
        for (int i = 0; i < 5; i++)
            check_close("bl_idzorek_identity_toy", "posterior", post[i], 0.1 + 0.2 * confs[c], 0,
                        1.5e-7);
    }
    /* bad confidence */
    double bad[5] = {1.5, 0, 0, 0, 0};
    cr_expect_eq(tl_pf_bl_omega(5, I, 5, P, 0.05, bad, om, &err), TL_EINVAL);
}

Test(pf_optimize, bl_parse_views_and_default_omega)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    const char *t3[3] = {"AAPL", "GOOG", "XOM"};
    double v3[3] = {0.2, -0.3, 0.4}, P[3 * N], Q[3];
    cr_assert_eq(tl_pf_bl_absolute_views(N, (const char *const *)px->tickers, 3, t3, v3, P, Q,
                                         &err), 0, "%s", err.msg);
    int nz = 0;
    for (int i = 0; i < 3 * N; i++)
        nz += P[i] != 0;
    cr_expect_eq(nz, 3, "bl_parse_views");
    cr_expect_eq(P[0 * N + 1], 1.0);
    cr_expect_eq(P[1 * N + 0], 1.0);
    cr_expect_eq(P[2 * N + 13], 1.0);
    cr_expect(Q[0] == 0.2 && Q[1] == -0.3 && Q[2] == 0.4);
    const char *bad[1] = {"ZZZZ"};
    cr_expect_eq(tl_pf_bl_absolute_views(N, (const char *const *)px->tickers, 1, bad, v3, P, Q,
                                         &err), TL_EINVAL, "bl_parse_views: unknown ticker");
    cr_expect_not_null(strstr(err.msg, "ZZZZ"), "%s", err.msg);
    /* default omega: diag(tau P S P') with P = I */
    double PI[N * N] = {0}, om[N * N];
    for (int i = 0; i < N; i++)
        PI[i * N + i] = 1;
    cr_assert_eq(tl_pf_bl_omega(N, S, N, PI, 0.05, NULL, om, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            check_close("bl_default_omega", "omega", om[i * N + j], i == j ? 0.05 * S[i * N + i] : 0,
                        0, 1.5e-6);
}

/* ---- discrete allocation ----------------------------------------------------------- */

Test(pf_optimize, discrete_allocation_greedy_long)
{
    NEED_DATA();
    load();
    tl_err err = {0};
    double w[N], latest[N], left;
    int64_t sh[N];
    cr_assert_eq(tl_pf_max_sharpe(N, mu, S, 0.02, NULL, w, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_latest_prices(px, latest, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_alloc_greedy(N, w, latest, 10000, 0.3, false, sh, &left, &err), 0, "%s",
                 err.msg);
    json_t *ea = json_object_get(json_object_get(case_by_id("discrete_allocation_greedy_long"),
                                                 "expected"), "allocation");
    double spent = 0;
    for (int i = 0; i < N; i++) {
        json_t *v = json_object_get(ea, px->tickers[i]);
        int64_t want = v ? (int64_t)json_integer_value(v) : 0;
        cr_expect_eq(sh[i], want, "discrete_allocation_greedy_long: %s %lld shares, expected %lld",
                     px->tickers[i], (long long)sh[i], (long long)want);
        spent += (double)sh[i] * latest[i];
    }
    cr_expect(fabs(spent + left - 10000) < 1.5e-4);
    /* integer programming: within budget, and no worse than greedy on its objective */
    int64_t si[N];
    double li;
    cr_assert_eq(tl_pf_alloc_integer(N, w, latest, 10000, NAN, false, si, &li, &err), 0, "%s",
                 err.msg);
    double obj_g = left, obj_i = li, si_spent = 0;
    for (int i = 0; i < N; i++) {
        obj_g += fabs(w[i] * 10000 - (double)sh[i] * latest[i]);
        obj_i += fabs(w[i] * 10000 - (double)si[i] * latest[i]);
        si_spent += (double)si[i] * latest[i];
        cr_expect(si[i] >= 0);
    }
    cr_expect(li >= -1e-9 && fabs(si_spent + li - 10000) < 1e-6);
    cr_expect(obj_i <= obj_g + 1e-9, "integer objective %g above greedy %g", obj_i, obj_g);
    double rmse;
    cr_assert_eq(tl_pf_alloc_rmse(N, w, latest, si, &rmse, &err), 0, "%s", err.msg);
    cr_expect(rmse < 0.02);
}

Test(pf_optimize, discrete_allocation_shorts_and_errors)
{
    double w[4] = {0.6, 0.6, -0.1, -0.1}, pr[4] = {10, 20, 5, 7}, left;
    int64_t sh[4];
    tl_err err = {0};
    cr_assert_eq(tl_pf_alloc_greedy(4, w, pr, 1000, NAN, false, sh, &left, &err), 0, "%s",
                 err.msg);
    cr_expect(sh[0] > 0 && sh[1] > 0 && sh[2] < 0 && sh[3] < 0);
    /* longs get 1000, shorts 1000 * 0.2 */
    double lv = sh[0] * pr[0] + sh[1] * pr[1], sv = -(sh[2] * pr[2] + sh[3] * pr[3]);
    cr_expect(fabs(lv + sv + left - 1200) < 1e-9);
    cr_expect_eq(tl_pf_alloc_greedy(4, w, pr, 0, NAN, false, sh, &left, &err), TL_EINVAL,
                 "discrete_allocation_errors: total 0");
    cr_expect_eq(tl_pf_alloc_greedy(4, w, pr, 1000, -0.1, false, sh, &left, &err), TL_EINVAL,
                 "discrete_allocation_errors: short ratio < 0");
    w[0] = NAN;
    cr_expect_eq(tl_pf_alloc_greedy(4, w, pr, 1000, NAN, false, sh, &left, &err), TL_EINVAL,
                 "discrete_allocation_errors: NaN weight");
    w[0] = 0.6;
    pr[1] = NAN;
    cr_expect_eq(tl_pf_alloc_greedy(4, w, pr, 1000, NAN, false, sh, &left, &err), TL_EINVAL,
                 "discrete_allocation_errors: NaN price");
    cr_expect_not_null(strstr(err.msg, "prices[1]"), "%s", err.msg);
}

/* ---- CVaR, CDaR, semivariance ----------------------------------------------------- */

/* The LPs have one exact optimum: beyond the upstream tolerance, the
 * independent HiGHS solution of each case (verification.independent_values)
 * must be matched to 1e-9 relative. */
static void check_exact(const char *id, const double *got, size_t k)
{
    json_t *c = case_by_id(id);
    json_t *iv = json_object_get(json_object_get(c, "verification"), "independent_values");
    cr_assert(json_is_array(iv), "case %s has no independent_values", id);
    for (size_t i = 0; i < k && i < json_array_size(iv); i++) {
        char what[48];
        snprintf(what, sizeof what, "independent_values[%zu]", i);
        double want = json_number_value(json_array_get(iv, i));
        check_close(id, what, got[i], want, 1e-9, 0);
    }
}

/* weights sum to one within the bounds, and the risk reported is the
 * historical one of those weights */
static void check_tail_w(const char *id, const double *w, const tl_pf_scenarios *sc, int cdar,
                         double risk)
{
    tl_err err = {0};
    double v;
    cr_expect(fabs(wsum(w, N) - 1) < 1e-12, "case %s: weights sum to %.17g", id, wsum(w, N));
    for (int i = 0; i < N; i++)
        cr_expect(w[i] >= 0 && w[i] <= 1, "case %s: w[%d] = %g", id, i, w[i]);
    cr_assert_eq(cdar ? tl_pf_cdar(N, sc, w, &v, &err) : tl_pf_cvar(N, sc, w, &v, &err), 0, "%s",
                 err.msg);
    cr_expect(v == risk, "case %s: risk %.17g but the weights' own is %.17g", id, risk, v);
}

Test(pf_optimize, cvar_cases, .timeout = 300)
{
    NEED_DATA();
    load();
    double mu_f[N];
    load_filtered(mu_f);
    tl_err err = {0};
    tl_pf_scenarios sc = {rets_f->n_rows, rets_f->v, 0.95};
    double w[N], risk, p[2];
    /* full-history mu, same 895 return rows */
    cr_assert_eq(tl_pf_min_cvar(N, &sc, NULL, w, &risk, &err), 0, "%s", err.msg);
    p[0] = tl_pf_portfolio_return(N, w, mu);
    p[1] = risk;
    check_perf("cvar_min_cvar_full_history_mu", p, 2);
    check_exact("cvar_min_cvar_full_history_mu", p, 2);
    check_tail_w("cvar_min_cvar_full_history_mu", w, &sc, 0, risk);
    cr_assert_eq(tl_pf_cvar_efficient_risk(N, &sc, mu_f, 0.02, NULL, w, &risk, &err), 0, "%s",
                 err.msg);
    p[0] = tl_pf_portfolio_return(N, w, mu_f);
    p[1] = risk;
    check_perf("cvar_efficient_risk_0.02", p, 2);
    check_exact("cvar_efficient_risk_0.02", p, 2);
    check_tail_w("cvar_efficient_risk_0.02", w, &sc, 0, risk);
    cr_assert_eq(tl_pf_cvar_efficient_return(N, &sc, mu_f, 0.25, NULL, w, &risk, &err), 0, "%s",
                 err.msg);
    p[0] = tl_pf_portfolio_return(N, w, mu_f);
    p[1] = risk;
    check_perf("cvar_efficient_return_0.25", p, 2);
    check_exact("cvar_efficient_return_0.25", p, 2);
    check_tail_w("cvar_efficient_return_0.25", w, &sc, 0, risk);
    /* a CVaR target below the minimum, a return above the maximum; the
     * weights are left alone */
    double keep[N];
    memcpy(keep, w, sizeof keep);
    cr_expect_eq(tl_pf_cvar_efficient_risk(N, &sc, mu_f, 0.001, NULL, w, &risk, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "below the smallest CVaR"), "%s", err.msg);
    cr_expect_eq(tl_pf_cvar_efficient_return(N, &sc, mu_f, 5, NULL, w, &risk, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "maximum return"), "%s", err.msg);
    cr_expect(memcmp(keep, w, sizeof keep) == 0, "weights changed by a failed call");
}

Test(pf_optimize, cdar_cases, .timeout = 300)
{
    NEED_DATA();
    load();
    double mu_f[N];
    load_filtered(mu_f);
    tl_err err = {0};
    tl_pf_scenarios sc = {rets_f->n_rows, rets_f->v, 0.95};
    double w[N], risk, p[2];
    cr_assert_eq(tl_pf_min_cdar(N, &sc, NULL, w, &risk, &err), 0, "%s", err.msg);
    p[0] = tl_pf_portfolio_return(N, w, mu_f);
    p[1] = risk;
    check_perf("cdar_min_cdar", p, 2);
    check_exact("cdar_min_cdar", p, 2);
    check_tail_w("cdar_min_cdar", w, &sc, 1, risk);
    double least = risk;
    cr_assert_eq(tl_pf_cdar_efficient_risk(N, &sc, mu_f, 0.08, NULL, w, &risk, &err), 0, "%s",
                 err.msg);
    p[0] = tl_pf_portfolio_return(N, w, mu_f);
    p[1] = risk;
    check_perf("cdar_efficient_risk_0.08", p, 2);
    check_exact("cdar_efficient_risk_0.08", p, 2);
    check_tail_w("cdar_efficient_risk_0.08", w, &sc, 1, risk);
    /* efficient_return at the return of efficient_risk(0.08) comes back to
     * CDaR 0.08: the two are the same point of the frontier */
    double ret = p[0];
    cr_assert_eq(tl_pf_cdar_efficient_return(N, &sc, mu_f, ret, NULL, w, &risk, &err), 0, "%s",
                 err.msg);
    cr_expect(fabs(risk - 0.08) < 1e-9, "CDaR at return %.12g is %.12g, not 0.08", ret, risk);
    cr_expect(fabs(tl_pf_portfolio_return(N, w, mu_f) - ret) < 1e-12);
    /* a target at the minimum itself is feasible; below it is not */
    cr_assert_eq(tl_pf_cdar_efficient_risk(N, &sc, mu_f, least, NULL, w, &risk, &err), 0, "%s",
                 err.msg);
    cr_expect(fabs(risk - least) < 1e-12, "CDaR %.17g at target %.17g", risk, least);
    cr_expect_eq(tl_pf_cdar_efficient_risk(N, &sc, mu_f, 0.9 * least, NULL, w, &risk, &err),
                 TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "below the smallest CDaR"), "%s", err.msg);
    cr_expect_eq(tl_pf_cdar_efficient_return(N, &sc, mu_f, 5, NULL, w, &risk, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "maximum return"), "%s", err.msg);
}

Test(pf_optimize, tail_infeasible_groups)
{
    NEED_DATA();
    load();
    load_filtered(NULL);
    tl_err err = {0};
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    int gof[N];
    double glo[8], ghi[8], w[N], risk;
    sector_cons(&c, gof, glo, ghi);
    /* every sector capped at 0.1: the weights cannot reach a sum of 1 */
    for (int g = 0; g < 8; g++) {
        glo[g] = NAN;
        ghi[g] = 0.1;
    }
    tl_pf_scenarios sc = {rets_f->n_rows, rets_f->v, 0.95};
    cr_expect_eq(tl_pf_min_cdar(N, &sc, &c, w, &risk, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "infeasible"), "%s", err.msg);
    cr_expect_eq(tl_pf_min_cvar(N, &sc, &c, w, &risk, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "infeasible"), "%s", err.msg);
}

Test(pf_optimize, cdar_small)
{
    /* a 3-asset, 6-day CDaR that the historical definition checks */
    double r[18] = {0.01, -0.02, 0.00, -0.03, 0.01, 0.01, 0.02, -0.01, -0.01,
                    -0.01, 0.02, 0.00, 0.00, -0.01, 0.02, 0.01, 0.00, -0.02};
    tl_pf_scenarios sc = {6, r, 0.8};
    double w[3], risk, check;
    tl_err err = {0};
    cr_assert_eq(tl_pf_min_cdar(3, &sc, NULL, w, &risk, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_cdar(3, &sc, w, &check, &err), 0, "%s", err.msg);
    cr_expect(fabs(risk - check) < 1e-15);
    /* no other weights on a grid do better */
    for (int a = 0; a <= 50; a++)
        for (int b = 0; a + b <= 50; b++) {
            double g[3] = {a / 50.0, b / 50.0, 1 - (a + b) / 50.0}, v;
            cr_assert_eq(tl_pf_cdar(3, &sc, g, &v, &err), 0, "%s", err.msg);
            cr_expect(v >= risk - 1e-12, "grid point (%g, %g) has CDaR %g < %g", g[0], g[1], v,
                      risk);
        }
}

Test(pf_optimize, semivariance_cases, .timeout = 300)
{
    NEED_DATA();
    load();
    double mu_f[N];
    load_filtered(mu_f);
    tl_err err = {0};
    tl_pf_semi sm = {rets_f->n_rows, rets_f->v, 0, 252};
    double w[N], p[3];
    tl_pf_perf pp;
    cr_assert_eq(tl_pf_semivariance_efficient_return(N, &sm, mu_f, 0.2, NULL, w, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(tl_pf_semivariance_performance(N, &sm, w, mu_f, 0.02, &pp, &err), 0, "%s",
                 err.msg);
    p[0] = pp.ret;
    p[1] = pp.risk;
    p[2] = pp.ratio;
    check_perf("semivariance_efficient_return_0.2", p, 3);
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.gamma = 1;
    cr_assert_eq(tl_pf_min_semivariance(N, &sm, &c, w, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_semivariance_performance(N, &sm, w, mu_f, 0.02, &pp, &err), 0, "%s",
                 err.msg);
    p[0] = pp.ret;
    p[1] = pp.risk;
    p[2] = pp.ratio;
    check_perf("semivariance_min_semivariance_L2", p, 3);
    /* efficient risk meets its target; utility runs */
    cr_assert_eq(tl_pf_semivariance_efficient_risk(N, &sm, mu_f, 0.12, NULL, w, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(tl_pf_semivariance_performance(N, &sm, w, mu_f, 0.02, &pp, &err), 0, "%s",
                 err.msg);
    cr_expect(fabs(pp.risk - 0.12) < 1e-9, "semideviation %.12g", pp.risk);
    cr_assert_eq(tl_pf_semivariance_max_utility(N, &sm, mu_f, 1, NULL, w, &err), 0, "%s",
                 err.msg);
    cr_expect(fabs(wsum(w, N) - 1) < 1e-9);
}

/* ---- bad arguments (always run) --------------------------------------------------- */

Test(pf_optimize, bad_arguments)
{
    double cov[4] = {0.04, 0.01, 0.01, 0.09}, m[2] = {0.1, 0.2}, w[2];
    tl_err err = {0};
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    cr_expect_eq(tl_pf_min_volatility(0, cov, &c, w, &err), TL_EINVAL);
    double bad[4] = {0.04, NAN, 0.01, 0.09};
    cr_expect_eq(tl_pf_min_volatility(2, bad, &c, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "S[1]"), "%s", err.msg);
    double asym[4] = {0.04, 0.02, 0.01, 0.09};
    cr_expect_eq(tl_pf_min_volatility(2, asym, &c, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "symmetric"), "%s", err.msg);
    cr_expect_eq(tl_pf_max_sharpe(2, m, cov, 0.5, &c, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "risk-free"), "%s", err.msg);
    cr_expect_eq(tl_pf_max_quadratic_utility(2, m, cov, 0, &c, w, &err), TL_EINVAL);
    c.lo = 0.7;
    cr_expect_eq(tl_pf_min_volatility(2, cov, &c, w, &err), TL_EINVAL);
    c.lo = 0.6;
    c.hi = 0.5;
    cr_expect_eq(tl_pf_min_volatility(2, cov, &c, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "asset 0"), "%s", err.msg);
    /* groups that cannot hold together */
    tl_pf_constraints g = TL_PF_CONSTRAINTS_DEFAULT;
    int gof[2] = {0, 0};
    double glo[1] = {NAN}, ghi[1] = {0.5};
    g.n_groups = 1;
    g.group_of = gof;
    g.group_lo = glo;
    g.group_hi = ghi;
    cr_expect_eq(tl_pf_min_volatility(2, cov, &g, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "infeasible"), "%s", err.msg);
    gof[1] = 3;
    cr_expect_eq(tl_pf_min_volatility(2, cov, &g, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "group_of[1]"), "%s", err.msg);
    /* a sigma the constraints cannot reach */
    tl_pf_constraints d = TL_PF_CONSTRAINTS_DEFAULT;
    /* global minimum 0.1784 (w0 = 0.727); with w0 <= 0.6 the least is 0.1833 */
    d.hi = 0.6;
    cr_expect_eq(tl_pf_efficient_risk(2, m, cov, 0.18, &d, w, &err), TL_EINVAL);
    cr_expect_not_null(strstr(err.msg, "minimum volatility"), "%s", err.msg);
    /* two-asset min vol in closed form: w0 = (s22 - s12)/(s11 + s22 - 2 s12) */
    cr_assert_eq(tl_pf_min_volatility(2, cov, NULL, w, &err), 0, "%s", err.msg);
    cr_expect(fabs(w[0] - 0.08 / 0.11) < 1e-15, "w0 %.17g", w[0]);
}
