/*
 * quant_avx512.c - AVX-512 VNNI tile kernels for tl_q_matmul and
 * tl_q_matvec (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K weights).
 *
 * Compiled for every x86-64 build with per-function target attributes, like
 * quant_avx2.c; quant.c calls them only when __builtin_cpu_supports reports
 * AVX-512 F/BW/VL and VNNI. Elsewhere this file compiles to stubs.
 *
 * A tile is up to NW weight rows times NX activation rows: each weight
 * block is unpacked once for the NX activation rows and each activation
 * block loaded once for the NW weight rows, with an accumulator per pair in
 * registers. Within a pair the operations do not depend on NW or NX, so a
 * matvec (NX = 1) gives the same bits as the matmul.
 *
 * 32-element blocks (against Q8_0): vpdpbusd multiplies unsigned by signed
 * bytes, so the weights are taken as unsigned q + C (Q8_0: q ^ 0x80 = q +
 * 128; Q4_0: the raw nibble = q + 8; Q5_0: nibble + 16 * bit = q + 16) and
 * the surplus C * sum(x) is subtracted by starting the dot from -dpbusd(C,
 * x), computed once per activation block. Two blocks fill a 512-bit vector;
 * one FMA per pair applies their float scales.
 *
 * K-quants (against Q8_K): unsigned weights (0..15, 0..31, 0..63) times the
 * activations by vpmaddubsw into 16 bits (at most 63 * 127 * 2, no
 * saturation), then vpdpwssd multiplies by the sub-block scales and
 * accumulates into 32 bits: 64 elements per two instructions, one float FMA
 * per 256-element super-block. The Q4_K/Q5_K minimums and the Q6_K -32
 * offset go through the activation block sums, as in quant_avx2.c.
 */
#include "llm/quant_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

#define MAX_NW 4
#define MAX_NX 8

int tl__q_avx512_built(void)
{
    return 1;
}

#define ROW(T, p, stride, i) ((const T *)((const uint8_t *)(p) + (size_t)(i) * (stride)))

INL __m256i loadu256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* the fp16 scales of two blocks, each in 8 lanes */
INL __m512 scales2(uint16_t d0, uint16_t d1)
{
    return _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16((short)d1), _mm_set1_epi16((short)d0)));
}

INL float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INL float hsum512(__m512 v)
{
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return hsum256(_mm256_add_ps(lo, hi));
}

/* The instantiations NW x NX = 1..4 x 1..4 of a kernel body name##_t, so
 * that the accumulators of each tile shape live in registers. */
#define NX_CASES(name, NWV)                                                                  \
    switch (nx) {                                                                            \
    case 1: name##_t(n, w, ws, x, xs, Y, ldy, NWV, 1); break;                                \
    case 2: name##_t(n, w, ws, x, xs, Y, ldy, NWV, 2); break;                                \
    case 3: name##_t(n, w, ws, x, xs, Y, ldy, NWV, 3); break;                                \
    default: name##_t(n, w, ws, x, xs, Y, ldy, NWV, 4); break;                               \
    }
#define TILE_DISPATCH(name)                                                                  \
    static TGT void name(int64_t n, const void *w, size_t ws, int nw, const void *x,        \
                         size_t xs, int nx, float *Y, int64_t ldy)                           \
    {                                                                                        \
        switch (nw) {                                                                        \
        case 1: NX_CASES(name, 1) break;                                                     \
        case 2: NX_CASES(name, 2) break;                                                     \
        case 3: NX_CASES(name, 3) break;                                                     \
        default: NX_CASES(name, 4) break;                                                    \
        }                                                                                    \
    }
/* One weight row against 1..8 activation rows (the K-quants: their
 * accumulators take two registers per pair), or 1..4 weight rows against one
 * (matvec: independent rows hide the latency of the accumulation chain). */
#define TILE_DISPATCH_1x8(name)                                                              \
    static TGT void name(int64_t n, const void *w, size_t ws, int nw, const void *x,        \
                         size_t xs, int nx, float *Y, int64_t ldy)                           \
    {                                                                                        \
        if (nx == 1) {                                                                       \
            switch (nw) {                                                                    \
            case 1: name##_t(n, w, ws, x, xs, Y, ldy, 1, 1); break;                          \
            case 2: name##_t(n, w, ws, x, xs, Y, ldy, 2, 1); break;                          \
            case 3: name##_t(n, w, ws, x, xs, Y, ldy, 3, 1); break;                          \
            default: name##_t(n, w, ws, x, xs, Y, ldy, 4, 1); break;                         \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        switch (nx) {                                                                        \
        case 2: name##_t(n, w, ws, x, xs, Y, ldy, 1, 2); break;                              \
        case 3: name##_t(n, w, ws, x, xs, Y, ldy, 1, 3); break;                              \
        case 4: name##_t(n, w, ws, x, xs, Y, ldy, 1, 4); break;                              \
        case 5: name##_t(n, w, ws, x, xs, Y, ldy, 1, 5); break;                              \
        case 6: name##_t(n, w, ws, x, xs, Y, ldy, 1, 6); break;                              \
        case 7: name##_t(n, w, ws, x, xs, Y, ldy, 1, 7); break;                              \
        default: name##_t(n, w, ws, x, xs, Y, ldy, 1, 8); break;                             \
        }                                                                                    \
    }

/* ---- 32-element blocks against Q8_0 ------------------------------------------------------ */

/* 16 packed bytes -> 32: low nibbles (elements 0..15), then high nibbles */
INL __m256i nibbles32(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

/* one block's weights as unsigned bytes q + C */
INL __m256i u_q8_0(const tl__block_q8_0 *b)
{
    return _mm256_xor_si256(loadu256(b->qs), _mm256_set1_epi8((char)0x80));
}

INL __m256i u_q4_0(const tl__block_q4_0 *b)
{
    return nibbles32(b->qs);
}

INL __m256i u_q5_0(const tl__block_q5_0 *b)
{
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    return _mm256_or_si256(nibbles32(b->qs), _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(16)));
}

/* Blocks k and k + 1 (TWO) or block k alone (the upper half stays zero)
 * into the accumulators of the tile. */
#define B32_KERNEL(name, WT, UNPACK, C)                                                       \
    INL void name##_step(const void *w, size_t ws, const void *x, size_t xs, int64_t k,      \
                         const int NW, const int NX, const int TWO,                          \
                         __m512 acc[MAX_NW][MAX_NX])                                         \
    {                                                                                        \
        const __m512i cv = _mm512_set1_epi8(C), zero = _mm512_setzero_si512();               \
        __m512i u[MAX_NW];                                                                   \
        __m512 dw[MAX_NW];                                                                   \
        for (int i = 0; i < NW; i++) {                                                       \
            const WT *b = ROW(WT, w, ws, i) + k;                                             \
            __m512i lo = _mm512_zextsi256_si512(UNPACK(b));                                  \
            u[i] = TWO ? _mm512_inserti64x4(lo, UNPACK(b + 1), 1) : lo;                      \
            dw[i] = scales2(b[0].d, TWO ? b[1].d : 0);                                       \
        }                                                                                    \
        for (int j = 0; j < NX; j++) {                                                       \
            const tl__block_q8_0 *y = ROW(tl__block_q8_0, x, xs, j) + k;                     \
            __m512i xv = _mm512_zextsi256_si512(loadu256(y[0].qs));                          \
            if (TWO)                                                                         \
                xv = _mm512_inserti64x4(xv, loadu256(y[1].qs), 1);                           \
            __m512i corr = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, cv, xv));        \
            __m512 dx = scales2(y[0].d, TWO ? y[1].d : 0);                                   \
            for (int i = 0; i < NW; i++) {                                                   \
                __m512i dot = _mm512_dpbusd_epi32(corr, u[i], xv);                           \
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw[i], dx), \
                                            acc[i][j]);                                      \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    INL void name##_t(int64_t n, const void *w, size_t ws, const void *x, size_t xs, float *Y, \
                      int64_t ldy, const int NW, const int NX)                               \
    {                                                                                        \
        const int64_t nb = n / TL__QK;                                                       \
        __m512 acc[MAX_NW][MAX_NX];                                                          \
        for (int i = 0; i < NW; i++)                                                         \
            for (int j = 0; j < NX; j++)                                                     \
                acc[i][j] = _mm512_setzero_ps();                                             \
        int64_t k = 0;                                                                       \
        for (; k + 2 <= nb; k += 2)                                                          \
            name##_step(w, ws, x, xs, k, NW, NX, 1, acc);                                    \
        if (k < nb)                                                                          \
            name##_step(w, ws, x, xs, k, NW, NX, 0, acc);                                    \
        for (int j = 0; j < NX; j++)                                                         \
            for (int i = 0; i < NW; i++)                                                     \
                Y[j * ldy + i] = hsum512(acc[i][j]);                                         \
    }                                                                                        \
    TILE_DISPATCH(name)

B32_KERNEL(t_q8_0, tl__block_q8_0, u_q8_0, (char)0x80)
B32_KERNEL(t_q4_0, tl__block_q4_0, u_q4_0, 8)
B32_KERNEL(t_q5_0, tl__block_q5_0, u_q5_0, 16)

/* ---- K-quants against Q8_K ---------------------------------------------------------------- */

/* The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K
 * block, as quant_avx2.c's k4_scales_mins. */
INL __m128i k4_scales_mins(const uint8_t *packed)
{
    uint32_t a, b, c;
    memcpy(&a, packed, 4);
    memcpy(&b, packed + 4, 4);
    memcpy(&c, packed + 8, 4);
    const uint32_t low6 = 0x3F3F3F3Fu, low4 = 0x0F0F0F0Fu, low2 = 0x03030303u;
    uint32_t sc03 = a & low6;
    uint32_t sc47 = (c & low4) | (((a >> 6) & low2) << 4);
    uint32_t m03 = b & low6;
    uint32_t m47 = ((c >> 4) & low4) | (((b >> 6) & low2) << 4);
    return _mm_set_epi32((int)m47, (int)m03, (int)sc47, (int)sc03);
}

/* 16-bit lanes 0..15 take element a of a vector of int16, lanes 16..31
 * element b (vpermw indices) */
INL __m512i pick2(int a, int b)
{
    return _mm512_mask_set1_epi16(_mm512_set1_epi16((short)a), (__mmask32)0xFFFF0000u, (short)b);
}

/* 16-bit lane L takes element g + L / 8 (four groups of 16 elements) */
INL __m512i pick4(int g)
{
    __m512i v = _mm512_set1_epi16((short)g);
    v = _mm512_mask_set1_epi16(v, (__mmask32)0x0000FF00u, (short)(g + 1));
    v = _mm512_mask_set1_epi16(v, (__mmask32)0x00FF0000u, (short)(g + 2));
    return _mm512_mask_set1_epi16(v, (__mmask32)0xFF000000u, (short)(g + 3));
}

#ifndef KTILE_NW
#define KTILE_NW 1
#endif
#if KTILE_NW == 1
#define KTILE_NX 8
#define KTILE_DISPATCH TILE_DISPATCH_1x8
#else
#define KTILE_NX 4
#define KTILE_DISPATCH TILE_DISPATCH
#endif

INL __m256i fold512(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/* 16-bit shift counts: a for lanes 0..15, b for lanes 16..31 */
INL __m512i shift2(int a, int b)
{
    return _mm512_mask_set1_epi16(_mm512_set1_epi16((short)a), (__mmask32)0xFFFF0000u, (short)b);
}

/* Q4_K (HIGH = 0) and Q5_K (HIGH = 1): 64 elements per step p: the low
 * nibbles of qs[32p..32p+31] (sub-block 2p), then the high nibbles (2p + 1),
 * against y[64p..64p+63]; Q5_K's fifth bits are bits 2p and 2p + 1 of
 * qh[0..31]. Per super-block and pair one float FMA applies both terms: the
 * integer vector holds the 8 lane sums of the scaled products, then the 4
 * min products (madd of the mins with the 32-element activation sums), and
 * the float vector d * dy (8 lanes), -dmin * dy (4 lanes), 0. */
INL void k45_t(int64_t n, const void *w, size_t ws, const void *x, size_t xs, float *Y,
               int64_t ldy, const int NW, const int NX, const int HIGH)
{
    const int64_t nb = n / TL__QK_K;
    const size_t bsz = HIGH ? sizeof(tl__block_q5_K) : sizeof(tl__block_q4_K);
    const __m512i m4 = _mm512_set1_epi8(0x0F), sh = shift2(0, 4);
    __m512 acc[MAX_NW][MAX_NX];
    for (int i = 0; i < NW; i++)
        for (int j = 0; j < NX; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
        __m512i sc[MAX_NW];
        __m128i mins[MAX_NW];
        __m512 dd[MAX_NW];
        for (int i = 0; i < NW; i++) {
            const tl__block_q4_K *b = ROW(tl__block_q4_K, (const uint8_t *)w + k * bsz, ws, i);
            __m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(b->scales));
            sc[i] = _mm512_castsi256_si512(sm);
            mins[i] = _mm256_extracti128_si256(sm, 1);
            dd[i] = _mm512_maskz_mov_ps((__mmask16)0x0FFF,
                                        _mm512_mask_blend_ps((__mmask16)0x0F00,
                                                             _mm512_set1_ps(tl__q_f16(b->d)),
                                                             _mm512_set1_ps(-tl__q_f16(b->dmin))));
        }
        __m512i isum[MAX_NW][MAX_NX];
        for (int i = 0; i < NW; i++)
            for (int j = 0; j < NX; j++)
                isum[i][j] = _mm512_setzero_si512();
        for (int p = 0; p < 4; p++) {
            const __m512i idx = pick2(2 * p, 2 * p + 1);
            for (int i = 0; i < NW; i++) {
                const uint8_t *b = (const uint8_t *)w + (size_t)i * ws + (size_t)k * bsz;
                const uint8_t *qs = HIGH ? ((const tl__block_q5_K *)(const void *)b)->qs
                                         : ((const tl__block_q4_K *)(const void *)b)->qs;
                __m512i q = _mm512_broadcast_i64x4(loadu256(qs + 32 * p));
                __m512i u = _mm512_and_si512(_mm512_srlv_epi16(q, sh), m4);
                if (HIGH) {
                    __m512i qh = _mm512_broadcast_i64x4(
                        loadu256(((const tl__block_q5_K *)(const void *)b)->qh));
                    const __m512i bit = _mm512_mask_set1_epi8(
                        _mm512_set1_epi8((char)(1 << (2 * p))), (__mmask64)0xFFFFFFFF00000000ull,
                        (char)(1 << (2 * p + 1)));
                    u = _mm512_mask_add_epi8(u, _mm512_test_epi8_mask(qh, bit), u,
                                             _mm512_set1_epi8(16));
                }
                __m512i s = _mm512_permutexvar_epi16(idx, sc[i]);
                for (int j = 0; j < NX; j++) {
                    const int8_t *y = ROW(tl__block_q8_K, x, xs, j)[k].qs + 64 * p;
                    __m512i yv = _mm512_loadu_si512((const void *)y);
                    isum[i][j] = _mm512_dpwssd_epi32(isum[i][j], _mm512_maddubs_epi16(u, yv), s);
                }
            }
        }
        for (int j = 0; j < NX; j++) {
            const tl__block_q8_K *y = &ROW(tl__block_q8_K, x, xs, j)[k];
            __m256i bs = loadu256(y->bsums);
            __m128i bs8 = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            __m512 dy = _mm512_set1_ps(y->d);
            for (int i = 0; i < NW; i++) {
                __m512i v = _mm512_inserti32x4(_mm512_zextsi256_si512(fold512(isum[i][j])),
                                               _mm_madd_epi16(mins[i], bs8), 2);
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(dd[i], dy),
                                            acc[i][j]);
            }
        }
    }
    for (int j = 0; j < NX; j++)
        for (int i = 0; i < NW; i++)
            Y[j * ldy + i] = hsum512(acc[i][j]);
}

INL void t_q4_K_t(int64_t n, const void *w, size_t ws, const void *x, size_t xs, float *Y,
                  int64_t ldy, const int NW, const int NX)
{
    k45_t(n, w, ws, x, xs, Y, ldy, NW, NX, 0);
}
KTILE_DISPATCH(t_q4_K)

INL void t_q5_K_t(int64_t n, const void *w, size_t ws, const void *x, size_t xs, float *Y,
                  int64_t ldy, const int NW, const int NX)
{
    k45_t(n, w, ws, x, xs, Y, ldy, NW, NX, 1);
}
KTILE_DISPATCH(t_q5_K)

/* Q6_K: weights as unsigned 0..63, the -32 folded in through the block sums
 * (the dot starts from -32 * sum_g sc_g * bsum_g). Step g = 2h + m covers
 * y[64g..64g+63]: nibble m of ql[64h..64h+63] and bits 4m..4m+1 (first 32
 * bytes) / 4m+2..4m+3 (last 32) of qh[32h..32h+31], moved to bits 4..5,
 * scales 4g..4g+3. */
INL void t_q6_K_t(int64_t n, const void *w, size_t ws, const void *x, size_t xs, float *Y,
                  int64_t ldy, const int NW, const int NX)
{
    const tl__block_q6_K *wb = w;
    const int64_t nb = n / TL__QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    __m256 acc[MAX_NW][MAX_NX];
    for (int i = 0; i < NW; i++)
        for (int j = 0; j < NX; j++)
            acc[i][j] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
        __m512i sc[MAX_NW];
        __m512i isum[MAX_NW][MAX_NX];
        __m256 dw[MAX_NW];
        for (int i = 0; i < NW; i++) {
            const tl__block_q6_K *b = ROW(tl__block_q6_K, wb + k, ws, i);
            __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
            sc[i] = _mm512_castsi256_si512(s16);
            dw[i] = _mm256_set1_ps(tl__q_f16(b->d));
            __m256i sneg = _mm256_mullo_epi16(s16, _mm256_set1_epi16(-32));
            for (int j = 0; j < NX; j++) {
                __m256i bs = loadu256(ROW(tl__block_q8_K, x, xs, j)[k].bsums);
                isum[i][j] = _mm512_zextsi256_si512(
                    _mm256_dpwssd_epi32(_mm256_setzero_si256(), sneg, bs));
            }
        }
        for (int g = 0; g < 4; g++) {
            const int h = g >> 1, m = g & 1;
            const __m512i idx = pick4(4 * g);
            for (int i = 0; i < NW; i++) {
                const tl__block_q6_K *b = ROW(tl__block_q6_K, wb + k, ws, i);
                __m512i l = _mm512_loadu_si512((const void *)(b->ql + 64 * h));
                __m512i lo4 = _mm512_and_si512(m ? _mm512_srli_epi16(l, 4) : l, m4);
                __m512i qh = _mm512_broadcast_i64x4(loadu256(b->qh + 32 * h));
                /* bits 4m..4m+1 (first half) and 4m+2..4m+3 (second) to bits 4..5 */
                __m512i hz = m ? _mm512_srlv_epi16(qh, shift2(0, 2))
                               : _mm512_sllv_epi16(qh, shift2(4, 2));
                __m512i u = _mm512_ternarylogic_epi32(lo4, hz, m30, 0xF8); // lo4 | (hz & 0x30)
                __m512i s = _mm512_permutexvar_epi16(idx, sc[i]);
                for (int j = 0; j < NX; j++) {
                    const int8_t *y = ROW(tl__block_q8_K, x, xs, j)[k].qs + 64 * g;
                    __m512i yv = _mm512_loadu_si512((const void *)y);
                    isum[i][j] = _mm512_dpwssd_epi32(isum[i][j], _mm512_maddubs_epi16(u, yv), s);
                }
            }
        }
        for (int j = 0; j < NX; j++) {
            const __m256 dy = _mm256_set1_ps(ROW(tl__block_q8_K, x, xs, j)[k].d);
            for (int i = 0; i < NW; i++)
                acc[i][j] = _mm256_fmadd_ps(_mm256_mul_ps(dw[i], dy),
                                            _mm256_cvtepi32_ps(fold512(isum[i][j])), acc[i][j]);
        }
    }
    for (int j = 0; j < NX; j++)
        for (int i = 0; i < NW; i++)
            Y[j * ldy + i] = hsum256(acc[i][j]);
}
KTILE_DISPATCH(t_q6_K)

/* mv_nw: one weight row per matvec call (several interleaved rows slowed
 * decoding 2-3x in the engine, where the weights stream from memory); 0 for
 * the K-quants, whose matvec stays on the AVX2 kernels: at one activation
 * row these tiles are ~5% slower (their per-super-block set-up is not shared),
 * so their matvec and matmul agree to the float tolerance, not bit for bit. */
struct tl__q_tile tl__q_avx512_tile(int wtype)
{
    switch (wtype) {
    case TL_GGUF_TYPE_Q8_0: return (struct tl__q_tile){t_q8_0, 4, 4, 1};
    case TL_GGUF_TYPE_Q4_0: return (struct tl__q_tile){t_q4_0, 4, 4, 1};
    case TL_GGUF_TYPE_Q5_0: return (struct tl__q_tile){t_q5_0, 4, 4, 1};
    case TL_GGUF_TYPE_Q4_K: return (struct tl__q_tile){t_q4_K, KTILE_NW, KTILE_NX, 0};
    case TL_GGUF_TYPE_Q5_K: return (struct tl__q_tile){t_q5_K, KTILE_NW, KTILE_NX, 0};
    case TL_GGUF_TYPE_Q6_K: return (struct tl__q_tile){t_q6_K, KTILE_NW, KTILE_NX, 0};
    default: return (struct tl__q_tile){NULL, 0, 0, 0};
    }
}

#else /* no x86-64 GCC/Clang: the AVX2 or portable kernels serve every type */

int tl__q_avx512_built(void)
{
    return 0;
}

/* mv_nw: one weight row per matvec call (several interleaved rows slowed
 * decoding 2-3x in the engine, where the weights stream from memory); 0 for
 * the K-quants, whose matvec stays on the AVX2 kernels: at one activation
 * row these tiles are ~5% slower (their per-super-block set-up is not shared),
 * so their matvec and matmul agree to the float tolerance, not bit for bit. */
struct tl__q_tile tl__q_avx512_tile(int wtype)
{
    (void)wtype;
    return (struct tl__q_tile){NULL, 0, 0, 0};
}

#endif
