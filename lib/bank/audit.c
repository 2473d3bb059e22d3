/*
 * audit.c - the hash-chained audit journal (see audit.h; docs/audit.md gives
 * the exact hash input so that a chain can be checked without teller).
 *
 * An append is one short write transaction: take the journal's lock, read
 * the last row, insert the next rows (one, or a batch), commit. The lock is what keeps seq
 * gapless and the chain linear when threads and processes append at once.
 * Each row's hash covers the previous row's hash and every other column in a
 * typed, length-prefixed encoding, computed from the values exactly as the
 * store hands them back, so verifying is recomputing: one pass in seq order.
 */
#include <teller/audit.h>
#include <teller/datetime.h>
#include <teller/schema.h>
#include <teller/utf8.h>

#include "core/internal.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The columns of audit_log in the order of every statement below and of the
 * hash input (C_SEQ to C_OUTPUT, after the previous hash). */
enum col {
    C_SEQ,
    C_ID,
    C_TS,
    C_ACTOR,
    C_ROLE,
    C_ACTION,
    C_RESOURCE,
    C_CUSTOMER,
    C_REQUEST,
    C_SUBJECT,
    C_MODEL,
    C_DIGEST,
    C_OUTPUT,
    C_PREV,
    C_HASH,
    C_COUNT
};

#define COLUMNS                                                                              \
    "seq, id, ts_ms, actor, role, action, resource, customer_id, request_id, subject, "      \
    "model_version, inputs_digest, output, prev_hash, hash"

static const char SQL_INSERT[] = "INSERT INTO audit_log (" COLUMNS ")"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* seq IS NOT NULL: PostgreSQL sorts NULLs first in descending order, and a
 * row without a seq is not part of the chain. The unique index on seq
 * answers this without reading the table. */
static const char SQL_LAST[] =
    "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1";
static const char SQL_WALK[] =
    "SELECT " COLUMNS " FROM audit_log WHERE seq IS NOT NULL ORDER BY seq";
static const char SQL_UNCHAINED[] = "SELECT id FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT 1";
static const char SQL_LIST[] =
    "SELECT " COLUMNS " FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT ?";
static const char SQL_LIST_CUSTOMER[] = "SELECT " COLUMNS " FROM audit_log"
                                        " WHERE customer_id = ? AND seq IS NOT NULL"
                                        " ORDER BY seq DESC LIMIT ?";

/* The one place bank/ names a backend. BEGIN IMMEDIATE (tl_store_begin on
 * SQLite) already holds the database's write lock, which serializes appends.
 * PostgreSQL's BEGIN locks nothing, so appenders queue on a transaction-scoped
 * advisory lock: unlike LOCK TABLE it leaves readers alone, and COMMIT or
 * ROLLBACK (or the death of the process) releases it. It must be its own
 * statement before the read: under READ COMMITTED each statement takes a new
 * snapshot, so the read sees the row the previous holder committed. The key
 * is 'tlaudit' in ASCII, recognisable in pg_locks. */
static const char PG_LOCK_SQL[] = "SELECT pg_advisory_xact_lock(32770263135578484)";

/* A unique-key clash (another writer's seq or id) is retried this often; only
 * a store whose default isolation is above READ COMMITTED, or a forged row
 * squatting on the next id, can cause one. */
#define APPEND_TRIES 3

/* Versioned domain tag, the first thing hashed: a later format changes it. */
static const char HASH_TAG[] = "teller.audit.v1";

static const char GENESIS[65] = "0000000000000000000000000000000000000000000000000000000000000000";

/* ------------------------------------------------------------- hashing */

static void put_be64(unsigned char *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* One value: a type tag, then a fixed 8-byte big-endian integer or length,
 * then the bytes. Typed and length-prefixed, so no two different rows encode
 * alike: NULL differs from "", 7 from "7", and no field can borrow bytes from
 * the next. */
static void hash_value(crypto_hash_sha256_state *st, const tl_value *v)
{
    unsigned char b[9];
    uint64_t bits;
    switch (v->type) {
    case TL_VAL_NULL:
        b[0] = 'N';
        crypto_hash_sha256_update(st, b, 1);
        return;
    case TL_VAL_INT:
        b[0] = 'I';
        put_be64(b + 1, (uint64_t)v->i);
        crypto_hash_sha256_update(st, b, 9);
        return;
    case TL_VAL_REAL:
        b[0] = 'R';
        memcpy(&bits, &v->d, sizeof bits);
        put_be64(b + 1, bits);
        crypto_hash_sha256_update(st, b, 9);
        return;
    case TL_VAL_TEXT:
    case TL_VAL_BLOB:
        b[0] = v->type == TL_VAL_TEXT ? 'T' : 'B';
        put_be64(b + 1, (uint64_t)v->len);
        crypto_hash_sha256_update(st, b, 9);
        if (v->len)
            crypto_hash_sha256_update(st, (const unsigned char *)v->s, v->len);
        return;
    }
}

/* hash = SHA-256(tag, prev_hash, seq, id, ts_ms, ..., output), every item
 * encoded by hash_value, as 64 lower-case hex digits. */
static void row_hash(const tl_value *vals, char hex[65])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    tl_value tag = TL_TEXTN(HASH_TAG, sizeof HASH_TAG - 1);
    hash_value(&st, &tag);
    hash_value(&st, &vals[C_PREV]);
    for (int c = C_SEQ; c <= C_OUTPUT; c++)
        hash_value(&st, &vals[c]);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}

static bool text_is(const tl_value *v, const char *s, size_t len)
{
    return v->type == TL_VAL_TEXT && v->len == len && memcmp(v->s, s, len) == 0;
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return false;
    return n == 64;
}

/* ------------------------------------------------------------- append */

static size_t column_max_len(const char *db_name)
{
    const struct tl_table_spec *t = tl_schema_table("audit_log");
    for (size_t i = 0; t && i < t->n_columns; i++)
        if (strcmp(tl_schema_db_name(&t->columns[i]), db_name) == 0)
            return t->columns[i].max_len;
    return 0;
}

/* Checks one text field of an event: present when required, non-empty when
 * required, within its column's length, UTF-8. */
static int check_text(const char *field, const char *db_name, const char *v, bool required,
                      tl_err *err)
{
    if (!v) {
        if (required)
            return tl_err_set(err, TL_EINVAL, "audit event: %s is required", field);
        return 0;
    }
    size_t len = strlen(v), max = column_max_len(db_name);
    if (required && len == 0)
        return tl_err_set(err, TL_EINVAL, "audit event: %s is empty", field);
    if (TL_ALWAYS(max) && len > max)
        return tl_err_set(err, TL_EINVAL,
                          "audit event: %s is %zu bytes, longer than the %zu its audit_log "
                          "column %s allows",
                          field, len, max, db_name);
    size_t bad = 0;
    if (!tl_utf8_valid(v, len, &bad)) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL, "audit event: %s %s is not valid UTF-8 (byte %zu)",
                          field, tl__quote(q, sizeof q, v, len), bad);
    }
    return 0;
}

static int check_event(const struct tl_audit_event *ev, tl_err *err)
{
    int rc;
    if ((rc = check_text("actor", "actor", ev->actor, true, err)) < 0 ||
        (rc = check_text("action", "action", ev->action, true, err)) < 0 ||
        (rc = check_text("role", "role", ev->role, false, err)) < 0 ||
        (rc = check_text("resource", "resource", ev->resource, false, err)) < 0 ||
        (rc = check_text("customer_id", "customer_id", ev->customer_id, false, err)) < 0 ||
        (rc = check_text("request_id", "request_id", ev->request_id, false, err)) < 0 ||
        (rc = check_text("model_version", "model_version", ev->model_version, false, err)) < 0 ||
        (rc = check_text("inputs_digest", "inputs_digest", ev->inputs_digest, false, err)) < 0 ||
        (rc = check_text("details", "output", ev->details, false, err)) < 0)
        return rc;
    if (ev->inputs_digest && !is_hex64(ev->inputs_digest)) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL,
                          "audit event: inputs_digest %s is not a SHA-256 in hex (64 hex digits)",
                          tl__quote(q, sizeof q, ev->inputs_digest, strlen(ev->inputs_digest)));
    }
    if (ev->details) {
        char q[TL__QUOTE_SIZE];
        json_error_t je;
        json_t *j = json_loadb(ev->details, strlen(ev->details), JSON_DECODE_ANY, &je);
        if (!j)
            return tl_err_set(err, TL_EINVAL,
                              "audit event: details are not JSON: %s at byte %d of %zu",
                              tl__quote(q, sizeof q, je.text, strnlen(je.text, sizeof je.text)),
                              je.position, strlen(ev->details));
        json_decref(j);
    }
    return 0;
}

static tl_value text_or_null(const char *s)
{
    return s ? TL_TEXT(s) : TL_NULLV;
}

struct last_row {
    bool found;
    bool seq_ok;
    int64_t seq;
    char hash[65];
    bool hash_ok;
};

static int on_last(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct last_row *l = ud;
    if (!TL_ALWAYS(n_cols == 2))
        return 1;
    l->found = true;
    l->seq_ok = cols[0].type == TL_VAL_INT;
    l->seq = cols[0].i;
    /* Chained to as stored, even when it was tampered with: the journal
     * keeps working and verify reports the tampered row. */
    l->hash_ok = cols[1].type == TL_VAL_TEXT && cols[1].len < sizeof l->hash;
    if (l->hash_ok) {
        memcpy(l->hash, cols[1].s, cols[1].len);
        l->hash[cols[1].len] = 0;
    }
    return 1;
}

/* The columns of one row of ev at chain position seq after prev; hash
 * receives its hash, and the values borrow ev's strings, id and hash. */
static void fill_row(tl_value vals[C_COUNT], const struct tl_audit_event *ev, int64_t seq,
                     int64_t ts_ms, const char *prev, char id[32], char hash[65])
{
    snprintf(id, 32, "au-%012lld", (long long)seq);
    vals[C_SEQ] = TL_INT(seq);
    vals[C_ID] = TL_TEXT(id);
    vals[C_TS] = TL_INT(ts_ms);
    vals[C_ACTOR] = TL_TEXT(ev->actor);
    vals[C_ROLE] = text_or_null(ev->role);
    vals[C_ACTION] = TL_TEXT(ev->action);
    vals[C_RESOURCE] = text_or_null(ev->resource);
    vals[C_CUSTOMER] = text_or_null(ev->customer_id);
    vals[C_REQUEST] = text_or_null(ev->request_id);
    vals[C_SUBJECT] = TL_NULLV;
    vals[C_MODEL] = text_or_null(ev->model_version);
    vals[C_DIGEST] = text_or_null(ev->inputs_digest);
    vals[C_OUTPUT] = text_or_null(ev->details);
    vals[C_PREV] = TL_TEXT(prev);
    row_hash(vals, hash);
    vals[C_HASH] = TL_TEXT(hash);
}

/* One transaction for all n rows. The head is read once, inside the
 * transaction and under the journal's lock, never remembered from a previous
 * call: another thread or process may have appended since. Each row then
 * chains to the one before it in memory, and the same INSERT text reuses
 * the store's cached statement. */
static int append_many(tl_store *s, const struct tl_audit_event *evs, size_t n, tl_err *err)
{
    int rc = tl_store_begin(s, err);
    if (rc < 0)
        return rc; /* nothing of ours to roll back: maybe the caller's transaction */
    if (strcmp(tl_store_backend(s), "postgres") == 0 &&
        (rc = tl_store_exec(s, PG_LOCK_SQL, 0, NULL, NULL, NULL, err)) < 0)
        goto fail;

    struct last_row last = {0};
    if ((rc = tl_store_exec(s, SQL_LAST, 0, NULL, on_last, &last, err)) < 0)
        goto fail;
    int64_t seq = 1;
    char prev[65];
    memcpy(prev, GENESIS, sizeof prev);
    if (last.found) {
        if (!last.seq_ok || !last.hash_ok) {
            rc = tl_err_set(err, TL_ESTORE,
                            "the last row of audit_log has a seq or hash that is not a chain "
                            "position or a hash, so nothing can be chained to it; run `teller "
                            "audit verify`");
            goto fail;
        }
        if (last.seq > INT64_MAX - (int64_t)n) {
            rc = tl_err_set(err, TL_ETOOBIG,
                            "audit_log is at seq %lld: %zu more rows would pass the largest there "
                            "is",
                            (long long)last.seq, n);
            goto fail;
        }
        seq = last.seq < 1 ? 1 : last.seq + 1;
        memcpy(prev, last.hash, sizeof prev);
    }

    int64_t ts_ms = tl_time_now_ms();
    for (size_t k = 0; k < n; k++, seq++) {
        char id[32], hash[65];
        tl_value vals[C_COUNT];
        fill_row(vals, &evs[k], seq, ts_ms, prev, id, hash);
        if ((rc = tl_store_exec(s, SQL_INSERT, C_COUNT, vals, NULL, NULL, err)) < 0)
            goto fail;
        memcpy(prev, hash, sizeof prev);
    }
    return tl_store_commit(s, err);
fail:
    (void)tl_store_rollback(s, NULL);
    return rc;
}

int tl_audit_append_batch(tl_ctx *ctx, const struct tl_audit_event *evs, size_t n, tl_err *err)
{
    if (!ctx || (!evs && n > 0))
        return tl_err_set(err, TL_EINVAL,
                          "tl_audit_append_batch: no context or no events were given");
    if (n == 0)
        return 0;
    if (n > TL_AUDIT_BATCH_MAX)
        return tl_err_set(err, TL_EINVAL,
                          "tl_audit_append_batch: %zu events, more than the %d one batch takes", n,
                          TL_AUDIT_BATCH_MAX);
    /* Every event is checked before anything is written: all or none. */
    int rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_event(&evs[i], err)) < 0) {
            if (n > 1)
                tl_err_prefix(err, "event %zu of %zu", i + 1, n);
            return rc;
        }
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");
    tl_store *s = tl_ctx_store(ctx);
    for (int attempt = 1;; attempt++) {
        rc = append_many(s, evs, n, err);
        if (rc != TL_ECONSTRAINT || attempt == APPEND_TRIES)
            break;
    }
    if (rc < 0) {
        char q[TL__QUOTE_SIZE];
        if (n == 1)
            tl_err_prefix(err, "audit: cannot journal action %s",
                          tl__quote(q, sizeof q, evs[0].action, strlen(evs[0].action)));
        else
            tl_err_prefix(err, "audit: cannot journal a batch of %zu actions (the first %s)", n,
                          tl__quote(q, sizeof q, evs[0].action, strlen(evs[0].action)));
    }
    return rc;
}

int tl_audit_append(tl_ctx *ctx, const struct tl_audit_event *ev, tl_err *err)
{
    if (!ctx || !ev)
        return tl_err_set(err, TL_EINVAL, "tl_audit_append: no context or no event was given");
    return tl_audit_append_batch(ctx, ev, 1, err);
}

/* ------------------------------------------------------------- verify */

struct walk {
    struct tl_audit_report *rep;
    int64_t next_seq; /* the seq the next row must have */
    char prev[65];    /* hash of the last row that verified */
    int64_t anchor_seq;
    char anchor_hash[65]; /* lower case; "" when no anchor */
    bool anchor_seen;
};

static int broken(struct walk *w, int64_t seq, const char *fmt, ...) TL_PRINTF(3, 4);

static int broken(struct walk *w, int64_t seq, const char *fmt, ...)
{
    w->rep->ok = false;
    w->rep->first_bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->rep->problem, sizeof w->rep->problem, fmt, ap);
    va_end(ap);
    /* A message cut short may end inside a UTF-8 sequence (ids are quoted
     * as they are); it goes into JSON, so drop the partial character. */
    size_t bad = 0;
    if (!tl_utf8_valid(w->rep->problem, strlen(w->rep->problem), &bad))
        w->rep->problem[bad] = 0;
    return 1; /* stops the walk */
}

static int on_walk_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct walk *w = ud;
    if (!TL_ALWAYS(n_cols == C_COUNT))
        return broken(w, w->next_seq, "audit_log returned %zu columns, not %d", n_cols, C_COUNT);
    w->rep->rows_checked++;
    char q[TL__QUOTE_SIZE];
    const tl_value *idv = &cols[C_ID];
    const char *id = idv->type == TL_VAL_TEXT ? tl__quote(q, sizeof q, idv->s, idv->len) : "(none)";
    long long next = (long long)w->next_seq;

    if (cols[C_SEQ].type != TL_VAL_INT)
        return broken(w, w->next_seq,
                      "after row %lld comes a row (id %s) whose seq is not an integer: it was "
                      "inserted or altered",
                      next - 1, id);
    int64_t seq = cols[C_SEQ].i;
    if (seq < 1)
        return broken(w, 0,
                      "a row (id %s) has seq %lld, before row 1 where the chain starts: it was "
                      "inserted or altered",
                      id, (long long)seq);
    if (seq < w->next_seq)
        return broken(w, seq, "row %lld appears twice (again as id %s): a row was inserted",
                      (long long)seq, id);
    if (seq > w->next_seq) {
        if (w->next_seq == 1)
            return broken(w, 1, "row 1 is missing: the chain starts at row %lld (rows deleted)",
                          (long long)seq);
        if (seq == w->next_seq + 1)
            return broken(w, w->next_seq,
                          "row %lld is missing: the chain goes from row %lld to row %lld (a row "
                          "was deleted)",
                          next, next - 1, (long long)seq);
        return broken(w, w->next_seq,
                      "rows %lld to %lld are missing: the chain goes from row %lld to row %lld "
                      "(rows were deleted)",
                      next, (long long)seq - 1, next - 1, (long long)seq);
    }

    char hash[65];
    row_hash(cols, hash);
    if (!text_is(&cols[C_HASH], hash, 64))
        return broken(w, seq,
                      "row %lld (id %s) was altered: its contents do not match its hash",
                      (long long)seq, id);
    if (!text_is(&cols[C_PREV], w->prev, 64)) {
        if (seq == 1)
            return broken(w, 1,
                          "row 1 (id %s) does not start the chain: its prev_hash is not the "
                          "genesis value, so rows before it were deleted or it was forged",
                          id);
        return broken(w, seq,
                      "row %lld (id %s) does not follow row %lld: its prev_hash is not row %lld's "
                      "hash, so row %lld was rewritten with a recomputed hash, or row %lld was "
                      "forged",
                      (long long)seq, id, next - 1, next - 1, next - 1, (long long)seq);
    }
    if (w->anchor_hash[0] && seq == w->anchor_seq) {
        w->anchor_seen = true;
        if (strcmp(hash, w->anchor_hash) != 0)
            return broken(w, seq,
                          "row %lld's hash %.12s... differs from the anchor %lld:%.12s...: the "
                          "chain was rewritten at or before row %lld",
                          (long long)seq, hash, (long long)seq, w->anchor_hash, (long long)seq);
    }
    memcpy(w->prev, hash, sizeof hash);
    w->next_seq++;
    return 0;
}

static int on_unchained(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct walk *w = ud;
    char q[TL__QUOTE_SIZE];
    const char *id = n_cols == 1 && cols[0].type == TL_VAL_TEXT
                         ? tl__quote(q, sizeof q, cols[0].s, cols[0].len)
                         : "(none)";
    return broken(w, 0, "a row (id %s) has no seq: it is outside the chain, so it was inserted",
                  id);
}

static int verify(tl_ctx *ctx, int64_t anchor_seq, const char *anchor_hash,
                  struct tl_audit_report *rep, tl_err *err)
{
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");
    *rep = (struct tl_audit_report){.ok = true, .first_bad_seq = -1};
    struct walk w = {.rep = rep, .next_seq = 1, .anchor_seq = anchor_seq};
    memcpy(w.prev, GENESIS, sizeof w.prev);
    if (anchor_hash)
        for (size_t i = 0; i < 64; i++)
            w.anchor_hash[i] = (char)tolower((unsigned char)anchor_hash[i]);

    tl_store *s = tl_ctx_store(ctx);
    int rc = tl_store_exec(s, SQL_WALK, 0, NULL, on_walk_row, &w, err);
    if (rc == 0 && rep->ok)
        rc = tl_store_exec(s, SQL_UNCHAINED, 0, NULL, on_unchained, &w, err);
    if (rc < 0) {
        tl_err_prefix(err, "audit verify");
        *rep = (struct tl_audit_report){.ok = false, .first_bad_seq = -1};
        return rc;
    }
    rep->head_seq = w.next_seq - 1;
    memcpy(rep->head_hash, w.prev, sizeof rep->head_hash);
    if (rep->ok && w.anchor_hash[0] && anchor_seq > 0 && !w.anchor_seen)
        (void)broken(&w, w.next_seq,
                     "the chain ends at row %lld, but the anchor names row %lld: rows %lld to "
                     "%lld were deleted (the tail was truncated)",
                     (long long)w.next_seq - 1, (long long)anchor_seq, (long long)w.next_seq,
                     (long long)anchor_seq);
    return 0;
}

int tl_audit_verify(tl_ctx *ctx, struct tl_audit_report *rep, tl_err *err)
{
    if (!ctx || !rep)
        return tl_err_set(err, TL_EINVAL, "tl_audit_verify: no context or no report was given");
    return verify(ctx, 0, NULL, rep, err);
}

int tl_audit_verify_anchor(tl_ctx *ctx, int64_t anchor_seq, const char *anchor_hash,
                           struct tl_audit_report *rep, tl_err *err)
{
    if (!ctx || !rep || !anchor_hash)
        return tl_err_set(err, TL_EINVAL,
                          "tl_audit_verify_anchor: no context, anchor hash or report was given");
    char q[TL__QUOTE_SIZE];
    if (anchor_seq < 0)
        return tl_err_set(err, TL_EINVAL, "audit anchor seq %lld is negative",
                          (long long)anchor_seq);
    if (!is_hex64(anchor_hash))
        return tl_err_set(err, TL_EINVAL, "audit anchor hash %s is not 64 hex digits",
                          tl__quote(q, sizeof q, anchor_hash, strlen(anchor_hash)));
    if (anchor_seq == 0 && strcmp(anchor_hash, GENESIS) != 0)
        return tl_err_set(err, TL_EINVAL,
                          "audit anchor 0:%.12s... names no row: the only anchor at 0 is the "
                          "empty chain's, 0:000...0",
                          anchor_hash);
    return verify(ctx, anchor_seq, anchor_hash, rep, err);
}

/* --------------------------------------------------------------- list */

struct lister {
    tl_audit_entry_fn fn;
    void *ud;
};

static const char *str_of(const tl_value *v)
{
    /* Results are NUL-terminated text (store.h); a blob where text belongs
     * is shown as absent rather than cut at its first NUL. */
    return v->type == TL_VAL_TEXT ? v->s : NULL;
}

static int on_list_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct lister *l = ud;
    if (!TL_ALWAYS(n_cols == C_COUNT))
        return 1;
    struct tl_audit_entry e = {
        .seq = cols[C_SEQ].type == TL_VAL_INT ? cols[C_SEQ].i : 0,
        .ts_ms = cols[C_TS].type == TL_VAL_INT ? cols[C_TS].i : 0,
        .id = str_of(&cols[C_ID]),
        .actor = str_of(&cols[C_ACTOR]),
        .role = str_of(&cols[C_ROLE]),
        .action = str_of(&cols[C_ACTION]),
        .resource = str_of(&cols[C_RESOURCE]),
        .customer_id = str_of(&cols[C_CUSTOMER]),
        .request_id = str_of(&cols[C_REQUEST]),
        .subject = str_of(&cols[C_SUBJECT]),
        .model_version = str_of(&cols[C_MODEL]),
        .inputs_digest = str_of(&cols[C_DIGEST]),
        .details = str_of(&cols[C_OUTPUT]),
        .prev_hash = str_of(&cols[C_PREV]),
        .hash = str_of(&cols[C_HASH]),
    };
    return l->fn(l->ud, &e);
}

int tl_audit_list(tl_ctx *ctx, const char *customer_id, uint64_t limit, tl_audit_entry_fn fn,
                  void *ud, tl_err *err)
{
    if (!ctx || !fn)
        return tl_err_set(err, TL_EINVAL, "tl_audit_list: no context or no callback was given");
    int64_t n = limit == 0 || limit > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    struct lister l = {.fn = fn, .ud = ud};
    tl_store *s = tl_ctx_store(ctx);
    int rc;
    if (customer_id) {
        tl_value p[] = {TL_TEXT(customer_id), TL_INT(n)};
        rc = tl_store_exec(s, SQL_LIST_CUSTOMER, 2, p, on_list_row, &l, err);
    } else {
        tl_value p[] = {TL_INT(n)};
        rc = tl_store_exec(s, SQL_LIST, 1, p, on_list_row, &l, err);
    }
    if (rc < 0)
        tl_err_prefix(err, "audit list");
    return rc;
}
