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
};

struct tl_store {
    const struct tl_store_ops *ops;
    void *impl;      /* backend connection state */
    bool in_tx;      /* an explicit transaction is open */
    int64_t changes; /* rows changed by the last exec */
};

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
