/*
 * ml_stats.h - the statistics every model in Teller is judged and split by:
 * a seeded generator, stratified splits and folds, the binary-classifier
 * metrics, and probability calibration (Platt, isotonic).
 *
 * Conventions for every function here: y holds labels 0 or 1 (anything else
 * is TL_EINVAL naming the row); score is "higher means more likely
 * positive" (a probability, a margin or a points total negated: only the
 * order matters, except where a probability is said to be needed); NaN or
 * infinite inputs are TL_EINVAL naming the row. Nothing here allocates
 * unless it says so, except O(n) scratch that the splits, the ranking
 * metrics and the fits free before they return (TL_ENOMEM without it).
 *
 *     tl_rng r; tl_rng_seed(&r, 42);
 *     int fold[n]; tl_ml_stratified_folds(y, n, 5, 42, fold, &err);
 *     double auc; tl_ml_auc(p, y, n, &auc, &err);
 */
#ifndef TELLER_ML_STATS_H
#define TELLER_ML_STATS_H

#include <jansson.h>

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- random numbers ------------------------------------------------------
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every machine. Not for cryptography. */
typedef struct tl_rng {
    uint64_t s[4];
} tl_rng;

TL_API void tl_rng_seed(tl_rng *r, uint64_t seed);
TL_API uint64_t tl_rng_next(tl_rng *r);
/* Uniform in [0, 1), 53 random bits. */
TL_API double tl_rng_uniform(tl_rng *r);
/* Uniform integer in [0, n), unbiased (rejection); n 0 returns 0. Exactly:
 * draw x = tl_rng_next until x >= 2^64 mod n, then return x % n. */
TL_API uint64_t tl_rng_below(tl_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n), for i from n-1 down to 1 swapping i
 * with tl_rng_below(r, i + 1). */
TL_API void tl_rng_shuffle(tl_rng *r, size_t *idx, size_t n);

/* ---- splits ---------------------------------------------------------------
 * Stratified k-fold: fold[i] in [0, k) for every row, each fold holding the
 * same share of each class (within one row). The exact rule, so that another
 * tool can be given the same folds: for class 0 then class 1, take that
 * class's row indices in ascending order, shuffle them with one tl_rng seeded
 * once with `seed` (class 0's shuffle first, then class 1's from the same
 * stream), and give the j-th of them fold (j + offset) % k, where offset is 0
 * for class 0 and (count of class 0) % k for class 1 (so fold sizes stay
 * within one). k below 2, or a class with fewer than k rows, is TL_EINVAL. */
TL_API int tl_ml_stratified_folds(const uint8_t *y, size_t n, int k, uint64_t seed, int *fold,
                                  tl_err *err);

/* Stratified hold-out: is_valid[i] = 1 for round(valid_frac * count) rows of
 * each class, chosen with the same seeded shuffle as above, 0 for the rest.
 * valid_frac must be in (0, 1) and leave each class at least one row on
 * each side; otherwise TL_EINVAL. */
TL_API int tl_ml_stratified_split(const uint8_t *y, size_t n, double valid_frac, uint64_t seed,
                                  uint8_t *is_valid, tl_err *err);

/* ---- metrics --------------------------------------------------------------
 * Each needs both classes present (TL_EINVAL otherwise) except log loss and
 * Brier, which need only n > 0. */

/* ROC AUC as the Mann-Whitney statistic: tied scores count one half, which
 * equals the trapezoidal area under the ROC curve with ties grouped. */
TL_API int tl_ml_auc(const double *score, const uint8_t *y, size_t n, double *out, tl_err *err);

/* 2 * AUC - 1. */
TL_API int tl_ml_gini(const double *score, const uint8_t *y, size_t n, double *out, tl_err *err);

/* Average precision as scikit-learn defines it: sum over distinct thresholds
 * (scores descending, ties as one threshold) of (R_t - R_{t-1}) * P_t. */
TL_API int tl_ml_average_precision(const double *score, const uint8_t *y, size_t n, double *out,
                                   tl_err *err);

/* Kolmogorov-Smirnov: the largest TPR - FPR over thresholds (ties grouped). */
TL_API int tl_ml_ks(const double *score, const uint8_t *y, size_t n, double *out, tl_err *err);

/* Mean negative log-likelihood of probabilities p, each clipped to
 * [1e-15, 1 - 1e-15]; p outside [0, 1] is TL_EINVAL. */
TL_API int tl_ml_logloss(const double *p, const uint8_t *y, size_t n, double *out, tl_err *err);

/* Mean squared error of probabilities p against y; p outside [0, 1] is
 * TL_EINVAL. */
TL_API int tl_ml_brier(const double *p, const uint8_t *y, size_t n, double *out, tl_err *err);

/* Reliability table: n_bins equal-width bins over [0, 1] (p = 1 falls in the
 * last); bins[b] gets its edges, count, mean predicted p and observed share
 * of positives (both 0 for an empty bin). Bin b holds p with
 * b / n_bins <= p < (b + 1) / n_bins as doubles. p outside [0, 1], or n_bins
 * 0, is TL_EINVAL. */
struct tl_ml_calib_bin {
    double lo, hi;
    size_t n;
    double mean_pred;
    double frac_pos;
};
TL_API int tl_ml_calibration_table(const double *p, const uint8_t *y, size_t n, size_t n_bins,
                                   struct tl_ml_calib_bin *bins, tl_err *err);

/* Confusion matrix with "positive" meaning score >= threshold. Ratios whose
 * denominator is 0 are 0. */
struct tl_ml_confusion {
    size_t tp, fp, tn, fn;
    double precision, recall, specificity, accuracy, f1;
};
TL_API int tl_ml_confusion_at(const double *score, const uint8_t *y, size_t n, double threshold,
                              struct tl_ml_confusion *out, tl_err *err);

/* Lift and gain by decile: rows sorted by score descending (ties broken by
 * row index, so the table is deterministic), cut into 10 groups whose sizes
 * differ by at most one (the first n % 10 groups one larger). out[0] is the
 * top decile. rate = positives / n of the group; lift = rate / overall rate;
 * cum_gain = share of all positives in deciles 0..d; cum_lift = cumulative
 * rate / overall rate. n below 10 is TL_EINVAL. */
struct tl_ml_decile {
    size_t n, n_pos;
    double min_score, max_score;
    double rate, lift, cum_gain, cum_lift;
};
TL_API int tl_ml_lift_table(const double *score, const uint8_t *y, size_t n,
                            struct tl_ml_decile out[10], tl_err *err);

/* The headline figures at once. p must be probabilities (log loss, Brier). */
struct tl_ml_summary {
    size_t n, n_pos;
    double auc, gini, ks, average_precision, logloss, brier;
};
TL_API int tl_ml_summarize(const double *p, const uint8_t *y, size_t n, struct tl_ml_summary *out,
                           tl_err *err);

/* {"n":..,"n_pos":..,"auc":..,"gini":..,"ks":..,"average_precision":..,
 *  "logloss":..,"brier":..}; a new reference (NULL only when out of memory). */
TL_API json_t *tl_ml_summary_json(const struct tl_ml_summary *s);

/* ---- calibration ----------------------------------------------------------
 * Maps a raw score (a margin: log-odds or any increasing score) to a
 * probability. Platt: p = 1 / (1 + exp(a * s + b)), fitted by Newton's method
 * on Platt's smoothed targets. Isotonic: pool-adjacent-violators on the
 * scores sorted ascending (ties pooled), then piecewise-linear interpolation
 * between block means, clamped at both ends (as scikit-learn's
 * IsotonicRegression with out_of_bounds="clip"). */
enum tl_calib_kind { TL_CALIB_NONE = 0, TL_CALIB_PLATT = 1, TL_CALIB_ISOTONIC = 2 };

typedef struct tl_calibrator {
    enum tl_calib_kind kind;
    double a, b;    /* Platt */
    size_t n_knots; /* isotonic: knots x ascending, y non-decreasing */
    double *x, *y;  /* owned (malloc); NULL for Platt and none */
} tl_calibrator;

/* "none", "platt", "isotonic" -> kind; anything else TL_EINVAL. */
TL_API int tl_calib_kind_parse(const char *s, enum tl_calib_kind *out, tl_err *err);
TL_API const char *tl_calib_kind_name(enum tl_calib_kind k);

/* Fits *out (which the caller releases with tl_calibrator_clear). NONE gives
 * the logistic function of the score unchanged (p = 1 / (1 + exp(-s))) and
 * reads no data. Platt and isotonic need both classes. On error *out is
 * untouched. apply returns NaN for a NaN score. */
TL_API int tl_calibrator_fit(enum tl_calib_kind kind, const double *score, const uint8_t *y,
                             size_t n, tl_calibrator *out, tl_err *err);
TL_API double tl_calibrator_apply(const tl_calibrator *c, double score);
TL_API void tl_calibrator_clear(tl_calibrator *c);

/* {"kind":"platt","a":..,"b":..} or {"kind":"isotonic","x":[..],"y":[..]}
 * (exact doubles: %.17g round-trips). from_json validates everything (knots
 * ascending, y in [0,1] non-decreasing, finite) and names what is wrong. */
TL_API json_t *tl_calibrator_to_json(const tl_calibrator *c);
TL_API int tl_calibrator_from_json(const json_t *j, tl_calibrator *out, tl_err *err);

TL_END_DECLS

#endif
