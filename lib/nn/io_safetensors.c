/*
 * io_safetensors.c - reading and writing safetensors files
 * (include/teller/nn_io.h; the format in docs/nn-training.md).
 *
 * A reader validates the whole header and the offsets before it hands out a
 * single pointer, with the same rules as the Rust reference
 * (safetensors::tensor::Metadata::validate), so a file accepted here loads
 * in Python too and a hostile file is a TL_EPARSE sentence, never a read
 * past the buffer.
 */
#include <teller/nn_io.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

/* Data is little-endian on disk and copied with memcpy: a big-endian host
 * would need byte swaps that nobody runs. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io_safetensors.c assumes a little-endian host"
#endif

/* clang-format off */
static const struct dtype_traits {
    const char *name;
    size_t size;
} dtypes[TL_NN_DTYPE_COUNT] = {
    [TL_NN_DTYPE_BOOL] = {"BOOL", 1},
    [TL_NN_DTYPE_U8] = {"U8", 1},
    [TL_NN_DTYPE_I8] = {"I8", 1},
    [TL_NN_DTYPE_I16] = {"I16", 2},
    [TL_NN_DTYPE_U16] = {"U16", 2},
    [TL_NN_DTYPE_F16] = {"F16", 2},
    [TL_NN_DTYPE_BF16] = {"BF16", 2},
    [TL_NN_DTYPE_I32] = {"I32", 4},
    [TL_NN_DTYPE_U32] = {"U32", 4},
    [TL_NN_DTYPE_F32] = {"F32", 4},
    [TL_NN_DTYPE_F64] = {"F64", 8},
    [TL_NN_DTYPE_I64] = {"I64", 8},
    [TL_NN_DTYPE_U64] = {"U64", 8},
    [TL_NN_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
    [TL_NN_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
};
/* clang-format on */

const char *tl_nn_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < TL_NN_DTYPE_COUNT ? dtypes[dtype].name : "?";
}

/* ---- writing ---------------------------------------------------------------- */

static int cmp_tensor_name(const void *a, const void *b)
{
    const tl_nn_st_tensor *x = *(const tl_nn_st_tensor *const *)a;
    const tl_nn_st_tensor *y = *(const tl_nn_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int quoted_name_err(tl_err *err, int code, const char *what, const char *name)
{
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, code, "safetensors write: tensor \"%s\" %s",
                      tl__quote(q, sizeof q, name, strlen(name)), what);
}

/* Builds the padded header; *order gets the tensors in file order. */
static int build_header(const tl_nn_st_tensor *t, size_t n, const char *const *meta_kv,
                        size_t n_meta, char **out_hdr, size_t *out_hdr_len,
                        const tl_nn_st_tensor ***out_order, uint64_t *out_data_len, tl_err *err)
{
    if (n > 0 && !t)
        return tl_err_set(err, TL_EINVAL, "safetensors write: tensors is NULL but n is %zu", n);
    if (n_meta > 0 && !meta_kv)
        return tl_err_set(err, TL_EINVAL, "safetensors write: meta_kv is NULL but n_meta is %zu",
                          n_meta);
    const tl_nn_st_tensor **order = malloc((n ? n : 1) * sizeof *order);
    json_t *root = json_object();
    if (!order || !root) {
        free(order);
        json_decref(root);
        return tl_err_set(err, TL_ENOMEM, "safetensors write: out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!t[i].name)
            rc = tl_err_set(err, TL_EINVAL, "safetensors write: tensor %zu has no name", i);
        else if (strcmp(t[i].name, "__metadata__") == 0)
            rc = quoted_name_err(err, TL_EINVAL, "uses the reserved name", t[i].name);
        else if (t[i].ndim < 0 || t[i].ndim > TL_NN_ST_MAX_DIMS || (t[i].ndim > 0 && !t[i].shape))
            rc = quoted_name_err(err, TL_EINVAL, "has a bad ndim (0 to 8, with a shape)", t[i].name);
        order[i] = &t[i];
    }
    if (rc == 0 && n > 1) {
        qsort(order, n, sizeof *order, cmp_tensor_name);
        for (size_t i = 1; i < n && rc == 0; i++)
            if (strcmp(order[i - 1]->name, order[i]->name) == 0)
                rc = quoted_name_err(err, TL_EINVAL, "appears twice", order[i]->name);
    }
    if (rc == 0 && n_meta > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) < 0)
            rc = tl_err_set(err, TL_ENOMEM, "safetensors write: out of memory");
        for (size_t i = 0; i < n_meta && rc == 0; i++) {
            const char *k = meta_kv[2 * i], *v = meta_kv[2 * i + 1];
            json_t *jv = k && v ? json_string(v) : NULL;
            if (!jv || json_object_set_new(meta, k, jv) < 0)
                rc = tl_err_set(err, TL_EINVAL,
                                "safetensors write: metadata pair %zu is missing or not UTF-8", i);
        }
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const tl_nn_st_tensor *x = order[i];
        uint64_t elems = 1;
        json_t *shape = json_array();
        for (int d = 0; d < x->ndim && rc == 0; d++) {
            int64_t s = x->shape[d];
            if (s < 0 || (s > 0 && elems > (UINT64_MAX / 8) / (uint64_t)s))
                rc = quoted_name_err(err, TL_EINVAL, "has a negative or too large dimension",
                                     x->name);
            else {
                elems *= (uint64_t)s;
                json_array_append_new(shape, json_integer(s));
            }
        }
        if (rc == 0 && elems > 0 && !x->data)
            rc = quoted_name_err(err, TL_EINVAL, "has values but NULL data", x->name);
        uint64_t end = offset + elems * 4;
        if (rc == 0 && (end < offset || end > (uint64_t)INT64_MAX))
            rc = quoted_name_err(err, TL_ETOOBIG, "takes the file past 2^63 bytes", x->name);
        json_t *info = rc == 0 ? json_pack("{s:s,s:O,s:[I,I]}", "dtype", "F32", "shape", shape,
                                           "data_offsets", (json_int_t)offset, (json_int_t)end)
                               : NULL;
        json_decref(shape);
        if (rc == 0 && (!info || json_object_set_new(root, x->name, info) < 0))
            rc = quoted_name_err(err, TL_EINVAL, "has a name that is not UTF-8", x->name);
        offset = end;
    }
    char *hdr = NULL;
    if (rc == 0) {
        hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!hdr)
            rc = tl_err_set(err, TL_ENOMEM, "safetensors write: out of memory for the header");
    }
    json_decref(root);
    if (rc < 0) {
        free(order);
        return rc;
    }
    /* Spaces pad the header to a multiple of 8, as the Rust writer does, so
     * the data of an F32 or F64 file starts aligned. */
    size_t len = strlen(hdr), padded = (len + 7) / 8 * 8;
    char *p = realloc(hdr, padded + 1);
    if (!p) {
        free(hdr);
        free(order);
        return tl_err_set(err, TL_ENOMEM, "safetensors write: out of memory for the header");
    }
    memset(p + len, ' ', padded - len);
    p[padded] = '\0';
    *out_hdr = p;
    *out_hdr_len = padded;
    *out_order = order;
    *out_data_len = offset;
    return 0;
}

static void put_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static size_t tensor_bytes(const tl_nn_st_tensor *x)
{
    size_t e = 1;
    for (int d = 0; d < x->ndim; d++)
        e *= (size_t)x->shape[d];
    return e * 4;
}

int tl_nn_safetensors_write_mem(const tl_nn_st_tensor *tensors, size_t n,
                                const char *const *meta_kv, size_t n_meta, uint8_t **out,
                                size_t *out_len, tl_err *err)
{
    char *hdr;
    size_t hlen;
    const tl_nn_st_tensor **order;
    uint64_t dlen;
    int rc = build_header(tensors, n, meta_kv, n_meta, &hdr, &hlen, &order, &dlen, err);
    if (rc < 0)
        return rc;
    if (dlen > SIZE_MAX - 8 - hlen) {
        free(hdr);
        free(order);
        return tl_err_set(err, TL_ETOOBIG, "safetensors write: %llu bytes of data do not fit in memory",
                          (unsigned long long)dlen);
    }
    size_t total = 8 + hlen + (size_t)dlen;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(hdr);
        free(order);
        return tl_err_set(err, TL_ENOMEM, "safetensors write: out of memory for %zu bytes", total);
    }
    put_le64(buf, hlen);
    memcpy(buf + 8, hdr, hlen);
    size_t off = 8 + hlen;
    for (size_t i = 0; i < n; i++) {
        size_t nb = tensor_bytes(order[i]);
        if (nb)
            memcpy(buf + off, order[i]->data, nb);
        off += nb;
    }
    free(hdr);
    free(order);
    *out = buf;
    *out_len = total;
    return 0;
}

int tl_nn_safetensors_write(const char *path, const tl_nn_st_tensor *tensors, size_t n,
                            const char *const *meta_kv, size_t n_meta, tl_err *err)
{
    if (!path)
        return tl_err_set(err, TL_EINVAL, "safetensors write: no path");
    char *hdr;
    size_t hlen;
    const tl_nn_st_tensor **order;
    uint64_t dlen;
    int rc = build_header(tensors, n, meta_kv, n_meta, &hdr, &hlen, &order, &dlen, err);
    if (rc < 0)
        return rc;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(hdr);
        free(order);
        return tl_err_set(err, TL_ENOMEM, "safetensors write: out of memory");
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    char q[TL__QUOTE_SIZE];
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        rc = tl_err_set(err, TL_EIO, "safetensors write: cannot create %s: %s",
                        tl__quote(q, sizeof q, tmp, strlen(tmp)), strerror(errno));
        goto done;
    }
    uint8_t len8[8];
    put_le64(len8, hlen);
    bool ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(hdr, 1, hlen, fp) == hlen;
    for (size_t i = 0; i < n && ok; i++) {
        size_t nb = tensor_bytes(order[i]);
        ok = nb == 0 || fwrite(order[i]->data, 1, nb, fp) == nb;
    }
    ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int saved = errno;
    ok = (fclose(fp) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        rc = tl_err_set(err, TL_EIO, "safetensors write: cannot write %s: %s",
                        tl__quote(q, sizeof q, tmp, strlen(tmp)), strerror(saved ? saved : errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        rc = tl_err_set(err, TL_EIO, "safetensors write: cannot rename to %s: %s",
                        tl__quote(q, sizeof q, path, plen), strerror(saved));
    }
done:
    free(tmp);
    free(hdr);
    free(order);
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

struct st_entry {
    const char *name; /* points into root */
    int dtype;
    int ndim;
    int64_t shape[TL_NN_ST_MAX_DIMS];
    size_t n_elems;
    uint64_t begin, end; /* relative to the data section */
};

struct tl_nn_st_file {
    const uint8_t *data; /* the data section */
    size_t data_len;
    void *map;           /* the mapping when opened from a file, else NULL */
    size_t map_len;
    json_t *root;        /* keeps the strings that names and metadata point to */
    size_t n;
    struct st_entry *t;          /* (n) by begin offset */
    const struct st_entry **by_name; /* (n) by name, for bsearch */
    size_t n_meta;
    const char **meta;           /* (2 * n_meta) key, value */
};

void tl_nn_safetensors_close(tl_nn_st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_len);
    json_decref(f->root);
    free(f->t);
    free(f->by_name);
    free(f->meta);
    free(f);
}

static int cmp_entry_offset(const void *a, const void *b)
{
    const struct st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_entry_name(const void *a, const void *b)
{
    const struct st_entry *x = *(const struct st_entry *const *)a;
    const struct st_entry *y = *(const struct st_entry *const *)b;
    return strcmp(x->name, y->name);
}

/* The error for tensor name in source: "<source>: tensor "<name>": <why>". */
TL_PRINTF(4, 5)
static int bad_tensor(tl_err *err, const char *source, const char *name, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    char q[TL__QUOTE_SIZE];
    return tl_err_set(err, TL_EPARSE, "%s: safetensors tensor \"%s\" %s", source,
                      tl__quote(q, sizeof q, name, strlen(name)), why);
}

static int parse_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_entry(const char *source, const char *name, const json_t *info,
                       struct st_entry *e, tl_err *err)
{
    if (!json_is_object(info))
        return bad_tensor(err, source, name, "is not a JSON object");
    const json_t *jd = json_object_get(info, "dtype");
    const json_t *js = json_object_get(info, "shape");
    const json_t *jo = json_object_get(info, "data_offsets");
    if (!json_is_string(jd))
        return bad_tensor(err, source, name, "has no dtype string");
    if (!json_is_array(js))
        return bad_tensor(err, source, name, "has no shape array");
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return bad_tensor(err, source, name, "has no data_offsets pair [begin, end]");
    e->name = name;
    e->dtype = -1;
    for (int d = 0; d < TL_NN_DTYPE_COUNT; d++)
        if (strcmp(json_string_value(jd), dtypes[d].name) == 0)
            e->dtype = d;
    if (e->dtype < 0) {
        char q[TL__QUOTE_SIZE];
        const char *s = json_string_value(jd);
        return bad_tensor(err, source, name, "has an unknown dtype \"%s\"",
                          tl__quote(q, sizeof q, s, json_string_length(jd)));
    }
    size_t nd = json_array_size(js);
    if (nd > TL_NN_ST_MAX_DIMS)
        return bad_tensor(err, source, name, "has %zu dimensions, more than %d", nd,
                          TL_NN_ST_MAX_DIMS);
    e->ndim = (int)nd;
    uint64_t elems = 1;
    bool overflow = false;
    for (size_t d = 0; d < nd; d++) {
        uint64_t s;
        if (parse_u64(json_array_get(js, d), &s) < 0)
            return bad_tensor(err, source, name, "has shape entry %zu that is not an integer >= 0",
                              d);
        e->shape[d] = (int64_t)s;
        if (s != 0 && elems > UINT64_MAX / s)
            overflow = true;
        else
            elems *= s;
    }
    /* A zero dimension makes the product 0 whatever the others were. */
    for (size_t d = 0; d < nd; d++)
        if (e->shape[d] == 0)
            overflow = false, elems = 0;
    size_t esize = dtypes[e->dtype].size;
    if (overflow || elems > SIZE_MAX / esize)
        return bad_tensor(err, source, name, "has a shape whose size overflows");
    e->n_elems = (size_t)elems;
    if (parse_u64(json_array_get(jo, 0), &e->begin) < 0 ||
        parse_u64(json_array_get(jo, 1), &e->end) < 0)
        return bad_tensor(err, source, name, "has data_offsets that are not integers >= 0");
    if (e->end < e->begin)
        return bad_tensor(err, source, name, "has data_offsets [%llu, %llu] that end before they begin",
                          (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end - e->begin != elems * esize)
        return bad_tensor(err, source, name,
                          "has data_offsets [%llu, %llu] (%llu bytes) but shape and dtype %s "
                          "need %llu bytes",
                          (unsigned long long)e->begin, (unsigned long long)e->end,
                          (unsigned long long)(e->end - e->begin), dtypes[e->dtype].name,
                          (unsigned long long)(elems * esize));
    return 0;
}

static int parse_meta(tl_nn_st_file *f, const char *source, const json_t *meta, tl_err *err)
{
    if (!json_is_object(meta))
        return tl_err_set(err, TL_EPARSE, "%s: safetensors __metadata__ is not a JSON object", source);
    f->n_meta = json_object_size(meta);
    f->meta = malloc((f->n_meta ? f->n_meta : 1) * 2 * sizeof *f->meta);
    if (!f->meta)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory for the metadata", source);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v)) {
            char q[TL__QUOTE_SIZE];
            return tl_err_set(err, TL_EPARSE, "%s: safetensors __metadata__ value of \"%s\" is not a string",
                              source, tl__quote(q, sizeof q, k, strlen(k)));
        }
        f->meta[2 * i] = k;
        f->meta[2 * i + 1] = json_string_value(v);
        i++;
    }
    return 0;
}

static int parse_into(tl_nn_st_file *f, const uint8_t *buf, size_t len, const char *source,
                      tl_err *err)
{
    if (len < 8)
        return tl_err_set(err, TL_EPARSE,
                          "%s: safetensors file is %zu bytes, shorter than its 8-byte header length",
                          source, len);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)buf[i] << (8 * i);
    if (hlen > TL_NN_ST_MAX_HEADER)
        return tl_err_set(err, TL_EPARSE,
                          "%s: safetensors header length %llu is over the %llu-byte limit (corrupt or "
                          "not a safetensors file)",
                          source, (unsigned long long)hlen, (unsigned long long)TL_NN_ST_MAX_HEADER);
    if (hlen > len - 8)
        return tl_err_set(err, TL_EPARSE,
                          "%s: safetensors header of %llu bytes runs past the end of the file "
                          "(%zu bytes follow the length; truncated?)",
                          source, (unsigned long long)hlen, len - 8);
    if (hlen < 2 || buf[8] != '{')
        return tl_err_set(err, TL_EPARSE, "%s: safetensors header does not start with '{'", source);
    json_error_t je;
    f->root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!f->root) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return tl_err_set(err, TL_ENOMEM, "%s: out of memory parsing the header", source);
        char text[TL__QUOTE_SIZE * 3];
        tl__quote(text, sizeof text, je.text, strnlen(je.text, sizeof je.text));
        return tl_err_set(err, TL_EPARSE, "%s: safetensors header is not valid JSON at byte %d: %s",
                          source, je.position, text);
    }
    if (!json_is_object(f->root))
        return tl_err_set(err, TL_EPARSE, "%s: safetensors header is not a JSON object", source);
    f->data = buf + 8 + hlen;
    f->data_len = len - 8 - (size_t)hlen;
    size_t n_keys = json_object_size(f->root);
    f->t = calloc(n_keys ? n_keys : 1, sizeof *f->t);
    f->by_name = calloc(n_keys ? n_keys : 1, sizeof *f->by_name);
    if (!f->t || !f->by_name)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory for %zu tensors", source, n_keys);
    const char *key;
    json_t *val;
    json_object_foreach(f->root, key, val) {
        int rc;
        if (strcmp(key, "__metadata__") == 0)
            rc = parse_meta(f, source, val, err);
        else
            rc = parse_entry(source, key, val, &f->t[f->n++], err);
        if (rc < 0)
            return rc;
    }
    /* The tensors must tile the data section: sorted by offset, each begins
     * where the previous ended, and the last ends at the end of the file. */
    qsort(f->t, f->n, sizeof *f->t, cmp_entry_offset);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        const struct st_entry *e = &f->t[i];
        if (e->begin > at)
            return bad_tensor(err, source, e->name,
                              "begins at data byte %llu, leaving a gap after byte %llu",
                              (unsigned long long)e->begin, (unsigned long long)at);
        if (e->begin < at)
            return bad_tensor(err, source, e->name,
                              "begins at data byte %llu, overlapping the tensor before it (which ends "
                              "at %llu)",
                              (unsigned long long)e->begin, (unsigned long long)at);
        if (e->end > f->data_len)
            return bad_tensor(err, source, e->name,
                              "ends at data byte %llu, past the end of the data (%zu bytes; truncated?)",
                              (unsigned long long)e->end, f->data_len);
        at = e->end;
        f->by_name[i] = e;
    }
    if (at != f->data_len)
        return tl_err_set(err, TL_EPARSE,
                          "%s: safetensors data section is %zu bytes but the tensors cover %llu",
                          source, f->data_len, (unsigned long long)at);
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_entry_name);
    return 0;
}

int tl_nn_safetensors_parse(const uint8_t *buf, size_t len, const char *source,
                            tl_nn_st_file **out, tl_err *err)
{
    if (!source)
        source = "safetensors";
    if (!buf && len > 0)
        return tl_err_set(err, TL_EINVAL, "%s: NULL buffer of %zu bytes", source, len);
    static const uint8_t empty[1];
    tl_nn_st_file *f = calloc(1, sizeof *f);
    if (!f)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", source);
    int rc = parse_into(f, buf ? buf : empty, len, source, err);
    if (rc < 0) {
        tl_nn_safetensors_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int tl_nn_safetensors_open(const char *path, tl_nn_st_file **out, tl_err *err)
{
    if (!path)
        return tl_err_set(err, TL_EINVAL, "safetensors open: no path");
    char q[TL__QUOTE_SIZE];
    tl__quote(q, sizeof q, path, strlen(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "cannot open %s: %s", q, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tl_err_set(err, TL_EIO, "%s is not a regular file", q);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return tl_err_set(err, TL_ETOOBIG, "%s is too large to map", q);
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tl_err_set(err, TL_EIO, "cannot map %s: %s", q, strerror(e));
        }
    }
    close(fd);
    tl_nn_st_file *f;
    int rc = tl_nn_safetensors_parse(map, len, q, &f, err);
    if (rc < 0) {
        if (map)
            munmap(map, len);
        return rc;
    }
    f->map = map;
    f->map_len = len;
    *out = f;
    return 0;
}

size_t tl_nn_safetensors_count(const tl_nn_st_file *f)
{
    return f->n;
}

static void fill_info(const tl_nn_st_file *f, const struct st_entry *e, tl_nn_st_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = e->name;
    info->dtype = e->dtype;
    info->ndim = e->ndim;
    memcpy(info->shape, e->shape, sizeof info->shape);
    info->n_elems = e->n_elems;
    info->data = f->data + e->begin;
    info->n_bytes = (size_t)(e->end - e->begin);
}

int tl_nn_safetensors_info(const tl_nn_st_file *f, size_t i, tl_nn_st_info *info, tl_err *err)
{
    if (i >= f->n)
        return tl_err_set(err, TL_EINVAL, "safetensors: tensor index %zu is out of range (%zu tensors)",
                          i, f->n);
    fill_info(f, &f->t[i], info);
    return 0;
}

int tl_nn_safetensors_find(const tl_nn_st_file *f, const char *name, size_t *index, tl_err *err)
{
    struct st_entry key = {.name = name ? name : ""};
    const struct st_entry *kp = &key;
    const struct st_entry **hit = bsearch(&kp, f->by_name, f->n, sizeof *f->by_name, cmp_entry_name);
    if (!hit) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_ENOTFOUND, "safetensors: no tensor named \"%s\"",
                          tl__quote(q, sizeof q, key.name, strlen(key.name)));
    }
    *index = (size_t)(*hit - f->t);
    return 0;
}

/* IEEE half to float, subnormals, infinities and NaN included. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f)
        bits = sign | 0x7f800000u | (man << 13);
    else if (exp != 0)
        bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man == 0)
        bits = sign;
    else {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* double to float without the undefined behaviour of an out-of-range cast. */
static float narrow(double d)
{
    if (d > FLT_MAX)
        return INFINITY;
    if (d < -FLT_MAX)
        return -INFINITY;
    return (float)d;
}

static void convert(int dtype, const uint8_t *src, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src + i * dtypes[dtype].size;
        switch (dtype) {
        case TL_NN_DTYPE_BOOL: dst[i] = p[0] ? 1.0f : 0.0f; break;
        case TL_NN_DTYPE_U8: dst[i] = (float)p[0]; break;
        case TL_NN_DTYPE_I8: dst[i] = (float)(int8_t)p[0]; break;
        case TL_NN_DTYPE_I16: { int16_t v; memcpy(&v, p, 2); dst[i] = (float)v; break; }
        case TL_NN_DTYPE_U16: { uint16_t v; memcpy(&v, p, 2); dst[i] = (float)v; break; }
        case TL_NN_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); dst[i] = half_to_float(v); break; }
        case TL_NN_DTYPE_BF16: {
            uint16_t v;
            memcpy(&v, p, 2);
            uint32_t b = (uint32_t)v << 16;
            memcpy(&dst[i], &b, 4);
            break;
        }
        case TL_NN_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); dst[i] = (float)v; break; }
        case TL_NN_DTYPE_U32: { uint32_t v; memcpy(&v, p, 4); dst[i] = (float)v; break; }
        case TL_NN_DTYPE_F32: memcpy(&dst[i], p, 4); break;
        case TL_NN_DTYPE_F64: { double v; memcpy(&v, p, 8); dst[i] = narrow(v); break; }
        case TL_NN_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); dst[i] = (float)v; break; }
        case TL_NN_DTYPE_U64: { uint64_t v; memcpy(&v, p, 8); dst[i] = (float)v; break; }
        default: dst[i] = NAN; break;
        }
    }
}

int tl_nn_safetensors_read_f32(const tl_nn_st_file *f, const char *name,
                               const int64_t *want_shape, int want_ndim, float *dst,
                               size_t dst_len, tl_err *err)
{
    size_t i;
    int rc = tl_nn_safetensors_find(f, name, &i, err);
    if (rc < 0)
        return rc;
    const struct st_entry *e = &f->t[i];
    char q[TL__QUOTE_SIZE];
    tl__quote(q, sizeof q, e->name, strlen(e->name));
    if (want_shape) {
        bool same = want_ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++)
            same = want_shape[d] == e->shape[d];
        if (!same) {
            char have[160] = "", want[160] = "";
            size_t hn = 0, wn = 0;
            for (int d = 0; d < e->ndim && hn < sizeof have; d++)
                hn += (size_t)snprintf(have + hn, sizeof have - hn, "%s%lld", d ? ", " : "",
                                       (long long)e->shape[d]);
            for (int d = 0; d < want_ndim && d < TL_NN_ST_MAX_DIMS && wn < sizeof want; d++)
                wn += (size_t)snprintf(want + wn, sizeof want - wn, "%s%lld", d ? ", " : "",
                                       (long long)want_shape[d]);
            return tl_err_set(err, TL_EINVAL, "safetensors: tensor \"%s\" has shape [%s], expected [%s]",
                              q, have, want);
        }
    }
    if (dst_len != e->n_elems)
        return tl_err_set(err, TL_EINVAL, "safetensors: tensor \"%s\" has %zu values, the buffer %zu", q,
                          e->n_elems, dst_len);
    if (e->dtype == TL_NN_DTYPE_F8_E4M3 || e->dtype == TL_NN_DTYPE_F8_E5M2)
        return tl_err_set(err, TL_EUNSUPPORTED, "safetensors: tensor \"%s\" is %s, which is not read as F32",
                          q, dtypes[e->dtype].name);
    if (e->n_elems > 0 && !dst)
        return tl_err_set(err, TL_EINVAL, "safetensors: NULL buffer for tensor \"%s\"", q);
    convert(e->dtype, f->data + e->begin, e->n_elems, dst);
    return 0;
}

size_t tl_nn_safetensors_meta_count(const tl_nn_st_file *f)
{
    return f->n_meta;
}

int tl_nn_safetensors_meta_at(const tl_nn_st_file *f, size_t i, const char **key,
                              const char **value)
{
    if (i >= f->n_meta)
        return TL_EINVAL;
    *key = f->meta[2 * i];
    *value = f->meta[2 * i + 1];
    return 0;
}

const char *tl_nn_safetensors_meta(const tl_nn_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0)
            return f->meta[2 * i + 1];
    return NULL;
}
