/*
 * pf_solve.h - the dense solvers behind pf_optimize.h (internal).
 *
 * Both take one problem shape: variables x[n] with bounds lb <= x <= ub and
 * m general rows alo <= A x <= ahi (A row-major m*n; +-INFINITY for a
 * missing side, alo == ahi for an equality).
 *
 * tl__lp_solve: min c'x by a bounded-variable primal simplex on a dense
 * tableau (phase 1 with artificials, Dantzig pricing, Bland's rule after a
 * run of degenerate pivots so it cannot cycle).
 *
 * tl__qp_solve: min 1/2 x'Hx + g'x by a primal active-set method. H must be
 * positive definite on the null space of every working set it meets (true
 * for the portfolio problems: S is positive definite, and the max-Sharpe
 * transform pins k through sum(y) = k). The start is x0 when given and
 * feasible, else the phase-1 vertex of the LP. Convergence criterion: the
 * equality-constrained step p on the working set has ||p||_inf <=
 * 1e-13 (1 + ||x||_inf), and every inequality in the working set has a
 * multiplier of the right sign (>= -1e-11 (1 + ||Hx + g||_inf)); then the
 * KKT conditions hold to that accuracy. Blocking constraints are added with
 * the usual ratio test; an added constraint is independent of the working
 * set by construction (a'p != 0).
 */
#ifndef TELLER_ML_PF_SOLVE_H
#define TELLER_ML_PF_SOLVE_H

#include <teller/err.h>

typedef struct tl__pfprob {
    size_t n, m;
    const double *H;   /* QP only: n*n */
    const double *g;   /* linear term / LP costs: n */
    const double *A;   /* m*n */
    const double *alo, *ahi;
    const double *lb, *ub;
    const double *x0;  /* QP only: optional feasible start */
} tl__pfprob;

/* 0, or TL_EINVAL "infeasible"/"unbounded" (with `what` naming the problem),
 * TL_ENOMEM, TL_EINTERNAL when the iteration limit is hit. */
int tl__lp_solve(const tl__pfprob *p, const char *what, double *x, double *obj, tl_err *err);
int tl__qp_solve(const tl__pfprob *p, const char *what, double *x, double *obj, tl_err *err);

/* A sparse LP for tl__lp_ipm: the same shape (bounds, alo <= A x <= ahi)
 * with A in compressed rows: row i holds v[rp[i] .. rp[i+1]-1] in columns
 * ci[...]; rp has m+1 entries. */
typedef struct tl__pfsparse {
    size_t n, m;
    const size_t *rp, *ci;
    const double *v;
    const double *g, *alo, *ahi, *lb, *ub;
} tl__pfsparse;

/* tl__lp_ipm: min g'x by a primal-dual interior-point method (Mehrotra
 * predictor-corrector). Columns with many nonzeros and rows touching many
 * sparse columns form a small dense border; the rest of the normal
 * equations must be banded in the given row order (the CVaR and CDaR LPs
 * are), so an iteration costs O(m (band + border^2)). The problem must be
 * feasible and bounded. x gets the best iterate (largest of the relative
 * primal and dual residuals and gap), converged at 1e-11; it is not a
 * vertex: callers that need one polish it. 0 converged, 1 stopped short
 * (round-off took over, or the iteration limit), TL_ENOMEM. */
int tl__lp_ipm(const tl__pfsparse *p, const char *what, double *x, tl_err *err);

/* Dense LU with partial pivoting of a[k*k] in place; piv[k]. Returns -1 when
 * singular (pivot below tol * max |a|). */
int tl__pf_lu(double *a, size_t k, size_t *piv);
void tl__pf_lu_solve(const double *lu, size_t k, const size_t *piv, double *b);

/* ---- shared by the pf_*.c optimisers ---------------------------------- */
#include <teller/pf_optimize.h>

/* resolved weight constraints: per-asset bounds (None mapped), the sum */
typedef struct tl__pfcons {
    size_t n;
    double *lo, *hi;  /* n each */
    double sum;       /* 1, or 0 when market neutral */
    const tl_pf_constraints *c;
} tl__pfcons;

int tl__pf_cons_resolve(size_t n, const tl_pf_constraints *c, tl__pfcons *out, tl_err *err);
void tl__pf_cons_free(tl__pfcons *pc);

/* a growing problem: nv variables, rows appended one by one */
typedef struct tl__pfbuild {
    size_t nv, m, cap;
    double *A, *alo, *ahi, *lb, *ub, *g, *H;
} tl__pfbuild;

int tl__pf_build_init(tl__pfbuild *b, size_t nv, int with_H);
/* a zeroed row of nv coefficients with its bounds, or NULL (out of memory) */
double *tl__pf_build_row(tl__pfbuild *b, double lo, double hi);
void tl__pf_build_free(tl__pfbuild *b);
tl__pfprob tl__pf_build_prob(const tl__pfbuild *b);
/* bounds on w (variables 0..n-1) as variable bounds, the sum row and the
 * group rows */
int tl__pf_build_weights(tl__pfbuild *b, const tl__pfcons *pc, tl_err *err);
/* checks of shared inputs; name says which argument */
int tl__pf_check_vec(const double *v, size_t k, const char *name, tl_err *err);

#endif
