/*
 * ml_iforest.h - an unsupervised isolation forest (Liu, Ting & Zhou 2008,
 * "Isolation Forest", ICDM) for fraud scoring of customers with too little
 * labelled history for a supervised model (issue 5).
 *
 * Anomalies are few and different, so random axis-parallel cuts isolate
 * them in fewer steps than normal points. Each tree is grown on a sample of
 * sample_size rows drawn without replacement; at each node a feature is
 * picked at random and a cut uniformly between that feature's minimum and
 * maximum in the node; growth stops at one row, at rows that are all equal,
 * or at the height limit ceil(log2(sample_size)). The score is the paper's
 *
 *     s(x, psi) = 2 ^ (-E[h(x)] / c(psi))      in (0, 1]
 *
 * where h(x) counts the edges from the root to x's leaf plus c(leaf size)
 * (the average path an unbuilt subtree of that many rows would have added),
 * and c(n) = 2 H(n - 1) - 2 (n - 1) / n, H(i) ~ ln(i) + Euler's constant,
 * with c(1) = 0 and c(2) = 1 exactly. Near 1 means anomalous, well below 0.5
 * means normal.
 *
 * Choices the paper leaves open, made here:
 * - A node picks its feature uniformly among the features that are not
 *   constant in the node (a constant feature cannot split); when every
 *   feature is constant the node is a leaf.
 * - A row goes left when x[f] < threshold. The threshold is drawn in
 *   (min, max] so both sides get rows.
 * - NaN is a missing value: it is ignored when the minimum and maximum are
 *   taken and always goes left, in training and in scoring. A feature that
 *   is NaN in every row of a node counts as constant there.
 * - Infinite features are TL_EINVAL (naming row and column): a cut drawn
 *   uniformly up to infinity is meaningless.
 * - sample_size larger than n is clamped to n (the paper's psi can be no
 *   more than the data); the score's c(psi) then uses the clamped value.
 *
 *     struct tl_iforest_opts o = TL_IFOREST_OPTS_DEFAULT;
 *     o.seed = 42;
 *     tl_iforest *m;
 *     if (tl_iforest_fit(X, n, d, &o, &m, &err) == 0) {
 *         double s = tl_iforest_score(m, x);
 *         tl_iforest_free(m);
 *     }
 */
#ifndef TELLER_ML_IFOREST_H
#define TELLER_ML_IFOREST_H

#include <jansson.h>

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

struct tl_iforest_opts {
    int n_trees;        /* number of trees, 1 .. 65536; default 100 */
    size_t sample_size; /* rows per tree (psi), at least 2; clamped to n; default 256 */
    uint64_t seed;      /* the same seed and data give the same forest */
};
#define TL_IFOREST_OPTS_DEFAULT \
    ((struct tl_iforest_opts){.n_trees = 100, .sample_size = 256, .seed = 0})

typedef struct tl_iforest tl_iforest;

/* Fits a forest on X (n, d), row-major. opts NULL means the defaults.
 * n below 2, d 0, n_trees outside 1 .. 65536, sample_size below 2 or an
 * infinite feature is TL_EINVAL; a forest over the node limit is TL_ETOOBIG.
 * On success *out is a new model the caller frees with tl_iforest_free; on
 * error *out is untouched. X stays the caller's and is not kept. Uses
 * tl_rng (ml_stats.h) seeded with opts->seed. */
TL_API int tl_iforest_fit(const float *X, size_t n, size_t d, const struct tl_iforest_opts *opts,
                          tl_iforest **out, tl_err *err);
TL_API void tl_iforest_free(tl_iforest *m);

/* The anomaly score of one row x (d features) in (0, 1]. Allocates
 * nothing: the trees are flat node arrays. NaN goes left, as in fitting. */
TL_API double tl_iforest_score(const tl_iforest *m, const float *x);

TL_API size_t tl_iforest_dim(const tl_iforest *m);
TL_API size_t tl_iforest_sample_size(const tl_iforest *m);
TL_API int tl_iforest_n_trees(const tl_iforest *m);

/* c(n): the average path length of an unsuccessful search in a binary
 * search tree of n nodes, the paper's normalizer. c(n) = 0 for n <= 1,
 * c(2) = 1, else 2 (ln(n - 1) + 0.5772156649015329) - 2 (n - 1) / n. */
TL_API double tl_iforest_c(size_t n);

/* {"model":"iforest","version":1,"dim":d,"sample_size":psi,
 *  "trees":[{"feature":[..],"threshold":[..],"left":[..],"right":[..],
 *            "size":[..]},..]}
 * per tree, node i's arrays in pre-order: feature -1 marks a leaf (its size
 * is its training rows, its threshold, left and right 0); children are
 * indices within the tree. Thresholds are floats written exactly. A new
 * reference, NULL only when out of memory. */
TL_API json_t *tl_iforest_to_json(const tl_iforest *m);
/* Rebuilds a model from to_json's form, checking everything: types, array
 * lengths, features below dim, finite float thresholds, children after their
 * parent and inside the tree with one parent each, leaf sizes in
 * 1 .. sample_size. Anything else is TL_EPARSE naming the tree, node and
 * field. On error *out is untouched; j stays the caller's. */
TL_API int tl_iforest_from_json(const json_t *j, tl_iforest **out, tl_err *err);

TL_END_DECLS

#endif
