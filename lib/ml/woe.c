/*
 * woe.c - weight-of-evidence binning of an encoder's inputs (ml_data.h).
 *
 * Numeric and date columns: quantile pre-bins (cut points taken from the
 * sorted values, deduplicated, so a column with few values gets fewer
 * bins), then adjacent bins merged until the WoE runs one way. Both ways
 * are tried and the one keeping more information value wins: the scorecard
 * must not say "riskier at 24 months, safer at 36, riskier at 48", and
 * which way risk runs is for the data to say. Bins under min_bin_frac of
 * the rows are merged into the neighbour of nearest WoE, and the monotonic
 * pass runs again, until both hold.
 *
 * Categorical and boolean columns: a bin per level; small levels are merged
 * into the level bin of nearest WoE, smallest first. Missing values get a
 * bin of their own everywhere (WoE 0 when training saw none: no evidence),
 * and categorical columns an "unseen" bin with WoE 0 for levels scoring
 * meets that training did not.
 *
 * The 0.5 added to every count keeps a bin with no positives (or no
 * negatives) finite, which a pure bin of rare levels easily is.
 */
#include <teller/ml_data.h>

#include <teller/arena.h>
#include <teller/datetime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ml/internal.h"

#define WOE_FORMAT_VERSION 1
#define MAX_BINS_HARD 1024u      /* numeric pre-bins */
#define MAX_LEVELS_WOE (1u << 20) /* categorical levels of one variable, from JSON too */
#define LABEL_MAX 200             /* bytes of a bin label listing levels */

struct woe_var {
    char *name;
    enum tl_feat_kind kind;
    int bool_pair;               /* boolean: index into tl__bool_pairs */
    double iv;
    size_t n_bins;
    struct tl_woe_bin *bins;
    /* numeric and date: bin b < n_cuts + 1 is (cuts[b-1], cuts[b]]; then missing */
    size_t n_cuts;
    double *cuts;
    /* categorical and boolean: levels sorted, level_bin[l] their bin */
    size_t n_levels;
    char **levels;
    size_t *level_bin;
    size_t missing_bin, unseen_bin;
};

struct tl_woe {
    tl_arena *arena;
    size_t n_vars;
    struct woe_var *vars;
};

static double woe_of(size_t n, size_t n_pos, size_t tot_pos, size_t tot_neg)
{
    if (n == 0)
        return 0.0;
    double pos = (double)n_pos, neg = (double)(n - n_pos);
    return log((pos + 0.5) / ((double)tot_pos + 0.5)) - log((neg + 0.5) / ((double)tot_neg + 0.5));
}

static double iv_term(size_t n, size_t n_pos, double woe, size_t tot_pos, size_t tot_neg)
{
    return ((double)n_pos / (double)tot_pos - (double)(n - n_pos) / (double)tot_neg) * woe;
}

void tl_woe_free(tl_woe *w)
{
    if (!w)
        return;
    tl_arena_free(w->arena);
    free(w);
}

static tl_woe *woe_alloc(size_t n_vars)
{
    tl_woe *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->arena = tl_arena_new(64 * 1024, 0);
    w->vars = w->arena ? tl_arena_calloc(w->arena, n_vars ? n_vars : 1, sizeof *w->vars) : NULL;
    if (!w->vars) {
        tl_woe_free(w);
        return NULL;
    }
    return w;
}

/* ---- numeric binning -----------------------------------------------------------*/
struct pbin {
    double hi; /* upper edge, inclusive; +inf for the last */
    size_t n, n_pos;
    double woe;
};

struct vy {
    double v;
    uint8_t y;
};

static int cmp_vy(const void *a, const void *b)
{
    double x = ((const struct vy *)a)->v, y = ((const struct vy *)b)->v;
    return (x > y) - (x < y);
}

static void merge_into(struct pbin *b, size_t *nb, size_t i, size_t P, size_t N)
{
    /* bins i and i+1 become one, keeping the upper edge of i+1 */
    b[i].n += b[i + 1].n;
    b[i].n_pos += b[i + 1].n_pos;
    b[i].hi = b[i + 1].hi;
    b[i].woe = woe_of(b[i].n, b[i].n_pos, P, N);
    memmove(b + i + 1, b + i + 2, (*nb - i - 2) * sizeof *b);
    (*nb)--;
}

/* Merges until the WoE runs in direction dir (+1 up, -1 down) and every bin
 * holds min_n rows (or one bin is left); returns the IV of the bins. */
static double merge_bins(struct pbin *b, size_t *nb, int dir, double min_n, size_t P, size_t N)
{
    for (;;) {
        bool changed = false;
        for (size_t i = 0; i + 1 < *nb;) {
            double d = b[i + 1].woe - b[i].woe;
            if ((dir > 0 && d < 0) || (dir < 0 && d > 0)) {
                merge_into(b, nb, i, P, N);
                changed = true;
                if (i > 0)
                    i--;
            } else {
                i++;
            }
        }
        size_t small = SIZE_MAX;
        for (size_t i = 0; i < *nb && *nb > 1; i++)
            if ((double)b[i].n < min_n && (small == SIZE_MAX || b[i].n < b[small].n))
                small = i;
        if (small != SIZE_MAX) {
            size_t with;
            if (small == 0)
                with = 0;
            else if (small + 1 == *nb)
                with = small - 1;
            else
                with = fabs(b[small - 1].woe - b[small].woe) <= fabs(b[small + 1].woe - b[small].woe)
                           ? small - 1
                           : small;
            merge_into(b, nb, with, P, N);
            changed = true;
        }
        if (!changed)
            break;
    }
    double iv = 0;
    for (size_t i = 0; i < *nb; i++)
        iv += iv_term(b[i].n, b[i].n_pos, b[i].woe, P, N);
    return iv;
}

static char *edge_text(tl_arena *a, enum tl_feat_kind kind, double v)
{
    char buf[32];
    if (kind == TL_FEAT_DATE && v >= INT32_MIN && v <= INT32_MAX &&
        tl_date_format((int32_t)v, buf, sizeof buf) > 0)
        return tl_arena_strndup(a, buf, strlen(buf));
    snprintf(buf, sizeof buf, "%.10g", v);
    return tl_arena_strndup(a, buf, strlen(buf));
}

/* Sets lo/hi and readable labels of the numeric bins from the cuts, and the
 * missing bin after them. */
static int label_numeric(tl_arena *a, struct woe_var *v)
{
    for (size_t b = 0; b <= v->n_cuts; b++) {
        struct tl_woe_bin *bin = &v->bins[b];
        bin->lo = b == 0 ? -INFINITY : v->cuts[b - 1];
        bin->hi = b == v->n_cuts ? INFINITY : v->cuts[b];
        bin->missing = false;
        char *lo = b == 0 ? "-inf" : edge_text(a, v->kind, bin->lo);
        char *hi = b == v->n_cuts ? "inf" : edge_text(a, v->kind, bin->hi);
        if (!lo || !hi)
            return TL_ENOMEM;
        bin->label = tl_arena_sprintf(a, "(%s, %s%s", lo, hi, b == v->n_cuts ? ")" : "]");
        if (!bin->label)
            return TL_ENOMEM;
    }
    struct tl_woe_bin *m = &v->bins[v->n_cuts + 1];
    m->lo = m->hi = NAN;
    m->missing = true;
    m->label = "missing";
    v->missing_bin = v->n_cuts + 1;
    v->unseen_bin = SIZE_MAX;
    return 0;
}

static int fit_numeric(tl_woe *w, struct woe_var *v, const tl_frame *f, size_t col, const uint8_t *y,
                       const struct tl_woe_opts *o, size_t P, size_t N, tl_err *err)
{
    size_t n = 0, miss_n = 0, miss_pos = 0;
    struct vy *a = malloc((f->n_rows ? f->n_rows : 1) * sizeof *a);
    size_t B = o->max_bins;
    struct pbin *bins = malloc((B + 1) * sizeof *bins);
    int rc = 0;
    if (!a || !bins) {
        rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
        goto done;
    }
    for (size_t r = 0; r < f->n_rows; r++) {
        const char *s = f->cells[r * f->n_cols + col];
        if (tl__ml_missing(s)) {
            miss_n++;
            miss_pos += y[r];
            continue;
        }
        double d;
        bool ok = v->kind == TL_FEAT_DATE ? tl__ml_parse_date(s, &d) : tl__ml_parse_num(s, &d);
        if (!ok) {
            char q[TL__QUOTE_SIZE];
            rc = tl_err_set(err, TL_EINVAL, "woe: data row %zu, column \"%s\": \"%s\" is not a %s value",
                            r + 1,
                            v->name, tl__quote(q, sizeof q, s, strlen(s)), tl_feat_kind_name(v->kind));
            goto done;
        }
        a[n++] = (struct vy){d, y[r]};
    }
    size_t nb = 0;
    if (n > 0) {
        qsort(a, n, sizeof *a, cmp_vy);
        /* Quantile cuts: the value where the running count reaches k/B. */
        for (size_t k = 1; k < B; k++) {
            size_t idx = (k * n + B - 1) / B - 1;
            double c = a[idx].v;
            if (c >= a[n - 1].v || (nb > 0 && c <= bins[nb - 1].hi))
                continue;
            bins[nb++] = (struct pbin){.hi = c};
        }
        bins[nb++] = (struct pbin){.hi = INFINITY};
        size_t b = 0;
        for (size_t i = 0; i < n; i++) {
            while (a[i].v > bins[b].hi)
                b++;
            bins[b].n++;
            bins[b].n_pos += a[i].y;
        }
        for (b = 0; b < nb; b++)
            bins[b].woe = woe_of(bins[b].n, bins[b].n_pos, P, N);
        double min_n = o->min_bin_frac * (double)f->n_rows;
        struct pbin *down = malloc(nb * sizeof *down);
        if (!down) {
            rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
            goto done;
        }
        memcpy(down, bins, nb * sizeof *down);
        size_t nb_down = nb;
        double iv_up = merge_bins(bins, &nb, +1, min_n, P, N);
        double iv_down = merge_bins(down, &nb_down, -1, min_n, P, N);
        if (iv_down > iv_up) {
            memcpy(bins, down, nb_down * sizeof *down);
            nb = nb_down;
        }
        free(down);
    } else {
        bins[nb++] = (struct pbin){.hi = INFINITY};
    }
    v->n_cuts = nb - 1;
    v->n_bins = nb + 1;
    v->cuts = tl_arena_calloc(w->arena, nb, sizeof *v->cuts);
    v->bins = tl_arena_calloc(w->arena, v->n_bins, sizeof *v->bins);
    if (!v->cuts || !v->bins) {
        rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
        goto done;
    }
    for (size_t b = 0; b < nb; b++) {
        if (b < v->n_cuts)
            v->cuts[b] = bins[b].hi;
        v->bins[b].n = bins[b].n;
        v->bins[b].n_pos = bins[b].n_pos;
    }
    v->bins[nb].n = miss_n;
    v->bins[nb].n_pos = miss_pos;
    if (label_numeric(w->arena, v) < 0)
        rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
done:
    free(a);
    free(bins);
    return rc;
}

/* ---- categorical binning ---------------------------------------------------------*/
struct sy {
    const char *s;
    uint8_t y;
};

static int cmp_sy(const void *a, const void *b)
{
    return strcmp(((const struct sy *)a)->s, ((const struct sy *)b)->s);
}

/* The text a cell stands for in a categorical variable: itself, or for a
 * boolean its canonical spelling; NULL when a boolean cell is no boolean. */
static const char *level_key(const struct woe_var *v, const char *s)
{
    if (v->kind != TL_FEAT_BOOLEAN)
        return s;
    bool t;
    if (tl__ml_bool_pair(s, &t) != v->bool_pair)
        return NULL;
    return tl__bool_pairs[v->bool_pair][t];
}

struct cbin {
    size_t n, n_pos;
    double woe;
    bool alive;
};

static int label_levels(tl_arena *a, struct woe_var *v, size_t b, char *buf)
{
    size_t o = 0, count = 0;
    bool cut = false;
    buf[0] = '\0';
    for (size_t l = 0; l < v->n_levels; l++) {
        if (v->level_bin[l] != b)
            continue;
        count++;
        size_t len = strlen(v->levels[l]);
        if (cut || o + len + 2 > LABEL_MAX - 24) {
            cut = true;
            continue;
        }
        if (o) {
            memcpy(buf + o, ", ", 2);
            o += 2;
        }
        memcpy(buf + o, v->levels[l], len);
        o += len;
        buf[o] = '\0';
    }
    if (cut)
        snprintf(buf + o, LABEL_MAX - o, ", ... (%zu levels)", count);
    v->bins[b].label = tl_arena_strndup(a, buf, strlen(buf));
    return v->bins[b].label ? 0 : TL_ENOMEM;
}

/* Renumbers the live bins 0.., fills v->bins (levels, then missing and
 * unseen) and their labels. */
static int finish_categorical(tl_arena *a, struct woe_var *v, struct cbin *cb, size_t n_cb, size_t miss_n,
                              size_t miss_pos)
{
    size_t *map = malloc((n_cb ? n_cb : 1) * sizeof *map);
    if (!map)
        return TL_ENOMEM;
    size_t nb = 0;
    /* Bins in the order of their first level, which is sorted. */
    for (size_t l = 0; l < v->n_levels; l++)
        map[v->level_bin[l]] = SIZE_MAX;
    for (size_t l = 0; l < v->n_levels; l++)
        if (map[v->level_bin[l]] == SIZE_MAX)
            map[v->level_bin[l]] = nb++;
    v->n_bins = nb + 2;
    v->bins = tl_arena_calloc(a, v->n_bins, sizeof *v->bins);
    if (!v->bins) {
        free(map);
        return TL_ENOMEM;
    }
    for (size_t c = 0; c < n_cb; c++)
        if (cb && cb[c].alive) {
            v->bins[map[c]].n = cb[c].n;
            v->bins[map[c]].n_pos = cb[c].n_pos;
        }
    for (size_t l = 0; l < v->n_levels; l++)
        v->level_bin[l] = map[v->level_bin[l]];
    free(map);
    char buf[LABEL_MAX];
    for (size_t b = 0; b < nb; b++) {
        v->bins[b].lo = v->bins[b].hi = NAN;
        if (label_levels(a, v, b, buf) < 0)
            return TL_ENOMEM;
    }
    v->missing_bin = nb;
    v->unseen_bin = nb + 1;
    v->bins[nb] = (struct tl_woe_bin){.lo = NAN, .hi = NAN, .label = "missing", .missing = true,
                                      .n = miss_n, .n_pos = miss_pos};
    v->bins[nb + 1] = (struct tl_woe_bin){.lo = NAN, .hi = NAN, .label = "unseen"};
    return 0;
}

static int fit_categorical(tl_woe *w, struct woe_var *v, const tl_frame *f, size_t col, const uint8_t *y,
                           const struct tl_woe_opts *o, size_t P, size_t N, tl_err *err)
{
    struct sy *a = malloc((f->n_rows ? f->n_rows : 1) * sizeof *a);
    struct cbin *cb = NULL;
    if (!a)
        return tl_err_set(err, TL_ENOMEM, "woe: out of memory");
    size_t n = 0, miss_n = 0, miss_pos = 0;
    int rc = 0;
    for (size_t r = 0; r < f->n_rows; r++) {
        const char *s = f->cells[r * f->n_cols + col];
        if (tl__ml_missing(s)) {
            miss_n++;
            miss_pos += y[r];
            continue;
        }
        const char *k = level_key(v, s);
        if (!k) {
            char q[TL__QUOTE_SIZE];
            rc = tl_err_set(err, TL_EINVAL, "woe: data row %zu, column \"%s\": \"%s\" is not a boolean value",
                            r + 1, v->name, tl__quote(q, sizeof q, s, strlen(s)));
            goto done;
        }
        a[n++] = (struct sy){k, y[r]};
    }
    qsort(a, n, sizeof *a, cmp_sy);
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(a[i].s, a[i - 1].s) != 0)
            nl++;
    v->n_levels = nl;
    v->levels = tl_arena_calloc(w->arena, nl ? nl : 1, sizeof *v->levels);
    v->level_bin = tl_arena_calloc(w->arena, nl ? nl : 1, sizeof *v->level_bin);
    cb = calloc(nl ? nl : 1, sizeof *cb);
    if (!v->levels || !v->level_bin || !cb) {
        rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
        goto done;
    }
    size_t l = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(a[i].s, a[i - 1].s) != 0) {
            l++;
            if (!(v->levels[l] = tl_arena_strndup(w->arena, a[i].s, strlen(a[i].s)))) {
                rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
                goto done;
            }
            v->level_bin[l] = l;
            cb[l].alive = true;
        }
        cb[l].n++;
        cb[l].n_pos += a[i].y;
    }
    for (size_t b = 0; b < nl; b++)
        cb[b].woe = woe_of(cb[b].n, cb[b].n_pos, P, N);
    /* The smallest bin under the floor joins the bin of nearest WoE. */
    double min_n = o->min_bin_frac * (double)f->n_rows;
    size_t alive = nl;
    while (alive > 1) {
        size_t s = SIZE_MAX;
        for (size_t b = 0; b < nl; b++)
            if (cb[b].alive && (double)cb[b].n < min_n && (s == SIZE_MAX || cb[b].n < cb[s].n))
                s = b;
        if (s == SIZE_MAX)
            break;
        size_t t = SIZE_MAX;
        for (size_t b = 0; b < nl; b++)
            if (b != s && cb[b].alive &&
                (t == SIZE_MAX || fabs(cb[b].woe - cb[s].woe) < fabs(cb[t].woe - cb[s].woe)))
                t = b;
        cb[t].n += cb[s].n;
        cb[t].n_pos += cb[s].n_pos;
        cb[t].woe = woe_of(cb[t].n, cb[t].n_pos, P, N);
        cb[s].alive = false;
        alive--;
        for (size_t k = 0; k < nl; k++)
            if (v->level_bin[k] == s)
                v->level_bin[k] = t;
    }
    if (finish_categorical(w->arena, v, cb, nl, miss_n, miss_pos) < 0)
        rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
done:
    free(a);
    free(cb);
    return rc;
}

/* ---- fitting ---------------------------------------------------------------------*/
static void finish_var(struct woe_var *v, size_t P, size_t N)
{
    v->iv = 0;
    for (size_t b = 0; b < v->n_bins; b++) {
        struct tl_woe_bin *bin = &v->bins[b];
        bin->woe = woe_of(bin->n, bin->n_pos, P, N);
        v->iv += bin->n ? iv_term(bin->n, bin->n_pos, bin->woe, P, N) : 0;
    }
}

int tl_woe_fit(const tl_encoder *e, const tl_frame *f, const uint8_t *y, const struct tl_woe_opts *opts,
               tl_woe **out, tl_err *err)
{
    if (!e || !f || !y || !out)
        return tl_err_set(err, TL_EINVAL, "tl_woe_fit: encoder, frame, y and out are required");
    struct tl_woe_opts o = opts ? *opts : TL_WOE_OPTS_DEFAULT;
    if (o.max_bins < 2 || o.max_bins > MAX_BINS_HARD)
        return tl_err_set(err, TL_EINVAL, "woe: max_bins %zu is outside 2..%u", o.max_bins, MAX_BINS_HARD);
    if (!(o.min_bin_frac >= 0 && o.min_bin_frac < 0.5))
        return tl_err_set(err, TL_EINVAL, "woe: min_bin_frac %g is outside [0, 0.5)", o.min_bin_frac);
    size_t P = 0;
    for (size_t r = 0; r < f->n_rows; r++) {
        if (y[r] > 1)
            return tl_err_set(err, TL_EINVAL, "woe: label of data row %zu is %u, not 0 or 1", r + 1, y[r]);
        P += y[r];
    }
    size_t N = f->n_rows - P;
    if (P == 0 || N == 0)
        return tl_err_set(err, TL_EINVAL, "woe: the label has one class only (%zu positive of %zu rows)", P,
                          f->n_rows);
    tl_woe *w = woe_alloc(e->n_inputs);
    if (!w)
        return tl_err_set(err, TL_ENOMEM, "woe: out of memory");
    int rc = 0;
    for (size_t i = 0; i < e->n_inputs; i++) {
        const struct tl__enc_input *in = &e->inputs[i];
        struct woe_var *v = &w->vars[i];
        int c = tl_frame_col(f, in->name);
        if (c < 0) {
            rc = tl_err_set(err, TL_EINVAL, "woe: the data has no column \"%s\", an input of the encoder",
                            in->name);
            break;
        }
        v->name = tl_arena_strndup(w->arena, in->name, strlen(in->name));
        if (!v->name) {
            rc = tl_err_set(err, TL_ENOMEM, "woe: out of memory");
            break;
        }
        v->kind = in->kind;
        v->bool_pair = in->bool_pair;
        if (in->kind == TL_FEAT_NUMERIC || in->kind == TL_FEAT_DATE)
            rc = fit_numeric(w, v, f, (size_t)c, y, &o, P, N, err);
        else
            rc = fit_categorical(w, v, f, (size_t)c, y, &o, P, N, err);
        if (rc < 0)
            break;
        finish_var(v, P, N);
        w->n_vars++;
    }
    if (rc < 0) {
        tl_woe_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* ---- reading -------------------------------------------------------------------*/
size_t tl_woe_n_vars(const tl_woe *w)
{
    return w ? w->n_vars : 0;
}

const char *tl_woe_var_name(const tl_woe *w, size_t v)
{
    return w && v < w->n_vars ? w->vars[v].name : NULL;
}

double tl_woe_var_iv(const tl_woe *w, size_t v)
{
    return w && v < w->n_vars ? w->vars[v].iv : NAN;
}

size_t tl_woe_var_n_bins(const tl_woe *w, size_t v)
{
    return w && v < w->n_vars ? w->vars[v].n_bins : 0;
}

const struct tl_woe_bin *tl_woe_var_bin(const tl_woe *w, size_t v, size_t b)
{
    if (!w || v >= w->n_vars || b >= w->vars[v].n_bins)
        return NULL;
    return &w->vars[v].bins[b];
}

int tl_woe_row(const tl_woe *w, const char *const *cells, size_t *bin, double *woe, tl_err *err)
{
    if (!w || !cells)
        return tl_err_set(err, TL_EINVAL, "tl_woe_row: woe and cells are required");
    for (size_t i = 0; i < w->n_vars; i++) {
        const struct woe_var *v = &w->vars[i];
        const char *s = cells[i];
        size_t b;
        if (tl__ml_missing(s)) {
            b = v->missing_bin;
        } else if (v->kind == TL_FEAT_NUMERIC || v->kind == TL_FEAT_DATE) {
            double d;
            bool ok = v->kind == TL_FEAT_DATE ? tl__ml_parse_date(s, &d) : tl__ml_parse_num(s, &d);
            if (!ok) {
                char q[TL__QUOTE_SIZE];
                return tl_err_set(err, TL_EINVAL, "column \"%s\": \"%s\" is not a %s value", v->name,
                                  tl__quote(q, sizeof q, s, strlen(s)), tl_feat_kind_name(v->kind));
            }
            /* bin = number of cuts below d, since bins are (lo, hi] */
            size_t lo = 0, hi = v->n_cuts;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (v->cuts[mid] < d)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            b = lo;
        } else {
            const char *k = level_key(v, s);
            if (!k) {
                char q[TL__QUOTE_SIZE];
                return tl_err_set(err, TL_EINVAL, "column \"%s\": \"%s\" is not a boolean value", v->name,
                                  tl__quote(q, sizeof q, s, strlen(s)));
            }
            long l = tl__ml_level_find(v->levels, v->n_levels, k);
            b = l >= 0 ? v->level_bin[l] : v->unseen_bin;
        }
        if (bin)
            bin[i] = b;
        if (woe)
            woe[i] = v->bins[b].woe;
    }
    return 0;
}

/* ---- JSON --------------------------------------------------------------------------*/
json_t *tl_woe_to_json(const tl_woe *w)
{
    if (!w)
        return NULL;
    json_t *vars = json_array();
    json_t *j = json_pack("{s:i, s:o}", "version", WOE_FORMAT_VERSION, "vars", vars);
    if (!j)
        return NULL;
    for (size_t i = 0; i < w->n_vars; i++) {
        const struct woe_var *v = &w->vars[i];
        json_t *bins = json_array();
        json_t *o = json_pack("{s:s, s:s, s:f, s:o}", "name", v->name, "kind", tl_feat_kind_name(v->kind),
                              "iv", v->iv, "bins", bins);
        if (!o || json_array_append_new(vars, o) < 0)
            goto fail;
        bool numeric = v->kind == TL_FEAT_NUMERIC || v->kind == TL_FEAT_DATE;
        if (numeric) {
            json_t *cuts = json_array();
            if (json_object_set_new(o, "cuts", cuts) < 0)
                goto fail;
            for (size_t c = 0; c < v->n_cuts; c++)
                if (json_array_append_new(cuts, json_real(v->cuts[c])) < 0)
                    goto fail;
        }
        if (v->kind == TL_FEAT_BOOLEAN &&
            json_object_set_new(o, "values", json_pack("[s,s]", tl__bool_pairs[v->bool_pair][0],
                                                       tl__bool_pairs[v->bool_pair][1])) < 0)
            goto fail;
        for (size_t b = 0; b < v->n_bins; b++) {
            const struct tl_woe_bin *bin = &v->bins[b];
            json_t *jb = json_pack("{s:s, s:b, s:b, s:I, s:I, s:f}", "label", bin->label, "missing",
                                   bin->missing, "unseen", b == v->unseen_bin, "n", (json_int_t)bin->n,
                                   "n_pos", (json_int_t)bin->n_pos, "woe", bin->woe);
            if (!jb || json_array_append_new(bins, jb) < 0)
                goto fail;
            if (numeric || bin->missing || b == v->unseen_bin)
                continue;
            json_t *lv = json_array();
            if (json_object_set_new(jb, "levels", lv) < 0)
                goto fail;
            for (size_t l = 0; l < v->n_levels; l++)
                if (v->level_bin[l] == b && json_array_append_new(lv, json_string(v->levels[l])) < 0)
                    goto fail;
        }
    }
    return j;
fail:
    json_decref(j);
    return NULL;
}

struct lvl {
    const char *s;
    size_t bin;
};

static int cmp_lvl(const void *a, const void *b)
{
    return strcmp(((const struct lvl *)a)->s, ((const struct lvl *)b)->s);
}

static int load_bin(const json_t *jb, struct tl_woe_bin *bin, bool *unseen, const char *where, size_t b,
                    tl_arena *a, tl_err *err)
{
    json_t *label = json_object_get(jb, "label"), *miss = json_object_get(jb, "missing"),
           *uns = json_object_get(jb, "unseen"), *n = json_object_get(jb, "n"),
           *np = json_object_get(jb, "n_pos"), *woe = json_object_get(jb, "woe");
    if (!json_is_string(label) || !json_is_boolean(miss) || !json_is_boolean(uns) || !json_is_integer(n) ||
        !json_is_integer(np) || !json_is_number(woe))
        return tl_err_set(err, TL_EINVAL,
                          "woe JSON: %s: bin %zu needs label, missing, unseen, n, n_pos and woe", where, b);
    json_int_t nn = json_integer_value(n), npp = json_integer_value(np);
    if (nn < 0 || npp < 0 || npp > nn || !isfinite(json_number_value(woe)))
        return tl_err_set(err, TL_EINVAL, "woe JSON: %s: bin %zu has bad counts or WoE", where, b);
    bin->label = tl_arena_strndup(a, json_string_value(label), json_string_length(label));
    if (!bin->label)
        return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
    bin->missing = json_is_true(miss);
    *unseen = json_is_true(uns);
    bin->n = (size_t)nn;
    bin->n_pos = (size_t)npp;
    bin->woe = json_number_value(woe);
    bin->lo = bin->hi = NAN;
    return 0;
}

static int load_var(tl_woe *w, struct woe_var *v, const json_t *o, size_t i, tl_err *err)
{
    char where[64];
    snprintf(where, sizeof where, "vars[%zu]", i);
    json_t *name = json_object_get(o, "name"), *kind = json_object_get(o, "kind"),
           *iv = json_object_get(o, "iv"), *bins = json_object_get(o, "bins");
    if (!json_is_string(name) || json_string_length(name) == 0 || !json_is_string(kind) ||
        !json_is_number(iv) || !isfinite(json_number_value(iv)) || !json_is_array(bins))
        return tl_err_set(err, TL_EINVAL, "woe JSON: %s needs a name, kind, finite iv and bins", where);
    if (!(v->name = tl_arena_strndup(w->arena, json_string_value(name), json_string_length(name))))
        return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
    snprintf(where, sizeof where, "variable \"%.40s\"", v->name);
    const char *ks = json_string_value(kind);
    int k = -1;
    for (int c = 0; c < 4; c++)
        if (strcmp(ks, tl_feat_kind_name((enum tl_feat_kind)c)) == 0)
            k = c;
    if (k < 0)
        return tl_err_set(err, TL_EINVAL, "woe JSON: %s: unknown kind", where);
    v->kind = (enum tl_feat_kind)k;
    v->iv = json_number_value(iv);
    size_t nb = json_array_size(bins);
    if (nb < 2 || nb > MAX_LEVELS_WOE)
        return tl_err_set(err, TL_EINVAL, "woe JSON: %s: %zu bins", where, nb);
    v->n_bins = nb;
    v->bins = tl_arena_calloc(w->arena, nb, sizeof *v->bins);
    if (!v->bins)
        return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
    int rc;
    bool numeric = v->kind == TL_FEAT_NUMERIC || v->kind == TL_FEAT_DATE;
    size_t n_missing = 0, n_unseen = 0;
    v->missing_bin = v->unseen_bin = SIZE_MAX;
    for (size_t b = 0; b < nb; b++) {
        bool unseen = false;
        if ((rc = load_bin(json_array_get(bins, b), &v->bins[b], &unseen, where, b, w->arena, err)) < 0)
            return rc;
        if (v->bins[b].missing) {
            n_missing++;
            v->missing_bin = b;
        }
        if (unseen) {
            n_unseen++;
            v->unseen_bin = b;
        }
    }
    if (numeric) {
        json_t *cuts = json_object_get(o, "cuts");
        if (!json_is_array(cuts) || json_array_size(cuts) + 2 != nb || n_missing != 1 || n_unseen != 0 ||
            v->missing_bin != nb - 1)
            return tl_err_set(err, TL_EINVAL,
                              "woe JSON: %s: needs cuts, one bin more than cuts, and a missing bin last",
                              where);
        v->n_cuts = nb - 2;
        v->cuts = tl_arena_calloc(w->arena, nb, sizeof *v->cuts);
        if (!v->cuts)
            return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
        for (size_t c = 0; c < v->n_cuts; c++) {
            json_t *x = json_array_get(cuts, c);
            v->cuts[c] = json_number_value(x);
            if (!json_is_number(x) || !isfinite(v->cuts[c]) || (c && v->cuts[c] <= v->cuts[c - 1]))
                return tl_err_set(err, TL_EINVAL, "woe JSON: %s: cuts must be finite and increasing (at %zu)",
                                  where, c);
        }
        if (label_numeric(w->arena, v) < 0)
            return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
        return 0;
    }
    if (v->kind == TL_FEAT_BOOLEAN) {
        json_t *vals = json_object_get(o, "values");
        v->bool_pair = -1;
        for (int p = 0; p < TL__BOOL_PAIRS && json_array_size(vals) == 2; p++) {
            const char *f0 = json_string_value(json_array_get(vals, 0));
            const char *t1 = json_string_value(json_array_get(vals, 1));
            if (f0 && t1 && strcmp(f0, tl__bool_pairs[p][0]) == 0 && strcmp(t1, tl__bool_pairs[p][1]) == 0)
                v->bool_pair = p;
        }
        if (v->bool_pair < 0)
            return tl_err_set(err, TL_EINVAL, "woe JSON: %s: \"values\" is not a boolean pair", where);
    }
    if (n_missing != 1 || n_unseen != 1 || v->missing_bin == v->unseen_bin)
        return tl_err_set(err, TL_EINVAL, "woe JSON: %s: needs exactly one missing and one unseen bin",
                          where);
    size_t nl = 0;
    for (size_t b = 0; b < nb; b++) {
        json_t *lv = json_object_get(json_array_get(bins, b), "levels");
        if (b == v->missing_bin || b == v->unseen_bin)
            continue;
        if (!json_is_array(lv) || json_array_size(lv) == 0)
            return tl_err_set(err, TL_EINVAL, "woe JSON: %s: bin %zu has no levels", where, b);
        nl += json_array_size(lv);
        if (nl > MAX_LEVELS_WOE)
            return tl_err_set(err, TL_EINVAL, "woe JSON: %s: too many levels", where);
    }
    struct lvl *tmp = malloc((nl ? nl : 1) * sizeof *tmp);
    if (!tmp)
        return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
    size_t k2 = 0;
    for (size_t b = 0; b < nb; b++) {
        json_t *lv = json_object_get(json_array_get(bins, b), "levels");
        if (b == v->missing_bin || b == v->unseen_bin)
            continue;
        for (size_t l = 0; l < json_array_size(lv); l++) {
            json_t *s = json_array_get(lv, l);
            if (!json_is_string(s) || memchr(json_string_value(s), '\0', json_string_length(s))) {
                free(tmp);
                return tl_err_set(err, TL_EINVAL, "woe JSON: %s: bin %zu: level %zu is not a string", where,
                                  b, l);
            }
            tmp[k2++] = (struct lvl){json_string_value(s), b};
        }
    }
    qsort(tmp, nl, sizeof *tmp, cmp_lvl);
    v->n_levels = nl;
    v->levels = tl_arena_calloc(w->arena, nl ? nl : 1, sizeof *v->levels);
    v->level_bin = tl_arena_calloc(w->arena, nl ? nl : 1, sizeof *v->level_bin);
    rc = !v->levels || !v->level_bin ? tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory") : 0;
    for (size_t l = 0; rc == 0 && l < nl; l++) {
        if (l && strcmp(tmp[l - 1].s, tmp[l].s) == 0) {
            char q[TL__QUOTE_SIZE];
            rc = tl_err_set(err, TL_EINVAL, "woe JSON: %s: level \"%s\" is in two bins", where,
                            tl__quote(q, sizeof q, tmp[l].s, strlen(tmp[l].s)));
            break;
        }
        v->levels[l] = tl_arena_strndup(w->arena, tmp[l].s, strlen(tmp[l].s));
        v->level_bin[l] = tmp[l].bin;
        if (!v->levels[l])
            rc = tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
    }
    free(tmp);
    return rc;
}

int tl_woe_from_json(const json_t *j, tl_woe **out, tl_err *err)
{
    if (!j || !out)
        return tl_err_set(err, TL_EINVAL, "tl_woe_from_json: json and out are required");
    json_t *ver = json_object_get(j, "version"), *vars = json_object_get(j, "vars");
    if (!json_is_object(j) || !json_is_integer(ver) || json_integer_value(ver) != WOE_FORMAT_VERSION)
        return tl_err_set(err, TL_EINVAL, "woe JSON: \"version\" must be %d", WOE_FORMAT_VERSION);
    if (!json_is_array(vars) || json_array_size(vars) > TL_FRAME_MAX_COLS)
        return tl_err_set(err, TL_EINVAL, "woe JSON: \"vars\" must be an array of at most %u variables",
                          TL_FRAME_MAX_COLS);
    size_t nv = json_array_size(vars);
    tl_woe *w = woe_alloc(nv);
    if (!w)
        return tl_err_set(err, TL_ENOMEM, "woe JSON: out of memory");
    for (size_t i = 0; i < nv; i++) {
        json_t *o = json_array_get(vars, i);
        int rc = json_is_object(o) ? load_var(w, &w->vars[i], o, i, err)
                                   : tl_err_set(err, TL_EINVAL, "woe JSON: vars[%zu] is not an object", i);
        if (rc < 0) {
            tl_woe_free(w);
            return rc;
        }
        w->n_vars++;
    }
    *out = w;
    return 0;
}
