/* rec_lightgcn.c - LightGCN (He et al. 2020) trained on the nn engine: one
 * embedding table over users and items (items numbered after users), the
 * symmetric normalized bipartite adjacency without self loops, K
 * propagation layers averaged with the input layer (tl_nn_lightgcn_propagate),
 * BPR loss on (user, positive, sampled negative) triples, L2 on the batch's
 * layer-0 embeddings, Adam. Each step propagates the whole graph (the
 * paper's recipe): on a catalogue of a bank's products and its customers the
 * graph is small next to the batch's work. */
#include "ml/rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_stats.h>
#include <teller/nn.h>
#include <teller/nn_optim.h>

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

int tl__rec_fit_lightgcn(struct tl_rec_model *m, const struct tl_rec_csr *train, tl_err *err)
{
    const struct tl_rec_params *p = &m->p;
    int64_t nu = m->n_users, ni = m->n_items, nn = nu + ni, f = p->factors;
    int64_t nnz = tl_rec_csr_nnz(train);
    if (nnz == 0)
        return tl_err_set(err, TL_EINVAL, "recommend lightgcn: no training interactions");
    int32_t *src = malloc((size_t)nnz * sizeof *src), *dst = malloc((size_t)nnz * sizeof *dst);
    int32_t *pu = malloc((size_t)nnz * sizeof *pu);
    size_t *order = malloc((size_t)nnz * sizeof *order);
    int64_t bmax = p->batch < nnz ? p->batch : nnz;
    int32_t *bu = malloc((size_t)bmax * sizeof *bu), *bi = malloc((size_t)bmax * sizeof *bi),
            *bj = malloc((size_t)bmax * sizeof *bj);
    struct tl_nn_adj adj = {0};
    tl_nn_params *ps = tl_nn_params_new();
    tl_nn_graph *g = NULL;
    tl_nn_optim *opt = NULL;
    int rc = 0;
    if (!src || !dst || !pu || !order || !bu || !bi || !bj || !ps) {
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
    tl_tensor *emb;
    if ((rc = tl_nn_params_add(ps, "embedding.weight", 2, (int64_t[]){nn, f}, &emb, err)) < 0)
        goto done;
    tl_rng rng;
    tl_rng_seed(&rng, p->seed);
    tl_nn_init_normal(emb, 0.0f, 0.1f, &rng);
    if ((rc = tl_nn_graph_new(0, p->seed, &g, err)) < 0)
        goto done;
    tl_nn_optim_config cfg;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &cfg);
    cfg.lr = p->lr;
    tl_nn_optim_param op = {emb->data, emb->grad, (size_t)(nn * f), "embedding.weight", true};
    if ((rc = tl_nn_optim_new(&cfg, &op, 1, &opt, err)) < 0)
        goto done;
    for (int64_t e = 0; e < nnz; e++)
        order[e] = (size_t)e;
    for (int ep = 0; ep < p->epochs && rc == 0; ep++) {
        tl_rng_shuffle(&rng, order, (size_t)nnz);
        for (int64_t s0 = 0; s0 < nnz && rc == 0; s0 += bmax) {
            int64_t b = nnz - s0 < bmax ? nnz - s0 : bmax, nb = 0;
            for (int64_t t = 0; t < b; t++) {
                int64_t e = (int64_t)order[s0 + t];
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
            tl_nn_graph_reset(g);
            tl_tensor *all = tl_nn_lightgcn_propagate(g, &adj.csr, emb, p->layers);
            tl_tensor *eu = tl_nn_embedding(g, all, bu, nb);
            tl_tensor *ei = tl_nn_embedding(g, all, bi, nb);
            tl_tensor *ej = tl_nn_embedding(g, all, bj, nb);
            tl_tensor *pos = tl_nn_sum(g, tl_nn_mul(g, eu, ei), 1, false);
            tl_tensor *neg = tl_nn_sum(g, tl_nn_mul(g, eu, ej), 1, false);
            tl_tensor *loss = tl_nn_bpr(g, pos, neg);
            if (p->reg > 0) {
                /* reg/2 (|e0_u|^2 + |e0_i|^2 + |e0_j|^2) / batch, as the paper's code */
                tl_tensor *e0u = tl_nn_embedding(g, emb, bu, nb);
                tl_tensor *e0i = tl_nn_embedding(g, emb, bi, nb);
                tl_tensor *e0j = tl_nn_embedding(g, emb, bj, nb);
                tl_tensor *sq = tl_nn_add(g, tl_nn_add(g, tl_nn_sum_all(g, tl_nn_mul(g, e0u, e0u)),
                                                       tl_nn_sum_all(g, tl_nn_mul(g, e0i, e0i))),
                                          tl_nn_sum_all(g, tl_nn_mul(g, e0j, e0j)));
                loss = tl_nn_add(g, loss, tl_nn_scale(g, sq, (float)(p->reg / 2.0 / (double)nb), 0));
            }
            if (!loss) {
                rc = tl_nn_graph_error(g, err);
                break;
            }
            tl_nn_params_zero_grad(ps);
            if ((rc = tl_nn_backward(g, loss, err)) < 0)
                break;
            rc = tl_nn_optim_step(opt, err);
        }
    }
    if (rc < 0)
        goto done;
    /* the final embeddings: one propagation without gradients */
    tl_nn_graph_reset(g);
    tl_nn_graph_set_grad(g, false);
    tl_tensor *fin = tl_nn_lightgcn_propagate(g, &adj.csr, emb, p->layers);
    if (!fin) {
        rc = tl_nn_graph_error(g, err);
        goto done;
    }
    m->f = (int32_t)f;
    m->U = malloc((size_t)(nu * f) * sizeof *m->U + 1);
    m->V = malloc((size_t)(ni * f) * sizeof *m->V + 1);
    if (!m->U || !m->V) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend lightgcn: out of memory");
        goto done;
    }
    float *all = malloc((size_t)(nn * f) * sizeof *all);
    if (!all) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend lightgcn: out of memory");
        goto done;
    }
    tl_nn_tensor_read(fin, all);
    memcpy(m->U, all, (size_t)(nu * f) * sizeof *all);
    memcpy(m->V, all + nu * f, (size_t)(ni * f) * sizeof *all);
    free(all);
done:
    tl_nn_optim_free(opt);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
    tl_nn_adj_free(&adj);
    free(src);
    free(dst);
    free(pu);
    free(order);
    free(bu);
    free(bi);
    free(bj);
    return rc;
}
