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
 * Memory is bounded: each card and terminal keeps only the transactions of
 * its horizon (longest window + delay for terminals, plus max_lateness_s),
 * at most max_events_per_entity of them; a card or terminal with nothing
 * left in its horizon is evicted (an incremental sweep, two entities per
 * update), and a (card, terminal) pair idle for the longest window is
 * forgotten; transaction ids are remembered for the terminal horizon so
 * duplicates and labels find them. Eviction never changes a feature.
 *
 * Restarts: tl_stream_snapshot writes the whole state to a file,
 * tl_stream_restore reads it back; then replay from the store the
 * transactions with ts >= tl_stream_watermark's replay_from_ts_s (those
 * taken before come back as TL_STREAM_DUPLICATE and count nothing) and
 * the labels given since. The features after that equal those of an engine
 * that never stopped (docs/fraud-features.md).
 *
 * A tl_stream is not thread-safe; use one per thread or lock around it.
 */
#ifndef TELLER_ML_STREAM_H
#define TELLER_ML_STREAM_H

#include <stdbool.h>
#include <stdio.h>

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

#define TL_STREAM_MAX_WINDOWS 8
/* 3 + 4 per window + the extras below */
#define TL_STREAM_N_EXTRA 5
/* The last two extras, customer_country_new and customer_channel_new, which
 * sources without a country or channel (fraud_sim) always give as 0. */
#define TL_STREAM_N_SEEN 2
#define TL_STREAM_MAX_FEATURES (3 + 4 * TL_STREAM_MAX_WINDOWS + TL_STREAM_N_EXTRA)
/* Longest transaction, customer or terminal id, in bytes (without the NUL). */
#define TL_STREAM_MAX_ID 63
/* Longest channel name, in bytes (without the NUL). */
#define TL_STREAM_MAX_CHANNEL 31
/* How many countries, and how many channels, each card remembers. */
#define TL_STREAM_SEEN_CAP 16

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
/* The configuration s was made with (or restored with). */
TL_API void tl_stream_get_config(const tl_stream *s, struct tl_stream_config *out);

/* Number of features per transaction, and the name of feature i (static or
 * owned by s; NULL past the end). The layout, for windows w1..wk:
 *   tx_amount, tx_during_weekend, tx_during_night,
 *   customer_nb_tx_<w>, customer_avg_amount_<w>       for each window,
 *   terminal_nb_tx_<w>, terminal_risk_<w>             for each window,
 *   customer_secs_since_prev, customer_amount_z, customer_terminal_new,
 *   customer_country_new, customer_channel_new
 * With the default windows the first 15 are the handbook's baseline
 * features in its order. <w> is "1day" for whole days, else "<n>s".
 * customer_terminal_new is 1 when the card had no earlier-arrived
 * transaction at the terminal within the longest window (a pair idle that
 * long is forgotten, so memory stays bounded). customer_country_new and
 * customer_channel_new are the same for the transaction's country and
 * channel, 0 when the transaction gives none; each card remembers at most
 * TL_STREAM_SEEN_CAP countries and as many channels (the least recently
 * used goes first), so a card using more than 16 countries within the
 * longest window may see one of them as new again. */
TL_API size_t tl_stream_n_features(const tl_stream *s);
TL_API const char *tl_stream_feature_name(const tl_stream *s, size_t i);

struct tl_stream_tx {
    const char *tx_id;       /* unique per transaction */
    const char *customer_id; /* the card */
    const char *terminal_id; /* the terminal or merchant */
    int64_t ts_s;            /* seconds since 1970-01-01 in the bank's local time */
    int64_t amount_cents;    /* >= 0 */
    int label;               /* -1 unknown yet, 0 genuine, 1 fraud */
    const char *country;     /* ISO 3166 alpha-2 (two ASCII letters, either case); NULL or "": unknown */
    const char *channel;     /* "pos", "online", ... (1..TL_STREAM_MAX_CHANNEL bytes); NULL or "": unknown */
};

/* Takes one transaction into the state and writes its features into
 * features[0 .. tl_stream_n_features) (computed after adding it, so its
 * own amount is in its customer windows). Returns 0 for a new transaction,
 * TL_STREAM_DUPLICATE for an id already taken with the same customer,
 * terminal, time and amount (features as at its first arrival; a label
 * given now is applied as tl_stream_label would), TL_EEXISTS for such a
 * duplicate whose ts is more than max_lateness_s behind the newest ts (too
 * old to answer exactly; it was counted once), TL_ECONSTRAINT for an id
 * taken with other fields (country and channel are not compared: a
 * duplicate answers with its first arrival's), TL_EINVAL for a bad field or a ts older than the
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
    size_t n_customers, n_terminals; /* currently held (idle ones not yet swept included) */
    size_t n_tx_remembered; /* transaction ids currently held */
    size_t n_pairs;         /* (card, terminal) pairs held (stale ones not yet dropped included) */
    uint64_t n_customers_evicted, n_terminals_evicted; /* idle past their horizon, freed */
    uint64_t n_pairs_forgotten; /* pairs idle for the longest window, dropped */
    size_t state_bytes;     /* heap held by the state, about (O(entities) to compute) */
};
TL_API void tl_stream_get_stats(const tl_stream *s, struct tl_stream_stats *out);

/* What the engine has seen, for a restart: after tl_stream_restore, replay
 * from the store, in arrival order, the transactions with ts >=
 * replay_from_ts_s (any transaction the snapshot lacks is among them, since
 * older ones would have been refused as too late) and re-apply the labels
 * given since the snapshot was taken (a label given twice changes nothing).
 * The transactions the snapshot already holds answer TL_STREAM_DUPLICATE
 * (or TL_EEXISTS once newer ones moved the newest ts on): both mean "taken
 * before", and count nothing. */
struct tl_stream_watermark {
    bool any;                 /* false: nothing taken yet, replay everything */
    int64_t newest_ts_s;      /* the newest ts taken */
    int64_t replay_from_ts_s; /* newest_ts_s - max_lateness_s (INT64_MIN when !any) */
    uint64_t n_tx;            /* new transactions taken */
    uint64_t seq;             /* arrival numbers given out (transactions and labels) */
};
TL_API void tl_stream_watermark(const tl_stream *s, struct tl_stream_watermark *out);

/* The snapshot format's version. tl_stream_restore reads it and version 1
 * (written before cards remembered countries and channels: its cards come
 * back knowing none, so for up to the longest window after such a restore
 * customer_country_new and customer_channel_new may say 1 where an engine
 * that never stopped says 0). */
#define TL_STREAM_SNAPSHOT_VERSION 2

/* Writes the whole state (configuration, every card's and terminal's events
 * of its horizon with their labels, the countries and channels each card
 * remembers, the remembered transaction ids, the (card, terminal) pairs,
 * the counters) to out at its current position:
 * "TLSTREAM", version, payload length, payload (little-endian integers), and
 * the BLAKE2b-256 of all that. Entities and pairs already past their horizon
 * are left out, so a snapshot of a restored engine is byte for byte the one
 * it was restored from. The caller owns out (it is flushed, not closed).
 * TL_EIO when a write fails (out then holds a partial snapshot, which
 * tl_stream_restore refuses), TL_ENOMEM. s is not changed. */
TL_API int tl_stream_snapshot(const tl_stream *s, FILE *out, tl_err *err);

/* Reads a snapshot written by tl_stream_snapshot from in's current position
 * and makes the engine it describes; the caller frees it with
 * tl_stream_free. Everything is checked before it is used: TL_EPARSE names
 * what is wrong (not a snapshot, truncated, checksum mismatch, or a value
 * out of place at a byte offset), TL_EUNSUPPORTED for a version other than 1
 * and TL_STREAM_SNAPSHOT_VERSION,
 * TL_ETOOBIG for a declared length beyond 2^40 bytes, TL_EIO, TL_ENOMEM.
 * On error *out is untouched. Reads nothing past the snapshot's end. */
TL_API int tl_stream_restore(FILE *in, tl_stream **out, tl_err *err);

TL_END_DECLS

#endif
