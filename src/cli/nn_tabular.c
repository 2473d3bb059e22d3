/*
 * teller nn train-tabular: an MLP classifier on a CSV file (nn_tabular.h):
 * the credit data preparation, AdamW with dropout, early stopping on the
 * validation AUC of a stratified split; prints the validation AUC and
 * accuracy, and saves the weights as safetensors with -o/--out.
 *
 * Its option values live in cli_nn_args (cli.h), which the `nn` command's
 * option table (src/cli/nn.c) points into; --target is accepted for
 * --label.
 */
#include "cli.h"

#include <teller/nn_tabular.h>

#include <stdlib.h>
#include <string.h>

/* -o FILE arrives as two positional arguments (the parser knows only long
 * options): find it after the subcommand. */
static int out_path(const struct cli_env *env, const char **out)
{
    *out = cli_nn_args.out;
    for (size_t i = 1; i < env->n_args; i++) {
        if (strcmp(env->args[i], "-o") != 0)
            return cli_usage_error(env, "unexpected argument \"%s\"", env->args[i]);
        if (i + 1 >= env->n_args)
            return cli_usage_error(env, "-o needs a file name");
        *out = env->args[++i];
    }
    return CLI_OK;
}

static int parse_int(const struct cli_env *env, const char *name, const char *s, uint64_t max,
                     int *out)
{
    uint64_t v;
    if (!s)
        return CLI_OK;
    int rc = cli_parse_u64(env, name, s, &v);
    if (rc != CLI_OK)
        return rc;
    if (v < 1 || v > max)
        return cli_usage_error(env, "--%s %s: expected 1 to %llu", name, s,
                               (unsigned long long)max);
    *out = (int)v;
    return CLI_OK;
}

int cli_nn_tabular(struct cli_env *env)
{
    const struct cli_nn_args *a = &cli_nn_args;
    const char *label = a->label ? a->label : a->target;
    if (!a->data)
        return cli_usage_error(env, "train-tabular needs --data FILE.csv");
    if (!label)
        return cli_usage_error(env, "train-tabular needs --label COL");
    const char *out = NULL;
    int rc = out_path(env, &out);
    if (rc != CLI_OK)
        return rc;
    struct tl_nn_tabular_opts o = TL_NN_TABULAR_OPTS_DEFAULT;
    o.label = label;
    o.positive = cli_nn_args.positive; /* NULL: inferred from 0/1, yes/no style labels */
    tl_err err = {0};
    if (a->hidden && tl_nn_tabular_parse_hidden(a->hidden, &o, &err) < 0)
        return cli_usage_error(env, "--hidden: %s", err.msg);
    uint64_t seed;
    if (a->seed) {
        if ((rc = cli_parse_u64(env, "seed", a->seed, &seed)) != CLI_OK)
            return rc;
        o.seed = seed;
    }
    if ((rc = parse_int(env, "epochs", a->epochs, 100000, &o.max_epochs)) != CLI_OK ||
        (rc = parse_int(env, "threads", a->threads, 256, &o.threads)) != CLI_OK)
        return rc;
    int batch = 0;
    if ((rc = parse_int(env, "batch", a->batch, 1000000, &batch)) != CLI_OK)
        return rc;
    o.batch_size = (size_t)batch;
    if (a->lr) {
        char *end = NULL;
        o.lr = strtod(a->lr, &end);
        if (end == a->lr || *end || !(o.lr > 0 && o.lr < 10))
            return cli_usage_error(env, "--lr %s: expected a number in (0, 10)", a->lr);
    }
    if (o.patience > o.max_epochs)
        o.patience = o.max_epochs;

    tl_frame *f;
    if (tl_frame_read_csv(a->data, &f, &err) < 0)
        return cli_fail(env, &err);
    tl_nn_tabular *m = NULL;
    struct tl_nn_tabular_report r;
    rc = tl_nn_tabular_train(f, &o, &m, &r, &err);
    tl_frame_free(f);
    if (rc < 0) {
        tl_err_prefix(&err, "%s", a->data);
        return cli_fail(env, &err);
    }
    if (out && tl_nn_tabular_save(m, out, &err) < 0) {
        tl_nn_tabular_free(m);
        return cli_fail(env, &err);
    }
    tl_nn_tabular_free(m);
    char hidden[128] = "";
    size_t len = 0;
    for (int i = 0; i < o.n_hidden; i++)
        len += (size_t)snprintf(hidden + len, sizeof hidden - len, "%s%lld", i ? "," : "",
                                (long long)o.hidden[i]);
    if (env->json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f}",
                              "data", a->data, "label", label, "n_train", (json_int_t)r.n_train,
                              "n_valid", (json_int_t)r.n_valid, "n_features",
                              (json_int_t)r.n_features, "hidden", hidden, "epochs",
                              (json_int_t)r.epochs_run, "best_epoch", (json_int_t)(r.best_epoch + 1),
                              "valid_auc", r.valid_auc, "valid_accuracy", r.valid_accuracy,
                              "valid_logloss", r.valid_logloss, "train_s", r.train_s,
                              "s_per_epoch", r.s_per_epoch);
        if (j && out)
            json_object_set_new(j, "model", json_string(out));
        cli_print_json(j);
    } else {
        printf("trained an MLP (%zu features -> %s -> 1) on %zu rows, validated on %zu\n",
               r.n_features, hidden[0] ? hidden : "none", r.n_train, r.n_valid);
        printf("epochs %d (best %d), %.3f s per epoch\n", r.epochs_run, r.best_epoch + 1,
               r.s_per_epoch);
        printf("validation AUC %.4f  accuracy %.4f  log loss %.4f\n", r.valid_auc,
               r.valid_accuracy, r.valid_logloss);
        if (out)
            printf("model written to %s\n", out);
    }
    return CLI_OK;
}
