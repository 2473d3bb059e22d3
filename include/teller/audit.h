/*
 * audit.h - the hash-chained audit journal.
 *
 * Every read of customer data and every decision appends one row to
 * audit_log: when, who (actor and role), what (action, resource), whose data
 * (customer_id), which request, and details (JSON). Row n stores
 * hash_n = SHA-256(hash_{n-1} || canonical(row n)), so editing, deleting or
 * inserting a row breaks the chain at that row, which tl_audit_verify finds.
 * Rows never hold PII: ids, not names. docs/audit.md gives the exact
 * serialization, so a chain can be checked without teller.
 *
 * What the chain cannot show on its own: an attacker who can write SQL and
 * recomputes every hash after the row they change, or who deletes rows at the
 * tail, leaves a chain that verifies. Against both, record the head
 * (tl_audit_report.head_seq/head_hash) somewhere the database's writers
 * cannot reach, and check later chains against it (tl_audit_verify_anchor).
 *
 *     struct tl_audit_event ev = {.actor = "key-17", .role = "analyst",
 *                                 .action = "customer.read", .customer_id = "c-42"};
 *     if (tl_audit_append(ctx, &ev, &err) < 0) ...   refuse the read: it was not journaled
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
 * from several threads and processes at once (each thread with its own
 * context: a context's store is one connection).
 *
 * The row is written in a transaction of its own on the context's store, so
 * that it can never be rolled back with the caller's work: called while the
 * caller holds a transaction open there, it returns TL_EINVAL and appends
 * nothing. Bad events are refused with TL_EINVAL naming the field: actor or
 * action missing or empty, a field longer than its audit_log column allows
 * (docs/data-formats.md), text that is not UTF-8, details that are not JSON,
 * an inputs_digest that is not 64 hex digits. ev and its strings are
 * borrowed for the call only. */
TL_API int tl_audit_append(tl_ctx *ctx, const struct tl_audit_event *ev, tl_err *err);

/* The most events one tl_audit_append_batch takes. */
#define TL_AUDIT_BATCH_MAX 4096

/* Appends n rows in one transaction, chained in the order of evs: all of
 * them, durably, before it returns 0, or none of them. The same contract as
 * tl_audit_append (which is this with n = 1): every event is checked first,
 * and one bad event refuses the whole batch with TL_EINVAL naming it
 * ("event 3 of 8: ..."); inside a transaction of the caller's it appends
 * nothing. One commit for n rows is what makes it cheaper than n appends.
 * n 0 appends nothing and returns 0; n above TL_AUDIT_BATCH_MAX is
 * TL_EINVAL. evs and their strings are borrowed for the call only. */
TL_API int tl_audit_append_batch(tl_ctx *ctx, const struct tl_audit_event *evs, size_t n,
                                 tl_err *err);

struct tl_audit_report {
    uint64_t rows_checked;
    bool ok;
    int64_t first_bad_seq; /* first row that does not verify, or -1; 0 for a row
                              outside the chain (its seq is NULL or below 1) */
    char problem[256];     /* "row 17 was altered", "row 9 is missing", ... */
    int64_t head_seq;      /* the last row of the chain (0 when empty); when
                              broken, the last row before the break */
    char head_hash[65];    /* its hash, 64 hex digits ("0" x 64 when empty) */
};

/* Walks the whole chain in seq order, recomputing every hash. A broken chain
 * is not an error: rc 0 with ok=false and the first bad row described. Rows
 * appended while it runs are not seen: it reads one snapshot. When the store
 * fails (rc < 0), *rep says ok=false with first_bad_seq -1. */
TL_API int tl_audit_verify(tl_ctx *ctx, struct tl_audit_report *rep, tl_err *err);

/* tl_audit_verify, and also checks the chain against an anchor: a head
 * (anchor_seq, anchor_hash) recorded earlier. The chain must still hold row
 * anchor_seq with exactly that hash (it may have grown since); otherwise
 * ok=false: rows from anchor_seq on were deleted (tail truncation), or the
 * chain was rewritten at or before anchor_seq. anchor_hash is 64 hex digits;
 * anchor 0 is the empty chain's head, 0 and "0" x 64. A malformed anchor is
 * TL_EINVAL. */
TL_API int tl_audit_verify_anchor(tl_ctx *ctx, int64_t anchor_seq, const char *anchor_hash,
                                  struct tl_audit_report *rep, tl_err *err);

/* One row as tl_audit_list hands it over. Strings are borrowed until the
 * callback returns; NULL where the row holds none. */
struct tl_audit_entry {
    int64_t seq;
    int64_t ts_ms;
    const char *id;
    const char *actor;
    const char *role;
    const char *action;
    const char *resource;
    const char *customer_id;
    const char *request_id;
    const char *subject;
    const char *model_version;
    const char *inputs_digest;
    const char *details; /* JSON text */
    const char *prev_hash;
    const char *hash;
};

/* Return nonzero to stop early (not an error). The callback must not use the
 * context's store: its rows are still streaming. */
typedef int (*tl_audit_entry_fn)(void *ud, const struct tl_audit_entry *e);

/* Calls fn for the newest rows first: every row, or only those of one
 * customer when customer_id is non-NULL, at most limit of them (0: no
 * limit). Lists; does not verify. */
TL_API int tl_audit_list(tl_ctx *ctx, const char *customer_id, uint64_t limit, tl_audit_entry_fn fn,
                         void *ud, tl_err *err);

TL_END_DECLS

#endif
