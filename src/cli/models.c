/*
 * teller models: the model registry from the command line. list, show,
 * promote, retire and card read and change the registry (registry.h);
 * export and import move one model between stores as a JSON envelope
 *
 *     {"teller_model":1, "id", "task", "algo", "metadata", "checksum",
 *      "artifact_base64"}
 *
 * ("id" is informational: an import always becomes a new challenger version
 * of its task). Import checks the envelope's checksum before it touches the
 * store, so a truncated or altered file fails naming the file and leaves the
 * store exactly as it was.
 */
#include "cli.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *opt_task, *opt_format, *opt_out;

const struct cli_opt cli_models_opts[] = {
    {"task", true, &opt_task, NULL, "--task T           list: only the models of task T (credit, fraud, ...)"},
    {"format", true, &opt_format, NULL, "--format md|json   card: Markdown (default) or JSON"},
    {"out", true, &opt_out, NULL, "--out FILE         export: the file to write (required; - for stdout)"},
    {0},
};

#define ENVELOPE_VERSION 1
/* base64 of the largest artifact (256 MiB) plus 1 MiB of metadata, and room */
#define ENVELOPE_MAX ((off_t)400 << 20)

/* ------------------------------------------------------------------ list */

static int models_list(struct cli_env *env, tl_ctx *ctx)
{
    struct tl_model_info *v = NULL;
    size_t n = 0;
    tl_err err = {0};
    if (tl_registry_list(ctx, opt_task, &v, &n, &err) < 0)
        return cli_fail(env, &err);
    if (env->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, tl_model_info_json(&v[i]));
        cli_print_json(arr);
    } else {
        printf("%-24s  %-12s  %7s  %-16s  %-10s  %-20s  %s\n", "ID", "TASK", "VERSION", "ALGO",
               "STATUS", "CREATED", "BYTES");
        for (size_t i = 0; i < n; i++) {
            char created[32];
            if (tl_time_format(v[i].created_ms - v[i].created_ms % 1000, created, sizeof created) < 0)
                snprintf(created, sizeof created, "-");
            printf("%-24s  %-12s  %7d  %-16s  %-10s  %-20s  %zu\n", v[i].id, v[i].task, v[i].version,
                   v[i].algo, v[i].status, created, v[i].artifact_len);
        }
    }
    tl_registry_list_free(v, n);
    return CLI_OK;
}

/* ------------------------------------------------------------------ show */

static void print_object(const char *title, const json_t *o)
{
    if (!json_is_object(o) || json_object_size(o) == 0)
        return;
    printf("%s:\n", title);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (json_is_real(v)) {
            printf("  %-24s %.6g\n", k, json_real_value(v));
            continue;
        }
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("  %-24s %s\n", k, text ? text : json_string_value(v));
        free(text);
    }
}

static int models_show(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    struct tl_model_info m;
    tl_err err = {0};
    if (tl_registry_get(ctx, id, &m, &err) < 0)
        return cli_fail(env, &err);
    if (env->json) {
        cli_print_json(tl_model_info_json(&m));
        tl_model_info_clear(&m);
        return CLI_OK;
    }
    char created[32];
    if (tl_time_format(m.created_ms, created, sizeof created) < 0)
        snprintf(created, sizeof created, "-");
    printf("id        %s\ntask      %s\nversion   %d\nalgo      %s\nstatus    %s\n", m.id, m.task,
           m.version, m.algo, m.status);
    printf("created   %s\nchecksum  %s (SHA-256)\nartifact  %zu bytes\n", created, m.checksum,
           m.artifact_len);
    print_object("metrics", json_object_get(m.metadata, "metrics"));
    print_object("hyperparameters", json_object_get(m.metadata, "hyperparameters"));
    print_object("data", json_object_get(m.metadata, "data"));
    /* the rest, including the card, as the JSON it is */
    json_t *rest = json_deep_copy(m.metadata);
    json_object_del(rest, "metrics");
    json_object_del(rest, "hyperparameters");
    json_object_del(rest, "data");
    if (json_object_size(rest) > 0) {
        char *text = json_dumps(rest, JSON_INDENT(2));
        printf("metadata  %s\n", text ? text : "?");
        free(text);
    }
    json_decref(rest);
    tl_model_info_clear(&m);
    return CLI_OK;
}

/* ------------------------------------------------------ promote, retire */

static int models_promote(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    tl_err err = {0};
    struct tl_model_info m, before;
    if (tl_registry_get(ctx, id, &m, &err) < 0)
        return cli_fail(env, &err);
    /* only for the message: the registry swaps champions atomically */
    bool had = tl_registry_champion(ctx, m.task, &before, &err) == 0;
    int rc = tl_registry_promote(ctx, id, "cli", &err);
    if (rc == 0) {
        bool same = had && strcmp(before.id, id) == 0;
        if (env->json) {
            json_t *o = json_pack("{s:s,s:s,s:s}", "id", id, "task", m.task, "status", "champion");
            json_object_set_new(o, "retired", had && !same ? json_string(before.id) : json_null());
            cli_print_json(o);
        } else if (same) {
            printf("%s is already the champion of %s\n", id, m.task);
        } else {
            printf("promoted %s to champion of %s", id, m.task);
            if (had)
                printf(" (%s retired)", before.id);
            printf("\n");
        }
    }
    if (had)
        tl_model_info_clear(&before);
    tl_model_info_clear(&m);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

static int models_retire(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    tl_err err = {0};
    if (tl_registry_retire(ctx, id, "cli", &err) < 0)
        return cli_fail(env, &err);
    if (env->json)
        cli_print_json(json_pack("{s:s,s:s}", "id", id, "status", "retired"));
    else
        printf("retired %s\n", id);
    return CLI_OK;
}

/* ------------------------------------------------------------------ card */

static int models_card(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    bool json = env->json || (opt_format && strcmp(opt_format, "json") == 0);
    struct tl_model_info m;
    tl_err err = {0};
    if (tl_registry_get(ctx, id, &m, &err) < 0)
        return cli_fail(env, &err);
    int rc = CLI_OK;
    if (json) {
        json_t *o = tl_model_info_json(&m);
        json_t *card = json_object_get(m.metadata, "card");
        json_object_set(o, "card", json_is_object(card) ? card : json_null());
        json_object_del(json_object_get(o, "metadata"), "card");
        cli_print_json(o);
    } else {
        char *md = NULL;
        if (tl_registry_card_markdown(&m, &md, &err) < 0)
            rc = cli_fail(env, &err);
        else
            fputs(md, stdout);
        free(md);
    }
    tl_model_info_clear(&m);
    return rc;
}

/* ---------------------------------------------------------------- export */

static int write_all(FILE *fp, const char *s, size_t n)
{
    return fwrite(s, 1, n, fp) == n ? 0 : -1;
}

static int models_export(struct cli_env *env, tl_ctx *ctx, const char *id)
{
    struct tl_model_info m;
    tl_err err = {0};
    if (tl_registry_get(ctx, id, &m, &err) < 0)
        return cli_fail(env, &err);
    char *bytes = NULL;
    size_t len = 0;
    /* the artifact is checked here too: an export never carries bad bytes */
    if (tl_registry_artifact(ctx, id, &bytes, &len, &err) < 0) {
        tl_model_info_clear(&m);
        return cli_fail(env, &err);
    }
    size_t b64_size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_size);
    json_t *env_json = NULL;
    char *text = NULL;
    if (b64) {
        sodium_bin2base64(b64, b64_size, (const unsigned char *)bytes, len,
                          sodium_base64_VARIANT_ORIGINAL);
        env_json = json_pack("{s:i,s:s,s:s,s:s,s:O,s:s,s:s}", "teller_model", ENVELOPE_VERSION, "id",
                             m.id, "task", m.task, "algo", m.algo, "metadata", m.metadata,
                             "checksum", m.checksum, "artifact_base64", b64);
        text = env_json ? json_dumps(env_json, JSON_COMPACT) : NULL;
    }
    free(bytes);
    free(b64);
    json_decref(env_json);
    if (!text) {
        tl_model_info_clear(&m);
        tl_err_set(&err, TL_ENOMEM, "export %s: out of memory", id);
        return cli_fail(env, &err);
    }

    /* Written beside the target and renamed into place: a failed export
     * never leaves half a model file where a whole one is expected. */
    bool to_stdout = strcmp(opt_out, "-") == 0;
    size_t tmp_size = strlen(opt_out) + 16;
    char *tmp = malloc(tmp_size);
    int rc = tmp ? 0 : -1;
    FILE *fp = stdout;
    if (tmp && !to_stdout) {
        snprintf(tmp, tmp_size, "%s.tmp%ld", opt_out, (long)getpid());
        fp = fopen(tmp, "wb");
    }
    if (!fp || rc < 0)
        rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", opt_out, strerror(errno));
    if (rc == 0 && (write_all(fp, text, strlen(text)) < 0 || write_all(fp, "\n", 1) < 0))
        rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", opt_out, strerror(errno));
    if (fp && !to_stdout) {
        if (fclose(fp) != 0 && rc == 0)
            rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", opt_out, strerror(errno));
        if (rc == 0 && rename(tmp, opt_out) != 0)
            rc = tl_err_set(&err, TL_EIO, "cannot write %s: %s", opt_out, strerror(errno));
        if (rc < 0)
            unlink(tmp);
    }
    free(tmp);
    free(text);
    if (rc == 0 && !to_stdout) {
        if (env->json)
            cli_print_json(json_pack("{s:s,s:s,s:s,s:I}", "id", m.id, "file", opt_out, "checksum",
                                     m.checksum, "artifact_bytes", (json_int_t)len));
        else
            printf("exported %s to %s (%zu bytes, SHA-256 %s)\n", m.id, opt_out, len, m.checksum);
    }
    tl_model_info_clear(&m);
    return rc < 0 ? cli_fail(env, &err) : CLI_OK;
}

/* ---------------------------------------------------------------- import */

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Reads and checks the envelope at path: every fault names the file. On
 * success *bytes (malloc'd) holds the artifact whose SHA-256 is the file's
 * checksum, and *doc the envelope. */
static int read_envelope(const char *path, json_t **doc, unsigned char **bytes, size_t *len,
                         tl_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, "cannot open %s: %s", path,
                          strerror(errno));
    if (sb.st_size > ENVELOPE_MAX)
        return tl_err_set(err, TL_ETOOBIG, "%s: %lld bytes, larger than any model file can be",
                          path, (long long)sb.st_size);
    json_t *d = tl_json_load_file(path, err);
    if (!d)
        return tl_err_prefix(err, "%s is not a teller model file (truncated or not JSON)", path);
    const char *why = NULL;
    json_t *ver = json_object_get(d, "teller_model");
    const char *task = json_string_value(json_object_get(d, "task"));
    const char *algo = json_string_value(json_object_get(d, "algo"));
    const char *sum = json_string_value(json_object_get(d, "checksum"));
    json_t *meta = json_object_get(d, "metadata");
    json_t *b64 = json_object_get(d, "artifact_base64");
    if (!json_is_object(d))
        why = "it is not a JSON object";
    else if (!json_is_integer(ver))
        why = "it has no \"teller_model\" version";
    else if (json_integer_value(ver) != ENVELOPE_VERSION)
        why = "its \"teller_model\" version is not 1, the one this teller reads";
    else if (!task || !algo)
        why = "\"task\" or \"algo\" is missing or not a string";
    else if (meta && !json_is_object(meta) && !json_is_null(meta))
        why = "\"metadata\" is not an object";
    else if (!is_hex64(sum))
        why = "\"checksum\" is not 64 lower-case hex digits (a SHA-256)";
    else if (!json_is_string(b64) || json_string_length(b64) == 0)
        why = "\"artifact_base64\" is missing or empty";
    if (why) {
        json_decref(d);
        return tl_err_set(err, TL_EINVAL, "%s is not a valid teller model file: %s", path, why);
    }
    size_t b64_len = json_string_length(b64);
    size_t cap = b64_len / 4 * 3 + 3;
    unsigned char *bin = malloc(cap + 1);
    if (!bin) {
        json_decref(d);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
    }
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(bin, cap, json_string_value(b64), b64_len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != json_string_value(b64) + b64_len) {
        free(bin);
        json_decref(d);
        return tl_err_set(err, TL_ECRYPTO,
                          "%s: \"artifact_base64\" is not valid base64: the file was altered or "
                          "truncated",
                          path);
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(digest, bin, n);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if (strcmp(hex, sum) != 0) {
        tl_err_set(err, TL_ECRYPTO,
                   "%s: artifact checksum mismatch (the file says %.12s..., its artifact hashes to "
                   "%.12s...): the file was altered or truncated",
                   path, sum, hex);
        free(bin);
        json_decref(d);
        return TL_ECRYPTO;
    }
    *doc = d;
    *bytes = bin;
    *len = n;
    return 0;
}

static int models_import(struct cli_env *env, tl_ctx *ctx, const char *path)
{
    tl_err err = {0};
    json_t *doc = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (sodium_init() < 0) {
        tl_err_set(&err, TL_EINTERNAL, "libsodium failed to initialise");
        return cli_fail(env, &err);
    }
    if (read_envelope(path, &doc, &bytes, &len, &err) < 0)
        return cli_fail(env, &err);
    json_t *meta = json_object_get(doc, "metadata");
    struct tl_model_new m = {.task = json_string_value(json_object_get(doc, "task")),
                             .algo = json_string_value(json_object_get(doc, "algo")),
                             .artifact = bytes,
                             .artifact_len = len,
                             .metadata = json_is_object(meta) ? meta : NULL,
                             .actor = "cli"};
    struct tl_model_info info;
    int rc = tl_registry_add(ctx, &m, &info, &err);
    free(bytes);
    json_decref(doc);
    if (rc < 0) {
        tl_err_prefix(&err, "import %s", path);
        return cli_fail(env, &err);
    }
    if (env->json) {
        json_t *o = tl_model_info_json(&info);
        json_object_set_new(o, "file", json_string(path));
        cli_print_json(o);
    } else {
        printf("imported %s as %s (challenger; promote it with: teller models promote %s)\n", path,
               info.id, info.id);
    }
    tl_model_info_clear(&info);
    return CLI_OK;
}

/* ------------------------------------------------------------- dispatch */

int cli_cmd_models(struct cli_env *env)
{
    const char *sub = env->args[0];
    static const struct {
        const char *name;
        bool takes_arg;
        const char *arg; /* what the argument is, for the usage error */
    } SUBS[] = {
        {"list", false, NULL},    {"show", true, "ID"},   {"promote", true, "ID"},
        {"retire", true, "ID"},   {"card", true, "ID"},   {"export", true, "ID"},
        {"import", true, "FILE"},
    };
    size_t k = 0;
    while (k < sizeof SUBS / sizeof SUBS[0] && strcmp(SUBS[k].name, sub) != 0)
        k++;
    if (k == sizeof SUBS / sizeof SUBS[0])
        return cli_usage_error(env,
                               "unknown subcommand \"%s\" (list, show, promote, retire, card, export, "
                               "import)",
                               sub);
    if (SUBS[k].takes_arg && env->n_args != 2)
        return cli_usage_error(env, "%s needs one %s: teller models %s %s", sub, SUBS[k].arg, sub,
                               SUBS[k].arg);
    if (!SUBS[k].takes_arg && env->n_args != 1)
        return cli_usage_error(env, "%s takes no argument", sub);
    if (opt_task && strcmp(sub, "list") != 0)
        return cli_usage_error(env, "--task goes only with list");
    if (opt_format && strcmp(sub, "card") != 0)
        return cli_usage_error(env, "--format goes only with card");
    if (opt_format && strcmp(opt_format, "md") != 0 && strcmp(opt_format, "json") != 0)
        return cli_usage_error(env, "--format expects md or json, got \"%s\"", opt_format);
    if (opt_out && strcmp(sub, "export") != 0)
        return cli_usage_error(env, "--out goes only with export");
    if (!opt_out && strcmp(sub, "export") == 0)
        return cli_usage_error(env, "export needs --out FILE");

    tl_ctx *ctx;
    int rc = cli_open_ctx(env, &ctx);
    if (rc != CLI_OK)
        return rc;
    const char *arg = env->n_args > 1 ? env->args[1] : NULL;
    switch (k) {
    case 0: rc = models_list(env, ctx); break;
    case 1: rc = models_show(env, ctx, arg); break;
    case 2: rc = models_promote(env, ctx, arg); break;
    case 3: rc = models_retire(env, ctx, arg); break;
    case 4: rc = models_card(env, ctx, arg); break;
    case 5: rc = models_export(env, ctx, arg); break;
    default: rc = models_import(env, ctx, arg); break;
    }
    tl_ctx_close(ctx);
    return rc;
}
