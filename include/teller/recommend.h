/*
 * recommend.h - the bank's next-best-product service: training on the
 * store's interactions and holdings, serving a customer's top-k under the
 * business rules, each item with a reason, and recording what customers did
 * with what they were shown.
 *
 *     struct tl_recommend_train_opts to = {.models = "ease"};   // + the neural ranker
 *     json_t *tr;
 *     if (tl_recommend_train(ctx, &to, &tr, &err) < 0) ...     // recommend-v1, champion
 *
 *     struct tl_recommend_list *l = malloc(sizeof *l);
 *     if (tl_recommend(ctx, "C000042", 5, l, &err) < 0) ...    // stored in recommendations
 *     tl_recommend_journal(ctx, "cli", "cli", "teller recommend", l, &err);
 *     json_t *j = tl_recommend_list_json(l);                   // what the API answers
 *
 * The model (docs/recommend.md): a collaborative-filtering model of recsys.h
 * (EASE^R by default) and a neural ranker R(u,p) = sigmoid(MLP([h_u, h_p,
 * context])) on the nn engine, where h_u is the customer's embedding (a
 * learned "unknown customer" row for customers the model has not seen)
 * beside standardized profile features, and h_p the product's embedding
 * beside its attributes: so a customer with no history still gets a
 * personal list. The served score is a blend, w * CF + (1 - w) * ranker,
 * with the CF scores min-max normalized per customer and w chosen on a
 * validation split at training time.
 *
 * The rules run after ranking and nothing that breaks one is ever served:
 * eligibility (age from birth_date within the product's min_age..max_age,
 * declared annual income at least min_income_minor), suitability (funds and
 * ETFs only up to the customer's latest risk profile level; none without a
 * risk profile), products held excluded unless stackable (funds, ETFs and
 * term deposits take top-ups; one current account and one mortgage per
 * customer), frequency capping (a product shown recommend.cap_shown times in
 * recommend.cap_days days rests; a dismissed one is suppressed for
 * recommend.dismiss_days days), then diversity across categories by MMR
 * re-ranking (recommend.mmr_lambda).
 */
#ifndef TELLER_RECOMMEND_H
#define TELLER_RECOMMEND_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

#define TL_RECOMMEND_MAX_K 20

/* Why an item is on the list: the signal that drove it. */
enum tl_recommend_reason_kind {
    TL_RECOMMEND_REASON_TRANSACTIONS = 0, /* the customer's own money: interest, idle cash */
    TL_RECOMMEND_REASON_LIFE_SIGNAL = 1,  /* travel, a new home, children, ... */
    TL_RECOMMEND_REASON_SIMILAR = 2,      /* customers with products like the customer's */
    TL_RECOMMEND_REASON_PROFILE = 3,      /* income, age, segment */
    TL_RECOMMEND_REASON_TOP_UP = 4,       /* a stackable product the customer holds */
};
/* "transactions", "life_signal", "similar_customers", "profile_fit", "top_up". */
TL_API const char *tl_recommend_reason_name(int kind);

struct tl_recommend_item {
    char product_id[65];
    char name[128];
    char category[24];
    int risk_level;
    double score; /* the blended score in [0, 1] before diversity */
    int rank;     /* 1-based */
    int reason_kind;
    char reason[320]; /* one sentence */
};

struct tl_recommend_list {
    char id[40];          /* "rec-<16 hex>", the recommendations row */
    char customer_id[65];
    char model[64];       /* "recommend-v3" */
    int64_t created_ms;
    bool cold_start;      /* the model has not seen this customer */
    int k;                /* asked */
    size_t n;             /* <= k; fewer when the rules leave fewer */
    struct tl_recommend_item items[TL_RECOMMEND_MAX_K];
    /* products the rules took out, by rule */
    int excluded_ineligible, excluded_unsuitable, excluded_held, excluded_capped,
        excluded_dismissed;
    char inputs_digest[65]; /* SHA-256 of what the list was decided on */
};

/* The customer's top k (1..TL_RECOMMEND_MAX_K) products with the champion
 * of task "recommend", under the rules, with reasons; stored in
 * recommendations before it returns. Does not journal: the caller does
 * (tl_recommend_journal, or the server's audit queue), as with advice.
 * TL_ENOTFOUND for an unknown customer or without a champion ("train one
 * with `teller recommend train`"); TL_EINVAL for k out of range. On error
 * *out is zeroed. */
TL_API int tl_recommend(tl_ctx *ctx, const char *customer_id, int k,
                        struct tl_recommend_list *out, tl_err *err);

/* The list as the API answers it (new reference): {"id","customer_id",
 * "model","created_at","cold_start","k","items":[{"product","name",
 * "category","risk_level","score","rank","reason":{"kind","text"}}],
 * "excluded":{"ineligible","unsuitable","held","capped","dismissed"}}. */
TL_API json_t *tl_recommend_list_json(const struct tl_recommend_list *l);

/* The audit details of a list (malloc'd JSON text, NULL when out of
 * memory): ids, products, ranks, reason kinds; no personal data. */
TL_API char *tl_recommend_audit_details(const struct tl_recommend_list *l);

/* Journals a list as action "recommendation.serve" with its model and
 * inputs digest (tl_audit_append). */
TL_API int tl_recommend_journal(tl_ctx *ctx, const char *actor, const char *role,
                                const char *resource, const struct tl_recommend_list *l,
                                tl_err *err);

/* ---- feedback ------------------------------------------------------------------- */

/* One thing a customer did with a product. event: "shown" (stored as
 * "viewed", the catalogue's word: the bank's channel displayed it),
 * "viewed", "clicked", "applied", "bought" or "dismissed". ts_ms 0: now.
 * channel optional: web, mobile, branch, email, call. */
struct tl_recommend_event {
    const char *customer_id;
    const char *product_id;
    const char *event;
    const char *channel;
    int64_t ts_ms;
};

/* Validates and stores one interaction (id "int-<16 hex>" into id_out):
 * the next tl_recommend sees it at once (a dismissal suppresses the
 * product, a "shown" counts toward the cap) and the next training reads it.
 * TL_EINVAL naming the field for a bad event or channel, TL_ENOTFOUND for
 * an unknown customer or product. */
TL_API int tl_recommend_record(tl_ctx *ctx, const struct tl_recommend_event *ev, char id_out[40],
                               tl_err *err);

/* ---- training and evaluation ------------------------------------------------- */

struct tl_recommend_train_opts {
    /* CF models to pair with the ranker, comma-separated: pop, itemknn,
     * als, bpr, ease, lightgcn, or "all"; NULL: "ease". Each is one
     * registered model (algo "<cf>+ranker"). */
    const char *models;
    uint64_t seed;     /* 0: 20261123 */
    int ranker_epochs; /* 0: 40 (early stopping usually ends it sooner) */
    bool no_ranker;    /* CF alone (algo "<cf>"), for comparisons */
    bool no_promote;   /* never promote, even without a champion */
    const char *actor; /* for the registry's journal; NULL "teller" */
};

/* Builds the interaction matrix from the store (docs/recommend.md: event
 * weights, holdings as positives), fits and registers the models (task
 * "recommend", challengers with a model card) and, when the task has no
 * champion, promotes the best by validation NDCG@5. *out (new reference):
 * {"customers","products","positives","models":[{"id","algo","blend",
 * "valid":{"ndcg","recall"},"ranker":{"epochs","best_epoch","valid_loss"},
 * "promoted"}]}. TL_EINVAL when the store holds no positives. */
TL_API int tl_recommend_train(tl_ctx *ctx, const struct tl_recommend_train_opts *opts,
                              json_t **out, tl_err *err);

struct tl_recommend_eval_opts {
    double test_frac; /* 0: 0.2 of the positives, the latest */
    int k;            /* 0: 5 */
    uint64_t seed;    /* 0: 20261123 */
    const char *models; /* CF models as in training; NULL: "pop,itemknn,als,ease" */
};

/* The store's own interactions, split in time (the latest test_frac of the
 * positives to test): every CF model, the ranker, the blend, and the served
 * lists (blend + rules as of the split instant + MMR), each with Recall@k,
 * NDCG@k, MAP@k, coverage, intra-list diversity (categories), novelty and
 * rule_violations (the share of listed items that break a rule, checked by
 * a separate checker; 0 for the served lists). *out new reference. */
TL_API int tl_recommend_eval_store(tl_ctx *ctx, const struct tl_recommend_eval_opts *opts,
                                   json_t **out, tl_err *err);

TL_END_DECLS

#endif
