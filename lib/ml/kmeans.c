/*
 * kmeans.c - k-means++ seeding, Lloyd iterations, silhouette and
 * standardization (see ml_kmeans.h).
 *
 * Sums run in row order in double precision and every random draw comes from
 * one tl_rng stream, so the same inputs and seed give the same clusters on
 * every machine.
 */
#include <teller/ml_kmeans.h>
#include <teller/ml_stats.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sqdist(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

size_t tl_kmeans_assign(const double *centroids, size_t k, size_t d, const double *x)
{
    size_t best = 0;
    double bd = INFINITY;
    for (size_t c = 0; c < k; c++) {
        double dist = sqdist(centroids + c * d, x, d);
        if (dist < bd) {
            bd = dist;
            best = c;
        }
    }
    return best;
}

/* k-means++: D^2 sampling. mind (n) is scratch. */
static void seed_pp(const double *X, size_t n, size_t d, size_t k, tl_rng *r, double *C, double *mind)
{
    size_t first = (size_t)tl_rng_below(r, n);
    memcpy(C, X + first * d, d * sizeof *C);
    for (size_t i = 0; i < n; i++)
        mind[i] = sqdist(X + i * d, C, d);
    for (size_t c = 1; c < k; c++) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            total += mind[i];
        size_t pick = n - 1;
        if (total > 0) {
            double u = tl_rng_uniform(r) * total, acc = 0;
            for (size_t i = 0; i < n; i++) {
                acc += mind[i];
                if (acc > u) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (size_t)tl_rng_below(r, n); /* every row sits on a centre already */
        }
        double *cc = C + c * d;
        memcpy(cc, X + pick * d, d * sizeof *cc);
        for (size_t i = 0; i < n; i++) {
            double dist = sqdist(X + i * d, cc, d);
            if (dist < mind[i])
                mind[i] = dist;
        }
    }
}

/* One run of Lloyd from seeded centres. Returns the inertia. */
static double lloyd(const double *X, size_t n, size_t d, size_t k, size_t max_iter, double tol,
                    double *C, uint32_t *lab, double *sum, size_t *cnt, size_t *iters, bool *converged)
{
    *converged = false;
    size_t it = 0;
    for (; it < max_iter; it++) {
        for (size_t i = 0; i < n; i++)
            lab[i] = (uint32_t)tl_kmeans_assign(C, k, d, X + i * d);
        memset(sum, 0, k * d * sizeof *sum);
        memset(cnt, 0, k * sizeof *cnt);
        for (size_t i = 0; i < n; i++) {
            double *s = sum + (size_t)lab[i] * d;
            const double *x = X + i * d;
            for (size_t j = 0; j < d; j++)
                s[j] += x[j];
            cnt[lab[i]]++;
        }
        double moved = 0;
        for (size_t c = 0; c < k; c++) {
            double *cc = C + c * d;
            if (cnt[c] == 0) {
                /* an empty cluster restarts on the row worst served */
                size_t far = 0;
                double fd = -1;
                for (size_t i = 0; i < n; i++) {
                    double dist = sqdist(X + i * d, C + (size_t)lab[i] * d, d);
                    if (dist > fd) {
                        fd = dist;
                        far = i;
                    }
                }
                memcpy(cc, X + far * d, d * sizeof *cc);
                moved = INFINITY;
                continue;
            }
            double m2 = 0;
            for (size_t j = 0; j < d; j++) {
                double v = sum[c * d + j] / (double)cnt[c];
                double t = v - cc[j];
                m2 += t * t;
                cc[j] = v;
            }
            if (m2 > moved)
                moved = m2;
        }
        if (sqrt(moved) <= tol) {
            *converged = true;
            it++;
            break;
        }
    }
    *iters = it;
    double inertia = 0;
    for (size_t i = 0; i < n; i++) {
        lab[i] = (uint32_t)tl_kmeans_assign(C, k, d, X + i * d);
        inertia += sqdist(X + i * d, C + (size_t)lab[i] * d, d);
    }
    return inertia;
}

int tl_kmeans_fit(const double *X, size_t n, size_t d, const struct tl_kmeans_opts *opts,
                  double *centroids, uint32_t *labels, struct tl_kmeans_result *res, tl_err *err)
{
    if (res)
        *res = (struct tl_kmeans_result){0};
    size_t k = opts ? opts->k : 0;
    if (k < 1 || k > TL_KMEANS_MAX_K)
        return tl_err_set(err, TL_EINVAL, "k-means: k = %zu, must be 1 to %d", k, TL_KMEANS_MAX_K);
    if (d < 1 || d > TL_KMEANS_MAX_D)
        return tl_err_set(err, TL_EINVAL, "k-means: %zu columns, must be 1 to %d", d, TL_KMEANS_MAX_D);
    if (n < k)
        return tl_err_set(err, TL_EINVAL, "k-means: %zu rows cannot make %zu clusters", n, k);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return tl_err_set(err, TL_EINVAL, "k-means: row %zu, column %zu is not a finite number",
                                  i, j);
    size_t max_iter = opts->max_iter ? opts->max_iter : 100;
    size_t n_init = opts->n_init ? opts->n_init : 4;
    double tol = opts->tol > 0 ? opts->tol : 1e-9;

    double *C = malloc(k * d * sizeof *C), *sum = malloc(k * d * sizeof *sum);
    double *mind = malloc(n * sizeof *mind);
    size_t *cnt = malloc(k * sizeof *cnt);
    uint32_t *lab = malloc(n * sizeof *lab);
    if (!C || !sum || !mind || !cnt || !lab) {
        free(C), free(sum), free(mind), free(cnt), free(lab);
        return tl_err_set(err, TL_ENOMEM, "k-means: out of memory for %zu rows x %zu columns", n, d);
    }
    tl_rng r;
    tl_rng_seed(&r, opts->seed);
    double best = INFINITY;
    for (size_t run = 0; run < n_init; run++) {
        seed_pp(X, n, d, k, &r, C, mind);
        size_t iters = 0;
        bool conv = false;
        double inertia = lloyd(X, n, d, k, max_iter, tol, C, lab, sum, cnt, &iters, &conv);
        if (inertia < best) {
            best = inertia;
            memcpy(centroids, C, k * d * sizeof *C);
            memcpy(labels, lab, n * sizeof *lab);
            if (res)
                *res = (struct tl_kmeans_result){.inertia = inertia, .iters = iters, .converged = conv};
        }
    }
    free(C), free(sum), free(mind), free(cnt), free(lab);
    return 0;
}

int tl_kmeans_silhouette(const double *X, size_t n, size_t d, const uint32_t *labels, size_t k,
                         size_t sample, uint64_t seed, double *out, tl_err *err)
{
    *out = 0;
    if (k < 2 || k > TL_KMEANS_MAX_K)
        return tl_err_set(err, TL_EINVAL, "silhouette: k = %zu, needs 2 to %d clusters", k,
                          TL_KMEANS_MAX_K);
    size_t m = sample > 0 && n > sample ? sample : n;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    double *dsum = malloc(k * sizeof *dsum);
    size_t *csize = calloc(k, sizeof *csize);
    if (!idx || !dsum || !csize) {
        free(idx), free(dsum), free(csize);
        return tl_err_set(err, TL_ENOMEM, "silhouette: out of memory for %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= k) {
            free(idx), free(dsum), free(csize);
            return tl_err_set(err, TL_EINVAL, "silhouette: row %zu has label %u, not below k = %zu", i,
                              labels[i], k);
        }
        idx[i] = i;
    }
    if (m < n) {
        tl_rng r;
        tl_rng_seed(&r, seed);
        tl_rng_shuffle(&r, idx, n);
    }
    size_t present = 0;
    for (size_t a = 0; a < m; a++)
        if (csize[labels[idx[a]]]++ == 0)
            present++;
    if (present < 2) {
        free(idx), free(dsum), free(csize);
        return tl_err_set(err, TL_EINVAL, "silhouette: the rows fall in %zu cluster; it needs two",
                          present);
    }
    double total = 0;
    for (size_t a = 0; a < m; a++) {
        size_t i = idx[a];
        memset(dsum, 0, k * sizeof *dsum);
        for (size_t b = 0; b < m; b++) {
            size_t j = idx[b];
            if (j != i)
                dsum[labels[j]] += sqrt(sqdist(X + i * d, X + j * d, d));
        }
        uint32_t own = labels[i];
        if (csize[own] < 2)
            continue; /* a singleton scores 0 */
        double ai = dsum[own] / (double)(csize[own] - 1), bi = INFINITY;
        for (size_t c = 0; c < k; c++)
            if (c != own && csize[c] > 0 && dsum[c] / (double)csize[c] < bi)
                bi = dsum[c] / (double)csize[c];
        double mx = ai > bi ? ai : bi;
        total += mx > 0 ? (bi - ai) / mx : 0;
    }
    *out = total / (double)m;
    free(idx), free(dsum), free(csize);
    return 0;
}

void tl_kmeans_standardize_fit(const double *X, size_t n, size_t d, double *mean, double *sd)
{
    for (size_t j = 0; j < d; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += X[i * d + j];
        mean[j] = n ? s / (double)n : 0;
        double v = 0;
        for (size_t i = 0; i < n; i++) {
            double t = X[i * d + j] - mean[j];
            v += t * t;
        }
        sd[j] = n ? sqrt(v / (double)n) : 0;
        if (sd[j] < 1e-12 * (fabs(mean[j]) + 1))
            sd[j] = 0; /* constant up to rounding */
    }
}

void tl_kmeans_standardize_apply(double *X, size_t n, size_t d, const double *mean, const double *sd)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = sd[j] > 0 ? (X[i * d + j] - mean[j]) / sd[j] : 0;
}
