/*
 * test_profile.c - customer 360 and segments.
 *
 * - The MCC table: known codes to their categories, every category named.
 * - A hand-made customer with known answers: income the median of its
 *   salaries, spending by category as monthly averages, rent as a fixed
 *   cost and a new-rent signal, children and travel signals with their
 *   evidence, the savings rate, the balance trend, transfers not counted as
 *   spending; tl_profile_observe folding a new transaction once and
 *   skipping late ones; bad input named.
 * - Incremental exactness on a generated bank: the states after ingesting
 *   everything at once equal, byte for byte, the states after ingesting in
 *   two halves with a refresh between, and the states after the second half
 *   arrives through tl_profile_observe one transaction at a time; a rebuild
 *   gives them again.
 * - Segments on that bank: deterministic for a seed, stored, shown in the
 *   profile, assignable, bad k refused.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <teller/profile.h>
#include <teller/segment.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the MCC table ------------------------------------------------------------- */

Test(profile_mcc, codes_map_to_readable_categories)
{
    cr_assert_eq(tl_profile_category_of_mcc(5411), TL_CAT_GROCERIES);
    cr_assert_eq(tl_profile_category_of_mcc(5462), TL_CAT_GROCERIES);
    cr_assert_eq(tl_profile_category_of_mcc(5812), TL_CAT_RESTAURANTS);
    cr_assert_eq(tl_profile_category_of_mcc(4511), TL_CAT_TRAVEL);
    cr_assert_eq(tl_profile_category_of_mcc(3005), TL_CAT_TRAVEL, "airline brand codes");
    cr_assert_eq(tl_profile_category_of_mcc(3650), TL_CAT_TRAVEL, "hotel brand codes");
    cr_assert_eq(tl_profile_category_of_mcc(7011), TL_CAT_TRAVEL);
    cr_assert_eq(tl_profile_category_of_mcc(5945), TL_CAT_CHILDREN, "toy shops before misc retail");
    cr_assert_eq(tl_profile_category_of_mcc(5641), TL_CAT_CHILDREN, "children's wear before apparel");
    cr_assert_eq(tl_profile_category_of_mcc(8211), TL_CAT_CHILDREN);
    cr_assert_eq(tl_profile_category_of_mcc(5691), TL_CAT_CLOTHING);
    cr_assert_eq(tl_profile_category_of_mcc(4900), TL_CAT_UTILITIES);
    cr_assert_eq(tl_profile_category_of_mcc(6011), TL_CAT_CASH);
    cr_assert_eq(tl_profile_category_of_mcc(7997), TL_CAT_PERSONAL);
    cr_assert_eq(tl_profile_category_of_mcc(5999), TL_CAT_SHOPPING);
    cr_assert_eq(tl_profile_category_of_mcc(9999), -1);
    cr_assert_eq(tl_profile_category_of_mcc(-1), -1);
    for (int k = 0; k < TL_CAT_COUNT; k++) {
        cr_assert_not_null(tl_profile_category_name(k));
        cr_assert_not_null(tl_profile_category_label(k));
        for (int j = 0; j < k; j++)
            cr_assert_str_neq(tl_profile_category_name(k), tl_profile_category_name(j));
    }
    cr_assert_null(tl_profile_category_name(TL_CAT_COUNT));
}

/* ---- a hand-made customer -------------------------------------------------------- */

static char *dir;
static tl_config *cfg;
static tl_ctx *ctx;

static void ingest_text(tl_ctx *c, const char *table, const char *csv)
{
    FILE *f = fmemopen((void *)csv, strlen(csv), "r");
    cr_assert_not_null(f);
    struct tl_ingest_opts io = {.table = table, .format = TL_FORMAT_CSV, .quiet = true};
    struct tl_ingest_result ir;
    tl_err err = {0};
    cr_assert_eq(tl_ingest_stream(tl_ctx_store(c), f, table, &io, &ir, &err), 0, "%s: %s", table,
                 err.msg);
    fclose(f);
}

static void open_ctx(const char *sub)
{
    char url[1200];
    snprintf(url, sizeof url, "sqlite:%s/%s.db", dir, sub);
    tl_err err = {0};
    cfg = tu_config(url, dir);
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
}

static void hand_setup(void)
{
    dir = tu_tmpdir();
    open_ctx("hand");
    ingest_text(ctx, "customers",
                "id,name,birth_date,country,currency,customer_since\n"
                "K1,Kim Test,1990-05-01,DE,EUR,2020-01-15\n"
                "K2,Other One,1980-01-01,DE,EUR,2024-01-01\n");
    ingest_text(ctx, "accounts",
                "id,customer_id,type,currency,balance,opened_at,status\n"
                "A1,K1,current,EUR,5000.00,2020-01-15T00:00:00Z,open\n"
                "A2,K1,savings,EUR,1000.00,2020-01-15T00:00:00Z,open\n"
                "A9,K2,current,EUR,10.00,2024-01-01T00:00:00Z,open\n");
    /* six months, January to June 2026; each month closed by a fee on its last day */
    char csv[16384];
    size_t o = (size_t)snprintf(
        csv, sizeof csv, "id,account_id,ts,amount,currency,kind,channel,mcc,country,description\n");
    static const int last[] = {31, 28, 31, 30, 31, 30};
    for (int m = 1; m <= 6; m++) {
#define ROW(fmt, ...) o += (size_t)snprintf(csv + o, sizeof csv - o, fmt "\n", __VA_ARGS__)
        ROW("T%d01,A1,2026-%02d-01T03:00:00Z,%s,EUR,salary,batch,,DE,ACME GMBH LOHN", m, m,
            m == 3 ? "3100.00" : "3000.00");
        ROW("T%d02,A1,2026-%02d-03T04:00:00Z,-100.00,EUR,transfer_out,batch,,DE,DAUERAUFTRAG SPARKONTO",
            m, m);
        ROW("T%d03,A2,2026-%02d-03T04:00:00Z,100.00,EUR,transfer_in,batch,,DE,UEBERTRAG VOM GIROKONTO",
            m, m);
        if (m >= 4)
            ROW("T%d04,A1,2026-%02d-04T04:00:00Z,-900.00,EUR,rent,batch,,DE,MIETE HAUS AG", m, m);
        ROW("T%d05,A1,2026-%02d-05T05:00:00Z,-50.00,EUR,bill,batch,4900,DE,STADTWERKE", m, m);
        ROW("T%d06,A1,2026-%02d-10T17:00:00Z,-200.00,EUR,card,pos,5411,DE,SUPERMARKT", m, m);
        if (m == 2 || m == 5)
            ROW("T%d07,A1,2026-%02d-12T15:00:00Z,-30.00,EUR,card,pos,5945,DE,SPIELWAREN", m, m);
        if (m == 3)
            ROW("T%d08,A1,2026-%02d-20T20:00:00Z,-80.00,EUR,card,pos,5812,FR,BISTRO PARIS", m, m);
        ROW("T%d09,A1,2026-%02d-%02dT22:30:00Z,-5.00,EUR,fee,batch,,DE,KONTOFUEHRUNG", m, m,
            last[m - 1]);
    }
    ingest_text(ctx, "transactions", csv);
}

static void teardown(void)
{
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    free(dir);
}

static const struct tl_profile_signal *signal_of(const struct tl_profile *p, const char *kind)
{
    for (size_t i = 0; i < p->n_signals; i++)
        if (strcmp(p->signals[i].kind, kind) == 0)
            return &p->signals[i];
    return NULL;
}

Test(profile, a_known_customer_gives_known_figures, .init = hand_setup, .fini = teardown)
{
    struct tl_profile p;
    tl_err err = {0};
    cr_assert_eq(tl_profile_get(ctx, "K1", &p, &err), 0, "%s", err.msg);
    cr_assert_str_eq(p.currency, "EUR");
    cr_assert_eq(p.months, 6, "January to June, all complete: %d", p.months);
    cr_assert_str_eq(p.window_from, "2026-01");
    cr_assert_str_eq(p.window_to, "2026-06");
    cr_assert(p.income_found);
    cr_assert_eq(p.income_monthly_minor, 300000, "the median salary, not the March raise: %lld",
                 (long long)p.income_monthly_minor);
    cr_assert_eq(p.n_income, 1);
    cr_assert_str_eq(p.income[0].type, "salary");
    cr_assert_str_eq(p.income[0].description, "ACME GMBH LOHN");

    cr_assert_eq(p.spending_by_category_minor[TL_CAT_GROCERIES], 20000);
    cr_assert_eq(p.spending_by_category_minor[TL_CAT_UTILITIES], 5000);
    cr_assert_eq(p.spending_by_category_minor[TL_CAT_HOUSING], 45000, "3 rents over 6 months");
    cr_assert_eq(p.spending_by_category_minor[TL_CAT_CHILDREN], 1000);
    cr_assert_eq(p.spending_by_category_minor[TL_CAT_RESTAURANTS], 1333);
    cr_assert_eq(p.spending_by_category_minor[TL_CAT_FEES], 500);
    int64_t sum = 0;
    for (int k = 0; k < TL_CAT_COUNT; k++)
        sum += p.spending_by_category_minor[k];
    cr_assert_eq(p.spending_monthly_minor, sum);
    cr_assert_eq(p.transfers_out_monthly_minor, 10000, "the savings order is a transfer, not spending");

    /* fixed costs: rent (3 of the last 6 months) and the utility bill */
    cr_assert_eq(p.n_fixed, 2);
    cr_assert_str_eq(p.fixed[0].type, "rent");
    cr_assert_eq(p.fixed[0].monthly_minor, 90000);
    cr_assert_str_eq(p.fixed[1].type, "utilities");
    cr_assert_eq(p.fixed_costs_monthly_minor, 95000);

    cr_assert(p.savings_rate_known);
    cr_assert_float_eq(p.savings_rate, (300000.0 - (double)p.spending_monthly_minor) / 300000.0, 1e-12);

    const struct tl_profile_signal *rent = signal_of(&p, "new_rent");
    cr_assert_not_null(rent, "rent began in April, three months into the history");
    cr_assert_str_eq(rent->evidence_tx, "T404");
    cr_assert_eq(rent->count, 3);
    cr_assert(strstr(rent->evidence, "MIETE HAUS AG") && strstr(rent->evidence, "900.00"), "%s",
              rent->evidence);
    const struct tl_profile_signal *kids = signal_of(&p, "children");
    cr_assert_not_null(kids);
    cr_assert_eq(kids->count, 2);
    cr_assert_str_eq(kids->evidence_tx, "T207");
    const struct tl_profile_signal *travel = signal_of(&p, "travel");
    cr_assert_not_null(travel);
    cr_assert_str_eq(travel->evidence_tx, "T308");
    cr_assert(strstr(travel->evidence, "FR"), "%s", travel->evidence);
    cr_assert_null(signal_of(&p, "new_mortgage"));

    /* liquid balance 6000.00 now; it grew every month */
    cr_assert_eq(p.balance_minor, 600000);
    cr_assert_gt(p.balance_trend_minor_per_month, 100000);
    double share = 0;
    for (int c = 0; c < TL_CH_COUNT; c++)
        share += p.channel_share[c];
    cr_assert_float_eq(share, 1.0, 1e-9);
    cr_assert_eq(p.age_years, 36);
    cr_assert_eq(p.tenure_months, 77, "2020-01-15 to 2026-06-30: %d", p.tenure_months);
    cr_assert_eq(p.segment, -1);

    json_t *j = tl_profile_json(&p);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "income"), "monthly")),
                     "3000.00");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(j, "spending"), "by_category"), "housing")),
                     "450.00");
    cr_assert_eq(json_array_size(json_object_get(j, "life_signals")), 3);
    json_decref(j);
}

Test(profile, observe_folds_new_transactions_once, .init = hand_setup, .fini = teardown)
{
    tl_err err = {0};
    cr_assert_eq(tl_profile_refresh(ctx, NULL, NULL, &err), 0, "%s", err.msg);
    struct tl_profile_tx tx = {.id = "T701",
                               .account_id = "A1",
                               .amount_minor = 300000,
                               .currency = "EUR",
                               .kind = "salary",
                               .channel = "batch",
                               .mcc = -1,
                               .description = "ACME GMBH LOHN"};
    cr_assert_eq(tl_time_parse("2026-07-01T03:00:00Z", 20, &tx.ts_ms, &err), 0);
    bool folded = false;
    cr_assert_eq(tl_profile_observe(ctx, &tx, &folded, &err), 0, "%s", err.msg);
    cr_assert(folded);
    char *state = NULL, wm_id[65];
    int64_t wm;
    cr_assert_eq(tl_profile_state(ctx, "K1", &state, &wm, wm_id, &err), 0);
    cr_assert_str_eq(wm_id, "T701");
    cr_assert_eq(wm, tx.ts_ms);
    cr_assert_eq(tl_profile_observe(ctx, &tx, &folded, &err), 0);
    cr_assert(!folded, "the same transaction again is not folded twice");
    tx.id = "T299";
    tx.ts_ms -= 86400000LL * 120;
    cr_assert_eq(tl_profile_observe(ctx, &tx, &folded, &err), 0);
    cr_assert(!folded, "a late transaction is skipped");
    char *state2 = NULL;
    cr_assert_eq(tl_profile_state(ctx, "K1", &state2, NULL, NULL, &err), 0);
    cr_assert_str_eq(state, state2);
    free(state);
    free(state2);

    tx.account_id = "NOPE";
    cr_assert_eq(tl_profile_observe(ctx, &tx, &folded, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "NOPE"), "%s", err.msg);
    tx.account_id = "A1";
    tx.kind = "gift";
    cr_assert_eq(tl_profile_observe(ctx, &tx, &folded, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "gift"), "%s", err.msg);

    struct tl_profile p;
    cr_assert_eq(tl_profile_get(ctx, "NOBODY", &p, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "NOBODY"), "%s", err.msg);
    cr_assert_eq(p.segment, -1);
    cr_assert_eq(tl_profile_get(ctx, "bad id!", &p, &err), TL_EINVAL);

    /* a customer without transactions has an empty profile, not an error */
    cr_assert_eq(tl_profile_get(ctx, "K2", &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.months, 0);
    cr_assert(!p.income_found && !p.savings_rate_known);
    cr_assert_eq(p.balance_minor, 1000);
}

/* ---- incremental exactness on a generated bank ------------------------------------------ */

static char *gen_dir;
static struct tl_generate_result gen_res;

static void generate(void)
{
    gen_dir = tu_tmpdir();
    char out[1100];
    snprintf(out, sizeof out, "%s/bank", gen_dir);
    struct tl_generate_opts g = {
        .n_customers = 30, .seed = 5, .out_dir = out, .months = 4, .quiet = true};
    tl_err err = {0};
    cr_assert_eq(tl_generate(&g, &gen_res, &err), 0, "%s", err.msg);
    /* the transactions in two halves (the file is in time order) */
    char path[1300], p1[1300], p2[1300];
    snprintf(path, sizeof path, "%s/transactions.csv", out);
    snprintf(p1, sizeof p1, "%s/tx1.csv", gen_dir);
    snprintf(p2, sizeof p2, "%s/tx2.csv", gen_dir);
    FILE *in = fopen(path, "r"), *f1 = fopen(p1, "w"), *f2 = fopen(p2, "w");
    cr_assert(in && f1 && f2);
    char line[4096];
    size_t n = 0, rows = gen_res.rows[0];
    for (size_t t = 0; t < gen_res.n_tables; t++)
        if (strcmp(gen_res.tables[t], "transactions") == 0)
            rows = gen_res.rows[t];
    while (fgets(line, sizeof line, in)) {
        if (n == 0) {
            fputs(line, f1);
            fputs(line, f2);
        } else {
            fputs(line, n <= rows / 2 ? f1 : f2);
        }
        n++;
    }
    fclose(in), fclose(f1), fclose(f2);
}

static tl_config *bank_cfg[3];
static tl_ctx *bank[3];

/* Opens store `name` and loads every table; the transactions from `tx`
 * (NULL: the generated file, "": none). */
static tl_ctx *load_bank(int slot, const char *name, const char *tx)
{
    char url[1200];
    snprintf(url, sizeof url, "sqlite:%s/%s.db", gen_dir, name);
    bank_cfg[slot] = tu_config(url, gen_dir);
    tl_err err = {0};
    cr_assert_eq(tl_ctx_open(bank_cfg[slot], &bank[slot], &err), 0, "%s", err.msg);
    for (size_t t = 0; t < gen_res.n_tables; t++) {
        char path[1300];
        bool is_tx = strcmp(gen_res.tables[t], "transactions") == 0;
        if (is_tx && tx && !*tx)
            continue;
        if (is_tx && tx)
            snprintf(path, sizeof path, "%s", tx);
        else
            snprintf(path, sizeof path, "%s/bank/%s.csv", gen_dir, gen_res.tables[t]);
        struct tl_ingest_opts io = {.table = gen_res.tables[t], .path = path, .quiet = true};
        struct tl_ingest_result ir;
        cr_assert_eq(tl_ingest_file(tl_ctx_store(bank[slot]), &io, &ir, &err), 0, "%s: %s", path,
                     err.msg);
    }
    return bank[slot];
}

static void ingest_path(tl_ctx *c, const char *table, const char *path)
{
    struct tl_ingest_opts io = {.table = table, .path = path, .quiet = true};
    struct tl_ingest_result ir;
    tl_err err = {0};
    cr_assert_eq(tl_ingest_file(tl_ctx_store(c), &io, &ir, &err), 0, "%s: %s", path, err.msg);
}

static void bank_teardown(void)
{
    for (int i = 0; i < 3; i++) {
        tl_ctx_close(bank[i]);
        tl_config_free(bank_cfg[i]);
        bank[i] = NULL;
        bank_cfg[i] = NULL;
    }
    free(gen_dir);
}

struct ids {
    char id[64][65];
    size_t n;
};

static int on_id(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct ids *ids = ud;
    if (ids->n < 64)
        snprintf(ids->id[ids->n++], 65, "%s", v[0].s);
    return 0;
}

static void same_states(tl_ctx *a, tl_ctx *b, const char *what)
{
    struct ids ids = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(a), "SELECT id FROM customers ORDER BY id", 0, NULL, on_id,
                               &ids, &err),
                 0);
    cr_assert_eq(ids.n, 30);
    size_t with_tx = 0;
    for (size_t i = 0; i < ids.n; i++) {
        char *sa = NULL, *sb = NULL, wa[65], wb[65];
        int64_t ma, mb;
        cr_assert_eq(tl_profile_state(a, ids.id[i], &sa, &ma, wa, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_profile_state(b, ids.id[i], &sb, &mb, wb, &err), 0, "%s", err.msg);
        cr_assert(sa && sb, "%s: both have a state", ids.id[i]);
        cr_assert_str_eq(sa, sb, "%s: %s: the states differ", what, ids.id[i]);
        cr_assert_eq(ma, mb);
        cr_assert_str_eq(wa, wb);
        with_tx += ma > 0;
        free(sa);
        free(sb);
    }
    cr_assert_gt(with_tx, 25, "the comparison is over real histories");
}

struct observe_ctx {
    tl_ctx *into;
    int64_t after_ms;
    char after_id[65];
    size_t n;
};

static int on_observe(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct observe_ctx *o = ud;
    struct tl_profile_tx tx = {.id = v[0].s,
                               .account_id = v[1].s,
                               .ts_ms = v[2].i,
                               .amount_minor = v[3].i,
                               .currency = v[4].s,
                               .kind = v[5].s,
                               .channel = v[6].type == TL_VAL_TEXT ? v[6].s : NULL,
                               .mcc = v[7].type == TL_VAL_INT ? (int)v[7].i : -1,
                               .country = v[8].type == TL_VAL_TEXT ? v[8].s : NULL,
                               .description = v[9].type == TL_VAL_TEXT ? v[9].s : NULL};
    bool folded = false;
    tl_err err = {0};
    cr_assert_eq(tl_profile_observe(o->into, &tx, &folded, &err), 0, "%s", err.msg);
    cr_assert(folded, "%s is new", tx.id);
    o->n++;
    return 0;
}

static int on_last(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct observe_ctx *o = ud;
    o->after_ms = v[0].i;
    snprintf(o->after_id, sizeof o->after_id, "%s", v[1].s);
    return 1;
}

Test(profile, incremental_folds_equal_the_whole_history, .init = generate, .fini = bank_teardown,
     .timeout = 300)
{
    char p1[1300], p2[1300];
    snprintf(p1, sizeof p1, "%s/tx1.csv", gen_dir);
    snprintf(p2, sizeof p2, "%s/tx2.csv", gen_dir);
    tl_err err = {0};
    struct tl_profile_refresh_stats st;

    tl_ctx *all = load_bank(0, "all", NULL);
    cr_assert_eq(tl_profile_refresh(all, NULL, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.customers, 30);
    uint64_t total = st.transactions;
    cr_assert_gt(total, 1000);
    cr_assert_eq(tl_profile_refresh(all, NULL, &st, &err), 0);
    cr_assert_eq(st.transactions, 0, "nothing new: nothing folded");

    tl_ctx *halves = load_bank(1, "halves", p1);
    cr_assert_eq(tl_profile_refresh(halves, NULL, &st, &err), 0, "%s", err.msg);
    uint64_t first = st.transactions;
    ingest_path(halves, "transactions", p2);
    cr_assert_eq(tl_profile_refresh(halves, NULL, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(first + st.transactions, total, "the second refresh folds only the second half");
    same_states(all, halves, "two halves");

    /* the second half arriving one transaction at a time */
    tl_ctx *live = load_bank(2, "live", p1);
    cr_assert_eq(tl_profile_refresh(live, NULL, NULL, &err), 0, "%s", err.msg);
    struct observe_ctx o = {.into = live};
    cr_assert_eq(tl_store_exec(tl_ctx_store(live),
                               "SELECT ts_ms, id FROM transactions ORDER BY ts_ms DESC, id DESC", 0,
                               NULL, on_last, &o, &err),
                 0);
    tl_value q[] = {TL_INT(o.after_ms), TL_INT(o.after_ms), TL_TEXT(o.after_id)};
    cr_assert_eq(tl_store_exec(
                     tl_ctx_store(all),
                     "SELECT id, account_id, ts_ms, amount_minor, currency, kind, channel, mcc, country,"
                     " description FROM transactions WHERE ts_ms > ? OR (ts_ms = ? AND id > ?)"
                     " ORDER BY ts_ms, id",
                     3, q, on_observe, &o, &err),
                 0, "%s", err.msg);
    cr_assert_eq(first + o.n, total);
    same_states(all, live, "observed one by one");

    /* a rebuild folds the same history to the same states */
    cr_assert_eq(tl_profile_rebuild(halves, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_profile_refresh(halves, NULL, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.transactions, total);
    same_states(all, halves, "rebuilt");

    /* segments: deterministic for a seed, stored, shown in the profile */
    struct tl_segment_opts so = {.k = 3, .seed = 11};
    json_t *r1 = NULL, *r2 = NULL;
    cr_assert_eq(tl_segment_fit(all, &so, &r1, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_segment_fit(all, &so, &r2, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(r1, "model")), "segments-v1");
    cr_assert_str_eq(json_string_value(json_object_get(r2, "model")), "segments-v2");
    json_t *s1 = json_object_get(r1, "segments"), *s2 = json_object_get(r2, "segments");
    cr_assert_eq(json_array_size(s1), 3);
    cr_assert(json_equal(s1, s2), "the same seed gives the same segments");
    json_int_t prev = INT64_MAX, sum = 0;
    size_t i;
    json_t *s;
    json_array_foreach (s1, i, s) {
        json_int_t size = json_integer_value(json_object_get(s, "size"));
        cr_assert_leq(size, prev, "segments in decreasing size");
        prev = size;
        sum += size;
        const char *d = json_string_value(json_object_get(s, "description"));
        cr_assert(d && strlen(d) > 20 && strchr(d, ','), "three phrases: %s", d ? d : "(null)");
        cr_assert_eq(json_array_size(json_object_get(s, "top")), 3);
    }
    cr_assert_eq(sum, 30);
    json_t *list = NULL;
    cr_assert_eq(tl_segment_list(all, NULL, &list, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(list, "model")), "segments-v2");
    cr_assert_eq(json_array_size(json_object_get(list, "segments")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(list, "segments"), 0), "description")),
                     json_string_value(json_object_get(json_array_get(s2, 0), "description")));
    json_decref(list);

    struct ids ids = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(all), "SELECT id FROM customers ORDER BY id", 0, NULL, on_id,
                               &ids, &err),
                 0);
    for (size_t c = 0; c < ids.n; c++) {
        struct tl_profile p;
        cr_assert_eq(tl_profile_get(all, ids.id[c], &p, &err), 0, "%s", err.msg);
        cr_assert(p.segment >= 0 && p.segment < 3);
        cr_assert_str_eq(p.segment_model, "segments-v2");
        cr_assert_str_eq(
            p.segment_description,
            json_string_value(json_object_get(json_array_get(s2, (size_t)p.segment), "description")));
        int seg;
        char model[64];
        cr_assert_eq(tl_segment_assign(all, ids.id[c], &seg, model, &err), 0, "%s", err.msg);
        cr_assert_eq(seg, p.segment, "%s: the champion assigns the stored segment", ids.id[c]);
    }
    json_decref(r1);
    json_decref(r2);

    /* a rebuild drops the state, not the segment */
    struct tl_profile before, after;
    cr_assert_eq(tl_profile_get(all, ids.id[0], &before, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_profile_rebuild(all, ids.id[0], &err), 0, "%s", err.msg);
    char *gone = NULL;
    cr_assert_eq(tl_profile_state(all, ids.id[0], &gone, NULL, NULL, &err), 0);
    cr_assert_null(gone, "the state is dropped");
    cr_assert_eq(tl_profile_get(all, ids.id[0], &after, &err), 0, "%s", err.msg);
    cr_assert_eq(after.segment, before.segment);
    cr_assert_eq(after.income_monthly_minor, before.income_monthly_minor);
    cr_assert_eq(after.n_transactions, before.n_transactions);

    /* k chosen by silhouette, and bad k */
    so.k = 0;
    cr_assert_eq(tl_segment_fit(all, &so, &r1, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(r1, "chosen_by")), "silhouette");
    json_int_t k = json_integer_value(json_object_get(r1, "k"));
    double best = json_number_value(json_object_get(r1, "silhouette"));
    const char *key;
    json_t *v;
    json_object_foreach (json_object_get(r1, "silhouette_by_k"), key, v)
        cr_assert_leq(json_number_value(v), best + 1e-9, "k=%s beats the chosen k=%lld", key,
                      (long long)k);
    json_decref(r1);
    so.k = 16;
    cr_assert_eq(tl_segment_fit(all, &so, &r1, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "too few"), "%s", err.msg);
    so.k = 1;
    cr_assert_eq(tl_segment_fit(all, &so, &r1, &err), TL_EINVAL);
}

Test(profile, segments_before_any_fit_are_not_found, .init = hand_setup, .fini = teardown)
{
    json_t *r = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_segment_list(ctx, NULL, &r, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "teller segments"), "%s", err.msg);
}
