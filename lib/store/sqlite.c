/*
 * sqlite.c - the embedded SQLite backend of the store.
 *
 * One sqlite3 connection per tl_store, in WAL mode so that readers (the
 * server) never block on a writer (an ingest). Statements are prepared once
 * and kept in a small LRU cache keyed by their SQL text; bulk loads go through
 * one prepared INSERT (or upsert) reused for every row inside the caller's
 * transaction, which is the fastest way SQLite offers to take rows in; a load
 * into an empty table also rebuilds its plain indexes once at the end rather
 * than updating them row by row.
 */
#include "internal.h"
#include "core/internal.h"

#include <teller/datetime.h>
#include <teller/err.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Enough for every distinct statement the library issues on one connection;
 * past it the least recently used statement is finalized. */
#define STMT_CACHE_MAX 64
/* Result rows up to this width build their values on the stack. */
#define STACK_COLS 32
/* How long a statement waits for a lock another connection holds. */
#define BUSY_TIMEOUT_MS 5000

/* Page cache during a bulk load, in KiB (negative: KiB for PRAGMA cache_size).
 * Index pages of a million-row table stay in memory instead of spilling to
 * the WAL mid-transaction. */
#define LOAD_CACHE_KIB 262144

struct cached_stmt {
    char *sql;
    uint64_t hash;
    sqlite3_stmt *st;
    uint64_t last_used;
    bool busy; /* being stepped by an exec further up the stack */
};

struct sq {
    sqlite3 *db;
    struct cached_stmt cache[STMT_CACHE_MAX];
    size_t n_cache;
    uint64_t tick;
    int64_t busy_since_ns; /* when the current wait for a lock began */
};

/* Waits for a lock another connection holds. SQLite's own busy_timeout
 * sleeps 1, 2, 5, 10, ... up to 100 ms between tries: right for rare
 * contention, but a server whose workers each commit a small write (a fraud
 * decision, an audit batch) holds the lock for tens of microseconds at a
 * time, and a 25 ms nap then becomes the request's whole latency. So: short
 * sleeps first (20 us, doubling), never more than 1 ms, for at most
 * BUSY_TIMEOUT_MS in all. */
static int busy_wait(void *ud, int n)
{
    struct sq *q = ud;
    int64_t now = tl_time_mono_ns();
    if (n == 0)
        q->busy_since_ns = now;
    if (now - q->busy_since_ns >= (int64_t)BUSY_TIMEOUT_MS * 1000000)
        return 0;
    long us = n < 6 ? 20L << n : 1000;
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

struct sq_loader {
    tl_store *s;
    struct sq *q;
    const struct tl_table_spec *t;
    sqlite3_stmt *st;
    int64_t saved_cache_size;
    uint64_t n_rows;
    /* CREATE INDEX statements of the plain indexes set aside for a load into
     * an empty table, inside the savepoint tl_bulk_load. */
    char **restore;
    size_t n_restore;
    bool in_savepoint;
};

static struct sq *sq_of(tl_store *s)
{
    return s->impl;
}

/* SQL quoted in errors is cut short: a sentence, not a dump. */
#define SQL_SHOWN 120

static int code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return TL_ECONSTRAINT;
    case SQLITE_NOMEM:
        return TL_ENOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        return TL_EIO;
    case SQLITE_TOOBIG:
        return TL_ETOOBIG;
    default:
        return TL_ESTORE;
    }
}

static int sq_fail(tl_store *s, int rc, const char *what, const char *sql, tl_err *err)
{
    struct sq *q = sq_of(s);
    return tl_err_set(err, code_of(rc), "sqlite: %s \"%.*s%s\" failed: %s", what, SQL_SHOWN, sql,
                      strlen(sql) > SQL_SHOWN ? "..." : "",
                      q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
}

/* ------------------------------------------------------------- open, close */

static int sq_open(tl_store *s, const char *target, tl_err *err)
{
    struct sq *q = calloc(1, sizeof *q);
    if (!q)
        return tl_err_set(err, TL_ENOMEM, "out of memory opening SQLite database '%.200s'", target);
    /* NOMUTEX: a tl_store is used by one thread at a time (store.h), so
     * SQLite's per-connection mutex would only cost time. */
    int rc = sqlite3_open_v2(
        target, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int code = tl_err_set(err, code_of(rc), "cannot open SQLite database '%.200s': %s", target,
                              q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(q->db);
        free(q);
        return code;
    }
    sqlite3_extended_result_codes(q->db, 1);
    /* The busy timeout comes first: reading the schema and switching to WAL
     * need locks that a concurrent process (a second `teller init`) may hold. */
    sqlite3_busy_handler(q->db, busy_wait, q);
    static const char *const pragmas[] = {
        "PRAGMA journal_mode=WAL",
        /* In WAL mode NORMAL loses no committed data on a process crash and
         * only the last commits on power loss, at a fraction of FULL's fsyncs. */
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA temp_store=MEMORY",
    };
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        char *msg = NULL;
        rc = sqlite3_exec(q->db, pragmas[i], NULL, NULL, &msg);
        /* Switching a new file to WAL while another process does the same
         * can fail with SQLITE_BUSY at once, without the busy handler being
         * consulted; retry for as long as busy_timeout would have waited. */
        for (int waited_ms = 0; (rc & 0xff) == SQLITE_BUSY && waited_ms < BUSY_TIMEOUT_MS; waited_ms += 10) {
            sqlite3_free(msg);
            msg = NULL;
            sqlite3_sleep(10);
            rc = sqlite3_exec(q->db, pragmas[i], NULL, NULL, &msg);
        }
        if (rc != SQLITE_OK) {
            int code = tl_err_set(err, code_of(rc), "cannot open SQLite database '%.200s': %s: %s",
                                  target, pragmas[i], msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            sqlite3_close_v2(q->db);
            free(q);
            return code;
        }
    }
    s->impl = q;
    return 0;
}

static void sq_close(tl_store *s)
{
    struct sq *q = sq_of(s);
    if (!q)
        return;
    for (size_t i = 0; i < q->n_cache; i++) {
        sqlite3_finalize(q->cache[i].st);
        free(q->cache[i].sql);
    }
    sqlite3_close_v2(q->db);
    free(q);
    s->impl = NULL;
}

/* ------------------------------------------------------- statement cache */

static bool only_space(const char *p)
{
    for (; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ';')
            return false;
    return true;
}

static int prepare(tl_store *s, const char *sql, sqlite3_stmt **out, tl_err *err)
{
    struct sq *q = sq_of(s);
    const char *tail = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "preparing", sql, err);
    if (!st)
        return tl_err_set(err, TL_EINVAL, "sqlite: the SQL \"%.*s\" holds no statement", SQL_SHOWN,
                          sql);
    if (tail && !only_space(tail)) {
        sqlite3_finalize(st);
        return tl_err_set(err, TL_EINVAL,
                          "sqlite: tl_store_exec runs one statement, but \"%.*s\" holds more",
                          SQL_SHOWN, sql);
    }
    *out = st;
    return 0;
}

/* Returns the cached statement for sql, preparing it on a miss. *entry is the
 * cache slot to mark busy, or NULL for a one-off statement (the cached one is
 * already being stepped further up the stack) that the caller finalizes. */
static int get_stmt(tl_store *s, const char *sql, sqlite3_stmt **out, struct cached_stmt **entry,
                    tl_err *err)
{
    struct sq *q = sq_of(s);
    uint64_t h = tl__hash_bytes(sql, strlen(sql));
    *entry = NULL;
    for (size_t i = 0; i < q->n_cache; i++) {
        struct cached_stmt *c = &q->cache[i];
        if (c->hash == h && strcmp(c->sql, sql) == 0) {
            if (c->busy)
                return prepare(s, sql, out, err);
            c->last_used = ++q->tick;
            *out = c->st;
            *entry = c;
            return 0;
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, sql, &st, err);
    if (rc < 0)
        return rc;
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(st);
        return tl_err_set(err, TL_ENOMEM, "out of memory caching a statement");
    }
    struct cached_stmt *slot = NULL;
    if (q->n_cache < STMT_CACHE_MAX) {
        slot = &q->cache[q->n_cache++];
    } else {
        for (size_t i = 0; i < q->n_cache; i++)
            if (!q->cache[i].busy && (!slot || q->cache[i].last_used < slot->last_used))
                slot = &q->cache[i];
        if (!slot) { /* every slot busy: absurd nesting; run uncached */
            free(copy);
            *out = st;
            return 0;
        }
        sqlite3_finalize(slot->st);
        free(slot->sql);
    }
    *slot = (struct cached_stmt){.sql = copy, .hash = h, .st = st, .last_used = ++q->tick};
    *out = st;
    *entry = slot;
    return 0;
}

/* ------------------------------------------------------------------ exec */

/* Binds one value. Text and blobs are SQLITE_STATIC: the caller's buffers
 * outlive the statement's steps, which all happen inside this call. */
static int bind_value(sqlite3_stmt *st, int idx, const tl_value *v)
{
    switch (v->type) {
    case TL_VAL_NULL:
        return sqlite3_bind_null(st, idx);
    case TL_VAL_INT:
        return sqlite3_bind_int64(st, idx, v->i);
    case TL_VAL_REAL:
        return sqlite3_bind_double(st, idx, v->d);
    case TL_VAL_TEXT:
        /* a NULL pointer would bind SQL NULL, not the empty string */
        return sqlite3_bind_text64(st, idx, v->s ? v->s : "", v->len, SQLITE_STATIC, SQLITE_UTF8);
    case TL_VAL_BLOB:
        return sqlite3_bind_blob64(st, idx, v->s ? v->s : "", v->len, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

static void column_value(sqlite3_stmt *st, int i, tl_value *v)
{
    *v = (tl_value){.type = TL_VAL_NULL};
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        v->type = TL_VAL_INT;
        v->i = sqlite3_column_int64(st, i);
        break;
    case SQLITE_FLOAT:
        v->type = TL_VAL_REAL;
        v->d = sqlite3_column_double(st, i);
        break;
    case SQLITE_TEXT:
        v->type = TL_VAL_TEXT;
        v->s = (const char *)sqlite3_column_text(st, i);
        v->len = (size_t)sqlite3_column_bytes(st, i);
        if (!v->s) /* only on OOM; surface it as an empty string rather than crash */
            v->s = "";
        break;
    case SQLITE_BLOB:
        v->type = TL_VAL_BLOB;
        v->s = sqlite3_column_blob(st, i);
        v->len = (size_t)sqlite3_column_bytes(st, i);
        if (!v->s)
            v->s = "";
        break;
    default:
        break;
    }
}

static int run(tl_store *s, sqlite3_stmt *st, const char *sql, size_t n_params,
               const tl_value *params, tl_row_fn fn, void *ud, tl_err *err)
{
    struct sq *q = sq_of(s);
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != n_params)
        return tl_err_set(
            err, TL_EINVAL,
            "sqlite: the SQL \"%.*s\" has %d placeholders but %zu parameters were given", SQL_SHOWN,
            sql, want, n_params);
    for (size_t i = 0; i < n_params; i++) {
        int rc = bind_value(st, (int)i + 1, &params[i]);
        if (rc != SQLITE_OK) {
            int code = sq_fail(s, rc, "binding a parameter of", sql, err);
            sqlite3_clear_bindings(st);
            return code;
        }
    }

    int n_cols = sqlite3_column_count(st);
    tl_value stack_vals[STACK_COLS];
    const char *stack_names[STACK_COLS];
    tl_value *vals = stack_vals;
    const char **names = stack_names;
    if (fn && n_cols > STACK_COLS) {
        vals = malloc((size_t)n_cols * sizeof *vals);
        names = malloc((size_t)n_cols * sizeof *names);
        if (!vals || !names) {
            free(vals == stack_vals ? NULL : vals);
            free(names == stack_names ? NULL : names);
            sqlite3_clear_bindings(st);
            return tl_err_set(err, TL_ENOMEM, "out of memory for a %d-column result", n_cols);
        }
    }
    if (fn)
        for (int i = 0; i < n_cols; i++)
            names[i] = sqlite3_column_name(st, i);

    int64_t before = sqlite3_total_changes64(q->db);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!fn)
            continue;
        for (int i = 0; i < n_cols; i++)
            column_value(st, i, &vals[i]);
        if (fn(ud, (size_t)n_cols, vals, names))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = sq_fail(s, rc, "running", sql, err);
    /* total_changes moves only for INSERT/UPDATE/DELETE, so a SELECT or DDL
     * after a write does not report that write's count again. */
    s->changes = sqlite3_total_changes64(q->db) != before ? sqlite3_changes64(q->db) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (vals != stack_vals)
        free(vals);
    if (names != stack_names)
        free(names);
    return ret;
}

static int sq_exec(tl_store *s, const char *sql, size_t n_params, const tl_value *params,
                   tl_row_fn fn, void *ud, tl_err *err)
{
    sqlite3_stmt *st = NULL;
    struct cached_stmt *entry = NULL;
    int rc = get_stmt(s, sql, &st, &entry, err);
    if (rc < 0)
        return rc;
    if (entry)
        entry->busy = true;
    rc = run(s, st, sql, n_params, params, fn, ud, err);
    if (entry)
        entry->busy = false;
    else
        sqlite3_finalize(st);
    return rc;
}

static int sq_exec_script(tl_store *s, const char *sql, tl_err *err)
{
    struct sq *q = sq_of(s);
    char *msg = NULL;
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
    s->changes = 0;
    if (rc != SQLITE_OK) {
        int code = tl_err_set(err, code_of(rc), "sqlite: running the script \"%.*s%s\" failed: %s",
                              SQL_SHOWN, sql, strlen(sql) > SQL_SHOWN ? "..." : "",
                              msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

/* ------------------------------------------------------ WAL checkpoints */

/* SQLite copies the WAL into the database inside the commit that takes it
 * past 1000 pages; a connection that commits all the time (the server's
 * audit writer) hands that job to another one instead. */
static int sq_set_autocheckpoint(tl_store *s, bool on, tl_err *err)
{
    return sq_exec_script(s, on ? "PRAGMA wal_autocheckpoint=1000" : "PRAGMA wal_autocheckpoint=0",
                          err);
}

/* PASSIVE copies the log into the database without waiting for anyone:
 * the long part, done while the writer goes on. The log cannot be reused
 * while readers still look at its frames, though, and with readers always
 * busy it would grow without end; so once it holds RESTART_FRAMES, RESTART
 * copies the few frames written meanwhile and waits (briefly: read
 * transactions are short) until every reader has moved to the database
 * file, and the next commit starts the log from its beginning again. New
 * writers wait during that step, so it is kept rare. */
#define RESTART_FRAMES 16384 /* 64 MiB of 4 KiB pages */
/* The wait of the RESTART step: while it waits new writers wait too, so it
 * polls every 50 us for at most 2 ms rather than sleeping in the growing
 * steps of the ordinary busy timeout; giving up is fine, the next
 * checkpoint tries again. */
static int restart_busy(void *ud, int count)
{
    (void)ud;
    if (count >= 40)
        return 0;
    struct timespec t = {.tv_nsec = 50 * 1000};
    nanosleep(&t, NULL);
    return 1;
}

static int sq_checkpoint(tl_store *s, tl_err *err)
{
    struct sq *q = sq_of(s);
    int n_log = 0;
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, NULL);
    if (rc == SQLITE_OK && n_log >= RESTART_FRAMES) {
        sqlite3_busy_handler(q->db, restart_busy, NULL);
        rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        sqlite3_busy_handler(q->db, busy_wait, q);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return tl_err_set(err, code_of(rc), "sqlite: checkpoint failed: %s", sqlite3_errmsg(q->db));
    return 0;
}

/* --------------------------------------------------------------- loader */

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void free_restore(struct sq_loader *ld)
{
    for (size_t i = 0; i < ld->n_restore; i++)
        sqlite3_free(ld->restore[i]);
    free(ld->restore);
    ld->restore = NULL;
    ld->n_restore = 0;
}

/*
 * For a load into an empty table: drops the table's plain indexes (not the
 * ones behind PRIMARY KEY or UNIQUE) inside a savepoint, for load_end to
 * rebuild. Inserting a million rows into an index on (account_id, ts_ms)
 * lands each at a random place; building it afterwards is one sort, and
 * takes about a third off the whole load. Readers are not affected: in WAL
 * mode they keep reading the last commit, index included. load_end(ok=false)
 * rolls back to the savepoint, so the indexes come back whatever the caller
 * does next. Anything that goes wrong here only means loading with the
 * indexes in place.
 */
static void set_aside_indexes(struct sq_loader *ld)
{
    sqlite3 *db = ld->q->db;
    if (sqlite3_get_autocommit(db)) /* not inside the caller's transaction */
        return;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT m.name, m.sql FROM pragma_index_list(?1) AS l"
                           " JOIN sqlite_master AS m ON m.type = 'index' AND m.name = l.name"
                           " WHERE l.origin = 'c' AND l.\"unique\" = 0 AND m.sql IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_bind_text(st, 1, ld->t->name, -1, SQLITE_STATIC);
    /* Collected first: an index cannot be dropped while this query still
     * reads the schema. */
    char *drops[16];
    size_t n_drops = 0;
    bool ok = true;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *sql = (const char *)sqlite3_column_text(st, 1);
        char **grown = realloc(ld->restore, (ld->n_restore + 1) * sizeof *grown);
        char *copy = sql ? sqlite3_mprintf("%s", sql) : NULL;
        char *drop = name ? sqlite3_mprintf("DROP INDEX \"%w\"", name) : NULL;
        if (grown)
            ld->restore = grown;
        ok = grown && copy && drop && n_drops < sizeof drops / sizeof drops[0];
        if (ok) {
            ld->restore[ld->n_restore++] = copy;
            drops[n_drops++] = drop;
        } else {
            sqlite3_free(copy);
            sqlite3_free(drop);
        }
    }
    sqlite3_finalize(st);
    if (ok && n_drops) {
        ok = sqlite3_exec(db, "SAVEPOINT tl_bulk_load", NULL, NULL, NULL) == SQLITE_OK;
        ld->in_savepoint = ok;
    }
    for (size_t i = 0; i < n_drops; i++) {
        ok = ok && sqlite3_exec(db, drops[i], NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_free(drops[i]);
    }
    if (!ok && ld->in_savepoint) {
        sqlite3_exec(db, "ROLLBACK TO tl_bulk_load; RELEASE tl_bulk_load", NULL, NULL, NULL);
        ld->in_savepoint = false;
    }
    if (!ok)
        free_restore(ld);
}

static int sq_load_begin(tl_store *s, const struct tl_table_spec *t, bool table_empty,
                         struct tl_store_loader **out, tl_err *err)
{
    struct sq *q = sq_of(s);
    /* Column names come from schema.h, never from input, so building the SQL
     * by hand cannot inject anything. */
    size_t cap = 64 + 2 * strlen(t->name);
    for (size_t c = 0; c < t->n_columns; c++)
        cap += 2 * strlen(tl_schema_db_name(&t->columns[c])) + 32;
    char *sql = malloc(cap);
    struct sq_loader *ld = calloc(1, sizeof *ld);
    if (!sql || !ld) {
        free(sql);
        free(ld);
        return tl_err_set(err, TL_ENOMEM, "out of memory starting a load into %s", t->name);
    }
    size_t k = (size_t)snprintf(sql, cap, "INSERT INTO %s (", t->name);
    for (size_t c = 0; c < t->n_columns; c++)
        k += (size_t)snprintf(sql + k, cap - k, "%s%s", c ? ", " : "",
                              tl_schema_db_name(&t->columns[c]));
    k += (size_t)snprintf(sql + k, cap - k, ") VALUES (");
    for (size_t c = 0; c < t->n_columns; c++)
        k += (size_t)snprintf(sql + k, cap - k, "%s", c ? ", ?" : "?");
    k += (size_t)snprintf(sql + k, cap - k, ")");
    if (!table_empty && t->n_columns > 1) {
        k += (size_t)snprintf(sql + k, cap - k, " ON CONFLICT (id) DO UPDATE SET ");
        bool first = true;
        for (size_t c = 1; c < t->n_columns; c++) {
            if (!tl__load_updates(t, &t->columns[c]))
                continue;
            const char *n = tl_schema_db_name(&t->columns[c]);
            k += (size_t)snprintf(sql + k, cap - k, "%s%s = excluded.%s", first ? "" : ", ", n, n);
            first = false;
        }
    } else if (!table_empty) {
        k += (size_t)snprintf(sql + k, cap - k, " ON CONFLICT (id) DO NOTHING");
    }

    ld->s = s;
    ld->q = q;
    ld->t = t;
    if (table_empty)
        set_aside_indexes(ld);

    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        int code = tl_err_set(err, code_of(rc), "sqlite: preparing the load into %s failed: %s",
                              t->name, sqlite3_errmsg(q->db));
        if (ld->in_savepoint)
            sqlite3_exec(q->db, "ROLLBACK TO tl_bulk_load; RELEASE tl_bulk_load", NULL, NULL, NULL);
        free_restore(ld);
        free(sql);
        free(ld);
        return code;
    }
    free(sql);
    ld->st = st;
    ld->saved_cache_size = pragma_int(q->db, "PRAGMA cache_size");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d", LOAD_CACHE_KIB);
    sqlite3_exec(q->db, pragma, NULL, NULL, NULL); /* a hint: a failure only costs speed */
    *out = (struct tl_store_loader *)ld;
    return 0;
}

static int sq_load_rows(struct tl_store_loader *handle, size_t n_rows, const tl_value *vals,
                        tl_err *err)
{
    struct sq_loader *ld = (struct sq_loader *)handle;
    const size_t nc = ld->t->n_columns;
    sqlite3_stmt *st = ld->st;
    for (size_t r = 0; r < n_rows; r++) {
        const tl_value *row = vals + r * nc;
        /* Every column is bound on every row, so the previous row's bindings
         * never leak through and clear_bindings is not needed. */
        for (size_t c = 0; c < nc; c++) {
            int rc = bind_value(st, (int)c + 1, &row[c]);
            if (rc != SQLITE_OK)
                return tl_err_set(
                    err, code_of(rc), "sqlite: binding column %s of row %llu for %s: %s",
                    tl_schema_db_name(&ld->t->columns[c]), (unsigned long long)(ld->n_rows + r + 1),
                    ld->t->name, sqlite3_errmsg(ld->q->db));
        }
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            const tl_value *id = &row[0];
            bool has_id = id->type == TL_VAL_TEXT && id->s;
            int code =
                tl_err_set(err, code_of(rc), "sqlite: loading %s row %llu (id '%.*s') failed: %s",
                           ld->t->name, (unsigned long long)(ld->n_rows + r + 1),
                           has_id ? (int)(id->len > 64 ? 64 : id->len) : 0, has_id ? id->s : "",
                           sqlite3_errmsg(ld->q->db));
            sqlite3_reset(st);
            return code;
        }
        sqlite3_reset(st);
    }
    ld->n_rows += n_rows;
    return 0;
}

/* The rows are already in the caller's transaction: what is left is to
 * rebuild any indexes set aside, or to undo them with the rows on failure. */
static int sq_load_end(struct tl_store_loader *handle, bool ok, tl_err *err)
{
    struct sq_loader *ld = (struct sq_loader *)handle;
    if (!ld)
        return 0;
    sqlite3 *db = ld->q->db;
    sqlite3_finalize(ld->st);
    int rc = 0;
    for (size_t i = 0; ok && rc == 0 && i < ld->n_restore; i++) {
        char *msg = NULL;
        int src = sqlite3_exec(db, ld->restore[i], NULL, NULL, &msg);
        if (src != SQLITE_OK)
            rc = tl_err_set(err, code_of(src), "sqlite: rebuilding an index of %s failed: %s",
                            ld->t->name, msg ? msg : sqlite3_errstr(src));
        sqlite3_free(msg);
    }
    if (ld->in_savepoint) {
        if (ok && rc == 0) {
            int src = sqlite3_exec(db, "RELEASE tl_bulk_load", NULL, NULL, NULL);
            if (src != SQLITE_OK)
                rc = tl_err_set(err, code_of(src), "sqlite: finishing the load into %s failed: %s",
                                ld->t->name, sqlite3_errmsg(db));
        }
        if (!ok || rc < 0)
            sqlite3_exec(db, "ROLLBACK TO tl_bulk_load; RELEASE tl_bulk_load", NULL, NULL, NULL);
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=%lld", (long long)ld->saved_cache_size);
    sqlite3_exec(db, pragma, NULL, NULL, NULL);
    free_restore(ld);
    free(ld);
    return rc;
}

const struct tl_store_ops tl__store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .load_begin = sq_load_begin,
    .load_rows = sq_load_rows,
    .load_end = sq_load_end,
    .set_autocheckpoint = sq_set_autocheckpoint,
    .checkpoint = sq_checkpoint,
};
