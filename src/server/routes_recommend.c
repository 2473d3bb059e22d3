/*
 * routes_recommend.c - recommendations over HTTP:
 * GET /v1/customers/{id}/recommendations?k=5 (the customer's next-best
 * products under the rules, each with a reason; stored and journaled as
 * recommendation.serve with the model version and inputs digest before it
 * is answered) and POST /v1/interactions (what a customer did with a
 * product: shown, viewed, clicked, applied, bought, dismissed; stored at
 * once, so a dismissed product is gone from the next list, and read by the
 * next `teller recommend train`).
 *
 * Roles: a list is customer data, for the customer itself and analysts.
 * Interactions are written by the bank's channels (service) and by the
 * customer's own app (customer, for its own id only: another id answers 404
 * as every customer-scoped route does); analysts read, they do not record
 * what customers did.
 */
#include "server.h"

#include <teller/datetime.h>
#include <teller/recommend.h>

#include <stdlib.h>
#include <string.h>

int srv_h_customer_recommendations(struct srv_req *r)
{
    int k = 5;
    const char *ks = srv_query(r, "k");
    if (ks) {
        char *end;
        long v = strtol(ks, &end, 10);
        if (end == ks || *end || v < 1 || v > TL_RECOMMEND_MAX_K)
            return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "k",
                                   "k \"%s\": must be an integer in [1, %d]", ks,
                                   TL_RECOMMEND_MAX_K);
        k = (int)v;
    }
    struct tl_recommend_list *l = malloc(sizeof *l);
    if (!l)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    tl_err err = {0};
    int rc = tl_recommend(r->ctx, r->params[0], k, l, &err);
    if (rc < 0) {
        free(l);
        return srv_reply_tl(r, rc, &err, NULL);
    }
    char *details = tl_recommend_audit_details(l);
    if (!details) {
        free(l);
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    }
    rc = srv_audit_decision(r, "recommendation.serve", l->customer_id, details, l->model,
                            l->inputs_digest);
    free(details);
    if (rc < 0) {
        free(l);
        return 0;
    }
    json_t *out = tl_recommend_list_json(l);
    free(l);
    return srv_reply_json(r, MHD_HTTP_OK, out);
}

static const struct srv_field INTERACTION_BODY[] = {
    {"customer_id", JSON_STRING, true}, {"product_id", JSON_STRING, true},
    {"event", JSON_STRING, true},       {"channel", JSON_STRING, false},
    {"ts", JSON_STRING, false},         {NULL, JSON_NULL, false},
};

int srv_h_interaction_create(struct srv_req *r)
{
    json_t *body = NULL;
    if (srv_json_body(r, INTERACTION_BODY, &body) < 0)
        return 0;
    const char *cs = json_string_value(json_object_get(body, "customer_id"));
    if (strlen(cs) >= SRV_PARAM_MAX) {
        json_decref(body);
        return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "customer_id",
                               "customer_id: longer than %d bytes", SRV_PARAM_MAX - 1);
    }
    char cust[SRV_PARAM_MAX];
    snprintf(cust, sizeof cust, "%s", cs);
    /* a customer records only its own: another id looks like one that does
     * not exist, so ids cannot be probed */
    if (r->who.role == TL_ROLE_CUSTOMER && strcmp(cust, r->who.customer_id) != 0) {
        json_decref(body);
        return srv_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "customer_id",
                               "customer %s: not found", cust);
    }
    tl_err err = {0};
    int64_t ts = 0;
    const char *tss = json_string_value(json_object_get(body, "ts"));
    if (tss && tl_time_parse(tss, strlen(tss), &ts, &err) < 0) {
        json_decref(body);
        return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "ts",
                               "ts \"%s\": not an ISO 8601 instant", tss);
    }
    struct tl_recommend_event ev = {
        .customer_id = cust,
        .product_id = json_string_value(json_object_get(body, "product_id")),
        .event = json_string_value(json_object_get(body, "event")),
        .channel = json_string_value(json_object_get(body, "channel")),
        .ts_ms = ts,
    };
    char id[40] = "";
    int rc = tl_recommend_record(r->ctx, &ev, id, &err);
    if (rc < 0) {
        const char *field = NULL;
        if (rc == TL_EINVAL || rc == TL_ENOTFOUND)
            field = strncmp(err.msg, "customer", 8) == 0   ? "customer_id"
                    : strncmp(err.msg, "product", 7) == 0  ? "product_id"
                    : strncmp(err.msg, "event", 5) == 0    ? "event"
                    : strncmp(err.msg, "channel", 7) == 0  ? "channel"
                    : strncmp(err.msg, "ts", 2) == 0       ? "ts"
                                                           : NULL;
        json_decref(body);
        return srv_reply_tl(r, rc, &err, field);
    }
    const char *stored = strcmp(ev.event, "shown") == 0 ? "viewed" : ev.event;
    char when[40] = "";
    tl_time_format(ts ? ts : tl_time_now_ms(), when, sizeof when);
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "customer_id", cust, "product_id",
                            ev.product_id, "event", stored, "ts", when);
    char details[200];
    snprintf(details, sizeof details, "{\"id\":\"%s\",\"product_id\":\"%s\",\"event\":\"%s\"}", id,
             ev.product_id, stored);
    json_decref(body); /* ev's strings die with it; cust is a copy */
    if (srv_audit(r, "interaction.record", cust, details) < 0) {
        json_decref(out);
        return 0;
    }
    return srv_reply_json(r, MHD_HTTP_CREATED, out);
}
