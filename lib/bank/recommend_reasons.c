/*
 * recommend_reasons.c - a reason with every recommended item, from the
 * signal that drove it, most concrete first: a top-up of what the customer
 * holds; the customer's own money (card interest against the product's
 * cost, idle cash against its rate); a life signal from the transactions
 * (travel, a new home, children); customers who hold what the customer
 * holds; and last, profile fit (income, age, segment).
 *
 * Figures come from the profile (profile.h: monthly averages over complete
 * months, balances now) and the catalogue (interest_rate_bp,
 * annual_fee_minor); they are estimates and the sentences say "about".
 */
#include "recommend_internal.h"

#include <teller/datetime.h>

#include <ctype.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const REASON_NAMES[] = {"transactions", "life_signal", "similar_customers",
                                           "profile_fit", "top_up"};

const char *tl_recommend_reason_name(int kind)
{
    return kind >= 0 && kind <= TL_RECOMMEND_REASON_TOP_UP ? REASON_NAMES[kind] : NULL;
}

/* Whole units with thousands separators: "€1,234" for EUR, "1,234 USD". */
static void money(int64_t minor, const char *cur, char *buf, size_t n)
{
    int64_t units = (llabs(minor) + 50) / 100;
    char digits[24], grouped[32]; /* 19 digits and 6 commas at most */
    snprintf(digits, sizeof digits, "%lld", (long long)units);
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len && o + 2 < sizeof grouped; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            grouped[o++] = ',';
        grouped[o++] = digits[i];
    }
    grouped[o] = 0;
    if (cur && strcmp(cur, "EUR") == 0)
        snprintf(buf, n, "%s\xe2\x82\xac%s", minor < 0 ? "-" : "", grouped);
    else
        snprintf(buf, n, "%s%s %.3s", minor < 0 ? "-" : "", grouped, cur && *cur ? cur : "");
}

static bool name_has(const char *name, const char *word)
{
    char low[128];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = 0;
    return strstr(low, word) != NULL;
}

static const struct tl_profile_signal *signal_of(const struct tl_profile *pf, const char *kind)
{
    for (size_t i = 0; pf && i < pf->n_signals; i++)
        if (strcmp(pf->signals[i].kind, kind) == 0)
            return &pf->signals[i];
    return NULL;
}

static void set(struct tl_recommend_item *it, int kind, const char *text)
{
    it->reason_kind = kind;
    snprintf(it->reason, sizeof it->reason, "%s", text);
}

/* Card debt and its interest, from the cards the profile shows. */
static bool card_interest(const struct rc_catalogue *c, const struct tl_profile *pf,
                          int64_t *debt, int *rate_bp)
{
    *debt = 0;
    *rate_bp = 0;
    for (size_t i = 0; pf && i < pf->n_products; i++) {
        const struct tl_profile_product *h = &pf->products[i];
        if (strcmp(h->category, "credit_card") != 0 || h->value_minor >= 0)
            continue;
        int32_t j = tl__rc_catalogue_find(c, h->product_id);
        int r = j >= 0 && c->p[j].rate_bp > 0 ? c->p[j].rate_bp : 0;
        *debt += -h->value_minor;
        if (r > *rate_bp)
            *rate_bp = r;
    }
    return *debt > 0 && *rate_bp > 0;
}

static bool from_money(const struct rc_catalogue *c, const struct rc_product *p,
                       const struct tl_profile *pf, struct tl_recommend_item *it)
{
    if (!pf)
        return false;
    const char *cur = pf->currency;
    char a[48], b[48], d[48], text[320];
    if (p->cat == RC_PERSONAL_LOAN && p->rate_bp > 0) {
        int64_t debt;
        int rate;
        if (card_interest(c, pf, &debt, &rate) && rate > p->rate_bp) {
            int64_t card_m = debt * rate / 120000, loan_m = debt * p->rate_bp / 120000;
            if (card_m - loan_m >= 100) {
                money(card_m, cur, a, sizeof a);
                money(loan_m, cur, b, sizeof b);
                money(debt, cur, d, sizeof d);
                snprintf(text, sizeof text,
                         "you pay about %s a month in card interest on %s at %.2f%%; this loan "
                         "at %.2f%% would cost about %s",
                         a, d, rate / 100.0, p->rate_bp / 100.0, b);
                set(it, TL_RECOMMEND_REASON_TRANSACTIONS, text);
                return true;
            }
        }
    }
    if ((p->cat == RC_SAVINGS || p->cat == RC_TERM_DEPOSIT) && p->rate_bp > 0) {
        int64_t idle = 0;
        for (size_t i = 0; i < pf->n_products; i++)
            if (strcmp(pf->products[i].category, "current_account") == 0 &&
                pf->products[i].value_minor > 0)
                idle += pf->products[i].value_minor;
        /* what stays beyond a month of spending is what could earn */
        idle -= pf->spending_monthly_minor;
        int64_t earn = idle > 0 ? idle * p->rate_bp / 120000 : 0;
        if (idle >= 100000 && earn >= 100) {
            money(idle, cur, a, sizeof a);
            money(earn, cur, b, sizeof b);
            snprintf(text, sizeof text,
                     "you keep about %s more than a month's spending on your current account; "
                     "at %.2f%% it would earn about %s a month",
                     a, p->rate_bp / 100.0, b);
            set(it, TL_RECOMMEND_REASON_TRANSACTIONS, text);
            return true;
        }
    }
    if (p->cat == RC_CREDIT_CARD && pf->spending_monthly_minor > 0 &&
        pf->spending_by_category_minor[TL_CAT_TRAVEL] * 5 >= pf->spending_monthly_minor) {
        money(pf->spending_by_category_minor[TL_CAT_TRAVEL], cur, a, sizeof a);
        snprintf(text, sizeof text, "you spend about %s a month on travel; this card is made for "
                                    "paying abroad and online",
                 a);
        set(it, TL_RECOMMEND_REASON_TRANSACTIONS, text);
        return true;
    }
    return false;
}

static bool from_life(const struct rc_product *p, const struct tl_profile *pf,
                      struct tl_recommend_item *it)
{
    const struct tl_profile_signal *s = NULL;
    const char *why = NULL;
    if (p->cat == RC_INSURANCE && name_has(p->name, "travel") && (s = signal_of(pf, "travel")))
        why = "you have been travelling";
    else if (p->cat == RC_INSURANCE && name_has(p->name, "home") &&
             ((s = signal_of(pf, "new_mortgage")) || (s = signal_of(pf, "new_rent"))))
        why = strcmp(s->kind, "new_mortgage") == 0 ? "you have a new mortgage"
                                                   : "you have moved into a new home";
    else if ((p->cat == RC_INSURANCE && name_has(p->name, "life")) &&
             (s = signal_of(pf, "children")))
        why = "your spending shows children in the family";
    else if ((p->cat == RC_SAVINGS || p->cat == RC_TERM_DEPOSIT) && (s = signal_of(pf, "children")))
        why = "your spending shows children in the family";
    else if (p->cat == RC_INSURANCE && name_has(p->name, "life") &&
             (s = signal_of(pf, "new_mortgage")))
        why = "you have a new mortgage";
    if (!s)
        return false;
    char day[16] = "";
    int64_t days = s->first_ms / 86400000;
    tl_date_format((int32_t)days, day, sizeof day);
    char text[320];
    snprintf(text, sizeof text, "%s (%u payments since %s)", why, (unsigned)s->count, day);
    set(it, TL_RECOMMEND_REASON_LIFE_SIGNAL, text);
    return true;
}

static bool from_similar(const struct rc_catalogue *c, int32_t p, const struct rc_facts *f,
                         const struct rc_cooc *co, double cf_share, struct tl_recommend_item *it)
{
    if (!co || co->n != c->n || co->n_users < 1)
        return false;
    double base = (double)co->count[p] / (double)co->n_users;
    int32_t best = -1;
    double best_p = 0;
    for (int32_t j = 0; j < c->n; j++) {
        if (j == p || !f->held[j] || co->count[j] < 10)
            continue;
        double pj = (double)co->pair[(size_t)j * co->n + p] / co->count[j];
        if (pj > best_p) {
            best_p = pj;
            best = j;
        }
    }
    char text[320];
    if (best >= 0 && best_p >= 0.1 && best_p >= 1.2 * base) {
        snprintf(text, sizeof text, "%.0f%% of customers who hold %s also hold it (%.0f%% of all "
                                    "customers)",
                 100 * best_p, c->p[best].name, 100 * base);
        set(it, TL_RECOMMEND_REASON_SIMILAR, text);
        return true;
    }
    if (cf_share >= 0.5 && base > 0) {
        snprintf(text, sizeof text, "customers with products like yours often choose it (%.0f%% "
                                    "of customers hold it)",
                 100 * base);
        set(it, TL_RECOMMEND_REASON_SIMILAR, text);
        return true;
    }
    return false;
}

static void from_profile(const struct rc_product *p, const struct tl_profile *pf,
                         const struct rc_facts *f, struct tl_recommend_item *it)
{
    char text[320], inc[48];
    if (tl__rc_is_investment(p)) {
        snprintf(text, sizeof text, "risk level %d fits your risk profile (%d of 5)", p->risk,
                 f->risk_profile);
    } else if (pf && pf->income_found) {
        money(pf->income_monthly_minor, pf->currency, inc, sizeof inc);
        snprintf(text, sizeof text, "fits customers of your age (%d) and income (%s a month)",
                 f->age, inc);
    } else if (pf && pf->segment >= 0 && pf->segment_description[0]) {
        snprintf(text, sizeof text, "often chosen in your customer segment (%s)",
                 pf->segment_description);
    } else {
        snprintf(text, sizeof text, "a good fit for customers of your age (%d)", f->age);
    }
    set(it, TL_RECOMMEND_REASON_PROFILE, text);
}

void tl__rc_reason(const struct rc_catalogue *c, int32_t p, const struct tl_profile *pf,
                   const struct rc_facts *f, const struct rc_cooc *co, bool top_up,
                   double cf_share, struct tl_recommend_item *it)
{
    const struct rc_product *pr = &c->p[p];
    if (top_up) {
        char text[320];
        snprintf(text, sizeof text, "you hold %s: adding to it regularly keeps your plan going",
                 pr->name);
        set(it, TL_RECOMMEND_REASON_TOP_UP, text);
        return;
    }
    if (from_money(c, pr, pf, it) || (pf && from_life(pr, pf, it)) ||
        from_similar(c, p, f, co, cf_share, it))
        return;
    from_profile(pr, pf, f, it);
}
