/*
 * llm_quant.h - quantized tensor kernels for LLM inference, bit-exact with
 * the ggml block layouts of GGUF files.
 *
 * Weights stay in the file's encoding (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q4_K, Q5_K, Q6_K); the activation vector is quantized once per
 * matrix-vector product into the type the weight type's integer dot product
 * pairs with (Q8_0, Q8_1 or Q8_K, as in ggml), and every output element is
 * one dot product of a weight row with it. docs/llm-quant.md shows the block
 * layouts, the activation types and the tolerances the tests hold.
 *
 *     size_t xb = tl_q_act_size(info.type, n);          // n = row length
 *     void *xq = malloc(xb);                              // once, at load
 *     tl_q_quantize_act(info.type, x, xq, n);             // per step
 *     tl_q_matvec(info.type, info.data, n, 0, n_rows, xq, y);
 *
 * Kernels: x86-64 CPUs with AVX2, FMA and F16C get hand-written AVX2
 * kernels, chosen at run time; everything else (and tl_q_force_portable)
 * runs portable C that computes the same integer sums. The kernels allocate
 * nothing and keep no state, so any number of threads may call them at once
 * (the caller splits [r0, r1) between threads).
 *
 * Type ids are enum tl_gguf_type (llm_gguf.h).
 */
#ifndef TELLER_LLM_QUANT_H
#define TELLER_LLM_QUANT_H

#include "common.h"
#include "llm_gguf.h"

TL_BEGIN_DECLS

/* Whether the kernels handle type: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1
 * Q4_K Q5_K Q6_K as weights, plus Q8_1 and Q8_K (activation types: they
 * (de)quantize but have no matvec, tl_q_act_size gives 0 for them). */
TL_API bool tl_q_supported(int type);

/* Bytes of a row of n elements of type, or 0 when type is unsupported or n
 * is not a positive multiple of its block size (32 or 256). */
TL_API size_t tl_q_row_size(int type, int64_t n);

/* Decodes a row of n elements into dst (n floats). TL_EUNSUPPORTED for an
 * unsupported type, TL_EINVAL when n is not a positive multiple of the block
 * size (nothing is written then). Exact: every value is the one ggml's
 * dequantize_row_* gives. */
TL_API int tl_q_dequantize_row(int type, const void *src, float *dst, int64_t n);

/* Encodes a row of n floats into dst (tl_q_row_size(type, n) bytes).
 * Reference quantizers: round to nearest as ggml's quantize_row_*_ref; the
 * K-quants search scale and minimum per sub-block as ggml's make_qkx /
 * make_qx do, but the bytes need not equal ggml's. Errors as
 * tl_q_dequantize_row. */
TL_API int tl_q_quantize_row(int type, const float *src, void *dst, int64_t n);

/* Bytes of the activation row tl_q_quantize_act writes for weights of type
 * wtype and row length n: F32 for F32/F16/BF16 weights, Q8_0 for Q4_0, Q5_0
 * and Q8_0, Q8_1 for Q4_1 and Q5_1, Q8_K for the K-quants. 0 when wtype has
 * no matvec or n is not a multiple of its block size. */
TL_API size_t tl_q_act_size(int wtype, int64_t n);

/* Quantizes the activation x (n floats) into dst (tl_q_act_size(wtype, n)
 * bytes). Preconditions (not checked in release builds: this is the hot
 * path): tl_q_act_size(wtype, n) > 0. */
TL_API void tl_q_quantize_act(int wtype, const float *x, void *dst, int64_t n);

/* y[r] = dot(row r of W, x) for r in [r0, r1). W holds rows of n elements of
 * type wtype, tl_q_row_size(wtype, n) bytes apart (row 0 at W); xq is the
 * output of tl_q_quantize_act(wtype, x, xq, n); y is indexed by absolute
 * row (y[r0] is written first). Same preconditions as tl_q_quantize_act. */
TL_API void tl_q_matvec(int wtype, const void *W, int64_t n, int64_t r0, int64_t r1,
                        const void *xq, float *y);

/* The batched form (prefill): Y[b * ldy + r] = dot(row r of W, x_b) for
 * r in [r0, r1) and b < nb, where xq holds nb activation rows of
 * tl_q_act_size(wtype, n) bytes each, back to back. Weight rows are taken a
 * few at a time against several activation rows so that each weight block is
 * read from memory once per tile. Equal to nb calls of tl_q_matvec up to
 * float summation order (the same kernels compute each dot). */
TL_API void tl_q_matmul(int wtype, const void *W, int64_t n, int64_t r0, int64_t r1,
                        const void *xq, int nb, float *Y, int64_t ldy);

/* IEEE binary16 and bfloat16 conversions: round to nearest even, subnormals
 * kept, infinities kept, NaN stays NaN (made quiet, sign kept). */
TL_API float tl_fp16_to_f32(uint16_t h);
TL_API uint16_t tl_f32_to_fp16(float f);
TL_API float tl_bf16_to_f32(uint16_t h);
TL_API uint16_t tl_f32_to_bf16(float f);

/* The kernels in use: "avx2" or "portable". */
TL_API const char *tl_q_kernels(void);

/* Forces the portable kernels on (true) or restores the run-time choice
 * (false). For tests and benchmarks; flip it only while no kernel runs. */
TL_API void tl_q_force_portable(bool on);

TL_END_DECLS

#endif
