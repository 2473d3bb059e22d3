/*
 * fuzz_tokenizer.c - the tokenizers (include/teller/llm_tokenizer.h) on small
 * vocabularies built in memory (no shared data needed).
 *
 * Input: byte 0 picks the vocabulary (low 2 bits: SentencePiece, byte-level
 * BPE, WordPiece) and the encode flags (bits 2..4); the rest is the text.
 * Encoding succeeds exactly when the text is valid UTF-8 (else TL_EINVAL
 * under the tl_err contract); every id is in the vocabulary; decoding
 * succeeds; and for SentencePiece and BPE without special parsing,
 * decode(encode(text)) == text (both vocabularies cover every byte; a
 * literal U+2581 decodes to a space in SentencePiece).
 */
#include "fuzz.h"

#include <teller/llm_gguf.h>
#include <teller/llm_gguf_write.h>
#include <teller/llm_tokenizer.h>

/* A vocabulary built in memory through the GGUF writer, then loaded as a
 * file would be. */
static tl_tokenizer *build(const char *model, const char *pre, const char *const *tok,
                           const int *type, const float *score, size_t n,
                           const char *const *merges, size_t n_merges)
{
    tl_err err = {0};
    tl_gguf_writer *w = NULL;
    FUZZ_CHECK(tl_gguf_writer_new(&w, &err) == 0);
    FUZZ_CHECK(tl_gguf_writer_set_str(w, "tokenizer.ggml.model", model, &err) == 0);
    if (pre)
        FUZZ_CHECK(tl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre, &err) == 0);
    FUZZ_CHECK(tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, NULL, n, &err) == 0);
    FUZZ_CHECK(tl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", TL_GGUF_VAL_I32, type, n,
                                      &err) == 0);
    if (score)
        FUZZ_CHECK(tl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", TL_GGUF_VAL_F32, score, n,
                                          &err) == 0);
    if (merges)
        FUZZ_CHECK(tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, n_merges,
                                              &err) == 0);
    void *buf = NULL;
    size_t len = 0;
    FUZZ_CHECK(tl_gguf_writer_write_mem(w, NULL, NULL, &buf, &len, &err) == 0);
    tl_gguf_writer_free(w);
    tl_gguf *g = NULL;
    tl_tokenizer *t = NULL;
    FUZZ_CHECK(tl_gguf_open_mem(buf, len, "fuzz-vocab.gguf", &g, &err) == 0);
    FUZZ_CHECK(tl_tok_load_gguf(g, &t, &err) == 0);
    tl_gguf_close(g);
    free(buf);
    return t;
}

static tl_tokenizer *vocab_spm(void)
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
    const char *pieces[] = {"\xe2\x96\x81", "a", "b", "e", "h", "i", "\xe2\x96\x81" "a", "ab",
                            "\xe2\x96\x81" "ab", "hi", "\xe2\x96\x81" "hi", "\xc3\xa9",
                            "\xe2\x96\x81\xe2\x96\x81"};
    const float ps[] = {-1, -2, -2, -2, -2, -2, -0.5f, -0.6f, -0.1f, -0.3f, -0.2f, -3, -0.4f};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        tok[n] = pieces[i];
        type[n] = 1;
        score[n++] = ps[i];
    }
    return build("llama", NULL, tok, type, score, n, NULL, 0);
}

static tl_tokenizer *vocab_bpe(void)
{
    static char alpha[256][4];
    const char *tok[270];
    int type[270];
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
    const char *extra[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "\xc4\xa0\xc4\xa0", "<|endoftext|>",
                           "  "};
    const int extra_t[] = {1, 1, 1, 1, 3, 4};
    for (int i = 0; i < 6; i++) {
        tok[n] = extra[i];
        type[n++] = extra_t[i];
    }
    const char *merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "\xc4\xa0 \xc4\xa0"};
    return build("gpt2", "llama-bpe", tok, type, NULL, n, merges, 4);
}

static tl_tokenizer *vocab_wpm(void)
{
    const char *tok[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xe2\x96\x81" "hello", "\xe2\x96\x81" "a",
                         "b", "ab", "\xe2\x96\x81!", "\xe2\x96\x81\xe4\xb8\x80", "\xe2\x96\x81" "e"};
    const int type[] = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    return build("bert", "bert-bge", tok, type, NULL, sizeof tok / sizeof *tok, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tl_tokenizer *vocabs[3];
    if (!vocabs[0]) {
        vocabs[0] = vocab_spm();
        vocabs[1] = vocab_bpe();
        vocabs[2] = vocab_wpm();
    }
    if (size == 0)
        return 0;
    int which = data[0] & 3;
    if (which == 3)
        which = 0;
    unsigned flags = (data[0] >> 2) & 7;
    const tl_tokenizer *t = vocabs[which];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    tl_err err = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = tl_tok_encode(t, text, len, flags, &ids, &n, &err);
    if (!tl_utf8_valid(text, len, NULL)) {
        FUZZ_CHECK(rc == TL_EINVAL);
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(ids == NULL && n == 0);
        return 0;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(ids != NULL);
    int32_t nv = tl_tok_n_vocab(t);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < nv);
        char buf[8];
        int pl = tl_tok_piece(t, ids[i], true, buf, sizeof buf);
        FUZZ_CHECK(pl >= 0);
    }
    FUZZ_CHECK(tl_tok_piece(t, nv, false, NULL, 0) < 0);
    char *dec = NULL;
    size_t dl = 0;
    FUZZ_CHECK(tl_tok_decode(t, ids, n, false, &dec, &dl, &err) == 0);
    FUZZ_CHECK(dec && dec[dl] == 0);
    /* SentencePiece writes spaces as U+2581, so a literal U+2581 in the text
     * comes back as a space (as in llama.cpp and sentencepiece) */
    bool marker = which == 0 && memmem(text, len, "\xe2\x96\x81", 3) != NULL;
    if (which != 2 && !(flags & TL_TOK_PARSE_SPECIAL) && !marker) {
        if (dl != len || memcmp(dec, text, len) != 0)
            fprintf(stderr, "round trip: %zu bytes in, %zu out\n", len, dl);
        FUZZ_CHECK(dl == len && memcmp(dec, text, len) == 0);
    }
    free(dec);
    FUZZ_CHECK(tl_tok_decode(t, ids, n, true, &dec, &dl, &err) == 0);
    free(dec);
    free(ids);
    return 0;
}
