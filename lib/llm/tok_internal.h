/*
 * tok_internal.h - what the tokenizer files (tokenizer.c, tok_spm.c,
 * tok_bpe.c, tok_wpm.c) share. Not installed.
 */
#ifndef TL_LLM_TOK_INTERNAL_H
#define TL_LLM_TOK_INTERNAL_H

#include <teller/llm_tokenizer.h>

#include <stddef.h>
#include <stdint.h>

/* Token attributes (llama.cpp's llama_token_attr, as bits). */
enum {
    TL__TA_UNKNOWN = 1 << 0,
    TL__TA_UNUSED = 1 << 1,
    TL__TA_NORMAL = 1 << 2,
    TL__TA_CONTROL = 1 << 3,
    TL__TA_USER = 1 << 4, /* user-defined: always split out of the text */
    TL__TA_BYTE = 1 << 5,
    TL__TA_LSTRIP = 1 << 7,
    TL__TA_RSTRIP = 1 << 8,
    TL__TA_EOG = 1 << 9, /* ends a generation */
};

enum tl__tok_kind { TL__TOK_SPM, TL__TOK_BPE, TL__TOK_WPM };

typedef struct tl__tok_entry {
    uint32_t off, len;     /* text in t->pool */
    uint32_t poff, plen;   /* decoded piece in t->pieces (special=true form) */
    float score;
    uint32_t attr;
} tl__tok_entry;

/* A merge of the BPE table: the pair (left id, right id) has rank and gives
 * token result. */
/* A candidate merge of two adjacent symbols, in the priority queue both
 * merging tokenizers use: the highest prio first (SentencePiece: the merged
 * piece's score; BPE: minus the merge's rank), the leftmost on ties. nl and
 * nr are the symbols' lengths when the pair was queued: a pair whose
 * symbols have changed since is stale and skipped when popped. */
typedef struct tl__tok_pair {
    float prio;
    int left, right;
    uint32_t nl, nr;
} tl__tok_pair;

typedef struct tl__tok_heap {
    tl__tok_pair *v;
    size_t n, cap;
} tl__tok_heap;

/* 0 or TL_ENOMEM. */
int tl__tok_heap_push(tl__tok_heap *h, tl__tok_pair p);
/* The best pair; h->n must be > 0. */
tl__tok_pair tl__tok_heap_pop(tl__tok_heap *h);

typedef struct tl__tok_merge {
    uint64_t key; /* (left << 32 | right) + 1; 0 marks an empty slot */
    int32_t rank;
    int32_t result;
} tl__tok_merge;

#define TL__TOK_MAX_RE 8

struct tl_tokenizer {
    int kind;
    bool llama2c; /* tok512.bin: llama2.c's encoder */
    int32_t n_vocab;
    tl__tok_entry *tok;
    char *pool;
    char *pieces;
    int32_t max_len; /* longest token text in bytes */

    /* text -> id, open addressing, power-of-two size; each slot holds the
     * id (-1: empty) and 32 bits of the text's hash, so a probe that misses
     * touches no token text */
    int64_t *slots;
    size_t slot_mask;

    int32_t bos, eos, eot, eom, unk, sep, pad;
    bool add_bos, add_eos, add_space_prefix;

    /* tokens split out of the text before tokenizing (control, user-defined,
     * unknown), longest first */
    int32_t *specials;
    size_t n_specials;

    /* spm: the <0xNN> byte tokens (-1 when absent) */
    int32_t byte_tok[256];

    /* bpe */
    tl__tok_merge *merges;
    size_t merge_mask;
    void *re[TL__TOK_MAX_RE]; /* pcre2_code * */
    size_t n_re;
    bool ignore_merges;
    char pre[48];
    char gpt2_enc[256][3]; /* byte -> its GPT-2 alphabet character (UTF-8) */
    uint8_t gpt2_enc_len[256];
    int16_t gpt2_dec[324]; /* GPT-2 alphabet code point -> byte, -1 when none */

    /* wpm */
    bool lowercase, strip_accents;
};

/* A growing array of ids (the encoders append to it). */
typedef struct tl__ids {
    int32_t *v;
    size_t n, cap;
} tl__ids;

int tl__ids_push(tl__ids *a, int32_t id);

/* The id of text[0..len), or -1. */
int32_t tl__tok_lookup(const tl_tokenizer *t, const char *text, size_t len);

/* Length of the UTF-8 sequence that starts with byte c (1 for a stray
 * continuation byte, as llama.cpp's unicode_len_utf8). */
static inline size_t tl__u8len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* Decodes the code point at s (valid UTF-8 assumed), storing its length. */
uint32_t tl__u8dec(const char *s, size_t n, size_t *adv);
/* Encodes cp into buf (at least 4 bytes); returns the length. */
size_t tl__u8enc(uint32_t cp, char *buf);

/* The family encoders, one raw-text fragment each (specials already split
 * out). Return 0 or TL_ENOMEM / TL_EINTERNAL with err filled. */
int tl__spm_encode(const tl_tokenizer *t, const char *text, size_t len, bool prefix_space,
                   tl__ids *out, tl_err *err);
int tl__llama2c_encode(const tl_tokenizer *t, const char *text, size_t len, tl__ids *out,
                       tl_err *err);
int tl__bpe_encode(const tl_tokenizer *t, const char *text, size_t len, tl__ids *out,
                   tl_err *err);
int tl__wpm_encode(const tl_tokenizer *t, const char *text, size_t len, tl__ids *out,
                   tl_err *err);

/* bpe setup: the pre-tokenizer regexes for pre (NULL or "" for the default
 * list), the GPT-2 byte tables and the merge table. */
int tl__bpe_init(tl_tokenizer *t, const char *pre, size_t pre_len, tl_err *err);
int tl__bpe_add_merges(tl_tokenizer *t, const tl_gguf *g, tl_err *err);
void tl__bpe_free(tl_tokenizer *t);
/* Appends the bytes that a gpt2-alphabet token text stands for to buf
 * (capacity at least 4 * len); returns the byte count. */
size_t tl__bpe_decode_text(const tl_tokenizer *t, const char *s, size_t len, char *buf);

#endif
