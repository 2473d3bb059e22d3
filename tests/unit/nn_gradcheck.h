/* nn_gradcheck.h - the finite-difference gradient check shared by the nn
 * unit tests (test_nn_core.c, test_nn_layers.c): L = sum(R * out) for a
 * fixed random R, its gradient from the tape against central differences in
 * double. Static functions: include it once per test file, after
 * <criterion/criterion.h> and <teller/nn.h>. */
#ifndef TELLER_TEST_NN_GRADCHECK_H
#define TELLER_TEST_NN_GRADCHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef GC_MAX
#define GC_MAX 24 /* tensors one check may perturb */
#endif

struct gc {
    tl_nn_graph *g;
    int n;
    float *data[GC_MAX];      /* the values perturbed (a parameter's own data) */
    int64_t numel[GC_MAX];
    int ndim[GC_MAX];
    int64_t shape[GC_MAX][4];
    tl_tensor *t[GC_MAX];     /* the tensor built from slot i in the last run */
    bool is_param[GC_MAX];
    bool check[GC_MAX];       /* compare this slot's gradient */
    const void *ctx;          /* whatever the build function needs */
    tl_rng rng;
};

typedef tl_tensor *(*gc_build)(struct gc *c);

static void gc_init(struct gc *c, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    tl_err err = {0};
    cr_assert_eq(tl_nn_graph_new(0, 5, &c->g, &err), 0, "%s", err.msg);
    tl_rng_seed(&c->rng, seed);
}

static void gc_free(struct gc *c)
{
    for (int i = 0; i < c->n; i++)
        if (!c->is_param[i])
            free(c->data[i]);
    tl_nn_graph_free(c->g);
}

/* An input of the given shape, uniform in [lo, hi] but at least `gap` away
 * from 0 (kinks of relu, poles of div and log stay out of reach of h). */
static int gc_input(struct gc *c, int ndim, const int64_t *shape, float lo, float hi, float gap)
{
    int i = c->n++;
    c->ndim[i] = ndim;
    c->numel[i] = 1;
    for (int d = 0; d < ndim; d++) {
        c->shape[i][d] = shape[d];
        c->numel[i] *= shape[d];
    }
    c->data[i] = malloc((size_t)c->numel[i] * sizeof(float));
    for (int64_t j = 0; j < c->numel[i]; j++) {
        float v;
        do
            v = (float)(lo + (hi - lo) * tl_rng_uniform(&c->rng));
        while (fabsf(v) < gap);
        c->data[i][j] = v;
    }
    c->check[i] = true;
    return i;
}

static int gc_param(struct gc *c, tl_tensor *p)
{
    int i = c->n++;
    c->is_param[i] = true;
    c->t[i] = p;
    c->data[i] = p->data;
    c->numel[i] = tl_nn_numel(p);
    c->check[i] = true;
    return i;
}

/* The graph tensor of slot i for this run (requires grad). */
static tl_tensor *IN(struct gc *c, int i)
{
    if (c->is_param[i])
        return c->t[i];
    tl_tensor *t = tl_nn_tensor_from(c->g, c->ndim[i], c->shape[i], c->data[i]);
    cr_assert(t);
    t->requires_grad = c->check[i];
    c->t[i] = t;
    return t;
}

static tl_tensor *gc_forward(struct gc *c, gc_build f)
{
    tl_nn_graph_reset(c->g);
    tl_nn_graph_seed(c->g, 77); /* the same dropout mask on every run */
    tl_tensor *out = f(c);
    tl_err err = {0};
    cr_assert(out, "forward failed: %s", (tl_nn_graph_error(c->g, &err), err.msg));
    return out;
}

static double gc_objective(struct gc *c, gc_build f, const float *r)
{
    tl_tensor *out = gc_forward(c, f);
    int64_t n = tl_nn_numel(out);
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)r[i] * tl_nn_tensor_get(out, i);
    return s;
}

/* Returns the largest |analytic - numeric| seen. */
static double gradcheck(struct gc *c, const char *name, gc_build f, double h, double atol,
                        double rtol)
{
    tl_nn_graph_set_grad(c->g, true);
    tl_tensor *out = gc_forward(c, f);
    int64_t n_out = tl_nn_numel(out);
    float *r = malloc((size_t)n_out * sizeof(float));
    for (int64_t i = 0; i < n_out; i++)
        r[i] = (float)(2 * tl_rng_uniform(&c->rng) - 1);

    /* analytic: d/dx sum(out * R) through the tape */
    for (int i = 0; i < c->n; i++)
        if (c->is_param[i])
            memset(c->t[i]->grad, 0, (size_t)c->numel[i] * sizeof(float));
    out = gc_forward(c, f);
    tl_tensor *rt = tl_nn_tensor_from(c->g, out->ndim, out->shape, r);
    tl_tensor *loss = tl_nn_sum_all(c->g, tl_nn_mul(c->g, out, rt));
    tl_err err = {0};
    cr_assert_eq(tl_nn_backward(c->g, loss, &err), 0, "%s backward: %s", name, err.msg);
    float *ana[GC_MAX] = {0};
    for (int i = 0; i < c->n; i++) {
        if (!c->check[i])
            continue;
        cr_assert(c->t[i]->grad, "%s: input %d got no gradient", name, i);
        ana[i] = malloc((size_t)c->numel[i] * sizeof(float));
        memcpy(ana[i], c->t[i]->grad, (size_t)c->numel[i] * sizeof(float));
    }

    /* numeric, with the tape off: the no-grad path must compute the same */
    tl_nn_graph_set_grad(c->g, false);
    double worst = 0;
    for (int i = 0; i < c->n; i++) {
        if (!c->check[i])
            continue;
        for (int64_t j = 0; j < c->numel[i]; j++) {
            float v = c->data[i][j];
            c->data[i][j] = (float)(v + h);
            double lp = gc_objective(c, f, r);
            c->data[i][j] = (float)(v - h);
            double lm = gc_objective(c, f, r);
            c->data[i][j] = v;
            double num = (lp - lm) / (2 * h), a = ana[i][j], e = fabs(a - num);
            worst = e > worst ? e : worst;
            cr_assert(e <= atol + rtol * fabs(num),
                      "%s: input %d element %lld: analytic %.6g, numeric %.6g", name, i,
                      (long long)j, a, num);
        }
        free(ana[i]);
    }
    tl_nn_graph_set_grad(c->g, true);
    free(r);
    cr_log_info("gradcheck %-28s max |err| %.2e", name, worst);
    return worst;
}

#endif
