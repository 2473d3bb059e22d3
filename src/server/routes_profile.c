/*
 * routes_profile.c - customer 360 and segments over HTTP:
 * GET /v1/customers/{id}/profile (the customer's profile, refreshed with
 * what arrived since the last refresh; a customer principal reaches only
 * its own id) and GET /v1/segments (the stored segmentation, for analysts;
 * ?model=ID for one other than the champion).
 *
 * A profile is customer data: it is answered once its audit row
 * (profile.read) is committed. Segments describe groups, not anyone.
 */
#include "server.h"

#include <teller/profile.h>
#include <teller/segment.h>

#include <stdlib.h>

int srv_h_customer_profile(struct srv_req *r)
{
    struct tl_profile *p = malloc(sizeof *p);
    if (!p)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    tl_err err = {0};
    int rc = tl_profile_get(r->ctx, r->params[0], p, &err);
    if (rc < 0) {
        free(p);
        return srv_reply_tl(r, rc, &err, NULL);
    }
    json_t *out = tl_profile_json(p);
    free(p);
    if (r->route->audit)
        return srv_audit_reply(r, r->route->audit, r->params[0], out);
    return srv_reply_json(r, MHD_HTTP_OK, out);
}

int srv_h_segments(struct srv_req *r)
{
    tl_err err = {0};
    json_t *out = NULL;
    const char *model = srv_query(r, "model");
    int rc = tl_segment_list(r->ctx, model, &out, &err);
    /* no segmentation yet is an empty list, not a missing resource: the
     * collection exists from the start (an unknown ?model= stays a 404) */
    if (rc == TL_ENOTFOUND && !model)
        return srv_reply_json(r, MHD_HTTP_OK,
                              json_pack("{s:n,s:[],s:s}", "model", "segments", "note",
                                        "no segmentation fitted yet: run `teller segments`"));
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, rc == TL_EINVAL ? "model" : NULL);
    return srv_reply_json(r, MHD_HTTP_OK, out);
}
