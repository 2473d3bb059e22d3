/*
 * pf_alloc.c - discrete allocation of cash into whole shares.
 *
 * Greedy follows PyPortfolioOpt step by step (stable sort by weight,
 * floor round, then one share at a time to the largest deficit) so its
 * allocations match. The integer program min sum|w_i V - x_i p_i| + r,
 * r = V - p'x >= 0, reduces exactly to a 0/1 knapsack: with weights summing
 * to one, each x_i is floor(a_i/p_i) or that plus one (a_i = w_i V); the
 * extra share of i is worth a_i - floor_i p_i of objective for p_i of cash
 * (buying past a_i/p_i costs cash and gains nothing). The knapsack is
 * solved exactly by depth-first branch and bound with the fractional
 * (LP) bound.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_alloc(size_t n, const double *w, const double *prices, double total,
                       double short_ratio, tl_err *err)
{
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "allocation: no assets");
    if (!w || !prices)
        return tl_err_set(err, TL_EINVAL, "allocation: weights and prices are required");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(w[i]))
            return tl_err_set(err, TL_EINVAL, "weights[%zu] is not a finite number", i);
        if (!isfinite(prices[i]) || !(prices[i] > 0))
            return tl_err_set(err, TL_EINVAL, "prices[%zu] = %g must be a positive number", i,
                              prices[i]);
    }
    if (!isfinite(total) || !(total > 0))
        return tl_err_set(err, TL_EINVAL, "total portfolio value %g must be greater than zero",
                          total);
    if (!isnan(short_ratio) && !(short_ratio >= 0 && isfinite(short_ratio)))
        return tl_err_set(err, TL_EINVAL, "short ratio %g must be >= 0", short_ratio);
    return 0;
}

typedef struct item {
    size_t i;
    double w;
} item;

/* long-only greedy on (index, weight) already sorted descending */
static void greedy_long(const item *it, size_t k, const double *prices, double V, int64_t *sh,
                        double *cur, double *deficit, double *left)
{
    double funds = V;
    for (size_t a = 0; a < k; a++) {
        double p = prices[it[a].i];
        int64_t x = (int64_t)(it[a].w * V / p);
        sh[a] = x;
        funds -= (double)x * p;
    }
    while (funds > 0) {
        double tot = 0;
        for (size_t a = 0; a < k; a++) {
            cur[a] = prices[it[a].i] * (double)sh[a];
            tot += cur[a];
        }
        for (size_t a = 0; a < k; a++)
            deficit[a] = it[a].w - cur[a] / tot;
        size_t idx = 0;
        for (size_t a = 1; a < k; a++)
            if (deficit[a] > deficit[idx])
                idx = a;
        double p = prices[it[idx].i];
        int counter = 0;
        while (p > funds) {
            deficit[idx] = 0;
            idx = 0;
            for (size_t a = 1; a < k; a++)
                if (deficit[a] > deficit[idx])
                    idx = a;
            if (deficit[idx] < 0 || counter == 10)
                break;
            p = prices[it[idx].i];
            counter++;
        }
        if (deficit[idx] <= 0 || counter == 10)
            break;
        sh[idx]++;
        funds -= p;
    }
    *left = funds;
}

typedef struct kn {
    size_t k;
    const double *val, *cost; /* sorted by val/cost descending */
    double cap, best;
    char *take, *besttake;
    size_t nodes;
} kn;

static void knap(kn *K, size_t a, double val, double cap)
{
    if (++K->nodes > 2000000)
        return;
    if (val > K->best) {
        K->best = val;
        memcpy(K->besttake, K->take, K->k);
    }
    if (a == K->k)
        return;
    /* fractional bound */
    double bound = val, c = cap;
    for (size_t b = a; b < K->k; b++) {
        if (K->cost[b] <= c) {
            c -= K->cost[b];
            bound += K->val[b];
        } else {
            bound += K->val[b] * c / K->cost[b];
            break;
        }
    }
    if (bound <= K->best + 1e-12)
        return;
    if (K->cost[a] <= cap) {
        K->take[a] = 1;
        knap(K, a + 1, val + K->val[a], cap - K->cost[a]);
        K->take[a] = 0;
    }
    knap(K, a + 1, val, cap);
}

typedef struct kitem {
    size_t a;
    double val, cost;
} kitem;

static int cmp_kitem(const void *x, const void *y)
{
    const kitem *p = x, *q = y;
    double rp = p->val / p->cost, rq = q->val / q->cost;
    if (rp != rq)
        return rp > rq ? -1 : 1;
    return p->a < q->a ? -1 : p->a > q->a;
}

static int integer_long(const item *it, size_t k, const double *prices, double V, int64_t *sh,
                        double *left, tl_err *err)
{
    double spent = 0;
    kitem *ki = malloc((k + 1) * sizeof *ki);
    double *val = malloc((k + 1) * sizeof *val), *cost = malloc((k + 1) * sizeof *cost);
    char *take = calloc(k + 1, 1), *bt = calloc(k + 1, 1);
    int rc = 0;
    if (!ki || !val || !cost || !take || !bt) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    size_t nk = 0;
    for (size_t a = 0; a < k; a++) {
        double p = prices[it[a].i], tgt = it[a].w * V;
        int64_t f = (int64_t)floor(tgt / p);
        if (f < 0)
            f = 0;
        sh[a] = f;
        spent += (double)f * p;
        double gain = tgt - (double)f * p;
        if (gain > 0) {
            ki[nk].a = a;
            ki[nk].val = gain;
            ki[nk].cost = p;
            nk++;
        }
    }
    qsort(ki, nk, sizeof *ki, cmp_kitem);
    for (size_t b = 0; b < nk; b++) {
        val[b] = ki[b].val;
        cost[b] = ki[b].cost;
    }
    kn K = {nk, val, cost, V - spent, 0, take, bt, 0};
    if (K.cap > 0)
        knap(&K, 0, 0, K.cap);
    if (K.nodes > 2000000) {
        rc = tl_err_set(err, TL_ETOOBIG, "integer allocation: the search passed 2000000 nodes; "
                        "use the greedy allocation");
        goto out;
    }
    for (size_t b = 0; b < nk; b++)
        if (bt[b]) {
            sh[ki[b].a]++;
            spent += cost[b];
        }
    *left = V - spent;
out:
    free(ki);
    free(val);
    free(cost);
    free(take);
    free(bt);
    return rc;
}

static int cmp_item_desc(const void *x, const void *y)
{
    const item *p = x, *q = y;
    if (p->w != q->w)
        return p->w > q->w ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i; /* stable */
}

static int alloc(int integer, size_t n, const double *w, const double *prices, double total,
                 double short_ratio, bool reinvest, int64_t *shares, double *leftover,
                 tl_err *err)
{
    int rc;
    if ((rc = check_alloc(n, w, prices, total, short_ratio, err)) < 0)
        return rc;
    item *it = malloc(n * sizeof *it);
    int64_t *sh = malloc(n * sizeof *sh);
    double *cur = malloc(n * sizeof *cur), *def = malloc(n * sizeof *def);
    if (!it || !sh || !cur || !def) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        it[i].i = i;
        it[i].w = w[i];
    }
    qsort(it, n, sizeof *it, cmp_item_desc);
    memset(shares, 0, n * sizeof *shares);
    size_t nl = 0;
    double lsum = 0, ssum = 0;
    for (size_t a = 0; a < n; a++) {
        if (it[a].w >= 0) {
            nl++;
            lsum += it[a].w;
        } else {
            ssum += -it[a].w;
        }
    }
    double left = 0;
    if (nl == n) {
        if (integer)
            rc = integer_long(it, n, prices, total, sh, &left, err);
        else
            greedy_long(it, n, prices, total, sh, cur, def, &left);
        if (rc == 0)
            for (size_t a = 0; a < n; a++)
                shares[it[a].i] = sh[a];
    } else {
        if (isnan(short_ratio))
            short_ratio = ssum;
        if (!(lsum > 0)) {
            rc = tl_err_set(err, TL_EINVAL, "allocation: the long weights sum to zero");
            goto out;
        }
        double short_val = total * short_ratio, long_val = total + (reinvest ? short_val : 0);
        /* longs: it[0..nl) normalised; shorts: it[nl..n) as positive weights,
         * sorted descending like upstream's re-sort of the short dict */
        for (size_t a = 0; a < nl; a++)
            it[a].w /= lsum;
        item *shorts = it + nl;
        size_t ns = n - nl;
        for (size_t a = 0; a < ns; a++)
            shorts[a].w = -shorts[a].w / ssum;
        qsort(shorts, ns, sizeof *shorts, cmp_item_desc);
        double l1 = 0, l2 = 0;
        if (integer)
            rc = integer_long(it, nl, prices, long_val, sh, &l1, err);
        else
            greedy_long(it, nl, prices, long_val, sh, cur, def, &l1);
        if (rc < 0)
            goto out;
        for (size_t a = 0; a < nl; a++)
            shares[it[a].i] = sh[a];
        if (short_val > 0) {
            if (integer)
                rc = integer_long(shorts, ns, prices, short_val, sh, &l2, err);
            else
                greedy_long(shorts, ns, prices, short_val, sh, cur, def, &l2);
            if (rc < 0)
                goto out;
            for (size_t a = 0; a < ns; a++)
                shares[shorts[a].i] = -sh[a];
        }
        left = l1 + l2;
    }
    if (rc == 0 && leftover)
        *leftover = left;
out:
    free(it);
    free(sh);
    free(cur);
    free(def);
    return rc;
}

int tl_pf_alloc_greedy(size_t n, const double *w, const double *prices, double total,
                       double short_ratio, bool reinvest, int64_t *shares, double *leftover,
                       tl_err *err)
{
    return alloc(0, n, w, prices, total, short_ratio, reinvest, shares, leftover, err);
}

int tl_pf_alloc_integer(size_t n, const double *w, const double *prices, double total,
                        double short_ratio, bool reinvest, int64_t *shares, double *leftover,
                        tl_err *err)
{
    return alloc(1, n, w, prices, total, short_ratio, reinvest, shares, leftover, err);
}

int tl_pf_alloc_rmse(size_t n, const double *w, const double *prices, const int64_t *shares,
                     double *out, tl_err *err)
{
    int rc;
    if ((rc = check_alloc(n, w, prices, 1, NAN, err)) < 0)
        return rc;
    double val = 0;
    for (size_t i = 0; i < n; i++)
        val += (double)shares[i] * prices[i];
    if (val == 0)
        return tl_err_set(err, TL_EINVAL, "allocation holds no shares");
    double sse = 0;
    for (size_t i = 0; i < n; i++) {
        double d = w[i] - (double)shares[i] * prices[i] / val;
        sse += d * d;
    }
    *out = sqrt(sse / (double)n);
    return 0;
}
