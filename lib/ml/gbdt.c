/* gbdt.c - gradient-boosted trees: trained by XGBoost, scored by us.
 *
 * Training drives XGBoost's C API one round at a time and does the early
 * stopping itself (the C API has none): after each round the validation
 * log loss is parsed out of XGBoosterEvalOneIter's text, and when training
 * stops the booster is sliced to the rounds up to the best one, so the
 * saved bytes hold exactly the trees that score.
 *
 * The model then lives as XGBoost's JSON model format, and both training
 * and tl_gbdt_load flatten that JSON into one array of 16-byte nodes with
 * our own parser (jansson). Loading does not hand the bytes to XGBoost: an
 * altered file must come back as TL_EPARSE, and XGBoost trusts the child
 * indices of a model it loads, so the structure is checked here instead:
 * every array as long as the tree, children after their parent and inside
 * the tree, one parent each, features below num_feature, depth at most
 * TL_GBDT_MAX_DEPTH. What passes cannot make the tree walks below (or
 * TreeSHAP in gbdt_shap.c) leave the arrays or loop. The bytes are kept as
 * given, so tl_gbdt_save returns what was loaded or trained, which
 * XGBoost's own loaders (C, Python) read back. Flattening also computes
 * each node's cover-weighted mean leaf once (TreeSHAP's expected values,
 * the approximate contributions' steps), so scoring allocates nothing.
 *
 * Scoring follows XGBoost's prediction rule exactly: x < threshold (in
 * float) goes left, NaN takes the default direction; the leaf values are
 * summed in double onto logit(base_score).
 */
#include "gbdt_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#define MAX_MODEL_BYTES ((size_t)1 << 30)
#define MAX_DIM (1u << 24)
#define MAX_TREES (1 << 20)
#define MAX_NODES ((size_t)1 << 28) /* over all trees */
#define MAX_ROUNDS 1000000

/* ---- loading: XGBoost JSON -> flat nodes ---------------------------------------- */

static json_t *get_obj(json_t *o, const char *key, tl_err *err, int *rc)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v))
        *rc = tl_err_set(err, TL_EPARSE, "gbdt model: \"%s\" is missing or not an object", key);
    return json_is_object(v) ? v : NULL;
}

/* XGBoost writes its scalar parameters as JSON strings ("5E-1", "23"). */
static int get_str_num(json_t *o, const char *key, double *out, tl_err *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        return tl_err_set(err, TL_EPARSE, "gbdt model: \"%s\" is missing or not a string", key);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return tl_err_set(err, TL_EPARSE, "gbdt model: \"%s\" is \"%.40s\", not a number", key, s);
    *out = v;
    return 0;
}

static int check_str(json_t *o, const char *key, const char *want, tl_err *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || strcmp(s, want) != 0)
        return tl_err_set(err, TL_EPARSE, "gbdt model: \"%s\" is %s%.40s%s, not \"%s\"", key,
                          s ? "\"" : "", s ? s : "missing or not a string", s ? "\"" : "", want);
    return 0;
}

static json_t *tree_array(json_t *tree, const char *key, size_t n, int t, tl_err *err, int *rc)
{
    json_t *a = json_object_get(tree, key);
    if (!json_is_array(a) || json_array_size(a) != n) {
        *rc = tl_err_set(err, TL_EPARSE, "gbdt model: tree %d: \"%s\" is not an array of %zu values", t,
                         key, n);
        return NULL;
    }
    return a;
}

static int arr_int(json_t *a, size_t i, long long *out)
{
    json_t *v = json_array_get(a, i);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    return -1;
}

static int arr_num(json_t *a, size_t i, double *out)
{
    json_t *v = json_array_get(a, i);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

/* Scratch space of flatten_tree, one entry per node of the biggest tree. */
struct scratch {
    int *depth;                 /* -1: not reachable from the root */
    struct tl__gbdt_node *node; /* as read, children in XGBoost's numbering */
    int32_t *right;             /* XGBoost's right child */
    float *cover;
    int32_t *order;             /* breadth-first order of the reachable nodes */
};

/* Checks tree t (a JSON object of n nodes), appends its reachable nodes to
 * m->nodes at off in breadth-first order, fills m->mean for them, and
 * returns their count in *used and the cover-weighted mean of its leaves in
 * *tree_mean (the tree's expected value for TreeSHAP). */
static int flatten_tree(tl_gbdt *m, json_t *tree, int t, size_t off, size_t n, struct scratch *sc,
                        size_t *used, double *tree_mean, tl_err *err)
{
    int rc = 0;
    json_t *L = tree_array(tree, "left_children", n, t, err, &rc);
    json_t *R = L ? tree_array(tree, "right_children", n, t, err, &rc) : NULL;
    json_t *SI = R ? tree_array(tree, "split_indices", n, t, err, &rc) : NULL;
    json_t *SC = SI ? tree_array(tree, "split_conditions", n, t, err, &rc) : NULL;
    json_t *DL = SC ? tree_array(tree, "default_left", n, t, err, &rc) : NULL;
    json_t *SH = DL ? tree_array(tree, "sum_hessian", n, t, err, &rc) : NULL;
    json_t *LC = SH ? tree_array(tree, "loss_changes", n, t, err, &rc) : NULL;
    if (!LC)
        return rc;
    /* Categorical splits are another rule than x < threshold: refuse them. */
    json_t *ST = json_object_get(tree, "split_type");
    if (ST && (!json_is_array(ST) || json_array_size(ST) != n))
        return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d: \"split_type\" is not one value per "
                          "node", t);
    json_t *CN = json_object_get(tree, "categories_nodes");
    if (CN && (!json_is_array(CN) || json_array_size(CN) != 0))
        return tl_err_set(err, TL_EUNSUPPORTED, "gbdt model: tree %d has categorical splits", t);

    int *depth = sc->depth;
    for (size_t i = 0; i < n; i++)
        depth[i] = -1;
    depth[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (depth[i] < 0) /* unreachable (XGBoost's deleted nodes): dropped */
            continue;
        long long l, r, f, dl, st = 0;
        double thr, sh, lc;
        const char *bad = arr_int(L, i, &l) ? "left_children" : arr_int(R, i, &r) ? "right_children"
                          : arr_int(SI, i, &f) ? "split_indices" : arr_int(DL, i, &dl) ? "default_left"
                          : arr_num(SC, i, &thr) ? "split_conditions" : arr_num(SH, i, &sh) ? "sum_hessian"
                          : arr_num(LC, i, &lc) ? "loss_changes" : (ST && arr_int(ST, i, &st)) ? "split_type"
                          : NULL;
        if (bad)
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: %s is not a number", t, i, bad);
        if (!isfinite(sh) || sh < 0 || !isfinite(lc))
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: sum_hessian %g or "
                              "loss_change %g is not a finite non-negative number", t, i, sh, lc);
        sc->cover[i] = (float)sh;
        if (l == -1) {
            if (r != -1 || !isfinite(thr))
                return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: a leaf with right child "
                                  "%lld and value %g", t, i, r, thr);
            sc->node[i] = (struct tl__gbdt_node){.thr = NAN, .feat = TL__GBDT_LEAF, .leaf = (float)thr};
            if (depth[i] > m->max_depth)
                m->max_depth = depth[i];
            continue;
        }
        /* Children after the parent and unvisited: every walk moves forward
         * and ends, and each node has one parent. */
        if (l <= (long long)i || r <= (long long)i || l >= (long long)n || r >= (long long)n || l == r ||
            depth[l] >= 0 || depth[r] >= 0)
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: children %lld and %lld are "
                              "not two new nodes in %zu..%zu", t, i, l, r, i + 1, n - 1);
        if (depth[i] + 1 > TL_GBDT_MAX_DEPTH)
            return tl_err_set(err, TL_EUNSUPPORTED, "gbdt model: tree %d is deeper than %d levels", t,
                              TL_GBDT_MAX_DEPTH);
        if (f < 0 || (unsigned long long)f >= m->d)
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: split feature %lld is not "
                              "below num_feature %zu", t, i, f, m->d);
        if (dl != 0 && dl != 1)
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: default_left %lld", t, i, dl);
        if (st != 0)
            return tl_err_set(err, TL_EUNSUPPORTED, "gbdt model: tree %d node %zu: split type %lld is "
                              "not numerical", t, i, st);
        if (isnan(thr) || !(sh > 0))
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d node %zu: threshold %g or cover %g "
                              "is not usable", t, i, thr, sh);
        depth[l] = depth[r] = depth[i] + 1;
        sc->node[i] = (struct tl__gbdt_node){
            .thr = (float)thr,
            .feat = (uint32_t)f | (dl ? TL__GBDT_DEFAULT_LEFT : 0),
            .left = (int32_t)l,
        };
        sc->right[i] = (int32_t)r;
        m->importance[f] += lc;
    }

    /* Breadth-first renumbering: node k of the new order gets its children
     * at the two next free places, side by side. */
    int32_t *order = sc->order;
    size_t tail = 1;
    order[0] = 0;
    for (size_t k = 0; k < tail; k++) {
        struct tl__gbdt_node nd = sc->node[order[k]];
        int32_t self = (int32_t)(off + k);
        if (nd.feat & TL__GBDT_LEAF) {
            nd.left = self - 1;
        } else {
            order[tail] = nd.left;
            order[tail + 1] = sc->right[order[k]];
            nd.left = (int32_t)(off + tail);
            tail += 2;
        }
        m->nodes[off + k] = nd;
        m->cover[off + k] = sc->cover[order[k]];
    }
    /* Children come after parents, so one backward pass has every child's
     * mean ready when its parent needs it. Division by the node's own cover,
     * as XGBoost's TreeSHAP does (its children's covers sum to it up to
     * float rounding). Kept per node: the approximate contributions step
     * from mean to mean along the row's path. */
    double *mean = m->mean + off;
    for (size_t k = tail; k-- > 0;) {
        const struct tl__gbdt_node *nd = &m->nodes[off + k];
        if (nd->feat & TL__GBDT_LEAF) {
            mean[k] = nd->leaf;
        } else {
            size_t l = (size_t)nd->left - off;
            mean[k] = (mean[l] * m->cover[off + l] + mean[l + 1] * m->cover[off + l + 1]) / m->cover[off + k];
        }
    }
    *tree_mean = mean[0];
    *used = tail;
    return 0;
}

static int flatten(json_t *root, tl_gbdt *m, tl_err *err)
{
    int rc = 0;
    if (!json_is_object(root))
        return tl_err_set(err, TL_EPARSE, "gbdt model: not a JSON object");
    json_t *learner = get_obj(root, "learner", err, &rc);
    json_t *lmp = learner ? get_obj(learner, "learner_model_param", err, &rc) : NULL;
    json_t *obj = lmp ? get_obj(learner, "objective", err, &rc) : NULL;
    json_t *gb = obj ? get_obj(learner, "gradient_booster", err, &rc) : NULL;
    json_t *model = gb ? get_obj(gb, "model", err, &rc) : NULL;
    json_t *gbp = model ? get_obj(model, "gbtree_model_param", err, &rc) : NULL;
    if (!gbp)
        return rc;
    if ((rc = check_str(obj, "name", "binary:logistic", err)) < 0 ||
        (rc = check_str(gb, "name", "gbtree", err)) < 0 ||
        (rc = check_str(gbp, "num_parallel_tree", "1", err)) < 0)
        return rc;
    double base_score, num_feature, num_class, num_trees;
    if ((rc = get_str_num(lmp, "base_score", &base_score, err)) < 0 ||
        (rc = get_str_num(lmp, "num_feature", &num_feature, err)) < 0 ||
        (rc = get_str_num(lmp, "num_class", &num_class, err)) < 0 ||
        (rc = get_str_num(gbp, "num_trees", &num_trees, err)) < 0)
        return rc;
    if (!(base_score > 0 && base_score < 1))
        return tl_err_set(err, TL_EPARSE, "gbdt model: base_score %g is not a probability", base_score);
    if (!(num_feature >= 1 && num_feature < MAX_DIM) || num_feature != floor(num_feature))
        return tl_err_set(err, TL_EPARSE, "gbdt model: num_feature %g is not in 1..%u", num_feature,
                          MAX_DIM - 1);
    if (num_class != 0)
        return tl_err_set(err, TL_EPARSE, "gbdt model: num_class %g is not 0 (binary)", num_class);
    json_t *trees = json_object_get(model, "trees");
    if (!json_is_array(trees) || json_array_size(trees) == 0 || json_array_size(trees) > MAX_TREES ||
        (double)json_array_size(trees) != num_trees)
        return tl_err_set(err, TL_EPARSE, "gbdt model: \"trees\" is not an array of num_trees = %g trees",
                          num_trees);
    json_t *info = json_object_get(model, "tree_info");
    if (!json_is_array(info) || json_array_size(info) != json_array_size(trees))
        return tl_err_set(err, TL_EPARSE, "gbdt model: \"tree_info\" is not one class per tree");
    m->d = (size_t)num_feature;
    m->n_trees = (int)json_array_size(trees);
    /* XGBoost keeps base_score as a probability and takes its logit in float. */
    m->base_margin = (double)-logf(1.0f / (float)base_score - 1.0f);

    /* First pass: sizes, so one allocation holds every node. */
    size_t total = 0, biggest = 0;
    for (int t = 0; t < m->n_trees; t++) {
        json_t *tree = json_array_get(trees, (size_t)t);
        json_t *lc = json_is_object(tree) ? json_object_get(tree, "left_children") : NULL;
        long long cls;
        if (!json_is_array(lc) || json_array_size(lc) == 0 || arr_int(info, (size_t)t, &cls) || cls != 0)
            return tl_err_set(err, TL_EPARSE, "gbdt model: tree %d is not an object of class 0 with "
                              "nodes", t);
        size_t n = json_array_size(lc);
        if (n > MAX_NODES - total)
            return tl_err_set(err, TL_ETOOBIG, "gbdt model: more than %zu nodes", MAX_NODES);
        total += n;
        biggest = n > biggest ? n : biggest;
    }
    m->nodes = malloc(total * sizeof *m->nodes);
    m->cover = malloc(total * sizeof *m->cover);
    m->mean = malloc(total * sizeof *m->mean);
    m->roots = malloc((size_t)m->n_trees * sizeof *m->roots);
    m->importance = calloc(m->d, sizeof *m->importance);
    struct scratch sc = {
        .depth = malloc(biggest * sizeof *sc.depth),
        .node = malloc(biggest * sizeof *sc.node),
        .right = malloc(biggest * sizeof *sc.right),
        .cover = malloc(biggest * sizeof *sc.cover),
        .order = malloc(biggest * sizeof *sc.order),
    };
    if (!m->nodes || !m->cover || !m->mean || !m->roots || !m->importance || !sc.depth || !sc.node ||
        !sc.right || !sc.cover || !sc.order) {
        rc = tl_err_set(err, TL_ENOMEM, "gbdt model: out of memory for %zu nodes", total);
        goto done;
    }
    m->expected = m->base_margin;
    size_t off = 0;
    for (int t = 0; t < m->n_trees; t++) {
        json_t *tree = json_array_get(trees, (size_t)t);
        size_t n = json_array_size(json_object_get(tree, "left_children")), used = 0;
        double tree_mean = 0;
        rc = flatten_tree(m, tree, t, off, n, &sc, &used, &tree_mean, err);
        if (rc < 0)
            goto done;
        m->roots[t] = (int32_t)off;
        m->expected += tree_mean;
        off += used;
    }
    m->n_nodes = off;
done:
    free(sc.depth);
    free(sc.node);
    free(sc.right);
    free(sc.cover);
    free(sc.order);
    return rc;
}

int tl_gbdt_load(const char *buf, size_t len, tl_gbdt **out, tl_err *err)
{
    if (!buf || !out)
        return tl_err_set(err, TL_EINVAL, "gbdt load: buf and out must not be NULL");
    if (len > MAX_MODEL_BYTES)
        return tl_err_set(err, TL_ETOOBIG, "gbdt load: %zu bytes exceeds %zu", len, MAX_MODEL_BYTES);
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return tl_err_set(err, TL_EPARSE, "gbdt model: not JSON at byte %d (line %d, column %d): %s",
                          je.position, je.line, je.column, je.text);
    tl_gbdt *m = calloc(1, sizeof *m);
    int rc;
    if (!m) {
        rc = tl_err_set(err, TL_ENOMEM, "gbdt load: out of memory");
        goto fail;
    }
    rc = flatten(root, m, err);
    if (rc < 0)
        goto fail;
    m->json = malloc(len + 1);
    if (!m->json) {
        rc = tl_err_set(err, TL_ENOMEM, "gbdt load: out of memory for %zu bytes", len);
        goto fail;
    }
    memcpy(m->json, buf, len);
    m->json[len] = '\0';
    m->json_len = len;
    json_decref(root);
    *out = m;
    return 0;
fail:
    json_decref(root);
    tl_gbdt_free(m);
    return rc;
}

int tl_gbdt_save(const tl_gbdt *m, char **buf, size_t *len, tl_err *err)
{
    if (!m || !buf || !len)
        return tl_err_set(err, TL_EINVAL, "gbdt save: model, buf and len must not be NULL");
    char *b = malloc(m->json_len + 1);
    if (!b)
        return tl_err_set(err, TL_ENOMEM, "gbdt save: out of memory for %zu bytes", m->json_len);
    memcpy(b, m->json, m->json_len + 1);
    *buf = b;
    *len = m->json_len;
    return 0;
}

void tl_gbdt_free(tl_gbdt *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->cover);
    free(m->mean);
    free(m->roots);
    free(m->importance);
    free(m->json);
    free(m);
}

size_t tl_gbdt_dim(const tl_gbdt *m)
{
    return m->d;
}

int tl_gbdt_rounds(const tl_gbdt *m)
{
    return m->n_trees;
}

void tl_gbdt_importance(const tl_gbdt *m, double *imp)
{
    memcpy(imp, m->importance, m->d * sizeof *imp);
}

/* ---- scoring ------------------------------------------------------------------ */

double tl_gbdt_margin(const tl_gbdt *m, const float *x)
{
    /* Every walk takes max_depth steps (leaves loop to themselves), four
     * trees at a time: no branch depends on x, and the four chains of
     * loads run side by side. */
    const struct tl__gbdt_node *nodes = m->nodes;
    const int depth = m->max_depth, n_trees = m->n_trees;
    double s = m->base_margin;
    int t = 0;
    for (; t + 4 <= n_trees; t += 4) {
        int32_t a = m->roots[t], b = m->roots[t + 1], c = m->roots[t + 2], e = m->roots[t + 3];
        for (int k = 0; k < depth; k++) {
            a = tl__gbdt_step(nodes, a, x);
            b = tl__gbdt_step(nodes, b, x);
            c = tl__gbdt_step(nodes, c, x);
            e = tl__gbdt_step(nodes, e, x);
        }
        s += nodes[a].leaf;
        s += nodes[b].leaf;
        s += nodes[c].leaf;
        s += nodes[e].leaf;
    }
    for (; t < n_trees; t++) {
        int32_t a = m->roots[t];
        for (int k = 0; k < depth; k++)
            a = tl__gbdt_step(nodes, a, x);
        s += nodes[a].leaf;
    }
    return s;
}

void tl_gbdt_margins(const tl_gbdt *m, const float *X, size_t n, double *margin)
{
    for (size_t r = 0; r < n; r++)
        margin[r] = tl_gbdt_margin(m, X + r * m->d);
}

/* ---- training ----------------------------------------------------------------- */

static int check_matrix(const float *X, const uint8_t *y, size_t n, size_t d, const char *name,
                        tl_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return tl_err_set(err, TL_EINVAL, "gbdt train: %s label of row %zu is %u, not 0 or 1", name, i,
                              (unsigned)y[i]);
        for (size_t j = 0; j < d; j++)
            if (isinf(X[i * d + j]))
                return tl_err_set(err, TL_EINVAL, "gbdt train: %s row %zu column %zu is infinite (NaN "
                                  "marks a missing value)", name, i, j);
    }
    return 0;
}

static int check_opts(const struct tl_gbdt_opts *o, tl_err *err)
{
    const char *bad = NULL;
    if (o->max_rounds < 1 || o->max_rounds > MAX_ROUNDS)
        bad = "max_rounds";
    else if (o->early_stopping < 0)
        bad = "early_stopping";
    else if (!(o->eta > 0 && o->eta <= 1))
        bad = "eta";
    else if (o->max_depth < 1 || o->max_depth > TL_GBDT_MAX_DEPTH)
        bad = "max_depth";
    else if (!(o->min_child_weight >= 0) || !isfinite(o->min_child_weight))
        bad = "min_child_weight";
    else if (!(o->subsample > 0 && o->subsample <= 1))
        bad = "subsample";
    else if (!(o->colsample > 0 && o->colsample <= 1))
        bad = "colsample";
    else if (!(o->lambda >= 0) || !isfinite(o->lambda))
        bad = "lambda";
    else if (!(o->alpha >= 0) || !isfinite(o->alpha))
        bad = "alpha";
    else if (!(o->gamma >= 0) || !isfinite(o->gamma))
        bad = "gamma";
    else if (!(o->scale_pos_weight > 0) || !isfinite(o->scale_pos_weight))
        bad = "scale_pos_weight";
    else if (o->nthread < 0)
        bad = "nthread";
    if (bad)
        return tl_err_set(err, TL_EINVAL, "gbdt train: option %s is out of range (max_depth 1..%d, "
                          "eta, subsample and colsample in (0, 1], others non-negative)", bad,
                          TL_GBDT_MAX_DEPTH);
    return 0;
}

#define XGB(call, what)                                                                          \
    do {                                                                                         \
        if ((call) != 0) {                                                                       \
            rc = tl_err_set(err, TL_EINTERNAL, "gbdt train: XGBoost %s failed: %s", what,        \
                            XGBGetLastError());                                                  \
            goto done;                                                                           \
        }                                                                                        \
    } while (0)

static int make_dmatrix(const float *X, const uint8_t *y, size_t n, size_t d, DMatrixHandle *out,
                        tl_err *err)
{
    int rc = 0;
    float *labels = malloc(n * sizeof *labels);
    if (!labels)
        return tl_err_set(err, TL_ENOMEM, "gbdt train: out of memory for %zu labels", n);
    for (size_t i = 0; i < n; i++)
        labels[i] = y[i];
    *out = NULL;
    XGB(XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)d, NAN, out), "DMatrix creation");
    XGB(XGDMatrixSetFloatInfo(*out, "label", labels, (bst_ulong)n), "setting labels");
done:
    if (rc < 0 && *out) {
        XGDMatrixFree(*out);
        *out = NULL;
    }
    free(labels);
    return rc;
}

int tl_gbdt_train(const float *X, const uint8_t *y, size_t n, size_t d, const float *Xv,
                  const uint8_t *yv, size_t nv, const struct tl_gbdt_opts *opts, tl_gbdt **out,
                  tl_err *err)
{
    struct tl_gbdt_opts o = opts ? *opts : TL_GBDT_OPTS_DEFAULT;
    if (!X || !y || !out || (nv > 0 && (!Xv || !yv)))
        return tl_err_set(err, TL_EINVAL, "gbdt train: X, y, out (and Xv, yv when nv > 0) must be set");
    if (n == 0 || d == 0)
        return tl_err_set(err, TL_EINVAL, "gbdt train: empty data (%zu rows, %zu features)", n, d);
    if (d >= MAX_DIM)
        return tl_err_set(err, TL_ETOOBIG, "gbdt train: %zu features exceeds %u", d, MAX_DIM - 1);
    int rc = check_opts(&o, err);
    if (rc < 0 || (rc = check_matrix(X, y, n, d, "training", err)) < 0 ||
        (nv > 0 && (rc = check_matrix(Xv, yv, nv, d, "validation", err)) < 0))
        return rc;

    DMatrixHandle dtrain = NULL, dvalid = NULL;
    BoosterHandle b = NULL, sliced = NULL;
    if ((rc = make_dmatrix(X, y, n, d, &dtrain, err)) < 0)
        return rc;
    if (nv > 0 && (rc = make_dmatrix(Xv, yv, nv, d, &dvalid, err)) < 0)
        goto done;
    XGB(XGBoosterCreate(&dtrain, 1, &b), "booster creation");
    char v[11][40];
    snprintf(v[0], sizeof v[0], "%.17g", o.eta);
    snprintf(v[1], sizeof v[1], "%d", o.max_depth);
    snprintf(v[2], sizeof v[2], "%.17g", o.min_child_weight);
    snprintf(v[3], sizeof v[3], "%.17g", o.subsample);
    snprintf(v[4], sizeof v[4], "%.17g", o.colsample);
    snprintf(v[5], sizeof v[5], "%.17g", o.lambda);
    snprintf(v[6], sizeof v[6], "%.17g", o.alpha);
    snprintf(v[7], sizeof v[7], "%.17g", o.gamma);
    snprintf(v[8], sizeof v[8], "%.17g", o.scale_pos_weight);
    snprintf(v[9], sizeof v[9], "%d", o.nthread);
    /* XGBoost's seed is a signed 64-bit integer: the low 63 bits. */
    snprintf(v[10], sizeof v[10], "%llu", (unsigned long long)(o.seed & INT64_MAX));
    const char *params[][2] = {
        {"objective", "binary:logistic"}, {"tree_method", "hist"}, {"eval_metric", "logloss"},
        {"verbosity", "0"}, {"eta", v[0]}, {"max_depth", v[1]}, {"min_child_weight", v[2]},
        {"subsample", v[3]}, {"colsample_bytree", v[4]}, {"lambda", v[5]}, {"alpha", v[6]},
        {"gamma", v[7]}, {"scale_pos_weight", v[8]}, {"nthread", v[9]}, {"seed", v[10]},
    };
    for (size_t k = 0; k < sizeof params / sizeof params[0]; k++)
        XGB(XGBoosterSetParam(b, params[k][0], params[k][1]), params[k][0]);

    int best = -1, rounds = 0;
    double best_loss = INFINITY;
    for (int it = 0; it < o.max_rounds; it++) {
        XGB(XGBoosterUpdateOneIter(b, it, dtrain), "boosting round");
        rounds = it + 1;
        if (nv == 0 || o.early_stopping == 0)
            continue;
        const char *names[1] = {"valid"};
        const char *res = NULL;
        XGB(XGBoosterEvalOneIter(b, it, &dvalid, names, 1, &res), "evaluation");
        const char *at = res ? strstr(res, "valid-logloss:") : NULL;
        char *end;
        double loss = at ? strtod(at + strlen("valid-logloss:"), &end) : NAN;
        if (!at || end == at + strlen("valid-logloss:")) {
            rc = tl_err_set(err, TL_EINTERNAL, "gbdt train: no log loss in XGBoost's evaluation \"%.80s\"",
                            res ? res : "");
            goto done;
        }
        if (loss < best_loss) {
            best_loss = loss;
            best = it;
        } else if (it - best >= o.early_stopping) {
            break;
        }
    }
    int keep = best >= 0 ? best + 1 : rounds;
    BoosterHandle final = b;
    if (keep < rounds) {
        XGB(XGBoosterSlice(b, 0, keep, 1, &sliced), "slicing to the best round");
        final = sliced;
    }
    bst_ulong blen = 0;
    const char *bytes = NULL;
    XGB(XGBoosterSaveModelToBuffer(final, "{\"format\":\"json\"}", &blen, &bytes), "saving");
    tl_gbdt *m = NULL;
    rc = tl_gbdt_load(bytes, (size_t)blen, &m, err);
    if (rc < 0) {
        tl_err_prefix(err, "gbdt train: XGBoost's model did not load back");
    } else if (TL_NEVER(m->d != d || m->n_trees != keep)) {
        rc = tl_err_set(err, TL_EINTERNAL, "gbdt train: the model holds %d trees over %zu features, not "
                        "%d over %zu", m->n_trees, m->d, keep, d);
        tl_gbdt_free(m);
    } else {
        *out = m;
    }
done:
    if (sliced)
        XGBoosterFree(sliced);
    if (b)
        XGBoosterFree(b);
    if (dvalid)
        XGDMatrixFree(dvalid);
    if (dtrain)
        XGDMatrixFree(dtrain);
    return rc;
}
