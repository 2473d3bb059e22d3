/*
 * generate_habits.c - a customer's steady habits for pass T: tastes per
 * spending category, favourite merchants and the terminal each is usually
 * paid at, regular payees (rent, utilities, phone, insurance, gym,
 * subscriptions), and a budget that makes spending add up to the share of
 * income the customer spends. Derived from the customer's own habit stream,
 * so they come out identical every month without being stored.
 */
#include "generate_internal.h"

static const double YOUNG[GEN_K_COUNT] = {
    [GEN_K_GROCERY] = 0.9,     [GEN_K_BAKERY] = 0.8, [GEN_K_RESTAURANT] = 1.0, [GEN_K_FASTFOOD] = 1.8,
    [GEN_K_BAR] = 2.2,         [GEN_K_FUEL] = 0.8,   [GEN_K_DEPARTMENT] = 0.6, [GEN_K_CLOTHING] = 1.4,
    [GEN_K_ELECTRONICS] = 1.2, [GEN_K_DIY] = 0.4,    [GEN_K_PHARMACY] = 0.8,   [GEN_K_TRANSIT] = 1.6,
    [GEN_K_TAXI] = 1.5,        [GEN_K_CINEMA] = 1.6, [GEN_K_MISC] = 1.1,       [GEN_K_HOTEL] = 0.8};
static const double SENIOR[GEN_K_COUNT] = {
    [GEN_K_GROCERY] = 1.25,    [GEN_K_BAKERY] = 1.6, [GEN_K_RESTAURANT] = 0.9, [GEN_K_FASTFOOD] = 0.35,
    [GEN_K_BAR] = 0.3,         [GEN_K_FUEL] = 0.8,   [GEN_K_DEPARTMENT] = 1.5, [GEN_K_CLOTHING] = 0.7,
    [GEN_K_ELECTRONICS] = 0.6, [GEN_K_DIY] = 1.1,    [GEN_K_PHARMACY] = 2.0,   [GEN_K_TRANSIT] = 0.8,
    [GEN_K_TAXI] = 1.0,        [GEN_K_CINEMA] = 0.5, [GEN_K_MISC] = 0.9,       [GEN_K_HOTEL] = 1.0};

static const struct {
    double p_young, p_old;
    double eur;
} SUBS[] = {
    /* in the order of the online digital merchants in generate_data.c */
    {0.45, 0.20, 13.99}, {0.55, 0.10, 10.99}, {0.25, 0.06, 9.99},  {0.35, 0.20, 8.99},
    {0.35, 0.12, 2.99},  {0.15, 0.05, 1.99},  {0.08, 0.02, 34.99}, {0.12, 0.01, 8.99},
};

static int fav_count(int k)
{
    switch (k) {
    case GEN_K_GROCERY: return 3;
    case GEN_K_RESTAURANT: return 4;
    case GEN_K_FASTFOOD: return 3;
    default: return 2;
    }
}

/* A day of the month for a regular payment; on_business() moves it off
 * weekends when it falls due. */
static uint8_t pay_dom(struct gen_rng *r, int lo, int hi)
{
    return (uint8_t)gen_range(r, lo, hi);
}

void tl__gen_habits(const struct gen_world *w, uint32_t ci, const struct gen_cust *c, struct gen_habits *h)
{
    struct gen_rng r;
    tl__gen_rng_seed(&r, w->seed, GEN_S_HABIT, ci);
    memset(h, 0, sizeof *h);
    int age = c->age;
    double gross = (double)c->income_minor / 100.0;
    double inc = log(gross / 45000.0);
    double net = (double)c->net_month_minor / 100.0;
    const struct gen_city *city = &tl__gen_cities[c->city];
    bool home_de = strcmp(city->country, "DE") == 0;

    /* tastes */
    double young = gen_clamp((35.0 - age) / 12.0, 0, 1), old = gen_clamp((age - 55.0) / 15.0, 0, 1);
    for (int k = 0; k < GEN_K_COUNT; k++) {
        const struct gen_spend_cat *cat = &tl__gen_spend[k];
        double m = 1.0;
        if (YOUNG[k] > 0)
            m *= 1.0 + young * (YOUNG[k] - 1.0);
        if (SENIOR[k] > 0)
            m *= 1.0 + old * (SENIOR[k] - 1.0);
        h->base[k] = cat->share * m * tl__gen_lognormal(&r, 1.0, 0.45);
        h->ticket[k] = tl__gen_lognormal(&r, 1.0, 0.25);
        h->online_ok[k] = w->online[k].n ? cat->online_share * (age < 40 ? 1.3 : age > 65 ? 0.5 : 1.0) : 0;
        if (h->online_ok[k] > 0.9)
            h->online_ok[k] = cat->online_share;
    }
    if (!c->has_car)
        h->base[GEN_K_FUEL] *= 0.04;
    h->base[GEN_K_TRANSIT] *= c->has_car ? 0.5 : 1.7;
    if (c->household >= 3) {
        h->base[GEN_K_GROCERY] *= 1.3;
        h->base[GEN_K_DIY] *= 1.3;
        h->base[GEN_K_BAR] *= 0.6;
        h->ticket[GEN_K_GROCERY] *= 0.8 + 0.15 * c->household;
    }
    h->base[GEN_K_RESTAURANT] *= exp(0.35 * inc);
    h->base[GEN_K_HOTEL] *= exp(0.4 * inc);
    h->base[GEN_K_TAXI] *= exp(0.35 * inc);
    h->base[GEN_K_FASTFOOD] *= exp(-0.25 * inc);

    /* favourite merchants and the terminal at which they usually pay */
    for (int k = 0; k < GEN_K_COUNT; k++) {
        const struct gen_shelf *s = &w->shelves[(size_t)c->city * GEN_K_COUNT + (size_t)k];
        h->fav_online[k] = GEN_NO_INDEX;
        if (w->online[k].n && gen_chance(&r, 0.7))
            h->fav_online[k] = tl__gen_pick_merchant(&r, w, &w->online[k]);
        if (!s->n)
            continue;
        int nf = fav_count(k);
        double acc = 0;
        for (int j = 0; j < nf; j++) {
            uint32_t m = tl__gen_pick_merchant(&r, w, s);
            const struct gen_merchant *me = &w->merchants.v[m];
            h->fav[k][j] = m;
            h->fav_term[k][j] = me->term_first + gen_below(&r, me->n_term);
            acc += j == 0 ? 1.0 : 0.5 / j;
            h->fav_cum[k][j] = acc;
        }
        h->n_fav[k] = (uint8_t)nf;
    }

    /* income */
    const struct gen_occupation_info *oc = &tl__gen_occupations[c->occupation];
    h->salary_text = w->employer_text[c->occupation] + gen_below(&r, (uint32_t)tl__gen_count(oc->employers));
    h->payday = c->occupation == GEN_O_CIVIL_SERVANT || c->occupation == GEN_O_TEACHER ? 1
                : gen_chance(&r, 0.8)                                                  ? 0
                : gen_chance(&r, 0.5)                                                  ? 15
                                                                                       : 1;
    h->bonus = c->occupation != GEN_O_RETIRED && c->occupation != GEN_O_UNEMPLOYED &&
               c->occupation != GEN_O_STUDENT && c->occupation != GEN_O_SELF_EMPLOYED && gen_chance(&r, 0.45);
    if (c->occupation == GEN_O_STUDENT)
        h->parents_minor = gen_chance(&r, 0.7) ? (int64_t)(tl__gen_lognormal(&r, 450, 0.4)) * 100 : 0;

    /* fixed costs */
    double fixed = 0;
    if (c->pays_rent) {
        double rent = city->rent_mult * (380 + 190 * (c->household - 1)) * tl__gen_lognormal(&r, 1.0, 0.2);
        rent = gen_clamp(rent, 250, 0.45 * net + 250);
        h->rent_minor = (int64_t)(floor(rent / 5.0 + 0.5) * 500);
        h->rent_text = w->landlord_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_landlords));
        h->rent_dom = pay_dom(&r, 1, 3);
        fixed += (double)h->rent_minor / 100;
    }
    bool own_home = c->pays_rent || c->household >= 2 || c->age >= 25;
    struct gen_bill *b = h->bills;
    if (own_home) {
        *b++ = (struct gen_bill){(int64_t)(40 + 25 * c->household * tl__gen_lognormal(&r, 1.0, 0.2)) * 100,
                                 w->utility_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_utilities)),
                                 4900, pay_dom(&r, 2, 15), 0};
        if (gen_chance(&r, 0.85))
            *b++ = (struct gen_bill){(int64_t)gen_range(&r, 2999, 5499) / 100 * 100 + 99,
                                     w->telco_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_telcos)),
                                     4814, pay_dom(&r, 1, 28), 0};
        *b++ = (struct gen_bill){5508, w->text_broadcast, 0, 15, 1};
    }
    if (gen_chance(&r, 0.9))
        *b++ = (struct gen_bill){(int64_t)gen_range(&r, 7, 45) * 100 + 99,
                                 w->mobile_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_mobile)),
                                 4814, pay_dom(&r, 1, 28), 0};
    if (gen_chance(&r, 0.6))
        *b++ = (struct gen_bill){(int64_t)(tl__gen_lognormal(&r, 14, 0.4) * 100),
                                 w->insurer_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_insurers)),
                                 6300, pay_dom(&r, 1, 5), 0};
    if (c->has_car)
        *b++ = (struct gen_bill){(int64_t)(tl__gen_lognormal(&r, 55, 0.35) * 100),
                                 w->insurer_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_insurers)),
                                 6300, pay_dom(&r, 1, 5), 0};
    if (gen_chance(&r, age < 45 ? 0.32 : 0.12))
        *b++ = (struct gen_bill){(int64_t)gen_range(&r, 19, 59) * 100 + 90,
                                 w->gym_text + gen_below(&r, (uint32_t)tl__gen_count(tl__gen_gyms)), 7997,
                                 pay_dom(&r, 1, 5), 0};
    h->n_bills = (int)(b - h->bills);
    for (int k = 0; k < h->n_bills; k++)
        fixed += (double)h->bills[k].amount_minor / 100 / (h->bills[k].quarterly ? 3 : 1);

    /* subscriptions on the card */
    const struct gen_shelf *dig = &w->online[GEN_K_DIGITAL];
    for (uint32_t k = 0; k < dig->n && k < sizeof SUBS / sizeof SUBS[0] && h->n_subs < GEN_MAX_SUBS; k++) {
        double p = SUBS[k].p_young + (SUBS[k].p_old - SUBS[k].p_young) * gen_clamp((age - 25) / 45.0, 0, 1);
        if (gen_chance(&r, p)) {
            h->subs[h->n_subs++] = (struct gen_sub){(int64_t)llround(SUBS[k].eur * 100), dig->first + k,
                                                    (uint8_t)gen_range(&r, 1, 28)};
            fixed += SUBS[k].eur;
        }
    }
    if (home_de && !c->has_car && w->online[GEN_K_TRANSIT].n && age < 75 && gen_chance(&r, 0.45) &&
        h->n_subs < GEN_MAX_SUBS) {
        h->subs[h->n_subs++] =
            (struct gen_sub){5800, w->online[GEN_K_TRANSIT].first, 1}; /* Deutschlandticket */
        fixed += 58;
        h->base[GEN_K_TRANSIT] *= 0.3;
    }

    /* credit products and the bank's own insurance */
    for (uint32_t k = 0; k < c->n_acct; k++) {
        const struct gen_account *a = &w->accounts.v[c->acct_first + k];
        if (a->type == GEN_AT_LOAN || a->type == GEN_AT_MORTGAGE)
            fixed += (double)a->payment_minor / 100;
    }
    for (uint32_t k = 0; k < c->n_hold; k++) {
        const struct gen_holding *ho = &w->holdings.v[c->hold_first + k];
        if (tl__gen_products[ho->product].category == GEN_C_INSURANCE)
            fixed += (double)tl__gen_products[ho->product].fee_minor / 1200;
    }
    fixed += (double)c->plan_minor / 100;
    double income_total = net + (double)h->parents_minor / 100;

    /* saving: a standing order when the budget leaves room */
    double room = income_total * (0.97 - c->spend_ratio);
    if (c->acct_sav >= 0 && room > 25) {
        h->savings_order_minor = (int64_t)(floor(room * 0.6 / 25.0) * 2500);
        h->savings_dom = (uint8_t)(h->payday == 0 ? 1 : h->payday + 1);
        fixed += (double)h->savings_order_minor / 100;
    }

    /* what is left is spent by card, cash and transfers */
    double budget = income_total * c->spend_ratio - fixed;
    if (budget < 0.12 * income_total)
        budget = 0.12 * income_total;
    double cash = budget * c->cash_share;
    h->p2p_out_rate = gen_clamp(tl__gen_lognormal(&r, age < 35 ? 1.2 : 0.6, 0.6), 0, 6);
    h->p2p_in_rate = gen_clamp(tl__gen_lognormal(&r, age < 35 ? 0.8 : 0.35, 0.6), 0, 4);
    double card = budget - cash - h->p2p_out_rate * 45;
    if (card < 0.08 * income_total)
        card = 0.08 * income_total;
    double wsum = 0, expect = 0;
    for (int k = 0; k < GEN_K_COUNT; k++) {
        const struct gen_spend_cat *cat = &tl__gen_spend[k];
        wsum += h->base[k];
        expect += h->base[k] * cat->median_eur * h->ticket[k] * exp(cat->sigma * cat->sigma / 2);
    }
    expect /= wsum;
    double age_f = age < 30 ? 1.15 : age > 70 ? 0.75 : 1.0;
    h->rate = gen_clamp(11.0 * pow(card / 700.0, 0.35) * age_f * tl__gen_lognormal(&r, 1.0, 0.25), 3, 90);
    h->amt_mult = gen_clamp(card / (h->rate * expect), 0.25, 6);
    h->sigma_mult = gen_clamp(1.0 + 0.15 * c->fragility, 0.8, 1.5);
    h->credit_share =
        c->acct_card >= 0 ? gen_clamp(0.35 + 0.4 * gen_unif(&r) + 0.1 * c->fragility, 0.1, 0.95) : 0;

    h->atm_typical_eur =
        floor(gen_clamp(tl__gen_lognormal(&r, 100 * pow(gross / 40000.0, 0.3), 0.4), 20, 1000) / 10) * 10;
    h->atm_rate = cash / h->atm_typical_eur;
    uint32_t na = w->atm_n[c->city];
    h->atm_home[0] = w->atm_first[c->city] + gen_below(&r, na);
    h->atm_home[1] = w->atm_first[c->city] + gen_below(&r, na);

    h->hotel_eur = tl__gen_lognormal(&r, 95 * pow(gross / 45000.0, 0.3), 0.3);
    h->flight_eur = tl__gen_lognormal(&r, 160 * pow(gross / 45000.0, 0.2), 0.3);
}
