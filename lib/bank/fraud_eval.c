/*
 * fraud_eval.c - `teller fraud eval`: Teller's fraud models judged with the
 * Fraud Detection Handbook's chapter 3 protocol, so that the figures stand
 * next to the published ones (docs/fraud.md).
 *
 * Why this shape: the handbook's protocol is the yardstick the bank (and
 * the issue) compares against, so it is followed to the letter: features
 * over the whole history (the windows reach back before the training week),
 * a training week, a delay week whose labels are not known yet, a test week
 * from which cards already known to be compromised are removed day by day,
 * and Card Precision@100, the metric an analyst team with a capacity of 100
 * cards a day feels. The features come from the same streaming engine that
 * will score live (ml_stream.h), replayed in file order, so what is measured
 * here is what would run.
 *
 * The models: logistic regression on standardized features, and gradient-
 * boosted trees whose number of rounds is chosen by early stopping on the
 * last days of the training period (never the test week), then refitted on
 * the whole training period with that many rounds. Optionally the
 * handbook's own logistic regression on its 15 features, as a check that
 * the protocol is reproduced.
 */
#include <teller/datetime.h>
#include <teller/fraud.h>
#include <teller/ml_models.h>
#include <teller/ml_stats.h>
#include <teller/ml_stream.h>

#include "fraud_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_S 86400
#define MAX_FIELDS 64
#define MAX_CARDS 50000000u
#define MAX_ROWS 50000000u
/* The handbook's 15 baseline features are the engine's first 15. */
#define N_HANDBOOK 15

enum { C_ID, C_DATETIME, C_CUSTOMER, C_TERMINAL, C_AMOUNT, C_FRAUD, N_COLS };
static const char *const col_names[N_COLS] = {"transaction_id", "tx_datetime", "customer_id",
                                              "terminal_id",    "tx_amount",   "tx_fraud"};

/* ---- card ids interned to dense indexes ------------------------------------ */

struct cards {
    char **name;       /* by index */
    int32_t *first_fraud_day; /* first day >= train start with a fraud; INT32_MAX none */
    size_t n, cap;
    uint32_t *slot; /* open addressing: index + 1, 0 empty */
    size_t n_slots;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int cards_grow_slots(struct cards *c)
{
    size_t ns = c->n_slots ? c->n_slots * 2 : 4096;
    uint32_t *slot = calloc(ns, sizeof *slot);
    if (!slot)
        return TL_ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        size_t h = (size_t)fnv1a(c->name[i]) & (ns - 1);
        while (slot[h])
            h = (h + 1) & (ns - 1);
        slot[h] = (uint32_t)i + 1;
    }
    free(c->slot);
    c->slot = slot;
    c->n_slots = ns;
    return 0;
}

/* The index of card s, added when new; negative TL_E* on failure. */
static int64_t cards_intern(struct cards *c, const char *s)
{
    if ((c->n + 1) * 2 > c->n_slots && cards_grow_slots(c) < 0)
        return TL_ENOMEM;
    size_t h = (size_t)fnv1a(s) & (c->n_slots - 1);
    while (c->slot[h]) {
        if (strcmp(c->name[c->slot[h] - 1], s) == 0)
            return c->slot[h] - 1;
        h = (h + 1) & (c->n_slots - 1);
    }
    if (c->n >= MAX_CARDS)
        return TL_ETOOBIG;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        char **nm = realloc(c->name, cap * sizeof *nm);
        if (!nm)
            return TL_ENOMEM;
        c->name = nm;
        int32_t *ff = realloc(c->first_fraud_day, cap * sizeof *ff);
        if (!ff)
            return TL_ENOMEM;
        c->first_fraud_day = ff;
        c->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return TL_ENOMEM;
    c->name[c->n] = copy;
    c->first_fraud_day[c->n] = INT32_MAX;
    c->slot[h] = (uint32_t)c->n + 1;
    return (int64_t)c->n++;
}

static void cards_clear(struct cards *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->name[i]);
    free(c->name);
    free(c->first_fraud_day);
    free(c->slot);
}

/* ---- the rows the protocol keeps (training and test periods) --------------- */

struct rows {
    float *X;      /* (n, d) features */
    int32_t *day;  /* days since 1970-01-01 */
    uint32_t *card;
    uint8_t *y;
    size_t n, cap, d;
};

static int rows_push(struct rows *r, const double *f, int32_t day, uint32_t card, uint8_t y)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        if (cap > MAX_ROWS)
            return TL_ETOOBIG;
        float *X = realloc(r->X, cap * r->d * sizeof *X);
        if (!X)
            return TL_ENOMEM;
        r->X = X;
        int32_t *dy = realloc(r->day, cap * sizeof *dy);
        if (!dy)
            return TL_ENOMEM;
        r->day = dy;
        uint32_t *cd = realloc(r->card, cap * sizeof *cd);
        if (!cd)
            return TL_ENOMEM;
        r->card = cd;
        uint8_t *yy = realloc(r->y, cap);
        if (!yy)
            return TL_ENOMEM;
        r->y = yy;
        r->cap = cap;
    }
    for (size_t j = 0; j < r->d; j++)
        r->X[r->n * r->d + j] = (float)f[j];
    r->day[r->n] = day;
    r->card[r->n] = card;
    r->y[r->n] = y;
    r->n++;
    return 0;
}

static void rows_clear(struct rows *r)
{
    free(r->X);
    free(r->day);
    free(r->card);
    free(r->y);
}

/* ---- parsing the fields ---------------------------------------------------- */

static bool is_gz(const char *path)
{
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

/* "YYYY-MM-DD HH:MM:SS" -> seconds since 1970 (no time zone). */
static bool parse_datetime(const char *s, int64_t *ts)
{
    if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':')
        return false;
    static const int pos[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (s[pos[i]] < '0' || s[pos[i]] > '9')
            return false;
#define D2(i) ((s[i] - '0') * 10 + (s[i + 1] - '0'))
    int y = D2(0) * 100 + D2(2), mo = D2(5), d = D2(8), hh = D2(11), mi = D2(14), ss = D2(17);
#undef D2
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 59)
        return false;
    int64_t days = tl_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int y2;
    unsigned m2, d2;
    tl_civil_from_days(days, &y2, &m2, &d2); /* refuses 2018-02-30 */
    if ((int)m2 != mo)
        return false;
    *ts = days * DAY_S + hh * 3600 + mi * 60 + ss;
    return true;
}

/* "123.45", "7", "0.5" -> cents; at most 2 decimals, not negative. */
static bool parse_cents(const char *s, int64_t *out)
{
    int64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX / 1000))
            return false;
        v = v * 10 + (*p - '0');
    }
    int dec = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++dec > 2)
                return false;
            v = v * 10 + (*p - '0');
        }
    }
    if (*p)
        return false;
    for (; dec < 2; dec++)
        v *= 10;
    *out = v;
    return true;
}

/* Splits line (modified in place) at commas; returns the field count, or
 * MAX_FIELDS + 1 for too many. Quoting is refused by the caller. */
static size_t split(char *line, char **f)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_FIELDS)
            return MAX_FIELDS + 1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* ---- reading the file: any fraud_sim-format CSV ------------------------------ */

int tl__fraud_csv_read(const char *path, tl__fraud_csv_fn fn, void *ud, tl_err *err)
{
    FILE *fp;
    bool piped = is_gz(path);
    if (piped) {
        /* gzip reads the file itself: the name goes in single quotes, so a
         * name holding one is refused rather than escaped. */
        if (strchr(path, '\'') || strlen(path) > 3900)
            return tl_err_set(err, TL_EINVAL, "%s: unsupported file name for gzip", path);
        FILE *probe = fopen(path, "rb");
        if (!probe)
            return tl_err_set(err, TL_EIO, "%s: cannot open", path);
        fclose(probe);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
        fp = popen(cmd, "r");
    } else {
        fp = fopen(path, "r");
    }
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open", path);

    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0, n_fields = 0;
    int col[N_COLS];
    char *f[MAX_FIELDS + 1];

    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        chomp(line);
        if (lineno == 1) {
            char *h = line;
            if (strncmp(h, "\xEF\xBB\xBF", 3) == 0)
                h += 3;
            n_fields = split(h, f);
            if (n_fields > MAX_FIELDS) {
                rc = tl_err_set(err, TL_EPARSE, "%s:1: more than %d columns", path, MAX_FIELDS);
                break;
            }
            for (int c = 0; c < N_COLS; c++) {
                col[c] = -1;
                for (size_t k = 0; k < n_fields; k++)
                    if (strcasecmp(f[k], col_names[c]) == 0)
                        col[c] = (int)k;
                if (col[c] < 0) {
                    rc = tl_err_set(err, TL_EPARSE, "%s:1: no column \"%s\" in the header", path,
                                    col_names[c]);
                    break;
                }
            }
            if (rc < 0)
                break;
            continue;
        }
        if (len == 0 || line[0] == '\0')
            continue;
        if (strchr(line, '"')) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%zu: quoted fields are not supported", path,
                            lineno);
            break;
        }
        size_t nf = split(line, f);
        if (nf != n_fields) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%zu: %zu fields, the header has %zu", path, lineno,
                            nf > MAX_FIELDS ? (size_t)MAX_FIELDS + 1 : nf, n_fields);
            break;
        }
        struct tl_stream_tx tx = {.tx_id = f[col[C_ID]],
                                  .customer_id = f[col[C_CUSTOMER]],
                                  .terminal_id = f[col[C_TERMINAL]]};
        if (!parse_datetime(f[col[C_DATETIME]], &tx.ts_s)) {
            rc = tl_err_set(err, TL_EPARSE,
                            "%s:%zu: tx_datetime \"%.40s\" is not YYYY-MM-DD HH:MM:SS", path,
                            lineno, f[col[C_DATETIME]]);
            break;
        }
        if (!parse_cents(f[col[C_AMOUNT]], &tx.amount_cents)) {
            rc = tl_err_set(err, TL_EPARSE,
                            "%s:%zu: tx_amount \"%.40s\" is not an amount with at most 2 decimals",
                            path, lineno, f[col[C_AMOUNT]]);
            break;
        }
        const char *lab = f[col[C_FRAUD]];
        if ((lab[0] != '0' && lab[0] != '1') || lab[1]) {
            rc = tl_err_set(err, TL_EPARSE, "%s:%zu: tx_fraud \"%.40s\" is not 0 or 1", path,
                            lineno, lab);
            break;
        }
        tx.label = lab[0] - '0';
        if ((rc = fn(ud, &tx, lineno, err)) < 0) {
            tl_err_prefix(err, "%s:%zu", path, lineno);
            break;
        }
    }
    if (rc == 0 && ferror(fp))
        rc = tl_err_set(err, TL_EIO, "%s: read error", path);
    if (rc == 0 && lineno == 0)
        rc = tl_err_set(err, TL_EPARSE, "%s: empty file", path);
    free(line);
    if (piped) {
        int st = pclose(fp);
        if (rc == 0 && st != 0)
            rc = tl_err_set(err, TL_EIO, "%s: gzip -dc failed (status %d)", path, st);
    } else {
        fclose(fp);
    }
    return rc;
}

/* ---- the rows of the protocol ----------------------------------------------- */

/* The protocol's days (days since 1970-01-01). */
struct periods {
    int32_t train_start, valid_start, test_start, test_end; /* [train_start, valid_start) fit, */
    int delay_days;                                          /* [valid_start, test_start - delay) valid */
};

struct loaded {
    struct cards cards;
    struct rows rows;
    tl_stream *stream;
    const struct periods *p;
    size_t n_read;
    struct tl__fraud_derive dv; /* the engine's features, then the derived ones */
};

static int take_row(void *ud, const struct tl_stream_tx *tx, size_t lineno, tl_err *err)
{
    (void)lineno;
    struct loaded *L = ud;
    const struct periods *p = L->p;
    double feat[TL__FRAUD_MAX_FEATURES];
    int u = tl_stream_update(L->stream, tx, feat, err);
    if (u < 0)
        return u;
    if (u == TL_STREAM_DUPLICATE)
        return 0;
    L->n_read++;
    int32_t day = (int32_t)(tx->ts_s / DAY_S);
    if (day < p->train_start || day >= p->test_end)
        return 0;
    tl__fraud_derive(&L->dv, feat);
    int64_t card = cards_intern(&L->cards, tx->customer_id);
    if (card < 0)
        return tl_err_set(err, (int)card, "too many cards");
    if (tx->label == 1 && day < L->cards.first_fraud_day[card])
        L->cards.first_fraud_day[card] = day;
    bool keep = day < p->test_start - p->delay_days || day >= p->test_start;
    int rc;
    if (keep && (rc = rows_push(&L->rows, feat, day, (uint32_t)card, (uint8_t)tx->label)) < 0)
        return tl_err_set(err, rc, "out of memory keeping the rows");
    return 0;
}

static int read_history(const char *path, const struct periods *p, struct loaded *L, tl_err *err)
{
    L->p = p;
    return tl__fraud_csv_read(path, take_row, L, err);
}

/* ---- Card Precision@k ------------------------------------------------------ */

struct card_score {
    double score;
    uint32_t card;
    uint8_t y;
};

static int cmp_card_score(const void *a, const void *b)
{
    const struct card_score *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->card < y->card ? -1 : x->card > y->card; /* ties: the card seen first */
}

/* The handbook's card_precision_top_k: for each day (ascending) the rows of
 * cards not detected on an earlier day, grouped per card (max score, max
 * label), the top k cards by score; precision = compromised among them / k;
 * the compromised ones are detected from then on. Mean over the days that
 * have rows. */
int tl__fraud_card_precision_at_k(const double *score, const uint8_t *y, const int32_t *day,
                                  const uint32_t *card, size_t n, size_t n_cards, int k,
                                  double *out, tl_err *err)
{
    if (k <= 0)
        return tl_err_set(err, TL_EINVAL, "top k %d: must be at least 1", k);
    uint8_t *detected = calloc(n_cards ? n_cards : 1, 1);
    int32_t *slot = malloc((n_cards ? n_cards : 1) * sizeof *slot);
    struct card_score *cs = malloc((n ? n : 1) * sizeof *cs);
    int rc = 0;
    if (!detected || !slot || !cs) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory ranking cards");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (card[i] >= n_cards) {
            rc = tl_err_set(err, TL_EINVAL, "row %zu: card %u out of range", i, card[i]);
            goto out;
        }
    double sum = 0;
    int n_days = 0;
    size_t i = 0;
    /* rows come day by day, days ascending */
    while (i < n) {
        size_t j = i;
        while (j < n && day[j] == day[i])
            j++;
        if (j < n && day[j] < day[i]) {
            rc = tl_err_set(err, TL_EINVAL, "row %zu: days not ascending", j);
            goto out;
        }
        size_t m = 0;
        for (size_t r = i; r < j; r++)
            slot[card[r]] = -1;
        for (size_t r = i; r < j; r++) {
            uint32_t c = card[r];
            if (detected[c])
                continue;
            if (slot[c] < 0) {
                slot[c] = (int32_t)m;
                cs[m++] = (struct card_score){score[r], c, y[r]};
            } else {
                struct card_score *e = &cs[slot[c]];
                if (score[r] > e->score)
                    e->score = score[r];
                if (y[r] > e->y)
                    e->y = y[r];
            }
        }
        qsort(cs, m, sizeof *cs, cmp_card_score);
        size_t top = m < (size_t)k ? m : (size_t)k, hit = 0;
        for (size_t r = 0; r < top; r++)
            if (cs[r].y) {
                hit++;
                detected[cs[r].card] = 1;
            }
        sum += (double)hit / k;
        n_days++;
        i = j;
    }
    *out = n_days ? sum / n_days : 0;
out:
    free(detected);
    free(slot);
    free(cs);
    return rc;
}

/* ---- the models ------------------------------------------------------------ */

/* Copies columns [0, d) of the rows in idx into a new (n_idx, d) matrix,
 * standardized with the mean and population sd of the fit rows when
 * mean/sd are given (sd 0 scales by 1, as scikit-learn's StandardScaler). */
static float *gather(const struct rows *r, const size_t *idx, size_t n_idx, size_t d,
                     const double *mean, const double *sd)
{
    float *X = malloc((n_idx ? n_idx : 1) * d * sizeof *X);
    if (!X)
        return NULL;
    for (size_t i = 0; i < n_idx; i++)
        for (size_t j = 0; j < d; j++) {
            double v = r->X[idx[i] * r->d + j];
            if (mean)
                v = (v - mean[j]) / sd[j];
            X[i * d + j] = (float)v;
        }
    return X;
}

static void fit_scaler(const struct rows *r, const size_t *idx, size_t n, size_t d, double *mean,
                       double *sd)
{
    for (size_t j = 0; j < d; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += r->X[idx[i] * r->d + j];
        double m = n ? s / (double)n : 0;
        for (size_t i = 0; i < n; i++) {
            double e = r->X[idx[i] * r->d + j] - m;
            s2 += e * e;
        }
        double v = n ? sqrt(s2 / (double)n) : 0;
        mean[j] = m;
        sd[j] = v > 0 ? v : 1;
    }
}

static uint8_t *gather_y(const struct rows *r, const size_t *idx, size_t n)
{
    uint8_t *y = malloc(n ? n : 1);
    if (y)
        for (size_t i = 0; i < n; i++)
            y[i] = r->y[idx[i]];
    return y;
}

/* Logistic regression on the first d features, standardized; test scores
 * (log-odds) into score[]. */
static int run_linear(const struct rows *r, const size_t *tr, size_t n_tr, const size_t *te,
                      size_t n_te, size_t d, double *score, tl_err *err)
{
    double mean[TL_STREAM_MAX_FEATURES + TL_STREAM_MAX_WINDOWS];
    double sd[TL_STREAM_MAX_FEATURES + TL_STREAM_MAX_WINDOWS];
    fit_scaler(r, tr, n_tr, d, mean, sd);
    float *X = gather(r, tr, n_tr, d, mean, sd), *Xt = gather(r, te, n_te, d, mean, sd);
    uint8_t *y = gather_y(r, tr, n_tr);
    tl_linear *m = NULL;
    int rc;
    if (!X || !Xt || !y) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for the logistic regression");
        goto out;
    }
    struct tl_linear_opts o = TL_LINEAR_OPTS_DEFAULT;
    rc = tl_linear_train(X, y, n_tr, d, &o, &m, err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n_te; i++)
        score[i] = tl_linear_margin(m, Xt + i * d);
out:
    tl_linear_free(m);
    free(X);
    free(Xt);
    free(y);
    return rc;
}

/* Gradient-boosted trees on all features: rounds chosen by early stopping
 * on the validation rows (the end of the training period), then a refit on
 * all training rows with that many rounds. */
static int run_gbdt(const struct rows *r, const size_t *fit, size_t n_fit, const size_t *va,
                    size_t n_va, const size_t *tr, size_t n_tr, const size_t *te, size_t n_te,
                    int nthread, double *score, int *rounds, tl_err *err)
{
    size_t d = r->d;
    float *Xf = gather(r, fit, n_fit, d, NULL, NULL), *Xv = gather(r, va, n_va, d, NULL, NULL);
    float *X = gather(r, tr, n_tr, d, NULL, NULL), *Xt = gather(r, te, n_te, d, NULL, NULL);
    uint8_t *yf = gather_y(r, fit, n_fit), *yv = gather_y(r, va, n_va), *y = gather_y(r, tr, n_tr);
    tl_gbdt *m = NULL;
    int rc;
    if (!Xf || !Xv || !X || !Xt || !yf || !yv || !y) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for the gradient boosting");
        goto out;
    }
    struct tl_gbdt_opts o = TL_GBDT_OPTS_DEFAULT;
    o.nthread = nthread;
    rc = tl_gbdt_train(Xf, yf, n_fit, d, Xv, yv, n_va, &o, &m, err);
    if (rc < 0)
        goto out;
    *rounds = tl_gbdt_rounds(m);
    tl_gbdt_free(m);
    m = NULL;
    o.max_rounds = *rounds;
    rc = tl_gbdt_train(X, y, n_tr, d, NULL, NULL, 0, &o, &m, err);
    if (rc < 0)
        goto out;
    tl_gbdt_margins(m, Xt, n_te, score);
out:
    tl_gbdt_free(m);
    free(Xf);
    free(Xv);
    free(X);
    free(Xt);
    free(yf);
    free(yv);
    free(y);
    return rc;
}

/* ---- the protocol ---------------------------------------------------------- */

static json_t *period_json(size_t rows, size_t frauds)
{
    return json_pack("{s:I,s:I}", "rows", (json_int_t)rows, "frauds", (json_int_t)frauds);
}

static int day_string(int32_t day, char *buf, size_t size)
{
    return tl_date_format(day, buf, size);
}

struct model_result {
    const char *name;
    size_t n_features;
    double auc, ap, cp;
    int rounds; /* GBDT; 0 otherwise */
};

static int score_model(const struct rows *r, const size_t *te, size_t n_te, size_t n_cards, int k,
                       const double *score, struct model_result *mr, tl_err *err)
{
    uint8_t *y = gather_y(r, te, n_te);
    int32_t *day = malloc((n_te ? n_te : 1) * sizeof *day);
    uint32_t *card = malloc((n_te ? n_te : 1) * sizeof *card);
    int rc = 0;
    if (!y || !day || !card) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for the metrics");
        goto out;
    }
    for (size_t i = 0; i < n_te; i++) {
        day[i] = r->day[te[i]];
        card[i] = r->card[te[i]];
    }
    if ((rc = tl_ml_auc(score, y, n_te, &mr->auc, err)) < 0 ||
        (rc = tl_ml_average_precision(score, y, n_te, &mr->ap, err)) < 0 ||
        (rc = tl__fraud_card_precision_at_k(score, y, day, card, n_te, n_cards, k, &mr->cp,
                                            err)) < 0)
        goto out;
out:
    free(y);
    free(day);
    free(card);
    return rc;
}

static int check_opts(const struct tl_fraud_eval_opts *o, struct periods *p, tl_err *err)
{
    if (!o->data_path)
        return tl_err_set(err, TL_EINVAL, "no data file given");
    const char *ts = o->train_start ? o->train_start : "2018-07-25";
    if (tl_date_parse(ts, strlen(ts), &p->train_start, err) < 0)
        return tl_err_prefix(err, "train start");
    if (o->train_days < 2 || o->train_days > 3660)
        return tl_err_set(err, TL_EINVAL, "train days %d: must be 2 to 3660", o->train_days);
    if (o->delay_days < 0 || o->delay_days > 3660)
        return tl_err_set(err, TL_EINVAL, "delay days %d: must be 0 to 3660", o->delay_days);
    if (o->test_days < 1 || o->test_days > 3660)
        return tl_err_set(err, TL_EINVAL, "test days %d: must be 1 to 3660", o->test_days);
    if (o->top_k < 1 || o->top_k > 1000000)
        return tl_err_set(err, TL_EINVAL, "top k %d: must be 1 to 1000000", o->top_k);
    /* early stopping watches the last 2 of 7 training days (2/7 of them) */
    int valid_days = o->train_days * 2 / 7;
    if (valid_days < 1)
        valid_days = 1;
    p->valid_start = p->train_start + o->train_days - valid_days;
    p->test_start = p->train_start + o->train_days + o->delay_days;
    p->test_end = p->test_start + o->test_days;
    p->delay_days = o->delay_days;
    return 0;
}

static size_t count_pos(const struct rows *r, const size_t *idx, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += r->y[idx[i]];
    return k;
}

int tl_fraud_eval(tl_ctx *ctx, const struct tl_fraud_eval_opts *opts, json_t **report,
                  tl_err *err)
{
    (void)ctx;
    struct periods p;
    int rc = check_opts(opts, &p, err);
    if (rc < 0)
        return rc;

    struct loaded L = {0};
    struct tl_stream_config cfg;
    tl_stream_config_default(&cfg);
    cfg.label_delay_s = (int64_t)opts->delay_days * DAY_S;
    if ((rc = tl_stream_new(&cfg, &L.stream, err)) < 0)
        return rc;
    tl__fraud_derive_setup(&L.dv, L.stream);
    /* fraud_sim has no country or channel: the engine's last two features
     * (customer_country_new, customer_channel_new) are always 0 there, so
     * the evaluation leaves them out and its figures stay those of the
     * features it was run with (the ratios overwrite them in each row) */
    L.dv.n_stream -= TL_STREAM_N_SEEN;
    L.rows.d = L.dv.n_stream + L.dv.n_ratio;

    size_t *fit = NULL, *va = NULL, *tr = NULL, *te = NULL;
    double *score = NULL;
    json_t *rep = NULL;
    size_t n_fit = 0, n_va = 0, n_tr = 0, n_te = 0, n_removed = 0;
    struct model_result res[3];
    size_t n_res = 0;

    if ((rc = read_history(opts->data_path, &p, &L, err)) < 0)
        goto out;
    size_t n = L.rows.n;
    fit = malloc((n ? n : 1) * sizeof *fit);
    va = malloc((n ? n : 1) * sizeof *va);
    tr = malloc((n ? n : 1) * sizeof *tr);
    te = malloc((n ? n : 1) * sizeof *te);
    score = malloc((n ? n : 1) * sizeof *score);
    if (!fit || !va || !tr || !te || !score) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory splitting %zu rows", n);
        goto out;
    }
    int32_t train_end = p.train_start + opts->train_days;
    for (size_t i = 0; i < n; i++) {
        int32_t day = L.rows.day[i];
        if (day < train_end) {
            tr[n_tr++] = i;
            if (day < p.valid_start)
                fit[n_fit++] = i;
            else
                va[n_va++] = i;
        } else if (day >= p.test_start) {
            /* known compromised: a fraud from the training start up to
             * D - delay - 1 (its label has arrived by day D) */
            if (L.cards.first_fraud_day[L.rows.card[i]] <= day - p.delay_days - 1)
                n_removed++;
            else
                te[n_te++] = i;
        }
    }
    size_t pos_tr = count_pos(&L.rows, tr, n_tr), pos_te = count_pos(&L.rows, te, n_te);
    size_t pos_fit = count_pos(&L.rows, fit, n_fit), pos_va = count_pos(&L.rows, va, n_va);
    char d0[16], d1[16], d2[16], d3[16];
    day_string(p.train_start, d0, sizeof d0);
    day_string(train_end, d1, sizeof d1);
    day_string(p.test_start, d2, sizeof d2);
    day_string(p.test_end, d3, sizeof d3);
    if (pos_fit == 0 || pos_fit == n_fit || pos_va == 0 || pos_va == n_va) {
        rc = tl_err_set(err, TL_EINVAL,
                        "%s: the training period %s..%s needs both genuine and fraudulent "
                        "transactions in its first and last days (%zu rows, %zu frauds)",
                        opts->data_path, d0, d1, n_tr, pos_tr);
        goto out;
    }
    if (pos_te == 0 || pos_te == n_te) {
        rc = tl_err_set(err, TL_EINVAL,
                        "%s: the test period %s..%s needs both genuine and fraudulent "
                        "transactions after removing known cards (%zu rows, %zu frauds)",
                        opts->data_path, d2, d3, n_te, pos_te);
        goto out;
    }

    if (opts->handbook_row) {
        res[n_res] = (struct model_result){.name = "handbook logistic regression",
                                           .n_features = N_HANDBOOK};
        if ((rc = run_linear(&L.rows, tr, n_tr, te, n_te, N_HANDBOOK, score, err)) < 0 ||
            (rc = score_model(&L.rows, te, n_te, L.cards.n, opts->top_k, score, &res[n_res],
                              err)) < 0)
            goto out;
        n_res++;
    }
    res[n_res] = (struct model_result){.name = "logistic regression", .n_features = L.rows.d};
    if ((rc = run_linear(&L.rows, tr, n_tr, te, n_te, L.rows.d, score, err)) < 0 ||
        (rc = score_model(&L.rows, te, n_te, L.cards.n, opts->top_k, score, &res[n_res], err)) <
            0)
        goto out;
    n_res++;
    res[n_res] = (struct model_result){.name = "gbdt", .n_features = L.rows.d};
    if ((rc = run_gbdt(&L.rows, fit, n_fit, va, n_va, tr, n_tr, te, n_te, opts->nthread, score,
                       &res[n_res].rounds, err)) < 0 ||
        (rc = score_model(&L.rows, te, n_te, L.cards.n, opts->top_k, score, &res[n_res], err)) <
            0)
        goto out;
    n_res++;

    size_t n_test_cards = 0;
    {
        uint8_t *seen = calloc(L.cards.n ? L.cards.n : 1, 1);
        if (!seen) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n_te; i++)
            if (!seen[L.rows.card[te[i]]]) {
                seen[L.rows.card[te[i]]] = 1;
                n_test_cards++;
            }
        free(seen);
    }

    rep = json_object();
    json_t *feats = json_array();
    for (size_t j = 0; j < L.dv.n_stream; j++)
        json_array_append_new(feats, json_string(tl_stream_feature_name(L.stream, j)));
    for (size_t w = 0; w < L.dv.n_ratio; w++) {
        char name[80];
        tl__fraud_derive_name(&L.dv, L.stream, w, name, sizeof name);
        json_array_append_new(feats, json_string(name));
    }
    json_t *models = json_array();
    for (size_t m = 0; m < n_res; m++) {
        json_t *jm = json_pack("{s:s,s:I,s:f,s:f,s:f}", "name", res[m].name, "features",
                               (json_int_t)res[m].n_features, "auc", res[m].auc,
                               "average_precision", res[m].ap, "card_precision_at_k", res[m].cp);
        if (res[m].rounds)
            json_object_set_new(jm, "rounds", json_integer(res[m].rounds));
        json_array_append_new(models, jm);
    }
    json_t *published = json_array();
    static const struct {
        const char *name;
        double auc, ap, cp;
    } pub[] = {{"handbook logistic regression", 0.871, 0.606, 0.291},
               {"handbook decision tree depth 2", 0.763, 0.496, 0.241},
               {"handbook decision tree", 0.788, 0.309, 0.243},
               {"handbook random forest", 0.867, 0.658, 0.287},
               {"handbook xgboost", 0.862, 0.639, 0.273}};
    for (size_t m = 0; m < sizeof pub / sizeof pub[0]; m++)
        json_array_append_new(published,
                              json_pack("{s:s,s:f,s:f,s:f}", "name", pub[m].name, "auc", pub[m].auc,
                                        "average_precision", pub[m].ap, "card_precision_at_k",
                                        pub[m].cp));
    json_object_set_new(rep, "data", json_string(opts->data_path));
    json_object_set_new(rep, "transactions", json_integer((json_int_t)L.n_read));
    json_object_set_new(rep, "protocol",
                        json_pack("{s:s,s:s,s:s,s:s,s:i,s:i}", "train_start", d0, "train_end", d1,
                                  "test_start", d2, "test_end", d3, "delay_days", opts->delay_days,
                                  "top_k", opts->top_k));
    json_object_set_new(rep, "features", feats);
    json_object_set_new(rep, "train", period_json(n_tr, pos_tr));
    json_object_set_new(rep, "valid", period_json(n_va, pos_va));
    json_t *jt = period_json(n_te, pos_te);
    json_object_set_new(jt, "removed_rows", json_integer((json_int_t)n_removed));
    json_object_set_new(jt, "cards", json_integer((json_int_t)n_test_cards));
    json_object_set_new(rep, "test", jt);
    json_object_set_new(rep, "models", models);
    json_object_set_new(rep, "published", published);
    if (!json_is_array(feats) || !json_is_array(models) || !json_is_array(published)) {
        json_decref(rep);
        rep = NULL;
        rc = tl_err_set(err, TL_ENOMEM, "out of memory building the report");
        goto out;
    }
    *report = rep;
out:
    free(fit);
    free(va);
    free(tr);
    free(te);
    free(score);
    rows_clear(&L.rows);
    cards_clear(&L.cards);
    tl_stream_free(L.stream);
    return rc;
}
