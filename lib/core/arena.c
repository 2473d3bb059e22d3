/* arena.c - bump allocation in a list of blocks, with a cap on the total. */
#include <teller/arena.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define DEFAULT_BLOCK (64 * 1024)

struct block {
    struct block *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
};

struct tl_arena {
    struct block *head;  /* the block being filled; the first block is last */
    size_t block_bytes;
    size_t max_bytes;    /* 0: no cap */
    size_t total_bytes;  /* sum of block sizes, checked against max_bytes */
    size_t used_bytes;   /* handed out since the last reset */
};

static struct block *block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct block))
        return NULL;
    struct block *b = malloc(sizeof(struct block) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

tl_arena *tl_arena_new(size_t block_bytes, size_t max_bytes)
{
    if (block_bytes == 0)
        block_bytes = DEFAULT_BLOCK;
    block_bytes = (block_bytes + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (block_bytes == 0)
        return NULL;
    if (max_bytes && block_bytes > max_bytes)
        block_bytes = max_bytes & ~(size_t)(ALIGN - 1);
    tl_arena *a = malloc(sizeof *a);
    if (!a)
        return NULL;
    a->block_bytes = block_bytes ? block_bytes : ALIGN;
    a->max_bytes = max_bytes;
    a->head = block_new(a->block_bytes);
    if (!a->head) {
        free(a);
        return NULL;
    }
    a->total_bytes = a->block_bytes;
    a->used_bytes = 0;
    return a;
}

void tl_arena_free(tl_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *tl_arena_alloc(tl_arena *a, size_t n)
{
    if (!a || n > SIZE_MAX - ALIGN)
        return NULL;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct block *b = a->head;
    if (b->size - b->used < need) {
        size_t size = need > a->block_bytes ? need : a->block_bytes;
        if (a->max_bytes) {
            size_t left = a->max_bytes > a->total_bytes ? a->max_bytes - a->total_bytes : 0;
            if (size > left) {
                size = left & ~(size_t)(ALIGN - 1); /* a smaller last block may still fit n */
                if (size < need)
                    return NULL;
            }
        }
        struct block *nb = block_new(size);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = nb;
        a->total_bytes += size;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used_bytes += n;
    return p;
}

void *tl_arena_calloc(tl_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = tl_arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *tl_arena_strndup(tl_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = tl_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *tl_arena_sprintf(tl_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = NULL;
    if (n >= 0) {
        p = tl_arena_alloc(a, (size_t)n + 1);
        if (p)
            vsnprintf(p, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    return p;
}

void tl_arena_reset(tl_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b->next) { /* every block but the first */
        struct block *next = b->next;
        a->total_bytes -= b->size;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->used_bytes = 0;
}

size_t tl_arena_used(const tl_arena *a)
{
    return a ? a->used_bytes : 0;
}
