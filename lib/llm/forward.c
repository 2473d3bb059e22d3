/*
 * forward.c - sessions and the transformer forward pass: embedding, per layer
 * RMSNorm, Q/K/V projections (+ qwen2 biases), RoPE, grouped-query causal
 * attention over a float32 KV cache, output projection, SwiGLU FFN; final
 * RMSNorm and the logits of the last token.
 *
 * A batch of tokens (prefill) goes through every matrix together
 * (tl_q_matmul), so each weight is read from memory once per batch instead of
 * once per token; decoding one token uses tl_q_matvec. Every matrix product
 * is one fork-join job of the session's threads, each thread taking a range
 * of output rows. All memory is allocated by tl_llm_session_new: a decode
 * allocates nothing.
 */
#include "llm_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/llm_quant.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

/* Output rows per thread chunk: 16 floats are a 64-byte cache line. */
#define ROW_ALIGN 16
/* The default context when the caller asks for 0: the trained one can be
 * 128K positions, whose float32 KV cache would not fit in memory. */
#define DEFAULT_CTX 4096

/* ---- small vector kernels ------------------------------------------------------ */

static bool g_avx2 = false;
static pthread_once_t g_avx2_once = PTHREAD_ONCE_INIT;

static void detect_avx2(void)
{
#ifdef HAVE_AVX2_PATH
    __builtin_cpu_init();
    g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

static float dot_c(const float *a, const float *b, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* y += a * x */
static void axpy_c(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

#ifdef HAVE_AVX2_PATH
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, int n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma"))) static void axpy_avx2(float *y, float a, const float *x,
                                                          int n)
{
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}
#endif

static inline float vdot(const float *a, const float *b, int n)
{
#ifdef HAVE_AVX2_PATH
    if (g_avx2)
        return dot_avx2(a, b, n);
#endif
    return dot_c(a, b, n);
}

static inline void vaxpy(float *y, float a, const float *x, int n)
{
#ifdef HAVE_AVX2_PATH
    if (g_avx2) {
        axpy_avx2(y, a, x, n);
        return;
    }
#endif
    axpy_c(y, a, x, n);
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps)
{
    float ss = vdot(x, x, n);
    ss = ss / (float)n + eps;
    ss = 1.0f / sqrtf(ss);
    for (int i = 0; i < n; i++)
        o[i] = w[i] * (ss * x[i]);
}

/* ---- sessions ----------------------------------------------------------------- */

static void *alloc_f(size_t n_floats)
{
    size_t bytes = (n_floats * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

static size_t max_act(size_t cur, const tl__llm_mat *w)
{
    size_t a = tl_q_act_size(w->type, w->n_cols);
    return a > cur ? a : cur;
}

int tl_llm_session_new(const tl_llm_model *m, int n_ctx, int n_threads, tl_llm_session **out,
                       tl_err *err)
{
    if (!m || !out)
        return tl_err_set(err, TL_EINVAL, "tl_llm_session_new: model and out are required");
    if (n_ctx == 0)
        n_ctx = m->n_ctx_train < DEFAULT_CTX ? m->n_ctx_train : DEFAULT_CTX;
    if (n_ctx < 1 || n_ctx > (1 << 24))
        return tl_err_set(err, TL_EINVAL, "session: context length %d is outside [1, 16777216]",
                          n_ctx);
    if (n_threads == 0)
        n_threads = m->n_threads_default;
    if (n_threads < 1 || n_threads > 512)
        return tl_err_set(err, TL_EINVAL, "session: thread count %d is outside [1, 512]",
                          n_threads);
    pthread_once(&g_avx2_once, detect_avx2);
    tl_llm_session *s = calloc(1, sizeof *s);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "session: out of memory");
    s->m = m;
    s->n_ctx = n_ctx;
    s->n_batch = n_ctx < TL__LLM_MAX_BATCH ? n_ctx : TL__LLM_MAX_BATCH;
    size_t B = (size_t)s->n_batch, E = (size_t)m->n_embd;
    size_t Q = (size_t)m->n_head * (size_t)m->head_dim;
    size_t KV = (size_t)m->n_head_kv * (size_t)m->head_dim, F = (size_t)m->n_ff;
    size_t cache = (size_t)m->n_layer * KV * (size_t)n_ctx;
    s->k_cache = alloc_f(cache);
    s->v_cache = alloc_f(cache);
    s->x = alloc_f(B * E);
    s->xb = alloc_f(B * (E > Q ? E : Q));
    s->q = alloc_f(B * Q);
    s->k = alloc_f(B * KV);
    s->v = alloc_f(B * KV);
    s->att_out = alloc_f(B * Q);
    s->hb = alloc_f(B * F);
    s->hb2 = alloc_f(B * F);
    s->att = alloc_f((size_t)n_threads * (size_t)n_ctx);
    s->rope_cs = alloc_f(B * (size_t)m->n_rot);
    s->logits = alloc_f((size_t)m->n_vocab);
    size_t a = max_act(0, &m->output);
    for (int l = 0; l < m->n_layer; l++) {
        const tl__llm_layer *ly = &m->layers[l];
        a = max_act(a, &ly->wq);
        a = max_act(a, &ly->wk);
        a = max_act(a, &ly->wv);
        a = max_act(a, &ly->wo);
        a = max_act(a, &ly->w_gate);
        a = max_act(a, &ly->w_up);
        a = max_act(a, &ly->w_down);
    }
    s->act_cap = (a * B + 63) / 64 * 64;
    bool ok = s->k_cache && s->v_cache && s->x && s->xb && s->q && s->k && s->v && s->att_out &&
              s->hb && s->hb2 && s->att && s->rope_cs && s->logits;
    for (int i = 0; i < 3; i++) {
        s->act[i] = aligned_alloc(64, s->act_cap);
        ok = ok && s->act[i];
    }
    if (!ok || tl__llm_threads_new(n_threads, &s->threads) < 0) {
        tl_llm_session_free(s);
        return tl_err_set(err, TL_ENOMEM,
                          "session: out of memory for a context of %d positions (KV cache %.1f "
                          "MiB)",
                          n_ctx, 2.0 * (double)cache * 4 / 1048576.0);
    }
    *out = s;
    return 0;
}

void tl_llm_session_free(tl_llm_session *s)
{
    if (!s)
        return;
    tl__llm_threads_free(s->threads);
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att_out);
    free(s->hb);
    free(s->hb2);
    free(s->att);
    free(s->rope_cs);
    free(s->logits);
    for (int i = 0; i < 3; i++)
        free(s->act[i]);
    free(s);
}

void tl_llm_session_reset(tl_llm_session *s) { s->pos = 0; }
int tl_llm_session_pos(const tl_llm_session *s) { return s->pos; }
int tl_llm_session_n_ctx(const tl_llm_session *s) { return s->n_ctx; }

/* ---- matrix products ----------------------------------------------------------- */

/* Quantized activations are computed once per (input, weight type): q, k and
 * v share an input, as do gate and up; their types may differ (Q4_K_M files
 * mix Q4_K and Q6_K), hence a few slots. */
static void act_reset(tl_llm_session *s)
{
    for (int i = 0; i < 3; i++)
        s->act_type[i] = -1;
}

static const void *act_for(tl_llm_session *s, const tl__llm_mat *w, const float *x, int nb)
{
    int i = 0;
    for (; i < 3 && s->act_type[i] >= 0; i++)
        if (s->act_type[i] == w->type)
            return s->act[i];
    if (!TL_ALWAYS(i < 3))
        i = 2;
    size_t asz = tl_q_act_size(w->type, w->n_cols);
    for (int b = 0; b < nb; b++)
        tl_q_quantize_act(w->type, x + (size_t)b * (size_t)w->n_cols,
                          (char *)s->act[i] + (size_t)b * asz, w->n_cols);
    s->act_type[i] = w->type;
    return s->act[i];
}

typedef struct mm_task {
    const tl__llm_mat *w;
    const void *xq;
    float *y;      /* (nb, ldy) */
    int64_t ldy;
} mm_task;

typedef struct mm_job {
    mm_task t[3];
    int n_tasks, nb;
    /* SwiGLU fused into the gate/up job: t[0] is gate, t[1] up; a chunk is
     * the same rows of both, so it ends with silu(gate) * up of its rows
     * without waiting for other threads. */
    bool swiglu;
    /* Rows are handed out in chunks from a shared counter rather than split
     * evenly in advance: on a busy machine a thread that lost its core for a
     * while simply takes fewer chunks instead of holding everyone up. Which
     * thread computes a row does not change its value, so results do not
     * depend on the thread count or the schedule. */
    int64_t chunk;     /* rows per chunk, a multiple of ROW_ALIGN */
    int64_t first[4];  /* the first chunk of each task; first[n_tasks] is the total */
    atomic_llong next;
} mm_job;

static void mm_prepare(mm_job *j, int nth)
{
    int n_spaces = j->swiglu ? 1 : j->n_tasks;
    int64_t rows = 0;
    for (int k = 0; k < n_spaces; k++)
        rows += j->t[k].w->n_rows;
    int64_t c = rows;
    if (nth > 1) {
        c = rows / ((int64_t)nth * 4);
        c = (c + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
        if (c < ROW_ALIGN)
            c = ROW_ALIGN;
    }
    j->chunk = c;
    j->first[0] = 0;
    for (int k = 0; k < n_spaces; k++)
        j->first[k + 1] = j->first[k] + (j->t[k].w->n_rows + c - 1) / c;
    atomic_init(&j->next, 0);
}

static void mm_rows(const mm_task *t, int nb, int64_t r0, int64_t r1)
{
    if (nb == 1)
        tl_q_matvec(t->w->type, t->w->data, t->w->n_cols, r0, r1, t->xq, t->y);
    else
        tl_q_matmul(t->w->type, t->w->data, t->w->n_cols, r0, r1, t->xq, nb, t->y, t->ldy);
}

static void mm_run(void *arg, int ith, int nth)
{
    mm_job *j = arg;
    int n_spaces = j->swiglu ? 1 : j->n_tasks;
    int64_t total = j->first[n_spaces];
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= total)
            break;
        int k = 0;
        while (c >= j->first[k + 1])
            k++;
        const mm_task *t = &j->t[k];
        int64_t r0 = (c - j->first[k]) * j->chunk, r1 = r0 + j->chunk;
        if (r1 > t->w->n_rows)
            r1 = t->w->n_rows;
        mm_rows(t, j->nb, r0, r1);
        if (!j->swiglu)
            continue;
        mm_rows(&j->t[1], j->nb, r0, r1);
        for (int b = 0; b < j->nb; b++) {
            float *g = j->t[0].y + (size_t)b * (size_t)j->t[0].ldy;
            const float *u = j->t[1].y + (size_t)b * (size_t)j->t[1].ldy;
            for (int64_t r = r0; r < r1; r++)
                g[r] = g[r] / (1.0f + expf(-g[r])) * u[r];
        }
    }
}

static void mm_go(tl_llm_session *s, mm_job *j)
{
    mm_prepare(j, tl__llm_threads_n(s->threads));
    tl__llm_threads_run(s->threads, mm_run, j);
}

/* ---- attention ------------------------------------------------------------------ */

typedef struct att_job {
    tl_llm_session *s;
    int layer, nb;
    atomic_llong next; /* the next (token, head) item, handed out as mm_job's chunks */
} att_job;

static void att_run(void *arg, int ith, int nth)
{
    att_job *j = arg;
    tl_llm_session *s = j->s;
    const tl_llm_model *m = s->m;
    int hd = m->head_dim, H = m->n_head, group = m->n_head / m->n_head_kv;
    int64_t Q = (int64_t)H * hd;
    float scale = 1.0f / sqrtf((float)hd);
    float *att = s->att + (size_t)ith * (size_t)s->n_ctx;
    int64_t items = (int64_t)j->nb * H;
    for (;;) {
        int64_t it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= items)
            break;
        int b = (int)(it / H), h = (int)(it % H), kh = h / group;
        int p = s->pos + b; /* attends to positions 0..p */
        const float *q = s->q + (size_t)b * (size_t)Q + (size_t)h * (size_t)hd;
        size_t base = ((size_t)j->layer * (size_t)m->n_head_kv + (size_t)kh) * (size_t)s->n_ctx *
                      (size_t)hd;
        const float *K = s->k_cache + base, *V = s->v_cache + base;
        float mx = -INFINITY;
        for (int t = 0; t <= p; t++) {
            float sc = vdot(q, K + (size_t)t * (size_t)hd, hd) * scale;
            att[t] = sc;
            mx = sc > mx ? sc : mx;
        }
        float sum = 0.0f;
        for (int t = 0; t <= p; t++) {
            att[t] = expf(att[t] - mx);
            sum += att[t];
        }
        float inv = 1.0f / sum;
        float *o = s->att_out + (size_t)b * (size_t)Q + (size_t)h * (size_t)hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int t = 0; t <= p; t++)
            vaxpy(o, att[t] * inv, V + (size_t)t * (size_t)hd, hd);
    }
}

/* ---- RoPE ----------------------------------------------------------------------- */

static void rope_tables(tl_llm_session *s, int nb)
{
    const tl_llm_model *m = s->m;
    int half = m->n_rot / 2;
    for (int b = 0; b < nb; b++) {
        float *cs = s->rope_cs + (size_t)b * (size_t)m->n_rot;
        float fp = (float)(s->pos + b);
        for (int i = 0; i < half; i++) {
            float val = fp * m->rope_scale * m->rope_inv_freq[i];
            cs[2 * i] = cosf(val);
            cs[2 * i + 1] = sinf(val);
        }
    }
}

static void rope_apply(const tl_llm_model *m, float *v, int n_heads, const float *cs)
{
    int hd = m->head_dim, half = m->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * (size_t)hd;
        if (m->rope_neox) {
            for (int i = 0; i < half; i++) {
                float c = cs[2 * i], sn = cs[2 * i + 1];
                float x0 = x[i], x1 = x[i + half];
                x[i] = x0 * c - x1 * sn;
                x[i + half] = x0 * sn + x1 * c;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float c = cs[2 * i], sn = cs[2 * i + 1];
                float x0 = x[2 * i], x1 = x[2 * i + 1];
                x[2 * i] = x0 * c - x1 * sn;
                x[2 * i + 1] = x0 * sn + x1 * c;
            }
        }
    }
}

/* ---- the forward pass ------------------------------------------------------------ */

/* Runs nb tokens at positions pos.. and leaves the logits of the last one in
 * s->logits when want_logits. */
static void forward(tl_llm_session *s, const int32_t *ids, int nb, bool want_logits)
{
    const tl_llm_model *m = s->m;
    int E = m->n_embd, hd = m->head_dim, H = m->n_head, HKV = m->n_head_kv, F = m->n_ff;
    int64_t Q = (int64_t)H * hd, KV = (int64_t)HKV * hd;
    float *x = s->x, *xb = s->xb;

    for (int b = 0; b < nb; b++) {
        const char *row = (const char *)m->tok_embd.data + (size_t)ids[b] * m->tok_embd.row_bytes;
        if (m->tok_embd.type == TL_GGUF_TYPE_F32)
            memcpy(x + (size_t)b * E, row, (size_t)E * sizeof(float));
        else
            tl_q_dequantize_row(m->tok_embd.type, row, x + (size_t)b * E, E);
    }
    rope_tables(s, nb);

    for (int l = 0; l < m->n_layer; l++) {
        const tl__llm_layer *ly = &m->layers[l];
        for (int b = 0; b < nb; b++)
            rmsnorm(xb + (size_t)b * E, x + (size_t)b * E, ly->attn_norm, E, m->rms_eps);

        act_reset(s);
        mm_job qkv = {.n_tasks = 3, .nb = nb};
        qkv.t[0] = (mm_task){&ly->wq, act_for(s, &ly->wq, xb, nb), s->q, Q};
        qkv.t[1] = (mm_task){&ly->wk, act_for(s, &ly->wk, xb, nb), s->k, KV};
        qkv.t[2] = (mm_task){&ly->wv, act_for(s, &ly->wv, xb, nb), s->v, KV};
        mm_go(s, &qkv);

        for (int b = 0; b < nb; b++) {
            float *q = s->q + (size_t)b * Q, *k = s->k + (size_t)b * KV, *v = s->v + (size_t)b * KV;
            if (ly->bq) {
                for (int64_t i = 0; i < Q; i++)
                    q[i] += ly->bq[i];
                for (int64_t i = 0; i < KV; i++) {
                    k[i] += ly->bk[i];
                    v[i] += ly->bv[i];
                }
            }
            const float *cs = s->rope_cs + (size_t)b * (size_t)m->n_rot;
            rope_apply(m, q, H, cs);
            rope_apply(m, k, HKV, cs);
            int p = s->pos + b;
            for (int kh = 0; kh < HKV; kh++) {
                size_t off = (((size_t)l * (size_t)HKV + (size_t)kh) * (size_t)s->n_ctx +
                              (size_t)p) *
                             (size_t)hd;
                memcpy(s->k_cache + off, k + (size_t)kh * hd, (size_t)hd * sizeof(float));
                memcpy(s->v_cache + off, v + (size_t)kh * hd, (size_t)hd * sizeof(float));
            }
        }

        att_job aj = {.s = s, .layer = l, .nb = nb};
        atomic_init(&aj.next, 0);
        tl__llm_threads_run(s->threads, att_run, &aj);

        act_reset(s);
        mm_job wo = {.n_tasks = 1, .nb = nb};
        wo.t[0] = (mm_task){&ly->wo, act_for(s, &ly->wo, s->att_out, nb), xb, E};
        mm_go(s, &wo);
        for (size_t i = 0; i < (size_t)nb * (size_t)E; i++)
            x[i] += xb[i];

        for (int b = 0; b < nb; b++)
            rmsnorm(xb + (size_t)b * E, x + (size_t)b * E, ly->ffn_norm, E, m->rms_eps);
        act_reset(s);
        mm_job gu = {.n_tasks = 2, .nb = nb, .swiglu = true};
        gu.t[0] = (mm_task){&ly->w_gate, act_for(s, &ly->w_gate, xb, nb), s->hb, F};
        gu.t[1] = (mm_task){&ly->w_up, act_for(s, &ly->w_up, xb, nb), s->hb2, F};
        mm_go(s, &gu);

        act_reset(s);
        mm_job dn = {.n_tasks = 1, .nb = nb};
        dn.t[0] = (mm_task){&ly->w_down, act_for(s, &ly->w_down, s->hb, nb), xb, E};
        mm_go(s, &dn);
        for (size_t i = 0; i < (size_t)nb * (size_t)E; i++)
            x[i] += xb[i];
    }

    if (want_logits) {
        rmsnorm(xb, x + (size_t)(nb - 1) * E, m->out_norm, E, m->rms_eps);
        act_reset(s);
        mm_job lo = {.n_tasks = 1, .nb = 1};
        lo.t[0] = (mm_task){&m->output, act_for(s, &m->output, xb, 1), s->logits, m->n_vocab};
        mm_go(s, &lo);
    }
    s->pos += nb;
}

int tl_llm_decode(tl_llm_session *s, const int32_t *ids, size_t n, float **logits, tl_err *err)
{
    if (logits)
        *logits = NULL;
    if (!s || (!ids && n))
        return tl_err_set(err, TL_EINVAL, "decode: session and ids are required");
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "decode: no tokens");
    if (n > (size_t)(s->n_ctx - s->pos))
        return tl_err_set(err, TL_ETOOBIG,
                          "decode: %zu tokens after the %d held do not fit in the context of %d "
                          "positions",
                          n, s->pos, s->n_ctx);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->m->n_vocab)
            return tl_err_set(err, TL_EINVAL,
                              "decode: token %zu has id %d, outside the vocabulary [0, %d)", i,
                              (int)ids[i], s->m->n_vocab);
    for (size_t i = 0; i < n; i += (size_t)s->n_batch) {
        size_t nb = n - i < (size_t)s->n_batch ? n - i : (size_t)s->n_batch;
        forward(s, ids + i, (int)nb, i + nb == n);
    }
    if (logits)
        *logits = s->logits;
    return 0;
}
