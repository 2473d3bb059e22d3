/*
 * fraud_internal.h - what the fraud modules of lib/bank share with each
 * other and with their tests, but not with the public API.
 */
#ifndef TL_BANK_FRAUD_INTERNAL_H
#define TL_BANK_FRAUD_INTERNAL_H

#include <teller/err.h>
#include <teller/fraud.h>
#include <teller/ml_stream.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Card Precision@k (the handbook's chapter 3): per test day, transactions
 * grouped by card (max score, max label), the top k cards by score;
 * precision = compromised among them / k; the compromised ones are
 * detected from then on. Mean over the days that have rows. day[i] is the
 * row's test day, card[i] its card index below n_cards. */
int tl__fraud_card_precision_at_k(const double *score, const uint8_t *y, const int32_t *day,
                                  const uint32_t *card, size_t n, size_t n_cards, int k,
                                  double *out, tl_err *err);

/* ---- the derived features ------------------------------------------------
 * The model's features are the stream engine's, then one ratio per window:
 * the amount over the card's mean amount in that window
 * ("amount_over_avg_amount_<w>"). One function computes them for training,
 * evaluation and live scoring, so the three cannot drift apart. */
#define TL__FRAUD_MAX_FEATURES (TL_STREAM_MAX_FEATURES + TL_STREAM_MAX_WINDOWS)

struct tl__fraud_derive {
    size_t n_stream;                       /* the engine's features */
    size_t n_ratio;                        /* derived: amount / each average */
    size_t avg_col[TL_STREAM_MAX_WINDOWS]; /* the customer_avg_amount_<w> columns */
};

/* Finds the average columns among the engine's feature names. */
void tl__fraud_derive_setup(struct tl__fraud_derive *dv, const tl_stream *s);
/* Writes f[n_stream .. n_stream + n_ratio) from f[0 .. n_stream). */
void tl__fraud_derive(const struct tl__fraud_derive *dv, double *f);
/* The name of derived feature w ("amount_over_avg_amount_1day"). */
void tl__fraud_derive_name(const struct tl__fraud_derive *dv, const tl_stream *s, size_t w,
                           char *buf, size_t size);

/* ---- the labelled CSV of the fraud_sim columns ----------------------------
 * Reads path (".gz" through gzip -dc) row by row: fn gets each transaction
 * (strings valid during the call) and its line; fn's error is prefixed with
 * path:line. Bad rows are TL_EPARSE naming path:line and the column. */
typedef int (*tl__fraud_csv_fn)(void *ud, const struct tl_stream_tx *tx, size_t lineno,
                                tl_err *err);
int tl__fraud_csv_read(const char *path, tl__fraud_csv_fn fn, void *ud, tl_err *err);

/* ---- the model artifact ----------------------------------------------------
 * The parts of a trained model, and the artifact JSON built from them (what
 * tl_fraud_train registers; tests build artifacts through it too). gbdt and
 * iforest are borrowed. */
struct tl_gbdt;
struct tl_iforest;
struct tl_linear;
struct tl__fraud_parts {
    const struct tl_stream_config *cfg;
    const char *currency;            /* ISO 4217 */
    const struct tl_gbdt *gbdt;      /* required */
    const struct tl_iforest *iforest; /* NULL: none */
    double iforest_weight;
    /* the logistic regression (NULL: none) on the features standardized by
     * lr_mean and lr_sd (each of the model's feature count, sd > 0), and its
     * weight: p = (1 - linear_weight) p_gbdt + linear_weight p_lr */
    const struct tl_linear *linear;
    const double *lr_mean, *lr_sd;
    double linear_weight;
    int cold_max_tx;
    double review, block;            /* thresholds */
};
/* The artifact bytes (malloc'ed into *bytes, *len). */
int tl__fraud_artifact(const struct tl__fraud_parts *p, char **bytes, size_t *len, tl_err *err);

/* The default reason sentence of a feature, for the artifact's reason_texts:
 * placeholders {count}, {money}, {ratio}, {pct}, {z}, {duration}, {value}
 * and {bool:text when 1|text when 0}. */
void tl__fraud_default_text(const struct tl_stream_config *cfg, const char *feature, char *buf,
                            size_t size);

/* fraud_tx.c: the checks every transaction passes before the engine takes
 * it (TL_EINVAL naming the field; ts against now_ms + max_future_ms and
 * 2000-01-01), and the SHA-256 hex of its canonical form (the audit's
 * inputs digest). The fuzz target calls both. */
struct tl_fraud_tx;
int tl__fraud_tx_check(const struct tl_fraud_tx *tx, int64_t now_ms, int64_t max_future_ms,
                       tl_err *err);
void tl__fraud_tx_digest(const struct tl_fraud_tx *tx, char hex[65]);

#endif
