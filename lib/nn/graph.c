/* graph.c - the graph (arena + tape), tensors, views, parameters,
 * initialization and the backward walk. */
#include "nn/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

/* Arena blocks of 1 MiB: a batch's graph is usually a few MiB, and big
 * activations get a block of their own anyway. */
#define GRAPH_BLOCK_BYTES (1u << 20)

/* ---- errors and helpers ------------------------------------------------------ */

tl_tensor *tl__nn_fail(tl_nn_graph *g, int code, const char *fmt, ...)
{
    if (g && g->err.code == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err.msg, sizeof g->err.msg, fmt, ap);
        va_end(ap);
        g->err.code = code;
    }
    return NULL;
}

const char *tl__nn_shape_str(const tl_tensor *t, char *buf, size_t n)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, ")");
    return buf;
}

void *tl__nn_scratch(tl_nn_graph *g, size_t n_bytes, bool zero)
{
    void *p = zero ? tl_arena_calloc(g->arena, 1, n_bytes ? n_bytes : 1)
                   : tl_arena_alloc(g->arena, n_bytes ? n_bytes : 1);
    if (!p)
        tl__nn_fail(g, TL_ENOMEM, "nn graph: the arena is full (%zu bytes in use, %zu more asked)",
                    tl_arena_used(g->arena), n_bytes);
    return p;
}

static bool shape_ok(tl_nn_graph *g, int ndim, const int64_t *shape, const char *op)
{
    if (ndim < 0 || ndim > TL_NN_MAX_DIMS) {
        tl__nn_fail(g, TL_EINVAL, "%s: %d dimensions asked; a tensor has 0 to %d", op, ndim,
                    TL_NN_MAX_DIMS);
        return false;
    }
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && n > INT64_MAX / 4 / shape[d])) {
            tl__nn_fail(g, TL_EINVAL, "%s: dimension %d has size %lld", op, d, (long long)shape[d]);
            return false;
        }
        n *= shape[d];
    }
    return true;
}

static void set_contiguous_layout(tl_tensor *t, int ndim, const int64_t *shape)
{
    t->ndim = ndim;
    int64_t s = 1;
    for (int d = TL_NN_MAX_DIMS - 1; d >= 0; d--) {
        if (d < ndim) {
            t->shape[d] = shape[d];
            t->stride[d] = s;
            s *= shape[d];
        } else {
            t->shape[d] = 1;
            t->stride[d] = 0;
        }
    }
}

static tl_tensor *new_struct(tl_nn_graph *g)
{
    tl_tensor *t = tl__nn_scratch(g, sizeof *t, true);
    if (!t)
        return NULL;
    t->tape_prev = g->tape;
    g->tape = t;
    return t;
}

tl_tensor *tl__nn_new(tl_nn_graph *g, int ndim, const int64_t *shape, bool zero, const char *op)
{
    if (!shape_ok(g, ndim, shape, op))
        return NULL;
    tl_tensor *t = new_struct(g);
    if (!t)
        return NULL;
    set_contiguous_layout(t, ndim, shape);
    t->data = tl__nn_scratch(g, (size_t)tl_nn_numel(t) * sizeof(float), zero);
    return t->data ? t : NULL;
}

struct tl__nn_node *tl__nn_record(tl_nn_graph *g, tl_tensor *out, tl__nn_backward_fn fn,
                                  const char *op, tl_tensor *a, tl_tensor *b, tl_tensor *c,
                                  bool *failed)
{
    *failed = false;
    if (!g->grad_enabled)
        return NULL;
    if (!((a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad)))
        return NULL;
    struct tl__nn_node *n = tl__nn_scratch(g, sizeof *n, true);
    if (!n) {
        *failed = true;
        return NULL;
    }
    n->backward = fn;
    n->op = op;
    n->src[0] = a;
    n->src[1] = b;
    n->src[2] = c;
    out->node = n;
    out->requires_grad = true;
    return n;
}

void tl__nn_pad4(const tl_tensor *t, int64_t shape[4], int64_t stride[4])
{
    int lead = 4 - t->ndim;
    for (int d = 0; d < 4; d++) {
        if (d < lead) {
            shape[d] = 1;
            stride[d] = 0;
        } else {
            shape[d] = t->shape[d - lead];
            stride[d] = t->stride[d - lead];
        }
    }
}

void tl__nn_copy4(float *dst, const int64_t ds[4], const float *src, const int64_t ss[4],
                  const int64_t sh[4], bool accumulate)
{
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++) {
                float *d = dst + i0 * ds[0] + i1 * ds[1] + i2 * ds[2];
                const float *s = src + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
                if (accumulate) {
                    for (int64_t i3 = 0; i3 < sh[3]; i3++)
                        d[i3 * ds[3]] += s[i3 * ss[3]];
                } else if (ds[3] == 1 && ss[3] == 1) {
                    memcpy(d, s, (size_t)sh[3] * sizeof(float));
                } else {
                    for (int64_t i3 = 0; i3 < sh[3]; i3++)
                        d[i3 * ds[3]] = s[i3 * ss[3]];
                }
            }
}

int tl__nn_axis(const tl_tensor *t, int axis)
{
    if (axis < 0)
        axis += t->ndim;
    return (axis < 0 || axis >= t->ndim) ? -1 : axis;
}

/* ---- tensors ------------------------------------------------------------------- */

int64_t tl_nn_numel(const tl_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

bool tl_nn_is_contiguous(const tl_tensor *t)
{
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != s)
            return false;
        s *= t->shape[d];
    }
    return true;
}

void tl_nn_tensor_read(const tl_tensor *t, float *dst)
{
    int64_t sh[4], st[4], ds[4];
    tl__nn_pad4(t, sh, st);
    ds[3] = 1;
    ds[2] = sh[3];
    ds[1] = sh[3] * sh[2];
    ds[0] = sh[3] * sh[2] * sh[1];
    tl__nn_copy4(dst, ds, t->data, st, sh, false);
}

float tl_nn_tensor_get(const tl_tensor *t, int64_t i)
{
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    return t->data[off];
}

tl_tensor *tl_nn_tensor_new(tl_nn_graph *g, int ndim, const int64_t *shape)
{
    return tl__nn_new(g, ndim, shape, true, "nn tensor");
}

tl_tensor *tl_nn_tensor_from(tl_nn_graph *g, int ndim, const int64_t *shape, const float *data)
{
    tl_tensor *t = tl__nn_new(g, ndim, shape, false, "nn tensor");
    if (t)
        memcpy(t->data, data, (size_t)tl_nn_numel(t) * sizeof(float));
    return t;
}

tl_tensor *tl_nn_tensor_wrap(tl_nn_graph *g, int ndim, const int64_t *shape, const float *data)
{
    if (!shape_ok(g, ndim, shape, "nn tensor"))
        return NULL;
    tl_tensor *t = new_struct(g);
    if (!t)
        return NULL;
    set_contiguous_layout(t, ndim, shape);
    /* Never written through: the ops only write outputs and grads. */
    t->data = (float *)data;
    return t;
}

tl_tensor *tl_nn_scalar(tl_nn_graph *g, float v)
{
    tl_tensor *t = tl__nn_new(g, 0, NULL, false, "nn scalar");
    if (t)
        t->data[0] = v;
    return t;
}

/* ---- the graph ------------------------------------------------------------------- */

int tl_nn_graph_new(size_t max_bytes, uint64_t seed, tl_nn_graph **out, tl_err *err)
{
    tl_nn_graph *g = calloc(1, sizeof *g);
    if (!g)
        return tl_err_set(err, TL_ENOMEM, "nn graph: out of memory");
    size_t block = GRAPH_BLOCK_BYTES;
    if (max_bytes && max_bytes < block)
        block = max_bytes;
    g->arena = tl_arena_new(block, max_bytes);
    g->block_bytes = block;
    g->max_bytes = max_bytes;
    if (!g->arena) {
        free(g);
        return tl_err_set(err, TL_ENOMEM, "nn graph: cannot allocate its arena (%zu bytes)", block);
    }
    tl_rng_seed(&g->rng, seed);
    g->training = true;
    g->grad_enabled = true;
    *out = g;
    return 0;
}

void tl_nn_graph_free(tl_nn_graph *g)
{
    if (!g)
        return;
    tl_arena_free(g->arena);
    free(g);
}

void tl_nn_graph_reset(tl_nn_graph *g)
{
    /* A batch that outgrew the arena's block left a chain of blocks that a
     * reset frees and the next batch mallocs again: for a GRU, whose graph
     * holds every step, that was the most of an epoch's system time. So the
     * arena is remade once with blocks as large as that batch's peak (and a
     * quarter more), and later batches of the same shape allocate nothing. */
    size_t peak = tl_arena_used(g->arena);
    if (peak > g->block_bytes && (!g->max_bytes || peak < g->max_bytes)) {
        size_t want = peak + peak / 4;
        if (g->max_bytes && want > g->max_bytes)
            want = g->max_bytes;
        tl_arena *bigger = tl_arena_new(want, g->max_bytes);
        if (bigger) { /* else keep the small blocks: slower, not wrong */
            tl_arena_free(g->arena);
            g->arena = bigger;
            g->block_bytes = want;
        }
    }
    tl_arena_reset(g->arena);
    g->tape = NULL;
    g->backward_done = false;
    tl_err_clear(&g->err);
}

void tl_nn_graph_set_training(tl_nn_graph *g, bool training)
{
    g->training = training;
}

void tl_nn_graph_set_grad(tl_nn_graph *g, bool enabled)
{
    g->grad_enabled = enabled;
}

void tl_nn_graph_seed(tl_nn_graph *g, uint64_t seed)
{
    tl_rng_seed(&g->rng, seed);
}

int tl_nn_graph_error(const tl_nn_graph *g, tl_err *err)
{
    if (g->err.code == 0)
        return 0;
    return tl_err_set(err, g->err.code, "%s", g->err.msg);
}

size_t tl_nn_graph_bytes(const tl_nn_graph *g)
{
    return tl_arena_used(g->arena);
}

void tl_nn_set_blas_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int tl_nn_backward(tl_nn_graph *g, tl_tensor *loss, tl_err *err)
{
    if (g->err.code)
        return tl_nn_graph_error(g, err);
    if (!loss)
        return tl_err_set(err, TL_EINVAL, "nn backward: the loss is NULL (an op failed earlier?)");
    if (tl_nn_numel(loss) != 1) {
        char b[64];
        return tl_err_set(err, TL_EINVAL, "nn backward: the loss must have one element, not shape %s",
                          tl__nn_shape_str(loss, b, sizeof b));
    }
    if (g->backward_done)
        return tl_err_set(err, TL_EINVAL,
                          "nn backward: already ran on this graph; reset it and rebuild the batch");
    if (!loss->requires_grad)
        return tl_err_set(err, TL_EINVAL,
                          "nn backward: the loss does not depend on anything that requires grad");
    g->backward_done = true;
    /* Owners first (any order), then views, which point into their root's
     * grad: a root is an owner or a parameter, never a view. */
    for (tl_tensor *t = g->tape; t; t = t->tape_prev) {
        if (t->requires_grad && !t->view_root && !t->is_param && !t->grad) {
            t->grad = tl__nn_scratch(g, (size_t)tl_nn_numel(t) * sizeof(float), true);
            if (!t->grad)
                return tl_nn_graph_error(g, err);
        }
    }
    for (tl_tensor *t = g->tape; t; t = t->tape_prev) {
        if (t->view_root)
            t->grad = t->view_root->grad ? t->view_root->grad + t->view_offset : NULL;
    }
    loss->grad[0] += 1.0f;
    for (tl_tensor *t = g->tape; t; t = t->tape_prev) {
        if (t->node && t->requires_grad && t->grad) {
            if (t->node->backward(g, t) < 0)
                return tl_nn_graph_error(g, err);
        }
    }
    return 0;
}

/* ---- views ----------------------------------------------------------------------- */

static tl_tensor *new_view(tl_nn_graph *g, tl_tensor *x, int64_t extra_offset)
{
    tl_tensor *v = new_struct(g);
    if (!v)
        return NULL;
    v->ndim = x->ndim;
    memcpy(v->shape, x->shape, sizeof v->shape);
    memcpy(v->stride, x->stride, sizeof v->stride);
    v->data = x->data + extra_offset;
    v->requires_grad = x->requires_grad && g->grad_enabled;
    v->view_root = x->view_root ? x->view_root : x;
    v->view_offset = (x->view_root ? x->view_offset : 0) + extra_offset;
    return v;
}

tl_tensor *tl_nn_slice(tl_nn_graph *g, tl_tensor *x, int axis, int64_t start, int64_t end)
{
    if (!x)
        return NULL;
    int ax = tl__nn_axis(x, axis);
    if (ax < 0)
        return tl__nn_fail(g, TL_EINVAL, "nn slice: axis %d is out of range for a %d-d tensor",
                           axis, x->ndim);
    if (start < 0 || end < start || end > x->shape[ax])
        return tl__nn_fail(g, TL_EINVAL, "nn slice: [%lld, %lld) is outside axis %d of size %lld",
                           (long long)start, (long long)end, axis, (long long)x->shape[ax]);
    tl_tensor *v = new_view(g, x, start * x->stride[ax]);
    if (v)
        v->shape[ax] = end - start;
    return v;
}

tl_tensor *tl_nn_transpose(tl_nn_graph *g, tl_tensor *x, int axis0, int axis1)
{
    if (!x)
        return NULL;
    int a0 = tl__nn_axis(x, axis0), a1 = tl__nn_axis(x, axis1);
    if (a0 < 0 || a1 < 0)
        return tl__nn_fail(g, TL_EINVAL, "nn transpose: axes %d and %d do not both fit a %d-d tensor",
                           axis0, axis1, x->ndim);
    tl_tensor *v = new_view(g, x, 0);
    if (v) {
        int64_t s = v->shape[a0];
        v->shape[a0] = v->shape[a1];
        v->shape[a1] = s;
        s = v->stride[a0];
        v->stride[a0] = v->stride[a1];
        v->stride[a1] = s;
    }
    return v;
}

tl_tensor *tl_nn_reshape(tl_nn_graph *g, tl_tensor *x, int ndim, const int64_t *shape)
{
    if (!x)
        return NULL;
    if (ndim < 0 || ndim > TL_NN_MAX_DIMS)
        return tl__nn_fail(g, TL_EINVAL, "nn reshape: %d dimensions asked; a tensor has 0 to %d",
                           ndim, TL_NN_MAX_DIMS);
    int64_t sh[TL_NN_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        sh[d] = shape[d];
        if (sh[d] == -1 && infer < 0) {
            infer = d;
        } else if (sh[d] < 0) {
            return tl__nn_fail(g, TL_EINVAL, "nn reshape: dimension %d has size %lld", d,
                               (long long)sh[d]);
        } else {
            known *= sh[d];
        }
    }
    int64_t n = tl_nn_numel(x);
    if (infer >= 0)
        sh[infer] = known ? n / known : 0;
    int64_t want = infer >= 0 ? known * sh[infer] : known;
    if (want != n) {
        char b[64];
        return tl__nn_fail(g, TL_EINVAL, "nn reshape: %lld elements of shape %s do not fit %lld",
                           (long long)n, tl__nn_shape_str(x, b, sizeof b), (long long)want);
    }
    if (!tl_nn_is_contiguous(x)) {
        x = tl_nn_contiguous(g, x);
        if (!x)
            return NULL;
    }
    tl_tensor *v = new_view(g, x, 0);
    if (v)
        set_contiguous_layout(v, ndim, sh);
    return v;
}

tl_tensor *tl_nn_unsqueeze(tl_nn_graph *g, tl_tensor *x, int axis)
{
    if (!x)
        return NULL;
    if (axis < 0)
        axis += x->ndim + 1;
    if (axis < 0 || axis > x->ndim || x->ndim == TL_NN_MAX_DIMS)
        return tl__nn_fail(g, TL_EINVAL, "nn unsqueeze: cannot insert axis %d into a %d-d tensor",
                           axis, x->ndim);
    tl_tensor *v = new_view(g, x, 0);
    if (!v)
        return NULL;
    for (int d = x->ndim; d > axis; d--) {
        v->shape[d] = v->shape[d - 1];
        v->stride[d] = v->stride[d - 1];
    }
    v->shape[axis] = 1;
    v->stride[axis] = axis + 1 < x->ndim + 1 ? v->shape[axis + 1] * v->stride[axis + 1] : 1;
    v->ndim = x->ndim + 1;
    return v;
}

static int contiguous_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *x = out->node->src[0];
    if (!x->requires_grad)
        return 0;
    int64_t sh[4], xs[4], os[4];
    tl__nn_pad4(x, sh, xs);
    tl__nn_pad4(out, sh, os);
    tl__nn_copy4(x->grad, xs, out->grad, os, sh, true);
    return 0;
}

tl_tensor *tl_nn_contiguous(tl_nn_graph *g, tl_tensor *x)
{
    if (!x)
        return NULL;
    if (tl_nn_is_contiguous(x))
        return x;
    tl_tensor *out = tl__nn_new(g, x->ndim, x->shape, false, "nn contiguous");
    if (!out)
        return NULL;
    tl_nn_tensor_read(x, out->data);
    bool failed;
    tl__nn_record(g, out, contiguous_backward, "contiguous", x, NULL, NULL, &failed);
    return failed ? NULL : out;
}

/* ---- parameters ------------------------------------------------------------------ */

struct tl_nn_params {
    tl_tensor **items;
    size_t n, cap;
};

tl_nn_params *tl_nn_params_new(void)
{
    return calloc(1, sizeof(tl_nn_params));
}

void tl_nn_params_free(tl_nn_params *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->items[i]->data);
        free(ps->items[i]->grad);
        free(ps->items[i]);
    }
    free(ps->items);
    free(ps);
}

int tl_nn_params_add(tl_nn_params *ps, const char *name, int ndim, const int64_t *shape,
                     tl_tensor **out, tl_err *err)
{
    if (!name || !*name)
        return tl_err_set(err, TL_EINVAL, "nn params: a parameter needs a name");
    if (strlen(name) >= TL_NN_NAME_MAX)
        return tl_err_set(err, TL_EINVAL, "nn params: the name \"%.40s...\" is longer than %d bytes",
                          name, TL_NN_NAME_MAX - 1);
    if (tl_nn_params_find(ps, name))
        return tl_err_set(err, TL_EINVAL, "nn params: \"%s\" is already a parameter", name);
    if (ndim < 1 || ndim > TL_NN_MAX_DIMS)
        return tl_err_set(err, TL_EINVAL, "nn params: \"%s\" has %d dimensions; 1 to %d allowed",
                          name, ndim, TL_NN_MAX_DIMS);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1 || n > INT64_MAX / 4 / shape[d])
            return tl_err_set(err, TL_EINVAL, "nn params: \"%s\" dimension %d has size %lld", name,
                              d, (long long)shape[d]);
        n *= shape[d];
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        tl_tensor **items = realloc(ps->items, cap * sizeof *items);
        if (!items)
            return tl_err_set(err, TL_ENOMEM, "nn params: out of memory adding \"%s\"", name);
        ps->items = items;
        ps->cap = cap;
    }
    tl_tensor *t = calloc(1, sizeof *t);
    float *data = calloc((size_t)n, sizeof(float));
    float *grad = calloc((size_t)n, sizeof(float));
    if (!t || !data || !grad) {
        free(t);
        free(data);
        free(grad);
        return tl_err_set(err, TL_ENOMEM, "nn params: out of memory for \"%s\" (%lld floats)", name,
                          (long long)n);
    }
    set_contiguous_layout(t, ndim, shape);
    t->data = data;
    t->grad = grad;
    t->requires_grad = true;
    t->is_param = true;
    snprintf(t->name, sizeof t->name, "%s", name);
    ps->items[ps->n++] = t;
    *out = t;
    return 0;
}

size_t tl_nn_params_count(const tl_nn_params *ps)
{
    return ps->n;
}

tl_tensor *tl_nn_params_at(const tl_nn_params *ps, size_t i)
{
    return i < ps->n ? ps->items[i] : NULL;
}

tl_tensor *tl_nn_params_find(const tl_nn_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->items[i]->name, name) == 0)
            return ps->items[i];
    return NULL;
}

int64_t tl_nn_params_numel(const tl_nn_params *ps)
{
    int64_t n = 0;
    for (size_t i = 0; i < ps->n; i++)
        n += tl_nn_numel(ps->items[i]);
    return n;
}

void tl_nn_params_zero_grad(tl_nn_params *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        memset(ps->items[i]->grad, 0, (size_t)tl_nn_numel(ps->items[i]) * sizeof(float));
}

/* ---- initialization ------------------------------------------------------------ */

void tl_nn_init_constant(tl_tensor *t, float v)
{
    int64_t n = tl_nn_numel(t);
    for (int64_t i = 0; i < n; i++)
        t->data[i] = v;
}

void tl_nn_init_uniform(tl_tensor *t, float lo, float hi, tl_rng *rng)
{
    int64_t n = tl_nn_numel(t);
    for (int64_t i = 0; i < n; i++)
        t->data[i] = (float)(lo + (hi - lo) * tl_rng_uniform(rng));
}

void tl_nn_init_normal(tl_tensor *t, float mean, float std, tl_rng *rng)
{
    int64_t n = tl_nn_numel(t);
    /* Box-Muller, both values of each pair used; 1 - u keeps log away from 0. */
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - tl_rng_uniform(rng), u2 = tl_rng_uniform(rng);
        double r = sqrt(-2.0 * log(u1));
        t->data[i] = (float)(mean + std * r * cos(2.0 * M_PI * u2));
        if (i + 1 < n)
            t->data[i + 1] = (float)(mean + std * r * sin(2.0 * M_PI * u2));
    }
}

void tl_nn_init_xavier_uniform(tl_tensor *t, int64_t fan_in, int64_t fan_out, float gain,
                               tl_rng *rng)
{
    double a = gain * sqrt(6.0 / (double)(fan_in + fan_out > 0 ? fan_in + fan_out : 1));
    tl_nn_init_uniform(t, (float)-a, (float)a, rng);
}

void tl_nn_init_xavier_normal(tl_tensor *t, int64_t fan_in, int64_t fan_out, float gain,
                              tl_rng *rng)
{
    double s = gain * sqrt(2.0 / (double)(fan_in + fan_out > 0 ? fan_in + fan_out : 1));
    tl_nn_init_normal(t, 0.0f, (float)s, rng);
}

void tl_nn_init_kaiming_uniform(tl_tensor *t, int64_t fan_in, tl_rng *rng)
{
    double a = sqrt(6.0 / (double)(fan_in > 0 ? fan_in : 1));
    tl_nn_init_uniform(t, (float)-a, (float)a, rng);
}

void tl_nn_init_kaiming_normal(tl_tensor *t, int64_t fan_in, tl_rng *rng)
{
    tl_nn_init_normal(t, 0.0f, (float)sqrt(2.0 / (double)(fan_in > 0 ? fan_in : 1)), rng);
}
