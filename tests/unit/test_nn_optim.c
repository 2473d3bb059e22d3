/* test_nn_optim.c - optimizers, clipping, schedules and early stopping
 * (include/teller/nn_optim.h) against trajectories computed from the
 * published update formulas. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <teller/nn_optim.h>

/* The problem every trajectory test runs: loss = sum(0.5 * a * w^2 + b * w),
 * so g = a * w + b, from w0, five steps (eight for AMSGrad). */
static const float A[4] = {1.0f, 3.0f, 0.5f, 2.0f};
static const float B[4] = {0.2f, -0.5f, 1.0f, 0.0f};
static const float W0[4] = {0.5f, -1.0f, 2.0f, -0.25f};

static void run(const tl_nn_optim_config *cfg, int steps, float w[4])
{
    float g[4];
    memcpy(w, W0, sizeof W0);
    tl_nn_optim_param p = {w, g, 4, "w", false};
    tl_nn_optim *opt = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_nn_optim_new(cfg, &p, 1, &opt, &err), 0, "%s", err.msg);
    for (int t = 0; t < steps; t++) {
        for (int i = 0; i < 4; i++)
            g[i] = A[i] * w[i] + B[i];
        cr_assert_eq(tl_nn_optim_step(opt, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(tl_nn_optim_steps(opt), steps);
    tl_nn_optim_free(opt);
}

static void expect(const float got[4], const double want[4], const char *what)
{
    for (int i = 0; i < 4; i++)
        cr_expect(fabs(got[i] - want[i]) <= 2e-6 + 2e-6 * fabs(want[i]), "%s w[%d] = %.9g, want %.9g",
                  what, i, got[i], want[i]);
}

/*
 * Expected weights: /usr/bin/python3 with numpy, float64, written straight
 * from the pseudo-code of the torch.optim docs (not from torch):
 *   SGD:  g += wd*w; buf = g (step 1) else mom*buf + (1-damp)*g;
 *         g = g + mom*buf (Nesterov) else buf; w -= lr*g
 *   Adam: g += wd*w (L2) or w *= 1 - lr*wd (AdamW); m = b1*m + (1-b1)*g;
 *         v = b2*v + (1-b2)*g^2; vmax = max(vmax, v) (AMSGrad);
 *         w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
 */
Test(optim, sgd_matches_reference)
{
    tl_nn_optim_config c;
    float w[4];
    tl_nn_optim_defaults(TL_NN_OPTIM_SGD, &c);
    c.lr = 0.1;
    run(&c, 5, w);
    expect(w, (double[]){0.213343, -0.029415, 1.09512375, -0.08192}, "plain");

    c.lr = 0.05, c.momentum = 0.9, c.dampening = 0.1, c.weight_decay = 0.01;
    run(&c, 5, w);
    expect(w, (double[]){0.114235887, 0.520613139, 0.83118639, -0.0048296239}, "momentum");

    c.dampening = 0, c.nesterov = true;
    run(&c, 5, w);
    expect(w, (double[]){0.018754197, 0.552119655, 0.469249307, 0.0269239591}, "nesterov");
}

Test(optim, adam_and_adamw_match_reference)
{
    tl_nn_optim_config c;
    float w[4];
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    c.lr = 0.01, c.weight_decay = 0.1;
    run(&c, 5, w);
    expect(w, (double[]){0.450069718, -0.950039402, 1.95001202, -0.200222466}, "adam L2");

    tl_nn_optim_defaults(TL_NN_OPTIM_ADAMW, &c);
    cr_assert_float_eq(c.weight_decay, 0.01, 1e-15);
    c.lr = 0.01, c.weight_decay = 0.1;
    run(&c, 5, w);
    expect(w, (double[]){0.447676205, -0.945153172, 1.9401331, -0.199081342}, "adamw");

    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    c.lr = 0.05, c.beta1 = 0.8, c.beta2 = 0.99, c.eps = 1e-6, c.amsgrad = true;
    run(&c, 8, w);
    expect(w, (double[]){0.117401752, -0.60895206, 1.60223106, 0.0565661863}, "amsgrad");
}

Test(optim, adam_first_step_moves_by_lr_times_sign)
{
    /* After one step m/(1-b1) = g and sqrt(v/(1-b2)) = |g|, so the move is
     * lr * g / (|g| + eps): lr * sign(g) whatever the gradient's scale. */
    float w[6] = {0, 0, 0, 0, 0, 0};
    float g[6] = {1e-3f, -2e-2f, 0.5f, -7.0f, 300.0f, -1e4f};
    tl_nn_optim_param p = {w, g, 6, "w", false};
    tl_nn_optim_config c;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    c.lr = 0.01;
    tl_nn_optim *opt;
    tl_err err = {0};
    cr_assert_eq(tl_nn_optim_new(&c, &p, 1, &opt, &err), 0);
    cr_assert_eq(tl_nn_optim_step(opt, &err), 0);
    for (int i = 0; i < 6; i++)
        cr_expect_float_eq(w[i], g[i] > 0 ? -0.01f : 0.01f, 1e-6, "w[%d] = %g", i, w[i]);
    tl_nn_optim_free(opt);
}

Test(optim, weight_decay_skips_exempt_params_and_is_decoupled_in_adamw)
{
    float w1[2] = {1.0f, -2.0f}, g1[2] = {0, 0};
    float w2[2] = {1.0f, -2.0f}, g2[2] = {0, 0};
    tl_nn_optim_param ps[2] = {{w1, g1, 2, "weight", false}, {w2, g2, 2, "bias", true}};
    tl_nn_optim_config c;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAMW, &c);
    c.lr = 0.1, c.weight_decay = 0.5;
    tl_nn_optim *opt;
    tl_err err = {0};
    cr_assert_eq(tl_nn_optim_new(&c, ps, 2, &opt, &err), 0);
    cr_assert_eq(tl_nn_optim_step(opt, &err), 0);
    /* Zero gradient: AdamW only shrinks by 1 - lr*wd = 0.95; the exempt
     * param does not move at all. */
    cr_expect_float_eq(w1[0], 0.95f, 1e-7);
    cr_expect_float_eq(w1[1], -1.9f, 1e-7);
    cr_expect_eq(w2[0], 1.0f);
    cr_expect_eq(w2[1], -2.0f);
    float *m = tl_nn_optim_state(opt, 0, 0);
    cr_assert_not_null(m);
    cr_expect_eq(m[0], 0.0f, "decoupled decay must not enter the moments");
    tl_nn_optim_free(opt);
}

Test(optim, state_restores_a_run)
{
    tl_nn_optim_config c;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    c.lr = 0.02;
    float wa[4], ga[4], wb[4], gb[4];
    memcpy(wa, W0, sizeof W0);
    tl_nn_optim_param pa = {wa, ga, 4, "w", false}, pb = {wb, gb, 4, "w", false};
    tl_nn_optim *oa, *ob;
    tl_err err = {0};
    cr_assert_eq(tl_nn_optim_new(&c, &pa, 1, &oa, &err), 0);
    cr_assert_eq(tl_nn_optim_new(&c, &pb, 1, &ob, &err), 0);
    cr_expect_null(tl_nn_optim_state(oa, 0, 2), "no AMSGrad slot");
    cr_expect_null(tl_nn_optim_state(oa, 1, 0), "param index out of range");
    for (int t = 0; t < 5; t++) {
        if (t == 3) { /* checkpoint a, restore into b */
            memcpy(wb, wa, sizeof wa);
            memcpy(tl_nn_optim_state(ob, 0, 0), tl_nn_optim_state(oa, 0, 0), sizeof wa);
            memcpy(tl_nn_optim_state(ob, 0, 1), tl_nn_optim_state(oa, 0, 1), sizeof wa);
            tl_nn_optim_set_steps(ob, tl_nn_optim_steps(oa));
        }
        for (int i = 0; i < 4; i++)
            ga[i] = gb[i] = A[i] * wa[i] + B[i];
        tl_nn_optim_step(oa, &err);
        if (t >= 3) {
            for (int i = 0; i < 4; i++)
                gb[i] = A[i] * wb[i] + B[i];
            tl_nn_optim_step(ob, &err);
        }
    }
    cr_expect_eq(memcmp(wa, wb, sizeof wa), 0, "a restored optimizer continues bit for bit");
    tl_nn_optim_zero_grad(oa);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(ga[i], 0.0f);
    tl_nn_optim_set_lr(oa, 0.5);
    cr_expect_float_eq(tl_nn_optim_lr(oa), 0.5, 1e-15);
    tl_nn_optim_set_lr(oa, NAN);
    cr_expect_float_eq(tl_nn_optim_lr(oa), 0.5, 1e-15, "a NaN rate is ignored");
    tl_nn_optim_free(oa);
    tl_nn_optim_free(ob);
}

Test(optim, bad_configs_are_refused_with_the_field_named)
{
    tl_nn_optim_config c;
    float w[1], g[1];
    tl_nn_optim_param p = {w, g, 1, "fc.weight", false};
    tl_nn_optim *opt = (tl_nn_optim *)0x1;
    tl_err err = {0};

    tl_nn_optim_defaults(TL_NN_OPTIM_SGD, &c);
    c.nesterov = true;
    cr_expect_eq(tl_nn_optim_new(&c, &p, 1, &opt, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "nesterov"), "%s", err.msg);

    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    c.beta1 = 1.0;
    cr_expect_eq(tl_nn_optim_new(&c, &p, 1, &opt, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "beta1"), "%s", err.msg);

    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    c.lr = -1;
    cr_expect_eq(tl_nn_optim_new(&c, &p, 1, &opt, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "lr"), "%s", err.msg);

    tl_nn_optim_defaults(7, &c);
    cr_expect_eq(tl_nn_optim_new(&c, &p, 1, &opt, &err), TL_EINVAL);

    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &c);
    p.g = NULL;
    cr_expect_eq(tl_nn_optim_new(&c, &p, 1, &opt, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "\"fc.weight\"") && strstr(err.msg, "gradient"), "%s", err.msg);
    cr_expect_eq(opt, (tl_nn_optim *)0x1, "*out untouched on error");
}

Test(clip, grad_norm_scales_like_torch)
{
    float g1[2] = {3, 4}, g2[1] = {12}, w[3];
    tl_nn_optim_param ps[2] = {{w, g1, 2, "a", false}, {w + 2, g2, 1, "b", false}};
    tl_err err = {0};
    double total = 0;
    /* Under the limit nothing changes. */
    cr_assert_eq(tl_nn_clip_grad_norm(ps, 2, 20.0, &total, &err), 0);
    cr_expect_float_eq(total, 13.0, 1e-9);
    cr_expect(g1[0] == 3 && g1[1] == 4 && g2[0] == 12);
    /* Over it: scale by max_norm / (total + 1e-6). */
    cr_assert_eq(tl_nn_clip_grad_norm(ps, 2, 6.5, &total, &err), 0);
    double s = 6.5 / (13.0 + 1e-6);
    cr_expect_float_eq(g1[0], 3 * s, 1e-6);
    cr_expect_float_eq(g1[1], 4 * s, 1e-6);
    cr_expect_float_eq(g2[0], 12 * s, 1e-6);
    double after = sqrt((double)g1[0] * g1[0] + (double)g1[1] * g1[1] + (double)g2[0] * g2[0]);
    cr_expect_float_eq(after, 6.5, 1e-5);
    /* A NaN gradient is named and leaves every gradient alone. */
    g1[0] = 3, g1[1] = 4, g2[0] = NAN;
    cr_expect_eq(tl_nn_clip_grad_norm(ps, 2, 1.0, &total, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "\"b\"") && strstr(err.msg, "NaN"), "%s", err.msg);
    cr_expect(g1[0] == 3 && g1[1] == 4);
    cr_expect_eq(tl_nn_clip_grad_norm(ps, 2, 0.0, NULL, &err), TL_EINVAL);
}

Test(clip, grad_value_clamps)
{
    float g[5] = {-3, -0.5f, 0, 0.5f, 3}, w[5];
    tl_nn_optim_param p = {w, g, 5, "g", false};
    tl_err err = {0};
    cr_assert_eq(tl_nn_clip_grad_value(&p, 1, 1.0, &err), 0);
    const float want[5] = {-1, -0.5f, 0, 0.5f, 1};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(g[i], want[i]);
    cr_expect_eq(tl_nn_clip_grad_value(&p, 1, -1, &err), TL_EINVAL);
}

Test(sched, step_cosine_and_warmup)
{
    tl_err err = {0};
    tl_nn_sched s = {.kind = TL_NN_SCHED_STEP, .base_lr = 0.1, .step_size = 3, .gamma = 0.5};
    cr_assert_eq(tl_nn_sched_check(&s, &err), 0, "%s", err.msg);
    const double step_want[8] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025};
    for (int t = 0; t < 8; t++)
        cr_expect_float_eq(tl_nn_sched_lr(&s, t), step_want[t], 1e-15, "t=%d", t);

    /* CosineAnnealingLR(T_max=10, eta_min=0.001) closed form. */
    tl_nn_sched c = {.kind = TL_NN_SCHED_COSINE, .base_lr = 0.1, .total_steps = 10, .eta_min = 0.001};
    cr_assert_eq(tl_nn_sched_check(&c, &err), 0, "%s", err.msg);
    for (int t = 0; t <= 10; t++)
        cr_expect_float_eq(tl_nn_sched_lr(&c, t), 0.001 + 0.099 * (1 + cos(M_PI * t / 10)) / 2, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&c, 5), 0.0505, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&c, 25), 0.001, 1e-15, "holds eta_min after total_steps");

    /* Linear warm-up from 0 over 4 steps, then cosine to 0 at step 12. */
    tl_nn_sched w = {.kind = TL_NN_SCHED_COSINE, .base_lr = 1.0, .warmup_steps = 4, .total_steps = 12};
    cr_assert_eq(tl_nn_sched_check(&w, &err), 0, "%s", err.msg);
    cr_expect_float_eq(tl_nn_sched_lr(&w, 0), 0.0, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&w, 1), 0.25, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&w, 3), 0.75, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&w, 4), 1.0, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&w, 8), 0.5, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&w, 12), 0.0, 1e-15);

    /* Warm-up from a tenth, then constant. */
    tl_nn_sched k = {.kind = TL_NN_SCHED_CONSTANT, .base_lr = 0.5, .warmup_steps = 10,
                     .warmup_start_factor = 0.1};
    cr_assert_eq(tl_nn_sched_check(&k, &err), 0, "%s", err.msg);
    cr_expect_float_eq(tl_nn_sched_lr(&k, 0), 0.05, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&k, 5), 0.5 * (0.1 + 0.9 * 0.5), 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&k, 10), 0.5, 1e-15);
    cr_expect_float_eq(tl_nn_sched_lr(&k, 1000), 0.5, 1e-15);
}

Test(sched, bad_schedules_are_refused)
{
    tl_err err = {0};
    tl_nn_sched s = {.kind = TL_NN_SCHED_STEP, .base_lr = 0.1, .gamma = 0.5};
    cr_expect_eq(tl_nn_sched_check(&s, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "step_size"), "%s", err.msg);
    tl_nn_sched c = {.kind = TL_NN_SCHED_COSINE, .base_lr = 0.1, .warmup_steps = 10, .total_steps = 10};
    cr_expect_eq(tl_nn_sched_check(&c, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "total_steps"), "%s", err.msg);
    tl_nn_sched z = {.kind = TL_NN_SCHED_CONSTANT, .base_lr = 0};
    cr_expect_eq(tl_nn_sched_check(&z, &err), TL_EINVAL);
    tl_nn_sched k = {.kind = 9, .base_lr = 1};
    cr_expect_eq(tl_nn_sched_check(&k, &err), TL_EINVAL);
}

Test(early_stop, min_mode_with_patience_and_delta)
{
    tl_nn_early_stop es;
    tl_err err = {0};
    cr_assert_eq(tl_nn_early_stop_init(&es, TL_NN_MODE_MIN, 2, 0.005, &err), 0);
    const double loss[6] = {1.0, 0.9, 0.898, 0.89, 0.9, 0.91};
    const bool improved[6] = {true, true, false, true, false, false};
    for (int e = 0; e < 6; e++) {
        cr_expect_eq(tl_nn_early_stop_update(&es, e, loss[e]), improved[e], "epoch %d", e);
        cr_expect_eq(es.stop, e == 5, "epoch %d stop", e);
    }
    cr_expect_eq(es.best_epoch, 3);
    cr_expect_float_eq(es.best, 0.89, 1e-15);
}

Test(early_stop, max_mode_and_nan)
{
    tl_nn_early_stop es;
    tl_err err = {0};
    cr_assert_eq(tl_nn_early_stop_init(&es, TL_NN_MODE_MAX, 2, 0.0, &err), 0);
    cr_expect(!tl_nn_early_stop_update(&es, 0, NAN), "NaN never improves");
    cr_expect(!es.stop, "patience 2 tolerates one bad epoch");
    cr_expect(tl_nn_early_stop_update(&es, 1, 0.7));
    cr_expect(tl_nn_early_stop_update(&es, 2, 0.75));
    cr_expect(!tl_nn_early_stop_update(&es, 3, 0.75), "equal is not better");
    cr_expect(!es.stop);
    cr_expect(!tl_nn_early_stop_update(&es, 4, INFINITY), "infinity never improves");
    cr_expect(es.stop, "two bad epochs in a row exhaust patience 2");
    cr_expect_eq(es.best_epoch, 2);
    cr_expect_eq(tl_nn_early_stop_init(&es, 3, 1, 0, &err), TL_EINVAL);
    cr_expect_eq(tl_nn_early_stop_init(&es, TL_NN_MODE_MIN, -1, 0, &err), TL_EINVAL);
    cr_expect_eq(tl_nn_early_stop_init(&es, TL_NN_MODE_MIN, 1, -0.1, &err), TL_EINVAL);
}
