/*
 * stats.c - the seeded generator and the stratified splits of ml_stats.h.
 *
 * Folds and hold-outs must be reproducible outside Teller (the benchmark
 * anchors in bench/credit_anchor.py rebuild them in Python), so every step is
 * spelled out and nothing depends on the platform: xoshiro256** seeded with
 * four outputs of splitmix64, bounded integers by rejection of the low
 * 2^64 mod n values, then x % n, and the Fisher-Yates order written in the
 * header. The generator state lives in the caller's tl_rng: no globals.
 */
#include <teller/ml_stats.h>

#include <math.h>
#include <stdlib.h>

/* splitmix64 (Steele, Lea & Flood 2014; Vigna's reference code): spreads one
 * seed into the four state words so that nearby seeds give unrelated
 * streams and the state is never all zero. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void tl_rng_seed(tl_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

/* xoshiro256** 1.0 (Blackman & Vigna), verbatim. */
uint64_t tl_rng_next(tl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tl_rng_uniform(tl_rng *r)
{
    return (double)(tl_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Rejects the lowest 2^64 mod n raw values so that the rest, a whole
 * multiple of n, map evenly onto [0, n) by x % n (OpenBSD's
 * arc4random_uniform). Fewer than one draw in two is rejected for any n. */
uint64_t tl_rng_below(tl_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = tl_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

void tl_rng_shuffle(tl_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)tl_rng_below(r, (uint64_t)i + 1);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* Checks the labels and counts each class. */
static int count_classes(const char *fn, const uint8_t *y, size_t n, size_t count[2], tl_err *err)
{
    count[0] = count[1] = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return tl_err_set(err, TL_EINVAL, "%s: row %zu: label is %u, not 0 or 1", fn, i,
                              (unsigned)y[i]);
        count[y[i]]++;
    }
    return 0;
}

/* The shared core of folds and split: idx[0..count[0]) gets class 0's rows
 * and idx[count[0]..n) class 1's, each ascending and then shuffled from one
 * stream seeded once, class 0 first. */
static void shuffled_classes(const uint8_t *y, size_t n, const size_t count[2], uint64_t seed,
                             size_t *idx)
{
    size_t at[2] = {0, count[0]};
    for (size_t i = 0; i < n; i++)
        idx[at[y[i]]++] = i;
    tl_rng r;
    tl_rng_seed(&r, seed);
    tl_rng_shuffle(&r, idx, count[0]);
    tl_rng_shuffle(&r, idx + count[0], count[1]);
}

int tl_ml_stratified_folds(const uint8_t *y, size_t n, int k, uint64_t seed, int *fold,
                           tl_err *err)
{
    static const char fn[] = "stratified folds";
    if (k < 2)
        return tl_err_set(err, TL_EINVAL, "%s: k is %d; it must be at least 2", fn, k);
    size_t count[2];
    int rc = count_classes(fn, y, n, count, err);
    if (rc < 0)
        return rc;
    for (int c = 0; c < 2; c++)
        if (count[c] < (size_t)k)
            return tl_err_set(err, TL_EINVAL,
                              "%s: class %d has %zu rows, fewer than the %d folds asked for", fn,
                              c, count[c], k);
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory for %zu row indices", fn, n);
    shuffled_classes(y, n, count, seed, idx);
    size_t uk = (size_t)k;
    for (size_t j = 0; j < count[0]; j++)
        fold[idx[j]] = (int)(j % uk);
    size_t offset = count[0] % uk;
    for (size_t j = 0; j < count[1]; j++)
        fold[idx[count[0] + j]] = (int)((j + offset) % uk);
    free(idx);
    return 0;
}

int tl_ml_stratified_split(const uint8_t *y, size_t n, double valid_frac, uint64_t seed,
                           uint8_t *is_valid, tl_err *err)
{
    static const char fn[] = "stratified split";
    if (!(valid_frac > 0 && valid_frac < 1))
        return tl_err_set(err, TL_EINVAL, "%s: validation share %g is not strictly between 0 and 1",
                          fn, valid_frac);
    size_t count[2];
    int rc = count_classes(fn, y, n, count, err);
    if (rc < 0)
        return rc;
    size_t m[2];
    for (int c = 0; c < 2; c++) {
        m[c] = (size_t)round(valid_frac * (double)count[c]);
        if (m[c] < 1 || m[c] >= count[c])
            return tl_err_set(err, TL_EINVAL,
                              "%s: class %d has %zu rows; a validation share of %g puts %zu of "
                              "them in validation and %zu in training, and each side needs one",
                              fn, c, count[c], valid_frac, m[c],
                              m[c] <= count[c] ? count[c] - m[c] : 0);
    }
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory for %zu row indices", fn, n);
    shuffled_classes(y, n, count, seed, idx);
    for (size_t i = 0; i < n; i++)
        is_valid[i] = 0;
    for (size_t j = 0; j < m[0]; j++)
        is_valid[idx[j]] = 1;
    for (size_t j = 0; j < m[1]; j++)
        is_valid[idx[count[0] + j]] = 1;
    free(idx);
    return 0;
}
