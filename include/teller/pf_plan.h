/*
 * pf_plan.h - what a portfolio would have done and what it may do: a daily
 * backtest of target weights on a price table (rebalancing, transaction
 * costs, performance metrics), and Monte Carlo goal planning (the
 * probability of reaching a target amount with monthly contributions, the
 * contribution needed for a chosen probability, a glide path that de-risks
 * as the date approaches).
 *
 * Nothing here keeps state between calls and nothing is global: every
 * function is thread-safe on distinct outputs, and the Monte Carlo is
 * deterministic for a given seed on every machine. docs/portfolio-planning.md
 * gives the definitions with worked examples.
 *
 *     struct tl_pf_table *px;
 *     tl_pf_prices_read_csv("stock_prices.csv", 0, &px, &err);
 *     struct tl_pf_backtest_opts o;
 *     tl_pf_backtest_opts_default(&o);
 *     o.rebalance = TL_PF_REBAL_MONTHLY;
 *     o.cost_bps = 10;
 *     double w[px->n_assets];   // target weights, summing to 1
 *     struct tl_pf_backtest bt;
 *     if (tl_pf_backtest_run(px, w, NULL, NULL, &o, &bt, &err) < 0) ...
 *     printf("CAGR %.4f max DD %.4f\n", bt.metrics.cagr, bt.metrics.max_drawdown);
 *     tl_pf_backtest_free(&bt);
 *
 *     struct tl_pf_goal g;
 *     tl_pf_goal_default(&g);
 *     g.current_minor = 1000000; g.contribution_minor = 50000;
 *     g.target_minor = 30000000; g.horizon_months = 240;
 *     struct tl_pf_goal_result res;
 *     tl_pf_goal_simulate(&g, &res, &err);   // res.p_success, res.final_pct[]
 */
#ifndef TELLER_PF_PLAN_H
#define TELLER_PF_PLAN_H

#include "common.h"
#include "err.h"
#include "pf_estimate.h"

TL_BEGIN_DECLS

/* ---- performance metrics ------------------------------------------------- */

/* The metrics of a value series. Conventions (the doc page has them with
 * formulas): daily simple returns r_t = V_t / V_{t-1} - 1 over the series
 * (n - 1 of them); rf is annual and its daily rate is rf / 252.
 *   total_return  V_last / initial - 1
 *   cagr          (V_last / initial)^(365.25 / calendar days) - 1
 *   volatility    stdev(r, ddof 1) * sqrt(252)
 *   sharpe        mean(r - rf/252) * 252 / volatility
 *   sortino       mean(r - rf/252) * 252 / downside, where downside =
 *                 sqrt(sum(min(r - rf/252, 0)^2) / N) * sqrt(252) over the
 *                 N = n - 1 returns: the target downside deviation, every
 *                 return counting in N (Sortino & Price), so ddof 0
 *   max_drawdown  max over t of 1 - V_t / max_{s<=t} V_s, in [0, 1]
 *   calmar        cagr / max_drawdown
 * A ratio whose denominator is 0 (a series without volatility, without a
 * return below rf, or without a drawdown) is NAN: there is no number to
 * report, and +inf would pass for a very good one. */
struct tl_pf_metrics {
    double total_return;
    double cagr;
    double years;        /* calendar days / 365.25 */
    double volatility;   /* annualised */
    double sharpe;
    double sortino;
    double max_drawdown; /* a positive fraction: 0.25 is a 25 % fall */
    double calmar;
    size_t dd_peak;      /* the series index of the peak before the largest fall */
    size_t dd_trough;    /* and of its trough (both 0 when there is no fall) */
    int32_t dd_peak_day; /* the same as days since 1970-01-01 */
    int32_t dd_trough_day;
};

/* Metrics of values[n] dated days[n] (strictly increasing days since
 * 1970-01-01, n >= 2, values finite and > 0) that started from `initial`
 * (> 0; pass values[0] when the series has no separate starting amount). */
TL_API int tl_pf_metrics_compute(size_t n, const int32_t *days, const double *values,
                                 double initial, double rf, struct tl_pf_metrics *out,
                                 tl_err *err);

/* ---- backtest ------------------------------------------------------------
 *
 * The portfolio buys its target weights at the close of the first date of
 * the window, then holds units whose values drift with the prices. It trades
 * back to the target at the close of a rebalance date, paying cost_bps of
 * the traded value, which comes out of the portfolio: the post-trade value
 * V' solves V' = V - c * sum_i |V' w_i - h_i| exactly (c = cost_bps / 1e4,
 * h_i the holdings' values before the trades), so the costs paid are exactly
 * c times the value actually traded. The initial purchase pays costs too.
 *
 * Missing prices: an asset whose price is missing on a rebalance date (not
 * yet listed, or delisted) gets weight 0 there and its target weight is
 * spread over the available assets in proportion to theirs (w_i / sum of the
 * available w_j). A held asset whose price goes missing keeps its last
 * price (it is valued as if frozen) until the next rebalance sells it at
 * that price. A rebalance date where no available asset has a positive
 * target is TL_EINVAL naming the date. */

enum tl_pf_rebalance {
    TL_PF_REBAL_NONE = 0,      /* buy and hold */
    TL_PF_REBAL_EVERY_N = 1,   /* every every_n trading days (table rows) after the start */
    TL_PF_REBAL_MONTHLY = 2,   /* the first trading day of each new calendar month */
    TL_PF_REBAL_QUARTERLY = 3, /* ... of each new calendar quarter */
    TL_PF_REBAL_YEARLY = 4,    /* ... of each new calendar year */
    TL_PF_REBAL_THRESHOLD = 5, /* the first day some |w_i - target_i| > threshold */
};

struct tl_pf_backtest_opts {
    int32_t start_day;   /* the window, inclusive, as days since 1970-01-01; */
    int32_t end_day;     /* the default is the whole table */
    double initial;      /* the starting amount, > 0 (default 10000) */
    enum tl_pf_rebalance rebalance; /* default TL_PF_REBAL_NONE */
    size_t every_n;      /* TL_PF_REBAL_EVERY_N: >= 1 */
    double threshold;    /* TL_PF_REBAL_THRESHOLD: absolute weight drift in (0, 1) */
    double cost_bps;     /* proportional cost on traded value, in [0, 10000) (default 0) */
    double rf;           /* annual risk-free rate for Sharpe and Sortino (default 0) */
};

/* Fills o with the defaults above. */
TL_API void tl_pf_backtest_opts_default(struct tl_pf_backtest_opts *o);

/* Weights at a rebalance: the callback receives the table row and date of
 * the rebalance and `history`, a read-only view of the table's rows before
 * that date (history->n_rows == row; it may be 0 on the table's first row)
 * so a caller can re-estimate and re-optimize without look-ahead. It writes
 * n_assets weights (>= 0, summing to 1 within 1e-6) and returns 0, or a
 * negative TL_E* code with err filled, which stops the backtest with that
 * code. history is valid only during the call. */
typedef int (*tl_pf_weights_fn)(void *ud, size_t row, int32_t day,
                                const struct tl_pf_table *history, double *weights,
                                tl_err *err);

/* A backtest's result. The arrays are malloc'ed by tl_pf_backtest_run and
 * freed by tl_pf_backtest_free; the struct itself is the caller's. */
struct tl_pf_backtest {
    size_t n;                /* dates in the window */
    int32_t *days;           /* (n) the dates */
    double *values;          /* (n) portfolio value at each close, after that day's trades */
    size_t n_rebalances;     /* rebalance dates after the initial purchase */
    int32_t *rebalance_days; /* (n_rebalances) their dates */
    size_t n_trades;         /* single-asset orders, the initial purchase's included */
    double traded_value;     /* sum of |trade| over all orders, the initial purchase's included */
    double turnover;         /* sum over rebalances (not the initial purchase) of
                                traded value / (2 * value before trading): the share
                                of the portfolio replaced, summed */
    double costs;            /* total costs paid, the initial purchase's included */
    struct tl_pf_metrics metrics; /* of values, from opts->initial */
};

/* Backtests a price table (tl_pf_prices_read_csv; NAN = missing price)
 * over opts' window. The targets are the fixed weights[n_assets] (>= 0,
 * summing to 1 within 1e-6; renormalised to exactly 1), or, when weights is
 * NULL, the weights that fn(ud, ...) gives at the start and at each
 * rebalance date. With TL_PF_REBAL_THRESHOLD the drift is measured each
 * day against the last targets spread over that day's available assets (so
 * a newly listed asset drifts by its target), and a callback is asked again
 * when it triggers.
 *
 * Errors (TL_EINVAL naming the field): a window with fewer than 2 dates,
 * initial, every_n, threshold or cost_bps out of range, a negative or
 * non-finite weight (naming its ticker), weights not summing to 1, neither
 * weights nor fn. On error *out is zeroed and owns nothing. */
TL_API int tl_pf_backtest_run(const struct tl_pf_table *prices, const double *weights,
                              tl_pf_weights_fn fn, void *ud,
                              const struct tl_pf_backtest_opts *opts,
                              struct tl_pf_backtest *out, tl_err *err);

/* Frees the arrays of a result and zeroes it; a zeroed result is fine. */
TL_API void tl_pf_backtest_free(struct tl_pf_backtest *bt);

/* ---- goal planning -------------------------------------------------------
 *
 * Amounts are integer minor units (cents). Each month the portfolio earns
 * a random return, then the contribution is paid in (at the month's end, an
 * ordinary annuity). The portfolio holds a risky and a safe asset class,
 * rebalanced monthly to the risky share of that month; each class's monthly
 * gross return is exp(x) with x ~ Normal(ln(1 + mu) / 12 - s^2 / 2, s^2),
 * s = sigma / sqrt(12), so that its expected annual growth is 1 + mu; the
 * two x are correlated by rho. One asset class for the whole portfolio:
 * risky_start = risky_end = 1 (safe is then unused).
 *
 * Glide path: with L the months left counting the current one (horizon
 * down to 1), the risky share of a month is
 *     risky_end + (risky_start - risky_end) * min(1, (L - 1) / glide_months)
 * so it stays at risky_start until the last glide_months months, then
 * falls linearly and is risky_end in the last month. glide_months 0 keeps
 * risky_start throughout.
 *
 * Random numbers: one tl_rng (xoshiro256**, ml_stats.h) seeded with seed;
 * paths one after another, each month drawing one Box-Muller pair from two
 * uniforms (u1 = 1 - tl_rng_uniform, u2 = tl_rng_uniform). The same inputs
 * and seed give the same numbers on every machine, and the first k paths of
 * a run are the same for any n_paths >= k. */

struct tl_pf_asset_class {
    double mu;    /* expected annual return (0.06 = 6 %), > -1 */
    double sigma; /* annual volatility of log returns, >= 0 */
};

struct tl_pf_goal {
    int64_t current_minor;      /* amount invested now, >= 0 */
    int64_t contribution_minor; /* paid in at the end of each month, >= 0 */
    int64_t target_minor;       /* the goal, > 0 */
    int32_t horizon_months;     /* months to the goal date, >= 0 */
    struct tl_pf_asset_class risky, safe;
    double rho;                 /* correlation of the two classes, in [-1, 1] */
    double risky_start;         /* risky share before the glide, in [0, 1] (default 1) */
    double risky_end;           /* risky share in the last month, in [0, 1] (default 1) */
    int32_t glide_months;       /* length of the glide, >= 0 (default 0: none) */
    size_t n_paths;             /* >= 1 (default 10000) */
    uint64_t seed;              /* default 42 */
};

/* Defaults: the comments above; risky 6 %/15 %, safe 2 %/5 %, rho 0.1;
 * amounts and horizon 0 (to be set). */
TL_API void tl_pf_goal_default(struct tl_pf_goal *g);

#define TL_PF_GOAL_N_PCT 5
/* The percentiles reported, in final_pct order. */
#define TL_PF_GOAL_PCTS {5.0, 25.0, 50.0, 75.0, 95.0}

struct tl_pf_goal_result {
    double p_success;   /* share of paths whose final amount >= target */
    double p_se;        /* its Monte Carlo standard error sqrt(p (1 - p) / n_paths) */
    int64_t final_pct[TL_PF_GOAL_N_PCT]; /* percentiles 5, 25, 50, 75, 95 of the final
                                            amount (linear interpolation between order
                                            statistics, numpy's default), rounded */
    int64_t final_mean; /* mean final amount, rounded */
};

/* The largest horizon and path count accepted (TL_EINVAL above them):
 * 100 years, and 16 bytes of scratch per path (160 MB at the limit). */
#define TL_PF_GOAL_MAX_MONTHS 1200
#define TL_PF_GOAL_MAX_PATHS 10000000u

/* Simulates g->n_paths paths. Errors (TL_EINVAL naming the field): a
 * negative amount, target 0 or less, horizon_months outside
 * [0, TL_PF_GOAL_MAX_MONTHS], n_paths 0 or above TL_PF_GOAL_MAX_PATHS,
 * mu <= -1 or non-finite, sigma < 0 or non-finite, rho outside [-1, 1], a
 * share outside [0, 1], glide_months < 0; TL_ENOMEM. Uses O(n_paths)
 * scratch, freed before it returns. */
TL_API int tl_pf_goal_simulate(const struct tl_pf_goal *g, struct tl_pf_goal_result *out,
                               tl_err *err);

/* The contribution needed for a chosen probability. */
struct tl_pf_goal_solve {
    int64_t contribution_minor; /* the smallest monthly contribution, in whole minor
                                   units, whose success probability is >= prob */
    double p_achieved;          /* the probability at contribution_minor */
    double p_below;             /* the probability at contribution_minor - 1
                                   (< prob; -1 when contribution_minor is 0) */
    int64_t tolerance_minor;    /* 1: the answer is exact to the minor unit */
    struct tl_pf_goal_result result; /* the simulation at contribution_minor */
};

/* Solves for the monthly contribution reaching g->target_minor with
 * probability >= prob (in (0, 1)), g->contribution_minor ignored, on
 * common random numbers (the same paths for every contribution, so the
 * probability is monotone in it). Since the paths' returns do not depend on
 * the contribution, each path's final amount is exactly A + c * B, and the
 * bisection on c collapses to an order statistic of the per-path required
 * contributions (target - A) / B: the answer is exact for these paths, to
 * the minor unit. Its sampling error is the probability's, p_se.
 *
 * Errors (TL_EINVAL naming the field): those of tl_pf_goal_simulate, prob
 * outside (0, 1), horizon_months 0 (nothing to contribute), and a target
 * that needs more than max_contribution_minor (>= 0) for prob: the message
 * gives the probability the maximum reaches. */
TL_API int tl_pf_goal_solve_contribution(const struct tl_pf_goal *g, double prob,
                                         int64_t max_contribution_minor,
                                         struct tl_pf_goal_solve *out, tl_err *err);

TL_END_DECLS

#endif
