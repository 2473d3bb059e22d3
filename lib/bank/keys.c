/*
 * keys.c - roles and API keys (auth.h).
 *
 * A key reads "tk_<id>_<secret>": id is 12 characters of [a-z0-9] (the row's
 * primary key, safe to show and log), secret is 32 random bytes in unpadded
 * base64url (43 characters). Both parts have a fixed length, so the key is
 * split by position and the '_' and '-' that base64url may put in the secret
 * never confuse the parser. The store keeps only the keyed hash of the
 * secret (tl_keyring_hash, context "api_keys"): a copy of the database does
 * not yield a usable key, and the hash survives data-key rotation because it
 * is made with the ring's index key.
 *
 * Messages never quote a presented secret: only the key id, which is not a
 * credential, appears in them.
 */
#include <teller/auth.h>
#include <teller/datetime.h>
#include <teller/keyring.h>
#include <teller/store.h>
#include <teller/utf8.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define KEY_PREFIX "tk_"
#define KEY_PREFIX_LEN 3
#define KEY_ID_LEN 12
#define KEY_SECRET_BYTES 32
#define KEY_SECRET_LEN 43 /* unpadded base64url of 32 bytes */
#define KEY_LEN (KEY_PREFIX_LEN + KEY_ID_LEN + 1 + KEY_SECRET_LEN)
#define KEY_NAME_MAX 200
#define KEY_CUSTOMER_MAX 64
#define HASH_CONTEXT "api_keys"

static const char ID_ALPHABET[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* --------------------------------------------------------------- roles --- */

static const struct {
    enum tl_role role;
    const char *name;
} ROLES[] = {
    {TL_ROLE_CUSTOMER, "customer"},
    {TL_ROLE_ANALYST, "analyst"},
    {TL_ROLE_SERVICE, "service"},
    {TL_ROLE_ADMIN, "admin"},
};
#define N_ROLES (sizeof ROLES / sizeof ROLES[0])

enum tl_role tl_role_parse(const char *s)
{
    if (!s)
        return TL_ROLE_NONE;
    for (size_t i = 0; i < N_ROLES; i++)
        if (strcmp(ROLES[i].name, s) == 0)
            return ROLES[i].role;
    return TL_ROLE_NONE;
}

const char *tl_role_name(enum tl_role r)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (ROLES[i].role == r)
            return ROLES[i].name;
    return "none";
}

/* ------------------------------------------------------------- helpers --- */

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int get_keyring(tl_ctx *ctx, const tl_keyring **kr, tl_err *err)
{
    *kr = tl_ctx_keyring(ctx);
    if (!*kr)
        return tl_err_set(err, TL_EINTERNAL,
                          "the context has no keyring (data.key_file): API keys cannot be hashed");
    return 0;
}

/* Reads column i as an integer, 0 when NULL. */
static int64_t col_int(const tl_value *v)
{
    return v->type == TL_VAL_INT ? v->i : v->type == TL_VAL_REAL ? (int64_t)v->d : 0;
}

struct customer_row {
    bool found;
    bool erased;
};

static int on_customer(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct customer_row *r = ud;
    r->found = true;
    r->erased = n_cols > 0 && cols[0].type != TL_VAL_NULL;
    return 1;
}

static int check_customer(tl_store *s, const char *customer_id, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    size_t len = strlen(customer_id);
    if (len == 0 || len > KEY_CUSTOMER_MAX || !tl_utf8_valid(customer_id, len, NULL))
        return tl_err_set(err, TL_EINVAL,
                          "customer id \"%s\" is not valid: expected 1 to %d bytes of UTF-8",
                          tl__quote(q, sizeof q, customer_id, len), KEY_CUSTOMER_MAX);
    struct customer_row row = {0};
    tl_value p[] = {TL_TEXT(customer_id)};
    int rc = tl_store_exec(s, "SELECT erased_ms FROM customers WHERE id = ?", 1, p, on_customer, &row,
                           err);
    if (rc < 0)
        return rc;
    if (!row.found)
        return tl_err_set(err, TL_ENOTFOUND, "customer \"%s\" does not exist",
                          tl__quote(q, sizeof q, customer_id, len));
    if (row.erased)
        return tl_err_set(err, TL_EINVAL, "customer \"%s\" has been erased: no key can be made for it",
                          tl__quote(q, sizeof q, customer_id, len));
    return 0;
}

/* ---------------------------------------------------------------- create --- */

int tl_auth_key_create(tl_ctx *ctx, enum tl_role role, const char *customer_id, const char *name,
                       int64_t expires_ms, char **secret, char id[33], tl_err *err)
{
    if (!ctx || !secret || !id)
        return tl_err_set(err, TL_EINVAL, "tl_auth_key_create: no context, secret or id was given");
    if (customer_id && !*customer_id)
        customer_id = NULL;
    if (name && !*name)
        name = NULL;
    const char *role_name = tl_role_name(role);
    if (strcmp(role_name, "none") == 0)
        return tl_err_set(err, TL_EINVAL,
                          "role %d is not one of customer, analyst, service or admin (exactly one)",
                          (int)role);
    if (role == TL_ROLE_CUSTOMER && !customer_id)
        return tl_err_set(err, TL_EINVAL, "a key with the customer role needs the customer id it acts for");
    if (role != TL_ROLE_CUSTOMER && customer_id)
        return tl_err_set(err, TL_EINVAL,
                          "only keys with the customer role belong to a customer; role %s takes none",
                          role_name);
    char q[TL__QUOTE_SIZE];
    if (name) {
        size_t n = strlen(name);
        if (n > KEY_NAME_MAX || !tl_utf8_valid(name, n, NULL))
            return tl_err_set(err, TL_EINVAL,
                              "key name \"%s\" is not valid: expected at most %d bytes of UTF-8",
                              tl__quote(q, sizeof q, name, n), KEY_NAME_MAX);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
                return tl_err_set(err, TL_EINVAL, "key name \"%s\" holds a control character",
                                  tl__quote(q, sizeof q, name, n));
    }
    int64_t now_ms = tl_time_now_ms();
    if (expires_ms < 0 || (expires_ms > 0 && expires_ms <= now_ms)) {
        char when[32] = "?";
        tl_time_format(expires_ms, when, sizeof when);
        return tl_err_set(err, TL_EINVAL, "expiry %s (%lld ms) is not in the future", when,
                          (long long)expires_ms);
    }
    const tl_keyring *kr;
    int rc = get_keyring(ctx, &kr, err);
    if (rc < 0)
        return rc;
    tl_store *s = tl_ctx_store(ctx);
    if (customer_id && (rc = check_customer(s, customer_id, err)) < 0)
        return rc;
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialize: no random numbers");

    char key[KEY_LEN + 1];
    /* An id collision among 36^12 values is unlikely but not impossible:
     * retry with a new id a few times when the primary key is taken. */
    for (int attempt = 0;; attempt++) {
        char kid[KEY_ID_LEN + 1];
        for (size_t i = 0; i < KEY_ID_LEN; i++)
            kid[i] = ID_ALPHABET[randombytes_uniform(sizeof ID_ALPHABET - 1)];
        kid[KEY_ID_LEN] = '\0';
        unsigned char raw[KEY_SECRET_BYTES];
        randombytes_buf(raw, sizeof raw);
        memcpy(key, KEY_PREFIX, KEY_PREFIX_LEN);
        memcpy(key + KEY_PREFIX_LEN, kid, KEY_ID_LEN);
        key[KEY_PREFIX_LEN + KEY_ID_LEN] = '_';
        char *sec = key + KEY_PREFIX_LEN + KEY_ID_LEN + 1;
        sodium_bin2base64(sec, KEY_SECRET_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof raw);
        char hash[65];
        tl_keyring_hash(kr, HASH_CONTEXT, sec, KEY_SECRET_LEN, hash);

        tl_value p[] = {
            TL_TEXT(kid),
            TL_TEXT(hash),
            TL_TEXT(role_name),
            customer_id ? TL_TEXT(customer_id) : TL_NULLV,
            TL_INT(now_ms),
            expires_ms > 0 ? TL_INT(expires_ms) : TL_NULLV,
            name ? TL_TEXT(name) : TL_NULLV,
        };
        tl_err ierr = {0};
        rc = tl_store_exec(s,
                           "INSERT INTO api_keys (id, key_hash, role, customer_id, created_ms, expires_ms,"
                           " revoked_ms, name) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                           sizeof p / sizeof p[0], p, NULL, NULL, &ierr);
        if (rc == 0) {
            memcpy(id, kid, KEY_ID_LEN + 1);
            break;
        }
        if (rc != TL_ECONSTRAINT || attempt >= 3) {
            sodium_memzero(key, sizeof key);
            if (err)
                *err = ierr;
            return tl_err_prefix(err, "creating an API key");
        }
    }
    key[KEY_LEN] = '\0';
    char *out = malloc(KEY_LEN + 1);
    if (!out) {
        sodium_memzero(key, sizeof key);
        /* The row exists but nobody can hold its secret: revoke it. */
        tl_auth_key_revoke(ctx, id, NULL);
        return tl_err_set(err, TL_ENOMEM, "out of memory returning the new API key");
    }
    memcpy(out, key, KEY_LEN + 1);
    sodium_memzero(key, sizeof key);
    *secret = out;
    return 0;
}

/* ---------------------------------------------------------------- revoke --- */

static int on_exists(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)n_cols, (void)cols, (void)names;
    *(bool *)ud = true;
    return 1;
}

static int check_id_form(const char *id, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    size_t n = id ? strlen(id) : 0;
    bool ok = n == KEY_ID_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_id_char(id[i]);
    if (!ok)
        return tl_err_set(err, TL_ENOTFOUND, "no API key has the id \"%s\" (ids are %d characters of a-z0-9)",
                          tl__quote(q, sizeof q, id ? id : "", n), KEY_ID_LEN);
    return 0;
}

int tl_auth_key_revoke(tl_ctx *ctx, const char *id, tl_err *err)
{
    if (!ctx)
        return tl_err_set(err, TL_EINVAL, "tl_auth_key_revoke: no context was given");
    int rc = check_id_form(id, err);
    if (rc < 0)
        return rc;
    tl_store *s = tl_ctx_store(ctx);
    tl_value p[] = {TL_INT(tl_time_now_ms()), TL_TEXT(id)};
    rc = tl_store_exec(s, "UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL", 2, p,
                       NULL, NULL, err);
    if (rc < 0)
        return tl_err_prefix(err, "revoking API key %s", id);
    if (tl_store_changes(s) > 0)
        return 0;
    /* Nothing changed: either unknown, or revoked before (kept as it was,
     * so the first revocation time stays on record). */
    bool exists = false;
    rc = tl_store_exec(s, "SELECT 1 FROM api_keys WHERE id = ?", 1, p + 1, on_exists, &exists, err);
    if (rc < 0)
        return rc;
    if (!exists)
        return tl_err_set(err, TL_ENOTFOUND, "no API key has the id \"%s\"", id);
    return 0;
}

/* ------------------------------------------------------------------ list --- */

struct list_state {
    int (*fn)(void *ud, const struct tl_key_info *k);
    void *ud;
};

static const char *col_text(const tl_value *v)
{
    return v->type == TL_VAL_TEXT ? v->s : NULL;
}

static int on_key(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct list_state *st = ud;
    if (n_cols < 7)
        return 1;
    struct tl_key_info k = {
        .id = col_text(&cols[0]),
        .name = col_text(&cols[1]),
        .customer_id = col_text(&cols[2]),
        .role = tl_role_parse(col_text(&cols[3])),
        .created_ms = col_int(&cols[4]),
        .expires_ms = col_int(&cols[5]),
        .revoked_ms = col_int(&cols[6]),
    };
    return st->fn(st->ud, &k);
}

int tl_auth_key_list(tl_ctx *ctx, int (*fn)(void *ud, const struct tl_key_info *k), void *ud,
                     tl_err *err)
{
    if (!ctx || !fn)
        return tl_err_set(err, TL_EINVAL, "tl_auth_key_list: no context or callback was given");
    struct list_state st = {fn, ud};
    /* key_hash is never selected: nothing secret-derived leaves the store. */
    return tl_store_exec(tl_ctx_store(ctx),
                         "SELECT id, name, customer_id, role, created_ms, expires_ms, revoked_ms"
                         " FROM api_keys ORDER BY created_ms, id",
                         0, NULL, on_key, &st, err);
}

/* ---------------------------------------------------------------- verify --- */

struct key_row {
    bool found;
    char hash[65];
    char role[16];
    char customer_id[KEY_CUSTOMER_MAX + 1];
    bool bad_column;
    int64_t expires_ms, revoked_ms;
};

static bool copy_col(char *dst, size_t size, const tl_value *v)
{
    if (v->type == TL_VAL_NULL) {
        dst[0] = '\0';
        return true;
    }
    if (v->type != TL_VAL_TEXT || v->len >= size)
        return false;
    memcpy(dst, v->s, v->len);
    dst[v->len] = '\0';
    return true;
}

static int on_key_row(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    (void)names;
    struct key_row *r = ud;
    r->found = true;
    if (n_cols < 5) {
        r->bad_column = true;
        return 1;
    }
    r->bad_column = !copy_col(r->hash, sizeof r->hash, &cols[0]) ||
                    !copy_col(r->role, sizeof r->role, &cols[1]) ||
                    !copy_col(r->customer_id, sizeof r->customer_id, &cols[2]);
    r->expires_ms = col_int(&cols[3]);
    r->revoked_ms = col_int(&cols[4]);
    return 1;
}

int tl_auth_key_verify(tl_ctx *ctx, const char *token, int64_t now_ms, struct tl_principal *p,
                       tl_err *err)
{
    if (!ctx || !p)
        return tl_err_set(err, TL_EINVAL, "tl_auth_key_verify: no context or principal was given");
    size_t n = token ? strnlen(token, KEY_LEN + 1) : 0;
    bool ok = n == KEY_LEN && memcmp(token, KEY_PREFIX, KEY_PREFIX_LEN) == 0 &&
              token[KEY_PREFIX_LEN + KEY_ID_LEN] == '_';
    for (size_t i = 0; ok && i < KEY_ID_LEN; i++)
        ok = is_id_char(token[KEY_PREFIX_LEN + i]);
    const char *sec = ok ? token + KEY_PREFIX_LEN + KEY_ID_LEN + 1 : NULL;
    for (size_t i = 0; ok && i < KEY_SECRET_LEN; i++)
        ok = is_b64url_char(sec[i]);
    if (!ok)
        return tl_err_set(err, TL_EAUTH,
                          "malformed API key: expected tk_<12 characters of a-z0-9>_<43 characters of "
                          "base64url> (%zu characters given)",
                          n > KEY_LEN ? (size_t)KEY_LEN + 1 : n);
    char id[KEY_ID_LEN + 1];
    memcpy(id, token + KEY_PREFIX_LEN, KEY_ID_LEN);
    id[KEY_ID_LEN] = '\0';

    const tl_keyring *kr;
    int rc = get_keyring(ctx, &kr, err);
    if (rc < 0)
        return rc;
    struct key_row row = {0};
    tl_value prm[] = {TL_TEXT(id)};
    rc = tl_store_exec(tl_ctx_store(ctx),
                       "SELECT key_hash, role, customer_id, expires_ms, revoked_ms FROM api_keys"
                       " WHERE id = ?",
                       1, prm, on_key_row, &row, err);
    if (rc < 0)
        return tl_err_prefix(err, "checking API key %s", id);
    if (!row.found)
        return tl_err_set(err, TL_EAUTH, "unknown API key: no key has the id %s", id);

    if (row.bad_column)
        return tl_err_set(err, TL_EAUTH, "API key %s is refused: its row in the store is malformed", id);
    char hash[65];
    tl_keyring_hash(kr, HASH_CONTEXT, sec, KEY_SECRET_LEN, hash);
    bool match = strlen(row.hash) == 64 && sodium_memcmp(hash, row.hash, 64) == 0;
    sodium_memzero(hash, sizeof hash);
    if (!match)
        return tl_err_set(err, TL_EAUTH, "invalid API key: the secret does not match key %s", id);
    /* Revocation and expiry are told only to a holder of the right secret. */
    if (row.revoked_ms)
        return tl_err_set(err, TL_EAUTH, "API key %s was revoked", id);
    if (row.expires_ms && now_ms >= row.expires_ms) {
        char when[32] = "?";
        tl_time_format(row.expires_ms, when, sizeof when);
        return tl_err_set(err, TL_EAUTH, "API key %s expired at %s", id, when);
    }
    enum tl_role role = tl_role_parse(row.role);
    if (role == TL_ROLE_NONE || (role == TL_ROLE_CUSTOMER) != (row.customer_id[0] != '\0'))
        return tl_err_set(err, TL_EAUTH,
                          "API key %s is refused: its stored role \"%s\" or customer does not hold "
                          "together",
                          id, row.role);
    memset(p, 0, sizeof *p);
    p->role = role;
    memcpy(p->customer_id, row.customer_id, strlen(row.customer_id) + 1);
    memcpy(p->subject, id, KEY_ID_LEN + 1);
    p->expires_ms = row.expires_ms;
    return 0;
}
