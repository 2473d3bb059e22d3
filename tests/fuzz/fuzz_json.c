/*
 * fuzz_json.c - JSON parsing and the typed getters (include/teller/json.h).
 *
 * A value that parses must dump, parse again to an equal value, and dump to
 * the same text (a fixed point). For an object, every member is read with
 * each typed getter, and exactly the getter of its type succeeds. A failed
 * parse follows the tl_err contract, also with a source that names a line.
 */
#include "fuzz.h"

#include <teller/json.h>

static void check_getters(const json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        tl_err err = {0};
        const char *s = NULL;
        int64_t i = 0;
        double d = 0;
        bool b = false;
        int rs = tl_json_get_str(obj, key, &s, &err);
        int ri = tl_json_get_int(obj, key, &i, &err);
        int rn = tl_json_get_num(obj, key, &d, &err);
        int rb = tl_json_get_bool(obj, key, &b, &err);
        if (json_is_null(v)) {
            FUZZ_CHECK(rs == TL_ENOTFOUND && ri == TL_ENOTFOUND && rn == TL_ENOTFOUND &&
                       rb == TL_ENOTFOUND);
            continue;
        }
        FUZZ_CHECK((rs == 0) == json_is_string(v));
        FUZZ_CHECK((ri == 0) == json_is_integer(v));
        FUZZ_CHECK((rn == 0) == json_is_number(v));
        FUZZ_CHECK((rb == 0) == json_is_boolean(v));
        FUZZ_CHECK(rs == 0 || rs == TL_EINVAL);
        FUZZ_CHECK(ri == 0 || ri == TL_EINVAL);
        FUZZ_CHECK(rn == 0 || rn == TL_EINVAL);
        FUZZ_CHECK(rb == 0 || rb == TL_EINVAL);
        if (rs == 0)
            FUZZ_CHECK(s == json_string_value(v));
        if (ri == 0)
            FUZZ_CHECK(i == (int64_t)json_integer_value(v));
        if (rb == 0)
            FUZZ_CHECK(b == json_is_true(v));
        /* The last failure's message names the key, quoted. */
        tl_err e2 = {0};
        int rc = json_is_string(v) ? tl_json_get_int(obj, key, &i, &e2)
                                   : tl_json_get_str(obj, key, &s, &e2);
        fuzz_check_err(rc, &e2);
    }
    /* A key that is absent, and a getter on a value that is no object. */
    tl_err err = {0};
    int64_t i = 7;
    int rc = tl_json_get_int(obj, "\x01no such key", &i, &err);
    if (!json_object_get(obj, "\x01no such key")) {
        FUZZ_CHECK(rc == TL_ENOTFOUND && i == 7);
        fuzz_check_err(rc, &err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tl_err err = {0};
    json_t *v = tl_json_parse((const char *)data, size, "body", &err);
    if (!v) {
        fuzz_check_err(err.code, &err);
        FUZZ_CHECK(err.code == TL_EPARSE || err.code == TL_ENOMEM);
        tl_err lerr = {0};
        json_t *v2 = tl_json_parse((const char *)data, size, "fuzz.jsonl:12", &lerr);
        FUZZ_CHECK(v2 == NULL);
        fuzz_check_err(lerr.code, &lerr);
        return 0;
    }
    char *d1 = tl_json_dump(v);
    FUZZ_CHECK(d1);
    tl_err e2 = {0};
    json_t *w = tl_json_parse(d1, strlen(d1), "dump", &e2);
    if (!w)
        fprintf(stderr, "dump %s does not parse: %s\n", d1, e2.msg);
    FUZZ_CHECK(w);
    FUZZ_CHECK(json_equal(v, w));
    char *d2 = tl_json_dump(w);
    FUZZ_CHECK(d2 && strcmp(d1, d2) == 0);
    if (json_is_object(v))
        check_getters(v);
    else {
        tl_err ge = {0};
        bool b;
        int rc = tl_json_get_bool(v, "k", &b, &ge);
        FUZZ_CHECK(rc == TL_EINVAL);
        fuzz_check_err(rc, &ge);
    }
    free(d1);
    free(d2);
    json_decref(w);
    json_decref(v);
    return 0;
}
