/*
 * pf_prices.c - price tables: reading a price CSV, building tables from
 * memory, selecting columns, dropping incomplete rows, weekly and monthly
 * resampling and the latest prices (see pf_estimate.h).
 *
 * Missing values are NaN throughout, as in the pandas frames PyPortfolioOpt
 * works on; each function says where it follows pandas.
 */
#include <teller/pf_estimate.h>

#include <teller/csv.h>
#include <teller/datetime.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ml/pf_internal.h"

/* ---- allocation -------------------------------------------------------- */

struct tl_pf_table *tl__pf_table_alloc(size_t n_rows, size_t n_assets)
{
    if (n_assets == 0 || n_assets > TL_PF_MAX_ASSETS || n_rows > TL_PF_MAX_ROWS)
        return NULL;
    struct tl_pf_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_rows = n_rows;
    t->n_assets = n_assets;
    t->tickers = calloc(n_assets, sizeof *t->tickers);
    t->days = malloc((n_rows ? n_rows : 1) * sizeof *t->days);
    t->v = malloc((n_rows ? n_rows : 1) * n_assets * sizeof *t->v);
    if (!t->tickers || !t->days || !t->v) {
        tl_pf_table_free(t);
        return NULL;
    }
    return t;
}

void tl_pf_table_free(struct tl_pf_table *t)
{
    if (!t)
        return;
    if (t->tickers)
        for (size_t j = 0; j < t->n_assets; j++)
            free(t->tickers[j]);
    free(t->tickers);
    free(t->days);
    free(t->v);
    free(t);
}

int tl__pf_copy_tickers(struct tl_pf_table *dst, const struct tl_pf_table *src)
{
    for (size_t j = 0; j < src->n_assets; j++)
        if (!(dst->tickers[j] = strdup(src->tickers[j])))
            return TL_ENOMEM;
    return 0;
}

int tl__pf_check_table(const struct tl_pf_table *t, size_t min_rows, const char *what,
                       tl_err *err)
{
    if (!t || !t->v || !t->tickers || t->n_assets == 0)
        return tl_err_set(err, TL_EINVAL, "%s: no table given", what);
    if (t->n_rows < min_rows)
        return tl_err_set(err, TL_EINVAL, "%s: %zu rows, at least %zu needed", what, t->n_rows,
                          min_rows);
    return 0;
}

int tl_pf_table_col(const struct tl_pf_table *t, const char *ticker)
{
    if (!t || !ticker)
        return -1;
    for (size_t j = 0; j < t->n_assets; j++)
        if (strcmp(t->tickers[j], ticker) == 0)
            return (int)j;
    return -1;
}

/* Tickers must be distinct: results are reported by ticker. */
static int check_distinct(const struct tl_pf_table *t, const char *src, tl_err *err)
{
    for (size_t a = 0; a < t->n_assets; a++)
        for (size_t b = 0; b < a; b++)
            if (strcmp(t->tickers[a], t->tickers[b]) == 0)
                return tl_err_set(err, TL_EINVAL, "%s: ticker \"%s\" appears twice (columns %zu and %zu)",
                                  src, t->tickers[a], b + 2, a + 2);
    return 0;
}

int tl_pf_table_new(size_t n_rows, size_t n_assets, const double *v, const int32_t *days,
                    const char *const *tickers, struct tl_pf_table **out, tl_err *err)
{
    if (!out || (!v && n_rows > 0))
        return tl_err_set(err, TL_EINVAL, "price table: no values given");
    if (n_assets == 0 || n_assets > TL_PF_MAX_ASSETS || n_rows > TL_PF_MAX_ROWS)
        return tl_err_set(err, TL_ETOOBIG,
                          "price table: %zu rows x %zu assets is outside 1..%u assets, %u rows",
                          n_rows, n_assets, TL_PF_MAX_ASSETS, TL_PF_MAX_ROWS);
    struct tl_pf_table *t = tl__pf_table_alloc(n_rows, n_assets);
    if (!t)
        return tl_err_set(err, TL_ENOMEM, "price table: out of memory");
    for (size_t j = 0; j < n_assets; j++) {
        char num[24];
        const char *name = tickers ? tickers[j] : num;
        if (!tickers)
            snprintf(num, sizeof num, "%zu", j);
        if (!name || !(t->tickers[j] = strdup(name))) {
            tl_pf_table_free(t);
            return name ? tl_err_set(err, TL_ENOMEM, "price table: out of memory")
                        : tl_err_set(err, TL_EINVAL, "price table: ticker %zu is NULL", j);
        }
    }
    for (size_t i = 0; i < n_rows; i++) {
        t->days[i] = days ? days[i] : (int32_t)i;
        if (i > 0 && t->days[i] <= t->days[i - 1]) {
            tl_pf_table_free(t);
            return tl_err_set(err, TL_EINVAL, "price table: dates must increase strictly (row %zu)", i);
        }
    }
    if (n_rows)
        memcpy(t->v, v, n_rows * n_assets * sizeof *t->v);
    int rc = check_distinct(t, "price table", err);
    if (rc < 0) {
        tl_pf_table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- reading a CSV ----------------------------------------------------- */

static bool missing_cell(const char *s)
{
    return !*s || strcmp(s, "NA") == 0 || strcasecmp(s, "nan") == 0 || strcmp(s, "null") == 0;
}

/* A price cell: the whole field must be a finite number. */
static bool parse_price(const char *s, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(x))
        return false;
    *out = x;
    return true;
}

/* Growable rows of a table being read; bounded by TL_PF_MAX_ROWS. */
struct grow {
    size_t n, cap, n_assets;
    int32_t *days;
    double *v;
};

static int grow_row(struct grow *g)
{
    if (g->n < g->cap)
        return 0;
    if (g->cap >= TL_PF_MAX_ROWS)
        return TL_ETOOBIG;
    size_t cap = g->cap ? g->cap * 2 : 1024;
    if (cap > TL_PF_MAX_ROWS)
        cap = TL_PF_MAX_ROWS;
    int32_t *d = realloc(g->days, cap * sizeof *d);
    if (!d)
        return TL_ENOMEM;
    g->days = d;
    double *v = realloc(g->v, cap * g->n_assets * sizeof *v);
    if (!v)
        return TL_ENOMEM;
    g->v = v;
    g->cap = cap;
    return 0;
}

/* Forward-fills interior gaps: a missing price between two present prices
 * of the same asset takes the last present one. Leading (not yet listed) and
 * trailing (delisted) gaps stay missing. Returns the cells filled. */
static size_t fill_interior_gaps(struct tl_pf_table *t)
{
    size_t filled = 0, n = t->n_assets;
    for (size_t j = 0; j < n; j++) {
        size_t first = t->n_rows, last = 0;
        for (size_t i = 0; i < t->n_rows; i++)
            if (!isnan(t->v[i * n + j])) {
                if (first == t->n_rows)
                    first = i;
                last = i;
            }
        for (size_t i = first + 1; i < last; i++)
            if (isnan(t->v[i * n + j])) {
                t->v[i * n + j] = t->v[(i - 1) * n + j];
                filled++;
            }
    }
    return filled;
}

static int read_header(tl_csv_reader *r, const char *path, struct tl_pf_table **tp, tl_err *err)
{
    const tl_csv_record *rec;
    int rc = tl_csv_next(r, &rec, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return tl_err_set(err, TL_EINVAL, "%s: empty file, expected a header \"date,TICKER,...\"", path);
    if (rec->n_fields < 2)
        return tl_err_set(err, TL_EINVAL,
                          "%s:%llu: the header names no ticker (expected \"date,TICKER,...\")",
                          path, (unsigned long long)rec->line);
    size_t n = rec->n_fields - 1;
    if (n > TL_PF_MAX_ASSETS)
        return tl_err_set(err, TL_ETOOBIG, "%s:%llu: %zu tickers, at most %u", path,
                          (unsigned long long)rec->line, n, TL_PF_MAX_ASSETS);
    struct tl_pf_table *t = calloc(1, sizeof *t);
    if (!t || !(t->tickers = calloc(n, sizeof *t->tickers))) {
        free(t);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
    }
    t->n_assets = n;
    for (size_t j = 0; j < n; j++) {
        if (rec->lens[j + 1] == 0) {
            tl_pf_table_free(t);
            return tl_err_set(err, TL_EINVAL, "%s:%llu:%zu: empty ticker name in the header", path,
                              (unsigned long long)rec->line, j + 2);
        }
        if (!(t->tickers[j] = strdup(rec->fields[j + 1]))) {
            tl_pf_table_free(t);
            return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        }
    }
    rc = check_distinct(t, path, err);
    if (rc < 0) {
        tl_pf_table_free(t);
        return rc;
    }
    tl_csv_reader_set_names(r, rec->n_fields, (const char *const *)rec->fields);
    *tp = t;
    return 0;
}

/* One data row: the date, then one price or missing cell per ticker. */
static int read_row(const tl_csv_record *rec, const char *path, const struct tl_pf_table *t,
                    struct grow *g, tl_err *err)
{
    unsigned long long line = (unsigned long long)rec->line;
    size_t n = t->n_assets;
    if (rec->n_fields != n + 1)
        return tl_err_set(err, TL_EPARSE, "%s:%llu:%zu: %zu fields, the header has %zu", path, line,
                          rec->n_fields < n + 1 ? rec->n_fields + 1 : n + 2, rec->n_fields, n + 1);
    int32_t day;
    tl_err derr = {0};
    if (tl_date_parse(rec->fields[0], rec->lens[0], &day, &derr) < 0)
        return tl_err_set(err, TL_EPARSE, "%s:%llu:1: date \"%s\" is not YYYY-MM-DD", path, line,
                          rec->fields[0]);
    if (g->n > 0 && day <= g->days[g->n - 1]) {
        char prev[16];
        tl_date_format(g->days[g->n - 1], prev, sizeof prev);
        return tl_err_set(err, TL_EINVAL,
                          "%s:%llu:1: date %s %s the previous row's %s: dates must be unique and ascending",
                          path, line, rec->fields[0], day == g->days[g->n - 1] ? "repeats" : "comes before",
                          prev);
    }
    int rc = grow_row(g);
    if (rc < 0)
        return tl_err_set(err, rc,
                          rc == TL_ENOMEM ? "%s: out of memory"
                                          : "%s: more than the most rows a price table holds",
                          path);
    double *row = g->v + g->n * n;
    for (size_t j = 0; j < n; j++) {
        const char *s = rec->fields[j + 1];
        if (missing_cell(s)) {
            row[j] = NAN;
            continue;
        }
        if (!parse_price(s, &row[j]))
            return tl_err_set(err, TL_EPARSE, "%s:%llu:%zu: column \"%s\": \"%s\" is not a number", path,
                              line, j + 2, t->tickers[j], s);
        if (!(row[j] > 0))
            return tl_err_set(err, TL_EINVAL, "%s:%llu:%zu: column \"%s\": price %s is not positive", path,
                              line, j + 2, t->tickers[j], s);
    }
    g->days[g->n++] = day;
    return 0;
}

int tl_pf_prices_read_csv(const char *path, unsigned flags, struct tl_pf_table **out, tl_err *err)
{
    if (!path || !out)
        return tl_err_set(err, TL_EINVAL, "prices: no path given");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
    tl_csv_reader *r = NULL;
    struct tl_pf_table *t = NULL;
    struct grow g = {0};
    int rc = tl_csv_reader_open(fp, path, 0, &r, err);
    if (rc == 0)
        rc = read_header(r, path, &t, err);
    if (rc == 0) {
        g.n_assets = t->n_assets;
        const tl_csv_record *rec;
        while ((rc = tl_csv_next(r, &rec, err)) > 0)
            if ((rc = read_row(rec, path, t, &g, err)) < 0)
                break;
    }
    if (r)
        tl_csv_reader_close(r);
    fclose(fp);
    if (rc == 0 && g.n < 2)
        rc = tl_err_set(err, TL_EINVAL, "%s: %zu price rows; at least 2 are needed to make a return", path,
                        g.n);
    if (rc < 0) {
        tl_pf_table_free(t);
        free(g.days);
        free(g.v);
        return rc;
    }
    t->n_rows = g.n;
    t->days = g.days;
    t->v = g.v;
    if (!(flags & TL_PF_KEEP_GAPS))
        t->n_gaps_filled = fill_interior_gaps(t);
    *out = t;
    return 0;
}

/* ---- reshaping --------------------------------------------------------- */

int tl_pf_table_select(const struct tl_pf_table *t, size_t n, const char *const *tickers,
                       struct tl_pf_table **out, tl_err *err)
{
    int rc = tl__pf_check_table(t, 0, "select", err);
    if (rc < 0)
        return rc;
    if (n == 0 || !tickers || !out)
        return tl_err_set(err, TL_EINVAL, "select: no tickers given");
    int cols[TL_PF_MAX_ASSETS];
    if (n > TL_PF_MAX_ASSETS)
        return tl_err_set(err, TL_ETOOBIG, "select: %zu tickers, at most %u", n, TL_PF_MAX_ASSETS);
    for (size_t k = 0; k < n; k++)
        if (!tickers[k] || (cols[k] = tl_pf_table_col(t, tickers[k])) < 0)
            return tl_err_set(err, TL_ENOTFOUND, "select: unknown ticker \"%s\"",
                              tickers[k] ? tickers[k] : "(null)");
    struct tl_pf_table *s = tl__pf_table_alloc(t->n_rows, n);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "select: out of memory");
    for (size_t k = 0; k < n; k++)
        if (!(s->tickers[k] = strdup(tickers[k]))) {
            tl_pf_table_free(s);
            return tl_err_set(err, TL_ENOMEM, "select: out of memory");
        }
    if (check_distinct(s, "select", err) < 0) {
        tl_pf_table_free(s);
        return TL_EINVAL;
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        s->days[i] = t->days[i];
        for (size_t k = 0; k < n; k++)
            s->v[i * n + k] = t->v[i * t->n_assets + (size_t)cols[k]];
    }
    *out = s;
    return 0;
}

int tl_pf_table_dropna(const struct tl_pf_table *t, size_t min_rows, struct tl_pf_table **out,
                       tl_err *err)
{
    int rc = tl__pf_check_table(t, 0, "dropna", err);
    if (rc < 0)
        return rc;
    size_t n = t->n_assets, kept = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        size_t j = 0;
        while (j < n && !isnan(t->v[i * n + j]))
            j++;
        kept += j == n;
    }
    if (kept < min_rows || kept == 0)
        return tl_err_set(err, TL_EINVAL, "dropna: %zu rows have every asset present, at least %zu needed",
                          kept, min_rows ? min_rows : 1);
    struct tl_pf_table *s = tl__pf_table_alloc(kept, n);
    if (!s || tl__pf_copy_tickers(s, t) < 0) {
        tl_pf_table_free(s);
        return tl_err_set(err, TL_ENOMEM, "dropna: out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        size_t j = 0;
        while (j < n && !isnan(t->v[i * n + j]))
            j++;
        if (j < n)
            continue;
        s->days[o] = t->days[i];
        memcpy(s->v + o * n, t->v + i * n, n * sizeof *s->v);
        o++;
    }
    *out = s;
    return 0;
}

/* The label of the bin holding day d. Weeks: pandas "W" = "W-SUN", bins
 * closed on the right at Sunday, labelled by it; 1970-01-01 was a Thursday
 * so (d + 3) mod 7 is the weekday with Monday = 0. Months: "M" = month end. */
static int32_t bin_label(int32_t d, enum tl_pf_period p)
{
    if (p == TL_PF_WEEKLY) {
        int wd = (int)(((d + 3) % 7 + 7) % 7);
        return d + (6 - wd);
    }
    int y;
    unsigned m, day;
    tl_civil_from_days(d, &y, &m, &day);
    if (++m == 13) {
        m = 1;
        y++;
    }
    return (int32_t)(tl_days_from_civil(y, m, 1) - 1);
}

/* The label of the bin after the one labelled l. */
static int32_t next_label(int32_t l, enum tl_pf_period p)
{
    return p == TL_PF_WEEKLY ? l + 7 : bin_label(l + 1, p);
}

int tl_pf_prices_resample(const struct tl_pf_table *prices, enum tl_pf_period period,
                          struct tl_pf_table **out, tl_err *err)
{
    int rc = tl__pf_check_table(prices, 1, "resample", err);
    if (rc < 0)
        return rc;
    if (period != TL_PF_WEEKLY && period != TL_PF_MONTHLY)
        return tl_err_set(err, TL_EUNSUPPORTED, "resample: unknown period %d (weekly or monthly)",
                          (int)period);
    size_t n = prices->n_assets;
    int32_t first = bin_label(prices->days[0], period);
    int32_t last = bin_label(prices->days[prices->n_rows - 1], period);
    size_t n_bins = 0;
    for (int32_t l = first; l <= last; l = next_label(l, period))
        n_bins++;
    struct tl_pf_table *s = tl__pf_table_alloc(n_bins, n);
    if (!s || tl__pf_copy_tickers(s, prices) < 0) {
        tl_pf_table_free(s);
        return tl_err_set(err, TL_ENOMEM, "resample: out of memory");
    }
    for (size_t k = 0; k < n_bins * n; k++)
        s->v[k] = NAN;
    /* resample(...).first(): per column, the first present value in the bin */
    size_t b = 0;
    s->days[0] = first;
    for (size_t i = 0; i < prices->n_rows; i++) {
        int32_t l = bin_label(prices->days[i], period);
        while (s->days[b] < l) {
            s->days[b + 1] = next_label(s->days[b], period);
            b++;
        }
        for (size_t j = 0; j < n; j++)
            if (isnan(s->v[b * n + j]))
                s->v[b * n + j] = prices->v[i * n + j];
    }
    *out = s;
    return 0;
}

int tl_pf_latest_prices(const struct tl_pf_table *prices, double *latest, tl_err *err)
{
    int rc = tl__pf_check_table(prices, 1, "latest prices", err);
    if (rc < 0)
        return rc;
    size_t n = prices->n_assets;
    for (size_t j = 0; j < n; j++) {
        latest[j] = NAN;
        for (size_t i = prices->n_rows; i-- > 0;)
            if (!isnan(prices->v[i * n + j])) {
                latest[j] = prices->v[i * n + j];
                break;
            }
        if (isnan(latest[j]))
            return tl_err_set(err, TL_EINVAL, "latest prices: \"%s\" has no price", prices->tickers[j]);
    }
    return 0;
}
