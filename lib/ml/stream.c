/*
 * stream.c - the streaming feature engine of ml_stream.h.
 *
 * Why this shape. The handbook's windows are (t - n days, t] in seconds, not
 * calendar days, so per-day buckets would be inexact at every window edge;
 * an exact answer needs the individual transactions in the window. Each card
 * and terminal therefore keeps a ring of its events sorted by (ts, arrival),
 * trimmed to its horizon (longest window, + label delay for terminals, +
 * max lateness), and for every window a pair of cursors [lo, hi) with the
 * running count, sum, sum of squares and fraud count of the events between
 * them. A transaction at or after its entity's newest time moves the cursors
 * forward only, so each event enters and leaves each window once: O(1)
 * amortized, and the features are read straight off the running sums. A
 * late transaction is inserted in place (the cursors shift with it) and its
 * own features are found by scanning its windows, which is rare and bounded
 * by the horizon.
 *
 * Every event carries its arrival number (seq) and the arrival number of its
 * label, so "the features of a transaction" is a function of what arrived
 * before it. That is what lets a duplicate get its first answer again (the
 * scan filters by seq) and what makes a replay equal the live run.
 *
 * Money is integer cents and the sums are exact integers (__int128 for the
 * squares); doubles appear only in the features written out.
 */
#include <teller/ml_stream.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define NO_SEQ UINT64_MAX
#define DAY_S 86400

/* One transaction in an entity's history. */
struct ev {
    int64_t ts;
    int64_t cents;
    uint64_t seq;       /* arrival number of the transaction */
    uint64_t label_seq; /* arrival number of its label, NO_SEQ when none */
    int8_t label;       /* -1 unknown, 0, 1 */
};

/* The events with ts in (A - right - w, A - right], A the entity's newest ts,
 * are the absolute ring positions [lo, hi). */
struct win {
    uint64_t lo, hi;
    int64_t n, cents, n_fraud;
    __int128 sq; /* sum of cents squared */
};

struct entity {
    char *id;
    struct ev *ev;        /* ring of cap (a power of two) events */
    size_t cap;
    uint64_t head, tail;  /* absolute positions: events [head, tail) */
    int64_t newest;       /* A: the newest ts taken (valid when tail > 0) */
    struct win win[TL_STREAM_MAX_WINDOWS];
};

/* Entities by id: open addressing, linear probing, never deleted. */
struct etab {
    struct entity *v;
    size_t n, cap;
    uint32_t *slots; /* index + 1, 0 empty */
    size_t n_slots;  /* power of two */
};

/* A remembered transaction, for duplicates and late labels. */
struct txrec {
    char id[TL_STREAM_MAX_ID + 1];
    uint64_t hash;
    uint32_t cust, term;
    int64_t ts, cents;
    uint64_t seq;
};

struct tl_stream {
    struct tl_stream_config cfg;
    int64_t cust_keep_s, term_keep_s, rec_keep_s;
    size_t n_features;
    char names[TL_STREAM_MAX_FEATURES][48];

    uint64_t clock;  /* arrival numbers of transactions and labels */
    int64_t newest;  /* newest ts taken by the whole stream */
    bool any;

    struct etab cust, term;

    /* transactions: ring indexed by their number among new transactions */
    struct txrec *rec;
    size_t rec_cap;               /* power of two */
    uint64_t rec_head, rec_tail;
    uint64_t *rec_slots;          /* record number + 1, 0 empty */
    size_t rec_n_slots;

    /* (card, terminal) -> the earliest (ts, seq) seen: first-seen terminal */
    uint64_t *pair_keys; /* ((cust << 32) | term) + 1, 0 empty */
    int64_t *pair_ts;
    uint64_t *pair_seq;
    size_t pair_n, pair_n_slots;

    struct tl_stream_stats stats;
};

/* ---- configuration ------------------------------------------------------ */

void tl_stream_config_default(struct tl_stream_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_windows = 3;
    cfg->window_s[0] = 1 * DAY_S;
    cfg->window_s[1] = 7 * DAY_S;
    cfg->window_s[2] = 30 * DAY_S;
    cfg->label_delay_s = 7 * DAY_S;
    cfg->max_lateness_s = 1 * DAY_S;
    cfg->night_end_hour = 7;
    cfg->max_events_per_entity = 100000;
}

static void window_suffix(int64_t w, char *buf, size_t size)
{
    if (w % DAY_S == 0)
        snprintf(buf, size, "%lldday", (long long)(w / DAY_S));
    else
        snprintf(buf, size, "%llds", (long long)w);
}

int tl_stream_new(const struct tl_stream_config *cfg, tl_stream **out, tl_err *err)
{
    if (cfg->n_windows < 1 || cfg->n_windows > TL_STREAM_MAX_WINDOWS)
        return tl_err_set(err, TL_EINVAL, "stream config: n_windows is %d, not 1..%d", cfg->n_windows,
                          TL_STREAM_MAX_WINDOWS);
    for (int k = 0; k < cfg->n_windows; k++) {
        if (cfg->window_s[k] <= 0 || cfg->window_s[k] > 3660LL * DAY_S)
            return tl_err_set(err, TL_EINVAL, "stream config: window_s[%d] is %lld, not 1..%lld", k,
                              (long long)cfg->window_s[k], 3660LL * DAY_S);
        if (k > 0 && cfg->window_s[k] <= cfg->window_s[k - 1])
            return tl_err_set(err, TL_EINVAL,
                              "stream config: window_s[%d] = %lld is not longer than window_s[%d]", k,
                              (long long)cfg->window_s[k], k - 1);
    }
    if (cfg->label_delay_s < 0 || cfg->label_delay_s > 366LL * DAY_S)
        return tl_err_set(err, TL_EINVAL, "stream config: label_delay_s is %lld, not 0..%lld",
                          (long long)cfg->label_delay_s, 366LL * DAY_S);
    if (cfg->max_lateness_s < 0 || cfg->max_lateness_s > 366LL * DAY_S)
        return tl_err_set(err, TL_EINVAL, "stream config: max_lateness_s is %lld, not 0..%lld",
                          (long long)cfg->max_lateness_s, 366LL * DAY_S);
    if (cfg->night_end_hour < 0 || cfg->night_end_hour > 24)
        return tl_err_set(err, TL_EINVAL, "stream config: night_end_hour is %d, not 0..24",
                          cfg->night_end_hour);
    if (cfg->max_events_per_entity < 2)
        return tl_err_set(err, TL_EINVAL, "stream config: max_events_per_entity is %zu, below 2",
                          cfg->max_events_per_entity);
    tl_stream *s = calloc(1, sizeof *s);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "stream: out of memory");
    s->cfg = *cfg;
    int64_t wmax = cfg->window_s[cfg->n_windows - 1];
    s->cust_keep_s = wmax + cfg->max_lateness_s;
    s->term_keep_s = wmax + cfg->label_delay_s + cfg->max_lateness_s;
    s->rec_keep_s = s->term_keep_s;
    size_t f = 0;
    snprintf(s->names[f++], sizeof s->names[0], "tx_amount");
    snprintf(s->names[f++], sizeof s->names[0], "tx_during_weekend");
    snprintf(s->names[f++], sizeof s->names[0], "tx_during_night");
    char suf[24];
    for (int k = 0; k < cfg->n_windows; k++) {
        window_suffix(cfg->window_s[k], suf, sizeof suf);
        snprintf(s->names[f++], sizeof s->names[0], "customer_nb_tx_%s", suf);
        snprintf(s->names[f++], sizeof s->names[0], "customer_avg_amount_%s", suf);
    }
    for (int k = 0; k < cfg->n_windows; k++) {
        window_suffix(cfg->window_s[k], suf, sizeof suf);
        snprintf(s->names[f++], sizeof s->names[0], "terminal_nb_tx_%s", suf);
        snprintf(s->names[f++], sizeof s->names[0], "terminal_risk_%s", suf);
    }
    snprintf(s->names[f++], sizeof s->names[0], "customer_secs_since_prev");
    snprintf(s->names[f++], sizeof s->names[0], "customer_amount_z");
    snprintf(s->names[f++], sizeof s->names[0], "customer_terminal_new");
    s->n_features = f;
    *out = s;
    return 0;
}

static void etab_free(struct etab *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].ev);
    }
    free(t->v);
    free(t->slots);
}

void tl_stream_free(tl_stream *s)
{
    if (!s)
        return;
    etab_free(&s->cust);
    etab_free(&s->term);
    free(s->rec);
    free(s->rec_slots);
    free(s->pair_keys);
    free(s->pair_ts);
    free(s->pair_seq);
    free(s);
}

size_t tl_stream_n_features(const tl_stream *s)
{
    return s->n_features;
}

const char *tl_stream_feature_name(const tl_stream *s, size_t i)
{
    return i < s->n_features ? s->names[i] : NULL;
}

void tl_stream_get_stats(const tl_stream *s, struct tl_stream_stats *out)
{
    *out = s->stats;
    out->n_customers = s->cust.n;
    out->n_terminals = s->term.n;
    out->n_tx_remembered = (size_t)(s->rec_tail - s->rec_head);
}

/* ---- entity tables ------------------------------------------------------ */

static int etab_rehash(struct etab *t, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return TL_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = tl__hash_bytes(t->v[i].id, strlen(t->v[i].id)) & (n_slots - 1);
        while (slots[j])
            j = (j + 1) & (n_slots - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 0;
}

/* The index of entity `id`, created empty when new; -1 when out of memory. */
static long etab_get(struct etab *t, const char *id, size_t len)
{
    if ((t->n + 1) * 2 > t->n_slots && etab_rehash(t, t->n_slots ? t->n_slots * 2 : 1024) < 0)
        return -1;
    size_t j = tl__hash_bytes(id, len) & (t->n_slots - 1);
    while (t->slots[j]) {
        struct entity *e = &t->v[t->slots[j] - 1];
        if (strncmp(e->id, id, len) == 0 && e->id[len] == '\0')
            return (long)t->slots[j] - 1;
        j = (j + 1) & (t->n_slots - 1);
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct entity *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    struct entity *e = &t->v[t->n];
    memset(e, 0, sizeof *e);
    e->id = malloc(len + 1);
    if (!e->id)
        return -1;
    memcpy(e->id, id, len);
    e->id[len] = '\0';
    t->slots[j] = (uint32_t)++t->n;
    return (long)t->n - 1;
}

/* ---- entity event rings ------------------------------------------------- */

#define EV(e, i) ((e)->ev[(i) & ((e)->cap - 1)])

static int ring_reserve(struct entity *e)
{
    if (e->tail - e->head < e->cap)
        return 0;
    size_t cap = e->cap ? e->cap * 2 : 8;
    struct ev *v = malloc(cap * sizeof *v);
    if (!v)
        return TL_ENOMEM;
    for (uint64_t i = e->head; i < e->tail; i++)
        v[i & (cap - 1)] = EV(e, i);
    free(e->ev);
    e->ev = v;
    e->cap = cap;
    return 0;
}

static inline void win_add(struct win *w, const struct ev *v)
{
    w->n++;
    w->cents += v->cents;
    w->sq += (__int128)v->cents * v->cents;
    w->n_fraud += v->label == 1;
}

static inline void win_sub(struct win *w, const struct ev *v)
{
    w->n--;
    w->cents -= v->cents;
    w->sq -= (__int128)v->cents * v->cents;
    w->n_fraud -= v->label == 1;
}

/* Moves the cursors of every window to the entity's newest time. */
static void advance(const tl_stream *s, struct entity *e, int64_t right)
{
    for (int k = 0; k < s->cfg.n_windows; k++) {
        struct win *w = &e->win[k];
        int64_t end = e->newest - right, start = end - s->cfg.window_s[k];
        while (w->hi < e->tail && EV(e, w->hi).ts <= end) {
            win_add(w, &EV(e, w->hi));
            w->hi++;
        }
        while (w->lo < w->hi && EV(e, w->lo).ts <= start) {
            win_sub(w, &EV(e, w->lo));
            w->lo++;
        }
    }
}

/* Drops events past the horizon (they are before every window's lo), then
 * the oldest beyond the per-entity cap, taking them out of the windows. */
static void trim(tl_stream *s, struct entity *e, int64_t keep_s)
{
    while (e->head < e->tail && EV(e, e->head).ts <= e->newest - keep_s)
        e->head++;
    while (e->tail - e->head > s->cfg.max_events_per_entity) {
        for (int k = 0; k < s->cfg.n_windows; k++) {
            struct win *w = &e->win[k];
            if (w->lo == e->head) {
                if (w->hi > e->head)
                    win_sub(w, &EV(e, e->head));
                else
                    w->hi = e->head + 1;
                w->lo = e->head + 1;
            }
        }
        e->head++;
        s->stats.n_dropped++;
    }
}

/* First position in [head, tail) whose (ts, seq) is after (ts, seq). */
static uint64_t upper_bound(const struct entity *e, int64_t ts, uint64_t seq)
{
    uint64_t lo = e->head, hi = e->tail;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const struct ev *v = &EV(e, mid);
        if (v->ts < ts || (v->ts == ts && v->seq <= seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Takes event v into e (ring capacity reserved by the caller). Returns
 * true when it was in order (its features can be read off the windows). */
static bool entity_insert(tl_stream *s, struct entity *e, const struct ev *v, int64_t right,
                          int64_t keep_s)
{
    if (e->tail == 0 || v->ts >= e->newest) {
        EV(e, e->tail) = *v;
        e->tail++;
        e->newest = v->ts;
        advance(s, e, right);
        trim(s, e, keep_s);
        return true;
    }
    uint64_t p = upper_bound(e, v->ts, v->seq);
    for (uint64_t i = e->tail; i > p; i--)
        EV(e, i) = EV(e, i - 1);
    EV(e, p) = *v;
    e->tail++;
    for (int k = 0; k < s->cfg.n_windows; k++) {
        struct win *w = &e->win[k];
        int64_t end = e->newest - right, start = end - s->cfg.window_s[k];
        if (v->ts <= start) {
            w->lo++;
            w->hi++;
        } else if (v->ts <= end) {
            w->hi++;
            win_add(w, v);
        }
    }
    trim(s, e, keep_s);
    return false;
}

/* ---- features ----------------------------------------------------------- */

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* z of `own` against the other events of a window (n, sum and squares
 * including own): 0 with fewer than two others or no spread. */
static double amount_z(int64_t n, int64_t cents, __int128 sq, int64_t own)
{
    int64_t n0 = n - 1;
    if (n0 < 2)
        return 0.0;
    __int128 s0 = (__int128)cents - own;
    __int128 q0 = sq - (__int128)own * own;
    __int128 var_n2 = (__int128)n0 * q0 - s0 * s0; /* variance * n0^2, exact */
    if (var_n2 <= 0)
        return 0.0;
    double mean = (double)s0 / (double)n0;
    double sd = sqrt((double)var_n2) / (double)n0;
    return ((double)own - mean) / sd;
}

/* Window sums as of arrival q at time t, by scanning (late events and
 * duplicates): events with seq <= q and ts in (t - right - w, t - right];
 * fraud counts only labels that arrived by q. */
static void scan_window(const struct entity *e, int64_t t, uint64_t q, int64_t right, int64_t w_s,
                        struct win *out)
{
    memset(out, 0, sizeof *out);
    int64_t end = t - right, start = end - w_s;
    for (uint64_t i = upper_bound(e, start, NO_SEQ); i < e->tail; i++) {
        const struct ev *v = &EV(e, i);
        if (v->ts > end)
            break;
        if (v->seq > q)
            continue;
        out->n++;
        out->cents += v->cents;
        out->sq += (__int128)v->cents * v->cents;
        out->n_fraud += v->label == 1 && v->label_seq <= q;
    }
}

/* Seconds since the card's previous transaction (as of q, within the
 * longest window), -1 when none. */
static double scan_prev(const struct entity *e, int64_t t, uint64_t q, int64_t wmax)
{
    int64_t best = INT64_MIN;
    for (uint64_t i = upper_bound(e, t - wmax, NO_SEQ); i < e->tail; i++) {
        const struct ev *v = &EV(e, i);
        if (v->ts > t)
            break;
        if (v->seq < q && v->ts > best)
            best = v->ts;
    }
    return best == INT64_MIN ? -1.0 : (double)(t - best);
}

/* Writes the features of a transaction at t (arrival q, amount own) of
 * card c at terminal m. cust_live / term_live: read the running windows
 * (the transaction was in order for that entity) instead of scanning. */
static void features(const tl_stream *s, const struct entity *c, const struct entity *m, int64_t t,
                     uint64_t q, int64_t own, bool cust_live, bool term_live, bool terminal_new,
                     double *f)
{
    int nw = s->cfg.n_windows;
    size_t j = 0;
    f[j++] = (double)own / 100.0;
    int64_t days = floor_div(t, DAY_S);
    int64_t wd = ((days + 3) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
    f[j++] = wd >= 5 ? 1.0 : 0.0;
    f[j++] = (t - days * DAY_S) / 3600 < s->cfg.night_end_hour ? 1.0 : 0.0;
    struct win tmp;
    const struct win *w;
    for (int k = 0; k < nw; k++) {
        if (cust_live) {
            w = &c->win[k];
        } else {
            scan_window(c, t, q, 0, s->cfg.window_s[k], &tmp);
            w = &tmp;
        }
        f[j++] = (double)w->n;
        f[j++] = w->n ? (double)w->cents / 100.0 / (double)w->n : 0.0;
    }
    int64_t delay = s->cfg.label_delay_s;
    for (int k = 0; k < nw; k++) {
        if (term_live) {
            w = &m->win[k];
        } else {
            scan_window(m, t, q, delay, s->cfg.window_s[k], &tmp);
            w = &tmp;
        }
        f[j++] = (double)w->n;
        f[j++] = w->n ? (double)w->n_fraud / (double)w->n : 0.0;
    }
    int64_t wmax = s->cfg.window_s[nw - 1];
    if (cust_live) {
        w = &c->win[nw - 1];
        f[j++] = w->n >= 2 ? (double)(t - EV(c, c->tail - 2).ts) : -1.0;
    } else {
        scan_window(c, t, q, 0, wmax, &tmp);
        w = &tmp;
        f[j++] = scan_prev(c, t, q, wmax);
    }
    f[j++] = amount_z(w->n, w->cents, w->sq, own);
    f[j++] = terminal_new ? 1.0 : 0.0;
}

/* ---- transaction records ------------------------------------------------ */

#define REC(s, i) ((s)->rec[(i) & ((s)->rec_cap - 1)])

static int rec_rehash(tl_stream *s, size_t n_slots)
{
    uint64_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return TL_ENOMEM;
    for (uint64_t i = s->rec_head; i < s->rec_tail; i++) {
        size_t j = REC(s, i).hash & (n_slots - 1);
        while (slots[j])
            j = (j + 1) & (n_slots - 1);
        slots[j] = i + 1;
    }
    free(s->rec_slots);
    s->rec_slots = slots;
    s->rec_n_slots = n_slots;
    return 0;
}

/* The slot holding id, or the empty slot where it would go (*found false). */
static size_t rec_find(const tl_stream *s, const char *id, uint64_t h, bool *found)
{
    size_t j = h & (s->rec_n_slots - 1);
    while (s->rec_slots[j]) {
        const struct txrec *r = &REC(s, s->rec_slots[j] - 1);
        if (r->hash == h && strcmp(r->id, id) == 0) {
            *found = true;
            return j;
        }
        j = (j + 1) & (s->rec_n_slots - 1);
    }
    *found = false;
    return j;
}

/* Forgets the oldest record (backward-shift deletion keeps probes short
 * without tombstones). */
static void rec_pop(tl_stream *s)
{
    const struct txrec *r = &REC(s, s->rec_head);
    bool found;
    size_t i = rec_find(s, r->id, r->hash, &found);
    if (TL_ALWAYS(found)) {
        size_t mask = s->rec_n_slots - 1, j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!s->rec_slots[j])
                break;
            size_t k = REC(s, s->rec_slots[j] - 1).hash & mask;
            if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
                s->rec_slots[i] = s->rec_slots[j];
                i = j;
            }
        }
        s->rec_slots[i] = 0;
    }
    s->rec_head++;
}

static int rec_reserve(tl_stream *s)
{
    if (s->rec_n_slots == 0 || (s->rec_tail - s->rec_head + 1) * 2 > s->rec_n_slots) {
        if (rec_rehash(s, s->rec_n_slots ? s->rec_n_slots * 2 : 4096) < 0)
            return TL_ENOMEM;
    }
    if (s->rec_tail - s->rec_head < s->rec_cap)
        return 0;
    size_t cap = s->rec_cap ? s->rec_cap * 2 : 2048;
    struct txrec *v = malloc(cap * sizeof *v);
    if (!v)
        return TL_ENOMEM;
    for (uint64_t i = s->rec_head; i < s->rec_tail; i++)
        v[i & (cap - 1)] = REC(s, i);
    free(s->rec);
    s->rec = v;
    s->rec_cap = cap;
    return 0;
}

/* ---- (card, terminal) pairs --------------------------------------------- */

static int pair_reserve(tl_stream *s)
{
    if ((s->pair_n + 1) * 2 <= s->pair_n_slots)
        return 0;
    size_t n = s->pair_n_slots ? s->pair_n_slots * 2 : 4096;
    uint64_t *keys = calloc(n, sizeof *keys);
    int64_t *ts = malloc(n * sizeof *ts);
    uint64_t *seq = malloc(n * sizeof *seq);
    if (!keys || !ts || !seq) {
        free(keys);
        free(ts);
        free(seq);
        return TL_ENOMEM;
    }
    for (size_t i = 0; i < s->pair_n_slots; i++) {
        if (!s->pair_keys[i])
            continue;
        size_t j = tl__hash_bytes(&s->pair_keys[i], 8) & (n - 1);
        while (keys[j])
            j = (j + 1) & (n - 1);
        keys[j] = s->pair_keys[i];
        ts[j] = s->pair_ts[i];
        seq[j] = s->pair_seq[i];
    }
    free(s->pair_keys);
    free(s->pair_ts);
    free(s->pair_seq);
    s->pair_keys = keys;
    s->pair_ts = ts;
    s->pair_seq = seq;
    s->pair_n_slots = n;
    return 0;
}

static size_t pair_slot(const tl_stream *s, uint32_t c, uint32_t m)
{
    uint64_t key = (((uint64_t)c << 32) | m) + 1;
    size_t j = tl__hash_bytes(&key, 8) & (s->pair_n_slots - 1);
    while (s->pair_keys[j] && s->pair_keys[j] != key)
        j = (j + 1) & (s->pair_n_slots - 1);
    return j;
}

/* Whether card c had no transaction at terminal m before (t, q). */
static bool pair_is_new(const tl_stream *s, uint32_t c, uint32_t m, int64_t t, uint64_t q)
{
    size_t j = pair_slot(s, c, m);
    if (!s->pair_keys[j])
        return true;
    return !(s->pair_ts[j] < t || (s->pair_ts[j] == t && s->pair_seq[j] < q));
}

static void pair_note(tl_stream *s, uint32_t c, uint32_t m, int64_t t, uint64_t q)
{
    size_t j = pair_slot(s, c, m);
    if (!s->pair_keys[j]) {
        s->pair_keys[j] = (((uint64_t)c << 32) | m) + 1;
        s->pair_ts[j] = t;
        s->pair_seq[j] = q;
        s->pair_n++;
    } else if (t < s->pair_ts[j]) {
        s->pair_ts[j] = t;
        s->pair_seq[j] = q;
    }
}

/* ---- update and label --------------------------------------------------- */

static int check_id(const char *what, const char *id, size_t *len, tl_err *err)
{
    if (!id || !*id)
        return tl_err_set(err, TL_EINVAL, "stream: %s is empty", what);
    *len = strlen(id);
    if (*len > TL_STREAM_MAX_ID) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL, "stream: %s %s is %zu bytes, longer than %d", what,
                          tl__quote(q, sizeof q, id, *len), *len, TL_STREAM_MAX_ID);
    }
    return 0;
}

/* Applies label to the event of record r in its terminal's history. */
static void apply_label(tl_stream *s, const struct txrec *r, int label)
{
    struct entity *m = &s->term.v[r->term];
    uint64_t p = upper_bound(m, r->ts, r->seq);
    s->stats.n_labels++;
    if (p == m->head)
        return; /* already trimmed: no window holds it any more */
    struct ev *v = &EV(m, p - 1);
    if (v->seq != r->seq || v->ts != r->ts || v->label == label)
        return; /* the same label again changes nothing, not even when it arrived */
    int delta = (label == 1) - (v->label == 1);
    v->label = (int8_t)label;
    v->label_seq = s->clock++;
    for (int k = 0; k < s->cfg.n_windows; k++) {
        struct win *w = &m->win[k];
        if (p - 1 >= w->lo && p - 1 < w->hi)
            w->n_fraud += delta;
    }
}

int tl_stream_label(tl_stream *s, const char *tx_id, int label, tl_err *err)
{
    size_t len;
    int rc = check_id("transaction id", tx_id, &len, err);
    if (rc < 0)
        return rc;
    char q[TL__QUOTE_SIZE];
    if (label != 0 && label != 1)
        return tl_err_set(err, TL_EINVAL, "stream: label of transaction %s is %d, not 0 or 1",
                          tl__quote(q, sizeof q, tx_id, len), label);
    bool found = false;
    size_t j = 0;
    if (s->rec_n_slots)
        j = rec_find(s, tx_id, tl__hash_bytes(tx_id, len), &found);
    if (!found)
        return tl_err_set(err, TL_ENOTFOUND,
                          "stream: transaction %s is unknown or older than the state's horizon",
                          tl__quote(q, sizeof q, tx_id, len));
    apply_label(s, &REC(s, s->rec_slots[j] - 1), label);
    return 0;
}

/* A transaction id seen before: the same answer again, or a conflict. */
static int duplicate(tl_stream *s, const struct tl_stream_tx *tx, const struct txrec *r,
                     double *f, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    const struct entity *c = &s->cust.v[r->cust], *m = &s->term.v[r->term];
    if (r->ts != tx->ts_s || r->cents != tx->amount_cents || strcmp(c->id, tx->customer_id) != 0 ||
        strcmp(m->id, tx->terminal_id) != 0)
        return tl_err_set(err, TL_ECONSTRAINT,
                          "stream: transaction %s was taken before with another card, terminal, "
                          "time or amount",
                          tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)));
    /* its windows must still be whole in both histories */
    if (r->ts < c->newest - s->cfg.max_lateness_s || r->ts < m->newest - s->cfg.max_lateness_s)
        return tl_err_set(err, TL_EEXISTS,
                          "stream: transaction %s was taken before and is too old to answer again",
                          tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)));
    if (tx->label == 0 || tx->label == 1)
        apply_label(s, r, tx->label);
    features(s, c, m, r->ts, r->seq, r->cents, false, false,
             pair_is_new(s, r->cust, r->term, r->ts, r->seq), f);
    s->stats.n_duplicates++;
    return TL_STREAM_DUPLICATE;
}

int tl_stream_update(tl_stream *s, const struct tl_stream_tx *tx, double *f, tl_err *err)
{
    size_t id_len, c_len, m_len;
    int rc;
    if ((rc = check_id("transaction id", tx->tx_id, &id_len, err)) < 0 ||
        (rc = check_id("customer id", tx->customer_id, &c_len, err)) < 0 ||
        (rc = check_id("terminal id", tx->terminal_id, &m_len, err)) < 0)
        return rc;
    char q[TL__QUOTE_SIZE];
    if (tx->amount_cents < 0 || tx->amount_cents > (INT64_C(1) << 50))
        return tl_err_set(err, TL_EINVAL, "stream: transaction %s: amount_cents %lld is out of range",
                          tl__quote(q, sizeof q, tx->tx_id, id_len), (long long)tx->amount_cents);
    if (tx->label < -1 || tx->label > 1)
        return tl_err_set(err, TL_EINVAL, "stream: transaction %s: label %d is not -1, 0 or 1",
                          tl__quote(q, sizeof q, tx->tx_id, id_len), tx->label);
    uint64_t h = tl__hash_bytes(tx->tx_id, id_len);
    if (rec_reserve(s) < 0 || pair_reserve(s) < 0)
        return tl_err_set(err, TL_ENOMEM, "stream: out of memory");
    bool found;
    size_t slot = rec_find(s, tx->tx_id, h, &found);
    if (found)
        return duplicate(s, tx, &REC(s, s->rec_slots[slot] - 1), f, err);
    if (s->any && tx->ts_s < s->newest - s->cfg.max_lateness_s)
        return tl_err_set(err, TL_EINVAL,
                          "stream: transaction %s: ts %lld is more than max_lateness_s = %lld "
                          "behind the newest (%lld)",
                          tl__quote(q, sizeof q, tx->tx_id, id_len), (long long)tx->ts_s,
                          (long long)s->cfg.max_lateness_s, (long long)s->newest);
    long ci = etab_get(&s->cust, tx->customer_id, c_len);
    long mi = ci < 0 ? -1 : etab_get(&s->term, tx->terminal_id, m_len);
    if (mi < 0)
        return tl_err_set(err, TL_ENOMEM, "stream: out of memory");
    struct entity *c = &s->cust.v[ci], *m = &s->term.v[mi];
    if (ring_reserve(c) < 0 || ring_reserve(m) < 0)
        return tl_err_set(err, TL_ENOMEM, "stream: out of memory");

    /* from here on nothing fails */
    uint64_t seq = s->clock++;
    struct ev v = {tx->ts_s, tx->amount_cents, seq, NO_SEQ, (int8_t)tx->label};
    if (tx->label >= 0) {
        v.label_seq = seq;
        s->stats.n_labels++;
    }
    bool c_live = entity_insert(s, c, &v, 0, s->cust_keep_s);
    bool m_live = entity_insert(s, m, &v, s->cfg.label_delay_s, s->term_keep_s);
    if (!c_live || !m_live)
        s->stats.n_late++;
    bool is_new = pair_is_new(s, (uint32_t)ci, (uint32_t)mi, tx->ts_s, seq);
    pair_note(s, (uint32_t)ci, (uint32_t)mi, tx->ts_s, seq);
    features(s, c, m, tx->ts_s, seq, tx->amount_cents, c_live, m_live, is_new, f);

    struct txrec *r = &REC(s, s->rec_tail);
    memcpy(r->id, tx->tx_id, id_len + 1);
    r->hash = h;
    r->cust = (uint32_t)ci;
    r->term = (uint32_t)mi;
    r->ts = tx->ts_s;
    r->cents = tx->amount_cents;
    r->seq = seq;
    s->rec_slots[slot] = ++s->rec_tail;
    if (!s->any || tx->ts_s > s->newest)
        s->newest = tx->ts_s;
    s->any = true;
    while (s->rec_head < s->rec_tail && REC(s, s->rec_head).ts <= s->newest - s->rec_keep_s)
        rec_pop(s);
    s->stats.n_tx++;
    return 0;
}
