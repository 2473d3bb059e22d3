/*
 * privacy.h - what the bank owes its customers about their personal data:
 * rotation of the data key, lookup without decryption, export and erasure.
 *
 * PII columns (schema.h `pii`) are sealed by the store with the context's
 * keyring as they are loaded (keyring.h) and opened only where a caller with
 * the right role reads them.
 */
#ifndef TELLER_PRIVACY_H
#define TELLER_PRIVACY_H

#include "common.h"
#include "ctx.h"
#include "err.h"
#include <jansson.h>

TL_BEGIN_DECLS

/* Adds a new data key to the key file and re-seals every PII value under it,
 * in batches of short transactions so readers are never blocked for long;
 * values under the old key stay readable throughout. *n_resealed (optional)
 * counts the values rewritten. */
TL_API int tl_privacy_rotate_data_key(tl_ctx *ctx, uint64_t *n_resealed, tl_err *err);

/* Finds a customer id by email or national id through the blind index
 * (normalized: emails lower-cased and trimmed, national ids without spaces
 * and dashes). TL_ENOTFOUND when none. id needs 65 bytes. */
TL_API int tl_privacy_find_customer(tl_ctx *ctx, const char *field, const char *value, char id[65],
                                    tl_err *err);

/* Everything held about a customer, decrypted, as one JSON object (new
 * reference; caller decrefs): the customer row, accounts, holdings,
 * transactions, applications, interactions, alerts, and the audit rows that
 * concern them. TL_ENOTFOUND for an unknown id. */
TL_API int tl_privacy_export_customer(tl_ctx *ctx, const char *id, json_t **out, tl_err *err);

/* Erases a customer's personal data everywhere: PII columns replaced by
 * irreversible anonymized values, blind indexes cleared, erased_at set; rows
 * that aggregates and the audit chain depend on (accounts, transactions)
 * stay, keyed by the same id. Idempotent. */
TL_API int tl_privacy_erase_customer(tl_ctx *ctx, const char *id, tl_err *err);

TL_END_DECLS

#endif
