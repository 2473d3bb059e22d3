/* test_llm_model.c - the inference engine (include/teller/llm.h): stories260K
 * greedy generations against llama2.c's run.c (from the .bin checkpoint and
 * from the GGUF), batched prefill against token-by-token decoding, thread
 * counts, sampling, the context limit, corrupt files, and llama/qwen2 models
 * built in the test (GGUF writer below) checked against a plain reference
 * forward pass, F32 and Q8_0. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/llm.h>
#include <teller/llm_gguf_write.h>
#include <teller/llm_gguf.h>
#include <teller/llm_quant.h>
#include <teller/llm_tokenizer.h>

#include "llm/llm_internal.h"
#include "testutil.h"

/* ---- shared files ------------------------------------------------------------------ */

static char *stories_path(const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/models/stories260K/%s", tu_shared_dir(), name);
    return p;
}

static bool have_stories(void)
{
    return access(stories_path("stories260K.bin"), R_OK) == 0 &&
           access(stories_path("tok512.bin"), R_OK) == 0 &&
           access(stories_path("stories260K.gguf"), R_OK) == 0 &&
           access(stories_path("expected_greedy.json"), R_OK) == 0;
}

#define NEED_STORIES()                                                                    \
    do {                                                                                  \
        if (!have_stories())                                                              \
            cr_skip_test("stories260K not found under %s/models (set TELLER_SHARED)",     \
                         tu_shared_dir());                                                \
    } while (0)

typedef struct gcase {
    int32_t prompt[64];
    size_t n_prompt;
    int32_t gen[256];
    size_t n_gen;
    char text[4096];
} gcase;

static int load_cases(gcase *c, int max)
{
    json_error_t je;
    json_t *root = json_load_file(stories_path("expected_greedy.json"), 0, &je);
    cr_assert(root, "expected_greedy.json: %s", je.text);
    json_t *cases = json_object_get(root, "cases");
    int n = (int)json_array_size(cases);
    cr_assert(n >= 2 && n <= max);
    for (int i = 0; i < n; i++) {
        json_t *cs = json_array_get(cases, (size_t)i);
        json_t *pt = json_object_get(cs, "prompt_tokens"), *gt = json_object_get(cs, "generated_tokens");
        c[i].n_prompt = json_array_size(pt);
        c[i].n_gen = json_array_size(gt);
        cr_assert(c[i].n_prompt <= 64 && c[i].n_gen <= 256);
        for (size_t j = 0; j < c[i].n_prompt; j++)
            c[i].prompt[j] = (int32_t)json_integer_value(json_array_get(pt, j));
        for (size_t j = 0; j < c[i].n_gen; j++)
            c[i].gen[j] = (int32_t)json_integer_value(json_array_get(gt, j));
        snprintf(c[i].text, sizeof c[i].text, "%s",
                 json_string_value(json_object_get(cs, "text")));
    }
    json_decref(root);
    return n;
}

typedef struct sink {
    char buf[8192];
    size_t len;
    int calls;
    int stop_after; /* 0: never */
} sink;

static int on_text(const char *t, size_t n, void *ud)
{
    sink *s = ud;
    cr_assert(n > 0);
    cr_assert(tl_utf8_valid(t, n, NULL), "the callback got incomplete UTF-8");
    cr_assert(s->len + n < sizeof s->buf);
    memcpy(s->buf + s->len, t, n);
    s->len += n;
    s->buf[s->len] = '\0';
    s->calls++;
    return s->stop_after && s->calls >= s->stop_after;
}

static tl_llm_model *load_stories(bool gguf)
{
    tl_err err = {0};
    tl_llm_model *m = NULL;
    tl_llm_load_opts o = {.tokenizer_path = stories_path("tok512.bin")};
    int rc = tl_llm_model_load(stories_path(gguf ? "stories260K.gguf" : "stories260K.bin"), &o, &m,
                               &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return m;
}

/* run.c's loop with -n 200: positions 0..199, so 201 - n_prompt tokens. */
static void check_greedy(bool gguf, int n_threads)
{
    NEED_STORIES();
    gcase c[4];
    int nc = load_cases(c, 4);
    tl_llm_model *m = load_stories(gguf);
    cr_assert_str_eq(tl_llm_model_arch(m), "llama");
    cr_assert_eq(tl_llm_model_n_vocab(m), 512);
    cr_assert_eq(tl_llm_model_n_ctx_train(m), 512);
    cr_assert_eq(tl_llm_model_n_params(m), 260032 + (gguf ? 32768 : 0),
                 "n_params %llu", (unsigned long long)tl_llm_model_n_params(m));
    const tl_tokenizer *tok = tl_llm_model_tokenizer(m);
    cr_assert(tok);
    tl_err err = {0};
    for (int i = 0; i < nc; i++) {
        tl_llm_session *s;
        cr_assert_eq(tl_llm_session_new(m, 0, n_threads, &s, &err), 0, "%s", err.msg);
        int32_t ids[256];
        sink out = {0};
        tl_llm_gen_params gp = {.max_tokens = (int)(201 - c[i].n_prompt),
                                .ids_out = ids,
                                .ids_cap = 256};
        tl_llm_gen_stats st;
        cr_assert_eq(tl_llm_generate(s, c[i].prompt, c[i].n_prompt, &gp, on_text, &out, &st, &err),
                     0, "%s", err.msg);
        cr_assert_eq(st.n_gen, c[i].n_gen, "case %d: %zu tokens, expected %zu", i, st.n_gen,
                     c[i].n_gen);
        cr_assert_eq(st.stop, TL_LLM_STOP_MAX_TOKENS);
        for (size_t j = 0; j < c[i].n_gen; j++)
            cr_assert_eq(ids[j], c[i].gen[j], "%s case %d: token %zu is %d, run.c says %d",
                         gguf ? "gguf" : "bin", i, j, ids[j], c[i].gen[j]);
        /* The text: the prompt after BOS, then the streamed generation. */
        char *ptext;
        size_t plen;
        cr_assert_eq(tl_tok_decode(tok, c[i].prompt + 1, c[i].n_prompt - 1, false, &ptext, &plen,
                                   &err),
                     0, "%s", err.msg);
        char full[8192];
        snprintf(full, sizeof full, "%s%s", ptext, out.buf);
        free(ptext);
        cr_assert_str_eq(full, c[i].text, "%s case %d text", gguf ? "gguf" : "bin", i);
        tl_llm_session_free(s);
    }
    tl_llm_model_free(m);
}

Test(llm_stories, greedy_bin) { check_greedy(false, 1); }
Test(llm_stories, greedy_gguf) { check_greedy(true, 1); }
Test(llm_stories, greedy_gguf_2_threads) { check_greedy(true, 2); }

Test(llm_stories, prompt_encoding)
{
    NEED_STORIES();
    gcase c[4];
    load_cases(c, 4);
    tl_llm_model *m = load_stories(true);
    int32_t *ids;
    size_t n;
    tl_err err = {0};
    cr_assert_eq(tl_tok_encode(tl_llm_model_tokenizer(m), "Lily went to the park", 21,
                               TL_TOK_ADD_BOS, &ids, &n, &err),
                 0, "%s", err.msg);
    cr_assert_eq(n, c[1].n_prompt);
    cr_assert_eq(memcmp(ids, c[1].prompt, n * sizeof *ids), 0);
    free(ids);
    tl_llm_model_free(m);
}

static float max_diff(const float *a, const float *b, int n)
{
    float d = 0;
    for (int i = 0; i < n; i++)
        d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

/* Batched prefill (several batches of 64) against one token at a time. */
Test(llm_stories, batched_prefill_equals_sequential)
{
    NEED_STORIES();
    gcase c[4];
    load_cases(c, 4);
    int32_t ids[150];
    ids[0] = 1;
    for (int i = 1; i < 150; i++)
        ids[i] = c[0].gen[i - 1];
    tl_llm_model *m = load_stories(true);
    tl_err err = {0};
    int V = tl_llm_model_n_vocab(m);
    for (int nt = 1; nt <= 2; nt++) {
        tl_llm_session *a, *b;
        cr_assert_eq(tl_llm_session_new(m, 256, nt, &a, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_llm_session_new(m, 256, nt, &b, &err), 0, "%s", err.msg);
        float *la, *lb;
        cr_assert_eq(tl_llm_decode(a, ids, 150, &la, &err), 0, "%s", err.msg);
        for (int i = 0; i < 150; i++)
            cr_assert_eq(tl_llm_decode(b, ids + i, 1, &lb, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_llm_session_pos(a), 150);
        cr_assert_eq(tl_llm_session_pos(b), 150);
        float d = max_diff(la, lb, V);
        cr_assert(d <= 1e-4f, "batched vs sequential logits differ by %g", (double)d);
        /* And both continue alike. */
        int32_t nx = 300;
        cr_assert_eq(tl_llm_decode(a, &nx, 1, &la, &err), 0);
        cr_assert_eq(tl_llm_decode(b, &nx, 1, &lb, &err), 0);
        d = max_diff(la, lb, V);
        cr_assert(d <= 1e-4f, "after prefill, logits differ by %g", (double)d);
        tl_llm_session_free(a);
        tl_llm_session_free(b);
    }
    tl_llm_model_free(m);
}

Test(llm_stories, thread_counts_agree_bitwise)
{
    NEED_STORIES();
    gcase c[4];
    load_cases(c, 4);
    tl_llm_model *m = load_stories(false);
    tl_err err = {0};
    int V = tl_llm_model_n_vocab(m);
    float *ref = malloc((size_t)V * sizeof *ref);
    for (int nt = 1; nt <= 3; nt++) {
        tl_llm_session *s;
        cr_assert_eq(tl_llm_session_new(m, 128, nt, &s, &err), 0, "%s", err.msg);
        float *l;
        cr_assert_eq(tl_llm_decode(s, c[1].prompt, c[1].n_prompt, &l, &err), 0);
        for (int i = 0; i < 20; i++)
            cr_assert_eq(tl_llm_decode(s, &c[1].gen[i], 1, &l, &err), 0);
        if (nt == 1)
            memcpy(ref, l, (size_t)V * sizeof *ref);
        else
            cr_assert_eq(memcmp(ref, l, (size_t)V * sizeof *ref), 0, "%d threads differ", nt);
        tl_llm_session_free(s);
    }
    free(ref);
    tl_llm_model_free(m);
}

Test(llm_stories, sampling_is_deterministic_and_top_k_1_is_greedy)
{
    NEED_STORIES();
    gcase c[4];
    load_cases(c, 4);
    tl_llm_model *m = load_stories(true);
    tl_err err = {0};
    int32_t runs[3][60];
    tl_llm_sampler_params sp[3] = {tl_llm_sampler_defaults(), tl_llm_sampler_defaults(),
                                   {.temperature = 1.5f, .top_k = 1}};
    sp[0].seed = sp[1].seed = 1234;
    sp[0].repeat_penalty = sp[1].repeat_penalty = 1.1f;
    for (int r = 0; r < 3; r++) {
        tl_llm_session *s;
        cr_assert_eq(tl_llm_session_new(m, 0, 1, &s, &err), 0);
        tl_llm_gen_params gp = {.sampler = sp[r], .max_tokens = 60, .ids_out = runs[r], .ids_cap = 60};
        tl_llm_gen_stats st;
        cr_assert_eq(tl_llm_generate(s, c[0].prompt, c[0].n_prompt, &gp, NULL, NULL, &st, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(st.n_gen, 60);
        tl_llm_session_free(s);
    }
    cr_assert_eq(memcmp(runs[0], runs[1], sizeof runs[0]), 0, "same seed, different tokens");
    cr_assert_eq(memcmp(runs[2], c[0].gen, sizeof runs[2]), 0, "top-k 1 is not greedy");
    /* A different seed gives a different story (60 tokens at temperature 0.8). */
    tl_llm_session *s;
    cr_assert_eq(tl_llm_session_new(m, 0, 1, &s, &err), 0);
    int32_t other[60];
    sp[0].seed = 99;
    tl_llm_gen_params gp = {.sampler = sp[0], .max_tokens = 60, .ids_out = other, .ids_cap = 60};
    cr_assert_eq(tl_llm_generate(s, c[0].prompt, 1, &gp, NULL, NULL, NULL, &err), 0);
    cr_assert_neq(memcmp(runs[0], other, sizeof other), 0);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
}

Test(llm_stories, context_limit)
{
    NEED_STORIES();
    tl_llm_model *m = load_stories(true);
    tl_err err = {0};
    tl_llm_session *s;
    cr_assert_eq(tl_llm_session_new(m, 16, 1, &s, &err), 0);
    int32_t ids[20] = {1};
    for (int i = 1; i < 20; i++)
        ids[i] = 300 + i;
    tl_llm_gen_params gp = {0};
    sink out = {0};
    int rc = tl_llm_generate(s, ids, 17, &gp, on_text, &out, NULL, &err);
    cr_assert_eq(rc, TL_ETOOBIG);
    cr_assert(strstr(err.msg, "17 tokens") && strstr(err.msg, "context of 16"), "%s", err.msg);
    cr_assert_eq(out.calls, 0);
    cr_assert_eq(tl_llm_session_pos(s), 0);
    cr_assert_eq(tl_llm_decode(s, ids, 17, NULL, &err), TL_ETOOBIG);
    /* 10 prompt tokens in 16 positions: 6 decoded after them, 7 sampled. */
    tl_llm_gen_stats st;
    cr_assert_eq(tl_llm_generate(s, ids, 10, &gp, NULL, NULL, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.stop, TL_LLM_STOP_CONTEXT);
    cr_assert_eq(st.n_gen, 7);
    cr_assert_eq(tl_llm_session_pos(s), 16);
    int32_t bad = 512;
    tl_llm_session_reset(s);
    cr_assert_eq(tl_llm_decode(s, &bad, 1, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "512"), "%s", err.msg);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
}

Test(llm_stories, stop_strings_and_callback_stop)
{
    NEED_STORIES();
    gcase c[4];
    load_cases(c, 4);
    tl_llm_model *m = load_stories(true);
    tl_err err = {0};
    tl_llm_session *s;
    cr_assert_eq(tl_llm_session_new(m, 0, 1, &s, &err), 0);
    const char *stop[] = {"zzz", "girl named"};
    tl_llm_gen_params gp = {.max_tokens = 100, .stop = stop, .n_stop = 2};
    sink out = {0};
    tl_llm_gen_stats st;
    cr_assert_eq(tl_llm_generate(s, c[0].prompt, 1, &gp, on_text, &out, &st, &err), 0);
    cr_assert_eq(st.stop, TL_LLM_STOP_STRING);
    cr_assert_str_eq(out.buf, "Once upon a time, there was a little ");
    tl_llm_session_reset(s);
    sink out2 = {.stop_after = 3};
    tl_llm_gen_params gp2 = {.max_tokens = 100};
    cr_assert_eq(tl_llm_generate(s, c[0].prompt, 1, &gp2, on_text, &out2, &st, &err), 0);
    cr_assert_eq(st.stop, TL_LLM_STOP_CALLBACK);
    cr_assert_eq(out2.calls, 3);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
}

/* ---- the text stream ---------------------------------------------------------------- */

static void stream(const char *const *chunks, size_t n, const char *const *stop, size_t n_stop,
                   sink *out, bool *stopped)
{
    cr_assert_eq(tl__llm_stream_test(chunks, n, stop, n_stop, on_text, out, stopped), 0);
}

Test(llm_stream, utf8_is_assembled_and_invalid_bytes_replaced)
{
    /* the euro sign split over two pieces, a stray 0xFF, a truncated
     * sequence at the end */
    const char *chunks[] = {"a", "\xE2\x82", "\xAC", "b\xFF", "c\xF0\x9F"};
    sink out = {0};
    bool stopped;
    stream(chunks, 5, NULL, 0, &out, &stopped);
    cr_assert_str_eq(out.buf, "a\xE2\x82\xAC" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD");
    cr_assert(!stopped);
    /* an overlong encoding and a surrogate are invalid too */
    const char *bad[] = {"\xC0\xAF", "\xED\xA0\x80", "x"};
    sink o2 = {0};
    stream(bad, 3, NULL, 0, &o2, &stopped);
    cr_assert(tl_utf8_valid(o2.buf, o2.len, NULL));
    cr_assert_eq(o2.buf[o2.len - 1], 'x');
}

Test(llm_stream, stop_strings_are_held_back_and_cut)
{
    const char *stop[] = {"World", "<|end|>"};
    const char *chunks[] = {"hello Wo", "rld! and more"};
    sink out = {0};
    bool stopped;
    stream(chunks, 2, stop, 2, &out, &stopped);
    cr_assert(stopped);
    cr_assert_str_eq(out.buf, "hello ");
    /* "Wo" was held back after the first piece: it was never emitted */
    cr_assert_eq(out.calls, 1);
    /* a prefix that turns out not to be a stop string is released */
    const char *c2[] = {"a <|e", "nd of it", "."};
    sink o2 = {0};
    stream(c2, 3, stop, 2, &o2, &stopped);
    cr_assert(!stopped);
    cr_assert_str_eq(o2.buf, "a <|end of it.");
    /* a stop string spread over three pieces */
    const char *c3[] = {"x<", "|en", "d|>y"};
    sink o3 = {0};
    stream(c3, 3, stop, 2, &o3, &stopped);
    cr_assert(stopped);
    cr_assert_str_eq(o3.buf, "x");
}

/* ---- sampling on hand-made logits ------------------------------------------------------- */

static size_t cands(const tl_llm_sampler_params *p, const float *logits, int n_vocab,
                    const int32_t *prev, size_t n_prev, int32_t *ids, float *probs)
{
    tl_llm_sampler *smp;
    tl_err err = {0};
    cr_assert_eq(tl_llm_sampler_new(p, n_vocab, &smp, &err), 0, "%s", err.msg);
    size_t n = tl_llm_sampler_candidates(smp, logits, prev, n_prev, ids, probs, 16);
    tl_llm_sampler_free(smp);
    return n;
}

Test(llm_sample, filters_keep_the_right_sets)
{
    /* probabilities 0.05 0.5 0.1 0.2 0.15 (ids shuffled on purpose) */
    const float pr[5] = {0.05f, 0.5f, 0.1f, 0.2f, 0.15f};
    float lg[5];
    for (int i = 0; i < 5; i++)
        lg[i] = logf(pr[i]) + 3.0f;
    int32_t ids[16];
    float probs[16];
    tl_llm_sampler_params p = {.temperature = 1.0f};
    cr_assert_eq(cands(&p, lg, 5, NULL, 0, ids, probs), 5);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[4], 0);
    cr_assert_float_eq(probs[0], 0.5f, 1e-5f);

    p.top_p = 0.8f; /* 0.5 + 0.2 = 0.7 < 0.8, + 0.15 = 0.85 */
    cr_assert_eq(cands(&p, lg, 5, NULL, 0, ids, probs), 3);
    cr_assert(ids[0] == 1 && ids[1] == 3 && ids[2] == 4);
    cr_assert_float_eq(probs[0], 0.5f / 0.85f, 1e-5f);

    p = (tl_llm_sampler_params){.temperature = 1.0f, .min_p = 0.35f}; /* p >= 0.175 */
    cr_assert_eq(cands(&p, lg, 5, NULL, 0, ids, probs), 2);
    cr_assert(ids[0] == 1 && ids[1] == 3);
    p.min_p = 0.25f; /* p >= 0.125 */
    cr_assert_eq(cands(&p, lg, 5, NULL, 0, ids, probs), 3);

    p = (tl_llm_sampler_params){.temperature = 1.0f, .top_k = 2};
    cr_assert_eq(cands(&p, lg, 5, NULL, 0, ids, probs), 2);
    cr_assert_float_eq(probs[1], 0.2f / 0.7f, 1e-5f);

    /* Temperature flattens the kept set's distribution. */
    p = (tl_llm_sampler_params){.temperature = 2.0f, .top_k = 2};
    cands(&p, lg, 5, NULL, 0, ids, probs);
    float e = sqrtf(0.5f) / (sqrtf(0.5f) + sqrtf(0.2f));
    cr_assert_float_eq(probs[0], e, 1e-5f);

    /* Greedy: the lowest id wins a tie. */
    float tie[4] = {1.0f, 3.0f, 3.0f, 2.0f};
    p = (tl_llm_sampler_params){0};
    cr_assert_eq(cands(&p, tie, 4, NULL, 0, ids, probs), 1);
    cr_assert_eq(ids[0], 1);

    /* Repetition penalty: 2.0 / 1.5 < 1.9, and a negative logit is multiplied
     * (-0.5 * 1.5 = -0.75 < -0.6), once however often the token repeats. */
    float rp[4] = {2.0f, 1.9f, -0.5f, -0.6f};
    int32_t prev[4] = {0, 2, 0, 0};
    p = (tl_llm_sampler_params){.repeat_penalty = 1.5f, .repeat_last_n = 4};
    cands(&p, rp, 4, prev, 4, ids, probs);
    cr_assert_eq(ids[0], 1);
    p.temperature = 1.0f;
    cr_assert_eq(cands(&p, rp, 4, prev, 4, ids, probs), 4);
    cr_assert(ids[0] == 1 && ids[1] == 0 && ids[2] == 3 && ids[3] == 2);
    cr_assert_float_eq(probs[1] / probs[0], expf(2.0f / 1.5f - 1.9f), 1e-5f);
    /* The window: only the last token (0) counts. */
    p.repeat_last_n = 1;
    cands(&p, rp, 4, prev, 4, ids, probs);
    cr_assert(ids[2] == 2, "token 2 is outside the window");
}

/* descending */
static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

Test(llm_sample, top_p_over_a_large_vocabulary)
{
    int V = 50000;
    float *lg = malloc((size_t)V * sizeof *lg);
    uint64_t st = 7;
    for (int i = 0; i < V; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        lg[i] = (float)(st >> 40) / 16777216.0f * 8.0f;
    }
    tl_llm_sampler_params p = {.temperature = 1.0f, .top_p = 0.5f};
    tl_llm_sampler *smp;
    tl_err err = {0};
    cr_assert_eq(tl_llm_sampler_new(&p, V, &smp, &err), 0);
    size_t n = tl_llm_sampler_candidates(smp, lg, NULL, 0, NULL, NULL, 0);
    /* Reference: sort all probabilities. */
    double *pr = malloc((size_t)V * sizeof *pr), z = 0, mx = -1e30;
    for (int i = 0; i < V; i++)
        mx = fmax(mx, lg[i]);
    for (int i = 0; i < V; i++)
        z += (pr[i] = exp(lg[i] - mx));
    size_t want = 0;
    double cum = 0;
    double *sorted = malloc((size_t)V * sizeof *sorted);
    memcpy(sorted, pr, (size_t)V * sizeof *sorted);
    qsort(sorted, (size_t)V, sizeof *sorted, dcmp);
    while (cum < 0.5 * z)
        cum += sorted[want++];
    cr_assert_eq(n, want, "top-p kept %zu, reference %zu", n, want);
    free(sorted);
    free(pr);
    free(lg);
    tl_llm_sampler_free(smp);
}


/* ---- corrupt files ------------------------------------------------------------------ */

Test(llm_files, truncated_bin)
{
    NEED_STORIES();
    FILE *f = fopen(stories_path("stories260K.bin"), "rb");
    cr_assert(f);
    static char buf[2000000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/trunc.bin", dir);
    f = fopen(path, "wb");
    fwrite(buf, 1, n - 1000, f);
    fclose(f);
    tl_llm_model *m = NULL;
    tl_err err = {0};
    int rc = tl_llm_model_load(path, NULL, &m, &err);
    cr_assert_eq(rc, TL_EPARSE, "%s", err.msg);
    cr_assert(strstr(err.msg, "trunc.bin") && strstr(err.msg, "truncated") &&
                  strstr(err.msg, "1055540"),
              "%s", err.msg);
    cr_assert_null(m);
    /* A nonsense header. */
    f = fopen(path, "wb");
    int32_t h[7] = {64, 172, 5, 8, 4, 512, -3};
    fwrite(h, 1, sizeof h, f);
    fclose(f);
    rc = tl_llm_model_load(path, NULL, &m, &err);
    cr_assert_eq(rc, TL_EPARSE);
    cr_assert(strstr(err.msg, "seq_len"), "%s", err.msg);
    /* A missing tokenizer file. */
    tl_llm_load_opts o = {.tokenizer_path = "/nonexistent/tok.bin"};
    rc = tl_llm_model_load(stories_path("stories260K.bin"), &o, &m, &err);
    cr_assert(rc < 0);
    cr_assert(strstr(err.msg, "/nonexistent/tok.bin"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* ---- tiny model files, through the GGUF writer -------------------------------------------- */

typedef struct gw {
    tl_gguf_writer *w; /* made on first use, so `gw g = {0}` starts one */
    void *data[128];   /* tensor bytes, borrowed by the writer until the write */
    int n_t;
} gw;

static tl_gguf_writer *gw_w(gw *g)
{
    tl_err err = {0};
    if (!g->w)
        cr_assert_eq(tl_gguf_writer_new(&g->w, &err), 0, "%s", err.msg);
    return g->w;
}

static void kv_str(gw *g, const char *k, const char *v)
{
    tl_err err = {0};
    cr_assert_eq(tl_gguf_writer_set_str(gw_w(g), k, v, &err), 0, "%s", err.msg);
}
static void kv_u32(gw *g, const char *k, uint32_t v)
{
    tl_err err = {0};
    cr_assert_eq(tl_gguf_writer_set_u32(gw_w(g), k, v, &err), 0, "%s", err.msg);
}
static void kv_f32(gw *g, const char *k, float v)
{
    tl_err err = {0};
    cr_assert_eq(tl_gguf_writer_set_f32(gw_w(g), k, v, &err), 0, "%s", err.msg);
}

/* Adds a tensor from floats, encoded as type (F32 or a quantized type; I32
 * takes the float bits as they are, for a type the engine refuses); rows 0
 * makes it one-dimensional. */
static void tensor(gw *g, const char *name, int type, const float *x, int64_t cols, int64_t rows)
{
    cr_assert(g->n_t < 128);
    int64_t nr = rows ? rows : 1, dims[2] = {cols, nr};
    bool raw = type == TL_GGUF_TYPE_F32 || type == TL_GGUF_TYPE_I32;
    size_t rb = raw ? (size_t)cols * 4 : tl_q_row_size(type, cols);
    cr_assert(rb > 0);
    char *data = malloc(rb * (size_t)nr);
    cr_assert_not_null(data);
    for (int64_t r = 0; r < nr; r++) {
        if (raw)
            memcpy(data + r * rb, x + r * cols, rb);
        else
            cr_assert_eq(tl_q_quantize_row(type, x + r * cols, data + r * rb, cols), 0);
    }
    g->data[g->n_t++] = data;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_writer_add_tensor(gw_w(g), name, type, rows ? 2 : 1, dims, data, &err), 0,
                 "%s", err.msg);
}

static char *gw_write(gw *g, const char *dir, const char *name)
{
    size_t cap = strlen(dir) + strlen(name) + 2;
    char *path = malloc(cap);
    snprintf(path, cap, "%s/%s", dir, name);
    tl_err err = {0};
    cr_assert_eq(tl_gguf_writer_write(gw_w(g), path, NULL, NULL, &err), 0, "%s", err.msg);
    return path;
}

static void gw_free(gw *g)
{
    for (int i = 0; i < g->n_t; i++)
        free(g->data[i]);
    tl_gguf_writer_free(g->w);
}

/* A tiny model's weights, as floats, and the reference forward pass. */
enum { E = 64, H = 4, HKV = 2, HD = 16, FF = 96, NV = 80, NL = 2 };

typedef struct tiny {
    bool qwen;       /* NEOX RoPE and q/k/v biases */
    float base;
    float emb[NV * E], out_norm[E], out[NV * E];
    bool tied;
    struct {
        float an[E], wq[H * HD * E], wk[HKV * HD * E], wv[HKV * HD * E], wo[E * H * HD];
        float bq[H * HD], bk[HKV * HD], bv[HKV * HD];
        float fn[E], wg[FF * E], wu[FF * E], wd[E * FF];
    } l[NL];
} tiny;

static uint64_t rng_state;
static float frand(float scale)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((float)(rng_state >> 40) / 16777216.0f - 0.5f) * 2.0f * scale;
}
static void fill(float *x, size_t n, float center, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = center + frand(scale);
}

static tiny *tiny_new(bool qwen, bool tied, uint64_t seed)
{
    tiny *t = calloc(1, sizeof *t);
    rng_state = seed;
    t->qwen = qwen;
    t->tied = tied;
    t->base = qwen ? 1000000.0f : 10000.0f;
    fill(t->emb, NV * E, 0, 1.0f);
    fill(t->out_norm, E, 1, 0.2f);
    fill(t->out, NV * E, 0, 0.3f);
    for (int l = 0; l < NL; l++) {
        fill(t->l[l].an, E, 1, 0.2f);
        fill(t->l[l].fn, E, 1, 0.2f);
        fill(t->l[l].wq, H * HD * E, 0, 0.25f);
        fill(t->l[l].wk, HKV * HD * E, 0, 0.25f);
        fill(t->l[l].wv, HKV * HD * E, 0, 0.25f);
        fill(t->l[l].wo, E * H * HD, 0, 0.15f);
        fill(t->l[l].bq, H * HD, 0, qwen ? 0.5f : 0);
        fill(t->l[l].bk, HKV * HD, 0, qwen ? 0.5f : 0);
        fill(t->l[l].bv, HKV * HD, 0, qwen ? 0.5f : 0);
        fill(t->l[l].wg, FF * E, 0, 0.2f);
        fill(t->l[l].wu, FF * E, 0, 0.2f);
        fill(t->l[l].wd, E * FF, 0, 0.15f);
    }
    return t;
}

/* Writes t as a GGUF of arch (which need not match t->qwen: the tests swap
 * them on purpose) with matrices of type wtype. */
static char *tiny_write(const tiny *t, const char *arch, int wtype, const char *dir,
                        const char *name, bool biases)
{
    gw g = {0};
    char k[128];
    kv_str(&g, "general.architecture", arch);
#define KU(s, v) (snprintf(k, sizeof k, "%s." s, arch), kv_u32(&g, k, v))
#define KF(s, v) (snprintf(k, sizeof k, "%s." s, arch), kv_f32(&g, k, v))
    KU("embedding_length", E);
    KU("block_count", NL);
    KU("attention.head_count", H);
    KU("attention.head_count_kv", HKV);
    KU("feed_forward_length", FF);
    KU("context_length", 64);
    KF("rope.freq_base", t->base);
    KF("attention.layer_norm_rms_epsilon", 1e-6f);
#undef KU
#undef KF
    tensor(&g, "token_embd.weight", wtype, t->emb, E, NV);
    tensor(&g, "output_norm.weight", TL_GGUF_TYPE_F32, t->out_norm, E, 0);
    if (!t->tied)
        tensor(&g, "output.weight", wtype, t->out, E, NV);
    for (int l = 0; l < NL; l++) {
        char nm[64];
#define T(s, ty, x, c, r) (snprintf(nm, sizeof nm, "blk.%d.%s", l, s), tensor(&g, nm, ty, x, c, r))
        T("attn_norm.weight", TL_GGUF_TYPE_F32, t->l[l].an, E, 0);
        T("attn_q.weight", wtype, t->l[l].wq, E, H * HD);
        T("attn_k.weight", wtype, t->l[l].wk, E, HKV * HD);
        T("attn_v.weight", wtype, t->l[l].wv, E, HKV * HD);
        T("attn_output.weight", wtype, t->l[l].wo, H * HD, E);
        if (biases) {
            T("attn_q.bias", TL_GGUF_TYPE_F32, t->l[l].bq, H * HD, 0);
            T("attn_k.bias", TL_GGUF_TYPE_F32, t->l[l].bk, HKV * HD, 0);
            T("attn_v.bias", TL_GGUF_TYPE_F32, t->l[l].bv, HKV * HD, 0);
        }
        T("ffn_norm.weight", TL_GGUF_TYPE_F32, t->l[l].fn, E, 0);
        T("ffn_gate.weight", wtype, t->l[l].wg, E, FF);
        T("ffn_up.weight", wtype, t->l[l].wu, E, FF);
        T("ffn_down.weight", wtype, t->l[l].wd, FF, E);
#undef T
    }
    char *path = gw_write(&g, dir, name);
    gw_free(&g);
    return path;
}

static void ref_matvec(double *y, const float *W, const double *x, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++)
            s += (double)W[r * cols + c] * x[c];
        y[r] = s;
    }
}

static void ref_rmsnorm(double *o, const double *x, const float *w)
{
    double ss = 0;
    for (int i = 0; i < E; i++)
        ss += x[i] * x[i];
    double sc = 1.0 / sqrt(ss / E + 1e-6);
    for (int i = 0; i < E; i++)
        o[i] = x[i] * sc * w[i];
}

static void ref_rope(double *v, int n_heads, int pos, bool neox, double base)
{
    for (int h = 0; h < n_heads; h++) {
        double *x = v + h * HD;
        for (int i = 0; i < HD / 2; i++) {
            double th = pos * pow(base, -2.0 * i / HD);
            int a = neox ? i : 2 * i, b = neox ? i + HD / 2 : 2 * i + 1;
            double x0 = x[a], x1 = x[b];
            x[a] = x0 * cos(th) - x1 * sin(th);
            x[b] = x0 * sin(th) + x1 * cos(th);
        }
    }
}

/* Logits after each of ids[0..n), into logits (n, NV). */
static void ref_forward(const tiny *t, const int32_t *ids, int n, double *logits)
{
    static double K[NL][64][HKV * HD], Vc[NL][64][HKV * HD];
    for (int p = 0; p < n; p++) {
        double x[E], xb[E], q[H * HD], k[HKV * HD], v[HKV * HD], ao[H * HD], tmp[E];
        double g[FF], u[FF];
        for (int i = 0; i < E; i++)
            x[i] = t->emb[ids[p] * E + i];
        for (int l = 0; l < NL; l++) {
            ref_rmsnorm(xb, x, t->l[l].an);
            ref_matvec(q, t->l[l].wq, xb, H * HD, E);
            ref_matvec(k, t->l[l].wk, xb, HKV * HD, E);
            ref_matvec(v, t->l[l].wv, xb, HKV * HD, E);
            if (t->qwen) {
                for (int i = 0; i < H * HD; i++)
                    q[i] += t->l[l].bq[i];
                for (int i = 0; i < HKV * HD; i++) {
                    k[i] += t->l[l].bk[i];
                    v[i] += t->l[l].bv[i];
                }
            }
            ref_rope(q, H, p, t->qwen, t->base);
            ref_rope(k, HKV, p, t->qwen, t->base);
            memcpy(K[l][p], k, sizeof k);
            memcpy(Vc[l][p], v, sizeof v);
            for (int h = 0; h < H; h++) {
                int kh = h / (H / HKV);
                double sc[64], mx = -1e300, z = 0;
                for (int s = 0; s <= p; s++) {
                    double d = 0;
                    for (int i = 0; i < HD; i++)
                        d += q[h * HD + i] * K[l][s][kh * HD + i];
                    sc[s] = d / sqrt((double)HD);
                    mx = fmax(mx, sc[s]);
                }
                for (int s = 0; s <= p; s++)
                    z += (sc[s] = exp(sc[s] - mx));
                for (int i = 0; i < HD; i++) {
                    double o = 0;
                    for (int s = 0; s <= p; s++)
                        o += sc[s] / z * Vc[l][s][kh * HD + i];
                    ao[h * HD + i] = o;
                }
            }
            ref_matvec(tmp, t->l[l].wo, ao, E, H * HD);
            for (int i = 0; i < E; i++)
                x[i] += tmp[i];
            ref_rmsnorm(xb, x, t->l[l].fn);
            ref_matvec(g, t->l[l].wg, xb, FF, E);
            ref_matvec(u, t->l[l].wu, xb, FF, E);
            for (int i = 0; i < FF; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_matvec(tmp, t->l[l].wd, g, E, FF);
            for (int i = 0; i < E; i++)
                x[i] += tmp[i];
        }
        ref_rmsnorm(xb, x, t->out_norm);
        ref_matvec(logits + p * NV, t->tied ? t->emb : t->out, xb, NV, E);
    }
}

static const int32_t tiny_ids[12] = {3, 17, 42, 5, 79, 0, 33, 33, 61, 8, 12, 70};

/* Engine logits after each token, token by token, into out (12, NV). */
static void engine_logits(const char *path, int n_threads, float *out)
{
    tl_llm_model *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_llm_model_load(path, NULL, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_llm_model_n_vocab(m), NV);
    tl_llm_session *s;
    cr_assert_eq(tl_llm_session_new(m, 0, n_threads, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_llm_session_n_ctx(s), 64);
    for (int p = 0; p < 12; p++) {
        float *l;
        cr_assert_eq(tl_llm_decode(s, &tiny_ids[p], 1, &l, &err), 0, "%s", err.msg);
        memcpy(out + p * NV, l, NV * sizeof *l);
    }
    /* The batched prefill of the same tokens ends with the same logits. */
    tl_llm_session_reset(s);
    float *l;
    cr_assert_eq(tl_llm_decode(s, tiny_ids, 12, &l, &err), 0, "%s", err.msg);
    float d = max_diff(l, out + 11 * NV, NV);
    cr_assert(d < 1e-4f, "batched vs sequential: %g", (double)d);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
}

static double diff_ref(const float *got, const double *ref, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs(got[i] - ref[i]));
    return d;
}

static void check_tiny(bool qwen, bool tied)
{
    char *dir = tu_tmpdir();
    tiny *t = tiny_new(qwen, tied, qwen ? 11 : 22);
    char *path = tiny_write(t, qwen ? "qwen2" : "llama", TL_GGUF_TYPE_F32, dir, "m.gguf", qwen);
    static double ref[12 * NV];
    static float got[12 * NV], got2[12 * NV];
    ref_forward(t, tiny_ids, 12, ref);
    engine_logits(path, 1, got);
    double d = diff_ref(got, ref, 12 * NV);
    cr_assert(d < 2e-4, "%s: engine vs reference logits differ by %g", qwen ? "qwen2" : "llama", d);
    engine_logits(path, 2, got2);
    cr_assert_eq(memcmp(got, got2, sizeof got), 0);

    /* The other RoPE pairing, or no biases, is a different model: the
     * reference with the other convention is far off. */
    tiny *t2 = malloc(sizeof *t2);
    *t2 = *t;
    t2->qwen = !qwen;
    static double ref2[12 * NV];
    ref_forward(t2, tiny_ids, 12, ref2);
    cr_assert(diff_ref(got, ref2, 12 * NV) > 1e-2, "RoPE/bias convention made no difference");
    free(t2);

    /* Q8_0 copy: close to F32. */
    char *qpath = tiny_write(t, qwen ? "qwen2" : "llama", TL_GGUF_TYPE_Q8_0, dir, "q8.gguf", qwen);
    engine_logits(qpath, 2, got2);
    double dq = 0, spread = 0;
    for (int i = 0; i < 12 * NV; i++) {
        dq = fmax(dq, fabs(got2[i] - got[i]));
        spread = fmax(spread, fabs(got[i]));
    }
    cr_assert(dq < 0.03 * spread, "Q8_0 logits differ by %g (F32 logits up to %g)", dq, spread);
    cr_assert(dq > 0, "Q8_0 gave the F32 logits exactly: not quantized?");
    unlink(qpath);
    free(qpath);
    unlink(path);
    free(path);
    rmdir(dir);
    free(dir);
    free(t);
}

Test(llm_tiny, llama_matches_reference) { check_tiny(false, false); }
Test(llm_tiny, llama_tied_matches_reference) { check_tiny(false, true); }
Test(llm_tiny, qwen2_matches_reference) { check_tiny(true, true); }

Test(llm_tiny, qwen2_biases_and_neox_change_results)
{
    char *dir = tu_tmpdir();
    tiny *t = tiny_new(true, true, 5);
    char *qp = tiny_write(t, "qwen2", TL_GGUF_TYPE_F32, dir, "q.gguf", true);
    char *lp = tiny_write(t, "llama", TL_GGUF_TYPE_F32, dir, "l.gguf", false);
    static float a[12 * NV], b[12 * NV];
    engine_logits(qp, 1, a);
    engine_logits(lp, 1, b);
    cr_assert(max_diff(a, b, 12 * NV) > 1e-2f);
    /* Zero biases: only RoPE differs, and at position 0 RoPE is the identity. */
    for (int l = 0; l < NL; l++) {
        memset(t->l[l].bq, 0, sizeof t->l[l].bq);
        memset(t->l[l].bk, 0, sizeof t->l[l].bk);
        memset(t->l[l].bv, 0, sizeof t->l[l].bv);
    }
    unlink(qp);
    free(qp);
    qp = tiny_write(t, "qwen2", TL_GGUF_TYPE_F32, dir, "q.gguf", true);
    unlink(lp);
    free(lp);
    t->base = 1000000.0f;
    lp = tiny_write(t, "llama", TL_GGUF_TYPE_F32, dir, "l.gguf", false);
    engine_logits(qp, 1, a);
    engine_logits(lp, 1, b);
    cr_assert(max_diff(a, b, NV) < 1e-5f, "position 0 should agree");
    cr_assert(max_diff(a + NV, b + NV, 11 * NV) > 1e-3f, "NEOX and adjacent RoPE agree");
    unlink(qp);
    unlink(lp);
    free(qp);
    free(lp);
    rmdir(dir);
    free(dir);
    free(t);
}

static void expect_load_error(const char *path, int code, const char *needle1, const char *needle2)
{
    tl_llm_model *m = NULL;
    tl_err err = {0};
    int rc = tl_llm_model_load(path, NULL, &m, &err);
    cr_assert_eq(rc, code, "rc %d: %s", rc, err.msg);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, needle1), "'%s' not in: %s", needle1, err.msg);
    cr_assert(!needle2 || strstr(err.msg, needle2), "'%s' not in: %s", needle2, err.msg);
}

Test(llm_files, gguf_faults_are_named)
{
    char *dir = tu_tmpdir();
    tiny *t = tiny_new(false, false, 9);
    /* unsupported architecture */
    char *p = tiny_write(t, "gemma", TL_GGUF_TYPE_F32, dir, "a.gguf", false);
    expect_load_error(p, TL_EUNSUPPORTED, "architecture \"gemma\"", "a.gguf");
    unlink(p);
    free(p);
    /* a qwen2 file without its biases */
    p = tiny_write(t, "qwen2", TL_GGUF_TYPE_F32, dir, "b.gguf", false);
    expect_load_error(p, TL_EPARSE, "blk.0.attn_q.bias", "missing");
    unlink(p);
    free(p);

    /* a wrong tensor shape: a hand-made file where blk.1.ffn_down has its
     * dimensions swapped */
    gw g = {0};
    kv_str(&g, "general.architecture", "llama");
    kv_u32(&g, "llama.embedding_length", E);
    kv_u32(&g, "llama.block_count", 1);
    kv_u32(&g, "llama.attention.head_count", H);
    kv_u32(&g, "llama.attention.head_count_kv", HKV);
    kv_u32(&g, "llama.feed_forward_length", FF);
    kv_u32(&g, "llama.context_length", 64);
    tensor(&g, "token_embd.weight", 0, t->emb, E, NV);
    tensor(&g, "output_norm.weight", 0, t->out_norm, E, 0);
    tensor(&g, "blk.0.attn_norm.weight", 0, t->l[0].an, E, 0);
    tensor(&g, "blk.0.attn_q.weight", 0, t->l[0].wq, E, H * HD);
    tensor(&g, "blk.0.attn_k.weight", 0, t->l[0].wk, E, HKV * HD);
    tensor(&g, "blk.0.attn_v.weight", 0, t->l[0].wv, E, HKV * HD);
    tensor(&g, "blk.0.attn_output.weight", 0, t->l[0].wo, E, E);
    tensor(&g, "blk.0.ffn_norm.weight", 0, t->l[0].fn, E, 0);
    tensor(&g, "blk.0.ffn_gate.weight", 0, t->l[0].wg, E, FF);
    tensor(&g, "blk.0.ffn_up.weight", 0, t->l[0].wu, E, FF);
    tensor(&g, "blk.0.ffn_down.weight", 0, t->l[0].wd, E, FF);
    p = gw_write(&g, dir, "c.gguf");
    expect_load_error(p, TL_EPARSE, "\"blk.0.ffn_down.weight\" has shape [64, 96], expected [96, 64]",
                      "c.gguf");
    unlink(p);
    free(p);
    gw_free(&g);

    /* a matrix in a type without kernels (I8) */
    g = (gw){0};
    kv_str(&g, "general.architecture", "llama");
    kv_u32(&g, "llama.embedding_length", E);
    kv_u32(&g, "llama.block_count", 1);
    kv_u32(&g, "llama.attention.head_count", H);
    kv_u32(&g, "llama.feed_forward_length", FF);
    kv_u32(&g, "llama.context_length", 64);
    tensor(&g, "token_embd.weight", TL_GGUF_TYPE_I32, t->emb, E, NV);
    p = gw_write(&g, dir, "d.gguf");
    expect_load_error(p, TL_EUNSUPPORTED, "\"token_embd.weight\" has type I32", NULL);
    unlink(p);
    free(p);
    gw_free(&g);

    /* a missing hyperparameter */
    g = (gw){0};
    kv_str(&g, "general.architecture", "qwen2");
    kv_u32(&g, "qwen2.embedding_length", E);
    p = gw_write(&g, dir, "e.gguf");
    expect_load_error(p, TL_EPARSE, "\"qwen2.block_count\" is missing", NULL);
    unlink(p);
    free(p);
    gw_free(&g);

    rmdir(dir);
    free(dir);
    free(t);
}
