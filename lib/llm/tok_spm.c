/*
 * tok_spm.c - SentencePiece-style ("llama") encoding, as llama.cpp's
 * llm_tokenizer_spm_session, and llama2.c's encoder for tok512.bin.
 *
 * The text (with a space prepended) is cut into UTF-8 characters, and the
 * adjacent pair whose concatenation is the token with the highest score is
 * merged, leftmost first on ties, until no pair is a token. A priority queue
 * of candidate pairs makes this O(n log n): a merge only creates the two
 * pairs around the merged symbol, and a queued pair whose symbols changed
 * since is recognized by its size and skipped. Symbols are slices of one
 * buffer, so a pair's text is contiguous and looked up without copying.
 */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
    int prev, next;
    uint32_t off, n;
    int32_t id; /* fixed symbols (llama2.c byte tokens): their token */
    bool fixed; /* never merged */
} sym;

static int try_add(const tl_tokenizer *t, const char *buf, const sym *sy, int l, int r,
                   tl__tok_heap *h)
{
    if (l < 0 || r < 0 || sy[l].fixed || sy[r].fixed)
        return 0;
    uint32_t size = sy[l].n + sy[r].n;
    int32_t id = tl__tok_lookup(t, buf + sy[l].off, size);
    if (id < 0)
        return 0;
    return tl__tok_heap_push(h, (tl__tok_pair){t->tok[id].score, l, r, sy[l].n, sy[r].n});
}

/* Merges sy[0..ns) in place; the survivors are chained from symbol 0. */
static int merge(const tl_tokenizer *t, const char *buf, sym *sy, int ns)
{
    tl__tok_heap h = {0};
    int rc = 0;
    for (int i = 1; i < ns && rc == 0; i++)
        rc = try_add(t, buf, sy, i - 1, i, &h);
    while (rc == 0 && h.n > 0) {
        tl__tok_pair b = tl__tok_heap_pop(&h);
        sym *L = &sy[b.left], *R = &sy[b.right];
        if (L->n != b.nl || R->n != b.nr || L->next != b.right)
            continue; /* one of them changed since this pair was queued */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0)
            sy[R->next].prev = b.left;
        rc = try_add(t, buf, sy, L->prev, b.left, &h);
        if (rc == 0)
            rc = try_add(t, buf, sy, b.left, L->next, &h);
    }
    free(h.v);
    return rc;
}

int tl__spm_encode(const tl_tokenizer *t, const char *text, size_t len, bool prefix_space,
                   tl__ids *out, tl_err *err)
{
    if (len > (UINT32_MAX - 3) / 3 - 1)
        return tl_err_set(err, TL_ETOOBIG, "text of %zu bytes is too long to tokenize", len);
    /* spaces are written U+2581, 3 bytes each */
    char *buf = malloc((len + 1) * 3);
    sym *sy = malloc((len + 1) * sizeof *sy);
    int rc = 0;
    if (!buf || !sy) {
        rc = TL_ENOMEM;
        goto done;
    }
    size_t bl = 0;
    if (prefix_space) {
        memcpy(buf, "\xe2\x96\x81", 3);
        bl = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + bl, "\xe2\x96\x81", 3);
            bl += 3;
        } else {
            buf[bl++] = text[i];
        }
    }
    int ns = 0;
    for (size_t off = 0; off < bl;) {
        size_t k = tl__u8len((unsigned char)buf[off]);
        if (k > bl - off)
            k = bl - off;
        sy[ns] = (sym){ns - 1, off + k == bl ? -1 : ns + 1, (uint32_t)off, (uint32_t)k, -1, false};
        ns++;
        off += k;
    }
    if (ns == 0)
        goto done;
    if ((rc = merge(t, buf, sy, ns)) < 0)
        goto done;
    for (int i = 0; i != -1 && rc == 0; i = sy[i].next) {
        int32_t id = tl__tok_lookup(t, buf + sy[i].off, sy[i].n);
        if (id >= 0) {
            rc = tl__ids_push(out, id);
            continue;
        }
        /* not a token: its bytes as <0xNN> tokens */
        for (uint32_t j = 0; j < sy[i].n && rc == 0; j++) {
            int32_t b = t->byte_tok[(unsigned char)buf[sy[i].off + j]];
            if (b < 0)
                b = t->unk;
            if (b >= 0)
                rc = tl__ids_push(out, b);
        }
    }
done:
    free(buf);
    free(sy);
    if (rc < 0)
        return tl_err_set(err, rc, "out of memory tokenizing %zu bytes", len);
    return 0;
}

/* llama2.c's encode: a space token before a non-empty text, each UTF-8
 * character as its token or, when it has none, as byte tokens (id byte + 3)
 * that never merge; then the same best-score merging. */
int tl__llama2c_encode(const tl_tokenizer *t, const char *text, size_t len, tl__ids *out,
                       tl_err *err)
{
    if (len == 0)
        return 0;
    if (len > UINT32_MAX / 2)
        return tl_err_set(err, TL_ETOOBIG, "text of %zu bytes is too long to tokenize", len);
    char *buf = malloc(len + 1);
    sym *sy = malloc((len + 1) * sizeof *sy);
    int rc = 0;
    if (!buf || !sy) {
        rc = TL_ENOMEM;
        goto done;
    }
    buf[0] = ' ';
    memcpy(buf + 1, text, len);
    size_t bl = len + 1;
    int ns = 0;
    for (size_t off = 0; off < bl;) {
        size_t k = tl__u8len((unsigned char)buf[off]);
        if (k > bl - off)
            k = bl - off;
        int32_t id = tl__tok_lookup(t, buf + off, k);
        if (id >= 0) {
            sy[ns] = (sym){ns - 1, ns + 1, (uint32_t)off, (uint32_t)k, id, false};
            ns++;
        } else {
            for (size_t j = 0; j < k; j++) {
                sy[ns] = (sym){ns - 1, ns + 1, (uint32_t)(off + j), 1,
                               t->byte_tok[(unsigned char)buf[off + j]], true};
                ns++;
            }
        }
        off += k;
    }
    sy[ns - 1].next = -1;
    if ((rc = merge(t, buf, sy, ns)) < 0)
        goto done;
    for (int i = 0; i != -1 && rc == 0; i = sy[i].next) {
        int32_t id = sy[i].fixed ? sy[i].id : tl__tok_lookup(t, buf + sy[i].off, sy[i].n);
        if (id >= 0)
            rc = tl__ids_push(out, id);
    }
done:
    free(buf);
    free(sy);
    if (rc < 0)
        return tl_err_set(err, rc, "out of memory tokenizing %zu bytes", len);
    return 0;
}
