/* test_nn_torch.c - the engine against PyTorch as an oracle (issue 8,
 * "Correctness"): an MLP, a bidirectional GRU over padded sequences and a
 * stacked LSTM, each started from identical weights and fed identical
 * batches, must give losses that agree within 1e-4 relative at each of 20
 * Adam steps.
 *
 * Teller initializes the model, writes its weights (PyTorch's state_dict
 * names) and the 20 batches to one safetensors file, then trains; the
 * script nn_torch_oracle.py beside this file builds the same model in torch
 * from that file, trains it the same way and writes its losses. Both run in
 * float32, so the tolerance covers summation order and nothing else. When
 * /usr/bin/python3 cannot import torch (Debian's python3-torch; `make test`
 * installs it), the tests skip with a message saying so. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/ml_stats.h>
#include <teller/nn.h>
#include <teller/nn_io.h>
#include <teller/nn_optim.h>

#include "testutil.h"

#define STEPS 20
#define REL_TOL 1e-4
#define LR 0.01

/* The oracle script: $TELLER_SRC/tests/unit/, else next to this file. */
static void script_path(char *buf, size_t n)
{
    const char *src = getenv("TELLER_SRC");
    if (src && *src) {
        snprintf(buf, n, "%s/tests/unit/nn_torch_oracle.py", src);
        return;
    }
    snprintf(buf, n, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    snprintf(slash ? slash + 1 : buf, n - (size_t)(slash ? slash + 1 - buf : 0),
             "nn_torch_oracle.py");
}

static void skip_without_torch(void)
{
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_nn_torch: SKIPPED: /usr/bin/python3 cannot import torch "
                        "(apt-get install python3-torch; `make test` installs it)\n");
        cr_skip_test("python3-torch is not installed: the PyTorch oracle test is skipped");
    }
}

enum kind { MLP, GRU, LSTM };

struct model {
    enum kind kind;
    tl_nn_params *ps;
    struct tl_nn_mlp mlp;
    struct tl_nn_rnn rnn;
    struct tl_nn_linear head;
    int64_t batch, steps_t, input, hidden, n_out;  /* sizes of batches and layers */
    int n_layers;
    bool bidir;
};

/* One step's batch: x (batch, [T,] input), y labels or targets, lengths. */
struct batch {
    float *x;
    float *y;
    float *len_f;     /* lengths as floats, for the file */
    int32_t *len;
    int64_t x_shape[3], y_shape[2], len_shape[1];
    int x_ndim, y_ndim;
};

static float normal(tl_rng *r)
{
    double u1 = tl_rng_uniform(r), u2 = tl_rng_uniform(r);
    if (u1 < 1e-12)
        u1 = 1e-12;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void model_init(struct model *m, enum kind kind, tl_rng *rng)
{
    tl_err err = {0};
    *m = (struct model){.kind = kind, .ps = tl_nn_params_new()};
    cr_assert_not_null(m->ps);
    int rc;
    switch (kind) {
    case MLP: {
        m->batch = 32, m->input = 8, m->n_out = 3;
        const int64_t sizes[] = {8, 16, 12, 3};
        rc = tl_nn_mlp_init(&m->mlp, m->ps, "mlp", sizes, 4, TL_NN_ACT_RELU, 0.0f, rng, &err);
        break;
    }
    case GRU:
        m->batch = 5, m->steps_t = 7, m->input = 4, m->hidden = 6, m->n_out = 3;
        m->n_layers = 1, m->bidir = true;
        rc = tl_nn_rnn_init(&m->rnn, m->ps, "rnn", TL_NN_RNN_GRU, m->input, m->hidden, 1, true,
                            0.0f, true, rng, &err);
        if (rc == 0)
            rc = tl_nn_linear_init(&m->head, m->ps, "head", 2 * m->hidden, m->n_out, true, rng,
                                   &err);
        break;
    case LSTM:
        m->batch = 5, m->steps_t = 6, m->input = 3, m->hidden = 5, m->n_out = 2;
        m->n_layers = 2, m->bidir = false;
        rc = tl_nn_rnn_init(&m->rnn, m->ps, "rnn", TL_NN_RNN_LSTM, m->input, m->hidden, 2, false,
                            0.0f, true, rng, &err);
        if (rc == 0)
            rc = tl_nn_linear_init(&m->head, m->ps, "head", m->hidden, m->n_out, true, rng, &err);
        break;
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
}

static void batch_make(const struct model *m, tl_rng *rng, struct batch *b)
{
    *b = (struct batch){0};
    int64_t nx = m->batch * (m->kind == MLP ? 1 : m->steps_t) * m->input;
    b->x = malloc((size_t)nx * sizeof *b->x);
    b->y = malloc((size_t)(m->batch * m->n_out) * sizeof *b->y);
    b->len = malloc((size_t)m->batch * sizeof *b->len);
    b->len_f = malloc((size_t)m->batch * sizeof *b->len_f);
    cr_assert(b->x && b->y && b->len && b->len_f);
    /* padded steps get values too: both sides must ignore them */
    for (int64_t i = 0; i < nx; i++)
        b->x[i] = normal(rng);
    if (m->kind == MLP) {
        b->x_ndim = 2, b->x_shape[0] = m->batch, b->x_shape[1] = m->input;
    } else {
        b->x_ndim = 3, b->x_shape[0] = m->batch, b->x_shape[1] = m->steps_t;
        b->x_shape[2] = m->input;
        for (int64_t i = 0; i < m->batch; i++) {
            /* lengths 1..T in no order; PyTorch's packing needs every one >= 1 */
            b->len[i] = 1 + (int32_t)tl_rng_below(rng, (uint64_t)m->steps_t);
            b->len_f[i] = (float)b->len[i];
        }
        b->len_shape[0] = m->batch;
    }
    if (m->kind == LSTM) {
        b->y_ndim = 2, b->y_shape[0] = m->batch, b->y_shape[1] = m->n_out;
        for (int64_t i = 0; i < m->batch * m->n_out; i++)
            b->y[i] = normal(rng);
    } else {
        b->y_ndim = 1, b->y_shape[0] = m->batch;
        for (int64_t i = 0; i < m->batch; i++)
            b->y[i] = (float)tl_rng_below(rng, (uint64_t)m->n_out);
    }
}

static void batch_free(struct batch *b)
{
    free(b->x);
    free(b->y);
    free(b->len);
    free(b->len_f);
}

/* Writes the initial weights, the batches and the sizes for the oracle. */
static void write_case(const struct model *m, const struct batch *bs, const char *path)
{
    size_t np = tl_nn_params_count(m->ps);
    tl_nn_st_tensor ts[64 + 3 * STEPS];
    cr_assert_leq(np, 64);
    char names[3 * STEPS][16];
    size_t n = 0;
    for (size_t i = 0; i < np; i++) {
        const tl_tensor *p = tl_nn_params_at(m->ps, i);
        ts[n++] = (tl_nn_st_tensor){p->name, p->data, p->shape, p->ndim};
    }
    for (int t = 0; t < STEPS; t++) {
        snprintf(names[3 * t], sizeof names[0], "x.%d", t);
        snprintf(names[3 * t + 1], sizeof names[0], "y.%d", t);
        snprintf(names[3 * t + 2], sizeof names[0], "len.%d", t);
        ts[n++] = (tl_nn_st_tensor){names[3 * t], bs[t].x, bs[t].x_shape, bs[t].x_ndim};
        ts[n++] = (tl_nn_st_tensor){names[3 * t + 1], bs[t].y, bs[t].y_shape, bs[t].y_ndim};
        if (m->kind != MLP)
            ts[n++] = (tl_nn_st_tensor){names[3 * t + 2], bs[t].len_f, bs[t].len_shape, 1};
    }
    char steps[16], lr[32], input[16], hidden[16], layers[16], n_out[16];
    snprintf(steps, sizeof steps, "%d", STEPS);
    snprintf(lr, sizeof lr, "%.17g", LR);
    snprintf(input, sizeof input, "%lld", (long long)m->input);
    snprintf(hidden, sizeof hidden, "%lld", (long long)m->hidden);
    snprintf(layers, sizeof layers, "%d", m->n_layers);
    snprintf(n_out, sizeof n_out, "%lld", (long long)m->n_out);
    const char *kinds[] = {"mlp", "gru", "lstm"};
    const char *meta[] = {"model", kinds[m->kind], "steps", steps, "lr", lr,
                          "sizes", "8,16,12,3", "input", input, "hidden", hidden,
                          "layers", layers, "bidirectional", m->bidir ? "1" : "0",
                          "n_out", n_out};
    tl_err err = {0};
    int rc = tl_nn_safetensors_write(path, ts, n, meta, sizeof meta / sizeof meta[0] / 2, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

/* The loss of batch b, as the oracle script computes it. */
static tl_tensor *loss_of(tl_nn_graph *g, const struct model *m, const struct batch *b)
{
    tl_tensor *x = tl_nn_tensor_wrap(g, b->x_ndim, b->x_shape, b->x);
    if (m->kind == MLP) {
        int32_t labels[64];
        for (int64_t i = 0; i < m->batch; i++)
            labels[i] = (int32_t)b->y[i];
        return tl_nn_cross_entropy(g, tl_nn_mlp_forward(g, &m->mlp, x), labels, NULL, 0.0f);
    }
    tl_tensor *h_n = NULL;
    tl_tensor *out = tl_nn_rnn_forward(g, &m->rnn, x, b->len, NULL, NULL, &h_n, NULL);
    if (!out)
        return NULL;
    int64_t ld = (int64_t)m->n_layers * (m->bidir ? 2 : 1), bh[2] = {m->batch, m->hidden};
    tl_tensor *last;
    if (m->bidir) {
        tl_tensor *parts[2] = {tl_nn_reshape(g, tl_nn_slice(g, h_n, 0, ld - 2, ld - 1), 2, bh),
                               tl_nn_reshape(g, tl_nn_slice(g, h_n, 0, ld - 1, ld), 2, bh)};
        last = tl_nn_concat(g, parts, 2, 1);
    } else {
        last = tl_nn_reshape(g, tl_nn_slice(g, h_n, 0, ld - 1, ld), 2, bh);
    }
    tl_tensor *pred = tl_nn_linear_forward(g, &m->head, last);
    tl_tensor *reg = tl_nn_scale(g, tl_nn_mean_all(g, tl_nn_mul(g, out, out)), 0.1f, 0.0f);
    tl_tensor *main_loss;
    if (m->kind == GRU) {
        int32_t labels[64];
        for (int64_t i = 0; i < m->batch; i++)
            labels[i] = (int32_t)b->y[i];
        main_loss = tl_nn_cross_entropy(g, pred, labels, NULL, 0.0f);
    } else {
        main_loss = tl_nn_mse(g, pred, tl_nn_tensor_wrap(g, b->y_ndim, b->y_shape, b->y));
    }
    return tl_nn_add(g, main_loss, reg);
}

static void train(struct model *m, const struct batch *bs, double *losses)
{
    tl_err err = {0};
    size_t np = tl_nn_params_count(m->ps);
    tl_nn_optim_param op[64];
    for (size_t i = 0; i < np; i++) {
        tl_tensor *p = tl_nn_params_at(m->ps, i);
        op[i] = (tl_nn_optim_param){p->data, p->grad, (size_t)tl_nn_numel(p), p->name, false};
    }
    tl_nn_optim_config cfg;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &cfg);
    cfg.lr = LR;
    tl_nn_optim *opt;
    cr_assert_eq(tl_nn_optim_new(&cfg, op, np, &opt, &err), 0, "%s", err.msg);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0, "%s", err.msg);
    for (int t = 0; t < STEPS; t++) {
        tl_nn_graph_reset(g);
        tl_tensor *loss = loss_of(g, m, &bs[t]);
        cr_assert_not_null(loss, "step %d: %s", t, (tl_nn_graph_error(g, &err), err.msg));
        losses[t] = loss->data[0];
        tl_nn_params_zero_grad(m->ps);
        cr_assert_eq(tl_nn_backward(g, loss, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_nn_optim_step(opt, &err), 0, "%s", err.msg);
    }
    tl_nn_graph_free(g);
    tl_nn_optim_free(opt);
}

static void against_torch(enum kind kind, uint64_t seed)
{
    skip_without_torch();
    tl_nn_set_blas_threads(1);
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    struct model m;
    model_init(&m, kind, &rng);
    struct batch bs[STEPS];
    for (int t = 0; t < STEPS; t++)
        batch_make(&m, &rng, &bs[t]);

    char *dir = tu_tmpdir();
    char in[512], out[512], script[512], cmd[2048];
    snprintf(in, sizeof in, "%s/case.safetensors", dir);
    snprintf(out, sizeof out, "%s/torch_losses.txt", dir);
    script_path(script, sizeof script);
    write_case(&m, bs, in);

    double ours[STEPS];
    train(&m, bs, ours);

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s'", script, in, out);
    cr_assert_eq(system(cmd), 0, "the oracle failed: %s", cmd);
    FILE *fp = fopen(out, "r");
    cr_assert_not_null(fp, "no losses from the oracle at %s", out);
    const char *names[] = {"MLP", "BiGRU", "LSTM"};
    double worst = 0;
    for (int t = 0; t < STEPS; t++) {
        double theirs;
        cr_assert_eq(fscanf(fp, "%lf", &theirs), 1, "%s: the oracle wrote fewer than %d losses",
                     names[kind], STEPS);
        double rel = fabs(ours[t] - theirs) / fmax(fabs(theirs), 1e-12);
        worst = fmax(worst, rel);
        cr_expect_leq(rel, REL_TOL, "%s step %d: Teller %.9g, PyTorch %.9g (rel %.3g)",
                      names[kind], t, ours[t], theirs, rel);
    }
    fclose(fp);
    fprintf(stderr, "test_nn_torch: %s: losses %.6f -> %.6f over %d Adam steps, "
                    "worst relative difference from PyTorch %.2e\n",
            names[kind], ours[0], ours[STEPS - 1], STEPS, worst);

    unlink(in);
    unlink(out);
    rmdir(dir);
    free(dir);
    for (int t = 0; t < STEPS; t++)
        batch_free(&bs[t]);
    tl_nn_params_free(m.ps);
}

Test(nn_torch, mlp_adam_20_steps)
{
    against_torch(MLP, 11);
}

Test(nn_torch, bigru_padded_adam_20_steps)
{
    against_torch(GRU, 12);
}

Test(nn_torch, lstm_2_layers_padded_adam_20_steps)
{
    against_torch(LSTM, 13);
}
