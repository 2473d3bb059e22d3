/*
 * llm_gguf.h - the GGUF (v2 and v3) model file reader, over a read-only mmap.
 *
 * GGUF is the file format of llama.cpp: a header, typed metadata key/value
 * pairs (hyperparameters, the tokenizer's vocabulary), tensor descriptors and
 * an aligned data section holding the weights. docs/llm-gguf.md summarizes
 * the layout and lists what tl_gguf_open validates. Everything is checked
 * against the file size when the file is opened, so after a successful open
 * every getter and every tensor data pointer stays within the mapping.
 *
 *     tl_gguf *g;
 *     if (tl_gguf_open("model.gguf", &g, &err) < 0) ...   // TL_EPARSE names byte offset
 *     const char *model; size_t n;
 *     tl_gguf_get_str(g, "tokenizer.ggml.model", &model, &n, &err);
 *     uint64_t n_tok;
 *     tl_gguf_arr_info(g, "tokenizer.ggml.tokens", NULL, &n_tok, &err);
 *     tl_gguf_arr_str(g, "tokenizer.ggml.tokens", 0, &model, &n, &err);
 *     int64_t t = tl_gguf_find_tensor(g, "token_embd.weight");
 *     tl_gguf_tensor_info info;
 *     tl_gguf_tensor(g, t, &info);   // info.data points into the mapping
 *     tl_gguf_close(g);
 *
 * Strings returned by getters point into the mapping and are NOT
 * NUL-terminated (GGUF strings carry a length); they stay valid until
 * tl_gguf_close. Keys and tensor names are NUL-terminated copies (a NUL byte
 * inside one is refused at open).
 */
#ifndef TELLER_LLM_GGUF_H
#define TELLER_LLM_GGUF_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_gguf tl_gguf;

/* Metadata value types, numbered as in the file. */
enum tl_gguf_vtype {
    TL_GGUF_VAL_U8 = 0,
    TL_GGUF_VAL_I8 = 1,
    TL_GGUF_VAL_U16 = 2,
    TL_GGUF_VAL_I16 = 3,
    TL_GGUF_VAL_U32 = 4,
    TL_GGUF_VAL_I32 = 5,
    TL_GGUF_VAL_F32 = 6,
    TL_GGUF_VAL_BOOL = 7,
    TL_GGUF_VAL_STRING = 8,
    TL_GGUF_VAL_ARRAY = 9,
    TL_GGUF_VAL_U64 = 10,
    TL_GGUF_VAL_I64 = 11,
    TL_GGUF_VAL_F64 = 12,
    TL_GGUF_VAL_COUNT
};

/* Tensor (ggml) types, numbered as in the file. Retired ids stay retired:
 * 4 (Q4_2), 5 (Q4_3), 31..33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) are refused. */
enum tl_gguf_type {
    TL_GGUF_TYPE_F32 = 0,
    TL_GGUF_TYPE_F16 = 1,
    TL_GGUF_TYPE_Q4_0 = 2,
    TL_GGUF_TYPE_Q4_1 = 3,
    TL_GGUF_TYPE_Q5_0 = 6,
    TL_GGUF_TYPE_Q5_1 = 7,
    TL_GGUF_TYPE_Q8_0 = 8,
    TL_GGUF_TYPE_Q8_1 = 9,
    TL_GGUF_TYPE_Q2_K = 10,
    TL_GGUF_TYPE_Q3_K = 11,
    TL_GGUF_TYPE_Q4_K = 12,
    TL_GGUF_TYPE_Q5_K = 13,
    TL_GGUF_TYPE_Q6_K = 14,
    TL_GGUF_TYPE_Q8_K = 15,
    TL_GGUF_TYPE_IQ2_XXS = 16,
    TL_GGUF_TYPE_IQ2_XS = 17,
    TL_GGUF_TYPE_IQ3_XXS = 18,
    TL_GGUF_TYPE_IQ1_S = 19,
    TL_GGUF_TYPE_IQ4_NL = 20,
    TL_GGUF_TYPE_IQ3_S = 21,
    TL_GGUF_TYPE_IQ2_S = 22,
    TL_GGUF_TYPE_IQ4_XS = 23,
    TL_GGUF_TYPE_I8 = 24,
    TL_GGUF_TYPE_I16 = 25,
    TL_GGUF_TYPE_I32 = 26,
    TL_GGUF_TYPE_I64 = 27,
    TL_GGUF_TYPE_F64 = 28,
    TL_GGUF_TYPE_IQ1_M = 29,
    TL_GGUF_TYPE_BF16 = 30,
    TL_GGUF_TYPE_TQ1_0 = 34,
    TL_GGUF_TYPE_TQ2_0 = 35,
    TL_GGUF_TYPE_COUNT
};

#define TL_GGUF_MAX_DIMS 4
#define TL_GGUF_DEFAULT_ALIGNMENT 32

/* The name of a tensor type ("Q4_K"), or NULL for an unknown or retired id. */
TL_API const char *tl_gguf_type_name(int type);

/* Elements per block and bytes per block of a tensor type (F32: 1 and 4,
 * Q4_K: 256 and 144), or 0 for an unknown or retired id. */
TL_API size_t tl_gguf_type_block_size(int type);
TL_API size_t tl_gguf_type_block_bytes(int type);

/* The name of a metadata value type ("u32", "string"), or "?" when out of
 * range. */
TL_API const char *tl_gguf_vtype_name(int vtype);

/* Maps path read-only and validates all of it (header, metadata, tensor
 * descriptors, data layout). On success *out owns the mapping until
 * tl_gguf_close. Errors: TL_EIO when the file cannot be opened or mapped,
 * TL_EPARSE for a malformed file (the message names the file, what is wrong
 * and its byte offset), TL_ENOMEM. On error *out is untouched. */
TL_API int tl_gguf_open(const char *path, tl_gguf **out, tl_err *err);

/* The same over a caller's buffer, which is borrowed (not copied) and must
 * outlive the returned handle. name is used in messages only. */
TL_API int tl_gguf_open_mem(const void *data, size_t size, const char *name, tl_gguf **out,
                            tl_err *err);

/* Unmaps and frees; NULL is a no-op. Every pointer obtained from g dies. */
TL_API void tl_gguf_close(tl_gguf *g);

/* The file's format version (2 or 3). */
TL_API uint32_t tl_gguf_version(const tl_gguf *g);

/* The data section alignment in bytes (general.alignment, default 32). */
TL_API uint32_t tl_gguf_alignment(const tl_gguf *g);

/* The byte offset of the data section in the file. */
TL_API uint64_t tl_gguf_data_offset(const tl_gguf *g);

/* ---- metadata --------------------------------------------------------------- */

/* The number of key/value pairs, in file order. */
TL_API size_t tl_gguf_n_kv(const tl_gguf *g);

/* The index of key, or -1 when absent (keys are unique: duplicates are
 * refused at open). */
TL_API int64_t tl_gguf_find_kv(const tl_gguf *g, const char *key);

/* The key and value type of pair i (0 <= i < n_kv); NULL / -1 when out of
 * range. */
TL_API const char *tl_gguf_kv_key(const tl_gguf *g, size_t i);
TL_API int tl_gguf_kv_type(const tl_gguf *g, size_t i);

/* Typed getters by key. They return TL_ENOTFOUND when the key is absent and
 * TL_EPARSE when the stored type does not fit: the integer getters accept
 * any integer type whose value is in range (files differ on u32 vs u64),
 * tl_gguf_get_f32 accepts f32 and f64, the others only their own type. On
 * error *out is untouched. */
TL_API int tl_gguf_get_u32(const tl_gguf *g, const char *key, uint32_t *out, tl_err *err);
TL_API int tl_gguf_get_i64(const tl_gguf *g, const char *key, int64_t *out, tl_err *err);
TL_API int tl_gguf_get_f32(const tl_gguf *g, const char *key, float *out, tl_err *err);
TL_API int tl_gguf_get_bool(const tl_gguf *g, const char *key, bool *out, tl_err *err);
/* *s points into the mapping, *len bytes, not NUL-terminated. */
TL_API int tl_gguf_get_str(const tl_gguf *g, const char *key, const char **s, size_t *len,
                           tl_err *err);

/* An array's element type and count (either pointer may be NULL).
 * TL_ENOTFOUND when absent, TL_EPARSE when the value is not an array. */
TL_API int tl_gguf_arr_info(const tl_gguf *g, const char *key, int *elem_type, uint64_t *count,
                            tl_err *err);

/* Element i of an array. TL_EINVAL when i >= count; TL_EPARSE when the
 * element type does not fit, with the same rules as the scalar getters
 * (tl_gguf_arr_f32 takes f32 and f64; tl_gguf_arr_i64 any integer type
 * but a u64 above INT64_MAX). Elements of nested arrays (arrays of arrays)
 * are validated at open but not accessible: TL_EUNSUPPORTED. String access
 * is O(1): the string offsets are indexed at open. */
TL_API int tl_gguf_arr_i64(const tl_gguf *g, const char *key, uint64_t i, int64_t *out,
                           tl_err *err);
TL_API int tl_gguf_arr_f32(const tl_gguf *g, const char *key, uint64_t i, float *out,
                           tl_err *err);
TL_API int tl_gguf_arr_str(const tl_gguf *g, const char *key, uint64_t i, const char **s,
                           size_t *len, tl_err *err);

/* ---- tensors ---------------------------------------------------------------- */

typedef struct tl_gguf_tensor_info {
    const char *name;              /* NUL-terminated, valid until close */
    int type;                      /* enum tl_gguf_type */
    int n_dims;                    /* 1..TL_GGUF_MAX_DIMS */
    int64_t dims[TL_GGUF_MAX_DIMS]; /* ggml order: dims[0] is the row length; unused are 1 */
    uint64_t n_elems;              /* product of dims */
    uint64_t offset;               /* from the data section start (aligned) */
    uint64_t size_bytes;           /* n_elems / block size * block bytes */
    const void *data;              /* in the mapping: data section + offset */
} tl_gguf_tensor_info;

TL_API size_t tl_gguf_n_tensors(const tl_gguf *g);

/* The index of the tensor called name, or -1 when absent (names are unique:
 * duplicates are refused at open). */
TL_API int64_t tl_gguf_find_tensor(const tl_gguf *g, const char *name);

/* Fills *info for tensor i; TL_EINVAL (without a message: there is no
 * tl_err) when i is out of range. */
TL_API int tl_gguf_tensor(const tl_gguf *g, size_t i, tl_gguf_tensor_info *info);

TL_END_DECLS

#endif
