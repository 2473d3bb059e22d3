/*
 * llm_kernels.c - micro-benchmark of the quantized matvec kernels
 * (include/teller/llm_quant.h) on one thread.
 *
 *   llm_kernels [ROWS [COLS [hot]]]      (default 4096 x 4096)
 *   llm_kernels bw THREADS               the read bandwidth of THREADS threads
 *                                        (wall clock, 1 GB), for bench/llm.sh
 *
 * For each weight type it prints the GB/s of weight bytes tl_q_matvec
 * streams, for the run-time kernels (avx2 where the CPU has it) and for the
 * portable C ones, and the time of tl_q_matmul on 16 activation rows against
 * 16 tl_q_matvec calls. Decode is bound by this streaming rate, so the first
 * line also measures the plain single-thread read bandwidth of the machine
 * (a summing loop over the same footprint) as the bar to compare with.
 *
 * The weights are cycled through enough copies of the matrix to exceed
 * 256 MB, so every pass reads them from memory, not from the last-level
 * cache, as a model's weights are read during decode.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <teller/llm_quant.h>

#define T(id) TL_GGUF_TYPE_##id
#define FOOTPRINT (256u << 20)

/* Thread CPU time, not wall time: on a shared machine the wall clock counts
 * the time this thread waits for a core, which says nothing about the
 * kernels. (Memory bandwidth shared with other processes still shows.) */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float gauss(void)
{
    double u, v;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    u = (double)(rng >> 11) * 0x1p-53 + 1e-12;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    v = (double)(rng >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Seconds per call of fn over the copies, best of several passes of at
 * least min_s. */
typedef struct {
    int type;
    int64_t n, rows;
    uint8_t *W;
    size_t mat_bytes;
    int copies;
    void *xq;
    float *y;
    int nb;
    int matmul;
} job;

static void run_once(job *j, int c)
{
    const uint8_t *W = j->W + (size_t)c * j->mat_bytes;
    if (j->matmul)
        tl_q_matmul(j->type, W, j->n, 0, j->rows, j->xq, j->nb, j->y, j->rows);
    else
        for (int b = 0; b < j->nb; b++)
            tl_q_matvec(j->type, W, j->n, 0, j->rows,
                        (const uint8_t *)j->xq + (size_t)b * tl_q_act_size(j->type, j->n),
                        j->y + (size_t)b * j->rows);
}

static double time_calls(job *j, double min_s)
{
    double best = 1e30;
    for (int pass = 0; pass < 3; pass++) {
        int calls = 0;
        double t0 = now_s(), t;
        do {
            run_once(j, calls % j->copies);
            calls++;
            t = now_s();
        } while (t - t0 < min_s || calls < j->copies);
        double per = (t - t0) / calls;
        best = per < best ? per : best;
    }
    return best;
}

static double read_bandwidth(size_t bytes)
{
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(bytes);
    if (!buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = i * 2654435761u;
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < 5; pass++) {
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        double t0 = now_s();
        for (size_t i = 0; i + 4 <= n; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
        }
        double t = now_s() - t0;
        sink += s0 + s1 + s2 + s3;
        best = t < best ? t : best;
    }
    (void)sink;
    free(buf);
    return (double)bytes / best / 1e9;
}

/* ---- bw: the machine's read bandwidth with N threads ------------------------ */

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct bw_job {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
};

static void *bw_sum(void *arg)
{
    struct bw_job *j = arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) {
        s0 += j->p[i];
        s1 += j->p[i + 1];
        s2 += j->p[i + 2];
        s3 += j->p[i + 3];
    }
    j->sum = s0 + s1 + s2 + s3;
    return NULL;
}

/* Wall-clock GB/s of THREADS threads summing disjoint parts of 1 GB, the best
 * of 5 passes: the bar decode is held to (weights are read once per token). */
static int bandwidth_main(int threads)
{
    const size_t bytes = (size_t)1 << 30, n = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(bytes);
    if (!buf || threads < 1 || threads > 64) {
        fprintf(stderr, "llm_kernels bw: 1..64 threads and 1 GB of memory needed\n");
        free(buf);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = i * 2654435761u;
    double best = 1e30;
    uint64_t sink = 0;
    for (int pass = 0; pass < 5; pass++) {
        pthread_t th[64];
        struct bw_job jobs[64];
        double t0 = wall_s();
        for (int t = 0; t < threads; t++) {
            size_t lo = n / (size_t)threads * (size_t)t;
            size_t hi = t + 1 == threads ? n : n / (size_t)threads * (size_t)(t + 1);
            jobs[t] = (struct bw_job){buf + lo, hi - lo, 0};
            pthread_create(&th[t], NULL, bw_sum, &jobs[t]);
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            sink += jobs[t].sum;
        }
        double t = wall_s() - t0;
        best = t < best ? t : best;
    }
    printf("%.2f\n", (double)bytes / best / 1e9);
    free(buf);
    return sink == 42; /* keeps the sums alive; never 42 in practice */
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "bw") == 0)
        return bandwidth_main(atoi(argv[2]));
    int64_t rows = argc > 1 ? atoll(argv[1]) : 4096, n = argc > 2 ? atoll(argv[2]) : 4096;
    int hot = argc > 3 && strcmp(argv[3], "hot") == 0;
    if (rows <= 0 || n <= 0 || n % 256 != 0) {
        fprintf(stderr, "llm_kernels: ROWS > 0 and COLS a multiple of 256, got %lld x %lld\n",
                (long long)rows, (long long)n);
        return 1;
    }
    static const int types[] = {T(F32), T(F16),  T(BF16), T(Q8_0), T(Q4_0), T(Q4_1),
                                T(Q5_0), T(Q5_1), T(Q4_K), T(Q5_K), T(Q6_K)};
    const int nb = 16;
    printf("matrix %lld x %lld, 1 thread, kernels: %s%s\n", (long long)rows, (long long)n,
           tl_q_kernels(), hot ? ", hot (from cache)" : "");
    printf("plain read bandwidth (summing loop, %u MB): %.1f GB/s\n", FOOTPRINT >> 20,
           read_bandwidth(FOOTPRINT));
    printf("%-5s %9s %10s %10s %10s %12s %12s %8s\n", "type", "MB", "GB/s", "GB/s port",
           "ms/matvec", "16 matvec ms", "matmul16 ms", "speedup");

    float *x = malloc(sizeof(float) * (size_t)n * nb), *wf = malloc(sizeof(float) * (size_t)n);
    float *y = malloc(sizeof(float) * (size_t)rows * nb);
    if (!x || !wf || !y)
        return 1;
    for (size_t i = 0; i < (size_t)n * nb; i++)
        x[i] = gauss();

    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int type = types[t];
        size_t rb = tl_q_row_size(type, n), xb = tl_q_act_size(type, n);
        size_t mat = rb * (size_t)rows;
        int copies = hot ? 1 : (int)((FOOTPRINT + mat - 1) / mat);
        uint8_t *W = malloc(mat * (size_t)copies);
        void *xq = malloc(xb * nb);
        if (!W || !xq) {
            fprintf(stderr, "llm_kernels: out of memory for %s\n", tl_gguf_type_name(type));
            return 1;
        }
        /* 64 distinct quantized rows, repeated: the kernels' speed does not
         * depend on the values, and quantizing 16M K-quant elements is slow */
        for (int64_t r = 0; r < 64 && r < rows; r++) {
            for (int64_t i = 0; i < n; i++)
                wf[i] = 0.05f * gauss();
            tl_q_quantize_row(type, wf, W + (size_t)r * rb, n);
        }
        for (int64_t r = 64; r < rows; r++)
            memcpy(W + (size_t)r * rb, W + (size_t)(r % 64) * rb, rb);
        for (int c = 1; c < copies; c++)
            memcpy(W + (size_t)c * mat, W, mat);
        for (int b = 0; b < nb; b++)
            tl_q_quantize_act(type, x + (size_t)b * n, (uint8_t *)xq + (size_t)b * xb, n);

        job j = {type, n, rows, W, mat, copies, xq, y, 1, 0};
        double tv = time_calls(&j, 0.5);
        tl_q_force_portable(true);
        double tp = time_calls(&j, 0.3);
        tl_q_force_portable(false);
        j.nb = nb;
        double t16 = time_calls(&j, 0.5);
        j.matmul = 1;
        double tmm = time_calls(&j, 0.5);
        printf("%-5s %9.1f %10.1f %10.1f %10.3f %12.2f %12.2f %7.2fx\n", tl_gguf_type_name(type),
               (double)mat / 1e6, (double)mat / tv / 1e9, (double)mat / tp / 1e9, tv * 1e3,
               t16 * 1e3, tmm * 1e3, t16 / tmm);
        fflush(stdout);
        free(W);
        free(xq);
    }
    free(x);
    free(wf);
    free(y);
    return 0;
}
