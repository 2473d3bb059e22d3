/*
 * teller fraud: fraud detection. For now one subcommand:
 *
 *   eval  Teller's fraud models on a labelled transaction file with the
 *         Fraud Detection Handbook's chapter 3 protocol (train week, delay
 *         week, test week with known compromised cards removed), printed
 *         next to the handbook's published figures (docs/fraud.md)
 */
#include "cli.h"

#include <teller/fraud.h>

#include <stdlib.h>
#include <string.h>

static const char *opt_data, *opt_train_start, *opt_train_days, *opt_delay_days, *opt_test_days,
    *opt_top_k, *opt_threads;
static bool opt_no_handbook;

const struct cli_opt cli_fraud_opts[] = {
    {"data", true, &opt_data, NULL, "--data FILE.csv[.gz]    labelled transactions (fraud_sim columns)"},
    {"train-start", true, &opt_train_start, NULL, "--train-start DATE      first training day (default 2018-07-25)"},
    {"train-days", true, &opt_train_days, NULL, "--train-days N          training period (default 7)"},
    {"delay-days", true, &opt_delay_days, NULL, "--delay-days N          feedback delay before the test (default 7)"},
    {"test-days", true, &opt_test_days, NULL, "--test-days N           test period (default 7)"},
    {"top-k", true, &opt_top_k, NULL, "--top-k K               cards an analyst team checks a day (default 100)"},
    {"threads", true, &opt_threads, NULL, "--threads N             XGBoost threads (default: one per core)"},
    {"no-handbook", false, NULL, &opt_no_handbook, "--no-handbook           leave out the handbook's own model"},
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
    if (!opt_data)
        return cli_usage_error(env, "eval needs --data FILE.csv[.gz]");
    o.data_path = opt_data;
    if (opt_train_start)
        o.train_start = opt_train_start;
    int rc;
    if ((rc = parse_int_opt(env, "train-days", opt_train_days, 3660, &o.train_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "delay-days", opt_delay_days, 3660, &o.delay_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "test-days", opt_test_days, 3660, &o.test_days)) != CLI_OK ||
        (rc = parse_int_opt(env, "top-k", opt_top_k, 1000000, &o.top_k)) != CLI_OK ||
        (rc = parse_int_opt(env, "threads", opt_threads, 1024, &o.nthread)) != CLI_OK)
        return rc;
    o.handbook_row = !opt_no_handbook;
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

int cli_cmd_fraud(struct cli_env *env)
{
    const char *sub = env->args[0];
    if (strcmp(sub, "eval") == 0)
        return fraud_eval(env);
    return cli_usage_error(env, "unknown subcommand \"%s\" (eval)", sub);
}
