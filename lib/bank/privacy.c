/*
 * privacy.c - data key rotation, blind-index lookup, and the data subject's
 * rights of access (export) and erasure (see privacy.h, docs/privacy.md).
 *
 * Everything here works from schema.h: the PII columns are the ones marked
 * `pii`, the tables concerning a customer are the ones with a customer_id
 * column (or an account_id that leads to one), so a table added later is
 * covered without touching this file.
 */
#include <teller/datetime.h>
#include <teller/keyring.h>
#include <teller/log.h>
#include <teller/privacy.h>

#include "store/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESEAL_BATCH 500 /* rows per transaction: a few ms of write lock each */
#define SQL_MAX 1024
#define ERASED_NAME "[erased]"

static const struct tl_column_spec *column(const struct tl_table_spec *t, const char *name)
{
    int k = tl_schema_column_index(t, name);
    return k >= 0 ? &t->columns[k] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Rotation                                                                 */

struct batch_row {
    char *id;
    char **vals; /* (n_pii) the stored values, NULL for SQL NULL */
};

struct batch {
    size_t n_pii;
    size_t n;
    struct batch_row rows[RESEAL_BATCH];
    bool oom;
};

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->rows[i].id);
        for (size_t j = 0; j < b->n_pii; j++)
            free(b->rows[i].vals[j]);
        free(b->rows[i].vals);
    }
    b->n = 0;
}

static char *dup_text(const tl_value *v)
{
    if (v->type != TL_VAL_TEXT)
        return NULL;
    char *s = malloc(v->len + 1);
    if (s) {
        memcpy(s, v->s, v->len);
        s[v->len] = 0;
    }
    return s;
}

/* Row: id, the PII columns in spec order. */
static int on_batch_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct batch *b = ud;
    if (n_cols != b->n_pii + 1 || b->n == RESEAL_BATCH)
        return 1;
    struct batch_row *r = &b->rows[b->n];
    r->id = dup_text(&cols[0]);
    r->vals = calloc(b->n_pii ? b->n_pii : 1, sizeof *r->vals);
    if (!r->id || !r->vals) {
        free(r->id);
        free(r->vals);
        b->oom = true;
        return 1;
    }
    b->n++;
    for (size_t j = 0; j < b->n_pii; j++) {
        if (cols[j + 1].type == TL_VAL_NULL)
            continue;
        if (!(r->vals[j] = dup_text(&cols[j + 1]))) {
            b->oom = true;
            return 1;
        }
    }
    return 0;
}

/* Re-seals one value under the active key, and refreshes its blind index:
 * a value stored in the clear (before a keyring was attached) gets both.
 * Returns the number of values rewritten (0 or 1). */
static int reseal_value(tl_store *s, const tl_keyring *kr, const struct tl_table_spec *t,
                        const struct tl_column_spec *c, const char *id, const char *old,
                        uint64_t *n_done, tl_err *err)
{
    char context[TL__PII_CONTEXT_SIZE];
    tl__pii_context(t, c, context, sizeof context);
    char kid[32];
    size_t old_len = strlen(old);
    bool sealed = tl_keyring_is_sealed(old, old_len);
    if (sealed && tl_keyring_sealed_key_id(old, old_len, kid) == 0 &&
        strcmp(kid, tl_keyring_active_id(kr)) == 0)
        return 0;
    char *pt = NULL, *fresh = NULL;
    size_t pt_len = old_len;
    int rc = 0;
    if (sealed) {
        rc = tl_keyring_unseal(kr, context, old, old_len, &pt, &pt_len, err);
        if (rc < 0) {
            tl_err_prefix(err, "rotate: row \"%.64s\"", id);
            return rc;
        }
    }
    const char *plain = sealed ? pt : old;
    rc = tl_keyring_seal(kr, context, plain, pt_len, &fresh, err);
    const char *bidx_col = tl__bidx_column(t->name, c->name);
    char hex[65];
    int hrc = 1;
    if (rc == 0 && bidx_col)
        hrc = tl__bidx_value(kr, t->name, c->name, plain, pt_len, hex);
    if (pt) {
        sodium_memzero(pt, pt_len);
        free(pt);
    }
    if (rc < 0)
        return rc;
    /* The old value in the WHERE clause: a row that changed since it was
     * read (an ingest sealed it anew) is left to that writer. */
    char sql[SQL_MAX];
    const char *col = tl_schema_db_name(c);
    tl_value p[4];
    size_t np = 0;
    p[np++] = TL_TEXT(fresh);
    if (bidx_col) {
        snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?, %s = ? WHERE id = ? AND %s = ?", t->name,
                 col, bidx_col, col);
        p[np++] = hrc == 0 ? TL_TEXTN(hex, 64) : TL_NULLV;
    } else {
        snprintf(sql, sizeof sql, "UPDATE %s SET %s = ? WHERE id = ? AND %s = ?", t->name, col,
                 col);
    }
    p[np++] = TL_TEXT(id);
    p[np++] = TL_TEXTN(old, old_len);
    rc = tl_store_exec(s, sql, np, p, NULL, NULL, err);
    free(fresh);
    if (rc < 0)
        return rc;
    *n_done += (uint64_t)tl_store_changes(s);
    return 0;
}

/* Walks table t by id in batches, one short transaction each, so that a
 * rotation of millions of rows never holds the write lock for long and
 * readers (which never wait in WAL mode or under MVCC) see every value
 * readable throughout: old values open with the old key until rewritten. */
static int reseal_table(tl_store *s, const tl_keyring *kr, const struct tl_table_spec *t,
                        uint64_t *n_done, tl_err *err)
{
    const struct tl_column_spec *erased = column(t, "erased_at");
    struct batch *b = calloc(1, sizeof *b);
    char sql[SQL_MAX];
    if (!b)
        return tl_err_set(err, TL_ENOMEM, "rotate: out of memory");
    size_t o = (size_t)snprintf(sql, sizeof sql, "SELECT id");
    for (size_t k = 0; k < t->n_columns; k++) {
        if (t->columns[k].pii) {
            o += (size_t)snprintf(sql + o, sizeof sql - o, ", %s", tl_schema_db_name(&t->columns[k]));
            b->n_pii++;
        }
    }
    /* erased rows hold only erasure marks: nothing to seal */
    snprintf(sql + o, sizeof sql - o, " FROM %s WHERE id > ?%s%s%s ORDER BY id LIMIT %d", t->name,
             erased ? " AND " : "", erased ? tl_schema_db_name(erased) : "",
             erased ? " IS NULL" : "", RESEAL_BATCH);
    char *last = strdup("");
    int rc = last ? 0 : tl_err_set(err, TL_ENOMEM, "rotate: out of memory");
    while (rc == 0) {
        if ((rc = tl_store_begin(s, err)) < 0)
            break;
        tl_value p[] = {TL_TEXT(last)};
        rc = tl_store_exec(s, sql, 1, p, on_batch_row, b, err);
        if (rc == 0 && b->oom)
            rc = tl_err_set(err, TL_ENOMEM, "rotate: out of memory reading %s", t->name);
        for (size_t i = 0; rc == 0 && i < b->n; i++) {
            size_t j = 0;
            for (size_t k = 0; rc == 0 && k < t->n_columns; k++) {
                const struct tl_column_spec *c = &t->columns[k];
                if (!c->pii)
                    continue;
                const char *v = b->rows[i].vals[j++];
                if (v)
                    rc = reseal_value(s, kr, t, c, b->rows[i].id, v, n_done, err);
            }
        }
        if (rc == 0)
            rc = tl_store_commit(s, err);
        else
            tl_store_rollback(s, NULL);
        bool more = rc == 0 && b->n == RESEAL_BATCH;
        if (more) {
            free(last);
            last = b->rows[b->n - 1].id;
            b->rows[b->n - 1].id = NULL;
        }
        batch_clear(b);
        if (!more)
            break;
    }
    free(last);
    free(b);
    return rc;
}

int tl_privacy_rotate_data_key(tl_ctx *ctx, uint64_t *n_resealed, tl_err *err)
{
    if (n_resealed)
        *n_resealed = 0;
    tl_keyring *kr = ctx ? tl_ctx_keyring(ctx) : NULL;
    if (!kr)
        return tl_err_set(err, TL_EINVAL, "rotate: the context has no data keys");
    const char *path = tl_config_get(tl_ctx_config(ctx), "data.key_file");
    char new_id[32];
    int rc = tl_keyring_rotate(kr, path && *path ? path : NULL, new_id, err);
    if (rc < 0)
        return rc;
    tl_log(TL_LOG_INFO, "privacy", "new data key %s added to %s; resealing", new_id, path);
    tl_store *s = tl_ctx_store(ctx);
    uint64_t n = 0;
    for (size_t i = 0; rc == 0 && i < tl_schema_table_count(); i++) {
        const struct tl_table_spec *t = tl_schema_table_at(i);
        bool any = false;
        for (size_t k = 0; k < t->n_columns; k++)
            any = any || t->columns[k].pii;
        if (any)
            rc = reseal_table(s, kr, t, &n, err);
    }
    if (n_resealed)
        *n_resealed = n;
    if (rc < 0) {
        /* the key is in the file and what was resealed stays readable:
         * running the rotation again finishes the job under a newer key */
        tl_err_prefix(err, "rotate (key %s added, %" PRIu64 " values resealed before the error)",
                      new_id, n);
        return rc;
    }
    tl_log(TL_LOG_INFO, "privacy", "%" PRIu64 " values resealed under data key %s", n, new_id);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Lookup                                                                   */

struct found {
    size_t n;
    char ids[2][65];
};

static int on_found(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct found *f = ud;
    if (n_cols >= 1 && cols[0].type == TL_VAL_TEXT && f->n < 2)
        snprintf(f->ids[f->n++], sizeof f->ids[0], "%.*s", (int)(cols[0].len < 64 ? cols[0].len : 64),
                 cols[0].s);
    return f->n == 2;
}

int tl_privacy_find_customer(tl_ctx *ctx, const char *field, const char *value, char id[65],
                             tl_err *err)
{
    if (!ctx || !field || !value || !id)
        return tl_err_set(err, TL_EINVAL, "find customer: missing context, field, value or output");
    const char *col = tl__bidx_column("customers", field);
    if (!col)
        return tl_err_set(err, TL_EINVAL,
                          "find customer: cannot look customers up by \"%.40s\"; use email or "
                          "national_id",
                          field);
    const tl_keyring *kr = tl_ctx_keyring(ctx);
    if (!kr)
        return tl_err_set(err, TL_EINVAL, "find customer: the context has no data keys");
    char hex[65];
    /* The value is personal data: errors name the field, never the value. */
    int rc = tl__bidx_value(kr, "customers", field, value, strlen(value), hex);
    if (rc < 0)
        return tl_err_set(err, TL_EINVAL, "find customer: the %s given is too long", field);
    if (rc == 1)
        return tl_err_set(err, TL_ENOTFOUND, "find customer: the %s given is empty", field);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM customers WHERE %s = ? ORDER BY id LIMIT 2", col);
    struct found f = {0};
    tl_value p[] = {TL_TEXTN(hex, 64)};
    if ((rc = tl_store_exec(tl_ctx_store(ctx), sql, 1, p, on_found, &f, err)) < 0)
        return rc;
    if (f.n == 0)
        return tl_err_set(err, TL_ENOTFOUND, "no customer has the %s given", field);
    if (f.n > 1)
        return tl_err_set(err, TL_ECONSTRAINT,
                          "more than one customer has the %s given (%s, %s, ...): ask by id",
                          field, f.ids[0], f.ids[1]);
    memcpy(id, f.ids[0], sizeof f.ids[0]);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Export                                                                   */

/* Columns a data subject export leaves out: blind indexes are keyed hashes
 * that mean nothing to the customer, and an API key's hash is a credential. */
static bool hidden(const char *table, const char *col)
{
    return tl__bidx_source(table, col) != NULL ||
           (strcmp(table, "api_keys") == 0 && strcmp(col, "key_hash") == 0);
}

static void hide_columns(const char *table, json_t *arr)
{
    size_t i;
    json_t *obj;
    json_array_foreach(arr, i, obj) {
        const char *key;
        void *tmp;
        json_t *v;
        json_object_foreach_safe(obj, tmp, key, v) {
            if (hidden(table, key))
                json_object_del(obj, key);
        }
    }
}

/* The WHERE clause selecting the rows of t that concern one customer (one
 * `?`), or NULL when t holds nothing about customers. */
static const char *where_customer(const struct tl_table_spec *t)
{
    if (strcmp(t->name, "customers") == 0)
        return "id = ?";
    if (column(t, "customer_id"))
        return "customer_id = ?";
    const struct tl_column_spec *acc = column(t, "account_id");
    if (acc && acc->type == TL_COL_REF && acc->ref_table && strcmp(acc->ref_table, "accounts") == 0)
        return "account_id IN (SELECT id FROM accounts WHERE customer_id = ?)";
    return NULL;
}

int tl_privacy_export_customer(tl_ctx *ctx, const char *id, json_t **out, tl_err *err)
{
    if (!ctx || !id || !out)
        return tl_err_set(err, TL_EINVAL, "export customer: missing context, id or output");
    tl_store *s = tl_ctx_store(ctx);
    json_t *doc = json_object();
    if (!doc)
        return tl_err_set(err, TL_ENOMEM, "export customer: out of memory");
    int rc = 0;
    tl_value p[] = {TL_TEXT(id)};
    for (size_t i = 0; rc == 0 && i < tl_schema_table_count(); i++) {
        const struct tl_table_spec *t = tl_schema_table_at(i);
        const char *where = where_customer(t);
        if (!where)
            continue;
        /* the customer first, as one object; then a list per table */
        bool self = strcmp(t->name, "customers") == 0;
        json_t *arr = json_array();
        if (!arr || json_object_set_new(doc, self ? "customer" : t->name, arr) < 0) {
            rc = tl_err_set(err, TL_ENOMEM, "export customer: out of memory");
            break;
        }
        rc = tl__export_json(s, t, where, 1, p, arr, err);
        if (rc < 0) {
            tl_err_prefix(err, "export customer \"%.64s\"", id);
            break;
        }
        hide_columns(t->name, arr);
        if (self && json_array_size(arr) == 0)
            rc = tl_err_set(err, TL_ENOTFOUND, "no customer \"%.64s\"", id);
        else if (self)
            json_object_set(doc, "customer", json_array_get(arr, 0)); /* frees arr */
    }
    if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Erasure                                                                  */

struct erase_state {
    bool found;
    bool erased;
    char birth_year[5];
};

static int on_erase_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct erase_state *e = ud;
    e->found = true;
    e->erased = n_cols >= 1 && cols[0].type != TL_VAL_NULL;
    if (n_cols >= 2 && cols[1].type == TL_VAL_TEXT && cols[1].len >= 4)
        memcpy(e->birth_year, cols[1].s, 4);
    return 1;
}

int tl_privacy_erase_customer(tl_ctx *ctx, const char *id, tl_err *err)
{
    if (!ctx || !id)
        return tl_err_set(err, TL_EINVAL, "erase customer: missing context or id");
    tl_store *s = tl_ctx_store(ctx);
    const struct tl_table_spec *t = tl_schema_table("customers");
    const struct tl_column_spec *erased = t ? column(t, "erased_at") : NULL;
    const struct tl_column_spec *birth = t ? column(t, "birth_date") : NULL;
    if (!TL_ALWAYS(erased && birth))
        return tl_err_set(err, TL_EINTERNAL, "erase customer: the schema lacks erased_at");
    int rc = tl_store_begin(s, err);
    if (rc < 0)
        return rc;
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "SELECT %s, %s FROM customers WHERE id = ?", tl_schema_db_name(erased),
             tl_schema_db_name(birth));
    struct erase_state e = {0};
    tl_value idp[] = {TL_TEXT(id)};
    rc = tl_store_exec(s, sql, 1, idp, on_erase_row, &e, err);
    if (rc == 0 && !e.found)
        rc = tl_err_set(err, TL_ENOTFOUND, "erase customer: no customer \"%.64s\"", id);
    if (rc < 0 || e.erased) {
        /* erasing twice is a no-op: the first erasure's time stands */
        tl_store_rollback(s, NULL);
        return rc;
    }

    /* PII: required columns get a mark, optional ones become NULL; blind
     * indexes go with them. The birth date keeps only its year: with the
     * region it would single a person out, and ages by year are what the
     * aggregates use. Accounts, transactions and the audit chain keep the
     * customer's id, which is not personal data once nothing maps it to a
     * person. */
    int64_t now = tl_time_now_ms();
    char birth_generalized[11];
    snprintf(birth_generalized, sizeof birth_generalized, "%.4s-01-01",
             e.birth_year[0] ? e.birth_year : "1900");
    tl_value p[48];
    size_t np = 0;
    size_t o = (size_t)snprintf(sql, sizeof sql, "UPDATE customers SET ");
    for (size_t k = 0; k < t->n_columns && np + 2 < sizeof p / sizeof p[0]; k++) {
        const struct tl_column_spec *c = &t->columns[k];
        tl_value v;
        if (c->pii)
            v = c->required ? TL_TEXT(ERASED_NAME) : TL_NULLV;
        else if (c->derived && tl__bidx_source(t->name, c->name))
            v = TL_NULLV;
        else if (c == erased)
            v = TL_INT(now);
        else if (c == birth)
            v = TL_TEXT(birth_generalized);
        else
            continue;
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%s%s = ?", np ? ", " : "",
                              tl_schema_db_name(c));
        p[np++] = v;
    }
    snprintf(sql + o, sizeof sql - o, " WHERE id = ?");
    p[np++] = TL_TEXT(id);
    rc = tl_store_exec(s, sql, np, p, NULL, NULL, err);
    /* an erased customer cannot sign in any more */
    if (rc == 0) {
        tl_value kp[] = {TL_INT(now), TL_TEXT(id)};
        rc = tl_store_exec(s,
                           "UPDATE api_keys SET revoked_ms = ? WHERE customer_id = ?"
                           " AND revoked_ms IS NULL",
                           2, kp, NULL, NULL, err);
    }
    /* the profile is derived data: recurring payers' descriptions and life
     * signals read like a diary, so it goes (a later read rebuilds it from
     * the transactions the bank keeps) */
    if (rc == 0) {
        tl_value ip[] = {TL_TEXT(id)};
        rc = tl_store_exec(s, "DELETE FROM customer_profiles WHERE id = ?", 1, ip, NULL, NULL, err);
    }
    if (rc == 0)
        rc = tl_store_commit(s, err);
    else
        tl_store_rollback(s, NULL);
    if (rc < 0) {
        tl_err_prefix(err, "erase customer \"%.64s\"", id);
        return rc;
    }
    tl_log(TL_LOG_INFO, "privacy", "customer %.64s erased", id);
    return 0;
}
