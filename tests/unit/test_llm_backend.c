/*
 * test_llm_backend.c - the tl_llm interface (llm_backend.h): configuration
 * errors naming their key, the embedded backend on stories260K (text and
 * token counts, greedy answers that match llama2.c's reference and do not
 * change when a session's cache is reused, stop strings, the streaming
 * callback, the session pool under two threads), and the remote backend's
 * errors against a closed port (its answers are checked against Teller's own
 * server in tests/integration/llm_http.sh).
 */
#include <criterion/criterion.h>

#include <teller/llm_backend.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static const char *model_path(const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/models/stories260K/%s", tu_shared_dir(), name);
    return p;
}

#define NEED_MODEL()                                                                       \
    do {                                                                                   \
        if (access(model_path("stories260K.gguf"), R_OK) != 0)                             \
            cr_skip_test("stories260K not found under %s/models (set TELLER_SHARED)",      \
                         tu_shared_dir());                                                 \
    } while (0)

/* A configuration from key=value pairs (NULL-terminated). */
static tl_config *config(const char *const *kv)
{
    tl_config *c = tl_config_new();
    cr_assert(c);
    for (size_t i = 0; kv[i]; i += 2) {
        tl_err err = {0};
        cr_assert_eq(tl_config_set(c, kv[i], kv[i + 1], TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    }
    return c;
}

static tl_llm *open_embedded(const char *sessions, const char *ctx)
{
    const char *kv[] = {"llm.backend", "embedded", "llm.model", model_path("stories260K.gguf"),
                        "llm.sessions", sessions, "llm.ctx", ctx, "llm.threads", "1", NULL};
    tl_config *c = config(kv);
    tl_llm *l = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_llm_open(c, &l, &err), 0, "%s", err.msg);
    cr_assert(l);
    tl_config_free(c);
    return l;
}

static int open_err(const char *const *kv, tl_err *err)
{
    tl_config *c = config(kv);
    tl_llm *l = (tl_llm *)1;
    int rc = tl_llm_open(c, &l, err);
    cr_assert_null(l, "a failed open leaves *out NULL");
    tl_config_free(c);
    return rc;
}

/* ---- configuration ---------------------------------------------------------------- */

Test(llm_backend, none_opens_nothing)
{
    tl_config *c = tl_config_new();
    tl_llm *l = (tl_llm *)1;
    tl_err err = {0};
    cr_assert_eq(tl_llm_open(c, &l, &err), 0);
    cr_assert_null(l, "llm.backend defaults to none");
    tl_llm_result res;
    tl_llm_chat_msg m = {"user", "hi"};
    cr_assert_eq(tl_llm_chat(NULL, &m, 1, NULL, NULL, NULL, &res, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "llm.backend"), "%s", err.msg);
    tl_config_free(c);
}

Test(llm_backend, config_errors_name_the_key)
{
    tl_err err = {0};
    const char *a[] = {"llm.backend", "gpt", NULL};
    cr_assert_eq(open_err(a, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "llm.backend") && strstr(err.msg, "gpt"), "%s", err.msg);

    const char *b[] = {"llm.backend", "embedded", NULL};
    cr_assert_eq(open_err(b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "llm.model"), "%s", err.msg);

    const char *c[] = {"llm.backend", "embedded", "llm.model", "/nonexistent/m.gguf", NULL};
    cr_assert_lt(open_err(c, &err), 0);
    cr_assert(strstr(err.msg, "/nonexistent/m.gguf"), "%s", err.msg);

    const char *d[] = {"llm.backend", "remote", NULL};
    cr_assert_eq(open_err(d, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "llm.remote_url"), "%s", err.msg);

    const char *e[] = {"llm.backend", "remote", "llm.remote_url", "ftp://host/v1", NULL};
    cr_assert_eq(open_err(e, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "llm.remote_url"), "%s", err.msg);

    const char *f[] = {"llm.backend", "remote", "llm.remote_url", "http://127.0.0.1:1/v1",
                       "llm.remote_key_file", "/nonexistent/key", NULL};
    cr_assert_eq(open_err(f, &err), TL_EIO);
    cr_assert(strstr(err.msg, "llm.remote_key_file") && strstr(err.msg, "/nonexistent/key"), "%s",
              err.msg);

    const char *g[] = {"llm.backend", "embedded", "llm.model", "m.gguf", "llm.sessions", "0", NULL};
    cr_assert_eq(open_err(g, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "llm.sessions"), "%s", err.msg);
}

/* ---- the embedded backend ---------------------------------------------------------- */

struct sink {
    char buf[8192];
    size_t n;
    int calls;
    int stop_after; /* 0: never */
};

static int on_text(const char *s, size_t n, void *ud)
{
    struct sink *k = ud;
    cr_assert_lt(k->n + n, sizeof k->buf);
    memcpy(k->buf + k->n, s, n);
    k->n += n;
    k->buf[k->n] = '\0';
    k->calls++;
    return k->stop_after && k->calls >= k->stop_after;
}

Test(llm_backend, embedded_chat_text_and_counts)
{
    NEED_MODEL();
    tl_llm *l = open_embedded("1", "0");
    cr_assert_eq(tl_llm_backend(l), TL_LLM_BACKEND_EMBEDDED);
    cr_assert_str_eq(tl_llm_model_id(l), "stories260K.gguf");
    tl_llm_chat_msg msgs[] = {{"system", "You tell stories."}, {"user", "Once upon a time"}};
    tl_llm_request rq = {.max_tokens = 24};
    tl_llm_result res;
    tl_err err = {0};
    struct sink k = {0};
    cr_assert_eq(tl_llm_chat(l, msgs, 2, &rq, on_text, &k, &res, &err), 0, "%s", err.msg);
    cr_assert_gt(res.text_len, 0);
    cr_assert_eq(strlen(res.text), res.text_len);
    cr_assert_str_eq(res.text, k.buf, "the streamed pieces make the text");
    /* the ChatML rendering of two messages is far more than a few tokens */
    cr_assert_gt(res.prompt_tokens, 10);
    cr_assert(res.completion_tokens >= 1 && res.completion_tokens <= 24, "%lld",
              (long long)res.completion_tokens);
    cr_assert(strcmp(res.finish_reason, "length") == 0 || strcmp(res.finish_reason, "stop") == 0);
    if (res.completion_tokens < 24)
        cr_assert_str_eq(res.finish_reason, "stop");
    tl_llm_result_free(&res);
    cr_assert_null(res.text);

    tl_llm_chat_msg bad[] = {{"user", NULL}};
    cr_assert_eq(tl_llm_chat(l, bad, 1, &rq, NULL, NULL, &res, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "message 0"), "%s", err.msg);
    cr_assert_eq(tl_llm_chat(l, msgs, 0, &rq, NULL, NULL, &res, &err), TL_EINVAL);
    tl_llm_close(l);
}

/* The reference continuation of "Lily went to the park" (llama2.c run.c,
 * greedy), from expected_greedy.json. */
static char *reference(const char *prompt)
{
    json_error_t je;
    json_t *d = json_load_file(model_path("expected_greedy.json"), 0, &je);
    cr_assert(d, "%s", je.text);
    size_t i;
    json_t *c;
    char *out = NULL;
    json_array_foreach(json_object_get(d, "cases"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "prompt")), prompt) == 0)
            out = strdup(json_string_value(json_object_get(c, "text")) + strlen(prompt));
    }
    json_decref(d);
    cr_assert(out, "no case for \"%s\"", prompt);
    return out;
}

Test(llm_backend, embedded_complete_matches_reference_and_is_deterministic)
{
    NEED_MODEL();
    tl_llm *l = open_embedded("1", "0");
    char *want = reference("Lily went to the park");
    tl_llm_request rq = {.max_tokens = 40};
    tl_llm_result a, b;
    tl_err err = {0};
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park", &rq, NULL, NULL, &a, &err), 0, "%s",
                 err.msg);
    cr_assert_gt(a.text_len, 20);
    cr_assert_eq(strncmp(want, a.text, a.text_len), 0, "greedy continuation [%s] vs reference [%.200s]",
                 a.text, want);
    cr_assert_eq(a.completion_tokens, 40);
    cr_assert_str_eq(a.finish_reason, "length");
    /* again on the same session: the cached prefix is reused, the answer is the same */
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park", &rq, NULL, NULL, &b, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(a.text, b.text);
    tl_llm_result_free(&b);
    /* a longer prompt sharing the prefix, then back to the short one */
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park with her dog", &rq, NULL, NULL, &b, &err), 0);
    tl_llm_result_free(&b);
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park", &rq, NULL, NULL, &b, &err), 0);
    cr_assert_str_eq(a.text, b.text, "a reused cache never changes a greedy answer");
    tl_llm_result_free(&b);
    tl_llm_result_free(&a);
    free(want);
    tl_llm_close(l);
}

Test(llm_backend, embedded_stop_strings_callback_and_limits)
{
    NEED_MODEL();
    tl_llm *l = open_embedded("1", "64");
    tl_err err = {0};
    tl_llm_result res;
    /* the reference goes on " with her mom. She saw a big box" */
    const char *stop[] = {"mom"};
    tl_llm_request rq = {.max_tokens = 40, .stop = stop, .n_stop = 1};
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park", &rq, NULL, NULL, &res, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(res.text, " with her ");
    cr_assert_str_eq(res.finish_reason, "stop");
    tl_llm_result_free(&res);

    /* the callback ends the generation early: no error, finish "stop" */
    struct sink k = {.stop_after = 3};
    tl_llm_request rq2 = {.max_tokens = 40};
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park", &rq2, on_text, &k, &res, &err), 0);
    cr_assert_str_eq(res.finish_reason, "stop");
    cr_assert_eq(k.calls, 3);
    cr_assert_lt(res.completion_tokens, 40);
    tl_llm_result_free(&res);

    /* max_tokens past the context is capped, not an error */
    tl_llm_request rq3 = {.max_tokens = 10000};
    cr_assert_eq(tl_llm_complete(l, "Lily went to the park", &rq3, NULL, NULL, &res, &err), 0, "%s",
                 err.msg);
    cr_assert_leq(res.prompt_tokens + res.completion_tokens, 65);
    tl_llm_result_free(&res);

    /* a prompt longer than the context */
    char longp[2048];
    memset(longp, 0, sizeof longp);
    for (size_t i = 0; i + 5 < sizeof longp; i += 5)
        memcpy(longp + i, "park ", 5);
    cr_assert_eq(tl_llm_complete(l, longp, &rq2, NULL, NULL, &res, &err), TL_ETOOBIG);
    cr_assert(strstr(err.msg, "llm.ctx"), "%s", err.msg);
    cr_assert_null(res.text);

    const char *empty[] = {""};
    tl_llm_request rq4 = {.stop = empty, .n_stop = 1};
    cr_assert_eq(tl_llm_complete(l, "Lily", &rq4, NULL, NULL, &res, &err), TL_EINVAL);
    cr_assert_eq(tl_llm_complete(l, "", &rq2, NULL, NULL, &res, &err), TL_EINVAL);
    tl_llm_close(l);
}

/* ---- the session pool under two threads ---------------------------------------------- */

struct worker {
    tl_llm *l;
    const char *prompt;
    char *texts[3];
    int rc;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    tl_llm_request rq = {.max_tokens = 30};
    for (int i = 0; i < 3; i++) {
        tl_llm_chat_msg m = {"user", w->prompt};
        tl_llm_result res;
        tl_err err = {0};
        int rc = tl_llm_chat(w->l, &m, 1, &rq, NULL, NULL, &res, &err);
        if (rc < 0) {
            w->rc = rc;
            return NULL;
        }
        w->texts[i] = res.text;
    }
    return NULL;
}

static char *single(tl_llm *l, const char *prompt)
{
    tl_llm_request rq = {.max_tokens = 30};
    tl_llm_chat_msg m = {"user", prompt};
    tl_llm_result res;
    tl_err err = {0};
    cr_assert_eq(tl_llm_chat(l, &m, 1, &rq, NULL, NULL, &res, &err), 0, "%s", err.msg);
    return res.text;
}

static void pool_case(const char *sessions)
{
    NEED_MODEL();
    tl_llm *l = open_embedded(sessions, "0");
    const char *prompts[2] = {"Once upon a time", "Tom had a red ball"};
    char *want[2] = {single(l, prompts[0]), single(l, prompts[1])};
    cr_assert_str_neq(want[0], want[1]);
    struct worker w[2] = {{.l = l, .prompt = prompts[0]}, {.l = l, .prompt = prompts[1]}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(w[i].rc, 0, "thread %d failed with %d", i, w[i].rc);
        for (int j = 0; j < 3; j++) {
            cr_assert_str_eq(w[i].texts[j], want[i], "thread %d, answer %d", i, j);
            free(w[i].texts[j]);
        }
    }
    free(want[0]);
    free(want[1]);
    tl_llm_close(l);
}

/* two sessions serve the two threads at once; one session makes them take turns */
Test(llm_backend, pool_two_sessions_two_threads) { pool_case("2"); }
Test(llm_backend, pool_one_session_two_threads) { pool_case("1"); }

/* ---- the remote backend's errors ---------------------------------------------------- */

/* A loopback port nothing listens on: bound, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

Test(llm_backend, remote_connection_refused_names_url_not_secrets)
{
    char *dir = tu_tmpdir();
    char *keyfile = tu_write_file(dir, "key", "  sk-very-secret-key\n");
    char url[128];
    int port = closed_port();
    snprintf(url, sizeof url, "http://bob:hunter2@127.0.0.1:%d/v1/", port);
    const char *kv[] = {"llm.backend", "remote", "llm.remote_url", url, "llm.remote_model", "m1",
                        "llm.remote_key_file", keyfile, "llm.timeout_ms", "5000", NULL};
    tl_config *c = config(kv);
    tl_llm *l = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_llm_open(c, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_llm_backend(l), TL_LLM_BACKEND_REMOTE);
    cr_assert_str_eq(tl_llm_model_id(l), "m1");
    tl_llm_chat_msg m = {"user", "hello"};
    tl_llm_result res;
    struct sink k = {0};
    cr_assert_eq(tl_llm_chat(l, &m, 1, NULL, on_text, &k, &res, &err), TL_EIO);
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/v1/chat/completions", port);
    cr_assert(strstr(err.msg, want), "the message names the URL: %s", err.msg);
    cr_assert(strstr(err.msg, "could not be reached"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "hunter2"), "no password: %s", err.msg);
    cr_assert_null(strstr(err.msg, "secret"), "no key: %s", err.msg);
    cr_assert_eq(k.calls, 0);
    cr_assert_null(res.text);
    cr_assert_eq(tl_llm_complete(l, "hello", NULL, NULL, NULL, &res, &err), TL_EIO);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/v1/completions", port);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    tl_llm_close(l);
    tl_config_free(c);

    /* without llm.remote_model the model is asked for: GET /models */
    const char *kv2[] = {"llm.backend", "remote", "llm.remote_url", url, NULL};
    c = config(kv2);
    cr_assert_eq(tl_llm_open(c, &l, &err), 0, "%s", err.msg);
    cr_assert_str_eq(tl_llm_model_id(l), "remote");
    cr_assert_eq(tl_llm_chat(l, &m, 1, NULL, NULL, NULL, &res, &err), TL_EIO);
    cr_assert(strstr(err.msg, "/v1/models"), "%s", err.msg);
    tl_llm_close(l);
    tl_config_free(c);

    char *empty = tu_write_file(dir, "empty", "\n\n");
    const char *kv3[] = {"llm.backend", "remote", "llm.remote_url", url, "llm.remote_key_file", empty,
                         NULL};
    cr_assert_eq(open_err(kv3, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "holds no key"), "%s", err.msg);
    free(empty);
    free(keyfile);
    free(dir);
}
