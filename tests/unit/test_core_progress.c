/* test_core_progress.c - the progress line: text, and silence off a TTY. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/datetime.h>
#include <teller/progress.h>

/* A progress whose start lies in [*t0, *t1]. */
static tl_progress *make(const char *label, uint64_t total, const char *unit, int64_t *t1)
{
    tl_progress *p = tl_progress_new(label, total, unit, true);
    *t1 = tl_time_mono_ns();
    cr_assert(p);
    return p;
}

Test(progress, render_with_total)
{
    int64_t t1;
    tl_progress *p = make("load", 1000, "rows", &t1);
    tl_progress_update(p, 450);
    char buf[256];
    size_t n = tl_progress_render(p, t1 + 1000000000, buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    cr_assert_str_eq(buf, "load  45% 450/1000 rows 450 rows/s ETA 0:02");
    tl_progress_update(p, 1000);
    tl_progress_render(p, t1 + 2000000000, buf, sizeof buf);
    cr_assert_str_eq(buf, "load 100% 1000/1000 rows 500 rows/s ETA 0:00");
    tl_progress_finish(p);
}

Test(progress, render_rates_and_long_etas)
{
    int64_t t1;
    tl_progress *p = make("ingest tx", 10000000, "rows", &t1);
    tl_progress_update(p, 12345);
    char buf[256];
    tl_progress_render(p, t1 + 10000000000, buf, sizeof buf); /* 10 s */
    /* 1234.5 rows/s; 9987655 left -> 8091 s -> 2:14:51 */
    cr_assert_str_eq(buf, "ingest tx   0% 12345/10000000 rows 1.2k rows/s ETA 2:14:51");
    tl_progress_update(p, 5600000);
    tl_progress_render(p, t1 + 1000000000, buf, sizeof buf);
    cr_assert_str_eq(buf, "ingest tx  56% 5600000/10000000 rows 5.6M rows/s ETA 0:01");
    tl_progress_finish(p);
}

Test(progress, render_without_total)
{
    int64_t t1;
    tl_progress *p = make("scan", 0, "bytes", &t1);
    tl_progress_update(p, 2500);
    char buf[256];
    tl_progress_render(p, t1 + 1000000000, buf, sizeof buf);
    cr_assert_str_eq(buf, "scan 2500 bytes 2.5k bytes/s");
    /* nothing done yet: no division by zero, no ETA guess */
    tl_progress *q = make("x", 10, "rows", &t1);
    tl_progress_render(q, t1, buf, sizeof buf);
    cr_assert(strstr(buf, "x   0% 0/10 rows 0 rows/s ETA ?"), "%s", buf);
    tl_progress_finish(q);
    tl_progress_finish(p);
}

Test(progress, render_truncates_safely)
{
    int64_t t1;
    tl_progress *p = make("a rather long label for a small buffer", 100, "rows", &t1);
    char buf[10];
    size_t n = tl_progress_render(p, t1, buf, sizeof buf);
    cr_assert_eq(n, 9);
    cr_assert_eq(strlen(buf), 9);
    tl_progress_finish(p);
}

static char *capture_stderr(bool quiet, bool tty)
{
    int master = -1, fds[2] = {-1, -1}, saved = dup(2);
    if (tty) {
        master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
            return NULL;
        int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
        cr_assert_geq(slave, 0);
        dup2(slave, 2);
        close(slave);
    } else {
        cr_assert_eq(pipe(fds), 0);
        dup2(fds[1], 2);
        close(fds[1]);
    }
    tl_progress *p = tl_progress_new("job", 100, "rows", quiet);
    for (uint64_t i = 0; i <= 100; i++)
        tl_progress_update(p, i); /* a burst: throttled to one draw */
    tl_progress_finish(p);
    dup2(saved, 2);
    close(saved);
    int rfd = tty ? master : fds[0];
    fcntl(rfd, F_SETFL, O_NONBLOCK);
    char *out = calloc(1, 8192);
    size_t o = 0;
    ssize_t r;
    while (o < 8191 && (r = read(rfd, out + o, 8191 - o)) > 0)
        o += (size_t)r;
    close(rfd);
    return out;
}

Test(progress, silent_off_a_tty_and_when_quiet)
{
    char *out = capture_stderr(false, false);
    cr_assert_str_eq(out, "", "a pipe gets nothing");
    free(out);
    out = capture_stderr(true, true);
    if (!out)
        cr_skip_test("no pty available");
    cr_assert_str_eq(out, "", "quiet gets nothing");
    free(out);
}

Test(progress, draws_on_a_tty)
{
    char *out = capture_stderr(false, true);
    if (!out)
        cr_skip_test("no pty available");
    /* one throttled draw for the burst plus the final line */
    cr_assert(strstr(out, "\rjob 100% 100/100 rows"), "%s", out);
    cr_assert(strstr(out, "ETA 0:00"), "%s", out);
    size_t draws = 0;
    for (const char *s = out; (s = strchr(s, '\r')); s++)
        if (s[1] != '\n') /* the pty turns \n into \r\n */
            draws++;
    cr_assert_leq(draws, 3, "redraws are throttled, got %zu: %s", draws, out);
    free(out);
}
