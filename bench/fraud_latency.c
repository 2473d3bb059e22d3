/*
 * fraud_latency.c - in-process decision speed of Teller's fraud engine, for
 * bench/fraud.sh: tl_fraud_decide (validation, the stream state update, the
 * model, reasons) on each transaction of a test week, one at a time, through
 * the public API a bank's own program would call (fraud.h).
 *
 * usage: fraud_latency STORE_URL DATA.csv[.gz] TEST_START TEST_END OUTDIR [MODEL_ID]
 *
 * DATA has the fraud_sim columns (transaction_id, tx_datetime, customer_id,
 * terminal_id, tx_amount, tx_fraud), in time order. Every row before
 * TEST_START ("YYYY-MM-DD") is decided with its label (rows with a zero
 * amount are left out everywhere: the engine refuses them), to bring the engine's
 * state to where a live engine would be that morning (not timed); its state
 * is then snapshotted and every timed pass starts from a copy of it. The rows
 * from TEST_START to TEST_END (exclusive) are the test week, decided with no
 * label (not known at decision time), no rules:
 *   pass 1, reasons "shap" (the default: exact TreeSHAP for review and
 *           block, path attribution for allow), each call timed on its own;
 *   pass 2, reasons "approx", each call timed;
 *   pass 3, reasons "shap", the whole week back to back (rows/s without the
 *           timer calls).
 * For the Python anchor it writes to OUTDIR:
 *   model.json   the model artifact's "gbdt" member (XGBoost's JSON model);
 *   X.bin        the test week's feature vectors as the model sees them,
 *                float32, row-major, n x d (computed by a second stream
 *                engine fed the same transactions, plus the model's derived
 *                features);
 *   p_teller.bin the GBDT probability Teller's engine gave each row, float64.
 * and prints one JSON object:
 *   {"model","features","history_rows","test_rows","zero_amount_rows_skipped",
 *    "warm_s","state_bytes",
 *    "shap":{"p50_us","p90_us","p99_us","p999_us","max_us","rows_s"},
 *    "approx":{...},"throughput_rows_s","decisions":{"allow","review","block"},
 *    "cold","mirror_max_diff","stream_update":{..},"model_score_approx":{..},
 *    "gbdt_margin":{..}}
 * The last three time the parts alone, on the second engine while reading
 * the test week: tl_stream_update; tl_fraud_model_score with approximate
 * reasons; the trees' margin alone (tl_gbdt_margin); their "rows_s" means
 * nothing.
 * mirror_max_diff is the largest |model score of the engine - model score of
 * the written feature vector|: 0 when X.bin is exactly what the engine saw.
 * The data key comes from TELLER_DATA_KEY_FILE as for the teller program.
 */
#include <teller/teller.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ID_MAX 24

struct test_tx {
    char id[ID_MAX], card[ID_MAX], term[ID_MAX];
    int64_t ts_ms, amount;
};

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
    fprintf(stderr, "fraud_latency: %s: %s\n", what, err->msg);
    return 1;
}

static void fill_tx(struct tl_fraud_tx *tx, const struct test_tx *r, const char *currency)
{
    memset(tx, 0, sizeof *tx);
    tx->id = r->id;
    tx->card_id = r->card;
    tx->terminal_id = r->term;
    tx->ts_ms = r->ts_ms;
    tx->amount_minor = r->amount;
    memcpy(tx->currency, currency, 3);
    tx->mcc = -1;
    tx->label = -1;
}

/* The model's feature vector from the stream engine's: its features by name,
 * then "amount_over_<w>" = tx_amount / customer_avg_amount_<w> (1 for a zero
 * mean), as the model derives them (docs/fraud.md). map[j] is the stream
 * column of model feature j, or -(avg column) - 1 for a derived ratio. */
static int feature_map(const tl_fraud_model *m, const tl_stream *s, long *map)
{
    size_t d = tl_fraud_model_n_features(m), ns = tl_stream_n_features(s);
    for (size_t j = 0; j < d; j++) {
        const char *name = tl_fraud_model_feature(m, j);
        map[j] = LONG_MIN;
        for (size_t k = 0; k < ns; k++)
            if (strcmp(name, tl_stream_feature_name(s, k)) == 0)
                map[j] = (long)k;
        if (map[j] == LONG_MIN && strncmp(name, "amount_over_", 12) == 0) {
            char avg[96];
            snprintf(avg, sizeof avg, "customer_%s", name + 12);
            for (size_t k = 0; k < ns; k++)
                if (strcmp(avg, tl_stream_feature_name(s, k)) == 0)
                    map[j] = -(long)k - 1;
        }
        if (map[j] == LONG_MIN) {
            fprintf(stderr, "fraud_latency: model feature %s is neither a stream feature nor "
                            "a ratio this program knows\n", name);
            return -1;
        }
    }
    return 0;
}

/* One timed pass over the test week from a copy of the warm state. lat NULL:
 * no per-call timers. Returns the pass's wall time in seconds, or < 0. */
static double run_pass(const tl_fraud_model *m, FILE *snap, enum tl_fraud_reasons_mode mode,
                       const struct test_tx *rows, size_t n, double *lat, double *model_score,
                       size_t counts[3], size_t *cold, double *sink)
{
    tl_err err = {0};
    tl_stream *s = NULL;
    tl_fraud_engine *e = NULL;
    struct tl_fraud_engine_opts o = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    o.reasons = mode;
    rewind(snap);
    if (tl_stream_restore(snap, &s, &err) < 0)
        return fail("restoring the warm state", &err), -1;
    if (tl_fraud_engine_new(m, &o, &e, &err) < 0)
        return tl_stream_free(s), fail("making an engine", &err), -1;
    if (tl_fraud_engine_set_stream(e, s, &err) < 0)
        return tl_fraud_engine_free(e), fail("giving the engine the warm state", &err), -1;
    const char *cur = tl_fraud_model_currency(m);
    struct tl_fraud_tx tx;
    struct tl_fraud_decision d;
    int64_t t0 = tl_time_mono_ns();
    for (size_t i = 0; i < n; i++) {
        fill_tx(&tx, &rows[i], cur);
        int rc;
        if (lat) {
            int64_t t1 = tl_time_mono_ns();
            rc = tl_fraud_decide(e, &tx, &d, &err);
            lat[i] = (double)(tl_time_mono_ns() - t1) / 1e3;
        } else {
            rc = tl_fraud_decide(e, &tx, &d, &err);
        }
        if (rc < 0) {
            fprintf(stderr, "fraud_latency: deciding test transaction %s: %s\n", rows[i].id,
                    err.msg);
            tl_fraud_engine_free(e);
            return -1;
        }
        *sink += d.score.score;
        if (model_score)
            model_score[i] = d.score.model_score;
        if (counts && d.action <= TL_RULE_BLOCK)
            counts[d.action]++;
        if (cold && d.score.cold)
            (*cold)++;
    }
    double wall = (double)(tl_time_mono_ns() - t0) / 1e9;
    tl_fraud_engine_free(e);
    return wall;
}

static json_t *lat_json(double *lat, size_t n, double wall)
{
    qsort(lat, n, sizeof *lat, cmp_double);
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "p50_us", pct(lat, n, 0.50), "p90_us",
                     pct(lat, n, 0.90), "p99_us", pct(lat, n, 0.99), "p999_us",
                     pct(lat, n, 0.999), "max_us", lat[n - 1], "rows_s", (double)n / wall);
}

static int write_file(const char *dir, const char *name, const void *p, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "fraud_latency: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int col_of(const tl_csv_record *h, const char *name)
{
    for (size_t i = 0; i < h->n_fields; i++)
        if (strcasecmp(h->fields[i], name) == 0)
            return (int)i;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: fraud_latency STORE_URL DATA.csv[.gz] TEST_START TEST_END "
                        "OUTDIR [MODEL_ID]\n");
        return 2;
    }
    const char *data = argv[2], *outdir = argv[5];
    tl_err err = {0};
    int64_t test_start, test_end;
    if (tl_time_parse(argv[3], strlen(argv[3]), &test_start, &err) < 0)
        return fail("TEST_START", &err);
    if (tl_time_parse(argv[4], strlen(argv[4]), &test_end, &err) < 0)
        return fail("TEST_END", &err);
    tl_config *cfg = tl_config_new();
    if (!cfg || tl_config_load_env(cfg, NULL, &err) < 0 ||
        tl_config_set(cfg, "store.url", argv[1], TL_CONFIG_FLAG, &err) < 0)
        return fail("configuration", &err);
    tl_ctx *ctx = NULL;
    if (tl_ctx_open(cfg, &ctx, &err) < 0)
        return fail("opening the store", &err);
    tl_fraud_model *m = NULL;
    if (tl_fraud_model_load(ctx, argc == 7 ? argv[6] : NULL, &m, &err) < 0)
        return fail("loading the model", &err);

    /* the XGBoost model for Python, from the artifact as stored */
    char *art = NULL;
    size_t art_len = 0;
    if (tl_registry_artifact(ctx, tl_fraud_model_id(m), &art, &art_len, &err) < 0)
        return fail("reading the artifact", &err);
    json_error_t jerr;
    json_t *aj = json_loadb(art, art_len, 0, &jerr);
    json_t *gbdt = aj ? json_object_get(aj, "gbdt") : NULL;
    char *gbdt_text = gbdt ? json_dumps(gbdt, JSON_COMPACT) : NULL;
    if (!gbdt_text || write_file(outdir, "model.json", gbdt_text, strlen(gbdt_text)) < 0)
        return fprintf(stderr, "fraud_latency: the artifact has no \"gbdt\" member to write\n"), 1;
    /* the trees alone, to tell their cost from the reasons' */
    tl_gbdt *trees = NULL;
    if (tl_gbdt_load(gbdt_text, strlen(gbdt_text), &trees, &err) < 0)
        return fail("loading the trees alone", &err);
    free(gbdt_text);
    json_decref(aj);
    free(art);

    /* the engine that warms up, and a second stream engine beside it that
     * gives the feature vectors (tl_fraud_decide does not hand them out) */
    struct tl_fraud_engine_opts eo = TL_FRAUD_ENGINE_OPTS_DEFAULT;
    tl_fraud_engine *e = NULL;
    if (tl_fraud_engine_new(m, &eo, &e, &err) < 0)
        return fail("making the engine", &err);
    struct tl_stream_config scfg;
    tl_fraud_model_stream_config(m, &scfg);
    tl_stream *mirror = NULL;
    if (tl_stream_new(&scfg, &mirror, &err) < 0)
        return fail("making the mirror stream", &err);
    size_t d = tl_fraud_model_n_features(m);
    long *map = calloc(d, sizeof *map);
    if (!map || feature_map(m, mirror, map) < 0)
        return 1;

    char cmd[4200];
    size_t dl = strlen(data);
    bool gz = dl > 3 && strcmp(data + dl - 3, ".gz") == 0;
    FILE *fp;
    if (gz) {
        snprintf(cmd, sizeof cmd, "gzip -dc '%s'", data);
        fp = popen(cmd, "r");
    } else {
        fp = fopen(data, "r");
    }
    tl_csv_reader *r = NULL;
    if (!fp)
        return fprintf(stderr, "fraud_latency: cannot open %s\n", data), 1;
    if (tl_csv_reader_open(fp, data, 0, &r, &err) < 0)
        return fail(data, &err);
    const tl_csv_record *rec;
    if (tl_csv_next(r, &rec, &err) <= 0)
        return fprintf(stderr, "fraud_latency: %s: no header\n", data), 1;
    static const char *names[] = {"transaction_id", "tx_datetime", "customer_id",
                                  "terminal_id", "tx_amount", "tx_fraud"};
    int c[6];
    for (int k = 0; k < 6; k++)
        if ((c[k] = col_of(rec, names[k])) < 0)
            return fprintf(stderr, "fraud_latency: %s has no column %s\n", data, names[k]), 1;

    const char *cur = tl_fraud_model_currency(m);
    size_t cap = 1 << 16, n = 0, n_hist = 0, n_zero = 0;
    struct test_tx *rows = malloc(cap * sizeof *rows);
    float *X = malloc(cap * d * sizeof *X);
    double *ms_mirror = malloc(cap * sizeof *ms_mirror);
    double *lat_stream = malloc(cap * sizeof *lat_stream);
    double *lat_model = malloc(cap * sizeof *lat_model);
    double *lat_trees = malloc(cap * sizeof *lat_trees), sink0 = 0;
    if (!rows || !X || !ms_mirror || !lat_stream || !lat_model || !lat_trees)
        return fprintf(stderr, "fraud_latency: out of memory\n"), 1;
    double f[TL_STREAM_MAX_FEATURES];
    struct tl_fraud_decision dec;
    int64_t w0 = tl_time_mono_ns();
    int rc;
    while ((rc = tl_csv_next(r, &rec, &err)) > 0) {
        struct test_tx t;
        int label;
        for (int k = 0; k < 6; k++)
            if ((size_t)c[k] >= rec->n_fields || (k != 1 && rec->lens[c[k]] >= ID_MAX))
                return fprintf(stderr, "fraud_latency: %s:%llu: column %s missing or too long\n",
                               data, (unsigned long long)rec->line, names[k]), 1;
        if (tl_time_parse(rec->fields[c[1]], rec->lens[c[1]], &t.ts_ms, &err) < 0 ||
            tl_money_parse(rec->fields[c[4]], rec->lens[c[4]], cur, &t.amount, &err) < 0) {
            fprintf(stderr, "fraud_latency: %s:%llu: %s\n", data, (unsigned long long)rec->line,
                    err.msg);
            return 1;
        }
        if (t.ts_ms >= test_end)
            break;
        /* a live engine refuses them (fraud_sim has a few zero amounts) */
        if (t.amount <= 0) {
            n_zero++;
            continue;
        }
        label = rec->fields[c[5]][0] == '1';
        memcpy(t.id, rec->fields[c[0]], rec->lens[c[0]] + 1);
        memcpy(t.card, rec->fields[c[2]], rec->lens[c[2]] + 1);
        memcpy(t.term, rec->fields[c[3]], rec->lens[c[3]] + 1);
        bool test = t.ts_ms >= test_start;
        struct tl_stream_tx st = {.tx_id = t.id, .customer_id = t.card, .terminal_id = t.term,
                                  .ts_s = t.ts_ms / 1000, .amount_cents = t.amount,
                                  .label = test ? -1 : label};
        int64_t u0 = tl_time_mono_ns();
        int urc = tl_stream_update(mirror, &st, f, &err);
        int64_t u1 = tl_time_mono_ns();
        if (urc < 0) {
            fprintf(stderr, "fraud_latency: %s:%llu: mirror stream: %s\n", data,
                    (unsigned long long)rec->line, err.msg);
            return 1;
        }
        if (!test) {
            struct tl_fraud_tx tx;
            fill_tx(&tx, &t, cur);
            tx.label = label;
            if (tl_fraud_decide(e, &tx, &dec, &err) < 0) {
                fprintf(stderr, "fraud_latency: %s:%llu: warming up: %s\n", data,
                        (unsigned long long)rec->line, err.msg);
                return 1;
            }
            n_hist++;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            rows = realloc(rows, cap * sizeof *rows);
            X = realloc(X, cap * d * sizeof *X);
            ms_mirror = realloc(ms_mirror, cap * sizeof *ms_mirror);
            lat_stream = realloc(lat_stream, cap * sizeof *lat_stream);
            lat_model = realloc(lat_model, cap * sizeof *lat_model);
            lat_trees = realloc(lat_trees, cap * sizeof *lat_trees);
            if (!rows || !X || !ms_mirror || !lat_stream || !lat_model || !lat_trees)
                return fprintf(stderr, "fraud_latency: out of memory\n"), 1;
        }
        rows[n] = t;
        for (size_t j = 0; j < d; j++) {
            double v;
            if (map[j] >= 0) {
                v = f[map[j]];
            } else {
                double avg = f[-map[j] - 1];
                v = avg > 0 ? f[0] / avg : 1;
            }
            X[n * d + j] = (float)v;
        }
        struct tl_fraud_score sc;
        int64_t s0 = tl_time_mono_ns();
        tl_fraud_model_score(m, f, TL_FRAUD_REASONS_APPROX, &sc);
        lat_model[n] = (double)(tl_time_mono_ns() - s0) / 1e3;
        s0 = tl_time_mono_ns();
        sink0 += tl_gbdt_margin(trees, &X[n * d]);
        lat_trees[n] = (double)(tl_time_mono_ns() - s0) / 1e3;
        lat_stream[n] = (double)(u1 - u0) / 1e3;
        ms_mirror[n] = sc.model_score;
        n++;
    }
    if (rc < 0)
        return fail(data, &err);
    tl_csv_reader_close(r);
    if (gz)
        pclose(fp); /* gzip may have been stopped early by the closed pipe */
    else
        fclose(fp);
    double warm_s = (double)(tl_time_mono_ns() - w0) / 1e9;
    if (n == 0 || n_hist == 0)
        return fprintf(stderr, "fraud_latency: %s: %zu rows before %s, %zu in the test week: "
                               "need both\n", data, n_hist, argv[3], n), 1;

    /* the warm state, so that every pass starts from the same morning */
    FILE *snap = tmpfile();
    if (!snap)
        return fprintf(stderr, "fraud_latency: no temporary file\n"), 1;
    if (tl_stream_snapshot(tl_fraud_engine_stream(e), snap, &err) < 0)
        return fail("snapshotting the warm state", &err);
    struct tl_stream_stats ss;
    tl_stream_get_stats(tl_fraud_engine_stream(e), &ss);
    tl_fraud_engine_free(e);
    tl_stream_free(mirror);

    double *lat = malloc(n * sizeof *lat), *p_teller = malloc(n * sizeof *p_teller);
    if (!lat || !p_teller)
        return fprintf(stderr, "fraud_latency: out of memory\n"), 1;
    size_t counts[3] = {0}, cold = 0;
    double sink = 0;
    double w1 = run_pass(m, snap, TL_FRAUD_REASONS_SHAP, rows, n, lat, p_teller, counts, &cold,
                         &sink);
    if (w1 < 0)
        return 1;
    json_t *shap = lat_json(lat, n, w1);
    double w2 = run_pass(m, snap, TL_FRAUD_REASONS_APPROX, rows, n, lat, NULL, NULL, NULL, &sink);
    if (w2 < 0)
        return 1;
    json_t *approx = lat_json(lat, n, w2);
    double w3 = run_pass(m, snap, TL_FRAUD_REASONS_SHAP, rows, n, NULL, NULL, NULL, NULL, &sink);
    if (w3 < 0)
        return 1;
    fclose(snap);

    double maxdiff = 0;
    for (size_t i = 0; i < n; i++)
        maxdiff = fmax(maxdiff, fabs(p_teller[i] - ms_mirror[i]));
    if (write_file(outdir, "X.bin", X, n * d * sizeof *X) < 0 ||
        write_file(outdir, "p_teller.bin", p_teller, n * sizeof *p_teller) < 0)
        return 1;

    json_t *out = json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:f,s:I,s:o,s:o,s:f,s:{s:I,s:I,s:I},s:I,s:f,s:f}", "model",
        tl_fraud_model_id(m), "features", (json_int_t)d, "history_rows", (json_int_t)n_hist,
        "test_rows", (json_int_t)n, "zero_amount_rows_skipped", (json_int_t)n_zero, "warm_s",
        warm_s, "state_bytes", (json_int_t)ss.state_bytes, "shap", shap, "approx", approx,
        "throughput_rows_s", (double)n / w3, "decisions", "allow", (json_int_t)counts[0],
        "review", (json_int_t)counts[1], "block", (json_int_t)counts[2], "cold",
        (json_int_t)cold, "mirror_max_diff", maxdiff, "checksum", sink);
    if (out) {
        /* where the time goes: the parts timed alone on the second engine */
        json_object_set_new(out, "stream_update", lat_json(lat_stream, n, 1));
        json_object_set_new(out, "model_score_approx", lat_json(lat_model, n, 1));
        json_object_set_new(out, "gbdt_margin", lat_json(lat_trees, n, 1));
        json_object_set_new(out, "checksum0", json_real(sink0));
    }
    if (!out)
        return fprintf(stderr, "fraud_latency: out of memory\n"), 1;
    json_dumpf(out, stdout, JSON_COMPACT);
    printf("\n");
    json_decref(out);
    free(lat);
    free(p_teller);
    free(rows);
    free(X);
    free(ms_mirror);
    free(lat_stream);
    free(lat_model);
    free(lat_trees);
    tl_gbdt_free(trees);
    free(map);
    tl_fraud_model_free(m);
    tl_ctx_close(ctx);
    tl_config_free(cfg);
    return 0;
}
