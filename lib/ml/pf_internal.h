/*
 * pf_internal.h - what the pf_*.c files of the estimation core share: table
 * allocation and the covariance kernels that several risk models build on.
 * Everyone else goes through teller/pf_estimate.h.
 */
#ifndef TL_PF_INTERNAL_H
#define TL_PF_INTERNAL_H

#include <teller/pf_estimate.h>

/* A table with room for n_rows x n_assets values, dates and ticker slots all
 * zeroed (tickers NULL); NULL when out of memory. */
struct tl_pf_table *tl__pf_table_alloc(size_t n_rows, size_t n_assets);

/* Copies the ticker names of src into dst (same n_assets). 0 or TL_ENOMEM. */
int tl__pf_copy_tickers(struct tl_pf_table *dst, const struct tl_pf_table *src);

/* Checks a table argument: non-NULL, at least min_rows rows, at least one
 * asset. `what` names it in the message ("returns"). */
int tl__pf_check_table(const struct tl_pf_table *t, size_t min_rows, const char *what,
                       tl_err *err);

/* The pairwise-complete covariance of columns x and y of the (T, n)
 * row-major X, as pandas DataFrame.cov() computes it (libalgos.nancorr):
 * the rows where both are present, each column's mean over those rows,
 * sum of products of deviations / (count - 1). *count gets the rows used;
 * with fewer than 2 the result is NAN. *var_x, *var_y (may be NULL) get the
 * variances over the same rows (for the correlation). Long double sums. */
double tl__pf_pair_cov(const double *X, size_t T, size_t n, size_t x, size_t y, size_t *count,
                       double *var_x, double *var_y);

/* The pandas EWMA of v[0..T) with stride, adjust=True, ignore_na=False,
 * min_periods 0 (window/aggregations.pyx ewm): its last value, NAN when
 * every value is missing. alpha = 2 / (span + 1). */
double tl__pf_ewm_last(const double *v, size_t T, size_t stride, double span);

#endif
