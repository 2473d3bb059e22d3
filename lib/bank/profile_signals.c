/*
 * profile_signals.c - reading a profile out of a customer's state: the
 * recurring streams that are income and fixed costs, the monthly averages,
 * the life signals with their evidence; then the snapshot parts read from
 * the store (balances, products, tenure, age, segment) and the JSON form.
 *
 * Nothing here changes a state: a profile is a view, and two views of one
 * state are identical.
 */
#include "profile_internal.h"

#include <teller/datetime.h>
#include <teller/money.h>
#include <teller/store.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *const KIND_NAMES[PF_K_COUNT] = {
    "card", "salary", "transfer_in", "transfer_out", "bill",
    "rent", "atm",    "fee",         "interest",     "loan_payment"};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* median of v[0..n) (sorted in place); the lower middle for even n keeps
 * integers exact */
static int64_t median(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_i64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool mortgage_words(const char *d)
{
    static const char *const words[] = {"BAUFINANZ", "HYPOTHEK", "MORTGAGE", "IMMOBILIENKREDIT",
                                        "PRET IMMO", "HIPOTECA", "MUTUO"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w]);
        for (const char *p = d; *p; p++) {
            size_t i = 0;
            while (i < n && p[i] && toupper((unsigned char)p[i]) == words[w][i])
                i++;
            if (i == n)
                return true;
        }
    }
    return false;
}

/* The type of a recurring debit, for people to read. */
static const char *debit_type(const struct pf_stream *st)
{
    if (st->kind == PF_K_RENT)
        return "rent";
    if (st->kind == PF_K_LOAN_PAYMENT)
        return mortgage_words(st->desc) ? "mortgage" : "loan";
    if (st->kind == PF_K_CARD)
        return st->mcc == 7997 ? "fitness" : "subscription";
    int m = st->mcc;
    if (m == 4900 || m < 0)
        return "utilities";
    if ((m >= 4812 && m <= 4816) || m == 4899)
        return "telecom";
    if ((m >= 6300 && m <= 6399) || m == 5960)
        return "insurance";
    if (m == 7997)
        return "fitness";
    return "bill";
}

/* Whether a stream recurs over the last (up to) six complete months of
 * [from, to], and its median monthly total over the months it was seen. */
static bool recurring(const struct pf_state *s, const struct pf_stream *st, int32_t from, int32_t to,
                      bool exempt_amounts, int64_t *monthly, int *seen)
{
    *monthly = 0;
    *seen = 0;
    if (to == 0)
        return false;
    int32_t lo = to - 5 > from ? to - 5 : from;
    int w = (int)(to - lo + 1);
    int64_t tot[6];
    size_t n = 0;
    for (int32_t m = lo; m <= to; m++) {
        size_t slot = (size_t)(m % PF_RING);
        if (s->ring[slot].month == m && st->count[slot] > 0)
            tot[n++] = st->amount_minor[slot];
    }
    *seen = (int)n;
    if (n == 0)
        return false;
    int64_t sorted[6];
    memcpy(sorted, tot, n * sizeof *tot);
    *monthly = median(sorted, n);
    int need = w >= 3 ? 3 : 2;
    if (exempt_amounts) /* the bank says it is salary: one month is enough */
        return true;
    if ((int)n < need)
        return false;
    size_t similar = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = tot[i] - *monthly;
        if (d < 0)
            d = -d;
        if (d * 4 <= *monthly)
            similar++;
    }
    return similar * 3 >= n * 2;
}

static int cmp_recurring(const void *a, const void *b)
{
    const struct tl_profile_recurring *x = a, *y = b;
    if (x->monthly_minor != y->monthly_minor)
        return x->monthly_minor < y->monthly_minor ? 1 : -1;
    return strcmp(x->description, y->description);
}

static void fmt_money(int64_t minor, const char *cur, char *buf, size_t cap)
{
    if (tl_money_format(minor, cur, buf, cap) < 0)
        snprintf(buf, cap, "%lld", (long long)minor);
}

static void fmt_date(int64_t ms, char *buf, size_t cap)
{
    char t[40];
    if (tl_time_format(ms, t, sizeof t) < 0)
        snprintf(t, sizeof t, "?");
    copy_str(buf, cap < 11 ? cap : 11, t);
}

static void month_text(int32_t m, char out[8])
{
    if (m <= 0) {
        out[0] = '\0';
        return;
    }
    snprintf(out, 8, "%04d-%02d", (int)(m / 12) % 10000, (int)(m % 12) + 1);
}

static void add_signal(struct tl_profile *p, const char *kind, const struct pf_first *f,
                       const char *text)
{
    if (p->n_signals >= TL_PROFILE_MAX_SIGNALS)
        return;
    struct tl_profile_signal *g = &p->signals[p->n_signals++];
    copy_str(g->kind, sizeof g->kind, kind);
    g->first_ms = f->first_ms;
    g->last_ms = f->last_ms;
    g->count = f->count;
    g->total_minor = f->total_minor;
    copy_str(g->evidence_tx, sizeof g->evidence_tx, f->tx_id);
    copy_str(g->evidence, sizeof g->evidence, text);
}

static void signals(const struct pf_state *s, struct tl_profile *p)
{
    const char *cur = s->currency;
    int32_t start = s->last_month ? tl__pf_month_of(s->first_ms) : 0;
    char amt[48], date[16], text[400];
    /* new payments: their first one came two or more months into the
     * history, so they began while we watched */
    static const struct {
        int sig;
        const char *kind, *what;
    } NEW[] = {{PF_SIG_RENT, "new_rent", "rent payment"},
               {PF_SIG_MORTGAGE, "new_mortgage", "mortgage payment"},
               {PF_SIG_LOAN, "new_loan", "loan payment"}};
    for (size_t i = 0; i < sizeof NEW / sizeof NEW[0]; i++) {
        const struct pf_first *f = &s->sig[NEW[i].sig];
        if (f->count == 0 || tl__pf_month_of(f->first_ms) < start + 2)
            continue;
        fmt_money(f->amount_minor, cur, amt, sizeof amt);
        fmt_date(f->first_ms, date, sizeof date);
        snprintf(text, sizeof text, "first %s \"%s\" of %s %s on %s; %u since", NEW[i].what, f->desc,
                 amt, cur, date, f->count);
        add_signal(p, NEW[i].kind, f, text);
    }
    const struct pf_first *c = &s->sig[PF_SIG_CHILDREN];
    if (c->count >= 2) {
        fmt_money(c->total_minor, cur, amt, sizeof amt);
        fmt_date(c->first_ms, date, sizeof date);
        snprintf(text, sizeof text,
                 "%u payments for children or education since %s, %s %s in all; first at \"%s\"",
                 c->count, date, amt, cur, c->desc);
        add_signal(p, "children", c, text);
    }
    const struct pf_first *t = &s->sig[PF_SIG_TRAVEL];
    if (t->count >= 1) {
        char where[64] = "";
        size_t o = 0;
        for (uint32_t i = 0; i < s->n_countries && o + 4 < sizeof where; i++)
            o += (size_t)snprintf(where + o, sizeof where - o, "%s%s", i ? ", " : "", s->countries[i]);
        fmt_money(t->total_minor, cur, amt, sizeof amt);
        fmt_date(t->first_ms, date, sizeof date);
        snprintf(text, sizeof text,
                 "%u travel or foreign payments since %s, %s %s in all%s%s%s; first at \"%s\"", t->count,
                 date, amt, cur, o ? " (abroad: " : "", where, o ? ")" : "", t->desc);
        add_signal(p, "travel", t, text);
    }
}

void tl__pf_summarize(const struct pf_state *s, struct tl_profile *p)
{
    copy_str(p->currency, sizeof p->currency, s->currency);
    p->as_of_ms = s->n_tx ? s->wm_ms : 0;
    p->n_transactions = s->n_tx;
    int32_t from, to;
    tl__pf_window(s, &from, &to);
    p->months = to ? (int)(to - from + 1) : 0;
    month_text(to ? from : 0, p->window_from);
    month_text(to, p->window_to);

    int64_t credits = 0, tout = 0, cat[TL_CAT_COUNT] = {0};
    uint64_t ch[TL_CH_COUNT] = {0}, ch_total = 0;
    for (int32_t m = from; to && m <= to; m++) {
        const struct pf_month *mo = &s->ring[m % PF_RING];
        if (mo->month != m)
            continue;
        credits += mo->credits_minor;
        tout += mo->transfers_out_minor;
        for (int k = 0; k < TL_CAT_COUNT; k++)
            cat[k] += mo->spend_minor[k];
        for (int k = 0; k < TL_CH_COUNT; k++) {
            ch[k] += mo->channel[k];
            ch_total += mo->channel[k];
        }
    }
    int64_t months = p->months ? p->months : 1;
    p->spending_monthly_minor = 0;
    for (int k = 0; k < TL_CAT_COUNT; k++) {
        int64_t v = cat[k] > 0 ? cat[k] / months : 0;
        p->spending_by_category_minor[k] = v;
        p->spending_monthly_minor += v;
    }
    p->transfers_out_monthly_minor = tout / months;
    for (int k = 0; k < TL_CH_COUNT; k++)
        p->channel_share[k] = ch_total ? (double)ch[k] / (double)ch_total : 0;

    /* income and fixed costs from the recurring streams */
    struct tl_profile_recurring inc[PF_MAX_STREAMS], fix[PF_MAX_STREAMS];
    size_t n_inc = 0, n_fix = 0;
    for (uint32_t i = 0; i < s->n_streams; i++) {
        const struct pf_stream *st = &s->streams[i];
        int64_t monthly;
        int seen;
        bool credit = st->sign > 0;
        if (credit && st->kind == PF_K_INTEREST)
            continue;
        if (!credit && st->kind == PF_K_TRANSFER_OUT)
            continue; /* savings orders and card bills move money, they cost nothing */
        if (!recurring(s, st, from, to, credit && st->kind == PF_K_SALARY, &monthly, &seen))
            continue;
        struct tl_profile_recurring *r = credit ? &inc[n_inc++] : &fix[n_fix++];
        memset(r, 0, sizeof *r);
        copy_str(r->description, sizeof r->description, st->desc);
        copy_str(r->kind, sizeof r->kind, KIND_NAMES[st->kind]);
        copy_str(r->type, sizeof r->type,
                 credit ? (st->kind == PF_K_SALARY ? "salary" : "regular_income") : debit_type(st));
        r->mcc = st->mcc;
        r->monthly_minor = monthly;
        r->months_seen = seen;
        r->first_ms = st->first_ms;
        r->last_ms = st->last_ms;
    }
    qsort(inc, n_inc, sizeof *inc, cmp_recurring);
    qsort(fix, n_fix, sizeof *fix, cmp_recurring);
    p->income_monthly_minor = 0;
    for (size_t i = 0; i < n_inc; i++)
        p->income_monthly_minor += inc[i].monthly_minor;
    p->income_found = n_inc > 0;
    p->n_income = n_inc < TL_PROFILE_MAX_INCOME ? n_inc : TL_PROFILE_MAX_INCOME;
    memcpy(p->income, inc, p->n_income * sizeof *inc);
    p->fixed_costs_monthly_minor = 0;
    for (size_t i = 0; i < n_fix; i++)
        p->fixed_costs_monthly_minor += fix[i].monthly_minor;
    p->n_fixed = n_fix < TL_PROFILE_MAX_RECURRING ? n_fix : TL_PROFILE_MAX_RECURRING;
    memcpy(p->fixed, fix, p->n_fixed * sizeof *fix);
    int64_t credits_monthly = credits / months;
    p->other_credits_monthly_minor =
        credits_monthly > p->income_monthly_minor ? credits_monthly - p->income_monthly_minor : 0;

    int64_t base = p->income_found ? p->income_monthly_minor : credits_monthly;
    p->savings_rate_known = p->months > 0 && base > 0;
    p->savings_rate =
        p->savings_rate_known ? (double)(base - p->spending_monthly_minor) / (double)base : 0;

    p->n_signals = 0;
    signals(s, p);
}

/* Month-end liquid balances of the window rebuilt backwards from the
 * balance now, then their least-squares slope and the spread around it. */
static void balance_path(const struct pf_state *s, struct tl_profile *p)
{
    p->balance_trend_minor_per_month = 0;
    p->balance_volatility_minor = 0;
    int32_t from, to;
    tl__pf_window(s, &from, &to);
    if (!to || to - from < 1)
        return;
    double bal[PF_RING];
    int n = 0;
    for (int32_t m = from; m <= to; m++) {
        int64_t after = 0;
        for (int32_t k = m + 1; k <= s->last_month; k++) {
            const struct pf_month *mo = &s->ring[k % PF_RING];
            if (mo->month == k)
                after += mo->liquid_net_minor;
        }
        bal[n++] = (double)(p->balance_minor - after);
    }
    double mx = (n - 1) / 2.0, my = 0;
    for (int i = 0; i < n; i++)
        my += bal[i];
    my /= n;
    double sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        sxy += (i - mx) * (bal[i] - my);
        sxx += (i - mx) * (i - mx);
    }
    double slope = sxx > 0 ? sxy / sxx : 0, ss = 0;
    for (int i = 0; i < n; i++) {
        double r = bal[i] - (my + slope * (i - mx));
        ss += r * r;
    }
    p->balance_trend_minor_per_month = (int64_t)llround(slope);
    p->balance_volatility_minor = (int64_t)llround(sqrt(ss / n));
}

/* ---- the snapshot parts, from the store --------------------------------------- */

struct cust_info {
    bool found;
    char currency[4], country[3], birth[11], since[11], seg_model[64];
    int segment;
    char *state;
};

static int on_cust(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct cust_info *c = ud;
    c->found = true;
    copy_str(c->currency, sizeof c->currency, v[0].type == TL_VAL_TEXT ? v[0].s : "");
    copy_str(c->country, sizeof c->country, v[1].type == TL_VAL_TEXT ? v[1].s : "");
    copy_str(c->birth, sizeof c->birth, v[2].type == TL_VAL_TEXT ? v[2].s : "");
    copy_str(c->since, sizeof c->since, v[3].type == TL_VAL_TEXT ? v[3].s : "");
    c->state = v[4].type == TL_VAL_TEXT ? strdup(v[4].s) : NULL;
    c->segment = v[5].type == TL_VAL_INT ? (int)v[5].i : -1;
    copy_str(c->seg_model, sizeof c->seg_model, v[6].type == TL_VAL_TEXT ? v[6].s : "");
    return 1;
}

struct prod_acc {
    struct tl_profile *p;
    const char *currency;
};

static const char *const LIQUID[] = {"current", "savings", "deposit"};
static const char *const DEBT[] = {"loan", "mortgage", "credit_card"};

static bool in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

static void add_product(struct tl_profile *p, const char *product, const char *category,
                        const char *source, const char *ref, int64_t value)
{
    if (p->n_products >= TL_PROFILE_MAX_PRODUCTS)
        return;
    struct tl_profile_product *q = &p->products[p->n_products++];
    copy_str(q->product_id, sizeof q->product_id, product);
    copy_str(q->category, sizeof q->category, category);
    copy_str(q->source, sizeof q->source, source);
    copy_str(q->ref_id, sizeof q->ref_id, ref);
    q->value_minor = value;
}

/* a.id, a.product_id, a.type, a.balance_minor, a.currency, a.status, pr.category */
static int on_account(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct prod_acc *a = ud;
    const char *type = v[2].s, *status = v[5].type == TL_VAL_TEXT ? v[5].s : "";
    bool open = strcmp(status, "closed") != 0;
    bool same_cur = v[4].type == TL_VAL_TEXT && strcmp(v[4].s, a->currency) == 0;
    if (open && same_cur && in(type, LIQUID, 3))
        a->p->balance_minor += v[3].i;
    if (open && same_cur && in(type, DEBT, 3) && v[3].i < 0)
        a->p->debt_minor += -v[3].i;
    if (open && v[1].type == TL_VAL_TEXT && v[6].type == TL_VAL_TEXT)
        add_product(a->p, v[1].s, v[6].s, "account", v[0].s, v[3].i);
    return 0;
}

/* h.id, h.product_id, h.value_minor, pr.category */
static int on_holding(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct prod_acc *a = ud;
    add_product(a->p, v[1].s, v[3].type == TL_VAL_TEXT ? v[3].s : "", "holding", v[0].s, v[2].i);
    return 0;
}

static int on_desc(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    copy_str(ud, 256, v[0].type == TL_VAL_TEXT ? v[0].s : "");
    return 1;
}

/* whole months from day a to day b */
static int months_between(int64_t a_days, int64_t b_days)
{
    int ya, yb;
    unsigned ma, mb, da, db;
    tl_civil_from_days(a_days, &ya, &ma, &da);
    tl_civil_from_days(b_days, &yb, &mb, &db);
    int m = (yb - ya) * 12 + (int)mb - (int)ma - (db < da ? 1 : 0);
    return m < 0 ? 0 : m;
}

int tl_profile_get(tl_ctx *ctx, const char *customer_id, struct tl_profile *out, tl_err *err)
{
    memset(out, 0, sizeof *out);
    out->segment = -1;
    int rc = tl_profile_refresh(ctx, customer_id, NULL, err);
    if (rc < 0)
        return rc;
    tl_store *st = tl_ctx_store(ctx);
    struct cust_info c = {0};
    tl_value id[] = {TL_TEXT(customer_id)};
    rc =
        tl_store_exec(st,
                      "SELECT c.currency, c.country, c.birth_date, c.customer_since, p.state, p.segment,"
                      " p.segment_model FROM customers c LEFT JOIN customer_profiles p ON p.id = c.id"
                      " WHERE c.id = ?",
                      1, id, on_cust, &c, err);
    if (rc == 0 && !c.found)
        rc = tl_err_set(err, TL_ENOTFOUND, "customer %s not found", customer_id);
    if (rc == 0 && !c.state)
        rc = tl_err_set(err, TL_ESTORE, "customer %s: the profile state vanished during the read",
                        customer_id);
    struct pf_state *s = rc == 0 ? malloc(sizeof *s) : NULL;
    if (rc == 0 && !s)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for a profile state");
    if (rc == 0 && (rc = tl__pf_state_load(c.state, s, err)) < 0)
        tl_err_prefix(err, "customer %s", customer_id);
    free(c.state);
    if (rc < 0) {
        free(s);
        memset(out, 0, sizeof *out);
        out->segment = -1;
        return rc;
    }
    struct tl_profile *p = out;
    copy_str(p->customer_id, sizeof p->customer_id, customer_id);
    tl__pf_summarize(s, p);
    copy_str(p->currency, sizeof p->currency, c.currency);
    copy_str(p->country, sizeof p->country, c.country);

    struct prod_acc pa = {.p = p, .currency = c.currency};
    rc = tl_store_exec(st,
                       "SELECT a.id, a.product_id, a.type, a.balance_minor, a.currency, a.status,"
                       " pr.category FROM accounts a LEFT JOIN products pr ON pr.id = a.product_id"
                       " WHERE a.customer_id = ? ORDER BY a.id",
                       1, id, on_account, &pa, err);
    if (rc == 0)
        rc = tl_store_exec(st,
                           "SELECT h.id, h.product_id, h.value_minor, pr.category FROM holdings h"
                           " LEFT JOIN products pr ON pr.id = h.product_id WHERE h.customer_id = ?"
                           " ORDER BY h.id",
                           1, id, on_holding, &pa, err);
    if (rc == 0 && c.segment >= 0 && c.seg_model[0]) {
        p->segment = c.segment;
        copy_str(p->segment_model, sizeof p->segment_model, c.seg_model);
        tl_value q[] = {TL_TEXT(c.seg_model), TL_INT(c.segment)};
        rc = tl_store_exec(st, "SELECT description FROM segments WHERE model = ? AND segment = ?", 2, q,
                           on_desc, p->segment_description, err);
    }
    if (rc < 0) {
        free(s);
        memset(out, 0, sizeof *out);
        out->segment = -1;
        return rc;
    }
    /* distinct product categories */
    for (size_t i = 0; i < p->n_products; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(p->products[i].category, p->products[j].category) == 0;
        if (!dup)
            p->n_product_categories++;
    }
    balance_path(s, p);
    free(s);

    int64_t now_days = (p->as_of_ms ? p->as_of_ms : tl_time_now_ms()) / 86400000;
    int32_t d;
    tl_err ignore = {0};
    if (tl_date_parse(c.since, strlen(c.since), &d, &ignore) == 0)
        p->tenure_months = months_between(d, now_days);
    if (tl_date_parse(c.birth, strlen(c.birth), &d, &ignore) == 0)
        p->age_years = months_between(d, now_days) / 12;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------ */

static json_t *money(int64_t minor, const char *cur)
{
    char buf[48];
    fmt_money(minor, cur, buf, sizeof buf);
    return json_string(buf);
}

static json_t *instant(int64_t ms)
{
    char buf[40];
    if (ms == 0 || tl_time_format(ms, buf, sizeof buf) < 0)
        return json_null();
    return json_string(buf);
}

static json_t *recurring_json(const struct tl_profile_recurring *r, size_t n, const char *cur)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:o,s:o,s:i,s:o,s:o}", "description",
                                           r[i].description, "type", r[i].type, "kind", r[i].kind, "mcc",
                                           r[i].mcc >= 0 ? json_integer(r[i].mcc) : json_null(),
                                           "monthly", money(r[i].monthly_minor, cur), "months_seen",
                                           r[i].months_seen, "first_seen", instant(r[i].first_ms),
                                           "last_seen", instant(r[i].last_ms)));
    return a;
}

json_t *tl_profile_json(const struct tl_profile *p)
{
    const char *cur = p->currency;
    json_t *spend = json_object();
    for (int k = 0; k < TL_CAT_COUNT; k++)
        if (p->spending_by_category_minor[k] > 0)
            json_object_set_new(spend, tl_profile_category_name(k),
                                money(p->spending_by_category_minor[k], cur));
    json_t *channels = json_object();
    for (int k = 0; k < TL_CH_COUNT; k++)
        json_object_set_new(channels, tl_profile_channel_name(k),
                            json_real(round(p->channel_share[k] * 10000) / 10000));
    json_t *products = json_array();
    for (size_t i = 0; i < p->n_products; i++) {
        const struct tl_profile_product *q = &p->products[i];
        json_array_append_new(products, json_pack("{s:s,s:s,s:s,s:s,s:o}", "product_id", q->product_id,
                                                  "category", q->category, "source", q->source, "id",
                                                  q->ref_id, "value", money(q->value_minor, cur)));
    }
    json_t *sig = json_array();
    for (size_t i = 0; i < p->n_signals; i++) {
        const struct tl_profile_signal *g = &p->signals[i];
        json_array_append_new(sig,
                              json_pack("{s:s,s:o,s:o,s:I,s:o,s:s,s:s}", "kind", g->kind, "first_seen",
                                        instant(g->first_ms), "last_seen", instant(g->last_ms), "count",
                                        (json_int_t)g->count, "total", money(g->total_minor, cur),
                                        "evidence_tx", g->evidence_tx, "evidence", g->evidence));
    }
    json_t *seg = p->segment >= 0 ? json_pack("{s:i,s:s,s:s}", "id", p->segment, "model",
                                              p->segment_model, "description", p->segment_description)
                                  : json_null();
    json_t *j = json_object();
    json_object_set_new(j, "customer_id", json_string(p->customer_id));
    json_object_set_new(j, "currency", json_string(cur));
    json_object_set_new(j, "as_of", instant(p->as_of_ms));
    json_object_set_new(j, "transactions", json_integer((json_int_t)p->n_transactions));
    json_object_set_new(j, "window",
                        json_pack("{s:i,s:o,s:o}", "months", p->months, "from",
                                  p->window_from[0] ? json_string(p->window_from) : json_null(), "to",
                                  p->window_to[0] ? json_string(p->window_to) : json_null()));
    json_object_set_new(j, "income",
                        json_pack("{s:o,s:b,s:o,s:o}", "monthly", money(p->income_monthly_minor, cur),
                                  "found", p->income_found, "other_credits_monthly",
                                  money(p->other_credits_monthly_minor, cur), "sources",
                                  recurring_json(p->income, p->n_income, cur)));
    json_object_set_new(j, "spending",
                        json_pack("{s:o,s:o,s:o}", "monthly", money(p->spending_monthly_minor, cur),
                                  "by_category", spend, "transfers_out_monthly",
                                  money(p->transfers_out_monthly_minor, cur)));
    json_object_set_new(j, "fixed_costs",
                        json_pack("{s:o,s:o}", "monthly", money(p->fixed_costs_monthly_minor, cur),
                                  "items", recurring_json(p->fixed, p->n_fixed, cur)));
    json_object_set_new(j, "savings_rate",
                        p->savings_rate_known ? json_real(round(p->savings_rate * 10000) / 10000)
                                              : json_null());
    json_object_set_new(j, "balance",
                        json_pack("{s:o,s:o,s:o,s:o}", "now", money(p->balance_minor, cur),
                                  "trend_per_month", money(p->balance_trend_minor_per_month, cur),
                                  "volatility", money(p->balance_volatility_minor, cur), "debt",
                                  money(p->debt_minor, cur)));
    json_object_set_new(j, "products", products);
    json_object_set_new(j, "product_categories", json_integer(p->n_product_categories));
    json_object_set_new(j, "tenure_months", json_integer(p->tenure_months));
    json_object_set_new(j, "age", json_integer(p->age_years));
    json_object_set_new(j, "country", json_string(p->country));
    json_object_set_new(j, "channels", channels);
    json_object_set_new(j, "life_signals", sig);
    json_object_set_new(j, "segment", seg);
    return j;
}
