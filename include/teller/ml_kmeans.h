/*
 * ml_kmeans.h - k-means clustering: standardization, k-means++ seeding,
 * Lloyd iterations, the silhouette coefficient, deterministic for a seed.
 *
 *     double mean[D], sd[D];
 *     tl_kmeans_standardize_fit(X, n, D, mean, sd);    // column means, sds
 *     tl_kmeans_standardize_apply(X, n, D, mean, sd);  // in place: z-scores
 *     struct tl_kmeans_opts o = TL_KMEANS_OPTS_DEFAULT;
 *     o.k = 4; o.seed = 7;
 *     double *C = malloc(4 * D * sizeof *C);            // (k, d)
 *     uint32_t *lab = malloc(n * sizeof *lab);          // (n)
 *     struct tl_kmeans_result res;
 *     tl_kmeans_fit(X, n, D, &o, C, lab, &res, &err);
 *     double s;
 *     tl_kmeans_silhouette(X, n, D, lab, 4, 2000, 7, &s, &err);
 *
 * Matrices are row-major doubles. Everything is single-threaded and its
 * result depends only on the inputs and the seed (no wall clock, no thread
 * scheduling), so a segmentation can be reproduced bit for bit.
 */
#ifndef TELLER_ML_KMEANS_H
#define TELLER_ML_KMEANS_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* Bounds: more clusters than this, or more columns, are TL_EINVAL. */
#define TL_KMEANS_MAX_K 64
#define TL_KMEANS_MAX_D 4096

struct tl_kmeans_opts {
    size_t k;        /* clusters, 1..TL_KMEANS_MAX_K and at most n */
    size_t max_iter; /* Lloyd iterations per run; 0: 100 */
    size_t n_init;   /* seeded runs, the lowest inertia kept; 0: 4 */
    double tol;      /* stop when no centroid moved more than tol (Euclidean); <= 0: 1e-9 */
    uint64_t seed;
};
#define TL_KMEANS_OPTS_DEFAULT ((struct tl_kmeans_opts){.k = 2, .max_iter = 100, .n_init = 4, .tol = 1e-9})

struct tl_kmeans_result {
    double inertia; /* sum of squared distances of the rows to their centroid */
    size_t iters;   /* Lloyd iterations of the run kept */
    bool converged; /* that run stopped on tol rather than max_iter */
};

/* Clusters the n rows of X (n, d) into opts->k clusters. Seeding is
 * k-means++ (the first centre uniform, each next one drawn with
 * probability proportional to the squared distance to the nearest centre
 * chosen); a cluster left empty by an iteration takes the row farthest from
 * its centroid. centroids (k, d) and labels (n) are the caller's buffers;
 * res is optional. TL_EINVAL for k or d out of bounds, k > n, or a
 * non-finite value (naming its row and column); TL_ENOMEM. On error the
 * output buffers hold nothing useful. */
TL_API int tl_kmeans_fit(const double *X, size_t n, size_t d, const struct tl_kmeans_opts *opts,
                         double *centroids, uint32_t *labels, struct tl_kmeans_result *res,
                         tl_err *err);

/* The index of the centroid (k, d) nearest to row x (d); ties go to the
 * lower index. */
TL_API size_t tl_kmeans_assign(const double *centroids, size_t k, size_t d, const double *x);

/* The mean silhouette coefficient of a labelling, in [-1, 1]: for each row,
 * (b - a) / max(a, b) with a its mean distance to the other rows of its
 * cluster and b the lowest mean distance to another cluster's rows (0 for
 * a row alone in its cluster). O(n^2 d): when n > sample (sample > 0), the
 * coefficient is computed over `sample` rows drawn without replacement with
 * seed, distances taken within that sample. TL_EINVAL when fewer than two
 * clusters are present or a label is >= k. */
TL_API int tl_kmeans_silhouette(const double *X, size_t n, size_t d, const uint32_t *labels,
                                size_t k, size_t sample, uint64_t seed, double *out, tl_err *err);

/* Column means and standard deviations (population, divisor n) of X
 * (n, d) into mean (d) and sd (d). A constant column gets sd 0. */
TL_API void tl_kmeans_standardize_fit(const double *X, size_t n, size_t d, double *mean,
                                      double *sd);

/* X := (X - mean) / sd in place, column by column; a column with sd 0
 * becomes 0 (it carries no information and must not dominate). */
TL_API void tl_kmeans_standardize_apply(double *X, size_t n, size_t d, const double *mean,
                                        const double *sd);

TL_END_DECLS

#endif
