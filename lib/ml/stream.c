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
 *
 * Bounded memory without changing a feature: no transaction to come can be
 * older than newest - max_lateness_s, so an entity whose newest event is
 * past its horizon behind that can never be seen again and is freed (an
 * incremental sweep, two per table per update); a (card, terminal) pair is
 * a run of visits that ends after the longest window without one, and
 * stale runs are dropped when the pair table fills. Features therefore do
 * not depend on when the sweep ran, which is what lets a snapshot leave out
 * everything past its horizon and a restored engine continue bit for bit.
 */
#include <teller/ml_stream.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
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

/* A country or channel a card used: its current run of uses, as a pair's
 * below (customer_country_new, customer_channel_new). */
struct seen {
    char code[TL_STREAM_MAX_CHANNEL + 1];
    int64_t first_ts;  /* the run's first use (ts, seq) */
    uint64_t first_seq;
    int64_t last_ts;   /* its newest use */
};

enum { SEEN_COUNTRY, SEEN_CHANNEL, N_SEEN_KINDS };

struct entity {
    char *id;             /* NULL: a free slot (evicted), its index on the free list */
    /* cards only, allocated at the first country or channel: kind k's
     * entries are seen[k * TL_STREAM_SEEN_CAP ..][0 .. n_seen[k]) */
    struct seen *seen;
    uint8_t n_seen[N_SEEN_KINDS];
    uint64_t hash;        /* of id */
    struct ev *ev;        /* ring of cap (a power of two) events */
    size_t cap;
    uint64_t head, tail;  /* absolute positions: events [head, tail) */
    int64_t newest;       /* A: the newest ts taken (valid when tail > 0) */
    struct win win[TL_STREAM_MAX_WINDOWS];
};

/* Entities by id: open addressing, linear probing, backward-shift deletion.
 * An evicted entity's index goes on a free list and is given to the next
 * new entity. */
struct etab {
    struct entity *v;   /* v[0, len): live entities and free slots */
    size_t len, cap;
    size_t n;           /* live entities */
    uint32_t *free_ix;  /* free indices, a stack (capacity cap) */
    size_t n_free;
    uint32_t *slots;    /* index + 1, 0 empty */
    size_t n_slots;     /* power of two */
    size_t sweep;       /* the next index the eviction sweep looks at */
    uint64_t n_evicted;
};

/* A record's card or terminal that a snapshot did not keep (it was past
 * its horizon): no entity. */
#define NO_ENTITY UINT32_MAX

/* A remembered transaction, for duplicates and late labels. */
struct txrec {
    char id[TL_STREAM_MAX_ID + 1];
    uint64_t hash;
    uint32_t cust, term; /* entity indices, NO_ENTITY when gone */
    int64_t ts, cents;
    uint64_t seq;
    bool term_new;       /* its customer_terminal_new, for a duplicate's answer */
    bool country_new, channel_new; /* its customer_country_new, customer_channel_new */
};

/* A (card, terminal) pair's current run of visits: those with no gap of
 * the longest window or more between them. */
struct pair {
    uint64_t key;      /* ((cust << 32) | term) + 1, 0 empty */
    int64_t first_ts;  /* the run's first visit (ts, seq) */
    uint64_t first_seq;
    int64_t last_ts;   /* its newest visit */
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

    /* (card, terminal) -> its run of visits: customer_terminal_new */
    struct pair *pair;
    size_t pair_n, pair_n_slots;  /* entries (stale ones included), slots */
    uint64_t pair_n_forgotten;

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
    snprintf(s->names[f++], sizeof s->names[0], "customer_country_new");
    snprintf(s->names[f++], sizeof s->names[0], "customer_channel_new");
    s->n_features = f;
    *out = s;
    return 0;
}

static void etab_free(struct etab *t)
{
    for (size_t i = 0; i < t->len; i++) {
        free(t->v[i].id);
        free(t->v[i].ev);
        free(t->v[i].seen);
    }
    free(t->v);
    free(t->free_ix);
    free(t->slots);
}

void tl_stream_get_config(const tl_stream *s, struct tl_stream_config *out)
{
    *out = s->cfg;
}

void tl_stream_free(tl_stream *s)
{
    if (!s)
        return;
    etab_free(&s->cust);
    etab_free(&s->term);
    free(s->rec);
    free(s->rec_slots);
    free(s->pair);
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
    out->n_pairs = s->pair_n;
    out->n_customers_evicted = s->cust.n_evicted;
    out->n_terminals_evicted = s->term.n_evicted;
    out->n_pairs_forgotten = s->pair_n_forgotten;
    size_t bytes = sizeof *s + s->rec_cap * sizeof *s->rec + s->rec_n_slots * sizeof *s->rec_slots +
                   s->pair_n_slots * sizeof *s->pair;
    const struct etab *tabs[2] = {&s->cust, &s->term};
    for (int k = 0; k < 2; k++) {
        const struct etab *t = tabs[k];
        bytes += t->cap * (sizeof *t->v + sizeof *t->free_ix) + t->n_slots * sizeof *t->slots;
        for (size_t i = 0; i < t->len; i++)
            if (t->v[i].id)
                bytes += t->v[i].cap * sizeof(struct ev) + strlen(t->v[i].id) + 1 +
                         (t->v[i].seen ? N_SEEN_KINDS * TL_STREAM_SEEN_CAP * sizeof(struct seen) : 0);
    }
    out->state_bytes = bytes;
}

void tl_stream_watermark(const tl_stream *s, struct tl_stream_watermark *out)
{
    memset(out, 0, sizeof *out);
    out->any = s->any;
    out->newest_ts_s = s->any ? s->newest : 0;
    out->replay_from_ts_s = s->any ? s->newest - s->cfg.max_lateness_s : INT64_MIN;
    out->n_tx = s->stats.n_tx;
    out->seq = s->clock;
}

/* ---- entity tables ------------------------------------------------------ */

/* Whether the entry at j, whose home slot is k, may move back into the hole
 * at i (backward-shift deletion in a linear-probing table): k is not
 * cyclically in (i, j]. */
static inline bool may_shift(size_t i, size_t j, size_t k)
{
    return i <= j ? (k <= i || k > j) : (k <= i && k > j);
}

static int etab_rehash(struct etab *t, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return TL_ENOMEM;
    for (size_t i = 0; i < t->len; i++) {
        if (!t->v[i].id)
            continue;
        size_t j = t->v[i].hash & (n_slots - 1);
        while (slots[j])
            j = (j + 1) & (n_slots - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 0;
}

/* The index of entity `id`, created empty when new (*created true); -1
 * when out of memory or past 2^32 - 2 entities. */
static long etab_get(struct etab *t, const char *id, size_t len, bool *created)
{
    *created = false;
    if ((t->n + 1) * 2 > t->n_slots && etab_rehash(t, t->n_slots ? t->n_slots * 2 : 1024) < 0)
        return -1;
    uint64_t h = tl__hash_bytes(id, len);
    size_t j = h & (t->n_slots - 1);
    while (t->slots[j]) {
        struct entity *e = &t->v[t->slots[j] - 1];
        if (e->hash == h && strncmp(e->id, id, len) == 0 && e->id[len] == '\0')
            return (long)t->slots[j] - 1;
        j = (j + 1) & (t->n_slots - 1);
    }
    if (t->n_free == 0 && t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        if (cap >= NO_ENTITY)
            return -1;
        struct entity *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -1;
        t->v = v;
        uint32_t *fx = realloc(t->free_ix, cap * sizeof *fx);
        if (!fx)
            return -1;
        t->free_ix = fx;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, id, len);
    copy[len] = '\0';
    size_t i = t->n_free ? t->free_ix[--t->n_free] : t->len++;
    struct entity *e = &t->v[i];
    memset(e, 0, sizeof *e);
    e->id = copy;
    e->hash = h;
    t->slots[j] = (uint32_t)i + 1;
    t->n++;
    *created = true;
    return (long)i;
}

/* Frees entity i and its slot; its index goes on the free list. */
static void etab_remove(struct etab *t, size_t idx)
{
    struct entity *e = &t->v[idx];
    size_t mask = t->n_slots - 1, i = e->hash & mask;
    while (t->slots[i] && t->slots[i] != idx + 1)
        i = (i + 1) & mask;
    if (TL_ALWAYS(t->slots[i] == idx + 1)) {
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!t->slots[j])
                break;
            if (may_shift(i, j, t->v[t->slots[j] - 1].hash & mask)) {
                t->slots[i] = t->slots[j];
                i = j;
            }
        }
        t->slots[i] = 0;
    }
    free(e->id);
    free(e->ev);
    free(e->seen);
    memset(e, 0, sizeof *e);
    t->free_ix[t->n_free++] = (uint32_t)idx;
    t->n--;
}

/* Whether entity e has no event any future transaction can see: every
 * transaction from now on has ts >= newest - max_lateness_s, so windows
 * reach back no further than newest - keep_s. Evicting it then changes no
 * feature (nor a duplicate's answer: those are refused past the lateness). */
static inline bool idle(const tl_stream *s, const struct entity *e, int64_t keep_s)
{
    return e->id && (e->tail == 0 || e->newest <= s->newest - keep_s);
}

/* The incremental eviction sweep: looks at `steps` more entities of t,
 * round-robin, and frees the idle ones. Two steps per update keep the table
 * within about twice its live entities: a full pass takes len / 2 updates,
 * which create at most len / 2 entities. */
static void etab_sweep(tl_stream *s, struct etab *t, int64_t keep_s, int steps)
{
    for (int k = 0; k < steps && t->len; k++) {
        if (t->sweep >= t->len)
            t->sweep = 0;
        size_t i = t->sweep++;
        if (idle(s, &t->v[i], keep_s)) {
            etab_remove(t, i);
            t->n_evicted++;
        }
    }
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
                     bool country_new, bool channel_new, double *f)
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
    f[j++] = country_new ? 1.0 : 0.0;
    f[j++] = channel_new ? 1.0 : 0.0;
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
            if (may_shift(i, j, REC(s, s->rec_slots[j] - 1).hash & mask)) {
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

/* ---- (card, terminal) pairs ---------------------------------------------
 * A pair idle for the longest window or more is forgotten: its next visit
 * starts a new run and counts as a first visit (customer_terminal_new = 1),
 * so a pair is stale, and can be dropped, once its last visit is at or
 * before newest - max_lateness_s - longest window (no transaction to come
 * can be within the longest window of it). A stale pair left in the table
 * answers exactly as an absent one would; that is also why a pair may keep
 * the index of an evicted card or terminal: whoever gets the index next
 * finds the pair stale. */

static inline int64_t pair_horizon(const tl_stream *s)
{
    return s->cust_keep_s; /* longest window + max_lateness_s */
}

static inline bool pair_stale(const tl_stream *s, const struct pair *p)
{
    return s->any && p->last_ts <= s->newest - pair_horizon(s);
}

static size_t pair_home(uint64_t key, size_t n_slots)
{
    return tl__hash_bytes(&key, sizeof key) & (n_slots - 1);
}

/* Room for one more pair. A full table is rebuilt without its stale pairs,
 * at the same size when that frees a quarter of it, else twice the size:
 * each rebuild costs O(slots) and is followed by at least slots / 4
 * insertions, so it is amortized O(1), and the table stays within four
 * times the live pairs. */
static int pair_reserve(tl_stream *s)
{
    if ((s->pair_n + 1) * 2 <= s->pair_n_slots)
        return 0;
    size_t live = 0;
    for (size_t i = 0; i < s->pair_n_slots; i++)
        live += s->pair[i].key && !pair_stale(s, &s->pair[i]);
    size_t n = s->pair_n_slots ? s->pair_n_slots : 4096;
    while ((live + 1) * 4 > n)
        n *= 2;
    struct pair *v = calloc(n, sizeof *v);
    if (!v)
        return TL_ENOMEM;
    for (size_t i = 0; i < s->pair_n_slots; i++) {
        const struct pair *p = &s->pair[i];
        if (!p->key)
            continue;
        if (pair_stale(s, p)) {
            s->pair_n_forgotten++;
            continue;
        }
        size_t j = pair_home(p->key, n);
        while (v[j].key)
            j = (j + 1) & (n - 1);
        v[j] = *p;
    }
    free(s->pair);
    s->pair = v;
    s->pair_n = live;
    s->pair_n_slots = n;
    return 0;
}

static size_t pair_slot(const tl_stream *s, uint64_t key)
{
    size_t j = pair_home(key, s->pair_n_slots);
    while (s->pair[j].key && s->pair[j].key != key)
        j = (j + 1) & (s->pair_n_slots - 1);
    return j;
}

static inline uint64_t pair_key(uint32_t c, uint32_t m)
{
    return (((uint64_t)c << 32) | m) + 1;
}

/* Notes a visit of card c to terminal m at (t, q) and tells whether it is
 * a first visit: no earlier-arrived visit in (t - longest window, t].
 * Exact for a visit at or after the pair's newest; a late visit counts as
 * seen when the pair's current run spans its time. */
static bool pair_visit(tl_stream *s, uint32_t c, uint32_t m, int64_t t, uint64_t q)
{
    uint64_t key = pair_key(c, m);
    struct pair *p = &s->pair[pair_slot(s, key)];
    int64_t wmax = s->cfg.window_s[s->cfg.n_windows - 1];
    if (!p->key) {
        p->key = key;
        s->pair_n++;
    } else if (p->last_ts > t - wmax) {
        if (t < p->first_ts || (t == p->first_ts && q < p->first_seq)) {
            p->first_ts = t; /* late, before the run's first visit */
            p->first_seq = q;
            return true;
        }
        if (t > p->last_ts)
            p->last_ts = t;
        return false;
    }
    p->first_ts = t; /* a new pair, or one idle for the longest window */
    p->first_seq = q;
    p->last_ts = t;
    return true;
}

/* ---- the countries and channels of a card --------------------------------
 * The same runs as the pairs above, kept in the card itself: at most
 * TL_STREAM_SEEN_CAP per kind, the one used least recently (a stale one
 * first) giving way to a new one. Which one goes depends only on the set
 * held, never on where it sits in the array, so a restored card (its
 * stale entries left out) evicts what the original would have. */

static inline bool seen_stale(const tl_stream *s, const struct seen *v)
{
    return s->any && v->last_ts <= s->newest - pair_horizon(s);
}

/* Notes a use of code (kind k) by card c at (t, q); whether it is a first
 * use: no earlier-arrived use in (t - longest window, t]. As pair_visit. */
static bool seen_visit(tl_stream *s, struct entity *c, int k, const char *code, int64_t t,
                       uint64_t q)
{
    struct seen *v = c->seen + (size_t)k * TL_STREAM_SEEN_CAP, *p = NULL;
    uint8_t *n = &c->n_seen[k];
    int64_t wmax = s->cfg.window_s[s->cfg.n_windows - 1];
    for (size_t i = 0; i < *n && !p; i++)
        if (strcmp(v[i].code, code) == 0)
            p = &v[i];
    if (p && p->last_ts > t - wmax) {
        if (t < p->first_ts || (t == p->first_ts && q < p->first_seq)) {
            p->first_ts = t; /* late, before the run's first use */
            p->first_seq = q;
            return true;
        }
        if (t > p->last_ts)
            p->last_ts = t;
        return false;
    }
    if (!p) {
        if (*n < TL_STREAM_SEEN_CAP) {
            p = &v[(*n)++];
        } else {
            p = &v[0];
            for (size_t i = 1; i < *n; i++)
                if (v[i].last_ts < p->last_ts ||
                    (v[i].last_ts == p->last_ts && v[i].first_seq < p->first_seq))
                    p = &v[i];
        }
        /* check_code bounds code below sizeof p->code */
        size_t len = strnlen(code, sizeof p->code - 1);
        memcpy(p->code, code, len);
        p->code[len] = '\0';
    }
    p->first_ts = t; /* a new one, or one idle for the longest window */
    p->first_seq = q;
    p->last_ts = t;
    return true;
}

/* A transaction's country (upper-cased into buf) or channel: NULL or ""
 * is unknown (buf empty), anything else must be well formed. */
static int check_code(const struct tl_stream_tx *tx, int k, char *buf, tl_err *err)
{
    const char *v = k == SEEN_COUNTRY ? tx->country : tx->channel;
    buf[0] = '\0';
    if (!v || !*v)
        return 0;
    size_t len = strlen(v);
    char q[TL__QUOTE_SIZE], qv[TL__QUOTE_SIZE];
    if (k == SEEN_COUNTRY) {
        bool ok = len == 2;
        for (size_t i = 0; ok && i < 2; i++) {
            char ch = v[i];
            ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
            buf[i] = (char)(ch >= 'a' ? ch - 'a' + 'A' : ch);
        }
        buf[2] = '\0';
        if (!ok) {
            buf[0] = '\0';
            return tl_err_set(err, TL_EINVAL,
                              "stream: transaction %s: country %s is not two letters (ISO 3166 "
                              "alpha-2)",
                              tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)),
                              tl__quote(qv, sizeof qv, v, len));
        }
        return 0;
    }
    if (len > TL_STREAM_MAX_CHANNEL)
        return tl_err_set(err, TL_EINVAL, "stream: transaction %s: channel %s is %zu bytes, longer than %d",
                          tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)),
                          tl__quote(qv, sizeof qv, v, len), len, TL_STREAM_MAX_CHANNEL);
    memcpy(buf, v, len + 1);
    return 0;
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
    s->stats.n_labels++;
    if (r->term == NO_ENTITY)
        return; /* its terminal was past its horizon at a snapshot */
    /* the index may belong to another terminal by now (evicted, reused):
     * the seq check below then finds nothing, as it should */
    struct entity *m = &s->term.v[r->term];
    uint64_t p = upper_bound(m, r->ts, r->seq);
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
    size_t len = 0;
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
    if (r->ts != tx->ts_s || r->cents != tx->amount_cents)
        goto conflict;
    /* Its windows must still be whole, as for a new transaction. This also
     * guarantees its card and terminal were never evicted since (their
     * newest is at least r->ts, within the lateness of the stream's), so
     * r->cust and r->term still name them. */
    if (r->ts < s->newest - s->cfg.max_lateness_s)
        return tl_err_set(err, TL_EEXISTS,
                          "stream: transaction %s was taken before and is more than max_lateness_s "
                          "behind the newest to answer again",
                          tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)));
    if (TL_NEVER(r->cust == NO_ENTITY || r->term == NO_ENTITY || !s->cust.v[r->cust].id ||
                 !s->term.v[r->term].id))
        return tl_err_set(err, TL_EINTERNAL, "stream: transaction %s lost its card or terminal",
                          tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)));
    const struct entity *c = &s->cust.v[r->cust], *m = &s->term.v[r->term];
    if (strcmp(c->id, tx->customer_id) != 0 || strcmp(m->id, tx->terminal_id) != 0)
        goto conflict;
    if (tx->label == 0 || tx->label == 1)
        apply_label(s, r, tx->label);
    features(s, c, m, r->ts, r->seq, r->cents, false, false, r->term_new, r->country_new,
             r->channel_new, f);
    s->stats.n_duplicates++;
    return TL_STREAM_DUPLICATE;
conflict:
    return tl_err_set(err, TL_ECONSTRAINT,
                      "stream: transaction %s was taken before with another card, terminal, "
                      "time or amount",
                      tl__quote(q, sizeof q, tx->tx_id, strlen(tx->tx_id)));
}

int tl_stream_update(tl_stream *s, const struct tl_stream_tx *tx, double *f, tl_err *err)
{
    size_t id_len = 0, c_len = 0, m_len = 0;
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
    char code[N_SEEN_KINDS][TL_STREAM_MAX_CHANNEL + 1];
    if ((rc = check_code(tx, SEEN_COUNTRY, code[SEEN_COUNTRY], err)) < 0 ||
        (rc = check_code(tx, SEEN_CHANNEL, code[SEEN_CHANNEL], err)) < 0)
        return rc;
    bool any_code = code[SEEN_COUNTRY][0] || code[SEEN_CHANNEL][0];
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
    bool c_new, m_new = false;
    long ci = etab_get(&s->cust, tx->customer_id, c_len, &c_new);
    long mi = ci < 0 ? -1 : etab_get(&s->term, tx->terminal_id, m_len, &m_new);
    if (ci >= 0 && any_code && !s->cust.v[ci].seen)
        s->cust.v[ci].seen = malloc(N_SEEN_KINDS * TL_STREAM_SEEN_CAP * sizeof(struct seen));
    if (mi < 0 || ring_reserve(&s->cust.v[ci]) < 0 || ring_reserve(&s->term.v[mi]) < 0 ||
        (any_code && !s->cust.v[ci].seen)) {
        /* leave no empty entity behind: the state stays as it was */
        if (mi >= 0 && m_new)
            etab_remove(&s->term, (size_t)mi);
        if (ci >= 0 && c_new)
            etab_remove(&s->cust, (size_t)ci);
        return tl_err_set(err, TL_ENOMEM, "stream: out of memory");
    }
    struct entity *c = &s->cust.v[ci], *m = &s->term.v[mi];

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
    bool is_new = pair_visit(s, (uint32_t)ci, (uint32_t)mi, tx->ts_s, seq);
    bool seen_new[N_SEEN_KINDS];
    for (int k = 0; k < N_SEEN_KINDS; k++)
        seen_new[k] = code[k][0] && seen_visit(s, c, k, code[k], tx->ts_s, seq);
    features(s, c, m, tx->ts_s, seq, tx->amount_cents, c_live, m_live, is_new,
             seen_new[SEEN_COUNTRY], seen_new[SEEN_CHANNEL], f);

    struct txrec *r = &REC(s, s->rec_tail);
    memcpy(r->id, tx->tx_id, id_len + 1);
    r->hash = h;
    r->cust = (uint32_t)ci;
    r->term = (uint32_t)mi;
    r->ts = tx->ts_s;
    r->cents = tx->amount_cents;
    r->seq = seq;
    r->term_new = is_new;
    r->country_new = seen_new[SEEN_COUNTRY];
    r->channel_new = seen_new[SEEN_CHANNEL];
    s->rec_slots[slot] = ++s->rec_tail;
    if (!s->any || tx->ts_s > s->newest)
        s->newest = tx->ts_s;
    s->any = true;
    while (s->rec_head < s->rec_tail && REC(s, s->rec_head).ts <= s->newest - s->rec_keep_s)
        rec_pop(s);
    etab_sweep(s, &s->cust, s->cust_keep_s, 2);
    etab_sweep(s, &s->term, s->term_keep_s, 2);
    s->stats.n_tx++;
    return 0;
}

/* ---- snapshot and restore ------------------------------------------------
 * Layout (all integers little-endian):
 *   "TLSTREAM" u32 version u32 flags (0) u64 payload length
 *   payload:
 *     config   i32 n_windows, i64 window_s[n_windows], i64 label_delay_s,
 *              i64 max_lateness_s, i32 night_end_hour, u64 max_events_per_entity
 *     clock    u64 clock, i64 newest, u8 any
 *     counters u64 n_tx n_duplicates n_late n_labels n_dropped
 *              cust_evicted term_evicted pairs_forgotten
 *     cards, then terminals: u64 count, each
 *              u8 id_len, id, i64 newest, u64 n_events, each event
 *              i64 ts, i64 cents, u64 seq, u64 label_seq, i8 label,
 *              then (cards only, version 2) for countries, then channels:
 *              u8 count, each u8 code_len, code, i64 first_ts,
 *              u64 first_seq, i64 last_ts (sorted by first_seq)
 *     records  u64 count, each u8 id_len, id, u32 card, u32 terminal
 *              (indices in the lists above, NO_ENTITY when left out),
 *              i64 ts, i64 cents, u64 seq, u8 flags (1 term_new,
 *              2 country_new, 4 channel_new; version 1: term_new only)
 *     pairs    u64 count, each u32 card, u32 terminal, i64 first_ts,
 *              u64 first_seq, i64 last_ts (sorted by card, terminal)
 *   BLAKE2b-256 of header and payload
 * The running window sums are not written: restore recomputes them from
 * the events, so they cannot disagree with them. Hash-table layouts are
 * not written either; restore rebuilds them. */

#define SNAP_MAGIC "TLSTREAM"
#define SNAP_HEADER_SIZE 24
#define SNAP_HASH_SIZE 32
#define SNAP_MAX_PAYLOAD (UINT64_C(1) << 40)
#define SNAP_EVENT_SIZE 33
#define SNAP_MAX_CENTS (INT64_C(1) << 50)

/* A growable output buffer; oom sticks once set. */
struct wbuf {
    unsigned char *p;
    size_t n, cap;
    bool oom;
};

static void wb_bytes(struct wbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void wb_u64(struct wbuf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    wb_bytes(b, x, 8);
}

static void wb_u32(struct wbuf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    wb_bytes(b, x, 4);
}

static void wb_u8(struct wbuf *b, unsigned v)
{
    unsigned char x = (unsigned char)v;
    wb_bytes(b, &x, 1);
}

static void wb_id(struct wbuf *b, const char *id)
{
    size_t len = strlen(id);
    wb_u8(b, (unsigned)len);
    wb_bytes(b, id, len);
}

/* Assigns the entities a snapshot keeps (live, not idle) their indices in
 * it; map[i] is NO_ENTITY for the others. Returns how many it keeps. */
static uint32_t snap_map(const tl_stream *s, const struct etab *t, int64_t keep_s, uint32_t *map)
{
    uint32_t n = 0;
    for (size_t i = 0; i < t->len; i++)
        map[i] = idle(s, &t->v[i], keep_s) || !t->v[i].id ? NO_ENTITY : n++;
    return n;
}

/* Writes the kept entities with the events any future transaction can
 * see (ts > newest - keep_s; older ones may linger in a ring until its
 * next trim, and leaving them out makes the snapshot not depend on when
 * the sweep and the trims ran). */
/* The countries and channels card e still remembers (stale ones left
 * out), each kind in the order of first_seq: what a restore rebuilds, so
 * the bytes do not depend on where entries sat in the array. */
static void snap_seen(const tl_stream *s, const struct entity *e, struct wbuf *b)
{
    for (int k = 0; k < N_SEEN_KINDS; k++) {
        const struct seen *order[TL_STREAM_SEEN_CAP];
        size_t n = 0;
        for (size_t i = 0; e->seen && i < e->n_seen[k]; i++) {
            const struct seen *v = &e->seen[(size_t)k * TL_STREAM_SEEN_CAP + i];
            if (seen_stale(s, v))
                continue;
            size_t j = n++;
            while (j > 0 && order[j - 1]->first_seq > v->first_seq) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = v;
        }
        wb_u8(b, (unsigned)n);
        for (size_t i = 0; i < n; i++) {
            wb_id(b, order[i]->code);
            wb_u64(b, (uint64_t)order[i]->first_ts);
            wb_u64(b, order[i]->first_seq);
            wb_u64(b, (uint64_t)order[i]->last_ts);
        }
    }
}

static void snap_entities(const tl_stream *s, const struct etab *t, const uint32_t *map, uint32_t n,
                          int64_t keep_s, bool with_seen, struct wbuf *b)
{
    wb_u64(b, n);
    for (size_t i = 0; i < t->len; i++) {
        if (map[i] == NO_ENTITY)
            continue;
        const struct entity *e = &t->v[i];
        uint64_t from = upper_bound(e, s->newest - keep_s, NO_SEQ);
        wb_id(b, e->id);
        wb_u64(b, (uint64_t)e->newest);
        wb_u64(b, e->tail - from);
        for (uint64_t k = from; k < e->tail; k++) {
            const struct ev *v = &EV(e, k);
            wb_u64(b, (uint64_t)v->ts);
            wb_u64(b, (uint64_t)v->cents);
            wb_u64(b, v->seq);
            wb_u64(b, v->label_seq);
            wb_u8(b, (unsigned)(uint8_t)v->label);
        }
        if (with_seen)
            snap_seen(s, e, b);
    }
}

struct snap_pair {
    uint32_t c, m;
    int64_t first_ts, last_ts;
    uint64_t first_seq;
};

static int snap_pair_cmp(const void *a, const void *b)
{
    const struct snap_pair *x = a, *y = b;
    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return x->m < y->m ? -1 : x->m > y->m;
}

/* The payload into b; TL_ENOMEM. */
static int snap_payload(const tl_stream *s, struct wbuf *b)
{
    const struct tl_stream_config *cfg = &s->cfg;
    wb_u32(b, (uint32_t)cfg->n_windows);
    for (int k = 0; k < cfg->n_windows; k++)
        wb_u64(b, (uint64_t)cfg->window_s[k]);
    wb_u64(b, (uint64_t)cfg->label_delay_s);
    wb_u64(b, (uint64_t)cfg->max_lateness_s);
    wb_u32(b, (uint32_t)cfg->night_end_hour);
    wb_u64(b, cfg->max_events_per_entity);
    wb_u64(b, s->clock);
    wb_u64(b, (uint64_t)(s->any ? s->newest : 0));
    wb_u8(b, s->any);
    const struct tl_stream_stats *st = &s->stats;
    uint64_t counters[8] = {st->n_tx,         st->n_duplicates,     st->n_late,
                            st->n_labels,     st->n_dropped,        s->cust.n_evicted,
                            s->term.n_evicted, s->pair_n_forgotten};
    for (int k = 0; k < 8; k++)
        wb_u64(b, counters[k]);

    uint32_t *cmap = malloc((s->cust.len + 1) * sizeof *cmap);
    uint32_t *mmap_ = malloc((s->term.len + 1) * sizeof *mmap_);
    struct snap_pair *pairs = malloc((s->pair_n + 1) * sizeof *pairs);
    if (!cmap || !mmap_ || !pairs) {
        free(cmap);
        free(mmap_);
        free(pairs);
        return TL_ENOMEM;
    }
    uint32_t nc = snap_map(s, &s->cust, s->cust_keep_s, cmap);
    uint32_t nm = snap_map(s, &s->term, s->term_keep_s, mmap_);
    snap_entities(s, &s->cust, cmap, nc, s->cust_keep_s, true, b);
    snap_entities(s, &s->term, mmap_, nm, s->term_keep_s, false, b);

    wb_u64(b, s->rec_tail - s->rec_head);
    for (uint64_t i = s->rec_head; i < s->rec_tail; i++) {
        const struct txrec *r = &REC(s, i);
        wb_id(b, r->id);
        wb_u32(b, r->cust == NO_ENTITY ? NO_ENTITY : cmap[r->cust]);
        wb_u32(b, r->term == NO_ENTITY ? NO_ENTITY : mmap_[r->term]);
        wb_u64(b, (uint64_t)r->ts);
        wb_u64(b, (uint64_t)r->cents);
        wb_u64(b, r->seq);
        wb_u8(b, (unsigned)r->term_new | (unsigned)r->country_new << 1 |
                     (unsigned)r->channel_new << 2);
    }

    size_t np = 0;
    for (size_t i = 0; i < s->pair_n_slots; i++) {
        const struct pair *p = &s->pair[i];
        if (!p->key || pair_stale(s, p))
            continue;
        uint64_t k = p->key - 1;
        uint32_t c = (uint32_t)(k >> 32), m = (uint32_t)k;
        /* a live pair's card and terminal are live (their newest >= its last) */
        if (TL_NEVER(c >= s->cust.len || m >= s->term.len || cmap[c] == NO_ENTITY ||
                     mmap_[m] == NO_ENTITY))
            continue;
        if (TL_NEVER(np >= s->pair_n))
            break;
        pairs[np++] = (struct snap_pair){cmap[c], mmap_[m], p->first_ts, p->last_ts, p->first_seq};
    }
    qsort(pairs, np, sizeof *pairs, snap_pair_cmp);
    wb_u64(b, np);
    for (size_t i = 0; i < np; i++) {
        wb_u32(b, pairs[i].c);
        wb_u32(b, pairs[i].m);
        wb_u64(b, (uint64_t)pairs[i].first_ts);
        wb_u64(b, pairs[i].first_seq);
        wb_u64(b, (uint64_t)pairs[i].last_ts);
    }
    free(cmap);
    free(mmap_);
    free(pairs);
    return b->oom ? TL_ENOMEM : 0;
}

int tl_stream_snapshot(const tl_stream *s, FILE *out, tl_err *err)
{
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");
    struct wbuf b = {0};
    /* header first, its length patched in once the payload is known */
    wb_bytes(&b, SNAP_MAGIC, 8);
    wb_u32(&b, TL_STREAM_SNAPSHOT_VERSION);
    wb_u32(&b, 0);
    wb_u64(&b, 0);
    int rc = snap_payload(s, &b);
    if (rc < 0 || b.oom) {
        free(b.p);
        return tl_err_set(err, TL_ENOMEM, "stream snapshot: out of memory");
    }
    uint64_t len = b.n - SNAP_HEADER_SIZE;
    for (int i = 0; i < 8; i++)
        b.p[16 + i] = (unsigned char)(len >> (8 * i));
    unsigned char hash[SNAP_HASH_SIZE];
    crypto_generichash(hash, sizeof hash, b.p, b.n, NULL, 0);
    bool ok = fwrite(b.p, 1, b.n, out) == b.n && fwrite(hash, 1, sizeof hash, out) == sizeof hash &&
              fflush(out) == 0;
    free(b.p);
    if (!ok)
        return tl_err_set(err, TL_EIO, "stream snapshot: write failed: %s", strerror(errno));
    return 0;
}

/* A bounds-checked reader over the verified payload. The first problem
 * sets rc and err (naming the byte offset and what was being read); every
 * later read returns zeros, so parsing code checks rc once per item. */
struct rbuf {
    const unsigned char *p;
    size_t n, off;
    int rc;
    tl_err *err;
};

static int rb_fail(struct rbuf *b, const char *fmt, ...) TL_PRINTF(2, 3);

static int rb_fail(struct rbuf *b, const char *fmt, ...)
{
    if (b->rc < 0)
        return b->rc;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->rc = tl_err_set(b->err, TL_EPARSE, "stream snapshot: payload byte %zu: %s", b->off, msg);
    return b->rc;
}

static const unsigned char *rb_take(struct rbuf *b, size_t n, const char *what)
{
    if (b->rc < 0)
        return NULL;
    if (n > b->n - b->off) {
        rb_fail(b, "the payload ends inside %s", what);
        return NULL;
    }
    const unsigned char *p = b->p + b->off;
    b->off += n;
    return p;
}

static uint64_t rb_u64(struct rbuf *b, const char *what)
{
    const unsigned char *p = rb_take(b, 8, what);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t rb_u32(struct rbuf *b, const char *what)
{
    const unsigned char *p = rb_take(b, 4, what);
    uint32_t v = 0;
    for (int i = 0; p && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static unsigned rb_u8(struct rbuf *b, const char *what)
{
    const unsigned char *p = rb_take(b, 1, what);
    return p ? *p : 0;
}

/* An id into buf (NUL-terminated): 1..TL_STREAM_MAX_ID bytes, no NUL. */
static size_t rb_id(struct rbuf *b, char *buf, const char *what)
{
    size_t len = rb_u8(b, what);
    const unsigned char *p = rb_take(b, len, what);
    buf[0] = '\0';
    if (!p)
        return 0;
    if (len == 0 || len > TL_STREAM_MAX_ID || memchr(p, '\0', len)) {
        rb_fail(b, "%s is %zu bytes or holds a NUL", what, len);
        return 0;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    return len;
}

/* A count of items of at least item_size bytes each, checked against the
 * bytes left before anything is allocated for them. */
static uint64_t rb_count(struct rbuf *b, size_t item_size, const char *what)
{
    uint64_t n = rb_u64(b, what);
    if (b->rc == 0 && n > (b->n - b->off) / item_size)
        rb_fail(b, "%" PRIu64 " %s do not fit in the %zu bytes left", n, what, b->n - b->off);
    return b->rc < 0 ? 0 : n;
}

static size_t pow2_at_least(size_t n, size_t min)
{
    size_t c = min;
    while (c < n)
        c *= 2;
    return c;
}

/* Sets the window cursors and sums of e from its events. */
static void rebuild_windows(const tl_stream *s, struct entity *e, int64_t right)
{
    for (int k = 0; k < s->cfg.n_windows; k++) {
        struct win *w = &e->win[k];
        memset(w, 0, sizeof *w);
        int64_t end = e->newest - right, start = end - s->cfg.window_s[k];
        w->hi = upper_bound(e, end, NO_SEQ);
        w->lo = upper_bound(e, start, NO_SEQ);
        if (w->lo > w->hi)
            w->lo = w->hi;
        for (uint64_t i = w->lo; i < w->hi; i++)
            win_add(w, &EV(e, i));
    }
}

/* A card's countries and channels (snap_seen's layout). */
static int restore_seen(struct rbuf *b, tl_stream *s, struct entity *e, const char *q)
{
    for (int k = 0; k < N_SEEN_KINDS; k++) {
        const char *kind = k == SEEN_COUNTRY ? "country" : "channel";
        unsigned n = rb_u8(b, "a card's countries or channels");
        if (b->rc < 0)
            return b->rc;
        if (n > TL_STREAM_SEEN_CAP)
            return rb_fail(b, "card %s: %u of kind %s, more than %d", q, n, kind,
                           TL_STREAM_SEEN_CAP);
        if (n && !e->seen && !(e->seen = malloc(N_SEEN_KINDS * TL_STREAM_SEEN_CAP * sizeof *e->seen)))
            return b->rc = tl_err_set(b->err, TL_ENOMEM, "stream snapshot: out of memory");
        struct seen *v = e->seen + (size_t)k * TL_STREAM_SEEN_CAP;
        for (unsigned i = 0; i < n; i++) {
            struct seen x;
            memset(&x, 0, sizeof x);
            size_t len = rb_u8(b, "a code");
            const unsigned char *p = rb_take(b, len, "a code");
            x.first_ts = (int64_t)rb_u64(b, "a code's run");
            x.first_seq = rb_u64(b, "a code's run");
            x.last_ts = (int64_t)rb_u64(b, "a code's run");
            if (b->rc < 0)
                return b->rc;
            bool ok = k == SEEN_COUNTRY ? len == 2 : len >= 1 && len <= TL_STREAM_MAX_CHANNEL;
            for (size_t j = 0; ok && j < len; j++)
                ok = k == SEEN_COUNTRY ? p[j] >= 'A' && p[j] <= 'Z' : p[j] != '\0';
            if (ok) {
                memcpy(x.code, p, len);
                x.code[len] = '\0';
            }
            for (unsigned j = 0; ok && j < i; j++)
                ok = strcmp(v[j].code, x.code) != 0 && v[j].first_seq < x.first_seq;
            if (!ok || x.first_ts > x.last_ts || x.last_ts > e->newest || x.first_seq >= s->clock ||
                seen_stale(s, &x))
                return rb_fail(b, "card %s: %s %u is malformed, repeated, out of order or out of "
                               "range", q, kind, i);
            v[i] = x;
            e->n_seen[k] = (uint8_t)(i + 1);
        }
    }
    return 0;
}

static int restore_entities(struct rbuf *b, tl_stream *s, struct etab *t, int64_t keep_s,
                            int64_t right, bool with_seen, const char *what)
{
    uint64_t n = rb_count(b, 2 + 8 + 8 + SNAP_EVENT_SIZE, what);
    if (b->rc < 0)
        return b->rc;
    if (n >= NO_ENTITY)
        return rb_fail(b, "%" PRIu64 " %s are too many", n, what);
    for (uint64_t i = 0; i < n; i++) {
        char id[TL_STREAM_MAX_ID + 1];
        size_t len = rb_id(b, id, "an id");
        int64_t newest = (int64_t)rb_u64(b, "newest");
        uint64_t n_ev = rb_count(b, SNAP_EVENT_SIZE, "events");
        if (b->rc < 0)
            return b->rc;
        char q[TL__QUOTE_SIZE];
        tl__quote(q, sizeof q, id, len);
        if (n_ev == 0 || n_ev > s->cfg.max_events_per_entity)
            return rb_fail(b, "%s %s has %" PRIu64 " events, not 1..%zu", what, q, n_ev,
                           s->cfg.max_events_per_entity);
        if (newest > s->newest || newest <= s->newest - keep_s)
            return rb_fail(b, "%s %s: newest %lld is not within its horizon of the stream's %lld",
                           what, q, (long long)newest, (long long)s->newest);
        bool created;
        long ix = etab_get(t, id, len, &created);
        if (ix < 0)
            return b->rc = tl_err_set(b->err, TL_ENOMEM, "stream snapshot: out of memory");
        if (!created || (uint64_t)ix != i)
            return rb_fail(b, "%s %s appears twice", what, q);
        struct entity *e = &t->v[ix];
        e->cap = pow2_at_least((size_t)n_ev, 8);
        e->ev = malloc(e->cap * sizeof *e->ev);
        if (!e->ev)
            return b->rc = tl_err_set(b->err, TL_ENOMEM, "stream snapshot: out of memory");
        e->newest = newest;
        for (uint64_t k = 0; k < n_ev; k++) {
            struct ev v;
            v.ts = (int64_t)rb_u64(b, "an event");
            v.cents = (int64_t)rb_u64(b, "an event");
            v.seq = rb_u64(b, "an event");
            v.label_seq = rb_u64(b, "an event");
            v.label = (int8_t)rb_u8(b, "an event");
            if (b->rc < 0)
                return b->rc;
            const struct ev *prev = k ? &EV(e, k - 1) : NULL;
            if (v.ts > newest || v.ts <= s->newest - keep_s || v.cents < 0 || v.cents > SNAP_MAX_CENTS ||
                v.seq >= s->clock || v.label < -1 || v.label > 1 ||
                (v.label == -1) != (v.label_seq == NO_SEQ) ||
                (v.label_seq != NO_SEQ && v.label_seq >= s->clock) ||
                (prev && (v.ts < prev->ts || (v.ts == prev->ts && v.seq <= prev->seq))))
                return rb_fail(b, "%s %s: event %" PRIu64 " is out of range or out of order", what,
                               q, k);
            EV(e, k) = v;
            e->tail = k + 1;
        }
        if (EV(e, e->tail - 1).ts != newest)
            return rb_fail(b, "%s %s: newest %lld is not its last event's time", what, q,
                           (long long)newest);
        rebuild_windows(s, e, right);
        if (with_seen && restore_seen(b, s, e, q) < 0)
            return b->rc;
    }
    return 0;
}

/* Whether entity e holds the event (ts, seq, cents). */
static bool holds(const struct entity *e, int64_t ts, uint64_t seq, int64_t cents)
{
    uint64_t p = upper_bound(e, ts, seq);
    return p > e->head && EV(e, p - 1).seq == seq && EV(e, p - 1).ts == ts &&
           EV(e, p - 1).cents == cents;
}

static int restore_records(struct rbuf *b, tl_stream *s, unsigned max_flags)
{
    uint64_t n = rb_count(b, 2 + 4 + 4 + 8 + 8 + 8 + 1, "records");
    if (b->rc < 0)
        return b->rc;
    s->rec_cap = pow2_at_least((size_t)n + 1, 2048);
    s->rec_n_slots = pow2_at_least(((size_t)n + 1) * 2, 4096);
    s->rec = malloc(s->rec_cap * sizeof *s->rec);
    s->rec_slots = calloc(s->rec_n_slots, sizeof *s->rec_slots);
    if (!s->rec || !s->rec_slots)
        return b->rc = tl_err_set(b->err, TL_ENOMEM, "stream snapshot: out of memory");
    for (uint64_t i = 0; i < n; i++) {
        struct txrec r;
        memset(&r, 0, sizeof r);
        size_t len = rb_id(b, r.id, "a transaction id");
        r.cust = rb_u32(b, "a record");
        r.term = rb_u32(b, "a record");
        r.ts = (int64_t)rb_u64(b, "a record");
        r.cents = (int64_t)rb_u64(b, "a record");
        r.seq = rb_u64(b, "a record");
        unsigned tn = rb_u8(b, "a record");
        if (b->rc < 0)
            return b->rc;
        char q[TL__QUOTE_SIZE];
        tl__quote(q, sizeof q, r.id, len);
        bool c_ok = r.cust < s->cust.len, m_ok = r.term < s->term.len;
        if ((!c_ok && r.cust != NO_ENTITY) || (!m_ok && r.term != NO_ENTITY) || r.ts > s->newest ||
            r.cents < 0 || r.cents > SNAP_MAX_CENTS || r.seq >= s->clock || tn > max_flags)
            return rb_fail(b, "transaction %s: a field is out of range", q);
        /* one that may still be answered as a duplicate must find its events */
        if (r.ts >= s->newest - s->cfg.max_lateness_s &&
            (!c_ok || !m_ok || !holds(&s->cust.v[r.cust], r.ts, r.seq, r.cents) ||
             !holds(&s->term.v[r.term], r.ts, r.seq, r.cents)))
            return rb_fail(b, "transaction %s is not in its card's and terminal's events", q);
        r.term_new = tn & 1;
        r.country_new = (tn >> 1) & 1;
        r.channel_new = (tn >> 2) & 1;
        r.hash = tl__hash_bytes(r.id, len);
        bool found;
        size_t slot = rec_find(s, r.id, r.hash, &found);
        if (found)
            return rb_fail(b, "transaction %s appears twice", q);
        REC(s, s->rec_tail) = r;
        s->rec_slots[slot] = ++s->rec_tail;
    }
    return 0;
}

static int restore_pairs(struct rbuf *b, tl_stream *s)
{
    uint64_t n = rb_count(b, 4 + 4 + 8 + 8 + 8, "pairs");
    if (b->rc < 0)
        return b->rc;
    s->pair_n_slots = pow2_at_least(((size_t)n + 1) * 4, 4096);
    s->pair = calloc(s->pair_n_slots, sizeof *s->pair);
    if (!s->pair)
        return b->rc = tl_err_set(b->err, TL_ENOMEM, "stream snapshot: out of memory");
    for (uint64_t i = 0; i < n; i++) {
        uint32_t c = rb_u32(b, "a pair"), m = rb_u32(b, "a pair");
        struct pair p;
        p.first_ts = (int64_t)rb_u64(b, "a pair");
        p.first_seq = rb_u64(b, "a pair");
        p.last_ts = (int64_t)rb_u64(b, "a pair");
        if (b->rc < 0)
            return b->rc;
        if (c >= s->cust.len || m >= s->term.len || p.first_ts > p.last_ts ||
            p.last_ts > s->newest || p.first_seq >= s->clock)
            return rb_fail(b, "pair %" PRIu64 " is out of range", i);
        p.key = pair_key(c, m);
        if (pair_stale(s, &p))
            return rb_fail(b, "pair %" PRIu64 " is past its horizon", i);
        size_t j = pair_slot(s, p.key);
        if (s->pair[j].key)
            return rb_fail(b, "pair %" PRIu64 " appears twice", i);
        s->pair[j] = p;
        s->pair_n++;
    }
    return 0;
}

static int restore_payload(struct rbuf *b, uint32_t version, tl_stream **out)
{
    struct tl_stream_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_windows = (int)rb_u32(b, "the configuration");
    if (b->rc == 0 && (cfg.n_windows < 1 || cfg.n_windows > TL_STREAM_MAX_WINDOWS))
        return rb_fail(b, "n_windows is %d, not 1..%d", cfg.n_windows, TL_STREAM_MAX_WINDOWS);
    for (int k = 0; k < cfg.n_windows; k++)
        cfg.window_s[k] = (int64_t)rb_u64(b, "the configuration");
    cfg.label_delay_s = (int64_t)rb_u64(b, "the configuration");
    cfg.max_lateness_s = (int64_t)rb_u64(b, "the configuration");
    cfg.night_end_hour = (int)rb_u32(b, "the configuration");
    uint64_t max_ev = rb_u64(b, "the configuration");
    if (b->rc < 0)
        return b->rc;
    cfg.max_events_per_entity = max_ev > SIZE_MAX ? SIZE_MAX : (size_t)max_ev;
    tl_stream *s;
    tl_err cerr = {0};
    if (tl_stream_new(&cfg, &s, &cerr) < 0)
        return rb_fail(b, "the configuration is invalid: %s", cerr.msg);
    s->clock = rb_u64(b, "the clock");
    s->newest = (int64_t)rb_u64(b, "the clock");
    unsigned any = rb_u8(b, "the clock");
    if (b->rc == 0 && (any > 1 || (!any && s->newest != 0) || s->clock == NO_SEQ ||
                       s->newest > INT64_MAX / 2 || s->newest < INT64_MIN / 2))
        rb_fail(b, "the clock is out of range");
    s->any = any;
    uint64_t counters[8];
    for (int k = 0; k < 8; k++)
        counters[k] = rb_u64(b, "the counters");
    if (b->rc == 0) {
        s->stats.n_tx = counters[0];
        s->stats.n_duplicates = counters[1];
        s->stats.n_late = counters[2];
        s->stats.n_labels = counters[3];
        s->stats.n_dropped = counters[4];
        s->cust.n_evicted = counters[5];
        s->term.n_evicted = counters[6];
        s->pair_n_forgotten = counters[7];
    }
    if (b->rc == 0)
        restore_entities(b, s, &s->cust, s->cust_keep_s, 0, version >= 2, "card");
    if (b->rc == 0)
        restore_entities(b, s, &s->term, s->term_keep_s, s->cfg.label_delay_s, false, "terminal");
    if (b->rc == 0 && !s->any && (s->cust.n || s->term.n))
        rb_fail(b, "entities in a snapshot of an empty stream");
    if (b->rc == 0)
        restore_records(b, s, version >= 2 ? 7 : 1);
    if (b->rc == 0)
        restore_pairs(b, s);
    if (b->rc == 0 && b->off != b->n)
        rb_fail(b, "%zu bytes follow the last section", b->n - b->off);
    if (b->rc < 0) {
        tl_stream_free(s);
        return b->rc;
    }
    *out = s;
    return 0;
}

int tl_stream_restore(FILE *in, tl_stream **out, tl_err *err)
{
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");
    unsigned char head[SNAP_HEADER_SIZE];
    size_t got = fread(head, 1, sizeof head, in);
    if (got < sizeof head) {
        if (ferror(in))
            return tl_err_set(err, TL_EIO, "stream snapshot: read failed: %s", strerror(errno));
        return tl_err_set(err, TL_EPARSE, "stream snapshot: truncated: %zu of %d header bytes", got,
                          SNAP_HEADER_SIZE);
    }
    if (memcmp(head, SNAP_MAGIC, 8) != 0)
        return tl_err_set(err, TL_EPARSE, "stream snapshot: not a snapshot (no TLSTREAM magic)");
    uint32_t version = 0, flags = 0;
    uint64_t len = 0;
    for (int i = 0; i < 4; i++) {
        version |= (uint32_t)head[8 + i] << (8 * i);
        flags |= (uint32_t)head[12 + i] << (8 * i);
    }
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)head[16 + i] << (8 * i);
    /* version 1 differs only in lacking the cards' countries and channels */
    if (version != 1 && version != TL_STREAM_SNAPSHOT_VERSION)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "stream snapshot: version %u, this build reads 1 to %d", version,
                          TL_STREAM_SNAPSHOT_VERSION);
    if (flags != 0)
        return tl_err_set(err, TL_EPARSE, "stream snapshot: unknown flags 0x%x", flags);
    if (len > SNAP_MAX_PAYLOAD)
        return tl_err_set(err, TL_ETOOBIG,
                          "stream snapshot: declared payload of %" PRIu64 " bytes is over 2^40", len);
    /* read what is there, growing as it comes: a lying length costs no more
     * memory than the bytes actually present */
    size_t cap = 0, n = 0;
    unsigned char *p = NULL;
    uint64_t want = len + SNAP_HASH_SIZE;
    while (n < want) {
        if (n == cap) {
            size_t c = cap ? cap * 2 : 1 << 16;
            if (c > want)
                c = (size_t)want;
            unsigned char *q = realloc(p, c);
            if (!q) {
                free(p);
                return tl_err_set(err, TL_ENOMEM, "stream snapshot: out of memory");
            }
            p = q;
            cap = c;
        }
        size_t r = fread(p + n, 1, cap - n, in);
        n += r;
        if (r == 0)
            break;
    }
    if (n < want) {
        int io = ferror(in);
        free(p);
        if (io)
            return tl_err_set(err, TL_EIO, "stream snapshot: read failed: %s", strerror(errno));
        return tl_err_set(err, TL_EPARSE,
                          "stream snapshot: truncated: %zu of %" PRIu64 " bytes after the header", n,
                          want);
    }
    unsigned char hash[SNAP_HASH_SIZE];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof hash);
    crypto_generichash_update(&st, head, sizeof head);
    crypto_generichash_update(&st, p, (size_t)len);
    crypto_generichash_final(&st, hash, sizeof hash);
    if (sodium_memcmp(hash, p + len, sizeof hash) != 0) {
        free(p);
        return tl_err_set(err, TL_EPARSE,
                          "stream snapshot: checksum mismatch (the file is damaged or altered)");
    }
    struct rbuf b = {p, (size_t)len, 0, 0, err};
    int rc = restore_payload(&b, version, out);
    free(p);
    return rc;
}
