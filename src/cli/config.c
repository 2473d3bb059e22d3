/* teller config: the effective configuration and each value's source. */
#include "cli.h"

static const char *const SOURCES[] = {"default", "file", "env", "flag"};

int cli_cmd_config(struct cli_env *env)
{
    size_t n = tl_config_count(env->cfg);
    json_t *out = env->json ? json_object() : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = tl_config_key_at(env->cfg, i);
        const char *val = tl_config_get(env->cfg, key);
        int src = tl_config_source_of(env->cfg, key);
        const char *src_name = src >= 0 && src < 4 ? SOURCES[src] : "?";
        if (out)
            json_object_set_new(out, key,
                                json_pack("{s:s,s:s}", "value", val ? val : "", "source", src_name));
        else
            printf("%-20s = %-30s (%s)\n", key, val ? val : "", src_name);
    }
    if (out)
        cli_print_json(out);
    return CLI_OK;
}
