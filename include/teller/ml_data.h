/*
 * ml_data.h - from a table to a feature matrix: frames, the fitted encoding,
 * and weight-of-evidence binning.
 *
 * A frame is a table of text cells with a header, from a CSV file or a store
 * query; the models never see it. An encoder is fitted on a frame (column
 * types inferred, ID-like and constant columns excluded, categories one-hot
 * with rare levels folded, numbers imputed and standardized) and saved with
 * the model as JSON, so scoring applies exactly the transform training did.
 * WoE binning turns each input column into bins with a weight of evidence,
 * monotonic for numeric columns, which is what a scorecard is made from.
 *
 *     tl_frame *f; tl_frame_read_csv("german.csv", &f, &err);
 *     uint8_t *y; tl_frame_label(f, "class", "2", &y, &err);
 *     struct tl_encoder_opts o = TL_ENCODER_OPTS_DEFAULT; o.label = "class";
 *     tl_encoder *e; tl_encoder_fit(f, &o, &e, &err);
 *     float *X = malloc(tl_frame_rows(f) * tl_encoder_n_features(e) * sizeof *X);
 *     tl_encoder_transform(e, f, X, &err);
 */
#ifndef TELLER_ML_DATA_H
#define TELLER_ML_DATA_H

#include <jansson.h>

#include "common.h"
#include "err.h"
#include "store.h"

TL_BEGIN_DECLS

/* ---- frames ----------------------------------------------------------------*/
typedef struct tl_frame tl_frame;

/* The most rows and columns a frame holds (bigger inputs are TL_ETOOBIG). */
#define TL_FRAME_MAX_ROWS 50000000u
#define TL_FRAME_MAX_COLS 4096u

/* Reads a CSV file with a header row (the rules of csv.h: UTF-8, quoted
 * fields, CRLF, BOM). Every row must have the header's number of fields
 * (TL_EPARSE naming path:line). Duplicate or empty header names are
 * TL_EINVAL. A cell that is empty, "NA", "N/A", "NaN", "nan", "null", "NULL"
 * or "?" is missing. Infinity spelled out ("inf", "-Infinity") is not:
 * it stays text, so a column holding it is not numeric and the encoder
 * makes it categorical (models never see an infinity). */
TL_API int tl_frame_read_csv(const char *path, tl_frame **out, tl_err *err);

/* Runs sql on the store and keeps every result row; a NULL value is
 * missing; numbers are kept as their decimal text (%.17g for reals). A
 * query that returns no row gives a frame with no columns either (the
 * store names columns only with rows). A blob is TL_EUNSUPPORTED. */
TL_API int tl_frame_from_query(tl_store *s, const char *sql, size_t n_params,
                               const tl_value *params, tl_frame **out, tl_err *err);

/* An empty frame with these column names (copied), to append rows to: how a
 * JSON application becomes a one-row frame. */
TL_API int tl_frame_new(size_t n_cols, const char *const *names, tl_frame **out, tl_err *err);
/* Appends one row of n_cols cells (copied; NULL = missing). */
TL_API int tl_frame_append(tl_frame *f, const char *const *cells, tl_err *err);

TL_API void tl_frame_free(tl_frame *f);
TL_API size_t tl_frame_rows(const tl_frame *f);
TL_API size_t tl_frame_cols(const tl_frame *f);
TL_API const char *tl_frame_name(const tl_frame *f, size_t col);
/* The column's index, or -1. */
TL_API int tl_frame_col(const tl_frame *f, const char *name);
/* The cell's text, or NULL when missing. Borrowed until tl_frame_free. */
TL_API const char *tl_frame_cell(const tl_frame *f, size_t row, size_t col);

/* The label column as 0/1. With positive non-NULL, a row is 1 exactly when
 * its cell equals positive. With positive NULL the values decide: {0,1} ->
 * "1"; {no,yes}, {false,true}, {n,y} (any case, mixed spellings such as
 * "No"/"no"/"YES" allowed) -> the second; anything
 * else is TL_EINVAL asking for a positive value and listing the values seen.
 * A missing column, a missing label cell (naming the row, 1-based data row
 * number) or a label with one class only is TL_EINVAL. *y is malloc'ed,
 * tl_frame_rows(f) bytes; the caller frees it. */
TL_API int tl_frame_label(const tl_frame *f, const char *col, const char *positive, uint8_t **y,
                          tl_err *err);

/* A SHA-256 over the header and every cell (missing distinct from ""), in
 * order, as 64 hex digits: the training-data fingerprint in a model card. */
TL_API void tl_frame_fingerprint(const tl_frame *f, char hex[65]);

/* ---- the encoder ---------------------------------------------------------- */
enum tl_feat_kind {
    TL_FEAT_NUMERIC = 0,    /* every present cell parses as a finite number */
    TL_FEAT_CATEGORICAL = 1, /* text, or numbers with few distinct values when told */
    TL_FEAT_BOOLEAN = 2,    /* two values from {0,1}, {true,false}, {yes,no}, {y,n} */
    TL_FEAT_DATE = 3,       /* YYYY-MM-DD (or ISO 8601 instant): days since 1970-01-01 */
};
TL_API const char *tl_feat_kind_name(enum tl_feat_kind k);

struct tl_encoder_opts {
    const char *label;            /* excluded from inputs; required */
    const char *const *drop;      /* columns the user leaves out (--drop) */
    size_t n_drop;
    const char *const *protected_cols; /* fairness attributes: never inputs */
    size_t n_protected;
    const char *const *categorical; /* numeric-looking columns to treat as categories */
    size_t n_categorical;
    size_t max_levels;     /* most one-hot levels kept per column (default 64) */
    size_t min_level_count; /* levels seen fewer times fold into "__other__" (default 10) */
    bool standardize;      /* numeric outputs scaled to mean 0, sd 1 (linear models) */
    bool impute;           /* missing numeric -> training median, plus a "COL__missing"
                              0/1 output when training saw it missing; when false a
                              missing numeric is NaN (XGBoost handles it) */
};
#define TL_ENCODER_OPTS_DEFAULT                                                              \
    ((struct tl_encoder_opts){.max_levels = 64, .min_level_count = 10, .standardize = true, \
                              .impute = true})

typedef struct tl_encoder tl_encoder;

/* Fits the encoding on f. Inputs are every column but the label, dropped
 * and protected ones. Excluded with a warning (tl_log at warn, and listed by
 * tl_encoder_excluded): constant or all-missing columns, and ID-like ones
 * (named "id" or ending "_id"/"ID" with all values distinct; or integers all
 * distinct spanning fewer than 2n values; or text with more distinct values
 * than half the rows). A numeric column with at most 2 distinct values that
 * is not boolean-like stays numeric. Unknown names in drop, protected or
 * categorical are TL_EINVAL naming them; no input left is TL_EINVAL.
 * Categoricals: levels seen at least min_level_count times, the most
 * frequent max_levels of them, each get an output "COL=LEVEL"; the rest fold
 * into "COL=__other__" (present only if some level was folded); missing gets
 * "COL=__missing__" when training saw it. At scoring, an unseen level goes
 * to __other__ when it exists, else all of the column's outputs are 0.
 * Missing (at fit and at scoring) is NULL or any of the read_csv missing
 * spellings. Boolean outputs stay 0/1 (never standardized) and are imputed
 * like numbers. Dates and numbers are standardized with the training mean
 * and population sd (an sd of 0 scales by 1). */
TL_API int tl_encoder_fit(const tl_frame *f, const struct tl_encoder_opts *opts, tl_encoder **out,
                          tl_err *err);
TL_API void tl_encoder_free(tl_encoder *e);

/* The input columns the encoder reads, in the order transform_row wants. */
TL_API size_t tl_encoder_n_inputs(const tl_encoder *e);
TL_API const char *tl_encoder_input_name(const tl_encoder *e, size_t j);
TL_API enum tl_feat_kind tl_encoder_input_kind(const tl_encoder *e, size_t j);

/* The output features ("duration_months", "purpose=A43", "age__missing"). */
TL_API size_t tl_encoder_n_features(const tl_encoder *e);
TL_API const char *tl_encoder_feature_name(const tl_encoder *e, size_t k);
/* The input column feature k comes from (to add SHAP values per column). */
TL_API size_t tl_encoder_feature_input(const tl_encoder *e, size_t k);

/* Columns fitting excluded, with why ("constant", "all missing", "ID-like",
 * "protected", "dropped"); i < tl_encoder_n_excluded. */
TL_API size_t tl_encoder_n_excluded(const tl_encoder *e);
TL_API const char *tl_encoder_excluded(const tl_encoder *e, size_t i, const char **reason);

/* Encodes every row of f (which must have every input column, by name; extra
 * columns are ignored) into X, row-major rows x n_features. A cell that does
 * not parse as its column's kind is TL_EINVAL naming row and column. */
TL_API int tl_encoder_transform(const tl_encoder *e, const tl_frame *f, float *X, tl_err *err);

/* Encodes one row given as the input cells in input order (NULL = missing)
 * into x[n_features]. No allocation: this is the scoring path. */
TL_API int tl_encoder_transform_row(const tl_encoder *e, const char *const *cells, float *x,
                                    tl_err *err);

/* The fitted encoding as JSON (a new reference), and back. from_json checks
 * everything it reads and names what is wrong. */
TL_API json_t *tl_encoder_to_json(const tl_encoder *e);
TL_API int tl_encoder_from_json(const json_t *j, tl_encoder **out, tl_err *err);

/* ---- weight of evidence ------------------------------------------------------
 * Per input column of an encoder: bins, each with its counts and
 * WoE = ln((pos_b + 0.5) / (n_pos + 0.5)) - ln((neg_b + 0.5) / (n_neg + 0.5))
 * (positive = the event, e.g. default: a positive WoE is riskier), and the
 * column's information value IV = sum (pos share - neg share) * WoE.
 * Numeric and date columns: up to max_bins quantile pre-bins merged until
 * WoE is monotonic (increasing or decreasing, whichever keeps more IV) and
 * every bin holds at least min_bin_frac of the rows; missing values get a
 * bin of their own. Categorical and boolean columns: one bin per level
 * (levels under min_bin_frac merged with the level of nearest WoE), plus
 * missing and "unseen" (WoE 0) bins. */
struct tl_woe_opts {
    size_t max_bins;     /* pre-bins for numeric columns (default 20) */
    double min_bin_frac; /* smallest bin, as a share of rows (default 0.05) */
};
#define TL_WOE_OPTS_DEFAULT ((struct tl_woe_opts){.max_bins = 20, .min_bin_frac = 0.05})

struct tl_woe_bin {
    double lo, hi;        /* numeric: lo < x <= hi (-inf / +inf at the ends) */
    const char *label;    /* readable: "(12, 24]", "A11, A12", "missing", "unseen" */
    bool missing;         /* the bin for missing values */
    size_t n, n_pos;
    double woe;
};

typedef struct tl_woe tl_woe;

TL_API int tl_woe_fit(const tl_encoder *e, const tl_frame *f, const uint8_t *y,
                      const struct tl_woe_opts *opts, tl_woe **out, tl_err *err);
TL_API void tl_woe_free(tl_woe *w);

/* One variable per encoder input, same order. */
TL_API size_t tl_woe_n_vars(const tl_woe *w);
TL_API const char *tl_woe_var_name(const tl_woe *w, size_t v);
TL_API double tl_woe_var_iv(const tl_woe *w, size_t v);
TL_API size_t tl_woe_var_n_bins(const tl_woe *w, size_t v);
TL_API const struct tl_woe_bin *tl_woe_var_bin(const tl_woe *w, size_t v, size_t b);

/* The bin of every variable for one row (cells in encoder input order, NULL
 * = missing): bin[v] its index, and woe[v] its WoE (either may be NULL). A
 * cell that does not parse is TL_EINVAL naming the column. No allocation. */
TL_API int tl_woe_row(const tl_woe *w, const char *const *cells, size_t *bin, double *woe,
                      tl_err *err);

/* The bins as JSON (a new reference), and back, validated. */
TL_API json_t *tl_woe_to_json(const tl_woe *w);
TL_API int tl_woe_from_json(const json_t *j, tl_woe **out, tl_err *err);

TL_END_DECLS

#endif
