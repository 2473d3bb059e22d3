/* config.c - known keys with defaults; file < environment < flag, whatever
 * the order of the loads. */
#include <teller/config.h>

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

extern char **environ;

enum key_type { KEY_STRING, KEY_INT };

/* Every known key (docs/configuration.md lists the same table). */
static const struct key_def {
    const char *key;
    const char *def;
    enum key_type type;
} KEYS[] = {
    {"store.url", "sqlite:teller.db", KEY_STRING},
    {"log.level", "warn", KEY_STRING},
    {"server.listen", "127.0.0.1:8080", KEY_STRING},
    {"server.threads", "0", KEY_INT},
    {"server.max_body_bytes", "16777216", KEY_INT},
    {"server.timeout_s", "30", KEY_INT},
    {"server.rate_limit", "50", KEY_INT},
    {"server.rate_burst", "100", KEY_INT},
    {"data.key_file", "teller.key", KEY_STRING},
    {"auth.jwt_keys", "", KEY_STRING},
    {"auth.jwt_issuer", "", KEY_STRING},
    {"auth.jwt_audience", "", KEY_STRING},
    {"auth.jwt_role_claim", "role", KEY_STRING},
    {"auth.jwt_customer_claim", "customer_id", KEY_STRING},
    {"llm.backend", "none", KEY_STRING},
    {"llm.model", "", KEY_STRING},
    {"llm.tokenizer", "", KEY_STRING},
    {"llm.chat_template", "", KEY_STRING},
    {"llm.threads", "0", KEY_INT},
    {"llm.ctx", "0", KEY_INT},
    {"llm.sessions", "1", KEY_INT},
    {"llm.max_tokens", "256", KEY_INT},
    {"llm.remote_url", "", KEY_STRING},
    {"llm.remote_model", "", KEY_STRING},
    {"llm.remote_key_file", "", KEY_STRING},
    {"llm.timeout_ms", "120000", KEY_INT},
    {"recommend.cap_shown", "3", KEY_INT},
    {"recommend.cap_days", "30", KEY_INT},
    {"recommend.dismiss_days", "90", KEY_INT},
    {"recommend.mmr_lambda", "0.7", KEY_STRING},
    {"credit.base_points", "600", KEY_STRING},
    {"credit.base_odds", "50", KEY_STRING},
    {"credit.pdo", "20", KEY_STRING},
    {"credit.decide_on", "pd", KEY_STRING},
    {"credit.approve_max_pd", "0.15", KEY_STRING},
    {"credit.decline_min_pd", "0.40", KEY_STRING},
    {"credit.approve_min_score", "540", KEY_STRING},
    {"credit.decline_max_score", "500", KEY_STRING},
    {"credit.calibration", "platt", KEY_STRING},
    {"credit.reasons_file", "", KEY_STRING},
    {"credit.reasons", "shap", KEY_STRING},
    {"fraud.rules_file", "", KEY_STRING},
    {"fraud.reasons", "shap", KEY_STRING},
    {"fraud.review_threshold", "", KEY_STRING},
    {"fraud.block_threshold", "", KEY_STRING},
    {"fraud.analyst_capacity", "100", KEY_INT},
    {"fraud.state_file", "", KEY_STRING},
    {"advice.questionnaire_file", "", KEY_STRING},
    {"advice.method", "table", KEY_STRING},
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

#define MAX_VALUE_BYTES 4096

struct tl_config {
    char *value[N_KEYS]; /* malloc'd, or NULL for the default */
    enum tl_config_source src[N_KEYS];
};

static int find_key(const char *key)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].key, key) == 0)
            return (int)i;
    return -1;
}

tl_config *tl_config_new(void)
{
    tl_config *c = calloc(1, sizeof *c);
    return c; /* calloc: every value NULL (the default), every source DEFAULT */
}

void tl_config_free(tl_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_KEYS; i++)
        free(c->value[i]);
    free(c);
}

static bool parse_int(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || end == s || s[0] == ' ' || s[0] == '\t')
        return false;
    *out = v;
    return true;
}

/* Checks value for key k; `where` names its origin for the message. */
static int check_value(size_t k, const char *value, const char *where, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    size_t len = strlen(value);
    if (len > MAX_VALUE_BYTES)
        return tl_err_set(err, TL_ETOOBIG, "%s: %s is longer than %d bytes", where, KEYS[k].key,
                          MAX_VALUE_BYTES);
    int64_t v;
    if (KEYS[k].type == KEY_INT && !parse_int(value, &v))
        return tl_err_set(err, TL_EINVAL, "%s: %s = \"%s\" is not an integer", where, KEYS[k].key,
                          tl__quote(q, sizeof q, value, len));
    return 0;
}

static int set_at(tl_config *c, size_t k, const char *value, enum tl_config_source src,
                  const char *where, tl_err *err)
{
    if (src < c->src[k])
        return 0; /* a higher source already decided this key */
    int rc = check_value(k, value, where, err);
    if (rc < 0)
        return rc;
    char *copy = strdup(value);
    if (!copy)
        return tl_err_set(err, TL_ENOMEM, "out of memory setting %s", KEYS[k].key);
    free(c->value[k]);
    c->value[k] = copy;
    c->src[k] = src;
    return 0;
}

static const char *const SOURCE_NAMES[] = {"default", "file", "environment", "flag"};

int tl_config_set(tl_config *c, const char *key, const char *value, enum tl_config_source src,
                  tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    if (!c || !value || (int)src < TL_CONFIG_DEFAULT || src > TL_CONFIG_FLAG)
        return tl_err_set(err, TL_EINVAL, "tl_config_set: invalid argument");
    int k = find_key(key);
    if (k < 0)
        return tl_err_set(err, TL_ENOTFOUND, "unknown configuration key \"%s\"",
                          tl__quote(q, sizeof q, key, key ? strlen(key) : 0));
    return set_at(c, (size_t)k, value, src, SOURCE_NAMES[src], err);
}

const char *tl_config_get(const tl_config *c, const char *key)
{
    int k = find_key(key);
    if (!c || k < 0)
        return NULL;
    return c->value[k] ? c->value[k] : KEYS[k].def;
}

int tl_config_source_of(const tl_config *c, const char *key)
{
    int k = find_key(key);
    if (!c || k < 0)
        return -1;
    return (int)c->src[k];
}

int tl_config_get_int(const tl_config *c, const char *key, int64_t *out, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    const char *v = tl_config_get(c, key);
    if (!v)
        return tl_err_set(err, TL_ENOTFOUND, "unknown configuration key \"%s\"",
                          tl__quote(q, sizeof q, key, key ? strlen(key) : 0));
    int64_t n;
    if (!parse_int(v, &n))
        return tl_err_set(err, TL_EINVAL, "configuration key %s = \"%s\" is not an integer", key,
                          tl__quote(q, sizeof q, v, strlen(v)));
    if (out)
        *out = n;
    return 0;
}

size_t tl_config_count(const tl_config *c)
{
    (void)c;
    return N_KEYS;
}

const char *tl_config_key_at(const tl_config *c, size_t i)
{
    (void)c;
    return i < N_KEYS ? KEYS[i].key : NULL;
}

/* ---- INI file ---------------------------------------------------------- */

/* inih reports only the first bad line number, so the reader counts lines
 * itself and the handler stages values: a file with any error applies
 * nothing. */
struct ini_load {
    FILE *fp;
    const char *path;
    int line;         /* line last handed to inih */
    int err_line;     /* first line the handler or reader refused, 0 if none */
    int err_code;
    tl_err err;
    char *staged[N_KEYS];
};

static char *ini_read_line(char *str, int num, void *stream)
{
    struct ini_load *ld = stream;
    if (ld->err_line)
        return NULL;
    if (!fgets(str, num, ld->fp))
        return NULL;
    ld->line++;
    size_t n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(ld->fp)) {
        ld->err_line = ld->line;
        ld->err_code = tl_err_set(&ld->err, TL_ETOOBIG, "%s:%d: line is longer than %d bytes",
                                  ld->path, ld->line, num - 2);
        return NULL;
    }
    return str;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    struct ini_load *ld = user;
    if (ld->err_line)
        return 0;
    char key[256];
    char q[TL__QUOTE_SIZE];
    int n = section && *section ? snprintf(key, sizeof key, "%s.%s", section, name)
                                : snprintf(key, sizeof key, "%s", name);
    int k = n > 0 && (size_t)n < sizeof key ? find_key(key) : -1;
    if (k < 0) {
        ld->err_line = ld->line;
        ld->err_code = tl_err_set(&ld->err, TL_EINVAL, "%s:%d: unknown configuration key \"%s\"",
                                  ld->path, ld->line, tl__quote(q, sizeof q, key, strlen(key)));
        return 0;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:%d", ld->path, ld->line);
    int rc = check_value((size_t)k, value, where, &ld->err);
    if (rc < 0) {
        ld->err_line = ld->line;
        ld->err_code = rc;
        return 0;
    }
    char *copy = strdup(value);
    if (!copy) {
        ld->err_line = ld->line;
        ld->err_code = tl_err_set(&ld->err, TL_ENOMEM, "out of memory reading %s", ld->path);
        return 0;
    }
    free(ld->staged[k]); /* a key given twice: the later line wins */
    ld->staged[k] = copy;
    return 1;
}

int tl_config_load_file(tl_config *c, const char *path, tl_err *err)
{
    if (!c || !path)
        return tl_err_set(err, TL_EINVAL, "tl_config_load_file: invalid argument");
    struct ini_load ld = {.path = path};
    ld.fp = fopen(path, "rb");
    if (!ld.fp)
        return tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO,
                          "cannot open configuration file %s: %s", path, strerror(errno));
    int rc = ini_parse_stream(ini_read_line, &ld, on_ini_entry, &ld);
    bool read_error = ferror(ld.fp) != 0;
    fclose(ld.fp);

    int result = 0;
    if (ld.err_line && (rc <= 0 || rc >= ld.err_line)) {
        result = ld.err_code;
        if (err)
            *err = ld.err;
    } else if (rc > 0) {
        result = tl_err_set(err, TL_EPARSE,
                            "%s:%d: syntax error (expected [section] or key = value)",
                            path, rc);
    } else if (rc < 0) {
        result = tl_err_set(err, TL_ENOMEM, "out of memory reading %s", path);
    } else if (read_error) {
        result = tl_err_set(err, TL_EIO, "cannot read configuration file %s", path);
    }
    for (size_t k = 0; k < N_KEYS; k++) {
        if (result == 0 && ld.staged[k] && c->src[k] <= TL_CONFIG_FILE) {
            free(c->value[k]);
            c->value[k] = ld.staged[k];
            c->src[k] = TL_CONFIG_FILE;
        } else {
            free(ld.staged[k]);
        }
    }
    return result;
}

/* ---- environment --------------------------------------------------------- */

/* "store.url" -> "TELLER_STORE_URL" */
static void env_name(const char *key, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "TELLER_");
    for (const char *p = key; *p && o + 1 < cap; p++)
        out[o++] = *p == '.' ? '_' : (*p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p);
    out[o] = '\0';
}

int tl_config_load_env(tl_config *c, char *const *envp, tl_err *err)
{
    if (!c)
        return tl_err_set(err, TL_EINVAL, "tl_config_load_env: invalid argument");
    if (!envp)
        envp = environ;
    if (!envp)
        return 0;
    /* Other TELLER_* variables (TELLER_CONFIG, test harness settings) are
     * not keys and are left alone. */
    for (size_t k = 0; k < N_KEYS; k++) {
        char name[128];
        env_name(KEYS[k].key, name, sizeof name);
        size_t nlen = strlen(name);
        const char *value = NULL;
        for (char *const *e = envp; *e && !value; e++) /* the first wins, as with getenv */
            if (strncmp(*e, name, nlen) == 0 && (*e)[nlen] == '=')
                value = *e + nlen + 1;
        if (!value)
            continue;
        int rc = set_at(c, k, value, TL_CONFIG_ENV, name, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
