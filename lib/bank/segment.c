/*
 * segment.c - explainable customer segments (segment.h): profile features,
 * standardized; k-means++ with k by silhouette; each segment described by
 * its three most distinctive features; stored as a registry model, segments
 * rows and each customer's segment.
 *
 * Features are computed from tl_profile (profile.h) only, so what the
 * segment says about a customer is what the customer's profile shows.
 */
#include <teller/datetime.h>
#include <teller/ml_kmeans.h>
#include <teller/profile.h>
#include <teller/registry.h>
#include <teller/segment.h>
#include <teller/store.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK "segments"

/* How a feature is shown in a description. */
enum feat_unit { U_MONEY, U_SHARE, U_RATE, U_YEARS, U_COUNT, U_HOLD };

struct feat {
    char name[40];
    enum feat_unit unit;
    char hi[80], lo[80]; /* phrases for a segment above / below the population */
};

/* product categories grouped as the features name them */
static const struct {
    const char *name, *hi, *lo;
    const char *cats[3];
} HOLDS[] = {
    {"holds_savings",
     "holds a savings product",
     "no savings product",
     {"savings_account", "term_deposit", NULL}},
    {"holds_investments", "holds funds or ETFs", "no investments", {"fund", "etf", NULL}},
    {"holds_credit_card", "holds a credit card", "no credit card", {"credit_card", NULL, NULL}},
    {"holds_loan",
     "has a personal or car loan",
     "no personal loan",
     {"personal_loan", "auto_loan", NULL}},
    {"holds_mortgage", "has a mortgage", "no mortgage", {"mortgage", NULL, NULL}},
    {"holds_insurance", "holds insurance", "no insurance", {"insurance", NULL, NULL}},
};
#define N_HOLDS (sizeof HOLDS / sizeof HOLDS[0])

#define N_BASE 8
#define N_FEAT (N_BASE + N_HOLDS + TL_CAT_COUNT + TL_CH_COUNT)

static void feature_table(struct feat *f)
{
    static const struct feat base[N_BASE] = {
        {"income", U_MONEY, "income above the average", "income below the average"},
        {"spending", U_MONEY, "high spending", "low spending"},
        {"savings_rate", U_RATE, "saves a large share of income", "spends most of income"},
        {"balance", U_MONEY, "high balances", "low balances"},
        {"debt", U_MONEY, "carries more debt", "little debt"},
        {"tenure", U_YEARS, "long-standing customers", "newer customers"},
        {"age", U_YEARS, "older", "younger"},
        {"product_categories", U_COUNT, "many kinds of products", "few kinds of products"},
    };
    memcpy(f, base, sizeof base);
    size_t i = N_BASE;
    for (size_t h = 0; h < N_HOLDS; h++, i++) {
        snprintf(f[i].name, sizeof f[i].name, "%s", HOLDS[h].name);
        f[i].unit = U_HOLD;
        snprintf(f[i].hi, sizeof f[i].hi, "%s", HOLDS[h].hi);
        snprintf(f[i].lo, sizeof f[i].lo, "%s", HOLDS[h].lo);
    }
    for (int k = 0; k < TL_CAT_COUNT; k++, i++) {
        snprintf(f[i].name, sizeof f[i].name, "spend_%s", tl_profile_category_name(k));
        f[i].unit = U_SHARE;
        snprintf(f[i].hi, sizeof f[i].hi, "high spend on %s", tl_profile_category_label(k));
        snprintf(f[i].lo, sizeof f[i].lo, "low spend on %s", tl_profile_category_label(k));
    }
    static const char *const CH_HI[TL_CH_COUNT] = {"pays by card in shops",    "shops online a lot",
                                                   "uses cash machines a lot", "uses branches",
                                                   "banks on mobile",          "mostly standing orders"};
    static const char *const CH_LO[TL_CH_COUNT] = {
        "few card payments in shops", "little online shopping", "little cash",
        "rarely in a branch",         "little mobile banking",  "few standing orders"};
    for (int c = 0; c < TL_CH_COUNT; c++, i++) {
        snprintf(f[i].name, sizeof f[i].name, "channel_%s", tl_profile_channel_name(c));
        f[i].unit = U_SHARE;
        snprintf(f[i].hi, sizeof f[i].hi, "%s", CH_HI[c]);
        snprintf(f[i].lo, sizeof f[i].lo, "%s", CH_LO[c]);
    }
}

/* The raw (display) values of a profile's features into v (N_FEAT), and
 * what clustering sees into z (N_FEAT): money on a log scale, since
 * incomes and balances spread over orders of magnitude. */
static void features(const struct tl_profile *p, double *v, double *z)
{
    double income =
        (double)(p->income_found ? p->income_monthly_minor : p->other_credits_monthly_minor) / 100;
    double spend = (double)p->spending_monthly_minor / 100;
    double sr = p->savings_rate_known ? p->savings_rate : 0;
    if (sr < -1)
        sr = -1;
    double bal = (double)p->balance_minor / 100, debt = (double)p->debt_minor / 100;
    v[0] = income;
    v[1] = spend;
    v[2] = sr;
    v[3] = bal;
    v[4] = debt;
    v[5] = p->tenure_months / 12.0;
    v[6] = p->age_years;
    v[7] = p->n_product_categories;
    z[0] = log1p(income > 0 ? income : 0);
    z[1] = log1p(spend > 0 ? spend : 0);
    z[2] = sr;
    z[3] = bal >= 0 ? log1p(bal) : -log1p(-bal);
    z[4] = log1p(debt);
    z[5] = v[5];
    z[6] = v[6];
    z[7] = v[7];
    size_t i = N_BASE;
    for (size_t h = 0; h < N_HOLDS; h++, i++) {
        bool held = false;
        for (size_t q = 0; q < p->n_products && !held; q++)
            for (size_t c = 0; c < 3 && HOLDS[h].cats[c] && !held; c++)
                held = strcmp(p->products[q].category, HOLDS[h].cats[c]) == 0;
        v[i] = z[i] = held ? 1 : 0;
    }
    for (int k = 0; k < TL_CAT_COUNT; k++, i++)
        v[i] = z[i] = p->spending_monthly_minor > 0
                          ? (double)p->spending_by_category_minor[k] / (double)p->spending_monthly_minor
                          : 0;
    for (int c = 0; c < TL_CH_COUNT; c++, i++)
        v[i] = z[i] = p->channel_share[c];
}

static void show(enum feat_unit u, double x, char *buf, size_t cap)
{
    switch (u) {
    case U_MONEY: snprintf(buf, cap, "%.0f", x); break;
    case U_SHARE:
    case U_RATE:
    case U_HOLD: snprintf(buf, cap, fabs(x) < 0.1 && x != 0 ? "%.1f%%" : "%.0f%%", 100 * x); break;
    case U_YEARS: snprintf(buf, cap, "%.1f years", x); break;
    case U_COUNT: snprintf(buf, cap, "%.1f", x); break;
    }
}

/* "high spend on travel (18% of spending vs 6%)" */
static void phrase(const struct feat *f, double z, double seg, double pop, char *buf, size_t cap)
{
    char a[32], b[32];
    show(f->unit, seg, a, sizeof a);
    show(f->unit, pop, b, sizeof b);
    const char *what = z > 0 ? f->hi : f->lo;
    switch (f->unit) {
    case U_MONEY: snprintf(buf, cap, "%s (%s vs %s a month)", what, a, b); break;
    case U_SHARE:
        snprintf(buf, cap, "%s (%s of %s vs %s)", what, a,
                 strncmp(f->name, "channel_", 8) == 0 ? "transactions" : "spending", b);
        break;
    case U_HOLD: snprintf(buf, cap, "%s (%s hold one vs %s)", what, a, b); break;
    default: snprintf(buf, cap, "%s (%s vs %s)", what, a, b); break;
    }
    if (f->unit == U_MONEY && (strcmp(f->name, "balance") == 0 || strcmp(f->name, "debt") == 0))
        snprintf(buf, cap, "%s (%s vs %s)", what, a, b);
}

struct ids {
    char (*v)[65];
    size_t n, cap;
    bool oom;
};

static int on_id(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct ids *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        void *nv = realloc(l->v, cap * sizeof *l->v);
        if (!nv) {
            l->oom = true;
            return 1;
        }
        l->v = nv;
        l->cap = cap;
    }
    snprintf(l->v[l->n++], 65, "%s", v[0].s);
    return 0;
}

struct fit {
    size_t n, d;
    double *raw;       /* (n, N_FEAT) display values */
    double *X;         /* (n, d) standardized, kept columns only */
    size_t *col;       /* (d) the feature index of each kept column */
    double *mean, *sd; /* (N_FEAT) of the clustering values */
    double *C;         /* (k, d) */
    uint32_t *lab;
};

static void fit_free(struct fit *f)
{
    free(f->raw), free(f->X), free(f->col), free(f->mean), free(f->sd), free(f->C), free(f->lab);
}

/* Loads every customer's profile and builds the matrices. */
static int build(tl_ctx *ctx, struct ids *ids, struct fit *f, tl_err *err)
{
    int rc = tl_profile_refresh(ctx, NULL, NULL, err);
    if (rc < 0)
        return rc;
    rc = tl_store_exec(tl_ctx_store(ctx), "SELECT id FROM customers ORDER BY id", 0, NULL, on_id, ids,
                       err);
    if (rc < 0)
        return rc;
    if (ids->oom)
        return tl_err_set(err, TL_ENOMEM, "out of memory listing customers");
    size_t n = ids->n;
    f->n = n;
    f->raw = malloc((n ? n : 1) * N_FEAT * sizeof *f->raw);
    double *Z = malloc((n ? n : 1) * N_FEAT * sizeof *Z);
    f->mean = malloc(N_FEAT * sizeof *f->mean);
    f->sd = malloc(N_FEAT * sizeof *f->sd);
    f->col = malloc(N_FEAT * sizeof *f->col);
    struct tl_profile *p = malloc(sizeof *p);
    if (!f->raw || !Z || !f->mean || !f->sd || !f->col || !p) {
        free(Z), free(p);
        return tl_err_set(err, TL_ENOMEM, "out of memory for %zu customers' features", n);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = tl_profile_get(ctx, ids->v[i], p, err);
        if (rc == 0)
            features(p, f->raw + i * N_FEAT, Z + i * N_FEAT);
    }
    free(p);
    if (rc < 0) {
        free(Z);
        return rc;
    }
    tl_kmeans_standardize_fit(Z, n, N_FEAT, f->mean, f->sd);
    f->d = 0;
    for (size_t j = 0; j < N_FEAT; j++)
        if (f->sd[j] > 0)
            f->col[f->d++] = j;
    f->X = malloc((n ? n : 1) * (f->d ? f->d : 1) * sizeof *f->X);
    if (!f->X) {
        free(Z);
        return tl_err_set(err, TL_ENOMEM, "out of memory for %zu customers' features", n);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < f->d; c++) {
            size_t j = f->col[c];
            f->X[i * f->d + c] = (Z[i * N_FEAT + j] - f->mean[j]) / f->sd[j];
        }
    free(Z);
    if (f->d == 0)
        return tl_err_set(err, TL_EINVAL,
                          "segments: the %zu customers' profiles are all alike: nothing to segment on",
                          n);
    return 0;
}

struct rank {
    size_t j;
    double z;
};

static int cmp_rank(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;
    double ax = fabs(x->z), ay = fabs(y->z);
    if (ax != ay)
        return ax < ay ? 1 : -1;
    return x->j < y->j ? -1 : x->j > y->j;
}

/* Segment descriptions: per segment, the three kept features with the
 * largest |z| of the segment mean (standardized space). */
static json_t *describe(const struct fit *f, size_t k, const struct feat *ft, char (*desc)[512])
{
    json_t *segs = json_array();
    double *popraw = calloc(N_FEAT, sizeof *popraw);
    for (size_t i = 0; i < f->n; i++)
        for (size_t j = 0; j < N_FEAT; j++)
            popraw[j] += f->raw[i * N_FEAT + j] / (double)f->n;
    for (size_t s = 0; s < k; s++) {
        size_t size = 0;
        double segraw[N_FEAT] = {0};
        struct rank r[N_FEAT];
        for (size_t c = 0; c < f->d; c++)
            r[c] = (struct rank){f->col[c], 0};
        for (size_t i = 0; i < f->n; i++) {
            if (f->lab[i] != s)
                continue;
            size++;
            for (size_t j = 0; j < N_FEAT; j++)
                segraw[j] += f->raw[i * N_FEAT + j];
            for (size_t c = 0; c < f->d; c++)
                r[c].z += f->X[i * f->d + c];
        }
        for (size_t j = 0; j < N_FEAT; j++)
            segraw[j] = size ? segraw[j] / (double)size : 0;
        for (size_t c = 0; c < f->d; c++)
            r[c].z = size ? r[c].z / (double)size : 0;
        qsort(r, f->d, sizeof *r, cmp_rank);
        json_t *top = json_array();
        size_t o = 0;
        desc[s][0] = '\0';
        for (size_t t = 0; t < 3 && t < f->d; t++) {
            size_t j = r[t].j;
            char text[200];
            phrase(&ft[j], r[t].z, segraw[j], popraw ? popraw[j] : 0, text, sizeof text);
            o += (size_t)snprintf(desc[s] + o, o < 512 ? 512 - o : 0, "%s%s", t ? ", " : "", text);
            if (o >= 512)
                o = 511;
            json_array_append_new(top, json_pack("{s:s,s:f,s:f,s:f,s:s}", "feature", ft[j].name, "z",
                                                 round(r[t].z * 1000) / 1000, "segment_mean",
                                                 round(segraw[j] * 10000) / 10000, "population_mean",
                                                 round((popraw ? popraw[j] : 0) * 10000) / 10000, "text",
                                                 text));
        }
        json_array_append_new(segs,
                              json_pack("{s:i,s:I,s:f,s:s,s:o}", "id", (int)s, "size", (json_int_t)size,
                                        "share", round(10000.0 * (double)size / (double)f->n) / 10000,
                                        "description", desc[s], "top", top));
    }
    free(popraw);
    return segs;
}

/* Relabels clusters by decreasing size (ties: lower old label first). */
static void relabel(struct fit *f, size_t k)
{
    size_t cnt[TL_SEGMENT_MAX_K] = {0}, order[TL_SEGMENT_MAX_K], newl[TL_SEGMENT_MAX_K];
    for (size_t i = 0; i < f->n; i++)
        cnt[f->lab[i]]++;
    for (size_t c = 0; c < k; c++)
        order[c] = c;
    for (size_t a = 1; a < k; a++)
        for (size_t b = a; b > 0 && cnt[order[b]] > cnt[order[b - 1]]; b--) {
            size_t t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    double *C2 = malloc(k * f->d * sizeof *C2);
    for (size_t c = 0; c < k; c++) {
        newl[order[c]] = c;
        if (C2)
            memcpy(C2 + c * f->d, f->C + order[c] * f->d, f->d * sizeof *C2);
    }
    if (C2) {
        memcpy(f->C, C2, k * f->d * sizeof *C2);
        free(C2);
    }
    for (size_t i = 0; i < f->n; i++)
        f->lab[i] = (uint32_t)newl[f->lab[i]];
}

static json_t *dbl_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

/* Stores segments rows and each customer's segment, in one transaction. */
static int store_fit(tl_ctx *ctx, const char *model, const struct ids *ids, const struct fit *f,
                     json_t *segs, tl_err *err)
{
    tl_store *st = tl_ctx_store(ctx);
    int rc = tl_store_begin(st, err);
    if (rc < 0)
        return rc;
    int64_t now = tl_time_now_ms();
    size_t i;
    json_t *s;
    json_array_foreach (segs, i, s) {
        char id[96];
        int seg = (int)json_integer_value(json_object_get(s, "id"));
        snprintf(id, sizeof id, "%s:%d", model, seg);
        char *details = json_dumps(json_object_get(s, "top"), JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!details) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory storing segments");
            break;
        }
        tl_value p[] = {TL_TEXT(id),
                        TL_TEXT(model),
                        TL_INT(seg),
                        TL_INT(json_integer_value(json_object_get(s, "size"))),
                        TL_TEXT(json_string_value(json_object_get(s, "description"))),
                        TL_TEXT(details),
                        TL_INT(now)};
        rc = tl_store_exec(
            st,
            "INSERT INTO segments (id, model, segment, size, description, details, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            7, p, NULL, NULL, err);
        free(details);
        if (rc < 0)
            break;
    }
    for (size_t c = 0; rc == 0 && c < ids->n; c++) {
        tl_value p[] = {TL_INT(f->lab[c]), TL_TEXT(model), TL_TEXT(ids->v[c])};
        rc =
            tl_store_exec(st, "UPDATE customer_profiles SET segment = ?, segment_model = ? WHERE id = ?",
                          3, p, NULL, NULL, err);
    }
    if (rc < 0) {
        tl_store_rollback(st, NULL);
        return rc;
    }
    return tl_store_commit(st, err);
}

int tl_segment_fit(tl_ctx *ctx, const struct tl_segment_opts *opts, json_t **out, tl_err *err)
{
    struct tl_segment_opts o = opts ? *opts : (struct tl_segment_opts){0};
    int kmin = o.k ? o.k : (o.k_min ? o.k_min : 2), kmax = o.k ? o.k : (o.k_max ? o.k_max : 8);
    if (kmin < 2 || kmax > TL_SEGMENT_MAX_K || kmin > kmax)
        return tl_err_set(err, TL_EINVAL, "segments: k must be 2 to %d (got %d..%d)", TL_SEGMENT_MAX_K,
                          kmin, kmax);
    size_t sample = o.silhouette_sample ? o.silhouette_sample : 2000;
    struct ids ids = {0};
    struct fit f = {0};
    struct feat ft[N_FEAT];
    feature_table(ft);
    int rc = build(ctx, &ids, &f, err);
    if (rc == 0 && f.n < 2 * (size_t)kmin)
        rc = tl_err_set(err, TL_EINVAL,
                        "segments: %zu customers are too few for %d segments (at least %d)", f.n, kmin,
                        2 * kmin);
    if (rc < 0) {
        fit_free(&f);
        free(ids.v);
        return rc;
    }
    if ((size_t)kmax * 2 > f.n)
        kmax = (int)(f.n / 2);
    f.C = malloc((size_t)kmax * f.d * sizeof *f.C);
    f.lab = malloc(f.n * sizeof *f.lab);
    double *C = malloc((size_t)kmax * f.d * sizeof *C);
    uint32_t *lab = malloc(f.n * sizeof *lab);
    json_t *by_k = json_object();
    if (!f.C || !f.lab || !C || !lab) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory fitting segments");
        goto done;
    }
    double best = -2, best_inertia = 0;
    int best_k = 0;
    for (int k = kmin; k <= kmax; k++) {
        struct tl_kmeans_opts ko = TL_KMEANS_OPTS_DEFAULT;
        ko.k = (size_t)k;
        ko.seed = o.seed;
        struct tl_kmeans_result kr;
        if ((rc = tl_kmeans_fit(f.X, f.n, f.d, &ko, C, lab, &kr, err)) < 0)
            goto done;
        double sil = 0;
        if ((rc = tl_kmeans_silhouette(f.X, f.n, f.d, lab, (size_t)k, sample, o.seed, &sil, err)) < 0)
            goto done;
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        json_object_set_new(by_k, key, json_real(round(sil * 10000) / 10000));
        if (sil > best + 1e-12) {
            best = sil;
            best_k = k;
            best_inertia = kr.inertia;
            memcpy(f.C, C, (size_t)k * f.d * sizeof *C);
            memcpy(f.lab, lab, f.n * sizeof *lab);
        }
    }
    size_t k = (size_t)best_k;
    relabel(&f, k);
    char(*desc)[512] = calloc(k, sizeof *desc);
    if (!desc) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory describing segments");
        goto done;
    }
    json_t *segs = describe(&f, k, ft, desc);
    free(desc);

    /* the artifact: what assigning a new customer needs */
    json_t *kept = json_array(), *mean = json_array(), *sd = json_array();
    for (size_t c = 0; c < f.d; c++) {
        json_array_append_new(kept, json_string(ft[f.col[c]].name));
        json_array_append_new(mean, json_real(f.mean[f.col[c]]));
        json_array_append_new(sd, json_real(f.sd[f.col[c]]));
    }
    json_t *art = json_pack("{s:i,s:O,s:o,s:o,s:o}", "k", (int)k, "features", kept, "mean", mean, "sd",
                            sd, "centroids", dbl_array(f.C, k * f.d));
    char *bytes = json_dumps(art, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(art);
    json_t *meta =
        json_pack("{s:{s:i,s:i,s:i,s:I,s:I},s:{s:f,s:O,s:f},s:{s:s,s:I},s:{s:s,s:s,s:s}}",
                  "hyperparameters", "k", (int)k, "k_min", kmin, "k_max", kmax, "seed",
                  (json_int_t)o.seed, "silhouette_sample", (json_int_t)sample, "metrics", "silhouette",
                  round(best * 10000) / 10000, "silhouette_by_k", by_k, "inertia", best_inertia, "data",
                  "source", "customer_profiles", "rows", (json_int_t)f.n, "card", "intended_use",
                  "describing customers in groups for analysts and as a feature of "
                  "recommendations; not for decisions about an individual",
                  "data",
                  "every customer's profile: income, spending mix, savings, balances, "
                  "products, tenure, age, channels",
                  "limitations",
                  "k-means finds round groups of similar size in standardized space; "
                  "segments move when the bank's customers do: refit periodically");
    struct tl_model_new nm = {.task = TASK,
                              .algo = "kmeans",
                              .artifact = bytes,
                              .artifact_len = bytes ? strlen(bytes) : 0,
                              .metadata = meta,
                              .actor = o.actor};
    struct tl_model_info info = {0};
    if (!bytes || !meta) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory storing the segmentation");
    } else {
        rc = tl_registry_add(ctx, &nm, &info, err);
        if (rc == 0)
            rc = tl_registry_promote(ctx, info.id, o.actor ? o.actor : "teller", err);
        if (rc == 0)
            rc = store_fit(ctx, info.id, &ids, &f, segs, err);
    }
    free(bytes);
    json_decref(meta);
    if (rc == 0) {
        *out = json_pack("{s:s,s:i,s:s,s:f,s:O,s:I,s:o,s:o}", "model", info.id, "k", (int)k, "chosen_by",
                         o.k ? "fixed" : "silhouette", "silhouette", round(best * 10000) / 10000,
                         "silhouette_by_k", by_k, "customers", (json_int_t)f.n, "features", kept,
                         "segments", segs);
    } else {
        json_decref(kept);
        json_decref(segs);
    }
    tl_model_info_clear(&info);
done:
    json_decref(by_k);
    free(C);
    free(lab);
    fit_free(&f);
    free(ids.v);
    return rc;
}

/* ---- reading -------------------------------------------------------------------- */

static int on_segment(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    json_t *segs = ud;
    json_error_t je;
    json_t *top = json_loads(v[3].s, 0, &je);
    json_array_append_new(segs, json_pack("{s:I,s:I,s:s,s:o}", "id", (json_int_t)v[0].i, "size",
                                          (json_int_t)v[1].i, "description", v[2].s, "top",
                                          top ? top : json_array()));
    return 0;
}

int tl_segment_list(tl_ctx *ctx, const char *model_id, json_t **out, tl_err *err)
{
    struct tl_model_info info = {0};
    int rc = model_id ? tl_registry_get(ctx, model_id, &info, err)
                      : tl_registry_champion(ctx, TASK, &info, err);
    if (rc < 0) {
        if (rc == TL_ENOTFOUND && !model_id)
            tl_err_set(err, TL_ENOTFOUND, "no segmentation fitted yet: run `teller segments`");
        return rc;
    }
    if (strcmp(info.task, TASK) != 0) {
        tl_model_info_clear(&info);
        return tl_err_set(err, TL_EINVAL, "model %s is a %s model, not a segmentation", model_id,
                          info.task);
    }
    json_t *segs = json_array();
    tl_value p[] = {TL_TEXT(info.id)};
    rc = tl_store_exec(
        tl_ctx_store(ctx),
        "SELECT segment, size, description, details FROM segments WHERE model = ? ORDER BY segment", 1,
        p, on_segment, segs, err);
    if (rc < 0) {
        json_decref(segs);
        tl_model_info_clear(&info);
        return rc;
    }
    json_int_t total = 0;
    size_t i;
    json_t *s;
    json_array_foreach (segs, i, s)
        total += json_integer_value(json_object_get(s, "size"));
    json_array_foreach (segs, i, s)
        json_object_set_new(
            s, "share",
            json_real(total ? round(10000.0 * (double)json_integer_value(json_object_get(s, "size")) /
                                    (double)total) /
                                  10000
                            : 0));
    char created[40] = "";
    tl_time_format(info.created_ms, created, sizeof created);
    json_t *metrics = json_object_get(info.metadata, "metrics");
    *out = json_pack("{s:s,s:s,s:s,s:I,s:O,s:I,s:o}", "model", info.id, "status", info.status, "created",
                     created, "k", (json_int_t)json_array_size(segs), "silhouette",
                     json_object_get(metrics, "silhouette") ? json_object_get(metrics, "silhouette")
                                                            : json_null(),
                     "customers", total, "segments", segs);
    tl_model_info_clear(&info);
    return *out ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory listing segments");
}

int tl_segment_assign(tl_ctx *ctx, const char *customer_id, int *segment, char model_id[64], tl_err *err)
{
    *segment = -1;
    model_id[0] = '\0';
    char id[TL_MODEL_ID_MAX];
    char *bytes = NULL;
    size_t len = 0;
    int rc = tl_registry_task_artifact(ctx, TASK, NULL, id, &bytes, &len, err);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *a = json_loadb(bytes, len, 0, &je);
    free(bytes);
    struct tl_profile *p = malloc(sizeof *p);
    double v[N_FEAT], z[N_FEAT], x[N_FEAT];
    json_t *feats = json_object_get(a, "features"), *mean = json_object_get(a, "mean"),
           *sd = json_object_get(a, "sd"), *cent = json_object_get(a, "centroids");
    size_t d = json_array_size(feats), k = (size_t)json_integer_value(json_object_get(a, "k"));
    if (!a || !p || d == 0 || d > N_FEAT || json_array_size(mean) != d || json_array_size(sd) != d ||
        k < 1 || k > TL_SEGMENT_MAX_K || json_array_size(cent) != k * d) {
        json_decref(a);
        free(p);
        return tl_err_set(err, p ? TL_EINVAL : TL_ENOMEM, "model %s: not a segmentation artifact", id);
    }
    rc = tl_profile_get(ctx, customer_id, p, err);
    if (rc < 0) {
        json_decref(a);
        free(p);
        return rc;
    }
    features(p, v, z);
    free(p);
    struct feat ft[N_FEAT];
    feature_table(ft);
    double *C = malloc(k * d * sizeof *C);
    if (!C) {
        json_decref(a);
        return tl_err_set(err, TL_ENOMEM, "out of memory assigning a segment");
    }
    for (size_t c = 0; c < d; c++) {
        const char *name = json_string_value(json_array_get(feats, c));
        size_t j = 0;
        while (j < N_FEAT && (!name || strcmp(ft[j].name, name) != 0))
            j++;
        double s = json_number_value(json_array_get(sd, c));
        x[c] = j < N_FEAT && s > 0 ? (z[j] - json_number_value(json_array_get(mean, c))) / s : 0;
    }
    for (size_t i = 0; i < k * d; i++)
        C[i] = json_number_value(json_array_get(cent, i));
    *segment = (int)tl_kmeans_assign(C, k, d, x);
    snprintf(model_id, 64, "%s", id);
    free(C);
    json_decref(a);
    return 0;
}
