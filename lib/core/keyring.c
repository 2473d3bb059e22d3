/*
 * keyring.c - data keys for PII at rest and keyed hashes (see keyring.h).
 *
 * Each key of the file yields three subkeys through crypto_kdf: one for
 * XChaCha20-Poly1305, one that keys the nonce hash, and (for the first key
 * only) the index key of blind indexes. Keeping them apart means the nonce
 * PRF and the cipher never share a key, and rotating the data key never
 * changes a blind index.
 *
 * A sealed value's nonce is BLAKE2b(nonce key, context || 0 || plaintext),
 * the synthetic-IV construction of deterministic authenticated encryption:
 * the same (key, context, plaintext) always gives the same text, so
 * re-ingesting a file rewrites identical bytes, and a nonce never repeats
 * with a different message.
 *
 * Keys live in a fixed array of pointers whose count is published with
 * release/acquire atomics: tl_keyring_rotate and the reload that follows a
 * rotation by another process only append, so readers on other threads (the
 * server's workers) never see a half-written key and never take a lock.
 */
#include <teller/keyring.h>
#include <teller/log.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32
#define ID_MAX 31                  /* bytes of a key id; ids are copied into char[32] */
#define MAX_KEYS 4096              /* keys per ring: monthly rotation for 300 years */
#define FILE_MAX ((size_t)1 << 20) /* a key file larger than this is not a key file */
#define SEAL_PREFIX "tlenc1:"
#define SEAL_PREFIX_LEN (sizeof SEAL_PREFIX - 1)
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEAL_MAX ((size_t)1 << 30) /* plaintexts past 1 GiB are refused */

_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == KEY_BYTES, "XChaCha20 key size");
_Static_assert(crypto_kdf_KEYBYTES == KEY_BYTES, "KDF master key size");
_Static_assert(NONCE_BYTES == 24 && TAG_BYTES == 16, "XChaCha20-Poly1305 sizes");

/* Subkey ids under the KDF context: append only, since stored values depend
 * on them. */
#define KDF_CONTEXT "tellerdk"
enum { SUBKEY_AEAD = 1, SUBKEY_NONCE = 2, SUBKEY_INDEX = 3 };

struct key {
    char id[ID_MAX + 1];
    unsigned char aead[KEY_BYTES];  /* XChaCha20-Poly1305 */
    unsigned char nonce[KEY_BYTES]; /* keys the synthetic nonce */
    unsigned char check[KEY_BYTES]; /* BLAKE2b of the raw key: tells a changed file apart */
};

struct tl_keyring {
    struct key *keys[MAX_KEYS];
    _Atomic size_t n;                  /* keys[0..n) are complete; keys[n-1] is active */
    unsigned char index[KEY_BYTES];    /* blind indexes and API key hashes */
    char *path;                        /* the key file, or NULL for TELLER_DATA_KEY */
    pthread_mutex_t mu;                /* serializes rotate and reload (writers only) */
    struct stat seen;                  /* the file as last read, to skip needless reloads */
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static bool valid_id(const char *s, size_t n)
{
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* Operators paste keys from `openssl rand -base64 32` as often as from a
 * file teller wrote (URL-safe, unpadded), so every variant is accepted. */
static bool decode_key(const char *b64, size_t n, unsigned char out[KEY_BYTES])
{
    static const int variants[] = {
        sodium_base64_VARIANT_URLSAFE_NO_PADDING, sodium_base64_VARIANT_URLSAFE,
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        size_t bin_len = 0;
        const char *end = NULL;
        if (sodium_base642bin(out, KEY_BYTES, b64, n, NULL, &bin_len, &end, variants[v]) == 0 &&
            end == b64 + n && bin_len == KEY_BYTES)
            return true;
    }
    sodium_memzero(out, KEY_BYTES);
    return false;
}

static struct key *key_new(const char *id, size_t id_len, const unsigned char raw[KEY_BYTES])
{
    struct key *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    memcpy(k->id, id, id_len);
    k->id[id_len] = 0;
    crypto_kdf_derive_from_key(k->aead, KEY_BYTES, SUBKEY_AEAD, KDF_CONTEXT, raw);
    crypto_kdf_derive_from_key(k->nonce, KEY_BYTES, SUBKEY_NONCE, KDF_CONTEXT, raw);
    crypto_generichash(k->check, KEY_BYTES, raw, KEY_BYTES, NULL, 0);
    return k;
}

static void key_free(struct key *k)
{
    if (!k)
        return;
    sodium_memzero(k, sizeof *k);
    free(k);
}

/* A list of keys being parsed, before it becomes (part of) a ring. */
struct keylist {
    struct key *k[MAX_KEYS];
    size_t n;
    unsigned char first_raw[KEY_BYTES]; /* for the index key */
};

static void keylist_clear(struct keylist *l)
{
    for (size_t i = 0; i < l->n; i++)
        key_free(l->k[i]);
    l->n = 0;
    sodium_memzero(l->first_raw, sizeof l->first_raw);
}

static const struct key *keylist_find(const struct keylist *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->k[i]->id, id) == 0)
            return l->k[i];
    return NULL;
}

/* Adds (id, raw) to l; source and line name it in errors. */
static int keylist_add(struct keylist *l, const char *id, size_t id_len,
                       const unsigned char raw[KEY_BYTES], const char *source, size_t line,
                       tl_err *err)
{
    char idz[ID_MAX + 1];
    memcpy(idz, id, id_len);
    idz[id_len] = 0;
    if (keylist_find(l, idz))
        return tl_err_set(err, TL_EINVAL, "%s:%zu: key id \"%s\" appears twice", source, line,
                          idz);
    if (l->n == MAX_KEYS)
        return tl_err_set(err, TL_ETOOBIG, "%s:%zu: more than %d keys", source, line, MAX_KEYS);
    struct key *k = key_new(id, id_len, raw);
    if (!k)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory loading keys", source);
    if (l->n == 0)
        memcpy(l->first_raw, raw, KEY_BYTES);
    l->k[l->n++] = k;
    return 0;
}

/* Parses a key file's text: one "KEYID BASE64" per line; blank lines and
 * lines starting with '#' are skipped. Key material never reaches a message. */
static int parse_keys(char *text, size_t len, const char *source, struct keylist *l, tl_err *err)
{
    size_t line = 0, pos = 0;
    while (pos < len) {
        line++;
        char *s = text + pos;
        char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n && s[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n || s[i] == '#')
            continue;
        size_t id0 = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        size_t id_len = i - id0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t b0 = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        size_t b_len = i - b0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (b_len == 0 || i != n)
            return tl_err_set(err, TL_EPARSE,
                              "%s:%zu: expected \"KEYID BASE64\" (a key id, a space, and 32 "
                              "bytes in base64)",
                              source, line);
        if (!valid_id(s + id0, id_len))
            return tl_err_set(err, TL_EPARSE,
                              "%s:%zu: the key id is not valid (1-%d characters of A-Z a-z 0-9 "
                              "_ - .)",
                              source, line, ID_MAX);
        unsigned char raw[KEY_BYTES];
        if (!decode_key(s + b0, b_len, raw))
            return tl_err_set(err, TL_EPARSE,
                              "%s:%zu: the key of \"%.*s\" is not 32 bytes in base64", source,
                              line, (int)id_len, s + id0);
        int rc = keylist_add(l, s + id0, id_len, raw, source, line, err);
        sodium_memzero(raw, sizeof raw);
        if (rc < 0)
            return rc;
    }
    if (l->n == 0)
        return tl_err_set(err, TL_EPARSE, "%s: holds no keys (expected lines \"KEYID BASE64\")",
                          source);
    return 0;
}

/* Reads a whole key file (at most FILE_MAX bytes) into *out (malloc'd; the
 * caller zeroes and frees it). *sb receives its stat. */
static int read_file(const char *path, char **out, size_t *len, struct stat *sb, tl_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO,
                          "cannot open the key file %s: %s", path, strerror(errno));
    if (fstat(fd, sb) != 0) {
        int e = errno;
        close(fd);
        return tl_err_set(err, TL_EIO, "cannot stat the key file %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb->st_mode)) {
        close(fd);
        return tl_err_set(err, TL_EIO, "the key file %s is not a regular file", path);
    }
    if ((size_t)sb->st_size > FILE_MAX) {
        close(fd);
        return tl_err_set(err, TL_ETOOBIG, "the key file %s is larger than %zu bytes", path,
                          FILE_MAX);
    }
    size_t cap = (size_t)sb->st_size + 1;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return tl_err_set(err, TL_ENOMEM, "out of memory reading the key file %s", path);
    }
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            /* the file grew since fstat: read on, within the bound */
            if (cap > FILE_MAX) {
                sodium_memzero(buf, n);
                free(buf);
                close(fd);
                return tl_err_set(err, TL_ETOOBIG, "the key file %s is larger than %zu bytes",
                                  path, FILE_MAX);
            }
            char *g = malloc(cap * 2);
            if (!g) {
                sodium_memzero(buf, n);
                free(buf);
                close(fd);
                return tl_err_set(err, TL_ENOMEM, "out of memory reading the key file %s", path);
            }
            memcpy(g, buf, n);
            sodium_memzero(buf, n);
            free(buf);
            buf = g;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            sodium_memzero(buf, n);
            free(buf);
            close(fd);
            return tl_err_set(err, TL_EIO, "cannot read the key file %s: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* Loads path into l. */
static int load_file(const char *path, struct keylist *l, struct stat *sb, tl_err *err)
{
    char *text;
    size_t len;
    int rc = read_file(path, &text, &len, sb, err);
    if (rc < 0)
        return rc;
    rc = parse_keys(text, len, path, l, err);
    sodium_memzero(text, len);
    free(text);
    if (rc < 0)
        keylist_clear(l);
    return rc;
}

/* fsyncs the directory holding path, so a created or renamed file survives a
 * crash. */
static int sync_dir(const char *path, tl_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "cannot open the directory of %s: %s", path,
                          strerror(errno));
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -1; /* some filesystems cannot sync dirs */
    int e = errno;
    close(fd);
    if (rc < 0)
        return tl_err_set(err, TL_EIO, "cannot sync the directory of %s: %s", path, strerror(e));
    return 0;
}

/* Writes text to fd completely and fsyncs it. */
static int write_all(int fd, const char *text, size_t n, const char *path, tl_err *err)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return tl_err_set(err, TL_EIO, "cannot write the key file %s: %s", path,
                              strerror(errno));
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        return tl_err_set(err, TL_EIO, "cannot sync the key file %s: %s", path, strerror(errno));
    return 0;
}

/* One key file line for a new random key: "ID BASE64\n". */
static int new_key_line(const char *id, char *line, size_t size, unsigned char raw[KEY_BYTES])
{
    randombytes_buf(raw, KEY_BYTES);
    char b64[sodium_base64_ENCODED_LEN(KEY_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, raw, KEY_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int w = snprintf(line, size, "%s %s\n", id, b64);
    sodium_memzero(b64, sizeof b64);
    return w;
}

/* Creates path holding one new key, mode 0600. The file is written in full
 * under a temporary name and then linked into place, which fails if the
 * file exists: two processes starting at once never see a half-written key
 * file, and the loser simply loads the winner's. Returns 1 when the file
 * existed already (nothing written). */
static int create_file(const char *path, tl_err *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", path) >= (int)sizeof tmp)
        return tl_err_set(err, TL_EINVAL, "the key file path %.200s is too long", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "cannot create the key file %s: %s", path, strerror(errno));
    unsigned char raw[KEY_BYTES];
    char line[128];
    int w = new_key_line("k1", line, sizeof line, raw);
    sodium_memzero(raw, sizeof raw);
    int rc = fchmod(fd, 0600) == 0 ? 0 : tl_err_set(err, TL_EIO, "cannot chmod %s: %s", tmp,
                                                     strerror(errno));
    if (rc == 0)
        rc = write_all(fd, line, (size_t)w, path, err);
    sodium_memzero(line, sizeof line);
    close(fd);
    if (rc == 0 && link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = 1;
        } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS) {
            /* no hard links here (some FUSE and network filesystems):
             * O_EXCL still keeps a second creator from clobbering it */
            int fd2 = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd2 < 0 && errno == EEXIST) {
                rc = 1;
            } else if (fd2 < 0) {
                rc = tl_err_set(err, TL_EIO, "cannot create the key file %s: %s", path,
                                strerror(errno));
            } else {
                w = new_key_line("k1", line, sizeof line, raw);
                sodium_memzero(raw, sizeof raw);
                rc = write_all(fd2, line, (size_t)w, path, err);
                sodium_memzero(line, sizeof line);
                close(fd2);
            }
        } else {
            rc = tl_err_set(err, TL_EIO, "cannot create the key file %s: %s", path,
                            strerror(errno));
        }
    }
    unlink(tmp);
    if (rc == 0)
        rc = sync_dir(path, err);
    return rc;
}

static tl_keyring *ring_new(struct keylist *l, const char *path, tl_err *err)
{
    tl_keyring *kr = calloc(1, sizeof *kr);
    char *p = path ? strdup(path) : NULL;
    if (!kr || (path && !p)) {
        free(kr);
        free(p);
        tl_err_set(err, TL_ENOMEM, "out of memory loading the data keys");
        return NULL;
    }
    if (pthread_mutex_init(&kr->mu, NULL) != 0) {
        free(kr);
        free(p);
        tl_err_set(err, TL_EINTERNAL, "cannot create the key ring's lock");
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++)
        kr->keys[i] = l->k[i];
    atomic_store_explicit(&kr->n, l->n, memory_order_release);
    crypto_kdf_derive_from_key(kr->index, KEY_BYTES, SUBKEY_INDEX, KDF_CONTEXT, l->first_raw);
    sodium_memzero(l->first_raw, sizeof l->first_raw);
    l->n = 0; /* the ring owns the keys now */
    kr->path = p;
    return kr;
}

/* ------------------------------------------------------------------------ */
/* Opening, rotating                                                        */

static int open_env(const char *v, tl_keyring **out, tl_err *err)
{
    const char *colon = strchr(v, ':');
    if (!colon || !valid_id(v, (size_t)(colon - v)))
        return tl_err_set(err, TL_EINVAL,
                          "TELLER_DATA_KEY: expected KEYID:BASE64 (a key id of 1-%d characters "
                          "of A-Z a-z 0-9 _ - ., a colon, and 32 bytes in base64)",
                          ID_MAX);
    unsigned char raw[KEY_BYTES];
    if (!decode_key(colon + 1, strlen(colon + 1), raw))
        return tl_err_set(err, TL_EINVAL,
                          "TELLER_DATA_KEY: the key of \"%.*s\" is not 32 bytes in base64",
                          (int)(colon - v), v);
    struct keylist *l = calloc(1, sizeof *l);
    if (!l) {
        sodium_memzero(raw, sizeof raw);
        return tl_err_set(err, TL_ENOMEM, "out of memory loading the data key");
    }
    int rc = keylist_add(l, v, (size_t)(colon - v), raw, "TELLER_DATA_KEY", 1, err);
    sodium_memzero(raw, sizeof raw);
    tl_keyring *kr = rc == 0 ? ring_new(l, NULL, err) : NULL;
    if (!kr && rc == 0)
        rc = TL_ENOMEM;
    keylist_clear(l);
    free(l);
    if (rc < 0)
        return rc;
    *out = kr;
    return 0;
}

int tl_keyring_open(const char *path, bool create, tl_keyring **out, tl_err *err)
{
    if (!out)
        return tl_err_set(err, TL_EINVAL, "tl_keyring_open: no output pointer was given");
    if (sodium_init() < 0)
        return tl_err_set(err, TL_EINTERNAL, "libsodium failed to initialise");
    const char *env = getenv("TELLER_DATA_KEY");
    if (env && *env)
        return open_env(env, out, err);
    if (!path || !*path)
        return tl_err_set(err, TL_EINVAL,
                          "no data key: name a key file (data.key_file) or set "
                          "TELLER_DATA_KEY=KEYID:BASE64");

    struct keylist *l = calloc(1, sizeof *l);
    if (!l)
        return tl_err_set(err, TL_ENOMEM, "out of memory loading the data keys");
    struct stat sb;
    tl_err first = {0};
    int rc = load_file(path, l, &sb, &first);
    if (rc == TL_ENOTFOUND && create) {
        rc = create_file(path, err);
        if (rc >= 0)
            rc = load_file(path, l, &sb, err);
    } else if (rc < 0 && err) {
        *err = first;
    }
    if (rc == 0 && (sb.st_mode & 077))
        tl_log(TL_LOG_WARN, "keyring",
               "the key file %s can be read by other users (mode %03o); chmod 600 it", path,
               (unsigned)(sb.st_mode & 0777));
    tl_keyring *kr = rc == 0 ? ring_new(l, path, err) : NULL;
    if (rc == 0 && !kr)
        rc = TL_ENOMEM;
    keylist_clear(l);
    free(l);
    if (rc < 0)
        return rc;
    kr->seen = sb;
    *out = kr;
    return 0;
}

void tl_keyring_free(tl_keyring *kr)
{
    if (!kr)
        return;
    size_t n = atomic_load_explicit(&kr->n, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        key_free(kr->keys[i]);
    sodium_memzero(kr->index, sizeof kr->index);
    pthread_mutex_destroy(&kr->mu);
    free(kr->path);
    free(kr);
}

const char *tl_keyring_active_id(const tl_keyring *kr)
{
    if (!kr)
        return "";
    size_t n = atomic_load_explicit(&kr->n, memory_order_acquire);
    return kr->keys[n - 1]->id;
}

static const struct key *ring_find(const tl_keyring *kr, const char *id)
{
    size_t n = atomic_load_explicit(&kr->n, memory_order_acquire);
    for (size_t i = n; i-- > 0;)
        if (strcmp(kr->keys[i]->id, id) == 0)
            return kr->keys[i];
    return NULL;
}

/* Appends to kr the keys of l that kr lacks, after checking that the keys
 * both hold are the same ones: a key file that lost or changed a key is an
 * error, never silently a different ring. Caller holds kr->mu. */
static int adopt(tl_keyring *kr, struct keylist *l, const char *source, tl_err *err)
{
    size_t n = atomic_load_explicit(&kr->n, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        const struct key *k = keylist_find(l, kr->keys[i]->id);
        if (!k)
            return tl_err_set(err, TL_EINVAL, "%s: key \"%s\" in use is missing from the file",
                              source, kr->keys[i]->id);
        if (sodium_memcmp(k->check, kr->keys[i]->check, KEY_BYTES) != 0)
            return tl_err_set(err, TL_EINVAL,
                              "%s: key \"%s\" differs from the one in use (was the file "
                              "replaced?)",
                              source, kr->keys[i]->id);
    }
    for (size_t i = 0; i < l->n; i++) {
        struct key *k = l->k[i];
        if (ring_find(kr, k->id))
            continue;
        if (n == MAX_KEYS)
            return tl_err_set(err, TL_ETOOBIG, "%s: more than %d keys", source, MAX_KEYS);
        kr->keys[n] = k;
        l->k[i] = NULL;
        atomic_store_explicit(&kr->n, ++n, memory_order_release);
    }
    /* the ring took some keys; free the rest */
    for (size_t i = 0; i < l->n; i++)
        key_free(l->k[i]);
    l->n = 0;
    sodium_memzero(l->first_raw, sizeof l->first_raw);
    return 0;
}

/* After another process rotated the file, values under its new key appear;
 * reading the file again picks the key up, so readers never stop. Only when
 * the file changed since it was last read, so a value with a made-up key id
 * costs one stat, not a parse. */
static void reload(tl_keyring *kr)
{
    if (!kr->path)
        return;
    pthread_mutex_lock(&kr->mu);
    struct stat sb;
    if (stat(kr->path, &sb) == 0 &&
        (sb.st_ino != kr->seen.st_ino || sb.st_size != kr->seen.st_size ||
         sb.st_mtim.tv_sec != kr->seen.st_mtim.tv_sec ||
         sb.st_mtim.tv_nsec != kr->seen.st_mtim.tv_nsec)) {
        struct keylist *l = calloc(1, sizeof *l);
        tl_err e = {0};
        if (l && load_file(kr->path, l, &sb, &e) == 0) {
            /* seen either way: a file that lost a key is reported once per
             * change, not once per value read */
            kr->seen = sb;
            if (adopt(kr, l, kr->path, &e) < 0)
                tl_log(TL_LOG_WARN, "keyring", "not reloading the key file: %s", e.msg);
            keylist_clear(l);
        }
        free(l);
    }
    pthread_mutex_unlock(&kr->mu);
}

/* "k<N>" with N one past the largest such number in use. */
static void next_id(const struct keylist *l, const tl_keyring *kr, char id[ID_MAX + 1])
{
    unsigned long max = 0;
    size_t n = atomic_load_explicit(&kr->n, memory_order_acquire);
    for (size_t i = 0; i < l->n + n; i++) {
        const char *s = i < l->n ? l->k[i]->id : kr->keys[i - l->n]->id;
        if (s[0] != 'k' || !s[1])
            continue;
        char *end;
        errno = 0;
        unsigned long v = strtoul(s + 1, &end, 10);
        if (!*end && !errno && v > max && s[1] != '-' && s[1] != '+')
            max = v;
    }
    snprintf(id, ID_MAX + 1, "k%lu", max + 1);
}

int tl_keyring_rotate(tl_keyring *kr, const char *path, char new_id[32], tl_err *err)
{
    if (!kr || !path || !*path)
        return tl_err_set(err, TL_EINVAL, "tl_keyring_rotate: no key ring or no key file given");
    if (!kr->path)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "the data key comes from TELLER_DATA_KEY, which holds one key: to "
                          "rotate, move it into a key file (data.key_file) and unset the "
                          "variable");
    pthread_mutex_lock(&kr->mu);
    struct keylist *l = calloc(1, sizeof *l);
    char *text = NULL, *content = NULL;
    size_t len = 0, content_len = 0;
    struct stat sb;
    char tmp[PATH_MAX], id[ID_MAX + 1], line[128];
    unsigned char raw[KEY_BYTES];
    bool tmp_made = false;
    int rc = l ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory rotating the data key");
    if (rc == 0)
        rc = read_file(path, &text, &len, &sb, err);
    if (rc == 0)
        rc = parse_keys(text, len, path, l, err);
    /* every key in use must still be in the file, and be the same key */
    if (rc == 0)
        rc = adopt(kr, l, path, err);
    if (rc == 0 && (size_t)snprintf(tmp, sizeof tmp, "%s.rotate", path) >= sizeof tmp)
        rc = tl_err_set(err, TL_EINVAL, "the key file path %.200s is too long", path);
    int fd = -1;
    if (rc == 0) {
        /* O_EXCL makes the temporary name a lock: two rotations at once
         * would each append a key and one would be lost */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            rc = tl_err_set(err, TL_EEXISTS,
                            "another rotation of %s is under way (or one was interrupted: "
                            "then remove %s)",
                            path, tmp);
        else if (fd < 0)
            rc = tl_err_set(err, TL_EIO, "cannot create %s: %s", tmp, strerror(errno));
        else
            tmp_made = true;
    }
    if (rc == 0) {
        next_id(l, kr, id);
        int w = new_key_line(id, line, sizeof line, raw);
        bool nl = len == 0 || text[len - 1] == '\n';
        content_len = len + (nl ? 0 : 1) + (size_t)w;
        content = malloc(content_len + 1);
        if (!content) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory rotating the data key");
        } else {
            memcpy(content, text, len);
            if (!nl)
                content[len] = '\n';
            memcpy(content + len + (nl ? 0 : 1), line, (size_t)w);
            rc = write_all(fd, content, content_len, tmp, err);
        }
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = tl_err_set(err, TL_EIO, "cannot replace the key file %s: %s", path, strerror(errno));
    else if (rc == 0)
        tmp_made = false;
    if (rc == 0)
        rc = sync_dir(path, err);
    if (rc == 0) {
        struct key *k = key_new(id, strlen(id), raw);
        size_t n = atomic_load_explicit(&kr->n, memory_order_relaxed);
        if (!k) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory adding key %s (it is in %s)", id,
                            path);
        } else if (n == MAX_KEYS) {
            key_free(k);
            rc = tl_err_set(err, TL_ETOOBIG, "%s: more than %d keys", path, MAX_KEYS);
        } else {
            kr->keys[n] = k;
            atomic_store_explicit(&kr->n, n + 1, memory_order_release);
            if (stat(path, &sb) == 0)
                kr->seen = sb;
            if (new_id)
                snprintf(new_id, 32, "%s", id);
        }
    }
    if (tmp_made)
        unlink(tmp);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(line, sizeof line);
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    if (content) {
        sodium_memzero(content, content_len);
        free(content);
    }
    if (l) {
        keylist_clear(l);
        free(l);
    }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sealing                                                                  */

int tl_keyring_seal(const tl_keyring *kr, const char *context, const char *pt, size_t len,
                    char **out, tl_err *err)
{
    if (!kr || !context || (!pt && len) || !out)
        return tl_err_set(err, TL_EINVAL, "tl_keyring_seal: missing key ring, context or value");
    if (len > SEAL_MAX)
        return tl_err_set(err, TL_ETOOBIG, "%s: a value of %zu bytes is too large to seal",
                          context, len);
    size_t n = atomic_load_explicit(&kr->n, memory_order_acquire);
    const struct key *k = kr->keys[n - 1];

    size_t bin_len = NONCE_BYTES + len + TAG_BYTES;
    unsigned char *bin = malloc(bin_len);
    size_t id_len = strlen(k->id);
    size_t b64_len = sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(SEAL_PREFIX_LEN + id_len + 1 + b64_len);
    if (!bin || !s) {
        free(bin);
        free(s);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory sealing a value", context);
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, k->nonce, KEY_BYTES, NONCE_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context) + 1);
    crypto_generichash_update(&st, (const unsigned char *)pt, len);
    crypto_generichash_final(&st, bin, NONCE_BYTES);
    unsigned long long ct_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(bin + NONCE_BYTES, &ct_len, (const unsigned char *)pt,
                                               len, (const unsigned char *)context, strlen(context),
                                               NULL, bin, k->aead);
    memcpy(s, SEAL_PREFIX, SEAL_PREFIX_LEN);
    memcpy(s + SEAL_PREFIX_LEN, k->id, id_len);
    s[SEAL_PREFIX_LEN + id_len] = ':';
    sodium_bin2base64(s + SEAL_PREFIX_LEN + id_len + 1, b64_len, bin, NONCE_BYTES + ct_len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(bin);
    *out = s;
    return 0;
}

/* Base64url without padding, decoded strictly: only [A-Za-z0-9_-], no
 * length that leaves 1 dangling character, and the unused low bits of the
 * last character zero (so every value has one spelling). Why not
 * sodium_base642bin: it is constant-time per character, which ciphertext
 * does not need, and it was the largest single cost of reading a customer
 * (five sealed columns per answer). Returns the decoded length, or -1. */
static const signed char B64URL[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
    ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
    ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
    ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
    ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
    ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
    ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63,
    ['_'] = 64,
}; /* value + 1; 0 marks a character outside the alphabet */

static long b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = B64URL[(unsigned char)in[i]];
        if (!v)
            return -1;
        acc = (acc << 6) | (uint32_t)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    return (long)o;
}

/* Splits a sealed value into its key id and base64 body; false when it does
 * not have the form. check_body also checks every body character (unseal
 * skips that: its decoder refuses a bad character anyway). */
static bool split_sealed(const char *s, size_t len, char id[ID_MAX + 1], const char **body,
                         size_t *body_len, bool check_body)
{
    if (!s || len < SEAL_PREFIX_LEN || memcmp(s, SEAL_PREFIX, SEAL_PREFIX_LEN) != 0)
        return false;
    const char *p = s + SEAL_PREFIX_LEN, *end = s + len;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || !valid_id(p, (size_t)(colon - p)))
        return false;
    memcpy(id, p, (size_t)(colon - p));
    id[colon - p] = 0;
    *body = colon + 1;
    *body_len = (size_t)(end - *body);
    /* the shortest body encodes a nonce and a tag around an empty value */
    if (*body_len < sodium_base64_ENCODED_LEN(NONCE_BYTES + TAG_BYTES,
                                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)
        return false;
    for (size_t i = 0; check_body && i < *body_len; i++) {
        unsigned char c = (unsigned char)(*body)[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

bool tl_keyring_is_sealed(const char *s, size_t len)
{
    char id[ID_MAX + 1];
    const char *body;
    size_t body_len;
    return split_sealed(s, len, id, &body, &body_len, true);
}

int tl_keyring_sealed_key_id(const char *sealed, size_t len, char id[32])
{
    char kid[ID_MAX + 1];
    const char *body;
    size_t body_len;
    if (!id || !split_sealed(sealed, len, kid, &body, &body_len, true))
        return TL_EINVAL;
    memcpy(id, kid, sizeof kid);
    return 0;
}

int tl_keyring_unseal(const tl_keyring *kr, const char *context, const char *sealed, size_t len,
                      char **out, size_t *out_len, tl_err *err)
{
    if (!kr || !context || !out)
        return tl_err_set(err, TL_EINVAL, "tl_keyring_unseal: missing key ring, context or output");
    char id[ID_MAX + 1];
    const char *body;
    size_t body_len;
    if (!split_sealed(sealed, len, id, &body, &body_len, false))
        return tl_err_set(err, TL_ECRYPTO, "%s: the value is not a sealed value (tlenc1:KEYID:...)",
                          context);
    const struct key *k = ring_find(kr, id);
    if (!k) {
        /* the ring is logically const: reloading only adds keys that the
         * file on disk already holds */
        reload((tl_keyring *)kr);
        k = ring_find(kr, id);
    }
    if (!k)
        return tl_err_set(err, TL_ECRYPTO,
                          "%s: the value is sealed under key \"%s\", which is not in the key "
                          "ring (active key \"%s\"): wrong key file?",
                          context, id, tl_keyring_active_id(kr));
    /* PII values are short: decode on the stack, and only a long one pays
     * for a malloc */
    unsigned char small[512];
    size_t bin_max = body_len / 4 * 3 + 3;
    unsigned char *bin = bin_max <= sizeof small ? small : malloc(bin_max);
    if (!bin)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory opening a value", context);
    long decoded = b64url_decode(body, body_len, bin, bin_max);
    if (decoded < (long)(NONCE_BYTES + TAG_BYTES)) {
        if (bin != small)
            free(bin);
        return tl_err_set(err, TL_ECRYPTO, "%s: the sealed value is damaged (bad base64)", context);
    }
    size_t bin_len = (size_t)decoded;
    size_t pt_max = bin_len - NONCE_BYTES - TAG_BYTES;
    char *pt = malloc(pt_max + 1);
    if (!pt) {
        if (bin != small)
            free(bin);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory opening a value", context);
    }
    unsigned long long pt_len = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        (unsigned char *)pt, &pt_len, NULL, bin + NONCE_BYTES, bin_len - NONCE_BYTES,
        (const unsigned char *)context, strlen(context), bin, k->aead);
    if (bin != small)
        free(bin);
    if (rc != 0) {
        free(pt);
        return tl_err_set(err, TL_ECRYPTO,
                          "%s: the value does not open under key \"%s\": it was altered, moved "
                          "from another column, or sealed with another key file",
                          context, id);
    }
    pt[pt_len] = 0;
    *out = pt;
    if (out_len)
        *out_len = (size_t)pt_len;
    return 0;
}

void tl_keyring_hash(const tl_keyring *kr, const char *context, const char *data, size_t len,
                     char hex[65])
{
    if (!TL_ALWAYS(kr && context && hex && (data || !len))) {
        if (hex)
            hex[0] = 0;
        return;
    }
    unsigned char h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, kr->index, KEY_BYTES, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context) + 1);
    crypto_generichash_update(&st, (const unsigned char *)data, len);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}
