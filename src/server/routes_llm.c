/*
 * routes_llm.c - OpenAI-compatible LLM serving: POST /v1/chat/completions,
 * POST /v1/completions and GET /v1/models, on the server's tl_llm (embedded
 * engine or remote server, llm_backend.h), behind its authentication.
 *
 * Bodies follow OpenAI's shapes and are checked strictly: an unknown member,
 * a role other than system/user/assistant, a content that is not a string,
 * a number out of range answer 400 naming the field ("messages[1].role").
 * Beyond OpenAI's fields, top_k, min_p and repeat_penalty are accepted (as
 * vLLM and llama.cpp accept them). The request's "model" is not checked: one
 * model is served, and its name is in every answer.
 *
 * Streaming ("stream": true) answers server-sent events: a chunk per piece
 * of text, a last chunk with the finish reason, a usage chunk when
 * "stream_options": {"include_usage": true}, then "data: [DONE]". The
 * generation runs on a thread of its own that queues events; libmicrohttpd
 * pulls them through a content reader callback on the connection's worker
 * thread, which waits for the next event (the worker is busy for the
 * answer's length, as it is for an answer that does not stream). The
 * handler waits for the first event before answering, so a prompt that
 * does not fit or a remote server that fails answers a plain HTTP error; a
 * failure after that is an error event ("data: {"error": ...}") and no
 * [DONE].
 *
 * Journal. Every completion is journaled (llm.chat, llm.complete) with the
 * model, the SHA-256 of the request's messages or prompt and the token
 * counts; never the text, which may hold anything a customer typed. An
 * answer is acknowledged only once its row is committed: the JSON answer is
 * sent after it, and a stream's [DONE] is sent after it (when the row
 * cannot be written the stream ends with an error event instead).
 */
#include "server.h"

#include <teller/llm_backend.h>

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MESSAGES 256
#define MAX_MAX_TOKENS 65536
#define MAX_JSON_DEPTH 32
/* events queued ahead of a slow reader before the generation waits */
#define MAX_QUEUED_BYTES (1u << 20)

/* ---- the server's backend ------------------------------------------------------ */

int srv_llm_open(struct srv *s, tl_err *err)
{
    s->llm = NULL;
    int rc = tl_llm_open(s->cfg, &s->llm, err);
    if (rc < 0)
        return rc;
    if (s->llm)
        tl_log(TL_LOG_INFO, "llm", "serving %s (%s backend)", tl_llm_model_id(s->llm),
               tl_llm_backend(s->llm) == TL_LLM_BACKEND_EMBEDDED ? "embedded" : "remote");
    return 0;
}

void srv_llm_close(struct srv *s)
{
    tl_llm_close(s->llm);
    s->llm = NULL;
}

static int no_llm(struct srv_req *r)
{
    return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
                           "no LLM configured: set llm.backend to embedded (with llm.model) or "
                           "remote (with llm.remote_url)");
}

/* ---- the request body ---------------------------------------------------------- */

static int json_depth(const char *s, size_t n)
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
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return deepest;
}

/* A parsed request: pointers borrow from body. */
struct llm_req {
    json_t *body;
    bool chat;
    tl_llm_chat_msg msgs[MAX_MESSAGES];
    size_t n_msgs;
    const char *prompt;
    tl_llm_request rq;
    const char *stop[TL_LLM_MAX_STOP];
    bool stream, include_usage;
    char digest[65]; /* SHA-256 hex of the messages or the prompt */
};

static int bad(struct srv_req *r, const char *field, const char *fmt, ...) TL_PRINTF(3, 4);
static int bad(struct srv_req *r, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid", field, "%s", msg);
    return -1;
}

static const char *const CHAT_FIELDS[] = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
    "min_p", "repeat_penalty", "stop", "seed", "stream", "stream_options", "n", "user",
    "presence_penalty", "frequency_penalty", NULL,
};
static const char *const COMPLETION_FIELDS[] = {
    "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty",
    "stop", "seed", "stream", "stream_options", "n", "user", "presence_penalty",
    "frequency_penalty", NULL,
};

/* A number member in [lo, hi] (inclusive unless open_lo); absent leaves *out. */
static int get_number(struct srv_req *r, json_t *o, const char *name, double lo, double hi,
                      bool open_lo, float *out)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return bad(r, name, "field \"%s\" must be a number", name);
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi || (open_lo && x == lo))
        return bad(r, name, "field \"%s\" = %g is out of range: it must be %s %g and at most %g", name,
                   x, open_lo ? "above" : "at least", lo, hi);
    *out = (float)x;
    return 0;
}

static int get_int(struct srv_req *r, json_t *o, const char *name, json_int_t lo, json_int_t hi,
                   json_int_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return bad(r, name, "field \"%s\" must be an integer", name);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return bad(r, name, "field \"%s\" = %" JSON_INTEGER_FORMAT " is out of range [%" JSON_INTEGER_FORMAT
                   ", %" JSON_INTEGER_FORMAT "]",
                   name, x, lo, hi);
    *out = x;
    return 0;
}

static void sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)s, n);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Parses and checks r's body into q. Returns 0, or -1 after answering 400. */
static int parse_body(struct srv_req *r, bool chat, struct llm_req *q)
{
    q->chat = chat;
    if (r->body_len == 0)
        return bad(r, NULL, "this route needs a JSON object body");
    if (json_depth(r->body, r->body_len) > MAX_JSON_DEPTH)
        return bad(r, NULL, "the body nests deeper than %d levels", MAX_JSON_DEPTH);
    size_t bad_at = 0;
    if (!tl_utf8_valid(r->body, r->body_len, &bad_at))
        return bad(r, NULL, "the body is not valid UTF-8 (byte %zu)", bad_at);
    tl_err err = {0};
    json_t *o = tl_json_parse(r->body, r->body_len, "body", &err);
    if (!o)
        return bad(r, NULL, "%s", err.msg);
    q->body = o;
    if (!json_is_object(o))
        return bad(r, NULL, "the body must be a JSON object");
    const char *key;
    json_t *val;
    const char *const *known = chat ? CHAT_FIELDS : COMPLETION_FIELDS;
    json_object_foreach(o, key, val) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i])
            return bad(r, key, "unknown field \"%s\"", key);
    }
    json_t *v;
    if ((v = json_object_get(o, "model")) && !json_is_null(v) && !json_is_string(v))
        return bad(r, "model", "field \"model\" must be a string");
    if ((v = json_object_get(o, "user")) && !json_is_null(v) && !json_is_string(v))
        return bad(r, "user", "field \"user\" must be a string");

    if (chat) {
        json_t *m = json_object_get(o, "messages");
        if (!m || json_is_null(m))
            return bad(r, "messages", "field \"messages\" is required");
        if (!json_is_array(m))
            return bad(r, "messages", "field \"messages\" must be an array of {role, content}");
        if (json_array_size(m) == 0)
            return bad(r, "messages", "field \"messages\" is empty: a chat needs a message");
        if (json_array_size(m) > MAX_MESSAGES)
            return bad(r, "messages", "field \"messages\" holds %zu messages; at most %d",
                       json_array_size(m), MAX_MESSAGES);
        size_t i;
        json_t *msg;
        json_array_foreach(m, i, msg) {
            char field[96];
            if (!json_is_object(msg)) {
                snprintf(field, sizeof field, "messages[%zu]", i);
                return bad(r, field, "%s must be an object {role, content}", field);
            }
            json_object_foreach(msg, key, val) {
                if (strcmp(key, "role") != 0 && strcmp(key, "content") != 0 && strcmp(key, "name") != 0) {
                    snprintf(field, sizeof field, "messages[%zu].%.24s", i, key);
                    return bad(r, field, "unknown field \"%s\" in messages[%zu]", key, i);
                }
            }
            json_t *role = json_object_get(msg, "role"), *content = json_object_get(msg, "content");
            snprintf(field, sizeof field, "messages[%zu].role", i);
            if (!json_is_string(role))
                return bad(r, field, "%s is required and must be a string", field);
            const char *rs = json_string_value(role);
            if (strcmp(rs, "system") != 0 && strcmp(rs, "user") != 0 && strcmp(rs, "assistant") != 0)
                return bad(r, field, "%s must be system, user or assistant", field);
            snprintf(field, sizeof field, "messages[%zu].content", i);
            if (!json_is_string(content))
                return bad(r, field, "%s is required and must be a string", field);
            if (strlen(json_string_value(content)) != json_string_length(content))
                return bad(r, field, "%s holds a NUL character", field);
            q->msgs[i] = (tl_llm_chat_msg){rs, json_string_value(content)};
        }
        q->n_msgs = json_array_size(m);
        char *canon = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        if (!canon) {
            srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
            return -1;
        }
        sha256_hex(canon, strlen(canon), q->digest);
        free(canon);
    } else {
        json_t *p = json_object_get(o, "prompt");
        if (!p || json_is_null(p))
            return bad(r, "prompt", "field \"prompt\" is required");
        if (!json_is_string(p))
            return bad(r, "prompt", "field \"prompt\" must be a string");
        if (json_string_length(p) == 0)
            return bad(r, "prompt", "field \"prompt\" is empty");
        if (strlen(json_string_value(p)) != json_string_length(p))
            return bad(r, "prompt", "field \"prompt\" holds a NUL character");
        q->prompt = json_string_value(p);
        sha256_hex(q->prompt, json_string_length(p), q->digest);
    }

    json_int_t mt = 0, mct = 0, top_k = 0, n = 1;
    float zero = 0;
    if (get_int(r, o, "max_tokens", 1, MAX_MAX_TOKENS, &mt) < 0 ||
        (chat && get_int(r, o, "max_completion_tokens", 1, MAX_MAX_TOKENS, &mct) < 0) ||
        get_int(r, o, "top_k", 0, 1 << 20, &top_k) < 0 || get_int(r, o, "n", 1, 1, &n) < 0)
        return -1;
    q->rq.max_tokens = (int)(mt ? mt : mct);
    q->rq.top_k = (int)top_k;
    /* OpenAI's default temperature is 1; 0 is greedy */
    q->rq.temperature = 1.0f;
    if (get_number(r, o, "temperature", 0, 2, false, &q->rq.temperature) < 0 ||
        get_number(r, o, "top_p", 0, 1, true, &q->rq.top_p) < 0 ||
        get_number(r, o, "min_p", 0, 1, false, &q->rq.min_p) < 0 ||
        get_number(r, o, "repeat_penalty", 0, 10, true, &q->rq.repeat_penalty) < 0 ||
        get_number(r, o, "presence_penalty", 0, 0, false, &zero) < 0 ||
        get_number(r, o, "frequency_penalty", 0, 0, false, &zero) < 0)
        return -1;
    if ((v = json_object_get(o, "seed")) && !json_is_null(v)) {
        if (!json_is_integer(v))
            return bad(r, "seed", "field \"seed\" must be an integer");
        q->rq.has_seed = true;
        q->rq.seed = (uint64_t)json_integer_value(v);
    }
    if ((v = json_object_get(o, "stop")) && !json_is_null(v)) {
        if (json_is_string(v)) {
            if (json_string_length(v) == 0)
                return bad(r, "stop", "field \"stop\" is an empty string");
            q->stop[q->rq.n_stop++] = json_string_value(v);
        } else if (json_is_array(v)) {
            if (json_array_size(v) > TL_LLM_MAX_STOP)
                return bad(r, "stop", "field \"stop\" holds %zu strings; at most %d",
                           json_array_size(v), TL_LLM_MAX_STOP);
            size_t i;
            json_t *s;
            json_array_foreach(v, i, s) {
                if (!json_is_string(s) || json_string_length(s) == 0)
                    return bad(r, "stop", "stop[%zu] must be a non-empty string", i);
                q->stop[q->rq.n_stop++] = json_string_value(s);
            }
        } else {
            return bad(r, "stop", "field \"stop\" must be a string or an array of strings");
        }
        q->rq.stop = q->stop;
    }
    if ((v = json_object_get(o, "stream")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return bad(r, "stream", "field \"stream\" must be a boolean");
        q->stream = json_is_true(v);
    }
    if ((v = json_object_get(o, "stream_options")) && !json_is_null(v)) {
        json_t *iu = json_is_object(v) ? json_object_get(v, "include_usage") : NULL;
        if (!json_is_object(v) || json_object_size(v) != (iu ? 1u : 0u) || (iu && !json_is_boolean(iu)))
            return bad(r, "stream_options", "field \"stream_options\" must be {\"include_usage\": boolean}");
        q->include_usage = json_is_true(iu);
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------------- */

static void completion_id(struct srv_req *r, bool chat, char *out, size_t cap)
{
    snprintf(out, cap, "%s-%s", chat ? "chatcmpl" : "cmpl", r->request_id);
}

static json_t *usage_json(const tl_llm_result *res)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)res->prompt_tokens,
                     "completion_tokens", (json_int_t)res->completion_tokens, "total_tokens",
                     (json_int_t)(res->prompt_tokens + res->completion_tokens));
}

/* Maps a backend failure to an answer. Remote failures are the upstream's:
 * 502 (504 for a time out) with the details in the log, not in the answer
 * (they name internal hosts). */
static int reply_llm_error(struct srv_req *r, int rc, const tl_err *err, bool chat)
{
    bool remote = tl_llm_backend(r->srv->llm) == TL_LLM_BACKEND_REMOTE;
    const char *field = chat ? "messages" : "prompt";
    switch (rc) {
    case TL_EINVAL:
    case TL_EUNSUPPORTED:
        if (!remote)
            return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, tl_errslug(rc), field, "%s", err->msg);
        break;
    case TL_ETOOBIG:
        if (!remote)
            return srv_reply_error(r, MHD_HTTP_BAD_REQUEST, "context_length_exceeded", field, "%s",
                                   err->msg);
        break;
    case TL_ECANCELED:
        return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", NULL, "%s", err->msg);
    case TL_ERATELIMIT:
        srv_log(r, TL_LOG_WARN, "%s", err->msg);
        return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", NULL,
                               "the LLM server is busy; try again");
    default:
        break;
    }
    if (!remote)
        return srv_reply_tl(r, rc, err, NULL);
    srv_log(r, TL_LOG_ERROR, "%s", err->msg);
    bool timeout = strstr(err->msg, "timed out") != NULL;
    return srv_reply_error(r, timeout ? MHD_HTTP_GATEWAY_TIMEOUT : MHD_HTTP_BAD_GATEWAY, "upstream",
                           NULL,
                           "the LLM server failed to answer; the log has the details under request "
                           "id %s",
                           r->request_id);
}

/* Fills r's audit event for a completion and writes it, waiting for the
 * row. The strings live in r and in the caller's details and digest, which
 * outlive the wait. Returns 0, or the failure (with err filled). */
static int journal(struct srv_req *r, bool chat, const char *details, const char *digest,
                   tl_err *err)
{
    snprintf(r->audit_resource, sizeof r->audit_resource, "%s %s", srv_method_name(r->route->method),
             r->route->path);
    bool customer = r->who.role == TL_ROLE_CUSTOMER && r->who.customer_id[0];
    if (customer)
        snprintf(r->audit_customer, sizeof r->audit_customer, "%s", r->who.customer_id);
    r->audit_ev = (struct tl_audit_event){
        .actor = r->who.subject,
        .role = tl_role_name(r->who.role),
        .action = chat ? "llm.chat" : "llm.complete",
        .resource = r->audit_resource,
        .customer_id = customer ? r->audit_customer : NULL,
        .request_id = r->request_id,
        .model_version = tl_llm_model_id(r->srv->llm),
        .inputs_digest = digest,
        .details = details,
    };
    if (srv_auditq_submit(r, true) < 0)
        return tl_err_set(err, TL_ECANCELED, "the server is shutting down");
    r->audit_state = SRV_AUDIT_NONE;
    if (r->audit_rc < 0) {
        *err = r->audit_err;
        return r->audit_rc;
    }
    return 0;
}

static char *audit_details(const tl_llm_result *res, bool stream)
{
    json_t *d = json_pack("{s:I, s:I, s:s, s:b}", "prompt_tokens", (json_int_t)res->prompt_tokens,
                          "completion_tokens", (json_int_t)res->completion_tokens, "finish_reason",
                          res->finish_reason ? res->finish_reason : "stop", "stream", stream);
    char *s = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    return s;
}

static int answer_whole(struct srv_req *r, struct llm_req *q)
{
    tl_err err = {0};
    tl_llm_result res = {0};
    int rc = q->chat ? tl_llm_chat(r->srv->llm, q->msgs, q->n_msgs, &q->rq, NULL, NULL, &res, &err)
                     : tl_llm_complete(r->srv->llm, q->prompt, &q->rq, NULL, NULL, &res, &err);
    if (rc < 0)
        return reply_llm_error(r, rc, &err, q->chat);
    char *details = audit_details(&res, false);
    if (!details || (rc = journal(r, q->chat, details, q->digest, &err)) < 0) {
        free(details);
        tl_llm_result_free(&res);
        if (!details)
            return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
        if (rc == TL_ECANCELED)
            return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "internal", NULL,
                                   "the server is shutting down; try again (request id %s)",
                                   r->request_id);
        tl_err_prefix(&err, "audit");
        return srv_reply_tl(r, rc == TL_ESTORE || rc == TL_EIO ? rc : TL_EINTERNAL, &err, NULL);
    }
    free(details);
    char id[96];
    completion_id(r, q->chat, id, sizeof id);
    json_t *text = json_stringn(res.text, res.text_len);
    json_t *choice =
        q->chat ? json_pack("{s:i, s:{s:s, s:o*}, s:s}", "index", 0, "message", "role", "assistant",
                            "content", text, "finish_reason", res.finish_reason)
                : json_pack("{s:i, s:o*, s:s}", "index", 0, "text", text, "finish_reason",
                            res.finish_reason);
    json_t *body = json_pack("{s:s, s:s, s:I, s:s, s:[o*], s:o*}", "id", id, "object",
                             q->chat ? "chat.completion" : "text_completion", "created",
                             (json_int_t)time(NULL), "model", tl_llm_model_id(r->srv->llm),
                             "choices", choice, "usage", usage_json(&res));
    tl_llm_result_free(&res);
    if (!body)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    return srv_reply_json(r, MHD_HTTP_OK, body);
}

/* ---- streaming ------------------------------------------------------------------ */

struct stream {
    struct srv_req *r; /* valid while libmicrohttpd calls the reader (the request is live) */
    tl_llm *llm;
    struct llm_req *q;
    char id[96];
    json_int_t created;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* events queued, the reader took some, done, cancel */
    char *buf;           /* queued event bytes: [off, len) unread */
    size_t off, len, cap;
    bool done;           /* the generation ended: rc, err and res say how */
    bool cancel;         /* the client left: stop generating */
    bool oom;
    int rc;
    tl_err err;
    tl_llm_result res;
    bool ended;          /* the last events (finish, usage, [DONE] or error) are queued */
};

/* Appends bytes to the queue (locked by the caller); oom on failure. */
static void queue_bytes(struct stream *st, const char *a, size_t na, const char *b, size_t nb,
                        const char *c, size_t nc)
{
    if (st->off > 0 && st->off == st->len)
        st->off = st->len = 0;
    size_t need = st->len + na + nb + nc;
    if (need > st->cap && st->off > 0) { /* reclaim what the reader has taken */
        memmove(st->buf, st->buf + st->off, st->len - st->off);
        st->len -= st->off;
        st->off = 0;
        need = st->len + na + nb + nc;
    }
    if (need > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *p = realloc(st->buf, cap);
        if (!p) {
            st->oom = true;
            return;
        }
        st->buf = p;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, a, na);
    memcpy(st->buf + st->len + na, b, nb);
    memcpy(st->buf + st->len + na + nb, c, nc);
    st->len = need;
}

/* Appends "data: JSON\n\n" (locked by the caller); o is stolen. */
static void queue_event(struct stream *st, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s) {
        st->oom = true;
        return;
    }
    queue_bytes(st, "data: ", 6, s, strlen(s), "\n\n", 2);
    free(s);
}

static json_t *chunk(struct stream *st, json_t *choice)
{
    json_t *choices = choice ? json_pack("[o]", choice) : json_array();
    return json_pack("{s:s, s:s, s:I, s:s, s:o*}", "id", st->id, "object",
                     st->q->chat ? "chat.completion.chunk" : "text_completion", "created", st->created,
                     "model", tl_llm_model_id(st->llm), "choices", choices);
}

/* The generation's text callback: one event per piece. Nonzero stops it. */
static int on_piece(const char *text, size_t len, void *ud)
{
    struct stream *st = ud;
    json_t *t = json_stringn(text, len);
    json_t *choice = st->q->chat ? json_pack("{s:i, s:{s:o*}, s:n}", "index", 0, "delta", "content", t,
                                             "finish_reason")
                                 : json_pack("{s:i, s:o*, s:n}", "index", 0, "text", t, "finish_reason");
    json_t *ev = chunk(st, choice);
    pthread_mutex_lock(&st->lock);
    /* a reader that has fallen far behind holds the generation back */
    while (!st->cancel && st->len - st->off > MAX_QUEUED_BYTES)
        pthread_cond_wait(&st->cond, &st->lock);
    queue_event(st, ev);
    bool stop = st->cancel || st->oom;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return stop;
}

static void *generate_main(void *arg)
{
    struct stream *st = arg;
    struct llm_req *q = st->q;
    tl_err err = {0};
    tl_llm_result res = {0};
    int rc = q->chat ? tl_llm_chat(st->llm, q->msgs, q->n_msgs, &q->rq, on_piece, st, &res, &err)
                     : tl_llm_complete(st->llm, q->prompt, &q->rq, on_piece, st, &res, &err);
    pthread_mutex_lock(&st->lock);
    st->rc = rc;
    st->err = err;
    st->res = res;
    st->done = true;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static void stream_free(struct stream *st)
{
    if (st->thread_started) {
        pthread_mutex_lock(&st->lock);
        st->cancel = true;
        pthread_cond_broadcast(&st->cond);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->thread, NULL);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    tl_llm_result_free(&st->res);
    free(st->buf);
    json_decref(st->q->body);
    free(st->q);
    free(st);
}

static void on_stream_free(void *cls)
{
    stream_free(cls);
}

static json_t *error_event(const char *code, const char *msg)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* The generation has ended: journal it, then queue the last events.
 * Called on the connection's thread, unlocked. */
static void finish_stream(struct stream *st)
{
    struct srv_req *r = st->r;
    json_t *evs[3] = {NULL, NULL, NULL};
    size_t n_ev = 0;
    bool journaled = false;
    if (st->rc < 0) {
        srv_log(r, TL_LOG_ERROR, "stream: %s", st->err.msg);
        evs[n_ev++] = error_event("upstream", "the generation failed; the log has the details");
    } else {
        char *details = audit_details(&st->res, true);
        tl_err err = {0};
        int rc = details ? journal(r, st->q->chat, details, st->q->digest, &err) : TL_ENOMEM;
        free(details);
        if (rc < 0) {
            srv_log(r, TL_LOG_ERROR, "stream: the answer was not journaled: %s",
                    err.msg[0] ? err.msg : "out of memory");
            evs[n_ev++] = error_event("internal", "the answer could not be journaled");
        } else {
            journaled = true;
            json_t *choice =
                st->q->chat ? json_pack("{s:i, s:{}, s:s}", "index", 0, "delta", "finish_reason",
                                        st->res.finish_reason)
                            : json_pack("{s:i, s:s, s:s}", "index", 0, "text", "", "finish_reason",
                                        st->res.finish_reason);
            evs[n_ev++] = chunk(st, choice);
            if (st->q->include_usage) {
                json_t *u = chunk(st, NULL);
                if (u)
                    json_object_set_new(u, "usage", usage_json(&st->res));
                evs[n_ev++] = u;
            }
        }
    }
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < n_ev; i++)
        queue_event(st, evs[i]);
    if (journaled) /* [DONE] only after the row is committed */
        queue_bytes(st, "data: [DONE]\n\n", 14, "", 0, "", 0);
    st->ended = true;
    pthread_mutex_unlock(&st->lock);
}

/* libmicrohttpd's content reader: the next bytes of the event stream. */
static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        if (st->len > st->off) {
            size_t n = st->len - st->off < max ? st->len - st->off : max;
            memcpy(out, st->buf + st->off, n);
            st->off += n;
            if (st->off == st->len)
                st->off = st->len = 0;
            pthread_cond_broadcast(&st->cond);
            pthread_mutex_unlock(&st->lock);
            return (ssize_t)n;
        }
        if (st->ended) {
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (st->oom) {
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->done) {
            pthread_mutex_unlock(&st->lock);
            finish_stream(st);
            pthread_mutex_lock(&st->lock);
            continue;
        }
        pthread_cond_wait(&st->cond, &st->lock);
    }
}

static int answer_stream(struct srv_req *r, struct llm_req *q)
{
    struct stream *st = calloc(1, sizeof *st);
    if (!st) {
        json_decref(q->body);
        free(q);
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    }
    st->r = r;
    st->llm = r->srv->llm;
    st->q = q;
    st->created = (json_int_t)time(NULL);
    completion_id(r, q->chat, st->id, sizeof st->id);
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    if (q->chat) { /* OpenAI's first chunk names the role */
        json_t *first = chunk(st, json_pack("{s:i, s:{s:s, s:s}, s:n}", "index", 0, "delta", "role",
                                            "assistant", "content", "", "finish_reason"));
        queue_event(st, first);
    }
    if (pthread_create(&st->thread, NULL, generate_main, st) != 0) {
        stream_free(st);
        return srv_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "internal", NULL,
                               "cannot start a generation thread (request id %s)", r->request_id);
    }
    st->thread_started = true;
    /* Wait for the first piece of text or the end, so that a generation that
     * fails at once (the prompt too long, the remote down) is a plain HTTP
     * error rather than a stream holding an error. */
    size_t queued_before = st->len;
    pthread_mutex_lock(&st->lock);
    while (!st->done && st->len == queued_before)
        pthread_cond_wait(&st->cond, &st->lock);
    bool failed = st->done && st->rc < 0;
    pthread_mutex_unlock(&st->lock);
    if (failed) {
        int rc = st->rc;
        tl_err err = st->err;
        bool chat = q->chat;
        stream_free(st);
        return reply_llm_error(r, rc, &err, chat);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, st, on_stream_free);
    if (!resp) {
        stream_free(st);
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* proxies (nginx) must pass events on as they come */
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    if (atomic_load_explicit(&r->srv->draining, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp); /* the connection holds it; on_stream_free runs when it lets go */
    if (ok != MHD_YES)
        return -1;
    r->status = MHD_HTTP_OK;
    return 0;
}

/* ---- the handlers ---------------------------------------------------------------- */

static int completions(struct srv_req *r, bool chat)
{
    if (!r->srv->llm)
        return no_llm(r);
    struct llm_req *q = calloc(1, sizeof *q);
    if (!q)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    if (parse_body(r, chat, q) < 0) {
        json_decref(q->body);
        free(q);
        return 0;
    }
    if (q->stream)
        return answer_stream(r, q); /* q is the stream's now */
    int rc = answer_whole(r, q);
    json_decref(q->body);
    free(q);
    return rc;
}

int srv_h_llm_chat(struct srv_req *r)
{
    return completions(r, true);
}

int srv_h_llm_complete(struct srv_req *r)
{
    return completions(r, false);
}

int srv_h_llm_models(struct srv_req *r)
{
    if (!r->srv->llm)
        return no_llm(r);
    json_t *body = json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id",
                             tl_llm_model_id(r->srv->llm), "object", "model", "created", (json_int_t)0,
                             "owned_by", "teller");
    if (!body)
        return srv_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL, "out of memory");
    return srv_reply_json(r, MHD_HTTP_OK, body);
}

