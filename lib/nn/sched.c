/*
 * sched.c - learning-rate schedules and early stopping
 * (include/teller/nn_optim.h). Schedules are closed forms of the step, not
 * chains of updates, so a resumed run gets the same rate at step t as an
 * uninterrupted one.
 */
#include <teller/nn_optim.h>

#include <math.h>

int tl_nn_sched_check(const tl_nn_sched *s, tl_err *err)
{
    if (!(isfinite(s->base_lr) && s->base_lr > 0))
        return tl_err_set(err, TL_EINVAL, "schedule base_lr %g must be finite and > 0", s->base_lr);
    if (s->warmup_steps < 0)
        return tl_err_set(err, TL_EINVAL, "schedule warmup_steps %lld must be >= 0",
                          (long long)s->warmup_steps);
    if (!(s->warmup_start_factor >= 0 && s->warmup_start_factor <= 1))
        return tl_err_set(err, TL_EINVAL, "schedule warmup_start_factor %g must be in [0, 1]",
                          s->warmup_start_factor);
    switch (s->kind) {
    case TL_NN_SCHED_CONSTANT:
        return 0;
    case TL_NN_SCHED_STEP:
        if (s->step_size <= 0)
            return tl_err_set(err, TL_EINVAL, "step schedule step_size %lld must be > 0",
                              (long long)s->step_size);
        if (!(isfinite(s->gamma) && s->gamma > 0))
            return tl_err_set(err, TL_EINVAL, "step schedule gamma %g must be finite and > 0",
                              s->gamma);
        return 0;
    case TL_NN_SCHED_COSINE:
        if (s->total_steps <= s->warmup_steps)
            return tl_err_set(err, TL_EINVAL,
                              "cosine schedule total_steps %lld must exceed warmup_steps %lld",
                              (long long)s->total_steps, (long long)s->warmup_steps);
        if (!(s->eta_min >= 0 && s->eta_min <= s->base_lr))
            return tl_err_set(err, TL_EINVAL, "cosine schedule eta_min %g must be in [0, base_lr %g]",
                              s->eta_min, s->base_lr);
        return 0;
    default:
        return tl_err_set(err, TL_EINVAL,
                          "schedule kind %d is not constant (0), step (1) or cosine (2)", s->kind);
    }
}

double tl_nn_sched_lr(const tl_nn_sched *s, int64_t t)
{
    if (t < 0)
        t = 0;
    const int64_t w = s->warmup_steps;
    if (t < w) {
        double f0 = s->warmup_start_factor;
        return s->base_lr * (f0 + (1.0 - f0) * (double)t / (double)w);
    }
    int64_t k = t - w;
    switch (s->kind) {
    case TL_NN_SCHED_STEP:
        return s->base_lr * pow(s->gamma, (double)(k / s->step_size));
    case TL_NN_SCHED_COSINE: {
        double p = (double)k / (double)(s->total_steps - w);
        if (p > 1)
            p = 1;
        return s->eta_min + (s->base_lr - s->eta_min) * (1.0 + cos(M_PI * p)) / 2.0;
    }
    default:
        return s->base_lr;
    }
}

int tl_nn_early_stop_init(tl_nn_early_stop *es, int mode, int patience, double min_delta,
                          tl_err *err)
{
    if (mode != TL_NN_MODE_MIN && mode != TL_NN_MODE_MAX)
        return tl_err_set(err, TL_EINVAL, "early stopping mode %d is not min (0) or max (1)", mode);
    if (patience < 0)
        return tl_err_set(err, TL_EINVAL, "early stopping patience %d must be >= 0", patience);
    if (!(isfinite(min_delta) && min_delta >= 0))
        return tl_err_set(err, TL_EINVAL, "early stopping min_delta %g must be finite and >= 0",
                          min_delta);
    es->mode = mode;
    es->patience = patience;
    es->min_delta = min_delta;
    es->best = NAN;
    es->best_epoch = -1;
    es->bad_epochs = 0;
    es->stop = false;
    return 0;
}

bool tl_nn_early_stop_update(tl_nn_early_stop *es, int64_t epoch, double metric)
{
    bool improved = false;
    if (isfinite(metric)) {
        if (es->best_epoch < 0)
            improved = true;
        else if (es->mode == TL_NN_MODE_MIN)
            improved = metric < es->best - es->min_delta;
        else
            improved = metric > es->best + es->min_delta;
    }
    if (improved) {
        es->best = metric;
        es->best_epoch = epoch;
        es->bad_epochs = 0;
    } else {
        es->bad_epochs++;
        if (es->bad_epochs >= es->patience)
            es->stop = true;
    }
    return improved;
}
