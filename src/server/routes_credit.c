/*
 * routes_credit.c - credit decisions over HTTP: score an application
 * (POST /v1/credit/score) or decide and store a new one
 * (POST /v1/applications), each journaled before it is answered.
 *
 * A decision's audit row carries the model version and the inputs digest
 * in their own columns (srv_audit_decision), besides the decision, PD,
 * score and reasons in its details. A decision that could not be journaled
 * is not answered. Both score with the credit champion, loaded once and
 * shared between workers (models.c).
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
    int rc = srv_audit_decision(r, action, customer_id, details,
                                json_string_value(json_object_get(d, "model")),
                                json_string_value(json_object_get(d, "inputs_digest")));
    free(details);
    return rc;
}

/* Both routes: the body, the champion, then score (or decide and store),
 * journal, answer. */
static int decide(struct srv_req *r, bool store)
{
    json_t *app = body_object(r);
    if (!app)
        return 0;
    tl_err err = {0};
    struct srv_model_ref *ref = NULL;
    json_t *d = NULL;
    int rc = srv_models_credit(r->srv, r->ctx, &ref, &err);
    if (rc == 0)
        rc = store ? tl_credit_apply(r->ctx, srv_model_credit(ref), app, &d, &err)
                   : tl_credit_score_json(srv_model_credit(ref), app, &d, &err);
    srv_model_release(ref);
    char cust[SRV_PARAM_MAX] = "";
    const char *c = store ? json_string_value(json_object_get(app, "customer_id")) : NULL;
    if (c)
        snprintf(cust, sizeof cust, "%s", c);
    json_decref(app);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    if (audit_decision(r, store ? "credit.application" : "credit.decision", cust[0] ? cust : NULL,
                       d) < 0) {
        json_decref(d);
        return 0;
    }
    return srv_reply_json(r, store ? MHD_HTTP_CREATED : MHD_HTTP_OK, d);
}

int srv_h_credit_score(struct srv_req *r)
{
    return decide(r, false);
}

int srv_h_application_create(struct srv_req *r)
{
    return decide(r, true);
}
