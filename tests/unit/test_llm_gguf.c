/* test_llm_gguf.c - the GGUF reader (include/teller/llm_gguf.h): the real
 * vocabulary files of ../shared/data/tokenizer, hand-built files covering
 * every metadata type and several tensor types, every truncation point and
 * targeted corruptions. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/llm_gguf.h>

#include "testutil.h"

/* ---- a tiny GGUF writer ----------------------------------------------------------- */

typedef struct wb {
    uint8_t *p;
    size_t n, cap;
} wb;

static void put(wb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void le(wb *b, uint64_t v, int n)
{
    uint8_t x[8];
    for (int i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, (size_t)n);
}

static void u32(wb *b, uint32_t v) { le(b, v, 4); }
static void u64(wb *b, uint64_t v) { le(b, v, 8); }

static void str(wb *b, const char *s)
{
    u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void f32(wb *b, float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    u32(b, x);
}

static void f64(wb *b, double d)
{
    uint64_t x;
    memcpy(&x, &d, 8);
    u64(b, x);
}

static void header(wb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}

static void key(wb *b, const char *k, uint32_t type)
{
    str(b, k);
    u32(b, type);
}

struct tspec {
    const char *name;
    int type;
    uint32_t n_dims;
    uint64_t dims[5]; // one more than allowed, to write a bad descriptor
    uint64_t offset;
};

static void tinfo(wb *b, const struct tspec *t)
{
    str(b, t->name);
    u32(b, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++)
        u64(b, t->dims[d]);
    u32(b, (uint32_t)t->type);
    u64(b, t->offset);
}

/* Pads with zeros to a multiple of align, then appends a data section of
 * data_bytes bytes holding i & 0xff at each offset i. */
static void data_section(wb *b, uint32_t align, size_t data_bytes)
{
    while (b->n % align)
        put(b, "", 1);
    for (size_t i = 0; i < data_bytes; i++) {
        uint8_t x = (uint8_t)i;
        put(b, &x, 1);
    }
}

/* Opens a copy of exactly len bytes, so ASan sees any read past the end;
 * closes the handle on success. */
static int open_copy(const uint8_t *p, size_t len, tl_err *err)
{
    uint8_t *c = malloc(len ? len : 1);
    cr_assert(c);
    if (len)
        memcpy(c, p, len);
    tl_gguf *g = NULL;
    int rc = tl_gguf_open_mem(c, len, "t.gguf", &g, err);
    if (rc == 0)
        tl_gguf_close(g);
    free(c);
    return rc;
}

static void expect_refused(const wb *b, const char *needle)
{
    tl_err err = {0};
    int rc = open_copy(b->p, b->n, &err);
    cr_assert_eq(rc, TL_EPARSE, "expected a parse error with \"%s\", got rc %d (%s)", needle, rc,
                 err.msg);
    cr_assert_eq(err.code, TL_EPARSE);
    cr_assert(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
    cr_assert(strstr(err.msg, "at byte"), "message \"%s\" has no byte offset", err.msg);
    cr_assert(strstr(err.msg, "t.gguf"), "message \"%s\" does not name the file", err.msg);
}

/* ---- the full hand-built file ---------------------------------------------------- */

/* Tensors of several types, at aligned, non-overlapping offsets; the last one
 * ends at the end of the file. Alignment 64. */
static const struct tspec full_tensors[] = {
    {"t.f32", TL_GGUF_TYPE_F32, 2, {4, 3}, 0},       // 48 bytes
    {"t.f16", TL_GGUF_TYPE_F16, 1, {8}, 64},         // 16 bytes
    {"t.q8_0", TL_GGUF_TYPE_Q8_0, 2, {32, 2}, 128},  // 2 blocks of 34 = 68 bytes
    {"t.bf16", TL_GGUF_TYPE_BF16, 4, {2, 2, 2, 2}, 256}, // 32 bytes
    {"t.q4_k", TL_GGUF_TYPE_Q4_K, 1, {256}, 320},    // 144 bytes
};
#define N_FULL_T (sizeof full_tensors / sizeof full_tensors[0])
#define FULL_DATA_BYTES (320 + 144)

static wb build_full(uint32_t version)
{
    wb b = {0};
    header(&b, version, N_FULL_T, 20);
    key(&b, "k.u8", TL_GGUF_VAL_U8), le(&b, 200, 1);
    key(&b, "k.i8", TL_GGUF_VAL_I8), le(&b, (uint8_t)-5, 1);
    key(&b, "k.u16", TL_GGUF_VAL_U16), le(&b, 60000, 2);
    key(&b, "k.i16", TL_GGUF_VAL_I16), le(&b, (uint16_t)-3000, 2);
    key(&b, "k.u32", TL_GGUF_VAL_U32), u32(&b, 4000000000u);
    key(&b, "k.i32", TL_GGUF_VAL_I32), u32(&b, (uint32_t)-7);
    key(&b, "k.f32", TL_GGUF_VAL_F32), f32(&b, 1.5f);
    key(&b, "k.bool", TL_GGUF_VAL_BOOL), le(&b, 1, 1);
    key(&b, "k.str", TL_GGUF_VAL_STRING), str(&b, "héllo");
    key(&b, "k.u64", TL_GGUF_VAL_U64), u64(&b, 1ull << 40);
    key(&b, "k.i64", TL_GGUF_VAL_I64), u64(&b, (uint64_t)-9000000000ll);
    key(&b, "k.f64", TL_GGUF_VAL_F64), f64(&b, 0.25);
    key(&b, "general.alignment", TL_GGUF_VAL_U32), u32(&b, 64);
    key(&b, "a.i16", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_I16), u64(&b, 3);
    le(&b, 1, 2), le(&b, (uint16_t)-2, 2), le(&b, 3, 2);
    key(&b, "a.f32", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_F32), u64(&b, 2);
    f32(&b, -0.5f), f32(&b, 2.0f);
    key(&b, "a.str", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_STRING), u64(&b, 3);
    str(&b, "<s>"), str(&b, ""), str(&b, "▁the");
    key(&b, "a.bool", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_BOOL), u64(&b, 2);
    le(&b, 0, 1), le(&b, 1, 1);
    key(&b, "a.u64", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_U64), u64(&b, 1);
    u64(&b, UINT64_MAX);
    key(&b, "a.empty", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_U8), u64(&b, 0);
    /* An array of two arrays of strings, as merges once were stored. */
    key(&b, "a.nested", TL_GGUF_VAL_ARRAY), u32(&b, TL_GGUF_VAL_ARRAY), u64(&b, 2);
    u32(&b, TL_GGUF_VAL_STRING), u64(&b, 2), str(&b, "a b"), str(&b, "c d");
    u32(&b, TL_GGUF_VAL_STRING), u64(&b, 0);
    for (size_t i = 0; i < N_FULL_T; i++)
        tinfo(&b, &full_tensors[i]);
    data_section(&b, 64, FULL_DATA_BYTES);
    return b;
}

static void check_full(tl_gguf *g, uint32_t version)
{
    tl_err err = {0};
    cr_assert_eq(tl_gguf_version(g), version);
    cr_assert_eq(tl_gguf_alignment(g), 64);
    cr_assert_eq(tl_gguf_data_offset(g) % 64, 0);
    cr_assert_eq(tl_gguf_n_kv(g), 20);
    cr_assert_str_eq(tl_gguf_kv_key(g, 0), "k.u8");
    cr_assert_eq(tl_gguf_kv_type(g, 0), TL_GGUF_VAL_U8);
    cr_assert_null(tl_gguf_kv_key(g, 20));
    cr_assert_eq(tl_gguf_kv_type(g, 20), -1);

    uint32_t u = 0;
    int64_t i = 0;
    float f = 0;
    bool bo = false;
    cr_assert_eq(tl_gguf_get_u32(g, "k.u8", &u, &err), 0); cr_assert_eq(u, 200);
    cr_assert_eq(tl_gguf_get_i64(g, "k.i8", &i, &err), 0); cr_assert_eq(i, -5);
    cr_assert_eq(tl_gguf_get_u32(g, "k.u16", &u, &err), 0); cr_assert_eq(u, 60000);
    cr_assert_eq(tl_gguf_get_i64(g, "k.i16", &i, &err), 0); cr_assert_eq(i, -3000);
    cr_assert_eq(tl_gguf_get_u32(g, "k.u32", &u, &err), 0); cr_assert_eq(u, 4000000000u);
    cr_assert_eq(tl_gguf_get_i64(g, "k.i32", &i, &err), 0); cr_assert_eq(i, -7);
    cr_assert_eq(tl_gguf_get_f32(g, "k.f32", &f, &err), 0); cr_assert_eq(f, 1.5f);
    cr_assert_eq(tl_gguf_get_bool(g, "k.bool", &bo, &err), 0); cr_assert(bo);
    cr_assert_eq(tl_gguf_get_i64(g, "k.u64", &i, &err), 0); cr_assert_eq(i, 1ll << 40);
    cr_assert_eq(tl_gguf_get_i64(g, "k.i64", &i, &err), 0); cr_assert_eq(i, -9000000000ll);
    cr_assert_eq(tl_gguf_get_f32(g, "k.f64", &f, &err), 0); cr_assert_eq(f, 0.25f);
    const char *s;
    size_t n;
    cr_assert_eq(tl_gguf_get_str(g, "k.str", &s, &n, &err), 0);
    cr_assert_eq(n, strlen("héllo")); cr_assert(memcmp(s, "héllo", n) == 0);

    /* Type mismatches and ranges are refused with the key named. */
    cr_assert_eq(tl_gguf_get_u32(g, "k.i8", &u, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "k.i8") && strstr(err.msg, "u32"), "%s", err.msg);
    cr_assert_eq(tl_gguf_get_u32(g, "k.u64", &u, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_get_u32(g, "k.str", &u, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "is string"), "%s", err.msg);
    cr_assert_eq(tl_gguf_get_str(g, "k.u8", &s, &n, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_get_bool(g, "k.u8", &bo, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_get_f32(g, "k.i32", &f, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_get_i64(g, "a.i16", &i, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_get_u32(g, "no.such", &u, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no.such"), "%s", err.msg);
    cr_assert_eq(u, 4000000000u, "a failed getter left *out alone");

    /* Arrays. */
    int et;
    uint64_t cnt;
    cr_assert_eq(tl_gguf_arr_info(g, "a.i16", &et, &cnt, &err), 0);
    cr_assert_eq(et, TL_GGUF_VAL_I16); cr_assert_eq(cnt, 3);
    cr_assert_eq(tl_gguf_arr_i64(g, "a.i16", 1, &i, &err), 0); cr_assert_eq(i, -2);
    cr_assert_eq(tl_gguf_arr_i64(g, "a.i16", 2, &i, &err), 0); cr_assert_eq(i, 3);
    cr_assert_eq(tl_gguf_arr_i64(g, "a.i16", 3, &i, &err), TL_EINVAL);
    cr_assert_eq(tl_gguf_arr_f32(g, "a.f32", 0, &f, &err), 0); cr_assert_eq(f, -0.5f);
    cr_assert_eq(tl_gguf_arr_f32(g, "a.f32", 1, &f, &err), 0); cr_assert_eq(f, 2.0f);
    cr_assert_eq(tl_gguf_arr_str(g, "a.f32", 0, &s, &n, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_arr_info(g, "a.str", &et, &cnt, &err), 0);
    cr_assert_eq(et, TL_GGUF_VAL_STRING); cr_assert_eq(cnt, 3);
    const char *want[] = {"<s>", "", "▁the"};
    for (uint64_t k = 0; k < 3; k++) {
        cr_assert_eq(tl_gguf_arr_str(g, "a.str", k, &s, &n, &err), 0);
        cr_assert_eq(n, strlen(want[k])); cr_assert(memcmp(s, want[k], n) == 0);
    }
    cr_assert_eq(tl_gguf_arr_i64(g, "a.bool", 1, &i, &err), TL_EPARSE);
    cr_assert_eq(tl_gguf_arr_i64(g, "a.u64", 0, &i, &err), TL_EPARSE, "u64 max exceeds int64");
    cr_assert_eq(tl_gguf_arr_info(g, "a.empty", &et, &cnt, &err), 0); cr_assert_eq(cnt, 0);
    cr_assert_eq(tl_gguf_arr_info(g, "a.nested", &et, &cnt, &err), 0);
    cr_assert_eq(et, TL_GGUF_VAL_ARRAY); cr_assert_eq(cnt, 2);
    cr_assert_eq(tl_gguf_arr_str(g, "a.nested", 0, &s, &n, &err), TL_EUNSUPPORTED);
    cr_assert_eq(tl_gguf_arr_info(g, "k.u8", &et, &cnt, &err), TL_EPARSE);

    /* Tensors. */
    cr_assert_eq(tl_gguf_n_tensors(g), N_FULL_T);
    const uint8_t *base = NULL;
    size_t sizes[] = {48, 16, 68, 32, 144};
    for (size_t k = 0; k < N_FULL_T; k++) {
        const struct tspec *t = &full_tensors[k];
        int64_t idx = tl_gguf_find_tensor(g, t->name);
        cr_assert_eq(idx, (int64_t)k);
        tl_gguf_tensor_info info;
        cr_assert_eq(tl_gguf_tensor(g, (size_t)idx, &info), 0);
        cr_assert_str_eq(info.name, t->name);
        cr_assert_eq(info.type, t->type);
        cr_assert_eq(info.n_dims, (int)t->n_dims);
        uint64_t ne = 1;
        for (int d = 0; d < 4; d++) {
            uint64_t want_d = d < (int)t->n_dims ? t->dims[d] : 1;
            cr_assert_eq((uint64_t)info.dims[d], want_d);
            ne *= want_d;
        }
        cr_assert_eq(info.n_elems, ne);
        cr_assert_eq(info.offset, t->offset);
        cr_assert_eq(info.size_bytes, sizes[k], "%s: %llu bytes", t->name,
                     (unsigned long long)info.size_bytes);
        if (k == 0)
            base = info.data;
        /* The data section holds (offset & 0xff) at each offset. */
        const uint8_t *d = info.data;
        cr_assert_eq(d - base, (ptrdiff_t)t->offset);
        cr_assert_eq(d[0], (uint8_t)t->offset);
        cr_assert_eq(d[info.size_bytes - 1], (uint8_t)(t->offset + info.size_bytes - 1));
    }
    cr_assert_eq(tl_gguf_find_tensor(g, "absent"), -1);
    tl_gguf_tensor_info info;
    cr_assert_eq(tl_gguf_tensor(g, N_FULL_T, &info), TL_EINVAL);
}

Test(gguf, full_file_v3_by_path)
{
    wb b = build_full(3);
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/full.gguf", dir);
    FILE *fp = fopen(path, "wb");
    cr_assert(fp);
    cr_assert_eq(fwrite(b.p, 1, b.n, fp), b.n);
    fclose(fp);
    tl_gguf *g = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    check_full(g, 3);
    tl_gguf_close(g);
    unlink(path);
    rmdir(dir);
    free(dir);
    free(b.p);
}

Test(gguf, full_file_v2_in_memory)
{
    wb b = build_full(2);
    tl_gguf *g = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_open_mem(b.p, b.n, "v2.gguf", &g, &err), 0, "%s", err.msg);
    check_full(g, 2);
    tl_gguf_close(g);
    free(b.p);
}

Test(gguf, type_traits)
{
    cr_assert_str_eq(tl_gguf_type_name(TL_GGUF_TYPE_Q4_K), "Q4_K");
    cr_assert_str_eq(tl_gguf_type_name(TL_GGUF_TYPE_BF16), "BF16");
    cr_assert_null(tl_gguf_type_name(4), "Q4_2 is retired");
    cr_assert_null(tl_gguf_type_name(31));
    cr_assert_null(tl_gguf_type_name(-1));
    cr_assert_null(tl_gguf_type_name(TL_GGUF_TYPE_COUNT));
    struct {
        int type;
        size_t bs, bb;
    } want[] = {
        {TL_GGUF_TYPE_F32, 1, 4},    {TL_GGUF_TYPE_F16, 1, 2},    {TL_GGUF_TYPE_Q4_0, 32, 18},
        {TL_GGUF_TYPE_Q4_1, 32, 20}, {TL_GGUF_TYPE_Q5_0, 32, 22}, {TL_GGUF_TYPE_Q5_1, 32, 24},
        {TL_GGUF_TYPE_Q8_0, 32, 34}, {TL_GGUF_TYPE_Q8_1, 32, 36}, {TL_GGUF_TYPE_Q2_K, 256, 84},
        {TL_GGUF_TYPE_Q3_K, 256, 110}, {TL_GGUF_TYPE_Q4_K, 256, 144},
        {TL_GGUF_TYPE_Q5_K, 256, 176}, {TL_GGUF_TYPE_Q6_K, 256, 210},
        {TL_GGUF_TYPE_Q8_K, 256, 292}, {TL_GGUF_TYPE_BF16, 1, 2},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        cr_assert_eq(tl_gguf_type_block_size(want[k].type), want[k].bs);
        cr_assert_eq(tl_gguf_type_block_bytes(want[k].type), want[k].bb, "%s",
                     tl_gguf_type_name(want[k].type));
    }
    cr_assert_eq(tl_gguf_type_block_size(5), 0);
    cr_assert_str_eq(tl_gguf_vtype_name(TL_GGUF_VAL_STRING), "string");
    cr_assert_str_eq(tl_gguf_vtype_name(99), "?");
}

/* ---- refusals ---------------------------------------------------------------------- */

Test(gguf, every_truncation_refused)
{
    wb b = build_full(3);
    for (size_t len = 0; len < b.n; len++) {
        tl_err err = {0};
        int rc = open_copy(b.p, len, &err);
        cr_assert_eq(rc, TL_EPARSE, "prefix of %zu of %zu bytes: rc %d", len, b.n, rc);
        cr_assert(strstr(err.msg, "at byte"), "prefix %zu: %s", len, err.msg);
    }
    tl_err err = {0};
    cr_assert_eq(open_copy(b.p, b.n, &err), 0, "%s", err.msg);
    free(b.p);
}

Test(gguf, bad_magic_and_versions)
{
    wb b = build_full(3);
    b.p[0] = 'X';
    expect_refused(&b, "bad magic");
    b.p[0] = 'G';
    b.p[4] = 1;
    expect_refused(&b, "unsupported version 1");
    b.p[4] = 4;
    expect_refused(&b, "unsupported version 4");
    free(b.p);
    tl_gguf *g;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_open("/nonexistent/x.gguf", &g, &err), TL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent/x.gguf"), "%s", err.msg);
    cr_assert_eq(tl_gguf_open("/tmp", &g, &err), TL_EIO);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "empty.gguf", "");
    cr_assert_eq(tl_gguf_open(path, &g, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "empty.gguf") && strstr(err.msg, "at byte 0"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* A file of one metadata pair whose value bytes the caller writes. */
static wb one_kv(const char *k, uint32_t type)
{
    wb b = {0};
    header(&b, 3, 0, 1);
    key(&b, k, type);
    return b;
}

Test(gguf, metadata_corruptions)
{
    wb b = one_kv("s", TL_GGUF_VAL_STRING);
    u64(&b, UINT64_MAX - 3), put(&b, "abc", 3);
    expect_refused(&b, "string value length 18446744073709551612 exceeds");
    free(b.p);

    b = one_kv("a", TL_GGUF_VAL_ARRAY);
    u32(&b, TL_GGUF_VAL_U32), u64(&b, 1ull << 62), u32(&b, 0); // count * 4 wraps to 0
    expect_refused(&b, "array \"a\" of 4611686018427387904 u32 elements exceeds");
    free(b.p);

    b = one_kv("a", TL_GGUF_VAL_ARRAY);
    u32(&b, TL_GGUF_VAL_STRING), u64(&b, UINT64_MAX / 8 + 2), u64(&b, 0);
    expect_refused(&b, "strings exceeds");
    free(b.p);

    b = one_kv("a", TL_GGUF_VAL_ARRAY);
    u32(&b, TL_GGUF_VAL_STRING), u64(&b, 2), str(&b, "x"), u64(&b, 1000);
    expect_refused(&b, "element 1");
    free(b.p);

    b = one_kv("a", TL_GGUF_VAL_ARRAY);
    u32(&b, TL_GGUF_VAL_ARRAY), u64(&b, 1), u32(&b, 77), u64(&b, 0);
    expect_refused(&b, "unknown value type 77");
    free(b.p);

    b = one_kv("k", 13);
    u64(&b, 0);
    expect_refused(&b, "key \"k\" has unknown value type 13");
    free(b.p);

    b = one_kv("flag", TL_GGUF_VAL_BOOL);
    le(&b, 2, 1);
    expect_refused(&b, "bool value 2");
    free(b.p);

    b = (wb){0};
    header(&b, 3, 0, 1);
    u64(&b, 3), put(&b, "a\0b", 3), u32(&b, TL_GGUF_VAL_U8), le(&b, 1, 1);
    expect_refused(&b, "contains a NUL byte");
    free(b.p);

    b = (wb){0};
    header(&b, 3, 0, 2);
    key(&b, "dup", TL_GGUF_VAL_U8), le(&b, 1, 1);
    key(&b, "dup", TL_GGUF_VAL_U8), le(&b, 2, 1);
    expect_refused(&b, "duplicate metadata key \"dup\"");
    free(b.p);

    b = (wb){0};
    header(&b, 3, 0, UINT64_MAX);
    expect_refused(&b, "metadata count 18446744073709551615 cannot fit");
    free(b.p);

    b = (wb){0};
    header(&b, 3, 1ull << 60, 0);
    expect_refused(&b, "tensor count");
    free(b.p);

    b = one_kv("general.alignment", TL_GGUF_VAL_U32);
    u32(&b, 48);
    expect_refused(&b, "general.alignment 48 is not a power of two");
    free(b.p);

    b = one_kv("general.alignment", TL_GGUF_VAL_U64);
    u64(&b, 32);
    expect_refused(&b, "general.alignment is u64, not u32");
    free(b.p);

    /* A control character in a key is escaped in the message. */
    b = one_kv("bad\nkey", 200);
    expect_refused(&b, "bad\\x0akey");
    free(b.p);
}

/* A file with the given tensors (default alignment 32) and a data section of
 * data_bytes. */
static wb with_tensors(const struct tspec *t, size_t n, size_t data_bytes)
{
    wb b = {0};
    header(&b, 3, n, 0);
    for (size_t i = 0; i < n; i++)
        tinfo(&b, &t[i]);
    data_section(&b, 32, data_bytes);
    return b;
}

Test(gguf, tensor_corruptions)
{
    struct tspec ok[] = {{"w", TL_GGUF_TYPE_F32, 1, {8}, 0}};
    wb b = with_tensors(ok, 1, 32);
    tl_err err = {0};
    cr_assert_eq(open_copy(b.p, b.n, &err), 0, "%s", err.msg);
    free(b.p);

    struct tspec misaligned[] = {{"w", TL_GGUF_TYPE_F32, 1, {8}, 8}};
    b = with_tensors(misaligned, 1, 64);
    expect_refused(&b, "tensor \"w\" offset 8 is not a multiple of the alignment 32");
    free(b.p);

    struct tspec past[] = {{"w", TL_GGUF_TYPE_F32, 1, {8}, 32}};
    b = with_tensors(past, 1, 48);
    expect_refused(&b, "ends past the end of the file");
    free(b.p);

    struct tspec huge[] = {{"w", TL_GGUF_TYPE_F32, 2, {1ull << 30, 1ull << 30}, 0}};
    b = with_tensors(huge, 1, 32);
    expect_refused(&b, "ends past the end of the file");
    free(b.p);

    struct tspec bytes_wrap[] = {{"w", TL_GGUF_TYPE_F32, 2, {1ull << 31, 1ull << 31}, 0}};
    b = with_tensors(bytes_wrap, 1, 32);
    expect_refused(&b, "byte size overflows");
    free(b.p);

    struct tspec overflow[] = {{"w", TL_GGUF_TYPE_F32, 3, {1ull << 32, 1ull << 32, 4}, 0}};
    b = with_tensors(overflow, 1, 32);
    expect_refused(&b, "element count overflows");
    free(b.p);

    struct tspec overlap[] = {{"a", TL_GGUF_TYPE_F32, 1, {16}, 0},
                              {"b", TL_GGUF_TYPE_F32, 1, {8}, 32}};
    b = with_tensors(overlap, 2, 64);
    expect_refused(&b, "tensors \"a\" and \"b\" overlap");
    free(b.p);

    struct tspec same[] = {{"a", TL_GGUF_TYPE_F32, 1, {8}, 0}, {"b", TL_GGUF_TYPE_F16, 1, {16}, 0}};
    b = with_tensors(same, 2, 32);
    expect_refused(&b, "overlap");
    free(b.p);

    struct tspec dup[] = {{"a", TL_GGUF_TYPE_F32, 1, {8}, 0}, {"a", TL_GGUF_TYPE_F32, 1, {8}, 32}};
    b = with_tensors(dup, 2, 64);
    expect_refused(&b, "duplicate tensor name \"a\"");
    free(b.p);

    struct tspec retired[] = {{"w", 4, 1, {32}, 0}};
    b = with_tensors(retired, 1, 32);
    expect_refused(&b, "unknown or retired type id 4");
    free(b.p);

    struct tspec unknown[] = {{"w", 99, 1, {32}, 0}};
    b = with_tensors(unknown, 1, 32);
    expect_refused(&b, "unknown or retired type id 99");
    free(b.p);

    struct tspec rowlen[] = {{"w", TL_GGUF_TYPE_Q8_0, 2, {16, 4}, 0}};
    b = with_tensors(rowlen, 1, 64);
    expect_refused(&b, "row length 16 is not a multiple of the Q8_0 block size 32");
    free(b.p);

    struct tspec dims5[] = {{"w", TL_GGUF_TYPE_F32, 5, {1, 1, 1, 1, 1}, 0}};
    b = with_tensors(dims5, 1, 32);
    expect_refused(&b, "has 5 dimensions");
    free(b.p);

    struct tspec dims0[] = {{"w", TL_GGUF_TYPE_F32, 0, {0}, 0}};
    b = with_tensors(dims0, 1, 32);
    expect_refused(&b, "has 0 dimensions");
    free(b.p);

    struct tspec neg[] = {{"w", TL_GGUF_TYPE_F32, 1, {UINT64_MAX}, 0}};
    b = with_tensors(neg, 1, 32);
    expect_refused(&b, "dimension 0 is negative");
    free(b.p);

    /* Truncated inside the padding before the data section. */
    b = with_tensors(ok, 1, 32);
    size_t infos_end = 24 + 8 + 1 + 4 + 8 + 4 + 8;
    cr_assert(infos_end % 32 != 0);
    b.n = infos_end + 1;
    expect_refused(&b, "data section would start");
    free(b.p);
}

/* ---- the real vocabulary files ---------------------------------------------------- */

Test(gguf, real_vocabularies)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/tokenizer", tu_shared_dir());
    DIR *d = opendir(dir);
    if (!d) {
        cr_skip_test("no %s: the shared tokenizer vocabularies are absent", dir);
        return;
    }
    int n_files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (strncmp(e->d_name, "ggml-vocab-", 11) != 0 || nl < 5 ||
            strcmp(e->d_name + nl - 5, ".gguf") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tl_gguf *g = NULL;
        tl_err err = {0};
        cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s: %s", e->d_name, err.msg);
        cr_assert(tl_gguf_version(g) == 3 || tl_gguf_version(g) == 2);
        const char *model;
        size_t ml;
        cr_assert_eq(tl_gguf_get_str(g, "tokenizer.ggml.model", &model, &ml, &err), 0, "%s: %s",
                     e->d_name, err.msg);
        cr_assert(ml > 0 && ml < 32, "%s: model name of %zu bytes", e->d_name, ml);
        int et;
        uint64_t n_tok = 0;
        cr_assert_eq(tl_gguf_arr_info(g, "tokenizer.ggml.tokens", &et, &n_tok, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(et, TL_GGUF_VAL_STRING);
        cr_assert(n_tok > 1000, "%s: %llu tokens", e->d_name, (unsigned long long)n_tok);
        /* Every token string is reachable and lies within the file; token
         * types and scores, when present, have one entry per token. */
        size_t total = 0;
        for (uint64_t k = 0; k < n_tok; k++) {
            const char *s;
            size_t sl;
            cr_assert_eq(tl_gguf_arr_str(g, "tokenizer.ggml.tokens", k, &s, &sl, &err), 0);
            total += sl;
        }
        cr_assert(total > 0);
        const char *s;
        size_t sl;
        cr_assert_eq(tl_gguf_arr_str(g, "tokenizer.ggml.tokens", n_tok, &s, &sl, &err),
                     TL_EINVAL);
        uint64_t n_types = 0;
        if (tl_gguf_arr_info(g, "tokenizer.ggml.token_type", &et, &n_types, &err) == 0)
            cr_assert_eq(n_types, n_tok, "%s: token_type count", e->d_name);
        uint64_t n_scores = 0;
        if (tl_gguf_arr_info(g, "tokenizer.ggml.scores", &et, &n_scores, &err) == 0) {
            cr_assert_eq(n_scores, n_tok, "%s: scores count", e->d_name);
            float f;
            cr_assert_eq(tl_gguf_arr_f32(g, "tokenizer.ggml.scores", n_tok - 1, &f, &err), 0);
        }
        cr_log_info("%s: v%u, model %.*s, %llu tokens, %zu keys", e->d_name,
                    tl_gguf_version(g), (int)ml, model, (unsigned long long)n_tok,
                    tl_gguf_n_kv(g));
        tl_gguf_close(g);
        n_files++;
    }
    closedir(d);
    cr_assert(n_files > 0, "no ggml-vocab-*.gguf in %s", dir);
}
