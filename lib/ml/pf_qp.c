/*
 * pf_qp.c - a primal active-set method for the dense convex QPs of the
 * portfolio optimisers (see pf_solve.h for the contract and the
 * convergence criterion).
 *
 * The working set W holds the equality rows, the variables fixed at a bound
 * and the inequality rows held at one of their sides. Each iteration solves
 * the equality-constrained subproblem on the free variables F through its
 * KKT system [H_FF A_WF'; A_WF 0] by LU with partial pivoting and one step of
 * iterative refinement (the tolerances of the reference cases ask for about
 * 1e-9 relative accuracy, refinement gives ~1e-14). A nonzero step is taken
 * as far as the first blocking constraint, which joins W; a zero step means
 * the point minimises on W, and the inequality with the most negative
 * multiplier leaves W, or, if none, the point is optimal. Every buffer is
 * allocated once per solve, none inside the iteration.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tl__pf_lu(double *a, size_t k, size_t *piv)
{
    double amax = 0;
    for (size_t i = 0; i < k * k; i++)
        amax = fmax(amax, fabs(a[i]));
    if (amax == 0)
        return k ? -1 : 0;
    double tol = 1e-14 * amax;
    for (size_t c = 0; c < k; c++) {
        size_t pr = c;
        double best = fabs(a[c * k + c]);
        for (size_t r = c + 1; r < k; r++)
            if (fabs(a[r * k + c]) > best) {
                best = fabs(a[r * k + c]);
                pr = r;
            }
        piv[c] = pr;
        if (best <= tol)
            return -1;
        if (pr != c)
            for (size_t j = 0; j < k; j++) {
                double t = a[c * k + j];
                a[c * k + j] = a[pr * k + j];
                a[pr * k + j] = t;
            }
        double inv = 1.0 / a[c * k + c];
        for (size_t r = c + 1; r < k; r++) {
            double f = a[r * k + c] * inv;
            if (f == 0.0)
                continue;
            a[r * k + c] = f;
            double *ar = a + r * k, *ac = a + c * k;
            for (size_t j = c + 1; j < k; j++)
                ar[j] -= f * ac[j];
        }
    }
    return 0;
}

void tl__pf_lu_solve(const double *lu, size_t k, const size_t *piv, double *b)
{
    /* whole rows (L included) were swapped, so apply every swap first */
    for (size_t c = 0; c < k; c++)
        if (piv[c] != c) {
            double t = b[c];
            b[c] = b[piv[c]];
            b[piv[c]] = t;
        }
    for (size_t c = 0; c < k; c++) {
        double bc = b[c];
        if (bc != 0.0)
            for (size_t r = c + 1; r < k; r++)
                b[r] -= lu[r * k + c] * bc;
    }
    for (size_t c = k; c-- > 0;) {
        double s = b[c];
        for (size_t j = c + 1; j < k; j++)
            s -= lu[c * k + j] * b[j];
        b[c] = s / lu[c * k + c];
    }
}

enum { FREE = 0, AT_LO = -1, AT_UP = 1, FIXED = 2 };

int tl__qp_solve(const tl__pfprob *p, const char *what, double *x, double *obj, tl_err *err)
{
    size_t n = p->n, m = p->m;
    const double *H = p->H, *A = p->A;
    size_t kmax = n + m;
    size_t nbuf = kmax * kmax * 2 + kmax * 6 + n * 3 + m * 2;
    double *buf = malloc(nbuf * sizeof *buf);
    size_t *ibuf = malloc((kmax * 3 + 1) * sizeof *ibuf);
    int *vst = malloc((n + m + 1) * sizeof *vst);
    if (!buf || !ibuf || !vst) {
        free(buf);
        free(ibuf);
        free(vst);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    }
    double *K = buf, *LU = K + kmax * kmax, *sol = LU + kmax * kmax, *rhs = sol + kmax,
           *res = rhs + kmax, *q = res + kmax, *pstep = q + kmax, *mult = pstep + kmax,
           *Hp = mult + kmax, *ax = Hp + n, *ap = ax + m, *tmp = ap + m;
    (void)tmp;
    size_t *piv = ibuf, *F = ibuf + kmax, *W = F + kmax;
    int *rst = vst + n;
    int rc = 0;

    /* a feasible start */
    int have = 0;
    if (p->x0) {
        have = 1;
        for (size_t j = 0; j < n && have; j++)
            if (!(p->x0[j] >= p->lb[j] - 1e-12 && p->x0[j] <= p->ub[j] + 1e-12))
                have = 0;
        for (size_t i = 0; i < m && have; i++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += A[i * n + j] * p->x0[j];
            double tol = 1e-10 * (1 + fabs(s));
            if (s < p->alo[i] - tol || s > p->ahi[i] + tol)
                have = 0;
        }
        if (have)
            memcpy(x, p->x0, n * sizeof *x);
    }
    if (!have) {
        tl__pfprob ph1 = *p;
        ph1.g = NULL;
        rc = tl__lp_solve(&ph1, what, x, NULL, err);
        if (rc < 0)
            goto done;
    }
    for (size_t j = 0; j < n; j++) {
        vst[j] = p->lb[j] == p->ub[j] ? FIXED : FREE;
        if (vst[j] == FIXED)
            x[j] = p->lb[j];
        else if (x[j] < p->lb[j])
            x[j] = p->lb[j];
        else if (x[j] > p->ub[j])
            x[j] = p->ub[j];
    }
    for (size_t i = 0; i < m; i++)
        rst[i] = p->alo[i] == p->ahi[i] ? FIXED : FREE;

    size_t max_iter = 20 * (n + m) + 100;
    size_t it;
    for (it = 0; it < max_iter; it++) {
        /* gradient */
        double qmax = 0, xmax = 0;
        for (size_t j = 0; j < n; j++) {
            double s = p->g ? p->g[j] : 0.0;
            const double *hj = H + j * n;
            for (size_t l = 0; l < n; l++)
                s += hj[l] * x[l];
            q[j] = s;
            qmax = fmax(qmax, fabs(s));
            xmax = fmax(xmax, fabs(x[j]));
        }
        size_t nf = 0, nw = 0;
        for (size_t j = 0; j < n; j++)
            if (vst[j] == FREE)
                F[nf++] = j;
        for (size_t i = 0; i < m; i++)
            if (rst[i] != FREE)
                W[nw++] = i;
        size_t k = nf + nw;
        /* KKT on the free variables */
        for (size_t a = 0; a < nf; a++) {
            for (size_t b = 0; b < nf; b++)
                K[a * k + b] = H[F[a] * n + F[b]];
            for (size_t b = 0; b < nw; b++)
                K[a * k + nf + b] = A[W[b] * n + F[a]];
            rhs[a] = -q[F[a]];
        }
        for (size_t a = 0; a < nw; a++) {
            for (size_t b = 0; b < nf; b++)
                K[(nf + a) * k + b] = A[W[a] * n + F[b]];
            for (size_t b = 0; b < nw; b++)
                K[(nf + a) * k + nf + b] = 0.0;
            rhs[nf + a] = 0.0;
        }
        memcpy(LU, K, k * k * sizeof *K);
        if (k && tl__pf_lu(LU, k, piv) < 0) {
            rc = tl_err_set(err, TL_EINTERNAL,
                            "%s: the KKT system is singular (the risk matrix is not positive "
                            "definite on the feasible directions)", what);
            goto done;
        }
        memcpy(sol, rhs, k * sizeof *sol);
        if (k)
            tl__pf_lu_solve(LU, k, piv, sol);
        /* one step of iterative refinement */
        for (size_t a = 0; a < k; a++) {
            double s = rhs[a];
            for (size_t b = 0; b < k; b++)
                s -= K[a * k + b] * sol[b];
            res[a] = s;
        }
        if (k)
            tl__pf_lu_solve(LU, k, piv, res);
        for (size_t a = 0; a < k; a++)
            sol[a] += res[a];
        double pmax = 0;
        for (size_t j = 0; j < n; j++)
            pstep[j] = 0;
        for (size_t a = 0; a < nf; a++) {
            pstep[F[a]] = sol[a];
            pmax = fmax(pmax, fabs(sol[a]));
        }
        if (pmax <= 1e-13 * (1 + xmax)) {
            /* a minimiser on W: check the multipliers (lambda = -nu) */
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t l = 0; l < n; l++)
                    s += H[j * n + l] * pstep[l];
                Hp[j] = s;
            }
            double worst = -1e-11 * (1 + qmax);
            int drop_var = -1, drop_row = -1;
            for (size_t b = 0; b < nw; b++) {
                size_t i = W[b];
                double lam = -sol[nf + b];
                mult[b] = lam;
                if (rst[i] == FIXED)
                    continue;
                double sg = rst[i] == AT_LO ? lam : -lam;
                if (sg < worst) {
                    worst = sg;
                    drop_row = (int)b;
                    drop_var = -1;
                }
            }
            for (size_t j = 0; j < n; j++) {
                if (vst[j] == FREE || vst[j] == FIXED)
                    continue;
                double mu = q[j] + Hp[j];
                for (size_t b = 0; b < nw; b++)
                    mu -= mult[b] * A[W[b] * n + j];
                double sg = vst[j] == AT_LO ? mu : -mu;
                if (sg < worst) {
                    worst = sg;
                    drop_var = (int)j;
                    drop_row = -1;
                }
            }
            if (drop_var < 0 && drop_row < 0)
                break; /* optimal */
            if (drop_var >= 0)
                vst[drop_var] = FREE;
            else
                rst[W[drop_row]] = FREE;
            continue;
        }
        /* ratio test */
        double alpha = 1.0;
        int add_var = -1, add_row = -1, add_side = 0;
        for (size_t a = 0; a < nf; a++) {
            size_t j = F[a];
            double pj = pstep[j];
            double lim;
            if (pj < 0 && isfinite(p->lb[j])) {
                lim = (x[j] - p->lb[j]) / -pj;
                if (lim < alpha) {
                    alpha = lim < 0 ? 0 : lim;
                    add_var = (int)j;
                    add_row = -1;
                    add_side = AT_LO;
                }
            } else if (pj > 0 && isfinite(p->ub[j])) {
                lim = (p->ub[j] - x[j]) / pj;
                if (lim < alpha) {
                    alpha = lim < 0 ? 0 : lim;
                    add_var = (int)j;
                    add_row = -1;
                    add_side = AT_UP;
                }
            }
        }
        for (size_t i = 0; i < m; i++) {
            if (rst[i] != FREE)
                continue;
            const double *ai = A + i * n;
            double s = 0, d = 0, an = 0;
            for (size_t j = 0; j < n; j++) {
                s += ai[j] * x[j];
                d += ai[j] * pstep[j];
                an += fabs(ai[j]);
            }
            ax[i] = s;
            ap[i] = d;
            if (fabs(d) <= 1e-13 * an * pmax)
                continue;
            double lim;
            if (d < 0 && isfinite(p->alo[i])) {
                lim = (s - p->alo[i]) / -d;
                if (lim < alpha) {
                    alpha = lim < 0 ? 0 : lim;
                    add_row = (int)i;
                    add_var = -1;
                    add_side = AT_LO;
                }
            } else if (d > 0 && isfinite(p->ahi[i])) {
                lim = (p->ahi[i] - s) / d;
                if (lim < alpha) {
                    alpha = lim < 0 ? 0 : lim;
                    add_row = (int)i;
                    add_var = -1;
                    add_side = AT_UP;
                }
            }
        }
        for (size_t j = 0; j < n; j++)
            x[j] += alpha * pstep[j];
        if (add_var >= 0) {
            vst[add_var] = add_side;
            x[add_var] = add_side == AT_LO ? p->lb[add_var] : p->ub[add_var];
        } else if (add_row >= 0) {
            rst[add_row] = add_side;
        }
    }
    if (it == max_iter) {
        rc = tl_err_set(err, TL_EINTERNAL, "%s: the active-set method hit its iteration limit",
                        what);
        goto done;
    }
    if (obj) {
        double o = 0;
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t l = 0; l < n; l++)
                s += H[j * n + l] * x[l];
            o += 0.5 * x[j] * s + (p->g ? p->g[j] * x[j] : 0.0);
        }
        *obj = o;
    }
done:
    free(buf);
    free(ibuf);
    free(vst);
    return rc;
}
