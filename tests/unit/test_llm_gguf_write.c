/* test_llm_gguf_write.c - the GGUF writer and the random-model generator
 * (include/teller/llm_gguf_write.h): files reopen with the reader with every
 * key, tensor, type, shape and byte intact; every encoding round-trips to the
 * generator's float values within its quantization error; the llama.cpp
 * mixes pick llama.cpp's per-tensor types, fallbacks included; bad specs and
 * unwritable paths are clear errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <teller/llm_gguf.h>
#include <teller/llm_gguf_write.h>
#include <teller/llm_quant.h>
#include <teller/llm_tokenizer.h>

#include "testutil.h"

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void str_eq(const tl_gguf *g, const char *key, const char *want)
{
    const char *s;
    size_t n;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_get_str(g, key, &s, &n, &err), 0, "%s: %s", key, err.msg);
    cr_assert_eq(n, strlen(want), "%s: length %zu, want %zu", key, n, strlen(want));
    cr_assert(memcmp(s, want, n) == 0, "%s differs", key);
}

static uint32_t get_u32(const tl_gguf *g, const char *key)
{
    uint32_t v = 0;
    tl_err err = {0};
    cr_assert_eq(tl_gguf_get_u32(g, key, &v, &err), 0, "%s: %s", key, err.msg);
    return v;
}

static int kv_type(const tl_gguf *g, const char *key)
{
    int64_t i = tl_gguf_find_kv(g, key);
    cr_assert(i >= 0, "key %s is missing", key);
    return tl_gguf_kv_type(g, (size_t)i);
}

/* ---- the writer ------------------------------------------------------------------- */

Test(gguf_write, every_value_type_and_tensor_round_trips)
{
    tl_err err = {0};
    tl_gguf_writer *w;
    cr_assert_eq(tl_gguf_writer_new(&w, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_u8(w, "t.u8", 200, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_i8(w, "t.i8", -100, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_u16(w, "t.u16", 60000, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_i16(w, "t.i16", -30000, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_u32(w, "t.u32", 4000000000u, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_i32(w, "t.i32", -2000000000, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_u64(w, "t.u64", 1ull << 40, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_i64(w, "t.i64", -(1ll << 40), &err), 0);
    cr_assert_eq(tl_gguf_writer_set_f32(w, "t.f32", 1.5f, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_f64(w, "t.f64", -2.25, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_bool(w, "t.bool", true, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_str(w, "t.str", "placeholder", &err), 0);
    /* Replacing keeps one key, with the new value. */
    cr_assert_eq(tl_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo", &err), 0);
    const char *strs[] = {"a", "", "<0x0A>", "\xe2\x96\x81the"};
    cr_assert_eq(tl_gguf_writer_set_arr_str(w, "t.astr", strs, NULL, 4, &err), 0);
    int32_t ints[] = {1, -2, 3};
    cr_assert_eq(tl_gguf_writer_set_arr(w, "t.ai32", TL_GGUF_VAL_I32, ints, 3, &err), 0);
    float fl[] = {0.5f, -1.0f};
    cr_assert_eq(tl_gguf_writer_set_arr(w, "t.af32", TL_GGUF_VAL_F32, fl, 2, &err), 0);
    uint8_t bools[] = {1, 0, 1};
    cr_assert_eq(tl_gguf_writer_set_arr(w, "t.abool", TL_GGUF_VAL_BOOL, bools, 3, &err), 0);
    uint8_t bad_bool = 2;
    cr_assert_eq(tl_gguf_writer_set_arr(w, "t.bad", TL_GGUF_VAL_BOOL, &bad_bool, 1, &err),
                 TL_EINVAL);
    cr_assert_eq(tl_gguf_writer_set_arr(w, "t.bad", TL_GGUF_VAL_STRING, strs, 1, &err),
                 TL_EINVAL);
    cr_assert_eq(tl_gguf_writer_set_alignment(w, 64, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_alignment(w, 48, &err), TL_EINVAL);

    /* Tensors: F32 3x64 (ggml order: 64 per row), Q8_0 2x64, F16 1-D 5. */
    float a[192];
    for (int i = 0; i < 192; i++)
        a[i] = (float)i * 0.25f - 7.0f;
    uint8_t q[2 * 68];
    cr_assert_eq(tl_q_quantize_row(TL_GGUF_TYPE_Q8_0, a, q, 128), 0);
    uint16_t h[5] = {0x3c00, 0x4000, 0xbc00, 0, 0x7bff};
    int64_t da[2] = {64, 3}, dq[2] = {64, 2}, dh[1] = {5};
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "a.weight", TL_GGUF_TYPE_F32, 2, da, a, &err), 0);
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "q.weight", TL_GGUF_TYPE_Q8_0, 2, dq, q, &err), 0);
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "h.bias", TL_GGUF_TYPE_F16, 1, dh, h, &err), 0);
    /* Refusals name the tensor. */
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "a.weight", TL_GGUF_TYPE_F32, 2, da, a, &err),
                 TL_EINVAL);
    cr_assert(strstr(err.msg, "\"a.weight\" added twice"), "%s", err.msg);
    int64_t bad_row[2] = {40, 2};
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "r.weight", TL_GGUF_TYPE_Q8_0, 2, bad_row, q, &err),
                 TL_EINVAL);
    cr_assert(strstr(err.msg, "\"r.weight\"") && strstr(err.msg, "multiple"), "%s", err.msg);
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "x.weight", 4, 1, dh, h, &err), TL_EINVAL);

    char *dir = tu_tmpdir();
    char *path = path_in(dir, "all.gguf");
    cr_assert_eq(tl_gguf_writer_write(w, path, NULL, NULL, &err), 0, "%s", err.msg);
    char *tmp = path_in(dir, "all.gguf.tmp");
    cr_assert(access(tmp, F_OK) != 0, "the temporary file is left behind");

    tl_gguf *g;
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_gguf_version(g), 3);
    cr_assert_eq(tl_gguf_alignment(g), 64);
    cr_assert_eq(tl_gguf_data_offset(g) % 64, 0);
    cr_assert_eq(tl_gguf_n_kv(g), 17); // 16 set + general.alignment
    cr_assert_str_eq(tl_gguf_kv_key(g, 0), "t.u8");
    int want_types[] = {TL_GGUF_VAL_U8,  TL_GGUF_VAL_I8,  TL_GGUF_VAL_U16, TL_GGUF_VAL_I16,
                        TL_GGUF_VAL_U32, TL_GGUF_VAL_I32, TL_GGUF_VAL_U64, TL_GGUF_VAL_I64,
                        TL_GGUF_VAL_F32, TL_GGUF_VAL_F64, TL_GGUF_VAL_BOOL, TL_GGUF_VAL_STRING};
    for (int i = 0; i < 12; i++)
        cr_assert_eq(tl_gguf_kv_type(g, (size_t)i), want_types[i], "pair %d", i);
    int64_t v;
    cr_assert_eq(tl_gguf_get_i64(g, "t.u8", &v, &err), 0);
    cr_assert_eq(v, 200);
    cr_assert_eq(tl_gguf_get_i64(g, "t.i8", &v, &err), 0);
    cr_assert_eq(v, -100);
    cr_assert_eq(tl_gguf_get_i64(g, "t.u16", &v, &err), 0);
    cr_assert_eq(v, 60000);
    cr_assert_eq(tl_gguf_get_i64(g, "t.i16", &v, &err), 0);
    cr_assert_eq(v, -30000);
    cr_assert_eq(get_u32(g, "t.u32"), 4000000000u);
    cr_assert_eq(tl_gguf_get_i64(g, "t.i32", &v, &err), 0);
    cr_assert_eq(v, -2000000000);
    cr_assert_eq(tl_gguf_get_i64(g, "t.u64", &v, &err), 0);
    cr_assert_eq(v, 1ll << 40);
    cr_assert_eq(tl_gguf_get_i64(g, "t.i64", &v, &err), 0);
    cr_assert_eq(v, -(1ll << 40));
    float f;
    cr_assert_eq(tl_gguf_get_f32(g, "t.f32", &f, &err), 0);
    cr_assert_eq(f, 1.5f);
    cr_assert_eq(tl_gguf_get_f32(g, "t.f64", &f, &err), 0);
    cr_assert_eq(f, -2.25f);
    bool b;
    cr_assert_eq(tl_gguf_get_bool(g, "t.bool", &b, &err), 0);
    cr_assert(b);
    str_eq(g, "t.str", "h\xc3\xa9llo");
    int et;
    uint64_t n;
    cr_assert_eq(tl_gguf_arr_info(g, "t.astr", &et, &n, &err), 0);
    cr_assert_eq(et, TL_GGUF_VAL_STRING);
    cr_assert_eq(n, 4);
    for (uint64_t i = 0; i < 4; i++) {
        const char *s;
        size_t len;
        cr_assert_eq(tl_gguf_arr_str(g, "t.astr", i, &s, &len, &err), 0);
        cr_assert_eq(len, strlen(strs[i]));
        cr_assert(memcmp(s, strs[i], len) == 0);
    }
    cr_assert_eq(tl_gguf_arr_info(g, "t.ai32", &et, &n, &err), 0);
    cr_assert_eq(et, TL_GGUF_VAL_I32);
    for (uint64_t i = 0; i < 3; i++) {
        cr_assert_eq(tl_gguf_arr_i64(g, "t.ai32", i, &v, &err), 0);
        cr_assert_eq(v, ints[i]);
    }
    cr_assert_eq(tl_gguf_arr_f32(g, "t.af32", 1, &f, &err), 0);
    cr_assert_eq(f, -1.0f);
    cr_assert_eq(tl_gguf_arr_info(g, "t.abool", &et, &n, &err), 0);
    cr_assert_eq(et, TL_GGUF_VAL_BOOL);
    cr_assert_eq(n, 3);
    cr_assert_eq(get_u32(g, "general.alignment"), 64);

    cr_assert_eq(tl_gguf_n_tensors(g), 3);
    const struct {
        const char *name;
        int type, n_dims;
        int64_t d0, d1;
        const void *data;
        size_t bytes;
    } want[] = {{"a.weight", TL_GGUF_TYPE_F32, 2, 64, 3, a, sizeof a},
                {"q.weight", TL_GGUF_TYPE_Q8_0, 2, 64, 2, q, sizeof q},
                {"h.bias", TL_GGUF_TYPE_F16, 1, 5, 1, h, sizeof h}};
    for (size_t i = 0; i < 3; i++) {
        tl_gguf_tensor_info ti;
        cr_assert_eq(tl_gguf_tensor(g, i, &ti), 0);
        cr_assert_str_eq(ti.name, want[i].name);
        cr_assert_eq(ti.type, want[i].type);
        cr_assert_eq(ti.n_dims, want[i].n_dims);
        cr_assert_eq(ti.dims[0], want[i].d0);
        cr_assert_eq(ti.dims[1], want[i].d1);
        cr_assert_eq(ti.size_bytes, want[i].bytes);
        cr_assert_eq(ti.offset % 64, 0);
        cr_assert(memcmp(ti.data, want[i].data, want[i].bytes) == 0, "%s bytes", ti.name);
    }

    /* The in-memory form is the same file, byte for byte. */
    void *mem;
    size_t mem_len;
    cr_assert_eq(tl_gguf_writer_write_mem(w, NULL, NULL, &mem, &mem_len, &err), 0);
    FILE *fp = fopen(path, "rb");
    cr_assert(fp);
    uint8_t *file = malloc(mem_len + 1);
    cr_assert(file);
    size_t got = fread(file, 1, mem_len + 1, fp);
    fclose(fp);
    cr_assert_eq(got, mem_len);
    cr_assert(memcmp(file, mem, mem_len) == 0);
    free(file);
    free(mem);

    /* Copying every key through the reader gives the same values. */
    tl_gguf_writer *w2;
    cr_assert_eq(tl_gguf_writer_new(&w2, &err), 0);
    size_t n_copied = 0;
    for (size_t i = 0; i < tl_gguf_n_kv(g); i++) {
        const char *key = tl_gguf_kv_key(g, i);
        if (strcmp(key, "t.abool") == 0) {
            cr_assert_eq(tl_gguf_writer_copy_kv(w2, g, key, &err), TL_EUNSUPPORTED);
            continue;
        }
        cr_assert_eq(tl_gguf_writer_copy_kv(w2, g, key, &err), 0, "%s", err.msg);
        n_copied++;
    }
    cr_assert_eq(tl_gguf_writer_copy_kv(w2, g, "no.such", &err), TL_ENOTFOUND);
    cr_assert_eq(tl_gguf_writer_write_mem(w2, NULL, NULL, &mem, &mem_len, &err), 0);
    tl_gguf *g2;
    cr_assert_eq(tl_gguf_open_mem(mem, mem_len, "copy", &g2, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_gguf_n_kv(g2), n_copied);
    for (size_t i = 0; i < tl_gguf_n_kv(g2); i++) {
        const char *key = tl_gguf_kv_key(g2, i);
        cr_assert_eq(tl_gguf_kv_type(g2, i), kv_type(g, key), "%s", key);
    }
    cr_assert_eq(tl_gguf_arr_str(g2, "t.astr", 3, &strs[0], &n, &err), 0);
    cr_assert_eq(tl_gguf_get_i64(g2, "t.i64", &v, &err), 0);
    cr_assert_eq(v, -(1ll << 40));
    tl_gguf_close(g2);
    free(mem);
    tl_gguf_writer_free(w2);

    tl_gguf_close(g);
    tl_gguf_writer_free(w);
    unlink(path);
    rmdir(dir);
    free(tmp);
    free(path);
    free(dir);
}

Test(gguf_write, unwritable_path_is_named)
{
    tl_err err = {0};
    tl_gguf_writer *w;
    cr_assert_eq(tl_gguf_writer_new(&w, &err), 0);
    cr_assert_eq(tl_gguf_writer_set_str(w, "general.architecture", "llama", &err), 0);
    int rc = tl_gguf_writer_write(w, "/nonexistent-teller-dir/m.gguf", NULL, NULL, &err);
    cr_assert_eq(rc, TL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent-teller-dir/m.gguf"), "%s", err.msg);
    tl_gguf_writer_free(w);

    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    rc = tl_llm_gen_random(&s, "/nonexistent-teller-dir/r.gguf", &err);
    cr_assert_eq(rc, TL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent-teller-dir/r.gguf"), "%s", err.msg);
}

/* A fill callback's failure stops the write and leaves no file. */
static int failing_fill(void *ud, size_t i, const char *name, void *buf, uint64_t size,
                        tl_err *err)
{
    (void)ud;
    (void)i;
    (void)buf;
    (void)size;
    return tl_err_set(err, TL_EINVAL, "fill refused %s", name);
}

Test(gguf_write, fill_failure_leaves_nothing)
{
    tl_err err = {0};
    tl_gguf_writer *w;
    cr_assert_eq(tl_gguf_writer_new(&w, &err), 0);
    int64_t d[1] = {32};
    cr_assert_eq(tl_gguf_writer_add_tensor(w, "x.weight", TL_GGUF_TYPE_F32, 1, d, NULL, &err), 0);
    char *dir = tu_tmpdir();
    char *path = path_in(dir, "f.gguf");
    cr_assert_eq(tl_gguf_writer_write(w, path, failing_fill, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "fill refused x.weight"), "%s", err.msg);
    cr_assert(access(path, F_OK) != 0);
    char *tmp = path_in(dir, "f.gguf.tmp");
    cr_assert(access(tmp, F_OK) != 0);
    /* Without a callback the write is refused, not crashed. */
    cr_assert_eq(tl_gguf_writer_write(w, path, NULL, NULL, &err), TL_EINVAL);
    tl_gguf_writer_free(w);
    rmdir(dir);
    free(tmp);
    free(path);
    free(dir);
}

/* ---- random models ------------------------------------------------------------------- */

/* RMS of (decoded - original) over the tensor, relative to the weight std,
 * for every tensor of a generated file; checks the layout on the way. */
static double worst_rel_rmse(const tl_llm_gen_spec *s, const tl_gguf *g, int want_matrix_type)
{
    tl_err err = {0};
    double worst = 0;
    for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
        tl_gguf_tensor_info ti;
        cr_assert_eq(tl_gguf_tensor(g, i, &ti), 0);
        int want;
        cr_assert_eq(tl_llm_gen_tensor_type(s, ti.name, ti.dims[0], &want, &err), 0);
        cr_assert_eq(ti.type, want, "%s: type %s, want %s", ti.name, tl_gguf_type_name(ti.type),
                     tl_gguf_type_name(want));
        if (want_matrix_type >= 0 && ti.n_dims == 2)
            cr_assert_eq(ti.type, want_matrix_type, "%s", ti.name);
        if (ti.n_dims == 1)
            cr_assert_eq(ti.type, TL_GGUF_TYPE_F32, "%s", ti.name);
        float *orig = malloc(ti.n_elems * sizeof *orig);
        float *dec = malloc(ti.n_elems * sizeof *dec);
        cr_assert(orig && dec);
        cr_assert_eq(tl_llm_gen_values(s, ti.name, ti.dims[0], (int64_t)ti.n_elems, orig, &err),
                     0);
        size_t rb = tl_q_row_size(ti.type, ti.dims[0]);
        for (int64_t r = 0; r < (int64_t)ti.n_elems / ti.dims[0]; r++)
            cr_assert_eq(tl_q_dequantize_row(ti.type, (const uint8_t *)ti.data + r * rb,
                                             dec + r * ti.dims[0], ti.dims[0]),
                         0);
        double se = 0, ss = 0;
        for (uint64_t k = 0; k < ti.n_elems; k++) {
            se += (double)(dec[k] - orig[k]) * (dec[k] - orig[k]);
            ss += (double)orig[k] * orig[k];
        }
        double rmse = sqrt(se / (double)ti.n_elems) / 0.02;
        if (strstr(ti.name, "_norm.weight"))
            cr_assert_eq(se, 0.0, "%s: norms are exactly 1", ti.name);
        else
            /* The originals are N(0, 0.02): their RMS is the std. */
            cr_assert(fabs(sqrt(ss / (double)ti.n_elems) - 0.02) < 0.002, "%s: rms %g", ti.name,
                      sqrt(ss / (double)ti.n_elems));
        if (rmse > worst)
            worst = rmse;
        free(orig);
        free(dec);
    }
    return worst;
}

Test(gen_random, every_type_round_trips_within_its_tolerance, .timeout = 300)
{
    /* Relative RMS error bounds (of the weight std): about twice what
     * round-to-nearest gives for each block format; a wrong scale, layout or
     * row order gives about 1.4. */
    static const struct {
        const char *type;
        int matrix; // the type of every matrix, or -1 for a mix
        double tol;
    } cases[] = {
        {"f32", TL_GGUF_TYPE_F32, 0.0},   {"f16", TL_GGUF_TYPE_F16, 0.001},
        {"bf16", TL_GGUF_TYPE_BF16, 0.01}, {"q8_0", TL_GGUF_TYPE_Q8_0, 0.02},
        {"q6_k", TL_GGUF_TYPE_Q6_K, 0.05}, {"q5_0", -1, 0.1},
        {"q5_1", -1, 0.1},                {"q4_0", -1, 0.2},
        {"q4_1", -1, 0.2},                {"q4_k_s", -1, 0.2},
        {"q4_k_m", -1, 0.2},              {"q5_k_s", -1, 0.1},
        {"q5_k_m", -1, 0.1},
    };
    char *dir = tu_tmpdir();
    char *path = path_in(dir, "m.gguf");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tl_err err = {0};
        tl_llm_gen_spec s;
        cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
        s.type = cases[c].type;
        s.seed = 7;
        s.n_threads = 2;
        cr_assert_eq(tl_llm_gen_random(&s, path, &err), 0, "%s: %s", cases[c].type, err.msg);
        tl_gguf *g;
        cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
        str_eq(g, "general.architecture", "llama");
        cr_assert_eq(get_u32(g, "general.file_type"), (uint32_t)tl_llm_gen_file_type(s.type));
        cr_assert_eq(get_u32(g, "llama.block_count"), 2);
        cr_assert_eq(get_u32(g, "llama.embedding_length"), 256);
        cr_assert_eq(get_u32(g, "llama.feed_forward_length"), 512);
        cr_assert_eq(get_u32(g, "llama.attention.head_count"), 4);
        cr_assert_eq(get_u32(g, "llama.attention.head_count_kv"), 2);
        cr_assert_eq(get_u32(g, "llama.rope.dimension_count"), 64);
        cr_assert_eq(kv_type(g, "llama.rope.freq_base"), TL_GGUF_VAL_F32);
        cr_assert_eq(kv_type(g, "llama.attention.layer_norm_rms_epsilon"), TL_GGUF_VAL_F32);
        /* 1 + 9 per layer + output_norm + output (untied). */
        cr_assert_eq(tl_gguf_n_tensors(g), 1 + 2 * 9 + 2);
        tl_gguf_tensor_info ti;
        cr_assert_eq(tl_gguf_tensor(g, (size_t)tl_gguf_find_tensor(g, "blk.1.attn_k.weight"), &ti),
                     0);
        cr_assert_eq(ti.dims[0], 256); // row length n_embd
        cr_assert_eq(ti.dims[1], 128); // 2 kv heads x 64
        cr_assert_eq(tl_gguf_tensor(g, (size_t)tl_gguf_find_tensor(g, "blk.0.ffn_down.weight"),
                                    &ti),
                     0);
        cr_assert_eq(ti.dims[0], 512);
        cr_assert_eq(ti.dims[1], 256);
        double worst = worst_rel_rmse(&s, g, cases[c].matrix);
        cr_assert(worst <= cases[c].tol, "%s: worst relative rmse %g > %g", cases[c].type, worst,
                  cases[c].tol);
        tl_gguf_close(g);
    }
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(gen_random, q4_k_m_types_on_a_256_multiple)
{
    /* tiny-llama: 2 layers, untied. use_more_bits(i, 2): layer 1 only. */
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    s.type = "q4_k_m";
    const struct {
        const char *name;
        int64_t ncols;
        int type;
    } want[] = {
        {"token_embd.weight", 256, TL_GGUF_TYPE_Q4_K}, // untied: the base type
        {"output.weight", 256, TL_GGUF_TYPE_Q6_K},
        {"blk.0.attn_v.weight", 256, TL_GGUF_TYPE_Q4_K},
        {"blk.1.attn_v.weight", 256, TL_GGUF_TYPE_Q6_K},
        {"blk.0.ffn_down.weight", 512, TL_GGUF_TYPE_Q4_K},
        {"blk.1.ffn_down.weight", 512, TL_GGUF_TYPE_Q6_K},
        {"blk.1.attn_q.weight", 256, TL_GGUF_TYPE_Q4_K},
        {"blk.1.ffn_norm.weight", 256, TL_GGUF_TYPE_F32},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int t = -1;
        cr_assert_eq(tl_llm_gen_tensor_type(&s, want[i].name, want[i].ncols, &t, &err), 0);
        cr_assert_eq(t, want[i].type, "%s: %s", want[i].name, tl_gguf_type_name(t));
    }
    /* Tied: the embedding is quantized as the output. */
    s.tied = true;
    int t;
    cr_assert_eq(tl_llm_gen_tensor_type(&s, "token_embd.weight", 256, &t, &err), 0);
    cr_assert_eq(t, TL_GGUF_TYPE_Q6_K);
    /* pure: every matrix in the base type. */
    s.pure = true;
    cr_assert_eq(tl_llm_gen_tensor_type(&s, "blk.1.attn_v.weight", 256, &t, &err), 0);
    cr_assert_eq(t, TL_GGUF_TYPE_Q4_K);
}

Test(gen_random, q4_k_m_on_896_wide_rows_falls_back, .timeout = 300)
{
    /* Qwen2.5-0.5B's width, 8 layers: use_more_bits picks layers 0, 3, 6, 7. */
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-qwen2", &s, &err), 0);
    cr_assert_eq(tl_llm_gen_parse_shape("embd=896,heads=14,kv_heads=2,layers=8,ff=512", &s, &err),
                 0, "%s", err.msg);
    s.type = "q4_k_m";
    s.seed = 3;
    char *dir = tu_tmpdir();
    char *path = path_in(dir, "q.gguf");
    cr_assert_eq(tl_llm_gen_random(&s, path, &err), 0, "%s", err.msg);
    tl_gguf *g;
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_gguf_find_tensor(g, "output.weight"), -1, "tied: no output.weight");
    cr_assert(tl_gguf_find_tensor(g, "blk.7.attn_q.bias") >= 0, "qwen2 has q/k/v biases");
    cr_assert_eq(get_u32(g, "general.file_type"), 15);
    str_eq(g, "general.architecture", "qwen2");
    cr_assert_eq(get_u32(g, "qwen2.embedding_length"), 896);
    for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
        tl_gguf_tensor_info ti;
        cr_assert_eq(tl_gguf_tensor(g, i, &ti), 0);
        int layer = -1;
        sscanf(ti.name, "blk.%d.", &layer);
        bool more = layer == 0 || layer == 3 || layer == 6 || layer == 7;
        int want;
        if (ti.n_dims == 1)
            want = TL_GGUF_TYPE_F32;
        else if (strcmp(ti.name, "token_embd.weight") == 0)
            want = TL_GGUF_TYPE_Q8_0; // tied, 896 % 256 != 0
        else if (strstr(ti.name, "attn_v.weight"))
            want = more ? TL_GGUF_TYPE_Q8_0 : TL_GGUF_TYPE_Q5_0; // Q6_K / Q4_K fall back
        else if (strstr(ti.name, "ffn_down.weight"))
            want = more ? TL_GGUF_TYPE_Q6_K : TL_GGUF_TYPE_Q4_K; // rows of 512 fit
        else if (strstr(ti.name, "attn_output.weight"))
            want = TL_GGUF_TYPE_Q5_0;
        else
            want = TL_GGUF_TYPE_Q5_0; // attn_q/k, ffn_gate/up: rows of 896
        cr_assert_eq(ti.type, want, "%s: %s", ti.name, tl_gguf_type_name(ti.type));
    }
    double worst = worst_rel_rmse(&s, g, -1);
    cr_assert(worst < 0.2, "worst relative rmse %g", worst);
    tl_gguf_close(g);

    /* q5_k_m falls back to Q5_1 where Q5_K does not fit. */
    s.type = "q5_k_m";
    int t;
    cr_assert_eq(tl_llm_gen_tensor_type(&s, "blk.2.attn_q.weight", 896, &t, &err), 0);
    cr_assert_eq(t, TL_GGUF_TYPE_Q5_1);
    cr_assert_eq(tl_llm_gen_tensor_type(&s, "blk.3.attn_v.weight", 896, &t, &err), 0);
    cr_assert_eq(t, TL_GGUF_TYPE_Q8_0);

    /* The real shape's choices (24 layers): attn_v more bits at 0-2, 21-23
     * and 5, 8, ..., 20. */
    cr_assert_eq(tl_llm_gen_preset("qwen2.5-0.5b", &s, &err), 0);
    s.type = "q4_k_m";
    for (int l = 0; l < 24; l++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.attn_v.weight", l);
        cr_assert_eq(tl_llm_gen_tensor_type(&s, nm, 896, &t, &err), 0);
        bool more = l < 3 || l >= 21 || (l - 3) % 3 == 2;
        cr_assert_eq(t, more ? TL_GGUF_TYPE_Q8_0 : TL_GGUF_TYPE_Q5_0, "layer %d", l);
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", l);
        cr_assert_eq(tl_llm_gen_tensor_type(&s, nm, 4864, &t, &err), 0);
        cr_assert_eq(t, more ? TL_GGUF_TYPE_Q6_K : TL_GGUF_TYPE_Q4_K, "layer %d", l);
    }
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(gen_random, values_depend_on_seed_not_type)
{
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    float a[256], b[256], c[256];
    s.seed = 1;
    s.type = "f32";
    cr_assert_eq(tl_llm_gen_values(&s, "blk.0.attn_q.weight", 256, 256, a, &err), 0);
    s.type = "q4_0";
    cr_assert_eq(tl_llm_gen_values(&s, "blk.0.attn_q.weight", 256, 256, b, &err), 0);
    cr_assert(memcmp(a, b, sizeof a) == 0);
    s.seed = 2;
    cr_assert_eq(tl_llm_gen_values(&s, "blk.0.attn_q.weight", 256, 256, c, &err), 0);
    cr_assert(memcmp(a, c, sizeof a) != 0);
    cr_assert_eq(tl_llm_gen_values(&s, "blk.0.attn_q.weight", 100, 256, c, &err), TL_EINVAL);

    /* Two runs with one seed give the same file. */
    char *dir = tu_tmpdir();
    char *p1 = path_in(dir, "1.gguf"), *p2 = path_in(dir, "2.gguf");
    s.type = "q4_k_m";
    s.n_threads = 2;
    cr_assert_eq(tl_llm_gen_random(&s, p1, &err), 0, "%s", err.msg);
    s.n_threads = 1;
    cr_assert_eq(tl_llm_gen_random(&s, p2, &err), 0, "%s", err.msg);
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    cr_assert(f1 && f2);
    int x, y;
    do {
        x = fgetc(f1);
        y = fgetc(f2);
        cr_assert_eq(x, y, "files differ");
    } while (x != EOF);
    fclose(f1);
    fclose(f2);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    free(p1);
    free(p2);
    free(dir);
}

Test(gen_random, llama3_rope_factors_tensor)
{
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    cr_assert_eq(tl_llm_gen_parse_shape("rope_scale=32,rope_base=500000", &s, &err), 0, "%s",
                 err.msg);
    char *dir = tu_tmpdir();
    char *path = path_in(dir, "r.gguf");
    cr_assert_eq(tl_llm_gen_random(&s, path, &err), 0, "%s", err.msg);
    tl_gguf *g;
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    int64_t i = tl_gguf_find_tensor(g, "rope_freqs.weight");
    cr_assert(i >= 0);
    tl_gguf_tensor_info ti;
    cr_assert_eq(tl_gguf_tensor(g, (size_t)i, &ti), 0);
    cr_assert_eq(ti.type, TL_GGUF_TYPE_F32);
    cr_assert_eq(ti.dims[0], 32); // head size 64 / 2
    const float *ff = ti.data;
    /* High frequencies unscaled, the lowest divided by the factor, smooth
     * and monotonic between. */
    cr_assert_eq(ff[0], 1.0f);
    cr_assert_eq(ff[31], 32.0f);
    for (int k = 1; k < 32; k++)
        cr_assert(ff[k] >= ff[k - 1], "factor %d", k);
    /* llama.cpp reads no llama3 scaling keys: none are written. */
    cr_assert_eq(tl_gguf_find_kv(g, "llama.rope.scaling.type"), -1);
    cr_assert_eq(tl_gguf_find_kv(g, "llama.rope.scaling.factor"), -1);
    tl_gguf_close(g);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(gen_random, bad_specs_are_clear_errors)
{
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    tl_llm_gen_spec b = s;
    b.n_embd = 96;
    b.n_head = 5;
    cr_assert_eq(tl_llm_gen_random(&b, "/tmp/never.gguf", &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "n_embd 96 is not divisible by n_head 5"), "%s", err.msg);
    b = s;
    b.type = "q3_z";
    cr_assert_eq(tl_llm_gen_check(&b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "unknown weight type \"q3_z\""), "%s", err.msg);
    b = s;
    b.arch = "gpt9";
    cr_assert_eq(tl_llm_gen_check(&b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"gpt9\""), "%s", err.msg);
    b = s;
    b.n_head_kv = 3;
    cr_assert_eq(tl_llm_gen_check(&b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "n_head_kv 3"), "%s", err.msg);
    b = s;
    b.n_vocab = 100;
    cr_assert_eq(tl_llm_gen_check(&b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "n_vocab 100"), "%s", err.msg);
    b = s;
    b.n_ff = 500;
    cr_assert_eq(tl_llm_gen_check(&b, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "n_ff 500"), "%s", err.msg);
    cr_assert(access("/tmp/never.gguf", F_OK) != 0);

    cr_assert_eq(tl_llm_gen_parse_shape("tiny-llama,layers=x", &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "layers=x"), "%s", err.msg);
    cr_assert_eq(tl_llm_gen_parse_shape("widths=3", &s, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "unknown key \"widths\""), "%s", err.msg);
    cr_assert_eq(tl_llm_gen_parse_shape("gpt-5", &s, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"gpt-5\""), "%s", err.msg);
    cr_assert_eq(tl_llm_gen_preset("nope", &s, &err), TL_ENOTFOUND);

    /* A preset item resets the shape but keeps the encoding. */
    s.type = "q8_0";
    s.seed = 9;
    cr_assert_eq(tl_llm_gen_parse_shape("llama-3.2-1b,layers=2", &s, &err), 0);
    cr_assert_eq(s.n_embd, 2048);
    cr_assert_eq(s.n_layer, 2);
    cr_assert_eq(s.n_vocab, 128256);
    cr_assert_str_eq(s.type, "q8_0");
    cr_assert_eq(s.seed, 9);
    cr_assert(s.tied);
    cr_assert_eq(s.rope_scale_factor, 32.0f);
}

Test(gen_random, synthetic_vocabulary_loads_in_the_tokenizer)
{
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    char *dir = tu_tmpdir();
    char *path = path_in(dir, "v.gguf");
    cr_assert_eq(tl_llm_gen_random(&s, path, &err), 0, "%s", err.msg);
    tl_gguf *g;
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    str_eq(g, "tokenizer.ggml.model", "llama");
    uint64_t n;
    int et;
    cr_assert_eq(tl_gguf_arr_info(g, "tokenizer.ggml.tokens", &et, &n, &err), 0);
    cr_assert_eq(n, 512);
    cr_assert_eq(get_u32(g, "llama.vocab_size"), 512);
    const char *t;
    size_t len;
    cr_assert_eq(tl_gguf_arr_str(g, "tokenizer.ggml.tokens", 3 + 0x0A, &t, &len, &err), 0);
    cr_assert(len == 6 && memcmp(t, "<0x0A>", 6) == 0);

    tl_tokenizer *tok;
    cr_assert_eq(tl_tok_load_gguf(g, &tok, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_tok_n_vocab(tok), 512);
    cr_assert_eq(tl_tok_bos(tok), 1);
    cr_assert_eq(tl_tok_eos(tok), 2);
    const char *text = "hello, world\n\xc3\xa9";
    int32_t *ids;
    size_t nid;
    cr_assert_eq(tl_tok_encode(tok, text, strlen(text), TL_TOK_ADD_BOS, &ids, &nid, &err), 0,
                 "%s", err.msg);
    cr_assert(nid > 2 && ids[0] == 1);
    char *back;
    size_t blen;
    cr_assert_eq(tl_tok_decode(tok, ids + 1, nid - 1, false, &back, &blen, &err), 0, "%s",
                 err.msg);
    /* SentencePiece decoding drops the leading space it added. */
    cr_assert_eq(blen, strlen(text), "decoded \"%.*s\"", (int)blen, back);
    cr_assert(memcmp(back, text, blen) == 0);
    free(back);
    free(ids);
    tl_tok_free(tok);
    tl_gguf_close(g);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(gen_random, vocabulary_copied_from_another_file)
{
    char src[1024];
    snprintf(src, sizeof src, "%s/data/tokenizer/ggml-vocab-phi-3.gguf", tu_shared_dir());
    if (access(src, R_OK) != 0)
        cr_skip_test("no %s: the shared vocabularies are absent", src);
    tl_err err = {0};
    tl_llm_gen_spec s;
    cr_assert_eq(tl_llm_gen_preset("tiny-llama", &s, &err), 0);
    s.vocab_path = src;
    s.n_vocab = 0; // taken from the file
    char *dir = tu_tmpdir();
    char *path = path_in(dir, "c.gguf");
    cr_assert_eq(tl_llm_gen_random(&s, path, &err), 0, "%s", err.msg);
    tl_gguf *g, *v;
    cr_assert_eq(tl_gguf_open(path, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_gguf_open(src, &v, &err), 0, "%s", err.msg);
    uint64_t n;
    cr_assert_eq(tl_gguf_arr_info(v, "tokenizer.ggml.tokens", NULL, &n, &err), 0);
    cr_assert_eq(get_u32(g, "llama.vocab_size"), (uint32_t)n);
    tl_gguf_tensor_info ti;
    cr_assert_eq(tl_gguf_tensor(g, (size_t)tl_gguf_find_tensor(g, "token_embd.weight"), &ti), 0);
    cr_assert_eq(ti.dims[1], (int64_t)n);
    size_t copied = 0;
    for (size_t i = 0; i < tl_gguf_n_kv(v); i++) {
        const char *key = tl_gguf_kv_key(v, i);
        if (strncmp(key, "tokenizer.", 10) != 0)
            continue;
        copied++;
        cr_assert(tl_gguf_find_kv(g, key) >= 0, "%s not copied", key);
        cr_assert_eq(kv_type(g, key), tl_gguf_kv_type(v, i), "%s", key);
    }
    cr_assert(copied >= 3);
    for (uint64_t k = 0; k < n; k += n / 97 + 1) {
        const char *a, *b;
        size_t la, lb;
        cr_assert_eq(tl_gguf_arr_str(g, "tokenizer.ggml.tokens", k, &a, &la, &err), 0);
        cr_assert_eq(tl_gguf_arr_str(v, "tokenizer.ggml.tokens", k, &b, &lb, &err), 0);
        cr_assert(la == lb && memcmp(a, b, la) == 0, "token %llu", (unsigned long long)k);
    }
    tl_gguf_close(v);
    tl_gguf_close(g);

    s.vocab_path = "/nonexistent-teller-vocab.gguf";
    cr_assert(tl_llm_gen_random(&s, path, &err) < 0);
    cr_assert(strstr(err.msg, "/nonexistent-teller-vocab.gguf"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}
