/*
 * pf_returns.c - returns and expected returns (pf_estimate.h), following
 * pypfopt/expected_returns.py and the pandas operations under it
 * (DEFINITIONS.md sections 1 and 2).
 *
 * Sums run in long double: the reference numbers were made in double by
 * numpy, whose pairwise summation is accurate to about 1e-16 relative; a
 * plain double running sum over 7000 daily returns would not be.
 */
#include <teller/pf_estimate.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/pf_internal.h"

/* ---- returns ------------------------------------------------------------ */

/* returns_from_prices: pct_change(fill_method=None) is p_t / p_{t-1} - 1,
 * computed in that order (pandas divides by the shifted frame, then
 * subtracts 1), missing when either price is; log returns are
 * np.log(1 + r), not log(p_t / p_{t-1}), to round the same way. */
static double period_return(double p, double prev, bool log_returns)
{
    if (isnan(p) || isnan(prev))
        return NAN;
    double r = p / prev - 1.0;
    return log_returns ? log(1.0 + r) : r;
}

int tl_pf_returns(const struct tl_pf_table *prices, bool log_returns, struct tl_pf_table **out,
                  tl_err *err)
{
    int rc = tl__pf_check_table(prices, 2, "returns: prices", err);
    if (rc < 0)
        return rc;
    size_t n = prices->n_assets, T = prices->n_rows - 1;
    struct tl_pf_table *r = tl__pf_table_alloc(T, n);
    if (!r || tl__pf_copy_tickers(r, prices) < 0) {
        tl_pf_table_free(r);
        return tl_err_set(err, TL_ENOMEM, "returns: out of memory");
    }
    /* .dropna(how="all"): keep a row when any asset has a return */
    size_t o = 0;
    for (size_t i = 1; i <= T; i++) {
        double *row = r->v + o * n;
        bool any = false;
        for (size_t j = 0; j < n; j++) {
            row[j] = period_return(prices->v[i * n + j], prices->v[(i - 1) * n + j], log_returns);
            any |= !isnan(row[j]);
        }
        if (any)
            r->days[o++] = prices->days[i];
    }
    if (o == 0) {
        tl_pf_table_free(r);
        return tl_err_set(err, TL_EINVAL,
                          "returns: no date has a return for any asset (each price row is missing or alone)");
    }
    r->n_rows = o;
    *out = r;
    return 0;
}

/* ---- shared kernels ----------------------------------------------------- */

double tl__pf_pair_cov(const double *X, size_t T, size_t n, size_t x, size_t y, size_t *count,
                       double *var_x, double *var_y)
{
    /* pass 1: the pair's own means over the rows where both are present */
    long double sx = 0, sy = 0;
    size_t c = 0;
    for (size_t t = 0; t < T; t++) {
        double a = X[t * n + x], b = X[t * n + y];
        if (isnan(a) || isnan(b))
            continue;
        sx += a;
        sy += b;
        c++;
    }
    *count = c;
    if (c < 2) {
        if (var_x)
            *var_x = NAN;
        if (var_y)
            *var_y = NAN;
        return NAN;
    }
    long double mx = sx / c, my = sy / c;
    /* pass 2: sums of products of deviations, ddof = 1 */
    long double sxy = 0, sxx = 0, syy = 0;
    for (size_t t = 0; t < T; t++) {
        double a = X[t * n + x], b = X[t * n + y];
        if (isnan(a) || isnan(b))
            continue;
        long double dx = a - mx, dy = b - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (var_x)
        *var_x = (double)(sxx / (c - 1));
    if (var_y)
        *var_y = (double)(syy / (c - 1));
    return (double)(sxy / (c - 1));
}

double tl__pf_ewm_last(const double *v, size_t T, size_t stride, double span)
{
    /* pandas window/aggregations.pyx ewm() with adjust=True, ignore_na=False:
     * old_wt decays once per row after the first observation, missing or
     * not, and each observation enters with weight 1. */
    const double alpha = 2.0 / (span + 1.0);
    const double old_wt_factor = 1.0 - alpha;
    double weighted = NAN, old_wt = 1.0;
    for (size_t t = 0; t < T; t++) {
        double cur = v[t * stride];
        bool obs = !isnan(cur);
        if (isnan(weighted)) {
            if (obs) {
                weighted = cur;
                old_wt = 1.0;
            }
            continue;
        }
        old_wt *= old_wt_factor;
        if (obs) {
            if (weighted != cur) /* pandas: avoids drift on a constant series */
                weighted = (old_wt * weighted + cur) / (old_wt + 1.0);
            old_wt += 1.0;
        }
    }
    return weighted;
}

/* ---- expected returns ---------------------------------------------------- */

/* mean_historical_return for one column: (1 + r).prod() ** (freq / count) - 1
 * or r.mean() * freq, over the column's own present values. */
static int column_mean_return(const double *v, size_t T, size_t stride, bool compounding,
                              double frequency, double *out)
{
    long double prod = 1, sum = 0;
    size_t count = 0;
    for (size_t t = 0; t < T; t++) {
        double r = v[t * stride];
        if (isnan(r))
            continue;
        prod *= 1.0L + r;
        sum += r;
        count++;
    }
    if (count == 0)
        return -1;
    if (compounding)
        *out = pow((double)prod, frequency / (double)count) - 1.0;
    else
        *out = (double)(sum / count) * frequency;
    return 0;
}

static int check_frequency(double frequency, const char *what, tl_err *err)
{
    if (!(frequency > 0) || !isfinite(frequency))
        return tl_err_set(err, TL_EINVAL, "%s: frequency %g must be a positive number of periods per year",
                          what, frequency);
    return 0;
}

int tl_pf_mean_return(const struct tl_pf_table *returns, bool compounding, double frequency,
                      double *mu, tl_err *err)
{
    int rc = tl__pf_check_table(returns, 1, "mean return", err);
    if (rc == 0)
        rc = check_frequency(frequency, "mean return", err);
    if (rc < 0)
        return rc;
    size_t n = returns->n_assets;
    for (size_t j = 0; j < n; j++)
        if (column_mean_return(returns->v + j, returns->n_rows, n, compounding, frequency, &mu[j]) < 0)
            return tl_err_set(err, TL_EINVAL, "mean return: \"%s\" has no return", returns->tickers[j]);
    return 0;
}

int tl_pf_ema_return(const struct tl_pf_table *returns, bool compounding, double span,
                     double frequency, double *mu, tl_err *err)
{
    int rc = tl__pf_check_table(returns, 1, "ema return", err);
    if (rc == 0)
        rc = check_frequency(frequency, "ema return", err);
    if (rc < 0)
        return rc;
    if (!(span >= 1) || !isfinite(span))
        return tl_err_set(err, TL_EINVAL, "ema return: span %g must be at least 1", span);
    size_t n = returns->n_assets;
    for (size_t j = 0; j < n; j++) {
        double e = tl__pf_ewm_last(returns->v + j, returns->n_rows, n, span);
        if (isnan(e))
            return tl_err_set(err, TL_EINVAL, "ema return: \"%s\" has no return", returns->tickers[j]);
        mu[j] = compounding ? pow(1.0 + e, frequency) - 1.0 : e * frequency;
    }
    return 0;
}

/* The market column of capm_return, aligned with the asset rows: the row
 * mean of the present asset returns (returns.mean(axis=1), skipna), or the
 * market table's return on the same date (returns.join(market, how="left")). */
static int market_column(const struct tl_pf_table *r, const struct tl_pf_table *market, double *m,
                         tl_err *err)
{
    size_t n = r->n_assets;
    if (!market) {
        for (size_t t = 0; t < r->n_rows; t++) {
            long double s = 0;
            size_t c = 0;
            for (size_t j = 0; j < n; j++)
                if (!isnan(r->v[t * n + j])) {
                    s += r->v[t * n + j];
                    c++;
                }
            m[t] = c ? (double)(s / c) : NAN;
        }
        return 0;
    }
    int rc = tl__pf_check_table(market, 1, "capm: market returns", err);
    if (rc < 0)
        return rc;
    if (market->n_assets != 1)
        return tl_err_set(err, TL_EINVAL, "capm: the market table has %zu columns, expected 1",
                          market->n_assets);
    size_t k = 0;
    for (size_t t = 0; t < r->n_rows; t++) {
        while (k < market->n_rows && market->days[k] < r->days[t])
            k++;
        m[t] = (k < market->n_rows && market->days[k] == r->days[t]) ? market->v[k] : NAN;
    }
    return 0;
}

int tl_pf_capm_return(const struct tl_pf_table *returns, const struct tl_pf_table *market,
                      double rf, bool compounding, double frequency, double *mu, double *beta,
                      tl_err *err)
{
    int rc = tl__pf_check_table(returns, 2, "capm", err);
    if (rc == 0)
        rc = check_frequency(frequency, "capm", err);
    if (rc < 0)
        return rc;
    size_t n = returns->n_assets, T = returns->n_rows, w = n + 1;
    /* X = the returns with the market appended as column n, as in pypfopt */
    double *X = calloc(T * w, sizeof *X);
    if (!X)
        return tl_err_set(err, TL_ENOMEM, "capm: out of memory");
    double *mcol = malloc(T * sizeof *mcol);
    if (!mcol) {
        free(X);
        return tl_err_set(err, TL_ENOMEM, "capm: out of memory");
    }
    rc = market_column(returns, market, mcol, err);
    if (rc < 0)
        goto done;
    for (size_t t = 0; t < T; t++) {
        memcpy(X + t * w, returns->v + t * n, n * sizeof *X);
        X[t * w + n] = mcol[t];
    }
    size_t cnt;
    double var_m = tl__pf_pair_cov(X, T, w, n, n, &cnt, NULL, NULL);
    if (!(var_m > 0)) {
        rc = tl_err_set(err, TL_EINVAL, "capm: the market return has %s",
                        cnt < 2 ? "fewer than 2 values" : "no variance");
        goto done;
    }
    double mkt_mean;
    if (column_mean_return(mcol, T, 1, compounding, frequency, &mkt_mean) < 0) {
        rc = tl_err_set(err, TL_EINVAL, "capm: the market has no return on the assets' dates");
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        double c = tl__pf_pair_cov(X, T, w, j, n, &cnt, NULL, NULL);
        if (cnt < 2) {
            rc = tl_err_set(err, TL_EINVAL, "capm: \"%s\" shares fewer than 2 dates with the market",
                            returns->tickers[j]);
            goto done;
        }
        double b = c / var_m; /* betas = cov["mkt"] / cov.loc["mkt", "mkt"] */
        if (beta)
            beta[j] = b;
        mu[j] = rf + b * (mkt_mean - rf);
    }
done:
    free(mcol);
    free(X);
    return rc;
}
