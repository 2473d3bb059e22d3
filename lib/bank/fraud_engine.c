/*
 * fraud_engine.c - live fraud decisions (fraud.h, "the engine"): a
 * transaction is checked, taken into the stream state, scored by the model,
 * judged by the bank's rules, and the two verdicts combined.
 *
 * Everything that can refuse a transaction runs before the stream state
 * changes (tl_stream_update itself changes nothing when it fails), and
 * nothing after it can fail, so an error leaves the state as it was. The
 * decision path allocates nothing: the rule values, the feature vector and
 * the schema are sized when the engine is made.
 */
#include <teller/datetime.h>
#include <teller/fraud.h>
#include <teller/money.h>

#include "core/internal.h"
#include "fraud_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The transaction fields of the rule schema, in this order, before the
 * model's features (fraud.h, tl_fraud_rule_schema). No "hour" field: the
 * language has hour(ts_ms), and a field may not take a function's name. */
enum {
    F_AMOUNT, F_CURRENCY, F_CARD_ID, F_CUSTOMER_ID, F_TERMINAL_ID, F_MERCHANT_ID, F_COUNTRY,
    F_HOME_COUNTRY, F_CHANNEL, F_MCC, F_TS_MS, F_SCORE, F_MODEL_SCORE, F_IS_NIGHT,
    F_IS_WEEKEND, F_IS_COLD, F_FIRST_SEEN_TERMINAL, F_FOREIGN, F_COUNT
};

static const struct tl_rule_field TX_FIELDS[F_COUNT] = {
    [F_AMOUNT] = {"amount", TL_RULE_NUM},
    [F_CURRENCY] = {"currency", TL_RULE_STR},
    [F_CARD_ID] = {"card_id", TL_RULE_STR},
    [F_CUSTOMER_ID] = {"customer_id", TL_RULE_STR},
    [F_TERMINAL_ID] = {"terminal_id", TL_RULE_STR},
    [F_MERCHANT_ID] = {"merchant_id", TL_RULE_STR},
    [F_COUNTRY] = {"country", TL_RULE_STR},
    [F_HOME_COUNTRY] = {"home_country", TL_RULE_STR},
    [F_CHANNEL] = {"channel", TL_RULE_STR},
    [F_MCC] = {"mcc", TL_RULE_NUM},
    [F_TS_MS] = {"ts_ms", TL_RULE_NUM},
    [F_SCORE] = {"score", TL_RULE_NUM},
    [F_MODEL_SCORE] = {"model_score", TL_RULE_NUM},
    [F_IS_NIGHT] = {"is_night", TL_RULE_BOOL},
    [F_IS_WEEKEND] = {"is_weekend", TL_RULE_BOOL},
    [F_IS_COLD] = {"is_cold", TL_RULE_BOOL},
    [F_FIRST_SEEN_TERMINAL] = {"first_seen_terminal", TL_RULE_BOOL},
    [F_FOREIGN] = {"foreign", TL_RULE_BOOL},
};

struct tl_fraud_engine {
    const tl_fraud_model *m;
    tl_stream *s;
    struct tl_fraud_engine_opts opts;
    char *rules_path;                /* owned copy; NULL without rules */
    tl_rules *rules;                 /* compiled against schema */
    struct tl_rule_field schema[F_COUNT + TL__FRAUD_MAX_FEATURES];
    size_t n_schema;
    int16_t feat_of_field[F_COUNT + TL__FRAUD_MAX_FEATURES]; /* model feature, -1 for tx fields */
    struct tl_rule_value values[F_COUNT + TL__FRAUD_MAX_FEATURES];
    struct tl__fraud_derive dv;
    size_t n_stream, n_model;        /* the stream's features, the model's (its + derived) */
    bool derived_ok;                 /* the model's extra features are tl__fraud_derive's */
    double f[TL__FRAUD_MAX_FEATURES]; /* the current transaction's features */
    /* where the stream layout keeps what the engine reads itself */
    size_t col_weekend, col_night, col_card_n_longest, col_term_n_longest, col_terminal_new;
    int64_t longest_window_s, label_delay_s;
    int cur_exp;                     /* the model currency's exponent; -1 none */
    char last_digest[65];            /* the last decision's, and whether its terminal */
    bool last_terminal_unknown;      /* had no history (terminal_unknown below) */
};

static bool is_ident(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static bool is_keyword(const char *s)
{
    /* the language's keywords and functions (docs/fraud-rules.md) */
    static const char *const kw[] = {"and", "or",  "not", "in",   "true",
                                     "false", "abs", "min", "max", "hour", NULL};
    for (int i = 0; kw[i]; i++)
        if (strcmp(s, kw[i]) == 0)
            return true;
    return false;
}

/* Fills out with the schema and, when map is given, each field's model
 * feature (-1 for the transaction fields). A model feature whose name is
 * not an identifier or repeats an earlier field is left out: rules cannot
 * name it, and the rest of the schema stays loadable. */
static size_t build_schema(const tl_fraud_model *m, struct tl_rule_field *out, int16_t *map,
                           size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < F_COUNT; i++, n++)
        if (n < cap) {
            out[n] = TX_FIELDS[i];
            if (map)
                map[n] = -1;
        }
    size_t nf = m ? tl_fraud_model_n_features(m) : 0;
    for (size_t j = 0; j < nf && j < TL__FRAUD_MAX_FEATURES; j++) {
        const char *name = tl_fraud_model_feature(m, j);
        if (!is_ident(name) || is_keyword(name) || strlen(name) >= TL_RULES_MAX_NAME)
            continue;
        bool dup = false;
        for (size_t k = 0; k < F_COUNT && !dup; k++)
            dup = strcmp(TX_FIELDS[k].name, name) == 0;
        for (size_t k = 0; k < j && !dup; k++)
            dup = strcmp(tl_fraud_model_feature(m, k), name) == 0;
        if (dup)
            continue;
        if (n < cap) {
            out[n] = (struct tl_rule_field){name, TL_RULE_NUM};
            if (map)
                map[n] = (int16_t)j;
        }
        n++;
    }
    return n;
}

size_t tl_fraud_rule_schema(const tl_fraud_model *m, struct tl_rule_field *out, size_t cap)
{
    return build_schema(m, out, NULL, out ? cap : 0);
}

static bool same_config(const struct tl_stream_config *a, const struct tl_stream_config *b)
{
    if (a->n_windows != b->n_windows || a->label_delay_s != b->label_delay_s ||
        a->max_lateness_s != b->max_lateness_s || a->night_end_hour != b->night_end_hour)
        return false;
    for (int k = 0; k < a->n_windows; k++)
        if (a->window_s[k] != b->window_s[k])
            return false;
    return true;
}

/* The model's features must begin with the stream's, in order: that is
 * what it was trained on, and what tl_fraud_model_score is handed. */
static int check_model(const tl_fraud_model *m, const tl_stream *s, tl_err *err)
{
    size_t ns = tl_stream_n_features(s), nm = tl_fraud_model_n_features(m);
    if (nm < ns || nm > TL__FRAUD_MAX_FEATURES)
        return tl_err_set(err, TL_EINVAL,
                          "fraud model %s has %zu features, not the stream engine's %zu and up to "
                          "%d derived ones",
                          tl_fraud_model_id(m), nm, ns, TL__FRAUD_MAX_FEATURES - (int)ns);
    for (size_t j = 0; j < ns; j++)
        if (strcmp(tl_fraud_model_feature(m, j), tl_stream_feature_name(s, j)) != 0)
            return tl_err_set(err, TL_EINVAL,
                              "fraud model %s: feature %zu is \"%s\", the stream engine's is \"%s\"",
                              tl_fraud_model_id(m), j, tl_fraud_model_feature(m, j),
                              tl_stream_feature_name(s, j));
    return 0;
}

/* Everything that depends on the model and the stream's layout. */
static void setup_layout(tl_fraud_engine *e, const struct tl_stream_config *cfg)
{
    int nw = cfg->n_windows;
    e->n_stream = tl_stream_n_features(e->s);
    e->n_model = tl_fraud_model_n_features(e->m);
    tl__fraud_derive_setup(&e->dv, e->s);
    e->derived_ok = e->dv.n_stream == e->n_stream && e->n_stream + e->dv.n_ratio == e->n_model;
    for (size_t j = e->n_stream; e->derived_ok && j < e->n_model; j++) {
        char name[96];
        tl__fraud_derive_name(&e->dv, e->s, j - e->n_stream, name, sizeof name);
        e->derived_ok = strcmp(name, tl_fraud_model_feature(e->m, j)) == 0;
    }
    /* ml_stream.h's layout: 3, then per window 2 customer and 2 terminal,
     * then secs_since_prev, amount_z, customer_terminal_new, country_new,
     * channel_new */
    e->col_weekend = 1;
    e->col_night = 2;
    e->col_card_n_longest = 3 + 2 * (size_t)(nw - 1);
    e->col_term_n_longest = 3 + 2 * (size_t)nw + 2 * (size_t)(nw - 1);
    e->col_terminal_new = 3 + 4 * (size_t)nw + 2;
    e->longest_window_s = cfg->window_s[nw - 1];
    e->label_delay_s = cfg->label_delay_s;
    e->cur_exp = tl_currency_exponent(tl_fraud_model_currency(e->m));
}

static int load_rules(const tl_fraud_model *m, const char *path, struct tl_rule_field *schema,
                      int16_t *map, size_t *n_schema, tl_rules **out, tl_err *err)
{
    *n_schema = build_schema(m, schema, map, F_COUNT + TL__FRAUD_MAX_FEATURES);
    *out = NULL;
    if (!path)
        return 0;
    return tl_rules_load_file(path, schema, *n_schema, out, err);
}

int tl_fraud_engine_new(const tl_fraud_model *m, const struct tl_fraud_engine_opts *opts,
                        tl_fraud_engine **out, tl_err *err)
{
    struct tl_fraud_engine_opts o = opts ? *opts : TL_FRAUD_ENGINE_OPTS_DEFAULT;
    if (!m)
        return tl_err_set(err, TL_EINVAL, "fraud engine: no model");
    if (o.reasons < TL_FRAUD_REASONS_SHAP || o.reasons > TL_FRAUD_REASONS_APPROX)
        return tl_err_set(err, TL_EINVAL, "fraud engine: reasons mode %d is not shap, exact or approx",
                          (int)o.reasons);
    if (o.max_future_ms < 0)
        return tl_err_set(err, TL_EINVAL, "fraud engine: max_future_ms %" PRId64 " is negative",
                          o.max_future_ms);
    if (!(o.review_threshold >= 0 && o.review_threshold <= 1) ||
        !(o.block_threshold >= 0 && o.block_threshold <= 1))
        return tl_err_set(err, TL_EINVAL,
                          "fraud engine: thresholds must be from 0 to 1 (review %g, block %g)",
                          o.review_threshold, o.block_threshold);
    if (o.review_threshold > 0 && o.block_threshold > 0 && o.review_threshold > o.block_threshold)
        return tl_err_set(err, TL_EINVAL,
                          "fraud engine: review threshold %g is above the block threshold %g",
                          o.review_threshold, o.block_threshold);
    tl_fraud_engine *e = calloc(1, sizeof *e);
    if (!e)
        return tl_err_set(err, TL_ENOMEM, "fraud engine: out of memory");
    e->m = m;
    e->opts = o;
    e->opts.rules_path = NULL;
    struct tl_stream_config cfg;
    tl_fraud_model_stream_config(m, &cfg);
    int rc = tl_stream_new(&cfg, &e->s, err);
    if (rc == 0)
        rc = check_model(m, e->s, err);
    if (rc == 0 && o.rules_path && !(e->rules_path = strdup(o.rules_path)))
        rc = tl_err_set(err, TL_ENOMEM, "fraud engine: out of memory");
    if (rc == 0)
        rc = load_rules(m, e->rules_path, e->schema, e->feat_of_field, &e->n_schema, &e->rules, err);
    if (rc < 0) {
        tl_fraud_engine_free(e);
        return rc;
    }
    e->opts.rules_path = e->rules_path;
    setup_layout(e, &cfg);
    *out = e;
    return 0;
}

void tl_fraud_engine_free(tl_fraud_engine *e)
{
    if (!e)
        return;
    tl_stream_free(e->s);
    tl_rules_free(e->rules);
    free(e->rules_path);
    free(e);
}

int tl_fraud_engine_set_model(tl_fraud_engine *e, const tl_fraud_model *m, tl_err *err)
{
    if (!e || !m)
        return tl_err_set(err, TL_EINVAL, "fraud engine: no model");
    struct tl_stream_config now, next;
    tl_fraud_model_stream_config(e->m, &now);
    tl_fraud_model_stream_config(m, &next);
    if (!same_config(&now, &next))
        return tl_err_set(err, TL_EINVAL,
                          "fraud model %s was trained with other stream windows, delay or hours "
                          "than %s: it needs a new engine and a replay of the store",
                          tl_fraud_model_id(m), tl_fraud_model_id(e->m));
    int rc = check_model(m, e->s, err);
    if (rc < 0)
        return rc;
    /* the rules name features by schema position: compile them again */
    struct tl_rule_field schema[F_COUNT + TL__FRAUD_MAX_FEATURES];
    int16_t map[F_COUNT + TL__FRAUD_MAX_FEATURES];
    size_t n;
    tl_rules *r;
    if ((rc = load_rules(m, e->rules_path, schema, map, &n, &r, err)) < 0)
        return rc;
    tl_rules_free(e->rules);
    e->rules = r;
    memcpy(e->schema, schema, sizeof schema);
    memcpy(e->feat_of_field, map, sizeof map);
    e->n_schema = n;
    e->m = m;
    setup_layout(e, &next);
    return 0;
}

tl_stream *tl_fraud_engine_stream(tl_fraud_engine *e)
{
    return e ? e->s : NULL;
}

int tl_fraud_engine_set_stream(tl_fraud_engine *e, tl_stream *s, tl_err *err)
{
    if (!e || !s)
        return tl_err_set(err, TL_EINVAL, "fraud engine: no stream state");
    /* ml_stream.h gives no way to read a state's configuration back; the
     * feature names carry the windows, which is what the model depends on
     * most. TODO(lead): tl_stream_get_config, to compare delay, lateness
     * and night hours too. */
    size_t n = tl_stream_n_features(s);
    bool same = n == tl_stream_n_features(e->s);
    for (size_t j = 0; same && j < n; j++)
        same = strcmp(tl_stream_feature_name(s, j), tl_stream_feature_name(e->s, j)) == 0;
    if (!same)
        return tl_err_set(err, TL_EINVAL,
                          "fraud engine: the stream state has other windows than model %s was "
                          "trained with: rebuild it by a replay",
                          tl_fraud_model_id(e->m));
    tl_stream_free(e->s);
    e->s = s;
    return 0;
}

static inline void set_str(struct tl_rule_value *v, const char *s)
{
    v->str = s;
    v->str_len = s ? strlen(s) : 0;
}

/* The model's action, with the engine's threshold overrides; the model's
 * own thresholds are not public, so an override of one keeps the model's
 * verdict on the other side of it. */
static enum tl_rule_action model_action(const tl_fraud_engine *e, const struct tl_fraud_score *sc)
{
    double rv = e->opts.review_threshold, bl = e->opts.block_threshold;
    if (rv <= 0 && bl <= 0)
        return sc->action;
    bool block = bl > 0 ? sc->score >= bl : sc->action == TL_RULE_BLOCK;
    if (block)
        return TL_RULE_BLOCK;
    bool review = rv > 0 ? sc->score >= rv : sc->action >= TL_RULE_REVIEW;
    return review ? TL_RULE_REVIEW : TL_RULE_ALLOW;
}

/* The checks and the state update every transaction goes through, decided
 * or only replayed: e->f holds its features after. Returns 0 or
 * TL_STREAM_DUPLICATE, or an error with the state unchanged; *exp is the
 * exponent its amount is counted in. */
static int take(tl_fraud_engine *e, const struct tl_fraud_tx *tx, int *exp_out, tl_err *err)
{
    int rc = tl__fraud_tx_check(tx, tl_time_now_ms(), e->opts.max_future_ms, err);
    if (rc < 0)
        return rc;
    char q[TL__QUOTE_SIZE];
    const char *mcur = tl_fraud_model_currency(e->m);
    if (e->cur_exp >= 0 && memcmp(tx->currency, mcur, 3) != 0)
        return tl_err_set(err, TL_EINVAL,
                          "transaction \"%s\": currency %.3s is not the model's %s (amounts are "
                          "compared with the card's history: convert to %s first)",
                          tl__quote(q, sizeof q, tx->id, strlen(tx->id)), tx->currency, mcur, mcur);
    /* the stream counts hundredths of the currency unit */
    int exp = e->cur_exp >= 0 ? e->cur_exp : tl_currency_exponent(tx->currency);
    int64_t cents = tx->amount_minor;
    for (int k = exp; k < 2; k++)
        cents *= 10;
    for (int k = 2; k < exp; k++)
        cents = (cents + 5) / 10;
    struct tl_stream_tx st = {
        .tx_id = tx->id,
        .customer_id = tx->card_id,
        .terminal_id = tx->terminal_id && *tx->terminal_id ? tx->terminal_id : tx->merchant_id,
        .ts_s = tx->ts_ms >= 0 ? tx->ts_ms / 1000 : -((-tx->ts_ms + 999) / 1000),
        .amount_cents = cents,
        .label = tx->label,
        .country = tx->country,
        .channel = tx->channel,
    };
    *exp_out = exp;
    return tl_stream_update(e->s, &st, e->f, err);
}

int tl_fraud_engine_take(tl_fraud_engine *e, const struct tl_fraud_tx *tx, bool *duplicate,
                         tl_err *err)
{
    if (!e)
        return tl_err_set(err, TL_EINVAL, "tl_fraud_engine_take: no engine");
    int exp;
    int rc = take(e, tx, &exp, err);
    if (rc < 0)
        return rc;
    if (duplicate)
        *duplicate = rc == TL_STREAM_DUPLICATE;
    return 0;
}

int tl_fraud_decide(tl_fraud_engine *e, const struct tl_fraud_tx *tx, struct tl_fraud_decision *out,
                    tl_err *err)
{
    if (!e || !out)
        return tl_err_set(err, TL_EINVAL, "tl_fraud_decide: no engine or no decision to fill");
    int exp;
    int rc = take(e, tx, &exp, err);
    if (rc < 0)
        return rc;
    /* nothing fails from here on: the state has taken the transaction */
    struct tl_fraud_decision *d = out;
    d->duplicate = rc == TL_STREAM_DUPLICATE;
    tl_fraud_model_score(e->m, e->f, e->opts.reasons, &d->score);
    double card_n = e->f[e->col_card_n_longest];
    d->card_tx_before = card_n >= 1 ? (uint64_t)card_n - 1 : 0;
    enum tl_rule_action ma = model_action(e, &d->score);

    d->rules.action = TL_RULE_ALLOW;
    d->rules.basis = TL_RULES_BY_DEFAULT;
    d->rules.decided_by = -1;
    d->rules.n_fired = 0;
    d->rules.n_lists_hit = 0;
    if (e->rules) {
        if (e->derived_ok)
            tl__fraud_derive(&e->dv, e->f);
        struct tl_rule_value *v = e->values;
        double unit = 1;
        for (int k = 0; k < exp; k++)
            unit *= 10;
        v[F_AMOUNT].num = (double)tx->amount_minor / unit;
        v[F_CURRENCY].str = tx->currency;
        v[F_CURRENCY].str_len = 3;
        set_str(&v[F_CARD_ID], tx->card_id);
        set_str(&v[F_CUSTOMER_ID], tx->customer_id);
        set_str(&v[F_TERMINAL_ID], tx->terminal_id);
        set_str(&v[F_MERCHANT_ID], tx->merchant_id);
        set_str(&v[F_COUNTRY], tx->country);
        set_str(&v[F_HOME_COUNTRY], tx->home_country);
        set_str(&v[F_CHANNEL], tx->channel);
        v[F_MCC].num = tx->mcc >= 0 ? tx->mcc : NAN;
        v[F_TS_MS].num = (double)tx->ts_ms;
        v[F_SCORE].num = d->score.score;
        v[F_MODEL_SCORE].num = d->score.model_score;
        v[F_IS_NIGHT].b = e->f[e->col_night] != 0;
        v[F_IS_WEEKEND].b = e->f[e->col_weekend] != 0;
        v[F_IS_COLD].b = d->score.cold;
        v[F_FIRST_SEEN_TERMINAL].b = e->f[e->col_terminal_new] != 0;
        v[F_FOREIGN].b = tx->country && tx->home_country && *tx->country && *tx->home_country &&
                         strcmp(tx->country, tx->home_country) != 0;
        for (size_t i = F_COUNT; i < e->n_schema; i++) {
            size_t j = (size_t)e->feat_of_field[i];
            v[i].num = j < e->n_stream || e->derived_ok ? e->f[j] : NAN;
        }
        tl_rules_eval(e->rules, v, &d->rules);
    }
    if (d->rules.basis == TL_RULES_BY_ALLOW_LIST) {
        d->action = TL_RULE_ALLOW;
        d->basis = TL_FRAUD_BY_RULES;
    } else if (d->rules.action > ma) {
        d->action = d->rules.action;
        d->basis = TL_FRAUD_BY_RULES;
    } else {
        d->action = ma;
        d->basis = TL_FRAUD_BY_MODEL;
    }
    tl__fraud_tx_digest(tx, d->inputs_digest);
    /* for tl_fraud_decision_json: the decision does not carry features */
    memcpy(e->last_digest, d->inputs_digest, sizeof e->last_digest);
    e->last_terminal_unknown =
        e->f[e->col_term_n_longest] == 0 && e->f[e->col_terminal_new] != 0;
    return 0;
}

/* ---- the decision as JSON --------------------------------------------- */

static json_t *num_or_null(double x, double scale)
{
    if (!isfinite(x))
        return json_null();
    return json_real(round(x * scale) / scale);
}

static void span_text(int64_t s, char *buf, size_t size)
{
    if (s % 86400 == 0)
        snprintf(buf, size, "%" PRId64 " day%s", s / 86400, s == 86400 ? "" : "s");
    else if (s % 3600 == 0)
        snprintf(buf, size, "%" PRId64 " hour%s", s / 3600, s == 3600 ? "" : "s");
    else
        snprintf(buf, size, "%" PRId64 " s", s);
}

/* Whether the terminal of the decision d was unknown: none of its
 * transactions old enough to count in its risk windows (they end
 * label_delay_s back) and new to the card, so its risk features are zeros
 * that say nothing. Known for the engine's last decision only. */
static bool terminal_unknown(const tl_fraud_engine *e, const struct tl_fraud_decision *d)
{
    return e->last_terminal_unknown && strcmp(e->last_digest, d->inputs_digest) == 0;
}

static int append(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

json_t *tl_fraud_decision_json(const tl_fraud_engine *e, const struct tl_fraud_tx *tx,
                               const struct tl_fraud_decision *d)
{
    if (!e || !tx || !d)
        return NULL;
    json_t *reasons = json_array();
    if (!reasons)
        return NULL;
    int bad = 0;
    char text[512];
    for (size_t i = 0; i < d->score.n_reasons && i < TL_FRAUD_MAX_REASONS; i++) {
        const struct tl_fraud_contribution *c = &d->score.reasons[i];
        tl_fraud_reason_text(e->m, c, text, sizeof text);
        const char *name = tl_fraud_model_feature(e->m, c->feature);
        bad |= append(reasons, json_pack("{s:s,s:s,s:o,s:o,s:s}", "kind", "model", "feature",
                                         name ? name : "?", "value", num_or_null(c->value, 1e6),
                                         "contribution", num_or_null(c->contribution, 1e4), "text",
                                         text));
    }
    for (uint32_t i = 0; e->rules && i < d->rules.n_fired; i++) {
        const struct tl_rule_info *r = tl_rules_get(e->rules, d->rules.fired[i]);
        if (r)
            bad |= append(reasons, json_pack("{s:s,s:s,s:s,s:s}", "kind", "rule", "rule", r->name,
                                             "action", tl_rule_action_name(r->action), "text",
                                             r->reason ? r->reason : ""));
    }
    for (uint32_t i = 0; e->rules && i < d->rules.n_lists_hit; i++) {
        const struct tl_rules_list_info *l = tl_rules_list_get(e->rules, d->rules.lists_hit[i]);
        if (l)
            bad |= append(reasons, json_pack("{s:s,s:s,s:s}", "kind", "list", "list", l->name,
                                             "action", l->is_allow ? "allow" : "block"));
    }
    char q[TL__QUOTE_SIZE], span[32];
    bool term_cold = terminal_unknown(e, d);
    if (d->score.cold) {
        span_text(e->longest_window_s, span, sizeof span);
        /* the isolation forest weighs in only when training gave it a weight */
        bool blended = !isnan(d->score.anomaly) && d->score.score != d->score.model_score;
        snprintf(text, sizeof text,
                 "card \"%s\" has %" PRIu64 " earlier transaction%s in the last %s: scored as a new "
                 "card, with little history of its own to compare with%s",
                 tl__quote(q, sizeof q, tx->card_id, strlen(tx->card_id)), d->card_tx_before,
                 d->card_tx_before == 1 ? "" : "s", span,
                 blended ? ", and its score blends in an anomaly score" : "");
        bad |= append(reasons, json_pack("{s:s,s:s}", "kind", "cold_start", "text", text));
    }
    if (term_cold) {
        const char *t = tx->terminal_id && *tx->terminal_id ? tx->terminal_id : tx->merchant_id;
        span_text(e->label_delay_s, span, sizeof span);
        snprintf(text, sizeof text,
                 "terminal \"%s\" has no transaction older than the label delay (%s) and is new to "
                 "this card: its risk is unknown",
                 tl__quote(q, sizeof q, t ? t : "", t ? strlen(t) : 0), span);
        bad |= append(reasons, json_pack("{s:s,s:s}", "kind", "cold_start", "text", text));
    }
    char amount[48];
    if (tl_money_format(tx->amount_minor, tx->currency, amount, sizeof amount) < 0)
        snprintf(amount, sizeof amount, "%" PRId64, tx->amount_minor);
    char currency[4];
    memcpy(currency, tx->currency, 3);
    currency[3] = '\0';
    json_t *out = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:b,s:b,s:o,s:s,s:s}", "transaction_id", tx->id,
        "card_id", tx->card_id, "amount", amount, "currency", currency, "decision",
        tl_rule_action_name(d->action), "score", num_or_null(d->score.score, 1e6), "model_score",
        num_or_null(d->score.model_score, 1e6), "anomaly", num_or_null(d->score.anomaly, 1e6),
        "model", tl_fraud_model_id(e->m), "cold_start", d->score.cold || term_cold, "duplicate",
        d->duplicate, "reasons", reasons, "basis",
        d->basis == TL_FRAUD_BY_RULES ? "rules" : "model", "inputs_digest", d->inputs_digest);
    if (out && bad) {
        json_decref(out);
        return NULL;
    }
    return out;
}
