/*
 * generate_accounts.c - pass B: credit outcomes, then accounts.csv,
 * holdings.csv and applications.csv.
 *
 * Whether an approved loan defaulted within 12 months is drawn through a
 * logistic link from a latent risk: the customer's hidden fragility, what
 * the bureau showed (debt-to-income, delinquencies, employment, income) and
 * how the customer actually behaved in the simulated transactions (months
 * overdrawn, volatility of spending). A model sees all but the fragility
 * and the noise, which keeps the best achievable AUC near 0.8.
 */
#include "generate_internal.h"

#include <stdlib.h>

#define DAYS_PER_MONTH 30.436875

static const char *const TYPE_NAMES[] = {"current", "savings",  "deposit",   "credit_card",
                                         "loan",    "mortgage", "investment"};
static const char *const STATUS_NAMES[] = {"open", "closed", "frozen"};
static const char *const APP_STATUS_NAMES[] = {"pending", "approved", "declined", "withdrawn"};

/* Behaviour seen in the transactions: share of months with an overdraft
 * and the coefficient of variation of monthly spending. */
static void behaviour(const struct gen_cust *c, double *od_share, double *spend_cv)
{
    double months = c->active_months > 0 ? c->active_months : 1;
    *od_share = gen_clamp(c->od_months / (months + 1.0), 0, 1);
    double mean = c->active_months ? c->spend_sum / c->active_months : 0;
    double var = c->active_months ? c->spend_sq / c->active_months - mean * mean : 0;
    *spend_cv = mean > 1 && var > 0 ? sqrt(var) / mean : 0.3;
}

double tl__gen_default_logit(const struct gen_cust *c, const struct gen_app *a)
{
    double od, cv;
    behaviour(c, &od, &cv);
    double income = (double)a->income_minor;
    double dti = gen_clamp((double)a->debt_minor / income, 0, 4);
    int cat = tl__gen_products[a->product].category;
    double load = (double)a->amount_minor / income *
                  (cat == GEN_C_CREDIT_CARD ? 0.3
                   : cat == GEN_C_MORTGAGE  ? 0.12
                   : cat == GEN_C_AUTO_LOAN ? 0.6
                                            : 1.0);
    double product = cat == GEN_C_CREDIT_CARD     ? 0.15
                     : cat == GEN_C_PERSONAL_LOAN ? 0.35
                     : cat == GEN_C_MORTGAGE      ? -0.6
                                                  : 0.0;
    return -3.6 + 0.55 * c->fragility + 1.0 * dti + 0.3 * gen_clamp(a->delinquencies, 0, 6) + 1.6 * od +
           1.2 * gen_clamp(cv - 0.3, -0.3, 1.5) - 0.45 * log(income / 100.0 / 45000.0) -
           0.03 * gen_clamp(a->employment_years, 0, 25) + 0.3 * gen_clamp(load, 0, 3) + product;
}

static void outcomes(struct gen_world *w)
{
    for (size_t k = 0; k < w->apps.n; k++) {
        struct gen_app *a = &w->apps.v[k];
        a->defaulted = -1;
        /* known only for approved loans with a full year behind them */
        if (a->status != GEN_AP_APPROVED || a->applied_day > w->end_day - 365)
            continue;
        struct gen_rng r;
        tl__gen_rng_seed(&r, w->seed, GEN_S_APPS, k);
        const struct gen_cust *c = &w->cust[a->cust];
        double x = tl__gen_default_logit(c, a) + 0.4 * tl__gen_normal(&r);
        a->defaulted = gen_chance(&r, gen_sigmoid(x)) ? 1 : 0;
        /* a defaulted loan still running sits with collections */
        if (a->defaulted && a->account != GEN_NO_INDEX && w->accounts.v[a->account].status == GEN_AS_OPEN)
            w->accounts.v[a->account].status = GEN_AS_FROZEN;
    }
}

static int64_t loan_balance(const struct gen_world *w, const struct gen_account *a)
{
    if (a->status == GEN_AS_CLOSED)
        return 0;
    int k = (int)((w->end_day - a->opened_day) / DAYS_PER_MONTH);
    double rm = tl__gen_products[a->product].rate_bp / 10000.0 / 12.0;
    int n = a->term_months;
    if (k >= n)
        return 0;
    double g = pow(1.0 + rm, k);
    double b = (double)a->limit_minor * g - (double)a->payment_minor * (g - 1.0) / rm;
    return b > 0 ? -(int64_t)llround(b) : 0;
}

static int64_t end_balance(const struct gen_world *w, const struct gen_cust *c, uint32_t k)
{
    const struct gen_account *a = &w->accounts.v[k];
    uint32_t off = k - c->acct_first;
    switch (a->type) {
    case GEN_AT_CURRENT: return c->cur_minor;
    case GEN_AT_SAVINGS: return (int)off == c->acct_sav ? c->sav_minor : 0;
    case GEN_AT_CREDIT_CARD: return (int)off == c->acct_card ? c->card_minor : 0;
    case GEN_AT_LOAN:
    case GEN_AT_MORTGAGE: return loan_balance(w, a);
    case GEN_AT_DEPOSIT: return a->balance_minor;
    default: return 0; /* an investment account's securities are in holdings.csv */
    }
}

static void put_product(struct gen_out *o, int product)
{
    if (product != UINT8_MAX)
        gen_put_id(o, "P", (uint64_t)product + 1, 3);
}

int tl__gen_write_accounts(struct gen_world *w, tl_err *err)
{
    outcomes(w);
    struct gen_out o, ho;
    int rc = tl__gen_out_open(&o, w->out_dir, "accounts", err);
    if (rc < 0)
        return rc;
    rc = tl__gen_out_open(&ho, w->out_dir, "holdings", err);
    if (rc < 0) {
        tl__gen_out_close(&o, NULL);
        return rc;
    }
    for (uint32_t ci = 0; ci < w->n_customers; ci++) {
        const struct gen_cust *c = &w->cust[ci];
        for (uint32_t k = c->acct_first; k < c->acct_first + c->n_acct; k++) {
            const struct gen_account *a = &w->accounts.v[k];
            gen_need(&o, GEN_ROW_MAX);
            gen_put_id(&o, "A", (uint64_t)k + 1, 7);
            gen_sep(&o);
            gen_put_id(&o, "C", (uint64_t)ci + 1, 6);
            gen_sep(&o);
            put_product(&o, a->product);
            gen_sep(&o);
            gen_puts(&o, TYPE_NAMES[a->type]);
            gen_puts(&o, ",EUR,");
            gen_put_money(&o, end_balance(w, c, k));
            gen_sep(&o);
            if (a->limit_minor)
                gen_put_money(&o, a->limit_minor);
            gen_sep(&o);
            tl__gen_put_ts(&o, gen_local_ts(w, a->opened_day, a->opened_sec));
            gen_sep(&o);
            gen_puts(&o, STATUS_NAMES[a->status]);
            gen_eol(&o);
        }
        for (uint32_t k = c->hold_first; k < c->hold_first + c->n_hold; k++) {
            const struct gen_holding *h = &w->holdings.v[k];
            const struct gen_product *p = &tl__gen_products[h->product];
            gen_need(&ho, GEN_ROW_MAX);
            gen_put_id(&ho, "H", (uint64_t)k + 1, 7);
            gen_sep(&ho);
            gen_put_id(&ho, "C", (uint64_t)ci + 1, 6);
            gen_sep(&ho);
            put_product(&ho, h->product);
            gen_sep(&ho);
            if (h->account != GEN_NO_INDEX)
                gen_put_id(&ho, "A", (uint64_t)h->account + 1, 7);
            gen_puts(&ho, ",EUR,");
            gen_put_money(&ho, h->value_minor);
            gen_sep(&ho);
            if (p->nav > 0)
                tl__gen_put_fixed(&ho, (double)h->value_minor / 100.0 / p->nav, 4);
            gen_sep(&ho);
            tl__gen_put_ts(&ho, gen_local_ts(w, h->opened_day, h->opened_sec));
            gen_eol(&ho);
        }
        if ((ci & 1023) == 1023)
            tl__gen_progress(w, 1024);
    }
    tl__gen_progress(w, w->n_customers & 1023);
    w->rows[GEN_TB_ACCOUNTS] = o.rows;
    w->rows[GEN_TB_HOLDINGS] = ho.rows;
    rc = tl__gen_out_close(&o, err);
    int rc2 = tl__gen_out_close(&ho, rc < 0 ? NULL : err);
    return rc < 0 ? rc : rc2;
}

int tl__gen_write_applications(struct gen_world *w, tl_err *err)
{
    struct gen_out o;
    int rc = tl__gen_out_open(&o, w->out_dir, "applications", err);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < w->apps.n; k++) {
        const struct gen_app *a = &w->apps.v[k];
        gen_need(&o, GEN_ROW_MAX);
        gen_put_id(&o, "L", (uint64_t)k + 1, 7);
        gen_sep(&o);
        gen_put_id(&o, "C", (uint64_t)a->cust + 1, 6);
        gen_sep(&o);
        put_product(&o, a->product);
        gen_sep(&o);
        tl__gen_put_ts(&o, gen_local_ts(w, a->applied_day, a->applied_sec));
        gen_puts(&o, ",EUR,");
        gen_put_money(&o, a->amount_minor);
        gen_sep(&o);
        if (a->term_months)
            gen_put_u64(&o, (uint64_t)a->term_months);
        gen_sep(&o);
        gen_puts(&o, tl__gen_loan_purposes[a->purpose]);
        gen_sep(&o);
        gen_put_money(&o, a->income_minor);
        gen_sep(&o);
        gen_put_money(&o, a->debt_minor);
        gen_sep(&o);
        gen_put_u64(&o, a->employment_years);
        gen_sep(&o);
        gen_put_u64(&o, a->delinquencies);
        gen_sep(&o);
        gen_puts(&o, APP_STATUS_NAMES[a->status]);
        gen_sep(&o);
        if (a->defaulted >= 0)
            gen_putc(&o, a->defaulted ? '1' : '0');
        gen_eol(&o);
    }
    w->rows[GEN_TB_APPLICATIONS] = o.rows;
    return tl__gen_out_close(&o, err);
}
