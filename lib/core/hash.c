/*
 * hash.c - the in-memory hash and the exact real formatter shared by the
 * store and the generator (see internal.h).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* splitmix64's finalizer: spreads every input bit over the low bits that
 * power-of-two tables index with. */
static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

/* Keys are short (ids, SQL text), so a word-at-a-time multiply-rotate with a
 * strong finalizer is both fast and good enough for linear probing. */
uint64_t tl__hash_bytes(const void *data, size_t n)
{
    const unsigned char *s = data;
    const uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2 = 0xc2b2ae3d27d4eb4fULL;
    uint64_t h = k1 ^ ((uint64_t)n * k2);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = rotl64(h ^ (w * k2), 31) * k1;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = rotl64(h ^ (w * k2), 31) * k1;
    }
    return mix64(h);
}

int tl__format_real(double d, char *buf, size_t size)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return n;
}
