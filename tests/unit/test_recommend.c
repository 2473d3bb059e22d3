/*
 * test_recommend.c - the recommendation service: the rules on hand-made
 * customers and products, MMR, reasons, the neural ranker (a planted
 * preference, a cold-start customer), and serving on a generated bank
 * (never more than k items, never an item that breaks a rule, dismissals
 * take effect at once, lists stored).
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "bank/recommend_internal.h"
#include "testutil.h"

/* ---- a hand-made catalogue ------------------------------------------------------ */

static struct rc_product prod(const char *id, const char *cat, int risk, int min_age, int max_age,
                              int64_t min_income)
{
    struct rc_product p = {0};
    snprintf(p.id, sizeof p.id, "%s", id);
    snprintf(p.name, sizeof p.name, "Product %s", id);
    snprintf(p.category, sizeof p.category, "%s", cat);
    p.cat = tl__rc_cat_of(cat);
    p.risk = risk;
    p.rate_bp = -1;
    p.fee_minor = -1;
    p.min_age = min_age;
    p.max_age = max_age;
    p.min_income_minor = min_income;
    return p;
}

enum { P_CUR, P_CUR2, P_SAV, P_TD, P_CARD, P_LOAN, P_MORT, P_INS, P_FUND2, P_ETF4, P_YOUTH, N_P };

static struct rc_product PRODUCTS[N_P];
static struct rc_catalogue CAT = {PRODUCTS, N_P};
static const struct rc_rules_cfg CFG = {.cap_shown = 3, .cap_days = 30, .dismiss_days = 90,
                                        .mmr_lambda = 0.7};

static void catalogue_init(void)
{
    PRODUCTS[P_CUR] = prod("P01", "current_account", 1, 18, 0, 0);
    PRODUCTS[P_CUR2] = prod("P02", "current_account", 1, 18, 0, 4000000);
    PRODUCTS[P_SAV] = prod("P03", "savings_account", 1, 18, 0, 0);
    PRODUCTS[P_TD] = prod("P04", "term_deposit", 1, 18, 0, 0);
    PRODUCTS[P_CARD] = prod("P05", "credit_card", 2, 18, 0, 1500000);
    PRODUCTS[P_LOAN] = prod("P06", "personal_loan", 3, 18, 75, 1500000);
    PRODUCTS[P_MORT] = prod("P07", "mortgage", 2, 21, 65, 3500000);
    PRODUCTS[P_INS] = prod("P08", "insurance", 1, 18, 80, 0);
    PRODUCTS[P_FUND2] = prod("P09", "fund", 2, 18, 0, 0);
    PRODUCTS[P_ETF4] = prod("P10", "etf", 4, 18, 0, 0);
    PRODUCTS[P_YOUTH] = prod("P11", "current_account", 1, 18, 27, 0);
}

static struct rc_facts customer(int age, int64_t income, int risk)
{
    struct rc_facts f;
    cr_assert_eq(tl__rc_facts_alloc(&f, N_P), 0);
    f.age = age;
    f.income_known = income >= 0;
    f.annual_income_minor = income;
    f.risk_profile = risk;
    return f;
}

static int rule(int p, const struct rc_facts *f)
{
    bool tu;
    int r = tl__rc_rule_check(&CAT, p, f, &CFG, &tu);
    cr_assert_eq(r == RC_OK, tl__rc_rule_ok_independent(&CAT, p, f, &CFG),
                 "the two statements of the rules disagree on product %d", p);
    return r;
}

Test(recommend_rules, eligibility_by_age_and_income, .init = catalogue_init)
{
    struct rc_facts young = customer(19, 1000000, 0);
    cr_expect_eq(rule(P_YOUTH, &young), RC_OK);
    cr_expect_eq(rule(P_MORT, &young), RC_INELIGIBLE, "a 19-year-old is under the mortgage's 21");
    cr_expect_eq(rule(P_CARD, &young), RC_INELIGIBLE, "10,000 is under the card's 15,000 income");
    struct rc_facts old = customer(70, 9000000, 0);
    cr_expect_eq(rule(P_MORT, &old), RC_INELIGIBLE, "70 is over the mortgage's 65");
    cr_expect_eq(rule(P_YOUTH, &old), RC_INELIGIBLE);
    cr_expect_eq(rule(P_CARD, &old), RC_OK);
    struct rc_facts unknown = customer(-1, -1, 0);
    cr_expect_eq(rule(P_LOAN, &unknown), RC_INELIGIBLE, "no age, no income: not eligible");
    tl__rc_facts_free(&young);
    tl__rc_facts_free(&old);
    tl__rc_facts_free(&unknown);
}

Test(recommend_rules, suitability_follows_the_risk_profile, .init = catalogue_init)
{
    struct rc_facts none = customer(40, 5000000, 0), two = customer(40, 5000000, 2),
                    five = customer(40, 5000000, 5);
    cr_expect_eq(rule(P_FUND2, &none), RC_UNSUITABLE, "no risk profile: no investment product");
    cr_expect_eq(rule(P_FUND2, &two), RC_OK);
    cr_expect_eq(rule(P_ETF4, &two), RC_UNSUITABLE, "risk 4 above profile 2");
    cr_expect_eq(rule(P_ETF4, &five), RC_OK);
    cr_expect_eq(rule(P_LOAN, &none), RC_OK, "suitability is about investments only");
    tl__rc_facts_free(&none);
    tl__rc_facts_free(&two);
    tl__rc_facts_free(&five);
}

Test(recommend_rules, held_products_are_excluded_unless_stackable, .init = catalogue_init)
{
    struct rc_facts f = customer(40, 5000000, 3);
    f.held[P_CARD] = f.held[P_FUND2] = f.held[P_TD] = f.held[P_CUR] = 1;
    bool tu = false;
    cr_expect_eq(rule(P_CARD, &f), RC_HELD);
    cr_expect_eq(tl__rc_rule_check(&CAT, P_FUND2, &f, &CFG, &tu), RC_OK);
    cr_expect(tu, "a held fund is a top-up");
    cr_expect_eq(rule(P_TD, &f), RC_OK, "term deposits stack");
    cr_expect_eq(rule(P_CUR2, &f), RC_HELD, "one current account per customer");
    cr_expect_eq(rule(P_SAV, &f), RC_OK);
    tl__rc_facts_free(&f);
}

Test(recommend_rules, dismissed_are_suppressed_and_shown_are_capped, .init = catalogue_init)
{
    struct rc_facts f = customer(40, 5000000, 3);
    f.dismissed[P_SAV] = 1;
    f.shown[P_INS] = 3;
    f.shown[P_TD] = 2;
    cr_expect_eq(rule(P_SAV, &f), RC_DISMISSED);
    cr_expect_eq(rule(P_INS, &f), RC_CAPPED, "shown 3 times: capped at 3");
    cr_expect_eq(rule(P_TD, &f), RC_OK, "shown twice: still allowed");
    tl__rc_facts_free(&f);
}

Test(recommend_rules, the_two_statements_agree_on_many_random_customers, .init = catalogue_init)
{
    tl_rng r;
    tl_rng_seed(&r, 5);
    for (int c = 0; c < 3000; c++) {
        struct rc_facts f = customer((int)tl_rng_below(&r, 90) - 1,
                                     tl_rng_uniform(&r) < 0.1 ? -1 : (int64_t)tl_rng_below(&r, 10000000),
                                     (int)tl_rng_below(&r, 6));
        for (int p = 0; p < N_P; p++) {
            f.held[p] = tl_rng_uniform(&r) < 0.2;
            f.dismissed[p] = tl_rng_uniform(&r) < 0.1;
            f.shown[p] = (int32_t)tl_rng_below(&r, 5);
        }
        for (int p = 0; p < N_P; p++)
            rule(p, &f);
        tl__rc_facts_free(&f);
    }
}

Test(recommend_rules, mmr_diversity_changes_the_order, .init = catalogue_init)
{
    /* two current accounts and a savings account slightly behind them */
    float rel[N_P] = {0};
    rel[P_CUR] = 1.0f;
    rel[P_CUR2] = 0.95f;
    rel[P_SAV] = 0.8f;
    int32_t cand[] = {P_CUR, P_CUR2, P_SAV}, out[3];
    cr_assert_eq(tl__rc_mmr(&CAT, rel, cand, 3, 3, 1.0, out), 3);
    cr_expect(out[0] == P_CUR && out[1] == P_CUR2 && out[2] == P_SAV, "lambda 1: relevance order");
    cr_assert_eq(tl__rc_mmr(&CAT, rel, cand, 3, 3, 0.5, out), 3);
    cr_expect(out[0] == P_CUR && out[1] == P_SAV && out[2] == P_CUR2,
              "lambda 0.5: the other category moves up (got %d %d %d)", out[0], out[1], out[2]);
    cr_expect_eq(tl__rc_mmr(&CAT, rel, cand, 3, 2, 0.5, out), 2, "never more than k");
}

/* ---- reasons ---------------------------------------------------------------------- */

Test(recommend_reasons, card_interest_life_signals_similar_customers_and_fit, .init = catalogue_init)
{
    PRODUCTS[P_LOAN].rate_bp = 690;
    PRODUCTS[P_CARD].rate_bp = 1590;
    snprintf(PRODUCTS[P_INS].name, sizeof PRODUCTS[P_INS].name, "Annual Travel Insurance");
    struct tl_profile *pf = calloc(1, sizeof *pf);
    snprintf(pf->currency, sizeof pf->currency, "EUR");
    pf->income_found = true;
    pf->income_monthly_minor = 300000;
    pf->n_products = 1;
    snprintf(pf->products[0].product_id, 65, "P05");
    snprintf(pf->products[0].category, 24, "credit_card");
    pf->products[0].value_minor = -1000000; /* owes 10,000 on the card */
    pf->n_signals = 1;
    snprintf(pf->signals[0].kind, 16, "travel");
    pf->signals[0].count = 12;
    pf->signals[0].first_ms = 1767225600000LL;
    struct rc_facts f = customer(40, 5000000, 3);
    f.held[P_CARD] = 1;
    struct tl_recommend_item it;
    memset(&it, 0, sizeof it);
    tl__rc_reason(&CAT, P_LOAN, pf, &f, NULL, false, 0, &it);
    cr_expect_eq(it.reason_kind, TL_RECOMMEND_REASON_TRANSACTIONS, "%s", it.reason);
    /* 10,000 at 15.90% is 132.50 a month; at 6.90% 57.50 */
    cr_expect(strstr(it.reason, "\xe2\x82\xac" "133") && strstr(it.reason, "\xe2\x82\xac" "58"),
              "%s", it.reason);
    tl__rc_reason(&CAT, P_INS, pf, &f, NULL, false, 0, &it);
    cr_expect_eq(it.reason_kind, TL_RECOMMEND_REASON_LIFE_SIGNAL, "%s", it.reason);
    cr_expect(strstr(it.reason, "travel") != NULL, "%s", it.reason);
    /* similar customers: 40 of the 50 card holders also hold the savings account */
    int32_t count[N_P] = {0}, pair[N_P * N_P] = {0};
    count[P_CARD] = 50;
    count[P_SAV] = 60;
    pair[P_CARD * N_P + P_SAV] = 40;
    struct rc_cooc co = {.n = N_P, .n_users = 400, .count = count, .pair = pair};
    tl__rc_reason(&CAT, P_SAV, pf, &f, &co, false, 0, &it);
    cr_expect_eq(it.reason_kind, TL_RECOMMEND_REASON_SIMILAR, "%s", it.reason);
    cr_expect(strstr(it.reason, "80%") != NULL, "%s", it.reason);
    tl__rc_reason(&CAT, P_CUR, pf, &f, &co, false, 0, &it);
    cr_expect_eq(it.reason_kind, TL_RECOMMEND_REASON_PROFILE, "%s", it.reason);
    cr_expect(it.reason[0] != 0);
    tl__rc_reason(&CAT, P_FUND2, pf, &f, &co, true, 0, &it);
    cr_expect_eq(it.reason_kind, TL_RECOMMEND_REASON_TOP_UP, "%s", it.reason);
    tl__rc_facts_free(&f);
    free(pf);
}

/* ---- the ranker ---------------------------------------------------------------------- */

Test(recommend_ranker, learns_a_planted_preference_and_scores_a_cold_start_customer)
{
    /* young customers take products 0 and 1 (savings), older ones 2 and 3
     * (insurance); 4 and 5 nobody. The age feature is all that tells. */
    enum { NU = 120, NI = 6 };
    float *uf = calloc((size_t)NU * RK_DU, sizeof *uf), pf[NI * RK_DP];
    int cat[NI] = {RC_SAVINGS, RC_SAVINGS, RC_INSURANCE, RC_INSURANCE, RC_CREDIT_CARD, RC_AUTO_LOAN};
    for (int i = 0; i < NI; i++) {
        struct rc_product p = prod("X", tl__rc_cat_name(cat[i]), 1, 18, 0, 0);
        tl__rk_product_features(&p, pf + i * RK_DP);
    }
    int32_t rows[NU * 2], cols[NU * 2];
    tl_rng r;
    tl_rng_seed(&r, 11);
    for (int u = 0; u < NU; u++) {
        bool young = u % 2 == 0;
        uf[u * RK_DU + 1] = (float)(young ? 20 + tl_rng_below(&r, 10) : 60 + tl_rng_below(&r, 10));
        uf[u * RK_DU + 0] = (float)(7 + tl_rng_uniform(&r));
        rows[2 * u] = rows[2 * u + 1] = u;
        cols[2 * u] = young ? 0 : 2;
        cols[2 * u + 1] = young ? 1 : 3;
    }
    struct tl_rec_csr pos;
    tl_err err = {0};
    cr_assert_eq(tl_rec_csr_from_pairs(NU, NI, rows, cols, NU * 2, &pos, &err), 0, "%s", err.msg);
    struct rk_train_data d = {.n_users = NU, .n_items = NI, .ufeat = uf, .pfeat = pf,
                              .item_cat = cat, .pos = &pos};
    struct rk_train_opts o = {.epochs = 25, .n_neg = 3, .cold_p = 0.3, .lr = 1e-2, .seed = 3};
    struct rk_train_report rep;
    rk_model *m = NULL;
    cr_assert_eq(tl__rk_fit(&d, &o, &m, &rep, &err), 0, "%s", err.msg);
    float young[RK_DU] = {0}, old[RK_DU] = {0}, sy[NI], so[NI];
    young[0] = old[0] = 7.5f;
    young[1] = 24;
    old[1] = 64;
    cr_assert_eq(tl__rk_score(m, -1, young, NULL, NI, pf, cat, NULL, sy, &err), 0, "%s", err.msg);
    cr_assert_eq(tl__rk_score(m, -1, old, NULL, NI, pf, cat, NULL, so, &err), 0, "%s", err.msg);
    cr_expect(sy[0] > sy[2] && sy[1] > sy[3], "a new young customer prefers savings: %g %g vs %g %g",
              sy[0], sy[1], sy[2], sy[3]);
    cr_expect(so[2] > so[0] && so[3] > so[1], "a new older customer prefers insurance: %g %g vs %g %g",
              so[2], so[3], so[0], so[1]);
    cr_expect(sy[0] > sy[4] && so[2] > so[5], "products nobody took score lower");
    /* and it survives a round trip through its serialization */
    json_t *meta = NULL;
    uint8_t *w = NULL;
    size_t wn = 0;
    cr_assert_eq(tl__rk_save(m, &meta, &w, &wn, &err), 0, "%s", err.msg);
    rk_model *m2 = NULL;
    cr_assert_eq(tl__rk_load(meta, w, wn, &m2, &err), 0, "%s", err.msg);
    float s2[NI];
    cr_assert_eq(tl__rk_score(m2, -1, young, NULL, NI, pf, cat, NULL, s2, &err), 0, "%s", err.msg);
    for (int i = 0; i < NI; i++)
        cr_expect_float_eq(s2[i], sy[i], 1e-6);
    json_object_set_new(meta, "du", json_integer(3));
    rk_model *m3 = NULL;
    cr_expect_eq(tl__rk_load(meta, w, wn, &m3, &err), TL_EPARSE, "a shape mismatch is refused");
    json_decref(meta);
    free(w);
    tl__rk_free(m2);
    tl__rk_free(m);
    tl_rec_csr_free(&pos);
    free(uf);
}

/* ---- serving on a generated bank ----------------------------------------------------------- */

static char *bank_dir;
static tl_config *cfg;
static tl_ctx *ctx;

static void bank_setup(void)
{
    bank_dir = tu_tmpdir();
    char out[1100], url[1100];
    snprintf(out, sizeof out, "%s/bank", bank_dir);
    snprintf(url, sizeof url, "sqlite:%s/bank.db", bank_dir);
    struct tl_generate_opts g = {.n_customers = 150, .seed = 9, .out_dir = out, .months = 2,
                                 .quiet = true};
    struct tl_generate_result res;
    tl_err err = {0};
    cr_assert_eq(tl_generate(&g, &res, &err), 0, "%s", err.msg);
    cfg = tu_config(url, bank_dir);
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
    for (size_t t = 0; t < res.n_tables; t++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s.csv", out, res.tables[t]);
        struct tl_ingest_opts io = {.table = res.tables[t], .path = path, .quiet = true};
        struct tl_ingest_result ir;
        cr_assert_eq(tl_ingest_file(tl_ctx_store(ctx), &io, &ir, &err), 0, "%s: %s",
                     res.tables[t], err.msg);
    }
}

static void bank_teardown(void)
{
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    free(bank_dir);
}

static int on_count(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    *(int64_t *)ud = v[0].i;
    return 1;
}

Test(recommend_serve, lists_obey_every_rule_and_dismissals_take_effect_at_once,
     .init = bank_setup, .fini = bank_teardown, .timeout = 300)
{
    tl_err err = {0};
    struct tl_recommend_list *l = malloc(sizeof *l);
    cr_expect_eq(tl_recommend(ctx, "C000001", 5, l, &err), TL_ENOTFOUND,
                 "no champion yet: %s", err.msg);
    /* a third of the customers with a risk profile, so investments can show */
    tl_store *st = tl_ctx_store(ctx);
    for (int c = 1; c <= 150; c += 3) {
        char id[16], rp[24];
        snprintf(id, sizeof id, "C%06d", c);
        snprintf(rp, sizeof rp, "rp-test-%d", c);
        tl_value v[] = {TL_TEXT(rp), TL_TEXT(id), TL_INT(1000), TL_INT(1 + c % 5)};
        cr_assert_eq(tl_store_exec(st,
                                   "INSERT INTO risk_profiles (id, customer_id, created_ms, profile,"
                                   " tolerance, capacity, questionnaire, answers_digest, answers,"
                                   " output) VALUES (?, ?, ?, ?, 3, 3, 'q', 'd', '{}', '{}')",
                                   4, v, NULL, NULL, &err),
                     0, "%s", err.msg);
    }
    struct tl_recommend_train_opts to = {.models = "ease", .ranker_epochs = 8};
    json_t *tr = NULL;
    cr_assert_eq(tl_recommend_train(ctx, &to, &tr, &err), 0, "%s", err.msg);
    json_t *m0 = json_array_get(json_object_get(tr, "models"), 0);
    cr_expect(json_is_true(json_object_get(m0, "promoted")), "the first model is promoted");
    json_decref(tr);
    struct rc_catalogue c;
    cr_assert_eq(tl__rc_catalogue_load(st, &c, &err), 0, "%s", err.msg);
    struct rc_rules_cfg rcfg;
    cr_assert_eq(tl__rc_rules_cfg(cfg, &rcfg, &err), 0, "%s", err.msg);
    int n_items = 0, n_invest = 0, n_reasons = 0;
    for (int cu = 1; cu <= 150; cu++) {
        char id[16];
        snprintf(id, sizeof id, "C%06d", cu);
        int k = 1 + cu % 7;
        cr_assert_eq(tl_recommend(ctx, id, k, l, &err), 0, "%s: %s", id, err.msg);
        cr_assert_leq(l->n, (size_t)k, "%s: %zu items for k %d", id, l->n, k);
        struct rc_facts f;
        cr_assert_eq(tl__rc_facts_load(st, &c, &rcfg, id, tl_time_now_ms(), &f, &err), 0, "%s",
                     err.msg);
        for (size_t i = 0; i < l->n; i++) {
            int32_t p = tl__rc_catalogue_find(&c, l->items[i].product_id);
            cr_assert_geq(p, 0);
            cr_assert(tl__rc_rule_ok_independent(&c, p, &f, &rcfg), "%s: %s breaks a rule", id,
                      l->items[i].product_id);
            cr_assert_eq(l->items[i].rank, (int)i + 1);
            n_reasons += l->items[i].reason[0] != 0;
            n_invest += tl__rc_is_investment(&c.p[p]);
        }
        n_items += (int)l->n;
        tl__rc_facts_free(&f);
    }
    cr_expect_eq(n_reasons, n_items, "every item has a reason");
    cr_expect_gt(n_items, 150, "lists are not empty");
    cr_expect_gt(n_invest, 0, "customers with a risk profile get investments");
    int64_t stored = 0;
    cr_assert_eq(tl_store_exec(st, "SELECT count(*) FROM recommendations", 0, NULL, on_count,
                               &stored, &err),
                 0, "%s", err.msg);
    cr_expect_eq(stored, 150, "every list is stored");
    /* dismiss the first item: gone from the next list */
    cr_assert_eq(tl_recommend(ctx, "C000004", 5, l, &err), 0, "%s", err.msg);
    cr_assert_gt(l->n, 0);
    char first[65];
    snprintf(first, sizeof first, "%s", l->items[0].product_id);
    struct tl_recommend_event ev = {.customer_id = "C000004", .product_id = first,
                                    .event = "dismissed", .channel = "mobile"};
    char iid[40];
    cr_assert_eq(tl_recommend_record(ctx, &ev, iid, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_recommend(ctx, "C000004", 5, l, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < l->n; i++)
        cr_expect_neq(strcmp(l->items[i].product_id, first), 0, "dismissed %s came back", first);
    cr_expect_eq(l->excluded_dismissed, 1);
    /* bad feedback is refused naming the field */
    ev.event = "liked";
    cr_expect_eq(tl_recommend_record(ctx, &ev, iid, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "event") != NULL, "%s", err.msg);
    ev.event = "clicked";
    ev.product_id = "P999";
    cr_expect_eq(tl_recommend_record(ctx, &ev, iid, &err), TL_ENOTFOUND);
    cr_expect_eq(tl_recommend(ctx, "C999999", 5, l, &err), TL_ENOTFOUND);
    cr_expect_eq(tl_recommend(ctx, "C000004", 0, l, &err), TL_EINVAL);
    /* the list journals */
    cr_assert_eq(tl_recommend(ctx, "C000007", 3, l, &err), 0, "%s", err.msg);
    cr_expect_eq(tl_recommend_journal(ctx, "test", "cli", "test", l, &err), 0, "%s", err.msg);
    tl__rc_catalogue_free(&c);
    free(l);
}
