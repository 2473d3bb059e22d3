/*
 * pf_risk.c - risk models, the PSD check and fix, a symmetric eigensolver
 * and the objective helpers (pf_estimate.h), following pypfopt/risk_models.py,
 * scikit-learn's ledoit_wolf and pypfopt/objective_functions.py
 * (DEFINITIONS.md sections 3 and 4).
 *
 * Each estimator ends the same way PyPortfolioOpt's do: times frequency, then
 * fix_nonpositive_semidefinite with the spectral method (finish()).
 * Accumulations over the T return rows run in long double.
 */
#include <teller/pf_estimate.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/pf_internal.h"

typedef long double ld;

/* ---- PSD check, fix and eigen-decomposition ------------------------------ */

/* Cholesky of M + 1e-16 I in scratch L (n x n): false when a pivot is not
 * positive, which is when numpy.linalg.cholesky raises LinAlgError. */
static bool cholesky_ok(size_t n, const double *M, double *L)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = M[i * n + j] + (i == j ? 1e-16 : 0.0);
            for (size_t k = 0; k < j; k++)
                s -= L[i * n + k] * L[j * n + k];
            if (i == j) {
                if (!(s > 0))
                    return false;
                L[i * n + i] = sqrt(s);
            } else {
                L[i * n + j] = s / L[j * n + j];
            }
        }
    return true;
}

int tl_pf_psd_check(size_t n, const double *M, bool *psd, tl_err *err)
{
    if (n == 0 || !M || !psd)
        return tl_err_set(err, TL_EINVAL, "psd check: empty matrix");
    double *L = malloc(n * n * sizeof *L);
    if (!L)
        return tl_err_set(err, TL_ENOMEM, "psd check: out of memory");
    *psd = cholesky_ok(n, M, L);
    free(L);
    return 0;
}

/* One Jacobi rotation zeroing A[p][q] (Numerical Recipes' jacobi, in the
 * theta/t/c/s form that keeps the update stable). */
static void jacobi_rotate(size_t n, double *A, double *V, size_t p, size_t q)
{
    double apq = A[p * n + q];
    double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
    double t = 1.0 / (fabs(theta) + sqrt(theta * theta + 1.0));
    if (theta < 0)
        t = -t;
    double c = 1.0 / sqrt(t * t + 1.0), s = t * c, tau = s / (1.0 + c);
    A[p * n + p] -= t * apq;
    A[q * n + q] += t * apq;
    A[p * n + q] = A[q * n + p] = 0.0;
    for (size_t r = 0; r < n; r++) {
        if (r != p && r != q) {
            double arp = A[r * n + p], arq = A[r * n + q];
            A[r * n + p] = A[p * n + r] = arp - s * (arq + tau * arp);
            A[r * n + q] = A[q * n + r] = arq + s * (arp - tau * arq);
        }
        double vp = V[r * n + p], vq = V[r * n + q];
        V[r * n + p] = vp - s * (vq + tau * vp);
        V[r * n + q] = vq + s * (vp - tau * vq);
    }
}

int tl_pf_eigh(size_t n, const double *A_in, double *w, double *V_out, tl_err *err)
{
    if (n == 0 || !A_in || !w)
        return tl_err_set(err, TL_EINVAL, "eigh: empty matrix");
    double *A = malloc(n * n * sizeof *A), *V = malloc(n * n * sizeof *V);
    if (!A || !V) {
        free(A);
        free(V);
        return tl_err_set(err, TL_ENOMEM, "eigh: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            /* symmetrise: numpy's eigh reads one triangle, we average both */
            A[i * n + j] = 0.5 * (A_in[i * n + j] + A_in[j * n + i]);
            V[i * n + j] = i == j;
        }
    int rc = 0;
    for (int sweep = 0;; sweep++) {
        ld off = 0, diag = 0;
        for (size_t p = 0; p < n; p++) {
            diag += (ld)A[p * n + p] * A[p * n + p];
            for (size_t q = p + 1; q < n; q++)
                off += (ld)A[p * n + q] * A[p * n + q];
        }
        if (off == 0 || off <= 1e-36L * diag)
            break;
        if (sweep == 100) {
            rc = tl_err_set(err, TL_EINTERNAL, "eigh: Jacobi did not converge in 100 sweeps");
            break;
        }
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0)
                    continue;
                /* after a few sweeps, an element below the diagonal's ulp is 0 */
                if (sweep > 3 && fabs(A[p * n + p]) + 100.0 * fabs(apq) == fabs(A[p * n + p]) &&
                    fabs(A[q * n + q]) + 100.0 * fabs(apq) == fabs(A[q * n + q])) {
                    A[p * n + q] = A[q * n + p] = 0.0;
                    continue;
                }
                jacobi_rotate(n, A, V, p, q);
            }
    }
    if (rc == 0) {
        /* ascending eigenvalues, as numpy.linalg.eigh returns them */
        size_t *ord = malloc(n * sizeof *ord);
        if (!ord) {
            rc = tl_err_set(err, TL_ENOMEM, "eigh: out of memory");
        } else {
            for (size_t i = 0; i < n; i++)
                ord[i] = i;
            for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && A[ord[k] * n + ord[k]] < A[ord[k - 1] * n + ord[k - 1]]; k--) {
                    size_t tmp = ord[k];
                    ord[k] = ord[k - 1];
                    ord[k - 1] = tmp;
                }
            for (size_t i = 0; i < n; i++) {
                w[i] = A[ord[i] * n + ord[i]];
                if (V_out)
                    for (size_t r = 0; r < n; r++)
                        V_out[r * n + i] = V[r * n + ord[i]];
            }
            free(ord);
        }
    }
    free(A);
    free(V);
    return rc;
}

int tl_pf_psd_fix(size_t n, double *M, enum tl_pf_psd_fix method, bool *fixed, bool *still_bad,
                  tl_err *err)
{
    if (fixed)
        *fixed = false;
    if (still_bad)
        *still_bad = false;
    if (method != TL_PF_FIX_SPECTRAL && method != TL_PF_FIX_DIAG)
        return tl_err_set(err, TL_EUNSUPPORTED, "psd fix: method %d not implemented (spectral or diag)",
                          (int)method);
    bool psd;
    int rc = tl_pf_psd_check(n, M, &psd, err);
    if (rc < 0 || psd)
        return rc;
    double *q = calloc(n, sizeof *q), *V = calloc(n * n, sizeof *V);
    if (!q || !V) {
        free(q);
        free(V);
        return tl_err_set(err, TL_ENOMEM, "psd fix: out of memory");
    }
    rc = tl_pf_eigh(n, M, q, V, err);
    if (rc == 0 && method == TL_PF_FIX_SPECTRAL) {
        /* q = where(q > 0, q, 0); M = V diag(q) V' */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                ld s = 0;
                for (size_t k = 0; k < n; k++)
                    if (q[k] > 0)
                        s += (ld)V[i * n + k] * q[k] * V[j * n + k];
                M[i * n + j] = (double)s;
            }
    } else if (rc == 0) {
        double min_eig = q[0];
        for (size_t i = 0; i < n; i++)
            M[i * n + i] -= 1.1 * min_eig;
    }
    free(q);
    free(V);
    if (rc < 0)
        return rc;
    if (fixed)
        *fixed = true;
    rc = tl_pf_psd_check(n, M, &psd, err);
    if (rc == 0 && still_bad)
        *still_bad = !psd;
    return rc;
}

/* The common ending of every risk model: S *= frequency, then the spectral
 * fix, noting both in info. */
static int finish(size_t n, double *S, double frequency, double shrinkage,
                  struct tl_pf_risk_info *info, tl_err *err)
{
    for (size_t k = 0; k < n * n; k++)
        S[k] *= frequency;
    bool fixed = false, bad = false;
    int rc = tl_pf_psd_fix(n, S, TL_PF_FIX_SPECTRAL, &fixed, &bad, err);
    if (rc == 0 && info) {
        info->psd_fixed = fixed;
        info->still_not_psd = bad;
        info->shrinkage = shrinkage;
    }
    return rc;
}

static int check_args(const struct tl_pf_table *r, double frequency, double *S, const char *what,
                      tl_err *err)
{
    int rc = tl__pf_check_table(r, 1, what, err);
    if (rc < 0)
        return rc;
    if (!S)
        return tl_err_set(err, TL_EINVAL, "%s: no output matrix", what);
    if (!(frequency > 0) || !isfinite(frequency))
        return tl_err_set(err, TL_EINVAL, "%s: frequency %g must be a positive number of periods per year",
                          what, frequency);
    return 0;
}

/* ---- pairwise sample covariance ------------------------------------------ */

/* pandas DataFrame.cov() (and corr() when C is non-NULL), daily. */
static int pairwise(const struct tl_pf_table *r, double *S, double *C, const char *what,
                    tl_err *err)
{
    size_t n = r->n_assets;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            size_t cnt;
            double vi, vj;
            double c = tl__pf_pair_cov(r->v, r->n_rows, n, i, j, &cnt, &vi, &vj);
            if (cnt < 2)
                return tl_err_set(err, TL_EINVAL,
                                  "%s: \"%s\" and \"%s\" have %zu returns on common dates, at least 2 needed",
                                  what, r->tickers[i], r->tickers[j], cnt);
            if (S)
                S[i * n + j] = S[j * n + i] = c;
            if (C) {
                /* nancorr: covxy / sqrt(ssqdmx * ssqdmy) over the pair's rows */
                double d = sqrt(vi * vj);
                C[i * n + j] = C[j * n + i] = d > 0 ? c / d : NAN;
            }
        }
    return 0;
}

int tl_pf_cov_pairwise(const struct tl_pf_table *returns, double *cov, double *corr, tl_err *err)
{
    int rc = tl__pf_check_table(returns, 2, "pairwise cov", err);
    return rc < 0 ? rc : pairwise(returns, cov, corr, "pairwise cov", err);
}

int tl_pf_sample_cov(const struct tl_pf_table *returns, double frequency, double *S,
                     struct tl_pf_risk_info *info, tl_err *err)
{
    int rc = check_args(returns, frequency, S, "sample cov", err);
    if (rc == 0)
        rc = pairwise(returns, S, NULL, "sample cov", err);
    return rc < 0 ? rc : finish(returns->n_assets, S, frequency, 0, info, err);
}

/* ---- semicovariance and exponential covariance ---------------------------- */

int tl_pf_semicov(const struct tl_pf_table *returns, double benchmark, double frequency,
                  double *S, struct tl_pf_risk_info *info, tl_err *err)
{
    int rc = check_args(returns, frequency, S, "semicovariance", err);
    if (rc < 0)
        return rc;
    size_t n = returns->n_assets, T = returns->n_rows;
    double *D = malloc(T * n * sizeof *D); /* (T, n) */
    if (!D)
        return tl_err_set(err, TL_ENOMEM, "semicovariance: out of memory");
    /* np.fmin(returns - benchmark, 0): a missing return becomes 0 */
    for (size_t k = 0; k < T * n; k++) {
        double x = returns->v[k] - benchmark;
        D[k] = isnan(x) ? 0.0 : fmin(x, 0.0);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            ld s = 0;
            for (size_t t = 0; t < T; t++)
                s += (ld)D[t * n + i] * D[t * n + j];
            S[i * n + j] = S[j * n + i] = (double)(s / T); /* (D'D) / T, T = all rows */
        }
    free(D);
    return finish(n, S, frequency, 0, info, err);
}

/* X.mean(): the column's mean over its own present values (pandas skipna). */
static double col_mean(const struct tl_pf_table *r, size_t j)
{
    ld s = 0;
    size_t c = 0;
    for (size_t t = 0; t < r->n_rows; t++) {
        double x = r->v[t * r->n_assets + j];
        if (!isnan(x)) {
            s += x;
            c++;
        }
    }
    return c ? (double)(s / c) : NAN;
}

int tl_pf_exp_cov(const struct tl_pf_table *returns, double span, double frequency, double *S,
                  struct tl_pf_risk_info *info, tl_err *err)
{
    int rc = check_args(returns, frequency, S, "exp cov", err);
    if (rc < 0)
        return rc;
    if (!(span >= 1) || !isfinite(span))
        return tl_err_set(err, TL_EINVAL, "exp cov: span %g must be at least 1", span);
    size_t n = returns->n_assets, T = returns->n_rows;
    double *mean = malloc(n * sizeof *mean), *c = malloc(T * sizeof *c);
    if (!mean || !c) {
        free(mean);
        free(c);
        return tl_err_set(err, TL_ENOMEM, "exp cov: out of memory");
    }
    for (size_t j = 0; j < n; j++)
        mean[j] = col_mean(returns, j);
    for (size_t i = 0; i < n && rc == 0; i++)
        for (size_t j = i; j < n; j++) {
            /* _pair_exp_cov: covariation = (X - X.mean()) * (Y - Y.mean()) */
            for (size_t t = 0; t < T; t++)
                c[t] = (returns->v[t * n + i] - mean[i]) * (returns->v[t * n + j] - mean[j]);
            double e = tl__pf_ewm_last(c, T, 1, span);
            if (isnan(e)) {
                rc = tl_err_set(err, TL_EINVAL, "exp cov: \"%s\" and \"%s\" have no return on a common date",
                                returns->tickers[i], returns->tickers[j]);
                break;
            }
            S[i * n + j] = S[j * n + i] = e;
        }
    free(mean);
    free(c);
    return rc < 0 ? rc : finish(n, S, frequency, 0, info, err);
}

/* ---- shrinkage -------------------------------------------------------------- */

int tl_pf_shrunk_cov(const struct tl_pf_table *returns, double delta, double frequency, double *S,
                     struct tl_pf_risk_info *info, tl_err *err)
{
    int rc = check_args(returns, frequency, S, "shrunk cov", err);
    if (rc < 0)
        return rc;
    if (!(delta >= 0 && delta <= 1))
        return tl_err_set(err, TL_EINVAL, "shrunk cov: delta %g must be in [0, 1]", delta);
    size_t n = returns->n_assets;
    rc = pairwise(returns, S, NULL, "shrunk cov", err);
    if (rc < 0)
        return rc;
    /* delta * (trace(S)/N) I + (1 - delta) S */
    ld tr = 0;
    for (size_t i = 0; i < n; i++)
        tr += S[i * n + i];
    double mu = (double)(tr / n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            S[i * n + j] = (i == j ? delta * mu : 0.0) + (1 - delta) * S[i * n + j];
    return finish(n, S, frequency, delta, info, err);
}

/* The zero-filled, column-demeaned returns Xm (T, n) the Ledoit-Wolf
 * estimators start from: np.nan_to_num(X), minus its column means (over all
 * T rows, zeros included). */
static double *zero_filled_demeaned(const struct tl_pf_table *r)
{
    size_t n = r->n_assets, T = r->n_rows;
    double *X = malloc(T * n * sizeof *X);
    if (!X)
        return NULL;
    for (size_t k = 0; k < T * n; k++)
        X[k] = isnan(r->v[k]) ? 0.0 : r->v[k];
    for (size_t j = 0; j < n; j++) {
        ld s = 0;
        for (size_t t = 0; t < T; t++)
            s += X[t * n + j];
        double m = (double)(s / T);
        for (size_t t = 0; t < T; t++)
            X[t * n + j] -= m;
    }
    return X;
}

/* G = A'B / T for (T, n) matrices A, B (row-major), long double sums. */
static void gram(const double *A, const double *B, size_t T, size_t n, double *G)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            ld s = 0;
            for (size_t t = 0; t < T; t++)
                s += (ld)A[t * n + i] * B[t * n + j];
            G[i * n + j] = (double)(s / T);
        }
}

/* scikit-learn 1.2 covariance.ledoit_wolf(np.nan_to_num(X)): target mu I
 * with mu = trace(S_mle)/N, shrinkage min(beta, delta)/delta. */
static int lw_constant_variance(const double *Xm, size_t T, size_t n, double *S, double *shrink)
{
    double *G = malloc(n * n * sizeof *G);
    if (!G)
        return TL_ENOMEM;
    gram(Xm, Xm, T, n, G); /* emp_cov = X'X / T */
    ld tr = 0, fro2 = 0, beta_ = 0;
    for (size_t i = 0; i < n; i++) {
        tr += G[i * n + i];
        for (size_t j = 0; j < n; j++) {
            fro2 += (ld)G[i * n + j] * G[i * n + j]; /* delta_ = ||X'X||^2 / T^2 */
            ld s = 0;
            for (size_t t = 0; t < T; t++) {
                ld a = Xm[t * n + i], b = Xm[t * n + j];
                s += a * a * b * b;
            }
            beta_ += s; /* sum((X^2)'(X^2)) */
        }
    }
    ld mu = tr / n;
    ld beta = (1.0L / (n * (ld)T)) * (beta_ / T - fro2);
    ld delta = (fro2 - 2 * mu * tr + n * mu * mu) / n;
    if (beta > delta)
        beta = delta;
    double s = beta == 0 ? 0.0 : (double)(beta / delta);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            S[i * n + j] = (1.0 - s) * G[i * n + j] + (i == j ? s * (double)mu : 0.0);
    *shrink = s;
    free(G);
    return 0;
}

/* pypfopt _ledoit_wolf_single_factor (Ledoit & Wolf 2001), term by term:
 * market x_t = the row mean of Xm, sample = the biased covariance of
 * [Xm, x], target F = beta beta' / var_m with the sample variances on the
 * diagonal. */
static int lw_single_factor(const double *Xm, size_t T, size_t n, double *S, double *shrink)
{
    size_t w = n + 1;
    double *A = malloc(T * w * sizeof *A);     /* (T, n+1): [Xm, xmkt] */
    double *Z = malloc(T * n * sizeof *Z);     /* z = Xm * xmkt */
    double *Y = malloc(T * n * sizeof *Y);     /* y = Xm^2 */
    double *C = calloc(w * w, sizeof *C);      /* np.cov(A) * (t-1)/t */
    double *F = malloc(n * n * sizeof *F);
    double *G = malloc(n * n * sizeof *G);
    if (!A || !Z || !Y || !C || !F || !G) {
        free(A), free(Z), free(Y), free(C), free(F), free(G);
        return TL_ENOMEM;
    }
    for (size_t t = 0; t < T; t++) {
        ld s = 0;
        for (size_t j = 0; j < n; j++) {
            A[t * w + j] = Xm[t * n + j];
            s += Xm[t * n + j];
        }
        A[t * w + n] = (double)(s / n);
    }
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < n; j++) {
            Y[t * n + j] = Xm[t * n + j] * Xm[t * n + j];
            Z[t * n + j] = Xm[t * n + j] * A[t * w + n];
        }
    /* np.cov re-centres each column, then the bias correction (t-1)/t: a
     * plain 1/T covariance */
    ld *mean = calloc(w, sizeof *mean);
    if (!mean) {
        free(A), free(Z), free(Y), free(C), free(F), free(G);
        return TL_ENOMEM;
    }
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < w; j++)
            mean[j] += A[t * w + j];
    for (size_t j = 0; j < w; j++)
        mean[j] /= T;
    for (size_t i = 0; i < w; i++)
        for (size_t j = 0; j <= i; j++) {
            ld s = 0;
            for (size_t t = 0; t < T; t++)
                s += (A[t * w + i] - mean[i]) * (A[t * w + j] - mean[j]);
            C[i * w + j] = C[j * w + i] = (double)(s / T);
        }
    free(mean);
    double varmkt = C[n * w + n];
    ld c = 0, sum_s2 = 0, diag_s2 = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double sij = C[i * w + j], bi = C[i * w + n], bj = C[j * w + n];
            F[i * n + j] = i == j ? sij : bi * bj / varmkt;
            c += ((ld)sij - F[i * n + j]) * ((ld)sij - F[i * n + j]);
            sum_s2 += (ld)sij * sij;
            if (i == j)
                diag_s2 += (ld)sij * sij;
        }
    /* p = 1/t sum(y'y) - sum(sample^2) */
    gram(Y, Y, T, n, G);
    ld p = -sum_s2;
    for (size_t k = 0; k < n * n; k++)
        p += G[k];
    /* rdiag = 1/t sum(y^2) - sum(diag(sample)^2) */
    ld rdiag = -diag_s2;
    for (size_t k = 0; k < T * n; k++)
        rdiag += (ld)Y[k] * Y[k] / T;
    /* v1 = 1/t y'z - beta_i sample_ij; roff1 = sum v1_ij beta_j / varmkt - sum v1_ii beta_i / varmkt */
    gram(Y, Z, T, n, G);
    ld roff1 = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double bi = C[i * w + n], bj = C[j * w + n];
            ld v1 = (ld)G[i * n + j] - (ld)bi * C[i * w + j];
            roff1 += v1 * bj / varmkt;
            if (i == j)
                roff1 -= v1 * bi / varmkt;
        }
    /* v3 = 1/t z'z - varmkt sample; roff3 = sum v3_ij b_i b_j / varmkt^2 - sum v3_ii b_i^2 / varmkt^2 */
    gram(Z, Z, T, n, G);
    ld roff3 = 0, vm2 = (ld)varmkt * varmkt;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double bi = C[i * w + n], bj = C[j * w + n];
            ld v3 = (ld)G[i * n + j] - (ld)varmkt * C[i * w + j];
            roff3 += v3 * bi * bj / vm2;
            if (i == j)
                roff3 -= v3 * bi * bi / vm2;
        }
    ld r = rdiag + 2 * roff1 - roff3;
    ld k = (p - r) / c;
    double delta = (double)(k / T);
    delta = delta < 0 ? 0 : delta > 1 ? 1 : delta;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            S[i * n + j] = delta * F[i * n + j] + (1 - delta) * C[i * w + j];
    *shrink = delta;
    free(A), free(Z), free(Y), free(C), free(F), free(G);
    return 0;
}

/* pypfopt _ledoit_wolf_constant_correlation (Ledoit & Wolf 2003): S is the
 * pairwise sample covariance (in S on entry); pi, rho and gamma come from
 * the zero-filled demeaned Xm. */
static int lw_constant_correlation(const double *Xm, size_t T, size_t n, double *S,
                                   double *shrink)
{
    double *F = malloc(n * n * sizeof *F), *H = malloc(n * n * sizeof *H);
    double *YY = malloc(n * n * sizeof *YY), *T1 = malloc(n * n * sizeof *T1);
    double *X3 = malloc(T * n * sizeof *X3), *Y = malloc(T * n * sizeof *Y);
    double *sd = malloc(n * sizeof *sd);
    if (!F || !H || !YY || !T1 || !X3 || !Y || !sd) {
        free(F), free(H), free(YY), free(T1), free(X3), free(Y), free(sd);
        return TL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        sd[i] = sqrt(S[i * n + i]);
    /* r_bar = (sum S / (std std') - n) / (n (n - 1)) */
    ld rs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            rs += S[i * n + j] / (sd[i] * sd[j]);
    double r_bar = n > 1 ? (double)((rs - n) / (n * (ld)(n - 1))) : 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            F[i * n + j] = i == j ? S[i * n + i] : r_bar * (sd[i] * sd[j]);
    for (size_t k = 0; k < T * n; k++) {
        Y[k] = Xm[k] * Xm[k];
        X3[k] = Y[k] * Xm[k];
    }
    gram(Y, Y, T, n, YY);   /* y'y / t */
    gram(Xm, Xm, T, n, H);  /* help_ = Xm'Xm / t */
    gram(X3, Xm, T, n, T1); /* term1 = (Xm^3)'Xm / t */
    ld pi_hat = 0, pi_diag = 0, theta_sum = 0, gamma = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double sij = S[i * n + j], vi = S[i * n + i];
            /* pi_mat = y'y/t - 2 (Xm'Xm) * S / t + S^2 */
            ld pij = (ld)YY[i * n + j] - 2 * (ld)H[i * n + j] * sij + (ld)sij * sij;
            pi_hat += pij;
            if (i == j) {
                pi_diag += pij;
            } else {
                /* theta = term1 - help_ii S_ij - help_ij var_i + var_i S_ij, 0 on the diagonal */
                ld th = (ld)T1[i * n + j] - (ld)H[i * n + i] * sij - (ld)H[i * n + j] * vi +
                        (ld)vi * sij;
                theta_sum += (ld)sd[j] / sd[i] * th;
            }
            ld d = (ld)sij - F[i * n + j];
            gamma += d * d;
        }
    ld rho = pi_diag + r_bar * theta_sum;
    double delta = 0.0;
    if (gamma > 0) {
        delta = (double)((pi_hat - rho) / gamma / T);
        delta = delta < 0 ? 0 : delta > 1 ? 1 : delta;
    }
    for (size_t k = 0; k < n * n; k++)
        S[k] = delta * F[k] + (1 - delta) * S[k];
    *shrink = delta;
    free(F), free(H), free(YY), free(T1), free(X3), free(Y), free(sd);
    return 0;
}

int tl_pf_ledoit_wolf(const struct tl_pf_table *returns, enum tl_pf_lw_target target,
                      double frequency, double *S, struct tl_pf_risk_info *info, tl_err *err)
{
    int rc = check_args(returns, frequency, S, "ledoit-wolf", err);
    if (rc < 0)
        return rc;
    if (target != TL_PF_LW_CONSTANT_VARIANCE && target != TL_PF_LW_SINGLE_FACTOR &&
        target != TL_PF_LW_CONSTANT_CORRELATION)
        return tl_err_set(err, TL_EUNSUPPORTED, "ledoit-wolf: shrinkage target %d not recognised",
                          (int)target);
    if (returns->n_rows < 2)
        return tl_err_set(err, TL_EINVAL, "ledoit-wolf: %zu return rows, at least 2 needed", returns->n_rows);
    size_t n = returns->n_assets, T = returns->n_rows;
    if (target == TL_PF_LW_CONSTANT_CORRELATION && (rc = pairwise(returns, S, NULL, "ledoit-wolf", err)) < 0)
        return rc;
    double *Xm = zero_filled_demeaned(returns);
    if (!Xm)
        return tl_err_set(err, TL_ENOMEM, "ledoit-wolf: out of memory");
    double shrink = 0;
    if (target == TL_PF_LW_CONSTANT_VARIANCE)
        rc = lw_constant_variance(Xm, T, n, S, &shrink);
    else if (target == TL_PF_LW_SINGLE_FACTOR)
        rc = lw_single_factor(Xm, T, n, S, &shrink);
    else
        rc = lw_constant_correlation(Xm, T, n, S, &shrink);
    free(Xm);
    if (rc < 0)
        return tl_err_set(err, rc, "ledoit-wolf: out of memory");
    return finish(n, S, frequency, shrink, info, err);
}

/* ---- objective helpers ------------------------------------------------------ */

double tl_pf_portfolio_variance(size_t n, const double *w, const double *S)
{
    ld s = 0;
    for (size_t i = 0; i < n; i++) {
        ld row = 0;
        for (size_t j = 0; j < n; j++)
            row += (ld)S[i * n + j] * w[j];
        s += w[i] * row;
    }
    return (double)s;
}

double tl_pf_portfolio_return(size_t n, const double *w, const double *mu)
{
    ld s = 0;
    for (size_t i = 0; i < n; i++)
        s += (ld)w[i] * mu[i];
    return (double)s;
}

double tl_pf_sharpe_ratio(size_t n, const double *w, const double *mu, const double *S, double rf)
{
    return (tl_pf_portfolio_return(n, w, mu) - rf) / sqrt(tl_pf_portfolio_variance(n, w, S));
}

double tl_pf_l2_reg(size_t n, const double *w, double gamma)
{
    ld s = 0;
    for (size_t i = 0; i < n; i++)
        s += (ld)w[i] * w[i];
    return gamma * (double)s;
}

double tl_pf_quadratic_utility(size_t n, const double *w, const double *mu, const double *S,
                               double risk_aversion)
{
    return tl_pf_portfolio_return(n, w, mu) - 0.5 * risk_aversion * tl_pf_portfolio_variance(n, w, S);
}

double tl_pf_transaction_cost(size_t n, const double *w, const double *w_prev, double k)
{
    /* plain double, left to right: numpy's sum of a short vector, so the
     * result equals k * np.abs(w - w_prev).sum() bit for bit */
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(w[i] - w_prev[i]);
    return k * s;
}

double tl_pf_ex_ante_tracking_error(size_t n, const double *w, const double *S,
                                    const double *w_bench)
{
    ld s = 0;
    for (size_t i = 0; i < n; i++) {
        ld row = 0;
        for (size_t j = 0; j < n; j++)
            row += (ld)S[i * n + j] * (w[j] - w_bench[j]);
        s += (w[i] - w_bench[i]) * row;
    }
    return (double)s;
}

double tl_pf_ex_post_tracking_error(size_t n, size_t T, const double *w, const double *R,
                                    const double *b)
{
    if (T == 0)
        return 0.0;
    ld mean = 0;
    for (size_t t = 0; t < T; t++)
        mean += tl_pf_portfolio_return(n, w, R + t * n) - b[t];
    mean /= T;
    ld s = 0;
    for (size_t t = 0; t < T; t++) {
        ld d = (ld)tl_pf_portfolio_return(n, w, R + t * n) - b[t] - mean;
        s += d * d;
    }
    return (double)s;
}
