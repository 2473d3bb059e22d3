/* csv.c - a pull reader over libcsv's push parser, and a minimal writer.
 *
 * libcsv calls back per field and per record and says nothing about where
 * in the input it is. So the reader feeds it one line at a time (a segment
 * ends after the first CR or LF, or at the end of the chunk): a segment then
 * completes at most one record, at its very end, and the physical line of
 * everything libcsv reports is known. Between segments the parser's public
 * state (pstate, quoted, entry_pos) tells whether a record is under way and
 * how long the open field has grown, which bounds memory without a custom
 * allocator. libcsv does not say whether a field was quoted either, so a
 * line holding a '"' is first scanned with a copy of libcsv's state machine
 * (scan_quotes); a fuzz run against libcsv fed byte by byte agreed on every
 * record, field and quoted flag.
 *
 * Spaces are part of a field (RFC 4180): " 12.00" must reach validation as
 * written and be refused there, not load as something the file did not say.
 * libcsv trims blanks around unquoted fields unless given a space test, and
 * a space test is an indirect call per byte that halves its speed. So libcsv
 * reads a copy of each chunk with ' ' mapped to 0x00 (never in the input: a
 * NUL is an error) and '\t' to 0xFF (never in UTF-8), and on_field maps
 * them back. A record that meets a real 0xFF byte is parsed from the
 * original bytes with the space test instead.
 */
#include <teller/csv.h>

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* libcsv's parser states (libcsv.c); csv_parser.pstate is public. */
enum { ROW_NOT_BEGUN = 0, FIELD_NOT_BEGUN = 1, FIELD_BEGUN = 2, FIELD_MIGHT_HAVE_ENDED = 3 };

#define CHUNK_BYTES (64 * 1024)
#define MAX_FIELDS 65536         /* per record */
#define RECORD_FIELD_FACTOR 64   /* a record holds at most 64 maximal fields */
#define CSV_BLOCK (16 * 1024)    /* libcsv grows its field buffer linearly by this */

struct tl_csv_reader {
    FILE *fp;
    char *source;
    size_t max_field;
    size_t max_record;
    struct csv_parser parser;

    unsigned char *chunk; /* CHUNK_BYTES */
    unsigned char *mapped; /* the chunk with ' ' -> 0x00 and '\t' -> 0xFF */
    size_t ff_at;         /* offset of the next 0xFF at or after chunk_pos, or chunk_len */
    bool slow;            /* this record is parsed from chunk with no_space */
    size_t chunk_len, chunk_pos;
    size_t nul_at;        /* offset of the first NUL in the chunk, or chunk_len */
    bool started;         /* first chunk read (BOM checked) */
    bool eof;
    bool finished;        /* csv_fini done */

    uint64_t line;        /* physical line of the next byte to parse */
    uint64_t rec_line;    /* line where the record being built started */

    /* The record being built: fields back to back in buf, NUL-terminated. */
    char *buf;
    size_t buf_len, buf_cap;
    size_t *offs;
    size_t *lens;
    bool *quoted;
    bool *quote_mark;     /* fields seen opening with '"' by the segment scan */
    const char **fields;
    size_t n_fields, fields_cap;
    bool rec_ready;

    int cb_err;           /* error raised inside a callback (a TL_E* code) */
    enum { CB_FIELD_BIG = 1, CB_RECORD_BIG, CB_TOO_MANY, CB_NOMEM } cb_kind;
    char **names;         /* column names for messages (tl_csv_reader_set_names) */
    size_t n_names;
    int sticky;           /* first error; every later call returns it */
    tl_err sticky_err;
    tl_csv_record rec;
};

static int fail(tl_csv_reader *r, tl_err *err, int code, uint64_t line, size_t col,
                const char *what, const char *detail)
{
    if (col && col <= r->n_names)
        tl_err_set(&r->sticky_err, code, "%s:%llu:%zu: column \"%s\": %s%s", r->source,
                   (unsigned long long)line, col, r->names[col - 1], what, detail ? detail : "");
    else if (col)
        tl_err_set(&r->sticky_err, code, "%s:%llu:%zu: %s%s", r->source, (unsigned long long)line,
                   col, what, detail ? detail : "");
    else
        tl_err_set(&r->sticky_err, code, "%s:%llu: %s%s", r->source, (unsigned long long)line, what,
                   detail ? detail : "");
    r->sticky = code;
    if (err)
        *err = r->sticky_err;
    return code;
}

/* Grows the per-field arrays to hold at least `need` fields. */
static int ensure_fields(tl_csv_reader *r, size_t need)
{
    if (need <= r->fields_cap)
        return 0;
    if (need > MAX_FIELDS)
        return TL_ETOOBIG;
    size_t cap = r->fields_cap ? r->fields_cap : 16;
    while (cap < need)
        cap *= 2;
    if (cap > MAX_FIELDS)
        cap = MAX_FIELDS;
    size_t *offs = realloc(r->offs, cap * sizeof *offs);
    if (offs)
        r->offs = offs;
    size_t *lens = realloc(r->lens, cap * sizeof *lens);
    if (lens)
        r->lens = lens;
    bool *quoted = realloc(r->quoted, cap * sizeof *quoted);
    if (quoted)
        r->quoted = quoted;
    bool *mark = realloc(r->quote_mark, cap * sizeof *mark);
    if (mark) {
        memset(mark + r->fields_cap, 0, (cap - r->fields_cap) * sizeof *mark);
        r->quote_mark = mark;
    }
    const char **fields = realloc(r->fields, cap * sizeof *fields);
    if (fields)
        r->fields = fields;
    if (!offs || !lens || !quoted || !mark || !fields)
        return TL_ENOMEM;
    r->fields_cap = cap;
    return 0;
}

static void cb_fail(tl_csv_reader *r, int kind)
{
    r->cb_kind = kind;
    r->cb_err = kind == CB_NOMEM ? TL_ENOMEM : TL_ETOOBIG;
}

/* Eight bytes at a time (SWAR): 0x80 in each byte of w that equals b. */
#define ONES UINT64_C(0x0101010101010101)
#define LOW7 UINT64_C(0x7f7f7f7f7f7f7f7f)
static inline uint64_t eq_mask(uint64_t w, unsigned char b)
{
    uint64_t t = w ^ (ONES * b); /* zero where w == b */
    return ~(((t & LOW7) + LOW7) | t | LOW7);
}

/* In s[0..n): `from_a` bytes become `to_a`, `from_b` bytes become `to_b`. */
static inline void swap_bytes(unsigned char *dst, const unsigned char *src, size_t n,
                              unsigned char from_a, unsigned char to_a, unsigned char from_b,
                              unsigned char to_b)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        uint64_t ma = eq_mask(w, from_a), mb = eq_mask(w, from_b);
        if (ma | mb) {
            uint64_t fa = (ma >> 7) * 0xff, fb = (mb >> 7) * 0xff;
            w = (w & ~(fa | fb)) | (fa & (ONES * to_a)) | (fb & (ONES * to_b));
        }
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++) {
        unsigned char c = src[i];
        dst[i] = c == from_a ? to_a : c == from_b ? to_b : c;
    }
}

static void map_blanks(unsigned char *dst, const unsigned char *src, size_t n)
{
    swap_bytes(dst, src, n, ' ', 0x00, '\t', 0xff);
}

/* Undoes map_blanks in place. */
static void unmap_blanks(unsigned char *s, size_t n)
{
    swap_bytes(s, s, n, 0x00, ' ', 0xff, '\t');
}

static void on_field(void *data, size_t len, void *user)
{
    tl_csv_reader *r = user;
    if (r->cb_err)
        return;
    if (len > r->max_field) {
        cb_fail(r, CB_FIELD_BIG);
        return;
    }
    int rc = ensure_fields(r, r->n_fields + 1);
    if (rc < 0) {
        cb_fail(r, rc == TL_ENOMEM ? CB_NOMEM : CB_TOO_MANY);
        return;
    }
    if (r->buf_len + len + 1 > r->buf_cap) {
        if (r->buf_len + len + 1 > r->max_record) {
            cb_fail(r, CB_RECORD_BIG);
            return;
        }
        size_t cap = r->buf_cap ? r->buf_cap : 4096;
        while (cap < r->buf_len + len + 1)
            cap *= 2;
        if (cap > r->max_record)
            cap = r->max_record;
        char *nb = realloc(r->buf, cap);
        if (!nb) {
            cb_fail(r, CB_NOMEM);
            return;
        }
        r->buf = nb;
        r->buf_cap = cap;
    }
    size_t i = r->n_fields++;
    r->offs[i] = r->buf_len;
    r->lens[i] = len;
    r->quoted[i] = r->quote_mark[i];
    r->quote_mark[i] = false;
    if (len) {
        memcpy(r->buf + r->buf_len, data, len);
        if (!r->slow)
            unmap_blanks((unsigned char *)r->buf + r->buf_len, len);
    }
    r->buf[r->buf_len + len] = '\0';
    r->buf_len += len + 1;
}

static void on_record(int c, void *user)
{
    (void)c;
    tl_csv_reader *r = user;
    /* A line of nothing but blanks counts as blank, like an empty one. */
    if (r->n_fields == 1 && !r->quoted[0] && !r->cb_err) {
        const char *f = r->buf;
        size_t i = 0;
        while (i < r->lens[0] && (f[i] == ' ' || f[i] == '\t'))
            i++;
        if (i == r->lens[0]) {
            r->n_fields = 0;
            r->buf_len = 0;
            return;
        }
    }
    r->rec_ready = true;
}

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

int tl_csv_reader_open(FILE *fp, const char *source, size_t max_field_bytes, tl_csv_reader **out,
                       tl_err *err)
{
    if (!fp || !out)
        return tl_err_set(err, TL_EINVAL, "tl_csv_reader_open: invalid argument");
    if (!source)
        source = "csv";
    if (max_field_bytes == 0)
        max_field_bytes = TL_CSV_DEFAULT_MAX_FIELD;
    tl_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return tl_err_set(err, TL_ENOMEM, "out of memory opening %s", source);
    r->fp = fp;
    r->source = strdup(source);
    r->chunk = malloc(CHUNK_BYTES);
    r->mapped = malloc(CHUNK_BYTES);
    r->max_field = max_field_bytes;
    r->max_record = max_field_bytes > SIZE_MAX / RECORD_FIELD_FACTOR
                        ? SIZE_MAX
                        : max_field_bytes * RECORD_FIELD_FACTOR;
    if (r->max_record < 1024 * 1024)
        r->max_record = 1024 * 1024;
    r->line = 1;
    r->rec_line = 1;
    if (!r->source || !r->chunk || !r->mapped || ensure_fields(r, 16) < 0 ||
        csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        tl_csv_reader_close(r);
        return tl_err_set(err, TL_ENOMEM, "out of memory opening %s", source);
    }
    csv_set_blk_size(&r->parser, CSV_BLOCK);
    *out = r;
    return 0;
}

void tl_csv_reader_close(tl_csv_reader *r)
{
    if (!r)
        return;
    csv_free(&r->parser);
    free(r->source);
    free(r->chunk);
    free(r->mapped);
    free(r->buf);
    free(r->offs);
    free(r->lens);
    free(r->quoted);
    free(r->quote_mark);
    free(r->fields);
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    free(r);
}

int tl_csv_reader_set_names(tl_csv_reader *r, size_t n, const char *const *names)
{
    if (!r || (n && !names))
        return TL_EINVAL;
    char **copy = n ? calloc(n, sizeof *copy) : NULL;
    if (n && !copy)
        return TL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        /* names land in messages: keep them short and printable */
        char q[TL__QUOTE_SIZE];
        const char *name = names[i] ? names[i] : "";
        copy[i] = strdup(tl__quote(q, sizeof q, name, strlen(name)));
        if (!copy[i]) {
            while (i > 0)
                free(copy[--i]);
            free(copy);
            return TL_ENOMEM;
        }
    }
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    r->names = copy;
    r->n_names = n;
    return 0;
}

/* Marks which fields opening in seg[0..n) start with a quote, mirroring
 * libcsv's states from where it stands now. Only lines holding a '"' get
 * here. libcsv itself rejects bad quoting; this only has to agree with it
 * on good input and stay in bounds on bad. */
static int scan_quotes(tl_csv_reader *r, const unsigned char *seg, size_t n)
{
    enum { START, UNQUOTED, QUOTED, MAYBE_END } st;
    int ps = r->parser.pstate;
    if (ps == ROW_NOT_BEGUN || ps == FIELD_NOT_BEGUN)
        st = START;
    else if (ps == FIELD_BEGUN)
        st = r->parser.quoted ? QUOTED : UNQUOTED;
    else
        st = MAYBE_END;
    size_t field = r->n_fields;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = seg[i];
        switch (st) {
        case START:
            if (c == '"') {
                int rc = ensure_fields(r, field + 1);
                if (rc < 0)
                    return rc;
                r->quote_mark[field] = true;
                st = QUOTED;
            } else if (c == ',') {
                field++;
            } else if (c == '\r' || c == '\n') {
                return 0;
            } else {
                st = UNQUOTED;
            }
            break;
        case UNQUOTED:
            if (c == ',') {
                field++;
                st = START;
            } else if (c == '\r' || c == '\n' || c == '"') {
                return 0;
            }
            break;
        case QUOTED:
            if (c == '"')
                st = MAYBE_END;
            break;
        case MAYBE_END:
            if (c == '"') {
                st = QUOTED;
            } else if (c == ',') {
                field++;
                st = START;
            } else {
                return 0;
            }
            break;
        }
    }
    return 0;
}

static const char *limit_text(size_t n, char *buf, size_t cap)
{
    snprintf(buf, cap, " (the limit is %zu bytes)", n);
    return buf;
}

/* Turns a callback error into the reader's error. A field is reported on
 * the line where it ended, a record on the line where it started. */
static int callback_failure(tl_csv_reader *r, tl_err *err)
{
    char lim[64];
    size_t col = r->n_fields + 1;
    switch (r->cb_kind) {
    case CB_FIELD_BIG:
        return fail(r, err, TL_ETOOBIG, r->line, col, "field is too large",
                    limit_text(r->max_field, lim, sizeof lim));
    case CB_RECORD_BIG:
        return fail(r, err, TL_ETOOBIG, r->rec_line, col, "record is too large",
                    limit_text(r->max_record, lim, sizeof lim));
    case CB_TOO_MANY:
        snprintf(lim, sizeof lim, " (the limit is %d)", MAX_FIELDS);
        return fail(r, err, TL_ETOOBIG, r->rec_line, 0, "record has too many fields", lim);
    case CB_NOMEM:
        return fail(r, err, TL_ENOMEM, r->rec_line, col, "out of memory reading the record", NULL);
    }
    return fail(r, err, TL_EINTERNAL, r->rec_line, col, "internal error", NULL);
}

static void finish_record(tl_csv_reader *r, const tl_csv_record **rec)
{
    for (size_t i = 0; i < r->n_fields; i++)
        r->fields[i] = r->buf + r->offs[i];
    r->rec.n_fields = r->n_fields;
    r->rec.fields = r->fields;
    r->rec.lens = r->lens;
    r->rec.quoted = r->quoted;
    r->rec.line = r->rec_line;
    *rec = &r->rec;
}

/* Reads the next chunk; strips a BOM from the first. */
static int read_chunk(tl_csv_reader *r, tl_err *err)
{
    size_t n = fread(r->chunk, 1, CHUNK_BYTES, r->fp);
    if (n < CHUNK_BYTES && ferror(r->fp))
        return fail(r, err, TL_EIO, r->line, 0, "read error: ", strerror(errno));
    r->chunk_len = n;
    r->chunk_pos = 0;
    if (!r->started) {
        r->started = true;
        const unsigned char *c = r->chunk;
        if (n >= 3 && c[0] == 0xef && c[1] == 0xbb && c[2] == 0xbf)
            r->chunk_pos = 3;
        else if (n >= 4 && ((c[0] == 0xff && c[1] == 0xfe && c[2] == 0 && c[3] == 0) ||
                            (c[0] == 0 && c[1] == 0 && c[2] == 0xfe && c[3] == 0xff)))
            return fail(r, err, TL_EPARSE, 1, 0, "the input is UTF-32 (it starts with a UTF-32 "
                        "byte order mark); save it as UTF-8", NULL);
        else if (n >= 2 && ((c[0] == 0xff && c[1] == 0xfe) || (c[0] == 0xfe && c[1] == 0xff)))
            return fail(r, err, TL_EPARSE, 1, 0, "the input is UTF-16 (it starts with a UTF-16 "
                        "byte order mark); save it as UTF-8", NULL);
    }
    unsigned char *z = memchr(r->chunk + r->chunk_pos, 0, n - r->chunk_pos);
    r->nul_at = z ? (size_t)(z - r->chunk) : n;
    map_blanks(r->mapped, r->chunk, n);
    z = memchr(r->chunk + r->chunk_pos, 0xff, n - r->chunk_pos);
    r->ff_at = z ? (size_t)(z - r->chunk) : n;
    if (n == 0)
        r->eof = true;
    return 0;
}

int tl_csv_next(tl_csv_reader *r, const tl_csv_record **rec, tl_err *err)
{
    if (!r || !rec)
        return tl_err_set(err, TL_EINVAL, "tl_csv_next: invalid argument");
    if (r->sticky) {
        if (err)
            *err = r->sticky_err;
        return r->sticky;
    }
    r->n_fields = 0;
    r->buf_len = 0;
    r->rec_ready = false;
    char lim[64];

    for (;;) {
        if (r->chunk_pos == r->chunk_len) {
            if (r->finished)
                return 0;
            if (!r->eof) {
                int rc = read_chunk(r, err);
                if (rc < 0)
                    return rc;
                continue;
            }
            /* End of input: flush a last record without a line end. */
            r->finished = true;
            if (r->parser.pstate != ROW_NOT_BEGUN &&
                csv_fini(&r->parser, on_field, on_record, r) != 0)
                return fail(r, err, TL_EPARSE, r->rec_line, r->n_fields + 1,
                            "quoted field is not closed before the end of the input", NULL);
            if (r->cb_err)
                return callback_failure(r, err);
            if (r->rec_ready) {
                finish_record(r, rec);
                return 1;
            }
            return 0;
        }
        if (r->chunk_pos == r->nul_at)
            return fail(r, err, TL_EPARSE, r->line, r->n_fields + 1,
                        "NUL byte in the input (binary data, or text that is not UTF-8?)", NULL);

        const unsigned char *seg = r->chunk + r->chunk_pos;
        size_t avail = r->nul_at - r->chunk_pos;
        const unsigned char *lf = memchr(seg, '\n', avail);
        size_t n = lf ? (size_t)(lf - seg) + 1 : avail;
        const unsigned char *cr = memchr(seg, '\r', n);
        if (cr)
            n = (size_t)(cr - seg) + 1;

        if (r->parser.pstate == ROW_NOT_BEGUN)
            r->rec_line = r->line;
        if (memchr(seg, '"', n)) {
            int rc = scan_quotes(r, seg, n);
            if (rc < 0) {
                cb_fail(r, rc == TL_ENOMEM ? CB_NOMEM : CB_TOO_MANY);
                return callback_failure(r, err);
            }
        }
        if (!r->slow && r->ff_at < r->chunk_pos + n) {
            /* A real 0xFF: the open field so far goes back to real blanks
             * and the rest of the record is read from the original bytes. */
            unmap_blanks(r->parser.entry_buf, r->parser.entry_pos);
            r->slow = true;
            csv_set_space_func(&r->parser, no_space);
        }
        const unsigned char *data = r->slow ? seg : r->mapped + r->chunk_pos;
        size_t used = csv_parse(&r->parser, data, n, on_field, on_record, r);
        if (r->cb_err)
            return callback_failure(r, err);
        if (used < n) {
            if (csv_error(&r->parser) == CSV_EPARSE)
                return fail(r, err, TL_EPARSE, r->line, r->n_fields + 1,
                            "stray quote (a quote inside a field must be doubled and the field "
                            "quoted, and a closing quote must end the field)", NULL);
            return fail(r, err, TL_ENOMEM, r->line, r->n_fields + 1,
                        "out of memory reading the field", NULL);
        }
        /* The open field so far; +1 for a closing quote libcsv keeps until
         * it knows the quote was not doubled. */
        if (r->parser.entry_pos > r->max_field + 1)
            return fail(r, err, TL_ETOOBIG, r->line, r->n_fields + 1, "field is too large",
                        limit_text(r->max_field, lim, sizeof lim));
        r->chunk_pos += n;
        if (seg[n - 1] == '\n')
            r->line++;
        if (r->slow && r->parser.pstate == ROW_NOT_BEGUN) {
            r->slow = false;
            csv_set_space_func(&r->parser, NULL);
        }
        if (r->ff_at < r->chunk_pos) {
            const unsigned char *z =
                memchr(r->chunk + r->chunk_pos, 0xff, r->chunk_len - r->chunk_pos);
            r->ff_at = z ? (size_t)(z - r->chunk) : r->chunk_len;
        }
        if (r->rec_ready) {
            finish_record(r, rec);
            return 1;
        }
    }
}

/* ---- writer -------------------------------------------------------------- */

static bool needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
        return true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ',' || c == '"' || c == '\r' || c == '\n')
            return true;
    }
    return false;
}

int tl_csv_write_field(FILE *fp, const char *s, size_t len)
{
    if (!fp)
        return TL_EINVAL;
    if (!s)
        len = 0;
    if (!needs_quotes(s, len))
        return len == 0 || fwrite(s, 1, len, fp) == len ? 0 : TL_EIO;
    if (putc('"', fp) == EOF)
        return TL_EIO;
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t run = q ? (size_t)(q - p) + 1 : (size_t)(end - p); /* up to and with the quote */
        if (fwrite(p, 1, run, fp) != run)
            return TL_EIO;
        if (q && putc('"', fp) == EOF) /* doubled */
            return TL_EIO;
        p += run;
    }
    return putc('"', fp) == EOF ? TL_EIO : 0;
}

int tl_csv_write_record(FILE *fp, size_t n, const char *const *fields)
{
    if (!fp || (n && !fields))
        return TL_EINVAL;
    /* One empty field alone would be a blank line, which readers skip. */
    if (n == 1 && (!fields[0] || !fields[0][0]))
        return fputs("\"\"\n", fp) == EOF ? TL_EIO : 0;
    for (size_t i = 0; i < n; i++) {
        if (i && putc(',', fp) == EOF)
            return TL_EIO;
        const char *f = fields[i];
        int rc = tl_csv_write_field(fp, f, f ? strlen(f) : 0);
        if (rc < 0)
            return rc;
    }
    return putc('\n', fp) == EOF ? TL_EIO : 0;
}
