/*
 * teller portfolio: the portfolio engine from the shell, so that a quant can
 * use it without writing C and every reference case can be run by hand.
 *
 *   optimize  prices CSV -> returns -> expected returns and a risk model ->
 *             an optimizer -> weights (cleaned for the table, raw in JSON)
 *             and the performance in the method's own risk measure
 *   allocate  weights (optimize --json, or {ticker: weight}) and the latest
 *             prices -> whole shares and the leftover cash
 *   backtest  fixed target weights on a price table with rebalancing and
 *             costs -> CAGR, volatility, Sharpe, Sortino, drawdown, Calmar
 *   goal      Monte Carlo goal planning: the probability of reaching a target,
 *             or the monthly contribution a chosen probability needs
 *
 * Parsing and rendering only: every number comes from pf_estimate.h,
 * pf_optimize.h and pf_plan.h, whose messages are passed through unchanged.
 * docs/portfolio.md has the definitions and examples.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *prices, *returns, *market, *risk, *method, *measure, *rf, *target, *gamma,
        *risk_aversion, *bounds, *frequency, *beta, *span, *benchmark, *from, *to, *resample;
    const char *weights, *cash, *short_ratio;
    const char *rebalance, *cost_bps, *initial;
    const char *amount, *monthly, *months, *mu, *sigma, *safe_mu, *safe_sigma, *rho,
        *risky_start, *risky_end, *glide_months, *paths, *seed, *probability, *max_monthly,
        *currency;
    bool market_neutral, log_returns, dropna, reinvest;
} O;

const struct cli_opt cli_portfolio_opts[] = {
    {"prices", true, &O.prices, NULL, "--prices FILE.csv        prices: date,TICKER,... one row per date (optimize, allocate, backtest)"},
    {"returns", true, &O.returns, NULL, "--returns KIND           mean (default), mean-arith, ema or capm"},
    {"market", true, &O.market, NULL, "--market FILE.csv        capm: one column of market index prices (default: the assets' mean)"},
    {"risk", true, &O.risk, NULL, "--risk MODEL             sample (default), semicov, exp, ledoit-wolf, lw-single-factor, lw-const-corr"},
    {"method", true, &O.method, NULL, "--method M               optimize: max-sharpe (default) or another (usage above); allocate: greedy, integer"},
    {"measure", true, &O.measure, NULL, "--measure R              efficient-risk/-return, max-utility: variance (default), cvar, cdar, semivariance"},
    {"rf", true, &O.rf, NULL, "--rf R                   annual risk-free rate (default 0)"},
    {"target", true, &O.target, NULL, "--target X               efficient-risk: the risk; efficient-return: the return; goal: the amount"},
    {"gamma", true, &O.gamma, NULL, "--gamma G                L2 regularisation gamma*||w||^2 (default 0)"},
    {"risk-aversion", true, &O.risk_aversion, NULL, "--risk-aversion A        max-utility: delta in w'mu - delta/2 w'Sw (default 1)"},
    {"bounds", true, &O.bounds, NULL, "--bounds LO,HI           weight bounds for every asset, \"none\" for no bound (default 0,1)"},
    {"market-neutral", false, NULL, &O.market_neutral, "--market-neutral         weights sum to 0 instead of 1"},
    {"frequency", true, &O.frequency, NULL, "--frequency N            periods per year (default 252; 52 weekly, 12 monthly)"},
    {"beta", true, &O.beta, NULL, "--beta B                 CVaR/CDaR confidence level in (0,1) (default 0.95)"},
    {"span", true, &O.span, NULL, "--span N                 ema returns (default 500) and exp covariance (default 180) span"},
    {"benchmark", true, &O.benchmark, NULL, "--benchmark B            per-period benchmark return: semicov (default 0.000079), semivariance (default 0)"},
    {"log-returns", false, NULL, &O.log_returns, "--log-returns            log returns instead of simple ones"},
    {"from", true, &O.from, NULL, "--from YYYY-MM-DD        first price date used (default: the first)"},
    {"to", true, &O.to, NULL, "--to YYYY-MM-DD          last price date used (default: the last)"},
    {"dropna", false, NULL, &O.dropna, "--dropna                 keep only the price dates where every asset has a price"},
    {"resample", true, &O.resample, NULL, "--resample weekly|monthly  first price of each week or month (frequency 52 or 12)"},
    {"weights", true, &O.weights, NULL, "--weights FILE.json      weights as optimize --json prints them, or {ticker: weight}; backtest: or \"equal\""},
    {"cash", true, &O.cash, NULL, "--cash AMOUNT            allocate: the cash to invest"},
    {"short-ratio", true, &O.short_ratio, NULL, "--short-ratio R          allocate: shorts' share of the cash (default: the sum of the short weights)"},
    {"reinvest", false, NULL, &O.reinvest, "--reinvest               allocate: spend the short proceeds on the longs"},
    {"rebalance", true, &O.rebalance, NULL, "--rebalance R            backtest: none (default), monthly, quarterly, yearly, N (trading days), threshold:X"},
    {"cost-bps", true, &O.cost_bps, NULL, "--cost-bps B             backtest: cost per traded value in basis points (default 0)"},
    {"initial", true, &O.initial, NULL, "--initial AMOUNT         backtest: the starting value (default 10000)"},
    {"amount", true, &O.amount, NULL, "--amount AMOUNT          goal: invested now (default 0)"},
    {"monthly", true, &O.monthly, NULL, "--monthly AMOUNT         goal: paid in at the end of each month (default 0)"},
    {"months", true, &O.months, NULL, "--months N               goal: months to the goal date"},
    {"mu", true, &O.mu, NULL, "--mu R                   goal: risky class expected annual return (default 0.06)"},
    {"sigma", true, &O.sigma, NULL, "--sigma S                goal: risky class annual volatility (default 0.15)"},
    {"safe-mu", true, &O.safe_mu, NULL, "--safe-mu R              goal: safe class expected annual return (default 0.02)"},
    {"safe-sigma", true, &O.safe_sigma, NULL, "--safe-sigma S           goal: safe class annual volatility (default 0.05)"},
    {"rho", true, &O.rho, NULL, "--rho R                  goal: correlation of the two classes (default 0.1)"},
    {"risky-start", true, &O.risky_start, NULL, "--risky-start X          goal: risky share before the glide path (default 1)"},
    {"risky-end", true, &O.risky_end, NULL, "--risky-end X            goal: risky share in the last month (default 1)"},
    {"glide-months", true, &O.glide_months, NULL, "--glide-months N         goal: length of the glide path (default 0: none)"},
    {"paths", true, &O.paths, NULL, "--paths N                goal: Monte Carlo paths (default 10000)"},
    {"seed", true, &O.seed, NULL, "--seed S                 goal: random seed (default 42)"},
    {"probability", true, &O.probability, NULL, "--probability P          goal: solve for the monthly contribution reaching the target with P"},
    {"max-monthly", true, &O.max_monthly, NULL, "--max-monthly AMOUNT     goal: the largest contribution --probability may answer (default: the target)"},
    {"currency", true, &O.currency, NULL, "--currency CODE          goal: currency of the amounts (default USD)"},
    {0},
};

/* Which subcommands take which option: anything else is a usage error, so
 * that a mistyped command line is never silently half-applied. */
enum { SUB_OPT = 1, SUB_ALLOC = 2, SUB_BT = 4, SUB_GOAL = 8 };
static const struct {
    const char *name;
    unsigned subs;
} APPLIES[] = {
    {"prices", SUB_OPT | SUB_ALLOC | SUB_BT}, {"returns", SUB_OPT}, {"market", SUB_OPT},
    {"risk", SUB_OPT}, {"method", SUB_OPT | SUB_ALLOC}, {"measure", SUB_OPT},
    {"rf", SUB_OPT | SUB_BT}, {"target", SUB_OPT | SUB_GOAL}, {"gamma", SUB_OPT},
    {"risk-aversion", SUB_OPT}, {"bounds", SUB_OPT}, {"market-neutral", SUB_OPT},
    {"frequency", SUB_OPT}, {"beta", SUB_OPT}, {"span", SUB_OPT}, {"benchmark", SUB_OPT},
    {"log-returns", SUB_OPT}, {"from", SUB_OPT | SUB_BT}, {"to", SUB_OPT | SUB_BT},
    {"dropna", SUB_OPT}, {"resample", SUB_OPT}, {"weights", SUB_ALLOC | SUB_BT},
    {"cash", SUB_ALLOC}, {"short-ratio", SUB_ALLOC}, {"reinvest", SUB_ALLOC},
    {"rebalance", SUB_BT}, {"cost-bps", SUB_BT}, {"initial", SUB_BT}, {"amount", SUB_GOAL},
    {"monthly", SUB_GOAL}, {"months", SUB_GOAL}, {"mu", SUB_GOAL},
    {"sigma", SUB_GOAL}, {"safe-mu", SUB_GOAL}, {"safe-sigma", SUB_GOAL}, {"rho", SUB_GOAL},
    {"risky-start", SUB_GOAL}, {"risky-end", SUB_GOAL}, {"glide-months", SUB_GOAL},
    {"paths", SUB_GOAL}, {"seed", SUB_GOAL}, {"probability", SUB_GOAL},
    {"max-monthly", SUB_GOAL}, {"currency", SUB_GOAL},
};

static int check_applies(struct cli_env *env, const char *sub, unsigned mask)
{
    for (const struct cli_opt *o = cli_portfolio_opts; o->name; o++) {
        bool set = o->has_arg ? *o->value != NULL : *o->flag;
        if (!set)
            continue;
        unsigned subs = 0;
        for (size_t i = 0; i < sizeof APPLIES / sizeof APPLIES[0]; i++)
            if (strcmp(APPLIES[i].name, o->name) == 0)
                subs = APPLIES[i].subs;
        if (!(subs & mask))
            return cli_usage_error(env, "--%s does not apply to portfolio %s", o->name, sub);
    }
    return CLI_OK;
}

/* ---- option values ---------------------------------------------------------------- */

/* A real option value in [lo, hi] (open ends when the flags say so). */
static int parse_num(struct cli_env *env, const char *name, const char *s, double lo, bool lo_open,
                     double hi, bool hi_open, double *out)
{
    if (!s)
        return CLI_OK;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || errno || *end || !isfinite(v))
        return cli_usage_error(env, "--%s expects a number, got \"%s\"", name, s);
    if (v < lo || v > hi || (lo_open && v == lo) || (hi_open && v == hi))
        return cli_usage_error(env, "--%s %s: must be in %c%g, %g%c", name, s, lo_open ? '(' : '[',
                               lo, hi, hi_open ? ')' : ']');
    *out = v;
    return CLI_OK;
}

static int parse_count(struct cli_env *env, const char *name, const char *s, uint64_t lo,
                       uint64_t hi, uint64_t *out)
{
    if (!s)
        return CLI_OK;
    uint64_t v;
    int rc = cli_parse_u64(env, name, s, &v);
    if (rc != CLI_OK)
        return rc;
    if (v < lo || v > hi)
        return cli_usage_error(env, "--%s %s: must be from %llu to %llu", name, s,
                               (unsigned long long)lo, (unsigned long long)hi);
    *out = v;
    return CLI_OK;
}

static int parse_date_opt(struct cli_env *env, const char *name, const char *s, int32_t *out)
{
    if (!s)
        return CLI_OK;
    tl_err err = {0};
    if (tl_date_parse(s, strlen(s), out, &err) < 0)
        return cli_usage_error(env, "--%s: %s", name, err.msg);
    return CLI_OK;
}

/* The index of s in names[] (NULL-terminated), or a usage error listing them. */
static int parse_enum(struct cli_env *env, const char *name, const char *s,
                      const char *const *names, int *out)
{
    if (!s)
        return CLI_OK;
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return CLI_OK;
        }
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; names[i] && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
    return cli_usage_error(env, "--%s: unknown value \"%s\" (one of %s)", name, s, list);
}

/* A bound: a number or "none" (NaN, no bound, as PyPortfolioOpt's None). */
static bool parse_bound(const char *s, size_t len, double *out)
{
    if ((len == 4 && strncmp(s, "none", 4) == 0) || (len == 4 && strncmp(s, "None", 4) == 0)) {
        *out = NAN;
        return true;
    }
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    *out = strtod(buf, &end);
    return !errno && !*end && isfinite(*out);
}

static int parse_bounds(struct cli_env *env, const char *s, double *lo, double *hi)
{
    if (!s)
        return CLI_OK;
    const char *comma = strchr(s, ',');
    if (!comma || !parse_bound(s, (size_t)(comma - s), lo) ||
        !parse_bound(comma + 1, strlen(comma + 1), hi))
        return cli_usage_error(env, "--bounds expects LO,HI (numbers or \"none\"), got \"%s\"", s);
    if (!isnan(*lo) && !isnan(*hi) && *lo > *hi)
        return cli_usage_error(env, "--bounds %s: the lower bound is above the upper one", s);
    return CLI_OK;
}

/* ---- output helpers --------------------------------------------------------------- */

/* A JSON number, or null where there is none (jansson refuses NaN). */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Prints v and releases it, reals with 15 significant digits as the HTTP
 * answers have them: 0.03835, not 0.038350000000000002, and still within
 * 1e-15 of the computed value, far inside every reference tolerance. */
static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(v);
}

static json_t *jdate(int32_t day)
{
    char buf[16];
    if (tl_date_format(day, buf, sizeof buf) < 0)
        return json_null();
    return json_string(buf);
}

static const char *date_str(int32_t day, char *buf, size_t size)
{
    if (tl_date_format(day, buf, size) < 0)
        snprintf(buf, size, "?");
    return buf;
}

/* ---- prices ------------------------------------------------------------------------- */

/* Replaces *t by the rows dated within [from, to]. */
static int window(struct tl_pf_table **t, const char *path, int32_t from, int32_t to, tl_err *err)
{
    const struct tl_pf_table *p = *t;
    size_t a = 0, b = p->n_rows;
    while (a < b && p->days[a] < from)
        a++;
    while (b > a && p->days[b - 1] > to)
        b--;
    if (a == 0 && b == p->n_rows)
        return 0;
    if (b - a < 2) {
        char f[16], l[16];
        return tl_err_set(err, TL_EINVAL, "%s: %zu price dates within the window (%s .. %s), need 2",
                          path, b - a, date_str(p->days[0], f, sizeof f),
                          date_str(p->days[p->n_rows - 1], l, sizeof l));
    }
    struct tl_pf_table *out;
    int rc = tl_pf_table_new(b - a, p->n_assets, p->v + a * p->n_assets, p->days + a,
                             (const char *const *)p->tickers, &out, err);
    if (rc < 0)
        return rc;
    tl_pf_table_free(*t);
    *t = out;
    return 0;
}

/* The price table as the command line shapes it: window, complete rows,
 * resampling, in that order (the window is in calendar dates, so it comes
 * before resampling moves the dates to period ends). */
static int load_prices(const char *path, int32_t from, int32_t to, bool dropna, int resample,
                       struct tl_pf_table **out, tl_err *err)
{
    struct tl_pf_table *t = NULL, *o = NULL;
    int rc = tl_pf_prices_read_csv(path, 0, &t, err);
    if (rc < 0)
        return rc;
    if ((rc = window(&t, path, from, to, err)) < 0)
        goto fail;
    if (dropna) {
        if ((rc = tl_pf_table_dropna(t, 2, &o, err)) < 0) {
            tl_err_prefix(err, "%s", path);
            goto fail;
        }
        tl_pf_table_free(t);
        t = o;
    }
    if (resample) {
        if ((rc = tl_pf_prices_resample(t, (enum tl_pf_period)resample, &o, err)) < 0)
            goto fail;
        tl_pf_table_free(t);
        t = o;
    }
    *out = t;
    return 0;
fail:
    tl_pf_table_free(t);
    return rc;
}

/* ---- weights files ------------------------------------------------------------------- */

/* Reads weights: optimize --json's output (its raw_weights, which sum to one
 * exactly, else its weights) or a plain {ticker: weight} object. *out is a
 * borrowed-from-nothing new reference to an object of numbers. */
static int load_weights(const char *path, json_t **out, tl_err *err)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tl_err_set(err, TL_EPARSE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    json_t *w = json_object_get(doc, "raw_weights");
    if (!json_is_object(w))
        w = json_object_get(doc, "weights");
    if (!json_is_object(w))
        w = doc;
    if (!json_is_object(w) || json_object_size(w) == 0) {
        json_decref(doc);
        return tl_err_set(err, TL_EINVAL, "%s: the weights must be a non-empty JSON object "
                          "{ticker: weight}", path);
    }
    const char *k;
    json_t *v;
    json_object_foreach(w, k, v) {
        if (!json_is_number(v)) {
            tl_err_set(err, TL_EINVAL, "%s: the weight of \"%s\" is not a number", path, k);
            json_decref(doc);
            return TL_EINVAL;
        }
    }
    json_incref(w);
    json_decref(doc);
    *out = w;
    return 0;
}

/* ---- optimize ------------------------------------------------------------------------ */

enum ret_kind { RET_MEAN, RET_MEAN_ARITH, RET_EMA, RET_CAPM };
static const char *const RET_NAMES[] = {"mean", "mean-arith", "ema", "capm", NULL};

enum risk_kind { RISK_SAMPLE, RISK_SEMICOV, RISK_EXP, RISK_LW, RISK_LW_SF, RISK_LW_CC };
static const char *const RISK_NAMES[] = {"sample", "semicov", "exp", "ledoit-wolf",
                                         "lw-single-factor", "lw-const-corr", NULL};

enum method {
    M_MIN_VOL, M_MAX_SHARPE, M_EFF_RISK, M_EFF_RETURN, M_MAX_UTILITY, M_HRP, M_ERC, M_MIN_CVAR,
    M_MIN_CDAR, M_MIN_SEMIVAR,
};
static const char *const METHOD_NAMES[] = {
    "min-volatility", "max-sharpe", "efficient-risk", "efficient-return", "max-utility", "hrp",
    "erc", "min-cvar", "min-cdar", "min-semivariance", NULL,
};

enum measure { MEAS_VARIANCE, MEAS_CVAR, MEAS_CDAR, MEAS_SEMIVAR };
static const char *const MEASURE_NAMES[] = {"variance", "cvar", "cdar", "semivariance", NULL};

static const char *const RESAMPLE_NAMES[] = {"none", "weekly", "monthly", NULL};

struct opt_args {
    int ret, risk, method, measure, resample;
    double rf, target, gamma, delta, lo, hi, freq, beta, span, benchmark;
    int32_t from, to;
};

/* Method-specific option checks: an option the method would ignore is an error. */
static int check_method_opts(struct cli_env *env, struct opt_args *a)
{
    const char *m = METHOD_NAMES[a->method];
    bool efficient = a->method == M_EFF_RISK || a->method == M_EFF_RETURN;
    if (O.measure && !efficient && a->method != M_MAX_UTILITY)
        return cli_usage_error(env, "--measure applies to efficient-risk, efficient-return and "
                               "max-utility, not %s", m);
    if (a->method == M_MAX_UTILITY && (a->measure == MEAS_CVAR || a->measure == MEAS_CDAR))
        return cli_usage_error(env, "--measure %s: max-utility takes variance or semivariance",
                               MEASURE_NAMES[a->measure]);
    if (a->method == M_MIN_CVAR)
        a->measure = MEAS_CVAR;
    else if (a->method == M_MIN_CDAR)
        a->measure = MEAS_CDAR;
    else if (a->method == M_MIN_SEMIVAR)
        a->measure = MEAS_SEMIVAR;
    if (efficient && !O.target)
        return cli_usage_error(env, "--method %s needs --target (%s)", m,
                               a->method == M_EFF_RETURN ? "the annual return"
                               : a->measure == MEAS_VARIANCE ? "the annual volatility"
                               : a->measure == MEAS_SEMIVAR ? "the annual semideviation"
                                                            : "the per-period risk");
    if (!efficient && O.target)
        return cli_usage_error(env, "--target applies to efficient-risk and efficient-return, not %s",
                               m);
    if (O.risk_aversion && a->method != M_MAX_UTILITY)
        return cli_usage_error(env, "--risk-aversion applies to max-utility, not %s", m);
    bool tail = a->measure == MEAS_CVAR || a->measure == MEAS_CDAR;
    if (O.beta && !tail)
        return cli_usage_error(env, "--beta applies to CVaR and CDaR, not %s", m);
    if (O.risk && a->measure != MEAS_VARIANCE)
        return cli_usage_error(env, "--risk does not apply to %s: it measures risk on the "
                               "return scenarios", m);
    if (O.benchmark && a->risk != RISK_SEMICOV && a->measure != MEAS_SEMIVAR)
        return cli_usage_error(env, "--benchmark applies to --risk semicov and semivariance");
    if (O.span && a->ret != RET_EMA && a->risk != RISK_EXP)
        return cli_usage_error(env, "--span applies to --returns ema and --risk exp");
    if (O.market && a->ret != RET_CAPM)
        return cli_usage_error(env, "--market applies to --returns capm");
    if ((O.bounds || O.market_neutral || O.gamma) && (a->method == M_HRP || a->method == M_ERC))
        return cli_usage_error(env, "--%s does not apply to %s (long-only, fully invested)",
                               O.bounds ? "bounds" : O.market_neutral ? "market-neutral" : "gamma",
                               m);
    if (a->method == M_MAX_SHARPE && O.market_neutral)
        return cli_usage_error(env, "--market-neutral does not apply to max-sharpe");
    if (O.rf && tail)
        return cli_usage_error(env, "--rf does not apply to %s: CVaR and CDaR have no ratio", m);
    return CLI_OK;
}

static int market_returns(const char *path, const struct opt_args *a, struct tl_pf_table **out,
                          tl_err *err)
{
    struct tl_pf_table *m = NULL;
    int rc = load_prices(path, a->from, a->to, false, a->resample, &m, err);
    if (rc < 0)
        return rc;
    if (m->n_assets != 1) {
        rc = tl_err_set(err, TL_EINVAL, "%s: the market prices need one column, found %zu", path,
                        m->n_assets);
    } else {
        rc = tl_pf_returns(m, O.log_returns, out, err);
    }
    tl_pf_table_free(m);
    return rc;
}

static int expected_returns(const struct opt_args *a, const struct tl_pf_table *r, double *mu,
                            tl_err *err)
{
    switch ((enum ret_kind)a->ret) {
    case RET_MEAN:
        return tl_pf_mean_return(r, true, a->freq, mu, err);
    case RET_MEAN_ARITH:
        return tl_pf_mean_return(r, false, a->freq, mu, err);
    case RET_EMA:
        return tl_pf_ema_return(r, true, O.span ? a->span : 500, a->freq, mu, err);
    case RET_CAPM: {
        struct tl_pf_table *m = NULL;
        int rc = O.market ? market_returns(O.market, a, &m, err) : 0;
        if (rc == 0)
            rc = tl_pf_capm_return(r, m, a->rf, true, a->freq, mu, NULL, err);
        tl_pf_table_free(m);
        return rc;
    }
    }
    return tl_err_set(err, TL_EINTERNAL, "unknown returns kind");
}

static int risk_model(const struct opt_args *a, const struct tl_pf_table *r, double *S,
                      struct tl_pf_risk_info *info, tl_err *err)
{
    switch ((enum risk_kind)a->risk) {
    case RISK_SAMPLE:
        return tl_pf_sample_cov(r, a->freq, S, info, err);
    case RISK_SEMICOV:
        return tl_pf_semicov(r, O.benchmark ? a->benchmark : 0.000079, a->freq, S, info, err);
    case RISK_EXP:
        return tl_pf_exp_cov(r, O.span ? a->span : 180, a->freq, S, info, err);
    case RISK_LW:
        return tl_pf_ledoit_wolf(r, TL_PF_LW_CONSTANT_VARIANCE, a->freq, S, info, err);
    case RISK_LW_SF:
        return tl_pf_ledoit_wolf(r, TL_PF_LW_SINGLE_FACTOR, a->freq, S, info, err);
    case RISK_LW_CC:
        return tl_pf_ledoit_wolf(r, TL_PF_LW_CONSTANT_CORRELATION, a->freq, S, info, err);
    }
    return tl_err_set(err, TL_EINTERNAL, "unknown risk model");
}

/* The optimisation itself; perf gets (return, risk, ratio), ratio NaN for
 * CVaR and CDaR. */
static int solve(const struct opt_args *a, const struct tl_pf_table *r, const double *mu,
                 const double *S, double *w, tl_pf_perf *perf, size_t *n_scen, tl_err *err)
{
    size_t n = r->n_assets;
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.lo = a->lo;
    c.hi = a->hi;
    c.market_neutral = O.market_neutral;
    c.gamma = a->gamma;
    int rc;
    if (a->measure != MEAS_VARIANCE) {
        /* The scenarios are the return rows where every asset has a return, as
         * PyPortfolioOpt's returns.dropna() in its CVaR, CDaR and semivariance
         * setups. */
        struct tl_pf_table *sc_t = NULL;
        if ((rc = tl_pf_table_dropna(r, 2, &sc_t, err)) < 0)
            return tl_err_prefix(err, "the return scenarios (dates where every asset has a return)");
        *n_scen = sc_t->n_rows;
        double risk = NAN;
        if (a->measure == MEAS_SEMIVAR) {
            tl_pf_semi sm = {sc_t->n_rows, sc_t->v, O.benchmark ? a->benchmark : 0, a->freq};
            if (a->method == M_MIN_SEMIVAR)
                rc = tl_pf_min_semivariance(n, &sm, &c, w, err);
            else if (a->method == M_EFF_RISK)
                rc = tl_pf_semivariance_efficient_risk(n, &sm, mu, a->target, &c, w, err);
            else if (a->method == M_EFF_RETURN)
                rc = tl_pf_semivariance_efficient_return(n, &sm, mu, a->target, &c, w, err);
            else
                rc = tl_pf_semivariance_max_utility(n, &sm, mu, a->delta, &c, w, err);
            if (rc == 0)
                rc = tl_pf_semivariance_performance(n, &sm, w, mu, a->rf, perf, err);
        } else {
            tl_pf_scenarios sc = {sc_t->n_rows, sc_t->v, a->beta};
            bool cvar = a->measure == MEAS_CVAR;
            if (a->method == M_MIN_CVAR || a->method == M_MIN_CDAR)
                rc = cvar ? tl_pf_min_cvar(n, &sc, &c, w, &risk, err)
                          : tl_pf_min_cdar(n, &sc, &c, w, &risk, err);
            else if (a->method == M_EFF_RISK)
                rc = cvar ? tl_pf_cvar_efficient_risk(n, &sc, mu, a->target, &c, w, &risk, err)
                          : tl_pf_cdar_efficient_risk(n, &sc, mu, a->target, &c, w, &risk, err);
            else
                rc = cvar ? tl_pf_cvar_efficient_return(n, &sc, mu, a->target, &c, w, &risk, err)
                          : tl_pf_cdar_efficient_return(n, &sc, mu, a->target, &c, w, &risk, err);
            perf->ret = tl_pf_portfolio_return(n, w, mu);
            perf->risk = risk;
            perf->ratio = NAN;
        }
        tl_pf_table_free(sc_t);
        return rc;
    }
    switch ((enum method)a->method) {
    case M_MIN_VOL:
        rc = tl_pf_min_volatility(n, S, &c, w, err);
        break;
    case M_MAX_SHARPE:
        rc = tl_pf_max_sharpe(n, mu, S, a->rf, &c, w, err);
        break;
    case M_EFF_RISK:
        rc = tl_pf_efficient_risk(n, mu, S, a->target, &c, w, err);
        break;
    case M_EFF_RETURN:
        rc = tl_pf_efficient_return(n, mu, S, a->target, &c, w, err);
        break;
    case M_MAX_UTILITY:
        rc = tl_pf_max_quadratic_utility(n, mu, S, a->delta, &c, w, err);
        break;
    case M_HRP: {
        /* HRP clusters on the pairwise daily covariance and correlation, not
         * on the annualised risk model (DEFINITIONS 7); the risk model only
         * reports the performance. */
        double *cov = malloc(n * n * sizeof *cov), *corr = malloc(n * n * sizeof *corr);
        rc = !cov || !corr ? tl_err_set(err, TL_ENOMEM, "out of memory for HRP")
                           : tl_pf_cov_pairwise(r, cov, corr, err);
        if (rc == 0)
            rc = tl_pf_hrp(n, cov, corr, w, NULL, err);
        free(cov);
        free(corr);
        break;
    }
    case M_ERC:
        rc = tl_pf_erc(n, S, w, err);
        break;
    default:
        rc = tl_err_set(err, TL_EINTERNAL, "method %d has no variance form", a->method);
    }
    if (rc == 0)
        rc = tl_pf_performance(n, w, mu, S, a->rf, perf, err);
    return rc;
}

static const char *const *perf_fields(int measure)
{
    static const char *const var[] = {"expected_return", "volatility", "sharpe_ratio"};
    static const char *const semi[] = {"expected_return", "semideviation", "sortino_ratio"};
    static const char *const cvar[] = {"expected_return", "cvar", NULL};
    static const char *const cdar[] = {"expected_return", "cdar", NULL};
    return measure == MEAS_SEMIVAR ? semi : measure == MEAS_CVAR ? cvar
                                        : measure == MEAS_CDAR   ? cdar
                                                                 : var;
}

struct order_item {
    size_t i;
    double w;
};

static int by_weight_desc(const void *x, const void *y)
{
    const struct order_item *a = x, *b = y;
    if (fabs(a->w) != fabs(b->w))
        return fabs(a->w) < fabs(b->w) ? 1 : -1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static void print_optimize_text(const struct opt_args *a, const struct tl_pf_table *px,
                                const struct tl_pf_table *r, const double *w, const double *clean,
                                const tl_pf_perf *p, size_t n_scen, bool psd_fixed)
{
    size_t n = px->n_assets;
    char f[16], l[16];
    printf("%s on %s: %zu assets, %zu prices %s .. %s, %zu returns", METHOD_NAMES[a->method],
           O.prices, n, px->n_rows, date_str(px->days[0], f, sizeof f),
           date_str(px->days[px->n_rows - 1], l, sizeof l), r->n_rows);
    if (a->measure != MEAS_VARIANCE)
        printf(" (%zu scenarios)", n_scen);
    printf("\n  expected returns %s", RET_NAMES[a->ret]);
    if (a->measure == MEAS_VARIANCE)
        printf(", risk model %s%s", RISK_NAMES[a->risk], psd_fixed ? " (made PSD)" : "");
    else
        printf(", risk measure %s", MEASURE_NAMES[a->measure]);
    printf(", frequency %g\n\n", a->freq);
    struct order_item *ord = malloc(n * sizeof *ord);
    size_t k = 0, zeros = 0;
    for (size_t i = 0; ord && i < n; i++) {
        if (clean[i] != 0)
            ord[k++] = (struct order_item){i, w[i]};
        else
            zeros++;
    }
    if (ord)
        qsort(ord, k, sizeof *ord, by_weight_desc);
    printf("  %-12s %10s\n", "ticker", "weight");
    for (size_t j = 0; ord && j < k; j++)
        printf("  %-12s %10.5f\n", px->tickers[ord[j].i], clean[ord[j].i]);
    if (zeros)
        printf("  (%zu more at 0)\n", zeros);
    free(ord);
    printf("\n  expected return   %8.2f %%\n", 100 * p->ret);
    if (a->measure == MEAS_VARIANCE) {
        printf("  volatility        %8.2f %%\n", 100 * p->risk);
        printf("  Sharpe ratio      %8.3f (rf %.2f %%)\n", p->ratio, 100 * a->rf);
    } else if (a->measure == MEAS_SEMIVAR) {
        printf("  semideviation     %8.2f %%\n", 100 * p->risk);
        printf("  Sortino ratio     %8.3f (rf %.2f %%)\n", p->ratio, 100 * a->rf);
    } else {
        printf("  %s (beta %.2f)  %8.4f %% per period\n", a->measure == MEAS_CVAR ? "CVaR" : "CDaR",
               a->beta, 100 * p->risk);
    }
}

static json_t *optimize_json(const struct opt_args *a, const struct tl_pf_table *px,
                             const struct tl_pf_table *r, const double *w, const double *clean,
                             const tl_pf_perf *p, size_t n_scen, const struct tl_pf_risk_info *ri)
{
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string(METHOD_NAMES[a->method]));
    json_object_set_new(o, "measure", json_string(MEASURE_NAMES[a->measure]));
    json_object_set_new(o, "returns", json_string(RET_NAMES[a->ret]));
    json_object_set_new(o, "risk", a->measure == MEAS_VARIANCE ? json_string(RISK_NAMES[a->risk])
                                                               : json_null());
    json_object_set_new(o, "frequency", json_real(a->freq));
    json_object_set_new(o, "rf", json_real(a->rf));
    json_object_set_new(o, "prices", json_string(O.prices));
    json_object_set_new(o, "from", jdate(px->days[0]));
    json_object_set_new(o, "to", jdate(px->days[px->n_rows - 1]));
    json_object_set_new(o, "price_rows", json_integer((json_int_t)px->n_rows));
    json_object_set_new(o, "return_rows", json_integer((json_int_t)r->n_rows));
    if (a->measure != MEAS_VARIANCE)
        json_object_set_new(o, "scenario_rows", json_integer((json_int_t)n_scen));
    else
        json_object_set_new(o, "psd_fixed", json_boolean(ri->psd_fixed));
    json_t *cw = json_object(), *rw = json_object();
    for (size_t i = 0; i < px->n_assets; i++) {
        json_object_set_new(cw, px->tickers[i], json_real(clean[i]));
        json_object_set_new(rw, px->tickers[i], json_real(w[i]));
    }
    json_object_set_new(o, "weights", cw);
    json_object_set_new(o, "raw_weights", rw);
    const char *const *fields = perf_fields(a->measure);
    json_t *pj = json_object();
    json_object_set_new(pj, fields[0], jnum(p->ret));
    json_object_set_new(pj, fields[1], jnum(p->risk));
    if (fields[2])
        json_object_set_new(pj, fields[2], jnum(p->ratio));
    json_object_set_new(o, "performance", pj);
    return o;
}

static int portfolio_optimize(struct cli_env *env)
{
    struct opt_args a = {.ret = RET_MEAN, .risk = RISK_SAMPLE, .method = M_MAX_SHARPE,
                         .measure = MEAS_VARIANCE, .lo = 0, .hi = 1, .freq = 252, .beta = 0.95,
                         .delta = 1, .from = INT32_MIN, .to = INT32_MAX};
    int rc;
    if ((rc = parse_enum(env, "returns", O.returns, RET_NAMES, &a.ret)) != CLI_OK ||
        (rc = parse_enum(env, "risk", O.risk, RISK_NAMES, &a.risk)) != CLI_OK ||
        (rc = parse_enum(env, "method", O.method, METHOD_NAMES, &a.method)) != CLI_OK ||
        (rc = parse_enum(env, "measure", O.measure, MEASURE_NAMES, &a.measure)) != CLI_OK ||
        (rc = parse_enum(env, "resample", O.resample, RESAMPLE_NAMES, &a.resample)) != CLI_OK)
        return rc;
    if (a.resample)
        a.freq = a.resample == TL_PF_WEEKLY ? 52 : 12;
    if ((rc = parse_num(env, "rf", O.rf, -1, false, 10, false, &a.rf)) != CLI_OK ||
        (rc = parse_num(env, "target", O.target, -1e6, false, 1e6, false, &a.target)) != CLI_OK ||
        (rc = parse_num(env, "gamma", O.gamma, 0, false, 1e12, false, &a.gamma)) != CLI_OK ||
        (rc = parse_num(env, "risk-aversion", O.risk_aversion, 0, true, 1e12, false, &a.delta)) !=
            CLI_OK ||
        (rc = parse_num(env, "frequency", O.frequency, 0, true, 1e6, false, &a.freq)) != CLI_OK ||
        (rc = parse_num(env, "beta", O.beta, 0, true, 1, true, &a.beta)) != CLI_OK ||
        (rc = parse_num(env, "span", O.span, 1, false, 1e9, false, &a.span)) != CLI_OK ||
        (rc = parse_num(env, "benchmark", O.benchmark, -1, false, 10, false, &a.benchmark)) !=
            CLI_OK ||
        (rc = parse_bounds(env, O.bounds, &a.lo, &a.hi)) != CLI_OK ||
        (rc = parse_date_opt(env, "from", O.from, &a.from)) != CLI_OK ||
        (rc = parse_date_opt(env, "to", O.to, &a.to)) != CLI_OK)
        return rc;
    if (a.from > a.to)
        return cli_usage_error(env, "--from %s is after --to %s", O.from, O.to);
    if ((rc = check_method_opts(env, &a)) != CLI_OK)
        return rc;
    if (!O.prices)
        return cli_usage_error(env, "optimize needs --prices FILE.csv");

    tl_err err = {0};
    struct tl_pf_table *px = NULL, *r = NULL;
    double *mu = NULL, *S = NULL, *w = NULL, *clean = NULL;
    struct tl_pf_risk_info ri = {0};
    tl_pf_perf perf = {NAN, NAN, NAN};
    size_t n_scen = 0;
    if ((rc = load_prices(O.prices, a.from, a.to, O.dropna, a.resample, &px, &err)) < 0 ||
        (rc = tl_pf_returns(px, O.log_returns, &r, &err)) < 0)
        goto out;
    size_t n = px->n_assets;
    mu = malloc(n * sizeof *mu);
    S = malloc(n * n * sizeof *S);
    w = malloc(n * sizeof *w);
    clean = malloc(n * sizeof *clean);
    if (!mu || !S || !w || !clean) {
        rc = tl_err_set(&err, TL_ENOMEM, "out of memory for %zu assets", n);
        goto out;
    }
    if ((rc = expected_returns(&a, r, mu, &err)) < 0)
        goto out;
    if (a.measure == MEAS_VARIANCE && (rc = risk_model(&a, r, S, &ri, &err)) < 0)
        goto out;
    if ((rc = solve(&a, r, mu, S, w, &perf, &n_scen, &err)) < 0)
        goto out;
    memcpy(clean, w, n * sizeof *w);
    if ((rc = tl_pf_clean_weights(n, clean, 1e-4, 5, &err)) < 0)
        goto out;
    if (env->json)
        print_json(optimize_json(&a, px, r, w, clean, &perf, n_scen, &ri));
    else
        print_optimize_text(&a, px, r, w, clean, &perf, n_scen, ri.psd_fixed);
out:
    free(mu);
    free(S);
    free(w);
    free(clean);
    tl_pf_table_free(r);
    tl_pf_table_free(px);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* ---- allocate ------------------------------------------------------------------------- */

static int portfolio_allocate(struct cli_env *env)
{
    static const char *const ALLOC_NAMES[] = {"greedy", "integer", NULL};
    int method = 0, rc;
    double cash = 0, short_ratio = NAN;
    if ((rc = parse_enum(env, "method", O.method, ALLOC_NAMES, &method)) != CLI_OK ||
        (rc = parse_num(env, "cash", O.cash, 0, true, 1e15, false, &cash)) != CLI_OK ||
        (rc = parse_num(env, "short-ratio", O.short_ratio, 0, false, 1e3, false, &short_ratio)) !=
            CLI_OK)
        return rc;
    if (!O.weights || !O.prices || !O.cash)
        return cli_usage_error(env, "allocate needs --weights FILE.json, --prices FILE.csv and "
                               "--cash AMOUNT");
    tl_err err = {0};
    json_t *wj = NULL;
    struct tl_pf_table *px = NULL, *sel = NULL;
    const char **tick = NULL;
    double *w = NULL, *latest = NULL, left = 0, rmse = NAN;
    int64_t *sh = NULL;
    if ((rc = load_weights(O.weights, &wj, &err)) < 0 ||
        (rc = tl_pf_prices_read_csv(O.prices, 0, &px, &err)) < 0)
        goto out;
    size_t n = json_object_size(wj), i = 0;
    tick = malloc(n * sizeof *tick);
    w = malloc(n * sizeof *w);
    latest = malloc(n * sizeof *latest);
    sh = malloc(n * sizeof *sh);
    if (!tick || !w || !latest || !sh) {
        rc = tl_err_set(&err, TL_ENOMEM, "out of memory for %zu weights", n);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(wj, k, v) {
        tick[i] = k;
        w[i++] = json_number_value(v);
    }
    if ((rc = tl_pf_table_select(px, n, tick, &sel, &err)) < 0) {
        tl_err_prefix(&err, "%s (weights from %s)", O.prices, O.weights);
        goto out;
    }
    if ((rc = tl_pf_latest_prices(sel, latest, &err)) < 0)
        goto out;
    rc = method == 0 ? tl_pf_alloc_greedy(n, w, latest, cash, short_ratio, O.reinvest, sh, &left,
                                          &err)
                     : tl_pf_alloc_integer(n, w, latest, cash, short_ratio, O.reinvest, sh, &left,
                                           &err);
    if (rc < 0)
        goto out;
    if (tl_pf_alloc_rmse(n, w, latest, sh, &rmse, &err) < 0) {
        rmse = NAN; /* no shares bought at all: nothing to compare */
        tl_err_clear(&err);
    }
    double invested = 0;
    for (i = 0; i < n; i++)
        invested += (double)sh[i] * latest[i];
    char day[16];
    date_str(px->days[px->n_rows - 1], day, sizeof day);
    if (env->json) {
        json_t *o = json_object(), *al = json_object(), *pr = json_object();
        for (i = 0; i < n; i++) {
            if (sh[i] != 0)
                json_object_set_new(al, tick[i], json_integer((json_int_t)sh[i]));
            json_object_set_new(pr, tick[i], json_real(latest[i]));
        }
        json_object_set_new(o, "method", json_string(ALLOC_NAMES[method]));
        json_object_set_new(o, "cash", json_real(cash));
        json_object_set_new(o, "allocation", al);
        json_object_set_new(o, "invested", json_real(invested));
        json_object_set_new(o, "leftover", json_real(left));
        json_object_set_new(o, "rmse", jnum(rmse));
        json_object_set_new(o, "prices_date", json_string(day));
        json_object_set_new(o, "latest_prices", pr);
        print_json(o);
    } else {
        printf("%s allocation of %.2f at the latest prices (%s, last date %s)\n\n",
               ALLOC_NAMES[method], cash, O.prices, day);
        printf("  %-12s %8s %12s %12s %8s\n", "ticker", "shares", "price", "value", "weight");
        for (i = 0; i < n; i++)
            if (sh[i] != 0)
                printf("  %-12s %8lld %12.4f %12.2f %8.4f\n", tick[i], (long long)sh[i], latest[i],
                       (double)sh[i] * latest[i], w[i]);
        printf("\n  invested %.2f, leftover %.2f", invested, left);
        if (isfinite(rmse))
            printf(", weight RMSE %.5f", rmse);
        printf("\n");
    }
out:
    json_decref(wj);
    tl_pf_table_free(sel);
    tl_pf_table_free(px);
    free(tick);
    free(w);
    free(latest);
    free(sh);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* ---- backtest -------------------------------------------------------------------------- */

static int parse_rebalance(struct cli_env *env, const char *s, struct tl_pf_backtest_opts *o)
{
    if (!s || strcmp(s, "none") == 0)
        return CLI_OK;
    if (strcmp(s, "monthly") == 0)
        o->rebalance = TL_PF_REBAL_MONTHLY;
    else if (strcmp(s, "quarterly") == 0)
        o->rebalance = TL_PF_REBAL_QUARTERLY;
    else if (strcmp(s, "yearly") == 0)
        o->rebalance = TL_PF_REBAL_YEARLY;
    else if (strncmp(s, "threshold:", 10) == 0) {
        char *end = NULL;
        errno = 0;
        double x = strtod(s + 10, &end);
        if (!s[10] || errno || *end || !(x > 0 && x < 1))
            return cli_usage_error(env, "--rebalance %s: the threshold must be a weight drift in "
                                   "(0, 1), e.g. threshold:0.05", s);
        o->rebalance = TL_PF_REBAL_THRESHOLD;
        o->threshold = x;
    } else {
        char *end = NULL;
        errno = 0;
        unsigned long long k = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
        if (k == 0 || errno || *end || k > 1000000)
            return cli_usage_error(env, "--rebalance: unknown value \"%s\" (none, monthly, quarterly, "
                                   "yearly, N trading days or threshold:X)", s);
        o->rebalance = TL_PF_REBAL_EVERY_N;
        o->every_n = (size_t)k;
    }
    return CLI_OK;
}

/* Target weights over the price table's columns: tickers the weights do not
 * name get 0; a weight for a ticker the table lacks is an error. */
static int backtest_weights(const struct tl_pf_table *px, double *w, tl_err *err)
{
    size_t n = px->n_assets;
    if (strcmp(O.weights, "equal") == 0) {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0 / (double)n;
        return 0;
    }
    json_t *wj;
    int rc = load_weights(O.weights, &wj, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        w[i] = 0;
    const char *k;
    json_t *v;
    json_object_foreach(wj, k, v) {
        int col = tl_pf_table_col(px, k);
        if (col < 0) {
            rc = tl_err_set(err, TL_ENOTFOUND, "%s: weight for \"%s\", which %s has no column for",
                            O.weights, k, O.prices);
            break;
        }
        w[col] = json_number_value(v);
    }
    json_decref(wj);
    return rc;
}

static int portfolio_backtest(struct cli_env *env)
{
    struct tl_pf_backtest_opts o;
    tl_pf_backtest_opts_default(&o);
    int rc;
    if ((rc = parse_rebalance(env, O.rebalance, &o)) != CLI_OK ||
        (rc = parse_num(env, "cost-bps", O.cost_bps, 0, false, 10000, true, &o.cost_bps)) !=
            CLI_OK ||
        (rc = parse_num(env, "initial", O.initial, 0, true, 1e15, false, &o.initial)) != CLI_OK ||
        (rc = parse_num(env, "rf", O.rf, -1, false, 10, false, &o.rf)) != CLI_OK ||
        (rc = parse_date_opt(env, "from", O.from, &o.start_day)) != CLI_OK ||
        (rc = parse_date_opt(env, "to", O.to, &o.end_day)) != CLI_OK)
        return rc;
    if (O.from && O.to && o.start_day > o.end_day)
        return cli_usage_error(env, "--from %s is after --to %s", O.from, O.to);
    if (!O.prices || !O.weights)
        return cli_usage_error(env, "backtest needs --prices FILE.csv and --weights FILE.json|equal");
    tl_err err = {0};
    struct tl_pf_table *px = NULL;
    double *w = NULL;
    struct tl_pf_backtest bt = {0};
    if ((rc = tl_pf_prices_read_csv(O.prices, 0, &px, &err)) < 0)
        goto out;
    if (!(w = malloc(px->n_assets * sizeof *w))) {
        rc = tl_err_set(&err, TL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = backtest_weights(px, w, &err)) < 0 ||
        (rc = tl_pf_backtest_run(px, w, NULL, NULL, &o, &bt, &err)) < 0)
        goto out;
    const struct tl_pf_metrics *m = &bt.metrics;
    char f[16], l[16], pk[16], tr[16];
    date_str(bt.days[0], f, sizeof f);
    date_str(bt.days[bt.n - 1], l, sizeof l);
    date_str(m->dd_peak_day, pk, sizeof pk);
    date_str(m->dd_trough_day, tr, sizeof tr);
    const char *reb = O.rebalance ? O.rebalance : "none";
    if (env->json) {
        json_t *j = json_object();
        json_object_set_new(j, "from", json_string(f));
        json_object_set_new(j, "to", json_string(l));
        json_object_set_new(j, "dates", json_integer((json_int_t)bt.n));
        json_object_set_new(j, "rebalance", json_string(reb));
        json_object_set_new(j, "cost_bps", json_real(o.cost_bps));
        json_object_set_new(j, "initial", json_real(o.initial));
        json_object_set_new(j, "final_value", json_real(bt.values[bt.n - 1]));
        json_object_set_new(j, "total_return", jnum(m->total_return));
        json_object_set_new(j, "cagr", jnum(m->cagr));
        json_object_set_new(j, "years", jnum(m->years));
        json_object_set_new(j, "volatility", jnum(m->volatility));
        json_object_set_new(j, "sharpe", jnum(m->sharpe));
        json_object_set_new(j, "sortino", jnum(m->sortino));
        json_object_set_new(j, "max_drawdown", jnum(m->max_drawdown));
        json_object_set_new(j, "drawdown_peak", m->max_drawdown > 0 ? json_string(pk) : json_null());
        json_object_set_new(j, "drawdown_trough",
                            m->max_drawdown > 0 ? json_string(tr) : json_null());
        json_object_set_new(j, "calmar", jnum(m->calmar));
        json_object_set_new(j, "rebalances", json_integer((json_int_t)bt.n_rebalances));
        json_object_set_new(j, "trades", json_integer((json_int_t)bt.n_trades));
        json_object_set_new(j, "traded_value", json_real(bt.traded_value));
        json_object_set_new(j, "turnover", json_real(bt.turnover));
        json_object_set_new(j, "costs", json_real(bt.costs));
        print_json(j);
    } else {
        printf("backtest of %s on %s: %s .. %s (%zu dates), rebalance %s, costs %g bps\n\n",
               O.weights, O.prices, f, l, bt.n, reb, o.cost_bps);
        printf("  initial          %14.2f\n", o.initial);
        printf("  final value      %14.2f\n", bt.values[bt.n - 1]);
        printf("  total return     %13.2f %%\n", 100 * m->total_return);
        printf("  CAGR             %13.2f %% over %.2f years\n", 100 * m->cagr, m->years);
        printf("  volatility       %13.2f %%\n", 100 * m->volatility);
        printf("  Sharpe           %14.3f (rf %.2f %%)\n", m->sharpe, 100 * o.rf);
        printf("  Sortino          %14.3f\n", m->sortino);
        if (m->max_drawdown > 0)
            printf("  max drawdown     %13.2f %% (%s .. %s)\n", 100 * m->max_drawdown, pk, tr);
        else
            printf("  max drawdown     %13.2f %%\n", 0.0);
        printf("  Calmar           %14.3f\n", m->calmar);
        printf("  rebalances %zu, orders %zu, turnover %.4f, costs %.2f\n", bt.n_rebalances,
               bt.n_trades, bt.turnover, bt.costs);
    }
out:
    tl_pf_backtest_free(&bt);
    free(w);
    tl_pf_table_free(px);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* ---- goal -------------------------------------------------------------------------------- */

static int parse_amount(struct cli_env *env, const char *name, const char *s, const char *cur,
                        int64_t *out)
{
    if (!s)
        return CLI_OK;
    tl_err err = {0};
    if (tl_money_parse(s, strlen(s), cur, out, &err) < 0)
        return cli_usage_error(env, "--%s: %s", name, err.msg);
    if (*out < 0)
        return cli_usage_error(env, "--%s %s: must not be negative", name, s);
    return CLI_OK;
}

static json_t *jmoney(int64_t minor, const char *cur)
{
    char buf[48];
    return tl_money_format(minor, cur, buf, sizeof buf) < 0 ? json_null() : json_string(buf);
}

/* The inputs of a goal run, so that a JSON answer says what it answers. */
static json_t *goal_json(const struct tl_pf_goal *g, const char *cur)
{
    json_t *o = json_object();
    json_object_set_new(o, "currency", json_string(cur));
    json_object_set_new(o, "amount", jmoney(g->current_minor, cur));
    json_object_set_new(o, "target", jmoney(g->target_minor, cur));
    json_object_set_new(o, "months", json_integer(g->horizon_months));
    json_object_set_new(o, "paths", json_integer((json_int_t)g->n_paths));
    json_object_set_new(o, "seed", json_integer((json_int_t)g->seed));
    return o;
}

static json_t *goal_result_json(const struct tl_pf_goal_result *r, const char *cur)
{
    static const double pcts[] = TL_PF_GOAL_PCTS;
    char buf[48];
    json_t *o = json_object(), *p = json_object();
    json_object_set_new(o, "p_success", json_real(r->p_success));
    json_object_set_new(o, "p_se", json_real(r->p_se));
    for (int i = 0; i < TL_PF_GOAL_N_PCT; i++) {
        char key[24];
        snprintf(key, sizeof key, "p%g", pcts[i]);
        tl_money_format(r->final_pct[i], cur, buf, sizeof buf);
        json_object_set_new(p, key, json_string(buf));
    }
    json_object_set_new(o, "final_percentiles", p);
    tl_money_format(r->final_mean, cur, buf, sizeof buf);
    json_object_set_new(o, "final_mean", json_string(buf));
    return o;
}

static int portfolio_goal(struct cli_env *env)
{
    struct tl_pf_goal g;
    tl_pf_goal_default(&g);
    const char *cur = O.currency ? O.currency : "USD";
    if (!tl_currency_valid(cur))
        return cli_usage_error(env, "--currency: unknown currency \"%s\"", cur);
    const char *target = O.target;
    if (!target || !O.months)
        return cli_usage_error(env, "goal needs --target AMOUNT and --months N");
    uint64_t months = 0, glide = 0, paths = g.n_paths, seed = g.seed;
    double prob = NAN;
    int64_t max_monthly = -1;
    int rc;
    if ((rc = parse_amount(env, "amount", O.amount, cur, &g.current_minor)) != CLI_OK ||
        (rc = parse_amount(env, "monthly", O.monthly, cur, &g.contribution_minor)) != CLI_OK ||
        (rc = parse_amount(env, "target", target, cur, &g.target_minor)) != CLI_OK ||
        (rc = parse_amount(env, "max-monthly", O.max_monthly, cur, &max_monthly)) != CLI_OK ||
        (rc = parse_count(env, "months", O.months, 0, TL_PF_GOAL_MAX_MONTHS, &months)) != CLI_OK ||
        (rc = parse_count(env, "glide-months", O.glide_months, 0, TL_PF_GOAL_MAX_MONTHS, &glide)) !=
            CLI_OK ||
        (rc = parse_count(env, "paths", O.paths, 1, TL_PF_GOAL_MAX_PATHS, &paths)) != CLI_OK ||
        (rc = parse_count(env, "seed", O.seed, 0, UINT64_MAX, &seed)) != CLI_OK ||
        (rc = parse_num(env, "mu", O.mu, -1, true, 10, false, &g.risky.mu)) != CLI_OK ||
        (rc = parse_num(env, "sigma", O.sigma, 0, false, 10, false, &g.risky.sigma)) != CLI_OK ||
        (rc = parse_num(env, "safe-mu", O.safe_mu, -1, true, 10, false, &g.safe.mu)) != CLI_OK ||
        (rc = parse_num(env, "safe-sigma", O.safe_sigma, 0, false, 10, false, &g.safe.sigma)) !=
            CLI_OK ||
        (rc = parse_num(env, "rho", O.rho, -1, false, 1, false, &g.rho)) != CLI_OK ||
        (rc = parse_num(env, "risky-start", O.risky_start, 0, false, 1, false, &g.risky_start)) !=
            CLI_OK ||
        (rc = parse_num(env, "risky-end", O.risky_end, 0, false, 1, false, &g.risky_end)) !=
            CLI_OK ||
        (rc = parse_num(env, "probability", O.probability, 0, true, 1, true, &prob)) != CLI_OK)
        return rc;
    if (g.target_minor <= 0)
        return cli_usage_error(env, "--target %s: must be above 0", target);
    if (O.max_monthly && !O.probability)
        return cli_usage_error(env, "--max-monthly applies with --probability");
    if (O.probability && O.monthly)
        return cli_usage_error(env, "--probability solves for the monthly contribution: drop "
                               "--monthly");
    g.horizon_months = (int32_t)months;
    g.glide_months = (int32_t)glide;
    g.n_paths = (size_t)paths;
    g.seed = seed;
    if (max_monthly < 0)
        max_monthly = g.target_minor;
    tl_err err = {0};
    char a[48], b[48], c[48];
    tl_money_format(g.current_minor, cur, a, sizeof a);
    tl_money_format(g.target_minor, cur, c, sizeof c);
    if (O.probability) {
        struct tl_pf_goal_solve s;
        if (tl_pf_goal_solve_contribution(&g, prob, max_monthly, &s, &err) < 0)
            return cli_fail(env, &err);
        tl_money_format(s.contribution_minor, cur, b, sizeof b);
        if (env->json) {
            json_t *o = goal_json(&g, cur);
            json_object_set_new(o, "probability", json_real(prob));
            json_object_set_new(o, "monthly_needed", json_string(b));
            json_object_set_new(o, "p_achieved", json_real(s.p_achieved));
            json_object_set_new(o, "p_below", json_real(s.p_below));
            json_object_set_new(o, "result", goal_result_json(&s.result, cur));
            print_json(o);
        } else {
            printf("to reach %s %s in %d months from %s with probability %.1f %% (%zu paths):\n",
                   c, cur, g.horizon_months, a, 100 * prob, g.n_paths);
            printf("  monthly contribution %s %s (probability %.2f %%, one cent less %.2f %%)\n", b,
                   cur, 100 * s.p_achieved, 100 * (s.p_below < 0 ? 0 : s.p_below));
        }
        return CLI_OK;
    }
    struct tl_pf_goal_result r;
    if (tl_pf_goal_simulate(&g, &r, &err) < 0)
        return cli_fail(env, &err);
    if (env->json) {
        json_t *o = goal_json(&g, cur);
        json_object_set_new(o, "monthly", jmoney(g.contribution_minor, cur));
        json_object_set_new(o, "result", goal_result_json(&r, cur));
        print_json(o);
        return CLI_OK;
    }
    tl_money_format(g.contribution_minor, cur, b, sizeof b);
    printf("%s %s now, %s %s a month for %d months, target %s %s (%zu paths):\n", a, cur, b, cur,
           g.horizon_months, c, cur, g.n_paths);
    printf("  probability of reaching it %.2f %% (+/- %.2f)\n", 100 * r.p_success, 100 * r.p_se);
    static const double pcts[] = TL_PF_GOAL_PCTS;
    for (int i = 0; i < TL_PF_GOAL_N_PCT; i++) {
        tl_money_format(r.final_pct[i], cur, b, sizeof b);
        printf("  percentile %-5g %16s %s\n", pcts[i], b, cur);
    }
    tl_money_format(r.final_mean, cur, b, sizeof b);
    printf("  mean             %16s %s\n", b, cur);
    return CLI_OK;
}

int cli_cmd_portfolio(struct cli_env *env)
{
    static const struct {
        const char *name;
        unsigned mask;
        int (*run)(struct cli_env *);
    } subs[] = {
        {"optimize", SUB_OPT, portfolio_optimize},
        {"allocate", SUB_ALLOC, portfolio_allocate},
        {"backtest", SUB_BT, portfolio_backtest},
        {"goal", SUB_GOAL, portfolio_goal},
    };
    const char *sub = env->args[0];
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name) != 0)
            continue;
        int rc = check_applies(env, sub, subs[i].mask);
        return rc != CLI_OK ? rc : subs[i].run(env);
    }
    return cli_usage_error(env, "unknown subcommand \"%s\" (optimize, allocate, backtest, goal)", sub);
}
