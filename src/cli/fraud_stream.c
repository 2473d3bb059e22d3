/*
 * fraud_stream.c - `teller fraud stream` and `teller fraud replay`: the live
 * fraud engine (fraud.h) fed from stdin or from the store.
 *
 *   stream  JSON lines on stdin, one decision per line on stdout, flushed
 *           per line: a filter for a card processor's feed. A bad line gets
 *           an error object in its place and the stream goes on. Decisions
 *           are not stored (POST /v1/transactions stores them).
 *   replay  the store's card transactions through a fresh (or restored)
 *           engine: how the model and rules would have decided them, with
 *           AUC, average precision and the precision and recall of review
 *           and block where labels are known.
 * Both restore --state FILE when it exists and save it at the end (written
 * to FILE.tmp, then renamed, so a crash never leaves half a state).
 */
#include "fraud_cli.h"

#include <teller/fraud.h>
#include <teller/fraud_alerts.h>
#include <teller/ml_stats.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The engine options from the command line and the configuration. */
static int engine_opts(struct cli_env *env, const struct cli_fraud_opts *o,
                       struct tl_fraud_engine_opts *eo)
{
    *eo = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    const char *reasons = o->reasons ? o->reasons : tl_config_get(env->cfg, "fraud.reasons");
    if (!reasons || !*reasons || strcmp(reasons, "shap") == 0)
        eo->reasons = TL_FRAUD_REASONS_SHAP;
    else if (strcmp(reasons, "exact") == 0)
        eo->reasons = TL_FRAUD_REASONS_EXACT;
    else if (strcmp(reasons, "approx") == 0)
        eo->reasons = TL_FRAUD_REASONS_APPROX;
    else if (o->reasons)
        return cli_usage_error(env, "--reasons %s: must be shap, exact or approx", reasons);
    else {
        tl_err err;
        tl_err_set(&err, TL_EINVAL, "configuration fraud.reasons = \"%s\": must be shap, exact or approx",
                   reasons);
        return cli_fail(env, &err);
    }
    const char *keys[2] = {"fraud.review_threshold", "fraud.block_threshold"};
    double *dst[2] = {&eo->review_threshold, &eo->block_threshold};
    for (int i = 0; i < 2; i++) {
        const char *v = tl_config_get(env->cfg, keys[i]);
        if (!v || !*v)
            continue;
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || *end || !(x > 0 && x <= 1)) {
            tl_err err;
            tl_err_set(&err, TL_EINVAL, "configuration %s = \"%s\": must be a number in (0, 1]",
                       keys[i], v);
            return cli_fail(env, &err);
        }
        *dst[i] = x;
    }
    eo->rules_path = o->rules;
    if (!eo->rules_path) {
        const char *r = tl_config_get(env->cfg, "fraud.rules_file");
        eo->rules_path = r && *r ? r : NULL;
    }
    return CLI_OK;
}

/* The model, the engine and, when --state names an existing file, the state
 * restored from it. *restored says whether it was. */
static int open_engine(struct cli_env *env, const struct cli_fraud_opts *o, tl_ctx **ctx,
                       tl_fraud_model **m, tl_fraud_engine **e, bool *restored)
{
    *ctx = NULL, *m = NULL, *e = NULL, *restored = false;
    struct tl_fraud_engine_opts eo;
    int rc = engine_opts(env, o, &eo);
    if (rc != CLI_OK)
        return rc;
    if ((rc = cli_open_ctx(env, ctx)) != CLI_OK)
        return rc;
    tl_err err = {0};
    if (tl_fraud_model_load(*ctx, o->model, m, &err) < 0 ||
        tl_fraud_engine_new(*m, &eo, e, &err) < 0)
        return cli_fail(env, &err);
    if (!o->state)
        return CLI_OK;
    FILE *fp = fopen(o->state, "rb");
    if (!fp) {
        if (errno == ENOENT)
            return CLI_OK; /* the first run: saved at the end */
        tl_err_set(&err, TL_EIO, "--state %s: %s", o->state, strerror(errno));
        return cli_fail(env, &err);
    }
    tl_stream *s;
    rc = tl_stream_restore(fp, &s, &err);
    fclose(fp);
    if (rc == 0 && (rc = tl_fraud_engine_set_stream(*e, s, &err)) < 0)
        tl_stream_free(s);
    if (rc < 0) {
        tl_err_prefix(&err, "--state %s: ", o->state);
        return cli_fail(env, &err);
    }
    *restored = true;
    return CLI_OK;
}

static void close_engine(tl_ctx *ctx, tl_fraud_model *m, tl_fraud_engine *e)
{
    tl_fraud_engine_free(e);
    tl_fraud_model_free(m);
    tl_ctx_close(ctx);
}

/* Writes the state to path.tmp, then renames it over path: a crash or a
 * full disk leaves the previous state, never half of one. */
static int save_state(struct cli_env *env, tl_fraud_engine *e, const char *path)
{
    tl_err err = {0};
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp) {
        tl_err_set(&err, TL_ENOMEM, "out of memory");
        return cli_fail(env, &err);
    }
    snprintf(tmp, n, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    int rc = 0;
    if (!fp)
        rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    else {
        rc = tl_stream_snapshot(tl_fraud_engine_stream(e), fp, &err);
        if (rc == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
            rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", tmp, strerror(errno));
        if (fclose(fp) != 0 && rc == 0)
            rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", tmp, strerror(errno));
        if (rc == 0 && rename(tmp, path) != 0)
            rc = tl_err_set(&err, TL_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (rc < 0)
            remove(tmp);
    }
    free(tmp);
    if (rc < 0) {
        tl_err_prefix(&err, "saving the stream state: ");
        return cli_fail(env, &err);
    }
    return CLI_OK;
}

/* One line out, compact, keys in order, six significant digits at most
 * where the engine rounded; flushed so a reader sees each decision now. */
static void emit(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    } else {
        fputs("{\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\"}}\n", stdout);
    }
    fflush(stdout);
    json_decref(v);
}

static void line_error(size_t line, int code, const char *msg)
{
    emit(json_pack("{s:I,s:{s:s,s:s}}", "line", (json_int_t)line, "error", "code",
                   tl_errslug(code), "message", msg));
    fprintf(stderr, "line %zu: %s\n", line, msg);
}

struct tally {
    uint64_t n[3], duplicates, errors, by_rules;
};

/* Decides one line; false when it is an error (reported). */
static bool stream_line(tl_fraud_engine *e, char *text, size_t len, size_t line, struct tally *t)
{
    char src[32];
    snprintf(src, sizeof src, "stdin:%zu", line);
    tl_err err = {0};
    json_t *j = tl_json_parse(text, len, src, &err);
    if (!j) {
        /* "stdin:N:C: text" names the line twice once prefixed: keep the column */
        const char *msg = err.msg;
        size_t sl = strlen(src);
        char buf[TL_ERR_MSG_SIZE + 16];
        if (strncmp(msg, src, sl) == 0 && msg[sl] == ':') {
            snprintf(buf, sizeof buf, "column %s", msg + sl + 1);
            msg = buf;
        }
        line_error(line, err.code, msg);
        return false;
    }
    struct tl_fraud_tx tx;
    struct tl_fraud_decision d;
    int rc = tl_fraud_tx_from_json(j, &tx, &err);
    if (rc == 0)
        rc = tl_fraud_decide(e, &tx, &d, &err);
    if (rc < 0) {
        line_error(line, rc, err.msg);
        json_decref(j);
        return false;
    }
    json_t *out = tl_fraud_decision_json(e, &tx, &d);
    json_decref(j);
    if (!out) {
        line_error(line, TL_ENOMEM, "out of memory");
        return false;
    }
    emit(out);
    if (d.duplicate)
        t->duplicates++;
    else {
        t->n[d.action]++;
        t->by_rules += d.basis == TL_FRAUD_BY_RULES;
    }
    return true;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

int cli_fraud_stream(struct cli_env *env, const struct cli_fraud_opts *o)
{
    tl_ctx *ctx;
    tl_fraud_model *m;
    tl_fraud_engine *e;
    bool restored;
    int rc = open_engine(env, o, &ctx, &m, &e, &restored);
    if (rc != CLI_OK) {
        close_engine(ctx, m, e);
        return rc;
    }
    struct tally t = {0};
    char *buf = NULL;
    size_t cap = 0, line = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, stdin)) >= 0) {
        line++;
        size_t len = (size_t)n;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        if (blank(buf, len))
            continue;
        if (!stream_line(e, buf, len, line, &t))
            t.errors++;
    }
    bool read_failed = ferror(stdin) != 0;
    int read_errno = errno;
    free(buf);
    if (read_failed) {
        tl_err err;
        tl_err_set(&err, TL_EIO, "reading stdin after line %zu: %s", line, strerror(read_errno));
        cli_fail(env, &err);
    }
    rc = o->state ? save_state(env, e, o->state) : CLI_OK;
    if (!env->quiet) {
        uint64_t decided = t.n[0] + t.n[1] + t.n[2];
        fprintf(stderr,
                "teller fraud stream: %" PRIu64 " decided (%" PRIu64 " allow, %" PRIu64
                " review, %" PRIu64 " block; %" PRIu64 " by rules), %" PRIu64
                " duplicates, %" PRIu64 " errors%s%s\n",
                decided, t.n[0], t.n[1], t.n[2], t.by_rules, t.duplicates, t.errors,
                o->state ? (restored ? "; state restored and saved to " : "; state saved to ") : "",
                o->state && rc == CLI_OK ? o->state : "");
    }
    close_engine(ctx, m, e);
    return read_failed ? CLI_FAILED : rc;
}

/* ---- replay ------------------------------------------------------------ */

#define MAX_EXAMPLES 3

struct replay {
    tl_fraud_engine *e;
    struct tally t;
    uint64_t seen, already, refused;
    char examples[MAX_EXAMPLES][TL_ERR_MSG_SIZE];
    /* the labelled decisions: score, label, action */
    double *score;
    uint8_t *y, *action;
    size_t n, cap;
};

static int replay_tx(void *ud, const struct tl_fraud_tx *tx, tl_err *err)
{
    struct replay *r = ud;
    r->seen++;
    struct tl_fraud_decision d;
    tl_err e2 = {0};
    int rc = tl_fraud_decide(r->e, tx, &d, &e2);
    if (rc == TL_ENOMEM || rc == TL_EINTERNAL) {
        *err = e2;
        return rc;
    }
    if (rc == TL_EEXISTS) {
        r->already++; /* taken by the restored state: nothing to decide again */
        return 0;
    }
    if (rc < 0) {
        if (r->refused < MAX_EXAMPLES)
            memcpy(r->examples[r->refused], e2.msg, sizeof e2.msg);
        r->refused++;
        return 0;
    }
    if (d.duplicate) {
        r->already++;
        return 0;
    }
    r->t.n[d.action]++;
    r->t.by_rules += d.basis == TL_FRAUD_BY_RULES;
    if (tx->label != 0 && tx->label != 1)
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 4096;
        double *s = realloc(r->score, cap * sizeof *s);
        if (s)
            r->score = s;
        uint8_t *y = s ? realloc(r->y, cap) : NULL;
        if (y)
            r->y = y;
        uint8_t *a = y ? realloc(r->action, cap) : NULL;
        if (!a)
            return tl_err_set(err, TL_ENOMEM, "replay: out of memory");
        r->action = a;
        r->cap = cap;
    }
    r->score[r->n] = d.score.score;
    r->y[r->n] = (uint8_t)tx->label;
    r->action[r->n] = (uint8_t)d.action;
    r->n++;
    return 0;
}

static json_t *ratio(uint64_t a, uint64_t b)
{
    return b ? json_real(round(1e6 * (double)a / (double)b) / 1e6) : json_null();
}

/* Precision and recall of "flagged" = action >= at, on the labelled rows. */
static json_t *flag_stats(const struct replay *r, uint8_t at)
{
    uint64_t flagged = 0, hit = 0, frauds = 0;
    for (size_t i = 0; i < r->n; i++) {
        frauds += r->y[i];
        if (r->action[i] >= at) {
            flagged++;
            hit += r->y[i];
        }
    }
    return json_pack("{s:I,s:o,s:o}", "flagged", (json_int_t)flagged, "precision",
                     ratio(hit, flagged), "recall", ratio(hit, frauds));
}

static json_t *metric(int (*fn)(const double *, const uint8_t *, size_t, double *, tl_err *),
                      const struct replay *r)
{
    double v;
    tl_err err;
    if (r->n == 0 || fn(r->score, r->y, r->n, &v, &err) < 0 || !isfinite(v))
        return json_null(); /* one class only: undefined */
    return json_real(round(v * 1e6) / 1e6);
}

static void print_rate(const char *what, const json_t *s)
{
    const json_t *p = json_object_get(s, "precision"), *rc = json_object_get(s, "recall");
    printf("  %-18s %8" JSON_INTEGER_FORMAT " flagged", what,
           json_integer_value(json_object_get(s, "flagged")));
    if (json_is_number(p))
        printf("   precision %.4f", json_number_value(p));
    if (json_is_number(rc))
        printf("   recall %.4f", json_number_value(rc));
    printf("\n");
}

static void print_replay(const json_t *rep)
{
    const json_t *from = json_object_get(rep, "from");
    const json_t *dec = json_object_get(rep, "decisions");
    printf("replayed %" JSON_INTEGER_FORMAT " card transactions of the store%s%s through model %s\n",
           json_integer_value(json_object_get(rep, "transactions")), json_is_string(from) ? " from " : "",
           json_is_string(from) ? json_string_value(from) : "",
           json_string_value(json_object_get(rep, "model")));
    printf("  %-18s %8" JSON_INTEGER_FORMAT "   allow %" JSON_INTEGER_FORMAT "  review %"
           JSON_INTEGER_FORMAT "  block %" JSON_INTEGER_FORMAT "  (by rules %" JSON_INTEGER_FORMAT ")\n",
           "decided", json_integer_value(json_object_get(rep, "decided")),
           json_integer_value(json_object_get(dec, "allow")),
           json_integer_value(json_object_get(dec, "review")),
           json_integer_value(json_object_get(dec, "block")),
           json_integer_value(json_object_get(rep, "by_rules")));
    printf("  %-18s %8" JSON_INTEGER_FORMAT "   (taken before by the restored state)\n", "already in state",
           json_integer_value(json_object_get(rep, "already_in_state")));
    printf("  %-18s %8" JSON_INTEGER_FORMAT "\n", "refused",
           json_integer_value(json_object_get(rep, "refused")));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(rep, "refused_examples"), i, x)
        printf("      e.g. %s\n", json_string_value(x));
    printf("  %-18s %8" JSON_INTEGER_FORMAT "   frauds %" JSON_INTEGER_FORMAT "\n", "labelled",
           json_integer_value(json_object_get(rep, "labelled")),
           json_integer_value(json_object_get(rep, "frauds")));
    const json_t *auc = json_object_get(rep, "auc"), *ap = json_object_get(rep, "average_precision");
    if (json_is_number(auc))
        printf("  %-18s %8.4f\n", "AUC ROC", json_number_value(auc));
    if (json_is_number(ap))
        printf("  %-18s %8.4f\n", "average precision", json_number_value(ap));
    if (json_integer_value(json_object_get(rep, "labelled")) > 0) {
        print_rate("review or block", json_object_get(rep, "review"));
        print_rate("block", json_object_get(rep, "block"));
    }
    const json_t *st = json_object_get(rep, "state");
    if (json_is_string(st))
        printf("state saved to %s\n", json_string_value(st));
}

int cli_fraud_replay(struct cli_env *env, const struct cli_fraud_opts *o)
{
    int64_t from_ms = INT64_MIN;
    tl_err err = {0};
    if (o->from && tl_time_parse(o->from, strlen(o->from), &from_ms, &err) < 0)
        return cli_usage_error(env, "--from: %s", err.msg);
    tl_ctx *ctx;
    tl_fraud_model *m;
    tl_fraud_engine *e;
    bool restored;
    int rc = open_engine(env, o, &ctx, &m, &e, &restored);
    if (rc != CLI_OK) {
        close_engine(ctx, m, e);
        return rc;
    }
    if (!o->from && restored) {
        /* what the restored state may lack is at or after its watermark */
        struct tl_stream_watermark w;
        tl_stream_watermark(tl_fraud_engine_stream(e), &w);
        if (w.any)
            from_ms = w.replay_from_ts_s * 1000;
    }
    struct replay r = {.e = e};
    rc = tl_fraud_scan_store(ctx, from_ms, replay_tx, &r, &err);
    if (rc < 0) {
        rc = cli_fail(env, &err);
        goto done;
    }
    uint64_t frauds = 0;
    for (size_t i = 0; i < r.n; i++)
        frauds += r.y[i];
    json_t *examples = json_array();
    for (uint64_t i = 0; i < r.refused && i < MAX_EXAMPLES; i++)
        json_array_append_new(examples, json_string(r.examples[i]));
    char when[32];
    json_t *from = from_ms != INT64_MIN && tl_time_format(from_ms, when, sizeof when) > 0
                       ? json_string(when)
                       : json_null();
    json_t *rep = json_pack(
        "{s:s,s:o,s:I,s:I,s:{s:I,s:I,s:I},s:I,s:I,s:I,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "model",
        tl_fraud_model_id(m), "from", from, "transactions", (json_int_t)r.seen, "decided",
        (json_int_t)(r.t.n[0] + r.t.n[1] + r.t.n[2]), "decisions", "allow", (json_int_t)r.t.n[0],
        "review", (json_int_t)r.t.n[1], "block", (json_int_t)r.t.n[2], "by_rules",
        (json_int_t)r.t.by_rules, "already_in_state", (json_int_t)r.already, "refused",
        (json_int_t)r.refused, "refused_examples", examples, "labelled", (json_int_t)r.n, "frauds",
        (json_int_t)frauds, "auc", metric(tl_ml_auc, &r), "average_precision",
        metric(tl_ml_average_precision, &r), "review", flag_stats(&r, TL_RULE_REVIEW), "block",
        flag_stats(&r, TL_RULE_BLOCK), "state", o->state ? json_string(o->state) : json_null());
    if (o->state && (rc = save_state(env, e, o->state)) != CLI_OK) {
        json_decref(rep);
        goto done;
    }
    if (!rep) {
        tl_err_set(&err, TL_ENOMEM, "out of memory");
        rc = cli_fail(env, &err);
    } else if (env->json) {
        emit(rep);
    } else {
        print_replay(rep);
        json_decref(rep);
    }
done:
    free(r.score);
    free(r.y);
    free(r.action);
    close_engine(ctx, m, e);
    return rc;
}
