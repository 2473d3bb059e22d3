/*
 * backend_remote.c - the remote backend of tl_llm: an OpenAI-compatible
 * server (vLLM, llama.cpp's server, Ollama, another Teller) over libcurl.
 *
 * One HTTP request per call: POST {llm.remote_url}/chat/completions (or
 * /completions). With a text callback the request streams ("stream": true):
 * the answer arrives as server-sent events, "data: {chunk}" lines ended by a
 * blank line and finally "data: [DONE]", parsed as bytes come (events split
 * anywhere across reads) and forwarded piece by piece; usage comes in a last
 * chunk ("stream_options": {"include_usage": true}). Without a callback the
 * request does not stream and the whole JSON answer is read.
 *
 * Secrets. The API key (read from llm.remote_key_file at open) is sent as a
 * bearer token and appears in no message or log line. URLs in messages are
 * shown without user:password and without the query. Redirects are not
 * followed (a redirect would carry the key elsewhere), and only http and
 * https are spoken.
 *
 * Errors name the URL and say what happened: the connection refused, the
 * time out (llm.timeout_ms covers the whole request), the server's own error
 * message with its HTTP status, or where its answer stopped being OpenAI's
 * format. Server answers are bounded (MAX_BODY) so a broken or hostile
 * server cannot grow our memory without end.
 */
#include "backend_internal.h"

#include <teller/json.h>

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (8u << 20)   /* a non-streamed answer or an error body */
#define MAX_EVENT (1u << 20)  /* one server-sent event */
#define MAX_KEY_BYTES 4096
#define MAX_URL_BYTES 2048
#define CONNECT_TIMEOUT_MS 10000

struct remote {
    char base[MAX_URL_BYTES];    /* without a trailing slash */
    char shown[MAX_URL_BYTES];   /* base as messages show it: no userinfo, no query */
    char *auth_header;           /* "Authorization: Bearer KEY", or NULL; wiped at close */
    bool discovered;             /* model_id came from the configuration or GET /models */
    pthread_mutex_t lock;        /* model_id discovery */
};

/* ---- URLs ----------------------------------------------------------------- */

/* base without "user:password@" and without "?query" or "#fragment". */
static void shown_url(const char *base, char *out, size_t cap)
{
    const char *scheme_end = strstr(base, "://");
    const char *host = scheme_end ? scheme_end + 3 : base;
    const char *path = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < path; p++)
        if (*p == '@')
            at = p;
    size_t head = (size_t)(host - base);
    const char *rest = at ? at + 1 : host;
    size_t rest_len = strcspn(rest, "?#");
    snprintf(out, cap, "%.*s%.*s", (int)head, base, (int)rest_len, rest);
}

/* ---- a request and its answer ----------------------------------------------- */

struct call {
    CURL *h;
    const struct remote *r;
    char url[MAX_URL_BYTES + 32];
    char shown[MAX_URL_BYTES + 32];
    bool stream;
    bool chat;           /* chat chunks carry delta.content; completions carry text */
    tl_llm_text_fn on_text;
    void *ud;
    long status;         /* HTTP status, once known */
    /* everything read when not streaming or when the status is an error */
    struct tl__llm_text body;
    /* streaming: the line being assembled, the event's data so far */
    struct tl__llm_text line, data;
    bool done;           /* [DONE] seen */
    bool cancelled;      /* on_text asked to stop */
    bool too_big;
    int fail;            /* a TL_E* found while parsing a stream */
    tl_err *err;
    /* what the answer said */
    struct tl__llm_text text;
    char finish[16];
    int64_t prompt_tokens, completion_tokens;
};

/* Parses one event's data (an OpenAI chunk). Returns 0, or a TL_E* with
 * c->err filled. */
static int on_event(struct call *c, const char *data, size_t n)
{
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
        c->done = true;
        return 0;
    }
    json_error_t je;
    json_t *v = json_loadb(data, n, 0, &je);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return tl_err_set(c->err, TL_EPARSE,
                          "remote LLM %s: an event of the stream is not a JSON object (%s)", c->shown,
                          v ? "another JSON value" : je.text);
    }
    json_t *e = json_object_get(v, "error");
    if (e) {
        json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
        int rc = tl_err_set(c->err, TL_EIO, "remote LLM %s failed in the stream: %.300s", c->shown,
                            json_is_string(m) ? json_string_value(m) : "(no message)");
        json_decref(v);
        return rc;
    }
    json_t *u = json_object_get(v, "usage");
    if (json_is_object(u)) {
        json_t *pt = json_object_get(u, "prompt_tokens"), *ct = json_object_get(u, "completion_tokens");
        if (json_is_integer(pt))
            c->prompt_tokens = json_integer_value(pt);
        if (json_is_integer(ct))
            c->completion_tokens = json_integer_value(ct);
    }
    json_t *choices = json_object_get(v, "choices");
    json_t *ch = json_is_array(choices) ? json_array_get(choices, 0) : NULL;
    int rc = 0;
    if (json_is_object(ch)) {
        json_t *piece = c->chat ? json_object_get(json_object_get(ch, "delta"), "content")
                                : json_object_get(ch, "text");
        if (json_is_string(piece) && json_string_length(piece) > 0 && !c->cancelled) {
            const char *s = json_string_value(piece);
            size_t len = json_string_length(piece);
            if ((rc = tl__llm_text_put(&c->text, s, len)) < 0)
                rc = tl_err_set(c->err, rc, "remote LLM %s: the answer is too long", c->shown);
            else if (c->on_text && c->on_text(s, len, c->ud) != 0)
                c->cancelled = true;
        }
        json_t *fr = json_object_get(ch, "finish_reason");
        if (json_is_string(fr))
            snprintf(c->finish, sizeof c->finish, "%s", json_string_value(fr));
    } else if (!json_is_array(choices) && !json_is_object(u)) {
        rc = tl_err_set(c->err, TL_EPARSE,
                        "remote LLM %s: a chunk of the stream has neither choices nor usage",
                        c->shown);
    }
    json_decref(v);
    return rc;
}

/* One line of the event stream (without its line end). */
static int on_line(struct call *c, const char *s, size_t n)
{
    if (n == 0) { /* a blank line ends the event */
        if (c->data.n == 0)
            return 0;
        int rc = on_event(c, c->data.p, c->data.n);
        c->data.n = 0;
        return rc;
    }
    if (s[0] == ':') /* a comment (keep-alive) */
        return 0;
    if (n >= 5 && memcmp(s, "data:", 5) == 0) {
        s += 5;
        n -= 5;
        if (n && s[0] == ' ') {
            s++;
            n--;
        }
        if (c->data.n && tl__llm_text_put(&c->data, "\n", 1) < 0)
            return tl_err_set(c->err, TL_ETOOBIG, "remote LLM %s: an event is over %u bytes",
                              c->shown, MAX_EVENT);
        if (c->data.n + n > MAX_EVENT || tl__llm_text_put(&c->data, s, n) < 0)
            return tl_err_set(c->err, TL_ETOOBIG, "remote LLM %s: an event is over %u bytes",
                              c->shown, MAX_EVENT);
        /* servers end each event with a blank line; "data: [DONE]" is
         * sometimes the stream's last bytes without one */
        return 0;
    }
    return 0; /* event:, id:, retry: and unknown fields are ignored, as the spec says */
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct call *c = ud;
    size_t n = size * nmemb;
    if (!c->status)
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    if (!c->stream || c->status != 200) {
        if (c->body.n + n > MAX_BODY) {
            c->too_big = true;
            return 0;
        }
        if (tl__llm_text_put(&c->body, ptr, n) < 0) {
            c->fail = tl_err_set(c->err, TL_ENOMEM, "remote LLM %s: out of memory", c->shown);
            return 0;
        }
        return n;
    }
    /* streaming: split into lines across reads */
    for (size_t i = 0; i < n; i++) {
        char ch = ptr[i];
        if (ch == '\n') {
            size_t len = c->line.n;
            if (len && c->line.p[len - 1] == '\r')
                len--;
            int rc = on_line(c, c->line.p ? c->line.p : "", len);
            c->line.n = 0;
            if (rc < 0) {
                c->fail = rc;
                return 0;
            }
            if (c->cancelled)
                return 0; /* ends the transfer: the caller has what it wanted */
            continue;
        }
        if (c->line.n + 1 > MAX_EVENT || tl__llm_text_put(&c->line, &ch, 1) < 0) {
            c->fail = tl_err_set(c->err, TL_ETOOBIG, "remote LLM %s: a line of the stream is over %u "
                                 "bytes", c->shown, MAX_EVENT);
            return 0;
        }
    }
    return n;
}

/* The server's error message from an error answer's body: OpenAI's
 * {"error":{"message"}}, {"error":"..."}, FastAPI's {"detail":...}, or the
 * start of the text. */
static void error_message(const struct tl__llm_text *body, char *out, size_t cap)
{
    out[0] = '\0';
    if (!body->n)
        return;
    json_t *v = json_loadb(body->p, body->n, 0, NULL);
    if (v) {
        json_t *e = json_object_get(v, "error");
        json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
        if (!json_is_string(m))
            m = json_object_get(v, "detail");
        if (!json_is_string(m))
            m = json_object_get(v, "message");
        if (json_is_string(m))
            snprintf(out, cap, "%s", json_string_value(m));
        json_decref(v);
        if (out[0])
            return;
    }
    size_t k = 0;
    for (size_t i = 0; i < body->n && k + 1 < cap && k < 200; i++) {
        unsigned char ch = (unsigned char)body->p[i];
        out[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
    }
    out[k] = '\0';
}

/* Reads a non-streamed answer. */
static int parse_whole(struct call *c)
{
    json_error_t je;
    json_t *v = json_loadb(c->body.p ? c->body.p : "", c->body.n, 0, &je);
    if (!json_is_object(v)) {
        json_decref(v);
        return tl_err_set(c->err, TL_EPARSE, "remote LLM %s answered what is not a JSON object (%s)",
                          c->shown, v ? "another JSON value" : je.text);
    }
    json_t *ch = json_array_get(json_object_get(v, "choices"), 0);
    json_t *content = c->chat ? json_object_get(json_object_get(ch, "message"), "content")
                              : json_object_get(ch, "text");
    if (!json_is_string(content)) {
        json_decref(v);
        return tl_err_set(c->err, TL_EPARSE, "remote LLM %s answered without choices[0].%s",
                          c->shown, c->chat ? "message.content" : "text");
    }
    int rc = tl__llm_text_put(&c->text, json_string_value(content), json_string_length(content));
    if (rc < 0) {
        json_decref(v);
        return tl_err_set(c->err, rc, "remote LLM %s: out of memory", c->shown);
    }
    json_t *fr = json_object_get(ch, "finish_reason");
    if (json_is_string(fr))
        snprintf(c->finish, sizeof c->finish, "%s", json_string_value(fr));
    json_t *u = json_object_get(v, "usage");
    json_t *pt = json_object_get(u, "prompt_tokens"), *ct = json_object_get(u, "completion_tokens");
    if (json_is_integer(pt))
        c->prompt_tokens = json_integer_value(pt);
    if (json_is_integer(ct))
        c->completion_tokens = json_integer_value(ct);
    json_decref(v);
    return 0;
}

/* Runs one request: method POST with body (JSON text), or GET when body is
 * NULL. Fills c's answer fields; returns 0 or a TL_E* with c->err filled. */
static int perform(tl_llm *l, struct call *c, const char *path, const char *body)
{
    const struct remote *r = l->impl;
    snprintf(c->url, sizeof c->url, "%s%s", r->base, path);
    snprintf(c->shown, sizeof c->shown, "%s%s", r->shown, path);
    c->h = curl_easy_init();
    if (!c->h)
        return tl_err_set(c->err, TL_ENOMEM, "remote LLM %s: cannot make a curl handle", c->shown);
    struct curl_slist *hdr = NULL, *h2;
    if ((h2 = curl_slist_append(hdr, "Content-Type: application/json")))
        hdr = h2;
    if ((h2 = curl_slist_append(hdr, c->stream ? "Accept: text/event-stream" : "Accept: application/json")))
        hdr = h2;
    if (r->auth_header && (h2 = curl_slist_append(hdr, r->auth_header)))
        hdr = h2;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c->h, CURLOPT_URL, c->url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)l->timeout_ms);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(l->timeout_ms < CONNECT_TIMEOUT_MS ? l->timeout_ms : CONNECT_TIMEOUT_MS));
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_USERAGENT, "teller");
    if (body) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode cc = curl_easy_perform(c->h);
    if (!c->status)
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c->h);
    c->h = NULL;

    if (c->fail < 0)
        return c->fail;
    if (cc == CURLE_WRITE_ERROR && c->cancelled)
        return 0;
    if (c->too_big)
        return tl_err_set(c->err, TL_ETOOBIG, "remote LLM %s answered more than %u bytes", c->shown,
                          MAX_BODY);
    if (cc != CURLE_OK) {
        const char *what = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        if (cc == CURLE_OPERATION_TIMEDOUT)
            return tl_err_set(c->err, TL_EIO, "remote LLM %s timed out after %lld ms (llm.timeout_ms): %s",
                              c->shown, (long long)l->timeout_ms, what);
        return tl_err_set(c->err, TL_EIO, "remote LLM %s could not be reached: %s", c->shown, what);
    }
    if (c->status != 200) {
        char msg[400];
        error_message(&c->body, msg, sizeof msg);
        int code = c->status == 429 ? TL_ERATELIMIT : TL_EIO;
        const char *hint = c->status == 401 || c->status == 403 ? " (check llm.remote_key_file)" : "";
        return tl_err_set(c->err, code, "remote LLM %s answered HTTP %ld%s: %s", c->shown, c->status,
                          hint, msg[0] ? msg : "(no message)");
    }
    if (!c->stream)
        return body ? parse_whole(c) : 0;
    /* the stream may end with an event not followed by a blank line */
    if (c->line.n) {
        int rc = on_line(c, c->line.p, c->line.n);
        c->line.n = 0;
        if (rc < 0)
            return rc;
    }
    if (c->data.n) {
        int rc = on_event(c, c->data.p, c->data.n);
        c->data.n = 0;
        if (rc < 0)
            return rc;
    }
    if (!c->done && !c->cancelled)
        return tl_err_set(c->err, TL_EIO, "remote LLM %s: the stream ended before data: [DONE]",
                          c->shown);
    return 0;
}

static void call_free(struct call *c)
{
    free(c->body.p);
    free(c->line.p);
    free(c->data.p);
    free(c->text.p);
}

/* Finds the model to ask for when llm.remote_model is empty: the first of
 * GET {url}/models. */
static int discover_model(tl_llm *l, tl_err *err)
{
    struct remote *r = l->impl;
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    if (!r->discovered) {
        struct call c = {.r = r, .err = err};
        rc = perform(l, &c, "/models", NULL);
        if (rc == 0) {
            json_t *v = json_loadb(c.body.p ? c.body.p : "", c.body.n, 0, NULL);
            json_t *id = json_object_get(json_array_get(json_object_get(v, "data"), 0), "id");
            if (json_is_string(id) && json_string_length(id) < sizeof l->model_id) {
                snprintf(l->model_id, sizeof l->model_id, "%s", json_string_value(id));
                r->discovered = true;
            } else {
                rc = tl_err_set(err, TL_EPARSE,
                                "remote LLM %s lists no model (data[0].id); set llm.remote_model",
                                c.shown);
            }
            json_decref(v);
        }
        call_free(&c);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* The request body shared by chat and completions. */
static json_t *request_body(const tl_llm *l, const tl_llm_request *req, bool stream)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "model", json_string(l->model_id));
    json_object_set_new(o, "max_tokens",
                        json_integer(req->max_tokens > 0 ? req->max_tokens : l->max_tokens_default));
    json_object_set_new(o, "temperature", json_real(req->temperature > 0 ? req->temperature : 0.0));
    if (req->top_p > 0 && req->top_p < 1)
        json_object_set_new(o, "top_p", json_real(req->top_p));
    /* beyond OpenAI's fields, understood by vLLM, llama.cpp and Teller */
    if (req->top_k > 0)
        json_object_set_new(o, "top_k", json_integer(req->top_k));
    if (req->min_p > 0)
        json_object_set_new(o, "min_p", json_real(req->min_p));
    if (req->repeat_penalty > 0 && req->repeat_penalty != 1.0f)
        json_object_set_new(o, "repeat_penalty", json_real(req->repeat_penalty));
    if (req->has_seed)
        json_object_set_new(o, "seed", json_integer((json_int_t)(req->seed & INT64_MAX)));
    if (req->n_stop) {
        json_t *a = json_array();
        for (size_t i = 0; i < req->n_stop; i++)
            json_array_append_new(a, json_string(req->stop[i]));
        json_object_set_new(o, "stop", a);
    }
    if (stream) {
        json_object_set_new(o, "stream", json_true());
        json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    return o;
}

static int run(tl_llm *l, json_t *body, bool chat, tl_llm_text_fn on_text, void *ud,
               tl_llm_result *res, tl_err *err)
{
    struct remote *r = l->impl;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return tl_err_set(err, TL_ENOMEM, "remote LLM %s: out of memory", r->shown);
    struct call c = {.r = r, .stream = on_text != NULL, .chat = chat, .on_text = on_text, .ud = ud,
                     .err = err};
    int rc = perform(l, &c, chat ? "/chat/completions" : "/completions", text);
    free(text);
    if (rc == 0) {
        if (!c.text.p && (c.text.p = calloc(1, 1)) == NULL)
            rc = tl_err_set(err, TL_ENOMEM, "remote LLM %s: out of memory", r->shown);
    }
    if (rc == 0) {
        res->text = c.text.p;
        res->text_len = c.text.n;
        c.text.p = NULL;
        res->finish_reason = strcmp(c.finish, "length") == 0 ? "length" : "stop";
        res->prompt_tokens = c.prompt_tokens;
        res->completion_tokens = c.completion_tokens;
    }
    call_free(&c);
    return rc;
}

static int remote_chat(tl_llm *l, const tl_llm_chat_msg *msgs, size_t n, const tl_llm_request *req,
                       tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err)
{
    int rc = discover_model(l, err);
    if (rc < 0)
        return rc;
    json_t *body = request_body(l, req, on_text != NULL);
    json_t *a = json_array();
    for (size_t i = 0; body && a && i < n; i++) {
        json_t *m = json_pack("{s:s, s:s}", "role", msgs[i].role, "content", msgs[i].content);
        if (!m) {
            json_decref(a);
            json_decref(body);
            return tl_err_set(err, TL_EINVAL, "llm: message %zu is not valid UTF-8", i);
        }
        json_array_append_new(a, m);
    }
    if (body && a)
        json_object_set_new(body, "messages", a);
    else {
        json_decref(a);
        json_decref(body);
        body = NULL;
    }
    return run(l, body, true, on_text, ud, res, err);
}

static int remote_complete(tl_llm *l, const char *prompt, const tl_llm_request *req,
                           tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err)
{
    int rc = discover_model(l, err);
    if (rc < 0)
        return rc;
    json_t *body = request_body(l, req, on_text != NULL);
    json_t *p = json_string(prompt);
    if (!p) {
        json_decref(body);
        return tl_err_set(err, TL_EINVAL, "llm: the prompt is not valid UTF-8");
    }
    if (body)
        json_object_set_new(body, "prompt", p);
    else
        json_decref(p);
    return run(l, body, false, on_text, ud, res, err);
}

static void remote_close(tl_llm *l)
{
    struct remote *r = l->impl;
    if (!r)
        return;
    if (r->auth_header) {
        explicit_bzero(r->auth_header, strlen(r->auth_header));
        free(r->auth_header);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
    l->impl = NULL;
    curl_global_cleanup();
}

static const struct tl__llm_ops remote_ops = {
    .chat = remote_chat,
    .complete = remote_complete,
    .close = remote_close,
};

/* Reads the API key: the file's first line, trimmed. */
static int read_key(const char *path, char **out, tl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tl_err_set(err, TL_EIO, "llm.remote_key_file %s: %s", path, strerror(errno));
    char buf[MAX_KEY_BYTES + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    size_t start = 0;
    while (start < n && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\r' ||
                         buf[start] == '\n'))
        start++;
    size_t end = start;
    while (end < n && buf[end] != '\n' && buf[end] != '\r')
        end++;
    while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
        end--;
    int rc = 0;
    if (n > MAX_KEY_BYTES)
        rc = tl_err_set(err, TL_EINVAL, "llm.remote_key_file %s is over %d bytes", path, MAX_KEY_BYTES);
    else if (end == start)
        rc = tl_err_set(err, TL_EINVAL, "llm.remote_key_file %s holds no key", path);
    for (size_t i = start; rc == 0 && i < end; i++)
        if ((unsigned char)buf[i] < 0x21 || (unsigned char)buf[i] > 0x7e)
            rc = tl_err_set(err, TL_EINVAL,
                            "llm.remote_key_file %s: the key holds a character that cannot go in "
                            "an HTTP header (byte %zu)",
                            path, i - start);
    if (rc == 0) {
        size_t cap = 32 + (end - start);
        char *h = malloc(cap);
        if (!h)
            rc = tl_err_set(err, TL_ENOMEM, "llm: out of memory");
        else {
            snprintf(h, cap, "Authorization: Bearer %.*s", (int)(end - start), buf + start);
            *out = h;
        }
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

int tl__llm_remote_open(const tl_config *cfg, tl_llm *l, tl_err *err)
{
    const char *url = tl_config_get(cfg, "llm.remote_url");
    const char *model = tl_config_get(cfg, "llm.remote_model");
    const char *key_file = tl_config_get(cfg, "llm.remote_key_file");
    if (!url || !*url)
        return tl_err_set(err, TL_EINVAL,
                          "llm.remote_url is empty: llm.backend = remote needs the server's base URL, "
                          "such as http://host:8000/v1");
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return tl_err_set(err, TL_EINVAL, "llm.remote_url must start with http:// or https://");
    if (len >= MAX_URL_BYTES)
        return tl_err_set(err, TL_EINVAL, "llm.remote_url is over %d bytes", MAX_URL_BYTES);
    if (model && strlen(model) >= TL__LLM_MODEL_ID_MAX)
        return tl_err_set(err, TL_EINVAL, "llm.remote_model is over %d bytes", TL__LLM_MODEL_ID_MAX - 1);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return tl_err_set(err, TL_EINTERNAL, "llm: libcurl failed to initialize");
    struct remote *r = calloc(1, sizeof *r);
    if (!r) {
        curl_global_cleanup();
        return tl_err_set(err, TL_ENOMEM, "llm: out of memory");
    }
    pthread_mutex_init(&r->lock, NULL);
    l->impl = r;
    l->ops = &remote_ops;
    memcpy(r->base, url, len);
    r->base[len] = '\0';
    shown_url(r->base, r->shown, sizeof r->shown);
    if (model && *model) {
        snprintf(l->model_id, sizeof l->model_id, "%s", model);
        r->discovered = true;
    } else {
        snprintf(l->model_id, sizeof l->model_id, "remote");
    }
    if (key_file && *key_file)
        return read_key(key_file, &r->auth_header, err);
    return 0;
}
