/* needs: postgres */
/*
 * test_privacy.c - data key rotation, blind-index lookups, the data subject
 * export and erasure, through the library and a real store on each backend.
 * The CLI and the raw-file checks are in tests/integration/privacy.sh.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static const char PRODUCTS[] = "id,name,category,risk_level,currency\n"
                               "P1,Everyday Account,current_account,1,EUR\n";

static const char CUSTOMERS[] =
    "id,name,email,phone,address,national_id,birth_date,country,currency,customer_since\n"
    "C1,Anna Müller,Anna.Mueller@Example.de,+49 30 1234567,\"Hauptstraße 5, Berlin\",123-456,"
    "1985-04-12,DE,EUR,2015-06-01\n"
    "C2,Liam O'Brien,liam@example.ie,,,IE 998877,1992-11-30,IE,EUR,2019-01-15\n"
    "C3,Twin One,shared@example.com,,,,1970-01-01,DE,EUR,2000-01-01\n"
    "C4,Twin Two,SHARED@example.com,,,,1970-01-01,DE,EUR,2000-01-01\n";

static const char ACCOUNTS[] = "id,customer_id,product_id,type,currency,balance,opened_at,status\n"
                               "A1,C1,P1,current,EUR,10.00,2015-06-01T00:00:00Z,open\n"
                               "A2,C2,P1,current,EUR,20.00,2019-01-15T00:00:00Z,open\n";

static const char TRANSACTIONS[] = "id,account_id,ts,amount,currency,kind\n"
                                   "T1,A1,2026-01-01T10:00:00Z,-5.00,EUR,card\n"
                                   "T2,A1,2026-01-02T10:00:00Z,100.00,EUR,salary\n"
                                   "T3,A2,2026-01-03T10:00:00Z,-7.50,EUR,card\n";

struct env {
    char *dir;
    char *url;
    char *key_file;
    tl_config *cfg;
    tl_ctx *ctx;
};

static tl_config *config(const char *url, const char *key_file)
{
    tl_config *cfg = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_set(cfg, "store.url", url, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "data.key_file", key_file, TL_CONFIG_FLAG, &err), 0, "%s",
                 err.msg);
    return cfg;
}

static tl_ctx *open_ctx(const tl_config *cfg)
{
    tl_ctx *ctx = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "ctx: %s", err.msg);
    return ctx;
}

static void env_open(struct env *e, const char *url)
{
    unsetenv("TELLER_DATA_KEY");
    e->dir = tu_tmpdir();
    e->url = strdup(url);
    size_t n = strlen(e->dir) + 16;
    e->key_file = malloc(n);
    snprintf(e->key_file, n, "%s/teller.key", e->dir);
    e->cfg = config(url, e->key_file);
    e->ctx = open_ctx(e->cfg);
}

static void env_close(struct env *e)
{
    tl_ctx_close(e->ctx);
    tl_config_free(e->cfg);
    free(e->key_file);
    free(e->url);
    free(e->dir);
}

static void load(tl_store *s, const char *dir, const char *table, const char *text)
{
    char name[64];
    snprintf(name, sizeof name, "%s.csv", table);
    char *path = tu_write_file(dir, name, text);
    struct tl_ingest_opts o = {.table = table, .path = path, .quiet = true};
    tl_err err = {0};
    cr_assert_eq(tl_ingest_file(s, &o, NULL, &err), 0, "ingest %s: %s", table, err.msg);
    free(path);
}

static void load_bank(struct env *e)
{
    tl_store *s = tl_ctx_store(e->ctx);
    load(s, e->dir, "products", PRODUCTS);
    load(s, e->dir, "customers", CUSTOMERS);
    load(s, e->dir, "accounts", ACCOUNTS);
    load(s, e->dir, "transactions", TRANSACTIONS);
}

struct texts {
    size_t n;
    char v[4096][160];
};

static int on_texts(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct texts *t = ud;
    for (size_t i = 0; i < n_cols && t->n < 4096; i++)
        snprintf(t->v[t->n++], sizeof t->v[0], "%.*s", (int)cols[i].len,
                 cols[i].type == TL_VAL_TEXT ? cols[i].s : "");
    return 0;
}

/* Every non-NULL PII value of customers, as stored. */
static struct texts *stored_pii(tl_store *s)
{
    struct texts *t = calloc(1, sizeof *t);
    tl_err err = {0};
    static const char *cols[] = {"name", "email", "phone", "address", "national_id"};
    for (size_t i = 0; i < 5; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT %s FROM customers WHERE %s IS NOT NULL ORDER BY id",
                 cols[i], cols[i]);
        cr_assert_eq(tl_store_exec(s, sql, 0, NULL, on_texts, t, &err), 0, "%s", err.msg);
    }
    return t;
}

static void expect_all_under(tl_store *s, const char *key_id)
{
    struct texts *t = stored_pii(s);
    cr_assert_gt(t->n, 0);
    for (size_t i = 0; i < t->n; i++) {
        char id[32];
        cr_assert(tl_keyring_is_sealed(t->v[i], strlen(t->v[i])), "not sealed: %s", t->v[i]);
        cr_assert_eq(tl_keyring_sealed_key_id(t->v[i], strlen(t->v[i]), id), 0);
        cr_assert_str_eq(id, key_id, "value %s", t->v[i]);
    }
    free(t);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_assert_not_null(s);
    return s;
}

/* The customer export without its audit rows. */
static char *export_of(tl_ctx *ctx, const char *id)
{
    json_t *doc = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_privacy_export_customer(ctx, id, &doc, &err), 0, "export %s: %s", id, err.msg);
    json_object_del(doc, "audit_log");
    char *s = dump(doc);
    json_decref(doc);
    return s;
}

static void expect_find(tl_ctx *ctx, const char *field, const char *value, const char *want)
{
    char id[65] = {0};
    tl_err err = {0};
    int rc = tl_privacy_find_customer(ctx, field, value, id, &err);
    cr_assert_eq(rc, 0, "find %s %s: %s", field, value, err.msg);
    cr_assert_str_eq(id, want);
}

static void expect_find_fails(tl_ctx *ctx, const char *field, const char *value, int code)
{
    char id[65] = "untouched";
    tl_err err = {0};
    int rc = tl_privacy_find_customer(ctx, field, value, id, &err);
    cr_assert_eq(rc, code, "find %s %s: rc %d (%s)", field, value, rc, err.msg);
    cr_assert_str_eq(id, "untouched");
    cr_assert_null(strstr(err.msg, value), "the error repeats the PII value: %s", err.msg);
}


/* --------------------------------------------------------------- tests */

TU_BOTH(ingest_seals_and_lookups_normalize)
{
    struct env e;
    env_open(&e, url);
    load_bank(&e);
    expect_all_under(tl_ctx_store(e.ctx), "k1");
    expect_find(e.ctx, "email", "anna.mueller@example.de", "C1");
    expect_find(e.ctx, "email", " ANNA.MUELLER@EXAMPLE.DE\t", "C1");
    expect_find(e.ctx, "national_id", "123456", "C1");
    expect_find(e.ctx, "national_id", "ie-998877", "C2");
    expect_find_fails(e.ctx, "email", "nobody@example.com", TL_ENOTFOUND);
    expect_find_fails(e.ctx, "email", "shared@example.com", TL_ECONSTRAINT);
    expect_find_fails(e.ctx, "email", "   ", TL_ENOTFOUND);
    expect_find_fails(e.ctx, "phone", "+49 30 1234567", TL_EINVAL);
    char long_value[2000];
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    expect_find_fails(e.ctx, "email", long_value, TL_EINVAL);
    env_close(&e);
}

TU_BOTH(export_holds_everything_about_one_customer)
{
    struct env e;
    env_open(&e, url);
    load_bank(&e);
    struct tl_audit_event ev = {.actor = "test", .role = "cli", .action = "customer.read",
                                .customer_id = "C1"};
    tl_err err = {0};
    cr_assert_eq(tl_audit_append(e.ctx, &ev, &err), 0, "audit: %s", err.msg);
    json_t *doc = NULL;
    cr_assert_eq(tl_privacy_export_customer(e.ctx, "C1", &doc, &err), 0, "%s", err.msg);
    json_t *c = json_object_get(doc, "customer");
    cr_assert_str_eq(json_string_value(json_object_get(c, "name")), "Anna Müller");
    cr_assert_str_eq(json_string_value(json_object_get(c, "email")), "Anna.Mueller@Example.de");
    cr_assert_str_eq(json_string_value(json_object_get(c, "address")), "Hauptstraße 5, Berlin");
    cr_assert(json_is_null(json_object_get(c, "erased_at")));
    cr_assert_null(json_object_get(c, "email_bidx"), "blind indexes are not shown");
    cr_assert_eq(json_array_size(json_object_get(doc, "accounts")), 1);
    json_t *tx = json_object_get(doc, "transactions");
    cr_assert_eq(json_array_size(tx), 2, "T1 and T2 of A1, not T3 of C2");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tx, 1), "amount")), "100.00");
    json_t *audit = json_object_get(doc, "audit_log");
    size_t i;
    json_t *row;
    bool read = false;
    json_array_foreach(audit, i, row) {
        cr_assert_str_eq(json_string_value(json_object_get(row, "customer_id")), "C1");
        read = read || strcmp(json_string_value(json_object_get(row, "action")), "customer.read") == 0;
    }
    cr_assert(read, "the audit row about C1 is in the export");
    cr_assert_not_null(json_object_get(doc, "holdings"));
    cr_assert_not_null(json_object_get(doc, "api_keys"));
    cr_assert_null(json_object_get(doc, "products"), "the catalogue is not about the customer");
    json_decref(doc);

    doc = (json_t *)0x1;
    cr_assert_eq(tl_privacy_export_customer(e.ctx, "C404", &doc, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "C404"), "%s", err.msg);
    cr_assert_eq(doc, (json_t *)0x1, "*out touched on error");
    env_close(&e);
}

TU_BOTH(rotation_reseals_in_batches_and_readers_keep_reading)
{
    struct env e;
    env_open(&e, url);
    /* more customers than one batch, so the walk by id crosses batches */
    size_t n = 1234, cap = n * 128 + 256;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "id,name,email,birth_date,country,currency,customer_since\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(csv + o, cap - o, "X%05zu,Person %zu,p%zu@example.com,1980-01-01,DE,EUR,"
                              "2020-01-01\n", i, i, i);
    tl_store *s = tl_ctx_store(e.ctx);
    load(s, e.dir, "products", PRODUCTS);
    load(s, e.dir, "customers", csv);
    load(s, e.dir, "customers", CUSTOMERS);
    free(csv);
    char *before = export_of(e.ctx, "C1");
    char *before_x = export_of(e.ctx, "X01200");

    /* a second process's context, opened before the rotation */
    tl_ctx *reader = open_ctx(e.cfg);

    uint64_t resealed = 0;
    tl_err err = {0};
    cr_assert_eq(tl_privacy_rotate_data_key(e.ctx, &resealed, &err), 0, "rotate: %s", err.msg);
    /* names and emails of 1234 + 4, phones 1, addresses 1, national ids 2 */
    cr_assert_eq(resealed, 2 * 1238 + 1 + 1 + 2, "resealed %llu", (unsigned long long)resealed);
    cr_assert_str_eq(tl_keyring_active_id(tl_ctx_keyring(e.ctx)), "k2");
    expect_all_under(s, "k2");

    char *after = export_of(reader, "C1");
    cr_assert_str_eq(after, before, "a reader holding only k1 still reads after the rotation");
    free(after);
    after = export_of(reader, "X01200");
    cr_assert_str_eq(after, before_x);
    free(after);
    expect_find(reader, "email", "P1233@example.com", "X01233");

    /* a second rotation reseals everything again; none is left behind */
    cr_assert_eq(tl_privacy_rotate_data_key(reader, &resealed, &err), 0, "rotate: %s", err.msg);
    cr_assert_eq(resealed, 2 * 1238 + 4);
    expect_all_under(s, "k3");
    after = export_of(e.ctx, "C1");
    cr_assert_str_eq(after, before);
    free(after);
    tl_ctx_close(reader);
    free(before);
    free(before_x);
    env_close(&e);
}

TU_BOTH(rotation_seals_values_stored_in_the_clear)
{
    /* a store loaded before PII was encrypted: no keyring attached */
    unsetenv("TELLER_DATA_KEY");
    tl_store *s = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_store_open(url, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_store_migrate(s, NULL, &err), 0, "%s", err.msg);
    char *dir = tu_tmpdir();
    load(s, dir, "products", PRODUCTS);
    load(s, dir, "customers", CUSTOMERS);
    struct texts *t = stored_pii(s);
    cr_assert_str_eq(t->v[0], "Anna Müller", "without a keyring PII is stored as given");
    free(t);
    tl_store_close(s);

    struct env e;
    env_open(&e, url);
    expect_find_fails(e.ctx, "email", "liam@example.ie", TL_ENOTFOUND);
    char *plain = export_of(e.ctx, "C2");
    uint64_t n = 0;
    cr_assert_eq(tl_privacy_rotate_data_key(e.ctx, &n, &err), 0, "rotate: %s", err.msg);
    cr_assert_eq(n, 2 * 4 + 4);
    expect_all_under(tl_ctx_store(e.ctx), "k2");
    expect_find(e.ctx, "email", "liam@example.ie", "C2");
    char *sealed = export_of(e.ctx, "C2");
    cr_assert_str_eq(sealed, plain);
    free(plain);
    free(sealed);
    free(dir);
    env_close(&e);
}

struct erased_row {
    int n;
    char vals[12][80];
};

static int on_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct erased_row *r = ud;
    r->n++;
    for (size_t i = 0; i < n_cols && i < 12; i++) {
        if (cols[i].type == TL_VAL_NULL)
            snprintf(r->vals[i], sizeof r->vals[i], "NULL");
        else if (cols[i].type == TL_VAL_INT)
            snprintf(r->vals[i], sizeof r->vals[i], "%lld", (long long)cols[i].i);
        else
            snprintf(r->vals[i], sizeof r->vals[i], "%.*s", (int)cols[i].len, cols[i].s);
    }
    return 0;
}

static struct erased_row customer_row(tl_store *s, const char *id)
{
    struct erased_row r = {0};
    tl_err err = {0};
    tl_value p[] = {TL_TEXT(id)};
    cr_assert_eq(tl_store_exec(s,
                               "SELECT name, email, phone, address, national_id, email_bidx, "
                               "national_id_bidx, erased_ms, birth_date, country FROM customers "
                               "WHERE id = ?",
                               1, p, on_row, &r, &err),
                 0, "%s", err.msg);
    cr_assert_eq(r.n, 1);
    return r;
}

static int64_t sum_tx(tl_store *s)
{
    struct erased_row r = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(s, "SELECT CAST(SUM(amount_minor) AS BIGINT), count(*) FROM transactions",
                               0, NULL, on_row, &r, &err),
                 0, "%s", err.msg);
    return strtoll(r.vals[0], NULL, 10) * 1000 + strtoll(r.vals[1], NULL, 10);
}

TU_BOTH(erase_is_thorough_and_idempotent)
{
    struct env e;
    env_open(&e, url);
    load_bank(&e);
    tl_store *s = tl_ctx_store(e.ctx);
    tl_err err = {0};
    tl_value kp[] = {TL_TEXT("key1"), TL_TEXT("C1"), TL_TEXT("other"), TL_TEXT("C2")};
    cr_assert_eq(tl_store_exec(s,
                               "INSERT INTO api_keys (id, key_hash, role, customer_id, created_ms)"
                               " VALUES (?, 'h', 'customer', ?, 1), (?, 'h', 'customer', ?, 1)",
                               4, kp, NULL, NULL, &err),
                 0, "%s", err.msg);
    int64_t tx = sum_tx(s);
    struct erased_row c2 = customer_row(s, "C2");

    cr_assert_eq(tl_privacy_erase_customer(e.ctx, "C1", &err), 0, "erase: %s", err.msg);
    struct erased_row r = customer_row(s, "C1");
    cr_assert_str_eq(r.vals[0], "[erased]");
    for (int i = 1; i <= 6; i++)
        cr_assert_str_eq(r.vals[i], "NULL", "column %d kept %s", i, r.vals[i]);
    cr_assert_str_neq(r.vals[7], "NULL", "erased_ms is set");
    cr_assert_str_eq(r.vals[8], "1985-01-01", "the birth date keeps its year only");
    cr_assert_str_eq(r.vals[9], "DE");
    cr_assert_eq(sum_tx(s), tx, "transactions are untouched");
    struct erased_row other = customer_row(s, "C2");
    for (int i = 0; i < 10; i++)
        cr_assert_str_eq(other.vals[i], c2.vals[i], "another customer changed");

    struct erased_row keys = {0};
    cr_assert_eq(tl_store_exec(s, "SELECT id FROM api_keys WHERE revoked_ms IS NOT NULL", 0, NULL,
                               on_row, &keys, &err),
                 0, "%s", err.msg);
    cr_assert_eq(keys.n, 1, "only the erased customer's key is revoked");
    cr_assert_str_eq(keys.vals[0], "key1");

    /* idempotent: the first erasure's time stands */
    cr_assert_eq(tl_privacy_erase_customer(e.ctx, "C1", &err), 0, "again: %s", err.msg);
    struct erased_row again = customer_row(s, "C1");
    for (int i = 0; i < 10; i++)
        cr_assert_str_eq(again.vals[i], r.vals[i]);

    json_t *doc = NULL;
    cr_assert_eq(tl_privacy_export_customer(e.ctx, "C1", &doc, &err), 0, "%s", err.msg);
    json_t *c = json_object_get(doc, "customer");
    cr_assert_str_eq(json_string_value(json_object_get(c, "name")), "[erased]");
    cr_assert(json_is_null(json_object_get(c, "email")));
    cr_assert(json_is_string(json_object_get(c, "erased_at")));
    cr_assert_eq(json_array_size(json_object_get(doc, "transactions")), 2);
    json_t *k = json_array_get(json_object_get(doc, "api_keys"), 0);
    cr_assert(json_is_string(json_object_get(k, "revoked_at")), "the customer's key is revoked");
    cr_assert_null(json_object_get(k, "key_hash"));
    json_decref(doc);
    expect_find_fails(e.ctx, "email", "anna.mueller@example.de", TL_ENOTFOUND);

    /* re-ingesting the bank's file does not bring the customer back */
    load(s, e.dir, "customers", CUSTOMERS);
    struct erased_row reloaded = customer_row(s, "C1");
    for (int i = 0; i < 10; i++)
        cr_assert_str_eq(reloaded.vals[i], r.vals[i]);

    cr_assert_eq(tl_privacy_erase_customer(e.ctx, "C404", &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "C404"), "%s", err.msg);
    env_close(&e);
}

TU_BOTH(computed_columns_are_refused_and_lengths_apply_to_plaintext)
{
    struct env e;
    env_open(&e, url);
    tl_store *s = tl_ctx_store(e.ctx);
    load(s, e.dir, "products", PRODUCTS);
    char *csv = tu_write_file(e.dir, "c.csv",
                              "id,name,birth_date,country,currency,customer_since,erased_at\n"
                              "C9,X,1990-01-01,DE,EUR,2020-01-01,\n");
    struct tl_ingest_opts o = {.table = "customers", .path = csv, .quiet = true};
    tl_err err = {0};
    cr_assert_eq(tl_ingest_file(s, &o, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "c.csv:1: column erased_at is computed by teller and cannot be loaded"),
              "%s", err.msg);
    char *jl = tu_write_file(e.dir, "c.jsonl",
                             "{\"id\":\"C9\",\"name\":\"X\",\"birth_date\":\"1990-01-01\",\"country\":"
                             "\"DE\",\"currency\":\"EUR\",\"customer_since\":\"2020-01-01\","
                             "\"email_bidx\":null}\n");
    o.path = jl;
    cr_assert_eq(tl_ingest_file(s, &o, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "c.jsonl:1: column email_bidx is computed by teller"), "%s", err.msg);
    int64_t n = -1;
    cr_assert_eq(tl_store_count(s, "customers", &n, &err), 0);
    cr_assert_eq(n, 0);

    /* a 200-byte name fits (max_len 200) although its sealed form is longer */
    char name[202];
    memset(name, 'n', 200);
    name[200] = 0;
    char text[512];
    snprintf(text, sizeof text, "id,name,birth_date,country,currency,customer_since\n"
             "C9,%s,1990-01-01,DE,EUR,2020-01-01\n", name);
    load(s, e.dir, "customers", text);
    name[200] = 'n';
    name[201] = 0;
    snprintf(text, sizeof text, "id,name,birth_date,country,currency,customer_since\n"
             "C9,%s,1990-01-01,DE,EUR,2020-01-01\n", name);
    char *longer = tu_write_file(e.dir, "long.csv", text);
    o.path = longer;
    cr_assert_eq(tl_ingest_file(s, &o, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "201 bytes, longer than the 200 allowed"), "%s", err.msg);

    /* the export leaves computed columns out and shows the plaintext */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert_eq(tl_export(s, "customers", out, TL_FORMAT_CSV, NULL, &err), 0, "%s", err.msg);
    fclose(out);
    cr_assert_null(strstr(buf, "bidx"), "%s", buf);
    cr_assert_null(strstr(buf, "erased_at"), "%s", buf);
    cr_assert_null(strstr(buf, "tlenc1:"), "%s", buf);
    name[200] = 0;
    cr_assert_not_null(strstr(buf, name));
    free(buf);
    free(csv);
    free(jl);
    free(longer);
    env_close(&e);
}
