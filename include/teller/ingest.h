/*
 * ingest.h - validated, all-or-nothing loading and exporting of bank data.
 *
 * A file (CSV with a header row, or JSON Lines) is streamed in constant memory
 * and every row is validated against schema.h: types, required fields,
 * foreign keys, currencies, amount precision for the currency, timestamps,
 * enum values, UTF-8, duplicate ids within the file. The whole file loads in
 * one transaction: one bad row and the store is exactly as it was (the
 * default), or with reject_path the good rows load and the bad ones are
 * written there with their reasons. A process killed mid-load leaves the store
 * as before; loading the same file again is idempotent (upsert on id).
 */
#ifndef TELLER_INGEST_H
#define TELLER_INGEST_H

#include "common.h"
#include "err.h"
#include "store.h"
#include <stdio.h>

TL_BEGIN_DECLS

enum tl_format {
    TL_FORMAT_AUTO = 0, /* from the file name: .jsonl/.ndjson/.json -> JSON Lines, else CSV */
    TL_FORMAT_CSV = 1,
    TL_FORMAT_JSONL = 2,
};

struct tl_ingest_opts {
    const char *table;       /* a table of schema.h with ingestible = true */
    const char *path;        /* file, or "-" for stdin */
    enum tl_format format;   /* TL_FORMAT_AUTO needs a path with an extension; stdin defaults to CSV */
    const char *reject_path; /* NULL: all-or-nothing. Else load good rows, write bad ones here */
    bool quiet;              /* no progress bar */
    size_t max_field_bytes;  /* 0: TL_CSV_DEFAULT_MAX_FIELD */
};

struct tl_ingest_result {
    uint64_t rows_read;     /* data rows seen */
    uint64_t rows_loaded;   /* rows inserted or updated */
    uint64_t rows_rejected; /* rows written to reject_path */
    double seconds;
};

/* Loads opts->path into the store. On error nothing was loaded and err names
 * source:line, the column and the value. */
TL_API int tl_ingest_file(tl_store *s, const struct tl_ingest_opts *opts,
                          struct tl_ingest_result *res, tl_err *err);

/* Same, from an open stream (borrowed; not closed). `source` names it in
 * errors. opts->path is ignored. */
TL_API int tl_ingest_stream(tl_store *s, FILE *in, const char *source,
                            const struct tl_ingest_opts *opts, struct tl_ingest_result *res,
                            tl_err *err);

/* Writes every row of table to out in the format ingest reads, ordered by id,
 * so export followed by ingest is a no-op. */
TL_API int tl_export(tl_store *s, const char *table, FILE *out, enum tl_format format,
                     uint64_t *rows, tl_err *err);

/* One line of `teller stats`: a table's row count and, per money column and
 * currency, the sum in minor units. */
struct tl_stat_sum {
    char column[32];
    char currency[4];
    int64_t sum_minor;
};
struct tl_table_stats {
    const char *table;
    int64_t rows;
    size_t n_sums;
    struct tl_stat_sum sums[16];
};

/* Fills out[i] for every table of schema.h (n_out >= tl_schema_table_count()). */
TL_API int tl_store_stats(tl_store *s, struct tl_table_stats *out, size_t n_out, tl_err *err);

TL_END_DECLS

#endif
