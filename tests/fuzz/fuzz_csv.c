/*
 * fuzz_csv.c - the CSV reader and writer (include/teller/csv.h).
 *
 * Three passes over each input:
 *  A. tl_csv_reader with the default limits reads every record, checks the
 *     shape of each (NUL-terminated fields with no NUL inside, lines that
 *     never go backwards) and writes it back with tl_csv_write_record.
 *  B. that output is read again: it must parse cleanly and give the same
 *     fields, record for record (quoting may differ, so the quoted flags are
 *     not compared).
 *  C. the input is read with a 16-byte field limit: the records it gives
 *     are a prefix of A's, and it may only stop early with TL_ETOOBIG; when
 *     the input has no quote and no line longer than the limit, it must
 *     give all of them. (Not "no field of A longer than the limit": a blank
 *     line of many spaces is skipped, yet still a field that must fit.)
 * Errors are sticky and follow the tl_err contract (fuzz_check_err).
 */
#include "fuzz.h"

#include <teller/csv.h>

#include <stdbool.h>

#define SMALL_FIELD 16

struct pass {
    char *fields;   /* every record serialized: n, then (len, bytes) per field */
    size_t fields_len;
    char *quoted;   /* the quoted flag of every field, one byte each */
    size_t quoted_len;
    size_t n_records;
    int rc;               /* what ended the pass: 0 or a TL_E* code */
};

static void put_u64(FILE *fp, uint64_t v)
{
    FUZZ_CHECK(fwrite(&v, sizeof v, 1, fp) == 1);
}

static void read_all(const void *data, size_t size, size_t max_field_bytes, FILE *csv_out,
                     struct pass *p)
{
    memset(p, 0, sizeof *p);
    FILE *in = fmemopen((void *)data, size, "rb");
    FILE *ser = open_memstream(&p->fields, &p->fields_len);
    FILE *quo = open_memstream(&p->quoted, &p->quoted_len);
    FUZZ_CHECK(in && ser && quo);

    tl_csv_reader *r = NULL;
    tl_err err = {0};
    int rc = tl_csv_reader_open(in, "fuzz.csv", max_field_bytes, &r, &err);
    FUZZ_CHECK(rc == 0 && r);
    const tl_csv_record *rec = NULL;
    uint64_t last_line = 0;
    while ((rc = tl_csv_next(r, &rec, &err)) > 0) {
        FUZZ_CHECK(rc == 1);
        FUZZ_CHECK(rec->n_fields > 0);
        FUZZ_CHECK(rec->line >= 1 && rec->line >= last_line);
        last_line = rec->line;
        put_u64(ser, rec->n_fields);
        for (size_t i = 0; i < rec->n_fields; i++) {
            FUZZ_CHECK(rec->fields[i][rec->lens[i]] == '\0');
            FUZZ_CHECK(memchr(rec->fields[i], '\0', rec->lens[i]) == NULL);
            put_u64(ser, rec->lens[i]);
            FUZZ_CHECK(fwrite(rec->fields[i], 1, rec->lens[i], ser) == rec->lens[i]);
            FUZZ_CHECK(fputc(rec->quoted[i] ? 1 : 0, quo) != EOF);
        }
        if (csv_out)
            FUZZ_CHECK(tl_csv_write_record(csv_out, rec->n_fields, rec->fields) == 0);
        p->n_records++;
    }
    if (rc < 0) {
        fuzz_check_err(rc, &err);
        tl_err again = {0};
        FUZZ_CHECK(tl_csv_next(r, &rec, &again) == rc);
        FUZZ_CHECK(strcmp(again.msg, err.msg) == 0);
    } else {
        FUZZ_CHECK(tl_csv_next(r, &rec, &err) == 0);
    }
    p->rc = rc;
    tl_csv_reader_close(r);
    fclose(in);
    fclose(ser);
    fclose(quo);
}

static void pass_free(struct pass *p)
{
    free(p->fields);
    free(p->quoted);
}

/* The longest run of bytes between line ends (CR or LF). */
static size_t longest_line(const uint8_t *data, size_t size)
{
    size_t longest = 0, cur = 0;
    for (size_t i = 0; i < size; i++) {
        cur = data[i] == '\n' || data[i] == '\r' ? 0 : cur + 1;
        if (cur > longest)
            longest = cur;
    }
    return longest;
}

static bool is_prefix(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len <= b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A: read and write back. The output starts with a UTF-8 BOM of its own
     * so that a first field which itself begins with a BOM (or a UTF-16 one
     * after a stripped UTF-8 BOM) survives: the reader strips one at the
     * start of the input, and the writer does not know it writes there. */
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *out = open_memstream(&csv, &csv_len);
    FUZZ_CHECK(out);
    FUZZ_CHECK(fputs("\xef\xbb\xbf", out) != EOF);
    struct pass a;
    read_all(data, size, 0, out, &a);
    FUZZ_CHECK(fclose(out) == 0);

    /* B: what the writer wrote reads back as the same fields. */
    struct pass b;
    read_all(csv, csv_len, 0, NULL, &b);
    if (b.rc != 0 || b.n_records != a.n_records || b.fields_len != a.fields_len ||
        memcmp(b.fields, a.fields, a.fields_len) != 0)
        fprintf(stderr, "round trip: %zu records in, %zu back (rc %d)\n", a.n_records,
                b.n_records, b.rc);
    FUZZ_CHECK(b.rc == 0);
    FUZZ_CHECK(b.n_records == a.n_records);
    FUZZ_CHECK(b.fields_len == a.fields_len && memcmp(b.fields, a.fields, a.fields_len) == 0);

    /* C: a small field limit only ever cuts the stream short. */
    struct pass c;
    read_all(data, size, SMALL_FIELD, NULL, &c);
    FUZZ_CHECK(c.n_records <= a.n_records);
    FUZZ_CHECK(is_prefix(c.fields, c.fields_len, a.fields, a.fields_len));
    FUZZ_CHECK(is_prefix(c.quoted, c.quoted_len, a.quoted, a.quoted_len));
    if (c.n_records < a.n_records || c.rc != a.rc)
        FUZZ_CHECK(c.rc == TL_ETOOBIG);
    if (!memchr(data, '"', size) && longest_line(data, size) <= SMALL_FIELD)
        FUZZ_CHECK(c.rc == a.rc && c.n_records == a.n_records);

    pass_free(&a);
    pass_free(&b);
    pass_free(&c);
    free(csv);
    return 0;
}
