/*
 * pf_qp.c - a primal active-set method for the dense convex QPs of the
 * portfolio optimisers (see pf_solve.h for the contract and the
 * convergence criterion).
 *
 * The working set W holds the equality rows, the variables fixed at a bound
 * and the inequality rows held at one of their sides. Each iteration solves
 * the equality-constrained subproblem on the free variables F,
 * min 1/2 p'H_FF p + q_F'p s.t. A_WF p = 0, then one step of iterative
 * refinement (the reference cases ask for about 1e-9 relative accuracy,
 * refinement gives ~1e-14). A nonzero step is taken as far as the first
 * blocking constraint, which joins W; a zero step means the point minimises
 * on W, and the inequality with the most negative multiplier leaves W, or,
 * if none, the point is optimal.
 *
 * The subproblem is solved in the range space of H: refactoring the KKT
 * system every iteration costs O(|F|^3), which at 500 assets is seconds, so
 * the Cholesky factor R'R of Hr_FF is kept across iterations instead: a
 * column is appended when a variable leaves its bound and removed with
 * Givens rotations when one reaches a bound, O(|F|^2) each. Hr is H plus
 * rho a a' for every equality row a: on the points and steps of the method
 * (all satisfy A_E x = b, A_E p = 0) that changes neither the objective nor
 * the steps nor the multipliers, and it makes the max-Sharpe Hessian, which
 * is singular in its scale variable k, positive definite. The few general
 * rows of W enter through Y = R^-T A_WF' and its Householder QR (a Schur
 * complement solved stably). The start puts the variables sitting at a bound
 * into W, so the method works up from a small free set instead of fixing
 * most variables one iteration at a time.
 *
 * When Hr_FF is not positive definite (H only positive definite on the
 * null space of the working set: a semivariance problem with fewer downside
 * days than assets) or the start's working set is dependent, the solve
 * falls back to what the method did before: every variable free at the
 * start and the full KKT system [H_FF A_WF'; A_WF 0] factored by LU with
 * partial pivoting each iteration. Buffers are allocated once per solve,
 * none inside the iteration.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdint.h>
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

static inline double dmax(double a, double b)
{
    return a > b ? a : b;
}

/* The range-space state of one solve: the factor of Hr over the free
 * variables in the order they joined it, and the QR of Y. */
typedef struct fastqp {
    size_t n;
    const double *Hr; /* H augmented by the equality rows (or H itself) */
    double *R;        /* upper triangular, row-major, leading dimension n */
    size_t nf;        /* variables in the factor */
    size_t *ord;      /* nf: the variable at each position */
    size_t *pos;      /* n: the position of each variable, SIZE_MAX when not free */
    size_t nw;
    double *Y;        /* nf x nw column-major: Householder vectors below the diagonal */
    double *tau;      /* nw */
    double *T;        /* nw x nw, upper triangular */
    double *col;      /* n scratch */
} fastqp;

/* R' b = b in place (forward substitution by rows of R) */
static void rt_solve(const double *R, size_t ld, size_t k, double *b)
{
    for (size_t i = 0; i < k; i++) {
        const double *ri = R + i * ld;
        double bi = b[i] /= ri[i];
        if (bi != 0.0)
            for (size_t l = i + 1; l < k; l++)
                b[l] -= ri[l] * bi;
    }
}

/* R b = b in place */
static void r_solve(const double *R, size_t ld, size_t k, double *b)
{
    for (size_t i = k; i-- > 0;) {
        const double *ri = R + i * ld;
        double s = b[i];
        for (size_t l = i + 1; l < k; l++)
            s -= ri[l] * b[l];
        b[i] = s / ri[i];
    }
}

/* Appends variable j to the factor; -1 when Hr_FF would not be (safely)
 * positive definite. */
static int chol_add(fastqp *f, size_t j)
{
    size_t n = f->n, k = f->nf;
    const double *hj = f->Hr + j * n;
    double *r = f->col;
    for (size_t a = 0; a < k; a++)
        r[a] = hj[f->ord[a]];
    rt_solve(f->R, n, k, r);
    double d = hj[j];
    for (size_t a = 0; a < k; a++)
        d -= r[a] * r[a];
    if (!(d > 1e-12 * fabs(hj[j])))
        return -1;
    for (size_t a = 0; a < k; a++)
        f->R[a * n + k] = r[a];
    f->R[k * n + k] = sqrt(d);
    f->ord[k] = j;
    f->pos[j] = k;
    f->nf = k + 1;
    return 0;
}

/* Removes the variable at position r: its column goes, the Hessenberg rest
 * is made triangular again by Givens rotations. */
static void chol_del(fastqp *f, size_t r)
{
    size_t n = f->n, k = f->nf;
    double *R = f->R;
    for (size_t i = 0; i < k; i++) {
        size_t from = i > r ? i : r + 1;
        if (from < k)
            memmove(R + i * n + from - 1, R + i * n + from, (k - from) * sizeof *R);
    }
    for (size_t c = r; c + 1 < k; c++) {
        double *ra = R + c * n, *rb = R + (c + 1) * n;
        double a = ra[c], b = rb[c], h = hypot(a, b);
        double cs = a / h, sn = b / h;
        ra[c] = h;
        rb[c] = 0.0;
        for (size_t l = c + 1; l + 1 < k; l++) {
            double u = ra[l], v = rb[l];
            ra[l] = cs * u + sn * v;
            rb[l] = cs * v - sn * u;
        }
    }
    f->pos[f->ord[r]] = SIZE_MAX;
    for (size_t a = r; a + 1 < k; a++) {
        f->ord[a] = f->ord[a + 1];
        f->pos[f->ord[a]] = a;
    }
    f->nf = k - 1;
}

/* Y = R^-T A_WF' and its Householder QR; -1 when the rows of W are
 * (numerically) dependent on the free variables. */
static int schur_setup(fastqp *f, const double *A, const size_t *W, size_t nw)
{
    size_t n = f->n, k = f->nf;
    f->nw = nw;
    if (nw > k)
        return -1;
    for (size_t b = 0; b < nw; b++) {
        double *y = f->Y + b * k;
        const double *ai = A + W[b] * n;
        for (size_t a = 0; a < k; a++)
            y[a] = ai[f->ord[a]];
        rt_solve(f->R, n, k, y);
    }
    for (size_t b = 0; b < nw; b++) {
        double *v = f->Y + b * k;
        double full = 0, nrm = 0;
        for (size_t a = 0; a < k; a++)
            full += v[a] * v[a];
        for (size_t a = b; a < k; a++)
            nrm += v[a] * v[a];
        nrm = sqrt(nrm);
        if (!(nrm > 1e-12 * sqrt(full)))
            return -1;
        double alpha = v[b] > 0 ? -nrm : nrm;
        v[b] -= alpha;
        double vv = 0;
        for (size_t a = b; a < k; a++)
            vv += v[a] * v[a];
        f->tau[b] = 2.0 / vv;
        f->T[b * nw + b] = alpha;
        for (size_t c = b + 1; c < nw; c++) {
            double *yc = f->Y + c * k, d = 0;
            for (size_t a = b; a < k; a++)
                d += v[a] * yc[a];
            d *= f->tau[b];
            for (size_t a = b; a < k; a++)
                yc[a] -= d * v[a];
            f->T[b * nw + c] = yc[b];
        }
    }
    return 0;
}

static void house(const fastqp *f, size_t b, double *z)
{
    size_t k = f->nf;
    const double *v = f->Y + b * k;
    double d = 0;
    for (size_t a = b; a < k; a++)
        d += v[a] * z[a];
    d *= f->tau[b];
    for (size_t a = b; a < k; a++)
        z[a] -= d * v[a];
}

/* Solves [Hr_FF A_WF'; A_WF 0] (p, nu) = (b1, b2): b1 becomes p, b2 nu.
 * With z = R^-T b1 and Y = QT: T nu = (Q'z)_top - T^-T b2 and
 * p = R^-1 (z - Y nu) = R^-1 Q [T^-T b2; (Q'z)_bottom]. */
static void fast_solve(const fastqp *f, double *b1, double *b2)
{
    size_t n = f->n, k = f->nf, nw = f->nw;
    const double *T = f->T;
    rt_solve(f->R, n, k, b1);
    for (size_t b = 0; b < nw; b++)
        house(f, b, b1);
    for (size_t b = 0; b < nw; b++) {
        double s = b2[b];
        for (size_t c = 0; c < b; c++)
            s -= T[c * nw + b] * b2[c];
        b2[b] = s / T[b * nw + b];
    }
    for (size_t b = 0; b < nw; b++) {
        double t = b1[b] - b2[b];
        b1[b] = b2[b];
        b2[b] = t;
    }
    for (size_t b = nw; b-- > 0;) {
        double s = b2[b];
        for (size_t c = b + 1; c < nw; c++)
            s -= T[b * nw + c] * b2[c];
        b2[b] = s / T[b * nw + b];
    }
    for (size_t b = nw; b-- > 0;)
        house(f, b, b1);
    r_solve(f->R, n, k, b1);
}

/* Factors Hr over the variables vst marks FREE; -1 when not positive
 * definite there. */
static int fast_refactor(fastqp *f, const int *vst)
{
    for (size_t j = 0; j < f->n; j++)
        f->pos[j] = SIZE_MAX;
    f->nf = 0;
    for (size_t j = 0; j < f->n; j++)
        if (vst[j] == FREE && chol_add(f, j) < 0)
            return -1;
    return 0;
}

/* Frees variables at a bound until the rows of W are independent on the
 * free variables (a vertex start such as x = e_0 leaves none free under
 * sum(x) = 1): Gaussian elimination on A_W with partial pivoting, the free
 * columns first, then the bound ones, each bound column that supplies a
 * pivot being freed. Rows still without a pivot are left to the caller's
 * check. -1 only when out of memory. */
static int independent_start(size_t n, const double *A, const size_t *W, size_t nw, int *vst)
{
    if (nw == 0)
        return 0;
    double *M = malloc(nw * n * sizeof *M), *scale = malloc(nw * sizeof *scale);
    int *done = calloc(nw, sizeof *done);
    if (!M || !scale || !done) {
        free(M);
        free(scale);
        free(done);
        return -1;
    }
    for (size_t b = 0; b < nw; b++) {
        memcpy(M + b * n, A + W[b] * n, n * sizeof *M);
        double s = 0;
        for (size_t j = 0; j < n; j++)
            s = dmax(s, fabs(M[b * n + j]));
        scale[b] = s;
    }
    size_t left = nw;
    for (int pass = 0; pass < 2 && left; pass++)
        for (size_t j = 0; j < n && left; j++) {
            if (vst[j] == FIXED || (pass == 0) != (vst[j] == FREE))
                continue;
            size_t pr = SIZE_MAX;
            double best = 0;
            for (size_t b = 0; b < nw; b++)
                if (!done[b] && fabs(M[b * n + j]) > 1e-9 * scale[b] &&
                    fabs(M[b * n + j]) > best) {
                    best = fabs(M[b * n + j]);
                    pr = b;
                }
            if (pr == SIZE_MAX)
                continue;
            done[pr] = 1;
            left--;
            vst[j] = FREE;
            for (size_t b = 0; b < nw; b++) {
                if (done[b])
                    continue;
                double fct = M[b * n + j] / M[pr * n + j];
                if (fct != 0.0)
                    for (size_t l = 0; l < n; l++)
                        M[b * n + l] -= fct * M[pr * n + l];
            }
        }
    free(M);
    free(scale);
    free(done);
    return 0;
}

int tl__qp_solve(const tl__pfprob *p, const char *what, double *x, double *obj, tl_err *err)
{
    size_t n = p->n, m = p->m;
    const double *H = p->H, *A = p->A;
    size_t kmax = n + m;
    /* per-solve buffers; the dense fallback's K and LU come later, if needed */
    size_t nbuf = n * n /* R */ + n * n /* Y */ + n /* tau */ + n * n /* T */ + n /* col */ +
                  kmax * 5 /* sol rhs res q mult */ + n * 3 /* pstep Hp corr */;
    double *buf = malloc(nbuf * sizeof *buf);
    size_t *ibuf = malloc((kmax * 3 + 1 + 2 * n) * sizeof *ibuf);
    int *vst = malloc((n + m + 1) * sizeof *vst);
    /* sparse copy of A for the ratio test and the multipliers */
    size_t nnz = 0;
    for (size_t i = 0; i < m * n; i++)
        nnz += A[i] != 0.0;
    size_t *rp = malloc((m + 1) * sizeof *rp), *ci = malloc((nnz + 1) * sizeof *ci);
    double *rv = malloc((nnz + 1) * sizeof *rv);
    double *Hr = NULL, *K = NULL, *LU = NULL;
    int rc = 0;
    if (!buf || !ibuf || !vst || !rp || !ci || !rv) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
        goto done;
    }
    fastqp f = {0};
    f.n = n;
    f.R = buf;
    f.Y = f.R + n * n;
    f.tau = f.Y + n * n;
    f.T = f.tau + n;
    f.col = f.T + n * n;
    double *sol = f.col + n, *rhs = sol + kmax, *res = rhs + kmax, *q = res + kmax,
           *mult = q + kmax, *pstep = mult + kmax, *Hp = pstep + n, *corr = Hp + n;
    size_t *piv = ibuf, *F = ibuf + kmax, *W = F + kmax;
    f.ord = W + kmax + 1;
    f.pos = f.ord + n;
    int *rst = vst + n;
    rp[0] = 0;
    for (size_t i = 0, z = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++)
            if (A[i * n + j] != 0.0) {
                ci[z] = j;
                rv[z++] = A[i * n + j];
            }
        rp[i + 1] = z;
    }

    /* a feasible start */
    int have = 0;
    if (p->x0) {
        have = 1;
        for (size_t j = 0; j < n && have; j++)
            if (!(p->x0[j] >= p->lb[j] - 1e-12 && p->x0[j] <= p->ub[j] + 1e-12))
                have = 0;
        for (size_t i = 0; i < m && have; i++) {
            double s = 0;
            for (size_t z = rp[i]; z < rp[i + 1]; z++)
                s += rv[z] * p->x0[ci[z]];
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
    for (size_t i = 0; i < m; i++)
        rst[i] = p->alo[i] == p->ahi[i] ? FIXED : FREE;
    /* Hr = H + rho a a' over the equality rows, rho scaled so each adds
     * about the mean curvature of H */
    f.Hr = H;
    {
        double tr = 0;
        int any_eq = 0;
        for (size_t j = 0; j < n; j++)
            tr += fabs(H[j * n + j]);
        tr = tr > 0 ? tr / (double)n : 1.0;
        for (size_t i = 0; i < m; i++)
            if (rst[i] == FIXED && rp[i + 1] > rp[i])
                any_eq = 1;
        if (any_eq) {
            Hr = malloc(n * n * sizeof *Hr);
            if (!Hr) {
                rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
                goto done;
            }
            memcpy(Hr, H, n * n * sizeof *Hr);
            for (size_t i = 0; i < m; i++) {
                if (rst[i] != FIXED || rp[i + 1] == rp[i])
                    continue;
                double a2 = 0;
                for (size_t z = rp[i]; z < rp[i + 1]; z++)
                    a2 += rv[z] * rv[z];
                double rho = tr / a2;
                for (size_t z = rp[i]; z < rp[i + 1]; z++)
                    for (size_t z2 = rp[i]; z2 < rp[i + 1]; z2++)
                        Hr[ci[z] * n + ci[z2]] += rho * rv[z] * rv[z2];
            }
            f.Hr = Hr;
        }
    }
    /* the start's working set: the variables at a bound, then the
     * equality rows; when that is dependent or Hr is not positive definite
     * on it, every variable starts free (and maybe the dense path) */
    int fast = 1;
    for (size_t j = 0; j < n; j++) {
        if (p->lb[j] == p->ub[j])
            x[j] = p->lb[j];
        else if (x[j] < p->lb[j])
            x[j] = p->lb[j];
        else if (x[j] > p->ub[j])
            x[j] = p->ub[j];
        vst[j] = p->lb[j] == p->ub[j] ? FIXED
                 : x[j] == p->lb[j]   ? AT_LO
                 : x[j] == p->ub[j]   ? AT_UP
                                      : FREE;
    }
    {
        size_t nw = 0;
        for (size_t i = 0; i < m; i++)
            if (rst[i] != FREE)
                W[nw++] = i;
        if (independent_start(n, A, W, nw, vst) < 0) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
            goto done;
        }
        if (fast_refactor(&f, vst) < 0 || schur_setup(&f, A, W, nw) < 0) {
            for (size_t j = 0; j < n; j++)
                if (vst[j] != FIXED)
                    vst[j] = FREE;
            if (fast_refactor(&f, vst) < 0)
                fast = 0;
        }
    }

    size_t max_iter = 20 * (n + m) + 100;
    size_t it;
    for (it = 0; it < max_iter; it++) {
        /* gradient, from the nonzeros of x (H symmetric) */
        double qmax = 0, xmax = 0;
        for (size_t j = 0; j < n; j++)
            q[j] = p->g ? p->g[j] : 0.0;
        for (size_t l = 0; l < n; l++) {
            double xl = x[l];
            if (xl == 0.0)
                continue;
            const double *hl = H + l * n;
            for (size_t j = 0; j < n; j++)
                q[j] += hl[j] * xl;
        }
        for (size_t j = 0; j < n; j++) {
            qmax = dmax(qmax, fabs(q[j]));
            xmax = dmax(xmax, fabs(x[j]));
        }
        size_t nf = 0, nw = 0;
        for (size_t i = 0; i < m; i++)
            if (rst[i] != FREE)
                W[nw++] = i;
        double pmax = 0;
        for (size_t j = 0; j < n; j++)
            pstep[j] = 0;
        if (fast && schur_setup(&f, A, W, nw) < 0) {
            /* cannot happen in exact arithmetic (a constraint joins W only
             * when independent of it); go on with the dense LU */
            fast = 0;
        }
        if (fast) {
            nf = f.nf;
            for (size_t a = 0; a < nf; a++) {
                F[a] = f.ord[a];
                rhs[a] = sol[a] = -q[f.ord[a]];
            }
            for (size_t b = 0; b < nw; b++)
                sol[nf + b] = 0.0;
            fast_solve(&f, sol, sol + nf);
            /* one step of iterative refinement */
            for (size_t a = 0; a < nf; a++) {
                const double *ha = f.Hr + F[a] * n;
                double s = rhs[a];
                for (size_t c = 0; c < nf; c++)
                    s -= ha[F[c]] * sol[c];
                res[a] = s;
            }
            for (size_t b = 0; b < nw; b++) {
                const double *ai = A + W[b] * n;
                double s = 0, nu = sol[nf + b];
                for (size_t a = 0; a < nf; a++) {
                    res[a] -= ai[F[a]] * nu;
                    s -= ai[F[a]] * sol[a];
                }
                res[nf + b] = s;
            }
            fast_solve(&f, res, res + nf);
            for (size_t a = 0; a < nf + nw; a++)
                sol[a] += res[a];
        } else {
            if (!K) {
                K = malloc(kmax * kmax * sizeof *K);
                LU = malloc(kmax * kmax * sizeof *LU);
                if (!K || !LU) {
                    rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
                    goto done;
                }
            }
            for (size_t j = 0; j < n; j++)
                if (vst[j] == FREE)
                    F[nf++] = j;
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
        }
        for (size_t a = 0; a < nf; a++) {
            pstep[F[a]] = sol[a];
            pmax = dmax(pmax, fabs(sol[a]));
        }
        if (pmax <= 1e-13 * (1 + xmax)) {
            /* a minimiser on W: check the multipliers (lambda = -nu) */
            for (size_t j = 0; j < n; j++)
                Hp[j] = corr[j] = 0.0;
            for (size_t a = 0; a < nf; a++) {
                const double *ha = H + F[a] * n;
                double pa = sol[a];
                for (size_t j = 0; j < n; j++)
                    Hp[j] += ha[j] * pa;
            }
            double worst = -1e-11 * (1 + qmax);
            int drop_var = -1, drop_row = -1;
            for (size_t b = 0; b < nw; b++) {
                size_t i = W[b];
                double lam = -sol[nf + b];
                mult[b] = lam;
                for (size_t z = rp[i]; z < rp[i + 1]; z++)
                    corr[ci[z]] += lam * rv[z];
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
                double mu = q[j] + Hp[j] - corr[j];
                double sg = vst[j] == AT_LO ? mu : -mu;
                if (sg < worst) {
                    worst = sg;
                    drop_var = (int)j;
                    drop_row = -1;
                }
            }
            if (drop_var < 0 && drop_row < 0)
                break; /* optimal */
            if (drop_var >= 0) {
                vst[drop_var] = FREE;
                if (fast && chol_add(&f, (size_t)drop_var) < 0)
                    fast = 0;
            } else {
                rst[W[drop_row]] = FREE;
            }
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
            double s = 0, d = 0, an = 0;
            for (size_t z = rp[i]; z < rp[i + 1]; z++) {
                s += rv[z] * x[ci[z]];
                d += rv[z] * pstep[ci[z]];
                an += fabs(rv[z]);
            }
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
            if (fast)
                chol_del(&f, f.pos[add_var]);
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
    free(rp);
    free(ci);
    free(rv);
    free(Hr);
    free(K);
    free(LU);
    return rc;
}
