/*
 * fuzz_safetensors.c - the safetensors reader (include/teller/nn_io.h).
 *
 * A file that parses must describe only bytes inside the input (every
 * tensor's data lies in the buffer and the tensors tile the data section),
 * find every tensor by its name, convert every convertible tensor to float,
 * and survive a round trip: its tensors written again as F32 parse back with
 * the same names, shapes and float bits. A refused file follows the tl_err
 * contract with TL_EPARSE (or TL_ENOMEM).
 */
#include "fuzz.h"

#include <teller/nn_io.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tl_err err = {0};
    tl_nn_st_file *f = NULL;
    int rc = tl_nn_safetensors_parse(data, size, "fuzz.safetensors", &f, &err);
    if (rc < 0) {
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(rc == TL_EPARSE || rc == TL_ENOMEM);
        return 0;
    }
    size_t n = tl_nn_safetensors_count(f);
    tl_nn_st_tensor *out = calloc(n ? n : 1, sizeof *out);
    float **vals = calloc(n ? n : 1, sizeof *vals);
    int64_t(*shapes)[TL_NN_ST_MAX_DIMS] = calloc(n ? n : 1, sizeof *shapes);
    FUZZ_CHECK(out && vals && shapes);
    size_t n_out = 0, covered = 0;
    for (size_t i = 0; i < n; i++) {
        tl_nn_st_info info;
        FUZZ_CHECK(tl_nn_safetensors_info(f, i, &info, &err) == 0);
        const uint8_t *p = info.data;
        FUZZ_CHECK(p >= data && p + info.n_bytes <= data + size);
        FUZZ_CHECK(info.ndim >= 0 && info.ndim <= TL_NN_ST_MAX_DIMS);
        covered += info.n_bytes;
        size_t idx = SIZE_MAX;
        FUZZ_CHECK(tl_nn_safetensors_find(f, info.name, &idx, &err) == 0 && idx == i);
        float *v = malloc(info.n_elems ? info.n_elems * sizeof(float) : 1);
        FUZZ_CHECK(v);
        tl_err e2 = {0};
        rc = tl_nn_safetensors_read_f32(f, info.name, info.shape, info.ndim, v, info.n_elems, &e2);
        if (rc < 0) {
            fuzz_check_err(rc, &e2);
            FUZZ_CHECK(rc == TL_EUNSUPPORTED);
            FUZZ_CHECK(info.dtype == TL_NN_DTYPE_F8_E4M3 || info.dtype == TL_NN_DTYPE_F8_E5M2);
            free(v);
            continue;
        }
        vals[n_out] = v;
        memcpy(shapes[n_out], info.shape, sizeof shapes[n_out]);
        out[n_out] = (tl_nn_st_tensor){info.name, v, shapes[n_out], info.ndim};
        n_out++;
    }
    /* Tiling: the tensors cover the data section exactly. */
    FUZZ_CHECK(covered <= size);
    size_t n_meta = tl_nn_safetensors_meta_count(f);
    const char **kv = calloc(2 * n_meta + 1, sizeof *kv);
    FUZZ_CHECK(kv);
    for (size_t i = 0; i < n_meta; i++) {
        FUZZ_CHECK(tl_nn_safetensors_meta_at(f, i, &kv[2 * i], &kv[2 * i + 1]) == 0);
        FUZZ_CHECK(tl_nn_safetensors_meta(f, kv[2 * i]) != NULL);
    }
    uint8_t *mem = NULL;
    size_t mlen = 0;
    rc = tl_nn_safetensors_write_mem(out, n_out, kv, n_meta, &mem, &mlen, &err);
    FUZZ_CHECK(rc == 0);
    tl_nn_st_file *g = NULL;
    rc = tl_nn_safetensors_parse(mem, mlen, "rewritten", &g, &err);
    if (rc < 0)
        fprintf(stderr, "rewritten file does not parse: %s\n", err.msg);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(tl_nn_safetensors_count(g) == n_out);
    FUZZ_CHECK(tl_nn_safetensors_meta_count(g) == n_meta);
    for (size_t i = 0; i < n_out; i++) {
        size_t idx;
        FUZZ_CHECK(tl_nn_safetensors_find(g, out[i].name, &idx, &err) == 0);
        tl_nn_st_info info;
        FUZZ_CHECK(tl_nn_safetensors_info(g, idx, &info, &err) == 0);
        FUZZ_CHECK(info.dtype == TL_NN_DTYPE_F32 && info.ndim == out[i].ndim);
        size_t ne = info.n_elems;
        float *v = malloc(ne ? ne * sizeof(float) : 1);
        FUZZ_CHECK(v);
        FUZZ_CHECK(tl_nn_safetensors_read_f32(g, out[i].name, out[i].shape, out[i].ndim, v, ne,
                                              &err) == 0);
        FUZZ_CHECK(ne == 0 || memcmp(v, vals[i], ne * sizeof(float)) == 0);
        free(v);
    }
    tl_nn_safetensors_close(g);
    free(mem);
    for (size_t i = 0; i < n_out; i++)
        free(vals[i]);
    free(vals);
    free(shapes);
    free(out);
    free(kv);
    tl_nn_safetensors_close(f);
    return 0;
}
