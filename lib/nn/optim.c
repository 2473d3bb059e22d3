/*
 * optim.c - SGD (momentum, Nesterov), Adam, AdamW and gradient clipping over
 * plain float arrays (include/teller/nn_optim.h).
 *
 * The arithmetic mirrors PyTorch's single-tensor CPU code path operation by
 * operation, in float, with the Python-side scalars (bias corrections, step
 * size) computed in double and rounded to float where PyTorch passes them
 * to a float kernel. That keeps a run here within float rounding of the same
 * run in PyTorch, which the reference tests of issue 8 rely on.
 */
#include <teller/nn_optim.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct tl_nn_optim {
    tl_nn_optim_config cfg;
    size_t n_params;
    tl_nn_optim_param *params; /* (n_params) copies; names point into name_buf */
    char *name_buf;
    float **state[3];          /* [slot][param] -> (n) floats, NULL when unused */
    int64_t steps;
    bool sgd_buf_ready;        /* PyTorch's momentum_buffer is None until step 1 */
};

void tl_nn_optim_defaults(int kind, tl_nn_optim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->lr = 1e-3;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->weight_decay = kind == TL_NN_OPTIM_ADAMW ? 1e-2 : 0.0;
}

static bool in01(double x)
{
    return x >= 0 && x < 1;
}

static int check_config(const tl_nn_optim_config *c, tl_err *err)
{
    if (c->kind != TL_NN_OPTIM_SGD && c->kind != TL_NN_OPTIM_ADAM && c->kind != TL_NN_OPTIM_ADAMW)
        return tl_err_set(err, TL_EINVAL, "optimizer kind %d is not SGD (0), Adam (1) or AdamW (2)",
                          c->kind);
    if (!(isfinite(c->lr) && c->lr >= 0))
        return tl_err_set(err, TL_EINVAL, "optimizer lr %g must be a finite number >= 0", c->lr);
    if (!(isfinite(c->weight_decay) && c->weight_decay >= 0))
        return tl_err_set(err, TL_EINVAL, "optimizer weight_decay %g must be a finite number >= 0",
                          c->weight_decay);
    if (c->kind == TL_NN_OPTIM_SGD) {
        if (!(isfinite(c->momentum) && c->momentum >= 0))
            return tl_err_set(err, TL_EINVAL, "SGD momentum %g must be a finite number >= 0",
                              c->momentum);
        if (!in01(c->dampening))
            return tl_err_set(err, TL_EINVAL, "SGD dampening %g must be in [0, 1)", c->dampening);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return tl_err_set(err, TL_EINVAL,
                              "SGD with nesterov needs momentum > 0 and dampening 0 "
                              "(momentum %g, dampening %g)",
                              c->momentum, c->dampening);
        return 0;
    }
    if (!in01(c->beta1))
        return tl_err_set(err, TL_EINVAL, "Adam beta1 %g must be in [0, 1)", c->beta1);
    if (!in01(c->beta2))
        return tl_err_set(err, TL_EINVAL, "Adam beta2 %g must be in [0, 1)", c->beta2);
    if (!(isfinite(c->eps) && c->eps > 0))
        return tl_err_set(err, TL_EINVAL, "Adam eps %g must be a finite number > 0", c->eps);
    return 0;
}

static int n_slots(const tl_nn_optim_config *c)
{
    if (c->kind == TL_NN_OPTIM_SGD)
        return c->momentum > 0 ? 1 : 0;
    return c->amsgrad ? 3 : 2;
}

int tl_nn_optim_new(const tl_nn_optim_config *cfg, const tl_nn_optim_param *params,
                    size_t n_params, tl_nn_optim **out, tl_err *err)
{
    int rc = check_config(cfg, err);
    if (rc < 0)
        return rc;
    if (n_params > 0 && !params)
        return tl_err_set(err, TL_EINVAL, "optimizer: params is NULL but n_params is %zu", n_params);
    size_t names_len = 0;
    for (size_t i = 0; i < n_params; i++) {
        const tl_nn_optim_param *p = &params[i];
        if (p->n > 0 && (!p->w || !p->g)) {
            char q[TL__QUOTE_SIZE];
            const char *nm = p->name ? p->name : "";
            return tl_err_set(err, TL_EINVAL, "optimizer param %zu \"%s\" has %zu values but a NULL %s",
                              i, tl__quote(q, sizeof q, nm, strlen(nm)), p->n,
                              !p->w ? "weight" : "gradient");
        }
        if (p->n > SIZE_MAX / sizeof(float) / 4)
            return tl_err_set(err, TL_ETOOBIG, "optimizer param %zu has %zu values, too many", i, p->n);
        names_len += (p->name ? strlen(p->name) : 0) + 1;
    }
    tl_nn_optim *o = calloc(1, sizeof *o);
    if (!o)
        return tl_err_set(err, TL_ENOMEM, "optimizer: out of memory");
    o->cfg = *cfg;
    o->n_params = n_params;
    o->params = calloc(n_params ? n_params : 1, sizeof *o->params);
    o->name_buf = malloc(names_len ? names_len : 1);
    bool ok = o->params && o->name_buf;
    int slots = n_slots(cfg);
    for (int s = 0; s < slots && ok; s++) {
        o->state[s] = calloc(n_params ? n_params : 1, sizeof *o->state[s]);
        ok = o->state[s] != NULL;
        for (size_t i = 0; i < n_params && ok; i++) {
            o->state[s][i] = calloc(params[i].n ? params[i].n : 1, sizeof(float));
            ok = o->state[s][i] != NULL;
        }
    }
    if (!ok) {
        tl_nn_optim_free(o);
        return tl_err_set(err, TL_ENOMEM, "optimizer: out of memory for the state of %zu params",
                          n_params);
    }
    char *nb = o->name_buf;
    for (size_t i = 0; i < n_params; i++) {
        o->params[i] = params[i];
        size_t len = params[i].name ? strlen(params[i].name) : 0;
        if (len)
            memcpy(nb, params[i].name, len);
        nb[len] = '\0';
        o->params[i].name = nb;
        nb += len + 1;
    }
    *out = o;
    return 0;
}

void tl_nn_optim_free(tl_nn_optim *opt)
{
    if (!opt)
        return;
    for (int s = 0; s < 3; s++) {
        if (!opt->state[s])
            continue;
        for (size_t i = 0; i < opt->n_params; i++)
            free(opt->state[s][i]);
        free(opt->state[s]);
    }
    free(opt->params);
    free(opt->name_buf);
    free(opt);
}

void tl_nn_optim_zero_grad(tl_nn_optim *opt)
{
    for (size_t i = 0; i < opt->n_params; i++)
        if (opt->params[i].n)
            memset(opt->params[i].g, 0, opt->params[i].n * sizeof(float));
}

void tl_nn_optim_set_lr(tl_nn_optim *opt, double lr)
{
    if (isfinite(lr) && lr >= 0)
        opt->cfg.lr = lr;
}

double tl_nn_optim_lr(const tl_nn_optim *opt)
{
    return opt->cfg.lr;
}

int64_t tl_nn_optim_steps(const tl_nn_optim *opt)
{
    return opt->steps;
}

float *tl_nn_optim_state(tl_nn_optim *opt, size_t i, int slot)
{
    if (slot < 0 || slot > 2 || i >= opt->n_params || !opt->state[slot])
        return NULL;
    return opt->state[slot][i];
}

void tl_nn_optim_set_steps(tl_nn_optim *opt, int64_t steps)
{
    opt->steps = steps < 0 ? 0 : steps;
    opt->sgd_buf_ready = opt->steps > 0;
}

/* torch.lerp's CPU formula: the two branches keep the result exact at the
 * ends of [0, 1]. */
static inline float lerpf(float self, float end, float weight)
{
    return fabsf(weight) < 0.5f ? self + weight * (end - self)
                                : end - (end - self) * (1.0f - weight);
}

static void sgd_step(tl_nn_optim *o)
{
    const tl_nn_optim_config *c = &o->cfg;
    const float lr = (float)c->lr, mom = (float)c->momentum;
    const float damp1 = (float)(1.0 - c->dampening);
    for (size_t i = 0; i < o->n_params; i++) {
        const tl_nn_optim_param *p = &o->params[i];
        const float wd = p->no_weight_decay ? 0.0f : (float)c->weight_decay;
        float *buf = c->momentum > 0 ? o->state[0][i] : NULL;
        for (size_t j = 0; j < p->n; j++) {
            float d = p->g[j];
            if (wd != 0.0f)
                d = d + wd * p->w[j];
            if (buf) {
                buf[j] = o->sgd_buf_ready ? buf[j] * mom + damp1 * d : d;
                d = c->nesterov ? d + mom * buf[j] : buf[j];
            }
            p->w[j] = p->w[j] + (-lr) * d;
        }
    }
    o->sgd_buf_ready = true;
}

static void adam_step(tl_nn_optim *o)
{
    const tl_nn_optim_config *c = &o->cfg;
    const bool adamw = c->kind == TL_NN_OPTIM_ADAMW;
    const double t = (double)o->steps;
    const double bc1 = 1.0 - pow(c->beta1, t);
    const double bc2_sqrt = sqrt(1.0 - pow(c->beta2, t));
    const float neg_step = (float)(-(c->lr / bc1));
    const float bc2s = (float)bc2_sqrt, eps = (float)c->eps;
    const float w1 = (float)(1.0 - c->beta1), b2 = (float)c->beta2, w2 = (float)(1.0 - c->beta2);
    for (size_t i = 0; i < o->n_params; i++) {
        const tl_nn_optim_param *p = &o->params[i];
        const double wdd = p->no_weight_decay ? 0.0 : c->weight_decay;
        const float l2 = adamw ? 0.0f : (float)wdd;
        const float decay = (float)(1.0 - c->lr * wdd); /* AdamW: param.mul_(1 - lr * wd) */
        float *m = o->state[0][i], *v = o->state[1][i];
        float *vmax = c->amsgrad ? o->state[2][i] : NULL;
        for (size_t j = 0; j < p->n; j++) {
            float g = p->g[j];
            if (l2 != 0.0f)
                g = g + l2 * p->w[j];
            if (adamw && wdd != 0.0)
                p->w[j] = p->w[j] * decay;
            m[j] = lerpf(m[j], g, w1);
            v[j] = v[j] * b2 + w2 * g * g;
            float vv = v[j];
            if (vmax) {
                vmax[j] = vmax[j] > vv ? vmax[j] : vv;
                vv = vmax[j];
            }
            float denom = sqrtf(vv) / bc2s + eps;
            p->w[j] = p->w[j] + neg_step * m[j] / denom;
        }
    }
}

int tl_nn_optim_step(tl_nn_optim *opt, tl_err *err)
{
    if (!opt)
        return tl_err_set(err, TL_EINVAL, "optimizer step: optimizer is NULL");
    opt->steps++;
    if (opt->cfg.kind == TL_NN_OPTIM_SGD)
        sgd_step(opt);
    else
        adam_step(opt);
    return 0;
}

int tl_nn_clip_grad_norm(const tl_nn_optim_param *params, size_t n_params, double max_norm,
                         double *total_norm, tl_err *err)
{
    if (!(isfinite(max_norm) && max_norm > 0))
        return tl_err_set(err, TL_EINVAL, "clip_grad_norm: max_norm %g must be finite and > 0",
                          max_norm);
    double sumsq = 0;
    for (size_t i = 0; i < n_params; i++) {
        const tl_nn_optim_param *p = &params[i];
        for (size_t j = 0; j < p->n; j++) {
            double g = p->g[j];
            if (!isfinite(g)) {
                char q[TL__QUOTE_SIZE];
                const char *nm = p->name ? p->name : "";
                return tl_err_set(err, TL_EINVAL,
                                  "clip_grad_norm: gradient of param %zu \"%s\" is %s at index %zu",
                                  i, tl__quote(q, sizeof q, nm, strlen(nm)),
                                  isnan(g) ? "NaN" : "infinite", j);
            }
            sumsq += g * g;
        }
    }
    double total = sqrt(sumsq);
    if (total_norm)
        *total_norm = total;
    double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float cf = (float)coef;
        for (size_t i = 0; i < n_params; i++)
            for (size_t j = 0; j < params[i].n; j++)
                params[i].g[j] *= cf;
    }
    return 0;
}

int tl_nn_clip_grad_value(const tl_nn_optim_param *params, size_t n_params, double clip,
                          tl_err *err)
{
    if (!(isfinite(clip) && clip > 0))
        return tl_err_set(err, TL_EINVAL, "clip_grad_value: clip %g must be finite and > 0", clip);
    const float hi = (float)clip, lo = -(float)clip;
    for (size_t i = 0; i < n_params; i++)
        for (size_t j = 0; j < params[i].n; j++) {
            float g = params[i].g[j];
            if (g > hi)
                params[i].g[j] = hi;
            else if (g < lo)
                params[i].g[j] = lo;
        }
    return 0;
}
