/*
 * generate_portfolio.c - pass A, second half: the products a customer holds
 * and how they got them. Credit products opened in the last five years went
 * through an application the bank decided on bureau data (income, debt,
 * delinquencies, employment); declined ones left no account. Savings,
 * deposits, funds and insurance follow life stage, wealth and the latent
 * risk appetite. Trips abroad are drawn here too, since travel insurance
 * and later the card spending depend on them.
 */
#include "generate_internal.h"

#include <teller/datetime.h>

#include <stdlib.h>

#define DAYS_PER_MONTH 30.436875
#define APP_WINDOW_DAYS (5 * 365)

static int32_t day_between(struct gen_rng *r, int32_t lo, int32_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int32_t)gen_below(r, (uint32_t)(hi - lo + 1));
}

static int64_t round_to(double eur, double step)
{
    return (int64_t)(floor(eur / step + 0.5) * step * 100.0);
}

static int64_t annuity(int64_t principal, int rate_bp, int n)
{
    double rm = rate_bp / 10000.0 / 12.0;
    if (n <= 0)
        return principal;
    return (int64_t)llround((double)principal * rm / (1.0 - pow(1.0 + rm, -n)));
}

/* Principal left after k monthly payments. */
static int64_t outstanding(int64_t principal, int rate_bp, int n, int k)
{
    if (k <= 0)
        return principal;
    if (k >= n)
        return 0;
    double rm = rate_bp / 10000.0 / 12.0;
    double g = pow(1.0 + rm, k);
    double a = (double)annuity(principal, rate_bp, n);
    double b = (double)principal * g - a * (g - 1.0) / rm;
    return b > 0 ? (int64_t)llround(b) : 0;
}

static int months_between(int32_t from, int32_t to)
{
    return to <= from ? 0 : (int)((to - from) / DAYS_PER_MONTH);
}

static int add_account(struct gen_world *w, uint32_t cust, int type, int product, int32_t day,
                       struct gen_rng *r, uint32_t *out)
{
    GEN_PUSH(w->accounts, oom);
    struct gen_account *a = &w->accounts.v[w->accounts.n];
    memset(a, 0, sizeof *a);
    a->cust = cust;
    a->type = (uint8_t)type;
    a->product = (uint8_t)product;
    a->opened_day = day;
    a->opened_sec = 8 * 3600 + (int32_t)gen_below(r, 11 * 3600);
    a->matures_day = INT32_MAX;
    a->status = GEN_AS_OPEN;
    *out = (uint32_t)w->accounts.n++;
    return 0;
oom:
    return TL_ENOMEM;
}

static int add_holding(struct gen_world *w, uint32_t cust, int product, int32_t day, uint32_t account,
                       int64_t value, struct gen_rng *r)
{
    GEN_PUSH(w->holdings, oom);
    struct gen_holding *h = &w->holdings.v[w->holdings.n++];
    h->cust = cust;
    h->product = (uint8_t)product;
    h->opened_day = day;
    h->opened_sec = 8 * 3600 + (int32_t)gen_below(r, 12 * 3600);
    h->account = account;
    h->value_minor = value;
    return 0;
oom:
    return TL_ENOMEM;
}

/* ------------------------------------------------------------- trips --- */

static void draw_trips(struct gen_world *w, struct gen_cust *c, struct gen_rng *r)
{
    static const double season[12] = {0.4, 0.6, 0.6, 1.0, 1.0, 1.1, 1.8, 1.8, 1.1, 1.0, 0.4, 0.8};
    int age = c->age;
    double inc = (double)c->income_minor / 100.0;
    double age_f = age < 25 ? 0.8 : age < 65 ? 1.0 : age < 80 ? 0.9 : 0.35;
    double rate = tl__gen_lognormal(r, 0.9 * pow(inc / 40000.0, 0.5) * age_f, 0.6);
    int32_t first = c->since_day > w->start_day ? c->since_day : w->start_day;
    double span_years = (w->end_day - first) / 365.25;
    uint32_t n = tl__gen_poisson(r, rate * span_years);
    if (n > GEN_MAX_TRIPS)
        n = GEN_MAX_TRIPS;
    double vw[64];
    size_t nc = tl__gen_n_cities < 64 ? tl__gen_n_cities : 64;
    for (size_t k = 0; k < nc; k++)
        vw[k] = k == c->city ? 0 : tl__gen_cities[k].visitors;
    c->n_trips = 0;
    for (uint32_t t = 0; t < n && first < w->end_day - 3; t++) {
        /* rejection-sample a start day by season */
        int32_t start = first;
        for (int tries = 0; tries < 20; tries++) {
            start = day_between(r, first, w->end_day - 2);
            int y;
            unsigned m, d;
            tl_civil_from_days(start, &y, &m, &d);
            if (gen_unif(r) * 1.8 < season[m - 1])
                break;
        }
        bool city_trip = gen_chance(r, 0.4);
        int nights = city_trip ? gen_range(r, 2, 4) : gen_range(r, 5, 14);
        if (start + nights > w->end_day)
            nights = w->end_day - start;
        if (nights < 1)
            continue;
        struct gen_trip trip = {
            .start_day = start, .nights = (uint8_t)nights, .city = (uint16_t)tl__gen_pick(r, vw, nc)};
        trip.flight = tl__gen_cities[trip.city].flight || gen_chance(r, 0.3);
        /* keep trips apart: drop one that overlaps another */
        bool clash = false;
        for (int k = 0; k < c->n_trips; k++) {
            const struct gen_trip *o = &c->trips[k];
            if (start <= o->start_day + o->nights + 1 && o->start_day <= start + nights + 1)
                clash = true;
        }
        if (clash)
            continue;
        int k = c->n_trips++;
        while (k > 0 && c->trips[k - 1].start_day > start) {
            c->trips[k] = c->trips[k - 1];
            k--;
        }
        c->trips[k] = trip;
    }
}

/* ------------------------------------------------------------- credit --- */

struct candidate {
    int product;
    int32_t day; /* when the account would open */
    int64_t amount_minor;
    int term;
    int purpose;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

/* Debt the customer carries on a day: loans and mortgages at their
 * amortized balance, cards at a typical utilization, plus debt elsewhere. */
static int64_t debt_on(const struct gen_world *w, const struct gen_cust *c, int32_t day, double external_eur)
{
    double debt = external_eur * 100.0;
    for (uint32_t k = c->acct_first; k < w->accounts.n; k++) {
        const struct gen_account *a = &w->accounts.v[k];
        if (a->opened_day >= day)
            continue;
        if (a->type == GEN_AT_LOAN || a->type == GEN_AT_MORTGAGE)
            debt += (double)outstanding(a->limit_minor, tl__gen_products[a->product].rate_bp, a->term_months,
                                        months_between(a->opened_day, day));
        else if (a->type == GEN_AT_CREDIT_CARD)
            debt += (double)a->limit_minor * (0.15 + 0.3 * gen_sigmoid(c->fragility));
    }
    return (int64_t)(floor(debt / 10000.0 + 0.5) * 10000.0); /* declared to the 100 EUR */
}

static int card_tier(const struct gen_cust *c, struct gen_rng *r)
{
    double inc = (double)c->income_minor / 100.0;
    if (inc >= 90000 && c->age >= 21 && gen_chance(r, 0.55))
        return GEN_P_CC_PLATINUM;
    if (inc >= 40000 && gen_chance(r, 0.55))
        return GEN_P_CC_GOLD;
    return GEN_P_CC_CLASSIC;
}

static int draw_candidates(struct gen_world *w, struct gen_cust *c, struct gen_rng *r, struct candidate *out)
{
    int n = 0, age = c->age;
    double gross = (double)c->income_minor / 100.0;
    double inc = log(gross / 45000.0);
    double f = c->fragility;
    int32_t adult = c->birth_day + 6575;
    int32_t from = c->since_day > adult ? c->since_day : adult;

    /* a credit card: most working adults, more with income, fragile ones keen */
    if (gen_chance(r, gen_sigmoid(-0.4 + 0.9 * log(gross / 30000.0) + 0.3 * f + (age < 30 ? 0.3 : 0) -
                                  (age > 75 ? 1.2 : 0)))) {
        int p = card_tier(c, r);
        double limit = gross * tl__gen_lognormal(r, 0.12, 0.35);
        out[n++] = (struct candidate){p, day_between(r, from, w->end_day - 1),
                                      round_to(gen_clamp(limit, 500, 30000), 500), 0, 0};
    }
    /* a personal loan: mid-life, more often the fragile */
    if (age <= 72 &&
        gen_chance(r, gen_sigmoid(-2.3 + 0.75 * f - 0.2 * inc + (age >= 25 && age <= 55 ? 0.3 : -0.5)))) {
        int term = 12 * gen_range(r, 1, 7);
        int32_t lo = w->end_day - (int32_t)(term * DAYS_PER_MONTH) - 365;
        double amount = gen_clamp(tl__gen_lognormal(r, 9000 * pow(gross / 40000.0, 0.5), 0.6), 1000, 60000);
        static const int purposes[] = {1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        out[n++] = (struct candidate){
            GEN_P_LOAN_PERSONAL, day_between(r, lo > from ? lo : from, w->end_day - 1), round_to(amount, 500),
            term, purposes[gen_below(r, sizeof purposes / sizeof purposes[0])]};
    }
    /* a car loan when there is a car */
    if (c->has_car && age <= 72 && gross >= 18000 && gen_chance(r, gen_sigmoid(-1.7 + 0.3 * inc))) {
        int term = 12 * gen_range(r, 3, 6);
        int32_t lo = w->end_day - (int32_t)(term * DAYS_PER_MONTH) - 365;
        double amount = gen_clamp(tl__gen_lognormal(r, 21000 * pow(gross / 45000.0, 0.5), 0.4), 5000, 90000);
        out[n++] = (struct candidate){GEN_P_LOAN_AUTO, day_between(r, lo > from ? lo : from, w->end_day - 1),
                                      round_to(amount, 500), term, gen_chance(r, 0.4) ? 10 : 11};
    }
    /* a mortgage for families with income, bought between 28 and 50 */
    if (age >= 28 && gross >= 35000 &&
        gen_chance(r, gen_sigmoid(-1.2 + 1.0 * log(gross / 50000.0) + (c->household >= 3 ? 0.6 : 0) +
                                  (age <= 65 ? 0.5 : -0.5) - 0.2 * f))) {
        int buy_age = gen_range(r, 28, age < 50 ? age : 50);
        int32_t day = c->birth_day + (int32_t)(buy_age * 365.25) + (int32_t)gen_below(r, 365);
        if (day < from)
            day = day_between(r, from, w->end_day - 1);
        if (day > w->end_day - 1)
            day = w->end_day - 1;
        int term = gen_chance(r, 0.5) ? 300 : 360;
        int product = gen_chance(r, 0.55) ? GEN_P_MORTGAGE_10 : GEN_P_MORTGAGE_20;
        double amount = gen_clamp(gross * tl__gen_lognormal(r, 4.2, 0.25), 60000, 2500000);
        out[n++] = (struct candidate){product, day, round_to(amount, 5000), term,
                                      gen_chance(r, 0.8)   ? 12
                                      : gen_chance(r, 0.5) ? 13
                                                           : 14};
    }
    qsort(out, (size_t)n, sizeof *out, cand_cmp);
    return n;
}

/* Opens the account a candidate becomes (approved now or long ago). */
static int open_credit(struct gen_world *w, uint32_t ci, struct gen_cust *c, const struct candidate *k,
                       struct gen_rng *r, uint32_t *acct)
{
    int cat = tl__gen_products[k->product].category;
    int type = cat == GEN_C_CREDIT_CARD ? GEN_AT_CREDIT_CARD
               : cat == GEN_C_MORTGAGE  ? GEN_AT_MORTGAGE
                                        : GEN_AT_LOAN;
    if (add_account(w, ci, type, k->product, k->day, r, acct) < 0)
        return TL_ENOMEM;
    struct gen_account *a = &w->accounts.v[*acct];
    a->limit_minor = k->amount_minor;
    if (type != GEN_AT_CREDIT_CARD) {
        a->term_months = (int16_t)k->term;
        a->payment_minor = annuity(k->amount_minor, tl__gen_products[k->product].rate_bp, k->term);
        int32_t matures = k->day + (int32_t)(k->term * DAYS_PER_MONTH);
        a->matures_day = matures;
        if (matures <= w->end_day)
            a->status = GEN_AS_CLOSED;
        int y;
        unsigned m, d;
        tl_civil_from_days(k->day, &y, &m, &d);
        a->pay_dom = (uint8_t)(d > 28 ? 28 : d);
    } else if (c->acct_card < 0) {
        c->acct_card = (int8_t)(*acct - c->acct_first);
    }
    return 0;
}

static int credit(struct gen_world *w, uint32_t ci, struct gen_cust *c, struct gen_rng *r)
{
    struct candidate cands[4];
    int n = draw_candidates(w, c, r, cands);
    double gross = (double)c->income_minor / 100.0;
    double external =
        gen_chance(r, gen_sigmoid(-1.3 + 0.9 * c->fragility)) ? gross * tl__gen_lognormal(r, 0.15, 0.8) : 0;
    for (int k = 0; k < n; k++) {
        struct candidate *cd = &cands[k];
        uint32_t acct = GEN_NO_INDEX;
        if (cd->day < w->end_day - APP_WINDOW_DAYS) {
            if (open_credit(w, ci, c, cd, r, &acct) < 0)
                return TL_ENOMEM;
            continue;
        }
        /* an application on record: the bank decides on what it can see */
        GEN_PUSH(w->apps, oom);
        struct gen_app *a = &w->apps.v[w->apps.n];
        memset(a, 0, sizeof *a);
        a->cust = ci;
        a->product = (uint8_t)cd->product;
        a->applied_day = cd->day - gen_range(r, 1, 20);
        if (a->applied_day < c->since_day)
            a->applied_day = c->since_day;
        a->applied_sec = 7 * 3600 + (int32_t)gen_below(r, 15 * 3600);
        double years_ago = (w->end_day - a->applied_day) / 365.25;
        a->term_months = (int16_t)cd->term;
        a->purpose = (uint8_t)cd->purpose;
        a->amount_minor = cd->amount_minor;
        a->income_minor = round_to(gross * pow(0.98, years_ago) * (1 + 0.03 * tl__gen_normal(r)), 100);
        a->debt_minor = debt_on(w, c, a->applied_day, external);
        a->employment_years =
            (uint8_t)(c->employment_years > years_ago ? c->employment_years - (int)years_ago : 0);
        a->delinquencies = (uint8_t)gen_clamp(tl__gen_poisson(r, exp(-2.3 + 1.1 * c->fragility)), 0, 30);
        a->account = GEN_NO_INDEX;

        double inc_app = (double)a->income_minor / 100.0;
        double debt_ratio = (double)a->debt_minor / (double)a->income_minor;
        double cat = tl__gen_products[cd->product].category;
        double load = (double)a->amount_minor / (double)a->income_minor *
                      (cat == GEN_C_CREDIT_CARD ? 0.3
                       : cat == GEN_C_MORTGAGE  ? 0.12
                       : cat == GEN_C_AUTO_LOAN ? 0.6
                                                : 1.0);
        double score = -2.2 + 0.4 * gen_clamp(debt_ratio, 0, 4) + 0.45 * a->delinquencies + 0.8 * load -
                       0.5 * log(inc_app / 45000.0) - 0.03 * gen_clamp(a->employment_years, 0, 20) +
                       0.45 * tl__gen_normal(r);
        bool eligible = tl__gen_eligible(c, cd->product, tl__gen_age_at(c->birth_day, a->applied_day));
        if (a->applied_day > w->end_day - 14 && gen_chance(r, 0.7))
            a->status = GEN_AP_PENDING;
        else if (gen_chance(r, 0.03))
            a->status = GEN_AP_WITHDRAWN;
        else if (!eligible || gen_sigmoid(score) > 0.22)
            a->status = GEN_AP_DECLINED;
        else
            a->status = GEN_AP_APPROVED;
        w->apps.n++;
        c->n_app++;
        if (a->status == GEN_AP_APPROVED) {
            if (cd->product == GEN_P_CC_CLASSIC || cd->product == GEN_P_CC_GOLD ||
                cd->product == GEN_P_CC_PLATINUM) {
                /* the bank may grant less than asked */
                int64_t cap = round_to(inc_app * 0.2, 500);
                if (cd->amount_minor > cap && cap >= 50000)
                    cd->amount_minor = cap;
            }
            if (open_credit(w, ci, c, cd, r, &acct) < 0)
                return TL_ENOMEM;
            w->apps.v[w->apps.n - 1].account = acct;
        }
    }
    return 0;
oom:
    return TL_ENOMEM;
}

/* ------------------------------------------------------------ savings --- */

static double fund_value(struct gen_rng *r, int product, double invested, double years)
{
    const struct gen_product *p = &tl__gen_products[product];
    double mu = p->return_bp / 10000.0, sd = p->vol_bp / 10000.0;
    double t = years > 0 ? years : 0;
    return invested * exp((mu - sd * sd / 2) * t + sd * sqrt(t) * tl__gen_normal(r));
}

static int investments(struct gen_world *w, uint32_t ci, struct gen_cust *c, struct gen_rng *r, double wealth,
                       double *left)
{
    if (!c->investor || wealth < 1500)
        return 0;
    uint32_t acct;
    int32_t opened = day_between(r, c->since_day, w->end_day - 1);
    if (add_account(w, ci, GEN_AT_INVESTMENT, UINT8_MAX, opened, r, &acct) < 0)
        return TL_ENOMEM;
    c->acct_inv = (int8_t)(acct - c->acct_first);
    double invest = wealth * (0.25 + 0.45 * gen_sigmoid(c->appetite));
    *left -= invest;
    int k = 1 + (int)tl__gen_poisson(r, gen_clamp(0.6 + 0.5 * log(wealth / 30000.0), 0, 3));
    if (k > 6)
        k = 6;
    double aff[GEN_P_COUNT];
    for (int p = 0; p < GEN_P_COUNT; p++)
        aff[p] = gen_is_investment(p) ? exp(1.5 * tl__gen_product_affinity(w, c, p)) : 0;
    double shares[6], total = 0;
    int chosen[6];
    for (int j = 0; j < k; j++) {
        chosen[j] = (int)tl__gen_pick(r, aff, GEN_P_COUNT);
        aff[chosen[j]] = 0; /* without replacement */
        shares[j] = tl__gen_lognormal(r, 1, 0.6);
        total += shares[j];
        bool more = false;
        for (int p = 0; p < GEN_P_COUNT; p++)
            more |= aff[p] > 0;
        if (!more) {
            k = j + 1;
            break;
        }
    }
    for (int j = 0; j < k; j++) {
        int32_t day = day_between(r, opened, w->end_day - 1);
        double value = fund_value(r, chosen[j], invest * shares[j] / total, (w->end_day - day) / 365.25);
        if (add_holding(w, ci, chosen[j], day, acct, (int64_t)llround(value * 100.0), r) < 0)
            return TL_ENOMEM;
    }
    if (gen_chance(r, 0.55))
        c->plan_minor = round_to(
            gen_clamp(tl__gen_lognormal(r, 0.05, 0.5) * (double)c->net_month_minor / 100.0, 25, 3000), 25);
    return 0;
}

static int deposits(struct gen_world *w, uint32_t ci, struct gen_cust *c, struct gen_rng *r, double wealth,
                    double *left)
{
    if (wealth < 5000 || !gen_chance(r, gen_sigmoid(-2.2 + 0.035 * (c->age - 45) +
                                                    0.4 * log(wealth / 30000.0) - 0.6 * c->appetite)))
        return 0;
    int product = gen_chance(r, 0.6) ? GEN_P_TD_12 : GEN_P_TD_36;
    int months = product == GEN_P_TD_12 ? 12 : 36;
    int32_t lo = w->end_day - (int32_t)(months * DAYS_PER_MONTH) + 1;
    int32_t day = day_between(r, lo > c->since_day ? lo : c->since_day, w->end_day - 1);
    double amount = gen_clamp(wealth * 0.3, 2500, 1e7);
    *left -= amount;
    uint32_t acct;
    if (add_account(w, ci, GEN_AT_DEPOSIT, product, day, r, &acct) < 0)
        return TL_ENOMEM;
    struct gen_account *a = &w->accounts.v[acct];
    int64_t principal = round_to(amount, 500);
    double years = (w->end_day - day) / 365.25;
    a->balance_minor =
        principal + (int64_t)llround((double)principal * tl__gen_products[product].rate_bp / 10000.0 * years);
    a->matures_day = day + (int32_t)(months * DAYS_PER_MONTH);
    return add_holding(w, ci, product, day, acct, a->balance_minor, r);
}

static int insurance(struct gen_world *w, uint32_t ci, struct gen_cust *c, struct gen_rng *r, bool mortgage)
{
    int age = c->age;
    struct {
        int product;
        double logit;
    } offers[] = {
        {GEN_P_INS_LIFE,
         -1.8 + (c->household >= 3 ? 1.2 : 0) + (mortgage ? 0.9 : 0) + (age >= 28 && age <= 55 ? 0.3 : -0.6)},
        {GEN_P_INS_HOME, -1.6 + (mortgage ? 1.4 : 0) + (c->household >= 2 ? 0.4 : 0)},
        {GEN_P_INS_TRAVEL, -2.4 + 0.6 * c->n_trips},
    };
    for (size_t k = 0; k < sizeof offers / sizeof offers[0]; k++) {
        if (!tl__gen_eligible(c, offers[k].product, age) || !gen_chance(r, gen_sigmoid(offers[k].logit)))
            continue;
        int32_t day = day_between(r, c->since_day, w->end_day - 1);
        /* an insurance holding is valued at its yearly premium */
        if (add_holding(w, ci, offers[k].product, day, GEN_NO_INDEX,
                        tl__gen_products[offers[k].product].fee_minor, r) < 0)
            return TL_ENOMEM;
    }
    return 0;
}

int tl__gen_portfolio(struct gen_world *w, uint32_t ci, struct gen_cust *c, struct gen_rng *r, double wealth)
{
    c->acct_first = (uint32_t)w->accounts.n;
    c->hold_first = (uint32_t)w->holdings.n;
    c->app_first = (uint32_t)w->apps.n;
    c->acct_cur = c->acct_sav = c->acct_card = c->acct_inv = -1;
    int age = c->age;
    double gross = (double)c->income_minor / 100.0;
    double inc = log(gross / 45000.0);
    draw_trips(w, c, r);

    uint32_t acct;
    int cur = age <= 27 && gen_chance(r, 0.7)                            ? GEN_P_CUR_YOUTH
              : gross >= 40000 && gen_chance(r, gen_sigmoid(-1.2 + inc)) ? GEN_P_CUR_PLUS
                                                                         : GEN_P_CUR_BASIC;
    if (add_account(w, ci, GEN_AT_CURRENT, cur, c->since_day, r, &acct) < 0)
        return TL_ENOMEM;
    c->acct_cur = 0;

    bool savings = gen_chance(r, gen_sigmoid(0.1 + 0.6 * inc + 0.015 * (age - 40) - 0.4 * c->fragility));
    if (savings) {
        int p = gross >= 25000 && gen_chance(r, 0.3) ? GEN_P_SAV_BONUS : GEN_P_SAV_FLEX;
        double u = gen_unif(r);
        int32_t day = c->since_day + (int32_t)((w->end_day - 1 - c->since_day) * u * u);
        if (add_account(w, ci, GEN_AT_SAVINGS, p, day, r, &acct) < 0)
            return TL_ENOMEM;
        c->acct_sav = (int8_t)(acct - c->acct_first);
    }

    if (credit(w, ci, c, r) < 0)
        return TL_ENOMEM;
    bool mortgage = false;
    for (uint32_t k = c->acct_first; k < w->accounts.n; k++)
        mortgage |= w->accounts.v[k].type == GEN_AT_MORTGAGE;
    bool with_parents =
        (age < 25 && gen_chance(r, 0.5)) || (c->occupation == GEN_O_STUDENT && gen_chance(r, 0.3));
    bool owner = mortgage || gen_chance(r, age >= 55 ? 0.35 : age >= 40 ? 0.15 : 0.04);
    c->pays_rent = !owner && !with_parents;

    double left = wealth;
    if (deposits(w, ci, c, r, wealth, &left) < 0 || investments(w, ci, c, r, wealth, &left) < 0 ||
        insurance(w, ci, c, r, mortgage) < 0)
        return TL_ENOMEM;

    c->n_acct = (uint8_t)(w->accounts.n - c->acct_first);
    c->n_hold = (uint8_t)(w->holdings.n - c->hold_first);

    /* opening balances of the simulation */
    tl__gen_rng_seed(&c->rng, w->seed, GEN_S_TX, ci);
    double net = (double)c->net_month_minor;
    c->cur_minor = (int64_t)(net * tl__gen_lognormal(r, 0.9 * exp(-0.6 * c->fragility), 0.7));
    if (c->acct_sav >= 0)
        c->sav_minor = (int64_t)(gen_clamp(left, 0, 5e7) * 100.0 * (0.4 + 0.5 * gen_unif(r)));
    return 0;
}
