/*
 * internal.h - the store's backend interface (not installed).
 *
 * sqlite.c and postgres.c are peers implementing struct tl_store_ops; store.c
 * dispatches on the URL scheme and owns everything backend-neutral
 * (migrations bookkeeping, checksums, counts). ingest.c reaches the bulk-load
 * path through the loader hooks, which is where the two engines differ most:
 * SQLite upserts row by row through one prepared statement inside one
 * transaction; PostgreSQL COPYs into a staging table and upserts from it.
 */
#ifndef TL_STORE_INTERNAL_H
#define TL_STORE_INTERNAL_H

#include <teller/store.h>
#include <teller/schema.h>

#include <jansson.h>

struct tl_store_loader; /* backend-private bulk-load state */

struct tl_store_ops {
    const char *name; /* "sqlite", "postgres" */

    /* target: the URL with the scheme removed for sqlite ("bank.db"), the whole
     * URL for postgres. Fills s->impl. */
    int (*open)(tl_store *s, const char *target, tl_err *err);
    void (*close)(tl_store *s);

    /* One statement with `?` parameters; fn per row (may be NULL). Sets
     * s->changes. Prepared statements are cached per connection by text. */
    int (*exec)(tl_store *s, const char *sql, size_t n_params, const tl_value *params,
                tl_row_fn fn, void *ud, tl_err *err);

    /* Several ;-separated statements without parameters (migrations). */
    int (*exec_script)(tl_store *s, const char *sql, tl_err *err);

    /* Bulk upsert of rows into table t (all columns of t, in spec order, as
     * store values: money already in minor units, timestamps in ms), keyed on
     * id. Runs inside the caller's open transaction. table_empty tells the
     * backend no conflict is possible, so it may skip the upsert machinery. */
    int (*load_begin)(tl_store *s, const struct tl_table_spec *t, bool table_empty,
                      struct tl_store_loader **out, tl_err *err);
    /* vals is row-major: n_rows * t->n_columns values. */
    int (*load_rows)(struct tl_store_loader *ld, size_t n_rows, const tl_value *vals, tl_err *err);
    /* Finishes (flushes) the load; with ok=false just releases resources. */
    int (*load_end)(struct tl_store_loader *ld, bool ok, tl_err *err);

    /* Write-ahead-log upkeep (store.h); NULL where the engine does its own. */
    int (*set_autocheckpoint)(tl_store *s, bool on, tl_err *err);
    int (*checkpoint)(tl_store *s, tl_err *err);
};

struct tl_store {
    const struct tl_store_ops *ops;
    void *impl;      /* backend connection state */
    bool in_tx;      /* an explicit transaction is open */
    int64_t changes; /* rows changed by the last exec */
    const struct tl_keyring *keyring; /* borrowed; NULL: PII is stored as given */
};

/* ------------------------------------------------------------------------
 * PII at rest (pii.c). A PII column's value is sealed with the associated
 * data "<table>.<column>" (keyring.h), and a derived blind-index column holds
 * a keyed hash of the normalized value so that lookups never decrypt.
 */

/* Room for "<table>.<column>" of any schema column. */
#define TL__PII_CONTEXT_SIZE 96

/* Writes "<table>.<column>" (store-side column name) into buf. */
void tl__pii_context(const struct tl_table_spec *t, const struct tl_column_spec *c, char *buf,
                     size_t size);

/* The derived column of table holding the blind index of column source
 * (file name), or NULL when it has none. */
const char *tl__bidx_column(const char *table, const char *source);

/* The source column indexed by the derived column col of table, or NULL. */
const char *tl__bidx_source(const char *table, const char *col);

/* Whether loading a row over an existing one sets column c: every column a
 * file gives, and the blind indexes computed from them; not the columns
 * teller's services set (an erasure mark, a credit decision), which a
 * re-ingest of the same record must leave as they are. */
bool tl__load_updates(const struct tl_table_spec *t, const struct tl_column_spec *c);

/* The blind index of v[0..n) for table.source, as 64 hex characters: 0, or
 * 1 when the normalized value is empty (no index: store NULL), or TL_EINVAL
 * when v is too long to be a value of that column. */
int tl__bidx_value(const struct tl_keyring *kr, const char *table, const char *source,
                   const char *v, size_t n, char hex[65]);

/* Opens a stored PII value for reading: when v is sealed, *plain receives
 * the plaintext (malloc'd, NUL-terminated; caller frees) and *plain_len its
 * length; when v is not sealed (stored without a keyring, or an erasure
 * mark), *plain is NULL and v is the value. TL_ECRYPTO when it is sealed and
 * cannot be opened, naming the context and row id. */
int tl__pii_open(const tl_store *s, const char *context, const char *row_id, const tl_value *v,
                 char **plain, size_t *plain_len, tl_err *err);

/* Appends to arr (a JSON array) one object per row of t matching where (the
 * SQL after WHERE, with `?` parameters), ordered by id, each formatted as
 * export writes JSON Lines (money as decimal strings, instants as ISO 8601)
 * with PII opened, and every column including derived ones. */
int tl__export_json(tl_store *s, const struct tl_table_spec *t, const char *where,
                    size_t n_params, const tl_value *params, json_t *arr, tl_err *err);

extern const struct tl_store_ops tl__store_sqlite_ops;
extern const struct tl_store_ops tl__store_postgres_ops;

/* Migrations, in order; migration i (1-based) is tl__migrations[i-1]. Each is
 * portable SQL both engines accept. Append only: never edit a shipped one. */
struct tl_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct tl_migration tl__migrations[];
extern const size_t tl__n_migrations;

#endif
