/*
 * progress.h - a TTY-aware progress bar on stderr with rate and ETA.
 *
 * Silent when stderr is not a terminal or when quiet is set, so logs and CI
 * output stay clean. Redraws at most ten times a second, so calling
 * tl_progress_update per row is cheap.
 */
#ifndef TELLER_PROGRESS_H
#define TELLER_PROGRESS_H

#include "common.h"

TL_BEGIN_DECLS

typedef struct tl_progress tl_progress;

/* label is copied; total 0 means unknown (shows count and rate, no ETA).
 * unit names what is counted ("rows", "bytes"). NULL when out of memory. */
TL_API tl_progress *tl_progress_new(const char *label, uint64_t total, const char *unit, bool quiet);

/* Sets the absolute count done. */
TL_API void tl_progress_update(tl_progress *p, uint64_t done);

/* Draws the final state, ends the line, and frees p. */
TL_API void tl_progress_finish(tl_progress *p);

/* Renders one line into buf (for tests and logs): "label  45% 450/1000 rows
 * 1.2k rows/s ETA 0:05". Returns the length. */
TL_API size_t tl_progress_render(const tl_progress *p, int64_t now_ns, char *buf, size_t bufsize);

TL_END_DECLS

#endif
