/* test_ml_frame.c - frames: CSV reading, appending, labels, fingerprints, queries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/ml_data.h>
#include <teller/store.h>

#include "ml/internal.h"
#include "testutil.h"

/* tests/fixtures/ml/NAME, found from this file's own path so the test also
 * runs outside CTest. */
static char *fixture(const char *name)
{
    static char buf[4096];
    const char *src = getenv("TELLER_SRC");
    if (src) {
        snprintf(buf, sizeof buf, "%s/tests/fixtures/ml/%s", src, name);
    } else {
        snprintf(buf, sizeof buf, "%s", __FILE__);
        char *p = strstr(buf, "/unit/test_ml_frame.c");
        cr_assert_not_null(p);
        snprintf(p, sizeof buf - (size_t)(p - buf), "/fixtures/ml/%s", name);
    }
    return buf;
}

static tl_frame *read_text(const char *text, tl_err *err, int *rc)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "t.csv", text);
    tl_frame *f = NULL;
    *rc = tl_frame_read_csv(path, &f, err);
    free(path);
    free(dir);
    return f;
}

Test(ml_frame, reads_fixture_with_missing_tokens)
{
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_read_csv(fixture("kinds.csv"), &f, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_frame_rows(f), 24);
    cr_assert_eq(tl_frame_cols(f), 12);
    cr_assert_str_eq(tl_frame_name(f, 0), "customer_id");
    cr_assert_eq(tl_frame_col(f, "amount"), 1);
    cr_assert_eq(tl_frame_col(f, "nope"), -1);
    cr_assert_str_eq(tl_frame_cell(f, 0, 1), "100.5");
    cr_assert_null(tl_frame_cell(f, 5, 1), "empty is missing");
    cr_assert_null(tl_frame_cell(f, 11, 1), "\"nan\" is missing");
    cr_assert_null(tl_frame_cell(f, 7, 3), "\"NA\" is missing");
    cr_assert_str_eq(tl_frame_cell(f, 1, 8), "inf", "inf stays text");
    cr_assert_null(tl_frame_cell(f, 24, 0), "out of range");
    cr_assert_null(tl_frame_cell(f, 0, 12), "out of range");
    tl_frame_free(f);
}

Test(ml_frame, bom_crlf_quotes_and_every_missing_token)
{
    int rc;
    tl_err err = {0};
    tl_frame *f = read_text("\xEF\xBB\xBF" "a,b\r\n\"x,y\",1\r\nNA,N/A\r\nNaN,nan\r\nnull,NULL\r\n?,\r\n",
                            &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_str_eq(tl_frame_name(f, 0), "a", "BOM stripped");
    cr_assert_eq(tl_frame_rows(f), 5);
    cr_assert_str_eq(tl_frame_cell(f, 0, 0), "x,y");
    for (size_t r = 1; r < 5; r++)
        for (size_t c = 0; c < 2; c++)
            cr_assert_null(tl_frame_cell(f, r, c), "row %zu col %zu", r, c);
    tl_frame_free(f);
}

Test(ml_frame, bad_files)
{
    int rc;
    tl_err err = {0};
    cr_assert_null(read_text("a,b\n1,2\n3\n", &err, &rc));
    cr_assert_eq(rc, TL_EPARSE);
    cr_assert(strstr(err.msg, "t.csv:3") && strstr(err.msg, "1 fields"), "%s", err.msg);

    cr_assert_null(read_text("a,b,a\n1,2,3\n", &err, &rc));
    cr_assert_eq(rc, TL_EINVAL);
    cr_assert(strstr(err.msg, "\"a\" appears twice"), "%s", err.msg);

    cr_assert_null(read_text("a,,c\n1,2,3\n", &err, &rc));
    cr_assert_eq(rc, TL_EINVAL);
    cr_assert(strstr(err.msg, "column 2 has an empty name"), "%s", err.msg);

    cr_assert_null(read_text("", &err, &rc));
    cr_assert_eq(rc, TL_EINVAL);

    cr_assert_null(read_text("a,b\n\"1,2\n", &err, &rc));
    cr_assert_eq(rc, TL_EPARSE, "%s", err.msg);

    tl_frame *f = NULL;
    cr_assert_eq(tl_frame_read_csv("/nonexistent/x.csv", &f, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "/nonexistent/x.csv"), "%s", err.msg);
}

Test(ml_frame, append_copies_and_cells_survive_growth)
{
    const char *names[] = {"a", "b"};
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_new(2, names, &f, &err), 0, "%s", err.msg);
    char a[16] = "first", b[16] = "1";
    const char *row[] = {a, NULL};
    cr_assert_eq(tl_frame_append(f, row, &err), 0);
    const char *kept = tl_frame_cell(f, 0, 0);
    strcpy(a, "changed"); /* checksrc: allow banned (test buffer) */
    cr_assert_str_eq(kept, "first", "cells are copied");
    cr_assert_null(tl_frame_cell(f, 0, 1));
    /* Enough rows to grow the pointer array and fill several blocks. */
    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 100000; i++) {
        snprintf(b, sizeof b, "%d", i);
        const char *r2[] = {i % 97 ? b : big, b};
        cr_assert_eq(tl_frame_append(f, r2, &err), 0);
    }
    cr_assert_eq(tl_frame_rows(f), 100001);
    cr_assert_str_eq(kept, "first", "a borrowed cell survives appends");
    cr_assert_str_eq(tl_frame_cell(f, 100000, 1), "99999");
    cr_assert_eq(strlen(tl_frame_cell(f, 1, 0)), sizeof big - 1);
    tl_frame_free(f);

    const char *dup[] = {"x", "x"};
    cr_assert_eq(tl_frame_new(2, dup, &f, &err), TL_EINVAL);
}

static tl_frame *frame_of(size_t n_rows, const char *const *vals)
{
    const char *names[] = {"y"};
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_new(1, names, &f, &err), 0);
    for (size_t i = 0; i < n_rows; i++)
        cr_assert_eq(tl_frame_append(f, &vals[i], &err), 0);
    return f;
}

Test(ml_frame, labels)
{
    tl_err err = {0};
    uint8_t *y;
    const char *v01[] = {"0", "1", "1", "0"};
    tl_frame *f = frame_of(4, v01);
    cr_assert_eq(tl_frame_label(f, "y", NULL, &y, &err), 0, "%s", err.msg);
    cr_assert(y[0] == 0 && y[1] == 1 && y[2] == 1 && y[3] == 0);
    free(y);
    cr_assert_eq(tl_frame_label(f, "y", "0", &y, &err), 0);
    cr_assert(y[0] == 1 && y[1] == 0);
    free(y);
    cr_assert_eq(tl_frame_label(f, "nope", NULL, &y, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"nope\""), "%s", err.msg);
    tl_frame_free(f);

    const char *yn[] = {"No", "YES", "no"};
    f = frame_of(3, yn);
    cr_assert_eq(tl_frame_label(f, "y", NULL, &y, &err), 0, "%s", err.msg);
    cr_assert(y[0] == 0 && y[1] == 1 && y[2] == 0);
    free(y);
    tl_frame_free(f);

    const char *gb[] = {"good", "bad", "good"};
    f = frame_of(3, gb);
    cr_assert_eq(tl_frame_label(f, "y", NULL, &y, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "positive") && strstr(err.msg, "\"good\"") && strstr(err.msg, "\"bad\""),
              "%s", err.msg);
    cr_assert_eq(tl_frame_label(f, "y", "bad", &y, &err), 0);
    cr_assert(y[1] == 1 && y[0] == 0);
    free(y);
    cr_assert_eq(tl_frame_label(f, "y", "ugly", &y, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "one class"), "%s", err.msg);
    tl_frame_free(f);

    const char *one[] = {"1", "1"};
    f = frame_of(2, one);
    cr_assert_eq(tl_frame_label(f, "y", NULL, &y, &err), TL_EINVAL);
    cr_assert_eq(tl_frame_label(f, "y", "1", &y, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "one class"), "%s", err.msg);
    tl_frame_free(f);

    const char *hole[] = {"1", "0", NULL, "1"};
    f = frame_of(4, hole);
    cr_assert_eq(tl_frame_label(f, "y", NULL, &y, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "missing in data row 3"), "%s", err.msg);
    tl_frame_free(f);
}

Test(ml_frame, fingerprint)
{
    const char *a[] = {"1", "", "x"};
    const char *b[] = {"1", NULL, "x"};
    const char *c[] = {"1", "", "y"};
    tl_frame *fa = frame_of(3, a), *fa2 = frame_of(3, a), *fb = frame_of(3, b), *fc = frame_of(3, c);
    char ha[65], ha2[65], hb[65], hc[65];
    tl_frame_fingerprint(fa, ha);
    tl_frame_fingerprint(fa2, ha2);
    tl_frame_fingerprint(fb, hb);
    tl_frame_fingerprint(fc, hc);
    cr_assert_eq(strlen(ha), 64);
    cr_assert_str_eq(ha, ha2);
    cr_assert_str_neq(ha, hb, "missing differs from \"\"");
    cr_assert_str_neq(ha, hc);
    tl_frame_free(fa);
    tl_frame_free(fa2);
    tl_frame_free(fb);
    tl_frame_free(fc);
}

Test(ml_frame, from_query)
{
    char *url = tu_sqlite_url();
    tl_store *s;
    tl_err err = {0};
    cr_assert_eq(tl_store_open(url, &s, &err), 0, "%s", err.msg);
    tl_frame *f;
    tl_value p[] = {TL_TEXT("hello")};
    cr_assert_eq(tl_frame_from_query(s, "SELECT 1 AS a, 2.5 AS b, NULL AS c, ? AS d UNION ALL "
                                        "SELECT -7, 0.1, 'z', 'w'",
                                     1, p, &f, &err),
                 0, "%s", err.msg);
    cr_assert_eq(tl_frame_rows(f), 2);
    cr_assert_eq(tl_frame_cols(f), 4);
    cr_assert_str_eq(tl_frame_name(f, 3), "d");
    cr_assert_str_eq(tl_frame_cell(f, 0, 0), "1");
    cr_assert_str_eq(tl_frame_cell(f, 0, 1), "2.5");
    cr_assert_null(tl_frame_cell(f, 0, 2));
    cr_assert_str_eq(tl_frame_cell(f, 0, 3), "hello");
    cr_assert_str_eq(tl_frame_cell(f, 1, 0), "-7");
    cr_assert_str_eq(tl_frame_cell(f, 1, 1), "0.10000000000000001", "%%.17g");
    tl_frame_free(f);
    cr_assert_lt(tl_frame_from_query(s, "SELECT nonsense FROM nowhere", 0, NULL, &f, &err), 0);
    tl_store_close(s);
    free(url);
}

Test(ml_frame, german_credit)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data/german_credit/dev.csv", tu_shared_dir());
    FILE *fp = fopen(path, "r");
    if (!fp)
        cr_skip_test("german credit data not found at %s", path);
    fclose(fp);
    tl_frame *f;
    tl_err err = {0};
    cr_assert_eq(tl_frame_read_csv(path, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_frame_rows(f), 800);
    cr_assert_eq(tl_frame_cols(f), 21);
    uint8_t *y;
    cr_assert_eq(tl_frame_label(f, "class", "2", &y, &err), 0, "%s", err.msg);
    size_t pos = 0;
    for (size_t i = 0; i < 800; i++)
        pos += y[i];
    cr_assert_eq(pos, 240, "240 bad credits in dev.csv (counted with Python's csv module)");
    free(y);
    tl_frame_free(f);
}

/* The numbers of a cell: the fast path for plain decimals must give exactly
 * what strtod gives, for every shape it takes and those it hands on. */
Test(frame, parse_num_equals_strtod)
{
    static const char *const fixed[] = {"0",      "-0",     "00012",  "0.05",   "1.",
                                        ".5",     "+5",     "-12.340", "123456789012345",
                                        "1234567890123456", "0.1234567890123456789",
                                        "1e3",    "2.5E-3", "9007199254740993", "1.2.3",
                                        "--5",    ".",      "-",      "12a"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        char *end;
        double want = strtod(fixed[i], &end);
        bool want_ok = end != fixed[i] && *end == '\0';
        double got = 0;
        bool ok = tl__ml_parse_num(fixed[i], &got);
        cr_assert_eq(ok, want_ok, "%s: ok %d", fixed[i], ok);
        if (ok)
            cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, strtod %.17g", fixed[i],
                      got, want);
    }
    uint64_t x = 88172645463325252ull;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int intd = (int)(x % 12), fracd = (int)((x >> 8) % 12);
        uint64_t a = (x >> 16) % 1000000000000ull, b = (x >> 3) % 1000000000000ull;
        snprintf(buf, sizeof buf, "%s%.*llu%s%.*llu", (x >> 60) & 1 ? "-" : "", intd + 1,
                 (unsigned long long)a, fracd ? "." : "", fracd, (unsigned long long)b);
        double want = strtod(buf, NULL), got = 0;
        cr_assert(tl__ml_parse_num(buf, &got), "%s refused", buf);
        cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, strtod %.17g", buf, got,
                  want);
    }
}
