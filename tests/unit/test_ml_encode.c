/* test_ml_encode.c - the fitted encoder: kinds, exclusions, levels, scaling,
 * imputation, scoring one row, and the JSON round trip. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/json.h>
#include <teller/ml_data.h>

#include "testutil.h"

static char *fixture(const char *name)
{
    static char buf[4096];
    const char *src = getenv("TELLER_SRC");
    if (src) {
        snprintf(buf, sizeof buf, "%s/tests/fixtures/ml/%s", src, name);
    } else {
        snprintf(buf, sizeof buf, "%s", __FILE__);
        char *p = strstr(buf, "/unit/test_ml_encode.c");
        cr_assert_not_null(p);
        snprintf(p, sizeof buf - (size_t)(p - buf), "/fixtures/ml/%s", name);
    }
    return buf;
}

static tl_frame *kinds(void)
{
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_read_csv(fixture("kinds.csv"), &f, &err), 0, "%s", err.msg);
    return f;
}

static const char *const region[] = {"region"};

static struct tl_encoder_opts kinds_opts(void)
{
    struct tl_encoder_opts o = TL_ENCODER_OPTS_DEFAULT;
    o.label = "label";
    o.categorical = region;
    o.n_categorical = 1;
    o.min_level_count = 2;
    return o;
}

static long feat(const tl_encoder *e, const char *name)
{
    for (size_t k = 0; k < tl_encoder_n_features(e); k++)
        if (strcmp(tl_encoder_feature_name(e, k), name) == 0)
            return (long)k;
    return -1;
}

static long input(const tl_encoder *e, const char *name)
{
    for (size_t j = 0; j < tl_encoder_n_inputs(e); j++)
        if (strcmp(tl_encoder_input_name(e, j), name) == 0)
            return (long)j;
    return -1;
}

static const char *excluded_reason(const tl_encoder *e, const char *name)
{
    for (size_t i = 0; i < tl_encoder_n_excluded(e); i++) {
        const char *why;
        if (strcmp(tl_encoder_excluded(e, i, &why), name) == 0)
            return why;
    }
    return NULL;
}

Test(ml_encode, kinds_and_exclusions)
{
    tl_frame *f = kinds();
    struct tl_encoder_opts o = kinds_opts();
    tl_encoder *e;
    tl_err err = {0};
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    struct {
        const char *name;
        enum tl_feat_kind kind;
    } want[] = {
        {"amount", TL_FEAT_NUMERIC},     {"purpose", TL_FEAT_CATEGORICAL}, {"has_phone", TL_FEAT_BOOLEAN},
        {"opened", TL_FEAT_DATE},        {"region", TL_FEAT_CATEGORICAL},  {"ratio", TL_FEAT_CATEGORICAL},
        {"small", TL_FEAT_NUMERIC},      {"flag", TL_FEAT_BOOLEAN},
    };
    cr_assert_eq(tl_encoder_n_inputs(e), 8);
    for (size_t i = 0; i < 8; i++) {
        cr_assert_str_eq(tl_encoder_input_name(e, i), want[i].name);
        cr_assert_eq(tl_encoder_input_kind(e, i), want[i].kind, "%s is %s", want[i].name,
                     tl_feat_kind_name(tl_encoder_input_kind(e, i)));
    }
    cr_assert_str_eq(excluded_reason(e, "customer_id"), "ID-like");
    cr_assert_str_eq(excluded_reason(e, "const_col"), "constant");
    cr_assert_str_eq(excluded_reason(e, "empty_col"), "all missing");
    cr_assert_null(excluded_reason(e, "label"), "the label is not an exclusion");
    const char *names[] = {"amount", "amount__missing", "purpose=car", "purpose=edu", "purpose=tv",
                           "purpose=__other__", "has_phone", "has_phone__missing", "opened",
                           "opened__missing", "region=10", "region=20", "region=30", "ratio=1.5",
                           "ratio=2.5", "ratio=inf", "small", "flag"};
    cr_assert_eq(tl_encoder_n_features(e), sizeof names / sizeof names[0]);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        cr_assert_str_eq(tl_encoder_feature_name(e, k), names[k]);
    cr_assert_eq(tl_encoder_feature_input(e, 5), 1);
    cr_assert_eq(tl_encoder_feature_input(e, 17), 7);
    tl_encoder_free(e);
    tl_frame_free(f);
}

Test(ml_encode, values_scaling_imputation)
{
    tl_frame *f = kinds();
    struct tl_encoder_opts o = kinds_opts();
    tl_encoder *e;
    tl_err err = {0};
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    size_t n = tl_frame_rows(f), d = tl_encoder_n_features(e);
    float *X = malloc(n * d * sizeof *X);
    cr_assert_eq(tl_encoder_transform(e, f, X, &err), 0, "%s", err.msg);
    /* numpy over the 22 present amounts: mean, std (ddof 0), median */
    const double mean = 208.22727272727272, sd = 73.66026548108418, med = 197.0;
    cr_assert_float_eq(X[0 * d + 0], (float)((100.5 - mean) / sd), 1e-6);
    cr_assert_eq(X[0 * d + 1], 0.0f);
    cr_assert_float_eq(X[5 * d + 0], (float)((med - mean) / sd), 1e-6, "empty imputed by the median");
    cr_assert_eq(X[5 * d + 1], 1.0f);
    cr_assert_eq(X[11 * d + 1], 1.0f, "\"nan\" is missing");
    double s = 0, ss = 0;
    for (size_t r = 0; r < n; r++)
        if (r != 5 && r != 11) {
            s += X[r * d];
            ss += X[r * d] * X[r * d];
        }
    cr_assert_float_eq(s / 22, 0.0, 1e-5, "standardized present values have mean 0");
    cr_assert_float_eq(ss / 22, 1.0, 1e-5, "and sd 1");
    /* purpose: row 18 holds "rare", seen once (< min_level_count 2) */
    cr_assert_eq(X[18 * d + feat(e, "purpose=__other__")], 1.0f);
    cr_assert_eq(X[18 * d + feat(e, "purpose=car")], 0.0f);
    cr_assert_eq(X[0 * d + feat(e, "purpose=car")], 1.0f);
    /* booleans: "yes" and "Yes" are true; row 7 "NA" imputed by the median (1) */
    long hp = feat(e, "has_phone");
    cr_assert_eq(X[0 * d + hp], 1.0f);
    cr_assert_eq(X[1 * d + hp], 0.0f);
    cr_assert_eq(X[2 * d + hp], 1.0f);
    cr_assert_eq(X[7 * d + hp], 1.0f);
    cr_assert_eq(X[7 * d + hp + 1], 1.0f);
    /* dates: numpy says mean 18445.130434782608, std 107.56244065165778 days */
    long op = feat(e, "opened");
    cr_assert_float_eq(X[0 * d + op], (float)((18262 - 18445.130434782608) / 107.56244065165778), 1e-5);
    cr_assert_eq(X[3 * d + op + 1], 1.0f);
    /* numeric with two values that are not 0/1 stays numeric, scaled */
    long sm = feat(e, "small");
    cr_assert_float_eq(X[0 * d + sm], -1.0f, 1e-6);
    cr_assert_float_eq(X[1 * d + sm], 1.0f, 1e-6);
    free(X);
    tl_encoder_free(e);

    /* No scaling, no imputing: raw values and NaN, no indicator outputs. */
    o.standardize = false;
    o.impute = false;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(feat(e, "amount__missing"), -1);
    d = tl_encoder_n_features(e);
    X = malloc(n * d * sizeof *X);
    cr_assert_eq(tl_encoder_transform(e, f, X, &err), 0, "%s", err.msg);
    cr_assert_eq(X[0 * d + feat(e, "amount")], 100.5f);
    cr_assert(isnan(X[5 * d + feat(e, "amount")]));
    cr_assert_eq(X[0 * d + feat(e, "opened")], 18262.0f, "2020-01-01 is day 18262");
    cr_assert(isnan(X[3 * d + feat(e, "opened")]));
    cr_assert(isnan(X[7 * d + feat(e, "has_phone")]));
    free(X);
    tl_encoder_free(e);
    tl_frame_free(f);
}

Test(ml_encode, transform_row_unseen_and_bad_cells)
{
    tl_frame *f = kinds();
    struct tl_encoder_opts o = kinds_opts();
    o.standardize = false;
    tl_encoder *e;
    tl_err err = {0};
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    size_t d = tl_encoder_n_features(e);
    float x[64];
    cr_assert_leq(d, 64);
    /* amount purpose has_phone opened region ratio small flag */
    const char *row[] = {"150", "boat", "YES", "2020-01-01T23:59:00Z", "99", "2.5", "2", "0"};
    cr_assert_eq(tl_encoder_transform_row(e, row, x, &err), 0, "%s", err.msg);
    cr_assert_eq(x[feat(e, "amount")], 150.0f);
    cr_assert_eq(x[feat(e, "purpose=__other__")], 1.0f, "unseen level goes to __other__");
    cr_assert_eq(x[feat(e, "has_phone")], 1.0f);
    cr_assert_eq(x[feat(e, "opened")], 18262.0f, "an instant counts as its UTC day");
    for (long k = feat(e, "region=10"); k <= feat(e, "region=30"); k++)
        cr_assert_eq(x[k], 0.0f, "no __other__ in region: all zeros");
    cr_assert_eq(x[feat(e, "ratio=2.5")], 1.0f);
    cr_assert_eq(x[feat(e, "flag")], 0.0f);

    const char *bad[][8] = {
        {"12x", "car", "yes", "2020-01-01", "10", "1.5", "1", "0"},
        {"inf", "car", "yes", "2020-01-01", "10", "1.5", "1", "0"},
        {"1", "car", "maybe", "2020-01-01", "10", "1.5", "1", "0"},
        {"1", "car", "yes", "2020-02-30", "10", "1.5", "1", "0"},
        {"1", "car", "yes", "2020-01-01", "10", "1.5", "1", "true"},
    };
    const char *col[] = {"amount", "amount", "has_phone", "opened", "flag"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(tl_encoder_transform_row(e, bad[i], x, &err), TL_EINVAL, "case %zu", i);
        char want[64];
        snprintf(want, sizeof want, "column \"%s\"", col[i]);
        cr_assert(strstr(err.msg, want), "%s", err.msg);
    }
    /* Every cell missing: imputed values and missing levels. */
    const char *none[8] = {0};
    cr_assert_eq(tl_encoder_transform_row(e, none, x, &err), 0, "%s", err.msg);
    cr_assert_eq(x[feat(e, "amount")], 197.0f, "the training median");
    cr_assert_eq(x[feat(e, "amount__missing")], 1.0f);
    cr_assert_eq(x[feat(e, "purpose=__other__")], 1.0f, "missing unseen in training: __other__");
    tl_encoder_free(e);

    /* A bad cell in a frame names its row. */
    const char *names[] = {"amount", "purpose", "has_phone", "opened", "region", "ratio", "small", "flag"};
    tl_frame *g;
    cr_assert_eq(tl_frame_new(8, names, &g, &err), 0);
    cr_assert_eq(tl_frame_append(g, row, &err), 0);
    cr_assert_eq(tl_frame_append(g, bad[0], &err), 0);
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0);
    float X[2 * 64];
    cr_assert_eq(tl_encoder_transform(e, g, X, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 2") && strstr(err.msg, "\"amount\"") && strstr(err.msg, "\"12x\""), "%s",
              err.msg);
    tl_frame_free(g);
    const char *short_names[] = {"amount"};
    cr_assert_eq(tl_frame_new(1, short_names, &g, &err), 0);
    cr_assert_eq(tl_encoder_transform(e, g, X, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"purpose\""), "%s", err.msg);
    tl_frame_free(g);
    tl_encoder_free(e);
    tl_frame_free(f);
}

Test(ml_encode, bad_options)
{
    tl_frame *f = kinds();
    tl_encoder *e = NULL;
    tl_err err = {0};
    struct tl_encoder_opts o = kinds_opts();
    const char *drop[] = {"amount", "nosuch"};
    o.drop = drop;
    o.n_drop = 2;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "drop") && strstr(err.msg, "\"nosuch\""), "%s", err.msg);

    o = kinds_opts();
    const char *prot[] = {"sex"};
    o.protected_cols = prot;
    o.n_protected = 1;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "protected") && strstr(err.msg, "\"sex\""), "%s", err.msg);

    o = kinds_opts();
    o.label = "target";
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"target\""), "%s", err.msg);
    o.label = NULL;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), TL_EINVAL);

    o = kinds_opts();
    const char *all[] = {"amount", "purpose", "has_phone", "opened", "region", "ratio"};
    const char *prot2[] = {"small", "flag"};
    o.drop = all;
    o.n_drop = 6;
    o.protected_cols = prot2;
    o.n_protected = 2;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "no input"), "%s", err.msg);

    o.n_protected = 1;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_encoder_n_inputs(e), 1);
    cr_assert_str_eq(excluded_reason(e, "small"), "protected");
    cr_assert_str_eq(excluded_reason(e, "amount"), "dropped");
    tl_encoder_free(e);
    tl_frame_free(f);
}

/* 20,000 rows, "code" with 10,000 levels each seen twice, plus a number. */
static tl_frame *many_levels(void)
{
    const char *names[] = {"code", "x", "y"};
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_new(3, names, &f, &err), 0);
    for (int i = 0; i < 20000; i++) {
        char code[16], x[16];
        snprintf(code, sizeof code, "L%05d", i < 600 ? i % 30 : i / 2);
        snprintf(x, sizeof x, "%d.25", i % 13);
        const char *row[] = {code, x, i % 2 ? "1" : "0"};
        cr_assert_eq(tl_frame_append(f, row, &err), 0);
    }
    return f;
}

Test(ml_encode, many_levels_fold_into_other)
{
    tl_frame *f = many_levels();
    tl_encoder *e;
    tl_err err = {0};
    struct tl_encoder_opts o = TL_ENCODER_OPTS_DEFAULT;
    o.label = "y";
    o.min_level_count = 1;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_encoder_input_kind(e, 0), TL_FEAT_CATEGORICAL);
    /* 64 levels + __other__ + x */
    cr_assert_eq(tl_encoder_n_features(e), 66);
    cr_assert_str_eq(tl_encoder_feature_name(e, 64), "code=__other__");
    /* the 30 levels seen 20 times come first by frequency */
    cr_assert_geq(feat(e, "code=L00000"), 0);
    cr_assert_geq(feat(e, "code=L00029"), 0);
    float x[66];
    const char *row[] = {"L09999", "1"};
    cr_assert_eq(tl_encoder_transform_row(e, row, x, &err), 0);
    cr_assert_eq(x[64], 1.0f);
    tl_encoder_free(e);

    o.min_level_count = 10; /* only the 30 frequent levels reach it */
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_encoder_n_features(e), 32);
    tl_encoder_free(e);
    tl_frame_free(f);
}

static char *dump(const json_t *j)
{
    char *s = tl_json_dump(j);
    cr_assert_not_null(s);
    return s;
}

static void round_trip_identical(const tl_frame *f, const struct tl_encoder_opts *o)
{
    tl_encoder *e, *e2;
    tl_err err = {0};
    cr_assert_eq(tl_encoder_fit(f, o, &e, &err), 0, "%s", err.msg);
    json_t *j = tl_encoder_to_json(e);
    char *text = dump(j);
    json_t *back = tl_json_parse(text, strlen(text), "encoder", &err);
    cr_assert_not_null(back, "%s", err.msg);
    cr_assert_eq(tl_encoder_from_json(back, &e2, &err), 0, "%s", err.msg);
    json_t *j2 = tl_encoder_to_json(e2);
    char *text2 = dump(j2);
    cr_assert_str_eq(text, text2);
    size_t n = tl_frame_rows(f), d = tl_encoder_n_features(e);
    cr_assert_eq(tl_encoder_n_features(e2), d);
    float *X = malloc(n * d * sizeof *X), *X2 = malloc(n * d * sizeof *X2), *x = malloc(d * sizeof *x);
    cr_assert_eq(tl_encoder_transform(e, f, X, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_encoder_transform(e2, f, X2, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(X, X2, n * d * sizeof *X), 0, "the loaded encoder gives identical bytes");
    /* transform_row on the inputs in input order equals transform */
    size_t ni = tl_encoder_n_inputs(e2);
    const char **cells = malloc(ni * sizeof *cells);
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < ni; i++)
            cells[i] = tl_frame_cell(f, r, (size_t)tl_frame_col(f, tl_encoder_input_name(e2, i)));
        cr_assert_eq(tl_encoder_transform_row(e2, cells, x, &err), 0, "%s", err.msg);
        cr_assert_eq(memcmp(x, X + r * d, d * sizeof *x), 0, "row %zu", r);
    }
    free(cells);
    free(X);
    free(X2);
    free(x);
    free(text);
    free(text2);
    json_decref(j);
    json_decref(j2);
    json_decref(back);
    tl_encoder_free(e);
    tl_encoder_free(e2);
}

Test(ml_encode, json_round_trip_fixture)
{
    tl_frame *f = kinds();
    struct tl_encoder_opts o = kinds_opts();
    round_trip_identical(f, &o);
    o.impute = false;
    round_trip_identical(f, &o);
    tl_frame_free(f);
}

Test(ml_encode, json_round_trip_german)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data/german_credit/dev.csv", tu_shared_dir());
    FILE *fp = fopen(path, "r");
    if (!fp)
        cr_skip_test("german credit data not found at %s", path);
    fclose(fp);
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_read_csv(path, &f, &err), 0, "%s", err.msg);
    struct tl_encoder_opts o = TL_ENCODER_OPTS_DEFAULT;
    o.label = "class";
    round_trip_identical(f, &o);
    tl_encoder *e;
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_encoder_n_inputs(e), 20, "nothing excluded");
    cr_assert_eq(tl_encoder_input_kind(e, (size_t)input(e, "checking_status")), TL_FEAT_CATEGORICAL);
    cr_assert_eq(tl_encoder_input_kind(e, (size_t)input(e, "duration_months")), TL_FEAT_NUMERIC);
    cr_assert_eq(tl_encoder_input_kind(e, (size_t)input(e, "num_dependents")), TL_FEAT_NUMERIC);
    cr_assert_geq(feat(e, "checking_status=A14"), 0);
    tl_encoder_free(e);
    tl_frame_free(f);
}

/* Edits the fixture encoder's JSON with fn and expects from_json to refuse
 * it with a message holding want. */
static void expect_refused(void (*fn)(json_t *), const char *want)
{
    tl_frame *f = kinds();
    struct tl_encoder_opts o = kinds_opts();
    tl_encoder *e;
    tl_err err = {0};
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    json_t *j = tl_encoder_to_json(e);
    fn(j);
    tl_encoder *e2 = NULL;
    cr_assert_eq(tl_encoder_from_json(j, &e2, &err), TL_EINVAL, "want an error with %s", want);
    cr_assert_null(e2);
    cr_assert(strstr(err.msg, want), "%s (want %s)", err.msg, want);
    json_decref(j);
    tl_encoder_free(e);
    tl_frame_free(f);
}

static json_t *in_at(json_t *j, size_t i)
{
    return json_array_get(json_object_get(j, "inputs"), i);
}
static void t_version(json_t *j) { json_object_set_new(j, "version", json_integer(99)); }
static void t_kind(json_t *j) { json_object_set_new(in_at(j, 0), "kind", json_string("weird")); }
static void t_sd(json_t *j) { json_object_set_new(in_at(j, 0), "sd", json_real(-1)); }
static void t_mean(json_t *j) { json_object_del(in_at(j, 0), "mean"); }
static void t_levels(json_t *j)
{
    json_array_append_new(json_object_get(in_at(j, 1), "levels"), json_string("aaa"));
}
static void t_level_type(json_t *j)
{
    json_array_set_new(json_object_get(in_at(j, 1), "levels"), 0, json_integer(3));
}
static void t_bool(json_t *j) { json_object_set_new(in_at(j, 2), "values", json_pack("[s,s]", "no", "si")); }
static void t_dup(json_t *j) { json_object_set_new(in_at(j, 1), "name", json_string("amount")); }
static void t_inputs(json_t *j) { json_object_set_new(j, "inputs", json_array()); }
static void t_reason(json_t *j)
{
    json_object_set_new(json_array_get(json_object_get(j, "excluded"), 0), "reason", json_string("why not"));
}
static void t_other(json_t *j) { json_object_set_new(in_at(j, 1), "other", json_string("yes")); }
static void t_input_type(json_t *j) { json_array_set_new(json_object_get(j, "inputs"), 0, json_string("x")); }

Test(ml_encode, tampered_json_is_an_error)
{
    expect_refused(t_version, "version");
    expect_refused(t_kind, "kind");
    expect_refused(t_sd, "sd");
    expect_refused(t_mean, "mean");
    expect_refused(t_levels, "sorted");
    expect_refused(t_level_type, "level 0");
    expect_refused(t_bool, "values");
    expect_refused(t_dup, "twice");
    expect_refused(t_inputs, "inputs");
    expect_refused(t_reason, "reason");
    expect_refused(t_other, "other");
    expect_refused(t_input_type, "inputs[0]");
    tl_encoder *e;
    tl_err err = {0};
    json_t *s = json_string("x");
    cr_assert_eq(tl_encoder_from_json(s, &e, &err), TL_EINVAL);
    json_decref(s);
}

Test(ml_encode, removing_any_member_is_an_error)
{
    tl_frame *f = kinds();
    struct tl_encoder_opts o = kinds_opts();
    tl_encoder *e;
    tl_err err = {0};
    cr_assert_eq(tl_encoder_fit(f, &o, &e, &err), 0, "%s", err.msg);
    json_t *j = tl_encoder_to_json(e);
    json_t *inputs = json_object_get(j, "inputs");
    for (size_t i = 0; i < json_array_size(inputs); i++) {
        const char *key;
        json_t *val;
        void *tmp;
        json_object_foreach_safe(json_array_get(inputs, i), tmp, key, val)
        {
            json_t *copy = json_deep_copy(j);
            json_object_del(json_array_get(json_object_get(copy, "inputs"), i), key);
            tl_encoder *e2 = NULL;
            cr_assert_eq(tl_encoder_from_json(copy, &e2, &err), TL_EINVAL, "inputs[%zu] without %s", i, key);
            json_decref(copy);
        }
    }
    json_decref(j);
    tl_encoder_free(e);
    tl_frame_free(f);
}
