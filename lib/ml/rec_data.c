/* rec_data.c - interaction tables for the recommender: reading user/item
 * files (long or wide), id maps in id order, binary CSR matrices, and the
 * seeded splits, with NumPy's default_rng reproduced so that a per-user
 * split is the one the Python anchor makes. */

#include "ml/rec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/datetime.h>

/* ---- CSR ------------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int tl_rec_csr_from_pairs(int32_t n_rows, int32_t n_cols, const int32_t *rows, const int32_t *cols,
                          int64_t n, struct tl_rec_csr *out, tl_err *err)
{
    if (n_rows < 0 || n_cols < 0 || n < 0 || (n > 0 && (!rows || !cols)))
        return tl_err_set(err, TL_EINVAL, "recommend: a %d x %d matrix from %lld pairs is malformed",
                          n_rows, n_cols, (long long)n);
    for (int64_t e = 0; e < n; e++)
        if (rows[e] < 0 || rows[e] >= n_rows || cols[e] < 0 || cols[e] >= n_cols)
            return tl_err_set(err, TL_EINVAL,
                              "recommend: pair %lld (%d, %d) lies outside the %d x %d matrix",
                              (long long)e, rows[e], cols[e], n_rows, n_cols);
    int64_t *ptr = calloc((size_t)n_rows + 1, sizeof *ptr);
    int64_t *fill = malloc(((size_t)n_rows + 1) * sizeof *fill);
    int32_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
    if (!ptr || !fill || !idx) {
        free(ptr);
        free(fill);
        free(idx);
        return tl_err_set(err, TL_ENOMEM, "recommend: out of memory for %lld pairs", (long long)n);
    }
    for (int64_t e = 0; e < n; e++)
        ptr[rows[e] + 1]++;
    for (int32_t r = 0; r < n_rows; r++)
        ptr[r + 1] += ptr[r];
    memcpy(fill, ptr, (size_t)n_rows * sizeof *fill);
    for (int64_t e = 0; e < n; e++)
        idx[fill[rows[e]]++] = cols[e];
    int64_t w = 0;
    for (int32_t r = 0; r < n_rows; r++) {
        int64_t lo = ptr[r], hi = ptr[r + 1];
        qsort(idx + lo, (size_t)(hi - lo), sizeof *idx, cmp_i32);
        fill[r] = w;
        for (int64_t e = lo; e < hi; e++)
            if (e == lo || idx[e] != idx[e - 1])
                idx[w++] = idx[e];
    }
    fill[n_rows] = w;
    memcpy(ptr, fill, ((size_t)n_rows + 1) * sizeof *ptr);
    free(fill);
    *out = (struct tl_rec_csr){n_rows, n_cols, ptr, idx};
    return 0;
}

int tl_rec_csr_transpose(const struct tl_rec_csr *a, struct tl_rec_csr *out, tl_err *err)
{
    int64_t nnz = tl_rec_csr_nnz(a);
    int64_t *ptr = calloc((size_t)a->n_cols + 1, sizeof *ptr);
    int32_t *idx = malloc(((size_t)nnz + 1) * sizeof *idx);
    int64_t *fill = malloc(((size_t)a->n_cols + 1) * sizeof *fill);
    if (!ptr || !idx || !fill) {
        free(ptr);
        free(idx);
        free(fill);
        return tl_err_set(err, TL_ENOMEM, "recommend: out of memory transposing %lld entries",
                          (long long)nnz);
    }
    for (int64_t e = 0; e < nnz; e++)
        ptr[a->idx[e] + 1]++;
    for (int32_t c = 0; c < a->n_cols; c++)
        ptr[c + 1] += ptr[c];
    memcpy(fill, ptr, (size_t)a->n_cols * sizeof *fill);
    /* rows in increasing order, so each column's list comes out sorted */
    for (int32_t r = 0; r < a->n_rows; r++)
        for (int64_t e = a->ptr[r]; e < a->ptr[r + 1]; e++)
            idx[fill[a->idx[e]]++] = r;
    free(fill);
    *out = (struct tl_rec_csr){a->n_cols, a->n_rows, ptr, idx};
    return 0;
}

void tl_rec_csr_free(struct tl_rec_csr *a)
{
    if (!a)
        return;
    free(a->ptr);
    free(a->idx);
    memset(a, 0, sizeof *a);
}

/* ---- NumPy's default_rng ----------------------------------------------------
 * numpy.random.default_rng(seed) is Generator(PCG64(SeedSequence(seed))):
 *  - SeedSequence splits the seed into 32-bit words (low first), hashes them
 *    into a pool of 4 words (hashmix / mix below, numpy/random/bit_generator.pyx)
 *    and generate_state(4, uint64) draws 8 words from the pool, paired low
 *    word first;
 *  - PCG64 takes state words 0,1 as the 128-bit initial state (high, low) and
 *    2,3 as the stream: pcg_setseq_128_srandom_r; each draw steps the LCG and
 *    outputs XSL-RR of the new state;
 *  - Generator.shuffle is Fisher-Yates from the end, j = random_interval(i):
 *    draws masked to the next power of two minus one, rejected above i,
 *    32-bit draws (each 64-bit output split, low half first) when i < 2^32.
 * Checked against NumPy for several seeds (tests/unit/test_rec.c). */

#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_L 0xca01f9ddu
#define SS_MIX_R 0x4973f715u

typedef unsigned __int128 u128;

static uint32_t ss_hashmix(uint32_t v, uint32_t *hc)
{
    v ^= *hc;
    *hc *= SS_MULT_A;
    v *= *hc;
    v ^= v >> 16;
    return v;
}

static uint32_t ss_mix(uint32_t x, uint32_t y)
{
    uint32_t r = SS_MIX_L * x - SS_MIX_R * y;
    return r ^ (r >> 16);
}

static const u128 PCG_MULT = ((u128)2549297995355413924ULL << 64) | 4865540595714422341ULL;

static u128 rng_state(const tl_rec_numpy_rng *r)
{
    return ((u128)r->state_hi << 64) | r->state_lo;
}

static void rng_step(tl_rec_numpy_rng *r)
{
    u128 inc = ((u128)r->inc_hi << 64) | r->inc_lo;
    u128 s = rng_state(r) * PCG_MULT + inc;
    r->state_hi = (uint64_t)(s >> 64);
    r->state_lo = (uint64_t)s;
}

void tl_rec_numpy_rng_seed(tl_rec_numpy_rng *r, uint64_t seed)
{
    uint32_t ent[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int n_ent = (seed >> 32) ? 2 : 1;
    uint32_t pool[4], hc = SS_INIT_A;
    for (int i = 0; i < 4; i++)
        pool[i] = ss_hashmix(i < n_ent ? ent[i] : 0, &hc);
    for (int s = 0; s < 4; s++)
        for (int d = 0; d < 4; d++)
            if (s != d)
                pool[d] = ss_mix(pool[d], ss_hashmix(pool[s], &hc));
    uint32_t words[8], hb = SS_INIT_B;
    for (int i = 0; i < 8; i++) {
        uint32_t v = pool[i % 4] ^ hb;
        hb *= SS_MULT_B;
        v *= hb;
        words[i] = v ^ (v >> 16);
    }
    uint64_t st[4];
    for (int i = 0; i < 4; i++)
        st[i] = (uint64_t)words[2 * i] | ((uint64_t)words[2 * i + 1] << 32);
    u128 init = ((u128)st[0] << 64) | st[1];
    u128 seq = ((u128)st[2] << 64) | st[3];
    u128 inc = (seq << 1) | 1u;
    memset(r, 0, sizeof *r);
    r->inc_hi = (uint64_t)(inc >> 64);
    r->inc_lo = (uint64_t)inc;
    rng_step(r);
    u128 s = rng_state(r) + init;
    r->state_hi = (uint64_t)(s >> 64);
    r->state_lo = (uint64_t)s;
    rng_step(r);
}

uint64_t tl_rec_numpy_rng_next64(tl_rec_numpy_rng *r)
{
    rng_step(r);
    u128 s = rng_state(r);
    uint64_t x = (uint64_t)(s >> 64) ^ (uint64_t)s;
    unsigned rot = (unsigned)(s >> 122);
    return (x >> rot) | (x << ((64 - rot) & 63));
}

static uint32_t rng_next32(tl_rec_numpy_rng *r)
{
    if (r->has_buffered) {
        r->has_buffered = false;
        return r->buffered;
    }
    uint64_t v = tl_rec_numpy_rng_next64(r);
    r->has_buffered = true;
    r->buffered = (uint32_t)(v >> 32);
    return (uint32_t)v;
}

static uint64_t rng_interval(tl_rec_numpy_rng *r, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max, v;
    for (int sh = 1; sh <= 32; sh <<= 1)
        mask |= mask >> sh;
    if (max <= 0xffffffffu) {
        while ((v = (rng_next32(r) & mask)) > max) {
        }
    } else {
        while ((v = (tl_rec_numpy_rng_next64(r) & mask)) > max) {
        }
    }
    return v;
}

void tl_rec_numpy_rng_permutation(tl_rec_numpy_rng *r, int32_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = (int32_t)i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)rng_interval(r, (uint64_t)i);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- splits ------------------------------------------------------------------ */

/* Python's int(round(x)) for x >= 0: half to even. */
static int64_t py_round(double x)
{
    return (int64_t)nearbyint(x);
}

int tl_rec_split_csr(const struct tl_rec_csr *all, enum tl_rec_split_kind kind, double test_frac,
                     uint64_t seed, struct tl_rec_csr *train, struct tl_rec_csr *test, tl_err *err)
{
    if (kind != TL_REC_SPLIT_PER_USER && kind != TL_REC_SPLIT_LEAVE_ONE_OUT)
        return tl_err_set(err, TL_EINVAL,
                          "recommend: a split of a bare matrix must be per-user or leave-one-out "
                          "(a temporal split needs the interactions' times)");
    if (kind == TL_REC_SPLIT_PER_USER && !(test_frac > 0 && test_frac < 1))
        return tl_err_set(err, TL_EINVAL, "recommend: --test-frac %g is not in (0, 1)", test_frac);
    int64_t nnz = tl_rec_csr_nnz(all);
    int32_t *tr_u = malloc(((size_t)nnz + 1) * sizeof *tr_u);
    int32_t *tr_i = malloc(((size_t)nnz + 1) * sizeof *tr_i);
    int32_t *te_u = malloc(((size_t)nnz + 1) * sizeof *te_u);
    int32_t *te_i = malloc(((size_t)nnz + 1) * sizeof *te_i);
    int64_t max_row = 0;
    for (int32_t u = 0; u < all->n_rows; u++)
        if (all->ptr[u + 1] - all->ptr[u] > max_row)
            max_row = all->ptr[u + 1] - all->ptr[u];
    int32_t *perm = malloc(((size_t)max_row + 1) * sizeof *perm);
    int rc = 0;
    if (!tr_u || !tr_i || !te_u || !te_i || !perm) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend: out of memory splitting %lld positives",
                        (long long)nnz);
        goto done;
    }
    tl_rec_numpy_rng rng;
    tl_rec_numpy_rng_seed(&rng, seed);
    int64_t ntr = 0, nte = 0;
    for (int32_t u = 0; u < all->n_rows; u++) {
        int64_t lo = all->ptr[u], n = all->ptr[u + 1] - lo;
        if (n == 0)
            continue;
        tl_rec_numpy_rng_permutation(&rng, perm, n);
        int64_t n_test = 0;
        if (n >= 2) {
            n_test = kind == TL_REC_SPLIT_LEAVE_ONE_OUT ? 1 : py_round(test_frac * (double)n);
            if (n_test < 1)
                n_test = 1;
        }
        for (int64_t k = 0; k < n; k++) {
            int32_t it = all->idx[lo + perm[k]];
            if (k < n_test) {
                te_u[nte] = u;
                te_i[nte++] = it;
            } else {
                tr_u[ntr] = u;
                tr_i[ntr++] = it;
            }
        }
    }
    struct tl_rec_csr a, b;
    rc = tl_rec_csr_from_pairs(all->n_rows, all->n_cols, tr_u, tr_i, ntr, &a, err);
    if (rc < 0)
        goto done;
    rc = tl_rec_csr_from_pairs(all->n_rows, all->n_cols, te_u, te_i, nte, &b, err);
    if (rc < 0) {
        tl_rec_csr_free(&a);
        goto done;
    }
    *train = a;
    *test = b;
done:
    free(tr_u);
    free(tr_i);
    free(te_u);
    free(te_i);
    free(perm);
    return rc;
}

int tl_rec_data_matrix(const tl_rec_data *d, struct tl_rec_csr *out, tl_err *err)
{
    return tl_rec_csr_from_pairs(d->n_users, d->n_items, d->user, d->item, d->n, out, err);
}

struct trow {
    int64_t ts, row;
};
static int cmp_time(const void *a, const void *b)
{
    const struct trow *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->row > y->row) - (x->row < y->row);
}

int tl_rec_split(const tl_rec_data *d, enum tl_rec_split_kind kind, double test_frac,
                 uint64_t seed, struct tl_rec_csr *train, struct tl_rec_csr *test, tl_err *err)
{
    if (kind != TL_REC_SPLIT_TEMPORAL) {
        struct tl_rec_csr all;
        int rc = tl_rec_data_matrix(d, &all, err);
        if (rc < 0)
            return rc;
        rc = tl_rec_split_csr(&all, kind, test_frac, seed, train, test, err);
        tl_rec_csr_free(&all);
        return rc;
    }
    if (!(test_frac > 0 && test_frac < 1))
        return tl_err_set(err, TL_EINVAL, "recommend: --test-frac %g is not in (0, 1)", test_frac);
    if (!d->ts)
        return tl_err_set(err, TL_EINVAL, "recommend: a temporal split needs interaction times");
    /* Each (user, item) pair counts at its first time, so a product taken
     * again later is not a "new" test positive the user already holds. */
    struct tl_rec_csr all;
    int rc = tl_rec_data_matrix(d, &all, err);
    if (rc < 0)
        return rc;
    int64_t nnz = tl_rec_csr_nnz(&all);
    struct trow *order = malloc(((size_t)d->n + 1) * sizeof *order);
    int64_t *first = malloc(((size_t)nnz + 1) * sizeof *first); /* per CSR entry: its first row */
    int32_t *tu = malloc(((size_t)nnz + 1) * sizeof *tu), *ti = malloc(((size_t)nnz + 1) * sizeof *ti);
    int32_t *eu = malloc(((size_t)nnz + 1) * sizeof *eu), *ei = malloc(((size_t)nnz + 1) * sizeof *ei);
    if (!order || !first || !tu || !ti || !eu || !ei) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend: out of memory for a temporal split");
        goto out;
    }
    for (int64_t e = 0; e < nnz; e++)
        first[e] = -1;
    for (int64_t r = 0; r < d->n; r++)
        order[r] = (struct trow){d->ts[r], r};
    qsort(order, (size_t)d->n, sizeof *order, cmp_time);
    int64_t n_unique = 0;
    for (int64_t k = 0; k < d->n; k++) {
        int64_t r = order[k].row;
        int32_t u = d->user[r], it = d->item[r];
        const int32_t *row = all.idx + all.ptr[u];
        const int32_t *hit = bsearch(&it, row, (size_t)(all.ptr[u + 1] - all.ptr[u]), sizeof *row,
                                     cmp_i32);
        int64_t e = hit - all.idx;
        if (first[e] < 0)
            first[e] = n_unique++;
    }
    int64_t n_test = py_round(test_frac * (double)n_unique), cut = n_unique - n_test;
    int64_t ntr = 0, nte = 0;
    for (int32_t u = 0; u < all.n_rows; u++)
        for (int64_t e = all.ptr[u]; e < all.ptr[u + 1]; e++) {
            if (first[e] < cut) {
                tu[ntr] = u;
                ti[ntr++] = all.idx[e];
            } else {
                eu[nte] = u;
                ei[nte++] = all.idx[e];
            }
        }
    struct tl_rec_csr a;
    rc = tl_rec_csr_from_pairs(all.n_rows, all.n_cols, tu, ti, ntr, &a, err);
    if (rc == 0) {
        rc = tl_rec_csr_from_pairs(all.n_rows, all.n_cols, eu, ei, nte, test, err);
        if (rc == 0)
            *train = a;
        else
            tl_rec_csr_free(&a);
    }
out:
    free(order);
    free(first);
    free(tu);
    free(ti);
    free(eu);
    free(ei);
    tl_rec_csr_free(&all);
    return rc;
}

/* ---- id maps ------------------------------------------------------------------- */

struct idmap {
    char **keys;     /* (n) in first-seen order */
    int32_t *slots;  /* (cap) index + 1, 0 empty */
    size_t n, cap;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void idmap_free(struct idmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The index of key, adding it; -1 on OOM or past INT32_MAX ids. */
static int32_t idmap_get(struct idmap *m, const char *key)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1024;
        int32_t *slots = calloc(cap, sizeof *slots);
        char **keys = realloc(m->keys, cap / 2 * sizeof *keys);
        if (!slots || !keys) {
            free(slots);
            if (keys)
                m->keys = keys;
            return -1;
        }
        m->keys = keys;
        for (size_t i = 0; i < m->n; i++) {
            size_t h = hash_str(keys[i]) & (cap - 1);
            while (slots[h])
                h = (h + 1) & (cap - 1);
            slots[h] = (int32_t)i + 1;
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t h = hash_str(key) & (m->cap - 1);
    while (m->slots[h]) {
        if (strcmp(m->keys[m->slots[h] - 1], key) == 0)
            return m->slots[h] - 1;
        h = (h + 1) & (m->cap - 1);
    }
    if (m->n >= INT32_MAX - 1)
        return -1;
    char *k = strdup(key);
    if (!k)
        return -1;
    m->keys[m->n] = k;
    m->slots[h] = (int32_t)m->n + 1;
    return (int32_t)m->n++;
}

static bool parse_i64(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return false;
    *out = v;
    return true;
}

struct keyed {
    const char *key;
    long long num;
    int32_t old;
};
static int cmp_num(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    return (x->num > y->num) - (x->num < y->num);
}
static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Orders m's keys (numerically when all are integers) and fills remap[old] =
 * new; moves the keys into *ids. */
static int idmap_finish(struct idmap *m, int32_t **remap, char ***ids)
{
    struct keyed *k = malloc((m->n + 1) * sizeof *k);
    int32_t *rm = malloc((m->n + 1) * sizeof *rm);
    char **out = malloc((m->n + 1) * sizeof *out);
    if (!k || !rm || !out) {
        free(k);
        free(rm);
        free(out);
        return TL_ENOMEM;
    }
    bool numeric = true;
    for (size_t i = 0; i < m->n; i++) {
        k[i] = (struct keyed){m->keys[i], 0, (int32_t)i};
        if (numeric && !parse_i64(m->keys[i], &k[i].num))
            numeric = false;
    }
    qsort(k, m->n, sizeof *k, numeric ? cmp_num : cmp_key);
    for (size_t i = 0; i < m->n; i++) {
        rm[k[i].old] = (int32_t)i;
        out[i] = m->keys[k[i].old];
    }
    free(k);
    free(m->keys);
    m->keys = NULL;
    m->n = 0;
    *remap = rm;
    *ids = out;
    return 0;
}

void tl_rec_data_free(tl_rec_data *d)
{
    if (!d)
        return;
    for (int32_t i = 0; d->user_ids && i < d->n_users; i++)
        free(d->user_ids[i]);
    for (int32_t i = 0; d->item_ids && i < d->n_items; i++)
        free(d->item_ids[i]);
    free(d->user_ids);
    free(d->item_ids);
    free(d->user);
    free(d->item);
    free(d->ts);
    free(d->item_cats);
    free(d);
}

/* Growable interaction arrays while reading. */
struct builder {
    struct idmap users, items;
    int32_t *u, *i;
    int64_t *ts;
    int64_t n, cap;
};

static int builder_push(struct builder *b, int32_t u, int32_t i, int64_t ts)
{
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 4096;
        int32_t *nu = realloc(b->u, (size_t)cap * sizeof *nu);
        if (nu)
            b->u = nu;
        int32_t *ni = realloc(b->i, (size_t)cap * sizeof *ni);
        if (ni)
            b->i = ni;
        int64_t *nt = realloc(b->ts, (size_t)cap * sizeof *nt);
        if (nt)
            b->ts = nt;
        if (!nu || !ni || !nt)
            return TL_ENOMEM;
        b->cap = cap;
    }
    b->u[b->n] = u;
    b->i[b->n] = i;
    b->ts[b->n++] = ts;
    return 0;
}

static void builder_free(struct builder *b)
{
    idmap_free(&b->users);
    idmap_free(&b->items);
    free(b->u);
    free(b->i);
    free(b->ts);
}

/* Turns the builder into a table (ids in order); consumes b. */
static int builder_finish(struct builder *b, tl_rec_data **out, const char *source, tl_err *err)
{
    tl_rec_data *d = calloc(1, sizeof *d);
    int32_t *ru = NULL, *ri = NULL;
    if (!d)
        goto oom;
    d->n_users = (int32_t)b->users.n;
    d->n_items = (int32_t)b->items.n;
    if (idmap_finish(&b->users, &ru, &d->user_ids) < 0)
        goto oom;
    if (idmap_finish(&b->items, &ri, &d->item_ids) < 0)
        goto oom;
    for (int64_t e = 0; e < b->n; e++) {
        b->u[e] = ru[b->u[e]];
        b->i[e] = ri[b->i[e]];
    }
    free(ru);
    free(ri);
    d->n = b->n;
    d->user = b->u;
    d->item = b->i;
    d->ts = b->ts;
    b->u = b->i = NULL;
    b->ts = NULL;
    builder_free(b);
    if (d->n == 0) {
        tl_rec_data_free(d);
        return tl_err_set(err, TL_EINVAL, "%s: no positive interactions (nothing to learn from)",
                          source);
    }
    *out = d;
    return 0;
oom:
    free(ru);
    free(ri);
    tl_rec_data_free(d);
    builder_free(b);
    return tl_err_set(err, TL_ENOMEM, "%s: out of memory building the id maps", source);
}

int tl_rec_data_from_ids(const char *const *user_ids, const char *const *item_ids,
                         const int64_t *ts, int64_t n, tl_rec_data **out, tl_err *err)
{
    struct builder b = {0};
    for (int64_t e = 0; e < n; e++) {
        if (!user_ids[e] || !*user_ids[e] || !item_ids[e] || !*item_ids[e]) {
            builder_free(&b);
            return tl_err_set(err, TL_EINVAL, "recommend: interaction %lld has an empty %s id",
                              (long long)e, !user_ids[e] || !*user_ids[e] ? "user" : "item");
        }
        int32_t u = idmap_get(&b.users, user_ids[e]), i = idmap_get(&b.items, item_ids[e]);
        if (u < 0 || i < 0 || builder_push(&b, u, i, ts ? ts[e] : e) < 0) {
            builder_free(&b);
            return tl_err_set(err, TL_ENOMEM, "recommend: out of memory at interaction %lld",
                              (long long)e);
        }
    }
    return builder_finish(&b, out, "recommend", err);
}

/* ---- reading files --------------------------------------------------------------- */

#define REC_MAX_FIELDS 4096

/* Splits line (modified in place) at delim, honouring "..." quotes with ""
 * inside; trims spaces around unquoted fields. Returns the field count, or
 * -1 for an unterminated quote, -2 for too many fields. */
static int split_line(char *line, char delim, char **f)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == REC_MAX_FIELDS)
            return -2;
        while (*p == ' ' && delim != ' ')
            p++;
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            *w = 0;
            while (*p && *p != delim)
                p++;
        } else {
            f[n++] = p;
            while (*p && *p != delim)
                p++;
            char *e = p;
            while (e > f[n - 1] && (e[-1] == ' ' || e[-1] == '\t') && delim != '\t')
                e--;
            if (*p) {
                *e = 0;
                p++;
                continue;
            }
            *e = 0;
            return n;
        }
        if (!*p)
            return n;
        p++;
    }
}

static char detect_delim(const char *line)
{
    if (strchr(line, '\t'))
        return '\t';
    if (strchr(line, ','))
        return ',';
    if (strchr(line, '|'))
        return '|';
    if (strchr(line, ';'))
        return ';';
    return ',';
}

static bool is_number(const char *s)
{
    char *end;
    if (!*s)
        return false;
    strtod(s, &end);
    return *end == 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* The 0-based column of spec in the header (names) or as a 1-based number;
 * -1 when absent. */
static int find_col(const char *spec, char **names, int n_names, bool header)
{
    if (header)
        for (int c = 0; c < n_names; c++)
            if (strcmp(names[c], spec) == 0)
                return c;
    if (all_digits(spec)) {
        long v = strtol(spec, NULL, 10);
        if (v >= 1 && v <= REC_MAX_FIELDS)
            return (int)v - 1;
    }
    return -1;
}

/* A time: a number (epoch seconds or any increasing count) or an ISO date
 * YYYY-MM-DD[...] (days since 1970, so days order correctly). */
static bool parse_time(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == 0 && isfinite(v)) {
        *out = (int64_t)v;
        return true;
    }
    int y, m, d;
    if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) == 3 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
        *out = tl_days_from_civil(y, (unsigned)m, (unsigned)d);
        return true;
    }
    return false;
}

static int usable_cols_error(tl_err *err, const char *path, const char *what, const char *spec,
                             char **names, int n, bool header)
{
    char list[256] = "";
    size_t used = 0;
    for (int c = 0; header && c < n && used + 4 < sizeof list; c++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", c ? ", " : "", names[c]);
        if (w < 0 || (size_t)w >= sizeof list - used)
            break;
        used += (size_t)w;
    }
    if (header)
        return tl_err_set(err, TL_EINVAL, "%s:1: no %s column \"%s\" (the header has: %s)", path,
                          what, spec, list);
    return tl_err_set(err, TL_EINVAL,
                      "%s:1: no %s column \"%s\" (no header: name columns 1 to %d by number)", path,
                      what, spec, n);
}

int tl_rec_data_load(const char *path, const struct tl_rec_load_opts *o, tl_rec_data **out,
                     tl_err *err)
{
    if (!o || !o->user_col || (!o->item_col && !o->item_cols))
        return tl_err_set(err, TL_EINVAL, "%s: the user column and the item column (or item "
                          "columns) must be named", path);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL, *hline = NULL;
    size_t cap = 0;
    char **f = malloc(REC_MAX_FIELDS * sizeof *f);
    char **hf = malloc(REC_MAX_FIELDS * sizeof *hf);
    int *wide = NULL; /* wide mode: columns that are items */
    int32_t *wide_item = NULL;
    int n_wide = 0;
    struct builder b = {0};
    int rc = 0;
    uint64_t lineno = 0;
    if (!f || !hf) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    /* the first non-blank line decides the delimiter and the header */
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (lineno == 1 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
            (unsigned char)line[2] == 0xBF)
            memmove(line, line + 3, (size_t)len - 2);
        if (strspn(line, " \t") < strlen(line))
            break;
    }
    if (len < 0) {
        rc = tl_err_set(err, TL_EINVAL, "%s: the file is empty (no header and no interactions)",
                        path);
        goto done;
    }
    char delim = o->delim ? o->delim : detect_delim(line);
    hline = strdup(line);
    if (!hline) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int nh = split_line(hline, delim, hf);
    if (nh < 0) {
        rc = tl_err_set(err, TL_EPARSE, "%s:%llu: %s", path, (unsigned long long)lineno,
                        nh == -1 ? "an unterminated quote" : "more than 4096 fields");
        goto done;
    }
    bool header = o->header == 1;
    if (o->header < 0) {
        bool specs_numeric = all_digits(o->user_col) && (!o->item_col || all_digits(o->item_col)) &&
                             (!o->rating_col || all_digits(o->rating_col)) &&
                             (!o->time_col || all_digits(o->time_col)) && !o->item_cols;
        bool fields_numeric = true;
        for (int c = 0; c < nh; c++)
            if (!is_number(hf[c]))
                fields_numeric = false;
        header = !(specs_numeric && fields_numeric);
    }
    int cu = find_col(o->user_col, hf, nh, header);
    if (cu < 0 || cu >= (header ? nh : REC_MAX_FIELDS)) {
        rc = usable_cols_error(err, path, "user", o->user_col, hf, nh, header);
        goto done;
    }
    int ci = -1, cr = -1, ct = -1;
    if (o->item_cols) {
        if (!header) {
            rc = tl_err_set(err, TL_EINVAL, "%s: item columns by pattern (\"%s\") need a header "
                            "line", path, o->item_cols);
            goto done;
        }
        wide = malloc((size_t)nh * sizeof *wide);
        wide_item = malloc((size_t)nh * sizeof *wide_item);
        if (!wide || !wide_item) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        char *pats = strdup(o->item_cols);
        if (!pats) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        for (int c = 0; c < nh; c++) {
            if (c == cu)
                continue;
            bool match = false;
            char *save = NULL;
            char *cp = strdup(pats);
            for (char *t = cp ? strtok_r(cp, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
                if (fnmatch(t, hf[c], 0) == 0)
                    match = true;
            free(cp);
            if (match) {
                int32_t id = idmap_get(&b.items, hf[c]);
                if (id < 0) {
                    free(pats);
                    rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
                    goto done;
                }
                wide[n_wide] = c;
                wide_item[n_wide++] = id;
            }
        }
        free(pats);
        if (n_wide == 0) {
            rc = tl_err_set(err, TL_EINVAL, "%s:1: no column matches the item columns \"%s\"",
                            path, o->item_cols);
            goto done;
        }
    } else {
        ci = find_col(o->item_col, hf, nh, header);
        if (ci < 0) {
            rc = usable_cols_error(err, path, "item", o->item_col, hf, nh, header);
            goto done;
        }
    }
    if (o->rating_col && (cr = find_col(o->rating_col, hf, nh, header)) < 0) {
        rc = usable_cols_error(err, path, "rating", o->rating_col, hf, nh, header);
        goto done;
    }
    if (o->time_col && (ct = find_col(o->time_col, hf, nh, header)) < 0) {
        rc = usable_cols_error(err, path, "time", o->time_col, hf, nh, header);
        goto done;
    }
    int need = cu;
    if (ci > need)
        need = ci;
    if (cr > need)
        need = cr;
    if (ct > need)
        need = ct;
    for (int w = 0; w < n_wide; w++)
        if (wide[w] > need)
            need = wide[w];
    int64_t row = 0;
    bool first = !header;
    for (;;) {
        if (!first) {
            len = getline(&line, &cap, fp);
            if (len < 0)
                break;
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            if (strspn(line, " \t") == (size_t)len)
                continue;
        }
        first = false;
        int n = split_line(line, delim, f);
        if (n < 0) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%llu: %s", path, (unsigned long long)lineno,
                            n == -1 ? "an unterminated quote" : "more than 4096 fields");
            goto done;
        }
        if (n <= need) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%llu: %d fields, but column %d is needed", path,
                            (unsigned long long)lineno, n, need + 1);
            goto done;
        }
        if (!*f[cu] || (ci >= 0 && !*f[ci])) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%llu: column %d (%s): an empty id", path,
                            (unsigned long long)lineno, !*f[cu] ? cu + 1 : ci + 1,
                            !*f[cu] ? "user" : "item");
            goto done;
        }
        int64_t ts = row++;
        if (ct >= 0 && !parse_time(f[ct], &ts)) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%llu: column %d (time \"%s\"): \"%s\" is not a "
                            "number or a YYYY-MM-DD date", path, (unsigned long long)lineno,
                            ct + 1, o->time_col, f[ct]);
            goto done;
        }
        int32_t u = idmap_get(&b.users, f[cu]);
        if (u < 0) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory at line %llu", path,
                            (unsigned long long)lineno);
            goto done;
        }
        if (ci >= 0) {
            int32_t it = idmap_get(&b.items, f[ci]);
            if (it < 0) {
                rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory at line %llu", path,
                                (unsigned long long)lineno);
                goto done;
            }
            bool pos = true;
            if (cr >= 0) {
                char *end;
                double v = strtod(f[cr], &end);
                if (end == f[cr] || *end || !isfinite(v)) {
                    rc = tl_err_set(err, TL_EPARSE, "%s:%llu: column %d (rating \"%s\"): \"%s\" is "
                                    "not a number", path, (unsigned long long)lineno, cr + 1,
                                    o->rating_col, f[cr]);
                    goto done;
                }
                pos = v >= o->rating_min;
            }
            if (pos && builder_push(&b, u, it, ts) < 0) {
                rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory at line %llu", path,
                                (unsigned long long)lineno);
                goto done;
            }
        } else {
            for (int w = 0; w < n_wide; w++) {
                const char *s = f[wide[w]];
                if (!*s)
                    continue; /* a missing flag: not owned (the raw Kaggle rows have some) */
                char *end;
                double v = strtod(s, &end);
                if (end == s || *end) {
                    rc = tl_err_set(err, TL_EPARSE, "%s:%llu: column %d (\"%s\"): \"%s\" is not a "
                                    "0/1 flag", path, (unsigned long long)lineno, wide[w] + 1,
                                    hf[wide[w]], s);
                    goto done;
                }
                if (v > 0 && builder_push(&b, u, wide_item[w], ts) < 0) {
                    rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory at line %llu", path,
                                    (unsigned long long)lineno);
                    goto done;
                }
            }
        }
    }
    if (ferror(fp)) {
        rc = tl_err_set(err, TL_EIO, "%s:%llu: read error", path, (unsigned long long)lineno);
        goto done;
    }
    if (b.users.n == 0) {
        rc = tl_err_set(err, TL_EINVAL, "%s: a header but no interactions", path);
        goto done;
    }
    rc = builder_finish(&b, out, path, err);
    memset(&b, 0, sizeof b);
done:
    builder_free(&b);
    free(line);
    free(hline);
    free(f);
    free(hf);
    free(wide);
    free(wide_item);
    fclose(fp);
    return rc;
}

int tl_rec_data_load_item_cats(tl_rec_data *d, const char *path, tl_err *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint64_t *cats = calloc((size_t)d->n_items + 1, sizeof *cats);
    char **f = malloc(REC_MAX_FIELDS * sizeof *f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    int rc = 0, n_cats = -1;
    /* ids are looked up through a map of the table's item ids */
    struct idmap m = {0};
    if (!cats || !f) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int32_t i = 0; i < d->n_items; i++)
        if (idmap_get(&m, d->item_ids[i]) != i) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!*line)
            continue;
        int n = split_line(line, '|', f);
        if (n < 2) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%llu: expected '|'-separated fields", path,
                            (unsigned long long)lineno);
            goto done;
        }
        int flags = 0;
        while (flags < n - 1 && flags < 64 && (strcmp(f[n - 1 - flags], "0") == 0 ||
                                                strcmp(f[n - 1 - flags], "1") == 0))
            flags++;
        if (n_cats < 0)
            n_cats = flags;
        if (flags != n_cats || flags == 0) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%llu: %d trailing 0/1 category flags, expected %d",
                            path, (unsigned long long)lineno, flags, n_cats);
            goto done;
        }
        size_t before = m.n;
        int32_t it = idmap_get(&m, f[0]);
        if (it < 0) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        if (m.n != before)
            continue; /* an item the interactions never name */
        uint64_t mask = 0;
        for (int c = 0; c < flags; c++)
            if (f[n - flags + c][0] == '1')
                mask |= (uint64_t)1 << c;
        cats[it] = mask;
    }
    if (n_cats <= 0) {
        rc = tl_err_set(err, TL_EINVAL, "%s: no item categories found", path);
        goto done;
    }
    free(d->item_cats);
    d->item_cats = cats;
    d->n_cats = n_cats;
    cats = NULL;
done:
    idmap_free(&m);
    free(cats);
    free(f);
    free(line);
    fclose(fp);
    return rc;
}
