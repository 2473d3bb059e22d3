/*
 * backend_internal.h - the tl_llm vtable (llm_backend.h) that backend.c (the
 * interface and the embedded engine) and backend_remote.c (an
 * OpenAI-compatible server over libcurl) implement, like curl's vtls/.
 */
#ifndef TELLER_LLM_BACKEND_INTERNAL_H
#define TELLER_LLM_BACKEND_INTERNAL_H

#include <teller/llm_backend.h>

struct tl__llm_ops {
    /* msgs were checked (n > 0, roles and contents non-NULL), as were the
     * request's stop strings; res is zeroed. */
    int (*chat)(tl_llm *l, const tl_llm_chat_msg *msgs, size_t n, const tl_llm_request *req,
                tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err);
    /* prompt is non-empty. */
    int (*complete)(tl_llm *l, const char *prompt, const tl_llm_request *req,
                    tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err);
    void (*close)(tl_llm *l);
};

#define TL__LLM_MODEL_ID_MAX 256

struct tl_llm {
    const struct tl__llm_ops *ops;
    int kind;                            /* enum tl_llm_backend_kind */
    char model_id[TL__LLM_MODEL_ID_MAX]; /* remote: rewritten once discovered, under its lock */
    int max_tokens_default;              /* llm.max_tokens */
    int64_t timeout_ms;                  /* llm.timeout_ms */
    void *impl;                          /* the backend's own state */
};

/* Reads the llm.remote_* keys into l (ops, impl, model_id). Errors name
 * the key at fault. */
int tl__llm_remote_open(const tl_config *cfg, tl_llm *l, tl_err *err);

/* Collected text of a generation: grows as pieces come, bounded. */
struct tl__llm_text {
    char *p;
    size_t n, cap;
};
/* Appends s[0..n); TL_ENOMEM or TL_ETOOBIG past 64 MiB. */
int tl__llm_text_put(struct tl__llm_text *t, const char *s, size_t n);

#endif
