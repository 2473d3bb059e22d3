/*
 * text.c - the text side of the text classifier: tokenizer, vocabulary,
 * hashed character n-grams, a stratified split over many classes, and
 * accuracy / macro-F1.
 */
#include <teller/ml_stats.h>
#include <teller/nn_text.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ------------------------------------------------------------------- */

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static bool is_space_byte(unsigned char c) { return c <= ' ' || c == 0x7f; }

int tl_text_tokenize(const char *s, size_t len, tl_text_tokens *t, tl_err *err)
{
    t->n = 0;
    /* Each token needs its bytes and a NUL; at most len tokens. */
    size_t need = 2 * len + 1;
    if (need > t->buf_cap) {
        char *nb = realloc(t->buf, need);
        if (!nb)
            return tl_err_set(err, TL_ENOMEM, "tokenizer: out of memory for a text of %zu bytes", len);
        t->buf = nb;
        t->buf_cap = need;
    }
    if (len + 1 > t->tok_cap) {
        const char **nt = realloc(t->tok_store, (len + 1) * sizeof *nt);
        if (!nt)
            return tl_err_set(err, TL_ENOMEM, "tokenizer: out of memory for a text of %zu bytes", len);
        t->tok_store = nt;
        uint32_t *nl = realloc(t->len_store, (len + 1) * sizeof *nl);
        if (!nl)
            return tl_err_set(err, TL_ENOMEM, "tokenizer: out of memory for a text of %zu bytes", len);
        t->len_store = nl;
        t->tok_cap = len + 1;
    }
    t->tok = t->tok_store;
    t->len = t->len_store;
    char *w = t->buf;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (is_space_byte(c)) {
            i++;
            continue;
        }
        char *start = w;
        if (is_word_byte(c)) {
            while (i < len) {
                unsigned char d = (unsigned char)s[i];
                /* An apostrophe joins a word only between word bytes. */
                bool apos = (d == '\'') && i + 1 < len && is_word_byte((unsigned char)s[i + 1]);
                if (!is_word_byte(d) && !apos)
                    break;
                *w++ = (d >= 'A' && d <= 'Z') ? (char)(d - 'A' + 'a') : (char)d;
                i++;
            }
        } else {
            *w++ = (char)c;
            i++;
        }
        t->tok_store[t->n] = start;
        t->len_store[t->n] = (uint32_t)(w - start);
        t->n++;
        *w++ = '\0';
    }
    return 0;
}

void tl_text_tokens_free(tl_text_tokens *t)
{
    free(t->buf);
    free(t->tok_store);
    free(t->len_store);
    memset(t, 0, sizeof *t);
}

uint32_t tl_text_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)(unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

size_t tl_text_char_ngrams(const char *word, size_t len, int n_min, int n_max, uint32_t n_buckets,
                           uint32_t *out, size_t cap)
{
    /* "<word>" without building it: byte j of the wrapped word. */
    size_t wl = len + 2, count = 0;
    if (n_buckets == 0 || n_min < 1)
        return 0;
    for (size_t i = 0; i < wl; i++) {
        uint32_t h = 2166136261u;
        for (int n = 1; n <= n_max && i + (size_t)n <= wl; n++) {
            size_t j = i + (size_t)n - 1;
            unsigned char c = j == 0 ? '<' : (j == wl - 1 ? '>' : (unsigned char)word[j - 1]);
            h ^= c;
            h *= 16777619u;
            /* The bare "<" and ">" of a 1-byte window never count. */
            if (n >= n_min) {
                if (count < cap)
                    out[count] = h % n_buckets;
                count++;
            }
        }
    }
    return count;
}

/* ---- vocabulary ------------------------------------------------------------------ */

struct tl_text_vocab {
    char **words;     /* (n_words) id = index + 2 */
    size_t n_words;
    int32_t *slots;   /* open addressing: word index + 1, 0 empty */
    uint32_t *hashes;
    size_t n_slots;   /* power of two */
};

static int vocab_index(tl_text_vocab *v, size_t n_words, tl_err *err)
{
    size_t ns = 16;
    while (ns < 2 * n_words + 16)
        ns *= 2;
    v->slots = calloc(ns, sizeof *v->slots);
    v->hashes = malloc((n_words + 1) * sizeof *v->hashes);
    if (!v->slots || !v->hashes)
        return tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory for %zu words", n_words);
    v->n_slots = ns;
    for (size_t i = 0; i < n_words; i++) {
        size_t wl = strlen(v->words[i]);
        uint32_t h = tl_text_hash(v->words[i], wl);
        v->hashes[i] = h;
        size_t s = h & (ns - 1);
        while (v->slots[s]) {
            int32_t o = v->slots[s] - 1;
            if (v->hashes[o] == h && strcmp(v->words[o], v->words[i]) == 0)
                return tl_err_set(err, TL_EINVAL, "vocabulary: the word \"%s\" appears twice",
                                  v->words[i]);
            s = (s + 1) & (ns - 1);
        }
        v->slots[s] = (int32_t)i + 1;
    }
    return 0;
}

int32_t tl_text_vocab_id(const tl_text_vocab *v, const char *word, size_t len)
{
    uint32_t h = tl_text_hash(word, len);
    size_t s = h & (v->n_slots - 1);
    while (v->slots[s]) {
        int32_t o = v->slots[s] - 1;
        if (v->hashes[o] == h && strncmp(v->words[o], word, len) == 0 && v->words[o][len] == '\0')
            return o + 2;
        s = (s + 1) & (v->n_slots - 1);
    }
    return TL_TEXT_UNK;
}

size_t tl_text_vocab_size(const tl_text_vocab *v) { return v->n_words + 2; }

const char *tl_text_vocab_word(const tl_text_vocab *v, int32_t id)
{
    return (id >= 2 && (size_t)(id - 2) < v->n_words) ? v->words[id - 2] : NULL;
}

void tl_text_vocab_free(tl_text_vocab *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_words; i++)
        free(v->words[i]);
    free(v->words);
    free(v->slots);
    free(v->hashes);
    free(v);
}

int tl_text_vocab_from(const char *const *words, size_t n, tl_text_vocab **out, tl_err *err)
{
    tl_text_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory");
    v->words = calloc(n + 1, sizeof *v->words);
    if (!v->words) {
        free(v);
        return tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory for %zu words", n);
    }
    for (size_t i = 0; i < n; i++) {
        v->words[i] = strdup(words[i]);
        if (!v->words[i]) {
            v->n_words = i;
            tl_text_vocab_free(v);
            return tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory for %zu words", n);
        }
    }
    v->n_words = n;
    int rc = vocab_index(v, n, err);
    if (rc < 0) {
        tl_text_vocab_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* Counting table for the build: word -> count. */
struct count_entry {
    char *word;
    uint32_t hash;
    int64_t count;
};

static int cmp_count(const void *a, const void *b)
{
    const struct count_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

int tl_text_vocab_build(const char *const *texts, size_t n, const uint8_t *use, int min_count,
                        tl_text_vocab **out, tl_err *err)
{
    size_t cap = 1024, used = 0;
    struct count_entry *tab = calloc(cap, sizeof *tab);
    tl_text_tokens tk = {0};
    int rc = 0;
    if (!tab)
        return tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory");
    for (size_t r = 0; r < n && rc == 0; r++) {
        if (use && !use[r])
            continue;
        rc = tl_text_tokenize(texts[r], strlen(texts[r]), &tk, err);
        for (size_t k = 0; k < tk.n && rc == 0; k++) {
            if (2 * (used + 1) > cap) {
                size_t nc = cap * 2;
                struct count_entry *nt = calloc(nc, sizeof *nt);
                if (!nt) {
                    rc = tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory");
                    break;
                }
                for (size_t i = 0; i < cap; i++)
                    if (tab[i].word) {
                        size_t s = tab[i].hash & (nc - 1);
                        while (nt[s].word)
                            s = (s + 1) & (nc - 1);
                        nt[s] = tab[i];
                    }
                free(tab);
                tab = nt;
                cap = nc;
            }
            uint32_t h = tl_text_hash(tk.tok[k], tk.len[k]);
            size_t s = h & (cap - 1);
            while (tab[s].word && !(tab[s].hash == h && strcmp(tab[s].word, tk.tok[k]) == 0))
                s = (s + 1) & (cap - 1);
            if (!tab[s].word) {
                tab[s].word = strdup(tk.tok[k]);
                if (!tab[s].word) {
                    rc = tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory");
                    break;
                }
                tab[s].hash = h;
                used++;
            }
            tab[s].count++;
        }
    }
    tl_text_tokens_free(&tk);
    size_t m = 0;
    if (rc == 0) {
        for (size_t i = 0; i < cap; i++)
            if (tab[i].word)
                tab[m++] = tab[i];
        qsort(tab, m, sizeof *tab, cmp_count);
    } else {
        m = cap;
    }
    size_t kept = 0;
    const char **words = NULL;
    if (rc == 0) {
        words = malloc((m + 1) * sizeof *words);
        if (!words)
            rc = tl_err_set(err, TL_ENOMEM, "vocabulary: out of memory");
        for (size_t i = 0; words && i < m; i++)
            if (tab[i].count >= min_count)
                words[kept++] = tab[i].word;
        if (rc == 0)
            rc = tl_text_vocab_from(words, kept, out, err);
    }
    free(words);
    for (size_t i = 0; i < m; i++)
        free(tab[i].word);
    free(tab);
    return rc;
}

/* ---- split and scores ------------------------------------------------------------ */

int tl_text_stratified_split(const int32_t *labels, size_t n, int n_classes, double frac,
                             uint64_t seed, uint8_t *is_valid, tl_err *err)
{
    if (!(frac > 0 && frac < 1))
        return tl_err_set(err, TL_EINVAL, "stratified split: validation share %g is not in (0, 1)",
                          frac);
    if (n_classes < 1)
        return tl_err_set(err, TL_EINVAL, "stratified split: %d classes", n_classes);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return tl_err_set(err, TL_EINVAL, "stratified split: row %zu has label %d outside [0, %d)",
                              i, (int)labels[i], n_classes);
    size_t *start = calloc((size_t)n_classes + 1, sizeof *start);
    size_t *idx = malloc((n + 1) * sizeof *idx);
    size_t *fill = calloc((size_t)n_classes + 1, sizeof *fill);
    if (!start || !idx || !fill) {
        free(start);
        free(idx);
        free(fill);
        return tl_err_set(err, TL_ENOMEM, "stratified split: out of memory for %zu rows", n);
    }
    for (size_t i = 0; i < n; i++)
        start[labels[i] + 1]++;
    for (int c = 0; c < n_classes; c++)
        start[c + 1] += start[c];
    for (size_t i = 0; i < n; i++)
        idx[start[labels[i]] + fill[labels[i]]++] = i;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    memset(is_valid, 0, n);
    for (int c = 0; c < n_classes; c++) {
        size_t nc = start[c + 1] - start[c];
        if (nc == 0)
            continue;
        tl_rng_shuffle(&rng, idx + start[c], nc);
        size_t m = (size_t)llround(frac * (double)nc);
        if (m < 1 && nc >= 2)
            m = 1;
        if (m >= nc)
            m = nc - 1;
        for (size_t j = 0; j < m; j++)
            is_valid[idx[start[c] + j]] = 1;
    }
    free(start);
    free(idx);
    free(fill);
    return 0;
}

void tl_text_scores(const int32_t *truth, const int32_t *pred, const uint8_t *use, size_t n,
                    int n_classes, double *accuracy, double *macro_f1)
{
    size_t k = (size_t)(n_classes > 0 ? n_classes : 1);
    int64_t *tp = calloc(3 * k, sizeof *tp);
    int64_t total = 0, right = 0;
    if (!tp) {
        *accuracy = *macro_f1 = NAN;
        return;
    }
    int64_t *np = tp + k, *nt = tp + 2 * k;
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        total++;
        if (truth[i] >= 0 && (size_t)truth[i] < k)
            nt[truth[i]]++;
        if (pred[i] >= 0 && (size_t)pred[i] < k)
            np[pred[i]]++;
        if (truth[i] == pred[i]) {
            right++;
            if (truth[i] >= 0 && (size_t)truth[i] < k)
                tp[truth[i]]++;
        }
    }
    double f1 = 0;
    int present = 0;
    for (size_t c = 0; c < k; c++) {
        if (nt[c] == 0 && np[c] == 0)
            continue;
        present++;
        f1 += 2.0 * (double)tp[c] / (double)(nt[c] + np[c]);
    }
    *accuracy = total ? (double)right / (double)total : NAN;
    *macro_f1 = present ? f1 / present : NAN;
    free(tp);
}
