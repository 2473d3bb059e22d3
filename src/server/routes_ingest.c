/*
 * routes_ingest.c - POST /v1/ingest/{table}: the CLI's `teller ingest TABLE
 * FILE` over HTTP, with the same validation and the same all-or-nothing
 * rule, because it is the same call (tl_ingest_stream) on the spooled body.
 *
 * The 200 is sent only after the load committed and its audit row was
 * appended: an acknowledged ingest is in the store. Invalid data answers 422
 * with the message ingest gives (line, column, value) and leaves the store
 * exactly as it was. Loads run one at a time per server: each holds the
 * store's write lock for its whole transaction anyway.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* "body:17: column amount: ..." -> line 17, field "amount". */
static void locate(const char *msg, long *line, char field[64])
{
    *line = 0;
    field[0] = '\0';
    if (strncmp(msg, "body:", 5) != 0)
        return;
    char *end = NULL;
    long n = strtol(msg + 5, &end, 10);
    if (end == msg + 5 || *end != ':')
        return;
    *line = n;
    if (strncmp(end, ": column ", 9) != 0)
        return;
    const char *name = end + 9;
    size_t len = strcspn(name, ": ");
    if (len > 0 && len < 64) {
        memcpy(field, name, len);
        field[len] = '\0';
    }
}

static bool data_error(int rc)
{
    return rc == TL_EINVAL || rc == TL_EPARSE || rc == TL_ECONSTRAINT || rc == TL_ETOOBIG;
}

int srv_h_ingest(struct srv_req *r)
{
    const char *table = r->params[0];
    const struct tl_table_spec *t = tl_schema_table(table);
    if (!t || !t->ingestible)
        return srv_reply_error(r, MHD_HTTP_NOT_FOUND, "not_found", "table",
                               "no table \"%s\" to ingest into; see teller schema", table);
    struct tl_ingest_opts opts = {.table = t->name, .format = r->format, .quiet = true};
    struct tl_ingest_result res = {0};
    tl_err err = {0};
    pthread_mutex_lock(&r->srv->ingest_lock);
    int rc = tl_ingest_stream(tl_ctx_store(r->ctx), r->spool, "body", &opts, &res, &err);
    pthread_mutex_unlock(&r->srv->ingest_lock);
    if (rc < 0 && data_error(rc)) {
        long line;
        char field[64];
        locate(err.msg, &line, field);
        json_t *e = json_pack("{s:s, s:s}", "code", tl_errslug(rc), "message", err.msg);
        if (!e) /* the message quotes the body, which may not be UTF-8 */
            e = json_pack("{s:s, s:s}", "code", tl_errslug(rc), "message",
                          "the body holds invalid data (and the value is not valid UTF-8)");
        if (e && field[0])
            json_object_set_new(e, "field", json_string(field));
        if (e && line > 0)
            json_object_set_new(e, "line", json_integer(line));
        return srv_reply_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT, json_pack("{s:o*}", "error", e));
    }
    if (rc < 0)
        return srv_reply_tl(r, rc, &err, NULL);
    char details[160];
    snprintf(details, sizeof details, "{\"table\":\"%s\",\"rows_read\":%llu,\"rows_loaded\":%llu}",
             t->name, (unsigned long long)res.rows_read, (unsigned long long)res.rows_loaded);
    if (srv_audit(r, "ingest", NULL, details) < 0)
        return 0;
    return srv_reply_json(r, MHD_HTTP_OK,
                          json_pack("{s:s, s:I, s:I, s:f}", "table", t->name, "rows_read",
                                    (json_int_t)res.rows_read, "rows_loaded",
                                    (json_int_t)res.rows_loaded, "seconds", res.seconds));
}
