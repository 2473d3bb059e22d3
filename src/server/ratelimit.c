/*
 * ratelimit.c - a token bucket per principal (API key id or JWT subject),
 * in a table of fixed size.
 *
 * The table is set-associative: a subject hashes to one set of WAYS buckets
 * guarded by that set's lock, so threads contend only when their subjects
 * share a set. When a set is full the bucket idle the longest is reused; an
 * idle bucket would have refilled anyway, so forgetting it changes nothing
 * for a well-behaved client, and memory stays SETS * WAYS buckets whatever
 * arrives.
 */
#include "server.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SETS 1024
#define WAYS 8

struct bucket {
    uint64_t hash; /* 0: free */
    double tokens;
    int64_t last_ns;
};

struct set {
    pthread_mutex_t lock;
    struct bucket b[WAYS];
};

struct srv_ratelimit {
    double rate_per_s, burst;
    struct set *sets; /* SETS */
};

struct srv_ratelimit *srv_ratelimit_new(double rate_per_s, double burst)
{
    if (rate_per_s <= 0)
        return NULL;
    struct srv_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->sets = calloc(SETS, sizeof *rl->sets);
    if (!rl->sets) {
        free(rl);
        return NULL;
    }
    for (size_t i = 0; i < SETS; i++)
        pthread_mutex_init(&rl->sets[i].lock, NULL);
    rl->rate_per_s = rate_per_s;
    rl->burst = burst >= 1 ? burst : 1;
    return rl;
}

void srv_ratelimit_free(struct srv_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < SETS; i++)
        pthread_mutex_destroy(&rl->sets[i].lock);
    free(rl->sets);
    free(rl);
}

/* FNV-1a, 64 bits; never 0 (0 marks a free bucket). Subjects come from
 * verified credentials, so nobody chooses them to collide. */
static uint64_t hash_subject(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

bool srv_ratelimit_take(struct srv_ratelimit *rl, const char *subject, int64_t now_ns,
                        int64_t *retry_after_s)
{
    if (!rl)
        return true;
    uint64_t h = hash_subject(subject ? subject : "");
    struct set *set = &rl->sets[h % SETS];
    pthread_mutex_lock(&set->lock);
    struct bucket *b = NULL, *victim = &set->b[0];
    for (size_t i = 0; i < WAYS; i++) {
        if (set->b[i].hash == h) {
            b = &set->b[i];
            break;
        }
        if (set->b[i].hash == 0 || (victim->hash != 0 && set->b[i].last_ns < victim->last_ns))
            victim = &set->b[i];
    }
    if (!b) {
        b = victim;
        b->hash = h;
        b->tokens = rl->burst;
        b->last_ns = now_ns;
    }
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * 1e-9 * rl->rate_per_s;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last_ns = now_ns;
    }
    bool ok = b->tokens >= 1.0;
    if (ok) {
        b->tokens -= 1.0;
    } else {
        double wait_s = (1.0 - b->tokens) / rl->rate_per_s;
        int64_t secs = (int64_t)ceil(wait_s);
        *retry_after_s = secs < 1 ? 1 : secs;
    }
    pthread_mutex_unlock(&set->lock);
    return ok;
}
