/*
 * generate_tx.c - pass T: money movements, month by month.
 *
 * Each customer keeps a running state (balances, its random stream) and
 * re-derives its habits each month from its own habit stream: category
 * tastes, favourite merchants and their terminals, regular payees, budget.
 * All customers' movements of a month are then sorted by time and written,
 * so the file is chronological and ids grow with time, while memory stays
 * bounded by one month of transactions.
 *
 * Fraud follows the simulator of the Fraud Detection Handbook (ch. 3.2),
 * with the schedule of generate_fraud.c. Each card payment is labelled with
 * the first scenario that applies, in the handbook's order of precedence:
 * 3. a compromised card: a third of its payments in the 14 days after the
 *    compromise are fraud, with five times the usual amount;
 * 2. a compromised in-store terminal: all its payments in the 28 days after
 *    the compromise are fraud;
 * 1. any card payment above a threshold is fraud.
 */
#include "generate_internal.h"

#include <teller/datetime.h>

#include <stdlib.h>
/* -------------------------------------------------------------- month --- */

struct month {
    int32_t lo, hi;        /* days of history in this month */
    int32_t first, last;   /* calendar bounds */
    int32_t last_business; /* last weekday of the month */
    int mon;               /* 1..12 */
};

struct txbuf {
    GEN_VEC(struct gen_tx) tx;
    bool oom;
    struct gen_tx scratch;
};

static struct gen_tx *tx_new(struct txbuf *b)
{
    if (b->tx.n == b->tx.cap &&
        tl__gen_grow((void **)&b->tx.v, &b->tx.cap, b->tx.n + 1, sizeof *b->tx.v) < 0) {
        b->oom = true;
        return &b->scratch;
    }
    struct gen_tx *t = &b->tx.v[b->tx.n++];
    memset(t, 0, sizeof *t);
    t->terminal = GEN_NO_INDEX;
    return t;
}

struct sim {
    struct gen_world *w;
    struct gen_cust *c;
    struct gen_habits *h;
    struct txbuf *b;
    struct gen_rng *r;
    uint32_t cur, sav, card; /* global account indices; GEN_NO_INDEX for none */
    int32_t sav_from, card_from;
    double month_spend_eur;
    int32_t day;
    bool stolen; /* card compromised today (scenario 3) */
};

static int64_t local_time(const struct sim *s, int lo_h, int hi_h)
{
    int sec = lo_h * 3600 + (int)gen_below(s->r, (uint32_t)((hi_h - lo_h) * 3600));
    return gen_local_ts(s->w, s->day, sec);
}

static int64_t hour_time(const struct sim *s, enum gen_hours prof)
{
    const double *p = tl__gen_hour_profile[prof];
    int hour = (int)tl__gen_pick(s->r, p, 24);
    return gen_local_ts(s->w, s->day, hour * 3600 + (int)gen_below(s->r, 3600));
}

static struct gen_tx *post(struct sim *s, uint32_t account, int64_t ts, int64_t amount, int kind, int channel,
                           uint32_t text)
{
    struct gen_tx *t = tx_new(s->b);
    t->ts = ts;
    t->amount_minor = amount;
    t->account = account;
    t->kind = (uint8_t)kind;
    t->channel = (uint8_t)channel;
    t->text = text;
    t->country = 0;
    if (account == s->cur)
        s->c->cur_minor += amount;
    else if (account == s->sav)
        s->c->sav_minor += amount;
    else if (account == s->card)
        s->c->card_minor += amount;
    return t;
}

/* A card payment at a merchant: picks the account, applies the fraud
 * scenarios and posts it. */
static void card_payment(struct sim *s, uint32_t merchant, uint32_t terminal, int64_t ts, double eur,
                         int channel)
{
    struct gen_world *w = s->w;
    const struct gen_merchant *m = &w->merchants.v[merchant];
    int64_t amount = (int64_t)llround(eur * 100.0);
    if (amount < 50)
        amount = 50 + (int64_t)gen_below(s->r, 150);
    int fraud = 0;
    if (s->stolen && gen_chance(s->r, 1.0 / 3.0)) {
        amount *= 5;
        fraud = 3;
    } else if (tl__gen_terminal_compromised(w, terminal, s->day)) {
        fraud = 2;
    } else if (amount > w->fraud_threshold_minor) {
        fraud = 1;
    }
    uint32_t account = s->cur;
    if (s->card != GEN_NO_INDEX && s->day >= s->card_from && gen_chance(s->r, s->h->credit_share) &&
        -s->c->card_minor + amount <= w->accounts.v[s->card].limit_minor)
        account = s->card;
    struct gen_tx *t = post(s, account, ts, -amount, GEN_T_CARD, channel, m->text);
    t->terminal = terminal;
    t->mcc = (uint16_t)tl__gen_spend[m->cat].mcc;
    t->country = m->country;
    t->fraud = (uint8_t)fraud;
    w->n_card_tx++;
    s->c->n_card_tx++;
    if (fraud)
        w->n_fraud++;
    s->month_spend_eur += (double)amount / 100.0;
}

static double ticket(struct sim *s, int k, double scale)
{
    const struct gen_spend_cat *cat = &tl__gen_spend[k];
    return cat->median_eur * s->h->ticket[k] * scale *
           exp(cat->sigma * s->h->sigma_mult * tl__gen_normal(s->r));
}

/* Everyday spending at home: category by the day's weights, then a
 * favourite merchant (or any), the hour by the category's rhythm. */
static void spend_home(struct sim *s, const double *w_day, const double *online_p, double lambda)
{
    uint32_t n = tl__gen_poisson(s->r, lambda);
    struct gen_world *w = s->w;
    const struct gen_habits *h = s->h;
    for (uint32_t i = 0; i < n; i++) {
        int k = (int)tl__gen_pick(s->r, w_day, GEN_K_COUNT);
        const struct gen_spend_cat *cat = &tl__gen_spend[k];
        bool online = gen_chance(s->r, online_p[k]);
        uint32_t m, term;
        if (online) {
            m = h->fav_online[k] != GEN_NO_INDEX && gen_chance(s->r, 0.6)
                    ? h->fav_online[k]
                    : tl__gen_pick_merchant(s->r, w, &w->online[k]);
            term = w->merchants.v[m].term_first;
        } else {
            const struct gen_shelf *sh = &w->shelves[(size_t)s->c->city * GEN_K_COUNT + (size_t)k];
            if (!sh->n)
                continue;
            if (h->n_fav[k] && gen_chance(s->r, 0.85)) {
                double u = gen_unif(s->r) * h->fav_cum[k][h->n_fav[k] - 1];
                int j = 0;
                while (j < h->n_fav[k] - 1 && h->fav_cum[k][j] <= u)
                    j++;
                m = h->fav[k][j];
                const struct gen_merchant *me = &w->merchants.v[m];
                term =
                    gen_chance(s->r, 0.8) ? h->fav_term[k][j] : me->term_first + gen_below(s->r, me->n_term);
            } else {
                m = tl__gen_pick_merchant(s->r, w, sh);
                const struct gen_merchant *me = &w->merchants.v[m];
                term = me->term_first + gen_below(s->r, me->n_term);
            }
        }
        int64_t ts = hour_time(s, online ? GEN_H_ONLINE : cat->hours);
        card_payment(s, m, term, ts, ticket(s, k, h->amt_mult), online ? GEN_CH_ONLINE : GEN_CH_POS);
    }
}

static const struct gen_trip *trip_on(const struct gen_cust *c, int32_t day)
{
    for (int k = 0; k < c->n_trips; k++) {
        const struct gen_trip *t = &c->trips[k];
        if (day >= t->start_day && day <= t->start_day + t->nights)
            return t;
    }
    return NULL;
}

static bool foreign_currency(const char *cc)
{
    static const char *const non_euro[] = {"GB", "CH", "US", "TH", "DK", "CZ", "PL", "TR", NULL};
    for (int i = 0; non_euro[i]; i++)
        if (strcmp(non_euro[i], cc) == 0)
            return true;
    return false;
}

/* Spending on a day abroad: merchants of the destination, more meals out,
 * the hotel paid on the way out, sometimes cash from a local ATM. */
static void spend_trip(struct sim *s, const struct gen_trip *t)
{
    struct gen_world *w = s->w;
    const struct gen_city *city = &tl__gen_cities[t->city];
    double wk[GEN_K_COUNT];
    for (int k = 0; k < GEN_K_COUNT; k++) {
        const struct gen_shelf *sh = &w->shelves[(size_t)t->city * GEN_K_COUNT + (size_t)k];
        wk[k] = sh->n && k != GEN_K_HOTEL ? tl__gen_spend[k].abroad : 0;
        if (k == GEN_K_FUEL && t->flight)
            wk[k] = 0;
    }
    double total = 0;
    for (int k = 0; k < GEN_K_COUNT; k++)
        total += wk[k];
    if (total > 0) {
        uint32_t n = tl__gen_poisson(s->r, 2.6);
        for (uint32_t i = 0; i < n; i++) {
            int k = (int)tl__gen_pick(s->r, wk, GEN_K_COUNT);
            const struct gen_shelf *sh = &w->shelves[(size_t)t->city * GEN_K_COUNT + (size_t)k];
            uint32_t m = tl__gen_pick_merchant(s->r, w, sh);
            const struct gen_merchant *me = &w->merchants.v[m];
            uint32_t term = me->term_first + gen_below(s->r, me->n_term);
            card_payment(s, m, term, hour_time(s, tl__gen_spend[k].hours),
                         ticket(s, k, pow(s->h->amt_mult, 0.5) * 1.2), GEN_CH_POS);
        }
    }
    if (s->day == t->start_day + t->nights) {
        const struct gen_shelf *sh = &w->shelves[(size_t)t->city * GEN_K_COUNT + GEN_K_HOTEL];
        if (sh->n) {
            uint32_t m = tl__gen_pick_merchant(s->r, w, sh);
            const struct gen_merchant *me = &w->merchants.v[m];
            double eur = s->h->hotel_eur * t->nights * tl__gen_lognormal(s->r, 1.0, 0.15);
            card_payment(s, m, me->term_first + gen_below(s->r, me->n_term), local_time(s, 8, 12), eur,
                         GEN_CH_POS);
        }
    }
    if (s->day == t->start_day + 1 && gen_chance(s->r, 0.35)) {
        uint32_t atm = w->atm_first[t->city] + gen_below(s->r, w->atm_n[t->city]);
        int64_t eur = 50 * gen_range(s->r, 2, 6);
        int64_t ts = local_time(s, 9, 21);
        struct gen_tx *tx = post(s, s->cur, ts, -eur * 100, GEN_T_ATM, GEN_CH_ATM, w->city_atm_text[t->city]);
        tx->terminal = (uint32_t)w->term_merchant.n + atm; /* ATMs are numbered after the terminals */
        tx->mcc = 6011;
        tx->country = (uint8_t)tl__gen_country_index(city->country);
        s->month_spend_eur += (double)eur;
        if (foreign_currency(city->country)) {
            struct gen_tx *fee = post(s, s->cur, ts, -499, GEN_T_FEE, GEN_CH_BATCH, w->text_atm_fee);
            fee->country = tx->country;
        }
    }
}

static bool is_weekend(int32_t day)
{
    return gen_weekday(day) >= 5;
}

/* The business day on or after a day of the month, capped at the month. */
static int32_t on_business(const struct month *mo, int dom)
{
    int32_t d = mo->first + dom - 1;
    if (d > mo->last)
        d = mo->last;
    while (is_weekend(d) && d < mo->last)
        d++;
    return d;
}

static void cust_month(struct gen_world *w, uint32_t ci, const struct month *mo, struct gen_habits *h,
                       struct txbuf *b)
{
    struct gen_cust *c = &w->cust[ci];
    int32_t lo = mo->lo > c->since_day ? mo->lo : c->since_day;
    if (lo > mo->hi)
        return;
    tl__gen_habits(w, ci, c, h);
    struct sim s = {.w = w, .c = c, .h = h, .b = b, .r = &c->rng};
    s.cur = c->acct_first + (uint32_t)c->acct_cur;
    s.sav = c->acct_sav >= 0 ? c->acct_first + (uint32_t)c->acct_sav : GEN_NO_INDEX;
    s.card = c->acct_card >= 0 ? c->acct_first + (uint32_t)c->acct_card : GEN_NO_INDEX;
    s.sav_from = s.sav != GEN_NO_INDEX ? w->accounts.v[s.sav].opened_day : INT32_MAX;
    s.card_from = s.card != GEN_NO_INDEX ? w->accounts.v[s.card].opened_day : INT32_MAX;
    const struct gen_account *cur_acct = &w->accounts.v[s.cur];

    /* this month's weights per weekday and the matching intensity */
    double wd_w[7][GEN_K_COUNT], online_p[7][GEN_K_COUNT], lam[7];
    double norm = 0;
    for (int k = 0; k < GEN_K_COUNT; k++) {
        const struct gen_spend_cat *cat = &tl__gen_spend[k];
        double avg = 0;
        for (int d = 0; d < 7; d++)
            avg += cat->dow[d] / 7.0;
        norm += h->base[k] * (h->online_ok[k] + (1 - h->online_ok[k]) * avg);
    }
    for (int d = 0; d < 7; d++) {
        double sum = 0;
        for (int k = 0; k < GEN_K_COUNT; k++) {
            const struct gen_spend_cat *cat = &tl__gen_spend[k];
            double os = h->online_ok[k], store = (1 - os) * cat->dow[d];
            wd_w[d][k] = h->base[k] * cat->month[mo->mon - 1] * (os + store);
            online_p[d][k] = os + store > 0 ? os / (os + store) : 0;
            sum += wd_w[d][k];
        }
        lam[d] = h->rate / 30.44 * sum / norm;
    }

    /* self-employed income arrives as client payments on a few days */
    int32_t client_days[4];
    int n_clients = 0;
    if (c->occupation == GEN_O_SELF_EMPLOYED) {
        n_clients = 1 + (int)gen_below(s.r, 4);
        for (int k = 0; k < n_clients; k++)
            client_days[k] = mo->first + (int32_t)gen_below(s.r, (uint32_t)(mo->last - mo->first + 1));
    }
    double client_total = (double)c->net_month_minor * tl__gen_lognormal(s.r, 1.0, 0.35);
    int32_t payday = h->payday == 0 ? mo->last_business : on_business(mo, h->payday);
    int32_t rent_day = on_business(mo, h->rent_dom);
    s.month_spend_eur = 0;
    bool od_month = false;

    for (int32_t day = lo; day <= mo->hi; day++) {
        s.day = day;
        int dom = day - mo->first + 1;
        int wd = gen_weekday(day);
        s.stolen = tl__gen_card_compromised(w, ci, day);

        /* money in */
        if (day == payday && c->occupation != GEN_O_SELF_EMPLOYED) {
            bool benefits = c->occupation == GEN_O_UNEMPLOYED;
            double jitter = c->occupation == GEN_O_RETAIL || c->occupation == GEN_O_HOSPITALITY ||
                                    c->occupation == GEN_O_DRIVER || c->occupation == GEN_O_STUDENT
                                ? 0.06
                                : 0.004;
            double pay = (double)c->net_month_minor * (1 + jitter * tl__gen_normal(s.r));
            if (h->bonus && mo->mon == 11)
                pay *= 1.5 + 0.4 * gen_unif(s.r);
            post(&s, s.cur, local_time(&s, 1, 6), (int64_t)llround(pay),
                 benefits ? GEN_T_TRANSFER_IN : GEN_T_SALARY, GEN_CH_BATCH, h->salary_text);
        }
        for (int k = 0; k < n_clients; k++)
            if (day == client_days[k])
                post(&s, s.cur, local_time(&s, 6, 20), (int64_t)llround(client_total / n_clients),
                     GEN_T_TRANSFER_IN, GEN_CH_BATCH, w->text_clients);
        if (h->parents_minor && day == on_business(mo, 1))
            post(&s, s.cur, local_time(&s, 6, 20), h->parents_minor, GEN_T_TRANSFER_IN, GEN_CH_BATCH,
                 w->text_parents);

        /* standing orders and direct debits */
        if (h->rent_minor && day == rent_day)
            post(&s, s.cur, local_time(&s, 2, 6), -h->rent_minor, GEN_T_RENT, GEN_CH_BATCH, h->rent_text);
        for (int k = 0; k < h->n_bills; k++) {
            const struct gen_bill *bl = &h->bills[k];
            if (bl->quarterly && (mo->mon - 1) % 3 != 0)
                continue;
            if (day == on_business(mo, bl->dom)) {
                struct gen_tx *t = post(&s, s.cur, local_time(&s, 2, 7), -bl->amount_minor, GEN_T_BILL,
                                        GEN_CH_BATCH, bl->text);
                t->mcc = bl->mcc;
            }
        }
        for (uint32_t k = 0; k < c->n_acct; k++) {
            const struct gen_account *a = &w->accounts.v[c->acct_first + k];
            if ((a->type != GEN_AT_LOAN && a->type != GEN_AT_MORTGAGE) || dom != a->pay_dom ||
                day <= a->opened_day + 20 || day > a->matures_day)
                continue;
            post(&s, s.cur, local_time(&s, 2, 6), -a->payment_minor, GEN_T_LOAN_PAYMENT, GEN_CH_BATCH,
                 a->type == GEN_AT_MORTGAGE ? w->text_mortgage : w->text_loan);
        }
        if (dom == 1) {
            for (uint32_t k = 0; k < c->n_hold; k++) {
                const struct gen_holding *ho = &w->holdings.v[c->hold_first + k];
                if (tl__gen_products[ho->product].category != GEN_C_INSURANCE || ho->opened_day >= day)
                    continue;
                struct gen_tx *t =
                    post(&s, s.cur, local_time(&s, 2, 6), -tl__gen_products[ho->product].fee_minor / 12,
                         GEN_T_BILL, GEN_CH_BATCH, w->text_insurance);
                t->mcc = 6300;
            }
        }
        if (h->savings_order_minor && day >= s.sav_from && day == on_business(mo, h->savings_dom)) {
            int64_t ts = local_time(&s, 3, 6);
            post(&s, s.cur, ts, -h->savings_order_minor, GEN_T_TRANSFER_OUT, GEN_CH_BATCH,
                 w->text_savings_out);
            post(&s, s.sav, ts, h->savings_order_minor, GEN_T_TRANSFER_IN, GEN_CH_BATCH, w->text_savings_in);
        }
        if (c->plan_minor && c->acct_inv >= 0 && dom == 15 &&
            day > w->accounts.v[c->acct_first + (uint32_t)c->acct_inv].opened_day)
            post(&s, s.cur, local_time(&s, 3, 6), -c->plan_minor, GEN_T_TRANSFER_OUT, GEN_CH_BATCH,
                 w->text_plan);
        for (int k = 0; k < h->n_subs; k++)
            if (dom == h->subs[k].dom) {
                const struct gen_merchant *m = &w->merchants.v[h->subs[k].merchant];
                card_payment(&s, h->subs[k].merchant, m->term_first, local_time(&s, 0, 6),
                             (double)h->subs[k].amount_minor / 100.0, GEN_CH_ONLINE);
            }

        /* the credit card bill: statement at month end, debited on the 10th */
        if (s.card != GEN_NO_INDEX && dom == 10 && c->card_stmt_minor > 0) {
            int64_t due = c->card_stmt_minor;
            int64_t pay = c->revolver ? (due / 10 > 5000 ? due / 10 : (due < 5000 ? due : 5000)) : due;
            int64_t ts = local_time(&s, 3, 6);
            post(&s, s.cur, ts, -pay, GEN_T_TRANSFER_OUT, GEN_CH_BATCH, w->text_card_pay);
            post(&s, s.card, ts, pay, GEN_T_TRANSFER_IN, GEN_CH_BATCH, w->text_card_in);
            c->card_stmt_minor = 0;
        }

        /* trips: the flight is booked weeks ahead, then days abroad */
        for (int k = 0; k < c->n_trips; k++) {
            const struct gen_trip *t = &c->trips[k];
            if (!t->flight || day != t->start_day - 21 - (t->start_day % 40))
                continue;
            const struct gen_shelf *air = &w->online[GEN_K_AIRLINE];
            uint32_t m = tl__gen_pick_merchant(s.r, w, air);
            bool longhaul = strcmp(tl__gen_cities[t->city].country, "US") == 0 ||
                            strcmp(tl__gen_cities[t->city].country, "TH") == 0;
            int people = c->household >= 2 ? (c->household > 3 ? 3 : c->household) : 1;
            double eur = h->flight_eur * (longhaul ? 4.0 : 1.0) * people * tl__gen_lognormal(s.r, 1.0, 0.2);
            card_payment(&s, m, w->merchants.v[m].term_first, hour_time(&s, GEN_H_ONLINE), eur,
                         GEN_CH_ONLINE);
        }
        const struct gen_trip *trip = trip_on(c, day);
        if (trip) {
            spend_trip(&s, trip);
            spend_home(&s, wd_w[wd], online_p[wd], lam[wd] * 0.1);
        } else {
            double boost = mo->mon == 12 ? (dom <= 23 ? 1.2 : dom == 24 ? 1.1 : dom <= 26 ? 0.35 : 0.9) : 1.0;
            spend_home(&s, wd_w[wd], online_p[wd], lam[wd] * boost);

            /* cash */
            double atm_lambda = h->atm_rate / 30.44 * (wd == 4 || wd == 5 ? 1.4 : wd == 6 ? 0.5 : 1.0);
            uint32_t na = tl__gen_poisson(s.r, atm_lambda);
            for (uint32_t k = 0; k < na; k++) {
                static const double mult[] = {0.5, 1, 1, 1, 1.5, 2};
                double eur = h->atm_typical_eur * mult[gen_below(s.r, 6)];
                int64_t amount = (int64_t)(eur < 50 ? floor(eur / 10) * 10 : floor(eur / 50) * 50) * 100;
                if (amount < 2000)
                    amount = 2000;
                uint32_t atm = gen_chance(s.r, 0.8)
                                   ? h->atm_home[gen_below(s.r, 2)]
                                   : w->atm_first[c->city] + gen_below(s.r, w->atm_n[c->city]);
                struct gen_tx *t = post(&s, s.cur, hour_time(&s, GEN_H_SHOP), -amount, GEN_T_ATM, GEN_CH_ATM,
                                        w->city_atm_text[c->city]);
                t->terminal = (uint32_t)w->term_merchant.n + atm;
                t->mcc = 6011;
                t->country = (uint8_t)tl__gen_country_index(tl__gen_cities[c->city].country);
                s.month_spend_eur += (double)amount / 100.0;
            }
        }

        /* transfers between people */
        uint32_t n_out = tl__gen_poisson(s.r, h->p2p_out_rate / 30.44);
        for (uint32_t k = 0; k < n_out; k++) {
            int64_t amount = (int64_t)(floor(tl__gen_lognormal(s.r, 40, 0.8) / 5.0) * 5 + 5) * 100;
            post(&s, s.cur, hour_time(&s, GEN_H_ONLINE), -amount, GEN_T_TRANSFER_OUT,
                 c->age < 60            ? GEN_CH_MOBILE
                 : gen_chance(s.r, 0.3) ? GEN_CH_BRANCH
                                        : GEN_CH_ONLINE,
                 w->text_p2p_out);
        }
        uint32_t n_in = tl__gen_poisson(s.r, h->p2p_in_rate / 30.44);
        for (uint32_t k = 0; k < n_in; k++) {
            int64_t amount = (int64_t)(floor(tl__gen_lognormal(s.r, 35, 0.8) / 5.0) * 5 + 5) * 100;
            post(&s, s.cur, hour_time(&s, GEN_H_ONLINE), amount, GEN_T_TRANSFER_IN, GEN_CH_MOBILE,
                 w->text_p2p_in);
        }

        /* end of day: an overdraft is covered from savings when there are any */
        if (c->cur_minor < -20000 && s.sav != GEN_NO_INDEX && day >= s.sav_from && c->sav_minor > 50000 &&
            gen_chance(s.r, 0.7)) {
            int64_t move = -c->cur_minor + 30000;
            if (move > c->sav_minor)
                move = c->sav_minor;
            move = move / 5000 * 5000;
            if (move > 0) {
                int64_t ts = local_time(&s, 18, 23);
                post(&s, s.sav, ts, -move, GEN_T_TRANSFER_OUT, GEN_CH_MOBILE, w->text_transfer_to_cur);
                post(&s, s.cur, ts, move, GEN_T_TRANSFER_IN, GEN_CH_MOBILE, w->text_transfer_from_sav);
            }
        }
        if (c->cur_minor < 0) {
            c->od_days++;
            od_month = true;
            c->od_interest_minor += (double)-c->cur_minor * 0.115 / 365.0;
        }

        /* month end: interest, fees, the card statement */
        if (day == mo->last) {
            int64_t ts = gen_local_ts(w, day, 23 * 3600 + 30 * 60);
            if (c->od_interest_minor >= 1) {
                post(&s, s.cur, ts, -(int64_t)c->od_interest_minor, GEN_T_FEE, GEN_CH_BATCH,
                     w->text_od_interest);
                c->od_interest_minor = 0;
            }
            int64_t fee = tl__gen_products[cur_acct->product].fee_minor / 12;
            if (fee)
                post(&s, s.cur, ts, -fee, GEN_T_FEE, GEN_CH_BATCH, w->text_account_fee);
            if (s.sav != GEN_NO_INDEX && day >= s.sav_from && c->sav_minor > 0) {
                int64_t interest =
                    (int64_t)((double)c->sav_minor * tl__gen_products[w->accounts.v[s.sav].product].rate_bp /
                              10000.0 / 12.0);
                if (interest > 0)
                    post(&s, s.sav, ts, interest, GEN_T_INTEREST, GEN_CH_BATCH, w->text_interest);
            }
            if (s.card != GEN_NO_INDEX && day >= s.card_from) {
                const struct gen_account *ca = &w->accounts.v[s.card];
                if (c->revolver && c->card_minor < 0) {
                    int64_t interest =
                        (int64_t)((double)-c->card_minor * tl__gen_products[ca->product].rate_bp / 10000.0 /
                                  12.0 * 0.5);
                    if (interest > 0)
                        post(&s, s.card, ts, -interest, GEN_T_FEE, GEN_CH_BATCH, w->text_card_interest);
                }
                int y;
                unsigned m, d;
                tl_civil_from_days(ca->opened_day, &y, &m, &d);
                if ((int)m == mo->mon && ca->opened_day < mo->first &&
                    tl__gen_products[ca->product].fee_minor)
                    post(&s, s.card, ts, -tl__gen_products[ca->product].fee_minor, GEN_T_FEE, GEN_CH_BATCH,
                         w->text_card_fee);
                c->card_stmt_minor = c->card_minor < 0 ? -c->card_minor : 0;
            }
        }
    }
    if (od_month)
        c->od_months++;
    if (lo == mo->first && mo->hi == mo->last) {
        c->active_months++;
        c->spend_sum += s.month_spend_eur;
        c->spend_sq += s.month_spend_eur * s.month_spend_eur;
    }
}

/* ------------------------------------------------------------- output --- */

static const char *const KIND_NAMES[] = {"card", "salary", "transfer_in", "transfer_out", "bill",
                                         "rent", "atm",    "fee",         "interest",     "loan_payment"};
static const char *const CHANNEL_NAMES[] = {"pos", "online", "atm", "branch", "mobile", "batch"};

/* LSD radix sort of 64-bit keys, 16 bits a pass, skipping constant digits. */
static int radix_sort(uint64_t *keys, size_t n)
{
    if (n < 2)
        return 0;
    uint64_t *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return TL_ENOMEM;
    }
    uint64_t *src = keys, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & 0xffff]++;
        if (count[(src[0] >> shift) & 0xffff] == n)
            continue;
        size_t acc = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = acc;
            acc += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys)
        memcpy(keys, src, n * sizeof *keys);
    free(tmp);
    free(count);
    return 0;
}

static void write_tx(struct gen_world *w, struct gen_out *o, uint64_t id, const struct gen_tx *t)
{
    gen_need(o, GEN_ROW_MAX);
    gen_put_id(o, "T", id, 9);
    gen_sep(o);
    gen_put_id(o, "A", (uint64_t)t->account + 1, 7);
    gen_sep(o);
    tl__gen_put_ts(o, t->ts);
    gen_sep(o);
    gen_put_money(o, t->amount_minor);
    gen_puts(o, ",EUR,");
    gen_puts(o, KIND_NAMES[t->kind]);
    gen_sep(o);
    gen_puts(o, CHANNEL_NAMES[t->channel]);
    gen_sep(o);
    if (t->mcc)
        gen_put_u64w(o, t->mcc, 4);
    gen_sep(o);
    uint32_t n_terms = (uint32_t)w->term_merchant.n;
    if (t->terminal != GEN_NO_INDEX && t->terminal < n_terms) {
        gen_put_id(o, "M", (uint64_t)w->term_merchant.v[t->terminal] + 1, 6);
        gen_sep(o);
        gen_put_id(o, "TM", (uint64_t)t->terminal + 1, 7);
    } else if (t->terminal != GEN_NO_INDEX) {
        gen_sep(o);
        gen_put_id(o, "ATM", (uint64_t)(t->terminal - n_terms) + 1, 6);
    } else {
        gen_sep(o);
    }
    gen_sep(o);
    gen_puts(o, tl__gen_countries[t->country].code);
    gen_sep(o);
    gen_puts(o, gen_text(w, t->text));
    gen_sep(o);
    gen_putc(o, t->fraud ? '1' : '0');
    gen_sep(o);
    gen_putc(o, (char)('0' + t->fraud));
    gen_eol(o);
}

int tl__gen_transactions(struct gen_world *w, tl_err *err)
{
    struct gen_out o;
    int rc = tl__gen_out_open(&o, w->out_dir, "transactions", err);
    if (rc < 0)
        return rc;
    struct txbuf b = {0};
    struct gen_habits *h = malloc(sizeof *h);
    GEN_VEC(uint64_t) keys = {0};
    if (!h)
        goto oom;
    uint64_t next_id = 1;
    int32_t day = w->start_day;
    while (day <= w->end_day) {
        struct month mo;
        int y;
        unsigned m, d;
        tl_civil_from_days(day, &y, &m, &d);
        mo.mon = (int)m;
        mo.first = (int32_t)tl_days_from_civil(y, m, 1);
        mo.last = (int32_t)(m == 12 ? tl_days_from_civil(y + 1, 1, 1) : tl_days_from_civil(y, m + 1, 1)) - 1;
        mo.last_business = mo.last;
        while (is_weekend(mo.last_business))
            mo.last_business--;
        mo.lo = day;
        mo.hi = mo.last < w->end_day ? mo.last : w->end_day;

        b.tx.n = 0;
        for (uint32_t ci = 0; ci < w->n_customers; ci++) {
            cust_month(w, ci, &mo, h, &b);
            if ((ci & 1023) == 1023)
                tl__gen_progress(w, 1024);
        }
        tl__gen_progress(w, w->n_customers & 1023);
        if (b.oom)
            goto oom;

        /* sort the month by (time, generation order): deterministic, and
         * every customer's own movements keep their order */
        int64_t base = (int64_t)mo.first * 86400 - 4 * 3600;
        if (b.tx.n > keys.cap && tl__gen_grow((void **)&keys.v, &keys.cap, b.tx.n, sizeof *keys.v) < 0)
            goto oom;
        for (size_t i = 0; i < b.tx.n; i++) {
            int64_t rel = b.tx.v[i].ts - base;
            if (rel < 0)
                rel = 0;
            keys.v[i] = ((uint64_t)rel << 40) | i;
        }
        if (radix_sort(keys.v, b.tx.n) < 0)
            goto oom;
        for (size_t i = 0; i < b.tx.n; i++)
            write_tx(w, &o, next_id++, &b.tx.v[keys.v[i] & ((1ULL << 40) - 1)]);
        day = mo.hi + 1;
    }
    free(b.tx.v);
    free(keys.v);
    free(h);
    w->rows[GEN_TB_TRANSACTIONS] = o.rows;
    return tl__gen_out_close(&o, err);
oom:
    free(b.tx.v);
    free(keys.v);
    free(h);
    tl__gen_out_close(&o, NULL);
    return tl_err_set(err, TL_ENOMEM, "out of memory generating transactions");
}
