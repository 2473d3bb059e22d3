/* test_nn_io.c - safetensors read and write, with files built by Python, and
 * the seeded mini-batch loader (include/teller/nn_io.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/ml_stats.h>
#include <teller/nn_io.h>

#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------ */

/* A file image: the 8-byte length of hdr, hdr as is, then data[0..dlen). */
static uint8_t *image(const char *hdr, const void *data, size_t dlen, size_t *len)
{
    size_t hl = strlen(hdr);
    *len = 8 + hl + dlen;
    uint8_t *b = malloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, hdr, hl);
    if (dlen)
        memcpy(b + 8 + hl, data, dlen);
    return b;
}

/* Parses a copy of exactly len bytes (so ASan sees a read past the end). */
static int parse_copy(const uint8_t *b, size_t len, tl_nn_st_file **f, tl_err *err)
{
    uint8_t *c = malloc(len ? len : 1);
    if (len)
        memcpy(c, b, len);
    int rc = tl_nn_safetensors_parse(c, len, "t.safetensors", f, err);
    if (rc == 0)
        tl_nn_safetensors_close(*f);
    free(c);
    return rc;
}

static const char *python(void)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
        return NULL;
    return "/usr/bin/python3";
}

/* The model most tests write: two tensors, deliberately given out of name
 * order, and two metadata pairs. */
static float W[12], Bv[3] = {0.5f, -0.5f, 1e-7f};
static const int64_t WS[2] = {3, 4}, BS[1] = {3};
static const char *META[4] = {"format", "pt", "epoch", "3"};

static void model(tl_nn_st_tensor t[2])
{
    for (int i = 0; i < 12; i++)
        W[i] = (float)i * 0.25f - 1.0f;
    t[0] = (tl_nn_st_tensor){"w", W, WS, 2};
    t[1] = (tl_nn_st_tensor){"b", Bv, BS, 1};
}

/* ---- safetensors ---------------------------------------------------------------- */

Test(safetensors, round_trip_through_a_file)
{
    tl_nn_st_tensor t[2];
    model(t);
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    tl_err err = {0};
    cr_assert_eq(tl_nn_safetensors_write(path, t, 2, META, 2, &err), 0, "%s", err.msg);

    tl_nn_st_file *f;
    cr_assert_eq(tl_nn_safetensors_open(path, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_nn_safetensors_count(f), 2);
    /* Written by name: b first, so its data starts the data section. */
    tl_nn_st_info info;
    cr_assert_eq(tl_nn_safetensors_info(f, 0, &info, &err), 0);
    cr_expect_str_eq(info.name, "b");
    cr_expect_eq(info.dtype, TL_NN_DTYPE_F32);
    cr_expect_eq(info.n_bytes, 12);
    cr_assert_eq(tl_nn_safetensors_info(f, 1, &info, &err), 0);
    cr_expect_str_eq(info.name, "w");
    cr_expect(info.ndim == 2 && info.shape[0] == 3 && info.shape[1] == 4 && info.n_elems == 12);
    cr_expect_eq(tl_nn_safetensors_info(f, 2, &info, &err), TL_EINVAL);

    float w[12], b[3];
    cr_assert_eq(tl_nn_safetensors_read_f32(f, "w", WS, 2, w, 12, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_nn_safetensors_read_f32(f, "b", NULL, 0, b, 3, &err), 0, "%s", err.msg);
    cr_expect_eq(memcmp(w, W, sizeof w), 0);
    cr_expect_eq(memcmp(b, Bv, sizeof b), 0);
    cr_expect_eq(tl_nn_safetensors_meta_count(f), 2);
    cr_expect_str_eq(tl_nn_safetensors_meta(f, "format"), "pt");
    cr_expect_str_eq(tl_nn_safetensors_meta(f, "epoch"), "3");
    cr_expect_null(tl_nn_safetensors_meta(f, "nope"));
    const char *k, *v;
    cr_expect_eq(tl_nn_safetensors_meta_at(f, 0, &k, &v), 0);
    cr_expect_str_eq(k, "format");

    /* Wrong shapes, sizes and names are refused, and dst stays as it was. */
    int64_t bad_shape[2] = {4, 3};
    cr_expect_eq(tl_nn_safetensors_read_f32(f, "w", bad_shape, 2, w, 12, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "[3, 4]") && strstr(err.msg, "[4, 3]"), "%s", err.msg);
    cr_expect_eq(tl_nn_safetensors_read_f32(f, "w", NULL, 0, w, 11, &err), TL_EINVAL);
    cr_expect_eq(tl_nn_safetensors_read_f32(f, "fc.w", NULL, 0, w, 12, &err), TL_ENOTFOUND);
    cr_expect(strstr(err.msg, "\"fc.w\""), "%s", err.msg);
    cr_expect_eq(memcmp(w, W, sizeof w), 0);
    tl_nn_safetensors_close(f);

    /* The bytes: the header's length is a multiple of 8, padded with spaces,
     * compact JSON with the metadata first, and the same as write_mem's. */
    FILE *fp = fopen(path, "rb");
    uint8_t disk[1024];
    size_t n = fread(disk, 1, sizeof disk, fp);
    fclose(fp);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)disk[i] << (8 * i);
    cr_expect_eq(hl % 8, 0);
    cr_expect_eq(n, 8 + hl + 60);
    const char *want = "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":\"3\"},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[12,60]}}";
    cr_expect_eq(memcmp(disk + 8, want, strlen(want)), 0, "header: %.*s", (int)hl, disk + 8);
    for (size_t i = strlen(want); i < hl; i++)
        cr_expect_eq(disk[8 + i], ' ');
    uint8_t *mem;
    size_t mlen;
    cr_assert_eq(tl_nn_safetensors_write_mem(t, 2, META, 2, &mem, &mlen, &err), 0);
    cr_expect(mlen == n && memcmp(mem, disk, n) == 0);
    free(mem);
    cr_expect_eq(access(path, F_OK), 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_expect_neq(access(tmp, F_OK), 0, "no temporary file is left behind");
    unlink(path);
    rmdir(dir);
    free(dir);
}

Test(safetensors, empty_file_and_scalars)
{
    tl_err err = {0};
    uint8_t *mem;
    size_t len;
    cr_assert_eq(tl_nn_safetensors_write_mem(NULL, 0, NULL, 0, &mem, &len, &err), 0);
    cr_expect_eq(len, 16, "{} padded to 8 bytes");
    cr_expect_eq(memcmp(mem + 8, "{}      ", 8), 0);
    tl_nn_st_file *f;
    cr_assert_eq(tl_nn_safetensors_parse(mem, len, "empty", &f, &err), 0, "%s", err.msg);
    cr_expect_eq(tl_nn_safetensors_count(f), 0);
    tl_nn_safetensors_close(f);
    free(mem);

    float s = 3.25f, none[1] = {0};
    int64_t zshape[2] = {0, 5};
    tl_nn_st_tensor t[2] = {{"scalar", &s, NULL, 0}, {"empty", none, zshape, 2}};
    cr_assert_eq(tl_nn_safetensors_write_mem(t, 2, NULL, 0, &mem, &len, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_nn_safetensors_parse(mem, len, "mem", &f, &err), 0, "%s", err.msg);
    float got = 0;
    cr_expect_eq(tl_nn_safetensors_read_f32(f, "scalar", NULL, 0, &got, 1, &err), 0, "%s", err.msg);
    cr_expect_eq(got, 3.25f);
    cr_expect_eq(tl_nn_safetensors_read_f32(f, "empty", zshape, 2, none, 0, &err), 0, "%s", err.msg);
    tl_nn_safetensors_close(f);
    free(mem);
}

Test(safetensors, bad_writes_name_the_tensor)
{
    tl_err err = {0};
    uint8_t *mem = NULL;
    size_t len = 0;
    float d[2] = {1, 2};
    int64_t sh[1] = {2}, neg[1] = {-2};
    tl_nn_st_tensor dup[2] = {{"x", d, sh, 1}, {"x", d, sh, 1}};
    cr_expect_eq(tl_nn_safetensors_write_mem(dup, 2, NULL, 0, &mem, &len, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "\"x\"") && strstr(err.msg, "twice"), "%s", err.msg);
    tl_nn_st_tensor res[1] = {{"__metadata__", d, sh, 1}};
    cr_expect_eq(tl_nn_safetensors_write_mem(res, 1, NULL, 0, &mem, &len, &err), TL_EINVAL);
    tl_nn_st_tensor bad[1] = {{"y", d, neg, 1}};
    cr_expect_eq(tl_nn_safetensors_write_mem(bad, 1, NULL, 0, &mem, &len, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "\"y\""), "%s", err.msg);
    tl_nn_st_tensor nul[1] = {{"z", NULL, sh, 1}};
    cr_expect_eq(tl_nn_safetensors_write_mem(nul, 1, NULL, 0, &mem, &len, &err), TL_EINVAL);
    tl_nn_st_tensor utf[1] = {{"\xff\xfe", d, sh, 1}};
    cr_expect_eq(tl_nn_safetensors_write_mem(utf, 1, NULL, 0, &mem, &len, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "\\xff"), "the bad name is escaped: %s", err.msg);
    const char *meta[2] = {"k", "\xc3"};
    cr_expect_eq(tl_nn_safetensors_write_mem(NULL, 0, meta, 1, &mem, &len, &err), TL_EINVAL);
    cr_expect_null(mem, "out untouched on error");
    cr_expect_eq(tl_nn_safetensors_write("/nonexistent-dir/m.safetensors", dup, 1, NULL, 0, &err),
                 TL_EIO);
    cr_expect(strstr(err.msg, "nonexistent-dir"), "%s", err.msg);
}

Test(safetensors, every_truncation_is_refused)
{
    tl_nn_st_tensor t[2];
    model(t);
    uint8_t *mem;
    size_t len;
    tl_err err = {0};
    cr_assert_eq(tl_nn_safetensors_write_mem(t, 2, META, 2, &mem, &len, &err), 0);
    for (size_t cut = 0; cut < len; cut++) {
        tl_nn_st_file *f;
        tl_err e = {0};
        int rc = parse_copy(mem, cut, &f, &e);
        cr_expect_eq(rc, TL_EPARSE, "a file cut to %zu of %zu bytes parsed (%d)", cut, len, rc);
        cr_expect(strstr(e.msg, "t.safetensors: "), "message names the file: %s", e.msg);
    }
    /* Data cut by one byte: the message says the tensor runs past the end. */
    tl_nn_st_file *f;
    cr_expect_eq(parse_copy(mem, len - 1, &f, &err), TL_EPARSE);
    cr_expect(strstr(err.msg, "\"w\"") && strstr(err.msg, "past the end"), "%s", err.msg);
    cr_expect_eq(parse_copy(mem, 7, &f, &err), TL_EPARSE);
    cr_expect(strstr(err.msg, "8-byte"), "%s", err.msg);
    cr_expect_eq(parse_copy(mem, 40, &f, &err), TL_EPARSE);
    cr_expect(strstr(err.msg, "runs past the end of the file"), "%s", err.msg);
    free(mem);
}

Test(safetensors, corrupt_headers_are_refused_with_the_reason)
{
    static const struct {
        const char *hdr;
        size_t dlen;
        const char *why;
    } cases[] = {
        {"[1,2]", 0, "does not start with '{'"},
        {"{\"a\":", 0, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not valid JSON"},
        {"{\"a\":1}", 0, "not a JSON object"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no dtype"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"F33\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "no shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "shape entry 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "9 dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
         "overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets pair"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "need 8 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlapping"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "cover 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "past the end"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "value of \"k\" is not a string"},
        {"{\"__metadata__\":[]}", 0, "__metadata__ is not a JSON object"},
        {"{\"a\x01\":2}", 0, "not valid JSON"},
    };
    uint8_t data[8] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *b = image(cases[i].hdr, data, cases[i].dlen, &len);
        tl_nn_st_file *f;
        tl_err err = {0};
        cr_expect_eq(parse_copy(b, len, &f, &err), TL_EPARSE, "case %zu parsed: %s", i, cases[i].hdr);
        cr_expect(strstr(err.msg, cases[i].why), "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                  cases[i].why);
        for (const char *c = err.msg; *c; c++)
            cr_expect((unsigned char)*c >= 0x20, "case %zu: control character in message", i);
        free(b);
    }
    /* A header length far beyond the limit, and one just past the file. */
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    tl_nn_st_file *f;
    tl_err err = {0};
    cr_expect_eq(parse_copy(huge, sizeof huge, &f, &err), TL_EPARSE);
    cr_expect(strstr(err.msg, "limit"), "%s", err.msg);
    uint8_t past[16] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    cr_expect_eq(parse_copy(past, sizeof past, &f, &err), TL_EPARSE);
    cr_expect_eq(parse_copy(past, 16, &f, &err), TL_EPARSE);
    past[0] = 8;
    cr_expect_eq(parse_copy(past, 16, &f, &err), 0, "the same file with the right length: %s", err.msg);
    cr_expect_eq(tl_nn_safetensors_open("/nonexistent/m.safetensors", &f, &err), TL_EIO);
}

Test(safetensors, flipped_bytes_never_crash)
{
    tl_nn_st_tensor t[2];
    model(t);
    uint8_t *mem;
    size_t len;
    tl_err err = {0};
    cr_assert_eq(tl_nn_safetensors_write_mem(t, 2, META, 2, &mem, &len, &err), 0);
    static const uint8_t vals[] = {0x00, '"', '9', ']', '}', ',', 0xff, ' '};
    size_t parsed = 0, refused = 0;
    for (size_t i = 0; i < len - 60; i++)
        for (size_t v = 0; v < sizeof vals; v++) {
            uint8_t old = mem[i];
            mem[i] = vals[v];
            tl_nn_st_file *f;
            tl_err e = {0};
            int rc = parse_copy(mem, len, &f, &e);
            cr_expect(rc == 0 || rc == TL_EPARSE, "byte %zu = %02x: rc %d", i, vals[v], rc);
            rc == 0 ? parsed++ : refused++;
            mem[i] = old;
        }
    cr_expect_gt(refused, parsed, "most corruptions are caught (%zu parsed)", parsed);
    free(mem);
}

/* Python writes a file by hand from the format's description (struct and
 * json, numpy for the values; the safetensors package is not needed), with
 * json.dumps' spaced separators, no padding, entries in a different order
 * than their offsets, and every dtype Teller converts. It also writes what
 * numpy makes of each tensor as float32, which the C side must match bit for
 * bit. */
static const char *PY_WRITE =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "out = sys.argv[1]\n"
    "bf = np.array([1.0, -3.5, 1e30, 3.14159], dtype=np.float32)\n"
    "ts = [\n"
    "  ('f32', 'F32', (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1)),\n"
    "  ('f16', 'F16', np.array([1.5, -2.25, 65504, 6e-8, np.inf, -0.0], dtype=np.float16)),\n"
    "  ('bf16', 'BF16', (bf.view(np.uint32) >> 16).astype(np.uint16)),\n"
    "  ('f64', 'F64', np.array([[1e-3], [2.5], [1e300]], dtype=np.float64)),\n"
    "  ('i64', 'I64', np.array([-7, 2**40], dtype=np.int64)),\n"
    "  ('i32', 'I32', np.array([[1, -2], [3, -4]], dtype=np.int32)),\n"
    "  ('u8', 'U8', np.array([0, 255], dtype=np.uint8)),\n"
    "  ('scalar', 'F32', np.array(3.25, dtype=np.float32)),\n"
    "]\n"
    "hdr, blobs, off = {'__metadata__': {'made_by': 'numpy'}}, [], 0\n"
    "for name, dt, a in ts:\n"
    "    b = a.astype(a.dtype.newbyteorder('<')).tobytes()\n"
    "    hdr[name] = {'shape': list(a.shape), 'dtype': dt, 'data_offsets': [off, off + len(b)]}\n"
    "    blobs.append(b); off += len(b)\n"
    "h = json.dumps(dict(reversed(list(hdr.items())))).encode()\n"
    "open(out, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))\n"
    "with open(out + '.want', 'w') as f:\n"
    "    for name, dt, a in ts:\n"
    "        if dt == 'BF16':\n"
    "            v = (a.astype(np.uint32) << 16).view(np.float32)\n"
    "        else:\n"
    "            with np.errstate(over='ignore'):\n"
    "                v = a.astype(np.float32)\n"
    "        f.write(name + ' ' + ' '.join('%08x' % x for x in v.reshape(-1).view(np.uint32)) + '\\n')\n";

Test(safetensors, reads_a_file_written_by_python)
{
    const char *py = python();
    if (!py)
        cr_skip_test("/usr/bin/python3 with numpy is absent: cannot build the Python-written file");
    char *dir = tu_tmpdir();
    char *script = tu_write_file(dir, "w.py", PY_WRITE);
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/py.safetensors", dir);
    snprintf(cmd, sizeof cmd, "%s %s %s", py, script, path);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);

    tl_nn_st_file *f;
    tl_err err = {0};
    cr_assert_eq(tl_nn_safetensors_open(path, &f, &err), 0, "%s", err.msg);
    cr_expect_eq(tl_nn_safetensors_count(f), 8);
    cr_expect_str_eq(tl_nn_safetensors_meta(f, "made_by"), "numpy");
    size_t idx;
    tl_nn_st_info info;
    cr_assert_eq(tl_nn_safetensors_find(f, "f64", &idx, &err), 0);
    cr_assert_eq(tl_nn_safetensors_info(f, idx, &info, &err), 0);
    cr_expect(info.dtype == TL_NN_DTYPE_F64 && info.ndim == 2 && info.shape[0] == 3 &&
              info.shape[1] == 1);
    cr_assert_eq(tl_nn_safetensors_find(f, "scalar", &idx, &err), 0);
    cr_assert_eq(tl_nn_safetensors_info(f, idx, &info, &err), 0);
    cr_expect(info.ndim == 0 && info.n_elems == 1);

    char want_path[600];
    snprintf(want_path, sizeof want_path, "%s.want", path);
    FILE *fp = fopen(want_path, "r");
    cr_assert_not_null(fp);
    char line[1024];
    int n_checked = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[32];
        int used = 0;
        cr_assert_eq(sscanf(line, "%31s%n", name, &used), 1);
        uint32_t want[16];
        size_t nw = 0;
        char *p = line + used;
        for (;;) {
            char *end;
            unsigned long v = strtoul(p, &end, 16);
            if (end == p)
                break;
            want[nw++] = (uint32_t)v;
            p = end;
        }
        float got[16];
        cr_assert_eq(tl_nn_safetensors_read_f32(f, name, NULL, 0, got, nw, &err), 0, "%s: %s", name,
                     err.msg);
        for (size_t i = 0; i < nw; i++) {
            uint32_t bits;
            memcpy(&bits, &got[i], 4);
            cr_expect_eq(bits, want[i], "%s[%zu]: %08x (%g), numpy says %08x", name, i, bits,
                         got[i], want[i]);
        }
        n_checked++;
    }
    fclose(fp);
    cr_expect_eq(n_checked, 8);
    tl_nn_safetensors_close(f);
    unlink(want_path);
    unlink(path);
    unlink(script);
    rmdir(dir);
    free(script);
    free(dir);
}

/* Python reads a file Teller wrote with nothing but struct, json and numpy,
 * checking the layout rules a reader relies on. */
static const char *PY_READ =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "n = struct.unpack('<Q', raw[:8])[0]\n"
    "assert n % 8 == 0, n\n"
    "hdr = json.loads(raw[8:8 + n])\n"
    "assert hdr.pop('__metadata__') == {'format': 'pt', 'epoch': '3'}\n"
    "data = raw[8 + n:]\n"
    "t = {k: np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], dtype='<f4')"
    ".reshape(v['shape']) for k, v in hdr.items() if v['dtype'] == 'F32'}\n"
    "assert len(t) == 2\n"
    "w = np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.25) - np.float32(1)\n"
    "assert np.array_equal(t['w'], w), t['w']\n"
    "assert np.array_equal(t['b'], np.array([0.5, -0.5, 1e-7], dtype=np.float32)), t['b']\n"
    "assert max(v['data_offsets'][1] for v in hdr.values()) == len(data)\n";

Test(safetensors, python_reads_a_file_teller_wrote)
{
    const char *py = python();
    if (!py)
        cr_skip_test("/usr/bin/python3 with numpy is absent: cannot read the file from Python");
    tl_nn_st_tensor t[2];
    model(t);
    char *dir = tu_tmpdir();
    char *script = tu_write_file(dir, "r.py", PY_READ);
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    tl_err err = {0};
    cr_assert_eq(tl_nn_safetensors_write(path, t, 2, META, 2, &err), 0, "%s", err.msg);
    snprintf(cmd, sizeof cmd, "%s %s %s", py, script, path);
    cr_expect_eq(system(cmd), 0, "Python could not read the file back (see stderr)");
    unlink(path);
    unlink(script);
    rmdir(dir);
    free(script);
    free(dir);
}

Test(safetensors, f8_is_validated_but_not_converted)
{
    uint8_t data[2] = {0x38, 0x40};
    size_t len;
    uint8_t *b = image("{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", data, 2,
                       &len);
    tl_nn_st_file *f;
    tl_err err = {0};
    cr_assert_eq(tl_nn_safetensors_parse(b, len, "f8", &f, &err), 0, "%s", err.msg);
    float out[2];
    cr_expect_eq(tl_nn_safetensors_read_f32(f, "q", NULL, 0, out, 2, &err), TL_EUNSUPPORTED);
    cr_expect(strstr(err.msg, "F8_E4M3"), "%s", err.msg);
    tl_nn_st_info info;
    cr_assert_eq(tl_nn_safetensors_info(f, 0, &info, &err), 0);
    cr_expect_eq(((const uint8_t *)info.data)[1], 0x40, "raw bytes stay reachable");
    cr_expect_str_eq(tl_nn_dtype_name(info.dtype), "F8_E4M3");
    cr_expect_str_eq(tl_nn_dtype_name(99), "?");
    tl_nn_safetensors_close(f);
    free(b);
}

/* ---- loader ------------------------------------------------------------------------ */

static void check_permutation(const size_t *order, size_t n)
{
    uint8_t *seen = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(order[i], n);
        cr_assert_eq(seen[order[i]], 0, "row %zu twice", order[i]);
        seen[order[i]] = 1;
    }
    free(seen);
}

Test(loader, covers_every_row_once_per_epoch)
{
    tl_nn_loader *ld;
    tl_err err = {0};
    cr_assert_eq(tl_nn_loader_new(103, 10, 7, TL_NN_LOADER_SHUFFLE, NULL, &ld, &err), 0);
    cr_assert_eq(tl_nn_loader_n_batches(ld), 11);
    for (uint64_t e = 0; e < 3; e++) {
        tl_nn_loader_set_epoch(ld, e);
        uint8_t seen[103] = {0};
        size_t total = 0;
        for (size_t b = 0; b < 11; b++) {
            const size_t *rows;
            size_t n = tl_nn_loader_batch(ld, b, &rows);
            cr_expect_eq(n, b < 10 ? 10 : 3);
            for (size_t i = 0; i < n; i++)
                seen[rows[i]]++;
            total += n;
        }
        cr_expect_eq(total, 103);
        for (int i = 0; i < 103; i++)
            cr_expect_eq(seen[i], 1, "epoch %llu row %d", (unsigned long long)e, i);
    }
    const size_t *rows = (const size_t *)1;
    cr_expect_eq(tl_nn_loader_batch(ld, 11, &rows), 0);
    cr_expect_null(rows);
    tl_nn_loader_free(ld);
}

Test(loader, order_is_a_function_of_seed_and_epoch)
{
    tl_nn_loader *a, *b, *c;
    tl_err err = {0};
    cr_assert_eq(tl_nn_loader_new(50, 8, 42, TL_NN_LOADER_SHUFFLE, NULL, &a, &err), 0);
    cr_assert_eq(tl_nn_loader_new(50, 8, 42, TL_NN_LOADER_SHUFFLE, NULL, &b, &err), 0);
    cr_assert_eq(tl_nn_loader_new(50, 8, 43, TL_NN_LOADER_SHUFFLE, NULL, &c, &err), 0);
    size_t e0[50], e1[50];
    memcpy(e0, tl_nn_loader_order(a), sizeof e0);
    tl_nn_loader_set_epoch(a, 1);
    memcpy(e1, tl_nn_loader_order(a), sizeof e1);
    cr_expect_neq(memcmp(e0, e1, sizeof e0), 0, "epochs differ");
    /* b jumps straight to epoch 1 (a resumed run) and back to 0. */
    tl_nn_loader_set_epoch(b, 1);
    cr_expect_eq(memcmp(tl_nn_loader_order(b), e1, sizeof e1), 0);
    tl_nn_loader_set_epoch(b, 0);
    cr_expect_eq(memcmp(tl_nn_loader_order(b), e0, sizeof e0), 0);
    cr_expect_neq(memcmp(tl_nn_loader_order(c), e0, sizeof e0), 0, "seeds differ");
    /* The documented rule: tl_rng seeded with seed + epoch * golden, shuffle. */
    tl_rng r;
    tl_rng_seed(&r, 42 + 1 * 0x9E3779B97F4A7C15ULL);
    size_t ref[50];
    for (size_t i = 0; i < 50; i++)
        ref[i] = i;
    tl_rng_shuffle(&r, ref, 50);
    cr_expect_eq(memcmp(ref, e1, sizeof e1), 0);
    tl_nn_loader_free(a);
    tl_nn_loader_free(b);
    tl_nn_loader_free(c);
}

Test(loader, drop_last_and_no_shuffle)
{
    tl_nn_loader *ld;
    tl_err err = {0};
    cr_assert_eq(tl_nn_loader_new(23, 5, 1, TL_NN_LOADER_DROP_LAST, NULL, &ld, &err), 0);
    cr_expect_eq(tl_nn_loader_n_batches(ld), 4);
    tl_nn_loader_set_epoch(ld, 9);
    const size_t *rows;
    cr_expect_eq(tl_nn_loader_batch(ld, 3, &rows), 5);
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(rows[i], 15 + i, "no shuffle keeps row order");
    cr_expect_eq(tl_nn_loader_batch(ld, 4, &rows), 0, "the short batch is dropped");
    tl_nn_loader_free(ld);
    cr_assert_eq(tl_nn_loader_new(20, 5, 1, TL_NN_LOADER_DROP_LAST, NULL, &ld, &err), 0);
    cr_expect_eq(tl_nn_loader_n_batches(ld), 4, "nothing to drop when batches divide n");
    tl_nn_loader_free(ld);
    cr_assert_eq(tl_nn_loader_new(3, 10, 1, TL_NN_LOADER_DROP_LAST, NULL, &ld, &err), 0);
    cr_expect_eq(tl_nn_loader_n_batches(ld), 0);
    tl_nn_loader_free(ld);
}

Test(loader, stratified_batches_carry_each_class_share)
{
    /* 1000 rows: 70% class 0, 20% class 1, 10% class 2, in label order. */
    enum { N = 1000, BATCH = 50 };
    int32_t y[N];
    size_t count[3] = {0};
    for (int i = 0; i < N; i++) {
        y[i] = i < 700 ? 0 : i < 900 ? 1 : 2;
        count[y[i]]++;
    }
    tl_nn_loader *ld;
    tl_err err = {0};
    cr_assert_eq(tl_nn_loader_new(N, BATCH, 5, 0, y, &ld, &err), 0, "%s", err.msg);
    size_t first[N];
    for (uint64_t e = 0; e < 3; e++) {
        tl_nn_loader_set_epoch(ld, e);
        check_permutation(tl_nn_loader_order(ld), N);
        if (e == 0)
            memcpy(first, tl_nn_loader_order(ld), sizeof first);
        else
            cr_expect_neq(memcmp(first, tl_nn_loader_order(ld), sizeof first), 0);
        for (size_t b = 0; b < tl_nn_loader_n_batches(ld); b++) {
            const size_t *rows;
            size_t n = tl_nn_loader_batch(ld, b, &rows);
            size_t c[3] = {0};
            for (size_t i = 0; i < n; i++)
                c[y[rows[i]]]++;
            for (int k = 0; k < 3; k++) {
                double want = (double)n * count[k] / N;
                cr_expect(fabs((double)c[k] - want) <= 1.0, "epoch %llu batch %zu class %d: %zu, want %g",
                          (unsigned long long)e, b, k, c[k], want);
            }
        }
    }
    tl_nn_loader_free(ld);
}

Test(loader, bad_arguments_are_refused)
{
    tl_nn_loader *ld = (tl_nn_loader *)0x1;
    tl_err err = {0};
    cr_expect_eq(tl_nn_loader_new(0, 5, 1, 0, NULL, &ld, &err), TL_EINVAL);
    cr_expect_eq(tl_nn_loader_new(5, 0, 1, 0, NULL, &ld, &err), TL_EINVAL);
    cr_expect_eq(tl_nn_loader_new(5, 2, 1, 64, NULL, &ld, &err), TL_EINVAL);
    int32_t y[3] = {0, -1, 1};
    cr_expect_eq(tl_nn_loader_new(3, 2, 1, 0, y, &ld, &err), TL_EINVAL);
    cr_expect(strstr(err.msg, "row 1"), "%s", err.msg);
    cr_expect_eq(ld, (tl_nn_loader *)0x1);
}
