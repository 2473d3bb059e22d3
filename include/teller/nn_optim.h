/*
 * nn_optim.h - training a network's weights: optimizers (SGD with momentum
 * and Nesterov, Adam, AdamW), gradient clipping, learning-rate schedules and
 * early stopping.
 *
 * Everything here works on plain float arrays, so it serves the tensor
 * engine (nn.h) and any other code that keeps weights and gradients in
 * memory. The update rules are PyTorch's (torch.optim.SGD, Adam, AdamW and
 * torch.nn.utils.clip_grad_norm_), written out in docs/nn-training.md, so a
 * model trained here and one trained in PyTorch from the same start follow
 * the same path up to float rounding.
 *
 *     tl_nn_optim_param ps[2] = {{w1, g1, n1, "fc1.weight", false},
 *                                {b1, gb1, nb1, "fc1.bias", true}};
 *     tl_nn_optim_config cfg;
 *     tl_nn_optim_defaults(TL_NN_OPTIM_ADAMW, &cfg);
 *     tl_nn_optim *opt;
 *     if (tl_nn_optim_new(&cfg, ps, 2, &opt, &err) < 0) ...
 *     tl_nn_sched sch = {.kind = TL_NN_SCHED_COSINE, .base_lr = 1e-3,
 *                        .warmup_steps = 100, .total_steps = 5000};
 *     for (int64_t t = 0; t < 5000; t++) {
 *         ... forward, backward into g1, gb1 ...
 *         tl_nn_clip_grad_norm(ps, 2, 1.0, NULL, &err);
 *         tl_nn_optim_set_lr(opt, tl_nn_sched_lr(&sch, t));
 *         tl_nn_optim_step(opt, &err);
 *     }
 *     tl_nn_optim_free(opt);
 */
#ifndef TELLER_NN_OPTIM_H
#define TELLER_NN_OPTIM_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- parameters ----------------------------------------------------------
 * One trainable array and its gradient, both n floats. The optimizer
 * borrows w and g (they must stay valid and keep their size until
 * tl_nn_optim_free) and copies name. no_weight_decay exempts the array from
 * weight decay (the usual choice for biases and normalization gains; in
 * PyTorch, a second parameter group with weight_decay 0). */
typedef struct tl_nn_optim_param {
    float *w;  /* (n) weights, updated in place by a step */
    float *g;  /* (n) gradient, read by a step; scaled in place by clipping */
    size_t n;
    const char *name;  /* for error messages and state lookup; may be NULL */
    bool no_weight_decay;
} tl_nn_optim_param;

/* ---- optimizers ------------------------------------------------------------ */
enum tl_nn_optim_kind {
    TL_NN_OPTIM_SGD = 0,
    TL_NN_OPTIM_ADAM = 1,
    TL_NN_OPTIM_ADAMW = 2,
};

typedef struct tl_nn_optim_config {
    int kind;            /* enum tl_nn_optim_kind */
    double lr;           /* > 0; schedules change it between steps */
    double weight_decay; /* >= 0; SGD, Adam: L2 added to the gradient; AdamW: decoupled */
    /* SGD */
    double momentum;  /* >= 0; 0 is plain SGD */
    double dampening; /* in [0, 1) */
    bool nesterov;    /* needs momentum > 0 and dampening 0, as in PyTorch */
    /* Adam, AdamW */
    double beta1, beta2; /* each in [0, 1) */
    double eps;          /* > 0, added to the bias-corrected sqrt(v) */
    bool amsgrad;        /* keep the running maximum of v */
} tl_nn_optim_config;

typedef struct tl_nn_optim tl_nn_optim;

/* PyTorch's defaults for kind: lr 1e-3, momentum 0, dampening 0, betas
 * (0.9, 0.999), eps 1e-8, weight decay 0 (SGD, Adam) or 1e-2 (AdamW). */
TL_API void tl_nn_optim_defaults(int kind, tl_nn_optim_config *cfg);

/* An optimizer over params[0..n_params) with zeroed state (moments are
 * allocated here, one or two floats per weight, and owned by the
 * optimizer). The params array is copied; the arrays it points to stay the
 * caller's. A config out of range, or a param with n > 0 and a NULL w or g,
 * is TL_EINVAL naming the field or the param; *out is untouched on error. */
TL_API int tl_nn_optim_new(const tl_nn_optim_config *cfg, const tl_nn_optim_param *params,
                           size_t n_params, tl_nn_optim **out, tl_err *err);

/* Frees the optimizer and its state (not the weights). NULL is a no-op. */
TL_API void tl_nn_optim_free(tl_nn_optim *opt);

/* One update of every param from its current gradient, with the current
 * learning rate. Non-finite gradients are the caller's to catch (clipping
 * reports them); they propagate into the weights as in PyTorch. */
TL_API int tl_nn_optim_step(tl_nn_optim *opt, tl_err *err);

/* Sets every gradient to 0 (PyTorch's zero_grad(set_to_none=False)). */
TL_API void tl_nn_optim_zero_grad(tl_nn_optim *opt);

/* The learning rate the next step uses; set_lr takes any finite value >= 0
 * (a schedule's output) and ignores others. */
TL_API void tl_nn_optim_set_lr(tl_nn_optim *opt, double lr);
TL_API double tl_nn_optim_lr(const tl_nn_optim *opt);

/* Steps taken so far (Adam's t, which sets the bias correction). */
TL_API int64_t tl_nn_optim_steps(const tl_nn_optim *opt);

/* State buffers of param i, for checkpoints: slot 0 is SGD's momentum buffer
 * or Adam's first moment m, slot 1 Adam's second moment v, slot 2 AMSGrad's
 * max of v. Each is n floats owned by the optimizer, or NULL where the kind
 * has no such slot (or i is out of range). Writing into them and then
 * tl_nn_optim_set_steps restores a saved optimizer. SGD's momentum buffer
 * counts as absent until the first step fills it (PyTorch's "None"); set
 * steps > 0 to mark a restored buffer present. */
TL_API float *tl_nn_optim_state(tl_nn_optim *opt, size_t i, int slot);
TL_API void tl_nn_optim_set_steps(tl_nn_optim *opt, int64_t steps);

/* ---- gradient clipping -----------------------------------------------------
 * As torch.nn.utils.clip_grad_norm_ with norm_type 2: the total norm is the
 * 2-norm of all gradients taken together (accumulated in double); when it is
 * above max_norm, every gradient is multiplied by max_norm / (total + 1e-6).
 * *total_norm (when non-NULL) gets the norm before clipping. A non-finite
 * gradient value is TL_EINVAL naming the param and index, and leaves every
 * gradient as it was (PyTorch's error_if_nonfinite=True); max_norm must be
 * positive and finite. */
TL_API int tl_nn_clip_grad_norm(const tl_nn_optim_param *params, size_t n_params, double max_norm,
                                double *total_norm, tl_err *err);

/* As torch.nn.utils.clip_grad_value_: every gradient value clamped to
 * [-clip, clip]; NaN stays NaN. clip must be positive and finite. */
TL_API int tl_nn_clip_grad_value(const tl_nn_optim_param *params, size_t n_params, double clip,
                                 tl_err *err);

/* ---- learning-rate schedules -----------------------------------------------
 * A schedule is a pure function of the step (or epoch: the caller picks the
 * unit and uses it throughout) t = 0, 1, 2, ...: an optional linear warm-up
 * over the first warmup_steps, then one shape. With W = warmup_steps:
 *   t < W:  lr = base_lr * (f0 + (1 - f0) * t / W), f0 = warmup_start_factor
 *   CONSTANT: lr = base_lr
 *   STEP:     lr = base_lr * gamma ^ floor((t - W) / step_size)  (StepLR)
 *   COSINE:   p = min(1, (t - W) / (total_steps - W)),
 *             lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * p)) / 2
 * With W = 0, COSINE is PyTorch's CosineAnnealingLR with T_max =
 * total_steps up to T_max, after which it holds eta_min (PyTorch's would
 * climb again). Zero-initialize and set the fields the kind uses. */
enum tl_nn_sched_kind {
    TL_NN_SCHED_CONSTANT = 0,
    TL_NN_SCHED_STEP = 1,
    TL_NN_SCHED_COSINE = 2,
};

typedef struct tl_nn_sched {
    int kind;                   /* enum tl_nn_sched_kind */
    double base_lr;             /* > 0 */
    int64_t warmup_steps;       /* >= 0 */
    double warmup_start_factor; /* in [0, 1]; 0 starts the warm-up at lr 0 */
    int64_t step_size;          /* STEP: > 0 */
    double gamma;               /* STEP: > 0, usually 0.1 */
    int64_t total_steps;        /* COSINE: > warmup_steps */
    double eta_min;             /* COSINE: in [0, base_lr] */
} tl_nn_sched;

/* TL_EINVAL naming the field when s is out of range. */
TL_API int tl_nn_sched_check(const tl_nn_sched *s, tl_err *err);

/* The learning rate at step t (t < 0 counts as 0). Call tl_nn_sched_check
 * once first: on a schedule that fails it the result is unspecified. */
TL_API double tl_nn_sched_lr(const tl_nn_sched *s, int64_t t);

/* ---- early stopping ----------------------------------------------------------
 * Watches a validation metric once per epoch. An epoch improves when its
 * metric beats the best so far by more than min_delta (below best -
 * min_delta in MIN mode, above best + min_delta in MAX mode; the first
 * finite value always improves). After patience epochs in a row without
 * improvement, stop becomes true. A NaN or infinite metric never improves
 * (a diverged run runs out its patience and stops). */
enum tl_nn_mode {
    TL_NN_MODE_MIN = 0, /* a loss */
    TL_NN_MODE_MAX = 1, /* an accuracy, AUC, F1 */
};

typedef struct tl_nn_early_stop {
    int mode;          /* enum tl_nn_mode */
    int patience;      /* >= 0 epochs without improvement tolerated */
    double min_delta;  /* >= 0 */
    double best;       /* best metric so far (NaN before the first) */
    int64_t best_epoch;/* epoch of best, -1 before the first */
    int bad_epochs;    /* epochs since best */
    bool stop;         /* true once patience ran out */
} tl_nn_early_stop;

/* Starts a watch; TL_EINVAL for a bad mode, negative patience or a negative
 * or non-finite min_delta (es is then untouched). */
TL_API int tl_nn_early_stop_init(tl_nn_early_stop *es, int mode, int patience, double min_delta,
                                 tl_err *err);

/* Records the metric of an epoch. Returns true when it improved (the time to
 * save a checkpoint of the weights); es->stop says whether to stop. */
TL_API bool tl_nn_early_stop_update(tl_nn_early_stop *es, int64_t epoch, double metric);

TL_END_DECLS

#endif
