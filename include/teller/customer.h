/*
 * customer.h - the read side of the bank's data, as JSON: a customer (its
 * PII opened with the context's keyring), its accounts, transactions of an
 * account or a customer with cursor pagination and date filters, and the
 * product catalogue.
 *
 *     json_t *c;
 *     if (tl_customer_get(ctx, "C1", &c, &err) < 0) ...   TL_ENOTFOUND when unknown
 *     struct tl_tx_filter f = {.account_id = "A1", .from_ms = from, .to_ms = INT64_MAX};
 *     struct tl_page page = {.limit = 100};
 *     json_t *p;
 *     tl_customer_list_transactions(ctx, &f, &page, &p, &err);
 *     -> {"items":[{...}, ...], "next_cursor":"MTc5..." or null}
 *
 * Objects are shaped like the rows ingest reads (schema.h column names, money
 * as a decimal string in the row's currency, timestamps ISO 8601 UTC, dates
 * YYYY-MM-DD, booleans true/false, absent values null), so what a client reads
 * it could load back. Columns computed by teller (blind indexes, erasure
 * marks) are not shown.
 *
 * Authorization and audit are the caller's: these functions read what they
 * are asked for. The server checks the role, keeps customer principals to
 * their own ids and appends the audit row (audit.h) before it answers.
 */
#ifndef TELLER_CUSTOMER_H
#define TELLER_CUSTOMER_H

#include "common.h"
#include "ctx.h"
#include "err.h"
#include <jansson.h>

TL_BEGIN_DECLS

/* Page sizes: a request for more than TL_PAGE_MAX_LIMIT items is refused. */
#define TL_PAGE_DEFAULT_LIMIT 100
#define TL_PAGE_MAX_LIMIT 1000

/* One page of a list. cursor is the next_cursor of the previous page (opaque
 * text, borrowed), or NULL for the first page; limit 0 means
 * TL_PAGE_DEFAULT_LIMIT. A cursor that this module did not issue, or one
 * issued for a list of a different order, is TL_EINVAL naming the cursor. */
struct tl_page {
    const char *cursor;
    size_t limit;
};

/* Which transactions: those of one account, or of every account of one
 * customer (set exactly one of the two ids), with from_ms <= ts < to_ms.
 * Use INT64_MIN and INT64_MAX for no bound. */
struct tl_tx_filter {
    const char *account_id;
    const char *customer_id;
    int64_t from_ms;
    int64_t to_ms;
};

/* Every list returns *out = {"items":[...], "next_cursor": text or null}
 * (a new reference the caller json_decref's); next_cursor is null on the last
 * page. Every get returns *out = one object (new reference). On error *out is
 * untouched. An unknown id is TL_ENOTFOUND naming it; a sealed value that
 * does not open is TL_ECRYPTO. */

/* One customer, every column including its PII, opened. */
TL_API int tl_customer_get(tl_ctx *ctx, const char *id, json_t **out, tl_err *err);

/* Customers ordered by id, without their PII columns (a list is for finding
 * customers; tl_customer_get shows one in full). */
TL_API int tl_customer_list(tl_ctx *ctx, const struct tl_page *page, json_t **out, tl_err *err);

/* The customer's accounts ordered by id, at most TL_PAGE_MAX_LIMIT of them:
 * *out = {"items":[...]}. TL_ENOTFOUND for an unknown customer. */
TL_API int tl_customer_list_accounts(tl_ctx *ctx, const char *customer_id, json_t **out,
                                     tl_err *err);

/* One account. Its "customer_id" member says whose it is. */
TL_API int tl_customer_get_account(tl_ctx *ctx, const char *account_id, json_t **out, tl_err *err);

/* The owner of an account, copied into owner (65 bytes), without reading the
 * rest of the row: what a caller checks before showing an account to a
 * customer. TL_ENOTFOUND for an unknown account. */
TL_API int tl_customer_account_owner(tl_ctx *ctx, const char *account_id, char owner[65],
                                     tl_err *err);

/* Transactions newest first (ts descending, then id descending). An unknown
 * account or customer is TL_ENOTFOUND; from_ms > to_ms is TL_EINVAL. */
TL_API int tl_customer_list_transactions(tl_ctx *ctx, const struct tl_tx_filter *f,
                                         const struct tl_page *page, json_t **out, tl_err *err);

/* The product catalogue ordered by id, and one product. */
TL_API int tl_customer_list_products(tl_ctx *ctx, const struct tl_page *page, json_t **out,
                                     tl_err *err);
TL_API int tl_customer_get_product(tl_ctx *ctx, const char *id, json_t **out, tl_err *err);

TL_END_DECLS

#endif
