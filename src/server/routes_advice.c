/*
 * routes_advice.c - robo-advice over HTTP: assess a customer's risk profile
 * (POST /v1/customers/{id}/risk-profile) and give advice
 * (POST /v1/customers/{id}/advice). Both store their result and journal it
 * (risk_profile.assess, advice.give) with the model version and inputs
 * digest before answering: advice that could not be journaled is not given.
 * A customer principal reaches only its own id (the route's scope).
 */
#include "server.h"

#include <teller/advisor.h>

#include <stdlib.h>
#include <string.h>

static const struct srv_field PROFILE_BODY[] = {
    {"answers", JSON_OBJECT, true},
    {NULL, JSON_NULL, false},
};

static const struct srv_field ADVICE_BODY[] = {
    {"answers", JSON_OBJECT, false},  {"amount", JSON_STRING, false},
    {"monthly", JSON_STRING, false},  {"goal", JSON_STRING, false},
    {"by", JSON_STRING, false},       {"currency", JSON_STRING, false},
    {"method", JSON_STRING, false},   {NULL, JSON_NULL, false},
};

/* Journals a profile or advice and waits for the row. Returns 0, or -1
 * after answering. */
static int journal(struct srv_req *r, const char *action, const json_t *res)
{
    char *details = tl_advice_audit_details(res);
    if (!details) {
        srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
        return -1;
    }
    int rc = srv_audit_decision(r, action, r->params[0], details,
                                json_string_value(json_object_get(res, "model")),
                                json_string_value(json_object_get(res, "inputs_digest")));
    free(details);
    return rc;
}

int srv_h_customer_risk_profile(struct srv_req *r)
{
    json_t *body = NULL;
    if (srv_json_body(r, PROFILE_BODY, &body) < 0)
        return 0;
    tl_err err = {0};
    json_t *p = NULL;
    int rc = tl_advice_assess(r->ctx, r->params[0], json_object_get(body, "answers"), &p, &err);
    json_decref(body);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, rc == TL_EINVAL ? "answers" : NULL);
    if (journal(r, "risk_profile.assess", p) < 0) {
        json_decref(p);
        return 0;
    }
    return srv_reply_json(r, MHD_HTTP_CREATED, p);
}

int srv_h_customer_advice(struct srv_req *r)
{
    json_t *body = NULL;
    if (srv_json_body(r, ADVICE_BODY, &body) < 0)
        return 0;
    tl_err err = {0};
    json_t *a = NULL;
    bool assessed = json_object_get(body, "answers") != NULL;
    int rc = tl_advice_give(r->ctx, r->params[0], body, &a, &err);
    json_decref(body);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    if ((assessed && journal(r, "risk_profile.assess", json_object_get(a, "profile")) < 0) ||
        journal(r, "advice.give", a) < 0) {
        json_decref(a);
        return 0;
    }
    return srv_reply_json(r, MHD_HTTP_CREATED, a);
}
