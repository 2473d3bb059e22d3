/*
 * advisor.c - advice: the customer's risk profile -> a target mix by asset
 * class (a table per profile, or efficient risk under the profile's
 * volatility cap) -> the bank's suitable funds and ETFs (never above the
 * profile's risk level, never one the customer is not eligible for) ->
 * weights and amounts -> a projection and a goal plan (pf_plan.h's Monte
 * Carlo with a glide path) -> reasons in plain language. Stored in advice.
 *
 * The assumptions (the mix per profile, the volatility caps, the
 * correlations between asset classes) are tables here and in
 * docs/advice.md; a change to them is a new ADVICE_MODEL version, so that a
 * stored or journaled piece of advice always says which assumptions made it.
 */
#include "advisor_internal.h"

#include <teller/audit.h>
#include <teller/config.h>
#include <teller/datetime.h>
#include <teller/money.h>
#include <teller/pf_optimize.h>
#include <teller/pf_plan.h>

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADVICE_MODEL_VERSION "advice-v1"
#define MAX_PRODUCTS 1000
#define PLAN_PROB 0.80
#define PLAN_PATHS 10000
#define PLAN_SEED 42
#define GLIDE_MONTHS 36
#define GLIDE_END_SHARE 0.2
#define PROJECTION_MONTHS 120

enum asset {
    A_CASH = 0,
    A_BOND,
    A_MIXED,
    A_EQUITY,
    A_REAL_ESTATE,
    A_COMMODITY,
    A_COUNT,
};
static_assert(A_COUNT == ADV_N_CLASSES, "one correlation row per asset class");

static const char *const ASSET_NAMES[A_COUNT] = {"cash", "bond", "mixed", "equity", "real_estate",
                                                 "commodity"};
static const char *const ASSET_WORDS[A_COUNT] = {"cash", "bonds", "mixed funds", "equities",
                                                 "real estate", "commodities"};

/* Target mix per profile, percent (rows sum to 100): cautious profiles hold
 * cash and bonds, adventurous ones mostly equities, with small real-estate
 * and commodity shares for diversification from profile 3 on. */
/* clang-format off */
static const int TARGET_PCT[5][A_COUNT] = {
    /* cash bond mixed equity re comm */
    {40, 60,  0,  0, 0, 0},
    {20, 50, 15, 15, 0, 0},
    {10, 35, 20, 25, 5, 5},
    { 5, 20, 15, 50, 5, 5},
    { 0, 10, 10, 70, 5, 5},
};
/* clang-format on */

/* The optimizer's annual volatility cap per profile. */
static const double VOL_CAP[5] = {0.03, 0.06, 0.09, 0.13, 0.18};

/* Long-run correlations between asset classes (symmetric); two different
 * products of one class correlate ADV_SAME_CLASS_CORR. Every cross-class figure
 * is below the within-class one, which keeps the product-level matrix
 * positive definite however many products each class has. */
/* clang-format off */
const double tl__advice_class_corr[ADV_N_CLASSES][ADV_N_CLASSES] = {
    /*          cash  bond  mixed equity re    comm */
    /* cash */ {1.00, 0.10, 0.05, 0.00, 0.00, 0.00},
    /* bond */ {0.10, 1.00, 0.50, 0.10, 0.30, 0.10},
    /* mixed */{0.05, 0.50, 1.00, 0.80, 0.50, 0.20},
    /* equity*/{0.00, 0.10, 0.80, 1.00, 0.60, 0.20},
    /* re */   {0.00, 0.30, 0.50, 0.60, 1.00, 0.20},
    /* comm */ {0.00, 0.10, 0.20, 0.20, 0.20, 1.00},
};
/* clang-format on */

struct product {
    char id[65];
    char name[201];
    char category[24];
    char currency[4];
    enum asset asset;
    int risk;
    bool has_figures;
    double mu, sigma; /* annual, from expected_return_bp and volatility_bp */
    int64_t min_age, max_age, min_income;
    bool has_max_age;
};

struct catalogue {
    struct product *p;
    size_t n, cap;
    bool too_many;
};

static int asset_of(const char *s)
{
    for (int a = 0; a < A_COUNT; a++)
        if (strcmp(s, ASSET_NAMES[a]) == 0)
            return a;
    return -1;
}

static int on_product(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct catalogue *c = ud;
    if (n < 11 || v[0].type != TL_VAL_TEXT)
        return 0;
    int a = v[3].type == TL_VAL_TEXT ? asset_of(v[3].s) : -1;
    if (a < 0)
        return 0; /* "none" or no asset class: nothing an allocation can hold */
    if (c->n == MAX_PRODUCTS) {
        c->too_many = true;
        return 1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct product *p = realloc(c->p, cap * sizeof *p);
        if (!p) {
            c->too_many = true; /* reported as out of memory below */
            return 1;
        }
        c->p = p, c->cap = cap;
    }
    struct product *p = &c->p[c->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", v[0].s);
    snprintf(p->name, sizeof p->name, "%s", v[1].type == TL_VAL_TEXT ? v[1].s : "");
    snprintf(p->category, sizeof p->category, "%s", v[2].type == TL_VAL_TEXT ? v[2].s : "");
    p->asset = (enum asset)a;
    p->risk = v[4].type == TL_VAL_INT ? (int)v[4].i : 5;
    snprintf(p->currency, sizeof p->currency, "%s", v[5].type == TL_VAL_TEXT ? v[5].s : "");
    p->min_age = v[6].type == TL_VAL_INT ? v[6].i : 0;
    p->has_max_age = v[7].type == TL_VAL_INT;
    p->max_age = p->has_max_age ? v[7].i : 0;
    p->min_income = v[8].type == TL_VAL_INT ? v[8].i : 0;
    p->has_figures = v[9].type == TL_VAL_INT && v[10].type == TL_VAL_INT;
    if (p->has_figures) {
        p->mu = (double)v[9].i / 1e4;
        p->sigma = (double)v[10].i / 1e4;
    }
    return 0;
}

struct customer {
    bool found;
    char birth[16];
    char currency[4];
    int64_t income;
    bool has_income;
};

static int on_customer(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct customer *c = ud;
    c->found = true;
    if (n >= 3) {
        if (v[0].type == TL_VAL_TEXT)
            snprintf(c->birth, sizeof c->birth, "%s", v[0].s);
        if (v[1].type == TL_VAL_TEXT)
            snprintf(c->currency, sizeof c->currency, "%s", v[1].s);
        if (v[2].type == TL_VAL_INT)
            c->income = v[2].i, c->has_income = true;
    }
    return 1;
}

/* Whole years between a YYYY-MM-DD birth date and the day of now_ms; -1
 * when the date does not parse. */
static int age_years(const char *birth, int64_t now_ms)
{
    int32_t bd;
    tl_err e = {0};
    if (!birth[0] || tl_date_parse(birth, strlen(birth), &bd, &e) < 0)
        return -1;
    return tl_age_years(bd, now_ms / 86400000);
}

/* ---- the request ------------------------------------------------------------- */

struct request {
    const json_t *answers;
    const char *currency;
    const char *method;
    int64_t amount, monthly, goal;
    bool has_goal;
    int32_t by_day;
    const char *by;
};

static int money_member(const json_t *req, const char *name, const char *cur, int64_t *minor,
                        bool *present, tl_err *err)
{
    *present = false;
    *minor = 0;
    const json_t *v = json_object_get(req, name);
    if (!v || json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (!s)
        return tl_err_set(err, TL_EINVAL, "field %s: a decimal string such as \"1200.00\" expected",
                          name);
    if (tl_money_parse(s, strlen(s), cur, minor, err) < 0)
        return tl_err_prefix(err, "field %s", name);
    if (*minor < 0)
        return tl_err_set(err, TL_EINVAL, "field %s: \"%s\" is negative", name, s);
    if (*minor > (int64_t)1e15)
        return tl_err_set(err, TL_EINVAL, "field %s: \"%s\" is beyond what advice handles", name, s);
    *present = true;
    return 0;
}

static const char *const REQ_MEMBERS[] = {"answers", "amount", "monthly", "goal",
                                          "by",      "currency", "method", NULL};

static int parse_request(const json_t *req, const char *cust_currency, int64_t now_ms,
                         const char *default_method, struct request *r, tl_err *err)
{
    memset(r, 0, sizeof *r);
    if (req && !json_is_object(req))
        return tl_err_set(err, TL_EINVAL, "the advice request must be a JSON object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)req, k, v) {
        bool known = false;
        for (size_t i = 0; REQ_MEMBERS[i]; i++)
            known = known || strcmp(k, REQ_MEMBERS[i]) == 0;
        if (!known)
            return tl_err_set(err, TL_EINVAL, "field %.64s: unknown (the request takes answers, "
                              "amount, monthly, goal, by, currency and method)", k);
    }
    r->answers = json_object_get(req, "answers");
    if (r->answers && json_is_null(r->answers))
        r->answers = NULL;
    const json_t *cur = json_object_get(req, "currency");
    r->currency = cust_currency;
    if (cur && !json_is_null(cur)) {
        r->currency = json_string_value(cur);
        if (!r->currency || !tl_currency_valid(r->currency))
            return tl_err_set(err, TL_EINVAL, "field currency: an ISO 4217 code expected");
    }
    const json_t *m = json_object_get(req, "method");
    r->method = default_method && *default_method ? default_method : "table";
    if (m && !json_is_null(m))
        r->method = json_string_value(m);
    if (!r->method || (strcmp(r->method, "table") != 0 && strcmp(r->method, "optimize") != 0))
        return tl_err_set(err, TL_EINVAL, "%s: \"table\" or \"optimize\" expected",
                          m && !json_is_null(m) ? "field method" : "advice.method");
    bool has;
    int rc = money_member(req, "amount", r->currency, &r->amount, &has, err);
    if (rc == 0)
        rc = money_member(req, "monthly", r->currency, &r->monthly, &has, err);
    if (rc == 0)
        rc = money_member(req, "goal", r->currency, &r->goal, &r->has_goal, err);
    if (rc < 0)
        return rc;
    const json_t *by = json_object_get(req, "by");
    if (by && !json_is_null(by)) {
        r->by = json_string_value(by);
        if (!r->by || tl_date_parse(r->by, strlen(r->by), &r->by_day, err) < 0)
            return tl_err_set(err, TL_EINVAL, "field by: a date YYYY-MM-DD expected");
        if (!r->has_goal)
            return tl_err_set(err, TL_EINVAL, "field by: a goal date needs a goal amount (goal)");
    }
    if (r->has_goal && !r->by)
        return tl_err_set(err, TL_EINVAL, "field goal: a goal amount needs its date (by)");
    if (r->has_goal && r->goal == 0)
        return tl_err_set(err, TL_EINVAL, "field goal: must be more than zero");
    if (r->by && r->by_day <= now_ms / 86400000 + 27)
        return tl_err_set(err, TL_EINVAL, "field by: %s is not at least a month from today",
                          r->by);
    return 0;
}

/* ---- weights ------------------------------------------------------------------ */

/* S[n*n] (annual covariance) of the chosen products idx[0..n). */
static void covariance(const struct product *p, const size_t *idx, size_t n, double *S)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            const struct product *a = &p[idx[i]], *b = &p[idx[j]];
            double rho = i == j                ? 1.0
                         : a->asset == b->asset ? ADV_SAME_CLASS_CORR
                                                : tl__advice_class_corr[a->asset][b->asset];
            S[i * n + j] = rho * a->sigma * b->sigma;
        }
}

/* The table method: each class's target share (classes without a suitable
 * product get none, their share spread over the others in proportion),
 * held in the class's TABLE_PER_CLASS products with the best return per
 * unit of volatility ((mu - 2 %) / sigma), split between them by inverse
 * volatility. A portfolio of a dozen near-identical funds is no better
 * diversified and harder to follow. */
#define TABLE_PER_CLASS 2
#define TABLE_RF 0.02

static double ratio(const struct product *p)
{
    return (p->mu - TABLE_RF) / fmax(p->sigma, 0.005);
}

static void table_weights(const struct product *p, const size_t *idx, size_t n, int profile,
                          double *w, double *target, bool *dropped)
{
    bool keep_[MAX_PRODUCTS];
    bool *keep = keep_;
    for (size_t i = 0; i < n; i++) {
        size_t better = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i && p[idx[j]].asset == p[idx[i]].asset &&
                (ratio(&p[idx[j]]) > ratio(&p[idx[i]]) ||
                 (ratio(&p[idx[j]]) == ratio(&p[idx[i]]) && j < i)))
                better++;
        keep[i] = better < TABLE_PER_CLASS;
    }
    bool present[A_COUNT] = {false};
    for (size_t i = 0; i < n; i++)
        present[p[idx[i]].asset] = true;
    double sum = 0;
    for (int a = 0; a < A_COUNT; a++) {
        double t = TARGET_PCT[profile - 1][a] / 100.0;
        dropped[a] = t > 0 && !present[a];
        target[a] = present[a] ? t : 0;
        sum += target[a];
    }
    if (sum <= 0) {
        /* only classes the table gives nothing: equal shares of those */
        size_t k = 0;
        for (int a = 0; a < A_COUNT; a++)
            k += present[a];
        for (int a = 0; a < A_COUNT; a++)
            target[a] = present[a] ? 1.0 / (double)k : 0;
    } else {
        for (int a = 0; a < A_COUNT; a++)
            target[a] /= sum;
    }
    double inv[A_COUNT] = {0};
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            inv[p[idx[i]].asset] += 1.0 / fmax(p[idx[i]].sigma, 0.005);
    for (size_t i = 0; i < n; i++) {
        const struct product *q = &p[idx[i]];
        w[i] = keep[i] ? target[q->asset] * (1.0 / fmax(q->sigma, 0.005)) / inv[q->asset] : 0;
    }
}

/* The optimize method: the highest expected return whose volatility is
 * within the profile's cap, at most 40 % in one product (when there are
 * three or more); below the lowest volatility the products allow, the
 * minimum-volatility portfolio. */
static int optimize_weights(const struct product *p, const size_t *idx, size_t n, int profile,
                            double *w, bool *at_min_vol, tl_err *err)
{
    double *mu = malloc(n * sizeof *mu), *S = malloc(n * n * sizeof *S);
    if (!mu || !S) {
        free(mu);
        free(S);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        mu[i] = p[idx[i]].mu;
    covariance(p, idx, n, S);
    tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;
    c.hi = n >= 3 ? 0.4 : 1.0;
    int rc = 0;
    *at_min_vol = false;
    if (n == 1) {
        w[0] = 1;
    } else {
        rc = tl_pf_min_volatility(n, S, &c, w, err);
        tl_pf_perf perf;
        if (rc == 0)
            rc = tl_pf_performance(n, w, mu, S, 0, &perf, err);
        if (rc == 0 && perf.risk >= VOL_CAP[profile - 1])
            *at_min_vol = true;
        else if (rc == 0)
            rc = tl_pf_efficient_risk(n, mu, S, VOL_CAP[profile - 1], &c, w, err);
    }
    free(mu);
    free(S);
    if (rc < 0)
        return tl_err_prefix(err, "optimizing the portfolio");
    /* the solver's tiny negatives and dust: none below 0.5 % */
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < 0.005)
            w[i] = 0;
        sum += w[i];
    }
    for (size_t i = 0; i < n; i++)
        w[i] /= sum;
    return 0;
}

/* ---- output helpers --------------------------------------------------------- */

static json_t *money_json(int64_t minor, const char *cur)
{
    char buf[48];
    if (tl_money_format(minor, cur, buf, sizeof buf) < 0)
        return json_null();
    return json_string(buf);
}

static void money_text(int64_t minor, const char *cur, char *buf, size_t size)
{
    char m[48];
    if (tl_money_format(minor, cur, m, sizeof m) < 0)
        snprintf(m, sizeof m, "%lld", (long long)minor);
    snprintf(buf, size, "%s %s", m, cur);
}

static void add_reason(json_t *reasons, const char *fmt, ...) TL_PRINTF(2, 3);
static void add_reason(json_t *reasons, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(reasons, json_string(buf));
}

static double r4(double x)
{
    return round(x * 1e4) / 1e4;
}

/* ---- projection and plan ------------------------------------------------------- */

struct portfolio {
    double mu, sigma;   /* the advised mix */
    double safe_mu, safe_sigma, rho;
    const struct product *safe;
};

static json_t *pct_json(const struct tl_pf_goal_result *res, const char *cur)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "p5", money_json(res->final_pct[0], cur), "p25",
                     money_json(res->final_pct[1], cur), "p50", money_json(res->final_pct[2], cur),
                     "p75", money_json(res->final_pct[3], cur), "p95",
                     money_json(res->final_pct[4], cur), "mean", money_json(res->final_mean, cur));
}

static int project(const struct portfolio *pf, const struct request *r, int64_t now_ms,
                   json_t *out, json_t *reasons, tl_err *err)
{
    const char *cur = r->currency;
    struct tl_pf_goal g;
    tl_pf_goal_default(&g);
    g.current_minor = r->amount;
    g.contribution_minor = r->monthly;
    g.risky = (struct tl_pf_asset_class){.mu = pf->mu, .sigma = pf->sigma};
    g.safe = (struct tl_pf_asset_class){.mu = pf->safe_mu, .sigma = pf->safe_sigma};
    g.rho = pf->rho;
    g.n_paths = PLAN_PATHS;
    g.seed = PLAN_SEED;
    char a[64], b[64], c[64];

    /* the projection: ten years of the advised mix, or to the goal date */
    int32_t months = PROJECTION_MONTHS;
    if (r->has_goal) {
        int32_t today = (int32_t)(now_ms / 86400000);
        months = (int32_t)floor((r->by_day - today) / 30.436875);
        if (months > TL_PF_GOAL_MAX_MONTHS)
            return tl_err_set(err, TL_EINVAL, "field by: %s is more than %d years away", r->by,
                              TL_PF_GOAL_MAX_MONTHS / 12);
        if (months < 1)
            months = 1;
        g.glide_months = months < GLIDE_MONTHS ? months : GLIDE_MONTHS;
        g.risky_start = 1.0;
        g.risky_end = GLIDE_END_SHARE;
    }
    g.horizon_months = months;
    g.target_minor = r->has_goal ? r->goal : (r->amount + r->monthly * months > 0
                                                  ? r->amount + r->monthly * months
                                                  : 1);
    struct tl_pf_goal_result res;
    int rc = tl_pf_goal_simulate(&g, &res, err);
    if (rc < 0)
        return tl_err_prefix(err, "projecting the portfolio");
    int64_t paid = r->amount + r->monthly * months;
    json_object_set_new(out, "projection",
                        json_pack("{s:i,s:o,s:o,s:I,s:I}", "months", months, "paid_in",
                                  money_json(paid, cur), "value", pct_json(&res, cur), "paths",
                                  (json_int_t)PLAN_PATHS, "seed", (json_int_t)PLAN_SEED));
    if (paid > 0) {
        money_text(paid, cur, a, sizeof a);
        money_text(res.final_pct[2], cur, b, sizeof b);
        money_text(res.final_pct[0], cur, c, sizeof c);
        add_reason(reasons,
                   "Over %d months, paying in %s in all, the portfolio's value is %s in the middle "
                   "case; in the worst 5 %% of %d simulated markets it is below %s.",
                   months, a, b, PLAN_PATHS, c);
    }
    if (!r->has_goal) {
        json_object_set_new(out, "plan", json_null());
        return 0;
    }
    struct tl_pf_goal_solve sol;
    tl_err e2 = {0};
    int src = tl_pf_goal_solve_contribution(&g, PLAN_PROB, r->goal, &sol, &e2);
    json_t *plan = json_pack("{s:o,s:s,s:i,s:o,s:f,s:f,s:o,s:o,s:{s:s?,s:i,s:f}}", "goal",
                             money_json(r->goal, cur), "by", r->by, "months", months, "monthly",
                             money_json(r->monthly, cur), "probability", r4(res.p_success),
                             "probability_se", r4(res.p_se), "contribution_for_80",
                             src == 0 ? money_json(sol.contribution_minor, cur) : json_null(),
                             "probability_at_that",
                             src == 0 ? json_real(r4(sol.p_achieved)) : json_null(), "glide",
                             "into", pf->safe ? pf->safe->id : NULL, "months", g.glide_months,
                             "end_share", GLIDE_END_SHARE);
    json_object_set_new(out, "plan", plan);
    money_text(r->goal, cur, a, sizeof a);
    money_text(r->monthly, cur, b, sizeof b);
    add_reason(reasons, "With %s a month, the chance of reaching %s by %s is %.0f %%.", b, a, r->by,
               100 * res.p_success);
    if (src == 0) {
        money_text(sol.contribution_minor, cur, c, sizeof c);
        add_reason(reasons, "%s a month would give an %.0f %% chance (%.0f %% in the simulation).",
                   c, 100 * PLAN_PROB, 100 * sol.p_achieved);
    } else {
        add_reason(reasons, "Even paying the whole goal in every month would not give an %.0f %% "
                   "chance of reaching it by then: a later date or a smaller goal is needed.",
                   100 * PLAN_PROB);
    }
    if (pf->safe)
        add_reason(reasons,
                   "The plan assumes moving gradually into %s over the last %d months before the "
                   "goal date, down to %.0f %% in the advised mix, so that a late fall does less "
                   "harm.",
                   pf->safe->name, g.glide_months, 100 * GLIDE_END_SHARE);
    return 0;
}

/* ---- advice ----------------------------------------------------------------------- */

static const char *risk_words(int r)
{
    static const char *const W[] = {"very low", "low", "medium", "high", "very high"};
    return r >= 1 && r <= 5 ? W[r - 1] : "unknown";
}

static int build(tl_ctx *ctx, const char *customer_id, const struct customer *cu,
                 const struct request *r, const json_t *profile, int64_t now_ms, json_t **out,
                 char digest[65], tl_err *err)
{
    int prof = (int)json_integer_value(json_object_get(profile, "profile"));
    if (prof < 1 || prof > 5)
        return tl_err_set(err, TL_EINTERNAL, "the risk profile holds no level from 1 to 5");
    const char *cur = r->currency;
    struct catalogue cat = {0};
    int rc = tl_store_exec(tl_ctx_store(ctx),
                           "SELECT id, name, category, asset_class, risk_level, currency, min_age,"
                           " max_age, min_income_minor, expected_return_bp, volatility_bp"
                           " FROM products WHERE category IN ('fund', 'etf') ORDER BY id",
                           0, NULL, on_product, &cat, err);
    if (rc == 0 && cat.too_many)
        rc = cat.n < MAX_PRODUCTS ? tl_err_set(err, TL_ENOMEM, "out of memory")
                                  : tl_err_set(err, TL_ETOOBIG, "the catalogue has more than %d "
                                               "funds and ETFs", MAX_PRODUCTS);
    if (rc < 0) {
        free(cat.p);
        return rc;
    }
    int age = age_years(cu->birth, now_ms);
    size_t *idx = malloc((cat.n + 1) * sizeof *idx);
    double *w = malloc((cat.n + 1) * sizeof *w);
    double *S = NULL;
    json_t *o = json_object(), *reasons = json_array(), *prods = json_array();
    if (!idx || !w || !o || !reasons || !prods) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto done;
    }
    /* suitability first (risk level), then eligibility, then usability */
    size_t n = 0, above = 0, inelig = 0, nofig = 0;
    for (size_t i = 0; i < cat.n; i++) {
        const struct product *p = &cat.p[i];
        if (p->risk > prof) {
            above++;
            continue;
        }
        bool ok = strcmp(p->currency, cur) == 0 && age >= 0 && age >= p->min_age &&
                  (!p->has_max_age || age <= p->max_age);
        if (ok && p->min_income > 0)
            ok = cu->has_income && strcmp(cu->currency, p->currency) == 0 &&
                 cu->income >= p->min_income;
        if (!ok) {
            inelig++;
            continue;
        }
        if (!p->has_figures) {
            nofig++;
            continue;
        }
        idx[n++] = i;
    }
    add_reason(reasons, "%s", json_string_value(json_object_get(profile, "explanation")));
    json_t *contra = json_object_get(profile, "contradictions");
    size_t ci;
    json_t *cv;
    json_array_foreach(contra, ci, cv)
        add_reason(reasons, "Please check: %s", json_string_value(json_object_get(cv, "text")));
    add_reason(reasons,
               "Only the bank's funds and ETFs with a risk level of %d or less are proposed: %zu "
               "of %zu qualify (%zu above your risk level, %zu you are not eligible for by age, "
               "income or currency%s).",
               prof, n, cat.n, above, inelig,
               nofig ? ", and some without published return and volatility figures" : "");

    double target[A_COUNT] = {0};
    bool dropped[A_COUNT] = {false}, at_min_vol = false;
    if (n > 0) {
        if (strcmp(r->method, "optimize") == 0)
            rc = optimize_weights(cat.p, idx, n, prof, w, &at_min_vol, err);
        else
            table_weights(cat.p, idx, n, prof, w, target, dropped);
        if (rc < 0)
            goto done;
        if (strcmp(r->method, "optimize") == 0)
            for (size_t i = 0; i < n; i++)
                target[cat.p[idx[i]].asset] += w[i];
    }
    /* drop products the weighting left out, then amounts rounded down */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0)
            idx[m] = idx[i], w[m++] = w[i];
    n = m;
    /* weights to six decimals, the rounding's residue on the largest, so
     * that what is shown adds up to 1 */
    double wsum = 0;
    for (size_t i = 0; i < n; i++)
        wsum += w[i];
    size_t big = 0;
    double rsum = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = round(w[i] / wsum * 1e6) / 1e6;
        rsum += w[i];
        big = w[i] > w[big] ? i : big;
    }
    if (n > 0)
        w[big] = round((w[big] + 1.0 - rsum) * 1e6) / 1e6;
    int64_t invested = 0;
    struct portfolio pf = {0};
    if (n > 0) {
        S = malloc(n * n * sizeof *S);
        if (!S) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto done;
        }
        covariance(cat.p, idx, n, S);
        double var = 0;
        size_t safe = 0;
        for (size_t i = 0; i < n; i++) {
            pf.mu += w[i] * cat.p[idx[i]].mu;
            for (size_t j = 0; j < n; j++)
                var += w[i] * S[i * n + j] * w[j];
            if (cat.p[idx[i]].sigma < cat.p[idx[safe]].sigma)
                safe = i;
        }
        pf.sigma = sqrt(fmax(var, 0));
        pf.safe = &cat.p[idx[safe]];
        pf.safe_mu = pf.safe->mu;
        pf.safe_sigma = pf.safe->sigma;
        double cov_ps = 0;
        for (size_t i = 0; i < n; i++)
            cov_ps += w[i] * S[i * n + safe];
        pf.rho = pf.sigma > 0 && pf.safe_sigma > 0 ? cov_ps / (pf.sigma * pf.safe_sigma) : 0;
        pf.rho = fmax(-1.0, fmin(1.0, pf.rho));
    }
    if (n > 0 && strcmp(r->method, "table") == 0) {
        char mix[300] = "";
        for (int a = 0; a < A_COUNT; a++)
            if (TARGET_PCT[prof - 1][a] > 0) {
                size_t l = strlen(mix);
                snprintf(mix + l, sizeof mix - l, "%s%d %% %s", l ? ", " : "",
                         TARGET_PCT[prof - 1][a], ASSET_WORDS[a]);
            }
        add_reason(reasons, "The target mix for a %s profile is %s.", tl_advice_profile_label(prof),
                   mix);
        for (int a = 0; a < A_COUNT; a++)
            if (dropped[a])
                add_reason(reasons,
                           "No suitable fund holds %s for you, so its %d %% is spread over the "
                           "other classes in proportion.",
                           ASSET_WORDS[a], TARGET_PCT[prof - 1][a]);
    } else if (n > 0) {
        add_reason(reasons,
                   at_min_vol ? "No mix of the suitable funds stays within the %.0f %% volatility "
                                "a %s profile allows, so the least volatile mix is proposed."
                              : "The mix is the one with the highest expected return whose "
                                "volatility stays within the %.0f %% a %s profile allows.",
                   100 * VOL_CAP[prof - 1], tl_advice_profile_label(prof));
    }
    for (size_t i = 0; i < n; i++) {
        const struct product *p = &cat.p[idx[i]];
        int64_t amt = (int64_t)floor((double)r->amount * w[i]);
        invested += amt;
        char reason[600];
        snprintf(reason, sizeof reason,
                 "%s: %s, risk level %d of 5 (%s), expected return %.1f %% a year with "
                 "volatility %.1f %%, and you are eligible for it.",
                 p->name, ASSET_WORDS[p->asset], p->risk, risk_words(p->risk), 100 * p->mu,
                 100 * p->sigma);
        json_array_append_new(prods,
                              json_pack("{s:s,s:s,s:s,s:s,s:i,s:f,s:o,s:o,s:f,s:f,s:s}", "id",
                                        p->id, "name", p->name, "category", p->category,
                                        "asset_class", ASSET_NAMES[p->asset], "risk_level",
                                        p->risk, "weight", w[i], "amount", money_json(amt, cur),
                                        "monthly",
                                        money_json((int64_t)floor((double)r->monthly * w[i]), cur),
                                        "expected_return", p->mu, "volatility", p->sigma,
                                        "reason", reason));
    }
    json_t *tj = json_object();
    for (int a = 0; a < A_COUNT; a++)
        json_object_set_new(tj, ASSET_NAMES[a], json_real(r4(target[a])));
    json_object_set_new(o, "suitable", json_boolean(n > 0));
    json_object_set_new(o, "target", tj);
    json_object_set_new(o, "products", prods);
    prods = NULL;
    json_object_set_new(o, "amount", money_json(r->amount, cur));
    json_object_set_new(o, "invested", money_json(invested, cur));
    json_object_set_new(o, "leftover", money_json(r->amount - invested, cur));
    json_object_set_new(o, "monthly", money_json(r->monthly, cur));
    json_object_set_new(o, "excluded", json_pack("{s:I,s:I,s:I}", "above_risk_level",
                                                 (json_int_t)above, "not_eligible",
                                                 (json_int_t)inelig, "no_figures",
                                                 (json_int_t)nofig));
    if (n == 0) {
        add_reason(reasons,
                   "None of the bank's funds and ETFs suits you: none has a risk level of %d or "
                   "less that you are eligible for in %s. No investment is proposed; savings "
                   "accounts and deposits may suit you better.",
                   prof, cur);
        json_object_set_new(o, "expected_return", json_null());
        json_object_set_new(o, "volatility", json_null());
        json_object_set_new(o, "projection", json_null());
        json_object_set_new(o, "plan", json_null());
    } else {
        json_object_set_new(o, "expected_return", json_real(r4(pf.mu)));
        json_object_set_new(o, "volatility", json_real(r4(pf.sigma)));
        add_reason(reasons, "The portfolio's expected return is %.1f %% a year with a volatility "
                   "of %.1f %%.", 100 * r4(pf.mu), 100 * r4(pf.sigma));
        if (r->amount - invested > 0) {
            char lt[64];
            money_text(r->amount - invested, cur, lt, sizeof lt);
            add_reason(reasons, "%s is left over after rounding each amount down to the cent.", lt);
        }
        if ((rc = project(&pf, r, now_ms, o, reasons, err)) < 0)
            goto done;
    }
    json_object_set_new(o, "reasons", reasons);
    reasons = NULL;

    /* the digest: everything the advice was computed from */
    json_t *cands = json_array();
    for (size_t i = 0; cands && i < cat.n; i++) {
        const struct product *p = &cat.p[i];
        json_array_append_new(cands, json_pack("{s:s,s:s,s:i,s:s,s:f,s:f}", "id", p->id, "asset",
                                               ASSET_NAMES[p->asset], "risk", p->risk, "currency",
                                               p->currency, "mu", p->mu, "sigma", p->sigma));
    }
    char day[16];
    tl_date_format((int32_t)(now_ms / 86400000), day, sizeof day);
    json_t *in = json_pack("{s:s,s:s,s:s,s:O,s:s,s:I,s:I,s:I,s:s?,s:s,s:i,s:o?,s:s,s:o}", "model",
                           ADVICE_MODEL_VERSION, "customer_id", customer_id, "method", r->method,
                           "profile", profile, "currency", cur, "amount", (json_int_t)r->amount,
                           "monthly", (json_int_t)r->monthly, "goal", (json_int_t)r->goal, "by",
                           r->by, "day", day, "age", age, "income",
                           cu->has_income ? json_integer(cu->income) : NULL, "income_currency",
                           cu->currency, "catalogue", cands);
    rc = in ? tl__advice_digest(in, digest, err) : tl_err_set(err, TL_ENOMEM, "out of memory");
    json_decref(in);
    if (rc < 0)
        goto done;
    *out = o;
    o = NULL;
done:
    json_decref(o);
    json_decref(reasons);
    json_decref(prods);
    free(S);
    free(idx);
    free(w);
    free(cat.p);
    return rc;
}

int tl_advice_give(tl_ctx *ctx, const char *customer_id, const json_t *req, json_t **out,
                   tl_err *err)
{
    if (!customer_id || !*customer_id || strlen(customer_id) > 64)
        return tl_err_set(err, TL_EINVAL, "customer id: 1 to 64 characters expected");
    struct customer cu = {0};
    tl_value p1[] = {TL_TEXT(customer_id)};
    int rc = tl_store_exec(tl_ctx_store(ctx),
                           "SELECT birth_date, currency, annual_income_minor FROM customers"
                           " WHERE id = ?",
                           1, p1, on_customer, &cu, err);
    if (rc < 0)
        return rc;
    if (!cu.found)
        return tl_err_set(err, TL_ENOTFOUND, "no customer with id \"%s\"", customer_id);
    int64_t now = tl_time_now_ms();
    struct request r;
    if ((rc = parse_request(req, cu.currency, now,
                            tl_config_get(tl_ctx_config(ctx), "advice.method"), &r, err)) < 0)
        return rc;
    json_t *profile = NULL;
    if (r.answers)
        rc = tl_advice_assess(ctx, customer_id, r.answers, &profile, err);
    else if ((rc = tl__advice_latest_profile(ctx, customer_id, &profile, err)) == 0 && !profile)
        rc = tl_err_set(err, TL_EINVAL, "customer \"%s\" has no risk profile yet: give the "
                        "questionnaire's answers", customer_id);
    if (rc < 0)
        return rc;
    json_t *o = NULL;
    char digest[65];
    rc = build(ctx, customer_id, &cu, &r, profile, now, &o, digest, err);
    if (rc < 0) {
        json_decref(profile);
        return rc;
    }
    char id[48];
    tl__advice_new_id("adv", id, sizeof id);
    char created[40];
    tl_time_format(now, created, sizeof created);
    const char *qv = json_string_value(json_object_get(profile, "questionnaire"));
    char model[96];
    snprintf(model, sizeof model, "%s/%s", ADVICE_MODEL_VERSION, r.method);
    json_t *head = json_pack("{s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:s}", "id", id, "customer_id",
                             customer_id, "created_at", created, "profile", profile, "model", model,
                             "questionnaire", qv ? qv : "", "method", r.method, "currency",
                             r.currency);
    if (!head) {
        json_decref(o);
        json_decref(profile);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    json_object_update(head, o);
    json_decref(o);
    json_object_set_new(head, "inputs_digest", json_string(digest));
    char *text = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *rp = json_string_value(json_object_get(profile, "id"));
    if (!text) {
        json_decref(head);
        json_decref(profile);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    tl_value v[] = {
        TL_TEXT(id), TL_TEXT(customer_id), TL_INT(now), rp ? TL_TEXT(rp) : TL_NULLV,
        TL_INT(json_integer_value(json_object_get(profile, "profile"))), TL_TEXT(model),
        TL_TEXT(qv ? qv : ""), TL_TEXT(digest), TL_TEXT(r.currency), TL_INT(r.amount),
        TL_TEXT(text),
    };
    rc = tl_store_exec(tl_ctx_store(ctx),
                       "INSERT INTO advice (id, customer_id, created_ms, risk_profile_id, profile,"
                       " model, questionnaire, inputs_digest, currency, amount_minor, output)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       sizeof v / sizeof v[0], v, NULL, NULL, err);
    free(text);
    json_decref(profile);
    if (rc < 0) {
        json_decref(head);
        return tl_err_prefix(err, "storing the advice");
    }
    *out = head;
    return 0;
}

/* ---- the journal --------------------------------------------------------------- */

char *tl_advice_audit_details(const json_t *res)
{
    json_t *det = json_object();
    if (!det)
        return NULL;
    const char *keys[] = {"id", "profile", "tolerance", "capacity", "capped_by_capacity",
                          "contradictions", "questionnaire", "suitable", "method", "currency",
                          "amount", "invested", "leftover", "expected_return", "volatility"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(res, keys[i]);
        if (!v)
            continue;
        if (strcmp(keys[i], "profile") == 0 && json_is_object(v))
            v = json_object_get(v, "profile"); /* advice: the level only */
        if (strcmp(keys[i], "contradictions") == 0) {
            json_t *ids = json_array();
            size_t k;
            json_t *c;
            json_array_foreach(v, k, c)
                json_array_append(ids, json_object_get(c, "id"));
            json_object_set_new(det, keys[i], ids);
            continue;
        }
        json_object_set(det, keys[i], v);
    }
    json_t *prods = json_object_get(res, "products");
    if (prods) {
        json_t *pw = json_array();
        size_t k;
        json_t *p;
        json_array_foreach(prods, k, p)
            json_array_append_new(pw, json_pack("{s:O,s:O,s:O}", "id", json_object_get(p, "id"),
                                                "weight", json_object_get(p, "weight"), "amount",
                                                json_object_get(p, "amount")));
        json_object_set_new(det, "products", pw);
    }
    json_t *plan = json_object_get(res, "plan");
    if (json_is_object(plan))
        json_object_set_new(det, "plan_probability",
                            json_deep_copy(json_object_get(plan, "probability")));
    char *s = json_dumps(det, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(det);
    return s;
}

int tl_advice_journal(tl_ctx *ctx, const char *actor, const char *role, const char *action,
                      const char *resource, const json_t *res, tl_err *err)
{
    char *details = tl_advice_audit_details(res);
    if (!details)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    struct tl_audit_event ev = {
        .actor = actor,
        .role = role,
        .action = action,
        .resource = resource,
        .customer_id = json_string_value(json_object_get(res, "customer_id")),
        .model_version = json_string_value(json_object_get(res, "model")),
        .inputs_digest = json_string_value(json_object_get(res, "inputs_digest")),
        .details = details,
    };
    int rc = tl_audit_append(ctx, &ev, err);
    free(details);
    return rc;
}
