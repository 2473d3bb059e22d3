/*
 * quant.c - quantized tensor kernels (include/teller/llm_quant.h): the type
 * table, fp16/bf16 conversion, reference (de)quantizers, activation
 * quantization, the portable dot kernels and the run-time dispatch to the
 * AVX2 kernels of quant_avx2.c.
 *
 * The portable dot kernels compute the same integer sums per block as the
 * AVX2 ones and as ggml's scalar code (weights times 8-bit activations, then
 * one float scale per block or sub-block), so both paths agree up to float
 * summation order.
 */
#include "llm/quant_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- fp16 / bf16 ---------------------------------------------------------------- */

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float tl_fp16_to_f32(uint16_t h)
{
    return tl__q_f16(h);
}

static inline uint16_t f32_to_f16(float f)
{
    return tl__q_f32_to_f16(f);
}

uint16_t tl_f32_to_fp16(float f)
{
    return f32_to_f16(f);
}

float tl_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t tl_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((x >> 16) | 0x40); // NaN: quiet, sign kept
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1)) >> 16);
}

/* Round half to even, as ggml's nearest_int. */
static inline int nearest_int(float v)
{
    return (int)lrintf(v);
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- dequantize -------------------------------------------------------------------- */

static void deq_f32(const void *src, float *y, int64_t n)
{
    memcpy(y, src, (size_t)n * sizeof(float));
}

static void deq_f16(const void *src, float *y, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = tl__q_f16(h[i]);
}

static void deq_bf16(const void *src, float *y, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = tl_bf16_to_f32(h[i]);
}

static void deq_q4_0(const void *src, float *y, int64_t n)
{
    const tl__block_q4_0 *b = src;
    for (int64_t i = 0; i < n / TL__QK; i++, y += TL__QK) {
        float d = tl__q_f16(b[i].d);
        for (int j = 0; j < TL__QK / 2; j++) {
            y[j] = (float)((b[i].qs[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const void *src, float *y, int64_t n)
{
    const tl__block_q4_1 *b = src;
    for (int64_t i = 0; i < n / TL__QK; i++, y += TL__QK) {
        float d = tl__q_f16(b[i].d), m = tl__q_f16(b[i].m);
        for (int j = 0; j < TL__QK / 2; j++) {
            y[j] = (float)(b[i].qs[j] & 0x0F) * d + m;
            y[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

static inline uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void deq_q5_0(const void *src, float *y, int64_t n)
{
    const tl__block_q5_0 *b = src;
    for (int64_t i = 0; i < n / TL__QK; i++, y += TL__QK) {
        float d = tl__q_f16(b[i].d);
        uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < TL__QK / 2; j++) {
            int h0 = (int)((qh >> j) & 1) << 4;
            int h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(((b[i].qs[j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (float)(((b[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void deq_q5_1(const void *src, float *y, int64_t n)
{
    const tl__block_q5_1 *b = src;
    for (int64_t i = 0; i < n / TL__QK; i++, y += TL__QK) {
        float d = tl__q_f16(b[i].d), m = tl__q_f16(b[i].m);
        uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < TL__QK / 2; j++) {
            int h0 = (int)((qh >> j) & 1) << 4;
            int h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)((b[i].qs[j] & 0x0F) | h0) * d + m;
            y[j + 16] = (float)((b[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void deq_q8_0(const void *src, float *y, int64_t n)
{
    const tl__block_q8_0 *b = src;
    for (int64_t i = 0; i < n / TL__QK; i++, y += TL__QK) {
        float d = tl__q_f16(b[i].d);
        for (int j = 0; j < TL__QK; j++)
            y[j] = (float)b[i].qs[j] * d;
    }
}

static void deq_q8_1(const void *src, float *y, int64_t n)
{
    const tl__block_q8_1 *b = src;
    for (int64_t i = 0; i < n / TL__QK; i++, y += TL__QK) {
        float d = tl__q_f16(b[i].d);
        for (int j = 0; j < TL__QK; j++)
            y[j] = (float)b[i].qs[j] * d;
    }
}

static void deq_q4_K(const void *src, float *y, int64_t n)
{
    const tl__block_q4_K *b = src;
    for (int64_t i = 0; i < n / TL__QK_K; i++) {
        float d = tl__q_f16(b[i].d), dmin = tl__q_f16(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            tl__q_scale_min_k4(j, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            tl__q_scale_min_k4(j + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void deq_q5_K(const void *src, float *y, int64_t n)
{
    const tl__block_q5_K *b = src;
    for (int64_t i = 0; i < n / TL__QK_K; i++) {
        float d = tl__q_f16(b[i].d), dmin = tl__q_f16(b[i].dmin);
        const uint8_t *q = b[i].qs, *qh = b[i].qh;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            tl__q_scale_min_k4(j, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            tl__q_scale_min_k4(j + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((q[l] & 0x0F) + (((qh[l] >> j) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((q[l] >> 4) + (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
        }
    }
}

static void deq_q6_K(const void *src, float *y, int64_t n)
{
    const tl__block_q6_K *b = src;
    for (int64_t i = 0; i < n / TL__QK_K; i++) {
        float d = tl__q_f16(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void deq_q8_K(const void *src, float *y, int64_t n)
{
    const tl__block_q8_K *b = src;
    for (int64_t i = 0; i < n / TL__QK_K; i++, y += TL__QK_K)
        for (int j = 0; j < TL__QK_K; j++)
            y[j] = b[i].d * (float)b[i].qs[j];
}

/* ---- quantize -------------------------------------------------------------------------- */

static void q_f32(const float *x, void *dst, int64_t n)
{
    memcpy(dst, x, (size_t)n * sizeof(float));
}

static void q_f16(const float *x, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = f32_to_f16(x[i]);
}

static void q_bf16(const float *x, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = tl_f32_to_bf16(x[i]);
}

/* The value of largest magnitude, with its sign. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void q_q4_0(const float *x, void *dst, int64_t n)
{
    tl__block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        /* the extreme value maps to -8, the one level that has no +8 twin */
        float d = signed_absmax(x, TL__QK) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < TL__QK / 2; j++) {
            int q0 = clampi((int)(x[j] * id + 8.5f), 0, 15);
            int q1 = clampi((int)(x[j + 16] * id + 8.5f), 0, 15);
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void minmax(const float *x, int n, float *lo, float *hi)
{
    float a = x[0], z = x[0];
    for (int j = 1; j < n; j++) {
        a = x[j] < a ? x[j] : a;
        z = x[j] > z ? x[j] : z;
    }
    *lo = a;
    *hi = z;
}

static void q_q4_1(const float *x, void *dst, int64_t n)
{
    tl__block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        float lo, hi;
        minmax(x, TL__QK, &lo, &hi);
        float d = (hi - lo) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        b[i].m = f32_to_f16(lo);
        for (int j = 0; j < TL__QK / 2; j++) {
            int q0 = clampi((int)((x[j] - lo) * id + 0.5f), 0, 15);
            int q1 = clampi((int)((x[j + 16] - lo) * id + 0.5f), 0, 15);
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void store_u32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void q_q5_0(const float *x, void *dst, int64_t n)
{
    tl__block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        float d = signed_absmax(x, TL__QK) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < TL__QK / 2; j++) {
            int q0 = clampi((int)(x[j] * id + 16.5f), 0, 31);
            int q1 = clampi((int)(x[j + 16] * id + 16.5f), 0, 31);
            b[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        store_u32(b[i].qh, qh);
    }
}

static void q_q5_1(const float *x, void *dst, int64_t n)
{
    tl__block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        float lo, hi;
        minmax(x, TL__QK, &lo, &hi);
        float d = (hi - lo) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        b[i].m = f32_to_f16(lo);
        uint32_t qh = 0;
        for (int j = 0; j < TL__QK / 2; j++) {
            int q0 = clampi((int)((x[j] - lo) * id + 0.5f), 0, 31);
            int q1 = clampi((int)((x[j + 16] - lo) * id + 0.5f), 0, 31);
            b[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        store_u32(b[i].qh, qh);
    }
}

static void q_q8_0(const float *x, void *dst, int64_t n)
{
    tl__block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        float amax = 0.0f;
        for (int j = 0; j < TL__QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < TL__QK; j++)
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void q_q8_1(const float *x, void *dst, int64_t n)
{
    tl__block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / TL__QK; i++, x += TL__QK) {
        float amax = 0.0f;
        for (int j = 0; j < TL__QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        int sum = 0;
        for (int j = 0; j < TL__QK; j++) {
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += b[i].qs[j];
        }
        /* from the stored (fp16) d, so that s is the sum of the dequantized
         * block up to one fp16 rounding */
        b[i].s = f32_to_f16(tl__q_f16(b[i].d) * (float)sum);
    }
}

static void q_q8_K(const float *x, void *dst, int64_t n)
{
    tl__block_q8_K *b = dst;
    for (int64_t i = 0; i < n / TL__QK_K; i++, x += TL__QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < TL__QK_K; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        float id = 127.0f / amax;
        b[i].d = amax / 127.0f;
        for (int j = 0; j < TL__QK_K; j++)
            b[i].qs[j] = (int8_t)clampi(nearest_int(x[j] * id), -127, 127);
        for (int g = 0; g < TL__QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += b[i].qs[16 * g + l];
            b[i].bsums[g] = (int16_t)s;
        }
    }
}

/* x ~ scale * L - the_min with L in [0, nmax] and the_min >= 0 (the minimum is
 * clamped to at most zero, as ggml's make_qkx): tries a few step sizes around
 * (max - min) / nmax, refits scale and minimum by least squares for each
 * assignment, keeps the best squared error. */
static float fit_scale_min(const float *x, int n, int nmax, float *the_min)
{
    float lo, hi;
    minmax(x, n, &lo, &hi);
    if (lo > 0.0f)
        lo = 0.0f;
    if (hi <= lo) {
        *the_min = -lo;
        return 0.0f;
    }
    float best_s = (hi - lo) / (float)nmax, best_m = lo, best_err = INFINITY;
    for (int is = -10; is <= 10; is++) {
        float iscale = ((float)nmax + 0.1f * (float)is) / (hi - lo);
        float sl = 0, sl2 = 0, sx = 0, sxl = 0;
        int L[TL__QK];
        for (int j = 0; j < n; j++) {
            L[j] = clampi(nearest_int(iscale * (x[j] - lo)), 0, nmax);
            sl += (float)L[j];
            sl2 += (float)(L[j] * L[j]);
            sx += x[j];
            sxl += x[j] * (float)L[j];
        }
        float D = (float)n * sl2 - sl * sl;
        if (D <= 0.0f)
            continue;
        float s = ((float)n * sxl - sl * sx) / D;
        float m = (sl2 * sx - sl * sxl) / D;
        if (m > 0.0f) {
            m = 0.0f;
            s = sxl / sl2;
        }
        if (!(s > 0.0f))
            continue;
        float err = 0.0f;
        for (int j = 0; j < n; j++) {
            float e = s * (float)L[j] + m - x[j];
            err += e * e;
        }
        if (err < best_err) {
            best_err = err;
            best_s = s;
            best_m = m;
        }
    }
    *the_min = -best_m;
    return best_s;
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with a
 * 6-bit scale and a 6-bit min relative to the super-block's d and dmin.
 * Writes d, dmin, scales and returns the levels in L. */
static void quant_k_scales(const float *x, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                           uint8_t *scales, uint8_t *L)
{
    float sc[8], mn[8], max_sc = 0.0f, max_mn = 0.0f;
    for (int j = 0; j < 8; j++) {
        sc[j] = fit_scale_min(x + 32 * j, 32, nmax, &mn[j]);
        max_sc = fmaxf(max_sc, sc[j]);
        max_mn = fmaxf(max_mn, mn[j]);
    }
    float inv_sc = max_sc > 0.0f ? 63.0f / max_sc : 0.0f;
    float inv_mn = max_mn > 0.0f ? 63.0f / max_mn : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(nearest_int(inv_sc * sc[j]), 0, 63);
        lm[j] = (uint8_t)clampi(nearest_int(inv_mn * mn[j]), 0, 63);
    }
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            scales[j] = ls[j];
            scales[j + 4] = lm[j];
        } else {
            scales[j + 4] = (uint8_t)((ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4));
            scales[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            scales[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    *d_out = f32_to_f16(max_sc / 63.0f);
    *dmin_out = f32_to_f16(max_mn / 63.0f);
    /* requantize against the scales as they will be decoded */
    float d = tl__q_f16(*d_out), dmin = tl__q_f16(*dmin_out);
    for (int j = 0; j < 8; j++) {
        uint8_t s6, m6;
        tl__q_scale_min_k4(j, scales, &s6, &m6);
        float dl = d * s6, ml = dmin * m6;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] =
                dl != 0.0f ? (uint8_t)clampi(nearest_int((x[32 * j + l] + ml) / dl), 0, nmax) : 0;
    }
}

static void q_q4_K(const float *x, void *dst, int64_t n)
{
    tl__block_q4_K *b = dst;
    for (int64_t i = 0; i < n / TL__QK_K; i++, x += TL__QK_K) {
        uint8_t L[TL__QK_K];
        quant_k_scales(x, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
        for (int j = 0; j < TL__QK_K; j += 64)
            for (int l = 0; l < 32; l++)
                b[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

static void q_q5_K(const float *x, void *dst, int64_t n)
{
    tl__block_q5_K *b = dst;
    for (int64_t i = 0; i < n / TL__QK_K; i++, x += TL__QK_K) {
        uint8_t L[TL__QK_K];
        quant_k_scales(x, 31, &b[i].d, &b[i].dmin, b[i].scales, L);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int j = 0; j < TL__QK_K; j += 64)
            for (int l = 0; l < 32; l++) {
                int lo = L[j + l], hi = L[j + l + 32];
                b[i].qs[j / 2 + l] = (uint8_t)((lo & 0x0F) | ((hi & 0x0F) << 4));
                int bit = j / 32; // sub-block index of lo; hi is bit + 1
                b[i].qh[l] |= (uint8_t)(((lo >> 4) << bit) | ((hi >> 4) << (bit + 1)));
            }
    }
}

/* x ~ scale * L with L in [-32, 31]: the step sizes around the extreme value
 * mapped to -32, each refit by least squares; keeps the best. */
static float fit_scale_sym(const float *x, int n)
{
    float max = signed_absmax(x, n);
    if (fabsf(max) < 1e-30f)
        return 0.0f;
    float best_s = max / -32.0f, best = -1.0f;
    for (int is = -9; is <= 9; is++) {
        float iscale = -(32.0f + 0.1f * (float)is) / max;
        float sxl = 0, sl2 = 0;
        for (int j = 0; j < n; j++) {
            int l = clampi(nearest_int(iscale * x[j]), -32, 31);
            sxl += x[j] * (float)l;
            sl2 += (float)(l * l);
        }
        /* the least-squares error is sum x^2 - sxl^2 / sl2: maximize the quotient */
        if (sl2 > 0.0f && sxl * sxl / sl2 > best) {
            best = sxl * sxl / sl2;
            best_s = sxl / sl2;
        }
    }
    return best_s;
}

static void q_q6_K(const float *x, void *dst, int64_t n)
{
    tl__block_q6_K *b = dst;
    for (int64_t i = 0; i < n / TL__QK_K; i++, x += TL__QK_K) {
        float sc[16], max_sc = 0.0f, amax = 0.0f;
        for (int g = 0; g < 16; g++) {
            sc[g] = fit_scale_sym(x + 16 * g, 16);
            if (fabsf(sc[g]) > amax) {
                amax = fabsf(sc[g]);
                max_sc = sc[g];
            }
        }
        uint8_t L[TL__QK_K];
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            memset(L, 32, sizeof L);
        } else {
            float iscale = -128.0f / max_sc;
            b[i].d = f32_to_f16(1.0f / iscale);
            float d = tl__q_f16(b[i].d);
            for (int g = 0; g < 16; g++) {
                b[i].scales[g] = (int8_t)clampi(nearest_int(iscale * sc[g]), -128, 127);
                float dl = d * (float)b[i].scales[g];
                for (int l = 0; l < 16; l++) {
                    int q = dl != 0.0f ? clampi(nearest_int(x[16 * g + l] / dl), -32, 31) : 0;
                    L[16 * g + l] = (uint8_t)(q + 32);
                }
            }
        }
        uint8_t *ql = b[i].ql, *qh = b[i].qh;
        for (int j = 0; j < TL__QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (uint8_t)((q1 & 0x0F) | ((q3 & 0x0F) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0x0F) | ((q4 & 0x0F) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
    }
}

/* ---- portable dot kernels -------------------------------------------------------------- */

static float dot_f32(int64_t n, const void *w, const void *x)
{
    const float *a = w, *b = x;
    float s[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static float dot_f16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += tl__q_f16(a[i]) * b[i];
    return s;
}

static float dot_bf16(int64_t n, const void *w, const void *x)
{
    const uint16_t *a = w;
    const float *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += tl_bf16_to_f32(a[i]) * b[i];
    return s;
}

static float dot_q4_0(int64_t n, const void *w, const void *x)
{
    const tl__block_q4_0 *a = w;
    const tl__block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK; i++) {
        int sumi = 0;
        for (int j = 0; j < TL__QK / 2; j++)
            sumi += ((a[i].qs[j] & 0x0F) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        s += (float)sumi * (tl__q_f16(a[i].d) * tl__q_f16(b[i].d));
    }
    return s;
}

static float dot_q4_1(int64_t n, const void *w, const void *x)
{
    const tl__block_q4_1 *a = w;
    const tl__block_q8_1 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK; i++) {
        int sumi = 0;
        for (int j = 0; j < TL__QK / 2; j++)
            sumi += (a[i].qs[j] & 0x0F) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        s += (float)sumi * (tl__q_f16(a[i].d) * tl__q_f16(b[i].d)) +
             tl__q_f16(a[i].m) * tl__q_f16(b[i].s);
    }
    return s;
}

/* 32 weights as bytes (low nibbles, then high, plus the fifth bits of qh),
 * so the dot loop below is a plain byte loop the compiler can vectorize. */
static inline void unpack_q5(const uint8_t *qs, const uint8_t *qhp, int offset, int8_t *q)
{
    /* each qh byte to 8 bytes of 0x10 / 0: multiply spreads the byte into
     * every byte, the mask keeps bit k in byte k, adding 0x7F moves any set
     * bit to bit 7 (no carry: each byte is at most 0x80) */
    uint8_t hi[TL__QK];
    for (int k = 0; k < 4; k++) {
        uint64_t v = (uint64_t)qhp[k] * 0x0101010101010101ull & 0x8040201008040201ull;
        v = ((v + 0x7F7F7F7F7F7F7F7Full) & 0x8080808080808080ull) >> 3;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(hi + 8 * k, &v, 8); // one store: byte stores then a vector load stall
#else
        for (int m = 0; m < 8; m++)
            hi[8 * k + m] = (uint8_t)(v >> (8 * m));
#endif
    }
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(((qs[j] & 0x0F) | hi[j]) - offset);
        q[j + 16] = (int8_t)(((qs[j] >> 4) | hi[j + 16]) - offset);
    }
}

static inline int dot32_i8(const int8_t *a, const int8_t *b)
{
    int s = 0;
    for (int j = 0; j < 32; j++)
        s += a[j] * b[j];
    return s;
}

static float dot_q5_0(int64_t n, const void *w, const void *x)
{
    const tl__block_q5_0 *a = w;
    const tl__block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK; i++) {
        int8_t q[TL__QK];
        unpack_q5(a[i].qs, a[i].qh, 16, q);
        s += (float)dot32_i8(q, b[i].qs) * (tl__q_f16(a[i].d) * tl__q_f16(b[i].d));
    }
    return s;
}

static float dot_q5_1(int64_t n, const void *w, const void *x)
{
    const tl__block_q5_1 *a = w;
    const tl__block_q8_1 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK; i++) {
        int8_t q[TL__QK];
        unpack_q5(a[i].qs, a[i].qh, 0, q);
        s += (float)dot32_i8(q, b[i].qs) * (tl__q_f16(a[i].d) * tl__q_f16(b[i].d)) +
             tl__q_f16(a[i].m) * tl__q_f16(b[i].s);
    }
    return s;
}

static float dot_q8_0(int64_t n, const void *w, const void *x)
{
    const tl__block_q8_0 *a = w;
    const tl__block_q8_0 *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK; i++) {
        int sumi = dot32_i8(a[i].qs, b[i].qs);
        s += (float)sumi * (tl__q_f16(a[i].d) * tl__q_f16(b[i].d));
    }
    return s;
}

/* Q4_K (qh NULL) and Q5_K: the 8 sub-blocks as bytes, each dotted with its
 * 32 activations and scaled by its 6-bit scale; the mins meet the
 * activation block sums. */
static float dot_k45(int64_t n, const void *w, const void *x, bool five)
{
    const uint8_t *blk = w;
    const tl__block_q8_K *b = x;
    const size_t bytes = five ? sizeof(tl__block_q5_K) : sizeof(tl__block_q4_K);
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK_K; i++, blk += bytes) {
        /* d, dmin and scales sit at the same offsets in both layouts */
        const tl__block_q4_K *a = (const tl__block_q4_K *)(const void *)blk;
        const uint8_t *qs = five ? ((const tl__block_q5_K *)(const void *)blk)->qs : a->qs;
        const uint8_t *qh = five ? ((const tl__block_q5_K *)(const void *)blk)->qh : NULL;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            tl__q_scale_min_k4(j, a->scales, &sc, &m);
            const uint8_t *qj = qs + 32 * (j / 2);
            int8_t q[32];
            int shift = (j & 1) * 4;
            for (int l = 0; l < 32; l++)
                q[l] = (int8_t)((qj[l] >> shift) & 0x0F);
            if (qh)
                for (int l = 0; l < 32; l++)
                    q[l] = (int8_t)(q[l] | (((qh[l] >> j) & 1) << 4));
            sumi += sc * dot32_i8(q, b[i].qs + 32 * j);
            summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        s += b[i].d * (tl__q_f16(a->d) * (float)sumi - tl__q_f16(a->dmin) * (float)summ);
    }
    return s;
}

static float dot_q4_K(int64_t n, const void *w, const void *x)
{
    return dot_k45(n, w, x, false);
}

static float dot_q5_K(int64_t n, const void *w, const void *x)
{
    return dot_k45(n, w, x, true);
}

static float dot_q6_K(int64_t n, const void *w, const void *x)
{
    const tl__block_q6_K *a = w;
    const tl__block_q8_K *b = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / TL__QK_K; i++) {
        /* unpack the 256 weights in element order, then 16 plain group dots */
        int8_t q[TL__QK_K];
        const uint8_t *ql = a[i].ql, *qh = a[i].qh;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            int8_t *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                o[l] = (int8_t)(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
                o[l + 32] = (int8_t)(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
                o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int sumi = 0;
        for (int g = 0; g < 16; g++) {
            int acc = 0;
            for (int l = 0; l < 16; l++)
                acc += q[16 * g + l] * b[i].qs[16 * g + l];
            sumi += a[i].scales[g] * acc;
        }
        s += b[i].d * tl__q_f16(a[i].d) * (float)sumi;
    }
    return s;
}

/* The portable kernels in the tl__q_dot_fn form: one row of weights against
 * nx activation rows, one after the other. */
#define PORTABLE_KERNEL(name)                                                             \
    static void name##_nx(int64_t n, const void *w, const void *x, size_t x_stride, int nx, \
                          float *out)                                                     \
    {                                                                                     \
        for (int j = 0; j < nx; j++)                                                      \
            out[j] = name(n, w, (const uint8_t *)x + (size_t)j * x_stride);               \
    }
PORTABLE_KERNEL(dot_f32)
PORTABLE_KERNEL(dot_f16)
PORTABLE_KERNEL(dot_bf16)
PORTABLE_KERNEL(dot_q4_0)
PORTABLE_KERNEL(dot_q4_1)
PORTABLE_KERNEL(dot_q5_0)
PORTABLE_KERNEL(dot_q5_1)
PORTABLE_KERNEL(dot_q8_0)
PORTABLE_KERNEL(dot_q4_K)
PORTABLE_KERNEL(dot_q5_K)
PORTABLE_KERNEL(dot_q6_K)

/* ---- type table ------------------------------------------------------------------------- */

struct qtraits {
    uint16_t block;  // elements per block (0: unsupported)
    uint16_t bytes;  // bytes per block
    int act;         // activation type for the dot kernel, -1 for none
    void (*dequant)(const void *src, float *dst, int64_t n);
    void (*quant)(const float *src, void *dst, int64_t n);
    tl__q_dot_fn dot; // portable kernel
};

#define T(id) TL_GGUF_TYPE_##id
static const struct qtraits traits[TL_GGUF_TYPE_COUNT] = {
    [T(F32)] = {1, 4, T(F32), deq_f32, q_f32, dot_f32_nx},
    [T(F16)] = {1, 2, T(F32), deq_f16, q_f16, dot_f16_nx},
    [T(BF16)] = {1, 2, T(F32), deq_bf16, q_bf16, dot_bf16_nx},
    [T(Q4_0)] = {32, 18, T(Q8_0), deq_q4_0, q_q4_0, dot_q4_0_nx},
    [T(Q4_1)] = {32, 20, T(Q8_1), deq_q4_1, q_q4_1, dot_q4_1_nx},
    [T(Q5_0)] = {32, 22, T(Q8_0), deq_q5_0, q_q5_0, dot_q5_0_nx},
    [T(Q5_1)] = {32, 24, T(Q8_1), deq_q5_1, q_q5_1, dot_q5_1_nx},
    [T(Q8_0)] = {32, 34, T(Q8_0), deq_q8_0, q_q8_0, dot_q8_0_nx},
    [T(Q8_1)] = {32, 36, -1, deq_q8_1, q_q8_1, NULL},
    [T(Q4_K)] = {256, 144, T(Q8_K), deq_q4_K, q_q4_K, dot_q4_K_nx},
    [T(Q5_K)] = {256, 176, T(Q8_K), deq_q5_K, q_q5_K, dot_q5_K_nx},
    [T(Q6_K)] = {256, 210, T(Q8_K), deq_q6_K, q_q6_K, dot_q6_K_nx},
    [T(Q8_K)] = {256, 292, -1, deq_q8_K, q_q8_K, NULL},
};
#undef T

static const struct qtraits *tr(int type)
{
    if (type < 0 || type >= TL_GGUF_TYPE_COUNT || traits[type].block == 0)
        return NULL;
    return &traits[type];
}

bool tl_q_supported(int type)
{
    return tr(type) != NULL;
}

size_t tl_q_row_size(int type, int64_t n)
{
    const struct qtraits *t = tr(type);
    if (!t || n <= 0 || n % t->block != 0)
        return 0;
    return (size_t)(n / t->block) * t->bytes;
}

int tl_q_dequantize_row(int type, const void *src, float *dst, int64_t n)
{
    const struct qtraits *t = tr(type);
    if (!t)
        return TL_EUNSUPPORTED;
    if (n <= 0 || n % t->block != 0)
        return TL_EINVAL;
    t->dequant(src, dst, n);
    return 0;
}

int tl_q_quantize_row(int type, const float *src, void *dst, int64_t n)
{
    const struct qtraits *t = tr(type);
    if (!t)
        return TL_EUNSUPPORTED;
    if (n <= 0 || n % t->block != 0)
        return TL_EINVAL;
    t->quant(src, dst, n);
    return 0;
}

size_t tl_q_act_size(int wtype, int64_t n)
{
    const struct qtraits *t = tr(wtype);
    if (!t || t->act < 0 || tl_q_row_size(wtype, n) == 0)
        return 0;
    return tl_q_row_size(t->act, n);
}

/* the kernel level in use (dispatch, below) */
enum { MODE_UNKNOWN = 0, MODE_PORTABLE = 1, MODE_AVX2 = 2, MODE_AVX512 = 3 };
static int mode(void);

void tl_q_quantize_act(int wtype, const float *x, void *dst, int64_t n)
{
    const struct qtraits *t = tr(wtype);
    assert(t && t->act >= 0 && tl_q_act_size(wtype, n) > 0);
    if (!t || t->act < 0)
        return;
    if (mode() >= MODE_AVX2) {
        tl__q_quant_fn q = tl__q_avx2_quant(t->act);
        if (q) {
            q(x, dst, n);
            return;
        }
    }
    traits[t->act].quant(x, dst, n);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Kernel levels, each a superset of the one below: the CPU's level is
 * detected once; TELLER_KERNELS (read once, "portable", "avx2" or
 * "avx512vnni") and tl__q_set_kernels cap it, tl_q_force_portable caps it at
 * portable. */
static atomic_int g_mode;          // what the CPU supports (and TELLER_KERNELS allows)
static atomic_int g_cap = MODE_AVX512;
static atomic_bool g_force_portable;

static const char *const mode_names[] = {"unknown", "portable", "avx2", "avx512vnni"};

static int mode_of_name(const char *name)
{
    for (int m = MODE_PORTABLE; m <= MODE_AVX512; m++)
        if (strcmp(name, mode_names[m]) == 0)
            return m;
    return MODE_UNKNOWN;
}

static int cpu_mode(void)
{
    int m = atomic_load_explicit(&g_mode, memory_order_relaxed);
    if (m != MODE_UNKNOWN)
        return m;
    m = MODE_PORTABLE;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    bool f16c = true; // every AVX2 CPU has F16C; clang cannot ask for it by name
#if !defined(__clang__)
    f16c = __builtin_cpu_supports("f16c");
#endif
    if (tl__q_avx2_built() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        f16c) {
        m = MODE_AVX2;
        if (tl__q_avx512_built() && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512vnni"))
            m = MODE_AVX512;
    }
#endif
    /* an unknown TELLER_KERNELS value is ignored (the library does not print) */
    const char *env = getenv("TELLER_KERNELS");
    int cap = env ? mode_of_name(env) : MODE_UNKNOWN;
    if (cap != MODE_UNKNOWN && cap < m)
        m = cap;
    /* racing threads all compute and store the same value */
    atomic_store_explicit(&g_mode, m, memory_order_relaxed);
    return m;
}

static int mode(void)
{
    if (atomic_load_explicit(&g_force_portable, memory_order_relaxed))
        return MODE_PORTABLE;
    int m = cpu_mode(), cap = atomic_load_explicit(&g_cap, memory_order_relaxed);
    return m < cap ? m : cap;
}

const char *tl_q_kernels(void)
{
    return mode_names[mode()];
}

void tl_q_force_portable(bool on)
{
    atomic_store_explicit(&g_force_portable, on, memory_order_relaxed);
}

int tl__q_set_kernels(const char *name)
{
    int m = name ? mode_of_name(name) : MODE_AVX512;
    if (m == MODE_UNKNOWN)
        return TL_EINVAL;
    atomic_store_explicit(&g_cap, m, memory_order_relaxed);
    return 0;
}

static tl__q_dot_fn kernel(int wtype)
{
    const struct qtraits *t = tr(wtype);
    if (!t || !t->dot)
        return NULL;
    if (mode() >= MODE_AVX2) {
        tl__q_dot_fn k = tl__q_avx2_kernel(wtype);
        if (k)
            return k;
    }
    return t->dot;
}

static struct tl__q_tile tile_kernel(int wtype)
{
    if (mode() >= MODE_AVX512)
        return tl__q_avx512_tile(wtype);
    return (struct tl__q_tile){NULL, 0, 0, 0};
}

void tl_q_matvec(int wtype, const void *W, int64_t n, int64_t r0, int64_t r1, const void *xq,
                 float *y)
{
    tl__q_dot_fn k = kernel(wtype);
    size_t rb = tl_q_row_size(wtype, n);
    assert(k && rb > 0);
    if (!k || rb == 0)
        return;
    const uint8_t *w = W;
    struct tl__q_tile tk = tile_kernel(wtype);
    if (tk.fn && tk.mv_nw > 0) {
        for (int64_t r = r0; r < r1; r += tk.mv_nw) {
            int nw = r1 - r < tk.mv_nw ? (int)(r1 - r) : tk.mv_nw;
            tk.fn(n, w + (size_t)r * rb, rb, nw, xq, 0, 1, &y[r], 0);
        }
        return;
    }
    for (int64_t r = r0; r < r1; r++)
        k(n, w + (size_t)r * rb, xq, 0, 1, &y[r]);
}

/* Weight rows per tile of tl_q_matmul: 8 rows of 4096 Q4_K elements are
 * 18 KB, so a tile stays in L1/L2 while every group of activation rows
 * passes over it, and each weight byte comes from memory once. */
#define MATMUL_ROWS 8

void tl_q_matmul(int wtype, const void *W, int64_t n, int64_t r0, int64_t r1, const void *xq,
                 int nb, float *Y, int64_t ldy)
{
    tl__q_dot_fn k = kernel(wtype);
    size_t rb = tl_q_row_size(wtype, n), xs = tl_q_act_size(wtype, n);
    assert(k && rb > 0 && xs > 0);
    if (!k || rb == 0 || xs == 0)
        return;
    const uint8_t *w = W, *x = xq;
    struct tl__q_tile tk = tile_kernel(wtype);
    if (tk.fn) {
        /* tiles of max_nw weight rows x max_nx activation rows: each weight
         * block is unpacked once per max_nx activation rows and each
         * activation block loaded once per max_nw weight rows */
        for (int64_t rt = r0; rt < r1; rt += MATMUL_ROWS) {
            int64_t re = rt + MATMUL_ROWS < r1 ? rt + MATMUL_ROWS : r1;
            for (int b = 0; b < nb; b += tk.max_nx) {
                int nx = nb - b < tk.max_nx ? nb - b : tk.max_nx;
                for (int64_t r = rt; r < re; r += tk.max_nw) {
                    int nw = re - r < tk.max_nw ? (int)(re - r) : tk.max_nw;
                    tk.fn(n, w + (size_t)r * rb, rb, nw, x + (size_t)b * xs, xs, nx,
                          &Y[(int64_t)b * ldy + r], ldy);
                }
            }
        }
        return;
    }
    for (int64_t rt = r0; rt < r1; rt += MATMUL_ROWS) {
        int64_t re = rt + MATMUL_ROWS < r1 ? rt + MATMUL_ROWS : r1;
        for (int b = 0; b < nb; b += TL__Q_MAX_NX) {
            int nx = nb - b < TL__Q_MAX_NX ? nb - b : TL__Q_MAX_NX;
            for (int64_t r = rt; r < re; r++) {
                float out[TL__Q_MAX_NX];
                k(n, w + (size_t)r * rb, x + (size_t)b * xs, xs, nx, out);
                for (int j = 0; j < nx; j++)
                    Y[(int64_t)(b + j) * ldy + r] = out[j];
            }
        }
    }
}
