/*
 * tabular.c - the tabular MLP classifier of nn_tabular.h: the credit data
 * preparation, then AdamW mini-batches with early stopping on validation AUC.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <teller/ml_stats.h>
#include <teller/nn.h>
#include <teller/nn_io.h>
#include <teller/nn_optim.h>
#include <teller/nn_tabular.h>

/* Rows scored per graph in evaluation: bounds the arena, not the result. */
#define EVAL_CHUNK 4096

struct tl_nn_tabular {
    size_t d;
    int64_t sizes[TL_NN_TABULAR_MAX_HIDDEN + 2];
    int n_sizes;
    tl_nn_params *ps;
    struct tl_nn_mlp mlp;
    tl_encoder *enc;     /* NULL when fitted on matrices */
    char *label, *positive;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void tl_nn_tabular_free(tl_nn_tabular *m)
{
    if (!m)
        return;
    tl_nn_params_free(m->ps);
    tl_encoder_free(m->enc);
    free(m->label);
    free(m->positive);
    free(m);
}

size_t tl_nn_tabular_n_features(const tl_nn_tabular *m)
{
    return m->d;
}

int tl_nn_tabular_parse_hidden(const char *s, struct tl_nn_tabular_opts *o, tl_err *err)
{
    int n = 0;
    int64_t w[TL_NN_TABULAR_MAX_HIDDEN];
    if (!s || !*s || strcmp(s, "0") == 0) {
        o->n_hidden = 0;
        return 0;
    }
    const char *p = s;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536 || (*end && *end != ','))
            return tl_err_set(err, TL_EINVAL, "hidden sizes \"%s\": expected widths 1..65536 "
                                              "separated by commas, e.g. 64,32", s);
        if (n == TL_NN_TABULAR_MAX_HIDDEN)
            return tl_err_set(err, TL_EINVAL, "hidden sizes \"%s\": at most %d layers", s,
                              TL_NN_TABULAR_MAX_HIDDEN);
        w[n++] = v;
        if (!*end)
            break;
        p = end + 1;
    }
    memcpy(o->hidden, w, (size_t)n * sizeof w[0]);
    o->n_hidden = n;
    return 0;
}

static int check_opts(const struct tl_nn_tabular_opts *o, tl_err *err)
{
    if (o->n_hidden < 0 || o->n_hidden > TL_NN_TABULAR_MAX_HIDDEN)
        return tl_err_set(err, TL_EINVAL, "%d hidden layers: 0 to %d allowed", o->n_hidden,
                          TL_NN_TABULAR_MAX_HIDDEN);
    for (int i = 0; i < o->n_hidden; i++)
        if (o->hidden[i] < 1 || o->hidden[i] > 65536)
            return tl_err_set(err, TL_EINVAL, "hidden layer %d has width %lld: 1..65536 allowed",
                              i + 1, (long long)o->hidden[i]);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return tl_err_set(err, TL_EINVAL, "dropout %g is outside [0, 1)", (double)o->dropout);
    if (o->max_epochs < 1 || o->max_epochs > 100000)
        return tl_err_set(err, TL_EINVAL, "epochs %d: 1..100000 allowed", o->max_epochs);
    if (o->patience < 0)
        return tl_err_set(err, TL_EINVAL, "patience %d is negative", o->patience);
    if (o->batch_size > 1000000)
        return tl_err_set(err, TL_EINVAL, "batch size %zu: 1..1000000 allowed", o->batch_size);
    if (!(o->lr > 0 && isfinite(o->lr)))
        return tl_err_set(err, TL_EINVAL, "learning rate %g must be positive", o->lr);
    if (!(o->weight_decay >= 0 && isfinite(o->weight_decay)))
        return tl_err_set(err, TL_EINVAL, "weight decay %g must be >= 0", o->weight_decay);
    if (o->threads < 1 || o->threads > 256)
        return tl_err_set(err, TL_EINVAL, "threads %d: 1..256 allowed", o->threads);
    return 0;
}

int tl_nn_tabular_margins(const tl_nn_tabular *m, const float *X, size_t n, double *z,
                          tl_err *err)
{
    tl_nn_graph *g;
    int rc = tl_nn_graph_new(0, 0, &g, err);
    if (rc < 0)
        return rc;
    tl_nn_graph_set_training(g, false);
    tl_nn_graph_set_grad(g, false);
    for (size_t i = 0; i < n && rc == 0; i += EVAL_CHUNK) {
        size_t k = n - i < EVAL_CHUNK ? n - i : EVAL_CHUNK;
        tl_nn_graph_reset(g);
        tl_tensor *x = tl_nn_tensor_wrap(g, 2, (int64_t[]){(int64_t)k, (int64_t)m->d},
                                         X + i * m->d);
        tl_tensor *out = tl_nn_mlp_forward(g, &m->mlp, x);
        if (!out) {
            rc = tl_nn_graph_error(g, err);
            break;
        }
        for (size_t r = 0; r < k; r++)
            z[i + r] = (double)out->data[r];
    }
    tl_nn_graph_free(g);
    return rc;
}

int tl_nn_tabular_predict(const tl_nn_tabular *m, const float *X, size_t n, double *p,
                          tl_err *err)
{
    int rc = tl_nn_tabular_margins(m, X, n, p, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        p[i] = 1.0 / (1.0 + exp(-p[i]));
    return rc;
}

static int model_new(size_t d, const struct tl_nn_tabular_opts *o, tl_rng *rng,
                     tl_nn_tabular **out, tl_err *err)
{
    tl_nn_tabular *m = calloc(1, sizeof *m);
    if (!m || !(m->ps = tl_nn_params_new())) {
        free(m);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    m->d = d;
    m->sizes[m->n_sizes++] = (int64_t)d;
    for (int i = 0; i < o->n_hidden; i++)
        m->sizes[m->n_sizes++] = o->hidden[i];
    m->sizes[m->n_sizes++] = 1;
    int rc = tl_nn_mlp_init(&m->mlp, m->ps, "mlp", m->sizes, m->n_sizes, TL_NN_ACT_RELU,
                            o->dropout, rng, err);
    if (rc < 0) {
        tl_nn_tabular_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Validation AUC, accuracy and log loss of the current weights. */
static int evaluate(const tl_nn_tabular *m, const float *Xv, const uint8_t *yv, size_t nv,
                    double *p, double *auc, double *acc, double *ll, tl_err *err)
{
    int rc = tl_nn_tabular_predict(m, Xv, nv, p, err);
    if (rc < 0)
        return rc;
    size_t right = 0;
    for (size_t i = 0; i < nv; i++)
        right += (p[i] >= 0.5) == (yv[i] != 0);
    *acc = (double)right / (double)nv;
    rc = tl_ml_auc(p, yv, nv, auc, err);
    if (rc == 0)
        rc = tl_ml_logloss(p, yv, nv, ll, err);
    return rc;
}

int tl_nn_tabular_fit(const float *X, const uint8_t *y, size_t n, const float *Xv,
                      const uint8_t *yv, size_t nv, size_t d,
                      const struct tl_nn_tabular_opts *o, tl_nn_tabular **out,
                      struct tl_nn_tabular_report *report, tl_err *err)
{
    int rc = check_opts(o, err);
    if (rc < 0)
        return rc;
    if (n == 0 || nv == 0 || d == 0)
        return tl_err_set(err, TL_EINVAL, "%zu training rows, %zu validation rows and %zu "
                                          "features: none may be 0", n, nv, d);
    tl_nn_set_blas_threads(o->threads);
    tl_rng rng;
    tl_rng_seed(&rng, o->seed);
    tl_nn_tabular *m = NULL;
    rc = model_new(d, o, &rng, &m, err);
    if (rc < 0)
        return rc;

    size_t bs = o->batch_size;
    if (bs == 0)
        bs = n / 16 < 16 ? 16 : n / 16 > 256 ? 256 : n / 16;
    if (bs > n)
        bs = n;
    size_t np = tl_nn_params_count(m->ps);
    tl_nn_optim_param op[2 * TL_NN_MLP_MAX_LAYERS];
    size_t n_weights = 0;
    for (size_t i = 0; i < np; i++) {
        tl_tensor *t = tl_nn_params_at(m->ps, i);
        op[i] = (tl_nn_optim_param){t->data, t->grad, (size_t)tl_nn_numel(t), t->name,
                                    t->ndim == 1};
        n_weights += op[i].n;
    }
    tl_nn_optim_config cfg;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAMW, &cfg);
    cfg.lr = o->lr;
    cfg.weight_decay = o->weight_decay;
    tl_nn_optim *opt = NULL;
    tl_nn_graph *g = NULL;
    tl_nn_loader *ld = NULL;
    float *xb = malloc(bs * d * sizeof *xb), *yb = malloc(bs * sizeof *yb);
    float *best = malloc(n_weights * sizeof *best);
    double *p = malloc(nv * sizeof *p);
    if (!xb || !yb || !best || !p) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for %zu rows of %zu features", n, d);
        goto out;
    }
    if ((rc = tl_nn_optim_new(&cfg, op, np, &opt, err)) < 0 ||
        (rc = tl_nn_graph_new(0, o->seed ^ 0xd50u, &g, err)) < 0 ||
        (rc = tl_nn_loader_new(n, bs, o->seed, TL_NN_LOADER_SHUFFLE, NULL, &ld, err)) < 0)
        goto out;

    tl_nn_early_stop es;
    tl_nn_early_stop_init(&es, TL_NN_MODE_MAX, o->patience, 0.0, err);
    struct tl_nn_tabular_report r = {.n_train = n, .n_valid = nv, .n_features = d,
                                     .best_epoch = -1};
    double t0 = now_s();
    for (int ep = 0; ep < o->max_epochs && !es.stop; ep++) {
        tl_nn_loader_set_epoch(ld, (uint64_t)ep);
        tl_nn_graph_set_training(g, true);
        double loss_sum = 0;
        for (size_t b = 0; b < tl_nn_loader_n_batches(ld); b++) {
            const size_t *rows;
            size_t k = tl_nn_loader_batch(ld, b, &rows);
            for (size_t i = 0; i < k; i++) {
                memcpy(xb + i * d, X + rows[i] * d, d * sizeof *xb);
                yb[i] = (float)y[rows[i]];
            }
            tl_nn_graph_reset(g);
            tl_tensor *x = tl_nn_tensor_wrap(g, 2, (int64_t[]){(int64_t)k, (int64_t)d}, xb);
            tl_tensor *t = tl_nn_tensor_wrap(g, 2, (int64_t[]){(int64_t)k, 1}, yb);
            tl_tensor *loss = tl_nn_bce_logits(g, tl_nn_mlp_forward(g, &m->mlp, x), t, 1.0f);
            if (!loss) {
                rc = tl_nn_graph_error(g, err);
                goto out;
            }
            loss_sum += (double)loss->data[0] * (double)k;
            tl_nn_optim_zero_grad(opt);
            if ((rc = tl_nn_backward(g, loss, err)) < 0 || (rc = tl_nn_optim_step(opt, err)) < 0)
                goto out;
        }
        double auc, acc, ll;
        if ((rc = evaluate(m, Xv, yv, nv, p, &auc, &acc, &ll, err)) < 0)
            goto out;
        r.epochs_run = ep + 1;
        if (tl_nn_early_stop_update(&es, ep, auc)) {
            r.best_epoch = ep;
            r.valid_auc = auc;
            r.valid_accuracy = acc;
            r.valid_logloss = ll;
            r.train_loss = loss_sum / (double)n;
            size_t off = 0;
            for (size_t i = 0; i < np; i++) {
                memcpy(best + off, op[i].w, op[i].n * sizeof *best);
                off += op[i].n;
            }
        }
    }
    r.train_s = now_s() - t0;
    r.s_per_epoch = r.train_s / (r.epochs_run ? r.epochs_run : 1);
    if (r.best_epoch < 0) {
        rc = tl_err_set(err, TL_EINVAL, "training diverged: the validation AUC was never finite "
                                        "(try a smaller learning rate)");
        goto out;
    }
    size_t off = 0;
    for (size_t i = 0; i < np; i++) {
        memcpy(op[i].w, best + off, op[i].n * sizeof *best);
        off += op[i].n;
    }
    if (report)
        *report = r;
    *out = m;
    m = NULL;
out:
    tl_nn_loader_free(ld);
    tl_nn_graph_free(g);
    tl_nn_optim_free(opt);
    free(xb);
    free(yb);
    free(best);
    free(p);
    tl_nn_tabular_free(m);
    return rc;
}

/* Rows of f with is_valid[i] == want, as a new frame. */
static int sub_frame(const tl_frame *f, const uint8_t *is_valid, uint8_t want, tl_frame **out,
                     tl_err *err)
{
    size_t nc = tl_frame_cols(f);
    const char **names = malloc(nc * sizeof *names), **cells = malloc(nc * sizeof *cells);
    int rc = 0;
    if (!names || !cells) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < nc; c++)
        names[c] = tl_frame_name(f, c);
    if ((rc = tl_frame_new(nc, names, out, err)) < 0)
        goto done;
    for (size_t i = 0; i < tl_frame_rows(f) && rc == 0; i++) {
        if (is_valid[i] != want)
            continue;
        for (size_t c = 0; c < nc; c++)
            cells[c] = tl_frame_cell(f, i, c);
        rc = tl_frame_append(*out, cells, err);
    }
    if (rc < 0) {
        tl_frame_free(*out);
        *out = NULL;
    }
done:
    free(names);
    free(cells);
    return rc;
}

void tl_nn_tabular_data_clear(struct tl_nn_tabular_data *dd)
{
    tl_encoder_free(dd->enc);
    free(dd->X);
    free(dd->y);
    free(dd->Xv);
    free(dd->yv);
    memset(dd, 0, sizeof *dd);
}

int tl_nn_tabular_prepare(const tl_frame *f, const struct tl_nn_tabular_opts *o,
                          struct tl_nn_tabular_data *out, tl_err *err)
{
    if (!o->label)
        return tl_err_set(err, TL_EINVAL, "no label column given");
    if (!(o->valid_frac > 0 && o->valid_frac < 1))
        return tl_err_set(err, TL_EINVAL, "validation share %g is outside (0, 1)", o->valid_frac);
    size_t n = tl_frame_rows(f);
    struct tl_nn_tabular_data dd = {0};
    uint8_t *y = NULL, *is_valid = NULL;
    tl_frame *ftr = NULL, *fva = NULL;
    int rc = tl_frame_label(f, o->label, o->positive, &y, err);
    if (rc < 0)
        return rc;
    if (!(is_valid = malloc(n)) || !(dd.y = malloc(n)) || !(dd.yv = malloc(n))) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tl_ml_stratified_split(y, n, o->valid_frac, o->seed, is_valid, err)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (is_valid[i])
            dd.yv[dd.nv++] = y[i];
        else
            dd.y[dd.n++] = y[i];
    }
    if ((rc = sub_frame(f, is_valid, 0, &ftr, err)) < 0 ||
        (rc = sub_frame(f, is_valid, 1, &fva, err)) < 0)
        goto out;
    /* the encoder sees the training rows only, as credit's does, so the
     * validation figures are honest */
    struct tl_encoder_opts eo = TL_ENCODER_OPTS_DEFAULT;
    eo.label = o->label;
    eo.drop = o->drop;
    eo.n_drop = o->n_drop;
    eo.standardize = true;
    eo.impute = true;
    if ((rc = tl_encoder_fit(ftr, &eo, &dd.enc, err)) < 0)
        goto out;
    dd.d = tl_encoder_n_features(dd.enc);
    dd.X = malloc(dd.n * dd.d * sizeof *dd.X);
    dd.Xv = malloc(dd.nv * dd.d * sizeof *dd.Xv);
    if (!dd.X || !dd.Xv) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for %zu rows of %zu features", n, dd.d);
        goto out;
    }
    if ((rc = tl_encoder_transform(dd.enc, ftr, dd.X, err)) < 0 ||
        (rc = tl_encoder_transform(dd.enc, fva, dd.Xv, err)) < 0)
        goto out;
    *out = dd;
    memset(&dd, 0, sizeof dd);
out:
    tl_nn_tabular_data_clear(&dd);
    tl_frame_free(ftr);
    tl_frame_free(fva);
    free(y);
    free(is_valid);
    return rc;
}

int tl_nn_tabular_train(const tl_frame *f, const struct tl_nn_tabular_opts *o,
                        tl_nn_tabular **out, struct tl_nn_tabular_report *report, tl_err *err)
{
    int rc = check_opts(o, err);
    if (rc < 0)
        return rc;
    struct tl_nn_tabular_data dd;
    if ((rc = tl_nn_tabular_prepare(f, o, &dd, err)) < 0)
        return rc;
    tl_nn_tabular *m = NULL;
    rc = tl_nn_tabular_fit(dd.X, dd.y, dd.n, dd.Xv, dd.yv, dd.nv, dd.d, o, &m, report, err);
    if (rc == 0) {
        m->enc = dd.enc;
        dd.enc = NULL;
        m->label = dup_or_null(o->label);
        m->positive = dup_or_null(o->positive);
        if (!m->label || (o->positive && !m->positive)) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            tl_nn_tabular_free(m);
            m = NULL;
        }
    }
    tl_nn_tabular_data_clear(&dd);
    if (rc == 0)
        *out = m;
    return rc;
}

/* Writes m as safetensors to path, or to a malloc'd buffer when path is NULL. */
static int save_to(const tl_nn_tabular *m, const char *path, uint8_t **buf, size_t *buf_len,
                   tl_err *err)
{
    size_t np = tl_nn_params_count(m->ps);
    tl_nn_st_tensor ts[2 * TL_NN_MLP_MAX_LAYERS];
    for (size_t i = 0; i < np; i++) {
        const tl_tensor *t = tl_nn_params_at(m->ps, i);
        ts[i] = (tl_nn_st_tensor){t->name, t->data, t->shape, t->ndim};
    }
    char hidden[TL_NN_TABULAR_MAX_HIDDEN * 8 + 2] = "";
    size_t len = 0;
    for (int i = 1; i + 1 < m->n_sizes; i++)
        len += (size_t)snprintf(hidden + len, sizeof hidden - len, "%s%lld", i > 1 ? "," : "",
                                (long long)m->sizes[i]);
    char *enc_json = NULL, *feat_json = NULL;
    if (m->enc) {
        json_t *j = tl_encoder_to_json(m->enc), *names = json_array();
        for (size_t k = 0; names && k < tl_encoder_n_features(m->enc); k++)
            json_array_append_new(names, json_string(tl_encoder_feature_name(m->enc, k)));
        enc_json = j ? json_dumps(j, JSON_COMPACT) : NULL;
        feat_json = names ? json_dumps(names, JSON_COMPACT) : NULL;
        json_decref(j);
        json_decref(names);
        if (!enc_json || !feat_json) {
            free(enc_json);
            free(feat_json);
            return tl_err_set(err, TL_ENOMEM, "out of memory");
        }
    }
    const char *meta[16] = {"format", "pt", "teller.kind", "nn-tabular", "teller.hidden", hidden};
    size_t nm = 3;
    if (enc_json) {
        meta[2 * nm] = "teller.encoder", meta[2 * nm + 1] = enc_json, nm++;
        meta[2 * nm] = "teller.features", meta[2 * nm + 1] = feat_json, nm++;
    }
    if (m->label)
        meta[2 * nm] = "teller.label", meta[2 * nm + 1] = m->label, nm++;
    if (m->positive)
        meta[2 * nm] = "teller.positive", meta[2 * nm + 1] = m->positive, nm++;
    int rc = path ? tl_nn_safetensors_write(path, ts, np, meta, nm, err)
                  : tl_nn_safetensors_write_mem(ts, np, meta, nm, buf, buf_len, err);
    free(enc_json);
    free(feat_json);
    return rc;
}

int tl_nn_tabular_save(const tl_nn_tabular *m, const char *path, tl_err *err)
{
    return save_to(m, path, NULL, NULL, err);
}

int tl_nn_tabular_save_mem(const tl_nn_tabular *m, uint8_t **out, size_t *len, tl_err *err)
{
    return save_to(m, NULL, out, len, err);
}

int tl_nn_tabular_load_mem(const uint8_t *buf, size_t len, const char *source,
                           tl_nn_tabular **out, tl_err *err)
{
    tl_nn_st_file *f = NULL;
    int rc = tl_nn_safetensors_parse(buf, len, source, &f, err);
    if (rc < 0)
        return rc;
    const char *kind = tl_nn_safetensors_meta(f, "teller.kind");
    const char *hidden = tl_nn_safetensors_meta(f, "teller.hidden");
    struct tl_nn_tabular_opts o = TL_NN_TABULAR_OPTS_DEFAULT;
    tl_nn_st_info first;
    tl_nn_tabular *m = NULL;
    if (!kind || strcmp(kind, "nn-tabular") != 0 || !hidden) {
        rc = tl_err_set(err, TL_EPARSE, "%s: not a tabular MLP (teller.kind nn-tabular and "
                                        "teller.hidden expected)", source);
    } else if ((rc = tl_nn_tabular_parse_hidden(hidden, &o, err)) < 0) {
        tl_err_prefix(err, "%s: teller.hidden", source);
    } else {
        /* the input width is the first layer's: mlp.0.weight is (d, h1) */
        size_t idx = 0;
        rc = tl_nn_safetensors_find(f, "mlp.0.weight", &idx, err);
        if (rc == 0)
            rc = tl_nn_safetensors_info(f, idx, &first, err);
        if (rc < 0)
            tl_err_prefix(err, "%s", source);
    }
    if (rc == 0) {
        int64_t h1 = o.n_hidden ? o.hidden[0] : 1;
        int64_t d = first.ndim == 2 && first.shape[1] == h1 ? first.shape[0] : 0;
        tl_rng rng;
        tl_rng_seed(&rng, 0);
        if (d < 1)
            rc = tl_err_set(err, TL_EPARSE, "%s: mlp.0.weight has a bad shape", source);
        else
            rc = model_new((size_t)d, &o, &rng, &m, err);
    }
    for (size_t i = 0; rc == 0 && i < tl_nn_params_count(m->ps); i++) {
        tl_tensor *t = tl_nn_params_at(m->ps, i);
        rc = tl_nn_safetensors_read_f32(f, t->name, t->shape, t->ndim, t->data,
                                        (size_t)tl_nn_numel(t), err);
        if (rc < 0)
            tl_err_prefix(err, "%s", source);
    }
    tl_nn_safetensors_close(f);
    if (rc < 0) {
        tl_nn_tabular_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
