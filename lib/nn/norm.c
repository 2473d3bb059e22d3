/* norm.c - softmax, log-softmax and layer norm over the last axis, and the
 * losses, each fused into one op so that its backward is the closed form
 * (stable and cheaper than composing exp, log and sums). */
#include "nn/internal.h"

#include <math.h>
#include <string.h>

/* rows x cols of a contiguous tensor seen as (rows, last dim). */
static void rows_cols(const tl_tensor *t, int64_t *rows, int64_t *cols)
{
    *cols = t->ndim ? t->shape[t->ndim - 1] : 1;
    *rows = *cols ? tl_nn_numel(t) / *cols : 0;
}

/* ---- softmax and log-softmax --------------------------------------------------- */

/* softmax: dx = y (dy - sum(dy y)); log-softmax: dx = dy - exp(y) sum(dy). */
static int softmax_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *x = out->node->src[0];
    if (!x->requires_grad)
        return 0;
    bool log_form = out->node->iarg[0];
    int64_t rows, cols;
    rows_cols(out, &rows, &cols);
    for (int64_t r = 0; r < rows; r++) {
        const float *y = out->data + r * cols, *dy = out->grad + r * cols;
        float *dx = x->grad + r * cols;
        double s = 0;
        if (log_form) {
            for (int64_t j = 0; j < cols; j++)
                s += dy[j];
            for (int64_t j = 0; j < cols; j++)
                dx[j] += dy[j] - expf(y[j]) * (float)s;
        } else {
            for (int64_t j = 0; j < cols; j++)
                s += (double)dy[j] * y[j];
            for (int64_t j = 0; j < cols; j++)
                dx[j] += y[j] * (dy[j] - (float)s);
        }
    }
    return 0;
}

static tl_tensor *softmax_op(tl_nn_graph *g, tl_tensor *x, bool log_form)
{
    const char *name = log_form ? "nn log_softmax" : "nn softmax";
    if (!x)
        return NULL;
    if (x->ndim < 1)
        return tl__nn_fail(g, TL_EINVAL, "%s: needs at least one axis", name);
    x = tl_nn_contiguous(g, x); /* backward writes x->grad row by row */
    if (!x)
        return NULL;
    tl_tensor *out = tl__nn_new(g, x->ndim, x->shape, false, name);
    if (!out)
        return NULL;
    int64_t rows, cols;
    rows_cols(x, &rows, &cols);
    for (int64_t r = 0; r < rows; r++) {
        const float *in = x->data + r * cols;
        float *y = out->data + r * cols;
        float mx = -INFINITY;
        for (int64_t j = 0; j < cols; j++)
            mx = in[j] > mx ? in[j] : mx;
        double s = 0;
        for (int64_t j = 0; j < cols; j++)
            s += exp((double)(in[j] - mx));
        if (log_form) {
            float lse = mx + (float)log(s);
            for (int64_t j = 0; j < cols; j++)
                y[j] = in[j] - lse;
        } else {
            for (int64_t j = 0; j < cols; j++)
                y[j] = (float)(exp((double)(in[j] - mx)) / s);
        }
    }
    bool failed;
    struct tl__nn_node *n = tl__nn_record(g, out, softmax_backward, name, x, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (n)
        n->iarg[0] = log_form;
    return out;
}

tl_tensor *tl_nn_softmax(tl_nn_graph *g, tl_tensor *x) { return softmax_op(g, x, false); }
tl_tensor *tl_nn_log_softmax(tl_nn_graph *g, tl_tensor *x) { return softmax_op(g, x, true); }

/* ---- layer norm --------------------------------------------------------------------
 * xhat = (x - mu) rstd; y = xhat gamma + beta. With dxhat = dy gamma:
 * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat));
 * dgamma += sum over rows of dy xhat; dbeta += sum of dy. */

static int layer_norm_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *n = out->node;
    tl_tensor *x = n->src[0], *gamma = n->src[1], *beta = n->src[2];
    const float *stats = n->aux; /* (rows, 2): mean, rstd */
    int64_t rows, cols;
    rows_cols(x, &rows, &cols);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * cols, *dy = out->grad + r * cols;
        float mu = stats[2 * r], rstd = stats[2 * r + 1];
        double m1 = 0, m2 = 0;
        for (int64_t j = 0; j < cols; j++) {
            float xh = (xr[j] - mu) * rstd;
            float gj = gamma ? gamma->data[j * gamma->stride[0]] : 1.0f;
            float dxh = dy[j] * gj;
            m1 += dxh;
            m2 += (double)dxh * xh;
            if (gamma && gamma->requires_grad)
                gamma->grad[j * gamma->stride[0]] += dy[j] * xh;
            if (beta && beta->requires_grad)
                beta->grad[j * beta->stride[0]] += dy[j];
        }
        if (!x->requires_grad)
            continue;
        float fm1 = (float)(m1 / (double)cols), fm2 = (float)(m2 / (double)cols);
        float *dx = x->grad + r * cols;
        for (int64_t j = 0; j < cols; j++) {
            float xh = (xr[j] - mu) * rstd;
            float gj = gamma ? gamma->data[j * gamma->stride[0]] : 1.0f;
            dx[j] += rstd * (dy[j] * gj - fm1 - xh * fm2);
        }
    }
    return 0;
}

tl_tensor *tl_nn_layer_norm(tl_nn_graph *g, tl_tensor *x, tl_tensor *gamma, tl_tensor *beta,
                            float eps)
{
    if (!x)
        return NULL;
    if (x->ndim < 1)
        return tl__nn_fail(g, TL_EINVAL, "nn layer_norm: needs at least one axis");
    int64_t d = x->shape[x->ndim - 1];
    char b[64];
    if (gamma && (gamma->ndim != 1 || gamma->shape[0] != d))
        return tl__nn_fail(g, TL_EINVAL, "nn layer_norm: gamma of shape %s does not match width %lld",
                           tl__nn_shape_str(gamma, b, sizeof b), (long long)d);
    if (beta && (beta->ndim != 1 || beta->shape[0] != d))
        return tl__nn_fail(g, TL_EINVAL, "nn layer_norm: beta of shape %s does not match width %lld",
                           tl__nn_shape_str(beta, b, sizeof b), (long long)d);
    if (!(eps > 0))
        return tl__nn_fail(g, TL_EINVAL, "nn layer_norm: eps %g must be positive", (double)eps);
    x = tl_nn_contiguous(g, x);
    if (!x)
        return NULL;
    tl_tensor *out = tl__nn_new(g, x->ndim, x->shape, false, "nn layer_norm");
    if (!out)
        return NULL;
    int64_t rows, cols;
    rows_cols(x, &rows, &cols);
    float *stats = tl__nn_scratch(g, (size_t)(2 * rows) * sizeof(float), false);
    if (!stats)
        return NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * cols;
        double mu = 0, var = 0;
        for (int64_t j = 0; j < cols; j++)
            mu += xr[j];
        mu /= (double)cols;
        for (int64_t j = 0; j < cols; j++)
            var += (xr[j] - mu) * (xr[j] - mu);
        var /= (double)cols;
        float rstd = (float)(1.0 / sqrt(var + eps));
        stats[2 * r] = (float)mu;
        stats[2 * r + 1] = rstd;
        float *y = out->data + r * cols;
        for (int64_t j = 0; j < cols; j++) {
            float v = (xr[j] - (float)mu) * rstd;
            if (gamma)
                v *= gamma->data[j * gamma->stride[0]];
            if (beta)
                v += beta->data[j * beta->stride[0]];
            y[j] = v;
        }
    }
    bool failed;
    struct tl__nn_node *n =
        tl__nn_record(g, out, layer_norm_backward, "nn layer_norm", x, gamma, beta, &failed);
    if (failed)
        return NULL;
    if (n)
        n->aux = stats;
    return out;
}

/* ---- losses ----------------------------------------------------------------------------- */

static bool same_shape(const tl_tensor *a, const tl_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

static tl_tensor *shape_mismatch(tl_nn_graph *g, const char *op, const tl_tensor *a,
                                 const tl_tensor *b)
{
    char x[64], y[64];
    return tl__nn_fail(g, TL_EINVAL, "%s: shapes %s and %s differ", op,
                       tl__nn_shape_str(a, x, sizeof x), tl__nn_shape_str(b, y, sizeof y));
}

static float softplus(float x) /* log(1 + exp(x)), stable */
{
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

static float sigmoidf(float x)
{
    return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

/* Pairwise losses on two contiguous same-shape inputs; kind in iarg[0]. */
enum pair_loss { LOSS_BCE, LOSS_MSE, LOSS_BPR };

/* bce: l = (1 - t) x + (1 + (pw - 1) t) softplus(-x);
 *      dl/dx = (1 - t) - (1 + (pw - 1) t) sigmoid(-x)   (t gets no gradient).
 * mse: l = (a - b)^2; dl/da = 2 (a - b) = -dl/db.
 * bpr: l = softplus(-(p - q)); dl/dp = -sigmoid(-(p - q)) = -dl/dq. */
static int pair_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *n = out->node;
    tl_tensor *a = n->src[0], *b = n->src[1];
    enum pair_loss kind = (enum pair_loss)n->iarg[0];
    float pw = n->farg[0];
    int64_t m = tl_nn_numel(a);
    float scale = out->grad[0] / (float)(m ? m : 1);
    for (int64_t i = 0; i < m; i++) {
        float x = a->data[i], y = b->data[i], da, db;
        switch (kind) {
        case LOSS_BCE: da = (1 - y) - (1 + (pw - 1) * y) * sigmoidf(-x); db = 0; break;
        case LOSS_MSE: da = 2 * (x - y); db = -da; break;
        default: da = -sigmoidf(y - x); db = -da; break;
        }
        if (a->requires_grad)
            a->grad[i] += scale * da;
        if (b->requires_grad && kind != LOSS_BCE)
            b->grad[i] += scale * db;
    }
    return 0;
}

static tl_tensor *pair_loss(tl_nn_graph *g, tl_tensor *a, tl_tensor *b, enum pair_loss kind,
                            float pw, const char *name)
{
    if (!a || !b)
        return NULL;
    if (!same_shape(a, b))
        return shape_mismatch(g, name, a, b);
    a = tl_nn_contiguous(g, a);
    b = tl_nn_contiguous(g, b);
    if (!a || !b)
        return NULL;
    tl_tensor *out = tl__nn_new(g, 0, NULL, false, name);
    if (!out)
        return NULL;
    int64_t m = tl_nn_numel(a);
    double acc = 0;
    for (int64_t i = 0; i < m; i++) {
        float x = a->data[i], y = b->data[i];
        switch (kind) {
        case LOSS_BCE: acc += (1 - y) * x + (1 + (pw - 1) * y) * softplus(-x); break;
        case LOSS_MSE: acc += (double)(x - y) * (x - y); break;
        default: acc += softplus(y - x); break;
        }
    }
    out->data[0] = (float)(m ? acc / (double)m : 0.0);
    bool failed;
    tl_tensor *gb = kind == LOSS_BCE ? NULL : b; /* the target of bce gets no gradient */
    struct tl__nn_node *n = tl__nn_record(g, out, pair_backward, name, a, gb, NULL, &failed);
    if (failed)
        return NULL;
    if (n) {
        n->src[1] = b;
        n->iarg[0] = kind;
        n->farg[0] = pw;
    }
    return out;
}

tl_tensor *tl_nn_bce_logits(tl_nn_graph *g, tl_tensor *logits, tl_tensor *target, float pos_weight)
{
    if (!(pos_weight > 0))
        return tl__nn_fail(g, TL_EINVAL, "nn bce_logits: pos_weight %g must be positive",
                           (double)pos_weight);
    return pair_loss(g, logits, target, LOSS_BCE, pos_weight, "nn bce_logits");
}

tl_tensor *tl_nn_mse(tl_nn_graph *g, tl_tensor *a, tl_tensor *b)
{
    return pair_loss(g, a, b, LOSS_MSE, 1, "nn mse");
}

tl_tensor *tl_nn_bpr(tl_nn_graph *g, tl_tensor *pos, tl_tensor *neg)
{
    return pair_loss(g, pos, neg, LOSS_BPR, 1, "nn bpr");
}

/* ---- categorical cross-entropy ---------------------------------------------------------
 * Per row i: loss_i = -sum_c a_ic log p_ic with a_ic = ((1 - eps) [c = y_i] w_yi + eps / C w_c)
 * / W, W = sum_i w_yi; so dloss/dz_ic = p_ic sum_c a_ic - a_ic. Saved: p (N, C). */

struct ce_saved {
    float *p;           /* (N, C) softmax */
    int32_t *labels;    /* N */
    float *w;           /* C, or NULL */
    float eps;
    double wsum;
};

static int ce_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *z = out->node->src[0];
    if (!z->requires_grad)
        return 0;
    const struct ce_saved *s = out->node->aux;
    int64_t nr = z->shape[0], nc = z->shape[1];
    float go = out->grad[0];
    for (int64_t i = 0; i < nr; i++) {
        const float *p = s->p + i * nc;
        float *dz = z->grad + i * nc;
        int32_t y = s->labels[i];
        double asum = 0;
        for (int64_t c = 0; c < nc; c++) {
            double a = (s->eps / (double)nc) * (s->w ? s->w[c] : 1.0);
            if (c == y)
                a += (1.0 - s->eps) * (s->w ? s->w[y] : 1.0);
            asum += a;
        }
        for (int64_t c = 0; c < nc; c++) {
            double a = (s->eps / (double)nc) * (s->w ? s->w[c] : 1.0);
            if (c == y)
                a += (1.0 - s->eps) * (s->w ? s->w[y] : 1.0);
            dz[c] += go * (float)((p[c] * asum - a) / s->wsum);
        }
    }
    return 0;
}

tl_tensor *tl_nn_cross_entropy(tl_nn_graph *g, tl_tensor *logits, const int32_t *labels,
                               const float *class_weight, float label_smoothing)
{
    if (!logits)
        return NULL;
    char b[64];
    if (logits->ndim != 2 || logits->shape[0] < 1 || logits->shape[1] < 1)
        return tl__nn_fail(g, TL_EINVAL, "nn cross_entropy: logits must be (N, C), not %s",
                           tl__nn_shape_str(logits, b, sizeof b));
    if (!(label_smoothing >= 0 && label_smoothing < 1))
        return tl__nn_fail(g, TL_EINVAL, "nn cross_entropy: label smoothing %g is outside [0, 1)",
                           (double)label_smoothing);
    int64_t nr = logits->shape[0], nc = logits->shape[1];
    for (int64_t i = 0; i < nr; i++)
        if (labels[i] < 0 || labels[i] >= nc)
            return tl__nn_fail(g, TL_EINVAL, "nn cross_entropy: label %lld is %d, outside [0, %lld)",
                               (long long)i, labels[i], (long long)nc);
    if (class_weight)
        for (int64_t c = 0; c < nc; c++)
            if (!(class_weight[c] >= 0) || !isfinite(class_weight[c]))
                return tl__nn_fail(g, TL_EINVAL, "nn cross_entropy: class weight %lld is %g",
                                   (long long)c, (double)class_weight[c]);
    tl_tensor *z = tl_nn_contiguous(g, logits);
    if (!z)
        return NULL;
    struct ce_saved *s = tl__nn_scratch(g, sizeof *s, true);
    if (!s)
        return NULL;
    s->p = tl__nn_scratch(g, (size_t)(nr * nc) * sizeof(float), false);
    s->labels = tl__nn_scratch(g, (size_t)nr * sizeof(int32_t), false);
    if (class_weight)
        s->w = tl__nn_scratch(g, (size_t)nc * sizeof(float), false);
    if (!s->p || !s->labels || (class_weight && !s->w))
        return NULL;
    memcpy(s->labels, labels, (size_t)nr * sizeof(int32_t));
    if (class_weight)
        memcpy(s->w, class_weight, (size_t)nc * sizeof(float));
    s->eps = label_smoothing;
    double total = 0, wsum = 0;
    for (int64_t i = 0; i < nr; i++) {
        const float *zr = z->data + i * nc;
        float *p = s->p + i * nc;
        float mx = -INFINITY;
        for (int64_t c = 0; c < nc; c++)
            mx = zr[c] > mx ? zr[c] : mx;
        double se = 0;
        for (int64_t c = 0; c < nc; c++)
            se += exp((double)(zr[c] - mx));
        double lse = mx + log(se);
        int32_t y = labels[i];
        double wy = s->w ? s->w[y] : 1.0;
        double smooth = 0;
        for (int64_t c = 0; c < nc; c++) {
            double logp = zr[c] - lse;
            p[c] = (float)exp(logp);
            smooth += (s->w ? s->w[c] : 1.0) * -logp;
        }
        total += (1.0 - label_smoothing) * wy * -(zr[y] - lse) +
                 (label_smoothing / (double)nc) * smooth;
        wsum += wy;
    }
    if (!(wsum > 0))
        return tl__nn_fail(g, TL_EINVAL,
                           "nn cross_entropy: the labels' class weights sum to 0, so the mean is "
                           "undefined");
    s->wsum = wsum;
    tl_tensor *out = tl__nn_new(g, 0, NULL, false, "nn cross_entropy");
    if (!out)
        return NULL;
    out->data[0] = (float)(total / wsum);
    bool failed;
    struct tl__nn_node *n = tl__nn_record(g, out, ce_backward, "nn cross_entropy", z, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (n)
        n->aux = s;
    return out;
}
