/*
 * frame.c - tables of text cells for training and scoring (see ml_data.h).
 *
 * A frame keeps cells as text because type inference happens later, in the
 * encoder, over whole columns: "007" in an ID column and "7" in an amount
 * column are the same number but not the same fact. Cells are copied into
 * large blocks (1 MiB, or one block for an oversized cell) with one pointer
 * per cell, so a 1M x 25 file costs 200 MB of pointers plus its bytes and
 * one malloc per megabyte, not one per cell. Blocks never move, which is
 * what lets tl_frame_cell hand out borrowed pointers that survive appends.
 *
 * The cell parsers shared by encode.c and woe.c live here too (internal.h).
 */
#include <teller/ml_data.h>

#include <teller/csv.h>
#include <teller/datetime.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "ml/internal.h"

#define BLOCK_BYTES (1u << 20)

struct tl__frame_block {
    struct tl__frame_block *next;
    size_t used, cap;
    char data[];
};

/* ---- cell parsers ----------------------------------------------------------*/
const char *const tl__bool_pairs[TL__BOOL_PAIRS][2] = {
    {"0", "1"}, {"false", "true"}, {"no", "yes"}, {"n", "y"},
};

bool tl__ml_missing(const char *s)
{
    if (!s || !*s)
        return true;
    static const char *const tokens[] = {"NA", "N/A", "NaN", "nan", "null", "NULL", "?"};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (strcmp(s, tokens[i]) == 0)
            return true;
    return false;
}

/* Plain decimals ("-12", "3.25") with at most 15 significant digits and no
 * exponent, exactly as strtod reads them: the digits make an integer below
 * 2^53 and the power of ten is exact up to 10^22, so one correctly rounded
 * division gives the nearest double, strtod's answer (Clinger's fast path).
 * false for anything else, which strtod then reads. Most cells of a bank's
 * tables take this path, and strtod was most of the cost of encoding. */
static bool parse_plain_decimal(const char *s, double *out)
{
    static const double P10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t m = 0;
    int digits = 0, frac = -1;
    bool any = false;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            any = true;
            if (m == 0 && *p == '0') { /* leading zeros are not significant */
                if (frac >= 0)
                    frac++;
                continue;
            }
            if (++digits > 15)
                return false;
            m = m * 10 + (uint64_t)(*p - '0');
            if (frac >= 0)
                frac++;
        } else if (*p == '.' && frac < 0) {
            frac = 0;
        } else {
            return false;
        }
    }
    if (!any || frac > 22)
        return false;
    double d = frac > 0 ? (double)m / P10[frac] : (double)m;
    *out = neg ? -d : d;
    return true;
}

bool tl__ml_parse_num(const char *s, double *out)
{
    /* strtod alone would take " 12", "0x1p3", "inf" and "nan"; a column of
     * those is not a column of amounts. */
    if (!s || !*s)
        return false;
    if (parse_plain_decimal(s, out))
        return true;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' || *p == 'e' ||
              *p == 'E'))
            return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(d))
        return false;
    *out = d;
    return true;
}

bool tl__ml_parse_date(const char *s, double *days)
{
    if (!s || (s[0] < '0' || s[0] > '9'))
        return false;
    size_t len = strlen(s);
    tl_err scratch;
    if (len == 10) {
        int32_t d;
        if (tl_date_parse(s, len, &d, &scratch) < 0)
            return false;
        *days = d;
        return true;
    }
    if (len < 16 || len > 40)
        return false;
    int64_t ms;
    if (tl_time_parse(s, len, &ms, &scratch) < 0)
        return false;
    int64_t q = ms / 86400000, r = ms % 86400000;
    if (r < 0)
        q--;
    *days = (double)q;
    return true;
}

int tl__ml_bool_pair(const char *s, bool *is_true)
{
    if (!s)
        return -1;
    for (int p = 0; p < TL__BOOL_PAIRS; p++)
        for (int t = 0; t < 2; t++)
            if (strcasecmp(s, tl__bool_pairs[p][t]) == 0) {
                *is_true = t == 1;
                return p;
            }
    return -1;
}

long tl__ml_level_find(char *const *levels, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(levels[mid], s);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- storage ---------------------------------------------------------------*/
static char *frame_strdup(tl_frame *f, const char *s, size_t len)
{
    struct tl__frame_block *b = f->blocks;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > BLOCK_BYTES / 4 ? len + 1 : BLOCK_BYTES;
        struct tl__frame_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (cap == BLOCK_BYTES || !b) {
            nb->next = b;
            f->blocks = nb;
        } else {
            /* An oversized cell gets a block of its own behind the current
             * one, so the space left in the current block is not lost. */
            nb->next = b->next;
            b->next = nb;
        }
        b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

static tl_frame *frame_alloc(void)
{
    return calloc(1, sizeof(tl_frame));
}

void tl_frame_free(tl_frame *f)
{
    if (!f)
        return;
    for (struct tl__frame_block *b = f->blocks, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(f->names);
    free((void *)f->cells);
    free(f);
}

static int set_names(tl_frame *f, size_t n, const char *const *names, const size_t *lens,
                     const char *source, tl_err *err)
{
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "%s: the header names no column", source);
    if (n > TL_FRAME_MAX_COLS)
        return tl_err_set(err, TL_ETOOBIG, "%s: %zu columns, more than the %u a frame holds",
                          source, n, TL_FRAME_MAX_COLS);
    f->names = calloc(n, sizeof *f->names);
    if (!f->names)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", source);
    f->n_cols = n;
    char q[TL__QUOTE_SIZE];
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(names[i]);
        if (len == 0)
            return tl_err_set(err, TL_EINVAL, "%s: column %zu has an empty name", source, i + 1);
        if (memchr(names[i], '\0', len))
            return tl_err_set(err, TL_EINVAL, "%s: column %zu has a NUL in its name", source,
                              i + 1);
        f->names[i] = frame_strdup(f, names[i], len);
        if (!f->names[i])
            return tl_err_set(err, TL_ENOMEM, "%s: out of memory", source);
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->names[j], f->names[i]) == 0)
                return tl_err_set(err, TL_EINVAL,
                                  "%s: column name \"%s\" appears twice (columns %zu and %zu)",
                                  source, tl__quote(q, sizeof q, names[i], len), j + 1, i + 1);
    }
    return 0;
}

/* Room for one more row; the pointer array grows by half again. */
static int grow_rows(tl_frame *f, const char *source, tl_err *err)
{
    if (f->n_rows < f->cap_rows)
        return 0;
    if (f->n_rows >= TL_FRAME_MAX_ROWS)
        return tl_err_set(err, TL_ETOOBIG, "%s: more than %u rows", source, TL_FRAME_MAX_ROWS);
    size_t cap = f->cap_rows ? f->cap_rows + f->cap_rows / 2 : 256;
    if (cap > TL_FRAME_MAX_ROWS)
        cap = TL_FRAME_MAX_ROWS;
    const char **c = realloc((void *)f->cells, cap * f->n_cols * sizeof *c);
    if (!c)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory at row %zu", source, f->n_rows + 1);
    f->cells = c;
    f->cap_rows = cap;
    return 0;
}

/* ---- building ---------------------------------------------------------------*/
int tl_frame_new(size_t n_cols, const char *const *names, tl_frame **out, tl_err *err)
{
    if (!names || !out)
        return tl_err_set(err, TL_EINVAL, "tl_frame_new: names and out are required");
    for (size_t i = 0; i < n_cols; i++)
        if (!names[i])
            return tl_err_set(err, TL_EINVAL, "tl_frame_new: column %zu has no name", i + 1);
    tl_frame *f = frame_alloc();
    if (!f)
        return tl_err_set(err, TL_ENOMEM, "tl_frame_new: out of memory");
    int rc = set_names(f, n_cols, names, NULL, "frame", err);
    if (rc < 0) {
        tl_frame_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int tl_frame_append(tl_frame *f, const char *const *cells, tl_err *err)
{
    if (!f || !cells)
        return tl_err_set(err, TL_EINVAL, "tl_frame_append: frame and cells are required");
    int rc = grow_rows(f, "frame", err);
    if (rc < 0)
        return rc;
    const char **row = f->cells + f->n_rows * f->n_cols;
    for (size_t c = 0; c < f->n_cols; c++) {
        row[c] = NULL;
        if (cells[c] && !(row[c] = frame_strdup(f, cells[c], strlen(cells[c]))))
            return tl_err_set(err, TL_ENOMEM, "frame: out of memory at row %zu", f->n_rows + 1);
    }
    f->n_rows++;
    return 0;
}

int tl_frame_read_csv(const char *path, tl_frame **out, tl_err *err)
{
    if (!path || !out)
        return tl_err_set(err, TL_EINVAL, "tl_frame_read_csv: path and out are required");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, "%s: cannot open: %s",
                          path, strerror(errno));
    tl_csv_reader *r = NULL;
    int rc = tl_csv_reader_open(fp, path, 0, &r, err);
    if (rc < 0) {
        fclose(fp);
        return rc;
    }
    tl_frame *f = frame_alloc();
    if (!f) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const tl_csv_record *rec;
    rc = tl_csv_next(r, &rec, err);
    if (rc == 0) {
        rc = tl_err_set(err, TL_EINVAL, "%s: empty file, no header row", path);
        goto done;
    }
    if (rc < 0)
        goto done;
    if ((rc = set_names(f, rec->n_fields, rec->fields, rec->lens, path, err)) < 0)
        goto done;
    if ((rc = tl_csv_reader_set_names(r, f->n_cols, (const char *const *)f->names)) < 0) {
        tl_err_set(err, rc, "%s: out of memory", path);
        goto done;
    }
    while ((rc = tl_csv_next(r, &rec, err)) > 0) {
        if (rec->n_fields != f->n_cols) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%" PRIu64 ": %zu fields, the header has %zu", path,
                            rec->line, rec->n_fields, f->n_cols);
            goto done;
        }
        if ((rc = grow_rows(f, path, err)) < 0)
            goto done;
        const char **row = f->cells + f->n_rows * f->n_cols;
        for (size_t c = 0; c < f->n_cols; c++) {
            /* Only a quoted "" is kept as an empty text; everything that
             * spells missing is stored as missing once, here. */
            if (tl__ml_missing(rec->fields[c])) {
                row[c] = NULL;
                continue;
            }
            if (!(row[c] = frame_strdup(f, rec->fields[c], rec->lens[c]))) {
                rc = tl_err_set(err, TL_ENOMEM, "%s:%" PRIu64 ": out of memory", path, rec->line);
                goto done;
            }
        }
        f->n_rows++;
    }
done:
    tl_csv_reader_close(r);
    fclose(fp);
    if (rc < 0) {
        tl_frame_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

struct query_state {
    tl_frame *f;
    int rc;
    tl_err *err;
};

static int on_query_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct query_state *st = ud;
    tl_frame *f = st->f;
    if (!f->names) {
        if ((st->rc = set_names(f, n_cols, names, NULL, "query", st->err)) < 0)
            return 1;
    }
    if ((st->rc = grow_rows(f, "query", st->err)) < 0)
        return 1;
    const char **row = f->cells + f->n_rows * f->n_cols;
    char num[40];
    for (size_t c = 0; c < n_cols; c++) {
        const char *s = NULL;
        size_t len = 0;
        switch (cols[c].type) {
        case TL_VAL_NULL:
            break;
        case TL_VAL_INT:
            len = (size_t)snprintf(num, sizeof num, "%" PRId64, cols[c].i);
            s = num;
            break;
        case TL_VAL_REAL:
            len = (size_t)snprintf(num, sizeof num, "%.17g", cols[c].d);
            s = num;
            break;
        case TL_VAL_TEXT:
            s = cols[c].s;
            len = cols[c].len;
            if (memchr(s, '\0', len)) {
                st->rc = tl_err_set(st->err, TL_EINVAL,
                                    "query: row %zu, column \"%s\": text holds a NUL byte",
                                    f->n_rows + 1, f->names[c]);
                return 1;
            }
            break;
        default:
            st->rc = tl_err_set(st->err, TL_EUNSUPPORTED,
                                "query: row %zu, column \"%s\": a blob cannot be a frame cell",
                                f->n_rows + 1, f->names[c]);
            return 1;
        }
        row[c] = NULL;
        if (s && !(row[c] = frame_strdup(f, s, len))) {
            st->rc = tl_err_set(st->err, TL_ENOMEM, "query: out of memory at row %zu", f->n_rows + 1);
            return 1;
        }
    }
    f->n_rows++;
    return 0;
}

int tl_frame_from_query(tl_store *s, const char *sql, size_t n_params, const tl_value *params,
                        tl_frame **out, tl_err *err)
{
    if (!s || !sql || !out)
        return tl_err_set(err, TL_EINVAL, "tl_frame_from_query: store, sql and out are required");
    struct query_state st = {.f = frame_alloc(), .err = err};
    if (!st.f)
        return tl_err_set(err, TL_ENOMEM, "query: out of memory");
    int rc = tl_store_exec(s, sql, n_params, params, on_query_row, &st, err);
    if (st.rc < 0)
        rc = st.rc;
    if (rc < 0) {
        tl_frame_free(st.f);
        return rc;
    }
    /* A query with no rows says nothing about its columns (the store
     * reports names with rows): the frame then has none either. */
    *out = st.f;
    return 0;
}

/* ---- reading -----------------------------------------------------------------*/
size_t tl_frame_rows(const tl_frame *f)
{
    return f ? f->n_rows : 0;
}

size_t tl_frame_cols(const tl_frame *f)
{
    return f ? f->n_cols : 0;
}

const char *tl_frame_name(const tl_frame *f, size_t col)
{
    return f && col < f->n_cols ? f->names[col] : NULL;
}

int tl_frame_col(const tl_frame *f, const char *name)
{
    if (!f || !name)
        return -1;
    for (size_t c = 0; c < f->n_cols; c++)
        if (strcmp(f->names[c], name) == 0)
            return (int)c;
    return -1;
}

const char *tl_frame_cell(const tl_frame *f, size_t row, size_t col)
{
    if (!f || row >= f->n_rows || col >= f->n_cols)
        return NULL;
    return f->cells[row * f->n_cols + col];
}

/* ---- labels ------------------------------------------------------------------*/
int tl_frame_label(const tl_frame *f, const char *col, const char *positive, uint8_t **y,
                   tl_err *err)
{
    if (!f || !col || !y)
        return tl_err_set(err, TL_EINVAL, "tl_frame_label: frame, column and y are required");
    char q[TL__QUOTE_SIZE], q2[TL__QUOTE_SIZE];
    int c = tl_frame_col(f, col);
    if (c < 0)
        return tl_err_set(err, TL_EINVAL, "label column \"%s\" is not in the data",
                          tl__quote(q, sizeof q, col, strlen(col)));
    if (f->n_rows == 0)
        return tl_err_set(err, TL_EINVAL, "label column \"%s\": the data has no rows", col);
    /* The distinct values, up to a few: enough to decide and to list. */
    enum { SEEN_MAX = 8 };
    const char *seen[SEEN_MAX];
    size_t n_seen = 0;
    bool more = false;
    for (size_t r = 0; r < f->n_rows; r++) {
        const char *s = f->cells[r * f->n_cols + (size_t)c];
        if (tl__ml_missing(s))
            return tl_err_set(err, TL_EINVAL, "label column \"%s\" is missing in data row %zu", col,
                              r + 1);
        size_t i = 0;
        while (i < n_seen && strcmp(seen[i], s) != 0)
            i++;
        if (i == n_seen) {
            if (n_seen < SEEN_MAX)
                seen[n_seen++] = s;
            else
                more = true;
        }
    }
    /* Without a positive value, every value seen must spell one boolean
     * pair, in any case ("No", "no", "YES"), with both truths present. */
    int pair = -1;
    if (!positive && !more) {
        bool truth[2] = {false, false};
        for (size_t i = 0; i < n_seen; i++) {
            bool t;
            int p = tl__ml_bool_pair(seen[i], &t);
            if (p < 0 || (i && p != pair)) {
                pair = -1;
                break;
            }
            pair = p;
            truth[t] = true;
        }
        if (!truth[0] || !truth[1])
            pair = -1;
    }
    if (!positive && n_seen == 1)
        return tl_err_set(err, TL_EINVAL, "label column \"%s\" has one class only: every row is \"%s\"",
                          col, tl__quote(q, sizeof q, seen[0], strlen(seen[0])));
    if (!positive) {
        if (pair < 0) {
            char list[256];
            size_t o = 0;
            list[0] = '\0';
            for (size_t i = 0; i < n_seen && o < sizeof list; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", i ? ", " : "",
                                      tl__quote(q, sizeof q, seen[i], strlen(seen[i])));
            return tl_err_set(err, TL_EINVAL,
                              "label column \"%s\": say which value is positive; values seen: %s%s",
                              col, list, more ? ", ..." : "");
        }
    }
    uint8_t *v = malloc(f->n_rows);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "label column \"%s\": out of memory", col);
    size_t n_pos = 0;
    for (size_t r = 0; r < f->n_rows; r++) {
        const char *cell = f->cells[r * f->n_cols + (size_t)c];
        bool t = false;
        if (positive)
            t = strcmp(cell, positive) == 0;
        else
            tl__ml_bool_pair(cell, &t);
        v[r] = t;
        n_pos += v[r];
    }
    if (n_pos == 0 || n_pos == f->n_rows) {
        free(v);
        return tl_err_set(err, TL_EINVAL,
                          "label column \"%s\" has one class only: %s rows with positive \"%s\"",
                          col, n_pos ? "all" : "no",
                          positive ? tl__quote(q2, sizeof q2, positive, strlen(positive)) : "(auto)");
    }
    *y = v;
    return 0;
}

/* ---- fingerprint -----------------------------------------------------------*/
static void hash_text(crypto_hash_sha256_state *st, const char *s)
{
    unsigned char tag[9];
    if (!s) {
        tag[0] = 0;
        crypto_hash_sha256_update(st, tag, 1);
        return;
    }
    uint64_t len = strlen(s);
    tag[0] = 1;
    for (int i = 0; i < 8; i++)
        tag[1 + i] = (unsigned char)(len >> (8 * i));
    crypto_hash_sha256_update(st, tag, 9);
    crypto_hash_sha256_update(st, (const unsigned char *)s, len);
}

void tl_frame_fingerprint(const tl_frame *f, char hex[65])
{
    /* Each text is length-prefixed and missing has its own tag, so no two
     * different tables (shifted cells, "" vs missing) hash alike. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char dims[16];
    uint64_t r = f ? f->n_rows : 0, c = f ? f->n_cols : 0;
    for (int i = 0; i < 8; i++) {
        dims[i] = (unsigned char)(r >> (8 * i));
        dims[8 + i] = (unsigned char)(c >> (8 * i));
    }
    crypto_hash_sha256_update(&st, dims, sizeof dims);
    for (size_t j = 0; j < c; j++)
        hash_text(&st, f->names[j]);
    for (size_t k = 0; k < r * c; k++)
        hash_text(&st, f->cells[k]);
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, d);
    sodium_bin2hex(hex, 65, d, sizeof d);
}
