/*
 * internal.h - helpers shared by the files of lib/core (not installed).
 */
#ifndef TL_CORE_INTERNAL_H
#define TL_CORE_INTERNAL_H

#include <teller/err.h>

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

#endif
