/*
 * arena.h - bump allocation for request- and batch-scoped memory.
 *
 * Allocate many small things, free them all at once with tl_arena_reset or
 * tl_arena_free. Growth is bounded: an arena refuses to grow past max_bytes
 * (returns NULL), so one bad request cannot take the whole process.
 *
 *     tl_arena *a = tl_arena_new(64 * 1024, 64 << 20);
 *     char *s = tl_arena_strndup(a, field, len);
 *     ...
 *     tl_arena_free(a);
 */
#ifndef TELLER_ARENA_H
#define TELLER_ARENA_H

#include "common.h"

TL_BEGIN_DECLS

typedef struct tl_arena tl_arena;

/* block_bytes: size of each chunk; max_bytes: cap on the total (0 = no cap).
 * Returns NULL when out of memory. Free with tl_arena_free. */
TL_API tl_arena *tl_arena_new(size_t block_bytes, size_t max_bytes);
TL_API void tl_arena_free(tl_arena *a);

/* Returns 16-byte aligned memory valid until the next reset/free, or NULL when
 * out of memory or over the cap. */
TL_API void *tl_arena_alloc(tl_arena *a, size_t n);
TL_API void *tl_arena_calloc(tl_arena *a, size_t count, size_t size);
TL_API char *tl_arena_strndup(tl_arena *a, const char *s, size_t len);
TL_API char *tl_arena_sprintf(tl_arena *a, const char *fmt, ...) TL_PRINTF(2, 3);

/* Forgets every allocation but keeps the first block for reuse. */
TL_API void tl_arena_reset(tl_arena *a);

/* Bytes handed out since the last reset. */
TL_API size_t tl_arena_used(const tl_arena *a);

TL_END_DECLS

#endif
