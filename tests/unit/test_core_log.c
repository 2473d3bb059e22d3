/* test_core_log.c - JSON lines on stderr and error helpers. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/err.h>
#include <teller/log.h>

static char *capture(void (*fn)(void))
{
    int fds[2], saved = dup(2);
    cr_assert_eq(pipe(fds), 0);
    dup2(fds[1], 2);
    close(fds[1]);
    fn();
    dup2(saved, 2);
    close(saved);
    char *out = calloc(1, 65536);
    size_t o = 0;
    ssize_t r;
    while ((r = read(fds[0], out + o, 65535 - o)) > 0)
        o += (size_t)r;
    close(fds[0]);
    return out;
}

static void log_some(void)
{
    tl_log_set_level(TL_LOG_INFO);
    tl_log(TL_LOG_DEBUG, "ingest", "dropped");
    tl_log(TL_LOG_INFO, "ingest", "loaded %d rows from \"%s\"\n\ttab \x01 \xff bad", 3, "a\\b");
    tl_log(TL_LOG_ERROR, "store", "%s", "boom");
}

Test(log, json_lines_with_threshold)
{
    char *out = capture(log_some);
    char *nl = strchr(out, '\n');
    cr_assert(nl);
    *nl = 0;
    json_error_t je;
    json_t *a = json_loads(out, 0, &je);
    cr_assert(a, "line 1 is JSON: %s (%s)", je.text, out);
    cr_assert_str_eq(json_string_value(json_object_get(a, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(a, "module")), "ingest");
    cr_assert_str_eq(json_string_value(json_object_get(a, "msg")),
                     "loaded 3 rows from \"a\\b\"\n\ttab \x01 \xef\xbf\xbd bad");
    const char *ts = json_string_value(json_object_get(a, "ts"));
    cr_assert_eq(strlen(ts), 24, "ISO 8601 with ms: %s", ts);
    cr_assert_eq(ts[10], 'T');
    cr_assert_eq(ts[19], '.');
    cr_assert_eq(ts[23], 'Z');
    json_decref(a);
    char *second = nl + 1;
    nl = strchr(second, '\n');
    cr_assert(nl);
    *nl = 0;
    json_t *b = json_loads(second, 0, &je);
    cr_assert(b);
    cr_assert_str_eq(json_string_value(json_object_get(b, "level")), "error");
    json_decref(b);
    cr_assert_str_eq(nl + 1, "", "debug was dropped");
    free(out);
}

static void log_huge(void)
{
    tl_log_set_level(TL_LOG_DEBUG);
    char big[10000];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tl_log(TL_LOG_WARN, "m", "%s", big);
}

Test(log, long_messages_stay_one_valid_line)
{
    char *out = capture(log_huge);
    size_t len = strlen(out);
    cr_assert_leq(len, 4096, "one write, one line under PIPE_BUF");
    cr_assert_eq(out[len - 1], '\n');
    out[len - 1] = 0;
    cr_assert_null(strchr(out, '\n'));
    json_t *v = json_loads(out, 0, NULL);
    cr_assert(v, "%s", out);
    json_decref(v);
    free(out);
}

static void log_off(void)
{
    tl_log_set_level(TL_LOG_OFF);
    tl_log(TL_LOG_ERROR, "m", "x");
}

Test(log, off_is_silent)
{
    char *out = capture(log_off);
    cr_assert_str_eq(out, "");
    free(out);
}

Test(log, levels)
{
    cr_assert_eq(tl_log_level_parse("debug"), TL_LOG_DEBUG);
    cr_assert_eq(tl_log_level_parse("info"), TL_LOG_INFO);
    cr_assert_eq(tl_log_level_parse("warn"), TL_LOG_WARN);
    cr_assert_eq(tl_log_level_parse("error"), TL_LOG_ERROR);
    cr_assert_eq(tl_log_level_parse("off"), TL_LOG_OFF);
    cr_assert_eq(tl_log_level_parse("loud"), -1);
    cr_assert_eq(tl_log_level_parse(""), -1);
    cr_assert_eq(tl_log_level_parse(NULL), -1);
    cr_assert_eq(tl_log_get_level(), TL_LOG_WARN, "default");
    tl_log_set_level(TL_LOG_ERROR);
    cr_assert_eq(tl_log_get_level(), TL_LOG_ERROR);
}

Test(err, set_prefix_clear)
{
    tl_err err = {0};
    cr_assert_eq(tl_err_set(&err, TL_EPARSE, "tx.csv:%d: bad", 3), TL_EPARSE);
    cr_assert_eq(err.code, TL_EPARSE);
    cr_assert_str_eq(err.msg, "tx.csv:3: bad");
    cr_assert_eq(tl_err_prefix(&err, "ingest %s", "transactions"), TL_EPARSE);
    cr_assert_str_eq(err.msg, "ingest transactions: tx.csv:3: bad");
    tl_err_clear(&err);
    cr_assert_eq(err.code, 0);
    cr_assert_str_eq(err.msg, "");
    cr_assert_eq(tl_err_set(NULL, TL_EIO, "x"), TL_EIO, "NULL err is allowed");
    /* overlong messages are cut, never overflow */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tl_err_set(&err, TL_EINVAL, "%s", big);
    cr_assert_eq(strlen(err.msg), TL_ERR_MSG_SIZE - 1);
    tl_err_prefix(&err, "p");
    cr_assert_eq(strlen(err.msg), TL_ERR_MSG_SIZE - 1);
    cr_assert(strncmp(err.msg, "p: xxx", 6) == 0);
}

Test(err, every_code_has_text_and_slug)
{
#define X(name, value, slug, desc)                              \
    cr_assert_str_eq(tl_strerror(value), desc);                 \
    cr_assert_str_eq(tl_errslug(value), slug);                  \
    cr_assert_eq(name, value);
    TL_ERROR_CODES(X)
#undef X
    cr_assert_str_eq(tl_errslug(-999), "unknown");
    cr_assert_str_eq(tl_strerror(12345), "unknown error");
    cr_assert_str_eq(tl_errslug(TL_ENOTFOUND), "not_found");
}
