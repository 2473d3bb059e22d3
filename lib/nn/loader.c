/*
 * loader.c - the seeded mini-batch loader (include/teller/nn_io.h): an order
 * of row indices per epoch, a pure function of (seed, epoch), optionally
 * stratified so that every batch carries each class's share.
 */
#include <teller/ml_stats.h>
#include <teller/nn_io.h>

#include <stdlib.h>
#include <string.h>

struct tl_nn_loader {
    size_t n_rows, batch_size;
    uint64_t seed;
    unsigned flags;
    int32_t *strata;     /* (n_rows) or NULL */
    size_t n_classes;
    size_t *order;       /* (n_rows) the current epoch's order */
    size_t *scratch;     /* (n_rows) stratified: rows grouped by class */
    size_t *class_start; /* (n_classes + 1) offsets into scratch */
    double *key;         /* (n_rows) stratified: merge keys */
    bool has_epoch;
    uint64_t epoch;
};

void tl_nn_loader_free(tl_nn_loader *ld)
{
    if (!ld)
        return;
    free(ld->strata);
    free(ld->order);
    free(ld->scratch);
    free(ld->class_start);
    free(ld->key);
    free(ld);
}

int tl_nn_loader_new(size_t n_rows, size_t batch_size, uint64_t seed, unsigned flags,
                     const int32_t *strata, tl_nn_loader **out, tl_err *err)
{
    if (n_rows == 0)
        return tl_err_set(err, TL_EINVAL, "loader: n_rows is 0; there is nothing to batch");
    if (batch_size == 0)
        return tl_err_set(err, TL_EINVAL, "loader: batch_size must be at least 1");
    if (flags & ~(unsigned)(TL_NN_LOADER_SHUFFLE | TL_NN_LOADER_DROP_LAST))
        return tl_err_set(err, TL_EINVAL, "loader: unknown flags 0x%x", flags);
    if (n_rows > SIZE_MAX / sizeof(double))
        return tl_err_set(err, TL_ETOOBIG, "loader: %zu rows is too many", n_rows);
    size_t n_classes = 0;
    if (strata) {
        for (size_t i = 0; i < n_rows; i++) {
            if (strata[i] < 0 || (size_t)strata[i] >= n_rows)
                return tl_err_set(err, TL_EINVAL,
                                  "loader: stratum %d of row %zu is outside [0, n_rows = %zu)",
                                  (int)strata[i], i, n_rows);
            if ((size_t)strata[i] + 1 > n_classes)
                n_classes = (size_t)strata[i] + 1;
        }
        flags |= TL_NN_LOADER_SHUFFLE;
    }
    tl_nn_loader *ld = calloc(1, sizeof *ld);
    if (!ld)
        return tl_err_set(err, TL_ENOMEM, "loader: out of memory");
    ld->n_rows = n_rows;
    ld->batch_size = batch_size;
    ld->seed = seed;
    ld->flags = flags;
    ld->n_classes = n_classes;
    ld->order = malloc(n_rows * sizeof *ld->order);
    bool ok = ld->order != NULL;
    if (ok && strata) {
        ld->strata = malloc(n_rows * sizeof *ld->strata);
        ld->scratch = malloc(n_rows * sizeof *ld->scratch);
        ld->class_start = calloc(n_classes + 1, sizeof *ld->class_start);
        ld->key = malloc(n_rows * sizeof *ld->key);
        ok = ld->strata && ld->scratch && ld->class_start && ld->key;
        if (ok)
            memcpy(ld->strata, strata, n_rows * sizeof *strata);
    }
    if (!ok) {
        tl_nn_loader_free(ld);
        return tl_err_set(err, TL_ENOMEM, "loader: out of memory for %zu rows", n_rows);
    }
    tl_nn_loader_set_epoch(ld, 0);
    *out = ld;
    return 0;
}

/* Merge order of the stratified layout: by key, then by class. Keys within
 * a class are distinct, so (key, class) is a total order and the result does
 * not depend on the sort's algorithm. */
static int cmp_rows(const size_t *a, const size_t *b, const double *key, const int32_t *cls)
{
    if (key[*a] != key[*b])
        return key[*a] < key[*b] ? -1 : 1;
    return (cls[*a] > cls[*b]) - (cls[*a] < cls[*b]);
}

/* A heap sort with the keys passed explicitly: qsort's comparator would need
 * them in file-scope pointers, which two loaders on two threads would share. */
static void sift(size_t *a, size_t root, size_t n, const double *key, const int32_t *cls)
{
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && cmp_rows(&a[c], &a[c + 1], key, cls) < 0)
            c++;
        if (cmp_rows(&a[root], &a[c], key, cls) >= 0)
            return;
        size_t t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}

static void sort_rows(size_t *a, size_t n, const double *key, const int32_t *cls)
{
    for (size_t i = n / 2; i-- > 0;)
        sift(a, i, n, key, cls);
    for (size_t end = n; end-- > 1;) {
        size_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift(a, 0, end, key, cls);
    }
}

void tl_nn_loader_set_epoch(tl_nn_loader *ld, uint64_t epoch)
{
    if (ld->has_epoch && ld->epoch == epoch)
        return;
    ld->has_epoch = true;
    ld->epoch = epoch;
    size_t n = ld->n_rows;
    if (!(ld->flags & TL_NN_LOADER_SHUFFLE)) {
        for (size_t i = 0; i < n; i++)
            ld->order[i] = i;
        return;
    }
    tl_rng r;
    tl_rng_seed(&r, ld->seed + epoch * 0x9E3779B97F4A7C15ULL);
    if (!ld->strata) {
        for (size_t i = 0; i < n; i++)
            ld->order[i] = i;
        tl_rng_shuffle(&r, ld->order, n);
        return;
    }
    /* Group rows by class in ascending order (a counting sort), shuffle each
     * group from the one stream, then merge by key. */
    size_t *start = ld->class_start;
    memset(start, 0, (ld->n_classes + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[ld->strata[i] + 1]++;
    for (size_t c = 0; c < ld->n_classes; c++)
        start[c + 1] += start[c];
    size_t *cur = ld->order; /* per-class fill counts; order is rebuilt below */
    memset(cur, 0, ld->n_classes * sizeof *cur);
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)ld->strata[i];
        ld->scratch[start[c] + cur[c]++] = i;
    }
    for (size_t c = 0; c < ld->n_classes; c++) {
        size_t nc = start[c + 1] - start[c];
        tl_rng_shuffle(&r, ld->scratch + start[c], nc);
        for (size_t j = 0; j < nc; j++)
            ld->key[ld->scratch[start[c] + j]] = ((double)j + 0.5) / (double)nc;
    }
    memcpy(ld->order, ld->scratch, n * sizeof *ld->order);
    sort_rows(ld->order, n, ld->key, ld->strata);
}

size_t tl_nn_loader_n_batches(const tl_nn_loader *ld)
{
    if (ld->flags & TL_NN_LOADER_DROP_LAST)
        return ld->n_rows / ld->batch_size;
    return (ld->n_rows + ld->batch_size - 1) / ld->batch_size;
}

size_t tl_nn_loader_batch(const tl_nn_loader *ld, size_t b, const size_t **rows)
{
    if (b >= tl_nn_loader_n_batches(ld)) {
        *rows = NULL;
        return 0;
    }
    size_t begin = b * ld->batch_size;
    size_t end = ld->n_rows - begin < ld->batch_size ? ld->n_rows : begin + ld->batch_size;
    *rows = ld->order + begin;
    return end - begin;
}

const size_t *tl_nn_loader_order(const tl_nn_loader *ld)
{
    return ld->order;
}
