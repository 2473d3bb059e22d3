/*
 * err.h - the one error contract of libteller.
 *
 * Every fallible function returns int: 0 on success or a negative TL_E* code,
 * and fills a caller-owned tl_err with a sentence that names the input at
 * fault (file, line, column, field, value). The library never prints, never
 * exits and never aborts on bad input.
 *
 *     tl_err err = {0};
 *     if (tl_store_open("sqlite:bank.db", &store, &err) < 0)
 *         fprintf(stderr, "teller: %s\n", err.msg);
 *
 * Codes are append-only: they reach HTTP clients and logs, so never renumber
 * or reuse one. Add new codes at the end of TL_ERROR_CODES.
 */
#ifndef TELLER_ERR_H
#define TELLER_ERR_H

#include "common.h"

TL_BEGIN_DECLS

/* X(name, value, short slug used in JSON errors, description) */
#define TL_ERROR_CODES(X)                                                   \
    X(TL_OK, 0, "ok", "success")                                            \
    X(TL_EINVAL, -1, "invalid", "invalid argument or input")                \
    X(TL_ENOMEM, -2, "no_memory", "out of memory")                          \
    X(TL_EIO, -3, "io", "input/output error")                               \
    X(TL_ENOTFOUND, -4, "not_found", "not found")                           \
    X(TL_EPARSE, -5, "parse", "malformed input")                            \
    X(TL_ESTORE, -6, "store", "store error")                                \
    X(TL_ECONSTRAINT, -7, "constraint", "constraint violated")              \
    X(TL_EINTERNAL, -8, "internal", "internal error")                       \
    X(TL_EUNSUPPORTED, -9, "unsupported", "not supported")                  \
    X(TL_ETOOBIG, -10, "too_big", "input exceeds a limit")                  \
    X(TL_EEXISTS, -11, "exists", "already exists")                          \
    X(TL_ECANCELED, -12, "canceled", "operation canceled")                  \
    X(TL_EAUTH, -13, "unauthenticated", "missing or invalid credentials")   \
    X(TL_EFORBIDDEN, -14, "forbidden", "not allowed for this role")         \
    X(TL_ERATELIMIT, -15, "rate_limited", "too many requests")              \
    X(TL_ECRYPTO, -16, "crypto", "decryption or verification failed")

enum tl_errcode {
#define TL_X_ENUM(name, value, slug, desc) name = value,
    TL_ERROR_CODES(TL_X_ENUM)
#undef TL_X_ENUM
};

#define TL_ERR_MSG_SIZE 512

typedef struct tl_err {
    int code;                   /* 0 or a negative TL_E* code */
    char msg[TL_ERR_MSG_SIZE];  /* a full sentence naming the input at fault */
} tl_err;

/* Fills err (when non-NULL) and returns code, so callers can write
 * `return tl_err_set(err, TL_EINVAL, "...")`. */
TL_API int tl_err_set(tl_err *err, int code, const char *fmt, ...) TL_PRINTF(3, 4);

/* Prefixes an existing message with context ("ingest transactions: ..."). */
TL_API int tl_err_prefix(tl_err *err, const char *fmt, ...) TL_PRINTF(2, 3);

/* Resets err to success. */
TL_API void tl_err_clear(tl_err *err);

/* A static description of a code; never NULL. */
TL_API const char *tl_strerror(int code);

/* The short slug of a code ("invalid", "not_found"); never NULL. */
TL_API const char *tl_errslug(int code);

/* Defensive checks for our own invariants (sqlite's ALWAYS/NEVER): abort in
 * debug builds, evaluate to the condition in release builds so the caller can
 * return TL_EINTERNAL. Never use them on user input. */
#ifdef NDEBUG
#define TL_ALWAYS(x) (x)
#define TL_NEVER(x) (x)
#else
#include <assert.h>
#define TL_ALWAYS(x) ((x) ? 1 : (assert(0 && #x), 0))
#define TL_NEVER(x) ((x) ? (assert(!#x), 1) : 0)
#endif

TL_END_DECLS

#endif
