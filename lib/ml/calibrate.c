/*
 * calibrate.c - turning a model's raw score into a probability a banker can
 * act on (ml_stats.h): Platt scaling and isotonic regression.
 *
 * Platt follows Lin, Lin & Weng, "A note on Platt's probabilistic outputs for
 * support vector machines" (Machine Learning 68, 2007), the algorithm LIBSVM
 * ships: Platt's smoothed targets t+ = (N+ + 1) / (N+ + 2) and
 * t- = 1 / (N- + 2), which keep a separable training set from driving the
 * slope to infinity; Newton's method on (a, b) with a backtracking line
 * search; and the log-likelihood written so that exp never overflows.
 *
 * Isotonic is pool-adjacent-violators over the distinct scores, ascending,
 * each weighted by its row count, then linear interpolation between the
 * first and last score of every pooled block, clamped at both ends. That is
 * exactly the function scikit-learn's IsotonicRegression(increasing=True,
 * out_of_bounds="clip") predicts: it also averages duplicate x first, pools
 * equal neighbours, and keeps only the end points of each flat run. Labels
 * are 0 or 1, so block sums are integer counts and pooling is exact.
 */
#include <teller/ml_stats.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static const char *const kind_names[] = {
    [TL_CALIB_NONE] = "none",
    [TL_CALIB_PLATT] = "platt",
    [TL_CALIB_ISOTONIC] = "isotonic",
};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

int tl_calib_kind_parse(const char *s, enum tl_calib_kind *out, tl_err *err)
{
    for (size_t k = 0; s && k < N_KINDS; k++) {
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (enum tl_calib_kind)k;
            return 0;
        }
    }
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EINVAL,
                      "calibration \"%s\" is not one of \"none\", \"platt\", \"isotonic\"",
                      s ? tl__quote(q, sizeof q, s, strlen(s)) : "(null)");
}

const char *tl_calib_kind_name(enum tl_calib_kind k)
{
    return (unsigned)k < N_KINDS ? kind_names[k] : "unknown";
}

/* Validates labels and scores and counts positives; both classes needed. */
static int check_fit(const double *score, const uint8_t *y, size_t n, size_t *n_pos, tl_err *err)
{
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "calibration fit: no rows");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return tl_err_set(err, TL_EINVAL, "calibration fit: row %zu: label is %u, not 0 or 1",
                              i, (unsigned)y[i]);
        if (!isfinite(score[i]))
            return tl_err_set(err, TL_EINVAL,
                              "calibration fit: row %zu: score is %g, not a finite number", i,
                              score[i]);
        pos += y[i];
    }
    if (pos == 0 || pos == n)
        return tl_err_set(err, TL_EINVAL,
                          "calibration fit: all %zu rows have label %d; both classes must be "
                          "present",
                          n, pos ? 1 : 0);
    *n_pos = pos;
    return 0;
}

/* ---- Platt -------------------------------------------------------------- */

/* Negative log-likelihood of targets t under p = 1 / (1 + exp(a s + b)),
 * each term in the form whose exp cannot overflow. */
static double platt_nll(const double *s, const uint8_t *y, size_t n, double t_hi, double t_lo,
                        double a, double b)
{
    double f = 0;
    for (size_t i = 0; i < n; i++) {
        double t = y[i] ? t_hi : t_lo, z = a * s[i] + b;
        f += z >= 0 ? t * z + log1p(exp(-z)) : (t - 1) * z + log1p(exp(z));
    }
    return f;
}

#define PLATT_MAX_ITER 100
#define PLATT_MIN_STEP 1e-10
#define PLATT_SIGMA 1e-12 /* Hessian ridge: keeps it positive definite */
/* Converged when both gradient sums are below PLATT_EPS per row. Lin et al.
 * stop at 1e-5 in total, which leaves (a, b) off in the 7th digit; Newton
 * converges quadratically, so the tighter test costs one or two more steps,
 * and the line search ends the loop if rounding stalls it first. */
#define PLATT_EPS 1e-11

static int fit_platt(const double *s, const uint8_t *y, size_t n, size_t n_pos, tl_calibrator *c,
                     tl_err *err)
{
    double prior1 = (double)n_pos, prior0 = (double)(n - n_pos);
    double t_hi = (prior1 + 1) / (prior1 + 2), t_lo = 1 / (prior0 + 2);
    double a = 0, b = log((prior0 + 1) / (prior1 + 1));
    double fval = platt_nll(s, y, n, t_hi, t_lo, a, b);
    for (int it = 0; it < PLATT_MAX_ITER; it++) {
        double h11 = PLATT_SIGMA, h22 = PLATT_SIGMA, h21 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double t = y[i] ? t_hi : t_lo, z = a * s[i] + b, p, q;
            if (z >= 0) {
                double e = exp(-z);
                p = e / (1 + e);
                q = 1 / (1 + e);
            } else {
                double e = exp(z);
                p = 1 / (1 + e);
                q = e / (1 + e);
            }
            double d2 = p * q, d1 = t - p;
            h11 += s[i] * s[i] * d2;
            h22 += d2;
            h21 += s[i] * d2;
            g1 += s[i] * d1;
            g2 += d1;
        }
        if (fabs(g1) < PLATT_EPS * (double)n && fabs(g2) < PLATT_EPS * (double)n)
            break;
        double det = h11 * h22 - h21 * h21;
        double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * da + g2 * db, step = 1;
        while (step >= PLATT_MIN_STEP) {
            double na = a + step * da, nb = b + step * db;
            double nf = platt_nll(s, y, n, t_hi, t_lo, na, nb);
            if (nf < fval + 1e-4 * step * gd) {
                a = na;
                b = nb;
                fval = nf;
                break;
            }
            step /= 2;
        }
        if (step < PLATT_MIN_STEP)
            break; /* the line search found no decrease: (a, b) is as good as it gets */
    }
    if (!isfinite(a) || !isfinite(b))
        return tl_err_set(err, TL_EINVAL,
                          "calibration fit: Platt scaling diverged (a %g, b %g); the scores are "
                          "too large to fit",
                          a, b);
    *c = (tl_calibrator){.kind = TL_CALIB_PLATT, .a = a, .b = b};
    return 0;
}

/* ---- isotonic ----------------------------------------------------------- */

struct pt {
    double s;
    uint8_t y;
};

static int by_score_asc(const void *pa, const void *pb)
{
    const struct pt *a = pa, *b = pb;
    return (a->s > b->s) - (a->s < b->s);
}

struct block {
    double x_lo, x_hi; /* first and last distinct score pooled */
    double n, pos;     /* rows and positives: integers */
};

static int fit_isotonic(const double *s, const uint8_t *y, size_t n, tl_calibrator *c, tl_err *err)
{
    struct pt *pts = malloc(n * sizeof *pts);
    struct block *blk = malloc(n * sizeof *blk);
    if (!pts || !blk) {
        free(pts);
        free(blk);
        return tl_err_set(err, TL_ENOMEM, "calibration fit: out of memory for %zu rows", n);
    }
    for (size_t i = 0; i < n; i++)
        pts[i] = (struct pt){s[i], y[i]};
    qsort(pts, n, sizeof *pts, by_score_asc);
    size_t nb = 0;
    for (size_t i = 0; i < n;) {
        struct block cur = {pts[i].s, pts[i].s, 0, 0};
        for (; i < n && pts[i].s == cur.x_lo; i++) {
            cur.n += 1;
            cur.pos += pts[i].y;
        }
        /* Pool while the block before has a mean at or above this one's:
         * pos_prev / n_prev >= pos / n, compared exactly over counts. */
        while (nb > 0 && blk[nb - 1].pos * cur.n >= cur.pos * blk[nb - 1].n) {
            struct block *prev = &blk[--nb];
            cur = (struct block){prev->x_lo, cur.x_hi, prev->n + cur.n, prev->pos + cur.pos};
        }
        blk[nb++] = cur;
    }
    free(pts);
    size_t nk = 0;
    for (size_t b = 0; b < nb; b++)
        nk += blk[b].x_lo == blk[b].x_hi ? 1 : 2;
    double *kx = malloc(nk * sizeof *kx), *ky = malloc(nk * sizeof *ky);
    if (!kx || !ky) {
        free(kx);
        free(ky);
        free(blk);
        return tl_err_set(err, TL_ENOMEM, "calibration fit: out of memory for %zu knots", nk);
    }
    size_t k = 0;
    for (size_t b = 0; b < nb; b++) {
        double mean = blk[b].pos / blk[b].n;
        kx[k] = blk[b].x_lo;
        ky[k++] = mean;
        if (blk[b].x_hi != blk[b].x_lo) {
            kx[k] = blk[b].x_hi;
            ky[k++] = mean;
        }
    }
    free(blk);
    *c = (tl_calibrator){.kind = TL_CALIB_ISOTONIC, .n_knots = nk, .x = kx, .y = ky};
    return 0;
}

int tl_calibrator_fit(enum tl_calib_kind kind, const double *score, const uint8_t *y, size_t n,
                      tl_calibrator *out, tl_err *err)
{
    if (kind == TL_CALIB_NONE) {
        *out = (tl_calibrator){.kind = TL_CALIB_NONE};
        return 0;
    }
    if (kind != TL_CALIB_PLATT && kind != TL_CALIB_ISOTONIC)
        return tl_err_set(err, TL_EINVAL, "calibration fit: unknown calibration kind %d",
                          (int)kind);
    size_t n_pos = 0;
    int rc = check_fit(score, y, n, &n_pos, err);
    if (rc < 0)
        return rc;
    return kind == TL_CALIB_PLATT ? fit_platt(score, y, n, n_pos, out, err)
                                  : fit_isotonic(score, y, n, out, err);
}

/* 1 / (1 + exp(z)) without overflow for either sign of z. */
static double logistic_neg(double z)
{
    if (z >= 0) {
        double e = exp(-z);
        return e / (1 + e);
    }
    return 1 / (1 + exp(z));
}

double tl_calibrator_apply(const tl_calibrator *c, double score)
{
    if (isnan(score))
        return score;
    switch (c->kind) {
    case TL_CALIB_PLATT:
        return logistic_neg(c->a * score + c->b);
    case TL_CALIB_ISOTONIC: {
        const double *x = c->x, *y = c->y;
        size_t n = c->n_knots;
        if (n == 0)
            return NAN;
        if (score <= x[0])
            return y[0];
        if (score >= x[n - 1])
            return y[n - 1];
        size_t lo = 0, hi = n - 1; /* x[lo] < score < x[hi] */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (x[mid] <= score)
                lo = mid;
            else
                hi = mid;
        }
        return y[lo] + (y[hi] - y[lo]) * ((score - x[lo]) / (x[hi] - x[lo]));
    }
    case TL_CALIB_NONE:
    default:
        return logistic_neg(-score);
    }
}

void tl_calibrator_clear(tl_calibrator *c)
{
    if (!c)
        return;
    free(c->x);
    free(c->y);
    *c = (tl_calibrator){.kind = TL_CALIB_NONE};
}

/* ---- JSON --------------------------------------------------------------- */

json_t *tl_calibrator_to_json(const tl_calibrator *c)
{
    switch (c->kind) {
    case TL_CALIB_PLATT:
        return json_pack("{s:s,s:f,s:f}", "kind", "platt", "a", c->a, "b", c->b);
    case TL_CALIB_ISOTONIC: {
        json_t *x = json_array(), *y = json_array();
        json_t *o = json_pack("{s:s,s:o,s:o}", "kind", "isotonic", "x", x, "y", y);
        if (!o)
            return NULL; /* json_pack's "o" released x and y */
        for (size_t i = 0; i < c->n_knots; i++) {
            if (json_array_append_new(x, json_real(c->x[i])) < 0 ||
                json_array_append_new(y, json_real(c->y[i])) < 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    case TL_CALIB_NONE:
    default:
        return json_pack("{s:s}", "kind", "none");
    }
}

#define MAX_KNOTS ((size_t)1 << 24)

static int bad(tl_err *err, const char *fmt, const char *what, size_t i, double v)
{
    char msg[160];
    snprintf(msg, sizeof msg, fmt, what, i, v);
    return tl_err_set(err, TL_EINVAL, "calibrator JSON: %s", msg);
}

/* Reads a number member of a Platt object. */
static int get_num(const json_t *j, const char *key, double *out, tl_err *err)
{
    const json_t *v = json_object_get(j, key);
    if (!v)
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: \"platt\" needs member \"%s\"", key);
    if (!json_is_number(v))
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: member \"%s\" is not a number", key);
    *out = json_number_value(v);
    if (!isfinite(*out))
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: member \"%s\" is not finite", key);
    return 0;
}

/* Reads isotonic knot array `key` into a malloc'd array of *n numbers. */
static int get_knots(const json_t *j, const char *key, double **out, size_t *n, tl_err *err)
{
    const json_t *a = json_object_get(j, key);
    if (!a)
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: \"isotonic\" needs member \"%s\"",
                          key);
    if (!json_is_array(a))
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: member \"%s\" is not an array", key);
    size_t len = json_array_size(a);
    if (len == 0 || len > MAX_KNOTS)
        return tl_err_set(err, TL_EINVAL,
                          "calibrator JSON: member \"%s\" has %zu knots; 1 to %zu are allowed",
                          key, len, MAX_KNOTS);
    double *v = malloc(len * sizeof *v);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "calibrator JSON: out of memory for %zu knots", len);
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(a, i);
        if (!json_is_number(e)) {
            free(v);
            return tl_err_set(err, TL_EINVAL,
                              "calibrator JSON: member \"%s\": element %zu is not a number", key, i);
        }
        v[i] = json_number_value(e);
    }
    *out = v;
    *n = len;
    return 0;
}

static int from_json_isotonic(const json_t *j, tl_calibrator *out, tl_err *err)
{
    double *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int rc = get_knots(j, "x", &x, &nx, err);
    if (rc == 0)
        rc = get_knots(j, "y", &y, &ny, err);
    if (rc == 0 && nx != ny)
        rc = tl_err_set(err, TL_EINVAL,
                        "calibrator JSON: \"x\" has %zu knots but \"y\" has %zu; they must match",
                        nx, ny);
    for (size_t i = 0; rc == 0 && i < nx; i++) {
        if (!isfinite(x[i]))
            rc = bad(err, "member \"%s\": element %zu (%g) is not finite", "x", i, x[i]);
        else if (i > 0 && !(x[i] > x[i - 1]))
            rc = bad(err, "member \"%s\": element %zu (%.17g) is not above the one before; knots "
                          "must be strictly ascending",
                     "x", i, x[i]);
        else if (!(y[i] >= 0 && y[i] <= 1))
            rc = bad(err, "member \"%s\": element %zu (%.17g) is not a probability in [0, 1]", "y",
                     i, y[i]);
        else if (i > 0 && y[i] < y[i - 1])
            rc = bad(err, "member \"%s\": element %zu (%.17g) is below the one before; "
                          "probabilities must not decrease",
                     "y", i, y[i]);
    }
    if (rc < 0) {
        free(x);
        free(y);
        return rc;
    }
    *out = (tl_calibrator){.kind = TL_CALIB_ISOTONIC, .n_knots = nx, .x = x, .y = y};
    return 0;
}

int tl_calibrator_from_json(const json_t *j, tl_calibrator *out, tl_err *err)
{
    if (!json_is_object(j))
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: not an object");
    const json_t *k = json_object_get(j, "kind");
    if (!k || !json_is_string(k))
        return tl_err_set(err, TL_EINVAL, "calibrator JSON: member \"kind\" is %s",
                          k ? "not a string" : "missing");
    enum tl_calib_kind kind;
    int rc = tl_calib_kind_parse(json_string_value(k), &kind, NULL);
    char q[TL__QUOTE_SIZE];
    if (rc < 0)
        return tl_err_set(err, TL_EINVAL,
                          "calibrator JSON: member \"kind\" is \"%s\", not one of \"none\", "
                          "\"platt\", \"isotonic\"",
                          tl__quote(q, sizeof q, json_string_value(k), json_string_length(k)));
    static const char *const allowed[][4] = {
        [TL_CALIB_NONE] = {"kind"},
        [TL_CALIB_PLATT] = {"kind", "a", "b"},
        [TL_CALIB_ISOTONIC] = {"kind", "x", "y"},
    };
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        bool ok = false;
        for (int i = 0; i < 4 && allowed[kind][i]; i++)
            ok |= strcmp(key, allowed[kind][i]) == 0;
        if (!ok)
            return tl_err_set(err, TL_EINVAL, "calibrator JSON: unknown member \"%s\" for \"%s\"",
                              tl__quote(q, sizeof q, key, strlen(key)), kind_names[kind]);
    }
    if (kind == TL_CALIB_NONE) {
        *out = (tl_calibrator){.kind = TL_CALIB_NONE};
        return 0;
    }
    if (kind == TL_CALIB_PLATT) {
        double a = 0, b = 0;
        if ((rc = get_num(j, "a", &a, err)) < 0 || (rc = get_num(j, "b", &b, err)) < 0)
            return rc;
        *out = (tl_calibrator){.kind = TL_CALIB_PLATT, .a = a, .b = b};
        return 0;
    }
    return from_json_isotonic(j, out, err);
}
