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

TL_END_DECLS

#endif
