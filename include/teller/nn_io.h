/*
 * nn_io.h - getting data into and weights out of a network: safetensors
 * files (read and write) and the seeded mini-batch loader.
 *
 * safetensors is the format PyTorch, JAX and Hugging Face tools share, so a
 * model trained here opens in Python with safetensors.numpy.load_file, and
 * weights from Python load here. The layout (docs/nn-training.md):
 * an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__":{"k":"v"},"name":{"dtype":"F32","shape":[2,3],
 *    "data_offsets":[0,24]}, ...}
 * padded with spaces, then the tensors' little-endian bytes, offsets
 * counted from the end of the header.
 *
 *     tl_nn_st_tensor t[] = {{"fc.weight", w, shape_w, 2}, {"fc.bias", b, shape_b, 1}};
 *     const char *meta[] = {"format", "pt"};
 *     tl_nn_safetensors_write("model.safetensors", t, 2, meta, 1, &err);
 *
 *     tl_nn_st_file *f;
 *     if (tl_nn_safetensors_open("model.safetensors", &f, &err) < 0) ...
 *     tl_nn_safetensors_read_f32(f, "fc.weight", shape_w, 2, w, n_w, &err);
 *     tl_nn_safetensors_close(f);
 *
 *     tl_nn_loader *ld;
 *     tl_nn_loader_new(n_rows, 64, seed, TL_NN_LOADER_SHUFFLE, NULL, &ld, &err);
 *     for (epoch...) {
 *         tl_nn_loader_set_epoch(ld, epoch);
 *         for (size_t b = 0; b < tl_nn_loader_n_batches(ld); b++) {
 *             const size_t *rows; size_t n = tl_nn_loader_batch(ld, b, &rows);
 *             ...
 *         }
 *     }
 *     tl_nn_loader_free(ld);
 */
#ifndef TELLER_NN_IO_H
#define TELLER_NN_IO_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- safetensors ------------------------------------------------------------ */

/* The element types of the format. Every one is accepted when a file is
 * read and validated; tl_nn_safetensors_read_f32 converts all but the 8-bit
 * floats to float (I64, U64, I32, U32 lose precision past 2^24, as a cast
 * does). Files are written as F32 only. */
enum tl_nn_dtype {
    TL_NN_DTYPE_BOOL = 0,
    TL_NN_DTYPE_U8 = 1,
    TL_NN_DTYPE_I8 = 2,
    TL_NN_DTYPE_I16 = 3,
    TL_NN_DTYPE_U16 = 4,
    TL_NN_DTYPE_F16 = 5,
    TL_NN_DTYPE_BF16 = 6,
    TL_NN_DTYPE_I32 = 7,
    TL_NN_DTYPE_U32 = 8,
    TL_NN_DTYPE_F32 = 9,
    TL_NN_DTYPE_F64 = 10,
    TL_NN_DTYPE_I64 = 11,
    TL_NN_DTYPE_U64 = 12,
    TL_NN_DTYPE_F8_E4M3 = 13,
    TL_NN_DTYPE_F8_E5M2 = 14,
    TL_NN_DTYPE_COUNT
};

/* The format's name of a dtype ("F32"), or "?" for a value out of range. */
TL_API const char *tl_nn_dtype_name(int dtype);

/* Limits a reader enforces before it allocates: the Rust reference refuses
 * headers over 100 MB; a tensor may have at most 8 dimensions here. */
#define TL_NN_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define TL_NN_ST_MAX_DIMS 8

/* A tensor to write: row-major float data of prod(shape) values. ndim 0 is
 * a scalar (one value). All borrowed for the duration of the call. */
typedef struct tl_nn_st_tensor {
    const char *name;     /* UTF-8, unique, not "__metadata__" */
    const float *data;    /* (prod(shape)) */
    const int64_t *shape; /* (ndim) each >= 0 */
    int ndim;             /* 0..TL_NN_ST_MAX_DIMS */
} tl_nn_st_tensor;

/* Writes tensors[0..n) as F32 and the metadata pairs meta_kv[2*i],
 * meta_kv[2*i+1] (i < n_meta; UTF-8 strings) to path, in the layout the
 * Rust implementation writes: tensors ordered by name, compact JSON, the
 * header padded with spaces to a multiple of 8 bytes. The file is written
 * to path.tmp and renamed, so a failed write leaves no partial file at path.
 * A duplicate or reserved name, a bad shape, NULL data with values, or
 * invalid UTF-8 is TL_EINVAL naming the tensor; I/O errors are TL_EIO. */
TL_API int tl_nn_safetensors_write(const char *path, const tl_nn_st_tensor *tensors, size_t n,
                                   const char *const *meta_kv, size_t n_meta, tl_err *err);

/* The same bytes into a malloc'd buffer *out of *out_len bytes (the caller
 * frees it; untouched on error): for the model registry and for tests. */
TL_API int tl_nn_safetensors_write_mem(const tl_nn_st_tensor *tensors, size_t n,
                                       const char *const *meta_kv, size_t n_meta, uint8_t **out,
                                       size_t *out_len, tl_err *err);

typedef struct tl_nn_st_file tl_nn_st_file;

/* What a file says about one tensor; pointers valid until the file closes. */
typedef struct tl_nn_st_info {
    const char *name;
    int dtype;                         /* enum tl_nn_dtype */
    int ndim;
    int64_t shape[TL_NN_ST_MAX_DIMS];
    size_t n_elems;                    /* prod(shape) */
    const void *data;                  /* n_elems values of dtype, little-endian, maybe unaligned */
    size_t n_bytes;
} tl_nn_st_info;

/* Maps path read-only and validates all of it before returning (see
 * tl_nn_safetensors_parse). A file that cannot be opened is TL_EIO; one that
 * breaks the format is TL_EPARSE with a sentence naming the file and what
 * is wrong (truncated header, bad JSON, offsets outside the data, overlap,
 * shape and size disagreeing, unknown dtype). *out is untouched on error;
 * close it with tl_nn_safetensors_close. */
TL_API int tl_nn_safetensors_open(const char *path, tl_nn_st_file **out, tl_err *err);

/* Validates and indexes buf[0..len) (borrowed: it must outlive the handle),
 * naming source in error messages. Checked: the 8-byte length fits the
 * buffer and TL_NN_ST_MAX_HEADER; the header is a UTF-8 JSON object; every
 * entry but "__metadata__" (an object of strings) has exactly a known dtype,
 * a shape of at most TL_NN_ST_MAX_DIMS non-negative integers whose product
 * does not overflow, and data_offsets [begin, end] with end - begin equal to
 * the shape's size in bytes; the tensors, sorted by begin, tile the data
 * section exactly (no gap, no overlap, nothing past the end, nothing left
 * over), as the Rust reference requires. */
TL_API int tl_nn_safetensors_parse(const uint8_t *buf, size_t len, const char *source,
                                   tl_nn_st_file **out, tl_err *err);

/* Unmaps and frees; NULL is a no-op. */
TL_API void tl_nn_safetensors_close(tl_nn_st_file *f);

/* Tensors in the order of their data offsets. */
TL_API size_t tl_nn_safetensors_count(const tl_nn_st_file *f);
/* Fills *info for tensor i; TL_EINVAL when i is out of range. */
TL_API int tl_nn_safetensors_info(const tl_nn_st_file *f, size_t i, tl_nn_st_info *info,
                                  tl_err *err);
/* The index of the tensor called name, or TL_ENOTFOUND naming it. */
TL_API int tl_nn_safetensors_find(const tl_nn_st_file *f, const char *name, size_t *index,
                                  tl_err *err);

/* Copies tensor name into dst[0..dst_len) as float, converting from its
 * dtype. When want_shape is non-NULL the tensor's shape must equal
 * want_shape[0..want_ndim) (TL_EINVAL naming both shapes otherwise); in any
 * case dst_len must equal its element count. An absent name is
 * TL_ENOTFOUND; an 8-bit float dtype TL_EUNSUPPORTED. dst is untouched on
 * error. */
TL_API int tl_nn_safetensors_read_f32(const tl_nn_st_file *f, const char *name,
                                      const int64_t *want_shape, int want_ndim, float *dst,
                                      size_t dst_len, tl_err *err);

/* The metadata: count, the i-th pair (in the file's order), and lookup by
 * key (NULL when absent). Strings live until the file closes. */
TL_API size_t tl_nn_safetensors_meta_count(const tl_nn_st_file *f);
TL_API int tl_nn_safetensors_meta_at(const tl_nn_st_file *f, size_t i, const char **key,
                                     const char **value);
TL_API const char *tl_nn_safetensors_meta(const tl_nn_st_file *f, const char *key);

/* ---- mini-batch loader ---------------------------------------------------------
 * Row indices of n_rows in batches of batch_size, reshuffled each epoch.
 * The order is a pure function of (seed, epoch), so a run can be repeated or
 * resumed at any epoch. The exact rule, so another tool can reproduce it:
 *   one tl_rng (ml_stats.h) seeded with seed + epoch * 0x9E3779B97F4A7C15
 *   (mod 2^64); without strata, tl_rng_shuffle of 0..n_rows-1;
 *   with strata (a class per row), each class's rows in ascending order are
 *   shuffled with that one stream, class 0 first, and the j-th row of a
 *   class c with n_c rows gets the key (j + 0.5) / n_c; rows are ordered by
 *   key (ties by class), which spreads every class evenly, so any batch holds
 *   each class's share within about one row.
 * Batch b is positions [b * batch_size, (b+1) * batch_size) of that order;
 * the last one is shorter unless DROP_LAST drops it (PyTorch's drop_last).
 * Without SHUFFLE the order is 0..n_rows-1 every epoch (for evaluation). */
enum tl_nn_loader_flags {
    TL_NN_LOADER_SHUFFLE = 1,
    TL_NN_LOADER_DROP_LAST = 2,
};

typedef struct tl_nn_loader tl_nn_loader;

/* strata (optional, n_rows entries, each in [0, n_rows)) is copied, and
 * implies SHUFFLE. n_rows or batch_size 0, or a negative or out-of-range
 * stratum, is TL_EINVAL naming the row; *out is untouched on error. The
 * loader starts at epoch 0. */
TL_API int tl_nn_loader_new(size_t n_rows, size_t batch_size, uint64_t seed, unsigned flags,
                            const int32_t *strata, tl_nn_loader **out, tl_err *err);
TL_API void tl_nn_loader_free(tl_nn_loader *ld);

/* Reorders the rows for epoch (cheap to call again with the same epoch). */
TL_API void tl_nn_loader_set_epoch(tl_nn_loader *ld, uint64_t epoch);

/* Batches per epoch: ceil(n_rows / batch_size), or floor with DROP_LAST. */
TL_API size_t tl_nn_loader_n_batches(const tl_nn_loader *ld);

/* Sets *rows to the row indices of batch b of the current epoch (valid until
 * the next set_epoch or free) and returns how many there are; 0 when b is
 * out of range. */
TL_API size_t tl_nn_loader_batch(const tl_nn_loader *ld, size_t b, const size_t **rows);

/* The whole order of the current epoch (n_rows entries). */
TL_API const size_t *tl_nn_loader_order(const tl_nn_loader *ld);

TL_END_DECLS

#endif
