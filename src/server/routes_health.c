/*
 * routes_health.c - the public routes: what the server is, whether it lives,
 * whether it is ready, and its metrics. None needs a token, none reads
 * customer data, and /healthz touches nothing at all: it must answer even
 * when the store does not.
 */
#include "server.h"

#include <stdlib.h>

int srv_h_index(struct srv_req *r)
{
    json_t *routes = json_array();
    for (size_t i = 0; routes && i < srv_n_routes; i++)
        json_array_append_new(routes, json_pack("{s:s, s:s, s:s}", "method",
                                                srv_method_name(srv_routes[i].method), "path",
                                                srv_routes[i].path, "summary", srv_routes[i].summary));
    json_t *body = json_pack("{s:s, s:s, s:s, s:o*}", "name", "teller", "version", TL_VERSION, "docs",
                             "docs/http.md and docs/openapi.yaml in the source tree", "routes", routes);
    return srv_reply_json(r, MHD_HTTP_OK, body);
}

int srv_h_healthz(struct srv_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    return srv_reply_text(r, MHD_HTTP_OK, "application/json", ok, sizeof ok - 1);
}

int srv_h_readyz(struct srv_req *r)
{
    tl_err err = {0};
    tl_ctx *ctx = srv_thread_ctx(r->srv, &err);
    int version = -1;
    if (!ctx) {
        srv_log(r, TL_LOG_WARN, "not ready: %s", err.msg);
        return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store", NULL, "the store is unreachable");
    }
    r->ctx = ctx;
    int rc = tl_store_schema_version(tl_ctx_store(ctx), &version, &err);
    if (rc < 0) {
        r->store_failed = true;
        srv_metrics_count(r->srv->metrics, SRV_STORE_ERRORS);
        srv_log(r, TL_LOG_WARN, "not ready: %s", err.msg);
        return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store", NULL, "the store is unreachable");
    }
    int latest = tl_store_latest_version();
    if (version != latest)
        return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store", NULL,
                               "the store's schema is at version %d; this build needs %d (run teller init)",
                               version, latest);
    return srv_reply_json(r, MHD_HTTP_OK,
                          json_pack("{s:s, s:s, s:i}", "status", "ready", "store",
                                    tl_store_backend(tl_ctx_store(ctx)), "schema_version", version));
}

int srv_h_metrics(struct srv_req *r)
{
    size_t len = 0;
    char *text = srv_metrics_render(r->srv->metrics, atomic_load(&r->srv->in_flight), &len);
    if (!text)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    int rc = srv_reply_text(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return rc;
}
