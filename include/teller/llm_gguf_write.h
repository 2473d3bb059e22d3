/*
 * llm_gguf_write.h - writing GGUF v3 files, and random-weight models with the
 * real layout of llama and qwen2 checkpoints (for tests and benchmarks).
 *
 * The writer collects metadata and tensor descriptors in memory, then writes
 * the file in one pass: header, metadata, tensor infos, padding, data. Tensor
 * bytes are either borrowed from the caller or produced, one tensor at a
 * time, by a fill callback while the file is written, so a model larger than
 * memory can be streamed. The file goes to "PATH.tmp" and is renamed to PATH
 * only when complete: a failed write never leaves a truncated model behind.
 *
 *     tl_gguf_writer *w;
 *     tl_gguf_writer_new(&w, &err);
 *     tl_gguf_writer_set_str(w, "general.architecture", "llama", &err);
 *     tl_gguf_writer_set_u32(w, "llama.block_count", 2, &err);
 *     int64_t dims[2] = {64, 128};                         // ggml order: row length first
 *     tl_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", TL_GGUF_TYPE_F32, 2, dims, data, &err);
 *     tl_gguf_writer_write(w, "m.gguf", NULL, NULL, &err);
 *     tl_gguf_writer_free(w);
 *
 *     tl_llm_gen_spec spec;
 *     tl_llm_gen_preset("qwen2.5-0.5b", &spec, &err);      // or tl_llm_gen_parse_shape
 *     spec.type = "q4_k_m";
 *     tl_llm_gen_random(&spec, "qwen-rand.gguf", &err);
 *
 * docs/llm-gen.md describes the files gen-random writes and the per-tensor
 * type choice of the llama.cpp mixes.
 */
#ifndef TELLER_LLM_GGUF_WRITE_H
#define TELLER_LLM_GGUF_WRITE_H

#include "common.h"
#include "err.h"
#include "llm_gguf.h"

TL_BEGIN_DECLS

/* ---- the writer ----------------------------------------------------------------- */

typedef struct tl_gguf_writer tl_gguf_writer;

/* A new, empty writer (alignment 32, no keys, no tensors). TL_ENOMEM. */
TL_API int tl_gguf_writer_new(tl_gguf_writer **out, tl_err *err);

/* Frees; NULL is a no-op. Borrowed tensor data is not touched. */
TL_API void tl_gguf_writer_free(tl_gguf_writer *w);

/* Metadata setters. Keys are copied; a key already set is replaced in place
 * (its position in the file stays), so each key appears once. Keys must be
 * non-empty. Strings are copied (len bytes; the _str form takes a
 * NUL-terminated string). TL_EINVAL for an empty key, TL_ENOMEM. */
TL_API int tl_gguf_writer_set_u8(tl_gguf_writer *w, const char *key, uint8_t v, tl_err *err);
TL_API int tl_gguf_writer_set_i8(tl_gguf_writer *w, const char *key, int8_t v, tl_err *err);
TL_API int tl_gguf_writer_set_u16(tl_gguf_writer *w, const char *key, uint16_t v, tl_err *err);
TL_API int tl_gguf_writer_set_i16(tl_gguf_writer *w, const char *key, int16_t v, tl_err *err);
TL_API int tl_gguf_writer_set_u32(tl_gguf_writer *w, const char *key, uint32_t v, tl_err *err);
TL_API int tl_gguf_writer_set_i32(tl_gguf_writer *w, const char *key, int32_t v, tl_err *err);
TL_API int tl_gguf_writer_set_u64(tl_gguf_writer *w, const char *key, uint64_t v, tl_err *err);
TL_API int tl_gguf_writer_set_i64(tl_gguf_writer *w, const char *key, int64_t v, tl_err *err);
TL_API int tl_gguf_writer_set_f32(tl_gguf_writer *w, const char *key, float v, tl_err *err);
TL_API int tl_gguf_writer_set_f64(tl_gguf_writer *w, const char *key, double v, tl_err *err);
TL_API int tl_gguf_writer_set_bool(tl_gguf_writer *w, const char *key, bool v, tl_err *err);
TL_API int tl_gguf_writer_set_str(tl_gguf_writer *w, const char *key, const char *s, tl_err *err);
TL_API int tl_gguf_writer_set_strn(tl_gguf_writer *w, const char *key, const char *s, size_t len,
                                   tl_err *err);

/* An array of n numeric or bool elements of elem_type (enum tl_gguf_vtype,
 * not STRING or ARRAY), copied from data: n values of that type's width in
 * host (little-endian) order; bools are one byte each, 0 or 1. */
TL_API int tl_gguf_writer_set_arr(tl_gguf_writer *w, const char *key, int elem_type,
                                  const void *data, uint64_t n, tl_err *err);

/* An array of n strings; lens may be NULL for NUL-terminated strings. */
TL_API int tl_gguf_writer_set_arr_str(tl_gguf_writer *w, const char *key,
                                      const char *const *strs, const size_t *lens, uint64_t n,
                                      tl_err *err);

/* Copies key (any type, arrays of strings and numbers included) from an
 * open file. TL_ENOTFOUND when src has no such key, TL_EUNSUPPORTED for
 * nested arrays and arrays of bools (the reader has no getter for their
 * elements). f64 values (scalars and array elements) are copied through
 * float, as the reader's getters give them. */
TL_API int tl_gguf_writer_copy_kv(tl_gguf_writer *w, const tl_gguf *src, const char *key,
                                  tl_err *err);

/* Sets the data alignment (a power of two, 1 to 65536) and records it as
 * general.alignment (u32). Without this call the alignment is 32 and no key
 * is written, as llama.cpp does. */
TL_API int tl_gguf_writer_set_alignment(tl_gguf_writer *w, uint32_t alignment, tl_err *err);

/* Adds a tensor descriptor, in file order. dims is in ggml order (dims[0] is
 * the row length and must be a multiple of the type's block size). data,
 * when not NULL, is borrowed (size: tl_gguf_writer_tensor_size bytes) and
 * must stay valid until the write; NULL means the fill callback of
 * tl_gguf_writer_write produces the bytes. Errors: TL_EINVAL naming the
 * tensor for a bad name, duplicate, type, dims or row length; TL_ENOMEM. */
TL_API int tl_gguf_writer_add_tensor(tl_gguf_writer *w, const char *name, int type, int n_dims,
                                     const int64_t *dims, const void *data, tl_err *err);

/* The number of tensors added, and tensor i's byte size. */
TL_API size_t tl_gguf_writer_n_tensors(const tl_gguf_writer *w);
TL_API uint64_t tl_gguf_writer_tensor_size(const tl_gguf_writer *w, size_t i);

/* Produces the bytes of tensor i (name, size: size bytes) into buf. Returns 0
 * or a negative TL_E* with err filled; the write stops then. */
typedef int (*tl_gguf_fill_fn)(void *ud, size_t i, const char *name, void *buf, uint64_t size,
                               tl_err *err);

/* Writes the file to PATH.tmp, then renames it to path. Tensors added with
 * NULL data are produced by fill (one buffer of the largest such tensor is
 * allocated); fill may be NULL when every tensor has data. On error the
 * temporary file is removed, path is untouched, and the message names the
 * path (TL_EIO) or comes from fill. */
TL_API int tl_gguf_writer_write(const tl_gguf_writer *w, const char *path, tl_gguf_fill_fn fill,
                                void *ud, tl_err *err);

/* The same file built in memory: *out (malloc'd, the caller frees) holds
 * *len bytes. For tests and small files. */
TL_API int tl_gguf_writer_write_mem(const tl_gguf_writer *w, tl_gguf_fill_fn fill, void *ud,
                                    void **out, size_t *len, tl_err *err);

/* ---- random-weight models --------------------------------------------------------- */

/* The shape and encoding of a random model. Zero fields take the defaults
 * noted; tl_llm_gen_preset fills a whole spec. */
typedef struct tl_llm_gen_spec {
    const char *arch;         /* "llama" or "qwen2" */
    const char *name;         /* general.name; NULL: "random <arch>" */
    int64_t n_vocab;          /* ignored with vocab_path; >= 259 for the synthetic vocabulary */
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff;
    int64_t n_ctx;            /* context_length; 0: 4096 */
    float rope_freq_base;     /* 0: 10000 */
    float rms_eps;            /* 0: 1e-6 (qwen2) or 1e-5 (llama) */
    bool tied;                /* no output.weight: the output reuses token_embd */
    /* llama3 RoPE scaling (Llama 3.1/3.2): factor > 0 writes the per-dimension
     * factors as the rope_freqs.weight tensor, as llama.cpp's converter does
     * (llama.cpp reads no llama3 scaling keys; see docs/llm-gen.md). */
    float rope_scale_factor, rope_scale_low_freq, rope_scale_high_freq;
    int64_t rope_scale_orig_ctx;
    /* Encoding: "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0",
     * "q5_1", "q6_k", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m" (llama.cpp's
     * file types, with its per-tensor choice; NULL: "f32"). */
    const char *type;
    bool pure;                /* every matrix in the base type (llama-quantize --pure) */
    const char *vocab_path;   /* copy tokenizer.* and n_vocab from this GGUF; NULL: synthetic */
    uint64_t seed;
    float std;                /* weight standard deviation; 0: 0.02 */
    int n_threads;            /* quantization threads; 0: all cores */
} tl_llm_gen_spec;

/* Fills *spec with a named shape: "qwen2.5-0.5b", "llama-3.2-1b", and small
 * ones for tests: "tiny-llama" (vocab 512, embd 256, 2 layers, 4 heads, 2 kv
 * heads, ff 512) and "tiny-qwen2" (the same shape, qwen2, tied). Other fields
 * are zero (type f32, seed 0). TL_ENOTFOUND names an unknown preset and
 * lists the known ones. */
TL_API int tl_llm_gen_preset(const char *name, tl_llm_gen_spec *spec, tl_err *err);

/* Applies a shape string to *spec: comma-separated items, each a preset
 * name (applied in order, resetting the shape) or key=value with keys
 * vocab, embd, layers, heads, kv_heads, ff, ctx, rope_base, eps, tied (0/1),
 * rope_scale (factor; low/high/orig_ctx default 1, 4, 8192). Example:
 * "tiny-llama,layers=4,embd=896". TL_EINVAL names the bad item. */
TL_API int tl_llm_gen_parse_shape(const char *shape, tl_llm_gen_spec *spec, tl_err *err);

/* Checks a spec: arch known, sizes positive, n_embd divisible by n_head,
 * n_head by n_head_kv, an even head size, the type known, every matrix row
 * length a multiple of 32 (the smallest block). TL_EINVAL names the field. */
TL_API int tl_llm_gen_check(const tl_llm_gen_spec *spec, tl_err *err);

/* The tensor type spec's encoding gives tensor name of row length ncols
 * (llama.cpp's llama_tensor_get_type for that file type, layer taken from
 * "blk.N."), into *type. TL_EINVAL for an unknown encoding. */
TL_API int tl_llm_gen_tensor_type(const tl_llm_gen_spec *spec, const char *name, int64_t ncols,
                                  int *type, tl_err *err);

/* The general.file_type (llama_ftype) of an encoding name, or -1. */
TL_API int tl_llm_gen_file_type(const char *type_name);

/* Writes a random model (metadata, vocabulary, tensors) to out_path. The
 * float values of a tensor depend on (seed, tensor name, row) only, never
 * on the type, so files of different types with the same seed hold the same
 * model up to quantization; tl_llm_gen_values reproduces them. Errors:
 * TL_EINVAL for a bad spec, TL_EIO naming out_path or the vocabulary file,
 * TL_EPARSE for a bad vocabulary file. */
TL_API int tl_llm_gen_random(const tl_llm_gen_spec *spec, const char *out_path, tl_err *err);

/* The float values (before encoding) tl_llm_gen_random gives tensor name of
 * n elements with row length ncols: norms 1.0, rope_freqs the llama3
 * factors, every other weight and bias N(0, std) (nearly normal: a sum of
 * four uniforms). */
TL_API int tl_llm_gen_values(const tl_llm_gen_spec *spec, const char *name, int64_t ncols,
                             int64_t n, float *out, tl_err *err);

TL_END_DECLS

#endif
