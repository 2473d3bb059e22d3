/*
 * backend.c - the tl_llm interface (llm_backend.h) and its embedded backend:
 * one model shared by a small pool of sessions.
 *
 * Pool. Each session is one KV cache that one request uses at a time;
 * llm.sessions of them serve that many requests at once, and a request that
 * finds none free waits (up to llm.timeout_ms) rather than failing, so a
 * burst queues instead of erroring. A free session is picked by the longest
 * prefix its cache shares with the new prompt: a conversation's next turn
 * repeats the whole previous prompt and answer, and a system prompt is the
 * same for every customer, so most of a prompt's prefill is often already
 * done. The session keeps the ids whose keys and values its cache holds (the
 * prompt and every generated token but the last, which is sampled and never
 * decoded); the next request rewinds the cache to the shared prefix and
 * prefills only the rest. The last prompt token is always decoded again,
 * since its logits are the ones sampled from. The repetition penalty looks
 * back only over what tl_llm_generate is given, so with a penalty the cache
 * is not reused and the whole prompt is prefilled.
 */
#include "backend_internal.h"
#include "llm_internal.h"

#include <teller/llm_tokenizer.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEXT_BYTES (64u << 20)
#define MAX_SESSIONS 64
#define REPEAT_LAST_N 64

int tl__llm_text_put(struct tl__llm_text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > MAX_TEXT_BYTES)
        return TL_ETOOBIG;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p)
            return TL_ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
    return 0;
}

/* ---- the embedded backend ------------------------------------------------- */

struct slot {
    tl_llm_session *s;
    int32_t *ids; /* the ids whose keys and values the cache holds, in order */
    size_t n_ids, cap_ids;
    bool busy;
};

struct embedded {
    tl_llm_model *m;
    const tl_tokenizer *tok;
    int chat_kind;     /* enum tl_llm_chat_kind; UNKNOWN: chat is refused, completions work */
    bool add_bos;
    struct slot *slots;
    size_t n_slots;
    pthread_mutex_t lock;
    pthread_cond_t freed; /* on the monotonic clock */
};

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    return i;
}

/* A free session, the one whose cache shares the longest prefix with ids;
 * waits up to timeout_ms for one. */
static int acquire(struct embedded *e, int64_t timeout_ms, const int32_t *ids, size_t n,
                   struct slot **out, tl_err *err)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->lock);
    for (;;) {
        struct slot *best = NULL;
        size_t best_len = 0;
        for (size_t i = 0; i < e->n_slots; i++) {
            struct slot *sl = &e->slots[i];
            if (sl->busy)
                continue;
            size_t len = common_prefix(sl->ids, sl->n_ids, ids, n);
            if (!best || len > best_len) {
                best = sl;
                best_len = len;
            }
        }
        if (best) {
            best->busy = true;
            pthread_mutex_unlock(&e->lock);
            *out = best;
            return 0;
        }
        int rc = pthread_cond_timedwait(&e->freed, &e->lock, &until);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&e->lock);
            return tl_err_set(err, TL_ECANCELED,
                              "llm: all %zu sessions stayed busy for %lld ms (llm.timeout_ms); "
                              "raise llm.sessions or try again",
                              e->n_slots, (long long)timeout_ms);
        }
    }
}

static void release(struct embedded *e, struct slot *sl)
{
    pthread_mutex_lock(&e->lock);
    sl->busy = false;
    pthread_cond_signal(&e->freed);
    pthread_mutex_unlock(&e->lock);
}

/* Forwards generated text to the caller's callback and keeps a copy. */
struct collect {
    struct tl__llm_text text;
    tl_llm_text_fn fn;
    void *ud;
    int rc; /* TL_ENOMEM when the copy could not grow */
};

static int collect_text(const char *s, size_t n, void *ud)
{
    struct collect *c = ud;
    int rc = tl__llm_text_put(&c->text, s, n);
    if (rc < 0) {
        c->rc = rc;
        return 1;
    }
    return c->fn ? c->fn(s, n, c->ud) : 0;
}

static uint64_t fresh_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
    }
    return seed;
}

static int ids_reserve(struct slot *sl, size_t n)
{
    if (n <= sl->cap_ids)
        return 0;
    int32_t *p = realloc(sl->ids, n * sizeof *p);
    if (!p)
        return TL_ENOMEM;
    sl->ids = p;
    sl->cap_ids = n;
    return 0;
}

/* Generates after the prompt ids[0..n) on a pooled session. */
static int embedded_run(tl_llm *l, const int32_t *ids, size_t n, const char *const *tmpl_stops,
                        const tl_llm_request *req, tl_llm_text_fn on_text, void *ud,
                        tl_llm_result *res, tl_err *err)
{
    struct embedded *e = l->impl;
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "llm: the prompt gives no tokens");
    struct slot *sl = NULL;
    int rc = acquire(e, l->timeout_ms, ids, n, &sl, err);
    if (rc < 0)
        return rc;
    tl_llm_session *s = sl->s;
    int n_ctx = tl_llm_session_n_ctx(s);
    if (n >= (size_t)n_ctx) {
        release(e, sl);
        return tl_err_set(err, TL_ETOOBIG,
                          "llm: the prompt of %zu tokens does not fit in the context of %d "
                          "positions (llm.ctx) with room for an answer",
                          n, n_ctx);
    }
    /* every generated token but the last takes a position */
    size_t room = (size_t)n_ctx - n + 1;
    size_t max_tokens = req->max_tokens > 0 ? (size_t)req->max_tokens : (size_t)l->max_tokens_default;
    if (max_tokens > room)
        max_tokens = room;

    tl_llm_gen_params gp = {0};
    gp.sampler.temperature = req->temperature;
    gp.sampler.top_k = req->top_k;
    gp.sampler.top_p = req->top_p;
    gp.sampler.min_p = req->min_p;
    gp.sampler.repeat_penalty = req->repeat_penalty;
    bool penalty = req->repeat_penalty > 0 && req->repeat_penalty != 1.0f;
    gp.sampler.repeat_last_n = penalty ? REPEAT_LAST_N : 0;
    gp.sampler.seed = req->has_seed ? req->seed : fresh_seed();
    gp.max_tokens = (int)max_tokens;
    const char *stops[16 + TL_LLM_MAX_STOP];
    size_t n_stop = 0;
    for (size_t i = 0; tmpl_stops && tmpl_stops[i] && n_stop < 16; i++)
        stops[n_stop++] = tmpl_stops[i];
    for (size_t i = 0; i < req->n_stop; i++)
        stops[n_stop++] = req->stop[i];
    gp.stop = stops;
    gp.n_stop = n_stop;

    /* the cache will hold ids and then the generated ids but the last */
    if ((rc = ids_reserve(sl, n + max_tokens)) < 0) {
        release(e, sl);
        return tl_err_set(err, rc, "llm: out of memory");
    }
    size_t keep = penalty ? 0 : common_prefix(sl->ids, sl->n_ids, ids, n);
    if (keep >= n)
        keep = n - 1; /* the last prompt token's logits are needed */
    if (keep > (size_t)tl_llm_session_pos(s))
        keep = 0; /* never past what the cache holds */
    s->pos = (int)keep; /* rewinding is free: positions past pos are overwritten before read */
    memmove(sl->ids, ids, n * sizeof *ids);
    sl->n_ids = 0; /* until the generation says what the cache holds */
    gp.ids_out = sl->ids + n;
    gp.ids_cap = max_tokens;

    struct collect c = {.fn = on_text, .ud = ud};
    tl_llm_gen_stats st = {0};
    rc = tl_llm_generate(s, ids + keep, n - keep, &gp, collect_text, &c, &st, err);
    if (rc == 0 && c.rc < 0)
        rc = tl_err_set(err, c.rc, "llm: the answer outgrew %u bytes", MAX_TEXT_BYTES);
    if (rc == 0) {
        size_t held = st.n_gen > 0 ? n + st.n_gen - 1 : n;
        if (st.n_gen <= max_tokens && (size_t)tl_llm_session_pos(s) == held)
            sl->n_ids = held;
        else
            tl_llm_session_reset(s);
    } else {
        tl_llm_session_reset(s);
    }
    release(e, sl);
    if (rc < 0) {
        free(c.text.p);
        return rc;
    }
    if (!c.text.p && (c.text.p = calloc(1, 1)) == NULL)
        return tl_err_set(err, TL_ENOMEM, "llm: out of memory");
    res->text = c.text.p;
    res->text_len = c.text.n;
    res->finish_reason = st.stop == TL_LLM_STOP_MAX_TOKENS || st.stop == TL_LLM_STOP_CONTEXT
                             ? "length"
                             : "stop";
    res->prompt_tokens = (int64_t)n;
    res->completion_tokens = (int64_t)st.n_gen;
    return 0;
}

static int embedded_encode(struct embedded *e, const char *text, bool special, int32_t **ids,
                           size_t *n, tl_err *err)
{
    unsigned flags = (e->add_bos ? TL_TOK_ADD_BOS : 0) | (special ? TL_TOK_PARSE_SPECIAL : 0);
    int rc = tl_tok_encode(e->tok, text, strlen(text), flags, ids, n, err);
    if (rc < 0)
        tl_err_prefix(err, "llm: prompt");
    return rc;
}

static int embedded_chat(tl_llm *l, const tl_llm_chat_msg *msgs, size_t n_msgs,
                         const tl_llm_request *req, tl_llm_text_fn on_text, void *ud,
                         tl_llm_result *res, tl_err *err)
{
    struct embedded *e = l->impl;
    if (e->chat_kind == TL_CHAT_UNKNOWN)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "llm: the chat template of %s is of a family Teller does not render; "
                          "name one with llm.chat_template (chatml, llama3, llama2, ...)",
                          l->model_id);
    char *prompt = NULL;
    size_t len = 0;
    int rc = tl_llm_chat_apply(e->chat_kind, msgs, n_msgs, true, &prompt, &len, err);
    if (rc < 0)
        return rc;
    int32_t *ids = NULL;
    size_t n = 0;
    /* the template's markers (<|im_start|>...) are control tokens */
    rc = embedded_encode(e, prompt, true, &ids, &n, err);
    free(prompt);
    if (rc == 0)
        rc = embedded_run(l, ids, n, tl_llm_chat_stops(e->chat_kind), req, on_text, ud, res, err);
    free(ids);
    return rc;
}

static int embedded_complete(tl_llm *l, const char *prompt, const tl_llm_request *req,
                             tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err)
{
    struct embedded *e = l->impl;
    int32_t *ids = NULL;
    size_t n = 0;
    /* raw text stays text: "<|im_end|>" typed by a user is not a control token */
    int rc = embedded_encode(e, prompt, false, &ids, &n, err);
    if (rc == 0)
        rc = embedded_run(l, ids, n, NULL, req, on_text, ud, res, err);
    free(ids);
    return rc;
}

static void embedded_close(tl_llm *l)
{
    struct embedded *e = l->impl;
    if (!e)
        return;
    for (size_t i = 0; i < e->n_slots; i++) {
        tl_llm_session_free(e->slots[i].s);
        free(e->slots[i].ids);
    }
    free(e->slots);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->freed);
    tl_llm_model_free(e->m);
    free(e);
    l->impl = NULL;
}

static const struct tl__llm_ops embedded_ops = {
    .chat = embedded_chat,
    .complete = embedded_complete,
    .close = embedded_close,
};

static int config_int(const tl_config *cfg, const char *key, int64_t lo, int64_t hi, int64_t *out,
                      tl_err *err)
{
    int rc = tl_config_get_int(cfg, key, out, err);
    if (rc < 0)
        return rc;
    if (*out < lo || *out > hi)
        return tl_err_set(err, TL_EINVAL, "%s = %lld is out of range [%lld, %lld]", key,
                          (long long)*out, (long long)lo, (long long)hi);
    return 0;
}

static const char *config_str(const tl_config *cfg, const char *key)
{
    const char *v = tl_config_get(cfg, key);
    return v ? v : "";
}

static int embedded_open(const tl_config *cfg, tl_llm *l, tl_err *err)
{
    int64_t threads, ctx, sessions;
    int rc;
    if ((rc = config_int(cfg, "llm.threads", 0, 256, &threads, err)) < 0 ||
        (rc = config_int(cfg, "llm.ctx", 0, 1 << 20, &ctx, err)) < 0 ||
        (rc = config_int(cfg, "llm.sessions", 1, MAX_SESSIONS, &sessions, err)) < 0)
        return rc;
    const char *path = config_str(cfg, "llm.model");
    if (!*path)
        return tl_err_set(err, TL_EINVAL,
                          "llm.model is empty: llm.backend = embedded needs a GGUF file or a "
                          "llama2.c checkpoint");
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? cores / sessions : 1;
        threads = threads < 1 ? 1 : threads > 8 ? 8 : threads;
    }
    const char *tok_path = config_str(cfg, "llm.tokenizer");
    const char *tmpl_name = config_str(cfg, "llm.chat_template");

    struct embedded *e = calloc(1, sizeof *e);
    if (!e)
        return tl_err_set(err, TL_ENOMEM, "llm: out of memory");
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&e->freed, &mono);
    pthread_condattr_destroy(&mono);
    l->impl = e;
    l->ops = &embedded_ops;

    tl_llm_load_opts lo = {.tokenizer_path = *tok_path ? tok_path : NULL, .n_threads = (int)threads};
    if ((rc = tl_llm_model_load(path, &lo, &e->m, err)) < 0) {
        tl_err_prefix(err, "llm.model");
        return rc;
    }
    e->tok = tl_llm_model_tokenizer(e->m);
    if (!e->tok)
        return tl_err_set(err, TL_EINVAL,
                          "llm.tokenizer is empty: the llama2.c checkpoint %s needs its tokenizer "
                          "file (tok512.bin, tokenizer.bin)",
                          path);
    e->add_bos = tl_tok_default_add_bos(e->tok);
    if (*tmpl_name) {
        if ((rc = tl_llm_chat_parse(tmpl_name, &e->chat_kind, err)) < 0) {
            tl_err_prefix(err, "llm.chat_template");
            return rc;
        }
    } else {
        const char *t = tl_llm_model_chat_template(e->m);
        e->chat_kind = tl_llm_chat_detect(t, t ? strlen(t) : 0);
    }
    e->slots = calloc((size_t)sessions, sizeof *e->slots);
    if (!e->slots)
        return tl_err_set(err, TL_ENOMEM, "llm: out of memory");
    for (int64_t i = 0; i < sessions; i++) {
        if ((rc = tl_llm_session_new(e->m, (int)ctx, (int)threads, &e->slots[i].s, err)) < 0) {
            tl_err_prefix(err, "llm.ctx");
            return rc;
        }
        e->n_slots++;
    }
    const char *base = strrchr(path, '/');
    snprintf(l->model_id, sizeof l->model_id, "%s", base ? base + 1 : path);
    return 0;
}

/* ---- the interface ------------------------------------------------------- */

int tl_llm_open(const tl_config *cfg, tl_llm **out, tl_err *err)
{
    *out = NULL;
    const char *b = config_str(cfg, "llm.backend");
    int kind;
    if (strcmp(b, "none") == 0 || *b == '\0')
        return 0;
    if (strcmp(b, "embedded") == 0 || strcmp(b, "local") == 0)
        kind = TL_LLM_BACKEND_EMBEDDED;
    else if (strcmp(b, "remote") == 0)
        kind = TL_LLM_BACKEND_REMOTE;
    else
        return tl_err_set(err, TL_EINVAL,
                          "llm.backend = \"%.64s\" is not embedded, remote or none", b);
    int64_t max_tokens, timeout_ms;
    int rc;
    if ((rc = config_int(cfg, "llm.max_tokens", 1, 1 << 20, &max_tokens, err)) < 0 ||
        (rc = config_int(cfg, "llm.timeout_ms", 1, INT64_C(86400000), &timeout_ms, err)) < 0)
        return rc;
    tl_llm *l = calloc(1, sizeof *l);
    if (!l)
        return tl_err_set(err, TL_ENOMEM, "llm: out of memory");
    l->kind = kind;
    l->max_tokens_default = (int)max_tokens;
    l->timeout_ms = timeout_ms;
    rc = kind == TL_LLM_BACKEND_EMBEDDED ? embedded_open(cfg, l, err)
                                         : tl__llm_remote_open(cfg, l, err);
    if (rc < 0) {
        tl_llm_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void tl_llm_close(tl_llm *l)
{
    if (!l)
        return;
    if (l->ops && l->ops->close)
        l->ops->close(l);
    free(l);
}

int tl_llm_backend(const tl_llm *l)
{
    return l ? l->kind : TL_LLM_BACKEND_NONE;
}

const char *tl_llm_model_id(const tl_llm *l)
{
    return l ? l->model_id : "";
}

static int check_request(const tl_llm_request *req, tl_err *err)
{
    if (req->n_stop > TL_LLM_MAX_STOP)
        return tl_err_set(err, TL_EINVAL, "llm: %zu stop strings; at most %d", req->n_stop,
                          TL_LLM_MAX_STOP);
    for (size_t i = 0; i < req->n_stop; i++)
        if (!req->stop || !req->stop[i] || !req->stop[i][0])
            return tl_err_set(err, TL_EINVAL, "llm: stop string %zu is empty", i);
    if (req->temperature != req->temperature || req->top_p != req->top_p ||
        req->min_p != req->min_p || req->repeat_penalty != req->repeat_penalty)
        return tl_err_set(err, TL_EINVAL, "llm: a sampling parameter is NaN");
    return 0;
}

int tl_llm_chat(tl_llm *l, const tl_llm_chat_msg *msgs, size_t n_msgs, const tl_llm_request *req,
                tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err)
{
    *res = (tl_llm_result){0};
    static const tl_llm_request greedy = {0};
    if (!req)
        req = &greedy;
    if (!l)
        return tl_err_set(err, TL_EINVAL, "llm: no backend is configured (llm.backend = none)");
    if (!msgs || n_msgs == 0)
        return tl_err_set(err, TL_EINVAL, "llm: messages is empty: a chat needs a message");
    for (size_t i = 0; i < n_msgs; i++)
        if (!msgs[i].role || !msgs[i].content)
            return tl_err_set(err, TL_EINVAL, "llm: message %zu has no %s", i,
                              msgs[i].role ? "content" : "role");
    int rc = check_request(req, err);
    if (rc < 0)
        return rc;
    return l->ops->chat(l, msgs, n_msgs, req, on_text, ud, res, err);
}

int tl_llm_complete(tl_llm *l, const char *prompt, const tl_llm_request *req,
                    tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err)
{
    *res = (tl_llm_result){0};
    static const tl_llm_request greedy = {0};
    if (!req)
        req = &greedy;
    if (!l)
        return tl_err_set(err, TL_EINVAL, "llm: no backend is configured (llm.backend = none)");
    if (!prompt || !*prompt)
        return tl_err_set(err, TL_EINVAL, "llm: the prompt is empty");
    int rc = check_request(req, err);
    if (rc < 0)
        return rc;
    return l->ops->complete(l, prompt, req, on_text, ud, res, err);
}

void tl_llm_result_free(tl_llm_result *res)
{
    if (!res)
        return;
    free(res->text);
    *res = (tl_llm_result){0};
}
