/*
 * routes_admin.c - the admin's routes: API keys (list, create, revoke) and
 * the effective configuration. Key changes are audited; a key's secret is
 * shown once, in the answer to its creation, and never logged.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

static json_t *time_or_null(int64_t ms)
{
    char buf[32];
    if (ms == 0 || tl_time_format(ms, buf, sizeof buf) < 0)
        return json_null();
    return json_string(buf);
}

static int on_key(void *ud, const struct tl_key_info *k)
{
    json_t *items = ud;
    json_t *o = json_pack("{s:s, s:s?, s:s, s:s?, s:o, s:o, s:o}", "id", k->id, "name", k->name, "role",
                          tl_role_name(k->role), "customer_id", k->customer_id, "created_at",
                          time_or_null(k->created_ms), "expires_at", time_or_null(k->expires_ms),
                          "revoked_at", time_or_null(k->revoked_ms));
    return o && json_array_append_new(items, o) == 0 ? 0 : -1;
}

int srv_h_keys_list(struct srv_req *r)
{
    json_t *items = json_array();
    if (!items)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    tl_err err = {0};
    int rc = tl_auth_key_list(r->ctx, on_key, items, &err);
    if (rc < 0) {
        json_decref(items);
        return srv_reply_tl(r, rc, &err, NULL);
    }
    return srv_reply_json(r, MHD_HTTP_OK, json_pack("{s:o}", "items", items));
}

static const struct srv_field KEY_CREATE[] = {
    {"role", JSON_STRING, true},
    {"customer_id", JSON_STRING, false},
    {"name", JSON_STRING, false},
    {"expires_at", JSON_STRING, false},
    {NULL, JSON_NULL, false},
};

int srv_h_key_create(struct srv_req *r)
{
    json_t *body = NULL;
    if (srv_json_body(r, KEY_CREATE, &body) < 0)
        return 0;
    const char *role_s = json_string_value(json_object_get(body, "role"));
    const char *customer_id = json_string_value(json_object_get(body, "customer_id"));
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *expires = json_string_value(json_object_get(body, "expires_at"));
    int rc = 0;
    enum tl_role role = tl_role_parse(role_s);
    int64_t expires_ms = 0;
    tl_err err = {0};
    if (role == TL_ROLE_NONE) {
        rc = srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "role",
                             "role must be customer, analyst, service or admin");
        goto out;
    }
    if ((role == TL_ROLE_CUSTOMER) != (customer_id != NULL)) {
        rc = srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "customer_id",
                             "customer_id is required with the customer role, and only with it");
        goto out;
    }
    if (expires && tl_time_parse(expires, strlen(expires), &expires_ms, &err) < 0) {
        rc = srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "expires_at", "expires_at: %s", err.msg);
        goto out;
    }
    if (expires && expires_ms <= tl_time_now_ms()) {
        rc = srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "expires_at", "expires_at is in the past");
        goto out;
    }
    char *secret = NULL;
    char id[33] = "";
    rc = tl_auth_key_create(r->ctx, role, customer_id, name, expires_ms, &secret, id, &err);
    if (rc < 0) {
        /* the one reference a key creation can miss is its customer */
        if (rc == TL_ENOTFOUND || rc == TL_ECONSTRAINT)
            rc = srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "not_found", "customer_id", "%s",
                                 err.msg);
        else
            rc = srv_reply_tl(r, rc, &err, rc == TL_EINVAL ? "name" : NULL);
        goto out;
    }
    char details[96];
    snprintf(details, sizeof details, "{\"key_id\":\"%s\",\"role\":\"%s\"}", id, tl_role_name(role));
    if (srv_audit(r, "key.create", customer_id, details) == 0)
        rc = srv_reply_json(r, MHD_HTTP_CREATED,
                            json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:o}", "id", id, "key", secret, "role",
                                      tl_role_name(role), "customer_id", customer_id, "name", name,
                                      "expires_at", time_or_null(expires_ms)));
    explicit_bzero(secret, strlen(secret));
    free(secret);
out:
    json_decref(body);
    return rc < 0 ? rc : 0;
}

int srv_h_key_revoke(struct srv_req *r)
{
    tl_err err = {0};
    int rc = tl_auth_key_revoke(r->ctx, r->params[0], &err);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    srv_keycache_clear(r->srv->keycache); /* refused from the next request on */
    char details[96];
    snprintf(details, sizeof details, "{\"key_id\":\"%s\"}", r->params[0]);
    if (srv_audit(r, "key.revoke", NULL, details) < 0)
        return 0;
    return srv_reply_json(r, MHD_HTTP_NO_CONTENT, NULL);
}

/* A value shown to an admin: secrets never, passwords in URLs masked. */
static json_t *redacted(const char *key, const char *value)
{
    static const char *const secret_words[] = {"secret", "password", "token", "passphrase"};
    for (size_t i = 0; i < sizeof secret_words / sizeof secret_words[0]; i++)
        if (strstr(key, secret_words[i]))
            return json_string(value && *value ? "***" : "");
    if (!value)
        return json_null();
    /* scheme://user:password@host... -> scheme://user:***@host... */
    const char *scheme = strstr(value, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (at && colon && colon < at && (!slash || at < slash)) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s***%s", (int)(colon + 1 - value), value, at);
        return json_string(buf);
    }
    if (strstr(value, "password="))
        return json_string("*** (holds a password)");
    return json_string(value);
}

int srv_h_config(struct srv_req *r)
{
    static const char *const sources[] = {"default", "file", "env", "flag"};
    const tl_config *cfg = r->srv->cfg;
    json_t *items = json_array();
    for (size_t i = 0; items && i < tl_config_count(cfg); i++) {
        const char *key = tl_config_key_at(cfg, i);
        int src = tl_config_source_of(cfg, key);
        json_array_append_new(items, json_pack("{s:s, s:o*, s:s}", "key", key, "value",
                                               redacted(key, tl_config_get(cfg, key)), "source",
                                               src >= 0 && src <= 3 ? sources[src] : "?"));
    }
    return srv_reply_json(r, MHD_HTTP_OK, json_pack("{s:o*}", "items", items));
}
