/*
 * cli.h - the teller program's command table and the helpers every command
 * shares: option parsing, configuration, output.
 *
 * A command is one file in src/cli/ with one entry in commands.c. It parses,
 * calls the library, and renders; it holds no domain logic. Exit codes: 0 ok,
 * 1 the work failed, 2 the command line was wrong.
 */
#ifndef TELLER_CLI_H
#define TELLER_CLI_H

#include <teller/teller.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* One option a command accepts. Flags (has_arg false) set *flag; options
 * with an argument store the borrowed argv string in *value. */
struct cli_opt {
    const char *name; /* long name without "--" */
    bool has_arg;
    const char **value;
    bool *flag;
    const char *help; /* "--name ARG  help" line in usage */
};

/* What every command gets: parsed common options and the configuration. */
struct cli_env {
    tl_config *cfg;
    bool json;  /* --json: machine output on stdout */
    bool quiet; /* --quiet: no progress bars */
    const char *prog;
    const struct cli_command *cmd;
    size_t n_args; /* positional arguments after options */
    char **args;
};

struct cli_command {
    const char *name;
    const char *summary; /* one line for `teller --help` */
    const char *usage;   /* synopsis after "teller NAME " */
    const char *help;    /* paragraph(s) for `teller NAME --help` */
    const struct cli_opt *opts; /* command-specific options, {0}-terminated; may be NULL */
    size_t min_args, max_args;
    bool uses_store; /* accepts --store and --config */
    int (*run)(struct cli_env *env);
};

extern const struct cli_command cli_commands[];
extern const size_t cli_n_commands;

/* Prints `teller NAME --help` text to fp. */
void cli_print_command_help(FILE *fp, const struct cli_command *cmd);

/* Reports a usage error for the current command on stderr; returns CLI_USAGE. */
int cli_usage_error(const struct cli_env *env, const char *fmt, ...) TL_PRINTF(2, 3);

/* Reports a failure (err->msg) on stderr, or as {"error":...} JSON on stdout
 * with --json; returns CLI_FAILED. */
int cli_fail(const struct cli_env *env, const tl_err *err);

/* Opens the context from env->cfg (store + migrations); reports failures. */
int cli_open_ctx(const struct cli_env *env, tl_ctx **out);

/* Parses an unsigned integer option value; a usage error names the option. */
int cli_parse_u64(const struct cli_env *env, const char *opt, const char *s, uint64_t *out);

/* Journals an action the command has already done (actor and role "cli").
 * On failure err says that it was done but not journaled, so an operator
 * never reads the failure as "nothing happened". details is JSON or NULL. */
int cli_journal(tl_ctx *ctx, const char *action, const char *resource, const char *customer_id,
                const char *details, tl_err *err);

/* Writes a JSON value followed by a newline on stdout and releases it. */
void cli_print_json(json_t *v);

/* One handler per command (src/cli/<name>.c). */
int cli_cmd_init(struct cli_env *env);
int cli_cmd_generate(struct cli_env *env);
int cli_cmd_ingest(struct cli_env *env);
int cli_cmd_export(struct cli_env *env);
int cli_cmd_stats(struct cli_env *env);
int cli_cmd_config(struct cli_env *env);
int cli_cmd_schema(struct cli_env *env);
int cli_cmd_audit(struct cli_env *env);
int cli_cmd_keys(struct cli_env *env);
int cli_cmd_customer(struct cli_env *env);
int cli_cmd_serve(struct cli_env *env);
int cli_cmd_credit(struct cli_env *env);
int cli_cmd_models(struct cli_env *env);
int cli_cmd_fraud(struct cli_env *env);
int cli_cmd_advise(struct cli_env *env);
int cli_cmd_risk_profile(struct cli_env *env);
int cli_cmd_portfolio(struct cli_env *env);
int cli_cmd_nn(struct cli_env *env);
int cli_cmd_profile(struct cli_env *env);
int cli_cmd_segments(struct cli_env *env);
extern const struct cli_opt cli_profile_opts[];
extern const struct cli_opt cli_segments_opts[];
int cli_cmd_recommend(struct cli_env *env);
int cli_cmd_llm(struct cli_env *env);
extern const struct cli_opt cli_llm_opts[];
extern const struct cli_opt cli_recommend_opts[];

/* teller nn: the options every subcommand shares (set by the option parser
 * from cli_nn_opts; NULL when absent) and the subcommands in other files. */
struct cli_nn_args {
    const char *data, *text, *label, *target, *out, *model, *epochs, *seed, *threads, *lr,
        *batch, *hidden, *positive;
};
extern struct cli_nn_args cli_nn_args;
/* `teller nn train-tabular` (src/cli/nn_tabular.c). */
int cli_nn_tabular(struct cli_env *env);

/* teller llm gen-random (src/cli/llm_gen.c): its option values, stored by
 * the `llm` command's option table through CLI_LLM_GEN_OPTS (NULL/false when
 * absent); -o FILE is read from the positional arguments. */
struct cli_llm_gen_args {
    const char *arch, *shape, *type, *vocab, *seed, *threads, *out;
    bool pure;
};
extern struct cli_llm_gen_args cli_llm_gen_args;
int cli_llm_gen_random(struct cli_env *env);
#define CLI_LLM_GEN_OPTS                                                                        \
    {"arch", true, &cli_llm_gen_args.arch, NULL,                                                \
     "--arch llama|qwen2       gen-random: the architecture (default: the --shape preset's)"},  \
    {"shape", true, &cli_llm_gen_args.shape, NULL,                                              \
     "--shape NAME|k=v,..      gen-random: qwen2.5-0.5b, llama-3.2-1b, tiny-llama, tiny-qwen2 " \
     "and/or vocab,embd,layers,heads,kv_heads,ff,ctx,rope_base,eps,tied,rope_scale"},           \
    {"type", true, &cli_llm_gen_args.type, NULL,                                                \
     "--type TYPE              gen-random: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q6_k q4_k_s "  \
     "q4_k_m q5_k_s q5_k_m (llama.cpp's per-tensor mixes)"},                                    \
    {"vocab", true, &cli_llm_gen_args.vocab, NULL,                                              \
     "--vocab FROM.gguf        gen-random: copy tokenizer.* (and n_vocab) from this file"},     \
    {"pure", false, NULL, &cli_llm_gen_args.pure,                                               \
     "--pure                   gen-random: every matrix in the base type"},                     \
    {"seed", true, &cli_llm_gen_args.seed, NULL, "--seed S                 random seed (default 0)"}, \
    {"threads", true, &cli_llm_gen_args.threads, NULL,                                          \
     "--threads N              threads (default: all cores)"},                                  \
    {"out", true, &cli_llm_gen_args.out, NULL, "--out FILE               output file (as -o)"}

/* Option tables defined next to their handlers. */
extern const struct cli_opt cli_generate_opts[];
extern const struct cli_opt cli_ingest_opts[];
extern const struct cli_opt cli_export_opts[];
extern const struct cli_opt cli_stats_opts[];
extern const struct cli_opt cli_schema_opts[];
extern const struct cli_opt cli_audit_opts[];
extern const struct cli_opt cli_keys_opts[];
extern const struct cli_opt cli_customer_opts[];
extern const struct cli_opt cli_serve_opts[];
extern const struct cli_opt cli_credit_opts[];
extern const struct cli_opt cli_models_opts[];
extern const struct cli_opt cli_fraud_opts[];
extern const struct cli_opt cli_advise_opts[];
extern const struct cli_opt cli_risk_profile_opts[];
extern const struct cli_opt cli_portfolio_opts[];
extern const struct cli_opt cli_nn_opts[];

#endif
