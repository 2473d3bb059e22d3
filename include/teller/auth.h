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
};

TL_END_DECLS

#endif
