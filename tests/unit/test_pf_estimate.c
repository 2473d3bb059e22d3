/*
 * test_pf_estimate.c - the estimation core of the portfolio engine against
 * PyPortfolioOpt's reference cases ($TELLER_SHARED/data/markets/
 * reference_cases.json, skipped visibly when absent), each within the
 * tolerance the case states, plus bad input: malformed CSVs, non-positive
 * prices, duplicate and unsorted dates, unknown tickers, too few rows.
 *
 * Cases are run by method, reading their setup, so a new case of a kind
 * already handled needs no new code; a case of our kinds that no handler
 * understands fails naming its id.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/pf_estimate.h>

#include "testutil.h"


/* ---- loading the data ---------------------------------------------------- */

static char *markets_path(const char *file)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 1024, "%s/data/markets/%s", tu_shared_dir(), file);
    return p;
}

static json_t *load_cases(void)
{
    const char *path = markets_path("reference_cases.json");
    if (access(path, R_OK) != 0)
        cr_skip_test("market reference cases not found at %s (set TELLER_SHARED)", path);
    json_error_t je;
    json_t *cases = json_load_file(path, 0, &je);
    cr_assert_not_null(cases, "%s:%d: %s", path, je.line, je.text);
    return cases;
}

static struct tl_pf_table *load_prices(const char *file)
{
    struct tl_pf_table *t = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_pf_prices_read_csv(markets_path(file), 0, &t, &err), 0, "%s", err.msg);
    return t;
}

/* The prices of a case: setup.prices (a CSV in the markets folder) or
 * setup.prices_inline (rows of numbers, dated 0, 1, 2...). */
static struct tl_pf_table *case_prices(const char *id, json_t *setup)
{
    json_t *inl = json_object_get(setup, "prices_inline");
    if (!inl)
        return load_prices(json_string_value(json_object_get(setup, "prices")));
    size_t T = json_array_size(inl), n = json_array_size(json_array_get(inl, 0));
    double *v = malloc(T * n * sizeof *v);
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < n; j++)
            v[i * n + j] = json_number_value(json_array_get(json_array_get(inl, i), j));
    struct tl_pf_table *t = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_pf_table_new(T, n, v, NULL, NULL, &t, &err), 0, "%s: %s", id, err.msg);
    free(v);
    return t;
}

static struct tl_pf_table *returns_of(const struct tl_pf_table *px, bool log_returns)
{
    struct tl_pf_table *r = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_pf_returns(px, log_returns, &r, &err), 0, "%s", err.msg);
    return r;
}

static double num_or(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static bool bool_or(json_t *o, const char *key, bool dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* ---- tolerances ----------------------------------------------------------- */

/* A case's tolerance: abs_tol (|a - e| < abs_tol, numpy assert_almost_equal),
 * rtol/atol (|a - e| <= atol + rtol |e|, assert_allclose / pandas), pandas'
 * defaults (rtol 1e-5, atol 1e-8) when only the assertion is named, or exact. */
struct tol {
    double abs_tol, rtol, atol;
    bool exact;
};

static struct tol case_tol(json_t *c)
{
    json_t *t = json_object_get(c, "tolerance");
    struct tol r = {0};
    const char *rule = json_string_value(json_object_get(t, "rule"));
    if (json_object_get(t, "abs_tol"))
        r.abs_tol = num_or(t, "abs_tol", 0);
    else if (json_object_get(t, "rtol") || json_object_get(t, "atol")) {
        r.rtol = num_or(t, "rtol", 0);
        r.atol = num_or(t, "atol", 0);
    } else if (rule && strcmp(rule, "==") == 0)
        r.exact = true;
    else {
        r.rtol = 1e-5;
        r.atol = 1e-8;
    }
    return r;
}

static void check_close(const char *id, const char *what, double got, double want, struct tol t)
{
    bool ok;
    if (t.exact)
        ok = got == want;
    else if (t.abs_tol > 0)
        ok = fabs(got - want) < t.abs_tol;
    else
        ok = fabs(got - want) <= t.atol + t.rtol * fabs(want);
    cr_assert(ok, "case %s: %s = %.17g, expected %.17g (|diff| %.3g)", id, what, got, want,
              fabs(got - want));
}

/* mu against expected.mu (a list in column order) or expected.mu_by_ticker. */
static void check_vector(const char *id, json_t *expected, const char *list_key,
                         const char *dict_key, const struct tl_pf_table *t, const double *got,
                         struct tol tol)
{
    json_t *list = json_object_get(expected, list_key), *dict = json_object_get(expected, dict_key);
    cr_assert(list || dict, "case %s: no expected %s or %s", id, list_key, dict_key);
    if (list) {
        cr_assert_eq(json_array_size(list), t->n_assets, "case %s: %zu expected values for %zu assets",
                     id, json_array_size(list), t->n_assets);
        for (size_t j = 0; j < t->n_assets; j++)
            check_close(id, t->tickers[j], got[j], json_number_value(json_array_get(list, j)), tol);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(dict, k, v) {
        int j = tl_pf_table_col(t, k);
        cr_assert(j >= 0, "case %s: unknown ticker %s", id, k);
        check_close(id, k, got[j], json_number_value(v), tol);
    }
}

static void check_matrix(const char *id, json_t *m, const double *S, size_t n, double scale,
                         struct tol tol)
{
    cr_assert_eq(json_array_size(m), n, "case %s: matrix of %zu rows for %zu assets", id,
                 json_array_size(m), n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            char what[64];
            snprintf(what, sizeof what, "S[%zu][%zu]", i, j);
            check_close(id, what, S[i * n + j] / scale,
                        json_number_value(json_array_get(json_array_get(m, i), j)), tol);
        }
}

static bool is_psd(size_t n, const double *S)
{
    bool psd = false;
    tl_err err = {0};
    cr_assert_eq(tl_pf_psd_check(n, S, &psd, &err), 0, "%s", err.msg);
    return psd;
}

/* ---- handlers, one per method ------------------------------------------- */

static void run_data(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px = case_prices(id, setup);
    struct tl_pf_table *r = returns_of(px, false);
    cr_assert_eq(px->n_rows, (size_t)num_or(ex, "rows", -1), "case %s: rows %zu", id, px->n_rows);
    cr_assert_eq(px->n_assets, (size_t)num_or(ex, "columns", -1), "case %s: columns %zu", id, px->n_assets);
    cr_assert_eq(r->n_rows, (size_t)num_or(ex, "returns_rows_after_pct_change_dropna_all", -1),
                 "case %s: return rows %zu", id, r->n_rows);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

static void run_returns(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px = case_prices(id, setup);
    bool lg = bool_or(setup, "log_returns", false);
    struct tl_pf_table *r = returns_of(px, lg), *simple = returns_of(px, false);
    size_t n = r->n_assets, last = r->n_rows - 1;
    struct tol tol = case_tol(c);
    if (json_object_get(ex, "derived_last_row"))
        check_vector(id, ex, "-", "derived_last_row", r, r->v + last * n, tol);
    if (json_object_get(ex, "value")) /* the last row's last column */
        check_close(id, "last value", r->v[last * n + n - 1], num_or(ex, "value", 0), tol);
    if (bool_or(ex, "nan_count_unchanged", false)) {
        size_t a = 0, b = 0;
        for (size_t k = 0; k < r->n_rows * n; k++) {
            a += isnan(r->v[k]) != 0;
            b += isnan(simple->v[k]) != 0;
        }
        cr_assert_eq(a, b, "case %s: %zu missing log returns, %zu missing returns", id, a, b);
        cr_assert_gt(a, 0, "case %s: the returns before listing should be missing", id);
    }
    tl_pf_table_free(simple);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

/* A returns table per the setup: optional dropna of prices first. */
static struct tl_pf_table *setup_returns(const char *id, json_t *setup, struct tl_pf_table **px)
{
    *px = case_prices(id, setup);
    return returns_of(*px, bool_or(setup, "log_returns", false));
}

static void run_mean(const char *id, json_t *c, int kind)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
    bool comp = bool_or(setup, "compounding", true);
    double freq = num_or(setup, "frequency", 252);
    double *mu = calloc(r->n_assets, sizeof *mu);
    tl_err err = {0};
    int rc;
    if (kind == 0) {
        rc = tl_pf_mean_return(r, comp, freq, mu, &err);
    } else if (kind == 1) {
        rc = tl_pf_ema_return(r, comp, num_or(setup, "span", 500), freq, mu, &err);
    } else {
        struct tl_pf_table *mpx = NULL, *mr = NULL;
        const char *mfile = json_string_value(json_object_get(setup, "market_prices"));
        if (mfile) {
            mpx = load_prices(mfile);
            mr = returns_of(mpx, bool_or(setup, "log_returns", false));
        }
        rc = tl_pf_capm_return(r, mr, num_or(setup, "risk_free_rate", 0), comp, freq, mu, NULL, &err);
        tl_pf_table_free(mr);
        tl_pf_table_free(mpx);
    }
    cr_assert_eq(rc, 0, "case %s: %s", id, err.msg);
    check_vector(id, ex, "mu", "mu_by_ticker", r, mu, case_tol(c));
    /* the independent full-precision values, where given, to 1e-9 */
    json_t *fp = json_object_get(json_object_get(c, "verification"), "full_precision");
    if (fp) {
        json_t *wrap = json_pack("{sO}", "fp", fp);
        check_vector(id, wrap, "-", "fp", r, mu, (struct tol){.rtol = 1e-9, .atol = 1e-11});
        json_decref(wrap);
    }
    free(mu);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

static void run_sample_cov(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
    size_t n = r->n_assets;
    double *S = calloc(n * n, sizeof *S), *S2 = calloc(n * n, sizeof *S2);
    tl_err err = {0};
    struct tol tol = case_tol(c);
    json_t *freqs = json_object_get(setup, "frequencies");
    if (json_object_get(ex, "matrix")) {
        double freq = num_or(setup, "frequency", 252);
        cr_assert_eq(tl_pf_sample_cov(r, freq, S, NULL, &err), 0, "case %s: %s", id, err.msg);
        const char *post = json_string_value(json_object_get(setup, "post"));
        double scale = post && strstr(post, "divided") ? freq : 1;
        check_matrix(id, json_object_get(ex, "matrix"), S, n, scale, tol);
    } else if (freqs) {
        /* sample_cov(freq=a) / (a/b) == sample_cov(freq=b), and PSD */
        double a = json_number_value(json_array_get(freqs, 0));
        double b = json_number_value(json_array_get(freqs, 1));
        cr_assert_eq(tl_pf_sample_cov(r, a, S, NULL, &err), 0, "case %s: %s", id, err.msg);
        cr_assert_eq(tl_pf_sample_cov(r, b, S2, NULL, &err), 0, "case %s: %s", id, err.msg);
        for (size_t k = 0; k < n * n; k++)
            check_close(id, "S(a)/(a/b) vs S(b)", S[k] / (a / b), S2[k], tol);
        json_t *shape = json_object_get(ex, "shape");
        if (shape)
            cr_assert_eq(n, (size_t)json_integer_value(json_array_get(shape, 0)), "case %s: shape", id);
        if (bool_or(ex, "psd", false))
            cr_assert(is_psd(n, S), "case %s: sample cov is not PSD", id);
    } else {
        cr_assert_fail("case %s: no handler for this sample_cov case", id);
    }
    free(S);
    free(S2);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

static double sum_all(size_t n, const double *S)
{
    double s = 0;
    for (size_t k = 0; k < n * n; k++)
        s += S[k];
    return s;
}

static void run_semicov(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
    size_t n = r->n_assets;
    double *S = calloc(n * n, sizeof *S), *S2 = calloc(n * n, sizeof *S2);
    tl_err err = {0};
    struct tol tol = case_tol(c);
    double freq = num_or(setup, "frequency", 252), bench = num_or(setup, "benchmark", 0.000079);
    cr_assert_eq(tl_pf_semicov(r, bench, freq, S, NULL, &err), 0, "case %s: %s", id, err.msg);
    json_t *m = json_object_get(ex, "matrix");
    if (json_is_string(m)) {
        cr_assert(strstr(json_string_value(m), "all zeros"), "case %s: no handler for %s", id,
                  json_string_value(m));
        for (size_t k = 0; k < n * n; k++)
            check_close(id, "semicov entry", S[k], 0.0, tol);
    } else {
        check_matrix(id, m, S, n, 1, tol);
    }
    const char *extra = json_string_value(json_object_get(ex, "relation_extra"));
    if (extra && strstr(extra, "benchmark=1")) {
        cr_assert_eq(tl_pf_semicov(r, 1, 252, S, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_pf_semicov(r, 0, 252, S2, NULL, &err), 0, "%s", err.msg);
        cr_assert_gt(sum_all(n, S), sum_all(n, S2), "case %s: semicov(1) should exceed semicov(0)", id);
    }
    if (extra && strstr(extra, "freq=2")) {
        cr_assert_eq(tl_pf_semicov(r, 0.000079, 252, S, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_pf_semicov(r, 0.000079, 2, S2, NULL, &err), 0, "%s", err.msg);
        for (size_t k = 0; k < n * n; k++)
            check_close(id, "semicov(252)/126 vs semicov(2)", S[k] / 126, S2[k],
                        (struct tol){.rtol = 1e-12, .atol = 1e-15});
    }
    free(S);
    free(S2);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

static void run_exp_cov(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
    size_t n = r->n_assets;
    double *S = calloc(n * n, sizeof *S);
    tl_err err = {0};
    double freq = num_or(setup, "frequency", 252);
    cr_assert_eq(tl_pf_exp_cov(r, num_or(setup, "span", 180), freq, S, NULL, &err), 0, "case %s: %s", id,
                 err.msg);
    json_t *m = json_object_get(ex, "matrix");
    cr_assert(json_is_array(m), "case %s: no handler for this exp_cov case", id);
    const char *post = json_string_value(json_object_get(setup, "post"));
    check_matrix(id, m, S, n, post && strstr(post, "divided") ? freq : 1, case_tol(c));
    free(S);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

static void run_shrunk(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup");
    struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
    size_t n = r->n_assets;
    double freq = num_or(setup, "frequency", 252);
    double *S = calloc(n * n, sizeof *S), *ref = calloc(n * n, sizeof *ref);
    tl_err err = {0};
    struct tol tol = case_tol(c);
    json_t *deltas = json_object_get(setup, "deltas");
    cr_assert(deltas, "case %s: no handler for this shrunk_covariance case", id);
    size_t i;
    json_t *d;
    json_array_foreach(deltas, i, d) {
        double delta = json_number_value(d);
        struct tl_pf_risk_info info;
        cr_assert_eq(tl_pf_shrunk_cov(r, delta, freq, S, &info, &err), 0, "case %s: %s", id, err.msg);
        cr_assert_eq(tl_pf_cov_pairwise(r, ref, NULL, &err), 0, "%s", err.msg);
        if (delta == 0) {
            cr_assert_eq(tl_pf_sample_cov(r, freq, ref, NULL, &err), 0, "%s", err.msg);
        } else if (delta == 1) {
            double tr = 0;
            for (size_t k = 0; k < n; k++)
                tr += ref[k * n + k];
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++)
                    ref[a * n + b] = a == b ? tr / n * freq : 0;
        } else {
            cr_assert_fail("case %s: no relation for delta %g", id, delta);
        }
        for (size_t k = 0; k < n * n; k++)
            check_close(id, delta == 0 ? "delta 0 vs sample_cov" : "delta 1 vs scaled identity", S[k],
                        ref[k], tol);
    }
    free(S);
    free(ref);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
}

static void run_ledoit_wolf(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
    size_t n = r->n_assets;
    double *S = calloc(n * n, sizeof *S);
    tl_err err = {0};
    static const char *names[] = {"constant_variance", "single_factor", "constant_correlation"};
    json_t *targets = json_object_get(setup, "targets"), *derived = json_object_get(ex, "derived_delta");
    size_t i;
    json_t *tj;
    json_array_foreach(targets, i, tj) {
        const char *name = json_string_value(tj);
        int target = -1;
        for (int k = 0; k < 3; k++)
            if (strcmp(name, names[k]) == 0)
                target = k;
        cr_assert(target >= 0, "case %s: unknown target %s", id, name);
        struct tl_pf_risk_info info;
        cr_assert_eq(tl_pf_ledoit_wolf(r, (enum tl_pf_lw_target)target, num_or(setup, "frequency", 252), S,
                                       &info, &err),
                     0, "case %s: %s", id, err.msg);
        cr_assert(info.shrinkage > 0 && info.shrinkage < 1, "case %s: %s shrinkage %g outside (0, 1)", id,
                  name, info.shrinkage);
        cr_assert(is_psd(n, S), "case %s: %s result is not PSD", id, name);
        /* the re-implemented constants (not asserted upstream) to 1e-9 */
        if (json_object_get(derived, name))
            check_close(id, name, info.shrinkage, num_or(derived, name, 0),
                        (struct tol){.rtol = 1e-9, .atol = 1e-12});
    }
    tl_pf_table_free(r);
    tl_pf_table_free(px);
    free(S);
}

static double *json_matrix(json_t *m, size_t *n)
{
    *n = json_array_size(m);
    double *M = malloc(*n * *n * sizeof *M);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < *n; j++)
            M[i * *n + j] = json_number_value(json_array_get(json_array_get(m, i), j));
    return M;
}

static void run_fix_psd(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    size_t n;
    double *M0 = json_matrix(json_object_get(setup, "matrix"), &n), *M = malloc(n * n * sizeof *M);
    cr_assert_eq(is_psd(n, M0), bool_or(ex, "input_is_psd", true), "case %s: input PSD check", id);
    size_t i;
    json_t *mj;
    json_array_foreach(json_object_get(setup, "fix_methods"), i, mj) {
        const char *name = json_string_value(mj);
        enum tl_pf_psd_fix fm = strcmp(name, "diag") == 0 ? TL_PF_FIX_DIAG : TL_PF_FIX_SPECTRAL;
        memcpy(M, M0, n * n * sizeof *M);
        bool fixed = false, bad = true;
        tl_err err = {0};
        cr_assert_eq(tl_pf_psd_fix(n, M, fm, &fixed, &bad, &err), 0, "case %s: %s", id, err.msg);
        cr_assert(fixed, "case %s: %s did not report a fix", id, name);
        cr_assert_eq(is_psd(n, M), bool_or(ex, "output_is_psd", true), "case %s: %s output PSD", id, name);
        cr_assert(!bad, "case %s: %s reports the fixed matrix still bad", id, name);
    }
    if (json_object_get(ex, "unknown_method")) {
        tl_err err = {0};
        memcpy(M, M0, n * n * sizeof *M);
        cr_assert_eq(tl_pf_psd_fix(n, M, (enum tl_pf_psd_fix)7, NULL, NULL, &err), TL_EUNSUPPORTED,
                     "case %s: an unknown fix method", id);
    }
    free(M0);
    free(M);
}

/* A vector from the setup: a JSON list, or "equal 1/N". */
static double *setup_vec(json_t *v, size_t n_hint, size_t *n)
{
    if (json_is_array(v)) {
        *n = json_array_size(v);
        double *x = malloc(*n * sizeof *x);
        for (size_t i = 0; i < *n; i++)
            x[i] = json_number_value(json_array_get(v, i));
        return x;
    }
    *n = n_hint;
    double *x = malloc(*n * sizeof *x);
    for (size_t i = 0; i < *n; i++)
        x[i] = 1.0 / (double)*n;
    return x;
}

/* A covariance from the setup: "diag(a,b,...)", "identity NxN", a matrix,
 * or a risk model of the prices. */
static double *setup_cov(const char *id, json_t *setup, size_t n)
{
    json_t *cm = json_object_get(setup, "cov_matrix");
    double *S = calloc(n * n, sizeof *S);
    if (json_is_array(cm)) {
        size_t m;
        free(S);
        S = json_matrix(cm, &m);
        cr_assert_eq(m, n, "case %s: cov_matrix size", id);
    } else if (json_is_string(cm) && strncmp(json_string_value(cm), "diag(", 5) == 0) {
        const char *p = json_string_value(cm) + 5;
        for (size_t i = 0; i < n; i++) {
            char *end;
            S[i * n + i] = strtod(p, &end);
            p = end + 1;
        }
    } else if (json_is_string(cm) && strncmp(json_string_value(cm), "identity", 8) == 0) {
        for (size_t i = 0; i < n; i++)
            S[i * n + i] = 1;
    } else {
        json_t *rm = json_object_get(setup, "risk_model");
        const char *est = json_string_value(json_object_get(rm, "estimator"));
        cr_assert(est && strcmp(est, "sample_cov") == 0, "case %s: no handler for this covariance", id);
        struct tl_pf_table *px, *r = setup_returns(id, setup, &px);
        cr_assert_eq(r->n_assets, n, "case %s: weights for %zu assets, prices have %zu", id, n, r->n_assets);
        tl_err err = {0};
        cr_assert_eq(tl_pf_sample_cov(r, num_or(rm, "frequency", 252), S, NULL, &err), 0, "%s", err.msg);
        tl_pf_table_free(r);
        tl_pf_table_free(px);
    }
    return S;
}

static void run_objective(const char *id, json_t *c, const char *fn)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tol tol = case_tol(c);
    json_t *wj = json_object_get(setup, "weights");
    if (!wj)
        wj = json_object_get(setup, "w"); /* transaction_cost names them w */
    size_t n = 0;
    if (json_is_string(wj) && json_object_get(setup, "prices")) {
        struct tl_pf_table *px = case_prices(id, setup);
        n = px->n_assets;
        tl_pf_table_free(px);
    }
    double *w = wj ? setup_vec(wj, n, &n) : NULL;
    double want = json_object_get(ex, "value") ? num_or(ex, "value", 0) : num_or(ex, "derived_value", NAN);
    double got;
    if (strcmp(fn, "portfolio_variance") == 0) {
        double *S = setup_cov(id, setup, n);
        got = tl_pf_portfolio_variance(n, w, S);
        free(S);
    } else if (strcmp(fn, "portfolio_return") == 0) {
        size_t m;
        double *mu = setup_vec(json_object_get(setup, "expected_returns"), n, &m);
        got = tl_pf_portfolio_return(n, w, mu);
        if (bool_or(setup, "negative", true))
            got = -got; /* PyPortfolioOpt's default returns the negative, for minimisers */
        free(mu);
    } else if (strcmp(fn, "L2_reg") == 0) {
        got = tl_pf_l2_reg(n, w, num_or(setup, "gamma", 1));
    } else if (strcmp(fn, "transaction_cost") == 0) {
        size_t m;
        double *prev = setup_vec(json_object_get(setup, "w_prev"), n, &m);
        got = tl_pf_transaction_cost(n, w, prev, num_or(setup, "k", 0.001));
        /* upstream compares with == against k * np.abs(old - new).sum() */
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += fabs(prev[i] - w[i]);
        want = num_or(setup, "k", 0.001) * s;
        cr_assert(fabs(want - num_or(ex, "value", 0)) < 1e-15, "case %s: reference value", id);
        free(prev);
    } else if (strcmp(fn, "ex_ante_tracking_error") == 0) {
        size_t m;
        double *S = setup_cov(id, setup, n);
        double *wb = setup_vec(json_object_get(setup, "benchmark_weights"), n, &m);
        got = tl_pf_ex_ante_tracking_error(n, w, S, wb);
        free(S);
        free(wb);
    } else {
        cr_assert_fail("case %s: no handler for objective_functions.%s", id, fn);
        return;
    }
    check_close(id, fn, got, want, tol);
    free(w);
}

static void run_latest(const char *id, json_t *c)
{
    json_t *setup = json_object_get(c, "setup"), *ex = json_object_get(c, "expected");
    struct tl_pf_table *px = case_prices(id, setup);
    double *p = malloc(px->n_assets * sizeof *p);
    tl_err err = {0};
    cr_assert_eq(tl_pf_latest_prices(px, p, &err), 0, "%s", err.msg);
    check_vector(id, ex, "-", "prices", px, p, case_tol(c));
    const char *date = json_string_value(json_object_get(ex, "date"));
    if (date) {
        char buf[16];
        cr_assert_eq(tl_date_format(px->days[px->n_rows - 1], buf, sizeof buf), 10);
        cr_assert_str_eq(buf, date, "case %s: last date", id);
    }
    free(p);
    tl_pf_table_free(px);
}

/* Runs case c when its method is one of ours; returns whether it was. */
static bool run_case(json_t *c)
{
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *m = json_string_value(json_object_get(c, "method"));
    if (!id || !m)
        return false;
    if (strcmp(m, "data") == 0)
        run_data(id, c);
    else if (strcmp(m, "expected_returns.returns_from_prices") == 0)
        run_returns(id, c);
    else if (strcmp(m, "expected_returns.mean_historical_return") == 0)
        run_mean(id, c, 0);
    else if (strcmp(m, "expected_returns.ema_historical_return") == 0)
        run_mean(id, c, 1);
    else if (strcmp(m, "expected_returns.capm_return") == 0)
        run_mean(id, c, 2);
    else if (strcmp(m, "risk_models.sample_cov") == 0)
        run_sample_cov(id, c);
    else if (strcmp(m, "risk_models.semicovariance") == 0)
        run_semicov(id, c);
    else if (strcmp(m, "risk_models.exp_cov") == 0)
        run_exp_cov(id, c);
    else if (strcmp(m, "risk_models.CovarianceShrinkage.shrunk_covariance") == 0)
        run_shrunk(id, c);
    else if (strcmp(m, "risk_models.CovarianceShrinkage.ledoit_wolf") == 0)
        run_ledoit_wolf(id, c);
    else if (strcmp(m, "risk_models.fix_nonpositive_semidefinite") == 0)
        run_fix_psd(id, c);
    else if (strncmp(m, "objective_functions.", 20) == 0)
        run_objective(id, c, m + 20);
    else if (strcmp(m, "discrete_allocation.get_latest_prices") == 0)
        run_latest(id, c);
    else if (strncmp(m, "expected_returns.", 17) == 0 || strncmp(m, "risk_models.", 12) == 0)
        cr_assert_fail("case %s: method %s has no handler", id, m);
    else
        return false;
    return true;
}

/* One Criterion test per case id this file knows about runs it alone (a
 * failure names the case); `all_estimation_cases` runs every case of our
 * kinds, including ones added to the JSON later. */
static void run_id(const char *want)
{
    json_t *cases = load_cases();
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "id")), want) == 0) {
            cr_assert(run_case(c), "case %s is not an estimation case", want);
            json_decref(cases);
            return;
        }
    }
    json_decref(cases);
    cr_skip_test("case %s is not in reference_cases.json", want);
}

#define CASE(name, id) \
    Test(pf_reference, name) { run_id(id); }

CASE(data_shape, "data_shape")
CASE(returns_from_prices_last_row, "returns_from_prices_last_row")
CASE(log_returns_last_value, "log_returns_last_value")
CASE(mean_historical_return_dummy_compounding, "mean_historical_return_dummy_compounding")
CASE(mean_historical_return_dummy_arithmetic, "mean_historical_return_dummy_arithmetic")
CASE(mean_historical_return_real, "mean_historical_return_real")
CASE(capm_return_no_benchmark, "capm_return_no_benchmark")
CASE(sample_cov_dummy, "sample_cov_dummy")
CASE(sample_cov_log_dummy, "sample_cov_log_dummy")
CASE(sample_cov_frequency_scaling, "sample_cov_frequency_scaling")
CASE(semicovariance_negative_benchmark_zero, "semicovariance_negative_benchmark_zero")
CASE(shrunk_covariance_delta_extremes, "shrunk_covariance_delta_extremes")
CASE(ledoit_wolf_shrinkage_in_unit_interval, "ledoit_wolf_shrinkage_in_unit_interval")
CASE(fix_nonpositive_semidefinite, "fix_nonpositive_semidefinite")
CASE(portfolio_variance_dummy, "portfolio_variance_dummy")
CASE(portfolio_variance_equal_weight_real, "portfolio_variance_equal_weight_real")
CASE(portfolio_return_dummy, "portfolio_return_dummy")
CASE(L2_reg_dummy, "L2_reg_dummy")
CASE(transaction_cost_dummy, "transaction_cost_dummy")
CASE(ex_ante_tracking_error_dummy, "ex_ante_tracking_error_dummy")
CASE(latest_prices, "latest_prices")

Test(pf_reference, all_estimation_cases)
{
    json_t *cases = load_cases();
    size_t i, ran = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
        ran += run_case(c);
    cr_assert_geq(ran, 21, "only %zu estimation cases ran", ran);
    json_decref(cases);
}

/* ---- estimators without a reference case ---------------------------------
 * Values from an independent numpy re-implementation of DEFINITIONS.md
 * (pandas ewm adjust=True written out as its recurrence; the SPY returns
 * left-joined by date), checked to 1e-12 relative. */
Test(pf_estimators, ema_capm_spy_exp_cov_semicov)
{
    if (access(markets_path("stock_prices.csv"), R_OK) != 0)
        cr_skip_test("market data not found under %s (set TELLER_SHARED)", tu_shared_dir());
    struct tl_pf_table *px = load_prices("stock_prices.csv"), *spy = load_prices("spy_prices.csv");
    struct tl_pf_table *r = returns_of(px, false), *rs = returns_of(spy, false);
    size_t n = r->n_assets;
    double mu[20], S[400];
    struct tol t = {.rtol = 1e-12, .atol = 1e-15};
    tl_err err = {0};
    cr_assert_eq(n, 20);
    cr_assert_eq(tl_pf_ema_return(r, true, 500, 252, mu, &err), 0, "%s", err.msg);
    check_close("ema", "GOOG", mu[0], 0.17731728493947041, t);
    check_close("ema", "SBUX", mu[19], 0.10261334402459177, t);
    cr_assert_eq(tl_pf_capm_return(r, rs, 0.02, true, 252, mu, NULL, &err), 0, "%s", err.msg);
    check_close("capm spy", "GOOG", mu[0], 0.091157993756546762, t);
    check_close("capm spy", "SBUX", mu[19], 0.09536788741392582, t);
    struct tl_pf_risk_info info;
    cr_assert_eq(tl_pf_exp_cov(r, 180, 252, S, &info, &err), 0, "%s", err.msg);
    check_close("exp_cov", "GOOG,AAPL", S[1], 0.041578111240478055, t);
    check_close("exp_cov", "SBUX,SBUX", S[399], 0.03616890939258226, t);
    cr_assert_eq(tl_pf_semicov(r, 0, 252, S, &info, &err), 0, "%s", err.msg);
    check_close("semicov", "GOOG,AAPL", S[1], 0.012892106119286584, t);
    check_close("semicov", "FB,FB", S[2 * 20 + 2], 0.011355375012476536, t);
    tl_pf_table_free(r);
    tl_pf_table_free(rs);
    tl_pf_table_free(px);
    tl_pf_table_free(spy);
}

/* The README's counts: weekly (Sunday-ending weeks) 1477 rows and 186
 * all-asset returns, monthly 341 and 43. */
Test(pf_estimators, resample_weekly_monthly)
{
    if (access(markets_path("stock_prices.csv"), R_OK) != 0)
        cr_skip_test("market data not found under %s (set TELLER_SHARED)", tu_shared_dir());
    struct tl_pf_table *px = load_prices("stock_prices.csv");
    static const struct { enum tl_pf_period p; size_t rows, all; const char *first; } want[] = {
        {TL_PF_WEEKLY, 1477, 186, "1989-12-31"},
        {TL_PF_MONTHLY, 341, 43, "1989-12-31"},
    };
    for (size_t k = 0; k < 2; k++) {
        struct tl_pf_table *s = NULL, *r, *d = NULL;
        tl_err err = {0};
        cr_assert_eq(tl_pf_prices_resample(px, want[k].p, &s, &err), 0, "%s", err.msg);
        cr_assert_eq(s->n_rows, want[k].rows, "period %d: %zu rows", (int)want[k].p, s->n_rows);
        char buf[16];
        tl_date_format(s->days[0], buf, sizeof buf);
        cr_assert_str_eq(buf, want[k].first);
        r = returns_of(s, false);
        cr_assert_eq(tl_pf_table_dropna(r, 2, &d, &err), 0, "%s", err.msg);
        cr_assert_eq(d->n_rows, want[k].all, "period %d: %zu all-asset returns", (int)want[k].p, d->n_rows);
        tl_pf_table_free(d);
        tl_pf_table_free(r);
        tl_pf_table_free(s);
    }
    /* the all-asset price window the CVaR setups use: 896 rows */
    struct tl_pf_table *d = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_pf_table_dropna(px, 2, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d->n_rows, 896);
    tl_pf_table_free(d);
    tl_pf_table_free(px);
}

/* ---- bad input -------------------------------------------------------------- */

/* Reads text as a price CSV; returns the code and leaves the message in err. */
static int read_text(const char *text, unsigned flags, struct tl_pf_table **out, tl_err *err,
                     char **path)
{
    char *dir = tu_tmpdir();
    *path = tu_write_file(dir, "prices.csv", text);
    free(dir);
    *out = NULL;
    return tl_pf_prices_read_csv(*path, flags, out, err);
}

static void expect_error(const char *text, int code, const char *where, const char *what)
{
    struct tl_pf_table *t;
    tl_err err = {0};
    char *path;
    int rc = read_text(text, 0, &t, &err, &path);
    cr_assert_eq(rc, code, "rc %d for %s: %s", rc, what, err.msg);
    cr_assert_null(t);
    char loc[1200];
    snprintf(loc, sizeof loc, "%s%s", path, where);
    cr_assert_not_null(strstr(err.msg, loc), "%s: message \"%s\" should name %s", what, err.msg, loc);
    free(path);
}

Test(pf_bad_input, malformed_csv_names_file_line_column)
{
    expect_error("date,A,B\n2020-01-01,1,2\n2020-01-02,1\n", TL_EPARSE, ":3:", "short row");
    expect_error("date,A,B\n2020-01-01,1,2\n2020-01-02,1,x7\n", TL_EPARSE, ":3:3:", "text price");
    expect_error("date,A,B\n2020-01-01,1,2\n2020-13-02,1,2\n", TL_EPARSE, ":3:1:", "bad date");
    expect_error("date,A,B\n2020-01-01,1,2\n2020-01-02,\"1,2\n", TL_EPARSE, ":3", "broken quote");
}

Test(pf_bad_input, non_positive_price)
{
    expect_error("date,A,B\n2020-01-01,1,2\n2020-01-02,0,2\n", TL_EINVAL, ":3:2: column \"A\"", "zero");
    expect_error("date,A,B\n2020-01-01,1,-2\n2020-01-02,1,2\n", TL_EINVAL, ":2:3: column \"B\"", "negative");
}

Test(pf_bad_input, duplicate_and_unsorted_dates)
{
    expect_error("date,A\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n", TL_EINVAL,
                 ":4:1: date 2020-01-02 repeats",
                 "duplicate date");
    expect_error("date,A\n2020-01-03,1\n2020-01-02,2\n", TL_EINVAL, ":3:1: date 2020-01-02 comes before",
                 "unsorted dates");
}

Test(pf_bad_input, header_and_too_few_rows)
{
    expect_error("date,A,A\n2020-01-01,1,2\n2020-01-02,1,2\n", TL_EINVAL, ": ticker \"A\" appears twice",
                 "duplicate ticker");
    expect_error("date\n2020-01-01\n", TL_EINVAL, ":1: the header names no ticker", "no ticker");
    expect_error("date,A\n2020-01-01,1\n", TL_EINVAL, ": 1 price rows", "one row");
    expect_error("", TL_EINVAL, ": empty file", "empty file");
    tl_err err = {0};
    struct tl_pf_table *t = NULL;
    cr_assert_eq(tl_pf_prices_read_csv("/nonexistent/prices.csv", 0, &t, &err), TL_EIO);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/prices.csv"), "%s", err.msg);
}

Test(pf_bad_input, unknown_ticker_and_empty_estimates)
{
    struct tl_pf_table *t, *s = NULL, *r = NULL;
    tl_err err = {0};
    char *path;
    cr_assert_eq(read_text("date,A,B\n2020-01-01,1,\n2020-01-02,2,\n", 0, &t, &err, &path), 0, "%s", err.msg);
    const char *want[] = {"A", "ZZZ"};
    cr_assert_eq(tl_pf_table_select(t, 2, want, &s, &err), TL_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "\"ZZZ\""), "%s", err.msg);
    cr_assert_null(s);
    /* B never trades: its mean return and its covariances are errors naming it */
    cr_assert_eq(tl_pf_returns(t, false, &r, &err), 0, "%s", err.msg);
    double mu[2], S[4];
    cr_assert_eq(tl_pf_mean_return(r, true, 252, mu, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "\"B\""), "%s", err.msg);
    cr_assert_eq(tl_pf_sample_cov(r, 252, S, NULL, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "\"A\""), "%s", err.msg);
    cr_assert_eq(tl_pf_sample_cov(r, 0, S, NULL, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "frequency"), "%s", err.msg);
    cr_assert_eq(tl_pf_ledoit_wolf(r, (enum tl_pf_lw_target)9, 252, S, NULL, &err), TL_EUNSUPPORTED);
    cr_assert_eq(tl_pf_shrunk_cov(r, 1.5, 252, S, NULL, &err), TL_EINVAL);
    tl_pf_table_free(r);
    tl_pf_table_free(t);
    free(path);
}

Test(pf_gaps, interior_gaps_forward_filled_leading_kept)
{
    const char *csv = "date,A,B\n"
                      "2020-01-01,,10\n"
                      "2020-01-02,1,\n"
                      "2020-01-03,,12\n"
                      "2020-01-06,2,\n";
    struct tl_pf_table *t, *k, *r;
    tl_err err = {0};
    char *p1, *p2;
    cr_assert_eq(read_text(csv, 0, &t, &err, &p1), 0, "%s", err.msg);
    /* A: leading gap kept, interior gap filled; B: interior filled, trailing kept */
    cr_assert(isnan(t->v[0]));
    cr_assert_eq(t->v[2 * 2 + 0], 1.0);
    cr_assert_eq(t->v[1 * 2 + 1], 10.0);
    cr_assert(isnan(t->v[3 * 2 + 1]));
    cr_assert_eq(t->n_gaps_filled, 2);
    cr_assert_eq(read_text(csv, TL_PF_KEEP_GAPS, &k, &err, &p2), 0, "%s", err.msg);
    cr_assert(isnan(k->v[2 * 2 + 0]));
    cr_assert_eq(k->n_gaps_filled, 0);
    /* returns keep NaN before listing: A's first return is on 2020-01-03 */
    cr_assert_eq(tl_pf_returns(t, false, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r->n_rows, 3);
    cr_assert(isnan(r->v[0]));
    cr_assert_eq(r->v[1 * 2 + 0], 0.0);
    cr_assert_eq(r->v[2 * 2 + 0], 1.0);
    double last[2];
    cr_assert_eq(tl_pf_latest_prices(t, last, &err), 0, "%s", err.msg);
    cr_assert_eq(last[0], 2.0);
    cr_assert_eq(last[1], 12.0);
    tl_pf_table_free(r);
    tl_pf_table_free(t);
    tl_pf_table_free(k);
    free(p1);
    free(p2);
}

Test(pf_psd, eigh_and_diag_fix)
{
    /* a 3x3 with known eigenvalues 2, 2, 3 (a repeated one, too) */
    double A[9] = {2.5, 0.5, 0, 0.5, 2.5, 0, 0, 0, 2};
    double w[3], V[9];
    tl_err err = {0};
    cr_assert_eq(tl_pf_eigh(3, A, w, V, &err), 0, "%s", err.msg);
    cr_assert_float_eq(w[0], 2.0, 1e-14);
    cr_assert_float_eq(w[1], 2.0, 1e-14);
    cr_assert_float_eq(w[2], 3.0, 1e-14);
    /* A V = V diag(w) */
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 3; k++) {
            double s = 0;
            for (size_t j = 0; j < 3; j++)
                s += A[i * 3 + j] * V[j * 3 + k];
            cr_assert_float_eq(s, V[i * 3 + k] * w[k], 1e-14);
        }
    /* diag fix: M - 1.1 min_eig I */
    double M[4] = {1, 2, 2, 1}; /* eigenvalues -1, 3 */
    bool fixed;
    cr_assert_eq(tl_pf_psd_fix(2, M, TL_PF_FIX_DIAG, &fixed, NULL, &err), 0, "%s", err.msg);
    cr_assert(fixed);
    cr_assert_float_eq(M[0], 2.1, 1e-14);
    cr_assert_float_eq(M[1], 2.0, 0);
}
