/*
 * serve.c - `teller serve`: the HTTP/JSON server (src/server) in the
 * foreground until SIGTERM or SIGINT. `--print-routes` prints the route
 * table instead (with --json, what the authorization matrix and OpenAPI
 * tests read).
 */
#include "cli.h"

#include "server/server.h"

#include <string.h>

static const char *listen_opt;
static bool print_routes;

const struct cli_opt cli_serve_opts[] = {
    {"listen", true, &listen_opt, NULL, "--listen HOST:PORT  address to bind (server.listen; port 0 picks one)"},
    {"print-routes", false, NULL, &print_routes, "--print-routes     print the route table and exit"},
    {0},
};

static void announce(void *ud, const char *addr)
{
    const struct cli_env *env = ud;
    if (env->json)
        printf("{\"listening\":\"%s\"}\n", addr);
    else
        printf("teller: listening on http://%s\n", addr);
    fflush(stdout);
}

static int print_table(const struct cli_env *env)
{
    json_t *routes = srv_routes_json();
    if (env->json) {
        cli_print_json(routes);
        return CLI_OK;
    }
    size_t i;
    json_t *rt;
    json_array_foreach(routes, i, rt) {
        char roles[64] = "";
        size_t j;
        json_t *role;
        json_array_foreach(json_object_get(rt, "roles"), j, role) {
            size_t o = strlen(roles);
            snprintf(roles + o, sizeof roles - o, "%s%s", o ? "," : "", json_string_value(role));
        }
        printf("%-6s %-34s %-26s %s\n", json_string_value(json_object_get(rt, "method")),
               json_string_value(json_object_get(rt, "path")), roles[0] ? roles : "(public)",
               json_string_value(json_object_get(rt, "summary")));
    }
    json_decref(routes);
    return CLI_OK;
}

int cli_cmd_serve(struct cli_env *env)
{
    if (print_routes)
        return print_table(env);
    tl_err err = {0};
    if (listen_opt && tl_config_set(env->cfg, "server.listen", listen_opt, TL_CONFIG_FLAG, &err) < 0)
        return cli_fail(env, &err);
    /* A server's access log is part of its job: info unless configured */
    if (tl_config_source_of(env->cfg, "log.level") == TL_CONFIG_DEFAULT)
        tl_log_set_level(TL_LOG_INFO);
    if (srv_run(env->cfg, announce, env, &err) < 0)
        return cli_fail(env, &err);
    return CLI_OK;
}
