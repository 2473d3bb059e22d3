/*
 * test_customer.c - the read side (customer.h) on SQLite over the mini bank:
 * PII opened, derived columns hidden, money and timestamps in file form,
 * cursor pagination that walks every row once, date filters, strict
 * cursors and limits, unknown ids, and a tampered sealed value refused.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static tl_config *cfg;
static tl_ctx *ctx;

static void setup(void)
{
    dir = tu_tmpdir();
    cr_assert_not_null(dir);
    tl_err err = {0};
    char url[1024], fix[1024];
    snprintf(url, sizeof url, "sqlite:%s/c.db", dir);
    cfg = tu_config(url, dir);
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
    const char *src = getenv("TELLER_SRC");
    cr_assert_not_null(src, "TELLER_SRC must name the source tree");
    static const char *const tables[] = {"products", "customers", "accounts", "transactions"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(fix, sizeof fix, "%s/tests/fixtures/mini/%s.csv", src, tables[i]);
        struct tl_ingest_opts o = {.table = tables[i], .path = fix, .quiet = true};
        struct tl_ingest_result res;
        cr_assert_eq(tl_ingest_file(tl_ctx_store(ctx), &o, &res, &err), 0, "%s", err.msg);
    }
}

static void teardown(void)
{
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    free(dir);
}

TestSuite(customer, .init = setup, .fini = teardown);

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Ids of a page's items, comma-joined, into buf. */
static const char *ids(const json_t *page, char *buf, size_t cap)
{
    size_t i, o = 0;
    json_t *it;
    buf[0] = '\0';
    json_array_foreach(json_object_get(page, "items"), i, it)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "," : "", str(it, "id"));
    return buf;
}

Test(customer, get_opens_pii_and_formats_like_the_files)
{
    json_t *c = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_customer_get(ctx, "C1", &c, &err), 0, "%s", err.msg);
    cr_expect_str_eq(str(c, "name"), "Anna Müller");
    cr_expect_str_eq(str(c, "email"), "anna.mueller@example.de");
    cr_expect_str_eq(str(c, "address"), "Hauptstraße 5, 10115 Berlin");
    cr_expect_str_eq(str(c, "annual_income"), "72000.00");
    cr_expect_eq(json_integer_value(json_object_get(c, "household_size")), 2);
    cr_expect_null(json_object_get(c, "email_bidx"), "derived columns are not shown");
    cr_expect_null(json_object_get(c, "erased_at"));
    json_decref(c);

    /* C3 has no email: null, not missing */
    cr_assert_eq(tl_customer_get(ctx, "C3", &c, &err), 0, "%s", err.msg);
    cr_expect(json_is_null(json_object_get(c, "email")));
    json_decref(c);
}

static int on_name(void *ud, size_t n, const tl_value *cols, const char *const *names)
{
    (void)names;
    if (n == 1 && cols[0].type == TL_VAL_TEXT)
        snprintf(ud, 512, "%s", cols[0].s);
    return 1;
}

Test(customer, pii_is_sealed_at_rest_and_tampering_is_refused)
{
    char stored[512] = "";
    tl_err err = {0};
    tl_value p[] = {TL_TEXT("C1")};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "SELECT name FROM customers WHERE id = ?", 1, p,
                               on_name, stored, &err),
                 0, "%s", err.msg);
    cr_expect(tl_keyring_is_sealed(stored, strlen(stored)), "stored name: %s", stored);
    /* C1's sealed name copied into C2's email does not open there: the
     * context sealed with it names its column */
    tl_value q[] = {TL_TEXT(stored), TL_TEXT("C2")};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), "UPDATE customers SET email = ? WHERE id = ?", 2, q,
                               NULL, NULL, &err),
                 0, "%s", err.msg);
    json_t *c = NULL;
    cr_expect_eq(tl_customer_get(ctx, "C2", &c, &err), TL_ECRYPTO, "got %s", err.msg);
    cr_expect_null(c);
}

Test(customer, unknown_and_malformed_ids_are_not_found)
{
    json_t *c = NULL;
    tl_err err = {0};
    cr_expect_eq(tl_customer_get(ctx, "C9", &c, &err), TL_ENOTFOUND);
    cr_expect_str_eq(err.msg, "no customer with id \"C9\"");
    cr_expect_eq(tl_customer_get(ctx, "C1' OR '1'='1", &c, &err), TL_ENOTFOUND);
    cr_expect_eq(tl_customer_get_account(ctx, "A9", &c, &err), TL_ENOTFOUND);
    cr_expect_eq(tl_customer_get_product(ctx, "", &c, &err), TL_ENOTFOUND);
    cr_expect_eq(tl_customer_list_accounts(ctx, "C9", &c, &err), TL_ENOTFOUND);
    char owner[65];
    cr_expect_eq(tl_customer_account_owner(ctx, "A9", owner, &err), TL_ENOTFOUND);
    cr_expect_null(c);
}

Test(customer, accounts_and_owner)
{
    json_t *a = NULL;
    tl_err err = {0};
    char buf[256], owner[65];
    cr_assert_eq(tl_customer_list_accounts(ctx, "C1", &a, &err), 0, "%s", err.msg);
    cr_expect_str_eq(ids(a, buf, sizeof buf), "A1,A2");
    json_t *a2 = json_array_get(json_object_get(a, "items"), 1);
    cr_expect_str_eq(str(a2, "balance"), "-320.55");
    cr_expect_str_eq(str(a2, "credit_limit"), "5000.00");
    cr_expect_str_eq(str(a2, "opened_at"), "2016-02-10T12:00:00Z");
    json_decref(a);
    cr_assert_eq(tl_customer_account_owner(ctx, "A3", owner, &err), 0, "%s", err.msg);
    cr_expect_str_eq(owner, "C2");
}

Test(customer, customer_list_has_no_pii_and_pages)
{
    json_t *p = NULL;
    tl_err err = {0};
    char buf[256];
    struct tl_page page = {.limit = 2};
    cr_assert_eq(tl_customer_list(ctx, &page, &p, &err), 0, "%s", err.msg);
    cr_expect_str_eq(ids(p, buf, sizeof buf), "C1,C2");
    json_t *first = json_array_get(json_object_get(p, "items"), 0);
    cr_expect_null(json_object_get(first, "name"));
    cr_expect_null(json_object_get(first, "national_id"));
    cr_expect_str_eq(str(first, "country"), "DE");
    char cursor[256];
    snprintf(cursor, sizeof cursor, "%s", str(p, "next_cursor"));
    json_decref(p);
    page.cursor = cursor;
    cr_assert_eq(tl_customer_list(ctx, &page, &p, &err), 0, "%s", err.msg);
    cr_expect_str_eq(ids(p, buf, sizeof buf), "C3");
    cr_expect(json_is_null(json_object_get(p, "next_cursor")));
    json_decref(p);
}

Test(customer, transactions_walk_every_row_once_newest_first)
{
    struct tl_tx_filter f = {.customer_id = "C1", .from_ms = INT64_MIN, .to_ms = INT64_MAX};
    char all[256] = "", buf[256], cursor[256] = "";
    tl_err err = {0};
    for (int pages = 0; pages < 10; pages++) {
        struct tl_page page = {.limit = 1, .cursor = cursor[0] ? cursor : NULL};
        json_t *p = NULL;
        cr_assert_eq(tl_customer_list_transactions(ctx, &f, &page, &p, &err), 0, "%s", err.msg);
        size_t o = strlen(all);
        snprintf(all + o, sizeof all - o, "%s%s", o ? "," : "", ids(p, buf, sizeof buf));
        const char *next = str(p, "next_cursor");
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(p);
        if (!next)
            break;
    }
    cr_expect_str_eq(all, "T3,T2,T1");

    json_t *p = NULL;
    f = (struct tl_tx_filter){.account_id = "A1", .to_ms = INT64_MAX};
    cr_assert_eq(tl_time_parse("2026-10-02", 10, &f.from_ms, &err), 0);
    cr_assert_eq(tl_customer_list_transactions(ctx, &f, NULL, &p, &err), 0, "%s", err.msg);
    cr_expect_str_eq(ids(p, buf, sizeof buf), "T2");
    json_t *t2 = json_array_get(json_object_get(p, "items"), 0);
    cr_expect_str_eq(str(t2, "amount"), "-42.17");
    cr_expect_str_eq(str(t2, "ts"), "2026-10-02T12:15:30Z");
    cr_expect(json_is_false(json_object_get(t2, "is_fraud")));
    cr_expect_eq(json_integer_value(json_object_get(t2, "mcc")), 5411);
    json_decref(p);
}

Test(customer, bad_pages_and_filters_are_refused)
{
    json_t *p = NULL;
    tl_err err = {0};
    struct tl_tx_filter f = {.customer_id = "C1", .from_ms = INT64_MIN, .to_ms = INT64_MAX};
    struct tl_page big = {.limit = TL_PAGE_MAX_LIMIT + 1};
    cr_expect_eq(tl_customer_list_transactions(ctx, &f, &big, &p, &err), TL_EINVAL);
    static const char *const bad[] = {"", "!!!!", "SToxMjM", "VDo", "VDpYOlQx", "VDoxOg", "a", "A===="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tl_page page = {.cursor = bad[i]};
        cr_expect_eq(tl_customer_list_transactions(ctx, &f, &page, &p, &err), TL_EINVAL,
                     "cursor \"%s\" was taken", bad[i]);
    }
    /* an id cursor is not a transaction cursor */
    struct tl_page two = {.limit = 1};
    cr_assert_eq(tl_customer_list(ctx, &two, &p, &err), 0, "%s", err.msg);
    struct tl_page wrong = {.cursor = str(p, "next_cursor")};
    json_t *q = NULL;
    cr_expect_eq(tl_customer_list_transactions(ctx, &f, &wrong, &q, &err), TL_EINVAL);
    json_decref(p);
    struct tl_tx_filter both = {.customer_id = "C1", .account_id = "A1", .to_ms = INT64_MAX};
    cr_expect_eq(tl_customer_list_transactions(ctx, &both, NULL, &q, &err), TL_EINVAL);
    struct tl_tx_filter backwards = {.customer_id = "C1", .from_ms = 10, .to_ms = 5};
    cr_expect_eq(tl_customer_list_transactions(ctx, &backwards, NULL, &q, &err), TL_EINVAL);
    cr_expect_null(q);
}

Test(customer, products)
{
    json_t *p = NULL;
    tl_err err = {0};
    char buf[256];
    cr_assert_eq(tl_customer_list_products(ctx, NULL, &p, &err), 0, "%s", err.msg);
    cr_expect_str_eq(ids(p, buf, sizeof buf), "P-CC,P-CUR,P-EQ,P-SAV");
    json_decref(p);
    cr_assert_eq(tl_customer_get_product(ctx, "P-EQ", &p, &err), 0, "%s", err.msg);
    cr_expect_eq(json_integer_value(json_object_get(p, "volatility_bp")), 1600);
    cr_expect(json_is_null(json_object_get(p, "interest_rate_bp")));
    cr_expect_str_eq(str(p, "annual_fee"), "0.00");
    json_decref(p);
}
