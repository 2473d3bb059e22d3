/* rec_lightgcn.c - LightGCN (He et al. 2020): one embedding table over users
 * and items (items numbered after users), the symmetric normalized
 * bipartite adjacency without self loops (tl_nn_adj_normalized, built once),
 * K propagation layers averaged with the input layer, BPR loss on (user,
 * positive, sampled negative) triples, L2 on the batch's layer-0
 * embeddings, Adam (tl_nn_optim). Each step propagates the whole graph (the
 * paper's recipe).
 *
 * The step is written out by hand rather than taped on the nn engine: the
 * generic ops spent more time on the batch's dot products and their
 * backward than on the propagation itself. It computes what the engine's
 * graph (tl_nn_lightgcn_propagate, embedding, mul, sum, tl_nn_bpr) does:
 *   forward   E_k = A E_{k-1}, F = (E_0 + ... + E_K) / (K + 1), the last
 *             layer only on the rows the batch reads;
 *   loss      mean over the batch of -log sigmoid(F_u.F_i - F_u.F_j)
 *             + reg/2 (|E0_u|^2 + |E0_i|^2 + |E0_j|^2) / batch;
 *   backward  dE0 = (G + A G + ... + A^K G) / (K + 1) with G = dloss/dF,
 *             since A is symmetric (A^T = A), by Horner's rule H <- G + A H.
 * Every product is a CSR row gather: output rows split across the threads,
 * each row summed in CSR order by one thread, so the bits do not depend on
 * the thread count. */
#include "ml/rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_stats.h>
#include <teller/nn.h>
#include <teller/nn_optim.h>
#include <teller/pool.h>

static bool has_item(const struct tl_rec_csr *r, int32_t u, int32_t i)
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


/* rows [r0, r1) of y = A x (or y = g + A x with g), all (n, d) row-major,
 * skipping rows not marked in only (when given). Per row, 32 columns at a
 * time are summed in eight registers over the row's entries, so an entry
 * costs eight loads of x. */
static void gather_rows(const struct tl_nn_csr *a, const float *restrict x, const float *g,
                        int64_t d, float *restrict y, int64_t r0, int64_t r1,
                        const uint8_t *only)
{
    const int64_t *rp = a->row_ptr;
    const int32_t *col = a->col;
    const float *val = a->val;
    for (int64_t r = r0; r < r1; r++) {
        if (only && !only[r])
            continue;
        float *o = y + r * d;
        const int64_t e0 = rp[r], e1 = rp[r + 1];
        int64_t j = 0;
        for (; j + 32 <= d; j += 32) {
            v4f c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};
            if (g) {
                const float *pg = g + r * d + j;
                c0 = ld4(pg), c1 = ld4(pg + 4), c2 = ld4(pg + 8), c3 = ld4(pg + 12);
                c4 = ld4(pg + 16), c5 = ld4(pg + 20), c6 = ld4(pg + 24), c7 = ld4(pg + 28);
            }
            for (int64_t e = e0; e < e1; e++) {
                const float v = val[e];
                const v4f vv = {v, v, v, v};
                const float *px = x + (int64_t)col[e] * d + j;
                c0 += vv * ld4(px), c1 += vv * ld4(px + 4), c2 += vv * ld4(px + 8);
                c3 += vv * ld4(px + 12), c4 += vv * ld4(px + 16), c5 += vv * ld4(px + 20);
                c6 += vv * ld4(px + 24), c7 += vv * ld4(px + 28);
            }
            st4(o + j, c0), st4(o + j + 4, c1), st4(o + j + 8, c2), st4(o + j + 12, c3);
            st4(o + j + 16, c4), st4(o + j + 20, c5), st4(o + j + 24, c6), st4(o + j + 28, c7);
        }
        for (; j + 4 <= d; j += 4) {
            v4f c = g ? ld4(g + r * d + j) : (v4f){0};
            for (int64_t e = e0; e < e1; e++) {
                const float v = val[e];
                c += (v4f){v, v, v, v} * ld4(x + (int64_t)col[e] * d + j);
            }
            st4(o + j, c);
        }
        for (; j < d; j++) {
            float c = g ? g[r * d + j] : 0.0f;
            for (int64_t e = e0; e < e1; e++)
                c += val[e] * x[(int64_t)col[e] * d + j];
            o[j] = c;
        }
    }
}

struct gather_job {
    const struct tl_nn_csr *a;
    const float *x, *g;
    float *y;
    int64_t d;
    const uint8_t *only;
    const int64_t *bounds; /* n_chunks + 1 row bounds */
};

static void gather_chunk(size_t c, void *arg)
{
    const struct gather_job *j = arg;
    gather_rows(j->a, j->x, j->g, j->d, j->y, j->bounds[c], j->bounds[c + 1], j->only);
}

/* y = [g +] A x over the rows (those marked in only, or all). */
static void gather(tl_pool *pool, size_t n_chunks, const int64_t *bounds,
                   const struct tl_nn_csr *a, const float *x, const float *g, int64_t d, float *y,
                   const uint8_t *only)
{
    struct gather_job j = {a, x, g, y, d, only, bounds};
    tl_pool_parallel_for(pool, n_chunks, gather_chunk, &j);
}

int tl__rec_fit_lightgcn(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err)
{
    const struct tl_rec_params *p = &m->p;
    int64_t nu = m->n_users, ni = m->n_items, nn = nu + ni, f = p->factors;
    int64_t nnz = tl_rec_csr_nnz(train);
    int K = p->layers;
    if (nnz == 0)
        return tl_err_set(err, TL_EINVAL, "recommend lightgcn: no training interactions");
    int threads = p->threads > 1 ? p->threads : 1;
    size_t n_chunks = threads > 1 ? (size_t)(4 * threads) : 1;
    size_t tab = (size_t)(nn * f) + 1;
    int32_t *src = malloc((size_t)nnz * sizeof *src), *dst = malloc((size_t)nnz * sizeof *dst);
    int32_t *pu = malloc((size_t)nnz * sizeof *pu);
    size_t *order = malloc((size_t)nnz * sizeof *order);
    int64_t bmax = p->batch < nnz ? p->batch : nnz;
    int32_t *bu = malloc((size_t)bmax * sizeof *bu), *bi = malloc((size_t)bmax * sizeof *bi),
            *bj = malloc((size_t)bmax * sizeof *bj);
    /* layers[k] = E_k for k < K (layers[0] aliases the table); fin = F; gf = dloss/dF;
     * h, t: Horner's buffers */
    float **layers = calloc((size_t)K + 1, sizeof *layers);
    float *fin = malloc(tab * sizeof *fin), *gf = calloc(tab, sizeof *gf);
    float *h = malloc(tab * sizeof *h), *t = malloc(tab * sizeof *t);
    uint8_t *used = calloc((size_t)nn + 1, 1);
    int32_t *rows = malloc(((size_t)nn + 1) * sizeof *rows);
    int64_t *bounds = malloc((n_chunks + 1) * sizeof *bounds);
    struct tl_nn_adj adj = {0};
    tl_nn_params *ps = tl_nn_params_new();
    tl_nn_optim *opt = NULL;
    tl_pool *pool = threads > 1 ? tl_pool_new(threads - 1) : NULL; /* the caller works too */
    int rc = 0;
    bool oom = !src || !dst || !pu || !order || !bu || !bi || !bj || !layers || !fin || !gf ||
               !h || !t || !used || !rows || !bounds || !ps || (threads > 1 && !pool);
    for (int k = 1; k < K && !oom; k++)
        oom = !(layers[k] = malloc(tab * sizeof **layers));
    if (oom) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend lightgcn: out of memory");
        goto done;
    }
    for (int32_t u = 0; u < train->n_rows; u++)
        for (int64_t e = train->ptr[u]; e < train->ptr[u + 1]; e++) {
            pu[e] = u;
            src[e] = u;
            dst[e] = (int32_t)(nu + train->idx[e]);
        }
    if ((rc = tl_nn_adj_normalized(nn, src, dst, nnz, false, &adj, err)) < 0)
        goto done;
    const struct tl_nn_csr *a = &adj.csr;
    /* chunks of about equal entries (a row's cost is its degree) */
    bounds[0] = 0;
    for (size_t c = 1, r = 0; c <= n_chunks; c++) {
        int64_t goal = (int64_t)((double)a->row_ptr[nn] * (double)c / (double)n_chunks);
        while ((int64_t)r < nn && (a->row_ptr[r] < goal || c == n_chunks))
            r++;
        bounds[c] = (int64_t)r;
    }
    tl_tensor *emb;
    if ((rc = tl_nn_params_add(ps, "embedding.weight", 2, (int64_t[]){nn, f}, &emb, err)) < 0)
        goto done;
    tl_rng rng;
    tl_rng_seed(&rng, p->seed);
    tl_nn_init_normal(emb, 0.0f, 0.1f, &rng);
    float *e0 = emb->data, *ge0 = emb->grad;
    layers[0] = e0;
    tl_nn_optim_config cfg;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &cfg);
    cfg.lr = p->lr;
    tl_nn_optim_param op = {e0, ge0, (size_t)(nn * f), "embedding.weight", true};
    if ((rc = tl_nn_optim_new(&cfg, &op, 1, &opt, err)) < 0)
        goto done;
    const float s = 1.0f / (float)(K + 1);
    for (int64_t e = 0; e < nnz; e++)
        order[e] = (size_t)e;
    for (int ep = 0; ep < p->epochs && rc == 0; ep++) {
        tl_rng_shuffle(&rng, order, (size_t)nnz);
        for (int64_t s0 = 0; s0 < nnz && rc == 0; s0 += bmax) {
            int64_t b = nnz - s0 < bmax ? nnz - s0 : bmax, nb = 0, nr = 0;
            for (int64_t q = 0; q < b; q++) {
                int64_t e = (int64_t)order[s0 + q];
                int32_t u = pu[e];
                if (train->ptr[u + 1] - train->ptr[u] >= ni)
                    continue; /* no negative exists */
                int32_t j;
                do
                    j = (int32_t)tl_rng_below(&rng, (uint64_t)ni);
                while (has_item(train, u, j));
                bu[nb] = u;
                bi[nb] = (int32_t)(nu + train->idx[e]);
                bj[nb++] = (int32_t)(nu + j);
            }
            if (nb == 0)
                continue;
            for (int64_t q = 0; q < nb; q++) {
                const int32_t r3[3] = {bu[q], bi[q], bj[q]};
                for (int c = 0; c < 3; c++)
                    if (!used[r3[c]]) {
                        used[r3[c]] = 1;
                        rows[nr++] = r3[c];
                    }
            }
            /* forward: E_1 .. E_{K-1} whole, E_K only where read; F on those rows */
            for (int k = 1; k < K; k++)
                gather(pool, n_chunks, bounds, a, layers[k - 1], NULL, f, layers[k], NULL);
            if (K > 0)
                gather(pool, n_chunks, bounds, a, layers[K - 1], NULL, f, t, used);
            for (int64_t q = 0; q < nr; q++) {
                int64_t r = rows[q];
                float *restrict o = fin + r * f;
                for (int64_t c = 0; c < f; c++) {
                    float acc = e0[r * f + c];
                    for (int k = 1; k < K; k++)
                        acc += layers[k][r * f + c];
                    if (K > 0)
                        acc += t[r * f + c];
                    o[c] = acc * s;
                }
            }
            /* the loss's gradient in F (rows read only), and the L2 term in E0 */
            const float inv = 1.0f / (float)nb, l2 = (float)p->reg * inv;
            memset(ge0, 0, (size_t)(nn * f) * sizeof *ge0);
            for (int64_t q = 0; q < nb; q++) {
                const float *fu = fin + (int64_t)bu[q] * f, *fi = fin + (int64_t)bi[q] * f,
                            *fj = fin + (int64_t)bj[q] * f;
                float *gu = gf + (int64_t)bu[q] * f, *gi = gf + (int64_t)bi[q] * f,
                      *gj = gf + (int64_t)bj[q] * f;
                float x = 0;
                for (int64_t c = 0; c < f; c++)
                    x += fu[c] * (fi[c] - fj[c]);
                /* d/dx of -log sigmoid(x) = -sigmoid(-x) */
                float w = -inv / (1.0f + expf(x));
                for (int64_t c = 0; c < f; c++) {
                    float du = w * (fi[c] - fj[c]), dv = w * fu[c];
                    gu[c] += du;
                    gi[c] += dv;
                    gj[c] -= dv;
                }
                if (l2 > 0) {
                    const int32_t r3[3] = {bu[q], bi[q], bj[q]};
                    for (int c3 = 0; c3 < 3; c3++)
                        for (int64_t c = 0; c < f; c++)
                            ge0[(int64_t)r3[c3] * f + c] += l2 * e0[(int64_t)r3[c3] * f + c];
                }
            }
            /* backward: H = G; K times H <- G + A H; dE0 += H / (K + 1) */
            const float *hk = gf;
            for (int k = 0; k < K; k++) {
                float *outb = (k % 2 == 0) ? h : t;
                gather(pool, n_chunks, bounds, a, hk, gf, f, outb, NULL);
                hk = outb;
            }
            for (int64_t q = 0; q < nn * f; q++)
                ge0[q] += s * hk[q];
            for (int64_t q = 0; q < nr; q++) {
                memset(gf + (int64_t)rows[q] * f, 0, (size_t)f * sizeof *gf);
                used[rows[q]] = 0;
            }
            rc = tl_nn_optim_step(opt, err);
        }
    }
    if (rc < 0)
        goto done;
    /* the final embeddings: F on every row */
    memcpy(fin, e0, (size_t)(nn * f) * sizeof *fin);
    for (int k = 1; k <= K; k++) {
        float *dstk = k < K ? layers[k] : t;
        gather(pool, n_chunks, bounds, a, layers[k - 1], NULL, f, dstk, NULL);
        for (int64_t q = 0; q < nn * f; q++)
            fin[q] += dstk[q];
    }
    for (int64_t q = 0; q < nn * f; q++)
        fin[q] *= s;
    m->f = (int32_t)f;
    m->U = malloc((size_t)(nu * f) * sizeof *m->U + 1);
    m->V = malloc((size_t)(ni * f) * sizeof *m->V + 1);
    if (!m->U || !m->V) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend lightgcn: out of memory");
        goto done;
    }
    memcpy(m->U, fin, (size_t)(nu * f) * sizeof *fin);
    memcpy(m->V, fin + nu * f, (size_t)(ni * f) * sizeof *fin);
done:
    tl_pool_free(pool);
    tl_nn_optim_free(opt);
    tl_nn_params_free(ps);
    tl_nn_adj_free(&adj);
    if (layers)
        for (int k = 1; k < K; k++)
            free(layers[k]);
    free(layers);
    free(fin);
    free(gf);
    free(h);
    free(t);
    free(used);
    free(rows);
    free(bounds);
    free(src);
    free(dst);
    free(pu);
    free(order);
    free(bu);
    free(bi);
    free(bj);
    return rc;
}
