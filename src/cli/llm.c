/*
 * teller llm: the embedded LLM engine from the command line.
 *
 *   run         generate from a prompt; prints the generated text only, so it
 *               can be piped
 *   tokenize    all of stdin as one text -> token ids on one line
 *   chat        a conversation on stdin/stdout through the model's template
 *   bench       prefill and decode tokens/s, peak RSS
 *   gen-random  a random-weight GGUF with a real layout (llm_gen.c)
 *
 * Models are GGUF files or llama2.c checkpoints (with --tokenizer FILE).
 * llama.cpp's tools take short options (-m, -p, -n, -t, -o); so do these,
 * beside the long ones.
 */
#include "cli.h"

#include <teller/llm.h>
#include <teller/llm_chat.h>
#include <teller/llm_gguf.h>
#include <teller/llm_tokenizer.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The options of every subcommand but gen-random's own (which live in
 * cli_llm_gen_args, cli.h: --seed, --threads and --out are shared). */
static struct {
    const char *model, *tokenizer, *prompt, *n_predict, *ctx, *temp, *top_k, *top_p, *min_p,
        *repeat_penalty, *repeat_last_n, *stop, *system, *chat_template, *reps;
} cli_llm_args;
static bool opt_bos, opt_special, opt_stats, opt_ignore_eos;

const struct cli_opt cli_llm_opts[] = {
    {"model", true, &cli_llm_args.model, NULL, "-m, --model FILE        a GGUF file or a llama2.c checkpoint"},
    {"tokenizer", true, &cli_llm_args.tokenizer, NULL, "--tokenizer FILE        llama2.c checkpoints: the tokenizer .bin"},
    {"prompt", true, &cli_llm_args.prompt, NULL, "-p, --prompt TEXT       run: the prompt (default: empty); bench: prompt tokens (512)"},
    {"n-predict", true, &cli_llm_args.n_predict, NULL, "-n, --n-predict N       tokens to generate (run: 256; bench: 128)"},
    {"ctx", true, &cli_llm_args.ctx, NULL, "-c, --ctx N             context positions (default: min(trained, 4096))"},
    {"temp", true, &cli_llm_args.temp, NULL, "--temp T                temperature; 0 is greedy (default 0.8)"},
    {"top-k", true, &cli_llm_args.top_k, NULL, "--top-k K               keep the K most probable (default 40; 0 off)"},
    {"top-p", true, &cli_llm_args.top_p, NULL, "--top-p P               nucleus sampling (default 0.95; 1 off)"},
    {"min-p", true, &cli_llm_args.min_p, NULL, "--min-p P               drop tokens below P x the best (default 0.05; 0 off)"},
    {"repeat-penalty", true, &cli_llm_args.repeat_penalty, NULL, "--repeat-penalty R      penalize recent tokens (default 1.0: off)"},
    {"repeat-last-n", true, &cli_llm_args.repeat_last_n, NULL, "--repeat-last-n N       tokens the penalty looks back over (default 64)"},
    {"stop", true, &cli_llm_args.stop, NULL, "--stop TEXT             stop generating at TEXT"},
    {"system", true, &cli_llm_args.system, NULL, "--system TEXT           chat: the system prompt"},
    {"chat-template", true, &cli_llm_args.chat_template, NULL, "--chat-template NAME    chat: chatml, llama3 or llama2 (default: from the model)"},
    {"reps", true, &cli_llm_args.reps, NULL, "--reps N                bench: repetitions, the median reported (default 3)"},
    {"bos", false, NULL, &opt_bos, "--bos                   tokenize: add the BOS token"},
    {"special", false, NULL, &opt_special, "--special               tokenize: special-token text becomes the token"},
    {"stats", false, NULL, &opt_stats, "--stats                 run: timings on stderr"},
    {"ignore-eos", false, NULL, &opt_ignore_eos, "--ignore-eos            run: keep generating past end-of-generation tokens"},
    CLI_LLM_GEN_OPTS,
    {0},
};

/* -m -p -n -t -c VALUE among the positional arguments: moved into their
 * long options. Returns CLI_OK or a usage error. */
static int short_opts(struct cli_env *env)
{
    size_t keep = 0;
    for (size_t i = 0; i < env->n_args; i++) {
        const char *a = env->args[i];
        const char **dst = NULL;
        if (strcmp(a, "-m") == 0)
            dst = &cli_llm_args.model;
        else if (strcmp(a, "-p") == 0)
            dst = &cli_llm_args.prompt;
        else if (strcmp(a, "-n") == 0)
            dst = &cli_llm_args.n_predict;
        else if (strcmp(a, "-t") == 0)
            dst = &cli_llm_gen_args.threads;
        else if (strcmp(a, "-c") == 0)
            dst = &cli_llm_args.ctx;
        else if (a[0] == '-' && a[1] && strcmp(a, "-") != 0)
            return cli_usage_error(env, "unknown option \"%s\"", a);
        if (!dst) {
            env->args[keep++] = env->args[i];
            continue;
        }
        if (i + 1 >= env->n_args)
            return cli_usage_error(env, "option %s needs a value", a);
        *dst = env->args[++i];
    }
    env->n_args = keep;
    return CLI_OK;
}

static int parse_int(struct cli_env *env, const char *name, const char *s, long lo, long hi,
                     long *out)
{
    if (!s)
        return CLI_OK;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_usage_error(env, "--%s \"%s\": an integer in %ld..%ld expected", name, s, lo, hi);
    *out = v;
    return CLI_OK;
}

static int parse_real(struct cli_env *env, const char *name, const char *s, double lo, double hi,
                      float *out)
{
    if (!s)
        return CLI_OK;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return cli_usage_error(env, "--%s \"%s\": a number in [%g, %g] expected", name, s, lo, hi);
    *out = (float)v;
    return CLI_OK;
}

/* The sampler flags over llama.cpp's defaults. */
static int sampler_params(struct cli_env *env, tl_llm_sampler_params *p)
{
    *p = tl_llm_sampler_defaults();
    long k = p->top_k, last = p->repeat_last_n;
    int rc;
    if ((rc = parse_real(env, "temp", cli_llm_args.temp, 0, 100, &p->temperature)) ||
        (rc = parse_int(env, "top-k", cli_llm_args.top_k, 0, 1L << 30, &k)) ||
        (rc = parse_real(env, "top-p", cli_llm_args.top_p, 0, 1, &p->top_p)) ||
        (rc = parse_real(env, "min-p", cli_llm_args.min_p, 0, 1, &p->min_p)) ||
        (rc = parse_real(env, "repeat-penalty", cli_llm_args.repeat_penalty, 0, 100,
                         &p->repeat_penalty)) ||
        (rc = parse_int(env, "repeat-last-n", cli_llm_args.repeat_last_n, 0, 1L << 20, &last)))
        return rc;
    p->top_k = (int)k;
    p->repeat_last_n = (int)last;
    if (cli_llm_gen_args.seed) {
        uint64_t s;
        if ((rc = cli_parse_u64(env, "seed", cli_llm_gen_args.seed, &s)) != CLI_OK)
            return rc;
        p->seed = s;
    }
    return CLI_OK;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

/* The model (-m) with the thread and context flags read. */
static int open_model(struct cli_env *env, tl_llm_model **m, int *threads, int *ctx)
{
    if (!cli_llm_args.model)
        return cli_usage_error(env, "-m MODEL is required");
    long t = default_threads(), c = 0;
    int rc;
    if ((rc = parse_int(env, "threads", cli_llm_gen_args.threads, 1, 256, &t)) ||
        (rc = parse_int(env, "ctx", cli_llm_args.ctx, 0, 1L << 20, &c)))
        return rc;
    *threads = (int)t;
    *ctx = (int)c;
    tl_llm_load_opts lo = {.tokenizer_path = cli_llm_args.tokenizer, .n_threads = (int)t};
    tl_err err = {0};
    if (tl_llm_model_load(cli_llm_args.model, &lo, m, &err) < 0)
        return cli_fail(env, &err);
    return CLI_OK;
}

static int write_text(const char *text, size_t len, void *ud)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static const char *const stop_names[] = {"max tokens", "end of generation", "stop string",
                                         "context full", "callback"};

static void print_stats(const tl_llm_gen_stats *st)
{
    fprintf(stderr,
            "\nprompt %zu tokens in %.3f s (%.1f tok/s); generated %zu tokens in %.3f s "
            "(%.1f tok/s); stopped: %s\n",
            st->n_prompt, st->prefill_s, st->prefill_s > 0 ? (double)st->n_prompt / st->prefill_s : 0,
            st->n_gen, st->decode_s, st->decode_s > 0 ? (double)st->n_gen / st->decode_s : 0,
            st->stop >= 0 && st->stop <= 4 ? stop_names[st->stop] : "?");
}

static int cmd_run(struct cli_env *env)
{
    tl_llm_model *m = NULL;
    int threads, ctx, rc;
    long n_predict = 256;
    tl_llm_gen_params gp = {0};
    if ((rc = parse_int(env, "n-predict", cli_llm_args.n_predict, -1, 1L << 24, &n_predict)) ||
        (rc = sampler_params(env, &gp.sampler)) || (rc = open_model(env, &m, &threads, &ctx)))
        return rc;
    const tl_tokenizer *tok = tl_llm_model_tokenizer(m);
    tl_err err = {0};
    const char *prompt = cli_llm_args.prompt ? cli_llm_args.prompt : "";
    int32_t *ids = NULL;
    size_t n = 0;
    tl_llm_session *s = NULL;
    if (!tok) {
        tl_err_set(&err, TL_EINVAL, "%s has no tokenizer: give --tokenizer FILE",
                   cli_llm_args.model);
        rc = -1;
    } else {
        rc = tl_tok_encode(tok, prompt, strlen(prompt),
                           tl_tok_default_add_bos(tok) ? TL_TOK_ADD_BOS : 0, &ids, &n, &err);
    }
    if (rc == 0)
        rc = tl_llm_session_new(m, ctx, threads, &s, &err);
    if (rc == 0) {
        gp.max_tokens = (int)n_predict;
        gp.ignore_eog = opt_ignore_eos;
        const char *stops[1] = {cli_llm_args.stop};
        if (cli_llm_args.stop) {
            gp.stop = stops;
            gp.n_stop = 1;
        }
        tl_llm_gen_stats st;
        rc = tl_llm_generate(s, ids, n, &gp, write_text, NULL, &st, &err);
        if (rc == 0) {
            fputc('\n', stdout);
            if (opt_stats)
                print_stats(&st);
        }
    }
    free(ids);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* Reads all of fp into a malloc'd buffer. */
static char *slurp(FILE *fp, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap)
            break;
        char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf)
        *len = n;
    return buf;
}

/* A tokenizer alone: GGUF files (vocabulary-only ones too) or a llama2.c
 * tokenizer .bin. */
static int open_tokenizer(const char *path, tl_tokenizer **tok, tl_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, fp);
    fclose(fp);
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        tl_gguf *g = NULL;
        int rc = tl_gguf_open(path, &g, err);
        if (rc == 0)
            rc = tl_tok_load_gguf(g, tok, err);
        tl_gguf_close(g);
        return rc;
    }
    return tl_tok_load_llama2c(path, tok, err);
}

static int cmd_tokenize(struct cli_env *env)
{
    const char *path = cli_llm_args.tokenizer ? cli_llm_args.tokenizer : cli_llm_args.model;
    if (!path)
        return cli_usage_error(env, "-m MODEL (or --tokenizer FILE) is required");
    tl_err err = {0};
    tl_tokenizer *tok = NULL;
    if (open_tokenizer(path, &tok, &err) < 0)
        return cli_fail(env, &err);
    size_t len = 0;
    char *text = slurp(stdin, &len);
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = text ? 0 : tl_err_set(&err, TL_ENOMEM, "out of memory reading stdin");
    unsigned flags = (opt_bos ? TL_TOK_ADD_BOS : 0) | (opt_special ? TL_TOK_PARSE_SPECIAL : 0);
    if (rc == 0)
        rc = tl_tok_encode(tok, text, len, flags, &ids, &n, &err);
    if (rc == 0) {
        if (env->json) {
            json_t *a = json_array();
            for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_integer(ids[i]));
            cli_print_json(json_pack("{s:o}", "ids", a));
        } else {
            for (size_t i = 0; i < n; i++)
                printf(i ? " %d" : "%d", ids[i]);
            putchar('\n');
        }
    }
    free(ids);
    free(text);
    tl_tok_free(tok);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* ---- chat ------------------------------------------------------------------------ */

struct chat_reply {
    char *text;
    size_t len, cap;
};

static int chat_collect(const char *text, size_t len, void *ud)
{
    struct chat_reply *r = ud;
    if (r->len + len + 1 > r->cap) {
        size_t cap = (r->len + len + 1) * 2;
        char *t = realloc(r->text, cap);
        if (!t)
            return 1;
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, text, len);
    r->len += len;
    r->text[r->len] = '\0';
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* One line of stdin per user turn; the whole conversation is formatted by
 * the template each turn and only the part after what the session already
 * holds is decoded (the KV cache keeps the rest). */
static int cmd_chat(struct cli_env *env)
{
    tl_llm_model *m = NULL;
    int threads, ctx, rc;
    long n_predict = -1;
    tl_llm_gen_params gp = {0};
    if ((rc = parse_int(env, "n-predict", cli_llm_args.n_predict, -1, 1L << 24, &n_predict)) ||
        (rc = sampler_params(env, &gp.sampler)))
        return rc;
    int kind = TL_CHAT_UNKNOWN;
    tl_err err = {0};
    if (cli_llm_args.chat_template && tl_llm_chat_parse(cli_llm_args.chat_template, &kind, &err) < 0)
        return cli_usage_error(env, "--chat-template: %s", err.msg);
    if ((rc = open_model(env, &m, &threads, &ctx)))
        return rc;
    const tl_tokenizer *tok = tl_llm_model_tokenizer(m);
    tl_llm_session *s = NULL;
    if (!tok)
        rc = tl_err_set(&err, TL_EINVAL, "%s has no tokenizer: give --tokenizer FILE",
                        cli_llm_args.model);
    if (rc == 0 && kind == TL_CHAT_UNKNOWN) {
        const char *t = tl_llm_model_chat_template(m);
        kind = tl_llm_chat_detect(t, t ? strlen(t) : 0);
    }
    if (rc == 0)
        rc = tl_llm_session_new(m, ctx, threads, &s, &err);
    tl_llm_chat_msg msgs[256];
    size_t n_msgs = 0;
    if (cli_llm_args.system)
        msgs[n_msgs++] = (tl_llm_chat_msg){"system", strdup(cli_llm_args.system)};
    int32_t *held = NULL; /* the ids the session's KV cache holds */
    size_t n_held = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    bool tty = isatty(STDIN_FILENO);
    const char *const *stops = tl_llm_chat_stops(kind);
    size_t n_stops = 0;
    while (stops[n_stops])
        n_stops++;
    gp.stop = stops;
    gp.n_stop = n_stops;
    gp.max_tokens = (int)n_predict;
    for (;;) {
        if (tty)
            fputs("> ", stderr);
        if (rc != 0 || (got = getline(&line, &line_cap, stdin)) < 0)
            break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0)
            continue;
        if (n_msgs + 2 > sizeof msgs / sizeof msgs[0]) {
            rc = tl_err_set(&err, TL_ETOOBIG, "the conversation holds %zu messages: the most a "
                                              "chat takes", n_msgs);
            break;
        }
        msgs[n_msgs++] = (tl_llm_chat_msg){"user", strdup(line)};
        char *prompt = NULL;
        size_t plen = 0;
        int32_t *ids = NULL;
        size_t n = 0;
        rc = tl_llm_chat_apply(kind, msgs, n_msgs, true, &prompt, &plen, &err);
        if (rc == 0)
            rc = tl_tok_encode(tok, prompt, plen,
                               TL_TOK_PARSE_SPECIAL | (tl_tok_default_add_bos(tok) ? TL_TOK_ADD_BOS : 0),
                               &ids, &n, &err);
        free(prompt);
        /* reuse the cached prefix when the new prompt extends it; else start over */
        size_t same = 0;
        while (rc == 0 && same < n_held && same < n && held[same] == ids[same])
            same++;
        if (rc == 0 && (same < n_held || same == n)) {
            tl_llm_session_reset(s);
            same = 0;
        }
        struct chat_reply reply = {0};
        tl_llm_gen_stats st;
        if (rc == 0) {
            rc = tl_llm_generate(s, ids + same, n - same, &gp, chat_collect, &reply, &st, &err);
            fputc('\n', stdout);
            fflush(stdout);
        }
        free(held);
        held = ids;
        n_held = n;
        /* what the session holds past the prompt is the reply: the next turn's
         * template re-renders it, so the match above ends at the prompt */
        if (rc == 0)
            msgs[n_msgs++] = (tl_llm_chat_msg){"assistant", reply.text ? reply.text : strdup("")};
        else
            free(reply.text);
    }
    free(line);
    free(held);
    for (size_t i = 0; i < n_msgs; i++)
        free((char *)msgs[i].content);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* ---- bench ----------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* llama-bench's two tests: pp (one batch of P prompt tokens into an empty
 * cache) and tg (N single-token decodes into an empty cache), each repeated,
 * the median time kept. Token ids are fixed pseudo-random ones: weights are
 * read the same whatever the ids. */
static int cmd_bench(struct cli_env *env)
{
    tl_llm_model *m = NULL;
    int threads, ctx, rc;
    long pp = 512, tg = 128, reps = 3;
    if ((rc = parse_int(env, "prompt", cli_llm_args.prompt, 0, 1L << 20, &pp)) ||
        (rc = parse_int(env, "n-predict", cli_llm_args.n_predict, 0, 1L << 20, &tg)) ||
        (rc = parse_int(env, "reps", cli_llm_args.reps, 1, 1000, &reps)) ||
        (rc = open_model(env, &m, &threads, &ctx)))
        return rc;
    tl_err err = {0};
    tl_llm_session *s = NULL;
    int need = (int)(pp > tg ? pp : tg);
    rc = tl_llm_session_new(m, ctx > need ? ctx : need, threads, &s, &err);
    int32_t *ids = malloc((size_t)(need ? need : 1) * sizeof *ids);
    double *t_pp = calloc((size_t)reps, sizeof *t_pp), *t_tg = calloc((size_t)reps, sizeof *t_tg);
    if (rc == 0 && (!ids || !t_pp || !t_tg))
        rc = tl_err_set(&err, TL_ENOMEM, "out of memory");
    uint64_t x = 88172645463325252ULL;
    for (long i = 0; rc == 0 && i < need; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ids[i] = (int32_t)(x % (uint64_t)tl_llm_model_n_vocab(m));
    }
    /* one warm-up pass of each, untimed: page faults of the mapping */
    for (long r = -1; rc == 0 && r < reps; r++) {
        if (pp > 0) {
            tl_llm_session_reset(s);
            double t0 = now_s();
            rc = tl_llm_decode(s, ids, (size_t)pp, NULL, &err);
            if (r >= 0)
                t_pp[r] = now_s() - t0;
        }
        if (rc == 0 && tg > 0) {
            tl_llm_session_reset(s);
            double t0 = now_s();
            for (long i = 0; rc == 0 && i < tg; i++)
                rc = tl_llm_decode(s, ids + i, 1, NULL, &err);
            if (r >= 0)
                t_tg[r] = now_s() - t0;
        }
    }
    if (rc == 0) {
        qsort(t_pp, (size_t)reps, sizeof *t_pp, cmp_double);
        qsort(t_tg, (size_t)reps, sizeof *t_tg, cmp_double);
        double pp_s = t_pp[reps / 2], tg_s = t_tg[reps / 2];
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss_mb = (double)ru.ru_maxrss / 1024.0;
        double pps = pp && pp_s > 0 ? (double)pp / pp_s : 0, tgs = tg && tg_s > 0 ? (double)tg / tg_s : 0;
        uint64_t wb = tl_llm_model_weight_bytes(m);
        if (env->json) {
            cli_print_json(json_pack("{s:s,s:s,s:i,s:i,s:i,s:f,s:f,s:f,s:I,s:I}", "model",
                                     cli_llm_args.model, "desc", tl_llm_model_desc(m), "threads",
                                     threads, "pp", (int)pp, "tg", (int)tg, "pp_tok_s", pps,
                                     "tg_tok_s", tgs, "peak_rss_mb", rss_mb, "weight_bytes",
                                     (json_int_t)wb, "n_params",
                                     (json_int_t)tl_llm_model_n_params(m)));
        } else {
            printf("model    %s\n         %s\n", cli_llm_args.model, tl_llm_model_desc(m));
            printf("threads  %d\n", threads);
            if (pp)
                printf("pp%-5ld  %10.2f tok/s   (median of %ld)\n", pp, pps, reps);
            if (tg)
                printf("tg%-5ld  %10.2f tok/s   (median of %ld; %.2f GB/s of weights)\n", tg, tgs,
                       reps, (double)wb * tgs / 1e9);
            printf("peak RSS %8.1f MB\n", rss_mb);
        }
    }
    free(ids);
    free(t_pp);
    free(t_tg);
    tl_llm_session_free(s);
    tl_llm_model_free(m);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

int cli_cmd_llm(struct cli_env *env)
{
    const char *sub = env->args[0];
    if (strcmp(sub, "gen-random") == 0)
        return cli_llm_gen_random(env); /* reads -o itself, after its name */
    env->args++;
    env->n_args--;
    int rc = short_opts(env);
    if (rc != CLI_OK)
        return rc;
    if (env->n_args)
        return cli_usage_error(env, "unexpected argument \"%s\"", env->args[0]);
    if (strcmp(sub, "run") == 0)
        return cmd_run(env);
    if (strcmp(sub, "tokenize") == 0)
        return cmd_tokenize(env);
    if (strcmp(sub, "chat") == 0)
        return cmd_chat(env);
    if (strcmp(sub, "bench") == 0)
        return cmd_bench(env);
    return cli_usage_error(env, "unknown subcommand \"%s\" (run, tokenize, chat, bench, gen-random)",
                           sub);
}
