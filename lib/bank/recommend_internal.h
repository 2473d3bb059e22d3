/*
 * recommend_internal.h - what the files of the recommendation service share:
 * the catalogue, a customer's facts as the rules see them, the rules and
 * MMR (recommend_rules.c), the neural ranker (recommend_ranker.c) and the
 * reasons (recommend_reasons.c). Pure functions over plain structs, so the
 * unit tests drive them with hand-made customers and products.
 */
#ifndef TELLER_BANK_RECOMMEND_INTERNAL_H
#define TELLER_BANK_RECOMMEND_INTERNAL_H

#include <teller/config.h>
#include <teller/nn.h>
#include <teller/profile.h>
#include <teller/recommend.h>
#include <teller/recsys.h>
#include <teller/segment.h>
#include <teller/store.h>

/* The product categories of schema.c, in its order. */
enum rc_cat {
    RC_CURRENT = 0,
    RC_SAVINGS,
    RC_TERM_DEPOSIT,
    RC_CREDIT_CARD,
    RC_PERSONAL_LOAN,
    RC_AUTO_LOAN,
    RC_MORTGAGE,
    RC_INSURANCE,
    RC_FUND,
    RC_ETF,
    RC_CAT_COUNT
};
/* The category of a products.category value, or -1. */
int tl__rc_cat_of(const char *name);
const char *tl__rc_cat_name(int cat);

struct rc_product {
    char id[65];
    char name[128];
    char category[24];
    int cat;               /* enum rc_cat, -1 unknown */
    int risk;              /* 1..5 */
    int rate_bp;           /* -1: none */
    int64_t fee_minor;     /* annual; -1: none */
    int min_age, max_age;  /* 0: no limit */
    int64_t min_income_minor; /* annual; 0: none */
};

struct rc_catalogue {
    struct rc_product *p; /* (n) in id order */
    int32_t n;
};
int tl__rc_catalogue_load(tl_store *st, struct rc_catalogue *out, tl_err *err);
void tl__rc_catalogue_free(struct rc_catalogue *c);
/* The index of product id, or -1 (binary search: the catalogue is in id order). */
int32_t tl__rc_catalogue_find(const struct rc_catalogue *c, const char *id);

/* An investment product: suitability applies. */
bool tl__rc_is_investment(const struct rc_product *p);

/* What the rules know about one customer, per catalogue product. */
struct rc_facts {
    int age;               /* years; -1 unknown (then age-limited products are ineligible) */
    bool income_known;
    int64_t annual_income_minor;
    int risk_profile;      /* 1..5, 0: none assessed */
    uint8_t *held;         /* (n) 1 when held (an open account or a holding) */
    int32_t *shown;        /* (n) times shown (viewed) within cap_days */
    uint8_t *dismissed;    /* (n) dismissed within dismiss_days */
};
int tl__rc_facts_alloc(struct rc_facts *f, int32_t n);
void tl__rc_facts_free(struct rc_facts *f);

struct rc_rules_cfg;
/* What the rules know about customer_id at instant as_of (serving: now;
 * the evaluation: the split instant): age, declared income, the latest risk
 * profile, products held (opened before as_of), shown within cap_days and
 * dismissed within dismiss_days before as_of. Allocates f (free with
 * tl__rc_facts_free; freed on error). TL_ENOTFOUND for an unknown customer. */
int tl__rc_facts_load(tl_store *st, const struct rc_catalogue *c, const struct rc_rules_cfg *cfg,
                      const char *customer_id, int64_t as_of, struct rc_facts *f, tl_err *err);

struct rc_rules_cfg {
    int cap_shown;     /* recommend.cap_shown (3) */
    int cap_days;      /* recommend.cap_days (30) */
    int dismiss_days;  /* recommend.dismiss_days (90) */
    double mmr_lambda; /* recommend.mmr_lambda (0.7): 1 is pure relevance */
};
/* Reads the recommend.* keys (defaults when a key is absent or empty);
 * TL_EINVAL naming a key out of range. */
int tl__rc_rules_cfg(const tl_config *cfg, struct rc_rules_cfg *out, tl_err *err);

enum rc_rule {
    RC_OK = 0,
    RC_INELIGIBLE = 1,
    RC_UNSUITABLE = 2,
    RC_HELD = 3,
    RC_CAPPED = 4,
    RC_DISMISSED = 5,
};
/* The first rule product p breaks for the customer, or RC_OK. *top_up set
 * when p is held and allowed as a stackable top-up. */
int tl__rc_rule_check(const struct rc_catalogue *c, int32_t p, const struct rc_facts *f,
                      const struct rc_rules_cfg *cfg, bool *top_up);
/* The same rules written a second time, plainly, for the evaluation's and
 * the tests' independent check: true when p may be served. */
bool tl__rc_rule_ok_independent(const struct rc_catalogue *c, int32_t p, const struct rc_facts *f,
                                const struct rc_rules_cfg *cfg);

/* Similarity of two products for diversity: 1 same category, 0.5 same
 * family (deposits, credit, investments), else 0. */
double tl__rc_similarity(const struct rc_catalogue *c, int32_t a, int32_t b);

/* MMR: from cand[0..n_cand) with relevance rel[cand[i]] (higher better, any
 * scale: normalized inside), picks up to k greedily maximizing
 * lambda * rel - (1 - lambda) * max similarity to those picked. Returns the
 * number written to out. */
int tl__rc_mmr(const struct rc_catalogue *c, const float *rel, const int32_t *cand, int n_cand,
               int k, double lambda, int32_t *out);

/* ---- positives ----------------------------------------------------------------- */

/* Event weights (docs/recommend.md): a (customer, product) pair becomes a
 * positive when its weights, summed in time order, reach 1. */
#define RC_W_BOUGHT 3.0
#define RC_W_APPLIED 2.0
#define RC_W_CLICKED 1.0
#define RC_W_VIEWED 0.25
#define RC_W_DISMISSED (-1.5)

/* Every positive in the store, (customer, product, when it became one):
 * interactions by weight, open accounts with a product and holdings at
 * their opening. customer_id NULL: every customer. */
struct rc_pos {
    char **cust, **prod;
    int64_t *ts;
    int64_t n, cap;
};
int tl__rc_positives(tl_store *st, const char *customer_id, struct rc_pos *out, tl_err *err);
void tl__rc_pos_free(struct rc_pos *p);

/* ---- the neural ranker ----------------------------------------------------------- */

#define RK_EMB 8
#define RK_N_SIGNALS 5
#define RK_N_SEG (TL_SEGMENT_MAX_K + 1)
/* user features: 8 numeric, spending shares, signals, segment one-hot, held categories */
#define RK_DU (8 + TL_CAT_COUNT + RK_N_SIGNALS + RK_N_SEG + RC_CAT_COUNT)
#define RK_HELD_OFF (RK_DU - RC_CAT_COUNT)
/* product features: category one-hot, risk, rate, fee, min income, investment, ages */
#define RK_DP (RC_CAT_COUNT + 7)

/* The raw user features of a profile (ufeat[RK_DU]) with the held-category
 * flags from held[n] over the catalogue. */
void tl__rk_user_features(const struct tl_profile *pf, const struct rc_catalogue *c,
                          const uint8_t *held, float *ufeat);
void tl__rk_product_features(const struct rc_product *p, float *pfeat);

typedef struct rk_model rk_model;

struct rk_train_data {
    int32_t n_users, n_items;
    const float *ufeat;             /* (n_users, RK_DU) raw */
    const float *pfeat;             /* (n_items, RK_DP) */
    const int *item_cat;            /* (n_items) */
    const struct tl_rec_csr *pos;   /* users x items positives to learn */
    const struct tl_rec_csr *held;  /* users x items held (for the held flags), or NULL */
    const struct tl_rec_csr *valid; /* held-out positives for early stopping, or NULL */
};
struct rk_train_opts {
    int epochs;      /* the most; early stopping ends sooner when valid is given */
    int patience;    /* 4 */
    int n_neg;       /* negatives per positive (3) */
    double cold_p;   /* share of rows trained with the unknown-customer row (0.2) */
    double lr;       /* AdamW (3e-3) */
    uint64_t seed;
};
struct rk_train_report {
    int epochs_run, best_epoch;
    double best_valid_loss; /* NaN without valid */
};
int tl__rk_fit(const struct rk_train_data *d, const struct rk_train_opts *o, rk_model **out,
               struct rk_train_report *rep, tl_err *err);
void tl__rk_free(rk_model *m);
/* Probabilities out[n_items] for a customer: user index (-1: unknown),
 * raw features ufeat[RK_DU], held[n_items] (or NULL), pfeat (n_items,
 * RK_DP) and item_cat for the catalogue being scored, whose products map
 * to the model's items by item_map[i] (-1: a product the model has not
 * seen; NULL: identity). */
int tl__rk_score(const rk_model *m, int32_t user, const float *ufeat, const uint8_t *held,
                 int32_t n_items, const float *pfeat, const int *item_cat,
                 const int32_t *item_map, float *out, tl_err *err);
/* Serialization: weights as safetensors bytes, standardization as JSON. */
int tl__rk_save(const rk_model *m, json_t **meta, uint8_t **weights, size_t *len, tl_err *err);
int tl__rk_load(const json_t *meta, const uint8_t *weights, size_t len, rk_model **out,
                tl_err *err);

/* ---- reasons ------------------------------------------------------------------------ */

/* What the reasons know beyond the profile: how often customers who hold
 * one product hold another (co-holding counts over the training customers). */
struct rc_cooc {
    int32_t n;          /* catalogue products */
    int64_t n_users;
    int32_t *count;     /* (n) customers with each product */
    int32_t *pair;      /* (n, n) customers with both */
};

/* Fills item's reason (kind and sentence) from the strongest signal:
 * the customer's money, a life signal, similar customers, profile fit. */
void tl__rc_reason(const struct rc_catalogue *c, int32_t p, const struct tl_profile *pf,
                   const struct rc_facts *f, const struct rc_cooc *co, bool top_up,
                   double cf_share, struct tl_recommend_item *item);

#endif
