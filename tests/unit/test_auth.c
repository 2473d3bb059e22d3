/*
 * test_auth.c - roles, API keys (lib/bank/keys.c) and bearer JWTs
 * (lib/bank/jwt.c).
 *
 * API keys run on a temporary SQLite store with its own key file. JWT keys
 * are made at test time with the openssl program (RSA 2048, EC P-256 and a
 * few deliberately wrong ones) and tokens are signed with libjwt, or built by
 * hand where libjwt would refuse to make them. Every refusal is checked for
 * TL_EAUTH and for a message naming its reason.
 */
#include "testutil.h"

#include <criterion/criterion.h>

#include <jansson.h>
#include <jwt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================ API keys === */

struct fix {
    char *dir;
    tl_config *cfg;
    tl_ctx *ctx;
};

static struct fix open_fix(void)
{
    struct fix f = {0};
    unsetenv("TELLER_DATA_KEY");
    f.dir = tu_tmpdir();
    cr_assert_not_null(f.dir);
    f.cfg = tl_config_new();
    cr_assert_not_null(f.cfg);
    char url[600], key[600];
    snprintf(url, sizeof url, "sqlite:%s/store.db", f.dir);
    snprintf(key, sizeof key, "%s/teller.key", f.dir);
    tl_err err = {0};
    cr_assert_eq(tl_config_set(f.cfg, "store.url", url, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(f.cfg, "data.key_file", key, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_ctx_open(f.cfg, &f.ctx, &err), 0, "open: %s", err.msg);
    const char *sql = "INSERT INTO customers (id, name, birth_date, country, currency, customer_since)"
                      " VALUES ('C1', 'Ana Lima', '1980-04-02', 'BR', 'USD', '2015-01-10')";
    cr_assert_eq(tl_store_exec(tl_ctx_store(f.ctx), sql, 0, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    return f;
}

static void close_fix(struct fix *f)
{
    tl_ctx_close(f->ctx);
    tl_config_free(f->cfg);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    cr_assert_eq(system(cmd), 0);
    free(f->dir);
}

static char *create(struct fix *f, enum tl_role role, const char *customer, int64_t expires_ms, char id[33])
{
    char *key = NULL;
    tl_err err = {0};
    int rc = tl_auth_key_create(f->ctx, role, customer, "test key", expires_ms, &key, id, &err);
    cr_assert_eq(rc, 0, "create: %s", err.msg);
    cr_assert_not_null(key);
    return key;
}

static void expect_key_refused(struct fix *f, const char *token, int64_t now_ms, const char *reason)
{
    struct tl_principal p;
    tl_err err = {0};
    int rc = tl_auth_key_verify(f->ctx, token, now_ms, &p, &err);
    cr_assert_eq(rc, TL_EAUTH, "token %s: expected TL_EAUTH, got %d (%s)", token ? token : "(null)", rc,
                 err.msg);
    cr_assert_not_null(strstr(err.msg, reason), "message \"%s\" should name \"%s\"", err.msg, reason);
}

Test(roles, parse_and_name)
{
    static const char *names[] = {"customer", "analyst", "service", "admin"};
    for (size_t i = 0; i < 4; i++) {
        enum tl_role r = tl_role_parse(names[i]);
        cr_assert_neq(r, TL_ROLE_NONE);
        cr_assert_str_eq(tl_role_name(r), names[i]);
    }
    cr_assert_eq(tl_role_parse("Admin"), TL_ROLE_NONE);
    cr_assert_eq(tl_role_parse("root"), TL_ROLE_NONE);
    cr_assert_eq(tl_role_parse(""), TL_ROLE_NONE);
    cr_assert_eq(tl_role_parse(NULL), TL_ROLE_NONE);
    cr_assert_str_eq(tl_role_name(TL_ROLE_NONE), "none");
    cr_assert_str_eq(tl_role_name(TL_ROLE_ADMIN | TL_ROLE_ANALYST), "none");
}

Test(keys, create_and_verify)
{
    struct fix f = open_fix();
    char id[33];
    char *key = create(&f, TL_ROLE_ADMIN, NULL, 0, id);
    cr_assert_eq(strlen(key), 59, "key \"%s\" should be tk_ + 12 + _ + 43 characters", key);
    cr_assert_eq(strncmp(key, "tk_", 3), 0);
    cr_assert_eq(strlen(id), 12);
    cr_assert_eq(strncmp(key + 3, id, 12), 0, "the key carries its id");
    struct tl_principal p;
    tl_err err = {0};
    cr_assert_eq(tl_auth_key_verify(f.ctx, key, tl_time_now_ms(), &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.role, TL_ROLE_ADMIN);
    cr_assert_str_eq(p.customer_id, "");
    cr_assert_str_eq(p.subject, id);

    char id2[33];
    char *key2 = create(&f, TL_ROLE_SERVICE, NULL, 0, id2);
    cr_assert_str_neq(id, id2);
    cr_assert_str_neq(key + 16, key2 + 16, "two keys never share a secret");
    cr_assert_eq(tl_auth_key_verify(f.ctx, key2, tl_time_now_ms(), &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.role, TL_ROLE_SERVICE);
    free(key);
    free(key2);
    close_fix(&f);
}

struct hashes {
    char rows[8][128];
    size_t n;
};

static int on_hash(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)n_cols, (void)names;
    struct hashes *h = ud;
    if (h->n < 8 && cols[0].type == TL_VAL_TEXT)
        snprintf(h->rows[h->n++], sizeof h->rows[0], "%s", cols[0].s);
    return 0;
}

Test(keys, store_holds_only_a_keyed_hash)
{
    struct fix f = open_fix();
    char id[33];
    char *key = create(&f, TL_ROLE_ANALYST, NULL, 0, id);
    const char *secret = key + 16;
    struct hashes h = {0};
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(f.ctx), "SELECT key_hash FROM api_keys", 0, NULL, on_hash, &h,
                               &err),
                 0, "%s", err.msg);
    cr_assert_eq(h.n, 1);
    cr_assert_eq(strlen(h.rows[0]), 64, "key_hash is 64 hex characters: %s", h.rows[0]);
    cr_assert_eq(strspn(h.rows[0], "0123456789abcdef"), 64);
    cr_assert_null(strstr(h.rows[0], secret), "key_hash must not hold the secret");
    cr_assert_null(strstr(h.rows[0], key), "key_hash must not hold the key");
    cr_assert_null(strstr(secret, h.rows[0]));
    /* The hash is keyed: a plain hash of the secret is not it. */
    unsigned char plain[32];
    crypto_generichash(plain, sizeof plain, (const unsigned char *)secret, strlen(secret), NULL, 0);
    char plain_hex[65];
    sodium_bin2hex(plain_hex, sizeof plain_hex, plain, sizeof plain);
    cr_assert_str_neq(h.rows[0], plain_hex);
    free(key);
    close_fix(&f);
}

Test(keys, refusals_name_their_reason)
{
    struct fix f = open_fix();
    char id[33];
    char *key = create(&f, TL_ROLE_SERVICE, NULL, 0, id);
    int64_t now = tl_time_now_ms();

    /* malformed */
    expect_key_refused(&f, NULL, now, "malformed");
    expect_key_refused(&f, "", now, "malformed");
    expect_key_refused(&f, "tk_", now, "malformed");
    expect_key_refused(&f, "Bearer abc", now, "malformed");
    char longer[80];
    snprintf(longer, sizeof longer, "%sA", key);
    expect_key_refused(&f, longer, now, "malformed");
    char shorter[80];
    snprintf(shorter, sizeof shorter, "%.*s", 58, key);
    expect_key_refused(&f, shorter, now, "malformed");
    char bad_char[80];
    snprintf(bad_char, sizeof bad_char, "%s", key);
    bad_char[30] = '+';
    expect_key_refused(&f, bad_char, now, "malformed");
    char upper_id[80];
    snprintf(upper_id, sizeof upper_id, "%s", key);
    upper_id[3] = 'A';
    expect_key_refused(&f, upper_id, now, "malformed");

    /* tampered secret: same id, one character of the secret changed */
    char tampered[80];
    snprintf(tampered, sizeof tampered, "%s", key);
    tampered[40] = tampered[40] == 'a' ? 'b' : 'a';
    expect_key_refused(&f, tampered, now, "does not match");

    /* unknown id with a well-formed secret */
    char unknown[80];
    snprintf(unknown, sizeof unknown, "%s", key);
    memcpy(unknown + 3, "zzzzzzzzzzzz", 12);
    expect_key_refused(&f, unknown, now, "unknown");

    /* a refusal never quotes the secret */
    struct tl_principal p;
    tl_err err = {0};
    tl_auth_key_verify(f.ctx, tampered, now, &p, &err);
    cr_assert_null(strstr(err.msg, tampered + 16), "message leaks the secret: %s", err.msg);

    free(key);
    close_fix(&f);
}

Test(keys, revoke)
{
    struct fix f = open_fix();
    char id[33];
    char *key = create(&f, TL_ROLE_ANALYST, NULL, 0, id);
    tl_err err = {0};
    cr_assert_eq(tl_auth_key_revoke(f.ctx, id, &err), 0, "%s", err.msg);
    expect_key_refused(&f, key, tl_time_now_ms(), "revoked");
    cr_assert_eq(tl_auth_key_revoke(f.ctx, id, &err), 0, "revoking twice is not an error: %s", err.msg);
    cr_assert_eq(tl_auth_key_revoke(f.ctx, "zzzzzzzzzzzz", &err), TL_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "zzzzzzzzzzzz"), "%s", err.msg);
    cr_assert_eq(tl_auth_key_revoke(f.ctx, "x'; DROP TABLE api_keys; --", &err), TL_ENOTFOUND);
    cr_assert_eq(tl_auth_key_revoke(f.ctx, NULL, &err), TL_ENOTFOUND);
    free(key);
    close_fix(&f);
}

Test(keys, expiry)
{
    struct fix f = open_fix();
    int64_t now = tl_time_now_ms();
    char id[33];
    char *key = create(&f, TL_ROLE_SERVICE, NULL, now + 60000, id);
    struct tl_principal p;
    tl_err err = {0};
    cr_assert_eq(tl_auth_key_verify(f.ctx, key, now, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_auth_key_verify(f.ctx, key, now + 59999, &p, &err), 0, "%s", err.msg);
    expect_key_refused(&f, key, now + 60000, "expired");
    expect_key_refused(&f, key, now + 86400000, "expired");

    char *k2 = NULL;
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_SERVICE, NULL, NULL, now - 1000, &k2, id, &err),
                 TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "not in the future"), "%s", err.msg);
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_SERVICE, NULL, NULL, -5, &k2, id, &err), TL_EINVAL);
    cr_assert_null(k2);
    free(key);
    close_fix(&f);
}

Test(keys, customer_role_rules)
{
    struct fix f = open_fix();
    char id[33] = "";
    char *key = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_CUSTOMER, NULL, NULL, 0, &key, id, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "customer"), "%s", err.msg);
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_CUSTOMER, "C404", NULL, 0, &key, id, &err), TL_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "C404"), "%s", err.msg);
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_ADMIN, "C1", NULL, 0, &key, id, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "admin"), "%s", err.msg);
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_NONE, NULL, NULL, 0, &key, id, &err), TL_EINVAL);
    cr_assert_eq(tl_auth_key_create(f.ctx, TL_ROLE_ADMIN | TL_ROLE_SERVICE, NULL, NULL, 0, &key, id, &err),
                 TL_EINVAL);
    cr_assert_null(key, "no key comes out of a refused create");

    key = create(&f, TL_ROLE_CUSTOMER, "C1", 0, id);
    struct tl_principal p;
    cr_assert_eq(tl_auth_key_verify(f.ctx, key, tl_time_now_ms(), &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.role, TL_ROLE_CUSTOMER);
    cr_assert_str_eq(p.customer_id, "C1");
    cr_assert_str_eq(p.subject, id);
    free(key);
    close_fix(&f);
}

struct listed {
    char text[4096];
    size_t n, n_revoked;
};

static int on_list(void *ud, const struct tl_key_info *k)
{
    struct listed *l = ud;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "%s|%s|%s|%s|%lld|%lld|%lld\n", k->id,
             k->name ? k->name : "", k->customer_id ? k->customer_id : "", tl_role_name(k->role),
             (long long)k->created_ms, (long long)k->expires_ms, (long long)k->revoked_ms);
    l->n++;
    l->n_revoked += k->revoked_ms != 0;
    cr_assert_gt(k->created_ms, 0);
    return 0;
}

static int stop_at_first(void *ud, const struct tl_key_info *k)
{
    (void)k;
    (*(int *)ud)++;
    return 1;
}

Test(keys, list_never_shows_secrets)
{
    struct fix f = open_fix();
    char ids[3][33];
    char *keys[3] = {
        create(&f, TL_ROLE_ADMIN, NULL, 0, ids[0]),
        create(&f, TL_ROLE_CUSTOMER, "C1", tl_time_now_ms() + 3600000, ids[1]),
        create(&f, TL_ROLE_SERVICE, NULL, 0, ids[2]),
    };
    tl_err err = {0};
    cr_assert_eq(tl_auth_key_revoke(f.ctx, ids[2], &err), 0, "%s", err.msg);
    struct listed l = {0};
    cr_assert_eq(tl_auth_key_list(f.ctx, on_list, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.n_revoked, 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(strstr(l.text, ids[i]), "list shows id %s:\n%s", ids[i], l.text);
        cr_assert_null(strstr(l.text, keys[i] + 16), "list leaks a secret:\n%s", l.text);
        free(keys[i]);
    }
    cr_assert_not_null(strstr(l.text, "|C1|customer|"), "%s", l.text);
    cr_assert_not_null(strstr(l.text, "test key"), "%s", l.text);
    int seen = 0;
    cr_assert_eq(tl_auth_key_list(f.ctx, stop_at_first, &seen, &err), 0, "%s", err.msg);
    cr_assert_eq(seen, 1, "a callback returning nonzero stops the listing");
    close_fix(&f);
}

/* ================================================================ JWTs === */

#define NOW 1800000000LL /* 2027-01-15T08:00:00Z */
#define ISSUER "https://idp.bank.example"
#define AUDIENCE "teller"

struct jwtfix {
    char *dir;     /* private keys, scratch */
    char *keys;    /* auth.jwt_keys directory: rsa1.pem, ec1.pem */
    tl_config *cfg;
    tl_jwt_verifier *v;
};

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b ? b : "");
    cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    char *buf = malloc(65536);
    size_t n = fread(buf, 1, 65535, fp);
    fclose(fp);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static tl_config *jwt_config(const char *keys)
{
    tl_config *cfg = tl_config_new();
    tl_err err = {0};
    cr_assert_eq(tl_config_set(cfg, "auth.jwt_keys", keys, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "auth.jwt_issuer", ISSUER, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "auth.jwt_audience", AUDIENCE, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    return cfg;
}

static struct jwtfix open_jwt(void)
{
    struct jwtfix f = {0};
    f.dir = tu_tmpdir();
    cr_assert_not_null(f.dir);
    f.keys = path_in(f.dir, "keys");
    sh("mkdir -p '%s' && cd '%s' && "
       "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa1.key 2>/dev/null && "
       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec1.key 2>/dev/null && "
       "openssl pkey -in rsa1.key -pubout -out keys/rsa1.pem 2>/dev/null && "
       "openssl pkey -in ec1.key -pubout -out keys/ec1.pem 2>/dev/null",
       f.keys, f.dir);
    f.cfg = jwt_config(f.keys);
    tl_err err = {0};
    cr_assert_eq(tl_jwt_verifier_new(f.cfg, &f.v, &err), 0, "verifier: %s", err.msg);
    cr_assert_not_null(f.v);
    return f;
}

static void close_jwt(struct jwtfix *f)
{
    tl_jwt_verifier_free(f->v);
    tl_config_free(f->cfg);
    sh("rm -rf '%s'%s", f->dir, NULL);
    free(f->keys);
    free(f->dir);
}

/* Claims of a good token, as JSON text; extra is spliced in (may override). */
static char *claims_json(const char *extra)
{
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "iss", ISSUER, "aud", AUDIENCE, "sub",
                          "alice@bank.example", "iat", (json_int_t)(NOW - 60), "nbf",
                          (json_int_t)(NOW - 60), "exp", (json_int_t)(NOW + 3600), "role", "analyst");
    if (extra) {
        json_t *x = json_loads(extra, 0, NULL);
        cr_assert_not_null(x, "bad extra claims %s", extra);
        json_object_update(c, x);
        json_decref(x);
        /* null in extra removes the claim */
        const char *k;
        json_t *val;
        void *tmp;
        json_object_foreach_safe(c, tmp, k, val) if (json_is_null(val)) json_object_del(c, k);
    }
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

/* A token signed by libjwt with the private key file dir/keyfile. */
static char *sign(const struct jwtfix *f, jwt_alg_t alg, const char *keyfile, const char *kid,
                  const char *extra)
{
    size_t klen = 0;
    char *kpath = path_in(f->dir, keyfile);
    char *key = slurp(kpath, &klen);
    free(kpath);
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_new(&jwt), 0);
    char *claims = claims_json(extra);
    cr_assert_eq(jwt_add_grants_json(jwt, claims), 0, "claims %s", claims);
    free(claims);
    if (kid)
        cr_assert_eq(jwt_add_header(jwt, "kid", kid), 0);
    cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)klen), 0);
    char *tok = jwt_encode_str(jwt);
    cr_assert_not_null(tok, "libjwt could not sign");
    jwt_free(jwt);
    free(key);
    char *out = strdup(tok);
    free(tok);
    return out;
}

static char *b64url(const char *s)
{
    size_t n = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(n);
    sodium_bin2base64(out, n, (const unsigned char *)s, strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* HEADER.PAYLOAD.SIG from raw JSON texts and a signature segment. */
static char *hand_token(const char *header, const char *payload, const char *sig)
{
    char *h = b64url(header), *p = b64url(payload);
    size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s.%s", h, p, sig);
    free(h);
    free(p);
    return t;
}

static void expect_jwt_ok(const struct jwtfix *f, const char *tok, int64_t now, struct tl_principal *p)
{
    tl_err err = {0};
    int rc = tl_jwt_verify(f->v, tok, now, p, &err);
    cr_assert_eq(rc, 0, "expected a valid token, got %d: %s", rc, err.msg);
}

static void expect_jwt_refused(const struct jwtfix *f, const char *tok, int64_t now, const char *reason)
{
    struct tl_principal p;
    memset(&p, 0x5a, sizeof p);
    tl_err err = {0};
    int rc = tl_jwt_verify(f->v, tok, now, &p, &err);
    cr_assert_eq(rc, TL_EAUTH, "expected TL_EAUTH (%s), got %d: %s", reason, rc, err.msg);
    cr_assert_not_null(strstr(err.msg, reason), "message \"%s\" should name \"%s\"", err.msg, reason);
}

Test(jwt, valid_rs256_and_es256)
{
    struct jwtfix f = open_jwt();
    struct tl_principal p;
    char *rs = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", NULL);
    expect_jwt_ok(&f, rs, NOW, &p);
    cr_assert_eq(p.role, TL_ROLE_ANALYST);
    cr_assert_str_eq(p.subject, "alice@bank.example");
    cr_assert_str_eq(p.customer_id, "");

    char *es = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1",
                    "{\"role\":\"customer\",\"customer_id\":\"C1\",\"aud\":[\"other\",\"teller\"]}");
    expect_jwt_ok(&f, es, NOW, &p);
    cr_assert_eq(p.role, TL_ROLE_CUSTOMER);
    cr_assert_str_eq(p.customer_id, "C1");
    free(rs);
    free(es);
    close_jwt(&f);
}

Test(jwt, expired_and_not_yet_valid)
{
    struct jwtfix f = open_jwt();
    struct tl_principal p;
    char *tok = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", NULL); /* nbf NOW-60, exp NOW+3600 */
    expect_jwt_refused(&f, tok, NOW + 3600 + 60, "expired");
    expect_jwt_refused(&f, tok, NOW + 86400, "expired");
    expect_jwt_ok(&f, tok, NOW + 3600 + 59, &p); /* within the 60 s leeway */
    expect_jwt_refused(&f, tok, NOW - 60 - 61, "not yet valid");
    expect_jwt_ok(&f, tok, NOW - 60 - 60, &p);
    free(tok);

    char *no_exp = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"exp\":null}");
    expect_jwt_refused(&f, no_exp, NOW, "exp");
    free(no_exp);
    char *str_exp = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"exp\":\"tomorrow\"}");
    expect_jwt_refused(&f, str_exp, NOW, "exp");
    free(str_exp);
    close_jwt(&f);
}

Test(jwt, wrong_issuer_or_audience)
{
    struct jwtfix f = open_jwt();
    char *t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"iss\":\"https://evil.example\"}");
    expect_jwt_refused(&f, t, NOW, "wrong issuer");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"iss\":null}");
    expect_jwt_refused(&f, t, NOW, "wrong issuer");
    free(t);
    t = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1", "{\"aud\":\"another-app\"}");
    expect_jwt_refused(&f, t, NOW, "wrong audience");
    free(t);
    t = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1", "{\"aud\":[\"a\",\"b\"]}");
    expect_jwt_refused(&f, t, NOW, "wrong audience");
    free(t);
    t = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1", "{\"aud\":null}");
    expect_jwt_refused(&f, t, NOW, "wrong audience");
    free(t);
    close_jwt(&f);
}

/* Replaces the payload of tok with payload, keeping header and signature. */
static char *swap_payload(const char *tok, const char *payload)
{
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    char *p = b64url(payload);
    size_t n = strlen(tok) + strlen(p) + 1;
    char *t = malloc(n);
    snprintf(t, n, "%.*s.%s%s", (int)(d1 - tok), tok, p, d2);
    free(p);
    return t;
}

Test(jwt, bad_signature)
{
    struct jwtfix f = open_jwt();
    char *admin = claims_json("{\"role\":\"admin\"}");
    char *rs = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", NULL);
    char *forged = swap_payload(rs, admin);
    expect_jwt_refused(&f, forged, NOW, "bad signature");
    char *es = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1", NULL);
    char *forged_es = swap_payload(es, admin);
    expect_jwt_refused(&f, forged_es, NOW, "bad signature");
    /* a flipped signature character */
    size_t n = strlen(rs);
    rs[n - 5] = rs[n - 5] == 'A' ? 'B' : 'A';
    expect_jwt_refused(&f, rs, NOW, "bad signature");
    /* signed by a key other than the one its kid names */
    char *other = sign(&f, JWT_ALG_ES256, "ec1.key", "rsa1", NULL);
    expect_jwt_refused(&f, other, NOW, "does not verify ES256");
    free(admin), free(rs), free(forged), free(es), free(forged_es), free(other);
    close_jwt(&f);
}

Test(jwt, unknown_key_id)
{
    struct jwtfix f = open_jwt();
    char *t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa2", NULL);
    expect_jwt_refused(&f, t, NOW, "unknown key id");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "../keys/rsa1", NULL);
    expect_jwt_refused(&f, t, NOW, "unknown key id");
    free(t);
    /* no kid while two keys are configured */
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", NULL, NULL);
    expect_jwt_refused(&f, t, NOW, "no key id");
    free(t);
    close_jwt(&f);
}

Test(jwt, alg_none)
{
    struct jwtfix f = open_jwt();
    char *claims = claims_json("{\"role\":\"admin\"}");
    char *t = hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, "");
    cr_assert_eq(strncmp(t, "eyJ", 3), 0);
    expect_jwt_refused(&f, t, NOW, "alg \"none\"");
    free(t);
    t = hand_token("{\"alg\":\"none\",\"kid\":\"rsa1\"}", claims, "");
    expect_jwt_refused(&f, t, NOW, "alg \"none\"");
    free(t);
    t = hand_token("{\"alg\":\"None\",\"kid\":\"rsa1\"}", claims, "c2ln");
    expect_jwt_refused(&f, t, NOW, "alg \"None\"");
    free(t);
    t = hand_token("{\"kid\":\"rsa1\"}", claims, "c2ln");
    expect_jwt_refused(&f, t, NOW, "no \"alg\"");
    free(t);
    free(claims);
    close_jwt(&f);
}

Test(jwt, algorithm_confusion)
{
    struct jwtfix f = open_jwt();
    /* HS256 keyed with the RSA public key's PEM bytes, the text the server
     * holds: the classic forgery. */
    char *pem_path = path_in(f.keys, "rsa1.pem");
    size_t pem_len = 0;
    char *pem = slurp(pem_path, &pem_len);
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_new(&jwt), 0);
    char *claims = claims_json("{\"role\":\"admin\"}");
    cr_assert_eq(jwt_add_grants_json(jwt, claims), 0);
    cr_assert_eq(jwt_add_header(jwt, "kid", "rsa1"), 0);
    cr_assert_eq(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)pem, (int)pem_len), 0);
    char *forged = jwt_encode_str(jwt);
    cr_assert_not_null(forged);
    jwt_free(jwt);

    /* libjwt alone falls for it: this is the hole the header check closes. */
    jwt_t *naive = NULL;
    int naive_rc = jwt_decode(&naive, forged, (const unsigned char *)pem, (int)pem_len);
    cr_assert_eq(naive_rc, 0, "expected libjwt 1.10 to accept HS256 keyed with the PEM (it did not: %d)",
                 naive_rc);
    jwt_free(naive);

    expect_jwt_refused(&f, forged, NOW, "HMAC");
    expect_jwt_refused(&f, forged, NOW, "HS256");

    /* other algorithms named by the header */
    static const char *algs[] = {"HS512", "hs256", "RS384", "PS256", "ES512", "EdDSA", ""};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", algs[i]);
        char *t = hand_token(hdr, claims, "c2ln");
        char want[64];
        snprintf(want, sizeof want, "alg \"%s\"", algs[i]);
        expect_jwt_refused(&f, t, NOW, want);
        free(t);
    }
    /* RS256 named but the kid is the EC key: the key decides, not the token */
    char *t = sign(&f, JWT_ALG_RS256, "rsa1.key", "ec1", NULL);
    expect_jwt_refused(&f, t, NOW, "does not verify RS256");
    free(t);
    free(forged);
    free(claims);
    free(pem);
    free(pem_path);
    close_jwt(&f);
}

Test(jwt, role_and_customer_claims)
{
    struct jwtfix f = open_jwt();
    char *t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"role\":null}");
    expect_jwt_refused(&f, t, NOW, "no role claim \"role\"");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"role\":\"superuser\"}");
    expect_jwt_refused(&f, t, NOW, "\"superuser\", which is not a role");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"role\":[\"admin\"]}");
    expect_jwt_refused(&f, t, NOW, "not a role");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"role\":\"customer\"}");
    expect_jwt_refused(&f, t, NOW, "customer claim \"customer_id\"");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"role\":\"customer\",\"customer_id\":\"\"}");
    expect_jwt_refused(&f, t, NOW, "customer claim");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", "{\"sub\":null}");
    expect_jwt_refused(&f, t, NOW, "sub");
    free(t);
    close_jwt(&f);
}

Test(jwt, configured_claim_names)
{
    struct jwtfix f = open_jwt();
    tl_err err = {0};
    cr_assert_eq(tl_config_set(f.cfg, "auth.jwt_role_claim", "teller_role", TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_config_set(f.cfg, "auth.jwt_customer_claim", "cif", TL_CONFIG_FLAG, &err), 0);
    tl_jwt_verifier *v = NULL;
    cr_assert_eq(tl_jwt_verifier_new(f.cfg, &v, &err), 0, "%s", err.msg);
    tl_jwt_verifier_free(f.v);
    f.v = v;
    char *t = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1",
                   "{\"role\":\"admin\",\"teller_role\":\"customer\",\"cif\":\"C77\"}");
    struct tl_principal p;
    expect_jwt_ok(&f, t, NOW, &p);
    cr_assert_eq(p.role, TL_ROLE_CUSTOMER, "the configured claim decides, not \"role\"");
    cr_assert_str_eq(p.customer_id, "C77");
    free(t);
    close_jwt(&f);
}

Test(jwt, malformed_tokens)
{
    struct jwtfix f = open_jwt();
    static const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "..", "eyJhbGciOiJSUzI1NiJ9..sig",
                                "eyJ hbGc.eyJ.sig", "e30.e30.c2ln"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tl_principal p;
        tl_err err = {0};
        cr_assert_eq(tl_jwt_verify(f.v, bad[i], NOW, &p, &err), TL_EAUTH, "token \"%s\": %s", bad[i],
                     err.msg);
    }
    struct tl_principal p;
    tl_err err = {0};
    cr_assert_eq(tl_jwt_verify(f.v, NULL, NOW, &p, &err), TL_EAUTH);
    char *huge = malloc(20000);
    memset(huge, 'A', 19999);
    huge[19999] = '\0';
    expect_jwt_refused(&f, huge, NOW, "longer than");
    free(huge);
    /* duplicate keys in the header would let two parsers disagree */
    char *claims = claims_json(NULL);
    char *t = hand_token("{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"rsa1\"}", claims, "c2ln");
    expect_jwt_refused(&f, t, NOW, "malformed");
    free(t);
    t = hand_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"]}", claims, "c2ln");
    expect_jwt_refused(&f, t, NOW, "crit");
    free(t);
    free(claims);
    close_jwt(&f);
}

Test(jwt, not_configured)
{
    tl_config *cfg = tl_config_new();
    tl_jwt_verifier *v = (tl_jwt_verifier *)&v;
    tl_err err = {0};
    cr_assert_eq(tl_jwt_verifier_new(cfg, &v, &err), 0, "%s", err.msg);
    cr_assert_null(v, "no keys configured: no verifier");
    struct tl_principal p;
    cr_assert_eq(tl_jwt_verify(NULL, "a.b.c", NOW, &p, &err), TL_EAUTH);
    cr_assert_not_null(strstr(err.msg, "auth.jwt_keys"), "%s", err.msg);

    cr_assert_eq(tl_config_set(cfg, "auth.jwt_keys", "/nonexistent/keys", TL_CONFIG_FLAG, &err), 0);
    v = NULL;
    cr_assert_eq(tl_jwt_verifier_new(cfg, &v, &err), TL_EINVAL, "issuer is required: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, "auth.jwt_issuer"), "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "auth.jwt_issuer", ISSUER, TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_jwt_verifier_new(cfg, &v, &err), TL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "auth.jwt_audience"), "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "auth.jwt_audience", AUDIENCE, TL_CONFIG_FLAG, &err), 0);
    cr_assert_eq(tl_jwt_verifier_new(cfg, &v, &err), TL_EIO);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/keys"), "%s", err.msg);
    cr_assert_null(v);
    tl_config_free(cfg);
}

static int verifier_error(const char *keys, tl_err *err)
{
    tl_config *cfg = jwt_config(keys);
    tl_jwt_verifier *v = NULL;
    int rc = tl_jwt_verifier_new(cfg, &v, err);
    tl_jwt_verifier_free(v);
    tl_config_free(cfg);
    return rc;
}

Test(jwt, single_key_file)
{
    struct jwtfix f = open_jwt();
    char *file = path_in(f.keys, "ec1.pem");
    tl_config *cfg = jwt_config(file);
    tl_jwt_verifier *v = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_jwt_verifier_new(cfg, &v, &err), 0, "%s", err.msg);
    tl_jwt_verifier_free(f.v);
    f.v = v;
    struct tl_principal p;
    char *t = sign(&f, JWT_ALG_ES256, "ec1.key", NULL, NULL);
    expect_jwt_ok(&f, t, NOW, &p);
    free(t);
    t = sign(&f, JWT_ALG_ES256, "ec1.key", "ec1", NULL);
    expect_jwt_ok(&f, t, NOW, &p);
    free(t);
    t = sign(&f, JWT_ALG_ES256, "ec1.key", "ec2", NULL);
    expect_jwt_refused(&f, t, NOW, "unknown key id");
    free(t);
    t = sign(&f, JWT_ALG_RS256, "rsa1.key", NULL, NULL);
    expect_jwt_refused(&f, t, NOW, "does not verify RS256");
    free(t);
    tl_config_free(cfg);
    free(file);
    close_jwt(&f);
}

Test(jwt, refuses_unfit_key_files)
{
    struct jwtfix f = open_jwt();
    tl_err err = {0};
    sh("cd '%s' && mkdir priv small p384 pkcs1 two empty && cp rsa1.key priv/k.pem && "
       "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | "
       "openssl pkey -pubout -out small/k.pem 2>/dev/null && "
       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>/dev/null | "
       "openssl pkey -pubout -out p384/k.pem 2>/dev/null && "
       "openssl rsa -in rsa1.key -RSAPublicKey_out -out pkcs1/k.pem 2>/dev/null && "
       "cat keys/rsa1.pem keys/ec1.pem > two/k.pem && echo readme > empty/README%s",
       f.dir, NULL);
    static const struct {
        const char *dir, *reason;
    } cases[] = {
        {"priv", "private key"}, {"small", "1024 bits"}, {"p384", "P-256"},
        {"pkcs1", "PKCS#1"},     {"two", "more than one"}, {"empty", "no KID.pem"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = path_in(f.dir, cases[i].dir);
        int rc = verifier_error(d, &err);
        cr_assert_lt(rc, 0, "%s should be refused", cases[i].dir);
        cr_assert_not_null(strstr(err.msg, cases[i].reason), "%s: \"%s\" should name \"%s\"", cases[i].dir,
                           err.msg, cases[i].reason);
        free(d);
    }
    char *not_pem = path_in(f.dir, "rsa1.key");
    cr_assert_lt(verifier_error(not_pem, &err), 0);
    cr_assert_not_null(strstr(err.msg, "KID.pem"), "%s", err.msg);
    free(not_pem);
    close_jwt(&f);
}

struct race {
    const struct jwtfix *f;
    const char *good, *forged;
    int failures;
};

static void *verify_many(void *ud)
{
    struct race *r = ud;
    for (int i = 0; i < 40; i++) {
        struct tl_principal p;
        tl_err err = {0};
        if (tl_jwt_verify(r->f->v, r->good, NOW, &p, &err) != 0 || p.role != TL_ROLE_ANALYST)
            r->failures++;
        if (tl_jwt_verify(r->f->v, r->forged, NOW, &p, &err) != TL_EAUTH)
            r->failures++;
    }
    return NULL;
}

Test(jwt, verify_is_thread_safe)
{
    struct jwtfix f = open_jwt();
    char *admin = claims_json("{\"role\":\"admin\"}");
    char *toks[2] = {sign(&f, JWT_ALG_RS256, "rsa1.key", "rsa1", NULL),
                     sign(&f, JWT_ALG_ES256, "ec1.key", "ec1", NULL)};
    char *forged[2] = {swap_payload(toks[0], admin), swap_payload(toks[1], admin)};
    pthread_t th[6];
    struct race r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = (struct race){.f = &f, .good = toks[i % 2], .forged = forged[i % 2]};
        cr_assert_eq(pthread_create(&th[i], NULL, verify_many, &r[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(r[i].failures, 0, "thread %d saw %d wrong answers", i, r[i].failures);
    }
    for (int i = 0; i < 2; i++)
        free(toks[i]), free(forged[i]);
    free(admin);
    close_jwt(&f);
}
