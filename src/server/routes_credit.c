/*
 * routes_credit.c - credit decisions over HTTP: score an application
 * (POST /v1/credit/score) or decide and store a new one
 * (POST /v1/applications), each journaled before it is answered.
 *
 * A decision's audit row carries the model version and the inputs digest
 * in their own columns (not only in details), so the row goes through the
 * audit writer like srv_audit's but with those two fields set. A decision
 * that could not be journaled is not answered.
 */
#include "server.h"

#include <teller/credit.h>

#include <stdlib.h>
#include <string.h>

/* The body as a JSON object; answers 400 and returns NULL when it is not. */
static json_t *body_object(struct srv_req *r)
{
    json_error_t je;
    json_t *app = r->body ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(app)) {
        json_decref(app);
        srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", NULL,
                        "the body must be a JSON object: the application");
        return NULL;
    }
    return app;
}

/* Journals decision d (model version, inputs digest, decision, PD, score,
 * reasons) and waits for the row. Returns 0, or -1 after answering. */
static int audit_decision(struct srv_req *r, const char *action, const char *customer_id,
                          const json_t *d)
{
    json_t *det = json_pack("{s:O,s:O,s:O,s:O}", "decision", json_object_get(d, "decision"), "pd",
                            json_object_get(d, "pd"), "score", json_object_get(d, "score"),
                            "reasons", json_object_get(d, "reasons"));
    if (det && json_object_get(d, "id"))
        json_object_set(det, "application", json_object_get(d, "id"));
    char *details = det ? json_dumps(det, JSON_COMPACT) : NULL;
    json_decref(det);
    if (!details) {
        srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
        return -1;
    }
    snprintf(r->audit_resource, sizeof r->audit_resource, "%s %s",
             srv_method_name(r->route->method), r->route->path);
    if (customer_id)
        snprintf(r->audit_customer, sizeof r->audit_customer, "%s", customer_id);
    r->audit_ev = (struct tl_audit_event){
        .actor = r->who.subject,
        .role = tl_role_name(r->who.role),
        .action = action,
        .resource = r->audit_resource,
        .customer_id = customer_id ? r->audit_customer : NULL,
        .request_id = r->request_id,
        .model_version = json_string_value(json_object_get(d, "model")),
        .inputs_digest = json_string_value(json_object_get(d, "inputs_digest")),
        .details = details,
    };
    int rc = srv_auditq_submit(r, true);
    r->audit_state = SRV_AUDIT_NONE;
    free(details);
    if (rc < 0) {
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "internal", NULL,
                        "the server is shutting down; try again (request id %s)", r->request_id);
        return -1;
    }
    if (r->audit_rc < 0) {
        srv_log(r, TL_LOG_ERROR, "credit decision not journaled: %s", r->audit_err.msg);
        srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL,
                        "the decision could not be journaled, so it is not given (request id %s)",
                        r->request_id);
        return -1;
    }
    return 0;
}

int srv_h_credit_score(struct srv_req *r)
{
    json_t *app = body_object(r);
    if (!app)
        return 0;
    tl_err err = {0};
    struct srv_model_ref *ref = NULL;
    json_t *d = NULL;
    int rc = srv_models_credit(r->srv, r->ctx, &ref, &err);
    if (rc == 0)
        rc = tl_credit_score_json(srv_model_credit(ref), app, &d, &err);
    srv_model_release(ref);
    json_decref(app);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    if (audit_decision(r, "credit.decision", NULL, d) < 0) {
        json_decref(d);
        return 0;
    }
    return srv_reply_json(r, MHD_HTTP_OK, d);
}

int srv_h_application_create(struct srv_req *r)
{
    json_t *app = body_object(r);
    if (!app)
        return 0;
    tl_err err = {0};
    struct srv_model_ref *ref = NULL;
    json_t *d = NULL;
    int rc = srv_models_credit(r->srv, r->ctx, &ref, &err);
    if (rc == 0)
        rc = tl_credit_apply(r->ctx, srv_model_credit(ref), app, &d, &err);
    srv_model_release(ref);
    char cust[SRV_PARAM_MAX] = "";
    const char *c = json_string_value(json_object_get(app, "customer_id"));
    if (c)
        snprintf(cust, sizeof cust, "%s", c);
    json_decref(app);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    if (audit_decision(r, "credit.application", cust[0] ? cust : NULL, d) < 0) {
        json_decref(d);
        return 0;
    }
    return srv_reply_json(r, MHD_HTTP_CREATED, d);
}
