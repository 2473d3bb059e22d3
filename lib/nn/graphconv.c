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

/* ---- LightGCN propagation as one node ---------------------------------------------
 * A recommender steps this once per batch over the whole graph, so it is one
 * fused node: no intermediate layer tensors on the tape, no per-layer CSR
 * check, and kernels whose inner loop runs over the contiguous embedding
 * width in fixed blocks of 16 (vectorized at -O2 without -march flags).
 * The backward is the exact transpose: dE0 = s sum_k (A^T)^k G with
 * s = 1/(K+1), by Horner's rule H <- G + A^T H, K scatters. */

enum { LGCN_BLOCK = 16 };

/* y (n_rows, d) = A x (x n_cols rows of d), both row-contiguous. */
static void csr_gather(const struct tl_nn_csr *a, const float *restrict x, int64_t d,
                       float *restrict y)
{
    int64_t d16 = d - d % LGCN_BLOCK;
    for (int64_t r = 0; r < a->n_rows; r++) {
        float *restrict o = y + r * d;
        memset(o, 0, (size_t)d * sizeof *o);
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            const float v = a->val ? a->val[e] : 1.0f;
            const float *restrict px = x + (int64_t)a->col[e] * d;
            for (int64_t j = 0; j < d16; j += LGCN_BLOCK)
                for (int k = 0; k < LGCN_BLOCK; k++)
                    o[j + k] += v * px[j + k];
            for (int64_t j = d16; j < d; j++)
                o[j] += v * px[j];
        }
    }
}

/* y (n_cols, d) += A^T h (h n_rows rows of d): row r of h goes to every
 * column of row r. y must not overlap h. */
static void csr_scatter_t(const struct tl_nn_csr *a, const float *restrict h, int64_t d,
                          float *restrict y)
{
    int64_t d16 = d - d % LGCN_BLOCK;
    for (int64_t r = 0; r < a->n_rows; r++) {
        const float *restrict ph = h + r * d;
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            const float v = a->val ? a->val[e] : 1.0f;
            float *restrict o = y + (int64_t)a->col[e] * d;
            for (int64_t j = 0; j < d16; j += LGCN_BLOCK)
                for (int k = 0; k < LGCN_BLOCK; k++)
                    o[j + k] += v * ph[j + k];
            for (int64_t j = d16; j < d; j++)
                o[j] += v * ph[j];
        }
    }
}

static int lightgcn_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *x = out->node->src[0];
    if (!x->requires_grad)
        return 0;
    const struct tl_nn_csr *a = out->node->aux;
    int k_layers = (int)out->node->iarg[0];
    int64_t n = out->shape[0], d = out->shape[1];
    size_t bytes = (size_t)(n * d) * sizeof(float);
    float *h = tl__nn_scratch(g, bytes + 1, false), *t = tl__nn_scratch(g, bytes + 1, false);
    if (!h || !t)
        return TL_ENOMEM;
    memcpy(h, out->grad, bytes);
    for (int k = 0; k < k_layers; k++) {
        memcpy(t, out->grad, bytes);
        csr_scatter_t(a, h, d, t);
        float *sw = h;
        h = t;
        t = sw;
    }
    const float s = out->node->farg[0];
    float *restrict gx = x->grad;
    for (int64_t q = 0; q < n * d; q++)
        gx[q] += s * h[q];
    return 0;
}

tl_tensor *tl_nn_lightgcn_propagate(tl_nn_graph *g, const struct tl_nn_csr *adj, tl_tensor *e0,
                                    int k_layers)
{
    if (!e0)
        return NULL;
    if (k_layers < 0)
        return tl__nn_fail(g, TL_EINVAL, "nn lightgcn: %d layers asked; 0 or more allowed",
                           k_layers);
    if (k_layers == 0)
        return e0;
    if (!tl_nn_is_contiguous(e0) || e0->ndim != 2 || !adj || adj->n_rows != adj->n_cols) {
        /* the general path: tl_nn_spmm checks and names what is wrong */
        tl_tensor *e = e0, *sum = e0;
        for (int k = 0; k < k_layers; k++) {
            e = tl_nn_spmm(g, adj, e);
            sum = tl_nn_add(g, sum, e);
        }
        return tl_nn_scale(g, sum, 1.0f / (float)(k_layers + 1), 0.0f);
    }
    char b[64];
    if (!adj->row_ptr || (adj->n_rows > 0 && !adj->col && adj->row_ptr[adj->n_rows]))
        return tl__nn_fail(g, TL_EINVAL, "nn lightgcn: the sparse matrix is missing its arrays");
    if (e0->shape[0] != adj->n_cols)
        return tl__nn_fail(g, TL_EINVAL, "nn lightgcn: a (%lld, %lld) matrix cannot multiply %s",
                           (long long)adj->n_rows, (long long)adj->n_cols,
                           tl__nn_shape_str(e0, b, sizeof b));
    if (adj->row_ptr[0] != 0)
        return tl__nn_fail(g, TL_EINVAL, "nn lightgcn: row_ptr[0] is %lld, not 0",
                           (long long)adj->row_ptr[0]);
    for (int64_t r = 0; r < adj->n_rows; r++) {
        if (adj->row_ptr[r + 1] < adj->row_ptr[r])
            return tl__nn_fail(g, TL_EINVAL, "nn lightgcn: row_ptr decreases at row %lld",
                               (long long)r);
        for (int64_t e = adj->row_ptr[r]; e < adj->row_ptr[r + 1]; e++)
            if (adj->col[e] < 0 || adj->col[e] >= adj->n_cols)
                return tl__nn_fail(g, TL_EINVAL,
                                   "nn lightgcn: entry %lld (row %lld) has column %d outside "
                                   "[0, %lld)",
                                   (long long)e, (long long)r, adj->col[e],
                                   (long long)adj->n_cols);
    }
    int64_t n = e0->shape[0], d = e0->shape[1];
    tl_tensor *out = tl__nn_new(g, 2, (int64_t[]){n, d}, false, "nn lightgcn");
    if (!out)
        return NULL;
    size_t bytes = (size_t)(n * d) * sizeof(float);
    float *prev = tl__nn_scratch(g, bytes + 1, false), *cur = tl__nn_scratch(g, bytes + 1, false);
    if (!prev || !cur)
        return NULL;
    /* out = ((E0 + E1) + E2 ...) * (1/(K+1)): the order of the unfused ops */
    memcpy(out->data, e0->data, bytes);
    const float *src = e0->data;
    for (int k = 0; k < k_layers; k++) {
        csr_gather(adj, src, d, cur);
        for (int64_t q = 0; q < n * d; q++)
            out->data[q] += cur[q];
        float *sw = prev;
        prev = cur;
        cur = sw;
        src = prev;
    }
    const float s = 1.0f / (float)(k_layers + 1);
    for (int64_t q = 0; q < n * d; q++)
        out->data[q] *= s;
    bool failed;
    struct tl__nn_node *nd = tl__nn_record(g, out, lightgcn_backward, "nn lightgcn", e0, NULL,
                                           NULL, &failed);
    if (failed)
        return NULL;
    if (nd) {
        struct tl_nn_csr *copy = tl__nn_scratch(g, sizeof *copy, false);
        if (!copy)
            return NULL;
        *copy = *adj; /* the arrays stay borrowed (documented) */
        nd->aux = copy;
        nd->iarg[0] = k_layers;
        nd->farg[0] = s;
    }
    return out;
}
