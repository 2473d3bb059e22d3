/* log.c - JSON lines on stderr, one write(2) per line. */
#include <teller/datetime.h>
#include <teller/log.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

/* Process-wide by design (log.h): set once at start-up by the program. */
static atomic_int g_level = TL_LOG_WARN;
/* The filter and its argument: ud is stored before fn is published, so a
 * thread that sees fn also sees its ud (log.h: set once at start-up). */
static _Atomic(tl_log_filter_fn) g_filter;
static _Atomic(void *) g_filter_ud;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error", "off"};

/* A line stays under PIPE_BUF so one write(2) is atomic even on a pipe. */
#define LINE_MAX_BYTES 4096
#define MSG_MAX_BYTES 3072

void tl_log_set_filter(tl_log_filter_fn fn, void *ud)
{
    if (!fn) {
        atomic_store_explicit(&g_filter, NULL, memory_order_release);
        atomic_store_explicit(&g_filter_ud, NULL, memory_order_release);
        return;
    }
    atomic_store_explicit(&g_filter_ud, ud, memory_order_release);
    atomic_store_explicit(&g_filter, fn, memory_order_release);
}

void tl_log_set_level(enum tl_log_level level)
{
    if ((int)level < TL_LOG_DEBUG)
        level = TL_LOG_DEBUG;
    if ((int)level > TL_LOG_OFF)
        level = TL_LOG_OFF;
    atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
}

enum tl_log_level tl_log_get_level(void)
{
    return (enum tl_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

int tl_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i <= TL_LOG_OFF; i++)
        if (strcasecmp(s, LEVEL_NAMES[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return TL_LOG_WARN;
    return -1;
}

/* Appends s as the body of a JSON string; invalid UTF-8 becomes U+FFFD so the
 * line always parses. Returns the new length, never past cap - 8. */
static size_t json_escape(char *out, size_t o, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;
    while (i < len && o + 8 < cap) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = tl__utf8_seq_len(u + i, len - i);
            if (n == 0) {
                memcpy(out + o, "\\ufffd", 6);
                o += 6;
                i++;
            } else {
                if (o + n + 8 >= cap)
                    break;
                memcpy(out + o, u + i, n);
                o += n;
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"': out[o++] = '\\'; out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
        case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
        case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
        case '\t': out[o++] = '\\'; out[o++] = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(out + o, "\\u00", 4);
                out[o + 4] = hex[c >> 4];
                out[o + 5] = hex[c & 15];
                o += 6;
            } else {
                out[o++] = (char)c;
            }
        }
        i++;
    }
    return o;
}

static size_t append(char *out, size_t o, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (o + n >= cap)
        n = cap - o - 1;
    memcpy(out + o, s, n);
    return o + n;
}

void tl_log(enum tl_log_level level, const char *module, const char *fmt, ...)
{
    if ((int)level < atomic_load_explicit(&g_level, memory_order_relaxed) || level >= TL_LOG_OFF ||
        (int)level < 0)
        return;
    int saved_errno = errno; /* callers often log then report errno */

    char msg[MSG_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';

    /* Filtered text may grow (placeholders can be longer than what they
     * replace); the line limit below cuts it like any long message. */
    char filtered[MSG_MAX_BYTES + 1024];
    const char *text = msg;
    tl_log_filter_fn filter = atomic_load_explicit(&g_filter, memory_order_acquire);
    if (filter) {
        void *ud = atomic_load_explicit(&g_filter_ud, memory_order_acquire);
        size_t fl = filter(ud, msg, strlen(msg), filtered, sizeof filtered);
        if (fl >= sizeof filtered)
            fl = sizeof filtered - 1;
        filtered[fl] = '\0';
        text = filtered;
    }

    char ts[32];
    if (tl_time_format(tl_time_now_ms(), ts, sizeof ts) < 0)
        ts[0] = '\0';
    /* Always three decimals, so log timestamps have one fixed width. */
    size_t tl = strlen(ts);
    if (tl == 20) /* "YYYY-MM-DDTHH:MM:SSZ": a whole second */
        memcpy(ts + 19, ".000Z", 6);

    char line[LINE_MAX_BYTES];
    size_t o = 0;
    o = append(line, o, sizeof line, "{\"ts\":\"");
    o = append(line, o, sizeof line, ts);
    o = append(line, o, sizeof line, "\",\"level\":\"");
    o = append(line, o, sizeof line, LEVEL_NAMES[level]);
    o = append(line, o, sizeof line, "\",\"module\":\"");
    o = json_escape(line, o, sizeof line - 64, module ? module : "");
    o = append(line, o, sizeof line, "\",\"msg\":\"");
    o = json_escape(line, o, sizeof line - 4, text);
    o = append(line, o, sizeof line, "\"}\n");

    const char *p = line;
    while (o > 0) {
        ssize_t w = write(STDERR_FILENO, p, o);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += w;
        o -= (size_t)w;
    }
    errno = saved_errno;
}
