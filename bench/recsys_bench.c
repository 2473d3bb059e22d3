/* recsys_bench.c - the serving half of bench/recsys.sh: one customer's
 * top-10 from a catalogue of N items (default 10,000) with a 64-factor
 * model, scoring every item and selecting the best ten not already held.
 * The model is fitted (ALS, two sweeps) on a synthetic catalogue: the
 * latency does not depend on what the factors learned.
 *
 *     recsys_bench [--items N] [--users U] [--factors F] [--reps R]
 * prints one JSON line: {"items":..,"p50_us":..,"p99_us":..,"mean_us":..}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/datetime.h>
#include <teller/ml_stats.h>
#include <teller/nn.h>
#include <teller/recsys.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n_items = 10000, n_users = 2000, f = 64, reps = 2000;
    for (int a = 1; a + 1 < argc; a += 2) {
        int v = atoi(argv[a + 1]);
        if (strcmp(argv[a], "--items") == 0) n_items = v;
        else if (strcmp(argv[a], "--users") == 0) n_users = v;
        else if (strcmp(argv[a], "--factors") == 0) f = v;
        else if (strcmp(argv[a], "--reps") == 0) reps = v;
    }
    if (n_items < 10 || n_users < 1 || f < 1 || reps < 1) {
        fprintf(stderr, "recsys_bench: bad arguments\n");
        return 2;
    }
    tl_nn_set_blas_threads(1);
    /* 20 products per customer, drawn with a skew toward low ids */
    int64_t n = (int64_t)n_users * 20;
    int32_t *u = malloc((size_t)n * sizeof *u), *it = malloc((size_t)n * sizeof *it);
    tl_rng r;
    tl_rng_seed(&r, 1);
    for (int64_t e = 0; e < n; e++) {
        u[e] = (int32_t)(e / 20);
        double x = tl_rng_uniform(&r);
        it[e] = (int32_t)(x * x * n_items);
    }
    struct tl_rec_csr m;
    tl_err err = {0};
    if (tl_rec_csr_from_pairs(n_users, n_items, u, it, n, &m, &err) < 0) {
        fprintf(stderr, "recsys_bench: %s\n", err.msg);
        return 1;
    }
    struct tl_rec_params p;
    tl_rec_params_defaults(TL_REC_ALS, &p);
    p.factors = f;
    p.iters = 2;
    tl_rec_model *model;
    if (tl_rec_fit(TL_REC_ALS, &p, &m, &model, &err) < 0) {
        fprintf(stderr, "recsys_bench: %s\n", err.msg);
        return 1;
    }
    float *scores = malloc((size_t)n_items * sizeof *scores);
    int64_t *ns = malloc((size_t)reps * sizeof *ns);
    int32_t top[10];
    volatile int32_t sink = 0;
    for (int t = -100; t < reps; t++) {
        int32_t user = (int32_t)((t + 100) % n_users);
        const int32_t *hist = m.idx + m.ptr[user];
        int64_t nh = m.ptr[user + 1] - m.ptr[user];
        int64_t t0 = tl_time_mono_ns();
        tl_rec_score(model, user, hist, nh, scores, &err);
        int k = tl_rec_topk(scores, n_items, hist, nh, 10, top, NULL);
        int64_t t1 = tl_time_mono_ns();
        sink += top[k - 1];
        if (t >= 0)
            ns[t] = t1 - t0;
    }
    (void)sink;
    double mean = 0;
    for (int t = 0; t < reps; t++)
        mean += (double)ns[t];
    mean /= reps;
    qsort(ns, (size_t)reps, sizeof *ns, cmp_i64);
    printf("{\"items\":%d,\"factors\":%d,\"reps\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"mean_us\":%.1f}\n",
           n_items, f, reps, (double)ns[reps / 2] / 1e3, (double)ns[reps * 99 / 100] / 1e3,
           mean / 1e3);
    free(scores);
    free(ns);
    free(u);
    free(it);
    tl_rec_model_free(model);
    tl_rec_csr_free(&m);
    return 0;
}
