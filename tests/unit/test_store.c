/* needs: postgres */
/*
 * test_store.c - the store interface, run the same way against SQLite and
 * PostgreSQL: every TU_BOTH(case) below is one Criterion test per backend. The
 * PostgreSQL server comes from the CTest fixture (tests/pg.sh), which is
 * guaranteed to run, so a missing server is a failure, not a skip.
 */
#include <criterion/criterion.h>

#include "store/internal.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static tl_store *open_store(const char *url)
{
    tl_store *s = NULL;
    tl_err err = {0};
    int rc = tl_store_open(url, &s, &err);
    cr_assert_eq(rc, 0, "open %s: %s", url, err.msg);
    cr_assert_not_null(s);
    return s;
}

static tl_store *open_migrated(const char *url)
{
    tl_store *s = open_store(url);
    tl_err err = {0};
    cr_assert_eq(tl_store_migrate(s, NULL, &err), 0, "migrate %s: %s", url, err.msg);
    return s;
}

static void exec_ok(tl_store *s, const char *sql, size_t n, const tl_value *p)
{
    tl_err err = {0};
    int rc = tl_store_exec(s, sql, n, p, NULL, NULL, &err);
    cr_assert_eq(rc, 0, "%s: %s", sql, err.msg);
}

static int64_t count_of(tl_store *s, const char *table)
{
    int64_t n = -1;
    tl_err err = {0};
    cr_assert_eq(tl_store_count(s, table, &n, &err), 0, "count %s: %s", table, err.msg);
    return n;
}

static void checksum_of(tl_store *s, char hex[65])
{
    tl_err err = {0};
    cr_assert_eq(tl_store_checksum(s, hex, &err), 0, "checksum: %s", err.msg);
    cr_assert_eq(strlen(hex), 64);
}


/* A products row (13 columns in spec order) whose values vary with k. */
static void product_row(tl_value *row, int k, char *id_buf, size_t id_size, const char *name)
{
    const struct tl_table_spec *t = tl_schema_table("products");
    cr_assert_eq(t->n_columns, 13, "products changed shape; update product_row");
    snprintf(id_buf, id_size, "p-%05d", k);
    row[0] = TL_TEXT(id_buf);
    row[1] = TL_TEXT(name);
    row[2] = TL_TEXT(k % 2 ? "fund" : "savings_account");
    row[3] = k % 2 ? TL_TEXT("equity") : TL_NULLV;
    row[4] = TL_INT(1 + k % 5);
    row[5] = TL_TEXT("EUR");
    row[6] = TL_INT(-50 + k);
    row[7] = k % 3 ? TL_INT(1200 * k) : TL_NULLV;
    row[8] = TL_INT(18);
    row[9] = TL_INT(99);
    row[10] = TL_INT(INT64_C(1) << 40);
    row[11] = TL_INT(k % 7);
    row[12] = TL_NULLV;
}

static void load(tl_store *s, const char *table, bool empty, size_t n_rows, const tl_value *vals)
{
    tl_err err = {0};
    const struct tl_table_spec *t = tl_schema_table(table);
    struct tl_store_loader *ld = NULL;
    cr_assert_eq(s->ops->load_begin(s, t, empty, &ld, &err), 0, "load_begin %s: %s", table,
                 err.msg);
    cr_assert_eq(s->ops->load_rows(ld, n_rows, vals, &err), 0, "load_rows %s: %s", table, err.msg);
    cr_assert_eq(s->ops->load_end(ld, true, &err), 0, "load_end %s: %s", table, err.msg);
}

/* Row callback collecting the first row's values as text for comparisons. */
struct one_row {
    int rows;
    size_t n;
    enum tl_value_type type[8];
    int64_t i[8];
    double d[8];
    char s[8][1024];
    size_t len[8];
};

static int grab_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct one_row *r = ud;
    if (r->rows++ == 0) {
        r->n = n_cols < 8 ? n_cols : 8;
        for (size_t c = 0; c < r->n; c++) {
            r->type[c] = cols[c].type;
            r->i[c] = cols[c].i;
            r->d[c] = cols[c].d;
            r->len[c] = cols[c].len;
            if ((cols[c].type == TL_VAL_TEXT || cols[c].type == TL_VAL_BLOB) &&
                cols[c].len < sizeof r->s[c])
                memcpy(r->s[c], cols[c].s, cols[c].len);
        }
    }
    return 0;
}

/* ------------------------------------------------------ open, migrate */

TU_BOTH(migrate_is_idempotent)
{
    tl_err err = {0};
    tl_store *s = open_store(url);
    cr_assert_str_eq(tl_store_backend(s), strncmp(url, "sqlite:", 7) == 0 ? "sqlite" : "postgres");
    int v = -1, applied = -1;
    cr_assert_eq(tl_store_schema_version(s, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v, 0, "a fresh store is at version 0");
    cr_assert_eq(tl_store_migrate(s, &applied, &err), 0, "%s", err.msg);
    cr_assert_eq(applied, tl_store_latest_version());
    cr_assert_geq(applied, 1);
    cr_assert_eq(tl_store_schema_version(s, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v, tl_store_latest_version());
    cr_assert_eq(tl_store_migrate(s, &applied, &err), 0, "%s", err.msg);
    cr_assert_eq(applied, 0, "a second migrate applies nothing");
    tl_store_close(s);

    s = open_store(url);
    cr_assert_eq(tl_store_migrate(s, &applied, &err), 0, "%s", err.msg);
    cr_assert_eq(applied, 0, "migrate after reopening applies nothing");
    int64_t n = -1;
    cr_assert_eq(
        tl_store_exec(s, "SELECT count(*) FROM schema_migrations", 0, NULL, NULL, NULL, &err), 0,
        "%s", err.msg);
    struct one_row r = {0};
    cr_assert_eq(tl_store_exec(s, "SELECT count(*), max(version) FROM schema_migrations", 0, NULL,
                               grab_row, &r, &err),
                 0, "%s", err.msg);
    n = r.i[0];
    cr_assert_eq(n, tl_store_latest_version(), "one schema_migrations row per migration");
    for (size_t i = 0; i < tl_schema_table_count(); i++)
        cr_assert_eq(count_of(s, tl_schema_table_at(i)->name), 0);
    tl_store_close(s);
}

/* Two processes migrating one fresh store at once (two `teller init`s):
 * both succeed and exactly one of them applies the migrations. */
TU_BOTH(concurrent_migrate_applies_once)
{
    enum { N_PROC = 3 };
    pid_t pids[N_PROC];
    int pipes[N_PROC][2];
    for (int i = 0; i < N_PROC; i++) {
        cr_assert_eq(pipe(pipes[i]), 0);
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (pids[i] == 0) {
            tl_store *s = NULL;
            tl_err err = {0};
            int applied = -1;
            int rc = tl_store_open(url, &s, &err);
            if (rc == 0)
                rc = tl_store_migrate(s, &applied, &err);
            tl_store_close(s);
            char msg[600];
            int k = snprintf(msg, sizeof msg, "%d %d %s", rc, applied, err.msg);
            if (write(pipes[i][1], msg, (size_t)k) < 0)
                _exit(3);
            _exit(0);
        }
        close(pipes[i][1]);
    }
    int total = 0;
    for (int i = 0; i < N_PROC; i++) {
        char msg[600] = {0};
        ssize_t k = read(pipes[i][0], msg, sizeof msg - 1);
        close(pipes[i][0]);
        int status = 0;
        waitpid(pids[i], &status, 0);
        cr_assert(k > 0, "child %d said nothing", i);
        int rc = 0, applied = 0;
        cr_assert_eq(sscanf(msg, "%d %d", &rc, &applied), 2, "child %d: %s", i, msg);
        cr_assert_eq(rc, 0, "child %d failed: %s", i, msg);
        total += applied;
    }
    cr_assert_eq(total, tl_store_latest_version(), "migrations applied %d times in all", total);
    tl_store *s = open_store(url);
    struct one_row r = {0};
    tl_err err = {0};
    cr_assert_eq(
        tl_store_exec(s, "SELECT count(*) FROM schema_migrations", 0, NULL, grab_row, &r, &err), 0,
        "%s", err.msg);
    cr_assert_eq(r.i[0], tl_store_latest_version());
    tl_store_close(s);
}

/* Every process start migrates, so on a current store migrate is a read: it
 * must not wait for the write lock of an ingest running beside it. */
TU_BOTH(migrate_of_a_current_store_does_not_wait_for_a_writer)
{
    tl_err err = {0};
    tl_store *writer = open_migrated(url);
    cr_assert_eq(tl_store_begin(writer, &err), 0, "%s", err.msg);
    exec_ok(writer,
            "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
            "VALUES ('c-1', 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
            0, NULL);
    tl_store *other = open_store(url);
    int applied = -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(tl_store_migrate(other, &applied, &err), 0, "%s", err.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(applied, 0);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    cr_assert_lt(secs, 1.0, "migrate waited %.2fs for the writer", secs);
    cr_assert_eq(count_of(other, "customers"), 0, "readers see the last commit");
    tl_store_close(other);
    cr_assert_eq(tl_store_commit(writer, &err), 0, "%s", err.msg);
    tl_store_close(writer);
}

/* ------------------------------------------------------------------ exec */

TU_BOTH(exec_round_trips_every_type)
{
    tl_err err = {0};
    tl_store *s = open_store(url);
    /* BYTEA: PostgreSQL's blob type; SQLite accepts any type name and keeps
     * blobs as blobs. */
    exec_ok(s, "CREATE TABLE rt (k INTEGER, i BIGINT, r DOUBLE PRECISION, t TEXT, b BYTEA, n TEXT)",
            0, NULL);
    static const char text[] = "tab\there\nnewline 'quote' \"dq\" back\\slash ? é€😀";
    static const char blob[] = {0, 1, 2, '\\', 'x', (char)0xff, (char)0x80, 0};
    const double reals[] = {0.1, 1.0 / 3.0, -1e300, 5e-324, 0.0, 123456789.125};
    const int64_t ints[] = {INT64_MIN, INT64_MAX, 0, -1, 42, INT64_C(9007199254740993)};
    for (int k = 0; k < 6; k++) {
        tl_value p[] = {TL_INT(k),
                        TL_INT(ints[k]),
                        TL_REAL(reals[k]),
                        TL_TEXTN(text, k == 5 ? 0 : strlen(text)),
                        {.type = TL_VAL_BLOB, .s = blob, .len = k == 5 ? 0 : sizeof blob},
                        TL_NULLV};
        cr_assert_eq(tl_store_exec(s, "INSERT INTO rt (k, i, r, t, b, n) VALUES (?, ?, ?, ?, ?, ?)",
                                   6, p, NULL, NULL, &err),
                     0, "%s", err.msg);
        cr_assert_eq(tl_store_changes(s), 1);
    }
    for (int k = 0; k < 6; k++) {
        struct one_row r = {0};
        tl_value key = TL_INT(k);
        cr_assert_eq(tl_store_exec(s, "SELECT i, r, t, b, n FROM rt WHERE k = ?", 1, &key, grab_row,
                                   &r, &err),
                     0, "%s", err.msg);
        cr_assert_eq(r.rows, 1);
        cr_assert_eq(r.type[0], TL_VAL_INT);
        cr_assert_eq(r.i[0], ints[k], "row %d: int %lld", k, (long long)r.i[0]);
        cr_assert_eq(r.type[1], TL_VAL_REAL);
        cr_assert(memcmp(&r.d[1], &reals[k], sizeof(double)) == 0, "row %d: real %.17g != %.17g", k,
                  r.d[1], reals[k]);
        cr_assert_eq(r.type[2], TL_VAL_TEXT);
        size_t tlen = k == 5 ? 0 : strlen(text);
        cr_assert_eq(r.len[2], tlen);
        cr_assert(memcmp(r.s[2], text, tlen) == 0, "row %d: text '%s'", k, r.s[2]);
        cr_assert_eq(r.type[3], TL_VAL_BLOB);
        size_t blen = k == 5 ? 0 : sizeof blob;
        cr_assert_eq(r.len[3], blen);
        cr_assert(memcmp(r.s[3], blob, blen) == 0);
        cr_assert_eq(r.type[4], TL_VAL_NULL);
    }
    /* a SELECT after a write reports no changes of its own */
    cr_assert_eq(tl_store_changes(s), 0);
    exec_ok(s, "UPDATE rt SET n = 'x' WHERE k >= 3", 0, NULL);
    cr_assert_eq(tl_store_changes(s), 3);
    exec_ok(s, "DELETE FROM rt WHERE k = 0", 0, NULL);
    cr_assert_eq(tl_store_changes(s), 1);

    /* `?` inside literals and comments is not a placeholder */
    struct one_row r = {0};
    tl_value p = TL_TEXT("param");
    cr_assert_eq(
        tl_store_exec(s, "SELECT 'a?b' AS lit, ? AS p /* why? */", 1, &p, grab_row, &r, &err), 0,
        "%s", err.msg);
    cr_assert_str_eq(r.s[0], "a?b");
    cr_assert_str_eq(r.s[1], "param");

    /* an early stop is not an error */
    struct one_row first = {0};
    cr_assert_eq(tl_store_exec(s, "SELECT k FROM rt ORDER BY k", 0, NULL, grab_row, &first, &err),
                 0);
    cr_assert_eq(first.rows, 5);

    /* wrong parameter count, bad SQL, two statements: errors, not crashes */
    int rc = tl_store_exec(s, "SELECT ? + ?", 1, &p, NULL, NULL, &err);
    cr_assert_eq(rc, TL_EINVAL, "%d %s", rc, err.msg);
    cr_assert(strstr(err.msg, "placeholders"), "%s", err.msg);
    rc = tl_store_exec(s, "SELEKT 1", 0, NULL, NULL, NULL, &err);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(err.msg, "SELEKT"), "the message names the SQL: %s", err.msg);
    rc = tl_store_exec(s, "SELECT 1; SELECT 2", 0, NULL, NULL, NULL, &err);
    cr_assert_lt(rc, 0);
    tl_store_close(s);
}

static int stop_after_one(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)n_cols;
    (void)cols;
    (void)names;
    ++*(int *)ud;
    return 1;
}

TU_BOTH(row_callback_can_stop_early)
{
    tl_store *s = open_store(url);
    exec_ok(s, "CREATE TABLE many (k INTEGER)", 0, NULL);
    for (int k = 0; k < 50; k++) {
        tl_value p = TL_INT(k);
        exec_ok(s, "INSERT INTO many (k) VALUES (?)", 1, &p);
    }
    int calls = 0;
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(s, "SELECT k FROM many", 0, NULL, stop_after_one, &calls, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(calls, 1);
    /* the connection is usable afterwards */
    cr_assert_eq(tl_store_exec(s, "SELECT k FROM many", 0, NULL, stop_after_one, &calls, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(calls, 2);
    tl_store_close(s);
}

/* ---------------------------------------------------------- transactions */

TU_BOTH(rollback_leaves_nothing)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    char before[65], after[65];
    checksum_of(s, before);
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    tl_value row[13];
    char id[16];
    product_row(row, 1, id, sizeof id, "Saver");
    load(s, "products", true, 1, row);
    exec_ok(s,
            "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
            "VALUES ('c-1', 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
            0, NULL);
    cr_assert_eq(count_of(s, "products"), 1, "visible inside the transaction");
    cr_assert_eq(tl_store_rollback(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(s, "products"), 0);
    cr_assert_eq(count_of(s, "customers"), 0);
    checksum_of(s, after);
    cr_assert_str_eq(before, after);

    /* commit keeps */
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "products", true, 1, row);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(s, "products"), 1);
    tl_store_close(s);
}

TU_BOTH(transactions_do_not_nest)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    cr_assert_eq(tl_store_commit(s, &err), TL_EINVAL, "commit without a transaction");
    cr_assert(strstr(err.msg, "no transaction"), "%s", err.msg);
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_store_begin(s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "already open"), "%s", err.msg);
    cr_assert_eq(tl_store_migrate(s, NULL, &err), TL_EINVAL, "migrate inside a transaction");
    cr_assert_eq(tl_store_rollback(s, &err), 0, "%s", err.msg);
    /* rollback without a transaction is a harmless no-op for cleanup paths */
    tl_err keep = {.code = TL_ESTORE, .msg = "earlier failure"};
    cr_assert_eq(tl_store_rollback(s, &keep), 0);
    cr_assert_str_eq(keep.msg, "earlier failure");
    /* close with an open transaction rolls it back */
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    exec_ok(s,
            "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
            "VALUES ('c-1', 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
            0, NULL);
    tl_store_close(s);
    s = open_store(url);
    cr_assert_eq(count_of(s, "customers"), 0);
    tl_store_close(s);
}

Test(postgres, commit_after_failed_statement_reports_the_rollback)
{
    char *url = tu_pg_url();
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    exec_ok(s,
            "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
            "VALUES ('c-1', 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
            0, NULL);
    cr_assert_lt(tl_store_exec(s, "SELECT * FROM no_such_table", 0, NULL, NULL, NULL, &err), 0);
    cr_assert(strstr(err.msg, "no_such_table"), "%s", err.msg);
    int rc = tl_store_commit(s, &err);
    cr_assert_lt(rc, 0, "PostgreSQL turns COMMIT of an aborted transaction into ROLLBACK");
    cr_assert(strstr(err.msg, "rolled"), "%s", err.msg);
    cr_assert_eq(count_of(s, "customers"), 0);
    cr_assert_eq(tl_store_begin(s, &err), 0, "the store is usable again: %s", err.msg);
    cr_assert_eq(tl_store_rollback(s, &err), 0, "%s", err.msg);
    tl_store_close(s);
    free(url);
}

/* ----------------------------------------------------------------- loader */

TU_BOTH(loader_inserts_then_upserts)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    enum { N = 3000 }; /* several COPY chunks' worth of rows on PostgreSQL */
    tl_value *rows = calloc((size_t)N * 13, sizeof *rows);
    char(*ids)[16] = calloc(N, sizeof *ids);
    static const char tricky[] = "Fund\twith\ttabs\nand newline \\ backslash \\N not null é";
    for (int k = 0; k < N; k++)
        product_row(rows + (size_t)k * 13, k, ids[k], sizeof ids[k],
                    k == 7 ? tricky : "Plain product");

    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "products", true, N, rows);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(s, "products"), N);

    struct one_row r = {0};
    tl_value key = TL_TEXT("p-00007");
    cr_assert_eq(
        tl_store_exec(s,
                      "SELECT name, asset_class, annual_fee_minor, volatility_bp, min_income_minor "
                      "FROM products WHERE id = ?",
                      1, &key, grab_row, &r, &err),
        0, "%s", err.msg);
    cr_assert_eq(r.rows, 1);
    cr_assert_str_eq(r.s[0], tricky, "text survives the bulk path");
    cr_assert_str_eq(r.s[1], "equity");
    cr_assert_eq(r.type[2], TL_VAL_INT);
    cr_assert_eq(r.i[2], 1200 * 7);
    cr_assert_eq(r.type[3], TL_VAL_NULL);
    cr_assert_eq(r.i[4], INT64_C(1) << 40);

    char h1[65], h2[65];
    checksum_of(s, h1);

    /* reload: one existing id changed, one unchanged, one new */
    tl_value again[3 * 13];
    char id_a[16], id_b[16], id_c[16];
    product_row(again, 7, id_a, sizeof id_a, "Renamed fund");
    again[6] = TL_INT(999);
    product_row(again + 13, 8, id_b, sizeof id_b, "Plain product");
    product_row(again + 26, N + 5, id_c, sizeof id_c, "Brand new");
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "products", false, 3, again);
    /* loading twice in one transaction works too (a fresh staging table) */
    load(s, "products", false, 1, again + 13);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(s, "products"), N + 1, "upsert adds no duplicates");

    memset(&r, 0, sizeof r);
    cr_assert_eq(tl_store_exec(s, "SELECT name, interest_rate_bp FROM products WHERE id = ?", 1,
                               &key, grab_row, &r, &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(r.s[0], "Renamed fund");
    cr_assert_eq(r.i[1], 999);
    checksum_of(s, h2);
    cr_assert_str_neq(h1, h2, "the checksum sees the change");

    /* loading the same rows again changes nothing */
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "products", false, 3, again);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    char h3[65];
    checksum_of(s, h3);
    cr_assert_str_eq(h2, h3, "re-loading is idempotent");
    free(rows);
    free(ids);
    tl_store_close(s);
}

TU_BOTH(failed_load_rolls_back_to_the_same_checksum)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    tl_value row[13];
    char id[16];
    product_row(row, 1, id, sizeof id, "Saver");
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "products", true, 1, row);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    char before[65], after[65];
    checksum_of(s, before);

    /* an account whose customer does not exist: a foreign-key violation,
     * seen per row by SQLite and at the end of the COPY by PostgreSQL */
    const struct tl_table_spec *t = tl_schema_table("accounts");
    tl_value acc[9] = {TL_TEXT("a-1"),     TL_TEXT("c-missing"),  TL_TEXT("p-00001"),
                       TL_TEXT("current"), TL_TEXT("EUR"),        TL_INT(100),
                       TL_NULLV,           TL_INT(1700000000000), TL_TEXT("open")};
    cr_assert_eq(t->n_columns, 9, "accounts changed shape; update this row");
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    struct tl_store_loader *ld = NULL;
    cr_assert_eq(s->ops->load_begin(s, t, true, &ld, &err), 0, "%s", err.msg);
    int rc = s->ops->load_rows(ld, 1, acc, &err);
    if (rc == 0)
        rc = s->ops->load_end(ld, true, &err);
    else
        s->ops->load_end(ld, false, NULL);
    cr_assert_eq(rc, TL_ECONSTRAINT, "%d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, "accounts"), "the message names the table: %s", err.msg);
    cr_assert_eq(tl_store_rollback(s, &err), 0, "%s", err.msg);
    checksum_of(s, after);
    cr_assert_str_eq(before, after);

    /* a loader abandoned half-way (ok=false) also leaves nothing behind */
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    product_row(row, 2, id, sizeof id, "Abandoned");
    cr_assert_eq(s->ops->load_begin(s, tl_schema_table("products"), false, &ld, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(s->ops->load_rows(ld, 1, row, &err), 0, "%s", err.msg);
    cr_assert_eq(s->ops->load_end(ld, false, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_store_rollback(s, &err), 0, "%s", err.msg);
    checksum_of(s, after);
    cr_assert_str_eq(before, after);
    tl_store_close(s);
}

/* The indexes and constraints of a table as one string: what a load that
 * sets them aside must put back exactly. */
static void ddl_of(tl_store *s, const char *table, char *out, size_t size)
{
    struct one_row r = {0};
    tl_err err = {0};
    tl_value p[] = {TL_TEXT(table), TL_TEXT(table)};
    const char *sql = strcmp(tl_store_backend(s), "postgres") == 0
                          ? "SELECT string_agg(x, ' | ' ORDER BY x) FROM ("
                            " SELECT conname || ' ' || pg_get_constraintdef(oid) || ' '"
                            " || convalidated AS x FROM pg_constraint"
                            " WHERE conrelid = CAST(? AS regclass)"
                            " UNION ALL SELECT indexdef FROM pg_indexes WHERE tablename = ?) d"
                          : "SELECT group_concat(x, ' | ') FROM (SELECT type || ' ' || name || ' '"
                            " || coalesce(sql, '') AS x FROM sqlite_master"
                            " WHERE tbl_name = ? AND ? IS NOT NULL ORDER BY x)";
    cr_assert_eq(tl_store_exec(s, sql, 2, p, grab_row, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.type[0], TL_VAL_TEXT);
    snprintf(out, size, "%s", r.s[0]);
}

static void load_owner_rows(tl_store *s)
{
    tl_err err = {0};
    tl_value row[13];
    char id[16];
    product_row(row, 1, id, sizeof id, "Saver");
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "products", true, 1, row);
    exec_ok(s,
            "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
            "VALUES ('c-1', 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
            0, NULL);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
}

/* A load into an empty table sets plain indexes (and on PostgreSQL foreign
 * keys) aside and rebuilds them: afterwards, after a failed load, and after
 * an abandoned one, the table's DDL is exactly what the migration made. */
TU_BOTH(empty_table_load_restores_indexes_and_keys)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    load_owner_rows(s);
    char before[1024], after[1024];
    ddl_of(s, "accounts", before, sizeof before);
    cr_assert(strstr(before, "accounts_customer"), "%s", before);

    tl_value bad[9] = {TL_TEXT("a-1"),     TL_TEXT("c-missing"),  TL_TEXT("p-00001"),
                       TL_TEXT("current"), TL_TEXT("EUR"),        TL_INT(100),
                       TL_NULLV,           TL_INT(1700000000000), TL_TEXT("open")};
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    struct tl_store_loader *ld = NULL;
    cr_assert_eq(s->ops->load_begin(s, tl_schema_table("accounts"), true, &ld, &err), 0, "%s",
                 err.msg);
    int rc = s->ops->load_rows(ld, 1, bad, &err);
    if (rc == 0)
        rc = s->ops->load_end(ld, true, &err);
    else
        s->ops->load_end(ld, false, NULL);
    cr_assert_eq(rc, TL_ECONSTRAINT, "the key is still checked: %d %s", rc, err.msg);
    if (strcmp(tl_store_backend(s), "postgres") == 0)
        cr_assert(strstr(err.msg, "c-missing"), "the message names the value: %s", err.msg);
    cr_assert_eq(tl_store_rollback(s, &err), 0, "%s", err.msg);
    ddl_of(s, "accounts", after, sizeof after);
    cr_assert_str_eq(before, after);

    /* abandoned (ok=false) and then, wrongly, committed: the schema survives
     * (SQLite rolls back to the load's savepoint; PostgreSQL aborted the
     * transaction, so the commit fails) */
    tl_value good[9];
    memcpy(good, bad, sizeof good);
    good[1] = TL_TEXT("c-1");
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    cr_assert_eq(s->ops->load_begin(s, tl_schema_table("accounts"), true, &ld, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(s->ops->load_rows(ld, 1, good, &err), 0, "%s", err.msg);
    cr_assert_eq(s->ops->load_end(ld, false, &err), 0, "%s", err.msg);
    (void)tl_store_commit(s, &err);
    ddl_of(s, "accounts", after, sizeof after);
    cr_assert_str_eq(before, after);
    cr_assert_eq(count_of(s, "accounts"), 0, "an abandoned load leaves no rows");

    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "accounts", true, 1, good);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    ddl_of(s, "accounts", after, sizeof after);
    cr_assert_str_eq(before, after);
    cr_assert_eq(count_of(s, "accounts"), 1);
    struct one_row r = {0};
    cr_assert_eq(tl_store_exec(s, "SELECT count(*) FROM accounts WHERE customer_id = 'c-1'", 0,
                               NULL, grab_row, &r, &err),
                 0, "%s", err.msg);
    cr_assert_eq(r.i[0], 1, "the rebuilt index finds the row");
    tl_store_close(s);
}

/* When another session is reading the table, setting its keys aside would
 * wait for that reader: the load gives up on it after a short lock timeout and
 * loads row by row instead, still succeeding. */
Test(postgres, empty_table_load_works_beside_a_reader)
{
    char *url = tu_pg_url();
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    load_owner_rows(s);
    char before[1024], after[1024];
    ddl_of(s, "accounts", before, sizeof before);

    tl_store *reader = open_store(url);
    cr_assert_eq(tl_store_begin(reader, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(reader, "accounts"), 0); /* holds its lock until rollback */

    tl_value row[9] = {TL_TEXT("a-1"),     TL_TEXT("c-1"),        TL_TEXT("p-00001"),
                       TL_TEXT("current"), TL_TEXT("EUR"),        TL_INT(100),
                       TL_NULLV,           TL_INT(1700000000000), TL_TEXT("open")};
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    load(s, "accounts", true, 1, row);
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(s, "accounts"), 1);
    ddl_of(s, "accounts", after, sizeof after);
    cr_assert_str_eq(before, after);
    struct one_row r = {0};
    cr_assert_eq(tl_store_exec(s, "SHOW lock_timeout", 0, NULL, grab_row, &r, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(r.s[0], "0", "the load left the session's lock timeout alone");
    cr_assert_eq(tl_store_rollback(reader, &err), 0, "%s", err.msg);
    tl_store_close(reader);
    tl_store_close(s);
    free(url);
}

/* ------------------------------------------------------------- checksum */

/* The same rows in every table that has a REAL or NULL-able column. */
static void fill_sample(tl_store *s)
{
    tl_err err = {0};
    cr_assert_eq(tl_store_begin(s, &err), 0, "%s", err.msg);
    tl_value prod[2 * 13];
    char id1[16], id2[16];
    product_row(prod, 1, id1, sizeof id1, "Saver ünïcödé");
    product_row(prod + 13, 2, id2, sizeof id2, "Fund\twith tab");
    load(s, "products", true, 2, prod);
    tl_value cust[18] = {TL_TEXT("c-1"),
                         TL_TEXT("Ada"),
                         TL_TEXT("ada@example.org"),
                         TL_NULLV,
                         TL_TEXT("1 Road\nTown"),
                         TL_NULLV,
                         TL_TEXT("1980-02-03"),
                         TL_TEXT("DE"),
                         TL_NULLV,
                         TL_TEXT("engineer"),
                         TL_INT(6500000),
                         TL_TEXT("EUR"),
                         TL_INT(2),
                         TL_TEXT("affluent"),
                         TL_TEXT("2015-06-01"),
                         TL_NULLV, /* email_bidx, national_id_bidx, erased_ms: derived */
                         TL_NULLV,
                         TL_NULLV};
    load(s, "customers", true, 1, cust);
    tl_value acc[9] = {TL_TEXT("a-1"),     TL_TEXT("c-1"),        TL_TEXT("p-00001"),
                       TL_TEXT("current"), TL_TEXT("EUR"),        TL_INT(-1234),
                       TL_NULLV,           TL_INT(1700000000000), TL_TEXT("open")};
    load(s, "accounts", true, 1, acc);
    tl_value hold[8] = {TL_TEXT("h-1"),        TL_TEXT("c-1"),       TL_TEXT("p-00002"),
                        TL_TEXT("a-1"),        TL_TEXT("EUR"),       TL_INT(5000000),
                        TL_REAL(12.345678901), TL_INT(1600000000000)};
    load(s, "holdings", true, 1, hold);
    exec_ok(s,
            "INSERT INTO alerts (id, customer_id, created_ms, kind, score, status, reasons) "
            "VALUES ('al-1', 'c-1', 1700000000001, 'fraud', ?, 'open', NULL)",
            1, (tl_value[]){TL_REAL(0.1 + 0.2)});
    cr_assert_eq(tl_store_commit(s, &err), 0, "%s", err.msg);
}

Test(cross, checksum_is_the_same_on_both_backends)
{
    char *lite_url = tu_sqlite_url(), *pgu = tu_pg_url();
    tl_store *lite = open_migrated(lite_url), *pg = open_migrated(pgu);
    char a[65], b[65];
    checksum_of(lite, a);
    checksum_of(pg, b);
    cr_assert_str_eq(a, b, "empty stores");

    fill_sample(lite);
    fill_sample(pg);
    checksum_of(lite, a);
    checksum_of(pg, b);
    cr_assert_str_eq(a, b, "same rows, same checksum");
    char again[65];
    checksum_of(lite, again);
    cr_assert_str_eq(a, again, "stable");

    exec_ok(pg, "UPDATE holdings SET units = 12.345678902 WHERE id = 'h-1'", 0, NULL);
    checksum_of(pg, b);
    cr_assert_str_neq(a, b, "a one-ulp-ish change in a REAL shows");
    exec_ok(lite, "UPDATE holdings SET units = 12.345678902 WHERE id = 'h-1'", 0, NULL);
    checksum_of(lite, a);
    cr_assert_str_eq(a, b);

    /* NULL and empty text differ */
    exec_ok(lite, "UPDATE customers SET region = '' WHERE id = 'c-1'", 0, NULL);
    checksum_of(lite, a);
    cr_assert_str_neq(a, b, "NULL vs ''");
    tl_store_close(lite);
    tl_store_close(pg);
    free(lite_url);
    free(pgu);
}

/* ------------------------------------------------------------ bad input */

Test(store, bad_urls_are_named_in_the_error)
{
    tl_store *s = (tl_store *)0x1;
    tl_err err = {0};
    cr_assert_eq(tl_store_open("mysql://bank:s3cret@db.example/bank", &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "mysql://bank:***@db.example/bank"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "s3cret"), "the password never reaches a message: %s", err.msg);
    cr_assert_eq(s, (tl_store *)0x1, "*out untouched on error");
    cr_assert_eq(tl_store_open("", &s, &err), TL_EINVAL);
    cr_assert_eq(tl_store_open(NULL, &s, &err), TL_EINVAL);
    cr_assert_eq(tl_store_open("sqlite:", &s, &err), TL_EINVAL);
    cr_assert_lt(tl_store_open("sqlite:/nonexistent-dir/sub/bank.db", &s, &err), 0);
    cr_assert(strstr(err.msg, "/nonexistent-dir/sub/bank.db"), "%s", err.msg);
    cr_assert_lt(tl_store_open("postgres://who:pw@127.0.0.1:1/nodb?connect_timeout=2", &s, &err),
                 0);
    cr_assert(strstr(err.msg, "postgres://who:***@127.0.0.1:1/nodb"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, ":pw@"), "%s", err.msg);
    cr_assert_eq(s, (tl_store *)0x1);
}

Test(store, bare_path_and_sqlite_scheme_open_the_same_file)
{
    char *dir = tu_tmpdir();
    char path[512], url[600];
    snprintf(path, sizeof path, "%s/bank.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    tl_store *s = open_migrated(path);
    cr_assert_str_eq(tl_store_backend(s), "sqlite");
    exec_ok(s,
            "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
            "VALUES ('c-1', 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
            0, NULL);
    tl_store_close(s);
    s = open_store(url);
    cr_assert_eq(count_of(s, "customers"), 1);
    tl_store_close(s);
    free(dir);
}

TU_BOTH(count_refuses_unknown_tables)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    int64_t n = 77;
    cr_assert_eq(tl_store_count(s, "nope", &n, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "'nope'"), "%s", err.msg);
    cr_assert_lt(tl_store_count(s, "products; DROP TABLE products", &n, &err), 0);
    cr_assert_lt(tl_store_count(s, "schema_migrations", &n, &err), 0, "only schema.h tables");
    cr_assert_lt(tl_store_count(s, NULL, &n, &err), 0);
    cr_assert_eq(n, 77, "output untouched on error");
    cr_assert_eq(count_of(s, "products"), 0);
    tl_store_close(s);
}

TU_BOTH(schema_version_of_a_newer_store_is_refused)
{
    tl_err err = {0};
    tl_store *s = open_migrated(url);
    tl_value p = TL_INT(tl_store_latest_version() + 1);
    exec_ok(s, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, 'future', 0)",
            1, &p);
    int applied = -1;
    cr_assert_eq(tl_store_migrate(s, &applied, &err), TL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "newer"), "%s", err.msg);
    tl_store_close(s);
}

TU_BOTH(text_with_nul_is_refused_or_kept_exactly)
{
    tl_err err = {0};
    tl_store *s = open_store(url);
    exec_ok(s, "CREATE TABLE tn (t TEXT)", 0, NULL);
    tl_value p = TL_TEXTN("a\0b", 3);
    int rc = tl_store_exec(s, "INSERT INTO tn (t) VALUES (?)", 1, &p, NULL, NULL, &err);
    if (strcmp(tl_store_backend(s), "postgres") == 0) {
        cr_assert_eq(rc, TL_EINVAL, "%s", err.msg);
        cr_assert(strstr(err.msg, "NUL"), "%s", err.msg);
    } else {
        cr_assert_eq(rc, 0, "%s", err.msg);
    }
    tl_store_close(s);
}

static int on_int(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    if (n_cols > 0 && cols[0].type == TL_VAL_INT)
        *(int64_t *)ud = cols[0].i;
    return 0;
}

/* A writer that leaves checkpoints to another connection: its commits stop
 * checkpointing (SQLite's wal_autocheckpoint 0, back to 1000 when asked),
 * and a checkpoint from a second connection succeeds while the writer's
 * data stays readable. PostgreSQL checkpoints on its own: both calls
 * succeed and change nothing. */
TU_BOTH(checkpoints_can_move_to_another_connection)
{
    tl_err err = {0};
    tl_store *w = open_migrated(url), *c = open_store(url);
    bool sqlite = strcmp(tl_store_backend(w), "sqlite") == 0;
    cr_assert_eq(tl_store_set_autocheckpoint(w, false, &err), 0, "%s", err.msg);
    int64_t pages = -1;
    if (sqlite) {
        cr_assert_eq(tl_store_exec(w, "PRAGMA wal_autocheckpoint", 0, NULL, on_int, &pages, &err),
                     0, "%s", err.msg);
        cr_assert_eq(pages, 0, "autocheckpoint still %lld pages", (long long)pages);
    }
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%d", i);
        tl_value p[] = {TL_TEXT(id)};
        exec_ok(w,
                "INSERT INTO customers (id, name, birth_date, country, currency, customer_since) "
                "VALUES (?, 'X', '1980-01-01', 'DE', 'EUR', '2020-01-01')",
                1, p);
    }
    cr_assert_eq(tl_store_checkpoint(c, &err), 0, "%s", err.msg);
    cr_assert_eq(count_of(c, "customers"), 200);
    cr_assert_eq(tl_store_set_autocheckpoint(w, true, &err), 0, "%s", err.msg);
    if (sqlite) {
        cr_assert_eq(tl_store_exec(w, "PRAGMA wal_autocheckpoint", 0, NULL, on_int, &pages, &err),
                     0, "%s", err.msg);
        cr_assert_eq(pages, 1000);
    }
    cr_assert_eq(tl_store_checkpoint(NULL, &err), TL_EINVAL);
    tl_store_close(c);
    tl_store_close(w);
}
