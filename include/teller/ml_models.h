/*
 * ml_models.h - the binary classifiers: logistic regression trained with
 * LIBLINEAR, gradient-boosted trees trained with the XGBoost C API.
 *
 * Both train on a dense row-major float matrix X (n rows x d features) and
 * 0/1 labels y. Training goes through the libraries; scoring does not: a
 * trained model is held as plain numbers (weights; flattened trees) that
 * Teller evaluates itself, so one application scores in well under a
 * microsecond without building an XGBoost DMatrix, and the per-feature
 * contributions (exact TreeSHAP, as XGBoost's pred_contribs computes them)
 * come from the same trees.
 *
 *     struct tl_gbdt_opts o = TL_GBDT_OPTS_DEFAULT;
 *     tl_gbdt *m; tl_gbdt_train(X, y, n, d, Xv, yv, nv, &o, &m, &err);
 *     double margin = tl_gbdt_margin(m, x);      // log-odds
 *     tl_gbdt_contribs(m, x, phi);               // d + 1 values, sum = margin
 *     tl_gbdt_contribs_approx(m, x, phi);        // cheaper path attribution, not SHAP
 */
#ifndef TELLER_ML_MODELS_H
#define TELLER_ML_MODELS_H

#include <jansson.h>

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- logistic regression (LIBLINEAR) ---------------------------------------- */
struct tl_linear_opts {
    int penalty;       /* 1 (L1, LIBLINEAR solver L1R_LR) or 2 (L2, L2R_LR); default 2 */
    double C;          /* inverse regularization strength; default 1.0 */
    double pos_weight; /* class weight of positives (negatives 1); default 1.0 */
    double eps;        /* LIBLINEAR stopping tolerance; default 1e-4 */
};
#define TL_LINEAR_OPTS_DEFAULT \
    ((struct tl_linear_opts){.penalty = 2, .C = 1.0, .pos_weight = 1.0, .eps = 1e-4})

typedef struct tl_linear tl_linear;

/* Trains with a bias term (LIBLINEAR's bias feature = 1; the bias is
 * regularized as LIBLINEAR does). X must be finite (TL_EINVAL naming row and
 * column otherwise). Both classes must be present. LIBLINEAR prints nothing. */
TL_API int tl_linear_train(const float *X, const uint8_t *y, size_t n, size_t d,
                           const struct tl_linear_opts *opts, tl_linear **out, tl_err *err);
/* A model from weights you already have (w copied). */
TL_API int tl_linear_from_weights(const double *w, size_t d, double bias, tl_linear **out,
                                  tl_err *err);
TL_API void tl_linear_free(tl_linear *m);

TL_API size_t tl_linear_dim(const tl_linear *m);
TL_API const double *tl_linear_weights(const tl_linear *m);
TL_API double tl_linear_bias(const tl_linear *m);
/* w . x + bias (log-odds of the positive class). */
TL_API double tl_linear_margin(const tl_linear *m, const float *x);

/* {"dim":d,"bias":b,"w":[...]} exact (%.17g), and back, validated. */
TL_API json_t *tl_linear_to_json(const tl_linear *m);
TL_API int tl_linear_from_json(const json_t *j, tl_linear **out, tl_err *err);

/* ---- gradient boosting (XGBoost) ------------------------------------------------ */
struct tl_gbdt_opts {
    int max_rounds;         /* boosting rounds at most (default 1000) */
    int early_stopping;     /* stop after this many rounds without a better validation
                               log loss (default 50); needs a validation set */
    double eta;             /* learning rate (default 0.05) */
    int max_depth;          /* default 4 */
    double min_child_weight; /* default 1 */
    double subsample;       /* default 0.8 */
    double colsample;       /* colsample_bytree, default 0.8 */
    double lambda;          /* L2 on leaf weights, default 1 */
    double alpha;           /* L1 on leaf weights, default 0 */
    double gamma;           /* min split loss, default 0 */
    double scale_pos_weight; /* default 1 */
    int nthread;            /* 0: one per core */
    uint64_t seed;          /* default 0 */
};
#define TL_GBDT_OPTS_DEFAULT                                                          \
    ((struct tl_gbdt_opts){.max_rounds = 1000, .early_stopping = 50, .eta = 0.05,     \
                           .max_depth = 4, .min_child_weight = 1, .subsample = 0.8,   \
                           .colsample = 0.8, .lambda = 1, .alpha = 0, .gamma = 0,     \
                           .scale_pos_weight = 1, .nthread = 0, .seed = 0})

typedef struct tl_gbdt tl_gbdt;

/* The deepest tree trained or loaded (root = depth 0): TreeSHAP keeps its
 * path on the stack, (depth + 1) * (depth + 2) / 2 entries. */
#define TL_GBDT_MAX_DEPTH 32

/* Trains objective binary:logistic, tree_method hist. With a validation set
 * (nv > 0) it stops early on the validation log loss and keeps the trees up
 * to the best round; with none it runs max_rounds. Missing values are NaN
 * (XGBoost's default direction); infinities are TL_EINVAL. XGBoost's own
 * errors come back as TL_EINTERNAL with its message. */
TL_API int tl_gbdt_train(const float *X, const uint8_t *y, size_t n, size_t d, const float *Xv,
                         const uint8_t *yv, size_t nv, const struct tl_gbdt_opts *opts,
                         tl_gbdt **out, tl_err *err);
TL_API void tl_gbdt_free(tl_gbdt *m);

TL_API size_t tl_gbdt_dim(const tl_gbdt *m);
/* Trees kept (the best iteration + 1 when it stopped early). */
TL_API int tl_gbdt_rounds(const tl_gbdt *m);

/* Log-odds for one row x[d], by walking the flattened trees: equal to
 * XGBoost's output_margin prediction within float rounding. */
TL_API double tl_gbdt_margin(const tl_gbdt *m, const float *x);
/* Many rows; margin[i] for row i. */
TL_API void tl_gbdt_margins(const tl_gbdt *m, const float *X, size_t n, double *margin);

/* Exact TreeSHAP contributions for one row: phi[0..d) per feature and phi[d]
 * the bias (expected value), summing to the margin; equal to XGBoost's
 * pred_contribs within 1e-5. No allocation beyond a bounded stack buffer. */
TL_API void tl_gbdt_contribs(const tl_gbdt *m, const float *x, double *phi);

/* Approximate contributions (XGBoost's pred_contribs with approx_contribs,
 * Saabas's path attribution): along the row's own path through each tree,
 * a split on feature f adds to phi[f] the change in the cover-weighted mean
 * leaf from the node to the child taken; phi[d] is the same bias as above,
 * and the sum is the margin. Costs O(trees * depth) rather than TreeSHAP's
 * O(trees * leaves * depth^2). It is NOT SHAP: not consistent, and it
 * favours features split near the roots, so rankings can differ from
 * tl_gbdt_contribs. Equal to XGBoost's approximate contributions within
 * 1e-5. No allocation (node means are computed at load). */
TL_API void tl_gbdt_contribs_approx(const tl_gbdt *m, const float *x, double *phi);

/* The model as bytes: XGBoost's JSON model format (XGBoosterSaveModelToBuffer
 * "json"), which XGBoost's Python package also loads. *buf is malloc'ed. */
TL_API int tl_gbdt_save(const tl_gbdt *m, char **buf, size_t *len, tl_err *err);
/* Loads those bytes with Teller's own reader of XGBoost's JSON format, not
 * through XGBoost, which trusts the child indices in a model file: every
 * structural field is checked, so truncated or altered bytes are TL_EPARSE,
 * never a crash (trees deeper than TL_GBDT_MAX_DEPTH: TL_EUNSUPPORTED). The
 * loaded model scores; it does not train further. */
TL_API int tl_gbdt_load(const char *buf, size_t len, tl_gbdt **out, tl_err *err);

/* Gain importance per feature (sum of split gains), imp[0..d). */
TL_API void tl_gbdt_importance(const tl_gbdt *m, double *imp);

TL_END_DECLS

#endif
