/* linalg.c - matmul (OpenBLAS sgemm), sparse-dense matmul (CSR) and the
 * embedding lookup, with their backward steps.
 *
 * matmul: C = A B; dA += dC B^T; dB += A^T dC. A strided 2-d block whose
 * rows or columns are contiguous goes to sgemm as it is, with the transpose
 * flag and leading dimension read from its strides; anything else is copied
 * to a contiguous scratch first. */
#include "nn/internal.h"

#include <string.h>

#include <cblas.h>

/* A (rows, cols) block with strides (s0, s1). */
struct mat {
    const float *p;
    int64_t rows, cols, s0, s1;
};

static struct mat mat_t(struct mat m)
{
    struct mat t = {m.p, m.cols, m.rows, m.s1, m.s0};
    return t;
}

/* How sgemm can read m: NoTrans (row-major) or Trans (column-major), and
 * its leading dimension; false when neither. */
static bool gemm_layout(struct mat m, CBLAS_TRANSPOSE *tr, int64_t *ld)
{
    if ((m.s1 == 1 || m.cols == 1) && (m.rows == 1 || m.s0 >= m.cols)) {
        *tr = CblasNoTrans;
        *ld = m.rows == 1 ? m.cols : m.s0;
        if (*ld < 1)
            *ld = 1;
        return true;
    }
    if ((m.s0 == 1 || m.rows == 1) && (m.cols == 1 || m.s1 >= m.rows)) {
        *tr = CblasTrans;
        *ld = m.cols == 1 ? m.rows : m.s1;
        if (*ld < 1)
            *ld = 1;
        return true;
    }
    return false;
}

static float *densify(tl_nn_graph *g, struct mat *m)
{
    float *d = tl__nn_scratch(g, (size_t)(m->rows * m->cols) * sizeof(float), false);
    if (!d)
        return NULL;
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t j = 0; j < m->cols; j++)
            d[i * m->cols + j] = m->p[i * m->s0 + j * m->s1];
    m->p = d;
    m->s0 = m->cols;
    m->s1 = 1;
    return d;
}

/* c (m, n) = beta c + A (m, k) B (k, n), c strided. */
static int gemm(tl_nn_graph *g, struct mat a, struct mat b, float *c, int64_t cs0, int64_t cs1,
                float beta)
{
    int64_t m = a.rows, n = b.cols, k = a.cols;
    if (m == 0 || n == 0)
        return 0;
    CBLAS_TRANSPOSE ta, tb;
    int64_t lda, ldb;
    if (!gemm_layout(a, &ta, &lda)) {
        if (!densify(g, &a))
            return TL_ENOMEM;
        gemm_layout(a, &ta, &lda);
    }
    if (!gemm_layout(b, &tb, &ldb)) {
        if (!densify(g, &b))
            return TL_ENOMEM;
        gemm_layout(b, &tb, &ldb);
    }
    bool c_rows = (cs1 == 1 || n == 1) && (m == 1 || cs0 >= n);
    if (c_rows) {
        int64_t ldc = m == 1 ? (n > 0 ? n : 1) : cs0;
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0f, a.p, (int)lda, b.p,
                    (int)ldb, beta, c, (int)ldc);
        return 0;
    }
    bool c_cols = (cs0 == 1 || m == 1) && (n == 1 || cs1 >= m);
    if (c_cols) /* C^T = B^T A^T, a row-major (n, m) block */
        return gemm(g, mat_t(b), mat_t(a), c, cs1, cs0, beta);
    /* A grad view of an odd layout: product in scratch, then add it in. */
    float *tmp = tl__nn_scratch(g, (size_t)(m * n) * sizeof(float), false);
    if (!tmp)
        return TL_ENOMEM;
    int rc = gemm(g, a, b, tmp, n, 1, 0.0f);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * cs0 + j * cs1] = beta * c[i * cs0 + j * cs1] + tmp[i * n + j];
    return 0;
}

/* Batch view: dims (batch, rows, cols) of a 2-d or 3-d tensor. */
static struct mat batch_mat(const tl_tensor *t, const float *base, int64_t b, int64_t *bstride)
{
    int r = t->ndim - 2;
    int64_t bs = t->ndim == 3 && t->shape[0] > 1 ? t->stride[0] : 0;
    if (bstride)
        *bstride = bs;
    struct mat m = {base + b * bs, t->shape[r], t->shape[r + 1], t->stride[r], t->stride[r + 1]};
    return m;
}

static int matmul_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *a = out->node->src[0], *b = out->node->src[1];
    int64_t nb = out->ndim == 3 ? out->shape[0] : 1;
    for (int64_t i = 0; i < nb; i++) {
        struct mat dc = batch_mat(out, out->grad, i, NULL);
        struct mat am = batch_mat(a, a->data, i, NULL), bm = batch_mat(b, b->data, i, NULL);
        if (a->requires_grad) {
            struct mat ga = batch_mat(a, a->grad, i, NULL);
            if (gemm(g, dc, mat_t(bm), (float *)ga.p, ga.s0, ga.s1, 1.0f) < 0)
                return TL_ENOMEM;
        }
        if (b->requires_grad) {
            struct mat gb = batch_mat(b, b->grad, i, NULL);
            if (gemm(g, mat_t(am), dc, (float *)gb.p, gb.s0, gb.s1, 1.0f) < 0)
                return TL_ENOMEM;
        }
    }
    return 0;
}

tl_tensor *tl_nn_matmul(tl_nn_graph *g, tl_tensor *a, tl_tensor *b)
{
    if (!a || !b)
        return NULL;
    char x[64], y[64];
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return tl__nn_fail(g, TL_EINVAL, "nn matmul: operands must be 2-d or 3-d, not %s and %s",
                           tl__nn_shape_str(a, x, sizeof x), tl__nn_shape_str(b, y, sizeof y));
    int64_t m = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
    int64_t k2 = b->shape[b->ndim - 2], n = b->shape[b->ndim - 1];
    int64_t ba = a->ndim == 3 ? a->shape[0] : 1, bb = b->ndim == 3 ? b->shape[0] : 1;
    if (k != k2 || (ba != bb && ba != 1 && bb != 1))
        return tl__nn_fail(g, TL_EINVAL, "nn matmul: shapes %s and %s do not multiply",
                           tl__nn_shape_str(a, x, sizeof x), tl__nn_shape_str(b, y, sizeof y));
    /* (B, m, k) x (k, n) with A contiguous is one (B m, k) x (k, n) GEMM. */
    if (a->ndim == 3 && b->ndim == 2 && tl_nn_is_contiguous(a)) {
        tl_tensor *flat = tl_nn_reshape(g, a, 2, (int64_t[]){ba * m, k});
        tl_tensor *c = tl_nn_matmul(g, flat, b);
        return tl_nn_reshape(g, c, 3, (int64_t[]){ba, m, n});
    }
    int64_t nb = ba > bb ? ba : bb;
    tl_tensor *out = a->ndim == 2 && b->ndim == 2
                         ? tl__nn_new(g, 2, (int64_t[]){m, n}, false, "nn matmul")
                         : tl__nn_new(g, 3, (int64_t[]){nb, m, n}, false, "nn matmul");
    if (!out)
        return NULL;
    for (int64_t i = 0; i < nb; i++) {
        struct mat c = batch_mat(out, out->data, i, NULL);
        if (k == 0) {
            memset((float *)c.p, 0, (size_t)(m * n) * sizeof(float));
            continue;
        }
        if (gemm(g, batch_mat(a, a->data, i, NULL), batch_mat(b, b->data, i, NULL), (float *)c.p,
                 c.s0, c.s1, 0.0f) < 0)
            return NULL;
    }
    bool failed;
    tl__nn_record(g, out, matmul_backward, "nn matmul", a, b, NULL, &failed);
    return failed ? NULL : out;
}

/* ---- sparse (CSR) x dense --------------------------------------------------------- */

static int spmm_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *x = out->node->src[0];
    if (!x->requires_grad)
        return 0;
    const struct tl_nn_csr *a = out->node->aux;
    int64_t d = out->shape[1];
    for (int64_t r = 0; r < a->n_rows; r++) {
        const float *go = out->grad + r * d;
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            float v = a->val ? a->val[e] : 1.0f;
            float *gx = x->grad + a->col[e] * x->stride[0];
            for (int64_t j = 0; j < d; j++)
                gx[j * x->stride[1]] += v * go[j];
        }
    }
    return 0;
}

tl_tensor *tl_nn_spmm(tl_nn_graph *g, const struct tl_nn_csr *a, tl_tensor *x)
{
    if (!x)
        return NULL;
    char b[64];
    if (!a || !a->row_ptr || a->n_rows < 0 || (a->n_rows > 0 && !a->col && a->row_ptr[a->n_rows]))
        return tl__nn_fail(g, TL_EINVAL, "nn spmm: the sparse matrix is missing its arrays");
    if (x->ndim != 2 || x->shape[0] != a->n_cols)
        return tl__nn_fail(g, TL_EINVAL, "nn spmm: a (%lld, %lld) matrix cannot multiply %s",
                           (long long)a->n_rows, (long long)a->n_cols,
                           tl__nn_shape_str(x, b, sizeof b));
    if (a->row_ptr[0] != 0)
        return tl__nn_fail(g, TL_EINVAL, "nn spmm: row_ptr[0] is %lld, not 0", (long long)a->row_ptr[0]);
    for (int64_t r = 0; r < a->n_rows; r++) {
        if (a->row_ptr[r + 1] < a->row_ptr[r])
            return tl__nn_fail(g, TL_EINVAL, "nn spmm: row_ptr decreases at row %lld", (long long)r);
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++)
            if (a->col[e] < 0 || a->col[e] >= a->n_cols)
                return tl__nn_fail(g, TL_EINVAL,
                                   "nn spmm: entry %lld (row %lld) has column %d outside [0, %lld)",
                                   (long long)e, (long long)r, a->col[e], (long long)a->n_cols);
    }
    int64_t d = x->shape[1];
    tl_tensor *out = tl__nn_new(g, 2, (int64_t[]){a->n_rows, d}, true, "nn spmm");
    if (!out)
        return NULL;
    for (int64_t r = 0; r < a->n_rows; r++) {
        float *o = out->data + r * d;
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            float v = a->val ? a->val[e] : 1.0f;
            const float *px = x->data + a->col[e] * x->stride[0];
            for (int64_t j = 0; j < d; j++)
                o[j] += v * px[j * x->stride[1]];
        }
    }
    bool failed;
    struct tl__nn_node *n = tl__nn_record(g, out, spmm_backward, "nn spmm", x, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (n) {
        struct tl_nn_csr *copy = tl__nn_scratch(g, sizeof *copy, false);
        if (!copy)
            return NULL;
        *copy = *a; /* the arrays stay borrowed (documented) */
        n->aux = copy;
    }
    return out;
}

/* ---- embedding lookup -------------------------------------------------------------- */

static int embedding_backward(tl_nn_graph *g, tl_tensor *out)
{
    tl_tensor *t = out->node->src[0];
    if (!t->requires_grad)
        return 0;
    const int32_t *idx = out->node->aux;
    int64_t n = out->shape[0], d = out->shape[1];
    for (int64_t i = 0; i < n; i++) {
        float *gt = t->grad + (int64_t)idx[i] * t->stride[0];
        const float *go = out->grad + i * d;
        for (int64_t j = 0; j < d; j++)
            gt[j * t->stride[1]] += go[j];
    }
    return 0;
}

tl_tensor *tl_nn_embedding(tl_nn_graph *g, tl_tensor *table, const int32_t *idx, int64_t n)
{
    if (!table)
        return NULL;
    char b[64];
    if (table->ndim != 2)
        return tl__nn_fail(g, TL_EINVAL, "nn embedding: the table must be 2-d, not %s",
                           tl__nn_shape_str(table, b, sizeof b));
    if (n < 0 || (n > 0 && !idx))
        return tl__nn_fail(g, TL_EINVAL, "nn embedding: %lld indices with no array", (long long)n);
    int64_t v = table->shape[0], d = table->shape[1];
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= v)
            return tl__nn_fail(g, TL_EINVAL, "nn embedding: index %lld is %d, outside [0, %lld)",
                               (long long)i, idx[i], (long long)v);
    tl_tensor *out = tl__nn_new(g, 2, (int64_t[]){n, d}, false, "nn embedding");
    if (!out)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        const float *row = table->data + (int64_t)idx[i] * table->stride[0];
        float *o = out->data + i * d;
        if (table->stride[1] == 1) {
            memcpy(o, row, (size_t)d * sizeof(float));
        } else {
            for (int64_t j = 0; j < d; j++)
                o[j] = row[j * table->stride[1]];
        }
    }
    bool failed;
    struct tl__nn_node *node =
        tl__nn_record(g, out, embedding_backward, "nn embedding", table, NULL, NULL, &failed);
    if (failed)
        return NULL;
    if (node) {
        int32_t *copy = tl__nn_scratch(g, (size_t)n * sizeof *copy, false);
        if (!copy)
            return NULL;
        if (n)
            memcpy(copy, idx, (size_t)n * sizeof *copy);
        node->aux = copy;
    }
    return out;
}
