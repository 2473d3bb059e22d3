/* test_ml_stats.c - the seeded generator and the stratified folds and split. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_stats.h>

Test(rng, splitmix_seeding_matches_published_values)
{
    /* splitmix64 from seed 1234567 is the stream of Java's
     * SplittableRandom(1234567).nextLong(), whose first values are published
     * in the OpenJDK tests and Vigna's reference code. */
    tl_rng r;
    tl_rng_seed(&r, 1234567);
    cr_assert_eq(r.s[0], 6457827717110365317ULL);
    cr_assert_eq(r.s[1], 3203168211198807973ULL);
    cr_assert_eq(r.s[2], 9817491932198370423ULL);
    cr_assert_eq(r.s[3], 4593380528125082431ULL);
}

Test(rng, stream_is_fixed)
{
    /* From an independent Python implementation of xoshiro256** (the same
     * one bench/credit_anchor.py carries to rebuild Teller's folds). */
    tl_rng r;
    tl_rng_seed(&r, 42);
    cr_assert_eq(tl_rng_next(&r), 0x15780b2e0c2ec716ULL);
    cr_assert_eq(tl_rng_next(&r), 0x6104d9866d113a7eULL);
    cr_assert_eq(tl_rng_next(&r), 0xae17533239e499a1ULL);
    cr_assert_eq(tl_rng_next(&r), 0xecb8ad4703b360a1ULL);

    static const uint64_t want[12] = {4, 4, 8, 4, 4, 1, 6, 6, 8, 9, 3, 6};
    tl_rng_seed(&r, 7);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(tl_rng_below(&r, 10), want[i], "draw %d", i);
    cr_assert_eq(tl_rng_below(&r, 1000000007), 278185893);
}

Test(rng, uniform_and_below_stay_in_range_and_spread)
{
    tl_rng r;
    tl_rng_seed(&r, 99);
    size_t hist[10] = {0};
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = tl_rng_uniform(&r);
        cr_assert(u >= 0 && u < 1);
        sum += u;
        uint64_t b = tl_rng_below(&r, 10);
        cr_assert_lt(b, 10);
        hist[b]++;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.01);
    for (int b = 0; b < 10; b++)
        cr_assert(hist[b] > 9500 && hist[b] < 10500, "bucket %d has %zu", b, hist[b]);
    cr_assert_eq(tl_rng_below(&r, 0), 0);
    cr_assert_eq(tl_rng_below(&r, 1), 0);
    /* a bound just above 2^63 rejects almost half the raw values */
    uint64_t big = (1ULL << 63) + 12345;
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(tl_rng_below(&r, big), big);
}

Test(rng, shuffle_is_a_permutation)
{
    enum { N = 1000 };
    size_t idx[N], idx2[N];
    for (size_t i = 0; i < N; i++)
        idx[i] = idx2[i] = i;
    tl_rng r, r2;
    tl_rng_seed(&r, 5);
    tl_rng_seed(&r2, 5);
    tl_rng_shuffle(&r, idx, N);
    tl_rng_shuffle(&r2, idx2, N);
    cr_assert_arr_eq(idx, idx2, sizeof idx, "same seed, same order");
    bool seen[N] = {0};
    size_t moved = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert_lt(idx[i], N);
        cr_assert(!seen[idx[i]]);
        seen[idx[i]] = true;
        moved += idx[i] != i;
    }
    cr_assert_gt(moved, N / 2);
    tl_rng_shuffle(&r, idx, 0); /* no-ops */
    tl_rng_shuffle(&r, idx, 1);
}

/* 23 rows, 7 positives: the labels the Python reference was given. */
static void small_labels(uint8_t y[23])
{
    for (int i = 0; i < 23; i++)
        y[i] = (i * 7) % 10 < 3;
}

Test(folds, match_the_python_reference)
{
    /* From the header's rule implemented independently in Python (the
     * Rng and stratified_folds of bench/credit_anchor.py), seeds 42 and 43,
     * k = 3. */
    static const int want42[23] = {1, 0, 2, 2, 0, 1, 1, 2, 1, 0, 0, 2, 1, 0, 1, 0, 1, 0, 2, 1, 2, 0, 2};
    static const int want43[23] = {2, 1, 1, 1, 1, 2, 0, 2, 1, 2, 1, 0, 0, 2, 2, 1, 0, 0, 0, 0, 1, 0, 2};
    uint8_t y[23];
    small_labels(y);
    int fold[23];
    tl_err err = {0};
    cr_assert_eq(tl_ml_stratified_folds(y, 23, 3, 42, fold, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(fold, want42, sizeof fold);
    cr_assert_eq(tl_ml_stratified_folds(y, 23, 3, 43, fold, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(fold, want43, sizeof fold);
}

Test(folds, follow_the_written_rule)
{
    /* The header's rule spelled out again with the public generator. */
    enum { N = 997, K = 5 };
    uint8_t y[N];
    tl_rng g;
    tl_rng_seed(&g, 1);
    for (size_t i = 0; i < N; i++)
        y[i] = tl_rng_uniform(&g) < 0.23;
    int fold[N], want[N];
    tl_err err = {0};
    cr_assert_eq(tl_ml_stratified_folds(y, N, K, 2024, fold, &err), 0, "%s", err.msg);

    size_t cls[2][N], cnt[2] = {0, 0};
    for (size_t i = 0; i < N; i++)
        cls[y[i]][cnt[y[i]]++] = i;
    tl_rng r;
    tl_rng_seed(&r, 2024);
    tl_rng_shuffle(&r, cls[0], cnt[0]);
    tl_rng_shuffle(&r, cls[1], cnt[1]);
    for (size_t j = 0; j < cnt[0]; j++)
        want[cls[0][j]] = (int)(j % K);
    for (size_t j = 0; j < cnt[1]; j++)
        want[cls[1][j]] = (int)((j + cnt[0] % K) % K);
    cr_assert_arr_eq(fold, want, sizeof fold);
}

Test(folds, balanced_deterministic_and_seeded)
{
    enum { N = 1234, K = 7 };
    uint8_t y[N];
    tl_rng g;
    tl_rng_seed(&g, 3);
    for (size_t i = 0; i < N; i++)
        y[i] = tl_rng_uniform(&g) < 0.11;
    int a[N], b[N], c[N];
    tl_err err = {0};
    cr_assert_eq(tl_ml_stratified_folds(y, N, K, 10, a, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_folds(y, N, K, 10, b, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_folds(y, N, K, 11, c, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(a, b, sizeof a, "same seed, same folds");
    size_t differ = 0;
    for (size_t i = 0; i < N; i++)
        differ += a[i] != c[i];
    cr_assert_gt(differ, N / 2, "another seed gives other folds");

    size_t per[K][2] = {{0}}, cnt[2] = {0, 0};
    for (size_t i = 0; i < N; i++) {
        cr_assert(a[i] >= 0 && a[i] < K, "row %zu in one fold", i);
        per[a[i]][y[i]]++;
        cnt[y[i]]++;
    }
    size_t lo[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX}, hi[3] = {0, 0, 0};
    for (int f = 0; f < K; f++) {
        size_t v[3] = {per[f][0], per[f][1], per[f][0] + per[f][1]};
        for (int t = 0; t < 3; t++) {
            lo[t] = v[t] < lo[t] ? v[t] : lo[t];
            hi[t] = v[t] > hi[t] ? v[t] : hi[t];
        }
    }
    for (int t = 0; t < 3; t++)
        cr_assert_leq(hi[t] - lo[t], 1, "fold sizes (%d) within one: %zu..%zu", t, lo[t], hi[t]);
    cr_assert_gt(cnt[1], (size_t)K);
}

Test(folds, bad_input)
{
    uint8_t y[6] = {0, 1, 0, 1, 0, 1};
    int fold[6];
    tl_err err = {0};
    cr_assert_eq(tl_ml_stratified_folds(y, 6, 1, 0, fold, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "k is 1"), "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_folds(y, 6, 4, 0, fold, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "class 0 has 3 rows"), "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_folds(y, 6, 3, 0, fold, &err), 0, "%s", err.msg);
    y[4] = 2;
    cr_assert_eq(tl_ml_stratified_folds(y, 6, 2, 0, fold, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 4: label is 2"), "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_folds(y, 0, 2, 0, fold, &err), TL_EINVAL);
}

Test(split, counts_and_seed)
{
    enum { N = 1001 };
    uint8_t y[N], v[N], v2[N], v3[N];
    for (size_t i = 0; i < N; i++)
        y[i] = i % 4 == 0; /* 251 positives, 750 negatives */
    tl_err err = {0};
    cr_assert_eq(tl_ml_stratified_split(y, N, 0.2, 8, v, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_split(y, N, 0.2, 8, v2, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_split(y, N, 0.2, 9, v3, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(v, v2, sizeof v);
    size_t in[2] = {0, 0}, differ = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert_leq(v[i], 1);
        in[y[i]] += v[i];
        differ += v[i] != v3[i];
    }
    cr_assert_eq(in[0], 150); /* round(0.2 * 750) */
    cr_assert_eq(in[1], 50);  /* round(0.2 * 251) = round(50.2) */
    cr_assert_gt(differ, 0);

    /* the split takes the first shuffled rows of each class, as the folds do */
    tl_rng r;
    tl_rng_seed(&r, 8);
    size_t cls[2][N], cnt[2] = {0, 0};
    for (size_t i = 0; i < N; i++)
        cls[y[i]][cnt[y[i]]++] = i;
    tl_rng_shuffle(&r, cls[0], cnt[0]);
    tl_rng_shuffle(&r, cls[1], cnt[1]);
    for (size_t j = 0; j < cnt[0]; j++)
        cr_assert_eq(v[cls[0][j]], j < 150);
    for (size_t j = 0; j < cnt[1]; j++)
        cr_assert_eq(v[cls[1][j]], j < 50);
}

Test(split, bad_input)
{
    uint8_t y[5] = {0, 0, 0, 1, 1}, v[5];
    tl_err err = {0};
    cr_assert_eq(tl_ml_stratified_split(y, 5, 0, 1, v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_stratified_split(y, 5, 1, 1, v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_stratified_split(y, 5, 0.0 / 0.0, 1, v, &err), TL_EINVAL);
    /* 0.2 of 2 positives rounds to 0: no positive left for validation */
    cr_assert_eq(tl_ml_stratified_split(y, 5, 0.2, 1, v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "class 1 has 2 rows"), "%s", err.msg);
    cr_assert_eq(tl_ml_stratified_split(y, 5, 0.5, 1, v, &err), 0, "%s", err.msg);
    y[2] = 7;
    cr_assert_eq(tl_ml_stratified_split(y, 5, 0.5, 1, v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 2"), "%s", err.msg);
}
