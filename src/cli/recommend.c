/* recommend.c - `teller recommend`: a customer's list (recommend.h, stored
 * and journaled), `recommend train` (models from the store into the
 * registry) and `recommend eval`: on an interaction file (recsys.h: split,
 * tune on validation, fit, score) or, without --interactions, on the
 * store's own interactions split in time, served lists and rules included. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/nn.h>
#include <teller/recommend.h>
#include <teller/recsys.h>

static const char *o_interactions, *o_user_col, *o_item_col, *o_item_cols, *o_rating_col,
    *o_rating_min, *o_time_col, *o_item_features, *o_split, *o_test_frac, *o_seed, *o_k, *o_model,
    *o_threads, *o_delim, *o_set;
static bool o_no_header, o_header, o_no_tune, o_verbose, o_no_ranker, o_no_promote;

const struct cli_opt cli_recommend_opts[] = {
    {"interactions", true, &o_interactions, NULL, "--interactions FILE     CSV or tab-separated interactions (/dev/stdin for a pipe)"},
    {"user-col", true, &o_user_col, NULL, "--user-col C            the user column: header name or 1-based number"},
    {"item-col", true, &o_item_col, NULL, "--item-col C            the item column"},
    {"item-cols", true, &o_item_cols, NULL, "--item-cols PATTERNS    wide files: 0/1 product columns, comma list, '*' wildcards"},
    {"rating-col", true, &o_rating_col, NULL, "--rating-col C          a rating column; with --rating-min, lower rows are not positives"},
    {"rating-min", true, &o_rating_min, NULL, "--rating-min X          the smallest rating that counts as a positive"},
    {"time-col", true, &o_time_col, NULL, "--time-col C            the time column (number or YYYY-MM-DD) for --split temporal"},
    {"no-header", false, NULL, &o_no_header, "--no-header             the first line is data (default: detected)"},
    {"header", false, NULL, &o_header, "--header                the first line is a header"},
    {"delim", true, &o_delim, NULL, "--delim C               field separator: tab, comma, '|' or ';' (default: detected)"},
    {"item-features", true, &o_item_features, NULL, "--item-features FILE    item categories, u.item style ('|', trailing 0/1 flags): diversity"},
    {"split", true, &o_split, NULL, "--split KIND            per-user (default), temporal or leave-one-out"},
    {"test-frac", true, &o_test_frac, NULL, "--test-frac F           share of positives held out (default 0.2)"},
    {"seed", true, &o_seed, NULL, "--seed S                split and training seed (default 20261123)"},
    {"k", true, &o_k, NULL, "--k K                   list length (default 10)"},
    {"model", true, &o_model, NULL, "--model NAMES           all (default) or a comma list of pop, itemknn, als, bpr, ease, lightgcn"},
    {"threads", true, &o_threads, NULL, "--threads N             worker threads (default 2)"},
    {"set", true, &o_set, NULL,
     "--set K=V[,K=V]         override model parameters: factors, reg, alpha, iters, k, shrink, lr, "
     "epochs, batch, layers, lambda"},
    {"no-tune", false, NULL, &o_no_tune, "--no-tune               each model's defaults, no validation grid"},
    {"verbose", false, NULL, &o_verbose, "--verbose               print every validation trial on stderr"},
    {"no-ranker", false, NULL, &o_no_ranker, "--no-ranker             train: the CF model alone, without the neural ranker"},
    {"no-promote", false, NULL, &o_no_promote, "--no-promote            train: never promote (default: the best when there is no champion)"},
    {0},
};

static const char *split_name(enum tl_rec_split_kind k)
{
    return k == TL_REC_SPLIT_TEMPORAL ? "temporal"
           : k == TL_REC_SPLIT_LEAVE_ONE_OUT ? "leave-one-out"
                                             : "per-user";
}

static void params_str(int kind, const struct tl_rec_params *p, char *buf, size_t n)
{
    switch (kind) {
    case TL_REC_ITEMKNN: snprintf(buf, n, "k=%d", p->knn_k); break;
    case TL_REC_ALS:
        snprintf(buf, n, "factors=%d reg=%g alpha=%g iters=%d", p->factors, p->reg, p->alpha,
                 p->iters);
        break;
    case TL_REC_BPR:
        snprintf(buf, n, "factors=%d lr=%g reg=%g epochs=%d", p->factors, p->lr, p->reg, p->epochs);
        break;
    case TL_REC_EASE: snprintf(buf, n, "lambda=%g", p->ease_lambda); break;
    case TL_REC_LIGHTGCN:
        snprintf(buf, n, "factors=%d layers=%d lr=%g reg=%g epochs=%d batch=%d", p->factors,
                 p->layers, p->lr, p->reg, p->epochs, p->batch);
        break;
    default: snprintf(buf, n, "-"); break;
    }
}

static void on_trial(void *arg, int kind, const struct tl_rec_params *p, bool validation,
                     const struct tl_rec_metrics *m, double fit_s)
{
    (void)arg;
    if (!validation || !o_verbose)
        return;
    char ps[160];
    params_str(kind, p, ps, sizeof ps);
    fprintf(stderr, "  [valid] %-8s %-48s NDCG %.4f  Recall %.4f  fit %.2fs\n",
            tl_rec_kind_name(kind), ps, m->ndcg, m->recall, fit_s);
}

static int parse_double(struct cli_env *env, const char *name, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return cli_usage_error(env, "--%s %s: not a number", name, s);
    *out = v;
    return CLI_OK;
}

/* --set: applies every K=V to every model's parameters (each model reads
 * only its own; name one model when a key means different things). */
static int apply_set(struct cli_env *env, struct tl_rec_params *ps)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", o_set);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq)
            return cli_usage_error(env, "--set %s: \"%s\" is not KEY=VALUE", o_set, t);
        *eq = 0;
        char *end;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(v) || v < 0)
            return cli_usage_error(env, "--set %s: %s=%s is not a number >= 0", o_set, t, eq + 1);
        for (int k = 0; k < TL_REC_KIND_COUNT; k++) {
            struct tl_rec_params *p = &ps[k];
            if (strcmp(t, "factors") == 0) p->factors = (int)v;
            else if (strcmp(t, "reg") == 0) p->reg = v;
            else if (strcmp(t, "alpha") == 0) p->alpha = v;
            else if (strcmp(t, "iters") == 0) p->iters = (int)v;
            else if (strcmp(t, "k") == 0) p->knn_k = (int)v;
            else if (strcmp(t, "shrink") == 0) p->shrink = v;
            else if (strcmp(t, "lr") == 0) p->lr = v;
            else if (strcmp(t, "epochs") == 0) p->epochs = (int)v;
            else if (strcmp(t, "batch") == 0) p->batch = (int)v;
            else if (strcmp(t, "layers") == 0) p->layers = (int)v;
            else if (strcmp(t, "lambda") == 0) p->ease_lambda = v;
            else
                return cli_usage_error(env, "--set %s: unknown parameter \"%s\"", o_set, t);
        }
    }
    return CLI_OK;
}

static int eval_store_cmd(struct cli_env *env);

static int eval_cmd(struct cli_env *env)
{
    if (!o_interactions)
        return eval_store_cmd(env);
    if (!o_user_col || (!o_item_col && !o_item_cols))
        return cli_usage_error(env, "--user-col and --item-col (or --item-cols) are required");
    if (o_rating_min && !o_rating_col)
        return cli_usage_error(env, "--rating-min needs --rating-col");
    if (o_header && o_no_header)
        return cli_usage_error(env, "--header and --no-header contradict each other");
    struct tl_rec_load_opts lo = {.user_col = o_user_col, .item_col = o_item_col,
                                  .item_cols = o_item_cols, .rating_col = o_rating_col,
                                  .rating_min = -INFINITY, .time_col = o_time_col,
                                  .header = o_header ? 1 : o_no_header ? 0 : -1};
    int rc;
    if (o_rating_min && (rc = parse_double(env, "rating-min", o_rating_min, &lo.rating_min)) != 0)
        return rc;
    if (o_delim) {
        if (strcmp(o_delim, "tab") == 0 || strcmp(o_delim, "\\t") == 0)
            lo.delim = '\t';
        else if (strlen(o_delim) == 1)
            lo.delim = o_delim[0];
        else
            return cli_usage_error(env, "--delim %s: one character or \"tab\"", o_delim);
    }
    struct tl_rec_eval_opts eo = {.split = TL_REC_SPLIT_PER_USER, .test_frac = 0.2,
                                  .seed = 20261123, .k = 10, .tune = !o_no_tune, .threads = 2,
                                  .on_trial = on_trial};
    if (o_split) {
        if (strcmp(o_split, "per-user") == 0)
            eo.split = TL_REC_SPLIT_PER_USER;
        else if (strcmp(o_split, "temporal") == 0)
            eo.split = TL_REC_SPLIT_TEMPORAL;
        else if (strcmp(o_split, "leave-one-out") == 0)
            eo.split = TL_REC_SPLIT_LEAVE_ONE_OUT;
        else
            return cli_usage_error(env, "--split %s: per-user, temporal or leave-one-out", o_split);
    }
    if (o_test_frac) {
        if ((rc = parse_double(env, "test-frac", o_test_frac, &eo.test_frac)) != 0)
            return rc;
        if (!(eo.test_frac > 0 && eo.test_frac < 1))
            return cli_usage_error(env, "--test-frac %s: must be in (0, 1)", o_test_frac);
    }
    uint64_t v;
    if (o_seed) {
        if ((rc = cli_parse_u64(env, "seed", o_seed, &v)) != CLI_OK)
            return rc;
        eo.seed = v;
    }
    if (o_k) {
        if ((rc = cli_parse_u64(env, "k", o_k, &v)) != CLI_OK)
            return rc;
        if (v < 1 || v > 1000)
            return cli_usage_error(env, "--k %s: must be in [1, 1000]", o_k);
        eo.k = (int)v;
    }
    if (o_threads) {
        if ((rc = cli_parse_u64(env, "threads", o_threads, &v)) != CLI_OK)
            return rc;
        if (v < 1 || v > 256)
            return cli_usage_error(env, "--threads %s: must be in [1, 256]", o_threads);
        eo.threads = (int)v;
    }
    if (!o_model || strcmp(o_model, "all") == 0) {
        eo.models = (1u << TL_REC_KIND_COUNT) - 1;
    } else {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", o_model);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int kind = tl_rec_kind_from_name(t);
            if (kind < 0)
                return cli_usage_error(env, "--model %s: unknown model \"%s\" (pop, itemknn, als, "
                                       "bpr, ease, lightgcn or all)", o_model, t);
            eo.models |= 1u << kind;
        }
    }
    /* ALS and the evaluation run on their own threads; OpenBLAS's own threads
     * on top of them only spin (tens of times slower on a busy machine). */
    tl_nn_set_blas_threads(1);
    struct tl_rec_params params[TL_REC_KIND_COUNT];
    for (int k = 0; k < TL_REC_KIND_COUNT; k++) {
        tl_rec_params_defaults(k, &params[k]);
        params[k].threads = eo.threads;
        params[k].seed = eo.seed;
    }
    if (o_set && (rc = apply_set(env, params)) != CLI_OK)
        return rc;
    eo.params = params;
    tl_err err = {0};
    tl_rec_data *d;
    if (tl_rec_data_load(o_interactions, &lo, &d, &err) < 0)
        return cli_fail(env, &err);
    if (o_item_features && tl_rec_data_load_item_cats(d, o_item_features, &err) < 0) {
        tl_rec_data_free(d);
        return cli_fail(env, &err);
    }
    struct tl_rec_eval_result res[TL_REC_KIND_COUNT];
    size_t n_res = 0;
    struct tl_rec_eval_summary sum;
    if (!env->json)
        fprintf(stderr, "%lld positives, %d users, %d items; %s split %.2f, seed %llu%s\n",
                (long long)d->n, d->n_users, d->n_items, split_name(eo.split), eo.test_frac,
                (unsigned long long)eo.seed, eo.tune ? "; tuning on validation" : "");
    if (tl_rec_eval(d, &eo, res, &n_res, &sum, &err) < 0) {
        tl_rec_data_free(d);
        return cli_fail(env, &err);
    }
    bool has_cats = d->item_cats != NULL;
    if (env->json) {
        json_t *o = json_object();
        json_object_set_new(o, "interactions", json_string(o_interactions));
        json_object_set_new(o, "n_positives", json_integer(d->n));
        json_object_set_new(o, "n_users", json_integer(d->n_users));
        json_object_set_new(o, "n_items", json_integer(d->n_items));
        json_object_set_new(o, "split", json_string(split_name(eo.split)));
        json_object_set_new(o, "test_frac", json_real(eo.test_frac));
        json_object_set_new(o, "seed", json_integer((json_int_t)eo.seed));
        json_object_set_new(o, "k", json_integer(eo.k));
        json_object_set_new(o, "tuned", json_boolean(eo.tune));
        json_object_set_new(o, "n_train", json_integer(sum.n_train));
        json_object_set_new(o, "n_test", json_integer(sum.n_test));
        json_object_set_new(o, "n_test_users", json_integer(sum.n_test_users));
        json_t *arr = json_array();
        for (size_t r = 0; r < n_res; r++) {
            const struct tl_rec_eval_result *x = &res[r];
            char ps[160];
            params_str(x->kind, &x->params, ps, sizeof ps);
            json_t *m = json_object();
            json_object_set_new(m, "model", json_string(tl_rec_kind_name(x->kind)));
            json_object_set_new(m, "params", json_string(ps));
            json_object_set_new(m, "recall", json_real(x->test.recall));
            json_object_set_new(m, "ndcg", json_real(x->test.ndcg));
            json_object_set_new(m, "map", json_real(x->test.map));
            json_object_set_new(m, "coverage", json_real(x->test.coverage));
            json_object_set_new(m, "distinct", json_integer(x->test.n_distinct));
            json_object_set_new(m, "diversity", has_cats ? json_real(x->test.ild) : json_null());
            json_object_set_new(m, "novelty", json_real(x->test.novelty));
            json_object_set_new(m, "valid_ndcg",
                                isnan(x->valid_ndcg) ? json_null() : json_real(x->valid_ndcg));
            json_object_set_new(m, "fit_s", json_real(x->fit_s));
            json_array_append_new(arr, m);
        }
        json_object_set_new(o, "models", arr);
        cli_print_json(o);
    } else {
        printf("train %lld, test %lld positives (%lld test users)\n", (long long)sum.n_train,
               (long long)sum.n_test, (long long)sum.n_test_users);
        printf("%-9s %-48s %9s %9s %9s %9s %9s %8s %7s\n", "model", "params", "Recall@k", "NDCG@k",
               "MAP@k", "coverage", "diversity", "novelty", "fit s");
        for (size_t r = 0; r < n_res; r++) {
            const struct tl_rec_eval_result *x = &res[r];
            char ps[160], div[16];
            params_str(x->kind, &x->params, ps, sizeof ps);
            if (has_cats)
                snprintf(div, sizeof div, "%.4f", x->test.ild);
            else
                snprintf(div, sizeof div, "n/a");
            printf("%-9s %-48s %9.4f %9.4f %9.4f %9.4f %9s %8.3f %7.2f\n",
                   tl_rec_kind_name(x->kind), ps, x->test.recall, x->test.ndcg, x->test.map,
                   x->test.coverage, div, x->test.novelty, x->fit_s);
        }
        if (!has_cats)
            printf("(diversity needs item categories: --item-features FILE)\n");
    }
    tl_rec_data_free(d);
    return CLI_OK;
}

/* ---- the store: eval, train, a customer's list ---------------------------------- */

static int parse_k(struct cli_env *env, int def, int max, int *out)
{
    *out = def;
    if (!o_k)
        return CLI_OK;
    uint64_t v;
    int rc = cli_parse_u64(env, "k", o_k, &v);
    if (rc != CLI_OK)
        return rc;
    if (v < 1 || v > (uint64_t)max)
        return cli_usage_error(env, "--k %s: must be in [1, %d]", o_k, max);
    *out = (int)v;
    return CLI_OK;
}

static int check_models(struct cli_env *env)
{
    if (!o_model || strcmp(o_model, "all") == 0)
        return CLI_OK;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o_model);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (tl_rec_kind_from_name(t) < 0)
            return cli_usage_error(env, "--model %s: unknown model \"%s\" (pop, itemknn, als, bpr, "
                                   "ease, lightgcn or all)", o_model, t);
    return CLI_OK;
}

static int eval_store_cmd(struct cli_env *env)
{
    if (o_user_col || o_item_col || o_item_cols || o_rating_col || o_time_col || o_item_features)
        return cli_usage_error(env, "column options need --interactions FILE (without it the "
                               "store's own interactions are evaluated)");
    if (o_split && strcmp(o_split, "temporal") != 0)
        return cli_usage_error(env, "--split %s: the store's interactions are split in time "
                               "(temporal)", o_split);
    if (check_models(env) != CLI_OK)
        return CLI_USAGE;
    struct tl_recommend_eval_opts eo = {.models = o_model && strcmp(o_model, "all") != 0 ? o_model
                                              : o_model ? "pop,itemknn,als,bpr,ease,lightgcn"
                                                        : NULL};
    int rc = parse_k(env, 5, TL_RECOMMEND_MAX_K, &eo.k);
    if (rc != CLI_OK)
        return rc;
    if (o_test_frac) {
        if ((rc = parse_double(env, "test-frac", o_test_frac, &eo.test_frac)) != 0)
            return rc;
        if (!(eo.test_frac > 0 && eo.test_frac < 1))
            return cli_usage_error(env, "--test-frac %s: must be in (0, 1)", o_test_frac);
    }
    uint64_t v;
    if (o_seed) {
        if ((rc = cli_parse_u64(env, "seed", o_seed, &v)) != CLI_OK)
            return rc;
        eo.seed = v;
    }
    tl_ctx *ctx;
    if ((rc = cli_open_ctx(env, &ctx)) != CLI_OK)
        return rc;
    tl_err err = {0};
    json_t *r = NULL;
    rc = tl_recommend_eval_store(ctx, &eo, &r, &err);
    tl_ctx_close(ctx);
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json) {
        cli_print_json(r);
        return CLI_OK;
    }
    printf("store interactions, temporal split %.2f at %s: train %lld, test %lld positives "
           "(%lld test customers); k %lld; blend %.1f CF + %.1f ranker\n",
           json_number_value(json_object_get(r, "test_frac")),
           json_string_value(json_object_get(r, "cutoff")),
           (long long)json_integer_value(json_object_get(r, "n_train")),
           (long long)json_integer_value(json_object_get(r, "n_test")),
           (long long)json_integer_value(json_object_get(r, "n_test_users")),
           (long long)json_integer_value(json_object_get(r, "k")),
           json_number_value(json_object_get(r, "blend")),
           1 - json_number_value(json_object_get(r, "blend")));
    printf("%-16s %9s %9s %9s %9s %9s %8s %15s\n", "model", "Recall@k", "NDCG@k", "MAP@k",
           "coverage", "diversity", "novelty", "rule_violations");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "models"), i, m)
        printf("%-16s %9.4f %9.4f %9.4f %9.4f %9.4f %8.3f %15.4f\n",
               json_string_value(json_object_get(m, "model")),
               json_number_value(json_object_get(m, "recall")),
               json_number_value(json_object_get(m, "ndcg")),
               json_number_value(json_object_get(m, "map")),
               json_number_value(json_object_get(m, "coverage")),
               json_number_value(json_object_get(m, "diversity")),
               json_number_value(json_object_get(m, "novelty")),
               json_number_value(json_object_get(m, "rule_violations")));
    printf("(served: the blend under the rules as of the split instant, then MMR; the other rows "
           "are the raw models, whose rule_violations show what the rules take out)\n");
    json_decref(r);
    return CLI_OK;
}

static int train_cmd(struct cli_env *env)
{
    if (o_interactions)
        return cli_usage_error(env, "recommend train learns from the store: --interactions "
                               "belongs to recommend eval");
    if (check_models(env) != CLI_OK)
        return CLI_USAGE;
    struct tl_recommend_train_opts to = {.models = o_model, .no_ranker = o_no_ranker,
                                         .no_promote = o_no_promote, .actor = "cli"};
    uint64_t v;
    int rc;
    if (o_seed) {
        if ((rc = cli_parse_u64(env, "seed", o_seed, &v)) != CLI_OK)
            return rc;
        to.seed = v;
    }
    if (o_set) {
        const char *e = strstr(o_set, "epochs=");
        if (!e || strchr(o_set, ','))
            return cli_usage_error(env, "--set %s: train takes only epochs=N (the ranker's most "
                                   "epochs)", o_set);
        if ((rc = cli_parse_u64(env, "set epochs", e + 7, &v)) != CLI_OK)
            return rc;
        if (v < 1 || v > 1000)
            return cli_usage_error(env, "--set %s: epochs must be in [1, 1000]", o_set);
        to.ranker_epochs = (int)v;
    }
    tl_ctx *ctx;
    if ((rc = cli_open_ctx(env, &ctx)) != CLI_OK)
        return rc;
    tl_err err = {0};
    json_t *r = NULL;
    rc = tl_recommend_train(ctx, &to, &r, &err);
    tl_ctx_close(ctx);
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json) {
        cli_print_json(r);
        return CLI_OK;
    }
    printf("%lld customers, %lld products, %lld positives\n",
           (long long)json_integer_value(json_object_get(r, "customers")),
           (long long)json_integer_value(json_object_get(r, "products")),
           (long long)json_integer_value(json_object_get(r, "positives")));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "models"), i, m)
        printf("%-16s %-16s blend %.1f  valid NDCG@5 %.4f  Recall@5 %.4f%s\n",
               json_string_value(json_object_get(m, "id")),
               json_string_value(json_object_get(m, "algo")),
               json_number_value(json_object_get(m, "blend")),
               json_number_value(json_object_get(json_object_get(m, "valid"), "ndcg")),
               json_number_value(json_object_get(json_object_get(m, "valid"), "recall")),
               json_is_true(json_object_get(m, "promoted")) ? "  promoted to champion" : "");
    json_decref(r);
    return CLI_OK;
}

static int customer_cmd(struct cli_env *env, const char *customer)
{
    if (o_interactions || o_model || o_split)
        return cli_usage_error(env, "recommend CUSTOMER takes --k and --json only");
    int k, rc = parse_k(env, 5, TL_RECOMMEND_MAX_K, &k);
    if (rc != CLI_OK)
        return rc;
    struct tl_recommend_list *l = malloc(sizeof *l);
    if (!l) {
        tl_err e = {TL_ENOMEM, "out of memory"};
        return cli_fail(env, &e);
    }
    tl_ctx *ctx;
    if ((rc = cli_open_ctx(env, &ctx)) != CLI_OK) {
        free(l);
        return rc;
    }
    tl_err err = {0};
    rc = tl_recommend(ctx, customer, k, l, &err);
    if (rc == 0 && (rc = tl_recommend_journal(ctx, "cli", "cli", "teller recommend", l, &err)) < 0)
        tl_err_prefix(&err, "the list was stored but not journaled");
    tl_ctx_close(ctx);
    if (rc < 0) {
        free(l);
        return cli_fail(env, &err);
    }
    if (env->json) {
        cli_print_json(tl_recommend_list_json(l));
    } else {
        printf("%s: %zu of %d with %s%s\n", l->customer_id, l->n, l->k, l->model,
               l->cold_start ? " (new to the model: scored from the profile)" : "");
        for (size_t i = 0; i < l->n; i++)
            printf("%2d. %-32s %-16s %.3f  %s\n", l->items[i].rank, l->items[i].name,
                   l->items[i].category, l->items[i].score, l->items[i].reason);
        printf("excluded by the rules: %d ineligible, %d unsuitable, %d held, %d capped, %d "
               "dismissed\n", l->excluded_ineligible, l->excluded_unsuitable, l->excluded_held,
               l->excluded_capped, l->excluded_dismissed);
    }
    free(l);
    return CLI_OK;
}

int cli_cmd_recommend(struct cli_env *env)
{
    const char *sub = env->n_args > 0 ? env->args[0] : NULL;
    if (!sub)
        return cli_usage_error(env, "recommend needs CUSTOMER, train or eval");
    if (env->n_args > 1)
        return cli_usage_error(env, "unexpected argument \"%s\"", env->args[1]);
    if (strcmp(sub, "eval") == 0)
        return eval_cmd(env);
    if (strcmp(sub, "train") == 0)
        return train_cmd(env);
    return customer_cmd(env, sub);
}
