/*
 * pf_tail.c - the scenario-based optimisers of pf_optimize.h: CVaR and CDaR
 * (linear programs, pf_lp.c) and semivariance (a piecewise-quadratic
 * program, solved by a semismooth Newton iteration over the set of
 * downside days whose steps are exact active-set QPs).
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_sc(size_t n, const tl_pf_scenarios *sc, tl_err *err)
{
    if (!sc || !sc->r || sc->t < 2)
        return tl_err_set(err, TL_EINVAL, "scenarios: at least 2 return rows are needed");
    if (!(sc->beta > 0 && sc->beta < 1))
        return tl_err_set(err, TL_EINVAL, "beta %g must lie strictly between 0 and 1", sc->beta);
    return tl__pf_check_vec(sc->r, sc->t * n, "scenario returns", err);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* min over alpha of alpha + 1/(t(1-beta)) sum max(L_i - alpha, 0): convex
 * piecewise linear in alpha with breakpoints at the losses */
static double tail_mean(double *loss, size_t t, double beta)
{
    qsort(loss, t, sizeof *loss, cmp_dbl);
    double c = 1.0 / ((double)t * (1 - beta));
    double above = 0; /* sum of losses above the candidate */
    for (size_t i = 0; i < t; i++)
        above += loss[i];
    double best = INFINITY;
    for (size_t i = 0; i < t; i++) {
        above -= loss[i];
        double a = loss[i];
        double v = a + c * (above - a * (double)(t - 1 - i));
        if (v < best)
            best = v;
    }
    return best;
}

int tl_pf_cvar(size_t n, const tl_pf_scenarios *sc, const double *w, double *out, tl_err *err)
{
    int rc;
    if ((rc = check_sc(n, sc, err)) < 0 || (rc = tl__pf_check_vec(w, n, "weights", err)) < 0)
        return rc;
    double *loss = malloc(sc->t * sizeof *loss);
    if (!loss)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t t = 0; t < sc->t; t++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += sc->r[t * n + i] * w[i];
        loss[t] = -s;
    }
    *out = tail_mean(loss, sc->t, sc->beta);
    free(loss);
    return 0;
}

int tl_pf_cdar(size_t n, const tl_pf_scenarios *sc, const double *w, double *out, tl_err *err)
{
    int rc;
    if ((rc = check_sc(n, sc, err)) < 0 || (rc = tl__pf_check_vec(w, n, "weights", err)) < 0)
        return rc;
    double *dd = malloc(sc->t * sizeof *dd);
    if (!dd)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    double u = 0;
    for (size_t t = 0; t < sc->t; t++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += sc->r[t * n + i] * w[i];
        u = fmax(0.0, u - s);
        dd[t] = u;
    }
    *out = tail_mean(dd, sc->t, sc->beta);
    free(dd);
    return 0;
}

enum { MIN_RISK, EFF_RETURN, EFF_RISK };

/* ---- CVaR and CDaR as linear programs ---------------------------------------------
 * The model (PyPortfolioOpt's, unchanged): variables w, alpha, u[T] (and
 * z[T] for CDaR);
 *   CVaR: r_t.w + alpha + u_t >= 0, u_t >= 0, risk alpha + coef sum u_t;
 *   CDaR: u_t - u_{t-1} + r_t.w >= 0 (u_{-1} = 0), u_t >= 0,
 *         z_t - u_t + alpha >= 0, z_t >= 0, risk alpha + coef sum z_t;
 * with coef = 1/(T(1-beta)) and the weight constraints.
 *
 * It is solved in two steps. An interior-point method (pf_lp.c) exploits
 * the structure: w and alpha are a dense border, the rest is banded (the
 * CDaR rows are emitted day by day, drawdown row then tail row, so the
 * band is 2 wide). Its answer is accurate to ~1e-10 but not a vertex.
 * The polish then solves the LP exactly near that answer: every day whose
 * pieces are clearly decided is replaced by the matching linear piece
 * (u_t = 0 or u_t = u_{t-1} - r_t.w; z_t = 0 or z_t = u_t - alpha), and
 * only the undecided days keep their max() as LP variables. That small LP
 * (w, alpha and a few kink variables) goes to the exact dense simplex.
 * Each replaced piece is a lower bound of the max() it replaces and the
 * risk is nondecreasing in every u_t and z_t, so the small LP is a
 * relaxation of the true one; when its solution keeps every decided piece
 * on the side it was assigned, the relaxation is tight there and the
 * solution is optimal for the true LP (a trust box around the interior
 * point keeps the relaxation bounded; a solution strictly inside it is a
 * local, hence global, optimum of the convex problem). Days that break
 * their assignment become undecided and the polish repeats. */

typedef struct tailp {
    int cdar, mode;
    size_t n, T;
    const double *r, *mu;
    double target, coef;
    const tl__pfbuild *wb; /* weight bounds and rows over w only */
} tailp;

/* the IPM's LP in sparse rows; x gets w, alpha, u, z */
static int tail_ipm(const tailp *tp, double *x, tl_err *err)
{
    size_t n = tp->n, T = tp->T, ka = n, ku = n + 1, kz = n + 1 + T;
    size_t nv = n + 1 + T + (tp->cdar ? T : 0), kex = tp->cdar ? kz : ku;
    const tl__pfbuild *wb = tp->wb;
    size_t mmax = wb->m + T * (tp->cdar ? 2 : 1) + 1;
    size_t nzmax = wb->m * n + T * (n + 3) * (tp->cdar ? 2 : 1) + T + n + 1;
    size_t *rp = malloc((mmax + 1) * sizeof *rp), *ci = malloc(nzmax * sizeof *ci);
    double *v = malloc(nzmax * sizeof *v), *alo = malloc(mmax * sizeof *alo),
           *ahi = malloc(mmax * sizeof *ahi), *lb = malloc(nv * sizeof *lb),
           *ub = malloc(nv * sizeof *ub), *g = calloc(nv, sizeof *g);
    int rc;
    if (!rp || !ci || !v || !alo || !ahi || !lb || !ub || !g) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    size_t m = 0, k = 0;
#define ENT(col, val)                                                                         \
    do {                                                                                      \
        ci[k] = (col);                                                                        \
        v[k++] = (val);                                                                       \
    } while (0)
#define ROW(lo, hi)                                                                           \
    do {                                                                                      \
        rp[m] = k;                                                                            \
        alo[m] = (lo);                                                                        \
        ahi[m++] = (hi);                                                                      \
    } while (0)
    for (size_t i = 0; i < wb->m; i++) {
        ROW(wb->alo[i], wb->ahi[i]);
        for (size_t j = 0; j < n; j++)
            if (wb->A[i * n + j] != 0)
                ENT(j, wb->A[i * n + j]);
    }
    for (size_t t = 0; t < T; t++) {
        ROW(0, INFINITY);
        for (size_t j = 0; j < n; j++)
            if (tp->r[t * n + j] != 0)
                ENT(j, tp->r[t * n + j]);
        if (!tp->cdar) {
            ENT(ka, 1);
            ENT(ku + t, 1);
            continue;
        }
        if (t)
            ENT(ku + t - 1, -1);
        ENT(ku + t, 1);
        ROW(0, INFINITY);
        ENT(ka, 1);
        ENT(ku + t, -1);
        ENT(kz + t, 1);
    }
    if (tp->mode == EFF_RETURN) {
        ROW(tp->target, INFINITY);
        for (size_t j = 0; j < n; j++)
            if (tp->mu[j] != 0)
                ENT(j, tp->mu[j]);
    } else if (tp->mode == EFF_RISK) {
        ROW(-INFINITY, tp->target);
        ENT(ka, 1);
        for (size_t t = 0; t < T; t++)
            ENT(kex + t, tp->coef);
    }
    rp[m] = k;
#undef ENT
#undef ROW
    for (size_t j = 0; j < nv; j++) {
        lb[j] = j < n ? wb->lb[j] : j == ka ? -INFINITY : 0;
        ub[j] = j < n ? wb->ub[j] : INFINITY;
    }
    if (tp->mode == EFF_RISK) {
        for (size_t j = 0; j < n; j++)
            g[j] = -tp->mu[j];
    } else {
        g[ka] = 1;
        for (size_t t = 0; t < T; t++)
            g[kex + t] = tp->coef;
    }
    tl__pfsparse sp = {nv, m, rp, ci, v, g, alo, ahi, lb, ub};
    rc = tl__lp_ipm(&sp, tp->cdar ? "CDaR" : "CVaR", x, err);
    if (rc > 0)
        rc = 0; /* short of the tolerance: the polish decides */
out:
    free(rp);
    free(ci);
    free(v);
    free(alo);
    free(ahi);
    free(lb);
    free(ub);
    free(g);
    return rc;
}

enum { UNDECIDED = 0, PIECE_LO = 1, PIECE_HI = 2 }; /* max(0, a): 0 or a */

/* the day-by-day quantities at (w, alpha): a_t (before the max: the loss
 * for CVaR, u_{t-1} - r_t.w for CDaR), q_t (after it: the loss or u_t) */
static void tail_eval(const tailp *tp, const double *w, double *a, double *q)
{
    double u = 0;
    for (size_t t = 0; t < tp->T; t++) {
        double s = 0;
        for (size_t i = 0; i < tp->n; i++)
            s += tp->r[t * tp->n + i] * w[i];
        if (tp->cdar) {
            a[t] = u - s;
            u = fmax(0.0, a[t]);
            q[t] = u;
        } else {
            a[t] = q[t] = -s;
        }
    }
}

/* One polish round with the day states su (CDaR steps) and sz (tail
 * pieces). 0 with w, alpha when the small LP solved; TL_EINVAL from the
 * simplex when it is infeasible or unbounded. boxact: a trust-box bound is
 * active at the answer. */
static int polish_lp(const tailp *tp, const int *su, const int *sz, const double *w0,
                     double alpha0, double dw, double da, double *w, double *alpha, int *boxact,
                     tl_err *err)
{
    size_t n = tp->n, T = tp->T, ka = n;
    size_t nku = 0, nkz = 0;
    for (size_t t = 0; t < T; t++) {
        nku += tp->cdar && su[t] == UNDECIDED;
        nkz += sz[t] == UNDECIDED;
    }
    size_t nv = n + 1 + nku + nkz, kv = n + 1, ky = n + 1 + nku;
    tl__pfbuild b;
    double *R = calloc(nv, sizeof *R), *e = calloc(n, sizeof *e), *x = malloc(nv * sizeof *x);
    int rc = 0;
    if (!R || !e || !x || tl__pf_build_init(&b, nv, 0) < 0) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    const tl__pfbuild *wb = tp->wb;
    for (size_t i = 0; i < wb->m; i++) {
        double *row = tl__pf_build_row(&b, wb->alo[i], wb->ahi[i]);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(row, wb->A + i * n, n * sizeof *row);
    }
    for (size_t i = 0; i < n; i++) {
        b.lb[i] = fmax(wb->lb[i], w0[i] - dw);
        b.ub[i] = fmin(wb->ub[i], w0[i] + dw);
    }
    b.lb[ka] = alpha0 - da;
    b.ub[ka] = alpha0 + da;
    for (size_t j = kv; j < nv; j++) {
        b.lb[j] = 0;
        b.ub[j] = INFINITY;
    }
    /* q_t as an affine expression: e.w (+ kink variable ev) */
    size_t ev = SIZE_MAX, iu = 0, iz = 0;
    R[ka] = 1;
    for (size_t t = 0; t < T; t++) {
        const double *rt = tp->r + t * n;
        if (!tp->cdar) {
            for (size_t i = 0; i < n; i++)
                e[i] = -rt[i];
        } else if (su[t] == PIECE_LO) {
            memset(e, 0, n * sizeof *e);
            ev = SIZE_MAX;
        } else if (su[t] == PIECE_HI) {
            for (size_t i = 0; i < n; i++)
                e[i] -= rt[i];
        } else {
            /* v >= u_{t-1} - r_t.w, v >= 0 */
            double *row = tl__pf_build_row(&b, 0, INFINITY);
            if (!row) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < n; i++)
                row[i] = rt[i] - e[i];
            if (ev != SIZE_MAX)
                row[ev] = -1;
            row[kv + iu] = 1;
            memset(e, 0, n * sizeof *e);
            ev = kv + iu++;
        }
        if (sz[t] == PIECE_HI) {
            for (size_t i = 0; i < n; i++)
                R[i] += tp->coef * e[i];
            if (ev != SIZE_MAX)
                R[ev] += tp->coef;
            R[ka] -= tp->coef;
        } else if (sz[t] == UNDECIDED) {
            /* y >= q_t - alpha, y >= 0 */
            double *row = tl__pf_build_row(&b, 0, INFINITY);
            if (!row) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < n; i++)
                row[i] = -e[i];
            if (ev != SIZE_MAX)
                row[ev] = -1;
            row[ka] = 1;
            row[ky + iz] = 1;
            R[ky + iz++] += tp->coef;
        }
    }
    if (tp->mode == EFF_RISK) {
        double *row = tl__pf_build_row(&b, -INFINITY, tp->target);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(row, R, nv * sizeof *row);
        for (size_t i = 0; i < n; i++)
            b.g[i] = -tp->mu[i];
    } else {
        memcpy(b.g, R, nv * sizeof *R);
        if (tp->mode == EFF_RETURN) {
            double *row = tl__pf_build_row(&b, tp->target, INFINITY);
            if (!row) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(row, tp->mu, n * sizeof *row);
        }
    }
    tl__pfprob p = tl__pf_build_prob(&b);
    if ((rc = tl__lp_solve(&p, tp->cdar ? "CDaR" : "CVaR", x, NULL, err)) < 0)
        goto out;
    memcpy(w, x, n * sizeof *w);
    *alpha = x[ka];
    *boxact = 0;
    for (size_t i = 0; i <= n; i++) {
        double lo = i < n ? wb->lb[i] : -INFINITY, hi = i < n ? wb->ub[i] : INFINITY;
        double tiny = 1e-12 * (1 + fabs(x[i]));
        if ((b.lb[i] > lo && x[i] <= b.lb[i] + tiny) || (b.ub[i] < hi && x[i] >= b.ub[i] - tiny))
            *boxact = 1;
    }
out:
    free(R);
    free(e);
    free(x);
    tl__pf_build_free(&b);
    return rc;
}

/* the LP's w: the interior point, then the exact polish */
static int tail_solve(const tailp *tp, double *w, tl_err *err)
{
    size_t n = tp->n, T = tp->T;
    size_t nv = n + 1 + T + (tp->cdar ? T : 0);
    double *x = malloc(nv * sizeof *x), *a = malloc(T * sizeof *a), *q = malloc(T * sizeof *q),
           *wp = malloc(n * sizeof *wp);
    int *su = malloc(T * sizeof *su), *sz = malloc(T * sizeof *sz);
    int rc;
    if (!x || !a || !q || !wp || !su || !sz) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tail_ipm(tp, x, err)) < 0)
        goto out;
    double alpha0 = x[n], scale = 0;
    tail_eval(tp, x, a, q);
    for (size_t t = 0; t < T; t++)
        scale = fmax(scale, fmax(fabs(a[t]), fabs(q[t])));
    scale = fmax(scale, 1e-300);
    /* days within eps of a kink stay undecided */
    double eps = 1e-7 * scale, dw = 1e-4, da = 1e-4 * scale, tol = 1e-13 * scale;
    for (size_t t = 0; t < T; t++) {
        su[t] = fabs(a[t]) <= eps ? UNDECIDED : a[t] > 0 ? PIECE_HI : PIECE_LO;
        double bz = q[t] - alpha0;
        sz[t] = fabs(bz) <= eps ? UNDECIDED : bz > 0 ? PIECE_HI : PIECE_LO;
    }
    for (int round = 0; round < 30; round++) {
        size_t nund = 0;
        for (size_t t = 0; t < T; t++)
            nund += (tp->cdar && su[t] == UNDECIDED) + (sz[t] == UNDECIDED);
        if (nund > 300 + 4 * n)
            break; /* the interior point was no guide: the dense simplex would crawl */
        double alpha = 0;
        int boxact = 0;
        tl_err e2 = {0};
        rc = polish_lp(tp, su, sz, x, alpha0, dw, da, wp, &alpha, &boxact, &e2);
        if (rc == TL_ENOMEM) {
            *err = e2;
            goto out;
        }
        if (rc < 0) {
            /* the assignment or the box was too far off (the small LP
             * unbounded or infeasible): leave more days undecided and
             * widen the box */
            eps *= 10;
            dw *= 10;
            da *= 10;
            for (size_t t = 0; t < T; t++) {
                if (fabs(a[t]) <= eps)
                    su[t] = UNDECIDED;
                if (fabs(q[t] - alpha0) <= eps)
                    sz[t] = UNDECIDED;
            }
            continue;
        }
        if (boxact) {
            dw *= 10;
            da *= 10;
        }
        /* check every decided piece at the answer */
        double *a2 = a, *q2 = q;
        tail_eval(tp, wp, a2, q2);
        int broken = 0;
        for (size_t t = 0; t < T; t++) {
            if (tp->cdar && ((su[t] == PIECE_HI && a2[t] < -tol) ||
                             (su[t] == PIECE_LO && a2[t] > tol))) {
                su[t] = UNDECIDED;
                broken = 1;
            }
            double bz = q2[t] - alpha;
            if ((sz[t] == PIECE_HI && bz < -tol) || (sz[t] == PIECE_LO && bz > tol)) {
                sz[t] = UNDECIDED;
                broken = 1;
            }
        }
        if (!broken && !boxact) {
            memcpy(w, wp, n * sizeof *w);
            rc = 0;
            goto out;
        }
        /* next round: recentre the box on the last answer */
        memcpy(x, wp, n * sizeof *wp);
        alpha0 = alpha;
    }
    rc = tl_err_set(err, TL_EINTERNAL, "%s: the vertex polish after the interior-point method "
                    "did not settle", tp->cdar ? "CDaR" : "CVaR");
out:
    free(x);
    free(a);
    free(q);
    free(wp);
    free(su);
    free(sz);
    return rc;
}

static int tail_lp(int cdar, int mode, size_t n, const tl_pf_scenarios *sc, const double *mu,
                   double target, const tl_pf_constraints *c, double *w, double *risk,
                   tl_err *err)
{
    const char *what = cdar ? "CDaR" : "CVaR";
    int rc;
    if ((rc = check_sc(n, sc, err)) < 0)
        return rc;
    if (mode != MIN_RISK) {
        if ((rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
            return rc;
        if (!isfinite(target) || (mode == EFF_RISK && !(target > 0)))
            return tl_err_set(err, TL_EINVAL, "target %g must be a %s number", target,
                              mode == EFF_RISK ? "positive" : "finite");
    }
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    tl__pfbuild wb;
    double *x = malloc(n * sizeof *x);
    if (!x || tl__pf_build_init(&wb, n, 0) < 0) {
        free(x);
        tl__pf_build_free(&wb);
        tl__pf_cons_free(&pc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    if ((rc = tl__pf_build_weights(&wb, &pc, err)) < 0)
        goto out;
    /* the weight constraints alone must be feasible (the interior-point
     * method needs a feasible problem; the simplex says which is not) */
    tl__pfprob wp = tl__pf_build_prob(&wb);
    memset(wb.g, 0, n * sizeof *wb.g);
    if ((rc = tl__lp_solve(&wp, what, x, NULL, err)) < 0)
        goto out;
    tailp tp = {cdar, mode, n, sc->t, sc->r, mu, target, 1.0 / ((double)sc->t * (1 - sc->beta)),
                &wb};
    if (mode == EFF_RETURN) {
        double maxret;
        if ((rc = tl_pf_max_return(n, mu, c, NULL, &maxret, err)) < 0)
            goto out;
        if (target > maxret + 1e-12 * (1 + fabs(maxret))) {
            rc = tl_err_set(err, TL_EINVAL, "target return %g is above the maximum return %g "
                            "these constraints allow", target, maxret);
            goto out;
        }
    } else if (mode == EFF_RISK) {
        /* the smallest risk first: a target below it has no solution */
        double least;
        tp.mode = MIN_RISK;
        if ((rc = tail_solve(&tp, x, err)) < 0 ||
            (rc = cdar ? tl_pf_cdar(n, sc, x, &least, err) : tl_pf_cvar(n, sc, x, &least, err)) < 0)
            goto out;
        if (target < least * (1 - 1e-12)) {
            rc = tl_err_set(err, TL_EINVAL, "%s target %g is below the smallest %s %g these "
                            "constraints allow", what, target, what, least);
            goto out;
        }
        tp.mode = EFF_RISK;
    }
    if ((rc = tail_solve(&tp, x, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        x[i] = nearbyint(x[i] * 1e16) / 1e16 + 0.0;
    if (risk && (rc = cdar ? tl_pf_cdar(n, sc, x, risk, err) : tl_pf_cvar(n, sc, x, risk, err)) < 0)
        goto out;
    memcpy(w, x, n * sizeof *w);
out:
    free(x);
    tl__pf_build_free(&wb);
    tl__pf_cons_free(&pc);
    return rc;
}

int tl_pf_min_cvar(size_t n, const tl_pf_scenarios *sc, const tl_pf_constraints *c, double *w,
                   double *risk, tl_err *err)
{
    return tail_lp(0, MIN_RISK, n, sc, NULL, 0, c, w, risk, err);
}

int tl_pf_cvar_efficient_risk(size_t n, const tl_pf_scenarios *sc, const double *mu,
                              double target, const tl_pf_constraints *c, double *w, double *risk,
                              tl_err *err)
{
    return tail_lp(0, EFF_RISK, n, sc, mu, target, c, w, risk, err);
}

int tl_pf_cvar_efficient_return(size_t n, const tl_pf_scenarios *sc, const double *mu,
                                double target, const tl_pf_constraints *c, double *w,
                                double *risk, tl_err *err)
{
    return tail_lp(0, EFF_RETURN, n, sc, mu, target, c, w, risk, err);
}

int tl_pf_min_cdar(size_t n, const tl_pf_scenarios *sc, const tl_pf_constraints *c, double *w,
                   double *risk, tl_err *err)
{
    return tail_lp(1, MIN_RISK, n, sc, NULL, 0, c, w, risk, err);
}

int tl_pf_cdar_efficient_risk(size_t n, const tl_pf_scenarios *sc, const double *mu,
                              double target, const tl_pf_constraints *c, double *w, double *risk,
                              tl_err *err)
{
    return tail_lp(1, EFF_RISK, n, sc, mu, target, c, w, risk, err);
}

int tl_pf_cdar_efficient_return(size_t n, const tl_pf_scenarios *sc, const double *mu,
                                double target, const tl_pf_constraints *c, double *w,
                                double *risk, tl_err *err)
{
    return tail_lp(1, EFF_RETURN, n, sc, mu, target, c, w, risk, err);
}

/* ---- semivariance ----------------------------------------------------------------
 * phi(w) = g'w + cq * sum_t min(x_t.w, 0)^2 + gamma ||w||^2 with
 * x_t = (r_t - B)/sqrt(T). Given the downside set D of the current point,
 * the QP with H = 2 cq X_D'X_D + 2 gamma I gives a direction; an exact line
 * search on the convex piecewise-quadratic phi keeps the iteration
 * monotone. When D is the downside set of the QP's own solution, that
 * solution satisfies the KKT conditions of phi (phi is C1 and equals the
 * QP objective's gradient there), so the iteration stops exactly. */

static int check_sm(size_t n, const tl_pf_semi *sm, tl_err *err)
{
    if (!sm || !sm->r || sm->t < 2)
        return tl_err_set(err, TL_EINVAL, "semivariance: at least 2 return rows are needed");
    if (!isfinite(sm->benchmark))
        return tl_err_set(err, TL_EINVAL, "semivariance benchmark must be finite");
    if (!(sm->freq > 0) || !isfinite(sm->freq))
        return tl_err_set(err, TL_EINVAL, "frequency %g must be positive", sm->freq);
    return tl__pf_check_vec(sm->r, sm->t * n, "scenario returns", err);
}

typedef struct semi {
    size_t n, T;
    double *X;      /* T*n scaled excess returns */
    double *H;      /* n*n */
    double *xw, *xd, *wq, *wk;
} semi;

static double semi_phi(const semi *s, const double *g, double cq, double gamma, const double *w)
{
    double v = 0;
    for (size_t t = 0; t < s->T; t++) {
        double a = 0;
        for (size_t i = 0; i < s->n; i++)
            a += s->X[t * s->n + i] * w[i];
        if (a < 0)
            v += a * a;
    }
    v *= cq;
    for (size_t i = 0; i < s->n; i++)
        v += (g ? g[i] * w[i] : 0) + gamma * w[i] * w[i];
    return v;
}

static int semi_solve(semi *s, const tl__pfcons *pc, const double *g, double cq, const double *mu,
                      double target, double *w, int warm, tl_err *err)
{
    size_t n = s->n, T = s->T;
    double gamma = pc->c->gamma;
    tl__pfbuild b;
    int rc = 0;
    if (tl__pf_build_init(&b, n, 1) < 0) {
        tl__pf_build_free(&b);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    if ((rc = tl__pf_build_weights(&b, pc, err)) < 0)
        goto out;
    if (g)
        memcpy(b.g, g, n * sizeof *g);
    if (mu) {
        double *row = tl__pf_build_row(&b, target, INFINITY);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(row, mu, n * sizeof *row);
    }
    tl__pfprob p = tl__pf_build_prob(&b);
    /* start: the QP with every day counted (full second moment) */
    int first = !warm;
    for (int it = 0; it < 200; it++) {
        memset(b.H, 0, n * n * sizeof *b.H);
        size_t nd = 0;
        for (size_t t = 0; t < T; t++) {
            const double *xt = s->X + t * n;
            double a = 0;
            if (!first)
                for (size_t i = 0; i < n; i++)
                    a += xt[i] * w[i];
            if (first || a < 0) {
                nd++;
                for (size_t i = 0; i < n; i++) {
                    double f = 2 * cq * xt[i];
                    if (f == 0)
                        continue;
                    for (size_t j = 0; j < n; j++)
                        b.H[i * n + j] += f * xt[j];
                }
            }
        }
        for (size_t i = 0; i < n; i++)
            b.H[i * n + i] += 2 * gamma;
        if (nd == 0 && gamma == 0 && !first) {
            /* no downside at all: phi is linear here; fall back to the full
             * second moment as a strictly convex model */
            first = 1;
            continue;
        }
        p.x0 = first && !warm ? NULL : w;
        rc = tl__qp_solve(&p, "semivariance", s->wq, NULL, err);
        if (rc < 0)
            goto out;
        if (first && !warm) {
            memcpy(w, s->wq, n * sizeof *w);
            first = 0;
            continue;
        }
        first = 0;
        /* exact line search on phi along d = wq - w */
        double dmax = 0, wmax = 0;
        for (size_t i = 0; i < n; i++) {
            dmax = fmax(dmax, fabs(s->wq[i] - w[i]));
            wmax = fmax(wmax, fabs(w[i]));
        }
        if (dmax <= 1e-14 * (1 + wmax))
            break;
        double lin = 0, wd = 0, dd = 0;
        for (size_t i = 0; i < n; i++) {
            double d = s->wq[i] - w[i];
            lin += g ? g[i] * d : 0;
            wd += w[i] * d;
            dd += d * d;
        }
        for (size_t t = 0; t < T; t++) {
            double a = 0, c = 0;
            for (size_t i = 0; i < n; i++) {
                a += s->X[t * n + i] * w[i];
                c += s->X[t * n + i] * (s->wq[i] - w[i]);
            }
            s->xw[t] = a;
            s->xd[t] = c;
        }
        /* phi'(al) = lin + 2 cq sum min(xw+al xd, 0) xd + 2 gamma (wd + al dd),
         * nondecreasing in al */
        double lo = 0, hi = 1, al = 1;
        for (int k = 0; k < 100; k++) {
            double mid = k == 0 ? 1.0 : 0.5 * (lo + hi);
            double der = lin + 2 * gamma * (wd + mid * dd);
            for (size_t t = 0; t < T; t++) {
                double v = s->xw[t] + mid * s->xd[t];
                if (v < 0)
                    der += 2 * cq * v * s->xd[t];
            }
            if (k == 0) {
                if (der <= 0) {
                    al = 1;
                    break;
                }
                continue;
            }
            if (der > 0)
                hi = mid;
            else
                lo = mid;
            al = 0.5 * (lo + hi);
            if (hi - lo < 1e-16)
                break;
        }
        double before = semi_phi(s, g, cq, gamma, w);
        for (size_t i = 0; i < n; i++)
            s->wk[i] = w[i] + al * (s->wq[i] - w[i]);
        double after = semi_phi(s, g, cq, gamma, s->wk);
        memcpy(w, s->wk, n * sizeof *w);
        if (al == 1 && after >= before - 1e-16 * (1 + fabs(before)) && dmax < 1e-12)
            break;
    }
out:
    tl__pf_build_free(&b);
    return rc;
}

static int semi_init(semi *s, size_t n, const tl_pf_semi *sm, tl_err *err)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->T = sm->t;
    s->X = malloc(sm->t * n * sizeof *s->X);
    s->xw = malloc(sm->t * sizeof *s->xw);
    s->xd = malloc(sm->t * sizeof *s->xd);
    s->wq = malloc(n * sizeof *s->wq);
    s->wk = malloc(n * sizeof *s->wk);
    if (!s->X || !s->xw || !s->xd || !s->wq || !s->wk)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    double sc = 1.0 / sqrt((double)sm->t);
    for (size_t i = 0; i < sm->t * n; i++)
        s->X[i] = (sm->r[i] - sm->benchmark) * sc;
    return 0;
}

static void semi_free(semi *s)
{
    free(s->X);
    free(s->xw);
    free(s->xd);
    free(s->wq);
    free(s->wk);
}

static double semi_var(const semi *s, const double *w)
{
    return semi_phi(s, NULL, 1.0, 0.0, w);
}

enum { S_MIN, S_RET, S_RISK, S_UTIL };

static int semi_run(int mode, size_t n, const tl_pf_semi *sm, const double *mu, double target,
                    const tl_pf_constraints *c, double *w, tl_err *err)
{
    int rc;
    if ((rc = check_sm(n, sm, err)) < 0)
        return rc;
    if (mode != S_MIN && (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    if (mode != S_MIN && !isfinite(target))
        return tl_err_set(err, TL_EINVAL, "target %g must be a finite number", target);
    if ((mode == S_RISK || mode == S_UTIL) && !(target > 0))
        return tl_err_set(err, TL_EINVAL, "%s %g must be positive",
                          mode == S_RISK ? "target semideviation" : "risk aversion", target);
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    semi s;
    double *g = malloc(n * sizeof *g), *wt = malloc(n * sizeof *wt);
    if ((rc = semi_init(&s, n, sm, err)) < 0 || !g || !wt) {
        if (rc == 0)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    if (mode == S_MIN) {
        rc = semi_solve(&s, &pc, NULL, 1.0, NULL, 0, w, 0, err);
    } else if (mode == S_RET) {
        double maxret;
        if ((rc = tl_pf_max_return(n, mu, c, NULL, &maxret, err)) < 0)
            goto out;
        if (target > maxret + 1e-12 * (1 + fabs(maxret))) {
            rc = tl_err_set(err, TL_EINVAL, "target return %g is above the maximum return %g "
                            "these constraints allow", target, maxret);
            goto out;
        }
        rc = semi_solve(&s, &pc, NULL, 1.0, mu, target, w, 0, err);
    } else if (mode == S_UTIL) {
        for (size_t i = 0; i < n; i++)
            g[i] = -mu[i] / sm->freq;
        rc = semi_solve(&s, &pc, g, 0.5 * target, NULL, 0, w, 0, err);
    } else {
        /* max w'mu s.t. freq * semivar <= target^2: Lagrangian in nu */
        double cap = target * target / sm->freq;
        for (size_t i = 0; i < n; i++)
            g[i] = -mu[i];
        if ((rc = semi_solve(&s, &pc, NULL, 1.0, NULL, 0, wt, 0, err)) < 0)
            goto out;
        if (semi_var(&s, wt) > cap * (1 + 1e-12)) {
            rc = tl_err_set(err, TL_EINVAL, "target semideviation %g is below the minimum %g "
                            "these constraints allow", target,
                            sqrt(semi_var(&s, wt) * sm->freq));
            goto out;
        }
        /* non-binding case: the return-maximising point already qualifies */
        if (pc.c->gamma > 0)
            rc = semi_solve(&s, &pc, g, 0.0, NULL, 0, w, 0, err);
        else
            rc = tl_pf_max_return(n, mu, c, w, NULL, err);
        if (rc < 0)
            goto out;
        if (semi_var(&s, w) <= cap)
            goto out;
        double ta = 0, tb = 0, fa, fb;
        memcpy(w, wt, n * sizeof *w);
        if ((rc = semi_solve(&s, &pc, g, 0.5, NULL, 0, w, 1, err)) < 0)
            goto out;
        fa = fb = sqrt(semi_var(&s, w)) - sqrt(cap);
        memcpy(wt, w, n * sizeof *w);
        double step = fa > 0 ? 2.0 : -2.0;
        for (int i = 0; i < 200 && (fa > 0) == (fb > 0); i++) {
            ta = tb;
            fa = fb;
            tb = ta + step;
            if ((rc = semi_solve(&s, &pc, g, 0.5 * exp(tb), NULL, 0, wt, 1, err)) < 0)
                goto out;
            fb = sqrt(semi_var(&s, wt)) - sqrt(cap);
        }
        if (fa <= 0) {
            double t = ta;
            ta = tb;
            tb = t;
            t = fa;
            fa = fb;
            fb = t;
        }
        double best = INFINITY;
        int side = 0;
        for (int it = 0; it < 200; it++) {
            double t = (ta * fb - tb * fa) / (fb - fa);
            if (!(t > fmin(ta, tb) && t < fmax(ta, tb)))
                t = 0.5 * (ta + tb);
            if ((rc = semi_solve(&s, &pc, g, 0.5 * exp(t), NULL, 0, wt, 1, err)) < 0)
                goto out;
            double f = sqrt(semi_var(&s, wt)) - sqrt(cap);
            if (fabs(f) < best) {
                best = fabs(f);
                memcpy(w, wt, n * sizeof *w);
            }
            if (best <= 1e-14 * sqrt(cap) || fabs(tb - ta) < 1e-14)
                break;
            if (f > 0) {
                ta = t;
                fa = f;
                if (side == 1)
                    fb *= 0.5;
                side = 1;
            } else {
                tb = t;
                fb = f;
                if (side == -1)
                    fa *= 0.5;
                side = -1;
            }
        }
    }
out:
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            w[i] = nearbyint(w[i] * 1e16) / 1e16 + 0.0;
    free(g);
    free(wt);
    semi_free(&s);
    tl__pf_cons_free(&pc);
    return rc;
}

int tl_pf_min_semivariance(size_t n, const tl_pf_semi *sm, const tl_pf_constraints *c, double *w,
                           tl_err *err)
{
    return semi_run(S_MIN, n, sm, NULL, 0, c, w, err);
}

int tl_pf_semivariance_efficient_return(size_t n, const tl_pf_semi *sm, const double *mu,
                                        double target, const tl_pf_constraints *c, double *w,
                                        tl_err *err)
{
    return semi_run(S_RET, n, sm, mu, target, c, w, err);
}

int tl_pf_semivariance_efficient_risk(size_t n, const tl_pf_semi *sm, const double *mu,
                                      double target, const tl_pf_constraints *c, double *w,
                                      tl_err *err)
{
    return semi_run(S_RISK, n, sm, mu, target, c, w, err);
}

int tl_pf_semivariance_max_utility(size_t n, const tl_pf_semi *sm, const double *mu, double delta,
                                   const tl_pf_constraints *c, double *w, tl_err *err)
{
    return semi_run(S_UTIL, n, sm, mu, delta, c, w, err);
}

int tl_pf_semivariance_performance(size_t n, const tl_pf_semi *sm, const double *w,
                                   const double *mu, double rf, tl_pf_perf *out, tl_err *err)
{
    int rc;
    if ((rc = check_sm(n, sm, err)) < 0 || (rc = tl__pf_check_vec(w, n, "weights", err)) < 0 ||
        (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    double ss = 0, ret = 0;
    for (size_t t = 0; t < sm->t; t++) {
        double a = 0;
        for (size_t i = 0; i < n; i++)
            a += sm->r[t * n + i] * w[i];
        a -= sm->benchmark;
        if (a < 0)
            ss += a * a;
    }
    for (size_t i = 0; i < n; i++)
        ret += w[i] * mu[i];
    out->ret = ret;
    out->risk = sqrt(ss / (double)sm->t * sm->freq);
    out->ratio = (ret - rf) / out->risk;
    return 0;
}
