/*
 * teller profile / teller segments: customer 360 and segments from the
 * command line.
 *
 *   profile CUSTOMER    the customer's profile, refreshed first with what
 *                       arrived since the last refresh (--refresh-all
 *                       folds every customer's new transactions; --rebuild
 *                       drops the state and folds the history again)
 *   segments            fits segments (k by silhouette over 2..8, or --k),
 *                       stores them with the model and prints them;
 *                       --show prints the stored ones without fitting
 */
#include "cli.h"

#include <teller/profile.h>
#include <teller/segment.h>

#include <stdlib.h>
#include <string.h>

static const char *opt_k, *opt_seed, *opt_model;
static bool opt_show, opt_rebuild, opt_refresh_all;

const struct cli_opt cli_profile_opts[] = {
    {"rebuild", false, NULL, &opt_rebuild, "--rebuild             drop the stored state and fold the whole history again"},
    {"refresh-all", false, NULL, &opt_refresh_all, "--refresh-all         fold every customer's new transactions (CUSTOMER may be omitted)"},
    {0},
};

const struct cli_opt cli_segments_opts[] = {
    {"k", true, &opt_k, NULL, "--k K|auto            number of segments, 2 to 16 (default auto: silhouette over 2..8)"},
    {"seed", true, &opt_seed, NULL, "--seed S              seed of k-means++ and the silhouette sample (default 42)"},
    {"show", false, NULL, &opt_show, "--show                print the stored segmentation (the champion) without fitting"},
    {"model", true, &opt_model, NULL, "--model ID            with --show: that segmentation model instead of the champion"},
    {0},
};

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_profile(const struct tl_profile *p, const json_t *j)
{
    const char *cur = p->currency;
    printf("customer %s, %d years old, customer for %d months, %s\n", p->customer_id, p->age_years,
           p->tenure_months, p->country);
    json_t *w = json_object_get(j, "window");
    printf("%llu transactions folded; averages over %d complete months (%s to %s)\n",
           (unsigned long long)p->n_transactions, p->months, str(w, "from"), str(w, "to"));
    json_t *inc = json_object_get(j, "income");
    printf("\nincome      %12s %s a month%s\n", str(inc, "monthly"), cur,
           p->income_found ? "" : " (no salary-like credits found)");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(inc, "sources"), i, e)
        printf("  %-14s %-40.40s %12s\n", str(e, "type"), str(e, "description"), str(e, "monthly"));
    printf("other credits %10s %s a month\n", str(inc, "other_credits_monthly"), cur);
    json_t *sp = json_object_get(j, "spending");
    printf("\nspending    %12s %s a month\n", str(sp, "monthly"), cur);
    for (int k = 0; k < TL_CAT_COUNT; k++)
        if (p->spending_by_category_minor[k] > 0)
            printf("  %-28s %12s\n", tl_profile_category_label(k),
                   str(json_object_get(sp, "by_category"), tl_profile_category_name(k)));
    printf("transfers out %10s %s a month (not spending)\n", str(sp, "transfers_out_monthly"), cur);
    json_t *fc = json_object_get(j, "fixed_costs");
    printf("\nfixed costs %12s %s a month\n", str(fc, "monthly"), cur);
    json_array_foreach(json_object_get(fc, "items"), i, e)
        printf("  %-14s %-40.40s %12s\n", str(e, "type"), str(e, "description"), str(e, "monthly"));
    if (p->savings_rate_known)
        printf("\nsavings rate %.1f %%\n", 100 * p->savings_rate);
    else
        printf("\nsavings rate unknown (no income seen)\n");
    json_t *b = json_object_get(j, "balance");
    printf("balance     %12s %s, trend %s a month, volatility %s; debt %s\n", str(b, "now"), cur,
           str(b, "trend_per_month"), str(b, "volatility"), str(b, "debt"));
    printf("\nproducts (%zu, %u categories):\n", p->n_products, p->n_product_categories);
    for (size_t q = 0; q < p->n_products; q++)
        printf("  %-8s %-16s %-8s %s\n", p->products[q].product_id, p->products[q].category,
               p->products[q].source, p->products[q].ref_id);
    printf("\nchannels:");
    for (int c = 0; c < TL_CH_COUNT; c++)
        if (p->channel_share[c] > 0)
            printf(" %s %.0f%%", tl_profile_channel_name(c), 100 * p->channel_share[c]);
    printf("\n");
    if (p->n_signals) {
        printf("\nlife signals:\n");
        for (size_t s = 0; s < p->n_signals; s++)
            printf("  %-12s %s\n", p->signals[s].kind, p->signals[s].evidence);
    }
    if (p->segment >= 0)
        printf("\nsegment %d (%s): %s\n", p->segment, p->segment_model, p->segment_description);
}

int cli_cmd_profile(struct cli_env *env)
{
    const char *customer = env->n_args ? env->args[0] : NULL;
    if (!customer && !opt_refresh_all)
        return cli_usage_error(env, "CUSTOMER is required (or --refresh-all)");
    tl_ctx *ctx = NULL;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_err err = {0};
    if (opt_rebuild && (rc = tl_profile_rebuild(ctx, opt_refresh_all ? NULL : customer, &err)) < 0)
        goto fail;
    if (opt_refresh_all) {
        struct tl_profile_refresh_stats st;
        if ((rc = tl_profile_refresh(ctx, NULL, &st, &err)) < 0)
            goto fail;
        if (!customer) {
            tl_ctx_close(ctx);
            if (env->json)
                cli_print_json(json_pack("{s:I,s:I,s:I}", "customers", (json_int_t)st.customers,
                                         "transactions", (json_int_t)st.transactions, "foreign",
                                         (json_int_t)st.foreign));
            else
                printf("%llu profiles updated, %llu transactions folded\n",
                       (unsigned long long)st.customers, (unsigned long long)st.transactions);
            return CLI_OK;
        }
    }
    struct tl_profile *p = malloc(sizeof *p);
    if (!p) {
        tl_err_set(&err, TL_ENOMEM, "out of memory");
        goto fail;
    }
    rc = tl_profile_get(ctx, customer, p, &err);
    if (rc == 0)
        rc = cli_journal(ctx, "profile.read", "teller profile", customer, NULL, &err);
    tl_ctx_close(ctx);
    ctx = NULL;
    if (rc < 0) {
        free(p);
        return cli_fail(env, &err);
    }
    json_t *j = tl_profile_json(p);
    if (env->json) {
        cli_print_json(j);
    } else {
        print_profile(p, j);
        json_decref(j);
    }
    free(p);
    return CLI_OK;
fail:
    tl_ctx_close(ctx);
    return cli_fail(env, &err);
}

static void print_segments(const json_t *r, bool fitted)
{
    printf("%s %s: %d segments of %lld customers", fitted ? "fitted" : "segmentation", str(r, "model"),
           (int)json_integer_value(json_object_get(r, "k")),
           (long long)json_integer_value(json_object_get(r, "customers")));
    json_t *sil = json_object_get(r, "silhouette");
    if (json_is_number(sil))
        printf(", silhouette %.3f", json_number_value(sil));
    if (fitted)
        printf(" (k %s)", str(r, "chosen_by"));
    printf("\n");
    json_t *byk = json_object_get(r, "silhouette_by_k");
    if (json_object_size(byk) > 1) {
        const char *key;
        json_t *v;
        printf("  silhouette by k:");
        json_object_foreach(byk, key, v) printf(" %s=%.3f", key, json_number_value(v));
        printf("\n");
    }
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "segments"), i, s)
        printf("\nsegment %lld: %lld customers (%.1f %%)\n  %s\n",
               (long long)json_integer_value(json_object_get(s, "id")),
               (long long)json_integer_value(json_object_get(s, "size")),
               100 * json_number_value(json_object_get(s, "share")), str(s, "description"));
}

int cli_cmd_segments(struct cli_env *env)
{
    struct tl_segment_opts o = {.seed = 42, .actor = "cli"};
    if (opt_k && strcmp(opt_k, "auto") != 0) {
        uint64_t k;
        if (cli_parse_u64(env, "k", opt_k, &k) != CLI_OK)
            return CLI_USAGE;
        if (k < 2 || k > TL_SEGMENT_MAX_K)
            return cli_usage_error(env, "--k must be auto or 2 to %d, not %s", TL_SEGMENT_MAX_K, opt_k);
        o.k = (int)k;
    }
    if (opt_seed && cli_parse_u64(env, "seed", opt_seed, &o.seed) != CLI_OK)
        return CLI_USAGE;
    if (opt_model && !opt_show)
        return cli_usage_error(env, "--model goes with --show");
    if (opt_show && (opt_k || opt_seed))
        return cli_usage_error(env, "--show prints what is stored: --k and --seed are for fitting");
    tl_ctx *ctx = NULL;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_err err = {0};
    json_t *r = NULL;
    rc = opt_show ? tl_segment_list(ctx, opt_model, &r, &err) : tl_segment_fit(ctx, &o, &r, &err);
    tl_ctx_close(ctx);
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json) {
        cli_print_json(r);
        return CLI_OK;
    }
    print_segments(r, !opt_show);
    json_decref(r);
    return CLI_OK;
}
