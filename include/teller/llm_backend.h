/*
 * llm_backend.h - one LLM interface, two backends: the embedded engine
 * (llm.h, on this machine's CPUs) or a remote OpenAI-compatible server
 * (vLLM, llama.cpp's server, Ollama, another Teller) over HTTP, chosen by
 * configuration. Callers above lib/llm (the server, the assistant) speak
 * only this interface and never name a backend.
 *
 *     tl_llm *l;
 *     if (tl_llm_open(cfg, &l, &err) < 0) ...           // llm.backend = embedded
 *     tl_llm_chat_msg msgs[] = {{"user", "Hello"}};
 *     tl_llm_request rq = {.max_tokens = 64};            // zero: greedy
 *     tl_llm_result res;
 *     if (tl_llm_chat(l, msgs, 1, &rq, on_text, ud, &res, &err) < 0) ...
 *     ... res.text, res.finish_reason, res.prompt_tokens ...
 *     tl_llm_result_free(&res);
 *     tl_llm_close(l);
 *
 * Configuration (docs/llm-serving.md):
 *   llm.backend        embedded | remote | none (default none)
 *   llm.model          embedded: a GGUF file or a llama2.c checkpoint
 *   llm.tokenizer      embedded, llama2.c checkpoints: the tokenizer .bin
 *   llm.chat_template  a template family name overriding the model's
 *                      (tl_llm_chat_parse), empty: detected from the model
 *   llm.threads        compute threads per session (0: the cores, at most 8)
 *   llm.ctx            context positions per session (0: the model's, at most 4096)
 *   llm.sessions       embedded sessions served at once (each its own KV cache)
 *   llm.max_tokens     tokens generated when a request names no limit
 *   llm.remote_url     remote: the base URL, such as http://host:8000/v1
 *   llm.remote_model   remote: the model name to ask for (empty: the
 *                      server's first model from GET {url}/models)
 *   llm.remote_key_file remote: a file holding the API key (sent as a bearer
 *                      token; never logged, never in an error message)
 *   llm.timeout_ms     remote: the whole request; embedded: the wait for a
 *                      free session
 *
 * A tl_llm is safe to use from any number of threads at once: the embedded
 * backend hands each call one of its sessions (waiting for one to be free),
 * the remote backend makes one HTTP request per call.
 */
#ifndef TELLER_LLM_BACKEND_H
#define TELLER_LLM_BACKEND_H

#include "common.h"
#include "config.h"
#include "err.h"
#include "llm.h"
#include "llm_chat.h"

TL_BEGIN_DECLS

typedef struct tl_llm tl_llm;

enum tl_llm_backend_kind {
    TL_LLM_BACKEND_NONE = 0,
    TL_LLM_BACKEND_EMBEDDED = 1,
    TL_LLM_BACKEND_REMOTE = 2,
};

/* The most stop strings a request may carry (OpenAI allows 4). */
#define TL_LLM_MAX_STOP 4

/* What one completion asks for. Zero-initialized: greedy, llm.max_tokens
 * tokens at most, every filter off, no stop strings beyond the template's. */
typedef struct tl_llm_request {
    int max_tokens;       /* <= 0: llm.max_tokens; always capped by the context left */
    float temperature;    /* <= 0: greedy */
    float top_p;          /* <= 0 or >= 1: off */
    int top_k;            /* <= 0: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* <= 0 or 1: off */
    bool has_seed;        /* false: a seed drawn per request (embedded) or the server's */
    uint64_t seed;
    const char *const *stop; /* n_stop stop strings (non-empty, at most TL_LLM_MAX_STOP) */
    size_t n_stop;
} tl_llm_request;

/* The answer. text is malloc'd (NUL-terminated, text_len bytes), freed by
 * tl_llm_result_free; finish_reason is a static string. */
typedef struct tl_llm_result {
    char *text;
    size_t text_len;
    const char *finish_reason; /* "stop" (end of turn, stop string, callback) or "length" */
    int64_t prompt_tokens;     /* as the backend counted them (0: the remote did not say) */
    int64_t completion_tokens;
} tl_llm_result;

/* Opens the backend llm.backend names. embedded loads llm.model (errors of
 * tl_llm_model_load, naming the file) and makes llm.sessions sessions;
 * remote checks llm.remote_url and reads the key file, and contacts nobody
 * yet; none gives *out = NULL and returns 0. Errors: TL_EINVAL naming the
 * key at fault (an unknown backend, a missing model or URL, a number out of
 * range), TL_EIO (the key file cannot be read), the model loader's. On error
 * *out is NULL. */
TL_API int tl_llm_open(const tl_config *cfg, tl_llm **out, tl_err *err);

/* Frees the backend; NULL is a no-op. No call may be in flight. */
TL_API void tl_llm_close(tl_llm *l);

/* enum tl_llm_backend_kind of an open backend. */
TL_API int tl_llm_backend(const tl_llm *l);

/* The model's name as /v1/models lists it: the model file's base name
 * (embedded) or llm.remote_model (remote; until it is discovered from the
 * server, "remote"). Owned by l. */
TL_API const char *tl_llm_model_id(const tl_llm *l);

/* Answers a conversation: messages rendered with the model's chat template
 * (or llm.chat_template; a model without one gets ChatML) and the opening of
 * the assistant's turn, generation until the end of the turn, a stop string
 * (neither it nor what follows is in the text), max_tokens or the context
 * end. Text is streamed through on_text (may be NULL) as it is made; a
 * nonzero return ends the generation early, without error (finish "stop").
 * On success *res is filled and owns its text. Errors: TL_EINVAL (no
 * messages, a NULL role or content, a stop string empty or too many: named),
 * TL_ETOOBIG (the prompt does not fit in the context), TL_ECANCELED (no
 * session came free within llm.timeout_ms), TL_EIO (the remote server could
 * not be reached, timed out or answered an error: the message names the URL,
 * never the key, and quotes the server's error message), TL_EPARSE (the
 * remote answered what is not OpenAI's format), TL_EUNSUPPORTED (the model's
 * template is of a family we do not render; set llm.chat_template). On error
 * *res is empty (text NULL); on_text may have been called for text before
 * the failure. */
TL_API int tl_llm_chat(tl_llm *l, const tl_llm_chat_msg *msgs, size_t n_msgs,
                       const tl_llm_request *req, tl_llm_text_fn on_text, void *ud,
                       tl_llm_result *res, tl_err *err);

/* A raw completion of prompt (no template; BOS as the tokenizer adds it),
 * otherwise as tl_llm_chat. An empty prompt is TL_EINVAL. */
TL_API int tl_llm_complete(tl_llm *l, const char *prompt, const tl_llm_request *req,
                           tl_llm_text_fn on_text, void *ud, tl_llm_result *res, tl_err *err);

/* Frees res->text and empties *res; NULL is a no-op. */
TL_API void tl_llm_result_free(tl_llm_result *res);

TL_END_DECLS

#endif
