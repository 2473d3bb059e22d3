/*
 * postgres.c - the PostgreSQL backend of the store, over libpq.
 *
 * Statements arrive in the portable dialect with `?` placeholders; they are
 * rewritten to $1..$n once, prepared under a generated name and cached by
 * their original text. Parameters travel as text (blobs as binary), results
 * come back as text and are typed by column OID, so rows look the same to the
 * caller as they do from SQLite. Row-returning statements run in single-row
 * mode so that a checksum or export of a million rows never holds them all
 * in memory. Bulk loads use COPY, the fastest way into PostgreSQL: into an
 * empty table straight, with its foreign keys and plain indexes set aside and
 * rebuilt at the end (as pg_restore does); into a table with rows through a
 * temporary staging table that is upserted in one statement at the end.
 */
#include "internal.h"
#include "core/internal.h"

#include <teller/err.h>
#include <teller/log.h>

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Prepared statements kept per connection; past it the least recently used
 * one is deallocated on the server. */
#define STMT_CACHE_MAX 128
#define STACK_COLS 32
/* COPY data is handed to libpq in chunks of about this size: large enough
 * that per-call overhead vanishes, small enough to stay in cache. */
#define COPY_CHUNK (1u << 20)
#define SQL_SHOWN 120

/* Type OIDs from PostgreSQL's pg_type.dat; stable since 7.x. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
};

struct pg_stmt {
    char *sql;
    uint64_t hash;
    char name[32];
    size_t n_params;
    uint64_t last_used;
};

struct pg {
    PGconn *conn;
    struct pg_stmt cache[STMT_CACHE_MAX];
    size_t n_cache;
    uint64_t tick;
    uint64_t next_stmt_id;
    unsigned next_stage_id;
    bool copying; /* a loader holds the connection in COPY mode */
    bool busy;    /* a statement's rows are being handed to a callback */
};

struct pg_loader {
    tl_store *s;
    struct pg *p;
    const struct tl_table_spec *t;
    char stage[48]; /* staging table, or "" when copying straight into t */
    char *buf;
    size_t n, cap;
    uint64_t n_rows;
    bool in_copy;
    /* Statements that put back the indexes and foreign keys set aside for a
     * load into an empty table, run in order once the rows are in. */
    char **restore;
    size_t n_restore;
};

static struct pg *pg_of(tl_store *s)
{
    return s->impl;
}

/* ---------------------------------------------------------------- errors */

static int code_of_sqlstate(const char *state)
{
    if (!state || strlen(state) != 5)
        return TL_ESTORE;
    if (strncmp(state, "23", 2) == 0)
        return TL_ECONSTRAINT;
    if (strncmp(state, "22", 2) == 0)
        return TL_EINVAL; /* data exception: a value the column cannot hold */
    if (strncmp(state, "08", 2) == 0)
        return TL_EIO;
    if (strcmp(state, "57014") == 0)
        return TL_ECANCELED;
    if (strcmp(state, "53200") == 0)
        return TL_ENOMEM;
    return TL_ESTORE;
}

/* One line from a result's error fields: primary message, then detail and
 * context when present (COPY puts the failing line number in the context). */
static void error_text(const PGresult *r, PGconn *conn, char *out, size_t size)
{
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary) {
        const char *m = r ? PQresultErrorMessage(r) : "";
        if (!m || !*m)
            m = PQerrorMessage(conn);
        snprintf(out, size, "%s", m && *m ? m : "unknown error");
    } else {
        const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        const char *context = PQresultErrorField(r, PG_DIAG_CONTEXT);
        snprintf(out, size, "%s%s%s%s%s", primary, detail ? "; " : "", detail ? detail : "",
                 context ? "; " : "", context ? context : "");
    }
    /* libpq ends messages with newlines and joins context lines with them */
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    size_t n = strlen(out);
    while (n && out[n - 1] == ' ')
        out[--n] = 0;
}

static int pg_fail(tl_store *s, const PGresult *r, const char *what, const char *sql, tl_err *err)
{
    struct pg *p = pg_of(s);
    char msg[TL_ERR_MSG_SIZE];
    error_text(r, p->conn, msg, sizeof msg);
    int code = r ? code_of_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE)) : TL_ESTORE;
    if (PQstatus(p->conn) == CONNECTION_BAD)
        code = TL_EIO;
    return tl_err_set(err, code, "postgres: %s \"%.*s%s\" failed: %s", what, SQL_SHOWN, sql,
                      strlen(sql) > SQL_SHOWN ? "..." : "", msg);
}

/* The library never prints: server notices go to the debug log. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    tl_log(TL_LOG_DEBUG, "store", "postgres: %.*s", (int)n, message);
}

/* ------------------------------------------------------------ open, close */

static int pg_open(tl_store *s, const char *target, tl_err *err)
{
    struct pg *p = calloc(1, sizeof *p);
    if (!p)
        return tl_err_set(err, TL_ENOMEM, "out of memory opening a PostgreSQL connection");
    p->conn = PQconnectdb(target);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        char msg[TL_ERR_MSG_SIZE];
        error_text(NULL, p->conn, msg, sizeof msg);
        /* The URL is not repeated here: it may hold a password. store.c
         * names it, redacted. */
        int code =
            tl_err_set(err, p->conn ? TL_EIO : TL_ENOMEM, "postgres: cannot connect: %s", msg);
        PQfinish(p->conn);
        free(p);
        return code;
    }
    PQsetNoticeProcessor(p->conn, on_notice, NULL);
    PQsetClientEncoding(p->conn, "UTF8");
    s->impl = p;
    /* extra_float_digits > 0 makes the server print doubles exactly (the
     * checksum and round trips depend on it); hex bytea is what we decode. */
    static const char setup[] = "SET client_min_messages = warning;"
                                "SET extra_float_digits = 3;"
                                "SET bytea_output = 'hex';"
                                "SET standard_conforming_strings = on";
    PGresult *r = PQexec(p->conn, setup);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int code = pg_fail(s, r, "setting up the session with", setup, err);
        PQclear(r);
        PQfinish(p->conn);
        free(p);
        s->impl = NULL;
        return code;
    }
    PQclear(r);
    return 0;
}

static void pg_close(tl_store *s)
{
    struct pg *p = pg_of(s);
    if (!p)
        return;
    for (size_t i = 0; i < p->n_cache; i++)
        free(p->cache[i].sql);
    PQfinish(p->conn); /* the server drops the session's prepared statements */
    free(p);
    s->impl = NULL;
}

/* ----------------------------------------------------- statement cache */

/* Rewrites `?` placeholders to $1..$n, leaving alone any inside '...'
 * literals, "..." identifiers and comments. Returns a malloc'd string, or NULL
 * when out of memory; *n_params receives the count. */
static char *rewrite_placeholders(const char *sql, size_t *n_params)
{
    size_t len = strlen(sql), q = 0;
    for (size_t i = 0; i < len; i++)
        q += sql[i] == '?';
    char *out = malloc(len + q * 20 + 1);
    if (!out)
        return NULL;
    size_t k = 0, n = 0;
    for (size_t i = 0; i < len;) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            /* a doubled quote inside is an escaped quote: the loop simply
             * closes and reopens the literal, which copies it unchanged */
            out[k++] = sql[i++];
            while (i < len && sql[i] != c)
                out[k++] = sql[i++];
            if (i < len)
                out[k++] = sql[i++];
        } else if (c == '-' && i + 1 < len && sql[i + 1] == '-') {
            while (i < len && sql[i] != '\n')
                out[k++] = sql[i++];
        } else if (c == '/' && i + 1 < len && sql[i + 1] == '*') {
            out[k++] = sql[i++];
            out[k++] = sql[i++];
            while (i < len && !(sql[i] == '*' && i + 1 < len && sql[i + 1] == '/'))
                out[k++] = sql[i++];
            for (int j = 0; j < 2 && i < len; j++)
                out[k++] = sql[i++];
        } else if (c == '?') {
            k += (size_t)snprintf(out + k, 21, "$%zu", ++n);
            i++;
        } else {
            out[k++] = sql[i++];
        }
    }
    out[k] = 0;
    *n_params = n;
    return out;
}

static void evict(struct pg *p, struct pg_stmt *st)
{
    char sql[64];
    snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
    /* Fails only in an aborted transaction, where the statement then merely
     * lingers until the session ends: a leak of one plan, not an error. */
    PQclear(PQexec(p->conn, sql));
    free(st->sql);
    st->sql = NULL;
}

static int count_mismatch(const char *sql, size_t want, size_t given, tl_err *err)
{
    return tl_err_set(
        err, TL_EINVAL,
        "postgres: the SQL \"%.*s\" has %zu placeholders but %zu parameters were given", SQL_SHOWN,
        sql, want, given);
}

/* Finds or prepares sql. The placeholder count is checked against n_given
 * before preparing, since the server would report a count mismatch only as
 * a confusing type error. */
static int get_stmt(tl_store *s, const char *sql, size_t n_given, struct pg_stmt **out, tl_err *err)
{
    struct pg *p = pg_of(s);
    uint64_t h = tl__hash_bytes(sql, strlen(sql));
    for (size_t i = 0; i < p->n_cache; i++) {
        struct pg_stmt *c = &p->cache[i];
        if (c->hash == h && strcmp(c->sql, sql) == 0) {
            if (c->n_params != n_given)
                return count_mismatch(sql, c->n_params, n_given, err);
            c->last_used = ++p->tick;
            *out = c;
            return 0;
        }
    }
    size_t n_params = 0;
    char *pgsql = rewrite_placeholders(sql, &n_params);
    char *copy = strdup(sql);
    if (!pgsql || !copy) {
        free(pgsql);
        free(copy);
        return tl_err_set(err, TL_ENOMEM, "out of memory preparing a statement");
    }
    if (n_params != n_given) {
        free(pgsql);
        free(copy);
        return count_mismatch(sql, n_params, n_given, err);
    }
    char name[32];
    snprintf(name, sizeof name, "tl_%llu", (unsigned long long)++p->next_stmt_id);
    PGresult *r = PQprepare(p->conn, name, pgsql, 0, NULL);
    free(pgsql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int code = pg_fail(s, r, "preparing", sql, err);
        PQclear(r);
        free(copy);
        return code;
    }
    PQclear(r);

    struct pg_stmt *slot;
    if (p->n_cache < STMT_CACHE_MAX) {
        slot = &p->cache[p->n_cache++];
    } else {
        slot = &p->cache[0];
        for (size_t i = 1; i < p->n_cache; i++)
            if (p->cache[i].last_used < slot->last_used)
                slot = &p->cache[i];
        evict(p, slot);
    }
    *slot = (struct pg_stmt){.sql = copy, .hash = h, .n_params = n_params, .last_used = ++p->tick};
    snprintf(slot->name, sizeof slot->name, "%s", name);
    *out = slot;
    return 0;
}

/* ------------------------------------------------------------------ exec */

static size_t fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0, k = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    return k;
}

/* PostgreSQL spells the special doubles its own way. */
static size_t fmt_real(char *out, size_t size, double d)
{
    if (isnan(d))
        return (size_t)snprintf(out, size, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, size, "%sInfinity", d < 0 ? "-" : "");
    return (size_t)snprintf(out, size, "%.17g", d);
}

static int64_t parse_i64(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return (int64_t)v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* NUMERIC is what PostgreSQL returns for sum() of integers, where SQLite
 * returns an integer: a numeric without fraction that fits int64 comes back
 * as TL_VAL_INT so money sums stay exact and look the same on both engines. */
static void numeric_value(const char *s, tl_value *v)
{
    bool integral = *s != 0;
    for (const char *c = s + (*s == '-'); *c; c++)
        if (*c < '0' || *c > '9')
            integral = false;
    if (integral && strlen(s) <= 18) {
        v->type = TL_VAL_INT;
        v->i = parse_i64(s);
    } else {
        v->type = TL_VAL_REAL;
        v->d = strtod(s, NULL);
    }
}

/* Decodes the row's bytea columns into *scratch (grown as needed) and fills
 * vals from the text result. Returns false when out of memory. */
static bool row_values(const PGresult *r, int row, int n_cols, tl_value *vals, const char **names,
                       char **scratch, size_t *scratch_cap)
{
    size_t need = 0;
    for (int c = 0; c < n_cols; c++)
        if (PQftype(r, c) == OID_BYTEA && !PQgetisnull(r, row, c))
            need += (size_t)PQgetlength(r, row, c) / 2 + 1;
    if (need > *scratch_cap) {
        char *g = realloc(*scratch, need);
        if (!g)
            return false;
        *scratch = g;
        *scratch_cap = need;
    }
    size_t used = 0;
    for (int c = 0; c < n_cols; c++) {
        names[c] = PQfname(r, c);
        tl_value *v = &vals[c];
        *v = (tl_value){.type = TL_VAL_NULL};
        if (PQgetisnull(r, row, c))
            continue;
        const char *text = PQgetvalue(r, row, c);
        size_t len = (size_t)PQgetlength(r, row, c);
        switch (PQftype(r, c)) {
        case OID_INT2:
        case OID_INT4:
        case OID_INT8:
        case OID_OID:
            v->type = TL_VAL_INT;
            v->i = parse_i64(text);
            break;
        case OID_BOOL:
            v->type = TL_VAL_INT;
            v->i = text[0] == 't';
            break;
        case OID_FLOAT4:
        case OID_FLOAT8:
            v->type = TL_VAL_REAL;
            v->d = strtod(text, NULL); /* also reads NaN and [-]Infinity */
            break;
        case OID_NUMERIC:
            numeric_value(text, v);
            break;
        case OID_BYTEA: {
            char *dst = *scratch + used;
            size_t n = 0;
            if (len >= 2 && text[0] == '\\' && text[1] == 'x') {
                for (size_t i = 2; i + 1 < len; i += 2) {
                    int hi = hexval(text[i]), lo = hexval(text[i + 1]);
                    if (hi < 0 || lo < 0)
                        break;
                    dst[n++] = (char)(hi << 4 | lo);
                }
            }
            v->type = TL_VAL_BLOB;
            v->s = dst;
            v->len = n;
            used += n + 1;
            break;
        }
        default:
            v->type = TL_VAL_TEXT;
            v->s = text;
            v->len = len;
            break;
        }
    }
    return true;
}

static bool is_commit(const char *sql)
{
    while (*sql == ' ' || *sql == '\t' || *sql == '\n')
        sql++;
    return strncasecmp(sql, "COMMIT", 6) == 0 || strncasecmp(sql, "END", 3) == 0;
}

static int64_t changes_of(const PGresult *r)
{
    const char *tag = PQcmdStatus((PGresult *)r);
    if (strncmp(tag, "INSERT", 6) && strncmp(tag, "UPDATE", 6) && strncmp(tag, "DELETE", 6) &&
        strncmp(tag, "MERGE", 5))
        return 0;
    return parse_i64(PQcmdTuples((PGresult *)r));
}

static int pg_exec(tl_store *s, const char *sql, size_t n_params, const tl_value *params,
                   tl_row_fn fn, void *ud, tl_err *err)
{
    struct pg *p = pg_of(s);
    if (p->copying)
        return tl_err_set(err, TL_EINVAL,
                          "postgres: cannot run \"%.*s\" while a bulk load holds the connection",
                          SQL_SHOWN, sql);
    /* One connection carries one statement at a time: the rows of the outer
     * one are still streaming in. */
    if (p->busy)
        return tl_err_set(err, TL_EINVAL,
                          "postgres: cannot run \"%.*s\" from inside a row callback of another "
                          "statement on the same store",
                          SQL_SHOWN, sql);
    struct pg_stmt *st = NULL;
    int rc = get_stmt(s, sql, n_params, &st, err);
    if (rc < 0)
        return rc;

    /* Text parameters need NUL terminators, numbers need formatting: all of
     * it goes into one buffer sized up front so the pointers stay put. */
    size_t need = 0;
    for (size_t i = 0; i < n_params; i++) {
        const tl_value *v = &params[i];
        if (v->type == TL_VAL_TEXT) {
            if (v->len && memchr(v->s, 0, v->len))
                return tl_err_set(err, TL_EINVAL,
                                  "postgres: text parameter %zu of \"%.*s\" contains a NUL byte, "
                                  "which PostgreSQL text cannot hold",
                                  i + 1, SQL_SHOWN, sql);
            need += v->len + 1;
        } else if (v->type == TL_VAL_INT || v->type == TL_VAL_REAL) {
            need += 40;
        }
    }
    const char *stack_vals[STACK_COLS];
    int stack_lens[STACK_COLS], stack_fmts[STACK_COLS];
    const char **pv = stack_vals;
    int *pl = stack_lens, *pf = stack_fmts;
    char *buf = NULL;
    if (n_params > STACK_COLS) {
        pv = malloc(n_params * sizeof *pv);
        pl = malloc(n_params * sizeof *pl);
        pf = malloc(n_params * sizeof *pf);
    }
    if (need)
        buf = malloc(need);
    if (!pv || !pl || !pf || (need && !buf)) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory binding %zu parameters", n_params);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_params; i++) {
        const tl_value *v = &params[i];
        pl[i] = 0;
        pf[i] = 0;
        switch (v->type) {
        case TL_VAL_NULL:
            pv[i] = NULL;
            break;
        case TL_VAL_INT:
            pv[i] = buf + k;
            k += fmt_i64(buf + k, v->i);
            buf[k++] = 0;
            break;
        case TL_VAL_REAL:
            pv[i] = buf + k;
            k += fmt_real(buf + k, 40, v->d) + 1;
            break;
        case TL_VAL_TEXT:
            pv[i] = buf + k;
            if (v->len)
                memcpy(buf + k, v->s, v->len);
            k += v->len;
            buf[k++] = 0;
            break;
        case TL_VAL_BLOB:
            if (v->len > (size_t)INT32_MAX) {
                rc = tl_err_set(err, TL_ETOOBIG,
                                "postgres: blob parameter %zu is %zu bytes, over 2 GiB", i + 1,
                                v->len);
                goto done;
            }
            pv[i] = v->s ? v->s : "";
            pl[i] = (int)v->len;
            pf[i] = 1; /* binary: the bytes as they are */
            break;
        }
    }

    if (!PQsendQueryPrepared(p->conn, st->name, (int)n_params, pv, pl, pf, 0)) {
        rc = pg_fail(s, NULL, "sending", sql, err);
        goto done;
    }
    if (fn)
        PQsetSingleRowMode(p->conn);
    p->busy = true;

    tl_value val_stack[STACK_COLS];
    const char *name_stack[STACK_COLS];
    tl_value *vals = val_stack;
    const char **names = name_stack;
    char *scratch = NULL;
    size_t scratch_cap = 0;
    bool stopped = false;
    int64_t changes = 0;
    PGresult *r;
    /* Every result is drained, even after an error or an early stop, so the
     * connection is ready for the next statement. */
    while ((r = PQgetResult(p->conn)) != NULL) {
        ExecStatusType status = PQresultStatus(r);
        if (status == PGRES_SINGLE_TUPLE || (status == PGRES_TUPLES_OK && fn && PQntuples(r) > 0)) {
            int n_cols = PQnfields(r);
            if (n_cols > STACK_COLS && vals == val_stack) {
                vals = malloc((size_t)n_cols * sizeof *vals);
                names = malloc((size_t)n_cols * sizeof *names);
                if (!vals || !names) {
                    free(vals);
                    free(names);
                    vals = val_stack;
                    names = name_stack;
                    if (rc == 0)
                        rc = tl_err_set(err, TL_ENOMEM, "out of memory for a %d-column result",
                                        n_cols);
                    stopped = true;
                }
            }
            for (int row = 0; !stopped && row < PQntuples(r); row++) {
                if (!row_values(r, row, n_cols, vals, names, &scratch, &scratch_cap)) {
                    rc = tl_err_set(err, TL_ENOMEM, "out of memory decoding a result row");
                    stopped = true;
                } else if (fn(ud, (size_t)n_cols, vals, names)) {
                    stopped = true;
                }
            }
        }
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            changes = changes_of(r);
            if (rc == 0 && is_commit(sql) && strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
                rc = tl_err_set(err, TL_ESTORE,
                                "postgres: COMMIT rolled the transaction back because an earlier "
                                "statement in it failed");
        } else if (status == PGRES_SINGLE_TUPLE) {
            /* handled above */
        } else if (status == PGRES_COPY_IN) {
            PQputCopyEnd(p->conn, "COPY FROM STDIN is not supported through tl_store_exec");
        } else if (status == PGRES_COPY_OUT) {
            char *row;
            while (PQgetCopyData(p->conn, &row, 0) > 0)
                PQfreemem(row);
        } else if (rc == 0) {
            rc = pg_fail(s, r, "running", sql, err);
        }
        PQclear(r);
    }
    p->busy = false;
    if (vals != val_stack) {
        free(vals);
        free(names);
    }
    free(scratch);
    s->changes = changes;

done:
    free(buf);
    if (pv != stack_vals) {
        free(pv);
        free(pl);
        free(pf);
    }
    return rc;
}

static int pg_exec_script(tl_store *s, const char *sql, tl_err *err)
{
    struct pg *p = pg_of(s);
    if (p->copying)
        return tl_err_set(err, TL_EINVAL,
                          "postgres: cannot run a script while a bulk load holds the connection");
    PGresult *r = PQexec(p->conn, sql);
    ExecStatusType status = PQresultStatus(r);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        rc = pg_fail(s, r, "running the script", sql, err);
    PQclear(r);
    s->changes = 0;
    return rc;
}

/* --------------------------------------------------------------- loader */

static int pg_exec_simple(tl_store *s, const char *sql, ExecStatusType want, tl_err *err)
{
    struct pg *p = pg_of(s);
    PGresult *r = PQexec(p->conn, sql);
    int rc = 0;
    if (PQresultStatus(r) != want)
        rc = pg_fail(s, r, "running", sql, err);
    PQclear(r);
    return rc;
}

/* "a, b, c" of t's store column names into out (cap bytes). */
static size_t column_list(const struct tl_table_spec *t, const char *prefix, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t c = 0; c < t->n_columns && k < cap; c++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s%s", c ? ", " : "", prefix,
                              tl_schema_db_name(&t->columns[c]));
    return k;
}

static size_t columns_bytes(const struct tl_table_spec *t)
{
    size_t n = 0;
    for (size_t c = 0; c < t->n_columns; c++)
        n += 2 * strlen(tl_schema_db_name(&t->columns[c])) + 16;
    return n;
}

static void free_restore(struct pg_loader *ld)
{
    for (size_t i = 0; i < ld->n_restore; i++)
        free(ld->restore[i]);
    free(ld->restore);
    ld->restore = NULL;
    ld->n_restore = 0;
}

/* Runs sql inside the set-aside savepoint; true when it succeeded. */
static bool try_exec(struct pg *p, const char *sql)
{
    PGresult *r = PQexec(p->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/*
 * For a load into an empty table: sets aside the table's foreign keys and its
 * plain (non-constraint) indexes, to be rebuilt by load_end, the way
 * pg_restore loads data. Checking a foreign key row by row costs PostgreSQL a
 * trigger and a locking lookup per row, and each plain index an insertion at
 * a random place; validating the key with one join and building the index
 * with one sort afterwards is several times faster for a large load. Every
 * row is still checked before commit, and the DDL is part of the caller's
 * transaction, so a failed load rolls it back with the rows.
 *
 * It is only an optimisation: when it cannot be done (the role does not own
 * the table, or a lock is not granted within two seconds because a reader is
 * busy with the table) the load goes ahead row by row, as COPY alone would.
 * The cost is that readers of this (empty) table wait until the load
 * commits instead of seeing it empty.
 */
static void set_aside_constraints(struct pg_loader *ld)
{
    struct pg *p = ld->p;
    const char *t = ld->t->name; /* from schema.h, never from input */
    char sql[1536];
    snprintf(
        sql, sizeof sql,
        "SELECT 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), 1"
        " FROM pg_index i WHERE i.indrelid = '%s'::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        " UNION ALL"
        " SELECT 'ALTER TABLE %s DROP CONSTRAINT ' || quote_ident(conname),"
        " 'ALTER TABLE %s ADD CONSTRAINT ' || quote_ident(conname) || ' '"
        " || pg_get_constraintdef(oid), 2"
        " FROM pg_constraint WHERE conrelid = '%s'::regclass AND contype = 'f'"
        " ORDER BY 3",
        t, t, t, t);
    PGresult *r = PQexec(p->conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        PQclear(r);
        return;
    }
    int n = PQntuples(r);
    ld->restore = calloc((size_t)n, sizeof *ld->restore);
    if (!ld->restore) {
        PQclear(r);
        return;
    }
    char old_timeout[64] = "0";
    PGresult *cur = PQexec(p->conn, "SELECT current_setting('lock_timeout')");
    if (PQresultStatus(cur) == PGRES_TUPLES_OK && PQntuples(cur) == 1)
        snprintf(old_timeout, sizeof old_timeout, "%s", PQgetvalue(cur, 0, 0));
    PQclear(cur);
    bool ok = try_exec(p, "SAVEPOINT tl_bulk_load") &&
              try_exec(p, "SELECT set_config('lock_timeout', '2s', true)");
    for (int i = 0; ok && i < n; i++) {
        ok = try_exec(p, PQgetvalue(r, i, 0));
        if (ok && !(ld->restore[ld->n_restore++] = strdup(PQgetvalue(r, i, 1))))
            ok = false;
    }
    PQclear(r);
    if (ok) {
        /* RELEASE keeps the savepoint's settings: put the timeout back */
        const char *v[] = {old_timeout};
        PGresult *set = PQexecParams(p->conn, "SELECT set_config('lock_timeout', $1, true)", 1,
                                     NULL, v, NULL, NULL, 0);
        ok = PQresultStatus(set) == PGRES_TUPLES_OK;
        PQclear(set);
        ok = ok && try_exec(p, "RELEASE SAVEPOINT tl_bulk_load");
        if (ok)
            return;
    }
    tl_log(TL_LOG_DEBUG, "store", "postgres: loading %s with its indexes and foreign keys in place",
           t);
    try_exec(p, "ROLLBACK TO SAVEPOINT tl_bulk_load");
    try_exec(p, "RELEASE SAVEPOINT tl_bulk_load");
    free_restore(ld);
}

static int pg_load_begin(tl_store *s, const struct tl_table_spec *t, bool table_empty,
                         struct tl_store_loader **out, tl_err *err)
{
    struct pg *p = pg_of(s);
    if (p->copying)
        return tl_err_set(err, TL_EINVAL, "postgres: a load into another table is still running");
    /* ON COMMIT DROP and all-or-nothing loading both need a transaction;
     * outside one the staging table would vanish at once. */
    if (PQtransactionStatus(p->conn) != PQTRANS_INTRANS)
        return tl_err_set(err, TL_EINVAL,
                          "postgres: loading %s needs an open transaction (tl_store_begin)",
                          t->name);
    struct pg_loader *ld = calloc(1, sizeof *ld);
    size_t sql_cap = 256 + 3 * columns_bytes(t);
    char *sql = malloc(sql_cap);
    if (ld)
        ld->buf = malloc(COPY_CHUNK);
    if (!ld || !sql || !ld->buf) {
        if (ld)
            free(ld->buf);
        free(ld);
        free(sql);
        return tl_err_set(err, TL_ENOMEM, "out of memory starting a load into %s", t->name);
    }
    ld->s = s;
    ld->p = p;
    ld->t = t;
    ld->cap = COPY_CHUNK;

    int rc = 0;
    const char *target = t->name;
    if (!table_empty) {
        snprintf(ld->stage, sizeof ld->stage, "tl_stage_%u", ++p->next_stage_id);
        snprintf(sql, sql_cap, "CREATE TEMP TABLE %s (LIKE %s) ON COMMIT DROP", ld->stage, t->name);
        if ((rc = pg_exec_simple(s, sql, PGRES_COMMAND_OK, err)) < 0)
            goto fail;
        target = ld->stage;
    } else {
        set_aside_constraints(ld);
    }
    size_t k = (size_t)snprintf(sql, sql_cap, "COPY %s (", target);
    k += column_list(t, "", sql + k, sql_cap - k);
    snprintf(sql + k, sql_cap - k, ") FROM STDIN");
    if ((rc = pg_exec_simple(s, sql, PGRES_COPY_IN, err)) < 0)
        goto fail;
    ld->in_copy = true;
    p->copying = true;
    free(sql);
    *out = (struct tl_store_loader *)ld;
    return 0;
fail:
    free(sql);
    free_restore(ld);
    free(ld->buf);
    free(ld);
    return rc;
}

static int flush(struct pg_loader *ld, tl_err *err)
{
    if (ld->n == 0)
        return 0;
    if (PQputCopyData(ld->p->conn, ld->buf, (int)ld->n) != 1)
        return tl_err_set(err, TL_EIO, "postgres: sending rows of %s failed: %s", ld->t->name,
                          PQerrorMessage(ld->p->conn));
    ld->n = 0;
    return 0;
}

/* Makes room for need more bytes: flushes, and grows past the chunk size only
 * for a single field bigger than it. */
static int reserve(struct pg_loader *ld, size_t need, tl_err *err)
{
    if (ld->n + need <= ld->cap)
        return 0;
    int rc = flush(ld, err);
    if (rc < 0)
        return rc;
    if (need > ld->cap) {
        char *g = realloc(ld->buf, need);
        if (!g)
            return tl_err_set(err, TL_ENOMEM, "out of memory for a %zu-byte field of %s", need,
                              ld->t->name);
        ld->buf = g;
        ld->cap = need;
    }
    return 0;
}

/* COPY text format: backslash escapes for the four bytes that frame it. */
static size_t copy_escape(char *out, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    size_t k = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        char e = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
        if (!e)
            continue;
        memcpy(out + k, s + run, i - run);
        k += i - run;
        out[k++] = '\\';
        out[k++] = e;
        run = i + 1;
    }
    memcpy(out + k, s + run, len - run);
    return k + len - run;
}

static int pg_load_rows(struct tl_store_loader *handle, size_t n_rows, const tl_value *vals,
                        tl_err *err)
{
    static const char hex[] = "0123456789abcdef";
    struct pg_loader *ld = (struct pg_loader *)handle;
    const size_t nc = ld->t->n_columns;
    for (size_t r = 0; r < n_rows; r++) {
        const tl_value *row = vals + r * nc;
        /* Checked before any byte of the row is written, so a bad row never
         * leaves half of itself in the COPY stream. */
        for (size_t c = 0; c < nc; c++)
            if (row[c].type == TL_VAL_TEXT && row[c].len && memchr(row[c].s, 0, row[c].len))
                return tl_err_set(err, TL_EINVAL,
                                  "postgres: row %llu of %s, column %s, contains a NUL byte, "
                                  "which PostgreSQL text cannot hold",
                                  (unsigned long long)(ld->n_rows + r + 1), ld->t->name,
                                  tl_schema_db_name(&ld->t->columns[c]));
        for (size_t c = 0; c < nc; c++) {
            const tl_value *v = &row[c];
            size_t need = 2 + (v->type == TL_VAL_TEXT   ? 2 * v->len
                               : v->type == TL_VAL_BLOB ? 2 * v->len + 3
                                                        : 40);
            int rc = reserve(ld, need, err);
            if (rc < 0)
                return rc;
            char *o = ld->buf + ld->n;
            switch (v->type) {
            case TL_VAL_NULL:
                o[0] = '\\';
                o[1] = 'N';
                ld->n += 2;
                break;
            case TL_VAL_INT:
                ld->n += fmt_i64(o, v->i);
                break;
            case TL_VAL_REAL:
                ld->n += fmt_real(o, 40, v->d);
                break;
            case TL_VAL_TEXT:
                ld->n += copy_escape(o, v->s, v->len);
                break;
            case TL_VAL_BLOB: {
                const unsigned char *b = (const unsigned char *)v->s;
                o[0] = '\\';
                o[1] = '\\';
                o[2] = 'x';
                size_t k = 3;
                for (size_t i = 0; i < v->len; i++) {
                    o[k++] = hex[b[i] >> 4];
                    o[k++] = hex[b[i] & 15];
                }
                ld->n += k;
                break;
            }
            }
            ld->buf[ld->n++] = c + 1 < nc ? '\t' : '\n';
        }
        if (ld->n >= COPY_CHUNK) {
            int rc = flush(ld, err);
            if (rc < 0)
                return rc;
        }
    }
    ld->n_rows += n_rows;
    return 0;
}

static int pg_load_end(struct tl_store_loader *handle, bool ok, tl_err *err)
{
    struct pg_loader *ld = (struct pg_loader *)handle;
    if (!ld)
        return 0;
    struct pg *p = ld->p;
    tl_store *s = ld->s;
    int rc = 0;
    if (ld->in_copy) {
        if (ok)
            rc = flush(ld, err);
        bool send_ok = ok && rc == 0;
        /* An error message makes the server abandon the COPY (and with it
         * the transaction, which the caller rolls back). */
        if (PQputCopyEnd(p->conn, send_ok ? NULL : "load abandoned by teller") != 1 && rc == 0 &&
            ok)
            rc = tl_err_set(err, TL_EIO, "postgres: finishing the load into %s failed: %s",
                            ld->t->name, PQerrorMessage(p->conn));
        PGresult *r;
        while ((r = PQgetResult(p->conn)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0 && send_ok) {
                char msg[TL_ERR_MSG_SIZE];
                error_text(r, p->conn, msg, sizeof msg);
                rc = tl_err_set(err, code_of_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE)),
                                "postgres: loading %s failed: %s", ld->t->name, msg);
            }
            PQclear(r);
        }
        ld->in_copy = false;
        p->copying = false;
    }
    for (size_t i = 0; ok && rc == 0 && i < ld->n_restore; i++) {
        PGresult *r = PQexec(p->conn, ld->restore[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            /* a foreign-key violation in the loaded rows surfaces here */
            char msg[TL_ERR_MSG_SIZE];
            error_text(r, p->conn, msg, sizeof msg);
            rc = tl_err_set(err, code_of_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE)),
                            "postgres: loading %s failed: %s", ld->t->name, msg);
        }
        PQclear(r);
    }
    if (ok && rc == 0 && ld->stage[0]) {
        const struct tl_table_spec *t = ld->t;
        size_t cap = 256 + 4 * columns_bytes(t) + 64;
        char *sql = malloc(cap);
        if (!sql) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory finishing the load into %s", t->name);
        } else {
            size_t k = (size_t)snprintf(sql, cap, "INSERT INTO %s (", t->name);
            k += column_list(t, "", sql + k, cap - k);
            k += (size_t)snprintf(sql + k, cap - k, ") SELECT ");
            k += column_list(t, "", sql + k, cap - k);
            k += (size_t)snprintf(sql + k, cap - k, " FROM %s ON CONFLICT (id) DO ", ld->stage);
            if (t->n_columns > 1) {
                k += (size_t)snprintf(sql + k, cap - k, "UPDATE SET ");
                bool first = true;
                for (size_t c = 1; c < t->n_columns; c++) {
                    if (!tl__load_updates(t, &t->columns[c]))
                        continue;
                    const char *n = tl_schema_db_name(&t->columns[c]);
                    k += (size_t)snprintf(sql + k, cap - k, "%s%s = EXCLUDED.%s",
                                          first ? "" : ", ", n, n);
                    first = false;
                }
            } else {
                snprintf(sql + k, cap - k, "NOTHING");
            }
            rc = pg_exec_simple(s, sql, PGRES_COMMAND_OK, err);
            if (rc == 0) {
                /* ON COMMIT DROP would do it too, but a long ingest frees the
                 * space now and may load the same table again. */
                snprintf(sql, cap, "DROP TABLE %s", ld->stage);
                rc = pg_exec_simple(s, sql, PGRES_COMMAND_OK, err);
            }
            free(sql);
        }
    }
    free_restore(ld);
    free(ld->buf);
    free(ld);
    return rc;
}

const struct tl_store_ops tl__store_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .load_begin = pg_load_begin,
    .load_rows = pg_load_rows,
    .load_end = pg_load_end,
};
