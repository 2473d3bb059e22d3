/* test_llm_quant.c - the quantized tensor kernels (include/teller/llm_quant.h):
 * fp16/bf16 conversions on special values, hand-built blocks that pin the
 * ggml byte layouts, quantize -> dequantize error per type, every dot kernel
 * (portable, AVX2 and AVX-512 VNNI, each level the CPU has) against a
 * double-precision dot of the dequantized operands, matvec/matmul agreement
 * across row ranges and batch sizes, and the vectorized activation
 * quantizers against the portable bytes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/err.h>
#include <teller/llm_quant.h>

#include "llm/quant_internal.h" /* tl__q_set_kernels: the test links the static library */

#define T(id) TL_GGUF_TYPE_##id

/* The weight types with kernels, and their quantize -> dequantize relative
 * RMS bound on Gaussian rows (measured values are in docs/llm-quant.md; the
 * bounds leave about 15% headroom). */
static const struct {
    int type;
    double rel_rms;
} wtypes[] = {
    {T(F32), 0.0},     {T(F16), 2.5e-4}, {T(BF16), 1.9e-3}, {T(Q8_0), 6e-3},
    {T(Q4_0), 0.097},  {T(Q4_1), 0.090}, {T(Q5_0), 0.049},  {T(Q5_1), 0.043},
    {T(Q4_K), 0.082},  {T(Q5_K), 0.041}, {T(Q6_K), 0.020},
};
#define N_WTYPES (sizeof wtypes / sizeof wtypes[0])

/* ---- deterministic random numbers ---------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unif(void)
{
    return (double)(rng_u64() >> 11) * 0x1p-53;
}

static float rng_gauss(void)
{
    double u = rng_unif(), v = rng_unif();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

static void fill_gauss(float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * rng_gauss();
}

/* ---- fp16 / bf16 ------------------------------------------------------------------------- */

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

Test(quant, fp16_special_values)
{
    cr_assert_eq(tl_f32_to_fp16(0.0f), 0x0000);
    cr_assert_eq(tl_f32_to_fp16(-0.0f), 0x8000);
    cr_assert_eq(tl_f32_to_fp16(1.0f), 0x3C00);
    cr_assert_eq(tl_f32_to_fp16(-2.0f), 0xC000);
    cr_assert_eq(tl_f32_to_fp16(65504.0f), 0x7BFF);         // largest half
    cr_assert_eq(tl_f32_to_fp16(65519.99f), 0x7BFF);        // below the tie: stays finite
    cr_assert_eq(tl_f32_to_fp16(65520.0f), 0x7C00);         // the tie rounds to even: inf
    cr_assert_eq(tl_f32_to_fp16(1e10f), 0x7C00);
    cr_assert_eq(tl_f32_to_fp16(INFINITY), 0x7C00);
    cr_assert_eq(tl_f32_to_fp16(-INFINITY), 0xFC00);
    uint16_t hn = tl_f32_to_fp16(NAN);
    cr_assert((hn & 0x7C00) == 0x7C00 && (hn & 0x03FF) != 0, "NaN -> %04x", hn);
    /* a NaN whose payload sits only in the low 13 bits must not become inf */
    uint16_t hn2 = tl_f32_to_fp16(from_bits(0x7F800001u));
    cr_assert((hn2 & 0x7C00) == 0x7C00 && (hn2 & 0x03FF) != 0, "NaN -> %04x", hn2);
    /* subnormals */
    cr_assert_eq(tl_f32_to_fp16(0x1p-24f), 0x0001);
    cr_assert_eq(tl_f32_to_fp16(0x1p-25f), 0x0000);          // tie -> even (0)
    cr_assert_eq(tl_f32_to_fp16(0x1.0002p-25f), 0x0001);     // just above the tie
    cr_assert_eq(tl_f32_to_fp16(0x3p-25f), 0x0002);          // 1.5 units: tie -> even (2)
    cr_assert_eq(tl_f32_to_fp16(0x5p-25f), 0x0002);          // 2.5 units: tie -> even (2)
    cr_assert_eq(tl_f32_to_fp16(0x3FFp-24f), 0x03FF);        // largest subnormal
    cr_assert_eq(tl_f32_to_fp16(0x7FFp-25f), 0x0400);        // rounds up into the normals
    cr_assert_eq(tl_f32_to_fp16(0x1p-14f), 0x0400);          // smallest normal
    cr_assert_eq(tl_f32_to_fp16(-0x1p-24f), 0x8001);
    /* normal ties */
    cr_assert_eq(tl_f32_to_fp16(1.0f + 0x1p-11f), 0x3C00);   // tie -> even
    cr_assert_eq(tl_f32_to_fp16(1.0f + 0x3p-11f), 0x3C02);   // tie -> even (up)
    cr_assert_eq(tl_f32_to_fp16(1.0f + 0x1.01p-11f), 0x3C01);

    cr_assert_eq(tl_fp16_to_f32(0x0001), 0x1p-24f);
    cr_assert_eq(tl_fp16_to_f32(0x03FF), 0x3FFp-24f);
    cr_assert_eq(tl_fp16_to_f32(0x0400), 0x1p-14f);
    cr_assert_eq(tl_fp16_to_f32(0x7BFF), 65504.0f);
    cr_assert_eq(tl_fp16_to_f32(0x3555), 0x1.554p-2f);
    cr_assert(isinf(tl_fp16_to_f32(0x7C00)) && tl_fp16_to_f32(0x7C00) > 0);
    cr_assert(isinf(tl_fp16_to_f32(0xFC00)) && tl_fp16_to_f32(0xFC00) < 0);
    cr_assert(isnan(tl_fp16_to_f32(0x7E00)));
    cr_assert(isnan(tl_fp16_to_f32(0x7C01)));
    cr_assert_eq(bits(tl_fp16_to_f32(0x8000)), 0x80000000u);

    /* every half converts to float and back to itself (NaNs stay NaN) */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tl_fp16_to_f32((uint16_t)h);
        uint16_t back = tl_f32_to_fp16(f);
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF))
            cr_assert(isnan(f) && (back & 0x7C00) == 0x7C00 && (back & 0x3FF), "NaN %04x", h);
        else
            cr_assert_eq(back, h, "half %04x -> %a -> %04x", h, (double)f, back);
    }
}

#if defined(__FLT16_MAX__) && defined(__x86_64__)
/* The compiler's own float -> _Float16 conversion is an independent oracle. */
Test(quant, fp16_matches_compiler_float16)
{
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)rng_u64();
        if (i & 1) // concentrate on the half range
            u = (u & 0x83FFFFFFu) | ((uint32_t)(100 + (rng_u64() % 45)) << 23);
        float f = from_bits(u);
        if (isnan(f))
            continue;
        _Float16 h = (_Float16)f;
        uint16_t hb;
        memcpy(&hb, &h, 2);
        cr_assert_eq(tl_f32_to_fp16(f), hb, "%08x: %04x vs %04x", u, tl_f32_to_fp16(f), hb);
    }
}
#endif

Test(quant, bf16_special_values)
{
    cr_assert_eq(tl_f32_to_bf16(1.0f), 0x3F80);
    cr_assert_eq(tl_f32_to_bf16(-1.0f), 0xBF80);
    cr_assert_eq(tl_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);    // tie -> even
    cr_assert_eq(tl_f32_to_bf16(1.0f + 0x3p-8f), 0x3F82);    // tie -> even (up)
    cr_assert_eq(tl_f32_to_bf16(1.0f + 0x1.2p-8f), 0x3F81);
    cr_assert_eq(tl_f32_to_bf16(INFINITY), 0x7F80);
    cr_assert_eq(tl_f32_to_bf16(-INFINITY), 0xFF80);
    cr_assert_eq(tl_f32_to_bf16(from_bits(0x7F7FFFFFu)), 0x7F80); // FLT_MAX rounds to inf
    cr_assert_eq(tl_f32_to_bf16(from_bits(0x00010000u)), 0x0001); // subnormal kept
    cr_assert_eq(tl_f32_to_bf16(from_bits(0x00018000u)), 0x0002); // subnormal tie -> even
    uint16_t n = tl_f32_to_bf16(from_bits(0x7F800001u)); // payload only in dropped bits
    cr_assert((n & 0x7F80) == 0x7F80 && (n & 0x7F) != 0, "NaN -> %04x", n);
    cr_assert(isnan(tl_bf16_to_f32(0x7FC0)));
    cr_assert_eq(tl_bf16_to_f32(0x3F80), 1.0f);
    cr_assert_eq(bits(tl_bf16_to_f32(0x0001)), 0x00010000u);
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F))
            continue;
        cr_assert_eq(tl_f32_to_bf16(tl_bf16_to_f32((uint16_t)h)), h);
    }
}

/* ---- type table ---------------------------------------------------------------------------- */

Test(quant, sizes_and_errors)
{
    cr_assert_eq(tl_q_row_size(T(Q4_0), 64), 36);
    cr_assert_eq(tl_q_row_size(T(Q4_K), 4096), 16 * 144);
    cr_assert_eq(tl_q_row_size(T(Q6_K), 256), 210);
    cr_assert_eq(tl_q_row_size(T(Q8_K), 256), 292);
    cr_assert_eq(tl_q_row_size(T(F16), 3), 6);
    cr_assert_eq(tl_q_row_size(T(Q4_0), 33), 0);
    cr_assert_eq(tl_q_row_size(T(Q4_0), 0), 0);
    cr_assert_eq(tl_q_row_size(T(Q2_K), 256), 0);
    cr_assert_eq(tl_q_row_size(4, 32), 0); // retired Q4_2
    cr_assert_eq(tl_q_row_size(-1, 32), 0);
    cr_assert_eq(tl_q_act_size(T(Q4_0), 64), 68);   // Q8_0
    cr_assert_eq(tl_q_act_size(T(Q5_1), 64), 72);   // Q8_1
    cr_assert_eq(tl_q_act_size(T(Q5_K), 512), 584); // Q8_K
    cr_assert_eq(tl_q_act_size(T(BF16), 10), 40);   // F32
    cr_assert_eq(tl_q_act_size(T(Q8_K), 256), 0);   // no matvec
    cr_assert_eq(tl_q_act_size(T(Q4_K), 128), 0);
    cr_assert(tl_q_supported(T(Q8_1)) && tl_q_supported(T(Q6_K)));
    cr_assert(!tl_q_supported(T(Q3_K)) && !tl_q_supported(T(IQ4_NL)) && !tl_q_supported(99));

    float x[256] = {0};
    uint8_t buf[512];
    cr_assert_eq(tl_q_quantize_row(T(Q2_K), x, buf, 256), TL_EUNSUPPORTED);
    cr_assert_eq(tl_q_dequantize_row(T(IQ2_XS), buf, x, 256), TL_EUNSUPPORTED);
    cr_assert_eq(tl_q_quantize_row(T(Q4_K), x, buf, 128), TL_EINVAL);
    cr_assert_eq(tl_q_dequantize_row(T(Q8_0), buf, x, 48), TL_EINVAL);
    cr_assert_eq(tl_q_dequantize_row(T(Q8_0), buf, x, -32), TL_EINVAL);
    const char *k = tl_q_kernels();
    cr_assert(strcmp(k, "avx512vnni") == 0 || strcmp(k, "avx2") == 0 ||
              strcmp(k, "portable") == 0);
    cr_assert_eq(tl__q_set_kernels("sse9"), TL_EINVAL);
    cr_assert_eq(tl__q_set_kernels("portable"), 0);
    cr_assert_str_eq(tl_q_kernels(), "portable");
    cr_assert_eq(tl__q_set_kernels(NULL), 0);
    cr_assert_str_eq(tl_q_kernels(), k);
}

/* ---- kernel levels -------------------------------------------------------------------------- */

/* Caps the kernels at level; false (and a visible skip message) when the CPU
 * (or TELLER_KERNELS) does not reach it. */
static bool use_level(const char *level)
{
    cr_assert_eq(tl__q_set_kernels(level), 0);
    if (strcmp(tl_q_kernels(), level) != 0) {
        cr_log_warn("SKIP: %s kernels not available here (running %s)", level, tl_q_kernels());
        tl__q_set_kernels(NULL);
        return false;
    }
    return true;
}

/* ---- hand-built blocks -------------------------------------------------------------------- */

Test(quant, q4_0_known_bytes)
{
    uint8_t blk[18] = {0x00, 0x38}; // d = 0.5 (fp16 0x3800, little-endian)
    for (int j = 0; j < 16; j++)
        blk[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    float y[32];
    cr_assert_eq(tl_q_dequantize_row(T(Q4_0), blk, y, 32), 0);
    for (int j = 0; j < 16; j++) {
        cr_assert_eq(y[j], 0.5f * (float)(j - 8), "y[%d] = %g", j, y[j]);
        cr_assert_eq(y[j + 16], 0.5f * (float)(7 - j), "y[%d] = %g", j + 16, y[j + 16]);
    }
}

Test(quant, q8_0_known_bytes)
{
    uint8_t blk[34] = {0x00, 0x40}; // d = 2
    for (int j = 0; j < 32; j++)
        blk[2 + j] = (uint8_t)(int8_t)(j - 16);
    blk[2 + 31] = 0x80; // -128
    float y[32];
    cr_assert_eq(tl_q_dequantize_row(T(Q8_0), blk, y, 32), 0);
    for (int j = 0; j < 31; j++)
        cr_assert_eq(y[j], 2.0f * (float)(j - 16));
    cr_assert_eq(y[31], -256.0f);
}

Test(quant, q5_0_known_bytes)
{
    /* d = 1; low nibbles 0..15 / 15..0, fifth bits: qh = 0x0000FFFF sets
     * them for elements 0..15 only */
    uint8_t blk[22] = {0x00, 0x3C, 0xFF, 0xFF, 0x00, 0x00};
    for (int j = 0; j < 16; j++)
        blk[6 + j] = (uint8_t)(j | ((15 - j) << 4));
    float y[32];
    cr_assert_eq(tl_q_dequantize_row(T(Q5_0), blk, y, 32), 0);
    for (int j = 0; j < 16; j++) {
        cr_assert_eq(y[j], (float)(j + 16 - 16));
        cr_assert_eq(y[j + 16], (float)(15 - j - 16));
    }
}

Test(quant, q4_K_known_bytes)
{
    /* sub-block scales and mins chosen to use all 6 bits, packed by hand:
     * bytes 0-3 = sc0-3 | (sc4-7 >> 4) << 6, bytes 4-7 = m0-3 | (m4-7 >> 4) << 6,
     * bytes 8-11 = (sc4-7 & 15) | (m4-7 & 15) << 4 */
    static const int sc[8] = {1, 2, 3, 4, 33, 40, 63, 17};
    static const int mn[8] = {0, 5, 10, 63, 1, 2, 48, 20};
    static const uint8_t packed[12] = {0x81, 0x82, 0xC3, 0x44, 0x00, 0x05,
                                       0xCA, 0x7F, 0x11, 0x28, 0x0F, 0x41};
    uint8_t blk[144] = {0x00, 0x3C, 0x00, 0x38}; // d = 1, dmin = 0.5
    memcpy(blk + 4, packed, 12);
    for (int i = 0; i < 128; i++)
        blk[16 + i] = (uint8_t)((i % 16) | ((15 - i % 16) << 4));
    float y[256];
    cr_assert_eq(tl_q_dequantize_row(T(Q4_K), blk, y, 256), 0);
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) {
            float lo = (float)(sc[2 * p] * (l % 16)) - 0.5f * (float)mn[2 * p];
            float hi = (float)(sc[2 * p + 1] * (15 - l % 16)) - 0.5f * (float)mn[2 * p + 1];
            cr_assert_eq(y[64 * p + l], lo, "y[%d] = %g, want %g", 64 * p + l, y[64 * p + l], lo);
            cr_assert_eq(y[64 * p + 32 + l], hi, "y[%d] = %g, want %g", 64 * p + 32 + l,
                         y[64 * p + 32 + l], hi);
        }
}

Test(quant, q6_K_known_bytes)
{
    /* first half: ql = 0x21 (elements 0-31 low nibble 1, 64-95 high nibble 2),
     * ql+32 = 0x43, qh = 0xE4 (2-bit fields 0,1,2,3 for the four quarters);
     * second half all zero: every value -32. Scale of element e: scales[e/16]. */
    uint8_t blk[210] = {0};
    memset(blk, 0x21, 32);
    memset(blk + 32, 0x43, 32);
    memset(blk + 128, 0xE4, 32);
    for (int g = 0; g < 16; g++)
        blk[192 + g] = (uint8_t)(int8_t)(g - 8);
    blk[208] = 0x00;
    blk[209] = 0x34; // d = 0.25
    static const int v[4] = {(1 | 0 << 4) - 32, (3 | 1 << 4) - 32, (2 | 2 << 4) - 32,
                             (4 | 3 << 4) - 32};
    float y[256];
    cr_assert_eq(tl_q_dequantize_row(T(Q6_K), blk, y, 256), 0);
    for (int e = 0; e < 256; e++) {
        int q = e < 128 ? v[e / 32] : -32;
        float want = 0.25f * (float)(e / 16 - 8) * (float)q;
        cr_assert_eq(y[e], want, "y[%d] = %g, want %g", e, y[e], want);
    }
}

Test(quant, q5_K_known_bytes)
{
    /* all scales 1 and mins 0 (bytes 0-3 = 1, 8-11 = 1 for sub-blocks 4-7),
     * d = 1: element value = nibble + 16 * fifth bit; qh[l] = 0x55 sets the
     * fifth bit of the even sub-blocks */
    uint8_t blk[176] = {0x00, 0x3C, 0x00, 0x00, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};
    memset(blk + 16, 0x55, 32);
    for (int i = 0; i < 128; i++)
        blk[48 + i] = (uint8_t)((i % 16) | ((15 - i % 16) << 4));
    float y[256];
    cr_assert_eq(tl_q_dequantize_row(T(Q5_K), blk, y, 256), 0);
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) {
            cr_assert_eq(y[64 * p + l], (float)(l % 16 + 16));
            cr_assert_eq(y[64 * p + 32 + l], (float)(15 - l % 16));
        }
}

/* ---- quantize -> dequantize --------------------------------------------------------------- */

static double rel_rms(const float *a, const float *b, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)a[i] * a[i];
    }
    return sqrt(e / s);
}

Test(quant, roundtrip_error_per_type)
{
    const int64_t n = 4096;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t *q = malloc(tl_q_row_size(T(F32), n));
    fill_gauss(x, n, 0.02f);
    for (size_t t = 0; t < N_WTYPES; t++) {
        int type = wtypes[t].type;
        cr_assert_eq(tl_q_quantize_row(type, x, q, n), 0);
        cr_assert_eq(tl_q_dequantize_row(type, q, y, n), 0);
        double e = rel_rms(x, y, n);
        cr_log_info("%s: relative RMS %.5f", tl_gguf_type_name(type), e);
        cr_assert(e <= wtypes[t].rel_rms, "%s: relative RMS %g > %g", tl_gguf_type_name(type), e,
                  wtypes[t].rel_rms);
    }
    /* the activation types */
    int acts[] = {T(Q8_1), T(Q8_K)};
    for (int a = 0; a < 2; a++) {
        cr_assert_eq(tl_q_quantize_row(acts[a], x, q, n), 0);
        cr_assert_eq(tl_q_dequantize_row(acts[a], q, y, n), 0);
        double e = rel_rms(x, y, n);
        cr_assert(e <= 8e-3, "%s: relative RMS %g", tl_gguf_type_name(acts[a]), e);
    }
    /* an all-zero row and a row with one outlier stay finite and exact at 0 */
    for (size_t t = 0; t < N_WTYPES; t++) {
        int type = wtypes[t].type;
        memset(x, 0, n * sizeof *x);
        x[100] = 5.0f;
        cr_assert_eq(tl_q_quantize_row(type, x, q, n), 0);
        cr_assert_eq(tl_q_dequantize_row(type, q, y, n), 0);
        for (int64_t i = 0; i < n; i++)
            cr_assert(isfinite(y[i]) && (i == 100 || fabsf(y[i]) < 1e-6f), "%s y[%ld] = %g",
                      tl_gguf_type_name(type), (long)i, y[i]);
        cr_assert(fabsf(y[100] - 5.0f) < 0.05f * 5.0f, "%s: outlier %g",
                  tl_gguf_type_name(type), y[100]);
    }
    free(x);
    free(y);
    free(q);
}

/* ---- dot kernels ------------------------------------------------------------------------------ */

/* The dot product both paths must reproduce: the dequantized weight row and
 * the dequantized activation, summed in double. The kernels sum integer
 * products exactly and apply float scales per block, so they stay within
 * 2e-5 of sum |w_i x_i| of it; the Q8_1 minimum term (m * s, with s an fp16
 * of the block sum) adds up to 2^-10 * sum_blocks |m| |s|. */
struct dot_ref {
    double dot, tol;
};

static struct dot_ref reference(int wtype, const void *wrow, const void *xq, const float *x,
                                int64_t n)
{
    float *w = malloc(n * sizeof *w), *a = malloc(n * sizeof *a);
    cr_assert_eq(tl_q_dequantize_row(wtype, wrow, w, n), 0);
    int at = wtype == T(F32) || wtype == T(F16) || wtype == T(BF16) ? T(F32)
             : wtype == T(Q4_1) || wtype == T(Q5_1)                 ? T(Q8_1)
             : wtype == T(Q4_K) || wtype == T(Q5_K) || wtype == T(Q6_K) ? T(Q8_K)
                                                                        : T(Q8_0);
    if (at == T(F32))
        memcpy(a, x, n * sizeof *a);
    else
        cr_assert_eq(tl_q_dequantize_row(at, xq, a, n), 0);
    double dot = 0, mag = 0, extra = 0;
    for (int64_t i = 0; i < n; i++) {
        dot += (double)w[i] * a[i];
        mag += fabs((double)w[i] * a[i]);
    }
    if (at == T(Q8_1)) {
        const uint8_t *wb = wrow, *xb = xq;
        size_t wbytes = wtype == T(Q4_1) ? 20 : 24;
        for (int64_t b = 0; b < n / 32; b++) {
            uint16_t m, s;
            memcpy(&m, wb + b * wbytes + 2, 2);
            memcpy(&s, xb + b * 36 + 2, 2);
            extra += fabs((double)tl_fp16_to_f32(m) * tl_fp16_to_f32(s)) * 0x1p-10;
        }
    }
    free(w);
    free(a);
    return (struct dot_ref){dot, 2e-5 * mag + extra + 1e-30};
}

static void check_dots(const char *level)
{
    if (!use_level(level))
        return;
    const int64_t sizes[] = {256, 4096, 768};
    for (size_t t = 0; t < N_WTYPES; t++) {
        int type = wtypes[t].type;
        for (size_t si = 0; si < 3; si++) {
            int64_t n = sizes[si];
            const int rows = 5;
            size_t rb = tl_q_row_size(type, n), xb = tl_q_act_size(type, n);
            cr_assert(rb > 0 && xb > 0);
            float *x = malloc(n * sizeof *x), *wf = malloc(n * sizeof *wf);
            uint8_t *W = malloc(rb * rows), *xq = malloc(xb);
            for (int r = 0; r < rows; r++) {
                fill_gauss(wf, n, 0.05f);
                if (r == 1) // a row with a large positive offset exercises the minimums
                    for (int64_t i = 0; i < n; i++)
                        wf[i] += 0.2f;
                cr_assert_eq(tl_q_quantize_row(type, wf, W + r * rb, n), 0);
            }
            if (type == T(Q8_0)) // -128, legal in a file though ggml never writes it
                W[2 * rb + 2] = 0x80;
            fill_gauss(x, n, 1.0f);
            x[3] = 40.0f; // an outlier activation, as LLMs have
            tl_q_quantize_act(type, x, xq, n);
            float y[5];
            tl_q_matvec(type, W, n, 0, rows, xq, y);
            for (int r = 0; r < rows; r++) {
                struct dot_ref ref = reference(type, W + r * rb, xq, x, n);
                cr_assert(fabs(y[r] - ref.dot) <= ref.tol,
                          "%s %s n=%ld row %d: %.9g vs reference %.9g (tolerance %.3g)",
                          tl_q_kernels(), tl_gguf_type_name(type), (long)n, r, (double)y[r],
                          ref.dot, ref.tol);
            }
            free(x);
            free(wf);
            free(W);
            free(xq);
        }
    }
    tl__q_set_kernels(NULL);
}

Test(quant, dot_portable)
{
    check_dots("portable");
}

Test(quant, dot_avx2)
{
    check_dots("avx2");
}

Test(quant, dot_avx512vnni)
{
    check_dots("avx512vnni");
}

/* matmul equals matvec bit for bit (the same kernel computes each dot with
 * the same summation order), for every split of the rows and any batch;
 * except the K-quants at the AVX-512 level, whose matvec keeps the AVX2
 * kernel: there they agree within the reference tolerance (any split of the
 * matmul still gives the same bits). */
static void check_matmul(const char *level, int64_t n)
{
    if (!use_level(level))
        return;
    const int rows = 37, nb = 11;
    for (size_t t = 0; t < N_WTYPES; t++) {
        int type = wtypes[t].type;
        size_t rb = tl_q_row_size(type, n), xb = tl_q_act_size(type, n);
        if (rb == 0) // n is not a multiple of the K-quants' 256
            continue;
        bool kquant_avx512 = strcmp(tl_q_kernels(), "avx512vnni") == 0 &&
                             (type == T(Q4_K) || type == T(Q5_K) || type == T(Q6_K));
        float *wf = malloc(n * sizeof *wf), *x = malloc(n * sizeof *x);
        uint8_t *W = malloc(rb * rows), *xq = malloc(xb * nb);
        for (int r = 0; r < rows; r++) {
            fill_gauss(wf, n, 0.05f);
            cr_assert_eq(tl_q_quantize_row(type, wf, W + r * rb, n), 0);
        }
        for (int b = 0; b < nb; b++) {
            fill_gauss(x, n, 1.0f);
            tl_q_quantize_act(type, x, xq + b * xb, n);
        }
        const int64_t ldy = rows + 3;
        float *Y = malloc(sizeof(float) * ldy * nb), *Y2 = malloc(sizeof(float) * ldy * nb);
        for (int64_t i = 0; i < ldy * nb; i++)
            Y[i] = Y2[i] = -12345.0f;
        tl_q_matmul(type, W, n, 0, rows, xq, nb, Y, ldy);
        /* in pieces: [0,13) [13,14) [14,37), batches of 3 and 8 */
        tl_q_matmul(type, W, n, 0, 13, xq, 3, Y2, ldy);
        tl_q_matmul(type, W, n, 13, 14, xq, 3, Y2, ldy);
        tl_q_matmul(type, W, n, 14, rows, xq, 3, Y2, ldy);
        tl_q_matmul(type, W, n, 0, rows, xq + 3 * xb, 8, Y2 + 3 * ldy, ldy);
        for (int b = 0; b < nb; b++) {
            float y[37], y2[37];
            tl_q_matvec(type, W, n, 0, rows, xq + b * xb, y);
            tl_q_matvec(type, W, n, 0, 20, xq + b * xb, y2);
            tl_q_matvec(type, W, n, 20, rows, xq + b * xb, y2);
            for (int r = 0; r < rows; r++) {
                cr_assert_eq(bits(y[r]), bits(y2[r]), "%s matvec split row %d",
                             tl_gguf_type_name(type), r);
                cr_assert_eq(bits(Y2[b * ldy + r]), bits(Y[b * ldy + r]), "%s pieces b=%d r=%d",
                             tl_gguf_type_name(type), b, r);
                if (kquant_avx512) {
                    /* matvec runs the AVX2 kernel, matmul the AVX-512 tile:
                     * the same integer sums, other float summation order */
                    struct dot_ref ref = reference(type, W + r * rb, xq + b * xb, NULL, n);
                    cr_assert(fabs((double)Y[b * ldy + r] - y[r]) <= ref.tol,
                              "%s matmul b=%d r=%d: %.9g vs matvec %.9g (tolerance %.3g)",
                              tl_gguf_type_name(type), b, r, Y[b * ldy + r], y[r], ref.tol);
                    continue;
                }
                cr_assert_eq(bits(Y[b * ldy + r]), bits(y[r]), "%s %s matmul b=%d r=%d: %g vs %g",
                             tl_q_kernels(), tl_gguf_type_name(type), b, r, Y[b * ldy + r], y[r]);
            }
            for (int64_t r = rows; r < ldy; r++) // the padding is untouched
                cr_assert_eq(Y[b * ldy + r], -12345.0f);
        }
        free(wf);
        free(x);
        free(W);
        free(xq);
        free(Y);
        free(Y2);
    }
    tl__q_set_kernels(NULL);
}

/* n = 512: an even number of 32-element blocks; 800: an odd one (25), the
 * AVX-512 kernels' half-filled last step; 768: three K super-blocks */
Test(quant, matmul_portable)
{
    check_matmul("portable", 512);
}

Test(quant, matmul_avx2)
{
    check_matmul("avx2", 512);
}

Test(quant, matmul_avx512vnni)
{
    check_matmul("avx512vnni", 512);
    check_matmul("avx512vnni", 768);
}

Test(quant, matmul_avx512vnni_odd_blocks)
{
    check_matmul("avx512vnni", 800);
}

/* The two paths agree with each other on the same quantized operands (each
 * is held to the reference above; this pins them to one another, tighter). */
Test(quant, portable_equals_native)
{
    const int64_t n = 4096;
    for (size_t t = 0; t < N_WTYPES; t++) {
        int type = wtypes[t].type;
        size_t rb = tl_q_row_size(type, n), xb = tl_q_act_size(type, n);
        float *wf = malloc(n * sizeof *wf), *x = malloc(n * sizeof *x);
        uint8_t *W = malloc(rb * 4), *xq = malloc(xb);
        for (int r = 0; r < 4; r++) {
            fill_gauss(wf, n, 0.05f);
            cr_assert_eq(tl_q_quantize_row(type, wf, W + r * rb, n), 0);
        }
        fill_gauss(x, n, 1.0f);
        tl_q_quantize_act(type, x, xq, n);
        float a[4], b[4];
        tl_q_force_portable(true);
        tl_q_matvec(type, W, n, 0, 4, xq, a);
        tl_q_force_portable(false);
        tl_q_matvec(type, W, n, 0, 4, xq, b);
        for (int r = 0; r < 4; r++) {
            struct dot_ref ref = reference(type, W + r * rb, xq, x, n);
            cr_assert(fabs((double)a[r] - b[r]) <= ref.tol, "%s row %d: portable %.9g, %s %.9g",
                      tl_gguf_type_name(type), r, a[r], tl_q_kernels(), b[r]);
        }
        free(wf);
        free(x);
        free(W);
        free(xq);
    }
}

/* The vectorized activation quantizers (AVX2, used from that level up)
 * write the portable bytes, ties included: Q8_0 rounds half away from zero
 * (roundf), Q8_K to even (lrintf). Blocks with amax 127 make the scale 1, so
 * x.5 inputs are exact ties. */
Test(quant, act_quantizers_match_portable)
{
    const int64_t n = 1024;
    float *x = malloc(n * sizeof *x);
    fill_gauss(x, n, 1.0f);
    for (int64_t i = 0; i < 256; i++) // first K super-block and 8 Q8_0 blocks: ties
        x[i] = i % 32 == 0 ? 127.0f : (float)((int)(i % 11) - 5) + 0.5f;
    for (int64_t i = 512; i < 768; i++) // an all-zero super-block
        x[i] = 0.0f;
    x[800] = -200.0f; // an outlier
    const int types[] = {T(Q8_0), T(Q4_K), T(Q4_1)};
    for (size_t t = 0; t < 3; t++) {
        size_t xb = tl_q_act_size(types[t], n);
        uint8_t *a = malloc(xb), *b = malloc(xb);
        cr_assert_eq(tl__q_set_kernels("portable"), 0);
        tl_q_quantize_act(types[t], x, a, n);
        tl__q_set_kernels(NULL);
        tl_q_quantize_act(types[t], x, b, n);
        cr_assert_eq(memcmp(a, b, xb), 0, "%s activations: portable and %s bytes differ",
                     tl_gguf_type_name(types[t]), tl_q_kernels());
        free(a);
        free(b);
    }
    free(x);
}
