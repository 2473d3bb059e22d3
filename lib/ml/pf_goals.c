/*
 * pf_goals.c - Monte Carlo goal planning (see pf_plan.h).
 *
 * The returns of a path do not depend on how much is paid in, so a path's
 * final amount is affine in the monthly contribution c:
 *     final = A + c * B,
 * A the current amount grown by the path's returns and B the grown sum of
 * one unit paid in at each month's end. One simulation gives A and B for
 * every path; the success probability for any contribution, and the
 * contribution for any probability, follow without simulating again. That
 * is common random numbers carried to its end: the probability is exactly
 * monotone in c, and solving for c needs no tolerance of its own.
 */
#include <teller/pf_plan.h>

#include <teller/ml_stats.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tl_pf_goal_default(struct tl_pf_goal *g)
{
    memset(g, 0, sizeof *g);
    g->risky = (struct tl_pf_asset_class){.mu = 0.06, .sigma = 0.15};
    g->safe = (struct tl_pf_asset_class){.mu = 0.02, .sigma = 0.05};
    g->rho = 0.1;
    g->risky_start = 1;
    g->risky_end = 1;
    g->glide_months = 0;
    g->n_paths = 10000;
    g->seed = 42;
}

static int check_class(const struct tl_pf_asset_class *a, const char *name, tl_err *err)
{
    if (!isfinite(a->mu) || !(a->mu > -1))
        return tl_err_set(err, TL_EINVAL, "%s.mu %g must be finite and > -1", name, a->mu);
    if (!isfinite(a->sigma) || !(a->sigma >= 0))
        return tl_err_set(err, TL_EINVAL, "%s.sigma %g must be finite and >= 0", name,
                          a->sigma);
    return 0;
}

static int check_goal(const struct tl_pf_goal *g, tl_err *err)
{
    if (!g)
        return tl_err_set(err, TL_EINVAL, "goal: no goal given");
    if (g->current_minor < 0)
        return tl_err_set(err, TL_EINVAL, "current_minor %lld must be >= 0",
                          (long long)g->current_minor);
    if (g->contribution_minor < 0)
        return tl_err_set(err, TL_EINVAL, "contribution_minor %lld must be >= 0",
                          (long long)g->contribution_minor);
    if (g->target_minor <= 0)
        return tl_err_set(err, TL_EINVAL, "target_minor %lld must be > 0",
                          (long long)g->target_minor);
    if (g->horizon_months < 0 || g->horizon_months > TL_PF_GOAL_MAX_MONTHS)
        return tl_err_set(err, TL_EINVAL, "horizon_months %d must be in [0, %d]",
                          (int)g->horizon_months, TL_PF_GOAL_MAX_MONTHS);
    if (g->n_paths < 1 || g->n_paths > TL_PF_GOAL_MAX_PATHS)
        return tl_err_set(err, TL_EINVAL, "n_paths %zu must be in [1, %u]", g->n_paths,
                          TL_PF_GOAL_MAX_PATHS);
    int rc = check_class(&g->risky, "risky", err);
    if (rc < 0)
        return rc;
    if ((rc = check_class(&g->safe, "safe", err)) < 0)
        return rc;
    if (!(g->rho >= -1 && g->rho <= 1))
        return tl_err_set(err, TL_EINVAL, "rho %g must be in [-1, 1]", g->rho);
    if (!(g->risky_start >= 0 && g->risky_start <= 1))
        return tl_err_set(err, TL_EINVAL, "risky_start %g must be in [0, 1]", g->risky_start);
    if (!(g->risky_end >= 0 && g->risky_end <= 1))
        return tl_err_set(err, TL_EINVAL, "risky_end %g must be in [0, 1]", g->risky_end);
    if (g->glide_months < 0)
        return tl_err_set(err, TL_EINVAL, "glide_months %d must be >= 0", (int)g->glide_months);
    return 0;
}

/* The risky share of month m (0-based), as pf_plan.h defines the glide. */
static double risky_share(const struct tl_pf_goal *g, int32_t m)
{
    if (g->glide_months == 0)
        return g->risky_start;
    double left = g->horizon_months - m; // months left, this one included
    double f = (left - 1) / g->glide_months;
    if (f > 1)
        f = 1;
    return g->risky_end + (g->risky_start - g->risky_end) * f;
}

/* Fills A[n_paths] and B[n_paths] (see the top of the file). */
static void simulate_ab(const struct tl_pf_goal *g, double *A, double *B)
{
    int32_t H = g->horizon_months;
    double sr = g->risky.sigma / sqrt(12.0), ss = g->safe.sigma / sqrt(12.0);
    /* Monthly log drift chosen so that E[exp(x)]^12 = 1 + mu. */
    double mr = log1p(g->risky.mu) / 12 - sr * sr / 2;
    double ms = log1p(g->safe.mu) / 12 - ss * ss / 2;
    double rho = g->rho, rho_c = sqrt(1 - rho * rho);
    const double two_pi = 6.283185307179586476925286766559;

    tl_rng rng;
    tl_rng_seed(&rng, g->seed);
    for (size_t p = 0; p < g->n_paths; p++) {
        double a = (double)g->current_minor, b = 0;
        for (int32_t m = 0; m < H; m++) {
            double u1 = 1 - tl_rng_uniform(&rng); // (0, 1]: log is finite
            double u2 = tl_rng_uniform(&rng);
            double rad = sqrt(-2 * log(u1)), ang = two_pi * u2;
            double z1 = rad * cos(ang);
            double w = risky_share(g, m), gross;
            if (w >= 1) {
                gross = exp(mr + sr * z1);
            } else {
                double z2 = rad * sin(ang);
                double xs = exp(ms + ss * (rho * z1 + rho_c * z2));
                gross = w > 0 ? w * exp(mr + sr * z1) + (1 - w) * xs : xs;
            }
            a *= gross;
            b = b * gross + 1;
        }
        A[p] = a;
        B[p] = b;
    }
}

/* Paths whose A + c B reaches target; the one success test everything uses. */
static size_t count_success(const double *A, const double *B, size_t n, double c, double target)
{
    size_t k = 0;
    for (size_t p = 0; p < n; p++)
        k += A[p] + c * B[p] >= target;
    return k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int64_t round_minor(double x)
{
    if (!(x < 9.2e18))
        return INT64_MAX;
    return (int64_t)llround(x);
}

/* The result at contribution c; scratch holds n_paths doubles. */
static void summarize(const struct tl_pf_goal *g, const double *A, const double *B, double c,
                      double *scratch, struct tl_pf_goal_result *out)
{
    size_t n = g->n_paths;
    double target = (double)g->target_minor;
    long double sum = 0;
    for (size_t p = 0; p < n; p++) {
        scratch[p] = A[p] + c * B[p];
        sum += scratch[p];
    }
    size_t k = count_success(A, B, n, c, target);
    out->p_success = (double)k / (double)n;
    out->p_se = sqrt(out->p_success * (1 - out->p_success) / (double)n);
    out->final_mean = round_minor((double)(sum / n));
    qsort(scratch, n, sizeof *scratch, cmp_double);
    static const double pct[TL_PF_GOAL_N_PCT] = TL_PF_GOAL_PCTS;
    for (int i = 0; i < TL_PF_GOAL_N_PCT; i++) {
        double pos = pct[i] / 100 * (double)(n - 1);
        size_t lo = (size_t)pos;
        double frac = pos - (double)lo;
        double v = scratch[lo];
        if (lo + 1 < n && frac > 0)
            v += (scratch[lo + 1] - scratch[lo]) * frac;
        out->final_pct[i] = round_minor(v);
    }
}

/* A, B and a scratch row, one allocation; NULL when out of memory. */
static double *alloc_paths(size_t n)
{
    return malloc(3 * n * sizeof(double));
}

int tl_pf_goal_simulate(const struct tl_pf_goal *g, struct tl_pf_goal_result *out, tl_err *err)
{
    if (!out)
        return tl_err_set(err, TL_EINVAL, "goal: out is required");
    int rc = check_goal(g, err);
    if (rc < 0)
        return rc;
    double *buf = alloc_paths(g->n_paths);
    if (!buf)
        return tl_err_set(err, TL_ENOMEM, "goal: out of memory for %zu paths", g->n_paths);
    double *A = buf, *B = buf + g->n_paths;
    simulate_ab(g, A, B);
    summarize(g, A, B, (double)g->contribution_minor, buf + 2 * g->n_paths, out);
    free(buf);
    return 0;
}

static int unreachable(const struct tl_pf_goal *g, const double *A, const double *B, double prob,
                       int64_t max_c, tl_err *err)
{
    double p_max = (double)count_success(A, B, g->n_paths, (double)max_c,
                                         (double)g->target_minor) / (double)g->n_paths;
    return tl_err_set(err, TL_EINVAL,
                      "target_minor %lld is out of reach: even max_contribution_minor %lld a "
                      "month reaches it with probability %.4f, below the asked %.4f",
                      (long long)g->target_minor, (long long)max_c, p_max, prob);
}

int tl_pf_goal_solve_contribution(const struct tl_pf_goal *g, double prob,
                                  int64_t max_contribution_minor, struct tl_pf_goal_solve *out,
                                  tl_err *err)
{
    if (!out)
        return tl_err_set(err, TL_EINVAL, "goal: out is required");
    int rc = check_goal(g, err);
    if (rc < 0)
        return rc;
    if (!(prob > 0 && prob < 1))
        return tl_err_set(err, TL_EINVAL, "prob %g must be in (0, 1)", prob);
    if (g->horizon_months == 0)
        return tl_err_set(err, TL_EINVAL,
                          "horizon_months is 0: no contribution is paid in before the goal date");
    if (max_contribution_minor < 0)
        return tl_err_set(err, TL_EINVAL, "max_contribution_minor %lld must be >= 0",
                          (long long)max_contribution_minor);

    size_t n = g->n_paths;
    double *buf = alloc_paths(n);
    if (!buf)
        return tl_err_set(err, TL_ENOMEM, "goal: out of memory for %zu paths", n);
    double *A = buf, *B = buf + n, *need = buf + 2 * n;
    simulate_ab(g, A, B);
    double target = (double)g->target_minor;

    /* k: the fewest successes whose share is >= prob, decided by the same
     * double comparison a caller makes with p_success. */
    size_t k = (size_t)ceil(prob * (double)n);
    while (k > 0 && (double)(k - 1) / (double)n >= prob)
        k--;
    while (k < n && (double)k / (double)n < prob)
        k++;

    /* Each path's own required contribution; B >= 1 with a horizon >= 1.
     * The k-th smallest is where k paths first succeed: the limit of a
     * bisection on c over these same paths. */
    for (size_t p = 0; p < n; p++)
        need[p] = A[p] >= target ? 0 : (target - A[p]) / B[p];
    qsort(need, n, sizeof *need, cmp_double);
    double cstar = need[k - 1];
    double max_c = (double)max_contribution_minor;

    if (cstar > max_c) {
        rc = unreachable(g, A, B, prob, max_contribution_minor, err);
        free(buf);
        return rc;
    }
    /* To whole minor units, then settled against the success test itself,
     * so that a rounding ulp in (target - A) / B cannot move the answer. */
    int64_t c = (int64_t)ceil(cstar);
    while (c < max_contribution_minor && count_success(A, B, n, (double)c, target) < k)
        c++;
    while (c > 0 && count_success(A, B, n, (double)(c - 1), target) >= k)
        c--;
    if (count_success(A, B, n, (double)c, target) < k) {
        rc = unreachable(g, A, B, prob, max_contribution_minor, err);
        free(buf);
        return rc;
    }

    memset(out, 0, sizeof *out);
    out->contribution_minor = c;
    out->tolerance_minor = 1;
    out->p_below =
        c > 0 ? (double)count_success(A, B, n, (double)(c - 1), target) / (double)n : -1;
    summarize(g, A, B, (double)c, need, &out->result);
    out->p_achieved = out->result.p_success;
    free(buf);
    return 0;
}
