/*
 * export.c - writing a table back out in the format ingest reads, and the
 * per-table figures of `teller stats`.
 *
 * Export is the inverse of ingest, column for column: money in minor units
 * becomes a decimal string with the currency's exponent, epoch milliseconds
 * become ISO 8601 UTC, booleans true/false, NULL an empty CSV field or a JSON
 * null. Ingesting an export therefore rewrites every row with the values it
 * already has, which leaves tl_store_checksum unchanged.
 *
 * PII is opened with the store's keyring (ingest sealed it; sealing is
 * deterministic, so reloading the plaintext writes the same sealed bytes),
 * and derived columns are left out, as ingest computes them.
 */
#include "internal.h"
#include "core/internal.h"

#include <teller/datetime.h>
#include <teller/ingest.h>
#include <teller/money.h>

#include <sodium.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Export                                                                   */

struct exporter {
    FILE *out;   /* the file export, or NULL */
    json_t *arr; /* the JSON export (tl__export_json), or NULL */
    tl_store *s;
    const struct tl_table_spec *t;
    enum tl_format format;
    size_t n_sel;
    size_t *sel;  /* (n_sel) spec index of each selected column, in spec order */
    int *cur_pos; /* (n_sel) for a MONEY column, position of its currency in sel, else -1 */
    char *ctx;    /* (n_sel, TL__PII_CONTEXT_SIZE) context of a PII column, else "" */
    uint64_t rows;
    int rc;
    tl_err *err;
};

/* A value as text for any column, whatever type the backend returned it as. */
static int value_text(const tl_value *v, char *buf, size_t size, const char **s, size_t *n)
{
    switch (v->type) {
    case TL_VAL_TEXT:
    case TL_VAL_BLOB:
        *s = v->s;
        *n = v->len;
        return 0;
    case TL_VAL_INT:
        *n = (size_t)snprintf(buf, size, "%" PRId64, v->i);
        *s = buf;
        return 0;
    case TL_VAL_REAL:
        *n = (size_t)snprintf(buf, size, "%.17g", v->d);
        *s = buf;
        return 0;
    case TL_VAL_NULL:
        break;
    }
    return -1;
}

/* An integer column, whatever type the backend returned it as. */
static bool value_int(const tl_value *v, int64_t *out)
{
    if (v->type == TL_VAL_INT) {
        *out = v->i;
        return true;
    }
    if (v->type == TL_VAL_REAL && v->d == floor(v->d) && fabs(v->d) < 9.2e18) {
        *out = (int64_t)v->d;
        return true;
    }
    if (v->type == TL_VAL_TEXT && v->len > 0 && v->len < 24) {
        char tmp[24], *end;
        memcpy(tmp, v->s, v->len);
        tmp[v->len] = 0;
        errno = 0;
        long long x = strtoll(tmp, &end, 10);
        if (errno == 0 && *end == 0) {
            *out = x;
            return true;
        }
    }
    return false;
}

static bool value_real(const tl_value *v, double *out)
{
    if (v->type == TL_VAL_REAL) {
        *out = v->d;
        return true;
    }
    if (v->type == TL_VAL_INT) {
        *out = (double)v->i;
        return true;
    }
    if (v->type == TL_VAL_TEXT && v->len > 0 && v->len < 64) {
        char tmp[64], *end;
        memcpy(tmp, v->s, v->len);
        tmp[v->len] = 0;
        *out = strtod(tmp, &end);
        return *end == 0;
    }
    return false;
}

static void put_csv(FILE *out, const char *s, size_t n)
{
    /* libcsv trims unquoted leading and trailing blanks, so quote those too */
    bool q = n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!q) {
        fwrite_unlocked(s, 1, n, out);
        return;
    }
    putc_unlocked('"', out);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            fwrite_unlocked(s + from, 1, i + 1 - from, out);
            from = i; /* the quote is written again: "" */
        }
    }
    fwrite_unlocked(s + from, 1, n - from, out);
    putc_unlocked('"', out);
}

static void put_json_string(FILE *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    putc_unlocked('"', out);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fwrite_unlocked(s + from, 1, i - from, out);
        from = i + 1;
        putc_unlocked('\\', out);
        switch (c) {
        case '"': putc_unlocked('"', out); break;
        case '\\': putc_unlocked('\\', out); break;
        case '\n': putc_unlocked('n', out); break;
        case '\r': putc_unlocked('r', out); break;
        case '\t': putc_unlocked('t', out); break;
        default:
            fputs_unlocked("u00", out);
            putc_unlocked(hex[c >> 4], out);
            putc_unlocked(hex[c & 15], out);
        }
    }
    fwrite_unlocked(s + from, 1, n - from, out);
    putc_unlocked('"', out);
}

static int bad_value(struct exporter *ex, const tl_value *id, const struct tl_column_spec *c,
                     const char *why)
{
    char idbuf[32];
    const char *ids = "?";
    size_t idn = 1;
    if (value_text(id, idbuf, sizeof idbuf, &ids, &idn) < 0) {
        ids = "?";
        idn = 1;
    }
    if (idn > 64)
        idn = 64;
    ex->rc = tl_err_set(ex->err, TL_EINVAL, "export %s: row id \"%.*s\": column %s: %s",
                        ex->t->name, (int)idn, ids, c->name, why);
    return 1;
}

/* One value as export writes it. */
enum vkind { VK_NULL, VK_STRING, VK_INT, VK_REAL, VK_BOOL };
struct fmtval {
    enum vkind kind;
    const char *s; /* the text form, for every kind but VK_NULL */
    size_t n;
    int64_t i; /* VK_INT, VK_BOOL */
    double d;  /* VK_REAL */
    char buf[64];
    char *plain; /* an opened PII value (malloc'd), freed by fmt_done */
};

static void fmt_done(struct fmtval *f)
{
    free(f->plain);
    f->plain = NULL;
}

/* Formats selected column j of a row into *f: 0, or 1 with ex->rc set. */
static int fmt_value(struct exporter *ex, size_t j, const tl_value *cols, struct fmtval *f)
{
    const struct tl_column_spec *c = &ex->t->columns[ex->sel[j]];
    const tl_value *v = &cols[j];
    f->plain = NULL;
    f->kind = VK_STRING;
    if (v->type == TL_VAL_NULL) {
        f->kind = VK_NULL;
        return 0;
    }
    int64_t i;
    double d;
    switch (c->type) {
    case TL_COL_INT:
        if (!value_int(v, &i))
            return bad_value(ex, &cols[0], c, "not an integer in the store");
        f->n = (size_t)snprintf(f->buf, sizeof f->buf, "%" PRId64, i);
        f->s = f->buf;
        f->i = i;
        f->kind = VK_INT;
        return 0;
    case TL_COL_BOOL:
        if (!value_int(v, &i))
            return bad_value(ex, &cols[0], c, "not a boolean in the store");
        f->s = i ? "true" : "false";
        f->n = strlen(f->s);
        f->i = i != 0;
        f->kind = VK_BOOL;
        return 0;
    case TL_COL_REAL:
        if (!value_real(v, &d) || !isfinite(d))
            return bad_value(ex, &cols[0], c, "not a finite number in the store");
        f->n = (size_t)tl__format_real(d, f->buf, sizeof f->buf);
        f->s = f->buf;
        f->d = d;
        f->kind = VK_REAL;
        return 0;
    case TL_COL_MONEY: {
        const tl_value *cur = &cols[ex->cur_pos[j]];
        char code[4] = {0};
        if (cur->type != TL_VAL_TEXT || cur->len != 3)
            return bad_value(ex, &cols[0], c, "an amount without a currency in the store");
        memcpy(code, cur->s, 3);
        int w;
        if (!value_int(v, &i) || (w = tl_money_format(i, code, f->buf, sizeof f->buf)) < 0)
            return bad_value(ex, &cols[0], c, "an amount that cannot be formatted");
        f->n = (size_t)w;
        f->s = f->buf;
        return 0;
    }
    case TL_COL_TIMESTAMP: {
        int w;
        if (!value_int(v, &i) || (w = tl_time_format(i, f->buf, sizeof f->buf)) < 0)
            return bad_value(ex, &cols[0], c, "a timestamp that cannot be formatted");
        f->n = (size_t)w;
        f->s = f->buf;
        return 0;
    }
    default:
        if (value_text(v, f->buf, sizeof f->buf, &f->s, &f->n) < 0)
            return bad_value(ex, &cols[0], c, "an unexpected value in the store");
        if (ex->ctx[j * TL__PII_CONTEXT_SIZE]) {
            const char *id = cols[0].type == TL_VAL_TEXT ? cols[0].s : "?";
            size_t n;
            int rc = tl__pii_open(ex->s, ex->ctx + j * TL__PII_CONTEXT_SIZE, id, v, &f->plain, &n,
                                  ex->err);
            if (rc < 0) {
                ex->rc = rc;
                tl_err_prefix(ex->err, "export %s", ex->t->name);
                return 1;
            }
            if (f->plain) {
                f->s = f->plain;
                f->n = n;
            }
        }
        return 0;
    }
}

static int check_width(struct exporter *ex, size_t n_cols)
{
    if (n_cols == ex->n_sel)
        return 0;
    ex->rc = tl_err_set(ex->err, TL_EINTERNAL, "export %s: the store returned %zu columns, "
                        "expected %zu", ex->t->name, n_cols, ex->n_sel);
    return 1;
}

static int on_export_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct exporter *ex = ud;
    FILE *out = ex->out;
    bool csv = ex->format != TL_FORMAT_JSONL;
    if (check_width(ex, n_cols))
        return 1;
    if (!csv)
        putc_unlocked('{', out);
    for (size_t j = 0; j < n_cols; j++) {
        const struct tl_column_spec *c = &ex->t->columns[ex->sel[j]];
        if (j)
            putc_unlocked(',', out);
        if (!csv) {
            put_json_string(out, c->name, strlen(c->name));
            putc_unlocked(':', out);
        }
        struct fmtval f;
        if (fmt_value(ex, j, cols, &f))
            return 1;
        if (f.kind == VK_NULL) {
            if (!csv)
                fputs_unlocked("null", out);
        } else if (csv) {
            put_csv(out, f.s, f.n);
        } else if (f.kind == VK_STRING) {
            put_json_string(out, f.s, f.n);
        } else {
            fwrite_unlocked(f.s, 1, f.n, out);
        }
        if (f.plain) {
            /* the plaintext is flushed from this buffer to the file: do not
             * leave a copy of it in freed memory either */
            sodium_memzero(f.plain, f.n);
        }
        fmt_done(&f);
    }
    if (!csv)
        putc_unlocked('}', out);
    putc_unlocked('\n', out);
    ex->rows++;
    if (ferror(out)) {
        ex->rc = tl_err_set(ex->err, TL_EIO, "export %s: write error: %s", ex->t->name,
                            strerror(errno));
        return 1;
    }
    return 0;
}

static int on_json_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct exporter *ex = ud;
    if (check_width(ex, n_cols))
        return 1;
    json_t *obj = json_object();
    if (!obj || json_array_append_new(ex->arr, obj) < 0) {
        ex->rc = tl_err_set(ex->err, TL_ENOMEM, "export %s: out of memory", ex->t->name);
        return 1;
    }
    for (size_t j = 0; j < n_cols; j++) {
        const struct tl_column_spec *c = &ex->t->columns[ex->sel[j]];
        struct fmtval f;
        if (fmt_value(ex, j, cols, &f))
            return 1;
        json_t *v = NULL;
        switch (f.kind) {
        case VK_NULL: v = json_null(); break;
        case VK_STRING: v = json_stringn(f.s, f.n); break;
        case VK_INT: v = json_integer(f.i); break;
        case VK_REAL: v = json_real(f.d); break;
        case VK_BOOL: v = json_boolean(f.i); break;
        }
        if (f.plain)
            sodium_memzero(f.plain, f.n);
        fmt_done(&f);
        if (!v || json_object_set_new(obj, c->name, v) < 0) {
            ex->rc = tl_err_set(ex->err, v ? TL_ENOMEM : TL_EINVAL,
                                "export %s: column %s: %s", ex->t->name, c->name,
                                v ? "out of memory" : "not valid UTF-8");
            return 1;
        }
    }
    ex->rows++;
    return 0;
}

/* Prepares ex for table t: the selected columns (derived ones only when
 * with_derived) and "SELECT ... FROM t" into *sql (malloc'd). */
static int exporter_init(struct exporter *ex, tl_store *s, const struct tl_table_spec *t,
                         bool with_derived, const char *where, char **sql, tl_err *err)
{
    size_t nc = t->n_columns;
    ex->s = s;
    ex->t = t;
    ex->err = err;
    ex->sel = malloc(nc * sizeof *ex->sel);
    ex->cur_pos = malloc(nc * sizeof *ex->cur_pos);
    ex->ctx = calloc(nc, TL__PII_CONTEXT_SIZE);
    size_t sql_size = 96 + strlen(t->name) + (where ? strlen(where) : 0);
    for (size_t k = 0; k < nc; k++)
        sql_size += strlen(tl_schema_db_name(&t->columns[k])) + 2;
    *sql = malloc(sql_size);
    if (!ex->sel || !ex->cur_pos || !ex->ctx || !*sql)
        return tl_err_set(err, TL_ENOMEM, "export %s: out of memory", t->name);
    size_t o = (size_t)snprintf(*sql, sql_size, "SELECT ");
    for (size_t k = 0; k < nc; k++) {
        const struct tl_column_spec *c = &t->columns[k];
        if (c->derived && !with_derived)
            continue;
        size_t j = ex->n_sel++;
        ex->sel[j] = k;
        ex->cur_pos[j] = -1;
        if (c->pii)
            tl__pii_context(t, c, ex->ctx + j * TL__PII_CONTEXT_SIZE, TL__PII_CONTEXT_SIZE);
        o += (size_t)snprintf(*sql + o, sql_size - o, "%s%s", j ? ", " : "",
                              tl_schema_db_name(c));
    }
    for (size_t j = 0; j < ex->n_sel; j++) {
        const struct tl_column_spec *c = &t->columns[ex->sel[j]];
        if (c->type != TL_COL_MONEY)
            continue;
        int ci = c->currency_col ? tl_schema_column_index(t, c->currency_col) : -1;
        for (size_t q = 0; ci >= 0 && q < ex->n_sel; q++)
            if (ex->sel[q] == (size_t)ci)
                ex->cur_pos[j] = (int)q;
        if (!TL_ALWAYS(ex->cur_pos[j] >= 0))
            return tl_err_set(err, TL_EINTERNAL, "export %s: column %s has no currency column",
                              t->name, c->name);
    }
    /* Byte order on both engines: PostgreSQL would otherwise sort by the
     * database's locale and the two backends would export differently. */
    bool pg = strcmp(tl_store_backend(s), "postgres") == 0;
    snprintf(*sql + o, sql_size - o, " FROM %s%s%s ORDER BY id%s", t->name, where ? " WHERE " : "",
             where ? where : "", pg ? " COLLATE \"C\"" : "");
    return 0;
}

static void exporter_free(struct exporter *ex)
{
    free(ex->sel);
    free(ex->cur_pos);
    free(ex->ctx);
}

int tl_export(tl_store *s, const char *table, FILE *out, enum tl_format format, uint64_t *rows,
              tl_err *err)
{
    tl_err local;
    if (!err)
        err = &local;
    if (rows)
        *rows = 0;
    if (!s || !out)
        return tl_err_set(err, TL_EINVAL, "export: missing store or output");
    const struct tl_table_spec *t = tl_schema_table(table);
    if (!t)
        return tl_err_set(err, TL_EINVAL, "export: unknown table \"%s\"", table ? table : "(null)");
    if (!t->ingestible)
        return tl_err_set(err, TL_EINVAL, "export: %s is a system table, not bank data",
                          t->name);
    if (format == TL_FORMAT_AUTO)
        format = TL_FORMAT_CSV;

    /* derived columns are left out: ingest refuses them */
    struct exporter ex = {.out = out, .format = format};
    char *sql = NULL;
    int rc = exporter_init(&ex, s, t, false, NULL, &sql, err);

    flockfile(out);
    if (rc == 0 && format == TL_FORMAT_CSV) {
        for (size_t j = 0; j < ex.n_sel; j++) {
            const char *name = t->columns[ex.sel[j]].name;
            if (j)
                putc_unlocked(',', out);
            put_csv(out, name, strlen(name));
        }
        putc_unlocked('\n', out);
    }
    if (rc == 0) {
        rc = tl_store_exec(s, sql, 0, NULL, on_export_row, &ex, err);
        if (rc == 0)
            rc = ex.rc;
    }
    funlockfile(out);
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = tl_err_set(err, TL_EIO, "export %s: write error: %s", t->name, strerror(errno));
    if (rows)
        *rows = ex.rows;
    exporter_free(&ex);
    free(sql);
    return rc;
}

int tl__export_json(tl_store *s, const struct tl_table_spec *t, const char *where,
                    size_t n_params, const tl_value *params, json_t *arr, tl_err *err)
{
    if (!s || !t || !arr)
        return tl_err_set(err, TL_EINVAL, "export: missing store, table or output");
    struct exporter ex = {.arr = arr, .format = TL_FORMAT_JSONL};
    char *sql = NULL;
    int rc = exporter_init(&ex, s, t, true, where, &sql, err);
    if (rc == 0) {
        rc = tl_store_exec(s, sql, n_params, params, on_json_row, &ex, err);
        if (rc == 0)
            rc = ex.rc;
    }
    exporter_free(&ex);
    free(sql);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Stats                                                                    */

struct sums_ud {
    struct tl_table_stats *st;
    const char *column;
    int rc;
    tl_err *err;
};

static int on_sum(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct sums_ud *u = ud;
    int64_t sum;
    if (n_cols < 2 || cols[0].type != TL_VAL_TEXT || cols[0].len != 3)
        return 0;
    if (!value_int(&cols[1], &sum))
        return 0; /* no amounts in this currency */
    if (u->st->n_sums >= sizeof u->st->sums / sizeof u->st->sums[0]) {
        u->rc = tl_err_set(u->err, TL_ETOOBIG,
                           "stats %s: more than %zu (column, currency) sums", u->st->table,
                           sizeof u->st->sums / sizeof u->st->sums[0]);
        return 1;
    }
    struct tl_stat_sum *out = &u->st->sums[u->st->n_sums++];
    snprintf(out->column, sizeof out->column, "%s", u->column);
    memcpy(out->currency, cols[0].s, 3);
    out->currency[3] = 0;
    out->sum_minor = sum;
    return 0;
}

int tl_store_stats(tl_store *s, struct tl_table_stats *out, size_t n_out, tl_err *err)
{
    tl_err local;
    if (!err)
        err = &local;
    size_t nt = tl_schema_table_count();
    if (!s || !out || n_out < nt)
        return tl_err_set(err, TL_EINVAL, "stats: need room for %zu tables", nt);
    for (size_t i = 0; i < nt; i++) {
        const struct tl_table_spec *t = tl_schema_table_at(i);
        struct tl_table_stats *st = &out[i];
        memset(st, 0, sizeof *st);
        st->table = t->name;
        int rc = tl_store_count(s, t->name, &st->rows, err);
        if (rc < 0)
            return rc;
        for (size_t k = 0; k < t->n_columns; k++) {
            const struct tl_column_spec *c = &t->columns[k];
            if (c->type != TL_COL_MONEY || !c->currency_col)
                continue;
            int ci = tl_schema_column_index(t, c->currency_col);
            if (!TL_ALWAYS(ci >= 0))
                return tl_err_set(err, TL_EINTERNAL, "stats: %s.%s has no currency column",
                                  t->name, c->name);
            const char *cur = tl_schema_db_name(&t->columns[ci]);
            const char *col = tl_schema_db_name(c);
            char sql[384];
            snprintf(sql, sizeof sql,
                     "SELECT %s, CAST(SUM(%s) AS BIGINT) FROM %s WHERE %s IS NOT NULL"
                     " AND %s IS NOT NULL GROUP BY %s ORDER BY %s",
                     cur, col, t->name, cur, col, cur, cur);
            struct sums_ud u = {st, c->name, 0, err};
            rc = tl_store_exec(s, sql, 0, NULL, on_sum, &u, err);
            if (rc == 0)
                rc = u.rc;
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
