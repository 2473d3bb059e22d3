/* rnn.c - GRU and LSTM (PyTorch's equations, gate order and names), uni- or
 * bidirectional, stacked, over padded batch-first sequences.
 *
 * A layer-direction is two pieces: the input projection of every step at
 * once (x W_ih^T + b_ih, one GEMM through tl_nn_matmul, so its backward is
 * the core's), and the recurrence, one fused op ("recur") that walks the
 * steps with a (B, H) x (H, G H) GEMM each and keeps what BPTT needs:
 * the state entering each step and the gate activations. Its backward runs
 * the steps in reverse, one GEMM per step for dh, and computes dW_hh with a
 * single GEMM over all steps at the end.
 *
 * Iterations, not times: iteration k of row b is time k (forward) or
 * len_b - 1 - k (reverse), and only rows with k < len_b move. Rows past
 * the last still-moving one are left out of the GEMMs (all of them when
 * lengths are sorted by decreasing length). */
#include "nn/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

static inline float sigm(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* What recur's backward reads. Per-iteration arrays are (T, B, ...). */
struct recur_saved {
    int kind;
    bool reverse;
    int64_t B, T, H, n_iter;  /* n_iter: iterations until every row finished */
    const int32_t *len;       /* (B) */
    const int64_t *n_rows;    /* (T): rows [0, n_rows[k]) take part in iteration k */
    float *h_prev;            /* (T, B, H): the state entering iteration k */
    float *c_prev;            /* (T, B, H), LSTM */
    float *gates;             /* GRU (T, B, 4H): r, z, n, W_hn h + b_hn;
                                 LSTM (T, B, 5H): i, f, g, o, tanh(c') */
};

static int64_t time_of(const struct recur_saved *s, int64_t b, int64_t k)
{
    return s->reverse ? s->len[b] - 1 - k : k;
}

/* src: gx (B, T, G H), w_hh (G H, H), b_hh (G H) or NULL, h0 (B, H) or NULL,
 * c0 (B, H) or NULL; out: flat [outputs (B, T, H) | h_n (B, H) | c_n (B, H)]. */
static int recur_backward(tl_nn_graph *g, tl_tensor *out)
{
    struct tl__nn_node *nd = out->node;
    const struct recur_saved *s = nd->aux;
    tl_tensor *gx = nd->srcs[0], *whh = nd->srcs[1], *bhh = nd->srcs[2];
    tl_tensor *h0 = nd->srcs[3], *c0 = nd->srcs[4];
    bool lstm = s->kind == TL_NN_RNN_LSTM;
    int64_t B = s->B, T = s->T, H = s->H, G = lstm ? 4 : 3, GH = G * H;
    int64_t NG = lstm ? 5 : 4; /* saved values per row, in units of H */
    const float *dout = out->grad, *dhn = out->grad + B * T * H;
    float *dh = tl__nn_scratch(g, (size_t)(B * H) * sizeof(float), false);
    float *dc = lstm ? tl__nn_scratch(g, (size_t)(B * H) * sizeof(float), false) : NULL;
    float *dgh = tl__nn_scratch(g, (size_t)(s->n_iter * B * GH + 1) * sizeof(float), true);
    if (!dh || (lstm && !dc) || !dgh)
        return TL_ENOMEM;
    memcpy(dh, dhn, (size_t)(B * H) * sizeof(float));
    if (lstm)
        memcpy(dc, dhn + B * H, (size_t)(B * H) * sizeof(float));
    float *dgx = gx->requires_grad ? gx->grad : NULL;

    for (int64_t k = s->n_iter - 1; k >= 0; k--) {
        int64_t nr = s->n_rows[k];
        float *dgk = dgh + k * B * GH;
        for (int64_t b = 0; b < nr; b++) {
            if (k >= s->len[b])
                continue;
            int64_t t = time_of(s, b, k);
            const float *sv = s->gates + (k * B + b) * NG * H;
            const float *hp = s->h_prev + (k * B + b) * H;
            const float *go = dout + (b * T + t) * H;
            float *dhb = dh + b * H, *dgr = dgk + b * GH;
            float *dxr = dgx ? dgx + (b * T + t) * GH : NULL;
            if (!lstm) {
                const float *r = sv, *z = sv + H, *n = sv + 2 * H, *ghn = sv + 3 * H;
                for (int64_t j = 0; j < H; j++) {
                    float dht = dhb[j] + go[j];
                    float dn = dht * (1 - z[j]), dz = dht * (hp[j] - n[j]);
                    float dan = dn * (1 - n[j] * n[j]);
                    float dr = dan * ghn[j];
                    float dar = dr * r[j] * (1 - r[j]), daz = dz * z[j] * (1 - z[j]);
                    dgr[j] = dar;
                    dgr[H + j] = daz;
                    dgr[2 * H + j] = dan * r[j];
                    if (dxr) {
                        dxr[j] += dar;
                        dxr[H + j] += daz;
                        dxr[2 * H + j] += dan;
                    }
                    dhb[j] = dht * z[j]; /* the direct path; W_hh's part is added below */
                }
            } else {
                const float *ig = sv, *fg = sv + H, *gg = sv + 2 * H, *og = sv + 3 * H;
                const float *tc = sv + 4 * H, *cp = s->c_prev + (k * B + b) * H;
                float *dcb = dc + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float dht = dhb[j] + go[j];
                    float dct = dcb[j] + dht * og[j] * (1 - tc[j] * tc[j]);
                    float dai = dct * gg[j] * ig[j] * (1 - ig[j]);
                    float daf = dct * cp[j] * fg[j] * (1 - fg[j]);
                    float dag = dct * ig[j] * (1 - gg[j] * gg[j]);
                    float dao = dht * tc[j] * og[j] * (1 - og[j]);
                    dgr[j] = dai;
                    dgr[H + j] = daf;
                    dgr[2 * H + j] = dag;
                    dgr[3 * H + j] = dao;
                    if (dxr) {
                        dxr[j] += dai;
                        dxr[H + j] += daf;
                        dxr[2 * H + j] += dag;
                        dxr[3 * H + j] += dao;
                    }
                    dcb[j] = dct * fg[j];
                    dhb[j] = 0;
                }
            }
        }
        /* dh[:nr] += dgh_k[:nr] W_hh; rows that did not move have dgh 0. */
        if (nr > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)H, (int)GH, 1.0f,
                        dgk, (int)GH, whh->data, (int)H, 1.0f, dh, (int)H);
    }
    if (whh->requires_grad && s->n_iter > 0) /* dW_hh += sum_k dgh_k^T h_prev_k */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)H,
                    (int)(s->n_iter * B), 1.0f, dgh, (int)GH, s->h_prev, (int)H, 1.0f, whh->grad,
                    (int)H);
    if (bhh && bhh->requires_grad)
        for (int64_t r = 0; r < s->n_iter * B; r++)
            for (int64_t j = 0; j < GH; j++)
                bhh->grad[j] += dgh[r * GH + j];
    if (h0 && h0->requires_grad)
        for (int64_t i = 0; i < B * H; i++)
            h0->grad[i] += dh[i];
    if (c0 && c0->requires_grad)
        for (int64_t i = 0; i < B * H; i++)
            c0->grad[i] += dc[i];
    return 0;
}

/* One direction of one layer over gx (B, T, G H) = x W_ih^T + b_ih. */
static tl_tensor *recur(tl_nn_graph *g, int kind, bool reverse, tl_tensor *gx, tl_tensor *whh,
                        tl_tensor *bhh, tl_tensor *h0, tl_tensor *c0, const int32_t *len)
{
    if (!gx || !whh || (h0 && !tl_nn_is_contiguous(h0)) || (c0 && !tl_nn_is_contiguous(c0)))
        return NULL;
    bool lstm = kind == TL_NN_RNN_LSTM;
    int64_t B = gx->shape[0], T = gx->shape[1], H = whh->shape[1], G = lstm ? 4 : 3, GH = G * H;
    int64_t NG = lstm ? 5 : 4;
    if (!tl_nn_is_contiguous(gx) || !tl_nn_is_contiguous(whh) || (bhh && !tl_nn_is_contiguous(bhh)))
        return tl__nn_fail(g, TL_EINVAL, "nn rnn: the recurrent weights must be contiguous");
    tl_tensor *out = tl__nn_new(g, 1, (int64_t[]){B * T * H + (lstm ? 2 : 1) * B * H}, true,
                                "nn rnn");
    if (!out)
        return NULL;
    bool need = g->grad_enabled && (gx->requires_grad || whh->requires_grad ||
                                    (bhh && bhh->requires_grad) || (h0 && h0->requires_grad) ||
                                    (c0 && c0->requires_grad));
    float *y = out->data, *h = y + B * T * H, *c = lstm ? h + B * H : NULL;
    if (h0)
        memcpy(h, h0->data, (size_t)(B * H) * sizeof(float));
    if (c0)
        memcpy(c, c0->data, (size_t)(B * H) * sizeof(float));

    int64_t *n_rows = tl__nn_scratch(g, (size_t)(T + 1) * sizeof(int64_t), false);
    float *gh = tl__nn_scratch(g, (size_t)(B * GH + 1) * sizeof(float), false);
    if (!n_rows || !gh)
        return NULL;
    int64_t n_iter = 0;
    for (int64_t k = 0; k < T; k++) {
        n_rows[k] = 0;
        for (int64_t b = 0; b < B; b++)
            if (len[b] > k)
                n_rows[k] = b + 1;
        if (n_rows[k] > 0)
            n_iter = k + 1;
    }
    struct recur_saved *s = NULL;
    if (need) {
        s = tl__nn_scratch(g, sizeof *s, true);
        if (!s)
            return NULL;
        s->h_prev = tl__nn_scratch(g, (size_t)(n_iter * B * H + 1) * sizeof(float), false);
        s->c_prev = lstm ? tl__nn_scratch(g, (size_t)(n_iter * B * H + 1) * sizeof(float), false)
                         : NULL;
        s->gates = tl__nn_scratch(g, (size_t)(n_iter * B * NG * H + 1) * sizeof(float), false);
        if (!s->h_prev || (lstm && !s->c_prev) || !s->gates)
            return NULL;
    }
    const float *bh = bhh ? bhh->data : NULL;
    struct recur_saved tk = {.reverse = reverse, .len = len};
    for (int64_t k = 0; k < n_iter; k++) {
        int64_t nr = n_rows[k];
        if (s) { /* every row, moving or not: the dW_hh GEMM reads them all */
            memcpy(s->h_prev + k * B * H, h, (size_t)(B * H) * sizeof(float));
            if (lstm)
                memcpy(s->c_prev + k * B * H, c, (size_t)(B * H) * sizeof(float));
        }
        /* gh[:nr] = h[:nr] W_hh^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)GH, (int)H, 1.0f, h,
                    (int)H, whh->data, (int)H, 0.0f, gh, (int)GH);
        for (int64_t b = 0; b < nr; b++) {
            if (k >= len[b])
                continue;
            int64_t t = time_of(&tk, b, k);
            const float *xg = gx->data + (b * T + t) * GH;
            float *ghb = gh + b * GH, *hb = h + b * H, *yo = y + (b * T + t) * H;
            float *sv = s ? s->gates + (k * B + b) * NG * H : NULL;
            if (bh)
                for (int64_t j = 0; j < GH; j++)
                    ghb[j] += bh[j];
            if (!lstm) {
                for (int64_t j = 0; j < H; j++) {
                    float r = sigm(xg[j] + ghb[j]);
                    float z = sigm(xg[H + j] + ghb[H + j]);
                    float n = tanhf(xg[2 * H + j] + r * ghb[2 * H + j]);
                    if (sv) {
                        sv[j] = r;
                        sv[H + j] = z;
                        sv[2 * H + j] = n;
                        sv[3 * H + j] = ghb[2 * H + j];
                    }
                    hb[j] = (1 - z) * n + z * hb[j];
                    yo[j] = hb[j];
                }
            } else {
                float *cb = c + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float i = sigm(xg[j] + ghb[j]);
                    float f = sigm(xg[H + j] + ghb[H + j]);
                    float gg = tanhf(xg[2 * H + j] + ghb[2 * H + j]);
                    float o = sigm(xg[3 * H + j] + ghb[3 * H + j]);
                    cb[j] = f * cb[j] + i * gg;
                    float tc = tanhf(cb[j]);
                    if (sv) {
                        sv[j] = i;
                        sv[H + j] = f;
                        sv[2 * H + j] = gg;
                        sv[3 * H + j] = o;
                        sv[4 * H + j] = tc;
                    }
                    hb[j] = o * tc;
                    yo[j] = hb[j];
                }
            }
        }
    }
    if (!s)
        return out;
    struct tl__nn_node *nd = tl__nn_scratch(g, sizeof *nd, true);
    tl_tensor **srcs = tl__nn_scratch(g, 5 * sizeof *srcs, false);
    if (!nd || !srcs)
        return NULL;
    s->kind = kind;
    s->reverse = reverse;
    s->B = B;
    s->T = T;
    s->H = H;
    s->n_iter = n_iter;
    s->len = len;
    s->n_rows = n_rows;
    srcs[0] = gx;
    srcs[1] = whh;
    srcs[2] = bhh;
    srcs[3] = h0;
    srcs[4] = c0;
    nd->backward = recur_backward;
    nd->op = "nn rnn";
    nd->srcs = srcs;
    nd->n_srcs = 5;
    nd->aux = s;
    out->node = nd;
    out->requires_grad = true;
    return out;
}

/* ---- the layer ----------------------------------------------------------------------- */

static int add_param(tl_nn_params *ps, const char *prefix, const char *name, int layer,
                     bool reverse, int ndim, const int64_t *shape, tl_tensor **out, tl_err *err)
{
    char full[TL_NN_NAME_MAX];
    int n = snprintf(full, sizeof full, "%s.%s_l%d%s", prefix, name, layer,
                     reverse ? "_reverse" : "");
    if (n < 0 || (size_t)n >= sizeof full)
        return tl_err_set(err, TL_EINVAL, "nn rnn: the name \"%s.%s_l%d\" is longer than %d bytes",
                          prefix, name, layer, TL_NN_NAME_MAX - 1);
    return tl_nn_params_add(ps, full, ndim, shape, out, err);
}

int tl_nn_rnn_init(struct tl_nn_rnn *r, tl_nn_params *ps, const char *prefix,
                   enum tl_nn_rnn_kind kind, int64_t input_size, int64_t hidden_size, int n_layers,
                   bool bidirectional, float dropout, bool bias, tl_rng *rng, tl_err *err)
{
    if (kind != TL_NN_RNN_GRU && kind != TL_NN_RNN_LSTM)
        return tl_err_set(err, TL_EINVAL, "nn rnn \"%s\": unknown kind %d", prefix, (int)kind);
    if (input_size < 1 || hidden_size < 1)
        return tl_err_set(err, TL_EINVAL, "nn rnn \"%s\": sizes %lld -> %lld must be positive",
                          prefix, (long long)input_size, (long long)hidden_size);
    if (n_layers < 1 || n_layers > TL_NN_RNN_MAX_LAYERS)
        return tl_err_set(err, TL_EINVAL, "nn rnn \"%s\": %d layers asked; 1 to %d allowed", prefix,
                          n_layers, TL_NN_RNN_MAX_LAYERS);
    if (!(dropout >= 0 && dropout < 1))
        return tl_err_set(err, TL_EINVAL, "nn rnn \"%s\": dropout %g is outside [0, 1)", prefix,
                          (double)dropout);
    struct tl_nn_rnn tmp = {.kind = kind,
                            .input_size = input_size,
                            .hidden_size = hidden_size,
                            .n_layers = n_layers,
                            .bidirectional = bidirectional,
                            .dropout = dropout};
    int64_t gh = (kind == TL_NN_RNN_LSTM ? 4 : 3) * hidden_size, nd = bidirectional ? 2 : 1;
    float a = 1.0f / sqrtf((float)hidden_size);
    for (int l = 0; l < n_layers; l++) {
        int64_t in = l == 0 ? input_size : nd * hidden_size;
        for (int d = 0; d < nd; d++) {
            struct tl_nn_rnn_cell *cl = &tmp.cell[l][d];
            int rc = add_param(ps, prefix, "weight_ih", l, d, 2, (int64_t[]){gh, in}, &cl->w_ih, err);
            if (rc == 0)
                rc = add_param(ps, prefix, "weight_hh", l, d, 2, (int64_t[]){gh, hidden_size},
                               &cl->w_hh, err);
            if (rc == 0 && bias)
                rc = add_param(ps, prefix, "bias_ih", l, d, 1, (int64_t[]){gh}, &cl->b_ih, err);
            if (rc == 0 && bias)
                rc = add_param(ps, prefix, "bias_hh", l, d, 1, (int64_t[]){gh}, &cl->b_hh, err);
            if (rc < 0)
                return rc;
            tl_nn_init_uniform(cl->w_ih, -a, a, rng);
            tl_nn_init_uniform(cl->w_hh, -a, a, rng);
            if (bias) {
                tl_nn_init_uniform(cl->b_ih, -a, a, rng);
                tl_nn_init_uniform(cl->b_hh, -a, a, rng);
            }
        }
    }
    *r = tmp;
    return 0;
}

/* (B, H) view of state tensor s (L D, B, H) at index i, or NULL. */
static tl_tensor *state_at(tl_nn_graph *g, tl_tensor *s, int64_t i, int64_t B, int64_t H)
{
    if (!s)
        return NULL;
    return tl_nn_reshape(g, tl_nn_slice(g, s, 0, i, i + 1), 2, (int64_t[]){B, H});
}

static bool state_ok(tl_nn_graph *g, const struct tl_nn_rnn *r, tl_tensor *s, const char *name,
                     int64_t B)
{
    int64_t nd = r->bidirectional ? 2 : 1;
    if (s->ndim == 3 && s->shape[0] == r->n_layers * nd && s->shape[1] == B &&
        s->shape[2] == r->hidden_size)
        return true;
    char buf[64];
    tl__nn_fail(g, TL_EINVAL, "nn rnn \"%s\": %s is %s, not (%lld, %lld, %lld)",
                r->cell[0][0].w_ih->name, name, tl__nn_shape_str(s, buf, sizeof buf),
                (long long)(r->n_layers * nd), (long long)B, (long long)r->hidden_size);
    return false;
}

tl_tensor *tl_nn_rnn_forward(tl_nn_graph *g, const struct tl_nn_rnn *r, tl_tensor *x,
                             const int32_t *lengths, tl_tensor *h0, tl_tensor *c0, tl_tensor **h_n,
                             tl_tensor **c_n)
{
    if (h_n)
        *h_n = NULL;
    if (c_n)
        *c_n = NULL;
    if (!x)
        return NULL;
    const char *who = r->cell[0][0].w_ih->name;
    char buf[64];
    if (x->ndim != 3 || x->shape[2] != r->input_size)
        return tl__nn_fail(g, TL_EINVAL, "nn rnn \"%s\": input %s is not (B, T, %lld)", who,
                           tl__nn_shape_str(x, buf, sizeof buf), (long long)r->input_size);
    bool lstm = r->kind == TL_NN_RNN_LSTM;
    if (c0 && !lstm)
        return tl__nn_fail(g, TL_EINVAL, "nn rnn \"%s\": c0 given to a GRU", who);
    int64_t B = x->shape[0], T = x->shape[1], H = r->hidden_size, nd = r->bidirectional ? 2 : 1;
    if ((h0 && !state_ok(g, r, h0, "h0", B)) || (c0 && !state_ok(g, r, c0, "c0", B)))
        return NULL;
    int32_t *len = tl__nn_scratch(g, (size_t)(B + 1) * sizeof(int32_t), false);
    if (!len)
        return NULL;
    for (int64_t b = 0; b < B; b++) {
        len[b] = lengths ? lengths[b] : (int32_t)T;
        if (len[b] < 0 || len[b] > T)
            return tl__nn_fail(g, TL_EINVAL, "nn rnn \"%s\": lengths[%lld] is %d, outside [0, %lld]",
                               who, (long long)b, len[b], (long long)T);
    }
    if (h0)
        h0 = tl_nn_contiguous(g, h0);
    if (c0)
        c0 = tl_nn_contiguous(g, c0);
    tl_tensor *finals_h[2 * TL_NN_RNN_MAX_LAYERS], *finals_c[2 * TL_NN_RNN_MAX_LAYERS];
    tl_tensor *in = x;
    int64_t BTH = B * T * H;
    for (int l = 0; l < r->n_layers; l++) {
        int64_t f = in->shape[2];
        tl_tensor *flat = tl_nn_reshape(g, in, 2, (int64_t[]){B * T, f});
        tl_tensor *outs[2];
        for (int d = 0; d < nd; d++) {
            const struct tl_nn_rnn_cell *cl = &r->cell[l][d];
            int64_t gh = cl->w_ih->shape[0];
            tl_tensor *gx = tl_nn_matmul(g, flat, tl_nn_transpose(g, cl->w_ih, 0, 1));
            if (cl->b_ih)
                gx = tl_nn_add(g, gx, cl->b_ih);
            gx = tl_nn_reshape(g, gx, 3, (int64_t[]){B, T, gh});
            int64_t si = l * nd + d;
            tl_tensor *y = recur(g, r->kind, d == 1, gx, cl->w_hh, cl->b_hh,
                                 state_at(g, h0, si, B, H), state_at(g, c0, si, B, H), len);
            if (!y)
                return NULL;
            outs[d] = tl_nn_reshape(g, tl_nn_slice(g, y, 0, 0, BTH), 3, (int64_t[]){B, T, H});
            finals_h[si] = tl_nn_reshape(g, tl_nn_slice(g, y, 0, BTH, BTH + B * H), 3,
                                         (int64_t[]){1, B, H});
            if (lstm)
                finals_c[si] = tl_nn_reshape(g, tl_nn_slice(g, y, 0, BTH + B * H, BTH + 2 * B * H),
                                             3, (int64_t[]){1, B, H});
        }
        in = nd == 2 ? tl_nn_concat(g, outs, 2, 2) : outs[0];
        if (!in)
            return NULL;
        if (r->dropout > 0 && l + 1 < r->n_layers)
            in = tl_nn_dropout(g, in, r->dropout);
    }
    int n_states = (int)(r->n_layers * nd);
    if (h_n)
        *h_n = n_states == 1 ? finals_h[0] : tl_nn_concat(g, finals_h, n_states, 0);
    if (c_n && lstm)
        *c_n = n_states == 1 ? finals_c[0] : tl_nn_concat(g, finals_c, n_states, 0);
    if (g->err.code || (h_n && !*h_n) || (c_n && lstm && !*c_n))
        return NULL; /* a state slice or concat failed: the error is recorded */
    return in;
}
