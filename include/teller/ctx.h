/*
 * ctx.h - the process context: configuration plus the services built from it.
 *
 * Opened once per process (the CLI per command, the server at start-up) and
 * passed first to every bank/ function. Owns the store connection now; later
 * the model registry, keyring, audit journal, thread pool and LLM backend.
 * No global mutable state lives anywhere else.
 */
#ifndef TELLER_CTX_H
#define TELLER_CTX_H

#include "common.h"
#include "config.h"
#include "err.h"
#include "store.h"

TL_BEGIN_DECLS

typedef struct tl_ctx tl_ctx;

/* Opens the store named by the config key store.url and migrates it to the
 * latest schema. cfg is borrowed and must outlive the context. On error *out
 * is untouched and nothing stays open. */
TL_API int tl_ctx_open(const tl_config *cfg, tl_ctx **out, tl_err *err);

/* Closes everything the context owns. NULL is a no-op. */
TL_API void tl_ctx_close(tl_ctx *ctx);

/* Borrowed services, valid until tl_ctx_close. */
TL_API tl_store *tl_ctx_store(tl_ctx *ctx);
TL_API const tl_config *tl_ctx_config(const tl_ctx *ctx);

/* The data keys (PII encryption, blind indexes), loaded from data.key_file
 * (created with a fresh key when missing) or TELLER_DATA_KEY. */
TL_API struct tl_keyring *tl_ctx_keyring(tl_ctx *ctx);

/* How many migrations tl_ctx_open applied (0 when the store was current). */
TL_API int tl_ctx_migrations_applied(const tl_ctx *ctx);

TL_END_DECLS

#endif
