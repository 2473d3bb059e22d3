/* test_nn_layers.c - the sequence and graph layers: GRU and LSTM (uni- and
 * bidirectional, stacked, with padded batches), Conv1D with max and mean
 * pooling over time, the GCN layer and LightGCN propagation.
 *
 * Each layer gets a finite-difference gradient check through its inputs,
 * initial states and every parameter (the harness of test_nn_core.c: L =
 * sum(R * out) by central differences against the tape); the forward
 * passes are checked against direct double-precision implementations of
 * PyTorch's equations; a padded batch must give each sequence exactly what
 * it gives alone; and a bidirectional GRU and an LSTM learn with plain SGD
 * whether a sequence contains a given symbol. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/nn.h>

#include "nn_gradcheck.h"


#define GC_H 1e-2
#define ATOL 1e-3
#define RTOL 5e-3
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* Flattens and joins a list of tensors (NULLs skipped): several outputs as
 * one for the gradient check. */
static tl_tensor *join(tl_nn_graph *g, tl_tensor *a, tl_tensor *b, tl_tensor *c)
{
    tl_tensor *parts[3];
    int n = 0;
    tl_tensor *in[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (in[i])
            parts[n++] = tl_nn_reshape(g, in[i], 1, SHAPE(-1));
    return n == 1 ? parts[0] : tl_nn_concat(g, parts, n, 0);
}

/* ---- GRU and LSTM: gradient checks ------------------------------------------------- */

struct rnn_case {
    const char *name;
    enum tl_nn_rnn_kind kind;
    bool bidir;
    int layers;
    int64_t B, T, F, Hd;
    const int32_t *lengths;  /* NULL: all T */
    bool h0, c0;
};

struct rnn_run {
    const struct rnn_case *rc;
    struct tl_nn_rnn rnn;
    int slot_h0, slot_c0;
};

static tl_tensor *b_rnn(struct gc *c)
{
    const struct rnn_run *run = c->ctx;
    const struct rnn_case *rc = run->rc;
    tl_tensor *h0 = rc->h0 ? IN(c, run->slot_h0) : NULL;
    tl_tensor *c0 = rc->c0 ? IN(c, run->slot_c0) : NULL;
    tl_tensor *hn, *cn;
    tl_tensor *y = tl_nn_rnn_forward(c->g, &run->rnn, IN(c, 0), rc->lengths, h0, c0, &hn,
                                     rc->kind == TL_NN_RNN_LSTM ? &cn : NULL);
    if (!y)
        return NULL;
    return join(c->g, y, hn, rc->kind == TL_NN_RNN_LSTM ? cn : NULL);
}

static void rnn_gradcheck(const struct rnn_case *rc, uint64_t seed)
{
    struct rnn_run run = {.rc = rc};
    struct gc c;
    gc_init(&c, seed);
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, seed + 1);
    tl_err err = {0};
    cr_assert_eq(tl_nn_rnn_init(&run.rnn, ps, "rnn", rc->kind, rc->F, rc->Hd, rc->layers, rc->bidir,
                                0, true, &rng, &err),
                 0, "%s", err.msg);
    int64_t nd = rc->bidir ? 2 : 1;
    gc_input(&c, 3, SHAPE(rc->B, rc->T, rc->F), -1, 1, 0);
    if (rc->h0)
        run.slot_h0 = gc_input(&c, 3, SHAPE(rc->layers * nd, rc->B, rc->Hd), -0.8f, 0.8f, 0);
    if (rc->c0)
        run.slot_c0 = gc_input(&c, 3, SHAPE(rc->layers * nd, rc->B, rc->Hd), -0.8f, 0.8f, 0);
    /* Bigger weights than the init's 1/sqrt(H) so the gates leave their
     * linear range and a wrong derivative shows. */
    for (size_t i = 0; i < tl_nn_params_count(ps); i++) {
        tl_tensor *p = tl_nn_params_at(ps, i);
        tl_nn_init_uniform(p, -0.9f, 0.9f, &rng);
        gc_param(&c, p);
    }
    c.ctx = &run;
    gradcheck(&c, rc->name, b_rnn, GC_H, ATOL, RTOL);
    gc_free(&c);
    tl_nn_params_free(ps);
}

Test(nn_layers, gru_gradients)
{
    static const int32_t l1[] = {5, 2, 4}, l2[] = {4, 5, 1};
    struct rnn_case cases[] = {
        {"gru uni, unsorted lengths, h0", TL_NN_RNN_GRU, false, 1, 3, 5, 3, 4, l1, true, false},
        {"gru bi, lengths", TL_NN_RNN_GRU, true, 1, 3, 5, 3, 4, l2, false, false},
        {"gru bi 2 layers, no padding, h0", TL_NN_RNN_GRU, true, 2, 2, 4, 3, 3, NULL, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        rnn_gradcheck(&cases[i], 40 + i);
}

Test(nn_layers, lstm_gradients)
{
    static const int32_t l1[] = {5, 3, 3}, l2[] = {5, 0, 2};
    struct rnn_case cases[] = {
        {"lstm uni, lengths, h0 c0", TL_NN_RNN_LSTM, false, 1, 3, 5, 3, 4, l1, true, true},
        {"lstm bi 2 layers, a 0 length", TL_NN_RNN_LSTM, true, 2, 3, 5, 2, 3, l2, true, true},
        {"lstm bi, no padding", TL_NN_RNN_LSTM, true, 1, 2, 4, 3, 4, NULL, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        rnn_gradcheck(&cases[i], 60 + i);
}

/* ---- GRU and LSTM: PyTorch's equations, in double -------------------------------------- */

static double sigd(double v) { return 1 / (1 + exp(-v)); }

/* One direction of one layer over one sequence x (T, F), PyTorch's nn.GRU /
 * nn.LSTM docs: h (and c) updated in place, outputs into y (T, Hd) with
 * stride ys. */
static void ref_dir(enum tl_nn_rnn_kind kind, const struct tl_nn_rnn_cell *cl, const double *x,
                    int64_t T, int64_t F, int64_t Hd, bool reverse, double *h, double *c,
                    double *y, int64_t ys)
{
    int64_t G = kind == TL_NN_RNN_LSTM ? 4 : 3;
    double *a = calloc((size_t)(G * Hd), sizeof *a), *b = calloc((size_t)(G * Hd), sizeof *b);
    double *hn = calloc((size_t)Hd, sizeof *hn);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = reverse ? T - 1 - s : s;
        for (int64_t r = 0; r < G * Hd; r++) { /* a = W_ih x + b_ih, b = W_hh h + b_hh */
            a[r] = cl->b_ih->data[r];
            b[r] = cl->b_hh->data[r];
            for (int64_t f = 0; f < F; f++)
                a[r] += cl->w_ih->data[r * F + f] * x[t * F + f];
            for (int64_t j = 0; j < Hd; j++)
                b[r] += cl->w_hh->data[r * Hd + j] * h[j];
        }
        for (int64_t j = 0; j < Hd; j++) {
            if (kind == TL_NN_RNN_GRU) {
                double r = sigd(a[j] + b[j]), z = sigd(a[Hd + j] + b[Hd + j]);
                double n = tanh(a[2 * Hd + j] + r * b[2 * Hd + j]);
                hn[j] = (1 - z) * n + z * h[j];
            } else {
                double i = sigd(a[j] + b[j]), f = sigd(a[Hd + j] + b[Hd + j]);
                double g = tanh(a[2 * Hd + j] + b[2 * Hd + j]), o = sigd(a[3 * Hd + j] + b[3 * Hd + j]);
                c[j] = f * c[j] + i * g;
                hn[j] = o * tanh(c[j]);
            }
        }
        memcpy(h, hn, (size_t)Hd * sizeof *h);
        for (int64_t j = 0; j < Hd; j++)
            y[t * ys + j] = h[j];
    }
    free(a);
    free(b);
    free(hn);
}

/* The whole stacked, maybe bidirectional network over one sequence:
 * y (T, D Hd), hn and cn (L D, Hd). */
static void ref_rnn(const struct tl_nn_rnn *r, const float *x, int64_t T, double *y, double *hn,
                    double *cn)
{
    int64_t nd = r->bidirectional ? 2 : 1, Hd = r->hidden_size;
    int64_t F = r->input_size;
    double *in = malloc((size_t)(T * (F > nd * Hd ? F : nd * Hd) + 1) * sizeof *in);
    for (int64_t i = 0; i < T * F; i++)
        in[i] = x[i];
    for (int l = 0; l < r->n_layers; l++) {
        for (int d = 0; d < nd; d++) {
            double *h = hn + (l * nd + d) * Hd, *c = cn + (l * nd + d) * Hd;
            memset(h, 0, (size_t)Hd * sizeof *h);
            memset(c, 0, (size_t)Hd * sizeof *c);
            ref_dir(r->kind, &r->cell[l][d], in, T, F, Hd, d == 1, h, c, y + d * Hd, nd * Hd);
        }
        F = nd * Hd;
        memcpy(in, y, (size_t)(T * F) * sizeof *in);
    }
    free(in);
}

static void check_against_reference(enum tl_nn_rnn_kind kind, bool bidir, int layers)
{
    int64_t B = 3, T = 6, F = 3, Hd = 5, nd = bidir ? 2 : 1;
    int32_t lengths[] = {6, 2, 4};
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 7 + (uint64_t)kind * 10 + (uint64_t)bidir * 3 + (uint64_t)layers);
    tl_err err = {0};
    struct tl_nn_rnn r;
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "rnn", kind, F, Hd, layers, bidir, 0, true, &rng, &err), 0);
    float x[3 * 6 * 3];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)(4 * tl_rng_uniform(&rng) - 2);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    tl_tensor *hn, *cn;
    tl_tensor *y = tl_nn_rnn_forward(g, &r, tl_nn_tensor_wrap(g, 3, SHAPE(B, T, F), x), lengths,
                                     NULL, NULL, &hn, kind == TL_NN_RNN_LSTM ? &cn : NULL);
    cr_assert(y, "%s", (tl_nn_graph_error(g, &err), err.msg));
    cr_assert_eq(y->shape[2], nd * Hd);
    double worst = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t L = lengths[b];
        double ry[6 * 10], rh[2 * 2 * 5], rc[2 * 2 * 5];
        ref_rnn(&r, x + b * T * F, L, ry, rh, rc);
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < nd * Hd; j++) {
                double want = t < L ? ry[t * nd * Hd + j] : 0;
                double got = tl_nn_tensor_get(y, (b * T + t) * nd * Hd + j);
                worst = fmax(worst, fabs(got - want));
            }
        for (int64_t s = 0; s < layers * nd; s++)
            for (int64_t j = 0; j < Hd; j++) {
                worst = fmax(worst, fabs(tl_nn_tensor_get(hn, (s * B + b) * Hd + j) - rh[s * Hd + j]));
                if (kind == TL_NN_RNN_LSTM)
                    worst = fmax(worst,
                                 fabs(tl_nn_tensor_get(cn, (s * B + b) * Hd + j) - rc[s * Hd + j]));
            }
    }
    cr_assert_lt(worst, 2e-5, "kind %d bidir %d layers %d: max |diff| %g", kind, bidir, layers,
                 worst);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
}

Test(nn_layers, rnn_forward_matches_pytorch_equations)
{
    for (int kind = 0; kind < 2; kind++)
        for (int bidir = 0; bidir < 2; bidir++)
            for (int layers = 1; layers <= 2; layers++)
                check_against_reference((enum tl_nn_rnn_kind)kind, bidir, layers);
}

Test(nn_layers, rnn_parameter_names_and_shapes)
{
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    tl_err err = {0};
    struct tl_nn_rnn r;
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "enc", TL_NN_RNN_LSTM, 7, 5, 2, true, 0.1f, true, &rng, &err), 0);
    static const char *names[] = {
        "enc.weight_ih_l0", "enc.weight_hh_l0", "enc.bias_ih_l0", "enc.bias_hh_l0",
        "enc.weight_ih_l0_reverse", "enc.weight_hh_l0_reverse", "enc.bias_ih_l0_reverse",
        "enc.bias_hh_l0_reverse", "enc.weight_ih_l1", "enc.weight_hh_l1", "enc.bias_ih_l1",
        "enc.bias_hh_l1", "enc.weight_ih_l1_reverse", "enc.weight_hh_l1_reverse",
        "enc.bias_ih_l1_reverse", "enc.bias_hh_l1_reverse"};
    cr_assert_eq(tl_nn_params_count(ps), 16);
    for (size_t i = 0; i < 16; i++)
        cr_assert_str_eq(tl_nn_params_at(ps, i)->name, names[i]);
    tl_tensor *w = tl_nn_params_find(ps, "enc.weight_ih_l1_reverse");
    cr_assert(w->shape[0] == 20 && w->shape[1] == 10); /* (4 H, 2 H) above the first layer */
    cr_assert(tl_nn_params_find(ps, "enc.weight_hh_l0")->shape[1] == 5);
    /* U(-1/sqrt(H), 1/sqrt(H)) */
    float a = 1 / sqrtf(5), lo = 1, hi = -1;
    for (size_t i = 0; i < 16; i++) {
        tl_tensor *p = tl_nn_params_at(ps, i);
        for (int64_t j = 0; j < tl_nn_numel(p); j++) {
            lo = fminf(lo, p->data[j]);
            hi = fmaxf(hi, p->data[j]);
        }
    }
    cr_assert(lo >= -a && hi <= a && lo < -0.9f * a && hi > 0.9f * a, "range [%g, %g]", lo, hi);
    /* a GRU has 3 H rows */
    struct tl_nn_rnn gru;
    cr_assert_eq(tl_nn_rnn_init(&gru, ps, "gru", TL_NN_RNN_GRU, 7, 5, 1, false, 0, false, &rng, &err), 0);
    cr_assert_eq(tl_nn_params_find(ps, "gru.weight_ih_l0")->shape[0], 15);
    cr_assert_null(tl_nn_params_find(ps, "gru.bias_ih_l0"));
    tl_nn_params_free(ps);
}

/* ---- padding changes nothing ------------------------------------------------------------ */

static void check_padding(enum tl_nn_rnn_kind kind, bool bidir, int layers)
{
    enum { B = 4, T = 7, F = 3 };
    int64_t Hd = 4, nd = bidir ? 2 : 1, S = layers * nd;
    int32_t lengths[B] = {7, 3, 5, 1};
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 99);
    tl_err err = {0};
    struct tl_nn_rnn r;
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "rnn", kind, F, Hd, layers, bidir, 0, true, &rng, &err), 0);
    float x[B * T * F];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T * F; i++) /* padding full of large junk */
            x[b * T * F + i] = i < lengths[b] * F ? (float)(2 * tl_rng_uniform(&rng) - 1) : 50.0f;
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    tl_tensor *hn, *cn = NULL;
    bool lstm = kind == TL_NN_RNN_LSTM;
    tl_tensor *y = tl_nn_rnn_forward(g, &r, tl_nn_tensor_wrap(g, 3, SHAPE(B, T, F), x), lengths,
                                     NULL, NULL, &hn, lstm ? &cn : NULL);
    cr_assert(y);
    for (int b = 0; b < B; b++) {
        int64_t L = lengths[b];
        tl_tensor *hn1, *cn1 = NULL;
        tl_tensor *y1 = tl_nn_rnn_forward(g, &r, tl_nn_tensor_wrap(g, 3, SHAPE(1, L, F), x + b * T * F),
                                          NULL, NULL, NULL, &hn1, lstm ? &cn1 : NULL);
        cr_assert(y1);
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < nd * Hd; j++) {
                float got = tl_nn_tensor_get(y, (b * T + t) * nd * Hd + j);
                float want = t < L ? tl_nn_tensor_get(y1, t * nd * Hd + j) : 0.0f;
                cr_assert(fabsf(got - want) <= 1e-6f, "row %d step %lld col %lld: %g vs alone %g",
                          b, (long long)t, (long long)j, got, want);
            }
        for (int64_t s = 0; s < S; s++)
            for (int64_t j = 0; j < Hd; j++) {
                cr_assert(fabsf(tl_nn_tensor_get(hn, (s * B + b) * Hd + j) -
                                tl_nn_tensor_get(hn1, s * Hd + j)) <= 1e-6f);
                if (lstm)
                    cr_assert(fabsf(tl_nn_tensor_get(cn, (s * B + b) * Hd + j) -
                                    tl_nn_tensor_get(cn1, s * Hd + j)) <= 1e-6f);
            }
    }
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
}

Test(nn_layers, padding_does_not_change_real_steps)
{
    for (int kind = 0; kind < 2; kind++)
        for (int bidir = 0; bidir < 2; bidir++)
            for (int layers = 1; layers <= 2; layers++)
                check_padding((enum tl_nn_rnn_kind)kind, bidir, layers);
}

Test(nn_layers, padded_inputs_get_no_gradient)
{
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 3);
    tl_err err = {0};
    struct tl_nn_rnn r;
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "gru", TL_NN_RNN_GRU, 2, 3, 1, true, 0, true, &rng, &err), 0);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    float x[2 * 4 * 2];
    for (int i = 0; i < 16; i++)
        x[i] = (float)tl_rng_uniform(&rng);
    int32_t lengths[] = {4, 2};
    tl_tensor *xt = tl_nn_tensor_from(g, 3, SHAPE(2, 4, 2), x);
    xt->requires_grad = true;
    tl_tensor *y = tl_nn_rnn_forward(g, &r, xt, lengths, NULL, NULL, NULL, NULL);
    cr_assert_eq(tl_nn_backward(g, tl_nn_sum_all(g, y), &err), 0, "%s", err.msg);
    for (int t = 0; t < 4; t++)
        for (int f = 0; f < 2; f++) {
            float gv = xt->grad[(4 + t) * 2 + f];
            if (t >= 2)
                cr_assert_eq(gv, 0.0f, "padded step %d got gradient %g", t, gv);
            else
                cr_assert_neq(gv, 0.0f);
        }
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
}

/* ---- a sequence task learned with plain SGD -------------------------------------------- */

/* Sequences of symbols 0..4 of lengths 2..10; label 1 when symbol 5 occurs
 * (half of them, at a random place). */
enum { SEQ_T = 10, SEQ_V = 6 };
static void seq_batch(tl_rng *r, int n, int32_t *tok, int32_t *len, float *y)
{
    for (int i = 0; i < n; i++) {
        len[i] = 2 + (int32_t)tl_rng_below(r, SEQ_T - 1);
        for (int t = 0; t < SEQ_T; t++)
            tok[i * SEQ_T + t] = t < len[i] ? (int32_t)tl_rng_below(r, 5) : 0;
        y[i] = tl_rng_uniform(r) < 0.5 ? 1.0f : 0.0f;
        if (y[i] > 0)
            tok[i * SEQ_T + tl_rng_below(r, (uint64_t)len[i])] = 5;
    }
}

struct seq_model {
    struct tl_nn_embedding_layer emb;
    struct tl_nn_rnn rnn;
    struct tl_nn_linear out;
};

/* Logits (n, 1) from the final states of both directions. */
static tl_tensor *seq_forward(tl_nn_graph *g, const struct seq_model *m, const int32_t *tok,
                              const int32_t *len, int n)
{
    tl_tensor *e = tl_nn_reshape(g, tl_nn_embedding_forward(g, &m->emb, tok, (int64_t)n * SEQ_T),
                                 3, SHAPE(n, SEQ_T, m->emb.dim));
    tl_tensor *hn;
    if (!tl_nn_rnn_forward(g, &m->rnn, e, len, NULL, NULL, &hn, NULL))
        return NULL;
    tl_tensor *feat = tl_nn_reshape(g, tl_nn_transpose(g, hn, 0, 1), 2,
                                    SHAPE(n, 2 * m->rnn.hidden_size));
    return tl_nn_linear_forward(g, &m->out, feat);
}

static void learn_contains(enum tl_nn_rnn_kind kind, int steps, float lr)
{
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 2024);
    tl_err err = {0};
    struct seq_model m;
    cr_assert_eq(tl_nn_embedding_init(&m.emb, ps, "emb", SEQ_V, 8, &rng, &err), 0);
    cr_assert_eq(tl_nn_rnn_init(&m.rnn, ps, "rnn", kind, 8, 12, 1, true, 0, true, &rng, &err), 0);
    cr_assert_eq(tl_nn_linear_init(&m.out, ps, "out", 24, 1, true, &rng, &err), 0);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    enum { N = 32, NT = 400 };
    int32_t tok[NT * SEQ_T], len[NT];
    float y[NT];
    float first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        seq_batch(&rng, N, tok, len, y);
        tl_nn_graph_reset(g);
        tl_tensor *logit = seq_forward(g, &m, tok, len, N);
        tl_tensor *loss = tl_nn_bce_logits(g, logit, tl_nn_tensor_wrap(g, 2, SHAPE(N, 1), y), 1);
        cr_assert(loss, "%s", (tl_nn_graph_error(g, &err), err.msg));
        tl_nn_params_zero_grad(ps);
        cr_assert_eq(tl_nn_backward(g, loss, &err), 0, "%s", err.msg);
        for (size_t i = 0; i < tl_nn_params_count(ps); i++) { /* plain SGD */
            tl_tensor *p = tl_nn_params_at(ps, i);
            for (int64_t j = 0; j < tl_nn_numel(p); j++)
                p->data[j] -= lr * p->grad[j];
        }
        if (s < 20)
            first += loss->data[0] / 20;
        if (s >= steps - 20)
            last += loss->data[0] / 20;
    }
    /* held-out sequences, no tape */
    seq_batch(&rng, NT, tok, len, y);
    tl_nn_graph_reset(g);
    tl_nn_graph_set_grad(g, false);
    tl_tensor *logit = seq_forward(g, &m, tok, len, NT);
    cr_assert(logit);
    int right = 0;
    for (int i = 0; i < NT; i++)
        right += (logit->data[i] > 0) == (y[i] > 0.5f);
    double acc = right / (double)NT;
    cr_log_info("contains-symbol %s: loss %.3f -> %.3f, held-out accuracy %.3f",
                kind == TL_NN_RNN_GRU ? "bigru" : "bilstm", first, last, acc);
    cr_assert_lt(last, 0.5 * first, "loss %.3f -> %.3f", first, last);
    cr_assert_geq(acc, 0.95, "held-out accuracy %.3f", acc);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
}

Test(nn_train, bigru_learns_contains_symbol) { learn_contains(TL_NN_RNN_GRU, 600, 0.5f); }
Test(nn_train, bilstm_learns_contains_symbol) { learn_contains(TL_NN_RNN_LSTM, 600, 0.5f); }

/* ---- errors ---------------------------------------------------------------------------- */

Test(nn_layers, rnn_bad_input_is_named)
{
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 3);
    tl_err err = {0};
    struct tl_nn_rnn r;
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "gru", TL_NN_RNN_GRU, 0, 3, 1, false, 0, true, &rng, &err),
                 TL_EINVAL);
    cr_assert(strstr(err.msg, "gru"));
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "gru", TL_NN_RNN_GRU, 2, 3, 0, false, 0, true, &rng, &err),
                 TL_EINVAL);
    cr_assert_eq(tl_nn_rnn_init(&r, ps, "gru", TL_NN_RNN_GRU, 2, 3, 1, false, 0, true, &rng, &err), 0);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    float x[2 * 3 * 2] = {0};
    cr_assert_null(tl_nn_rnn_forward(g, &r, tl_nn_tensor_wrap(g, 3, SHAPE(2, 3, 3), x), NULL, NULL,
                                     NULL, NULL, NULL));
    cr_assert_eq(tl_nn_graph_error(g, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "(2, 3, 3)"), "%s", err.msg);
    tl_nn_graph_reset(g);
    int32_t bad[] = {3, 4};
    cr_assert_null(tl_nn_rnn_forward(g, &r, tl_nn_tensor_wrap(g, 3, SHAPE(2, 3, 2), x), bad, NULL,
                                     NULL, NULL, NULL));
    tl_nn_graph_error(g, &err);
    cr_assert(strstr(err.msg, "lengths[1] is 4"), "%s", err.msg);
    tl_nn_graph_reset(g);
    tl_tensor *h0 = tl_nn_tensor_new(g, 3, SHAPE(2, 2, 3));
    cr_assert_null(tl_nn_rnn_forward(g, &r, tl_nn_tensor_wrap(g, 3, SHAPE(2, 3, 2), x), NULL, h0,
                                     NULL, NULL, NULL));
    tl_nn_graph_error(g, &err);
    cr_assert(strstr(err.msg, "h0"), "%s", err.msg);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
}

/* ---- Conv1D and pooling over time ------------------------------------------------------- */

struct conv_case {
    struct tl_nn_conv1d conv;
    const int32_t *lengths;
    int pool;  /* 0: conv output, 1: max, 2: mean */
};

static tl_tensor *b_conv(struct gc *c)
{
    const struct conv_case *cc = c->ctx;
    int32_t olen[8];
    tl_tensor *y = tl_nn_conv1d_forward(c->g, &cc->conv, IN(c, 0), cc->lengths, olen);
    if (cc->pool == 1)
        return tl_nn_max_pool_time(c->g, y, cc->lengths ? olen : NULL);
    if (cc->pool == 2)
        return tl_nn_mean_pool_time(c->g, y, cc->lengths ? olen : NULL);
    return y;
}

Test(nn_layers, conv1d_gradients)
{
    static const int32_t lens[] = {6, 2, 4};
    struct {
        const char *name;
        int64_t k, pad;
        const int32_t *lengths;
        int pool;
    } cases[] = {
        {"conv1d k3 p1, lengths", 3, 1, lens, 0},
        {"conv1d k2 p0", 2, 0, NULL, 0},
        {"conv1d k3 p2 + mean pool", 3, 2, lens, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gc c;
        gc_init(&c, 200 + i);
        tl_nn_params *ps = tl_nn_params_new();
        tl_rng rng;
        tl_rng_seed(&rng, 5 + i);
        tl_err err = {0};
        struct conv_case cc = {.lengths = cases[i].lengths, .pool = cases[i].pool};
        cr_assert_eq(tl_nn_conv1d_init(&cc.conv, ps, "conv", 3, 4, cases[i].k, cases[i].pad, true,
                                       &rng, &err),
                     0, "%s", err.msg);
        gc_input(&c, 3, SHAPE(3, 6, 3), -1, 1, 0);
        gc_param(&c, cc.conv.weight);
        gc_param(&c, cc.conv.bias);
        c.ctx = &cc;
        gradcheck(&c, cases[i].name, b_conv, GC_H, ATOL, RTOL);
        gc_free(&c);
        tl_nn_params_free(ps);
    }
}

static const int32_t pool_lens[] = {5, 1, 0, 3};
static tl_tensor *b_maxpool(struct gc *c) { return tl_nn_max_pool_time(c->g, IN(c, 0), pool_lens); }
static tl_tensor *b_meanpool(struct gc *c) { return tl_nn_mean_pool_time(c->g, IN(c, 0), pool_lens); }

Test(nn_layers, pooling_gradients)
{
    struct gc c;
    gc_init(&c, 300);
    int i = gc_input(&c, 3, SHAPE(4, 5, 3), -1, 1, 0);
    /* distinct values 0.1 apart: no step of h can change which one wins */
    for (int64_t j = 0; j < c.numel[i]; j++)
        c.data[i][j] = 0.1f * (float)((j * 37) % 60) - 3.0f;
    gradcheck(&c, "max_pool_time, lengths", b_maxpool, GC_H, ATOL, RTOL);
    gradcheck(&c, "mean_pool_time, lengths", b_meanpool, GC_H, ATOL, RTOL);
    gc_free(&c);
}

Test(nn_layers, pooling_values)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    /* (2, 3, 2): row 0 length 2, row 1 length 3 */
    float x[] = {1, -4, 3, -2, 100, 100, /* row 1 */ -1, 5, -3, 6, -2, 7};
    int32_t len[] = {2, 3};
    tl_tensor *xt = tl_nn_tensor_wrap(g, 3, SHAPE(2, 3, 2), x);
    tl_tensor *mx = tl_nn_max_pool_time(g, xt, len), *mn = tl_nn_mean_pool_time(g, xt, len);
    float want_max[] = {3, -2, -1, 7}, want_mean[] = {2, -3, -2, 6};
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(mx->data[i], want_max[i], 1e-6);
        cr_assert_float_eq(mn->data[i], want_mean[i], 1e-6);
    }
    int32_t bad[] = {2, 4};
    cr_assert_null(tl_nn_max_pool_time(g, xt, bad));
    tl_nn_graph_error(g, &err);
    cr_assert(strstr(err.msg, "lengths[1] is 4"), "%s", err.msg);
    tl_nn_graph_free(g);
}

Test(nn_layers, conv1d_matches_definition_and_ignores_padding)
{
    enum { B = 3, T = 6, C = 2, O = 3, K = 3, P = 1 };
    int32_t lengths[B] = {6, 2, 4};
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 8);
    tl_err err = {0};
    struct tl_nn_conv1d cv;
    cr_assert_eq(tl_nn_conv1d_init(&cv, ps, "conv", C, O, K, P, true, &rng, &err), 0);
    cr_assert_eq(cv.weight->shape[0], O);
    cr_assert_eq(cv.weight->shape[1], C);
    cr_assert_eq(cv.weight->shape[2], K);
    float x[B * T * C];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T * C; i++)
            x[b * T * C + i] = i < lengths[b] * C ? (float)(2 * tl_rng_uniform(&rng) - 1) : 9.0f;
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    int32_t olen[B];
    tl_tensor *y = tl_nn_conv1d_forward(g, &cv, tl_nn_tensor_wrap(g, 3, SHAPE(B, T, C), x),
                                        lengths, olen);
    cr_assert(y, "%s", (tl_nn_graph_error(g, &err), err.msg));
    int64_t t_out = T + 2 * P - K + 1;
    cr_assert_eq(y->shape[1], t_out);
    for (int b = 0; b < B; b++) {
        cr_assert_eq(olen[b], lengths[b] + 2 * P - K + 1);
        for (int64_t t = 0; t < t_out; t++)
            for (int o = 0; o < O; o++) {
                double want = 0;
                if (t < olen[b]) { /* nn.Conv1d on the sequence alone, zero padded */
                    want = cv.bias->data[o];
                    for (int c = 0; c < C; c++)
                        for (int j = 0; j < K; j++) {
                            int64_t ts = t + j - P;
                            if (ts >= 0 && ts < lengths[b])
                                want += cv.weight->data[(o * C + c) * K + j] * x[(b * T + ts) * C + c];
                        }
                }
                float got = tl_nn_tensor_get(y, (b * t_out + t) * O + o);
                cr_assert(fabs(got - want) < 1e-5, "b %d t %lld o %d: %g vs %g", b, (long long)t, o,
                          got, want);
            }
    }
    /* kernel longer than the padded input */
    struct tl_nn_conv1d wide;
    cr_assert_eq(tl_nn_conv1d_init(&wide, ps, "wide", C, O, 9, 1, false, &rng, &err), 0);
    cr_assert_null(tl_nn_conv1d_forward(g, &wide, tl_nn_tensor_wrap(g, 3, SHAPE(B, T, C), x), NULL,
                                        NULL));
    tl_nn_graph_error(g, &err);
    cr_assert(strstr(err.msg, "kernel 9"), "%s", err.msg);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
}

/* ---- GCN and LightGCN --------------------------------------------------------------------- */

/* 5 nodes: 0-1, 1-2 (twice), 2-0, 3-3 (a listed self loop), 4 isolated. */
static const int32_t g_src[] = {0, 1, 2, 2, 3}, g_dst[] = {1, 2, 1, 0, 3};

static void dense_norm(bool loops, double a[5][5])
{
    double d[5] = {0};
    memset(a, 0, 25 * sizeof(double));
    for (int e = 0; e < 5; e++)
        a[g_src[e]][g_dst[e]] = a[g_dst[e]][g_src[e]] = 1;
    for (int i = 0; loops && i < 5; i++)
        a[i][i] = 1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            d[i] += a[i][j];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (a[i][j] != 0)
                a[i][j] /= sqrt(d[i] * d[j]);
}

Test(nn_layers, adjacency_normalization)
{
    for (int loops = 0; loops < 2; loops++) {
        struct tl_nn_adj adj;
        tl_err err = {0};
        cr_assert_eq(tl_nn_adj_normalized(5, g_src, g_dst, 5, loops, &adj, &err), 0, "%s", err.msg);
        double want[5][5];
        dense_norm(loops, want);
        int64_t nnz = 0;
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
                nnz += want[i][j] != 0;
        cr_assert_eq(adj.csr.row_ptr[5], nnz, "loops %d: %lld entries, want %lld", loops,
                     (long long)adj.csr.row_ptr[5], (long long)nnz);
        for (int i = 0; i < 5; i++)
            for (int64_t e = adj.csr.row_ptr[i]; e < adj.csr.row_ptr[i + 1]; e++) {
                if (e > adj.csr.row_ptr[i])
                    cr_assert_lt(adj.csr.col[e - 1], adj.csr.col[e]);
                cr_assert_float_eq(adj.csr.val[e], want[i][adj.csr.col[e]], 1e-6);
            }
        if (!loops)
            cr_assert_eq(adj.csr.row_ptr[5] - adj.csr.row_ptr[4], 0, "isolated node 4 has a row");
        tl_nn_adj_free(&adj);
    }
    struct tl_nn_adj adj;
    tl_err err = {0};
    int32_t bad_dst[] = {1, 2, 1, 5, 3};
    cr_assert_eq(tl_nn_adj_normalized(5, g_src, bad_dst, 5, true, &adj, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "edge 3 (2, 5)"), "%s", err.msg);
}

struct gcn_case {
    struct tl_nn_gcn l1, l2;
    const struct tl_nn_csr *adj;
};

static tl_tensor *b_gcn(struct gc *c)
{
    const struct gcn_case *gc = c->ctx;
    /* 3 -> 4 (A H first) -> 2 (H W first): both orders of the product */
    return tl_nn_gcn_forward(c->g, &gc->l2, gc->adj, tl_nn_gcn_forward(c->g, &gc->l1, gc->adj, IN(c, 0)));
}

struct lgcn_case {
    const struct tl_nn_csr *adj;
    int k;
};

static tl_tensor *b_lightgcn(struct gc *c)
{
    const struct lgcn_case *lc = c->ctx;
    return tl_nn_lightgcn_propagate(c->g, lc->adj, IN(c, 0), lc->k);
}

Test(nn_layers, gcn_and_lightgcn_gradients)
{
    struct tl_nn_adj adj;
    tl_err err = {0};
    cr_assert_eq(tl_nn_adj_normalized(5, g_src, g_dst, 5, true, &adj, &err), 0);
    tl_nn_params *ps = tl_nn_params_new();
    tl_rng rng;
    tl_rng_seed(&rng, 11);
    struct gcn_case gcase = {.adj = &adj.csr};
    cr_assert_eq(tl_nn_gcn_init(&gcase.l1, ps, "gcn.0", 3, 4, true, true, TL_NN_ACT_TANH, &rng, &err), 0);
    cr_assert_eq(tl_nn_gcn_init(&gcase.l2, ps, "gcn.1", 4, 2, true, false, TL_NN_ACT_RELU, &rng, &err), 0);
    tl_nn_init_uniform(gcase.l1.bias, -0.5f, 0.5f, &rng); /* a zero bias would hide its gradient's use */
    struct gc c;
    gc_init(&c, 400);
    gc_input(&c, 2, SHAPE(5, 3), -1, 1, 0);
    for (size_t i = 0; i < tl_nn_params_count(ps); i++)
        gc_param(&c, tl_nn_params_at(ps, i));
    c.ctx = &gcase;
    gradcheck(&c, "gcn 3 -> 4 (tanh) -> 2", b_gcn, GC_H, ATOL, RTOL);
    gc_free(&c);
    tl_nn_params_free(ps);
    tl_nn_adj_free(&adj);

    cr_assert_eq(tl_nn_adj_normalized(5, g_src, g_dst, 5, false, &adj, &err), 0);
    for (int k = 0; k <= 3; k += 3) {
        struct lgcn_case lc = {&adj.csr, k};
        gc_init(&c, 500 + k);
        gc_input(&c, 2, SHAPE(5, 3), -1, 1, 0);
        c.ctx = &lc;
        gradcheck(&c, "lightgcn", b_lightgcn, GC_H, ATOL, RTOL);
        gc_free(&c);
    }
    tl_nn_adj_free(&adj);
}

Test(nn_layers, lightgcn_and_gcn_values)
{
    struct tl_nn_adj adj;
    tl_err err = {0};
    cr_assert_eq(tl_nn_adj_normalized(5, g_src, g_dst, 5, false, &adj, &err), 0);
    double a[5][5];
    dense_norm(false, a);
    float e0[5 * 2];
    for (int i = 0; i < 10; i++)
        e0[i] = (float)(i % 3) - 0.5f * (float)i;
    /* mean of E, AE, A^2E */
    double cur[5][2], acc[5][2];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++)
            cur[i][j] = acc[i][j] = e0[i * 2 + j];
    for (int k = 0; k < 2; k++) {
        double nxt[5][2] = {{0}};
        for (int i = 0; i < 5; i++)
            for (int m = 0; m < 5; m++)
                for (int j = 0; j < 2; j++)
                    nxt[i][j] += a[i][m] * cur[m][j];
        memcpy(cur, nxt, sizeof cur);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 2; j++)
                acc[i][j] += cur[i][j];
    }
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    tl_tensor *out = tl_nn_lightgcn_propagate(g, &adj.csr, tl_nn_tensor_wrap(g, 2, SHAPE(5, 2), e0), 2);
    cr_assert(out);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++)
            cr_assert_float_eq(out->data[i * 2 + j], acc[i][j] / 3, 1e-5);
    cr_assert_null(tl_nn_lightgcn_propagate(g, &adj.csr, tl_nn_tensor_wrap(g, 2, SHAPE(5, 2), e0), -1));
    tl_nn_graph_free(g);
    tl_nn_adj_free(&adj);
}
