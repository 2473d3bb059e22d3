/*
 * test_pf_plan.c - backtests and goal planning (pf_plan.h).
 *
 * Backtests: hand-computable tables (constant growth, a threshold crossed
 * on a known day, costs of a known size, a known drawdown, an asset listed
 * late), the weights callback seeing only the past, bad input; and a real
 * run on $TELLER_SHARED/data/markets/stock_prices.csv (skipped visibly when
 * absent) checked for consistency and against figures computed
 * independently with numpy.
 *
 * Goals: zero volatility against the closed-form future value of an
 * annuity, monotonicity in the contribution, the solved contribution
 * against a fresh simulation, determinism of the seed, bad input.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/pf_plan.h>

#include "testutil.h"

/* a and b agree to rel, relative to the larger of them (and at least 1). */
static bool near(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)));
}
#define NEAR(a, b, rel) near((double)(a), (double)(b), (rel))

static struct tl_pf_table *table(size_t rows, size_t n, const double *v, const int32_t *days)
{
    struct tl_pf_table *t = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_pf_table_new(rows, n, v, days, NULL, &t, &err), 0, "%s", err.msg);
    return t;
}

static void run_ok(const struct tl_pf_table *px, const double *w,
                   const struct tl_pf_backtest_opts *o, struct tl_pf_backtest *bt)
{
    tl_err err = {0};
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, o, bt, &err), 0, "%s", err.msg);
}

/* ---- metrics ----------------------------------------------------------- */

Test(pf_metrics, known_drawdown_and_ratios)
{
    const double v[] = {100, 120, 90, 130, 65, 100};
    const int32_t d[] = {0, 1, 2, 3, 4, 5};
    struct tl_pf_metrics m;
    tl_err err = {0};
    cr_assert_eq(tl_pf_metrics_compute(6, d, v, 100, 0, &m, &err), 0, "%s", err.msg);
    /* 130 -> 65 is the largest fall: exactly one half. */
    cr_assert_float_eq(m.max_drawdown, 0.5, 1e-15);
    cr_assert_eq(m.dd_peak, 3);
    cr_assert_eq(m.dd_trough, 4);
    cr_assert_eq(m.dd_peak_day, 3);
    cr_assert_eq(m.dd_trough_day, 4);
    cr_assert_float_eq(m.total_return, 0, 1e-15);
    cr_assert_float_eq(m.cagr, 0, 1e-15);
    cr_assert_float_eq(m.calmar, 0, 1e-15);
    /* Returns 0.2, -0.25, 4/9, -0.5, 7/13, written out by hand. */
    double r[5] = {0.2, -0.25, 40.0 / 90 , -0.5, 35.0 / 65};
    double mean = 0, ss = 0, down = 0;
    for (int i = 0; i < 5; i++)
        mean += r[i] / 5;
    for (int i = 0; i < 5; i++) {
        ss += (r[i] - mean) * (r[i] - mean);
        down += r[i] < 0 ? r[i] * r[i] : 0;
    }
    double vol = sqrt(ss / 4 * 252);
    cr_assert(NEAR(m.volatility, vol, 1e-12), "vol %.17g vs %.17g", m.volatility, vol);
    cr_assert(NEAR(m.sharpe, mean * 252 / vol, 1e-12));
    cr_assert(NEAR(m.sortino, mean * 252 / sqrt(down / 5 * 252), 1e-12));

    /* With rf the excess and the downside move. */
    cr_assert_eq(tl_pf_metrics_compute(6, d, v, 100, 0.0252, &m, &err), 0, "%s", err.msg);
    cr_assert(NEAR(m.sharpe, (mean - 0.0001) * 252 / vol, 1e-12));
}

Test(pf_metrics, no_drawdown_gives_nan_ratios)
{
    const double v[] = {100, 101, 102.01};
    const int32_t d[] = {0, 365, 731};
    struct tl_pf_metrics m;
    tl_err err = {0};
    cr_assert_eq(tl_pf_metrics_compute(3, d, v, 100, 0, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m.max_drawdown, 0);
    cr_assert(isnan(m.calmar));
    cr_assert(isnan(m.sortino));
    cr_assert_float_eq(m.cagr, pow(1.0201, 365.25 / 731) - 1, 1e-15);
}

Test(pf_metrics, bad_input)
{
    const double v[] = {100, -1};
    const int32_t d[] = {0, 1}, dd[] = {1, 1};
    const double ok[] = {1, 2};
    struct tl_pf_metrics m;
    tl_err err = {0};
    cr_assert_eq(tl_pf_metrics_compute(2, d, v, 100, 0, &m, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "values[1]"), "%s", err.msg);
    cr_assert_eq(tl_pf_metrics_compute(2, dd, ok, 1, 0, &m, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "days[1]"), "%s", err.msg);
    cr_assert_eq(tl_pf_metrics_compute(1, d, ok, 1, 0, &m, &err), TL_EINVAL);
    cr_assert_eq(tl_pf_metrics_compute(2, d, ok, 0, 0, &m, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "initial"), "%s", err.msg);
}

/* ---- backtests on hand-computable tables -------------------------------- */

/* Two assets growing 1 % and 0.5 % a day, T + 1 dates one day apart. */
static struct tl_pf_table *two_growth(size_t T)
{
    double *v = malloc(2 * (T + 1) * sizeof *v);
    for (size_t t = 0; t <= T; t++) {
        v[2 * t] = 10 * pow(1.01, (double)t);
        v[2 * t + 1] = 20 * pow(1.005, (double)t);
    }
    struct tl_pf_table *px = table(T + 1, 2, v, NULL);
    free(v);
    return px;
}

Test(pf_backtest, constant_growth_buy_and_hold)
{
    const size_t T = 100;
    struct tl_pf_table *px = two_growth(T);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.initial = 1000;
    const double w[2] = {0.5, 0.5};
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n, T + 1);
    cr_assert_eq(bt.n_rebalances, 0);
    cr_assert_eq(bt.n_trades, 2);
    cr_assert_eq(bt.costs, 0);
    for (size_t t = 0; t <= T; t++) {
        double want = 500 * (pow(1.01, (double)t) + pow(1.005, (double)t));
        cr_assert(NEAR(bt.values[t], want, 1e-12), "day %zu: %.17g vs %.17g", t, bt.values[t],
                  want);
    }
    double g = bt.values[T] / 1000;
    cr_assert(NEAR(bt.metrics.total_return, g - 1, 1e-14));
    cr_assert(NEAR(bt.metrics.cagr, pow(g, 365.25 / T) - 1, 1e-12));
    cr_assert_eq(bt.metrics.max_drawdown, 0);
    tl_pf_backtest_free(&bt);
    cr_assert_null(bt.values);
    tl_pf_table_free(px);
}

Test(pf_backtest, constant_growth_daily_rebalanced)
{
    const size_t T = 100;
    struct tl_pf_table *px = two_growth(T);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.initial = 1000;
    o.rebalance = TL_PF_REBAL_EVERY_N;
    o.every_n = 1;
    const double w[2] = {0.25, 0.75};
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, T);
    /* Rebalanced every day, the portfolio grows by the weighted rate. */
    double gd = 0.25 * 1.01 + 0.75 * 1.005;
    for (size_t t = 0; t <= T; t++)
        cr_assert(NEAR(bt.values[t], 1000 * pow(gd, (double)t), 1e-12), "day %zu", t);
    cr_assert_lt(bt.metrics.volatility, 1e-10);
    cr_assert(NEAR(bt.metrics.cagr, pow(gd, 365.25) - 1, 1e-9));
    tl_pf_backtest_free(&bt);

    /* every_n = 7: rebalances on rows 7, 14, ..., 98. */
    o.every_n = 7;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, 14);
    for (size_t i = 0; i < bt.n_rebalances; i++)
        cr_assert_eq(bt.rebalance_days[i], (int32_t)(7 * (i + 1)));
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

Test(pf_backtest, threshold_triggers_when_expected)
{
    /* A grows 5 % a day, B stays: from 50/50, A's weight is
     * 1.05^k / (1.05^k + 1): drift 0.0122, 0.0244, 0.0365, 0.0486 on days
     * 1-4 and 0.0607 on day 5, so a 5 % threshold trips on day 5, 10, 15. */
    const size_t N = 17;
    double v[2 * 17];
    for (size_t t = 0; t < N; t++) {
        v[2 * t] = pow(1.05, (double)t);
        v[2 * t + 1] = 1;
    }
    struct tl_pf_table *px = table(N, 2, v, NULL);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.initial = 100;
    o.rebalance = TL_PF_REBAL_THRESHOLD;
    o.threshold = 0.05;
    const double w[2] = {0.5, 0.5};
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, 3);
    cr_assert_eq(bt.rebalance_days[0], 5);
    cr_assert_eq(bt.rebalance_days[1], 10);
    cr_assert_eq(bt.rebalance_days[2], 15);
    /* Between rebalances the value is V_last * (1.05^j + 1) / 2. */
    double V = 100;
    for (size_t t = 0; t < N; t++) {
        size_t j = t % 5;
        double want = V * (pow(1.05, (double)j) + 1) / 2;
        cr_assert(NEAR(bt.values[t], want, 1e-12), "day %zu: %.17g vs %.17g", t, bt.values[t],
                  want);
        if (j == 4)
            V = V * (pow(1.05, 5) + 1) / 2;
    }
    /* Each rebalance sells A's excess: turnover is half the drift each time. */
    double drift = pow(1.05, 5) / (pow(1.05, 5) + 1) - 0.5;
    cr_assert(NEAR(bt.turnover, 3 * drift, 1e-12), "turnover %.17g", bt.turnover);

    /* Just above the day-5 drift, nothing trips until the drift of day 6. */
    o.threshold = drift + 1e-9;
    tl_pf_backtest_free(&bt);
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, 2);
    cr_assert_eq(bt.rebalance_days[0], 6);
    cr_assert_eq(bt.rebalance_days[1], 12);
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

Test(pf_backtest, costs_reduce_value_by_the_exact_amount)
{
    /* Day 0: both at 1, buy 50/50 paying 10 bps: 1000 = V0 + c V0, so
     * V0 = 1000 / 1.001 and a = V0 / 2 in each. Day 1: A doubles, V = 3a;
     * back to 50/50 at post-cost value x: sell 2a - x/2 of A, buy x/2 - a
     * of B, traded a in all, so x = 3a - c a. */
    const double v[] = {1, 1, 2, 1};
    struct tl_pf_table *px = table(2, 2, v, NULL);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.initial = 1000;
    o.rebalance = TL_PF_REBAL_EVERY_N;
    o.every_n = 1;
    o.cost_bps = 10;
    const double w[2] = {0.5, 0.5}, c = 0.001;
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    double V0 = 1000 / (1 + c), a = V0 / 2;
    cr_assert(NEAR(bt.values[0], V0, 1e-14), "%.17g vs %.17g", bt.values[0], V0);
    cr_assert(NEAR(bt.values[1], 3 * a - c * a, 1e-14), "%.17g", bt.values[1]);
    cr_assert(NEAR(bt.costs, (1000 - V0) + c * a, 1e-12), "costs %.17g", bt.costs);
    cr_assert(NEAR(bt.traded_value, V0 + a, 1e-12), "traded %.17g", bt.traded_value);
    cr_assert(NEAR(bt.costs, c * bt.traded_value, 1e-12));
    cr_assert(NEAR(bt.turnover, 1.0 / 6, 1e-14));
    cr_assert_eq(bt.n_trades, 4);
    tl_pf_backtest_free(&bt);

    /* The same without costs keeps every unit of value. */
    o.cost_bps = 0;
    run_ok(px, w, &o, &bt);
    cr_assert_float_eq(bt.values[1], 1500, 1e-12);
    cr_assert_eq(bt.costs, 0);
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

Test(pf_backtest, costs_many_assets_consistent)
{
    /* Five assets with uneven moves and a large cost: whatever the kinks,
     * the costs are exactly c times what was traded. */
    double v[5 * 30];
    for (size_t t = 0; t < 30; t++)
        for (size_t i = 0; i < 5; i++)
            v[5 * t + i] = 10 + (double)i + 3 * sin((double)(t * (i + 1)));
    struct tl_pf_table *px = table(30, 5, v, NULL);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.rebalance = TL_PF_REBAL_EVERY_N;
    o.every_n = 3;
    o.cost_bps = 250;
    const double w[5] = {0.1, 0.2, 0.3, 0.15, 0.25};
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    cr_assert(NEAR(bt.costs, 0.025 * bt.traded_value, 1e-12), "costs %.17g traded %.17g",
              bt.costs, bt.traded_value);
    cr_assert_eq(bt.n_rebalances, 9);
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

Test(pf_backtest, late_listing_spreads_its_weight)
{
    /* C has no price until day 3. Days 0-2: A and B take 1/2 each; the
     * rebalance on day 3 buys C at 1/3, and C doubling on day 4 adds a
     * third of the value. Calendar days two apart, January into February,
     * for the monthly policy below. */
    const double N = NAN;
    const double v[] = {1, 1, N, 1, 1, N, 1, 1, N, 1, 1, 1, 1, 1, 2};
    const int32_t days[] = {10, 20, 30, 32, 40}; // 1970-01-11 .. 1970-02-10
    struct tl_pf_table *px = table(5, 3, v, days);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.initial = 90;
    o.rebalance = TL_PF_REBAL_MONTHLY;
    const double w[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, 1);
    cr_assert_eq(bt.rebalance_days[0], 32);
    cr_assert_float_eq(bt.values[3], 90, 1e-12);
    cr_assert_float_eq(bt.values[4], 120, 1e-12);
    tl_pf_backtest_free(&bt);

    /* Buy and hold never buys C. */
    o.rebalance = TL_PF_REBAL_NONE;
    run_ok(px, w, &o, &bt);
    cr_assert_float_eq(bt.values[4], 90, 1e-12);
    tl_pf_backtest_free(&bt);

    /* Threshold: C's listing is a drift of 1/3 on day 3. */
    o.rebalance = TL_PF_REBAL_THRESHOLD;
    o.threshold = 0.2;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, 1);
    cr_assert_eq(bt.rebalance_days[0], 32);
    cr_assert_float_eq(bt.values[4], 120, 1e-12);
    tl_pf_backtest_free(&bt);

    /* All weight on the unlisted asset: nothing to buy on day 0. */
    const double wc[3] = {0, 0, 1};
    tl_err err = {0};
    cr_assert_eq(tl_pf_backtest_run(px, wc, NULL, NULL, &o, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "1970-01-11"), "%s", err.msg);
    tl_pf_table_free(px);
}

Test(pf_backtest, delisted_asset_is_frozen_then_sold)
{
    /* B's price stops after day 1: it stays at its last price (1) until
     * the rebalance on day 3 sells it into A, which then rises by half. */
    const double N = NAN;
    const double v[] = {1, 1, 1, 1, 2, N, 2, N, 3, N};
    struct tl_pf_table *px = table(5, 2, v, NULL);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.initial = 100;
    o.rebalance = TL_PF_REBAL_EVERY_N;
    o.every_n = 3;
    const double w[2] = {0.5, 0.5};
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    const double want[5] = {100, 100, 150, 150, 225};
    for (int t = 0; t < 5; t++)
        cr_assert_float_eq(bt.values[t], want[t], 1e-12, "day %d: %g", t, bt.values[t]);
    cr_assert_eq(bt.n_rebalances, 1);
    cr_assert_eq(bt.n_trades, 4); // the initial two, then sell B and buy A
    tl_pf_backtest_free(&bt);

    /* Threshold: the frozen B is a drift of 1/3 on day 2 already. */
    o.rebalance = TL_PF_REBAL_THRESHOLD;
    o.threshold = 0.3;
    run_ok(px, w, &o, &bt);
    cr_assert_eq(bt.n_rebalances, 1);
    cr_assert_eq(bt.rebalance_days[0], 2);
    cr_assert_float_eq(bt.values[4], 225, 1e-12);
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

Test(pf_backtest, calendar_policies)
{
    /* One row every 10 days over three years from 2019-12-02. */
    int32_t days[110];
    double v[110];
    int32_t d0 = (int32_t)tl_days_from_civil(2019, 12, 2);
    for (int i = 0; i < 110; i++) {
        days[i] = d0 + 10 * i;
        v[i] = 1 + 0.01 * i;
    }
    struct tl_pf_table *px = table(110, 1, v, days);
    const double w[1] = {1};
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    size_t want[3] = {0, 0, 0};
    for (int i = 1; i < 110; i++) {
        int y0, y1;
        unsigned m0, m1, dd;
        tl_civil_from_days(days[i - 1], &y0, &m0, &dd);
        tl_civil_from_days(days[i], &y1, &m1, &dd);
        want[0] += y0 != y1 || m0 != m1;
        want[1] += y0 != y1 || (m0 - 1) / 3 != (m1 - 1) / 3;
        want[2] += y0 != y1;
    }
    cr_assert_eq(want[2], 3); // 2020, 2021, 2022
    enum tl_pf_rebalance pol[3] = {TL_PF_REBAL_MONTHLY, TL_PF_REBAL_QUARTERLY,
                                   TL_PF_REBAL_YEARLY};
    for (int k = 0; k < 3; k++) {
        o.rebalance = pol[k];
        struct tl_pf_backtest bt;
        run_ok(px, w, &o, &bt);
        cr_assert_eq(bt.n_rebalances, want[k], "policy %d: %zu vs %zu", k, bt.n_rebalances,
                     want[k]);
        tl_pf_backtest_free(&bt);
    }
    /* The yearly ones fall on the first row of each year. */
    o.rebalance = TL_PF_REBAL_YEARLY;
    struct tl_pf_backtest bt;
    run_ok(px, w, &o, &bt);
    int y;
    unsigned m, d;
    tl_civil_from_days(bt.rebalance_days[0], &y, &m, &d);
    cr_assert(y == 2020 && m == 1 && d <= 10, "%d-%u-%u", y, m, d);
    tl_pf_backtest_free(&bt);

    /* A window: 2021 only. */
    o.start_day = (int32_t)tl_days_from_civil(2021, 1, 1);
    o.end_day = (int32_t)tl_days_from_civil(2021, 12, 31);
    run_ok(px, w, &o, &bt);
    cr_assert_geq(bt.days[0], o.start_day);
    cr_assert_lt(bt.days[0], o.start_day + 10);
    cr_assert_leq(bt.days[bt.n - 1], o.end_day);
    cr_assert_eq(bt.n_rebalances, 0);
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

/* ---- the weights callback ------------------------------------------------ */

struct cb_state {
    size_t calls;
    bool saw_future;
    int fail_at; // call number that fails, -1 for none
};

/* Inverse-price weights from the last row of the history: a re-optimiser in
 * miniature. It checks that nothing at or after the rebalance date shows. */
static int inv_price(void *ud, size_t row, int32_t day, const struct tl_pf_table *h, double *w,
                     tl_err *err)
{
    struct cb_state *st = ud;
    if ((int)st->calls++ == st->fail_at)
        return tl_err_set(err, TL_ENOTFOUND, "no model for this date");
    if (h->n_rows != row || (h->n_rows > 0 && h->days[h->n_rows - 1] >= day))
        st->saw_future = true;
    if (h->n_rows == 0) {
        w[0] = w[1] = 0.5;
        return 0;
    }
    const double *p = h->v + (h->n_rows - 1) * h->n_assets;
    double s = 1 / p[0] + 1 / p[1];
    w[0] = 1 / p[0] / s;
    w[1] = 1 / p[1] / s;
    return 0;
}

Test(pf_backtest, callback_sees_only_the_past)
{
    struct tl_pf_table *px = two_growth(60);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    o.rebalance = TL_PF_REBAL_EVERY_N;
    o.every_n = 10;
    o.start_day = 5;
    struct cb_state st = {0, false, -1};
    struct tl_pf_backtest bt;
    tl_err err = {0};
    cr_assert_eq(tl_pf_backtest_run(px, NULL, inv_price, &st, &o, &bt, &err), 0, "%s", err.msg);
    cr_assert_eq(st.calls, 1 + 5); // start on row 5, then rows 15, 25, ..., 55
    cr_assert_not(st.saw_future);
    cr_assert_eq(bt.days[0], 5);
    tl_pf_backtest_free(&bt);

    /* A failing callback stops the run with its code, dated. */
    st = (struct cb_state){0, false, 2};
    cr_assert_eq(tl_pf_backtest_run(px, NULL, inv_price, &st, &o, &bt, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no model"), "%s", err.msg);
    cr_assert(strstr(err.msg, "1970-01-26"), "%s", err.msg); // row 25
    cr_assert_null(bt.values);
    tl_pf_table_free(px);
}

Test(pf_backtest, bad_input)
{
    struct tl_pf_table *px = two_growth(10);
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    struct tl_pf_backtest bt;
    tl_err err = {0};
    const double neg[2] = {1.5, -0.5}, part[2] = {0.5, 0.4}, w[2] = {0.5, 0.5};
    cr_assert_eq(tl_pf_backtest_run(px, neg, NULL, NULL, &o, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "weight of 1"), "%s", err.msg);
    cr_assert_eq(tl_pf_backtest_run(px, part, NULL, NULL, &o, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "sum to 0.9"), "%s", err.msg);
    cr_assert_eq(tl_pf_backtest_run(px, NULL, NULL, NULL, &o, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "weights"), "%s", err.msg);

    struct tl_pf_backtest_opts b = o;
    b.cost_bps = 10000;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &b, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "cost_bps"), "%s", err.msg);
    b = o;
    b.rebalance = TL_PF_REBAL_THRESHOLD;
    b.threshold = 0;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &b, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "threshold"), "%s", err.msg);
    b = o;
    b.rebalance = TL_PF_REBAL_EVERY_N;
    b.every_n = 0;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &b, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "every_n"), "%s", err.msg);
    b = o;
    b.initial = -5;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &b, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "initial"), "%s", err.msg);
    b = o;
    b.rebalance = (enum tl_pf_rebalance)42;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &b, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "rebalance"), "%s", err.msg);
    b = o;
    b.start_day = 10;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &b, &bt, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "1970-01-11") && strstr(err.msg, "1 dates"), "%s", err.msg);
    cr_assert_null(bt.values);
    tl_pf_table_free(px);
}

/* ---- a real run ------------------------------------------------------------ */

/* Figures of the run below computed independently with numpy (units held,
 * costs by fixed-point iteration; the script is in docs/portfolio-planning.md). */
#define REF_CAGR 0.107650903177571
#define REF_VOL 0.159767653856719
#define REF_SHARPE 0.597952371769592
#define REF_SORTINO 0.84145862596301
#define REF_MAXDD 0.162291584765332

Test(pf_backtest, stock_prices_equal_weight_monthly)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/markets/stock_prices.csv", tu_shared_dir());
    if (access(path, R_OK) != 0)
        cr_skip_test("stock prices not found at %s (set TELLER_SHARED)", path);
    struct tl_pf_table *px = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_pf_prices_read_csv(path, 0, &px, &err), 0, "%s", err.msg);
    cr_assert_eq(px->n_assets, 20);
    double w[20];
    for (int i = 0; i < 20; i++)
        w[i] = 1.0 / 20;
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    cr_assert_eq(tl_date_parse("2014-09-19", 10, &o.start_day, &err), 0);
    cr_assert_eq(tl_date_parse("2018-04-11", 10, &o.end_day, &err), 0);
    o.initial = 10000;
    o.rebalance = TL_PF_REBAL_MONTHLY;
    o.cost_bps = 10;
    o.rf = 0.02;
    struct tl_pf_backtest bt;
    cr_assert_eq(tl_pf_backtest_run(px, w, NULL, NULL, &o, &bt, &err), 0, "%s", err.msg);

    cr_assert_eq(bt.n, 896); // every trading date of the window, both ends included
    cr_assert_eq(bt.days[0], o.start_day);
    cr_assert_eq(bt.days[bt.n - 1], o.end_day);
    cr_assert_eq(bt.n_rebalances, 43); // October 2014 .. April 2018
    cr_assert_eq(bt.n_trades, 20 + 43 * 20); // every stock drifts, so every rebalance trades it
    for (size_t t = 0; t < bt.n; t++)
        cr_assert(isfinite(bt.values[t]) && bt.values[t] > 0, "day %zu", t);
    const struct tl_pf_metrics *m = &bt.metrics;
    double years = (bt.days[bt.n - 1] - bt.days[0]) / 365.25;
    cr_assert(NEAR(m->years, years, 1e-15));
    cr_assert(NEAR(m->cagr, pow(bt.values[bt.n - 1] / 10000, 1 / years) - 1, 1e-12));
    cr_assert(NEAR(m->total_return, bt.values[bt.n - 1] / 10000 - 1, 1e-14));
    cr_assert(m->max_drawdown > 0 && m->max_drawdown < 1);
    cr_assert_lt(m->dd_peak, m->dd_trough);
    cr_assert(NEAR(m->max_drawdown, 1 - bt.values[m->dd_trough] / bt.values[m->dd_peak],
                   1e-15));
    cr_assert(isfinite(m->volatility) && m->volatility > 0.05 && m->volatility < 0.5);
    cr_assert(isfinite(m->sharpe) && isfinite(m->sortino) && isfinite(m->calmar));
    cr_assert(NEAR(m->calmar, m->cagr / m->max_drawdown, 1e-14));
    cr_assert(bt.costs > 0 && NEAR(bt.costs, 0.001 * bt.traded_value, 1e-12));
    cr_assert(bt.turnover > 0 && bt.turnover < 43);

    char trough[16];
    tl_date_format(m->dd_trough_day, trough, sizeof trough);
    cr_assert_str_eq(trough, "2016-02-11");
    cr_assert(NEAR(m->cagr, REF_CAGR, 1e-9), "cagr %.12f", m->cagr);
    cr_assert(NEAR(m->volatility, REF_VOL, 1e-9), "vol %.12f", m->volatility);
    cr_assert(NEAR(m->sharpe, REF_SHARPE, 1e-9), "sharpe %.12f", m->sharpe);
    cr_assert(NEAR(m->sortino, REF_SORTINO, 1e-9), "sortino %.12f", m->sortino);
    cr_assert(NEAR(m->max_drawdown, REF_MAXDD, 1e-9), "max dd %.12f", m->max_drawdown);
    tl_pf_backtest_free(&bt);
    tl_pf_table_free(px);
}

/* ---- goal planning --------------------------------------------------------- */

static struct tl_pf_goal base_goal(void)
{
    struct tl_pf_goal g;
    tl_pf_goal_default(&g);
    g.current_minor = 1000000;      // 10 000.00
    g.contribution_minor = 50000;   // 500.00 a month
    g.target_minor = 20000000;      // 200 000.00
    g.horizon_months = 240;
    return g;
}

Test(pf_goal, zero_volatility_is_the_annuity)
{
    struct tl_pf_goal g = base_goal();
    g.risky.sigma = 0;
    double i = pow(1.06, 1.0 / 12) - 1, n = 240;
    double fv = 1000000 * pow(1 + i, n) + 50000 * (pow(1 + i, n) - 1) / i;
    struct tl_pf_goal_result r;
    tl_err err = {0};
    g.target_minor = (int64_t)floor(fv) - 1;
    cr_assert_eq(tl_pf_goal_simulate(&g, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.p_success, 1.0);
    cr_assert_eq(r.p_se, 0.0);
    for (int k = 0; k < TL_PF_GOAL_N_PCT; k++)
        cr_assert_eq(r.final_pct[k], llround(fv), "pct %d: %lld vs %.3f", k,
                     (long long)r.final_pct[k], fv);
    cr_assert_eq(r.final_mean, llround(fv));
    g.target_minor = (int64_t)ceil(fv) + 1;
    cr_assert_eq(tl_pf_goal_simulate(&g, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.p_success, 0.0);

    /* And the solver gives the annuity payment for that target. */
    double pay = (g.target_minor - 1000000 * pow(1 + i, n)) * i / (pow(1 + i, n) - 1);
    struct tl_pf_goal_solve s;
    cr_assert_eq(tl_pf_goal_solve_contribution(&g, 0.5, 1000000, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.contribution_minor, (int64_t)ceil(pay), "%lld vs %.6f",
                 (long long)s.contribution_minor, pay);
    cr_assert_eq(s.p_achieved, 1.0);
    cr_assert_eq(s.p_below, 0.0);
}

Test(pf_goal, zero_volatility_glide_path)
{
    /* 36 months, risky 8 % falling to safe 2 % over the last 24 months. */
    struct tl_pf_goal g = base_goal();
    g.horizon_months = 36;
    g.risky = (struct tl_pf_asset_class){0.08, 0};
    g.safe = (struct tl_pf_asset_class){0.02, 0};
    g.risky_start = 1;
    g.risky_end = 0;
    g.glide_months = 24;
    g.n_paths = 3;
    double gr = pow(1.08, 1.0 / 12), gs = pow(1.02, 1.0 / 12), v = 1000000;
    for (int m = 0; m < 36; m++) {
        int left = 36 - m;
        double w = fmin(1.0, (left - 1) / 24.0);
        if (m < 12)
            cr_assert_eq(w, 1.0);
        v = v * (w * gr + (1 - w) * gs) + 50000;
    }
    struct tl_pf_goal_result r;
    tl_err err = {0};
    cr_assert_eq(tl_pf_goal_simulate(&g, &r, &err), 0, "%s", err.msg);
    cr_assert(llabs(r.final_pct[2] - llround(v)) <= 1, "%lld vs %.3f",
              (long long)r.final_pct[2], v);
}

Test(pf_goal, glide_path_narrows_the_outcomes)
{
    struct tl_pf_goal g = base_goal();
    g.risky = (struct tl_pf_asset_class){0.07, 0.18};
    g.safe = (struct tl_pf_asset_class){0.02, 0.04};
    struct tl_pf_goal_result all, glide;
    tl_err err = {0};
    cr_assert_eq(tl_pf_goal_simulate(&g, &all, &err), 0, "%s", err.msg);
    g.risky_end = 0.2;
    g.glide_months = 120;
    cr_assert_eq(tl_pf_goal_simulate(&g, &glide, &err), 0, "%s", err.msg);
    cr_assert_lt(glide.final_pct[4] - glide.final_pct[0], all.final_pct[4] - all.final_pct[0]);
    cr_assert_gt(glide.final_pct[0], all.final_pct[0]);
    cr_assert_lt(glide.final_pct[2], all.final_pct[2]);
}

Test(pf_goal, probability_rises_with_contribution)
{
    struct tl_pf_goal g = base_goal();
    double prev = -1;
    struct tl_pf_goal_result r;
    tl_err err = {0};
    for (int64_t c = 0; c <= 100000; c += 10000) {
        g.contribution_minor = c;
        cr_assert_eq(tl_pf_goal_simulate(&g, &r, &err), 0, "%s", err.msg);
        cr_assert_geq(r.p_success, prev, "contribution %lld", (long long)c);
        cr_assert_leq(r.final_pct[0], r.final_pct[1]);
        cr_assert_leq(r.final_pct[1], r.final_pct[2]);
        cr_assert_leq(r.final_pct[2], r.final_pct[3]);
        cr_assert_leq(r.final_pct[3], r.final_pct[4]);
        prev = r.p_success;
        if (c == 0)
            cr_assert_lt(r.p_success, 0.05);
    }
    cr_assert_gt(prev, 0.9);
}

Test(pf_goal, solved_contribution_achieves_the_probability)
{
    struct tl_pf_goal g = base_goal();
    g.risky_end = 0.3;
    g.glide_months = 60;
    const double probs[] = {0.5, 0.8, 0.95};
    tl_err err = {0};
    int64_t prev = -1;
    for (int k = 0; k < 3; k++) {
        struct tl_pf_goal_solve s;
        cr_assert_eq(tl_pf_goal_solve_contribution(&g, probs[k], 10000000, &s, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(s.tolerance_minor, 1);
        cr_assert_geq(s.p_achieved, probs[k]);
        cr_assert_lt(s.p_below, probs[k]);
        cr_assert_gt(s.contribution_minor, prev);
        prev = s.contribution_minor;
        /* A fresh simulation at that contribution, and one unit less. */
        struct tl_pf_goal_result r;
        g.contribution_minor = s.contribution_minor;
        cr_assert_eq(tl_pf_goal_simulate(&g, &r, &err), 0, "%s", err.msg);
        cr_assert_eq(r.p_success, s.p_achieved);
        cr_assert_geq(r.p_success, probs[k]);
        cr_assert(memcmp(r.final_pct, s.result.final_pct, sizeof r.final_pct) == 0);
        g.contribution_minor = s.contribution_minor - 1;
        cr_assert_eq(tl_pf_goal_simulate(&g, &r, &err), 0, "%s", err.msg);
        cr_assert_lt(r.p_success, probs[k]);
        cr_assert_eq(r.p_success, s.p_below);
    }
    /* Already reached: nothing to pay. */
    g.current_minor = 50000000;
    struct tl_pf_goal_solve s;
    cr_assert_eq(tl_pf_goal_solve_contribution(&g, 0.5, 100, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.contribution_minor, 0);
    cr_assert_eq(s.p_below, -1);
}

Test(pf_goal, same_seed_same_result)
{
    struct tl_pf_goal g = base_goal();
    g.risky_end = 0.4;
    g.glide_months = 48;
    struct tl_pf_goal_result a, b, c;
    tl_err err = {0};
    cr_assert_eq(tl_pf_goal_simulate(&g, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_pf_goal_simulate(&g, &b, &err), 0, "%s", err.msg);
    cr_assert(memcmp(&a, &b, sizeof a) == 0);
    g.seed = 43;
    cr_assert_eq(tl_pf_goal_simulate(&g, &c, &err), 0, "%s", err.msg);
    cr_assert_neq(memcmp(a.final_pct, c.final_pct, sizeof a.final_pct), 0);
    /* Two seeds agree within sampling error. */
    cr_assert_lt(fabs(a.p_success - c.p_success), 5 * a.p_se + 1e-9);
}

Test(pf_goal, bad_input_names_the_argument)
{
    struct tl_pf_goal g = base_goal(), b;
    struct tl_pf_goal_result r;
    struct tl_pf_goal_solve s;
    tl_err err = {0};
#define BAD(field, value, name)                                                    \
    do {                                                                           \
        b = g;                                                                     \
        b.field = value;                                                           \
        cr_assert_eq(tl_pf_goal_simulate(&b, &r, &err), TL_EINVAL, #field);        \
        cr_assert(strstr(err.msg, name), "%s: %s", #field, err.msg);               \
    } while (0)
    BAD(horizon_months, -1, "horizon_months");
    BAD(horizon_months, TL_PF_GOAL_MAX_MONTHS + 1, "horizon_months");
    BAD(n_paths, 0, "n_paths");
    BAD(current_minor, -1, "current_minor");
    BAD(contribution_minor, -5, "contribution_minor");
    BAD(target_minor, 0, "target_minor");
    BAD(risky.mu, -1, "risky.mu");
    BAD(safe.sigma, -0.1, "safe.sigma");
    BAD(risky.sigma, NAN, "risky.sigma");
    BAD(rho, 1.5, "rho");
    BAD(risky_start, 1.2, "risky_start");
    BAD(risky_end, -0.1, "risky_end");
    BAD(glide_months, -12, "glide_months");
#undef BAD
    const double probs[] = {0, 1, 1.5, -0.2, NAN};
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(tl_pf_goal_solve_contribution(&g, probs[k], 1000000, &s, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "prob"), "%s", err.msg);
    }
    cr_assert_eq(tl_pf_goal_solve_contribution(&g, 0.5, -1, &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "max_contribution_minor"), "%s", err.msg);
    b = g;
    b.horizon_months = 0;
    cr_assert_eq(tl_pf_goal_solve_contribution(&b, 0.5, 100000, &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "horizon_months"), "%s", err.msg);
    /* 200 000.00 in 20 years cannot come from at most 100.00 a month. */
    cr_assert_eq(tl_pf_goal_solve_contribution(&g, 0.9, 10000, &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "target_minor") && strstr(err.msg, "max_contribution_minor"),
              "%s", err.msg);
    cr_assert(strstr(err.msg, "probability"), "%s", err.msg);
}
