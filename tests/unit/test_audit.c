/* needs: postgres */
/*
 * test_audit.c - the hash-chained audit journal on SQLite and PostgreSQL:
 * a chain verifies; editing, deleting and inserting rows with raw SQL is
 * found at the right row; tail truncation and full rewrites are found
 * against an anchored head; concurrent appenders (threads and processes)
 * leave one gapless chain; bad events are refused. The row hash is
 * recomputed here from docs/audit.md, independently of lib/bank/audit.c, so
 * the documented format is pinned and the tests can forge rows as an
 * attacker who knows it would.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

struct env {
    char *dir;
    char *url;
    tl_config *cfg;
    tl_ctx *ctx;
};

static tl_ctx *open_ctx(const tl_config *cfg)
{
    tl_ctx *ctx = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "tl_ctx_open: %s", err.msg);
    return ctx;
}

static void env_open(struct env *e, bool postgres)
{
    e->dir = tu_tmpdir();
    cr_assert_not_null(e->dir, "cannot create a temporary directory");
    if (postgres) {
        e->url = tu_pg_fresh_url();
        cr_assert_not_null(e->url,
                           "no PostgreSQL server: the CTest fixture pg_start must run first "
                           "(TELLER_PG_STATE=%s)",
                           getenv("TELLER_PG_STATE") ? getenv("TELLER_PG_STATE") : "(unset)");
    } else {
        size_t n = strlen(e->dir) + 32;
        e->url = malloc(n);
        snprintf(e->url, n, "sqlite:%s/audit.db", e->dir);
    }
    e->cfg = tu_config(e->url, e->dir);
    e->ctx = open_ctx(e->cfg);
}

static void env_close(struct env *e)
{
    tl_ctx_close(e->ctx);
    tl_config_free(e->cfg);
    free(e->url);
    free(e->dir);
}

/* One test per backend from one body. */
#define BOTH(name)                      \
    static void name(struct env *e);    \
    Test(sqlite, name)                  \
    {                                   \
        struct env e = {0};             \
        env_open(&e, false);            \
        name(&e);                       \
        env_close(&e);                  \
    }                                   \
    Test(postgres, name)                \
    {                                   \
        struct env e = {0};             \
        env_open(&e, true);             \
        name(&e);                       \
        env_close(&e);                  \
    }                                   \
    static void name(struct env *e)

static int append_n(tl_ctx *ctx, int n, const char *actor, tl_err *err)
{
    for (int i = 0; i < n; i++) {
        char cust[32], details[64];
        snprintf(cust, sizeof cust, "c-%d", i % 7);
        snprintf(details, sizeof details, "{\"i\":%d,\"by\":\"%s\"}", i, actor);
        struct tl_audit_event ev = {.actor = actor,
                                    .role = "analyst",
                                    .action = "customer.read",
                                    .resource = "GET /v1/customers/{id}",
                                    .customer_id = cust,
                                    .request_id = i % 3 ? "req-1" : NULL,
                                    .details = details};
        int rc = tl_audit_append(ctx, &ev, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void append_ok(tl_ctx *ctx, int n)
{
    tl_err err = {0};
    cr_assert_eq(append_n(ctx, n, "key-1", &err), 0, "append: %s", err.msg);
}

static void sql(tl_ctx *ctx, const char *text)
{
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), text, 0, NULL, NULL, NULL, &err), 0, "%s: %s",
                 text, err.msg);
}

static struct tl_audit_report verify(tl_ctx *ctx)
{
    struct tl_audit_report rep;
    tl_err err = {0};
    cr_assert_eq(tl_audit_verify(ctx, &rep, &err), 0, "verify: %s", err.msg);
    return rep;
}

static void expect_broken(tl_ctx *ctx, int64_t seq, const char *word)
{
    struct tl_audit_report rep = verify(ctx);
    cr_assert(!rep.ok, "verify missed the tampering (%llu rows checked)",
              (unsigned long long)rep.rows_checked);
    cr_assert_eq(rep.first_bad_seq, seq, "first bad row %lld, want %lld: %s",
                 (long long)rep.first_bad_seq, (long long)seq, rep.problem);
    cr_assert_not_null(strstr(rep.problem, word), "problem \"%s\" lacks \"%s\"", rep.problem, word);
}

/* ------------------------------------ the documented hash (docs/audit.md) */

static void be64(unsigned char *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char)v;
}

static void doc_put(crypto_hash_sha256_state *st, const tl_value *v)
{
    unsigned char b[9];
    if (v->type == TL_VAL_NULL) {
        crypto_hash_sha256_update(st, (const unsigned char *)"N", 1);
    } else if (v->type == TL_VAL_INT) {
        b[0] = 'I';
        be64(b + 1, (uint64_t)v->i);
        crypto_hash_sha256_update(st, b, 9);
    } else {
        cr_assert_eq(v->type, TL_VAL_TEXT, "unexpected column type %d", v->type);
        b[0] = 'T';
        be64(b + 1, v->len);
        crypto_hash_sha256_update(st, b, 9);
        crypto_hash_sha256_update(st, (const unsigned char *)v->s, v->len);
    }
}

#define ROW_COLUMNS                                                                          \
    "prev_hash, seq, id, ts_ms, actor, role, action, resource, customer_id, request_id, "    \
    "subject, model_version, inputs_digest, output, hash"

/* cols: the ROW_COLUMNS of one row; the first 14 are the hash input. */
static void doc_hash(const tl_value *cols, char hex[65])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    tl_value tag = TL_TEXT("teller.audit.v1");
    doc_put(&st, &tag);
    for (int c = 0; c < 14; c++)
        doc_put(&st, &cols[c]);
    unsigned char d[32];
    crypto_hash_sha256_final(&st, d);
    sodium_bin2hex(hex, 65, d, sizeof d);
}

struct hashes {
    int rows;
    int mismatches;
    char by_seq[256][65]; /* hash column by seq (seq < 256) */
};

static int check_doc_hash(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct hashes *h = ud;
    cr_assert_eq(n_cols, 15);
    char hex[65];
    doc_hash(cols, hex);
    h->rows++;
    if (cols[14].type != TL_VAL_TEXT || cols[14].len != 64 || memcmp(cols[14].s, hex, 64) != 0)
        h->mismatches++;
    if (cols[1].type == TL_VAL_INT && cols[1].i >= 0 && cols[1].i < 256 && cols[14].len == 64)
        memcpy(h->by_seq[cols[1].i], cols[14].s, 65);
    return 0;
}

static void read_hashes(tl_ctx *ctx, struct hashes *h)
{
    memset(h, 0, sizeof *h);
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "SELECT " ROW_COLUMNS " FROM audit_log ORDER BY seq",
                               0, NULL, check_doc_hash, h, &err),
                 0, "%s", err.msg);
}

/* Rewrites row seq's hash to what the documented formula gives for its
 * current contents: what an attacker who knows the format does after an
 * edit. */
struct one {
    char prev[65];
    tl_value cols[15];
    char buf[15][512];
};

static int grab(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct one *o = ud;
    for (size_t c = 0; c < n_cols && c < 15; c++) {
        o->cols[c] = cols[c];
        if (cols[c].type == TL_VAL_TEXT) {
            cr_assert_lt(cols[c].len, sizeof o->buf[c]);
            memcpy(o->buf[c], cols[c].s, cols[c].len + 1);
            o->cols[c].s = o->buf[c];
        }
    }
    return 0;
}

static void rehash(tl_ctx *ctx, int64_t seq)
{
    struct one o = {0};
    tl_err err = {0};
    tl_value p[] = {TL_INT(seq)};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "SELECT " ROW_COLUMNS " FROM audit_log WHERE seq = ?",
                               1, p, grab, &o, &err),
                 0, "%s", err.msg);
    char hex[65];
    doc_hash(o.cols, hex);
    tl_value q[] = {TL_TEXT(hex), TL_INT(seq)};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "UPDATE audit_log SET hash = ? WHERE seq = ?", 2, q,
                               NULL, NULL, &err),
                 0, "%s", err.msg);
}

/* Relinks row seq to row seq-1's current hash, then rehashes it. */
static void relink(tl_ctx *ctx, int64_t seq)
{
    tl_err err = {0};
    tl_value p[] = {TL_INT(seq)};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx),
                               "UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log a "
                               "WHERE a.seq = audit_log.seq - 1) WHERE seq = ?",
                               1, p, NULL, NULL, &err),
                 0, "%s", err.msg);
    rehash(ctx, seq);
}

/* ------------------------------------------------------------- the chain */

BOTH(a_chain_of_100_verifies)
{
    struct tl_audit_report rep = verify(e->ctx);
    cr_assert(rep.ok, "an empty journal verifies: %s", rep.problem);
    cr_assert_eq(rep.rows_checked, 0);
    cr_assert_eq(rep.head_seq, 0);
    cr_assert_str_eq(rep.head_hash, "0000000000000000000000000000000000000000000000000000000000000000");
    cr_assert_eq(rep.first_bad_seq, -1);

    append_ok(e->ctx, 100);
    rep = verify(e->ctx);
    cr_assert(rep.ok, "%s", rep.problem);
    cr_assert_eq(rep.rows_checked, 100);
    cr_assert_eq(rep.first_bad_seq, -1);
    cr_assert_eq(rep.head_seq, 100);

    struct hashes h;
    read_hashes(e->ctx, &h);
    cr_assert_eq(h.rows, 100);
    cr_assert_eq(h.mismatches, 0, "%d rows do not hash as docs/audit.md says", h.mismatches);
    cr_assert_str_eq(rep.head_hash, h.by_seq[100]);

    /* the anchor of the head holds, as do older anchors */
    tl_err err = {0};
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 100, h.by_seq[100], &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.ok, "%s", rep.problem);
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 40, h.by_seq[40], &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.ok, "%s", rep.problem);
}

BOTH(rows_hold_what_was_appended)
{
    char digest[65];
    memset(digest, 'a', 64);
    digest[64] = 0;
    struct tl_audit_event ev = {.actor = "key-9",
                                .role = "service",
                                .action = "credit.decision",
                                .resource = "POST /v1/credit/score",
                                .customer_id = "c-42",
                                .request_id = "r-1",
                                .model_version = "credit@3",
                                .inputs_digest = digest,
                                .details = "{\"decision\":\"approve\",\"reasons\":[]}"};
    tl_err err = {0};
    cr_assert_eq(tl_audit_append(e->ctx, &ev, &err), 0, "%s", err.msg);
    struct one o = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(e->ctx), "SELECT " ROW_COLUMNS " FROM audit_log", 0, NULL,
                               grab, &o, &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(o.buf[0], "0000000000000000000000000000000000000000000000000000000000000000");
    cr_assert_eq(o.cols[1].i, 1);
    cr_assert_str_eq(o.buf[2], "au-000000000001");
    cr_assert_gt(o.cols[3].i, 1700000000000);
    cr_assert_str_eq(o.buf[4], "key-9");
    cr_assert_str_eq(o.buf[5], "service");
    cr_assert_str_eq(o.buf[6], "credit.decision");
    cr_assert_str_eq(o.buf[7], "POST /v1/credit/score");
    cr_assert_str_eq(o.buf[8], "c-42");
    cr_assert_str_eq(o.buf[9], "r-1");
    cr_assert_eq(o.cols[10].type, TL_VAL_NULL, "subject stays NULL");
    cr_assert_str_eq(o.buf[11], "credit@3");
    cr_assert_str_eq(o.buf[12], digest);
    cr_assert_str_eq(o.buf[13], ev.details);
}

/* --------------------------------------------------------------- editing */

BOTH(an_edited_row_is_found)
{
    append_ok(e->ctx, 100);
    sql(e->ctx, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 37");
    expect_broken(e->ctx, 37, "row 37");
    expect_broken(e->ctx, 37, "altered");
}

BOTH(every_column_is_covered_by_the_hash)
{
    static const char *const edits[] = {
        "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = 5",
        "UPDATE audit_log SET role = 'admin' WHERE seq = 5",
        "UPDATE audit_log SET action = 'nothing' WHERE seq = 5",
        "UPDATE audit_log SET resource = NULL WHERE seq = 5",
        "UPDATE audit_log SET customer_id = 'c-other' WHERE seq = 5",
        "UPDATE audit_log SET request_id = '' WHERE seq = 5", /* NULL -> "" */
        "UPDATE audit_log SET subject = '' WHERE seq = 5",
        "UPDATE audit_log SET model_version = 'm' WHERE seq = 5",
        "UPDATE audit_log SET inputs_digest = 'x' WHERE seq = 5",
        "UPDATE audit_log SET output = '{}' WHERE seq = 5",
        "UPDATE audit_log SET id = 'au-x' WHERE seq = 5",
        "UPDATE audit_log SET prev_hash = upper(prev_hash) WHERE seq = 5",
        "UPDATE audit_log SET hash = upper(hash) WHERE seq = 5",
    };
    append_ok(e->ctx, 8);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        tl_err err = {0};
        cr_assert_eq(tl_store_begin(tl_ctx_store(e->ctx), &err), 0, "%s", err.msg);
        sql(e->ctx, edits[i]);
        struct tl_audit_report rep = verify(e->ctx);
        cr_assert(!rep.ok, "edit not found: %s", edits[i]);
        cr_assert_eq(rep.first_bad_seq, 5, "%s: reported row %lld: %s", edits[i],
                     (long long)rep.first_bad_seq, rep.problem);
        cr_assert_eq(tl_store_rollback(tl_ctx_store(e->ctx), &err), 0, "%s", err.msg);
        cr_assert(verify(e->ctx).ok, "rollback of %s", edits[i]);
    }
}

/* An attacker who knows the format edits row 37 and recomputes its hash: row
 * 37 is self-consistent, so the break shows at row 38's link. Relinking and
 * rehashing every later row makes the chain verify again; only the anchored
 * head catches that. */
BOTH(a_rewrite_with_recomputed_hashes_is_found)
{
    append_ok(e->ctx, 60);
    struct tl_audit_report rep = verify(e->ctx);
    cr_assert(rep.ok);
    char anchor[65];
    memcpy(anchor, rep.head_hash, sizeof anchor);

    sql(e->ctx, "UPDATE audit_log SET customer_id = 'c-innocent' WHERE seq = 37");
    rehash(e->ctx, 37);
    expect_broken(e->ctx, 38, "does not follow row 37");

    for (int64_t s = 38; s <= 60; s++)
        relink(e->ctx, s);
    rep = verify(e->ctx);
    cr_assert(rep.ok, "a full rewrite verifies on its own: %s", rep.problem);
    tl_err err = {0};
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 60, anchor, &rep, &err), 0, "%s", err.msg);
    cr_assert(!rep.ok, "the anchor must catch the rewrite");
    cr_assert_eq(rep.first_bad_seq, 60, "%s", rep.problem);
    cr_assert_not_null(strstr(rep.problem, "anchor"), "%s", rep.problem);
}

/* -------------------------------------------------------------- deleting */

BOTH(a_deleted_row_is_found)
{
    append_ok(e->ctx, 100);
    sql(e->ctx, "DELETE FROM audit_log WHERE seq = 50");
    expect_broken(e->ctx, 50, "row 50 is missing");
}

BOTH(deleted_rows_in_a_run_are_found)
{
    append_ok(e->ctx, 30);
    sql(e->ctx, "DELETE FROM audit_log WHERE seq BETWEEN 10 AND 12");
    expect_broken(e->ctx, 10, "rows 10 to 12 are missing");
}

BOTH(a_deleted_first_row_is_found)
{
    append_ok(e->ctx, 5);
    sql(e->ctx, "DELETE FROM audit_log WHERE seq = 1");
    expect_broken(e->ctx, 1, "row 1 is missing");
}

/* Deleting row 50 and renumbering the rows after it closes the gap, but seq
 * is hashed. */
BOTH(a_deletion_closed_by_renumbering_is_found)
{
    append_ok(e->ctx, 60);
    sql(e->ctx, "DELETE FROM audit_log WHERE seq = 50");
    sql(e->ctx, "UPDATE audit_log SET seq = -seq WHERE seq > 50");
    sql(e->ctx, "UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0");
    expect_broken(e->ctx, 50, "altered");
}

BOTH(a_truncated_tail_is_found_against_the_anchor)
{
    append_ok(e->ctx, 100);
    struct tl_audit_report rep = verify(e->ctx);
    char anchor[65];
    memcpy(anchor, rep.head_hash, sizeof anchor);
    sql(e->ctx, "DELETE FROM audit_log WHERE seq > 90");

    rep = verify(e->ctx);
    cr_assert(rep.ok, "a shorter chain verifies on its own: %s", rep.problem);
    cr_assert_eq(rep.head_seq, 90, "the head moved back to row 90, which the operator sees");

    tl_err err = {0};
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 100, anchor, &rep, &err), 0, "%s", err.msg);
    cr_assert(!rep.ok, "the anchor must catch the truncation");
    cr_assert_eq(rep.first_bad_seq, 91, "%s", rep.problem);
    cr_assert_not_null(strstr(rep.problem, "rows 91 to 100 were deleted"), "%s", rep.problem);

    /* appending again reuses seq 91: a new row cannot carry the old hash */
    append_ok(e->ctx, 15);
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 100, anchor, &rep, &err), 0, "%s", err.msg);
    cr_assert(!rep.ok);
    cr_assert_eq(rep.first_bad_seq, 100, "%s", rep.problem);
}

/* ------------------------------------------------------------- inserting */

/* A row with a hash made the wrong way (no domain tag, plain SHA-256 of the
 * fields), shifted into the middle of the chain. */
BOTH(an_inserted_row_with_a_wrong_hash_is_found)
{
    append_ok(e->ctx, 80);
    struct hashes h;
    read_hashes(e->ctx, &h);
    sql(e->ctx, "UPDATE audit_log SET seq = -seq WHERE seq >= 60");
    sql(e->ctx, "UPDATE audit_log SET seq = -seq + 1 WHERE seq < 0");
    unsigned char d[32];
    char hex[65];
    const char *fields = "au-forged|1700000000000|key-1|customer.read";
    crypto_hash_sha256(d, (const unsigned char *)fields, strlen(fields));
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    tl_value p[] = {TL_TEXT(h.by_seq[59]), TL_TEXT(hex)};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(e->ctx),
                               "INSERT INTO audit_log (id, ts_ms, actor, role, action, seq, prev_hash, hash)"
                               " VALUES ('au-forged', 1700000000000, 'key-1', 'analyst', 'customer.read',"
                               " 60, ?, ?)",
                               2, p, NULL, NULL, &err),
                 0, "%s", err.msg);
    expect_broken(e->ctx, 60, "altered");
}

/* A correctly hashed forged row squeezed in: it verifies, but the row after
 * it was renumbered, and seq is hashed. */
BOTH(an_inserted_row_with_a_correct_hash_is_found)
{
    append_ok(e->ctx, 40);
    struct hashes h;
    read_hashes(e->ctx, &h);
    sql(e->ctx, "UPDATE audit_log SET seq = -seq WHERE seq >= 20");
    sql(e->ctx, "UPDATE audit_log SET seq = -seq + 1 WHERE seq < 0");
    tl_value p[] = {TL_TEXT(h.by_seq[19])};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(e->ctx),
                               "INSERT INTO audit_log (id, ts_ms, actor, role, action, seq, prev_hash, hash)"
                               " VALUES ('au-forged', 1700000000000, 'key-1', 'analyst', 'customer.read',"
                               " 20, ?, 'x')",
                               1, p, NULL, NULL, &err),
                 0, "%s", err.msg);
    rehash(e->ctx, 20);
    expect_broken(e->ctx, 21, "altered");
}

/* A copy of an existing row, hash and all, appended at the end. */
BOTH(a_copied_row_is_found)
{
    append_ok(e->ctx, 20);
    sql(e->ctx, "INSERT INTO audit_log (id, ts_ms, actor, role, action, resource, customer_id,"
                " request_id, subject, model_version, inputs_digest, output, prev_hash, hash, seq)"
                " SELECT 'au-copy', ts_ms, actor, role, action, resource, customer_id, request_id,"
                " subject, model_version, inputs_digest, output, prev_hash, hash, 21"
                " FROM audit_log WHERE seq = 10");
    expect_broken(e->ctx, 21, "altered");
}

BOTH(a_row_outside_the_chain_is_found)
{
    append_ok(e->ctx, 10);
    sql(e->ctx, "INSERT INTO audit_log (id, ts_ms, actor, action, hash)"
                " VALUES ('au-loose', 1700000000000, 'key-1', 'customer.read', 'x')");
    expect_broken(e->ctx, 0, "au-loose");
    sql(e->ctx, "DELETE FROM audit_log WHERE id = 'au-loose'");
    sql(e->ctx, "INSERT INTO audit_log (id, ts_ms, actor, action, hash, seq)"
                " VALUES ('au-zero', 1700000000000, 'key-1', 'customer.read', 'x', 0)");
    expect_broken(e->ctx, 0, "au-zero");
    /* appends go on regardless: the journal keeps working while tampered */
    append_ok(e->ctx, 1);
    expect_broken(e->ctx, 0, "au-zero");
}

BOTH(a_duplicate_seq_is_found_when_the_index_is_dropped)
{
    append_ok(e->ctx, 10);
    sql(e->ctx, "DROP INDEX audit_log_seq");
    sql(e->ctx, "INSERT INTO audit_log (id, ts_ms, actor, role, action, resource, customer_id,"
                " request_id, subject, model_version, inputs_digest, output, prev_hash, hash, seq)"
                " SELECT 'au-dup', ts_ms, actor, role, action, resource, customer_id, request_id,"
                " subject, model_version, inputs_digest, output, prev_hash, hash, seq"
                " FROM audit_log WHERE seq = 4");
    struct tl_audit_report rep = verify(e->ctx);
    cr_assert(!rep.ok);
    cr_assert_eq(rep.first_bad_seq, 4, "%s", rep.problem);
}

/* ----------------------------------------------------------- concurrency */

enum { N_THREADS = 4, N_PROCS = 2, PER_WRITER = 60 };

struct writer {
    const tl_config *cfg;
    int k;
    int rc;
    tl_err err;
};

static void *write_thread(void *arg)
{
    struct writer *w = arg;
    tl_ctx *ctx = NULL;
    w->rc = tl_ctx_open(w->cfg, &ctx, &w->err);
    char actor[32];
    snprintf(actor, sizeof actor, "thread-%d", w->k);
    if (w->rc == 0)
        w->rc = append_n(ctx, PER_WRITER, actor, &w->err);
    tl_ctx_close(ctx);
    return NULL;
}

struct seqs {
    int64_t n, min, max;
};

static int on_seqs(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    (void)n_cols;
    struct seqs *s = ud;
    s->n = cols[0].i;
    s->min = cols[1].i;
    s->max = cols[2].i;
    return 0;
}

BOTH(concurrent_appends_make_one_chain)
{
    /* processes first, while this one has no threads to fork with */
    pid_t pids[N_PROCS];
    int pipes[N_PROCS][2];
    for (int i = 0; i < N_PROCS; i++) {
        cr_assert_eq(pipe(pipes[i]), 0);
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (pids[i] == 0) {
            close(pipes[i][0]);
            tl_config *cfg = tu_config(e->url, e->dir);
            tl_ctx *ctx = NULL;
            tl_err err = {0};
            int rc = tl_ctx_open(cfg, &ctx, &err);
            char actor[32];
            snprintf(actor, sizeof actor, "proc-%d", i);
            if (rc == 0)
                rc = append_n(ctx, PER_WRITER, actor, &err);
            tl_ctx_close(ctx);
            tl_config_free(cfg);
            char msg[600];
            int k = snprintf(msg, sizeof msg, "%d %s", rc, err.msg);
            if (write(pipes[i][1], msg, (size_t)k) < 0)
                _exit(3);
            _exit(0);
        }
        close(pipes[i][1]);
    }
    pthread_t th[N_THREADS];
    struct writer w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (struct writer){.cfg = e->cfg, .k = i};
        cr_assert_eq(pthread_create(&th[i], NULL, write_thread, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].rc, 0, "thread %d: %s", i, w[i].err.msg);
    }
    for (int i = 0; i < N_PROCS; i++) {
        char msg[600] = {0};
        ssize_t k = read(pipes[i][0], msg, sizeof msg - 1);
        close(pipes[i][0]);
        int status = 0;
        waitpid(pids[i], &status, 0);
        cr_assert(k > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d died", i);
        int rc = -1;
        cr_assert_eq(sscanf(msg, "%d", &rc), 1, "process %d: %s", i, msg);
        cr_assert_eq(rc, 0, "process %d: %s", i, msg);
    }

    const int64_t total = (N_THREADS + N_PROCS) * PER_WRITER;
    struct seqs s = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(e->ctx),
                               "SELECT count(DISTINCT seq), min(seq), max(seq) FROM audit_log", 0, NULL,
                               on_seqs, &s, &err),
                 0, "%s", err.msg);
    cr_assert_eq(s.n, total, "%lld distinct seqs for %lld appends", (long long)s.n, (long long)total);
    cr_assert_eq(s.min, 1);
    cr_assert_eq(s.max, total);
    struct tl_audit_report rep = verify(e->ctx);
    cr_assert(rep.ok, "%s", rep.problem);
    cr_assert_eq(rep.rows_checked, (uint64_t)total);
}

/* ------------------------------------------------------- list and input */

struct listed {
    int n;
    int64_t seqs[16];
    char customer[16][16];
};

static int on_entry(void *ud, const struct tl_audit_entry *en)
{
    struct listed *l = ud;
    if (l->n < 16) {
        l->seqs[l->n] = en->seq;
        snprintf(l->customer[l->n], sizeof l->customer[0], "%s", en->customer_id ? en->customer_id : "");
    }
    l->n++;
    return 0;
}

BOTH(list_filters_by_customer_newest_first)
{
    append_ok(e->ctx, 30); /* customers c-0 .. c-6 in turn */
    struct listed l = {0};
    tl_err err = {0};
    cr_assert_eq(tl_audit_list(e->ctx, "c-3", 0, on_entry, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 4, "c-3 was read 4 times in 30 (i = 3, 10, 17, 24)");
    cr_assert_eq(l.seqs[0], 25);
    cr_assert_eq(l.seqs[3], 4);
    for (int i = 0; i < l.n; i++)
        cr_assert_str_eq(l.customer[i], "c-3");
    memset(&l, 0, sizeof l);
    cr_assert_eq(tl_audit_list(e->ctx, NULL, 5, on_entry, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 5);
    cr_assert_eq(l.seqs[0], 30);
    cr_assert_eq(l.seqs[4], 26);
}

static void refused(tl_ctx *ctx, const struct tl_audit_event *ev, const char *word)
{
    tl_err err = {0};
    cr_assert_eq(tl_audit_append(ctx, ev, &err), TL_EINVAL, "accepted; want an error naming %s", word);
    cr_assert_not_null(strstr(err.msg, word), "error \"%s\" does not name %s", err.msg, word);
}

BOTH(bad_events_are_refused_and_change_nothing)
{
    struct tl_audit_event ok = {.actor = "a", .action = "x"};
    struct tl_audit_event ev = ok;
    ev.actor = NULL;
    refused(e->ctx, &ev, "actor");
    ev = ok;
    ev.action = "";
    refused(e->ctx, &ev, "action");
    ev = ok;
    ev.details = "{\"a\":";
    refused(e->ctx, &ev, "details");
    ev = ok;
    ev.customer_id = "c-01234567890123456789012345678901234567890123456789012345678901234";
    refused(e->ctx, &ev, "customer_id");
    ev = ok;
    ev.role = "ana\xff";
    refused(e->ctx, &ev, "role");
    ev = ok;
    ev.inputs_digest = "abc";
    refused(e->ctx, &ev, "inputs_digest");
    tl_err err = {0};
    cr_assert_eq(tl_audit_append(e->ctx, NULL, &err), TL_EINVAL);
    cr_assert_eq(tl_audit_verify(e->ctx, NULL, &err), TL_EINVAL);
    struct tl_audit_report rep;
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 1, "zz", &rep, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "zz"), "%s", err.msg);
    char zeros[65];
    memset(zeros, '0', 64);
    zeros[64] = 0;
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, -1, zeros, &rep, &err), TL_EINVAL);
    zeros[0] = '1';
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 0, zeros, &rep, &err), TL_EINVAL,
                 "anchor 0 is the empty chain's head only");
    zeros[0] = '0';
    cr_assert_eq(tl_audit_verify_anchor(e->ctx, 0, zeros, &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.ok, "%s", rep.problem);

    /* inside the caller's transaction: refused, and the caller's work stands */
    tl_store *s = tl_ctx_store(e->ctx);
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    sql(e->ctx, "INSERT INTO products (id, name, category, risk_level, currency)"
                " VALUES ('p-1', 'P', 'fund', 3, 'EUR')");
    cr_assert_eq(tl_audit_append(e->ctx, &ok, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "transaction"), "%s", err.msg);
    cr_assert_eq(tl_store_commit(s, &err), 0, "the caller's transaction survived: %s", err.msg);
    int64_t n = -1;
    cr_assert_eq(tl_store_count(s, "products", &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(tl_store_count(s, "audit_log", &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 0, "nothing was journaled");
    cr_assert_eq(tl_audit_append(e->ctx, &ok, &err), 0, "%s", err.msg);
    cr_assert(verify(e->ctx).ok);
}

/* ------------------------------------------------------------- batches */

/* n events that differ row by row, so the order can be checked. */
static void batch_events(struct tl_audit_event *evs, char (*cust)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(cust[i], sizeof cust[i], "c-b%zu", i);
        evs[i] = (struct tl_audit_event){.actor = "key-b",
                                         .role = "analyst",
                                         .action = "customer.read",
                                         .resource = "GET /v1/customers/{id}",
                                         .customer_id = cust[i]};
    }
}

/* The length of the chain, which must verify. */
static int64_t chained_rows(tl_ctx *ctx)
{
    struct tl_audit_report rep = verify(ctx);
    cr_assert(rep.ok, "%s", rep.problem);
    cr_assert_eq(rep.rows_checked, (uint64_t)rep.head_seq);
    return rep.head_seq;
}

struct order {
    int64_t next_seq;
    size_t i; /* counts down: tl_audit_list gives the newest first */
    bool ok;
};

static int on_order(void *ud, const struct tl_audit_entry *en)
{
    struct order *o = ud;
    char want[32];
    snprintf(want, sizeof want, "c-b%zu", o->i);
    if (en->seq != o->next_seq || !en->customer_id || strcmp(en->customer_id, want) != 0)
        o->ok = false;
    o->next_seq--;
    o->i--;
    return o->i == (size_t)-1;
}

BOTH(batch_chains_in_order)
{
    append_ok(e->ctx, 3); /* a batch continues an existing chain */
    enum { N = 40 };
    struct tl_audit_event evs[N];
    char cust[N][32];
    batch_events(evs, cust, N);
    tl_err err = {0};
    cr_assert_eq(tl_audit_append_batch(e->ctx, evs, N, &err), 0, "%s", err.msg);
    cr_assert_eq(chained_rows(e->ctx), 3 + N);
    struct order o = {.next_seq = 3 + N, .i = N - 1, .ok = true};
    cr_assert_eq(tl_audit_list(e->ctx, NULL, N, on_order, &o, &err), 0, "%s", err.msg);
    cr_assert(o.ok, "the batch's rows are not in the order of its events");
    /* singles and batches interleave on one chain */
    append_ok(e->ctx, 2);
    cr_assert_eq(tl_audit_append_batch(e->ctx, evs, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_audit_append_batch(e->ctx, evs, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(chained_rows(e->ctx), 3 + N + 3);
    struct hashes h;
    read_hashes(e->ctx, &h);
    cr_assert_eq(h.mismatches, 0, "the documented hash does not match a batch row");
}

BOTH(batch_bad_event_writes_nothing)
{
    append_ok(e->ctx, 2);
    enum { N = 8 };
    struct tl_audit_event evs[N];
    char cust[N][32];
    batch_events(evs, cust, N);
    evs[5].action = ""; /* the sixth is bad: none of the eight is written */
    tl_err err = {0};
    cr_assert_eq(tl_audit_append_batch(e->ctx, evs, N, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "event 6 of 8"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "action"), "%s", err.msg);
    cr_assert_eq(chained_rows(e->ctx), 2);
    cr_assert_eq(tl_audit_append_batch(NULL, evs, 1, &err), TL_EINVAL);
    cr_assert_eq(tl_audit_append_batch(e->ctx, NULL, 1, &err), TL_EINVAL);
    cr_assert_eq(tl_audit_append_batch(e->ctx, evs, TL_AUDIT_BATCH_MAX + 1, &err), TL_EINVAL);
}

BOTH(batch_store_failure_writes_nothing)
{
    append_ok(e->ctx, 2);
    /* A row outside the chain squats on the id the batch's third row (seq 5)
     * needs: the insert fails midway, and the two rows before it must go
     * with it. */
    sql(e->ctx, "INSERT INTO audit_log (id, ts_ms, actor, action, hash)"
                " VALUES ('au-000000000005', 1, 'x', 'y', 'z')");
    enum { N = 6 };
    struct tl_audit_event evs[N];
    char cust[N][32];
    batch_events(evs, cust, N);
    tl_err err = {0};
    int rc = tl_audit_append_batch(e->ctx, evs, N, &err);
    cr_assert_lt(rc, 0, "a batch clashing with a row was written");
    cr_assert_not_null(strstr(err.msg, "batch of 6"), "%s", err.msg);
    int64_t n = -1;
    cr_assert_eq(tl_store_count(tl_ctx_store(e->ctx), "audit_log", &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3, "the batch left %lld rows behind", (long long)(n - 3));
    /* the store is usable again: remove the squatter, and the batch goes in */
    sql(e->ctx, "DELETE FROM audit_log WHERE seq IS NULL");
    cr_assert_eq(tl_audit_append_batch(e->ctx, evs, N, &err), 0, "%s", err.msg);
    cr_assert_eq(chained_rows(e->ctx), 2 + N);
}
