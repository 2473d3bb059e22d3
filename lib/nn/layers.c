/* layers.c - the first layers on the core: Linear, Embedding and the MLP.
 * Each is a struct of parameter pointers; the parameters live in the
 * caller's tl_nn_params under PyTorch-style names. */
#include "nn/internal.h"

#include <math.h>
#include <stdio.h>

static int param(tl_nn_params *ps, const char *prefix, const char *name, int ndim,
                 const int64_t *shape, tl_tensor **out, tl_err *err)
{
    char full[TL_NN_NAME_MAX];
    int n = snprintf(full, sizeof full, "%s.%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return tl_err_set(err, TL_EINVAL, "nn layer: the name \"%s.%s\" is longer than %d bytes",
                          prefix, name, TL_NN_NAME_MAX - 1);
    return tl_nn_params_add(ps, full, ndim, shape, out, err);
}

int tl_nn_linear_init(struct tl_nn_linear *l, tl_nn_params *ps, const char *prefix, int64_t in,
                      int64_t out, bool bias, tl_rng *rng, tl_err *err)
{
    if (in < 1 || out < 1)
        return tl_err_set(err, TL_EINVAL, "nn linear \"%s\": sizes %lld -> %lld must be positive",
                          prefix, (long long)in, (long long)out);
    struct tl_nn_linear tmp = {in, out, NULL, NULL};
    int rc = param(ps, prefix, "weight", 2, (int64_t[]){in, out}, &tmp.weight, err);
    if (rc < 0)
        return rc;
    if (bias && (rc = param(ps, prefix, "bias", 1, (int64_t[]){out}, &tmp.bias, err)) < 0)
        return rc;
    tl_nn_init_xavier_uniform(tmp.weight, in, out, 1.0f, rng);
    *l = tmp;
    return 0;
}

tl_tensor *tl_nn_linear_forward(tl_nn_graph *g, const struct tl_nn_linear *l, tl_tensor *x)
{
    if (!x)
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != l->in) {
        char b[64];
        return tl__nn_fail(g, TL_EINVAL, "nn linear \"%s\": input %s does not end in width %lld",
                           l->weight->name, tl__nn_shape_str(x, b, sizeof b), (long long)l->in);
    }
    tl_tensor *flat = x;
    if (x->ndim != 2) /* (..., in) as (rows, in) for one GEMM */
        flat = tl_nn_reshape(g, x, 2, (int64_t[]){-1, l->in});
    tl_tensor *y = tl_nn_matmul(g, flat, l->weight);
    if (l->bias)
        y = tl_nn_add(g, y, l->bias);
    if (y && x->ndim != 2) {
        int64_t shape[TL_NN_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++)
            shape[d] = x->shape[d];
        shape[x->ndim - 1] = l->out;
        y = tl_nn_reshape(g, y, x->ndim, shape);
    }
    return y;
}

int tl_nn_embedding_init(struct tl_nn_embedding_layer *e, tl_nn_params *ps, const char *prefix,
                         int64_t n_vocab, int64_t dim, tl_rng *rng, tl_err *err)
{
    if (n_vocab < 1 || dim < 1)
        return tl_err_set(err, TL_EINVAL, "nn embedding \"%s\": %lld x %lld must be positive",
                          prefix, (long long)n_vocab, (long long)dim);
    struct tl_nn_embedding_layer tmp = {n_vocab, dim, NULL};
    int rc = param(ps, prefix, "weight", 2, (int64_t[]){n_vocab, dim}, &tmp.weight, err);
    if (rc < 0)
        return rc;
    tl_nn_init_normal(tmp.weight, 0.0f, 1.0f, rng);
    *e = tmp;
    return 0;
}

tl_tensor *tl_nn_embedding_forward(tl_nn_graph *g, const struct tl_nn_embedding_layer *e,
                                   const int32_t *idx, int64_t n)
{
    return tl_nn_embedding(g, e->weight, idx, n);
}

int tl_nn_mlp_init(struct tl_nn_mlp *m, tl_nn_params *ps, const char *prefix, const int64_t *sizes,
                   int n_sizes, enum tl_nn_act act, float dropout, tl_rng *rng, tl_err *err)
{
    if (n_sizes < 2 || n_sizes > TL_NN_MLP_MAX_LAYERS + 1)
        return tl_err_set(err, TL_EINVAL, "nn mlp \"%s\": %d sizes given; 2 to %d allowed", prefix,
                          n_sizes, TL_NN_MLP_MAX_LAYERS + 1);
    if ((int)act < 0 || act > TL_NN_ACT_SIGMOID)
        return tl_err_set(err, TL_EINVAL, "nn mlp \"%s\": unknown activation %d", prefix, (int)act);
    if (!(dropout >= 0 && dropout < 1))
        return tl_err_set(err, TL_EINVAL, "nn mlp \"%s\": dropout %g is outside [0, 1)", prefix,
                          (double)dropout);
    m->n_layers = n_sizes - 1;
    m->act = act;
    m->dropout = dropout;
    for (int i = 0; i < m->n_layers; i++) {
        char name[TL_NN_NAME_MAX];
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        int rc = tl_nn_linear_init(&m->layers[i], ps, name, sizes[i], sizes[i + 1], true, rng, err);
        if (rc < 0)
            return rc;
        /* He init where a ReLU-like activation follows; the last layer keeps Xavier. */
        bool hidden = i + 1 < m->n_layers;
        if (hidden && (act == TL_NN_ACT_RELU || act == TL_NN_ACT_GELU))
            tl_nn_init_kaiming_uniform(m->layers[i].weight, sizes[i], rng);
    }
    return 0;
}

tl_tensor *tl_nn_mlp_forward(tl_nn_graph *g, const struct tl_nn_mlp *m, tl_tensor *x)
{
    for (int i = 0; i < m->n_layers && x; i++) {
        x = tl_nn_linear_forward(g, &m->layers[i], x);
        if (i + 1 == m->n_layers)
            break;
        switch (m->act) {
        case TL_NN_ACT_RELU: x = tl_nn_relu(g, x); break;
        case TL_NN_ACT_GELU: x = tl_nn_gelu(g, x); break;
        case TL_NN_ACT_TANH: x = tl_nn_tanh(g, x); break;
        default: x = tl_nn_sigmoid(g, x); break;
        }
        if (m->dropout > 0)
            x = tl_nn_dropout(g, x, m->dropout);
    }
    return x;
}
