/*
 * credit_fit.c - training time for the same model as the Python anchor,
 * for bench/credit.sh: on each fold of FOLDS.csv, fit the encoding and one
 * XGBoost model with XGBClassifier's defaults (100 rounds, depth 6, eta 0.3,
 * no subsampling, hist, 2 threads), no search and no early stopping, so that
 * Teller's engine and Python's pay for exactly the same trees. Timed per
 * fold: encoder fit + transform of the training rows + training (the anchor
 * times its one-hot encoding and fit the same way). Also prints the mean
 * held-out AUC, which should be close to the anchor's.
 *
 * usage: credit_fit FILE.csv LABEL POSITIVE FOLDS.csv [DROP_COLUMN]
 * prints {"folds":K,"train_s":mean,"encode_s":mean (the encoding part),"auc_mean":..}
 */
#include <teller/teller.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now_s(void)
{
    return (double)tl_time_mono_ns() / 1e9;
}

static int fail(const char *what, const tl_err *err)
{
    fprintf(stderr, "credit_fit: %s: %s\n", what, err->msg);
    return 1;
}

/* The rows of f with fold == k (want_in) or != k, as a new frame. */
static int subset(const tl_frame *f, const int *fold, int k, bool want_in, tl_frame **out,
                  tl_err *err)
{
    size_t nc = tl_frame_cols(f), nr = tl_frame_rows(f);
    const char **names = malloc(nc * sizeof *names), **cells = malloc(nc * sizeof *cells);
    if (!names || !cells)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (size_t j = 0; j < nc; j++)
        names[j] = tl_frame_name(f, j);
    int rc = tl_frame_new(nc, names, out, err);
    for (size_t i = 0; rc == 0 && i < nr; i++) {
        if ((fold[i] == k) != want_in)
            continue;
        for (size_t j = 0; j < nc; j++)
            cells[j] = tl_frame_cell(f, i, j);
        rc = tl_frame_append(*out, cells, err);
    }
    free(names);
    free(cells);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: credit_fit FILE.csv LABEL POSITIVE FOLDS.csv [DROP_COLUMN]\n");
        return 2;
    }
    tl_log_set_level(TL_LOG_ERROR);
    tl_err err = {0};
    tl_frame *f = NULL, *ff = NULL;
    if (tl_frame_read_csv(argv[1], &f, &err) < 0)
        return fail(argv[1], &err);
    if (tl_frame_read_csv(argv[4], &ff, &err) < 0)
        return fail(argv[4], &err);
    size_t n = tl_frame_rows(f);
    int *fold = malloc(n * sizeof *fold), k = 0;
    int fc = tl_frame_col(ff, "fold"), rcol = tl_frame_col(ff, "row");
    if (!fold || fc < 0 || rcol < 0 || tl_frame_rows(ff) != n)
        return fprintf(stderr, "credit_fit: %s must have row,fold for every row\n", argv[4]), 1;
    for (size_t i = 0; i < n; i++) {
        size_t row = (size_t)strtoul(tl_frame_cell(ff, i, (size_t)rcol), NULL, 10);
        int fo = atoi(tl_frame_cell(ff, i, (size_t)fc));
        if (row >= n)
            return fprintf(stderr, "credit_fit: row %zu out of range\n", row), 1;
        fold[row] = fo;
        k = fo + 1 > k ? fo + 1 : k;
    }
    const char *drop[1] = {argc == 6 ? argv[5] : NULL};
    struct tl_gbdt_opts go = TL_GBDT_OPTS_DEFAULT;
    go.max_rounds = 100;
    go.early_stopping = 0;
    go.eta = 0.3;
    go.max_depth = 6;
    go.min_child_weight = 1;
    go.subsample = 1;
    go.colsample = 1;
    go.nthread = 2;
    double total_s = 0, encode_s = 0, auc_sum = 0;
    for (int fo = 0; fo < k; fo++) {
        tl_frame *tr = NULL, *te = NULL;
        uint8_t *ytr = NULL, *yte = NULL;
        if (subset(f, fold, fo, false, &tr, &err) < 0 || subset(f, fold, fo, true, &te, &err) < 0 ||
            tl_frame_label(tr, argv[2], argv[3], &ytr, &err) < 0 ||
            tl_frame_label(te, argv[2], argv[3], &yte, &err) < 0)
            return fail("splitting", &err);
        double t0 = now_s();
        struct tl_encoder_opts eo = TL_ENCODER_OPTS_DEFAULT;
        eo.label = argv[2];
        eo.drop = drop;
        eo.n_drop = drop[0] ? 1 : 0;
        eo.standardize = false;
        eo.impute = false;
        tl_encoder *e = NULL;
        if (tl_encoder_fit(tr, &eo, &e, &err) < 0)
            return fail("encoding", &err);
        size_t d = tl_encoder_n_features(e), ntr = tl_frame_rows(tr), nte = tl_frame_rows(te);
        float *X = malloc(ntr * d * sizeof *X), *Xt = malloc(nte * d * sizeof *Xt);
        double *margin = malloc(nte * sizeof *margin);
        if (!X || !Xt || !margin || tl_encoder_transform(e, tr, X, &err) < 0)
            return fail("encoding", &err);
        encode_s += now_s() - t0;
        tl_gbdt *m = NULL;
        if (tl_gbdt_train(X, ytr, ntr, d, NULL, NULL, 0, &go, &m, &err) < 0)
            return fail("training", &err);
        total_s += now_s() - t0;
        double auc = 0;
        if (tl_encoder_transform(e, te, Xt, &err) < 0)
            return fail("encoding", &err);
        tl_gbdt_margins(m, Xt, nte, margin);
        if (tl_ml_auc(margin, yte, nte, &auc, &err) < 0)
            return fail("AUC", &err);
        auc_sum += auc;
        tl_gbdt_free(m);
        tl_encoder_free(e);
        free(X);
        free(Xt);
        free(margin);
        free(ytr);
        free(yte);
        tl_frame_free(tr);
        tl_frame_free(te);
    }
    printf("{\"folds\":%d,\"train_s\":%.4f,\"encode_s\":%.4f,\"auc_mean\":%.6f}\n", k,
           total_s / k, encode_s / k, auc_sum / k);
    free(fold);
    tl_frame_free(ff);
    tl_frame_free(f);
    return 0;
}
