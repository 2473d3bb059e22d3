/* conv.c - Conv1D over time (stride 1, zero padding) and global max / mean
 * pooling over time, both respecting each row's length.
 *
 * The convolution is im2col + one GEMM: each output step's receptive field
 * (C_in x kernel values, PyTorch's (in, k) weight order) becomes a row of a
 * (B T_out, C_in k) matrix, an op of its own whose backward scatters back;
 * the product with the weight and the bias add are the core's matmul and
 * add, so their gradients are the core's. Steps past a row's length read
 * as 0, the same as the zero padding after a sequence run alone. */
#include "nn/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct im2col_saved {
    int64_t B, T, C, k, pad, t_out;
    const int32_t *len;  /* (B) */
};

static int im2col_backward(tl_nn_graph *g, tl_tensor *out)
{
    (void)g;
    const struct im2col_saved *s = out->node->aux;
    tl_tensor *x = out->node->src[0];
    if (!x->requires_grad)
        return 0;
    int64_t ck = s->C * s->k;
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t t = 0; t < s->t_out; t++) {
            const float *go = out->grad + (b * s->t_out + t) * ck;
            for (int64_t j = 0; j < s->k; j++) {
                int64_t ts = t + j - s->pad;
                if (ts < 0 || ts >= s->len[b])
                    continue;
                float *gx = x->grad + b * x->stride[0] + ts * x->stride[1];
                for (int64_t c = 0; c < s->C; c++)
                    gx[c * x->stride[2]] += go[c * s->k + j];
            }
        }
    return 0;
}

/* x (B, T, C) -> (B t_out, C k), row (b, t), column c k + j = x[b, t + j - pad, c]. */
static tl_tensor *im2col(tl_nn_graph *g, tl_tensor *x, int64_t k, int64_t pad, const int32_t *len)
{
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2], t_out = T + 2 * pad - k + 1;
    tl_tensor *out = tl__nn_new(g, 2, (int64_t[]){B * t_out, C * k}, true, "nn conv1d");
    if (!out)
        return NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < t_out; t++) {
            float *o = out->data + (b * t_out + t) * C * k;
            for (int64_t j = 0; j < k; j++) {
                int64_t ts = t + j - pad;
                if (ts < 0 || ts >= len[b])
                    continue;
                const float *px = x->data + b * x->stride[0] + ts * x->stride[1];
                for (int64_t c = 0; c < C; c++)
                    o[c * k + j] = px[c * x->stride[2]];
            }
        }
    bool failed;
    struct tl__nn_node *nd =
        tl__nn_record(g, out, im2col_backward, "nn conv1d", x, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (nd) {
        struct im2col_saved *s = tl__nn_scratch(g, sizeof *s, false);
        if (!s)
            return NULL;
        *s = (struct im2col_saved){B, T, C, k, pad, t_out, len};
        nd->aux = s;
    }
    return out;
}

/* Copies lengths (NULL: all T) into the arena after checking them. */
static int32_t *copy_lengths(tl_nn_graph *g, const char *who, const int32_t *lengths, int64_t B,
                             int64_t T)
{
    int32_t *len = tl__nn_scratch(g, (size_t)(B + 1) * sizeof(int32_t), false);
    if (!len)
        return NULL;
    for (int64_t b = 0; b < B; b++) {
        len[b] = lengths ? lengths[b] : (int32_t)T;
        if (len[b] < 0 || len[b] > T) {
            tl__nn_fail(g, TL_EINVAL, "%s: lengths[%lld] is %d, outside [0, %lld]", who,
                        (long long)b, len[b], (long long)T);
            return NULL;
        }
    }
    return len;
}

int tl_nn_conv1d_init(struct tl_nn_conv1d *c, tl_nn_params *ps, const char *prefix,
                      int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t padding,
                      bool bias, tl_rng *rng, tl_err *err)
{
    if (in_channels < 1 || out_channels < 1 || kernel < 1 || padding < 0)
        return tl_err_set(err, TL_EINVAL,
                          "nn conv1d \"%s\": channels %lld -> %lld, kernel %lld, padding %lld: "
                          "channels and kernel must be positive, padding not negative",
                          prefix, (long long)in_channels, (long long)out_channels,
                          (long long)kernel, (long long)padding);
    struct tl_nn_conv1d tmp = {in_channels, out_channels, kernel, padding, NULL, NULL};
    char name[TL_NN_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s.weight", prefix);
    if (n < 0 || (size_t)n >= sizeof name)
        return tl_err_set(err, TL_EINVAL, "nn conv1d: the prefix \"%s\" is too long", prefix);
    int rc = tl_nn_params_add(ps, name, 3, (int64_t[]){out_channels, in_channels, kernel},
                              &tmp.weight, err);
    if (rc < 0)
        return rc;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (bias && (rc = tl_nn_params_add(ps, name, 1, (int64_t[]){out_channels}, &tmp.bias, err)) < 0)
        return rc;
    /* PyTorch's reset_parameters: kaiming_uniform(a = sqrt 5) is U(+-1/sqrt(fan_in)). */
    float a = 1.0f / sqrtf((float)(in_channels * kernel));
    tl_nn_init_uniform(tmp.weight, -a, a, rng);
    if (tmp.bias)
        tl_nn_init_uniform(tmp.bias, -a, a, rng);
    *c = tmp;
    return 0;
}

tl_tensor *tl_nn_conv1d_forward(tl_nn_graph *g, const struct tl_nn_conv1d *c, tl_tensor *x,
                                const int32_t *lengths, int32_t *out_lengths)
{
    if (!x)
        return NULL;
    char buf[64];
    const char *who = c->weight->name;
    if (x->ndim != 3 || x->shape[2] != c->in_channels)
        return tl__nn_fail(g, TL_EINVAL, "nn conv1d \"%s\": input %s is not (B, T, %lld)", who,
                           tl__nn_shape_str(x, buf, sizeof buf), (long long)c->in_channels);
    int64_t B = x->shape[0], T = x->shape[1], k = c->kernel, p = c->padding;
    int64_t t_out = T + 2 * p - k + 1;
    if (t_out < 1)
        return tl__nn_fail(g, TL_EINVAL,
                           "nn conv1d \"%s\": %lld steps with padding %lld are shorter than the "
                           "kernel %lld",
                           who, (long long)T, (long long)p, (long long)k);
    int32_t *len = copy_lengths(g, "nn conv1d", lengths, B, T);
    if (!len)
        return NULL;
    tl_tensor *cols = im2col(g, x, k, p, len);
    tl_tensor *w = tl_nn_reshape(g, c->weight, 2, (int64_t[]){c->out_channels, c->in_channels * k});
    tl_tensor *y = tl_nn_matmul(g, cols, tl_nn_transpose(g, w, 0, 1));
    if (c->bias)
        y = tl_nn_add(g, y, c->bias);
    y = tl_nn_reshape(g, y, 3, (int64_t[]){B, t_out, c->out_channels});
    if (!y)
        return NULL;
    /* Not in len: im2col's backward still reads the input lengths. */
    int32_t *olen = tl__nn_scratch(g, (size_t)(B + 1) * sizeof(int32_t), false);
    if (!olen)
        return NULL;
    bool masked = false;
    for (int64_t b = 0; b < B; b++) {
        int64_t lo = len[b] + 2 * p - k + 1;
        olen[b] = (int32_t)(lo > 0 ? lo : 0);
        masked |= olen[b] < t_out;
        if (out_lengths)
            out_lengths[b] = olen[b];
    }
    if (!masked)
        return y;
    /* The bias (and a kernel reaching only padding) would leave values past
     * the end; zero them so that padded steps look the same everywhere. */
    tl_tensor *mask = tl__nn_new(g, 3, (int64_t[]){B, t_out, 1}, true, "nn conv1d");
    if (!mask)
        return NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < olen[b]; t++)
            mask->data[b * t_out + t] = 1.0f;
    return tl_nn_mul(g, y, mask);
}

/* ---- pooling over time -------------------------------------------------------------- */

struct pool_saved {
    const int32_t *len;    /* (B) */
    const int64_t *arg;    /* (B, C): the winning step (max), -1 for none */
};

static int pool_backward(tl_nn_graph *g, tl_tensor *out)
{
    (void)g;
    const struct pool_saved *s = out->node->aux;
    tl_tensor *x = out->node->src[0];
    if (!x->requires_grad)
        return 0;
    bool is_max = out->node->iarg[0];
    int64_t B = x->shape[0], C = x->shape[2];
    for (int64_t b = 0; b < B; b++) {
        float *gx = x->grad + b * x->stride[0];
        const float *go = out->grad + b * C;
        if (is_max) {
            for (int64_t c = 0; c < C; c++) {
                int64_t t = s->arg[b * C + c];
                if (t >= 0)
                    gx[t * x->stride[1] + c * x->stride[2]] += go[c];
            }
        } else if (s->len[b] > 0) {
            float inv = 1.0f / (float)s->len[b];
            for (int64_t t = 0; t < s->len[b]; t++)
                for (int64_t c = 0; c < C; c++)
                    gx[t * x->stride[1] + c * x->stride[2]] += go[c] * inv;
        }
    }
    return 0;
}

static tl_tensor *pool_time(tl_nn_graph *g, tl_tensor *x, const int32_t *lengths, bool is_max)
{
    if (!x)
        return NULL;
    const char *who = is_max ? "nn max_pool_time" : "nn mean_pool_time";
    char buf[64];
    if (x->ndim != 3)
        return tl__nn_fail(g, TL_EINVAL, "%s: input %s is not (B, T, C)", who,
                           tl__nn_shape_str(x, buf, sizeof buf));
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    int32_t *len = copy_lengths(g, who, lengths, B, T);
    if (!len)
        return NULL;
    tl_tensor *out = tl__nn_new(g, 2, (int64_t[]){B, C}, true, who);
    int64_t *arg = tl__nn_scratch(g, (size_t)(B * C + 1) * sizeof(int64_t), false);
    if (!out || !arg)
        return NULL;
    for (int64_t b = 0; b < B; b++) {
        const float *px = x->data + b * x->stride[0];
        float *o = out->data + b * C;
        for (int64_t c = 0; c < C; c++) {
            arg[b * C + c] = -1;
            if (len[b] == 0)
                continue;
            if (is_max) {
                int64_t best = 0;
                float v = px[c * x->stride[2]];
                for (int64_t t = 1; t < len[b]; t++) {
                    float u = px[t * x->stride[1] + c * x->stride[2]];
                    if (u > v || isnan(u)) { /* NaN wins, as in PyTorch, so it shows */
                        v = u;
                        best = t;
                        if (isnan(u))
                            break;
                    }
                }
                o[c] = v;
                arg[b * C + c] = best;
            } else {
                double sum = 0;
                for (int64_t t = 0; t < len[b]; t++)
                    sum += px[t * x->stride[1] + c * x->stride[2]];
                o[c] = (float)(sum / len[b]);
            }
        }
    }
    bool failed;
    struct tl__nn_node *nd = tl__nn_record(g, out, pool_backward, who, x, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (nd) {
        struct pool_saved *s = tl__nn_scratch(g, sizeof *s, false);
        if (!s)
            return NULL;
        s->len = len;
        s->arg = arg;
        nd->aux = s;
        nd->iarg[0] = is_max;
    }
    return out;
}

tl_tensor *tl_nn_max_pool_time(tl_nn_graph *g, tl_tensor *x, const int32_t *lengths)
{
    return pool_time(g, x, lengths, true);
}

tl_tensor *tl_nn_mean_pool_time(tl_nn_graph *g, tl_tensor *x, const int32_t *lengths)
{
    return pool_time(g, x, lengths, false);
}
