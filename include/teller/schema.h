/*
 * schema.h - the tables a bank loads, described once.
 *
 * This table is the single source for ingestion (validation of every column),
 * export (formatting), `teller stats`, and docs/data-formats.md; a unit test
 * checks it against the columns the migrations create on both backends.
 *
 * File columns and store columns differ only where the unit changes: money is
 * a decimal string in files ("12.30") and integer minor units in the store
 * (`amount_minor`); timestamps are ISO 8601 in files and epoch milliseconds in
 * the store (`ts_ms`). Every table's first column is `id`, the bank's own
 * external id, and loading the same id again updates the row (idempotent).
 */
#ifndef TELLER_SCHEMA_H
#define TELLER_SCHEMA_H

#include "common.h"

TL_BEGIN_DECLS

enum tl_col_type {
    TL_COL_ID = 0,        /* external id: 1-64 bytes of [A-Za-z0-9._:-] */
    TL_COL_TEXT = 1,      /* UTF-8 text up to max_len bytes */
    TL_COL_INT = 2,       /* integer within [min, max] */
    TL_COL_REAL = 3,      /* finite decimal number within [min, max] */
    TL_COL_BOOL = 4,      /* true/false, 1/0, yes/no -> 1/0 */
    TL_COL_MONEY = 5,     /* decimal string in the currency of currency_col */
    TL_COL_CURRENCY = 6,  /* ISO 4217 code */
    TL_COL_TIMESTAMP = 7, /* ISO 8601 -> epoch ms */
    TL_COL_DATE = 8,      /* YYYY-MM-DD, stored as text */
    TL_COL_ENUM = 9,      /* one of enum_values */
    TL_COL_REF = 10,      /* id of a row in ref_table */
    TL_COL_EMAIL = 11,    /* text with one @ and a dotted domain */
    TL_COL_COUNTRY = 12,  /* ISO 3166-1 alpha-2, upper case */
};

struct tl_column_spec {
    const char *name;    /* name in CSV headers and JSON keys */
    const char *db_name; /* column in the store; NULL means the same as name */
    enum tl_col_type type;
    bool required;
    bool pii;                        /* encrypted at rest by the privacy layer */
    bool derived;                    /* computed by teller (blind indexes, erasure marks):
                                        never read from files nor written by export */
    const char *ref_table;           /* TL_COL_REF */
    const char *currency_col;        /* TL_COL_MONEY: file column holding the currency */
    const char *const *enum_values;  /* TL_COL_ENUM: NULL-terminated */
    int64_t min, max;                /* TL_COL_INT and TL_COL_REAL bounds */
    size_t max_len;                  /* TL_COL_TEXT, bytes */
    const char *doc;                 /* one line for docs/data-formats.md */
};

struct tl_table_spec {
    const char *name;
    const char *doc;
    const struct tl_column_spec *columns;
    size_t n_columns;
    bool ingestible; /* loaded by `teller ingest`; false for system tables */
};

/* Tables in dependency order (a table only references earlier ones). */
TL_API size_t tl_schema_table_count(void);
TL_API const struct tl_table_spec *tl_schema_table_at(size_t i);

/* The spec for a table name, or NULL. */
TL_API const struct tl_table_spec *tl_schema_table(const char *name);

/* Index of a column by file name within a table, or -1. */
TL_API int tl_schema_column_index(const struct tl_table_spec *t, const char *name);

/* The store-side name of a column. */
static inline const char *tl_schema_db_name(const struct tl_column_spec *c)
{
    return c->db_name ? c->db_name : c->name;
}

TL_END_DECLS

#endif
