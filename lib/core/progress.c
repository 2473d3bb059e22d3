/* progress.c - a progress line on stderr, only when a person is watching. */
#include <teller/datetime.h>
#include <teller/progress.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REDRAW_NS INT64_C(100000000) /* ten redraws a second at most */
#define LABEL_MAX 64
#define UNIT_MAX 16

struct tl_progress {
    char label[LABEL_MAX];
    char unit[UNIT_MAX];
    uint64_t total;
    uint64_t done;
    bool active;      /* stderr is a TTY and not quiet */
    int64_t start_ns; /* tl_time_mono_ns at creation */
    int64_t last_ns;  /* last redraw */
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

tl_progress *tl_progress_new(const char *label, uint64_t total, const char *unit, bool quiet)
{
    tl_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    copy_str(p->label, sizeof p->label, label);
    copy_str(p->unit, sizeof p->unit, unit ? unit : "items");
    p->total = total;
    p->active = !quiet && isatty(STDERR_FILENO);
    p->start_ns = tl_time_mono_ns();
    p->last_ns = p->start_ns - REDRAW_NS; /* the first update draws */
    return p;
}

/* 950 -> "950", 1234 -> "1.2k", 5600000 -> "5.6M" */
static void human(double v, char *buf, size_t cap)
{
    if (v < 1000)
        snprintf(buf, cap, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, cap, "%.1fM", v / 1e6);
    else
        snprintf(buf, cap, "%.1fG", v / 1e9);
}

size_t tl_progress_render(const tl_progress *p, int64_t now_ns, char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0)
        return 0;
    buf[0] = '\0';
    if (!p)
        return 0;
    double secs = (double)(now_ns - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)p->done / secs : 0;
    char rate_s[32];
    human(rate, rate_s, sizeof rate_s);
    int n;
    if (p->total > 0) {
        uint64_t done = p->done < p->total ? p->done : p->total;
        unsigned pct = (unsigned)((double)done * 100.0 / (double)p->total);
        char eta[32];
        if (p->done >= p->total) {
            snprintf(eta, sizeof eta, "0:00");
        } else if (rate <= 0) {
            snprintf(eta, sizeof eta, "?");
        } else {
            double left = (double)(p->total - p->done) / rate;
            uint64_t s = left > 1e9 ? (uint64_t)1e9 : (uint64_t)left + (left > (uint64_t)left);
            if (s >= 3600)
                snprintf(eta, sizeof eta, "%u:%02u:%02u", (unsigned)(s / 3600),
                         (unsigned)(s / 60 % 60), (unsigned)(s % 60));
            else
                snprintf(eta, sizeof eta, "%u:%02u", (unsigned)(s / 60), (unsigned)(s % 60));
        }
        n = snprintf(buf, bufsize, "%s %3u%% %llu/%llu %s %s %s/s ETA %s", p->label, pct,
                     (unsigned long long)p->done, (unsigned long long)p->total, p->unit, rate_s,
                     p->unit, eta);
    } else {
        n = snprintf(buf, bufsize, "%s %llu %s %s %s/s", p->label, (unsigned long long)p->done,
                     p->unit, rate_s, p->unit);
    }
    if (n < 0)
        return 0;
    return (size_t)n < bufsize ? (size_t)n : bufsize - 1;
}

static void draw(tl_progress *p, int64_t now_ns, bool final)
{
    char line[256];
    line[0] = '\r';
    size_t n = 1 + tl_progress_render(p, now_ns, line + 1, sizeof line - 8);
    memcpy(line + n, "\x1b[K", 3); /* clear what a longer previous line left */
    n += 3;
    if (final)
        line[n++] = '\n';
    const char *s = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            p->active = false; /* stderr went away: stop trying */
            return;
        }
        s += w;
        n -= (size_t)w;
    }
    p->last_ns = now_ns;
}

void tl_progress_update(tl_progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    if (!p->active)
        return;
    int64_t now = tl_time_mono_ns();
    if (now - p->last_ns < REDRAW_NS)
        return;
    draw(p, now, false);
}

void tl_progress_finish(tl_progress *p)
{
    if (!p)
        return;
    if (p->active)
        draw(p, tl_time_mono_ns(), true);
    free(p);
}
