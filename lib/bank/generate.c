/*
 * generate.c - tl_generate: validates the options, runs the passes of
 * generate_internal.h in order, and owns the small shared helpers (random
 * streams, CSV output, calendar).
 */
#include "generate_internal.h"

#include <teller/csv.h>
#include <teller/datetime.h>
#include <teller/money.h>
#include <teller/schema.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- RNG --- */

void tl__gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    /* Mix the three keys through splitmix64 so that neighbouring indices
     * and streams start far apart. */
    uint64_t x = seed;
    uint64_t k = gen_splitmix(&x);
    x = k ^ (stream * 0xd1b54a32d192ed03ULL);
    k = gen_splitmix(&x);
    x = k ^ (index * 0x8cb92ba72f3d8dd7ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = gen_splitmix(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

double tl__gen_normal(struct gen_rng *r)
{
    double u1 = gen_unif(r);
    double u2 = gen_unif(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double tl__gen_lognormal(struct gen_rng *r, double median, double sigma)
{
    return median * exp(sigma * tl__gen_normal(r));
}

uint32_t tl__gen_poisson(struct gen_rng *r, double lambda)
{
    if (lambda <= 0)
        return 0;
    if (lambda > 40) {
        double v = lambda + sqrt(lambda) * tl__gen_normal(r) + 0.5;
        return v < 0 ? 0 : (uint32_t)v;
    }
    double l = exp(-lambda), p = 1.0;
    uint32_t k = 0;
    do {
        k++;
        p *= gen_unif(r);
    } while (p > l);
    return k - 1;
}

size_t tl__gen_pick(struct gen_rng *r, const double *w, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    double u = gen_unif(r) * sum;
    for (size_t i = 0; i < n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    /* rounding: the last entry with weight */
    for (size_t i = n; i-- > 0;)
        if (w[i] > 0)
            return i;
    return 0;
}

uint32_t tl__gen_pick_merchant(struct gen_rng *r, const struct gen_world *w, const struct gen_shelf *s)
{
    const struct gen_merchant *m = w->merchants.v + s->first;
    double u = gen_unif(r) * m[s->n - 1].pop_cum;
    uint32_t lo = 0, hi = s->n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (m[mid].pop_cum > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return s->first + lo;
}

int tl__gen_grow(void **v, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, c * elem);
    if (!p)
        return TL_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

/* ------------------------------------------------------------- output --- */

#define GEN_BUF_BYTES (1u << 20)

int tl__gen_out_open(struct gen_out *o, const char *dir, const char *table, tl_err *err)
{
    memset(o, 0, sizeof *o);
    int n = snprintf(o->path, sizeof o->path, "%s/%s.csv", dir, table);
    if (n < 0 || (size_t)n >= sizeof o->path)
        return tl_err_set(err, TL_EINVAL, "output directory path is too long: %s", dir);
    const struct tl_table_spec *t = tl_schema_table(table);
    if (!t)
        return tl_err_set(err, TL_EINTERNAL, "generate: no schema for table %s", table);
    o->buf = malloc(GEN_BUF_BYTES);
    if (!o->buf)
        return tl_err_set(err, TL_ENOMEM, "out of memory opening %s", o->path);
    o->cap = GEN_BUF_BYTES;
    o->fp = fopen(o->path, "wb");
    if (!o->fp) {
        int e = errno;
        free(o->buf);
        o->buf = NULL;
        return tl_err_set(err, TL_EIO, "cannot write %s: %s", o->path, strerror(e));
    }
    setvbuf(o->fp, NULL, _IOFBF, GEN_BUF_BYTES);
    const char *names[64];
    if (t->n_columns > 64)
        return tl_err_set(err, TL_EINTERNAL, "generate: table %s has too many columns", table);
    size_t n_names = 0;
    for (size_t i = 0; i < t->n_columns; i++)
        if (!t->columns[i].derived)
            names[n_names++] = t->columns[i].name;
    if (tl_csv_write_record(o->fp, n_names, names) < 0)
        o->failed = true;
    return 0;
}

void tl__gen_out_flush(struct gen_out *o)
{
    if (o->len && !o->failed && fwrite(o->buf, 1, o->len, o->fp) != o->len)
        o->failed = true;
    o->len = 0;
}

int tl__gen_out_close(struct gen_out *o, tl_err *err)
{
    int rc = 0;
    if (o->fp) {
        tl__gen_out_flush(o);
        int e = 0;
        if (fflush(o->fp) != 0 || ferror(o->fp))
            e = errno ? errno : EIO;
        if (fclose(o->fp) != 0 && !e)
            e = errno ? errno : EIO;
        o->fp = NULL;
        if (o->failed || e)
            rc = tl_err_set(err, TL_EIO, "writing %s failed: %s", o->path, strerror(e ? e : EIO));
    }
    free(o->buf);
    o->buf = NULL;
    return rc;
}

void tl__gen_put_fixed(struct gen_out *o, double v, int decimals)
{
    double scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    uint64_t m = (uint64_t)llround(fabs(v) * scale);
    uint64_t s = (uint64_t)scale;
    if (v < 0 && m)
        gen_putc(o, '-');
    gen_put_u64(o, m / s);
    if (decimals) {
        gen_putc(o, '.');
        gen_put_u64w(o, m % s, decimals);
    }
}

static void put2(struct gen_out *o, unsigned v)
{
    gen_putc(o, (char)('0' + v / 10));
    gen_putc(o, (char)('0' + v % 10));
}

void tl__gen_put_date(struct gen_out *o, int64_t days)
{
    int y;
    unsigned m, d;
    tl_civil_from_days(days, &y, &m, &d);
    gen_put_u64w(o, (uint64_t)y, 4);
    gen_putc(o, '-');
    put2(o, m);
    gen_putc(o, '-');
    put2(o, d);
}

void tl__gen_put_ts(struct gen_out *o, int64_t secs)
{
    int64_t day = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    unsigned sod = (unsigned)(secs - day * 86400);
    tl__gen_put_date(o, day);
    gen_putc(o, 'T');
    put2(o, sod / 3600);
    gen_putc(o, ':');
    put2(o, sod / 60 % 60);
    gen_putc(o, ':');
    put2(o, sod % 60);
    gen_putc(o, 'Z');
}

void tl__gen_put_text(struct gen_out *o, const char *s)
{
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        gen_put(o, s, n);
        return;
    }
    gen_putc(o, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            gen_putc(o, '"');
        gen_putc(o, s[i]);
    }
    gen_putc(o, '"');
}

/* ----------------------------------------------------------- calendar --- */

static int64_t last_sunday(int y, unsigned m)
{
    int64_t d = tl_days_from_civil(y, m, 31); /* March and October have 31 days */
    return d - (gen_weekday(d) + 1) % 7;
}

int tl__gen_utc_offset(int64_t day)
{
    int y;
    unsigned m, d;
    tl_civil_from_days(day, &y, &m, &d);
    /* CEST from the last Sunday of March to the last Sunday of October (EU rule). */
    int64_t start = last_sunday(y, 3), end = last_sunday(y, 10);
    return day >= start && day < end ? 2 : 1;
}

int tl__gen_age_at(int32_t birth_day, int64_t day)
{
    return tl_age_years(birth_day, day);
}

void tl__gen_progress(struct gen_world *w, uint64_t add)
{
    w->prog_done += add;
    if (w->prog)
        tl_progress_update(w->prog, w->prog_done);
}

/* --------------------------------------------------------------- entry --- */

static int mkdir_p(const char *dir, tl_err *err)
{
    char path[1024];
    size_t n = strlen(dir);
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "output directory is empty");
    if (n >= sizeof path)
        return tl_err_set(err, TL_EINVAL, "output directory path is too long: %s", dir);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0)
            continue;
        char c = path[i];
        path[i] = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            return tl_err_set(err, TL_EIO, "cannot create output directory %s: %s", path, strerror(e));
        }
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tl_err_set(err, TL_EIO, "output path %s exists and is not a directory", dir);
    return 0;
}

static const char *const TABLES[] = {"products",     "customers",    "accounts",    "holdings",
                                     "transactions", "applications", "interactions"};
#define N_TABLES (sizeof TABLES / sizeof TABLES[0])

/* The column lists the writers emit, checked against the schema so that a
 * change to the spec fails loudly instead of writing misaligned files. */
static const char *const COLS_PRODUCTS[] = {"id",
                                            "name",
                                            "category",
                                            "asset_class",
                                            "risk_level",
                                            "currency",
                                            "interest_rate_bp",
                                            "annual_fee",
                                            "min_age",
                                            "max_age",
                                            "min_income",
                                            "expected_return_bp",
                                            "volatility_bp",
                                            NULL};
static const char *const COLS_CUSTOMERS[] = {"id",
                                             "name",
                                             "email",
                                             "phone",
                                             "address",
                                             "national_id",
                                             "birth_date",
                                             "country",
                                             "region",
                                             "occupation",
                                             "annual_income",
                                             "currency",
                                             "household_size",
                                             "segment",
                                             "customer_since",
                                             NULL};
static const char *const COLS_ACCOUNTS[] = {"id",      "customer_id",  "product_id", "type",   "currency",
                                            "balance", "credit_limit", "opened_at",  "status", NULL};
static const char *const COLS_HOLDINGS[] = {"id",    "customer_id", "product_id", "account_id", "currency",
                                            "value", "units",       "opened_at",  NULL};
static const char *const COLS_TRANSACTIONS[] = {
    "id",          "account_id",  "ts",      "amount",      "currency", "kind",           "channel", "mcc",
    "merchant_id", "terminal_id", "country", "description", "is_fraud", "fraud_scenario", NULL};
static const char *const COLS_APPLICATIONS[] = {"id",
                                                "customer_id",
                                                "product_id",
                                                "applied_at",
                                                "currency",
                                                "amount",
                                                "term_months",
                                                "purpose",
                                                "annual_income",
                                                "existing_debt",
                                                "employment_years",
                                                "delinquencies_2y",
                                                "status",
                                                "defaulted_12m",
                                                NULL};
static const char *const COLS_INTERACTIONS[] = {"id",    "customer_id", "product_id", "ts",
                                                "event", "channel",     NULL};
static const char *const *const COLS[N_TABLES] = {COLS_PRODUCTS,    COLS_CUSTOMERS,    COLS_ACCOUNTS,
                                                  COLS_HOLDINGS,    COLS_TRANSACTIONS, COLS_APPLICATIONS,
                                                  COLS_INTERACTIONS};

static int check_schema(tl_err *err)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        const struct tl_table_spec *spec = tl_schema_table(TABLES[t]);
        if (!spec)
            return tl_err_set(err, TL_EINTERNAL, "generate: the schema has no table %s", TABLES[t]);
        /* the file columns: every column but those teller derives itself */
        size_t n = tl__gen_count(COLS[t]), k = 0;
        for (size_t i = 0; i < spec->n_columns; i++) {
            if (spec->columns[i].derived)
                continue;
            if (k >= n || strcmp(spec->columns[i].name, COLS[t][k]) != 0)
                return tl_err_set(err, TL_EINTERNAL,
                                  "generate: column %zu of %s is %s in the schema, the generator "
                                  "writes %s",
                                  k + 1, TABLES[t], spec->columns[i].name, k < n ? COLS[t][k] : "nothing");
            k++;
        }
        if (k != n)
            return tl_err_set(err, TL_EINTERNAL,
                              "generate: table %s has %zu file columns in the schema, the generator "
                              "writes %zu",
                              TABLES[t], k, n);
    }
    if (tl_currency_exponent("EUR") != 2)
        return tl_err_set(err, TL_EINTERNAL, "generate: EUR must have two decimals");
    return 0;
}

static int window(const struct tl_generate_opts *opts, struct gen_world *w, tl_err *err)
{
    const char *end = opts->end_date ? opts->end_date : "2026-10-31";
    int32_t end_day;
    tl_err perr = {0};
    if (tl_date_parse(end, strlen(end), &end_day, &perr) < 0)
        return tl_err_set(err, TL_EINVAL, "end date \"%s\" is not a date YYYY-MM-DD", end);
    if (opts->months < 0 || opts->months > 120)
        return tl_err_set(err, TL_EINVAL, "months must be between 1 and 120, got %d", opts->months);
    w->months = opts->months ? opts->months : 12;
    int y;
    unsigned m, d;
    tl_civil_from_days(end_day, &y, &m, &d);
    /* 90-year-olds must still be born after 1900, the first year ingest takes */
    if (y < 2000 || y > 2200)
        return tl_err_set(err, TL_EINVAL, "end date %s is out of range (years 2000-2200)", end);
    /* the same day of the month, `months` earlier, plus one day */
    int months0 = y * 12 + (int)m - 1 - w->months;
    int sy = months0 / 12;
    unsigned sm = (unsigned)(months0 % 12) + 1;
    unsigned sd = d;
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned maxd = dim[sm - 1] + (sm == 2 && ((sy % 4 == 0 && sy % 100 != 0) || sy % 400 == 0));
    if (sd > maxd)
        sd = maxd;
    w->start_day = (int32_t)tl_days_from_civil(sy, sm, sd) + 1;
    w->end_day = end_day;
    w->n_days = w->end_day - w->start_day + 1;
    w->utc_offset_h = malloc((size_t)w->n_days);
    if (!w->utc_offset_h)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    for (int32_t i = 0; i < w->n_days; i++)
        w->utc_offset_h[i] = (int8_t)tl__gen_utc_offset(w->start_day + i);
    return 0;
}

int tl_generate(const struct tl_generate_opts *opts, struct tl_generate_result *res, tl_err *err)
{
    if (!opts || !res)
        return tl_err_set(err, TL_EINVAL, "generate: options and result are required");
    if (opts->n_customers == 0)
        return tl_err_set(err, TL_EINVAL, "generate: the number of customers must be at least 1");
    if (opts->n_customers > 100000000)
        return tl_err_set(err, TL_EINVAL, "generate: %llu customers is more than the 100000000 supported",
                          (unsigned long long)opts->n_customers);
    if (!opts->out_dir || !*opts->out_dir)
        return tl_err_set(err, TL_EINVAL, "generate: an output directory is required");
    int rc = check_schema(err);
    if (rc < 0)
        return rc;

    struct gen_world *w = calloc(1, sizeof *w);
    if (!w)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    w->seed = opts->seed;
    w->n_customers = opts->n_customers;
    w->out_dir = opts->out_dir;

    if ((rc = window(opts, w, err)) < 0 || (rc = mkdir_p(opts->out_dir, err)) < 0)
        goto done;
    /* progress counts customers once per pass over them: A, T (once per
     * calendar month of history), accounts, interactions */
    int sy, ey;
    unsigned sm, em, dd;
    tl_civil_from_days(w->start_day, &sy, &sm, &dd);
    tl_civil_from_days(w->end_day, &ey, &em, &dd);
    uint64_t chunks = (uint64_t)((ey * 12 + (int)em) - (sy * 12 + (int)sm) + 1);
    w->prog_total = w->n_customers * (3 + chunks);
    if (!opts->quiet)
        w->prog = tl_progress_new("generate", w->prog_total, "steps", false);

    if ((rc = tl__gen_world_build(w, err)) < 0 || (rc = tl__gen_write_products(w, err)) < 0 ||
        (rc = tl__gen_customers(w, err)) < 0 || (rc = tl__gen_fraud_schedule(w, err)) < 0 ||
        (rc = tl__gen_transactions(w, err)) < 0 || (rc = tl__gen_write_accounts(w, err)) < 0 ||
        (rc = tl__gen_write_applications(w, err)) < 0 || (rc = tl__gen_write_interactions(w, err)) < 0)
        goto done;

    memset(res, 0, sizeof *res);
    for (size_t t = 0; t < N_TABLES; t++) {
        res->tables[t] = TABLES[t];
        res->rows[t] = w->rows[t];
    }
    res->n_tables = N_TABLES;
    res->n_fraud = w->n_fraud;

done:
    if (w->prog)
        tl_progress_finish(w->prog);
    tl__gen_world_free(w);
    free(w);
    return rc;
}
