/*
 * test_ml_stream.c - the streaming feature engine: the handbook's 15
 * baseline features on the whole fraud_sim file, out-of-order arrival,
 * duplicate ids, late labels, live scoring equal to the batch replay,
 * snapshot and restore (a restored engine continues bit for bit like the
 * original; damaged snapshots are refused cleanly), and eviction keeping
 * memory bounded.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <teller/ml_stats.h>
#include <teller/ml_stream.h>

#include "testutil.h"

#define DAY 86400

/* ---- the handbook's baseline on ../shared/data/fraud_sim ------------------
 * Reference values computed once, independently, by a Python/numpy script
 * following PROTOCOL.md literally: per card, numpy's legacy introsort
 * argsort (kind='quicksort', written out in Python, and checked equal to the
 * local numpy 1.24 argsort of datetime64 values) of the card's timestamps in
 * transaction-id order, then for the row at sorted position i the rows
 * j <= i with ts_j > ts_i - n days (pandas rolling('nd') per customer; sums
 * in exact cents / 100 / count); per terminal, the count and fraud share of
 * the rows with ts in (t - (n+7) days, t - 7 days], 0 when empty. Sums are
 * math.fsum over all 1,485,480 rows. The handbook's order puts 22 same-second
 * pairs of one card in id order except two, which are replayed swapped. */
static const double want_sum[15][2] = {
    {79668486.54, 6917946150.6406},
    {431301.0, 431301.0},
    {258239.0, 258239.0},
    {5284537.0, 23860411.0},
    {79670461.77544323, 6092843849.184546},
    {27590427.0, 605266593.0},
    {79645643.4782012, 5647592962.6265745},
    {104889669.0, 8982733339.0},
    {79607612.55143848, 5543826942.7432995},
    {1414801.0, 2890189.0},
    {7375.486904761905, 6687.497960600907},
    {9703485.0, 80005423.0},
    {11443.874385630299, 7396.126746731584},
    {38260834.0, 1190853466.0},
    {10787.409842715071, 4580.302149064942},
};

/* The same-second pairs the handbook's sort puts in reverse id order. */
static const long swapped[][2] = {{1120860, 1120861}, {852158, 852159}};

/* Rows checked one by one: the tie pairs (1240489/1240490 in the test week,
 * and the two swapped ones), the first rows with a card transaction exactly
 * 1, 7 or 30 days earlier (75977 ...) and with a terminal transaction
 * exactly at t - 7 days or t - (7+n) days (100799 ...), 20 random rows and a
 * few with a non-zero terminal risk. */
static const struct {
    long id;
    double f[15];
} want_rows[] = {
    /* clang-format off */
    {0,
     {57.159999999999997, 1, 1, 1, 57.159999999999997,
      1, 57.159999999999997, 1, 57.159999999999997, 0,
      0, 0, 0, 0, 0}},
    {1,
     {81.510000000000005, 1, 1, 1, 81.510000000000005,
      1, 81.510000000000005, 1, 81.510000000000005, 0,
      0, 0, 0, 0, 0}},
    {74280,
     {4.8200000000000003, 1, 0, 7, 9.3371428571428563,
      41, 9.3692682926829267, 48, 9.4824999999999999, 1,
      1, 1, 1, 1, 1}},
    {75977,
     {54.729999999999997, 1, 0, 2, 39.689999999999998,
      25, 33.650799999999997, 29, 34.826551724137929, 1,
      0, 1, 0, 1, 0}},
    {79092,
     {67.090000000000003, 0, 0, 6, 103.80833333333334,
      29, 93.330689655172421, 37, 92.671351351351362, 1,
      0, 1, 0, 1, 0}},
    {100799,
     {18.039999999999999, 0, 0, 4, 72.340000000000003,
      12, 61.18416666666667, 16, 60.738750000000003, 3,
      0, 6, 0, 6, 0}},
    {103869,
     {90.439999999999998, 0, 0, 5, 107.35999999999999,
      28, 82.868928571428569, 37, 85.44540540540541, 1,
      0, 3, 0, 3, 0}},
    {112216,
     {55.950000000000003, 0, 0, 6, 31.765000000000001,
      31, 41.356451612903221, 44, 40.81340909090909, 1,
      0, 5, 0, 5, 0}},
    {112318,
     {186.27000000000001, 0, 0, 6, 122.59500000000001,
      24, 92.573333333333338, 41, 95.895609756097556, 3,
      0, 7, 0, 7, 0}},
    {116747,
     {72.170000000000002, 0, 0, 4, 70.245000000000005,
      22, 51.457727272727269, 45, 53.429111111111112, 1,
      0, 8, 0, 8, 0}},
    {120877,
     {59.960000000000001, 0, 0, 3, 55.386666666666663,
      25, 53.1616, 44, 51.512500000000003, 1,
      0, 5, 0, 5, 0}},
    {128033,
     {88.5, 1, 0, 3, 86.683333333333337,
      22, 70.711818181818188, 50, 74.527600000000007, 0,
      0, 2, 0, 2, 0}},
    {132475,
     {38.969999999999999, 1, 0, 3, 30.829999999999998,
      30, 66.548666666666662, 48, 67.035624999999996, 1,
      0, 4, 0, 4, 0}},
    {132505,
     {142.36000000000001, 1, 0, 3, 98.263333333333335,
      23, 106.10521739130435, 55, 92.236545454545464, 2,
      0, 9, 0, 9, 0}},
    {135082,
     {230.80000000000001, 1, 1, 4, 148.35749999999999,
      15, 100.75866666666667, 35, 97.436000000000007, 1,
      0, 4, 0, 4, 0}},
    {143604,
     {11.609999999999999, 1, 0, 2, 17.535,
      25, 77.641199999999998, 56, 83.48303571428572, 1,
      0, 4, 0, 7, 0}},
    {151190,
     {84.780000000000001, 0, 0, 3, 65.506666666666675,
      23, 50.488260869565217, 46, 51.967608695652181, 1,
      0, 7, 0, 9, 0}},
    {156759,
     {74.609999999999999, 0, 0, 5, 75.349999999999994,
      28, 100.48071428571428, 52, 96.364423076923075, 0,
      0, 7, 0, 10, 0}},
    {157896,
     {9.6199999999999992, 0, 0, 5, 14.206,
      21, 13.833809523809524, 47, 15.286170212765958, 2,
      0, 8, 0, 10, 0}},
    {163633,
     {11.59, 0, 1, 6, 22.108333333333334,
      24, 24.430000000000003, 58, 23.630172413793101, 3,
      0, 6, 0, 9, 0}},
    {165752,
     {16.27, 0, 0, 4, 18.537500000000001,
      22, 21.771363636363638, 46, 18.639782608695651, 2,
      0, 9, 0, 12, 0}},
    {166999,
     {7.1500000000000004, 0, 0, 5, 36.304000000000002,
      23, 44.376956521739132, 49, 42.889795918367348, 1,
      0, 6, 0, 10, 0}},
    {185836,
     {44.810000000000002, 0, 0, 1, 44.810000000000002,
      18, 81.198888888888888, 64, 83.288749999999993, 1,
      0, 9, 0, 15, 0}},
    {195204,
     {26.170000000000002, 1, 0, 3, 39.416666666666664,
      24, 87.942916666666676, 73, 90.831506849315062, 0,
      0, 9, 0, 10, 0}},
    {198734,
     {42.600000000000001, 1, 0, 6, 64.00833333333334,
      23, 70.140000000000001, 83, 79.173855421686753, 2,
      0, 12, 0, 17, 0}},
    {211673,
     {13.82, 0, 1, 4, 18.030000000000001,
      25, 18.284400000000002, 80, 19.336874999999999, 1,
      0, 10, 0, 16, 0}},
    {213028,
     {30.969999999999999, 0, 0, 6, 45.918333333333329,
      23, 57.253478260869564, 62, 56.531935483870967, 1,
      0, 6, 0, 15, 0}},
    {261793,
     {95.530000000000001, 1, 0, 1, 95.530000000000001,
      22, 86.870000000000005, 82, 81.393780487804875, 0,
      0, 5, 0, 23, 0}},
    {266602,
     {40.630000000000003, 1, 0, 6, 78.984999999999999,
      34, 73.580588235294115, 95, 72.566105263157894, 0,
      0, 9, 0, 18, 0}},
    {268373,
     {69.319999999999993, 1, 0, 4, 81.545000000000002,
      20, 81.57050000000001, 81, 72.600000000000009, 2,
      0, 15, 0, 31, 0}},
    {371950,
     {31.02, 0, 0, 3, 18.373333333333331,
      25, 24.059200000000001, 103, 25.776893203883496, 2,
      0.5, 9, 0.1111111111111111, 30, 0.033333333333333333}},
    {444756,
     {16.359999999999999, 0, 0, 7, 15.152857142857142,
      21, 13.627619047619048, 92, 12.658804347826086, 0,
      0, 8, 0, 27, 0}},
    {559408,
     {31.48, 0, 0, 3, 33.020000000000003,
      13, 28.383076923076924, 38, 29.477631578947371, 1,
      0, 5, 0, 19, 0}},
    {594322,
     {44.240000000000002, 0, 0, 7, 85.328571428571422,
      29, 66.643793103448274, 96, 70.711145833333333, 0,
      0, 7, 0, 25, 0}},
    {608903,
     {69.25, 1, 0, 5, 88.358000000000004,
      10, 92.900000000000006, 40, 93.157499999999999, 1,
      1, 5, 1, 26, 0.42307692307692307}},
    {647917,
     {82.989999999999995, 0, 0, 4, 66.747500000000002,
      14, 59.652142857142856, 58, 56.281034482758621, 0,
      0, 5, 0, 21, 0}},
    {669575,
     {16.73, 1, 0, 5, 49.827999999999996,
      16, 66.284374999999997, 115, 75.621478260869566, 1,
      0, 7, 0, 30, 0}},
    {731769,
     {84.159999999999997, 1, 0, 2, 92.219999999999999,
      20, 76.1995, 70, 71.634571428571434, 2,
      0, 8, 0, 27, 0}},
    {792227,
     {84.579999999999998, 0, 0, 7, 84.94714285714285,
      38, 89.374210526315778, 126, 83.688412698412691, 0,
      0, 8, 0, 45, 0}},
    {834615,
     {123.23, 0, 1, 5, 134.03399999999999,
      20, 106.30999999999999, 70, 97.453285714285713, 1,
      1, 10, 1, 27, 0.62962962962962965}},
    {838215,
     {92.530000000000001, 0, 0, 3, 63.550000000000004,
      15, 64.788666666666671, 66, 63.055909090909083, 0,
      0, 6, 0, 20, 0}},
    {842240,
     {8.0399999999999991, 0, 0, 3, 11.406666666666666,
      17, 9.4176470588235297, 95, 11.310210526315791, 2,
      0, 8, 0, 41, 0}},
    {852158,
     {14.34, 0, 0, 7, 15.204285714285716,
      15, 16.285333333333334, 58, 14.031034482758621, 0,
      0, 3, 0, 30, 0}},
    {852159,
     {15.98, 0, 0, 6, 15.348333333333334,
      14, 16.424285714285713, 57, 14.02561403508772, 1,
      0, 16, 0, 67, 0}},
    {872592,
     {14.35, 1, 0, 9, 23.649999999999999,
      28, 26.91357142857143, 109, 24.874220183486237, 1,
      0, 6, 0, 18, 0}},
    {879843,
     {97.980000000000004, 1, 0, 4, 117.355,
      21, 78.701428571428579, 85, 74.97776470588235, 3,
      0, 12, 0, 38, 0}},
    {886198,
     {2.7000000000000002, 0, 0, 2, 6.5449999999999999,
      25, 9.7439999999999998, 108, 10.701111111111111, 0,
      0, 2, 0, 21, 0}},
    {915912,
     {15.76, 0, 0, 6, 22.776666666666667,
      14, 32.557142857142857, 54, 28.826481481481483, 0,
      0, 5, 0, 37, 0}},
    {1022871,
     {18.82, 0, 0, 6, 23.489999999999998,
      25, 20.8764, 110, 19.269545454545455, 0,
      0, 5, 0, 38, 0}},
    {1039095,
     {66.150000000000006, 0, 0, 5, 82.683999999999997,
      29, 82.828965517241372, 86, 89.037209302325579, 2,
      0, 4, 0, 43, 0}},
    {1043403,
     {0.97999999999999998, 0, 0, 7, 4.2371428571428575,
      23, 4.6108695652173912, 86, 5.1636046511627907, 2,
      1, 9, 0.88888888888888884, 28, 0.8214285714285714}},
    {1120860,
     {53.549999999999997, 0, 0, 6, 25.969999999999999,
      23, 29.934782608695652, 114, 28.082543859649121, 1,
      0, 6, 0, 26, 0}},
    {1120861,
     {12.1, 0, 0, 5, 20.454000000000001,
      22, 28.861363636363638, 113, 27.857168141592922, 0,
      0, 3, 0, 28, 0}},
    {1148716,
     {44.880000000000003, 1, 0, 4, 75.265000000000001,
      20, 93.087999999999994, 93, 87.82086021505377, 2,
      0, 13, 0, 36, 0}},
    {1237258,
     {25, 0, 1, 3, 17.213333333333335,
      25, 14.4892, 122, 15.963852459016392, 1,
      0, 5, 0, 18, 0.055555555555555552}},
    {1240489,
     {52.630000000000003, 0, 0, 4, 55.185000000000002,
      14, 53.761428571428567, 53, 54.957358490566037, 4,
      1, 12, 0.5, 34, 0.17647058823529413}},
    {1240490,
     {46.990000000000002, 0, 0, 5, 53.546000000000006,
      15, 53.309999999999995, 54, 54.809814814814814, 1,
      0, 7, 0, 28, 0}},
    {1265077,
     {99.090000000000003, 0, 0, 5, 94.858000000000004,
      25, 71.677999999999997, 93, 90.477204301075261, 1,
      1, 11, 0.090909090909090912, 32, 0.03125}},
    {1485478,
     {61.530000000000001, 1, 0, 4, 55.825000000000003,
      15, 61.330666666666666, 52, 66.152115384615385, 0,
      0, 12, 0, 41, 0}},
    {1485479,
     {49.939999999999998, 1, 0, 7, 62.648571428571429,
      24, 67.558333333333337, 90, 73.826666666666668, 0,
      0, 4, 0, 31, 0}},
    /* clang-format on */
};

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct hb_row {
    int64_t ts;
    int64_t cents;
    int cust, term;
    int8_t fraud;
};

/* Reads the whole file through gzip (the test needs no zlib of its own). */
static struct hb_row *read_fraud_sim(const char *path, size_t *n_out)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *fp = popen(cmd, "r");
    cr_assert(fp, "cannot run gzip on %s", path);
    size_t cap = 1600000, n = 0;
    struct hb_row *rows = malloc(cap * sizeof *rows);
    cr_assert(rows);
    char line[256];
    cr_assert(fgets(line, sizeof line, fp), "empty %s", path);
    while (fgets(line, sizeof line, fp)) {
        long id;
        int y, mo, d, hh, mi, ss, cust, term, fraud, scen;
        long whole, frac;
        int got = sscanf(line, "%ld,%d-%d-%d %d:%d:%d,%d,%d,%ld.%2ld,%d,%d", &id, &y, &mo, &d, &hh,
                         &mi, &ss, &cust, &term, &whole, &frac, &fraud, &scen);
        cr_assert_eq(got, 13, "%s: row %zu does not parse: %s", path, n + 1, line);
        cr_assert_eq((size_t)id, n, "%s: ids are not 0, 1, 2, ... at row %zu", path, n + 1);
        cr_assert(n < cap);
        rows[n].ts = days_from_civil(y, mo, d) * DAY + hh * 3600 + mi * 60 + ss;
        rows[n].cents = whole * 100 + frac;
        rows[n].cust = cust;
        rows[n].term = term;
        rows[n].fraud = (int8_t)fraud;
        n++;
    }
    cr_assert_eq(pclose(fp), 0, "gzip failed on %s", path);
    *n_out = n;
    return rows;
}

static void close_to(double got, double want, double rel, const char *what, long id, int j)
{
    double tol = rel * fmax(1.0, fabs(want));
    cr_assert(fabs(got - want) <= tol, "%s: tx %ld feature %d is %.17g, want %.17g", what, id, j,
              got, want);
}

Test(stream_handbook, baseline_features_on_fraud_sim, .timeout = 600)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/fraud_sim/transactions.csv.gz", tu_shared_dir());
    struct stat st;
    if (stat(path, &st) != 0)
        cr_skip_test("fraud_sim data set absent (%s): handbook features not checked", path);
    size_t n;
    struct hb_row *rows = read_fraud_sim(path, &n);
    cr_assert_eq(n, 1485480);

    /* the handbook's order: id order with the swapped pairs reversed */
    size_t *order = malloc(n * sizeof *order);
    cr_assert(order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t k = 0; k < sizeof swapped / sizeof swapped[0]; k++) {
        size_t a = (size_t)swapped[k][0], b = (size_t)swapped[k][1];
        cr_assert_eq(b, a + 1);
        cr_assert_eq(rows[a].ts, rows[b].ts);
        order[a] = b;
        order[b] = a;
    }

    struct tl_stream_config cfg;
    tl_stream_config_default(&cfg);
    tl_stream *s;
    tl_err err = {0};
    cr_assert_eq(tl_stream_new(&cfg, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_stream_n_features(s), 20);
    cr_assert_str_eq(tl_stream_feature_name(s, 3), "customer_nb_tx_1day");
    cr_assert_str_eq(tl_stream_feature_name(s, 14), "terminal_risk_30day");

    long double sum[15] = {0}, sq[15] = {0};
    size_t n_rows = sizeof want_rows / sizeof want_rows[0], checked = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        char id[24], cust[16], term[16];
        snprintf(id, sizeof id, "%zu", i);
        snprintf(cust, sizeof cust, "%d", rows[i].cust);
        snprintf(term, sizeof term, "%d", rows[i].term);
        struct tl_stream_tx tx = {id, cust, term, rows[i].ts, rows[i].cents, rows[i].fraud, NULL, NULL};
        double f[TL_STREAM_MAX_FEATURES];
        int rc = tl_stream_update(s, &tx, f, &err);
        cr_assert_eq(rc, 0, "tx %zu: %s", i, err.msg);
        for (int j = 0; j < 15; j++) {
            sum[j] += f[j];
            sq[j] += (long double)f[j] * f[j];
        }
        for (size_t r = 0; r < n_rows; r++) {
            if (want_rows[r].id != (long)i)
                continue;
            for (int j = 0; j < 15; j++)
                close_to(f[j], want_rows[r].f[j], 1e-12, "row", (long)i, j);
            checked++;
        }
    }
    cr_assert_eq(checked, n_rows);
    for (int j = 0; j < 15; j++) {
        close_to((double)sum[j], want_sum[j][0], 1e-12, "sum", -1, j);
        close_to((double)sq[j], want_sum[j][1], 1e-12, "sum of squares", -1, j);
    }
    struct tl_stream_stats stats;
    tl_stream_get_stats(s, &stats);
    cr_assert_eq(stats.n_tx, n);
    cr_assert_eq(stats.n_late, 0);
    cr_assert_eq(stats.n_dropped, 0);
    /* cards and terminals idle past their horizon were evicted on the way
     * (the features above are those of an engine that evicts nothing) */
    cr_assert_leq(stats.n_customers, 4989);
    cr_assert_geq(stats.n_customers + stats.n_customers_evicted, 4989);
    cr_assert_leq(stats.n_terminals, 10000);
    cr_assert_geq(stats.n_terminals + stats.n_terminals_evicted, 10000);
    tl_stream_free(s);
    free(order);
    free(rows);
}

/* ---- synthetic streams -------------------------------------------------- */

struct syn {
    char id[24], cust[16], term[16];
    int64_t ts, cents;
    int label;
};

/* n transactions over ~20 days, 40 cards, 25 terminals, ts strictly rising. */
static struct syn *make_stream(size_t n, uint64_t seed)
{
    struct syn *v = calloc(n, sizeof *v);
    cr_assert(v);
    tl_rng r;
    tl_rng_seed(&r, seed);
    int64_t t = 1530000000;
    for (size_t i = 0; i < n; i++) {
        t += 1 + (int64_t)tl_rng_below(&r, 1200);
        snprintf(v[i].id, sizeof v[i].id, "t%zu", i);
        snprintf(v[i].cust, sizeof v[i].cust, "c%d", (int)tl_rng_below(&r, 40));
        snprintf(v[i].term, sizeof v[i].term, "m%d", (int)tl_rng_below(&r, 25));
        v[i].ts = t;
        v[i].cents = 1 + (int64_t)tl_rng_below(&r, 30000);
        v[i].label = tl_rng_below(&r, 10) == 0;
    }
    return v;
}

/* Country and channel of synthetic transaction "t<i>": 20 countries (and
 * sometimes none), so the 40 cards overflow their 16 remembered countries
 * and the snapshot tests cover the eviction too; 3 channels or none. */
static const char *const syn_country[21] = {"DE", "FR", "IT", "ES", "NL", "BE", "AT",
                                            "PL", "CZ", "DK", "SE", "FI", "PT", "IE",
                                            "GR", "HU", "RO", "BG", "SK", NULL, "LU"};
static const char *const syn_channel[4] = {"pos", "online", NULL, "atm"};

static struct tl_stream_tx as_tx(const struct syn *e, int label)
{
    long i = strtol(e->id + 1, NULL, 10);
    struct tl_stream_tx tx = {e->id, e->cust, e->term, e->ts, e->cents, label,
                              syn_country[(i * 7 + i / 3) % 21], syn_channel[(i * 5 / 2) % 4]};
    return tx;
}

static tl_stream *new_stream(void)
{
    struct tl_stream_config cfg;
    tl_stream_config_default(&cfg);
    tl_stream *s;
    tl_err err = {0};
    cr_assert_eq(tl_stream_new(&cfg, &s, &err), 0, "%s", err.msg);
    return s;
}

/* The windows by brute force over the events that arrived up to and
 * including arrival k (labels inline), straight from the definitions. */
static void naive(const struct syn *arr, size_t k, double *f)
{
    static const int64_t w[3] = {DAY, 7 * DAY, 30 * DAY};
    const struct syn *e = &arr[k];
    for (int j = 0; j < 3; j++) {
        double n = 0, sum = 0, mn = 0, fr = 0;
        for (size_t i = 0; i <= k; i++) {
            if (!strcmp(arr[i].cust, e->cust) && arr[i].ts > e->ts - w[j] && arr[i].ts <= e->ts) {
                n++;
                sum += (double)arr[i].cents;
            }
            if (!strcmp(arr[i].term, e->term) && arr[i].ts > e->ts - 7 * DAY - w[j] &&
                arr[i].ts <= e->ts - 7 * DAY) {
                mn++;
                fr += arr[i].label;
            }
        }
        f[3 + 2 * j] = n;
        f[4 + 2 * j] = sum / 100.0 / n;
        f[9 + 2 * j] = mn;
        f[10 + 2 * j] = mn ? fr / mn : 0.0;
    }
}

Test(stream, out_of_order_events_are_placed_by_their_time)
{
    size_t n = 3000;
    struct syn *v = make_stream(n, 11);
    /* arrival order: each event delayed by up to ~6 hours (lateness limit 1 day) */
    tl_rng r;
    tl_rng_seed(&r, 12);
    int64_t *key = malloc(n * sizeof *key);
    for (size_t i = 0; i < n; i++)
        key[i] = v[i].ts + (int64_t)tl_rng_below(&r, 6 * 3600);
    for (size_t i = 1; i < n; i++) /* insertion sort by arrival time */
        for (size_t j = i; j > 0 && key[j - 1] > key[j]; j--) {
            int64_t tk = key[j];
            key[j] = key[j - 1];
            key[j - 1] = tk;
            struct syn te = v[j];
            v[j] = v[j - 1];
            v[j - 1] = te;
        }
    tl_stream *s = new_stream();
    tl_err err = {0};
    for (size_t k = 0; k < n; k++) {
        double f[TL_STREAM_MAX_FEATURES], g[15];
        struct tl_stream_tx tx = as_tx(&v[k], v[k].label);
        cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
        naive(v, k, g);
        for (int j = 3; j < 15; j++)
            close_to(f[j], g[j], 1e-12, "late", (long)k, j);
    }
    struct tl_stream_stats st;
    tl_stream_get_stats(s, &st);
    cr_assert_gt(st.n_late, 100, "the shuffle made only %llu late events",
                 (unsigned long long)st.n_late);
    /* too late to place exactly: refused, state unchanged */
    struct syn old = v[n - 1];
    snprintf(old.id, sizeof old.id, "old");
    old.ts -= 2 * DAY;
    struct tl_stream_tx tx = as_tx(&old, 0);
    double f[TL_STREAM_MAX_FEATURES];
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "max_lateness_s"), "%s", err.msg);
    tl_stream_get_stats(s, &st);
    cr_assert_eq(st.n_tx, n);
    tl_stream_free(s);
    free(key);
    free(v);
}

Test(stream, duplicates_are_answered_again_not_counted)
{
    size_t n = 400;
    struct syn *v = make_stream(n, 21);
    tl_stream *s = new_stream();
    tl_err err = {0};
    double (*rows)[TL_STREAM_MAX_FEATURES] = calloc(n, sizeof *rows);
    for (size_t k = 0; k < n; k++) {
        struct tl_stream_tx tx = as_tx(&v[k], v[k].label);
        cr_assert_eq(tl_stream_update(s, &tx, rows[k], &err), 0, "%s", err.msg);
        if (k >= 10 && k % 7 == 0) { /* resend one of the last ten */
            size_t d = k - (k % 10);
            double f[TL_STREAM_MAX_FEATURES];
            tx = as_tx(&v[d], v[d].label);
            cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_STREAM_DUPLICATE, "%s", err.msg);
            for (size_t j = 0; j < tl_stream_n_features(s); j++)
                cr_assert_eq(f[j], rows[d][j], "dup of %zu: feature %zu %.17g vs %.17g", d, j, f[j],
                             rows[d][j]);
        }
    }
    /* a fresh stream without the resends gives the same rows */
    tl_stream *t = new_stream();
    for (size_t k = 0; k < n; k++) {
        double f[TL_STREAM_MAX_FEATURES];
        struct tl_stream_tx tx = as_tx(&v[k], v[k].label);
        cr_assert_eq(tl_stream_update(t, &tx, f, &err), 0);
        cr_assert_eq(memcmp(f, rows[k], tl_stream_n_features(t) * sizeof f[0]), 0, "row %zu", k);
    }
    struct tl_stream_stats st;
    tl_stream_get_stats(s, &st);
    cr_assert_eq(st.n_tx, n);
    cr_assert_gt(st.n_duplicates, 40);
    /* the same id with another amount is a conflict */
    struct syn bad = v[n - 1];
    bad.cents += 1;
    struct tl_stream_tx tx = as_tx(&bad, -1);
    double f[TL_STREAM_MAX_FEATURES];
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_ECONSTRAINT);
    cr_assert(strstr(err.msg, bad.id), "%s", err.msg);
    tl_stream_free(s);
    tl_stream_free(t);
    free(rows);
    free(v);
}

Test(stream, late_label_counts_from_its_arrival)
{
    tl_stream *s = new_stream();
    tl_err err = {0};
    double f[TL_STREAM_MAX_FEATURES];
    int64_t t0 = 1530000000;
    struct tl_stream_tx a = {"a", "c1", "m1", t0, 1000, -1, NULL, NULL};
    cr_assert_eq(tl_stream_update(s, &a, f, &err), 0);
    cr_assert_eq(f[9], 0); /* nothing on m1 7 days back yet */
    struct tl_stream_tx b = {"b", "c2", "m1", t0 + 7 * DAY + 60, 2000, -1, NULL, NULL};
    cr_assert_eq(tl_stream_update(s, &b, f, &err), 0);
    cr_assert_eq(f[9], 1);  /* a is in (t-8d, t-7d] */
    cr_assert_eq(f[10], 0); /* not known as fraud yet */
    cr_assert_eq(tl_stream_label(s, "a", 1, &err), 0, "%s", err.msg);
    struct tl_stream_tx c = {"c", "c3", "m1", t0 + 7 * DAY + 120, 3000, -1, NULL, NULL};
    cr_assert_eq(tl_stream_update(s, &c, f, &err), 0);
    cr_assert_eq(f[9], 1);
    cr_assert_eq(f[10], 1.0);
    cr_assert_eq(f[12], 1.0); /* 7-day window too */
    /* b asked again: still the answer it got before the label */
    cr_assert_eq(tl_stream_update(s, &b, f, &err), TL_STREAM_DUPLICATE, "%s", err.msg);
    cr_assert_eq(f[10], 0);
    /* a corrected to genuine */
    cr_assert_eq(tl_stream_label(s, "a", 0, &err), 0);
    struct tl_stream_tx d = {"d", "c3", "m1", t0 + 7 * DAY + 180, 3000, -1, NULL, NULL};
    cr_assert_eq(tl_stream_update(s, &d, f, &err), 0);
    cr_assert_eq(f[10], 0);
    cr_assert_eq(tl_stream_label(s, "nope", 1, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
    cr_assert_eq(tl_stream_label(s, "a", 2, &err), TL_EINVAL);
    tl_stream_free(s);
}

Test(stream, live_scoring_equals_replay_row_for_row)
{
    size_t n = 20000;
    struct syn *v = make_stream(n, 31);
    tl_err err = {0};
    /* training: replay with every label inline */
    tl_stream *replay = new_stream();
    double (*rows)[TL_STREAM_MAX_FEATURES] = calloc(n, sizeof *rows);
    for (size_t k = 0; k < n; k++) {
        struct tl_stream_tx tx = as_tx(&v[k], v[k].label);
        cr_assert_eq(tl_stream_update(replay, &tx, rows[k], &err), 0, "%s", err.msg);
    }
    /* live: one at a time, no label with the transaction; each label
     * arrives later, by the time it is 7 days old */
    tl_stream *live = new_stream();
    size_t next_label = 0;
    for (size_t k = 0; k < n; k++) {
        while (next_label < k && v[next_label].ts + 7 * DAY - 3600 <= v[k].ts) {
            cr_assert_eq(tl_stream_label(live, v[next_label].id, v[next_label].label, &err), 0,
                         "%s", err.msg);
            next_label++;
        }
        double f[TL_STREAM_MAX_FEATURES];
        struct tl_stream_tx tx = as_tx(&v[k], -1);
        cr_assert_eq(tl_stream_update(live, &tx, f, &err), 0, "%s", err.msg);
        for (size_t j = 0; j < tl_stream_n_features(live); j++)
            cr_assert_eq(f[j], rows[k][j], "row %zu feature %s: live %.17g, replay %.17g", k,
                         tl_stream_feature_name(live, j), f[j], rows[k][j]);
    }
    cr_assert_gt(next_label, n / 2);
    /* the extras are sane on the last row */
    double *last = rows[n - 1];
    cr_assert_geq(last[15], 0);
    cr_assert(last[17] == 0 || last[17] == 1);
    tl_stream_free(replay);
    tl_stream_free(live);
    free(rows);
    free(v);
}

Test(stream, config_and_input_errors_name_the_field)
{
    struct tl_stream_config cfg;
    tl_stream_config_default(&cfg);
    tl_stream *s = NULL;
    tl_err err = {0};
    cfg.window_s[1] = cfg.window_s[0];
    cr_assert_eq(tl_stream_new(&cfg, &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "window_s[1]"), "%s", err.msg);
    cr_assert_null(s);
    tl_stream_config_default(&cfg);
    cfg.n_windows = 2;
    cfg.window_s[0] = 3600;
    cfg.window_s[1] = 2 * DAY;
    cr_assert_eq(tl_stream_new(&cfg, &s, &err), 0);
    cr_assert_eq(tl_stream_n_features(s), 16);
    cr_assert_str_eq(tl_stream_feature_name(s, 3), "customer_nb_tx_3600s");
    cr_assert_str_eq(tl_stream_feature_name(s, 13), "customer_terminal_new");
    cr_assert_str_eq(tl_stream_feature_name(s, 14), "customer_country_new");
    cr_assert_str_eq(tl_stream_feature_name(s, 15), "customer_channel_new");
    cr_assert_null(tl_stream_feature_name(s, 16));
    double f[TL_STREAM_MAX_FEATURES];
    struct tl_stream_tx tx = {"x", "c", "m", 1530000000, -5, -1, NULL, NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "amount_cents"), "%s", err.msg);
    tx.amount_cents = 5;
    tx.customer_id = "";
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "customer id"), "%s", err.msg);
    tx.customer_id = "c";
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0);
    cr_assert_eq(f[13], 1); /* first time at this terminal */
    cr_assert_eq(f[11], -1); /* no previous transaction */
    tx.tx_id = "y";
    tx.ts_s += 90;
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0);
    cr_assert_eq(f[13], 0);
    cr_assert_eq(f[11], 90);
    cr_assert_eq(f[3], 2);
    tl_stream_free(s);
}

/* customer_country_new and customer_channel_new from their definition: no
 * earlier-arrived transaction of the card with that country (channel) in
 * (t - 30 days, t]; 0 when unknown. In order, at most 12 countries a card. */
Test(stream, country_and_channel_new_match_their_definition)
{
    size_t n = 3000;
    struct syn *v = make_stream(n, 77);
    static const char *const cc[13] = {"DE", "FR", "IT", "ES", "NL", "BE", "AT",
                                       "PL", "CZ", "DK", "SE", NULL, "PT"};
    const char *country[3000], *channel[3000];
    for (size_t i = 0; i < n; i++) {
        country[i] = cc[(i * 7 + i / 5) % 13];
        channel[i] = syn_channel[(i * 3 + i / 7) % 4];
    }
    tl_stream *s = new_stream();
    tl_err err = {0};
    size_t n_new[2] = {0, 0};
    for (size_t k = 0; k < n; k++) {
        struct tl_stream_tx tx = {v[k].id, v[k].cust, v[k].term, v[k].ts, v[k].cents, -1,
                                  country[k], channel[k]};
        double f[TL_STREAM_MAX_FEATURES];
        cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
        const char *const *code[2] = {country, channel};
        for (int kind = 0; kind < 2; kind++) {
            double want = 0;
            if (code[kind][k]) {
                want = 1;
                for (size_t i = 0; i < k; i++)
                    if (!strcmp(v[i].cust, v[k].cust) && code[kind][i] &&
                        !strcmp(code[kind][i], code[kind][k]) && v[i].ts > v[k].ts - 30 * DAY)
                        want = 0;
            }
            cr_assert_eq(f[18 + kind], want, "tx %zu kind %d: %g, want %g", k, kind, f[18 + kind],
                         want);
            n_new[kind] += want == 1;
        }
    }
    cr_assert_gt(n_new[0], 100);
    cr_assert_gt(n_new[1], 50);
    tl_stream_free(s);
    free(v);
}

Test(stream, country_and_channel_new_edges)
{
    tl_stream *s = new_stream();
    tl_err err = {0};
    double f[TL_STREAM_MAX_FEATURES];
    int64_t t0 = 1530000000;
    struct tl_stream_tx tx = {"a", "c1", "m1", t0, 1000, -1, "FR", "pos"};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_str_eq(tl_stream_feature_name(s, 18), "customer_country_new");
    cr_assert_str_eq(tl_stream_feature_name(s, 19), "customer_channel_new");
    cr_assert_eq(f[18], 1);
    cr_assert_eq(f[19], 1);
    /* either case is the same country; unknown is 0 */
    tx = (struct tl_stream_tx){"b", "c1", "m2", t0 + 60, 1000, -1, "fr", "pos"};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 0);
    cr_assert_eq(f[19], 0);
    cr_assert_eq(f[17], 1); /* a new terminal all the same */
    tx = (struct tl_stream_tx){"c", "c1", "m2", t0 + 120, 1000, -1, NULL, "online"};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 0);
    cr_assert_eq(f[19], 1);
    /* another card has its own set */
    tx = (struct tl_stream_tx){"c2", "c2", "m2", t0 + 130, 1000, -1, "FR", ""};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 1);
    cr_assert_eq(f[19], 0);
    /* idle for the longest window (30 days): new again */
    tx = (struct tl_stream_tx){"d", "c1", "m2", t0 + 119 + 30 * DAY, 1000, -1, "FR", "online"};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 1);
    cr_assert_eq(f[19], 0); /* "online" was used at t0 + 120, just inside */
    /* a late one before the run's first use is a first use itself */
    tx = (struct tl_stream_tx){"e", "c1", "m2", t0 + 119 + 30 * DAY - 3600, 1000, -1, "FR", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 1);
    /* a duplicate answers as at its first arrival, whatever country it names now */
    tx = (struct tl_stream_tx){"d", "c1", "m2", t0 + 119 + 30 * DAY, 1000, -1, "IT", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_STREAM_DUPLICATE, "%s", err.msg);
    cr_assert_eq(f[18], 1);
    cr_assert_eq(f[19], 0);
    /* bad codes are refused naming the field, and change nothing */
    struct tl_stream_stats st0, st1;
    tl_stream_get_stats(s, &st0);
    tx = (struct tl_stream_tx){"f", "c1", "m2", t0 + 119 + 30 * DAY, 1000, -1, "FRA", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "country") && strstr(err.msg, "FRA"), "%s", err.msg);
    tx.country = "F1";
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_EINVAL);
    tx.country = NULL;
    tx.channel = "a-channel-name-of-more-than-31-bytes";
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "channel"), "%s", err.msg);
    tl_stream_get_stats(s, &st1);
    cr_assert_eq(st1.n_tx, st0.n_tx);

    /* 17 countries within the window: the least recently used is forgotten */
    int64_t t1 = t0 + 40 * DAY;
    char ids[40][8], codes[17][3];
    for (int i = 0; i < 17; i++) {
        snprintf(ids[i], sizeof ids[i], "g%d", i);
        snprintf(codes[i], sizeof codes[i], "A%c", 'A' + i);
        tx = (struct tl_stream_tx){ids[i], "c3", "m3", t1 + i, 100, -1, codes[i], NULL};
        cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
        cr_assert_eq(f[18], 1);
    }
    tx = (struct tl_stream_tx){"h1", "c3", "m3", t1 + 100, 100, -1, "AQ", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 0);
    tx = (struct tl_stream_tx){"h2", "c3", "m3", t1 + 101, 100, -1, "AB", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 0);
    tx = (struct tl_stream_tx){"h3", "c3", "m3", t1 + 102, 100, -1, "AA", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 1); /* evicted by AQ: seen as new (documented) */
    tx = (struct tl_stream_tx){"h4", "c3", "m3", t1 + 103, 100, -1, "AB", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 0); /* AC went for AA, AB was used since */
    tx = (struct tl_stream_tx){"h5", "c3", "m3", t1 + 104, 100, -1, "AC", NULL};
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    cr_assert_eq(f[18], 1);
    tl_stream_free(s);
}

/* ---- snapshot and restore ------------------------------------------------ */

/* The snapshot of s as bytes (malloc'd). */
static unsigned char *snap_bytes(const tl_stream *s, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    cr_assert(fp);
    tl_err err = {0};
    cr_assert_eq(tl_stream_snapshot(s, fp, &err), 0, "%s", err.msg);
    cr_assert_eq(fclose(fp), 0);
    *len = n;
    return (unsigned char *)buf;
}

/* tl_stream_restore from bytes: its result code, *out set on success. */
static int restore_bytes(const unsigned char *p, size_t len, tl_stream **out, tl_err *err)
{
    FILE *fp = fmemopen((void *)p, len, "rb");
    cr_assert(fp);
    int rc = tl_stream_restore(fp, out, err);
    fclose(fp);
    return rc;
}

static void same_rows(const double *a, const double *b, size_t n, const char *what, size_t k)
{
    for (size_t j = 0; j < n; j++)
        cr_assert(memcmp(&a[j], &b[j], sizeof a[j]) == 0, "%s: row %zu feature %zu: %.17g vs %.17g",
                  what, k, j, a[j], b[j]);
}

/* Synthetic arrival order with events up to ~6 hours late, as above. */
static struct syn *make_late_stream(size_t n, uint64_t seed)
{
    struct syn *v = make_stream(n, seed);
    tl_rng r;
    tl_rng_seed(&r, seed + 1);
    int64_t *key = malloc(n * sizeof *key);
    cr_assert(key);
    for (size_t i = 0; i < n; i++)
        key[i] = v[i].ts + (int64_t)tl_rng_below(&r, 6 * 3600);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && key[j - 1] > key[j]; j--) {
            int64_t tk = key[j];
            key[j] = key[j - 1];
            key[j - 1] = tk;
            struct syn te = v[j];
            v[j] = v[j - 1];
            v[j - 1] = te;
        }
    free(key);
    return v;
}

/* Feeds arrival k to s the live way: the labels of transactions at least
 * ~7 days old first (*next_label moves on), then k without its label. */
static void live_step(tl_stream *s, const struct syn *v, size_t k, size_t *next_label, double *f)
{
    tl_err err = {0};
    while (*next_label < k && v[*next_label].ts + 7 * DAY - 3600 <= v[k].ts) {
        cr_assert_eq(tl_stream_label(s, v[*next_label].id, v[*next_label].label, &err), 0, "%s",
                     err.msg);
        (*next_label)++;
    }
    struct tl_stream_tx tx = as_tx(&v[k], -1);
    cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
}

Test(stream_snapshot, restored_engine_continues_bit_for_bit)
{
    size_t n = 12000, half = 7000;
    struct syn *v = make_late_stream(n, 41);
    tl_stream *a = new_stream();
    double (*rows)[TL_STREAM_MAX_FEATURES] = calloc(n, sizeof *rows);
    size_t next_label = 0;
    for (size_t k = 0; k < half; k++)
        live_step(a, v, k, &next_label, rows[k]);
    size_t next_label_at_snap = next_label;

    size_t len;
    unsigned char *snap = snap_bytes(a, &len);
    tl_stream *b = NULL;
    tl_err err = {0};
    cr_assert_eq(restore_bytes(snap, len, &b, &err), 0, "%s", err.msg);
    /* snapshot -> restore -> snapshot: the same bytes */
    size_t len2;
    unsigned char *snap2 = snap_bytes(b, &len2);
    cr_assert_eq(len2, len);
    cr_assert(memcmp(snap, snap2, len) == 0, "the restored engine's snapshot differs");
    struct tl_stream_stats sa, sb;
    tl_stream_get_stats(a, &sa);
    tl_stream_get_stats(b, &sb);
    cr_assert_eq(sb.n_tx, half);
    cr_assert_eq(sb.n_late, sa.n_late);
    cr_assert_eq(sb.n_labels, sa.n_labels);
    cr_assert_eq(sb.n_tx_remembered, sa.n_tx_remembered);
    cr_assert_gt(sa.n_late, 100);

    /* the restart protocol, on a second restored copy: replay the store
     * from the watermark; what the snapshot holds answers as a duplicate
     * with its first features, and the rest continues as below */
    tl_stream *c = NULL;
    cr_assert_eq(restore_bytes(snap, len, &c, &err), 0, "%s", err.msg);
    struct tl_stream_watermark wm;
    tl_stream_watermark(c, &wm);
    cr_assert(wm.any);
    cr_assert_eq(wm.n_tx, half);
    cr_assert_eq(wm.replay_from_ts_s, wm.newest_ts_s - DAY);
    size_t n_dup = 0;
    for (size_t k = 0; k < half; k++) {
        if (v[k].ts < wm.replay_from_ts_s)
            continue;
        double f[TL_STREAM_MAX_FEATURES];
        struct tl_stream_tx tx = as_tx(&v[k], -1);
        cr_assert_eq(tl_stream_update(c, &tx, f, &err), TL_STREAM_DUPLICATE, "%s", err.msg);
        same_rows(f, rows[k], tl_stream_n_features(c), "duplicate after restore", k);
        n_dup++;
    }
    cr_assert_gt(n_dup, 50);

    /* both go on with the same arrivals and labels: the same rows */
    size_t next_b = next_label_at_snap, next_c = next_label_at_snap;
    for (size_t k = half; k < n; k++) {
        double fb[TL_STREAM_MAX_FEATURES], fc[TL_STREAM_MAX_FEATURES];
        live_step(a, v, k, &next_label, rows[k]);
        live_step(b, v, k, &next_b, fb);
        live_step(c, v, k, &next_c, fc);
        same_rows(fb, rows[k], tl_stream_n_features(a), "restored", k);
        same_rows(fc, rows[k], tl_stream_n_features(a), "restored and replayed", k);
    }
    /* and end in the same state, byte for byte */
    free(snap);
    free(snap2);
    snap = snap_bytes(a, &len);
    snap2 = snap_bytes(b, &len2);
    cr_assert_eq(len, len2);
    cr_assert(memcmp(snap, snap2, len) == 0, "the final states differ");
    tl_stream_get_stats(a, &sa);
    tl_stream_get_stats(b, &sb);
    cr_assert_eq(sb.n_tx, sa.n_tx);
    struct tl_stream_stats sc;
    tl_stream_get_stats(c, &sc);
    cr_assert_eq(sc.n_tx, sa.n_tx);
    cr_assert_eq(sc.n_duplicates, sa.n_duplicates + n_dup);
    tl_stream_free(c);

    /* an empty engine round-trips too */
    tl_stream *e = new_stream(), *e2 = NULL;
    free(snap);
    snap = snap_bytes(e, &len);
    cr_assert_eq(restore_bytes(snap, len, &e2, &err), 0, "%s", err.msg);
    tl_stream_watermark(e2, &wm);
    cr_assert(!wm.any);
    cr_assert_eq(wm.n_tx, 0);
    tl_stream_free(e);
    tl_stream_free(e2);
    tl_stream_free(a);
    tl_stream_free(b);
    free(snap);
    free(snap2);
    free(rows);
    free(v);
}

/* A version 1 snapshot (before cards kept countries and channels) still
 * restores: built here from a version 2 one of an engine that never saw a
 * country, by taking out its card's two empty sets. */
Test(stream_snapshot, version_1_snapshots_restore_with_empty_sets)
{
    tl_stream *a = new_stream();
    tl_err err = {0};
    double fa[TL_STREAM_MAX_FEATURES], fb[TL_STREAM_MAX_FEATURES];
    struct tl_stream_tx tx = {"x1", "k", "m", 1530000000, 1000, -1, NULL, NULL};
    cr_assert_eq(tl_stream_update(a, &tx, fa, &err), 0, "%s", err.msg);
    size_t len;
    unsigned char *snap = snap_bytes(a, &len);
    cr_assert_eq(snap[8], 2);
    /* header 24; config 4 + 3 * 8 + 8 + 8 + 4 + 8; clock 17; counters 64;
     * card count 8; the card: 1 + 1 + 8 + 8 + one event of 33 */
    size_t at = 24 + 56 + 17 + 64 + 8 + 51;
    cr_assert_eq(snap[at - 51 + 1], 'k');
    cr_assert_eq(snap[at], 0);
    cr_assert_eq(snap[at + 1], 0);
    size_t plen = len - 24 - 32 - 2;
    unsigned char *v1 = malloc(len);
    memcpy(v1, snap, at);
    memcpy(v1 + at, snap + at + 2, len - 32 - at - 2);
    v1[8] = 1;
    for (int i = 0; i < 8; i++)
        v1[16 + i] = (unsigned char)(plen >> (8 * i));
    crypto_generichash(v1 + 24 + plen, 32, v1, 24 + plen, NULL, 0);
    tl_stream *b = NULL;
    cr_assert_eq(restore_bytes(v1, 24 + plen + 32, &b, &err), 0, "%s", err.msg);
    /* it goes on as the original */
    const char *cc[3] = {"DE", "DE", "FR"};
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "y%d", i);
        tx = (struct tl_stream_tx){id, "k", "m", 1530000100 + i, 2000, -1, cc[i], "pos"};
        cr_assert_eq(tl_stream_update(a, &tx, fa, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_stream_update(b, &tx, fb, &err), 0, "%s", err.msg);
        same_rows(fb, fa, tl_stream_n_features(a), "restored from version 1", (size_t)i);
    }
    cr_assert_eq(fa[17], 0);
    cr_assert_eq(fa[18], 1);
    tl_stream_free(a);
    tl_stream_free(b);
    free(v1);
    free(snap);
}

Test(stream_snapshot, fraud_sim_slice_restored_midway, .timeout = 600)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/fraud_sim/transactions.csv.gz", tu_shared_dir());
    struct stat st;
    if (stat(path, &st) != 0)
        cr_skip_test("fraud_sim data set absent (%s): covered by the synthetic snapshot test", path);
    size_t n_all;
    struct hb_row *rows = read_fraud_sim(path, &n_all);
    /* about 60 days, restored after 40: past the 38-day terminal horizon */
    size_t n = 500000, half = 320000;
    cr_assert_geq(n_all, n);
    tl_stream *a = new_stream(), *b = NULL;
    tl_err err = {0};
    size_t nf = tl_stream_n_features(a);
    for (size_t i = 0; i < n; i++) {
        if (i == half) {
            size_t len, len2;
            unsigned char *snap = snap_bytes(a, &len);
            cr_assert_eq(restore_bytes(snap, len, &b, &err), 0, "%s", err.msg);
            unsigned char *snap2 = snap_bytes(b, &len2);
            cr_assert(len == len2 && memcmp(snap, snap2, len) == 0);
            free(snap);
            free(snap2);
        }
        char id[24], cust[16], term[16];
        snprintf(id, sizeof id, "%zu", i);
        snprintf(cust, sizeof cust, "%d", rows[i].cust);
        snprintf(term, sizeof term, "%d", rows[i].term);
        struct tl_stream_tx tx = {id, cust, term, rows[i].ts, rows[i].cents, rows[i].fraud, NULL, NULL};
        double fa[TL_STREAM_MAX_FEATURES], fb[TL_STREAM_MAX_FEATURES];
        cr_assert_eq(tl_stream_update(a, &tx, fa, &err), 0, "tx %zu: %s", i, err.msg);
        if (b) {
            cr_assert_eq(tl_stream_update(b, &tx, fb, &err), 0, "tx %zu: %s", i, err.msg);
            same_rows(fb, fa, nf, "fraud_sim restored", i);
        }
    }
    struct tl_stream_stats sa, sb;
    tl_stream_get_stats(a, &sa);
    tl_stream_get_stats(b, &sb);
    cr_assert_eq(sb.n_tx, sa.n_tx);
    cr_assert_eq(sb.n_labels, sa.n_labels);
    tl_stream_free(a);
    tl_stream_free(b);
    free(rows);
}

/* Re-signs a snapshot after its payload was altered, so the parser itself,
 * not the checksum, must catch what is wrong. */
static void resign(unsigned char *p, size_t len)
{
    cr_assert_geq(len, 24 + 32);
    crypto_generichash(p + len - 32, 32, p, len - 32, NULL, 0);
}

Test(stream_snapshot, damaged_snapshots_are_refused_cleanly)
{
    size_t n = 300;
    struct syn *v = make_late_stream(n, 51);
    tl_stream *s = new_stream();
    tl_err err = {0};
    for (size_t k = 0; k < n; k++) {
        double f[TL_STREAM_MAX_FEATURES];
        struct tl_stream_tx tx = as_tx(&v[k], v[k].label);
        cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
    }
    size_t len;
    unsigned char *snap = snap_bytes(s, &len);
    unsigned char *bad = malloc(len);
    cr_assert(bad);
    tl_stream *out = NULL;

    /* every truncation */
    for (size_t cut = 1; cut < len; cut++) {
        cr_assert_eq(restore_bytes(snap, cut, &out, &err), TL_EPARSE, "cut at %zu", cut);
        cr_assert(strstr(err.msg, "truncated"), "cut at %zu: %s", cut, err.msg);
        cr_assert_null(out);
    }
    /* every byte with one bit flipped: caught by the header checks or the checksum */
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, snap, len);
        bad[i] ^= (unsigned char)(1u << (i % 8));
        int rc = restore_bytes(bad, len, &out, &err);
        cr_assert(rc == TL_EPARSE || rc == TL_EUNSUPPORTED || rc == TL_ETOOBIG, "flip at %zu: %d",
                  i, rc);
        cr_assert_null(out);
        if (i >= 24 && i < len - 32)
            cr_assert(strstr(err.msg, "checksum mismatch"), "flip at %zu: %s", i, err.msg);
    }
    /* payload bytes altered and the checksum recomputed: the parser either
     * refuses them or (a change that keeps every value in range, such as an
     * amount) gives an engine that works; never a crash (ASan watches) */
    tl_rng r;
    tl_rng_seed(&r, 52);
    size_t n_refused = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(bad, snap, len);
        int n_flips = 1 + (int)tl_rng_below(&r, 3);
        for (int k = 0; k < n_flips; k++) {
            size_t i = 24 + (size_t)tl_rng_below(&r, len - 24 - 32);
            bad[i] = trial % 2 ? (unsigned char)tl_rng_below(&r, 256) : bad[i] ^ 0xff;
        }
        resign(bad, len);
        int rc = restore_bytes(bad, len, &out, &err);
        if (rc < 0) {
            cr_assert(rc == TL_EPARSE, "trial %d: %d %s", trial, rc, err.msg);
            cr_assert(strstr(err.msg, "stream snapshot: payload byte"), "%s", err.msg);
            cr_assert_null(out);
            n_refused++;
            continue;
        }
        for (size_t k = n - 20; k < n; k++) { /* it answers; what it answers is its business */
            double f[TL_STREAM_MAX_FEATURES];
            struct tl_stream_tx tx = as_tx(&v[k], v[k].label);
            tl_stream_update(out, &tx, f, &err);
            tl_stream_label(out, v[k].id, 1, &err);
        }
        size_t l2;
        free(snap_bytes(out, &l2));
        tl_stream_free(out);
        out = NULL;
    }
    cr_assert_gt(n_refused, 1000);

    /* not a snapshot at all; another version; a declared length past the limit */
    cr_assert_eq(restore_bytes((const unsigned char *)"hello, world, not a snapshot", 28, &out, &err),
                 TL_EPARSE);
    cr_assert(strstr(err.msg, "magic"), "%s", err.msg);
    memcpy(bad, snap, len);
    bad[8] = 3;
    cr_assert_eq(restore_bytes(bad, len, &out, &err), TL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "version 3"), "%s", err.msg);
    memcpy(bad, snap, len);
    bad[23] = 0x7f;
    cr_assert_eq(restore_bytes(bad, len, &out, &err), TL_ETOOBIG);
    /* a declared length beyond the bytes present: truncated, without
     * allocating what it claims */
    memcpy(bad, snap, len);
    bad[20] = 0x40; /* about 1 GiB more */
    cr_assert_eq(restore_bytes(bad, len, &out, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
    cr_assert_null(out);
    tl_stream_free(s);
    free(bad);
    free(snap);
    free(v);
}

/* ---- eviction ------------------------------------------------------------ */

Test(stream_evict, memory_stays_bounded_with_many_distinct_cards)
{
    tl_stream *s = new_stream();
    tl_err err = {0};
    size_t n = 150000;
    int64_t t0 = 1530000000, gap = 120; /* 150,000 x 2 min = 208 days */
    size_t mid_bytes = 0, peak_cust = 0;
    size_t every20 = (size_t)(20 * DAY / gap), every40 = (size_t)(40 * DAY / gap);
    double f[TL_STREAM_MAX_FEATURES];
    for (size_t i = 0; i < n; i++) {
        char id[24], cust[24], term[24];
        int64_t t = t0 + (int64_t)i * gap;
        snprintf(id, sizeof id, "t%zu", i);
        snprintf(cust, sizeof cust, "c%zu", i);        /* a card seen once */
        snprintf(term, sizeof term, "m%zu", i / 10);   /* a terminal for 20 minutes */
        struct tl_stream_tx tx = {id, cust, term, t, 1000 + (int64_t)(i % 97), 0, NULL, NULL};
        cr_assert_eq(tl_stream_update(s, &tx, f, &err), 0, "%s", err.msg);
        cr_assert_eq(f[3], 1);
        cr_assert_eq(f[17], 1);
        /* a regular card every 20 days at one terminal: remembered */
        if (i % every20 == 5) {
            snprintf(id, sizeof id, "reg%zu", i);
            struct tl_stream_tx rt = {id, "regular", "home", t, 5000, 0, NULL, NULL};
            cr_assert_eq(tl_stream_update(s, &rt, f, &err), 0, "%s", err.msg);
            cr_assert_eq(f[17], i < every20 ? 1 : 0, "regular at %zu", i);
            cr_assert_eq(f[7], i < every20 ? 1 : 2);
        }
        /* a card every 40 days: forgotten in between, each visit a first */
        if (i % every40 == 7) {
            snprintf(id, sizeof id, "rare%zu", i);
            struct tl_stream_tx rt = {id, "rare", "home", t, 7000, 0, NULL, NULL};
            cr_assert_eq(tl_stream_update(s, &rt, f, &err), 0, "%s", err.msg);
            cr_assert_eq(f[17], 1, "rare at %zu", i);
            cr_assert_eq(f[7], 1);
            cr_assert_eq(f[15], -1);
        }
        struct tl_stream_stats st;
        if (i % 1000 == 0) {
            tl_stream_get_stats(s, &st);
            if (st.n_customers > peak_cust)
                peak_cust = st.n_customers;
            if (i == n / 2)
                mid_bytes = st.state_bytes;
        }
    }
    struct tl_stream_stats st;
    tl_stream_get_stats(s, &st);
    /* live: cards of the last 31 days (22,320), terminals of the last 38 */
    size_t live_cards = (31 * DAY) / gap;
    cr_assert_leq(peak_cust, 2 * live_cards + 1000, "peak %zu cards held", peak_cust);
    cr_assert_gt(st.n_customers_evicted, n - 2 * live_cards - 1000);
    cr_assert_leq(st.n_terminals, 2 * (38 * DAY) / gap / 10 + 1000);
    cr_assert_gt(st.n_terminals_evicted, 0);
    cr_assert_leq(st.n_pairs, 4 * live_cards + 10000);
    cr_assert_gt(st.n_pairs_forgotten, n / 2);
    cr_assert_leq(st.n_tx_remembered, (38 * DAY) / gap + 1000);
    /* the second half added as much as the first and the state did not grow */
    cr_assert_leq(st.state_bytes, mid_bytes + mid_bytes / 4, "%zu bytes at the end, %zu midway",
                  st.state_bytes, mid_bytes);
    tl_stream_free(s);
}
