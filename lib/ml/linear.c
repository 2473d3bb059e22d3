/* linear.c - logistic regression: trained by LIBLINEAR, scored by us.
 *
 * LIBLINEAR wants sparse rows of struct feature_node (1-based indices, a
 * terminating index -1) and appends nothing itself: the bias is one more
 * feature of constant value 1 at index d + 1, so it is regularized like
 * every weight (what LIBLINEAR's -B 1 and sklearn's liblinear solver with
 * intercept_scaling=1 do). After training the weights are copied out and
 * LIBLINEAR's model is freed: scoring is a dot product, with no sparse
 * conversion and no library call per row.
 *
 * LIBLINEAR orders the two classes by first appearance in the data and its
 * decision value is the log-odds of model->label[0]. The labels passed are
 * -1 and +1, which LIBLINEAR puts in the order (+1, -1) for a binary
 * problem, and the sign is checked against label[0] anyway, so the stored
 * margin is always the log-odds of class 1.
 */
#include <teller/ml_models.h>

#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM (1u << 24) /* features; LIBLINEAR indexes with int */

struct tl_linear {
    size_t d;
    double *w; /* (d) */
    double bias;
};

/* LIBLINEAR prints progress through a global function pointer; the
 * library never prints, so it gets one that drops everything. */
static void quiet(const char *s)
{
    (void)s;
}

static int linear_alloc(size_t d, tl_linear **out, tl_err *err)
{
    tl_linear *m = calloc(1, sizeof *m);
    double *w = calloc(d ? d : 1, sizeof *w);
    if (!m || !w) {
        free(m);
        free(w);
        return tl_err_set(err, TL_ENOMEM, "linear model: out of memory for %zu weights", d);
    }
    m->d = d;
    m->w = w;
    *out = m;
    return 0;
}

int tl_linear_train(const float *X, const uint8_t *y, size_t n, size_t d,
                    const struct tl_linear_opts *opts, tl_linear **out, tl_err *err)
{
    struct tl_linear_opts o = opts ? *opts : TL_LINEAR_OPTS_DEFAULT;
    if (!X || !y || !out)
        return tl_err_set(err, TL_EINVAL, "linear train: X, y and out must not be NULL");
    if (n == 0 || d == 0)
        return tl_err_set(err, TL_EINVAL, "linear train: empty data (%zu rows, %zu features)", n, d);
    if (d >= MAX_DIM || n > (size_t)INT32_MAX)
        return tl_err_set(err, TL_ETOOBIG, "linear train: %zu rows x %zu features exceeds LIBLINEAR's "
                          "int indices", n, d);
    if (o.penalty != 1 && o.penalty != 2)
        return tl_err_set(err, TL_EINVAL, "linear train: penalty %d is not 1 (L1) or 2 (L2)", o.penalty);
    if (!(o.C > 0) || !isfinite(o.C))
        return tl_err_set(err, TL_EINVAL, "linear train: C %g must be a positive number", o.C);
    if (!(o.pos_weight > 0) || !isfinite(o.pos_weight))
        return tl_err_set(err, TL_EINVAL, "linear train: pos_weight %g must be a positive number",
                          o.pos_weight);
    if (!(o.eps > 0) || !isfinite(o.eps))
        return tl_err_set(err, TL_EINVAL, "linear train: eps %g must be a positive number", o.eps);

    /* Validate and count the nonzeros so one block holds every row. */
    size_t nnz = 0, n_pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return tl_err_set(err, TL_EINVAL, "linear train: label of row %zu is %u, not 0 or 1", i,
                              (unsigned)y[i]);
        n_pos += y[i];
        const float *row = X + i * d;
        for (size_t j = 0; j < d; j++) {
            if (!isfinite(row[j]))
                return tl_err_set(err, TL_EINVAL, "linear train: row %zu column %zu is %g, not finite", i,
                                  j, (double)row[j]);
            nnz += row[j] != 0.0f;
        }
    }
    if (n_pos == 0 || n_pos == n)
        return tl_err_set(err, TL_EINVAL, "linear train: all %zu labels are %d; both classes are needed",
                          n, n_pos ? 1 : 0);

    struct feature_node *space = malloc((nnz + 2 * n) * sizeof *space); /* (nnz + bias + end per row) */
    struct feature_node **rows = malloc(n * sizeof *rows);
    double *labels = malloc(n * sizeof *labels);
    tl_linear *m = NULL;
    int rc = 0;
    if (!space || !rows || !labels) {
        rc = tl_err_set(err, TL_ENOMEM, "linear train: out of memory for %zu rows", n);
        goto done;
    }
    struct feature_node *p = space;
    for (size_t i = 0; i < n; i++) {
        rows[i] = p;
        const float *row = X + i * d;
        for (size_t j = 0; j < d; j++)
            if (row[j] != 0.0f)
                *p++ = (struct feature_node){.index = (int)j + 1, .value = row[j]};
        *p++ = (struct feature_node){.index = (int)d + 1, .value = 1.0};
        *p++ = (struct feature_node){.index = -1, .value = 0.0};
        labels[i] = y[i] ? 1.0 : -1.0;
    }
    struct problem prob = {.l = (int)n, .n = (int)d + 1, .y = labels, .x = rows, .bias = 1.0};
    int weight_label[1] = {1};
    double weight[1] = {o.pos_weight};
    struct parameter param = {
        .solver_type = o.penalty == 1 ? L1R_LR : L2R_LR,
        .eps = o.eps,
        .C = o.C,
        .nr_weight = 1,
        .weight_label = weight_label,
        .weight = weight,
        .p = 0.1,
        .init_sol = NULL,
    };
    const char *bad = check_parameter(&prob, &param);
    if (bad) {
        rc = tl_err_set(err, TL_EINVAL, "linear train: LIBLINEAR refused the parameters: %s", bad);
        goto done;
    }
    set_print_string_function(quiet);
    struct model *lm = train(&prob, &param);
    if (!lm) {
        rc = tl_err_set(err, TL_ENOMEM, "linear train: LIBLINEAR returned no model");
        goto done;
    }
    /* nr_feature leaves out the bias feature, whose weight is w[d]. */
    if (lm->nr_class != 2 || lm->nr_feature != (int)d || !lm->label) {
        rc = tl_err_set(err, TL_EINTERNAL, "linear train: LIBLINEAR returned %d classes and %d features "
                        "for 2 and %zu", lm->nr_class, lm->nr_feature, d);
        free_and_destroy_model(&lm);
        goto done;
    }
    double sign = lm->label[0] == 1 ? 1.0 : -1.0;
    rc = linear_alloc(d, &m, err);
    if (rc == 0) {
        for (size_t j = 0; j < d; j++)
            m->w[j] = sign * lm->w[j];
        m->bias = sign * lm->w[d]; /* the bias feature's value is 1 */
        *out = m;
    }
    free_and_destroy_model(&lm);
done:
    free(space);
    free(rows);
    free(labels);
    return rc;
}

int tl_linear_from_weights(const double *w, size_t d, double bias, tl_linear **out, tl_err *err)
{
    if (!w || !out || d == 0)
        return tl_err_set(err, TL_EINVAL, "linear model: weights must be non-empty (d = %zu)", d);
    if (d >= MAX_DIM)
        return tl_err_set(err, TL_ETOOBIG, "linear model: %zu weights exceeds %u", d, MAX_DIM);
    if (!isfinite(bias))
        return tl_err_set(err, TL_EINVAL, "linear model: bias %g is not finite", bias);
    for (size_t j = 0; j < d; j++)
        if (!isfinite(w[j]))
            return tl_err_set(err, TL_EINVAL, "linear model: weight %zu is %g, not finite", j, w[j]);
    tl_linear *m = NULL;
    int rc = linear_alloc(d, &m, err);
    if (rc < 0)
        return rc;
    memcpy(m->w, w, d * sizeof *w);
    m->bias = bias;
    *out = m;
    return 0;
}

void tl_linear_free(tl_linear *m)
{
    if (!m)
        return;
    free(m->w);
    free(m);
}

size_t tl_linear_dim(const tl_linear *m)
{
    return m->d;
}

const double *tl_linear_weights(const tl_linear *m)
{
    return m->w;
}

double tl_linear_bias(const tl_linear *m)
{
    return m->bias;
}

double tl_linear_margin(const tl_linear *m, const float *x)
{
    double s = m->bias;
    for (size_t j = 0; j < m->d; j++)
        s += m->w[j] * (double)x[j];
    return s;
}

json_t *tl_linear_to_json(const tl_linear *m)
{
    json_t *w = json_array();
    json_t *j = json_object();
    if (!w || !j)
        goto fail;
    for (size_t k = 0; k < m->d; k++)
        if (json_array_append_new(w, json_real(m->w[k])) < 0)
            goto fail;
    /* jansson writes reals with %.17g unless told otherwise: exact doubles. */
    if (json_object_set_new(j, "dim", json_integer((json_int_t)m->d)) < 0 ||
        json_object_set_new(j, "bias", json_real(m->bias)) < 0 || json_object_set(j, "w", w) < 0)
        goto fail;
    json_decref(w);
    return j;
fail:
    json_decref(w);
    json_decref(j);
    return NULL;
}

int tl_linear_from_json(const json_t *j, tl_linear **out, tl_err *err)
{
    if (!j || !out || !json_is_object(j))
        return tl_err_set(err, TL_EPARSE, "linear model JSON: not an object");
    json_t *jd = json_object_get(j, "dim"), *jb = json_object_get(j, "bias"), *jw = json_object_get(j, "w");
    if (!json_is_integer(jd))
        return tl_err_set(err, TL_EPARSE, "linear model JSON: \"dim\" is missing or not an integer");
    json_int_t d = json_integer_value(jd);
    if (d <= 0 || (uint64_t)d >= MAX_DIM)
        return tl_err_set(err, TL_EPARSE, "linear model JSON: \"dim\" %lld is out of range 1..%u",
                          (long long)d, MAX_DIM - 1);
    if (!json_is_number(jb) || !isfinite(json_number_value(jb)))
        return tl_err_set(err, TL_EPARSE, "linear model JSON: \"bias\" is missing or not a finite number");
    if (!json_is_array(jw) || json_array_size(jw) != (size_t)d)
        return tl_err_set(err, TL_EPARSE, "linear model JSON: \"w\" is not an array of %lld numbers",
                          (long long)d);
    tl_linear *m = NULL;
    int rc = linear_alloc((size_t)d, &m, err);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < (size_t)d; k++) {
        json_t *v = json_array_get(jw, k);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            tl_linear_free(m);
            return tl_err_set(err, TL_EPARSE, "linear model JSON: \"w\"[%zu] is not a finite number", k);
        }
        m->w[k] = json_number_value(v);
    }
    m->bias = json_number_value(jb);
    *out = m;
    return 0;
}
