/*
 * store.h - the store: one interface, SQLite and PostgreSQL behind it.
 *
 * The backend is chosen by URL:
 *     sqlite:PATH                    an embedded SQLite file (WAL mode)
 *     postgres://user@host:port/db   a PostgreSQL server (also postgresql://)
 * A bare path is taken as sqlite:PATH. Nothing above lib/store names a backend.
 *
 *     tl_store *s;
 *     if (tl_store_open("sqlite:bank.db", &s, &err) < 0) ...
 *     if (tl_store_migrate(s, NULL, &err) < 0) ...
 *     tl_value p[] = {TL_TEXT("c-0001")};
 *     tl_store_exec(s, "SELECT count(*) FROM accounts WHERE customer_id = ?", 1, p, on_row, &n, &err);
 *     tl_store_close(s);
 *
 * SQL given to tl_store_exec is the portable subset both engines speak, with
 * `?` placeholders (rewritten to $1.. for PostgreSQL). Statements are prepared
 * once per connection and cached by their text. A tl_store is one connection:
 * use it from one thread at a time.
 */
#ifndef TELLER_STORE_H
#define TELLER_STORE_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_store tl_store;

enum tl_value_type {
    TL_VAL_NULL = 0,
    TL_VAL_INT = 1,
    TL_VAL_REAL = 2,
    TL_VAL_TEXT = 3,
    TL_VAL_BLOB = 4,
};

/* A borrowed, typed value: a bound parameter or a result column. Text and
 * blob bytes are borrowed (from the caller for parameters; from the store
 * until the row callback returns for results). Text is NUL-terminated in
 * results. */
typedef struct tl_value {
    enum tl_value_type type;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} tl_value;

#define TL_NULLV ((tl_value){.type = TL_VAL_NULL})
#define TL_INT(v) ((tl_value){.type = TL_VAL_INT, .i = (v)})
#define TL_REAL(v) ((tl_value){.type = TL_VAL_REAL, .d = (v)})
#define TL_TEXT(str) ((tl_value){.type = TL_VAL_TEXT, .s = (str), .len = strlen(str)})
#define TL_TEXTN(str, n) ((tl_value){.type = TL_VAL_TEXT, .s = (str), .len = (n)})

/* Called once per result row; return nonzero to stop early (not an error).
 * names[i] is the column name. Values are valid only during the call. */
typedef int (*tl_row_fn)(void *ud, size_t n_cols, const tl_value *cols, const char *const *names);

/* Opens a connection; does not migrate. On error *out is untouched. */
TL_API int tl_store_open(const char *url, tl_store **out, tl_err *err);

/* Closes the connection, rolling back any open transaction. NULL is a no-op. */
TL_API void tl_store_close(tl_store *s);

/* Attaches the data keys (keyring.h, borrowed: it must outlive the store or
 * be detached with NULL first). From then on ingest seals every PII column
 * (schema.h `pii`) and fills the blind indexes, and export opens them again.
 * Without a keyring PII is stored as given. tl_ctx_open always attaches one. */
struct tl_keyring;
TL_API void tl_store_set_keyring(tl_store *s, const struct tl_keyring *kr);

/* "sqlite" or "postgres". */
TL_API const char *tl_store_backend(const tl_store *s);

/* Applies every migration newer than the store's schema version, each in its
 * own transaction, recording it in schema_migrations. *applied (optional)
 * receives how many ran. Safe to run concurrently with readers. */
TL_API int tl_store_migrate(tl_store *s, int *applied, tl_err *err);

/* The store's current schema version (0 for an empty store), and the version
 * this build of libteller migrates to. */
TL_API int tl_store_schema_version(tl_store *s, int *version, tl_err *err);
TL_API int tl_store_latest_version(void);

/* Runs one statement with n_params bound parameters; calls fn for each result
 * row when fn is non-NULL. *changes (optional, via tl_store_changes) counts
 * rows modified by the last statement. */
TL_API int tl_store_exec(tl_store *s, const char *sql, size_t n_params, const tl_value *params,
                         tl_row_fn fn, void *ud, tl_err *err);

/* Rows inserted, updated or deleted by the last tl_store_exec. */
TL_API int64_t tl_store_changes(tl_store *s);

/* Explicit transactions. Nesting is an error (TL_EINVAL). */
TL_API int tl_store_begin(tl_store *s, tl_err *err);
TL_API int tl_store_commit(tl_store *s, tl_err *err);
TL_API int tl_store_rollback(tl_store *s, tl_err *err);

/* Write-ahead-log upkeep, for a process that commits all the time (the
 * server's audit writer). On SQLite, the commit that takes the log past
 * 1000 pages also copies it into the database file: milliseconds during
 * which everything waiting on that commit waits too. With
 * tl_store_set_autocheckpoint(s, false) this connection's commits stop
 * doing that, and another connection must call tl_store_checkpoint
 * regularly (else the log grows without bound); that copies what no reader
 * still needs, without waiting for readers or writers. PostgreSQL
 * checkpoints on its own: both are no-ops there. */
TL_API int tl_store_set_autocheckpoint(tl_store *s, bool on, tl_err *err);
TL_API int tl_store_checkpoint(tl_store *s, tl_err *err);

/* Number of rows in a known table (see schema.h), or an error for an unknown
 * table name. */
TL_API int tl_store_count(tl_store *s, const char *table, int64_t *n, tl_err *err);

/* A SHA-256 over the contents of every table but the audit journal (which
 * `teller audit verify` checks), in a fixed order, as 64 hex characters plus
 * NUL in hex[65]. Two stores with the same rows give the same
 * checksum whichever backend holds them, which is how tests prove that a
 * failed ingest left the store exactly as it was. */
TL_API int tl_store_checksum(tl_store *s, char hex[65], tl_err *err);

TL_END_DECLS

#endif
