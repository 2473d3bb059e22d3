/*
 * internal.h - what the files of lib/ml share and nobody else sees: the
 * layout of frames and fitted encoders (woe.c bins an encoder's inputs and
 * needs their kinds and boolean spellings), and the cell parsers, so that
 * fitting, scoring and binning agree on what "a number", "a date" and
 * "missing" mean. Higher layers go through ml_data.h.
 */
#ifndef TL_ML_INTERNAL_H
#define TL_ML_INTERNAL_H

#include <teller/ml_data.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- frames --------------------------------------------------------------
 * Cells are NUL-terminated copies packed back to back in blocks that never
 * move (so a borrowed cell stays valid while rows are appended), and one
 * pointer per cell (NULL = missing): no allocation per cell. */
struct tl__frame_block;

struct tl_frame {
    size_t n_rows, n_cols;
    size_t cap_rows;
    char **names;                  /* n_cols, each in the first block */
    const char **cells;            /* (cap_rows, n_cols) row-major; NULL = missing */
    struct tl__frame_block *blocks; /* newest first */
};

/* True for NULL and for the texts read as missing ("", "NA", "N/A", "NaN",
 * "nan", "null", "NULL", "?"). Scoring applies the same rule to cells that
 * never went through a CSV file. */
bool tl__ml_missing(const char *s);

/* A finite decimal number, the whole string: digits, sign, point and
 * exponent only (no spaces, hex, "inf" or "nan"). */
bool tl__ml_parse_num(const char *s, double *out);

/* "YYYY-MM-DD" or an ISO 8601 instant (datetime.h) as days since
 * 1970-01-01 (an instant is floored to its UTC day). */
bool tl__ml_parse_date(const char *s, double *days);

/* The boolean spellings, lower case, as {false, true} pairs. */
#define TL__BOOL_PAIRS 4
extern const char *const tl__bool_pairs[TL__BOOL_PAIRS][2];
/* Which pair s belongs to (any case) and whether it is the true one, or -1. */
int tl__ml_bool_pair(const char *s, bool *is_true);

/* ---- the fitted encoder ---------------------------------------------------*/
struct tl__enc_input {
    char *name;
    enum tl_feat_kind kind;
    size_t first_feat, n_feat; /* its outputs: features [first_feat, first_feat + n_feat) */
    /* numeric, date and boolean */
    double mean, sd;           /* standardization (sd > 0); 0 and 1 when not standardized */
    double median;             /* imputed for missing when imputing */
    bool missing_ind;          /* a "COL__missing" output follows the value */
    int bool_pair;             /* boolean: index into tl__bool_pairs */
    /* categorical */
    size_t n_levels;
    char **levels;             /* sorted by strcmp, unique; output first_feat + i */
    bool has_other;            /* "COL=__other__" follows the levels */
    bool has_missing;          /* "COL=__missing__" follows (after __other__) */
};

struct tl__enc_excluded {
    char *name;
    const char *reason; /* static */
};

struct tl_arena;

struct tl_encoder {
    struct tl_arena *arena; /* every string and array below */
    bool standardize, impute;
    size_t n_inputs;
    struct tl__enc_input *inputs;
    size_t n_features;
    char **feat_names;
    size_t *feat_input;
    size_t n_excluded;
    struct tl__enc_excluded *excluded;
};

/* The level index of s in a sorted level array, or -1. */
long tl__ml_level_find(char *const *levels, size_t n, const char *s);

#endif
