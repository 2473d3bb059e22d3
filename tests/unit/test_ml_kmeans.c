/*
 * test_ml_kmeans.c - k-means++ and Lloyd on separated blobs (clusters
 * recovered, k recovered by silhouette), determinism for a seed, the
 * silhouette against a hand-computed value and its sampled form,
 * standardization, bad input named.
 */
#include <criterion/criterion.h>

#include <teller/ml_kmeans.h>
#include <teller/ml_stats.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n rows of d columns around `centres` (c, d) with unit noise; truth (n) */
static double *blobs(size_t n, size_t d, size_t c, double spread, uint64_t seed, uint32_t *truth)
{
    double *X = malloc(n * d * sizeof *X);
    tl_rng r;
    tl_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        truth[i] = (uint32_t)(i % c);
        for (size_t j = 0; j < d; j++) {
            double u1 = tl_rng_uniform(&r) + 1e-12, u2 = tl_rng_uniform(&r);
            double g = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            double centre = (j == truth[i] % d ? spread : 0) + (double)truth[i] * (j == 0 ? 1 : 0);
            X[i * d + j] = centre + g;
        }
    }
    return X;
}

/* every cluster maps to exactly one true class */
static double purity(const uint32_t *lab, const uint32_t *truth, size_t n, size_t k)
{
    size_t hit = 0;
    for (size_t c = 0; c < k; c++) {
        size_t cnt[16] = {0}, best = 0;
        for (size_t i = 0; i < n; i++)
            if (lab[i] == c)
                cnt[truth[i]]++;
        for (size_t t = 0; t < 16; t++)
            if (cnt[t] > best)
                best = cnt[t];
        hit += best;
    }
    return (double)hit / (double)n;
}

Test(kmeans, recovers_separated_blobs)
{
    size_t n = 600, d = 3, k = 3;
    uint32_t *truth = malloc(n * sizeof *truth), *lab = malloc(n * sizeof *lab);
    double *X = blobs(n, d, k, 12, 1, truth);
    double C[9];
    struct tl_kmeans_opts o = TL_KMEANS_OPTS_DEFAULT;
    o.k = k;
    o.seed = 5;
    struct tl_kmeans_result res;
    tl_err err = {0};
    cr_assert_eq(tl_kmeans_fit(X, n, d, &o, C, lab, &res, &err), 0, "%s", err.msg);
    cr_assert(res.converged);
    cr_assert_gt(purity(lab, truth, n, k), 0.99, "purity %f", purity(lab, truth, n, k));
    /* inertia ~ n * d * noise variance for the right clusters */
    cr_assert_lt(res.inertia / (double)(n * d), 1.3, "inertia per value %f", res.inertia / (double)(n * d));
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lab[i], tl_kmeans_assign(C, k, d, X + i * d), "labels are nearest centroids");
    free(X), free(truth), free(lab);
}

Test(kmeans, silhouette_chooses_the_true_k)
{
    size_t n = 400, d = 4, truek = 4;
    uint32_t *truth = malloc(n * sizeof *truth), *lab = malloc(n * sizeof *lab);
    double *X = blobs(n, d, truek, 10, 2, truth);
    double C[8 * 4];
    tl_err err = {0};
    double best = -2;
    size_t best_k = 0;
    for (size_t k = 2; k <= 8; k++) {
        struct tl_kmeans_opts o = TL_KMEANS_OPTS_DEFAULT;
        o.k = k;
        o.seed = 9;
        cr_assert_eq(tl_kmeans_fit(X, n, d, &o, C, lab, NULL, &err), 0, "%s", err.msg);
        double s;
        cr_assert_eq(tl_kmeans_silhouette(X, n, d, lab, k, 0, 0, &s, &err), 0, "%s", err.msg);
        if (s > best) {
            best = s;
            best_k = k;
        }
    }
    cr_assert_eq(best_k, truek, "silhouette picked %zu", best_k);
    cr_assert_gt(best, 0.6);
    free(X), free(truth), free(lab);
}

Test(kmeans, same_seed_same_clusters_other_seed_same_partition)
{
    size_t n = 300, d = 2, k = 3;
    uint32_t *truth = malloc(n * sizeof *truth);
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    double *X = blobs(n, d, k, 9, 3, truth);
    double Ca[6], Cb[6];
    struct tl_kmeans_opts o = TL_KMEANS_OPTS_DEFAULT;
    o.k = k;
    o.seed = 77;
    tl_err err = {0};
    cr_assert_eq(tl_kmeans_fit(X, n, d, &o, Ca, a, NULL, &err), 0);
    cr_assert_eq(tl_kmeans_fit(X, n, d, &o, Cb, b, NULL, &err), 0);
    cr_assert_eq(memcmp(Ca, Cb, sizeof Ca), 0, "bit-identical centroids");
    cr_assert_eq(memcmp(a, b, n * sizeof *a), 0);
    free(X), free(truth), free(a), free(b);
}

Test(kmeans, silhouette_matches_the_hand_computed_value)
{
    /* 1-D: {0, 1} and {10, 11}. s(0) = (10.5 - 1) / 10.5, s(1) = (9.5 - 1) / 9.5,
     * symmetric for the other two */
    double X[] = {0, 1, 10, 11};
    uint32_t lab[] = {0, 0, 1, 1};
    double s;
    tl_err err = {0};
    cr_assert_eq(tl_kmeans_silhouette(X, 4, 1, lab, 2, 0, 0, &s, &err), 0, "%s", err.msg);
    double want = ((10.5 - 1) / 10.5 + (9.5 - 1) / 9.5) / 2;
    cr_assert_float_eq(s, want, 1e-12, "%.15f vs %.15f", s, want);
    /* a singleton scores 0 */
    uint32_t lab2[] = {0, 1, 1, 1};
    cr_assert_eq(tl_kmeans_silhouette(X, 4, 1, lab2, 2, 0, 0, &s, &err), 0);
    double s1 = (1 - 0.0) * 0, s2 = 0, tot;
    (void)s1;
    /* row 1: a = (9 + 10) / 2, b = 1 */
    s2 = (1 - 9.5) / 9.5;
    /* rows 10 and 11: a = mean(9, 1) / mean(10, 1), b = 10 / 11 */
    double s3 = (10 - 5.0) / 10, s4 = (11 - 5.5) / 11;
    tot = (0 + s2 + s3 + s4) / 4;
    cr_assert_float_eq(s, tot, 1e-12, "%.15f vs %.15f", s, tot);
}

Test(kmeans, sampled_silhouette_is_deterministic_and_close)
{
    size_t n = 3000, d = 3, k = 3;
    uint32_t *truth = malloc(n * sizeof *truth);
    double *X = blobs(n, d, k, 6, 4, truth);
    double full, s1, s2;
    tl_err err = {0};
    cr_assert_eq(tl_kmeans_silhouette(X, n, d, truth, k, 0, 0, &full, &err), 0);
    cr_assert_eq(tl_kmeans_silhouette(X, n, d, truth, k, 500, 11, &s1, &err), 0);
    cr_assert_eq(tl_kmeans_silhouette(X, n, d, truth, k, 500, 11, &s2, &err), 0);
    cr_assert_eq(s1, s2);
    cr_assert_lt(fabs(s1 - full), 0.05, "sampled %f full %f", s1, full);
    free(X), free(truth);
}

Test(kmeans, standardize_gives_zero_mean_unit_sd_and_drops_constants)
{
    double X[] = {1, 5, 7, 2, 5, 9, 3, 5, 11, 4, 5, 13}; /* (4, 3); column 1 constant */
    double mean[3], sd[3];
    tl_kmeans_standardize_fit(X, 4, 3, mean, sd);
    cr_assert_float_eq(mean[0], 2.5, 1e-12);
    cr_assert_eq(sd[1], 0);
    cr_assert_float_eq(sd[2], 2 * sqrt(1.25), 1e-12);
    tl_kmeans_standardize_apply(X, 4, 3, mean, sd);
    for (size_t j = 0; j < 3; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < 4; i++)
            m += X[i * 3 + j] / 4;
        for (size_t i = 0; i < 4; i++)
            v += (X[i * 3 + j] - m) * (X[i * 3 + j] - m) / 4;
        cr_assert_float_eq(m, 0, 1e-12);
        cr_assert_float_eq(v, j == 1 ? 0 : 1, 1e-12);
    }
}

Test(kmeans, bad_input_is_named)
{
    double X[] = {0, 1, 2, NAN, 4, 5};
    double C[6];
    uint32_t lab[3];
    struct tl_kmeans_opts o = TL_KMEANS_OPTS_DEFAULT;
    tl_err err = {0};
    o.k = 2;
    cr_assert_eq(tl_kmeans_fit(X, 3, 2, &o, C, lab, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 1, column 1"), "%s", err.msg);
    o.k = 4;
    X[3] = 3;
    cr_assert_eq(tl_kmeans_fit(X, 3, 2, &o, C, lab, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "3 rows cannot make 4 clusters"), "%s", err.msg);
    o.k = 0;
    cr_assert_eq(tl_kmeans_fit(X, 3, 2, &o, C, lab, NULL, &err), TL_EINVAL);
    uint32_t one[] = {0, 0, 0};
    double s;
    cr_assert_eq(tl_kmeans_silhouette(X, 3, 2, one, 2, 0, 0, &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "needs two"), "%s", err.msg);
    uint32_t bad[] = {0, 5, 1};
    cr_assert_eq(tl_kmeans_silhouette(X, 3, 2, bad, 2, 0, 0, &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 1 has label 5"), "%s", err.msg);
}
