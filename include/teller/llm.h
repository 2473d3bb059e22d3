/*
 * llm.h - transformer inference for llama-family (Llama 2/3, TinyLlama,
 * SmolLM) and qwen2 (Qwen2, Qwen2.5) models, from GGUF files or llama2.c
 * checkpoints: model loading, sessions with a KV cache, batched prefill,
 * sampling and a streaming generation loop.
 *
 *     tl_llm_model *m;
 *     if (tl_llm_model_load("qwen2.5-0.5b-q8_0.gguf", NULL, &m, &err) < 0) ...
 *     tl_llm_session *s;
 *     tl_llm_session_new(m, 2048, 2, &s, &err);           // n_ctx, n_threads
 *     int32_t *ids; size_t n;
 *     tl_tok_encode(tl_llm_model_tokenizer(m), "Hello", 5, TL_TOK_ADD_BOS, &ids, &n, &err);
 *     tl_llm_gen_params gp = {.max_tokens = 64};        // zero: greedy
 *     tl_llm_gen_stats st;
 *     tl_llm_generate(s, ids, n, &gp, on_text, ud, &st, &err);
 *     free(ids);
 *     tl_llm_session_free(s);
 *     tl_llm_model_free(m);
 *
 * A model is read-only after loading (its weights stay in the file's mmap
 * and in the file's encoding) and may be shared by any number of sessions,
 * each used by one thread at a time. docs/llm-inference.md describes the
 * architecture, the numerics and the performance work.
 */
#ifndef TELLER_LLM_H
#define TELLER_LLM_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_llm_model tl_llm_model;
typedef struct tl_llm_session tl_llm_session;
typedef struct tl_llm_sampler tl_llm_sampler;
typedef struct tl_tokenizer tl_tokenizer;

/* ---- models ----------------------------------------------------------------- */

typedef struct tl_llm_load_opts {
    /* llama2.c checkpoints only: the tokenizer .bin file (tok512.bin,
     * tokenizer.bin). NULL loads the model without a tokenizer: decoding by
     * token id works, text output does not. Ignored for GGUF files, whose
     * vocabulary is inside. */
    const char *tokenizer_path;
    /* The thread count sessions get when they ask for 0; 0 here means 1. */
    int n_threads;
} tl_llm_load_opts;

/* Loads path: a GGUF file (by its magic; general.architecture "llama" or
 * "qwen2") or else a llama2.c checkpoint (legacy version-0 layout, float32).
 * The file is mapped read-only; every hyperparameter, tensor shape and tensor
 * type is validated before use. opts may be NULL. Errors: TL_EIO (cannot open
 * or map), TL_EPARSE (malformed file, a tensor missing or of a wrong shape:
 * the message names the file and the tensor), TL_EUNSUPPORTED (another
 * architecture, a tensor type without kernels, an unsupported RoPE scaling),
 * TL_ENOMEM. On error *out is untouched. */
TL_API int tl_llm_model_load(const char *path, const tl_llm_load_opts *opts, tl_llm_model **out,
                             tl_err *err);

/* Unmaps and frees the model; NULL is a no-op. Every session of the model
 * must have been freed first. */
TL_API void tl_llm_model_free(tl_llm_model *m);

/* "llama" or "qwen2" (a llama2.c checkpoint is "llama"). */
TL_API const char *tl_llm_model_arch(const tl_llm_model *m);
/* The context length the model was trained with. */
TL_API int tl_llm_model_n_ctx_train(const tl_llm_model *m);
/* Rows of the embedding and output matrices (logits per token). */
TL_API int tl_llm_model_n_vocab(const tl_llm_model *m);
TL_API int tl_llm_model_n_embd(const tl_llm_model *m);
TL_API int tl_llm_model_n_layer(const tl_llm_model *m);
/* Parameters counted once (a tied output matrix is the embedding's). */
TL_API uint64_t tl_llm_model_n_params(const tl_llm_model *m);
/* Bytes of those parameters in their file encoding. */
TL_API uint64_t tl_llm_model_weight_bytes(const tl_llm_model *m);
/* The model's tokenizer, owned by the model; NULL for a llama2.c checkpoint
 * loaded without a tokenizer path. */
TL_API const tl_tokenizer *tl_llm_model_tokenizer(const tl_llm_model *m);
/* tokenizer.chat_template (NUL-terminated, owned by the model), or NULL when
 * the file has none. */
TL_API const char *tl_llm_model_chat_template(const tl_llm_model *m);
/* A one-line description for logs and --info: arch, sizes, tensor types. */
TL_API const char *tl_llm_model_desc(const tl_llm_model *m);

/* ---- sessions --------------------------------------------------------------- */

/* A session: a KV cache of n_ctx positions (float32, so greedy results are
 * exact), scratch buffers and n_threads compute threads (the caller's thread
 * is one of them), all allocated here and reused by every decode. n_ctx 0
 * means min(n_ctx_train, 4096); n_threads 0 means the model's default.
 * Errors: TL_EINVAL (n_ctx or n_threads out of range), TL_ENOMEM. On error
 * *out is untouched. */
TL_API int tl_llm_session_new(const tl_llm_model *m, int n_ctx, int n_threads,
                              tl_llm_session **out, tl_err *err);
TL_API void tl_llm_session_free(tl_llm_session *s);
/* Forgets every position: the next decode starts at position 0. */
TL_API void tl_llm_session_reset(tl_llm_session *s);
/* The number of positions held in the KV cache (the next token's position). */
TL_API int tl_llm_session_pos(const tl_llm_session *s);
TL_API int tl_llm_session_n_ctx(const tl_llm_session *s);

/* Runs the model over ids[0..n) at the next positions, appending their keys
 * and values to the KV cache. n > 1 is processed in batches so each weight
 * matrix is read once per batch. *logits (when logits is non-NULL) receives
 * the n_vocab logits of the last token; they belong to the session and stay
 * valid until its next decode. Errors: TL_EINVAL (n 0, an id outside the
 * vocabulary: the message names its index), TL_ETOOBIG (pos + n exceeds
 * n_ctx; nothing is decoded then). */
TL_API int tl_llm_decode(tl_llm_session *s, const int32_t *ids, size_t n, float **logits,
                         tl_err *err);

/* ---- sampling --------------------------------------------------------------- */

/* Zero-initialized parameters mean greedy (argmax) with every filter off.
 * The chain, in llama.cpp's order: repetition penalty over the last
 * repeat_last_n tokens (a positive logit is divided by repeat_penalty, a
 * negative one multiplied, once per distinct token), then top-k, top-p,
 * min-p (each on the temperature-1 distribution), then temperature, then a
 * draw from the seeded generator. */
typedef struct tl_llm_sampler_params {
    float temperature;    /* <= 0: greedy (argmax, the lowest id on ties) */
    int top_k;            /* <= 0: off */
    float top_p;          /* <= 0 or >= 1: off */
    float min_p;          /* <= 0: off; keeps p >= min_p * p_max */
    float repeat_penalty; /* <= 0 or 1: off */
    int repeat_last_n;    /* tokens the penalty looks back over; <= 0: off */
    uint64_t seed;        /* the same seed and inputs give the same draws */
} tl_llm_sampler_params;

/* llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * repetition penalty off (1.0, last 64), seed 0. */
TL_API tl_llm_sampler_params tl_llm_sampler_defaults(void);

/* A sampler for n_vocab logits, with its scratch memory and its generator
 * state (seeded from p->seed). Errors: TL_EINVAL, TL_ENOMEM. */
TL_API int tl_llm_sampler_new(const tl_llm_sampler_params *p, int n_vocab, tl_llm_sampler **out,
                              tl_err *err);
TL_API void tl_llm_sampler_free(tl_llm_sampler *smp);
/* Reseeds the generator. */
TL_API void tl_llm_sampler_seed(tl_llm_sampler *smp, uint64_t seed);

/* Picks the next token from logits (n_vocab floats, not modified); prev
 * holds the tokens so far (for the repetition penalty; may be NULL when
 * n_prev is 0). Allocates nothing. */
TL_API int32_t tl_llm_sample(tl_llm_sampler *smp, const float *logits, const int32_t *prev,
                             size_t n_prev);

/* The candidate set the filters keep, most probable first, with their
 * probabilities after temperature (they sum to 1): at most cap are written
 * to ids/probs (either may be NULL), the set's size is returned. Greedy
 * parameters give the single argmax with probability 1. For inspection and
 * tests. */
TL_API size_t tl_llm_sampler_candidates(tl_llm_sampler *smp, const float *logits,
                                        const int32_t *prev, size_t n_prev, int32_t *ids,
                                        float *probs, size_t cap);

/* ---- generation ------------------------------------------------------------- */

enum tl_llm_stop {
    TL_LLM_STOP_MAX_TOKENS = 0, /* max_tokens generated */
    TL_LLM_STOP_EOG = 1,        /* an end-of-generation token (not emitted) */
    TL_LLM_STOP_STRING = 2,     /* a stop string (neither it nor text after it emitted) */
    TL_LLM_STOP_CONTEXT = 3,    /* the KV cache is full */
    TL_LLM_STOP_CALLBACK = 4    /* the callback returned nonzero */
};

typedef struct tl_llm_gen_params {
    tl_llm_sampler_params sampler;
    int max_tokens;            /* <= 0: until another stop (at the latest the context end) */
    const char *const *stop;   /* stop strings (UTF-8, non-empty), n_stop of them */
    size_t n_stop;
    bool ignore_eog;           /* keep going past end-of-generation tokens (benchmarks) */
    int32_t *ids_out;          /* optional: the generated ids, at most ids_cap of them */
    size_t ids_cap;
} tl_llm_gen_params;

typedef struct tl_llm_gen_stats {
    size_t n_prompt;     /* tokens prefilled */
    size_t n_gen;        /* tokens sampled (an end-of-generation token included) */
    double prefill_s;    /* wall seconds of the prefill */
    double decode_s;     /* wall seconds after it: sampling, decoding, callbacks */
    int stop;            /* enum tl_llm_stop */
} tl_llm_gen_stats;

/* Text callback: len bytes of complete UTF-8 (never a split character;
 * invalid bytes arrive as U+FFFD). Nonzero stops the generation. */
typedef int (*tl_llm_text_fn)(const char *text, size_t len, void *ud);

/* Prefills prompt[0..n) after what the session holds, then samples and
 * decodes one token at a time until max_tokens, an end-of-generation token,
 * a stop string, a full context or the callback says stop. Text is streamed
 * through on_text (may be NULL); text that might begin a stop string is held
 * back until it cannot. stats (may be NULL) is filled on success (zeroed on
 * error). The session keeps what was decoded, so a chat continues with the
 * next call; on an error after the prefill the KV cache holds the prompt and
 * part of the answer. Errors: TL_ETOOBIG (the prompt does not fit in
 * the context that remains: nothing is decoded and on_text is never called),
 * TL_EINVAL (an id outside the vocabulary, stop strings without a
 * tokenizer), TL_ENOMEM. */
TL_API int tl_llm_generate(tl_llm_session *s, const int32_t *prompt, size_t n,
                           const tl_llm_gen_params *p, tl_llm_text_fn on_text, void *ud,
                           tl_llm_gen_stats *stats, tl_err *err);

TL_END_DECLS

#endif
