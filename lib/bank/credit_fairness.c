/*
 * credit_fairness.c - approval rate and AUC per group of a protected
 * attribute, and the adverse impact ratio over the groups.
 *
 * The ratio follows the "four-fifths rule" of US fair-lending and
 * employment practice: the lowest group approval rate over the highest,
 * flagged below 0.8. It is a screening figure for a human to look at, not a
 * verdict, which is why the card shows the groups it came from.
 */
#include "credit_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *tl_credit_age_band(const char *age)
{
    if (!age)
        return NULL;
    char *end = NULL;
    double a = strtod(age, &end);
    if (end == age || *end || !isfinite(a))
        return NULL;
    if (a < 25)
        return "<25";
    if (a < 35)
        return "25-34";
    if (a < 45)
        return "35-44";
    if (a < 55)
        return "45-54";
    if (a < 65)
        return "55-64";
    return "65+";
}

/* Groups with fewer rows than this get no AUC and stay out of the adverse
 * impact ratio (listed with "small": true): a group of three applicants
 * with no approval says nothing about the model, and would flag every
 * model trained on data with a rare level. */
#define MIN_AUC_ROWS 10

int tl_credit_fairness(const char *attribute, const char *const *group, const double *pd,
                       const uint8_t *y, const uint8_t *approved, size_t n, json_t **out,
                       tl_err *err)
{
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "fairness of %s: no rows", attribute);
    /* distinct groups, in order of first appearance then sorted by name */
    const char **names = calloc(n, sizeof *names);
    size_t *gi = calloc(n, sizeof *gi);
    double *s = malloc(n * sizeof *s);
    uint8_t *yy = malloc(n);
    json_t *groups = json_array();
    if (!names || !gi || !s || !yy || !groups) {
        free(names), free(gi), free(s), free(yy), json_decref(groups);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        const char *g = group[i] ? group[i] : "missing";
        size_t k = 0;
        while (k < ng && strcmp(names[k], g) != 0)
            k++;
        if (k == ng)
            names[ng++] = g;
        gi[i] = k;
    }
    /* insertion sort of group indexes by name, for a stable report */
    size_t *order = malloc(ng * sizeof *order);
    if (!order) {
        free(names), free(gi), free(s), free(yy), json_decref(groups);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < ng; k++) {
        size_t p = k;
        while (p > 0 && strcmp(names[order[p - 1]], names[k]) > 0) {
            order[p] = order[p - 1];
            p--;
        }
        order[p] = k;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t o = 0; o < ng; o++) {
        size_t k = order[o], m = 0, appr = 0, pos = 0;
        for (size_t i = 0; i < n; i++) {
            if (gi[i] != k)
                continue;
            s[m] = pd[i];
            yy[m] = y[i];
            pos += y[i];
            appr += approved[i] != 0;
            m++;
        }
        double rate = (double)appr / (double)m;
        double auc = NAN;
        if (m >= MIN_AUC_ROWS && pos > 0 && pos < m) {
            tl_err e2 = {0};
            if (tl_ml_auc(s, yy, m, &auc, &e2) < 0)
                auc = NAN;
        }
        if (m >= MIN_AUC_ROWS) {
            lo = rate < lo ? rate : lo;
            hi = rate > hi ? rate : hi;
        }
        json_array_append_new(groups, json_pack("{s:s,s:I,s:I,s:f,s:o,s:b}", "group", names[k],
                                                "n", (json_int_t)m, "defaults", (json_int_t)pos,
                                                "approval_rate", round(rate * 1e4) / 1e4, "auc",
                                                isfinite(auc) ? json_real(round(auc * 1e4) / 1e4)
                                                              : json_null(),
                                                "small", m < MIN_AUC_ROWS));
    }
    double air = hi > 0 && isfinite(lo) ? lo / hi : NAN;
    *out = json_pack("{s:s,s:o,s:o,s:b}", "attribute", attribute, "groups", groups,
                     "adverse_impact_ratio",
                     isfinite(air) ? json_real(round(air * 1e4) / 1e4) : json_null(), "flag",
                     isfinite(air) && air < 0.8);
    free(names), free(gi), free(s), free(yy), free(order);
    if (!*out)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    return 0;
}
