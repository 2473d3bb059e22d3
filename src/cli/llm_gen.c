/*
 * teller llm gen-random: a random-weight GGUF with the real layout of a
 * llama or qwen2 model (tl_llm_gen_random), for tests and for benchmarks at
 * real sizes.
 *
 *   teller llm gen-random --arch llama|qwen2 --shape NAME|k=v,... --type TYPE
 *                         -o FILE [--vocab FROM.gguf] [--seed S] [--threads N] [--pure]
 *
 * The option values live in cli_llm_gen_args (cli.h); the `llm` command's
 * option table (src/cli/llm.c) lists CLI_LLM_GEN_OPTS so that they land
 * there. -o FILE arrives as two positional arguments after the subcommand.
 * Prints one line (or, with --json, an object) saying what was written.
 */
#include "cli.h"

#include <teller/datetime.h>
#include <teller/llm_gguf.h>
#include <teller/llm_gguf_write.h>

#include <stdlib.h>
#include <string.h>

struct cli_llm_gen_args cli_llm_gen_args;

/* The -o FILE positional pair (or --out), and nothing else, after the
 * subcommand. */
static int out_path(const struct cli_env *env, const char **out)
{
    *out = cli_llm_gen_args.out;
    for (size_t i = 1; i < env->n_args; i++) {
        if (strcmp(env->args[i], "-o") != 0)
            return cli_usage_error(env, "unexpected argument \"%s\"", env->args[i]);
        if (i + 1 >= env->n_args)
            return cli_usage_error(env, "-o needs a file name");
        *out = env->args[++i];
    }
    if (!*out)
        return cli_usage_error(env, "gen-random needs -o FILE");
    return CLI_OK;
}

int cli_llm_gen_random(struct cli_env *env)
{
    const struct cli_llm_gen_args *a = &cli_llm_gen_args;
    const char *out = NULL;
    int rc = out_path(env, &out);
    if (rc != CLI_OK)
        return rc;
    if (!a->shape)
        return cli_usage_error(env, "gen-random needs --shape NAME or --shape k=v,... (presets: "
                                    "qwen2.5-0.5b, llama-3.2-1b, tiny-llama, tiny-qwen2)");

    tl_err err = {0};
    tl_llm_gen_spec spec = {0};
    if (tl_llm_gen_parse_shape(a->shape, &spec, &err) < 0)
        return cli_usage_error(env, "--shape: %s", err.msg);
    if (a->arch) {
        if (strcmp(a->arch, "llama") != 0 && strcmp(a->arch, "qwen2") != 0)
            return cli_usage_error(env, "--arch %s: expected llama or qwen2", a->arch);
        spec.arch = a->arch;
    }
    if (!spec.arch)
        return cli_usage_error(env, "gen-random needs --arch llama|qwen2 (or a preset --shape)");
    spec.type = a->type ? a->type : "f32";
    if (tl_llm_gen_file_type(spec.type) < 0)
        return cli_usage_error(env, "--type %s: expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
                                    "q5_1, q6_k, q4_k_s, q4_k_m, q5_k_s or q5_k_m",
                               spec.type);
    spec.pure = a->pure;
    spec.vocab_path = a->vocab;
    if (a->seed) {
        uint64_t v;
        if ((rc = cli_parse_u64(env, "seed", a->seed, &v)) != CLI_OK)
            return rc;
        spec.seed = v;
    }
    if (a->threads) {
        uint64_t v;
        if ((rc = cli_parse_u64(env, "threads", a->threads, &v)) != CLI_OK)
            return rc;
        if (v < 1 || v > 256)
            return cli_usage_error(env, "--threads %s: expected 1 to 256", a->threads);
        spec.n_threads = (int)v;
    }
    if (!spec.vocab_path && !spec.n_vocab)
        return cli_usage_error(env, "--shape needs vocab=N without --vocab");

    int64_t t0 = tl_time_mono_ns();
    if (tl_llm_gen_random(&spec, out, &err) < 0)
        return cli_fail(env, &err);
    double secs = (double)(tl_time_mono_ns() - t0) / 1e9;

    /* Reopen what was written: a check, and the summary's numbers. */
    tl_gguf *g;
    if (tl_gguf_open(out, &g, &err) < 0)
        return cli_fail(env, &err);
    uint64_t bytes = 0, n_params = 0;
    uint64_t per_type[TL_GGUF_TYPE_COUNT] = {0};
    for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
        tl_gguf_tensor_info ti;
        tl_gguf_tensor(g, i, &ti);
        bytes += ti.size_bytes;
        n_params += ti.n_elems;
        if (ti.type >= 0 && ti.type < TL_GGUF_TYPE_COUNT)
            per_type[ti.type]++;
    }
    if (env->json) {
        json_t *types = json_object();
        for (int t = 0; t < TL_GGUF_TYPE_COUNT; t++)
            if (per_type[t])
                json_object_set_new(types, tl_gguf_type_name(t), json_integer((json_int_t)per_type[t]));
        cli_print_json(json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:f}", "path", out, "arch",
                                 spec.arch, "type", spec.type, "n_tensors",
                                 (json_int_t)tl_gguf_n_tensors(g), "n_params",
                                 (json_int_t)n_params, "tensor_bytes", (json_int_t)bytes,
                                 "tensor_types", types, "seconds", secs));
    } else {
        printf("wrote %s: %s %s, %zu tensors, %.1fM parameters, %.1f MB of weights (", out,
               spec.arch, spec.type, tl_gguf_n_tensors(g), (double)n_params / 1e6,
               (double)bytes / 1e6);
        const char *sep = "";
        for (int t = 0; t < TL_GGUF_TYPE_COUNT; t++) {
            if (per_type[t]) {
                printf("%s%s x%llu", sep, tl_gguf_type_name(t), (unsigned long long)per_type[t]);
                sep = ", ";
            }
        }
        printf(") in %.2f s\n", secs);
    }
    tl_gguf_close(g);
    return CLI_OK;
}
