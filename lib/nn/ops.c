/* ops.c - elementwise ops with broadcasting, activations, dropout,
 * reductions and concat, each with its backward step.
 *
 * Every kernel walks tensors padded to 4 dims (leading 1s) with explicit
 * strides, so views of any layout are read in place; outputs are contiguous.
 * A broadcast input gets stride 0 on the broadcast dims, which makes the
 * backward "sum over broadcast dims" fall out of plain accumulation. */
#include "nn/internal.h"

#include <math.h>
#include <string.h>

/* ---- binary ops with broadcasting ---------------------------------------------- */

enum binop { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };
static const char *const binop_name[] = {"nn add", "nn sub", "nn mul", "nn div"};

/* in's strides seen from an output of padded shape osh (0 on broadcast dims). */
static void bcast_strides(const tl_tensor *in, const int64_t osh[4], int64_t st[4])
{
    int64_t sh[4];
    tl__nn_pad4(in, sh, st);
    for (int d = 0; d < 4; d++)
        if (sh[d] == 1 && osh[d] != 1)
            st[d] = 0;
}

static int binary_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *n = out->node;
    tl_tensor *a = n->src[0], *b = n->src[1];
    enum binop op = (enum binop)n->iarg[0];
    int64_t osh[4], ost[4], as[4], bs[4];
    tl__nn_pad4(out, osh, ost);
    bcast_strides(a, osh, as);
    bcast_strides(b, osh, bs);
    const float *go = out->grad;
    float *ga = a->requires_grad ? a->grad : NULL;
    float *gb = b->requires_grad ? b->grad : NULL;
    for (int64_t i0 = 0; i0 < osh[0]; i0++)
        for (int64_t i1 = 0; i1 < osh[1]; i1++)
            for (int64_t i2 = 0; i2 < osh[2]; i2++) {
                int64_t ao = i0 * as[0] + i1 * as[1] + i2 * as[2];
                int64_t bo = i0 * bs[0] + i1 * bs[1] + i2 * bs[2];
                const float *pa = a->data + ao, *pb = b->data + bo;
                for (int64_t i3 = 0; i3 < osh[3]; i3++) {
                    float gv = *go++;
                    float av = pa[i3 * as[3]], bv = pb[i3 * bs[3]];
                    float da, db;
                    switch (op) {
                    case BIN_ADD: da = gv; db = gv; break;
                    case BIN_SUB: da = gv; db = -gv; break;
                    case BIN_MUL: da = gv * bv; db = gv * av; break;
                    default: da = gv / bv; db = -gv * av / (bv * bv); break;
                    }
                    if (ga)
                        ga[ao + i3 * as[3]] += da;
                    if (gb)
                        gb[bo + i3 * bs[3]] += db;
                }
            }
    return 0;
}

static tl_tensor *binary(tl_nn_graph *g, tl_tensor *a, tl_tensor *b, enum binop op)
{
    if (!a || !b)
        return NULL;
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[TL_NN_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char x[64], y[64];
            return tl__nn_fail(g, TL_EINVAL, "%s: shapes %s and %s do not broadcast (dimension %d)",
                               binop_name[op], tl__nn_shape_str(a, x, sizeof x),
                               tl__nn_shape_str(b, y, sizeof y), d);
        }
        shape[d] = sa == 1 ? sb : sa;
    }
    tl_tensor *out = tl__nn_new(g, nd, shape, false, binop_name[op]);
    if (!out)
        return NULL;
    int64_t osh[4], ost[4], as[4], bs[4];
    tl__nn_pad4(out, osh, ost);
    bcast_strides(a, osh, as);
    bcast_strides(b, osh, bs);
    float *o = out->data;
    for (int64_t i0 = 0; i0 < osh[0]; i0++)
        for (int64_t i1 = 0; i1 < osh[1]; i1++)
            for (int64_t i2 = 0; i2 < osh[2]; i2++) {
                const float *pa = a->data + i0 * as[0] + i1 * as[1] + i2 * as[2];
                const float *pb = b->data + i0 * bs[0] + i1 * bs[1] + i2 * bs[2];
                int64_t sa = as[3], sb = bs[3], m = osh[3];
                switch (op) {
                case BIN_ADD: for (int64_t i = 0; i < m; i++) o[i] = pa[i * sa] + pb[i * sb]; break;
                case BIN_SUB: for (int64_t i = 0; i < m; i++) o[i] = pa[i * sa] - pb[i * sb]; break;
                case BIN_MUL: for (int64_t i = 0; i < m; i++) o[i] = pa[i * sa] * pb[i * sb]; break;
                default: for (int64_t i = 0; i < m; i++) o[i] = pa[i * sa] / pb[i * sb]; break;
                }
                o += m;
            }
    bool failed;
    struct tl__nn_node *n = tl__nn_record(g, out, binary_backward, binop_name[op], a, b, NULL, &failed);
    if (failed)
        return NULL;
    if (n)
        n->iarg[0] = op;
    return out;
}

tl_tensor *tl_nn_add(tl_nn_graph *g, tl_tensor *a, tl_tensor *b) { return binary(g, a, b, BIN_ADD); }
tl_tensor *tl_nn_sub(tl_nn_graph *g, tl_tensor *a, tl_tensor *b) { return binary(g, a, b, BIN_SUB); }
tl_tensor *tl_nn_mul(tl_nn_graph *g, tl_tensor *a, tl_tensor *b) { return binary(g, a, b, BIN_MUL); }
tl_tensor *tl_nn_div(tl_nn_graph *g, tl_tensor *a, tl_tensor *b) { return binary(g, a, b, BIN_DIV); }

/* ---- unary ops ------------------------------------------------------------------ */

enum unop { UN_SCALE, UN_RELU, UN_GELU, UN_TANH, UN_SIGMOID, UN_EXP, UN_LOG, UN_DROPOUT };
static const char *const unop_name[] = {"nn scale", "nn relu", "nn gelu",    "nn tanh",
                                        "nn sigmoid", "nn exp", "nn log", "nn dropout"};

#define GELU_C 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

static inline float unary_f(enum unop op, float x, const float *farg, float mask)
{
    switch (op) {
    case UN_SCALE: return farg[0] * x + farg[1];
    case UN_RELU: return x > 0 ? x : 0;
    case UN_GELU: return 0.5f * x * (1.0f + tanhf(GELU_C * (x + GELU_A * x * x * x)));
    case UN_TANH: return tanhf(x);
    case UN_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case UN_EXP: return expf(x);
    case UN_LOG: return logf(x);
    default: return x * mask;
    }
}

/* d out / d x from the input x and the output y. */
static inline float unary_df(enum unop op, float x, float y, const float *farg, float mask)
{
    switch (op) {
    case UN_SCALE: return farg[0];
    case UN_RELU: return x > 0 ? 1.0f : 0.0f;
    case UN_GELU: {
        float u = GELU_C * (x + GELU_A * x * x * x);
        float t = tanhf(u);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * GELU_A * x * x);
    }
    case UN_TANH: return 1.0f - y * y;
    case UN_SIGMOID: return y * (1.0f - y);
    case UN_EXP: return y;
    case UN_LOG: return 1.0f / x;
    default: return mask;
    }
}

static int unary_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *n = out->node;
    tl_tensor *x = n->src[0];
    if (!x->requires_grad)
        return 0;
    enum unop op = (enum unop)n->iarg[0];
    const float *mask = n->aux;
    int64_t sh[4], st[4];
    tl__nn_pad4(x, sh, st);
    const float *go = out->grad, *y = out->data;
    int64_t k = 0;
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++) {
                int64_t off = i0 * st[0] + i1 * st[1] + i2 * st[2];
                for (int64_t i3 = 0; i3 < sh[3]; i3++, k++) {
                    int64_t o = off + i3 * st[3];
                    x->grad[o] += go[k] * unary_df(op, x->data[o], y[k], n->farg, mask ? mask[k] : 1);
                }
            }
    return 0;
}

static tl_tensor *unary(tl_nn_graph *g, tl_tensor *x, enum unop op, float f0, float f1,
                        const float *mask)
{
    if (!x)
        return NULL;
    tl_tensor *out = tl__nn_new(g, x->ndim, x->shape, false, unop_name[op]);
    if (!out)
        return NULL;
    float farg[2] = {f0, f1};
    int64_t sh[4], st[4];
    tl__nn_pad4(x, sh, st);
    float *o = out->data;
    int64_t k = 0;
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++) {
                const float *p = x->data + i0 * st[0] + i1 * st[1] + i2 * st[2];
                for (int64_t i3 = 0; i3 < sh[3]; i3++, k++)
                    o[k] = unary_f(op, p[i3 * st[3]], farg, mask ? mask[k] : 1);
            }
    bool failed;
    struct tl__nn_node *n = tl__nn_record(g, out, unary_backward, unop_name[op], x, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (n) {
        n->iarg[0] = op;
        n->farg[0] = f0;
        n->farg[1] = f1;
        n->aux = (void *)mask;
    }
    return out;
}

tl_tensor *tl_nn_scale(tl_nn_graph *g, tl_tensor *x, float s, float bias)
{
    return unary(g, x, UN_SCALE, s, bias, NULL);
}
tl_tensor *tl_nn_relu(tl_nn_graph *g, tl_tensor *x) { return unary(g, x, UN_RELU, 0, 0, NULL); }
tl_tensor *tl_nn_gelu(tl_nn_graph *g, tl_tensor *x) { return unary(g, x, UN_GELU, 0, 0, NULL); }
tl_tensor *tl_nn_tanh(tl_nn_graph *g, tl_tensor *x) { return unary(g, x, UN_TANH, 0, 0, NULL); }
tl_tensor *tl_nn_sigmoid(tl_nn_graph *g, tl_tensor *x) { return unary(g, x, UN_SIGMOID, 0, 0, NULL); }
tl_tensor *tl_nn_exp(tl_nn_graph *g, tl_tensor *x) { return unary(g, x, UN_EXP, 0, 0, NULL); }
tl_tensor *tl_nn_log(tl_nn_graph *g, tl_tensor *x) { return unary(g, x, UN_LOG, 0, 0, NULL); }

tl_tensor *tl_nn_dropout(tl_nn_graph *g, tl_tensor *x, float p)
{
    if (!x)
        return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return tl__nn_fail(g, TL_EINVAL, "nn dropout: probability %g is outside [0, 1)", (double)p);
    if (!g->training || p == 0.0f)
        return x;
    int64_t n = tl_nn_numel(x);
    float *mask = tl__nn_scratch(g, (size_t)n * sizeof(float), false);
    if (!mask)
        return NULL;
    /* The mask is drawn in row-major order of x, one uniform per element, so
     * a seed fixes it whatever x's strides are. */
    float keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++)
        mask[i] = tl_rng_uniform(&g->rng) < (double)p ? 0.0f : keep;
    return unary(g, x, UN_DROPOUT, 0, 0, mask);
}

/* ---- reductions --------------------------------------------------------------------- */

/* Sum over one axis (n->iarg[0], padded index) times a factor (farg[0]). */
static int reduce_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *n = out->node;
    tl_tensor *x = n->src[0];
    if (!x->requires_grad)
        return 0;
    int ax = (int)n->iarg[0];
    float f = n->farg[0];
    int64_t sh[4], st[4], os[4];
    tl__nn_pad4(x, sh, st);
    /* out's contiguous strides over x's padded shape, 0 on the reduced axis */
    int64_t s = 1;
    for (int d = 3; d >= 0; d--) {
        if (d == ax || ax < 0) {
            os[d] = 0;
        } else {
            os[d] = s;
            s *= sh[d];
        }
    }
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++)
                for (int64_t i3 = 0; i3 < sh[3]; i3++)
                    x->grad[i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3]] +=
                        f * out->grad[i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3]];
    return 0;
}

static tl_tensor *reduce(tl_nn_graph *g, tl_tensor *x, int axis, bool keepdim, bool mean, bool all)
{
    if (!x)
        return NULL;
    const char *name = mean ? "nn mean" : "nn sum";
    int ax = -1, pax = -1;
    int64_t shape[TL_NN_MAX_DIMS];
    int nd = 0;
    double count;
    if (all) {
        count = (double)tl_nn_numel(x);
    } else {
        ax = tl__nn_axis(x, axis);
        if (ax < 0)
            return tl__nn_fail(g, TL_EINVAL, "%s: axis %d is out of range for a %d-d tensor", name,
                               axis, x->ndim);
        pax = ax + 4 - x->ndim;
        count = (double)x->shape[ax];
        for (int d = 0; d < x->ndim; d++) {
            if (d != ax)
                shape[nd++] = x->shape[d];
            else if (keepdim)
                shape[nd++] = 1;
        }
    }
    tl_tensor *out = tl__nn_new(g, nd, shape, true, name);
    if (!out)
        return NULL;
    float f = mean ? (float)(count > 0 ? 1.0 / count : 0.0) : 1.0f;
    int64_t sh[4], st[4];
    tl__nn_pad4(x, sh, st);
    if (all) {
        double acc = 0;
        for (int64_t i0 = 0; i0 < sh[0]; i0++)
            for (int64_t i1 = 0; i1 < sh[1]; i1++)
                for (int64_t i2 = 0; i2 < sh[2]; i2++)
                    for (int64_t i3 = 0; i3 < sh[3]; i3++)
                        acc += x->data[i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3]];
        out->data[0] = (float)(acc * f);
    } else {
        int64_t os[4], s = 1;
        for (int d = 3; d >= 0; d--) {
            if (d == pax) {
                os[d] = 0;
            } else {
                os[d] = s;
                s *= sh[d];
            }
        }
        for (int64_t i0 = 0; i0 < sh[0]; i0++)
            for (int64_t i1 = 0; i1 < sh[1]; i1++)
                for (int64_t i2 = 0; i2 < sh[2]; i2++)
                    for (int64_t i3 = 0; i3 < sh[3]; i3++)
                        out->data[i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3]] +=
                            x->data[i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3]];
        if (mean) {
            int64_t m = tl_nn_numel(out);
            for (int64_t i = 0; i < m; i++)
                out->data[i] *= f;
        }
    }
    bool failed;
    struct tl__nn_node *n = tl__nn_record(g, out, reduce_backward, name, x, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (n) {
        n->iarg[0] = pax;
        n->farg[0] = f;
    }
    return out;
}

tl_tensor *tl_nn_sum(tl_nn_graph *g, tl_tensor *x, int axis, bool keepdim)
{
    return reduce(g, x, axis, keepdim, false, false);
}
tl_tensor *tl_nn_mean(tl_nn_graph *g, tl_tensor *x, int axis, bool keepdim)
{
    return reduce(g, x, axis, keepdim, true, false);
}
tl_tensor *tl_nn_sum_all(tl_nn_graph *g, tl_tensor *x) { return reduce(g, x, 0, false, false, true); }
tl_tensor *tl_nn_mean_all(tl_nn_graph *g, tl_tensor *x) { return reduce(g, x, 0, false, true, true); }

/* ---- concat ---------------------------------------------------------------------------- */

/* The part of out that input i fills: out's padded strides, offset in iarg. */
static int concat_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *n = out->node;
    int pax = (int)n->iarg[0];
    int64_t osh[4], ost[4];
    tl__nn_pad4(out, osh, ost);
    int64_t start = 0;
    for (int i = 0; i < n->n_srcs; i++) {
        tl_tensor *x = n->srcs[i];
        int64_t sh[4], st[4];
        tl__nn_pad4(x, sh, st);
        if (x->requires_grad)
            tl__nn_copy4(x->grad, st, out->grad + start * ost[pax], ost, sh, true);
        start += sh[pax];
    }
    return 0;
}

tl_tensor *tl_nn_concat(tl_nn_graph *g, tl_tensor *const *xs, int n, int axis)
{
    if (n < 1)
        return tl__nn_fail(g, TL_EINVAL, "nn concat: no tensors to join");
    for (int i = 0; i < n; i++)
        if (!xs[i])
            return NULL;
    tl_tensor *x0 = xs[0];
    int ax = tl__nn_axis(x0, axis);
    if (ax < 0)
        return tl__nn_fail(g, TL_EINVAL, "nn concat: axis %d is out of range for a %d-d tensor", axis,
                           x0->ndim);
    int64_t shape[TL_NN_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[ax] = 0;
    for (int i = 0; i < n; i++) {
        bool ok = xs[i]->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++)
            ok = d == ax || xs[i]->shape[d] == x0->shape[d];
        if (!ok) {
            char a[64], b[64];
            return tl__nn_fail(g, TL_EINVAL,
                               "nn concat: tensor %d of shape %s does not match tensor 0 of shape %s "
                               "off axis %d",
                               i, tl__nn_shape_str(xs[i], a, sizeof a),
                               tl__nn_shape_str(x0, b, sizeof b), axis);
        }
        shape[ax] += xs[i]->shape[ax];
    }
    tl_tensor *out = tl__nn_new(g, x0->ndim, shape, false, "nn concat");
    if (!out)
        return NULL;
    int pax = ax + 4 - x0->ndim;
    int64_t osh[4], ost[4];
    tl__nn_pad4(out, osh, ost);
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        int64_t sh[4], st[4];
        tl__nn_pad4(xs[i], sh, st);
        tl__nn_copy4(out->data + start * ost[pax], ost, xs[i]->data, st, sh, false);
        start += sh[pax];
    }
    /* record() keys on its inputs' flags: hand it one that needs grad, if any */
    tl_tensor *needs = NULL;
    for (int i = 0; i < n && !needs; i++)
        if (xs[i]->requires_grad)
            needs = xs[i];
    bool failed;
    struct tl__nn_node *node =
        tl__nn_record(g, out, concat_backward, "nn concat", needs, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (node) {
        node->srcs = tl__nn_scratch(g, (size_t)n * sizeof *node->srcs, false);
        if (!node->srcs)
            return NULL;
        memcpy(node->srcs, xs, (size_t)n * sizeof *node->srcs);
        node->n_srcs = n;
        node->iarg[0] = pax;
    }
    return out;
}
