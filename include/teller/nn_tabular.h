/*
 * nn_tabular.h - a binary classifier on tabular data: an MLP (ReLU, dropout)
 * trained with AdamW on binary cross-entropy, with early stopping on the
 * validation AUC; the weights of the best epoch are kept.
 *
 * Two entry points. tl_nn_tabular_train takes a frame and does the credit
 * model's data preparation (ml_data.h: the label as 0/1, a stratified
 * validation split, an encoder fitted on the training rows with one-hot
 * categories, imputation and standardization). tl_nn_tabular_fit takes
 * matrices already encoded (for benchmarks against another framework on
 * the very same numbers).
 *
 *     struct tl_nn_tabular_opts o = TL_NN_TABULAR_OPTS_DEFAULT;
 *     o.label = "defaulted_12m";
 *     tl_nn_tabular *m; struct tl_nn_tabular_report r;
 *     if (tl_nn_tabular_train(frame, &o, &m, &r, &err) < 0) ...
 *     printf("AUC %.4f\n", r.valid_auc);
 *     tl_nn_tabular_save(m, "mlp.safetensors", &err);
 *     tl_nn_tabular_free(m);
 *
 * The saved file is safetensors: "mlp.<i>.weight" (in, out) and
 * "mlp.<i>.bias" as F32, and metadata "teller.kind" = "nn-tabular",
 * "teller.encoder" (the encoder's JSON, when trained from a frame),
 * "teller.label", "teller.positive", "teller.features" (JSON array of
 * feature names) and "teller.hidden" ("64,32").
 *
 * Deterministic for a seed and thread count (nn.h).
 */
#ifndef TELLER_NN_TABULAR_H
#define TELLER_NN_TABULAR_H

#include "common.h"
#include "err.h"
#include "ml_data.h"

TL_BEGIN_DECLS

#define TL_NN_TABULAR_MAX_HIDDEN 8

struct tl_nn_tabular_opts {
    const char *label;        /* the 0/1 column (train only); required there */
    const char *positive;     /* the label's positive value (NULL: inferred, ml_data.h) */
    const char *const *drop;  /* columns left out */
    size_t n_drop;
    int64_t hidden[TL_NN_TABULAR_MAX_HIDDEN]; /* hidden widths, each >= 1 */
    int n_hidden;             /* 0..TL_NN_TABULAR_MAX_HIDDEN */
    float dropout;            /* after each hidden activation, in [0, 1) */
    int max_epochs;           /* >= 1 */
    int patience;             /* epochs without a better validation AUC before stopping;
                                 >= max_epochs never stops early */
    size_t batch_size;        /* rows per step; 0: n / 16 clamped to [16, 256], so a
                                 small file still gets several steps an epoch */
    double lr;                /* AdamW's learning rate, > 0 */
    double weight_decay;      /* AdamW's decoupled decay (not on biases), >= 0 */
    double valid_frac;        /* stratified validation share, in (0, 1) (train only) */
    uint64_t seed;            /* split, initialization, shuffling and dropout */
    int threads;              /* GEMM threads (OpenBLAS), >= 1 */
};
#define TL_NN_TABULAR_OPTS_DEFAULT                                                          \
    ((struct tl_nn_tabular_opts){.hidden = {64, 32}, .n_hidden = 2, .dropout = 0.1f,         \
                                 .max_epochs = 50, .patience = 10, .batch_size = 0,           \
                                 .lr = 1e-3, .weight_decay = 1e-2, .valid_frac = 0.2,        \
                                 .seed = 42, .threads = 1})

struct tl_nn_tabular_report {
    size_t n_train, n_valid, n_features;
    int epochs_run;           /* epochs trained (fewer than max_epochs when stopped early) */
    int best_epoch;           /* 0-based epoch whose weights were kept */
    double valid_auc;         /* at the best epoch */
    double valid_accuracy;    /* threshold 0.5 on the probability, at the best epoch */
    double valid_logloss;
    double train_loss;        /* mean training loss of the best epoch */
    double train_s;           /* wall seconds in the epochs (not the preparation) */
    double s_per_epoch;
};

typedef struct tl_nn_tabular tl_nn_tabular;

/* Encoded data, ready for tl_nn_tabular_fit: everything malloc'd, freed by
 * tl_nn_tabular_data_clear. */
struct tl_nn_tabular_data {
    float *X;        /* (n, d) training rows */
    uint8_t *y;      /* (n) */
    float *Xv;       /* (nv, d) validation rows */
    uint8_t *yv;     /* (nv) */
    size_t n, nv, d;
    tl_encoder *enc; /* fitted on the training rows */
};

/* The preparation tl_nn_tabular_train does: the label as 0/1 (label,
 * positive), a stratified split (valid_frac, seed), an encoder fitted on the
 * training rows (drop; one-hot, imputed, standardized) and both sides
 * encoded. On error *out is untouched. */
TL_API int tl_nn_tabular_prepare(const tl_frame *f, const struct tl_nn_tabular_opts *opts,
                                 struct tl_nn_tabular_data *out, tl_err *err);
TL_API void tl_nn_tabular_data_clear(struct tl_nn_tabular_data *d);

/* Trains on frame f (see the overview). A bad option is TL_EINVAL naming
 * it; the label's errors are ml_data.h's. On error *out is untouched; the
 * frame stays the caller's. */
TL_API int tl_nn_tabular_train(const tl_frame *f, const struct tl_nn_tabular_opts *opts,
                               tl_nn_tabular **out, struct tl_nn_tabular_report *report,
                               tl_err *err);

/* Trains on encoded rows: X (n, d) and y[n] for training, Xv (nv, d) and
 * yv[nv] for validation (both classes present), all row-major and borrowed
 * for the call. label, positive, drop and valid_frac are not used. */
TL_API int tl_nn_tabular_fit(const float *X, const uint8_t *y, size_t n, const float *Xv,
                             const uint8_t *yv, size_t nv, size_t d,
                             const struct tl_nn_tabular_opts *opts, tl_nn_tabular **out,
                             struct tl_nn_tabular_report *report, tl_err *err);

/* Probabilities of the positive class for encoded rows X (n, d) into p[n]. */
TL_API int tl_nn_tabular_predict(const tl_nn_tabular *m, const float *X, size_t n, double *p,
                                 tl_err *err);

/* Logits (log-odds of the positive class) for encoded rows X (n, d) into
 * z[n]: what a calibrator or an attribution works on. */
TL_API int tl_nn_tabular_margins(const tl_nn_tabular *m, const float *X, size_t n, double *z,
                                 tl_err *err);

/* Input width d of the model. */
TL_API size_t tl_nn_tabular_n_features(const tl_nn_tabular *m);

/* Writes the model to path as safetensors (see the overview); TL_EIO when
 * the file cannot be written (no partial file is left). */
TL_API int tl_nn_tabular_save(const tl_nn_tabular *m, const char *path, tl_err *err);

/* The same bytes into a malloc'd buffer (the caller frees it), for model
 * registries; *out untouched on error. */
TL_API int tl_nn_tabular_save_mem(const tl_nn_tabular *m, uint8_t **out, size_t *len,
                                  tl_err *err);

/* Loads the weights of a buffer tl_nn_tabular_save_mem (or _save) wrote;
 * buf is read during the call only. The encoder, label and positive kept in
 * the metadata are not restored (a caller holding its own encoder, such as
 * a credit artifact, owns those). A buffer that is not a tabular MLP, or
 * whose tensors disagree with teller.hidden, is TL_EPARSE naming source. */
TL_API int tl_nn_tabular_load_mem(const uint8_t *buf, size_t len, const char *source,
                                  tl_nn_tabular **out, tl_err *err);

/* Frees the model; NULL is a no-op. */
TL_API void tl_nn_tabular_free(tl_nn_tabular *m);

/* Parses "64,32" into widths (each 1..65536, at most TL_NN_TABULAR_MAX_HIDDEN
 * of them; "" or "0" means none); TL_EINVAL naming the text otherwise. */
TL_API int tl_nn_tabular_parse_hidden(const char *s, struct tl_nn_tabular_opts *o, tl_err *err);

TL_END_DECLS

#endif
