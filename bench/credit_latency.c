/*
 * credit_latency.c - in-process scoring speed of a credit model, for
 * bench/credit.sh: single-application latency (each call timed on its own)
 * and batch throughput, through the public API a bank's own program would
 * call (credit.h), on the rows of a CSV file.
 *
 * usage: credit_latency STORE_URL FILE.csv [MODEL_ID]
 *   MODEL_ID defaults to the credit champion. Prints one JSON object:
 *   {"model","algo","rows","row_p50_us","row_p99_us","row_max_us",
 *    "batch_rows_s","json_p50_us","json_p99_us"}
 * The data key comes from TELLER_DATA_KEY_FILE as for the teller program.
 */
#include <teller/teller.h>
#include <teller/credit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now_us(void)
{
    return (double)tl_time_mono_ns() / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int fail(const char *what, const tl_err *err)
{
    fprintf(stderr, "credit_latency: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: credit_latency STORE_URL FILE.csv [MODEL_ID]\n");
        return 2;
    }
    tl_err err = {0};
    tl_config *cfg = tl_config_new();
    if (!cfg || tl_config_load_env(cfg, NULL, &err) < 0 ||
        tl_config_set(cfg, "store.url", argv[1], TL_CONFIG_FLAG, &err) < 0)
        return fail("configuration", &err);
    tl_ctx *ctx = NULL;
    if (tl_ctx_open(cfg, &ctx, &err) < 0)
        return fail("opening the store", &err);
    tl_credit_model *m = NULL;
    if (tl_credit_model_load(ctx, argc == 4 ? argv[3] : NULL, &m, &err) < 0)
        return fail("loading the model", &err);
    tl_frame *f = NULL;
    if (tl_frame_read_csv(argv[2], &f, &err) < 0)
        return fail(argv[2], &err);

    /* each model input's column in the file */
    size_t ni = tl_credit_model_n_inputs(m), nr = tl_frame_rows(f);
    int *col = calloc(ni, sizeof *col);
    const char **cells = calloc(ni, sizeof *cells);
    double *lat = calloc(nr, sizeof *lat);
    json_t **apps = calloc(nr, sizeof *apps);
    if (!col || !cells || !lat || !apps || nr == 0)
        return fprintf(stderr, "credit_latency: out of memory or no rows\n"), 1;
    for (size_t j = 0; j < ni; j++) {
        col[j] = tl_frame_col(f, tl_credit_model_input(m, j));
        if (col[j] < 0)
            return fprintf(stderr, "credit_latency: %s has no column %s\n", argv[2],
                           tl_credit_model_input(m, j)), 1;
    }

    /* single applications: every call timed on its own, after one warm pass */
    struct tl_credit_decision d;
    double sink = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nr; i++) {
            for (size_t j = 0; j < ni; j++)
                cells[j] = tl_frame_cell(f, i, (size_t)col[j]);
            double t0 = now_us();
            if (tl_credit_score_row(m, cells, &d, &err) < 0)
                return fail("scoring", &err);
            lat[i] = now_us() - t0;
            sink += d.pd;
        }
    }
    qsort(lat, nr, sizeof *lat, cmp_double);
    double p50 = pct(lat, nr, 0.50), p99 = pct(lat, nr, 0.99), mx = lat[nr - 1];

    /* batch: all rows back to back, cells gathered inside the loop as a
     * caller scoring a file would */
    int reps = nr < 100000 ? (int)(100000 / nr) + 1 : 1;
    double t0 = now_us();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < nr; i++) {
            for (size_t j = 0; j < ni; j++)
                cells[j] = tl_frame_cell(f, i, (size_t)col[j]);
            if (tl_credit_score_row(m, cells, &d, &err) < 0)
                return fail("scoring", &err);
            sink += d.score;
        }
    double batch_rows_s = (double)nr * reps / ((now_us() - t0) / 1e6);

    /* the JSON path the HTTP route takes: object in, decision object out */
    for (size_t i = 0; i < nr; i++) {
        apps[i] = json_object();
        for (size_t j = 0; j < ni; j++) {
            const char *c = tl_frame_cell(f, i, (size_t)col[j]);
            json_object_set_new(apps[i], tl_credit_model_input(m, j),
                                c ? json_string(c) : json_null());
        }
    }
    for (size_t i = 0; i < nr; i++) {
        json_t *out = NULL;
        double t1 = now_us();
        if (tl_credit_score_json(m, apps[i], &out, &err) < 0)
            return fail("scoring JSON", &err);
        lat[i] = now_us() - t1;
        json_decref(out);
        json_decref(apps[i]);
    }
    qsort(lat, nr, sizeof *lat, cmp_double);

    printf("{\"model\":\"%s\",\"algo\":\"%s\",\"rows\":%zu,\"row_p50_us\":%.3f,"
           "\"row_p99_us\":%.3f,\"row_max_us\":%.3f,\"batch_rows_s\":%.0f,"
           "\"json_p50_us\":%.3f,\"json_p99_us\":%.3f,\"checksum\":%.6g}\n",
           tl_credit_model_id(m),
           tl_credit_model_algo(m) == TL_CREDIT_GBDT ? "gbdt" : "scorecard", nr, p50, p99, mx,
           batch_rows_s, pct(lat, nr, 0.50), pct(lat, nr, 0.99), sink);
    free(apps);
    free(lat);
    free(cells);
    free(col);
    tl_frame_free(f);
    tl_credit_model_free(m);
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    return 0;
}
