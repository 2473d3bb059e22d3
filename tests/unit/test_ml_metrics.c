/* test_ml_metrics.c - binary-classifier metrics against brute force, hand
 * examples and scikit-learn. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_stats.h>

#define EXACT 1e-12

/* The fixed data set whose expected values below were computed with
 * scikit-learn 1.2.1 / numpy on the same numbers:
 *   roc_auc_score(y, p), average_precision_score(y, p),
 *   log_loss(y, p, eps=1e-15), brier_score_loss(y, p),
 *   max(tpr - fpr) over roc_curve(y, p, drop_intermediate=False),
 *   and per bin of edges numpy.arange(6) / 5 the count, mean p, mean y. */
static const double SK_P[20] = {0.05, 0.10, 0.10, 0.20, 0.25, 0.30, 0.30, 0.30, 0.42, 0.45,
                                0.50, 0.55, 0.55, 0.61, 0.70, 0.72, 0.80, 0.80, 0.88, 0.95};
static const uint8_t SK_Y[20] = {0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1};

Test(metrics, sklearn_constants)
{
    double v;
    tl_err err = {0};
    cr_assert_eq(tl_ml_auc(SK_P, SK_Y, 20, &v, &err), 0, "%s", err.msg);
    cr_assert_float_eq(v, 0.72000000000000008, EXACT);
    cr_assert_eq(tl_ml_gini(SK_P, SK_Y, 20, &v, &err), 0, "%s", err.msg);
    cr_assert_float_eq(v, 0.44, EXACT);
    cr_assert_eq(tl_ml_average_precision(SK_P, SK_Y, 20, &v, &err), 0, "%s", err.msg);
    cr_assert_float_eq(v, 0.71739348370927314, EXACT);
    cr_assert_eq(tl_ml_ks(SK_P, SK_Y, 20, &v, &err), 0, "%s", err.msg);
    cr_assert_float_eq(v, 0.40000000000000002, EXACT);
    cr_assert_eq(tl_ml_logloss(SK_P, SK_Y, 20, &v, &err), 0, "%s", err.msg);
    cr_assert_float_eq(v, 0.65434168956656535, EXACT);
    cr_assert_eq(tl_ml_brier(SK_P, SK_Y, 20, &v, &err), 0, "%s", err.msg);
    cr_assert_float_eq(v, 0.22331500000000001, EXACT);

    struct tl_ml_calib_bin bins[5];
    cr_assert_eq(tl_ml_calibration_table(SK_P, SK_Y, 20, 5, bins, &err), 0, "%s", err.msg);
    static const size_t want_n[5] = {3, 5, 5, 3, 4};
    static const double want_pred[5] = {0.083333333333333329, 0.27000000000000002,
                                        0.49400000000000005, 0.67666666666666675,
                                        0.85749999999999993};
    static const double want_pos[5] = {0.33333333333333331, 0.2, 0.6, 0.66666666666666663, 0.75};
    for (int b = 0; b < 5; b++) {
        cr_assert_float_eq(bins[b].lo, b / 5.0, EXACT);
        cr_assert_float_eq(bins[b].hi, (b + 1) / 5.0, EXACT);
        cr_assert_eq(bins[b].n, want_n[b], "bin %d", b);
        cr_assert_float_eq(bins[b].mean_pred, want_pred[b], EXACT, "bin %d", b);
        cr_assert_float_eq(bins[b].frac_pos, want_pos[b], EXACT, "bin %d", b);
    }

    struct tl_ml_summary s;
    cr_assert_eq(tl_ml_summarize(SK_P, SK_Y, 20, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, 20);
    cr_assert_eq(s.n_pos, 10);
    cr_assert_float_eq(s.auc, 0.72, EXACT);
    cr_assert_float_eq(s.gini, 0.44, EXACT);
    cr_assert_float_eq(s.ks, 0.4, EXACT);
    cr_assert_float_eq(s.average_precision, 0.71739348370927314, EXACT);
    cr_assert_float_eq(s.logloss, 0.65434168956656535, EXACT);
    cr_assert_float_eq(s.brier, 0.223315, EXACT);
    json_t *j = tl_ml_summary_json(&s);
    cr_assert(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "n")), 20);
    cr_assert_eq(json_integer_value(json_object_get(j, "n_pos")), 10);
    cr_assert_eq(json_real_value(json_object_get(j, "auc")), s.auc);
    cr_assert_eq(json_real_value(json_object_get(j, "average_precision")), s.average_precision);
    cr_assert_eq(json_real_value(json_object_get(j, "brier")), s.brier);
    cr_assert_eq(json_object_size(j), 8);
    json_decref(j);
}

Test(metrics, hand_examples)
{
    /* scikit-learn's documentation example: AUC 0.75, AP 0.8333... */
    double p[4] = {0.1, 0.4, 0.35, 0.8}, v;
    uint8_t y[4] = {0, 0, 1, 1};
    tl_err err = {0};
    cr_assert_eq(tl_ml_auc(p, y, 4, &v, &err), 0);
    cr_assert_float_eq(v, 0.75, EXACT);
    cr_assert_eq(tl_ml_average_precision(p, y, 4, &v, &err), 0);
    cr_assert_float_eq(v, 5.0 / 6.0, EXACT);
    /* thresholds 0.8: TPR .5 FPR 0; 0.4: .5/.5; 0.35: 1/.5 -> KS .5 */
    cr_assert_eq(tl_ml_ks(p, y, 4, &v, &err), 0);
    cr_assert_float_eq(v, 0.5, EXACT);

    /* all tied: one group, AUC one half, AP the base rate, KS 0 */
    double t[5] = {3, 3, 3, 3, 3};
    uint8_t ty[5] = {1, 0, 0, 1, 0};
    cr_assert_eq(tl_ml_auc(t, ty, 5, &v, &err), 0);
    cr_assert_float_eq(v, 0.5, EXACT);
    cr_assert_eq(tl_ml_average_precision(t, ty, 5, &v, &err), 0);
    cr_assert_float_eq(v, 0.4, EXACT);
    cr_assert_eq(tl_ml_ks(t, ty, 5, &v, &err), 0);
    cr_assert_float_eq(v, 0, EXACT);

    /* a tie across classes at the top: pairs (2,a)=win, (2,b)=win,
     * tie (1 vs 1) = 1/2, (1 vs 0) = win -> of 2*2 pairs 3.5 won */
    double s2[4] = {2, 1, 1, 0};
    uint8_t y2[4] = {1, 1, 0, 0};
    cr_assert_eq(tl_ml_auc(s2, y2, 4, &v, &err), 0);
    cr_assert_float_eq(v, 0.875, EXACT);
    /* perfectly separated, and reversed */
    double s3[4] = {4, 3, 2, 1};
    cr_assert_eq(tl_ml_auc(s3, y2, 4, &v, &err), 0);
    cr_assert_float_eq(v, 1, EXACT);
    cr_assert_eq(tl_ml_ks(s3, y2, 4, &v, &err), 0);
    cr_assert_float_eq(v, 1, EXACT);
    uint8_t y3[4] = {0, 0, 1, 1};
    cr_assert_eq(tl_ml_auc(s3, y3, 4, &v, &err), 0);
    cr_assert_float_eq(v, 0, EXACT);
    cr_assert_eq(tl_ml_gini(s3, y3, 4, &v, &err), 0);
    cr_assert_float_eq(v, -1, EXACT);

    /* log loss clips: p = 0 for a positive costs -log(1e-15), p = 1 for a
     * negative -log(1 - (1 - 1e-15)) (not quite the same in doubles) */
    double z[2] = {0, 1};
    uint8_t zy[2] = {1, 0};
    cr_assert_eq(tl_ml_logloss(z, zy, 2, &v, &err), 0);
    cr_assert_float_eq(v, (-log(1e-15) - log(1 - (1 - 1e-15))) / 2, 1e-9);
    cr_assert_gt(v, 34);
    cr_assert_eq(tl_ml_brier(z, zy, 2, &v, &err), 0);
    cr_assert_float_eq(v, 1, EXACT);
    /* one class is enough for log loss and Brier */
    double h[2] = {0.5, 0.5};
    uint8_t hy[2] = {1, 1};
    cr_assert_eq(tl_ml_logloss(h, hy, 2, &v, &err), 0);
    cr_assert_float_eq(v, log(2), EXACT);
    cr_assert_eq(tl_ml_brier(h, hy, 2, &v, &err), 0);
    cr_assert_float_eq(v, 0.25, EXACT);
}

/* Random data with heavy ties: scores on 15 levels. */
static void random_data(uint64_t seed, size_t n, double *s, uint8_t *y)
{
    tl_rng r;
    tl_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        y[i] = tl_rng_uniform(&r) < 0.3;
        s[i] = (double)tl_rng_below(&r, 15) + (y[i] ? 2 : 0); /* informative */
        s[i] /= 7;
    }
}

Test(metrics, brute_force_on_ties)
{
    enum { N = 600 };
    double s[N];
    uint8_t y[N];
    tl_err err = {0};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        random_data(seed, N, s, y);
        /* AUC: every (positive, negative) pair, ties one half */
        double won = 0, pairs = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                if (y[i] && !y[j]) {
                    pairs += 1;
                    won += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                }
        /* AP and KS: every distinct score as a threshold, in descending
         * order, counting by a full scan each time */
        double ap = 0, ks = 0, prev_r = 0, P = 0, Nn = 0, last = INFINITY;
        for (size_t i = 0; i < N; i++)
            P += y[i], Nn += !y[i];
        for (;;) {
            double t = -INFINITY;
            for (size_t i = 0; i < N; i++)
                if (s[i] < last && s[i] > t)
                    t = s[i];
            if (t == -INFINITY)
                break;
            double tp = 0, fp = 0;
            for (size_t i = 0; i < N; i++)
                if (s[i] >= t)
                    tp += y[i], fp += !y[i];
            ap += (tp / P - prev_r) * (tp / (tp + fp));
            prev_r = tp / P;
            ks = fmax(ks, tp / P - fp / Nn);
            last = t;
        }
        double v;
        cr_assert_eq(tl_ml_auc(s, y, N, &v, &err), 0, "%s", err.msg);
        cr_assert_float_eq(v, won / pairs, EXACT, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(tl_ml_average_precision(s, y, N, &v, &err), 0, "%s", err.msg);
        cr_assert_float_eq(v, ap, EXACT, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(tl_ml_ks(s, y, N, &v, &err), 0, "%s", err.msg);
        cr_assert_float_eq(v, ks, EXACT, "seed %llu", (unsigned long long)seed);
        /* reversing the order mirrors the AUC */
        double neg[N];
        for (size_t i = 0; i < N; i++)
            neg[i] = -s[i];
        double vr;
        cr_assert_eq(tl_ml_auc(neg, y, N, &vr, &err), 0);
        cr_assert_float_eq(vr, 1 - won / pairs, EXACT);
    }
}

Test(metrics, confusion)
{
    struct tl_ml_confusion c;
    tl_err err = {0};
    cr_assert_eq(tl_ml_confusion_at(SK_P, SK_Y, 20, 0.5, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.tp, 7);
    cr_assert_eq(c.fp, 3);
    cr_assert_eq(c.tn, 7);
    cr_assert_eq(c.fn, 3);
    cr_assert_float_eq(c.f1, 0.7, EXACT);
    /* at 0.3 (>= includes the three 0.30 rows): tp 9 fp 6 tn 4 fn 1 */
    cr_assert_eq(tl_ml_confusion_at(SK_P, SK_Y, 20, 0.3, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.tp, 9);
    cr_assert_eq(c.fp, 6);
    cr_assert_eq(c.tn, 4);
    cr_assert_eq(c.fn, 1);
    cr_assert_float_eq(c.precision, 0.6, EXACT);
    cr_assert_float_eq(c.recall, 0.9, EXACT);
    cr_assert_float_eq(c.specificity, 0.4, EXACT);
    cr_assert_float_eq(c.accuracy, 0.65, EXACT);
    cr_assert_float_eq(c.f1, 18.0 / 25.0, EXACT);
    /* nothing predicted positive: precision and F1 have a zero denominator
     * or numerator and are 0, not NaN */
    cr_assert_eq(tl_ml_confusion_at(SK_P, SK_Y, 20, 2, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.tp + c.fp, 0);
    cr_assert_eq(c.precision, 0);
    cr_assert_eq(c.f1, 0);
    cr_assert_float_eq(c.specificity, 1, EXACT);
    cr_assert_eq(tl_ml_confusion_at(SK_P, SK_Y, 20, NAN, &c, &err), TL_EINVAL);
}

Test(metrics, lift_table)
{
    /* 25 rows, scores i % 5: descending with ties by row gives the order
     * 4,9,14,19,24, 3,8,13,18,23, 2,7,... Groups of 3,3,3,3,3,2,2,2,2,2. */
    enum { N = 25 };
    double s[N];
    uint8_t y[N];
    for (int i = 0; i < N; i++) {
        s[i] = i % 5;
        y[i] = i % 5 >= 3 ? (i % 2 == 0) : (i == 0 || i == 11);
    }
    size_t order[N], o = 0;
    for (int v = 4; v >= 0; v--)
        for (int i = 0; i < N; i++)
            if (i % 5 == v)
                order[o++] = (size_t)i;
    struct tl_ml_decile d[10];
    tl_err err = {0};
    cr_assert_eq(tl_ml_lift_table(s, y, N, d, &err), 0, "%s", err.msg);
    double total = 0;
    for (int i = 0; i < N; i++)
        total += y[i];
    double overall = total / N;
    size_t at = 0, cum = 0, cum_n = 0;
    for (int g = 0; g < 10; g++) {
        size_t size = g < 5 ? 3 : 2, pos = 0;
        for (size_t k = at; k < at + size; k++)
            pos += y[order[k]];
        cum += pos;
        cum_n += size;
        cr_assert_eq(d[g].n, size, "decile %d", g);
        cr_assert_eq(d[g].n_pos, pos, "decile %d", g);
        cr_assert_eq(d[g].max_score, s[order[at]]);
        cr_assert_eq(d[g].min_score, s[order[at + size - 1]]);
        cr_assert_float_eq(d[g].rate, (double)pos / size, EXACT);
        cr_assert_float_eq(d[g].lift, (double)pos / size / overall, EXACT);
        cr_assert_float_eq(d[g].cum_gain, cum / total, EXACT);
        cr_assert_float_eq(d[g].cum_lift, (double)cum / cum_n / overall, EXACT);
        at += size;
    }
    cr_assert_float_eq(d[9].cum_gain, 1, EXACT);
    cr_assert_eq(tl_ml_lift_table(s, y, 9, d, &err), TL_EINVAL);
}

Test(metrics, calibration_table_edges)
{
    /* p = 1 lands in the last bin; 0.3 sits on an edge of 10 bins and
     * belongs to the bin that starts there */
    double p[4] = {1, 0, 0.3, 0.29999999999999999};
    uint8_t y[4] = {1, 0, 1, 0};
    struct tl_ml_calib_bin b[10];
    tl_err err = {0};
    cr_assert_eq(tl_ml_calibration_table(p, y, 4, 10, b, &err), 0, "%s", err.msg);
    cr_assert_eq(b[9].n, 1);
    cr_assert_eq(b[0].n, 1);
    cr_assert_eq(b[3].n, 2); /* 0.29999999999999999 is the same double as 0.3 */
    cr_assert_eq(b[5].n, 0);
    cr_assert_eq(b[5].mean_pred, 0);
    cr_assert_eq(b[5].frac_pos, 0);
    double q[3] = {0.2999999999999999, 0.7, 0.1};
    cr_assert_eq(tl_ml_calibration_table(q, y, 3, 10, b, &err), 0, "%s", err.msg);
    cr_assert_eq(b[2].n, 1);
    cr_assert_eq(b[7].n, 1);
    cr_assert_eq(tl_ml_calibration_table(q, y, 3, 0, b, &err), TL_EINVAL);
    q[1] = 1.5;
    cr_assert_eq(tl_ml_calibration_table(q, y, 3, 10, b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 1"), "%s", err.msg);
}

Test(metrics, bad_input)
{
    double s[4] = {0.1, 0.2, 0.3, 0.4}, v;
    uint8_t one[4] = {1, 1, 1, 1}, two[4] = {0, 1, 2, 0}, ok[4] = {0, 1, 0, 1};
    tl_err err = {0};
    cr_assert_eq(tl_ml_auc(s, one, 4, &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "both classes"), "%s", err.msg);
    cr_assert_eq(tl_ml_ks(s, one, 4, &v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_average_precision(s, one, 4, &v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_auc(s, two, 4, &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 2: label is 2"), "%s", err.msg);
    cr_assert_eq(tl_ml_logloss(s, two, 4, &v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_auc(s, ok, 0, &v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_logloss(s, ok, 0, &v, &err), TL_EINVAL);
    cr_assert_eq(tl_ml_brier(s, ok, 0, &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "no rows"), "%s", err.msg);
    s[3] = NAN;
    cr_assert_eq(tl_ml_auc(s, ok, 4, &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 3"), "%s", err.msg);
    cr_assert_eq(tl_ml_brier(s, ok, 4, &v, &err), TL_EINVAL);
    s[3] = INFINITY;
    cr_assert_eq(tl_ml_gini(s, ok, 4, &v, &err), TL_EINVAL);
    s[3] = 1.5; /* a fine score, not a probability */
    cr_assert_eq(tl_ml_auc(s, ok, 4, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_ml_logloss(s, ok, 4, &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "outside [0, 1]"), "%s", err.msg);
    struct tl_ml_summary sum;
    cr_assert_eq(tl_ml_summarize(s, ok, 4, &sum, &err), TL_EINVAL);
    struct tl_ml_confusion c;
    cr_assert_eq(tl_ml_confusion_at(s, one, 4, 0.5, &c, &err), TL_EINVAL);
}
