/*
 * gguf.c - the GGUF v2/v3 reader (include/teller/llm_gguf.h).
 *
 * One pass over the bytes validates everything before any of it is used:
 * each declared length or count is checked against the bytes that remain
 * before it is read or allocated for (ggml gguf.cpp's "exceeds remaining file
 * size"), so a hostile file costs at most O(file size) memory. The handle
 * keeps offsets into the mapping; keys and tensor names are copied once into
 * one NUL-terminated block, and string arrays get an offset index so that
 * token i of a 150k vocabulary is O(1).
 */
#include <teller/llm_gguf.h>

#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- type traits -------------------------------------------------------------- */

struct type_traits {
    const char *name;
    uint32_t block_size;  // elements per block
    uint32_t block_bytes; // bytes per block
};

/* Block layouts from ggml-common.h; QK_K = 256. Retired ids are holes. */
static const struct type_traits traits[TL_GGUF_TYPE_COUNT] = {
    [TL_GGUF_TYPE_F32] = {"F32", 1, 4},
    [TL_GGUF_TYPE_F16] = {"F16", 1, 2},
    [TL_GGUF_TYPE_Q4_0] = {"Q4_0", 32, 2 + 16},
    [TL_GGUF_TYPE_Q4_1] = {"Q4_1", 32, 4 + 16},
    /* 4: Q4_2 and 5: Q4_3, support removed from ggml */
    [TL_GGUF_TYPE_Q5_0] = {"Q5_0", 32, 2 + 4 + 16},
    [TL_GGUF_TYPE_Q5_1] = {"Q5_1", 32, 4 + 4 + 16},
    [TL_GGUF_TYPE_Q8_0] = {"Q8_0", 32, 2 + 32},
    [TL_GGUF_TYPE_Q8_1] = {"Q8_1", 32, 4 + 32},
    [TL_GGUF_TYPE_Q2_K] = {"Q2_K", 256, 16 + 64 + 4},
    [TL_GGUF_TYPE_Q3_K] = {"Q3_K", 256, 32 + 64 + 12 + 2},
    [TL_GGUF_TYPE_Q4_K] = {"Q4_K", 256, 4 + 12 + 128},
    [TL_GGUF_TYPE_Q5_K] = {"Q5_K", 256, 4 + 12 + 32 + 128},
    [TL_GGUF_TYPE_Q6_K] = {"Q6_K", 256, 128 + 64 + 16 + 2},
    [TL_GGUF_TYPE_Q8_K] = {"Q8_K", 256, 4 + 256 + 32},
    [TL_GGUF_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 2 + 64},
    [TL_GGUF_TYPE_IQ2_XS] = {"IQ2_XS", 256, 2 + 64 + 8},
    [TL_GGUF_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 2 + 96},
    [TL_GGUF_TYPE_IQ1_S] = {"IQ1_S", 256, 2 + 32 + 16},
    [TL_GGUF_TYPE_IQ4_NL] = {"IQ4_NL", 32, 2 + 16},
    [TL_GGUF_TYPE_IQ3_S] = {"IQ3_S", 256, 2 + 64 + 8 + 32 + 4},
    [TL_GGUF_TYPE_IQ2_S] = {"IQ2_S", 256, 2 + 64 + 8 + 8},
    [TL_GGUF_TYPE_IQ4_XS] = {"IQ4_XS", 256, 2 + 2 + 4 + 128},
    [TL_GGUF_TYPE_I8] = {"I8", 1, 1},
    [TL_GGUF_TYPE_I16] = {"I16", 1, 2},
    [TL_GGUF_TYPE_I32] = {"I32", 1, 4},
    [TL_GGUF_TYPE_I64] = {"I64", 1, 8},
    [TL_GGUF_TYPE_F64] = {"F64", 1, 8},
    [TL_GGUF_TYPE_IQ1_M] = {"IQ1_M", 256, 32 + 16 + 8},
    [TL_GGUF_TYPE_BF16] = {"BF16", 1, 2},
    /* 31..33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8, removed (repacked at load now) */
    [TL_GGUF_TYPE_TQ1_0] = {"TQ1_0", 256, 48 + 4 + 2},
    [TL_GGUF_TYPE_TQ2_0] = {"TQ2_0", 256, 64 + 2},
};

const char *tl_gguf_type_name(int type)
{
    return type >= 0 && type < TL_GGUF_TYPE_COUNT ? traits[type].name : NULL;
}

size_t tl_gguf_type_block_size(int type)
{
    return tl_gguf_type_name(type) ? traits[type].block_size : 0;
}

size_t tl_gguf_type_block_bytes(int type)
{
    return tl_gguf_type_name(type) ? traits[type].block_bytes : 0;
}

static const char *const vtype_names[TL_GGUF_VAL_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

/* Bytes of a fixed-size value type; 0 for string and array. */
static const uint8_t vtype_size[TL_GGUF_VAL_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *tl_gguf_vtype_name(int vtype)
{
    return vtype >= 0 && vtype < TL_GGUF_VAL_COUNT ? vtype_names[vtype] : "?";
}

/* ---- the handle ---------------------------------------------------------------- */

struct kv {
    const char *key;    // in g->names
    int type;           // enum tl_gguf_vtype
    uint64_t pos;       // file offset of the value (for arrays: of the first element)
    int elem_type;      // arrays only
    uint64_t count;     // arrays only
    uint64_t *str_pos;  // string arrays only: (count) file offset of each string's length
};

struct tensor {
    const char *name; // in g->names
    int type;
    int n_dims;
    int64_t dims[TL_GGUF_MAX_DIMS];
    uint64_t n_elems;
    uint64_t offset;
    uint64_t size_bytes;
    uint64_t info_pos; // file offset of the descriptor, for messages
};

struct tl_gguf {
    const uint8_t *data;
    size_t size;
    bool mapped;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_pos;
    size_t n_kv;
    struct kv *kvs;        // (n_kv)
    size_t *kv_sorted;     // (n_kv) indices sorted by key
    size_t n_tensors;
    struct tensor *tensors; // (n_tensors)
    size_t *t_sorted;      // (n_tensors) indices sorted by name
    char *names;           // keys and names, NUL-terminated, back to back
    size_t names_len, names_cap;
};

/* ---- the reader ---------------------------------------------------------------- */

/* Nested arrays deeper than this are refused: no model needs more than two
 * levels, and the bound keeps validation's recursion shallow. */
#define MAX_ARRAY_DEPTH 8

struct rd {
    tl_gguf *g;
    const uint8_t *p;
    size_t size;
    size_t pos;
    const char *name; // quoted file name, for messages
    tl_err *err;
};

static int fail(struct rd *r, size_t at, const char *fmt, ...) TL_PRINTF(3, 4);

static int fail(struct rd *r, size_t at, const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tl_err_set(r->err, TL_EPARSE, "GGUF file \"%s\": %s (at byte %zu)", r->name, what, at);
}

/* Checks that n bytes remain; what names the field in the message. */
static int need(struct rd *r, uint64_t n, const char *what)
{
    if (n > r->size - r->pos)
        return fail(r, r->pos, "truncated: %s needs %llu bytes but only %zu remain", what,
                    (unsigned long long)n, r->size - r->pos);
    return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int rd_u32(struct rd *r, uint32_t *v, const char *what)
{
    int rc = need(r, 4, what);
    if (rc < 0)
        return rc;
    *v = (uint32_t)le(r->p + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int rd_u64(struct rd *r, uint64_t *v, const char *what)
{
    int rc = need(r, 8, what);
    if (rc < 0)
        return rc;
    *v = le(r->p + r->pos, 8);
    r->pos += 8;
    return 0;
}

/* A string: u64 length, then the bytes. *pos is the offset of the bytes. */
static int rd_str(struct rd *r, uint64_t *pos, uint64_t *len, const char *what)
{
    int rc = rd_u64(r, len, what);
    if (rc < 0)
        return rc;
    if (*len > r->size - r->pos)
        return fail(r, r->pos - 8, "%s length %llu exceeds the %zu bytes that remain", what,
                    (unsigned long long)*len, r->size - r->pos);
    *pos = r->pos;
    r->pos += (size_t)*len;
    return 0;
}

/* A key or tensor name: non-empty, no NUL, copied into g->names. */
static int rd_name(struct rd *r, const char **out, const char *what)
{
    uint64_t pos = 0, len = 0;
    size_t at = r->pos;
    int rc = rd_str(r, &pos, &len, what);
    if (rc < 0)
        return rc;
    if (len == 0)
        return fail(r, at, "%s is empty", what);
    if (memchr(r->p + pos, 0, (size_t)len))
        return fail(r, at, "%s contains a NUL byte", what);
    tl_gguf *g = r->g;
    if (TL_NEVER(g->names_len + len + 1 > g->names_cap))
        return tl_err_set(r->err, TL_EINTERNAL, "GGUF file \"%s\": name block overflow", r->name);
    char *dst = g->names + g->names_len;
    memcpy(dst, r->p + pos, (size_t)len);
    dst[len] = '\0';
    g->names_len += (size_t)len + 1;
    *out = dst;
    return 0;
}

static int check_vtype(struct rd *r, uint32_t t, size_t at, const char *key)
{
    if (t >= TL_GGUF_VAL_COUNT) {
        char q[TL__QUOTE_SIZE];
        return fail(r, at, "key \"%s\" has unknown value type %u", tl__quote(q, sizeof q, key,
                    strlen(key)), t);
    }
    return 0;
}

/* Validates (and skips) the elements of an array of type t and count n that
 * start at r->pos. str_pos, when non-NULL, receives each string's offset. */
static int skip_array(struct rd *r, uint32_t t, uint64_t n, int depth, const char *key,
                      uint64_t *str_pos)
{
    char q[TL__QUOTE_SIZE];
    if (t < TL_GGUF_VAL_COUNT && vtype_size[t]) {
        uint64_t es = vtype_size[t];
        if (n > (r->size - r->pos) / es)
            return fail(r, r->pos, "array \"%s\" of %llu %s elements exceeds the %zu bytes "
                        "that remain", tl__quote(q, sizeof q, key, strlen(key)),
                        (unsigned long long)n, vtype_names[t], r->size - r->pos);
        if (t == TL_GGUF_VAL_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (r->p[r->pos + i] > 1)
                    return fail(r, r->pos + i, "array \"%s\" holds bool value %u (not 0 or 1)",
                                tl__quote(q, sizeof q, key, strlen(key)), r->p[r->pos + i]);
        r->pos += (size_t)(n * es);
        return 0;
    }
    if (t == TL_GGUF_VAL_STRING) {
        if (n > (r->size - r->pos) / 8)
            return fail(r, r->pos, "array \"%s\" of %llu strings exceeds the %zu bytes that "
                        "remain", tl__quote(q, sizeof q, key, strlen(key)),
                        (unsigned long long)n, r->size - r->pos);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t len;
            if (str_pos)
                str_pos[i] = r->pos;
            int rc = rd_u64(r, &len, "array string length");
            if (rc < 0)
                return rc;
            if (len > r->size - r->pos)
                return fail(r, r->pos - 8, "array \"%s\" element %llu length %llu exceeds the "
                            "%zu bytes that remain", tl__quote(q, sizeof q, key, strlen(key)),
                            (unsigned long long)i, (unsigned long long)len, r->size - r->pos);
            r->pos += (size_t)len;
        }
        return 0;
    }
    /* Arrays of arrays: each element is (u32 type, u64 count, elements). */
    if (depth >= MAX_ARRAY_DEPTH)
        return fail(r, r->pos, "array \"%s\" nests deeper than %d levels",
                    tl__quote(q, sizeof q, key, strlen(key)), MAX_ARRAY_DEPTH);
    if (n > (r->size - r->pos) / 12)
        return fail(r, r->pos, "array \"%s\" of %llu arrays exceeds the %zu bytes that remain",
                    tl__quote(q, sizeof q, key, strlen(key)), (unsigned long long)n,
                    r->size - r->pos);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t et;
        uint64_t en;
        size_t at = r->pos;
        int rc = rd_u32(r, &et, "nested array element type");
        if (rc < 0)
            return rc;
        if ((rc = check_vtype(r, et, at, key)) < 0)
            return rc;
        if ((rc = rd_u64(r, &en, "nested array count")) < 0)
            return rc;
        if ((rc = skip_array(r, et, en, depth + 1, key, NULL)) < 0)
            return rc;
    }
    return 0;
}

static int read_kv(struct rd *r, struct kv *kv, size_t idx)
{
    char q[TL__QUOTE_SIZE];
    char what[64];
    snprintf(what, sizeof what, "key of metadata pair %zu", idx);
    int rc = rd_name(r, &kv->key, what);
    if (rc < 0)
        return rc;
    uint32_t t;
    size_t at = r->pos;
    if ((rc = rd_u32(r, &t, "value type")) < 0)
        return rc;
    if ((rc = check_vtype(r, t, at, kv->key)) < 0)
        return rc;
    kv->type = (int)t;
    if (t < TL_GGUF_VAL_COUNT && vtype_size[t]) { /* t was checked: for the compiler */
        if ((rc = need(r, vtype_size[t], vtype_names[t])) < 0)
            return rc;
        kv->pos = r->pos;
        if (t == TL_GGUF_VAL_BOOL && r->p[r->pos] > 1)
            return fail(r, r->pos, "key \"%s\" holds bool value %u (not 0 or 1)",
                        tl__quote(q, sizeof q, kv->key, strlen(kv->key)), r->p[r->pos]);
        r->pos += vtype_size[t];
        return 0;
    }
    if (t == TL_GGUF_VAL_STRING) {
        uint64_t pos, len;
        kv->pos = r->pos;
        if ((rc = rd_str(r, &pos, &len, "string value")) < 0)
            return rc;
        return 0;
    }
    uint32_t et;
    at = r->pos;
    if ((rc = rd_u32(r, &et, "array element type")) < 0)
        return rc;
    if ((rc = check_vtype(r, et, at, kv->key)) < 0)
        return rc;
    if ((rc = rd_u64(r, &kv->count, "array count")) < 0)
        return rc;
    kv->elem_type = (int)et;
    kv->pos = r->pos;
    if (et == TL_GGUF_VAL_STRING && kv->count <= (r->size - r->pos) / 8) {
        /* Bounded by the file size: at least 8 bytes per string. */
        kv->str_pos = malloc((size_t)(kv->count ? kv->count : 1) * sizeof *kv->str_pos);
        if (!kv->str_pos)
            return tl_err_set(r->err, TL_ENOMEM, "GGUF file \"%s\": out of memory indexing array %s",
                              r->name, tl__quote(q, sizeof q, kv->key, strlen(kv->key)));
    }
    return skip_array(r, et, kv->count, 1, kv->key, kv->str_pos);
}

static int read_tensor(struct rd *r, struct tensor *t, size_t idx)
{
    char q[TL__QUOTE_SIZE];
    char what[64];
    snprintf(what, sizeof what, "name of tensor %zu", idx);
    t->info_pos = r->pos;
    int rc = rd_name(r, &t->name, what);
    if (rc < 0)
        return rc;
    const char *qn = tl__quote(q, sizeof q, t->name, strlen(t->name));
    uint32_t nd;
    size_t at = r->pos;
    if ((rc = rd_u32(r, &nd, "tensor dimension count")) < 0)
        return rc;
    if (nd < 1 || nd > TL_GGUF_MAX_DIMS)
        return fail(r, at, "tensor \"%s\" has %u dimensions (1 to %d allowed)", qn, nd,
                    TL_GGUF_MAX_DIMS);
    t->n_dims = (int)nd;
    uint64_t n_elems = 1;
    for (int d = 0; d < TL_GGUF_MAX_DIMS; d++)
        t->dims[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v;
        at = r->pos;
        if ((rc = rd_u64(r, &v, "tensor dimension")) < 0)
            return rc;
        if (v > (uint64_t)INT64_MAX)
            return fail(r, at, "tensor \"%s\" dimension %u is negative", qn, d);
        if (v && n_elems > (uint64_t)INT64_MAX / v)
            return fail(r, at, "tensor \"%s\" element count overflows at dimension %u", qn, d);
        n_elems *= v;
        t->dims[d] = (int64_t)v;
    }
    t->n_elems = n_elems;
    uint32_t ty;
    at = r->pos;
    if ((rc = rd_u32(r, &ty, "tensor type")) < 0)
        return rc;
    if (!tl_gguf_type_name((int)ty))
        return fail(r, at, "tensor \"%s\" has unknown or retired type id %u", qn, ty);
    t->type = (int)ty;
    const struct type_traits *tr = &traits[ty];
    if ((uint64_t)t->dims[0] % tr->block_size)
        return fail(r, at, "tensor \"%s\" row length %lld is not a multiple of the %s block "
                    "size %u", qn, (long long)t->dims[0], tr->name, tr->block_size);
    /* n_elems < 2^63 and block_bytes <= 292 * block_size, so no overflow
     * once divided by the block size first. */
    uint64_t n_blocks = n_elems / tr->block_size;
    if (n_blocks > UINT64_MAX / tr->block_bytes)
        return fail(r, at, "tensor \"%s\" byte size overflows", qn);
    t->size_bytes = n_blocks * tr->block_bytes;
    at = r->pos;
    if ((rc = rd_u64(r, &t->offset, "tensor offset")) < 0)
        return rc;
    if (t->offset % r->g->alignment)
        return fail(r, at, "tensor \"%s\" offset %llu is not a multiple of the alignment %u", qn,
                    (unsigned long long)t->offset, r->g->alignment);
    return 0;
}

/* Orders index a before b; ctx is the handle (C17 qsort has no context
 * argument, and a static one would make concurrent opens race). */
typedef int (*idx_cmp)(const tl_gguf *g, size_t a, size_t b);

static int cmp_kv(const tl_gguf *g, size_t a, size_t b)
{
    return strcmp(g->kvs[a].key, g->kvs[b].key);
}

static int cmp_tensor_name(const tl_gguf *g, size_t a, size_t b)
{
    return strcmp(g->tensors[a].name, g->tensors[b].name);
}

static int cmp_tensor_offset(const tl_gguf *g, size_t a, size_t b)
{
    uint64_t x = g->tensors[a].offset, y = g->tensors[b].offset;
    return x < y ? -1 : x > y;
}

static void sift_down(size_t *idx, size_t root, size_t n, const tl_gguf *g, idx_cmp cmp)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cmp(g, idx[child], idx[child + 1]) < 0)
            child++;
        if (cmp(g, idx[root], idx[child]) >= 0)
            return;
        size_t tmp = idx[root];
        idx[root] = idx[child];
        idx[child] = tmp;
        root = child;
    }
}

/* Heapsort: in place and O(n log n) whatever order a hostile file uses. */
static void sort_idx(size_t *idx, size_t n, const tl_gguf *g, idx_cmp cmp)
{
    for (size_t start = n / 2; start-- > 0;)
        sift_down(idx, start, n, g, cmp);
    for (size_t end = n; end-- > 1;) {
        size_t tmp = idx[0];
        idx[0] = idx[end];
        idx[end] = tmp;
        sift_down(idx, 0, end, g, cmp);
    }
}

static int parse(tl_gguf *g, const char *qname, tl_err *err)
{
    struct rd r = {g, g->data, g->size, 0, qname, err};
    int rc = need(&r, 4, "magic");
    if (rc < 0)
        return rc;
    if (memcmp(g->data, "GGUF", 4) != 0)
        return fail(&r, 0, "bad magic (not a GGUF file)");
    r.pos = 4;
    if ((rc = rd_u32(&r, &g->version, "version")) < 0)
        return rc;
    if (g->version != 2 && g->version != 3)
        return fail(&r, 4, "unsupported version %u (2 and 3 are read)", g->version);
    uint64_t n_tensors, n_kv;
    if ((rc = rd_u64(&r, &n_tensors, "tensor count")) < 0 ||
        (rc = rd_u64(&r, &n_kv, "metadata count")) < 0)
        return rc;
    /* Each pair takes at least 8 (key length) + 1 + 4 (type) + 1 bytes and
     * each descriptor 8 + 1 + 4 + 8 + 4 + 8: refuse counts the file cannot
     * hold before allocating for them. */
    size_t rem = g->size - r.pos;
    if (n_kv > rem / 14)
        return fail(&r, 16, "metadata count %llu cannot fit in the %zu bytes that remain",
                    (unsigned long long)n_kv, rem);
    if (n_tensors > rem / 33)
        return fail(&r, 8, "tensor count %llu cannot fit in the %zu bytes that remain",
                    (unsigned long long)n_tensors, rem);
    g->n_kv = (size_t)n_kv;
    g->n_tensors = (size_t)n_tensors;
    g->names_cap = rem + 1; // names are copies of bytes that remain, plus NULs (<= 1 per 14 bytes)
    g->names = malloc(g->names_cap);
    g->kvs = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kvs);
    g->kv_sorted = malloc((g->n_kv ? g->n_kv : 1) * sizeof *g->kv_sorted);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    g->t_sorted = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *g->t_sorted);
    if (!g->names || !g->kvs || !g->kv_sorted || !g->tensors || !g->t_sorted)
        return tl_err_set(err, TL_ENOMEM, "GGUF file \"%s\": out of memory", qname);

    char q[TL__QUOTE_SIZE];
    for (size_t i = 0; i < g->n_kv; i++)
        if ((rc = read_kv(&r, &g->kvs[i], i)) < 0)
            return rc;
    for (size_t i = 0; i < g->n_kv; i++)
        g->kv_sorted[i] = i;
    sort_idx(g->kv_sorted, g->n_kv, g, cmp_kv);
    for (size_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kvs[g->kv_sorted[i - 1]].key, g->kvs[g->kv_sorted[i]].key) == 0) {
            const char *k = g->kvs[g->kv_sorted[i]].key;
            return fail(&r, r.pos, "duplicate metadata key \"%s\"",
                        tl__quote(q, sizeof q, k, strlen(k)));
        }

    g->alignment = TL_GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = tl_gguf_find_kv(g, "general.alignment");
    if (ai >= 0) {
        const struct kv *kv = &g->kvs[ai];
        if (kv->type != TL_GGUF_VAL_U32)
            return fail(&r, kv->pos, "general.alignment is %s, not u32", vtype_names[kv->type]);
        uint32_t a = (uint32_t)le(g->data + kv->pos, 4);
        if (a == 0 || (a & (a - 1)))
            return fail(&r, kv->pos, "general.alignment %u is not a power of two", a);
        g->alignment = a;
    }

    for (size_t i = 0; i < g->n_tensors; i++)
        if ((rc = read_tensor(&r, &g->tensors[i], i)) < 0)
            return rc;
    for (size_t i = 0; i < g->n_tensors; i++)
        g->t_sorted[i] = i;
    sort_idx(g->t_sorted, g->n_tensors, g, cmp_tensor_name);
    for (size_t i = 1; i < g->n_tensors; i++) {
        const struct tensor *t = &g->tensors[g->t_sorted[i]];
        if (strcmp(g->tensors[g->t_sorted[i - 1]].name, t->name) == 0)
            return fail(&r, t->info_pos, "duplicate tensor name \"%s\"",
                        tl__quote(q, sizeof q, t->name, strlen(t->name)));
    }

    /* The data section starts at the next multiple of the alignment. A file
     * without tensors (a vocabulary-only GGUF) may end before it. */
    uint64_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
    g->data_pos = r.pos + pad;
    if (g->n_tensors == 0)
        return 0;
    if (g->data_pos > g->size)
        return fail(&r, r.pos, "truncated: the data section would start at byte %llu past the "
                    "end of the file", (unsigned long long)g->data_pos);
    uint64_t data_size = g->size - g->data_pos;
    /* Within the file, then no overlap: sorted by offset, each tensor must
     * end where or before the next begins. */
    size_t *by_off = malloc(g->n_tensors * sizeof *by_off);
    if (!by_off)
        return tl_err_set(err, TL_ENOMEM, "GGUF file \"%s\": out of memory", qname);
    for (size_t i = 0; i < g->n_tensors; i++) {
        const struct tensor *t = &g->tensors[i];
        if (t->offset > data_size || t->size_bytes > data_size - t->offset) {
            free(by_off);
            return fail(&r, t->info_pos, "tensor \"%s\" (%llu bytes at data offset %llu) ends "
                        "past the end of the file (data section of %llu bytes at byte %llu)",
                        tl__quote(q, sizeof q, t->name, strlen(t->name)),
                        (unsigned long long)t->size_bytes, (unsigned long long)t->offset,
                        (unsigned long long)data_size, (unsigned long long)g->data_pos);
        }
        by_off[i] = i;
    }
    sort_idx(by_off, g->n_tensors, g, cmp_tensor_offset);
    for (size_t i = 1; i < g->n_tensors; i++) {
        const struct tensor *a = &g->tensors[by_off[i - 1]];
        const struct tensor *b = &g->tensors[by_off[i]];
        if (a->offset + a->size_bytes > b->offset) {
            char q2[TL__QUOTE_SIZE];
            rc = fail(&r, b->info_pos, "tensors \"%s\" and \"%s\" overlap (data offsets %llu "
                      "and %llu, the first is %llu bytes)",
                      tl__quote(q, sizeof q, a->name, strlen(a->name)),
                      tl__quote(q2, sizeof q2, b->name, strlen(b->name)),
                      (unsigned long long)a->offset, (unsigned long long)b->offset,
                      (unsigned long long)a->size_bytes);
            free(by_off);
            return rc;
        }
    }
    free(by_off);
    return 0;
}

static int open_common(const void *data, size_t size, bool mapped, const char *name,
                       tl_gguf **out, tl_err *err)
{
    char qname[TL__QUOTE_SIZE];
    tl__quote(qname, sizeof qname, name ? name : "(memory)", name ? strlen(name) : 8);
    tl_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return tl_err_set(err, TL_ENOMEM, "GGUF file \"%s\": out of memory", qname);
    g->data = data;
    g->size = size;
    g->mapped = mapped;
    int rc = parse(g, qname, err);
    if (rc < 0) {
        tl_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int tl_gguf_open_mem(const void *data, size_t size, const char *name, tl_gguf **out,
                     tl_err *err)
{
    if (!data && size)
        return tl_err_set(err, TL_EINVAL, "tl_gguf_open_mem: NULL data with size %zu", size);
    return open_common(data ? data : "", size, false, name, out, err);
}

int tl_gguf_open(const char *path, tl_gguf **out, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    if (!path)
        return tl_err_set(err, TL_EINVAL, "tl_gguf_open: NULL path");
    tl__quote(q, sizeof q, path, strlen(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "cannot open GGUF file \"%s\": %s", q, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return tl_err_set(err, TL_EIO, "cannot read GGUF file \"%s\": %s", q, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return tl_err_set(err, TL_EIO, "cannot read GGUF file \"%s\": not a regular file", q);
    }
    size_t size = (size_t)sb.st_size;
    if (size == 0) {
        close(fd);
        return open_common(NULL, 0, false, path, out, err);
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); // the mapping keeps the file
    if (p == MAP_FAILED)
        return tl_err_set(err, TL_EIO, "cannot map GGUF file \"%s\": %s", q, strerror(e));
    return open_common(p, size, true, path, out, err);
}

void tl_gguf_close(tl_gguf *g)
{
    if (!g)
        return;
    if (g->kvs)
        for (size_t i = 0; i < g->n_kv; i++)
            free(g->kvs[i].str_pos);
    free(g->kvs);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->t_sorted);
    free(g->names);
    if (g->mapped)
        munmap((void *)g->data, g->size);
    free(g);
}

uint32_t tl_gguf_version(const tl_gguf *g)
{
    return g->version;
}

uint32_t tl_gguf_alignment(const tl_gguf *g)
{
    return g->alignment;
}

uint64_t tl_gguf_data_offset(const tl_gguf *g)
{
    return g->data_pos;
}

/* ---- metadata getters ------------------------------------------------------------ */

size_t tl_gguf_n_kv(const tl_gguf *g)
{
    return g->n_kv;
}

int64_t tl_gguf_find_kv(const tl_gguf *g, const char *key)
{
    if (!key)
        return -1;
    size_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kvs[g->kv_sorted[mid]].key, key);
        if (c == 0)
            return (int64_t)g->kv_sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *tl_gguf_kv_key(const tl_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kvs[i].key : NULL;
}

int tl_gguf_kv_type(const tl_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kvs[i].type : -1;
}

static int lookup(const tl_gguf *g, const char *key, const struct kv **out, tl_err *err)
{
    int64_t i = tl_gguf_find_kv(g, key);
    if (i < 0) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_ENOTFOUND, "GGUF metadata has no key \"%s\"",
                          tl__quote(q, sizeof q, key ? key : "", key ? strlen(key) : 0));
    }
    *out = &g->kvs[i];
    return 0;
}

static int wrong_type(const char *key, int type, const char *want, tl_err *err)
{
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EPARSE, "GGUF metadata key \"%s\" is %s, expected %s",
                      tl__quote(q, sizeof q, key, strlen(key)), tl_gguf_vtype_name(type), want);
}

/* Reads an integer of type t at p as a signed/unsigned pair: *neg is set
 * when the value is below zero. Returns false when t is not an integer. */
static bool read_int(const uint8_t *p, int t, uint64_t *mag, bool *neg)
{
    uint64_t u;
    int64_t s;
    switch (t) {
    case TL_GGUF_VAL_U8: u = p[0]; break;
    case TL_GGUF_VAL_U16: u = le(p, 2); break;
    case TL_GGUF_VAL_U32: u = le(p, 4); break;
    case TL_GGUF_VAL_U64: u = le(p, 8); break;
    case TL_GGUF_VAL_I8: s = (int8_t)p[0]; goto sgn;
    case TL_GGUF_VAL_I16: s = (int16_t)le(p, 2); goto sgn;
    case TL_GGUF_VAL_I32: s = (int32_t)le(p, 4); goto sgn;
    case TL_GGUF_VAL_I64: s = (int64_t)le(p, 8); goto sgn;
    default: return false;
    }
    *mag = u;
    *neg = false;
    return true;
sgn:
    *neg = s < 0;
    *mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return true;
}

static bool read_float(const uint8_t *p, int t, double *out)
{
    if (t == TL_GGUF_VAL_F32) {
        uint32_t b = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &b, 4);
        *out = f;
        return true;
    }
    if (t == TL_GGUF_VAL_F64) {
        uint64_t b = le(p, 8);
        memcpy(out, &b, 8);
        return true;
    }
    return false;
}

static int to_i64(const char *key, const uint8_t *p, int t, int64_t *out, tl_err *err)
{
    uint64_t mag;
    bool neg;
    if (!read_int(p, t, &mag, &neg))
        return wrong_type(key, t, "an integer", err);
    if (!neg && mag > (uint64_t)INT64_MAX) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EPARSE, "GGUF metadata key \"%s\" value %llu exceeds int64",
                          tl__quote(q, sizeof q, key, strlen(key)), (unsigned long long)mag);
    }
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int tl_gguf_get_u32(const tl_gguf *g, const char *key, uint32_t *out, tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup(g, key, &kv, err);
    if (rc < 0)
        return rc;
    uint64_t mag;
    bool neg;
    if (!read_int(g->data + kv->pos, kv->type, &mag, &neg) || kv->type == TL_GGUF_VAL_ARRAY)
        return wrong_type(key, kv->type, "an integer", err);
    if (neg || mag > UINT32_MAX) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EPARSE, "GGUF metadata key \"%s\" value %s%llu is out of "
                          "the u32 range", tl__quote(q, sizeof q, key, strlen(key)),
                          neg ? "-" : "", (unsigned long long)mag);
    }
    *out = (uint32_t)mag;
    return 0;
}

int tl_gguf_get_i64(const tl_gguf *g, const char *key, int64_t *out, tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup(g, key, &kv, err);
    if (rc < 0)
        return rc;
    return to_i64(key, g->data + kv->pos, kv->type, out, err);
}

int tl_gguf_get_f32(const tl_gguf *g, const char *key, float *out, tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup(g, key, &kv, err);
    if (rc < 0)
        return rc;
    double d;
    if (!read_float(g->data + kv->pos, kv->type, &d))
        return wrong_type(key, kv->type, "f32 or f64", err);
    *out = (float)d;
    return 0;
}

int tl_gguf_get_bool(const tl_gguf *g, const char *key, bool *out, tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup(g, key, &kv, err);
    if (rc < 0)
        return rc;
    if (kv->type != TL_GGUF_VAL_BOOL)
        return wrong_type(key, kv->type, "bool", err);
    *out = g->data[kv->pos] != 0;
    return 0;
}

int tl_gguf_get_str(const tl_gguf *g, const char *key, const char **s, size_t *len, tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup(g, key, &kv, err);
    if (rc < 0)
        return rc;
    if (kv->type != TL_GGUF_VAL_STRING)
        return wrong_type(key, kv->type, "string", err);
    *len = (size_t)le(g->data + kv->pos, 8);
    *s = (const char *)g->data + kv->pos + 8;
    return 0;
}

static int lookup_arr(const tl_gguf *g, const char *key, const struct kv **out, tl_err *err)
{
    int rc = lookup(g, key, out, err);
    if (rc < 0)
        return rc;
    if ((*out)->type != TL_GGUF_VAL_ARRAY)
        return wrong_type(key, (*out)->type, "array", err);
    return 0;
}

int tl_gguf_arr_info(const tl_gguf *g, const char *key, int *elem_type, uint64_t *count,
                     tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup_arr(g, key, &kv, err);
    if (rc < 0)
        return rc;
    if (elem_type)
        *elem_type = kv->elem_type;
    if (count)
        *count = kv->count;
    return 0;
}

/* The array kv and a pointer to fixed-size element i, after the checks. */
static int arr_elem(const tl_gguf *g, const char *key, uint64_t i, const struct kv **kvp,
                    const uint8_t **p, tl_err *err)
{
    const struct kv *kv = NULL;
    int rc = lookup_arr(g, key, &kv, err);
    if (rc < 0)
        return rc;
    char q[TL__QUOTE_SIZE];
    if (i >= kv->count)
        return tl_err_set(err, TL_EINVAL, "GGUF array \"%s\" has %llu elements, no index %llu",
                          tl__quote(q, sizeof q, key, strlen(key)),
                          (unsigned long long)kv->count, (unsigned long long)i);
    if (kv->elem_type == TL_GGUF_VAL_ARRAY)
        return tl_err_set(err, TL_EUNSUPPORTED, "GGUF array \"%s\" holds arrays, whose "
                          "elements are not accessible", tl__quote(q, sizeof q, key,
                                                                    strlen(key)));
    *kvp = kv;
    if (kv->elem_type == TL_GGUF_VAL_STRING)
        *p = g->data + kv->str_pos[i];
    else
        *p = g->data + kv->pos + i * vtype_size[kv->elem_type];
    return 0;
}

int tl_gguf_arr_i64(const tl_gguf *g, const char *key, uint64_t i, int64_t *out, tl_err *err)
{
    const struct kv *kv = NULL;
    const uint8_t *p;
    int rc = arr_elem(g, key, i, &kv, &p, err);
    if (rc < 0)
        return rc;
    return to_i64(key, p, kv->elem_type, out, err);
}

int tl_gguf_arr_f32(const tl_gguf *g, const char *key, uint64_t i, float *out, tl_err *err)
{
    const struct kv *kv = NULL;
    const uint8_t *p;
    int rc = arr_elem(g, key, i, &kv, &p, err);
    if (rc < 0)
        return rc;
    double d;
    if (!read_float(p, kv->elem_type, &d))
        return wrong_type(key, kv->elem_type, "f32 or f64 elements", err);
    *out = (float)d;
    return 0;
}

int tl_gguf_arr_str(const tl_gguf *g, const char *key, uint64_t i, const char **s, size_t *len,
                    tl_err *err)
{
    const struct kv *kv = NULL;
    const uint8_t *p;
    int rc = arr_elem(g, key, i, &kv, &p, err);
    if (rc < 0)
        return rc;
    if (kv->elem_type != TL_GGUF_VAL_STRING)
        return wrong_type(key, kv->elem_type, "string elements", err);
    *len = (size_t)le(p, 8);
    *s = (const char *)p + 8;
    return 0;
}

/* ---- tensors ---------------------------------------------------------------------- */

size_t tl_gguf_n_tensors(const tl_gguf *g)
{
    return g->n_tensors;
}

int64_t tl_gguf_find_tensor(const tl_gguf *g, const char *name)
{
    if (!name)
        return -1;
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensors[g->t_sorted[mid]].name, name);
        if (c == 0)
            return (int64_t)g->t_sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int tl_gguf_tensor(const tl_gguf *g, size_t i, tl_gguf_tensor_info *info)
{
    if (i >= g->n_tensors)
        return TL_EINVAL;
    const struct tensor *t = &g->tensors[i];
    info->name = t->name;
    info->type = t->type;
    info->n_dims = t->n_dims;
    memcpy(info->dims, t->dims, sizeof info->dims);
    info->n_elems = t->n_elems;
    info->offset = t->offset;
    info->size_bytes = t->size_bytes;
    info->data = g->data + g->data_pos + t->offset;
    return 0;
}
