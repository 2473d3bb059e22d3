/*
 * encode.c - the fitted encoding from frame columns to model features
 * (see ml_data.h for the rules).
 *
 * Fitting looks at each column once: its distinct texts (an open-addressing
 * table over the frame's own cell pointers, so nothing is copied) decide the
 * kind, whether it is ID-like or constant, and the categorical levels; the
 * parsed values give mean, sd and median. Everything the encoder keeps lives
 * in one arena and is freed at once.
 *
 * Scoring (tl_encoder_transform_row) is the per-application hot path and
 * allocates nothing: a number is one strtod, a category one binary search
 * over its sorted kept levels (at most max_levels strcmp's, log2 of them).
 *
 * Text that spells NaN ("nan", "NaN") is missing, like in the CSV reader;
 * "inf", "-inf" or "1e999" are not finite numbers, so a column holding them
 * is not numeric and becomes categorical (a model must never see an
 * infinity, and a column that says "inf" is telling us it is not a plain
 * amount).
 */
#include <teller/ml_data.h>

#include <teller/arena.h>
#include <teller/log.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "ml/internal.h"

#define ENC_FORMAT_VERSION 1
#define MAX_LEVELS_HARD 65536u  /* kept levels per column, from JSON too */
#define MAX_FEATURES (1u << 24) /* outputs of one encoder */

static const char *const kind_names[] = {
    [TL_FEAT_NUMERIC] = "numeric",
    [TL_FEAT_CATEGORICAL] = "categorical",
    [TL_FEAT_BOOLEAN] = "boolean",
    [TL_FEAT_DATE] = "date",
};

static const char *const reasons[] = {"constant", "all missing", "ID-like", "protected", "dropped"};

const char *tl_feat_kind_name(enum tl_feat_kind k)
{
    if ((unsigned)k < sizeof kind_names / sizeof kind_names[0])
        return kind_names[k];
    return "unknown";
}

static int kind_parse(const char *s)
{
    for (int k = 0; k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

void tl_encoder_free(tl_encoder *e)
{
    if (!e)
        return;
    tl_arena_free(e->arena);
    free(e);
}

static tl_encoder *enc_alloc(void)
{
    tl_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->arena = tl_arena_new(64 * 1024, 0);
    if (!e->arena) {
        free(e);
        return NULL;
    }
    return e;
}

/* Lays out the outputs of every input, in input order: the value then its
 * "__missing" indicator, or the kept levels, "__other__", "__missing__".
 * Fitting and loading both end here, so the names cannot drift apart. */
static int build_features(tl_encoder *e, tl_err *err)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n_inputs; i++) {
        struct tl__enc_input *in = &e->inputs[i];
        in->first_feat = n;
        in->n_feat = in->kind == TL_FEAT_CATEGORICAL
                         ? in->n_levels + in->has_other + in->has_missing
                         : 1u + in->missing_ind;
        n += in->n_feat;
        if (n > MAX_FEATURES)
            return tl_err_set(err, TL_ETOOBIG, "encoder: more than %u features", MAX_FEATURES);
    }
    e->n_features = n;
    e->feat_names = tl_arena_calloc(e->arena, n ? n : 1, sizeof *e->feat_names);
    e->feat_input = tl_arena_calloc(e->arena, n ? n : 1, sizeof *e->feat_input);
    if (!e->feat_names || !e->feat_input)
        return tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
    for (size_t i = 0; i < e->n_inputs; i++) {
        struct tl__enc_input *in = &e->inputs[i];
        size_t k = in->first_feat;
        if (in->kind == TL_FEAT_CATEGORICAL) {
            for (size_t l = 0; l < in->n_levels; l++)
                e->feat_names[k++] = tl_arena_sprintf(e->arena, "%s=%s", in->name, in->levels[l]);
            if (in->has_other)
                e->feat_names[k++] = tl_arena_sprintf(e->arena, "%s=__other__", in->name);
            if (in->has_missing)
                e->feat_names[k++] = tl_arena_sprintf(e->arena, "%s=__missing__", in->name);
        } else {
            e->feat_names[k++] = tl_arena_strndup(e->arena, in->name, strlen(in->name));
            if (in->missing_ind)
                e->feat_names[k++] = tl_arena_sprintf(e->arena, "%s__missing", in->name);
        }
        for (size_t j = in->first_feat; j < k; j++) {
            if (!e->feat_names[j])
                return tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
            e->feat_input[j] = i;
        }
    }
    return 0;
}

/* ---- fitting ----------------------------------------------------------------*/
struct distinct {
    const char *s;
    size_t n;
};

/* The distinct present texts of one column: table holds 1 + index into d. */
struct column_scan {
    uint32_t *table;
    size_t table_cap; /* a power of two, at least twice the rows */
    struct distinct *d;
    size_t n_d;
    size_t n_present, n_missing;
    double *vals; /* (n_present) parsed values, sorted */
};

static void scan_column(const tl_frame *f, size_t c, struct column_scan *cs)
{
    memset(cs->table, 0, cs->table_cap * sizeof *cs->table);
    cs->n_d = cs->n_present = cs->n_missing = 0;
    size_t mask = cs->table_cap - 1;
    for (size_t r = 0; r < f->n_rows; r++) {
        const char *s = f->cells[r * f->n_cols + c];
        if (tl__ml_missing(s)) {
            cs->n_missing++;
            continue;
        }
        cs->n_present++;
        size_t h = (size_t)tl__hash_bytes(s, strlen(s)) & mask;
        for (;;) {
            uint32_t k = cs->table[h];
            if (k == 0) {
                cs->d[cs->n_d] = (struct distinct){s, 1};
                cs->table[h] = (uint32_t)++cs->n_d;
                break;
            }
            if (strcmp(cs->d[k - 1].s, s) == 0) {
                cs->d[k - 1].n++;
                break;
            }
            h = (h + 1) & mask;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest of v[0..n) (k < n), reordering v so that v[0..k) are
 * no larger and v(k..n) no smaller (Hoare's quickselect, middle pivot).
 * O(n) on average: a median without sorting the column. */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

static double median_of(double *v, size_t n)
{
    double hi = select_kth(v, n, n / 2);
    if (n % 2)
        return hi;
    double lo = v[0]; /* the largest of v[0..n/2), all <= hi after the select */
    for (size_t i = 1; i < n / 2; i++)
        lo = v[i] > lo ? v[i] : lo;
    return (lo + hi) / 2;
}

/* Parses every present cell of column c with the kind's parser into
 * cs->vals (in row order); false when one does not parse. */
static bool parse_column(const tl_frame *f, size_t c, enum tl_feat_kind kind, int pair,
                         struct column_scan *cs)
{
    size_t n = 0;
    for (size_t r = 0; r < f->n_rows; r++) {
        const char *s = f->cells[r * f->n_cols + c];
        if (tl__ml_missing(s))
            continue;
        double v;
        bool t;
        bool ok = kind == TL_FEAT_NUMERIC ? tl__ml_parse_num(s, &v)
                  : kind == TL_FEAT_DATE  ? tl__ml_parse_date(s, &v)
                                          : (tl__ml_bool_pair(s, &t) == pair && (v = t, true));
        if (!ok)
            return false;
        cs->vals[n++] = v;
    }
    return true;
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], name) == 0)
            return true;
    return false;
}

static bool id_name(const char *name)
{
    size_t n = strlen(name);
    return strcasecmp(name, "id") == 0 || (n > 3 && strcasecmp(name + n - 3, "_id") == 0) ||
           (n > 2 && strcmp(name + n - 2, "ID") == 0);
}

/* The boolean pair every distinct text belongs to, when both truths occur. */
static int bool_column(const struct column_scan *cs)
{
    int pair = -1;
    bool seen[2] = {false, false};
    for (size_t i = 0; i < cs->n_d; i++) {
        bool t;
        int p = tl__ml_bool_pair(cs->d[i].s, &t);
        if (p < 0 || (pair >= 0 && p != pair))
            return -1;
        pair = p;
        seen[t] = true;
    }
    return seen[0] && seen[1] ? pair : -1;
}

static int cmp_level_freq(const void *a, const void *b)
{
    const struct distinct *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->s, y->s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int exclude(tl_encoder *e, const char *name, const char *reason, bool warn, tl_err *err)
{
    struct tl__enc_excluded *x = &e->excluded[e->n_excluded++];
    x->name = tl_arena_strndup(e->arena, name, strlen(name));
    x->reason = reason;
    if (!x->name)
        return tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
    if (warn)
        tl_log(TL_LOG_WARN, "ml", "column \"%s\" is not an input: %s", name, reason);
    return 0;
}

/* Decides one column: its kind and statistics into *in, or an exclusion
 * reason (returned, NULL when it is an input). */
static const char *fit_column(const tl_frame *f, size_t c, const struct tl_encoder_opts *o,
                              struct column_scan *cs, struct tl__enc_input *in, tl_arena *a)
{
    const char *name = f->names[c];
    scan_column(f, c, cs);
    if (cs->n_present == 0)
        return "all missing";
    if (cs->n_d == 1 && cs->n_missing == 0)
        return "constant";
    if (id_name(name) && cs->n_missing == 0 && cs->n_d == f->n_rows)
        return "ID-like";
    bool forced = in_list(name, o->categorical, o->n_categorical);
    int pair = forced ? -1 : bool_column(cs);
    if (pair >= 0) {
        in->kind = TL_FEAT_BOOLEAN;
        in->bool_pair = pair;
    } else if (!forced && parse_column(f, c, TL_FEAT_NUMERIC, -1, cs)) {
        in->kind = TL_FEAT_NUMERIC;
        size_t n = cs->n_present;
        bool integral = true;
        double lo = cs->vals[0], hi = cs->vals[0];
        for (size_t i = 0; i < n; i++) {
            lo = cs->vals[i] < lo ? cs->vals[i] : lo;
            hi = cs->vals[i] > hi ? cs->vals[i] : hi;
            if (cs->vals[i] != floor(cs->vals[i]))
                integral = false;
        }
        /* all values distinct: only possible when all texts are (scan_column
         * counted those), so only then sort to count the values */
        if (integral && cs->n_missing == 0 && cs->n_d == n && hi - lo + 1 < 2.0 * (double)n) {
            qsort(cs->vals, n, sizeof *cs->vals, cmp_double);
            size_t nd = 1;
            for (size_t i = 1; i < n; i++)
                nd += cs->vals[i] != cs->vals[i - 1];
            if (nd == n)
                return "ID-like";
        }
        if (lo == hi && cs->n_missing == 0)
            return "constant";
    } else if (!forced && parse_column(f, c, TL_FEAT_DATE, -1, cs)) {
        in->kind = TL_FEAT_DATE;
    } else {
        in->kind = TL_FEAT_CATEGORICAL;
        if (!forced && cs->n_d > f->n_rows / 2)
            return "ID-like";
    }
    in->name = tl_arena_strndup(a, name, strlen(name));
    if (!in->name)
        return NULL;
    if (in->kind == TL_FEAT_CATEGORICAL) {
        qsort(cs->d, cs->n_d, sizeof *cs->d, cmp_level_freq);
        size_t keep = 0;
        while (keep < cs->n_d && keep < o->max_levels && cs->d[keep].n >= o->min_level_count)
            keep++;
        in->n_levels = keep;
        in->has_other = keep < cs->n_d;
        in->has_missing = cs->n_missing > 0;
        in->levels = tl_arena_calloc(a, keep ? keep : 1, sizeof *in->levels);
        if (!in->levels)
            return NULL;
        for (size_t l = 0; l < keep; l++)
            if (!(in->levels[l] = tl_arena_strndup(a, cs->d[l].s, strlen(cs->d[l].s))))
                return NULL;
        qsort(in->levels, keep, sizeof *in->levels, cmp_str);
        return NULL;
    }
    if (in->kind == TL_FEAT_BOOLEAN)
        parse_column(f, c, TL_FEAT_BOOLEAN, in->bool_pair, cs);
    size_t n = cs->n_present;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += cs->vals[i];
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (cs->vals[i] - mean) * (cs->vals[i] - mean);
    double sd = sqrt(ss / (double)n);
    in->median = median_of(cs->vals, n);
    /* Booleans stay 0/1: a coefficient on "has a phone" reads as it is. */
    bool scale = o->standardize && in->kind != TL_FEAT_BOOLEAN;
    in->mean = scale ? mean : 0;
    in->sd = scale && sd > 0 && isfinite(sd) ? sd : 1;
    in->missing_ind = o->impute && cs->n_missing > 0;
    return NULL;
}

static int check_names(const tl_frame *f, const char *what, const char *const *list, size_t n,
                       tl_err *err)
{
    if (n && !list)
        return tl_err_set(err, TL_EINVAL, "encoder: %zu %s columns given but no list", n, what);
    char q[TL__QUOTE_SIZE];
    for (size_t i = 0; i < n; i++) {
        if (!list[i])
            return tl_err_set(err, TL_EINVAL, "encoder: %s column %zu is NULL", what, i + 1);
        if (tl_frame_col(f, list[i]) < 0)
            return tl_err_set(err, TL_EINVAL, "encoder: %s column \"%s\" is not in the data", what,
                              tl__quote(q, sizeof q, list[i], strlen(list[i])));
    }
    return 0;
}

int tl_encoder_fit(const tl_frame *f, const struct tl_encoder_opts *opts, tl_encoder **out,
                   tl_err *err)
{
    if (!f || !opts || !out)
        return tl_err_set(err, TL_EINVAL, "tl_encoder_fit: frame, opts and out are required");
    char q[TL__QUOTE_SIZE];
    if (!opts->label)
        return tl_err_set(err, TL_EINVAL, "encoder: a label column is required");
    if (tl_frame_col(f, opts->label) < 0)
        return tl_err_set(err, TL_EINVAL, "encoder: label column \"%s\" is not in the data",
                          tl__quote(q, sizeof q, opts->label, strlen(opts->label)));
    int rc;
    if ((rc = check_names(f, "drop", opts->drop, opts->n_drop, err)) < 0 ||
        (rc = check_names(f, "protected", opts->protected_cols, opts->n_protected, err)) < 0 ||
        (rc = check_names(f, "categorical", opts->categorical, opts->n_categorical, err)) < 0)
        return rc;
    if (f->n_rows == 0)
        return tl_err_set(err, TL_EINVAL, "encoder: the data has no rows");
    if (f->n_rows > UINT32_MAX / 2)
        return tl_err_set(err, TL_ETOOBIG, "encoder: %zu rows, more than the encoder fits on",
                          f->n_rows);
    struct tl_encoder_opts o = *opts;
    if (o.max_levels == 0)
        o.max_levels = 64;
    if (o.max_levels > MAX_LEVELS_HARD)
        o.max_levels = MAX_LEVELS_HARD;
    tl_encoder *e = enc_alloc();
    struct column_scan cs = {0};
    cs.table_cap = 16;
    while (cs.table_cap < 2 * f->n_rows)
        cs.table_cap *= 2;
    cs.table = malloc(cs.table_cap * sizeof *cs.table);
    cs.d = malloc(f->n_rows * sizeof *cs.d);
    cs.vals = malloc(f->n_rows * sizeof *cs.vals);
    if (!e || !cs.table || !cs.d || !cs.vals) {
        rc = tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
        goto done;
    }
    e->standardize = o.standardize;
    e->impute = o.impute;
    e->inputs = tl_arena_calloc(e->arena, f->n_cols, sizeof *e->inputs);
    e->excluded = tl_arena_calloc(e->arena, f->n_cols, sizeof *e->excluded);
    if (!e->inputs || !e->excluded) {
        rc = tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
        goto done;
    }
    for (size_t c = 0; c < f->n_cols; c++) {
        const char *name = f->names[c];
        if (strcmp(name, o.label) == 0)
            continue;
        const char *why = in_list(name, o.drop, o.n_drop)                       ? "dropped"
                          : in_list(name, o.protected_cols, o.n_protected) ? "protected"
                                                                               : NULL;
        if (why) {
            if ((rc = exclude(e, name, why, false, err)) < 0)
                goto done;
            continue;
        }
        struct tl__enc_input *in = &e->inputs[e->n_inputs];
        why = fit_column(f, c, &o, &cs, in, e->arena);
        if (why) {
            memset(in, 0, sizeof *in);
            if ((rc = exclude(e, name, why, true, err)) < 0)
                goto done;
            continue;
        }
        if (!in->name || (in->kind == TL_FEAT_CATEGORICAL && !in->levels)) {
            rc = tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
            goto done;
        }
        e->n_inputs++;
    }
    if (e->n_inputs == 0) {
        rc = tl_err_set(err, TL_EINVAL,
                        "encoder: no input column left (%zu columns, all the label or excluded)",
                        f->n_cols);
        goto done;
    }
    rc = build_features(e, err);
done:
    free(cs.table);
    free(cs.d);
    free(cs.vals);
    if (rc < 0) {
        tl_encoder_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* ---- accessors ---------------------------------------------------------------*/
size_t tl_encoder_n_inputs(const tl_encoder *e)
{
    return e ? e->n_inputs : 0;
}

const char *tl_encoder_input_name(const tl_encoder *e, size_t j)
{
    return e && j < e->n_inputs ? e->inputs[j].name : NULL;
}

enum tl_feat_kind tl_encoder_input_kind(const tl_encoder *e, size_t j)
{
    return e && j < e->n_inputs ? e->inputs[j].kind : TL_FEAT_NUMERIC;
}

size_t tl_encoder_n_features(const tl_encoder *e)
{
    return e ? e->n_features : 0;
}

const char *tl_encoder_feature_name(const tl_encoder *e, size_t k)
{
    return e && k < e->n_features ? e->feat_names[k] : NULL;
}

size_t tl_encoder_feature_input(const tl_encoder *e, size_t k)
{
    return e && k < e->n_features ? e->feat_input[k] : 0;
}

size_t tl_encoder_n_excluded(const tl_encoder *e)
{
    return e ? e->n_excluded : 0;
}

const char *tl_encoder_excluded(const tl_encoder *e, size_t i, const char **reason)
{
    if (!e || i >= e->n_excluded)
        return NULL;
    if (reason)
        *reason = e->excluded[i].reason;
    return e->excluded[i].name;
}

/* ---- transforming --------------------------------------------------------------*/
int tl_encoder_transform_row(const tl_encoder *e, const char *const *cells, float *x, tl_err *err)
{
    if (!e || !cells || !x)
        return tl_err_set(err, TL_EINVAL, "tl_encoder_transform_row: encoder, cells and x are required");
    for (size_t i = 0; i < e->n_inputs; i++) {
        const struct tl__enc_input *in = &e->inputs[i];
        const char *s = cells[i];
        bool miss = tl__ml_missing(s);
        float *o = x + in->first_feat;
        if (in->kind == TL_FEAT_CATEGORICAL) {
            for (size_t k = 0; k < in->n_feat; k++)
                o[k] = 0.0f;
            long l = miss ? -1 : tl__ml_level_find(in->levels, in->n_levels, s);
            if (l >= 0)
                o[l] = 1.0f;
            else if (miss && in->has_missing)
                o[in->n_levels + in->has_other] = 1.0f;
            else if (in->has_other)
                o[in->n_levels] = 1.0f;
            continue;
        }
        double v = 0;
        if (miss) {
            v = e->impute ? in->median : NAN;
        } else {
            bool t = false, ok;
            if (in->kind == TL_FEAT_NUMERIC)
                ok = tl__ml_parse_num(s, &v);
            else if (in->kind == TL_FEAT_DATE)
                ok = tl__ml_parse_date(s, &v);
            else if ((ok = tl__ml_bool_pair(s, &t) == in->bool_pair))
                v = t;
            if (!ok) {
                char q[TL__QUOTE_SIZE];
                return tl_err_set(err, TL_EINVAL, "column \"%s\": \"%s\" is not a %s value", in->name,
                                  tl__quote(q, sizeof q, s, strlen(s)), kind_names[in->kind]);
            }
        }
        o[0] = (float)((v - in->mean) / in->sd);
        if (in->missing_ind)
            o[1] = miss ? 1.0f : 0.0f;
    }
    return 0;
}

int tl_encoder_transform(const tl_encoder *e, const tl_frame *f, float *X, tl_err *err)
{
    if (!e || !f || !X)
        return tl_err_set(err, TL_EINVAL, "tl_encoder_transform: encoder, frame and X are required");
    size_t ni = e->n_inputs;
    size_t *col = malloc((ni ? ni : 1) * sizeof *col);
    const char **cells = malloc((ni ? ni : 1) * sizeof *cells);
    int rc = 0;
    if (!col || !cells) {
        rc = tl_err_set(err, TL_ENOMEM, "encoder: out of memory");
        goto done;
    }
    for (size_t i = 0; i < ni; i++) {
        int c = tl_frame_col(f, e->inputs[i].name);
        if (c < 0) {
            rc = tl_err_set(err, TL_EINVAL, "the data has no column \"%s\", an input of the model",
                            e->inputs[i].name);
            goto done;
        }
        col[i] = (size_t)c;
    }
    for (size_t r = 0; r < f->n_rows; r++) {
        for (size_t i = 0; i < ni; i++)
            cells[i] = f->cells[r * f->n_cols + col[i]];
        /* (rows, n_features) row-major */
        if ((rc = tl_encoder_transform_row(e, cells, X + r * e->n_features, err)) < 0) {
            tl_err_prefix(err, "data row %zu", r + 1);
            goto done;
        }
    }
done:
    free(col);
    free((void *)cells);
    return rc;
}

/* ---- JSON ------------------------------------------------------------------------*/
json_t *tl_encoder_to_json(const tl_encoder *e)
{
    if (!e)
        return NULL;
    json_t *inputs = json_array(), *excluded = json_array();
    json_t *j = json_pack("{s:i, s:b, s:b, s:o, s:o}", "version", ENC_FORMAT_VERSION, "standardize",
                          e->standardize, "impute", e->impute, "inputs", inputs, "excluded", excluded);
    if (!j)
        return NULL;
    for (size_t i = 0; i < e->n_inputs; i++) {
        const struct tl__enc_input *in = &e->inputs[i];
        json_t *o = json_pack("{s:s, s:s}", "name", in->name, "kind", kind_names[in->kind]);
        if (!o || json_array_append_new(inputs, o) < 0)
            goto fail;
        if (in->kind == TL_FEAT_CATEGORICAL) {
            json_t *lv = json_array();
            if (json_object_set_new(o, "levels", lv) < 0)
                goto fail;
            for (size_t l = 0; l < in->n_levels; l++)
                if (json_array_append_new(lv, json_string(in->levels[l])) < 0)
                    goto fail;
            if (json_object_set_new(o, "other", json_boolean(in->has_other)) < 0 ||
                json_object_set_new(o, "missing", json_boolean(in->has_missing)) < 0)
                goto fail;
            continue;
        }
        /* jansson writes reals with 17 significant digits: they read back
         * bit for bit, so a loaded model scores exactly as the fitted one. */
        if (json_object_set_new(o, "mean", json_real(in->mean)) < 0 ||
            json_object_set_new(o, "sd", json_real(in->sd)) < 0 ||
            json_object_set_new(o, "median", json_real(in->median)) < 0 ||
            json_object_set_new(o, "missing_indicator", json_boolean(in->missing_ind)) < 0)
            goto fail;
        if (in->kind == TL_FEAT_BOOLEAN &&
            json_object_set_new(o, "values", json_pack("[s,s]", tl__bool_pairs[in->bool_pair][0],
                                                       tl__bool_pairs[in->bool_pair][1])) < 0)
            goto fail;
    }
    for (size_t i = 0; i < e->n_excluded; i++)
        if (json_array_append_new(excluded, json_pack("{s:s, s:s}", "name", e->excluded[i].name,
                                                      "reason", e->excluded[i].reason)) < 0)
            goto fail;
    return j;
fail:
    json_decref(j);
    return NULL;
}

static int get_real(const json_t *o, const char *key, const char *where, double *out, tl_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: \"%s\" must be a finite number", where,
                          key);
    *out = json_number_value(v);
    return 0;
}

static int get_bool(const json_t *o, const char *key, const char *where, bool *out, tl_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: \"%s\" must be true or false", where,
                          key);
    *out = json_is_true(v);
    return 0;
}

static char *dup_str(tl_arena *a, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!s || memchr(s, '\0', n))
        return NULL;
    return tl_arena_strndup(a, s, n);
}

static int load_input(tl_encoder *e, const json_t *o, size_t i, tl_err *err)
{
    char where[64];
    snprintf(where, sizeof where, "inputs[%zu]", i);
    struct tl__enc_input *in = &e->inputs[i];
    if (!json_is_object(o))
        return tl_err_set(err, TL_EINVAL, "encoder JSON: %s is not an object", where);
    json_t *name = json_object_get(o, "name"), *kind = json_object_get(o, "kind");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: \"name\" must be a non-empty string", where);
    if (!(in->name = dup_str(e->arena, name)))
        return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: bad \"name\"", where);
    snprintf(where, sizeof where, "input \"%.40s\"", in->name);
    int k = json_is_string(kind) ? kind_parse(json_string_value(kind)) : -1;
    if (k < 0)
        return tl_err_set(err, TL_EINVAL,
                          "encoder JSON: %s: \"kind\" must be numeric, categorical, boolean or date", where);
    in->kind = (enum tl_feat_kind)k;
    for (size_t j = 0; j < i; j++)
        if (strcmp(e->inputs[j].name, in->name) == 0)
            return tl_err_set(err, TL_EINVAL, "encoder JSON: %s appears twice", where);
    int rc;
    if (in->kind == TL_FEAT_CATEGORICAL) {
        json_t *lv = json_object_get(o, "levels");
        if (!json_is_array(lv) || json_array_size(lv) > MAX_LEVELS_HARD)
            return tl_err_set(err, TL_EINVAL,
                              "encoder JSON: %s: \"levels\" must be an array of at most %u strings",
                              where, MAX_LEVELS_HARD);
        in->n_levels = json_array_size(lv);
        in->levels = tl_arena_calloc(e->arena, in->n_levels ? in->n_levels : 1, sizeof *in->levels);
        if (!in->levels)
            return tl_err_set(err, TL_ENOMEM, "encoder JSON: out of memory");
        for (size_t l = 0; l < in->n_levels; l++) {
            json_t *s = json_array_get(lv, l);
            if (!json_is_string(s) || !(in->levels[l] = dup_str(e->arena, s)))
                return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: level %zu is not a string", where, l);
            /* Scoring finds levels by binary search: order is a must. */
            if (l && strcmp(in->levels[l - 1], in->levels[l]) >= 0)
                return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: levels are not sorted and unique at %zu",
                                  where, l);
        }
        if ((rc = get_bool(o, "other", where, &in->has_other, err)) < 0 ||
            (rc = get_bool(o, "missing", where, &in->has_missing, err)) < 0)
            return rc;
        return 0;
    }
    if ((rc = get_real(o, "mean", where, &in->mean, err)) < 0 ||
        (rc = get_real(o, "sd", where, &in->sd, err)) < 0 ||
        (rc = get_real(o, "median", where, &in->median, err)) < 0 ||
        (rc = get_bool(o, "missing_indicator", where, &in->missing_ind, err)) < 0)
        return rc;
    if (!(in->sd > 0))
        return tl_err_set(err, TL_EINVAL, "encoder JSON: %s: \"sd\" must be positive", where);
    if (in->kind == TL_FEAT_BOOLEAN) {
        json_t *vals = json_object_get(o, "values");
        in->bool_pair = -1;
        for (int p = 0; p < TL__BOOL_PAIRS && json_array_size(vals) == 2; p++) {
            const char *f0 = json_string_value(json_array_get(vals, 0));
            const char *t1 = json_string_value(json_array_get(vals, 1));
            if (f0 && t1 && strcmp(f0, tl__bool_pairs[p][0]) == 0 && strcmp(t1, tl__bool_pairs[p][1]) == 0)
                in->bool_pair = p;
        }
        if (in->bool_pair < 0)
            return tl_err_set(err, TL_EINVAL,
                              "encoder JSON: %s: \"values\" must be one of [\"0\",\"1\"], "
                              "[\"false\",\"true\"], "
                              "[\"no\",\"yes\"], [\"n\",\"y\"]",
                              where);
    }
    return 0;
}

int tl_encoder_from_json(const json_t *j, tl_encoder **out, tl_err *err)
{
    if (!j || !out)
        return tl_err_set(err, TL_EINVAL, "tl_encoder_from_json: json and out are required");
    if (!json_is_object(j))
        return tl_err_set(err, TL_EINVAL, "encoder JSON: not an object");
    json_t *ver = json_object_get(j, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != ENC_FORMAT_VERSION)
        return tl_err_set(err, TL_EINVAL, "encoder JSON: \"version\" must be %d", ENC_FORMAT_VERSION);
    json_t *inputs = json_object_get(j, "inputs"), *excluded = json_object_get(j, "excluded");
    if (!json_is_array(inputs) || json_array_size(inputs) == 0 ||
        json_array_size(inputs) > TL_FRAME_MAX_COLS)
        return tl_err_set(err, TL_EINVAL, "encoder JSON: \"inputs\" must be an array of 1 to %u inputs",
                          TL_FRAME_MAX_COLS);
    if (!json_is_array(excluded) || json_array_size(excluded) > TL_FRAME_MAX_COLS)
        return tl_err_set(err, TL_EINVAL, "encoder JSON: \"excluded\" must be an array");
    tl_encoder *e = enc_alloc();
    if (!e)
        return tl_err_set(err, TL_ENOMEM, "encoder JSON: out of memory");
    int rc;
    if ((rc = get_bool(j, "standardize", "top level", &e->standardize, err)) < 0 ||
        (rc = get_bool(j, "impute", "top level", &e->impute, err)) < 0)
        goto fail;
    size_t ni = json_array_size(inputs), nx = json_array_size(excluded);
    e->inputs = tl_arena_calloc(e->arena, ni, sizeof *e->inputs);
    e->excluded = tl_arena_calloc(e->arena, nx ? nx : 1, sizeof *e->excluded);
    if (!e->inputs || !e->excluded) {
        rc = tl_err_set(err, TL_ENOMEM, "encoder JSON: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ni; i++) {
        if ((rc = load_input(e, json_array_get(inputs, i), i, err)) < 0)
            goto fail;
        e->n_inputs++;
    }
    for (size_t i = 0; i < nx; i++) {
        json_t *x = json_array_get(excluded, i);
        const char *reason = json_string_value(json_object_get(x, "reason"));
        struct tl__enc_excluded *ex = &e->excluded[i];
        ex->name = dup_str(e->arena, json_object_get(x, "name"));
        for (size_t r = 0; reason && r < sizeof reasons / sizeof reasons[0]; r++)
            if (strcmp(reason, reasons[r]) == 0)
                ex->reason = reasons[r];
        if (!ex->name || !ex->reason) {
            rc = tl_err_set(err, TL_EINVAL,
                            "encoder JSON: excluded[%zu] needs a \"name\" and a known \"reason\"",
                            i);
            goto fail;
        }
        e->n_excluded++;
    }
    if ((rc = build_features(e, err)) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    tl_encoder_free(e);
    return rc;
}
