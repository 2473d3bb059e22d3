/*
 * recsys.h - top-k recommendation from implicit feedback: interaction
 * tables, seeded splits, models (popularity, item-kNN, implicit ALS, BPR-MF,
 * EASE^R, LightGCN on the nn engine's adjacency and Adam, with a hand-written
 * training step), offline metrics and model files.
 *
 * Everything works on a binary user x item matrix in CSR form (a positive is
 * "this user took this product"). Ids from outside (a file's columns, the
 * store's customer and product ids) are mapped to dense indices by
 * tl_rec_data; the models only see indices.
 *
 *     tl_rec_data *d;
 *     struct tl_rec_load_opts lo = {.user_col = "1", .item_col = "2",
 *                                   .rating_col = "3", .rating_min = 4};
 *     if (tl_rec_data_load("u.data", &lo, &d, &err) < 0) ...
 *     struct tl_rec_csr train, test;
 *     tl_rec_split(d, TL_REC_SPLIT_PER_USER, 0.2, 20261123, &train, &test, &err);
 *     struct tl_rec_params p;
 *     tl_rec_params_defaults(TL_REC_ALS, &p);
 *     tl_rec_model *m;
 *     tl_rec_fit(TL_REC_ALS, &p, &train, &m, &err);
 *     struct tl_rec_metrics r;
 *     tl_rec_evaluate(m, &train, &test, 10, NULL, 1, &r, &err);
 *     tl_rec_model_free(m); tl_rec_csr_free(&train); tl_rec_csr_free(&test);
 *     tl_rec_data_free(d);
 *
 * The per-user split reproduces NumPy's numpy.random.default_rng(seed)
 * permutations bit for bit (SeedSequence -> PCG64 -> Generator.shuffle), so
 * a split made here is the split the Python anchor makes (docs/recommend-
 * models.md). Training is deterministic for a seed and a thread count.
 */
#ifndef TELLER_RECSYS_H
#define TELLER_RECSYS_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- a binary sparse matrix ------------------------------------------------- */

/* Row r's columns are idx[ptr[r] .. ptr[r+1]), strictly increasing. Owns
 * ptr and idx (free with tl_rec_csr_free). */
struct tl_rec_csr {
    int32_t n_rows, n_cols;
    int64_t *ptr; /* (n_rows + 1) */
    int32_t *idx; /* (ptr[n_rows]) */
};

/* The matrix with a 1 at (rows[e], cols[e]) for e < n; duplicates count
 * once. An index out of range is TL_EINVAL naming the pair; *out is
 * untouched on error. */
TL_API int tl_rec_csr_from_pairs(int32_t n_rows, int32_t n_cols, const int32_t *rows,
                                 const int32_t *cols, int64_t n, struct tl_rec_csr *out,
                                 tl_err *err);
/* The transpose (item -> users). */
TL_API int tl_rec_csr_transpose(const struct tl_rec_csr *a, struct tl_rec_csr *out, tl_err *err);
TL_API void tl_rec_csr_free(struct tl_rec_csr *a);
static inline int64_t tl_rec_csr_nnz(const struct tl_rec_csr *a)
{
    return a->ptr ? a->ptr[a->n_rows] : 0;
}

/* ---- interaction tables ------------------------------------------------------ */

/* Interactions with external ids. Users and items are numbered in id order:
 * by numeric value when every id is an integer, otherwise bytewise; so
 * MovieLens' user 1 is index 0. Every id seen in the input is in the
 * catalogue, including those whose rows fell under rating_min (a product
 * nobody took is still a candidate). */
typedef struct tl_rec_data {
    int32_t n_users, n_items;
    char **user_ids;     /* (n_users) */
    char **item_ids;     /* (n_items) */
    int64_t n;           /* positives kept */
    int32_t *user;       /* (n) */
    int32_t *item;       /* (n) */
    int64_t *ts;         /* (n) the time column's value, or the row number without one */
    uint64_t *item_cats; /* (n_items) a bit per category (genre, product family), or NULL */
    int n_cats;          /* categories in item_cats (<= 64) */
} tl_rec_data;

/* How to read an interaction file. Columns are named by their header name
 * or by a 1-based number ("2"). */
struct tl_rec_load_opts {
    const char *user_col;   /* required */
    const char *item_col;   /* required unless item_cols */
    const char *rating_col; /* NULL: every row is a positive */
    double rating_min;      /* with rating_col: rows rated below it are not positives */
    const char *time_col;   /* NULL: the row number orders time */
    /* Wide files (one row per customer, a 0/1 column per product, as the
     * Santander snapshots): a comma-separated list of column names, each
     * may hold '*' wildcards ("ind_*_ult1"). A value that parses as a
     * number > 0 is a positive for that product. */
    const char *item_cols;
    /* 1 the first line is a header, 0 it is data, -1 detect: a header
     * unless every column spec is a number and every field of the first
     * line parses as a number. */
    int header;
    /* 0 detect from the first line: tab, else comma, else '|', else ';'. */
    char delim;
};

/* Reads path (CSV with RFC 4180 quotes, or tab-separated; no gzip: pipe
 * through zcat and pass /dev/stdin). A missing column, a non-numeric rating
 * or time, an empty id or an empty file is TL_EINVAL/TL_EPARSE naming
 * path:line and the column. Free *out with tl_rec_data_free; untouched on
 * error. */
TL_API int tl_rec_data_load(const char *path, const struct tl_rec_load_opts *opts,
                            tl_rec_data **out, tl_err *err);

/* A table from n (user id, item id, time) triples given as strings (the
 * store's interactions). ts may be NULL (array order). Ids are copied. */
TL_API int tl_rec_data_from_ids(const char *const *user_ids, const char *const *item_ids,
                                const int64_t *ts, int64_t n, tl_rec_data **out, tl_err *err);

/* Item categories from a MovieLens u.item-style file: '|'-separated, the
 * item id first and the last n flag columns 0/1 (n = the number of trailing
 * 0/1 fields, at most 64). Items not in the file get no category; ids in
 * the file but not in d are ignored. */
TL_API int tl_rec_data_load_item_cats(tl_rec_data *d, const char *path, tl_err *err);

TL_API void tl_rec_data_free(tl_rec_data *d);

/* The positives as a users x items matrix. */
TL_API int tl_rec_data_matrix(const tl_rec_data *d, struct tl_rec_csr *out, tl_err *err);

/* ---- splits ------------------------------------------------------------------- */

enum tl_rec_split_kind {
    /* Each user's positives (in item order) shuffled with NumPy's
     * default_rng(seed).permutation, the first round(frac n) of them (at
     * least 1 when n >= 2, none when n < 2; round half to even as Python's
     * round) to test; users visited in index order, one generator for all. */
    TL_REC_SPLIT_PER_USER = 0,
    /* The latest test_frac of all positives by time (ties by row order) to
     * test: train on the past, score the future. */
    TL_REC_SPLIT_TEMPORAL = 1,
    /* Per user with n >= 2, one positive hidden (the first of the same
     * NumPy permutation); the rest to train. */
    TL_REC_SPLIT_LEAVE_ONE_OUT = 2,
};

/* Splits d's positives into train and test (both n_users x n_items). */
TL_API int tl_rec_split(const tl_rec_data *d, enum tl_rec_split_kind kind, double test_frac,
                        uint64_t seed, struct tl_rec_csr *train, struct tl_rec_csr *test,
                        tl_err *err);
/* The same for a matrix (no times: TEMPORAL is TL_EINVAL): carves the
 * validation split out of a train matrix. */
TL_API int tl_rec_split_csr(const struct tl_rec_csr *all, enum tl_rec_split_kind kind,
                            double test_frac, uint64_t seed, struct tl_rec_csr *train,
                            struct tl_rec_csr *test, tl_err *err);

/* NumPy's generator, exposed for tests and tools: default_rng(seed) state,
 * random_raw() and permutation(n). */
typedef struct tl_rec_numpy_rng {
    uint64_t state_hi, state_lo, inc_hi, inc_lo;
    uint32_t buffered;
    bool has_buffered;
} tl_rec_numpy_rng;
TL_API void tl_rec_numpy_rng_seed(tl_rec_numpy_rng *r, uint64_t seed);
TL_API uint64_t tl_rec_numpy_rng_next64(tl_rec_numpy_rng *r);
/* perm[0..n) = numpy.random.default_rng(...).permutation(n) continued. */
TL_API void tl_rec_numpy_rng_permutation(tl_rec_numpy_rng *r, int32_t *perm, int64_t n);

/* ---- models ---------------------------------------------------------------------- */

enum tl_rec_kind {
    TL_REC_POP = 0,
    TL_REC_ITEMKNN = 1,
    TL_REC_ALS = 2,
    TL_REC_BPR = 3,
    TL_REC_EASE = 4,
    TL_REC_LIGHTGCN = 5,
    TL_REC_KIND_COUNT
};
/* "pop", "itemknn", "als", "bpr", "ease", "lightgcn"; NULL out of range. */
TL_API const char *tl_rec_kind_name(int kind);
/* The kind of that name, or -1. */
TL_API int tl_rec_kind_from_name(const char *name);

struct tl_rec_params {
    int factors;       /* ALS, BPR, LightGCN: embedding width */
    double reg;        /* ALS: L2 on factors; BPR: per-update L2; LightGCN: L2 on batch embeddings */
    double alpha;      /* ALS: confidence 1 + alpha on positives */
    int iters;         /* ALS sweeps */
    int knn_k;         /* item-kNN: neighbours kept per item (0: all) */
    double shrink;     /* item-kNN: added to the cosine's denominator */
    double lr;         /* BPR (SGD), LightGCN (Adam) */
    int epochs;        /* BPR, LightGCN */
    int batch;         /* LightGCN triples per step */
    int layers;        /* LightGCN propagation layers */
    double ease_lambda; /* EASE^R: L2 on the item-item weights */
    int threads;       /* worker threads (ALS solves, LightGCN propagation, evaluation); >= 1 */
    uint64_t seed;
};
/* The defaults for kind (docs/recommend-models.md; tuned on MovieLens). */
TL_API void tl_rec_params_defaults(int kind, struct tl_rec_params *p);

typedef struct tl_rec_model tl_rec_model;

/* Fits kind on train (users x items; borrowed for the call only). Returns
 * TL_EINVAL naming a parameter out of range, TL_ETOOBIG when EASE^R's dense
 * item x item matrix would pass 20,000 items. *out untouched on error. */
TL_API int tl_rec_fit(int kind, const struct tl_rec_params *p, const struct tl_rec_csr *train,
                      tl_rec_model **out, tl_err *err);
TL_API void tl_rec_model_free(tl_rec_model *m);
TL_API int tl_rec_model_kind(const tl_rec_model *m);
TL_API int32_t tl_rec_model_n_items(const tl_rec_model *m);
TL_API int32_t tl_rec_model_n_users(const tl_rec_model *m);

/* scores[n_items] for a user: the model's score of every item. user is the
 * train index, or -1 for a user the model has not seen; hist[0..n_hist) is
 * the user's own positives (what item-kNN and EASE^R score from, what ALS
 * folds a new user in from). A user with no history gets popularity. */
TL_API int tl_rec_score(const tl_rec_model *m, int32_t user, const int32_t *hist, int64_t n_hist,
                        float *scores, tl_err *err);

/* The k best of scores[0..n) not in exclude[0..n_exclude) (sorted
 * increasingly), best first, ties to the lower index, by a partial selection
 * (a k-heap: O(n log k)). Returns how many were written to items (and
 * out_scores, when not NULL): min(k, n - excluded). */
TL_API int tl_rec_topk(const float *scores, int32_t n, const int32_t *exclude, int64_t n_exclude,
                       int k, int32_t *items, float *out_scores);

/* Saves to a safetensors file (nn_io.h) with the kind, shapes and params in
 * the metadata; load validates the kind, every tensor's shape against the
 * metadata and the values (finite). */
TL_API int tl_rec_model_save(const tl_rec_model *m, const char *path, tl_err *err);
TL_API int tl_rec_model_load(const char *path, tl_rec_model **out, tl_err *err);

/* ---- evaluation --------------------------------------------------------------- */

struct tl_rec_metrics {
    double recall;      /* hits / |test|, mean over users with test items */
    double ndcg;        /* binary gain, IDCG over min(|test|, k) */
    double map;         /* AP@k = sum_r P@r rel_r / min(|test|, k) */
    double coverage;    /* distinct recommended items / n_items */
    double ild;         /* intra-list diversity: mean over pairs of 1 - cosine of the
                           items' category vectors; NaN without categories */
    double novelty;     /* mean over recommended items of -log2((c_i + 1) / (n_users + 1)),
                           c_i the item's train users */
    int64_t n_users;    /* users evaluated */
    int32_t n_distinct; /* distinct recommended items */
};

/* Scores every user with test items against all items minus their train
 * positives, top-k. item_cats (n_items, or NULL) feeds the diversity. */
TL_API int tl_rec_evaluate(const tl_rec_model *m, const struct tl_rec_csr *train,
                           const struct tl_rec_csr *test, int k, const uint64_t *item_cats,
                           int threads, struct tl_rec_metrics *out, tl_err *err);

/* The whole protocol: split, tune each model on a validation split carved
 * out of train (same kind and fraction, seed + 1; by NDCG@k over a small
 * grid per model, docs/recommend-models.md), refit on train with the chosen
 * parameters, score once on test. */
struct tl_rec_eval_opts {
    enum tl_rec_split_kind split;
    double test_frac;
    uint64_t seed;
    int k;
    unsigned models; /* bit (1 << kind) per model to run */
    bool tune;       /* false: each model's defaults */
    int threads;
    /* params[kind] (NULL: tl_rec_params_defaults): the starting point of
     * the grid, and what runs untuned. threads and seed come from here. */
    const struct tl_rec_params *params;
    /* Called after each validation trial and each final fit (may be NULL):
     * for progress lines. */
    void (*on_trial)(void *arg, int kind, const struct tl_rec_params *p, bool validation,
                     const struct tl_rec_metrics *m, double fit_s);
    void *arg;
};
struct tl_rec_eval_result {
    int kind;
    struct tl_rec_params params; /* chosen */
    struct tl_rec_metrics test;
    double valid_ndcg;           /* the chosen params' validation NDCG@k (NaN untuned) */
    double fit_s;                /* the final fit on train, seconds */
};
struct tl_rec_eval_summary {
    int64_t n_train, n_test, n_valid_fit, n_valid_held;
    int64_t n_test_users;
};
/* results[TL_REC_KIND_COUNT]: *n_results entries in kind order. */
TL_API int tl_rec_eval(const tl_rec_data *d, const struct tl_rec_eval_opts *opts,
                       struct tl_rec_eval_result *results, size_t *n_results,
                       struct tl_rec_eval_summary *summary, tl_err *err);

TL_END_DECLS

#endif
