/*
 * llm_internal.h - what model.c, forward.c, threads.c, sample.c and
 * generate.c share: the model and session structs and the compute threads.
 */
#ifndef TELLER_LLM_INTERNAL_H
#define TELLER_LLM_INTERNAL_H

#include <teller/llm.h>
#include <teller/llm_gguf.h>

enum tl__llm_arch { TL__LLM_ARCH_LLAMA = 0, TL__LLM_ARCH_QWEN2 = 1 };

/* A weight matrix in its file encoding: n_rows rows of n_cols elements,
 * row_bytes apart, y = W x is one dot product per row. */
typedef struct tl__llm_mat {
    int type;          /* enum tl_gguf_type */
    const void *data;  /* in the mapping */
    int64_t n_cols;    /* input width (ggml dims[0]) */
    int64_t n_rows;    /* output width */
    size_t row_bytes;
} tl__llm_mat;

typedef struct tl__llm_layer {
    float *attn_norm;           /* (n_embd) owned float copy */
    tl__llm_mat wq, wk, wv, wo; /* (n_head*hd, n_embd) (kv_dim, n_embd) x2 (n_embd, n_head*hd) */
    float *bq, *bk, *bv;        /* qwen2 only, else NULL: (n_head*hd) (kv_dim) (kv_dim) */
    float *ffn_norm;            /* (n_embd) */
    tl__llm_mat w_gate, w_up;   /* (n_ff, n_embd) */
    tl__llm_mat w_down;         /* (n_embd, n_ff) */
} tl__llm_layer;

struct tl_llm_model {
    int arch;
    char arch_name[16];
    int n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
    int n_rot;        /* dimensions of each head that RoPE rotates (even, <= head_dim) */
    bool rope_neox;   /* qwen2: pairs (i, i + n_rot/2); llama: adjacent pairs (2i, 2i+1) */
    float rms_eps;
    float rope_base;
    float rope_scale;       /* linear scaling: positions multiplied by this (1: none) */
    float *rope_inv_freq;   /* (n_rot/2) base^(-2i/n_rot), divided by any llama3 factors */
    tl__llm_mat tok_embd;   /* (n_vocab, n_embd) */
    float *out_norm;        /* (n_embd) */
    tl__llm_mat output;     /* (n_vocab, n_embd); the embedding when tied */
    tl__llm_layer *layers;  /* (n_layer) */
    uint64_t n_params, weight_bytes;
    int n_threads_default;
    tl_gguf *gguf;          /* GGUF files: owns the mapping */
    void *map;              /* llama2.c files: the mapping */
    size_t map_size;
    tl_tokenizer *tok;      /* NULL when loaded without one */
    char *chat_template;
    char desc[256];
};

/* ---- compute threads (threads.c) ----------------------------------------------
 * A fork-join team of n threads, the caller being thread 0: run() hands every
 * thread the same job and returns when all have finished it. Workers spin a
 * little while between jobs (a decode step runs ~5 jobs per layer, so a wake-up
 * through the kernel each time would cost more than the work) and then sleep on
 * a condition variable. */
typedef struct tl__llm_threads tl__llm_threads;
typedef void (*tl__llm_job_fn)(void *arg, int ith, int nth);

int tl__llm_threads_new(int n, tl__llm_threads **out);
void tl__llm_threads_run(tl__llm_threads *t, tl__llm_job_fn fn, void *arg);
int tl__llm_threads_n(const tl__llm_threads *t);
void tl__llm_threads_free(tl__llm_threads *t);

/* Rows [*r0, *r1) of n_rows for thread ith of nth, in chunks of `align` rows so
 * no two threads share a cache line of the output. */
static inline void tl__llm_split(int64_t n_rows, int ith, int nth, int64_t align, int64_t *r0,
                                 int64_t *r1)
{
    int64_t chunks = (n_rows + align - 1) / align;
    int64_t c0 = chunks * ith / nth, c1 = chunks * (ith + 1) / nth;
    *r0 = c0 * align < n_rows ? c0 * align : n_rows;
    *r1 = c1 * align < n_rows ? c1 * align : n_rows;
}

/* ---- sessions (forward.c) --------------------------------------------------- */

#define TL__LLM_MAX_BATCH 64

struct tl_llm_session {
    const tl_llm_model *m;
    int n_ctx, pos, n_batch;
    tl__llm_threads *threads;
    float *k_cache, *v_cache; /* (n_layer, n_head_kv, n_ctx, head_dim) each */
    /* scratch, (n_batch, width) each */
    float *x, *xb, *q, *k, *v, *att_out, *hb, *hb2;
    float *att;        /* (n_threads, n_ctx) attention scores */
    float *rope_cs;    /* (n_batch, n_rot/2, 2) cos, sin per position */
    float *logits;     /* (n_vocab) */
    void *act[3];      /* quantized activations, (n_batch, act bytes) each */
    int act_type[3];
    size_t act_cap;    /* bytes of each act[] */
};

/* For tests: runs the text pieces chunks[0..n_chunks) through generate's
 * UTF-8 assembler and stop-string hold-back into fn, as if each were a
 * token's piece; *stopped tells whether a stop string ended it. */
int tl__llm_stream_test(const char *const *chunks, size_t n_chunks, const char *const *stop,
                        size_t n_stop, tl_llm_text_fn fn, void *ud, bool *stopped);

/* Seconds on a monotonic clock. */
double tl__llm_now(void);

#endif
