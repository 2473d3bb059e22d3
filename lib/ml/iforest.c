/* iforest.c - isolation forest (Liu, Ting & Zhou 2008), written from the
 * paper's iForest / iTree / PathLength algorithms; see ml_iforest.h for the
 * choices the paper leaves open (NaN, constant features, clamping).
 *
 * Every tree lives in one flat node array, in pre-order, so scoring is a
 * loop over indices with no allocation (STYLE habit 8): fraud scoring runs
 * per customer on the hot path. Children always come after their parent,
 * which the JSON loader checks together with "one parent each", so a
 * tampered model can neither leave the arrays nor loop.
 *
 * Leaves keep c(size) precomputed: the paper adds it to the edge count for
 * leaves that stopped at the height limit with rows left over.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_iforest.h>
#include <teller/ml_stats.h>

#define MAX_TREES 65536
#define MAX_DIM ((size_t)1 << 24)
#define MAX_NODES ((size_t)1 << 26) /* over all trees */
#define MAX_SAMPLE (MAX_NODES / 2)
#define EULER_GAMMA 0.5772156649015329

struct node {
    int32_t feature; /* -1 for a leaf */
    float threshold; /* x[feature] < threshold goes left (NaN too) */
    uint32_t left, right; /* absolute indices into nodes[] */
    uint32_t size;   /* training rows that reached the node */
    double adj;      /* leaves: c(size); internal nodes: 0 */
};

struct tl_iforest {
    size_t dim;
    size_t sample_size; /* psi after clamping */
    int n_trees;
    double c_psi;       /* c(sample_size), the score's normalizer */
    uint32_t *tree_off; /* (n_trees + 1): tree t is nodes[tree_off[t] .. tree_off[t+1]) */
    struct node *nodes; /* (tree_off[n_trees]) */
};

double tl_iforest_c(size_t n)
{
    if (n <= 1)
        return 0.0;
    if (n == 2)
        return 1.0; /* H(1) = 1 exactly; the ln approximation would give 0.15 */
    double nd = (double)n;
    return 2.0 * (log(nd - 1.0) + EULER_GAMMA) - 2.0 * (nd - 1.0) / nd;
}

static tl_iforest *alloc_model(size_t dim, size_t psi, int n_trees, size_t n_nodes)
{
    tl_iforest *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->dim = dim;
    m->sample_size = psi;
    m->n_trees = n_trees;
    m->c_psi = tl_iforest_c(psi);
    m->tree_off = calloc((size_t)n_trees + 1, sizeof *m->tree_off);
    m->nodes = calloc(n_nodes ? n_nodes : 1, sizeof *m->nodes);
    if (!m->tree_off || !m->nodes) {
        tl_iforest_free(m);
        return NULL;
    }
    return m;
}

void tl_iforest_free(tl_iforest *m)
{
    if (!m)
        return;
    free(m->tree_off);
    free(m->nodes);
    free(m);
}

size_t tl_iforest_dim(const tl_iforest *m) { return m->dim; }
size_t tl_iforest_sample_size(const tl_iforest *m) { return m->sample_size; }
int tl_iforest_n_trees(const tl_iforest *m) { return m->n_trees; }

/* ---- fitting -------------------------------------------------------------- */

struct grow {
    const float *X; /* (n, d) */
    size_t d;
    tl_rng rng;
    int height_limit;
    struct node *nodes;
    size_t n_nodes, cap;
    float *lo, *hi;  /* (d) per-node feature ranges, NaN ignored */
    size_t *usable;  /* (d) features not constant in the node */
};

static uint32_t make_leaf(struct grow *g, size_t cnt)
{
    struct node *nd = &g->nodes[g->n_nodes];
    *nd = (struct node){.feature = -1, .size = (uint32_t)cnt, .adj = tl_iforest_c(cnt)};
    return (uint32_t)g->n_nodes++;
}

/* The paper's iTree(X, e, l) on the rows idx[0..cnt); reorders idx.
 * Returns the node's absolute index. The recursion is at most
 * height_limit (<= 26) deep. */
static uint32_t grow_tree(struct grow *g, size_t *idx, size_t cnt, int depth)
{
    /* The caller sized nodes for 2 psi - 1 per tree, the most a binary tree
     * with psi non-empty leaves can have. */
    if (TL_NEVER(g->n_nodes >= g->cap))
        return 0;
    if (cnt <= 1 || depth >= g->height_limit)
        return make_leaf(g, cnt);
    for (size_t f = 0; f < g->d; f++) {
        g->lo[f] = NAN;
        g->hi[f] = NAN;
    }
    for (size_t r = 0; r < cnt; r++) {
        const float *row = g->X + idx[r] * g->d;
        for (size_t f = 0; f < g->d; f++) {
            float v = row[f];
            if (isnan(v))
                continue;
            if (isnan(g->lo[f]) || v < g->lo[f])
                g->lo[f] = v;
            if (isnan(g->hi[f]) || v > g->hi[f])
                g->hi[f] = v;
        }
    }
    size_t n_usable = 0;
    for (size_t f = 0; f < g->d; f++)
        if (!isnan(g->lo[f]) && g->lo[f] < g->hi[f])
            g->usable[n_usable++] = f;
    if (n_usable == 0)
        return make_leaf(g, cnt); /* all rows equal: nothing can isolate them */

    size_t f = g->usable[tl_rng_below(&g->rng, n_usable)];
    float lo = g->lo[f], hi = g->hi[f];
    /* Uniform in (lo, hi] so that lo goes left and hi goes right: both
     * children get rows. Done in double: hi - lo can overflow a float. */
    double u = 1.0 - tl_rng_uniform(&g->rng);
    float thr = (float)((double)lo + u * ((double)hi - (double)lo));
    if (!(thr > lo))
        thr = nextafterf(lo, hi);
    if (thr > hi)
        thr = hi;

    size_t n_left = 0;
    for (size_t r = 0; r < cnt; r++) {
        float v = g->X[idx[r] * g->d + f];
        if (!(v >= thr)) { /* v < thr, or NaN */
            size_t t = idx[r];
            idx[r] = idx[n_left];
            idx[n_left++] = t;
        }
    }
    uint32_t me = (uint32_t)g->n_nodes++;
    g->nodes[me] = (struct node){.feature = (int32_t)f, .threshold = thr, .size = (uint32_t)cnt};
    uint32_t l = grow_tree(g, idx, n_left, depth + 1);
    uint32_t r = grow_tree(g, idx + n_left, cnt - n_left, depth + 1);
    g->nodes[me].left = l;
    g->nodes[me].right = r;
    return me;
}

int tl_iforest_fit(const float *X, size_t n, size_t d, const struct tl_iforest_opts *opts,
                   tl_iforest **out, tl_err *err)
{
    struct tl_iforest_opts o = opts ? *opts : TL_IFOREST_OPTS_DEFAULT;
    if (n < 2)
        return tl_err_set(err, TL_EINVAL, "isolation forest: need at least 2 rows, got %zu", n);
    if (d == 0 || d > MAX_DIM)
        return tl_err_set(err, TL_EINVAL, "isolation forest: %zu features (need 1 .. %zu)", d,
                          MAX_DIM);
    if (o.n_trees < 1 || o.n_trees > MAX_TREES)
        return tl_err_set(err, TL_EINVAL, "isolation forest: n_trees %d (need 1 .. %d)",
                          o.n_trees, MAX_TREES);
    if (o.sample_size < 2)
        return tl_err_set(err, TL_EINVAL, "isolation forest: sample_size %zu (need at least 2)",
                          o.sample_size);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (isinf(X[i * d + j]))
                return tl_err_set(err, TL_EINVAL,
                                  "isolation forest: row %zu column %zu is infinite", i, j);
    size_t psi = o.sample_size < n ? o.sample_size : n;
    if (psi > MAX_SAMPLE || (size_t)o.n_trees * (2 * psi - 1) > MAX_NODES)
        return tl_err_set(err, TL_ETOOBIG,
                          "isolation forest: %d trees of %zu rows exceed %zu nodes", o.n_trees,
                          psi, MAX_NODES);
    size_t cap = (size_t)o.n_trees * (2 * psi - 1);

    tl_iforest *m = alloc_model(d, psi, o.n_trees, cap);
    struct grow g = {.X = X, .d = d, .nodes = m ? m->nodes : NULL, .cap = cap};
    size_t *idx = malloc(n * sizeof *idx);
    g.lo = malloc(d * sizeof *g.lo);
    g.hi = malloc(d * sizeof *g.hi);
    g.usable = malloc(d * sizeof *g.usable);
    int rc = 0;
    if (!m || !idx || !g.lo || !g.hi || !g.usable) {
        rc = tl_err_set(err, TL_ENOMEM, "isolation forest: out of memory for %zu nodes", cap);
        goto done;
    }
    tl_rng_seed(&g.rng, o.seed);
    g.height_limit = (int)ceil(log2((double)psi));
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (int t = 0; t < o.n_trees; t++) {
        /* Partial Fisher-Yates: idx[0..psi) becomes a uniform sample without
         * replacement; continuing from the last tree's order keeps it so. */
        for (size_t i = 0; i < psi; i++) {
            size_t j = i + (size_t)tl_rng_below(&g.rng, n - i);
            size_t tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        m->tree_off[t] = (uint32_t)g.n_nodes;
        grow_tree(&g, idx, psi, 0);
    }
    m->tree_off[o.n_trees] = (uint32_t)g.n_nodes;
    if (TL_NEVER(g.n_nodes > cap)) {
        rc = tl_err_set(err, TL_EINTERNAL, "isolation forest: node count overran its bound");
        goto done;
    }
    *out = m;
    m = NULL;
done:
    tl_iforest_free(m);
    free(idx);
    free(g.lo);
    free(g.hi);
    free(g.usable);
    return rc;
}

/* ---- scoring -------------------------------------------------------------- */

double tl_iforest_score(const tl_iforest *m, const float *x)
{
    double sum = 0.0;
    for (int t = 0; t < m->n_trees; t++) {
        const struct node *nd = &m->nodes[m->tree_off[t]];
        int edges = 0;
        while (nd->feature >= 0) {
            nd = &m->nodes[x[nd->feature] >= nd->threshold ? nd->right : nd->left];
            edges++;
        }
        sum += edges + nd->adj;
    }
    return exp2(-(sum / m->n_trees) / m->c_psi);
}

/* ---- JSON ----------------------------------------------------------------- */

json_t *tl_iforest_to_json(const tl_iforest *m)
{
    json_t *root = json_object();
    json_t *trees = json_array();
    if (!root || !trees || json_object_set_new(root, "model", json_string("iforest")) ||
        json_object_set_new(root, "version", json_integer(1)) ||
        json_object_set_new(root, "dim", json_integer((json_int_t)m->dim)) ||
        json_object_set_new(root, "sample_size", json_integer((json_int_t)m->sample_size)) ||
        json_object_set(root, "trees", trees))
        goto oom;
    for (int t = 0; t < m->n_trees; t++) {
        uint32_t off = m->tree_off[t], end = m->tree_off[t + 1];
        /* Each container is attached before it is filled: on failure one
         * decref of root frees everything. */
        json_t *tr = json_object();
        if (json_array_append_new(trees, tr))
            goto oom;
        json_t *F = json_array(), *T = json_array(), *L = json_array(), *R = json_array();
        json_t *S = json_array();
        if (json_object_set_new(tr, "feature", F) | json_object_set_new(tr, "threshold", T) |
            json_object_set_new(tr, "left", L) | json_object_set_new(tr, "right", R) |
            json_object_set_new(tr, "size", S))
            goto oom;
        for (uint32_t i = off; i < end; i++) {
            const struct node *nd = &m->nodes[i];
            int leaf = nd->feature < 0;
            if (json_array_append_new(F, json_integer(nd->feature)) ||
                json_array_append_new(T, json_real(leaf ? 0.0 : (double)nd->threshold)) ||
                json_array_append_new(L, json_integer(leaf ? 0 : nd->left - off)) ||
                json_array_append_new(R, json_integer(leaf ? 0 : nd->right - off)) ||
                json_array_append_new(S, json_integer(nd->size)))
                goto oom;
        }
    }
    json_decref(trees);
    return root;
oom:
    json_decref(trees);
    json_decref(root);
    return NULL;
}

static int get_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out,
                   tl_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return tl_err_set(err, TL_EPARSE,
                          "isolation forest JSON: \"%s\" must be an integer in %lld .. %lld", key,
                          (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

static const json_t *tree_array(const json_t *tr, const char *key, size_t t, tl_err *err)
{
    const json_t *a = json_object_get(tr, key);
    if (!json_is_array(a)) {
        tl_err_set(err, TL_EPARSE, "isolation forest JSON: tree %zu: \"%s\" is not an array", t,
                   key);
        return NULL;
    }
    return a;
}

/* Integer element i of a, in lo .. hi. */
static int elem_int(const json_t *a, size_t i, json_int_t lo, json_int_t hi, json_int_t *out)
{
    const json_t *v = json_array_get(a, i);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

/* Reads tree t (already checked to have cnt nodes in every array) into
 * m->nodes[off ..]; parents is cnt bytes of scratch. */
static int read_tree(tl_iforest *m, const json_t *tr, size_t t, uint32_t off, size_t cnt,
                     uint8_t *parents, tl_err *err)
{
    const json_t *F = json_object_get(tr, "feature"), *T = json_object_get(tr, "threshold");
    const json_t *L = json_object_get(tr, "left"), *R = json_object_get(tr, "right");
    const json_t *S = json_object_get(tr, "size");
    memset(parents, 0, cnt);
    for (size_t i = 0; i < cnt; i++) {
        json_int_t f = 0, l = 0, r = 0, s = 0;
        const char *what = NULL;
        const json_t *tv = json_array_get(T, i);
        double thr = json_is_number(tv) ? json_number_value(tv) : NAN;
        if (elem_int(F, i, -1, (json_int_t)m->dim - 1, &f))
            what = "feature";
        else if (elem_int(S, i, 1, (json_int_t)m->sample_size, &s))
            what = "size";
        else if (!isfinite(thr) || (double)(float)thr != thr)
            what = "threshold";
        else if (f < 0 && (elem_int(L, i, 0, 0, &l) || elem_int(R, i, 0, 0, &r) || thr != 0.0))
            what = "leaf";
        else if (f >= 0 && elem_int(L, i, (json_int_t)i + 1, (json_int_t)cnt - 1, &l))
            what = "left";
        else if (f >= 0 && elem_int(R, i, (json_int_t)i + 1, (json_int_t)cnt - 1, &r))
            what = "right";
        else if (f >= 0 && (l == r || ++parents[l] > 1 || ++parents[r] > 1))
            what = "child with two parents";
        if (what)
            return tl_err_set(err, TL_EPARSE,
                              "isolation forest JSON: tree %zu node %zu: bad %s", t, i, what);
        struct node *nd = &m->nodes[off + i];
        *nd = (struct node){.feature = (int32_t)f, .size = (uint32_t)s};
        if (f < 0) {
            nd->adj = tl_iforest_c((size_t)s);
        } else {
            nd->threshold = (float)thr;
            nd->left = off + (uint32_t)l;
            nd->right = off + (uint32_t)r;
        }
    }
    for (size_t i = 1; i < cnt; i++)
        if (parents[i] != 1)
            return tl_err_set(err, TL_EPARSE,
                              "isolation forest JSON: tree %zu node %zu: no parent", t, i);
    return 0;
}

int tl_iforest_from_json(const json_t *j, tl_iforest **out, tl_err *err)
{
    if (!json_is_object(j))
        return tl_err_set(err, TL_EPARSE, "isolation forest JSON: not an object");
    const char *kind = json_string_value(json_object_get(j, "model"));
    if (!kind || strcmp(kind, "iforest") != 0)
        return tl_err_set(err, TL_EPARSE, "isolation forest JSON: \"model\" is not \"iforest\"");
    json_int_t version = 0, dim = 0, psi = 0;
    int rc = get_int(j, "version", 1, 1, &version, err);
    if (!rc)
        rc = get_int(j, "dim", 1, (json_int_t)MAX_DIM, &dim, err);
    if (!rc)
        rc = get_int(j, "sample_size", 2, (json_int_t)MAX_SAMPLE, &psi, err);
    if (rc)
        return rc;
    const json_t *trees = json_object_get(j, "trees");
    size_t n_trees = json_array_size(trees);
    if (!json_is_array(trees) || n_trees < 1 || n_trees > MAX_TREES)
        return tl_err_set(err, TL_EPARSE,
                          "isolation forest JSON: \"trees\" must be an array of 1 .. %d trees",
                          MAX_TREES);
    /* Check every length before allocating anything (habit 7). */
    size_t total = 0, max_cnt = 0, per_tree = 2 * (size_t)psi - 1;
    static const char *const keys[] = {"feature", "threshold", "left", "right", "size"};
    for (size_t t = 0; t < n_trees; t++) {
        const json_t *tr = json_array_get(trees, t);
        if (!json_is_object(tr))
            return tl_err_set(err, TL_EPARSE, "isolation forest JSON: tree %zu is not an object",
                              t);
        size_t cnt = 0;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const json_t *a = tree_array(tr, keys[k], t, err);
            if (!a)
                return TL_EPARSE;
            if (k == 0)
                cnt = json_array_size(a);
            else if (json_array_size(a) != cnt)
                return tl_err_set(err, TL_EPARSE,
                                  "isolation forest JSON: tree %zu: \"%s\" has %zu nodes, "
                                  "\"feature\" %zu",
                                  t, keys[k], json_array_size(a), cnt);
        }
        if (cnt < 1 || cnt > per_tree)
            return tl_err_set(err, TL_EPARSE,
                              "isolation forest JSON: tree %zu has %zu nodes (need 1 .. %zu)", t,
                              cnt, per_tree);
        total += cnt;
        if (cnt > max_cnt)
            max_cnt = cnt;
    }
    if (total > MAX_NODES)
        return tl_err_set(err, TL_ETOOBIG, "isolation forest JSON: %zu nodes exceed %zu", total,
                          MAX_NODES);
    tl_iforest *m = alloc_model((size_t)dim, (size_t)psi, (int)n_trees, total);
    uint8_t *parents = malloc(max_cnt);
    if (!m || !parents) {
        rc = tl_err_set(err, TL_ENOMEM, "isolation forest JSON: out of memory for %zu nodes",
                        total);
        goto done;
    }
    uint32_t off = 0;
    for (size_t t = 0; t < n_trees; t++) {
        const json_t *tr = json_array_get(trees, t);
        size_t cnt = json_array_size(json_object_get(tr, "feature"));
        m->tree_off[t] = off;
        rc = read_tree(m, tr, t, off, cnt, parents, err);
        if (rc)
            goto done;
        off += (uint32_t)cnt;
    }
    m->tree_off[n_trees] = off;
    *out = m;
    m = NULL;
done:
    free(parents);
    tl_iforest_free(m);
    return rc;
}
