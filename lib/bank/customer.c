/*
 * customer.c - the read side of the bank's data as JSON (see customer.h).
 *
 * Rows are rendered from schema.h, so a column added to a table shows up
 * here without a line changing: each SELECT lists the table's stored columns
 * in spec order and render_row formats each by its type. PII columns hold
 * sealed text (keyring.h) and are opened with the context "TABLE.COLUMN"
 * they were sealed under; a value loaded before sealing existed is shown as
 * it is.
 *
 * Cursors are base64url text of the last item's sort key: "ID" for lists
 * ordered by id, "T:TS_MS:ID" for transactions. They are opaque to clients
 * and checked strictly when they come back.
 */
#include <teller/customer.h>

#include <teller/datetime.h>
#include <teller/keyring.h>
#include <teller/money.h>
#include <teller/schema.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SELECT text of one table's shown columns; big enough for the widest. */
#define SQL_MAX 2048
#define CURSOR_MAX 160 /* base64url of a cursor key: 4/3 of KEY_MAX, rounded up */
#define KEY_MAX 100    /* "T:" + 20 digits + ":" + a 64-byte id, with room */

static bool shown(const struct tl_column_spec *c)
{
    return !c->derived;
}

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* "SELECT a, b, ... FROM t" over the shown columns (without PII when
 * with_pii is false), into buf. Returns the number of columns selected. */
static size_t select_list(const struct tl_table_spec *t, bool with_pii, const char *alias, char *buf,
                          size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "SELECT ");
    size_t n = 0;
    for (size_t i = 0; i < t->n_columns && o < cap; i++) {
        const struct tl_column_spec *c = &t->columns[i];
        if (!shown(c) || (c->pii && !with_pii))
            continue;
        o += (size_t)snprintf(buf + o, cap - o, "%s%s%s%s", n ? ", " : "", alias ? alias : "",
                              alias ? "." : "", tl_schema_db_name(c));
        n++;
    }
    if (o < cap)
        o += (size_t)snprintf(buf + o, cap - o, " FROM %s%s%s", t->name, alias ? " " : "",
                              alias ? alias : "");
    return n;
}

/* ---- rendering ---------------------------------------------------------- */

struct render {
    tl_ctx *ctx;
    const struct tl_table_spec *t;
    bool with_pii;
    json_t *items;     /* array being filled */
    size_t max_items;  /* stop after this many (limit + 1 to see if more follow) */
    size_t page_limit; /* rows of the page proper: the last of them keys the cursor */
    int rc;            /* first error inside the row callback */
    tl_err *err;
    /* sort key of the last row rendered, for the next cursor */
    int64_t last_ts_ms;
    char last_id[65];
};

/* The value of file column `name` in this row, or NULL. */
static const tl_value *col_by_name(const struct render *r, size_t n_cols, const tl_value *cols,
                                   const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < r->t->n_columns && k < n_cols; i++) {
        const struct tl_column_spec *c = &r->t->columns[i];
        if (!shown(c) || (c->pii && !r->with_pii))
            continue;
        if (strcmp(c->name, name) == 0)
            return &cols[k];
        k++;
    }
    return NULL;
}

static int render_pii(struct render *r, const struct tl_column_spec *c, const tl_value *v, json_t **out)
{
    if (!tl_keyring_is_sealed(v->s, v->len)) {
        *out = json_stringn(v->s, v->len);
        return 0;
    }
    const tl_keyring *kr = tl_ctx_keyring(r->ctx);
    if (!kr)
        return tl_err_set(r->err, TL_ECRYPTO, "%s.%s is sealed but no data key is loaded", r->t->name,
                          c->name);
    /* "customers.email": joined by hand, as this runs for every PII cell
     * of every answer and snprintf was a visible cost */
    char context[96];
    const char *col = tl_schema_db_name(c);
    size_t tn = strlen(r->t->name), cn = strlen(col);
    if (tn + 1 + cn >= sizeof context)
        return tl_err_set(r->err, TL_EINTERNAL, "%s.%s: column name too long", r->t->name, col);
    memcpy(context, r->t->name, tn);
    context[tn] = '.';
    memcpy(context + tn + 1, col, cn + 1);
    char *pt = NULL;
    size_t pt_len = 0;
    int rc = tl_keyring_unseal(kr, context, v->s, v->len, &pt, &pt_len, r->err);
    if (rc < 0)
        return rc;
    *out = json_stringn(pt, pt_len);
    free(pt);
    return 0;
}

static int render_value(struct render *r, const struct tl_column_spec *c, const tl_value *v,
                        size_t n_cols, const tl_value *cols, json_t **out)
{
    *out = NULL;
    if (v->type == TL_VAL_NULL) {
        *out = json_null();
        return 0;
    }
    char buf[48];
    switch (c->type) {
    case TL_COL_MONEY: {
        const tl_value *cur = col_by_name(r, n_cols, cols, c->currency_col);
        if (v->type != TL_VAL_INT || !cur || cur->type != TL_VAL_TEXT)
            return tl_err_set(r->err, TL_ESTORE, "%s.%s: stored amount without its currency",
                              r->t->name, c->name);
        if (tl_money_format(v->i, cur->s, buf, sizeof buf) < 0)
            return tl_err_set(r->err, TL_ESTORE, "%s.%s: stored currency \"%s\" is unknown",
                              r->t->name, c->name, cur->s);
        *out = json_string(buf);
        break;
    }
    case TL_COL_TIMESTAMP:
        if (v->type != TL_VAL_INT || tl_time_format(v->i, buf, sizeof buf) < 0)
            return tl_err_set(r->err, TL_ESTORE, "%s.%s: stored timestamp out of range", r->t->name,
                              c->name);
        *out = json_string(buf);
        break;
    case TL_COL_BOOL:
        *out = json_boolean(v->type == TL_VAL_INT ? v->i != 0 : v->d != 0);
        break;
    case TL_COL_INT:
        *out = json_integer(v->type == TL_VAL_INT ? v->i : (json_int_t)v->d);
        break;
    case TL_COL_REAL:
        *out = json_real(v->type == TL_VAL_REAL ? v->d : (double)v->i);
        break;
    default:
        if (v->type != TL_VAL_TEXT)
            return tl_err_set(r->err, TL_ESTORE, "%s.%s: stored value is not text", r->t->name,
                              c->name);
        if (c->pii)
            return render_pii(r, c, v, out);
        *out = json_stringn(v->s, v->len);
        break;
    }
    return 0;
}

static int on_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct render *r = ud;
    if (json_array_size(r->items) >= r->max_items)
        return 1; /* the probe row past the page: its presence is all we needed */
    json_t *obj = json_object();
    if (!obj) {
        r->rc = tl_err_set(r->err, TL_ENOMEM, "out of memory rendering %s", r->t->name);
        return 1;
    }
    bool in_page = json_array_size(r->items) < r->page_limit;
    size_t k = 0;
    for (size_t i = 0; i < r->t->n_columns && k < n_cols; i++) {
        const struct tl_column_spec *c = &r->t->columns[i];
        if (!shown(c) || (c->pii && !r->with_pii))
            continue;
        json_t *v = NULL;
        int rc = render_value(r, c, &cols[k], n_cols, cols, &v);
        if (rc == 0 && (!v || json_object_set_new(obj, c->name, v) < 0))
            rc = tl_err_set(r->err, TL_ENOMEM, "out of memory rendering %s", r->t->name);
        if (rc < 0) {
            json_decref(obj);
            r->rc = rc;
            return 1;
        }
        if (in_page && strcmp(c->name, "id") == 0 && cols[k].type == TL_VAL_TEXT)
            snprintf(r->last_id, sizeof r->last_id, "%s", cols[k].s);
        if (in_page && strcmp(c->name, "ts") == 0 && cols[k].type == TL_VAL_INT)
            r->last_ts_ms = cols[k].i;
        k++;
    }
    if (json_array_append_new(r->items, obj) < 0) {
        r->rc = tl_err_set(r->err, TL_ENOMEM, "out of memory rendering %s", r->t->name);
        return 1;
    }
    return 0;
}

/* ---- cursors ------------------------------------------------------------ */

/* Cursors are base64url (libsodium's), unpadded. */
static void b64url_encode(const char *in, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, (const unsigned char *)in, n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Decodes unpadded base64url into out (NUL-terminated); false on any
 * character outside the alphabet, non-canonical trailing bits, an overflow or
 * a NUL inside. */
static bool b64url_decode(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in), len = 0;
    const char *end = NULL;
    if (n == 0 || n > CURSOR_MAX || cap == 0)
        return false;
    if (sodium_base642bin((unsigned char *)out, cap - 1, in, n, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != in + n)
        return false;
    out[len] = '\0';
    return strlen(out) == len; /* no NUL inside */
}

static int bad_cursor(tl_err *err)
{
    return tl_err_set(err, TL_EINVAL, "cursor is not one this list issued; start again without it");
}

/* Id-ordered lists: the cursor is the last id. */
static int cursor_id(const char *cursor, char id[65], tl_err *err)
{
    char key[KEY_MAX];
    if (!b64url_decode(cursor, key, sizeof key) || strncmp(key, "I:", 2) != 0 || !valid_id(key + 2))
        return bad_cursor(err);
    snprintf(id, 65, "%s", key + 2);
    return 0;
}

static int cursor_tx(const char *cursor, int64_t *ts_ms, char id[65], tl_err *err)
{
    char key[KEY_MAX];
    if (!b64url_decode(cursor, key, sizeof key) || strncmp(key, "T:", 2) != 0)
        return bad_cursor(err);
    char *end = NULL;
    long long ts = strtoll(key + 2, &end, 10);
    if (end == key + 2 || *end != ':' || !valid_id(end + 1))
        return bad_cursor(err);
    *ts_ms = ts;
    snprintf(id, 65, "%s", end + 1);
    return 0;
}

/* Sets "next_cursor" from the last rendered row when the page was full and
 * another row followed. */
static int finish_page(struct render *r, size_t limit, bool by_ts, json_t **out)
{
    json_t *page = json_object();
    json_t *next = json_null();
    if (json_array_size(r->items) > limit) {
        json_array_remove(r->items, limit); /* the probe row */
        char key[KEY_MAX], cur[CURSOR_MAX + 8];
        if (by_ts)
            snprintf(key, sizeof key, "T:%" PRId64 ":%s", r->last_ts_ms, r->last_id);
        else
            snprintf(key, sizeof key, "I:%s", r->last_id);
        b64url_encode(key, strlen(key), cur, sizeof cur);
        next = json_string(cur);
    }
    if (!page || !next || json_object_set(page, "items", r->items) < 0 ||
        json_object_set_new(page, "next_cursor", next) < 0) {
        json_decref(page);
        return tl_err_set(r->err, TL_ENOMEM, "out of memory rendering a page");
    }
    *out = page;
    return 0;
}

static int check_limit(const struct tl_page *page, size_t *limit, tl_err *err)
{
    *limit = page && page->limit ? page->limit : TL_PAGE_DEFAULT_LIMIT;
    if (*limit > TL_PAGE_MAX_LIMIT)
        return tl_err_set(err, TL_EINVAL, "limit %zu is over the most one page holds (%d)", *limit,
                          TL_PAGE_MAX_LIMIT);
    return 0;
}

/* Runs sql and renders every row into r->items (created here). */
static int run(struct render *r, const char *sql, size_t n_params, const tl_value *params)
{
    r->items = json_array();
    if (!r->items)
        return tl_err_set(r->err, TL_ENOMEM, "out of memory");
    int rc = tl_store_exec(tl_ctx_store(r->ctx), sql, n_params, params, on_row, r, r->err);
    if (rc == 0 && r->rc < 0)
        rc = r->rc;
    if (rc < 0) {
        json_decref(r->items);
        r->items = NULL;
    }
    return rc;
}

/* ---- gets --------------------------------------------------------------- */

static int get_one(tl_ctx *ctx, const char *table, const char *what, const char *id, json_t **out,
                   tl_err *err)
{
    if (!valid_id(id))
        return tl_err_set(err, TL_ENOTFOUND, "no %s with id \"%.64s\"", what, id ? id : "");
    const struct tl_table_spec *t = tl_schema_table(table);
    if (!TL_ALWAYS(t != NULL))
        return tl_err_set(err, TL_EINTERNAL, "no table %s in the schema", table);
    char sql[SQL_MAX];
    size_t o;
    select_list(t, true, NULL, sql, sizeof sql);
    o = strlen(sql);
    snprintf(sql + o, sizeof sql - o, " WHERE id = ?");
    struct render r = {.ctx = ctx, .t = t, .with_pii = true, .max_items = 1, .page_limit = 1, .err = err};
    tl_value p[] = {TL_TEXT(id)};
    int rc = run(&r, sql, 1, p);
    if (rc < 0)
        return rc;
    if (json_array_size(r.items) == 0) {
        json_decref(r.items);
        return tl_err_set(err, TL_ENOTFOUND, "no %s with id \"%s\"", what, id);
    }
    *out = json_incref(json_array_get(r.items, 0));
    json_decref(r.items);
    return 0;
}

int tl_customer_get(tl_ctx *ctx, const char *id, json_t **out, tl_err *err)
{
    return get_one(ctx, "customers", "customer", id, out, err);
}

int tl_customer_get_account(tl_ctx *ctx, const char *account_id, json_t **out, tl_err *err)
{
    return get_one(ctx, "accounts", "account", account_id, out, err);
}

int tl_customer_get_product(tl_ctx *ctx, const char *id, json_t **out, tl_err *err)
{
    return get_one(ctx, "products", "product", id, out, err);
}

struct owner_ud {
    char *owner;
    bool found;
};

static int on_owner(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct owner_ud *o = ud;
    if (n_cols >= 1 && cols[0].type == TL_VAL_TEXT) {
        snprintf(o->owner, 65, "%s", cols[0].s);
        o->found = true;
    }
    return 1;
}

int tl_customer_account_owner(tl_ctx *ctx, const char *account_id, char owner[65], tl_err *err)
{
    if (!valid_id(account_id))
        return tl_err_set(err, TL_ENOTFOUND, "no account with id \"%.64s\"", account_id ? account_id : "");
    struct owner_ud o = {.owner = owner};
    tl_value p[] = {TL_TEXT(account_id)};
    int rc = tl_store_exec(tl_ctx_store(ctx), "SELECT customer_id FROM accounts WHERE id = ?", 1, p,
                           on_owner, &o, err);
    if (rc < 0)
        return rc;
    if (!o.found)
        return tl_err_set(err, TL_ENOTFOUND, "no account with id \"%s\"", account_id);
    return 0;
}

static int on_exists(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)n_cols, (void)cols, (void)names;
    *(bool *)ud = true;
    return 1;
}

static int must_exist(tl_ctx *ctx, const char *table, const char *what, const char *id, tl_err *err)
{
    if (!valid_id(id))
        return tl_err_set(err, TL_ENOTFOUND, "no %s with id \"%.64s\"", what, id ? id : "");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE id = ?", table);
    bool found = false;
    tl_value p[] = {TL_TEXT(id)};
    int rc = tl_store_exec(tl_ctx_store(ctx), sql, 1, p, on_exists, &found, err);
    if (rc < 0)
        return rc;
    if (!found)
        return tl_err_set(err, TL_ENOTFOUND, "no %s with id \"%s\"", what, id);
    return 0;
}

/* ---- lists -------------------------------------------------------------- */

/* A list ordered by id, of table t, after the page's cursor. */
static int list_by_id(tl_ctx *ctx, const char *table, bool with_pii, const struct tl_page *page,
                      json_t **out, tl_err *err)
{
    size_t limit;
    int rc = check_limit(page, &limit, err);
    if (rc < 0)
        return rc;
    char after[65] = "";
    if (page && page->cursor && (rc = cursor_id(page->cursor, after, err)) < 0)
        return rc;
    const struct tl_table_spec *t = tl_schema_table(table);
    if (!TL_ALWAYS(t != NULL))
        return tl_err_set(err, TL_EINTERNAL, "no table %s in the schema", table);
    char sql[SQL_MAX];
    select_list(t, with_pii, NULL, sql, sizeof sql);
    size_t o = strlen(sql);
    snprintf(sql + o, sizeof sql - o, " WHERE id > ? ORDER BY id LIMIT ?");
    struct render r = {.ctx = ctx, .t = t, .with_pii = with_pii, .max_items = limit + 1,
                       .page_limit = limit, .err = err};
    tl_value p[] = {TL_TEXT(after), TL_INT((int64_t)limit + 1)};
    if ((rc = run(&r, sql, 2, p)) < 0)
        return rc;
    rc = finish_page(&r, limit, false, out);
    json_decref(r.items);
    return rc;
}

int tl_customer_list(tl_ctx *ctx, const struct tl_page *page, json_t **out, tl_err *err)
{
    return list_by_id(ctx, "customers", false, page, out, err);
}

int tl_customer_list_products(tl_ctx *ctx, const struct tl_page *page, json_t **out, tl_err *err)
{
    return list_by_id(ctx, "products", true, page, out, err);
}

int tl_customer_list_accounts(tl_ctx *ctx, const char *customer_id, json_t **out, tl_err *err)
{
    int rc = must_exist(ctx, "customers", "customer", customer_id, err);
    if (rc < 0)
        return rc;
    const struct tl_table_spec *t = tl_schema_table("accounts");
    char sql[SQL_MAX];
    select_list(t, true, NULL, sql, sizeof sql);
    size_t o = strlen(sql);
    snprintf(sql + o, sizeof sql - o, " WHERE customer_id = ? ORDER BY id LIMIT %d",
             TL_PAGE_MAX_LIMIT);
    struct render r = {.ctx = ctx, .t = t, .with_pii = true, .max_items = TL_PAGE_MAX_LIMIT,
                       .page_limit = TL_PAGE_MAX_LIMIT, .err = err};
    tl_value p[] = {TL_TEXT(customer_id)};
    if ((rc = run(&r, sql, 1, p)) < 0)
        return rc;
    json_t *res = json_object();
    if (!res || json_object_set_new(res, "items", r.items) < 0) {
        json_decref(res);
        return tl_err_set(err, TL_ENOMEM, "out of memory rendering accounts");
    }
    *out = res;
    return 0;
}

int tl_customer_list_transactions(tl_ctx *ctx, const struct tl_tx_filter *f,
                                  const struct tl_page *page, json_t **out, tl_err *err)
{
    if (!f || (!f->account_id) == (!f->customer_id))
        return tl_err_set(err, TL_EINVAL, "transactions: name exactly one of an account and a customer");
    if (f->from_ms > f->to_ms)
        return tl_err_set(err, TL_EINVAL, "transactions: the range starts after it ends");
    size_t limit;
    int rc = check_limit(page, &limit, err);
    if (rc < 0)
        return rc;
    /* Past the cursor: (ts, id) below the last item's, newest first. With no
     * cursor the bound sits above every row. */
    int64_t cur_ts = INT64_MAX;
    char cur_id[65] = "";
    bool has_cursor = page && page->cursor;
    if (has_cursor && (rc = cursor_tx(page->cursor, &cur_ts, cur_id, err)) < 0)
        return rc;
    if (f->account_id)
        rc = must_exist(ctx, "accounts", "account", f->account_id, err);
    else
        rc = must_exist(ctx, "customers", "customer", f->customer_id, err);
    if (rc < 0)
        return rc;

    const struct tl_table_spec *t = tl_schema_table("transactions");
    char sql[SQL_MAX];
    select_list(t, true, NULL, sql, sizeof sql);
    size_t o = strlen(sql);
    o += (size_t)snprintf(sql + o, sizeof sql - o, " WHERE %s AND ts_ms >= ? AND ts_ms < ?",
                          f->account_id ? "account_id = ?"
                                        : "account_id IN (SELECT id FROM accounts WHERE customer_id = ?)");
    if (has_cursor)
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND (ts_ms < ? OR (ts_ms = ? AND id < ?))");
    snprintf(sql + o, sizeof sql - o, " ORDER BY ts_ms DESC, id DESC LIMIT ?");
    tl_value p[7];
    size_t n = 0;
    p[n++] = TL_TEXT(f->account_id ? f->account_id : f->customer_id);
    p[n++] = TL_INT(f->from_ms);
    p[n++] = TL_INT(f->to_ms);
    if (has_cursor) {
        p[n++] = TL_INT(cur_ts);
        p[n++] = TL_INT(cur_ts);
        p[n++] = TL_TEXT(cur_id);
    }
    p[n++] = TL_INT((int64_t)limit + 1);
    struct render r = {.ctx = ctx, .t = t, .with_pii = true, .max_items = limit + 1,
                       .page_limit = limit, .err = err};
    if ((rc = run(&r, sql, n, p)) < 0)
        return rc;
    rc = finish_page(&r, limit, true, out);
    json_decref(r.items);
    return rc;
}
