/*
 * audit.h - the hash-chained audit journal.
 *
 * Every read of customer data and every decision appends one row to
 * audit_log: when, who (actor and role), what (action, resource), whose data
 * (customer_id), which request, and details (JSON). Row n stores
 * hash_n = SHA-256(hash_{n-1} || canonical(row n)), so editing, deleting or
 * inserting a row breaks the chain at that row, which tl_audit_verify finds.
 * Rows never hold PII: ids, not names.
 */
#ifndef TELLER_AUDIT_H
#define TELLER_AUDIT_H

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

struct tl_audit_event {
    const char *actor;         /* key id or token subject; required */
    const char *role;          /* admin, analyst, service, customer, or "cli" */
    const char *action;        /* "customer.read", "ingest", "credit.decision", ...; required */
    const char *resource;      /* route or object, e.g. "GET /v1/customers/{id}" */
    const char *customer_id;   /* whose data, or NULL */
    const char *request_id;    /* or NULL */
    const char *model_version; /* for decisions, or NULL */
    const char *inputs_digest; /* SHA-256 hex of the decision's inputs, or NULL */
    const char *details;       /* JSON text (decision, reasons, counts), or NULL */
};

/* Appends one row, chained to the last, durably (committed) before it
 * returns: an acknowledged action is never missing from the journal. Safe
 * from several threads and processes at once. */
TL_API int tl_audit_append(tl_ctx *ctx, const struct tl_audit_event *ev, tl_err *err);

struct tl_audit_report {
    uint64_t rows_checked;
    bool ok;
    int64_t first_bad_seq; /* first row that does not verify, or -1 */
    char problem[256];     /* "row 17 was altered", "row 9 is missing", ... */
};

/* Walks the whole chain. A broken chain is not an error: rc 0 with ok=false
 * and the first bad row described. */
TL_API int tl_audit_verify(tl_ctx *ctx, struct tl_audit_report *rep, tl_err *err);

TL_END_DECLS

#endif
