/* needs: postgres */
/*
 * test_schema.c - schema.h is the single description of the tables; this
 * meta-test holds the migrations to it. For every table of the spec, the
 * columns the migrations created must be exactly the spec's store names in
 * spec order, on SQLite and on PostgreSQL.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 64

struct columns {
    size_t n;
    char name[MAX_COLS][64];
};

static int add_column(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct columns *c = ud;
    cr_assert_eq(n_cols, 1);
    cr_assert_eq(cols[0].type, TL_VAL_TEXT);
    cr_assert_lt(c->n, MAX_COLS);
    snprintf(c->name[c->n++], sizeof c->name[0], "%.*s", (int)cols[0].len, cols[0].s);
    return 0;
}

static void check_tables(const char *url, const char *columns_sql)
{
    tl_store *s = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_store_open(url, &s, &err), 0, "open %s: %s", url, err.msg);
    cr_assert_eq(tl_store_migrate(s, NULL, &err), 0, "migrate: %s", err.msg);
    cr_assert_gt(tl_schema_table_count(), 0);
    for (size_t i = 0; i < tl_schema_table_count(); i++) {
        const struct tl_table_spec *t = tl_schema_table_at(i);
        struct columns got = {0};
        tl_value p = TL_TEXT(t->name);
        cr_assert_eq(tl_store_exec(s, columns_sql, 1, &p, add_column, &got, &err), 0, "%s: %s",
                     t->name, err.msg);
        cr_assert_gt(got.n, 0, "%s: the migrations created no such table on %s", t->name,
                     tl_store_backend(s));
        for (size_t c = 0; c < t->n_columns || c < got.n; c++) {
            const char *want = c < t->n_columns ? tl_schema_db_name(&t->columns[c]) : "(none)";
            const char *have = c < got.n ? got.name[c] : "(none)";
            cr_assert_str_eq(have, want,
                             "%s on %s, column %zu: the migration has %s, schema.c has %s", t->name,
                             tl_store_backend(s), c + 1, have, want);
        }
        cr_assert_str_eq(tl_schema_db_name(&t->columns[0]), "id", "%s: the first column is id",
                         t->name);
    }
    tl_store_close(s);
}

Test(schema, migrations_match_the_spec_on_sqlite)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    char url[512];
    snprintf(url, sizeof url, "sqlite:%s/schema.db", dir);
    check_tables(url, "SELECT name FROM pragma_table_info(?) ORDER BY cid");
    free(dir);
}

Test(schema, migrations_match_the_spec_on_postgres)
{
    char *url = tu_pg_fresh_url();
    cr_assert_not_null(url, "no PostgreSQL server: the CTest fixture pg_start must run first");
    check_tables(url, "SELECT column_name::text FROM information_schema.columns"
                      " WHERE table_schema = current_schema() AND table_name = ?"
                      " ORDER BY ordinal_position");
    free(url);
}

Test(schema, spec_is_well_formed)
{
    for (size_t i = 0; i < tl_schema_table_count(); i++) {
        const struct tl_table_spec *t = tl_schema_table_at(i);
        cr_assert_eq(tl_schema_table(t->name), t, "%s is found by name", t->name);
        cr_assert_leq(t->n_columns, MAX_COLS);
        for (size_t c = 0; c < t->n_columns; c++) {
            const struct tl_column_spec *col = &t->columns[c];
            cr_assert_eq(tl_schema_column_index(t, col->name), (int)c, "%s.%s is unique", t->name,
                         col->name);
            if (col->type == TL_COL_REF) {
                const struct tl_table_spec *ref = tl_schema_table(col->ref_table);
                cr_assert_not_null(ref, "%s.%s refers to unknown table %s", t->name, col->name,
                                   col->ref_table);
                /* dependency order: a table only references earlier ones */
                bool earlier = false;
                for (size_t j = 0; j < i; j++)
                    earlier |= tl_schema_table_at(j) == ref;
                cr_assert(earlier, "%s.%s refers to %s, which comes later", t->name, col->name,
                          col->ref_table);
            }
        }
    }
}
