/*
 * fraud.h - fraud detection. For now: the offline evaluation of Teller's
 * fraud models on a labelled card-transaction history, with the protocol of
 * the Fraud Detection Handbook's chapter 3 (docs/fraud.md), so that Teller's
 * figures can be set next to the handbook's published ones.
 *
 * The protocol: features for every transaction from the streaming feature
 * engine (ml_stream.h) replaying the whole history in file order; a training
 * period of train_days from train_start; a delay period of delay_days
 * (labels not yet known, not used); a test period of test_days in which,
 * on each test day D, every card with a fraud on a day from train_start to
 * D - delay_days - 1 is removed (it is already known to be compromised).
 * Metrics on the test rows: ROC AUC, average precision, and Card
 * Precision@k (per test day, cards ranked by their highest score, the share
 * of compromised cards among the top k; cards found on earlier test days
 * removed; the mean over the days).
 *
 *     struct tl_fraud_eval_opts o = TL_FRAUD_EVAL_OPTS_DEFAULT;
 *     o.data_path = "transactions.csv.gz";
 *     json_t *report; tl_fraud_eval(NULL, &o, &report, &err);
 */
#ifndef TELLER_FRAUD_H
#define TELLER_FRAUD_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"
#include "fraud_rules.h"
#include "ml_stream.h"

TL_BEGIN_DECLS

struct tl_fraud_eval_opts {
    /* CSV with a header naming (any order, any case) transaction_id,
     * tx_datetime ("YYYY-MM-DD HH:MM:SS"), customer_id, terminal_id,
     * tx_amount (decimal, at most 2 places) and tx_fraud (0/1); other
     * columns are ignored. A name ending ".gz" is read through `gzip -dc`.
     * Rows in time order (up to the stream engine's lateness). */
    const char *data_path;
    const char *train_start; /* "YYYY-MM-DD"; default the handbook's 2018-07-25 */
    int train_days;          /* default 7 */
    int delay_days;          /* default 7 (also the terminal features' label delay) */
    int test_days;           /* default 7 */
    int top_k;               /* Card Precision@k; default 100 */
    bool handbook_row;       /* also the handbook's own LR on its 15 features */
    int nthread;             /* XGBoost threads, 0 = one per core */
};
#define TL_FRAUD_EVAL_OPTS_DEFAULT                                                        \
    ((struct tl_fraud_eval_opts){.train_start = "2018-07-25", .train_days = 7,            \
                                 .delay_days = 7, .test_days = 7, .top_k = 100,           \
                                 .handbook_row = true})

/* Runs the protocol on opts->data_path and fills *report (a new reference,
 * the caller decrefs):
 *   {"data", "protocol":{"train_start","train_end","test_start","test_end",
 *    "delay_days","top_k"}, "features":[names],
 *    "train":{"rows","frauds"}, "valid":{"rows","frauds"} (GBDT early
 *    stopping: the last days of the training period),
 *    "test":{"rows","frauds","removed_rows","cards"},
 *    "models":[{"name","features","auc","average_precision",
 *               "card_precision_at_k", "rounds" (GBDT only)}],
 *    "published":[{"name","auc","average_precision","card_precision_at_k"}]}
 * ctx is not used yet (may be NULL). Bad rows are TL_EPARSE naming
 * path:line and the column; a period without both classes is TL_EINVAL.
 * On error *report is untouched. */
TL_API int tl_fraud_eval(tl_ctx *ctx, const struct tl_fraud_eval_opts *opts, json_t **report,
                         tl_err *err);


/* ==== the fraud model: training, the artifact, scoring ==================== */

/*
 * A fraud model is a registry artifact (task "fraud"): one JSON document
 *   {"format":"teller-fraud","version":1,
 *    "stream":{"windows_s":[...],"label_delay_s","max_lateness_s","night_end_hour"},
 *    "features":[names]           the stream engine's features, then the derived ones,
 *    "currency":"EUR",            the amounts' currency in training
 *    "gbdt":{XGBoost JSON model}, the supervised model (always present),
 *    "iforest":{ml_iforest JSON} | null,
 *    "combine":{"iforest_weight":w,"cold_max_tx":n},
 *    "thresholds":{"review":t,"block":t},
 *    "reason_texts":{feature: sentence with {value}}}
 * The stream configuration travels with the model because its features only
 * mean what they meant in training with the same windows and delay.
 *
 * Score: p = sigmoid(gbdt margin) on the feature vector. A card with at most
 * cold_max_tx earlier transactions in the longest window is "cold": its
 * customer features say little, so its score is
 *   (1 - w) * p + w * a,   a = the isolation forest's anomaly score,
 * and the reasons say it was scored as a new card. Decision from the score:
 * block at >= thresholds.block, review at >= thresholds.review, else allow
 * (the bank's rules then take precedence, fraud_rules.h).
 */

struct tl_fraud_train_opts {
    /* A CSV with the fraud_sim columns (as tl_fraud_eval_opts.data_path);
     * NULL: the card transactions of the store (kind "card", amount < 0
     * as the amount paid; card = account_id, terminal = terminal_id, else
     * merchant_id; label = is_fraud, empty = unknown and left out). */
    const char *data_path;
    /* Training covers [end - train_days - delay_days, end - delay_days) of
     * the data, where end is the day after its newest transaction: the last
     * delay_days are left out because their labels are not all in yet.
     * train_days 0: everything before that. The last valid_days of the
     * training period choose the rounds (early stopping), the thresholds
     * and the combination, then the GBDT is refitted on the whole period. */
    int train_days;   /* default 0 (all) */
    int delay_days;   /* default 7; also the terminal features' label delay */
    int valid_days;   /* default 2 */
    double review_rate; /* share of validation transactions that should be
                           reviewed: sets thresholds.review (default 0.01) */
    double block_precision; /* the lowest score with at least this validation
                               precision sets thresholds.block (default 0.8;
                               when none reaches it: the top 0.1%) */
    bool no_iforest;  /* leave the isolation forest out */
    /* also fit a logistic regression on the standardized features and
     * blend its probability with the trees' (weight 0, 0.25 or 0.5, the
     * best validation average precision; ties to the lower) */
    bool with_lr;
    double eta;       /* the trees' learning rate; 0: TL_FRAUD_DEFAULT_ETA */
    int nthread;      /* XGBoost threads, 0 = one per core */
    uint64_t seed;    /* default 42 */
    bool no_register; /* fit and report only; ctx may then be NULL with data_path */
    const char *actor; /* for the registry's audit rows; NULL "teller" */
};
/* Twice the library default: about half the trees for the same validation
 * figures on fraud_sim, and a live decision walks every tree. */
#define TL_FRAUD_DEFAULT_ETA 0.1

#define TL_FRAUD_TRAIN_OPTS_DEFAULT                                                       \
    ((struct tl_fraud_train_opts){.delay_days = 7, .valid_days = 2, .review_rate = 0.01,  \
                                  .block_precision = 0.8, .seed = 42})

/* Replays the data through the stream engine, trains the GBDT (and the
 * isolation forest on the genuine training rows), sets the thresholds on
 * the validation days, registers the model (a challenger; promoted when the
 * task has no champion). *report (new reference):
 * {"source","transactions","cards","train":{"from","to","rows","frauds"},
 *  "valid":{"rows","frauds","auc","average_precision","review_rate",
 *  "review_precision","block_precision","recall_at_review"},"rounds",
 *  "thresholds":{..},"features":[..],"id" (null with no_register),
 *  "promoted":bool}. TL_EINVAL when a period lacks either class. */
TL_API int tl_fraud_train(tl_ctx *ctx, const struct tl_fraud_train_opts *opts, json_t **report,
                          tl_err *err);

typedef struct tl_fraud_model tl_fraud_model;

/* The model `id` (NULL: the fraud champion) from the registry, checked and
 * parsed (TL_ENOTFOUND, TL_ECRYPTO, TL_EPARSE as tl_credit_model_load). */
TL_API int tl_fraud_model_load(tl_ctx *ctx, const char *id, tl_fraud_model **out, tl_err *err);
/* A model from artifact bytes (borrowed; id copied, NULL allowed). Every
 * part is validated: TL_EPARSE naming it. */
TL_API int tl_fraud_model_from_artifact(const char *bytes, size_t len, const char *id,
                                        tl_fraud_model **out, tl_err *err);
TL_API void tl_fraud_model_free(tl_fraud_model *m);
TL_API const char *tl_fraud_model_id(const tl_fraud_model *m); /* "" when none */
/* The stream configuration the model was trained with. */
TL_API void tl_fraud_model_stream_config(const tl_fraud_model *m, struct tl_stream_config *cfg);
TL_API size_t tl_fraud_model_n_features(const tl_fraud_model *m);
TL_API const char *tl_fraud_model_feature(const tl_fraud_model *m, size_t j);
TL_API const char *tl_fraud_model_currency(const tl_fraud_model *m);

#define TL_FRAUD_MAX_REASONS 3

/* How reasons are computed: exact TreeSHAP (about 100 us with a few hundred
 * trees), or path attribution (a few us, not SHAP; ml_models.h) */
enum tl_fraud_reasons_mode {
    TL_FRAUD_REASONS_SHAP = 0,   /* exact for review and block, approx for allow */
    TL_FRAUD_REASONS_EXACT = 1,  /* exact always */
    TL_FRAUD_REASONS_APPROX = 2, /* approximate always */
};

struct tl_fraud_contribution {
    size_t feature;      /* index into the model's features */
    double value;        /* the feature's value */
    double contribution; /* log-odds it added (> 0: towards fraud) */
};

struct tl_fraud_score {
    double score;       /* combined, in [0, 1] */
    double model_score; /* the GBDT's probability (blended with the logistic
                         * regression's when the model has one) */
    double anomaly;     /* the isolation forest's score; NaN when not used */
    bool cold;          /* scored as a card with little history */
    enum tl_rule_action action; /* from the thresholds alone */
    size_t n_reasons;   /* the largest positive contributions, at most TL_FRAUD_MAX_REASONS */
    struct tl_fraud_contribution reasons[TL_FRAUD_MAX_REASONS];
};

/* Scores one transaction given the stream engine's features
 * (tl_stream_n_features values, from an engine with the model's stream
 * configuration): derives the model's extra features, scores, combines,
 * picks reasons. Allocates nothing; thread-safe on a shared model. */
TL_API void tl_fraud_model_score(const tl_fraud_model *m, const double *stream_features,
                                 enum tl_fraud_reasons_mode mode, struct tl_fraud_score *out);

/* The sentence for a reason: the model's text for the feature with its
 * value, e.g. "amount 812.40 is 9.3 times the card's 7-day average". */
TL_API void tl_fraud_reason_text(const tl_fraud_model *m, const struct tl_fraud_contribution *c,
                                 char *buf, size_t size);

/* ==== the engine: live decisions ============================================ */

/* One card transaction to decide. Strings need not outlive the call. */
struct tl_fraud_tx {
    const char *id;          /* required, an id (1-64 bytes) */
    const char *card_id;     /* required: the card or account */
    const char *customer_id; /* optional */
    const char *terminal_id; /* the terminal; NULL: merchant_id stands for it */
    const char *merchant_id; /* optional */
    int64_t ts_ms;           /* epoch milliseconds */
    int64_t amount_minor;    /* the amount paid, > 0, in currency's minor units */
    char currency[4];        /* ISO 4217 */
    const char *country;     /* where it was made (ISO 3166 alpha-2), optional */
    const char *home_country; /* the card holder's, optional */
    const char *channel;     /* pos, online, atm, ... optional */
    int mcc;                 /* merchant category, -1 unknown */
    int label;               /* -1 unknown, 0 genuine, 1 fraud (replaying labelled history) */
};

/* Fills tx from a JSON object {"id","card_id" (or "account_id"),
 * "customer_id","terminal_id","merchant_id","ts" (ISO 8601 or epoch ms),
 * "amount" (decimal string or number in currency units; a negative amount
 * is a debit and counts as paid), "currency","country","home_country",
 * "channel","mcc","is_fraud"}. Strings in tx borrow from j. TL_EINVAL naming
 * the member at fault (missing, wrong type, zero amount, unknown currency,
 * more decimals than the currency has, invalid UTF-8 cannot occur: jansson
 * refuses it). */
TL_API int tl_fraud_tx_from_json(const json_t *j, struct tl_fraud_tx *tx, tl_err *err);

struct tl_fraud_engine_opts {
    const char *rules_path;  /* a rule set (fraud_rules.h), or NULL for none */
    enum tl_fraud_reasons_mode reasons;
    /* Clock checks: a ts later than the wall clock plus max_future_ms is
     * refused (TL_EINVAL), as is one before 2000-01-01. Too old to place
     * is the stream engine's lateness (TL_EINVAL). */
    int64_t max_future_ms;   /* default one hour */
    double review_threshold, block_threshold; /* > 0: override the model's */
};
#define TL_FRAUD_ENGINE_OPTS_DEFAULT \
    ((struct tl_fraud_engine_opts){.reasons = TL_FRAUD_REASONS_SHAP, .max_future_ms = 3600000})

/* The fields rules may name (docs/fraud-rules.md): transaction fields
 * amount (currency units), currency, card_id, customer_id, terminal_id,
 * merchant_id, country, home_country, channel (strings), mcc, ts_ms,
 * score, model_score (numbers; the hour is the function hour(ts_ms)),
 * is_night, is_weekend, is_cold, first_seen_terminal, foreign (country differs from home_country,
 * both known) (booleans), and every model feature by name (numbers). */
TL_API size_t tl_fraud_rule_schema(const tl_fraud_model *m, struct tl_rule_field *out,
                                   size_t cap);

typedef struct tl_fraud_engine tl_fraud_engine;

/* An engine deciding with model m (borrowed: it must outlive the engine,
 * or use tl_fraud_engine_set_model) and a fresh stream state with the
 * model's stream configuration. The rules are loaded now: a rule that does
 * not parse fails here with its position. */
TL_API int tl_fraud_engine_new(const tl_fraud_model *m, const struct tl_fraud_engine_opts *opts,
                               tl_fraud_engine **out, tl_err *err);
TL_API void tl_fraud_engine_free(tl_fraud_engine *e);
/* Swaps the model (a new champion) keeping the state; TL_EINVAL when its
 * stream configuration differs (then a new engine and a replay are needed). */
TL_API int tl_fraud_engine_set_model(tl_fraud_engine *e, const tl_fraud_model *m, tl_err *err);
/* The stream state, for snapshots, labels and statistics. */
TL_API tl_stream *tl_fraud_engine_stream(tl_fraud_engine *e);
/* Replaces the stream state (after tl_stream_restore); e takes s. TL_EINVAL
 * when its configuration is not the model's. */
TL_API int tl_fraud_engine_set_stream(tl_fraud_engine *e, tl_stream *s, tl_err *err);

/* Why a decision is what it is. */
enum tl_fraud_basis {
    TL_FRAUD_BY_MODEL = 0,      /* the score against the thresholds */
    TL_FRAUD_BY_RULES = 1,      /* a rule or list was more severe, or an allow list overrode */
};

struct tl_fraud_decision {
    enum tl_rule_action action; /* allow / review / block */
    enum tl_fraud_basis basis;
    bool duplicate;             /* the id was decided before: the same answer again */
    struct tl_fraud_score score;
    struct tl_rules_result rules; /* n_fired 0 without rules */
    uint64_t card_tx_before;    /* earlier transactions of the card in the longest window */
    char inputs_digest[65];     /* SHA-256 hex of the canonical transaction, for the audit */
};

/* Decides tx: checks it, updates the stream state, scores, applies the
 * rules. The final action is the rules' when an allow list matched, else
 * the more severe of the model's and the rules'. A duplicate id with the
 * same fields decides the same again (duplicate = true, nothing counted);
 * with other fields TL_ECONSTRAINT naming the id. Bad input is TL_EINVAL
 * naming the field; the state is then unchanged. Not thread-safe: one
 * engine per thread, or a lock around it. */
TL_API int tl_fraud_decide(tl_fraud_engine *e, const struct tl_fraud_tx *tx,
                           struct tl_fraud_decision *out, tl_err *err);

/* Takes tx into the stream state without deciding it: the same checks and
 * update as tl_fraud_decide, no score, reasons or rules. For replaying
 * history into a live engine (a server warming up), where only the state
 * matters. *duplicate (optional) as tl_fraud_decision.duplicate. */
TL_API int tl_fraud_engine_take(tl_fraud_engine *e, const struct tl_fraud_tx *tx, bool *duplicate,
                                tl_err *err);

/* The decision as JSON (new reference):
 * {"transaction_id","card_id","amount" (decimal string),"currency",
 *  "decision","score","model_score","anomaly"
 *  (null when unused),"model","cold_start":bool,"duplicate":bool,
 *  "reasons":[{"kind":"model","feature","value","contribution","text"} ...,
 *             {"kind":"rule","rule","action","text"} ...,
 *             {"kind":"list","list","action":"allow"|"block"} ...,
 *             {"kind":"cold_start","text"}],
 *  "basis":"model"|"rules","inputs_digest"} */
TL_API json_t *tl_fraud_decision_json(const tl_fraud_engine *e, const struct tl_fraud_tx *tx,
                                      const struct tl_fraud_decision *d);

TL_END_DECLS

#endif
