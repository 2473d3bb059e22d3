/*
 * fuzz_gguf.c - the GGUF reader (include/teller/llm_gguf.h).
 *
 * A file that opens must describe only bytes inside the input: every string
 * a getter returns and every tensor's data lie in the buffer, tensors are
 * aligned and do not overlap, every key and tensor is found by its name, and
 * every array element of a scalar or string type is readable. A refused
 * file follows the tl_err contract with TL_EPARSE (or TL_ENOMEM).
 */
#include "fuzz.h"

#include <teller/llm_gguf.h>

static bool inside(const uint8_t *data, size_t size, const void *p, uint64_t n)
{
    const uint8_t *q = p;
    return q >= data && q <= data + size && n <= (uint64_t)(data + size - q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tl_err err = {0};
    tl_gguf *g = NULL;
    int rc = tl_gguf_open_mem(data, size, "fuzz.gguf", &g, &err);
    if (rc < 0) {
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(rc == TL_EPARSE || rc == TL_ENOMEM);
        return 0;
    }
    FUZZ_CHECK(tl_gguf_version(g) == 2 || tl_gguf_version(g) == 3);
    uint32_t align = tl_gguf_alignment(g);
    FUZZ_CHECK(align && (align & (align - 1)) == 0);
    FUZZ_CHECK(tl_gguf_data_offset(g) % align == 0);

    size_t n_kv = tl_gguf_n_kv(g);
    for (size_t i = 0; i < n_kv; i++) {
        const char *key = tl_gguf_kv_key(g, i);
        FUZZ_CHECK(key && key[0]);
        FUZZ_CHECK(tl_gguf_find_kv(g, key) == (int64_t)i);
        int t = tl_gguf_kv_type(g, i);
        FUZZ_CHECK(t >= 0 && t < TL_GGUF_VAL_COUNT);
        tl_err e = {0};
        const char *s;
        size_t n;
        if (t == TL_GGUF_VAL_STRING) {
            FUZZ_CHECK(tl_gguf_get_str(g, key, &s, &n, &e) == 0);
            FUZZ_CHECK(inside(data, size, s, n));
        } else if (t == TL_GGUF_VAL_ARRAY) {
            int et;
            uint64_t cnt;
            FUZZ_CHECK(tl_gguf_arr_info(g, key, &et, &cnt, &e) == 0);
            FUZZ_CHECK(et >= 0 && et < TL_GGUF_VAL_COUNT);
            for (uint64_t k = 0; k < cnt && k < 4096; k++) {
                int64_t v;
                float f;
                if (et == TL_GGUF_VAL_STRING) {
                    FUZZ_CHECK(tl_gguf_arr_str(g, key, k, &s, &n, &e) == 0);
                    FUZZ_CHECK(inside(data, size, s, n));
                } else if (et == TL_GGUF_VAL_F32 || et == TL_GGUF_VAL_F64) {
                    FUZZ_CHECK(tl_gguf_arr_f32(g, key, k, &f, &e) == 0);
                } else if (et == TL_GGUF_VAL_ARRAY) {
                    rc = tl_gguf_arr_str(g, key, k, &s, &n, &e);
                    FUZZ_CHECK(rc == TL_EUNSUPPORTED);
                    fuzz_check_err(rc, &e);
                } else if ((rc = tl_gguf_arr_i64(g, key, k, &v, &e)) < 0) {
                    fuzz_check_err(rc, &e);
                    FUZZ_CHECK(et == TL_GGUF_VAL_BOOL || et == TL_GGUF_VAL_U64);
                }
            }
            rc = tl_gguf_arr_i64(g, key, cnt, &(int64_t){0}, &e);
            FUZZ_CHECK(rc == TL_EINVAL);
            fuzz_check_err(rc, &e);
        } else {
            int64_t v;
            float f;
            bool b;
            if (t == TL_GGUF_VAL_F32 || t == TL_GGUF_VAL_F64)
                FUZZ_CHECK(tl_gguf_get_f32(g, key, &f, &e) == 0);
            else if (t == TL_GGUF_VAL_BOOL)
                FUZZ_CHECK(tl_gguf_get_bool(g, key, &b, &e) == 0);
            else if ((rc = tl_gguf_get_i64(g, key, &v, &e)) < 0) {
                fuzz_check_err(rc, &e);
                FUZZ_CHECK(t == TL_GGUF_VAL_U64);
            }
            rc = tl_gguf_get_str(g, key, &s, &n, &e);
            FUZZ_CHECK(rc == TL_EPARSE);
            fuzz_check_err(rc, &e);
        }
    }
    FUZZ_CHECK(tl_gguf_kv_key(g, n_kv) == NULL);

    size_t n_t = tl_gguf_n_tensors(g);
    uint64_t covered = 0;
    for (size_t i = 0; i < n_t; i++) {
        tl_gguf_tensor_info info;
        FUZZ_CHECK(tl_gguf_tensor(g, i, &info) == 0);
        FUZZ_CHECK(info.name && info.name[0]);
        FUZZ_CHECK(tl_gguf_find_tensor(g, info.name) == (int64_t)i);
        FUZZ_CHECK(tl_gguf_type_name(info.type) != NULL);
        FUZZ_CHECK(info.n_dims >= 1 && info.n_dims <= TL_GGUF_MAX_DIMS);
        FUZZ_CHECK(info.offset % align == 0);
        size_t bs = tl_gguf_type_block_size(info.type);
        FUZZ_CHECK(info.dims[0] % (int64_t)bs == 0);
        FUZZ_CHECK(info.size_bytes == info.n_elems / bs * tl_gguf_type_block_bytes(info.type));
        FUZZ_CHECK(inside(data, size, info.data, info.size_bytes));
        /* Touch the first and last byte so ASan checks the bounds too. */
        if (info.size_bytes) {
            volatile uint8_t x = ((const uint8_t *)info.data)[0];
            x = ((const uint8_t *)info.data)[info.size_bytes - 1];
            (void)x;
        }
        covered += info.size_bytes;
    }
    /* No overlap: the tensors together fit in the data section. */
    FUZZ_CHECK(n_t == 0 || covered <= size - tl_gguf_data_offset(g));
    tl_gguf_tensor_info info;
    FUZZ_CHECK(tl_gguf_tensor(g, n_t, &info) == TL_EINVAL);
    tl_gguf_close(g);
    return 0;
}
