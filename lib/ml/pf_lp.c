/*
 * pf_lp.c - the portfolio LPs: a bounded-variable primal simplex on a dense
 * tableau (maximum return, phase 1 of the QP, and the small exact polish
 * of CVaR and CDaR), and a structured interior-point method for the large
 * CVaR and CDaR LPs (below, after the simplex).
 *
 * Every row gets a logical variable s_i = A_i x with bounds [alo_i, ahi_i],
 * so the system is A x - s = 0 and every variable is bounded (possibly by
 * infinities). Nonbasic variables sit at a bound (a free one at 0). Rows
 * whose logical cannot start feasible get an artificial variable; phase 1
 * minimises their sum. The tableau is kept as B^-1 [A -I E] with the
 * reduced costs as an extra row; a pivot touches only the nonzeros of the
 * pivot row and column, which keeps the CVaR/CDaR tableaux (mostly sparse
 * rows) affordable. Pricing is Dantzig's largest reduced cost; after 50
 * degenerate pivots in a row it switches to Bland's smallest-index rule,
 * under which the simplex cannot cycle, until a pivot makes progress.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef TL_LP_DUST
#define TL_LP_DUST 1e-15
#endif
#ifndef TL_LP_PIVTOL
#define TL_LP_PIVTOL 1e-9
#endif

enum { AT_LO = 0, AT_UP = 1, AT_ZERO = 2, BASIC = 3 };

typedef struct lp {
    size_t m, nc;      /* rows, columns (structural + logical + artificial) */
    double *T;         /* m * nc */
    double *d;         /* reduced costs, nc */
    double *c;         /* costs of the current phase, nc */
    double *lb, *ub, *x;
    int *st;           /* AT_LO / AT_UP / AT_ZERO / BASIC */
    size_t *head;      /* basic variable of each row */
    size_t *nz;        /* scratch: nonzero columns of the pivot row */
    size_t pivots;     /* pivots and bound flips so far */
} lp;

static double val_nonbasic(double lb, double ub, int *st)
{
    if (isfinite(lb)) {
        *st = AT_LO;
        return lb;
    }
    if (isfinite(ub)) {
        *st = AT_UP;
        return ub;
    }
    *st = AT_ZERO;
    return 0.0;
}

static void pivot(lp *L, size_t r, size_t q)
{
    size_t nc = L->nc, m = L->m;
    double *tr = L->T + r * nc;
    double inv = 1.0 / tr[q];
    double rmax = 0;
    size_t k = 0;
    for (size_t j = 0; j < nc; j++) {
        if (tr[j] != 0.0) {
            tr[j] *= inv;
            if (fabs(tr[j]) > rmax)
                rmax = fabs(tr[j]);
        }
    }
    /* round-off dust in the pivot row would fill the whole tableau */
    double dust = TL_LP_DUST * rmax;
    for (size_t j = 0; j < nc; j++) {
        if (tr[j] != 0.0) {
            if (fabs(tr[j]) < dust)
                tr[j] = 0.0;
            else
                L->nz[k++] = j;
        }
    }
    tr[q] = 1.0;
    for (size_t i = 0; i < m; i++) {
        if (i == r)
            continue;
        double *ti = L->T + i * nc;
        double f = ti[q];
        if (f == 0.0)
            continue;
        for (size_t t = 0; t < k; t++)
            ti[L->nz[t]] -= f * tr[L->nz[t]];
        ti[q] = 0.0;
    }
    double f = L->d[q];
    if (f != 0.0) {
        for (size_t t = 0; t < k; t++)
            L->d[L->nz[t]] -= f * tr[L->nz[t]];
        L->d[q] = 0.0;
    }
}

static void reduced_costs(lp *L)
{
    memcpy(L->d, L->c, L->nc * sizeof *L->d);
    for (size_t i = 0; i < L->m; i++) {
        double cb = L->c[L->head[i]];
        if (cb == 0.0)
            continue;
        const double *ti = L->T + i * L->nc;
        for (size_t j = 0; j < L->nc; j++)
            if (ti[j] != 0.0)
                L->d[j] -= cb * ti[j];
    }
    for (size_t i = 0; i < L->m; i++)
        L->d[L->head[i]] = 0.0;
}

/* 0 optimal, 1 unbounded, 2 iteration limit */
static int simplex(lp *L, double dtol)
{
    size_t m = L->m, nc = L->nc;
    size_t max_iter = 50 * (m + nc) + 1000;
    int degenerate = 0;
    for (size_t it = 0; it < max_iter; it++) {
        int bland = degenerate > 50;
        size_t q = SIZE_MAX;
        double best = 0;
        int dir = 0;
        for (size_t j = 0; j < nc; j++) {
            int s = L->st[j];
            if (s == BASIC || L->lb[j] == L->ub[j])
                continue;
            double dj = L->d[j];
            int dj_dir = 0;
            if (dj < -dtol && (s == AT_LO || s == AT_ZERO))
                dj_dir = 1;
            else if (dj > dtol && (s == AT_UP || s == AT_ZERO))
                dj_dir = -1;
            if (!dj_dir)
                continue;
            if (bland) {
                q = j;
                dir = dj_dir;
                break;
            }
            if (fabs(dj) > best) {
                best = fabs(dj);
                q = j;
                dir = dj_dir;
            }
        }
        if (q == SIZE_MAX)
            return 0;
        L->pivots++;
        /* ratio test */
        double theta = INFINITY;
        size_t r = SIZE_MAX;
        int leave_to = AT_LO;
        double rbest = 0;
        if (isfinite(L->lb[q]) && isfinite(L->ub[q]))
            theta = L->ub[q] - L->lb[q];
        for (size_t i = 0; i < m; i++) {
            double a = L->T[i * nc + q];
            if (fabs(a) < TL_LP_PIVTOL)
                continue;
            size_t b = L->head[i];
            double rate = -a * dir;
            double lim;
            int to;
            if (rate < 0) {
                if (!isfinite(L->lb[b]))
                    continue;
                lim = (L->x[b] - L->lb[b]) / -rate;
                to = AT_LO;
            } else {
                if (!isfinite(L->ub[b]))
                    continue;
                lim = (L->ub[b] - L->x[b]) / rate;
                to = AT_UP;
            }
            if (lim < 0)
                lim = 0;
            int better;
            if (r == SIZE_MAX)
                better = lim < theta;
            else if (bland)
                better = lim < theta - 1e-12 || (lim <= theta + 1e-12 && b < L->head[r]);
            else
                better = lim < theta - 1e-12 || (lim <= theta + 1e-12 && fabs(a) > rbest);
            if (better) {
                theta = lim;
                r = i;
                leave_to = to;
                rbest = fabs(a);
            }
        }
        if (!isfinite(theta))
            return 1;
        degenerate = theta <= 1e-12 ? degenerate + 1 : 0;
        /* move */
        L->x[q] += dir * theta;
        for (size_t i = 0; i < m; i++) {
            double a = L->T[i * nc + q];
            if (a != 0.0)
                L->x[L->head[i]] -= a * dir * theta;
        }
        if (r == SIZE_MAX) { /* bound flip */
            L->st[q] = dir > 0 ? AT_UP : AT_LO;
            L->x[q] = dir > 0 ? L->ub[q] : L->lb[q];
            continue;
        }
        size_t b = L->head[r];
        L->st[b] = leave_to;
        L->x[b] = leave_to == AT_LO ? L->lb[b] : L->ub[b];
        L->st[q] = BASIC;
        L->head[r] = q;
        pivot(L, r, q);
    }
    return 2;
}

int tl__lp_solve(const tl__pfprob *p, const char *what, double *x, double *obj, tl_err *err)
{
    size_t n = p->n, m = p->m;
    /* count artificials: rows whose logical cannot start within its bounds */
    double *x0 = malloc((n + 1) * sizeof *x0);
    int *st0 = malloc((n + 1) * sizeof *st0);
    double *ax = malloc((m + 1) * sizeof *ax);
    if (!x0 || !st0 || !ax) {
        free(x0);
        free(st0);
        free(ax);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    }
    for (size_t j = 0; j < n; j++) {
        if (p->lb[j] > p->ub[j]) {
            free(x0);
            free(st0);
            free(ax);
            return tl_err_set(err, TL_EINVAL, "%s: variable %zu has lower bound %g above upper %g",
                              what, j, p->lb[j], p->ub[j]);
        }
        x0[j] = val_nonbasic(p->lb[j], p->ub[j], &st0[j]);
    }
    size_t na = 0;
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++)
            s += p->A[i * n + j] * x0[j];
        ax[i] = s;
        if (s < p->alo[i] || s > p->ahi[i])
            na++;
    }
    lp L = {0};
    L.m = m;
    L.nc = n + m + na;
    size_t nc = L.nc;
    L.T = calloc(m * nc + 1, sizeof *L.T);
    L.d = calloc(nc, sizeof *L.d);
    L.c = calloc(nc, sizeof *L.c);
    L.lb = malloc(nc * sizeof *L.lb);
    L.ub = malloc(nc * sizeof *L.ub);
    L.x = malloc(nc * sizeof *L.x);
    L.st = malloc(nc * sizeof *L.st);
    L.head = malloc((m + 1) * sizeof *L.head);
    L.nz = malloc(nc * sizeof *L.nz);
    int rc = 0;
    if (!L.T || !L.d || !L.c || !L.lb || !L.ub || !L.x || !L.st || !L.head || !L.nz) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory for a %zu x %zu tableau", what, m, nc);
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        L.lb[j] = p->lb[j];
        L.ub[j] = p->ub[j];
        L.x[j] = x0[j];
        L.st[j] = st0[j];
    }
    size_t a = n + m;
    for (size_t i = 0; i < m; i++) {
        size_t s = n + i;
        L.lb[s] = p->alo[i];
        L.ub[s] = p->ahi[i];
        double *ti = L.T + i * nc;
        if (ax[i] >= p->alo[i] && ax[i] <= p->ahi[i]) {
            /* row: -A_i x + s = 0, s basic */
            for (size_t j = 0; j < n; j++)
                ti[j] = -p->A[i * n + j];
            ti[s] = 1.0;
            L.x[s] = ax[i];
            L.st[s] = BASIC;
            L.head[i] = s;
        } else {
            double target = ax[i] < p->alo[i] ? p->alo[i] : p->ahi[i];
            L.x[s] = target;
            L.st[s] = ax[i] < p->alo[i] ? AT_LO : AT_UP;
            double sg = target - ax[i] > 0 ? 1.0 : -1.0;
            /* A_i x - s + sg*art = 0  ->  art = sg*(s - A_i x) > 0 */
            for (size_t j = 0; j < n; j++)
                ti[j] = sg * p->A[i * n + j];
            ti[s] = -sg;
            ti[a] = 1.0;
            L.lb[a] = 0;
            L.ub[a] = INFINITY;
            L.x[a] = fabs(target - ax[i]);
            L.st[a] = BASIC;
            L.c[a] = 1.0;
            L.head[i] = a;
            a++;
        }
    }
    if (na) {
        reduced_costs(&L);
        int r1 = simplex(&L, 1e-12);
        if (r1 == 2) {
            rc = tl_err_set(err, TL_EINTERNAL, "%s: phase 1 hit the iteration limit", what);
            goto done;
        }
        double infeas = 0, scale = 1;
        for (size_t k = n + m; k < nc; k++)
            infeas += L.x[k];
        for (size_t i = 0; i < m; i++)
            if (isfinite(p->alo[i]) || isfinite(p->ahi[i]))
                scale = fmax(scale, fmax(isfinite(p->alo[i]) ? fabs(p->alo[i]) : 0,
                                         isfinite(p->ahi[i]) ? fabs(p->ahi[i]) : 0));
        if (infeas > 1e-9 * scale) {
            rc = tl_err_set(err, TL_EINVAL, "%s: the constraints are infeasible (no weights satisfy "
                            "the bounds, sums and targets together)", what);
            goto done;
        }
        for (size_t k = n + m; k < nc; k++) {
            L.lb[k] = L.ub[k] = 0.0;
            L.c[k] = 0.0;
            if (L.st[k] != BASIC) {
                L.st[k] = AT_LO;
                L.x[k] = 0;
            }
        }
    }
    double cmax = 0;
    for (size_t j = 0; j < n; j++) {
        L.c[j] = p->g ? p->g[j] : 0.0;
        cmax = fmax(cmax, fabs(L.c[j]));
    }
    /* the reduced-cost row drifts over thousands of pivots: recompute it
     * from the costs and go on until the fresh row confirms optimality */
    int r2 = 0;
    for (int round = 0; round < 5; round++) {
        reduced_costs(&L);
        size_t before = L.pivots;
        r2 = simplex(&L, 1e-11 * fmax(cmax, 1e-300) + 1e-300);
        if (r2 != 0 || L.pivots == before)
            break;
    }
    if (r2 == 1) {
        rc = tl_err_set(err, TL_EINVAL, "%s: the problem is unbounded", what);
        goto done;
    }
    if (r2 == 2) {
        rc = tl_err_set(err, TL_EINTERNAL, "%s: the simplex hit its iteration limit", what);
        goto done;
    }
    /* recompute the basic values from the nonbasic ones to shed the drift */
    for (size_t i = 0; i < m; i++) {
        const double *ti = L.T + i * nc;
        double s = 0;
        for (size_t j = 0; j < nc; j++)
            if (L.st[j] != BASIC && ti[j] != 0.0)
                s -= ti[j] * L.x[j];
        L.x[L.head[i]] = s;
    }
    double o = 0;
    for (size_t j = 0; j < n; j++) {
        x[j] = L.x[j];
        /* the basic values are exact up to round-off; keep them in bounds */
        if (x[j] < p->lb[j])
            x[j] = p->lb[j];
        if (x[j] > p->ub[j])
            x[j] = p->ub[j];
        o += L.c[j] * x[j];
    }
    if (obj)
        *obj = o;
done:
    free(x0);
    free(st0);
    free(ax);
    free(L.T);
    free(L.d);
    free(L.c);
    free(L.lb);
    free(L.ub);
    free(L.x);
    free(L.st);
    free(L.head);
    free(L.nz);
    return rc;
}

/* ---- interior point ------------------------------------------------------------
 * Standard form: every row gets a slack s_i (A x - s = 0, alo <= s <= ahi)
 * unless it is an equality (A x = alo); v = (x, s) has bounds l <= v <= u.
 * The Newton system of the primal-dual method is
 *     [ -Theta^-1  A' ] [dv]   [f]
 *     [  A         0  ] [dy] = [g]
 * with Theta^-1 = zl/(v-l) + zu/(u-v). Columns are split into dense ones D
 * (free variables and columns with many nonzeros: w and alpha) and sparse
 * ones S; rows into border rows B (no sparse entries, or many: the sum,
 * group and risk rows) and structured rows R. Eliminating dv_S and then dy_R
 * through the banded M = A_RS Theta_S A_RS' leaves a small dense system in
 * (dv_D, dy_B). */

#define IPM_DENSE 10 /* nonzeros above which a column or row is dense */

typedef struct ipm {
    size_t nx, m, nv;             /* structural columns, rows, all columns */
    size_t *cp, *ri;              /* column-compressed A incl. slacks */
    double *cv;
    double *l, *u, *c, *b;        /* nv, nv, nv, m */
    int *colD;                    /* nv: 1 dense */
    int *rowB;                    /* m: 1 border */
    size_t *pos;                  /* m: index among R rows or among B rows */
    size_t *dpos;                 /* nv: index among D columns (dense only) */
    size_t nD, nB, nR, bw, nb;    /* nb = nD + nB */
    double *M;                    /* nR * (bw+1): band, M[i*(bw+1) + i-j] */
    double *G, *W;                /* nb * nR each, column k at k*nR */
    double *K;                    /* nb * nb */
    size_t *piv;
    double *th;                   /* nv: Theta (sparse columns), Theta^-1 (dense) */
    double *q, *rb, *ks;          /* nR, nb, nb (scaling of the border system) */
    double *r1, *r2, *ev, *ey;    /* nv, m, nv, m: iterative refinement */
    double *thi;                  /* nv: Theta^-1 unregularised */
    double reg;                   /* floor of Theta^-1 on sparse columns */
} ipm;

static void band_chol(double *M, size_t n, size_t bw)
{
    size_t w = bw + 1;
    for (size_t i = 0; i < n; i++) {
        size_t j0 = i > bw ? i - bw : 0;
        for (size_t j = j0; j <= i; j++) {
            double s = M[i * w + (i - j)];
            size_t k0 = j > bw ? j - bw : 0;
            if (k0 < j0)
                k0 = j0;
            for (size_t k = k0; k < j; k++)
                s -= M[i * w + (i - k)] * M[j * w + (j - k)];
            if (j < i) {
                M[i * w + (i - j)] = s / M[j * w];
            } else {
                /* a pivot lost to cancellation: the direction it would
                 * carry is (numerically) absent, so make it inert */
                M[i * w] = s > 1e-300 ? sqrt(s) : 1e150;
            }
        }
    }
}

static void band_solve(const double *L, size_t n, size_t bw, double *x)
{
    size_t w = bw + 1;
    for (size_t i = 0; i < n; i++) {
        double s = x[i];
        size_t k0 = i > bw ? i - bw : 0;
        for (size_t k = k0; k < i; k++)
            s -= L[i * w + (i - k)] * x[k];
        x[i] = s / L[i * w];
    }
    for (size_t i = n; i-- > 0;) {
        double s = x[i];
        size_t k1 = i + bw < n - 1 ? i + bw : n - 1;
        for (size_t k = i + 1; k <= k1; k++)
            s -= L[k * w + (k - i)] * x[k];
        x[i] = s / L[i * w];
    }
}

static void ipm_free(ipm *P)
{
    free(P->cp);
    free(P->ri);
    free(P->cv);
    free(P->l);
    free(P->u);
    free(P->c);
    free(P->b);
    free(P->colD);
    free(P->rowB);
    free(P->pos);
    free(P->dpos);
    free(P->M);
    free(P->G);
    free(P->W);
    free(P->K);
    free(P->piv);
    free(P->th);
    free(P->q);
    free(P->rb);
    free(P->ks);
    free(P->r1);
    free(P->r2);
    free(P->ev);
    free(P->ey);
    free(P->thi);
}

static int ipm_setup(ipm *P, const tl__pfsparse *p)
{
    size_t nx = p->n, m = p->m, ns = 0;
    for (size_t i = 0; i < m; i++)
        if (p->alo[i] != p->ahi[i])
            ns++;
    size_t nv = nx + ns, nnz = p->rp[m] + ns;
    P->nx = nx;
    P->m = m;
    P->nv = nv;
    P->cp = calloc(nv + 1, sizeof *P->cp);
    P->ri = malloc((nnz + 1) * sizeof *P->ri);
    P->cv = malloc((nnz + 1) * sizeof *P->cv);
    P->l = malloc(nv * sizeof *P->l);
    P->u = malloc(nv * sizeof *P->u);
    P->c = calloc(nv, sizeof *P->c);
    P->b = calloc(m + 1, sizeof *P->b);
    P->colD = calloc(nv, sizeof *P->colD);
    P->rowB = calloc(m + 1, sizeof *P->rowB);
    P->pos = malloc((m + 1) * sizeof *P->pos);
    P->dpos = malloc(nv * sizeof *P->dpos);
    P->th = malloc(nv * sizeof *P->th);
    P->r1 = malloc(nv * sizeof *P->r1);
    P->thi = malloc(nv * sizeof *P->thi);
    P->ev = malloc(nv * sizeof *P->ev);
    P->r2 = malloc((m + 1) * sizeof *P->r2);
    P->ey = malloc((m + 1) * sizeof *P->ey);
    if (!P->r1 || !P->ev || !P->r2 || !P->ey || !P->thi)
        return -1;
    if (!P->cp || !P->ri || !P->cv || !P->l || !P->u || !P->c || !P->b || !P->colD ||
        !P->rowB || !P->pos || !P->dpos || !P->th)
        return -1;
    /* column counts, then fill */
    for (size_t k = 0; k < p->rp[m]; k++)
        P->cp[p->ci[k] + 1]++;
    size_t s = nx;
    for (size_t i = 0; i < m; i++)
        if (p->alo[i] != p->ahi[i])
            P->cp[++s]++;
    for (size_t j = 0; j < nv; j++)
        P->cp[j + 1] += P->cp[j];
    size_t *fill = P->dpos; /* scratch until the partition */
    memcpy(fill, P->cp, nv * sizeof *fill);
    s = nx;
    for (size_t i = 0; i < m; i++) {
        for (size_t k = p->rp[i]; k < p->rp[i + 1]; k++) {
            size_t j = p->ci[k];
            P->ri[fill[j]] = i;
            P->cv[fill[j]++] = p->v[k];
        }
        if (p->alo[i] != p->ahi[i]) {
            P->ri[fill[s]] = i;
            P->cv[fill[s]++] = -1.0;
            P->l[s] = p->alo[i];
            P->u[s] = p->ahi[i];
            s++;
        } else {
            P->b[i] = p->alo[i];
        }
    }
    for (size_t j = 0; j < nx; j++) {
        P->l[j] = p->lb[j];
        P->u[j] = p->ub[j];
        P->c[j] = p->g ? p->g[j] : 0.0;
        /* a fixed variable has no interior: give it a sliver (the polish
         * that follows the method restores exact bounds) */
        if (P->l[j] == P->u[j]) {
            P->l[j] -= 1e-9 * (1 + fabs(P->l[j]));
            P->u[j] += 1e-9 * (1 + fabs(P->u[j]));
        }
    }
    /* the partition */
    for (size_t j = 0; j < nv; j++)
        P->colD[j] = (!isfinite(P->l[j]) && !isfinite(P->u[j])) ||
                     P->cp[j + 1] - P->cp[j] > IPM_DENSE;
    size_t *cnt = P->pos; /* scratch: sparse entries per row */
    memset(cnt, 0, m * sizeof *cnt);
    for (size_t j = 0; j < nv; j++)
        if (!P->colD[j])
            for (size_t k = P->cp[j]; k < P->cp[j + 1]; k++)
                cnt[P->ri[k]]++;
    for (size_t i = 0; i < m; i++)
        P->rowB[i] = cnt[i] == 0 || cnt[i] > IPM_DENSE;
    P->nR = P->nB = P->nD = 0;
    for (size_t i = 0; i < m; i++)
        P->pos[i] = P->rowB[i] ? P->nB++ : P->nR++;
    for (size_t j = 0; j < nv; j++)
        P->dpos[j] = P->colD[j] ? P->nD++ : SIZE_MAX;
    P->nb = P->nD + P->nB;
    P->bw = 0;
    for (size_t j = 0; j < nv; j++) {
        if (P->colD[j])
            continue;
        size_t lo = SIZE_MAX, hi = 0;
        for (size_t k = P->cp[j]; k < P->cp[j + 1]; k++) {
            size_t i = P->ri[k];
            if (P->rowB[i])
                continue;
            lo = P->pos[i] < lo ? P->pos[i] : lo;
            hi = P->pos[i] > hi ? P->pos[i] : hi;
        }
        if (lo != SIZE_MAX && hi - lo > P->bw)
            P->bw = hi - lo;
    }
    size_t nR = P->nR, nb = P->nb;
    P->M = malloc((nR * (P->bw + 1) + 1) * sizeof *P->M);
    P->G = malloc((nb * nR + 1) * sizeof *P->G);
    P->W = malloc((nb * nR + 1) * sizeof *P->W);
    P->K = malloc((nb * nb + 1) * sizeof *P->K);
    P->piv = malloc((nb + 1) * sizeof *P->piv);
    P->q = malloc((nR + 1) * sizeof *P->q);
    P->rb = malloc((nb + 1) * sizeof *P->rb);
    P->ks = malloc((nb + 1) * sizeof *P->ks);
    if (!P->M || !P->G || !P->W || !P->K || !P->piv || !P->q || !P->rb || !P->ks)
        return -1;
    return 0;
}

/* Factor the Newton system for th = Theta^-1 (all columns; replaced by
 * Theta on the sparse ones). -1 when the border system is singular. */
static int ipm_factor(ipm *P)
{
    size_t nR = P->nR, nb = P->nb, nD = P->nD, w = P->bw + 1;
    /* Theta^-1 of a sparse column is kept above reg: a basic variable's
     * z/x tends to 0, and the banded factor of M then loses the accuracy
     * the method needs to keep A v = b (iterative refinement against the
     * unregularised system, ipm_solve_ref, restores the true step) */
    memcpy(P->thi, P->th, P->nv * sizeof *P->thi);
    for (size_t j = 0; j < P->nv; j++)
        if (!P->colD[j])
            P->th[j] = 1.0 / fmax(P->th[j], P->reg);
    memset(P->M, 0, nR * w * sizeof *P->M);
    memset(P->G, 0, nb * nR * sizeof *P->G);
    memset(P->K, 0, nb * nb * sizeof *P->K);
    for (size_t j = 0; j < P->nv; j++) {
        size_t k0 = P->cp[j], k1 = P->cp[j + 1];
        if (P->colD[j]) {
            size_t d = P->dpos[j];
            P->K[d * nb + d] = -P->th[j];
            for (size_t k = k0; k < k1; k++) {
                size_t i = P->ri[k];
                if (P->rowB[i]) {
                    P->K[d * nb + nD + P->pos[i]] = P->cv[k];
                    P->K[(nD + P->pos[i]) * nb + d] = P->cv[k];
                } else {
                    P->G[d * nR + P->pos[i]] = P->cv[k];
                }
            }
            continue;
        }
        double t = P->th[j];
        for (size_t a = k0; a < k1; a++) {
            size_t ia = P->ri[a];
            for (size_t bq = k0; bq < k1; bq++) {
                size_t ib = P->ri[bq];
                double v = t * P->cv[a] * P->cv[bq];
                if (!P->rowB[ia] && !P->rowB[ib]) {
                    if (P->pos[ib] <= P->pos[ia])
                        P->M[P->pos[ia] * w + (P->pos[ia] - P->pos[ib])] += v;
                } else if (!P->rowB[ia]) {
                    P->G[(nD + P->pos[ib]) * nR + P->pos[ia]] += v;
                } else if (P->rowB[ib]) {
                    P->K[(nD + P->pos[ia]) * nb + nD + P->pos[ib]] += v;
                }
            }
        }
    }
    band_chol(P->M, nR, P->bw);
    memcpy(P->W, P->G, nb * nR * sizeof *P->W);
    for (size_t k = 0; k < nb; k++) {
        int zero = 1;
        for (size_t i = 0; i < nR && zero; i++)
            zero = P->W[k * nR + i] == 0.0;
        if (!zero)
            band_solve(P->M, nR, P->bw, P->W + k * nR);
    }
    for (size_t a = 0; a < nb; a++)
        for (size_t bq = a; bq < nb; bq++) {
            double s = 0;
            const double *ga = P->G + a * nR, *wb = P->W + bq * nR;
            for (size_t i = 0; i < nR; i++)
                s += ga[i] * wb[i];
            P->K[a * nb + bq] -= s;
            if (bq != a)
                P->K[bq * nb + a] -= s;
        }
    /* equilibrate: near the end, Theta^-1 of a variable at a bound dwarfs
     * the rest by many orders, which a plain relative pivot test reads as
     * singular */
    for (size_t a = 0; a < nb; a++) {
        double mx = 0;
        for (size_t bq = 0; bq < nb; bq++)
            mx = fmax(mx, fabs(P->K[a * nb + bq]));
        P->ks[a] = mx > 0 ? 1.0 / sqrt(mx) : 1.0;
    }
    for (size_t a = 0; a < nb; a++)
        for (size_t bq = 0; bq < nb; bq++)
            P->K[a * nb + bq] *= P->ks[a] * P->ks[bq];
    return tl__pf_lu(P->K, nb, P->piv);
}

/* Solve the factored system: f (nv) and g (m) in, dv (nv) and dy (m) out */
static void ipm_solve(ipm *P, const double *f, const double *g, double *dv, double *dy)
{
    size_t nR = P->nR, nb = P->nb, nD = P->nD;
    /* h = g + A Theta_S f_S, split into R (q) and B (rb) parts */
    for (size_t i = 0; i < P->m; i++) {
        if (P->rowB[i])
            P->rb[nD + P->pos[i]] = g[i];
        else
            P->q[P->pos[i]] = g[i];
    }
    for (size_t j = 0; j < P->nv; j++) {
        if (P->colD[j]) {
            P->rb[P->dpos[j]] = f[j];
            continue;
        }
        double t = P->th[j] * f[j];
        if (t == 0.0)
            continue;
        for (size_t k = P->cp[j]; k < P->cp[j + 1]; k++) {
            size_t i = P->ri[k];
            if (P->rowB[i])
                P->rb[nD + P->pos[i]] += P->cv[k] * t;
            else
                P->q[P->pos[i]] += P->cv[k] * t;
        }
    }
    if (nR)
        band_solve(P->M, nR, P->bw, P->q);
    for (size_t k = 0; k < nb; k++) {
        double s = 0;
        for (size_t i = 0; i < nR; i++)
            s += P->G[k * nR + i] * P->q[i];
        P->rb[k] -= s;
    }
    for (size_t k = 0; k < nb; k++)
        P->rb[k] *= P->ks[k];
    tl__pf_lu_solve(P->K, nb, P->piv, P->rb);
    for (size_t k = 0; k < nb; k++)
        P->rb[k] *= P->ks[k];
    for (size_t i = 0; i < P->m; i++) {
        if (P->rowB[i]) {
            dy[i] = P->rb[nD + P->pos[i]];
            continue;
        }
        size_t r = P->pos[i];
        double s = P->q[r];
        for (size_t k = 0; k < nb; k++)
            s -= P->W[k * nR + r] * P->rb[k];
        dy[i] = s;
    }
    for (size_t j = 0; j < P->nv; j++) {
        if (P->colD[j]) {
            dv[j] = P->rb[P->dpos[j]];
            continue;
        }
        double s = -f[j];
        for (size_t k = P->cp[j]; k < P->cp[j + 1]; k++)
            s += P->cv[k] * dy[P->ri[k]];
        dv[j] = P->th[j] * s;
    }
}

/* the residual of the Newton system at (dv, dy) into r1, r2; its max norm */
static double ipm_resid(ipm *P, const double *f, const double *g, const double *dv,
                        const double *dy)
{
    double mx = 0;
    for (size_t i = 0; i < P->m; i++)
        P->r2[i] = g[i];
    for (size_t j = 0; j < P->nv; j++) {
        double thinv = P->thi[j];
        double s = f[j] + thinv * dv[j];
        for (size_t k = P->cp[j]; k < P->cp[j + 1]; k++) {
            s -= P->cv[k] * dy[P->ri[k]];
            P->r2[P->ri[k]] -= P->cv[k] * dv[j];
        }
        P->r1[j] = s;
        mx = fmax(mx, fabs(s));
    }
    for (size_t i = 0; i < P->m; i++)
        mx = fmax(mx, fabs(P->r2[i]));
    return mx;
}

/* ipm_solve plus iterative refinement: late in the method Theta spans
 * dozens of orders of magnitude and one pass through the normal equations
 * leaves a residual that would stall the primal feasibility */
static void ipm_solve_ref(ipm *P, const double *f, const double *g, double *dv, double *dy)
{
    ipm_solve(P, f, g, dv, dy);
    double scale = 0;
    for (size_t j = 0; j < P->nv; j++)
        scale = fmax(scale, fabs(f[j]));
    for (size_t i = 0; i < P->m; i++)
        scale = fmax(scale, fabs(g[i]));
    double res = ipm_resid(P, f, g, dv, dy);
    for (int k = 0; k < 4 && res > 1e-15 * scale; k++) {
        ipm_solve(P, P->r1, P->r2, P->ev, P->ey);
        for (size_t j = 0; j < P->nv; j++)
            P->ev[j] += dv[j];
        for (size_t i = 0; i < P->m; i++)
            P->ey[i] += dy[i];
        /* ipm_resid overwrites r1, r2: keep the better of the two */
        double res2 = ipm_resid(P, f, g, P->ev, P->ey);
        if (!(res2 < res)) {
            ipm_resid(P, f, g, dv, dy);
            break;
        }
        memcpy(dv, P->ev, P->nv * sizeof *dv);
        memcpy(dy, P->ey, P->m * sizeof *dy);
        res = res2;
    }
}

/* largest step in (0, 1] keeping v - l, u - v (primal) or zl, zu (dual)
 * nonnegative */
static double max_step(const ipm *P, const double *v, const double *dv, const double *zl,
                       const double *dzl, const double *zu, const double *dzu, int dual)
{
    double a = 1.0;
    for (size_t j = 0; j < P->nv; j++) {
        if (!dual) {
            if (isfinite(P->l[j]) && dv[j] < 0)
                a = fmin(a, -(v[j] - P->l[j]) / dv[j]);
            if (isfinite(P->u[j]) && dv[j] > 0)
                a = fmin(a, (P->u[j] - v[j]) / dv[j]);
        } else {
            if (isfinite(P->l[j]) && dzl[j] < 0)
                a = fmin(a, -zl[j] / dzl[j]);
            if (isfinite(P->u[j]) && dzu[j] < 0)
                a = fmin(a, -zu[j] / dzu[j]);
        }
    }
    return a;
}

int tl__lp_ipm(const tl__pfsparse *p, const char *what, double *x, tl_err *err)
{
    ipm P;
    memset(&P, 0, sizeof P);
    double *buf = NULL;
    int rc = 0;
    if (ipm_setup(&P, p) < 0)
        goto nomem;
    size_t nv = P.nv, m = P.m;
    /* v, zl, zu, dv, dzl, dzu, adv, adzl, adzu, f, rd (nv each); y, dy, rp, ady (m each) */
    buf = calloc(11 * nv + 4 * m + 1, sizeof *buf);
    if (!buf)
        goto nomem;
    double *v = buf, *zl = v + nv, *zu = zl + nv, *dv = zu + nv, *dzl = dv + nv,
           *dzu = dzl + nv, *adv = dzu + nv, *adzl = adv + nv, *adzu = adzl + nv,
           *f = adzu + nv, *rd = f + nv, *y = rd + nv, *dy = y + m, *rp = dy + m, *ady = rp + m;
    double cmax = 0, bmax = 0;
    for (size_t j = 0; j < nv; j++)
        cmax = fmax(cmax, fabs(P.c[j]));
    for (size_t i = 0; i < m; i++)
        bmax = fmax(bmax, fabs(P.b[i]));
    for (size_t j = 0; j < nv; j++) {
        double lo = P.l[j], hi = P.u[j];
        if (isfinite(lo) && isfinite(hi))
            bmax = fmax(bmax, fmax(fabs(lo), fabs(hi)));
        else if (isfinite(lo))
            bmax = fmax(bmax, fabs(lo));
        else if (isfinite(hi))
            bmax = fmax(bmax, fabs(hi));
    }
    /* start: centred in boxes, a unit inside one-sided bounds, duals at a
     * level matching the costs */
    double z0 = fmax(cmax, 1e-8);
    /* ~1e-7 of the natural scale of z/x */
    P.reg = 1e-7 * z0 / (1 + bmax);
    size_t ncomp = 0;
    for (size_t j = 0; j < nv; j++) {
        double lo = P.l[j], hi = P.u[j];
        if (isfinite(lo) && isfinite(hi))
            v[j] = lo == hi ? lo : 0.5 * (lo + hi);
        else if (isfinite(lo))
            v[j] = lo + 1.0;
        else if (isfinite(hi))
            v[j] = hi - 1.0;
        else
            v[j] = 0;
        if (isfinite(lo)) {
            zl[j] = z0;
            ncomp++;
        }
        if (isfinite(hi)) {
            zu[j] = z0;
            ncomp++;
        }
    }
    if (!ncomp)
        ncomp = 1;
    const double tol = 1e-11;
    memcpy(x, v, P.nx * sizeof *x);
    rc = 1;
    double best = INFINITY;
    int stall = 0;
    for (int it = 0; it < 200; it++) {
        /* residuals */
        for (size_t i = 0; i < m; i++)
            rp[i] = P.b[i];
        double pobj = 0, rdmax = 0, rpmax = 0, comp = 0;
        for (size_t j = 0; j < nv; j++) {
            double s = P.c[j] - zl[j] + zu[j];
            for (size_t k = P.cp[j]; k < P.cp[j + 1]; k++) {
                rp[P.ri[k]] -= P.cv[k] * v[j];
                s -= P.cv[k] * y[P.ri[k]];
            }
            rd[j] = s;
            rdmax = fmax(rdmax, fabs(s));
            pobj += P.c[j] * v[j];
            double pl = v[j] - P.l[j], pu = P.u[j] - v[j];
            double t = 0;
            if (isfinite(P.l[j])) {
                comp += pl * zl[j];
                t += zl[j] / pl;
            }
            if (isfinite(P.u[j])) {
                comp += pu * zu[j];
                t += zu[j] / pu;
            }
            P.th[j] = t;
        }
        for (size_t i = 0; i < m; i++)
            rpmax = fmax(rpmax, fabs(rp[i]));
        double mu = comp / (double)ncomp;
        double merit = fmax(fmax(rpmax / (1 + bmax), rdmax / (1 + cmax)),
                            comp / (1 + fabs(pobj)));
        if (!isfinite(rpmax) || !isfinite(rdmax) || !isfinite(comp) || !isfinite(pobj))
            break; /* (fmax would hide a NaN) */
        if (merit < best) {
            best = merit;
            stall = 0;
            memcpy(x, v, P.nx * sizeof *x);
        } else if (++stall >= (best < 1e-7 ? 5 : 15)) {
            break; /* round-off has taken over */
        }
        if (merit <= tol) {
            rc = 0;
            break;
        }
        if (ipm_factor(&P) < 0)
            break;
        /* predictor (affine scaling) and Mehrotra's corrector */
        double sigma = 0, ap = 0, ad = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t j = 0; j < nv; j++) {
                double pl = v[j] - P.l[j], pu = P.u[j] - v[j], s = rd[j];
                if (isfinite(P.l[j])) {
                    double r = sigma * mu - pl * zl[j] - (pass ? adv[j] * adzl[j] : 0);
                    s -= r / pl;
                }
                if (isfinite(P.u[j])) {
                    double r = sigma * mu - pu * zu[j] + (pass ? adv[j] * adzu[j] : 0);
                    s += r / pu;
                }
                f[j] = s;
            }
            double *tv = pass ? dv : adv, *ty = pass ? dy : ady;
            double *tzl = pass ? dzl : adzl, *tzu = pass ? dzu : adzu;
            ipm_solve_ref(&P, f, rp, tv, ty);
            for (size_t j = 0; j < nv; j++) {
                double pl = v[j] - P.l[j], pu = P.u[j] - v[j];
                tzl[j] = tzu[j] = 0;
                if (isfinite(P.l[j])) {
                    double r = sigma * mu - pl * zl[j] - (pass ? adv[j] * adzl[j] : 0);
                    tzl[j] = (r - zl[j] * tv[j]) / pl;
                }
                if (isfinite(P.u[j])) {
                    double r = sigma * mu - pu * zu[j] + (pass ? adv[j] * adzu[j] : 0);
                    tzu[j] = (r + zu[j] * tv[j]) / pu;
                }
            }
            ap = max_step(&P, v, tv, zl, tzl, zu, tzu, 0);
            ad = max_step(&P, v, tv, zl, tzl, zu, tzu, 1);
            if (!pass) {
                double ca = 0;
                for (size_t j = 0; j < nv; j++) {
                    if (isfinite(P.l[j]))
                        ca += (v[j] + ap * tv[j] - P.l[j]) * (zl[j] + ad * tzl[j]);
                    if (isfinite(P.u[j]))
                        ca += (P.u[j] - v[j] - ap * tv[j]) * (zu[j] + ad * tzu[j]);
                }
                double r = ca / comp;
                sigma = r * r * r;
            }
        }
        double eta = fmax(0.9, 1.0 - 10 * mu);
        eta = fmin(eta, 0.9999);
        ap = fmin(1.0, eta * ap);
        ad = fmin(1.0, eta * ad);
        for (size_t j = 0; j < nv; j++) {
            v[j] += ap * dv[j];
            zl[j] += ad * dzl[j];
            zu[j] += ad * dzu[j];
        }
        for (size_t i = 0; i < m; i++)
            y[i] += ad * dy[i];
    }
    free(buf);
    ipm_free(&P);
    return rc;
nomem:
    free(buf);
    ipm_free(&P);
    return tl_err_set(err, TL_ENOMEM, "%s: out of memory for the interior-point method", what);
}
