/*
 * gguf_write.c - the GGUF v3 writer (include/teller/llm_gguf_write.h).
 *
 * Each metadata value is encoded once, when it is set, into the exact bytes
 * that follow its type tag in the file; writing is then a copy. Tensor
 * offsets are assigned at write time (each aligned, as ggml's gguf writer
 * does, padding after every tensor including the last), so descriptors can
 * be added in any order before the write.
 */
#include <teller/llm_gguf_write.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv {
    char *key;
    int type;       // enum tl_gguf_vtype
    uint8_t *val;   // encoded value (after the type tag)
    size_t val_len;
};

struct tensor {
    char *name;
    int type;
    int n_dims;
    int64_t dims[TL_GGUF_MAX_DIMS];
    uint64_t size;
    const void *data; // borrowed, or NULL: produced by the fill callback
};

struct tl_gguf_writer {
    struct kv *kv;
    size_t n_kv, cap_kv;
    struct tensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
};

/* A growable byte buffer for encoding values and the file header. */
struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void buf_put(struct buf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* GGUF is little-endian; so are the hosts we build for (x86-64, arm64). */
static void buf_u32(struct buf *b, uint32_t v) { buf_put(b, &v, 4); }
static void buf_u64(struct buf *b, uint64_t v) { buf_put(b, &v, 8); }
static void buf_str(struct buf *b, const char *s, size_t len)
{
    buf_u64(b, len);
    buf_put(b, s, len);
}

static size_t vtype_size(int t)
{
    switch (t) {
    case TL_GGUF_VAL_U8:
    case TL_GGUF_VAL_I8:
    case TL_GGUF_VAL_BOOL:
        return 1;
    case TL_GGUF_VAL_U16:
    case TL_GGUF_VAL_I16:
        return 2;
    case TL_GGUF_VAL_U32:
    case TL_GGUF_VAL_I32:
    case TL_GGUF_VAL_F32:
        return 4;
    case TL_GGUF_VAL_U64:
    case TL_GGUF_VAL_I64:
    case TL_GGUF_VAL_F64:
        return 8;
    default:
        return 0;
    }
}

int tl_gguf_writer_new(tl_gguf_writer **out, tl_err *err)
{
    tl_gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory");
    w->alignment = TL_GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return 0;
}

void tl_gguf_writer_free(tl_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* Stores key = (type, encoded bytes), taking ownership of b's bytes. */
static int put_kv(tl_gguf_writer *w, const char *key, int type, struct buf *b, tl_err *err)
{
    if (b->oom) {
        free(b->p);
        return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory for key \"%s\"", key);
    }
    if (!key || !key[0]) {
        free(b->p);
        return tl_err_set(err, TL_EINVAL, "GGUF writer: a metadata key must not be empty");
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = b->p;
            w->kv[i].val_len = b->n;
            return 0;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        struct kv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(b->p);
            return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory for key \"%s\"", key);
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(b->p);
        return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory for key \"%s\"", key);
    }
    w->kv[w->n_kv++] = (struct kv){k, type, b->p, b->n};
    return 0;
}

static int set_scalar(tl_gguf_writer *w, const char *key, int type, const void *v, tl_err *err)
{
    struct buf b = {0};
    buf_put(&b, v, vtype_size(type));
    return put_kv(w, key, type, &b, err);
}

int tl_gguf_writer_set_u8(tl_gguf_writer *w, const char *key, uint8_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_U8, &v, err);
}
int tl_gguf_writer_set_i8(tl_gguf_writer *w, const char *key, int8_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_I8, &v, err);
}
int tl_gguf_writer_set_u16(tl_gguf_writer *w, const char *key, uint16_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_U16, &v, err);
}
int tl_gguf_writer_set_i16(tl_gguf_writer *w, const char *key, int16_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_I16, &v, err);
}
int tl_gguf_writer_set_u32(tl_gguf_writer *w, const char *key, uint32_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_U32, &v, err);
}
int tl_gguf_writer_set_i32(tl_gguf_writer *w, const char *key, int32_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_I32, &v, err);
}
int tl_gguf_writer_set_u64(tl_gguf_writer *w, const char *key, uint64_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_U64, &v, err);
}
int tl_gguf_writer_set_i64(tl_gguf_writer *w, const char *key, int64_t v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_I64, &v, err);
}
int tl_gguf_writer_set_f32(tl_gguf_writer *w, const char *key, float v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_F32, &v, err);
}
int tl_gguf_writer_set_f64(tl_gguf_writer *w, const char *key, double v, tl_err *err)
{
    return set_scalar(w, key, TL_GGUF_VAL_F64, &v, err);
}
int tl_gguf_writer_set_bool(tl_gguf_writer *w, const char *key, bool v, tl_err *err)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, TL_GGUF_VAL_BOOL, &b, err);
}

int tl_gguf_writer_set_strn(tl_gguf_writer *w, const char *key, const char *s, size_t len,
                            tl_err *err)
{
    struct buf b = {0};
    buf_str(&b, s, len);
    return put_kv(w, key, TL_GGUF_VAL_STRING, &b, err);
}

int tl_gguf_writer_set_str(tl_gguf_writer *w, const char *key, const char *s, tl_err *err)
{
    return tl_gguf_writer_set_strn(w, key, s ? s : "", s ? strlen(s) : 0, err);
}

int tl_gguf_writer_set_arr(tl_gguf_writer *w, const char *key, int elem_type, const void *data,
                           uint64_t n, tl_err *err)
{
    size_t es = vtype_size(elem_type);
    if (!es)
        return tl_err_set(err, TL_EINVAL,
                          "GGUF writer: key \"%s\": array element type %d is not a number or "
                          "bool (use tl_gguf_writer_set_arr_str for strings)",
                          key ? key : "", elem_type);
    if (n > SIZE_MAX / es)
        return tl_err_set(err, TL_ETOOBIG, "GGUF writer: key \"%s\": array too large",
                          key ? key : "");
    if (elem_type == TL_GGUF_VAL_BOOL) {
        for (uint64_t i = 0; i < n; i++)
            if (((const uint8_t *)data)[i] > 1)
                return tl_err_set(err, TL_EINVAL,
                                  "GGUF writer: key \"%s\": bool element %llu is %u, not 0 or 1",
                                  key ? key : "", (unsigned long long)i,
                                  ((const uint8_t *)data)[i]);
    }
    struct buf b = {0};
    buf_u32(&b, (uint32_t)elem_type);
    buf_u64(&b, n);
    buf_put(&b, data, (size_t)n * es);
    return put_kv(w, key, TL_GGUF_VAL_ARRAY, &b, err);
}

int tl_gguf_writer_set_arr_str(tl_gguf_writer *w, const char *key, const char *const *strs,
                               const size_t *lens, uint64_t n, tl_err *err)
{
    struct buf b = {0};
    buf_u32(&b, TL_GGUF_VAL_STRING);
    buf_u64(&b, n);
    for (uint64_t i = 0; i < n; i++)
        buf_str(&b, strs[i], lens ? lens[i] : strlen(strs[i]));
    return put_kv(w, key, TL_GGUF_VAL_ARRAY, &b, err);
}

/* Encodes one scalar of type t read through the reader's getters. */
static int encode_from(const tl_gguf *src, const char *key, int t, bool in_arr, uint64_t i,
                       struct buf *b, tl_err *err)
{
    int rc;
    if (t == TL_GGUF_VAL_STRING) {
        const char *s;
        size_t len;
        rc = in_arr ? tl_gguf_arr_str(src, key, i, &s, &len, err)
                    : tl_gguf_get_str(src, key, &s, &len, err);
        if (rc == 0)
            buf_str(b, s, len);
        return rc;
    }
    if (t == TL_GGUF_VAL_F32 || t == TL_GGUF_VAL_F64) {
        float f;
        rc = in_arr ? tl_gguf_arr_f32(src, key, i, &f, err) : tl_gguf_get_f32(src, key, &f, err);
        if (rc == 0) {
            if (t == TL_GGUF_VAL_F32) {
                buf_put(b, &f, 4);
            } else {
                double d = f;
                buf_put(b, &d, 8);
            }
        }
        return rc;
    }
    if (t == TL_GGUF_VAL_BOOL && !in_arr) {
        bool v;
        rc = tl_gguf_get_bool(src, key, &v, err);
        uint8_t u = v;
        if (rc == 0)
            buf_put(b, &u, 1);
        return rc;
    }
    /* Every integer width goes through int64 (a u64 above INT64_MAX is
     * refused by the reader's getter, so it is not copied). */
    int64_t v = 0;
    rc = in_arr ? tl_gguf_arr_i64(src, key, i, &v, err) : tl_gguf_get_i64(src, key, &v, err);
    if (rc < 0)
        return rc;
    uint8_t raw[8];
    memcpy(raw, &v, 8); // little-endian: the low bytes are the narrow value
    buf_put(b, raw, vtype_size(t));
    return 0;
}

int tl_gguf_writer_copy_kv(tl_gguf_writer *w, const tl_gguf *src, const char *key, tl_err *err)
{
    int64_t idx = tl_gguf_find_kv(src, key);
    if (idx < 0)
        return tl_err_set(err, TL_ENOTFOUND, "GGUF writer: the source file has no key \"%s\"",
                          key);
    int t = tl_gguf_kv_type(src, (size_t)idx);
    struct buf b = {0};
    int rc;
    if (t != TL_GGUF_VAL_ARRAY) {
        rc = encode_from(src, key, t, false, 0, &b, err);
        if (rc < 0) {
            free(b.p);
            return rc;
        }
        return put_kv(w, key, t, &b, err);
    }
    int et;
    uint64_t n;
    if ((rc = tl_gguf_arr_info(src, key, &et, &n, err)) < 0)
        return rc;
    if (et == TL_GGUF_VAL_ARRAY)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "GGUF writer: key \"%s\" is a nested array, which cannot be copied", key);
    if (et == TL_GGUF_VAL_BOOL)
        /* The reader has no getter for bool array elements. */
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "GGUF writer: key \"%s\" is an array of bools, which cannot be copied",
                          key);
    buf_u32(&b, (uint32_t)et);
    buf_u64(&b, n);
    for (uint64_t i = 0; i < n && !b.oom; i++) {
        rc = encode_from(src, key, et, true, i, &b, err);
        if (rc < 0) {
            free(b.p);
            return rc;
        }
    }
    return put_kv(w, key, TL_GGUF_VAL_ARRAY, &b, err);
}

int tl_gguf_writer_set_alignment(tl_gguf_writer *w, uint32_t alignment, tl_err *err)
{
    if (alignment == 0 || alignment > 65536 || (alignment & (alignment - 1)) != 0)
        return tl_err_set(err, TL_EINVAL,
                          "GGUF writer: alignment %u is not a power of two from 1 to 65536",
                          alignment);
    int rc = tl_gguf_writer_set_u32(w, "general.alignment", alignment, err);
    if (rc == 0)
        w->alignment = alignment;
    return rc;
}

int tl_gguf_writer_add_tensor(tl_gguf_writer *w, const char *name, int type, int n_dims,
                              const int64_t *dims, const void *data, tl_err *err)
{
    if (!name || !name[0])
        return tl_err_set(err, TL_EINVAL, "GGUF writer: a tensor name must not be empty");
    if (strlen(name) >= 64)
        /* ggml's GGML_MAX_NAME: llama.cpp refuses longer names. */
        return tl_err_set(err, TL_EINVAL,
                          "GGUF writer: tensor name \"%s\" is longer than 63 bytes", name);
    size_t bs = tl_gguf_type_block_size(type), bb = tl_gguf_type_block_bytes(type);
    if (!bs)
        return tl_err_set(err, TL_EINVAL, "GGUF writer: tensor \"%s\": unknown type id %d", name,
                          type);
    if (n_dims < 1 || n_dims > TL_GGUF_MAX_DIMS)
        return tl_err_set(err, TL_EINVAL,
                          "GGUF writer: tensor \"%s\": %d dimensions (1 to %d allowed)", name,
                          n_dims, TL_GGUF_MAX_DIMS);
    struct tensor t = {.type = type, .n_dims = n_dims, .data = data};
    uint64_t n = 1;
    for (int d = 0; d < TL_GGUF_MAX_DIMS; d++) {
        t.dims[d] = d < n_dims ? dims[d] : 1;
        if (t.dims[d] <= 0 || (uint64_t)t.dims[d] > (UINT64_MAX >> 2) / n)
            return tl_err_set(err, TL_EINVAL,
                              "GGUF writer: tensor \"%s\": dimension %d is %lld (must be "
                              "positive, product below 2^62)",
                              name, d, (long long)t.dims[d]);
        n *= (uint64_t)t.dims[d];
    }
    if (t.dims[0] % (int64_t)bs != 0)
        return tl_err_set(err, TL_EINVAL,
                          "GGUF writer: tensor \"%s\": row length %lld is not a multiple of the "
                          "%s block size %zu",
                          name, (long long)t.dims[0], tl_gguf_type_name(type), bs);
    t.size = n / bs * bb;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return tl_err_set(err, TL_EINVAL, "GGUF writer: tensor \"%s\" added twice", name);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        struct tensor *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt)
            return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory");
        w->t = nt;
        w->cap_t = cap;
    }
    if (!(t.name = strdup(name)))
        return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory");
    w->t[w->n_t++] = t;
    return 0;
}

size_t tl_gguf_writer_n_tensors(const tl_gguf_writer *w)
{
    return w->n_t;
}

uint64_t tl_gguf_writer_tensor_size(const tl_gguf_writer *w, size_t i)
{
    return i < w->n_t ? w->t[i].size : 0;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

/* Header, metadata, tensor infos and padding up to the data section. */
static int build_meta(const tl_gguf_writer *w, struct buf *b, tl_err *err)
{
    buf_put(b, "GGUF", 4);
    buf_u32(b, 3);
    buf_u64(b, w->n_t);
    buf_u64(b, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        buf_str(b, w->kv[i].key, strlen(w->kv[i].key));
        buf_u32(b, (uint32_t)w->kv[i].type);
        buf_put(b, w->kv[i].val, w->kv[i].val_len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct tensor *t = &w->t[i];
        buf_str(b, t->name, strlen(t->name));
        buf_u32(b, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++)
            buf_u64(b, (uint64_t)t->dims[d]);
        buf_u32(b, (uint32_t)t->type);
        buf_u64(b, off);
        off = align_up(off + t->size, w->alignment);
    }
    static const uint8_t zeros[64] = {0};
    size_t pad = (size_t)(align_up(b->n, w->alignment) - b->n);
    while (pad > 0 && !b->oom) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        buf_put(b, zeros, k);
        pad -= k;
    }
    if (b->oom)
        return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory building the header");
    return 0;
}

static int write_all(FILE *fp, const void *p, size_t n)
{
    return fwrite(p, 1, n, fp) == n ? 0 : -1;
}

/* Writes the whole file to fp; name is used in messages. */
static int write_stream(const tl_gguf_writer *w, FILE *fp, const char *name, tl_gguf_fill_fn fill,
                        void *ud, tl_err *err)
{
    struct buf b = {0};
    int rc = build_meta(w, &b, err);
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    if (write_all(fp, b.p, b.n) < 0) {
        free(b.p);
        return tl_err_set(err, TL_EIO, "%s: cannot write: %s", name, strerror(errno));
    }
    free(b.p);

    uint64_t max_fill = 0;
    for (size_t i = 0; i < w->n_t; i++)
        if (!w->t[i].data && w->t[i].size > max_fill)
            max_fill = w->t[i].size;
    if (max_fill && !fill)
        return tl_err_set(err, TL_EINVAL,
                          "GGUF writer: %s: tensors without data need a fill callback", name);
    uint8_t *fb = NULL;
    if (max_fill) {
        if (max_fill > SIZE_MAX || !(fb = malloc((size_t)max_fill)))
            return tl_err_set(err, TL_ENOMEM,
                              "GGUF writer: %s: out of memory for a %llu-byte tensor", name,
                              (unsigned long long)max_fill);
    }
    static const uint8_t zeros[64] = {0};
    for (size_t i = 0; i < w->n_t; i++) {
        const struct tensor *t = &w->t[i];
        const void *src = t->data;
        if (!src) {
            if ((rc = fill(ud, i, t->name, fb, t->size, err)) < 0) {
                free(fb);
                return rc;
            }
            src = fb;
        }
        if (write_all(fp, src, (size_t)t->size) < 0) {
            free(fb);
            return tl_err_set(err, TL_EIO, "%s: cannot write tensor \"%s\": %s", name, t->name,
                              strerror(errno));
        }
        size_t pad = (size_t)(align_up(t->size, w->alignment) - t->size);
        while (pad > 0) {
            size_t k = pad < sizeof zeros ? pad : sizeof zeros;
            if (write_all(fp, zeros, k) < 0) {
                free(fb);
                return tl_err_set(err, TL_EIO, "%s: cannot write: %s", name, strerror(errno));
            }
            pad -= k;
        }
    }
    free(fb);
    return 0;
}

int tl_gguf_writer_write(const tl_gguf_writer *w, const char *path, tl_gguf_fill_fn fill,
                         void *ud, tl_err *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        int rc = tl_err_set(err, TL_EIO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    /* Large writes: a 1 MiB stdio buffer keeps the syscall count low. */
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    int rc = write_stream(w, fp, tmp, fill, ud, err);
    if (fclose(fp) != 0 && rc == 0)
        rc = tl_err_set(err, TL_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = tl_err_set(err, TL_EIO, "%s: cannot rename %s to it: %s", path, tmp,
                        strerror(errno));
    if (rc < 0)
        remove(tmp);
    free(tmp);
    return rc;
}

int tl_gguf_writer_write_mem(const tl_gguf_writer *w, tl_gguf_fill_fn fill, void *ud, void **out,
                             size_t *len, tl_err *err)
{
    char *p = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&p, &n);
    if (!fp)
        return tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory");
    int rc = write_stream(w, fp, "(memory)", fill, ud, err);
    if (fclose(fp) != 0 && rc == 0)
        rc = tl_err_set(err, TL_ENOMEM, "GGUF writer: out of memory");
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    *len = n;
    return 0;
}
