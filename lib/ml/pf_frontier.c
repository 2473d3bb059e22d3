/*
 * pf_frontier.c - the mean-variance optimisers of pf_optimize.h and the
 * constraint plumbing every pf_ optimiser shares.
 *
 * Each method is one call of the active-set QP (pf_qp.c) except
 * efficient_risk, whose variance constraint is quadratic: it is solved
 * through its Lagrangian, max w'mu - nu/2 w'Sw (- gamma ||w||^2), with the
 * multiplier nu found by a safeguarded secant (Illinois) iteration on
 * log(nu) until the volatility matches the target to 1e-15 relative; each
 * step is an exact QP, warm-started from the previous solution.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers -------------------------------------------------------- */

int tl__pf_check_vec(const double *v, size_t k, const char *name, tl_err *err)
{
    if (!v)
        return tl_err_set(err, TL_EINVAL, "%s is missing", name);
    for (size_t i = 0; i < k; i++)
        if (!isfinite(v[i]))
            return tl_err_set(err, TL_EINVAL, "%s[%zu] is not a finite number", name, i);
    return 0;
}

static int check_cov(size_t n, const double *S, tl_err *err)
{
    int rc = tl__pf_check_vec(S, n * n, "covariance matrix S", err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (S[i * n + i] < 0)
            return tl_err_set(err, TL_EINVAL, "covariance matrix S has a negative variance at "
                              "[%zu][%zu]", i, i);
        for (size_t j = 0; j < i; j++) {
            double a = S[i * n + j], b = S[j * n + i];
            if (fabs(a - b) > 1e-10 * (fabs(a) + fabs(b)) + 1e-300)
                return tl_err_set(err, TL_EINVAL, "covariance matrix S is not symmetric at "
                                  "[%zu][%zu]", i, j);
        }
    }
    return 0;
}

int tl__pf_cons_resolve(size_t n, const tl_pf_constraints *c, tl__pfcons *out, tl_err *err)
{
    static const tl_pf_constraints def = TL_PF_CONSTRAINTS_DEFAULT;
    memset(out, 0, sizeof *out);
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "the portfolio has no assets");
    if (!c)
        c = &def;
    out->n = n;
    out->c = c;
    out->lo = malloc(n * sizeof *out->lo);
    out->hi = malloc(n * sizeof *out->hi);
    if (!out->lo || !out->hi) {
        tl__pf_cons_free(out);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    int any_neg = 0;
    for (size_t i = 0; i < n; i++) {
        double lo = c->lo_each ? c->lo_each[i] : c->lo;
        double hi = c->hi_each ? c->hi_each[i] : c->hi;
        /* None means -1 / +1 upstream */
        if (isnan(lo))
            lo = -1;
        if (isnan(hi))
            hi = 1;
        if (isinf(lo) || isinf(hi)) {
            tl__pf_cons_free(out);
            return tl_err_set(err, TL_EINVAL, "weight bounds of asset %zu must be finite or NaN "
                              "(none)", i);
        }
        if (lo > hi) {
            tl__pf_cons_free(out);
            return tl_err_set(err, TL_EINVAL, "weight bounds of asset %zu: lower %g is above "
                              "upper %g", i, lo, hi);
        }
        out->lo[i] = lo;
        out->hi[i] = hi;
        if (lo < 0)
            any_neg = 1;
    }
    out->sum = 1.0;
    if (c->market_neutral) {
        out->sum = 0.0;
        /* upstream resets long-only bounds to (-1, 1) for market neutrality */
        if (!any_neg)
            for (size_t i = 0; i < n; i++) {
                out->lo[i] = -1;
                out->hi[i] = 1;
            }
    }
    double slo = 0, shi = 0;
    for (size_t i = 0; i < n; i++) {
        slo += out->lo[i];
        shi += out->hi[i];
    }
    if (slo > out->sum + 1e-12 || shi < out->sum - 1e-12) {
        double s = out->sum;
        tl__pf_cons_free(out);
        if (slo > s + 1e-12)
            return tl_err_set(err, TL_EINVAL, "the weight bounds cannot sum to %g: the lower "
                              "bounds alone add up to %g", s, slo);
        return tl_err_set(err, TL_EINVAL, "the weight bounds cannot sum to %g: the upper bounds "
                          "add up to only %g", s, shi);
    }
    if (c->n_groups) {
        if (!c->group_of) {
            tl__pf_cons_free(out);
            return tl_err_set(err, TL_EINVAL, "%zu groups given without group_of", c->n_groups);
        }
        for (size_t i = 0; i < n; i++)
            if (c->group_of[i] < -1 || c->group_of[i] >= (int)c->n_groups) {
                tl__pf_cons_free(out);
                return tl_err_set(err, TL_EINVAL, "group_of[%zu] = %d is not a group (0..%zu) "
                                  "or -1", i, c->group_of[i], c->n_groups - 1);
            }
        for (size_t g = 0; g < c->n_groups; g++) {
            double lo = c->group_lo ? c->group_lo[g] : NAN;
            double hi = c->group_hi ? c->group_hi[g] : NAN;
            if (!isnan(lo) && !isnan(hi) && lo > hi) {
                tl__pf_cons_free(out);
                return tl_err_set(err, TL_EINVAL, "group %zu: lower bound %g is above upper %g",
                                  g, lo, hi);
            }
        }
    }
    if (!isfinite(c->gamma) || c->gamma < 0) {
        tl__pf_cons_free(out);
        return tl_err_set(err, TL_EINVAL, "L2 gamma %g must be finite and >= 0", c->gamma);
    }
    return 0;
}

void tl__pf_cons_free(tl__pfcons *pc)
{
    free(pc->lo);
    free(pc->hi);
    pc->lo = pc->hi = NULL;
}

int tl__pf_build_init(tl__pfbuild *b, size_t nv, int with_H)
{
    memset(b, 0, sizeof *b);
    b->nv = nv;
    b->lb = malloc(nv * sizeof *b->lb);
    b->ub = malloc(nv * sizeof *b->ub);
    b->g = calloc(nv, sizeof *b->g);
    if (with_H)
        b->H = calloc(nv * nv, sizeof *b->H);
    if (!b->lb || !b->ub || !b->g || (with_H && !b->H))
        return -1;
    for (size_t j = 0; j < nv; j++) {
        b->lb[j] = -INFINITY;
        b->ub[j] = INFINITY;
    }
    return 0;
}

double *tl__pf_build_row(tl__pfbuild *b, double lo, double hi)
{
    if (b->m == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        double *A = realloc(b->A, cap * b->nv * sizeof *A);
        if (!A)
            return NULL;
        b->A = A;
        double *alo = realloc(b->alo, cap * sizeof *alo);
        if (!alo)
            return NULL;
        b->alo = alo;
        double *ahi = realloc(b->ahi, cap * sizeof *ahi);
        if (!ahi)
            return NULL;
        b->ahi = ahi;
        b->cap = cap;
    }
    double *row = b->A + b->m * b->nv;
    memset(row, 0, b->nv * sizeof *row);
    b->alo[b->m] = lo;
    b->ahi[b->m] = hi;
    b->m++;
    return row;
}

void tl__pf_build_free(tl__pfbuild *b)
{
    free(b->A);
    free(b->alo);
    free(b->ahi);
    free(b->lb);
    free(b->ub);
    free(b->g);
    free(b->H);
    memset(b, 0, sizeof *b);
}

tl__pfprob tl__pf_build_prob(const tl__pfbuild *b)
{
    tl__pfprob p = {b->nv, b->m, b->H, b->g, b->A, b->alo, b->ahi, b->lb, b->ub, NULL};
    return p;
}

static int add_groups(tl__pfbuild *b, const tl__pfcons *pc, size_t kcol, tl_err *err)
{
    const tl_pf_constraints *c = pc->c;
    for (size_t g = 0; g < c->n_groups; g++) {
        double lo = c->group_lo ? c->group_lo[g] : NAN;
        double hi = c->group_hi ? c->group_hi[g] : NAN;
        if (isnan(lo) && isnan(hi))
            continue;
        if (kcol == SIZE_MAX) {
            double *row = tl__pf_build_row(b, isnan(lo) ? -INFINITY : lo,
                                           isnan(hi) ? INFINITY : hi);
            if (!row)
                return tl_err_set(err, TL_ENOMEM, "out of memory");
            for (size_t i = 0; i < pc->n; i++)
                if (c->group_of[i] == (int)g)
                    row[i] = 1;
        } else {
            /* scaled by k in the max-Sharpe transform: lo k <= sum y <= hi k */
            for (int side = 0; side < 2; side++) {
                double v = side ? hi : lo;
                if (isnan(v))
                    continue;
                double *row = tl__pf_build_row(b, side ? -INFINITY : 0, side ? 0 : INFINITY);
                if (!row)
                    return tl_err_set(err, TL_ENOMEM, "out of memory");
                for (size_t i = 0; i < pc->n; i++)
                    if (c->group_of[i] == (int)g)
                        row[i] = 1;
                row[kcol] = -v;
            }
        }
    }
    return 0;
}

int tl__pf_build_weights(tl__pfbuild *b, const tl__pfcons *pc, tl_err *err)
{
    for (size_t i = 0; i < pc->n; i++) {
        b->lb[i] = pc->lo[i];
        b->ub[i] = pc->hi[i];
    }
    double *row = tl__pf_build_row(b, pc->sum, pc->sum);
    if (!row)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t i = 0; i < pc->n; i++)
        row[i] = 1;
    return add_groups(b, pc, SIZE_MAX, err);
}

/* ---- mean-variance ----------------------------------------------------------- */

static void set_H(tl__pfbuild *b, size_t n, const double *S, double s_coef, double gamma)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            b->H[i * b->nv + j] = s_coef * S[i * n + j];
        b->H[i * b->nv + i] += 2 * gamma;
    }
}

static double quad(size_t n, const double *S, const double *w)
{
    double v = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++)
            s += S[i * n + j] * w[j];
        v += w[i] * s;
    }
    return v;
}

/* raw weights as upstream reports them: w.round(16) + 0.0 */
static void tidy(size_t n, double *w)
{
    for (size_t i = 0; i < n; i++) {
        w[i] = nearbyint(w[i] * 1e16) / 1e16 + 0.0;
    }
}

/* One QP over w with the weight constraints: 1/2 w'(s_coef S + 2 gamma I)w
 * + g'w, plus optionally the row mu'w >= target. */
static int mv_qp(size_t n, const double *S, double s_coef, const double *g, const double *mu,
                 double target, const tl__pfcons *pc, double gamma, const double *x0, double *w,
                 const char *what, tl_err *err)
{
    tl__pfbuild b;
    int rc;
    if (tl__pf_build_init(&b, n, 1) < 0) {
        tl__pf_build_free(&b);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    set_H(&b, n, S, s_coef, gamma);
    if (g)
        memcpy(b.g, g, n * sizeof *g);
    rc = tl__pf_build_weights(&b, pc, err);
    if (rc == 0 && mu) {
        double *row = tl__pf_build_row(&b, target, INFINITY);
        if (!row)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        else
            memcpy(row, mu, n * sizeof *mu);
    }
    if (rc == 0) {
        tl__pfprob p = tl__pf_build_prob(&b);
        p.x0 = x0;
        rc = tl__qp_solve(&p, what, w, NULL, err);
    }
    tl__pf_build_free(&b);
    return rc;
}

int tl_pf_min_volatility(size_t n, const double *S, const tl_pf_constraints *c, double *w,
                         tl_err *err)
{
    tl__pfcons pc;
    int rc = check_cov(n, S, err);
    if (rc < 0)
        return rc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    rc = mv_qp(n, S, 2.0, NULL, NULL, 0, &pc, pc.c->gamma, NULL, w, "min_volatility", err);
    tl__pf_cons_free(&pc);
    if (rc == 0)
        tidy(n, w);
    return rc;
}

int tl_pf_max_quadratic_utility(size_t n, const double *mu, const double *S, double delta,
                                const tl_pf_constraints *c, double *w, tl_err *err)
{
    int rc;
    if ((rc = check_cov(n, S, err)) < 0 || (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    if (!(delta > 0) || !isfinite(delta))
        return tl_err_set(err, TL_EINVAL, "risk aversion %g must be a positive number", delta);
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    double *g = malloc(n * sizeof *g);
    if (!g) {
        tl__pf_cons_free(&pc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        g[i] = -mu[i];
    rc = mv_qp(n, S, delta, g, NULL, 0, &pc, pc.c->gamma, NULL, w, "max_quadratic_utility", err);
    free(g);
    tl__pf_cons_free(&pc);
    if (rc == 0)
        tidy(n, w);
    return rc;
}

static int max_return_pc(size_t n, const double *mu, const tl__pfcons *pc, double *w, double *ret,
                         tl_err *err)
{
    tl__pfbuild b;
    if (tl__pf_build_init(&b, n, 0) < 0) {
        tl__pf_build_free(&b);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        b.g[i] = -mu[i];
    int rc = tl__pf_build_weights(&b, pc, err);
    double obj = 0;
    if (rc == 0) {
        tl__pfprob p = tl__pf_build_prob(&b);
        rc = tl__lp_solve(&p, "max_return", w, &obj, err);
    }
    tl__pf_build_free(&b);
    if (rc == 0 && ret)
        *ret = -obj;
    return rc;
}

int tl_pf_max_return(size_t n, const double *mu, const tl_pf_constraints *c, double *w,
                     double *ret, tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    double *tmp = w ? w : malloc(n * sizeof *tmp);
    if (!tmp) {
        tl__pf_cons_free(&pc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    rc = max_return_pc(n, mu, &pc, tmp, ret, err);
    if (!w)
        free(tmp);
    tl__pf_cons_free(&pc);
    return rc;
}

int tl_pf_efficient_return(size_t n, const double *mu, const double *S, double target,
                           const tl_pf_constraints *c, double *w, tl_err *err)
{
    int rc;
    if ((rc = check_cov(n, S, err)) < 0 || (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    if (!isfinite(target))
        return tl_err_set(err, TL_EINVAL, "target return must be a finite number");
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    double maxret;
    rc = max_return_pc(n, mu, &pc, w, &maxret, err);
    if (rc == 0 && target > maxret + 1e-12 * (1 + fabs(maxret)))
        rc = tl_err_set(err, TL_EINVAL, "target return %g is above the maximum return %g these "
                        "constraints allow", target, maxret);
    if (rc == 0)
        rc = mv_qp(n, S, 2.0, NULL, mu, target, &pc, pc.c->gamma, NULL, w, "efficient_return",
                   err);
    tl__pf_cons_free(&pc);
    if (rc == 0)
        tidy(n, w);
    return rc;
}

int tl_pf_max_sharpe(size_t n, const double *mu, const double *S, double rf,
                     const tl_pf_constraints *c, double *w, tl_err *err)
{
    int rc;
    if ((rc = check_cov(n, S, err)) < 0 || (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    if (!isfinite(rf))
        return tl_err_set(err, TL_EINVAL, "risk-free rate must be a finite number");
    int above = 0;
    for (size_t i = 0; i < n; i++)
        if (mu[i] > rf)
            above = 1;
    if (!above)
        return tl_err_set(err, TL_EINVAL, "max_sharpe needs at least one expected return above "
                          "the risk-free rate %g", rf);
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    if (pc.c->market_neutral) {
        tl__pf_cons_free(&pc);
        return tl_err_set(err, TL_EUNSUPPORTED, "max_sharpe does not support market-neutral "
                          "portfolios (the weights cannot be rescaled to sum 0)");
    }
    /* variables y[0..n), k at n */
    size_t kc = n;
    tl__pfbuild b;
    double *y = malloc((n + 1) * sizeof *y);
    if (!y || tl__pf_build_init(&b, n + 1, 1) < 0) {
        free(y);
        tl__pf_build_free(&b);
        tl__pf_cons_free(&pc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    set_H(&b, n, S, 2.0, pc.c->gamma);
    b.lb[kc] = 0;
    double *row = tl__pf_build_row(&b, 1, 1);
    if (!row) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        row[i] = mu[i] - rf;
    row = tl__pf_build_row(&b, 0, 0);
    if (!row) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        row[i] = 1;
    row[kc] = -pc.sum;
    for (size_t i = 0; i < n; i++) {
        /* lo k <= y_i <= hi k; a zero lower bound is a plain variable bound */
        if (pc.lo[i] == 0) {
            b.lb[i] = 0;
        } else {
            row = tl__pf_build_row(&b, 0, INFINITY);
            if (!row) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory");
                goto out;
            }
            row[i] = 1;
            row[kc] = -pc.lo[i];
        }
        row = tl__pf_build_row(&b, -INFINITY, 0);
        if (!row) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        row[i] = 1;
        row[kc] = -pc.hi[i];
    }
    if ((rc = add_groups(&b, &pc, kc, err)) < 0)
        goto out;
    tl__pfprob p = tl__pf_build_prob(&b);
    rc = tl__qp_solve(&p, "max_sharpe", y, NULL, err);
    if (rc == 0) {
        if (!(y[kc] > 0)) {
            rc = tl_err_set(err, TL_EINVAL, "max_sharpe: no portfolio within the constraints "
                            "has a return above the risk-free rate %g", rf);
        } else {
            for (size_t i = 0; i < n; i++)
                w[i] = y[i] / y[kc];
            tidy(n, w);
        }
    }
out:
    free(y);
    tl__pf_build_free(&b);
    tl__pf_cons_free(&pc);
    return rc;
}

/* sqrt(1/sum(inv(S))): the unconstrained global minimum volatility */
static int global_min_vol(size_t n, const double *S, double *out, tl_err *err)
{
    double *a = malloc(n * n * sizeof *a);
    double *x = malloc(n * sizeof *x);
    size_t *piv = malloc(n * sizeof *piv);
    int rc = 0;
    if (!a || !x || !piv) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(a, S, n * n * sizeof *a);
    if (tl__pf_lu(a, n, piv) < 0) {
        rc = tl_err_set(err, TL_EINVAL, "covariance matrix S is singular");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = 1;
    tl__pf_lu_solve(a, n, piv, x);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *out = s > 0 ? sqrt(1 / s) : 0;
out:
    free(a);
    free(x);
    free(piv);
    return rc;
}

int tl_pf_efficient_risk(size_t n, const double *mu, const double *S, double sigma,
                         const tl_pf_constraints *c, double *w, tl_err *err)
{
    int rc;
    if ((rc = check_cov(n, S, err)) < 0 || (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    if (!(sigma > 0) || !isfinite(sigma))
        return tl_err_set(err, TL_EINVAL, "target volatility %g must be a positive number", sigma);
    double gmv = 0;
    if ((rc = global_min_vol(n, S, &gmv, err)) < 0)
        return rc;
    if (sigma < gmv)
        return tl_err_set(err, TL_EINVAL, "target volatility %g is below the global minimum "
                          "volatility %g", sigma, gmv);
    tl__pfcons pc;
    if ((rc = tl__pf_cons_resolve(n, c, &pc, err)) < 0)
        return rc;
    double gamma = pc.c->gamma;
    double *g = malloc(n * sizeof *g), *wt = malloc(n * sizeof *wt), *wb = malloc(n * sizeof *wb);
    if (!g || !wt || !wb) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        g[i] = -mu[i];
    /* the least volatility these constraints allow */
    if ((rc = mv_qp(n, S, 2.0, NULL, NULL, 0, &pc, 0, NULL, wt, "efficient_risk", err)) < 0)
        goto out;
    double vmin = sqrt(quad(n, S, wt));
    if (sigma < vmin * (1 - 1e-12)) {
        rc = tl_err_set(err, TL_EINVAL, "target volatility %g is below the minimum volatility %g "
                        "these constraints allow", sigma, vmin);
        goto out;
    }
    if (sigma <= vmin * (1 + 1e-12)) {
        memcpy(w, wt, n * sizeof *w);
        goto done;
    }
    /* nu = 0: is the variance constraint binding at all? */
    if (gamma > 0)
        rc = mv_qp(n, S, 0.0, g, NULL, 0, &pc, gamma, wt, w, "efficient_risk", err);
    else
        rc = max_return_pc(n, mu, &pc, w, NULL, err);
    if (rc < 0)
        goto out;
    if (sqrt(quad(n, S, w)) <= sigma)
        goto done;
    /* f(t) = vol(w(e^t)) - sigma is nonincreasing in t */
    double ta = 0, fa, tb, fb;
    if ((rc = mv_qp(n, S, 1.0, g, NULL, 0, &pc, gamma, wt, wt, "efficient_risk", err)) < 0)
        goto out;
    fa = sqrt(quad(n, S, wt)) - sigma;
    memcpy(wb, wt, n * sizeof *wb);
    tb = ta;
    fb = fa;
    double step = fa > 0 ? 2.0 : -2.0;
    for (int i = 0; i < 200 && (fa > 0) == (fb > 0); i++) {
        ta = tb;
        fa = fb;
        tb = ta + step;
        if ((rc = mv_qp(n, S, exp(tb), g, NULL, 0, &pc, gamma, wb, wb, "efficient_risk", err)) < 0)
            goto out;
        fb = sqrt(quad(n, S, wb)) - sigma;
        if (fb == 0)
            break;
    }
    if (fb != 0 && (fa > 0) == (fb > 0)) {
        rc = tl_err_set(err, TL_EINTERNAL, "efficient_risk: could not bracket the target "
                        "volatility %g", sigma);
        goto out;
    }
    /* keep a with f > 0 (low nu), b with f <= 0 */
    if (fa <= 0) {
        double t = ta;
        ta = tb;
        tb = t;
        t = fa;
        fa = fb;
        fb = t;
    }
    double best = fabs(fb);
    memcpy(w, wb, n * sizeof *w);
    int side = 0;
    for (int it = 0; it < 300 && best > 1e-15 * sigma && fabs(tb - ta) > 1e-15 * (1 + fabs(ta));
         it++) {
        double t = (ta * fb - tb * fa) / (fb - fa);
        if (!(t > fmin(ta, tb) && t < fmax(ta, tb)))
            t = 0.5 * (ta + tb);
        if ((rc = mv_qp(n, S, exp(t), g, NULL, 0, &pc, gamma, wt, wt, "efficient_risk", err)) < 0)
            goto out;
        double f = sqrt(quad(n, S, wt)) - sigma;
        if (fabs(f) < best) {
            best = fabs(f);
            memcpy(w, wt, n * sizeof *w);
        }
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
done:
    tidy(n, w);
out:
    free(g);
    free(wt);
    free(wb);
    tl__pf_cons_free(&pc);
    return rc;
}

int tl_pf_performance(size_t n, const double *w, const double *mu, const double *S, double rf,
                      tl_pf_perf *out, tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(w, n, "weights", err)) < 0 || (rc = check_cov(n, S, err)) < 0)
        return rc;
    if (mu && (rc = tl__pf_check_vec(mu, n, "mu", err)) < 0)
        return rc;
    double v = quad(n, S, w);
    out->risk = sqrt(v > 0 ? v : 0);
    if (mu) {
        double r = 0;
        for (size_t i = 0; i < n; i++)
            r += w[i] * mu[i];
        out->ret = r;
        out->ratio = (r - rf) / out->risk;
    } else {
        out->ret = NAN;
        out->ratio = NAN;
    }
    return 0;
}

int tl_pf_clean_weights(size_t n, double *w, double cutoff, int rounding, tl_err *err)
{
    int rc;
    if ((rc = tl__pf_check_vec(w, n, "weights", err)) < 0)
        return rc;
    if (rounding < 0)
        return tl_err_set(err, TL_EINVAL, "rounding %d must be a positive number of decimals or "
                          "0 for none", rounding);
    if (!(cutoff >= 0))
        return tl_err_set(err, TL_EINVAL, "cutoff %g must be >= 0", cutoff);
    double sc = pow(10.0, rounding);
    for (size_t i = 0; i < n; i++) {
        if (fabs(w[i]) < cutoff)
            w[i] = 0;
        if (rounding)
            w[i] = nearbyint(w[i] * sc) / sc + 0.0; /* numpy's round: half to even */
    }
    return 0;
}
