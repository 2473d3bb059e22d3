/*
 * recommend_ranker.c - the neural ranker R(u,p) = sigmoid(MLP([h_u, h_p,
 * context])) on the nn engine.
 *
 * h_u: the customer's embedding (RK_EMB wide; row n_users is the learned
 * "unknown customer", which a share of training rows use instead of their
 * own row so that it learns what a customer with no history looks like)
 * beside the customer's standardized profile features. h_p: the product's
 * embedding (row n_items for a product the model has not seen) beside its
 * attributes. context: whether the customer holds another product of the
 * same category, and how many products the customer holds.
 *
 * The held-category flags never include the product being scored: holdings
 * are positives, so a flag that included the target would teach the ranker
 * "customers hold what they hold" and nothing else.
 *
 * Trained on positives against sampled negatives (BCE, AdamW), negatives
 * drawn afresh every epoch, with early stopping on a validation split when
 * one is given; the best epoch's weights are kept.
 */
#include "recommend_internal.h"

#include <teller/nn_io.h>
#include <teller/nn_optim.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RK_CTX 2
#define RK_DX (RK_DU + RK_DP + RK_CTX)
#define RK_H1 32
#define RK_H2 16
#define RK_BATCH 256

struct rk_model {
    int32_t n_users, n_items;
    tl_nn_params *ps;
    struct tl_nn_embedding_layer ue, pe;
    struct tl_nn_mlp mlp;
    float u_mean[RK_DU], u_std[RK_DU];
};

static const char *const SIGNALS[RK_N_SIGNALS] = {"new_rent", "new_mortgage", "new_loan",
                                                  "children", "travel"};

static float log_money(int64_t minor)
{
    return minor > 0 ? (float)log1p((double)minor / 100.0) : 0.0f;
}

void tl__rk_user_features(const struct tl_profile *pf, const struct rc_catalogue *c,
                          const uint8_t *held, float *u)
{
    memset(u, 0, RK_DU * sizeof *u);
    u[0] = log_money(pf->income_monthly_minor);
    u[1] = (float)(pf->age_years > 0 ? pf->age_years : 0);
    u[2] = (float)pf->tenure_months;
    u[3] = log_money(pf->spending_monthly_minor);
    u[4] = pf->savings_rate_known ? (float)fmax(-2.0, fmin(1.0, pf->savings_rate)) : 0.0f;
    u[5] = log_money(pf->balance_minor);
    u[6] = log_money(pf->debt_minor);
    u[7] = (float)pf->n_product_categories;
    int o = 8;
    double sp = (double)pf->spending_monthly_minor;
    for (int k = 0; k < TL_CAT_COUNT; k++)
        u[o + k] = sp > 0 ? (float)((double)pf->spending_by_category_minor[k] / sp) : 0.0f;
    o += TL_CAT_COUNT;
    for (size_t s = 0; s < pf->n_signals; s++)
        for (int k = 0; k < RK_N_SIGNALS; k++)
            if (strcmp(pf->signals[s].kind, SIGNALS[k]) == 0)
                u[o + k] = 1.0f;
    o += RK_N_SIGNALS;
    int seg = pf->segment >= 0 && pf->segment < TL_SEGMENT_MAX_K ? pf->segment : TL_SEGMENT_MAX_K;
    u[o + seg] = 1.0f;
    o += RK_N_SEG;
    for (int32_t i = 0; held && i < c->n; i++)
        if (held[i] && c->p[i].cat >= 0)
            u[o + c->p[i].cat] = 1.0f;
}

void tl__rk_product_features(const struct rc_product *p, float *f)
{
    memset(f, 0, RK_DP * sizeof *f);
    if (p->cat >= 0)
        f[p->cat] = 1.0f;
    int o = RC_CAT_COUNT;
    f[o + 0] = (float)p->risk / 5.0f;
    f[o + 1] = p->rate_bp > 0 ? (float)p->rate_bp / 1000.0f : 0.0f;
    f[o + 2] = p->fee_minor > 0 ? log_money(p->fee_minor) / 5.0f : 0.0f;
    f[o + 3] = p->min_income_minor > 0 ? log_money(p->min_income_minor) / 10.0f : 0.0f;
    f[o + 4] = tl__rc_is_investment(p) ? 1.0f : 0.0f;
    f[o + 5] = (float)p->min_age / 100.0f;
    f[o + 6] = (float)p->max_age / 100.0f;
}

static int build(rk_model *m, tl_rng *rng, tl_err *err)
{
    m->ps = tl_nn_params_new();
    if (!m->ps)
        return tl_err_set(err, TL_ENOMEM, "out of memory building the ranker");
    int rc;
    if ((rc = tl_nn_embedding_init(&m->ue, m->ps, "user", m->n_users + 1, RK_EMB, rng, err)) < 0 ||
        (rc = tl_nn_embedding_init(&m->pe, m->ps, "item", m->n_items + 1, RK_EMB, rng, err)) < 0)
        return rc;
    /* N(0, 1) embeddings would drown the standardized features: start small */
    for (int64_t i = 0; i < tl_nn_numel(m->ue.weight); i++)
        m->ue.weight->data[i] *= 0.1f;
    for (int64_t i = 0; i < tl_nn_numel(m->pe.weight); i++)
        m->pe.weight->data[i] *= 0.1f;
    int64_t sizes[] = {2 * RK_EMB + RK_DX, RK_H1, RK_H2, 1};
    return tl_nn_mlp_init(&m->mlp, m->ps, "mlp", sizes, 4, TL_NN_ACT_RELU, 0.1f, rng, err);
}

void tl__rk_free(rk_model *m)
{
    if (!m)
        return;
    tl_nn_params_free(m->ps);
    free(m);
}

/* One row's dense input: standardized user features with the held flags
 * recomputed without the target, product features, context. cnt[c] counts
 * the customer's held products per category; held_target says whether the
 * target itself is one of them. */
static void row_x(const rk_model *m, const float *ufeat, const int *cnt, bool held_target,
                  const float *pfeat, int cat, float *x)
{
    int n_held = 0;
    for (int c = 0; c < RC_CAT_COUNT; c++)
        n_held += cnt[c];
    for (int j = 0; j < RK_DU; j++) {
        float raw = ufeat[j];
        if (j >= RK_HELD_OFF) {
            int c = j - RK_HELD_OFF;
            int n = cnt[c] - (c == cat && held_target ? 1 : 0);
            raw = n > 0 ? 1.0f : 0.0f;
        }
        x[j] = (raw - m->u_mean[j]) / m->u_std[j];
    }
    memcpy(x + RK_DU, pfeat, RK_DP * sizeof *x);
    int other = cat >= 0 ? cnt[cat] - (held_target ? 1 : 0) : 0;
    x[RK_DU + RK_DP] = other > 0 ? 1.0f : 0.0f;
    x[RK_DU + RK_DP + 1] = (float)(n_held - (held_target ? 1 : 0)) / 5.0f;
}

static tl_tensor *forward(tl_nn_graph *g, const rk_model *m, const int32_t *iu, const int32_t *ip,
                          const float *x, int64_t n)
{
    tl_tensor *eu = tl_nn_embedding_forward(g, &m->ue, iu, n);
    tl_tensor *ep = tl_nn_embedding_forward(g, &m->pe, ip, n);
    tl_tensor *xx = tl_nn_tensor_wrap(g, 2, (int64_t[]){n, RK_DX}, x);
    tl_tensor *parts[3] = {eu, ep, xx};
    return tl_nn_mlp_forward(g, &m->mlp, tl_nn_concat(g, parts, 3, 1));
}

/* ---- training ----------------------------------------------------------------------- */

struct rows {
    int32_t *u, *p, *iu, *ip;
    float *y;
    int64_t n, cap;
};

static int rows_push(struct rows *r, int32_t u, int32_t p, int32_t iu, int32_t ip, float y)
{
    if (r->n == r->cap) {
        int64_t cap = r->cap ? r->cap * 2 : 4096;
        int32_t *a = realloc(r->u, (size_t)cap * sizeof *a);
        if (a)
            r->u = a;
        int32_t *b = realloc(r->p, (size_t)cap * sizeof *b);
        if (b)
            r->p = b;
        int32_t *c = realloc(r->iu, (size_t)cap * sizeof *c);
        if (c)
            r->iu = c;
        int32_t *d = realloc(r->ip, (size_t)cap * sizeof *d);
        if (d)
            r->ip = d;
        float *e = realloc(r->y, (size_t)cap * sizeof *e);
        if (e)
            r->y = e;
        if (!a || !b || !c || !d || !e)
            return TL_ENOMEM;
        r->cap = cap;
    }
    r->u[r->n] = u;
    r->p[r->n] = p;
    r->iu[r->n] = iu;
    r->ip[r->n] = ip;
    r->y[r->n++] = y;
    return 0;
}

static void rows_free(struct rows *r)
{
    free(r->u);
    free(r->p);
    free(r->iu);
    free(r->ip);
    free(r->y);
    memset(r, 0, sizeof *r);
}

static bool csr_has(const struct tl_rec_csr *a, int32_t r, int32_t c)
{
    if (!a || r >= a->n_rows)
        return false;
    int64_t lo = a->ptr[r], hi = a->ptr[r + 1] - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a->idx[mid] == c)
            return true;
        if (a->idx[mid] < c)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return false;
}

/* Positives of pos (label 1) and n_neg sampled non-positives each (not in
 * pos nor in also), with the unknown rows at rates cold_p / cold_p / 4. */
static int make_rows(const struct rk_train_data *d, const struct tl_rec_csr *pos,
                     const struct tl_rec_csr *also, int n_neg, double cold_p, tl_rng *rng,
                     struct rows *r)
{
    r->n = 0;
    for (int32_t u = 0; u < pos->n_rows; u++) {
        int64_t npos = pos->ptr[u + 1] - pos->ptr[u];
        int64_t taken = npos + (also && u < also->n_rows ? also->ptr[u + 1] - also->ptr[u] : 0);
        for (int64_t e = pos->ptr[u]; e < pos->ptr[u + 1]; e++) {
            int32_t p = pos->idx[e];
            bool cold = tl_rng_uniform(rng) < cold_p;
            int32_t iu = cold ? d->n_users : u;
            int32_t ip = tl_rng_uniform(rng) < cold_p / 4 ? d->n_items : p;
            if (rows_push(r, u, p, iu, ip, 1.0f) < 0)
                return TL_ENOMEM;
            if (taken >= d->n_items)
                continue;
            for (int k = 0; k < n_neg; k++) {
                int32_t q;
                int tries = 0;
                do
                    q = (int32_t)tl_rng_below(rng, (uint64_t)d->n_items);
                while ((csr_has(pos, u, q) || csr_has(also, u, q)) && ++tries < 50);
                if (tries >= 50)
                    break;
                if (rows_push(r, u, q, iu, tl_rng_uniform(rng) < cold_p / 4 ? d->n_items : q,
                              0.0f) < 0)
                    return TL_ENOMEM;
            }
        }
    }
    return 0;
}

static void held_counts(const struct rk_train_data *d, int32_t u, int *cnt)
{
    memset(cnt, 0, RC_CAT_COUNT * sizeof *cnt);
    if (!d->held || u >= d->held->n_rows)
        return;
    for (int64_t e = d->held->ptr[u]; e < d->held->ptr[u + 1]; e++) {
        int c = d->item_cat[d->held->idx[e]];
        if (c >= 0)
            cnt[c]++;
    }
}

static void batch_x(const rk_model *m, const struct rk_train_data *d, const struct rows *r,
                    const size_t *order, size_t from, size_t n, float *x, int32_t *iu,
                    int32_t *ip, float *y)
{
    int cnt[RC_CAT_COUNT];
    for (size_t b = 0; b < n; b++) {
        size_t i = order ? order[from + b] : from + b;
        int32_t u = r->u[i], p = r->p[i];
        held_counts(d, u, cnt);
        row_x(m, d->ufeat + (size_t)u * RK_DU, cnt, csr_has(d->held, u, p),
              d->pfeat + (size_t)p * RK_DP, d->item_cat[p], x + b * RK_DX);
        iu[b] = r->iu[i];
        ip[b] = r->ip[i];
        y[b] = r->y[i];
    }
}

static int params_list(tl_nn_params *ps, tl_nn_optim_param **out, size_t *n)
{
    size_t np = tl_nn_params_count(ps);
    tl_nn_optim_param *v = calloc(np, sizeof *v);
    if (!v)
        return TL_ENOMEM;
    for (size_t i = 0; i < np; i++) {
        tl_tensor *t = tl_nn_params_at(ps, i);
        v[i] = (tl_nn_optim_param){t->data, t->grad, (size_t)tl_nn_numel(t), t->name,
                                   strstr(t->name, "bias") != NULL};
    }
    *out = v;
    *n = np;
    return 0;
}

static void snapshot(tl_nn_params *ps, float *buf, bool restore)
{
    size_t off = 0;
    for (size_t i = 0; i < tl_nn_params_count(ps); i++) {
        tl_tensor *t = tl_nn_params_at(ps, i);
        size_t n = (size_t)tl_nn_numel(t);
        if (restore)
            memcpy(t->data, buf + off, n * sizeof *buf);
        else
            memcpy(buf + off, t->data, n * sizeof *buf);
        off += n;
    }
}

int tl__rk_fit(const struct rk_train_data *d, const struct rk_train_opts *o, rk_model **out,
               struct rk_train_report *rep, tl_err *err)
{
    if (d->n_users < 1 || d->n_items < 2 || !d->pos || d->pos->n_rows != d->n_users ||
        d->pos->n_cols != d->n_items)
        return tl_err_set(err, TL_EINVAL, "ranker: needs at least 1 customer and 2 products "
                                          "with a matching positives matrix");
    rk_model *m = calloc(1, sizeof *m);
    if (!m)
        return tl_err_set(err, TL_ENOMEM, "out of memory building the ranker");
    m->n_users = d->n_users;
    m->n_items = d->n_items;
    /* standardization over the training customers */
    for (int j = 0; j < RK_DU; j++) {
        double s = 0, s2 = 0;
        for (int32_t u = 0; u < d->n_users; u++) {
            double v = d->ufeat[(size_t)u * RK_DU + j];
            s += v;
            s2 += v * v;
        }
        double mean = s / d->n_users, var = s2 / d->n_users - mean * mean;
        m->u_mean[j] = (float)mean;
        m->u_std[j] = var > 1e-10 ? (float)sqrt(var) : 1.0f;
    }
    tl_rng rng;
    tl_rng_seed(&rng, o->seed ? o->seed : 1);
    int rc = build(m, &rng, err);
    tl_nn_graph *g = NULL;
    tl_nn_optim *opt = NULL;
    tl_nn_optim_param *op = NULL;
    size_t n_op = 0;
    struct rows tr = {0}, va = {0};
    float *x = NULL, *y = NULL, *best = NULL;
    int32_t *iu = NULL, *ip = NULL;
    size_t *order = NULL;
    if (rc < 0)
        goto done;
    if ((rc = tl_nn_graph_new(0, o->seed, &g, err)) < 0)
        goto done;
    if (params_list(m->ps, &op, &n_op) < 0) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory building the ranker");
        goto done;
    }
    tl_nn_optim_config oc;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAMW, &oc);
    oc.lr = o->lr > 0 ? o->lr : 3e-3;
    oc.weight_decay = 1e-4;
    if ((rc = tl_nn_optim_new(&oc, op, n_op, &opt, err)) < 0)
        goto done;
    size_t cap = RK_BATCH;
    x = malloc(cap * RK_DX * sizeof *x);
    y = malloc(cap * sizeof *y);
    iu = malloc(cap * sizeof *iu);
    ip = malloc(cap * sizeof *ip);
    best = malloc((size_t)tl_nn_params_numel(m->ps) * sizeof *best);
    if (!x || !y || !iu || !ip || !best) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory training the ranker");
        goto done;
    }
    tl_rng vr;
    tl_rng_seed(&vr, (o->seed ? o->seed : 1) ^ 0x9e3779b97f4a7c15ULL);
    if (d->valid && make_rows(d, d->valid, d->pos, o->n_neg > 0 ? o->n_neg : 3, 0.0, &vr, &va) < 0) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory training the ranker");
        goto done;
    }
    tl_nn_early_stop es;
    tl_nn_early_stop_init(&es, TL_NN_MODE_MIN, o->patience > 0 ? o->patience : 4, 1e-4, NULL);
    int epochs = o->epochs > 0 ? o->epochs : 40;
    rep->epochs_run = 0;
    rep->best_epoch = epochs - 1;
    rep->best_valid_loss = NAN;
    bool have_best = false;
    for (int ep = 0; ep < epochs; ep++) {
        if (make_rows(d, d->pos, NULL, o->n_neg > 0 ? o->n_neg : 3, o->cold_p, &rng, &tr) < 0) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory training the ranker");
            goto done;
        }
        free(order);
        order = malloc((size_t)tr.n * sizeof *order);
        if (!order) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory training the ranker");
            goto done;
        }
        for (int64_t i = 0; i < tr.n; i++)
            order[i] = (size_t)i;
        tl_rng_shuffle(&rng, order, (size_t)tr.n);
        tl_nn_graph_set_training(g, true);
        tl_nn_graph_set_grad(g, true);
        for (size_t from = 0; from < (size_t)tr.n; from += RK_BATCH) {
            size_t n = (size_t)tr.n - from < RK_BATCH ? (size_t)tr.n - from : RK_BATCH;
            batch_x(m, d, &tr, order, from, n, x, iu, ip, y);
            tl_nn_graph_reset(g);
            tl_tensor *logit = forward(g, m, iu, ip, x, (int64_t)n);
            tl_tensor *t = tl_nn_tensor_wrap(g, 2, (int64_t[]){(int64_t)n, 1}, y);
            tl_tensor *loss = tl_nn_bce_logits(g, logit, t, 1.0f);
            if (!loss) {
                rc = tl_nn_graph_error(g, err);
                goto done;
            }
            tl_nn_params_zero_grad(m->ps);
            if ((rc = tl_nn_backward(g, loss, err)) < 0 ||
                (rc = tl_nn_clip_grad_norm(op, n_op, 5.0, NULL, err)) < 0 ||
                (rc = tl_nn_optim_step(opt, err)) < 0)
                goto done;
        }
        rep->epochs_run = ep + 1;
        if (!d->valid || va.n == 0)
            continue;
        /* validation loss, dropout off, no tape */
        tl_nn_graph_set_training(g, false);
        tl_nn_graph_set_grad(g, false);
        double sum = 0;
        for (size_t from = 0; from < (size_t)va.n; from += RK_BATCH) {
            size_t n = (size_t)va.n - from < RK_BATCH ? (size_t)va.n - from : RK_BATCH;
            batch_x(m, d, &va, NULL, from, n, x, iu, ip, y);
            tl_nn_graph_reset(g);
            tl_tensor *logit = forward(g, m, iu, ip, x, (int64_t)n);
            tl_tensor *t = tl_nn_tensor_wrap(g, 2, (int64_t[]){(int64_t)n, 1}, y);
            tl_tensor *loss = tl_nn_bce_logits(g, logit, t, 1.0f);
            if (!loss) {
                rc = tl_nn_graph_error(g, err);
                goto done;
            }
            sum += (double)loss->data[0] * (double)n;
        }
        double vl = sum / (double)va.n;
        if (tl_nn_early_stop_update(&es, ep, vl)) {
            snapshot(m->ps, best, false);
            have_best = true;
            rep->best_epoch = ep;
            rep->best_valid_loss = vl;
        }
        if (es.stop)
            break;
    }
    if (have_best)
        snapshot(m->ps, best, true);
    rc = 0;
done:
    rows_free(&tr);
    rows_free(&va);
    free(order);
    free(x);
    free(y);
    free(iu);
    free(ip);
    free(best);
    free(op);
    tl_nn_optim_free(opt);
    tl_nn_graph_free(g);
    if (rc < 0) {
        tl__rk_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- scoring -------------------------------------------------------------------------- */

int tl__rk_score(const rk_model *m, int32_t user, const float *ufeat, const uint8_t *held,
                 int32_t n_items, const float *pfeat, const int *item_cat,
                 const int32_t *item_map, float *out, tl_err *err)
{
    if (n_items <= 0)
        return 0;
    int cnt[RC_CAT_COUNT] = {0};
    for (int32_t i = 0; held && i < n_items; i++)
        if (held[i] && item_cat[i] >= 0)
            cnt[item_cat[i]]++;
    float *x = malloc((size_t)n_items * RK_DX * sizeof *x);
    int32_t *iu = malloc((size_t)n_items * sizeof *iu);
    int32_t *ip = malloc((size_t)n_items * sizeof *ip);
    tl_nn_graph *g = NULL;
    int rc = 0;
    if (!x || !iu || !ip) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory scoring with the ranker");
        goto done;
    }
    int32_t uu = user >= 0 && user < m->n_users ? user : m->n_users;
    for (int32_t i = 0; i < n_items; i++) {
        int32_t mi = item_map ? item_map[i] : i;
        row_x(m, ufeat, cnt, held && held[i], pfeat + (size_t)i * RK_DP, item_cat[i],
              x + (size_t)i * RK_DX);
        iu[i] = uu;
        ip[i] = mi >= 0 && mi < m->n_items ? mi : m->n_items;
    }
    if ((rc = tl_nn_graph_new(0, 1, &g, err)) < 0)
        goto done;
    tl_nn_graph_set_training(g, false);
    tl_nn_graph_set_grad(g, false);
    tl_tensor *logit = forward(g, m, iu, ip, x, n_items);
    if (!logit) {
        rc = tl_nn_graph_error(g, err);
        goto done;
    }
    for (int32_t i = 0; i < n_items; i++)
        out[i] = (float)(1.0 / (1.0 + exp(-(double)tl_nn_tensor_get(logit, i))));
done:
    tl_nn_graph_free(g);
    free(x);
    free(iu);
    free(ip);
    return rc;
}

/* ---- serialization ------------------------------------------------------------------- */

int tl__rk_save(const rk_model *m, json_t **meta, uint8_t **weights, size_t *len, tl_err *err)
{
    size_t np = tl_nn_params_count(m->ps);
    tl_nn_st_tensor *t = calloc(np, sizeof *t);
    if (!t)
        return tl_err_set(err, TL_ENOMEM, "out of memory saving the ranker");
    for (size_t i = 0; i < np; i++) {
        tl_tensor *p = tl_nn_params_at(m->ps, i);
        t[i] = (tl_nn_st_tensor){p->name, p->data, p->shape, p->ndim};
    }
    int rc = tl_nn_safetensors_write_mem(t, np, NULL, 0, weights, len, err);
    free(t);
    if (rc < 0)
        return rc;
    json_t *mean = json_array(), *std = json_array();
    for (int j = 0; j < RK_DU; j++) {
        json_array_append_new(mean, json_real(m->u_mean[j]));
        json_array_append_new(std, json_real(m->u_std[j]));
    }
    *meta = json_pack("{s:i,s:i,s:i,s:i,s:i,s:[i,i],s:o,s:o}", "n_users", (int)m->n_users,
                      "n_items", (int)m->n_items, "emb", RK_EMB, "du", RK_DU, "dp", RK_DP,
                      "hidden", RK_H1, RK_H2, "u_mean", mean, "u_std", std);
    if (!*meta) {
        free(*weights);
        *weights = NULL;
        return tl_err_set(err, TL_ENOMEM, "out of memory saving the ranker");
    }
    return 0;
}

int tl__rk_load(const json_t *meta, const uint8_t *weights, size_t len, rk_model **out,
                tl_err *err)
{
    json_t *mean = json_object_get(meta, "u_mean"), *std = json_object_get(meta, "u_std");
    json_int_t nu = json_integer_value(json_object_get(meta, "n_users"));
    json_int_t ni = json_integer_value(json_object_get(meta, "n_items"));
    if (json_integer_value(json_object_get(meta, "emb")) != RK_EMB ||
        json_integer_value(json_object_get(meta, "du")) != RK_DU ||
        json_integer_value(json_object_get(meta, "dp")) != RK_DP || nu < 1 || ni < 1 ||
        nu > 100000000 || ni > 10000000 || json_array_size(mean) != RK_DU ||
        json_array_size(std) != RK_DU)
        return tl_err_set(err, TL_EPARSE, "ranker: the artifact's shapes do not match this "
                                          "build's features (retrain with `teller recommend train`)");
    rk_model *m = calloc(1, sizeof *m);
    if (!m)
        return tl_err_set(err, TL_ENOMEM, "out of memory loading the ranker");
    m->n_users = (int32_t)nu;
    m->n_items = (int32_t)ni;
    for (int j = 0; j < RK_DU; j++) {
        m->u_mean[j] = (float)json_number_value(json_array_get(mean, (size_t)j));
        m->u_std[j] = (float)json_number_value(json_array_get(std, (size_t)j));
        if (!isfinite(m->u_mean[j]) || !(m->u_std[j] > 0)) {
            free(m);
            return tl_err_set(err, TL_EPARSE, "ranker: standardization %d is not finite", j);
        }
    }
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    tl_nn_st_file *f = NULL;
    int rc = build(m, &rng, err);
    if (rc == 0)
        rc = tl_nn_safetensors_parse(weights, len, "ranker weights", &f, err);
    for (size_t i = 0; rc == 0 && i < tl_nn_params_count(m->ps); i++) {
        tl_tensor *p = tl_nn_params_at(m->ps, i);
        rc = tl_nn_safetensors_read_f32(f, p->name, p->shape, p->ndim, p->data,
                                        (size_t)tl_nn_numel(p), err);
        for (int64_t e = 0; rc == 0 && e < tl_nn_numel(p); e++)
            if (!isfinite(p->data[e]))
                rc = tl_err_set(err, TL_EPARSE, "ranker: %s holds a non-finite weight", p->name);
    }
    tl_nn_safetensors_close(f);
    if (rc < 0) {
        tl__rk_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
