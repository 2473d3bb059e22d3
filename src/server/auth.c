/*
 * auth.c - who is asking: the Authorization header to a principal.
 *
 * "Authorization: Bearer tk_<id>_<secret>" is an API key, checked against
 * its keyed hash in the store (auth.h); any other bearer token is a JWT from
 * the bank's identity provider, verified against the configured public keys
 * (none configured: JWTs never authenticate). Whatever fails answers 401
 * with WWW-Authenticate (http.c); the reason goes to the client, because it
 * names only what was wrong with the credential it sent itself.
 */
#include "server.h"

#include <string.h>
#include <strings.h>

/* Longer than any key or IdP token we accept; bounds the work per request. */
#define MAX_TOKEN_BYTES 8192

int srv_authenticate(struct srv_req *r, tl_err *err)
{
    const char *h = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || !*h)
        return tl_err_set(err, TL_EAUTH, "this route needs a bearer token (Authorization: Bearer ...)");
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return tl_err_set(err, TL_EAUTH, "the Authorization header must use the Bearer scheme");
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    size_t len = strlen(token);
    while (len > 0 && token[len - 1] == ' ')
        len--;
    if (len == 0)
        return tl_err_set(err, TL_EAUTH, "the bearer token is empty");
    if (len > MAX_TOKEN_BYTES)
        return tl_err_set(err, TL_EAUTH, "the bearer token is longer than %d bytes", MAX_TOKEN_BYTES);
    char *copy = strndup(token, len);
    if (!copy)
        return tl_err_set(err, TL_ENOMEM, "out of memory reading the bearer token");
    memset(&r->who, 0, sizeof r->who);
    int rc;
    if (strncmp(copy, "tk_", 3) == 0) {
        int64_t now = tl_time_now_ms();
        if (srv_keycache_get(r->srv->keycache, copy, len, now, &r->who)) {
            rc = 0;
        } else {
            rc = tl_auth_key_verify(r->ctx, copy, now, &r->who, err);
            if (rc == 0)
                srv_keycache_put(r->srv->keycache, copy, len, now, r->who.expires_ms, &r->who);
        }
    } else if (!r->srv->jwt) {
        rc = tl_err_set(err, TL_EAUTH, "the bearer token is not an API key, and no identity "
                                       "provider keys are configured (auth.jwt_keys)");
    } else {
        rc = tl_jwt_verify(r->srv->jwt, copy, tl_time_now_ms() / 1000, &r->who, err);
    }
    explicit_bzero(copy, len);
    free(copy);
    if (rc == 0 && (r->who.role & TL_ROLES_ALL) == 0)
        rc = tl_err_set(err, TL_EAUTH, "the credential grants no known role");
    if (rc < 0 && rc != TL_EAUTH && rc != TL_ENOMEM && rc != TL_ESTORE)
        rc = err->code = TL_EAUTH; /* a malformed token is a failed authentication */
    return rc;
}
