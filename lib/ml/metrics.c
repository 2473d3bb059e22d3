/*
 * metrics.c - binary-classifier metrics of ml_stats.h.
 *
 * The ranking metrics (AUC, KS, average precision) are all walks over the
 * rows in descending score order with tied scores taken as one group, so
 * each call sorts once (O(n log n)) and walks once. The sort works on a
 * scratch copy of (score, row, label) triples: the caller's arrays are
 * const, and carrying the row makes the order total (score descending, then
 * row ascending), so results never depend on qsort's instability. Counts are
 * integers and only the final ratios are floating point, so ties cost no
 * precision.
 */
#include <teller/ml_stats.h>

#include <math.h>
#include <stdlib.h>

struct ranked {
    double s;
    size_t row;
    uint8_t y;
};

static int by_score_desc(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* Validates score and y (finite scores; with `prob`, also in [0, 1]),
 * counts positives, and with `need_both` requires both classes. */
static int check(const char *fn, const double *score, const uint8_t *y, size_t n, bool prob,
                 bool need_both, size_t *n_pos, tl_err *err)
{
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "%s: no rows", fn);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return tl_err_set(err, TL_EINVAL, "%s: row %zu: label is %u, not 0 or 1", fn, i,
                              (unsigned)y[i]);
        pos += y[i];
        if (!isfinite(score[i]))
            return tl_err_set(err, TL_EINVAL, "%s: row %zu: %s is %g, not a finite number", fn,
                              i, prob ? "probability" : "score", score[i]);
        if (prob && !(score[i] >= 0 && score[i] <= 1))
            return tl_err_set(err, TL_EINVAL, "%s: row %zu: probability %.17g is outside [0, 1]",
                              fn, i, score[i]);
    }
    if (need_both && (pos == 0 || pos == n))
        return tl_err_set(err, TL_EINVAL,
                          "%s: all %zu rows have label %d; both classes must be present", fn, n,
                          pos ? 1 : 0);
    *n_pos = pos;
    return 0;
}

/* A malloc'd copy of the rows sorted by score descending (NULL: no memory). */
static struct ranked *rank_desc(const double *score, const uint8_t *y, size_t n)
{
    struct ranked *r = malloc(n * sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = (struct ranked){score[i], i, y[i]};
    qsort(r, n, sizeof *r, by_score_desc);
    return r;
}

struct ranking {
    double auc, ks, ap;
};

/* One walk over tie groups, highest score first. For a group holding p
 * positives and q negatives: each of its positives outranks every negative
 * below it and ties its q negatives (one half each), which is the
 * Mann-Whitney count; after the group the threshold sits just below its
 * score, giving one (TPR, FPR, precision) point for KS and AP. */
static void walk(const struct ranked *r, size_t n, size_t n_pos, struct ranking *out)
{
    size_t n_neg = n - n_pos;
    double twice_won = 0; /* 2 * pairs won + tied pairs: an integer, exact below 2^53 */
    size_t tp = 0, fp = 0;
    double ks = 0, ap = 0, prev_recall = 0;
    for (size_t i = 0; i < n;) {
        size_t p = 0, q = 0, j = i;
        for (; j < n && r[j].s == r[i].s; j++) {
            p += r[j].y;
            q += !r[j].y;
        }
        twice_won += 2 * (double)p * (double)(n_neg - fp - q) + (double)p * (double)q;
        tp += p;
        fp += q;
        double tpr = (double)tp / (double)n_pos, fpr = (double)fp / (double)n_neg;
        if (tpr - fpr > ks)
            ks = tpr - fpr;
        ap += (tpr - prev_recall) * ((double)tp / (double)(tp + fp));
        prev_recall = tpr;
        i = j;
    }
    out->auc = twice_won / (2 * (double)n_pos * (double)n_neg);
    out->ks = ks;
    out->ap = ap;
}

static int ranking(const char *fn, const double *score, const uint8_t *y, size_t n,
                   struct ranking *out, tl_err *err)
{
    size_t n_pos;
    int rc = check(fn, score, y, n, false, true, &n_pos, err);
    if (rc < 0)
        return rc;
    struct ranked *r = rank_desc(score, y, n);
    if (!r)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory sorting %zu rows", fn, n);
    walk(r, n, n_pos, out);
    free(r);
    return 0;
}

int tl_ml_auc(const double *score, const uint8_t *y, size_t n, double *out, tl_err *err)
{
    struct ranking m;
    int rc = ranking("auc", score, y, n, &m, err);
    if (rc == 0)
        *out = m.auc;
    return rc;
}

int tl_ml_gini(const double *score, const uint8_t *y, size_t n, double *out, tl_err *err)
{
    struct ranking m;
    int rc = ranking("gini", score, y, n, &m, err);
    if (rc == 0)
        *out = 2 * m.auc - 1;
    return rc;
}

int tl_ml_average_precision(const double *score, const uint8_t *y, size_t n, double *out,
                            tl_err *err)
{
    struct ranking m;
    int rc = ranking("average precision", score, y, n, &m, err);
    if (rc == 0)
        *out = m.ap;
    return rc;
}

int tl_ml_ks(const double *score, const uint8_t *y, size_t n, double *out, tl_err *err)
{
    struct ranking m;
    int rc = ranking("ks", score, y, n, &m, err);
    if (rc == 0)
        *out = m.ks;
    return rc;
}

#define LOGLOSS_EPS 1e-15

int tl_ml_logloss(const double *p, const uint8_t *y, size_t n, double *out, tl_err *err)
{
    size_t n_pos;
    int rc = check("logloss", p, y, n, true, false, &n_pos, err);
    if (rc < 0)
        return rc;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double q = fmin(fmax(p[i], LOGLOSS_EPS), 1 - LOGLOSS_EPS);
        sum -= y[i] ? log(q) : log1p(-q);
    }
    *out = sum / (double)n;
    return 0;
}

int tl_ml_brier(const double *p, const uint8_t *y, size_t n, double *out, tl_err *err)
{
    size_t n_pos;
    int rc = check("brier", p, y, n, true, false, &n_pos, err);
    if (rc < 0)
        return rc;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = p[i] - (double)y[i];
        sum += d * d;
    }
    *out = sum / (double)n;
    return 0;
}

/* Bin b covers [b / n_bins, (b + 1) / n_bins), the last one closed. The
 * first guess floor(p * n_bins) can land one off when the product rounds
 * across an edge, so it is moved until it agrees with the edges reported in
 * the table: a probability always falls in the bin whose edges hold it. */
static size_t bin_of(double p, size_t n_bins)
{
    double nb = (double)n_bins;
    size_t b = (size_t)(p * nb);
    if (b >= n_bins)
        b = n_bins - 1;
    while (b > 0 && p < (double)b / nb)
        b--;
    while (b + 1 < n_bins && p >= (double)(b + 1) / nb)
        b++;
    return b;
}

int tl_ml_calibration_table(const double *p, const uint8_t *y, size_t n, size_t n_bins,
                            struct tl_ml_calib_bin *bins, tl_err *err)
{
    static const char fn[] = "calibration table";
    if (n_bins == 0)
        return tl_err_set(err, TL_EINVAL, "%s: the number of bins is 0", fn);
    size_t n_pos;
    int rc = check(fn, p, y, n, true, true, &n_pos, err);
    if (rc < 0)
        return rc;
    double nb = (double)n_bins;
    for (size_t b = 0; b < n_bins; b++)
        bins[b] = (struct tl_ml_calib_bin){(double)b / nb, (double)(b + 1) / nb, 0, 0, 0};
    /* sums first: mean_pred holds sum of p and frac_pos the positives */
    for (size_t i = 0; i < n; i++) {
        struct tl_ml_calib_bin *bin = &bins[bin_of(p[i], n_bins)];
        bin->n++;
        bin->mean_pred += p[i];
        bin->frac_pos += y[i];
    }
    for (size_t b = 0; b < n_bins; b++) {
        if (bins[b].n) {
            bins[b].mean_pred /= (double)bins[b].n;
            bins[b].frac_pos /= (double)bins[b].n;
        }
    }
    return 0;
}

static double ratio(size_t num, size_t den)
{
    return den ? (double)num / (double)den : 0;
}

int tl_ml_confusion_at(const double *score, const uint8_t *y, size_t n, double threshold,
                       struct tl_ml_confusion *out, tl_err *err)
{
    static const char fn[] = "confusion matrix";
    if (isnan(threshold))
        return tl_err_set(err, TL_EINVAL, "%s: the threshold is NaN", fn);
    size_t n_pos;
    int rc = check(fn, score, y, n, false, true, &n_pos, err);
    if (rc < 0)
        return rc;
    struct tl_ml_confusion c = {0};
    for (size_t i = 0; i < n; i++) {
        bool hit = score[i] >= threshold;
        if (y[i])
            *(hit ? &c.tp : &c.fn) += 1;
        else
            *(hit ? &c.fp : &c.tn) += 1;
    }
    c.precision = ratio(c.tp, c.tp + c.fp);
    c.recall = ratio(c.tp, c.tp + c.fn);
    c.specificity = ratio(c.tn, c.tn + c.fp);
    c.accuracy = ratio(c.tp + c.tn, n);
    /* 2PR / (P + R) written over counts: no 0/0 when nothing is predicted */
    c.f1 = ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);
    *out = c;
    return 0;
}

int tl_ml_lift_table(const double *score, const uint8_t *y, size_t n, struct tl_ml_decile out[10],
                     tl_err *err)
{
    static const char fn[] = "lift table";
    if (n < 10)
        return tl_err_set(err, TL_EINVAL, "%s: %zu rows; ten deciles need at least 10", fn, n);
    size_t n_pos;
    int rc = check(fn, score, y, n, false, true, &n_pos, err);
    if (rc < 0)
        return rc;
    struct ranked *r = rank_desc(score, y, n);
    if (!r)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory sorting %zu rows", fn, n);
    double overall = (double)n_pos / (double)n;
    size_t at = 0, cum_n = 0, cum_pos = 0;
    for (int d = 0; d < 10; d++) {
        size_t size = n / 10 + ((size_t)d < n % 10);
        struct tl_ml_decile g = {.n = size, .max_score = r[at].s, .min_score = r[at + size - 1].s};
        for (size_t i = at; i < at + size; i++)
            g.n_pos += r[i].y;
        at += size;
        cum_n += size;
        cum_pos += g.n_pos;
        g.rate = (double)g.n_pos / (double)size;
        g.lift = g.rate / overall;
        g.cum_gain = (double)cum_pos / (double)n_pos;
        g.cum_lift = ((double)cum_pos / (double)cum_n) / overall;
        out[d] = g;
    }
    free(r);
    return 0;
}

int tl_ml_summarize(const double *p, const uint8_t *y, size_t n, struct tl_ml_summary *out,
                    tl_err *err)
{
    static const char fn[] = "summary";
    size_t n_pos;
    int rc = check(fn, p, y, n, true, true, &n_pos, err);
    if (rc < 0)
        return rc;
    struct ranked *r = rank_desc(p, y, n);
    if (!r)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory sorting %zu rows", fn, n);
    struct ranking m;
    walk(r, n, n_pos, &m);
    free(r);
    struct tl_ml_summary s = {.n = n, .n_pos = n_pos, .auc = m.auc, .gini = 2 * m.auc - 1,
                              .ks = m.ks, .average_precision = m.ap};
    if ((rc = tl_ml_logloss(p, y, n, &s.logloss, err)) < 0 ||
        (rc = tl_ml_brier(p, y, n, &s.brier, err)) < 0)
        return rc;
    *out = s;
    return 0;
}

json_t *tl_ml_summary_json(const struct tl_ml_summary *s)
{
    return json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)s->n, "n_pos",
                     (json_int_t)s->n_pos, "auc", s->auc, "gini", s->gini, "ks", s->ks,
                     "average_precision", s->average_precision, "logloss", s->logloss, "brier",
                     s->brier);
}
