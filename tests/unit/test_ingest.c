/* needs: postgres */
/*
 * test_ingest.c - validated ingestion, export and stats on both backends.
 *
 * Every case runs against a SQLite file and against a fresh database on the
 * PostgreSQL server of this test run (skipped with a warning when none runs).
 * Failing loads are always checked to leave tl_store_checksum unchanged.
 */
#include "testutil.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */

static const char PRODUCTS[] =
    "id,name,category,risk_level,currency,annual_fee\n"
    "P1,Everyday Account,current_account,1,USD,12.00\n"
    "P2,Gold Card,credit_card,3,USD,95.50\n";

/* columns in another order than the spec, optional ones left out */
static const char CUSTOMERS[] =
    "name,id,email,birth_date,country,currency,annual_income,customer_since,segment\n"
    "Ana Lima,C1,ana@example.com,1980-04-02,BR,USD,55000.00,2015-01-10,mass\n"
    "\"Smith, John\",C2,,1975-12-31,US,USD,,2010-06-01,affluent\n"
    "Yuki Sato,C3,yuki@example.jp,1990-07-07,JP,JPY,6000000,2020-02-02,\n";

static const char ACCOUNTS[] =
    "id,customer_id,product_id,type,currency,balance,credit_limit,opened_at,status\r\n"
    "A1,C1,P1,current,USD,1250.75,,2015-01-10T09:00:00Z,open\r\n"
    "A2,C2,P2,credit_card,USD,-300.00,5000.00,2018-03-01T12:00:00Z,open\r\n"
    "A3,C3,,savings,JPY,120000,,2020-02-02,open\r\n";

#define TX_HEADER                                                                              \
    "id,account_id,ts,amount,currency,kind,channel,mcc,merchant_id,terminal_id,country,"       \
    "description,is_fraud,fraud_scenario\n"

static const char TRANSACTIONS[] =
    TX_HEADER
    "T1,A1,2026-01-05T10:15:00Z,-42.10,USD,card,pos,5411,M1,TERM1,US,Grocery store,false,0\n"
    "T2,A1,2026-01-06T08:00:00Z,2500.00,USD,salary,batch,,,,US,ACME payroll,no,0\n"
    "T3,A2,2026-01-07T22:41:09.250Z,-120.00,USD,card,online,5732,M2,,GB,\"Electronics, online\","
    "TRUE,1\n"
    "T4,A3,2026-01-08T00:00:00+09:00,-1500,JPY,atm,atm,6011,,ATM9,JP,,0,0\n";

static const char TRANSACTIONS_EXPORT[] =
    TX_HEADER
    "T1,A1,2026-01-05T10:15:00Z,-42.10,USD,card,pos,5411,M1,TERM1,US,Grocery store,false,0\n"
    "T2,A1,2026-01-06T08:00:00Z,2500.00,USD,salary,batch,,,,US,ACME payroll,false,0\n"
    "T3,A2,2026-01-07T22:41:09.250Z,-120.00,USD,card,online,5732,M2,,GB,\"Electronics, online\","
    "true,1\n"
    "T4,A3,2026-01-07T15:00:00Z,-1500,JPY,atm,atm,6011,,ATM9,JP,,false,0\n";

struct env {
    tl_store *s;
    char *url;
    char *dir;
};

typedef void (*case_fn)(struct env *e);

static tl_store *open_store(const char *url)
{
    tl_store *s = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_store_open(url, &s, &err), 0, "open %s: %s", url, err.msg);
    cr_assert_eq(tl_store_migrate(s, NULL, &err), 0, "migrate: %s", err.msg);
    return s;
}

static void run_on(const char *url, case_fn fn)
{
    struct env e = {0};
    e.url = strdup(url);
    e.dir = tu_tmpdir();
    cr_assert_not_null(e.dir);
    e.s = open_store(url);
    fn(&e);
    tl_store_close(e.s);
    free(e.url);
    free(e.dir);
}

/* Runs fn on a SQLite file, then on PostgreSQL when this run has a server. */
static void both(case_fn fn)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    char url[512];
    snprintf(url, sizeof url, "sqlite:%s/bank.db", dir);
    run_on(url, fn);
    free(dir);

    char *pg = tu_pg_fresh_url();
    if (!pg) {
        cr_log_warn("PostgreSQL is not running: the postgres half of this test was skipped");
        return;
    }
    run_on(pg, fn);
    free(pg);
}

static char *path_of(struct env *e, const char *name)
{
    size_t n = strlen(e->dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", e->dir, name);
    return p;
}

static int ingest(struct env *e, const char *table, const char *name, const char *text,
                  const char *reject, struct tl_ingest_result *res, tl_err *err)
{
    char *path = tu_write_file(e->dir, name, text);
    cr_assert_not_null(path);
    struct tl_ingest_opts o = {.table = table, .path = path, .reject_path = reject, .quiet = true};
    struct tl_ingest_result r;
    int rc = tl_ingest_file(e->s, &o, res ? res : &r, err);
    free(path);
    return rc;
}

static void ingest_ok(struct env *e, const char *table, const char *name, const char *text,
                      uint64_t rows)
{
    tl_err err = {0};
    struct tl_ingest_result res;
    int rc = ingest(e, table, name, text, NULL, &res, &err);
    cr_assert_eq(rc, 0, "%s on %s: %s", name, tl_store_backend(e->s), err.msg);
    cr_assert_eq(res.rows_read, rows, "%s: rows_read %llu", name,
                 (unsigned long long)res.rows_read);
    cr_assert_eq(res.rows_loaded, rows);
    cr_assert_eq(res.rows_rejected, 0);
}

static void load_fixtures(struct env *e)
{
    ingest_ok(e, "products", "products.csv", PRODUCTS, 2);
    ingest_ok(e, "customers", "customers.csv", CUSTOMERS, 3);
    ingest_ok(e, "accounts", "accounts.csv", ACCOUNTS, 3);
    ingest_ok(e, "transactions", "transactions.csv", TRANSACTIONS, 4);
}

static void checksum(struct env *e, char hex[65])
{
    tl_err err = {0};
    cr_assert_eq(tl_store_checksum(e->s, hex, &err), 0, "checksum: %s", err.msg);
}

static int64_t count(struct env *e, const char *table)
{
    int64_t n = -1;
    tl_err err = {0};
    cr_assert_eq(tl_store_count(e->s, table, &n, &err), 0, "count: %s", err.msg);
    return n;
}

struct one {
    tl_value v;
    char text[256];
    int rows;
};

static int on_one(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct one *o = ud;
    o->rows++;
    o->v = cols[0];
    if (cols[0].type == TL_VAL_TEXT) {
        snprintf(o->text, sizeof o->text, "%.*s", (int)cols[0].len, cols[0].s);
        o->v.s = o->text;
    }
    return 0;
}

/* The single value of a one-row query. */
static tl_value query1(struct env *e, const char *sql, const char *param)
{
    static struct one o;
    memset(&o, 0, sizeof o);
    tl_err err = {0};
    tl_value p[1] = {TL_TEXT(param ? param : "")};
    cr_assert_eq(tl_store_exec(e->s, sql, param ? 1 : 0, p, on_one, &o, &err), 0, "%s: %s", sql,
                 err.msg);
    cr_assert_eq(o.rows, 1, "%s: %d rows", sql, o.rows);
    return o.v;
}

static int64_t query_int(struct env *e, const char *sql, const char *param)
{
    tl_value v = query1(e, sql, param);
    cr_assert_eq(v.type, TL_VAL_INT, "%s: not an integer (type %d)", sql, (int)v.type);
    return v.i;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = 0;
    fclose(f);
    return buf;
}

/* Ingests text expecting failure with exactly "PATH" + suffix as the
 * message, and the store untouched. */
static void expect_error(struct env *e, const char *table, const char *name, const char *text,
                         int code, const char *suffix)
{
    char before[65], after[65];
    checksum(e, before);
    tl_err err = {0};
    int rc = ingest(e, table, name, text, NULL, NULL, &err);
    char *path = path_of(e, name);
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *want = malloc(n);
    snprintf(want, n, "%s%s", path, suffix);
    cr_expect_eq(rc, code, "%s on %s: rc %d (%s)", name, tl_store_backend(e->s), rc, err.msg);
    cr_expect_str_eq(err.msg, want, "on %s:\n got: %s\nwant: %s", tl_store_backend(e->s),
                     err.msg, want);
    checksum(e, after);
    cr_expect_str_eq(before, after, "%s changed the store", name);
    free(want);
    free(path);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */

static void case_roundtrip(struct env *e)
{
    load_fixtures(e);
    cr_assert_eq(count(e, "products"), 2);
    cr_assert_eq(count(e, "customers"), 3);
    cr_assert_eq(count(e, "accounts"), 3);
    cr_assert_eq(count(e, "transactions"), 4);

    cr_assert_eq(query_int(e, "SELECT ts_ms FROM transactions WHERE id = ?", "T3"),
                 1767825669250LL);
    cr_assert_eq(query_int(e, "SELECT ts_ms FROM transactions WHERE id = ?", "T4"),
                 1767798000000LL);
    cr_assert_eq(query_int(e, "SELECT is_fraud FROM transactions WHERE id = ?", "T3"), 1);
    cr_assert_eq(query_int(e, "SELECT is_fraud FROM transactions WHERE id = ?", "T2"), 0);
    cr_assert_eq(query_int(e, "SELECT amount_minor FROM transactions WHERE id = ?", "T4"), -1500);
    tl_value v = query1(e, "SELECT description FROM transactions WHERE id = ?", "T3");
    cr_assert_str_eq(v.s, "Electronics, online");
    v = query1(e, "SELECT mcc FROM transactions WHERE id = ?", "T2");
    cr_assert_eq(v.type, TL_VAL_NULL);
    v = query1(e, "SELECT email FROM customers WHERE id = ?", "C2");
    cr_assert_eq(v.type, TL_VAL_NULL);
    v = query1(e, "SELECT name FROM customers WHERE id = ?", "C2");
    cr_assert_str_eq(v.s, "Smith, John");
    v = query1(e, "SELECT birth_date FROM customers WHERE id = ?", "C2");
    cr_assert_str_eq(v.s, "1975-12-31");
    cr_assert_eq(query_int(e, "SELECT annual_income_minor FROM customers WHERE id = ?", "C3"),
                 6000000);
    cr_assert_eq(query_int(e, "SELECT opened_ms FROM accounts WHERE id = ?", "A3"),
                 1580601600000LL);

    struct tl_table_stats st[32];
    tl_err err = {0};
    cr_assert_eq(tl_store_stats(e->s, st, 32, &err), 0, "stats: %s", err.msg);
    bool seen_tx = false;
    for (size_t i = 0; i < tl_schema_table_count(); i++) {
        if (strcmp(st[i].table, "transactions") != 0)
            continue;
        seen_tx = true;
        cr_assert_eq(st[i].rows, 4);
        cr_assert_eq(st[i].n_sums, 2);
        cr_assert_str_eq(st[i].sums[0].column, "amount");
        cr_assert_str_eq(st[i].sums[0].currency, "JPY");
        cr_assert_eq(st[i].sums[0].sum_minor, -1500);
        cr_assert_str_eq(st[i].sums[1].currency, "USD");
        cr_assert_eq(st[i].sums[1].sum_minor, -4210 + 250000 - 12000);
    }
    cr_assert(seen_tx);
    for (size_t i = 0; i < tl_schema_table_count(); i++) {
        if (strcmp(st[i].table, "accounts") != 0)
            continue;
        /* balance JPY, balance USD, credit_limit USD */
        cr_assert_eq(st[i].n_sums, 3);
        cr_assert_str_eq(st[i].sums[1].column, "balance");
        cr_assert_eq(st[i].sums[1].sum_minor, 125075 - 30000);
        cr_assert_str_eq(st[i].sums[2].column, "credit_limit");
        cr_assert_eq(st[i].sums[2].sum_minor, 500000);
    }
}

static void case_jsonl(struct env *e)
{
    load_fixtures(e);
    const char *jl =
        "{\"id\":\"T20\",\"account_id\":\"A1\",\"ts\":\"2026-03-01T10:00:00Z\","
        "\"amount\":\"-10.50\",\"currency\":\"USD\",\"kind\":\"card\",\"channel\":\"pos\","
        "\"mcc\":5411,\"is_fraud\":false,"
        "\"description\":null}\n"
        "\n"
        "{\"kind\":\"fee\",\"id\":\"T21\",\"account_id\":\"A1\",\"ts\":\"2026-03-02T10:00:00Z\","
        "\"amount\":-0.1,\"currency\":\"USD\",\"is_fraud\":true,\"fraud_scenario\":2}\r\n"
        "{\"id\":\"T22\",\"account_id\":\"A3\",\"ts\":\"2026-03-03T10:00:00Z\",\"amount\":250,"
        "\"currency\":\"JPY\",\"kind\":\"card\",\"mcc\":\"5812\"}";
    ingest_ok(e, "transactions", "more.jsonl", jl, 3);
    cr_assert_eq(count(e, "transactions"), 7);
    cr_assert_eq(query_int(e, "SELECT amount_minor FROM transactions WHERE id = ?", "T21"), -10);
    cr_assert_eq(query_int(e, "SELECT is_fraud FROM transactions WHERE id = ?", "T21"), 1);
    cr_assert_eq(query_int(e, "SELECT mcc FROM transactions WHERE id = ?", "T22"), 5812);
    cr_assert_eq(query_int(e, "SELECT amount_minor FROM transactions WHERE id = ?", "T20"), -1050);

    expect_error(e, "transactions", "bad1.jsonl",
                 "{\"id\":\"T30\",\"account_id\":\"A1\",\"ts\":\"2026-03-01T10:00:00Z\","
                 "\"amount\":12.345,\"currency\":\"USD\",\"kind\":\"card\"}\n",
                 TL_EINVAL,
                 ":1: column amount: JSON number is not an exact USD amount with at most 2 "
                 "decimals (write amounts as strings) \"12.345\"");
    expect_error(e, "transactions", "bad2.jsonl",
                 "{\"id\":\"T30\",\"account_id\":\"A1\",\"ts\":\"2026-03-01T10:00:00Z\","
                 "\"amount\":\"1.00\",\"currency\":\"USD\",\"kind\":\"card\"}\n"
                 "{\"id\":\"T31\",\"amt\":1}\n",
                 TL_EINVAL,
                 ":2: unknown key \"amt\"; transactions has: id, account_id, ts, amount, currency, "
                 "kind, channel, mcc, merchant_id, terminal_id, country, description, is_fraud, "
                 "fraud_scenario");
}

/* The JSON parse error text is jansson's; check the code and the prefix. */
static void case_jsonl_syntax(struct env *e)
{
    load_fixtures(e);
    char before[65], after[65];
    checksum(e, before);
    tl_err err = {0};
    int rc = ingest(e, "transactions", "broken.jsonl", "{\"id\":\"T30\",\n", NULL, NULL, &err);
    cr_assert_eq(rc, TL_EPARSE, "%s", err.msg);
    char *path = path_of(e, "broken.jsonl");
    char want[600];
    snprintf(want, sizeof want, "%s:1: invalid JSON at column", path);
    cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    checksum(e, after);
    cr_assert_str_eq(before, after);
    free(path);

    rc = ingest(e, "transactions", "array.jsonl", "[1,2]\n", NULL, NULL, &err);
    cr_assert_eq(rc, TL_EINVAL);
    cr_assert(strstr(err.msg, "array.jsonl:1: expected a JSON object, found an array"), "%s",
              err.msg);
    rc = ingest(e, "transactions", "empty.jsonl", "\n\n", NULL, NULL, &err);
    cr_assert_eq(rc, TL_EINVAL);
    cr_assert(strstr(err.msg, "empty.jsonl: empty file"), "%s", err.msg);
}

static void case_idempotent(struct env *e)
{
    load_fixtures(e);
    char c1[65], c2[65];
    checksum(e, c1);
    ingest_ok(e, "transactions", "transactions.csv", TRANSACTIONS, 4);
    ingest_ok(e, "customers", "customers.csv", CUSTOMERS, 3);
    checksum(e, c2);
    cr_assert_str_eq(c1, c2);
    cr_assert_eq(count(e, "transactions"), 4);
    cr_assert_eq(count(e, "customers"), 3);
}

static void case_update(struct env *e)
{
    load_fixtures(e);
    char c1[65], c2[65];
    checksum(e, c1);
    ingest_ok(e, "transactions", "fix.csv",
              TX_HEADER
              "T1,A1,2026-01-05T10:15:00Z,-42.15,USD,card,pos,5411,M1,TERM1,US,Grocery store,"
              "false,0\n",
              1);
    checksum(e, c2);
    cr_assert_str_neq(c1, c2);
    cr_assert_eq(count(e, "transactions"), 4);
    cr_assert_eq(query_int(e, "SELECT amount_minor FROM transactions WHERE id = ?", "T1"), -4215);
    /* a file without an optional column sets it to NULL: the row is the file's */
    ingest_ok(e, "transactions", "fix2.csv",
              "id,account_id,ts,amount,currency,kind\n"
              "T1,A1,2026-01-05T10:15:00Z,-42.10,USD,card\n",
              1);
    tl_value v = query1(e, "SELECT mcc FROM transactions WHERE id = ?", "T1");
    cr_assert_eq(v.type, TL_VAL_NULL);
}

static void export_to(struct env *e, const char *table, enum tl_format fmt, const char *name)
{
    char *path = path_of(e, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    tl_err err = {0};
    uint64_t rows = 0;
    cr_assert_eq(tl_export(e->s, table, f, fmt, &rows, &err), 0, "export %s: %s", table, err.msg);
    cr_assert_eq((int64_t)rows, count(e, table));
    fclose(f);
    free(path);
}

static void case_export(struct env *e)
{
    load_fixtures(e);
    static const char *tables[] = {"products", "customers", "accounts", "transactions"};
    char c1[65], c2[65];
    checksum(e, c1);

    export_to(e, "transactions", TL_FORMAT_CSV, "tx-export.csv");
    char *p = path_of(e, "tx-export.csv");
    char *text = read_file(p);
    cr_assert_str_eq(text, TRANSACTIONS_EXPORT);
    free(text);
    free(p);

    /* export then ingest is a no-op, in both formats */
    for (int fmt = 0; fmt < 2; fmt++) {
        for (size_t i = 0; i < 4; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", tables[i], fmt ? "jsonl" : "csv");
            export_to(e, tables[i], fmt ? TL_FORMAT_JSONL : TL_FORMAT_CSV, name);
            char *path = path_of(e, name);
            struct tl_ingest_opts o = {.table = tables[i], .path = path, .quiet = true};
            struct tl_ingest_result res;
            tl_err err = {0};
            cr_assert_eq(tl_ingest_file(e->s, &o, &res, &err), 0, "%s: %s", name, err.msg);
            cr_assert_eq((int64_t)res.rows_loaded, count(e, tables[i]));
            free(path);
        }
        checksum(e, c2);
        cr_assert_str_eq(c1, c2, "export/ingest (%s) changed the store", fmt ? "jsonl" : "csv");
    }

    /* and the exports rebuild an identical store from nothing */
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/copy.db", e->dir);
    tl_store *copy = open_store(url);
    for (size_t i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.jsonl", tables[i]);
        char *path = path_of(e, name);
        struct tl_ingest_opts o = {.table = tables[i], .path = path, .quiet = true};
        struct tl_ingest_result res;
        tl_err err = {0};
        cr_assert_eq(tl_ingest_file(copy, &o, &res, &err), 0, "%s: %s", name, err.msg);
        free(path);
    }
    tl_err err = {0};
    cr_assert_eq(tl_store_checksum(copy, c2, &err), 0, "%s", err.msg);
    cr_assert_str_eq(c1, c2, "a store rebuilt from the export differs");
    tl_store_close(copy);

    cr_assert_eq(tl_export(e->s, "api_keys", stdout, TL_FORMAT_CSV, NULL, &err), TL_EINVAL);
    cr_assert_eq(tl_export(e->s, "nope", stdout, TL_FORMAT_CSV, NULL, &err), TL_EINVAL);
}

static void case_reject(struct env *e)
{
    load_fixtures(e);
    char *rej = path_of(e, "rejects.csv");
    tl_err err = {0};
    struct tl_ingest_result res;
    const char *text =
        TX_HEADER
        "T10,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,ok one,false,0\n"
        "T11,A1,2026-02-01T00:00:00Z,-1.005,USD,card,pos,5411,,,,three decimals,false,0\n"
        "T12,A9,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,no account,false,0\n"
        "T13,A1,2026-02-01T00:00:00Z,-2.00,USD,card,pos,5411,,,,\"ok, two\",false,0\n"
        "T14,A1\n"
        "T10,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,again,false,0\n";
    int rc = ingest(e, "transactions", "mixed.csv", text, rej, &res, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(res.rows_read, 6);
    cr_assert_eq(res.rows_loaded, 2);
    cr_assert_eq(res.rows_rejected, 4);
    cr_assert_eq(count(e, "transactions"), 6);
    char *got = read_file(rej);
    cr_assert_not_null(got);
    cr_assert_str_eq(got,
                     "line,column,error,record\n"
                     "3,amount,\"3 decimals, but USD allows 2 \"\"-1.005\"\"\","
                     "\"T11,A1,2026-02-01T00:00:00Z,-1.005,USD,card,pos,5411,,,,three decimals,"
                     "false,0\"\n"
                     "4,account_id,\"unknown accounts id \"\"A9\"\" (load accounts first)\","
                     "\"T12,A9,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,no account,"
                     "false,0\"\n"
                     "6,,\"expected 14 fields, found 2\",\"T14,A1\"\n"
                     "7,id,\"duplicate id \"\"T10\"\" (first at line 2)\","
                     "\"T10,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,again,false,0\"\n");
    free(got);

    /* broken quoting ends the stream: the file fails even with a reject file */
    char before[65], after[65];
    checksum(e, before);
    rc = ingest(e, "transactions", "broken.csv",
                TX_HEADER
                "T15,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,fine,false,0\n"
                "T16,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,\"unterminated,false,0\n",
                rej, &res, &err);
    cr_assert_eq(rc, TL_EPARSE, "rc %d: %s", rc, err.msg);
    checksum(e, after);
    cr_assert_str_eq(before, after);
    cr_assert_eq(access(rej, F_OK), -1, "the reject file of a failed load was left behind");
    free(rej);

    /* a reject file that is the input would truncate it before it is read */
    char *self = path_of(e, "self.csv");
    rc = ingest(e, "transactions", "self.csv", text, self, &res, &err);
    cr_assert_eq(rc, TL_EINVAL, "%s", err.msg);
    cr_assert(strstr(err.msg, "is the input itself"), "%s", err.msg);
    char *kept = read_file(self);
    cr_assert_str_eq(kept, text);
    free(kept);
    free(self);
}

static void case_all_or_nothing(struct env *e)
{
    load_fixtures(e);
    char before[65], after[65];
    checksum(e, before);
    /* enough good rows for several batches to reach the backend first */
    size_t n = 9000, cap = n * 120 + 1024, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text + o, cap - o, "%s", TX_HEADER);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, cap - o,
                              "B%zu,A1,2026-02-01T00:00:%02zuZ,-%zu.%02zu,USD,card,pos,5411,,,,,"
                              "false,0\n",
                              i, i % 60, i, i % 100);
    snprintf(text + o, cap - o, "BX,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,,maybe,0\n");
    char suffix[160];
    snprintf(suffix, sizeof suffix,
             ":%zu: column is_fraud: not a boolean (true/false, yes/no, 1/0) \"maybe\"", n + 2);
    expect_error(e, "transactions", "big.csv", text, TL_EINVAL, suffix);
    checksum(e, after);
    cr_assert_str_eq(before, after);
    cr_assert_eq(count(e, "transactions"), 4);

    /* the same file without its bad row loads completely */
    text[o] = 0;
    ingest_ok(e, "transactions", "big-ok.csv", text, n);
    cr_assert_eq(count(e, "transactions"), (int64_t)n + 4);
    free(text);
}

static void case_messages(struct env *e)
{
    load_fixtures(e);
#define ROW(...) TX_HEADER __VA_ARGS__ "\n"
    expect_error(e, "transactions", "tx.csv",
                 ROW("T1,A-999,2026-01-05T10:15:00Z,-42.10,USD,card,pos,5411,M1,TERM1,US,x,"
                     "false,0"),
                 TL_EINVAL,
                 ":2: column account_id: unknown accounts id \"A-999\" (load accounts first)");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false,0\n"
                     "T8,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false,0\n"
                     "T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false,0"),
                 TL_EINVAL, ":4: column id: duplicate id \"T9\" (first at line 2)");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false"), TL_EINVAL,
                 ":2: expected 14 fields, found 13");
    expect_error(e, "transactions", "tx.csv", "id,account_id,ts,amount,currency,kind,amt\n",
                 TL_EINVAL,
                 ":1: unknown column \"amt\"; transactions has: id, account_id, ts, amount, "
                 "currency, kind, channel, mcc, merchant_id, terminal_id, country, description, "
                 "is_fraud, fraud_scenario");
    expect_error(e, "transactions", "tx.csv", "id,account_id,ts,currency,kind\n", TL_EINVAL,
                 ":1: missing required column \"amount\" (transactions needs: id, account_id, ts, "
                 "amount, currency, kind)");
    expect_error(e, "transactions", "tx.csv", "id,account_id,ts,amount,currency,kind,kind\n",
                 TL_EINVAL, ":1: duplicate column \"kind\" in the header (fields 6 and 7)");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.005,USX,card,pos,5411,,,,x,false,0"), TL_EINVAL,
                 ":2: column currency: not an ISO 4217 currency code \"USX\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A3,2026-01-01T00:00:00Z,1.50,JPY,card,pos,5411,,,,x,false,0"), TL_EINVAL,
                 ":2: column amount: 2 decimals, but JPY allows 0 \"1.50\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1,5,USD,card,pos,5411,,,,x,false"), TL_EINVAL,
                 ":2: column currency: not an ISO 4217 currency code \"5\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,12a,USD,card,pos,5411,,,,x,false,0"), TL_EINVAL,
                 ":2: column amount: not a decimal amount (like -12.30) \"12a\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,caf\xC3(,false,0"),
                 TL_EINVAL, ":2: column description: invalid UTF-8 at byte 3 \"caf\\xc3(\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,maybe,0"), TL_EINVAL,
                 ":2: column is_fraud: not a boolean (true/false, yes/no, 1/0) \"maybe\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,gift,pos,5411,,,,x,false,0"), TL_EINVAL,
                 ":2: column kind: not one of card, salary, transfer_in, transfer_out, bill, rent, "
                 "atm, fee, interest, loan_payment: \"gift\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-02-30T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false,0"), TL_EINVAL,
                 ":2: column ts: not an ISO 8601 timestamp (like 2026-03-01T12:30:00Z) "
                 "\"2026-02-30T00:00:00Z\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,10000,,,,x,false,0"), TL_EINVAL,
                 ":2: column mcc: out of range 0..9999 \"10000\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,54x1,,,,x,false,0"), TL_EINVAL,
                 ":2: column mcc: not an integer \"54x1\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,usa,x,false,0"),
                 TL_EINVAL,
                 ":2: column country: not an ISO 3166-1 alpha-2 country code (two upper-case "
                 "letters) \"usa\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,,pos,5411,,,,x,false,0"), TL_EINVAL,
                 ":2: column kind: required, but empty");
    expect_error(e, "transactions", "tx.csv",
                 ROW("\"T 9\",A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false,0"),
                 TL_EINVAL,
                 ":2: column id: not a valid id (1-64 characters of A-Z a-z 0-9 . _ : -) \"T 9\"");
    expect_error(e, "transactions", "tx.csv",
                 ROW("\"T\x01\",A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,x,false,0"),
                 TL_EINVAL,
                 ":2: column id: not a valid id (1-64 characters of A-Z a-z 0-9 . _ : -) "
                 "\"T\\x01\"");
    {
        char text[2048], desc[601];
        memset(desc, 'x', 600);
        desc[600] = 0;
        snprintf(text, sizeof text,
                 ROW("T9,A1,2026-01-01T00:00:00Z,1.00,USD,card,pos,5411,,,,%s,false,0"), desc);
        expect_error(e, "transactions", "tx.csv", text, TL_EINVAL,
                     ":2: column description: 600 bytes, longer than the 500 allowed "
                     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
    }
    expect_error(e, "customers", "c.csv",
                 "id,name,email,birth_date,country,currency,customer_since\n"
                 "C9,Bob,bob@,1980-01-01,US,USD,2020-01-01\n",
                 TL_EINVAL, ":2: column email: not an email address \"bob@\"");
    expect_error(e, "customers", "c.csv",
                 "id,name,birth_date,country,currency,customer_since\n"
                 "C9,Bob,1980-13-01,US,USD,2020-01-01\n",
                 TL_EINVAL, ":2: column birth_date: not a date YYYY-MM-DD \"1980-13-01\"");
    expect_error(e, "transactions", "tx.csv", "", TL_EINVAL, ": empty file, expected a header row");
#undef ROW

    /* a header without rows is most often a truncated export: refused */
    expect_error(e, "transactions", "empty-day.csv", TX_HEADER, TL_EINVAL, ": header only, no data rows");

    tl_err err = {0};
    struct tl_ingest_opts o = {.table = "api_keys", .path = "/nonexistent.csv", .quiet = true};
    cr_assert_eq(tl_ingest_file(e->s, &o, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "cannot ingest the system table"), "%s", err.msg);
    o.table = "transactions";
    cr_assert_eq(tl_ingest_file(e->s, &o, NULL, &err), TL_ENOTFOUND, "%s", err.msg);
}

/* kill -9 in the middle of a load: the store is as before. The child reads
 * from a pipe we feed, so it has sent several batches to the backend when it
 * is killed. */
static void case_kill(struct env *e)
{
    load_fixtures(e);
    char before[65], after[65];
    checksum(e, before);
    tl_store_close(e->s);
    e->s = NULL;

    int fds[2], ready[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        close(ready[0]);
        tl_store *s = NULL;
        tl_err err = {0};
        if (tl_store_open(e->url, &s, &err) < 0)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(4);
        FILE *in = fdopen(fds[0], "rb");
        struct tl_ingest_opts o = {.table = "transactions", .quiet = true};
        tl_ingest_stream(s, in, "pipe.csv", &o, NULL, &err);
        _exit(0);
    }
    close(fds[0]);
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child could not open the store");
    FILE *out = fdopen(fds[1], "wb");
    fputs(TX_HEADER, out);
    for (int i = 0; i < 20000; i++)
        fprintf(out, "K%d,A1,2026-02-01T00:00:00Z,-1.00,USD,card,pos,5411,,,,,false,0\n", i);
    fflush(out);
    usleep(500 * 1000); /* let it load what it has read; it then waits on the pipe */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "the child ended before it was killed");
    fclose(out);
    close(ready[0]);

    e->s = open_store(e->url);
    checksum(e, after);
    cr_assert_str_eq(before, after);
    cr_assert_eq(count(e, "transactions"), 4);
}

/* A credit decision (columns teller sets, not files) survives loading the
 * same application again, while the columns the file gives are updated. */
static void case_reingest_keeps_decisions(struct env *e)
{
    load_fixtures(e);
    const char *hdr = "id,customer_id,product_id,applied_at,currency,amount,term_months,purpose,"
                      "annual_income,existing_debt,employment_years,delinquencies_2y,status,"
                      "defaulted_12m\n";
    char v1[512], v2[512];
    snprintf(v1, sizeof v1, "%sAP1,C1,P2,2026-02-01T10:00:00Z,USD,5000.00,,card,70000.00,0.00,6,0,"
             "pending,\n", hdr);
    snprintf(v2, sizeof v2, "%sAP1,C1,P2,2026-02-01T10:00:00Z,USD,5000.00,,card,70000.00,0.00,6,0,"
             "approved,0\n", hdr);
    ingest_ok(e, "applications", "apps1.csv", v1, 1);
    tl_err err = {0};
    tl_value p[] = {TL_TEXT("approve"), TL_INT(612), TL_TEXT("AP1")};
    cr_assert_eq(tl_store_exec(e->s, "UPDATE applications SET decision = ?, decision_score = ? "
                                     "WHERE id = ?", 3, p, NULL, NULL, &err), 0, "%s", err.msg);
    ingest_ok(e, "applications", "apps2.csv", v2, 1);
    cr_assert_eq(query_int(e, "SELECT decision_score FROM applications WHERE id = ?", "AP1"), 612,
                 "the decision was lost on %s", tl_store_backend(e->s));
    cr_assert_eq(query_int(e, "SELECT defaulted_12m FROM applications WHERE id = ?", "AP1"), 0,
                 "the file's new value was not loaded");
}

Test(ingest, reingest_keeps_decisions) { both(case_reingest_keeps_decisions); }
Test(ingest, roundtrip_counts_and_sums) { both(case_roundtrip); }
Test(ingest, jsonl) { both(case_jsonl); }
Test(ingest, jsonl_syntax) { both(case_jsonl_syntax); }
Test(ingest, reingest_is_idempotent) { both(case_idempotent); }
Test(ingest, reingest_updates) { both(case_update); }
Test(ingest, export_then_ingest_is_noop) { both(case_export); }
Test(ingest, skip_invalid_writes_rejects) { both(case_reject); }
Test(ingest, all_or_nothing) { both(case_all_or_nothing); }
Test(ingest, error_messages) { both(case_messages); }
Test(ingest, kill_mid_load_leaves_store_as_before) { both(case_kill); }
