/*
 * pf_estimate.h - the estimation core of the portfolio engine: price tables,
 * returns, expected returns, risk models and the objective helpers.
 *
 * Every estimator reproduces PyPortfolioOpt (1.5.x) and the pandas /
 * scikit-learn operations it is built on, as written down in
 * ../shared/data/markets/DEFINITIONS.md; the comment on each function names
 * the definition it follows. The points that change numbers:
 *
 *   - Missing values are NaN and stay NaN in returns. Means and counts are
 *     per column over that column's own values; covariances are
 *     pairwise-complete (for each pair, the rows where both are present, with
 *     that pair's own means, ddof = 1), as pandas DataFrame.cov() does.
 *   - Returns drop only the rows where every asset is missing (the first
 *     row, and empty resampling bins): pandas pct_change().dropna(how="all").
 *   - Outputs are annualised by `frequency` (periods per year: 252 daily,
 *     52 weekly, 12 monthly) and covariances go through the spectral PSD fix.
 *
 * A table holds dates and one column per asset; prices and returns are both
 * tables. Matrices are caller-owned, row-major: mu[n_assets],
 * S[n_assets * n_assets]. Nothing here keeps state between calls, so every
 * function is thread-safe on distinct outputs.
 *
 *     struct tl_pf_table *px, *r;
 *     if (tl_pf_prices_read_csv("stock_prices.csv", 0, &px, &err) < 0) ...
 *     tl_pf_returns(px, false, &r, &err);
 *     double mu[r->n_assets], S[r->n_assets * r->n_assets];
 *     tl_pf_mean_return(r, true, 252, mu, &err);
 *     tl_pf_sample_cov(r, 252, S, NULL, &err);
 *     tl_pf_table_free(r); tl_pf_table_free(px);
 */
#ifndef TELLER_PF_ESTIMATE_H
#define TELLER_PF_ESTIMATE_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- tables ------------------------------------------------------------ */

/* The most assets and rows a table holds (bigger inputs are TL_ETOOBIG). */
#define TL_PF_MAX_ASSETS 4096u
#define TL_PF_MAX_ROWS 10000000u

struct tl_pf_table {
    size_t n_rows;
    size_t n_assets;
    char **tickers;        /* n_assets NUL-terminated names, distinct */
    int32_t *days;         /* n_rows dates as days since 1970-01-01, strictly increasing */
    double *v;             /* (n_rows, n_assets) row-major; NAN = missing */
    size_t n_gaps_filled;  /* interior gaps the CSV loader forward-filled */
};

/* Flags of tl_pf_prices_read_csv. */
#define TL_PF_KEEP_GAPS 1u /* leave interior gaps missing instead of forward-filling them */

/* Reads a price CSV: a header "date,TICKER,..." (the first column's name is
 * free), then one row per date "YYYY-MM-DD,price,...". An empty field (or
 * NA, NaN, null) is a missing price. Dates must be strictly increasing (a
 * duplicate or an earlier date is TL_EINVAL naming path:line); prices must
 * be finite and > 0 (TL_EINVAL naming path:line:column and the ticker);
 * a row with the wrong number of fields or a field that is not a number is
 * TL_EPARSE naming path:line:column. At least 2 rows and 1 ticker, distinct
 * tickers.
 *
 * Gaps: prices missing before a stock's first price (not yet listed) and
 * after its last (delisted) stay missing, so their returns are NaN as in
 * PyPortfolioOpt. An interior gap (missing between two prices) is
 * forward-filled with the last price, unless flags has TL_PF_KEEP_GAPS: the
 * return over the gap then shows as one 0 and then the whole move, instead of
 * two missing returns. n_gaps_filled counts the cells filled. The reference
 * data has no interior gaps, so both give the same numbers there.
 *
 * *out is malloc'ed (free with tl_pf_table_free); on error it is untouched. */
TL_API int tl_pf_prices_read_csv(const char *path, unsigned flags, struct tl_pf_table **out,
                                 tl_err *err);

/* A table from memory: v is (n_rows, n_assets) row-major with NAN for
 * missing (copied; values are not checked for sign, so this also takes
 * returns or synthetic data). days NULL numbers the rows 0, 1, 2...;
 * tickers NULL names the assets "0", "1", ... Dates must be strictly
 * increasing and tickers distinct (TL_EINVAL). *out as for read_csv. */
TL_API int tl_pf_table_new(size_t n_rows, size_t n_assets, const double *v, const int32_t *days,
                           const char *const *tickers, struct tl_pf_table **out, tl_err *err);

/* Frees a table from any tl_pf_* constructor; NULL is fine. */
TL_API void tl_pf_table_free(struct tl_pf_table *t);

/* The column of ticker, or -1 when the table has none. */
TL_API int tl_pf_table_col(const struct tl_pf_table *t, const char *ticker);

/* A new table of the named columns, in that order. An unknown ticker is
 * TL_ENOTFOUND naming it. */
TL_API int tl_pf_table_select(const struct tl_pf_table *t, size_t n, const char *const *tickers,
                              struct tl_pf_table **out, tl_err *err);

/* A new table without the rows that have any missing value (pandas
 * dropna()): how the CVaR, CDaR and semivariance setups keep only the dates
 * where every asset trades. Fewer than `min_rows` rows left is TL_EINVAL. */
TL_API int tl_pf_table_dropna(const struct tl_pf_table *t, size_t min_rows,
                              struct tl_pf_table **out, tl_err *err);

enum tl_pf_period {
    TL_PF_WEEKLY = 1,  /* pandas resample("W"): weeks Monday..Sunday, labelled by the Sunday */
    TL_PF_MONTHLY = 2, /* pandas resample("M"): calendar months, labelled by the last day */
};

/* Resamples prices to one row per week or month (DEFINITIONS 1,
 * resample(...).first()): each asset takes its first present price in the
 * bin; a bin where it has none is missing, and bins with no date at all
 * stay as rows of missing values (returns drop them). Use frequency 52 or
 * 12 afterwards. */
TL_API int tl_pf_prices_resample(const struct tl_pf_table *prices, enum tl_pf_period period,
                                 struct tl_pf_table **out, tl_err *err);

/* The last present price of each asset (pandas ffill().iloc[-1], DEFINITIONS
 * 9), into latest[n_assets]. An asset with no price at all is TL_EINVAL. */
TL_API int tl_pf_latest_prices(const struct tl_pf_table *prices, double *latest, tl_err *err);

/* ---- returns ------------------------------------------------------------ */

/* Period returns r_t = p_t / p_{t-1} - 1, or log(1 + r_t) with log_returns
 * (DEFINITIONS 1, returns_from_prices): missing when either price is
 * missing, and rows where every asset is missing dropped. The returns
 * table is dated by the later price. Fewer than 1 row left is TL_EINVAL. */
TL_API int tl_pf_returns(const struct tl_pf_table *prices, bool log_returns,
                         struct tl_pf_table **out, tl_err *err);

/* ---- expected returns (annualised), into mu[n_assets] ------------------- */

/* mean_historical_return (DEFINITIONS 2). compounding: the geometric mean
 * prod(1 + r)^(frequency / count) - 1 over each asset's own returns;
 * otherwise mean(r) * frequency. An asset without returns is TL_EINVAL. */
TL_API int tl_pf_mean_return(const struct tl_pf_table *returns, bool compounding,
                             double frequency, double *mu, tl_err *err);

/* ema_historical_return (DEFINITIONS 2): e = the last value of pandas
 * ewm(span).mean() (adjust=True, alpha = 2/(span+1), missing values keep
 * their place in the weights as with ignore_na=False), then
 * (1 + e)^frequency - 1, or e * frequency without compounding. span >= 1. */
TL_API int tl_pf_ema_return(const struct tl_pf_table *returns, bool compounding, double span,
                            double frequency, double *mu, tl_err *err);

/* capm_return (DEFINITIONS 2): mu_i = rf + beta_i (E[R_m] - rf) with
 * beta_i = cov(r_i, r_m) / var(r_m) (pairwise pandas cov) and E[R_m] the
 * mean return of the market (compounded or not, like tl_pf_mean_return).
 * market NULL: the market return of a date is the mean of the assets'
 * returns present on it. Otherwise market is a one-column returns table
 * (tl_pf_returns of the index prices) matched to the asset returns by date,
 * a left join: asset dates the market lacks have a missing market return,
 * market dates the assets lack are ignored. rf is annual. beta (n_assets,
 * may be NULL) receives the betas. */
TL_API int tl_pf_capm_return(const struct tl_pf_table *returns, const struct tl_pf_table *market,
                             double rf, bool compounding, double frequency, double *mu,
                             double *beta, tl_err *err);

/* ---- risk models (annualised), into S[n_assets * n_assets] -------------- */

/* What a risk model did besides its matrix. */
struct tl_pf_risk_info {
    bool psd_fixed;   /* the estimate was not PSD and the spectral fix was applied */
    bool still_not_psd; /* even the fixed matrix fails the PSD check (PyPortfolioOpt warns) */
    double shrinkage; /* the shrinkage constant used (shrinkage models), else 0 */
};

/* sample_cov (DEFINITIONS 3): the pairwise-complete covariance (ddof 1) times
 * frequency, then the spectral PSD fix. A pair with fewer than 2 common
 * returns is TL_EINVAL naming both tickers. info may be NULL. */
TL_API int tl_pf_sample_cov(const struct tl_pf_table *returns, double frequency, double *S,
                            struct tl_pf_risk_info *info, tl_err *err);

/* The pairwise-complete covariance (ddof 1) and correlation as pandas cov()
 * and corr() give them, daily, not annualised and without a PSD fix: what
 * HRP uses (DEFINITIONS 7). Either output may be NULL. */
TL_API int tl_pf_cov_pairwise(const struct tl_pf_table *returns, double *cov, double *corr,
                              tl_err *err);

/* semicovariance (DEFINITIONS 3): D = min(r - benchmark, 0) with a missing
 * return counting as 0 (np.fmin), S = D'D / T * frequency over all T return
 * rows, then the spectral PSD fix. PyPortfolioOpt's default benchmark is
 * 0.000079 (1.02^(1/252) - 1). */
TL_API int tl_pf_semicov(const struct tl_pf_table *returns, double benchmark, double frequency,
                         double *S, struct tl_pf_risk_info *info, tl_err *err);

/* exp_cov (DEFINITIONS 3): for each pair, c_t = (x_t - mean x)(y_t - mean y)
 * with each mean over the series' own values, S_ij = the last value of
 * c.ewm(span).mean() (as tl_pf_ema_return) times frequency; then the
 * spectral PSD fix. PyPortfolioOpt's default span is 180. */
TL_API int tl_pf_exp_cov(const struct tl_pf_table *returns, double span, double frequency,
                         double *S, struct tl_pf_risk_info *info, tl_err *err);

/* CovarianceShrinkage.shrunk_covariance(delta) (DEFINITIONS 3):
 * delta * (trace(S)/N) I + (1 - delta) S with S the pairwise sample cov,
 * times frequency, then the spectral PSD fix. 0 <= delta <= 1. */
TL_API int tl_pf_shrunk_cov(const struct tl_pf_table *returns, double delta, double frequency,
                            double *S, struct tl_pf_risk_info *info, tl_err *err);

enum tl_pf_lw_target {
    TL_PF_LW_CONSTANT_VARIANCE = 0,    /* scikit-learn ledoit_wolf on zero-filled returns */
    TL_PF_LW_SINGLE_FACTOR = 1,        /* Ledoit & Wolf (2001), market = row mean */
    TL_PF_LW_CONSTANT_CORRELATION = 2, /* Ledoit & Wolf (2003) */
};

/* CovarianceShrinkage.ledoit_wolf(target) (DEFINITIONS 3), times frequency,
 * then the spectral PSD fix; info->shrinkage is the estimated constant. */
TL_API int tl_pf_ledoit_wolf(const struct tl_pf_table *returns, enum tl_pf_lw_target target,
                             double frequency, double *S, struct tl_pf_risk_info *info,
                             tl_err *err);

/* ---- positive semidefiniteness -------------------------------------------- */

enum tl_pf_psd_fix {
    TL_PF_FIX_SPECTRAL = 0, /* clip negative eigenvalues to 0, rebuild V diag(q) V' */
    TL_PF_FIX_DIAG = 1,     /* M - 1.1 * min_eig * I */
};

/* PyPortfolioOpt's _is_positive_semidefinite: *psd is whether the Cholesky
 * factorisation of M + 1e-16 I (n x n, symmetric) succeeds. */
TL_API int tl_pf_psd_check(size_t n, const double *M, bool *psd, tl_err *err);

/* fix_nonpositive_semidefinite: leaves M alone when it passes the check,
 * otherwise fixes it in place. *fixed (may be NULL) says whether it did,
 * *still_bad (may be NULL) whether the fixed matrix still fails the check.
 * An unknown method is TL_EUNSUPPORTED. */
TL_API int tl_pf_psd_fix(size_t n, double *M, enum tl_pf_psd_fix method, bool *fixed,
                         bool *still_bad, tl_err *err);

/* Eigen-decomposition of the symmetric n x n matrix A (cyclic Jacobi, to
 * full double accuracy): eigenvalues ascending in w[n], the matching unit
 * eigenvectors in the columns of V (n x n row-major, may be NULL). */
TL_API int tl_pf_eigh(size_t n, const double *A, double *w, double *V, tl_err *err);

/* ---- objective helpers (pypfopt/objective_functions.py, DEFINITIONS 4) ----
 * Plain arrays in, a double out; S is n x n row-major. */

/* w'Sw */
TL_API double tl_pf_portfolio_variance(size_t n, const double *w, const double *S);
/* w'mu */
TL_API double tl_pf_portfolio_return(size_t n, const double *w, const double *mu);
/* (w'mu - rf) / sqrt(w'Sw), positive (PyPortfolioOpt returns its negative) */
TL_API double tl_pf_sharpe_ratio(size_t n, const double *w, const double *mu, const double *S,
                                 double rf);
/* gamma * sum(w^2) */
TL_API double tl_pf_l2_reg(size_t n, const double *w, double gamma);
/* w'mu - 0.5 * delta * w'Sw, positive (PyPortfolioOpt returns its negative) */
TL_API double tl_pf_quadratic_utility(size_t n, const double *w, const double *mu,
                                      const double *S, double risk_aversion);
/* k * sum |w - w_prev| */
TL_API double tl_pf_transaction_cost(size_t n, const double *w, const double *w_prev, double k);
/* (w - w_b)' S (w - w_b): squared, not annualised further */
TL_API double tl_pf_ex_ante_tracking_error(size_t n, const double *w, const double *S,
                                           const double *w_bench);
/* sum_t (x_t - mean x)^2 with x_t = w . R_t - b_t; R is (T, n) row-major
 * returns, b[T] the benchmark returns: squared and not normalised */
TL_API double tl_pf_ex_post_tracking_error(size_t n, size_t T, const double *w, const double *R,
                                           const double *b);

TL_END_DECLS

#endif
