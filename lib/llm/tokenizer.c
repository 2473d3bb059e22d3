/*
 * tokenizer.c - the tokenizer front end (include/teller/llm_tokenizer.h):
 * loading from GGUF metadata and from llama2.c's tok512.bin, the text -> id
 * hash table, special tokens, the split of a text around special tokens
 * (llama.cpp's tokenizer_st_partition), and the encode / piece / decode
 * entry points. The family encoders live in tok_spm.c, tok_bpe.c and
 * tok_wpm.c; docs/llm-tokenizers.md describes the semantics.
 */
#include "tok_internal.h"

#include <teller/utf8.h>

#include "core/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ----------------------------------------------------------- */

int tl__ids_push(tl__ids *a, int32_t id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return TL_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return 0;
}

uint32_t tl__u8dec(const char *s, size_t n, size_t *adv)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t k = tl__u8len(u[0]);
    if (k > n)
        k = n;
    *adv = k;
    switch (k) {
    case 2:
        return ((uint32_t)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
    case 3:
        return ((uint32_t)(u[0] & 0x0f) << 12) | ((uint32_t)(u[1] & 0x3f) << 6) | (u[2] & 0x3f);
    case 4:
        return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3f) << 12) |
               ((uint32_t)(u[2] & 0x3f) << 6) | (u[3] & 0x3f);
    default:
        return u[0];
    }
}

size_t tl__u8enc(uint32_t cp, char *b)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (char)(0xf0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static const char *tok_text(const tl_tokenizer *t, int32_t id, size_t *len)
{
    *len = t->tok[id].len;
    return t->pool + t->tok[id].off;
}

int32_t tl__tok_lookup(const tl_tokenizer *t, const char *text, size_t len)
{
    if (!t->slots)
        return -1;
    uint64_t h = tl__hash_bytes(text, len);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)h & t->slot_mask;
    for (;;) {
        int64_t sl = t->slots[i];
        if (sl < 0)
            return -1;
        int32_t id = (int32_t)(sl & 0x7fffffff);
        if ((uint32_t)(sl >> 31) == tag && t->tok[id].len == len &&
            memcmp(t->pool + t->tok[id].off, text, len) == 0)
            return id;
        i = (i + 1) & t->slot_mask;
    }
}

/* Builds the hash table; a duplicate text keeps its first id (llama.cpp
 * refuses such a vocabulary; the first id is what a lookup can mean). */
static int build_hash(tl_tokenizer *t)
{
    size_t n = 16;
    while (n < (size_t)t->n_vocab * 2)
        n *= 2;
    t->slots = malloc(n * sizeof *t->slots);
    if (!t->slots)
        return TL_ENOMEM;
    memset(t->slots, 0xff, n * sizeof *t->slots);
    t->slot_mask = n - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *s = tok_text(t, id, &len);
        uint64_t h = tl__hash_bytes(s, len);
        size_t i = (size_t)h & t->slot_mask;
        bool dup = false;
        while (t->slots[i] >= 0) {
            int32_t o = (int32_t)(t->slots[i] & 0x7fffffff);
            if (t->tok[o].len == len && memcmp(t->pool + t->tok[o].off, s, len) == 0) {
                dup = true;
                break;
            }
            i = (i + 1) & t->slot_mask;
        }
        /* bits 0..30 the id (n_vocab < 2^30), bits 31..62 the tag */
        if (!dup)
            t->slots[i] = (int64_t)((uint64_t)(uint32_t)(h >> 32) << 31 | (uint32_t)id);
        if ((int32_t)len > t->max_len)
            t->max_len = (int32_t)len;
    }
    return 0;
}

static bool text_is(const tl_tokenizer *t, int32_t id, const char *s)
{
    size_t len;
    const char *p = tok_text(t, id, &len);
    return strlen(s) == len && memcmp(p, s, len) == 0;
}

/* ---- pieces ------------------------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The byte of a "<0xNN>" text, or -1. */
static int byte_of(const char *s, size_t len)
{
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Precomputes every token's piece (the special=true form, as llama.cpp's
 * cache_token_to_piece), so that tl_tok_piece and decoding are copies. */
static int build_pieces(tl_tokenizer *t)
{
    size_t total = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        total += t->tok[id].len;
    /* A gpt2 character decodes to at most its own length; U+2581 -> ' '
     * shrinks: the text length bounds every piece. */
    t->pieces = malloc(total + 1);
    if (!t->pieces)
        return TL_ENOMEM;
    size_t at = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        tl__tok_entry *e = &t->tok[id];
        const char *s = t->pool + e->off;
        char *dst = t->pieces + at;
        size_t n = 0;
        if (e->attr & (TL__TA_UNKNOWN | TL__TA_CONTROL | TL__TA_USER)) {
            memcpy(dst, s, e->len);
            n = e->len;
        } else if (e->attr & TL__TA_BYTE) {
            int b = byte_of(s, e->len);
            if (b >= 0)
                dst[n++] = (char)b;
        } else if (e->attr & TL__TA_NORMAL) {
            if (t->kind == TL__TOK_BPE) {
                n = tl__bpe_decode_text(t, s, e->len, dst);
            } else {
                for (size_t i = 0; i < e->len;) {
                    if (i + 3 <= e->len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                        dst[n++] = ' ';
                        i += 3;
                    } else {
                        dst[n++] = s[i++];
                    }
                }
            }
        }
        e->poff = (uint32_t)at;
        e->plen = (uint32_t)n;
        at += n;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------------ */

static tl_tokenizer *tok_new(void)
{
    tl_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->bos = t->eos = t->eot = t->eom = t->unk = t->sep = t->pad = -1;
    for (int i = 0; i < 256; i++)
        t->byte_tok[i] = -1;
    return t;
}

void tl_tok_free(tl_tokenizer *t)
{
    if (!t)
        return;
    tl__bpe_free(t);
    free(t->tok);
    free(t->pool);
    free(t->pieces);
    free(t->slots);
    free(t->specials);
    free(t);
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const tl_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->tok[x].len != t->tok[y].len)
        return t->tok[x].len > t->tok[y].len ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Texts that end a generation whatever the file says (llama.cpp's list);
 * such a token is made a control token. */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
};
/* Candidates for the EOT id when the file names none. */
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    /* DeepSeek's <｜end▁of▁sentence｜>, in octal escapes: they end after
     * three digits, where a hex escape would swallow the "e" of "end" */
    "<EOT>", "_<EOT>", "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>",
    "<end_of_utterance>",
};

/* Everything after the token table: hash, byte tokens, EOG marks, the
 * special-token list, pieces. */
static int finish(tl_tokenizer *t, tl_err *err)
{
    int rc = build_hash(t);
    if (rc < 0)
        return tl_err_set(err, rc, "out of memory building the tokenizer's hash table");
    if (t->kind == TL__TOK_SPM) {
        for (int b = 0; b < 256; b++) {
            char buf[8];
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            int32_t id = tl__tok_lookup(t, buf, 6);
            if (id < 0) {
                /* llama.cpp falls back to the byte itself as a token */
                char c = (char)b;
                id = tl__tok_lookup(t, &c, 1);
            }
            t->byte_tok[b] = id;
        }
    }
    if (t->eot < 0) {
        for (int32_t id = 0; id < t->n_vocab && t->eot < 0; id++)
            for (size_t k = 0; k < sizeof eot_texts / sizeof *eot_texts; k++)
                if (text_is(t, id, eot_texts[k])) {
                    t->eot = id;
                    t->tok[id].attr |= TL__TA_CONTROL;
                    break;
                }
    }
    for (int32_t id = 0; id < t->n_vocab; id++)
        for (size_t k = 0; k < sizeof eog_texts / sizeof *eog_texts; k++)
            if (text_is(t, id, eog_texts[k])) {
                t->tok[id].attr |= TL__TA_EOG | TL__TA_CONTROL;
                break;
            }
    if (t->eos >= 0)
        t->tok[t->eos].attr |= TL__TA_EOG;
    if (t->eot >= 0)
        t->tok[t->eot].attr |= TL__TA_EOG;
    if (t->eom >= 0)
        t->tok[t->eom].attr |= TL__TA_EOG;

    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->tok[id].attr & (TL__TA_CONTROL | TL__TA_USER | TL__TA_UNKNOWN))
            n++;
    t->specials = malloc((n ? n : 1) * sizeof *t->specials);
    if (!t->specials)
        return tl_err_set(err, TL_ENOMEM, "out of memory listing special tokens");
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->tok[id].attr & (TL__TA_CONTROL | TL__TA_USER | TL__TA_UNKNOWN))
            t->specials[t->n_specials++] = id;
    qsort_r(t->specials, t->n_specials, sizeof *t->specials, cmp_special, t);

    if (build_pieces(t) < 0)
        return tl_err_set(err, TL_ENOMEM, "out of memory building token pieces");
    return 0;
}

/* A u32 special-id key: absent keeps the default; an id outside the
 * vocabulary (0xFFFFFFFF means "none" in some converters) too, as llama.cpp. */
static void special_key(const tl_gguf *g, const char *key, int32_t n_vocab, int32_t *id)
{
    uint32_t v;
    tl_err e = {0};
    if (tl_gguf_get_u32(g, key, &v, &e) == 0 && v < (uint32_t)n_vocab)
        *id = (int32_t)v;
}

int tl_tok_load_gguf(const tl_gguf *g, tl_tokenizer **out, tl_err *err)
{
    tl_err e = {0};
    const char *model, *pre = NULL;
    size_t model_len, pre_len = 0;
    if (!g || !out)
        return tl_err_set(err, TL_EINVAL, "tl_tok_load_gguf: NULL argument");
    int rc = tl_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, &e);
    if (rc < 0)
        return tl_err_set(err, TL_EPARSE,
                          "GGUF has no usable tokenizer.ggml.model key (%s): not a model with "
                          "a vocabulary",
                          e.msg);
    int kind;
    if (model_len == 5 && memcmp(model, "llama", 5) == 0) {
        kind = TL__TOK_SPM;
    } else if (model_len == 4 && memcmp(model, "gpt2", 4) == 0) {
        kind = TL__TOK_BPE;
    } else if (model_len == 4 && memcmp(model, "bert", 4) == 0) {
        kind = TL__TOK_WPM;
    } else {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "tokenizer.ggml.model %s is not supported (llama, gpt2 and bert are)",
                          tl__quote(q, sizeof q, model, model_len));
    }
    if (tl_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pre_len, &e) < 0) {
        pre = NULL;
        pre_len = 0;
    }

    int elem;
    uint64_t count;
    if (tl_gguf_arr_info(g, "tokenizer.ggml.tokens", &elem, &count, &e) < 0)
        return tl_err_set(err, TL_EPARSE, "GGUF has no tokenizer.ggml.tokens array: %s", e.msg);
    if (elem != TL_GGUF_VAL_STRING)
        return tl_err_set(err, TL_EPARSE,
                          "tokenizer.ggml.tokens holds %s elements, not strings",
                          tl_gguf_vtype_name(elem));
    if (count == 0 || count > (uint64_t)INT32_MAX / 2)
        return tl_err_set(err, TL_EPARSE, "tokenizer.ggml.tokens has %llu tokens",
                          (unsigned long long)count);
    int score_elem = -1, type_elem = -1;
    uint64_t n_scores = 0, n_types = 0;
    if (tl_gguf_arr_info(g, "tokenizer.ggml.scores", &score_elem, &n_scores, &e) == 0 &&
        n_scores < count)
        return tl_err_set(err, TL_EPARSE,
                          "tokenizer.ggml.scores has %llu entries for %llu tokens",
                          (unsigned long long)n_scores, (unsigned long long)count);
    if (tl_gguf_arr_info(g, "tokenizer.ggml.token_type", &type_elem, &n_types, &e) == 0 &&
        n_types < count)
        return tl_err_set(err, TL_EPARSE,
                          "tokenizer.ggml.token_type has %llu entries for %llu tokens",
                          (unsigned long long)n_types, (unsigned long long)count);

    tl_tokenizer *t = tok_new();
    if (!t)
        return tl_err_set(err, TL_ENOMEM, "out of memory loading a tokenizer");
    t->kind = kind;
    t->n_vocab = (int32_t)count;
    t->tok = calloc(count, sizeof *t->tok);
    size_t total = 0, cap = 0;
    if (!t->tok) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory loading %llu tokens",
                        (unsigned long long)count);
        goto fail;
    }
    for (uint64_t i = 0; i < count; i++) {
        const char *s;
        size_t len;
        if ((rc = tl_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s, &len, &e)) < 0) {
            rc = tl_err_set(err, TL_EPARSE, "tokenizer.ggml.tokens[%llu]: %s",
                            (unsigned long long)i, e.msg);
            goto fail;
        }
        char empty[32];
        if (len == 0) {
            /* llama.cpp names empty tokens so they stay distinct */
            len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i);
            s = empty;
        }
        if (len > UINT32_MAX || total + len > UINT32_MAX) {
            rc = tl_err_set(err, TL_ETOOBIG, "tokenizer.ggml.tokens: the texts exceed 4 GiB");
            goto fail;
        }
        if (total + len > cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            while (nc < total + len)
                nc *= 2;
            char *np = realloc(t->pool, nc);
            if (!np) {
                rc = tl_err_set(err, TL_ENOMEM, "out of memory loading token texts");
                goto fail;
            }
            t->pool = np;
            cap = nc;
        }
        memcpy(t->pool + total, s, len);
        t->tok[i].off = (uint32_t)total;
        t->tok[i].len = (uint32_t)len;
        total += len;

        float score = 0.0f;
        if (score_elem == TL_GGUF_VAL_F32 || score_elem == TL_GGUF_VAL_F64) {
            if (tl_gguf_arr_f32(g, "tokenizer.ggml.scores", i, &score, &e) < 0) {
                rc = tl_err_set(err, TL_EPARSE, "tokenizer.ggml.scores[%llu]: %s",
                                (unsigned long long)i, e.msg);
                goto fail;
            }
        } else if (score_elem >= 0) {
            int64_t v;
            if (tl_gguf_arr_i64(g, "tokenizer.ggml.scores", i, &v, &e) < 0) {
                rc = tl_err_set(err, TL_EPARSE, "tokenizer.ggml.scores[%llu]: %s",
                                (unsigned long long)i, e.msg);
                goto fail;
            }
            score = (float)v;
        }
        t->tok[i].score = score;
        uint32_t attr = TL__TA_NORMAL;
        if (type_elem >= 0) {
            int64_t ty;
            if (tl_gguf_arr_i64(g, "tokenizer.ggml.token_type", i, &ty, &e) < 0) {
                rc = tl_err_set(err, TL_EPARSE, "tokenizer.ggml.token_type[%llu]: %s",
                                (unsigned long long)i, e.msg);
                goto fail;
            }
            /* GGUF token types: 1 normal, 2 unknown, 3 control, 4 user
             * defined, 5 unused, 6 byte; anything else is undefined. */
            static const uint32_t map[7] = {0, TL__TA_NORMAL, TL__TA_UNKNOWN, TL__TA_CONTROL,
                                            TL__TA_USER, TL__TA_UNUSED, TL__TA_BYTE};
            attr = ty >= 0 && ty <= 6 ? map[ty] : 0;
        }
        t->tok[i].attr = attr;
    }

    /* per-family defaults (llama.cpp's llama_vocab::impl::load) */
    if (kind == TL__TOK_SPM) {
        t->bos = 1;
        t->eos = 2;
        t->unk = 0;
        t->add_bos = true;
        t->add_space_prefix = true;
    } else if (kind == TL__TOK_WPM) {
        t->bos = 101;
        t->unk = 100;
        t->sep = 102;
        t->pad = 0;
        t->add_bos = true;
        t->lowercase = true;
    }
    /* gpt2: no default BOS/EOS (llama.cpp's 11 is Falcon's <|endoftext|>,
     * an ordinary character in other vocabularies; Falcon's file names it) */
    if (t->bos >= t->n_vocab)
        t->bos = -1;
    if (t->eos >= t->n_vocab)
        t->eos = -1;
    if (t->unk >= t->n_vocab)
        t->unk = -1;
    if (t->sep >= t->n_vocab)
        t->sep = -1;
    if (t->pad >= t->n_vocab)
        t->pad = -1;
    bool b;
    if (tl_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b, &e) == 0 &&
        kind == TL__TOK_SPM)
        t->add_space_prefix = b;

    special_key(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos);
    special_key(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos);
    special_key(g, "tokenizer.ggml.eot_token_id", t->n_vocab, &t->eot);
    special_key(g, "tokenizer.ggml.eom_token_id", t->n_vocab, &t->eom);
    special_key(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk);
    special_key(g, "tokenizer.ggml.seperator_token_id", t->n_vocab, &t->sep);
    special_key(g, "tokenizer.ggml.padding_token_id", t->n_vocab, &t->pad);

    if (kind == TL__TOK_BPE) {
        if ((rc = tl__bpe_init(t, pre, pre_len, err)) < 0)
            goto fail;
    }
    if (tl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &e) == 0)
        t->add_bos = b;
    if (tl_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b, &e) == 0)
        t->add_eos = b;
    if (kind == TL__TOK_WPM) {
        if (tl_gguf_get_bool(g, "tokenizer.ggml.normalizer.lowercase", &b, &e) == 0)
            t->lowercase = b;
        t->strip_accents = t->lowercase;
        if (tl_gguf_get_bool(g, "tokenizer.ggml.normalizer.strip_accents", &b, &e) == 0)
            t->strip_accents = b;
    }

    if ((rc = finish(t, err)) < 0)
        goto fail;
    if (kind == TL__TOK_BPE && (rc = tl__bpe_add_merges(t, g, err)) < 0)
        goto fail;

    /* Phi-3's special tokens swallow the whitespace after them (llama.cpp
     * sets this by model name, as the GGUF carries no per-token flags). */
    const char *name;
    size_t name_len;
    if (tl_gguf_get_str(g, "general.name", &name, &name_len, &e) == 0) {
        char low[64];
        size_t n = name_len < sizeof low - 1 ? name_len : sizeof low - 1;
        for (size_t i = 0; i < n; i++)
            low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
        low[n] = 0;
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (size_t i = 0; i < t->n_specials; i++)
                t->tok[t->specials[i]].attr |= TL__TA_RSTRIP;
            int32_t id;
            if ((id = tl__tok_lookup(t, "</s>", 4)) >= 0)
                t->tok[id].attr |= TL__TA_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (size_t k = 0; k < 3; k++)
                if ((id = tl__tok_lookup(t, keep[k], strlen(keep[k]))) >= 0)
                    t->tok[id].attr &= ~(uint32_t)TL__TA_RSTRIP;
        }
    }
    *out = t;
    return 0;
fail:
    tl_tok_free(t);
    return rc;
}

/* ---- llama2.c tok512.bin -------------------------------------------------------- */

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tl_tok_load_llama2c(const char *path, tl_tokenizer **out, tl_err *err)
{
    if (!path || !out)
        return tl_err_set(err, TL_EINVAL, "tl_tok_load_llama2c: NULL argument");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, TL_EIO, "cannot open tokenizer file %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(fp);
                return tl_err_set(err, TL_ENOMEM, "out of memory reading %s", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    bool ioerr = ferror(fp);
    fclose(fp);
    if (ioerr) {
        free(buf);
        return tl_err_set(err, TL_EIO, "cannot read tokenizer file %s", path);
    }
    int rc;
    tl_tokenizer *t = NULL;
    if (n < 4) {
        rc = tl_err_set(err, TL_EPARSE,
                        "%s: truncated llama2.c tokenizer: %zu bytes, the 4-byte header "
                        "max_token_length is missing",
                        path, n);
        goto done;
    }
    uint32_t max_len = rd_u32(buf);
    /* First pass: count and check the records (score, length, bytes). */
    size_t at = 4, count = 0;
    while (at < n) {
        if (n - at < 8) {
            rc = tl_err_set(err, TL_EPARSE,
                            "%s: truncated at token %zu (byte offset %zu): %zu bytes left, a "
                            "record needs 8 before its text",
                            path, count, at, n - at);
            goto done;
        }
        uint32_t len = rd_u32(buf + at + 4);
        if (len > n - at - 8) {
            rc = tl_err_set(err, TL_EPARSE,
                            "%s: truncated at token %zu (byte offset %zu): its text of %u bytes "
                            "runs past the end of the file",
                            path, count, at, len);
            goto done;
        }
        if (max_len && len > max_len) {
            rc = tl_err_set(err, TL_EPARSE,
                            "%s: token %zu (byte offset %zu) is %u bytes long, over the header's "
                            "max_token_length %u",
                            path, count, at, len, max_len);
            goto done;
        }
        at += 8 + len;
        count++;
        if (count > (size_t)INT32_MAX / 2) {
            rc = tl_err_set(err, TL_ETOOBIG, "%s: too many tokens", path);
            goto done;
        }
    }
    if (count < 3) {
        rc = tl_err_set(err, TL_EPARSE,
                        "%s: %zu tokens: a llama2.c vocabulary needs at least <unk>, BOS and EOS",
                        path, count);
        goto done;
    }
    t = tok_new();
    if (!t || !(t->tok = calloc(count, sizeof *t->tok)) || !(t->pool = malloc(n))) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory loading %s", path);
        goto done;
    }
    t->kind = TL__TOK_SPM;
    t->llama2c = true;
    t->n_vocab = (int32_t)count;
    at = 4;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        float score;
        memcpy(&score, buf + at, 4);
        uint32_t len = rd_u32(buf + at + 4);
        memcpy(t->pool + total, buf + at + 8, len);
        t->tok[i].off = (uint32_t)total;
        t->tok[i].len = len;
        t->tok[i].score = score;
        int byte = byte_of((const char *)buf + at + 8, len);
        t->tok[i].attr = i == 0                  ? TL__TA_UNKNOWN
                         : i <= 2                ? TL__TA_CONTROL
                         : i < 259 && byte >= 0 ? TL__TA_BYTE
                                                 : TL__TA_NORMAL;
        total += len;
        at += 8 + len;
    }
    t->unk = 0;
    t->bos = 1;
    t->eos = 2;
    t->add_bos = true;
    t->add_space_prefix = true;
    if ((rc = finish(t, err)) < 0)
        goto done;
    /* llama2.c maps a byte to id byte + 3 whatever the table holds. */
    for (int b = 0; b < 256; b++)
        t->byte_tok[b] = b + 3 < t->n_vocab ? b + 3 : t->unk;
    *out = t;
    t = NULL;
    rc = 0;
done:
    tl_tok_free(t);
    free(buf);
    return rc;
}

/* ---- accessors -------------------------------------------------------------------- */

int32_t tl_tok_n_vocab(const tl_tokenizer *t) { return t->n_vocab; }
int32_t tl_tok_bos(const tl_tokenizer *t) { return t->bos; }
int32_t tl_tok_eos(const tl_tokenizer *t) { return t->eos; }
bool tl_tok_default_add_bos(const tl_tokenizer *t) { return t->add_bos && t->bos >= 0; }

bool tl_tok_is_eog(const tl_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->tok[id].attr & TL__TA_EOG);
}

bool tl_tok_is_control(const tl_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->tok[id].attr & TL__TA_CONTROL);
}

int32_t tl_tok_find(const tl_tokenizer *t, const char *text, size_t len)
{
    return text || !len ? tl__tok_lookup(t, text ? text : "", len) : -1;
}

const char *tl_tok_model_name(const tl_tokenizer *t)
{
    return t->kind == TL__TOK_SPM ? "llama" : t->kind == TL__TOK_BPE ? "gpt2" : "bert";
}

/* ---- encode ------------------------------------------------------------------------ */

typedef struct frag {
    size_t off, len;
    int32_t id; /* -1: raw text */
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static int frag_push(frags *f, size_t off, size_t len, int32_t id)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        frag *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return TL_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (frag){off, len, id};
    return 0;
}

static bool is_cspace(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Splits the text around special tokens, longest token first, each token
 * splitting every raw fragment left by the longer ones (llama.cpp's order,
 * which decides overlaps). Without parse_special only user-defined tokens
 * split, as in Hugging Face tokenizers. A bitmap of the text's byte pairs
 * skips the tokens that cannot occur, so a vocabulary with thousands of
 * added tokens costs one table probe per token. */
static int partition(const tl_tokenizer *t, const char *text, size_t len, bool parse_special,
                     frags *out)
{
    out->n = 0;
    if (len == 0)
        return 0;
    if (frag_push(out, 0, len, -1) < 0)
        return TL_ENOMEM;
    if (t->n_specials == 0)
        return 0;
    uint64_t *pairs = calloc(65536 / 64, sizeof *pairs);
    uint64_t singles[4] = {0};
    if (!pairs)
        return TL_ENOMEM;
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++) {
        singles[u[i] >> 6] |= 1ull << (u[i] & 63);
        if (i + 1 < len) {
            unsigned p = (unsigned)u[i] << 8 | u[i + 1];
            pairs[p >> 6] |= 1ull << (p & 63);
        }
    }
    frags next = {0};
    int rc = 0;
    for (size_t k = 0; k < t->n_specials; k++) {
        int32_t sid = t->specials[k];
        const tl__tok_entry *e = &t->tok[sid];
        if (!parse_special && (e->attr & (TL__TA_CONTROL | TL__TA_UNKNOWN)))
            continue;
        const unsigned char *s = (const unsigned char *)t->pool + e->off;
        size_t sl = e->len;
        if (sl == 0 || sl > len)
            continue;
        if (sl == 1) {
            if (!(singles[s[0] >> 6] & (1ull << (s[0] & 63))))
                continue;
        } else {
            unsigned p = (unsigned)s[0] << 8 | s[1];
            if (!(pairs[p >> 6] & (1ull << (p & 63))))
                continue;
        }
        next.n = 0;
        bool hit = false;
        for (size_t f = 0; f < out->n && rc == 0; f++) {
            frag fr = out->v[f];
            if (fr.id >= 0 || fr.len < sl) {
                rc = frag_push(&next, fr.off, fr.len, fr.id);
                continue;
            }
            size_t pos = fr.off, end = fr.off + fr.len;
            for (;;) {
                const char *m = memmem(text + pos, end - pos, s, sl);
                if (!m)
                    break;
                hit = true;
                size_t mo = (size_t)(m - text);
                size_t ll = mo - pos;
                if (e->attr & TL__TA_LSTRIP)
                    while (ll > 0 && is_cspace(text[pos + ll - 1]))
                        ll--;
                if (ll > 0 && (rc = frag_push(&next, pos, ll, -1)) < 0)
                    break;
                if ((rc = frag_push(&next, mo, sl, sid)) < 0)
                    break;
                pos = mo + sl;
                if (e->attr & TL__TA_RSTRIP)
                    while (pos < end && is_cspace(text[pos]))
                        pos++;
            }
            if (rc == 0 && pos < end)
                rc = frag_push(&next, pos, end - pos, -1);
        }
        if (rc < 0)
            break;
        if (hit) {
            frags tmp = *out;
            *out = next;
            next = tmp;
        }
    }
    free(next.v);
    free(pairs);
    return rc;
}

int tl_tok_encode(const tl_tokenizer *t, const char *text, size_t len, unsigned flags,
                  int32_t **ids, size_t *n_ids, tl_err *err)
{
    if (ids)
        *ids = NULL;
    if (n_ids)
        *n_ids = 0;
    if (!t || !ids || !n_ids || (!text && len))
        return tl_err_set(err, TL_EINVAL, "tl_tok_encode: NULL argument");
    if (!text)
        text = "";
    size_t bad;
    if (!tl_utf8_valid(text, len, &bad))
        return tl_err_set(err, TL_EINVAL,
                          "text to tokenize is not valid UTF-8 at byte offset %zu", bad);
    tl__ids out = {0};
    frags fr = {0};
    int rc = partition(t, text, len, (flags & TL_TOK_PARSE_SPECIAL) != 0, &fr);
    if (rc < 0) {
        rc = tl_err_set(err, rc, "out of memory tokenizing %zu bytes", len);
        goto fail;
    }
    if ((flags & TL_TOK_ADD_BOS) && t->bos >= 0 && (rc = tl__ids_push(&out, t->bos)) < 0)
        goto oom;
    bool prev_special = true;
    for (size_t i = 0; i < fr.n; i++) {
        const frag *f = &fr.v[i];
        if (f->id >= 0) {
            if ((rc = tl__ids_push(&out, f->id)) < 0)
                goto oom;
            prev_special = true;
            continue;
        }
        const char *s = text + f->off;
        if (t->kind == TL__TOK_SPM && t->llama2c)
            rc = tl__llama2c_encode(t, s, f->len, &out, err);
        else if (t->kind == TL__TOK_SPM)
            rc = tl__spm_encode(t, s, f->len, t->add_space_prefix && prev_special, &out, err);
        else if (t->kind == TL__TOK_BPE)
            rc = tl__bpe_encode(t, s, f->len, &out, err);
        else
            rc = tl__wpm_encode(t, s, f->len, &out, err);
        if (rc < 0)
            goto fail;
        prev_special = false;
    }
    if ((flags & TL_TOK_ADD_EOS) && t->eos >= 0 && (rc = tl__ids_push(&out, t->eos)) < 0)
        goto oom;
    if (!out.v && !(out.v = malloc(sizeof *out.v)))
        goto oom;
    free(fr.v);
    *ids = out.v;
    *n_ids = out.n;
    return 0;
oom:
    rc = tl_err_set(err, TL_ENOMEM, "out of memory tokenizing %zu bytes", len);
fail:
    free(fr.v);
    free(out.v);
    return rc;
}

/* ---- pieces and decode ---------------------------------------------------------------- */

int tl_tok_piece(const tl_tokenizer *t, int32_t id, bool special, char *buf, size_t cap)
{
    if (!t || id < 0 || id >= t->n_vocab)
        return TL_EINVAL;
    const tl__tok_entry *e = &t->tok[id];
    if (!special && (e->attr & (TL__TA_CONTROL | TL__TA_UNKNOWN)))
        return 0;
    size_t n = e->plen;
    if (buf && cap)
        memcpy(buf, t->pieces + e->poff, n < cap ? n : cap);
    return (int)n;
}

int tl_tok_decode(const tl_tokenizer *t, const int32_t *ids, size_t n, bool special,
                  char **out, size_t *len, tl_err *err)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!t || !out || !len || (!ids && n))
        return tl_err_set(err, TL_EINVAL, "tl_tok_decode: NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return tl_err_set(err, TL_EINVAL,
                              "token id %d at position %zu is outside the vocabulary of %d",
                              (int)ids[i], i, (int)t->n_vocab);
        total += t->tok[ids[i]].plen;
    }
    char *s = malloc(total + 1);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "out of memory decoding %zu tokens", n);
    /* The space that encoding put before the first word (SentencePiece's
     * dummy prefix, WordPiece's word-initial U+2581) is not part of the text. */
    bool strip = (t->kind == TL__TOK_SPM && t->add_space_prefix) || t->kind == TL__TOK_WPM;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const tl__tok_entry *e = &t->tok[ids[i]];
        bool ctl = (e->attr & (TL__TA_CONTROL | TL__TA_UNKNOWN)) != 0;
        if (!special && ctl)
            continue;
        const char *p = t->pieces + e->poff;
        size_t pl = e->plen;
        if (strip && !ctl && pl > 0) {
            if (p[0] == ' ') {
                p++;
                pl--;
            }
            strip = false;
        }
        memcpy(s + at, p, pl);
        at += pl;
    }
    s[at] = 0;
    *out = s;
    *len = at;
    return 0;
}

/* ---- the merge queue (tok_spm.c, tok_bpe.c) ------------------------------------------ */

static bool pair_better(const tl__tok_pair *a, const tl__tok_pair *b)
{
    return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

int tl__tok_heap_push(tl__tok_heap *h, tl__tok_pair p)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        tl__tok_pair *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return TL_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_better(&p, &h->v[up]))
            break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
    return 0;
}

tl__tok_pair tl__tok_heap_pop(tl__tok_heap *h)
{
    tl__tok_pair top = h->v[0];
    tl__tok_pair last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && pair_better(&h->v[c + 1], &h->v[c]))
            c++;
        if (!pair_better(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}
