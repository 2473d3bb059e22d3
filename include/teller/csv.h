/*
 * csv.h - streaming RFC 4180 CSV over libcsv, with line and column numbers.
 *
 * The reader pulls one record at a time from a FILE*, in constant memory (the
 * largest record, bounded by max_field_bytes), so files larger than RAM stream.
 * It strips a UTF-8 BOM, accepts LF and CRLF line ends, and reports broken
 * quoting, oversized fields and NUL bytes with `source:line:column`.
 * Spaces belong to the field (RFC 4180): nothing is trimmed, so " 12.00"
 * reaches validation as written. A line of only spaces and tabs counts as
 * blank. A UTF-16 or UTF-32 byte order mark is refused with a message that
 * says so.
 *
 *     tl_csv_reader *r;
 *     if (tl_csv_reader_open(fp, "tx.csv", 0, &r, &err) < 0) ...
 *     const tl_csv_record *rec;
 *     int rc;
 *     while ((rc = tl_csv_next(r, &rec, &err)) > 0)
 *         for (size_t i = 0; i < rec->n_fields; i++) use(rec->fields[i], rec->lens[i]);
 *     if (rc < 0) ... err.msg names the line
 *     tl_csv_reader_close(r);
 */
#ifndef TELLER_CSV_H
#define TELLER_CSV_H

#include "common.h"
#include "err.h"
#include <stdio.h>

TL_BEGIN_DECLS

#define TL_CSV_DEFAULT_MAX_FIELD (1u << 20) /* 1 MiB */

typedef struct tl_csv_reader tl_csv_reader;

typedef struct tl_csv_record {
    size_t n_fields;
    const char *const *fields; /* NUL-terminated copies, valid until the next tl_csv_next */
    const size_t *lens;        /* byte length of each field (fields may hold no NUL) */
    const bool *quoted;        /* whether each field was quoted (so "" differs from empty) */
    uint64_t line;             /* 1-based physical line where the record starts */
} tl_csv_record;

/* Wraps fp (borrowed: the caller closes it after tl_csv_reader_close).
 * `source` is copied and used in error messages. max_field_bytes 0 means
 * TL_CSV_DEFAULT_MAX_FIELD. On error *out is untouched. */
TL_API int tl_csv_reader_open(FILE *fp, const char *source, size_t max_field_bytes,
                              tl_csv_reader **out, tl_err *err);

/* Returns 1 and sets *rec to the next record, 0 at end of input, or a negative
 * TL_E* code (TL_EPARSE for broken quoting or a NUL byte, TL_ETOOBIG for a
 * field over the limit, TL_EIO for a read error) with err naming
 * source:line:column. Blank lines are skipped. */
TL_API int tl_csv_next(tl_csv_reader *r, const tl_csv_record **rec, tl_err *err);

TL_API void tl_csv_reader_close(tl_csv_reader *r);

/* Names the columns (usually from the header row) so that later errors say
 * `source:line:column: column "amount": ...`. names[0..n) are copied; call
 * it again to replace them. Returns 0, TL_EINVAL or TL_ENOMEM. */
TL_API int tl_csv_reader_set_names(tl_csv_reader *r, size_t n, const char *const *names);

/* Writes one field, quoting it only when it holds a comma, quote, CR or LF or
 * starts/ends with a space. Returns 0 or TL_EIO. */
TL_API int tl_csv_write_field(FILE *fp, const char *s, size_t len);

/* Writes n fields and a "\n". NULL entries are written as empty fields. */
TL_API int tl_csv_write_record(FILE *fp, size_t n, const char *const *fields);

TL_END_DECLS

#endif
