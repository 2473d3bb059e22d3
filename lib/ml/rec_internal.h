/*
 * rec_internal.h - what the files of the recommender (rec_data.c,
 * rec_models.c, rec_lightgcn.c, rec_eval.c) share: the model struct and the
 * fitters each file provides.
 */
#ifndef TELLER_ML_REC_INTERNAL_H
#define TELLER_ML_REC_INTERNAL_H

#include <teller/recsys.h>

#include <string.h>

/* Four floats in an SSE register (GCC and Clang vector extensions), for the
 * BPR and LightGCN inner loops: the -O2 autovectorizer leaves them scalar (a
 * float reduction it may not reorder, rows it cannot prove apart). Loads and
 * stores through memcpy: rows need not be 16-byte aligned. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f ld4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st4(float *p, v4f v)
{
    memcpy(p, &v, sizeof v);
}

/* One struct for every kind; the arrays a kind does not use stay NULL. */
struct tl_rec_model {
    int kind;
    struct tl_rec_params p;
    int32_t n_users, n_items;
    float *pop;      /* (n_items) train users per item: the fallback for users with no history */
    int32_t f;       /* factor width (ALS, BPR, LightGCN) */
    float *U;        /* (n_users, f) user factors */
    float *V;        /* (n_items, f) item factors */
    float *bias;     /* (n_items) BPR's item bias, or NULL */
    /* item-kNN: for item i in a user's history, score[nb_idx[e]] += nb_val[e]
     * for e in [nb_ptr[i], nb_ptr[i+1]) */
    int64_t *nb_ptr; /* (n_items + 1) */
    int32_t *nb_idx;
    float *nb_val;
    float *B;        /* (n_items, n_items) EASE^R's weights, zero diagonal */
};

/* An empty model of kind over train's shape with pop filled; NULL on OOM. */
struct tl_rec_model *tl__rec_model_new(int kind, const struct tl_rec_params *p,
                                       const struct tl_rec_csr *train);

/* LightGCN (rec_lightgcn.c): fills m->U and m->V with the propagated
 * (layer-mean) embeddings. */
int tl__rec_fit_lightgcn(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err);

#endif
