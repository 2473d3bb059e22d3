/*
 * tok_wpm.c - WordPiece ("bert"), as llama.cpp's llm_tokenizer_wpm_session.
 *
 * BERT's basic tokenization first: (with strip_accents) canonical
 * decomposition, then per code point: whitespace ends a word; NUL, U+FFFD
 * and control/format characters vanish; marks vanish when accents are
 * stripped; letters are lower-cased; punctuation, ASCII symbols and CJK
 * ideographs each become a word of their own. Then each word, with U+2581
 * before it (this GGUF marks word-initial pieces, not continuations), is cut
 * greedily into the longest vocabulary pieces; a word with a part that no
 * piece covers becomes [UNK]. Unicode properties come from utf8proc.
 */
#include "tok_internal.h"

#include <utf8proc.h>

#include <stdlib.h>
#include <string.h>

/* llama.cpp's whitespace set (Unicode White_Space). */
static bool is_ws(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* The CJK ranges of BERT's _is_chinese_char (with the Hugging Face bound
 * 0x2B920 that llama.cpp copies). */
static bool is_cjk(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
           (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
           (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

typedef struct buf {
    char *v;
    size_t n, cap;
} buf;

static int buf_add(buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n)
            cap *= 2;
        char *v = realloc(b->v, cap);
        if (!v)
            return TL_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    memcpy(b->v + b->n, s, n);
    b->n += n;
    return 0;
}

/* Greedy longest match of "\u2581" + word (word = w[0..wl), after the 3
 * marker bytes already in w[-3..0)). */
static int emit_word(const tl_tokenizer *t, const char *w, size_t wl, tl__ids *out)
{
    size_t start = out->n;
    size_t n = wl;
    for (size_t i = 0; i < n;) {
        size_t hi = i + (size_t)t->max_len < n ? i + (size_t)t->max_len : n;
        int32_t id = -1;
        size_t j;
        for (j = hi; j > i; j--)
            if ((id = tl__tok_lookup(t, w + i, j - i)) >= 0)
                break;
        if (id < 0) {
            out->n = start; /* the whole word is unknown */
            break;
        }
        if (tl__ids_push(out, id) < 0)
            return TL_ENOMEM;
        i = j;
    }
    if (out->n == start && t->unk >= 0)
        return tl__ids_push(out, t->unk);
    return 0;
}

int tl__wpm_encode(const tl_tokenizer *t, const char *text, size_t len, tl__ids *out,
                   tl_err *err)
{
    buf w = {0};
    int rc = buf_add(&w, "\xe2\x96\x81", 3);
    for (size_t i = 0; i < len && rc == 0;) {
        size_t adv;
        uint32_t c0 = tl__u8dec(text + i, len - i, &adv);
        i += adv;
        utf8proc_int32_t dec[32];
        utf8proc_ssize_t nd = 1;
        dec[0] = (utf8proc_int32_t)c0;
        if (t->strip_accents) {
            nd = utf8proc_decompose_char((utf8proc_int32_t)c0, dec, 32, UTF8PROC_DECOMPOSE, NULL);
            if (nd <= 0 || nd > 32) {
                dec[0] = (utf8proc_int32_t)c0;
                nd = 1;
            }
        }
        for (utf8proc_ssize_t k = 0; k < nd && rc == 0; k++) {
            uint32_t c = (uint32_t)dec[k];
            if (is_ws(c)) {
                if (w.n > 3) {
                    rc = emit_word(t, w.v, w.n, out);
                    w.n = 3;
                }
                continue;
            }
            utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
            if (c == 0 || c == 0xfffd || cat == UTF8PROC_CATEGORY_CC ||
                cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CS ||
                cat == UTF8PROC_CATEGORY_CO)
                continue;
            if (t->strip_accents && (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
                                     cat == UTF8PROC_CATEGORY_ME))
                continue;
            uint32_t lc = t->lowercase ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)c) : c;
            char enc[4];
            size_t el = tl__u8enc(lc, enc);
            bool punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
            bool sym = cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
            if (punct || (c < 0x7f && sym) || is_cjk(c)) {
                if (w.n > 3) {
                    rc = emit_word(t, w.v, w.n, out);
                    w.n = 3;
                }
                if (rc == 0)
                    rc = buf_add(&w, enc, el);
                if (rc == 0)
                    rc = emit_word(t, w.v, w.n, out);
                w.n = 3;
            } else {
                rc = buf_add(&w, enc, el);
            }
        }
    }
    if (rc == 0 && w.n > 3)
        rc = emit_word(t, w.v, w.n, out);
    free(w.v);
    if (rc < 0)
        return tl_err_set(err, rc, "out of memory tokenizing %zu bytes", len);
    return 0;
}
