/*
 * pf_backtest.c - daily backtest of target weights on a price table, and
 * the performance metrics of a value series (see pf_plan.h).
 *
 * The simulation holds units, not weights: weights drift with the prices
 * by themselves, and a rebalance is the only place where anything is
 * traded or paid. Everything is one pass over the window's rows.
 */
#include <teller/pf_plan.h>

#include <teller/datetime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- metrics --------------------------------------------------------------- */

#define TRADING_DAYS 252.0
#define DAYS_PER_YEAR 365.25

static const char *fmt_day(int32_t day, char buf[16])
{
    if (tl_date_format(day, buf, 16) < 0)
        snprintf(buf, 16, "day %d", (int)day);
    return buf;
}

int tl_pf_metrics_compute(size_t n, const int32_t *days, const double *values, double initial,
                          double rf, struct tl_pf_metrics *out, tl_err *err)
{
    if (!days || !values || !out)
        return tl_err_set(err, TL_EINVAL, "metrics: days, values and out are required");
    if (n < 2)
        return tl_err_set(err, TL_EINVAL, "metrics: %zu values, at least 2 needed", n);
    if (!(initial > 0) || !isfinite(initial))
        return tl_err_set(err, TL_EINVAL, "metrics: initial %g must be finite and > 0", initial);
    if (!isfinite(rf))
        return tl_err_set(err, TL_EINVAL, "metrics: rf must be finite");
    for (size_t t = 0; t < n; t++) {
        if (!(values[t] > 0) || !isfinite(values[t]))
            return tl_err_set(err, TL_EINVAL, "metrics: values[%zu] = %g must be finite and > 0",
                              t, values[t]);
        if (t > 0 && days[t] <= days[t - 1])
            return tl_err_set(err, TL_EINVAL,
                              "metrics: days[%zu] = %d is not after days[%zu] = %d", t,
                              (int)days[t], t - 1, (int)days[t - 1]);
    }
    memset(out, 0, sizeof *out);
    out->dd_peak_day = out->dd_trough_day = days[0];

    double growth = values[n - 1] / initial;
    out->total_return = growth - 1;
    out->years = (days[n - 1] - days[0]) / DAYS_PER_YEAR;
    out->cagr = pow(growth, 1 / out->years) - 1;

    /* Two passes over the returns (mean, then deviations) in long double:
     * a long smooth series has a tiny variance that one-pass formulas lose. */
    size_t m = n - 1;
    double rf_d = rf / TRADING_DAYS;
    long double sum = 0;
    for (size_t t = 1; t < n; t++)
        sum += values[t] / values[t - 1] - 1;
    double mean = (double)(sum / m);
    long double ss = 0, down = 0;
    for (size_t t = 1; t < n; t++) {
        double r = values[t] / values[t - 1] - 1;
        ss += (long double)(r - mean) * (r - mean);
        double ex = r - rf_d;
        if (ex < 0)
            down += (long double)ex * ex;
    }
    out->volatility = m > 1 ? sqrt((double)(ss / (m - 1))) * sqrt(TRADING_DAYS) : NAN;
    double excess = (mean - rf_d) * TRADING_DAYS;
    out->sharpe = out->volatility > 0 ? excess / out->volatility : NAN;
    double downside = sqrt((double)(down / m)) * sqrt(TRADING_DAYS);
    out->sortino = downside > 0 ? excess / downside : NAN;

    double peak = values[0];
    size_t peak_i = 0;
    for (size_t t = 1; t < n; t++) {
        if (values[t] > peak) {
            peak = values[t];
            peak_i = t;
        } else {
            double dd = 1 - values[t] / peak;
            if (dd > out->max_drawdown) {
                out->max_drawdown = dd;
                out->dd_peak = peak_i;
                out->dd_trough = t;
            }
        }
    }
    out->dd_peak_day = days[out->dd_peak];
    out->dd_trough_day = days[out->dd_trough];
    out->calmar = out->max_drawdown > 0 ? out->cagr / out->max_drawdown : NAN;
    return 0;
}

/* ---- backtest -------------------------------------------------------------- */

void tl_pf_backtest_opts_default(struct tl_pf_backtest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->start_day = INT32_MIN;
    o->end_day = INT32_MAX;
    o->initial = 10000;
    o->rebalance = TL_PF_REBAL_NONE;
    o->every_n = 21;
    o->threshold = 0.05;
}

void tl_pf_backtest_free(struct tl_pf_backtest *bt)
{
    if (!bt)
        return;
    free(bt->days);
    free(bt->values);
    free(bt->rebalance_days);
    memset(bt, 0, sizeof *bt);
}

/* The run's working state: one allocation's worth of per-asset arrays. */
struct sim {
    const struct tl_pf_table *px;
    size_t n;        /* assets */
    double c;        /* cost per unit traded */
    double *units;   /* (n) units held */
    double *last;    /* (n) last present price, NAN before the first */
    double *target;  /* (n) raw target weights (fixed or from the callback) */
    double *eff;     /* (n) targets after spreading unavailable assets' weight */
    double *hold;    /* (n) holdings' values at the current close */
};

/* Checks target weights: finite, >= 0, summing to 1 within 1e-6; then
 * makes them sum to exactly 1 so that rounding in an optimizer's output
 * does not leak cash in or out. */
static int check_weights(const struct sim *s, double *w, const char *where, tl_err *err)
{
    long double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(w[i]) || w[i] < 0)
            return tl_err_set(err, TL_EINVAL,
                              "%s: weight of %s is %g; weights must be finite and >= 0 "
                              "(short positions are not backtested)",
                              where, s->px->tickers[i], w[i]);
        sum += w[i];
    }
    if (fabsl(sum - 1) > 1e-6L)
        return tl_err_set(err, TL_EINVAL, "%s: weights sum to %.9g, not 1", where, (double)sum);
    for (size_t i = 0; i < s->n; i++)
        w[i] = (double)(w[i] / sum);
    return 0;
}

/* The effective targets on row r: unavailable assets get 0 and the others
 * share their weight pro rata. */
static int spread_targets(struct sim *s, size_t r, tl_err *err)
{
    const double *p = s->px->v + r * s->n;
    double avail = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!isnan(p[i]))
            avail += s->target[i];
    if (!(avail > 0)) {
        char d[16];
        return tl_err_set(err, TL_EINVAL,
                          "prices: no asset with a positive target weight has a price on %s",
                          fmt_day(s->px->days[r], d));
    }
    for (size_t i = 0; i < s->n; i++)
        s->eff[i] = isnan(p[i]) ? 0 : s->target[i] / avail;
    return 0;
}

/* The post-trade value x of V in holdings hold[] bought into weights eff[],
 * paying c per unit traded: the root of
 *     f(x) = x + c * sum_i |x eff_i - hold_i| - V.
 * f is convex, piecewise linear and increasing (slope >= 1 - c > 0), and
 * f(V) >= 0, so Newton's method from V with any subgradient never passes
 * the root and lands on it after at most one step per kink. */
static double post_trade_value(const struct sim *s, double V)
{
    double x = V;
    for (size_t it = 0; it < s->n + 8; it++) {
        long double f = x - V, g = 1;
        for (size_t i = 0; i < s->n; i++) {
            double d = x * s->eff[i] - s->hold[i];
            f += s->c * fabs(d);
            g += d > 0 ? s->c * s->eff[i] : -s->c * s->eff[i];
        }
        if (f <= 0)
            break;
        double nx = x - (double)(f / g);
        if (!(nx < x))
            break;
        x = nx;
    }
    return x;
}

/* Trades to the effective targets at row r's close. V is the value before
 * trading (the sum of hold[]); returns the value after. */
static double rebalance(struct sim *s, struct tl_pf_backtest *out, size_t r, double V,
                        double *traded)
{
    const double *p = s->px->v + r * s->n;
    double x = s->c > 0 ? post_trade_value(s, V) : V;
    double tv = 0;
    for (size_t i = 0; i < s->n; i++) {
        double want = x * s->eff[i];
        double d = fabs(want - s->hold[i]);
        tv += d;
        /* Orders below a billionth of the portfolio are rounding, not trades. */
        if (d > 1e-9 * V)
            out->n_trades++;
        s->units[i] = s->eff[i] > 0 ? want / p[i] : 0;
        s->hold[i] = want;
    }
    out->traded_value += tv;
    out->costs += V - x;
    *traded = tv;
    return x;
}

static bool new_period(enum tl_pf_rebalance pol, int32_t prev, int32_t cur)
{
    int y0, y1;
    unsigned m0, m1, d;
    tl_civil_from_days(prev, &y0, &m0, &d);
    tl_civil_from_days(cur, &y1, &m1, &d);
    switch (pol) {
    case TL_PF_REBAL_MONTHLY:
        return y0 != y1 || m0 != m1;
    case TL_PF_REBAL_QUARTERLY:
        return y0 != y1 || (m0 - 1) / 3 != (m1 - 1) / 3;
    case TL_PF_REBAL_YEARLY:
        return y0 != y1;
    default:
        return false;
    }
}

static int check_opts(const struct tl_pf_backtest_opts *o, tl_err *err)
{
    if (!(o->initial > 0) || !isfinite(o->initial))
        return tl_err_set(err, TL_EINVAL, "opts.initial %g must be finite and > 0", o->initial);
    if (!(o->cost_bps >= 0 && o->cost_bps < 10000))
        return tl_err_set(err, TL_EINVAL, "opts.cost_bps %g must be in [0, 10000)", o->cost_bps);
    if (!isfinite(o->rf))
        return tl_err_set(err, TL_EINVAL, "opts.rf must be finite");
    switch (o->rebalance) {
    case TL_PF_REBAL_NONE:
    case TL_PF_REBAL_MONTHLY:
    case TL_PF_REBAL_QUARTERLY:
    case TL_PF_REBAL_YEARLY:
        return 0;
    case TL_PF_REBAL_EVERY_N:
        if (o->every_n < 1)
            return tl_err_set(err, TL_EINVAL, "opts.every_n must be >= 1 for periodic rebalancing");
        return 0;
    case TL_PF_REBAL_THRESHOLD:
        if (!(o->threshold > 0 && o->threshold < 1))
            return tl_err_set(err, TL_EINVAL,
                              "opts.threshold %g must be in (0, 1) for threshold rebalancing",
                              o->threshold);
        return 0;
    }
    return tl_err_set(err, TL_EINVAL, "opts.rebalance %d is not a rebalancing policy",
                      (int)o->rebalance);
}

/* New targets at row r: the fixed ones, or the callback's on the rows
 * before r. */
static int get_targets(struct sim *s, const double *weights, tl_pf_weights_fn fn, void *ud,
                       size_t r, tl_err *err)
{
    char d[16], where[64];
    if (weights) {
        memcpy(s->target, weights, s->n * sizeof *s->target);
        return check_weights(s, s->target, "weights", err);
    }
    const struct tl_pf_table *px = s->px;
    struct tl_pf_table hist = {
        .n_rows = r,
        .n_assets = px->n_assets,
        .tickers = px->tickers,
        .days = px->days,
        .v = px->v,
        .n_gaps_filled = 0,
    };
    fmt_day(px->days[r], d);
    int rc = fn(ud, r, px->days[r], &hist, s->target, err);
    if (rc < 0) {
        tl_err_prefix(err, "weights callback on %s: ", d);
        return rc;
    }
    snprintf(where, sizeof where, "weights callback on %s", d);
    return check_weights(s, s->target, where, err);
}

int tl_pf_backtest_run(const struct tl_pf_table *prices, const double *weights,
                       tl_pf_weights_fn fn, void *ud, const struct tl_pf_backtest_opts *opts,
                       struct tl_pf_backtest *out, tl_err *err)
{
    if (!out)
        return tl_err_set(err, TL_EINVAL, "backtest: out is required");
    memset(out, 0, sizeof *out);
    if (!prices || !prices->v || !prices->days || !prices->tickers || prices->n_assets == 0)
        return tl_err_set(err, TL_EINVAL, "backtest: no price table given");
    if (!opts)
        return tl_err_set(err, TL_EINVAL, "backtest: opts is required");
    if (!weights && !fn)
        return tl_err_set(err, TL_EINVAL, "backtest: give either weights or a weights callback");
    int rc = check_opts(opts, err);
    if (rc < 0)
        return rc;

    /* The window: rows with start_day <= day <= end_day. */
    size_t r0 = 0, r1 = prices->n_rows;
    while (r0 < prices->n_rows && prices->days[r0] < opts->start_day)
        r0++;
    while (r1 > r0 && prices->days[r1 - 1] > opts->end_day)
        r1--;
    if (r1 - r0 < 2) {
        char a[16], b[16];
        return tl_err_set(err, TL_EINVAL,
                          "opts.start_day..opts.end_day (%s..%s) holds %zu dates of the price "
                          "table, at least 2 needed",
                          opts->start_day == INT32_MIN ? "start" : fmt_day(opts->start_day, a),
                          opts->end_day == INT32_MAX ? "end" : fmt_day(opts->end_day, b),
                          r1 - r0);
    }

    size_t na = prices->n_assets, n = r1 - r0;
    struct sim s = {.px = prices, .n = na, .c = opts->cost_bps / 1e4};
    double *buf = malloc(5 * na * sizeof *buf);
    out->days = malloc(n * sizeof *out->days);
    out->values = malloc(n * sizeof *out->values);
    /* Every rebalance is on a distinct row, so n bounds their count. */
    out->rebalance_days = malloc(n * sizeof *out->rebalance_days);
    if (!buf || !out->days || !out->values || !out->rebalance_days) {
        free(buf);
        tl_pf_backtest_free(out);
        return tl_err_set(err, TL_ENOMEM, "backtest: out of memory for %zu dates", n);
    }
    s.units = buf;
    s.last = buf + na;
    s.target = buf + 2 * na;
    s.eff = buf + 3 * na;
    s.hold = buf + 4 * na;
    for (size_t i = 0; i < na; i++) {
        s.units[i] = 0;
        s.hold[i] = 0;
        s.last[i] = NAN;
    }
    /* Prices before the window count as last prices: a stock whose price
     * stops just before the start is still a holding's fallback value. */
    for (size_t r = 0; r < r0; r++)
        for (size_t i = 0; i < na; i++)
            if (!isnan(prices->v[r * na + i]))
                s.last[i] = prices->v[r * na + i];

    double V = opts->initial, traded;
    for (size_t k = 0; k < n; k++) {
        size_t r = r0 + k;
        const double *p = prices->v + r * na;
        if (k > 0) {
            V = 0;
            for (size_t i = 0; i < na; i++) {
                if (!isnan(p[i]))
                    s.last[i] = p[i];
                s.hold[i] = s.units[i] > 0 ? s.units[i] * s.last[i] : 0;
                V += s.hold[i];
            }
        } else {
            for (size_t i = 0; i < na; i++)
                if (!isnan(p[i]))
                    s.last[i] = p[i];
        }

        bool due = k == 0;
        if (k > 0) {
            switch (opts->rebalance) {
            case TL_PF_REBAL_NONE:
                break;
            case TL_PF_REBAL_EVERY_N:
                due = k % opts->every_n == 0;
                break;
            case TL_PF_REBAL_MONTHLY:
            case TL_PF_REBAL_QUARTERLY:
            case TL_PF_REBAL_YEARLY:
                due = new_period(opts->rebalance, prices->days[r - 1], prices->days[r]);
                break;
            case TL_PF_REBAL_THRESHOLD:
                /* Drift against the targets as they would be spread
                 * today: a held asset that lost its price drifts by its
                 * whole weight, a newly listed one by its target. */
                rc = spread_targets(&s, r, err);
                if (rc < 0)
                    goto fail;
                for (size_t i = 0; i < na && !due; i++)
                    due = fabs(s.hold[i] / V - s.eff[i]) > opts->threshold;
                break;
            }
        }
        if (due) {
            /* A callback is asked at every rebalance; fixed weights need no
             * fresh copy, only re-spreading over today's available assets. */
            if (k == 0 || !weights) {
                rc = get_targets(&s, weights, fn, ud, r, err);
                if (rc < 0)
                    goto fail;
            }
            rc = spread_targets(&s, r, err);
            if (rc < 0)
                goto fail;
            double before = V;
            V = rebalance(&s, out, r, V, &traded);
            if (k > 0) {
                out->rebalance_days[out->n_rebalances++] = prices->days[r];
                out->turnover += traded / (2 * before);
            }
        }
        out->days[k] = prices->days[r];
        out->values[k] = V;
        if (!(V > 0) || !isfinite(V)) {
            char d[16];
            rc = tl_err_set(err, TL_EINVAL, "prices: the portfolio value is %g on %s", V,
                            fmt_day(prices->days[r], d));
            goto fail;
        }
    }
    out->n = n;
    free(buf);
    return tl_pf_metrics_compute(n, out->days, out->values, opts->initial, opts->rf,
                                 &out->metrics, err);
fail:
    free(buf);
    tl_pf_backtest_free(out);
    return rc;
}
