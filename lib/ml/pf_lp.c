/*
 * pf_lp.c - a bounded-variable primal simplex on a dense tableau, for the
 * portfolio LPs (maximum return, CVaR, CDaR, phase 1 of the QP).
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
