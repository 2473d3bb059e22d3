/*
 * teller nn: neural networks trained on the bank's CPUs.
 *
 *   train-text    a text classifier (BiGRU, fastText-style, ensemble) from a
 *                 CSV of texts and labels, early-stopped on a stratified 10%
 *                 validation split, written as safetensors
 *   predict-text  one predicted label per row of a CSV; with --label, the
 *                 accuracy and macro-F1
 *   train-tabular in nn_tabular.c
 */
#include "cli.h"

#include <teller/csv.h>
#include <teller/nn_text.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cli_nn_args cli_nn_args;
static bool opt_verbose, opt_register;
static const char *opt_split_out;

const struct cli_opt cli_nn_opts[] = {
    {"data", true, &cli_nn_args.data, NULL, "--data FILE.csv         the rows (a header row names the columns)"},
    {"text", true, &cli_nn_args.text, NULL, "--text COL              the column holding the text"},
    {"label", true, &cli_nn_args.label, NULL, "--label COL             the column holding the label"},
    {"target", true, &cli_nn_args.target, NULL, "--target COL            train-tabular: the column to predict"},
    {"out", true, &cli_nn_args.out, NULL, "--out FILE              train: the model (as -o); predict: the labels (default stdout)"},
    {"model", true, &cli_nn_args.model, NULL, "--model KIND            train-text: bigru, fasttext or ensemble (default ensemble)"},
    {"epochs", true, &cli_nn_args.epochs, NULL, "--epochs N              most epochs per model (train-text 12, train-tabular 50)"},
    {"seed", true, &cli_nn_args.seed, NULL, "--seed S                split, initialization and shuffling (default 42)"},
    {"threads", true, &cli_nn_args.threads, NULL, "--threads N             OpenBLAS threads (default 2)"},
    {"lr", true, &cli_nn_args.lr, NULL, "--lr R                  learning rate"},
    {"batch", true, &cli_nn_args.batch, NULL, "--batch N               mini-batch size"},
    {"hidden", true, &cli_nn_args.hidden, NULL, "--hidden N[,N..]        hidden width (train-tabular: one per layer, e.g. 64,32)"},
    {"positive", true, &cli_nn_args.positive, NULL, "--positive V            train-tabular: the label value of the positive class"},
    {"split-out", true, &opt_split_out, NULL, "--split-out FILE        train-text: write row,valid (0-based data row) to compare other tools"},
    {"verbose", false, NULL, &opt_verbose, "--verbose               train-text: print each epoch on stderr"},
    {"register", false, NULL, &opt_register, "--register              train-text: also store the model in the registry (task intent)"},
    {0},
};

/* A CSV loaded whole: the text column and, when asked, the label column. */
struct rows {
    size_t n, cap;
    char **text;
    char **label;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->text[i]);
        if (r->label)
            free(r->label[i]);
    }
    free(r->text);
    free(r->label);
}

static int find_col(const tl_csv_record *h, const char *name)
{
    for (size_t i = 0; i < h->n_fields; i++)
        if (strcmp(h->fields[i], name) == 0)
            return (int)i;
    return -1;
}

static int load_rows(const char *path, const char *text_col, const char *label_col, struct rows *r,
                     tl_err *err)
{
    memset(r, 0, sizeof *r);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
    tl_csv_reader *rd = NULL;
    const tl_csv_record *rec;
    int rc = tl_csv_reader_open(fp, path, 0, &rd, err);
    if (rc < 0) {
        fclose(fp);
        return rc;
    }
    int tc = -1, lc = -1;
    rc = tl_csv_next(rd, &rec, err);
    if (rc == 0)
        rc = tl_err_set(err, TL_EINVAL, "%s: the file is empty (a header row is needed)", path);
    if (rc > 0) {
        rc = 0;
        tc = find_col(rec, text_col);
        lc = label_col ? find_col(rec, label_col) : -1;
        if (tc < 0)
            rc = tl_err_set(err, TL_EINVAL, "%s: no column \"%s\" (--text) in the header", path,
                            text_col);
        else if (label_col && lc < 0)
            rc = tl_err_set(err, TL_EINVAL, "%s: no column \"%s\" (--label) in the header", path,
                            label_col);
    }
    while (rc == 0 && (rc = tl_csv_next(rd, &rec, err)) > 0) {
        rc = 0;
        size_t need = (size_t)(tc > lc ? tc : lc);
        if (rec->n_fields <= need) {
            rc = tl_err_set(err, TL_EINVAL, "%s:%llu: %zu fields; the header has more", path,
                            (unsigned long long)rec->line, rec->n_fields);
            break;
        }
        if (r->n == r->cap) {
            size_t nc = r->cap ? 2 * r->cap : 1024;
            char **nt = realloc(r->text, nc * sizeof *nt);
            if (nt)
                r->text = nt;
            char **nl = label_col ? realloc(r->label, nc * sizeof *nl) : NULL;
            if (nl)
                r->label = nl;
            if (!nt || (label_col && !nl)) {
                rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory at row %zu", path, r->n);
                break;
            }
            r->cap = nc;
        }
        r->text[r->n] = strdup(rec->fields[tc]);
        char *lab = label_col ? strdup(rec->fields[lc]) : NULL;
        if (label_col)
            r->label[r->n] = lab;
        r->n++;
        if (!r->text[r->n - 1] || (label_col && !lab)) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory at row %zu", path, r->n);
            break;
        }
        if (label_col && !*lab) {
            rc = tl_err_set(err, TL_EINVAL, "%s:%llu: column \"%s\" is empty", path,
                            (unsigned long long)rec->line, label_col);
            break;
        }
    }
    tl_csv_reader_close(rd);
    fclose(fp);
    if (rc == 0 && r->n == 0)
        rc = tl_err_set(err, TL_EINVAL, "%s: no data rows after the header", path);
    if (rc < 0) {
        rows_free(r);
        return rc;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted distinct labels and each row's index among them. */
static int index_labels(const struct rows *r, const char ***names, size_t *n_names, int32_t **ids)
{
    const char **s = malloc(r->n * sizeof *s);
    int32_t *y = malloc(r->n * sizeof *y);
    if (!s || !y) {
        free(s);
        free(y);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++)
        s[i] = r->label[i];
    qsort(s, r->n, sizeof *s, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (k == 0 || strcmp(s[k - 1], s[i]) != 0)
            s[k++] = s[i];
    for (size_t i = 0; i < r->n; i++) {
        const char *key = r->label[i];
        const char **hit = bsearch(&key, s, k, sizeof *s, cmp_str);
        y[i] = (int32_t)(hit - s);
    }
    *names = s;
    *n_names = k;
    *ids = y;
    return 0;
}

/* -o / -m VALUE among the positional arguments after the subcommand. */
static int short_opts(struct cli_env *env, const char **o, const char **m)
{
    for (size_t i = 1; i < env->n_args; i++) {
        const char *a = env->args[i];
        const char **dst = strcmp(a, "-o") == 0 ? o : strcmp(a, "-m") == 0 ? m : NULL;
        if (!dst)
            return cli_usage_error(env, "unexpected argument \"%s\"", a);
        if (i + 1 >= env->n_args)
            return cli_usage_error(env, "%s needs a value", a);
        *dst = env->args[++i];
    }
    return CLI_OK;
}

static int int_opt(struct cli_env *env, const char *name, const char *s, int lo, int hi, int *out)
{
    if (!s)
        return CLI_OK;
    uint64_t v;
    int rc = cli_parse_u64(env, name, s, &v);
    if (rc != CLI_OK)
        return rc;
    if (v < (uint64_t)lo || v > (uint64_t)hi)
        return cli_usage_error(env, "--%s %s: must be in [%d, %d]", name, s, lo, hi);
    *out = (int)v;
    return CLI_OK;
}

static void on_epoch(void *arg, const char *model, int epoch, double loss, double acc)
{
    (void)arg;
    fprintf(stderr, "%-8s epoch %2d  train loss %.4f  valid accuracy %.4f\n", model, epoch, loss,
            acc);
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* row,valid per data row: the split, for running another tool on it. */
static int write_split(const char *path, const uint8_t *is_valid, size_t n, tl_err *err)
{
    if (!path)
        return 0;
    FILE *fp = fopen(path, "w");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot create: %s", path, strerror(errno));
    fputs("row,valid\n", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%zu,%d\n", i, is_valid[i]);
    if (fclose(fp) != 0)
        return tl_err_set(err, TL_EIO, "%s: write failed", path);
    return 0;
}

/* The written model file into the registry as task "intent" (the
 * assistant's intent router loads the champion), promoted when the task has
 * no champion yet. *id receives the new model's id. */
static int register_text(const struct cli_env *env, const char *path, const char *kind,
                         const tl_textclf_report *rep, size_t n_labels, char *id, size_t id_cap,
                         bool *promoted, tl_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    long len = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    int rc = len < 0 || fseek(fp, 0, SEEK_SET) != 0 || !(buf = malloc((size_t)len + 1)) ||
                     fread(buf, 1, (size_t)len, fp) != (size_t)len
                 ? tl_err_set(err, TL_EIO, "%s: cannot read it back", path)
                 : 0;
    fclose(fp);
    tl_ctx *ctx = NULL;
    if (rc == 0 && cli_open_ctx(env, &ctx) != CLI_OK)
        rc = tl_err_set(err, TL_EIO, "the store could not be opened (see above)");
    json_t *meta = NULL;
    if (rc == 0) {
        double acc = strcmp(kind, "bigru") == 0      ? rep->bigru_accuracy
                     : strcmp(kind, "fasttext") == 0 ? rep->fasttext_accuracy
                                                     : rep->ensemble_accuracy;
        double f1 = strcmp(kind, "bigru") == 0      ? rep->bigru_macro_f1
                    : strcmp(kind, "fasttext") == 0 ? rep->fasttext_macro_f1
                                                    : rep->ensemble_macro_f1;
        meta = json_pack("{s:s,s:I,s:I,s:I,s:{s:f,s:f},s:f}", "format", "safetensors",
                         "labels", (json_int_t)n_labels, "rows_train", (json_int_t)rep->n_train,
                         "rows_valid", (json_int_t)rep->n_valid, "validation", "accuracy",
                         isfinite(acc) ? acc : 0.0, "macro_f1", isfinite(f1) ? f1 : 0.0,
                         "train_s", rep->seconds);
        struct tl_model_new nm = {.task = "intent", .algo = kind, .artifact = buf,
                                  .artifact_len = (size_t)len, .metadata = meta};
        struct tl_model_info info = {0}, champ = {0};
        tl_err e2 = {0};
        rc = tl_registry_add(ctx, &nm, &info, err);
        *promoted = false;
        if (rc == 0) {
            snprintf(id, id_cap, "%s", info.id);
            if (tl_registry_champion(ctx, "intent", &champ, &e2) == TL_ENOTFOUND) {
                rc = tl_registry_promote(ctx, info.id, "cli", err);
                *promoted = rc == 0;
            }
        }
        tl_model_info_clear(&info);
        tl_model_info_clear(&champ);
    }
    json_decref(meta);
    tl_ctx_close(ctx);
    free(buf);
    return rc;
}

static int train_text(struct cli_env *env)
{
    const struct cli_nn_args *A = &cli_nn_args;
    const char *out = A->out, *m_unused = NULL;
    int rc = short_opts(env, &out, &m_unused);
    if (rc != CLI_OK)
        return rc;
    if (!A->data || !A->text || !A->label || !out)
        return cli_usage_error(env, "train-text needs --data FILE, --text COL, --label COL and -o MODEL");
    tl_textclf_config cfg;
    tl_textclf_defaults(&cfg);
    cfg.threads = 2;
    if (A->model && (cfg.kind = tl_textclf_kind_parse(A->model)) < 0)
        return cli_usage_error(env, "--model %s: unknown (bigru, fasttext, ensemble)", A->model);
    if ((rc = int_opt(env, "epochs", A->epochs, 1, 1000, &cfg.epochs)) != CLI_OK ||
        (rc = int_opt(env, "threads", A->threads, 1, 256, &cfg.threads)) != CLI_OK)
        return rc;
    if (A->seed && (rc = cli_parse_u64(env, "seed", A->seed, &cfg.seed)) != CLI_OK)
        return rc;
    if (opt_verbose)
        cfg.on_epoch = on_epoch;

    tl_err err = {0};
    struct rows r;
    if (load_rows(A->data, A->text, A->label, &r, &err) < 0)
        return cli_fail(env, &err);
    const char **names = NULL;
    size_t n_names = 0;
    int32_t *y = NULL;
    uint8_t *is_valid = malloc(r.n);
    tl_textclf *m = NULL;
    tl_textclf_report rep;
    if (!is_valid || index_labels(&r, &names, &n_names, &y) < 0) {
        tl_err_set(&err, TL_ENOMEM, "out of memory for %zu rows", r.n);
        rc = cli_fail(env, &err);
        goto done;
    }
    if (n_names < 2) {
        tl_err_set(&err, TL_EINVAL, "%s: column \"%s\" has %zu distinct label(s); at least 2 are needed",
                   A->data, A->label, n_names);
        rc = cli_fail(env, &err);
        goto done;
    }
    if (tl_text_stratified_split(y, r.n, (int)n_names, 0.1, cfg.seed, is_valid, &err) < 0 ||
        write_split(opt_split_out, is_valid, r.n, &err) < 0 ||
        tl_textclf_train(&cfg, (const char *const *)r.text, y, r.n, names, n_names, is_valid, &m,
                         &rep, &err) < 0 ||
        tl_textclf_save(m, out, &err) < 0) {
        rc = cli_fail(env, &err);
        goto done;
    }
    char reg_id[TL_MODEL_ID_MAX] = "";
    bool promoted = false;
    if (opt_register && register_text(env, out, tl_textclf_kind_name(cfg.kind), &rep, n_names,
                                      reg_id, sizeof reg_id, &promoted, &err) < 0) {
        tl_err_prefix(&err, "%s was written but not registered", out);
        rc = cli_fail(env, &err);
        goto done;
    }
    if (env->json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(tl_textclf_kind_name(cfg.kind)));
        json_object_set_new(o, "file", json_string(out));
        json_object_set_new(o, "rows_train", json_integer((json_int_t)rep.n_train));
        json_object_set_new(o, "rows_valid", json_integer((json_int_t)rep.n_valid));
        json_object_set_new(o, "labels", json_integer((json_int_t)n_names));
        json_object_set_new(o, "vocabulary", json_integer((json_int_t)rep.vocab_size));
        const struct {
            const char *name;
            double acc, f1;
            int epochs, best;
        } ms[] = {{"bigru", rep.bigru_accuracy, rep.bigru_macro_f1, rep.bigru_epochs, rep.bigru_best_epoch},
                  {"fasttext", rep.fasttext_accuracy, rep.fasttext_macro_f1, rep.fasttext_epochs,
                   rep.fasttext_best_epoch},
                  {"ensemble", rep.ensemble_accuracy, rep.ensemble_macro_f1, 0, 0}};
        json_t *v = json_object();
        for (size_t i = 0; i < 3; i++) {
            if (!isfinite(ms[i].acc))
                continue;
            json_t *e = json_object();
            json_object_set_new(e, "accuracy", num_or_null(ms[i].acc));
            json_object_set_new(e, "macro_f1", num_or_null(ms[i].f1));
            if (i < 2) {
                json_object_set_new(e, "epochs", json_integer(ms[i].epochs));
                json_object_set_new(e, "best_epoch", json_integer(ms[i].best));
            } else {
                json_object_set_new(e, "bigru_weight", num_or_null(rep.ensemble_weight));
            }
            json_object_set_new(v, ms[i].name, e);
        }
        json_object_set_new(o, "validation", v);
        json_object_set_new(o, "seconds", json_real(rep.seconds));
        json_object_set_new(o, "threads", json_integer(cfg.threads));
        if (reg_id[0]) {
            json_object_set_new(o, "registered", json_string(reg_id));
            json_object_set_new(o, "promoted", json_boolean(promoted));
        }
        cli_print_json(o);
    } else {
        printf("data        %s: %zu rows, %zu labels (train %zu, validation %zu: stratified 10%%, "
               "seed %llu)\n", A->data, r.n, n_names, rep.n_train, rep.n_valid,
               (unsigned long long)cfg.seed);
        printf("vocabulary  %zu words\n", rep.vocab_size);
        printf("%-10s %9s %9s %7s\n", "model", "accuracy", "macro-F1", "epochs");
        if (isfinite(rep.bigru_accuracy))
            printf("%-10s %9.4f %9.4f %3d/%-3d\n", "bigru", rep.bigru_accuracy, rep.bigru_macro_f1,
                   rep.bigru_best_epoch, rep.bigru_epochs);
        if (isfinite(rep.fasttext_accuracy))
            printf("%-10s %9.4f %9.4f %3d/%-3d\n", "fasttext", rep.fasttext_accuracy,
                   rep.fasttext_macro_f1, rep.fasttext_best_epoch, rep.fasttext_epochs);
        if (isfinite(rep.ensemble_accuracy))
            printf("%-10s %9.4f %9.4f  (BiGRU weight %.1f)\n", "ensemble", rep.ensemble_accuracy,
                   rep.ensemble_macro_f1, rep.ensemble_weight);
        printf("time        %.1f s on %d thread(s)\n", rep.seconds, cfg.threads);
        printf("model       %s (%s)\n", out, tl_textclf_kind_name(cfg.kind));
        if (reg_id[0])
            printf("registered  %s (task intent)%s\n", reg_id,
                   promoted ? ", promoted: the task had no champion" : "");
    }
    rc = CLI_OK;
done:
    tl_textclf_free(m);
    free(names);
    free(y);
    free(is_valid);
    rows_free(&r);
    return rc;
}

static int predict_text(struct cli_env *env)
{
    const struct cli_nn_args *A = &cli_nn_args;
    const char *o_unused = NULL, *mpath = NULL;
    int rc = short_opts(env, &o_unused, &mpath);
    if (rc != CLI_OK)
        return rc;
    if (o_unused)
        return cli_usage_error(env, "predict-text takes --out FILE for the labels, not -o");
    if (!mpath || !A->data || !A->text)
        return cli_usage_error(env, "predict-text needs -m MODEL, --data FILE and --text COL");
    int threads = 2;
    if ((rc = int_opt(env, "threads", A->threads, 1, 256, &threads)) != CLI_OK)
        return rc;
    tl_err err = {0};
    tl_textclf *m = NULL;
    if (tl_textclf_load(mpath, &m, &err) < 0)
        return cli_fail(env, &err);
    tl_textclf_set_threads(m, threads);
    struct rows r;
    if (load_rows(A->data, A->text, A->label, &r, &err) < 0) {
        tl_textclf_free(m);
        return cli_fail(env, &err);
    }
    int32_t *pred = malloc(r.n * sizeof *pred), *truth = NULL;
    FILE *fp = NULL;
    if (!pred) {
        tl_err_set(&err, TL_ENOMEM, "out of memory for %zu rows", r.n);
        rc = cli_fail(env, &err);
        goto done;
    }
    if (tl_textclf_predict(m, (const char *const *)r.text, r.n, pred, NULL, &err) < 0) {
        rc = cli_fail(env, &err);
        goto done;
    }
    double acc = NAN, f1 = NAN;
    size_t unknown = 0;
    if (A->label) {
        size_t C = tl_textclf_n_labels(m);
        truth = malloc(r.n * sizeof *truth);
        if (!truth) {
            tl_err_set(&err, TL_ENOMEM, "out of memory for %zu rows", r.n);
            rc = cli_fail(env, &err);
            goto done;
        }
        /* A label the model never saw counts as wrong: index C. */
        for (size_t i = 0; i < r.n; i++) {
            truth[i] = (int32_t)C;
            for (size_t c = 0; c < C; c++)
                if (strcmp(r.label[i], tl_textclf_label(m, c)) == 0) {
                    truth[i] = (int32_t)c;
                    break;
                }
            unknown += truth[i] == (int32_t)C;
        }
        tl_text_scores(truth, pred, NULL, r.n, (int)C + 1, &acc, &f1);
    }
    bool to_stdout = !A->out || strcmp(A->out, "-") == 0;
    if (!(env->json && to_stdout)) {
        fp = to_stdout ? stdout : fopen(A->out, "w");
        if (!fp) {
            tl_err_set(&err, TL_EIO, "%s: cannot create: %s", A->out, strerror(errno));
            rc = cli_fail(env, &err);
            goto done;
        }
        for (size_t i = 0; i < r.n; i++) {
            const char *l = tl_textclf_label(m, (size_t)pred[i]);
            tl_csv_write_field(fp, l, strlen(l));
            fputc('\n', fp);
        }
        if (fp != stdout && fclose(fp) != 0) {
            fp = NULL;
            tl_err_set(&err, TL_EIO, "%s: write failed", A->out);
            rc = cli_fail(env, &err);
            goto done;
        }
        fp = NULL;
    }
    if (env->json) {
        json_t *o = json_object();
        json_object_set_new(o, "rows", json_integer((json_int_t)r.n));
        if (A->label) {
            json_object_set_new(o, "accuracy", num_or_null(acc));
            json_object_set_new(o, "macro_f1", num_or_null(f1));
            json_object_set_new(o, "unknown_labels", json_integer((json_int_t)unknown));
        }
        if (to_stdout) {
            json_t *p = json_array();
            for (size_t i = 0; i < r.n; i++)
                json_array_append_new(p, json_string(tl_textclf_label(m, (size_t)pred[i])));
            json_object_set_new(o, "predictions", p);
        }
        cli_print_json(o);
    } else if (A->label) {
        /* With the labels on stdout, the figures go to stderr. */
        fprintf(to_stdout ? stderr : stdout,
                "rows %zu  accuracy %.4f  macro-F1 %.4f%s\n", r.n, acc, f1,
                unknown ? "  (some labels unknown to the model)" : "");
    }
    rc = CLI_OK;
done:
    free(pred);
    free(truth);
    rows_free(&r);
    tl_textclf_free(m);
    return rc;
}

int cli_cmd_nn(struct cli_env *env)
{
    const char *sub = env->args[0];
    if (strcmp(sub, "train-text") == 0)
        return train_text(env);
    if (strcmp(sub, "predict-text") == 0)
        return predict_text(env);
    if (strcmp(sub, "train-tabular") == 0)
        return cli_nn_tabular(env);
    return cli_usage_error(env, "unknown subcommand \"%s\" (train-text, predict-text, train-tabular)",
                           sub);
}
