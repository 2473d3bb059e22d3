/*
 * utf8.h - strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF).
 */
#ifndef TELLER_UTF8_H
#define TELLER_UTF8_H

#include "common.h"

TL_BEGIN_DECLS

/* Returns true when s[0..len) is valid UTF-8. On false, *bad_offset (when
 * non-NULL) receives the byte offset of the first invalid sequence. */
TL_API bool tl_utf8_valid(const char *s, size_t len, size_t *bad_offset);

TL_END_DECLS

#endif
