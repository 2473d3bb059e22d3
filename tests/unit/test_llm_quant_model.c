/*
 * test_llm_quant_model.c - a random-weight model quantized to each tensor
 * type gives logits close to its F32 original.
 *
 * gen-random draws every weight from the seed, the tensor's name and its row
 * only, never from the type, so the F32 file and each quantized file made
 * with the same seed hold the same model up to the encoding. Both run the
 * same prompt; the error is the RMS of the logit difference over the RMS of
 * the F32 logits (centred), at the last prompt position and after eight
 * generated positions. The tolerance per type is stated in TYPES below:
 * about 1.5 times what was measured, so a kernel that loses a scale or a
 * sign (uncorrelated logits: about 1.4) fails while rounding noise passes.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <teller/llm.h>
#include <teller/llm_gguf_write.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *type;
    double tol; /* relative RMS error of the logits */
} TYPES[] = {
    /* measured (both shapes, prompt and decode): f16 0.0009, bf16 0.0066,
     * q8_0 0.029, q6_k 0.074, q5_k_s 0.134, q5_1 0.148, q5_0 0.173,
     * q4_k_s 0.246, q4_1 0.304, q4_0 0.324: about five times each type's
     * weight error (docs/llm-quant.md), the gain of two random layers and
     * the activations' own 8-bit rounding; uncorrelated logits would give
     * about 1.4 */
    {"f16", 0.002},   {"bf16", 0.01},  {"q8_0", 0.045}, {"q6_k", 0.11},
    {"q5_k_s", 0.2},  {"q5_0", 0.26},  {"q5_1", 0.22},  {"q4_k_s", 0.37},
    {"q4_0", 0.49},   {"q4_1", 0.46},
};

/* The logits after a fixed prompt and eight greedy steps of the F32 path's
 * tokens (the same ids for every type, so positions stay comparable). */
static float *run(const char *path, const int32_t *ids, size_t n, int n_vocab)
{
    tl_err err = {0};
    tl_llm_model *m = NULL;
    cr_assert_eq(tl_llm_model_load(path, NULL, &m, &err), 0, "%s: %s", path, err.msg);
    cr_assert_eq(tl_llm_model_n_vocab(m), n_vocab);
    tl_llm_session *s = NULL;
    cr_assert_eq(tl_llm_session_new(m, 64, 1, &s, &err), 0, "%s", err.msg);
    float *logits = NULL, *out = malloc(2 * (size_t)n_vocab * sizeof *out);
    cr_assert_not_null(out);
    cr_assert_eq(tl_llm_decode(s, ids, n, &logits, &err), 0, "%s", err.msg);
    memcpy(out, logits, (size_t)n_vocab * sizeof *out);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(tl_llm_decode(s, &ids[i % n], 1, &logits, &err), 0, "%s", err.msg);
    memcpy(out + n_vocab, logits, (size_t)n_vocab * sizeof *out);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
    return out;
}

static double rel_rms(const float *ref, const float *got, int n)
{
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += ref[i];
    mean /= n;
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
        den += ((double)ref[i] - mean) * ((double)ref[i] - mean);
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static void check_arch(const char *preset)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    tl_err err = {0};
    tl_llm_gen_spec spec;
    cr_assert_eq(tl_llm_gen_preset(preset, &spec, &err), 0, "%s", err.msg);
    spec.seed = 7;
    spec.std = 0.05f; /* logits well above the float noise floor */
    spec.pure = true;
    spec.n_threads = 1;
    char ref_path[1024];
    snprintf(ref_path, sizeof ref_path, "%s/f32.gguf", dir);
    spec.type = "f32";
    cr_assert_eq(tl_llm_gen_random(&spec, ref_path, &err), 0, "%s", err.msg);
    const int32_t ids[] = {1, 300, 41, 77, 260, 5, 499, 128};
    const size_t n = sizeof ids / sizeof ids[0];
    int n_vocab = (int)spec.n_vocab;
    float *ref = run(ref_path, ids, n, n_vocab);
    for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.gguf", dir, TYPES[t].type);
        spec.type = TYPES[t].type;
        cr_assert_eq(tl_llm_gen_random(&spec, path, &err), 0, "%s: %s", TYPES[t].type, err.msg);
        float *got = run(path, ids, n, n_vocab);
        double e0 = rel_rms(ref, got, n_vocab), e1 = rel_rms(ref + n_vocab, got + n_vocab, n_vocab);
        cr_log_info("%s %-7s relative RMS error of the logits: %.5f (prompt) %.5f (decode); "
                    "tolerance %.3f", preset, TYPES[t].type, e0, e1, TYPES[t].tol);
        cr_expect_lt(e0, TYPES[t].tol, "%s %s: %.5f", preset, TYPES[t].type, e0);
        cr_expect_lt(e1, TYPES[t].tol, "%s %s: %.5f", preset, TYPES[t].type, e1);
        /* and not trivially equal: the encoding did change the weights */
        if (strcmp(TYPES[t].type, "f16") != 0)
            cr_expect_gt(e0, 1e-6, "%s %s: identical to F32?", preset, TYPES[t].type);
        free(got);
        remove(path);
    }
    free(ref);
    remove(ref_path);
    rmdir(dir);
    free(dir);
}

Test(llm_quant_model, llama_logits_close_to_f32_for_every_type)
{
    check_arch("tiny-llama");
}

Test(llm_quant_model, qwen2_logits_close_to_f32_for_every_type)
{
    check_arch("tiny-qwen2");
}
