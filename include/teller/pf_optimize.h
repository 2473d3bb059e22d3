/*
 * pf_optimize.h - portfolio optimisation: the efficient frontier (minimum
 * volatility, maximum Sharpe, quadratic utility, efficient risk and return),
 * tail-risk optimisers (CVaR, CDaR), semivariance, hierarchical risk parity,
 * equal risk contribution, Black-Litterman, and discrete allocation of cash
 * into whole shares.
 *
 * The definitions follow PyPortfolioOpt (see shared/data/markets/
 * DEFINITIONS.md) so its published numbers can be reproduced; the solvers are
 * Teller's own (lib/ml/pf_qp.c, an exact primal active-set QP; lib/ml/pf_lp.c,
 * a bounded-variable simplex).
 *
 * Everything takes plain arrays so it does not depend on how mu and S were
 * estimated: n assets, mu[n] annual expected returns, S[n*n] the annual
 * covariance, row-major and symmetric; R[t*n] a table of t return rows
 * (scenarios), row-major. Outputs are caller-owned arrays of n weights.
 * NaN or infinite inputs are TL_EINVAL naming the entry; infeasible
 * constraints are TL_EINVAL with a sentence saying why (the bounds cannot sum
 * to one, a target above the largest achievable return, a volatility below the
 * global minimum...).
 *
 *     tl_pf_constraints c = TL_PF_CONSTRAINTS_DEFAULT;   // 0 <= w <= 1, sum 1
 *     double w[20]; tl_pf_perf p;
 *     if (tl_pf_max_sharpe(20, mu, S, 0.02, &c, w, &err) == 0)
 *         tl_pf_performance(20, w, mu, S, 0.02, &p, &err);
 */
#ifndef TELLER_PF_OPTIMIZE_H
#define TELLER_PF_OPTIMIZE_H

#include <stdint.h>

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- constraints ---------------------------------------------------------
 * Weight bounds are linear constraints lo_i <= w_i <= hi_i. A NaN bound means
 * "none" and maps to -1 (lower) or +1 (upper), as PyPortfolioOpt maps None.
 * Per-asset arrays, when given, replace the global pair. Every method adds
 * sum(w) = 1, or sum(w) = 0 when market_neutral (which, like upstream, resets
 * the bounds to (-1, 1) when no lower bound is negative). Groups (sectors):
 * group_of[i] in [0, n_groups) or -1 for none; group sums are held within
 * [group_lo[g], group_hi[g]], NaN meaning no bound on that side. gamma > 0
 * adds the L2 penalty gamma*||w||^2 to the objective (to y in max Sharpe,
 * as upstream does). */
typedef struct tl_pf_constraints {
    double lo, hi;          /* global bounds; NaN = none */
    const double *lo_each;  /* n per-asset lower bounds or NULL */
    const double *hi_each;  /* n per-asset upper bounds or NULL */
    bool market_neutral;
    size_t n_groups;
    const int *group_of;    /* n entries or NULL */
    const double *group_lo; /* n_groups entries or NULL */
    const double *group_hi; /* n_groups entries or NULL */
    double gamma;           /* L2 regularisation; 0 = none */
} tl_pf_constraints;

#define TL_PF_CONSTRAINTS_DEFAULT {0.0, 1.0, NULL, NULL, false, 0, NULL, NULL, NULL, 0.0}

/* expected return, volatility (or the method's risk measure) and the ratio */
typedef struct tl_pf_perf {
    double ret;    /* w'mu; NaN when mu was NULL */
    double risk;   /* sqrt(w'Sw), or semideviation, CVaR, CDaR */
    double ratio;  /* (ret - rf)/risk: Sharpe or Sortino; NaN for CVaR/CDaR */
} tl_pf_perf;

/* ---- mean-variance ----------------------------------------------------------
 * Solved exactly (KKT residual ~1e-13 relative) by the active-set QP. */

/* Minimise w'Sw (+ gamma ||w||^2). */
TL_API int tl_pf_min_volatility(size_t n, const double *S, const tl_pf_constraints *c, double *w,
                                tl_err *err);

/* Maximise (w'mu - rf)/sqrt(w'Sw) through the Cornuejols-Tutuncu transform:
 * min y'Sy s.t. (mu-rf)'y = 1, sum y = k >= 0, bounds and groups scaled by
 * k; w = y/k. Needs max(mu) > rf. Not for market-neutral portfolios. */
TL_API int tl_pf_max_sharpe(size_t n, const double *mu, const double *S, double rf,
                            const tl_pf_constraints *c, double *w, tl_err *err);

/* Maximise w'mu - delta/2 w'Sw (- gamma ||w||^2); delta > 0. */
TL_API int tl_pf_max_quadratic_utility(size_t n, const double *mu, const double *S, double delta,
                                       const tl_pf_constraints *c, double *w, tl_err *err);

/* Maximise w'mu s.t. w'Sw <= sigma^2 (an inequality: with L2 it may not
 * bind). sigma below the unconstrained global minimum volatility
 * sqrt(1/sum(inv(S))) is TL_EINVAL, as upstream raises. */
TL_API int tl_pf_efficient_risk(size_t n, const double *mu, const double *S, double sigma,
                                const tl_pf_constraints *c, double *w, tl_err *err);

/* Minimise w'Sw s.t. w'mu >= target; a target above the largest return the
 * constraints allow is TL_EINVAL. */
TL_API int tl_pf_efficient_return(size_t n, const double *mu, const double *S, double target,
                                  const tl_pf_constraints *c, double *w, tl_err *err);

/* The largest w'mu the constraints allow (an LP); w may be NULL. */
TL_API int tl_pf_max_return(size_t n, const double *mu, const tl_pf_constraints *c, double *w,
                            double *ret, tl_err *err);

/* (w'mu, sqrt(w'Sw), (w'mu - rf)/sqrt(w'Sw)); mu may be NULL. */
TL_API int tl_pf_performance(size_t n, const double *w, const double *mu, const double *S, double rf,
                             tl_pf_perf *out, tl_err *err);

/* PyPortfolioOpt's clean_weights: |w| < cutoff becomes 0, then rounding to
 * `rounding` decimals (0 = no rounding; negative is TL_EINVAL). In place. */
TL_API int tl_pf_clean_weights(size_t n, double *w, double cutoff, int rounding, tl_err *err);

/* ---- tail risk (Rockafellar-Uryasev CVaR, Chekhlov et al. CDaR) ---------
 * R holds t rows of n simple returns (daily); beta in (0, 1), typically
 * 0.95. The risk reported is alpha + 1/(t(1-beta)) sum excess, in the units
 * of R (daily, not annualised); CDaR uses drawdowns of the uncompounded
 * cumulative sum of portfolio returns. `risk` may be NULL. */
typedef struct tl_pf_scenarios {
    size_t t;         /* rows */
    const double *r;  /* t*n returns, row-major */
    double beta;
} tl_pf_scenarios;

TL_API int tl_pf_min_cvar(size_t n, const tl_pf_scenarios *sc, const tl_pf_constraints *c,
                          double *w, double *risk, tl_err *err);
/* maximise w'mu s.t. CVaR <= target */
TL_API int tl_pf_cvar_efficient_risk(size_t n, const tl_pf_scenarios *sc, const double *mu,
                                     double target, const tl_pf_constraints *c, double *w,
                                     double *risk, tl_err *err);
/* minimise CVaR s.t. w'mu >= target */
TL_API int tl_pf_cvar_efficient_return(size_t n, const tl_pf_scenarios *sc, const double *mu,
                                       double target, const tl_pf_constraints *c, double *w,
                                       double *risk, tl_err *err);
TL_API int tl_pf_min_cdar(size_t n, const tl_pf_scenarios *sc, const tl_pf_constraints *c,
                          double *w, double *risk, tl_err *err);
TL_API int tl_pf_cdar_efficient_risk(size_t n, const tl_pf_scenarios *sc, const double *mu,
                                     double target, const tl_pf_constraints *c, double *w,
                                     double *risk, tl_err *err);
TL_API int tl_pf_cdar_efficient_return(size_t n, const tl_pf_scenarios *sc, const double *mu,
                                       double target, const tl_pf_constraints *c, double *w,
                                       double *risk, tl_err *err);

/* Historical CVaR / CDaR of fixed weights (the minimum over alpha of the
 * expression above, exact). */
TL_API int tl_pf_cvar(size_t n, const tl_pf_scenarios *sc, const double *w, double *out,
                      tl_err *err);
TL_API int tl_pf_cdar(size_t n, const tl_pf_scenarios *sc, const double *w, double *out,
                      tl_err *err);

/* ---- semivariance ------------------------------------------------------------
 * Downside deviation below `benchmark` (per period; 0 in the tests): the
 * semivariance of w is sum_t min(r_t.w - B, 0)^2 / t, annualised by freq.
 * Solved exactly as a piecewise-quadratic program (a semismooth Newton
 * iteration whose steps are active-set QPs). */
typedef struct tl_pf_semi {
    size_t t;
    const double *r;   /* t*n returns */
    double benchmark;  /* per-period benchmark return */
    double freq;       /* periods per year, 252 */
} tl_pf_semi;

TL_API int tl_pf_min_semivariance(size_t n, const tl_pf_semi *sm, const tl_pf_constraints *c,
                                  double *w, tl_err *err);
/* minimise semivariance s.t. w'mu >= target */
TL_API int tl_pf_semivariance_efficient_return(size_t n, const tl_pf_semi *sm, const double *mu,
                                               double target, const tl_pf_constraints *c,
                                               double *w, tl_err *err);
/* maximise w'mu s.t. annual semideviation <= target */
TL_API int tl_pf_semivariance_efficient_risk(size_t n, const tl_pf_semi *sm, const double *mu,
                                             double target, const tl_pf_constraints *c, double *w,
                                             tl_err *err);
/* maximise w'mu/freq - delta/2 * daily semivariance */
TL_API int tl_pf_semivariance_max_utility(size_t n, const tl_pf_semi *sm, const double *mu,
                                          double delta, const tl_pf_constraints *c, double *w,
                                          tl_err *err);
/* (w'mu, annual semideviation, Sortino (ret - rf)/semideviation) */
TL_API int tl_pf_semivariance_performance(size_t n, const tl_pf_semi *sm, const double *w,
                                          const double *mu, double rf, tl_pf_perf *out,
                                          tl_err *err);

/* ---- risk parity -------------------------------------------------------------- */

/* Hierarchical risk parity (Lopez de Prado): single-linkage clustering of
 * the distance sqrt((1 - corr)/2), leaves in scipy's pre-order, recursive
 * bisection of that list with inverse-variance cluster variances. cov is
 * any scale (daily in the tests); corr may be NULL, in which case it is
 * cov_to_corr(cov) rounded to 6 decimals as upstream does. order (NULL or n
 * entries) receives the leaf order. Weights are in the input order. */
TL_API int tl_pf_hrp(size_t n, const double *cov, const double *corr, double *w, size_t *order,
                     tl_err *err);

/* Variance of a cluster (indices idx[0..k)) under inverse-variance weights. */
TL_API int tl_pf_hrp_cluster_var(size_t n, const double *cov, const size_t *idx, size_t k,
                                 double *out, tl_err *err);

/* Equal risk contribution, long-only, sum 1: w_i (Sw)_i equal for every i.
 * Newton's method on min 1/2 y'Sy - 1/n sum log y (Spinu), w = y/sum y;
 * converged when the risk contributions agree to 1e-12 relative. */
TL_API int tl_pf_erc(size_t n, const double *S, double *w, tl_err *err);

/* ---- Black-Litterman ----------------------------------------------------------- */

/* (mean(r)*freq - rf)/(var(r, ddof=1)*freq) of the simple returns of a
 * market price series p[m] (m >= 3, positive prices). */
TL_API int tl_pf_bl_market_risk_aversion(size_t m, const double *p, double freq, double rf,
                                         double *delta, tl_err *err);

/* pi = delta * S * mcap/sum(mcap) + rf. */
TL_API int tl_pf_bl_market_prior(size_t n, const double *S, const double *mcap, double delta,
                                 double rf, double *pi, tl_err *err);

/* Absolute views {ticker: value} into P (k*n, zeros and ones) and Q (k). An
 * unknown ticker is TL_EINVAL naming it. */
TL_API int tl_pf_bl_absolute_views(size_t n, const char *const *tickers, size_t k,
                                   const char *const *view_tickers, const double *values,
                                   double *P, double *Q, tl_err *err);

/* Omega (k*k): He-Litterman diag(tau P S P') when conf is NULL, else
 * Idzorek's closed form tau (1-c)/c P_k S P_k' (c = 0 -> 1e6, c in [0,1]). */
TL_API int tl_pf_bl_omega(size_t n, const double *S, size_t k, const double *P, double tau,
                          const double *conf, double *omega, tl_err *err);

/* Posterior returns pi + tau S P' (P tau S P' + Omega)^-1 (Q - P pi) and,
 * when post_S is non-NULL, the posterior covariance
 * S + tau S - tau S P' (P tau S P' + Omega)^-1 P tau S. pi NULL = zeros;
 * omega NULL = the He-Litterman default. */
TL_API int tl_pf_bl_posterior(size_t n, const double *S, const double *pi, size_t k,
                              const double *P, const double *Q, const double *omega, double tau,
                              double *post_mu, double *post_S, tl_err *err);

/* w = (delta S)^-1 mu, normalised to sum 1 (shorts allowed). */
TL_API int tl_pf_bl_weights(size_t n, const double *S, const double *mu, double delta, double *w,
                            tl_err *err);

/* ---- discrete allocation ----------------------------------------------------------
 * Whole shares for `total` cash at prices[n] (> 0). shares[n] receives signed
 * counts (negative for shorts); *leftover the unspent cash. Shorts: the long
 * and short weights are each normalised and allocated separately, longs with
 * total (plus the short proceeds when reinvest), shorts with
 * total*short_ratio; short_ratio NaN means the sum of the short weights. */
TL_API int tl_pf_alloc_greedy(size_t n, const double *w, const double *prices, double total,
                              double short_ratio, bool reinvest, int64_t *shares,
                              double *leftover, tl_err *err);

/* The integer program min sum|w V - x p| + r, r = V - p'x >= 0, x integer
 * >= 0, solved exactly through its reduction to a 0/1 knapsack (each x_i
 * is floor or floor+1 of w_i V/p_i) by branch and bound with the LP bound;
 * TL_ETOOBIG past 2000000 nodes. Ties may pick another optimum than
 * PyPortfolioOpt's ECOS_BB, whose allocations its tests do not assert. */
TL_API int tl_pf_alloc_integer(size_t n, const double *w, const double *prices, double total,
                               double short_ratio, bool reinvest, int64_t *shares,
                               double *leftover, tl_err *err);

/* sqrt(mean_i (w_i - shares_i p_i / value)^2), value = sum shares*p. */
TL_API int tl_pf_alloc_rmse(size_t n, const double *w, const double *prices, const int64_t *shares,
                            double *out, tl_err *err);

TL_END_DECLS

#endif
