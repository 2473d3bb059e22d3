/*
 * jwt.c - bearer JWTs from the bank's identity provider (auth.h).
 *
 * Keys (auth.jwt_keys) are read once, by tl_jwt_verifier_new:
 *   - a directory: every file KID.pem in it is one public key whose key id
 *     is KID (the token's "kid" header picks it); other files are ignored;
 *   - a single file KID.pem: the one key, for tokens whose kid is KID or
 *     that carry no kid.
 * A token without a kid is accepted only when exactly one key is configured.
 * Each file holds one SubjectPublicKeyInfo block ("BEGIN PUBLIC KEY", what
 * `openssl pkey -pubout` writes): an RSA key of at least 2048 bits verifies
 * RS256 only, an EC P-256 key verifies ES256 only. The type is read from
 * the key's DER here (no extra crypto dependency), so a key never verifies
 * an algorithm it was not made for.
 *
 * Order of checks, and why: the JOSE header is decoded and judged by this
 * file BEFORE libjwt sees the token. libjwt 1.10's jwt_decode takes the
 * algorithm from the token itself; handed an RSA public key and an HS256
 * token it would check an HMAC keyed with the PEM text, which anybody can
 * forge (algorithm confusion). So only "RS256" and "ES256" pass, "none" and
 * every HMAC or other algorithm are refused by name, the key is chosen by
 * kid and must be of the header's algorithm, and after jwt_decode the
 * algorithm libjwt used must equal the header's. Header and claims are
 * parsed with a strict base64url decoder and jansson with duplicate keys
 * rejected, so what is checked is exactly what was signed.
 *
 * Claims: exp is required, nbf is optional, both with a leeway of
 * JWT_LEEWAY_S (60 s) for clock skew between the IdP and this host; iat is
 * not checked. iss must equal auth.jwt_issuer; aud must equal
 * auth.jwt_audience or be an array holding it; sub is required (it becomes
 * the audit actor). The role is the string claim named by
 * auth.jwt_role_claim; the customer role also needs the string claim named
 * by auth.jwt_customer_claim. A "crit" header is refused (no extension is
 * understood); "jku", "jwk" and "x5u" are ignored: keys are never fetched.
 */
#include <teller/auth.h>
#include <teller/datetime.h>
#include <teller/utf8.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/internal.h"

#define JWT_LEEWAY_S 60
#define JWT_MAX_BYTES 8192
#define JWT_MAX_KEYS 256
#define PEM_MAX_BYTES 16384
#define KID_MAX 128
#define RSA_MIN_BITS 2048
#define TIME_MAX_S 253402300799LL /* 9999-12-31T23:59:59Z */

enum key_alg { KEY_RS256 = 1, KEY_ES256 = 2 };

struct jwt_key {
    char *kid;
    char *path;
    char *pem; /* the one PUBLIC KEY block, NUL-terminated */
    size_t pem_len;
    enum key_alg alg;
};

struct tl_jwt_verifier {
    struct jwt_key *keys; /* sorted by kid */
    size_t n_keys;
    char *issuer, *audience, *role_claim, *customer_claim;
};

static const char *alg_name(enum key_alg a)
{
    return a == KEY_RS256 ? "RS256" : "ES256";
}

static const char *key_kind(enum key_alg a)
{
    return a == KEY_RS256 ? "an RSA key" : "an EC P-256 key";
}

/* ------------------------------------------------------- DER, just enough --- */

struct der {
    const unsigned char *p;
    size_t n;
};

/* Takes the next TLV when its tag is tag; val gets its contents. Lengths are
 * checked against the bytes left before anything is read. */
static bool der_next(struct der *d, unsigned char tag, struct der *val)
{
    if (d->n < 2 || d->p[0] != tag)
        return false;
    size_t len = d->p[1], hdr = 2;
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        if (nb == 0 || nb > 3 || d->n < 2 + nb)
            return false;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = (len << 8) | d->p[2 + i];
        hdr += nb;
    }
    if (len > d->n - hdr)
        return false;
    val->p = d->p + hdr;
    val->n = len;
    d->p += hdr + len;
    d->n -= hdr + len;
    return true;
}

static bool der_is(const struct der *d, const unsigned char *b, size_t n)
{
    return d->n == n && memcmp(d->p, b, n) == 0;
}

static const unsigned char OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const unsigned char OID_EC[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const unsigned char OID_P256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* SubjectPublicKeyInfo ::= SEQUENCE { SEQUENCE { OID, params }, BIT STRING } */
static int spki_alg(const char *path, const unsigned char *bytes, size_t n, enum key_alg *alg,
                    tl_err *err)
{
    struct der top = {bytes, n}, spki, algid, oid, bits;
    if (!der_next(&top, 0x30, &spki) || top.n || !der_next(&spki, 0x30, &algid) ||
        !der_next(&spki, 0x03, &bits) || spki.n || !der_next(&algid, 0x06, &oid) || bits.n < 1 ||
        bits.p[0] != 0)
        return tl_err_set(err, TL_EINVAL, "JWT key %s: the PUBLIC KEY block is not a valid DER "
                          "SubjectPublicKeyInfo", path);
    struct der key = {bits.p + 1, bits.n - 1};
    if (der_is(&oid, OID_RSA, sizeof OID_RSA)) {
        struct der seq, mod, e;
        if (!der_next(&key, 0x30, &seq) || key.n || !der_next(&seq, 0x02, &mod) ||
            !der_next(&seq, 0x02, &e) || seq.n || mod.n == 0 || e.n == 0)
            return tl_err_set(err, TL_EINVAL, "JWT key %s: the RSA public key is malformed", path);
        while (mod.n && mod.p[0] == 0)
            mod.p++, mod.n--;
        size_t n_bits = mod.n * 8;
        for (unsigned char top_byte = mod.n ? mod.p[0] : 0; n_bits && !(top_byte & 0x80); top_byte <<= 1)
            n_bits--;
        if (n_bits < RSA_MIN_BITS)
            return tl_err_set(err, TL_EINVAL, "JWT key %s: RSA key of %zu bits; at least %d are required",
                              path, n_bits, RSA_MIN_BITS);
        *alg = KEY_RS256;
        return 0;
    }
    if (der_is(&oid, OID_EC, sizeof OID_EC)) {
        struct der curve;
        if (!der_next(&algid, 0x06, &curve) || !der_is(&curve, OID_P256, sizeof OID_P256))
            return tl_err_set(err, TL_EINVAL,
                              "JWT key %s: EC key on a curve other than P-256 (ES256 needs P-256)", path);
        bool ok = (key.n == 65 && key.p[0] == 0x04) || (key.n == 33 && (key.p[0] == 2 || key.p[0] == 3));
        if (!ok)
            return tl_err_set(err, TL_EINVAL, "JWT key %s: the EC P-256 point is malformed", path);
        *alg = KEY_ES256;
        return 0;
    }
    return tl_err_set(err, TL_EINVAL,
                      "JWT key %s: neither an RSA nor an EC key (only RS256 and ES256 are accepted)", path);
}

/* -------------------------------------------------------------- key files --- */

static int read_small_file(const char *path, size_t max, char **out, size_t *len, tl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tl_err_set(err, TL_EIO, "cannot open JWT key %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return tl_err_set(err, TL_ENOMEM, "out of memory reading JWT key %s", path);
    }
    size_t n = fread(buf, 1, max + 1, f);
    bool failed = ferror(f);
    fclose(f);
    if (failed || n > max) {
        free(buf);
        if (failed)
            return tl_err_set(err, TL_EIO, "cannot read JWT key %s", path);
        return tl_err_set(err, TL_ETOOBIG, "JWT key %s is larger than %zu bytes: not a public key", path,
                          max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

#define PEM_BEGIN "-----BEGIN PUBLIC KEY-----"
#define PEM_END "-----END PUBLIC KEY-----"

/* Finds the one PUBLIC KEY block of text, checks its DER, and keeps a copy
 * of the block in k (what libjwt is given, nothing else of the file). */
static int load_key(const char *path, const char *kid, struct jwt_key *k, tl_err *err)
{
    size_t len = 0;
    char *text = NULL;
    int rc = read_small_file(path, PEM_MAX_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    unsigned char *der = NULL;
    if (memchr(text, '\0', len)) {
        rc = tl_err_set(err, TL_EINVAL, "JWT key %s is not a PEM text file", path);
        goto out;
    }
    if (strstr(text, "PRIVATE KEY")) {
        rc = tl_err_set(err, TL_EINVAL,
                        "JWT key %s holds a private key: give only the identity provider's public key",
                        path);
        goto out;
    }
    if (strstr(text, "BEGIN RSA PUBLIC KEY")) {
        rc = tl_err_set(err, TL_EINVAL,
                        "JWT key %s is a PKCS#1 RSA key; convert it with `openssl rsa -RSAPublicKey_in "
                        "-in FILE -pubout`",
                        path);
        goto out;
    }
    const char *begin = strstr(text, PEM_BEGIN);
    const char *end = begin ? strstr(begin, PEM_END) : NULL;
    if (!begin || !end) {
        rc = tl_err_set(err, TL_EINVAL, "JWT key %s holds no " PEM_BEGIN " ... " PEM_END " block", path);
        goto out;
    }
    if (strstr(end, PEM_BEGIN)) {
        rc = tl_err_set(err, TL_EINVAL, "JWT key %s holds more than one public key: put one key per file",
                        path);
        goto out;
    }
    const char *body = begin + strlen(PEM_BEGIN);
    size_t body_len = (size_t)(end - body), der_len = 0;
    der = malloc(body_len + 1);
    if (!der) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory reading JWT key %s", path);
        goto out;
    }
    if (sodium_base642bin(der, body_len + 1, body, body_len, " \t\r\n", &der_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        rc = tl_err_set(err, TL_EINVAL, "JWT key %s: the PUBLIC KEY block is not valid base64", path);
        goto out;
    }
    rc = spki_alg(path, der, der_len, &k->alg, err);
    if (rc < 0)
        goto out;
    size_t block_len = (size_t)(end - begin) + strlen(PEM_END);
    k->pem = malloc(block_len + 2);
    k->kid = strdup(kid);
    k->path = strdup(path);
    if (!k->pem || !k->kid || !k->path) {
        free(k->pem), free(k->kid), free(k->path);
        memset(k, 0, sizeof *k);
        rc = tl_err_set(err, TL_ENOMEM, "out of memory reading JWT key %s", path);
        goto out;
    }
    memcpy(k->pem, begin, block_len);
    k->pem[block_len] = '\n';
    k->pem[block_len + 1] = '\0';
    k->pem_len = block_len + 1;
out:
    free(der);
    free(text);
    return rc;
}

/* The kid a file name gives: NAME.pem -> NAME. */
static bool kid_of(const char *file_name, char kid[KID_MAX + 1])
{
    size_t n = strlen(file_name);
    if (n <= 4 || strcmp(file_name + n - 4, ".pem") != 0 || n - 4 > KID_MAX)
        return false;
    memcpy(kid, file_name, n - 4);
    kid[n - 4] = '\0';
    return true;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct jwt_key *)a)->kid, ((const struct jwt_key *)b)->kid);
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int load_dir(tl_jwt_verifier *v, const char *dir, tl_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tl_err_set(err, TL_EIO, "auth.jwt_keys: cannot open directory %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char kid[KID_MAX + 1];
        if (e->d_name[0] == '.' || !kid_of(e->d_name, kid))
            continue;
        char *path = join_path(dir, e->d_name);
        if (!path) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (v->n_keys == JWT_MAX_KEYS) {
            rc = tl_err_set(err, TL_ETOOBIG, "auth.jwt_keys: %s holds more than %d keys", dir, JWT_MAX_KEYS);
            free(path);
            break;
        }
        struct jwt_key k = {0};
        rc = load_key(path, kid, &k, err);
        free(path);
        if (rc == 0)
            v->keys[v->n_keys++] = k;
    }
    closedir(d);
    if (rc == 0 && v->n_keys == 0)
        rc = tl_err_set(err, TL_EINVAL, "auth.jwt_keys: directory %s holds no KID.pem public key files", dir);
    if (rc == 0)
        qsort(v->keys, v->n_keys, sizeof v->keys[0], cmp_key);
    return rc;
}

/* -------------------------------------------------------------- verifier --- */

void tl_jwt_verifier_free(tl_jwt_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_keys; i++) {
        free(v->keys[i].kid);
        free(v->keys[i].path);
        free(v->keys[i].pem);
    }
    free(v->keys);
    free(v->issuer);
    free(v->audience);
    free(v->role_claim);
    free(v->customer_claim);
    free(v);
}

static const char *cfg_str(const tl_config *cfg, const char *key)
{
    const char *s = tl_config_get(cfg, key);
    return s ? s : "";
}

int tl_jwt_verifier_new(const tl_config *cfg, tl_jwt_verifier **out, tl_err *err)
{
    if (!cfg || !out)
        return tl_err_set(err, TL_EINVAL, "tl_jwt_verifier_new: no configuration or output was given");
    const char *keys = cfg_str(cfg, "auth.jwt_keys");
    if (!*keys) {
        *out = NULL;
        return 0;
    }
    static const char *const required[] = {"auth.jwt_issuer", "auth.jwt_audience", "auth.jwt_role_claim",
                                           "auth.jwt_customer_claim"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!*cfg_str(cfg, required[i]))
            return tl_err_set(err, TL_EINVAL,
                              "auth.jwt_keys is set but %s is empty: JWTs cannot be checked without it",
                              required[i]);
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialize");
    struct stat st;
    if (stat(keys, &st) != 0)
        return tl_err_set(err, TL_EIO, "auth.jwt_keys: cannot read %s: %s", keys, strerror(errno));
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return tl_err_set(err, TL_EINVAL, "auth.jwt_keys: %s is neither a directory nor a file", keys);

    tl_jwt_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "out of memory building the JWT verifier");
    v->keys = calloc(S_ISDIR(st.st_mode) ? JWT_MAX_KEYS : 1, sizeof *v->keys);
    v->issuer = strdup(cfg_str(cfg, "auth.jwt_issuer"));
    v->audience = strdup(cfg_str(cfg, "auth.jwt_audience"));
    v->role_claim = strdup(cfg_str(cfg, "auth.jwt_role_claim"));
    v->customer_claim = strdup(cfg_str(cfg, "auth.jwt_customer_claim"));
    int rc = 0;
    if (!v->keys || !v->issuer || !v->audience || !v->role_claim || !v->customer_claim) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory building the JWT verifier");
    } else if (S_ISDIR(st.st_mode)) {
        rc = load_dir(v, keys, err);
    } else {
        const char *base = strrchr(keys, '/');
        base = base ? base + 1 : keys;
        char kid[KID_MAX + 1];
        if (!kid_of(base, kid))
            rc = tl_err_set(err, TL_EINVAL,
                            "auth.jwt_keys: %s must be named KID.pem (the file name gives the key id)", keys);
        else if ((rc = load_key(keys, kid, &v->keys[0], err)) == 0)
            v->n_keys = 1;
    }
    if (rc < 0) {
        tl_jwt_verifier_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ----------------------------------------------------------------- verify --- */

static bool is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

/* Decodes one base64url segment holding a JSON object; NULL when it is not
 * one (strict: no padding, canonical bits, no NUL, no duplicate keys). */
static json_t *segment_json(const char *s, size_t n, bool *oom)
{
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        *oom = true;
        return NULL;
    }
    size_t len = 0;
    json_t *j = NULL;
    if (sodium_base642bin(buf, n + 1, s, n, NULL, &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
            0 &&
        !memchr(buf, 0, len)) {
        j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
        if (j && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    free(buf);
    return j;
}

/* A NumericDate claim as whole seconds; false when absent or not a sane one. */
static bool claim_time(const json_t *claims, const char *name, bool *present, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (!v)
        return true;
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return false;
    if (!(d >= 0 && d <= (double)TIME_MAX_S))
        return false;
    *out = (int64_t)d;
    return true;
}

static void fmt_time(int64_t s, char buf[32])
{
    if (tl_time_format(s * 1000, buf, 32) < 0)
        snprintf(buf, 32, "%lld", (long long)s);
}

/* The C string of a JSON string value; NULL when v is not a string or holds
 * a NUL (which would make strcmp see less than was signed). */
static const char *jstr(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

/* A claim or header value, quoted for a message (tl__quote: cut, escaped). */
#define Q(buf, str) tl__quote((buf), sizeof(buf), (str), strlen(str))

static const struct jwt_key *find_key(const tl_jwt_verifier *v, const char *kid)
{
    struct jwt_key probe = {.kid = (char *)kid};
    return bsearch(&probe, v->keys, v->n_keys, sizeof v->keys[0], cmp_key);
}

/* Judges the JOSE header before any cryptography: the algorithm, crit, typ,
 * and the key it names. */
static int check_header(const tl_jwt_verifier *v, const json_t *hdr, const struct jwt_key **key,
                        tl_err *err)
{
    const char *alg = jstr(json_object_get(hdr, "alg"));
    if (!alg)
        return tl_err_set(err, TL_EAUTH, "JWT refused: its header has no \"alg\" string");
    char q[TL__QUOTE_SIZE];
    enum key_alg want;
    if (strcmp(alg, "RS256") == 0) {
        want = KEY_RS256;
    } else if (strcmp(alg, "ES256") == 0) {
        want = KEY_ES256;
    } else if (strcasecmp(alg, "none") == 0) {
        return tl_err_set(err, TL_EAUTH, "JWT refused: alg \"%s\" (an unsigned token) is never accepted; "
                          "only RS256 and ES256 are", Q(q, alg));
    } else if (strncasecmp(alg, "HS", 2) == 0) {
        return tl_err_set(err, TL_EAUTH,
                          "JWT refused: alg \"%s\" is an HMAC algorithm; only RS256 and ES256 are "
                          "accepted (an HMAC checked with a public key would be algorithm confusion)",
                          Q(q, alg));
    } else {
        return tl_err_set(err, TL_EAUTH, "JWT refused: alg \"%s\" is not supported; only RS256 and ES256 are",
                          Q(q, alg));
    }
    if (json_object_get(hdr, "crit"))
        return tl_err_set(err, TL_EAUTH, "JWT refused: its header has \"crit\" extensions, none of which "
                          "are understood");
    const json_t *typ = json_object_get(hdr, "typ");
    if (typ && (!jstr(typ) || strcasecmp(jstr(typ), "JWT") != 0))
        return tl_err_set(err, TL_EAUTH, "JWT refused: header typ must be \"JWT\" when present");
    const json_t *kid_j = json_object_get(hdr, "kid");
    const char *kid = jstr(kid_j);
    if (kid_j && !kid)
        return tl_err_set(err, TL_EAUTH, "JWT refused: header kid must be a string");
    const struct jwt_key *k;
    if (kid) {
        k = find_key(v, kid);
        if (!k)
            return tl_err_set(err, TL_EAUTH,
                              "JWT refused: unknown key id (kid) \"%s\": no such key in auth.jwt_keys",
                              Q(q, kid));
    } else {
        if (v->n_keys != 1)
            return tl_err_set(err, TL_EAUTH,
                              "JWT refused: the token names no key id (kid) and %zu keys are configured",
                              v->n_keys);
        k = &v->keys[0];
    }
    if (k->alg != want)
        return tl_err_set(err, TL_EAUTH, "JWT refused: key \"%s\" is %s, which does not verify %s",
                          Q(q, k->kid), key_kind(k->alg), alg);
    *key = k;
    return 0;
}

static int check_claims(const tl_jwt_verifier *v, const json_t *c, int64_t now_s, struct tl_principal *p,
                        tl_err *err)
{
    char t1[32], t2[32], q1[TL__QUOTE_SIZE], q2[TL__QUOTE_SIZE];
    bool present;
    int64_t exp = 0, nbf = 0;
    if (!claim_time(c, "exp", &present, &exp))
        return tl_err_set(err, TL_EAUTH, "JWT refused: exp is not a valid NumericDate");
    if (!present)
        return tl_err_set(err, TL_EAUTH, "JWT refused: it has no exp (expiry) claim");
    if (now_s >= exp + JWT_LEEWAY_S) {
        fmt_time(exp, t1), fmt_time(now_s, t2);
        return tl_err_set(err, TL_EAUTH, "JWT refused: expired at %s (now %s, leeway %d s)", t1, t2,
                          JWT_LEEWAY_S);
    }
    if (!claim_time(c, "nbf", &present, &nbf))
        return tl_err_set(err, TL_EAUTH, "JWT refused: nbf is not a valid NumericDate");
    if (present && now_s + JWT_LEEWAY_S < nbf) {
        fmt_time(nbf, t1), fmt_time(now_s, t2);
        return tl_err_set(err, TL_EAUTH, "JWT refused: not yet valid before %s (now %s, leeway %d s)", t1,
                          t2, JWT_LEEWAY_S);
    }

    const char *iss = jstr(json_object_get(c, "iss"));
    if (!iss)
        return tl_err_set(err, TL_EAUTH,
                          "JWT refused: wrong issuer: it has no iss string, \"%s\" is required",
                          Q(q1, v->issuer));
    if (strcmp(iss, v->issuer) != 0)
        return tl_err_set(err, TL_EAUTH, "JWT refused: wrong issuer \"%s\" (iss), \"%s\" is required",
                          Q(q1, iss), Q(q2, v->issuer));

    const json_t *aud = json_object_get(c, "aud");
    bool aud_ok = jstr(aud) && strcmp(jstr(aud), v->audience) == 0;
    if (json_is_array(aud)) {
        size_t i;
        const json_t *a;
        json_array_foreach(aud, i, a) aud_ok = aud_ok || (jstr(a) && strcmp(jstr(a), v->audience) == 0);
    }
    if (!aud_ok)
        return tl_err_set(err, TL_EAUTH, "JWT refused: wrong audience: aud does not hold \"%s\"",
                          Q(q1, v->audience));

    const char *sub = jstr(json_object_get(c, "sub"));
    size_t sub_len = sub ? strlen(sub) : 0;
    if (sub_len == 0 || sub_len >= sizeof p->subject)
        return tl_err_set(err, TL_EAUTH, "JWT refused: sub (subject) must be a string of 1 to %zu bytes",
                          sizeof p->subject - 1);

    const json_t *role_j = json_object_get(c, v->role_claim);
    if (!role_j)
        return tl_err_set(err, TL_EAUTH, "JWT refused: it has no role claim \"%s\" (auth.jwt_role_claim)",
                          Q(q1, v->role_claim));
    enum tl_role role = tl_role_parse(jstr(role_j));
    if (role == TL_ROLE_NONE)
        return tl_err_set(err, TL_EAUTH,
                          "JWT refused: role claim \"%s\" holds \"%s\", which is not a role "
                          "(customer, analyst, service or admin)",
                          Q(q1, v->role_claim),
                          jstr(role_j) ? Q(q2, jstr(role_j)) : "(not a string)");

    const char *customer = "";
    if (role == TL_ROLE_CUSTOMER) {
        customer = jstr(json_object_get(c, v->customer_claim));
        size_t n = customer ? strlen(customer) : 0;
        if (n == 0)
            return tl_err_set(err, TL_EAUTH,
                              "JWT refused: the customer role needs the customer claim \"%s\" "
                              "(auth.jwt_customer_claim) as a non-empty string",
                              Q(q1, v->customer_claim));
        if (n >= sizeof p->customer_id)
            return tl_err_set(err, TL_EAUTH, "JWT refused: the customer claim is longer than %zu bytes",
                              sizeof p->customer_id - 1);
    }
    memset(p, 0, sizeof *p);
    p->role = role;
    memcpy(p->customer_id, customer, strlen(customer) + 1);
    memcpy(p->subject, sub, sub_len + 1);
    return 0;
}

int tl_jwt_verify(const tl_jwt_verifier *v, const char *token, int64_t now_s, struct tl_principal *p,
                  tl_err *err)
{
    if (!p)
        return tl_err_set(err, TL_EINVAL, "tl_jwt_verify: no principal was given");
    if (!v)
        return tl_err_set(err, TL_EAUTH,
                          "bearer JWTs are not accepted: no identity provider keys are configured "
                          "(auth.jwt_keys)");
    if (now_s < 0 || now_s > TIME_MAX_S)
        return tl_err_set(err, TL_EINVAL, "tl_jwt_verify: the time %lld s is out of range",
                          (long long)now_s);
    size_t n = token ? strnlen(token, JWT_MAX_BYTES + 1) : 0;
    if (n > JWT_MAX_BYTES)
        return tl_err_set(err, TL_EAUTH, "malformed JWT: longer than %d bytes", JWT_MAX_BYTES);
    const char *dot1 = n ? memchr(token, '.', n) : NULL;
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
    const char *sig = dot2 ? dot2 + 1 : NULL;
    size_t sig_len = sig ? n - (size_t)(sig - token) : 0;
    if (!dot2 || dot1 == token || dot2 == dot1 + 1 || !is_b64url(token, (size_t)(dot1 - token)) ||
        !is_b64url(dot1 + 1, (size_t)(dot2 - dot1 - 1)) || !is_b64url(sig, sig_len))
        return tl_err_set(err, TL_EAUTH,
                          "malformed JWT: expected three base64url segments HEADER.PAYLOAD.SIGNATURE");

    bool oom = false;
    json_t *hdr = segment_json(token, (size_t)(dot1 - token), &oom);
    json_t *claims = NULL;
    jwt_t *jwt = NULL;
    int rc = 0;
    if (!hdr) {
        rc = oom ? tl_err_set(err, TL_ENOMEM, "out of memory reading a JWT")
                 : tl_err_set(err, TL_EAUTH, "malformed JWT: the header is not a base64url JSON object");
        goto out;
    }
    const struct jwt_key *key = NULL;
    if ((rc = check_header(v, hdr, &key, err)) < 0)
        goto out;
    if (sig_len == 0) {
        rc = tl_err_set(err, TL_EAUTH, "JWT refused: it has no signature");
        goto out;
    }
    claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), &oom);
    if (!claims) {
        rc = oom ? tl_err_set(err, TL_ENOMEM, "out of memory reading a JWT")
                 : tl_err_set(err, TL_EAUTH, "malformed JWT: the payload is not a base64url JSON object");
        goto out;
    }
    /* Only now does libjwt see the token, with the one key the header's
     * algorithm and kid allow. */
    int jrc = jwt_decode(&jwt, token, (const unsigned char *)key->pem, (int)key->pem_len);
    if (jrc == ENOMEM) {
        rc = tl_err_set(err, TL_ENOMEM, "out of memory verifying a JWT");
        goto out;
    }
    if (jrc != 0 || !jwt) {
        char q[TL__QUOTE_SIZE];
        rc = tl_err_set(err, TL_EAUTH, "JWT refused: bad signature: it does not verify against key \"%s\"",
                        Q(q, key->kid));
        goto out;
    }
    jwt_alg_t want = key->alg == KEY_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256;
    if (jwt_get_alg(jwt) != want) {
        rc = tl_err_set(err, TL_EAUTH, "JWT refused: libjwt verified with %s, not the header's %s",
                        jwt_alg_str(jwt_get_alg(jwt)) ? jwt_alg_str(jwt_get_alg(jwt)) : "?",
                        alg_name(key->alg));
        goto out;
    }
    rc = check_claims(v, claims, now_s, p, err);
out:
    jwt_free(jwt);
    json_decref(claims);
    json_decref(hdr);
    return rc;
}
