/*
 * fraud_alerts.h - fraud decisions in the store: the transactions a live
 * engine decided, the alert queue analysts work, their outcomes fed back as
 * labels, and replaying the store's history through an engine.
 *
 * A decided transaction is stored in `transactions` (a card debit: amount
 * negative) with its decision in the derived columns fraud_score,
 * fraud_decision, fraud_reasons (the decision's "reasons" JSON), fraud_model,
 * fraud_decided_ms (fraud_decided_at in files) and fraud_alert_id (migration 4). A review or block
 * decision opens an alert for the card, or joins the card's open one: one
 * open alert per card, its score the highest of its transactions, so the
 * queue ranks cards the way analysts investigate them (and the handbook's
 * Card Precision@k measures them).
 *
 * Resolving an alert with its outcome (fraud / genuine) labels every
 * transaction of it (is_fraud 1 / 0): the next `teller fraud train` learns
 * from them, and the caller passes the labelled ids to its live engine
 * (tl_stream_label) for the delayed terminal-risk features.
 *
 *     json_t *stored;
 *     tl_fraud_record(ctx, &tx, decision_json, &stored, &err);
 *     tl_fraud_alerts_list(ctx, "open", 100, &queue, &err);
 *     tl_fraud_alert_resolve(ctx, "FA-T000123", "fraud", "analyst-key-7", NULL, &res, &err);
 */
#ifndef TELLER_FRAUD_ALERTS_H
#define TELLER_FRAUD_ALERTS_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"
#include "fraud.h"

TL_BEGIN_DECLS

/* The account (card) behind tx->card_id, for enrichment before deciding
 * (it also checks that tx could be stored: id characters, channel, mcc,
 * lengths, so a payment the store would refuse never reaches the engine):
 * writes its owner's customer id and country (the card's home country) into
 * the caller's buffers and points tx->customer_id / tx->home_country at
 * them when tx lacks them. TL_ENOTFOUND when the account is unknown (the
 * caller still decides it: a cold start). */
TL_API int tl_fraud_enrich(tl_ctx *ctx, struct tl_fraud_tx *tx, char customer_id[65],
                           char home_country[3], tl_err *err);

/* Stores tx with its decision (the JSON of tl_fraud_decision_json) and,
 * for review and block, opens or joins the card's open alert, in one store
 * transaction: all of it or nothing. *out (new reference, optional):
 * {"stored":true,"alert":{"id","status","score","n_transactions"}|null}.
 * An id already stored: TL_EEXISTS when its account, time and amount are
 * the same (a duplicate: the caller answers with the stored decision,
 * tl_fraud_stored_decision), TL_ECONSTRAINT naming the id otherwise.
 * An unknown account: TL_ENOTFOUND (nothing stored). */
TL_API int tl_fraud_record(tl_ctx *ctx, const struct tl_fraud_tx *tx, const json_t *decision,
                           json_t **out, tl_err *err);

/* The decision stored for transaction tx_id, as tl_fraud_decision_json
 * wrote it ("duplicate" set true). TL_ENOTFOUND when the id is unknown or
 * was stored without a decision (loaded by ingest). */
TL_API int tl_fraud_stored_decision(tl_ctx *ctx, const char *tx_id, json_t **out, tl_err *err);

/* Alerts with status (NULL or "open": the open ones; "all"; or one status
 * of the schema) ordered by score, highest first, then oldest first, at
 * most limit (1..10000). *out (new reference): [{"id","account_id",
 * "customer_id","transaction_id" (the first),"score","status",
 * "created_at","updated_at","n_transactions","reasons" (of its
 * highest-scored transaction),"outcome","resolved_at","resolved_by"}].
 * No personal data: ids only. */
TL_API int tl_fraud_alerts_list(tl_ctx *ctx, const char *status, size_t limit, json_t **out,
                                tl_err *err);

/* One alert as in the list, plus "transactions": [{"id","ts","amount",
 * "currency","terminal_id","merchant_id","country","score","decision",
 * "reasons"}] oldest first. TL_ENOTFOUND naming the id. */
TL_API int tl_fraud_alert_get(tl_ctx *ctx, const char *alert_id, json_t **out, tl_err *err);

/* Resolves an open alert: outcome "fraud" (status confirmed_fraud) or
 * "genuine" (status false_positive); is_fraud set on each of its
 * transactions; resolved_at, resolved_by (actor) and outcome stored; all in
 * one store transaction. *out (new reference): the alert as
 * tl_fraud_alert_get gives it after resolution, whose "transactions" ids
 * the caller feeds to tl_stream_label. TL_ENOTFOUND for an unknown alert,
 * TL_EINVAL for another outcome; an alert already resolved: TL_ECONSTRAINT
 * ("alert FA-.. is already resolved as fraud"). note (optional, at most
 * 1000 bytes) is kept with the outcome. */
TL_API int tl_fraud_alert_resolve(tl_ctx *ctx, const char *alert_id, const char *outcome,
                                  const char *actor, const char *note, json_t **out, tl_err *err);

/* Reads the store's card transactions (kind "card", amount < 0) with
 * ts >= from_ms (INT64_MIN: all) in (ts, id) order and calls fn for each,
 * tx filled as tl_fraud_tx_from_json would (card = account_id, terminal =
 * terminal_id, amount = -amount, home_country from the customer, label =
 * is_fraud or -1). fn returning < 0 stops the scan with that code. */
typedef int (*tl_fraud_tx_fn)(void *ud, const struct tl_fraud_tx *tx, tl_err *err);
TL_API int tl_fraud_scan_store(tl_ctx *ctx, int64_t from_ms, tl_fraud_tx_fn fn, void *ud,
                               tl_err *err);

/* The newest card transaction's ts in the store (INT64_MIN when none). */
TL_API int tl_fraud_store_newest_ms(tl_ctx *ctx, int64_t *out, tl_err *err);

TL_END_DECLS

#endif
