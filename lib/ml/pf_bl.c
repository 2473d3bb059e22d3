/*
 * pf_bl.c - Black-Litterman: the market-implied risk aversion and prior,
 * views, Omega (He-Litterman default or Idzorek's confidences) and the
 * posterior returns and covariance, as PyPortfolioOpt defines them.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tl_pf_bl_market_risk_aversion(size_t m, const double *p, double freq, double rf,
                                  double *delta, tl_err *err)
{
    int rc;
    if (m < 3)
        return tl_err_set(err, TL_EINVAL, "market prices: at least 3 prices are needed, got %zu",
                          m);
    if ((rc = tl__pf_check_vec(p, m, "market prices", err)) < 0)
        return rc;
    if (!(freq > 0))
        return tl_err_set(err, TL_EINVAL, "frequency %g must be positive", freq);
    for (size_t i = 0; i < m; i++)
        if (!(p[i] > 0))
            return tl_err_set(err, TL_EINVAL, "market prices[%zu] = %g is not positive", i, p[i]);
    size_t k = m - 1;
    double mean = 0;
    for (size_t i = 1; i < m; i++)
        mean += p[i] / p[i - 1] - 1;
    mean /= (double)k;
    double var = 0;
    for (size_t i = 1; i < m; i++) {
        double d = p[i] / p[i - 1] - 1 - mean;
        var += d * d;
    }
    var /= (double)(k - 1);
    if (!(var > 0))
        return tl_err_set(err, TL_EINVAL, "market prices have zero variance");
    *delta = (mean * freq - rf) / (var * freq);
    return 0;
}

int tl_pf_bl_market_prior(size_t n, const double *S, const double *mcap, double delta, double rf,
                          double *pi, tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(S, n * n, "covariance matrix S", err)) < 0 ||
        (rc = tl__pf_check_vec(mcap, n, "market caps", err)) < 0)
        return rc;
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
        if (mcap[i] < 0)
            return tl_err_set(err, TL_EINVAL, "market caps[%zu] = %g is negative", i, mcap[i]);
        tot += mcap[i];
    }
    if (!(tot > 0))
        return tl_err_set(err, TL_EINVAL, "market caps sum to zero");
    if (!isfinite(delta) || !isfinite(rf))
        return tl_err_set(err, TL_EINVAL, "risk aversion and risk-free rate must be finite");
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++)
            s += S[i * n + j] * (mcap[j] / tot);
        pi[i] = delta * s + rf;
    }
    return 0;
}

int tl_pf_bl_absolute_views(size_t n, const char *const *tickers, size_t k,
                            const char *const *view_tickers, const double *values, double *P,
                            double *Q, tl_err *err)
{
    int rc;
    if (!tickers || (k && (!view_tickers || !values)))
        return tl_err_set(err, TL_EINVAL, "views need tickers, view tickers and values");
    if ((rc = tl__pf_check_vec(values, k, "view values", err)) < 0)
        return rc;
    memset(P, 0, k * n * sizeof *P);
    for (size_t v = 0; v < k; v++) {
        size_t i;
        for (i = 0; i < n; i++)
            if (tickers[i] && view_tickers[v] && strcmp(tickers[i], view_tickers[v]) == 0)
                break;
        if (i == n)
            return tl_err_set(err, TL_EINVAL, "view on '%s': no such ticker in the covariance "
                              "matrix", view_tickers[v] ? view_tickers[v] : "(null)");
        P[v * n + i] = 1;
        Q[v] = values[v];
    }
    return 0;
}

/* P_a S P_b' */
static double psp(size_t n, const double *S, const double *pa, const double *pb)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (pa[i] == 0)
            continue;
        double r = 0;
        for (size_t j = 0; j < n; j++)
            r += S[i * n + j] * pb[j];
        s += pa[i] * r;
    }
    return s;
}

int tl_pf_bl_omega(size_t n, const double *S, size_t k, const double *P, double tau,
                   const double *conf, double *omega, tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(S, n * n, "covariance matrix S", err)) < 0 ||
        (rc = tl__pf_check_vec(P, k * n, "P", err)) < 0)
        return rc;
    if (!(tau > 0) || !isfinite(tau))
        return tl_err_set(err, TL_EINVAL, "tau %g must be positive", tau);
    memset(omega, 0, k * k * sizeof *omega);
    for (size_t v = 0; v < k; v++) {
        double var = psp(n, S, P + v * n, P + v * n);
        if (!conf) {
            omega[v * k + v] = tau * var;
            continue;
        }
        double c = conf[v];
        if (!(c >= 0 && c <= 1))
            return tl_err_set(err, TL_EINVAL, "view confidence[%zu] = %g must lie in [0, 1]", v,
                              c);
        /* Walters' closed form of Idzorek's method; zero confidence -> 1e6 */
        omega[v * k + v] = c == 0 ? 1e6 : tau * (1 - c) / c * var;
    }
    return 0;
}

int tl_pf_bl_posterior(size_t n, const double *S, const double *pi, size_t k, const double *P,
                       const double *Q, const double *omega, double tau, double *post_mu,
                       double *post_S, tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(S, n * n, "covariance matrix S", err)) < 0 ||
        (rc = tl__pf_check_vec(P, k * n, "P", err)) < 0 ||
        (rc = tl__pf_check_vec(Q, k, "Q", err)) < 0)
        return rc;
    if (pi && (rc = tl__pf_check_vec(pi, n, "prior pi", err)) < 0)
        return rc;
    if (omega && (rc = tl__pf_check_vec(omega, k * k, "omega", err)) < 0)
        return rc;
    if (!(tau > 0) || !isfinite(tau))
        return tl_err_set(err, TL_EINVAL, "tau %g must be positive", tau);
    if (k == 0)
        return tl_err_set(err, TL_EINVAL, "Black-Litterman needs at least one view");
    double *SP = malloc(n * k * sizeof *SP);   /* tau S P' : n x k */
    double *M = malloc(k * k * sizeof *M);     /* P tau S P' + Omega */
    double *LU = malloc(k * k * sizeof *LU);
    double *r = malloc(k * sizeof *r);
    double *col = malloc(k * sizeof *col);
    size_t *piv = malloc(k * sizeof *piv);
    if (!SP || !M || !LU || !r || !col || !piv) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t v = 0; v < k; v++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += S[i * n + j] * P[v * n + j];
            SP[i * k + v] = tau * s;
        }
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += P[a * n + j] * SP[j * k + b];
            M[a * k + b] = s;
        }
    if (omega) {
        for (size_t i = 0; i < k * k; i++)
            M[i] += omega[i];
    } else {
        for (size_t a = 0; a < k; a++)
            M[a * k + a] += M[a * k + a]; /* diag(tau P S P') */
    }
    memcpy(LU, M, k * k * sizeof *LU);
    if (tl__pf_lu(LU, k, piv) < 0) {
        rc = tl_err_set(err, TL_EINVAL, "Black-Litterman: P tau S P' + Omega is singular "
                        "(duplicate or conflicting certain views)");
        goto out;
    }
    for (size_t v = 0; v < k; v++) {
        double s = Q[v];
        if (pi)
            for (size_t j = 0; j < n; j++)
                s -= P[v * n + j] * pi[j];
        r[v] = s;
    }
    tl__pf_lu_solve(LU, k, piv, r);
    for (size_t i = 0; i < n; i++) {
        double s = pi ? pi[i] : 0;
        for (size_t v = 0; v < k; v++)
            s += SP[i * k + v] * r[v];
        post_mu[i] = s;
    }
    if (post_S) {
        /* S + tau S - (tau S P') M^-1 (P tau S) */
        for (size_t i = 0; i < n * n; i++)
            post_S[i] = S[i] * (1 + tau);
        for (size_t j = 0; j < n; j++) {
            for (size_t v = 0; v < k; v++)
                col[v] = SP[j * k + v]; /* (P tau S)[:, j] = (tau S P')[j, :] */
            tl__pf_lu_solve(LU, k, piv, col);
            for (size_t i = 0; i < n; i++) {
                double s = 0;
                for (size_t v = 0; v < k; v++)
                    s += SP[i * k + v] * col[v];
                post_S[i * n + j] -= s;
            }
        }
    }
out:
    free(SP);
    free(M);
    free(LU);
    free(r);
    free(col);
    free(piv);
    return rc;
}

int tl_pf_bl_weights(size_t n, const double *S, const double *mu, double delta, double *w,
                     tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(S, n * n, "covariance matrix S", err)) < 0 ||
        (rc = tl__pf_check_vec(mu, n, "returns", err)) < 0)
        return rc;
    if (!(delta > 0) || !isfinite(delta))
        return tl_err_set(err, TL_EINVAL, "risk aversion %g must be positive", delta);
    double *a = malloc(n * n * sizeof *a);
    size_t *piv = malloc(n * sizeof *piv);
    if (!a || !piv) {
        free(a);
        free(piv);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n * n; i++)
        a[i] = delta * S[i];
    memcpy(w, mu, n * sizeof *w);
    if (tl__pf_lu(a, n, piv) < 0) {
        rc = tl_err_set(err, TL_EINVAL, "Black-Litterman weights: the covariance matrix is "
                        "singular");
    } else {
        tl__pf_lu_solve(a, n, piv, w);
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += w[i];
        if (s == 0)
            rc = tl_err_set(err, TL_EINVAL, "Black-Litterman weights sum to zero and cannot be "
                            "normalised");
        else
            for (size_t i = 0; i < n; i++)
                w[i] /= s;
    }
    free(a);
    free(piv);
    return rc;
}
