/*
 * fraud_train.c - `teller fraud train`: a fraud model from a labelled
 * history (a fraud_sim-format file or the store's card transactions),
 * registered with its thresholds and model card.
 *
 * Why it is built this way:
 * - Every transaction, labelled or not, goes through one stream engine in
 *   time order with its label, exactly as live scoring will see it; the
 *   engine's delayed terminal windows only count labels old enough to have
 *   arrived, so replaying with all labels known is still honest.
 * - The last delay_days are left out (their frauds are not all reported
 *   yet: training on them would teach "recent = genuine"). Of the rest, the
 *   last valid_days choose the number of boosting rounds, the weight of the
 *   isolation forest for cold cards and the thresholds; the trees are then
 *   refitted on the whole period with that many rounds (as fraud_eval does).
 *   With with_lr a logistic regression (standardized features) is fitted
 *   too and blended with the trees' probability at the weight of 0, 0.25,
 *   0.5 that ranks the validation days best; it is refitted likewise. The
 *   reasons stay the trees': a blend has no attribution of its own.
 * - Thresholds are set where a bank sets them: review at the share of
 *   transactions its analysts can look at, block where the model is right
 *   often enough to stop a payment without a person.
 */
#include <teller/datetime.h>
#include <teller/fraud.h>
#include <teller/fraud_alerts.h>
#include <teller/ml_iforest.h>
#include <teller/ml_models.h>
#include <teller/ml_stats.h>
#include <teller/money.h>
#include <teller/registry.h>

#include "fraud_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400
#define MAX_ROWS 50000000u
#define COLD_MAX_TX 2
#define DEFAULT_WEIGHT 0.3

static const double weights[] = {0, 0.15, 0.3, 0.5};
#define N_WEIGHTS (sizeof weights / sizeof weights[0])
/* the logistic regression's weight in the blend (--with-lr) */
static const double lr_weights[] = {0, 0.25, 0.5};
#define N_LR_WEIGHTS (sizeof lr_weights / sizeof lr_weights[0])

static const char INTENDED_USE[] =
    "Scores card payments as they arrive (teller fraud stream, the HTTP API) to allow, review or "
    "block them, with the features that drove the score. Decisions above the review threshold go "
    "to the bank's analysts; the block threshold stops a payment without a person only where the "
    "model was precise enough on the validation days. The bank's rules take precedence.";
static const char LIMITATIONS[] =
    "Learns the fraud patterns of its training history: new schemes score low until they are "
    "labelled and the model retrained. Labels of the last delay days were left out, so training "
    "lags the newest fraud by that delay. Cards with little history are scored partly by an "
    "isolation forest, which flags the unusual, not the fraudulent. Amounts are in the training "
    "currency; transactions in other currencies were left out of training. Thresholds were set "
    "on the validation days and drift with the fraud rate: check the review rate in production.";

/* ---- distinct cards ---------------------------------------------------------- */

struct set {
    char **v;
    size_t n, cap; /* cap a power of two */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int set_add(struct set *s, const char *k)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char **v = calloc(cap, sizeof *v);
        if (!v)
            return TL_ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i]) {
                size_t h = (size_t)fnv1a(s->v[i]) & (cap - 1);
                while (v[h])
                    h = (h + 1) & (cap - 1);
                v[h] = s->v[i];
            }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t h = (size_t)fnv1a(k) & (s->cap - 1);
    while (s->v[h]) {
        if (strcmp(s->v[h], k) == 0)
            return 0;
        h = (h + 1) & (s->cap - 1);
    }
    if (!(s->v[h] = strdup(k)))
        return TL_ENOMEM;
    s->n++;
    return 0;
}

static void set_clear(struct set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i]);
    free(s->v);
}

/* ---- replaying the history ----------------------------------------------------- */

struct hist {
    tl_stream *st;
    struct tl__fraud_derive dv;
    size_t d, nb_longest;
    float *X;      /* (n, d) the labelled rows' features */
    int32_t *day;  /* (n) */
    uint8_t *y;    /* (n) */
    uint8_t *cold; /* (n) */
    size_t n, cap;
    size_t n_tx;          /* transactions taken (duplicates not counted) */
    size_t n_other_currency;
    struct set cards;
    bool any;
    int64_t newest_s;
    char currency[4];
    int exponent;
    const char *source;
};

static int hist_take(struct hist *h, const struct tl_stream_tx *tx, tl_err *err)
{
    double f[TL__FRAUD_MAX_FEATURES];
    int u = tl_stream_update(h->st, tx, f, err);
    if (u < 0)
        return u;
    if (u == TL_STREAM_DUPLICATE)
        return 0;
    h->n_tx++;
    if (set_add(&h->cards, tx->customer_id) < 0)
        return tl_err_set(err, TL_ENOMEM, "out of memory counting cards");
    if (!h->any || tx->ts_s > h->newest_s)
        h->newest_s = tx->ts_s;
    h->any = true;
    if (tx->label < 0)
        return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 65536;
        if (cap > MAX_ROWS)
            return tl_err_set(err, TL_ETOOBIG, "more than %u labelled transactions", MAX_ROWS);
        float *X = realloc(h->X, cap * h->d * sizeof *X);
        if (X)
            h->X = X;
        int32_t *dy = realloc(h->day, cap * sizeof *dy);
        if (dy)
            h->day = dy;
        uint8_t *y = realloc(h->y, cap);
        if (y)
            h->y = y;
        uint8_t *c = realloc(h->cold, cap);
        if (c)
            h->cold = c;
        if (!X || !dy || !y || !c)
            return tl_err_set(err, TL_ENOMEM, "out of memory keeping %zu rows", cap);
        h->cap = cap;
    }
    tl__fraud_derive(&h->dv, f);
    for (size_t j = 0; j < h->d; j++)
        h->X[h->n * h->d + j] = (float)f[j];
    int64_t days = tx->ts_s >= 0 ? tx->ts_s / DAY_S : -((-tx->ts_s + DAY_S - 1) / DAY_S);
    h->day[h->n] = (int32_t)days;
    h->y[h->n] = (uint8_t)tx->label;
    /* the same rule as tl_fraud_model_score: the count includes this one */
    h->cold[h->n] = f[h->nb_longest] - 1 <= COLD_MAX_TX;
    h->n++;
    return 0;
}

static int csv_row(void *ud, const struct tl_stream_tx *tx, size_t lineno, tl_err *err)
{
    (void)lineno;
    return hist_take(ud, tx, err);
}

static int store_row(void *ud, const struct tl_fraud_tx *t, tl_err *err)
{
    struct hist *h = ud;
    if (!h->currency[0]) {
        int e = tl_currency_exponent(t->currency);
        if (e < 0)
            return tl_err_set(err, TL_EINVAL, "transaction %s: unknown currency \"%.3s\"", t->id,
                              t->currency);
        memcpy(h->currency, t->currency, 4);
        h->exponent = e;
    }
    /* amounts in another currency cannot be compared with the card's
     * averages: they stay out of training (the model card says so) */
    if (strcmp(t->currency, h->currency) != 0) {
        h->n_other_currency++;
        return 0;
    }
    /* the engine counts in hundredths of the currency unit */
    int64_t cents = t->amount_minor;
    for (int e = h->exponent; e < 2; e++)
        cents *= 10;
    for (int e = h->exponent; e > 2; e--)
        cents /= 10;
    const char *term = t->terminal_id ? t->terminal_id : t->merchant_id ? t->merchant_id : "-";
    struct tl_stream_tx tx = {.tx_id = t->id,
                              .customer_id = t->card_id,
                              .terminal_id = term,
                              .ts_s = t->ts_ms >= 0 ? t->ts_ms / 1000 : -((-t->ts_ms + 999) / 1000),
                              .amount_cents = cents,
                              .label = t->label,
                              .country = t->country,
                              .channel = t->channel};
    int rc = hist_take(h, &tx, err);
    if (rc < 0)
        return tl_err_prefix(err, "transaction %s", t->id);
    return 0;
}

static void hist_clear(struct hist *h)
{
    tl_stream_free(h->st);
    free(h->X);
    free(h->day);
    free(h->y);
    free(h->cold);
    set_clear(&h->cards);
}

/* ---- the fits ------------------------------------------------------------------ */

static float *gather(const struct hist *h, const size_t *idx, size_t n)
{
    float *X = malloc((n ? n : 1) * h->d * sizeof *X);
    if (X)
        for (size_t i = 0; i < n; i++)
            memcpy(X + i * h->d, h->X + idx[i] * h->d, h->d * sizeof *X);
    return X;
}

static uint8_t *gather_y(const struct hist *h, const size_t *idx, size_t n)
{
    uint8_t *y = malloc(n ? n : 1);
    if (y)
        for (size_t i = 0; i < n; i++)
            y[i] = h->y[idx[i]];
    return y;
}

/* The isolation forest on the genuine rows among idx. */
static int fit_iforest(const struct hist *h, const size_t *idx, size_t n, uint64_t seed,
                       tl_iforest **out, tl_err *err)
{
    size_t *g = malloc((n ? n : 1) * sizeof *g), k = 0;
    if (!g)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!h->y[idx[i]])
            g[k++] = idx[i];
    float *X = gather(h, g, k);
    free(g);
    if (!X)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    struct tl_iforest_opts o = TL_IFOREST_OPTS_DEFAULT;
    o.seed = seed;
    int rc = tl_iforest_fit(X, k, h->d, &o, out, err);
    free(X);
    return rc;
}

/* The logistic regression on the rows idx, each feature standardized by the
 * mean and population sd of those rows (1 for a constant feature), as
 * fraud_eval.c's does; mean and sd are written for scoring. */
static int fit_linear(const struct hist *h, const size_t *idx, size_t n, double *mean, double *sd,
                      tl_linear **out, tl_err *err)
{
    size_t d = h->d;
    for (size_t j = 0; j < d; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += h->X[idx[i] * d + j];
        double m = n ? s / (double)n : 0;
        for (size_t i = 0; i < n; i++) {
            double e = h->X[idx[i] * d + j] - m;
            s2 += e * e;
        }
        double v = n ? sqrt(s2 / (double)n) : 0;
        mean[j] = m;
        sd[j] = v > 0 ? v : 1;
    }
    float *X = malloc((n ? n : 1) * d * sizeof *X);
    uint8_t *y = gather_y(h, idx, n);
    int rc;
    if (!X || !y) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for the logistic regression");
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++)
                X[i * d + j] = (float)((h->X[idx[i] * d + j] - mean[j]) / sd[j]);
        struct tl_linear_opts lo = TL_LINEAR_OPTS_DEFAULT;
        rc = tl_linear_train(X, y, n, d, &lo, out, err);
        if (rc < 0)
            tl_err_prefix(err, "the logistic regression");
    }
    free(X);
    free(y);
    return rc;
}

/* ---- thresholds ------------------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

struct sy {
    double s;
    uint8_t y;
};

static int cmp_sy(const void *a, const void *b)
{
    return cmp_desc(&((const struct sy *)a)->s, &((const struct sy *)b)->s);
}

/* review: the score above which review_rate of the rows lie; block: the
 * lowest score whose rows at or above have at least block_precision
 * frauds (none: the top 0.1%). */
static int thresholds(const double *s, const uint8_t *y, size_t n, double review_rate,
                      double block_precision, double *review, double *block, bool *block_met,
                      tl_err *err)
{
    struct sy *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = (struct sy){s[i], y[i]};
    qsort(v, n, sizeof *v, cmp_sy);
    size_t k = (size_t)ceil(review_rate * (double)n);
    k = k < 1 ? 1 : k > n ? n : k;
    *review = v[k - 1].s;
    *block_met = false;
    size_t tp = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            tp += v[j++].y;
        if ((double)tp >= block_precision * (double)j) {
            *block = v[i].s;
            *block_met = true;
        }
        i = j;
    }
    if (!*block_met) {
        size_t t = (size_t)ceil(0.001 * (double)n);
        t = t < 1 ? 1 : t;
        *block = v[t - 1].s;
    }
    if (*review > *block)
        *review = *block;
    free(v);
    return 0;
}

/* ---- the report ------------------------------------------------------------------ */

static json_t *fmt(const char *f, double v)
{
    char b[64];
    snprintf(b, sizeof b, f, v);
    return json_string(b);
}

static json_t *day_json(int32_t d)
{
    char b[16];
    tl_date_format(d, b, sizeof b);
    return json_string(b);
}

struct valid_figures {
    double auc, ap, review_rate, review_precision, block_precision, block_rate, recall_at_review;
};

static void figures(const double *s, const uint8_t *y, size_t n, double review, double block,
                    struct valid_figures *v)
{
    size_t nr = 0, tr = 0, nb = 0, tb = 0, pos = 0;
    for (size_t i = 0; i < n; i++) {
        pos += y[i];
        if (s[i] >= review)
            nr++, tr += y[i];
        if (s[i] >= block)
            nb++, tb += y[i];
    }
    v->review_rate = n ? (double)nr / (double)n : 0;
    v->review_precision = nr ? (double)tr / (double)nr : 0;
    v->block_rate = n ? (double)nb / (double)n : 0;
    v->block_precision = nb ? (double)tb / (double)nb : 0;
    v->recall_at_review = pos ? (double)tr / (double)pos : 0;
}

/* ---- training --------------------------------------------------------------------- */

static int check_opts(tl_ctx *ctx, const struct tl_fraud_train_opts *o, tl_err *err)
{
    if (!ctx && !o->no_register)
        return tl_err_set(err, TL_EINVAL, "training registers its model: a store is needed");
    if (!ctx && !o->data_path)
        return tl_err_set(err, TL_EINVAL, "no data: give a file or a store");
    if (o->train_days < 0 || o->train_days > 3660)
        return tl_err_set(err, TL_EINVAL, "train days %d: must be 0 (all) to 3660", o->train_days);
    if (o->delay_days < 0 || o->delay_days > 3660)
        return tl_err_set(err, TL_EINVAL, "delay days %d: must be 0 to 3660", o->delay_days);
    if (o->valid_days < 1 || o->valid_days > 3660)
        return tl_err_set(err, TL_EINVAL, "valid days %d: must be 1 to 3660", o->valid_days);
    if (o->train_days && o->valid_days >= o->train_days)
        return tl_err_set(err, TL_EINVAL, "valid days %d: must be fewer than the train days %d",
                          o->valid_days, o->train_days);
    if (!(o->review_rate > 0 && o->review_rate < 1))
        return tl_err_set(err, TL_EINVAL, "review rate %g: must be between 0 and 1", o->review_rate);
    if (!(o->block_precision > 0 && o->block_precision <= 1))
        return tl_err_set(err, TL_EINVAL, "block precision %g: must be in (0, 1]",
                          o->block_precision);
    return 0;
}

static void trained_config(const struct tl_fraud_train_opts *o, struct tl_stream_config *cfg)
{
    tl_stream_config_default(cfg);
    cfg->n_windows = 4;
    cfg->window_s[0] = 3600;
    cfg->window_s[1] = DAY_S;
    cfg->window_s[2] = 7 * DAY_S;
    cfg->window_s[3] = 30 * DAY_S;
    cfg->label_delay_s = (int64_t)o->delay_days * DAY_S;
}

struct fit {
    tl_gbdt *gbdt;       /* refitted on the whole training period */
    tl_iforest *iforest; /* on its genuine rows; NULL with no_iforest */
    tl_linear *linear;   /* refitted on the whole training period; NULL without with_lr */
    double lr_mean[TL__FRAUD_MAX_FEATURES], lr_sd[TL__FRAUD_MAX_FEATURES];
    double lr_weight;
    int rounds;
    double weight, review, block;
    bool block_met;
    struct valid_figures v;
    json_t *combine;     /* the report's "combine" */
    double train_s;
};

static int fit_all(const struct hist *h, const struct tl_fraud_train_opts *o, const size_t *fit,
                   size_t n_fit, const size_t *va, size_t n_va, const size_t *tr, size_t n_tr,
                   struct fit *F, tl_err *err)
{
    int rc = 0;
    float *Xf = gather(h, fit, n_fit), *Xv = gather(h, va, n_va), *X = gather(h, tr, n_tr);
    uint8_t *yf = gather_y(h, fit, n_fit), *yv = gather_y(h, va, n_va), *y = gather_y(h, tr, n_tr);
    double *p = malloc((n_va ? n_va : 1) * sizeof *p), *a = malloc((n_va ? n_va : 1) * sizeof *a);
    double *s = malloc((n_va ? n_va : 1) * sizeof *s);
    double *pl = malloc((n_va ? n_va : 1) * sizeof *pl);
    uint8_t *yc = malloc(n_va ? n_va : 1);
    double *sc = malloc((n_va ? n_va : 1) * sizeof *sc);
    tl_gbdt *g0 = NULL;
    tl_iforest *f0 = NULL;
    tl_linear *l0 = NULL;
    json_t *lr_cands = NULL;
    if (!Xf || !Xv || !X || !yf || !yv || !y || !p || !a || !s || !pl || !yc || !sc) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for the training rows");
        goto out;
    }
    int64_t t0 = tl_time_mono_ns();
    struct tl_gbdt_opts go = TL_GBDT_OPTS_DEFAULT;
    go.nthread = o->nthread;
    go.seed = o->seed;
    go.eta = o->eta > 0 ? o->eta : TL_FRAUD_DEFAULT_ETA;
    if ((rc = tl_gbdt_train(Xf, yf, n_fit, h->d, Xv, yv, n_va, &go, &g0, err)) < 0)
        goto out;
    F->rounds = tl_gbdt_rounds(g0);
    tl_gbdt_margins(g0, Xv, n_va, p);
    for (size_t i = 0; i < n_va; i++)
        p[i] = 1 / (1 + exp(-p[i]));
    go.max_rounds = F->rounds;
    if ((rc = tl_gbdt_train(X, y, n_tr, h->d, NULL, NULL, 0, &go, &F->gbdt, err)) < 0)
        goto out;

    /* the logistic regression: fitted on the fit days, its weight in the
     * blend chosen on the validation days, then refitted on all of them;
     * the iforest's weight below is chosen on the blend */
    F->lr_weight = 0;
    if (o->with_lr) {
        double m0[TL__FRAUD_MAX_FEATURES], s0[TL__FRAUD_MAX_FEATURES];
        if ((rc = fit_linear(h, fit, n_fit, m0, s0, &l0, err)) < 0)
            goto out;
        for (size_t i = 0; i < n_va; i++) {
            float z[TL__FRAUD_MAX_FEATURES];
            for (size_t j = 0; j < h->d; j++)
                z[j] = (float)((Xv[i * h->d + j] - m0[j]) / s0[j]);
            pl[i] = 1 / (1 + exp(-tl_linear_margin(l0, z)));
        }
        lr_cands = json_array();
        double best = -1;
        for (size_t w = 0; w < N_LR_WEIGHTS; w++) {
            for (size_t i = 0; i < n_va; i++)
                s[i] = (1 - lr_weights[w]) * p[i] + lr_weights[w] * pl[i];
            double ap = 0;
            if ((rc = tl_ml_average_precision(s, yv, n_va, &ap, err)) < 0)
                goto out;
            json_array_append_new(lr_cands, json_pack("{s:f,s:f}", "linear_weight", lr_weights[w],
                                                      "average_precision", ap));
            if (ap > best + 1e-12) {
                best = ap;
                F->lr_weight = lr_weights[w];
            }
        }
        for (size_t i = 0; i < n_va; i++)
            p[i] = (1 - F->lr_weight) * p[i] + F->lr_weight * pl[i];
        if ((rc = fit_linear(h, tr, n_tr, F->lr_mean, F->lr_sd, &F->linear, err)) < 0)
            goto out;
    }

    /* the combination: which weight of the isolation forest on cold cards
     * ranks the validation days best */
    size_t n_cold = 0, cold_pos = 0;
    for (size_t i = 0; i < n_va; i++)
        if (h->cold[va[i]])
            n_cold++, cold_pos += yv[i];
    json_t *cands = json_array();
    F->weight = 0;
    if (!o->no_iforest) {
        if ((rc = fit_iforest(h, fit, n_fit, o->seed, &f0, err)) < 0 ||
            (rc = fit_iforest(h, tr, n_tr, o->seed, &F->iforest, err)) < 0) {
            json_decref(cands);
            goto out;
        }
        for (size_t i = 0; i < n_va; i++)
            a[i] = h->cold[va[i]] ? tl_iforest_score(f0, Xv + i * h->d) : NAN;
        double best = -1;
        for (size_t w = 0; w < N_WEIGHTS; w++) {
            size_t nc = 0;
            for (size_t i = 0; i < n_va; i++) {
                s[i] = h->cold[va[i]] ? (1 - weights[w]) * p[i] + weights[w] * a[i] : p[i];
                if (h->cold[va[i]])
                    sc[nc] = s[i], yc[nc++] = yv[i];
            }
            double ap = 0, cap = NAN;
            tl_err e2 = {0};
            if ((rc = tl_ml_average_precision(s, yv, n_va, &ap, err)) < 0) {
                json_decref(cands);
                goto out;
            }
            if (cold_pos > 0 && cold_pos < n_cold)
                tl_ml_average_precision(sc, yc, nc, &cap, &e2);
            json_array_append_new(cands, json_pack("{s:f,s:f,s:o}", "iforest_weight", weights[w],
                                                   "average_precision", ap,
                                                   "cold_average_precision",
                                                   isnan(cap) ? json_null() : json_real(cap)));
            /* a tie (no cold card with both classes): the default weight */
            bool tie = fabs(ap - best) <= 1e-12;
            if (ap > best + 1e-12 || (tie && weights[w] == DEFAULT_WEIGHT)) {
                best = ap > best ? ap : best;
                F->weight = weights[w];
            }
        }
    }
    for (size_t i = 0; i < n_va; i++)
        s[i] = h->cold[va[i]] && !o->no_iforest ? (1 - F->weight) * p[i] + F->weight * a[i] : p[i];
    F->combine = json_pack("{s:f,s:i,s:I,s:I,s:o,s:f,s:o}", "iforest_weight", F->weight,
                           "cold_max_tx", COLD_MAX_TX, "cold_rows", (json_int_t)n_cold,
                           "cold_frauds", (json_int_t)cold_pos, "candidates", cands,
                           "linear_weight", F->lr_weight, "linear_candidates",
                           lr_cands ? lr_cands : json_null());
    lr_cands = NULL;
    if ((rc = thresholds(s, yv, n_va, o->review_rate, o->block_precision, &F->review, &F->block,
                         &F->block_met, err)) < 0)
        goto out;
    if ((rc = tl_ml_auc(s, yv, n_va, &F->v.auc, err)) < 0 ||
        (rc = tl_ml_average_precision(s, yv, n_va, &F->v.ap, err)) < 0)
        goto out;
    figures(s, yv, n_va, F->review, F->block, &F->v);
    F->train_s = (double)(tl_time_mono_ns() - t0) / 1e9;
out:
    tl_gbdt_free(g0);
    tl_iforest_free(f0);
    tl_linear_free(l0);
    json_decref(lr_cands);
    free(Xf), free(Xv), free(X), free(yf), free(yv), free(y);
    free(p), free(a), free(s), free(pl), free(yc), free(sc);
    return rc;
}

static json_t *valid_json(const struct fit *F, size_t rows, size_t frauds, int32_t from, int32_t to)
{
    return json_pack("{s:o,s:o,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "from", day_json(from), "to",
                     day_json(to), "rows", (json_int_t)rows, "frauds", (json_int_t)frauds, "auc",
                     F->v.auc, "average_precision", F->v.ap, "review_rate", F->v.review_rate,
                     "review_precision", F->v.review_precision, "block_precision",
                     F->v.block_precision, "block_rate", F->v.block_rate, "recall_at_review",
                     F->v.recall_at_review);
}

static json_t *card_json(const struct hist *h, const struct fit *F, const json_t *train,
                         const json_t *valid, const struct tl_fraud_train_opts *o)
{
    char b[256];
    json_t *d = json_object();
    json_object_set_new(d, "source", json_string(h->source));
    json_object_set_new(d, "transactions replayed", json_integer((json_int_t)h->n_tx));
    json_object_set_new(d, "cards", json_integer((json_int_t)h->cards.n));
    snprintf(b, sizeof b, "%s .. %s (excl.): %lld rows, %lld frauds",
             json_string_value(json_object_get(train, "from")),
             json_string_value(json_object_get(train, "to")),
             (long long)json_integer_value(json_object_get(train, "rows")),
             (long long)json_integer_value(json_object_get(train, "frauds")));
    json_object_set_new(d, "training period", json_string(b));
    snprintf(b, sizeof b, "%s .. %s (excl.): %lld rows, %lld frauds",
             json_string_value(json_object_get(valid, "from")),
             json_string_value(json_object_get(valid, "to")),
             (long long)json_integer_value(json_object_get(valid, "rows")),
             (long long)json_integer_value(json_object_get(valid, "frauds")));
    json_object_set_new(d, "validation days", json_string(b));
    snprintf(b, sizeof b, "%d days left out before the newest transaction (labels not all in)",
             o->delay_days);
    json_object_set_new(d, "delay", json_string(b));
    json_object_set_new(d, "currency", json_string(h->currency));
    if (h->n_other_currency)
        json_object_set_new(d, "left out (other currencies)",
                            json_integer((json_int_t)h->n_other_currency));
    json_t *m = json_object();
    json_object_set_new(m, "validation AUC", fmt("%.4f", F->v.auc));
    json_object_set_new(m, "validation average precision", fmt("%.4f", F->v.ap));
    json_object_set_new(m, "review threshold", fmt("%.4f", F->review));
    json_object_set_new(m, "review rate (validation)", fmt("%.2f%%", 100 * F->v.review_rate));
    json_object_set_new(m, "review precision (validation)", fmt("%.1f%%", 100 * F->v.review_precision));
    json_object_set_new(m, "fraud recall at review", fmt("%.1f%%", 100 * F->v.recall_at_review));
    json_object_set_new(m, "block threshold", fmt("%.4f", F->block));
    snprintf(b, sizeof b, "%.1f%% (%s)", 100 * F->v.block_precision,
             F->block_met ? "the target was met" : "target not met: the top 0.1%");
    json_object_set_new(m, "block precision (validation)", json_string(b));
    json_object_set_new(m, "isolation forest weight on cold cards",
                        o->no_iforest ? json_string("none") : fmt("%.2f", F->weight));
    json_object_set_new(m, "logistic regression weight",
                        F->linear ? fmt("%.2f", F->lr_weight) : json_string("none"));
    json_object_set_new(m, "boosting rounds", json_integer(F->rounds));
    return json_pack("{s:s,s:o,s:o,s:s}", "intended_use", INTENDED_USE, "data", d, "metrics", m,
                     "limitations", LIMITATIONS);
}

static int count_pos(const struct hist *h, const size_t *idx, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += h->y[idx[i]];
    return k;
}

int tl_fraud_train(tl_ctx *ctx, const struct tl_fraud_train_opts *opts, json_t **report,
                   tl_err *err)
{
    int rc = check_opts(ctx, opts, err);
    if (rc < 0)
        return rc;
    struct tl_stream_config cfg;
    trained_config(opts, &cfg);
    struct hist h = {.source = opts->data_path ? opts->data_path : "store"};
    if ((rc = tl_stream_new(&cfg, &h.st, err)) < 0)
        return rc;
    tl__fraud_derive_setup(&h.dv, h.st);
    h.d = h.dv.n_stream + h.dv.n_ratio;
    h.nb_longest = 3 + 2 * (size_t)(cfg.n_windows - 1);
    size_t *fit = NULL, *va = NULL, *tr = NULL;
    struct fit F = {0};
    char *bytes = NULL;
    size_t len = 0;
    json_t *meta = NULL, *rep = NULL;
    struct tl_model_info info = {0};
    bool promoted = false;

    if (opts->data_path) {
        /* fraud_sim has no currency: its amounts are read as euros */
        memcpy(h.currency, "EUR", 4);
        h.exponent = 2;
        rc = tl__fraud_csv_read(opts->data_path, csv_row, &h, err);
    } else {
        rc = tl_fraud_scan_store(ctx, INT64_MIN, store_row, &h, err);
        if (rc < 0)
            tl_err_prefix(err, "reading the store's card transactions");
    }
    if (rc < 0)
        goto out;
    if (!h.any) {
        rc = tl_err_set(err, TL_EINVAL, "%s: no card transactions to train on", h.source);
        goto out;
    }
    int32_t end = (int32_t)(h.newest_s / DAY_S) + 1; /* the day after the newest */
    int32_t to = end - opts->delay_days;
    int32_t vfrom = to - opts->valid_days;
    int32_t from = opts->train_days ? to - opts->train_days : INT32_MIN;
    size_t n = h.n, n_fit = 0, n_va = 0, n_tr = 0;
    fit = malloc((n ? n : 1) * sizeof *fit);
    va = malloc((n ? n : 1) * sizeof *va);
    tr = malloc((n ? n : 1) * sizeof *tr);
    if (!fit || !va || !tr) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory splitting %zu rows", n);
        goto out;
    }
    int32_t first = INT32_MAX;
    for (size_t i = 0; i < n; i++) {
        int32_t d = h.day[i];
        if (d < from || d >= to)
            continue;
        first = d < first ? d : first;
        tr[n_tr++] = i;
        if (d < vfrom)
            fit[n_fit++] = i;
        else
            va[n_va++] = i;
    }
    if (first == INT32_MAX)
        first = from == INT32_MIN ? vfrom : from;
    int pos_fit = count_pos(&h, fit, n_fit), pos_va = count_pos(&h, va, n_va);
    char d0[16], d1[16], d2[16];
    tl_date_format(first, d0, sizeof d0);
    tl_date_format(vfrom, d1, sizeof d1);
    tl_date_format(to, d2, sizeof d2);
    if (pos_fit == 0 || (size_t)pos_fit == n_fit) {
        rc = tl_err_set(err, TL_EINVAL,
                        "%s: the training days %s..%s (excl.) need both genuine and fraudulent "
                        "labelled transactions (%zu rows, %d frauds)",
                        h.source, d0, d1, n_fit, pos_fit);
        goto out;
    }
    if (pos_va == 0 || (size_t)pos_va == n_va) {
        rc = tl_err_set(err, TL_EINVAL,
                        "%s: the validation days %s..%s (excl.) need both genuine and fraudulent "
                        "labelled transactions (%zu rows, %d frauds); try more --valid-days",
                        h.source, d1, d2, n_va, pos_va);
        goto out;
    }
    if ((rc = fit_all(&h, opts, fit, n_fit, va, n_va, tr, n_tr, &F, err)) < 0)
        goto out;

    struct tl__fraud_parts parts = {.cfg = &cfg,
                                    .currency = h.currency,
                                    .gbdt = F.gbdt,
                                    .iforest = F.iforest,
                                    .iforest_weight = F.weight,
                                    .linear = F.linear,
                                    .lr_mean = F.lr_mean,
                                    .lr_sd = F.lr_sd,
                                    .linear_weight = F.lr_weight,
                                    .cold_max_tx = COLD_MAX_TX,
                                    .review = F.review,
                                    .block = F.block};
    if ((rc = tl__fraud_artifact(&parts, &bytes, &len, err)) < 0)
        goto out;
    /* what is registered must load: the same checks as every load */
    tl_fraud_model *check = NULL;
    if ((rc = tl_fraud_model_from_artifact(bytes, len, NULL, &check, err)) < 0) {
        tl_err_prefix(err, "the trained model does not load back");
        goto out;
    }
    json_t *feats = json_array();
    for (size_t j = 0; j < tl_fraud_model_n_features(check); j++)
        json_array_append_new(feats, json_string(tl_fraud_model_feature(check, j)));
    tl_fraud_model_free(check);

    const char *algo = F.iforest ? (F.linear ? "gbdt+lr+iforest" : "gbdt+iforest")
                                 : (F.linear ? "gbdt+lr" : "gbdt");
    json_t *train = json_pack("{s:o,s:o,s:I,s:I}", "from", day_json(first), "to", day_json(to),
                              "rows", (json_int_t)n_tr, "frauds",
                              (json_int_t)count_pos(&h, tr, n_tr));
    json_t *valid = valid_json(&F, n_va, (size_t)pos_va, vfrom, to);
    json_t *thr = json_pack("{s:f,s:f,s:b}", "review", F.review, "block", F.block,
                            "block_precision_met", F.block_met);
    json_t *hp = json_pack(
        "{s:{s:i,s:f,s:i,s:f,s:f,s:f,s:f,s:I},s:o*,s:{s:[i,i,i,i],s:i},s:f,s:f}", "gbdt",
        "rounds", F.rounds, "eta", opts->eta > 0 ? opts->eta : TL_FRAUD_DEFAULT_ETA, "max_depth",
        TL_GBDT_OPTS_DEFAULT.max_depth, "subsample", TL_GBDT_OPTS_DEFAULT.subsample, "colsample",
        TL_GBDT_OPTS_DEFAULT.colsample, "lambda", TL_GBDT_OPTS_DEFAULT.lambda,
        "min_child_weight", TL_GBDT_OPTS_DEFAULT.min_child_weight, "seed", (json_int_t)opts->seed,
        "iforest",
        F.iforest ? json_pack("{s:i,s:I,s:I}", "n_trees", tl_iforest_n_trees(F.iforest),
                              "sample_size", (json_int_t)tl_iforest_sample_size(F.iforest), "seed",
                              (json_int_t)opts->seed)
                  : NULL,
        "stream", "windows_s", 3600, DAY_S, 7 * DAY_S, 30 * DAY_S, "label_delay_days",
        opts->delay_days, "review_rate", opts->review_rate, "block_precision",
        opts->block_precision);
    json_t *data = json_pack("{s:s,s:I,s:I,s:s,s:I,s:I,s:I}", "source", h.source, "transactions",
                             (json_int_t)h.n_tx, "cards", (json_int_t)h.cards.n, "currency",
                             h.currency, "labelled", (json_int_t)h.n, "train_rows",
                             (json_int_t)n_tr, "valid_rows", (json_int_t)n_va);
    json_t *card = card_json(&h, &F, train, valid, opts);
    meta = json_pack("{s:s,s:o,s:{s:O,s:O,s:O},s:o,s:o}", "algo", algo, "hyperparameters", hp,
                     "metrics", "validation", valid, "thresholds", thr, "combine", F.combine,
                     "data", data, "card", card);
    if (!meta) {
        json_decref(feats);
        json_decref(train);
        json_decref(valid);
        json_decref(thr);
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    if (!opts->no_register) {
        struct tl_model_new nm = {.task = "fraud", .algo = algo, .artifact = bytes,
                                  .artifact_len = len, .metadata = meta,
                                  .actor = opts->actor ? opts->actor : "teller"};
        if ((rc = tl_registry_add(ctx, &nm, &info, err)) < 0)
            goto fail_report;
        struct tl_model_info champ = {0};
        tl_err e2 = {0};
        int crc = tl_registry_champion(ctx, "fraud", &champ, &e2);
        tl_model_info_clear(&champ);
        if (crc == TL_ENOTFOUND) {
            if ((rc = tl_registry_promote(ctx, info.id, nm.actor, err)) < 0)
                goto fail_report;
            promoted = true;
        } else if (crc < 0) {
            rc = tl_err_set(err, crc, "%s", e2.msg);
            goto fail_report;
        }
    }
    rep = json_pack("{s:s,s:I,s:I,s:s,s:s,s:O,s:O,s:i,s:O,s:O,s:o,s:s?,s:b,s:f}", "source",
                    h.source, "transactions", (json_int_t)h.n_tx, "cards", (json_int_t)h.cards.n,
                    "currency", h.currency, "algo", algo, "train", train, "valid", valid, "rounds",
                    F.rounds, "thresholds", thr, "combine", F.combine, "features", feats, "id",
                    opts->no_register ? NULL : info.id, "promoted", promoted, "train_s",
                    round(F.train_s * 1000) / 1000);
    feats = NULL;
    if (!rep) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto fail_report;
    }
    if (h.n_other_currency)
        json_object_set_new(rep, "left_out_other_currency",
                            json_integer((json_int_t)h.n_other_currency));
    *report = rep;
fail_report:
    json_decref(feats);
    json_decref(train);
    json_decref(valid);
    json_decref(thr);
out:
    json_decref(meta);
    tl_model_info_clear(&info);
    free(bytes);
    tl_gbdt_free(F.gbdt);
    tl_iforest_free(F.iforest);
    tl_linear_free(F.linear);
    json_decref(F.combine);
    free(fit), free(va), free(tr);
    hist_clear(&h);
    return rc;
}
