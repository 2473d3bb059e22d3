/*
 * registry.c - the model registry (registry.h): every trained model as a row
 * of `models` plus its artifact in `model_artifacts`, versioned per task,
 * checksummed, with at most one champion per task.
 *
 * Everything goes through tl_store_exec in the SQL both engines speak, so the
 * registry works the same on SQLite and PostgreSQL. Three things need care:
 *
 * - Versions. Two processes adding a model of one task at once both read the
 *   same highest version; the unique (task, version) index lets only one
 *   insert win, and the loser retries with a fresh read. On SQLite the write
 *   transaction already serializes them (BEGIN IMMEDIATE).
 * - Champions. A promotion first touches every row of the task
 *   (UPDATE ... SET status = status): on PostgreSQL that takes the rows'
 *   locks, so a second promotion of the same task waits and then sees the
 *   first one's champion instead of leaving two.
 * - Artifacts. The checksum is checked on every load, and before a model is
 *   promoted, so altered or truncated bytes never score.
 *
 * It lives in bank/, beside the context and the audit journal it uses, not
 * in ml/: the models themselves (ml/) know nothing of stores or journals.
 *
 * Audit rows are appended after the commit: tl_audit_append refuses to run
 * inside a transaction of the caller's, so that a journal row is never
 * rolled back with the work it describes.
 */
#include <teller/audit.h>
#include <teller/datetime.h>
#include <teller/registry.h>
#include <teller/store.h>

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define ARTIFACT_MAX ((size_t)256 << 20) /* registry.h */
#define METADATA_MAX ((size_t)1 << 20)   /* models.metadata in schema.c */
#define VERSION_MAX 1000000              /* models.version in schema.c */
#define NAME_MAX_LEN 31
#define ADD_TRIES 8      /* version collisions with concurrent adds, retried */
#define CARD_MAX ((size_t)16 << 20)
#define TABLE_COLS_MAX 16 /* columns of a card table made from an array of objects */

static const char MISMATCH[] = "artifact checksum mismatch: altered or truncated";

/* The columns every lookup reads, in the order on_model expects. The
 * artifact's length comes from its base64 text (length and the last two
 * characters, for the padding) so that listing never decodes artifacts. */
#define MODEL_COLUMNS                                                                    \
    "m.id, m.task, m.version, m.algo, m.status, m.created_ms, m.checksum, m.metadata," \
    " length(a.bytes), substr(a.bytes, length(a.bytes) - 1, 2)"
#define MODEL_FROM " FROM models m LEFT JOIN model_artifacts a ON a.id = m.id"

/* ------------------------------------------------------------- helpers */

/* task: [a-z0-9_]{1,31}; algo also takes '+' ("woe+logit"). */
static bool valid_name(const char *s, bool plus)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (plus && c == '+')))
            return false;
    }
    return true;
}

static int check_task(const char *task, tl_err *err)
{
    if (valid_name(task, false))
        return 0;
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EINVAL,
                      "model task \"%s\" is not valid: expected 1 to %d characters of a-z, 0-9 and _",
                      task ? tl__quote(q, sizeof q, task, strlen(task)) : "(null)", NAME_MAX_LEN);
}

static int check_id(const char *id, tl_err *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n > 0 && n < TL_MODEL_ID_MAX)
        return 0;
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EINVAL, "model id \"%s\" is not valid: expected 1 to %d bytes",
                      id ? tl__quote(q, sizeof q, id, n) : "(null)", TL_MODEL_ID_MAX - 1);
}

static int not_found(const char *id, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_ENOTFOUND, "model \"%s\" not found: `teller models list` shows them",
                      tl__quote(q, sizeof q, id, strlen(id)));
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, p, n);
    sodium_bin2hex(hex, 65, d, sizeof d);
}

/* Copies text v into dst[size]; false when it is not text or does not fit. */
static bool copy_text(char *dst, size_t size, const tl_value *v)
{
    if (v->type != TL_VAL_TEXT || v->len >= size)
        return false;
    memcpy(dst, v->s, v->len);
    dst[v->len] = 0;
    return true;
}

static int64_t col_int(const tl_value *v)
{
    return v->type == TL_VAL_INT ? v->i : v->type == TL_VAL_REAL ? (int64_t)v->d : 0;
}

void tl_model_info_clear(struct tl_model_info *m)
{
    if (!m)
        return;
    json_decref(m->metadata);
    memset(m, 0, sizeof *m);
}

/* -------------------------------------------------------------- reading */

struct model_rows {
    struct tl_model_info *v;
    size_t n, cap;
    size_t max; /* stop after this many (1 for get and champion) */
    int rc;
    tl_err *err;
};

static int on_model(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct model_rows *r = ud;
    if (!TL_ALWAYS(n_cols == 10)) {
        r->rc = tl_err_set(r->err, TL_EINTERNAL, "model registry: %zu columns read, 10 expected",
                           n_cols);
        return 1;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        struct tl_model_info *grown = realloc(r->v, cap * sizeof *grown);
        if (!grown) {
            r->rc = tl_err_set(r->err, TL_ENOMEM, "model registry: out of memory listing models");
            return 1;
        }
        r->v = grown;
        r->cap = cap;
    }
    struct tl_model_info *m = &r->v[r->n];
    memset(m, 0, sizeof *m);
    const char *id = cols[0].type == TL_VAL_TEXT ? cols[0].s : "?";
    if (!copy_text(m->id, sizeof m->id, &cols[0]) || !copy_text(m->task, sizeof m->task, &cols[1]) ||
        !copy_text(m->algo, sizeof m->algo, &cols[3]) ||
        !copy_text(m->status, sizeof m->status, &cols[4])) {
        char q[TL__QUOTE_SIZE];
        r->rc = tl_err_set(r->err, TL_EPARSE,
                           "model \"%s\": its id, task, algo or status in the store is too long",
                           tl__quote(q, sizeof q, id, strlen(id)));
        return 1;
    }
    m->version = (int)col_int(&cols[2]);
    m->created_ms = col_int(&cols[5]);
    if (cols[6].type == TL_VAL_TEXT)
        copy_text(m->checksum, sizeof m->checksum, &cols[6]);
    if (cols[8].type != TL_VAL_NULL) {
        /* decoded length of the base64 text: 3 bytes per 4 characters, less
         * the padding */
        size_t b64 = (size_t)col_int(&cols[8]);
        size_t pad = 0;
        if (cols[9].type == TL_VAL_TEXT)
            for (size_t i = 0; i < cols[9].len; i++)
                pad += cols[9].s[i] == '=';
        m->artifact_len = b64 / 4 * 3 > pad ? b64 / 4 * 3 - pad : 0;
    }
    if (cols[7].type == TL_VAL_TEXT) {
        json_error_t jerr;
        m->metadata = json_loadb(cols[7].s, cols[7].len, 0, &jerr);
        if (!json_is_object(m->metadata)) {
            json_decref(m->metadata);
            m->metadata = NULL;
            r->rc = tl_err_set(r->err, TL_EPARSE, "model %s: its metadata is not a JSON object%s%s",
                               m->id, jerr.text[0] ? ": " : "", jerr.text);
            return 1;
        }
    } else {
        m->metadata = json_object();
        if (!m->metadata) {
            r->rc = tl_err_set(r->err, TL_ENOMEM, "model registry: out of memory");
            return 1;
        }
    }
    r->n++;
    return r->max && r->n >= r->max;
}

static void rows_free(struct model_rows *r)
{
    tl_registry_list_free(r->v, r->n);
    r->v = NULL;
    r->n = r->cap = 0;
}

static int query_models(tl_ctx *ctx, const char *sql, size_t n_params, const tl_value *params,
                        struct model_rows *r, tl_err *err)
{
    r->err = err;
    int rc = tl_store_exec(tl_ctx_store(ctx), sql, n_params, params, on_model, r, err);
    if (rc == 0)
        rc = r->rc;
    if (rc < 0)
        rows_free(r);
    return rc;
}

static int by_task_then_newest(const void *a, const void *b)
{
    const struct tl_model_info *x = a, *y = b;
    int c = strcmp(x->task, y->task);
    if (c)
        return c;
    return (x->version < y->version) - (x->version > y->version);
}

int tl_registry_list(tl_ctx *ctx, const char *task, struct tl_model_info **out, size_t *n,
                     tl_err *err)
{
    if (!ctx || !out || !n)
        return tl_err_set(err, TL_EINVAL, "tl_registry_list: no context or no output was given");
    *out = NULL;
    *n = 0;
    if (task && check_task(task, err) < 0)
        return TL_EINVAL;
    struct model_rows r = {0};
    tl_value p = task ? TL_TEXT(task) : TL_NULLV;
    /* Sorted here rather than in SQL: PostgreSQL would order task names by
     * the database's locale, SQLite bytewise. */
    int rc = task ? query_models(ctx, "SELECT " MODEL_COLUMNS MODEL_FROM " WHERE m.task = ?", 1,
                                 &p, &r, err)
                  : query_models(ctx, "SELECT " MODEL_COLUMNS MODEL_FROM, 0, NULL, &r, err);
    if (rc < 0)
        return rc;
    if (r.n > 1)
        qsort(r.v, r.n, sizeof *r.v, by_task_then_newest);
    *out = r.v;
    *n = r.n;
    return 0;
}

void tl_registry_list_free(struct tl_model_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        tl_model_info_clear(&v[i]);
    free(v);
}

int tl_registry_get(tl_ctx *ctx, const char *id, struct tl_model_info *out, tl_err *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!ctx || !out)
        return tl_err_set(err, TL_EINVAL, "tl_registry_get: no context or no output was given");
    if (check_id(id, err) < 0)
        return TL_EINVAL;
    struct model_rows r = {.max = 1};
    tl_value p = TL_TEXT(id);
    int rc = query_models(ctx, "SELECT " MODEL_COLUMNS MODEL_FROM " WHERE m.id = ?", 1, &p, &r, err);
    if (rc < 0)
        return rc;
    if (r.n == 0) {
        free(r.v);
        return not_found(id, err);
    }
    *out = r.v[0];
    free(r.v);
    return 0;
}

int tl_registry_champion(tl_ctx *ctx, const char *task, struct tl_model_info *out, tl_err *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!ctx || !out)
        return tl_err_set(err, TL_EINVAL, "tl_registry_champion: no context or no output was given");
    if (check_task(task, err) < 0)
        return TL_EINVAL;
    struct model_rows r = {.max = 1};
    tl_value p = TL_TEXT(task);
    int rc = query_models(ctx,
                          "SELECT " MODEL_COLUMNS MODEL_FROM
                          " WHERE m.task = ? AND m.status = 'champion' ORDER BY m.version DESC",
                          1, &p, &r, err);
    if (rc < 0)
        return rc;
    if (r.n == 0) {
        free(r.v);
        return tl_err_set(err, TL_ENOTFOUND,
                          "no champion for task %s: train or import one (teller models import FILE) "
                          "and promote it (teller models promote ID)",
                          task);
    }
    *out = r.v[0];
    free(r.v);
    return 0;
}

/* ------------------------------------------------------------- artifact */

struct artifact_row {
    bool found, has_bytes, decoded;
    char checksum[65];
    unsigned char *bin;
    size_t len;
    int rc;
    tl_err *err;
};

/* Decodes the base64 in the callback itself: the text is borrowed from the
 * store, and decoding it here saves copying what may be megabytes. */
static int on_artifact(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct artifact_row *a = ud;
    if (!TL_ALWAYS(n_cols == 2))
        return 1;
    a->found = true;
    if (cols[0].type == TL_VAL_TEXT)
        copy_text(a->checksum, sizeof a->checksum, &cols[0]);
    if (cols[1].type != TL_VAL_TEXT)
        return 1;
    a->has_bytes = true;
    size_t cap = cols[1].len / 4 * 3 + 3;
    a->bin = malloc(cap + 1);
    if (!a->bin) {
        a->rc = tl_err_set(a->err, TL_ENOMEM, "out of memory reading a model artifact");
        return 1;
    }
    const char *end = NULL;
    a->decoded = sodium_base642bin(a->bin, cap, cols[1].s, cols[1].len, NULL, &a->len, &end,
                                   sodium_base64_VARIANT_ORIGINAL) == 0 &&
                 end == cols[1].s + cols[1].len;
    return 1;
}

int tl_registry_artifact(tl_ctx *ctx, const char *id, char **bytes, size_t *len, tl_err *err)
{
    if (bytes)
        *bytes = NULL;
    if (len)
        *len = 0;
    if (!ctx || !bytes || !len)
        return tl_err_set(err, TL_EINVAL, "tl_registry_artifact: no context or no output was given");
    if (check_id(id, err) < 0)
        return TL_EINVAL;
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");
    struct artifact_row a = {.err = err};
    tl_value p = TL_TEXT(id);
    int rc = tl_store_exec(tl_ctx_store(ctx),
                           "SELECT m.checksum, a.bytes" MODEL_FROM " WHERE m.id = ?", 1, &p,
                           on_artifact, &a, err);
    if (rc == 0)
        rc = a.rc;
    if (rc == 0 && !a.found)
        rc = not_found(id, err);
    if (rc == 0 && (!a.has_bytes || !a.decoded))
        rc = tl_err_set(err, TL_ECRYPTO, "model %s: %s (%s)", id, MISMATCH,
                        a.has_bytes ? "the stored bytes are not valid base64" : "no artifact stored");
    if (rc == 0) {
        char hex[65];
        sha256_hex(a.bin, a.len, hex);
        if (strlen(a.checksum) != 64 || strcmp(hex, a.checksum) != 0)
            rc = tl_err_set(err, TL_ECRYPTO, "model %s: %s", id, MISMATCH);
    }
    if (rc < 0) {
        free(a.bin);
        return rc;
    }
    a.bin[a.len] = 0;
    *bytes = (char *)a.bin;
    *len = a.len;
    return 0;
}

/* -------------------------------------------------------------- writing */

/* Appends one audit row for a change already committed; on failure err says
 * the change stands but is not journaled, so nobody reads it as undone. */
static int journal(tl_ctx *ctx, const char *actor, const char *action, const char *id,
                   json_t *details, tl_err *err)
{
    char *text = details ? json_dumps(details, JSON_COMPACT) : NULL;
    json_decref(details);
    if (!text)
        return tl_err_set(err, TL_ENOMEM, "%s of model %s was done but not journaled: out of memory",
                          action, id);
    /* the CLI's own rows say role "cli" (cli_journal); library callers name
     * only an actor */
    struct tl_audit_event ev = {.actor = actor,
                                .role = strcmp(actor, "cli") == 0 ? "cli" : NULL,
                                .action = action,
                                .resource = id,
                                .model_version = id,
                                .details = text};
    int rc = tl_audit_append(ctx, &ev, err);
    free(text);
    if (rc < 0)
        tl_err_prefix(err, "%s of model %s was done but not journaled", action, id);
    return rc;
}

static void rollback(tl_store *s)
{
    tl_err ignored;
    tl_store_rollback(s, &ignored);
}

static int on_int(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    if (n_cols > 0)
        *(int64_t *)ud = col_int(&cols[0]);
    return 1;
}

struct add_row {
    const char *task, *algo, *checksum, *metadata, *b64;
    size_t b64_len;
    int64_t created_ms;
    int version;
    char id[TL_MODEL_ID_MAX];
};

/* One attempt: read the task's highest version and insert the next, all in
 * one transaction. TL_ECONSTRAINT means a concurrent add took that version. */
static int add_once(tl_store *s, struct add_row *a, tl_err *err)
{
    int rc = tl_store_begin(s, err);
    if (rc < 0)
        return rc;
    int64_t max = 0;
    tl_value pt = TL_TEXT(a->task);
    rc = tl_store_exec(s, "SELECT max(version) FROM models WHERE task = ?", 1, &pt, on_int, &max,
                       err);
    if (rc == 0 && max >= VERSION_MAX)
        rc = tl_err_set(err, TL_ETOOBIG, "task %s already has %d versions, the most it can hold",
                        a->task, VERSION_MAX);
    if (rc == 0) {
        a->version = (int)max + 1;
        snprintf(a->id, sizeof a->id, "%s-v%d", a->task, a->version);
        tl_value pm[] = {TL_TEXT(a->id),         TL_TEXT(a->task),     TL_INT(a->version),
                         TL_TEXT(a->algo),       TL_INT(a->created_ms), TL_TEXT(a->checksum),
                         TL_TEXT(a->metadata)};
        rc = tl_store_exec(s,
                           "INSERT INTO models (id, task, version, algo, status, created_ms,"
                           " checksum, metadata) VALUES (?, ?, ?, ?, 'challenger', ?, ?, ?)",
                           7, pm, NULL, NULL, err);
    }
    if (rc == 0) {
        tl_value pa[] = {TL_TEXT(a->id), TL_TEXTN(a->b64, a->b64_len)};
        rc = tl_store_exec(s, "INSERT INTO model_artifacts (id, bytes) VALUES (?, ?)", 2, pa, NULL,
                           NULL, err);
    }
    if (rc == 0)
        rc = tl_store_commit(s, err);
    if (rc < 0)
        rollback(s);
    return rc;
}

int tl_registry_add(tl_ctx *ctx, const struct tl_model_new *m, struct tl_model_info *out,
                    tl_err *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!ctx || !m)
        return tl_err_set(err, TL_EINVAL, "tl_registry_add: no context or no model was given");
    if (check_task(m->task, err) < 0)
        return TL_EINVAL;
    if (!valid_name(m->algo, true)) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL,
                          "model algo \"%s\" is not valid: expected 1 to %d characters of a-z, 0-9, "
                          "_ and +",
                          m->algo ? tl__quote(q, sizeof q, m->algo, strlen(m->algo)) : "(null)",
                          NAME_MAX_LEN);
    }
    if (!m->artifact || m->artifact_len == 0)
        return tl_err_set(err, TL_EINVAL, "model of task %s: the artifact is empty", m->task);
    if (m->artifact_len > ARTIFACT_MAX)
        return tl_err_set(err, TL_ETOOBIG,
                          "model of task %s: the artifact is %zu bytes, more than the %zu allowed",
                          m->task, m->artifact_len, ARTIFACT_MAX);
    if (m->metadata && !json_is_object(m->metadata))
        return tl_err_set(err, TL_EINVAL, "model of task %s: metadata must be a JSON object",
                          m->task);
    const char *actor = m->actor && *m->actor ? m->actor : "teller";
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");

    struct add_row a = {.task = m->task, .algo = m->algo, .created_ms = tl_time_now_ms()};
    char checksum[65];
    sha256_hex(m->artifact, m->artifact_len, checksum);
    a.checksum = checksum;
    char *meta = m->metadata ? json_dumps(m->metadata, JSON_COMPACT) : strdup("{}");
    size_t b64_size = sodium_base64_ENCODED_LEN(m->artifact_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_size);
    int rc = 0;
    if (!meta || !b64)
        rc = tl_err_set(err, TL_ENOMEM, "model of task %s: out of memory", m->task);
    else if (strlen(meta) > METADATA_MAX)
        rc = tl_err_set(err, TL_ETOOBIG,
                        "model of task %s: metadata is %zu bytes of JSON, more than the %zu allowed",
                        m->task, strlen(meta), METADATA_MAX);
    if (rc == 0) {
        sodium_bin2base64(b64, b64_size, m->artifact, m->artifact_len,
                          sodium_base64_VARIANT_ORIGINAL);
        a.b64 = b64;
        a.b64_len = b64_size - 1;
        a.metadata = meta;
        tl_store *s = tl_ctx_store(ctx);
        for (int attempt = 1; attempt <= ADD_TRIES; attempt++) {
            rc = add_once(s, &a, err);
            if (rc != TL_ECONSTRAINT)
                break;
        }
        if (rc == TL_ECONSTRAINT)
            tl_err_prefix(err, "adding a model of task %s: %d attempts collided with concurrent adds",
                          m->task, ADD_TRIES);
    }
    free(b64);
    if (rc < 0) {
        free(meta);
        return rc;
    }

    json_t *details = json_pack("{s:s,s:i,s:s,s:s,s:I}", "task", a.task, "version", a.version,
                                "algo", a.algo, "checksum", checksum, "artifact_bytes",
                                (json_int_t)m->artifact_len);
    rc = journal(ctx, actor, "model.add", a.id, details, err);
    if (rc == 0 && out) {
        snprintf(out->id, sizeof out->id, "%s", a.id);
        snprintf(out->task, sizeof out->task, "%s", a.task);
        snprintf(out->algo, sizeof out->algo, "%s", a.algo);
        snprintf(out->status, sizeof out->status, "challenger");
        memcpy(out->checksum, checksum, sizeof out->checksum);
        out->version = a.version;
        out->created_ms = a.created_ms;
        out->artifact_len = m->artifact_len;
        out->metadata = json_loads(meta, 0, NULL);
        if (!out->metadata)
            rc = tl_err_set(err, TL_ENOMEM, "model %s was added; out of memory describing it", a.id);
    }
    free(meta);
    return rc;
}

static int check_actor(const char *actor, const char *what, tl_err *err)
{
    if (actor && *actor)
        return 0;
    return tl_err_set(err, TL_EINVAL, "%s: an actor is required for the audit log", what);
}

struct task_state {
    char champion[TL_MODEL_ID_MAX]; /* the current champion, "" when none */
    char status[16];                /* of the model being promoted */
    const char *id;
};

static int on_task_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct task_state *t = ud;
    if (n_cols < 2 || cols[0].type != TL_VAL_TEXT || cols[1].type != TL_VAL_TEXT)
        return 0;
    if (strcmp(cols[0].s, t->id) == 0)
        copy_text(t->status, sizeof t->status, &cols[1]);
    if (strcmp(cols[1].s, "champion") == 0 && !t->champion[0])
        copy_text(t->champion, sizeof t->champion, &cols[0]);
    return 0;
}

int tl_registry_task_artifact(tl_ctx *ctx, const char *task, const char *id,
                              char id_out[TL_MODEL_ID_MAX], char **bytes, size_t *len,
                              tl_err *err)
{
    struct tl_model_info info = {0};
    int rc = id ? tl_registry_get(ctx, id, &info, err) : tl_registry_champion(ctx, task, &info, err);
    if (rc < 0)
        return rc;
    if (strcmp(info.task, task) != 0)
        rc = tl_err_set(err, TL_EINVAL, "model %s is a %s model, not a %s model", info.id,
                        info.task, task);
    else
        rc = tl_registry_artifact(ctx, info.id, bytes, len, err);
    if (rc == 0)
        memcpy(id_out, info.id, sizeof info.id);
    tl_model_info_clear(&info);
    return rc;
}

int tl_registry_promote(tl_ctx *ctx, const char *id, const char *actor, tl_err *err)
{
    if (!ctx)
        return tl_err_set(err, TL_EINVAL, "tl_registry_promote: no context was given");
    if (check_id(id, err) < 0 || check_actor(actor, "promote", err) < 0)
        return TL_EINVAL;
    struct tl_model_info m;
    int rc = tl_registry_get(ctx, id, &m, err);
    if (rc < 0)
        return rc;
    bool already = strcmp(m.status, "champion") == 0;
    char task[sizeof m.task], from[sizeof m.status];
    memcpy(task, m.task, sizeof task);
    memcpy(from, m.status, sizeof from);
    tl_model_info_clear(&m);
    if (already)
        return 0;

    /* A champion that cannot load would stop its task from scoring at all:
     * check the artifact before it replaces a working one. */
    char *bytes = NULL;
    size_t len = 0;
    rc = tl_registry_artifact(ctx, id, &bytes, &len, err);
    free(bytes);
    if (rc < 0) {
        tl_err_prefix(err, "refusing to promote %s", id);
        return rc;
    }

    tl_store *s = tl_ctx_store(ctx);
    if ((rc = tl_store_begin(s, err)) < 0)
        return rc;
    tl_value pt = TL_TEXT(task), pid = TL_TEXT(id);
    tl_value ptid[] = {pt, pid};
    struct task_state st = {.id = id};
    rc = tl_store_exec(s, "UPDATE models SET status = status WHERE task = ?", 1, &pt, NULL, NULL,
                       err);
    if (rc == 0)
        rc = tl_store_exec(s,
                           "SELECT id, status FROM models WHERE task = ?"
                           " AND (status = 'champion' OR id = ?) ORDER BY version DESC",
                           2, ptid, on_task_row, &st, err);
    if (rc == 0 && strcmp(st.status, "champion") == 0) {
        /* promoted by someone else meanwhile: nothing left to do */
        rc = tl_store_commit(s, err);
        if (rc < 0)
            rollback(s);
        return rc;
    }
    if (rc == 0)
        rc = tl_store_exec(s,
                           "UPDATE models SET status = 'retired' WHERE task = ? AND status = 'champion'",
                           1, &pt, NULL, NULL, err);
    if (rc == 0)
        rc = tl_store_exec(s, "UPDATE models SET status = 'champion' WHERE id = ?", 1, &pid, NULL,
                           NULL, err);
    if (rc == 0 && tl_store_changes(s) != 1)
        rc = not_found(id, err);
    if (rc == 0)
        rc = tl_store_commit(s, err);
    if (rc < 0) {
        rollback(s);
        return rc;
    }
    json_t *details = json_pack("{s:s,s:s,s:o}", "task", task, "from_status", st.status[0] ? st.status : from,
                                "previous_champion",
                                st.champion[0] ? json_string(st.champion) : json_null());
    return journal(ctx, actor, "model.promote", id, details, err);
}

int tl_registry_retire(tl_ctx *ctx, const char *id, const char *actor, tl_err *err)
{
    if (!ctx)
        return tl_err_set(err, TL_EINVAL, "tl_registry_retire: no context was given");
    if (check_id(id, err) < 0 || check_actor(actor, "retire", err) < 0)
        return TL_EINVAL;
    struct tl_model_info m;
    int rc = tl_registry_get(ctx, id, &m, err);
    if (rc < 0)
        return rc;
    char task[sizeof m.task], from[sizeof m.status];
    memcpy(task, m.task, sizeof task);
    memcpy(from, m.status, sizeof from);
    tl_model_info_clear(&m);
    if (strcmp(from, "retired") == 0)
        return 0;
    tl_store *s = tl_ctx_store(ctx);
    tl_value pid = TL_TEXT(id);
    rc = tl_store_exec(s, "UPDATE models SET status = 'retired' WHERE id = ? AND status <> 'retired'",
                       1, &pid, NULL, NULL, err);
    if (rc < 0)
        return rc;
    if (tl_store_changes(s) == 0)
        return 0; /* retired by someone else meanwhile */
    json_t *details = json_pack("{s:s,s:s}", "task", task, "from_status", from);
    return journal(ctx, actor, "model.retire", id, details, err);
}

/* ------------------------------------------------------------ rendering */

json_t *tl_model_info_json(const struct tl_model_info *m)
{
    if (!m)
        return NULL;
    char created[32];
    if (tl_time_format(m->created_ms, created, sizeof created) < 0)
        created[0] = 0;
    json_t *metadata = m->metadata ? json_deep_copy(m->metadata) : json_object();
    return json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:o}", "id", m->id, "task", m->task, "version",
                     m->version, "algo", m->algo, "status", m->status, "created", created,
                     "checksum", m->checksum, "artifact_bytes", (json_int_t)m->artifact_len,
                     "metadata", metadata ? metadata : json_null());
}

/* A bounded growable text: the first failure sticks in rc. */
struct md {
    char *p;
    size_t n, cap;
    int rc;
};

static void md_put(struct md *b, const char *s, size_t n)
{
    if (b->rc < 0)
        return;
    if (b->n + n + 1 > CARD_MAX) {
        b->rc = TL_ETOOBIG;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->rc = TL_ENOMEM;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void md_str(struct md *b, const char *s)
{
    md_put(b, s, strlen(s));
}

static void md_printf(struct md *b, const char *fmt, ...) TL_PRINTF(2, 3);
static void md_printf(struct md *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        md_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* A scalar as text; objects and arrays as compact JSON. Reals with six
 * significant digits: a card is for people, the metadata keeps the rest. */
static char *value_text(const json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.6g", json_real_value(v));
        return strdup(buf);
    case JSON_TRUE:
        return strdup("yes");
    case JSON_FALSE:
        return strdup("no");
    case JSON_NULL:
        return strdup("-");
    default:
        return json_dumps(v, JSON_COMPACT);
    }
}

/* One table cell: '|' escaped and line breaks flattened, so a value cannot
 * break the table. */
static void md_cell(struct md *b, const json_t *v)
{
    char *t = value_text(v);
    if (!t) {
        b->rc = b->rc < 0 ? b->rc : TL_ENOMEM;
        return;
    }
    md_put(b, " ", 1);
    for (const char *c = t; *c; c++) {
        if (*c == '|')
            md_put(b, "\\|", 2);
        else if (*c == '\n' || *c == '\r')
            md_put(b, " ", 1);
        else
            md_put(b, c, 1);
    }
    md_put(b, " |", 2);
    free(t);
}

static void md_object_table(struct md *b, const json_t *o)
{
    md_str(b, "| | |\n|---|---|\n");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        json_t *key = json_string(k);
        md_put(b, "|", 1);
        md_cell(b, key);
        md_cell(b, v);
        md_put(b, "\n", 1);
        json_decref(key);
    }
}

/* An array of objects as one table, its columns the n_lead names of lead
 * first (whether or not the rows have them), then the other keys in
 * first-seen order; anything else as a list. */
static void md_array(struct md *b, const json_t *a, const char *const *lead, size_t n_lead)
{
    bool objects = json_array_size(a) > 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) objects = objects && json_is_object(v);
    if (!objects) {
        json_array_foreach(a, i, v) {
            md_str(b, "- ");
            char *t = value_text(v);
            if (!t) {
                b->rc = b->rc < 0 ? b->rc : TL_ENOMEM;
                return;
            }
            md_str(b, t);
            md_put(b, "\n", 1);
            free(t);
        }
        return;
    }
    const char *cols[TABLE_COLS_MAX];
    size_t n_cols = 0;
    while (n_cols < n_lead && n_cols < TABLE_COLS_MAX) {
        cols[n_cols] = lead[n_cols];
        n_cols++;
    }
    json_array_foreach(a, i, v) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            size_t c = 0;
            while (c < n_cols && strcmp(cols[c], k) != 0)
                c++;
            if (c == n_cols && n_cols < TABLE_COLS_MAX)
                cols[n_cols++] = k;
        }
    }
    md_put(b, "|", 1);
    for (size_t c = 0; c < n_cols; c++) {
        json_t *name = json_string(cols[c]);
        md_cell(b, name);
        json_decref(name);
    }
    md_put(b, "\n|", 2);
    for (size_t c = 0; c < n_cols; c++)
        md_str(b, "---|");
    md_put(b, "\n", 1);
    json_array_foreach(a, i, v) {
        md_put(b, "|", 1);
        for (size_t c = 0; c < n_cols; c++) {
            json_t *x = json_object_get(v, cols[c]);
            md_cell(b, x ? x : json_null());
        }
        md_put(b, "\n", 1);
    }
}

/* One "## title" section; an array of objects becomes a table whose
 * columns start with lead (see md_array). */
static void md_section(struct md *b, const char *title, const json_t *v, const char *const *lead,
                       size_t n_lead)
{
    md_printf(b, "\n## %s\n\n", title);
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) {
        md_str(b, "Not documented.\n");
    } else if (json_is_object(v)) {
        md_object_table(b, v);
    } else if (json_is_array(v)) {
        md_array(b, v, lead, n_lead);
    } else {
        char *t = value_text(v);
        if (!t) {
            b->rc = b->rc < 0 ? b->rc : TL_ENOMEM;
            return;
        }
        md_str(b, t);
        if (b->n && b->p[b->n - 1] != '\n')
            md_put(b, "\n", 1);
        free(t);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A card key as a section title: "points" -> "Points", "data_drift" ->
 * "Data drift"; control characters become spaces so that a key cannot
 * break the heading, and a long key is cut (never inside a UTF-8
 * character). */
static void section_title(const char *key, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *c = key; *c && n + 1 < cap; c++, n++) {
        unsigned char u = (unsigned char)*c;
        out[n] = (u == '_' || u < 0x20 || u == 0x7f) ? ' ' : (char)u;
    }
    if (key[n]) {
        size_t lead = n;
        while (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && (unsigned char)out[lead - 1] >= 0xC0) {
            unsigned char u = (unsigned char)out[lead - 1];
            size_t need = u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : 2;
            if (n - (lead - 1) < need)
                n = lead - 1;
        }
    }
    out[n] = 0;
    if (out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
}

/* The card's sections other than the standard five, after them in byte
 * order of their keys (stable whatever order the JSON had): what a trainer
 * adds, such as the credit scorecard's "points" table. A card without
 * "points" whose metadata has a "points_table" (variable, bin, points, ...)
 * gets that as its Points section. */
static void md_extra_sections(struct md *b, const json_t *card, const json_t *metadata,
                              const char *const *standard, size_t n_standard)
{
    static const char *const POINTS_COLS[] = {"variable", "bin", "points"};
    const json_t *points_table = json_object_get(metadata, "points_table");
    if (!json_is_array(points_table) || (card && json_object_get(card, "points")))
        points_table = NULL;
    size_t cap = (card ? json_object_size(card) : 0) + 1, n = 0;
    const char **keys = malloc(cap * sizeof *keys);
    if (!keys) {
        b->rc = b->rc < 0 ? b->rc : TL_ENOMEM;
        return;
    }
    const char *k;
    json_t *v;
    if (card) {
        json_object_foreach((json_t *)card, k, v) {
            size_t i = 0;
            while (i < n_standard && strcmp(k, standard[i]) != 0)
                i++;
            if (i == n_standard)
                keys[n++] = k;
        }
    }
    if (points_table)
        keys[n++] = "points";
    qsort(keys, n, sizeof *keys, by_name);
    for (size_t i = 0; i < n; i++) {
        char title[80];
        section_title(keys[i], title, sizeof title);
        const json_t *x = card ? json_object_get(card, keys[i]) : NULL;
        /* a scorecard's points table reads variable, bin, points first */
        bool points = strcmp(keys[i], "points") == 0;
        md_section(b, title, x ? x : points_table, points ? POINTS_COLS : NULL,
                   points ? sizeof POINTS_COLS / sizeof POINTS_COLS[0] : 0);
    }
    free(keys);
}

int tl_registry_card_markdown(const struct tl_model_info *m, char **md, tl_err *err)
{
    if (md)
        *md = NULL;
    if (!m || !md)
        return tl_err_set(err, TL_EINVAL, "tl_registry_card_markdown: no model or no output");
    static const struct {
        const char *key, *title, *fallback; /* fallback: a top-level metadata key */
    } SECTIONS[] = {
        {"intended_use", "Intended use", NULL}, {"data", "Data", "data"},
        {"metrics", "Metrics", "metrics"},      {"fairness", "Fairness", NULL},
        {"limitations", "Limitations", NULL},
    };
    const json_t *card = json_object_get(m->metadata, "card");
    if (!json_is_object(card))
        card = NULL;
    char created[32];
    if (tl_time_format(m->created_ms, created, sizeof created) < 0)
        snprintf(created, sizeof created, "-");

    struct md b = {0};
    md_printf(&b, "# Model card: %s\n\n", m->id);
    md_str(&b, "| | |\n|---|---|\n");
    md_printf(&b, "| Model | %s |\n| Task | %s |\n| Algorithm | %s |\n| Version | %d |\n", m->id,
              m->task, m->algo, m->version);
    md_printf(&b, "| Status | %s |\n| Created | %s |\n", m->status, created);
    for (size_t i = 0; i < sizeof SECTIONS / sizeof SECTIONS[0]; i++) {
        const json_t *v = card ? json_object_get(card, SECTIONS[i].key) : NULL;
        if (!v && SECTIONS[i].fallback)
            v = json_object_get(m->metadata, SECTIONS[i].fallback);
        md_section(&b, SECTIONS[i].title, v, NULL, 0);
    }
    const char *standard[sizeof SECTIONS / sizeof SECTIONS[0]];
    for (size_t i = 0; i < sizeof SECTIONS / sizeof SECTIONS[0]; i++)
        standard[i] = SECTIONS[i].key;
    md_extra_sections(&b, card, m->metadata, standard, sizeof standard / sizeof standard[0]);
    md_str(&b, "\n## Artifact\n\n");
    md_printf(&b,
              "%zu bytes, SHA-256 `%s`. The registry checks this checksum every time the model "
              "is loaded: an altered or truncated artifact never scores.\n",
              m->artifact_len, m->checksum[0] ? m->checksum : "(none)");
    if (b.rc < 0) {
        free(b.p);
        return tl_err_set(err, b.rc, "model card of %s: %s", m->id,
                          b.rc == TL_ETOOBIG ? "longer than 16 MiB" : "out of memory");
    }
    *md = b.p;
    return 0;
}
