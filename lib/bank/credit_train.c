/*
 * credit_train.c - training and cross-validating the credit models: a
 * scorecard (WoE bins, logistic regression on the WoE values, points) and
 * gradient-boosted trees with a calibrated PD.
 *
 * Every fit is the same recipe, used by train and by each fold of eval so
 * that the figures eval prints are those of the models train registers:
 * a small hyperparameter search on a stratified validation split (the
 * scorecard's LIBLINEAR C and smallest bin; the trees' depth, min child
 * weight and learning rate), chosen by validation AUC. The same split stops
 * the boosting early and fits the PD calibrator, so no rows the trees were
 * fitted on shape their probabilities.
 *
 * Protected attributes (by name, or --protected) never become inputs unless
 * allowed (--allow-protected): they are kept for the fairness report, which
 * compares approval rates and AUC across their groups on the validation
 * rows.
 */
#include "credit_internal.h"

#include <teller/nn_tabular.h>

#include <teller/datetime.h>

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VALID_FRAC 0.2

int tl_credit_algo_parse(const char *s, enum tl_credit_algo *out, tl_err *err)
{
    if (s && strcmp(s, "scorecard") == 0)
        *out = TL_CREDIT_SCORECARD;
    else if (s && strcmp(s, "gbdt") == 0)
        *out = TL_CREDIT_GBDT;
    else if (s && strcmp(s, "both") == 0)
        *out = TL_CREDIT_BOTH;
    else if (s && strcmp(s, "mlp") == 0)
        *out = TL_CREDIT_MLP;
    else if (s && strcmp(s, "all") == 0)
        *out = TL_CREDIT_ALL;
    else
        return tl_err_set(err, TL_EINVAL,
                          "algorithm \"%.32s\": expected scorecard, gbdt, both, mlp or all",
                          s ? s : "");
    return 0;
}

const char *tl__credit_algo_name(enum tl_credit_algo a)
{
    return a == TL_CREDIT_GBDT ? "gbdt" : a == TL_CREDIT_MLP ? "mlp" : "scorecard";
}

#define algo_name tl__credit_algo_name

/* ---- the data ------------------------------------------------------------- */

/* The training table from the store: approved applications with a known
 * outcome, joined to the applicant's age (at application) and income. Money
 * in major units, as the application JSON of POST /v1/applications has it. */
static const char STORE_SQL[] =
    "SELECT a.amount_minor, a.term_months, a.purpose, a.annual_income_minor,"
    " a.existing_debt_minor, a.employment_years, a.delinquencies_2y, a.applied_ms,"
    " c.birth_date, c.occupation, c.annual_income_minor AS customer_income_minor, a.defaulted_12m"
    " FROM applications a JOIN customers c ON c.id = a.customer_id"
    " WHERE a.status = 'approved' AND a.defaulted_12m IS NOT NULL ORDER BY a.id";

static const char *const STORE_COLS[] = {"amount",           "term_months",      "purpose",
                                         "annual_income",    "existing_debt",    "employment_years",
                                         "delinquencies_2y", "age",              "occupation",
                                         "customer_income",  "defaulted_12m"};
#define N_STORE_COLS (sizeof STORE_COLS / sizeof STORE_COLS[0])

static void major_units(const char *minor, char *buf, size_t size, const char **cell)
{
    char *end = NULL;
    double v = minor ? strtod(minor, &end) : 0;
    if (!minor || end == minor || *end) {
        *cell = minor;
        return;
    }
    snprintf(buf, size, "%.2f", v / 100.0);
    *cell = buf;
}

static int store_frame(tl_ctx *ctx, tl_frame **out, tl_err *err)
{
    tl_frame *q = NULL, *f = NULL;
    int rc = tl_frame_from_query(tl_ctx_store(ctx), STORE_SQL, 0, NULL, &q, err);
    if (rc < 0)
        return rc;
    if (tl_frame_rows(q) == 0) {
        tl_frame_free(q);
        return tl_err_set(err, TL_EINVAL, "the store holds no approved applications with a known "
                                          "outcome (defaulted_12m) to train on");
    }
    rc = tl_frame_new(N_STORE_COLS, STORE_COLS, &f, err);
    for (size_t i = 0; rc == 0 && i < tl_frame_rows(q); i++) {
        char b[4][40], age[16];
        const char *c[N_STORE_COLS];
        major_units(tl_frame_cell(q, i, 0), b[0], sizeof b[0], &c[0]);
        c[1] = tl_frame_cell(q, i, 1);
        c[2] = tl_frame_cell(q, i, 2);
        major_units(tl_frame_cell(q, i, 3), b[1], sizeof b[1], &c[3]);
        major_units(tl_frame_cell(q, i, 4), b[2], sizeof b[2], &c[4]);
        c[5] = tl_frame_cell(q, i, 5);
        c[6] = tl_frame_cell(q, i, 6);
        /* whole years between birth date and application */
        const char *bd = tl_frame_cell(q, i, 8), *ap = tl_frame_cell(q, i, 7);
        c[7] = NULL;
        int64_t born_ms, at_ms;
        tl_err e2 = {0};
        if (bd && ap && tl_time_parse(bd, strlen(bd), &born_ms, &e2) == 0) {
            at_ms = strtoll(ap, NULL, 10);
            snprintf(age, sizeof age, "%d", (int)((at_ms - born_ms) / (365.2425 * 86400000.0)));
            c[7] = age;
        }
        c[8] = tl_frame_cell(q, i, 9);
        major_units(tl_frame_cell(q, i, 10), b[3], sizeof b[3], &c[9]);
        c[10] = tl_frame_cell(q, i, 11);
        rc = tl_frame_append(f, c, err);
    }
    tl_frame_free(q);
    if (rc < 0) {
        tl_frame_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* Rows idx[0..n) of f as a new frame. */
static int subset(const tl_frame *f, const size_t *idx, size_t n, tl_frame **out, tl_err *err)
{
    size_t nc = tl_frame_cols(f);
    const char **names = malloc(nc * sizeof *names), **cells = malloc(nc * sizeof *cells);
    int rc = (!names || !cells) ? tl_err_set(err, TL_ENOMEM, "out of memory") : 0;
    for (size_t c = 0; rc == 0 && c < nc; c++)
        names[c] = tl_frame_name(f, c);
    tl_frame *s = NULL;
    if (rc == 0)
        rc = tl_frame_new(nc, names, &s, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t c = 0; c < nc; c++)
            cells[c] = tl_frame_cell(f, idx[i], c);
        rc = tl_frame_append(s, cells, err);
    }
    free(names);
    free(cells);
    if (rc < 0) {
        tl_frame_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* What every fit shares: the label, the columns left out, the protected
 * columns and which of them stay out of the inputs. */
struct prep {
    const struct tl_credit_train_opts *o;
    tl_frame *f;
    uint8_t *y;
    size_t n, n_pos;
    const char *label, *source;
    const char **prot;      /* protected columns present (for fairness) */
    size_t n_prot;
    const char **excl;      /* protected columns kept out of the inputs */
    size_t n_excl;
    enum tl_calib_kind calib;
    struct tl__credit_scale scale;
    struct tl__credit_cutoffs cut;
    json_t *reasons;        /* configured sentences, or NULL */
    char fingerprint[65];
};

static bool listed(const char *name, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i], name) == 0)
            return true;
    return false;
}

static void prep_clear(struct prep *p)
{
    tl_frame_free(p->f);
    free(p->y);
    free(p->prot);
    free(p->excl);
    json_decref(p->reasons);
}

static int prep_data(tl_ctx *ctx, const struct tl_credit_train_opts *o, struct prep *p, tl_err *err)
{
    *p = (struct prep){.o = o, .calib = TL_CALIB_PLATT};
    int rc;
    const tl_config *cfg = ctx ? tl_ctx_config(ctx) : NULL;
    tl_config *own = NULL;
    if (!cfg && !(cfg = own = tl_config_new()))
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    rc = tl__credit_config(cfg, &p->scale, &p->cut, err);
    if (rc == 0)
        rc = tl__credit_reason_file(cfg, &p->reasons, err);
    if (rc == 0)
        rc = tl_calib_kind_parse(tl_config_get(cfg, "credit.calibration"), &p->calib, err);
    tl_config_free(own);
    if (rc < 0)
        return rc;
    if (o->data_path) {
        p->source = o->data_path;
        p->label = o->label;
        if (!p->label)
            return tl_err_set(err, TL_EINVAL, "training from %s needs --label COLUMN", o->data_path);
        rc = tl_frame_read_csv(o->data_path, &p->f, err);
    } else {
        if (!ctx)
            return tl_err_set(err, TL_EINVAL, "no data file given and no store to train from");
        p->source = "store:applications";
        p->label = o->label ? o->label : "defaulted_12m";
        rc = store_frame(ctx, &p->f, err);
    }
    if (rc < 0)
        return rc;
    p->n = tl_frame_rows(p->f);
    const char *pos = o->positive ? o->positive : (o->data_path ? NULL : "1");
    rc = tl_frame_label(p->f, p->label, pos, &p->y, err);
    if (rc < 0)
        return tl_err_prefix(err, "%s", p->source);
    for (size_t i = 0; i < p->n; i++)
        p->n_pos += p->y[i];
    if (p->n_pos < 10 || p->n - p->n_pos < 10)
        return tl_err_set(err, TL_EINVAL, "%s: label %s has %zu defaults and %zu non-defaults: "
                                          "at least 10 of each are needed to train",
                          p->source, p->label, p->n_pos, p->n - p->n_pos);
    /* an infinity is neither a number a model can use nor missing: refuse it
     * rather than let the column quietly turn into text */
    for (size_t c = 0; c < tl_frame_cols(p->f); c++) {
        for (size_t i = 0; i < p->n; i++) {
            const char *v = tl_frame_cell(p->f, i, c);
            if (!v || !strpbrk(v, "iIeE"))
                continue;
            char *end = NULL;
            double x = strtod(v, &end);
            if (end != v && *end == '\0' && isinf(x))
                return tl_err_set(err, TL_EINVAL, "%s: data row %zu, column %s: infinite value "
                                                  "\"%.32s\" (use an empty cell for missing)",
                                  p->source, i + 1, tl_frame_name(p->f, c), v);
        }
    }
    size_t nc = tl_frame_cols(p->f);
    p->prot = calloc(nc, sizeof *p->prot);
    p->excl = calloc(nc, sizeof *p->excl);
    if (!p->prot || !p->excl)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->n_protected; i++)
        if (tl_frame_col(p->f, o->protected_cols[i]) < 0)
            return tl_err_set(err, TL_EINVAL, "--protected %s: no such column in %s",
                              o->protected_cols[i], p->source);
    for (size_t c = 0; c < nc; c++) {
        const char *name = tl_frame_name(p->f, c);
        if (strcmp(name, p->label) == 0 || listed(name, o->drop, o->n_drop))
            continue;
        if (!tl_credit_is_protected_name(name) && !listed(name, o->protected_cols, o->n_protected))
            continue;
        p->prot[p->n_prot++] = name;
        if (!listed(name, o->allow_protected, o->n_allow_protected))
            p->excl[p->n_excl++] = name;
    }
    for (size_t i = 0; i < o->n_allow_protected; i++)
        if (!listed(o->allow_protected[i], p->prot, p->n_prot))
            return tl_err_set(err, TL_EINVAL, "--allow-protected %s: not a protected column of %s",
                              o->allow_protected[i], p->source);
    tl_frame_fingerprint(p->f, p->fingerprint);
    return 0;
}

/* ---- one fit ------------------------------------------------------------------ */

struct fit {
    enum tl_credit_algo algo;
    tl_encoder *enc;
    tl_woe *woe;
    tl_linear *lin;
    tl_gbdt *gb;
    tl_nn_tabular *mlp;
    tl_gbdt *gb0;   /* a bag's first member, the only one that never saw the
                       validation split: the validation figures come from it */
    tl_calibrator cal;
    json_t *hp;     /* the chosen hyperparameters */
    json_t *search; /* every combination tried, with its validation AUC */
    double valid_auc;
    double train_s; /* wall seconds the fit took, search included */
};

static void fit_clear(struct fit *f)
{
    tl_encoder_free(f->enc);
    tl_woe_free(f->woe);
    tl_linear_free(f->lin);
    tl_gbdt_free(f->gb);
    tl_gbdt_free(f->gb0);
    tl_calibrator_clear(&f->cal);
    tl_nn_tabular_free(f->mlp);
    json_decref(f->hp);
    json_decref(f->search);
    memset(f, 0, sizeof *f);
}

/* The encoder's input cells of row i of fr, through colmap. */
static int colmap_of(const tl_encoder *e, const tl_frame *fr, int *map, tl_err *err)
{
    for (size_t j = 0; j < tl_encoder_n_inputs(e); j++) {
        map[j] = tl_frame_col(fr, tl_encoder_input_name(e, j));
        if (map[j] < 0)
            return tl_err_set(err, TL_EINVAL, "column %s is missing", tl_encoder_input_name(e, j));
    }
    return 0;
}

/* WoE matrix of fr: (rows, n_vars) floats. */
static int woe_matrix(const tl_encoder *e, const tl_woe *w, const tl_frame *fr, float **out,
                      tl_err *err)
{
    size_t nv = tl_woe_n_vars(w), n = tl_frame_rows(fr);
    int *map = malloc(nv * sizeof *map);
    const char **cells = malloc(nv * sizeof *cells);
    double *woe = malloc(nv * sizeof *woe);
    float *X = malloc((n ? n : 1) * nv * sizeof *X);
    int rc = (!map || !cells || !woe || !X) ? tl_err_set(err, TL_ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = colmap_of(e, fr, map, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t j = 0; j < nv; j++)
            cells[j] = tl_frame_cell(fr, i, (size_t)map[j]);
        rc = tl_woe_row(w, cells, NULL, woe, err);
        for (size_t j = 0; rc == 0 && j < nv; j++)
            X[i * nv + j] = (float)woe[j];
    }
    free(map);
    free(cells);
    free(woe);
    if (rc < 0) {
        free(X);
        return rc;
    }
    *out = X;
    return 0;
}

static struct tl_encoder_opts enc_opts(const struct prep *p, bool linear)
{
    struct tl_encoder_opts eo = TL_ENCODER_OPTS_DEFAULT;
    eo.label = p->label;
    eo.drop = p->o->drop;
    eo.n_drop = p->o->n_drop;
    eo.protected_cols = p->excl;
    eo.n_protected = p->n_excl;
    eo.standardize = linear;
    eo.impute = linear;
    return eo;
}

static double margins_auc(const double *m, const uint8_t *y, size_t n)
{
    double auc = 0.5;
    tl_err e2 = {0};
    if (tl_ml_auc(m, y, n, &auc, &e2) < 0)
        return 0.5;
    return auc;
}

static int fit_scorecard(const struct prep *p, const tl_frame *ftr, const uint8_t *ytr,
                         const tl_frame *fva, const uint8_t *yva, struct fit *out, tl_err *err)
{
    static const double FRACS[] = {0.02, 0.05};
    static const double CS[] = {0.03, 0.3, 3.0};
    struct tl_encoder_opts eo = enc_opts(p, true);
    int rc = tl_encoder_fit(ftr, &eo, &out->enc, err);
    if (rc < 0)
        return rc;
    if (tl_encoder_n_inputs(out->enc) > CREDIT_MAX_INPUTS)
        return tl_err_set(err, TL_ETOOBIG, "%zu input columns: a credit model takes at most %d",
                          tl_encoder_n_inputs(out->enc), CREDIT_MAX_INPUTS);
    out->search = json_array();
    out->valid_auc = -1;
    size_t ntr = tl_frame_rows(ftr), nva = tl_frame_rows(fva);
    double *m = malloc((nva ? nva : 1) * sizeof *m);
    if (!m)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t fi = 0; rc == 0 && fi < sizeof FRACS / sizeof FRACS[0]; fi++) {
        struct tl_woe_opts wo = TL_WOE_OPTS_DEFAULT;
        wo.min_bin_frac = FRACS[fi];
        tl_woe *w = NULL;
        float *Xtr = NULL, *Xva = NULL;
        rc = tl_woe_fit(out->enc, ftr, ytr, &wo, &w, err);
        if (rc == 0)
            rc = woe_matrix(out->enc, w, ftr, &Xtr, err);
        if (rc == 0)
            rc = woe_matrix(out->enc, w, fva, &Xva, err);
        size_t nv = w ? tl_woe_n_vars(w) : 0;
        bool keep_w = false;
        for (size_t ci = 0; rc == 0 && ci < sizeof CS / sizeof CS[0]; ci++) {
            struct tl_linear_opts lo = TL_LINEAR_OPTS_DEFAULT;
            lo.C = CS[ci];
            tl_linear *lin = NULL;
            rc = tl_linear_train(Xtr, ytr, ntr, nv, &lo, &lin, err);
            if (rc < 0)
                break;
            for (size_t i = 0; i < nva; i++)
                m[i] = tl_linear_margin(lin, Xva + i * nv);
            double auc = margins_auc(m, yva, nva);
            json_array_append_new(out->search, json_pack("{s:f,s:f,s:f}", "C", lo.C,
                                                         "min_bin_frac", wo.min_bin_frac,
                                                         "valid_auc", auc));
            if (auc > out->valid_auc + 1e-9) {
                out->valid_auc = auc;
                tl_linear_free(out->lin);
                out->lin = lin;
                if (out->woe != w)
                    tl_woe_free(out->woe);
                out->woe = w;
                keep_w = true;
                json_decref(out->hp);
                out->hp = json_pack("{s:f,s:i,s:f,s:i}", "C", lo.C, "penalty", 2,
                                    "min_bin_frac", wo.min_bin_frac, "max_bins",
                                    (int)wo.max_bins);
            } else {
                tl_linear_free(lin);
            }
        }
        if (!keep_w)
            tl_woe_free(w);
        free(Xtr);
        free(Xva);
    }
    free(m);
    out->cal.kind = TL_CALIB_NONE;
    return rc;
}

/* The trees' search grid: depth, min child weight, learning rate, row and
 * column subsampling. Early stopping makes each cheap; shallow trees suit
 * small tables (German credit), deeper ones with larger leaves the big ones. */
static const struct gbdt_hp {
    int depth;
    double mcw, eta, subsample, colsample;
} GBDT_GRID[] = {
    {2, 1, 0.1, 0.8, 0.8},  {3, 1, 0.1, 0.8, 0.8},   {4, 5, 0.1, 0.8, 0.8},
    {6, 10, 0.1, 0.8, 0.8}, {6, 10, 0.05, 0.8, 0.8}, {4, 1, 0.05, 0.7, 0.5},
};
#define N_GBDT_GRID (sizeof GBDT_GRID / sizeof GBDT_GRID[0])
#define GBDT_EARLY_STOP 30
#define GBDT_MAX_SPLITS 5
/* Up to this many rows the trees' search uses GBDT_MAX_SPLITS validation
 * splits (cheap there, and a 160-row validation set alone picks by noise);
 * above, 3. */
#define GBDT_SMALL_ROWS 5000

/* Rows of the union U = ftr + fva (fva's rows after ftr's) for search split
 * s: split 0 validates on fva; split s >= 1 on the ftr rows of inner fold
 * s - 1, training on the rest of U. Copies them into Xt/yt and Xv/yv. */
static void split_rows(const float *X, const uint8_t *y, size_t ntr, size_t nva, size_t d,
                       const int *ifold, int s, float *Xt, uint8_t *yt, size_t *nt, float *Xv,
                       uint8_t *yv, size_t *nv)
{
    *nt = *nv = 0;
    for (size_t i = 0; i < ntr + nva; i++) {
        bool valid = s == 0 ? i >= ntr : (i < ntr && ifold[i] == s - 1);
        float *dst = valid ? Xv + *nv * d : Xt + *nt * d;
        memcpy(dst, X + i * d, d * sizeof *X);
        if (valid)
            yv[(*nv)++] = y[i];
        else
            yt[(*nt)++] = y[i];
    }
}

/* One booster whose margin is the mean of the members' margins: their trees
 * in one XGBoost JSON model, every leaf value divided by the member count.
 * The members share base_score (0.5, margin 0), so the sum of the scaled
 * trees is exactly the mean; our tree walk and TreeSHAP then treat the bag as
 * any other model, and XGBoost's own loaders read it. */
static int gbdt_bag(tl_gbdt *const *mem, int k, tl_gbdt **out, tl_err *err)
{
    json_t *doc = NULL, *trees = NULL, *info = NULL;
    int rc = 0, id = 0;
    const char *base = NULL;
    for (int i = 0; rc == 0 && i < k; i++) {
        char *buf = NULL;
        size_t len = 0;
        rc = tl_gbdt_save(mem[i], &buf, &len, err);
        if (rc < 0)
            break;
        json_t *d = json_loadb(buf, len, 0, NULL);
        free(buf);
        json_t *lr = json_object_get(d, "learner");
        json_t *mo = json_object_get(json_object_get(lr, "gradient_booster"), "model");
        json_t *t = json_object_get(mo, "trees");
        const char *bs = json_string_value(
            json_object_get(json_object_get(lr, "learner_model_param"), "base_score"));
        if (!json_is_array(t) || !bs || (base && strcmp(base, bs) != 0)) {
            json_decref(d);
            rc = tl_err_set(err, TL_EINTERNAL, "gbdt bagging: member %d has another layout", i);
            break;
        }
        size_t j;
        json_t *tree;
        json_array_foreach(t, j, tree) {
            json_t *lc = json_object_get(tree, "left_children");
            json_t *sc = json_object_get(tree, "split_conditions");
            json_t *bw = json_object_get(tree, "base_weights");
            for (size_t n = 0; n < json_array_size(lc); n++) {
                json_t *w = json_array_get(bw, n);
                if (json_is_number(w))
                    json_array_set_new(bw, n, json_real(json_number_value(w) / k));
                if (json_integer_value(json_array_get(lc, n)) == -1)
                    json_array_set_new(sc, n, json_real(json_number_value(json_array_get(sc, n)) / k));
            }
            json_object_set_new(tree, "id", json_integer(id++));
        }
        if (!doc) {
            doc = d;
            trees = t;
            info = json_object_get(mo, "tree_info");
            base = bs;
            continue;
        }
        json_array_foreach(t, j, tree) {
            json_array_append(trees, tree);
            json_array_append_new(info, json_integer(0));
        }
        json_decref(d);
    }
    if (rc == 0) {
        char nt[24];
        snprintf(nt, sizeof nt, "%d", id);
        json_t *mp = json_object_get(json_object_get(json_object_get(json_object_get(
                                         json_object_get(doc, "learner"), "gradient_booster"),
                                         "model"), "gbtree_model_param"), "num_trees");
        (void)mp;
        json_object_set_new(json_object_get(json_object_get(json_object_get(json_object_get(doc,
                                "learner"), "gradient_booster"), "model"), "gbtree_model_param"),
                            "num_trees", json_string(nt));
        char *bytes = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(9));
        rc = bytes ? tl_gbdt_load(bytes, strlen(bytes), out, err)
                   : tl_err_set(err, TL_ENOMEM, "out of memory");
        free(bytes);
    }
    json_decref(doc);
    return rc;
}

static int fit_gbdt(const struct prep *p, const tl_frame *ftr, const uint8_t *ytr,
                    const tl_frame *fva, const uint8_t *yva, struct fit *out, tl_err *err)
{
    struct tl_encoder_opts eo = enc_opts(p, false);
    int rc = tl_encoder_fit(ftr, &eo, &out->enc, err);
    if (rc < 0)
        return rc;
    size_t d = tl_encoder_n_features(out->enc), ntr = tl_frame_rows(ftr), nva = tl_frame_rows(fva);
    size_t nu = ntr + nva;
    if (d > CREDIT_MAX_FEATURES || tl_encoder_n_inputs(out->enc) > CREDIT_MAX_INPUTS)
        return tl_err_set(err, TL_ETOOBIG, "%zu features from %zu columns: a credit model takes at "
                                           "most %d features and %d columns",
                          d, tl_encoder_n_inputs(out->enc), CREDIT_MAX_FEATURES, CREDIT_MAX_INPUTS);
    /* validation splits per candidate, each a member of the final bag; one
     * when a class is too small to spread over the inner folds */
    size_t pos_tr = 0;
    for (size_t i = 0; i < ntr; i++)
        pos_tr += ytr[i];
    int S = nu <= GBDT_SMALL_ROWS ? GBDT_MAX_SPLITS : 3;
    if (pos_tr < 8 || ntr - pos_tr < 8)
        S = 1;
    float *X = malloc(nu * d * sizeof *X), *Xt = malloc(nu * d * sizeof *Xt);
    float *Xv = malloc(nu * d * sizeof *Xv);
    uint8_t *y = malloc(nu), *yt = malloc(nu), *yv = malloc(nu);
    int *ifold = malloc((ntr ? ntr : 1) * sizeof *ifold);
    double *m = malloc(nu * sizeof *m), *oof = malloc(nu * sizeof *oof);
    double *boof = malloc(nu * sizeof *boof);
    uint8_t *yoof = malloc(nu);
    rc = (!X || !Xt || !Xv || !y || !yt || !yv || !ifold || !m || !oof || !boof || !yoof)
             ? tl_err_set(err, TL_ENOMEM, "out of memory")
             : 0;
    if (rc == 0)
        rc = tl_encoder_transform(out->enc, ftr, X, err);
    if (rc == 0)
        rc = tl_encoder_transform(out->enc, fva, X + ntr * d, err);
    if (rc == 0) {
        memcpy(y, ytr, ntr);
        memcpy(y + ntr, yva, nva);
        if (S > 1)
            rc = tl_ml_stratified_folds(ytr, ntr, 4, p->o->seed ^ 0x5eed, ifold, err);
    }
    out->search = json_array();
    out->valid_auc = -1;
    tl_gbdt *best_m[GBDT_MAX_SPLITS] = {0}, *mem[GBDT_MAX_SPLITS] = {0};
    double best_score = -INFINITY;
    size_t pick = 0, noof = 0;
    for (size_t g = 0; rc == 0 && g < N_GBDT_GRID; g++) {
        struct tl_gbdt_opts go = TL_GBDT_OPTS_DEFAULT;
        go.max_depth = GBDT_GRID[g].depth;
        go.min_child_weight = GBDT_GRID[g].mcw;
        go.eta = GBDT_GRID[g].eta;
        go.subsample = GBDT_GRID[g].subsample;
        go.colsample = GBDT_GRID[g].colsample;
        go.max_rounds = 1000;
        go.early_stopping = GBDT_EARLY_STOP;
        go.seed = p->o->seed;
        /* one thread per core (0) where there is enough to share; on small
         * tables OpenMP's threads cost more than they give */
        go.nthread = (double)nu * (double)d < 2e5 ? 1 : 0;
        double auc = 0, ll = 0;
        int rounds = 0;
        noof = 0;
        for (int sp = 0; rc == 0 && sp < S; sp++) {
            size_t nt, nv;
            split_rows(X, y, ntr, nva, d, ifold, sp, Xt, yt, &nt, Xv, yv, &nv);
            tl_gbdt *c = NULL;
            rc = tl_gbdt_train(Xt, yt, nt, d, Xv, yv, nv, &go, &c, err);
            if (rc < 0)
                break;
            mem[sp] = c;
            tl_gbdt_margins(c, Xv, nv, m);
            memcpy(oof + noof, m, nv * sizeof *m);
            memcpy(yoof + noof, yv, nv);
            noof += nv;
            auc += margins_auc(m, yv, nv) / S;
            double l = 0;
            for (size_t i = 0; i < nv; i++) {
                double q = 1.0 / (1.0 + exp(-m[i]));
                q = q < 1e-15 ? 1e-15 : (q > 1 - 1e-15 ? 1 - 1e-15 : q);
                l -= yv[i] ? log(q) : log(1 - q);
            }
            ll += l / (double)(nv ? nv : 1) / S;
            rounds += tl_gbdt_rounds(c);
        }
        if (rc < 0) {
            for (int sp = 0; sp < S; sp++)
                tl_gbdt_free(mem[sp]), mem[sp] = NULL;
            break;
        }
        json_array_append_new(out->search,
                              json_pack("{s:i,s:f,s:f,s:f,s:f,s:i,s:f,s:f}", "max_depth",
                                        go.max_depth, "min_child_weight", go.min_child_weight,
                                        "eta", go.eta, "subsample", go.subsample, "colsample",
                                        go.colsample, "rounds", rounds / S, "valid_auc",
                                        auc, "valid_logloss", ll));
        /* by mean validation AUC, the ranking a credit decision lives on */
        bool better = auc > best_score;
        for (int sp = 0; sp < S; sp++) {
            if (better) {
                tl_gbdt_free(best_m[sp]);
                best_m[sp] = mem[sp];
            } else {
                tl_gbdt_free(mem[sp]);
            }
            mem[sp] = NULL;
        }
        if (better) {
            best_score = auc;
            pick = g;
            out->valid_auc = auc;
            memcpy(boof, oof, noof * sizeof *oof);
        }
    }
    if (rc == 0 && S > 1) {
        rc = gbdt_bag(best_m, S, &out->gb, err);
        out->gb0 = best_m[0];
        best_m[0] = NULL;
    } else if (rc == 0) {
        out->gb = best_m[0];
        best_m[0] = NULL;
    }
    if (rc == 0) {
        const struct gbdt_hp *h = &GBDT_GRID[pick];
        out->hp = json_pack("{s:i,s:f,s:f,s:i,s:i,s:f,s:f,s:i,s:s}", "max_depth", h->depth,
                            "min_child_weight", h->mcw, "eta", h->eta, "bag", S, "trees",
                            tl_gbdt_rounds(out->gb), "subsample", h->subsample, "colsample",
                            h->colsample, "early_stopping", GBDT_EARLY_STOP, "calibration",
                            tl_calib_kind_name(p->calib));
        /* yoof holds the labels of the last candidate's chunks: the same
         * rows in the same order for every candidate */
        rc = tl_calibrator_fit(p->calib, boof, yoof, noof, &out->cal, err);
    }
    for (int sp = 0; sp < GBDT_MAX_SPLITS; sp++)
        tl_gbdt_free(best_m[sp]);
    free(X), free(Xt), free(Xv), free(y), free(yt), free(yv), free(ifold), free(m);
    free(oof), free(boof), free(yoof);
    return rc;
}

/* The neural network: standardized, imputed inputs (as the scorecard's),
 * AdamW with early stopping on an inner stratified split of the training
 * rows, so the outer validation split stays unseen, and the calibrator
 * fitted on that inner split's logits. */
static int fit_mlp(const struct prep *p, const tl_frame *ftr, const uint8_t *ytr,
                   struct fit *out, tl_err *err)
{
    struct tl_encoder_opts eo = enc_opts(p, true);
    int rc = tl_encoder_fit(ftr, &eo, &out->enc, err);
    if (rc < 0)
        return rc;
    size_t d = tl_encoder_n_features(out->enc), n = tl_frame_rows(ftr);
    if (d > CREDIT_MAX_FEATURES || tl_encoder_n_inputs(out->enc) > CREDIT_MAX_INPUTS)
        return tl_err_set(err, TL_ETOOBIG, "%zu features from %zu columns: a credit model takes at "
                                           "most %d features and %d columns",
                          d, tl_encoder_n_inputs(out->enc), CREDIT_MAX_FEATURES, CREDIT_MAX_INPUTS);
    float *X = malloc((n ? n : 1) * d * sizeof *X), *Xt = malloc((n ? n : 1) * d * sizeof *Xt);
    float *Xv = malloc((n ? n : 1) * d * sizeof *Xv);
    uint8_t *is_valid = malloc(n ? n : 1), *yt = malloc(n ? n : 1), *yv = malloc(n ? n : 1);
    double *z = malloc((n ? n : 1) * sizeof *z);
    rc = (!X || !Xt || !Xv || !is_valid || !yt || !yv || !z)
             ? tl_err_set(err, TL_ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = tl_encoder_transform(out->enc, ftr, X, err);
    if (rc == 0)
        rc = tl_ml_stratified_split(ytr, n, VALID_FRAC, p->o->seed ^ 0x6d6c70, is_valid, err);
    size_t nt = 0, nv = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (is_valid[i]) {
            memcpy(Xv + nv * d, X + i * d, d * sizeof *X);
            yv[nv++] = ytr[i];
        } else {
            memcpy(Xt + nt * d, X + i * d, d * sizeof *X);
            yt[nt++] = ytr[i];
        }
    }
    struct tl_nn_tabular_opts o = TL_NN_TABULAR_OPTS_DEFAULT;
    o.seed = p->o->seed;
    o.max_epochs = 100;
    struct tl_nn_tabular_report rep;
    if (rc == 0)
        rc = tl_nn_tabular_fit(Xt, yt, nt, Xv, yv, nv, d, &o, &out->mlp, &rep, err);
    if (rc == 0)
        rc = tl_nn_tabular_margins(out->mlp, Xv, nv, z, err);
    if (rc == 0) {
        out->valid_auc = rep.valid_auc;
        out->hp = json_pack("{s:[i,i],s:f,s:f,s:f,s:i,s:i,s:s}", "hidden", (int)o.hidden[0],
                            (int)o.hidden[1], "dropout", (double)o.dropout, "lr", o.lr,
                            "weight_decay", o.weight_decay, "epochs", rep.epochs_run,
                            "best_epoch", rep.best_epoch + 1, "calibration",
                            tl_calib_kind_name(p->calib));
        out->search = json_array();
        rc = tl_calibrator_fit(p->calib, z, yv, nv, &out->cal, err);
    }
    free(X), free(Xt), free(Xv), free(is_valid), free(yt), free(yv), free(z);
    return rc;
}

static int fit_algo(enum tl_credit_algo algo, const struct prep *p, const tl_frame *ftr,
                    const uint8_t *ytr, const tl_frame *fva, const uint8_t *yva, struct fit *out,
                    tl_err *err)
{
    memset(out, 0, sizeof *out);
    out->algo = algo;
    int64_t t0 = tl_time_mono_ns();
    int rc = algo == TL_CREDIT_GBDT  ? fit_gbdt(p, ftr, ytr, fva, yva, out, err)
             : algo == TL_CREDIT_MLP ? fit_mlp(p, ftr, ytr, out, err)
                                     : fit_scorecard(p, ftr, ytr, fva, yva, out, err);
    if (rc < 0) {
        tl_err_prefix(err, "%s", algo_name(algo));
        fit_clear(out);
    }
    out->train_s = (double)(tl_time_mono_ns() - t0) / 1e9;
    return rc;
}

/* Margins and PDs of every row of fr. */
static int predict(const struct fit *f, const tl_frame *fr, double *margin, double *pd, tl_err *err)
{
    size_t n = tl_frame_rows(fr);
    int rc = 0;
    if (f->algo == TL_CREDIT_GBDT) {
        size_t d = tl_encoder_n_features(f->enc);
        float *X = malloc((n ? n : 1) * d * sizeof *X);
        if (!X)
            return tl_err_set(err, TL_ENOMEM, "out of memory");
        rc = tl_encoder_transform(f->enc, fr, X, err);
        if (rc == 0)
            tl_gbdt_margins(f->gb, X, n, margin);
        free(X);
    } else if (f->algo == TL_CREDIT_MLP) {
        size_t d = tl_encoder_n_features(f->enc);
        float *X = malloc((n ? n : 1) * d * sizeof *X);
        if (!X)
            return tl_err_set(err, TL_ENOMEM, "out of memory");
        rc = tl_encoder_transform(f->enc, fr, X, err);
        if (rc == 0)
            rc = tl_nn_tabular_margins(f->mlp, X, n, margin, err);
        free(X);
    } else {
        float *X = NULL;
        rc = woe_matrix(f->enc, f->woe, fr, &X, err);
        size_t nv = tl_woe_n_vars(f->woe);
        for (size_t i = 0; rc == 0 && i < n; i++)
            margin[i] = tl_linear_margin(f->lin, X + i * nv);
        free(X);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double q = tl_calibrator_apply(&f->cal, margin[i]);
        pd[i] = q < 1e-9 ? 1e-9 : (q > 1 - 1e-9 ? 1 - 1e-9 : q);
    }
    return rc;
}

/* ---- the artifact ---------------------------------------------------------------- */

static json_t *inputs_json(const tl_encoder *e)
{
    json_t *a = json_array();
    for (size_t j = 0; a && j < tl_encoder_n_inputs(e); j++)
        json_array_append_new(a, json_string(tl_encoder_input_name(e, j)));
    return a;
}

static json_t *excluded_json(const tl_encoder *e)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < tl_encoder_n_excluded(e); i++) {
        const char *why = NULL;
        const char *col = tl_encoder_excluded(e, i, &why);
        json_array_append_new(a, json_pack("{s:s,s:s}", "column", col, "reason", why ? why : ""));
    }
    return a;
}

static json_t *names_json(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int artifact_of(const struct prep *p, const struct fit *f, char **bytes, size_t *len,
                       tl_err *err)
{
    json_t *doc = json_pack(
        "{s:s,s:i,s:s,s:{s:s,s:s?},s:o,s:{s:f,s:f,s:f},s:{s:s,s:f,s:f,s:f,s:f},s:o}", "format",
        CREDIT_FORMAT, "version", CREDIT_FORMAT_VERSION, "algo", algo_name(f->algo), "label",
        "column", p->label, "positive", p->o->positive, "encoder", tl_encoder_to_json(f->enc),
        "scaling", "base", p->scale.base, "odds", p->scale.odds, "pdo", p->scale.pdo, "cutoffs",
        "decide_on", p->cut.by_score ? "score" : "pd", "approve_max_pd", p->cut.approve_max_pd,
        "decline_min_pd", p->cut.decline_min_pd, "approve_min_score", p->cut.approve_min_score,
        "decline_max_score", p->cut.decline_max_score, "protected", names_json(p->prot, p->n_prot));
    if (!doc)
        return tl_err_set(err, TL_ENOMEM, "out of memory building the model artifact");
    json_t *reasons = json_object();
    for (size_t j = 0; reasons && j < tl_encoder_n_inputs(f->enc); j++) {
        const char *name = tl_encoder_input_name(f->enc, j);
        json_t *t = json_object_get(p->reasons, name);
        if (t)
            json_object_set(reasons, name, t);
    }
    json_object_set_new(doc, "reasons", reasons);
    int rc = 0;
    if (f->algo == TL_CREDIT_GBDT) {
        char *raw = NULL;
        size_t raw_len = 0;
        rc = tl_gbdt_save(f->gb, &raw, &raw_len, err);
        if (rc == 0) {
            size_t b64_len = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(b64_len);
            if (b64) {
                sodium_bin2base64(b64, b64_len, (const unsigned char *)raw, raw_len,
                                  sodium_base64_VARIANT_ORIGINAL);
                json_object_set_new(doc, "gbdt", json_string(b64));
            }
            free(b64);
            free(raw);
            json_object_set_new(doc, "calibrator", tl_calibrator_to_json(&f->cal));
        }
    } else if (f->algo == TL_CREDIT_MLP) {
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        rc = tl_nn_tabular_save_mem(f->mlp, &raw, &raw_len, err);
        if (rc == 0) {
            size_t b64_len = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(b64_len);
            if (b64) {
                sodium_bin2base64(b64, b64_len, raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
                json_object_set_new(doc, "mlp", json_string(b64));
            }
            free(b64);
            free(raw);
            json_object_set_new(doc, "calibrator", tl_calibrator_to_json(&f->cal));
        }
    } else {
        json_object_set_new(doc, "woe", tl_woe_to_json(f->woe));
        json_object_set_new(doc, "linear", tl_linear_to_json(f->lin));
    }
    if (rc == 0) {
        *bytes = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        if (!*bytes)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory writing the model artifact");
        else
            *len = strlen(*bytes);
    }
    json_decref(doc);
    return rc;
}

/* ---- fairness on the validation rows --------------------------------------------- */

static bool age_like(const char *name)
{
    return strcasecmp(name, "age") == 0 || strcasecmp(name, "age_years") == 0;
}

static int fairness_of(const struct prep *p, const tl_frame *fva, const uint8_t *yva,
                       const double *pd, const uint8_t *approved, json_t **out, tl_err *err)
{
    size_t n = tl_frame_rows(fva);
    json_t *all = json_array();
    const char **g = malloc((n ? n : 1) * sizeof *g);
    int rc = (!all || !g) ? tl_err_set(err, TL_ENOMEM, "out of memory") : 0;
    for (size_t a = 0; rc == 0 && a < p->n_prot; a++) {
        int col = tl_frame_col(fva, p->prot[a]);
        if (col < 0)
            continue;
        bool bands = age_like(p->prot[a]);
        for (size_t i = 0; i < n; i++) {
            const char *c = tl_frame_cell(fva, i, (size_t)col);
            g[i] = bands ? tl_credit_age_band(c) : c;
        }
        json_t *one = NULL;
        rc = tl_credit_fairness(p->prot[a], g, pd, yva, approved, n, &one, err);
        if (rc == 0) {
            if (bands)
                json_object_set_new(one, "grouping", json_string("age band"));
            json_array_append_new(all, one);
        }
    }
    free(g);
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

/* ---- cross-validation -------------------------------------------------------------- */

struct cv_result {
    double auc[32];
    double auc_mean, auc_sd, gini, ks, logloss;
    double train_s; /* mean wall seconds of one fold's fit */
};

/* Each fold: train on the other folds (with an inner validation split for
 * the search, early stopping and calibration), predict the fold. */
static int cross_validate(const struct prep *p, enum tl_credit_algo algo, const int *fold, int k,
                          struct cv_result *r, json_t **inputs, tl_err *err)
{
    size_t n = p->n;
    double *oof_m = malloc(n * sizeof *oof_m), *oof_p = malloc(n * sizeof *oof_p);
    size_t *tr = malloc(n * sizeof *tr), *te = malloc(n * sizeof *te), *itr = malloc(n * sizeof *itr),
           *iva = malloc(n * sizeof *iva);
    uint8_t *ytr = malloc(n), *yte = malloc(n), *isv = malloc(n), *yitr = malloc(n),
            *yiva = malloc(n);
    int rc = (!oof_m || !oof_p || !tr || !te || !itr || !iva || !ytr || !yte || !isv || !yitr ||
              !yiva)
                 ? tl_err_set(err, TL_ENOMEM, "out of memory")
                 : 0;
    for (int f = 0; rc == 0 && f < k; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
            if (fold[i] == f)
                te[nte] = i, yte[nte++] = p->y[i];
            else
                tr[ntr] = i, ytr[ntr++] = p->y[i];
        }
        rc = tl_ml_stratified_split(ytr, ntr, VALID_FRAC, p->o->seed + 1 + (uint64_t)f, isv, err);
        size_t ni = 0, nv = 0;
        for (size_t i = 0; rc == 0 && i < ntr; i++) {
            if (isv[i])
                iva[nv] = tr[i], yiva[nv++] = ytr[i];
            else
                itr[ni] = tr[i], yitr[ni++] = ytr[i];
        }
        tl_frame *fi = NULL, *fv = NULL, *ft = NULL;
        struct fit fit = {0};
        if (rc == 0)
            rc = subset(p->f, itr, ni, &fi, err);
        if (rc == 0)
            rc = subset(p->f, iva, nv, &fv, err);
        if (rc == 0)
            rc = subset(p->f, te, nte, &ft, err);
        if (rc == 0)
            rc = fit_algo(algo, p, fi, yitr, fv, yiva, &fit, err);
        double *m = malloc((nte ? nte : 1) * sizeof *m), *q = malloc((nte ? nte : 1) * sizeof *q);
        if (rc == 0 && (!m || !q))
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        if (rc == 0)
            rc = predict(&fit, ft, m, q, err);
        if (rc == 0) {
            r->auc[f] = margins_auc(m, yte, nte);
            r->train_s += fit.train_s / k;
            for (size_t i = 0; i < nte; i++)
                oof_m[te[i]] = m[i], oof_p[te[i]] = q[i];
            if (f == 0 && inputs)
                *inputs = inputs_json(fit.enc);
        }
        free(m);
        free(q);
        fit_clear(&fit);
        tl_frame_free(fi);
        tl_frame_free(fv);
        tl_frame_free(ft);
        if (rc < 0)
            tl_err_prefix(err, "fold %d", f + 1);
    }
    if (rc == 0) {
        double s = 0, ss = 0;
        for (int f = 0; f < k; f++)
            s += r->auc[f];
        r->auc_mean = s / k;
        for (int f = 0; f < k; f++)
            ss += (r->auc[f] - r->auc_mean) * (r->auc[f] - r->auc_mean);
        r->auc_sd = k > 1 ? sqrt(ss / (k - 1)) : 0;
        r->gini = 2 * r->auc_mean - 1;
        rc = tl_ml_ks(oof_m, p->y, n, &r->ks, err);
        if (rc == 0)
            rc = tl_ml_logloss(oof_p, p->y, n, &r->logloss, err);
    }
    free(oof_m), free(oof_p), free(tr), free(te), free(itr), free(iva);
    free(ytr), free(yte), free(isv), free(yitr), free(yiva);
    return rc;
}

static json_t *cv_json(const struct cv_result *r, int k)
{
    json_t *folds = json_array();
    for (int f = 0; folds && f < k; f++)
        json_array_append_new(folds, json_real(round(r->auc[f] * 1e6) / 1e6));
    return json_pack("{s:f,s:f,s:o,s:f,s:f,s:f,s:f}", "auc_mean", round(r->auc_mean * 1e6) / 1e6,
                     "auc_sd", round(r->auc_sd * 1e6) / 1e6, "auc_folds", folds, "gini",
                     round(r->gini * 1e6) / 1e6, "ks", round(r->ks * 1e6) / 1e6, "logloss",
                     round(r->logloss * 1e6) / 1e6, "train_s", round(r->train_s * 1e4) / 1e4);
}

static int write_folds(const char *path, const int *fold, size_t n, tl_err *err)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return tl_err_set(err, TL_EIO, "cannot create %s", path);
    fputs("row,fold\n", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%zu,%d\n", i, fold[i]);
    if (fclose(fp) != 0)
        return tl_err_set(err, TL_EIO, "cannot write %s", path);
    return 0;
}

int tl_credit_eval(tl_ctx *ctx, const struct tl_credit_train_opts *opts, json_t **report,
                   tl_err *err)
{
    int k = opts->folds ? opts->folds : 5;
    if (k < 2 || k > 32)
        return tl_err_set(err, TL_EINVAL, "--folds %d: expected 2 to 32", k);
    struct prep p;
    int rc = prep_data(ctx, opts, &p, err);
    int *fold = NULL;
    if (rc == 0 && !(fold = malloc(p.n * sizeof *fold)))
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    if (rc == 0)
        rc = tl_ml_stratified_folds(p.y, p.n, k, opts->seed, fold, err);
    if (rc == 0 && opts->folds_out)
        rc = write_folds(opts->folds_out, fold, p.n, err);
    json_t *algos = json_object(), *used = json_object();
    for (int a = 1; rc == 0 && a <= TL_CREDIT_MLP; a <<= 1) {
        if (!((int)opts->algo & a))
            continue;
        struct cv_result r = {0};
        json_t *inputs = NULL;
        rc = cross_validate(&p, (enum tl_credit_algo)a, fold, k, &r, &inputs, err);
        if (rc == 0) {
            json_object_set_new(algos, algo_name((enum tl_credit_algo)a), cv_json(&r, k));
            json_object_set_new(used, algo_name((enum tl_credit_algo)a), inputs);
        }
    }
    if (rc == 0) {
        *report = json_pack("{s:s,s:I,s:I,s:i,s:I,s:o,s:o,s:o}", "source", p.source, "rows",
                            (json_int_t)p.n, "positives", (json_int_t)p.n_pos, "folds", k, "seed",
                            (json_int_t)opts->seed, "inputs", used, "protected_excluded",
                            names_json(p.excl, p.n_excl), "algos", algos);
        if (!*report)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    } else {
        json_decref(algos);
        json_decref(used);
    }
    free(fold);
    prep_clear(&p);
    return rc;
}

/* ---- training ------------------------------------------------------------------------ */

static const char INTENDED_USE[] =
    "Probability of default, score, decision and adverse-action reasons for consumer credit "
    "applications like those it was trained on, as decision support under the bank's credit "
    "policy and human review of referrals.";
static const char LIMITATIONS[] =
    "Trained on past approved applications only (reject inference not done), so it may be "
    "miscalibrated for applicants unlike them. The validation figures come from one held-out "
    "split (also used for early stopping and calibration); the cross-validated ones, when "
    "shown, are the steadier estimate. Protected attributes are excluded from the inputs "
    "(unless allowed) but proxies of them may remain: read the fairness section.";

static json_t *fmt(const char *f, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, f, v);
    return json_string(buf);
}

/* "a, b, c" from an array of strings, or of {column, reason} as "a (reason)". */
static json_t *joined(const json_t *a)
{
    size_t cap = 1, i;
    json_t *v;
    json_array_foreach(a, i, v) cap += 160;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t n = 0;
    buf[0] = '\0';
    json_array_foreach(a, i, v) {
        const char *col = json_is_string(v) ? json_string_value(v)
                                            : json_string_value(json_object_get(v, "column"));
        const char *why = json_string_value(json_object_get(v, "reason"));
        n += (size_t)snprintf(buf + n, cap - n, why ? "%s%.64s (%.64s)" : "%s%.64s",
                              i ? ", " : "", col ? col : "", why);
    }
    json_t *s = json_string(n ? buf : "none");
    free(buf);
    return s;
}

/* The model card, for people: the same figures as the metadata, written
 * out (rounded, as text) so that `teller models card` renders them as plain
 * tables. The metadata keeps the exact numbers. */
static json_t *card_of(const struct prep *p, const struct tl_credit_model *m, const json_t *data,
                       const json_t *metrics, const json_t *fair, size_t nva)
{
    char label[160];
    snprintf(label, sizeof label, "%.64s = %.64s (default)", p->label,
             p->o->positive ? p->o->positive : (p->o->data_path ? "the positive value" : "1"));
    json_t *d = json_pack("{s:s,s:I,s:I,s:s,s:o,s:s,s:o,s:o,s:o}", "source", p->source,
                          "rows", (json_int_t)p->n, "defaults", (json_int_t)p->n_pos,
                          "training / validation rows", "", "label", json_string(label),
                          "fingerprint (SHA-256)", p->fingerprint, "inputs",
                          joined(json_object_get(data, "inputs")), "left out",
                          joined(json_object_get(data, "excluded")), "protected attributes",
                          joined(json_object_get(data, "protected")));
    char tv[64];
    snprintf(tv, sizeof tv, "%zu / %zu", p->n - nva, nva);
    json_object_set_new(d, "training / validation rows", json_string(tv));
    const json_t *v = json_object_get(metrics, "validation");
    json_t *mt = json_object();
    static const char *const K[][2] = {{"auc", "AUC"},           {"gini", "Gini"},
                                       {"ks", "KS"},             {"logloss", "log loss"},
                                       {"brier", "Brier score"}, {"average_precision", "average precision"}};
    for (size_t i = 0; mt && i < sizeof K / sizeof K[0]; i++) {
        char k[64];
        snprintf(k, sizeof k, "validation %s", K[i][1]);
        json_object_set_new(mt, k, fmt("%.4f", json_number_value(json_object_get(v, K[i][0]))));
    }
    if (mt)
        json_object_set_new(mt, "approval rate at the cut-offs (validation)",
                            fmt("%.1f%%", 100 * json_number_value(json_object_get(v, "approval_rate"))));
    const json_t *cv = json_object_get(metrics, "cv");
    if (mt && cv) {
        char k[64], val[320];
        size_t nf = json_array_size(json_object_get(cv, "auc_folds")), i, o;
        json_t *f;
        o = (size_t)snprintf(val, sizeof val, "%.4f (sd %.4f; folds",
                             json_number_value(json_object_get(cv, "auc_mean")),
                             json_number_value(json_object_get(cv, "auc_sd")));
        json_array_foreach(json_object_get(cv, "auc_folds"), i, f)
            if (o < sizeof val)
                o += (size_t)snprintf(val + o, sizeof val - o, " %.4f", json_number_value(f));
        if (o < sizeof val)
            snprintf(val + o, sizeof val - o, ")");
        snprintf(k, sizeof k, "%zu-fold CV AUC", nf);
        json_object_set_new(mt, k, json_string(val));
        json_object_set_new(mt, "CV Gini", fmt("%.4f", json_number_value(json_object_get(cv, "gini"))));
        json_object_set_new(mt, "CV KS", fmt("%.4f", json_number_value(json_object_get(cv, "ks"))));
        json_object_set_new(mt, "CV log loss",
                            fmt("%.4f", json_number_value(json_object_get(cv, "logloss"))));
    }
    json_t *fr = json_array();
    size_t i, j;
    json_t *a, *g;
    json_array_foreach(fair, i, a) {
        json_t *air = json_object_get(a, "adverse_impact_ratio");
        json_array_foreach(json_object_get(a, "groups"), j, g) {
            json_t *auc = json_object_get(g, "auc");
            json_array_append_new(
                fr, json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o,s:s}", "attribute",
                              json_string_value(json_object_get(a, "attribute")), "group",
                              json_string_value(json_object_get(g, "group")), "rows",
                              json_integer_value(json_object_get(g, "n")), "defaults",
                              json_integer_value(json_object_get(g, "defaults")), "approval rate",
                              fmt("%.1f%%", 100 * json_number_value(json_object_get(g, "approval_rate"))),
                              "AUC", json_is_number(auc) ? fmt("%.3f", json_number_value(auc))
                                                         : json_string("-"),
                              "adverse impact ratio",
                              j ? json_string("")
                                : (json_is_number(air) ? fmt("%.3f", json_number_value(air))
                                                       : json_string("-")),
                              "flag",
                              j ? "" : json_is_true(json_object_get(a, "flag")) ? "below 0.8" : "ok"));
        }
    }
    json_t *card = json_pack("{s:s,s:o,s:o,s:o,s:s}", "intended_use", INTENDED_USE, "data", d,
                             "metrics", mt, "fairness", fr, "limitations", LIMITATIONS);
    if (card && m->algo == TL_CREDIT_SCORECARD) {
        json_t *pts = json_array();
        for (size_t v2 = 0; pts && v2 < m->n_inputs; v2++) {
            for (size_t b = 0; b < tl_woe_var_n_bins(m->woe, v2); b++) {
                const struct tl_woe_bin *bin = tl_woe_var_bin(m->woe, v2, b);
                json_array_append_new(pts, json_pack("{s:s,s:s,s:o,s:o,s:I}", "variable",
                                                     tl_woe_var_name(m->woe, v2), "bin",
                                                     bin->label ? bin->label : "", "points",
                                                     fmt("%.1f", m->points[m->bin_off[v2] + b]),
                                                     "WoE", fmt("%.3f", bin->woe), "rows",
                                                     (json_int_t)bin->n));
            }
        }
        json_object_set_new(card, "points", pts);
    }
    return card;
}

/* Trains, evaluates on the validation rows through the artifact itself (so
 * what is measured is exactly what will score), and registers one model. */
static int train_one(tl_ctx *ctx, const struct prep *p, enum tl_credit_algo algo,
                     const tl_frame *ftr, const uint8_t *ytr, const tl_frame *fva,
                     const uint8_t *yva, json_t *cv, json_t **entry, double *auc, tl_err *err)
{
    struct fit fit;
    int rc = fit_algo(algo, p, ftr, ytr, fva, yva, &fit, err);
    if (rc < 0)
        return rc;
    char *bytes = NULL;
    size_t len = 0;
    tl_credit_model *m = NULL;
    size_t nva = tl_frame_rows(fva);
    double *pd = malloc((nva ? nva : 1) * sizeof *pd), *mg = malloc((nva ? nva : 1) * sizeof *mg);
    uint8_t *appr = malloc(nva ? nva : 1);
    const char **cells = NULL;
    int map[CREDIT_MAX_INPUTS];
    json_t *fair = NULL, *meta = NULL;
    struct tl_ml_summary sum = {0};
    rc = (!pd || !mg || !appr) ? tl_err_set(err, TL_ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = artifact_of(p, &fit, &bytes, &len, err);
    if (rc == 0)
        rc = tl_credit_model_from_artifact(bytes, len, NULL, &m, err);
    if (rc == 0 && !(cells = malloc(m->n_inputs * sizeof *cells)))
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    if (rc == 0)
        rc = colmap_of(m->enc, fva, map, err);
    for (size_t i = 0; rc == 0 && i < nva; i++) {
        struct tl_credit_decision d;
        for (size_t j = 0; j < m->n_inputs; j++)
            cells[j] = tl_frame_cell(fva, i, (size_t)map[j]);
        rc = tl_credit_score_row(m, cells, &d, err);
        pd[i] = d.pd;
        mg[i] = d.margin;
        appr[i] = d.outcome == TL_CREDIT_APPROVE;
    }
    if (rc == 0 && fit.gb0) {
        /* the bag's other members trained on these rows: measure its first
         * member, which did not (the artifact above has still scored them all) */
        size_t d = tl_encoder_n_features(fit.enc);
        float *X = malloc(nva * d * sizeof *X + 1);
        rc = X ? tl_encoder_transform(fit.enc, fva, X, err)
               : tl_err_set(err, TL_ENOMEM, "out of memory");
        if (rc == 0)
            tl_gbdt_margins(fit.gb0, X, nva, mg);
        for (size_t i = 0; rc == 0 && i < nva; i++) {
            double q = tl_calibrator_apply(&fit.cal, mg[i]);
            pd[i] = q < 1e-9 ? 1e-9 : (q > 1 - 1e-9 ? 1 - 1e-9 : q);
            /* the decision as the model's cut-offs make it */
            double sc = tl_credit_points(pd[i], p->scale.base, p->scale.odds, p->scale.pdo);
            appr[i] = tl__credit_decide(m, pd[i], sc) == TL_CREDIT_APPROVE;
        }
        free(X);
    }
    if (rc == 0)
        rc = tl_ml_summarize(pd, yva, nva, &sum, err);
    if (rc == 0) {
        /* the ranking metrics from the margin (isotonic PDs tie) */
        tl_ml_auc(mg, yva, nva, &sum.auc, err);
        sum.gini = 2 * sum.auc - 1;
        tl_ml_ks(mg, yva, nva, &sum.ks, err);
        rc = fairness_of(p, fva, yva, pd, appr, &fair, err);
    }
    size_t n_appr = 0;
    for (size_t i = 0; rc == 0 && i < nva; i++)
        n_appr += appr[i];
    if (rc == 0) {
        json_t *valid = tl_ml_summary_json(&sum);
        json_object_set_new(valid, "approval_rate", json_real((double)n_appr / (double)nva));
        json_t *metrics = json_pack("{s:o}", "validation", valid);
        if (cv)
            json_object_set(metrics, "cv", cv);
        json_t *data = json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:o}", "source", p->source,
                                 "rows", (json_int_t)p->n, "positives", (json_int_t)p->n_pos,
                                 "train_rows", (json_int_t)tl_frame_rows(ftr), "valid_rows",
                                 (json_int_t)nva, "label", p->label, "fingerprint", p->fingerprint,
                                 "inputs", inputs_json(m->enc), "excluded", excluded_json(m->enc),
                                 "protected", names_json(p->prot, p->n_prot));
        json_t *hp = json_pack("{s:O,s:O}", "chosen", fit.hp, "search", fit.search);
        json_t *card = card_of(p, m, data, metrics, fair, nva);
        meta = json_pack("{s:o,s:o,s:o,s:O,s:o,s:s}", "hyperparameters", hp, "metrics", metrics,
                         "data", data, "fairness", fair, "card", card, "algo", algo_name(algo));
        if (meta && algo == TL_CREDIT_SCORECARD)
            json_object_set_new(meta, "points_table", tl__credit_points_json(m));
        if (!meta)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    struct tl_model_info info = {0};
    if (rc == 0 && !p->o->no_register) {
        struct tl_model_new nm = {.task = "credit", .algo = algo_name(algo), .artifact = bytes,
                                  .artifact_len = len, .metadata = meta};
        rc = tl_registry_add(ctx, &nm, &info, err);
    }
    if (rc == 0) {
        *auc = sum.auc;
        json_t *mt = json_object_get(meta, "metrics");
        *entry = json_pack("{s:s?,s:s,s:f,s:O,s:O*,s:O,s:O,s:O,s:O}", "id",
                           p->o->no_register ? NULL : info.id, "algo", algo_name(algo), "train_s",
                           round(fit.train_s * 1e4) / 1e4, "valid",
                           json_object_get(mt, "validation"), "cv", json_object_get(mt, "cv"),
                           "hyperparameters", fit.hp, "data", json_object_get(meta, "data"),
                           "fairness", fair, "card", json_object_get(meta, "card"));
    }
    tl_model_info_clear(&info);
    json_decref(meta);
    json_decref(fair);
    free(cells);
    tl_credit_model_free(m);
    free(bytes);
    free(pd), free(mg), free(appr);
    fit_clear(&fit);
    return rc;
}

int tl_credit_train(tl_ctx *ctx, const struct tl_credit_train_opts *opts, json_t **report,
                    tl_err *err)
{
    if (!ctx && !opts->no_register)
        return tl_err_set(err, TL_EINVAL, "training registers its models: a store is needed");
    struct prep p;
    int rc = prep_data(ctx, opts, &p, err);
    uint8_t *isv = NULL, *ytr = NULL, *yva = NULL;
    size_t *itr = NULL, *iva = NULL, ntr = 0, nva = 0;
    tl_frame *ftr = NULL, *fva = NULL;
    if (rc == 0) {
        isv = malloc(p.n), ytr = malloc(p.n), yva = malloc(p.n);
        itr = malloc(p.n * sizeof *itr), iva = malloc(p.n * sizeof *iva);
        if (!isv || !ytr || !yva || !itr || !iva)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = tl_ml_stratified_split(p.y, p.n, VALID_FRAC, opts->seed, isv, err);
    for (size_t i = 0; rc == 0 && i < p.n; i++) {
        if (isv[i])
            iva[nva] = i, yva[nva++] = p.y[i];
        else
            itr[ntr] = i, ytr[ntr++] = p.y[i];
    }
    if (rc == 0)
        rc = subset(p.f, itr, ntr, &ftr, err);
    if (rc == 0)
        rc = subset(p.f, iva, nva, &fva, err);
    json_t *models = json_array();
    int *fold = NULL;
    int k = opts->cv_folds;
    if (k == 0)
        k = p.n <= TL_CREDIT_AUTO_CV_ROWS ? 5 : -1;
    if (rc == 0 && (k == 1 || k > 32))
        rc = tl_err_set(err, TL_EINVAL, "--cv %d: expected 2 to 32", k);
    if (rc == 0 && k >= 2) {
        if (!(fold = malloc(p.n * sizeof *fold)))
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        if (rc == 0)
            rc = tl_ml_stratified_folds(p.y, p.n, k, opts->seed, fold, err);
    }
    double best_auc = -1;
    const char *best_id = NULL;
    for (int a = 1; rc == 0 && a <= TL_CREDIT_MLP; a <<= 1) {
        if (!((int)opts->algo & a))
            continue;
        json_t *cv = NULL, *entry = NULL;
        if (fold) {
            struct cv_result r = {0};
            rc = cross_validate(&p, (enum tl_credit_algo)a, fold, k, &r, NULL, err);
            if (rc == 0)
                cv = cv_json(&r, k);
        }
        double auc = 0;
        if (rc == 0)
            rc = train_one(ctx, &p, (enum tl_credit_algo)a, ftr, ytr, fva, yva, cv, &entry, &auc,
                           err);
        json_decref(cv);
        if (rc == 0) {
            json_array_append_new(models, entry);
            if (auc > best_auc) {
                best_auc = auc;
                best_id = json_string_value(json_object_get(entry, "id"));
            }
        }
    }
    json_t *promoted = json_null();
    if (rc == 0 && best_id && !opts->no_register) {
        struct tl_model_info champ = {0};
        tl_err e2 = {0};
        int crc = tl_registry_champion(ctx, "credit", &champ, &e2);
        tl_model_info_clear(&champ);
        if (crc == TL_ENOTFOUND) {
            rc = tl_registry_promote(ctx, best_id, "credit train", err);
            if (rc == 0)
                promoted = json_string(best_id);
        } else if (crc < 0) {
            rc = tl_err_set(err, crc, "%s", e2.msg);
        }
    }
    if (rc == 0) {
        *report = json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "source", p.source, "rows",
                            (json_int_t)p.n, "positives", (json_int_t)p.n_pos, "protected",
                            names_json(p.prot, p.n_prot), "models", models, "promoted", promoted);
        if (!*report)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    } else {
        json_decref(models);
        json_decref(promoted);
    }
    free(fold);
    free(isv), free(ytr), free(yva), free(itr), free(iva);
    tl_frame_free(ftr);
    tl_frame_free(fva);
    prep_clear(&p);
    return rc;
}
