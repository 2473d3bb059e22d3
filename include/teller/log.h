/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 *     tl_log(TL_LOG_INFO, "ingest", "loaded %zu rows", n);
 *  -> {"ts":"2026-11-23T11:52:00.123Z","level":"info","module":"ingest","msg":"loaded 3 rows"}
 *
 * The level threshold is process-wide configuration set once at start-up by
 * the program (tl_log_set_level); the library itself only calls tl_log. Lines
 * are written with a single write(2) so concurrent threads never interleave.
 * Never log PII: callers pass ids, not names or emails.
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

/* Writes one JSON line: ts, level, module, msg (JSON-escaped). */
TL_API void tl_log(enum tl_log_level level, const char *module, const char *fmt, ...)
    TL_PRINTF(3, 4);

TL_END_DECLS

#endif
