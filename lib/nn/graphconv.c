/* graphconv.c - graph convolution on the core's CSR sparse-dense matmul:
 * the symmetric normalization D^-1/2 (A [+ I]) D^-1/2 built from an edge
 * list, the GCN layer (Kipf and Welling) and LightGCN's propagation (He et
 * al. 2020: no weights, no activation, the mean of the layer embeddings). */
#include "nn/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int tl_nn_adj_normalized(int64_t n_nodes, const int32_t *src, const int32_t *dst, int64_t n_edges,
                         bool self_loops, struct tl_nn_adj *out, tl_err *err)
{
    if (n_nodes < 0 || n_nodes > INT32_MAX || n_edges < 0 || (n_edges > 0 && (!src || !dst)))
        return tl_err_set(err, TL_EINVAL,
                          "nn adjacency: %lld nodes and %lld edges (with%s arrays) do not describe "
                          "a graph",
                          (long long)n_nodes, (long long)n_edges, src && dst ? "" : "out");
    for (int64_t e = 0; e < n_edges; e++)
        if (src[e] < 0 || src[e] >= n_nodes || dst[e] < 0 || dst[e] >= n_nodes)
            return tl_err_set(err, TL_EINVAL,
                              "nn adjacency: edge %lld (%d, %d) names a node outside [0, %lld)",
                              (long long)e, src[e], dst[e], (long long)n_nodes);
    /* Counting sort of both directions (and the loops) by row, then each row
     * sorted and deduplicated in place. */
    int64_t cap = 2 * n_edges + (self_loops ? n_nodes : 0);
    int64_t *row_ptr = calloc((size_t)n_nodes + 1, sizeof *row_ptr);
    int64_t *fill = calloc((size_t)n_nodes + 1, sizeof *fill);
    int32_t *col = malloc((size_t)(cap + 1) * sizeof *col);
    float *dinv = malloc((size_t)(n_nodes + 1) * sizeof *dinv);
    if (!row_ptr || !fill || !col || !dinv) {
        free(row_ptr);
        free(fill);
        free(col);
        free(dinv);
        return tl_err_set(err, TL_ENOMEM, "nn adjacency: out of memory for %lld nodes, %lld edges",
                          (long long)n_nodes, (long long)n_edges);
    }
    for (int64_t e = 0; e < n_edges; e++) {
        row_ptr[src[e] + 1]++;
        row_ptr[dst[e] + 1]++;
    }
    if (self_loops)
        for (int64_t i = 0; i < n_nodes; i++)
            row_ptr[i + 1]++;
    for (int64_t i = 0; i < n_nodes; i++)
        row_ptr[i + 1] += row_ptr[i];
    memcpy(fill, row_ptr, (size_t)n_nodes * sizeof *fill);
    for (int64_t e = 0; e < n_edges; e++) {
        col[fill[src[e]]++] = dst[e];
        col[fill[dst[e]]++] = src[e];
    }
    if (self_loops)
        for (int64_t i = 0; i < n_nodes; i++)
            col[fill[i]++] = (int32_t)i;
    /* dedupe: rows shrink toward the front; fill[i] becomes row i's new start */
    int64_t w = 0;
    for (int64_t i = 0; i < n_nodes; i++) {
        int64_t lo = row_ptr[i], hi = row_ptr[i + 1];
        qsort(col + lo, (size_t)(hi - lo), sizeof *col, cmp_i32);
        fill[i] = w;
        for (int64_t e = lo; e < hi; e++)
            if (e == lo || col[e] != col[e - 1])
                col[w++] = col[e];
    }
    fill[n_nodes] = w;
    memcpy(row_ptr, fill, (size_t)(n_nodes + 1) * sizeof *row_ptr);
    free(fill);
    float *val = malloc((size_t)(w + 1) * sizeof *val);
    if (!val) {
        free(row_ptr);
        free(col);
        free(dinv);
        return tl_err_set(err, TL_ENOMEM, "nn adjacency: out of memory for %lld entries",
                          (long long)w);
    }
    for (int64_t i = 0; i < n_nodes; i++) {
        int64_t deg = row_ptr[i + 1] - row_ptr[i];
        dinv[i] = deg > 0 ? (float)(1.0 / sqrt((double)deg)) : 0.0f;
    }
    for (int64_t i = 0; i < n_nodes; i++)
        for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; e++)
            val[e] = dinv[i] * dinv[col[e]];
    free(dinv);
    memset(out, 0, sizeof *out);
    out->row_ptr = row_ptr;
    out->col = col;
    out->val = val;
    out->csr.n_rows = n_nodes;
    out->csr.n_cols = n_nodes;
    out->csr.row_ptr = row_ptr;
    out->csr.col = col;
    out->csr.val = val;
    return 0;
}

void tl_nn_adj_free(struct tl_nn_adj *adj)
{
    if (!adj)
        return;
    free(adj->row_ptr);
    free(adj->col);
    free(adj->val);
    memset(adj, 0, sizeof *adj);
}

int tl_nn_gcn_init(struct tl_nn_gcn *l, tl_nn_params *ps, const char *prefix, int64_t in,
                   int64_t out, bool bias, bool activate, enum tl_nn_act act, tl_rng *rng,
                   tl_err *err)
{
    if (activate && ((int)act < 0 || act > TL_NN_ACT_SIGMOID))
        return tl_err_set(err, TL_EINVAL, "nn gcn \"%s\": unknown activation %d", prefix, (int)act);
    /* The same parameters as a Linear layer: (in, out) weight, Xavier. */
    struct tl_nn_linear lin;
    int rc = tl_nn_linear_init(&lin, ps, prefix, in, out, bias, rng, err);
    if (rc < 0)
        return rc;
    *l = (struct tl_nn_gcn){in, out, activate, act, lin.weight, lin.bias};
    return 0;
}

tl_tensor *tl_nn_gcn_forward(tl_nn_graph *g, const struct tl_nn_gcn *l,
                             const struct tl_nn_csr *adj, tl_tensor *h)
{
    if (!h)
        return NULL;
    char buf[64];
    if (h->ndim != 2 || h->shape[1] != l->in)
        return tl__nn_fail(g, TL_EINVAL, "nn gcn \"%s\": input %s is not (n_nodes, %lld)",
                           l->weight->name, tl__nn_shape_str(h, buf, sizeof buf), (long long)l->in);
    /* A (H W) or (A H) W: the same product; multiply by A on the narrower side. */
    tl_tensor *y = l->out <= l->in ? tl_nn_spmm(g, adj, tl_nn_matmul(g, h, l->weight))
                                   : tl_nn_matmul(g, tl_nn_spmm(g, adj, h), l->weight);
    if (l->bias)
        y = tl_nn_add(g, y, l->bias);
    if (!y || !l->activate)
        return y;
    switch (l->act) {
    case TL_NN_ACT_RELU: return tl_nn_relu(g, y);
    case TL_NN_ACT_GELU: return tl_nn_gelu(g, y);
    case TL_NN_ACT_TANH: return tl_nn_tanh(g, y);
    default: return tl_nn_sigmoid(g, y);
    }
}

tl_tensor *tl_nn_lightgcn_propagate(tl_nn_graph *g, const struct tl_nn_csr *adj, tl_tensor *e0,
                                    int k_layers)
{
    if (!e0)
        return NULL;
    if (k_layers < 0)
        return tl__nn_fail(g, TL_EINVAL, "nn lightgcn: %d layers asked; 0 or more allowed",
                           k_layers);
    tl_tensor *e = e0, *sum = e0;
    for (int k = 0; k < k_layers; k++) {
        e = tl_nn_spmm(g, adj, e);
        sum = tl_nn_add(g, sum, e);
    }
    return k_layers == 0 ? e0 : tl_nn_scale(g, sum, 1.0f / (float)(k_layers + 1), 0.0f);
}
