/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 *     tl_log(TL_LOG_INFO, "ingest", "loaded %zu rows", n);
 *  -> {"ts":"2026-11-23T11:52:00.123Z","level":"info","module":"ingest","msg":"loaded 3 rows"}
 *
 * The level threshold is process-wide configuration set once at start-up by
 * the program (tl_log_set_level); the library itself only calls tl_log. Lines
 * are written with a single write(2) so concurrent threads never interleave.
 * Never log PII: callers pass ids, not names or emails. As a second line of
 * defence the program may install a filter (tl_log_set_filter) that every
 * message passes through before it is written, e.g. the PII masker of mask.h.
 */
#ifndef TELLER_LOG_H
#define TELLER_LOG_H

#include "common.h"

TL_BEGIN_DECLS

enum tl_log_level {
    TL_LOG_DEBUG = 0,
    TL_LOG_INFO = 1,
    TL_LOG_WARN = 2,
    TL_LOG_ERROR = 3,
    TL_LOG_OFF = 4,
};

/* Sets the threshold; messages below it are dropped. Default TL_LOG_WARN. */
TL_API void tl_log_set_level(enum tl_log_level level);
TL_API enum tl_log_level tl_log_get_level(void);

/* Parses "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
TL_API int tl_log_level_parse(const char *s);

/* A message filter: rewrites msg[0..len) into out (out_size bytes) and
 * returns the length written, which must be less than out_size (longer
 * results are cut). It runs on the logging thread, possibly on many threads
 * at once, and must not call tl_log itself. */
typedef size_t (*tl_log_filter_fn)(void *ud, const char *msg, size_t len, char *out, size_t out_size);

/* Installs fn (with ud) as the filter of every later message; NULL removes
 * it. Process-wide like the level: set once at start-up, before other
 * threads log, and keep ud alive until the filter is removed. */
TL_API void tl_log_set_filter(tl_log_filter_fn fn, void *ud);

/* Writes one JSON line: ts, level, module, msg (JSON-escaped; passed through
 * the filter first when one is installed). */
TL_API void tl_log(enum tl_log_level level, const char *module, const char *fmt, ...)
    TL_PRINTF(3, 4);

TL_END_DECLS

#endif
