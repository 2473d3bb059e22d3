/*
 * credit_internal.h - what the credit_*.c files share: the loaded model,
 * the scale, cut-offs and reason method read from the configuration, and
 * the artifact format. Not a public header.
 */
#ifndef TELLER_CREDIT_INTERNAL_H
#define TELLER_CREDIT_INTERNAL_H

#include <teller/credit.h>
#include <teller/ml_data.h>
#include <teller/ml_models.h>
#include <teller/ml_stats.h>
#include <teller/registry.h>

#define CREDIT_FORMAT "teller-credit"
#define CREDIT_FORMAT_VERSION 1

/* Bounds that let the scoring path run on stack buffers (no allocation):
 * (CREDIT_MAX_FEATURES floats + doubles, CREDIT_MAX_INPUTS doubles). A model
 * beyond them is refused at training and at load. */
#define CREDIT_MAX_INPUTS 256
#define CREDIT_MAX_FEATURES 2048

struct tl__credit_scale {
    double base, odds, pdo; /* base points at odds good:bad; pdo points double the odds */
};

struct tl__credit_cutoffs {
    bool by_score;           /* decide on the score rather than the PD */
    double approve_max_pd;   /* PD below: approve */
    double decline_min_pd;   /* PD at or above: decline; between: refer */
    double approve_min_score; /* score at or above: approve */
    double decline_max_score; /* score below: decline */
};

struct tl_credit_model {
    char id[TL_MODEL_ID_MAX];
    enum tl_credit_algo algo;
    tl_encoder *enc;
    size_t n_inputs;
    /* scorecard */
    tl_woe *woe;
    double *w;          /* (n_inputs) weight per WoE variable */
    double bias;
    size_t *bin_off;    /* (n_inputs + 1) offsets into points */
    double *points;     /* (total bins) points of each bin */
    double *best;       /* (n_inputs) the most points a variable gives (bins seen in training) */
    /* gbdt */
    tl_gbdt *gbdt;
    size_t n_features;
    size_t *feat_input; /* (n_features) input of each feature */
    tl_calibrator cal;  /* margin -> PD (kind NONE: the logistic function) */
    /* mlp (n_features, feat_input and cal shared with gbdt) */
    struct tl_nn_tabular *mlp;
    bool reasons_approx; /* reasons from tl_gbdt_contribs_approx, not exact TreeSHAP
                            (credit.reasons = approx at load; not in the artifact) */
    struct tl__credit_scale scale;
    struct tl__credit_cutoffs cut;
    char **templates;   /* (n_inputs) reason sentence with {value}, or NULL for the default */
    json_t *protected_cols; /* array of names (for the card and the API) */
    json_t *label;      /* {"column","positive"} */
};

/* The scale and cut-offs of the configuration (credit.* keys), checked. */
int tl__credit_config(const tl_config *cfg, struct tl__credit_scale *sc,
                      struct tl__credit_cutoffs *cut, tl_err *err);

/* Reads credit.reasons: *approx false for "shap", true for "approx";
 * anything else is TL_EINVAL naming the key and the value. */
int tl__credit_reasons_method(const tl_config *cfg, bool *approx, tl_err *err);

/* Reads credit.reasons_file (a JSON object column -> template); *out NULL
 * when the key is empty. */
int tl__credit_reason_file(const tl_config *cfg, json_t **out, tl_err *err);

/* The points of each bin of a scorecard and the best per variable, from
 * w, bias, woe and the scale (fills bin_off, points, best). */
int tl__credit_points_table(struct tl_credit_model *m, tl_err *err);

/* "scorecard", "gbdt" or "mlp". */
const char *tl__credit_algo_name(enum tl_credit_algo a);

/* The decision for a PD under the model's cut-offs. */
enum tl_credit_outcome tl__credit_decide(const struct tl_credit_model *m, double pd, double score);

/* The points table as JSON rows {variable, bin, points, woe, n}. */
json_t *tl__credit_points_json(const struct tl_credit_model *m);

#endif
