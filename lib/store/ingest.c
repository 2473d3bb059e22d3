/*
 * ingest.c - validated, all-or-nothing loading of CSV and JSON Lines.
 *
 * One pass over the input in constant memory: each record is mapped onto the
 * table's columns (schema.c), every field is checked, and valid rows are
 * converted to store values in a batch that goes to the backend's bulk loader
 * every BATCH_ROWS rows. Nothing is kept per row except two sets of ids: the
 * ids already seen in this file (duplicates, self references) and the ids of
 * each referenced table (foreign keys), loaded once before the first row.
 *
 * The whole file is one transaction, opened only after the header is valid:
 * any error rolls it back, so the store is exactly as it was, and a process
 * killed mid-load leaves it as before because nothing commits early.
 *
 * With a keyring attached to the store, PII columns are sealed as they are
 * converted (after their checks, which apply to the plaintext) and blind
 * indexes are computed from the plaintext; nothing personal reaches the
 * backend in the clear. Sealing is deterministic, so loading the same file
 * again writes the same bytes. Derived columns are teller's to compute and
 * are refused in input. Rows of customers erased on request are left as
 * they are: re-ingesting the bank's master file must not bring them back.
 */
#include "internal.h"
#include "core/internal.h"

#include <teller/arena.h>
#include <teller/csv.h>
#include <teller/datetime.h>
#include <teller/ingest.h>
#include <teller/json.h>
#include <teller/keyring.h>
#include <teller/log.h>
#include <teller/money.h>
#include <teller/progress.h>
#include <teller/utf8.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define BATCH_ROWS 2048              /* rows per load_rows call */
#define BATCH_BYTES (8u << 20)       /* or fewer when their text reaches this */
#define ID_MAX 64                    /* TL_COL_ID: 1-64 bytes */
#define SHOW_MAX 60                  /* bytes of a bad value quoted in errors */
#define NUMBUF 48                    /* a JSON number rendered as text */
#define MAX_REFS 8                   /* distinct referenced tables per table */
#define IDSET_MAX_POOL ((size_t)1 << 36) /* 64 GiB of ids: far past any real file */
#define RECBUF_MAX ((size_t)1 << 30) /* a reject record re-serialized */
#define ROW_BAD 1                    /* row_* result: this row is invalid */

/* ------------------------------------------------------------------------ */
/* Hashing and the id set                                                    */

/* An open-addressing set of id strings. The strings live in one pool as
 * [len:1][bytes][line:8 when with_line], so a probe compares the 64-bit hash
 * first and the bytes only on a hash match: no false positives, and about
 * 40 bytes per id for a file of short ids. */
struct idslot {
    uint64_t hash;
    uint64_t off; /* into pool; 0 means an empty slot */
};

struct idset {
    struct idslot *slots;
    size_t cap; /* power of two */
    size_t n;
    char *pool;
    size_t pool_len, pool_cap;
    bool with_line;
};

static int idset_init(struct idset *set, bool with_line)
{
    memset(set, 0, sizeof *set);
    set->with_line = with_line;
    set->cap = 1024;
    set->slots = calloc(set->cap, sizeof *set->slots);
    set->pool_cap = 16 * 1024;
    set->pool = malloc(set->pool_cap);
    if (!set->slots || !set->pool) {
        free(set->slots);
        free(set->pool);
        memset(set, 0, sizeof *set);
        return TL_ENOMEM;
    }
    set->pool_len = 1; /* offset 0 marks empty slots */
    return 0;
}

static void idset_free(struct idset *set)
{
    free(set->slots);
    free(set->pool);
    memset(set, 0, sizeof *set);
}

/* Starts loading the home slot of hash h: the table is far bigger than the
 * caches, and the validation between this and the lookup hides the miss. */
static inline void idset_prefetch(const struct idset *set, uint64_t h)
{
    __builtin_prefetch(&set->slots[(size_t)h & (set->cap - 1)]);
}

/* The slot holding s, or the empty slot where it would go. */
static struct idslot *idset_find(const struct idset *set, const char *s, size_t n, uint64_t h)
{
    size_t mask = set->cap - 1, i = (size_t)h & mask;
    for (;;) {
        struct idslot *sl = &set->slots[i];
        if (!sl->off)
            return sl;
        if (sl->hash == h) {
            const unsigned char *e = (const unsigned char *)set->pool + sl->off;
            if (e[0] == n && memcmp(e + 1, s, n) == 0)
                return sl;
        }
        i = (i + 1) & mask;
    }
}

static uint64_t idset_line(const struct idset *set, const struct idslot *sl)
{
    const unsigned char *e = (const unsigned char *)set->pool + sl->off;
    uint64_t line;
    memcpy(&line, e + 1 + e[0], sizeof line);
    return line;
}

static int idset_grow(struct idset *set)
{
    size_t ncap = set->cap * 2;
    struct idslot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return TL_ENOMEM;
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->slots[i].off)
            continue;
        size_t j = (size_t)set->slots[i].hash & (ncap - 1);
        while (ns[j].off)
            j = (j + 1) & (ncap - 1);
        ns[j] = set->slots[i];
    }
    free(set->slots);
    set->slots = ns;
    set->cap = ncap;
    return 0;
}

/* Adds s at the empty slot sl that idset_find returned for it. */
static int idset_add_at(struct idset *set, struct idslot *sl, const char *s, size_t n, uint64_t h,
                        uint64_t line)
{
    if (n > 255)
        return TL_EINVAL;
    size_t need = 1 + n + (set->with_line ? sizeof line : 0);
    if (set->pool_len + need > set->pool_cap) {
        size_t ncap = set->pool_cap;
        while (set->pool_len + need > ncap)
            ncap *= 2;
        if (ncap > IDSET_MAX_POOL)
            return TL_ETOOBIG;
        char *np = realloc(set->pool, ncap);
        if (!np)
            return TL_ENOMEM;
        set->pool = np;
        set->pool_cap = ncap;
    }
    unsigned char *e = (unsigned char *)set->pool + set->pool_len;
    e[0] = (unsigned char)n;
    memcpy(e + 1, s, n);
    if (set->with_line)
        memcpy(e + 1 + n, &line, sizeof line);
    sl->hash = h;
    sl->off = set->pool_len;
    set->pool_len += need;
    set->n++;
    /* keep the load under 0.6 so probes stay short */
    if (set->n * 5 >= set->cap * 3)
        return idset_grow(set);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Small parsers and formatters                                              */

static inline bool is_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

static bool valid_id(const char *s, size_t n)
{
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_id_char((unsigned char)s[i]))
            return false;
    return true;
}

/* 0, -1 when s is not an integer, -2 when it does not fit in int64. Hand
 * written: strtol would accept spaces and need a NUL. */
static int parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    uint64_t v = 0;
    bool over = false;
    for (; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (over)
        return -2;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -2;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -2;
        *out = (int64_t)v;
    }
    return 0;
}

/* A finite decimal number: digits, sign, point and exponent only, so that
 * strtod's "inf", "nan", hex floats and leading spaces are refused. s must be
 * NUL-terminated at s[n]. */
static bool parse_real(const char *s, size_t n, double *out)
{
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
            return false;
    }
    if (!digit)
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end != s + n || !isfinite(d) || errno == ERANGE)
        return false;
    *out = d;
    return true;
}

static bool ascii_ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/* One '@', a non-empty local part, a dotted domain with no empty labels, and
 * no spaces or control characters anywhere. Deliberately basic: the only way
 * to know an address works is to write to it. */
static bool valid_email(const char *s, size_t n)
{
    size_t at = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f)
            return false;
        if (c == '@') {
            if (at != n)
                return false;
            at = i;
        }
    }
    if (at == n || at == 0 || at + 1 >= n)
        return false;
    const char *d = s + at + 1;
    size_t dn = n - at - 1;
    if (d[0] == '.' || d[dn - 1] == '.' || d[0] == '-')
        return false;
    bool dot = false;
    for (size_t i = 0; i < dn; i++) {
        if (d[i] == '.') {
            if (d[i + 1] == '.')
                return false;
            dot = true;
        }
    }
    return dot;
}

/* Shape of a decimal amount, for saying why tl_money_parse refused it:
 * returns the number of decimals, or -1 when it is not [+-]digits[.digits]. */
static int amount_decimals(const char *s, size_t n)
{
    size_t i = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        i = 1;
    size_t int_digits = 0, dec = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            dec++;
        }
        if (dec == 0)
            return -1;
    }
    if (i != n || int_digits == 0)
        return -1;
    return (int)dec;
}

/* Writes v double-quoted for an error message, cut and escaped by tl__quote
 * so a message is always one safe line. out needs SHOW_SIZE bytes. */
#define SHOW_SIZE (4 * SHOW_MAX + 8)
static void show_value(char *out, const char *v, size_t len)
{
    out[0] = '"';
    tl__quote(out + 1, SHOW_SIZE - 2, v, len);
    size_t n = strlen(out);
    out[n] = '"';
    out[n + 1] = '\0';
}

/* A growable byte buffer with a ceiling. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > ncap)
            ncap *= 2;
        if (ncap > RECBUF_MAX)
            return TL_ETOOBIG;
        char *np = realloc(b->p, ncap);
        if (!np)
            return TL_ENOMEM;
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int buf_put_csv_field(struct buf *b, const char *s, size_t n)
{
    bool q = n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!q)
        return buf_put(b, s, n);
    int rc = buf_put(b, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (s[i] == '"') {
            rc = buf_put(b, s + from, i + 1 - from); /* the quote, then its double */
            from = i;
        }
    }
    if (rc == 0)
        rc = buf_put(b, s + from, n - from);
    if (rc == 0)
        rc = buf_put(b, "\"", 1);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The load                                                                 */

struct field {
    const char *s; /* NUL-terminated at s[len] */
    size_t len;
    bool present;
    bool jreal; /* a JSON number with a fraction or exponent, value in d */
    double d;
};

struct refset {
    const char *table;
    struct idset ids;
};

struct ingest {
    tl_store *s;
    const struct tl_keyring *kr; /* the store's, or NULL: PII stored as given */
    const struct tl_table_spec *t;
    const struct tl_ingest_opts *opts;
    const char *source;
    FILE *in;
    size_t nc;
    int *cur_of;     /* (nc) spec index of a MONEY column's currency column, else -1 */
    int *ref_of;     /* (nc) index into refs of a REF column, else -1 */
    uint64_t *ref_h; /* (nc) hash of a REF field of the current row */
    size_t *order;   /* (nc) validation order: money after its currency */
    char *pii_ctx;   /* (nc, TL__PII_CONTEXT_SIZE) seal context of a PII column, else "" */
    int *bidx_of;    /* (nc) for a blind-index column, spec index of its source, else -1 */
    bool has_bidx;
    const char *erased_col; /* store column marking erased rows, or NULL */
    struct idset erased;    /* ids of erased rows, when erased_col */
    uint64_t rows_erased;   /* rows of erased customers, valid but not loaded */
    struct field *f; /* (nc) the row being validated, by spec index */
    char *numbuf;    /* (nc, NUMBUF) JSON numbers and booleans rendered as text */
    tl_value *batch; /* (BATCH_ROWS, nc) row-major, spec order */
    size_t n_batch;
    tl_arena *arena; /* the batch's text; reset after each load_rows */
    struct idset seen;
    struct refset refs[MAX_REFS];
    size_t n_refs;
    bool in_tx;
    struct tl_store_loader *ld;
    FILE *rej;
    struct buf rec; /* a rejected record, re-serialized */
    tl_progress *prog;
    bool prog_bytes;
    long start_pos;
    uint64_t bytes_read; /* JSONL: counted by the line reader */
    uint64_t rows_read, rows_loaded, rows_rejected;
    char cur_code[4]; /* the last currency found valid, and its exponent */
    int cur_exp;
    /* the current row's error */
    int rerr_code;
    const char *rerr_col; /* column (or JSON key) at fault; NULL for the whole row */
    bool rerr_col_named;  /* the message starts "column NAME: " */
    char rerr_key[72];
    char rerr[512];
};

static int row_err(struct ingest *st, const char *col, int code, const char *fmt, ...)
    TL_PRINTF(4, 5);
static int row_err(struct ingest *st, const char *col, int code, const char *fmt, ...)
{
    st->rerr_code = code;
    st->rerr_col = col;
    st->rerr_col_named = col != NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->rerr, sizeof st->rerr, fmt, ap);
    va_end(ap);
    return ROW_BAD;
}

/* A row error that ends with the offending value quoted. */
static int row_err_v(struct ingest *st, size_t k, const char *what, ...) TL_PRINTF(3, 4);
static int row_err_v(struct ingest *st, size_t k, const char *what, ...)
{
    char msg[256], shown[SHOW_SIZE];
    va_list ap;
    va_start(ap, what);
    vsnprintf(msg, sizeof msg, what, ap);
    va_end(ap);
    show_value(shown, st->f[k].s, st->f[k].len);
    return row_err(st, st->t->columns[k].name, TL_EINVAL, "%s %s", msg, shown);
}

static int copy_text(struct ingest *st, const char *s, size_t n, tl_value *out, tl_err *err)
{
    char *p = tl_arena_strndup(st->arena, s, n);
    if (!p)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory for a batch of rows", st->source);
    *out = TL_TEXTN(p, n);
    return 0;
}

/* The sealed form of a PII value, into the batch. Only customers have PII,
 * so the allocation per value costs nothing next to a transactions load. */
static int copy_pii(struct ingest *st, size_t k, const char *s, size_t n, tl_value *out,
                    tl_err *err)
{
    char *sealed;
    int rc = tl_keyring_seal(st->kr, st->pii_ctx + k * TL__PII_CONTEXT_SIZE, s, n, &sealed, err);
    if (rc < 0) {
        tl_err_prefix(err, "%s", st->source);
        return rc;
    }
    rc = copy_text(st, sealed, strlen(sealed), out, err);
    free(sealed);
    return rc;
}

static bool is_pii(const struct ingest *st, size_t k)
{
    return st->pii_ctx[k * TL__PII_CONTEXT_SIZE] != 0;
}

static void list_values(char *out, size_t size, const char *const *vals)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; vals[i] && o + 1 < size; i++) {
        int w = snprintf(out + o, size - o, "%s%s", i ? ", " : "", vals[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static void list_columns(char *out, size_t size, const struct tl_table_spec *t, bool required_only)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < t->n_columns && o + 1 < size; i++) {
        if ((required_only && !t->columns[i].required) || t->columns[i].derived)
            continue;
        int w = snprintf(out + o, size - o, "%s%s", o ? ", " : "", t->columns[i].name);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Checks one currency field; caches the last valid code because a file
 * usually holds one or two currencies. */
static bool currency_ok(struct ingest *st, const char *s, size_t n)
{
    if (n != 3)
        return false;
    if (memcmp(s, st->cur_code, 3) == 0)
        return true;
    char code[4] = {s[0], s[1], s[2], 0};
    if (!tl_currency_valid(code))
        return false;
    int e = tl_currency_exponent(code);
    if (e < 0)
        return false;
    memcpy(st->cur_code, code, 4);
    st->cur_exp = e;
    return true;
}

/* Validates and converts column k of the current row into *out. Returns 0,
 * ROW_BAD with st->rerr set, or a negative fatal code with err set. */
static int check_field(struct ingest *st, size_t k, tl_value *vals, tl_err *err)
{
    const struct tl_column_spec *c = &st->t->columns[k];
    struct field *fl = &st->f[k];
    tl_value *out = &vals[k];

    if (c->derived) {
        /* refused in the header (CSV) or the row (JSON); computed in row_accept */
        *out = TL_NULLV;
        return 0;
    }
    if (!fl->present || fl->len == 0) {
        if (c->required)
            return row_err(st, c->name, TL_EINVAL, fl->present ? "required, but empty"
                                                                : "required, but missing");
        *out = TL_NULLV;
        return 0;
    }
    const char *s = fl->s;
    size_t n = fl->len;
    size_t bad;
    if (!tl_utf8_valid(s, n, &bad))
        return row_err_v(st, k, "invalid UTF-8 at byte %zu", bad);

    switch (c->type) {
    case TL_COL_ID:
        if (!valid_id(s, n))
            return row_err_v(st, k, "not a valid id (1-64 characters of A-Z a-z 0-9 . _ : -)");
        return copy_text(st, s, n, out, err);

    case TL_COL_TEXT:
        if (c->max_len && n > c->max_len)
            return row_err_v(st, k, "%zu bytes, longer than the %zu allowed", n, c->max_len);
        return is_pii(st, k) ? copy_pii(st, k, s, n, out, err) : copy_text(st, s, n, out, err);

    case TL_COL_INT: {
        int64_t v;
        int rc = parse_i64(s, n, &v);
        if (rc == -1)
            return row_err_v(st, k, "not an integer");
        if (rc < 0 || ((c->min || c->max) && (v < c->min || v > c->max)))
            return row_err_v(st, k, "out of range %" PRId64 "..%" PRId64, c->min, c->max);
        *out = TL_INT(v);
        return 0;
    }

    case TL_COL_REAL: {
        double d;
        if (!parse_real(s, n, &d))
            return row_err_v(st, k, "not a finite number");
        if ((c->min || c->max) && (d < (double)c->min || d > (double)c->max))
            return row_err_v(st, k, "out of range %" PRId64 "..%" PRId64, c->min, c->max);
        *out = TL_REAL(d);
        return 0;
    }

    case TL_COL_BOOL:
        if (ascii_ieq(s, n, "true") || ascii_ieq(s, n, "yes") || (n == 1 && s[0] == '1'))
            *out = TL_INT(1);
        else if (ascii_ieq(s, n, "false") || ascii_ieq(s, n, "no") || (n == 1 && s[0] == '0'))
            *out = TL_INT(0);
        else
            return row_err_v(st, k, "not a boolean (true/false, yes/no, 1/0)");
        return 0;

    case TL_COL_MONEY: {
        const tl_value *cur = &vals[st->cur_of[k]];
        const char *cname = st->t->columns[st->cur_of[k]].name;
        if (cur->type != TL_VAL_TEXT)
            return row_err_v(st, k, "an amount needs a currency, but column %s is empty", cname);
        /* the currency column was validated first, so this hits the cache */
        if (!currency_ok(st, cur->s, cur->len))
            return tl_err_set(err, TL_EINTERNAL, "%s: currency not validated before amount",
                              st->source);
        int e = st->cur_exp;
        char tmp[NUMBUF];
        if (fl->jreal) {
            /* A JSON number is a binary double: accept it only when printing
             * it with the currency's decimals reads back as the same double,
             * i.e. it was written with at most that many decimals. */
            double lim = 9.0e15;
            for (int i = 0; i < e; i++)
                lim /= 10;
            int w = snprintf(tmp, sizeof tmp, "%.*f", e, fl->d);
            if (!(fabs(fl->d) < lim) || w <= 0 || (size_t)w >= sizeof tmp ||
                strtod(tmp, NULL) != fl->d)
                return row_err_v(st, k,
                                 "JSON number is not an exact %s amount with at most %d decimals "
                                 "(write amounts as strings)",
                                 st->cur_code, e);
            s = tmp;
            n = (size_t)w;
        }
        int64_t minor;
        tl_err perr = {0};
        if (tl_money_parse(s, n, st->cur_code, &minor, &perr) < 0) {
            int dec = amount_decimals(s, n);
            if (dec > e)
                return row_err_v(st, k, "%d decimals, but %s allows %d", dec, st->cur_code, e);
            if (dec >= 0)
                return row_err_v(st, k, "amount out of range");
            return row_err_v(st, k, "not a decimal amount (like -12.30)");
        }
        *out = TL_INT(minor);
        return 0;
    }

    case TL_COL_CURRENCY:
        if (!currency_ok(st, s, n))
            return row_err_v(st, k, "not an ISO 4217 currency code");
        return copy_text(st, s, n, out, err);

    case TL_COL_TIMESTAMP: {
        int64_t ms;
        tl_err perr = {0};
        if (tl_time_parse(s, n, &ms, &perr) < 0)
            return row_err_v(st, k, "not an ISO 8601 timestamp (like 2026-03-01T12:30:00Z)");
        *out = TL_INT(ms);
        return 0;
    }

    case TL_COL_DATE: {
        int32_t days;
        tl_err perr = {0};
        char d[16];
        if (tl_date_parse(s, n, &days, &perr) < 0)
            return row_err_v(st, k, "not a date YYYY-MM-DD");
        int w = tl_date_format(days, d, sizeof d);
        if (w <= 0)
            return row_err_v(st, k, "date out of range");
        return copy_text(st, d, (size_t)w, out, err);
    }

    case TL_COL_ENUM:
        for (size_t i = 0; c->enum_values[i]; i++) {
            const char *ev = c->enum_values[i];
            if (strncmp(ev, s, n) == 0 && ev[n] == 0) {
                *out = TL_TEXTN(ev, n); /* static: no copy */
                return 0;
            }
        }
        {
            char list[320];
            list_values(list, sizeof list, c->enum_values);
            return row_err_v(st, k, "not one of %s:", list);
        }

    case TL_COL_REF: {
        if (!valid_id(s, n))
            return row_err_v(st, k, "not a valid id (1-64 characters of A-Z a-z 0-9 . _ : -)");
        uint64_t h = st->ref_h[k]; /* valid ids are short, so row_accept hashed it */
        struct refset *r = &st->refs[st->ref_of[k]];
        if (idset_find(&r->ids, s, n, h)->off)
            return copy_text(st, s, n, out, err);
        if (strcmp(c->ref_table, st->t->name) == 0) {
            /* a self reference may also point at an earlier row of this file,
             * or at the row itself */
            const struct field *id = &st->f[0];
            if (idset_find(&st->seen, s, n, h)->off || (id->len == n && memcmp(id->s, s, n) == 0))
                return copy_text(st, s, n, out, err);
            char shown[SHOW_SIZE];
            show_value(shown, s, n);
            return row_err(st, c->name, TL_EINVAL,
                           "unknown %s id %s (not in the store, nor earlier in this file)",
                           c->ref_table, shown);
        }
        char shown[SHOW_SIZE];
        show_value(shown, s, n);
        return row_err(st, c->name, TL_EINVAL, "unknown %s id %s (load %s first)", c->ref_table,
                       shown, c->ref_table);
    }

    case TL_COL_EMAIL:
        if ((c->max_len && n > c->max_len) || !valid_email(s, n))
            return row_err_v(st, k, "not an email address");
        return is_pii(st, k) ? copy_pii(st, k, s, n, out, err) : copy_text(st, s, n, out, err);

    case TL_COL_COUNTRY:
        if (n != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
            return row_err_v(st, k,
                             "not an ISO 3166-1 alpha-2 country code (two upper-case letters)");
        return copy_text(st, s, n, out, err);
    }
    return tl_err_set(err, TL_EINTERNAL, "%s: column %s has an unknown type %d", st->source,
                      c->name, (int)c->type);
}

static int flush_batch(struct ingest *st, uint64_t line, tl_err *err)
{
    if (st->n_batch) {
        int rc = st->s->ops->load_rows(st->ld, st->n_batch, st->batch, err);
        if (rc < 0) {
            tl_err_prefix(err, "%s: loading the rows before line %" PRIu64, st->source, line);
            return rc;
        }
        st->rows_loaded += st->n_batch;
        st->n_batch = 0;
        tl_arena_reset(st->arena);
    }
    if (st->prog) {
        if (st->prog_bytes) {
            long pos = st->bytes_read ? (long)st->bytes_read : ftell(st->in) - st->start_pos;
            if (pos >= 0)
                tl_progress_update(st->prog, (uint64_t)pos);
        } else {
            tl_progress_update(st->prog, st->rows_read);
        }
    }
    return 0;
}

/* Computes the blind-index columns of a validated row from the plaintext
 * fields (their values in vals are sealed by now). */
static int fill_bidx(struct ingest *st, tl_value *vals, tl_err *err)
{
    for (size_t k = 0; k < st->nc; k++) {
        int src = st->bidx_of[k];
        if (src < 0)
            continue;
        const struct field *fl = &st->f[src];
        vals[k] = TL_NULLV;
        if (vals[src].type == TL_VAL_NULL)
            continue;
        char hex[65];
        int rc = tl__bidx_value(st->kr, st->t->name, st->t->columns[src].name, fl->s, fl->len,
                                hex);
        if (rc < 0)
            return tl_err_set(err, TL_EINTERNAL, "%s: cannot index column %s", st->source,
                              st->t->columns[src].name);
        if (rc == 0 && (rc = copy_text(st, hex, 64, &vals[k], err)) < 0)
            return rc;
    }
    return 0;
}

/* Validates the row in st->f (line `line`) and appends it to the batch. */
static int row_accept(struct ingest *st, uint64_t line, tl_err *err)
{
    size_t nc = st->nc;
    tl_value *vals = st->batch + st->n_batch * nc;
    const struct field *raw = &st->f[0];
    uint64_t h = 0;
    if (raw->present && raw->len <= ID_MAX) {
        h = tl__hash_bytes(raw->s, raw->len);
        idset_prefetch(&st->seen, h);
    }
    for (size_t k = 1; k < nc; k++) {
        const struct field *fl = &st->f[k];
        if (st->ref_of[k] >= 0 && fl->present && fl->len <= ID_MAX) {
            st->ref_h[k] = tl__hash_bytes(fl->s, fl->len);
            idset_prefetch(&st->refs[st->ref_of[k]].ids, st->ref_h[k]);
        }
    }
    for (size_t i = 0; i < nc; i++) {
        int rc = check_field(st, st->order[i], vals, err);
        if (rc)
            return rc;
    }
    /* the id is required and valid by now, so h is its hash */
    const char *id = vals[0].s;
    size_t n = vals[0].len;
    struct idslot *sl = idset_find(&st->seen, id, n, h);
    if (sl->off) {
        char shown[SHOW_SIZE];
        show_value(shown, id, n);
        return row_err(st, st->t->columns[0].name, TL_EINVAL,
                       "duplicate id %s (first at line %" PRIu64 ")", shown,
                       idset_line(&st->seen, sl));
    }
    int rc = idset_add_at(&st->seen, sl, id, n, h, line);
    if (rc < 0)
        return tl_err_set(err, rc, "%s:%" PRIu64 ": too many ids to check for duplicates",
                          st->source, line);
    if (st->erased_col && idset_find(&st->erased, id, n, h)->off) {
        st->rows_erased++;
        return 0;
    }
    if (st->has_bidx && (rc = fill_bidx(st, vals, err)) < 0)
        return rc;
    st->n_batch++;
    if (st->n_batch == BATCH_ROWS || tl_arena_used(st->arena) >= BATCH_BYTES)
        return flush_batch(st, line, err);
    return 0;
}

/* After row_accept (or a syntax check) said ROW_BAD: reject the row when
 * there is a reject file, else fail the whole load with the message. The raw
 * record is either CSV fields or one JSON line. */
static int row_rejected(struct ingest *st, uint64_t line, const tl_csv_record *rec,
                        const char *raw, size_t raw_len, tl_err *err)
{
    if (!st->rej) {
        if (st->rerr_col_named)
            return tl_err_set(err, st->rerr_code, "%s:%" PRIu64 ": column %s: %s", st->source,
                              line, st->rerr_col, st->rerr);
        return tl_err_set(err, st->rerr_code, "%s:%" PRIu64 ": %s", st->source, line, st->rerr);
    }
    st->rec.len = 0;
    int rc = 0;
    if (rec) {
        for (size_t i = 0; i < rec->n_fields && rc == 0; i++) {
            if (i)
                rc = buf_put(&st->rec, ",", 1);
            if (rc == 0)
                rc = buf_put_csv_field(&st->rec, rec->fields[i], rec->lens[i]);
        }
    } else {
        rc = buf_put(&st->rec, raw, raw_len);
    }
    if (rc == 0 && !st->rec.p)
        rc = buf_put(&st->rec, "", 0);
    if (rc < 0)
        return tl_err_set(err, rc, "%s:%" PRIu64 ": record too large for the reject file",
                          st->source, line);
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, line);
    const char *fields[4] = {num, st->rerr_col ? st->rerr_col : "", st->rerr, st->rec.p};
    if (tl_csv_write_record(st->rej, 4, fields) < 0)
        return tl_err_set(err, TL_EIO, "%s: cannot write the reject file %s: %s", st->source,
                          st->opts->reject_path, strerror(errno));
    st->rows_rejected++;
    return 0;
}

struct exists_ud {
    bool any;
};

static int on_exists(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    ((struct exists_ud *)ud)->any = true;
    return 1;
}

struct ids_ud {
    struct idset *set;
    int rc;
};

static int on_id(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct ids_ud *u = ud;
    if (n_cols < 1 || cols[0].type != TL_VAL_TEXT || cols[0].len > 255)
        return 0; /* cannot match a valid id anyway */
    uint64_t h = tl__hash_bytes(cols[0].s, cols[0].len);
    struct idslot *sl = idset_find(u->set, cols[0].s, cols[0].len, h);
    if (sl->off)
        return 0;
    u->rc = idset_add_at(u->set, sl, cols[0].s, cols[0].len, h, 0);
    return u->rc < 0;
}

/* Opens the transaction, loads the referenced ids and starts the loader. */
static int load_begin(struct ingest *st, tl_err *err)
{
    int rc = tl_store_begin(st->s, err);
    if (rc < 0)
        return rc;
    st->in_tx = true;

    char sql[160];
    struct exists_ud ex = {false};
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1", st->t->name);
    if ((rc = tl_store_exec(st->s, sql, 0, NULL, on_exists, &ex, err)) < 0)
        return rc;

    for (size_t i = 0; i < st->n_refs; i++) {
        struct ids_ud u = {&st->refs[i].ids, 0};
        snprintf(sql, sizeof sql, "SELECT id FROM %s", st->refs[i].table);
        if ((rc = tl_store_exec(st->s, sql, 0, NULL, on_id, &u, err)) < 0)
            return rc;
        if (u.rc < 0)
            return tl_err_set(err, u.rc, "%s: too many %s ids to hold in memory", st->source,
                              st->refs[i].table);
    }
    if (st->erased_col && ex.any) {
        struct ids_ud u = {&st->erased, 0};
        snprintf(sql, sizeof sql, "SELECT id FROM %s WHERE %s IS NOT NULL", st->t->name,
                 st->erased_col);
        if ((rc = tl_store_exec(st->s, sql, 0, NULL, on_id, &u, err)) < 0)
            return rc;
        if (u.rc < 0)
            return tl_err_set(err, u.rc, "%s: too many erased %s ids to hold in memory",
                              st->source, st->t->name);
    }
    return st->s->ops->load_begin(st->s, st->t, !ex.any, &st->ld, err);
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                      */

static int run_csv(struct ingest *st, tl_err *err)
{
    tl_csv_reader *r;
    int rc = tl_csv_reader_open(st->in, st->source, st->opts->max_field_bytes, &r, err);
    if (rc < 0)
        return rc;
    const tl_csv_record *rec;
    size_t *map = NULL; /* header position -> spec index */
    rc = tl_csv_next(r, &rec, err);
    if (rc == 0)
        rc = tl_err_set(err, TL_EINVAL, "%s: empty file, expected a header row", st->source);
    if (rc < 0)
        goto out;
    rc = 0;

    size_t nh = rec->n_fields;
    uint64_t hline = rec->line;
    map = malloc((nh ? nh : 1) * sizeof *map);
    int *where = calloc(st->nc, sizeof *where); /* spec index -> header position + 1 */
    if (!map || !where) {
        free(where);
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", st->source);
        goto out;
    }
    for (size_t i = 0; i < nh && rc == 0; i++) {
        char shown[SHOW_SIZE];
        show_value(shown, rec->fields[i], rec->lens[i]);
        int k = -1;
        for (size_t j = 0; j < st->nc; j++) {
            const char *name = st->t->columns[j].name;
            if (strlen(name) == rec->lens[i] && memcmp(name, rec->fields[i], rec->lens[i]) == 0) {
                k = (int)j;
                break;
            }
        }
        if (k < 0) {
            char cols[512];
            list_columns(cols, sizeof cols, st->t, false);
            rc = tl_err_set(err, TL_EINVAL, "%s:%" PRIu64 ": unknown column %s; %s has: %s",
                            st->source, hline, shown, st->t->name, cols);
        } else if (st->t->columns[k].derived) {
            rc = tl_err_set(err, TL_EINVAL,
                            "%s:%" PRIu64 ": column %s is computed by teller and cannot be loaded",
                            st->source, hline, st->t->columns[k].name);
        } else if (where[k]) {
            rc = tl_err_set(err, TL_EINVAL,
                            "%s:%" PRIu64 ": duplicate column %s in the header (fields %d and %zu)",
                            st->source, hline, shown, where[k], i + 1);
        } else {
            where[k] = (int)i + 1;
            map[i] = (size_t)k;
        }
    }
    for (size_t j = 0; j < st->nc && rc == 0; j++) {
        if (st->t->columns[j].required && !where[j]) {
            char cols[512];
            list_columns(cols, sizeof cols, st->t, true);
            rc = tl_err_set(err, TL_EINVAL,
                            "%s:%" PRIu64 ": missing required column \"%s\" (%s needs: %s)",
                            st->source, hline, st->t->columns[j].name, st->t->name, cols);
        }
    }
    free(where);
    /* From here on the reader's own errors (an oversized field, broken
     * quoting) name the column too. Header fields are valid until the next
     * tl_csv_next, and set_names copies them. */
    if (rc == 0)
        rc = tl_csv_reader_set_names(r, nh, rec->fields);
    if (rc < 0)
        goto out;

    if ((rc = load_begin(st, err)) < 0)
        goto out;

    uint64_t last_line = hline;
    while ((rc = tl_csv_next(r, &rec, err)) > 0) {
        st->rows_read++;
        last_line = rec->line;
        int vr;
        if (rec->n_fields != nh) {
            vr = row_err(st, NULL, TL_EINVAL, "expected %zu fields, found %zu", nh, rec->n_fields);
        } else {
            for (size_t j = 0; j < st->nc; j++)
                st->f[j].present = false;
            for (size_t i = 0; i < nh; i++) {
                struct field *fl = &st->f[map[i]];
                fl->s = rec->fields[i];
                fl->len = rec->lens[i];
                fl->present = true;
                fl->jreal = false;
            }
            vr = row_accept(st, rec->line, err);
        }
        if (vr == ROW_BAD)
            vr = row_rejected(st, rec->line, rec, NULL, 0, err);
        if (vr < 0) {
            rc = vr;
            break;
        }
    }
    /* A header and nothing else is most often a truncated export, so it is
     * refused rather than "loaded" as zero rows. */
    if (rc == 0 && st->rows_read == 0)
        rc = tl_err_set(err, TL_EINVAL, "%s: header only, no data rows", st->source);
    if (rc == 0)
        rc = flush_batch(st, last_line + 1, err);
out:
    free(map);
    tl_csv_reader_close(r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* JSON Lines                                                               */

struct linereader {
    FILE *in;
    char *buf;
    size_t cap, start, end, max;
    bool eof;
    uint64_t bytes;
};

/* Returns 1 with the next line in [*line, *line + *len) (NUL-terminated, no
 * newline), 0 at the end, or TL_ETOOBIG / TL_EIO. */
static int lr_next(struct linereader *lr, char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
        if (nl || (lr->eof && lr->start < lr->end)) {
            char *p = lr->buf + lr->start;
            size_t n = nl ? (size_t)(nl - p) : lr->end - lr->start;
            lr->start += n + (nl ? 1 : 0);
            lr->bytes += n + (nl ? 1 : 0);
            p[n] = 0; /* the newline, or the spare byte kept past end */
            if (n && p[n - 1] == '\r')
                p[--n] = 0;
            *line = p;
            *len = n;
            return 1;
        }
        if (lr->eof)
            return 0;
        if (lr->start) {
            memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
            lr->end -= lr->start;
            lr->start = 0;
        }
        if (lr->end + 1 >= lr->cap) {
            if (lr->cap > lr->max)
                return TL_ETOOBIG;
            size_t ncap = lr->cap * 2;
            char *nb = realloc(lr->buf, ncap);
            if (!nb)
                return TL_ENOMEM;
            lr->buf = nb;
            lr->cap = ncap;
        }
        size_t got = fread(lr->buf + lr->end, 1, lr->cap - 1 - lr->end, lr->in);
        lr->end += got;
        if (got == 0) {
            if (ferror(lr->in))
                return TL_EIO;
            lr->eof = true;
        }
    }
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Maps one JSON object onto st->f. Strings are used as they are; numbers and
 * booleans become their text where the column's type takes them, so that the
 * same checks as for CSV apply. */
static int json_row(struct ingest *st, json_t *obj)
{
    for (size_t j = 0; j < st->nc; j++)
        st->f[j].present = false;
    const char *key;
    json_t *v;
    size_t guess = 0; /* keys usually come in spec order (as export writes them) */
    json_object_foreach(obj, key, v) {
        int k = -1;
        if (guess < st->nc && strcmp(st->t->columns[guess].name, key) == 0) {
            k = (int)guess;
        } else {
            for (size_t j = 0; j < st->nc; j++) {
                if (strcmp(st->t->columns[j].name, key) == 0) {
                    k = (int)j;
                    break;
                }
            }
        }
        guess = (size_t)k + 1;
        if (k < 0) {
            char shown[SHOW_SIZE], cols[400];
            show_value(shown, key, strlen(key));
            list_columns(cols, sizeof cols, st->t, false);
            snprintf(st->rerr_key, sizeof st->rerr_key, "%s", key);
            row_err(st, st->rerr_key, TL_EINVAL, "unknown key %s; %s has: %s", shown,
                    st->t->name, cols);
            st->rerr_col_named = false; /* not a column: the reject file still names it */
            return ROW_BAD;
        }
        const struct tl_column_spec *c = &st->t->columns[k];
        if (c->derived)
            return row_err(st, NULL, TL_EINVAL, "column %s is computed by teller and cannot be "
                           "loaded", c->name);
        struct field *fl = &st->f[k];
        char *nb = st->numbuf + (size_t)k * NUMBUF;
        fl->present = true;
        fl->jreal = false;
        enum tl_col_type ty = c->type;
        bool numeric = ty == TL_COL_INT || ty == TL_COL_REAL || ty == TL_COL_MONEY;
        bool id_like = ty == TL_COL_ID || ty == TL_COL_REF || ty == TL_COL_TEXT;
        const char *want = "a string";
        switch (json_typeof(v)) {
        case JSON_STRING:
            fl->s = json_string_value(v);
            fl->len = json_string_length(v);
            continue;
        case JSON_NULL:
            fl->present = false;
            continue;
        case JSON_INTEGER:
            if (!numeric && !id_like)
                break;
            fl->len = (size_t)snprintf(nb, NUMBUF, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            fl->s = nb;
            continue;
        case JSON_REAL:
            if (!numeric)
                break;
            fl->d = json_real_value(v);
            fl->jreal = ty == TL_COL_MONEY;
            fl->len = (size_t)tl__format_real(fl->d, nb, NUMBUF);
            fl->s = nb;
            continue;
        case JSON_TRUE:
        case JSON_FALSE:
            if (ty != TL_COL_BOOL)
                break;
            fl->len = (size_t)snprintf(nb, NUMBUF, "%s", json_is_true(v) ? "true" : "false");
            fl->s = nb;
            continue;
        default:
            break;
        }
        if (ty == TL_COL_BOOL)
            want = "true, false or a string";
        else if (numeric)
            want = "a number or a string";
        return row_err(st, c->name, TL_EINVAL, "expected %s, found %s", want, json_kind(v));
    }
    return 0;
}

static int run_jsonl(struct ingest *st, tl_err *err)
{
    size_t maxf = st->opts->max_field_bytes ? st->opts->max_field_bytes : TL_CSV_DEFAULT_MAX_FIELD;
    struct linereader lr = {.in = st->in, .cap = 64 * 1024};
    lr.max = maxf * st->nc + 64 * 1024;
    if (lr.max > ((size_t)1 << 30))
        lr.max = (size_t)1 << 30;
    lr.buf = malloc(lr.cap);
    if (!lr.buf)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", st->source);

    int rc = 0;
    uint64_t lineno = 0;
    bool begun = false;
    char *line;
    size_t len;
    for (;;) {
        int lrc = lr_next(&lr, &line, &len);
        if (lrc == TL_ETOOBIG)
            rc = tl_err_set(err, lrc, "%s:%" PRIu64 ": line longer than %zu bytes", st->source,
                            lineno + 1, lr.max);
        else if (lrc == TL_EIO)
            rc = tl_err_set(err, lrc, "%s:%" PRIu64 ": read error: %s", st->source, lineno + 1,
                            strerror(errno));
        else if (lrc < 0)
            rc = tl_err_set(err, lrc, "%s: out of memory", st->source);
        if (lrc <= 0)
            break;
        lineno++;
        if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            continue; /* blank line */
        if (!begun) {
            if ((rc = load_begin(st, err)) < 0)
                break;
            begun = true;
        }
        st->rows_read++;
        st->bytes_read = lr.bytes;
        json_error_t je;
        json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
        int vr;
        if (!obj) {
            char why[TL__QUOTE_SIZE * 3]; /* jansson echoes raw input bytes */
            tl__quote(why, sizeof why, je.text, strnlen(je.text, sizeof je.text));
            vr = row_err(st, NULL, TL_EPARSE, "invalid JSON at column %d: %s", je.column, why);
        } else if (!json_is_object(obj))
            vr = row_err(st, NULL, TL_EINVAL, "expected a JSON object, found %s", json_kind(obj));
        else if ((vr = json_row(st, obj)) == 0)
            vr = row_accept(st, lineno, err);
        if (vr == ROW_BAD)
            vr = row_rejected(st, lineno, NULL, line, len, err);
        json_decref(obj);
        if (vr < 0) {
            rc = vr;
            break;
        }
    }
    if (rc == 0 && !begun)
        rc = tl_err_set(err, TL_EINVAL, "%s: empty file, expected one JSON object per line",
                        st->source);
    if (rc == 0)
        rc = flush_batch(st, lineno + 1, err);
    free(lr.buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */

static bool has_json_ext(const char *name)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot || strchr(dot, '/'))
        return false;
    return strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0 ||
           strcasecmp(dot, ".json") == 0;
}

static int ingest_setup(struct ingest *st, tl_err *err)
{
    const struct tl_table_spec *t = st->t;
    size_t nc = t->n_columns;
    st->nc = nc;
    if (!TL_ALWAYS(nc > 0 && t->columns[0].type == TL_COL_ID))
        return tl_err_set(err, TL_EINTERNAL, "table %s has no id column first", t->name);
    st->cur_of = malloc(nc * sizeof *st->cur_of);
    st->ref_of = malloc(nc * sizeof *st->ref_of);
    st->ref_h = calloc(nc, sizeof *st->ref_h);
    st->order = malloc(nc * sizeof *st->order);
    st->pii_ctx = calloc(nc, TL__PII_CONTEXT_SIZE);
    st->bidx_of = malloc(nc * sizeof *st->bidx_of);
    st->f = calloc(nc, sizeof *st->f);
    st->numbuf = malloc(nc * NUMBUF);
    st->batch = malloc((size_t)BATCH_ROWS * nc * sizeof *st->batch);
    st->arena = tl_arena_new(1u << 20, 0);
    if (!st->cur_of || !st->ref_of || !st->ref_h || !st->order || !st->pii_ctx || !st->bidx_of ||
        !st->f || !st->numbuf || !st->batch || !st->arena)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    int rc = idset_init(&st->seen, true);
    if (rc < 0)
        return tl_err_set(err, rc, "out of memory");

    size_t no = 0;
    for (size_t k = 0; k < nc; k++) {
        const struct tl_column_spec *c = &t->columns[k];
        st->cur_of[k] = -1;
        st->ref_of[k] = -1;
        st->bidx_of[k] = -1;
        if (st->kr && c->pii)
            tl__pii_context(t, c, st->pii_ctx + k * TL__PII_CONTEXT_SIZE, TL__PII_CONTEXT_SIZE);
        const char *src = c->derived && st->kr ? tl__bidx_source(t->name, c->name) : NULL;
        if (src) {
            st->bidx_of[k] = tl_schema_column_index(t, src);
            if (!TL_ALWAYS(st->bidx_of[k] >= 0))
                return tl_err_set(err, TL_EINTERNAL, "column %s.%s indexes no column", t->name,
                                  c->name);
            st->has_bidx = true;
        }
        if (c->derived && strcmp(c->name, "erased_at") == 0) {
            st->erased_col = tl_schema_db_name(c);
            if ((rc = idset_init(&st->erased, false)) < 0)
                return tl_err_set(err, rc, "out of memory");
        }
        if (c->type == TL_COL_MONEY) {
            int ci = c->currency_col ? tl_schema_column_index(t, c->currency_col) : -1;
            if (!TL_ALWAYS(ci >= 0 && t->columns[ci].type == TL_COL_CURRENCY))
                return tl_err_set(err, TL_EINTERNAL, "column %s.%s has no currency column",
                                  t->name, c->name);
            st->cur_of[k] = ci;
        } else {
            st->order[no++] = k;
        }
        if (c->type == TL_COL_REF) {
            if (!TL_ALWAYS(c->ref_table && tl_schema_table(c->ref_table)))
                return tl_err_set(err, TL_EINTERNAL, "column %s.%s references no table",
                                  t->name, c->name);
            size_t r = 0;
            while (r < st->n_refs && strcmp(st->refs[r].table, c->ref_table) != 0)
                r++;
            if (r == st->n_refs) {
                if (!TL_ALWAYS(r < MAX_REFS))
                    return tl_err_set(err, TL_EINTERNAL, "table %s references too many tables",
                                      t->name);
                st->refs[r].table = c->ref_table;
                if ((rc = idset_init(&st->refs[r].ids, false)) < 0)
                    return tl_err_set(err, rc, "out of memory");
                st->n_refs++;
            }
            st->ref_of[k] = (int)r;
        }
    }
    /* amounts last: their currency must be known (and its error wins) */
    for (size_t k = 0; k < nc; k++)
        if (t->columns[k].type == TL_COL_MONEY)
            st->order[no++] = k;
    return 0;
}

static void ingest_cleanup(struct ingest *st)
{
    free(st->cur_of);
    free(st->ref_of);
    free(st->ref_h);
    free(st->order);
    free(st->pii_ctx);
    free(st->bidx_of);
    if (st->erased_col)
        idset_free(&st->erased);
    free(st->f);
    free(st->numbuf);
    free(st->batch);
    tl_arena_free(st->arena);
    idset_free(&st->seen);
    for (size_t i = 0; i < st->n_refs; i++)
        idset_free(&st->refs[i].ids);
    free(st->rec.p);
}

/* The spec of an ingestible table, or NULL with err naming the valid ones. */
static const struct tl_table_spec *ingest_table(const char *table, const char *source, tl_err *err)
{
    const struct tl_table_spec *t = tl_schema_table(table);
    if (t && t->ingestible)
        return t;
    char names[400];
    size_t o = 0;
    names[0] = 0;
    for (size_t i = 0; i < tl_schema_table_count() && o + 1 < sizeof names; i++) {
        const struct tl_table_spec *ti = tl_schema_table_at(i);
        if (!ti->ingestible)
            continue;
        int w = snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", ti->name);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    tl_err_set(err, TL_EINVAL, "%s: %s table \"%s\"; tables to ingest: %s", source,
               t ? "cannot ingest the system" : "unknown", table ? table : "(null)", names);
    return NULL;
}

int tl_ingest_stream(tl_store *s, FILE *in, const char *source, const struct tl_ingest_opts *opts,
                     struct tl_ingest_result *res, tl_err *err)
{
    int64_t t0 = tl_time_mono_ns();
    tl_err local;
    if (!err)
        err = &local;
    if (res)
        memset(res, 0, sizeof *res);
    if (!s || !in || !opts)
        return tl_err_set(err, TL_EINVAL, "ingest: missing store, input or options");
    if (!source)
        source = "<input>";
    const struct tl_table_spec *t = ingest_table(opts->table, source, err);
    if (!t)
        return TL_EINVAL;
    enum tl_format fmt = opts->format;
    if (fmt == TL_FORMAT_AUTO)
        fmt = has_json_ext(source) ? TL_FORMAT_JSONL : TL_FORMAT_CSV;

    struct ingest st = {.s = s, .kr = s->keyring, .t = t, .opts = opts, .source = source, .in = in};
    int rc = ingest_setup(&st, err);
    bool rej_created = false;
    struct stat rsb, isb;
    if (rc == 0 && opts->reject_path && stat(opts->reject_path, &rsb) == 0 &&
        fstat(fileno(in), &isb) == 0 && rsb.st_dev == isb.st_dev && rsb.st_ino == isb.st_ino)
        rc = tl_err_set(err, TL_EINVAL, "%s: the reject file %s is the input itself", source,
                        opts->reject_path);
    if (rc == 0 && opts->reject_path) {
        st.rej = fopen(opts->reject_path, "wb");
        if (!st.rej)
            rc = tl_err_set(err, TL_EIO, "cannot create the reject file %s: %s",
                            opts->reject_path, strerror(errno));
        else {
            rej_created = true;
            if (fputs("line,column,error,record\n", st.rej) < 0)
                rc = tl_err_set(err, TL_EIO, "cannot write the reject file %s: %s",
                                opts->reject_path, strerror(errno));
        }
    }
    if (rc == 0) {
        struct stat sb;
        uint64_t total = 0;
        st.start_pos = ftell(in);
        if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) && st.start_pos >= 0 &&
            sb.st_size >= st.start_pos) {
            st.prog_bytes = true;
            total = (uint64_t)(sb.st_size - st.start_pos);
        }
        char label[96];
        snprintf(label, sizeof label, "ingest %s", t->name);
        st.prog = tl_progress_new(label, total, st.prog_bytes ? "bytes" : "rows", opts->quiet);
        if (st.start_pos < 0)
            st.start_pos = 0;

        rc = fmt == TL_FORMAT_JSONL ? run_jsonl(&st, err) : run_csv(&st, err);
    }

    if (rc == 0) {
        rc = s->ops->load_end(st.ld, true, err);
        st.ld = NULL;
        if (rc < 0)
            tl_err_prefix(err, "%s", source);
    }
    /* the rejects are complete on disk before the good rows commit */
    if (rc == 0 && st.rej) {
        bool bad = ferror(st.rej) != 0;
        if (fclose(st.rej) != 0 || bad)
            rc = tl_err_set(err, TL_EIO, "cannot write the reject file %s: %s",
                            opts->reject_path, bad ? "write error" : strerror(errno));
        st.rej = NULL;
    }
    if (rc == 0) {
        rc = tl_store_commit(s, err);
        if (rc == 0)
            st.in_tx = false;
        else
            tl_err_prefix(err, "%s", source);
    }
    if (rc < 0) {
        tl_err scratch = {0};
        if (st.ld)
            s->ops->load_end(st.ld, false, &scratch);
        if (st.in_tx)
            tl_store_rollback(s, &scratch);
    }
    if (st.prog)
        tl_progress_finish(st.prog);
    if (st.rej)
        fclose(st.rej);
    /* nothing was loaded, so a partial list of rejects would mislead */
    if (rc < 0 && rej_created)
        remove(opts->reject_path);
    if (res) {
        res->rows_read = st.rows_read;
        res->rows_loaded = rc < 0 ? 0 : st.rows_loaded;
        res->rows_rejected = st.rows_rejected;
        res->seconds = (double)(tl_time_mono_ns() - t0) / 1e9;
    }
    if (rc == 0)
        tl_log(TL_LOG_INFO, "ingest",
               "%s: %" PRIu64 " rows loaded into %s, %" PRIu64 " rejected", source,
               st.rows_loaded, t->name, st.rows_rejected);
    if (rc == 0 && st.rows_erased)
        tl_log(TL_LOG_WARN, "ingest",
               "%s: %" PRIu64 " rows of %s erased on request were left erased, not reloaded",
               source, st.rows_erased, t->name);
    ingest_cleanup(&st);
    return rc;
}

int tl_ingest_file(tl_store *s, const struct tl_ingest_opts *opts, struct tl_ingest_result *res,
                   tl_err *err)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!s || !opts || !opts->path)
        return tl_err_set(err, TL_EINVAL, "ingest: missing store, options or path");
    tl_err local;
    if (!err)
        err = &local;
    if (!ingest_table(opts->table, opts->path, err))
        return TL_EINVAL;
    struct tl_ingest_opts o = *opts;
    if (strcmp(opts->path, "-") == 0) {
        if (o.format == TL_FORMAT_AUTO)
            o.format = TL_FORMAT_CSV;
        return tl_ingest_stream(s, stdin, "<stdin>", &o, res, err);
    }
    FILE *in = fopen(opts->path, "rb");
    if (!in)
        return tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, "cannot open %s: %s",
                          opts->path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(in), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(in);
        return tl_err_set(err, TL_EINVAL, "cannot ingest %s: it is a directory", opts->path);
    }
    if (o.format == TL_FORMAT_AUTO)
        o.format = has_json_ext(opts->path) ? TL_FORMAT_JSONL : TL_FORMAT_CSV;
    int rc = tl_ingest_stream(s, in, opts->path, &o, res, err);
    fclose(in);
    return rc;
}
