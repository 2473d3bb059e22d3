/*
 * sample.c - choosing the next token from logits: greedy, or repetition
 * penalty, top-k, top-p, min-p and temperature (llama.cpp's chain and order)
 * followed by a draw from a seeded generator.
 *
 * The sampler owns a candidate array of n_vocab entries and a stamp array for
 * the penalty's distinct-token test, so sampling allocates nothing. top-k and
 * top-p avoid sorting the whole vocabulary (150K entries for Qwen): the
 * candidates are partitioned around the k-th largest (quickselect) and only
 * the kept prefix is sorted; top-p without top-k grows that prefix until it
 * holds the wanted probability mass.
 */
#include "llm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct tl_llm_sampler {
    tl_llm_sampler_params p;
    int n_vocab;
    uint64_t rng;
    cand *c;          /* (n_vocab) */
    uint32_t *stamp;  /* (n_vocab) penalty: last epoch each token was penalized in */
    uint32_t epoch;
};

tl_llm_sampler_params tl_llm_sampler_defaults(void)
{
    return (tl_llm_sampler_params){.temperature = 0.8f,
                                   .top_k = 40,
                                   .top_p = 0.95f,
                                   .min_p = 0.05f,
                                   .repeat_penalty = 1.0f,
                                   .repeat_last_n = 64,
                                   .seed = 0};
}

/* splitmix64: a well-mixed 64-bit stream from any seed, 0 included. */
static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 bits, the resolution of a float. */
static float next_f32(uint64_t *st) { return (float)(next_u64(st) >> 40) * (1.0f / 16777216.0f); }

int tl_llm_sampler_new(const tl_llm_sampler_params *p, int n_vocab, tl_llm_sampler **out,
                       tl_err *err)
{
    if (!p || !out || n_vocab < 1)
        return tl_err_set(err, TL_EINVAL, "sampler: parameters and a positive vocabulary size "
                                          "are required");
    if (!isfinite(p->temperature) || !isfinite(p->top_p) || !isfinite(p->min_p) ||
        !isfinite(p->repeat_penalty))
        return tl_err_set(err, TL_EINVAL, "sampler: temperature, top_p, min_p and "
                                          "repeat_penalty must be finite");
    tl_llm_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->c = malloc((size_t)n_vocab * sizeof *s->c);
    s->stamp = calloc((size_t)n_vocab, sizeof *s->stamp);
    if (!s->c || !s->stamp) {
        tl_llm_sampler_free(s);
        return tl_err_set(err, TL_ENOMEM, "sampler: out of memory");
    }
    tl_llm_sampler_seed(s, p->seed);
    *out = s;
    return 0;
}

void tl_llm_sampler_free(tl_llm_sampler *smp)
{
    if (!smp)
        return;
    free(smp->c);
    free(smp->stamp);
    free(smp);
}

void tl_llm_sampler_seed(tl_llm_sampler *smp, uint64_t seed) { smp->rng = seed; }

static bool penalty_on(const tl_llm_sampler_params *p)
{
    return p->repeat_penalty > 0.0f && p->repeat_penalty != 1.0f && p->repeat_last_n > 0;
}

/* Loads the candidates, with the repetition penalty applied once per distinct
 * token of the last repeat_last_n. */
static void load(tl_llm_sampler *s, const float *logits, const int32_t *prev, size_t n_prev)
{
    int V = s->n_vocab;
    for (int i = 0; i < V; i++)
        s->c[i] = (cand){logits[i], i};
    if (!penalty_on(&s->p) || n_prev == 0)
        return;
    if (++s->epoch == 0) { /* wrapped: clear the stamps once every 2^32 calls */
        memset(s->stamp, 0, (size_t)V * sizeof *s->stamp);
        s->epoch = 1;
    }
    size_t n = (size_t)s->p.repeat_last_n < n_prev ? (size_t)s->p.repeat_last_n : n_prev;
    for (size_t i = n_prev - n; i < n_prev; i++) {
        int32_t id = prev[i];
        if (id < 0 || id >= V || s->stamp[id] == s->epoch)
            continue;
        s->stamp[id] = s->epoch;
        float *l = &s->c[id].logit;
        *l = *l > 0.0f ? *l / s->p.repeat_penalty : *l * s->p.repeat_penalty;
    }
}

/* Descending by logit, then ascending id, so the order is total and
 * deterministic. */
static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static inline bool before(const cand *x, const cand *y)
{
    return x->logit > y->logit || (x->logit == y->logit && x->id < y->id);
}

/* Rearranges c[0..n) so that its k first entries (in cand_cmp order) come
 * first, in no particular order (quickselect, median of three). */
static void select_top(cand *c, size_t n, size_t k)
{
    size_t lo = 0, hi = n; /* the k-th boundary lies in [lo, hi) */
    while (hi - lo > 16) {
        size_t mid = lo + (hi - lo) / 2;
        cand a = c[lo], b = c[mid], d = c[hi - 1], piv;
        if (before(&a, &b))
            piv = before(&b, &d) ? b : (before(&a, &d) ? d : a);
        else
            piv = before(&a, &d) ? a : (before(&b, &d) ? d : b);
        /* three-way partition: [lo, lt) before piv, [lt, gt) equal, [gt, hi) after */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (before(&c[i], &piv)) {
                cand t = c[lt];
                c[lt++] = c[i];
                c[i++] = t;
            } else if (before(&piv, &c[i])) {
                cand t = c[--gt];
                c[gt] = c[i];
                c[i] = t;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt;
        else if (k > gt)
            lo = gt;
        else
            return;
    }
    qsort(c + lo, hi - lo, sizeof *c, cand_cmp);
}

/* Applies the filters and temperature; leaves the kept candidates sorted in
 * s->c[0..n) with probabilities in their logit fields, and returns n. */
static size_t filter(tl_llm_sampler *s, const float *logits, const int32_t *prev, size_t n_prev)
{
    const tl_llm_sampler_params *p = &s->p;
    size_t V = (size_t)s->n_vocab;
    load(s, logits, prev, n_prev);
    if (p->temperature <= 0.0f) {
        size_t best = 0;
        for (size_t i = 1; i < V; i++)
            if (s->c[i].logit > s->c[best].logit)
                best = i;
        s->c[0] = s->c[best];
        s->c[0].logit = 1.0f;
        return 1;
    }
    size_t n = V;
    if (p->top_k > 0 && (size_t)p->top_k < V) {
        n = (size_t)p->top_k;
        select_top(s->c, V, n);
    }
    bool top_p = p->top_p > 0.0f && p->top_p < 1.0f;
    /* Probabilities at temperature 1, over the whole current set. */
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        mx = s->c[i].logit > mx ? s->c[i].logit : mx;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += exp((double)(s->c[i].logit - mx));
    /* Sort the kept prefix; for top-p grow it until it holds top_p. */
    size_t sorted = n;
    if (top_p && n == V) {
        size_t k = 64 < n ? 64 : n;
        for (;;) {
            select_top(s->c, n, k);
            qsort(s->c, k, sizeof *s->c, cand_cmp);
            double cum = 0.0;
            for (size_t i = 0; i < k; i++)
                cum += exp((double)(s->c[i].logit - mx));
            if (cum / sum >= p->top_p || k == n)
                break;
            k = k * 4 < n ? k * 4 : n;
        }
        sorted = k;
    } else {
        qsort(s->c, n, sizeof *s->c, cand_cmp);
    }
    if (top_p) {
        double cum = 0.0;
        size_t keep = sorted;
        for (size_t i = 0; i < sorted; i++) {
            cum += exp((double)(s->c[i].logit - mx)) / sum;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        /* p_i >= min_p * p_max  <=>  logit_i >= max + log(min_p) */
        float cut = mx + logf(p->min_p);
        size_t keep = 1;
        while (keep < n && s->c[keep].logit >= cut)
            keep++;
        n = keep;
    }
    /* Temperature, then the final distribution over the kept set. */
    float inv_t = 1.0f / p->temperature;
    double z = 0.0;
    for (size_t i = 0; i < n; i++) {
        float e = (float)exp((double)((s->c[i].logit - mx) * inv_t));
        s->c[i].logit = e;
        z += e;
    }
    for (size_t i = 0; i < n; i++)
        s->c[i].logit = (float)(s->c[i].logit / z);
    return n;
}

int32_t tl_llm_sample(tl_llm_sampler *smp, const float *logits, const int32_t *prev,
                      size_t n_prev)
{
    size_t n = filter(smp, logits, prev, n_prev);
    if (n == 1)
        return smp->c[0].id;
    float r = next_f32(&smp->rng);
    float cum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        cum += smp->c[i].logit;
        if (r < cum)
            return smp->c[i].id;
    }
    return smp->c[n - 1].id; /* rounding left r above the last sum */
}

size_t tl_llm_sampler_candidates(tl_llm_sampler *smp, const float *logits, const int32_t *prev,
                                 size_t n_prev, int32_t *ids, float *probs, size_t cap)
{
    size_t n = filter(smp, logits, prev, n_prev);
    for (size_t i = 0; i < n && i < cap; i++) {
        if (ids)
            ids[i] = smp->c[i].id;
        if (probs)
            probs[i] = smp->c[i].logit;
    }
    return n;
}
