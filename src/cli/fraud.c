/*
 * teller fraud: fraud detection.
 *
 *   train   a fraud model from the store's card transactions or a labelled
 *           file, registered (promoted when the task has no champion)
 *   stream, replay  in fraud_stream.c
 *   eval  Teller's fraud models on a labelled transaction file with the
 *         Fraud Detection Handbook's chapter 3 protocol (train week, delay
 *         week, test week with known compromised cards removed), printed
 *         next to the handbook's published figures (docs/fraud.md)
 */
#include "fraud_cli.h"

#include <teller/fraud.h>

#include <stdlib.h>
#include <string.h>

static struct cli_fraud_opts O;

const struct cli_opt cli_fraud_opts[] = {
    {"data", true, &O.data, NULL, "--data FILE.csv[.gz]    labelled transactions (fraud_sim columns)"},
    {"train-start", true, &O.train_start, NULL, "--train-start DATE      eval: first training day (default 2018-07-25)"},
    {"train-days", true, &O.train_days, NULL, "--train-days N          training period (eval default 7; train default all)"},
    {"delay-days", true, &O.delay_days, NULL, "--delay-days N          feedback delay: labels this recent are not in yet (default 7)"},
    {"test-days", true, &O.test_days, NULL, "--test-days N           eval: test period (default 7)"},
    {"valid-days", true, &O.valid_days, NULL, "--valid-days N          train: last training days for early stopping and thresholds (default 2)"},
    {"top-k", true, &O.top_k, NULL, "--top-k K               eval: cards an analyst team checks a day (default 100)"},
    {"threads", true, &O.threads, NULL, "--threads N             XGBoost threads (default: one per core)"},
    {"eta", true, &O.eta, NULL, "--eta R                 train: the trees' learning rate (default 0.1)"},
    {"model", true, &O.model, NULL, "--model ID              a registered fraud model (default: the champion)"},
    {"rules", true, &O.rules, NULL, "--rules FILE            the bank's rules (default: fraud.rules_file)"},
    {"state", true, &O.state, NULL, "--state FILE            stream state: restored when it exists, saved at the end"},
    {"from", true, &O.from, NULL, "--from DATE             replay: from this day or time (default: all)"},
    {"reasons", true, &O.reasons, NULL, "--reasons MODE          shap, exact or approx (default: fraud.reasons)"},
    {"no-handbook", false, NULL, &O.no_handbook, "--no-handbook           eval: leave out the handbook's own model"},
    {"no-register", false, NULL, &O.no_register, "--no-register           train: fit and report, store nothing"},
    {"no-iforest", false, NULL, &O.no_iforest, "--no-iforest            train: no isolation forest for new cards"},
    {"with-lr", false, NULL, &O.with_lr, "--with-lr               train: also a logistic regression, blended in when it helps"},
    {0},
};

static int parse_int_opt(struct cli_env *env, const char *name, const char *s, int max, int *out)
{
    if (!s)
        return CLI_OK;
    uint64_t v;
    int rc = cli_parse_u64(env, name, s, &v);
    if (rc != CLI_OK)
        return rc;
    if (v > (uint64_t)max)
        return cli_usage_error(env, "--%s %s: at most %d", name, s, max);
    *out = (int)v;
    return CLI_OK;
}

static void print_table(json_t *rep)
{
    json_t *tr = json_object_get(rep, "train"), *te = json_object_get(rep, "test");
    json_t *pr = json_object_get(rep, "protocol");
    printf("data      %s (%lld transactions)\n", json_string_value(json_object_get(rep, "data")),
           (long long)json_integer_value(json_object_get(rep, "transactions")));
    printf("train     %s .. %s (excl.): %lld tx, %lld frauds\n",
           json_string_value(json_object_get(pr, "train_start")),
           json_string_value(json_object_get(pr, "train_end")),
           (long long)json_integer_value(json_object_get(tr, "rows")),
           (long long)json_integer_value(json_object_get(tr, "frauds")));
    printf("test      %s .. %s (excl.), known compromised cards removed: %lld tx, %lld frauds, "
           "%lld cards (%lld rows removed)\n",
           json_string_value(json_object_get(pr, "test_start")),
           json_string_value(json_object_get(pr, "test_end")),
           (long long)json_integer_value(json_object_get(te, "rows")),
           (long long)json_integer_value(json_object_get(te, "frauds")),
           (long long)json_integer_value(json_object_get(te, "cards")),
           (long long)json_integer_value(json_object_get(te, "removed_rows")));
    int k = (int)json_integer_value(json_object_get(pr, "top_k"));
    char cp[32];
    snprintf(cp, sizeof cp, "Card Precision@%d", k);
    printf("\n%-34s %8s %18s %18s\n", "model", "AUC ROC", "Average precision", cp);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(rep, "models"), i, m) {
        char name[64];
        json_t *r = json_object_get(m, "rounds");
        if (r)
            snprintf(name, sizeof name, "%s (%lld f, %lld rounds)",
                     json_string_value(json_object_get(m, "name")),
                     (long long)json_integer_value(json_object_get(m, "features")),
                     (long long)json_integer_value(r));
        else
            snprintf(name, sizeof name, "%s (%lld f)", json_string_value(json_object_get(m, "name")),
                     (long long)json_integer_value(json_object_get(m, "features")));
        printf("%-34s %8.3f %18.3f %18.3f\n", name, json_real_value(json_object_get(m, "auc")),
               json_real_value(json_object_get(m, "average_precision")),
               json_real_value(json_object_get(m, "card_precision_at_k")));
    }
    printf("\npublished (handbook ch. 3, 2018-07-25 protocol, Card Precision@100):\n");
    json_array_foreach(json_object_get(rep, "published"), i, m)
        printf("%-34s %8.3f %18.3f %18.3f\n", json_string_value(json_object_get(m, "name")),
               json_real_value(json_object_get(m, "auc")),
               json_real_value(json_object_get(m, "average_precision")),
               json_real_value(json_object_get(m, "card_precision_at_k")));
}

static int fraud_eval(struct cli_env *env)
{
    struct tl_fraud_eval_opts o = TL_FRAUD_EVAL_OPTS_DEFAULT;
    if (!O.data)
        return cli_usage_error(env, "eval needs --data FILE.csv[.gz]");
    o.data_path = O.data;
    if (O.train_start)
        o.train_start = O.train_start;
    int rc;
    if ((rc = parse_int_opt(env, "train-days", O.train_days, 3660, &o.train_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "delay-days", O.delay_days, 3660, &o.delay_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "test-days", O.test_days, 3660, &o.test_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "top-k", O.top_k, 1000000, &o.top_k)) != CLI_OK ||
        (rc = parse_int_opt(env, "threads", O.threads, 1024, &o.nthread)) != CLI_OK)
        return rc;
    o.handbook_row = !O.no_handbook;
    json_t *rep;
    tl_err err = {0};
    if (tl_fraud_eval(NULL, &o, &rep, &err) < 0)
        return cli_fail(env, &err);
    if (env->json)
        cli_print_json(rep);
    else {
        print_table(rep);
        json_decref(rep);
    }
    return CLI_OK;
}

static void print_train(json_t *rep)
{
    json_t *tr = json_object_get(rep, "train"), *va = json_object_get(rep, "valid");
    json_t *th = json_object_get(rep, "thresholds"), *cb = json_object_get(rep, "combine");
    printf("trained on %s: %lld transactions, %lld cards (%s)\n",
           json_string_value(json_object_get(rep, "source")),
           (long long)json_integer_value(json_object_get(rep, "transactions")),
           (long long)json_integer_value(json_object_get(rep, "cards")),
           json_string_value(json_object_get(rep, "currency")));
    printf("train     %s .. %s (excl.): %lld tx, %lld frauds; %s, %lld rounds, %.1f s\n",
           json_string_value(json_object_get(tr, "from")), json_string_value(json_object_get(tr, "to")),
           (long long)json_integer_value(json_object_get(tr, "rows")),
           (long long)json_integer_value(json_object_get(tr, "frauds")),
           json_string_value(json_object_get(rep, "algo")),
           (long long)json_integer_value(json_object_get(rep, "rounds")),
           json_number_value(json_object_get(rep, "train_s")));
    printf("valid     %s .. %s (excl.): %lld tx, %lld frauds; AUC %.4f, average precision %.4f\n",
           json_string_value(json_object_get(va, "from")), json_string_value(json_object_get(va, "to")),
           (long long)json_integer_value(json_object_get(va, "rows")),
           (long long)json_integer_value(json_object_get(va, "frauds")),
           json_number_value(json_object_get(va, "auc")),
           json_number_value(json_object_get(va, "average_precision")));
    printf("review    score >= %.4f: %.2f%% of transactions, precision %.1f%%, %.1f%% of frauds\n",
           json_number_value(json_object_get(th, "review")),
           100 * json_number_value(json_object_get(va, "review_rate")),
           100 * json_number_value(json_object_get(va, "review_precision")),
           100 * json_number_value(json_object_get(va, "recall_at_review")));
    printf("block     score >= %.4f: %.2f%% of transactions, precision %.1f%%%s\n",
           json_number_value(json_object_get(th, "block")),
           100 * json_number_value(json_object_get(va, "block_rate")),
           100 * json_number_value(json_object_get(va, "block_precision")),
           json_is_true(json_object_get(th, "block_precision_met")) ? ""
                                                                   : " (target not met: top 0.1%)");
    printf("cold      cards with <= %lld earlier transactions: %lld validation tx, %lld frauds; "
           "isolation forest weight %.2f\n",
           (long long)json_integer_value(json_object_get(cb, "cold_max_tx")),
           (long long)json_integer_value(json_object_get(cb, "cold_rows")),
           (long long)json_integer_value(json_object_get(cb, "cold_frauds")),
           json_number_value(json_object_get(cb, "iforest_weight")));
    const char *id = json_string_value(json_object_get(rep, "id"));
    if (id)
        printf("model     %s registered%s\n", id,
               json_is_true(json_object_get(rep, "promoted")) ? " and promoted to champion"
                                                              : " as a challenger");
    else
        printf("model     not registered (--no-register)\n");
}

static int fraud_train(struct cli_env *env)
{
    struct tl_fraud_train_opts o = TL_FRAUD_TRAIN_OPTS_DEFAULT;
    o.data_path = O.data;
    o.no_iforest = O.no_iforest;
    o.with_lr = O.with_lr;
    o.no_register = O.no_register;
    o.actor = "cli";
    int rc;
    if ((rc = parse_int_opt(env, "train-days", O.train_days, 3660, &o.train_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "delay-days", O.delay_days, 3660, &o.delay_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "valid-days", O.valid_days, 3660, &o.valid_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "threads", O.threads, 1024, &o.nthread)) != CLI_OK)
        return rc;
    if (O.valid_days && o.valid_days < 1)
        return cli_usage_error(env, "--valid-days %s: at least 1", O.valid_days);
    if (O.eta) {
        char *end;
        o.eta = strtod(O.eta, &end);
        if (*end || !(o.eta > 0 && o.eta <= 1))
            return cli_usage_error(env, "--eta %s: a learning rate in (0, 1]", O.eta);
    }
    tl_ctx *ctx = NULL;
    /* the store is needed to register, or to read the history from */
    if (!o.no_register || !o.data_path) {
        if ((rc = cli_open_ctx(env, &ctx)) != CLI_OK)
            return rc;
    }
    json_t *rep = NULL;
    tl_err err = {0};
    rc = tl_fraud_train(ctx, &o, &rep, &err);
    tl_ctx_close(ctx);
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json) {
        cli_print_json(rep);
    } else {
        print_train(rep);
        json_decref(rep);
    }
    return CLI_OK;
}

int cli_cmd_fraud(struct cli_env *env)
{
    const char *sub = env->args[0];
    if (strcmp(sub, "train") == 0)
        return fraud_train(env);
    if (strcmp(sub, "eval") == 0)
        return fraud_eval(env);
    if (strcmp(sub, "stream") == 0)
        return cli_fraud_stream(env, &O);
    if (strcmp(sub, "replay") == 0)
        return cli_fraud_replay(env, &O);
    return cli_usage_error(env, "unknown subcommand \"%s\" (train, stream, replay, eval)", sub);
}
