/* rec_models.c - the recommenders that need no autograd: popularity,
 * item-kNN (cosine, top-k neighbours), implicit ALS (Hu, Koren and Volinsky
 * 2008: exact per-row solves with the Y^T Y trick), BPR-MF (Rendle et al.
 * 2009: SGD with an item bias) and EASE^R (Steck 2019: one closed-form
 * item x item ridge regression); scoring, top-k selection and model files. */
#include "ml/rec_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include <teller/ml_stats.h>
#include <teller/nn_io.h>
#include <teller/pool.h>

/* LAPACK (OpenBLAS exports it; Debian ships no lapacke.h with it). */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
                   double *b, const int *ldb, int *info);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#define REC_EASE_MAX_ITEMS 20000

static const char *const KIND_NAMES[TL_REC_KIND_COUNT] = {
    [TL_REC_POP] = "pop",   [TL_REC_ITEMKNN] = "itemknn", [TL_REC_ALS] = "als",
    [TL_REC_BPR] = "bpr",   [TL_REC_EASE] = "ease",       [TL_REC_LIGHTGCN] = "lightgcn",
};

const char *tl_rec_kind_name(int kind)
{
    return kind >= 0 && kind < TL_REC_KIND_COUNT ? KIND_NAMES[kind] : NULL;
}

int tl_rec_kind_from_name(const char *name)
{
    for (int k = 0; k < TL_REC_KIND_COUNT; k++)
        if (name && strcmp(name, KIND_NAMES[k]) == 0)
            return k;
    if (name && strcmp(name, "mostpop") == 0)
        return TL_REC_POP;
    return -1;
}

void tl_rec_params_defaults(int kind, struct tl_rec_params *p)
{
    /* Values chosen on MovieLens-100K's validation split (docs/recommend-models.md). */
    *p = (struct tl_rec_params){.factors = 64, .reg = 0.01, .alpha = 5, .iters = 15,
                                .knn_k = 100, .shrink = 0, .lr = 0.05, .epochs = 100,
                                .batch = 2048, .layers = 2, .ease_lambda = 200, .threads = 1,
                                .seed = 42};
    switch (kind) {
    case TL_REC_ALS:
        p->factors = 64;
        p->reg = 30;
        p->alpha = 5;
        break;
    case TL_REC_BPR:
        p->factors = 64;
        p->lr = 0.01;
        p->reg = 0.01;
        p->epochs = 200;
        break;
    case TL_REC_LIGHTGCN:
        p->factors = 64;
        /* large batches: each step propagates the whole graph, so fewer
         * steps (with a larger lr) train as well in a fraction of the time */
        p->lr = 0.01;
        p->reg = 3e-3;
        p->epochs = 150;
        p->batch = 16384;
        p->layers = 2;
        break;
    default:
        break;
    }
}

struct tl_rec_model *tl__rec_model_new(int kind, const struct tl_rec_params *p,
                                       const struct tl_rec_csr *train)
{
    struct tl_rec_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->kind = kind;
    m->p = *p;
    m->n_users = train->n_rows;
    m->n_items = train->n_cols;
    m->pop = calloc((size_t)m->n_items + 1, sizeof *m->pop);
    if (!m->pop) {
        free(m);
        return NULL;
    }
    for (int64_t e = 0; e < tl_rec_csr_nnz(train); e++)
        m->pop[train->idx[e]] += 1.0f;
    return m;
}

void tl_rec_model_free(tl_rec_model *m)
{
    if (!m)
        return;
    free(m->pop);
    free(m->U);
    free(m->V);
    free(m->bias);
    free(m->nb_ptr);
    free(m->nb_idx);
    free(m->nb_val);
    free(m->B);
    free(m);
}

int tl_rec_model_kind(const tl_rec_model *m) { return m->kind; }
int32_t tl_rec_model_n_items(const tl_rec_model *m) { return m->n_items; }
int32_t tl_rec_model_n_users(const tl_rec_model *m) { return m->n_users; }

/* ---- item-kNN --------------------------------------------------------------------- */

struct knn_entry {
    int32_t src, dst;
    float val;
};

static int cmp_entry(const void *a, const void *b)
{
    const struct knn_entry *x = a, *y = b;
    if (x->src != y->src)
        return (x->src > y->src) - (x->src < y->src);
    return (x->dst > y->dst) - (x->dst < y->dst);
}

static int fit_itemknn(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err)
{
    struct tl_rec_csr it;
    int rc = tl_rec_csr_transpose(train, &it, err);
    if (rc < 0)
        return rc;
    int32_t n = m->n_items;
    int k = m->p.knn_k > 0 && m->p.knn_k < n ? m->p.knn_k : n;
    float *co = calloc((size_t)n + 1, sizeof *co);
    int32_t *touched = malloc(((size_t)n + 1) * sizeof *touched);
    int32_t *sel = malloc(((size_t)n + 1) * sizeof *sel);
    float *sel_s = malloc(((size_t)n + 1) * sizeof *sel_s);
    float *cand = malloc(((size_t)n + 1) * sizeof *cand);
    struct knn_entry *ent = NULL;
    int64_t n_ent = 0, cap_ent = 0;
    if (!co || !touched || !sel || !sel_s || !cand) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend itemknn: out of memory for %d items", n);
        goto done;
    }
    for (int32_t j = 0; j < n; j++) {
        /* co-occurrences of j with every item, through j's users */
        int32_t n_t = 0;
        for (int64_t a = it.ptr[j]; a < it.ptr[j + 1]; a++) {
            int32_t u = it.idx[a];
            for (int64_t e = train->ptr[u]; e < train->ptr[u + 1]; e++) {
                int32_t i = train->idx[e];
                if (co[i] == 0.0f)
                    touched[n_t++] = i;
                co[i] += 1.0f;
            }
        }
        double nj = sqrt((double)(it.ptr[j + 1] - it.ptr[j]));
        /* the cosines of j's neighbours i (i != j) as a dense candidate row */
        int32_t n_c = 0;
        for (int32_t t = 0; t < n_t; t++) {
            int32_t i = touched[t];
            if (i != j) {
                double ni = sqrt((double)(it.ptr[i + 1] - it.ptr[i]));
                sel[n_c] = i;
                cand[i] = (float)(co[i] / (ni * nj + m->p.shrink + 1e-12));
                n_c++;
            }
        }
        for (int32_t t = 0; t < n_t; t++)
            co[touched[t]] = 0.0f;
        /* keep the k largest: a top-k over the candidates' scores */
        int32_t keep = n_c;
        if (n_c > k) {
            for (int32_t t = 0; t < n_c; t++)
                sel_s[t] = cand[sel[t]];
            /* tl_rec_topk over a compact array of the candidates */
            int32_t *best = touched; /* reuse: touched is no longer needed */
            keep = tl_rec_topk(sel_s, n_c, NULL, 0, k, best, NULL);
            for (int32_t t = 0; t < keep; t++)
                best[t] = sel[best[t]];
            memcpy(sel, best, (size_t)keep * sizeof *sel);
        }
        if (n_ent + keep > cap_ent) {
            int64_t cap = cap_ent ? 2 * cap_ent : 4096;
            while (cap < n_ent + keep)
                cap *= 2;
            struct knn_entry *ne = realloc(ent, (size_t)cap * sizeof *ne);
            if (!ne) {
                rc = tl_err_set(err, TL_ENOMEM, "recommend itemknn: out of memory for %lld "
                                "neighbours", (long long)cap);
                goto done;
            }
            ent = ne;
            cap_ent = cap;
        }
        for (int32_t t = 0; t < keep; t++)
            ent[n_ent++] = (struct knn_entry){sel[t], j, cand[sel[t]]};
    }
    qsort(ent, (size_t)n_ent, sizeof *ent, cmp_entry);
    m->nb_ptr = calloc((size_t)n + 1, sizeof *m->nb_ptr);
    m->nb_idx = malloc(((size_t)n_ent + 1) * sizeof *m->nb_idx);
    m->nb_val = malloc(((size_t)n_ent + 1) * sizeof *m->nb_val);
    if (!m->nb_ptr || !m->nb_idx || !m->nb_val) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend itemknn: out of memory");
        goto done;
    }
    for (int64_t e = 0; e < n_ent; e++) {
        m->nb_ptr[ent[e].src + 1]++;
        m->nb_idx[e] = ent[e].dst;
        m->nb_val[e] = ent[e].val;
    }
    for (int32_t i = 0; i < n; i++)
        m->nb_ptr[i + 1] += m->nb_ptr[i];
done:
    free(co);
    free(touched);
    free(sel);
    free(sel_s);
    free(cand);
    free(ent);
    tl_rec_csr_free(&it);
    return rc;
}

/* ---- implicit ALS ------------------------------------------------------------------ */

struct als_job {
    const struct tl_rec_csr *r; /* rows to solve: users (or items) x the fixed side */
    const double *fixed;        /* (n_fixed, f) */
    const double *gram;         /* (f, f) fixed^T fixed + reg I */
    double *out;                /* (r->n_rows, f) */
    int f;
    double alpha;
    size_t n_chunks;
    int failed;                 /* a row whose system was not positive definite */
};

static void als_chunk(size_t c, void *arg)
{
    struct als_job *j = arg;
    int f = j->f;
    int32_t n_rows = j->r->n_rows;
    int32_t lo = (int32_t)((int64_t)n_rows * (int64_t)c / (int64_t)j->n_chunks);
    int32_t hi = (int32_t)((int64_t)n_rows * (int64_t)(c + 1) / (int64_t)j->n_chunks);
    int64_t max_n = 0;
    for (int32_t r = lo; r < hi; r++)
        if (j->r->ptr[r + 1] - j->r->ptr[r] > max_n)
            max_n = j->r->ptr[r + 1] - j->r->ptr[r];
    double *a = malloc((size_t)f * (size_t)f * sizeof *a);
    double *gath = malloc(((size_t)max_n + 1) * (size_t)f * sizeof *gath);
    if (!a || !gath) {
        free(a);
        free(gath);
        j->failed = -1;
        return;
    }
    for (int32_t r = lo; r < hi; r++) {
        int64_t s = j->r->ptr[r];
        int n = (int)(j->r->ptr[r + 1] - s);
        double *x = j->out + (size_t)r * (size_t)f;
        if (n == 0) {
            memset(x, 0, (size_t)f * sizeof *x);
            continue;
        }
        for (int t = 0; t < n; t++)
            memcpy(gath + (size_t)t * (size_t)f, j->fixed + (size_t)j->r->idx[s + t] * (size_t)f,
                   (size_t)f * sizeof *gath);
        /* A = gram + alpha F^T F (lower triangle), b = (1 + alpha) sum of F's rows */
        memcpy(a, j->gram, (size_t)f * (size_t)f * sizeof *a);
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, f, n, j->alpha, gath, f, 1.0, a, f);
        memset(x, 0, (size_t)f * sizeof *x);
        for (int t = 0; t < n; t++)
            for (int q = 0; q < f; q++)
                x[q] += gath[(size_t)t * (size_t)f + q];
        for (int q = 0; q < f; q++)
            x[q] *= 1.0 + j->alpha;
        /* row-major lower = column-major upper */
        int info = 0, one = 1;
        dposv_("U", &f, &one, a, &f, x, &f, &info);
        if (info != 0)
            j->failed = r + 1;
    }
    free(a);
    free(gath);
}

static int als_half(tl_pool *pool, const struct tl_rec_csr *r, const double *fixed, int32_t n_fixed,
                    double *out, const struct tl_rec_params *p, tl_err *err)
{
    int f = p->factors;
    double *gram = calloc((size_t)f * (size_t)f, sizeof *gram);
    if (!gram)
        return tl_err_set(err, TL_ENOMEM, "recommend als: out of memory");
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, f, n_fixed, 1.0, fixed, f, 0.0, gram, f);
    for (int q = 0; q < f; q++)
        gram[(size_t)q * (size_t)f + q] += p->reg;
    struct als_job job = {r, fixed, gram, out, f, p->alpha, 0, 0};
    job.n_chunks = (size_t)(pool ? 4 * tl_pool_size(pool) : 1);
    tl_pool_parallel_for(pool, job.n_chunks, als_chunk, &job);
    free(gram);
    if (job.failed < 0)
        return tl_err_set(err, TL_ENOMEM, "recommend als: out of memory in a solve");
    if (job.failed > 0)
        return tl_err_set(err, TL_EINVAL, "recommend als: the system of row %d is not positive "
                          "definite (reg %g too small?)", job.failed - 1, p->reg);
    return 0;
}

static int fit_als(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err)
{
    const struct tl_rec_params *p = &m->p;
    int f = p->factors;
    struct tl_rec_csr it;
    int rc = tl_rec_csr_transpose(train, &it, err);
    if (rc < 0)
        return rc;
    double *x = calloc((size_t)m->n_users * (size_t)f + 1, sizeof *x);
    double *y = calloc((size_t)m->n_items * (size_t)f + 1, sizeof *y);
    tl_pool *pool = p->threads > 1 ? tl_pool_new(p->threads) : NULL;
    if (!x || !y || (p->threads > 1 && !pool)) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend als: out of memory for the factors");
        goto done;
    }
    tl_rng rng;
    tl_rng_seed(&rng, p->seed);
    /* N(0, 0.01) item factors; the users are solved first, so theirs never matter */
    for (size_t q = 0; q < (size_t)m->n_items * (size_t)f; q += 2) {
        double u1 = tl_rng_uniform(&rng), u2 = tl_rng_uniform(&rng);
        double rr = sqrt(-2.0 * log(1.0 - u1));
        y[q] = 0.01 * rr * cos(2 * M_PI * u2);
        if (q + 1 < (size_t)m->n_items * (size_t)f)
            y[q + 1] = 0.01 * rr * sin(2 * M_PI * u2);
    }
    for (int s = 0; s < p->iters && rc == 0; s++) {
        rc = als_half(pool, train, y, m->n_items, x, p, err);
        if (rc == 0)
            rc = als_half(pool, &it, x, m->n_users, y, p, err);
    }
    if (rc < 0)
        goto done;
    m->f = f;
    m->U = malloc((size_t)m->n_users * (size_t)f * sizeof *m->U + 1);
    m->V = malloc((size_t)m->n_items * (size_t)f * sizeof *m->V + 1);
    if (!m->U || !m->V) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend als: out of memory");
        goto done;
    }
    for (size_t q = 0; q < (size_t)m->n_users * (size_t)f; q++)
        m->U[q] = (float)x[q];
    for (size_t q = 0; q < (size_t)m->n_items * (size_t)f; q++)
        m->V[q] = (float)y[q];
done:
    tl_pool_free(pool);
    free(x);
    free(y);
    tl_rec_csr_free(&it);
    return rc;
}

/* ---- BPR-MF -------------------------------------------------------------------------- */

static bool row_has(const struct tl_rec_csr *r, int32_t u, int32_t i)
{
    int64_t lo = r->ptr[u], hi = r->ptr[u + 1];
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (r->idx[mid] < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->ptr[u + 1] && r->idx[lo] == i;
}

static void init_normal(float *w, size_t n, float std, tl_rng *rng)
{
    for (size_t q = 0; q < n; q += 2) {
        double u1 = tl_rng_uniform(rng), u2 = tl_rng_uniform(rng);
        double rr = sqrt(-2.0 * log(1.0 - u1));
        w[q] = (float)(std * rr * cos(2 * M_PI * u2));
        if (q + 1 < n)
            w[q + 1] = (float)(std * rr * sin(2 * M_PI * u2));
    }
}

/* One SGD step on the triple (u, i, j), x = b_i - b_j + w_u.(w_i - w_j):
 * *g = sigmoid(-x) for the bias step. The dot product sums four lanes of
 * columns (q mod 4) and then the lanes: a fixed order, so a seed still
 * gives the same bits. i != j, so the three rows never overlap. */
static inline void bpr_update(float *restrict wu, float *restrict wi, float *restrict wj, int f,
                              float bias_diff, float lr, float reg, float *g)
{
    int f4 = f - f % 4;
    v4f acc = {0};
    for (int q = 0; q < f4; q += 4)
        acc += ld4(wu + q) * (ld4(wi + q) - ld4(wj + q));
    float x = bias_diff + ((acc[0] + acc[1]) + (acc[2] + acc[3]));
    for (int q = f4; q < f; q++)
        x += wu[q] * (wi[q] - wj[q]);
    float gg = x > 30 ? 0.0f : x < -30 ? 1.0f : 1.0f / (1.0f + expf(x));
    *g = gg;
    const v4f vg = {gg, gg, gg, gg}, vlr = {lr, lr, lr, lr}, vreg = {reg, reg, reg, reg};
    for (int q = 0; q < f4; q += 4) {
        v4f a = ld4(wu + q), bi = ld4(wi + q), bj = ld4(wj + q);
        st4(wu + q, a + vlr * (vg * (bi - bj) - vreg * a));
        st4(wi + q, bi + vlr * (vg * a - vreg * bi));
        st4(wj + q, bj + vlr * (-vg * a - vreg * bj));
    }
    for (int q = f4; q < f; q++) {
        float a = wu[q], bi = wi[q], bj = wj[q];
        wu[q] += lr * (gg * (bi - bj) - reg * a);
        wi[q] += lr * (gg * a - reg * bi);
        wj[q] += lr * (-gg * a - reg * bj);
    }
}

static int fit_bpr(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err)
{
    const struct tl_rec_params *p = &m->p;
    int f = p->factors;
    int64_t nnz = tl_rec_csr_nnz(train);
    m->f = f;
    m->U = malloc((size_t)m->n_users * (size_t)f * sizeof *m->U + 1);
    m->V = malloc((size_t)m->n_items * (size_t)f * sizeof *m->V + 1);
    m->bias = calloc((size_t)m->n_items + 1, sizeof *m->bias);
    int32_t *pu = malloc(((size_t)nnz + 1) * sizeof *pu);
    size_t *order = malloc(((size_t)nnz + 1) * sizeof *order);
    if (!m->U || !m->V || !m->bias || !pu || !order) {
        free(pu);
        free(order);
        return tl_err_set(err, TL_ENOMEM, "recommend bpr: out of memory");
    }
    tl_rng rng;
    tl_rng_seed(&rng, p->seed);
    init_normal(m->U, (size_t)m->n_users * (size_t)f, 0.1f, &rng);
    init_normal(m->V, (size_t)m->n_items * (size_t)f, 0.1f, &rng);
    for (int32_t u = 0; u < train->n_rows; u++)
        for (int64_t e = train->ptr[u]; e < train->ptr[u + 1]; e++)
            pu[e] = u;
    for (int64_t e = 0; e < nnz; e++)
        order[e] = (size_t)e;
    float lr = (float)p->lr, reg = (float)p->reg;
    for (int ep = 0; ep < p->epochs; ep++) {
        tl_rng_shuffle(&rng, order, (size_t)nnz);
        for (int64_t s = 0; s < nnz; s++) {
            int64_t e = (int64_t)order[s];
            int32_t u = pu[e], i = train->idx[e];
            if (train->ptr[u + 1] - train->ptr[u] >= m->n_items)
                continue; /* a user who took everything has no negative */
            int32_t j;
            do
                j = (int32_t)tl_rng_below(&rng, (uint64_t)m->n_items);
            while (row_has(train, u, j));
            float g;
            bpr_update(m->U + (size_t)u * (size_t)f, m->V + (size_t)i * (size_t)f,
                       m->V + (size_t)j * (size_t)f, f, m->bias[i] - m->bias[j], lr, reg, &g);
            m->bias[i] += lr * (g - reg * m->bias[i]);
            m->bias[j] += lr * (-g - reg * m->bias[j]);
        }
    }
    free(pu);
    free(order);
    return 0;
}

/* ---- EASE^R ---------------------------------------------------------------------------- */

static int fit_ease(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err)
{
    int n = m->n_items;
    if (n > REC_EASE_MAX_ITEMS)
        return tl_err_set(err, TL_ETOOBIG, "recommend ease: %d items; its dense item x item "
                          "matrix is limited to %d items", n, REC_EASE_MAX_ITEMS);
    double *g = calloc((size_t)n * (size_t)n + 1, sizeof *g);
    if (!g)
        return tl_err_set(err, TL_ENOMEM, "recommend ease: out of memory for %d x %d", n, n);
    /* G = X^T X: each user adds 1 for every ordered pair of their items */
    for (int32_t u = 0; u < train->n_rows; u++)
        for (int64_t a = train->ptr[u]; a < train->ptr[u + 1]; a++) {
            double *row = g + (size_t)train->idx[a] * (size_t)n;
            for (int64_t b = train->ptr[u]; b < train->ptr[u + 1]; b++)
                row[train->idx[b]] += 1.0;
        }
    for (int i = 0; i < n; i++)
        g[(size_t)i * (size_t)n + i] += m->p.ease_lambda;
    int info = 0;
    dpotrf_("U", &n, g, &n, &info);
    if (info == 0)
        dpotri_("U", &n, g, &n, &info);
    if (info != 0) {
        free(g);
        return tl_err_set(err, TL_EINVAL, "recommend ease: X^T X + %g I is not positive definite "
                          "(lambda must be > 0)", m->p.ease_lambda);
    }
    /* column-major upper of P = row-major lower: P[i][j] for j <= i at g[i n + j] */
    m->B = malloc((size_t)n * (size_t)n * sizeof *m->B + 1);
    if (!m->B) {
        free(g);
        return tl_err_set(err, TL_ENOMEM, "recommend ease: out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double pij = j <= i ? g[(size_t)i * (size_t)n + j] : g[(size_t)j * (size_t)n + i];
            double pjj = g[(size_t)j * (size_t)n + j];
            m->B[(size_t)i * (size_t)n + j] = i == j ? 0.0f : (float)(-pij / pjj);
        }
    free(g);
    return 0;
}

/* ---- fit and score ------------------------------------------------------------------------- */

static int check_params(int kind, const struct tl_rec_params *p, tl_err *err)
{
    if (kind < 0 || kind >= TL_REC_KIND_COUNT)
        return tl_err_set(err, TL_EINVAL, "recommend: unknown model kind %d", kind);
    if ((kind == TL_REC_ALS || kind == TL_REC_BPR || kind == TL_REC_LIGHTGCN) &&
        (p->factors < 1 || p->factors > 1024))
        return tl_err_set(err, TL_EINVAL, "recommend %s: factors %d not in [1, 1024]",
                          KIND_NAMES[kind], p->factors);
    if (kind == TL_REC_ALS && (!(p->reg > 0) || !(p->alpha >= 0) || p->iters < 1))
        return tl_err_set(err, TL_EINVAL, "recommend als: reg %g must be > 0, alpha %g >= 0, "
                          "iters %d >= 1", p->reg, p->alpha, p->iters);
    if ((kind == TL_REC_BPR || kind == TL_REC_LIGHTGCN) &&
        (!(p->lr > 0) || !(p->reg >= 0) || p->epochs < 1))
        return tl_err_set(err, TL_EINVAL, "recommend %s: lr %g must be > 0, reg %g >= 0, epochs "
                          "%d >= 1", KIND_NAMES[kind], p->lr, p->reg, p->epochs);
    if (kind == TL_REC_LIGHTGCN && (p->layers < 0 || p->layers > 8 || p->batch < 1))
        return tl_err_set(err, TL_EINVAL, "recommend lightgcn: layers %d not in [0, 8] or batch "
                          "%d < 1", p->layers, p->batch);
    if (kind == TL_REC_EASE && !(p->ease_lambda > 0))
        return tl_err_set(err, TL_EINVAL, "recommend ease: lambda %g must be > 0", p->ease_lambda);
    if (kind == TL_REC_ITEMKNN && (p->knn_k < 0 || !(p->shrink >= 0)))
        return tl_err_set(err, TL_EINVAL, "recommend itemknn: k %d and shrink %g must be >= 0",
                          p->knn_k, p->shrink);
    return 0;
}

int tl_rec_fit(int kind, const struct tl_rec_params *p, const struct tl_rec_csr *train,
               tl_rec_model **out, tl_err *err)
{
    int rc = check_params(kind, p, err);
    if (rc < 0)
        return rc;
    if (!train || !train->ptr || train->n_rows < 1 || train->n_cols < 1)
        return tl_err_set(err, TL_EINVAL, "recommend %s: an empty train matrix", KIND_NAMES[kind]);
    struct tl_rec_model *m = tl__rec_model_new(kind, p, train);
    if (!m)
        return tl_err_set(err, TL_ENOMEM, "recommend %s: out of memory", KIND_NAMES[kind]);
    if (m->p.threads < 1)
        m->p.threads = 1;
    switch (kind) {
    case TL_REC_ITEMKNN: rc = fit_itemknn(m, train, err); break;
    case TL_REC_ALS: rc = fit_als(m, train, err); break;
    case TL_REC_BPR: rc = fit_bpr(m, train, err); break;
    case TL_REC_EASE: rc = fit_ease(m, train, err); break;
    case TL_REC_LIGHTGCN: rc = tl__rec_fit_lightgcn(m, train, err); break;
    default: break;
    }
    if (rc < 0) {
        tl_rec_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ALS fold-in of a new user: the same solve as a training row. */
static int als_fold_in(const tl_rec_model *m, const int32_t *hist, int64_t n_hist, float *x_out,
                       tl_err *err)
{
    int f = m->f;
    double *v = malloc((size_t)m->n_items * (size_t)f * sizeof *v + 1);
    double *gram = calloc((size_t)f * (size_t)f, sizeof *gram);
    double *x = calloc((size_t)f, sizeof *x);
    int64_t *ptr = malloc(2 * sizeof *ptr);
    if (!v || !gram || !x || !ptr) {
        free(v);
        free(gram);
        free(x);
        free(ptr);
        return tl_err_set(err, TL_ENOMEM, "recommend als: out of memory folding in a user");
    }
    for (size_t q = 0; q < (size_t)m->n_items * (size_t)f; q++)
        v[q] = m->V[q];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, f, m->n_items, 1.0, v, f, 0.0, gram, f);
    for (int q = 0; q < f; q++)
        gram[(size_t)q * (size_t)f + q] += m->p.reg;
    ptr[0] = 0;
    ptr[1] = n_hist;
    struct tl_rec_csr r = {1, m->n_items, ptr, (int32_t *)hist};
    struct als_job job = {&r, v, gram, x, f, m->p.alpha, 1, 0};
    als_chunk(0, &job);
    for (int q = 0; q < f; q++)
        x_out[q] = (float)x[q];
    free(v);
    free(gram);
    free(x);
    free(ptr);
    return job.failed ? tl_err_set(err, TL_EINVAL, "recommend als: fold-in failed") : 0;
}

int tl_rec_score(const tl_rec_model *m, int32_t user, const int32_t *hist, int64_t n_hist,
                 float *scores, tl_err *err)
{
    int32_t n = m->n_items;
    if (user >= m->n_users || user < -1)
        return tl_err_set(err, TL_EINVAL, "recommend: user %d is outside the model's %d users",
                          user, m->n_users);
    for (int64_t t = 0; t < n_hist; t++)
        if (hist[t] < 0 || hist[t] >= n)
            return tl_err_set(err, TL_EINVAL, "recommend: history item %d is outside the model's "
                              "%d items", hist[t], n);
    bool factor = m->kind == TL_REC_ALS || m->kind == TL_REC_BPR || m->kind == TL_REC_LIGHTGCN;
    bool cold = n_hist == 0 && (!factor || user < 0);
    if (m->kind == TL_REC_POP || cold || (user < 0 && m->kind != TL_REC_ALS && factor)) {
        memcpy(scores, m->pop, (size_t)n * sizeof *scores);
        return 0;
    }
    switch (m->kind) {
    case TL_REC_ITEMKNN:
        memset(scores, 0, (size_t)n * sizeof *scores);
        for (int64_t t = 0; t < n_hist; t++)
            for (int64_t e = m->nb_ptr[hist[t]]; e < m->nb_ptr[hist[t] + 1]; e++)
                scores[m->nb_idx[e]] += m->nb_val[e];
        return 0;
    case TL_REC_EASE:
        memset(scores, 0, (size_t)n * sizeof *scores);
        for (int64_t t = 0; t < n_hist; t++)
            cblas_saxpy(n, 1.0f, m->B + (size_t)hist[t] * (size_t)n, 1, scores, 1);
        return 0;
    default: {
        float xbuf[1024];
        const float *x = m->U + (size_t)(user < 0 ? 0 : user) * (size_t)m->f;
        if (user < 0) {
            int rc = als_fold_in(m, hist, n_hist, xbuf, err);
            if (rc < 0)
                return rc;
            x = xbuf;
        }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, m->f, 1.0f, m->V, m->f, x, 1, 0.0f, scores, 1);
        if (m->bias)
            for (int32_t i = 0; i < n; i++)
                scores[i] += m->bias[i];
        return 0;
    }
    }
}

/* ---- top-k ---------------------------------------------------------------------------------- */

/* a before b in the ranking: higher score, then lower index; NaN last */
static inline bool ahead(float sa, int32_t ia, float sb, int32_t ib)
{
    if (sa != sb) {
        if (isnan(sa))
            return false;
        if (isnan(sb))
            return true;
        return sa > sb;
    }
    return ia < ib;
}

int tl_rec_topk(const float *scores, int32_t n, const int32_t *exclude, int64_t n_exclude, int k,
                int32_t *items, float *out_scores)
{
    if (k <= 0 || n <= 0)
        return 0;
    /* a min-heap (the worst kept at the root) of at most k items */
    int h = 0;
    int64_t x = 0;
    for (int32_t i = 0; i < n; i++) {
        while (x < n_exclude && exclude[x] < i)
            x++;
        if (x < n_exclude && exclude[x] == i)
            continue;
        float s = scores[i];
        if (h < k) {
            int c = h++;
            while (c > 0) {
                int par = (c - 1) / 2;
                if (!ahead(scores[items[par]], items[par], s, i))
                    break;
                items[c] = items[par];
                c = par;
            }
            items[c] = i;
        } else if (ahead(s, i, scores[items[0]], items[0])) {
            int c = 0;
            for (;;) {
                int l = 2 * c + 1, r = l + 1, w = c;
                float ws = s;
                int32_t wi = i;
                if (l < h && ahead(ws, wi, scores[items[l]], items[l])) {
                    w = l;
                    ws = scores[items[l]];
                    wi = items[l];
                }
                if (r < h && ahead(ws, wi, scores[items[r]], items[r]))
                    w = r;
                if (w == c)
                    break;
                items[c] = items[w];
                c = w;
            }
            items[c] = i;
        }
    }
    /* heap-sort in place: pop the worst to the end */
    for (int end = h - 1; end > 0; end--) {
        int32_t worst = items[0];
        int32_t last = items[end];
        int c = 0;
        for (;;) {
            int l = 2 * c + 1, r = l + 1, w = -1;
            float ws = scores[last];
            int32_t wi = last;
            if (l < end && ahead(ws, wi, scores[items[l]], items[l])) {
                w = l;
                ws = scores[items[l]];
                wi = items[l];
            }
            if (r < end && ahead(ws, wi, scores[items[r]], items[r]))
                w = r;
            if (w < 0)
                break;
            items[c] = items[w];
            c = w;
        }
        items[c] = last;
        items[end] = worst;
    }
    if (out_scores)
        for (int t = 0; t < h; t++)
            out_scores[t] = scores[items[t]];
    return h;
}

/* ---- model files ------------------------------------------------------------------------------ */

int tl_rec_model_save(const tl_rec_model *m, const char *path, tl_err *err)
{
    tl_nn_st_tensor t[8];
    size_t n = 0;
    int64_t sh_items[1] = {m->n_items}, sh_u[2] = {m->n_users, m->f}, sh_v[2] = {m->n_items, m->f};
    int64_t sh_b[2] = {m->n_items, m->n_items};
    int64_t nnz = m->nb_ptr ? m->nb_ptr[m->n_items] : 0, sh_nb[1] = {nnz};
    float *src = NULL, *dst = NULL;
    t[n++] = (tl_nn_st_tensor){"pop", m->pop, sh_items, 1};
    if (m->U) {
        t[n++] = (tl_nn_st_tensor){"user_factors", m->U, sh_u, 2};
        t[n++] = (tl_nn_st_tensor){"item_factors", m->V, sh_v, 2};
    }
    if (m->bias)
        t[n++] = (tl_nn_st_tensor){"item_bias", m->bias, sh_items, 1};
    if (m->B)
        t[n++] = (tl_nn_st_tensor){"ease_weights", m->B, sh_b, 2};
    if (m->nb_ptr) {
        /* indices as floats: exact below 2^24, checked on load */
        if (m->n_items >= (1 << 24))
            return tl_err_set(err, TL_ETOOBIG, "%s: item-kNN over %d items cannot be saved",
                              path, m->n_items);
        src = malloc(((size_t)nnz + 1) * sizeof *src);
        dst = malloc(((size_t)nnz + 1) * sizeof *dst);
        if (!src || !dst) {
            free(src);
            free(dst);
            return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        }
        for (int32_t i = 0; i < m->n_items; i++)
            for (int64_t e = m->nb_ptr[i]; e < m->nb_ptr[i + 1]; e++) {
                src[e] = (float)i;
                dst[e] = (float)m->nb_idx[e];
            }
        t[n++] = (tl_nn_st_tensor){"knn_src", src, sh_nb, 1};
        t[n++] = (tl_nn_st_tensor){"knn_dst", dst, sh_nb, 1};
        t[n++] = (tl_nn_st_tensor){"knn_sim", m->nb_val, sh_nb, 1};
    }
    char nu[24], ni[24], nf[24], params[512];
    snprintf(nu, sizeof nu, "%d", m->n_users);
    snprintf(ni, sizeof ni, "%d", m->n_items);
    snprintf(nf, sizeof nf, "%d", m->f);
    const struct tl_rec_params *p = &m->p;
    snprintf(params, sizeof params,
             "{\"factors\":%d,\"reg\":%.17g,\"alpha\":%.17g,\"iters\":%d,\"knn_k\":%d,"
             "\"shrink\":%.17g,\"lr\":%.17g,\"epochs\":%d,\"batch\":%d,\"layers\":%d,"
             "\"ease_lambda\":%.17g,\"seed\":%llu}",
             p->factors, p->reg, p->alpha, p->iters, p->knn_k, p->shrink, p->lr, p->epochs,
             p->batch, p->layers, p->ease_lambda, (unsigned long long)p->seed);
    const char *meta[] = {"teller.kind", "recommend", "teller.rec_model", KIND_NAMES[m->kind],
                          "teller.n_users", nu, "teller.n_items", ni, "teller.factors", nf,
                          "teller.params", params};
    int rc = tl_nn_safetensors_write(path, t, n, meta, 6, err);
    free(src);
    free(dst);
    return rc;
}

static bool meta_int(const tl_nn_st_file *f, const char *key, long long lo, long long hi,
                     long long *out)
{
    const char *s = tl_nn_safetensors_meta(f, key);
    if (!s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int read_tensor(const tl_nn_st_file *f, const char *path, const char *name,
                       const int64_t *shape, int ndim, float **out, tl_err *err)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    float *buf = malloc(n * sizeof *buf + 1);
    if (!buf)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory for %s", path, name);
    int rc = tl_nn_safetensors_read_f32(f, name, shape, ndim, buf, n, err);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    for (size_t q = 0; q < n; q++)
        if (!isfinite(buf[q])) {
            free(buf);
            return tl_err_set(err, TL_EPARSE, "%s: tensor %s holds a non-finite value at %zu",
                              path, name, q);
        }
    *out = buf;
    return 0;
}

int tl_rec_model_load(const char *path, tl_rec_model **out, tl_err *err)
{
    tl_nn_st_file *f;
    int rc = tl_nn_safetensors_open(path, &f, err);
    if (rc < 0)
        return rc;
    const char *kind_s = tl_nn_safetensors_meta(f, "teller.rec_model");
    const char *what = tl_nn_safetensors_meta(f, "teller.kind");
    int kind = tl_rec_kind_from_name(kind_s);
    long long nu, ni, nf;
    struct tl_rec_model *m = NULL;
    if (!what || strcmp(what, "recommend") != 0 || kind < 0) {
        rc = tl_err_set(err, TL_EPARSE, "%s: not a recommender model (teller.kind \"%s\", model "
                        "\"%s\")", path, what ? what : "", kind_s ? kind_s : "");
        goto fail;
    }
    if (!meta_int(f, "teller.n_users", 0, INT32_MAX, &nu) ||
        !meta_int(f, "teller.n_items", 1, INT32_MAX, &ni) ||
        !meta_int(f, "teller.factors", 0, 1024, &nf)) {
        rc = tl_err_set(err, TL_EPARSE, "%s: teller.n_users, teller.n_items or teller.factors "
                        "missing or out of range", path);
        goto fail;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    m->kind = kind;
    tl_rec_params_defaults(kind, &m->p);
    m->n_users = (int32_t)nu;
    m->n_items = (int32_t)ni;
    m->f = (int32_t)nf;
    int64_t sh_items[1] = {ni}, sh_u[2] = {nu, nf}, sh_v[2] = {ni, nf}, sh_b[2] = {ni, ni};
    if ((rc = read_tensor(f, path, "pop", sh_items, 1, &m->pop, err)) < 0)
        goto fail;
    bool factor = kind == TL_REC_ALS || kind == TL_REC_BPR || kind == TL_REC_LIGHTGCN;
    if (factor) {
        if (nf < 1) {
            rc = tl_err_set(err, TL_EPARSE, "%s: a %s model with 0 factors", path, kind_s);
            goto fail;
        }
        if ((rc = read_tensor(f, path, "user_factors", sh_u, 2, &m->U, err)) < 0 ||
            (rc = read_tensor(f, path, "item_factors", sh_v, 2, &m->V, err)) < 0)
            goto fail;
        /* ALS fold-in needs reg and alpha: take them from the params */
        const char *ps = tl_nn_safetensors_meta(f, "teller.params");
        const char *r = ps ? strstr(ps, "\"reg\":") : NULL, *a = ps ? strstr(ps, "\"alpha\":") : NULL;
        if (r)
            m->p.reg = strtod(r + 6, NULL);
        if (a)
            m->p.alpha = strtod(a + 8, NULL);
        if (!(m->p.reg > 0) || !(m->p.alpha >= 0)) {
            rc = tl_err_set(err, TL_EPARSE, "%s: teller.params has a bad reg or alpha", path);
            goto fail;
        }
    }
    if (kind == TL_REC_BPR && (rc = read_tensor(f, path, "item_bias", sh_items, 1, &m->bias, err)) < 0)
        goto fail;
    if (kind == TL_REC_EASE && (rc = read_tensor(f, path, "ease_weights", sh_b, 2, &m->B, err)) < 0)
        goto fail;
    if (kind == TL_REC_ITEMKNN) {
        size_t idx;
        if ((rc = tl_nn_safetensors_find(f, "knn_sim", &idx, err)) < 0)
            goto fail;
        tl_nn_st_info info;
        if ((rc = tl_nn_safetensors_info(f, idx, &info, err)) < 0)
            goto fail;
        int64_t sh_nb[1] = {(int64_t)info.n_elems};
        float *src = NULL, *dst = NULL;
        if ((rc = read_tensor(f, path, "knn_sim", sh_nb, 1, &m->nb_val, err)) < 0 ||
            (rc = read_tensor(f, path, "knn_src", sh_nb, 1, &src, err)) < 0 ||
            (rc = read_tensor(f, path, "knn_dst", sh_nb, 1, &dst, err)) < 0) {
            free(src);
            goto fail;
        }
        int64_t nnz = sh_nb[0];
        m->nb_ptr = calloc((size_t)ni + 1, sizeof *m->nb_ptr);
        m->nb_idx = malloc(((size_t)nnz + 1) * sizeof *m->nb_idx);
        if (!m->nb_ptr || !m->nb_idx) {
            free(src);
            free(dst);
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (int64_t e = 0; e < nnz; e++) {
            float s = src[e], d = dst[e];
            if (s != floorf(s) || d != floorf(d) || s < 0 || s >= (float)ni || d < 0 ||
                d >= (float)ni || (e > 0 && s < src[e - 1])) {
                free(src);
                free(dst);
                rc = tl_err_set(err, TL_EPARSE, "%s: neighbour entry %lld (%g -> %g) is not a "
                                "sorted pair of item indices below %lld", path, (long long)e, s, d,
                                ni);
                goto fail;
            }
            m->nb_ptr[(int64_t)s + 1]++;
            m->nb_idx[e] = (int32_t)d;
        }
        for (int64_t i = 0; i < ni; i++)
            m->nb_ptr[i + 1] += m->nb_ptr[i];
        free(src);
        free(dst);
    }
    tl_nn_safetensors_close(f);
    *out = m;
    return 0;
fail:
    tl_rec_model_free(m);
    tl_nn_safetensors_close(f);
    return rc;
}
