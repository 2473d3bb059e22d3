/*
 * gen_random.c - random-weight models with the real layout of llama and
 * qwen2 GGUF files (include/teller/llm_gguf_write.h, docs/llm-gen.md).
 *
 * The files are what llama.cpp's convert_hf_to_gguf.py followed by
 * llama-quantize would produce for a checkpoint of that shape: the same
 * tensor names, ggml dimension order, hyperparameter keys and, for the
 * llama.cpp file types (q4_k_m, q5_k_m, ...), the same per-tensor type
 * choice as llama.cpp's llama_tensor_get_type (src/llama-quant.cpp),
 * including its fallbacks when a row length is not a multiple of 256.
 *
 * Values depend on (seed, tensor name, row) only, so rows can be generated
 * and quantized in parallel and in any order, and files of different types
 * made with one seed encode the same float model.
 */
#include <teller/llm_gguf_write.h>
#include <teller/llm_quant.h>
#include <teller/pool.h>

#include <math.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encodings -------------------------------------------------------------------- */

/* llama.cpp's llama_ftype numbers (general.file_type) and their default
 * tensor type (llama_ftype_get_default_type). */
enum {
    FT_ALL_F32 = 0,
    FT_F16 = 1,
    FT_Q4_0 = 2,
    FT_Q4_1 = 3,
    FT_Q8_0 = 7,
    FT_Q5_0 = 8,
    FT_Q5_1 = 9,
    FT_Q4_K_S = 14,
    FT_Q4_K_M = 15,
    FT_Q5_K_S = 16,
    FT_Q5_K_M = 17,
    FT_Q6_K = 18,
    FT_BF16 = 32,
};

static const struct encoding {
    const char *name;
    int ftype;
    int base; // enum tl_gguf_type
} encodings[] = {
    {"f32", FT_ALL_F32, TL_GGUF_TYPE_F32},   {"f16", FT_F16, TL_GGUF_TYPE_F16},
    {"bf16", FT_BF16, TL_GGUF_TYPE_BF16},    {"q8_0", FT_Q8_0, TL_GGUF_TYPE_Q8_0},
    {"q4_0", FT_Q4_0, TL_GGUF_TYPE_Q4_0},    {"q4_1", FT_Q4_1, TL_GGUF_TYPE_Q4_1},
    {"q5_0", FT_Q5_0, TL_GGUF_TYPE_Q5_0},    {"q5_1", FT_Q5_1, TL_GGUF_TYPE_Q5_1},
    {"q6_k", FT_Q6_K, TL_GGUF_TYPE_Q6_K},    {"q4_k_s", FT_Q4_K_S, TL_GGUF_TYPE_Q4_K},
    {"q4_k_m", FT_Q4_K_M, TL_GGUF_TYPE_Q4_K}, {"q5_k_s", FT_Q5_K_S, TL_GGUF_TYPE_Q5_K},
    {"q5_k_m", FT_Q5_K_M, TL_GGUF_TYPE_Q5_K},
};
#define N_ENCODINGS (sizeof encodings / sizeof encodings[0])
#define ENCODING_LIST "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q6_k, q4_k_s, q4_k_m, q5_k_s, q5_k_m"

static const struct encoding *find_encoding(const char *name)
{
    if (!name)
        name = "f32";
    for (size_t i = 0; i < N_ENCODINGS; i++)
        if (strcasecmp(encodings[i].name, name) == 0)
            return &encodings[i];
    return NULL;
}

int tl_llm_gen_file_type(const char *type_name)
{
    const struct encoding *e = find_encoding(type_name);
    return e ? e->ftype : -1;
}

/* ---- llama.cpp's per-tensor type choice ---------------------------------------------- */

enum category { CAT_TOKEN_EMBD, CAT_OUTPUT, CAT_ATTN_Q, CAT_ATTN_K, CAT_ATTN_V, CAT_ATTN_OUT,
                CAT_FFN_UP, CAT_FFN_GATE, CAT_FFN_DOWN, CAT_OTHER };

/* tensor_get_category: exact names first, then substrings, in its order. */
static enum category categorize(const char *name)
{
    if (strcmp(name, "output.weight") == 0)
        return CAT_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0)
        return CAT_TOKEN_EMBD;
    if (strstr(name, "attn_v.weight"))
        return CAT_ATTN_V;
    if (strstr(name, "attn_k.weight"))
        return CAT_ATTN_K;
    if (strstr(name, "attn_q.weight"))
        return CAT_ATTN_Q;
    if (strstr(name, "attn_output.weight"))
        return CAT_ATTN_OUT;
    if (strstr(name, "ffn_up"))
        return CAT_FFN_UP;
    if (strstr(name, "ffn_gate"))
        return CAT_FFN_GATE;
    if (strstr(name, "ffn_down"))
        return CAT_FFN_DOWN;
    return CAT_OTHER;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* tensor_allows_quantization for the tensors we write: the 2-D weights.
 * Norms, biases and rope_freqs stay F32 in every file type. */
static bool is_matrix(const char *name)
{
    return ends_with(name, ".weight") && !strstr(name, "_norm.weight") &&
           strcmp(name, "rope_freqs.weight") != 0;
}

static bool quantized(int type)
{
    return type != TL_GGUF_TYPE_F32 && type != TL_GGUF_TYPE_F16 && type != TL_GGUF_TYPE_BF16;
}

/* Layers at the ends and every third one between get more bits. */
static bool use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* llama_tensor_get_type_impl, restricted to the file types above (dense
 * models: no experts, not Falcon, not 70B). The layer counters llama.cpp
 * keeps (i_attention_wv, i_ffn_down) equal the layer index because its
 * loader sorts tensors by layer. */
static int choose_type(int ftype, int base, enum category cat, int layer, int n_layer, bool tied,
                       int64_t ncols)
{
    int t = base;
    if (cat == CAT_OUTPUT || (tied && cat == CAT_TOKEN_EMBD)) {
        if (ncols % (int64_t)tl_gguf_type_block_size(t) != 0)
            t = TL_GGUF_TYPE_Q8_0;
        else if (t != TL_GGUF_TYPE_Q8_0)
            t = TL_GGUF_TYPE_Q6_K;
    } else if (cat == CAT_ATTN_V) {
        if ((ftype == FT_Q4_K_M || ftype == FT_Q5_K_M) && use_more_bits(layer, n_layer))
            t = TL_GGUF_TYPE_Q6_K;
        else if (ftype == FT_Q4_K_S && layer < 4)
            t = TL_GGUF_TYPE_Q5_K;
    } else if (cat == CAT_FFN_DOWN) {
        if (ftype == FT_Q4_K_M) {
            if (use_more_bits(layer, n_layer))
                t = TL_GGUF_TYPE_Q6_K;
        } else if (ftype == FT_Q5_K_M && use_more_bits(layer, n_layer)) {
            t = TL_GGUF_TYPE_Q6_K;
        } else if (ftype == FT_Q4_K_S && layer < n_layer / 8) {
            t = TL_GGUF_TYPE_Q5_K;
        }
    }
    return t;
}

/* tensor_type_fallback: a row length the block does not divide. */
static int fallback(int t, int64_t ncols)
{
    if (ncols % (int64_t)tl_gguf_type_block_size(t) == 0)
        return t;
    switch (t) {
    case TL_GGUF_TYPE_Q4_K:
        t = TL_GGUF_TYPE_Q5_0;
        break;
    case TL_GGUF_TYPE_Q5_K:
        t = TL_GGUF_TYPE_Q5_1;
        break;
    case TL_GGUF_TYPE_Q6_K:
        t = TL_GGUF_TYPE_Q8_0;
        break;
    default:
        break;
    }
    if (ncols % (int64_t)tl_gguf_type_block_size(t) != 0)
        t = TL_GGUF_TYPE_F16;
    return t;
}

static int layer_of(const char *name)
{
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1)
        return -1;
    return l;
}

int tl_llm_gen_tensor_type(const tl_llm_gen_spec *spec, const char *name, int64_t ncols,
                           int *type, tl_err *err)
{
    const struct encoding *e = find_encoding(spec->type);
    if (!e)
        return tl_err_set(err, TL_EINVAL, "unknown weight type \"%s\" (known: %s)", spec->type,
                          ENCODING_LIST);
    if (!is_matrix(name)) {
        *type = TL_GGUF_TYPE_F32;
        return 0;
    }
    int t = e->base;
    if (quantized(t)) {
        if (!spec->pure)
            t = choose_type(e->ftype, t, categorize(name), layer_of(name), (int)spec->n_layer,
                            spec->tied, ncols);
        t = fallback(t, ncols);
    }
    *type = t;
    return 0;
}

/* ---- presets and shapes ------------------------------------------------------------------ */

static const struct preset {
    const char *name;
    tl_llm_gen_spec s;
} presets[] = {
    {"qwen2.5-0.5b",
     {.arch = "qwen2", .name = "Qwen2.5 0.5B (random weights)", .n_vocab = 151936, .n_embd = 896,
      .n_layer = 24, .n_head = 14, .n_head_kv = 2, .n_ff = 4864, .n_ctx = 32768,
      .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f, .tied = true}},
    {"llama-3.2-1b",
     {.arch = "llama", .name = "Llama 3.2 1B (random weights)", .n_vocab = 128256, .n_embd = 2048,
      .n_layer = 16, .n_head = 32, .n_head_kv = 8, .n_ff = 8192, .n_ctx = 131072,
      .rope_freq_base = 500000.0f, .rms_eps = 1e-5f, .tied = true, .rope_scale_factor = 32.0f,
      .rope_scale_low_freq = 1.0f, .rope_scale_high_freq = 4.0f, .rope_scale_orig_ctx = 8192}},
    {"tiny-llama",
     {.arch = "llama", .name = "tiny llama (random weights)", .n_vocab = 512, .n_embd = 256,
      .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 512, .n_ctx = 256,
      .rope_freq_base = 10000.0f, .rms_eps = 1e-5f, .tied = false}},
    {"tiny-qwen2",
     {.arch = "qwen2", .name = "tiny qwen2 (random weights)", .n_vocab = 512, .n_embd = 256,
      .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 512, .n_ctx = 256,
      .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f, .tied = true}},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

/* Copies the shape of a preset, keeping the caller's encoding choices. */
static void apply_preset(const tl_llm_gen_spec *p, tl_llm_gen_spec *s)
{
    tl_llm_gen_spec keep = *s;
    *s = *p;
    s->type = keep.type;
    s->pure = keep.pure;
    s->vocab_path = keep.vocab_path;
    s->seed = keep.seed;
    s->std = keep.std;
    s->n_threads = keep.n_threads;
}

int tl_llm_gen_preset(const char *name, tl_llm_gen_spec *spec, tl_err *err)
{
    for (size_t i = 0; i < N_PRESETS; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *spec = presets[i].s;
            return 0;
        }
    }
    return tl_err_set(err, TL_ENOTFOUND,
                      "unknown model shape \"%s\" (known: qwen2.5-0.5b, llama-3.2-1b, tiny-llama, "
                      "tiny-qwen2, or key=value items)",
                      name);
}

static int parse_i64(const char *item, const char *v, int64_t max, int64_t *out, tl_err *err)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < 0 || x > max)
        return tl_err_set(err, TL_EINVAL,
                          "shape item \"%s\": expected an integer from 0 to %lld", item,
                          (long long)max);
    *out = x;
    return 0;
}

static int parse_f32(const char *item, const char *v, float *out, tl_err *err)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x > 0) || !isfinite(x))
        return tl_err_set(err, TL_EINVAL, "shape item \"%s\": expected a positive number", item);
    *out = (float)x;
    return 0;
}

int tl_llm_gen_parse_shape(const char *shape, tl_llm_gen_spec *spec, tl_err *err)
{
    if (!shape || !*shape)
        return tl_err_set(err, TL_EINVAL, "empty model shape");
    char *copy = strdup(shape);
    if (!copy)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            size_t i;
            for (i = 0; i < N_PRESETS; i++)
                if (strcmp(presets[i].name, item) == 0)
                    break;
            if (i == N_PRESETS) {
                tl_llm_gen_spec dummy;
                rc = tl_llm_gen_preset(item, &dummy, err);
            } else {
                apply_preset(&presets[i].s, spec);
            }
            continue;
        }
        *eq = '\0';
        const char *k = item, *v = eq + 1;
        int64_t x = 0;
        const int64_t big = (int64_t)1 << 24;
        char full[160];
        snprintf(full, sizeof full, "%s=%s", k, v);
        if (strcmp(k, "vocab") == 0) {
            if ((rc = parse_i64(full, v, big, &x, err)) == 0)
                spec->n_vocab = x;
        } else if (strcmp(k, "embd") == 0) {
            if ((rc = parse_i64(full, v, 65536, &x, err)) == 0)
                spec->n_embd = x;
        } else if (strcmp(k, "layers") == 0) {
            if ((rc = parse_i64(full, v, 1024, &x, err)) == 0)
                spec->n_layer = x;
        } else if (strcmp(k, "heads") == 0) {
            if ((rc = parse_i64(full, v, 1024, &x, err)) == 0)
                spec->n_head = x;
        } else if (strcmp(k, "kv_heads") == 0) {
            if ((rc = parse_i64(full, v, 1024, &x, err)) == 0)
                spec->n_head_kv = x;
        } else if (strcmp(k, "ff") == 0) {
            if ((rc = parse_i64(full, v, 262144, &x, err)) == 0)
                spec->n_ff = x;
        } else if (strcmp(k, "ctx") == 0) {
            if ((rc = parse_i64(full, v, big, &x, err)) == 0)
                spec->n_ctx = x;
        } else if (strcmp(k, "rope_base") == 0) {
            rc = parse_f32(full, v, &spec->rope_freq_base, err);
        } else if (strcmp(k, "eps") == 0) {
            rc = parse_f32(full, v, &spec->rms_eps, err);
        } else if (strcmp(k, "tied") == 0) {
            if ((rc = parse_i64(full, v, 1, &x, err)) == 0)
                spec->tied = x != 0;
        } else if (strcmp(k, "rope_scale") == 0) {
            if ((rc = parse_f32(full, v, &spec->rope_scale_factor, err)) == 0) {
                if (!spec->rope_scale_low_freq)
                    spec->rope_scale_low_freq = 1.0f;
                if (!spec->rope_scale_high_freq)
                    spec->rope_scale_high_freq = 4.0f;
                if (!spec->rope_scale_orig_ctx)
                    spec->rope_scale_orig_ctx = 8192;
            }
        } else {
            rc = tl_err_set(err, TL_EINVAL,
                            "shape item \"%s\": unknown key \"%s\" (vocab, embd, layers, heads, "
                            "kv_heads, ff, ctx, rope_base, eps, tied, rope_scale)",
                            full, k);
        }
    }
    free(copy);
    return rc;
}

/* The spec with defaults applied. */
static tl_llm_gen_spec resolved(const tl_llm_gen_spec *in)
{
    tl_llm_gen_spec s = *in;
    if (!s.type)
        s.type = "f32";
    if (!s.n_head_kv)
        s.n_head_kv = s.n_head;
    if (!s.n_ctx)
        s.n_ctx = 4096;
    if (!(s.rope_freq_base > 0))
        s.rope_freq_base = 10000.0f;
    if (!(s.rms_eps > 0))
        s.rms_eps = s.arch && strcmp(s.arch, "qwen2") == 0 ? 1e-6f : 1e-5f;
    if (!(s.std > 0))
        s.std = 0.02f;
    return s;
}

int tl_llm_gen_check(const tl_llm_gen_spec *in, tl_err *err)
{
    tl_llm_gen_spec s = resolved(in);
    if (!s.arch || (strcmp(s.arch, "llama") != 0 && strcmp(s.arch, "qwen2") != 0))
        return tl_err_set(err, TL_EINVAL, "unknown architecture \"%s\" (llama or qwen2)",
                          s.arch ? s.arch : "(none)");
    if (!find_encoding(s.type))
        return tl_err_set(err, TL_EINVAL, "unknown weight type \"%s\" (known: %s)", s.type,
                          ENCODING_LIST);
    struct {
        const char *name;
        int64_t v, max;
    } dims[] = {{"n_embd", s.n_embd, 65536},   {"n_layer", s.n_layer, 1024},
                {"n_head", s.n_head, 1024},    {"n_head_kv", s.n_head_kv, 1024},
                {"n_ff", s.n_ff, 262144},      {"n_ctx", s.n_ctx, (int64_t)1 << 24}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v <= 0 || dims[i].v > dims[i].max)
            return tl_err_set(err, TL_EINVAL, "model shape: %s is %lld (expected 1 to %lld)",
                              dims[i].name, (long long)dims[i].v, (long long)dims[i].max);
    if (s.n_embd % s.n_head != 0)
        return tl_err_set(err, TL_EINVAL,
                          "model shape: n_embd %lld is not divisible by n_head %lld",
                          (long long)s.n_embd, (long long)s.n_head);
    if (s.n_head % s.n_head_kv != 0)
        return tl_err_set(err, TL_EINVAL,
                          "model shape: n_head %lld is not divisible by n_head_kv %lld",
                          (long long)s.n_head, (long long)s.n_head_kv);
    if ((s.n_embd / s.n_head) % 2 != 0)
        return tl_err_set(err, TL_EINVAL, "model shape: the head size %lld is odd (RoPE pairs)",
                          (long long)(s.n_embd / s.n_head));
    /* Every row length (n_embd, n_ff, head size x kv heads for biases is
     * 1-D) must fit the 32-element blocks, as llama.cpp requires. */
    if (s.n_embd % 32 != 0 || s.n_ff % 32 != 0)
        return tl_err_set(err, TL_EINVAL,
                          "model shape: n_embd %lld and n_ff %lld must be multiples of 32",
                          (long long)s.n_embd, (long long)s.n_ff);
    if (!s.vocab_path && (s.n_vocab < 259 || s.n_vocab > ((int64_t)1 << 24)))
        return tl_err_set(err, TL_EINVAL,
                          "model shape: n_vocab %lld: the synthetic vocabulary needs 259 to 2^24 "
                          "tokens (<unk>, <s>, </s> and 256 bytes)",
                          (long long)s.n_vocab);
    if (s.rope_scale_factor > 0 &&
        !(s.rope_scale_high_freq > s.rope_scale_low_freq && s.rope_scale_low_freq > 0 &&
          s.rope_scale_orig_ctx > 0))
        return tl_err_set(err, TL_EINVAL,
                          "model shape: llama3 RoPE scaling needs 0 < low_freq < high_freq and "
                          "an original context");
    return 0;
}

/* ---- values ---------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* Row r of a N(0, std) tensor. Each value is the sum of four 16-bit
 * uniforms (Irwin-Hall): close to normal, exact in its standard deviation,
 * bounded at 3.46 std, and a few times cheaper than Box-Muller, which
 * matters at half a billion values. */
static void normal_row(uint64_t seed, uint64_t hname, int64_t row, float std, float *out,
                       int64_t n)
{
    uint64_t s = seed ^ hname ^ ((uint64_t)row * 0xD1B54A32D192ED03ull);
    splitmix64(&s);
    /* Sum of 4 U(0,1): mean 2, variance 1/3. */
    const float scale = std * 1.7320508f / 65536.0f;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(&s);
        uint32_t sum = (uint32_t)(r & 0xffff) + (uint32_t)((r >> 16) & 0xffff) +
                       (uint32_t)((r >> 32) & 0xffff) + (uint32_t)(r >> 48);
        out[i] = ((float)sum + 2.0f - 131072.0f) * scale;
    }
}

/* convert_hf_to_gguf.py's llama3 rope factors (one per dimension pair). */
static void llama3_rope_factors(const tl_llm_gen_spec *s, float *out, int64_t n)
{
    int64_t dim = s->n_embd / s->n_head;
    float lo_wav = (float)s->rope_scale_orig_ctx / s->rope_scale_low_freq;
    float hi_wav = (float)s->rope_scale_orig_ctx / s->rope_scale_high_freq;
    for (int64_t i = 0; i < n; i++) {
        float freq = 1.0f / powf(s->rope_freq_base, (float)(2 * i) / (float)dim);
        float wav = 2.0f * (float)M_PI / freq;
        if (wav < hi_wav) {
            out[i] = 1.0f;
        } else if (wav > lo_wav) {
            out[i] = s->rope_scale_factor;
        } else {
            float smooth = ((float)s->rope_scale_orig_ctx / wav - s->rope_scale_low_freq) /
                           (s->rope_scale_high_freq - s->rope_scale_low_freq);
            out[i] = 1.0f / ((1.0f - smooth) / s->rope_scale_factor + smooth);
        }
    }
}

/* Row r (ncols values) of tensor name. */
static void gen_row(const tl_llm_gen_spec *s, const char *name, uint64_t hname, int64_t r,
                    int64_t ncols, float *out)
{
    if (strcmp(name, "rope_freqs.weight") == 0) {
        llama3_rope_factors(s, out, ncols);
    } else if (strstr(name, "_norm.weight")) {
        for (int64_t i = 0; i < ncols; i++)
            out[i] = 1.0f;
    } else {
        normal_row(s->seed, hname, r, s->std, out, ncols);
    }
}

int tl_llm_gen_values(const tl_llm_gen_spec *spec, const char *name, int64_t ncols, int64_t n,
                      float *out, tl_err *err)
{
    if (ncols <= 0 || n <= 0 || n % ncols != 0)
        return tl_err_set(err, TL_EINVAL,
                          "tensor \"%s\": %lld values are not whole rows of %lld", name,
                          (long long)n, (long long)ncols);
    tl_llm_gen_spec s = resolved(spec);
    uint64_t h = name_hash(name);
    for (int64_t r = 0; r < n / ncols; r++)
        gen_row(&s, name, h, r, ncols, out + r * ncols);
    return 0;
}

/* ---- the model's tensors ------------------------------------------------------------------ */

struct tdesc {
    char name[64];
    int type;
    int n_dims;
    int64_t dims[2];
};

struct plan {
    struct tdesc *t;
    size_t n, cap;
};

static int plan_add(struct plan *p, const tl_llm_gen_spec *s, const char *name, int64_t d0,
                    int64_t d1, tl_err *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct tdesc *t = realloc(p->t, cap * sizeof *t);
        if (!t)
            return tl_err_set(err, TL_ENOMEM, "out of memory");
        p->t = t;
        p->cap = cap;
    }
    struct tdesc *t = &p->t[p->n];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = d1 > 0 ? 2 : 1;
    t->dims[0] = d0;
    t->dims[1] = d1 > 0 ? d1 : 1;
    int rc = tl_llm_gen_tensor_type(s, name, d0, &t->type, err);
    if (rc < 0)
        return rc;
    p->n++;
    return 0;
}

/* The tensors of convert_hf_to_gguf.py's output, dims in ggml order
 * (row length first: attn_q is n_embd x n_head*head_dim). */
static int make_plan(const tl_llm_gen_spec *s, struct plan *p, tl_err *err)
{
    int64_t E = s->n_embd, V = s->n_vocab, F = s->n_ff;
    int64_t hd = E / s->n_head, Q = hd * s->n_head, KV = hd * s->n_head_kv;
    bool bias = strcmp(s->arch, "qwen2") == 0;
    int rc;
    if ((rc = plan_add(p, s, "token_embd.weight", E, V, err)) < 0)
        return rc;
    if (s->rope_scale_factor > 0 && (rc = plan_add(p, s, "rope_freqs.weight", hd / 2, 0, err)) < 0)
        return rc;
    for (int64_t l = 0; l < s->n_layer; l++) {
        char nm[64];
#define ADD(suffix, d0, d1)                                                        \
    do {                                                                           \
        snprintf(nm, sizeof nm, "blk.%lld.%s", (long long)l, suffix);              \
        if ((rc = plan_add(p, s, nm, d0, d1, err)) < 0)                            \
            return rc;                                                             \
    } while (0)
        ADD("attn_norm.weight", E, 0);
        ADD("attn_q.weight", E, Q);
        if (bias)
            ADD("attn_q.bias", Q, 0);
        ADD("attn_k.weight", E, KV);
        if (bias)
            ADD("attn_k.bias", KV, 0);
        ADD("attn_v.weight", E, KV);
        if (bias)
            ADD("attn_v.bias", KV, 0);
        ADD("attn_output.weight", Q, E);
        ADD("ffn_norm.weight", E, 0);
        ADD("ffn_gate.weight", E, F);
        ADD("ffn_up.weight", E, F);
        ADD("ffn_down.weight", F, E);
#undef ADD
    }
    if ((rc = plan_add(p, s, "output_norm.weight", E, 0, err)) < 0)
        return rc;
    if (!s->tied && (rc = plan_add(p, s, "output.weight", E, V, err)) < 0)
        return rc;
    return 0;
}

/* ---- vocabulary ----------------------------------------------------------------------- */

/* llama.cpp's token types. */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_BYTE = 6 };

/* A SentencePiece-style vocabulary our tokenizer and llama.cpp load:
 * <unk> <s> </s>, the 256 byte tokens, then "▁" and lowercase words in
 * order of length (each with and without the "▁" word marker) so that
 * merges have something to build, until n tokens. */
static int synthetic_vocab(tl_gguf_writer *w, int64_t n, tl_err *err)
{
    char **tok = calloc((size_t)n, sizeof *tok);
    float *score = malloc((size_t)n * sizeof *score);
    int32_t *type = malloc((size_t)n * sizeof *type);
    int rc = 0;
    if (!tok || !score || !type) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory for a %lld-token vocabulary", (long long)n);
        goto out;
    }
    int64_t i = 0;
    static const char *const specials[3] = {"<unk>", "<s>", "</s>"};
    static const int special_types[3] = {TT_UNKNOWN, TT_CONTROL, TT_CONTROL};
    for (int k = 0; k < 3; k++, i++) {
        tok[i] = strdup(specials[k]);
        type[i] = special_types[k];
        score[i] = 0.0f;
    }
    for (int b = 0; b < 256; b++, i++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        tok[i] = strdup(s);
        type[i] = TT_BYTE;
        score[i] = 0.0f;
    }
    /* "▁", then words over a..z by length (word k in bijective base 26),
     * each first with the word marker, then without. */
    for (; i < n; i++) {
        char s[32] = "\xe2\x96\x81"; // U+2581, SentencePiece's space
        if (i > 259) {
            int64_t m = i - 260;
            uint64_t x = (uint64_t)(m / 2) + 1;
            char rev[16];
            size_t len = 0;
            while (x > 0 && len < sizeof rev) {
                x -= 1;
                rev[len++] = (char)('a' + x % 26);
                x /= 26;
            }
            size_t o = m % 2 == 0 ? 3 : 0;
            for (size_t j = 0; j < len; j++)
                s[o + j] = rev[len - 1 - j];
            s[o + len] = '\0';
        }
        tok[i] = strdup(s);
        type[i] = TT_NORMAL;
        score[i] = -(float)(i - 259); // earlier (shorter) pieces merge first
    }
    for (int64_t j = 0; j < n; j++)
        if (!tok[j]) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
            goto out;
        }
    uint32_t zero = 0, one = 1, two = 2;
    if ((rc = tl_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", err)) < 0 ||
        (rc = tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                         NULL, (uint64_t)n, err)) < 0 ||
        (rc = tl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", TL_GGUF_VAL_F32, score,
                                     (uint64_t)n, err)) < 0 ||
        (rc = tl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", TL_GGUF_VAL_I32, type,
                                     (uint64_t)n, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", one, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", two, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", zero, err)) < 0 ||
        (rc = tl_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true, err)) < 0 ||
        (rc = tl_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false, err)) < 0)
        goto out;
out:
    if (tok)
        for (int64_t j = 0; j < n; j++)
            free(tok[j]);
    free(tok);
    free(score);
    free(type);
    return rc;
}

/* Copies every tokenizer.* key of path; *n_vocab is its token count. */
static int copy_vocab(tl_gguf_writer *w, const char *path, int64_t *n_vocab, tl_err *err)
{
    tl_gguf *g = NULL;
    int rc = tl_gguf_open(path, &g, err);
    if (rc < 0)
        return rc;
    uint64_t n = 0;
    int et = -1;
    if (tl_gguf_arr_info(g, "tokenizer.ggml.tokens", &et, &n, err) < 0 ||
        et != TL_GGUF_VAL_STRING || n == 0 || n > ((uint64_t)1 << 24)) {
        tl_gguf_close(g);
        return tl_err_set(err, TL_EPARSE,
                          "vocabulary file \"%s\": no usable tokenizer.ggml.tokens string array",
                          path);
    }
    for (size_t i = 0; i < tl_gguf_n_kv(g); i++) {
        const char *key = tl_gguf_kv_key(g, i);
        if (strncmp(key, "tokenizer.", 10) != 0)
            continue;
        if ((rc = tl_gguf_writer_copy_kv(w, g, key, err)) < 0) {
            tl_err_prefix(err, "vocabulary file \"%s\": ", path);
            tl_gguf_close(g);
            return rc;
        }
    }
    tl_gguf_close(g);
    *n_vocab = (int64_t)n;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

struct fill_ctx {
    const tl_llm_gen_spec *s;
    const struct plan *p;
    tl_pool *pool;
};

struct fill_job {
    const tl_llm_gen_spec *s;
    const struct tdesc *t;
    uint64_t hname;
    uint8_t *buf;
    size_t row_bytes;
    int64_t rows_per_chunk, n_rows;
    _Atomic int failed;
};

static void fill_chunk(size_t c, void *arg)
{
    struct fill_job *j = arg;
    int64_t ncols = j->t->dims[0];
    int64_t r0 = (int64_t)c * j->rows_per_chunk;
    int64_t r1 = r0 + j->rows_per_chunk < j->n_rows ? r0 + j->rows_per_chunk : j->n_rows;
    float *row = malloc((size_t)ncols * sizeof *row);
    if (!row) {
        j->failed = 1;
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        gen_row(j->s, j->t->name, j->hname, r, ncols, row);
        if (tl_q_quantize_row(j->t->type, row, j->buf + (size_t)r * j->row_bytes, ncols) < 0)
            j->failed = 1;
    }
    free(row);
}

static int fill_tensor(void *ud, size_t i, const char *name, void *buf, uint64_t size, tl_err *err)
{
    struct fill_ctx *fc = ud;
    const struct tdesc *t = &fc->p->t[i];
    int64_t ncols = t->dims[0];
    struct fill_job j = {
        .s = fc->s,
        .t = t,
        .hname = name_hash(name),
        .buf = buf,
        .row_bytes = tl_q_row_size(t->type, ncols),
        .n_rows = t->dims[1],
    };
    if (j.row_bytes == 0 || (uint64_t)j.row_bytes * (uint64_t)j.n_rows != size)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "tensor \"%s\": the kernels cannot encode type %s with rows of %lld",
                          name, tl_gguf_type_name(t->type), (long long)ncols);
    /* Chunks of about 64k values: small enough to balance, large enough
     * that scheduling costs nothing. */
    j.rows_per_chunk = 65536 / ncols > 0 ? 65536 / ncols : 1;
    size_t n_chunks = (size_t)((j.n_rows + j.rows_per_chunk - 1) / j.rows_per_chunk);
    tl_pool_parallel_for(n_chunks > 1 ? fc->pool : NULL, n_chunks, fill_chunk, &j);
    if (j.failed)
        return tl_err_set(err, TL_ENOMEM, "tensor \"%s\": out of memory or encoding failed",
                          name);
    return 0;
}

int tl_llm_gen_random(const tl_llm_gen_spec *spec, const char *out_path, tl_err *err)
{
    int rc = tl_llm_gen_check(spec, err);
    if (rc < 0)
        return rc;
    tl_llm_gen_spec s = resolved(spec);
    const struct encoding *enc = find_encoding(s.type);
    tl_gguf_writer *w = NULL;
    struct plan p = {0};
    tl_pool *pool = NULL;
    if ((rc = tl_gguf_writer_new(&w, err)) < 0)
        return rc;

    const char *a = s.arch;
    char key[128];
    char name[96];
    if (!s.name) {
        snprintf(name, sizeof name, "random %s", a);
        s.name = name;
    }
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    int64_t hd = s.n_embd / s.n_head;
    if ((rc = tl_gguf_writer_set_str(w, "general.architecture", a, err)) < 0 ||
        (rc = tl_gguf_writer_set_str(w, "general.type", "model", err)) < 0 ||
        (rc = tl_gguf_writer_set_str(w, "general.name", s.name, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, "general.file_type", (uint32_t)enc->ftype, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, "general.quantization_version", 2, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("context_length"), (uint32_t)s.n_ctx, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("embedding_length"), (uint32_t)s.n_embd, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("block_count"), (uint32_t)s.n_layer, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("feed_forward_length"), (uint32_t)s.n_ff, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("attention.head_count"), (uint32_t)s.n_head, err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("attention.head_count_kv"), (uint32_t)s.n_head_kv,
                                     err)) < 0 ||
        (rc = tl_gguf_writer_set_f32(w, K("rope.freq_base"), s.rope_freq_base, err)) < 0 ||
        (rc = tl_gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), s.rms_eps,
                                     err)) < 0 ||
        (rc = tl_gguf_writer_set_u32(w, K("rope.dimension_count"), (uint32_t)hd, err)) < 0)
        goto out;
    if (s.vocab_path) {
        if ((rc = copy_vocab(w, s.vocab_path, &s.n_vocab, err)) < 0)
            goto out;
    } else if ((rc = synthetic_vocab(w, s.n_vocab, err)) < 0) {
        goto out;
    }
    if ((rc = tl_gguf_writer_set_u32(w, K("vocab_size"), (uint32_t)s.n_vocab, err)) < 0)
        goto out;
#undef K
    if ((rc = make_plan(&s, &p, err)) < 0)
        goto out;
    for (size_t i = 0; i < p.n; i++)
        if ((rc = tl_gguf_writer_add_tensor(w, p.t[i].name, p.t[i].type, p.t[i].n_dims,
                                            p.t[i].dims, NULL, err)) < 0)
            goto out;

    int nt = s.n_threads > 0 ? s.n_threads : 0;
    if (nt != 1) {
        /* The caller of parallel_for works too: one thread fewer in the pool. */
        pool = tl_pool_new(nt > 1 ? nt - 1 : 0);
    }
    struct fill_ctx fc = {.s = &s, .p = &p, .pool = pool};
    rc = tl_gguf_writer_write(w, out_path, fill_tensor, &fc, err);
out:
    tl_pool_free(pool);
    free(p.t);
    tl_gguf_writer_free(w);
    return rc;
}
