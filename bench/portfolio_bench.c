/*
 * portfolio_bench.c - Teller's mean-variance optimisers timed in-process, for
 * bench/portfolio.sh, on exactly the problems SciPy's SLSQP solves there.
 *
 * usage:
 *   portfolio_bench gen PRICES.csv DIR
 *       writes DIR/p20.txt (the shared stock prices: mean historical return,
 *       compounded, and the sample covariance, both annualised by 252, as
 *       PyPortfolioOpt's defaults give them) and DIR/p500.txt (500 synthetic
 *       assets from a seeded 5-factor model plus idiosyncratic risk). Format:
 *       "n rf", then mu on one line, then the n rows of S, every number
 *       printed with %.17g so both sides read back the same doubles.
 *   portfolio_bench solve FILE [MIN_REPS [BUDGET_S]]
 *       solves min volatility and max Sharpe (long only, sum 1) on FILE,
 *       repeating each until MIN_REPS solves (default 20) and BUDGET_S
 *       seconds (default 2) are both reached, and prints one JSON object:
 *       {"n", "min_volatility": {"objective" (w'Sw), "median_us", "min_us",
 *       "reps", "assets_held"}, "max_sharpe": {"objective" (the Sharpe
 *       ratio), ...}}
 * Each solve is timed on its own (monotonic clock) and the median reported.
 */
#include <teller/teller.h>
#include <teller/pf_estimate.h>
#include <teller/pf_optimize.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RF 0.02

static int fail(const char *what, const tl_err *err)
{
    fprintf(stderr, "portfolio_bench: %s: %s\n", what, err->msg);
    return 1;
}

static int write_problem(const char *path, size_t n, const double *mu, const double *S)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "%zu %.17g\n", n, RF);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.17g", i ? " " : "", mu[i]);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            fprintf(f, "%s%.17g", j ? " " : "", S[i * n + j]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

/* splitmix64 and Box-Muller: a fixed, portable stream for the synthetic data */
static uint64_t rng_state = 20240607u;

static double unif(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}

/* 500 assets: r = B f + e, 5 factors (a market factor everyone loads on and
 * four styles), annual factor volatilities 16%, 8%, 6%, 5%, 4%, idiosyncratic
 * volatility uniform in [15%, 45%]; expected returns 3% + B * premia + noise.
 * S = B F B' + D is positive definite by construction. */
static void synthetic(size_t n, double *mu, double *S)
{
    enum { K = 5 };
    static const double fvol[K] = {0.16, 0.08, 0.06, 0.05, 0.04};
    static const double prem[K] = {0.05, 0.02, 0.01, 0.0, 0.01};
    double *B = malloc(n * K * sizeof *B), *d = malloc(n * sizeof *d);
    if (!B || !d) {
        fprintf(stderr, "portfolio_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < K; k++)
            B[i * K + k] = 0.15 * gauss() + (k == 0 ? 0.9 : 0.0);
        double iv = 0.15 + 0.30 * unif();
        d[i] = iv * iv;
        double m = 0.03 + 0.02 * gauss();
        for (size_t k = 0; k < K; k++)
            m += B[i * K + k] * prem[k];
        mu[i] = m;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = i == j ? d[i] : 0.0;
            for (size_t k = 0; k < K; k++)
                s += B[i * K + k] * B[j * K + k] * fvol[k] * fvol[k];
            S[i * n + j] = S[j * n + i] = s;
        }
    free(B);
    free(d);
}

static int gen(const char *prices, const char *dir)
{
    tl_err err = {0};
    struct tl_pf_table *px = NULL, *r = NULL;
    char path[4096];
    if (tl_pf_prices_read_csv(prices, 0, &px, &err) < 0)
        return fail(prices, &err);
    if (tl_pf_returns(px, false, &r, &err) < 0)
        return fail("returns", &err);
    size_t n = r->n_assets;
    double *mu = malloc(500 * sizeof *mu), *S = malloc(500 * 500 * sizeof *S);
    if (!mu || !S || n > 500)
        return fprintf(stderr, "portfolio_bench: out of memory\n"), 1;
    if (tl_pf_mean_return(r, true, 252, mu, &err) < 0)
        return fail("mean_return", &err);
    if (tl_pf_sample_cov(r, 252, S, NULL, &err) < 0)
        return fail("sample_cov", &err);
    snprintf(path, sizeof path, "%s/p%zu.txt", dir, n);
    if (write_problem(path, n, mu, S))
        return 1;
    tl_pf_table_free(r);
    tl_pf_table_free(px);
    synthetic(500, mu, S);
    snprintf(path, sizeof path, "%s/p500.txt", dir);
    int rc = write_problem(path, 500, mu, S);
    free(mu);
    free(S);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double obj, median_us, min_us;
    size_t reps, held;
} result;

static int timed(int which, size_t n, const double *mu, const double *S, double rf, size_t min_reps,
                 double budget_s, result *out)
{
    tl_err err = {0};
    double *w = malloc(n * sizeof *w);
    size_t cap = 1u << 20;
    double *t = malloc(cap * sizeof *t);
    if (!w || !t)
        return fprintf(stderr, "portfolio_bench: out of memory\n"), 1;
    double total = 0;
    size_t k = 0;
    while ((k < min_reps || total < budget_s * 1e6) && k < cap) {
        int64_t t0 = tl_time_mono_ns();
        int rc = which == 0 ? tl_pf_min_volatility(n, S, NULL, w, &err)
                            : tl_pf_max_sharpe(n, mu, S, rf, NULL, w, &err);
        int64_t t1 = tl_time_mono_ns();
        if (rc < 0)
            return fail(which == 0 ? "min_volatility" : "max_sharpe", &err);
        t[k] = (double)(t1 - t0) / 1e3;
        total += t[k++];
    }
    qsort(t, k, sizeof *t, cmp_double);
    out->median_us = k % 2 ? t[k / 2] : 0.5 * (t[k / 2 - 1] + t[k / 2]);
    out->min_us = t[0];
    out->reps = k;
    out->held = 0;
    for (size_t i = 0; i < n; i++)
        out->held += w[i] > 1e-6;
    out->obj = which == 0 ? tl_pf_portfolio_variance(n, w, S)
                          : tl_pf_sharpe_ratio(n, w, mu, S, rf);
    free(w);
    free(t);
    return 0;
}

static int solve(const char *file, size_t min_reps, double budget_s)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return 1;
    }
    size_t n;
    double rf;
    if (fscanf(f, "%zu %lg", &n, &rf) != 2 || n == 0 || n > 100000) {
        fprintf(stderr, "portfolio_bench: %s: bad header (want \"n rf\")\n", file);
        return 1;
    }
    double *mu = malloc(n * sizeof *mu), *S = malloc(n * n * sizeof *S);
    if (!mu || !S)
        return fprintf(stderr, "portfolio_bench: out of memory\n"), 1;
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%lg", &mu[i]) != 1) {
            fprintf(stderr, "portfolio_bench: %s: mu[%zu] missing or not a number\n", file, i);
            return 1;
        }
    for (size_t i = 0; i < n * n; i++)
        if (fscanf(f, "%lg", &S[i]) != 1) {
            fprintf(stderr, "portfolio_bench: %s: S[%zu][%zu] missing or not a number\n", file,
                    i / n, i % n);
            return 1;
        }
    fclose(f);
    result r[2];
    for (int which = 0; which < 2; which++)
        if (timed(which, n, mu, S, rf, min_reps, budget_s, &r[which]))
            return 1;
    printf("{\"n\": %zu", n);
    static const char *names[2] = {"min_volatility", "max_sharpe"};
    for (int which = 0; which < 2; which++)
        printf(", \"%s\": {\"objective\": %.17g, \"median_us\": %.3f, \"min_us\": %.3f, "
               "\"reps\": %zu, \"assets_held\": %zu}",
               names[which], r[which].obj, r[which].median_us, r[which].min_us, r[which].reps,
               r[which].held);
    printf("}\n");
    free(mu);
    free(S);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], argv[3]);
    if (argc >= 3 && argc <= 5 && strcmp(argv[1], "solve") == 0)
        return solve(argv[2], argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 20,
                     argc > 4 ? strtod(argv[4], NULL) : 2.0);
    fprintf(stderr, "usage: portfolio_bench gen PRICES.csv DIR\n"
                    "       portfolio_bench solve FILE [MIN_REPS [BUDGET_S]]\n");
    return 2;
}
