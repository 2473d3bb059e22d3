/*
 * auth.h - roles, principals and API keys.
 *
 * Four roles: customer (only its own customer's data), analyst (read all),
 * service (ingest and scoring), admin (keys, models, configuration). An API
 * key is a random secret shown once at creation; the store keeps only its
 * keyed hash (tl_keyring_hash), an id, the role, the customer it belongs to
 * (customer role), an expiry and a revocation time.
 */
#ifndef TELLER_AUTH_H
#define TELLER_AUTH_H

#include "common.h"
#include "config.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

enum tl_role {
    TL_ROLE_NONE = 0,
    TL_ROLE_CUSTOMER = 1 << 0,
    TL_ROLE_ANALYST = 1 << 1,
    TL_ROLE_SERVICE = 1 << 2,
    TL_ROLE_ADMIN = 1 << 3,
};
#define TL_ROLES_ALL (TL_ROLE_CUSTOMER | TL_ROLE_ANALYST | TL_ROLE_SERVICE | TL_ROLE_ADMIN)

/* "customer" -> TL_ROLE_CUSTOMER ...; TL_ROLE_NONE when unknown. */
TL_API enum tl_role tl_role_parse(const char *s);
TL_API const char *tl_role_name(enum tl_role r);

/* Who is asking: from an API key or a verified JWT. */
struct tl_principal {
    enum tl_role role;
    char customer_id[65]; /* set for the customer role */
    char subject[129];    /* key id or JWT sub: the audit actor */
    int64_t expires_ms;   /* when the credential stops being valid; 0: never */
};

/* ---- API keys (lib/bank/keys.c) ----
 * A key reads "tk_<id>_<secret>": the id finds the row, the secret is checked
 * against its keyed hash in constant time. */

/* Creates a key; *secret (malloc'd, caller frees) is the whole key, shown
 * once. customer_id is required for, and only allowed with, the customer
 * role, and must exist. expires_ms 0 means no expiry. id receives the key id. */
TL_API int tl_auth_key_create(tl_ctx *ctx, enum tl_role role, const char *customer_id,
                              const char *name, int64_t expires_ms, char **secret, char id[33],
                              tl_err *err);

/* Revokes a key now; TL_ENOTFOUND for an unknown id. */
TL_API int tl_auth_key_revoke(tl_ctx *ctx, const char *id, tl_err *err);

/* Calls fn for every key (never the secret). */
struct tl_key_info {
    const char *id, *name, *customer_id;
    enum tl_role role;
    int64_t created_ms, expires_ms, revoked_ms; /* 0 when unset */
};
TL_API int tl_auth_key_list(tl_ctx *ctx, int (*fn)(void *ud, const struct tl_key_info *k), void *ud,
                            tl_err *err);

/* Checks a presented key; fills *p. TL_EAUTH (with the reason: unknown,
 * revoked, expired, malformed) when it does not grant access. */
TL_API int tl_auth_key_verify(tl_ctx *ctx, const char *token, int64_t now_ms, struct tl_principal *p,
                              tl_err *err);

/* ---- bearer JWTs from the bank's identity provider (lib/bank/jwt.c) ----
 * RS256 and ES256 only, verified against the public keys of auth.jwt_keys;
 * iss, aud, exp and nbf checked; role and customer id read from the claims
 * named by auth.jwt_role_claim and auth.jwt_customer_claim. "none" and HMAC
 * algorithms are refused before any verification (no algorithm confusion). */
typedef struct tl_jwt_verifier tl_jwt_verifier;

/* *out is NULL (and rc 0) when no keys are configured: JWTs then never
 * authenticate. */
TL_API int tl_jwt_verifier_new(const tl_config *cfg, tl_jwt_verifier **out, tl_err *err);
TL_API void tl_jwt_verifier_free(tl_jwt_verifier *v);

/* Verifies token at now_s (epoch seconds); fills *p. TL_EAUTH with the
 * reason (expired, not yet valid, wrong issuer, ...). Thread-safe. */
TL_API int tl_jwt_verify(const tl_jwt_verifier *v, const char *token, int64_t now_s,
                         struct tl_principal *p, tl_err *err);

TL_END_DECLS

#endif
