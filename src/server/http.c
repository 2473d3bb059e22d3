/*
 * http.c - one request, from its headers to its access log line.
 *
 * libmicrohttpd calls srv_on_request first when the headers are in, then
 * once per piece of body, then a last time with nothing left to read. The
 * first call decides everything that does not need the body: the route
 * (404, 405), the caller (401), the role (403), another customer's id (404),
 * the rate (429), the query parameters and the content type (400, 415), the
 * announced size (413). A refusal is answered at once when a body is on its
 * way (libmicrohttpd then skips the body and closes the connection), else on
 * the last call, which keeps the connection alive. Body pieces go to a
 * bounded buffer (JSON) or an unlinked temp file (ingest); the last call
 * runs the handler, which answers exactly once.
 *
 * Every answer carries X-Request-Id (the client's, when it is a sane token,
 * else BOOT-SEQUENCE) and Cache-Control: no-store; errors are
 * {"error":{"code","message","field"}}. Internal failures answer without
 * their details, which go to the log under the request id.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Deepest JSON nesting a body may have: far above any schema here, far below
 * what could hurt a recursive parser. */
#define MAX_JSON_DEPTH 32
/* JSON bodies are small documents; ingest bodies may reach max_body_bytes. */
#define MAX_JSON_BODY (1u << 20)
/* Bytes of an over-limit body read and dropped before we stop listening. */
#define MAX_DISCARD_FACTOR 4

/* ---- small helpers ------------------------------------------------------- */

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

static void set_request_id(struct srv_req *r, struct MHD_Connection *conn)
{
    const char *in = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = in ? strlen(in) : 0;
    bool sane = n > 0 && n < sizeof r->request_id;
    for (size_t i = 0; sane && i < n; i++)
        sane = token_char(in[i]);
    if (sane) {
        memcpy(r->request_id, in, n + 1);
        return;
    }
    uint64_t seq = atomic_fetch_add_explicit(&r->srv->seq, 1, memory_order_relaxed);
    snprintf(r->request_id, sizeof r->request_id, "%s-%012" PRIx64, r->srv->boot_id, seq);
}

const char *srv_header(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *srv_query(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

unsigned srv_status_of(int rc)
{
    switch (rc) {
    case TL_EINVAL:
    case TL_EPARSE:
    case TL_EUNSUPPORTED:
        return MHD_HTTP_BAD_REQUEST;
    case TL_ENOTFOUND:
        return MHD_HTTP_NOT_FOUND;
    case TL_EAUTH:
        return MHD_HTTP_UNAUTHORIZED;
    case TL_EFORBIDDEN:
        return MHD_HTTP_FORBIDDEN;
    case TL_ERATELIMIT:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case TL_ETOOBIG:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case TL_EEXISTS:
        return MHD_HTTP_CONFLICT;
    case TL_ECONSTRAINT:
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    case TL_ECANCELED:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* ---- logging ----------------------------------------------------------- */

/* Writes obj as one log line on stderr, with one write(2) so threads never
 * interleave, in the shape of tl_log's lines plus the request's fields. */
static void write_line(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(obj);
    if (!s)
        return;
    size_t n = strlen(s);
    s[n] = '\n'; /* replaces the NUL: written by length from here on */
    const char *p = s;
    size_t left = n + 1;
    while (left > 0) {
        ssize_t w = write(STDERR_FILENO, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    free(s);
}

static json_t *line_head(enum tl_log_level level, const char *msg)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char ts[32];
    if (tl_time_format(tl_time_now_ms(), ts, sizeof ts) < 0)
        ts[0] = '\0';
    if (strlen(ts) == 20) /* a whole second: keep the fixed width of tl_log */
        memcpy(ts + 19, ".000Z", 6);
    /* messages quote input, which may not be UTF-8: never let that lose the line */
    json_t *m = json_string(msg);
    if (!m) {
        char safe[TL_ERR_MSG_SIZE + 64];
        size_t i = 0;
        for (; msg[i] && i + 1 < sizeof safe; i++)
            safe[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
        safe[i] = '\0';
        m = json_string(safe);
    }
    return json_pack("{s:s, s:s, s:s, s:o*}", "ts", ts, "level", names[level], "module", "http", "msg",
                     m);
}

void srv_log(struct srv_req *r, enum tl_log_level level, const char *fmt, ...)
{
    if (level < tl_log_get_level() || level >= TL_LOG_OFF)
        return;
    char raw[TL_ERR_MSG_SIZE + 64], msg[TL_ERR_MSG_SIZE + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* messages quote library errors, which may quote data: mask like tl_log */
    if (!r || !r->srv->masker || tl_masker_mask_buf(r->srv->masker, raw, strlen(raw), msg, sizeof msg) == 0)
        snprintf(msg, sizeof msg, "%s", raw);
    json_t *o = line_head(level, msg);
    if (o && r)
        json_object_set_new(o, "request_id", json_string(r->request_id));
    if (o)
        write_line(o);
}

/* The access log: what was asked (method and route pattern, never the raw
 * path or query, which carry ids and filters), by whom (key id or token
 * subject, and role), the answer and how long it took. No PII. */
static void access_log(struct srv_req *r, int64_t duration_ns, enum MHD_RequestTerminationCode toe)
{
    if (TL_LOG_INFO < tl_log_get_level())
        return;
    json_t *o = line_head(TL_LOG_INFO, "request");
    if (!o)
        return;
    json_object_set_new(o, "request_id", json_string(r->request_id));
    json_object_set_new(o, "method", json_string(r->method));
    json_object_set_new(o, "route", json_string(r->route ? r->route->path : "unmatched"));
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "duration_ms", json_real((double)(duration_ns / 1000) / 1000.0));
    json_object_set_new(o, "bytes_in", json_integer((json_int_t)r->body_bytes));
    if (r->who.role != TL_ROLE_NONE) {
        /* a token subject may be a login name or an email: through the masker */
        char masked[sizeof r->who.subject + 64];
        if (!r->srv->masker ||
            tl_masker_mask_buf(r->srv->masker, r->who.subject, strlen(r->who.subject), masked,
                               sizeof masked) == 0)
            snprintf(masked, sizeof masked, "%s", r->who.subject);
        json_t *subject = json_string(masked);
        json_object_set_new(o, "subject", subject ? subject : json_string("?"));
        json_object_set_new(o, "role", json_string(tl_role_name(r->who.role)));
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        json_object_set_new(o, "terminated",
                            json_string(toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                                        : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN
                                            ? "shutdown"
                                            : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? "client"
                                                                                         : "error"));
    write_line(o);
}

/* ---- answers ------------------------------------------------------------- */

/* One extra header an error may need: Allow, WWW-Authenticate, Retry-After. */
struct extra {
    const char *name;
    char value[96];
};

static int queue(struct srv_req *r, unsigned status, const char *ctype, char *body, size_t len,
                 const struct extra *extra)
{
    if (r->status) {
        free(body);
        srv_log(r, TL_LOG_ERROR, "a second answer to one request (%u after %u)", status, r->status);
        return -1;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (void *)"",
                                                                body ? MHD_RESPMEM_MUST_FREE
                                                                     : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return -1;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (extra && extra->name)
        MHD_add_response_header(resp, extra->name, extra->value);
    if (atomic_load_explicit(&r->srv->draining, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return -1;
    r->status = status;
    return 0;
}

static int reply_json_extra(struct srv_req *r, unsigned status, json_t *body, const struct extra *extra)
{
    char *text = NULL;
    size_t len = 0;
    if (body) {
        /* 15 significant digits: a figure rounded for display (a PD of
         * 0.05177) stays 0.05177 instead of its 17-digit double spelling
         * 0.051769999999999997; money never goes through a double */
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        json_decref(body);
        if (!text)
            return queue(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                         strdup("{\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\"}}"),
                         55, NULL);
        len = strlen(text);
    }
    return queue(r, status, body ? "application/json" : NULL, text, len, extra);
}

int srv_reply_json(struct srv_req *r, unsigned status, json_t *body)
{
    return reply_json_extra(r, status, body, NULL);
}

int srv_reply_text(struct srv_req *r, unsigned status, const char *content_type, const char *text,
                   size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    return queue(r, status, content_type, copy, len, NULL);
}

static json_t *error_body(const char *code, const char *field, const char *msg)
{
    json_t *m = json_string(msg);
    if (!m)
        m = json_string("the input was not valid UTF-8"); /* it quoted the client's bytes */
    json_t *e = json_pack("{s:s, s:o*}", "code", code, "message", m);
    if (e && field)
        json_object_set_new(e, "field", json_string(field));
    return json_pack("{s:o*}", "error", e);
}

static int vreply_error(struct srv_req *r, unsigned status, const char *code, const char *field,
                        const struct extra *extra, const char *fmt, va_list ap)
{
    char msg[TL_ERR_MSG_SIZE + 128];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return reply_json_extra(r, status, error_body(code, field, msg), extra);
}

int srv_reply_error(struct srv_req *r, unsigned status, const char *code, const char *field,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreply_error(r, status, code, field, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

static int reply_error_extra(struct srv_req *r, unsigned status, const char *code, const char *field,
                             const struct extra *extra, const char *fmt, ...) TL_PRINTF(6, 7);
static int reply_error_extra(struct srv_req *r, unsigned status, const char *code, const char *field,
                             const struct extra *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreply_error(r, status, code, field, extra, fmt, ap);
    va_end(ap);
    return rc;
}

static struct extra www_authenticate(bool token_sent)
{
    struct extra x = {.name = MHD_HTTP_HEADER_WWW_AUTHENTICATE};
    snprintf(x.value, sizeof x.value, "Bearer realm=\"teller\"%s",
             token_sent ? ", error=\"invalid_token\"" : "");
    return x;
}

int srv_reply_tl(struct srv_req *r, int rc, const tl_err *err, const char *field)
{
    unsigned status = srv_status_of(rc);
    const char *msg = err && err->msg[0] ? err->msg : tl_strerror(rc);
    if (rc == TL_ESTORE || rc == TL_EIO) {
        r->store_failed = true;
        srv_metrics_count(r->srv->metrics, SRV_STORE_ERRORS);
    }
    if (status >= 500) {
        srv_log(r, TL_LOG_ERROR, "%s %s: %s", r->method, r->route ? r->route->path : "?", msg);
        if (r->route && r->route->hidden_errors)
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return srv_reply_error(r, status, tl_errslug(rc), NULL,
                               "the server could not complete this request; its log has the details "
                               "under request id %s",
                               r->request_id);
    }
    if (status == MHD_HTTP_UNAUTHORIZED) {
        struct extra x = www_authenticate(true);
        return reply_error_extra(r, status, tl_errslug(rc), field, &x, "%s", msg);
    }
    return srv_reply_error(r, status, tl_errslug(rc), field, "%s", msg);
}

/* ---- refusals decided on the first call ------------------------------------ */

struct srv_refusal {
    unsigned status;
    const char *code;
    const char *field;
    struct extra extra;
    char msg[TL_ERR_MSG_SIZE + 128];
};

/* Records a refusal; returns 1 so a check can `return refuse(...)`. */
static int refuse(struct srv_refusal *f, unsigned status, const char *code, const char *field,
                  const char *fmt, ...) TL_PRINTF(5, 6);
static int refuse(struct srv_refusal *f, unsigned status, const char *code, const char *field,
                  const char *fmt, ...)
{
    f->status = status;
    f->code = code;
    f->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    return 1;
}

/* The query must hold only the route's parameters, each once. */
struct query_check {
    const struct srv_route *route;
    char seen[8][16];
    size_t n_seen;
    const char *bad;     /* first offending name */
    bool duplicate;
};

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        if (len == n && strncmp(list, name, n) == 0)
            return true;
        list = comma ? comma + 1 : list + len;
    }
    return false;
}

static enum MHD_Result on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind, (void)value;
    struct query_check *q = cls;
    if (!listed(q->route->query, key)) {
        q->bad = key;
        return MHD_NO;
    }
    for (size_t i = 0; i < q->n_seen; i++)
        if (strcmp(q->seen[i], key) == 0) {
            q->bad = key;
            q->duplicate = true;
            return MHD_NO;
        }
    if (q->n_seen < 8)
        snprintf(q->seen[q->n_seen++], sizeof q->seen[0], "%s", key);
    return MHD_YES;
}

static bool media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (!ct || strncasecmp(ct, want, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static uint64_t body_limit(const struct srv_req *r)
{
    if (r->route && r->route->body == SRV_BODY_JSON)
        return r->srv->max_body_bytes < MAX_JSON_BODY ? r->srv->max_body_bytes : MAX_JSON_BODY;
    return r->srv->max_body_bytes;
}

/* Everything decided before the body: 0 when the request may go on, 1 with
 * *f filled when it is refused. */
static int check_request(struct srv_req *r, const char *url, struct srv_refusal *f)
{
    struct srv *s = r->srv;
    unsigned allowed = 0;
    int idx = srv_route_match(r->method, url, r->params, &r->n_params, &allowed);
    if (idx == -1)
        return refuse(f, MHD_HTTP_NOT_FOUND, "not_found", NULL, "no route %s %s", r->method, url);
    if (idx == -2) {
        f->extra.name = MHD_HTTP_HEADER_ALLOW;
        size_t o = 0;
        for (unsigned m = SRV_GET; m <= SRV_DELETE; m <<= 1)
            if (allowed & m)
                o += (size_t)snprintf(f->extra.value + o, sizeof f->extra.value - o, "%s%s",
                                      o ? ", " : "", srv_method_name((enum srv_method)m));
        return refuse(f, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL,
                      "%s is not allowed here; allowed: %s", r->method, f->extra.value);
    }
    r->route_index = idx;
    r->route = &srv_routes[idx];
    const struct srv_route *rt = r->route;

    if (rt->roles != SRV_PUBLIC) {
        tl_err err = {0};
        r->ctx = srv_thread_ctx(s, &err);
        if (!r->ctx) {
            srv_log(r, TL_LOG_ERROR, "store unavailable: %s", err.msg);
            srv_metrics_count(s->metrics, SRV_STORE_ERRORS);
            return refuse(f, MHD_HTTP_SERVICE_UNAVAILABLE, "store", NULL,
                          "the store is unavailable; try again shortly");
        }
        int rc = srv_authenticate(r, &err);
        if (rc == TL_EAUTH) {
            srv_metrics_count(s->metrics, SRV_AUTH_FAILURES);
            f->extra = www_authenticate(srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL);
            return refuse(f, MHD_HTTP_UNAUTHORIZED, "unauthenticated", NULL, "%s", err.msg);
        }
        if (rc < 0) {
            srv_log(r, TL_LOG_ERROR, "authentication failed: %s", err.msg);
            if (rc == TL_ESTORE) {
                srv_metrics_count(s->metrics, SRV_STORE_ERRORS);
                srv_thread_ctx_drop(s);
                r->ctx = NULL;
            }
            return refuse(f, MHD_HTTP_SERVICE_UNAVAILABLE, tl_errslug(rc), NULL,
                          "the server could not check the credential; try again shortly "
                          "(request id %s)",
                          r->request_id);
        }
        if (!(r->who.role & rt->roles))
            return refuse(f, MHD_HTTP_FORBIDDEN, "forbidden", NULL, "the %s role may not %s %s",
                          tl_role_name(r->who.role), srv_method_name(rt->method), rt->path);
        if (r->who.role == TL_ROLE_CUSTOMER && rt->scope == SRV_SCOPE_CUSTOMER &&
            strcmp(r->params[0], r->who.customer_id) != 0)
            /* word for word what an unknown id answers: ids cannot be probed */
            return refuse(f, MHD_HTTP_NOT_FOUND, "not_found", NULL, "no customer with id \"%s\"",
                          r->params[0]);
        int64_t retry_s = 0;
        if (!srv_ratelimit_take(s->rl, r->who.subject, tl_time_mono_ns(), &retry_s)) {
            srv_metrics_count(s->metrics, SRV_RATE_LIMITED);
            f->extra.name = MHD_HTTP_HEADER_RETRY_AFTER;
            snprintf(f->extra.value, sizeof f->extra.value, "%" PRId64, retry_s);
            return refuse(f, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited", NULL,
                          "too many requests for %s; retry in %" PRId64 " s", r->who.subject, retry_s);
        }
    }

    struct query_check q = {.route = rt};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, on_query_arg, &q);
    if (q.bad)
        return refuse(f, MHD_HTTP_BAD_REQUEST, "invalid", q.bad,
                      q.duplicate ? "query parameter \"%s\" is given twice"
                                  : "unknown query parameter \"%s\" for this route",
                      q.bad);

    const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = srv_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    uint64_t announced = cl ? strtoull(cl, NULL, 10) : 0;
    bool has_body = announced > 0 || te != NULL;
    if (rt->body == SRV_BODY_NONE) {
        if (has_body)
            return refuse(f, MHD_HTTP_BAD_REQUEST, "invalid", NULL, "%s %s takes no request body",
                          srv_method_name(rt->method), rt->path);
        return 0;
    }
    const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (rt->body == SRV_BODY_JSON && !media_type_is(ct, "application/json"))
        return refuse(f, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported", NULL,
                      "the body must be application/json, not %s", ct ? ct : "untyped");
    if (rt->body == SRV_BODY_INGEST) {
        if (media_type_is(ct, "text/csv"))
            r->format = TL_FORMAT_CSV;
        else if (media_type_is(ct, "application/x-ndjson") || media_type_is(ct, "application/jsonl") ||
                 media_type_is(ct, "application/x-jsonlines"))
            r->format = TL_FORMAT_JSONL;
        else
            return refuse(f, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported", NULL,
                          "the body must be text/csv or application/x-ndjson, not %s",
                          ct ? ct : "untyped");
    }
    if (announced > body_limit(r))
        return refuse(f, MHD_HTTP_CONTENT_TOO_LARGE, "too_big", NULL,
                      "the body is %" PRIu64 " bytes; this route takes at most %" PRIu64, announced,
                      body_limit(r));
    if (rt->body == SRV_BODY_INGEST) {
        r->spool = tmpfile();
        if (!r->spool) {
            srv_log(r, TL_LOG_ERROR, "cannot create a temp file for the body: %s", strerror(errno));
            return refuse(f, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", NULL,
                          "the server could not store the body (request id %s)", r->request_id);
        }
    }
    return 0;
}

/* ---- the body ------------------------------------------------------------------ */

static enum MHD_Result receive(struct srv_req *r, const char *data, size_t n)
{
    uint64_t limit = body_limit(r);
    if (r->body_error) {
        r->discarded += n;
        /* a client that keeps sending past its refusal is cut off */
        return r->discarded > MAX_DISCARD_FACTOR * limit ? MHD_NO : MHD_YES;
    }
    r->body_bytes += n;
    if (r->body_bytes > limit) {
        r->body_error = MHD_HTTP_CONTENT_TOO_LARGE;
        free(r->body);
        r->body = NULL;
        return MHD_YES;
    }
    if (r->spool) {
        if (fwrite(data, 1, n, r->spool) != n) {
            srv_log(r, TL_LOG_ERROR, "cannot spool the body: %s", strerror(errno));
            r->body_error = MHD_HTTP_INTERNAL_SERVER_ERROR;
        }
        return MHD_YES;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (!p) {
            r->body_error = MHD_HTTP_INTERNAL_SERVER_ERROR;
            return MHD_YES;
        }
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return MHD_YES;
}

/* Nesting depth of JSON text, counted outside strings, stopping past max. */
static int json_depth(const char *s, size_t n, int max)
{
    int depth = 0, deepest = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '[' || c == '{') {
            if (++depth > deepest && (deepest = depth) > max)
                return deepest;
        } else if (c == ']' || c == '}')
            depth--;
    }
    return deepest;
}

static const char *type_word(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Answers 400 and returns -1, for srv_json_body. */
static int bad_body(struct srv_req *r, json_t *v, const char *field, const char *fmt, ...)
    TL_PRINTF(4, 5);
static int bad_body(struct srv_req *r, json_t *v, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", field, NULL, fmt, ap);
    va_end(ap);
    json_decref(v);
    return -1;
}

int srv_json_body(struct srv_req *r, const struct srv_field *fields, json_t **out)
{
    if (r->body_len == 0)
        return bad_body(r, NULL, NULL, "this route needs a JSON object body");
    if (json_depth(r->body, r->body_len, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
        return bad_body(r, NULL, NULL, "the body nests deeper than %d levels", MAX_JSON_DEPTH);
    size_t bad_at = 0;
    if (!tl_utf8_valid(r->body, r->body_len, &bad_at))
        return bad_body(r, NULL, NULL, "the body is not valid UTF-8 (byte %zu)", bad_at);
    tl_err err = {0};
    json_t *v = tl_json_parse(r->body, r->body_len, "body", &err);
    if (!v)
        return bad_body(r, NULL, NULL, "%s", err.msg);
    if (!json_is_object(v))
        return bad_body(r, v, NULL, "the body must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        const struct srv_field *fd = fields;
        while (fd->name && strcmp(fd->name, key) != 0)
            fd++;
        if (!fd->name)
            return bad_body(r, v, key, "unknown field \"%s\"", key);
        if (json_is_null(val) && !fd->required)
            continue;
        bool ok = fd->type == JSON_TRUE   ? json_is_boolean(val)
                  : fd->type == JSON_REAL ? json_is_number(val)
                                          : json_typeof(val) == fd->type;
        if (!ok)
            return bad_body(r, v, key, "field \"%s\" must be %s, not %s", key, type_word(fd->type),
                            type_word(json_typeof(val)));
    }
    for (const struct srv_field *fd = fields; fd->name; fd++)
        if (fd->required && !json_object_get(v, fd->name))
            return bad_body(r, v, fd->name, "field \"%s\" is required", fd->name);
    *out = v;
    return 0;
}

/* Fills r's audit event; its strings live in r until the request ends
 * (model_version and inputs_digest, for decisions, are the caller's). */
static void audit_event(struct srv_req *r, const char *action, const char *customer_id,
                        const char *details, const char *model_version, const char *inputs_digest)
{
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
        .model_version = model_version,
        .inputs_digest = inputs_digest,
        .details = details,
    };
}

/* Answers the failure of r's audit row: 500 (503 while shutting down), never
 * the data. Returns -1. */
static int audit_failed(struct srv_req *r, int rc, tl_err *err)
{
    if (rc == 0) { /* the writer had stopped: nothing was queued */
        srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "internal", NULL,
                        "the server is shutting down; try again (request id %s)", r->request_id);
        return -1;
    }
    tl_err_prefix(err, "audit");
    if (rc != TL_ESTORE && rc != TL_EIO)
        rc = TL_EINTERNAL; /* whatever went wrong, the read is not served */
    srv_reply_tl(r, rc, err, NULL);
    return -1;
}

int srv_audit(struct srv_req *r, const char *action, const char *customer_id, const char *details)
{
    return srv_audit_decision(r, action, customer_id, details, NULL, NULL);
}

int srv_audit_decision(struct srv_req *r, const char *action, const char *customer_id,
                       const char *details, const char *model_version, const char *inputs_digest)
{
    audit_event(r, action, customer_id, details, model_version, inputs_digest);
    if (srv_auditq_submit(r, true) < 0)
        return audit_failed(r, 0, NULL);
    /* details is the caller's and goes out of scope: the row is written */
    r->audit_state = SRV_AUDIT_NONE;
    if (r->audit_rc < 0)
        return audit_failed(r, r->audit_rc, &r->audit_err);
    return 0;
}

int srv_audit_reply(struct srv_req *r, const char *action, const char *customer_id, json_t *body)
{
    audit_event(r, action, customer_id, NULL, NULL, NULL);
    r->audit_answer = body;
    if (srv_auditq_submit(r, false) < 0) {
        json_decref(r->audit_answer);
        r->audit_answer = NULL;
        audit_failed(r, 0, NULL);
        return 0; /* answered 503 */
    }
    return 0; /* answered by audit_resumed, once the row is written */
}

/* The call libmicrohttpd makes when the writer resumes a request that
 * srv_audit_reply suspended: its row is committed, or failed. */
static enum MHD_Result audit_resumed(struct srv_req *r)
{
    r->audit_suspended = false;
    r->audit_state = SRV_AUDIT_NONE;
    json_t *body = r->audit_answer;
    r->audit_answer = NULL;
    int rc;
    if (r->audit_rc < 0) {
        json_decref(body);
        rc = audit_failed(r, r->audit_rc, &r->audit_err);
    } else {
        rc = srv_reply_json(r, MHD_HTTP_OK, body);
    }
    return rc == 0 || r->status ? MHD_YES : MHD_NO;
}

/* ---- the callbacks ----------------------------------------------------------- */

static void copy_method(struct srv_req *r, const char *method)
{
    size_t n = 0;
    for (; method[n] && n + 1 < sizeof r->method; n++) {
        char c = method[n];
        r->method[n] = (c >= 'A' && c <= 'Z') ? c : '?';
    }
    r->method[n] = '\0';
    if (method[n]) /* longer than any method we know */
        snprintf(r->method, sizeof r->method, "OTHER");
}

static enum MHD_Result first_call(struct srv_req *r, const char *url, const char *method)
{
    copy_method(r, method);
    srv_conn_set_phase(r->conn, SRV_CONN_UPLOADING);
    struct srv_refusal f = {0};
    check_request(r, url, &f);
    if (!f.status)
        return MHD_YES;
    const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    bool body_coming = (cl && strtoull(cl, NULL, 10) > 0) ||
                       srv_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
    if (body_coming) /* answer now: the body is skipped and the connection closed */
        return reply_error_extra(r, f.status, f.code, f.field, &f.extra, "%s", f.msg) == 0 ? MHD_YES
                                                                                            : MHD_NO;
    r->pending = malloc(sizeof *r->pending);
    if (!r->pending)
        return MHD_NO;
    *r->pending = f;
    return MHD_YES;
}

static enum MHD_Result last_call(struct srv_req *r)
{
    srv_conn_set_phase(r->conn, SRV_CONN_WORKING);
    int rc;
    if (r->pending) {
        const struct srv_refusal *f = r->pending;
        rc = reply_error_extra(r, f->status, f->code, f->field, &f->extra, "%s", f->msg);
    } else if (r->body_error == MHD_HTTP_CONTENT_TOO_LARGE) {
        rc = srv_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_big", NULL,
                             "the body is over %" PRIu64 " bytes, the most this route takes",
                             body_limit(r));
    } else if (r->body_error) {
        rc = srv_reply_error(r, r->body_error, "internal", NULL,
                             "the server could not receive the body (request id %s)", r->request_id);
    } else {
        if (r->spool && (fflush(r->spool) != 0 || fseek(r->spool, 0, SEEK_SET) != 0)) {
            srv_log(r, TL_LOG_ERROR, "cannot rewind the spooled body: %s", strerror(errno));
            rc = srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", NULL,
                                 "the server could not store the body (request id %s)", r->request_id);
        } else {
            rc = r->route->handler(r);
            if (rc == 0 && !r->status && !r->audit_suspended) {
                srv_log(r, TL_LOG_ERROR, "handler of %s answered nothing", r->route->path);
                rc = srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL,
                                     "no answer (request id %s)", r->request_id);
            }
        }
        if (r->store_failed && r->ctx) {
            srv_thread_ctx_drop(r->srv);
            r->ctx = NULL;
        }
    }
    return rc == 0 || r->status ? MHD_YES : MHD_NO;
}

enum MHD_Result srv_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls)
{
    (void)version;
    struct srv *s = cls;
    struct srv_req *r = *req_cls;
    enum MHD_Result res;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        r->srv = s;
        r->conn = conn;
        r->route_index = -1;
        r->start_ns = tl_time_mono_ns();
        atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
        set_request_id(r, conn);
        srv_log_context(r->request_id);
        res = first_call(r, url, method);
    } else if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        srv_conn_add_bytes(conn, n);
        /* answered early: nothing more is read */
        res = r->status ? MHD_YES : receive(r, upload, n);
        return res;
    } else if (r->status) {
        return MHD_YES;
    } else if (r->audit_suspended) { /* only the writer resumes it: its row is done */
        srv_log_context(r->request_id);
        res = audit_resumed(r);
    } else {
        srv_log_context(r->request_id);
        res = last_call(r);
    }
    srv_log_context(NULL);
    return res;
}

void srv_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct srv *s = cls;
    struct srv_req *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    int64_t dur = tl_time_mono_ns() - r->start_ns;
    srv_metrics_observe(s->metrics, r->route_index, r->method, r->status, dur);
    access_log(r, dur, toe);
    if (r->spool)
        fclose(r->spool);
    free(r->body);
    free(r->pending);
    json_decref(r->audit_answer); /* NULL unless the connection died suspended */
    free(r);
    srv_conn_set_phase(conn, SRV_CONN_WAITING);
    atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_relaxed);
}
