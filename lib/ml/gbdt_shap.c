/* gbdt_shap.c - exact per-feature contributions of one row: path-dependent
 * TreeSHAP (Lundberg, Erion and Lee, "Consistent Individualized Feature
 * Attribution for Tree Ensembles", 2018, Algorithm 2), written from the
 * paper.
 *
 * The Shapley value of feature i for one tree sums, over the subsets S of
 * the other features, the change in the tree's conditional expectation
 * when i joins S. The expectation with only the features of S known
 * follows x at splits on S and splits the mass by cover (sum_hessian)
 * elsewhere. Algorithm 2 gets all features' values in one walk of the tree
 * by carrying the unique features on the path from the root with, for
 * each, the fraction of "zero" paths (feature unknown: cover ratio) and
 * "one" paths (feature known: 1 if x goes that way, else 0) that flow
 * through, and the weights w of the subset sizes: EXTEND adds a feature,
 * UNWIND takes one out (when a feature splits again lower down, and at a
 * leaf to read off each feature's share). The walk follows both children
 * of every node, so it costs O(leaves * depth^2) per tree.
 *
 * The path of a call is the parent's copied and extended, so the calls of
 * one root-to-leaf walk hold paths of lengths 1, 2, ... side by side in
 * one stack buffer: (D + 1) (D + 2) / 2 entries for trees of depth D
 * (TL_GBDT_MAX_DEPTH bounds D at load). Nothing is allocated.
 *
 * The bias phi[d] is the expected value of the ensemble: logit(base_score)
 * plus each tree's cover-weighted mean leaf, precomputed at load. Then
 * sum(phi) equals the margin (SHAP's local accuracy).
 *
 * tl_gbdt_contribs_approx is the cheap alternative XGBoost offers as
 * approx_contribs (Saabas, "Interpreting random forests", 2014): walk only
 * the row's own path, and credit each split's feature with the change in
 * the expected value it caused, the cover-weighted mean leaf of the child
 * taken minus that of the node. It costs O(depth) per tree instead of
 * O(leaves * depth^2) and sums to the margin too, but it is not a Shapley
 * value: a split near the root moves the expectation more than one lower
 * down, so features split on early are favoured, and the value depends on
 * the tree's order of splits rather than only on the function it computes.
 */
#include "gbdt_internal.h"

#include <string.h>

struct path_elem {
    int32_t feat; /* -1 for the root's placeholder */
    double zero;  /* fraction of the zero paths (feature unknown) flowing here */
    double one;   /* fraction of the one paths (feature known): 0 or 1 */
    double w;     /* weight of the subsets of this size */
};

#define PATH_CAP ((TL_GBDT_MAX_DEPTH + 2) * (TL_GBDT_MAX_DEPTH + 3) / 2)

/* 1 / k for the path lengths and positions (at most TL_GBDT_MAX_DEPTH + 2):
 * the weight updates divide by small integers, and a multiplication costs
 * a fraction of a division in these inner loops. */
#define R4(k) 1.0 / (k), 1.0 / ((k) + 1), 1.0 / ((k) + 2), 1.0 / ((k) + 3)
static const double INV[40] = {0, R4(1), R4(5), R4(9), R4(13), R4(17), R4(21), R4(25), R4(29), R4(33),
                               1.0 / 37, 1.0 / 38, 1.0 / 39};
_Static_assert(TL_GBDT_MAX_DEPTH + 3 < 40, "INV covers every path length");

/* EXTEND: appends feature feat with fractions zero and one to path[0..len)
 * and updates the subset-size weights; the path grows to len + 1. */
static void extend(struct path_elem *path, int len, double zero, double one, int32_t feat)
{
    path[len] = (struct path_elem){.feat = feat, .zero = zero, .one = one, .w = len == 0 ? 1.0 : 0.0};
    for (int i = len - 1; i >= 0; i--) {
        path[i + 1].w += one * path[i].w * (i + 1) * INV[len + 1];
        path[i].w = zero * path[i].w * (len - i) * INV[len + 1];
    }
}

/* UNWIND: removes entry k from path[0..len), undoing its EXTEND on the
 * weights; the path shrinks to len - 1. */
static void unwind(struct path_elem *path, int len, int k)
{
    double one = path[k].one, zero = path[k].zero;
    double next = path[len - 1].w;
    for (int j = len - 2; j >= 0; j--) {
        if (one != 0) {
            double t = path[j].w;
            path[j].w = next * len / ((j + 1) * one);
            next = t - path[j].w * zero * (len - 1 - j) / len;
        } else {
            path[j].w = path[j].w * len / (zero * (len - 1 - j));
        }
    }
    for (int j = k; j < len - 1; j++) {
        path[j].feat = path[j + 1].feat;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
}

/* The sum of the weights UNWIND(path, k) would leave, without changing the
 * path: what a leaf needs for each feature on its path. */
static double unwound_sum(const struct path_elem *path, int len, int k)
{
    double one = path[k].one, zero = path[k].zero;
    double next = path[len - 1].w, total = 0;
    if (one != 0) {
        double scale = len / one, zl = zero * INV[len];
        for (int j = len - 2; j >= 0; j--) {
            double w = next * scale * INV[j + 1];
            total += w;
            next = path[j].w - w * zl * (len - 1 - j);
        }
    } else {
        /* zero != 0 here: recurse drops paths with both fractions 0. */
        double scale = len / zero;
        for (int j = len - 2; j >= 0; j--)
            total += path[j].w * scale * INV[len - 1 - j];
    }
    return total;
}

/* One call per node: parent[0..plen) is the caller's path, copied into the
 * free space right after it and extended with the split that led here. */
static void recurse(const tl_gbdt *m, const float *x, double *phi, struct path_elem *parent, int plen,
                    int32_t node, double zero, double one, int32_t feat)
{
    /* No zero and no one paths reach here (a child of cover 0 off x's way):
     * every weight below would be 0, and UNWIND would divide by 0. */
    if (zero == 0 && one == 0)
        return;
    struct path_elem *path = parent + plen;
    memcpy(path, parent, (size_t)plen * sizeof *path);
    extend(path, plen, zero, one, feat);
    int len = plen + 1;
    const struct tl__gbdt_node *nd = &m->nodes[node];
    if (nd->feat & TL__GBDT_LEAF) {
        for (int i = 1; i < len; i++)
            phi[path[i].feat] += unwound_sum(path, len, i) * (path[i].one - path[i].zero) * nd->leaf;
        return;
    }
    int32_t hot = tl__gbdt_step(m->nodes, node, x), cold = hot == nd->left ? nd->left + 1 : nd->left;
    int32_t f = (int32_t)(nd->feat & TL__GBDT_FEAT_MASK);
    double in_zero = 1, in_one = 1;
    /* A feature met again: its earlier entry leaves the path and its
     * fractions carry into this split's. */
    for (int k = 1; k < len; k++) {
        if (path[k].feat == f) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind(path, len, k);
            len--;
            break;
        }
    }
    double cover = m->cover[node];
    recurse(m, x, phi, path, len, hot, in_zero * m->cover[hot] / cover, in_one, f);
    recurse(m, x, phi, path, len, cold, in_zero * m->cover[cold] / cover, 0, f);
}

void tl_gbdt_contribs(const tl_gbdt *m, const float *x, double *phi)
{
    struct path_elem buf[PATH_CAP];
    memset(phi, 0, (m->d + 1) * sizeof *phi);
    for (int t = 0; t < m->n_trees; t++)
        recurse(m, x, phi, buf, 0, m->roots[t], 1, 1, -1);
    phi[m->d] = m->expected;
}

void tl_gbdt_contribs_approx(const tl_gbdt *m, const float *x, double *phi)
{
    /* Walked like tl_gbdt_margin: max_depth steps per tree, four trees at a
     * time, no branch on x. A leaf steps to itself and adds mean[leaf] -
     * mean[leaf] = +0.0 to phi[0] (its feat field holds no feature), so the
     * extra steps change nothing. */
    const struct tl__gbdt_node *nodes = m->nodes;
    const double *mean = m->mean;
    const int depth = m->max_depth, n_trees = m->n_trees;
    memset(phi, 0, (m->d + 1) * sizeof *phi);
    int t = 0;
    for (; t + 4 <= n_trees; t += 4) {
        int32_t a = m->roots[t], b = m->roots[t + 1], c = m->roots[t + 2], e = m->roots[t + 3];
        for (int k = 0; k < depth; k++) {
            int32_t a2 = tl__gbdt_step(nodes, a, x), b2 = tl__gbdt_step(nodes, b, x);
            int32_t c2 = tl__gbdt_step(nodes, c, x), e2 = tl__gbdt_step(nodes, e, x);
            phi[nodes[a].feat & TL__GBDT_FEAT_MASK] += mean[a2] - mean[a];
            phi[nodes[b].feat & TL__GBDT_FEAT_MASK] += mean[b2] - mean[b];
            phi[nodes[c].feat & TL__GBDT_FEAT_MASK] += mean[c2] - mean[c];
            phi[nodes[e].feat & TL__GBDT_FEAT_MASK] += mean[e2] - mean[e];
            a = a2, b = b2, c = c2, e = e2;
        }
    }
    for (; t < n_trees; t++) {
        int32_t i = m->roots[t];
        for (int k = 0; k < depth; k++) {
            int32_t next = tl__gbdt_step(nodes, i, x);
            phi[nodes[i].feat & TL__GBDT_FEAT_MASK] += mean[next] - mean[i];
            i = next;
        }
    }
    /* The root means: the same bias as TreeSHAP's. */
    phi[m->d] = m->expected;
}
