/*
 * credit.h - credit risk: train a scorecard or gradient-boosted trees on a
 * bank's own applications, score an application to a probability of default
 * (PD), a score on the familiar points scale, a decision, and the reasons
 * (adverse-action reason codes), and judge the models (cross-validation,
 * fairness by protected group).
 *
 * A model is a registry artifact (task "credit"): one JSON document holding
 * everything scoring needs (encoder, WoE bins and weights or trees,
 * calibrator, scaling, cut-offs, reason sentences, protected list). Loading
 * parses and validates every part, so a tampered or truncated artifact is a
 * clear error and never scores.
 *
 * Scaling (both algorithms): factor = pdo / ln 2, offset = base - factor *
 * ln(odds); score = offset + factor * ln((1 - PD) / PD). With the defaults
 * (600 points at 50:1 good:bad, 20 points to double the odds) a PD of 1/51
 * (odds 50:1) scores exactly 600 and a PD of 1/101 (odds 100:1) exactly 620.
 *
 *     struct tl_credit_train_opts o = TL_CREDIT_TRAIN_OPTS_DEFAULT;
 *     o.data_path = "german.csv"; o.label = "class"; o.positive = "2";
 *     json_t *report; tl_credit_train(ctx, &o, &report, &err);
 *     tl_credit_model *m; tl_credit_model_load(ctx, NULL, &m, &err);  // champion
 *     struct tl_credit_decision d; tl_credit_score_row(m, cells, &d, &err);
 *     tl_credit_model_free(m);
 */
#ifndef TELLER_CREDIT_H
#define TELLER_CREDIT_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- training and evaluation -------------------------------------------- */

enum tl_credit_algo {
    TL_CREDIT_SCORECARD = 1,
    TL_CREDIT_GBDT = 2,
    TL_CREDIT_BOTH = 3, /* a mask: both are trained, the better by validation AUC promoted */
    TL_CREDIT_MLP = 4,  /* a neural network (nn_tabular.h) on standardized inputs */
    TL_CREDIT_ALL = 7,  /* all three */
};

/* "scorecard", "gbdt", "both", "mlp", "all" -> algo; anything else
 * TL_EINVAL. */
TL_API int tl_credit_algo_parse(const char *s, enum tl_credit_algo *out, tl_err *err);

struct tl_credit_train_opts {
    const char *data_path; /* CSV with a header; NULL: approved applications in the store */
    const char *label;     /* label column (NULL with the store: "defaulted_12m") */
    const char *positive;  /* the label value meaning default (NULL: see tl_frame_label) */
    enum tl_credit_algo algo;
    const char *const *drop; /* columns left out */
    size_t n_drop;
    const char *const *protected_cols; /* protected beyond those detected by name */
    size_t n_protected;
    const char *const *allow_protected; /* protected columns allowed as inputs */
    size_t n_allow_protected;
    uint64_t seed;
    int folds;           /* eval: k of the stratified k-fold (default 5) */
    const char *folds_out; /* eval: write "row,fold" here (0-based data row), or NULL */
    int cv_folds;        /* train: k-fold CV for the card: 0 auto (5 folds up to
                            TL_CREDIT_AUTO_CV_ROWS rows, none above), -1 none */
    bool no_register;    /* train: fit and report, store nothing (dry run) */
};
/* The most rows train cross-validates by default (it costs about k trainings). */
#define TL_CREDIT_AUTO_CV_ROWS 10000

#define TL_CREDIT_TRAIN_OPTS_DEFAULT \
    ((struct tl_credit_train_opts){.algo = TL_CREDIT_BOTH, .seed = 42, .folds = 5})

/* Trains the algorithms asked for (each with a small hyperparameter search
 * on a stratified validation split, the same split for GBDT early stopping
 * and calibration), registers each model with its metadata and model card,
 * and promotes the better by validation AUC when the task has no champion.
 * *report (a new reference, the caller decrefs) says what was done:
 * {"source","rows","positives","protected":[..],"models":[{"id" (null
 * with no_register),"algo","valid":{metrics},"hyperparameters":{..},
 * "card":{..}}],"promoted":"credit-v3"|null}; each card's data member
 * lists the inputs and the excluded columns with why.
 * On error *report is untouched; a model registered before the failure
 * (with algo both) stays, as a challenger. With opts->no_register nothing
 * is stored and ctx may be NULL (then the built-in configuration). */
TL_API int tl_credit_train(tl_ctx *ctx, const struct tl_credit_train_opts *opts, json_t **report,
                           tl_err *err);

/* Stratified k-fold cross-validation of each algorithm asked for, on the
 * same folds (tl_ml_stratified_folds with opts->seed): per algorithm the AUC
 * of each fold, its mean, Gini, KS and log loss over the pooled out-of-fold
 * predictions. Each fold is fitted exactly as train fits (search, early
 * stopping and calibration on a split of the fold's training rows).
 * *report: {"source","rows","positives","folds","seed","inputs":{"scorecard":
 * [..],"gbdt":[..]},"protected_excluded":[..],"algos":{"scorecard":
 * {"auc_mean","auc_sd","auc_folds":[..],"gini","ks","logloss"},...}}. ctx
 * may be NULL when opts->data_path is set (the built-in configuration). */
TL_API int tl_credit_eval(tl_ctx *ctx, const struct tl_credit_train_opts *opts, json_t **report,
                          tl_err *err);

/* ---- protected attributes -------------------------------------------------- */

/* true when name is a protected attribute by name (case-insensitive): age,
 * age_years, sex, gender, personal_status_sex, foreign_worker, marital,
 * marriage, race, ethnicity, religion, nationality. */
TL_API bool tl_credit_is_protected_name(const char *name);

/* ---- models and scoring ------------------------------------------------------ */

typedef struct tl_credit_model tl_credit_model;

/* The model `id` of the registry (NULL: the credit champion), its artifact
 * checked there, then parsed and validated here. TL_ENOTFOUND when there is
 * none; a tampered artifact is TL_ECRYPTO (checksum) or TL_EPARSE. */
TL_API int tl_credit_model_load(tl_ctx *ctx, const char *model_id, tl_credit_model **out,
                                tl_err *err);

/* A model from artifact bytes (borrowed; id copied, NULL allowed). Every part
 * is validated: TL_EPARSE naming the part at fault. */
TL_API int tl_credit_model_from_artifact(const char *bytes, size_t len, const char *id,
                                         tl_credit_model **out, tl_err *err);
TL_API void tl_credit_model_free(tl_credit_model *m);

TL_API const char *tl_credit_model_id(const tl_credit_model *m);
TL_API enum tl_credit_algo tl_credit_model_algo(const tl_credit_model *m);

/* The input columns in the order tl_credit_score_row wants its cells. */
TL_API size_t tl_credit_model_n_inputs(const tl_credit_model *m);
TL_API const char *tl_credit_model_input(const tl_credit_model *m, size_t j);

enum tl_credit_outcome {
    TL_CREDIT_APPROVE = 0,
    TL_CREDIT_REFER = 1,
    TL_CREDIT_DECLINE = 2,
};
TL_API const char *tl_credit_outcome_name(enum tl_credit_outcome o);

#define TL_CREDIT_MAX_REASONS 4

/* One factor that lowered the score: the input column (index into the
 * model's inputs) and how much: points lost against the variable's best bin
 * (scorecard) or the column's summed SHAP log-odds (GBDT). */
struct tl_credit_reason {
    size_t input;
    double impact;
};

struct tl_credit_decision {
    enum tl_credit_outcome outcome;
    double pd;     /* calibrated probability of default */
    double score;  /* points on the configured scale */
    double margin; /* the model's raw log-odds of default */
    size_t n_reasons; /* at most TL_CREDIT_MAX_REASONS, largest impact first */
    struct tl_credit_reason reasons[TL_CREDIT_MAX_REASONS];
};

/* Scores one application given as its input cells in model input order
 * (NULL = missing). Allocates nothing: the fast path. A cell that does not
 * parse as its column's kind is TL_EINVAL naming the column; an unseen
 * category scores as the model's "other" level (or as no level at all). */
TL_API int tl_credit_score_row(const tl_credit_model *m, const char *const *cells,
                               struct tl_credit_decision *out, tl_err *err);

/* Scores a JSON object application (members named like the inputs; numbers,
 * strings, booleans or null; unknown members ignored, missing ones missing).
 * *decision (a new reference): {"decision","pd","score","model",
 * "reasons":[{"code","column","value","impact","text"}],"inputs_digest"}.
 * inputs_digest is the SHA-256 hex of the canonical inputs, for the audit. */
TL_API int tl_credit_score_json(const tl_credit_model *m, const json_t *app, json_t **decision,
                                tl_err *err);

/* The reason sentence for input j at a cell value: the template configured
 * for the column with "{value}" replaced, or the default built from the
 * column's name. Writes at most size bytes (NUL-terminated). */
TL_API void tl_credit_reason_text(const tl_credit_model *m, size_t input, const char *value,
                                  char *buf, size_t size);

/* Decides a new application with model m and stores it in applications
 * with its decision, PD, score, reasons (JSON), model id and time. app:
 * {"id","customer_id","product_id","currency","amount" (required; money as
 * decimal strings in the currency), "applied_at" (ISO 8601, default now),
 * "term_months","purpose","annual_income","existing_debt",
 * "employment_years","delinquencies_2y", and any other model input}. The
 * applicant's age, occupation and income come from the customer record
 * when the application does not give them. Status: approved, declined, or
 * pending for a referral. *decision as tl_credit_score_json, plus "id" and
 * "status". An unknown customer is TL_ENOTFOUND; an id already stored is
 * the store's constraint error. */
TL_API int tl_credit_apply(tl_ctx *ctx, const tl_credit_model *m, const json_t *app,
                           json_t **decision, tl_err *err);

/* ---- the arithmetic, exposed for tests and tools ------------------------------ */

/* PD -> points on the scale (base points at odds good:bad, pdo to double). */
TL_API double tl_credit_points(double pd, double base, double odds, double pdo);

/* ---- fairness -------------------------------------------------------------------- */

/* Per group of one protected attribute: rows, approvals (outcome APPROVE),
 * approval rate and AUC (null with one class or under 10 rows), and over
 * the groups of at least 10 rows the adverse impact ratio (lowest approval
 * rate / highest, null when no group qualifies or none is approved;
 * flagged below 0.8).
 * pd[i] is the predicted PD, y[i] 1 for default, approved[i] 1 for an
 * approval, group[i] the group's name (NULL = "missing"). *out:
 * {"attribute","groups":[{"group","n","defaults","approval_rate","auc","small"}],
 *  "adverse_impact_ratio","flag":bool}. */
TL_API int tl_credit_fairness(const char *attribute, const char *const *group, const double *pd,
                              const uint8_t *y, const uint8_t *approved, size_t n, json_t **out,
                              tl_err *err);

/* The age band of an age in years: "<25", "25-34", "35-44", "45-54",
 * "55-64", "65+"; NULL for a value that is not a number. */
TL_API const char *tl_credit_age_band(const char *age);

TL_END_DECLS

#endif
