/* test_core_config.c - defaults < file < environment < flag, in any order. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/config.h>

#include "testutil.h"

static char *write_ini(const char *text)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "teller.ini", text);
    free(dir);
    return path;
}

Test(config, defaults)
{
    tl_config *c = tl_config_new();
    cr_assert(c);
    cr_assert_str_eq(tl_config_get(c, "store.url"), "sqlite:teller.db");
    cr_assert_str_eq(tl_config_get(c, "log.level"), "warn");
    cr_assert_str_eq(tl_config_get(c, "server.listen"), "127.0.0.1:8080");
    cr_assert_str_eq(tl_config_get(c, "server.threads"), "0");
    cr_assert_str_eq(tl_config_get(c, "data.key_file"), "teller.key");
    cr_assert_str_eq(tl_config_get(c, "llm.backend"), "none");
    cr_assert_eq(tl_config_source_of(c, "store.url"), TL_CONFIG_DEFAULT);
    cr_assert_null(tl_config_get(c, "no.such"));
    cr_assert_eq(tl_config_source_of(c, "no.such"), -1);
    size_t n = tl_config_count(c);
    cr_assert_geq(n, 6);
    for (size_t i = 0; i < n; i++)
        cr_assert(tl_config_get(c, tl_config_key_at(c, i)), "every listed key has a value");
    cr_assert_null(tl_config_key_at(c, n));
    tl_config_free(c);
}

Test(config, file_sections_map_to_dotted_keys)
{
    char *path = write_ini("; comment\n# another\n[store]\nurl = sqlite:file.db\n\n[log]\nlevel=info\n"
                           "[server]\nthreads = 4 ; inline comment\n");
    tl_config *c = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_load_file(c, path, &err), 0, "%s", err.msg);
    cr_assert_str_eq(tl_config_get(c, "store.url"), "sqlite:file.db");
    cr_assert_str_eq(tl_config_get(c, "log.level"), "info");
    cr_assert_eq(tl_config_source_of(c, "store.url"), TL_CONFIG_FILE);
    cr_assert_eq(tl_config_source_of(c, "server.listen"), TL_CONFIG_DEFAULT);
    int64_t t = 0;
    cr_assert_eq(tl_config_get_int(c, "server.threads", &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t, 4);
    tl_config_free(c);
    unlink(path);
    free(path);
}

static char *const ENV[] = {"PATH=/bin", "TELLER_STORE_URL=sqlite:env.db", "TELLER_CONFIG=/x.ini",
                            "TELLER_SHARED=/s", "TELLER_DATA_KEY_FILE=/k", NULL};

/* Applies file (f), env (e) and flag (g) in the order given by `order`. */
static tl_config *load_in_order(const char *order, const char *path)
{
    tl_config *c = tl_config_new();
    tl_err err = {0};
    for (const char *o = order; *o; o++) {
        int rc = 0;
        if (*o == 'f')
            rc = tl_config_load_file(c, path, &err);
        else if (*o == 'e')
            rc = tl_config_load_env(c, ENV, &err);
        else
            rc = tl_config_set(c, "store.url", "sqlite:flag.db", TL_CONFIG_FLAG, &err);
        cr_assert_eq(rc, 0, "%c: %s", *o, err.msg);
    }
    return c;
}

Test(config, precedence_in_any_order)
{
    char *path = write_ini("[store]\nurl = sqlite:file.db\n[log]\nlevel = debug\n[data]\nkey_file = /f\n");
    const char *orders[] = {"feg", "fge", "efg", "egf", "gfe", "gef", "fegfeg"};
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        const char *order = orders[i];
        tl_config *c = load_in_order(order, path);
        cr_assert_str_eq(tl_config_get(c, "store.url"), "sqlite:flag.db", "order %s", order);
        cr_assert_eq(tl_config_source_of(c, "store.url"), TL_CONFIG_FLAG);
        cr_assert_str_eq(tl_config_get(c, "data.key_file"), "/k", "env beats file (%s)", order);
        cr_assert_eq(tl_config_source_of(c, "data.key_file"), TL_CONFIG_ENV);
        cr_assert_str_eq(tl_config_get(c, "log.level"), "debug", "file beats default");
        cr_assert_eq(tl_config_source_of(c, "log.level"), TL_CONFIG_FILE);
        tl_config_free(c);
    }
    /* file then env, no flag */
    tl_config *c = load_in_order("ef", path);
    cr_assert_str_eq(tl_config_get(c, "store.url"), "sqlite:env.db");
    tl_config_free(c);
    c = load_in_order("f", path);
    cr_assert_str_eq(tl_config_get(c, "store.url"), "sqlite:file.db");
    tl_config_free(c);
    unlink(path);
    free(path);
}

Test(config, lower_source_never_overrides)
{
    tl_config *c = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_set(c, "log.level", "error", TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_config_set(c, "log.level", "debug", TL_CONFIG_ENV, &err), 0);
    cr_assert_eq(tl_config_set(c, "log.level", "info", TL_CONFIG_DEFAULT, &err), 0);
    cr_assert_str_eq(tl_config_get(c, "log.level"), "error");
    cr_assert_eq(tl_config_set(c, "log.level", "off", TL_CONFIG_FLAG, &err), 0);
    cr_assert_str_eq(tl_config_get(c, "log.level"), "off", "same source: the later wins");
    tl_config_free(c);
}

Test(config, unknown_key_in_file_names_path_line_and_key)
{
    char *path = write_ini("[store]\nurl = sqlite:x.db\n\n[stor]\nulr = y\n");
    tl_config *c = tl_config_new();
    tl_err err = {0};
    int rc = tl_config_load_file(c, path, &err);
    cr_assert_lt(rc, 0);
    char want[600];
    snprintf(want, sizeof want, "%s:5: unknown configuration key \"stor.ulr\"", path);
    cr_assert_str_eq(err.msg, want);
    cr_assert_str_eq(tl_config_get(c, "store.url"), "sqlite:teller.db",
                     "a file with an error applies nothing");
    tl_config_free(c);
    unlink(path);
    free(path);
}

Test(config, key_outside_a_section)
{
    char *path = write_ini("url = x\n");
    tl_config *c = tl_config_new();
    tl_err err = {0};
    cr_assert_lt(tl_config_load_file(c, path, &err), 0);
    cr_assert(strstr(err.msg, ":1: unknown configuration key \"url\""), "%s", err.msg);
    tl_config_free(c);
    unlink(path);
    free(path);
}

Test(config, syntax_error_names_line)
{
    char *path = write_ini("[store]\nurl = a\nthis line has no equals sign\n");
    tl_config *c = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_load_file(c, path, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, ":3: syntax error"), "%s", err.msg);
    tl_config_free(c);
    unlink(path);
    free(path);
    /* the earlier of a syntax error and an unknown key is reported */
    path = write_ini("[store]\nbroken\nnope = 1\n");
    c = tl_config_new();
    cr_assert_eq(tl_config_load_file(c, path, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, ":2: syntax error"), "%s", err.msg);
    tl_config_free(c);
    unlink(path);
    free(path);
}

Test(config, bad_integer_in_file_env_and_flag)
{
    char *path = write_ini("[server]\n\nthreads = many\n");
    tl_config *c = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_load_file(c, path, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, ":3: server.threads = \"many\" is not an integer"), "%s", err.msg);
    char *const env[] = {"TELLER_SERVER_THREADS=4x", NULL};
    cr_assert_eq(tl_config_load_env(c, env, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "TELLER_SERVER_THREADS: server.threads = \"4x\""), "%s", err.msg);
    cr_assert_eq(tl_config_set(c, "server.threads", "", TL_CONFIG_FLAG, &err), TL_EINVAL);
    cr_assert_eq(tl_config_set(c, "server.threads", "8", TL_CONFIG_FLAG, &err), 0);
    int64_t v;
    cr_assert_eq(tl_config_get_int(c, "server.threads", &v, &err), 0);
    cr_assert_eq(v, 8);
    cr_assert_eq(tl_config_get_int(c, "store.url", &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "store.url"), "%s", err.msg);
    tl_config_free(c);
    unlink(path);
    free(path);
}

Test(config, unknown_key_set_and_missing_file)
{
    tl_config *c = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_set(c, "store.ulr", "x", TL_CONFIG_FLAG, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "\"store.ulr\""), "%s", err.msg);
    cr_assert_eq(tl_config_load_file(c, "/nonexistent/teller.ini", &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "/nonexistent/teller.ini"), "%s", err.msg);
    tl_config_free(c);
}

Test(config, process_environment)
{
    setenv("TELLER_LLM_BACKEND", "http://llm.internal:8000/v1", 1);
    tl_config *c = tl_config_new();
    cr_assert_eq(tl_config_load_env(c, NULL, NULL), 0);
    cr_assert_str_eq(tl_config_get(c, "llm.backend"), "http://llm.internal:8000/v1");
    cr_assert_eq(tl_config_source_of(c, "llm.backend"), TL_CONFIG_ENV);
    tl_config_free(c);
    unsetenv("TELLER_LLM_BACKEND");
}

Test(config, long_lines)
{
    char text[1000];
    char val[600];
    memset(val, 'a', sizeof val - 1);
    val[sizeof val - 1] = 0;
    snprintf(text, sizeof text, "[store]\nurl = %s\n", val);
    char *path = write_ini(text);
    tl_config *c = tl_config_new();
    tl_err err = {0};
    int rc = tl_config_load_file(c, path, &err);
    cr_assert_eq(rc, TL_ETOOBIG, "a line inih would cut must not pass silently: %s", err.msg);
    cr_assert(strstr(err.msg, ":2: line is longer than"), "%s", err.msg);
    tl_config_free(c);
    unlink(path);
    free(path);
}
