/* test_core_json.c - jansson helpers with tl_err messages. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/json.h>

#include "testutil.h"

static json_t *parse(const char *text, const char *source, tl_err *err)
{
    return tl_json_parse(text, strlen(text), source, err);
}

Test(json, parses_values)
{
    tl_err err = {0};
    json_t *v = parse("{\"a\":1,\"b\":\"x\",\"c\":[true,null]}", "body", &err);
    cr_assert(v, "%s", err.msg);
    cr_assert(json_is_object(v));
    json_decref(v);
    v = parse("42", "body", &err);
    cr_assert(v && json_is_integer(v), "any single value is accepted");
    json_decref(v);
    v = parse("\"s\"", "body", &err);
    cr_assert(v && json_is_string(v));
    json_decref(v);
}

Test(json, errors_name_source_line_and_column)
{
    tl_err err = {0};
    cr_assert_null(parse("{\n  \"a\": 1,\n  \"b\": ]\n}", "body", &err));
    cr_assert_eq(err.code, TL_EPARSE);
    cr_assert(strncmp(err.msg, "body:3:", 7) == 0, "%s", err.msg);
    /* a source that already names a line gets the column only */
    cr_assert_null(parse("{\"a\": tru}", "tx.jsonl:12", &err));
    cr_assert(strncmp(err.msg, "tx.jsonl:12:", 12) == 0, "%s", err.msg);
    cr_assert_null(strstr(err.msg, "tx.jsonl:12:1:"), "%s", err.msg);
}

Test(json, strictness)
{
    tl_err err = {0};
    cr_assert_null(parse("{\"a\":1} {\"b\":2}", "s", &err), "one value only");
    cr_assert_null(parse("{\"a\":1,\"a\":2}", "s", &err), "duplicate keys are ambiguous");
    cr_assert(strstr(err.msg, "duplicate"), "%s", err.msg);
    cr_assert_null(parse("\"\xff\"", "s", &err), "invalid UTF-8");
    cr_assert_null(parse("\"a\\u0000b\"", "s", &err), "NUL escape");
    cr_assert_null(parse("", "s", &err));
    cr_assert_null(parse("{\"a\":1,}", "s", &err));
    cr_assert_null(tl_json_parse(NULL, 0, "s", &err));
    /* only text[0..len) is read */
    json_t *v = tl_json_parse("[1] trailing", 3, "s", &err);
    cr_assert(v, "%s", err.msg);
    json_decref(v);
}

Test(json, getters)
{
    tl_err err = {0};
    json_t *o = parse("{\"s\":\"str\",\"i\":-7,\"big\":9007199254740993,\"r\":2.5,\"b\":true,"
                      "\"n\":null}", "b", &err);
    cr_assert(o);
    const char *s = NULL;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    cr_assert_eq(tl_json_get_str(o, "s", &s, &err), 0);
    cr_assert_str_eq(s, "str");
    cr_assert_eq(tl_json_get_int(o, "i", &i, &err), 0);
    cr_assert_eq(i, -7);
    cr_assert_eq(tl_json_get_int(o, "big", &i, &err), 0);
    cr_assert_eq(i, INT64_C(9007199254740993), "integers stay exact");
    cr_assert_eq(tl_json_get_num(o, "r", &d, &err), 0);
    cr_assert_float_eq(d, 2.5, 1e-12);
    cr_assert_eq(tl_json_get_num(o, "i", &d, &err), 0, "an integer is a number");
    cr_assert_float_eq(d, -7.0, 1e-12);
    cr_assert_eq(tl_json_get_bool(o, "b", &b, &err), 0);
    cr_assert(b);

    i = 99;
    cr_assert_eq(tl_json_get_int(o, "missing", &i, &err), TL_ENOTFOUND);
    cr_assert_eq(i, 99, "untouched when absent");
    cr_assert_eq(tl_json_get_str(o, "n", &s, &err), TL_ENOTFOUND, "null counts as absent");

    cr_assert_eq(tl_json_get_int(o, "r", &i, &err), TL_EINVAL, "2.5 is not an integer");
    cr_assert(strstr(err.msg, "\"r\" must be an integer"), "%s", err.msg);
    cr_assert_eq(i, 99);
    cr_assert_eq(tl_json_get_str(o, "i", &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"i\" must be a string, not an integer"), "%s", err.msg);
    cr_assert_eq(tl_json_get_bool(o, "s", &b, &err), TL_EINVAL);
    cr_assert_eq(tl_json_get_num(o, "s", &d, &err), TL_EINVAL);

    json_t *arr = json_array();
    cr_assert_eq(tl_json_get_str(arr, "x", &s, &err), TL_EINVAL, "not an object");
    json_decref(arr);
    json_decref(o);
}

Test(json, dump_is_compact_and_ordered)
{
    json_t *o = json_object();
    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_string("é\"\n"));
    json_object_set_new(o, "m", json_pack("[b,n]", 1));
    char *s = tl_json_dump(o);
    cr_assert_str_eq(s, "{\"z\":1,\"a\":\"é\\\"\\n\",\"m\":[true,null]}");
    free(s);
    json_decref(o);
    json_t *n = json_integer(5);
    s = tl_json_dump(n);
    cr_assert_str_eq(s, "5");
    free(s);
    json_decref(n);
    cr_assert_null(tl_json_dump(NULL));
}

Test(json, load_file)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "m.json", "{\n\"k\": [1,\n2,,]\n}\n");
    tl_err err = {0};
    cr_assert_null(tl_json_load_file(path, &err));
    char want[600];
    snprintf(want, sizeof want, "%s:3:", path);
    cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    unlink(path);
    free(path);
    path = tu_write_file(dir, "ok.json", "{\"k\": 1}");
    json_t *v = tl_json_load_file(path, &err);
    cr_assert(v, "%s", err.msg);
    json_decref(v);
    unlink(path);
    free(path);
    cr_assert_null(tl_json_load_file("/nonexistent/x.json", &err));
    cr_assert_eq(err.code, TL_ENOTFOUND);
    rmdir(dir);
    free(dir);
}
