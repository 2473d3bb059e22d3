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
    size_t T = sc->t, ka = n, ku = n + 1, kz = n + 1 + T;
    size_t nv = n + 1 + T + (cdar ? T : 0);
    double coef = 1.0 / ((double)T * (1 - sc->beta));
    size_t kex = cdar ? kz : ku; /* the variables averaged in the tail */
    tl__pfbuild b;
    double *x = malloc(nv * sizeof *x);
    if (!x || tl__pf_build_init(&b, nv, 0) < 0) {
        free(x);
        tl__pf_build_free(&b);
        tl__pf_cons_free(&pc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    if ((rc = tl__pf_build_weights(&b, &pc, err)) < 0)
        goto out;
    for (size_t t = 0; t < T; t++)
        b.lb[ku + t] = 0;
    if (cdar)
        for (size_t t = 0; t < T; t++)
            b.lb[kz + t] = 0;
    if (mode == EFF_RISK) {
        for (size_t i = 0; i < n; i++)
            b.g[i] = -mu[i];
    } else {
        b.g[ka] = 1;
        for (size_t t = 0; t < T; t++)
            b.g[kex + t] = coef;
    }
    for (size_t t = 0; t < T; t++) {
        double *row = tl__pf_build_row(&b, 0, INFINITY);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(row, sc->r + t * n, n * sizeof *row);
        if (!cdar) {
            /* r_t.w + alpha + u_t >= 0 */
            row[ka] = 1;
            row[ku + t] = 1;
        } else {
            /* u_t - u_{t-1} + r_t.w >= 0, u_0 = 0 */
            row[ku + t] = 1;
            if (t)
                row[ku + t - 1] = -1;
        }
    }
    if (cdar)
        for (size_t t = 0; t < T; t++) {
            /* z_t - u_t + alpha >= 0 */
            double *row = tl__pf_build_row(&b, 0, INFINITY);
            if (!row) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory");
                goto out;
            }
            row[kz + t] = 1;
            row[ku + t] = -1;
            row[ka] = 1;
        }
    if (mode == EFF_RETURN) {
        double maxret;
        if ((rc = tl_pf_max_return(n, mu, c, NULL, &maxret, err)) < 0)
            goto out;
        if (target > maxret + 1e-12 * (1 + fabs(maxret))) {
            rc = tl_err_set(err, TL_EINVAL, "target return %g is above the maximum return %g "
                            "these constraints allow", target, maxret);
            goto out;
        }
        double *row = tl__pf_build_row(&b, target, INFINITY);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(row, mu, n * sizeof *row);
    } else if (mode == EFF_RISK) {
        double *row = tl__pf_build_row(&b, -INFINITY, target);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        row[ka] = 1;
        for (size_t t = 0; t < T; t++)
            row[kex + t] = coef;
    }
    tl__pfprob p = tl__pf_build_prob(&b);
    rc = tl__lp_solve(&p, what, x, NULL, err);
    if (rc == TL_EINVAL && mode == EFF_RISK)
        tl_err_set(err, TL_EINVAL, "%s target %g is below the smallest %s these constraints "
                   "allow", what, target, what);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        w[i] = nearbyint(x[i] * 1e16) / 1e16 + 0.0;
    if (risk)
        rc = cdar ? tl_pf_cdar(n, sc, w, risk, err) : tl_pf_cvar(n, sc, w, risk, err);
out:
    free(x);
    tl__pf_build_free(&b);
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
