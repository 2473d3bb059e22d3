/*
 * gbdt_internal.h - the flattened tree ensemble shared by gbdt.c (training,
 * loading, margins) and gbdt_shap.c (TreeSHAP and the approximate
 * contributions). Not installed.
 */
#ifndef TL_ML_GBDT_INTERNAL_H
#define TL_ML_GBDT_INTERNAL_H

#include <teller/ml_models.h>

#include <math.h>

/* One node of one tree, 16 bytes so four share a cache line. Nodes are
 * renumbered breadth-first at load, so the right child always follows the
 * left one, and indices are into tl_gbdt.nodes (not tree-relative).
 *
 * A leaf is a node that loops to itself: threshold NaN (no x is below it),
 * left = its own index - 1, so tl__gbdt_step takes the "right" child, the
 * leaf again. Every tree can then be walked a fixed number of steps with no
 * branch on the data, and the walks of many trees overlap in the CPU. */
struct tl__gbdt_node {
    float thr;     /* x < thr goes left; NaN in a leaf */
    uint32_t feat; /* split feature | TL__GBDT_DEFAULT_LEFT | TL__GBDT_LEAF */
    int32_t left;  /* the left child; the right one is left + 1 */
    float leaf;    /* the leaf value (leaves only) */
};
#define TL__GBDT_DEFAULT_LEFT 0x80000000u
#define TL__GBDT_LEAF 0x40000000u
#define TL__GBDT_FEAT_MASK 0x00ffffffu

struct tl_gbdt {
    size_t d;                     /* features */
    int n_trees;
    int max_depth;                /* deepest leaf over all trees (root = 0) */
    double base_margin;           /* logit of XGBoost's base_score */
    double expected;              /* base_margin + the cover-weighted mean leaf of each tree */
    struct tl__gbdt_node *nodes;  /* (n_nodes) every tree's nodes back to back */
    float *cover;                 /* (n_nodes) XGBoost's sum_hessian */
    double *mean;                 /* (n_nodes) cover-weighted mean of the leaves below each node
                                     (a leaf: its value); the approximate contributions' steps */
    int32_t *roots;               /* (n_trees) */
    size_t n_nodes;
    double *importance;           /* (d) summed loss_changes of each feature's splits */
    char *json;                   /* the model as XGBoost JSON, NUL-terminated */
    size_t json_len;              /* bytes, without the NUL */
};

/* The node after i for row x: XGBoost's rule, x < threshold compared in
 * float goes left, a missing value (NaN) follows the node's default
 * direction; a leaf gives itself. Written without branches (a NaN fails
 * every comparison). */
static inline int32_t tl__gbdt_step(const struct tl__gbdt_node *nodes, int32_t i, const float *x)
{
    const struct tl__gbdt_node *n = &nodes[i];
    float v = x[n->feat & TL__GBDT_FEAT_MASK];
    int miss_left = (v != v) & (int)(n->feat >> 31);
    return n->left + (!(v < n->thr) & !miss_left);
}

#endif
