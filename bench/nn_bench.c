/*
 * nn_bench.c - the Teller side of bench/nn.sh: the tabular MLP (nn_tabular.h)
 * timed in-process on matrices both frameworks share.
 *
 *   nn_bench prep DATA.csv LABEL OUT.safetensors
 *       the credit data preparation (stratified 20% validation split, seed
 *       42; encoder fitted on the training rows) written as F32 tensors
 *       X (n, d), y (n), Xv (nv, d), yv (nv), for nn_anchor.py to read too;
 *   nn_bench train IN.safetensors EPOCHS BATCH THREADS
 *       trains d -> 64 -> 32 -> 1 (ReLU, dropout 0.1, AdamW lr 1e-3, weight
 *       decay 1e-2 off the biases) for EPOCHS epochs (no early stop), keeps
 *       the epoch of best validation AUC, and prints one JSON line: seconds
 *       per epoch (training plus the validation pass), validation accuracy
 *       and AUC, peak RSS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <teller/ml_data.h>
#include <teller/nn_io.h>
#include <teller/nn_tabular.h>

static int die(const tl_err *err)
{
    fprintf(stderr, "nn_bench: %s\n", err->msg);
    return 1;
}

static float *as_float(const uint8_t *y, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; f && i < n; i++)
        f[i] = y[i];
    return f;
}

static int prep(const char *csv, const char *label, const char *out)
{
    tl_err err = {0};
    tl_frame *f;
    if (tl_frame_read_csv(csv, &f, &err) < 0)
        return die(&err);
    struct tl_nn_tabular_opts o = TL_NN_TABULAR_OPTS_DEFAULT;
    o.label = label;
    struct tl_nn_tabular_data dd;
    int rc = tl_nn_tabular_prepare(f, &o, &dd, &err);
    tl_frame_free(f);
    if (rc < 0)
        return die(&err);
    float *y = as_float(dd.y, dd.n), *yv = as_float(dd.yv, dd.nv);
    int64_t sx[2] = {(int64_t)dd.n, (int64_t)dd.d}, sv[2] = {(int64_t)dd.nv, (int64_t)dd.d};
    int64_t sy[1] = {(int64_t)dd.n}, syv[1] = {(int64_t)dd.nv};
    tl_nn_st_tensor ts[4] = {{"X", dd.X, sx, 2}, {"y", y, sy, 1}, {"Xv", dd.Xv, sv, 2},
                             {"yv", yv, syv, 1}};
    rc = y && yv ? tl_nn_safetensors_write(out, ts, 4, NULL, 0, &err) : -1;
    fprintf(stderr, "nn_bench: %zu training rows, %zu validation rows, %zu features\n", dd.n,
            dd.nv, dd.d);
    free(y);
    free(yv);
    tl_nn_tabular_data_clear(&dd);
    return rc < 0 ? die(&err) : 0;
}

static int train(const char *path, int epochs, int batch, int threads)
{
    tl_err err = {0};
    tl_nn_st_file *f;
    if (tl_nn_safetensors_open(path, &f, &err) < 0)
        return die(&err);
    tl_nn_st_info ix, iv;
    size_t kx, kv;
    if (tl_nn_safetensors_find(f, "X", &kx, &err) < 0 || tl_nn_safetensors_find(f, "Xv", &kv, &err) < 0 ||
        tl_nn_safetensors_info(f, kx, &ix, &err) < 0 || tl_nn_safetensors_info(f, kv, &iv, &err) < 0)
        return die(&err);
    size_t n = (size_t)ix.shape[0], nv = (size_t)iv.shape[0], d = (size_t)ix.shape[1];
    float *X = malloc(n * d * sizeof *X), *Xv = malloc(nv * d * sizeof *Xv);
    float *yf = malloc(n * sizeof *yf), *yvf = malloc(nv * sizeof *yvf);
    uint8_t *y = malloc(n), *yv = malloc(nv);
    if (!X || !Xv || !yf || !yvf || !y || !yv)
        return fprintf(stderr, "nn_bench: out of memory\n"), 1;
    if (tl_nn_safetensors_read_f32(f, "X", NULL, 0, X, n * d, &err) < 0 ||
        tl_nn_safetensors_read_f32(f, "Xv", NULL, 0, Xv, nv * d, &err) < 0 ||
        tl_nn_safetensors_read_f32(f, "y", NULL, 0, yf, n, &err) < 0 ||
        tl_nn_safetensors_read_f32(f, "yv", NULL, 0, yvf, nv, &err) < 0)
        return die(&err);
    tl_nn_safetensors_close(f);
    for (size_t i = 0; i < n; i++)
        y[i] = yf[i] > 0.5f;
    for (size_t i = 0; i < nv; i++)
        yv[i] = yvf[i] > 0.5f;
    struct tl_nn_tabular_opts o = TL_NN_TABULAR_OPTS_DEFAULT;
    o.max_epochs = epochs;
    o.patience = epochs;
    o.batch_size = (size_t)batch;
    o.threads = threads;
    tl_nn_tabular *m;
    struct tl_nn_tabular_report r;
    if (tl_nn_tabular_fit(X, y, n, Xv, yv, nv, d, &o, &m, &r, &err) < 0)
        return die(&err);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"s_per_epoch\": %.6f, \"epochs\": %d, \"best_epoch\": %d, \"valid_accuracy\": %.6f, "
           "\"valid_auc\": %.6f, \"peak_rss_mb\": %.1f}\n",
           r.s_per_epoch, r.epochs_run, r.best_epoch + 1, r.valid_accuracy, r.valid_auc,
           (double)ru.ru_maxrss / 1024.0);
    tl_nn_tabular_free(m);
    free(X), free(Xv), free(yf), free(yvf), free(y), free(yv);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "prep") == 0)
        return prep(argv[2], argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "train") == 0)
        return train(argv[2], (int)strtol(argv[3], NULL, 10), (int)strtol(argv[4], NULL, 10),
                     (int)strtol(argv[5], NULL, 10));
    fprintf(stderr, "usage: nn_bench prep DATA.csv LABEL OUT.safetensors\n"
                    "       nn_bench train IN.safetensors EPOCHS BATCH THREADS\n");
    return 2;
}
