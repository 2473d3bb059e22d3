/* test_ml_woe.c - weight-of-evidence binning: hand-computed WoE, German
 * credit (IV ranking, monotonic bins), scoring rows and the JSON round trip. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/json.h>
#include <teller/ml_data.h>

#include "testutil.h"

struct fit {
    tl_frame *f;
    tl_encoder *e;
    uint8_t *y;
    tl_woe *w;
};

static void fit_all(struct fit *t, const char *label, const char *positive, const struct tl_woe_opts *wo)
{
    tl_err err = {0};
    struct tl_encoder_opts o = TL_ENCODER_OPTS_DEFAULT;
    o.label = label;
    o.min_level_count = 1;
    cr_assert_eq(tl_frame_label(t->f, label, positive, &t->y, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_encoder_fit(t->f, &o, &t->e, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_woe_fit(t->e, t->f, t->y, wo, &t->w, &err), 0, "%s", err.msg);
}

static void fit_free(struct fit *t)
{
    tl_woe_free(t->w);
    tl_encoder_free(t->e);
    free(t->y);
    tl_frame_free(t->f);
}

static long var(const tl_woe *w, const char *name)
{
    for (size_t v = 0; v < tl_woe_n_vars(w); v++)
        if (strcmp(tl_woe_var_name(w, v), name) == 0)
            return (long)v;
    return -1;
}

/* grade A: 3 of 4 positive, B: 1 of 4; x is a number; P = N = 4. */
static tl_frame *tiny(void)
{
    const char *names[] = {"grade", "x", "y"};
    const char *rows[][3] = {
        {"A", "1.5", "1"}, {"A", "2.5", "1"}, {"A", "3.5", "1"}, {"A", "4.5", "0"},
        {"B", "5.5", "1"}, {"B", "6.5", "0"}, {"B", "7.5", "0"}, {"B", NULL, "0"},
    };
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_new(3, names, &f, &err), 0);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(tl_frame_append(f, rows[i], &err), 0);
    return f;
}

Test(ml_woe, hand_computed)
{
    struct fit t = {.f = tiny()};
    struct tl_woe_opts wo = {.max_bins = 2, .min_bin_frac = 0};
    fit_all(&t, "y", "1", &wo);
    long g = var(t.w, "grade");
    cr_assert_geq(g, 0);
    /* bins: A, B, missing, unseen */
    cr_assert_eq(tl_woe_var_n_bins(t.w, (size_t)g), 4);
    const struct tl_woe_bin *a = tl_woe_var_bin(t.w, (size_t)g, 0), *b = tl_woe_var_bin(t.w, (size_t)g, 1);
    cr_assert_str_eq(a->label, "A");
    cr_assert_eq(a->n, 4);
    cr_assert_eq(a->n_pos, 3);
    /* ln((3 + .5)/(4 + .5)) - ln((1 + .5)/(4 + .5)) = ln(3.5/1.5) */
    cr_assert_float_eq(a->woe, log(3.5 / 1.5), 1e-12);
    cr_assert_float_eq(b->woe, -log(3.5 / 1.5), 1e-12);
    /* IV = (3/4 - 1/4) ln(7/3) + (1/4 - 3/4)(-ln(7/3)) = ln(7/3) */
    cr_assert_float_eq(tl_woe_var_iv(t.w, (size_t)g), log(7.0 / 3.0), 1e-12);
    cr_assert(tl_woe_var_bin(t.w, (size_t)g, 2)->missing);
    cr_assert_eq(tl_woe_var_bin(t.w, (size_t)g, 2)->woe, 0.0, "no missing in training: no evidence");
    cr_assert_str_eq(tl_woe_var_bin(t.w, (size_t)g, 3)->label, "unseen");

    /* x: 7 values, two pre-bins cut at the 4th value (4.5): (-inf, 4.5] holds
     * 1.5..4.5 (3 pos, 1 neg), (4.5, inf) 5.5..7.5 (1 pos, 2 neg), and the
     * missing bin holds one negative. */
    long x = var(t.w, "x");
    cr_assert_eq(tl_woe_var_n_bins(t.w, (size_t)x), 3);
    const struct tl_woe_bin *x0 = tl_woe_var_bin(t.w, (size_t)x, 0), *x1 = tl_woe_var_bin(t.w, (size_t)x, 1),
                            *xm = tl_woe_var_bin(t.w, (size_t)x, 2);
    cr_assert_eq(x0->hi, 4.5);
    cr_assert(isinf(x0->lo) && x0->lo < 0);
    cr_assert_str_eq(x0->label, "(-inf, 4.5]");
    cr_assert_str_eq(x1->label, "(4.5, inf)");
    cr_assert_eq(x1->n, 3);
    cr_assert_float_eq(x1->woe, log(1.5 / 4.5) - log(2.5 / 4.5), 1e-12);
    cr_assert(xm->missing);
    cr_assert_eq(xm->n, 1);
    cr_assert_float_eq(xm->woe, log(0.5 / 4.5) - log(1.5 / 4.5), 1e-12);

    /* rows */
    size_t bin[2];
    double woe[2];
    tl_err err = {0};
    const char *r1[] = {"A", "4.5"};
    cr_assert_eq(tl_woe_row(t.w, r1, bin, woe, &err), 0, "%s", err.msg);
    cr_assert(bin[0] == 0 && bin[1] == 0, "4.5 falls in (-inf, 4.5]");
    const char *r2[] = {"Z", "4.6"};
    cr_assert_eq(tl_woe_row(t.w, r2, bin, woe, &err), 0);
    cr_assert(bin[0] == 3 && woe[0] == 0.0 && bin[1] == 1, "unseen level, upper bin");
    const char *r3[] = {NULL, "NA"};
    cr_assert_eq(tl_woe_row(t.w, r3, bin, NULL, &err), 0);
    cr_assert(bin[0] == 2 && bin[1] == 2);
    const char *r4[] = {"A", "abc"};
    cr_assert_eq(tl_woe_row(t.w, r4, bin, woe, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"x\""), "%s", err.msg);
    fit_free(&t);
}

Test(ml_woe, small_levels_merge_with_nearest_woe)
{
    /* C (2 rows, both positive) is under 25% of 16 rows and joins A, whose
     * WoE is nearest; D (2 rows, negative) joins B. */
    const char *names[] = {"g", "y"};
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_new(2, names, &f, &err), 0);
    const char *spec[] = {"A1", "A1", "A1", "A0", "A1", "A0", "B0", "B0", "B0", "B1", "B0", "B0",
                          "C1", "C1", "D0", "D0"};
    for (size_t i = 0; i < 16; i++) {
        char g[2] = {spec[i][0], 0}, y[2] = {spec[i][1], 0};
        const char *row[] = {g, y};
        cr_assert_eq(tl_frame_append(f, row, &err), 0);
    }
    struct fit t = {.f = f};
    struct tl_woe_opts wo = {.max_bins = 10, .min_bin_frac = 0.25};
    fit_all(&t, "y", "1", &wo);
    cr_assert_eq(tl_woe_var_n_bins(t.w, 0), 4);
    cr_assert_str_eq(tl_woe_var_bin(t.w, 0, 0)->label, "A, C");
    cr_assert_str_eq(tl_woe_var_bin(t.w, 0, 1)->label, "B, D");
    cr_assert_eq(tl_woe_var_bin(t.w, 0, 0)->n, 8);
    cr_assert_eq(tl_woe_var_bin(t.w, 0, 0)->n_pos, 6);
    fit_free(&t);
}

static char *german_path(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/data/german_credit/dev.csv", tu_shared_dir());
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    fclose(fp);
    return path;
}

Test(ml_woe, german_credit)
{
    char *path = german_path();
    if (!path)
        cr_skip_test("german credit data not found under %s", tu_shared_dir());
    struct fit t = {0};
    tl_err err = {0};
    cr_assert_eq(tl_frame_read_csv(path, &t.f, &err), 0, "%s", err.msg);
    fit_all(&t, "class", "2", NULL);
    size_t nv = tl_woe_n_vars(t.w);
    cr_assert_eq(nv, 20);
    long cs = var(t.w, "checking_status");
    for (size_t v = 0; v < nv; v++)
        if ((long)v != cs)
            cr_assert_lt(tl_woe_var_iv(t.w, v), tl_woe_var_iv(t.w, (size_t)cs), "%s has IV %g",
                         tl_woe_var_name(t.w, v), tl_woe_var_iv(t.w, v));
    /* Python over dev.csv, every level above 5% of the rows so no merge:
     * A11 220 rows 110 bad, WoE ln(110.5/240.5) - ln(110.5/560.5); IV sum. */
    cr_assert_float_eq(tl_woe_var_iv(t.w, (size_t)cs), 0.6572084893340413, 1e-9);
    const struct tl_woe_bin *a11 = tl_woe_var_bin(t.w, (size_t)cs, 0);
    cr_assert_str_eq(a11->label, "A11");
    cr_assert_eq(a11->n, 220);
    cr_assert_eq(a11->n_pos, 110);
    cr_assert_float_eq(a11->woe, 0.846109, 1e-6);

    /* duration_months: monotonic WoE (longer loans riskier), every bin at
     * least 5% of 800 rows, edges increasing */
    long d = var(t.w, "duration_months");
    size_t nb = tl_woe_var_n_bins(t.w, (size_t)d);
    cr_assert_geq(nb, 4, "at least 3 value bins plus missing");
    double prev = -INFINITY;
    for (size_t b = 0; b + 1 < nb; b++) {
        const struct tl_woe_bin *bin = tl_woe_var_bin(t.w, (size_t)d, b);
        cr_assert_not(bin->missing);
        cr_assert_geq(bin->n, 40, "bin %s holds %zu rows", bin->label, bin->n);
        cr_assert_geq(bin->woe, prev, "bin %s breaks monotonicity", bin->label);
        cr_assert_eq(bin->lo, b ? tl_woe_var_bin(t.w, (size_t)d, b - 1)->hi : -INFINITY);
        prev = bin->woe;
    }
    cr_assert(tl_woe_var_bin(t.w, (size_t)d, nb - 1)->missing);
    cr_assert_gt(prev, tl_woe_var_bin(t.w, (size_t)d, 0)->woe, "risk rises with duration");

    /* Every row's bin counts add back to the fitted counts. */
    size_t ni = tl_encoder_n_inputs(t.e);
    size_t *count = calloc(nb, sizeof *count);
    const char **cells = malloc(ni * sizeof *cells);
    size_t *bin = malloc(ni * sizeof *bin);
    double *woe = malloc(ni * sizeof *woe);
    for (size_t r = 0; r < tl_frame_rows(t.f); r++) {
        for (size_t i = 0; i < ni; i++)
            cells[i] = tl_frame_cell(t.f, r, (size_t)tl_frame_col(t.f, tl_encoder_input_name(t.e, i)));
        cr_assert_eq(tl_woe_row(t.w, cells, bin, woe, &err), 0, "%s", err.msg);
        count[bin[d]]++;
        cr_assert_eq(woe[d], tl_woe_var_bin(t.w, (size_t)d, bin[d])->woe);
    }
    for (size_t b = 0; b < nb; b++)
        cr_assert_eq(count[b], tl_woe_var_bin(t.w, (size_t)d, b)->n);
    free(count);
    free(cells);
    free(bin);
    free(woe);
    fit_free(&t);
}

Test(ml_woe, json_round_trip_and_tampering)
{
    struct fit t = {.f = tiny()};
    struct tl_woe_opts wo = {.max_bins = 2, .min_bin_frac = 0};
    fit_all(&t, "y", "1", &wo);
    char *path = german_path();
    if (path) {
        /* the richer German bins when the data is there */
        fit_free(&t);
        memset(&t, 0, sizeof t);
        tl_err e0 = {0};
        cr_assert_eq(tl_frame_read_csv(path, &t.f, &e0), 0);
        fit_all(&t, "class", "2", NULL);
    }
    tl_err err = {0};
    json_t *j = tl_woe_to_json(t.w);
    char *text = tl_json_dump(j);
    json_t *back = tl_json_parse(text, strlen(text), "woe", &err);
    cr_assert_not_null(back, "%s", err.msg);
    tl_woe *w2;
    cr_assert_eq(tl_woe_from_json(back, &w2, &err), 0, "%s", err.msg);
    json_t *j2 = tl_woe_to_json(w2);
    char *text2 = tl_json_dump(j2);
    cr_assert_str_eq(text, text2);
    size_t nv = tl_woe_n_vars(w2);
    for (size_t v = 0; v < nv; v++) {
        cr_assert_eq(tl_woe_var_iv(w2, v), tl_woe_var_iv(t.w, v));
        for (size_t b = 0; b < tl_woe_var_n_bins(w2, v); b++) {
            const struct tl_woe_bin *x = tl_woe_var_bin(t.w, v, b), *y = tl_woe_var_bin(w2, v, b);
            cr_assert_eq(x->woe, y->woe);
            cr_assert_str_eq(x->label, y->label);
            cr_assert(x->lo == y->lo || (isnan(x->lo) && isnan(y->lo)));
        }
    }
    size_t ni = tl_encoder_n_inputs(t.e);
    const char **cells = malloc(ni * sizeof *cells);
    size_t *b1 = malloc(ni * sizeof *b1), *b2 = malloc(ni * sizeof *b2);
    for (size_t r = 0; r < tl_frame_rows(t.f); r++) {
        for (size_t i = 0; i < ni; i++)
            cells[i] = tl_frame_cell(t.f, r, (size_t)tl_frame_col(t.f, tl_encoder_input_name(t.e, i)));
        cr_assert_eq(tl_woe_row(t.w, cells, b1, NULL, &err), 0);
        cr_assert_eq(tl_woe_row(w2, cells, b2, NULL, &err), 0);
        cr_assert_eq(memcmp(b1, b2, ni * sizeof *b1), 0, "row %zu", r);
    }
    free(cells);
    free(b1);
    free(b2);

    /* Take away or break each member of each bin of the first two variables:
     * always an error, never a crash. */
    json_t *vars = json_object_get(j, "vars");
    for (size_t v = 0; v < 2 && v < json_array_size(vars); v++) {
        json_t *bins = json_object_get(json_array_get(vars, v), "bins");
        for (size_t b = 0; b < json_array_size(bins); b++) {
            const char *key;
            json_t *val;
            json_object_foreach(json_array_get(bins, b), key, val)
            {
                for (int mode = 0; mode < 2; mode++) {
                    json_t *copy = json_deep_copy(j);
                    json_t *cv = json_array_get(json_object_get(copy, "vars"), v);
                    json_t *cb = json_array_get(json_object_get(cv, "bins"), b);
                    if (mode == 0)
                        json_object_del(cb, key);
                    else
                        json_object_set_new(cb, key, json_string("junk"));
                    tl_woe *w3 = NULL;
                    int rc = tl_woe_from_json(copy, &w3, &err);
                    if (mode == 1 && strcmp(key, "label") == 0)
                        cr_assert_eq(rc, 0, "any text is a label");
                    else
                        cr_assert_eq(rc, TL_EINVAL, "bin %zu of var %zu without/with junk %s", b, v, key);
                    tl_woe_free(w3);
                    json_decref(copy);
                }
            }
        }
    }
    json_t *bad = json_deep_copy(j);
    json_t *v0 = json_array_get(json_object_get(bad, "vars"), 0);
    json_object_set_new(v0, "kind", json_string("odd"));
    tl_woe *w4 = NULL;
    cr_assert_eq(tl_woe_from_json(bad, &w4, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "kind"), "%s", err.msg);
    json_decref(bad);
    json_t *notobj = json_array();
    cr_assert_eq(tl_woe_from_json(notobj, &w4, &err), TL_EINVAL);
    json_decref(notobj);

    free(text);
    free(text2);
    json_decref(j);
    json_decref(j2);
    json_decref(back);
    tl_woe_free(w2);
    fit_free(&t);
}

Test(ml_woe, booleans_dates_and_bad_labels)
{
    const char *names[] = {"ok", "day", "y"};
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_new(3, names, &f, &err), 0);
    for (int i = 0; i < 40; i++) {
        char day[16];
        snprintf(day, sizeof day, "2021-03-%02d", 1 + i % 28);
        const char *row[] = {i % 3 ? "Yes" : "no", i == 5 ? NULL : day, i % 4 == 0 ? "1" : "0"};
        cr_assert_eq(tl_frame_append(f, row, &err), 0);
    }
    struct fit t = {.f = f};
    struct tl_woe_opts wo = {.max_bins = 4, .min_bin_frac = 0.05};
    fit_all(&t, "y", "1", &wo);
    long ok = var(t.w, "ok"), day = var(t.w, "day");
    cr_assert_eq(tl_encoder_input_kind(t.e, (size_t)ok), TL_FEAT_BOOLEAN);
    cr_assert_eq(tl_encoder_input_kind(t.e, (size_t)day), TL_FEAT_DATE);
    cr_assert_str_eq(tl_woe_var_bin(t.w, (size_t)ok, 0)->label, "no");
    cr_assert_str_eq(tl_woe_var_bin(t.w, (size_t)ok, 1)->label, "yes");
    cr_assert_eq(tl_woe_var_bin(t.w, (size_t)ok, 1)->n, 26);
    const struct tl_woe_bin *d0 = tl_woe_var_bin(t.w, (size_t)day, 0);
    cr_assert(strstr(d0->label, "2021-03-"), "date edges read as dates: %s", d0->label);
    size_t bin[2];
    const char *r1[] = {"YES", "2021-03-01T10:00:00Z"};
    cr_assert_eq(tl_woe_row(t.w, r1, bin, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(bin[ok], 1);
    cr_assert_eq(bin[day], 0);
    const char *r2[] = {"maybe", "2021-03-01"};
    cr_assert_eq(tl_woe_row(t.w, r2, bin, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"ok\""), "%s", err.msg);
    const char *r3[] = {"no", "March"};
    cr_assert_eq(tl_woe_row(t.w, r3, bin, NULL, &err), TL_EINVAL);

    /* labels with one class, or not 0/1, are refused */
    uint8_t *y1 = calloc(40, 1);
    tl_woe *w = NULL;
    cr_assert_eq(tl_woe_fit(t.e, t.f, y1, NULL, &w, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "one class"), "%s", err.msg);
    y1[3] = 7;
    cr_assert_eq(tl_woe_fit(t.e, t.f, y1, NULL, &w, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 4"), "%s", err.msg);
    free(y1);
    fit_free(&t);
}
