/*
 * quant_internal.h - block layouts and the kernel interface shared by
 * lib/llm/quant.c (portable C, dispatch) and lib/llm/quant_avx2.c.
 *
 * The structs mirror ggml-common.h byte for byte (static_assert'ed below);
 * fp16 fields are kept as raw uint16_t bits.
 */
#ifndef TL_LLM_QUANT_INTERNAL_H
#define TL_LLM_QUANT_INTERNAL_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <teller/llm_quant.h>

#define TL__QK 32   // elements per block of the 32-element types
#define TL__QK_K 256 // elements per super-block of the K-quants

typedef struct {
    uint16_t d;            // fp16 scale
    uint8_t qs[TL__QK / 2]; // element j: low nibble of qs[j]; j + 16: high nibble
} tl__block_q4_0;

typedef struct {
    uint16_t d, m;          // fp16 scale and minimum: x = q * d + m
    uint8_t qs[TL__QK / 2];
} tl__block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4];          // bit j = fifth bit of element j (little-endian u32)
    uint8_t qs[TL__QK / 2];
} tl__block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[TL__QK / 2];
} tl__block_q5_1;

typedef struct {
    uint16_t d;
    int8_t qs[TL__QK];
} tl__block_q8_0;

typedef struct {
    uint16_t d;  // fp16 scale
    uint16_t s;  // fp16 of d * sum(qs), for the minimum term of Q4_1/Q5_1
    int8_t qs[TL__QK];
} tl__block_q8_1;

typedef struct {
    uint16_t d, dmin;       // super-block scale of the 6-bit scales and of the 6-bit mins
    uint8_t scales[12];     // 8 (scale, min) pairs, 6 bits each (get_scale_min_k4 packing)
    uint8_t qs[TL__QK_K / 2];
} tl__block_q4_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[TL__QK_K / 8]; // bit 2j / 2j+1 of qh[l]: fifth bit of sub-blocks 2j / 2j+1, element l
    uint8_t qs[TL__QK_K / 2];
} tl__block_q5_K;

typedef struct {
    uint8_t ql[TL__QK_K / 2];     // low 4 bits
    uint8_t qh[TL__QK_K / 4];     // high 2 bits
    int8_t scales[TL__QK_K / 16]; // 8-bit scale per 16 elements
    uint16_t d;
} tl__block_q6_K;

typedef struct {
    float d;
    int8_t qs[TL__QK_K];
    int16_t bsums[TL__QK_K / 16]; // sum of each 16 consecutive qs
} tl__block_q8_K;

static_assert(sizeof(tl__block_q4_0) == 18, "block_q4_0 layout");
static_assert(sizeof(tl__block_q4_1) == 20, "block_q4_1 layout");
static_assert(sizeof(tl__block_q5_0) == 22, "block_q5_0 layout");
static_assert(sizeof(tl__block_q5_1) == 24, "block_q5_1 layout");
static_assert(sizeof(tl__block_q8_0) == 34, "block_q8_0 layout");
static_assert(sizeof(tl__block_q8_1) == 36, "block_q8_1 layout");
static_assert(sizeof(tl__block_q4_K) == 144, "block_q4_K layout");
static_assert(sizeof(tl__block_q5_K) == 176, "block_q5_K layout");
static_assert(sizeof(tl__block_q6_K) == 210, "block_q6_K layout");
static_assert(sizeof(tl__block_q8_K) == 292, "block_q8_K layout");
/* the portable Q4_K/Q5_K kernel reads d, dmin and scales through one type */
static_assert(offsetof(tl__block_q5_K, scales) == offsetof(tl__block_q4_K, scales),
              "Q4_K and Q5_K share their header");

/* out[j] = dot(weight row w, activation row x + j * x_stride) for j < nx
 * (1 <= nx <= TL__Q_MAX_NX); n elements. One call reads each weight block
 * once for all nx activation rows: the tile of tl_q_matmul. */
#define TL__Q_MAX_NX 4
typedef void (*tl__q_dot_fn)(int64_t n, const void *w, const void *x, size_t x_stride, int nx,
                             float *out);

/* Y[j * ldy + i] = dot(weight row i, activation row j) for i < nw and j < nx
 * (weight rows w_stride bytes apart, activation rows x_stride apart); nw and
 * nx at most the tile size the kernel was registered with (struct
 * tl__q_tile). Each (i, j) dot is computed by the same operations whatever
 * nw and nx are, so matvec (nx = 1) and matmul agree bit for bit when both
 * use the tile kernel. */
typedef void (*tl__q_tile_fn)(int64_t n, const void *w, size_t w_stride, int nw, const void *x,
                              size_t x_stride, int nx, float *Y, int64_t ldy);
struct tl__q_tile {
    tl__q_tile_fn fn;   /* NULL: no tile kernel for the type */
    int max_nw, max_nx; /* the matmul tile */
    int mv_nw;          /* weight rows per call against one activation row; 0: the
                           matvec uses the tl__q_dot_fn kernel instead */
};

/* The AVX-512 VNNI tile kernel for wtype ({NULL} when there is none or this
 * build lacks them; quant_avx512.c; the CPU check is the caller's). */
struct tl__q_tile tl__q_avx512_tile(int wtype);
/* Whether quant_avx512.c was compiled with its kernels. */
int tl__q_avx512_built(void);

/* AVX2 activation quantizers for Q8_0 and Q8_K: the same bytes as the
 * portable ones (quant.c), NULL when not built. */
typedef void (*tl__q_quant_fn)(const float *x, void *dst, int64_t n);
tl__q_quant_fn tl__q_avx2_quant(int acttype);

/* Caps the kernels at name ("portable", "avx2", "avx512vnni"; NULL lifts
 * the cap) so that tests and benchmarks can run each path the CPU has;
 * TL_EINVAL for another name. tl_q_kernels() then names the level in use.
 * Flip it only while no kernel runs. */
int tl__q_set_kernels(const char *name);

/* The AVX2 kernel for weight type wtype, or NULL when the type has none or
 * this build/CPU cannot run AVX2 (quant_avx2.c; the CPU check is the
 * caller's). */
tl__q_dot_fn tl__q_avx2_kernel(int wtype);
/* Whether quant_avx2.c was compiled with its kernels (x86-64 GCC/Clang). */
int tl__q_avx2_built(void);

/* The six-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block:
 * bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7;
 * bytes 4-7 the same for the mins; bytes 8-11 the low 4 bits of scale
 * (low nibble) and min (high nibble) 4-7. */
static inline void tl__q_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* IEEE binary16 bits to float, exact (every half is a float). Inline: the
 * portable kernels convert one or two scales per block. */
static inline float tl__q_f16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 is exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31)
        bits = sign | 0x7F800000u | (man << 13); // inf, or NaN with its payload
    else
        bits = sign | ((exp + 112) << 23) | (man << 13); // rebias 15 -> 127
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Float to IEEE binary16 bits, round to nearest even. Integer-only, so the
 * result does not depend on the FPU's rounding mode or flush-to-zero flags. */
static inline uint16_t tl__q_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7FFFFFFFu;
    if (x >= 0x7F800000u) {
        if (x == 0x7F800000u)
            return sign | 0x7C00;
        /* NaN: keep the top payload bits and set the quiet bit so that a
         * payload living in the low 13 bits cannot turn into infinity */
        return (uint16_t)(sign | 0x7E00 | ((x >> 13) & 0x3FF));
    }
    if (x >= 0x477FF000u) // 65520 and up round to infinity (65520 ties to even 2^16)
        return sign | 0x7C00;
    if (x < 0x38800000u) { // below 2^-14: a half subnormal (or zero)
        if (x < 0x33000000u) // below or at 2^-25, half of the smallest subnormal: ties to 0
            return sign;
        uint32_t e = x >> 23;
        uint32_t m = (x & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126 - e; // value = m * 2^(e-150), in units of 2^-24
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++; // r == 0x400 is the smallest normal, encoded right
        return (uint16_t)(sign | r);
    }
    uint32_t h = (x >> 13) - (112u << 10); // rebias 127 -> 15
    uint32_t rem = x & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; // a carry into the exponent is the right encoding
    return (uint16_t)(sign | h);
}

#endif
