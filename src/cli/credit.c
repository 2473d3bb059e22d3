/*
 * teller credit: train credit models (scorecard, gradient-boosted trees),
 * score applications with decisions and reasons, and cross-validate.
 *
 *   train  fits, registers each model (task "credit") and promotes the better
 *          when the task has no champion
 *   score  one JSON application (stdin or --json-in) -> JSON decision, or a
 *          CSV of applications (--data) -> a CSV of decisions (--out); every
 *          decision is journaled with model version and inputs digest
 *   eval   k-fold stratified cross-validation of each algorithm, same folds
 */
#include "cli.h"

#include <teller/credit.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *opt_data, *opt_label, *opt_positive, *opt_algo, *opt_drop, *opt_seed,
    *opt_protected, *opt_allow, *opt_folds, *opt_folds_out, *opt_json_in, *opt_out, *opt_model,
    *opt_cv;
static bool opt_dry_run;

const struct cli_opt cli_credit_opts[] = {
    {"data", true, &opt_data, NULL, "--data FILE.csv         training data, or applications to score"},
    {"label", true, &opt_label, NULL, "--label COL             the outcome column (default with the store: defaulted_12m)"},
    {"positive", true, &opt_positive, NULL, "--positive VALUE        the label value meaning default"},
    {"algo", true, &opt_algo, NULL, "--algo scorecard|gbdt|both|mlp|all   what to train or evaluate (default both)"},
    {"drop", true, &opt_drop, NULL, "--drop COL[,COL...]     columns left out of the inputs"},
    {"seed", true, &opt_seed, NULL, "--seed S                split, folds and boosting seed (default 42)"},
    {"protected", true, &opt_protected, NULL, "--protected COL[,..]    protected attributes beyond those found by name"},
    {"allow-protected", true, &opt_allow, NULL, "--allow-protected COL[,..]  use these protected columns as inputs"},
    {"folds", true, &opt_folds, NULL, "--folds K               eval: number of folds (default 5)"},
    {"folds-out", true, &opt_folds_out, NULL, "--folds-out FILE.csv    eval: write row,fold (0-based data row)"},
    {"cv", true, &opt_cv, NULL, "--cv K                  train: K-fold CV for the card (default 5 up to 10,000 rows; 0 none)"},
    {"dry-run", false, NULL, &opt_dry_run, "--dry-run               train: fit and report, register nothing"},
    {"json-in", true, &opt_json_in, NULL, "--json-in FILE          score: the application (default: stdin)"},
    {"out", true, &opt_out, NULL, "--out FILE.csv          score --data: where the decisions go"},
    {"model", true, &opt_model, NULL, "--model ID              score: this model rather than the champion"},
    {0},
};

/* Splits a comma-separated list in place (s is a copy the caller frees). */
static size_t split_list(char *s, const char **v, size_t max)
{
    size_t n = 0;
    for (char *p = s; p && *p && n < max;) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        if (*p)
            v[n++] = p;
        p = c ? c + 1 : NULL;
    }
    return n;
}

struct lists {
    char *buf[3];
    const char *drop[64], *prot[64], *allow[64];
};

static int parse_opts(struct cli_env *env, struct tl_credit_train_opts *o, struct lists *l)
{
    *o = TL_CREDIT_TRAIN_OPTS_DEFAULT;
    o->data_path = opt_data;
    o->label = opt_label;
    o->positive = opt_positive;
    o->folds_out = opt_folds_out;
    o->no_register = opt_dry_run;
    tl_err err = {0};
    if (opt_algo && tl_credit_algo_parse(opt_algo, &o->algo, &err) < 0)
        return cli_usage_error(env, "--algo: %s", err.msg);
    uint64_t v;
    if (opt_seed) {
        if (cli_parse_u64(env, "seed", opt_seed, &v) != CLI_OK)
            return CLI_USAGE;
        o->seed = v;
    }
    if (opt_folds) {
        if (cli_parse_u64(env, "folds", opt_folds, &v) != CLI_OK)
            return CLI_USAGE;
        if (v < 2 || v > 32)
            return cli_usage_error(env, "--folds must be from 2 to 32");
        o->folds = (int)v;
    }
    if (opt_cv) {
        if (cli_parse_u64(env, "cv", opt_cv, &v) != CLI_OK)
            return CLI_USAGE;
        if (v == 1 || v > 32)
            return cli_usage_error(env, "--cv must be 0 (none) or from 2 to 32");
        o->cv_folds = v == 0 ? -1 : (int)v;
    }
    const char *src[3] = {opt_drop, opt_protected, opt_allow};
    const char **dst[3] = {l->drop, l->prot, l->allow};
    size_t n[3] = {0};
    for (int i = 0; i < 3; i++) {
        l->buf[i] = src[i] ? strdup(src[i]) : NULL;
        if (l->buf[i])
            n[i] = split_list(l->buf[i], dst[i], 64);
    }
    o->drop = l->drop, o->n_drop = n[0];
    o->protected_cols = l->prot, o->n_protected = n[1];
    o->allow_protected = l->allow, o->n_allow_protected = n[2];
    return CLI_OK;
}

static void lists_free(struct lists *l)
{
    for (int i = 0; i < 3; i++)
        free(l->buf[i]);
}

/* Like cli_print_json (v is consumed), with six significant digits: a
 * metric is 0.770164, not 0.77016399999999996, and no figure here means more. */
static void print_json(json_t *v)
{
    if (!v)
        return;
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(v);
}

static void print_metrics(const char *id, const char *algo, const json_t *v)
{
    printf("%-12s %-9s validation AUC %.4f  Gini %.4f  KS %.4f  log loss %.4f  approval %.1f%%\n",
           id ? id : "(dry run)", algo, json_number_value(json_object_get(v, "auc")),
           json_number_value(json_object_get(v, "gini")),
           json_number_value(json_object_get(v, "ks")),
           json_number_value(json_object_get(v, "logloss")),
           100 * json_number_value(json_object_get(v, "approval_rate")));
}

static void print_fairness(const json_t *fairness)
{
    size_t i;
    json_t *f;
    json_array_foreach(fairness, i, f) {
        json_t *air = json_object_get(f, "adverse_impact_ratio");
        char val[32] = "n/a";
        if (json_is_number(air))
            snprintf(val, sizeof val, "%.3f", json_number_value(air));
        printf("    fairness %-20s adverse impact ratio %s%s\n",
               json_string_value(json_object_get(f, "attribute")), val,
               json_is_true(json_object_get(f, "flag")) ? "  (below 0.8: review)" : "");
    }
}

typedef int (*report_fn)(tl_ctx *ctx, const struct tl_credit_train_opts *o, json_t **report,
                         tl_err *err);

/* What train and eval share: a context only when the work needs the store,
 * the call, the failure, and --json. *rep is left for the caller's text
 * output (CLI_OK and *rep non-NULL); otherwise the answer is given. */
static int run_report(struct cli_env *env, const struct tl_credit_train_opts *o, bool needs_store,
                      report_fn fn, json_t **rep)
{
    tl_ctx *ctx = NULL;
    *rep = NULL;
    if (needs_store) {
        int rc = cli_open_ctx(env, &ctx);
        if (rc != CLI_OK)
            return rc;
    }
    tl_err err = {0};
    int rc = fn(ctx, o, rep, &err);
    tl_ctx_close(ctx);
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json) {
        print_json(*rep);
        *rep = NULL;
    }
    return CLI_OK;
}

static int credit_train(struct cli_env *env, const struct tl_credit_train_opts *o)
{
    json_t *rep;
    int rc = run_report(env, o, !o->no_register || !o->data_path, tl_credit_train, &rep);
    if (rc != CLI_OK || !rep)
        return rc;
    printf("trained on %s: %" JSON_INTEGER_FORMAT " rows, %" JSON_INTEGER_FORMAT " defaults\n",
           json_string_value(json_object_get(rep, "source")),
           json_integer_value(json_object_get(rep, "rows")),
           json_integer_value(json_object_get(rep, "positives")));
    size_t i;
    json_t *m, *p;
    if (json_array_size(json_object_get(rep, "protected"))) {
        printf("protected attributes (fairness report; inputs only with --allow-protected):");
        json_array_foreach(json_object_get(rep, "protected"), i, p)
            printf(" %s", json_string_value(p));
        printf("\n");
    }
    json_array_foreach(json_object_get(rep, "models"), i, m) {
        print_metrics(json_string_value(json_object_get(m, "id")),
                      json_string_value(json_object_get(m, "algo")), json_object_get(m, "valid"));
        printf("    trained in %.2f s (search included)\n",
               json_number_value(json_object_get(m, "train_s")));
        json_t *cv = json_object_get(m, "cv");
        if (cv)
            printf("    %zu-fold CV AUC %.4f (sd %.4f)  Gini %.4f  KS %.4f  log loss %.4f  "
                   "train %.2f s/fold\n",
                   json_array_size(json_object_get(cv, "auc_folds")),
                   json_number_value(json_object_get(cv, "auc_mean")),
                   json_number_value(json_object_get(cv, "auc_sd")),
                   json_number_value(json_object_get(cv, "gini")),
                   json_number_value(json_object_get(cv, "ks")),
                   json_number_value(json_object_get(cv, "logloss")),
                   json_number_value(json_object_get(cv, "train_s")));
        printf("    inputs:");
        json_t *c;
        size_t k;
        json_array_foreach(json_object_get(json_object_get(m, "data"), "inputs"), k, c)
            printf(" %s", json_string_value(c));
        printf("\n");
        if (!env->quiet)
            print_fairness(json_object_get(m, "fairness"));
    }
    const char *prom = json_string_value(json_object_get(rep, "promoted"));
    if (prom)
        printf("promoted %s to champion of task credit (the task had none; best validation AUC)\n",
               prom);
    else if (!o->no_register)
        printf("the credit champion is unchanged: promote with `teller models promote ID`\n");
    json_decref(rep);
    return CLI_OK;
}

static int credit_eval(struct cli_env *env, const struct tl_credit_train_opts *o)
{
    json_t *rep;
    int rc = run_report(env, o, !o->data_path, tl_credit_eval, &rep);
    if (rc != CLI_OK || !rep)
        return rc;
    printf("%s: %" JSON_INTEGER_FORMAT " rows, %" JSON_INTEGER_FORMAT
           " defaults, %d-fold stratified CV (seed %" JSON_INTEGER_FORMAT ")\n",
           json_string_value(json_object_get(rep, "source")),
           json_integer_value(json_object_get(rep, "rows")),
           json_integer_value(json_object_get(rep, "positives")),
           (int)json_integer_value(json_object_get(rep, "folds")),
           json_integer_value(json_object_get(rep, "seed")));
    const char *k;
    json_t *a;
    json_object_foreach(json_object_get(rep, "algos"), k, a) {
        printf("%-9s AUC %.4f (sd %.4f)  Gini %.4f  KS %.4f  log loss %.4f  train %.2f s/fold  "
               "folds:",
               k, json_number_value(json_object_get(a, "auc_mean")),
               json_number_value(json_object_get(a, "auc_sd")),
               json_number_value(json_object_get(a, "gini")),
               json_number_value(json_object_get(a, "ks")),
               json_number_value(json_object_get(a, "logloss")),
               json_number_value(json_object_get(a, "train_s")));
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(a, "auc_folds"), i, f)
            printf(" %.4f", json_number_value(f));
        printf("\n          inputs:");
        json_array_foreach(json_object_get(json_object_get(rep, "inputs"), k), i, f)
            printf(" %s", json_string_value(f));
        printf("\n");
    }
    json_t *ex = json_object_get(rep, "protected_excluded");
    if (json_array_size(ex)) {
        printf("protected columns left out (--allow-protected to use them):");
        size_t i;
        json_t *f;
        json_array_foreach(ex, i, f)
            printf(" %s", json_string_value(f));
        printf("\n");
    }
    json_decref(rep);
    return CLI_OK;
}

/* Journals one decision as the audit journal wants it. */
static int journal_decision(tl_ctx *ctx, const json_t *d, tl_err *err)
{
    json_t *det = json_pack("{s:O,s:O,s:O,s:O}", "decision", json_object_get(d, "decision"),
                            "pd", json_object_get(d, "pd"), "score", json_object_get(d, "score"),
                            "reasons", json_object_get(d, "reasons"));
    char *details = det ? json_dumps(det, JSON_COMPACT) : NULL;
    json_decref(det);
    if (!details)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    struct tl_audit_event ev = {.actor = "cli", .role = "cli", .action = "credit.decision",
                                .resource = "teller credit score",
                                .model_version = json_string_value(json_object_get(d, "model")),
                                .inputs_digest =
                                    json_string_value(json_object_get(d, "inputs_digest")),
                                .details = details};
    int rc = tl_audit_append(ctx, &ev, err);
    free(details);
    if (rc < 0)
        tl_err_prefix(err, "the decision was made but not journaled");
    return rc;
}

static int score_batch(struct cli_env *env, tl_ctx *ctx, const tl_credit_model *m)
{
    tl_err err = {0};
    if (!opt_out)
        return cli_usage_error(env, "score --data needs --out FILE.csv");
    tl_frame *f = NULL;
    if (tl_frame_read_csv(opt_data, &f, &err) < 0)
        return cli_fail(env, &err);
    size_t ni = tl_credit_model_n_inputs(m);
    int *map = calloc(ni, sizeof *map);
    const char **cells = calloc(ni, sizeof *cells);
    FILE *out = NULL;
    int rc = (!map || !cells) ? tl_err_set(&err, TL_ENOMEM, "out of memory") : 0;
    for (size_t j = 0; rc == 0 && j < ni; j++)
        if ((map[j] = tl_frame_col(f, tl_credit_model_input(m, j))) < 0)
            rc = tl_err_set(&err, TL_EINVAL, "%s: no column %s, which model %s reads", opt_data,
                            tl_credit_model_input(m, j), tl_credit_model_id(m));
    if (rc == 0 && !(out = fopen(opt_out, "w")))
        rc = tl_err_set(&err, TL_EIO, "cannot create %s: %s", opt_out, strerror(errno));
    if (rc == 0) {
        const char *hdr[] = {"row", "decision", "pd", "score", "reason_1", "reason_2", "reason_3",
                             "reason_4"};
        tl_csv_write_record(out, 8, hdr);
    }
    size_t counts[3] = {0};
    for (size_t i = 0; rc == 0 && i < tl_frame_rows(f); i++) {
        for (size_t j = 0; j < ni; j++)
            cells[j] = tl_frame_cell(f, i, (size_t)map[j]);
        struct tl_credit_decision d;
        if ((rc = tl_credit_score_row(m, cells, &d, &err)) < 0) {
            tl_err_prefix(&err, "%s: data row %zu", opt_data, i + 1);
            break;
        }
        counts[d.outcome]++;
        char row[24], pd[32], score[32];
        snprintf(row, sizeof row, "%zu", i);
        snprintf(pd, sizeof pd, "%.6f", d.pd);
        snprintf(score, sizeof score, "%.1f", d.score);
        const char *rec[8] = {row, tl_credit_outcome_name(d.outcome), pd, score, "", "", "", ""};
        for (size_t r = 0; r < d.n_reasons; r++)
            rec[4 + r] = tl_credit_model_input(m, d.reasons[r].input);
        tl_csv_write_record(out, 8, rec);
    }
    if (out && fclose(out) != 0 && rc == 0)
        rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", opt_out, strerror(errno));
    size_t n = tl_frame_rows(f);
    free(map);
    free(cells);
    tl_frame_free(f);
    if (rc == 0) {
        char details[160];
        snprintf(details, sizeof details,
                 "{\"rows\":%zu,\"approve\":%zu,\"refer\":%zu,\"decline\":%zu}", n, counts[0],
                 counts[1], counts[2]);
        struct tl_audit_event ev = {.actor = "cli", .role = "cli", .action = "credit.batch",
                                    .resource = "teller credit score --data",
                                    .model_version = tl_credit_model_id(m), .details = details};
        if ((rc = tl_audit_append(ctx, &ev, &err)) < 0)
            tl_err_prefix(&err, "the decisions were written but not journaled");
    }
    if (rc < 0)
        return cli_fail(env, &err);
    if (env->json)
        print_json(json_pack("{s:s,s:I,s:I,s:I,s:I,s:s}", "model", tl_credit_model_id(m),
                                 "rows", (json_int_t)n, "approve", (json_int_t)counts[0], "refer",
                                 (json_int_t)counts[1], "decline", (json_int_t)counts[2], "out",
                                 opt_out));
    else
        printf("scored %zu applications with %s: %zu approve, %zu refer, %zu decline -> %s\n", n,
               tl_credit_model_id(m), counts[0], counts[1], counts[2], opt_out);
    return CLI_OK;
}

static int credit_score(struct cli_env *env)
{
    tl_ctx *ctx = NULL;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    tl_err err = {0};
    tl_credit_model *m = NULL;
    if (tl_credit_model_load(ctx, opt_model, &m, &err) < 0) {
        tl_ctx_close(ctx);
        return cli_fail(env, &err);
    }
    if (opt_data) {
        rc = score_batch(env, ctx, m);
        tl_credit_model_free(m);
        tl_ctx_close(ctx);
        return rc;
    }
    json_error_t je;
    json_t *app = opt_json_in ? json_load_file(opt_json_in, JSON_REJECT_DUPLICATES, &je)
                              : json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
    json_t *d = NULL;
    if (!app)
        tl_err_set(&err, TL_EPARSE, "%s:%d:%d: %s", opt_json_in ? opt_json_in : "stdin", je.line,
                   je.column, je.text);
    else if (tl_credit_score_json(m, app, &d, &err) == 0)
        journal_decision(ctx, d, &err);
    json_decref(app);
    tl_credit_model_free(m);
    tl_ctx_close(ctx);
    if (err.code < 0) {
        json_decref(d);
        return cli_fail(env, &err);
    }
    print_json(d);
    return CLI_OK;
}

int cli_cmd_credit(struct cli_env *env)
{
    const char *sub = env->args[0];
    struct tl_credit_train_opts o;
    struct lists l = {0};
    int rc = parse_opts(env, &o, &l);
    if (rc != CLI_OK) {
        lists_free(&l);
        return rc;
    }
    if (strcmp(sub, "train") == 0)
        rc = credit_train(env, &o);
    else if (strcmp(sub, "eval") == 0)
        rc = credit_eval(env, &o);
    else if (strcmp(sub, "score") == 0)
        rc = credit_score(env);
    else
        rc = cli_usage_error(env, "unknown subcommand \"%s\" (train, score or eval)", sub);
    lists_free(&l);
    return rc;
}
