/*
 * routes_fraud.c - fraud over HTTP: decide a card payment as it arrives
 * (POST /v1/transactions), the alert queue analysts work (GET /v1/alerts,
 * GET /v1/alerts/{id}) and their findings (POST /v1/alerts/{id}/resolve),
 * which label the payments for the next training and for the live engine.
 *
 * A payment is decided by the one live engine (fraud.c) and stored with its
 * decision under the engine's lock, then journaled ("fraud.decide", with
 * the model version and the inputs digest) before it is answered: 201 with
 * the decision, "stored" and "alert". A payment sent again is answered with
 * the stored decision (200, "duplicate": true), never a second alert; the
 * same id with another account, time or amount is a 409. A card the bank
 * does not know is still decided, as a new card, and answered 200 with
 * "stored": false. Every answer is journaled, reads included.
 */
#include "server.h"

#include <teller/fraud.h>
#include <teller/fraud_alerts.h>
#include <teller/log.h>
#include <teller/profile.h>

#include <stdlib.h>
#include <string.h>

#define ALERTS_LIMIT_MAX 10000

/* The member an error message names as `transaction: "member" ...` (how
 * tl_fraud_tx_from_json and the store checks word them), for the error's
 * field; NULL when it names none. */
static const char *field_of(const tl_err *err, char *buf, size_t size)
{
    const char *p = strstr(err->msg, ": \"");
    if (!p) {
        /* the engine's clock and lateness checks: "transaction X: ts ..." */
        if (strstr(err->msg, ": ts ") && size > 2) {
            memcpy(buf, "ts", 3);
            return buf;
        }
        return NULL;
    }
    p += 3;
    const char *q = strchr(p, '"');
    if (!q || q == p || (size_t)(q - p) >= size)
        return NULL;
    for (const char *c = p; c < q; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '_'))
            return NULL;
    memcpy(buf, p, (size_t)(q - p));
    buf[q - p] = '\0';
    return buf;
}

static int reply_invalid(struct srv_req *r, const tl_err *err)
{
    char field[40];
    return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", field_of(err, field, sizeof field),
                           "%s", err->msg);
}

/* Journals the answer d about payment tx_id (a decision, or a duplicate's
 * stored decision) and waits for its row. Returns 0, or -1 after
 * answering. */
static int audit_answer(struct srv_req *r, const char *action, const char *customer_id,
                        const json_t *d, const char *model, const char *digest)
{
    const json_t *alert = json_object_get(d, "alert");
    json_t *det = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "transaction",
                            json_object_get(d, "transaction_id"), "decision",
                            json_object_get(d, "decision"), "score", json_object_get(d, "score"),
                            "reasons", json_object_get(d, "reasons"), "stored",
                            json_object_get(d, "stored"), "alert",
                            json_is_object(alert) ? json_object_get(alert, "id") : json_null());
    char *details = det ? json_dumps(det, JSON_COMPACT) : NULL;
    json_decref(det);
    if (!details) {
        srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
        return -1;
    }
    int rc = srv_audit_decision(r, action, customer_id, details, model, digest);
    free(details);
    return rc;
}

/* The stored decision of tx->id when it has one: 1 with *out set when tx
 * is that same payment, 0 when the id has no decision stored, or -1 after
 * answering (409 for another payment under the id, or an error). */
static int stored_answer(struct srv_req *r, const struct tl_fraud_tx *tx, json_t **out)
{
    tl_err err = {0};
    json_t *d = NULL;
    int rc = tl_fraud_stored_decision(r->ctx, tx->id, &d, &err);
    if (rc == TL_ENOTFOUND)
        return 0;
    if (rc < 0) {
        srv_reply_tl(r, rc, &err, NULL);
        return -1;
    }
    /* recording it again writes nothing: it only compares */
    rc = tl_fraud_record(r->ctx, tx, d, NULL, &err);
    if (rc == TL_EEXISTS) {
        *out = d;
        return 1;
    }
    json_decref(d);
    if (rc == TL_ECONSTRAINT)
        srv_reply_error(r, MHD_HTTP_CONFLICT, "conflict", "id", "%s", err.msg);
    else
        srv_reply_tl(r, rc == 0 ? TL_EINTERNAL : rc, &err, NULL);
    return -1;
}

/* Folds a stored payment into its customer's profile (profile.h), after the
 * fraud engine is released: a profile that cannot be updated now is folded
 * by the next refresh, which reads everything past its watermark, so a
 * failure is logged and the answer stands. */
static void observe_profile(struct srv_req *r, const struct tl_fraud_tx *tx)
{
    struct tl_profile_tx p = {.id = tx->id,
                              .account_id = tx->card_id,
                              .ts_ms = tx->ts_ms,
                              .amount_minor = -tx->amount_minor,
                              .currency = tx->currency,
                              .kind = "card",
                              .channel = tx->channel,
                              .mcc = tx->mcc,
                              .country = tx->country};
    tl_err err = {0};
    bool folded = false;
    if (tl_profile_observe(r->ctx, &p, &folded, &err) < 0)
        tl_log(TL_LOG_WARN, "profile", "transaction %s not folded into its profile now: %s",
               tx->id, err.msg);
}

int srv_h_transaction_create(struct srv_req *r)
{
    json_error_t je;
    json_t *body = r->body ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", NULL,
                               "the body must be a JSON object: the card transaction");
    }
    tl_err err = {0};
    struct tl_fraud_tx tx;
    char cust[65] = "", home[3] = "";
    int rc = tl_fraud_tx_from_json(body, &tx, &err);
    if (rc == 0)
        rc = tl_fraud_enrich(r->ctx, &tx, cust, home, &err);
    bool known = rc == 0;
    if (rc == TL_EINVAL) {
        reply_invalid(r, &err);
        goto out;
    }
    if (rc < 0 && rc != TL_ENOTFOUND) {
        srv_reply_tl(r, rc, &err, NULL);
        goto out;
    }
    char card_text[200];
    snprintf(card_text, sizeof card_text, "card %.64s is unknown to the bank: decided as a new "
             "card, not stored", tx.card_id);
    tl_err_clear(&err);
    json_t *d = NULL;
    if (known) {
        int s = stored_answer(r, &tx, &d);
        if (s < 0)
            goto out;
        if (s == 1) {
            json_object_set_new(d, "stored", json_true());
            if (audit_answer(r, "fraud.duplicate", cust, d,
                             json_string_value(json_object_get(d, "model")), NULL) == 0)
                srv_reply_json(r, MHD_HTTP_OK, d);
            else
                json_decref(d);
            goto out;
        }
    }

    tl_fraud_engine *engine = NULL;
    rc = srv_fraud_acquire(r->srv->fraud, r->ctx, &engine, &err);
    if (rc == TL_ENOTFOUND) {
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no_model", NULL,
                        "no fraud model is champion: run `teller fraud train` to train and "
                        "register one");
        goto out;
    }
    if (rc < 0) {
        srv_reply_tl(r, rc, &err, NULL);
        goto out;
    }
    struct tl_fraud_decision dec;
    rc = tl_fraud_decide(engine, &tx, &dec, &err);
    if (rc == 0 && !(d = tl_fraud_decision_json(engine, &tx, &dec)))
        rc = tl_err_set(&err, TL_ENOMEM, "out of memory");
    json_t *rec = NULL;
    unsigned status = MHD_HTTP_CREATED;
    if (rc == 0 && known) {
        rc = tl_fraud_record(r->ctx, &tx, d, &rec, &err);
        if (rc == TL_EEXISTS) {
            /* loaded by ingest without a decision: this one is not stored */
            rc = 0;
            status = MHD_HTTP_OK;
            json_object_set_new(d, "duplicate", json_true());
            rec = json_pack("{s:b, s:n}", "stored", 1, "alert");
        }
    }
    srv_fraud_release(r->srv->fraud);
    if (rc == TL_ECONSTRAINT) {
        srv_reply_error(r, MHD_HTTP_CONFLICT, "conflict", "id", "%s", err.msg);
        json_decref(d);
        goto out;
    }
    if (rc == TL_EINVAL) {
        /* the engine's checks: the clock, lateness, the amount's range */
        reply_invalid(r, &err);
        json_decref(d);
        goto out;
    }
    if (rc < 0) {
        srv_reply_tl(r, rc, &err, NULL);
        json_decref(d);
        goto out;
    }
    if (known) {
        json_object_update(d, rec);
        json_decref(rec);
    } else {
        status = MHD_HTTP_OK;
        json_object_set_new(d, "stored", json_false());
        json_object_set_new(d, "alert", json_null());
        json_t *reasons = json_object_get(d, "reasons");
        if (json_is_array(reasons))
            json_array_append_new(reasons, json_pack("{s:s, s:s}", "kind", "unknown_card", "text",
                                                     card_text));
    }
    if (audit_answer(r, "fraud.decide", cust[0] ? cust : NULL, d,
                     json_string_value(json_object_get(d, "model")), dec.inputs_digest) < 0) {
        json_decref(d);
        goto out;
    }
    srv_reply_json(r, status, d);
    if (known && status == MHD_HTTP_CREATED)
        observe_profile(r, &tx);
out:
    json_decref(body);
    return 0;
}

/* ---- the alert queue ----------------------------------------------------------- */

int srv_h_alerts_list(struct srv_req *r)
{
    int64_t capacity = 100;
    tl_err err = {0};
    if (tl_config_get_int(r->srv->cfg, "fraud.analyst_capacity", &capacity, &err) < 0 ||
        capacity < 1)
        capacity = 100;
    if (capacity > ALERTS_LIMIT_MAX)
        capacity = ALERTS_LIMIT_MAX;
    size_t limit = (size_t)capacity;
    const char *l = srv_query(r, "limit");
    if (l) {
        char *end = NULL;
        unsigned long long v = (*l >= '0' && *l <= '9') ? strtoull(l, &end, 10) : 0;
        if (!end || *end || v < 1 || v > ALERTS_LIMIT_MAX)
            return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "limit",
                                   "limit must be an integer from 1 to %d", ALERTS_LIMIT_MAX);
        limit = (size_t)v;
    }
    const char *status = srv_query(r, "status");
    json_t *items = NULL;
    int rc = tl_fraud_alerts_list(r->ctx, status, limit, &items, &err);
    if (rc == TL_EINVAL)
        return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", "status", "%s", err.msg);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    json_t *out = json_pack("{s:o, s:s, s:I}", "items", items, "status", status ? status : "open",
                            "limit", (json_int_t)limit);
    if (!out)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL,
                               "out of memory");
    return srv_audit_reply(r, r->route->audit, NULL, out);
}

int srv_h_alert_get(struct srv_req *r)
{
    tl_err err = {0};
    json_t *a = NULL;
    int rc = tl_fraud_alert_get(r->ctx, r->params[0], &a, &err);
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    char cust[SRV_PARAM_MAX] = "";
    const char *c = json_string_value(json_object_get(a, "customer_id"));
    if (c)
        snprintf(cust, sizeof cust, "%s", c);
    return srv_audit_reply(r, r->route->audit, cust[0] ? cust : NULL, a);
}

int srv_h_alert_resolve(struct srv_req *r)
{
    static const struct srv_field fields[] = {
        {"outcome", JSON_STRING, true},
        {"note", JSON_STRING, false},
        {NULL, 0, false},
    };
    json_t *body = NULL;
    if (srv_json_body(r, fields, &body) < 0)
        return 0;
    const char *outcome = json_string_value(json_object_get(body, "outcome"));
    const char *note = json_string_value(json_object_get(body, "note"));
    tl_err err = {0};
    json_t *a = NULL;
    int rc = tl_fraud_alert_resolve(r->ctx, r->params[0], outcome, r->who.subject, note, &a, &err);
    int label = outcome && strcmp(outcome, "fraud") == 0 ? 1 : 0;
    char outcome_s[16];
    snprintf(outcome_s, sizeof outcome_s, "%s", label ? "fraud" : "genuine");
    if (rc < 0) {
        if (rc == TL_ECONSTRAINT)
            srv_reply_error(r, MHD_HTTP_CONFLICT, "conflict", NULL, "%s", err.msg);
        else
            srv_reply_tl(r, rc, &err,
                         rc == TL_EINVAL ? (strstr(err.msg, "note") ? "note" : "outcome") : NULL);
        json_decref(body);
        return 0;
    }
    json_decref(body);
    /* the live engine learns the labels now: later payments at these
     * terminals count them once the label delay has passed */
    size_t n_labelled = 0;
    tl_fraud_engine *engine = NULL;
    tl_err e2 = {0};
    if (srv_fraud_acquire(r->srv->fraud, r->ctx, &engine, &e2) == 0) {
        tl_stream *st = tl_fraud_engine_stream(engine);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(a, "transactions"), i, t)
        {
            tl_err e3 = {0};
            /* TL_ENOTFOUND: past the horizon, or never seen by this engine */
            if (tl_stream_label(st, json_string_value(json_object_get(t, "id")),
                                label, &e3) == 0)
                n_labelled++;
        }
        srv_fraud_release(r->srv->fraud);
    }
    json_object_set_new(a, "labelled_live", json_integer((json_int_t)n_labelled));
    char details[256];
    snprintf(details, sizeof details,
             "{\"alert\":\"%s\",\"outcome\":\"%s\",\"transactions\":%zu,\"labelled_live\":%zu}",
             r->params[0], outcome_s, json_array_size(json_object_get(a, "transactions")),
             n_labelled);
    char cust[SRV_PARAM_MAX] = "";
    const char *c = json_string_value(json_object_get(a, "customer_id"));
    if (c)
        snprintf(cust, sizeof cust, "%s", c);
    if (srv_audit(r, "alert.resolve", cust[0] ? cust : NULL, details) < 0) {
        json_decref(a);
        return 0;
    }
    return srv_reply_json(r, MHD_HTTP_OK, a);
}
