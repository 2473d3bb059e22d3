/* err.c - the tl_err contract and the code table. */
#include <teller/err.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int tl_err_set(tl_err *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int tl_err_prefix(tl_err *err, const char *fmt, ...)
{
    if (!err)
        return TL_EINTERNAL;
    char prefix[TL_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->code;
    /* Built by hand: the result is meant to be cut at TL_ERR_MSG_SIZE. */
    char out[TL_ERR_MSG_SIZE];
    size_t o = strnlen(prefix, sizeof out - 1);
    memcpy(out, prefix, o);
    size_t old_len = strnlen(err->msg, sizeof err->msg);
    if (old_len && o + 2 < sizeof out) {
        memcpy(out + o, ": ", 2);
        o += 2;
        size_t take = old_len < sizeof out - 1 - o ? old_len : sizeof out - 1 - o;
        memcpy(out + o, err->msg, take);
        o += take;
    }
    out[o] = '\0';
    memcpy(err->msg, out, o + 1);
    return err->code;
}

void tl_err_clear(tl_err *err)
{
    if (err) {
        err->code = TL_OK;
        err->msg[0] = '\0';
    }
}

const char *tl_strerror(int code)
{
    switch (code) {
#define TL_X_DESC(name, value, slug, desc) \
    case value:                            \
        return desc;
        TL_ERROR_CODES(TL_X_DESC)
#undef TL_X_DESC
    default:
        return "unknown error";
    }
}

const char *tl_errslug(int code)
{
    switch (code) {
#define TL_X_SLUG(name, value, slug, desc) \
    case value:                            \
        return slug;
        TL_ERROR_CODES(TL_X_SLUG)
#undef TL_X_SLUG
    default:
        return "unknown";
    }
}

const char *tl__quote(char *buf, size_t bufsize, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t limit = bufsize - 8 < 60 ? bufsize - 8 : 60; /* room for "\xNN", "..." and NUL */
    size_t o = 0, i = 0;
    if (!s)
        len = 0;
    while (i < len && o < limit) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = tl__utf8_seq_len(u + i, len - i);
            if (n > 0) {
                if (o + n > limit)
                    break;
                memcpy(buf + o, u + i, n);
                o += n;
                i += n;
                continue;
            }
        }
        if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '"' || c == '\\') {
            if (c == '"' || c == '\\') {
                buf[o++] = '\\';
                buf[o++] = (char)c;
            } else {
                buf[o++] = '\\';
                buf[o++] = 'x';
                buf[o++] = hex[c >> 4];
                buf[o++] = hex[c & 15];
            }
        } else {
            buf[o++] = (char)c;
        }
        i++;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}
