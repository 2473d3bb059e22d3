/*
 * keycache.c - API keys the server has verified lately, so that a client
 * sending the same key on every request is not checked against the store
 * every time.
 *
 * Why. Verifying a key reads its row (a store round trip and a read
 * transaction) and computes a keyed hash: about a tenth of the CPU of an
 * authorized customer read (docs/benchmarks.md). A key's outcome changes
 * only when it is revoked or expires, so a success is remembered for at
 * most SRV_KEYCACHE_MS, and never past the key's own expiry. Failures are
 * never cached: a wrong secret is checked against the store every time.
 *
 * What it costs. A key revoked by another process (`teller keys revoke`)
 * keeps working on this server for up to SRV_KEYCACHE_MS; one revoked
 * through this server's DELETE /v1/keys/{id} stops at once (the cache is
 * emptied). The cache holds a BLAKE2b digest of each key, never the key.
 */
#include "server.h"

#include <sodium.h>
#include <string.h>

#define SLOTS 1024 /* direct-mapped by key id: a collision only costs a miss */

struct slot {
    unsigned char digest[crypto_generichash_BYTES];
    int64_t valid_until_ms; /* 0: empty */
    uint64_t generation;
    struct tl_principal who;
};

struct srv_keycache {
    pthread_mutex_t lock;
    uint64_t generation; /* bumped by srv_keycache_clear */
    unsigned char salt[crypto_generichash_KEYBYTES]; /* per process */
    struct slot slots[SLOTS];
};

struct srv_keycache *srv_keycache_new(void)
{
    struct srv_keycache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    randombytes_buf(c->salt, sizeof c->salt);
    c->generation = 1;
    return c;
}

void srv_keycache_free(struct srv_keycache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    sodium_memzero(c, sizeof *c);
    free(c);
}

static size_t slot_of(const unsigned char *digest)
{
    size_t h;
    memcpy(&h, digest, sizeof h);
    return h % SLOTS;
}

static void digest_of(const struct srv_keycache *c, const char *token, size_t len,
                      unsigned char out[crypto_generichash_BYTES])
{
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)token, len, c->salt,
                       sizeof c->salt);
}

bool srv_keycache_get(struct srv_keycache *c, const char *token, size_t len, int64_t now_ms,
                      struct tl_principal *who)
{
    if (!c)
        return false;
    unsigned char d[crypto_generichash_BYTES];
    digest_of(c, token, len, d);
    struct slot *s = &c->slots[slot_of(d)];
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    if (s->valid_until_ms > now_ms && s->generation == c->generation &&
        sodium_memcmp(s->digest, d, sizeof d) == 0) {
        *who = s->who;
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void srv_keycache_put(struct srv_keycache *c, const char *token, size_t len, int64_t now_ms,
                      int64_t key_expires_ms, const struct tl_principal *who)
{
    if (!c)
        return;
    unsigned char d[crypto_generichash_BYTES];
    digest_of(c, token, len, d);
    int64_t until = now_ms + SRV_KEYCACHE_MS;
    if (key_expires_ms > 0 && key_expires_ms < until)
        until = key_expires_ms;
    pthread_mutex_lock(&c->lock);
    struct slot *s = &c->slots[slot_of(d)];
    memcpy(s->digest, d, sizeof d);
    s->valid_until_ms = until;
    s->generation = c->generation;
    s->who = *who;
    pthread_mutex_unlock(&c->lock);
}

void srv_keycache_clear(struct srv_keycache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->generation++;
    pthread_mutex_unlock(&c->lock);
}
