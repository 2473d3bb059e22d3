/*
 * test_llm_tokenizer.c - the tokenizers (include/teller/llm_tokenizer.h)
 * against llama.cpp's reference vectors ($TELLER_SHARED/data/tokenizer),
 * llama2.c's stories260K vocabulary, and small vocabularies built here.
 */
#include <criterion/criterion.h>

#include <teller/llm_gguf.h>
#include <teller/llm_gguf_write.h>
#include <teller/llm_tokenizer.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- small in-memory vocabularies, through the GGUF writer ---------------------------- */

typedef struct wb {
    void *p;
    size_t n;
} wb;

/* A vocabulary-only GGUF: tokens with types (and scores for llama), merges
 * for gpt2; with_tokens false leaves the token keys out. */
static wb vocab_gguf(const char *model, const char *pre, const char *const *tok, const int *type,
                     const float *score, size_t n, const char *const *merges, size_t n_merges,
                     bool with_tokens)
{
    tl_err err = {0};
    tl_gguf_writer *w = NULL;
    cr_assert_eq(tl_gguf_writer_new(&w, &err), 0, "%s", err.msg);
    int rc = tl_gguf_writer_set_str(w, "tokenizer.ggml.model", model, &err);
    if (rc == 0 && pre)
        rc = tl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre, &err);
    if (rc == 0 && with_tokens)
        rc = tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, NULL, n, &err);
    if (rc == 0 && with_tokens)
        rc = tl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", TL_GGUF_VAL_I32, type, n, &err);
    if (rc == 0 && score)
        rc = tl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", TL_GGUF_VAL_F32, score, n, &err);
    if (rc == 0 && merges)
        rc = tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, n_merges, &err);
    wb b = {0};
    if (rc == 0)
        rc = tl_gguf_writer_write_mem(w, NULL, NULL, &b.p, &b.n, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    tl_gguf_writer_free(w);
    return b;
}

static int load_mem(const wb *b, tl_tokenizer **t, tl_err *err)
{
    tl_gguf *g = NULL;
    int rc = tl_gguf_open_mem(b->p, b->n, "mini.gguf", &g, err);
    if (rc < 0)
        return rc;
    rc = tl_tok_load_gguf(g, t, err);
    tl_gguf_close(g);
    return rc;
}

/* A 272-token SentencePiece vocabulary with <|im_start|> / <|im_end|>. */
static tl_tokenizer *mini_spm(void)
{
    static char bytes[256][8];
    const char *tok[300];
    int type[300];
    float score[300];
    size_t n = 0;
    const char *head[] = {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"};
    const int head_t[] = {2, 3, 3, 3, 3};
    for (int i = 0; i < 5; i++) {
        tok[n] = head[i];
        type[n] = head_t[i];
        score[n++] = 0;
    }
    for (int i = 0; i < 256; i++) {
        snprintf(bytes[i], sizeof bytes[i], "<0x%02X>", i);
        tok[n] = bytes[i];
        type[n] = 6;
        score[n++] = 0;
    }
    const char *pieces[] = {"\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a", "ab",
                            "\xe2\x96\x81" "ab", "h", "i", "hi", "\xe2\x96\x81" "hi"};
    const float ps[] = {-1, -2, -2, -2, -0.5f, -0.6f, -0.1f, -2, -2, -0.3f, -0.2f};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        tok[n] = pieces[i];
        type[n] = 1;
        score[n++] = ps[i];
    }
    wb b = vocab_gguf("llama", NULL, tok, type, score, n, NULL, 0, true);
    tl_tokenizer *t = NULL;
    tl_err err = {0};
    cr_assert_eq(load_mem(&b, &t, &err), 0, "%s", err.msg);
    free(b.p);
    return t;
}

/* ---- helpers ---------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap + 1);
    while ((got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(fp);
    buf[len] = 0;
    *n = len;
    return buf;
}

static tl_tokenizer *load_shared(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data/tokenizer/ggml-vocab-%s.gguf", tu_shared_dir(), name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fclose(fp);
    tl_gguf *g = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    tl_tokenizer *t = NULL;
    cr_assert_eq(tl_tok_load_gguf(g, &t, &err), 0, "%s: %s", name, err.msg);
    tl_gguf_close(g);
    return t;
}

#define SKIP_NO_SHARED(t, name)                                                                 \
    if (!(t)) {                                                                                 \
        cr_skip_test("no %s/data/tokenizer/ggml-vocab-%s.gguf: the shared vocabularies are " \
                     "absent",                                                                  \
                     tu_shared_dir(), name);                                                    \
        return;                                                                                 \
    }

static const char SEP[] = "\n__ggml_vocab_test__\n";

/* Every case of NAME.gguf.inp against .out; the first mismatch fails with
 * its index, input, expected and actual ids. With round_trip, decoding the
 * ids must give the input back. */
static void check_vectors(const char *name, bool round_trip)
{
    tl_tokenizer *t = load_shared(name);
    SKIP_NO_SHARED(t, name);
    char path[4096];
    size_t ni, no;
    snprintf(path, sizeof path, "%s/data/tokenizer/ggml-vocab-%s.gguf.inp", tu_shared_dir(), name);
    char *inp = slurp(path, &ni);
    snprintf(path, sizeof path, "%s/data/tokenizer/ggml-vocab-%s.gguf.out", tu_shared_dir(), name);
    char *out = slurp(path, &no);
    cr_assert(inp && out, "%s: the .inp/.out vectors are missing", name);
    char *s = inp, *o = out, *m;
    int cases = 0, passed = 0;
    while ((m = strstr(s, SEP))) {
        size_t len = (size_t)(m - s);
        char *eol = strchr(o, '\n');
        cr_assert(eol, "%s: .out has fewer lines than .inp has cases", name);
        *eol = 0;
        int32_t *ids = NULL;
        size_t n = 0;
        tl_err err = {0};
        cr_assert_eq(tl_tok_encode(t, s, len, 0, &ids, &n, &err), 0, "%s case %d: %s", name,
                     cases, err.msg);
        static char got[1 << 16];
        size_t gl = 0;
        got[0] = 0;
        for (size_t i = 0; i < n && gl < sizeof got - 16; i++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, " %d", (int)ids[i]);
        cr_assert_str_eq(got, o, "%s case %d: input \"%.*s\"\n expected:%s\n got:     %s", name,
                         cases, (int)len, s, o, got);
        if (round_trip) {
            char *dec = NULL;
            size_t dl = 0;
            cr_assert_eq(tl_tok_decode(t, ids, n, false, &dec, &dl, &err), 0, "%s", err.msg);
            cr_assert(dl == len && memcmp(dec, s, len) == 0,
                      "%s case %d: decode gave \"%s\" for \"%.*s\"", name, cases, dec, (int)len, s);
            free(dec);
        }
        free(ids);
        passed++;
        cases++;
        s = m + sizeof SEP - 1;
        o = eol + 1;
    }
    cr_assert_eq(cases, 46, "%s: %d cases, expected 46", name, cases);
    cr_log_info("%s: %d/%d cases match", name, passed, cases);
    free(inp);
    free(out);
    tl_tok_free(t);
}

/* ---- the reference vectors --------------------------------------------------------- */

Test(tok_vectors, bert_bge) { check_vectors("bert-bge", false); }
Test(tok_vectors, deepseek_coder) { check_vectors("deepseek-coder", true); }
Test(tok_vectors, deepseek_llm) { check_vectors("deepseek-llm", true); }
Test(tok_vectors, falcon) { check_vectors("falcon", true); }
Test(tok_vectors, mpt) { check_vectors("mpt", true); }
Test(tok_vectors, phi_3) { check_vectors("phi-3", true); }
Test(tok_vectors, refact) { check_vectors("refact", true); }
Test(tok_vectors, starcoder) { check_vectors("starcoder", true); }

/* baichuan and gpt-neox have no vectors: they load, and the 46 strings of
 * another vocabulary's .inp survive encode + decode. */
static void check_round_trip_only(const char *name, const char *model, int32_t n_vocab)
{
    tl_tokenizer *t = load_shared(name);
    SKIP_NO_SHARED(t, name);
    cr_assert_str_eq(tl_tok_model_name(t), model);
    cr_assert_eq(tl_tok_n_vocab(t), n_vocab);
    char path[4096];
    size_t ni;
    snprintf(path, sizeof path, "%s/data/tokenizer/ggml-vocab-mpt.gguf.inp", tu_shared_dir());
    char *inp = slurp(path, &ni);
    cr_assert(inp, "no %s", path);
    char *s = inp, *m;
    int cases = 0;
    while ((m = strstr(s, SEP))) {
        size_t len = (size_t)(m - s);
        int32_t *ids = NULL;
        size_t n = 0;
        char *dec = NULL;
        size_t dl = 0;
        tl_err err = {0};
        cr_assert_eq(tl_tok_encode(t, s, len, 0, &ids, &n, &err), 0, "%s", err.msg);
        cr_assert(len == 0 || n > 0);
        for (size_t i = 0; i < n; i++)
            cr_assert(ids[i] >= 0 && ids[i] < n_vocab);
        cr_assert_eq(tl_tok_decode(t, ids, n, false, &dec, &dl, &err), 0, "%s", err.msg);
        cr_assert(dl == len && memcmp(dec, s, len) == 0, "%s case %d: \"%s\" for \"%.*s\"", name,
                  cases, dec, (int)len, s);
        free(dec);
        free(ids);
        cases++;
        s = m + sizeof SEP - 1;
    }
    cr_assert_eq(cases, 46);
    free(inp);
    tl_tok_free(t);
}

Test(tok_vectors, baichuan_round_trip) { check_round_trip_only("baichuan", "llama", 64000); }
Test(tok_vectors, gpt_neox_round_trip) { check_round_trip_only("gpt-neox", "gpt2", 50432); }

/* ---- special tokens, pieces, EOG on phi-3 ---------------------------------------------- */

Test(tok_special, phi3_parse_special_and_pieces)
{
    tl_tokenizer *t = load_shared("phi-3");
    SKIP_NO_SHARED(t, "phi-3");
    const char *text = "<|user|>\nHello<|end|>\n<|assistant|>";
    int32_t *ids = NULL;
    size_t n = 0;
    tl_err err = {0};
    cr_assert_eq(tl_tok_encode(t, text, strlen(text), TL_TOK_ADD_BOS | TL_TOK_PARSE_SPECIAL, &ids,
                               &n, &err),
                 0, "%s", err.msg);
    int32_t user = tl_tok_find(t, "<|user|>", 8), end = tl_tok_find(t, "<|end|>", 7);
    int32_t asst = tl_tok_find(t, "<|assistant|>", 13);
    cr_assert(user == 32010 && end == 32007 && asst == 32001, "%d %d %d", user, end, asst);
    cr_assert(n >= 5);
    cr_assert_eq(ids[0], tl_tok_bos(t));
    cr_assert_eq(ids[1], user);
    cr_assert_eq(ids[n - 1], asst);
    bool has_end = false;
    for (size_t i = 0; i < n; i++)
        has_end |= ids[i] == end;
    cr_assert(has_end);
    free(ids);
    /* without parse_special the same text is plain text */
    cr_assert_eq(tl_tok_encode(t, text, strlen(text), 0, &ids, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert(ids[i] != user && ids[i] != end && ids[i] != asst);
    free(ids);

    cr_assert(tl_tok_is_eog(t, end));
    cr_assert(tl_tok_is_eog(t, tl_tok_eos(t)));
    cr_assert(!tl_tok_is_eog(t, user));
    cr_assert(tl_tok_is_control(t, tl_tok_bos(t)));
    cr_assert(tl_tok_default_add_bos(t));
    char buf[16];
    cr_assert_eq(tl_tok_piece(t, tl_tok_bos(t), false, buf, sizeof buf), 0);
    cr_assert_eq(tl_tok_piece(t, tl_tok_bos(t), true, buf, sizeof buf), 3);
    cr_assert(memcmp(buf, "<s>", 3) == 0);
    int32_t nl = tl_tok_find(t, "<0x0A>", 6);
    cr_assert_eq(tl_tok_piece(t, nl, false, buf, sizeof buf), 1);
    cr_assert_eq(buf[0], '\n');
    int32_t hello = tl_tok_find(t, "\xe2\x96\x81Hello", 8);
    cr_assert_eq(tl_tok_piece(t, hello, false, buf, 3), 6); /* " Hello", truncated copy */
    cr_assert(memcmp(buf, " He", 3) == 0);
    cr_assert(tl_tok_piece(t, 32064, false, buf, sizeof buf) < 0);
    cr_assert(tl_tok_piece(t, -1, false, buf, sizeof buf) < 0);
    tl_tok_free(t);
}

Test(tok_special, bpe_defaults)
{
    tl_tokenizer *t = load_shared("mpt");
    SKIP_NO_SHARED(t, "mpt");
    cr_assert(!tl_tok_default_add_bos(t));
    cr_assert_str_eq(tl_tok_model_name(t), "gpt2");
    cr_assert(tl_tok_is_eog(t, tl_tok_find(t, "<|endoftext|>", 13)));
    char buf[8];
    int32_t sp = tl_tok_find(t, "\xc4\xa0", 2); /* the GPT-2 alphabet's space */
    cr_assert_eq(tl_tok_piece(t, sp, false, buf, sizeof buf), 1);
    cr_assert_eq(buf[0], ' ');
    tl_tok_free(t);
    t = load_shared("bert-bge");
    cr_assert(t);
    cr_assert_str_eq(tl_tok_model_name(t), "bert");
    int32_t *ids = NULL;
    size_t n = 0;
    char *dec = NULL;
    size_t dl = 0;
    cr_assert_eq(tl_tok_encode(t, "Hello World", 11, TL_TOK_ADD_BOS, &ids, &n, NULL), 0);
    cr_assert_eq(ids[0], 101);
    cr_assert_eq(tl_tok_decode(t, ids, n, false, &dec, &dl, NULL), 0);
    cr_assert_str_eq(dec, "hello world");
    free(dec);
    free(ids);
    tl_tok_free(t);
}

/* ---- stories260K: tok512.bin and the GGUF agree with llama2.c -------------------------- */

static void expected_prompt(const char *prompt, int32_t *ids, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K/expected_greedy.json", tu_shared_dir());
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert(root, "%s: %s", path, je.text);
    json_t *cases = json_object_get(root, "cases");
    size_t i;
    json_t *c;
    *n = 0;
    json_array_foreach(cases, i, c)
    {
        const char *p = json_string_value(json_object_get(c, "prompt"));
        if (!p || strcmp(p, prompt) != 0)
            continue;
        json_t *toks = json_object_get(c, "prompt_tokens"), *v;
        size_t k;
        json_array_foreach(toks, k, v) ids[(*n)++] = (int32_t)json_integer_value(v);
    }
    json_decref(root);
    cr_assert(*n > 1, "no prompt_tokens for \"%s\" in %s", prompt, path);
}

Test(tok_stories, llama2c_and_gguf_agree)
{
    char bin[4096], gg[4096];
    snprintf(bin, sizeof bin, "%s/models/stories260K/tok512.bin", tu_shared_dir());
    snprintf(gg, sizeof gg, "%s/models/stories260K/stories260K.gguf", tu_shared_dir());
    FILE *fp = fopen(bin, "rb");
    if (!fp) {
        cr_skip_test("no %s: the shared stories260K model is absent", bin);
        return;
    }
    fclose(fp);
    const char *prompt = "Lily went to the park";
    int32_t want[64];
    size_t nw;
    expected_prompt(prompt, want, &nw);

    tl_tokenizer *a = NULL, *b = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_tok_load_llama2c(bin, &a, &err), 0, "%s", err.msg);
    tl_gguf *g = NULL;
    cr_assert_eq(tl_gguf_open(gg, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_tok_load_gguf(g, &b, &err), 0, "%s", err.msg);
    tl_gguf_close(g);
    cr_assert_eq(tl_tok_n_vocab(a), 512);
    cr_assert_eq(tl_tok_n_vocab(b), 512);
    cr_assert(tl_tok_bos(a) == 1 && tl_tok_eos(a) == 2 && tl_tok_bos(b) == 1 && tl_tok_eos(b) == 2);
    tl_tokenizer *both[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        int32_t *ids = NULL;
        size_t n = 0;
        cr_assert_eq(tl_tok_encode(both[k], prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &n, &err),
                     0, "%s", err.msg);
        cr_assert_eq(n, nw, "%s: %zu ids, expected %zu", k ? "gguf" : "tok512.bin", n, nw);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(ids[i], want[i], "%s: id %zu is %d, expected %d",
                         k ? "gguf" : "tok512.bin", i, ids[i], want[i]);
        char *dec = NULL;
        size_t dl;
        cr_assert_eq(tl_tok_decode(both[k], ids, n, false, &dec, &dl, &err), 0);
        cr_assert_str_eq(dec, prompt);
        free(dec);
        free(ids);
        /* a character outside the vocabulary falls back to bytes and back */
        const char *odd = "Tom's \xe2\x82\xac 5 \xf0\x9f\x99\x82\n";
        cr_assert_eq(tl_tok_encode(both[k], odd, strlen(odd), 0, &ids, &n, &err), 0);
        cr_assert_eq(tl_tok_decode(both[k], ids, n, false, &dec, &dl, &err), 0);
        cr_assert_str_eq(dec, odd);
        free(dec);
        free(ids);
    }
    tl_tok_free(a);
    tl_tok_free(b);
}

Test(tok_stories, truncated_tok512)
{
    char bin[4096];
    snprintf(bin, sizeof bin, "%s/models/stories260K/tok512.bin", tu_shared_dir());
    size_t n;
    char *data = slurp(bin, &n);
    if (!data) {
        cr_skip_test("no %s: the shared stories260K model is absent", bin);
        return;
    }
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/cut.bin", dir);
    FILE *fp = fopen(path, "wb");
    fwrite(data, 1, n - 3, fp);
    fclose(fp);
    tl_tokenizer *t = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_tok_load_llama2c(path, &t, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "truncated at token 511"), "%s", err.msg);
    cr_assert(strstr(err.msg, "cut.bin"), "%s", err.msg);
    fp = fopen(path, "wb");
    fwrite(data, 1, 2, fp);
    fclose(fp);
    cr_assert_eq(tl_tok_load_llama2c(path, &t, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/absent.bin", dir);
    cr_assert_eq(tl_tok_load_llama2c(path, &t, &err), TL_EIO);
    cr_assert(strstr(err.msg, "absent.bin"), "%s", err.msg);
    free(data);
    free(dir);
}

/* ---- small in-memory vocabularies (no shared data needed) ------------------------------- */

Test(tok_mini, spm_merges_and_specials)
{
    tl_tokenizer *t = mini_spm();
    int32_t ab = tl_tok_find(t, "\xe2\x96\x81" "ab", 5);
    int32_t hi = tl_tok_find(t, "\xe2\x96\x81" "hi", 5);
    cr_assert(ab > 0 && hi > 0);
    int32_t *ids = NULL;
    size_t n = 0;
    tl_err err = {0};
    cr_assert_eq(tl_tok_encode(t, "ab hi", 5, 0, &ids, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert(ids[0] == ab && ids[1] == hi);
    free(ids);

    const char *chat = "<|im_start|>ab<|im_end|>";
    cr_assert_eq(tl_tok_encode(t, chat, strlen(chat), TL_TOK_ADD_BOS | TL_TOK_ADD_EOS |
                                                          TL_TOK_PARSE_SPECIAL,
                               &ids, &n, &err),
                 0);
    cr_assert_eq(n, 5);
    cr_assert(ids[0] == 1 && ids[1] == 3 && ids[2] == ab && ids[3] == 4 && ids[4] == 2);
    cr_assert(tl_tok_is_eog(t, 4)); /* <|im_end|> */
    cr_assert(tl_tok_is_control(t, 3) && !tl_tok_is_eog(t, 3));
    char *dec = NULL;
    size_t dl;
    cr_assert_eq(tl_tok_decode(t, ids, n, true, &dec, &dl, &err), 0);
    cr_assert_str_eq(dec, "<s><|im_start|>ab<|im_end|></s>");
    free(dec);
    cr_assert_eq(tl_tok_decode(t, ids, n, false, &dec, &dl, &err), 0);
    cr_assert_str_eq(dec, "ab");
    free(dec);
    free(ids);
    /* not parsed: the same text is characters and bytes, and round-trips */
    cr_assert_eq(tl_tok_encode(t, chat, strlen(chat), 0, &ids, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert(ids[i] != 3 && ids[i] != 4);
    cr_assert_eq(tl_tok_decode(t, ids, n, false, &dec, &dl, &err), 0);
    cr_assert_str_eq(dec, chat);
    free(dec);
    free(ids);
    /* the empty text gives no ids, but a valid allocation */
    cr_assert_eq(tl_tok_encode(t, "", 0, 0, &ids, &n, &err), 0);
    cr_assert(ids && n == 0);
    free(ids);
    tl_tok_free(t);
}

Test(tok_mini, bpe_gpt2_alphabet)
{
    /* the 256 GPT-2 alphabet characters in byte order, then merges */
    static char alpha[256][4];
    const char *tok[264];
    int type[264];
    size_t n = 0;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        int cp = keep ? b : next++;
        if (cp < 0x80) {
            alpha[b][0] = (char)cp;
        } else {
            alpha[b][0] = (char)(0xc0 | (cp >> 6));
            alpha[b][1] = (char)(0x80 | (cp & 0x3f));
        }
        tok[n] = alpha[b];
        type[n++] = 1;
    }
    const char *extra[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "<|endoftext|>"};
    for (int i = 0; i < 4; i++) {
        tok[n] = extra[i];
        type[n++] = i == 3 ? 3 : 1;
    }
    const char *merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he"};
    wb b = vocab_gguf("gpt2", "gpt-2", tok, type, NULL, n, merges, 3, true);
    tl_tokenizer *t = NULL;
    tl_err err = {0};
    cr_assert_eq(load_mem(&b, &t, &err), 0, "%s", err.msg);
    int32_t *ids = NULL;
    size_t ni = 0;
    const char *text = "the the\xe2\x82\xac<|endoftext|>";
    cr_assert_eq(tl_tok_encode(t, text, strlen(text), TL_TOK_PARSE_SPECIAL, &ids, &ni, &err), 0);
    /* "the" has no merge of t+he: t, he; " the" merges fully; the euro sign
     * is its 3 byte characters */
    cr_assert_eq(ni, 7, "%zu ids", ni);
    cr_assert_eq(ids[0], tl_tok_find(t, "t", 1));
    cr_assert_eq(ids[1], 257);
    cr_assert_eq(ids[2], 258);
    cr_assert_eq(ids[6], 259);
    char *dec = NULL;
    size_t dl;
    cr_assert_eq(tl_tok_decode(t, ids, ni, true, &dec, &dl, &err), 0);
    cr_assert_str_eq(dec, text);
    free(dec);
    free(ids);
    tl_tok_free(t);
    free(b.p);

    /* an unknown pre-tokenizer is refused by name */
    b = vocab_gguf("gpt2", "no-such-pre", tok, type, NULL, n, merges, 3, true);
    cr_assert_eq(load_mem(&b, &t, &err), TL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "no-such-pre"), "%s", err.msg);
    free(b.p);
    /* gpt2 without merges */
    b = vocab_gguf("gpt2", "gpt-2", tok, type, NULL, n, NULL, 0, true);
    cr_assert_eq(load_mem(&b, &t, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "tokenizer.ggml.merges"), "%s", err.msg);
    free(b.p);
}

Test(tok_errors, bad_inputs)
{
    tl_err err = {0};
    tl_tokenizer *t = NULL;
    /* a GGUF without tokenizer.ggml.tokens */
    wb b = vocab_gguf("llama", NULL, NULL, NULL, NULL, 0, NULL, 0, false);
    cr_assert_eq(load_mem(&b, &t, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "tokenizer.ggml.tokens"), "%s", err.msg);
    free(b.p);
    /* an unknown model */
    const char *tok[] = {"a"};
    int type[] = {1};
    b = vocab_gguf("t9", NULL, tok, type, NULL, 1, NULL, 0, true);
    cr_assert_eq(load_mem(&b, &t, &err), TL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "t9"), "%s", err.msg);
    free(b.p);

    t = mini_spm();
    int32_t *ids = (int32_t *)&err;
    size_t n = 99;
    cr_assert_eq(tl_tok_encode(t, "ab\xc3(", 4, 0, &ids, &n, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "byte offset 2"), "%s", err.msg);
    cr_assert(ids == NULL && n == 0);
    cr_assert_eq(tl_tok_encode(t, "\xff", 1, 0, &ids, &n, &err), TL_EINVAL);
    int32_t bad[] = {5, 100000};
    char *dec = NULL;
    size_t dl;
    cr_assert_eq(tl_tok_decode(t, bad, 2, false, &dec, &dl, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "position 1"), "%s", err.msg);
    cr_assert_null(dec);
    tl_tok_free(t);
    tl_tok_free(NULL);
}
