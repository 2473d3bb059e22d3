/*
 * generate_interactions.c - pass B: how customers met products during the
 * history. Every product bought in the window leaves a funnel behind it
 * (views, a click, an application for credit, the purchase), every turned
 * down application its views and the application, and browsing follows the
 * same affinity that chose the holdings: many views, fewer clicks, some
 * dismissals.
 */
#include "generate_internal.h"

#include <stdlib.h>

enum { EV_VIEWED, EV_CLICKED, EV_APPLIED, EV_BOUGHT, EV_DISMISSED };
enum { CH_WEB, CH_MOBILE, CH_BRANCH, CH_EMAIL, CH_CALL };

static const char *const EVENT_NAMES[] = {"viewed", "clicked", "applied", "bought", "dismissed"};
static const char *const CHANNEL_NAMES[] = {"web", "mobile", "branch", "email", "call"};

#define MAX_EVENTS 256

struct event {
    int64_t ts;
    uint16_t seq; /* ties keep the order of creation */
    uint8_t product, event, channel;
};

struct ctx {
    struct gen_world *w;
    struct gen_cust *c;
    struct gen_rng r;
    int32_t lo, hi; /* days the customer could interact */
    double ch_w[5];
    struct event ev[MAX_EVENTS];
    int n;
};

static int pick_channel(struct ctx *x)
{
    return (int)tl__gen_pick(&x->r, x->ch_w, 5);
}

static void add(struct ctx *x, int64_t ts, int product, int event, int channel)
{
    if (x->n >= MAX_EVENTS)
        return;
    x->ev[x->n] = (struct event){ts, (uint16_t)x->n, (uint8_t)product, (uint8_t)event, (uint8_t)channel};
    x->n++;
}

static int64_t time_on(struct ctx *x, int32_t day, int channel)
{
    enum gen_hours prof = channel == CH_BRANCH || channel == CH_CALL ? GEN_H_OFFICE : GEN_H_ONLINE;
    int hour = (int)tl__gen_pick(&x->r, tl__gen_hour_profile[prof], 24);
    return gen_local_ts(x->w, day, hour * 3600 + (int)gen_below(&x->r, 3600));
}

static int32_t day_in(struct ctx *x, int32_t lo, int32_t hi)
{
    if (lo < x->lo)
        lo = x->lo;
    if (hi > x->hi)
        hi = x->hi;
    if (hi < lo)
        return -1;
    return lo + (int32_t)gen_below(&x->r, (uint32_t)(hi - lo + 1));
}

/* Views and a click before a purchase or an application on `day`. */
static void lead_up(struct ctx *x, int product, int32_t day, int64_t before)
{
    int views = 1 + (int)gen_below(&x->r, 3);
    for (int v = 0; v < views; v++) {
        int32_t d = day_in(x, day - 30, day - 1);
        if (d >= 0)
            add(x, time_on(x, d, pick_channel(x)), product, EV_VIEWED, pick_channel(x));
    }
    int32_t d = day_in(x, day - 7, day - 1);
    int ch = pick_channel(x);
    if (d >= 0)
        add(x, time_on(x, d, ch), product, EV_CLICKED, ch);
    else if (before > 0)
        add(x, before - 600 - (int64_t)gen_below(&x->r, 3000), product, EV_CLICKED, ch);
}

static int ev_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void customer_events(struct ctx *x)
{
    struct gen_world *w = x->w;
    struct gen_cust *c = x->c;
    bool held[GEN_P_COUNT] = {0};

    /* purchases in the window, with the application behind credit */
    for (uint32_t k = c->acct_first; k < c->acct_first + c->n_acct; k++) {
        const struct gen_account *a = &w->accounts.v[k];
        if (a->product != UINT8_MAX)
            held[a->product] = true;
        if (a->product == UINT8_MAX || a->type == GEN_AT_DEPOSIT || a->opened_day < x->lo ||
            a->opened_day > x->hi)
            continue;
        int64_t at = gen_local_ts(w, a->opened_day, a->opened_sec);
        const struct gen_app *app = NULL;
        for (uint32_t j = c->app_first; j < c->app_first + c->n_app; j++)
            if (w->apps.v[j].account == k)
                app = &w->apps.v[j];
        int64_t applied = app ? gen_local_ts(w, app->applied_day, app->applied_sec) : at;
        lead_up(x, a->product, app ? app->applied_day : a->opened_day, applied);
        if (app)
            add(x, applied, a->product, EV_APPLIED, pick_channel(x));
        add(x, at, a->product, EV_BOUGHT, pick_channel(x));
    }
    for (uint32_t k = c->hold_first; k < c->hold_first + c->n_hold; k++) {
        const struct gen_holding *h = &w->holdings.v[k];
        held[h->product] = true;
        if (h->opened_day < x->lo || h->opened_day > x->hi)
            continue;
        int64_t at = gen_local_ts(w, h->opened_day, h->opened_sec);
        lead_up(x, h->product, h->opened_day, at);
        add(x, at, h->product, EV_BOUGHT, pick_channel(x));
    }
    /* applications that opened nothing */
    for (uint32_t j = c->app_first; j < c->app_first + c->n_app; j++) {
        const struct gen_app *a = &w->apps.v[j];
        if (a->status == GEN_AP_APPROVED || a->applied_day < x->lo || a->applied_day > x->hi)
            continue;
        int64_t at = gen_local_ts(w, a->applied_day, a->applied_sec);
        lead_up(x, a->product, a->applied_day, at);
        add(x, at, a->product, EV_APPLIED, pick_channel(x));
    }

    /* browsing by affinity */
    double aff[GEN_P_COUNT], p_click[GEN_P_COUNT];
    for (int p = 0; p < GEN_P_COUNT; p++) {
        double u = tl__gen_product_affinity(w, c, p) - (held[p] ? 1.5 : 0);
        aff[p] = exp(u);
        p_click[p] = gen_sigmoid(1.2 * u - 1.0);
    }
    double months = (x->hi - x->lo + 1) / 30.44;
    uint32_t n = tl__gen_poisson(&x->r, c->engagement * 0.9 * months);
    for (uint32_t i = 0; i < n; i++) {
        int p = (int)tl__gen_pick(&x->r, aff, GEN_P_COUNT);
        int32_t d = day_in(x, x->lo, x->hi);
        if (d < 0)
            break;
        int ch = pick_channel(x);
        int64_t ts = time_on(x, d, ch);
        add(x, ts, p, EV_VIEWED, ch);
        if (gen_chance(&x->r, p_click[p]))
            add(x, ts + 5 + (int64_t)gen_below(&x->r, 300), p, EV_CLICKED, ch);
        else if (gen_chance(&x->r, 0.25))
            add(x, ts + 2 + (int64_t)gen_below(&x->r, 60), p, EV_DISMISSED, ch);
    }
}

int tl__gen_write_interactions(struct gen_world *w, tl_err *err)
{
    struct gen_out o;
    int rc = tl__gen_out_open(&o, w->out_dir, "interactions", err);
    if (rc < 0)
        return rc;
    struct ctx *x = malloc(sizeof *x);
    if (!x) {
        tl__gen_out_close(&o, NULL);
        return tl_err_set(err, TL_ENOMEM, "out of memory generating interactions");
    }
    uint64_t id = 1;
    for (uint32_t ci = 0; ci < w->n_customers; ci++) {
        struct gen_cust *c = &w->cust[ci];
        x->w = w;
        x->c = c;
        x->n = 0;
        tl__gen_rng_seed(&x->r, w->seed, GEN_S_INTERACT, ci);
        x->lo = c->since_day > w->start_day ? c->since_day : w->start_day;
        x->hi = w->end_day;
        static const double young[5] = {30, 60, 3, 7, 0};
        static const double mid[5] = {45, 35, 7, 10, 3};
        static const double old[5] = {25, 10, 35, 15, 15};
        memcpy(x->ch_w, c->age < 35 ? young : c->age < 60 ? mid : old, sizeof x->ch_w);
        customer_events(x);
        qsort(x->ev, (size_t)x->n, sizeof x->ev[0], ev_cmp);
        for (int k = 0; k < x->n; k++) {
            const struct event *e = &x->ev[k];
            gen_need(&o, GEN_ROW_MAX);
            gen_put_id(&o, "I", id++, 8);
            gen_sep(&o);
            gen_put_id(&o, "C", (uint64_t)ci + 1, 6);
            gen_sep(&o);
            gen_put_id(&o, "P", (uint64_t)e->product + 1, 3);
            gen_sep(&o);
            tl__gen_put_ts(&o, e->ts);
            gen_sep(&o);
            gen_puts(&o, EVENT_NAMES[e->event]);
            gen_sep(&o);
            gen_puts(&o, CHANNEL_NAMES[e->channel]);
            gen_eol(&o);
        }
        if ((ci & 1023) == 1023)
            tl__gen_progress(w, 1024);
    }
    tl__gen_progress(w, w->n_customers & 1023);
    free(x);
    w->rows[GEN_TB_INTERACTIONS] = o.rows;
    return tl__gen_out_close(&o, err);
}
