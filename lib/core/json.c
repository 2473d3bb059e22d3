/* json.c - jansson with errors in the tl_err contract. */
#include <teller/json.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Strict: exactly one value of any type, no duplicate keys (ambiguous input
 * in a bank file is an error, not a guess), no NUL escapes; jansson itself
 * rejects invalid UTF-8. */
#define DECODE_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

/* True when s ends in ":<digits>", i.e. already names a line ("f.jsonl:12"). */
static bool names_a_line(const char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    return i < n && i > 0 && s[i - 1] == ':';
}

static void parse_error(const json_error_t *je, const char *source, tl_err *err)
{
    int code = json_error_code(je) == json_error_out_of_memory ? TL_ENOMEM : TL_EPARSE;
    /* jansson's text echoes the offending bytes (control characters, half a
     * UTF-8 sequence): escape it so the message stays one valid line. */
    char text[TL__QUOTE_SIZE * 3];
    tl__quote(text, sizeof text, je->text, strnlen(je->text, sizeof je->text));
    if (names_a_line(source) && je->line <= 1)
        tl_err_set(err, code, "%s:%d: %s", source, je->column > 0 ? je->column : 1, text);
    else
        tl_err_set(err, code, "%s:%d:%d: %s", source, je->line > 0 ? je->line : 1,
                   je->column > 0 ? je->column : 1, text);
}

json_t *tl_json_parse(const char *text, size_t len, const char *source, tl_err *err)
{
    if (!source)
        source = "json";
    if (!text) {
        tl_err_set(err, TL_EINVAL, "%s: no JSON text", source);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(text, len, DECODE_FLAGS, &je);
    if (!v)
        parse_error(&je, source, err);
    return v;
}

json_t *tl_json_load_file(const char *path, tl_err *err)
{
    if (!path) {
        tl_err_set(err, TL_EINVAL, "tl_json_load_file: no path");
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, "cannot open %s: %s", path,
                   strerror(errno));
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadf(fp, DECODE_FLAGS, &je);
    if (!v) {
        if (ferror(fp))
            tl_err_set(err, TL_EIO, "cannot read %s: %s", path, strerror(errno));
        else
            parse_error(&je, path, err);
    }
    fclose(fp);
    return v;
}

char *tl_json_dump(const json_t *v)
{
    if (!v)
        return NULL;
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* The member, or NULL when absent or null (an explicit null is how JSON
 * Lines writers say "no value"). */
static int member(const json_t *obj, const char *key, const json_t **out, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    if (!key)
        return tl_err_set(err, TL_EINVAL, "no key given");
    if (!json_is_object(obj))
        return tl_err_set(err, TL_EINVAL,
                          "cannot read field \"%s\": the value is %s, not an object",
                          tl__quote(q, sizeof q, key, strlen(key)),
                          obj ? type_name(obj) : "missing");
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return tl_err_set(err, TL_ENOTFOUND, "field \"%s\" is missing",
                          tl__quote(q, sizeof q, key, strlen(key)));
    *out = v;
    return 0;
}

static int wrong_type(const char *key, const json_t *v, const char *want, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EINVAL, "field \"%s\" must be %s, not %s",
                      tl__quote(q, sizeof q, key, strlen(key)), want, type_name(v));
}

int tl_json_get_str(const json_t *obj, const char *key, const char **out, tl_err *err)
{
    const json_t *v = NULL;
    int rc = member(obj, key, &v, err);
    if (rc < 0)
        return rc;
    if (!json_is_string(v))
        return wrong_type(key, v, "a string", err);
    if (out)
        *out = json_string_value(v);
    return 0;
}

int tl_json_get_int(const json_t *obj, const char *key, int64_t *out, tl_err *err)
{
    const json_t *v = NULL;
    int rc = member(obj, key, &v, err);
    if (rc < 0)
        return rc;
    if (!json_is_integer(v))
        return wrong_type(key, v, "an integer", err);
    if (out)
        *out = (int64_t)json_integer_value(v);
    return 0;
}

int tl_json_get_num(const json_t *obj, const char *key, double *out, tl_err *err)
{
    const json_t *v = NULL;
    int rc = member(obj, key, &v, err);
    if (rc < 0)
        return rc;
    if (!json_is_number(v))
        return wrong_type(key, v, "a number", err);
    if (out)
        *out = json_number_value(v);
    return 0;
}

int tl_json_get_bool(const json_t *obj, const char *key, bool *out, tl_err *err)
{
    const json_t *v = NULL;
    int rc = member(obj, key, &v, err);
    if (rc < 0)
        return rc;
    if (!json_is_boolean(v))
        return wrong_type(key, v, "true or false", err);
    if (out)
        *out = json_is_true(v);
    return 0;
}
