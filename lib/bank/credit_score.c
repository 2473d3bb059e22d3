/*
 * credit_score.c - a credit model loaded from its artifact, and scoring:
 * PD, points, decision and reason codes for one application.
 *
 * The artifact is parsed and every part validated here (the registry has
 * already checked its checksum), because scoring trusts the shapes it reads:
 * a WoE table with fewer variables than weights, or trees reading a feature
 * the encoder does not make, would read out of bounds at scoring time.
 *
 * tl_credit_score_row is the hot path and allocates nothing: the encoded row,
 * the SHAP values and the per-column sums live on the stack, which is why a
 * model is bounded by CREDIT_MAX_INPUTS and CREDIT_MAX_FEATURES.
 *
 * A GBDT's reasons come from exact TreeSHAP by default. Exact TreeSHAP walks
 * every leaf of every tree, O(trees * leaves * depth^2): with a few hundred
 * depth-6 trees it is nearly all of an application's scoring time.
 * credit.reasons = approx switches a loaded model to the approximate
 * contributions (Saabas path attribution, O(trees * depth)), which are not
 * Shapley values but rank the columns the same way in most applications. It
 * is read when the model is loaded, like the cut-offs, and is not stored in
 * the artifact: how reasons are attributed is a policy of the scoring side
 * that must not need a retrain. The decision says which method was used.
 */
#include "credit_internal.h"

#include <teller/nn_tabular.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the scale and the decision ----------------------------------------- */

double tl_credit_points(double pd, double base, double odds, double pdo)
{
    double factor = pdo / log(2.0);
    double offset = base - factor * log(odds);
    return offset + factor * log((1.0 - pd) / pd);
}

const char *tl_credit_outcome_name(enum tl_credit_outcome o)
{
    switch (o) {
    case TL_CREDIT_APPROVE: return "approve";
    case TL_CREDIT_REFER: return "refer";
    case TL_CREDIT_DECLINE: return "decline";
    }
    return "?";
}

enum tl_credit_outcome tl__credit_decide(const struct tl_credit_model *m, double pd, double score)
{
    const struct tl__credit_cutoffs *c = &m->cut;
    if (c->by_score) {
        if (score >= c->approve_min_score)
            return TL_CREDIT_APPROVE;
        return score < c->decline_max_score ? TL_CREDIT_DECLINE : TL_CREDIT_REFER;
    }
    if (pd < c->approve_max_pd)
        return TL_CREDIT_APPROVE;
    return pd >= c->decline_min_pd ? TL_CREDIT_DECLINE : TL_CREDIT_REFER;
}

static int parse_real(const tl_config *cfg, const char *key, double *out, tl_err *err)
{
    const char *s = tl_config_get(cfg, key);
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || end == s || *end || errno || !isfinite(v))
        return tl_err_set(err, TL_EINVAL, "configuration %s: \"%s\" is not a number", key,
                          s ? s : "");
    *out = v;
    return 0;
}

int tl__credit_config(const tl_config *cfg, struct tl__credit_scale *sc,
                      struct tl__credit_cutoffs *cut, tl_err *err)
{
    static const char *const keys[] = {"credit.base_points",       "credit.base_odds",
                                       "credit.pdo",               "credit.approve_max_pd",
                                       "credit.decline_min_pd",    "credit.approve_min_score",
                                       "credit.decline_max_score"};
    double v[7];
    for (size_t i = 0; i < 7; i++)
        if (parse_real(cfg, keys[i], &v[i], err) < 0)
            return err->code;
    *sc = (struct tl__credit_scale){.base = v[0], .odds = v[1], .pdo = v[2]};
    if (sc->odds <= 0 || sc->pdo <= 0)
        return tl_err_set(err, TL_EINVAL, "configuration credit.base_odds and credit.pdo must be "
                                          "above 0 (got %g and %g)", sc->odds, sc->pdo);
    const char *on = tl_config_get(cfg, "credit.decide_on");
    if (!on || (strcmp(on, "pd") != 0 && strcmp(on, "score") != 0))
        return tl_err_set(err, TL_EINVAL, "configuration credit.decide_on: \"%s\" is not pd or score",
                          on ? on : "");
    *cut = (struct tl__credit_cutoffs){.by_score = strcmp(on, "score") == 0,
                                       .approve_max_pd = v[3], .decline_min_pd = v[4],
                                       .approve_min_score = v[5], .decline_max_score = v[6]};
    if (!(cut->approve_max_pd > 0 && cut->approve_max_pd <= cut->decline_min_pd &&
          cut->decline_min_pd <= 1))
        return tl_err_set(err, TL_EINVAL, "configuration: need 0 < credit.approve_max_pd (%g) <= "
                                          "credit.decline_min_pd (%g) <= 1",
                          cut->approve_max_pd, cut->decline_min_pd);
    if (cut->decline_max_score > cut->approve_min_score)
        return tl_err_set(err, TL_EINVAL, "configuration: credit.decline_max_score (%g) is above "
                                          "credit.approve_min_score (%g)",
                          cut->decline_max_score, cut->approve_min_score);
    return 0;
}

int tl__credit_reasons_method(const tl_config *cfg, bool *approx, tl_err *err)
{
    const char *s = tl_config_get(cfg, "credit.reasons");
    if (!s || (strcmp(s, "shap") != 0 && strcmp(s, "approx") != 0))
        return tl_err_set(err, TL_EINVAL, "configuration credit.reasons: \"%.64s\" is not shap or approx",
                          s ? s : "");
    *approx = strcmp(s, "approx") == 0;
    return 0;
}

int tl__credit_reason_file(const tl_config *cfg, json_t **out, tl_err *err)
{
    *out = NULL;
    const char *path = tl_config_get(cfg, "credit.reasons_file");
    if (!path || !*path)
        return 0;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return tl_err_set(err, TL_EPARSE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    const char *k;
    json_t *v;
    if (!json_is_object(j)) {
        json_decref(j);
        return tl_err_set(err, TL_EINVAL, "%s: reason sentences must be an object "
                                          "{\"column\": \"sentence with {value}\"}", path);
    }
    json_object_foreach(j, k, v) {
        if (!json_is_string(v) || json_string_length(v) > 400) {
            tl_err_set(err, TL_EINVAL, "%s: the sentence for \"%.64s\" must be a string of at "
                                       "most 400 bytes", path, k);
            json_decref(j); /* after: k is j's */
            return err->code;
        }
    }
    *out = j;
    return 0;
}

/* ---- the points table ----------------------------------------------------- */

int tl__credit_points_table(struct tl_credit_model *m, tl_err *err)
{
    size_t nv = m->n_inputs, total = 0;
    m->bin_off = calloc(nv + 1, sizeof *m->bin_off);
    m->best = calloc(nv ? nv : 1, sizeof *m->best);
    if (!m->bin_off || !m->best)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t v = 0; v < nv; v++) {
        m->bin_off[v] = total;
        total += tl_woe_var_n_bins(m->woe, v);
    }
    m->bin_off[nv] = total;
    m->points = calloc(total ? total : 1, sizeof *m->points);
    if (!m->points)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    /* score = offset - factor * margin, the bias and offset shared evenly */
    double factor = m->scale.pdo / log(2.0);
    double offset = m->scale.base - factor * log(m->scale.odds);
    for (size_t v = 0; v < nv; v++) {
        double best = -INFINITY;
        for (size_t b = 0; b < tl_woe_var_n_bins(m->woe, v); b++) {
            const struct tl_woe_bin *bin = tl_woe_var_bin(m->woe, v, b);
            double p = offset / (double)nv - factor * (m->w[v] * bin->woe + m->bias / (double)nv);
            m->points[m->bin_off[v] + b] = p;
            if (bin->n > 0 && p > best)
                best = p;
        }
        m->best[v] = isfinite(best) ? best : 0;
    }
    return 0;
}

json_t *tl__credit_points_json(const struct tl_credit_model *m)
{
    json_t *rows = json_array();
    for (size_t v = 0; rows && v < m->n_inputs; v++) {
        for (size_t b = 0; b < tl_woe_var_n_bins(m->woe, v); b++) {
            const struct tl_woe_bin *bin = tl_woe_var_bin(m->woe, v, b);
            double pts = round(m->points[m->bin_off[v] + b] * 10) / 10;
            json_array_append_new(rows, json_pack("{s:s,s:s,s:f,s:f,s:I}", "variable",
                                                  tl_woe_var_name(m->woe, v), "bin",
                                                  bin->label ? bin->label : "", "points", pts,
                                                  "woe", bin->woe, "n", (json_int_t)bin->n));
        }
    }
    return rows;
}

/* ---- the artifact ------------------------------------------------------------ */

void tl_credit_model_free(tl_credit_model *m)
{
    if (!m)
        return;
    tl_encoder_free(m->enc);
    tl_woe_free(m->woe);
    tl_gbdt_free(m->gbdt);
    tl_nn_tabular_free(m->mlp);
    tl_calibrator_clear(&m->cal);
    if (m->templates)
        for (size_t j = 0; j < m->n_inputs; j++)
            free(m->templates[j]);
    free(m->templates);
    free(m->w);
    free(m->bin_off);
    free(m->points);
    free(m->best);
    free(m->feat_input);
    json_decref(m->protected_cols);
    json_decref(m->label);
    free(m);
}

static int bad(tl_err *err, const char *id, const char *part, const char *why)
{
    return tl_err_set(err, TL_EPARSE, "credit model %s: artifact part \"%s\": %s", id, part, why);
}

static int num_member(const json_t *o, const char *k, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int feature_inputs(struct tl_credit_model *m, const json_t *doc, const char *id,
                          tl_err *err);

/* base64 member part of doc into a malloc'd *raw of *len bytes. */
static int b64_member(const json_t *doc, const char *part, const char *id, const char *what,
                      unsigned char **raw, size_t *len, tl_err *err)
{
    const char *b64 = json_string_value(json_object_get(doc, part));
    if (!b64)
        return bad(err, id, part, what);
    size_t cap = strlen(b64) / 4 * 3 + 3;
    *raw = malloc(cap);
    if (!*raw)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    if (sodium_base642bin(*raw, cap, b64, strlen(b64), NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(*raw);
        *raw = NULL;
        return bad(err, id, part, "not valid base64");
    }
    return 0;
}

static int parse_mlp(struct tl_credit_model *m, const json_t *doc, const char *id, tl_err *err)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    int rc = b64_member(doc, "mlp", id, "missing (base64 of the network's safetensors expected)",
                        &raw, &len, err);
    if (rc < 0)
        return rc;
    tl_err e2 = {0};
    rc = tl_nn_tabular_load_mem(raw, len, "mlp", &m->mlp, &e2);
    free(raw);
    if (rc < 0)
        return bad(err, id, "mlp", e2.msg);
    m->n_features = tl_encoder_n_features(m->enc);
    if (tl_nn_tabular_n_features(m->mlp) != m->n_features)
        return bad(err, id, "mlp", "its input width differs from the encoder's feature count");
    return feature_inputs(m, doc, id, err);
}

static int parse_gbdt(struct tl_credit_model *m, const json_t *doc, const char *id, tl_err *err)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    int brc = b64_member(doc, "gbdt", id, "missing (base64 of the XGBoost JSON model expected)",
                         &raw, &len, err);
    if (brc < 0)
        return brc;
    tl_err e2 = {0};
    int rc = tl_gbdt_load((const char *)raw, len, &m->gbdt, &e2);
    free(raw);
    if (rc < 0)
        return bad(err, id, "gbdt", e2.msg);
    m->n_features = tl_encoder_n_features(m->enc);
    if (tl_gbdt_dim(m->gbdt) != m->n_features)
        return bad(err, id, "gbdt", "its feature count differs from the encoder's");
    return feature_inputs(m, doc, id, err);
}

/* The encoded features' inputs (for reasons) and the calibrator: what the
 * gbdt and mlp parts share. */
static int feature_inputs(struct tl_credit_model *m, const json_t *doc, const char *id,
                          tl_err *err)
{
    tl_err e2 = {0};
    if (m->n_features > CREDIT_MAX_FEATURES)
        return bad(err, id, "encoder", "more features than a credit model may have");
    m->feat_input = calloc(m->n_features ? m->n_features : 1, sizeof *m->feat_input);
    if (!m->feat_input)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t k = 0; k < m->n_features; k++) {
        m->feat_input[k] = tl_encoder_feature_input(m->enc, k);
        if (m->feat_input[k] >= m->n_inputs)
            return bad(err, id, "encoder", "a feature names an input that does not exist");
    }
    if (tl_calibrator_from_json(json_object_get(doc, "calibrator"), &m->cal, &e2) < 0)
        return bad(err, id, "calibrator", e2.msg);
    return 0;
}

static int parse_scorecard(struct tl_credit_model *m, const json_t *doc, const char *id, tl_err *err)
{
    tl_err e2 = {0};
    if (tl_woe_from_json(json_object_get(doc, "woe"), &m->woe, &e2) < 0)
        return bad(err, id, "woe", e2.msg);
    if (tl_woe_n_vars(m->woe) != m->n_inputs)
        return bad(err, id, "woe", "its variable count differs from the encoder's inputs");
    for (size_t v = 0; v < m->n_inputs; v++)
        if (strcmp(tl_woe_var_name(m->woe, v), tl_encoder_input_name(m->enc, v)) != 0)
            return bad(err, id, "woe", "its variables are not the encoder's inputs in order");
    tl_linear *lin = NULL;
    if (tl_linear_from_json(json_object_get(doc, "linear"), &lin, &e2) < 0)
        return bad(err, id, "linear", e2.msg);
    if (tl_linear_dim(lin) != m->n_inputs) {
        tl_linear_free(lin);
        return bad(err, id, "linear", "its dimension differs from the WoE variable count");
    }
    m->w = malloc((m->n_inputs ? m->n_inputs : 1) * sizeof *m->w);
    if (!m->w) {
        tl_linear_free(lin);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    memcpy(m->w, tl_linear_weights(lin), m->n_inputs * sizeof *m->w);
    m->bias = tl_linear_bias(lin);
    tl_linear_free(lin);
    m->cal.kind = TL_CALIB_NONE;
    return tl__credit_points_table(m, err);
}

static int parse_common(struct tl_credit_model *m, const json_t *doc, const char *id, tl_err *err)
{
    const json_t *sc = json_object_get(doc, "scaling");
    if (!json_is_object(sc) || num_member(sc, "base", &m->scale.base) < 0 ||
        num_member(sc, "odds", &m->scale.odds) < 0 || num_member(sc, "pdo", &m->scale.pdo) < 0 ||
        m->scale.odds <= 0 || m->scale.pdo <= 0)
        return bad(err, id, "scaling", "needs finite base, odds > 0 and pdo > 0");
    const json_t *c = json_object_get(doc, "cutoffs");
    const char *on = json_string_value(json_object_get(c, "decide_on"));
    struct tl__credit_cutoffs *k = &m->cut;
    if (!on || (strcmp(on, "pd") && strcmp(on, "score")) ||
        num_member(c, "approve_max_pd", &k->approve_max_pd) < 0 ||
        num_member(c, "decline_min_pd", &k->decline_min_pd) < 0 ||
        num_member(c, "approve_min_score", &k->approve_min_score) < 0 ||
        num_member(c, "decline_max_score", &k->decline_max_score) < 0 ||
        !(k->approve_max_pd > 0 && k->approve_max_pd <= k->decline_min_pd && k->decline_min_pd <= 1) ||
        k->decline_max_score > k->approve_min_score)
        return bad(err, id, "cutoffs", "needs decide_on pd|score and ordered cut-offs");
    k->by_score = strcmp(on, "score") == 0;
    m->templates = calloc(m->n_inputs ? m->n_inputs : 1, sizeof *m->templates);
    if (!m->templates)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    const json_t *rt = json_object_get(doc, "reasons");
    if (rt && !json_is_object(rt))
        return bad(err, id, "reasons", "must be an object column -> sentence");
    for (size_t j = 0; j < m->n_inputs; j++) {
        const char *t = json_string_value(json_object_get(rt, tl_encoder_input_name(m->enc, j)));
        if (t && !(m->templates[j] = strdup(t)))
            return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    json_t *p = json_object_get(doc, "protected");
    if (!json_is_array(p))
        return bad(err, id, "protected", "must be an array of column names");
    m->protected_cols = json_incref(p);
    m->label = json_incref(json_object_get(doc, "label"));
    return 0;
}

int tl_credit_model_from_artifact(const char *bytes, size_t len, const char *id,
                                  tl_credit_model **out, tl_err *err)
{
    const char *name = id ? id : "(artifact)";
    json_error_t je;
    json_t *doc = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tl_err_set(err, TL_EPARSE, "credit model %s: artifact is not JSON (byte %d: %s)",
                          name, je.position, je.text);
    struct tl_credit_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(doc);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    snprintf(m->id, sizeof m->id, "%s", id ? id : "");
    int rc = 0;
    const char *fmt = json_string_value(json_object_get(doc, "format"));
    json_t *ver = json_object_get(doc, "version");
    const char *algo = json_string_value(json_object_get(doc, "algo"));
    tl_err e2 = {0};
    if (!fmt || strcmp(fmt, CREDIT_FORMAT) != 0)
        rc = bad(err, name, "format", "not a teller-credit artifact");
    else if (!json_is_integer(ver) || json_integer_value(ver) != CREDIT_FORMAT_VERSION)
        rc = bad(err, name, "version", "unsupported version (this teller reads version 1)");
    else if (!algo || (strcmp(algo, "scorecard") && strcmp(algo, "gbdt") && strcmp(algo, "mlp")))
        rc = bad(err, name, "algo", "must be scorecard, gbdt or mlp");
    else if (tl_encoder_from_json(json_object_get(doc, "encoder"), &m->enc, &e2) < 0)
        rc = bad(err, name, "encoder", e2.msg);
    if (rc == 0) {
        m->algo = strcmp(algo, "gbdt") == 0  ? TL_CREDIT_GBDT
                  : strcmp(algo, "mlp") == 0 ? TL_CREDIT_MLP
                                             : TL_CREDIT_SCORECARD;
        m->n_inputs = tl_encoder_n_inputs(m->enc);
        if (m->n_inputs == 0 || m->n_inputs > CREDIT_MAX_INPUTS)
            rc = bad(err, name, "encoder", "input count outside 1..256");
    }
    if (rc == 0)
        rc = parse_common(m, doc, name, err);
    if (rc == 0)
        rc = m->algo == TL_CREDIT_GBDT  ? parse_gbdt(m, doc, name, err)
             : m->algo == TL_CREDIT_MLP ? parse_mlp(m, doc, name, err)
                                        : parse_scorecard(m, doc, name, err);
    json_decref(doc);
    if (rc < 0) {
        tl_credit_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int tl_credit_model_load(tl_ctx *ctx, const char *model_id, tl_credit_model **out, tl_err *err)
{
    char mid[TL_MODEL_ID_MAX];
    char *bytes = NULL;
    size_t len = 0;
    int rc = tl_registry_task_artifact(ctx, "credit", model_id, mid, &bytes, &len, err);
    if (rc == 0)
        rc = tl_credit_model_from_artifact(bytes, len, mid, out, err);
    free(bytes);
    if (rc < 0)
        return rc;
    /* cut-offs set in the configuration (file, environment, flag) take
     * precedence over those the model was trained with: changing a policy
     * must not need a retrain */
    const tl_config *cfg = tl_ctx_config(ctx);
    if (cfg && tl_config_source_of(cfg, "credit.decide_on") > TL_CONFIG_DEFAULT) {
        struct tl__credit_scale sc;
        struct tl__credit_cutoffs cut;
        if (tl__credit_config(cfg, &sc, &cut, err) < 0) {
            tl_credit_model_free(*out);
            *out = NULL;
            return err->code;
        }
        (*out)->cut = cut;
    }
    /* the reason method likewise: a scoring policy, never in the artifact */
    if (cfg && (rc = tl__credit_reasons_method(cfg, &(*out)->reasons_approx, err)) < 0) {
        tl_credit_model_free(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}

const char *tl_credit_model_id(const tl_credit_model *m)
{
    return m->id;
}

enum tl_credit_algo tl_credit_model_algo(const tl_credit_model *m)
{
    return m->algo;
}

size_t tl_credit_model_n_inputs(const tl_credit_model *m)
{
    return m->n_inputs;
}

const char *tl_credit_model_input(const tl_credit_model *m, size_t j)
{
    return j < m->n_inputs ? tl_encoder_input_name(m->enc, j) : NULL;
}

/* ---- scoring --------------------------------------------------------------------- */

/* Keeps the TL_CREDIT_MAX_REASONS largest positive impacts, largest first
 * (ties: the earlier input first, so the order is deterministic). */
static void keep_reason(struct tl_credit_decision *d, size_t input, double impact)
{
    if (!(impact > 1e-12))
        return;
    size_t n = d->n_reasons, pos = n;
    while (pos > 0 && d->reasons[pos - 1].impact < impact)
        pos--;
    if (pos >= TL_CREDIT_MAX_REASONS)
        return;
    if (n == TL_CREDIT_MAX_REASONS)
        n--;
    memmove(&d->reasons[pos + 1], &d->reasons[pos], (n - pos) * sizeof d->reasons[0]);
    d->reasons[pos] = (struct tl_credit_reason){.input = input, .impact = impact};
    d->n_reasons = n + 1;
}

/* A network's margin and reasons by occlusion: the margin drop when one
 * input's encoded features are set to 0, which is the training mean of a
 * standardized, imputed feature (its "average applicant" value). One batch
 * of n_inputs + 1 rows: the row itself, then one row per input occluded. */
static int mlp_row(const tl_credit_model *m, const char *const *cells,
                   struct tl_credit_decision *d, tl_err *err)
{
    size_t nf = m->n_features, rows = m->n_inputs + 1;
    float *X = malloc(rows * nf * sizeof *X);
    double *z = malloc(rows * sizeof *z);
    int rc = (!X || !z) ? tl_err_set(err, TL_ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = tl_encoder_transform_row(m->enc, cells, X, err);
    for (size_t j = 0; rc == 0 && j < m->n_inputs; j++) {
        float *r = X + (j + 1) * nf;
        memcpy(r, X, nf * sizeof *X);
        for (size_t k = 0; k < nf; k++)
            if (m->feat_input[k] == j)
                r[k] = 0.0f;
    }
    if (rc == 0)
        rc = tl_nn_tabular_margins(m->mlp, X, rows, z, err);
    if (rc == 0) {
        d->margin = z[0];
        for (size_t j = 0; j < m->n_inputs; j++)
            keep_reason(d, j, z[0] - z[j + 1]);
    }
    free(X);
    free(z);
    return rc;
}

int tl_credit_score_row(const tl_credit_model *m, const char *const *cells,
                        struct tl_credit_decision *out, tl_err *err)
{
    struct tl_credit_decision d = {0};
    if (m->algo == TL_CREDIT_SCORECARD) {
        size_t bin[CREDIT_MAX_INPUTS];
        double woe[CREDIT_MAX_INPUTS];
        int rc = tl_woe_row(m->woe, cells, bin, woe, err);
        if (rc < 0)
            return rc;
        double margin = m->bias;
        for (size_t v = 0; v < m->n_inputs; v++)
            margin += m->w[v] * woe[v];
        d.margin = margin;
        for (size_t v = 0; v < m->n_inputs; v++)
            keep_reason(&d, v, m->best[v] - m->points[m->bin_off[v] + bin[v]]);
    } else if (m->algo == TL_CREDIT_MLP) {
        int rc = mlp_row(m, cells, &d, err);
        if (rc < 0)
            return rc;
    } else {
        float x[CREDIT_MAX_FEATURES];
        double phi[CREDIT_MAX_FEATURES + 1];
        double per_input[CREDIT_MAX_INPUTS];
        int rc = tl_encoder_transform_row(m->enc, cells, x, err);
        if (rc < 0)
            return rc;
        if (m->reasons_approx)
            tl_gbdt_contribs_approx(m->gbdt, x, phi);
        else
            tl_gbdt_contribs(m->gbdt, x, phi);
        double margin = phi[m->n_features];
        for (size_t j = 0; j < m->n_inputs; j++)
            per_input[j] = 0;
        for (size_t k = 0; k < m->n_features; k++) {
            per_input[m->feat_input[k]] += phi[k];
            margin += phi[k];
        }
        d.margin = margin;
        /* both methods are in log-odds of default: the columns pushing it up most */
        for (size_t j = 0; j < m->n_inputs; j++)
            keep_reason(&d, j, per_input[j]);
    }
    double pd = tl_calibrator_apply(&m->cal, d.margin);
    if (!(pd >= 1e-9))
        pd = 1e-9;
    if (pd > 1 - 1e-9)
        pd = 1 - 1e-9;
    d.pd = pd;
    d.score = tl_credit_points(pd, m->scale.base, m->scale.odds, m->scale.pdo);
    d.outcome = tl__credit_decide(m, d.pd, d.score);
    *out = d;
    return 0;
}

void tl_credit_reason_text(const tl_credit_model *m, size_t input, const char *value, char *buf,
                           size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    if (input >= m->n_inputs)
        return;
    const char *name = tl_encoder_input_name(m->enc, input);
    const char *val = value ? value : "missing";
    const char *t = m->templates ? m->templates[input] : NULL;
    if (!t) {
        /* "duration_months" -> "Duration months (48) weighed against the application." */
        char words[128];
        size_t n = 0;
        for (const char *p = name; *p && n + 1 < sizeof words; p++)
            words[n++] = (*p == '_' || *p == '.') ? ' ' : *p;
        words[n] = '\0';
        if (n)
            words[0] = (char)toupper((unsigned char)words[0]);
        snprintf(buf, size, "%s (%s) weighed against the application.", words, val);
        return;
    }
    size_t o = 0;
    for (const char *p = t; *p && o + 1 < size;) {
        if (strncmp(p, "{value}", 7) == 0) {
            for (const char *v = val; *v && o + 1 < size; v++)
                buf[o++] = *v;
            p += 7;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = '\0';
}

/* The cell text of a JSON member (numbers in a form the encoder parses). */
static int cell_of(const json_t *v, const char *name, char *buf, size_t size, const char **cell,
                   tl_err *err)
{
    *cell = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        *cell = json_string_value(v);
        return 0;
    }
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else
        return tl_err_set(err, TL_EINVAL, "application field \"%.64s\": must be a number, string, "
                                          "boolean or null", name);
    *cell = buf;
    return 0;
}

#define CELL_BYTES 32

/* What produced the reasons: "points" (a scorecard's points below the best
 * bin), "shap" (exact TreeSHAP), "approx" (path attribution) or "occlusion"
 * (a network's margin with each input at its training mean). */
static const char *reasons_method(const tl_credit_model *m)
{
    if (m->algo == TL_CREDIT_MLP)
        return "occlusion";
    if (m->algo != TL_CREDIT_GBDT)
        return "points";
    return m->reasons_approx ? "approx" : "shap";
}

int tl_credit_score_json(const tl_credit_model *m, const json_t *app, json_t **decision,
                         tl_err *err)
{
    if (!json_is_object(app))
        return tl_err_set(err, TL_EINVAL, "an application must be a JSON object");
    size_t n = m->n_inputs;
    const char **cells = calloc(n, sizeof *cells);
    char *bufs = calloc(n, CELL_BYTES);
    if (!cells || !bufs) {
        free(cells);
        free(bufs);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    int rc = 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t j = 0; j < n && rc == 0; j++) {
        const char *name = tl_encoder_input_name(m->enc, j);
        rc = cell_of(json_object_get(app, name), name, bufs + j * CELL_BYTES, CELL_BYTES, &cells[j],
                     err);
        /* canonical inputs: name NUL (0 missing | 1 text NUL) per input */
        crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name) + 1);
        unsigned char tag = cells[j] ? 1 : 0;
        crypto_hash_sha256_update(&st, &tag, 1);
        if (cells[j])
            crypto_hash_sha256_update(&st, (const unsigned char *)cells[j], strlen(cells[j]) + 1);
    }
    struct tl_credit_decision d;
    if (rc == 0)
        rc = tl_credit_score_row(m, cells, &d, err);
    json_t *out = NULL, *reasons = NULL;
    if (rc == 0) {
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[65];
        crypto_hash_sha256_final(&st, h);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        reasons = json_array();
        for (size_t r = 0; reasons && r < d.n_reasons; r++) {
            size_t j = d.reasons[r].input;
            char text[512];
            tl_credit_reason_text(m, j, cells[j], text, sizeof text);
            json_array_append_new(reasons,
                                  json_pack("{s:s,s:s,s:s?,s:f,s:s}", "code",
                                            tl_encoder_input_name(m->enc, j), "column",
                                            tl_encoder_input_name(m->enc, j), "value", cells[j],
                                            "impact", round(d.reasons[r].impact * 1e4) / 1e4,
                                            "text", text));
        }
        out = json_pack("{s:s,s:f,s:f,s:s,s:s,s:o,s:s,s:s}", "decision",
                        tl_credit_outcome_name(d.outcome), "pd", round(d.pd * 1e6) / 1e6, "score",
                        round(d.score * 10) / 10, "model", m->id, "algo",
                        tl__credit_algo_name(m->algo), "reasons", reasons,
                        "reasons_method", reasons_method(m), "inputs_digest", hex);
        if (!out)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    free(cells);
    free(bufs);
    if (rc == 0)
        *decision = out;
    return rc;
}

bool tl_credit_is_protected_name(const char *name)
{
    static const char *const names[] = {"age",      "age_years", "sex",       "gender",
                                        "personal_status_sex", "foreign_worker", "marital",
                                        "marriage", "race",      "ethnicity", "religion",
                                        "nationality"};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}
