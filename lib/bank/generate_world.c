/*
 * generate_world.c - the places money moves through: merchants with their
 * terminals in every city (scaled to the expected residents and visitors),
 * online merchants, ATMs, and the statement texts transactions print.
 */
#include "generate_internal.h"

#include <stdlib.h>

int tl__gen_text_add(struct gen_world *w, const char *s, uint32_t *out)
{
    /* Escape once here (texts are printed millions of times). Offsets are
     * kept until the pool stops growing, then turned into pointers. */
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    size_t need = w->text_pool.n + 2 * n + 3;
    if (need > w->text_pool.cap && tl__gen_grow((void **)&w->text_pool.v, &w->text_pool.cap, need, 1) < 0)
        return TL_ENOMEM;
    GEN_PUSH(w->texts, oom);
    size_t off = w->text_pool.n;
    char *d = w->text_pool.v + off;
    size_t k = 0;
    if (quote)
        d[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (quote && s[i] == '"')
            d[k++] = '"';
        d[k++] = s[i];
    }
    if (quote)
        d[k++] = '"';
    d[k++] = 0;
    w->text_pool.n += k;
    w->texts.v[w->texts.n] = (char *)(uintptr_t)off;
    *out = (uint32_t)w->texts.n++;
    return 0;
oom:
    return TL_ENOMEM;
}

static void texts_finish(struct gen_world *w)
{
    for (size_t i = 0; i < w->texts.n; i++)
        w->texts.v[i] = w->text_pool.v + (uintptr_t)w->texts.v[i];
}

static int textf(struct gen_world *w, uint32_t *out, const char *fmt, const char *a, const char *b)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, a, b ? b : "");
    return tl__gen_text_add(w, buf, out);
}

/* Splits "NAME|CC" into a name and a country index. */
static int online_country(const char *spec, char *name, size_t size)
{
    const char *bar = strchr(spec, '|');
    size_t n = bar ? (size_t)(bar - spec) : strlen(spec);
    if (n >= size)
        n = size - 1;
    memcpy(name, spec, n);
    name[n] = 0;
    return bar ? tl__gen_country_index(bar + 1) : 0;
}

static int add_merchant(struct gen_world *w, int cat, int city, int country, uint32_t text, int n_term,
                        double pop)
{
    GEN_PUSH(w->merchants, oom);
    struct gen_merchant *m = &w->merchants.v[w->merchants.n];
    m->cat = (uint8_t)cat;
    m->city = (uint16_t)city;
    m->country = (uint8_t)country;
    m->text = text;
    m->n_term = (uint16_t)n_term;
    m->term_first = (uint32_t)w->term_merchant.n;
    for (int t = 0; t < n_term; t++) {
        GEN_PUSH(w->term_merchant, oom);
        w->term_merchant.v[w->term_merchant.n++] = (uint32_t)w->merchants.n;
    }
    m->pop_cum = pop; /* made cumulative over the shelf by shelf_cumulate */
    w->merchants.n++;
    return 0;
oom:
    return TL_ENOMEM;
}

static void shelf_cumulate(struct gen_world *w, struct gen_shelf *s)
{
    double acc = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        acc += w->merchants.v[s->first + i].pop_cum;
        w->merchants.v[s->first + i].pop_cum = acc;
    }
}

int tl__gen_world_build(struct gen_world *w, tl_err *err)
{
    struct gen_rng r;
    tl__gen_rng_seed(&r, w->seed, GEN_S_WORLD, 0);
    size_t nc = tl__gen_n_cities;
    double res_total = 0, vis_total = 0;
    for (size_t c = 0; c < nc; c++) {
        res_total += tl__gen_cities[c].residents;
        vis_total += tl__gen_cities[c].visitors;
    }
    w->shelves = calloc(nc * GEN_K_COUNT, sizeof *w->shelves);
    w->atm_first = calloc(nc, sizeof *w->atm_first);
    w->atm_n = calloc(nc, sizeof *w->atm_n);
    w->city_atm_text = calloc(nc, sizeof *w->city_atm_text);
    w->employer_text = calloc(GEN_O_COUNT, sizeof *w->employer_text);
    if (!w->shelves || !w->atm_first || !w->atm_n || !w->city_atm_text || !w->employer_text)
        goto oom;
    double n = (double)w->n_customers;

    /* in-store merchants, city by city; their terminals come first so that
     * [0, n_pos_terminals) are the ones scenario 2 can compromise */
    char name[160];
    for (size_t c = 0; c < nc; c++) {
        const struct gen_city *city = &tl__gen_cities[c];
        int country = tl__gen_country_index(city->country);
        double residents = n * city->residents / res_total;
        double visitors = n * 0.05 * city->visitors / vis_total; /* on any given day, roughly */
        for (int k = 0; k < GEN_K_COUNT; k++) {
            const struct gen_spend_cat *cat = &tl__gen_spend[k];
            struct gen_shelf *s = &w->shelves[c * GEN_K_COUNT + (size_t)k];
            s->first = (uint32_t)w->merchants.n;
            if (cat->per_customer <= 0)
                continue;
            bool foreign = strcmp(city->country, "DE") != 0 && strcmp(city->country, "AT") != 0;
            const char *const *brands = foreign ? cat->brands_intl : cat->brands;
            size_t nb = tl__gen_count(brands);
            if (!nb)
                continue;
            double want = residents * cat->per_customer + visitors * cat->abroad * 20 * cat->per_customer;
            int count = (int)(want + 0.5);
            int minimum = city->residents > 0 ? cat->min_merchants : (cat->abroad > 0 ? 1 : 0);
            if (count < minimum)
                count = minimum;
            /* chains by Zipf popularity: a few brands take most trade */
            double bw[32];
            int uses[32] = {0};
            size_t m = nb < 32 ? nb : 32;
            for (size_t b = 0; b < m; b++)
                bw[b] = 1.0 / pow((double)b + 1.0, 0.8);
            for (int i = 0; i < count; i++) {
                size_t b = tl__gen_pick(&r, bw, m);
                if (uses[b]++)
                    snprintf(name, sizeof name, "%s %s FIL. %d", brands[b], city->stmt, uses[b]);
                else
                    snprintf(name, sizeof name, "%s %s", brands[b], city->stmt);
                uint32_t text;
                if (tl__gen_text_add(w, name, &text) < 0)
                    goto oom;
                double pop = bw[b] * tl__gen_lognormal(&r, 1.0, 0.5);
                int terms = gen_range(&r, cat->term_lo, cat->term_hi);
                if (add_merchant(w, k, (int)c, country, text, terms, pop) < 0)
                    goto oom;
            }
            s->n = (uint32_t)w->merchants.n - s->first;
            shelf_cumulate(w, s);
        }
    }
    w->n_pos_terminals = (uint32_t)w->term_merchant.n;

    /* online merchants: one virtual terminal each, registered where the
     * company bills from */
    for (int k = 0; k < GEN_K_COUNT; k++) {
        struct gen_shelf *s = &w->online[k];
        s->first = (uint32_t)w->merchants.n;
        const char *const *list = tl__gen_spend[k].online;
        size_t nb = tl__gen_count(list);
        for (size_t b = 0; b < nb; b++) {
            int country = online_country(list[b], name, sizeof name);
            uint32_t text;
            if (tl__gen_text_add(w, name, &text) < 0 ||
                add_merchant(w, k, UINT16_MAX, country, text, 1, 1.0 / pow((double)b + 1.0, 0.7)) < 0)
                goto oom;
        }
        s->n = (uint32_t)w->merchants.n - s->first;
        shelf_cumulate(w, s);
    }

    /* the bank's ATMs at home, other banks' abroad */
    for (size_t c = 0; c < nc; c++) {
        const struct gen_city *city = &tl__gen_cities[c];
        double residents = n * city->residents / res_total;
        uint32_t count = (uint32_t)(residents / 150.0) + (city->residents > 0 ? 2 : 1);
        w->atm_first[c] = w->n_atms;
        w->atm_n[c] = count;
        w->n_atms += count;
        if (textf(w, &w->city_atm_text[c], "GA %s%s", city->stmt, NULL) < 0)
            goto oom;
    }

    /* payers and payees of the regular movements */
    for (int o = 0; o < GEN_O_COUNT; o++) {
        const struct gen_occupation_info *oc = &tl__gen_occupations[o];
        const char *prefix = o == GEN_O_RETIRED         ? "RENTENZAHLUNG "
                             : o == GEN_O_UNEMPLOYED    ? "LEISTUNGSZAHLUNG "
                             : o == GEN_O_SELF_EMPLOYED ? ""
                                                        : "LOHN/GEHALT ";
        size_t ne = tl__gen_count(oc->employers);
        for (size_t e = 0; e < ne; e++) {
            uint32_t t;
            if (textf(w, &t, "%s%s", prefix, oc->employers[e]) < 0)
                goto oom;
            if (e == 0)
                w->employer_text[o] = t;
        }
    }
    const struct {
        const char *const *list;
        const char *fmt;
        uint32_t *first;
    } payees[] = {
        {tl__gen_landlords, "MIETE %s%s", &w->landlord_text},
        {tl__gen_utilities, "%s ABSCHLAG STROM/GAS%s", &w->utility_text},
        {tl__gen_telcos, "%s INTERNET%s", &w->telco_text},
        {tl__gen_mobile, "%s RECHNUNG%s", &w->mobile_text},
        {tl__gen_insurers, "%s BEITRAG%s", &w->insurer_text},
        {tl__gen_gyms, "%s MITGLIEDSBEITRAG%s", &w->gym_text},
    };
    for (size_t p = 0; p < sizeof payees / sizeof payees[0]; p++) {
        size_t ne = tl__gen_count(payees[p].list);
        for (size_t e = 0; e < ne; e++) {
            uint32_t t;
            if (textf(w, &t, payees[p].fmt, payees[p].list[e], NULL) < 0)
                goto oom;
            if (e == 0)
                *payees[p].first = t;
        }
    }
    const struct {
        const char *text;
        uint32_t *index;
    } fixed[] = {
        {"UEBERTRAG VOM GIROKONTO", &w->text_savings_in},
        {"DAUERAUFTRAG SPARKONTO", &w->text_savings_out},
        {"KREDITKARTENABRECHNUNG", &w->text_card_pay},
        {"ZAHLUNG KREDITKARTENABRECHNUNG", &w->text_card_in},
        {"DISPOSITIONSZINSEN", &w->text_od_interest},
        {"SOLLZINSEN KREDITKARTE", &w->text_card_interest},
        {"KONTOFUEHRUNGSENTGELT", &w->text_account_fee},
        {"JAHRESENTGELT KREDITKARTE", &w->text_card_fee},
        {"HABENZINSEN", &w->text_interest},
        {"RUNDFUNK ARD ZDF DRADIO", &w->text_broadcast},
        {"WERTPAPIER-SPARPLAN", &w->text_plan},
        {"ENTGELT FREMDAUTOMAT", &w->text_atm_fee},
        {"UNTERHALT ELTERN", &w->text_parents},
        {"KUNDENZAHLUNG RECHNUNG", &w->text_clients},
        {"UEBERWEISUNG PRIVAT", &w->text_p2p_in},
        {"ECHTZEITUEBERWEISUNG", &w->text_p2p_out},
        {"DARLEHEN RATE", &w->text_loan},
        {"BAUFINANZIERUNG RATE", &w->text_mortgage},
        {"TELLER BANK VERSICHERUNG BEITRAG", &w->text_insurance},
        {"UMBUCHUNG VOM SPARKONTO", &w->text_transfer_from_sav},
        {"UMBUCHUNG AUF GIROKONTO", &w->text_transfer_to_cur},
    };
    for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
        if (tl__gen_text_add(w, fixed[f].text, fixed[f].index) < 0)
            goto oom;
    texts_finish(w);
    return 0;
oom:
    return tl_err_set(err, TL_ENOMEM, "out of memory building the merchants of the synthetic bank");
}

void tl__gen_world_free(struct gen_world *w)
{
    free(w->utc_offset_h);
    free(w->merchants.v);
    free(w->term_merchant.v);
    free(w->shelves);
    free(w->atm_first);
    free(w->atm_n);
    free(w->city_atm_text);
    free(w->employer_text);
    free(w->texts.v);
    free(w->text_pool.v);
    free(w->cust);
    free(w->accounts.v);
    free(w->holdings.v);
    free(w->apps.v);
    free(w->term_comp_first);
    free(w->term_comp_day);
    free(w->card_comp_first);
    free(w->card_comp_day);
}
