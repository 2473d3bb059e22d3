/*
 * quant_avx2.c - AVX2/FMA/F16C dot kernels for tl_q_matvec and tl_q_matmul.
 *
 * Compiled for every x86-64 build with per-function target attributes (the
 * rest of the library keeps the baseline ISA); quant.c calls them only when
 * __builtin_cpu_supports says the CPU has AVX2, FMA and F16C. Elsewhere this
 * file compiles to two stubs that report no kernels.
 *
 * The scheme is ggml's: weights stay packed; each 32-element block is
 * widened to bytes, multiplied with the 8-bit activations by
 * _mm256_maddubs_epi16 (unsigned x signed bytes, pairwise sums into 16 bits)
 * and _mm256_madd_epi16 (into 32 bits), and one FMA applies the block's
 * float scale. Signed weights use the sign trick |w| * (x * sign(w)), since
 * maddubs needs one unsigned operand. The sub-block scales of the K-quants
 * multiply 16-bit partial sums as integers (madd with the scale), so a K
 * super-block of 256 elements costs one FMA.
 *
 * Each kernel takes one weight row and nx (1..4) activation rows: the weight
 * blocks are unpacked once per block for all of them, which is what makes
 * tl_q_matmul cheaper per output than tl_q_matvec. The float operations per
 * activation row are the same whatever nx is, so matvec and matmul results
 * are bit-identical.
 */
#include "llm/quant_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

int tl__q_avx2_built(void)
{
    return 1;
}

/* ---- helpers -------------------------------------------------------------------------- */

INL float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INL float hsum_ps128(__m128 s)
{
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INL float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

INL __m256i loadu256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* 16 packed bytes -> 32 bytes: low nibbles (elements 0..15), then high
 * nibbles (elements 16..31). */
INL __m256i nibbles32(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, 0xFF where the bit is set: byte k takes the byte of
 * qh holding bit k, then tests its own bit. */
INL __m256i bits32(const uint8_t *p)
{
    uint32_t qh;
    memcpy(&qh, p, 4);
    const __m256i pick = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll,
                                           0x0101010101010101ll, 0x0000000000000000ll);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), pick);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* unsigned bytes u times signed bytes s, summed four products per int32 lane */
INL __m256i dot_u8s8_i32(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

INL __m256 dot_u8s8(__m256i u, __m256i s)
{
    return _mm256_cvtepi32_ps(dot_u8s8_i32(u, s));
}

#define XROW(T, x, xs, j) ((const T *)((const uint8_t *)(x) + (size_t)(j) * (xs)))

/* Each kernel body is an always-inline function of a constant NX; these
 * wrappers instantiate NX = 1..4 so the accumulators live in registers. */
#define NX_DISPATCH(name)                                                                    \
    static TGT void name(int64_t n, const void *w, const void *x, size_t xs, int nx,        \
                         float *out)                                                         \
    {                                                                                        \
        switch (nx) {                                                                        \
        case 1: name##_t(n, w, x, xs, 1, out); break;                                        \
        case 2: name##_t(n, w, x, xs, 2, out); break;                                        \
        case 3: name##_t(n, w, x, xs, 3, out); break;                                        \
        default: name##_t(n, w, x, xs, 4, out); break;                                       \
        }                                                                                    \
    }

/* ---- F32 / F16 / BF16 against F32 activations -------------------------------------------- */

INL __m256 load8_f32(const float *p)
{
    return _mm256_loadu_ps(p);
}

INL __m256 load8_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

INL __m256 load8_bf16(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

INL float one_f32(const float *p, int64_t i)
{
    return p[i];
}

INL float one_f16(const uint16_t *p, int64_t i)
{
    return h2f(p[i]);
}

INL float one_bf16(const uint16_t *p, int64_t i)
{
    uint32_t u = (uint32_t)p[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* 32 elements per step in 4 independent accumulators per activation row
 * (FMA latency), then 8 at a time, then a scalar tail. */
#define FLOAT_KERNEL(name, WT, LOAD8, ONE)                                                   \
    INL void name##_t(int64_t n, const void *vw, const void *x, size_t xs, const int NX,     \
                      float *out)                                                            \
    {                                                                                        \
        const WT *w = vw;                                                                    \
        __m256 acc[TL__Q_MAX_NX][4];                                                         \
        for (int j = 0; j < NX; j++)                                                         \
            for (int k = 0; k < 4; k++)                                                      \
                acc[j][k] = _mm256_setzero_ps();                                             \
        int64_t i = 0;                                                                       \
        for (; i + 32 <= n; i += 32) {                                                       \
            __m256 w0 = LOAD8(w + i), w1 = LOAD8(w + i + 8), w2 = LOAD8(w + i + 16),         \
                   w3 = LOAD8(w + i + 24);                                                   \
            _Pragma("GCC unroll 4") for (int j = 0; j < NX; j++) {                           \
                const float *y = XROW(float, x, xs, j) + i;                                  \
                acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y), acc[j][0]);              \
                acc[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y + 8), acc[j][1]);          \
                acc[j][2] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(y + 16), acc[j][2]);         \
                acc[j][3] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(y + 24), acc[j][3]);         \
            }                                                                                \
        }                                                                                    \
        for (; i + 8 <= n; i += 8) {                                                         \
            __m256 w0 = LOAD8(w + i);                                                        \
            for (int j = 0; j < NX; j++)                                                     \
                acc[j][0] =                                                                  \
                    _mm256_fmadd_ps(w0, _mm256_loadu_ps(XROW(float, x, xs, j) + i), acc[j][0]); \
        }                                                                                    \
        for (int j = 0; j < NX; j++) {                                                       \
            const float *y = XROW(float, x, xs, j);                                          \
            float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[j][0], acc[j][1]),             \
                                            _mm256_add_ps(acc[j][2], acc[j][3])));           \
            for (int64_t k = i; k < n; k++)                                                  \
                s += ONE(w, k) * y[k];                                                       \
            out[j] = s;                                                                      \
        }                                                                                    \
    }                                                                                        \
    NX_DISPATCH(name)

FLOAT_KERNEL(k_f32, float, load8_f32, one_f32)
FLOAT_KERNEL(k_f16, uint16_t, load8_f16, one_f16)
FLOAT_KERNEL(k_bf16, uint16_t, load8_bf16, one_bf16)

/* ---- 32-element blocks -------------------------------------------------------------------- */

/* Two blocks per step into two accumulator sets, so consecutive FMAs into
 * one register are two blocks apart. WBLOCK(b) sets `__m256i q` (the block's
 * 32 weights as bytes) and `float dw`; SIGNED says whether q is signed
 * (sign trick) or unsigned (direct maddubs); MINSTMT adds the m * s term of
 * Q4_1/Q5_1 against Q8_1 (nothing for the others). */
#define BLOCK32_KERNEL(name, WT, XT, WBLOCK, SIGNED, MINSTMT)                                   \
    INL void name##_t(int64_t n, const void *vw, const void *x, size_t xs, const int NX,     \
                      float *out)                                                            \
    {                                                                                        \
        const WT *w = vw;                                                                    \
        const int64_t nb = n / TL__QK;                                                       \
        __m256 acc0[TL__Q_MAX_NX], acc1[TL__Q_MAX_NX];                                       \
        float summ[TL__Q_MAX_NX];                                                            \
        for (int j = 0; j < NX; j++) {                                                       \
            acc0[j] = acc1[j] = _mm256_setzero_ps();                                         \
            summ[j] = 0.0f;                                                                  \
        }                                                                                    \
        int64_t i = 0;                                                                       \
        for (; i + 2 <= nb; i += 2) {                                                        \
            BLOCK32_STEP(WT, XT, WBLOCK, SIGNED, MINSTMT, acc0, i);                          \
            BLOCK32_STEP(WT, XT, WBLOCK, SIGNED, MINSTMT, acc1, i + 1);                      \
        }                                                                                    \
        if (i < nb)                                                                          \
            BLOCK32_STEP(WT, XT, WBLOCK, SIGNED, MINSTMT, acc0, i);                          \
        for (int j = 0; j < NX; j++)                                                         \
            out[j] = hsum_ps(_mm256_add_ps(acc0[j], acc1[j])) + summ[j];                     \
    }                                                                                        \
    NX_DISPATCH(name)

/* block ii of the weight row against block ii of each activation row, into
 * the accumulator set ACC (a named array, so it stays in registers) */
#define BLOCK32_STEP(WT, XT, WBLOCK, SIGNED, MINSTMT, ACC, ii)                               \
    do {                                                                                     \
        const WT *b = &w[ii];                                                                \
        __m256i q;                                                                           \
        float dw;                                                                            \
        WBLOCK(b);                                                                           \
        /* signed weights: |q| * (y with q's sign); q = -128 works too (|q| reads \
         * as unsigned 128), and the activations never hold -128 */                        \
        __m256i aq = SIGNED ? _mm256_sign_epi8(q, q) : q;                                    \
        _Pragma("GCC unroll 4") for (int j = 0; j < NX; j++) {                               \
            const XT *y = XROW(XT, x, xs, j) + (ii);                                         \
            __m256i yq = loadu256(y->qs);                                                    \
            __m256 p = dot_u8s8(aq, SIGNED ? _mm256_sign_epi8(yq, q) : yq);                  \
            ACC[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(y->d)), p, ACC[j]);             \
            MINSTMT(summ[j], b, y);                                                          \
        }                                                                                    \
    } while (0)

#define WB_Q8_0(b)                                                                           \
    do {                                                                                     \
        q = loadu256((b)->qs);                                                               \
        dw = h2f((b)->d);                                                                    \
    } while (0)
#define WB_Q4_0(b)                                                                           \
    do {                                                                                     \
        q = _mm256_sub_epi8(nibbles32((b)->qs), _mm256_set1_epi8(8));                        \
        dw = h2f((b)->d);                                                                    \
    } while (0)
/* a clear fifth bit means q - 16 < 0: OR 0xF0 into the nibble gives that
 * negative byte, a set one leaves the nibble (q - 16 = nibble) */
#define WB_Q5_0(b)                                                                           \
    do {                                                                                     \
        q = _mm256_or_si256(nibbles32((b)->qs),                                              \
                            _mm256_andnot_si256(bits32((b)->qh), _mm256_set1_epi8((char)0xF0))); \
        dw = h2f((b)->d);                                                                    \
    } while (0)
#define WB_Q4_1(b)                                                                           \
    do {                                                                                     \
        q = nibbles32((b)->qs);                                                              \
        dw = h2f((b)->d);                                                                    \
    } while (0)
#define WB_Q5_1(b)                                                                           \
    do {                                                                                     \
        q = _mm256_or_si256(nibbles32((b)->qs),                                              \
                            _mm256_and_si256(bits32((b)->qh), _mm256_set1_epi8(0x10)));      \
        dw = h2f((b)->d);                                                                    \
    } while (0)

#define MIN_NONE(sum, b, y) ((void)0)
#define MIN_Q8_1(sum, b, y) ((sum) += h2f((b)->m) * h2f((y)->s))
BLOCK32_KERNEL(k_q8_0, tl__block_q8_0, tl__block_q8_0, WB_Q8_0, 1, MIN_NONE)
BLOCK32_KERNEL(k_q4_0, tl__block_q4_0, tl__block_q8_0, WB_Q4_0, 1, MIN_NONE)
BLOCK32_KERNEL(k_q5_0, tl__block_q5_0, tl__block_q8_0, WB_Q5_0, 1, MIN_NONE)
BLOCK32_KERNEL(k_q4_1, tl__block_q4_1, tl__block_q8_1, WB_Q4_1, 0, MIN_Q8_1)
BLOCK32_KERNEL(k_q5_1, tl__block_q5_1, tl__block_q8_1, WB_Q5_1, 0, MIN_Q8_1)

/* ---- K-quants against Q8_K ------------------------------------------------------------------ */

/* The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K
 * block as 16 bytes, unpacked from the 12-byte packing with 32-bit masks
 * (the same fields tl__q_scale_min_k4 reads one at a time). */
INL __m128i k4_scales_mins(const uint8_t *packed)
{
    uint32_t a, b, c;
    memcpy(&a, packed, 4);     // sc0-3 (low 6 bits), high bits of sc4-7
    memcpy(&b, packed + 4, 4); // m0-3 (low 6 bits), high bits of m4-7
    memcpy(&c, packed + 8, 4); // low nibbles: sc4-7, high nibbles: m4-7
    const uint32_t low6 = 0x3F3F3F3Fu, low4 = 0x0F0F0F0Fu, low2 = 0x03030303u;
    uint32_t sc03 = a & low6;
    uint32_t sc47 = (c & low4) | (((a >> 6) & low2) << 4);
    uint32_t m03 = b & low6;
    uint32_t m47 = ((c >> 4) & low4) | (((b >> 6) & low2) << 4);
    return _mm_set_epi32((int)m47, (int)m03, (int)sc47, (int)sc03);
}

/* 16-bit broadcast of int16 element k of a 128-bit lane, in both lanes */
#define BCAST16(v, k) _mm256_shuffle_epi8((v), _mm256_set1_epi16((short)(((2 * (k) + 1) << 8) | (2 * (k)))))

/* Q4_K (HIGH = 0) and Q5_K (HIGH = 1): sub-block pair p holds 64 elements:
 * low nibbles of qs[32p..32p+31] (sub-block 2p), high nibbles (2p + 1), and
 * for Q5_K bit 2p / 2p + 1 of qh[0..31] as the fifth bit. */
#define K45_KERNEL(name, WT, HIGH)                                                           \
    INL void name##_t(int64_t n, const void *vw, const void *x, size_t xs, const int NX,     \
                      float *out)                                                            \
    {                                                                                        \
        const WT *w = vw;                                                                    \
        const int64_t nb = n / TL__QK_K;                                                     \
        const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);                \
        __m256 acc[TL__Q_MAX_NX];                                                            \
        __m128 accm[TL__Q_MAX_NX];                                                           \
        for (int j = 0; j < NX; j++) {                                                       \
            acc[j] = _mm256_setzero_ps();                                                    \
            accm[j] = _mm_setzero_ps();                                                      \
        }                                                                                    \
        for (int64_t i = 0; i < nb; i++) {                                                   \
            const WT *b = &w[i];                                                             \
            const float d = h2f(b->d), dmin = h2f(b->dmin);                                  \
            __m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(b->scales));                   \
            __m128i mins = _mm256_extracti128_si256(sm, 1);                                  \
            __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));        \
            __m256i sumi[TL__Q_MAX_NX];                                                      \
            for (int j = 0; j < NX; j++)                                                     \
                sumi[j] = _mm256_setzero_si256();                                            \
            __m256i hb = HIGH ? loadu256(((const tl__block_q5_K *)(const void *)b)->qh)      \
                              : _mm256_setzero_si256();                                      \
            for (int p = 0; p < 4; p++) {                                                    \
                __m256i q4 = loadu256(b->qs + 32 * p);                                       \
                __m256i lo = _mm256_and_si256(q4, m4);                                       \
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);                 \
                if (HIGH) {                                                                  \
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hb, one), 4)); \
                    hb = _mm256_srli_epi16(hb, 1);                                           \
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(hb, one), 4)); \
                    hb = _mm256_srli_epi16(hb, 1);                                           \
                }                                                                            \
                __m256i slo = BCAST16(scales, 2 * p), shi = BCAST16(scales, 2 * p + 1);     \
                _Pragma("GCC unroll 4") for (int j = 0; j < NX; j++) {                       \
                    const int8_t *y = XROW(tl__block_q8_K, x, xs, j)[i].qs + 64 * p;         \
                    __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, loadu256(y)), slo); \
                    __m256i phi =                                                            \
                        _mm256_madd_epi16(_mm256_maddubs_epi16(hi, loadu256(y + 32)), shi); \
                    sumi[j] = _mm256_add_epi32(sumi[j], _mm256_add_epi32(plo, phi));         \
                }                                                                            \
            }                                                                                \
            for (int j = 0; j < NX; j++) {                                                   \
                const tl__block_q8_K *y = &XROW(tl__block_q8_K, x, xs, j)[i];                \
                __m256i bs = loadu256(y->bsums);                                             \
                __m128i bs8 = _mm_hadd_epi16(_mm256_castsi256_si128(bs),                     \
                                             _mm256_extracti128_si256(bs, 1));               \
                __m128i pm = _mm_madd_epi16(mins, bs8);                                      \
                acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * y->d), _mm256_cvtepi32_ps(sumi[j]), \
                                         acc[j]);                                            \
                accm[j] = _mm_fmadd_ps(_mm_set1_ps(dmin * y->d), _mm_cvtepi32_ps(pm), accm[j]); \
            }                                                                                \
        }                                                                                    \
        for (int j = 0; j < NX; j++)                                                         \
            out[j] = hsum_ps(acc[j]) - hsum_ps128(accm[j]);                                  \
    }                                                                                        \
    NX_DISPATCH(name)

K45_KERNEL(k_q4_K, tl__block_q4_K, 0)
K45_KERNEL(k_q5_K, tl__block_q5_K, 1)

/* Q6_K: weights as unsigned 0..63 (the -32 is folded in afterwards through
 * the activation block sums: sum sc * (q - 32) * y = sum sc * q * y -
 * 32 * sum_g sc_g * bsum_g). Half h of the block: ql[64h..64h+63],
 * qh[32h..32h+31]; quarter k of it (32 elements) takes nibble k / 2 of
 * ql[64h + 32 (k & 1) + l] and bits 2k..2k+1 of qh[32h + l]; its two
 * 16-element groups use scales 8h + 2k and 8h + 2k + 1. */
/* shuffle masks: 8 copies of byte 2g, then 8 of byte 2g + 1 */
#define PICK2(a) {a, a, a, a, a, a, a, a, a + 1, a + 1, a + 1, a + 1, a + 1, a + 1, a + 1, a + 1}
static const uint8_t q6_pick[8][16] = {PICK2(0),  PICK2(2),  PICK2(4),  PICK2(6),
                                       PICK2(8),  PICK2(10), PICK2(12), PICK2(14)};
#undef PICK2

INL void k_q6_K_t(int64_t n, const void *vw, const void *x, size_t xs, const int NX, float *out)
{
    const tl__block_q6_K *w = vw;
    const int64_t nb = n / TL__QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    __m256 acc[TL__Q_MAX_NX];
    for (int j = 0; j < NX; j++)
        acc[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const tl__block_q6_K *b = &w[i];
        const float d = h2f(b->d);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)b->scales);
        __m256i sumi[TL__Q_MAX_NX];
        for (int j = 0; j < NX; j++) {
            /* the -32 offset: 16 scales times 16 block sums */
            __m256i bs = loadu256(XROW(tl__block_q8_K, x, xs, j)[i].bsums);
            __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bs);
            sumi[j] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
        for (int h = 0; h < 2; h++) {
            __m256i l0 = loadu256(b->ql + 64 * h), l1 = loadu256(b->ql + 64 * h + 32);
            __m256i hb = loadu256(b->qh + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                /* scale 8h + 2k in the low lane, 8h + 2k + 1 in the high lane */
                __m128i pick = _mm_loadu_si128((const __m128i *)q6_pick[4 * h + k]);
                __m256i sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
#pragma GCC unroll 4
                for (int j = 0; j < NX; j++) {
                    const int8_t *y = XROW(tl__block_q8_K, x, xs, j)[i].qs + 128 * h + 32 * k;
                    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], loadu256(y)), sc);
                    sumi[j] = _mm256_add_epi32(sumi[j], p);
                }
            }
        }
        for (int j = 0; j < NX; j++) {
            const float dy = XROW(tl__block_q8_K, x, xs, j)[i].d;
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * dy), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
        }
    }
    for (int j = 0; j < NX; j++)
        out[j] = hsum_ps(acc[j]);
}
NX_DISPATCH(k_q6_K)

tl__q_dot_fn tl__q_avx2_kernel(int wtype)
{
    switch (wtype) {
    case TL_GGUF_TYPE_F32: return k_f32;
    case TL_GGUF_TYPE_F16: return k_f16;
    case TL_GGUF_TYPE_BF16: return k_bf16;
    case TL_GGUF_TYPE_Q8_0: return k_q8_0;
    case TL_GGUF_TYPE_Q4_0: return k_q4_0;
    case TL_GGUF_TYPE_Q5_0: return k_q5_0;
    case TL_GGUF_TYPE_Q4_1: return k_q4_1;
    case TL_GGUF_TYPE_Q5_1: return k_q5_1;
    case TL_GGUF_TYPE_Q4_K: return k_q4_K;
    case TL_GGUF_TYPE_Q5_K: return k_q5_K;
    case TL_GGUF_TYPE_Q6_K: return k_q6_K;
    default: return NULL;
    }
}

/* ---- activation quantizers ------------------------------------------------------------------ */

/* The same bytes as quant.c's q_q8_0 / q_q8_K (the tests compare them): the
 * block maximum of |x| (max_ps keeps the accumulator on NaN, as fmaxf), the
 * same scalar scale arithmetic, then roundf (half away from zero) for Q8_0
 * and the current rounding mode (lrintf, i.e. cvtps) for Q8_K. The scalar
 * versions spend most of their time in roundf/fmaxf calls; these run while
 * the other threads wait, once per activation row. */

INL __m256 absmax8(const float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8)
        m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(_mm_movehl_ps(h, h), h);
    h = _mm_max_ss(_mm_movehdup_ps(h), h);
    return _mm256_set1_ps(_mm_cvtss_f32(h));
}

/* roundf of 8 floats: truncate, then step away from zero where the dropped
 * fraction (exact: v - trunc(v)) is at least one half */
INL __m256i roundf8(__m256 v)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign)));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, step));
}

/* four vectors of 8 int32 (each within int8) to 32 int8 in order */
INL __m256i pack32_i8(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd);
    /* the packs interleave 128-bit lanes: a0 b0 c0 d0 | a1 b1 c1 d1 (4 bytes each) */
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static TGT void quant_q8_0(const float *x, void *dst, int64_t n)
{
    tl__block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        float amax = _mm256_cvtss_f32(absmax8(x, TL__QK));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = tl__q_f32_to_f16(d);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q = pack32_i8(roundf8(_mm256_mul_ps(_mm256_loadu_ps(x), vid)),
                              roundf8(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vid)),
                              roundf8(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vid)),
                              roundf8(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vid)));
        _mm256_storeu_si256((__m256i *)b[i].qs, q);
    }
}

static TGT void quant_q8_K(const float *x, void *dst, int64_t n)
{
    tl__block_q8_K *b = dst;
    for (int64_t i = 0; i < n / TL__QK_K; i++, x += TL__QK_K) {
        float amax = _mm256_cvtss_f32(absmax8(x, TL__QK_K));
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        float id = 127.0f / amax;
        b[i].d = amax / 127.0f;
        __m256 vid = _mm256_set1_ps(id);
        const __m256i lo = _mm256_set1_epi8(-127), bias = _mm256_set1_epi8((char)0x80);
        for (int k = 0; k < TL__QK_K; k += 32) {
            const float *p = x + k;
            __m256i q = pack32_i8(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p), vid)),
                                  _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 8), vid)),
                                  _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 16), vid)),
                                  _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 24), vid)));
            q = _mm256_max_epi8(q, lo); // the packs saturate at 127 / -128; clamp to -127
            _mm256_storeu_si256((__m256i *)(b[i].qs + k), q);
            /* block sums of 16: bytes + 128 are unsigned, so sad against
             * zero sums each 8 of them (8 * 128 too many per half) */
            __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, bias), _mm256_setzero_si256());
            b[i].bsums[k / 16] = (int16_t)(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1) - 2048);
            b[i].bsums[k / 16 + 1] =
                (int16_t)(_mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3) - 2048);
        }
    }
}

tl__q_quant_fn tl__q_avx2_quant(int acttype)
{
    switch (acttype) {
    case TL_GGUF_TYPE_Q8_0: return quant_q8_0;
    case TL_GGUF_TYPE_Q8_K: return quant_q8_K;
    default: return NULL;
    }
}

#else /* no x86-64 GCC/Clang: the portable kernels serve every type */

int tl__q_avx2_built(void)
{
    return 0;
}

tl__q_dot_fn tl__q_avx2_kernel(int wtype)
{
    (void)wtype;
    return NULL;
}

tl__q_quant_fn tl__q_avx2_quant(int acttype)
{
    (void)acttype;
    return NULL;
}

#endif
