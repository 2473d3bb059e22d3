/*
 * store.c - the backend-neutral half of the store: URL dispatch, migrations
 * bookkeeping, transactions, counts and the cross-backend checksum.
 *
 * Everything here speaks through struct tl_store_ops. The few places where
 * the two engines need different SQL (taking the migration lock, asking
 * whether a table exists, byte-wise ordering) are kept together in
 * struct dialect below so that they are visible in one screen.
 */
#include "internal.h"

#include <teller/datetime.h>
#include <teller/err.h>

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- dialects */

struct dialect {
    const struct tl_store_ops *ops;
    /* Opens a write transaction that also serializes concurrent migrators. */
    const char *begin_sql;
    /* Run right after begin_sql in tl_store_migrate (NULL: none needed). */
    const char *migrate_lock_sql;
    /* One row, one integer column: 1 when schema_migrations exists. */
    const char *has_migrations_sql;
    /* Appended to "ORDER BY id" so both engines sort ids byte-wise. */
    const char *bytewise;
};

/* 'teller' in ASCII: an arbitrary but recognisable advisory-lock key, so an
 * operator reading pg_locks can tell whose lock it is. */
#define MIGRATE_LOCK_KEY "127970252613234"

static const struct dialect dialects[] = {
    {
        .ops = &tl__store_sqlite_ops,
        /* IMMEDIATE takes the write lock up front: a deferred transaction
         * that later upgrades can fail with SQLITE_BUSY without waiting for
         * busy_timeout, and BEGIN IMMEDIATE is also what keeps two
         * `teller init` processes from applying the same migration. */
        .begin_sql = "BEGIN IMMEDIATE",
        .migrate_lock_sql = NULL,
        .has_migrations_sql = "SELECT count(*) FROM sqlite_master"
                              " WHERE type = 'table' AND name = 'schema_migrations'",
        .bytewise = "", /* BINARY, SQLite's default collation, is memcmp */
    },
    {
        .ops = &tl__store_postgres_ops,
        .begin_sql = "BEGIN",
        /* A transaction-scoped advisory lock is released by COMMIT or
         * ROLLBACK, so a migrator that dies cannot leave it held. */
        .migrate_lock_sql = "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
        .has_migrations_sql =
            "SELECT count(*) FROM pg_catalog.pg_tables"
            " WHERE schemaname = current_schema() AND tablename = 'schema_migrations'",
        /* The database collation may be a linguistic one (en_US.UTF-8). */
        .bytewise = " COLLATE \"C\"",
    },
};

static const struct dialect *dialect_of(const tl_store *s)
{
    for (size_t i = 0; i < sizeof dialects / sizeof dialects[0]; i++)
        if (dialects[i].ops == s->ops)
            return &dialects[i];
    return NULL;
}

/* ------------------------------------------------------------ open, close */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* True when url starts with "scheme:" (RFC 3986 scheme characters) before any
 * '/', which is how a URL for an unknown backend is told from a file path. */
static bool looks_like_scheme(const char *url)
{
    const char *p = url;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    for (p++; *p && *p != ':'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return *p == ':';
}

/* Copies url into out with any password in its user-info replaced by "***",
 * so that error messages can name the URL without leaking a secret. */
static void redact_url(const char *url, char *out, size_t size)
{
    snprintf(out, size, "%s", url);
    char *scheme_end = strstr(out, "://");
    if (!scheme_end)
        return;
    char *auth = scheme_end + 3;
    char *at = strchr(auth, '@');
    char *slash = strchr(auth, '/');
    if (!at || (slash && slash < at))
        return;
    char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon)
        return;
    char tail[256];
    snprintf(tail, sizeof tail, "%s", at);
    snprintf(colon, size - (size_t)(colon - out), ":***%s", tail);
}

int tl_store_open(const char *url, tl_store **out, tl_err *err)
{
    if (!out)
        return tl_err_set(err, TL_EINVAL, "tl_store_open: no output pointer was given");
    if (!url || !*url)
        return tl_err_set(
            err, TL_EINVAL,
            "store URL is empty; expected sqlite:PATH, a file path or postgres://...");

    const struct tl_store_ops *ops;
    const char *target;
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        ops = &tl__store_postgres_ops;
        target = url; /* libpq parses the whole URL itself */
    } else if (has_prefix(url, "sqlite:")) {
        ops = &tl__store_sqlite_ops;
        target = url + strlen("sqlite:");
        /* sqlite:///abs/path and sqlite://rel/path are common spellings */
        if (has_prefix(target, "//"))
            target += 2;
    } else if (looks_like_scheme(url)) {
        char shown[256];
        redact_url(url, shown, sizeof shown);
        return tl_err_set(err, TL_EINVAL,
                          "store URL '%s' has an unknown scheme; expected sqlite:PATH, "
                          "a file path, postgres:// or postgresql://",
                          shown);
    } else {
        ops = &tl__store_sqlite_ops;
        target = url;
    }
    if (!*target)
        return tl_err_set(err, TL_EINVAL, "store URL '%.200s' names no database file", url);

    tl_store *s = calloc(1, sizeof *s);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "out of memory opening store '%.200s'", url);
    s->ops = ops;
    int rc = ops->open(s, target, err);
    if (rc < 0) {
        /* the SQLite backend names its file; libpq's messages do not name
         * the server, and the URL may carry a password */
        if (ops == &tl__store_postgres_ops) {
            char shown[256];
            redact_url(url, shown, sizeof shown);
            tl_err_prefix(err, "store '%s'", shown);
        }
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void tl_store_close(tl_store *s)
{
    if (!s)
        return;
    if (s->in_tx)
        (void)tl_store_rollback(s, NULL);
    s->ops->close(s);
    free(s);
}

void tl_store_set_keyring(tl_store *s, const struct tl_keyring *kr)
{
    if (s)
        s->keyring = kr;
}

const char *tl_store_backend(const tl_store *s)
{
    return s ? s->ops->name : "none";
}

/* -------------------------------------------------------------- exec, tx */

int tl_store_exec(tl_store *s, const char *sql, size_t n_params, const tl_value *params,
                  tl_row_fn fn, void *ud, tl_err *err)
{
    if (!s || !sql)
        return tl_err_set(err, TL_EINVAL, "tl_store_exec: no store or no SQL was given");
    if (n_params && !params)
        return tl_err_set(err, TL_EINVAL, "tl_store_exec: %zu parameters announced but none given",
                          n_params);
    return s->ops->exec(s, sql, n_params, params, fn, ud, err);
}

int64_t tl_store_changes(tl_store *s)
{
    return s ? s->changes : 0;
}

int tl_store_begin(tl_store *s, tl_err *err)
{
    if (!s)
        return tl_err_set(err, TL_EINVAL, "tl_store_begin: no store was given");
    if (s->in_tx)
        return tl_err_set(err, TL_EINVAL,
                          "cannot begin a transaction on the %s store: one is already open "
                          "(transactions do not nest)",
                          s->ops->name);
    const struct dialect *d = dialect_of(s);
    if (!TL_ALWAYS(d))
        return tl_err_set(err, TL_EINTERNAL, "store backend '%s' has no dialect", s->ops->name);
    int rc = s->ops->exec(s, d->begin_sql, 0, NULL, NULL, NULL, err);
    if (rc < 0)
        return rc;
    s->in_tx = true;
    return 0;
}

int tl_store_set_autocheckpoint(tl_store *s, bool on, tl_err *err)
{
    if (!s)
        return tl_err_set(err, TL_EINVAL, "tl_store_set_autocheckpoint: no store was given");
    return s->ops->set_autocheckpoint ? s->ops->set_autocheckpoint(s, on, err) : 0;
}

int tl_store_checkpoint(tl_store *s, tl_err *err)
{
    if (!s)
        return tl_err_set(err, TL_EINVAL, "tl_store_checkpoint: no store was given");
    return s->ops->checkpoint ? s->ops->checkpoint(s, err) : 0;
}

int tl_store_commit(tl_store *s, tl_err *err)
{
    if (!s)
        return tl_err_set(err, TL_EINVAL, "tl_store_commit: no store was given");
    if (!s->in_tx)
        return tl_err_set(err, TL_EINVAL, "cannot commit on the %s store: no transaction is open",
                          s->ops->name);
    int rc = s->ops->exec(s, "COMMIT", 0, NULL, NULL, NULL, err);
    if (rc < 0) {
        /* A commit that failed leaves nothing worth keeping: roll back here
         * so that the store is in a known state and a caller's cleanup
         * rollback (a no-op now) cannot overwrite this error message. */
        (void)s->ops->exec(s, "ROLLBACK", 0, NULL, NULL, NULL, NULL);
        s->in_tx = false;
        return rc;
    }
    s->in_tx = false;
    return 0;
}

/* Rolling back when no transaction is open succeeds and leaves err alone:
 * it is what cleanup paths do after a failed commit (which already rolled
 * back), and reporting it would bury the error that led there. */
int tl_store_rollback(tl_store *s, tl_err *err)
{
    if (!s)
        return tl_err_set(err, TL_EINVAL, "tl_store_rollback: no store was given");
    if (!s->in_tx)
        return 0;
    s->in_tx = false;
    return s->ops->exec(s, "ROLLBACK", 0, NULL, NULL, NULL, err);
}

/* ------------------------------------------------------------ migrations */

int tl_store_latest_version(void)
{
    return tl__n_migrations ? tl__migrations[tl__n_migrations - 1].version : 0;
}

static int on_int(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    int64_t *v = ud;
    if (n_cols >= 1 && cols[0].type == TL_VAL_INT)
        *v = cols[0].i;
    return 0;
}

static int query_int(tl_store *s, const char *sql, int64_t *v, tl_err *err)
{
    *v = 0;
    return s->ops->exec(s, sql, 0, NULL, on_int, v, err);
}

int tl_store_schema_version(tl_store *s, int *version, tl_err *err)
{
    if (!s || !version)
        return tl_err_set(err, TL_EINVAL,
                          "tl_store_schema_version: no store or no output was given");
    const struct dialect *d = dialect_of(s);
    if (!TL_ALWAYS(d))
        return tl_err_set(err, TL_EINTERNAL, "store backend '%s' has no dialect", s->ops->name);
    int64_t exists = 0, v = 0;
    int rc = query_int(s, d->has_migrations_sql, &exists, err);
    if (rc < 0)
        return rc;
    if (exists) {
        rc = query_int(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", &v, err);
        if (rc < 0)
            return rc;
    }
    *version = (int)v;
    return 0;
}

/* Applies the next pending migration, if any, in one transaction. *did is set
 * to the version applied, or 0 when the store was already current. The check
 * of the current version happens after the lock is taken, so a second
 * process that waited on it sees the first one's work and applies nothing. */
static int migrate_step(tl_store *s, const struct dialect *d, int *did, tl_err *err)
{
    *did = 0;
    int rc = tl_store_begin(s, err);
    if (rc < 0) {
        tl_err_prefix(err, "migrate");
        return rc;
    }
    if (d->migrate_lock_sql &&
        (rc = s->ops->exec(s, d->migrate_lock_sql, 0, NULL, NULL, NULL, err)) < 0)
        goto fail;
    rc = s->ops->exec_script(s,
                             "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             "version INTEGER PRIMARY KEY, name TEXT, applied_ms BIGINT)",
                             err);
    if (rc < 0)
        goto fail;
    int64_t current = 0;
    if ((rc = query_int(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", &current,
                        err)) < 0)
        goto fail;
    if (current > tl_store_latest_version()) {
        rc = tl_err_set(err, TL_EUNSUPPORTED,
                        "the store is at schema version %lld, newer than the version %d this "
                        "build of teller knows; upgrade teller",
                        (long long)current, tl_store_latest_version());
        goto fail;
    }
    const struct tl_migration *m = NULL;
    for (size_t i = 0; i < tl__n_migrations; i++) {
        if (tl__migrations[i].version > current) {
            m = &tl__migrations[i];
            break;
        }
    }
    if (m) {
        if ((rc = s->ops->exec_script(s, m->sql, err)) < 0) {
            tl_err_prefix(err, "migration %d (%s)", m->version, m->name);
            goto fail;
        }
        tl_value p[] = {TL_INT(m->version), TL_TEXT(m->name), TL_INT(tl_time_now_ms())};
        rc = s->ops->exec(
            s, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)", 3, p,
            NULL, NULL, err);
        if (rc < 0)
            goto fail;
    }
    if ((rc = tl_store_commit(s, err)) < 0) {
        tl_err_prefix(err, "migrate");
        return rc;
    }
    *did = m ? m->version : 0;
    return 0;
fail:
    (void)tl_store_rollback(s, NULL);
    return rc;
}

int tl_store_migrate(tl_store *s, int *applied, tl_err *err)
{
    if (!s)
        return tl_err_set(err, TL_EINVAL, "tl_store_migrate: no store was given");
    if (s->in_tx)
        return tl_err_set(err, TL_EINVAL,
                          "cannot migrate the %s store inside an open transaction: each migration "
                          "runs in its own",
                          s->ops->name);
    const struct dialect *d = dialect_of(s);
    if (!TL_ALWAYS(d))
        return tl_err_set(err, TL_EINTERNAL, "store backend '%s' has no dialect", s->ops->name);
    /* Every process start migrates (tl_ctx_open), so the common case, a
     * current store, is settled with a plain read: it must not queue behind
     * a long ingest for the write lock. The check is repeated under the lock
     * before anything is applied. */
    int version = 0;
    int rc = tl_store_schema_version(s, &version, err);
    if (rc < 0)
        return rc;
    if (version == tl_store_latest_version()) {
        if (applied)
            *applied = 0;
        return 0;
    }
    int n = 0;
    /* Bounded by the number of migrations: each step applies one or none. */
    for (size_t i = 0; i <= tl__n_migrations; i++) {
        int did = 0;
        rc = migrate_step(s, d, &did, err);
        if (rc < 0)
            return rc;
        if (!did)
            break;
        n++;
    }
    if (applied)
        *applied = n;
    return 0;
}

/* ------------------------------------------------------- count, checksum */

int tl_store_count(tl_store *s, const char *table, int64_t *n, tl_err *err)
{
    if (!s || !n)
        return tl_err_set(err, TL_EINVAL, "tl_store_count: no store or no output was given");
    /* Only names from schema.h reach the SQL text, so a table name can never
     * smuggle SQL in. */
    const struct tl_table_spec *t = tl_schema_table(table);
    if (!t)
        return tl_err_set(err, TL_ENOTFOUND,
                          "unknown table '%.100s': not a table of the teller schema",
                          table ? table : "(null)");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t->name);
    return query_int(s, sql, n, err);
}

/* The canonical row text hashed by tl_store_checksum, per value:
 *     NULL  "n|"        INT  "i<decimal>|"       REAL "r<%.17g>|"
 *     TEXT  "t<len>:<bytes>|"                    BLOB "b<len>:<bytes>|"
 * then "\n" per row; each table opens with "T<len>:<name>\n" and closes with
 * "E<rows>\n". Lengths make every field self-delimiting, so no byte in a value
 * can imitate a separator; %.17g round-trips every double, and both backends
 * hand back the same double for the same stored value. */
struct hasher {
    crypto_hash_sha256_state st;
    unsigned char buf[16384];
    size_t n;
    int64_t rows;
};

static void h_flush(struct hasher *h)
{
    crypto_hash_sha256_update(&h->st, h->buf, h->n);
    h->n = 0;
}

static void h_put(struct hasher *h, const void *p, size_t len)
{
    if (len > sizeof h->buf - h->n) {
        h_flush(h);
        if (len > sizeof h->buf) {
            crypto_hash_sha256_update(&h->st, p, len);
            return;
        }
    }
    memcpy(h->buf + h->n, p, len);
    h->n += len;
}

static void h_printf(struct hasher *h, const char *fmt, ...) TL_PRINTF(2, 3);
static void h_printf(struct hasher *h, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        h_put(h, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static int on_checksum_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct hasher *h = ud;
    for (size_t i = 0; i < n_cols; i++) {
        const tl_value *v = &cols[i];
        switch (v->type) {
        case TL_VAL_NULL:
            h_put(h, "n|", 2);
            break;
        case TL_VAL_INT:
            h_printf(h, "i%lld|", (long long)v->i);
            break;
        case TL_VAL_REAL:
            h_printf(h, "r%.17g|", v->d);
            break;
        case TL_VAL_TEXT:
        case TL_VAL_BLOB:
            h_printf(h, "%c%zu:", v->type == TL_VAL_TEXT ? 't' : 'b', v->len);
            h_put(h, v->s, v->len);
            h_put(h, "|", 1);
            break;
        }
    }
    h_put(h, "\n", 1);
    h->rows++;
    return 0;
}

int tl_store_checksum(tl_store *s, char hex[65], tl_err *err)
{
    if (!s || !hex)
        return tl_err_set(err, TL_EINVAL, "tl_store_checksum: no store or no output was given");
    const struct dialect *d = dialect_of(s);
    if (!TL_ALWAYS(d))
        return tl_err_set(err, TL_EINTERNAL, "store backend '%s' has no dialect", s->ops->name);
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");

    struct hasher *h = malloc(sizeof *h);
    if (!h)
        return tl_err_set(err, TL_ENOMEM, "out of memory computing the store checksum");
    crypto_hash_sha256_init(&h->st);
    h->n = 0;

    int rc = 0;
    char *sql = NULL;
    for (size_t ti = 0; ti < tl_schema_table_count(); ti++) {
        const struct tl_table_spec *t = tl_schema_table_at(ti);
        /* The journal records what happened to the data rather than being
         * data: leaving it out lets the checksum compare stores and prove a
         * failed load changed nothing even though successful loads are
         * journaled. Its own integrity is `teller audit verify`'s job. */
        if (strcmp(t->name, "audit_log") == 0)
            continue;
        size_t cap = 64 + strlen(t->name) + strlen(d->bytewise);
        for (size_t c = 0; c < t->n_columns; c++)
            cap += strlen(tl_schema_db_name(&t->columns[c])) + 2;
        char *grown = realloc(sql, cap);
        if (!grown) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory computing the store checksum");
            break;
        }
        sql = grown;
        size_t k = (size_t)snprintf(sql, cap, "SELECT ");
        for (size_t c = 0; c < t->n_columns; c++)
            k += (size_t)snprintf(sql + k, cap - k, "%s%s", c ? ", " : "",
                                  tl_schema_db_name(&t->columns[c]));
        snprintf(sql + k, cap - k, " FROM %s ORDER BY id%s", t->name, d->bytewise);

        h_printf(h, "T%zu:", strlen(t->name));
        h_put(h, t->name, strlen(t->name));
        h_put(h, "\n", 1);
        h->rows = 0;
        rc = s->ops->exec(s, sql, 0, NULL, on_checksum_row, h, err);
        if (rc < 0) {
            tl_err_prefix(err, "checksum of table %s", t->name);
            break;
        }
        h_printf(h, "E%lld\n", (long long)h->rows);
    }
    free(sql);
    if (rc == 0) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        h_flush(h);
        crypto_hash_sha256_final(&h->st, digest);
        sodium_bin2hex(hex, 65, digest, sizeof digest);
    }
    free(h);
    return rc;
}
