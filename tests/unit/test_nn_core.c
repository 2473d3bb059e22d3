/* test_nn_core.c - the tensor and autograd core: a finite-difference
 * gradient check for every op and layer, broadcasting and view semantics,
 * errors, determinism, and a small MLP that learns XOR.
 *
 * The gradient check: for a random projection R fixed per check, the
 * objective L = sum(R * op(inputs)) is evaluated by central differences
 * (x +- h, difference and sums taken in double over F32 forward passes)
 * and compared with the tape's gradient of the same L, built as
 * sum_all(mul(op(...), R)) and run backward. An element passes when
 * |analytic - numeric| <= atol + rtol |numeric|. With F32 forwards, h = 1e-2
 * keeps the rounding noise (~1e-6 |L| / h) and the truncation error
 * (~h^2 f''') both near 1e-4 (the largest seen: 1.5e-4, log), so the
 * default tolerance is atol 1e-3, rtol 5e-3; ops that need other values say
 * so at their check. A 5% error in one term of tanh's derivative already
 * fails (tried). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/nn.h>

#include "nn_gradcheck.h"


#define H 1e-2
#define ATOL 1e-3
#define RTOL 5e-3
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* ---- elementwise with broadcasting -------------------------------------------- */

static tl_tensor *b_add(struct gc *c) { return tl_nn_add(c->g, IN(c, 0), IN(c, 1)); }
static tl_tensor *b_sub(struct gc *c) { return tl_nn_sub(c->g, IN(c, 0), IN(c, 1)); }
static tl_tensor *b_mul(struct gc *c) { return tl_nn_mul(c->g, IN(c, 0), IN(c, 1)); }
static tl_tensor *b_div(struct gc *c) { return tl_nn_div(c->g, IN(c, 0), IN(c, 1)); }

Test(nn_grad, binary_ops_with_broadcasting)
{
    gc_build fs[] = {b_add, b_sub, b_mul, b_div};
    const char *names[] = {"add", "sub", "mul", "div"};
    for (int k = 0; k < 4; k++) {
        /* (2, 3, 4) with (3, 1): both sides broadcast */
        struct gc c;
        gc_init(&c, 10 + k);
        gc_input(&c, 3, SHAPE(2, 3, 4), -1, 1, 0);
        gc_input(&c, 2, SHAPE(3, 1), 0.5f, 2, 0); /* away from 0 for div */
        gradcheck(&c, names[k], fs[k], H, ATOL, RTOL);
        gc_free(&c);
        /* (4) with (2, 1, 4): the left side broadcasts twice */
        gc_init(&c, 20 + k);
        gc_input(&c, 1, SHAPE(4), -1, 1, 0);
        gc_input(&c, 3, SHAPE(2, 1, 4), 0.5f, 2, 0);
        gradcheck(&c, names[k], fs[k], H, ATOL, RTOL);
        gc_free(&c);
    }
}

static tl_tensor *b_self_mul(struct gc *c)
{
    tl_tensor *x = IN(c, 0);
    return tl_nn_mul(c->g, x, x); /* both operands accumulate into one grad */
}

Test(nn_grad, same_tensor_on_both_sides)
{
    struct gc c;
    gc_init(&c, 3);
    gc_input(&c, 2, SHAPE(3, 2), -1, 1, 0);
    gradcheck(&c, "mul(x, x)", b_self_mul, H, ATOL, RTOL);
    gc_free(&c);
}

static tl_tensor *b_scale(struct gc *c) { return tl_nn_scale(c->g, IN(c, 0), -1.5f, 0.25f); }
static tl_tensor *b_relu(struct gc *c) { return tl_nn_relu(c->g, IN(c, 0)); }
static tl_tensor *b_gelu(struct gc *c) { return tl_nn_gelu(c->g, IN(c, 0)); }
static tl_tensor *b_tanh(struct gc *c) { return tl_nn_tanh(c->g, IN(c, 0)); }
static tl_tensor *b_sigmoid(struct gc *c) { return tl_nn_sigmoid(c->g, IN(c, 0)); }
static tl_tensor *b_exp(struct gc *c) { return tl_nn_exp(c->g, IN(c, 0)); }
static tl_tensor *b_log(struct gc *c) { return tl_nn_log(c->g, IN(c, 0)); }
static tl_tensor *b_dropout(struct gc *c) { return tl_nn_dropout(c->g, IN(c, 0), 0.4f); }

Test(nn_grad, unary_ops)
{
    struct {
        const char *name;
        gc_build f;
        float lo, hi, gap;
    } cases[] = {
        {"scale", b_scale, -2, 2, 0},
        {"relu", b_relu, -2, 2, 0.05f}, /* kink at 0 kept 5 h away */
        {"gelu", b_gelu, -3, 3, 0},
        {"tanh", b_tanh, -2, 2, 0},
        {"sigmoid", b_sigmoid, -4, 4, 0},
        {"exp", b_exp, -1, 1.5f, 0},
        {"log", b_log, 0.5f, 3, 0},
        {"dropout", b_dropout, -2, 2, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct gc c;
        gc_init(&c, 100 + k);
        gc_input(&c, 3, SHAPE(2, 3, 5), cases[k].lo, cases[k].hi, cases[k].gap);
        gradcheck(&c, cases[k].name, cases[k].f, H, ATOL, RTOL);
        gc_free(&c);
    }
}

/* ---- reductions and concat --------------------------------------------------------- */

static tl_tensor *b_sum0(struct gc *c) { return tl_nn_sum(c->g, IN(c, 0), 0, false); }
static tl_tensor *b_sum1k(struct gc *c) { return tl_nn_sum(c->g, IN(c, 0), 1, true); }
static tl_tensor *b_mean_last(struct gc *c) { return tl_nn_mean(c->g, IN(c, 0), -1, false); }
static tl_tensor *b_sum_all(struct gc *c) { return tl_nn_sum_all(c->g, IN(c, 0)); }
static tl_tensor *b_mean_all(struct gc *c) { return tl_nn_mean_all(c->g, IN(c, 0)); }

Test(nn_grad, reductions)
{
    gc_build fs[] = {b_sum0, b_sum1k, b_mean_last, b_sum_all, b_mean_all};
    const char *names[] = {"sum axis 0", "sum axis 1 keepdim", "mean axis -1", "sum_all",
                           "mean_all"};
    for (int k = 0; k < 5; k++) {
        struct gc c;
        gc_init(&c, 200 + k);
        gc_input(&c, 3, SHAPE(3, 4, 2), -1, 1, 0);
        gradcheck(&c, names[k], fs[k], H, ATOL, RTOL);
        gc_free(&c);
    }
}

static tl_tensor *b_concat0(struct gc *c)
{
    tl_tensor *xs[3] = {IN(c, 0), IN(c, 1), IN(c, 2)};
    return tl_nn_concat(c->g, xs, 3, 0);
}
static tl_tensor *b_concat1(struct gc *c)
{
    tl_tensor *xs[3] = {IN(c, 0), IN(c, 1), IN(c, 2)};
    return tl_nn_concat(c->g, xs, 3, -1);
}

Test(nn_grad, concat)
{
    struct gc c;
    gc_init(&c, 300);
    gc_input(&c, 2, SHAPE(1, 3), -1, 1, 0);
    gc_input(&c, 2, SHAPE(2, 3), -1, 1, 0);
    gc_input(&c, 2, SHAPE(3, 3), -1, 1, 0);
    c.check[1] = false; /* an input without grad in the middle */
    gradcheck(&c, "concat axis 0", b_concat0, H, ATOL, RTOL);
    gc_free(&c);
    gc_init(&c, 301);
    gc_input(&c, 2, SHAPE(2, 1), -1, 1, 0);
    gc_input(&c, 2, SHAPE(2, 3), -1, 1, 0);
    gc_input(&c, 2, SHAPE(2, 2), -1, 1, 0);
    gradcheck(&c, "concat axis -1", b_concat1, H, ATOL, RTOL);
    gc_free(&c);
}

/* ---- views ------------------------------------------------------------------------------ */

static tl_tensor *b_views(struct gc *c)
{
    tl_nn_graph *g = c->g;
    tl_tensor *x = IN(c, 0);                                   /* (3, 4, 2) */
    tl_tensor *s = tl_nn_slice(g, x, 1, 1, 3);                 /* (3, 2, 2) */
    tl_tensor *t = tl_nn_transpose(g, s, 0, 2);                /* (2, 2, 3), strided */
    tl_tensor *u = tl_nn_unsqueeze(g, tl_nn_slice(g, x, 0, 0, 1), 0); /* (1, 1, 4, 2) */
    tl_tensor *r = tl_nn_reshape(g, x, 2, SHAPE(6, -1));       /* (6, 4) view */
    tl_tensor *rt = tl_nn_reshape(g, t, 1, SHAPE(12));         /* copy of a strided view */
    tl_tensor *a = tl_nn_mul(g, t, t);
    tl_tensor *b = tl_nn_sum_all(g, tl_nn_mul(g, u, u));
    tl_tensor *parts[3] = {tl_nn_reshape(g, a, 1, SHAPE(-1)), tl_nn_reshape(g, r, 1, SHAPE(24)),
                           tl_nn_add(g, rt, b)};
    return tl_nn_concat(g, parts, 3, 0);
}

Test(nn_grad, views_share_gradients)
{
    struct gc c;
    gc_init(&c, 400);
    gc_input(&c, 3, SHAPE(3, 4, 2), -1, 1, 0);
    gradcheck(&c, "slice/transpose/reshape", b_views, H, ATOL, RTOL);
    gc_free(&c);
}

static tl_tensor *b_contig(struct gc *c)
{
    return tl_nn_contiguous(c->g, tl_nn_transpose(c->g, IN(c, 0), 0, 1));
}

Test(nn_grad, contiguous)
{
    struct gc c;
    gc_init(&c, 401);
    gc_input(&c, 2, SHAPE(3, 4), -1, 1, 0);
    gradcheck(&c, "contiguous", b_contig, H, ATOL, RTOL);
    gc_free(&c);
}

/* ---- matmul ---------------------------------------------------------------------------- */

static tl_tensor *b_mm(struct gc *c) { return tl_nn_matmul(c->g, IN(c, 0), IN(c, 1)); }
/* A^T B^T through transposed views: sgemm's Trans flags, no copies */
static tl_tensor *b_mm_tt(struct gc *c)
{
    return tl_nn_matmul(c->g, tl_nn_transpose(c->g, IN(c, 0), 0, 1),
                        tl_nn_transpose(c->g, IN(c, 1), 0, 1));
}
/* a column slice: rows with a leading dimension larger than their width */
static tl_tensor *b_mm_slice(struct gc *c)
{
    return tl_nn_matmul(c->g, tl_nn_slice(c->g, IN(c, 0), 1, 1, 4), IN(c, 1));
}
/* (B, m, k) strided x (k, n) and (k, n)... x (B, k, n) */
static tl_tensor *b_bmm_bcast(struct gc *c)
{
    tl_tensor *a = tl_nn_transpose(c->g, IN(c, 0), 1, 2);
    return tl_nn_matmul(c->g, a, IN(c, 1));
}
static tl_tensor *b_bmm_bcast_left(struct gc *c) { return tl_nn_matmul(c->g, IN(c, 0), IN(c, 1)); }
/* result written through a transposed grad: d(A)(A^T x) with A a 3-d transpose(0,2) */
static tl_tensor *b_bmm_odd(struct gc *c)
{
    tl_tensor *a = tl_nn_transpose(c->g, IN(c, 0), 0, 2); /* (2, 3, 4) from (4, 3, 2) */
    return tl_nn_matmul(c->g, a, IN(c, 1));
}

Test(nn_grad, matmul)
{
    struct gc c;
    gc_init(&c, 500);
    gc_input(&c, 2, SHAPE(3, 4), -1, 1, 0);
    gc_input(&c, 2, SHAPE(4, 5), -1, 1, 0);
    gradcheck(&c, "matmul 2-d", b_mm, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 501);
    gc_input(&c, 2, SHAPE(4, 3), -1, 1, 0);
    gc_input(&c, 2, SHAPE(5, 4), -1, 1, 0);
    gradcheck(&c, "matmul transposed views", b_mm_tt, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 502);
    gc_input(&c, 2, SHAPE(3, 5), -1, 1, 0);
    gc_input(&c, 2, SHAPE(3, 2), -1, 1, 0);
    gradcheck(&c, "matmul sliced operand", b_mm_slice, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 503);
    gc_input(&c, 3, SHAPE(2, 3, 4), -1, 1, 0);
    gc_input(&c, 3, SHAPE(2, 4, 5), -1, 1, 0);
    gradcheck(&c, "batched matmul", b_bmm_bcast_left, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 504);
    gc_input(&c, 3, SHAPE(2, 4, 3), -1, 1, 0); /* transposed to (2, 3, 4) */
    gc_input(&c, 2, SHAPE(4, 5), -1, 1, 0);
    gradcheck(&c, "batched x shared 2-d", b_bmm_bcast, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 505);
    gc_input(&c, 2, SHAPE(3, 4), -1, 1, 0);
    gc_input(&c, 3, SHAPE(2, 4, 5), -1, 1, 0);
    gradcheck(&c, "shared 2-d x batched", b_bmm_bcast_left, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 506);
    gc_input(&c, 3, SHAPE(4, 3, 2), -1, 1, 0);
    gc_input(&c, 3, SHAPE(2, 4, 5), -1, 1, 0);
    gradcheck(&c, "batched, odd strides", b_bmm_odd, H, ATOL, RTOL);
    gc_free(&c);
}

/* ---- sparse and embedding ---------------------------------------------------------------- */

static tl_tensor *b_spmm(struct gc *c) { return tl_nn_spmm(c->g, c->ctx, IN(c, 0)); }

Test(nn_grad, spmm)
{
    /* 3 x 4 with an empty row and a repeated column */
    static const int64_t row_ptr[] = {0, 2, 2, 5};
    static const int32_t col[] = {0, 3, 1, 3, 2};
    static const float val[] = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f};
    struct tl_nn_csr a = {3, 4, row_ptr, col, val};
    struct gc c;
    gc_init(&c, 600);
    c.ctx = &a;
    gc_input(&c, 2, SHAPE(4, 3), -1, 1, 0);
    gradcheck(&c, "spmm", b_spmm, H, ATOL, RTOL);
    gc_free(&c);
    a.val = NULL; /* all ones: LightGCN-style before normalization */
    gc_init(&c, 601);
    c.ctx = &a;
    gc_input(&c, 2, SHAPE(4, 3), -1, 1, 0);
    gradcheck(&c, "spmm unit values", b_spmm, H, ATOL, RTOL);
    gc_free(&c);
}

static tl_tensor *b_embed(struct gc *c)
{
    static const int32_t idx[] = {2, 0, 2, 4, 2};
    return tl_nn_embedding(c->g, IN(c, 0), idx, 5);
}

Test(nn_grad, embedding_with_repeated_rows)
{
    struct gc c;
    gc_init(&c, 700);
    gc_input(&c, 2, SHAPE(5, 3), -1, 1, 0);
    gradcheck(&c, "embedding", b_embed, H, ATOL, RTOL);
    gc_free(&c);
}

/* ---- softmax, layer norm ------------------------------------------------------------------ */

static tl_tensor *b_softmax(struct gc *c) { return tl_nn_softmax(c->g, IN(c, 0)); }
static tl_tensor *b_log_softmax_t(struct gc *c)
{
    return tl_nn_log_softmax(c->g, tl_nn_transpose(c->g, IN(c, 0), 0, 1));
}
static tl_tensor *b_ln(struct gc *c)
{
    return tl_nn_layer_norm(c->g, IN(c, 0), IN(c, 1), IN(c, 2), 1e-5f);
}
static tl_tensor *b_ln_plain(struct gc *c) { return tl_nn_layer_norm(c->g, IN(c, 0), NULL, NULL, 1e-5f); }

Test(nn_grad, softmax_and_layer_norm)
{
    struct gc c;
    gc_init(&c, 800);
    gc_input(&c, 3, SHAPE(2, 3, 4), -2, 2, 0);
    gradcheck(&c, "softmax", b_softmax, H, ATOL, RTOL);
    gc_free(&c);
    gc_init(&c, 801);
    gc_input(&c, 2, SHAPE(5, 3), -2, 2, 0);
    gradcheck(&c, "log_softmax (strided)", b_log_softmax_t, H, ATOL, RTOL);
    gc_free(&c);
    /* layer norm divides by a standard deviation near 0.6, so a smaller step
     * (h 5e-3) keeps its curvature term down; rtol 1e-2 */
    gc_init(&c, 802);
    gc_input(&c, 2, SHAPE(4, 6), -1, 1, 0);
    gc_input(&c, 1, SHAPE(6), 0.5f, 1.5f, 0);
    gc_input(&c, 1, SHAPE(6), -1, 1, 0);
    gradcheck(&c, "layer_norm", b_ln, 5e-3, ATOL, 1e-2);
    gc_free(&c);
    gc_init(&c, 803);
    gc_input(&c, 2, SHAPE(3, 5), -1, 1, 0);
    gradcheck(&c, "layer_norm no affine", b_ln_plain, 5e-3, ATOL, 1e-2);
    gc_free(&c);
}

/* ---- losses ---------------------------------------------------------------------------------- */

static tl_tensor *b_bce(struct gc *c) { return tl_nn_bce_logits(c->g, IN(c, 0), IN(c, 1), 1.0f); }
static tl_tensor *b_bce_pw(struct gc *c) { return tl_nn_bce_logits(c->g, IN(c, 0), IN(c, 1), 2.5f); }
static tl_tensor *b_mse(struct gc *c) { return tl_nn_mse(c->g, IN(c, 0), IN(c, 1)); }
static tl_tensor *b_bpr(struct gc *c) { return tl_nn_bpr(c->g, IN(c, 0), IN(c, 1)); }

struct ce_ctx {
    const int32_t *labels;
    const float *w;
    float eps;
};
static tl_tensor *b_ce(struct gc *c)
{
    const struct ce_ctx *x = c->ctx;
    return tl_nn_cross_entropy(c->g, IN(c, 0), x->labels, x->w, x->eps);
}

Test(nn_grad, losses)
{
    struct gc c;
    gc_init(&c, 900);
    gc_input(&c, 2, SHAPE(4, 3), -3, 3, 0);
    gc_input(&c, 2, SHAPE(4, 3), 0, 1, 0);
    c.check[1] = false; /* bce's target gets no gradient */
    gradcheck(&c, "bce_logits", b_bce, H, ATOL, RTOL);
    gradcheck(&c, "bce_logits pos_weight 2.5", b_bce_pw, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 901);
    gc_input(&c, 2, SHAPE(3, 4), -1, 1, 0);
    gc_input(&c, 2, SHAPE(3, 4), -1, 1, 0);
    gradcheck(&c, "mse", b_mse, H, ATOL, RTOL);
    gradcheck(&c, "bpr", b_bpr, H, ATOL, RTOL);
    gc_free(&c);

    static const int32_t labels[] = {0, 3, 1, 3, 2};
    static const float w[] = {0.5f, 2.0f, 1.0f, 3.0f};
    struct ce_ctx cases[] = {{labels, NULL, 0}, {labels, w, 0}, {labels, NULL, 0.1f}, {labels, w, 0.2f}};
    const char *names[] = {"cross_entropy", "cross_entropy weighted", "cross_entropy smoothed",
                           "cross_entropy weighted+smoothed"};
    for (int k = 0; k < 4; k++) {
        gc_init(&c, 902 + k);
        c.ctx = &cases[k];
        gc_input(&c, 2, SHAPE(5, 4), -2, 2, 0);
        gradcheck(&c, names[k], b_ce, H, ATOL, RTOL);
        gc_free(&c);
    }
}

/* ---- layers (gradients of their parameters) ----------------------------------------------- */

struct layer_ctx {
    struct tl_nn_linear lin;
    struct tl_nn_embedding_layer emb;
    struct tl_nn_mlp mlp;
};

static tl_tensor *b_linear(struct gc *c)
{
    const struct layer_ctx *l = c->ctx;
    return tl_nn_linear_forward(c->g, &l->lin, IN(c, 0));
}

static tl_tensor *b_emb_mlp(struct gc *c)
{
    static const int32_t idx[] = {1, 3, 1, 0};
    const struct layer_ctx *l = c->ctx;
    tl_tensor *e = tl_nn_embedding_forward(c->g, &l->emb, idx, 4); /* (4, 3) */
    return tl_nn_mlp_forward(c->g, &l->mlp, e);
}

Test(nn_grad, layers)
{
    tl_err err = {0};
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    tl_nn_params *ps = tl_nn_params_new();
    struct layer_ctx l;
    cr_assert_eq(tl_nn_linear_init(&l.lin, ps, "lin", 3, 2, true, &rng, &err), 0, "%s", err.msg);
    tl_nn_init_uniform(l.lin.bias, -1, 1, &rng);
    cr_assert_eq(tl_nn_embedding_init(&l.emb, ps, "emb", 4, 3, &rng, &err), 0, "%s", err.msg);
    const int64_t sizes[] = {3, 5, 2};
    cr_assert_eq(tl_nn_mlp_init(&l.mlp, ps, "mlp", sizes, 3, TL_NN_ACT_GELU, 0.2f, &rng, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(tl_nn_params_count(ps), 7);
    cr_assert(tl_nn_params_find(ps, "mlp.1.bias"));
    cr_assert_eq(tl_nn_params_numel(ps), 3 * 2 + 2 + 4 * 3 + 3 * 5 + 5 + 5 * 2 + 2);

    struct gc c;
    gc_init(&c, 1000);
    c.ctx = &l;
    gc_input(&c, 3, SHAPE(2, 2, 3), -1, 1, 0); /* 3-d input through the reshape path */
    gc_param(&c, l.lin.weight);
    gc_param(&c, l.lin.bias);
    gradcheck(&c, "linear", b_linear, H, ATOL, RTOL);
    gc_free(&c);

    gc_init(&c, 1001);
    c.ctx = &l;
    for (size_t i = 2; i < tl_nn_params_count(ps); i++)
        gc_param(&c, tl_nn_params_at(ps, i));
    gradcheck(&c, "embedding + mlp (gelu, dropout)", b_emb_mlp, H, ATOL, RTOL);
    gc_free(&c);
    tl_nn_params_free(ps);
}

/* ---- semantics ---------------------------------------------------------------------------- */

Test(nn_core, broadcasting_values)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    const float a[] = {1, 2, 3, 4, 5, 6};
    const float b[] = {10, 20, 30};
    const float col[] = {100, 200};
    tl_tensor *ta = tl_nn_tensor_wrap(g, 2, SHAPE(2, 3), a);
    tl_tensor *tb = tl_nn_tensor_wrap(g, 1, SHAPE(3), b);
    tl_tensor *tc = tl_nn_tensor_wrap(g, 2, SHAPE(2, 1), col);
    tl_tensor *s = tl_nn_add(g, tl_nn_add(g, ta, tb), tc);
    cr_assert_eq(s->ndim, 2);
    cr_assert_eq(s->shape[0], 2);
    cr_assert_eq(s->shape[1], 3);
    const float want[] = {111, 122, 133, 214, 225, 236};
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(s->data[i], want[i], 1e-6);
    /* (3) against (2, 1) makes (2, 3) */
    tl_tensor *o = tl_nn_mul(g, tb, tc);
    cr_assert_eq(o->shape[0], 2);
    cr_assert_float_eq(o->data[5], 30 * 200, 1e-3);
    /* a scalar broadcasts everywhere */
    tl_tensor *d = tl_nn_div(g, ta, tl_nn_scalar(g, 2));
    cr_assert_float_eq(d->data[5], 3, 1e-6);
    /* mismatched shapes: NULL, a sticky error naming both shapes */
    tl_tensor *bad = tl_nn_add(g, ta, tl_nn_tensor_wrap(g, 1, SHAPE(2), b));
    cr_assert_null(bad);
    cr_assert_null(tl_nn_relu(g, bad)); /* NULL flows through */
    cr_assert_eq(tl_nn_graph_error(g, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "(2, 3)") && strstr(err.msg, "(2)"), "%s", err.msg);
    cr_assert_neq(tl_nn_backward(g, bad, &err), 0);
    tl_nn_graph_reset(g);
    cr_assert_eq(tl_nn_graph_error(g, &err), 0);
    tl_nn_graph_free(g);
}

Test(nn_core, views_do_not_copy)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i;
    tl_tensor *x = tl_nn_tensor_from(g, 3, SHAPE(2, 3, 4), v);
    tl_tensor *s = tl_nn_slice(g, x, 2, 1, 3); /* (2, 3, 2) */
    cr_assert_eq(s->data, x->data + 1);
    cr_assert(!tl_nn_is_contiguous(s));
    cr_assert_float_eq(tl_nn_tensor_get(s, 3), 6, 0); /* s[0][1][1] = x[0][1][2] */
    tl_tensor *t = tl_nn_transpose(g, x, 0, 2);                /* (4, 3, 2) */
    cr_assert_eq(t->data, x->data);
    cr_assert_eq(t->stride[0], 1);
    cr_assert_eq(t->stride[2], 12);
    cr_assert_float_eq(tl_nn_tensor_get(t, 1), 12, 1e-6); /* t[0][0][1] = x[1][0][0] */
    tl_tensor *r = tl_nn_reshape(g, x, 2, SHAPE(-1, 6));
    cr_assert_eq(r->data, x->data); /* a view of a contiguous tensor */
    cr_assert_eq(r->shape[0], 4);
    tl_tensor *rt = tl_nn_reshape(g, t, 1, SHAPE(24)); /* strided: copied */
    cr_assert_neq(rt->data, x->data);
    float got[24];
    tl_nn_tensor_read(t, got);
    for (int i = 0; i < 24; i++)
        cr_assert_float_eq(rt->data[i], got[i], 0);
    /* writes through the base show in the view */
    x->data[13] = -7;
    cr_assert_float_eq(tl_nn_tensor_get(t, 7), -7, 0); /* t[1][0][1] = x[1][0][1] */
    /* bad slices and axes are errors */
    cr_assert_null(tl_nn_slice(g, x, 1, 2, 5));
    cr_assert_eq(tl_nn_graph_error(g, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "slice"), "%s", err.msg);
    tl_nn_graph_reset(g);
    cr_assert_null(tl_nn_reshape(g, tl_nn_tensor_new(g, 1, SHAPE(5)), 2, SHAPE(2, 2)));
    tl_nn_graph_free(g);
}

Test(nn_core, view_gradient_lands_in_base)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    tl_tensor *x = tl_nn_tensor_new(g, 2, SHAPE(3, 4));
    x->requires_grad = true;
    /* loss = 2 * sum(x[:, 1:3]) + sum(x^T[3]) */
    tl_tensor *a = tl_nn_scale(g, tl_nn_sum_all(g, tl_nn_slice(g, x, 1, 1, 3)), 2, 0);
    tl_tensor *b = tl_nn_sum_all(g, tl_nn_slice(g, tl_nn_transpose(g, x, 0, 1), 0, 3, 4));
    cr_assert_eq(tl_nn_backward(g, tl_nn_add(g, a, b), &err), 0, "%s", err.msg);
    const float want[4] = {0, 2, 2, 1};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            cr_assert_float_eq(x->grad[i * 4 + j], want[j], 0);
    /* a second backward on the same graph is refused */
    cr_assert_eq(tl_nn_backward(g, tl_nn_add(g, a, b), &err), TL_EINVAL);
    tl_nn_graph_free(g);
}

Test(nn_core, backward_checks_its_input)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    tl_tensor *x = tl_nn_tensor_new(g, 1, SHAPE(3));
    x->requires_grad = true;
    cr_assert_eq(tl_nn_backward(g, tl_nn_relu(g, x), &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "one element"), "%s", err.msg);
    tl_tensor *c = tl_nn_sum_all(g, tl_nn_tensor_new(g, 1, SHAPE(3)));
    cr_assert_eq(tl_nn_backward(g, c, &err), TL_EINVAL); /* nothing requires grad */
    /* gradients off: nothing is recorded */
    tl_nn_graph_reset(g);
    tl_nn_graph_set_grad(g, false);
    x = tl_nn_tensor_new(g, 1, SHAPE(3));
    x->requires_grad = true;
    tl_tensor *y = tl_nn_sum_all(g, tl_nn_relu(g, x));
    cr_assert(!y->requires_grad);
    cr_assert_null(y->node);
    tl_nn_graph_free(g);
}

Test(nn_core, arena_cap_is_an_error)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(64 * 1024, 1, &g, &err), 0);
    tl_tensor *x = tl_nn_tensor_new(g, 2, SHAPE(1000, 1000));
    cr_assert_null(x);
    cr_assert_eq(tl_nn_graph_error(g, &err), TL_ENOMEM);
    cr_assert(strstr(err.msg, "arena"), "%s", err.msg);
    tl_nn_graph_free(g);
}

Test(nn_core, loss_values)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
    /* bce: -(t log s(x) + (1-t) log(1-s(x))) by hand, and a huge logit */
    const float x[] = {0.3f, -2.0f, 80.0f};
    const float t[] = {1, 0, 0};
    tl_tensor *l = tl_nn_bce_logits(g, tl_nn_tensor_wrap(g, 1, SHAPE(3), x),
                                    tl_nn_tensor_wrap(g, 1, SHAPE(3), t), 1.0f);
    double want = (log1p(exp(-0.3)) + log1p(exp(-2.0)) + 80.0) / 3;
    cr_assert_float_eq(l->data[0], want, 1e-5);
    /* cross-entropy with smoothing against the formula; logits far apart
     * stay finite thanks to the max shift */
    const float z[] = {1000, 0, -1000, 2, 1, 0};
    const int32_t y[] = {0, 2};
    tl_tensor *ce = tl_nn_cross_entropy(g, tl_nn_tensor_wrap(g, 2, SHAPE(2, 3), z), y, NULL, 0.3f);
    double lse2 = log(exp(2.0) + exp(1.0) + 1.0);
    double row0 = 0.7 * 0 + 0.1 * (0 + 1000 + 2000);
    double row1 = 0.7 * lse2 + 0.1 * ((lse2 - 2) + (lse2 - 1) + lse2);
    cr_assert_float_eq(ce->data[0], (row0 + row1) / 2, 1e-2);
    cr_assert(isfinite(ce->data[0]));
    tl_tensor *ls = tl_nn_log_softmax(g, tl_nn_tensor_wrap(g, 2, SHAPE(2, 3), z));
    cr_assert_float_eq(ls->data[0], 0, 1e-6);
    cr_assert_float_eq(ls->data[2], -2000, 1e-2);
    /* bad labels are named */
    const int32_t bad[] = {0, 3};
    cr_assert_null(tl_nn_cross_entropy(g, tl_nn_tensor_wrap(g, 2, SHAPE(2, 3), z), bad, NULL, 0));
    cr_assert_eq(tl_nn_graph_error(g, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "label 1 is 3"), "%s", err.msg);
    tl_nn_graph_reset(g);
    /* mse and bpr */
    const float p[] = {1, 2}, q[] = {0, 4};
    tl_tensor *m = tl_nn_mse(g, tl_nn_tensor_wrap(g, 1, SHAPE(2), p), tl_nn_tensor_wrap(g, 1, SHAPE(2), q));
    cr_assert_float_eq(m->data[0], 2.5, 1e-6);
    tl_tensor *bpr = tl_nn_bpr(g, tl_nn_tensor_wrap(g, 1, SHAPE(2), p), tl_nn_tensor_wrap(g, 1, SHAPE(2), q));
    cr_assert_float_eq(bpr->data[0], (log1p(exp(-1.0)) + log1p(exp(2.0))) / 2, 1e-6);
    tl_nn_graph_free(g);
}

Test(nn_core, params_and_init)
{
    tl_err err = {0};
    tl_nn_params *ps = tl_nn_params_new();
    tl_tensor *w, *w2;
    cr_assert_eq(tl_nn_params_add(ps, "w", 2, SHAPE(200, 300), &w, &err), 0);
    cr_assert_eq(tl_nn_params_add(ps, "w", 1, SHAPE(3), &w2, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"w\""), "%s", err.msg);
    cr_assert_eq(tl_nn_params_add(ps, "z", 1, SHAPE(0), &w2, &err), TL_EINVAL);
    tl_rng r;
    tl_rng_seed(&r, 3);
    tl_nn_init_xavier_uniform(w, 200, 300, 1.0f, &r);
    double bound = sqrt(6.0 / 500), s2 = 0;
    for (int i = 0; i < 60000; i++) {
        cr_assert(fabsf(w->data[i]) <= bound);
        s2 += (double)w->data[i] * w->data[i];
    }
    cr_assert_float_eq(s2 / 60000, bound * bound / 3, bound * bound / 30); /* var of U(-a,a) */
    tl_nn_init_kaiming_normal(w, 200, &r);
    double m = 0;
    s2 = 0;
    for (int i = 0; i < 60000; i++) {
        m += w->data[i];
        s2 += (double)w->data[i] * w->data[i];
    }
    cr_assert_float_eq(m / 60000, 0, 0.002);
    cr_assert_float_eq(s2 / 60000, 2.0 / 200, 0.0005);
    /* the same seed, the same weights */
    float first = w->data[123];
    tl_rng_seed(&r, 3);
    tl_nn_init_xavier_uniform(w, 200, 300, 1.0f, &r);
    tl_nn_init_kaiming_normal(w, 200, &r);
    cr_assert_eq(w->data[123], first);
    w->grad[5] = 3;
    tl_nn_params_zero_grad(ps);
    cr_assert_eq(w->grad[5], 0);
    tl_nn_params_free(ps);
}

Test(nn_core, dropout_is_seeded)
{
    tl_err err = {0};
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, 9, &g, &err), 0);
    float ones[1000];
    for (int i = 0; i < 1000; i++)
        ones[i] = 1;
    tl_tensor *a = tl_nn_dropout(g, tl_nn_tensor_wrap(g, 1, SHAPE(1000), ones), 0.25f);
    int zeros = 0;
    for (int i = 0; i < 1000; i++) {
        cr_assert(a->data[i] == 0 || fabsf(a->data[i] - 1 / 0.75f) < 1e-6);
        zeros += a->data[i] == 0;
    }
    cr_assert(zeros > 200 && zeros < 300, "%d dropped", zeros);
    float first[1000];
    memcpy(first, a->data, sizeof first);
    tl_nn_graph_seed(g, 9);
    tl_tensor *b = tl_nn_dropout(g, tl_nn_tensor_wrap(g, 1, SHAPE(1000), ones), 0.25f);
    cr_assert_eq(memcmp(first, b->data, sizeof first), 0);
    tl_tensor *c = tl_nn_dropout(g, tl_nn_tensor_wrap(g, 1, SHAPE(1000), ones), 0.25f);
    cr_assert_neq(memcmp(first, c->data, sizeof first), 0); /* the stream moves on */
    tl_nn_graph_set_training(g, false);
    tl_tensor *x = tl_nn_tensor_wrap(g, 1, SHAPE(1000), ones);
    cr_assert_eq(tl_nn_dropout(g, x, 0.25f), x);
    cr_assert_null(tl_nn_dropout(g, x, 1.0f));
    tl_nn_graph_free(g);
}

/* ---- a small network learns XOR ----------------------------------------------------------- */

/* Points in [-1, 1]^2 labelled by the sign of x0 * x1 (XOR of the signs),
 * kept 0.1 away from the axes so the classes are separable. */
static void xor_data(tl_rng *r, int n, float *x, float *y)
{
    for (int i = 0; i < n; i++) {
        float a, b;
        do {
            a = (float)(2 * tl_rng_uniform(r) - 1);
            b = (float)(2 * tl_rng_uniform(r) - 1);
        } while (fabsf(a) < 0.1f || fabsf(b) < 0.1f);
        x[2 * i] = a;
        x[2 * i + 1] = b;
        y[i] = (a * b > 0) ? 1.0f : 0.0f;
    }
}

static double xor_train(uint64_t seed, float *loss_out)
{
    enum { N = 256 };
    tl_err err = {0};
    tl_rng r;
    tl_rng_seed(&r, seed);
    float x[2 * N], y[N];
    xor_data(&r, N, x, y);
    tl_nn_params *ps = tl_nn_params_new();
    struct tl_nn_mlp mlp;
    const int64_t sizes[] = {2, 16, 16, 1};
    cr_assert_eq(tl_nn_mlp_init(&mlp, ps, "mlp", sizes, 4, TL_NN_ACT_TANH, 0, &r, &err), 0, "%s",
                 err.msg);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, seed, &g, &err), 0);
    float loss = 0;
    for (int step = 0; step < 1500; step++) { /* full batch, plain SGD */
        tl_nn_graph_reset(g);
        tl_tensor *logit = tl_nn_mlp_forward(g, &mlp, tl_nn_tensor_wrap(g, 2, SHAPE(N, 2), x));
        tl_tensor *l = tl_nn_bce_logits(g, logit, tl_nn_tensor_wrap(g, 2, SHAPE(N, 1), y), 1.0f);
        tl_nn_params_zero_grad(ps);
        cr_assert_eq(tl_nn_backward(g, l, &err), 0, "%s", err.msg);
        loss = l->data[0];
        for (size_t p = 0; p < tl_nn_params_count(ps); p++) {
            tl_tensor *t = tl_nn_params_at(ps, p);
            for (int64_t i = 0; i < tl_nn_numel(t); i++)
                t->data[i] -= 0.5f * t->grad[i];
        }
    }
    /* accuracy on fresh points, gradients off */
    float xt[2 * N], yt[N];
    xor_data(&r, N, xt, yt);
    tl_nn_graph_reset(g);
    tl_nn_graph_set_grad(g, false);
    tl_tensor *logit = tl_nn_mlp_forward(g, &mlp, tl_nn_tensor_wrap(g, 2, SHAPE(N, 2), xt));
    cr_assert(logit);
    int right = 0;
    for (int i = 0; i < N; i++)
        right += (logit->data[i] > 0) == (yt[i] > 0.5f);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
    *loss_out = loss;
    return (double)right / N;
}

Test(nn_core, mlp_learns_xor)
{
    float loss1, loss2;
    double acc = xor_train(11, &loss1);
    cr_log_info("xor: train loss %.4f, test accuracy %.3f", loss1, acc);
    cr_assert(acc >= 0.97, "test accuracy %.3f", acc);
    cr_assert(loss1 < 0.1f, "train loss %.4f", loss1);
    /* deterministic for a seed and thread count */
    xor_train(11, &loss2);
    cr_assert_eq(loss1, loss2);
}
