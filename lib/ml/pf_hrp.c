/*
 * pf_hrp.c - hierarchical risk parity and equal risk contribution.
 *
 * HRP copies what PyPortfolioOpt does with scipy so the weights match to
 * round-off: single linkage by scipy's MST algorithm (Prim from leaf 0, a
 * stable sort of the merge heights, union-find relabelling with the smaller
 * root first), leaves in to_tree().pre_order() (left first), then recursive
 * bisection of that flat list (not of the tree) with inverse-variance
 * cluster variances.
 */
#include "ml/pf_solve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tl_pf_hrp_cluster_var(size_t n, const double *cov, const size_t *idx, size_t k, double *out,
                          tl_err *err)
{
    if (!cov || !idx || k == 0)
        return tl_err_set(err, TL_EINVAL, "cluster variance needs a covariance and a non-empty "
                          "cluster");
    double s = 0;
    for (size_t a = 0; a < k; a++) {
        if (idx[a] >= n)
            return tl_err_set(err, TL_EINVAL, "cluster index %zu is not an asset (n = %zu)",
                              idx[a], n);
        double v = cov[idx[a] * n + idx[a]];
        if (!(v > 0))
            return tl_err_set(err, TL_EINVAL, "asset %zu has variance %g; HRP needs positive "
                              "variances", idx[a], v);
        s += 1 / v;
    }
    double var = 0;
    for (size_t a = 0; a < k; a++) {
        double wa = 1 / cov[idx[a] * n + idx[a]] / s;
        double r = 0;
        for (size_t b = 0; b < k; b++)
            r += cov[idx[a] * n + idx[b]] * (1 / cov[idx[b] * n + idx[b]] / s);
        var += wa * r;
    }
    *out = var;
    return 0;
}

typedef struct merge {
    double a, b, h;
} merge;

static int cmp_height(const void *x, const void *y)
{
    const merge *p = x, *q = y;
    return p->h < q->h ? -1 : p->h > q->h;
}

static size_t uf_find(size_t *parent, size_t x)
{
    size_t r = x;
    while (parent[r] != r)
        r = parent[r];
    while (parent[x] != r) {
        size_t nx = parent[x];
        parent[x] = r;
        x = nx;
    }
    return r;
}

int tl_pf_hrp(size_t n, const double *cov, const double *corr, double *w, size_t *order,
              tl_err *err)
{
    int rc;
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "HRP needs at least one asset");
    if ((rc = tl__pf_check_vec(cov, n * n, "covariance", err)) < 0)
        return rc;
    if (corr && (rc = tl__pf_check_vec(corr, n * n, "correlation", err)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!(cov[i * n + i] > 0))
            return tl_err_set(err, TL_EINVAL, "asset %zu has variance %g; HRP needs positive "
                              "variances", i, cov[i * n + i]);
    size_t m = n > 1 ? n - 1 : 0;
    double *D = malloc(n * n * sizeof *D), *best = malloc(n * sizeof *best);
    merge *Z = malloc((m + 1) * sizeof *Z);
    size_t *parent = malloc(2 * n * sizeof *parent), *left = malloc(2 * n * sizeof *left),
           *right = malloc(2 * n * sizeof *right), *ord = malloc(n * sizeof *ord),
           *stack = malloc(2 * n * sizeof *stack), *seg = malloc(4 * n * sizeof *seg);
    char *in = calloc(n, 1);
    if (!D || !best || !Z || !parent || !left || !right || !ord || !stack || !seg || !in) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double c;
            if (corr)
                c = corr[i * n + j];
            else {
                c = cov[i * n + j] / sqrt(cov[i * n + i] * cov[j * n + j]);
                c = nearbyint(c * 1e6) / 1e6;
            }
            double d = (1 - c) / 2;
            d = d < 0 ? 0 : d > 1 ? 1 : d;
            D[i * n + j] = sqrt(d);
        }
    /* scipy's mst_single_linkage */
    for (size_t i = 0; i < n; i++)
        best[i] = INFINITY;
    size_t x = 0;
    for (size_t k = 0; k < m; k++) {
        double cur = INFINITY;
        size_t y = SIZE_MAX;
        in[x] = 1;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            /* condensed distances come from the upper triangle */
            double d = x < i ? D[x * n + i] : D[i * n + x];
            if (best[i] > d)
                best[i] = d;
            if (best[i] < cur) {
                y = i;
                cur = best[i];
            }
        }
        if (y == SIZE_MAX) { /* NaN-free input always finds one */
            rc = tl_err_set(err, TL_EINTERNAL, "HRP linkage found no nearest cluster");
            goto out;
        }
        Z[k].a = (double)x;
        Z[k].b = (double)y;
        Z[k].h = cur;
        x = y;
    }
    /* stable sort by height (mergesort in scipy): insertion sort keeps ties */
    for (size_t i = 1; i < m; i++) {
        merge t = Z[i];
        size_t j = i;
        while (j > 0 && cmp_height(&Z[j - 1], &t) > 0) {
            Z[j] = Z[j - 1];
            j--;
        }
        Z[j] = t;
    }
    for (size_t i = 0; i < 2 * n; i++)
        parent[i] = i;
    for (size_t k = 0; k < m; k++) {
        size_t ra = uf_find(parent, (size_t)Z[k].a), rb = uf_find(parent, (size_t)Z[k].b);
        size_t id = n + k;
        left[id] = ra < rb ? ra : rb;
        right[id] = ra < rb ? rb : ra;
        parent[ra] = id;
        parent[rb] = id;
    }
    /* pre-order, left first */
    size_t sp = 0, no = 0;
    stack[sp++] = n > 1 ? 2 * n - 2 : 0;
    while (sp) {
        size_t v = stack[--sp];
        if (v < n) {
            ord[no++] = v;
            continue;
        }
        stack[sp++] = right[v];
        stack[sp++] = left[v];
    }
    /* recursive bisection of the ordered list, level by level like upstream */
    for (size_t i = 0; i < n; i++)
        w[i] = 1;
    size_t ns = 0;
    seg[ns++] = 0;
    seg[ns++] = n;
    while (ns) {
        size_t nn = 0;
        /* split every segment longer than 1 into two halves */
        size_t *next = seg + 2 * n; /* second half of seg is scratch */
        for (size_t s = 0; s < ns; s += 2) {
            size_t a = seg[s], b = seg[s + 1], len = b - a;
            if (len <= 1)
                continue;
            next[nn++] = a;
            next[nn++] = a + len / 2;
            next[nn++] = a + len / 2;
            next[nn++] = b;
        }
        for (size_t s = 0; s < nn; s += 4) {
            double v1, v2;
            if ((rc = tl_pf_hrp_cluster_var(n, cov, ord + next[s], next[s + 1] - next[s], &v1,
                                            err)) < 0 ||
                (rc = tl_pf_hrp_cluster_var(n, cov, ord + next[s + 2], next[s + 3] - next[s + 2],
                                            &v2, err)) < 0)
                goto out;
            double alpha = 1 - v1 / (v1 + v2);
            for (size_t i = next[s]; i < next[s + 1]; i++)
                w[ord[i]] *= alpha;
            for (size_t i = next[s + 2]; i < next[s + 3]; i++)
                w[ord[i]] *= 1 - alpha;
        }
        memcpy(seg, next, nn * sizeof *seg);
        ns = nn;
    }
    if (order)
        memcpy(order, ord, n * sizeof *order);
out:
    free(D);
    free(best);
    free(Z);
    free(parent);
    free(left);
    free(right);
    free(ord);
    free(stack);
    free(seg);
    free(in);
    return rc;
}

int tl_pf_erc(size_t n, const double *S, double *w, tl_err *err)
{
    int rc;
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "ERC needs at least one asset");
    if ((rc = tl__pf_check_vec(S, n * n, "covariance matrix S", err)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!(S[i * n + i] > 0))
            return tl_err_set(err, TL_EINVAL, "asset %zu has variance %g; ERC needs positive "
                              "variances", i, S[i * n + i]);
    double *y = malloc(n * sizeof *y), *gr = malloc(n * sizeof *gr), *Hm = malloc(n * n * sizeof *Hm),
           *d = malloc(n * sizeof *d), *yn = malloc(n * sizeof *yn);
    size_t *piv = malloc(n * sizeof *piv);
    if (!y || !gr || !Hm || !d || !yn || !piv) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
        goto out;
    }
    /* F(y) = 1/2 y'Sy - 1/n sum log y; its minimiser has y_i (Sy)_i = 1/n */
    for (size_t i = 0; i < n; i++)
        y[i] = 1 / sqrt(S[i * n + i] * (double)n);
    double inv_n = 1.0 / (double)n;
    int it;
    for (it = 0; it < 200; it++) {
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += S[i * n + j] * y[j];
            gr[i] = s - inv_n / y[i];
            worst = fmax(worst, fabs(y[i] * s - inv_n));
        }
        if (worst <= 1e-14 * inv_n)
            break;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++)
                Hm[i * n + j] = S[i * n + j];
            Hm[i * n + i] += inv_n / (y[i] * y[i]);
            d[i] = -gr[i];
        }
        if (tl__pf_lu(Hm, n, piv) < 0) {
            rc = tl_err_set(err, TL_EINVAL, "ERC: the covariance matrix is singular");
            goto out;
        }
        tl__pf_lu_solve(Hm, n, piv, d);
        /* stay inside y > 0, then backtrack on F */
        double step = 1;
        for (size_t i = 0; i < n; i++)
            if (d[i] < 0 && y[i] + step * d[i] <= 0)
                step = 0.9 * y[i] / -d[i];
        double f0 = 0, slope = 0;
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += S[i * n + j] * y[j];
            f0 += 0.5 * y[i] * s - inv_n * log(y[i]);
            slope += gr[i] * d[i];
        }
        for (int ls = 0; ls < 60; ls++) {
            double f1 = 0;
            for (size_t i = 0; i < n; i++)
                yn[i] = y[i] + step * d[i];
            for (size_t i = 0; i < n; i++) {
                double s = 0;
                for (size_t j = 0; j < n; j++)
                    s += S[i * n + j] * yn[j];
                f1 += 0.5 * yn[i] * s - inv_n * log(yn[i]);
            }
            /* near the optimum F is flat to round-off: judge the step by the
             * risk-contribution residual instead */
            double wn = 0;
            for (size_t i = 0; i < n; i++) {
                double s2 = 0;
                for (size_t j = 0; j < n; j++)
                    s2 += S[i * n + j] * yn[j];
                wn = fmax(wn, fabs(yn[i] * s2 - inv_n));
            }
            if (f1 <= f0 + 1e-4 * step * slope || wn < 0.5 * worst || step < 1e-12)
                break;
            step *= 0.5;
        }
        memcpy(y, yn, n * sizeof *y);
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += y[i];
    for (size_t i = 0; i < n; i++)
        w[i] = y[i] / s;
out:
    free(y);
    free(gr);
    free(Hm);
    free(d);
    free(yn);
    free(piv);
    return rc;
}
