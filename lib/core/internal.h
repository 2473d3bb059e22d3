/*
 * internal.h - core helpers shared by the files of libteller (not installed).
 * Higher layers include it as "core/internal.h"; none of this is public API.
 */
#ifndef TL_CORE_INTERNAL_H
#define TL_CORE_INTERNAL_H

#include <teller/err.h>

#include <stddef.h>
#include <stdint.h>

/* Renders s[0..len) for an error message: at most about 60 bytes, control
 * characters, quotes, backslashes and invalid UTF-8 escaped (\xNN), "..."
 * when cut. User values end up in JSON error bodies and on terminals, so a
 * message must stay valid UTF-8 and one line whatever the input held.
 * Returns buf (always NUL-terminated; bufsize must be at least 8). */
#define TL__QUOTE_SIZE 80
const char *tl__quote(char *buf, size_t bufsize, const char *s, size_t len);

/* Length of the valid UTF-8 sequence at s[0..len), or 0 when the bytes there
 * do not start one (shared by utf8.c, log.c and tl__quote). */
size_t tl__utf8_seq_len(const unsigned char *s, size_t len);

/* A fast, well-spread 64-bit hash of s[0..n) for in-memory hash tables
 * (statement caches, id sets). Not for anything an attacker can choose to
 * make collide at scale, and never persisted: it may change. */
uint64_t tl__hash_bytes(const void *s, size_t n);

/* Formats d in the shortest %g form that reads back as exactly d (15 to 17
 * digits), so REAL values survive export and reload bit for bit. Returns the
 * length, as snprintf does. */
int tl__format_real(double d, char *buf, size_t size);

#endif
