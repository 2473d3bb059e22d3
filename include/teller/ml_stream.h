/*
 * ml_stream.h - the streaming feature engine: per-card and per-terminal
 * state updated once per transaction, giving the feature vector a fraud
 * model scores.
 *
 * One call, tl_stream_update, serves both training (replay the history in
 * arrival order and keep every row it returns) and live scoring (call it as
 * each transaction arrives): there is no second implementation to drift from
 * the first, so training and serving features cannot disagree.
 *
 * The contract that makes replay and live equal: the features of a
 * transaction are a function of the transactions and labels the engine
 * received before it (its arrival "seq"), nothing else. Windows are in
 * seconds, not calendar days: the customer window of length w holds the
 * card's transactions with ts in (t - w, t], the current one included; the
 * terminal window holds the terminal's transactions with ts in
 * (t - delay - w, t - delay] (labels arrive late, so only transactions at
 * least `delay` old are assumed labelled). Two transactions of one card in
 * the same second count each other one way only: the one received later
 * sees the earlier (the handbook's pandas code does the same in its sort
 * order, so replaying in that order reproduces it; docs/fraud-features.md).
 *
 *     struct tl_stream_config cfg; tl_stream_config_default(&cfg);
 *     tl_stream *s; tl_stream_new(&cfg, &s, &err);
 *     double f[TL_STREAM_MAX_FEATURES];
 *     rc = tl_stream_update(s, &tx, f, &err);   (0 new, 1 duplicate, < 0 error)
 *     tl_stream_label(s, "tx-42", 1, &err);      (a chargeback, days later)
 *     tl_stream_free(s);
 *
 * Memory is bounded per entity: each card and terminal keeps only the
 * transactions of its horizon (longest window + delay for terminals, plus
 * max_lateness_s), at most max_events_per_entity of them; transaction ids
 * are remembered for the same horizon so duplicates and labels find them.
 * A tl_stream is not thread-safe; use one per thread or lock around it.
 */
#ifndef TELLER_ML_STREAM_H
#define TELLER_ML_STREAM_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

#define TL_STREAM_MAX_WINDOWS 8
/* 3 + 4 per window + the extras below */
#define TL_STREAM_N_EXTRA 3
#define TL_STREAM_MAX_FEATURES (3 + 4 * TL_STREAM_MAX_WINDOWS + TL_STREAM_N_EXTRA)
/* Longest transaction, customer or terminal id, in bytes (without the NUL). */
#define TL_STREAM_MAX_ID 63

/* tl_stream_update's result for a transaction id seen before with the same
 * fields: nothing is counted again and the features are those of the first
 * arrival. */
#define TL_STREAM_DUPLICATE 1

struct tl_stream_config {
    int n_windows;                                /* 1..TL_STREAM_MAX_WINDOWS */
    int64_t window_s[TL_STREAM_MAX_WINDOWS];      /* ascending, each > 0 */
    int64_t label_delay_s;                        /* >= 0; terminal windows end this far back */
    int64_t max_lateness_s;                       /* how far behind the newest ts an event may be */
    int night_end_hour;                           /* night = hour < this (the handbook: 7) */
    size_t max_events_per_entity;                 /* hard cap; older events dropped beyond it */
};

/* windows 1, 7, 30 days; delay 7 days; lateness 1 day; night 00:00-06:59;
 * 100,000 events per entity. */
TL_API void tl_stream_config_default(struct tl_stream_config *cfg);

typedef struct tl_stream tl_stream;

/* Checks cfg (TL_EINVAL naming the field) and makes an empty engine; the
 * caller frees it with tl_stream_free. On error *out is untouched. */
TL_API int tl_stream_new(const struct tl_stream_config *cfg, tl_stream **out, tl_err *err);
TL_API void tl_stream_free(tl_stream *s);

/* Number of features per transaction, and the name of feature i (static or
 * owned by s; NULL past the end). The layout, for windows w1..wk:
 *   tx_amount, tx_during_weekend, tx_during_night,
 *   customer_nb_tx_<w>, customer_avg_amount_<w>       for each window,
 *   terminal_nb_tx_<w>, terminal_risk_<w>             for each window,
 *   customer_secs_since_prev, customer_amount_z, customer_terminal_new
 * With the default windows the first 15 are the handbook's baseline
 * features in its order. <w> is "1day" for whole days, else "<n>s". */
TL_API size_t tl_stream_n_features(const tl_stream *s);
TL_API const char *tl_stream_feature_name(const tl_stream *s, size_t i);

struct tl_stream_tx {
    const char *tx_id;       /* unique per transaction */
    const char *customer_id; /* the card */
    const char *terminal_id; /* the terminal or merchant */
    int64_t ts_s;            /* seconds since 1970-01-01 in the bank's local time */
    int64_t amount_cents;    /* >= 0 */
    int label;               /* -1 unknown yet, 0 genuine, 1 fraud */
};

/* Takes one transaction into the state and writes its features into
 * features[0 .. tl_stream_n_features) (computed after adding it, so its
 * own amount is in its customer windows). Returns 0 for a new transaction,
 * TL_STREAM_DUPLICATE for an id already taken with the same customer,
 * terminal, time and amount (features as at its first arrival; a label
 * given now is applied as tl_stream_label would), TL_ECONSTRAINT for an id
 * taken with other fields, TL_EINVAL for a bad field or a ts older than the
 * newest ts seen minus max_lateness_s (it can no longer be placed exactly),
 * TL_ENOMEM. On error the state is unchanged and features untouched.
 * Amortized O(1) for a transaction not older than its entities' newest;
 * a late one costs a scan of its windows. */
TL_API int tl_stream_update(tl_stream *s, const struct tl_stream_tx *tx, double *features,
                            tl_err *err);

/* Sets (or corrects) the label of a transaction taken earlier: later
 * transactions whose terminal windows hold it count it from now on.
 * TL_ENOTFOUND when the id is unknown or past the horizon, TL_EINVAL for a
 * label other than 0 or 1. */
TL_API int tl_stream_label(tl_stream *s, const char *tx_id, int label, tl_err *err);

struct tl_stream_stats {
    uint64_t n_tx;         /* new transactions taken */
    uint64_t n_duplicates; /* duplicates answered */
    uint64_t n_late;       /* taken older than their card's or terminal's newest */
    uint64_t n_labels;     /* labels taken (with the transaction or later) */
    uint64_t n_dropped;    /* events dropped by max_events_per_entity (windows then inexact) */
    size_t n_customers, n_terminals;
    size_t n_tx_remembered; /* transaction ids currently held */
};
TL_API void tl_stream_get_stats(const tl_stream *s, struct tl_stream_stats *out);

TL_END_DECLS

#endif
