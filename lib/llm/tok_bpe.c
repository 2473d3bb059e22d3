/*
 * tok_bpe.c - byte-level BPE ("gpt2"), as llama.cpp's
 * llm_tokenizer_bpe_session.
 *
 * 1. Pre-tokenize: the regexes of tokenizer.ggml.pre run one after the
 *    other; each splits every chunk the previous ones left into its matches
 *    and the text between them (llama.cpp's unicode_regex_split). A regex
 *    sees one chunk only, so lookaheads and $ stop at the chunk's end. PCRE2
 *    in UTF + UCP mode runs the patterns as written, lookaheads included.
 * 2. Each chunk's bytes become GPT-2 alphabet characters (one per byte).
 * 3. Adjacent symbols merge by rank (lowest first, leftmost on ties) through
 *    a priority queue; pairs are looked up by token ids, so the merge table
 *    is a hash of (left id, right id) -> (rank, merged id).
 */
#include "tok_internal.h"

#include "core/internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

/* ---- pre-tokenizers ------------------------------------------------------------ */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3                                                                                \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"     \
                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                 \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"          \
                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+"
/* Hugging Face's original patterns (PCRE2 runs them as they are) */
#define RE_GPT4O                                                                                 \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"  \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"  \
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}|"                  \
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN                                                                                \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|" \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|" \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_BLOOM                                                                                 \
    " ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"

/* deepseek-llm's letters: the ranges of its tokenizer.json, as llama.cpp */
#define RE_DS_LETTERS                                                                            \
    "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf"    \
    "\xc7\x84-\xca\x93\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd"       \
    "\xcd\xbf\xce\x86\xce\x88-\xce\x8a\xce\x8c\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-\xd2\x81" \
    "\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96\xe1\x82\xa0-\xe1\x83\x85\xe1\x8e\xa0-\xe1\x8f\xb5"       \
    "\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba\xe1\xb2\xbd-\xe1\xb2\xbf"                \
    "\xe1\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a"                \
    "\xe1\xb8\x80-\xe1\xbc\x95\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85"                \
    "\xe1\xbd\x88-\xe1\xbd\x8d\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd\x9b\xe1\xbd\x9d"     \
    "\xe1\xbd\x9f-\xe1\xbd\xbd\xe1\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe"     \
    "\xe1\xbf\x82-\xe1\xbf\x84\xe1\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93"                \
    "\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-\xe1\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4"                \
    "\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87\xe2\x84\x8a-\xe2\x84\x93\xe2\x84\x95"     \
    "\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2\x84\xa8\xe2\x84\xaa-\xe2\x84\xad"     \
    "\xe2\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89"    \
    "\xe2\x85\x8e\xe2\x86\x83\xe2\x86\x84\xe2\xb0\x80-\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4"     \
    "\xe2\xb3\xab-\xe2\xb3\xae\xe2\xb3\xb2\xe2\xb3\xb3\xea\x99\x80-\xea\x99\xad"                 \
    "\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf\xea\x9d\xb1-\xea\x9e\x87"                \
    "\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86"                \
    "\xef\xac\x93-\xef\xac\x97\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a"                \
    "\xf0\x90\x90\x80-\xf0\x90\x91\x8f\xf0\x90\x92\xb0-\xf0\x90\x93\x93"                         \
    "\xf0\x90\x93\x98-\xf0\x90\x93\xbb\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2"                         \
    "\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-\xf0\x91\xa3\x9f"                         \
    "\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+"
#define RE_DS_PUNCT                                                                              \
    "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f"     \
    "\xe3\x80\x80-\xe3\x80\x82]+"

typedef struct pre_def {
    const char *names; /* NUL-separated, ending with an empty name */
    const char *re[TL__TOK_MAX_RE];
    bool ignore_merges, add_bos;
} pre_def;

static const pre_def pre_defs[] = {
    {"llama3\0llama-v3\0llama-bpe\0falcon3\0falcon-h1\0pixtral\0midm-2.0\0lfm2\0",
     {RE_LLAMA3},
     true,
     true},
    {"dbrx\0smaug-bpe\0chatglm-bpe\0glm4\0", {RE_LLAMA3}, false, false},
    {"deepseek-llm\0",
     {"[\r\n]", RE_DS_LETTERS, RE_DS_PUNCT, "\\s+$", RE_CJK, "\\p{N}+"},
     false,
     false},
    {"deepseek-v3\0",
     {"\\p{N}{1,3}",
      "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
      "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"deepseek-coder\0", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}, false, false},
    {"falcon\0", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, false, false},
    {"starcoder\0refact\0command-r\0smollm\0codeshell\0exaone\0minerva-7b\0",
     {"\\p{N}", RE_GPT2},
     false,
     false},
    {"gpt-2\0mpt\0olmo\0jais\0trillion\0granite-docling\0phi-2\0jina-es\0jina-de\0gigachat\0"
     "jina-v2-es\0jina-v2-de\0jina-v1-en\0jina-v2-code\0roberta-bpe\0a.x-4.0\0mellum\0"
     "exaone4\0modern-bert\0",
     {RE_GPT2},
     false,
     false},
    {"qwen2\0stablelm2\0deepseek-r1-qwen\0megrez\0hunyuan\0", {RE_QWEN2}, false, false},
    {"poro-chat\0bloom\0gpt3-finnish\0", {RE_BLOOM}, false, false},
    {"viking\0", {RE_BLOOM, "\\p{N}"}, false, false},
    {"tekken\0", {RE_TEKKEN}, true, true},
    {"gpt-4o\0llama4\0", {RE_GPT4O}, false, false},
    {"seed-coder\0",
     {RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
                  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false,
     false},
    {"bailingmoe\0",
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
      " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     false,
     false},
    /* no tokenizer.ggml.pre, or "default": llama.cpp's default list */
    {"default\0",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     false,
     false},
};

static const pre_def *find_pre(const char *pre, size_t len)
{
    if (!pre || len == 0) {
        pre = "default";
        len = 7;
    }
    for (size_t i = 0; i < sizeof pre_defs / sizeof *pre_defs; i++)
        for (const char *n = pre_defs[i].names; *n; n += strlen(n) + 1)
            if (strlen(n) == len && memcmp(n, pre, len) == 0)
                return &pre_defs[i];
    return NULL;
}

/* ---- setup ------------------------------------------------------------------------ */

int tl__bpe_init(tl_tokenizer *t, const char *pre, size_t pre_len, tl_err *err)
{
    const pre_def *d = find_pre(pre, pre_len);
    if (!d) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "tokenizer.ggml.pre %s is not a pre-tokenizer Teller knows "
                          "(docs/llm-tokenizers.md lists them)",
                          tl__quote(q, sizeof q, pre, pre_len));
    }
    size_t pl = pre && pre_len ? pre_len : 7;
    if (pl >= sizeof t->pre)
        pl = sizeof t->pre - 1;
    memcpy(t->pre, pre && pre_len ? pre : "default", pl);
    t->pre[pl] = 0;
    t->ignore_merges = d->ignore_merges;
    if (d->add_bos)
        t->add_bos = true;
    for (size_t i = 0; i < TL__TOK_MAX_RE && d->re[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        /* DOLLAR_ENDONLY: $ is the chunk's end, not also before a final
         * newline (std::regex's meaning, which llama.cpp uses). */
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)d->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo,
                                       NULL);
        if (!re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return tl_err_set(err, TL_EINTERNAL,
                              "pre-tokenizer %s: regex %zu does not compile at offset %zu: %s",
                              t->pre, i, (size_t)eo, (const char *)msg);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
        t->re[t->n_re++] = re;
    }

    /* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
     * themselves, the other 68 are moved to U+0100.. in byte order. */
    for (int i = 0; i < 324; i++)
        t->gpt2_dec[i] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        int cp = keep ? b : next++;
        char enc[4];
        size_t n = tl__u8enc((uint32_t)cp, enc);
        memcpy(t->gpt2_enc[b], enc, n);
        t->gpt2_enc_len[b] = (uint8_t)n;
        t->gpt2_dec[cp] = (int16_t)b;
    }
    return 0;
}

void tl__bpe_free(tl_tokenizer *t)
{
    for (size_t i = 0; i < t->n_re; i++)
        pcre2_code_free(t->re[i]);
    t->n_re = 0;
    free(t->merges);
    t->merges = NULL;
}

size_t tl__bpe_decode_text(const tl_tokenizer *t, const char *s, size_t len, char *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = tl__u8dec(s + i, len - i, &adv);
        if (cp < 324 && t->gpt2_dec[cp] >= 0) {
            buf[n++] = (char)t->gpt2_dec[cp];
        } else {
            /* not in the alphabet (an added token's text): kept as is */
            memcpy(buf + n, s + i, adv);
            n += adv;
        }
        i += adv;
    }
    return n;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static const tl__tok_merge *merge_find(const tl_tokenizer *t, int32_t l, int32_t r)
{
    uint64_t key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
    size_t i = (size_t)mix64(key) & t->merge_mask;
    for (;;) {
        const tl__tok_merge *m = &t->merges[i];
        if (m->key == key)
            return m;
        if (m->key == 0)
            return NULL;
        i = (i + 1) & t->merge_mask;
    }
}

int tl__bpe_add_merges(tl_tokenizer *t, const tl_gguf *g, tl_err *err)
{
    tl_err e = {0};
    int elem;
    uint64_t count;
    if (tl_gguf_arr_info(g, "tokenizer.ggml.merges", &elem, &count, &e) < 0)
        return tl_err_set(err, TL_EPARSE,
                          "GGUF with a gpt2 tokenizer has no tokenizer.ggml.merges array");
    if (elem != TL_GGUF_VAL_STRING)
        return tl_err_set(err, TL_EPARSE, "tokenizer.ggml.merges holds %s elements, not strings",
                          tl_gguf_vtype_name(elem));
    if (count > (uint64_t)INT32_MAX / 4)
        return tl_err_set(err, TL_ETOOBIG, "tokenizer.ggml.merges has %llu merges",
                          (unsigned long long)count);
    size_t n = 16;
    while (n < count * 2)
        n *= 2;
    t->merges = calloc(n, sizeof *t->merges);
    if (!t->merges)
        return tl_err_set(err, TL_ENOMEM, "out of memory loading %llu merges",
                          (unsigned long long)count);
    t->merge_mask = n - 1;
    for (int b = 0; b < 256; b++)
        t->byte_tok[b] = tl__tok_lookup(t, t->gpt2_enc[b], t->gpt2_enc_len[b]);
    char *tmp = NULL;
    size_t tmp_cap = 0;
    for (uint64_t i = 0; i < count; i++) {
        const char *s;
        size_t len;
        if (tl_gguf_arr_str(g, "tokenizer.ggml.merges", i, &s, &len, &e) < 0) {
            free(tmp);
            return tl_err_set(err, TL_EPARSE, "tokenizer.ggml.merges[%llu]: %s",
                              (unsigned long long)i, e.msg);
        }
        /* "left right", split at the first space after the first byte */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp)
            continue;
        size_t ll = (size_t)(sp - s), rl = len - ll - 1;
        int32_t l = tl__tok_lookup(t, s, ll), r = tl__tok_lookup(t, sp + 1, rl);
        if (l < 0 || r < 0)
            continue; /* a merge of non-tokens can never apply to token ids */
        if (ll + rl > tmp_cap) {
            tmp_cap = (ll + rl) * 2;
            char *nt = realloc(tmp, tmp_cap);
            if (!nt) {
                free(tmp);
                return tl_err_set(err, TL_ENOMEM, "out of memory loading merges");
            }
            tmp = nt;
        }
        memcpy(tmp, s, ll);
        memcpy(tmp + ll, sp + 1, rl);
        int32_t res = tl__tok_lookup(t, tmp, ll + rl);
        uint64_t key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
        size_t k = (size_t)mix64(key) & t->merge_mask;
        while (t->merges[k].key != 0 && t->merges[k].key != key)
            k = (k + 1) & t->merge_mask;
        if (t->merges[k].key == 0) /* the first (lowest) rank wins, as llama.cpp's emplace */
            t->merges[k] = (tl__tok_merge){key, (int32_t)i, res};
    }
    free(tmp);
    return 0;
}

/* ---- pre-tokenizing ------------------------------------------------------------------ */

typedef struct span {
    size_t off, len;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int span_push(spans *s, size_t off, size_t len)
{
    if (len == 0)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return TL_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){off, len};
    return 0;
}

/* One regex over every chunk of in: matches and the gaps between them. */
static int split_one(const pcre2_code *re, const char *text, const spans *in, spans *out,
                     pcre2_match_data *md, tl_err *err)
{
    out->n = 0;
    for (size_t c = 0; c < in->n; c++) {
        const char *s = text + in->v[c].off;
        size_t n = in->v[c].len, pos = 0, last = 0;
        while (pos <= n) {
            int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
                rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                                 md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return tl_err_set(err, TL_EINTERNAL, "pre-tokenizer regex failed: %s",
                                  (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) {
                /* an empty match splits nothing: step over one character */
                pos = ms < n ? ms + tl__u8len((unsigned char)s[ms]) : n + 1;
                continue;
            }
            if (span_push(out, in->v[c].off + last, ms - last) < 0 ||
                span_push(out, in->v[c].off + ms, me - ms) < 0)
                return tl_err_set(err, TL_ENOMEM, "out of memory pre-tokenizing");
            last = pos = me;
        }
        if (last < n && span_push(out, in->v[c].off + last, n - last) < 0)
            return tl_err_set(err, TL_ENOMEM, "out of memory pre-tokenizing");
    }
    return 0;
}

/* ---- merging ----------------------------------------------------------------------- */

typedef struct sym {
    int prev, next;
    uint32_t off, n;
    int32_t id;
} sym;

static int add_bigram(const tl_tokenizer *t, const sym *sy, int l, int r, tl__tok_heap *h)
{
    if (l < 0 || r < 0 || sy[l].id < 0 || sy[r].id < 0)
        return 0;
    const tl__tok_merge *m = merge_find(t, sy[l].id, sy[r].id);
    if (!m)
        return 0;
    /* ranks are below 2^24, exact as floats */
    return tl__tok_heap_push(h, (tl__tok_pair){-(float)m->rank, l, r, sy[l].n, sy[r].n});
}

typedef struct work {
    char *buf; /* the chunk in the GPT-2 alphabet */
    size_t buf_cap;
    sym *sy;
    size_t sy_cap;
    tl__tok_heap h;
} work;

static int encode_word(const tl_tokenizer *t, const char *w, size_t wl, work *k, tl__ids *out)
{
    if (wl * 2 > k->buf_cap) {
        size_t cap = wl * 2 + 64;
        char *nb = realloc(k->buf, cap);
        if (!nb)
            return TL_ENOMEM;
        k->buf = nb;
        k->buf_cap = cap;
    }
    if (wl > k->sy_cap) {
        size_t cap = wl + 64;
        sym *ns = realloc(k->sy, cap * sizeof *ns);
        if (!ns)
            return TL_ENOMEM;
        k->sy = ns;
        k->sy_cap = cap;
    }
    char *buf = k->buf;
    sym *sy = k->sy;
    size_t bl = 0;
    for (size_t i = 0; i < wl; i++) {
        unsigned char b = (unsigned char)w[i];
        sy[i] = (sym){(int)i - 1, i + 1 == wl ? -1 : (int)i + 1, (uint32_t)bl,
                      t->gpt2_enc_len[b], t->byte_tok[b]};
        memcpy(buf + bl, t->gpt2_enc[b], t->gpt2_enc_len[b]);
        bl += t->gpt2_enc_len[b];
    }
    if (t->ignore_merges) {
        int32_t id = tl__tok_lookup(t, buf, bl);
        if (id >= 0)
            return tl__ids_push(out, id);
    }
    tl__tok_heap *h = &k->h;
    h->n = 0;
    int rc = 0;
    for (size_t i = 1; i < wl && rc == 0; i++)
        rc = add_bigram(t, sy, (int)i - 1, (int)i, h);
    while (rc == 0 && h->n > 0) {
        tl__tok_pair b = tl__tok_heap_pop(h);
        sym *L = &sy[b.left], *R = &sy[b.right];
        if (L->n != b.nl || R->n != b.nr || L->next != b.right)
            continue; /* one of them changed since this pair was queued */
        const tl__tok_merge *m = merge_find(t, L->id, R->id);
        L->n += R->n;
        R->n = 0;
        L->id = m && m->result >= 0 ? m->result : tl__tok_lookup(t, buf + L->off, L->n);
        L->next = R->next;
        if (R->next >= 0)
            sy[R->next].prev = b.left;
        rc = add_bigram(t, sy, L->prev, b.left, h);
        if (rc == 0)
            rc = add_bigram(t, sy, b.left, L->next, h);
    }
    for (int i = 0; i != -1 && rc == 0; i = sy[i].next) {
        if (sy[i].id >= 0) {
            rc = tl__ids_push(out, sy[i].id);
            continue;
        }
        /* not a token: each byte of its text that is a token (llama.cpp) */
        for (uint32_t j = 0; j < sy[i].n && rc == 0; j++) {
            int32_t id = tl__tok_lookup(t, buf + sy[i].off + j, 1);
            if (id >= 0)
                rc = tl__ids_push(out, id);
        }
    }
    return rc;
}

int tl__bpe_encode(const tl_tokenizer *t, const char *text, size_t len, tl__ids *out,
                   tl_err *err)
{
    if (len == 0)
        return 0;
    if (len > UINT32_MAX / 4)
        return tl_err_set(err, TL_ETOOBIG, "text of %zu bytes is too long to tokenize", len);
    spans a = {0}, b = {0};
    work k = {0};
    int rc = 0;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md || span_push(&a, 0, len) < 0) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory pre-tokenizing");
        goto done;
    }
    for (size_t i = 0; i < t->n_re; i++) {
        if ((rc = split_one(t->re[i], text, &a, &b, md, err)) < 0)
            goto done;
        spans tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t i = 0; i < a.n; i++)
        if ((rc = encode_word(t, text + a.v[i].off, a.v[i].len, &k, out)) < 0) {
            rc = tl_err_set(err, rc, "out of memory tokenizing %zu bytes", len);
            goto done;
        }
done:
    pcre2_match_data_free(md);
    free(a.v);
    free(b.v);
    free(k.buf);
    free(k.sy);
    free(k.h.v);
    return rc;
}
