/*
 * fraud_model.c - the fraud model as the registry holds it: the artifact
 * (built, parsed, every part validated), scoring one transaction from the
 * stream engine's features, and the reasons in words.
 *
 * Why scoring looks like this: a card payment waits on the answer, so the
 * score allocates nothing and walks flattened trees (ml_models.h); the
 * reasons of an allowed payment come from the cheap path attribution and
 * only a review or block, which a person will read, pays for exact
 * TreeSHAP. The derived features are computed here, by the one function
 * training and evaluation call too, so what was learnt is what is scored.
 */
#include <teller/fraud.h>
#include <teller/ml_iforest.h>
#include <teller/ml_models.h>
#include <teller/money.h>
#include <teller/registry.h>

#include "fraud_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAUD_FORMAT "teller-fraud"
#define FRAUD_FORMAT_VERSION 1
#define MAX_TEXT 400

/* ---- the derived features -------------------------------------------------- */

void tl__fraud_derive_setup(struct tl__fraud_derive *dv, const tl_stream *s)
{
    dv->n_stream = tl_stream_n_features(s);
    dv->n_ratio = 0;
    for (size_t j = 0; j < dv->n_stream && dv->n_ratio < TL_STREAM_MAX_WINDOWS; j++)
        if (strncmp(tl_stream_feature_name(s, j), "customer_avg_amount_", 20) == 0)
            dv->avg_col[dv->n_ratio++] = j;
}

/* The amount over the card's mean amount in each window (the mean includes
 * this transaction, so the ratio is at most the window's count; 1 for a
 * zero mean). A leaked card's inflated amounts stand out against the card's
 * own habits in a way a tree finds with one split, where amount and mean
 * separately need many. */
void tl__fraud_derive(const struct tl__fraud_derive *dv, double *f)
{
    for (size_t w = 0; w < dv->n_ratio; w++) {
        double avg = f[dv->avg_col[w]];
        f[dv->n_stream + w] = avg > 0 ? f[0] / avg : 1;
    }
}

void tl__fraud_derive_name(const struct tl__fraud_derive *dv, const tl_stream *s, size_t w,
                           char *buf, size_t size)
{
    /* "customer_avg_amount_1day" -> "amount_over_avg_amount_1day" */
    snprintf(buf, size, "amount_over_%s", tl_stream_feature_name(s, dv->avg_col[w]) + 9);
}

/* ---- reason sentences -------------------------------------------------------- */

/* "hour", "day", "7 days", "90 minutes": a window length for a sentence. */
static void span_words(int64_t s, char *buf, size_t size)
{
    static const struct {
        int64_t unit;
        const char *one, *many;
    } u[] = {{86400, "day", "days"}, {3600, "hour", "hours"}, {60, "minute", "minutes"}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (s % u[i].unit == 0) {
            int64_t n = s / u[i].unit;
            if (n == 1)
                snprintf(buf, size, "%s", u[i].one);
            else
                snprintf(buf, size, "%lld %s", (long long)n, u[i].many);
            return;
        }
    snprintf(buf, size, "%lld seconds", (long long)s);
}

/* "1-hour", "7-day": a window length before a noun. */
static void span_adjective(int64_t s, char *buf, size_t size)
{
    static const struct {
        int64_t unit;
        const char *name;
    } u[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (s % u[i].unit == 0) {
            snprintf(buf, size, "%lld-%s", (long long)(s / u[i].unit), u[i].name);
            return;
        }
}

/* The window of a feature named "<prefix><suffix>", as the engine names
 * windows ("1day", "3600s"); -1 when the suffix is no window of cfg. */
static int window_of(const struct tl_stream_config *cfg, const char *suffix)
{
    for (int k = 0; k < cfg->n_windows; k++) {
        char nm[32];
        int64_t w = cfg->window_s[k];
        if (w % 86400 == 0)
            snprintf(nm, sizeof nm, "%lldday", (long long)(w / 86400));
        else
            snprintf(nm, sizeof nm, "%llds", (long long)w);
        if (strcmp(nm, suffix) == 0)
            return k;
    }
    return -1;
}

void tl__fraud_default_text(const struct tl_stream_config *cfg, const char *f, char *buf,
                            size_t size)
{
    char span[48] = "", delay[48] = "", longest[48];
    span_words(cfg->window_s[cfg->n_windows - 1], longest, sizeof longest);
    if (cfg->label_delay_s > 0)
        span_words(cfg->label_delay_s, delay, sizeof delay);
    static const char *const pre[] = {"customer_nb_tx_", "customer_avg_amount_", "terminal_nb_tx_",
                                      "terminal_risk_", "amount_over_avg_amount_"};
    int which = -1, k = -1;
    for (int i = 0; i < 5 && which < 0; i++) {
        size_t n = strlen(pre[i]);
        if (strncmp(f, pre[i], n) == 0 && (k = window_of(cfg, f + n)) >= 0)
            which = i;
    }
    char adj[48] = "";
    if (k >= 0) {
        /* "the last hour", "the last 7 days"; "the card's 7-day average" */
        span_words(cfg->window_s[k], span, sizeof span);
        span_adjective(cfg->window_s[k], adj, sizeof adj);
    }
    /* a terminal's window ends `delay` back: labels come late */
    char term[128];
    if (delay[0])
        snprintf(term, sizeof term, "over the %s before the last %s", span, delay);
    else
        snprintf(term, sizeof term, "over the last %s", span);
    switch (which) {
    case 0:
        snprintf(buf, size, "{count} transactions on the card in the last %s", span);
        return;
    case 1:
        snprintf(buf, size, "the card's average amount over the last %s is {money}", span);
        return;
    case 2:
        snprintf(buf, size, "{count} transactions at the terminal %s", term);
        return;
    case 3:
        snprintf(buf, size, "terminal's fraud rate {pct} %s", term);
        return;
    case 4:
        snprintf(buf, size, "amount is {ratio} times the card's %s average", adj);
        return;
    default:
        break;
    }
    if (strcmp(f, "tx_amount") == 0)
        snprintf(buf, size, "amount {money}");
    else if (strcmp(f, "tx_during_weekend") == 0)
        snprintf(buf, size, "{bool:transaction on a weekend|transaction on a weekday}");
    else if (strcmp(f, "tx_during_night") == 0)
        snprintf(buf, size, "{bool:transaction at night (before %02d:00)|transaction in the daytime}",
                 cfg->night_end_hour);
    else if (strcmp(f, "customer_secs_since_prev") == 0)
        snprintf(buf, size,
                 "{ge0:{duration} since the card's previous transaction|no earlier transaction "
                 "of the card in the last %s}",
                 longest);
    else if (strcmp(f, "customer_amount_z") == 0)
        snprintf(buf, size, "amount {z} standard deviations from the card's %s mean", longest);
    else if (strcmp(f, "customer_terminal_new") == 0)
        snprintf(buf, size,
                 "{bool:first transaction of the card at this terminal|the card has used this "
                 "terminal before}");
    else if (strcmp(f, "customer_country_new") == 0)
        snprintf(buf, size,
                 "{bool:first transaction of the card in this country in the last %s|the card "
                 "has been used in this country before}",
                 longest);
    else if (strcmp(f, "customer_channel_new") == 0)
        snprintf(buf, size,
                 "{bool:first transaction of the card through this channel in the last %s|the "
                 "card has used this channel before}",
                 longest);
    else
        snprintf(buf, size, "%s = {value}", f);
}

struct out {
    char *buf;
    size_t size, n;
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->size; i++) {
        if (o->n + 1 < o->size)
            o->buf[o->n] = s[i];
        o->n++;
    }
    if (o->size)
        o->buf[o->n < o->size ? o->n : o->size - 1] = '\0';
}

static void putf(struct out *o, const char *fmt, double v)
{
    char b[64];
    int n = snprintf(b, sizeof b, fmt, v);
    put(o, b, n > 0 ? (size_t)n : 0);
}

static void duration(struct out *o, double s)
{
    if (s < 120)
        putf(o, "%.0f seconds", s);
    else if (s < 2 * 3600)
        putf(o, "%.0f minutes", s / 60);
    else if (s < 2 * 86400)
        putf(o, "%.1f hours", s / 3600);
    else
        putf(o, "%.1f days", s / 86400);
}

/* Renders t[0..n) with value v; -1 when the template is malformed (an
 * unknown placeholder, an unbalanced brace, a choice without "|"). */
static int render(const char *t, size_t n, double v, int exponent, struct out *o, int depth)
{
    if (depth > 2)
        return -1;
    size_t i = 0;
    while (i < n) {
        if (t[i] == '}')
            return -1;
        if (t[i] != '{') {
            size_t j = i;
            while (j < n && t[j] != '{' && t[j] != '}')
                j++;
            put(o, t + i, j - i);
            i = j;
            continue;
        }
        /* the matching brace */
        size_t j = i + 1;
        int lvl = 1;
        for (; j < n && lvl; j++)
            lvl += t[j] == '{' ? 1 : t[j] == '}' ? -1 : 0;
        if (lvl)
            return -1;
        const char *in = t + i + 1;
        size_t m = j - 1 - (i + 1);
        bool is_bool = m >= 5 && strncmp(in, "bool:", 5) == 0;
        bool is_ge0 = m >= 4 && strncmp(in, "ge0:", 4) == 0;
        if (is_bool || is_ge0) {
            size_t a = is_bool ? 5 : 4, bar = 0;
            int l2 = 0;
            for (size_t k = a; k < m; k++) {
                l2 += in[k] == '{' ? 1 : in[k] == '}' ? -1 : 0;
                if (in[k] == '|' && l2 == 0 && !bar)
                    bar = k;
            }
            if (!bar)
                return -1;
            bool first = is_bool ? v > 0.5 : v >= 0;
            /* both branches are checked, the chosen one written */
            struct out sink = {0};
            if (render(in + a, bar - a, v, exponent, first ? o : &sink, depth + 1) < 0 ||
                render(in + bar + 1, m - bar - 1, v, exponent, first ? &sink : o, depth + 1) < 0)
                return -1;
        } else if (m == 5 && strncmp(in, "count", 5) == 0) {
            putf(o, "%.0f", v);
        } else if (m == 5 && strncmp(in, "money", 5) == 0) {
            char b[64];
            snprintf(b, sizeof b, "%.*f", exponent, v);
            put(o, b, strlen(b));
        } else if (m == 5 && strncmp(in, "ratio", 5) == 0) {
            putf(o, "%.1f", v);
        } else if (m == 3 && strncmp(in, "pct", 3) == 0) {
            putf(o, fabs(v) >= 0.1 ? "%.0f%%" : "%.1f%%", 100 * v);
        } else if (m == 1 && in[0] == 'z') {
            putf(o, "%.1f", v);
        } else if (m == 8 && strncmp(in, "duration", 8) == 0) {
            duration(o, v);
        } else if (m == 5 && strncmp(in, "value", 5) == 0) {
            putf(o, "%g", v);
        } else {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* ---- the model --------------------------------------------------------------- */

struct tl_fraud_model {
    char id[TL_MODEL_ID_MAX];
    struct tl_stream_config cfg;
    struct tl__fraud_derive dv;
    size_t n_features;
    char (*names)[64];          /* (n_features) */
    char *text[TL__FRAUD_MAX_FEATURES];
    char currency[4];
    int exponent;
    tl_gbdt *gbdt;
    tl_iforest *iforest;        /* NULL: none */
    double iforest_weight;
    tl_linear *linear;          /* NULL: none */
    double *lr_mean, *lr_sd;    /* (n_features) its scaler */
    double linear_weight;
    int cold_max_tx;
    size_t nb_longest;          /* customer_nb_tx_<longest window> */
    double review, block;
};

void tl_fraud_model_free(tl_fraud_model *m)
{
    if (!m)
        return;
    tl_gbdt_free(m->gbdt);
    tl_iforest_free(m->iforest);
    tl_linear_free(m->linear);
    free(m->lr_mean);
    free(m->lr_sd);
    for (size_t j = 0; j < TL__FRAUD_MAX_FEATURES; j++)
        free(m->text[j]);
    free(m->names);
    free(m);
}

static int bad(tl_err *err, const char *id, const char *part, const char *why)
{
    return tl_err_set(err, TL_EPARSE, "fraud model %s: artifact part \"%s\": %s", id, part, why);
}

static int int_member(const json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int unit_member(const json_t *o, const char *k, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        return -1;
    double x = json_number_value(v);
    if (!(x >= 0 && x <= 1))
        return -1;
    *out = x;
    return 0;
}

static int parse_stream(tl_fraud_model *m, const json_t *doc, const char *id, tl_err *err)
{
    const json_t *s = json_object_get(doc, "stream");
    if (!json_is_object(s))
        return bad(err, id, "stream", "missing (an object with windows_s, label_delay_s, "
                                      "max_lateness_s, night_end_hour expected)");
    tl_stream_config_default(&m->cfg);
    const json_t *w = json_object_get(s, "windows_s");
    size_t nw = json_array_size(w);
    if (!json_is_array(w) || nw < 1 || nw > TL_STREAM_MAX_WINDOWS)
        return bad(err, id, "stream", "windows_s must be an array of 1 to 8 window lengths");
    m->cfg.n_windows = (int)nw;
    for (size_t k = 0; k < nw; k++) {
        json_t *v = json_array_get(w, k);
        if (!json_is_integer(v))
            return bad(err, id, "stream", "windows_s must hold integers (seconds)");
        m->cfg.window_s[k] = json_integer_value(v);
    }
    int64_t delay, late, night;
    if (int_member(s, "label_delay_s", 0, INT64_MAX, &delay) < 0)
        return bad(err, id, "stream", "label_delay_s must be an integer >= 0");
    if (int_member(s, "max_lateness_s", 0, INT64_MAX, &late) < 0)
        return bad(err, id, "stream", "max_lateness_s must be an integer >= 0");
    if (int_member(s, "night_end_hour", 0, 24, &night) < 0)
        return bad(err, id, "stream", "night_end_hour must be an integer 0..24");
    m->cfg.label_delay_s = delay;
    m->cfg.max_lateness_s = late;
    m->cfg.night_end_hour = (int)night;
    tl_stream *st;
    tl_err e2 = {0};
    if (tl_stream_new(&m->cfg, &st, &e2) < 0)
        return e2.code == TL_ENOMEM ? tl_err_set(err, TL_ENOMEM, "out of memory")
                                    : bad(err, id, "stream", e2.msg);
    tl__fraud_derive_setup(&m->dv, st);
    m->n_features = m->dv.n_stream + m->dv.n_ratio;
    int rc = 0;
    if (!(m->names = calloc(m->n_features, sizeof *m->names)))
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t j = 0; rc == 0 && j < m->dv.n_stream; j++)
        snprintf(m->names[j], sizeof m->names[j], "%s", tl_stream_feature_name(st, j));
    for (size_t w2 = 0; rc == 0 && w2 < m->dv.n_ratio; w2++)
        tl__fraud_derive_name(&m->dv, st, w2, m->names[m->dv.n_stream + w2],
                              sizeof m->names[0]);
    tl_stream_free(st);
    if (rc < 0)
        return rc;
    /* the longest window's count: 3 + 2 * (n_windows - 1) */
    m->nb_longest = 3 + 2 * (size_t)(m->cfg.n_windows - 1);
    return 0;
}

static int parse_features(tl_fraud_model *m, const json_t *doc, const char *id, tl_err *err)
{
    const json_t *f = json_object_get(doc, "features");
    if (!json_is_array(f))
        return bad(err, id, "features", "missing (an array of feature names expected)");
    if (json_array_size(f) != m->n_features) {
        char why[300];
        /* an artifact trained before the engine gained features lists the
         * old set: say what to do about it */
        snprintf(why, sizeof why,
                 "%zu features, but the stream configuration gives %zu (%zu from the engine, %zu "
                 "derived)%s",
                 json_array_size(f), m->n_features, m->dv.n_stream, m->dv.n_ratio,
                 json_array_size(f) < m->n_features
                     ? ": the model was trained by an older teller with fewer features; retrain "
                       "it (teller fraud train)"
                     : "");
        return bad(err, id, "features", why);
    }
    for (size_t j = 0; j < m->n_features; j++) {
        const char *s = json_string_value(json_array_get(f, j));
        if (!s || strcmp(s, m->names[j]) != 0) {
            char why[300];
            snprintf(why, sizeof why,
                     "feature %zu is \"%.40s\", the stream configuration gives \"%s\" (a model "
                     "from another teller version: retrain it with teller fraud train)",
                     j, s ? s : "(not a string)", m->names[j]);
            return bad(err, id, "features", why);
        }
    }
    return 0;
}

static int parse_models(tl_fraud_model *m, const json_t *doc, const char *id, tl_err *err)
{
    const json_t *g = json_object_get(doc, "gbdt");
    if (!json_is_object(g))
        return bad(err, id, "gbdt", "missing (the XGBoost JSON model object expected)");
    char *txt = json_dumps(g, JSON_COMPACT);
    if (!txt)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    tl_err e2 = {0};
    int rc = tl_gbdt_load(txt, strlen(txt), &m->gbdt, &e2);
    free(txt);
    if (rc < 0)
        return rc == TL_ENOMEM ? tl_err_set(err, rc, "out of memory") : bad(err, id, "gbdt", e2.msg);
    if (tl_gbdt_dim(m->gbdt) != m->n_features) {
        char why[160];
        snprintf(why, sizeof why, "the trees use %zu features, the model lists %zu",
                 tl_gbdt_dim(m->gbdt), m->n_features);
        return bad(err, id, "gbdt", why);
    }
    const json_t *f = json_object_get(doc, "iforest");
    if (!f)
        return bad(err, id, "iforest", "missing (an isolation forest or null expected)");
    if (!json_is_null(f)) {
        if ((rc = tl_iforest_from_json(f, &m->iforest, &e2)) < 0)
            return rc == TL_ENOMEM ? tl_err_set(err, rc, "out of memory")
                                   : bad(err, id, "iforest", e2.msg);
        if (tl_iforest_dim(m->iforest) != m->n_features)
            return bad(err, id, "iforest", "its feature count differs from the model's");
    }
    /* the logistic regression: absent or null is none */
    const json_t *l = json_object_get(doc, "linear");
    if (l && !json_is_null(l)) {
        const json_t *mu = json_object_get(l, "mean"), *sd = json_object_get(l, "sd");
        if (!json_is_object(l) || json_array_size(mu) != m->n_features ||
            json_array_size(sd) != m->n_features)
            return bad(err, id, "linear",
                       "must be {\"model\": ..., \"mean\": [...], \"sd\": [...]} with a mean and "
                       "sd per feature");
        if ((rc = tl_linear_from_json(json_object_get(l, "model"), &m->linear, &e2)) < 0)
            return rc == TL_ENOMEM ? tl_err_set(err, rc, "out of memory")
                                   : bad(err, id, "linear", e2.msg);
        if (tl_linear_dim(m->linear) != m->n_features)
            return bad(err, id, "linear", "its feature count differs from the model's");
        m->lr_mean = malloc(m->n_features * sizeof *m->lr_mean);
        m->lr_sd = malloc(m->n_features * sizeof *m->lr_sd);
        if (!m->lr_mean || !m->lr_sd)
            return tl_err_set(err, TL_ENOMEM, "out of memory");
        for (size_t j = 0; j < m->n_features; j++) {
            const json_t *a = json_array_get(mu, j), *b = json_array_get(sd, j);
            if (!json_is_number(a) || !json_is_number(b) || !isfinite(json_number_value(a)) ||
                !(json_number_value(b) > 0) || !isfinite(json_number_value(b)))
                return bad(err, id, "linear", "mean and sd must be finite numbers, sd > 0");
            m->lr_mean[j] = json_number_value(a);
            m->lr_sd[j] = json_number_value(b);
        }
    }
    const json_t *c = json_object_get(doc, "combine");
    int64_t cold;
    if (!json_is_object(c) || unit_member(c, "iforest_weight", &m->iforest_weight) < 0 ||
        int_member(c, "cold_max_tx", 0, 1000000, &cold) < 0)
        return bad(err, id, "combine",
                   "must be {\"iforest_weight\": 0..1, \"cold_max_tx\": 0..1000000}");
    m->cold_max_tx = (int)cold;
    m->linear_weight = 0;
    if (json_object_get(c, "linear_weight") &&
        (unit_member(c, "linear_weight", &m->linear_weight) < 0 ||
         (m->linear_weight > 0 && !m->linear)))
        return bad(err, id, "combine",
                   "linear_weight must be 0..1, and 0 without a logistic regression");
    const json_t *t = json_object_get(doc, "thresholds");
    if (!json_is_object(t) || unit_member(t, "review", &m->review) < 0 ||
        unit_member(t, "block", &m->block) < 0)
        return bad(err, id, "thresholds", "must be {\"review\": 0..1, \"block\": 0..1}");
    if (m->review > m->block)
        return bad(err, id, "thresholds", "review is above block");
    return 0;
}

static int parse_texts(tl_fraud_model *m, const json_t *doc, const char *id, tl_err *err)
{
    const json_t *rt = json_object_get(doc, "reason_texts");
    if (!json_is_object(rt))
        return bad(err, id, "reason_texts", "missing (an object feature -> sentence expected)");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rt, k, v) {
        size_t j = 0;
        while (j < m->n_features && strcmp(m->names[j], k) != 0)
            j++;
        char why[200];
        if (j == m->n_features) {
            snprintf(why, sizeof why, "\"%.60s\" is not a feature of the model", k);
            return bad(err, id, "reason_texts", why);
        }
        const char *s = json_string_value(v);
        char scratch[8];
        struct out sink = {scratch, sizeof scratch, 0};
        if (!s || strlen(s) > MAX_TEXT || render(s, strlen(s), 1, 2, &sink, 0) < 0) {
            snprintf(why, sizeof why,
                     "the text of %.60s must be a sentence of at most %d bytes with known "
                     "placeholders",
                     k, MAX_TEXT);
            return bad(err, id, "reason_texts", why);
        }
        if (!(m->text[j] = strdup(s)))
            return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    /* a feature without one gets the default sentence */
    for (size_t j = 0; j < m->n_features; j++)
        if (!m->text[j]) {
            char b[MAX_TEXT + 1];
            tl__fraud_default_text(&m->cfg, m->names[j], b, sizeof b);
            if (!(m->text[j] = strdup(b)))
                return tl_err_set(err, TL_ENOMEM, "out of memory");
        }
    return 0;
}

int tl_fraud_model_from_artifact(const char *bytes, size_t len, const char *id,
                                 tl_fraud_model **out, tl_err *err)
{
    const char *name = id ? id : "(artifact)";
    json_error_t je;
    json_t *doc = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tl_err_set(err, TL_EPARSE, "fraud model %s: artifact is not JSON (byte %d: %s)",
                          name, je.position, je.text);
    tl_fraud_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(doc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    snprintf(m->id, sizeof m->id, "%s", id ? id : "");
    int rc = 0;
    const char *fmt = json_string_value(json_object_get(doc, "format"));
    json_t *ver = json_object_get(doc, "version");
    const char *cur = json_string_value(json_object_get(doc, "currency"));
    if (!json_is_object(doc))
        rc = bad(err, name, "format", "the artifact is not a JSON object");
    else if (!fmt || strcmp(fmt, FRAUD_FORMAT) != 0)
        rc = bad(err, name, "format", "not a teller-fraud artifact");
    else if (!json_is_integer(ver) || json_integer_value(ver) != FRAUD_FORMAT_VERSION)
        rc = bad(err, name, "version", "unsupported version (this teller reads version 1)");
    else if (!cur || strlen(cur) != 3 || !tl_currency_valid(cur))
        rc = bad(err, name, "currency", "must be an ISO 4217 code");
    if (rc == 0) {
        memcpy(m->currency, cur, 4);
        m->exponent = tl_currency_exponent(cur);
        rc = parse_stream(m, doc, name, err);
    }
    if (rc == 0)
        rc = parse_features(m, doc, name, err);
    if (rc == 0)
        rc = parse_models(m, doc, name, err);
    if (rc == 0)
        rc = parse_texts(m, doc, name, err);
    json_decref(doc);
    if (rc < 0) {
        tl_fraud_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int tl_fraud_model_load(tl_ctx *ctx, const char *id, tl_fraud_model **out, tl_err *err)
{
    char mid[TL_MODEL_ID_MAX];
    char *bytes = NULL;
    size_t len = 0;
    int rc = tl_registry_task_artifact(ctx, "fraud", id, mid, &bytes, &len, err);
    if (rc == 0)
        rc = tl_fraud_model_from_artifact(bytes, len, mid, out, err);
    free(bytes);
    return rc;
}

const char *tl_fraud_model_id(const tl_fraud_model *m)
{
    return m->id;
}

void tl_fraud_model_stream_config(const tl_fraud_model *m, struct tl_stream_config *cfg)
{
    *cfg = m->cfg;
}

size_t tl_fraud_model_n_features(const tl_fraud_model *m)
{
    return m->n_features;
}

const char *tl_fraud_model_feature(const tl_fraud_model *m, size_t j)
{
    return j < m->n_features ? m->names[j] : NULL;
}

const char *tl_fraud_model_currency(const tl_fraud_model *m)
{
    return m->currency;
}

/* ---- the artifact ------------------------------------------------------------ */

int tl__fraud_artifact(const struct tl__fraud_parts *p, char **bytes, size_t *len, tl_err *err)
{
    tl_stream *st;
    int rc = tl_stream_new(p->cfg, &st, err);
    if (rc < 0)
        return rc;
    struct tl__fraud_derive dv;
    tl__fraud_derive_setup(&dv, st);
    json_t *doc = json_object(), *feats = json_array(), *texts = json_object();
    json_t *wins = json_array();
    for (int k = 0; k < p->cfg->n_windows; k++)
        json_array_append_new(wins, json_integer(p->cfg->window_s[k]));
    size_t n_feat = dv.n_stream + dv.n_ratio;
    for (size_t j = 0; j < n_feat; j++) {
        char name[80], text[MAX_TEXT + 1];
        if (j < dv.n_stream)
            snprintf(name, sizeof name, "%s", tl_stream_feature_name(st, j));
        else
            tl__fraud_derive_name(&dv, st, j - dv.n_stream, name, sizeof name);
        tl__fraud_default_text(p->cfg, name, text, sizeof text);
        json_array_append_new(feats, json_string(name));
        json_object_set_new(texts, name, json_string(text));
    }
    tl_stream_free(st);
    char *gb = NULL;
    size_t gb_len = 0;
    json_t *gj = NULL;
    if ((rc = tl_gbdt_save(p->gbdt, &gb, &gb_len, err)) < 0)
        goto fail;
    json_error_t je;
    gj = json_loadb(gb, gb_len, 0, &je);
    free(gb);
    if (!gj) {
        rc = tl_err_set(err, TL_EINTERNAL, "the trees' XGBoost JSON does not parse: %s", je.text);
        goto fail;
    }
    json_t *ij = p->iforest ? tl_iforest_to_json(p->iforest) : json_null();
    json_t *lj = json_null();
    if (p->linear) {
        json_t *mu = json_array(), *sd = json_array();
        for (size_t j = 0; j < n_feat; j++) {
            json_array_append_new(mu, json_real(p->lr_mean[j]));
            json_array_append_new(sd, json_real(p->lr_sd[j]));
        }
        json_decref(lj);
        lj = json_pack("{s:o,s:o,s:o}", "model", tl_linear_to_json(p->linear), "mean", mu, "sd",
                       sd);
    }
    json_object_set_new(doc, "format", json_string(FRAUD_FORMAT));
    json_object_set_new(doc, "version", json_integer(FRAUD_FORMAT_VERSION));
    json_object_set_new(doc, "stream",
                        json_pack("{s:o,s:I,s:I,s:i}", "windows_s", wins, "label_delay_s",
                                  (json_int_t)p->cfg->label_delay_s, "max_lateness_s",
                                  (json_int_t)p->cfg->max_lateness_s, "night_end_hour",
                                  p->cfg->night_end_hour));
    wins = NULL;
    json_object_set_new(doc, "features", feats);
    feats = NULL;
    json_object_set_new(doc, "currency", json_string(p->currency));
    json_object_set_new(doc, "gbdt", gj);
    json_object_set_new(doc, "iforest", ij);
    json_object_set_new(doc, "linear", lj);
    json_object_set_new(doc, "combine",
                        json_pack("{s:f,s:i,s:f}", "iforest_weight", p->iforest_weight,
                                  "cold_max_tx", p->cold_max_tx, "linear_weight",
                                  p->linear ? p->linear_weight : 0.0));
    json_object_set_new(doc, "thresholds",
                        json_pack("{s:f,s:f}", "review", p->review, "block", p->block));
    json_object_set_new(doc, "reason_texts", texts);
    texts = NULL;
    char *s = ij && lj ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "out of memory writing the fraud model");
    *bytes = s;
    *len = strlen(s);
    return 0;
fail:
    json_decref(doc);
    json_decref(feats);
    json_decref(texts);
    json_decref(wins);
    return rc;
}

/* ---- scoring ------------------------------------------------------------------ */

void tl_fraud_model_score(const tl_fraud_model *m, const double *sf,
                          enum tl_fraud_reasons_mode mode, struct tl_fraud_score *out)
{
    double f[TL__FRAUD_MAX_FEATURES];
    float x[TL__FRAUD_MAX_FEATURES] = {0}; /* all set below; the compiler cannot tell */
    double phi[TL__FRAUD_MAX_FEATURES + 1];
    size_t d = m->n_features;
    memcpy(f, sf, m->dv.n_stream * sizeof *f);
    tl__fraud_derive(&m->dv, f);
    for (size_t j = 0; j < d; j++)
        x[j] = (float)f[j];
    /* One walk of the trees gives both the margin and the path attribution
     * (the steps telescope to each leaf, so the contributions sum to the
     * margin); exact TreeSHAP, ten to twenty times dearer, is computed below
     * only when the mode asks for it. Every mode takes its margin from this
     * same sum, so a decision never depends on the reasons mode. */
    tl_gbdt_contribs_approx(m->gbdt, x, phi);
    double margin = 0;
    for (size_t j = 0; j <= d; j++)
        margin += phi[j];
    double p = 1 / (1 + exp(-margin));
    if (m->linear && m->linear_weight > 0) {
        /* the blend the training chose on the validation days; the
         * reasons below stay the trees' */
        float z[TL__FRAUD_MAX_FEATURES];
        for (size_t j = 0; j < d; j++)
            z[j] = (float)(((double)x[j] - m->lr_mean[j]) / m->lr_sd[j]);
        double pl = 1 / (1 + exp(-tl_linear_margin(m->linear, z)));
        p = (1 - m->linear_weight) * p + m->linear_weight * pl;
    }
    out->model_score = p;
    /* the count includes this transaction */
    out->cold = f[m->nb_longest] - 1 <= m->cold_max_tx;
    out->anomaly = NAN;
    out->score = p;
    if (out->cold && m->iforest) {
        out->anomaly = tl_iforest_score(m->iforest, x);
        out->score = (1 - m->iforest_weight) * p + m->iforest_weight * out->anomaly;
    }
    out->action = out->score >= m->block    ? TL_RULE_BLOCK
                  : out->score >= m->review ? TL_RULE_REVIEW
                                            : TL_RULE_ALLOW;
    bool exact = mode == TL_FRAUD_REASONS_EXACT ||
                 (mode == TL_FRAUD_REASONS_SHAP && out->action != TL_RULE_ALLOW);
    if (exact)
        tl_gbdt_contribs(m->gbdt, x, phi);
    /* the largest positive contributions, ties to the lower index */
    out->n_reasons = 0;
    for (size_t j = 0; j < d; j++) {
        double c = phi[j];
        if (!(c > 0))
            continue;
        size_t k = out->n_reasons;
        if (k == TL_FRAUD_MAX_REASONS) {
            if (c <= out->reasons[k - 1].contribution)
                continue;
            k--;
        } else {
            out->n_reasons++;
        }
        while (k > 0 && out->reasons[k - 1].contribution < c) {
            out->reasons[k] = out->reasons[k - 1];
            k--;
        }
        out->reasons[k] = (struct tl_fraud_contribution){.feature = j, .value = f[j],
                                                         .contribution = c};
    }
}

void tl_fraud_reason_text(const tl_fraud_model *m, const struct tl_fraud_contribution *c,
                          char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    if (c->feature >= m->n_features)
        return;
    const char *t = m->text[c->feature];
    struct out o = {buf, size, 0};
    if (render(t, strlen(t), c->value, m->exponent, &o, 0) < 0)
        snprintf(buf, size, "%s = %g", m->names[c->feature], c->value);
}
