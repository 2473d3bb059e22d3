/*
 * routes_customers.c - customers, their accounts and transactions, and the
 * product catalogue: parse the query, keep a customer principal to its own
 * data, call customer.h, append the audit row, answer.
 *
 * The audit row is appended after the data is read and before it is sent:
 * a read that could not be journaled is not served.
 */
#include "server.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* limit and cursor of a list route; answers 400 and returns -1 when bad. */
static int parse_page(struct srv_req *r, struct tl_page *page)
{
    page->cursor = srv_query(r, "cursor");
    page->limit = 0;
    const char *limit = srv_query(r, "limit");
    if (limit) {
        char *end = NULL;
        unsigned long long v = (*limit >= '0' && *limit <= '9') ? strtoull(limit, &end, 10) : 0;
        if (!end || *end || v < 1 || v > TL_PAGE_MAX_LIMIT) {
            srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "limit",
                            "limit must be an integer from 1 to %d", TL_PAGE_MAX_LIMIT);
            return -1;
        }
        page->limit = (size_t)v;
    }
    if (page->cursor && !*page->cursor)
        page->cursor = NULL;
    return 0;
}

/* from/to of a transaction list: ISO 8601 timestamps or dates; a bare date
 * as `to` includes that whole day. */
static int parse_range(struct srv_req *r, struct tl_tx_filter *f)
{
    static const char *const names[] = {"from", "to"};
    f->from_ms = INT64_MIN;
    f->to_ms = INT64_MAX;
    for (int i = 0; i < 2; i++) {
        const char *v = srv_query(r, names[i]);
        if (!v)
            continue;
        int64_t ms;
        tl_err err = {0};
        size_t len = strlen(v);
        if (tl_time_parse(v, len, &ms, &err) < 0) {
            srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", names[i],
                            "%s must be an ISO 8601 date or timestamp: %s", names[i], err.msg);
            return -1;
        }
        if (i == 0)
            f->from_ms = ms;
        else
            f->to_ms = len == 10 ? ms + 86400000 : ms; /* YYYY-MM-DD: through that day */
    }
    if (f->from_ms > f->to_ms) {
        srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "from", "from is after to");
        return -1;
    }
    return 0;
}

/* Answers a list or get result; customer data only once its audit row is
 * committed. */
static int answer(struct srv_req *r, int rc, const tl_err *err, json_t *out, const char *customer_id,
                  const char *field)
{
    if (rc < 0)
        return srv_reply_tl(r, rc, err, rc == TL_EINVAL ? field : NULL);
    if (r->route->audit) /* answered once the read's audit row is committed */
        return srv_audit_reply(r, r->route->audit, customer_id, out);
    return srv_reply_json(r, MHD_HTTP_OK, out);
}

int srv_h_customers_list(struct srv_req *r)
{
    struct tl_page page;
    if (parse_page(r, &page) < 0)
        return 0;
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_list(r->ctx, &page, &out, &err);
    return answer(r, rc, &err, out, NULL, "cursor");
}

int srv_h_customer_get(struct srv_req *r)
{
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_get(r->ctx, r->params[0], &out, &err);
    return answer(r, rc, &err, out, r->params[0], NULL);
}

int srv_h_customer_accounts(struct srv_req *r)
{
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_list_accounts(r->ctx, r->params[0], &out, &err);
    return answer(r, rc, &err, out, r->params[0], NULL);
}

int srv_h_customer_transactions(struct srv_req *r)
{
    struct tl_page page;
    struct tl_tx_filter f = {.customer_id = r->params[0]};
    if (parse_page(r, &page) < 0 || parse_range(r, &f) < 0)
        return 0;
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_list_transactions(r->ctx, &f, &page, &out, &err);
    return answer(r, rc, &err, out, r->params[0], "cursor");
}

/* A customer principal sees its own accounts only; another's is answered
 * exactly like an account that does not exist. owner receives the owner. */
static int own_account(struct srv_req *r, char owner[65])
{
    tl_err err = {0};
    int rc = tl_customer_account_owner(r->ctx, r->params[0], owner, &err);
    if (rc == 0 && r->who.role == TL_ROLE_CUSTOMER && strcmp(owner, r->who.customer_id) != 0)
        rc = tl_err_set(&err, TL_ENOTFOUND, "no account with id \"%s\"", r->params[0]);
    if (rc < 0) {
        srv_reply_tl(r, rc, &err, NULL);
        return -1;
    }
    return 0;
}

int srv_h_account_get(struct srv_req *r)
{
    char owner[65];
    if (own_account(r, owner) < 0)
        return 0;
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_get_account(r->ctx, r->params[0], &out, &err);
    return answer(r, rc, &err, out, owner, NULL);
}

int srv_h_account_transactions(struct srv_req *r)
{
    struct tl_page page;
    struct tl_tx_filter f = {.account_id = r->params[0]};
    char owner[65];
    if (parse_page(r, &page) < 0 || parse_range(r, &f) < 0 || own_account(r, owner) < 0)
        return 0;
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_list_transactions(r->ctx, &f, &page, &out, &err);
    return answer(r, rc, &err, out, owner, "cursor");
}

int srv_h_products_list(struct srv_req *r)
{
    struct tl_page page;
    if (parse_page(r, &page) < 0)
        return 0;
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_list_products(r->ctx, &page, &out, &err);
    return answer(r, rc, &err, out, NULL, "cursor");
}

int srv_h_product_get(struct srv_req *r)
{
    tl_err err = {0};
    json_t *out = NULL;
    int rc = tl_customer_get_product(r->ctx, r->params[0], &out, &err);
    return answer(r, rc, &err, out, NULL, NULL);
}
