/*
 * model.c - loading llama-family and qwen2 models from GGUF files and
 * llama2.c checkpoints: hyperparameters, tensors (validated by name, shape
 * and type), RoPE frequencies, the tokenizer.
 *
 * Weight matrices are not copied: they point into the file's mapping and keep
 * the file's encoding (the kernels of llm_quant.h compute with it). Vectors
 * (norm weights, qwen2 biases, llama3 RoPE factors) are small and decoded to
 * owned float arrays once, so the forward pass never converts them.
 */
#include "llm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <teller/llm_quant.h>
#include <teller/llm_tokenizer.h>

/* Bounds on hyperparameters: far above any model this engine targets, low
 * enough that products of them cannot overflow int64. */
#define MAX_DIM (1 << 20)
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 24)
#define MAX_CTX (1 << 24)

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- GGUF ------------------------------------------------------------------- */

typedef struct loader {
    tl_llm_model *m;
    const tl_gguf *g;
    const char *file;  /* for messages */
    bool used_embd_for_output;
} loader;

static int key_u32(loader *L, const char *suffix, bool required, uint32_t def, uint32_t lo,
                   uint32_t hi, uint32_t *out, tl_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->arch_name, suffix);
    uint32_t v = def;
    tl_err e2 = {0};
    int rc = tl_gguf_get_u32(L->g, key, &v, &e2);
    if (rc == TL_ENOTFOUND) {
        if (required)
            return tl_err_set(err, TL_EPARSE, "model file \"%s\": metadata key \"%s\" is missing",
                              L->file, key);
        v = def;
    } else if (rc < 0) {
        return tl_err_set(err, rc, "model file \"%s\": %s", L->file, e2.msg);
    }
    if (v < lo || v > hi)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": metadata \"%s\" = %u is outside [%u, %u]", L->file,
                          key, v, lo, hi);
    *out = v;
    return 0;
}

static int key_f32(loader *L, const char *suffix, float def, float *out, tl_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->arch_name, suffix);
    float v = def;
    tl_err e2 = {0};
    int rc = tl_gguf_get_f32(L->g, key, &v, &e2);
    if (rc == TL_ENOTFOUND)
        v = def;
    else if (rc < 0)
        return tl_err_set(err, rc, "model file \"%s\": %s", L->file, e2.msg);
    if (!(v > 0.0f) || !isfinite(v))
        return tl_err_set(err, TL_EPARSE, "model file \"%s\": metadata \"%s\" = %g is not positive",
                          L->file, key, (double)v);
    *out = v;
    return 0;
}

static const char *type_name(int type)
{
    const char *s = tl_gguf_type_name(type);
    return s ? s : "?";
}

/* Finds tensor name with shape [n_cols] (n_rows 0) or [n_cols, n_rows]. */
static int find_tensor(loader *L, const char *name, int64_t n_cols, int64_t n_rows,
                       bool optional, tl_gguf_tensor_info *info, tl_err *err)
{
    int64_t i = tl_gguf_find_tensor(L->g, name);
    if (i < 0) {
        if (optional)
            return TL_ENOTFOUND;
        return tl_err_set(err, TL_EPARSE, "model file \"%s\": tensor \"%s\" is missing", L->file,
                          name);
    }
    tl_gguf_tensor(L->g, (size_t)i, info);
    int want_dims = n_rows > 0 ? 2 : 1;
    bool ok = info->dims[0] == n_cols && (n_rows == 0 || info->dims[1] == n_rows);
    for (int d = want_dims; d < TL_GGUF_MAX_DIMS; d++)
        ok = ok && info->dims[d] == 1;
    if (!ok) {
        char got[96], want[64];
        int off = 0;
        for (int d = 0; d < info->n_dims && off < (int)sizeof got - 24; d++)
            off += snprintf(got + off, sizeof got - (size_t)off, "%s%lld", d ? ", " : "",
                            (long long)info->dims[d]);
        if (n_rows > 0)
            snprintf(want, sizeof want, "%lld, %lld", (long long)n_cols, (long long)n_rows);
        else
            snprintf(want, sizeof want, "%lld", (long long)n_cols);
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": tensor \"%s\" has shape [%s], expected [%s]",
                          L->file, name, got, want);
    }
    return 0;
}

static int get_mat(loader *L, const char *name, int64_t n_cols, int64_t n_rows, bool optional,
                   tl__llm_mat *mat, tl_err *err)
{
    tl_gguf_tensor_info info;
    int rc = find_tensor(L, name, n_cols, n_rows, optional, &info, err);
    if (rc < 0)
        return rc;
    if (!tl_q_supported(info.type) || tl_q_act_size(info.type, n_cols) == 0)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "model file \"%s\": tensor \"%s\" has type %s, which Teller cannot "
                          "compute with (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K)",
                          L->file, name, type_name(info.type));
    mat->type = info.type;
    mat->data = info.data;
    mat->n_cols = n_cols;
    mat->n_rows = n_rows;
    mat->row_bytes = tl_q_row_size(info.type, n_cols);
    L->m->n_params += info.n_elems;
    L->m->weight_bytes += info.size_bytes;
    return 0;
}

/* A vector tensor decoded into a new float array. */
static int get_vec(loader *L, const char *name, int64_t n, bool optional, float **out,
                   tl_err *err)
{
    tl_gguf_tensor_info info;
    int rc = find_tensor(L, name, n, 0, optional, &info, err);
    if (rc < 0)
        return rc;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory for \"%s\"", L->file,
                          name);
    if (info.type == TL_GGUF_TYPE_F32) {
        memcpy(v, info.data, (size_t)n * sizeof *v);
    } else if (tl_q_dequantize_row(info.type, info.data, v, n) < 0) {
        free(v);
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "model file \"%s\": tensor \"%s\" has type %s, which Teller cannot "
                          "decode",
                          L->file, name, type_name(info.type));
    }
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            free(v);
            return tl_err_set(err, TL_EPARSE,
                              "model file \"%s\": tensor \"%s\" holds a non-finite value at %lld",
                              L->file, name, (long long)i);
        }
    }
    L->m->n_params += info.n_elems;
    L->m->weight_bytes += info.size_bytes;
    *out = v;
    return 0;
}

/* llama3-style RoPE factors computed from metadata, for files that carry
 * rope.scaling.type "llama3" but no rope_freqs tensor (the HF formula). */
static void llama3_factors(tl_llm_model *m, float factor, float lo_f, float hi_f, float old_ctx)
{
    float lo_wav = old_ctx / lo_f, hi_wav = old_ctx / hi_f;
    for (int i = 0; i < m->n_rot / 2; i++) {
        float freq = m->rope_inv_freq[i];
        float wav = 2.0f * (float)M_PI / freq;
        float nf;
        if (wav < hi_wav)
            nf = freq;
        else if (wav > lo_wav)
            nf = freq / factor;
        else {
            float smooth = (old_ctx / wav - lo_f) / (hi_f - lo_f);
            nf = (1.0f - smooth) * freq / factor + smooth * freq;
        }
        m->rope_inv_freq[i] = nf;
    }
}

static int rope_setup(loader *L, tl_err *err)
{
    tl_llm_model *m = L->m;
    m->rope_inv_freq = malloc((size_t)(m->n_rot / 2) * sizeof(float));
    if (!m->rope_inv_freq)
        return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", L->file);
    /* As llama2.c computes it (float powf), so checkpoints reproduce run.c. */
    for (int i = 0; i < m->n_rot / 2; i++)
        m->rope_inv_freq[i] = 1.0f / powf(m->rope_base, (float)(2 * i) / (float)m->n_rot);
    m->rope_scale = 1.0f;
    if (!L->g)
        return 0;

    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    const char *ty = NULL;
    size_t ty_len = 0;
    tl_err e2 = {0};
    bool has_type = tl_gguf_get_str(L->g, key, &ty, &ty_len, &e2) == 0;
    float factor = 1.0f;
    int rc = key_f32(L, "rope.scaling.factor", 1.0f, &factor, err);
    if (rc < 0)
        return rc;

    float *ff = NULL;
    rc = get_vec(L, "rope_freqs.weight", m->n_rot / 2, true, &ff, err);
    if (rc < 0 && rc != TL_ENOTFOUND)
        return rc;
    if (ff) {
        /* llama.cpp divides each dimension's angle by its factor. */
        for (int i = 0; i < m->n_rot / 2; i++) {
            if (!(ff[i] > 0.0f)) {
                free(ff);
                return tl_err_set(err, TL_EPARSE,
                                  "model file \"%s\": tensor \"rope_freqs.weight\" holds a "
                                  "non-positive factor at %d",
                                  L->file, i);
            }
            m->rope_inv_freq[i] /= ff[i];
        }
        free(ff);
    }
    if (!has_type || (ty_len == 4 && memcmp(ty, "none", 4) == 0))
        return 0;
    if (ty_len == 6 && memcmp(ty, "linear", 6) == 0) {
        m->rope_scale = 1.0f / factor;
        return 0;
    }
    if (ty_len == 6 && memcmp(ty, "llama3", 6) == 0) {
        if (ff)
            return 0;
        float lo = 1.0f, hi = 4.0f;
        uint32_t old_ctx = 8192;
        if ((rc = key_f32(L, "rope.scaling.low_freq_factor", 1.0f, &lo, err)) < 0 ||
            (rc = key_f32(L, "rope.scaling.high_freq_factor", 4.0f, &hi, err)) < 0 ||
            (rc = key_u32(L, "rope.scaling.original_context_length", false, 8192, 1, MAX_CTX,
                          &old_ctx, err)) < 0)
            return rc;
        if (!(hi > lo))
            return tl_err_set(err, TL_EPARSE,
                              "model file \"%s\": llama3 RoPE scaling needs high_freq_factor > "
                              "low_freq_factor",
                              L->file);
        llama3_factors(m, factor, lo, hi, (float)old_ctx);
        return 0;
    }
    if (factor == 1.0f)
        return 0;
    return tl_err_set(err, TL_EUNSUPPORTED,
                      "model file \"%s\": RoPE scaling \"%.*s\" (factor %g) is not supported "
                      "(none, linear, llama3)",
                      L->file, (int)(ty_len > 32 ? 32 : ty_len), ty, (double)factor);
}

static int check_shapes(const tl_llm_model *m, const char *file, tl_err *err)
{
    if (m->n_embd % m->n_head != 0 && m->head_dim == 0)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": embedding length %d is not a multiple of the head "
                          "count %d",
                          file, m->n_embd, m->n_head);
    if (m->n_head % m->n_head_kv != 0)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": head count %d is not a multiple of the KV head "
                          "count %d",
                          file, m->n_head, m->n_head_kv);
    if (m->n_rot <= 0 || m->n_rot % 2 != 0 || m->n_rot > m->head_dim)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": RoPE dimension count %d must be even and at most "
                          "the head size %d",
                          file, m->n_rot, m->head_dim);
    return 0;
}

static int load_gguf(const char *path, tl_llm_model *m, tl_err *err)
{
    int rc = tl_gguf_open(path, &m->gguf, err);
    if (rc < 0)
        return rc;
    loader L = {.m = m, .g = m->gguf, .file = base_name(path)};
    const char *arch;
    size_t arch_len;
    tl_err e2 = {0};
    if (tl_gguf_get_str(L.g, "general.architecture", &arch, &arch_len, &e2) < 0)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": metadata \"general.architecture\" is missing or "
                          "not a string",
                          L.file);
    if (arch_len == 5 && memcmp(arch, "llama", 5) == 0)
        m->arch = TL__LLM_ARCH_LLAMA;
    else if (arch_len == 5 && memcmp(arch, "qwen2", 5) == 0)
        m->arch = TL__LLM_ARCH_QWEN2;
    else
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "model file \"%s\": architecture \"%.*s\" is not supported (llama, "
                          "qwen2)",
                          L.file, (int)(arch_len > 64 ? 64 : arch_len), arch);
    memcpy(m->arch_name, arch, arch_len);
    m->arch_name[arch_len] = '\0';
    m->rope_neox = m->arch == TL__LLM_ARCH_QWEN2;

    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, head_dim, n_rot;
    if ((rc = key_u32(&L, "embedding_length", true, 0, 1, MAX_DIM, &n_embd, err)) < 0 ||
        (rc = key_u32(&L, "block_count", true, 0, 1, MAX_LAYERS, &n_layer, err)) < 0 ||
        (rc = key_u32(&L, "attention.head_count", true, 0, 1, n_embd, &n_head, err)) < 0 ||
        (rc = key_u32(&L, "attention.head_count_kv", false, n_head, 1, n_head, &n_head_kv, err)) <
            0 ||
        (rc = key_u32(&L, "feed_forward_length", true, 0, 1, MAX_DIM, &n_ff, err)) < 0 ||
        (rc = key_u32(&L, "context_length", true, 0, 1, MAX_CTX, &n_ctx, err)) < 0 ||
        (rc = key_u32(&L, "attention.key_length", false, n_embd / n_head, 1, MAX_DIM, &head_dim,
                      err)) < 0 ||
        (rc = key_u32(&L, "rope.dimension_count", false, head_dim, 1, MAX_DIM, &n_rot, err)) <
            0 ||
        (rc = key_f32(&L, "rope.freq_base", 10000.0f, &m->rope_base, err)) < 0 ||
        (rc = key_f32(&L, "attention.layer_norm_rms_epsilon", 1e-5f, &m->rms_eps, err)) < 0)
        return rc;
    uint32_t v_len = head_dim;
    if ((rc = key_u32(&L, "attention.value_length", false, head_dim, 1, MAX_DIM, &v_len, err)) <
        0)
        return rc;
    if (v_len != head_dim)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "model file \"%s\": key length %u differs from value length %u", L.file,
                          head_dim, v_len);
    m->n_embd = (int)n_embd;
    m->n_layer = (int)n_layer;
    m->n_head = (int)n_head;
    m->n_head_kv = (int)n_head_kv;
    m->n_ff = (int)n_ff;
    m->n_ctx_train = (int)n_ctx;
    m->head_dim = (int)head_dim;
    m->n_rot = (int)n_rot;
    if ((rc = check_shapes(m, L.file, err)) < 0)
        return rc;

    /* The vocabulary size is the embedding's row count. */
    int64_t ti = tl_gguf_find_tensor(L.g, "token_embd.weight");
    if (ti < 0)
        return tl_err_set(err, TL_EPARSE, "model file \"%s\": tensor \"token_embd.weight\" is missing",
                          L.file);
    tl_gguf_tensor_info info;
    tl_gguf_tensor(L.g, (size_t)ti, &info);
    if (info.n_dims != 2 || info.dims[1] < 1 || info.dims[1] > MAX_VOCAB)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": tensor \"token_embd.weight\" must be a matrix of "
                          "[%d, n_vocab]",
                          L.file, m->n_embd);
    m->n_vocab = (int)info.dims[1];

    int64_t E = m->n_embd, Q = (int64_t)m->n_head * m->head_dim;
    int64_t KV = (int64_t)m->n_head_kv * m->head_dim, F = m->n_ff, V = m->n_vocab;
    if ((rc = get_mat(&L, "token_embd.weight", E, V, false, &m->tok_embd, err)) < 0 ||
        (rc = get_vec(&L, "output_norm.weight", E, false, &m->out_norm, err)) < 0)
        return rc;
    rc = get_mat(&L, "output.weight", E, V, true, &m->output, err);
    if (rc == TL_ENOTFOUND)
        m->output = m->tok_embd; /* tied */
    else if (rc < 0)
        return rc;

    m->layers = calloc((size_t)m->n_layer, sizeof *m->layers);
    if (!m->layers)
        return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", L.file);
    bool bias = m->arch == TL__LLM_ARCH_QWEN2;
    for (int l = 0; l < m->n_layer; l++) {
        tl__llm_layer *ly = &m->layers[l];
        char nm[96];
#define NM(s) (snprintf(nm, sizeof nm, "blk.%d.%s", l, s), nm)
        if ((rc = get_vec(&L, NM("attn_norm.weight"), E, false, &ly->attn_norm, err)) < 0 ||
            (rc = get_mat(&L, NM("attn_q.weight"), E, Q, false, &ly->wq, err)) < 0 ||
            (rc = get_mat(&L, NM("attn_k.weight"), E, KV, false, &ly->wk, err)) < 0 ||
            (rc = get_mat(&L, NM("attn_v.weight"), E, KV, false, &ly->wv, err)) < 0 ||
            (rc = get_mat(&L, NM("attn_output.weight"), Q, E, false, &ly->wo, err)) < 0 ||
            (rc = get_vec(&L, NM("ffn_norm.weight"), E, false, &ly->ffn_norm, err)) < 0 ||
            (rc = get_mat(&L, NM("ffn_gate.weight"), E, F, false, &ly->w_gate, err)) < 0 ||
            (rc = get_mat(&L, NM("ffn_up.weight"), E, F, false, &ly->w_up, err)) < 0 ||
            (rc = get_mat(&L, NM("ffn_down.weight"), F, E, false, &ly->w_down, err)) < 0)
            return rc;
        if (bias) {
            if ((rc = get_vec(&L, NM("attn_q.bias"), Q, false, &ly->bq, err)) < 0 ||
                (rc = get_vec(&L, NM("attn_k.bias"), KV, false, &ly->bk, err)) < 0 ||
                (rc = get_vec(&L, NM("attn_v.bias"), KV, false, &ly->bv, err)) < 0)
                return rc;
        }
#undef NM
    }
    if ((rc = rope_setup(&L, err)) < 0)
        return rc;

    const char *tmpl;
    size_t tmpl_len;
    if (tl_gguf_get_str(L.g, "tokenizer.chat_template", &tmpl, &tmpl_len, &e2) == 0) {
        m->chat_template = malloc(tmpl_len + 1);
        if (!m->chat_template)
            return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", L.file);
        memcpy(m->chat_template, tmpl, tmpl_len);
        m->chat_template[tmpl_len] = '\0';
    }
    /* A file without a vocabulary (made for tests, or weights only) is used
     * by token id. */
    if (tl_gguf_find_kv(L.g, "tokenizer.ggml.model") < 0)
        return 0;
    rc = tl_tok_load_gguf(m->gguf, &m->tok, err);
    if (rc < 0) {
        tl_err_prefix(err, "model file \"%s\": ", L.file);
        return rc;
    }
    return 0;
}

/* ---- llama2.c checkpoints ------------------------------------------------------ */

static int load_llama2c(const char *path, const char *tok_path, tl_llm_model *m, tl_err *err)
{
    const char *file = base_name(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "model file \"%s\": cannot open: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return tl_err_set(err, TL_EIO, "model file \"%s\": cannot stat: %s", path,
                          strerror(errno));
    }
    size_t size = (size_t)st.st_size;
    if (size < 28) {
        close(fd);
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": %zu bytes is too short for a llama2.c checkpoint "
                          "header (28 bytes) or a GGUF file",
                          file, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return tl_err_set(err, TL_EIO, "model file \"%s\": cannot map: %s", path,
                          strerror(errno));
    m->map = map;
    m->map_size = size;

    int32_t h[7];
    memcpy(h, map, sizeof h);
    if (memcmp(map, "ak42", 4) == 0)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "model file \"%s\": llama2.c export version 1/2 (magic \"ak42\") is "
                          "not supported; export the legacy version 0 layout",
                          file);
    static const char *const names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    static const int32_t maxes[7] = {MAX_DIM, MAX_DIM, MAX_LAYERS, MAX_DIM,
                                     MAX_DIM, MAX_VOCAB, MAX_CTX};
    bool shared = h[5] > 0;
    if (h[5] < 0 && h[5] != INT32_MIN)
        h[5] = -h[5];
    for (int i = 0; i < 7; i++)
        if (h[i] < 1 || h[i] > maxes[i])
            return tl_err_set(err, TL_EPARSE,
                              "model file \"%s\": not a GGUF file, and as a llama2.c checkpoint "
                              "its header field %s = %d is outside [1, %d]",
                              file, names[i], h[i], maxes[i]);
    m->arch = TL__LLM_ARCH_LLAMA;
    snprintf(m->arch_name, sizeof m->arch_name, "llama");
    m->n_embd = h[0];
    m->n_ff = h[1];
    m->n_layer = h[2];
    m->n_head = h[3];
    m->n_head_kv = h[4];
    m->n_vocab = h[5];
    m->n_ctx_train = h[6];
    m->head_dim = m->n_embd / m->n_head;
    m->n_rot = m->head_dim;
    m->rope_base = 10000.0f;
    m->rms_eps = 1e-5f;
    if (m->n_embd % m->n_head != 0)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": dim %d is not a multiple of n_heads %d", file,
                          m->n_embd, m->n_head);
    if (m->n_head_kv > m->n_head)
        return tl_err_set(err, TL_EPARSE, "model file \"%s\": n_kv_heads %d exceeds n_heads %d",
                          file, m->n_head_kv, m->n_head);
    int rc = check_shapes(m, file, err);
    if (rc < 0)
        return rc;

    int64_t E = m->n_embd, KV = (int64_t)m->n_head_kv * m->head_dim, F = m->n_ff;
    int64_t V = m->n_vocab, L = m->n_layer, T = m->n_ctx_train;
    int64_t per_layer = E + E * E + 2 * KV * E + E * E + E + 3 * F * E;
    int64_t n_floats = V * E + L * per_layer + E + T * m->head_dim + (shared ? 0 : V * E);
    uint64_t want = 28 + (uint64_t)n_floats * 4;
    if (want != size)
        return tl_err_set(err, TL_EPARSE,
                          "model file \"%s\": holds %zu bytes, but its llama2.c header (dim %d, "
                          "hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, "
                          "seq_len %d) implies %llu bytes%s",
                          file, size, h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                          (unsigned long long)want, want > size ? ": it is truncated" : "");

    const float *p = (const float *)(const void *)((const char *)map + 28);
#define MAT(dst, rows, cols)                                                        \
    do {                                                                            \
        (dst) = (tl__llm_mat){.type = TL_GGUF_TYPE_F32, .data = p, .n_cols = (cols), \
                              .n_rows = (rows), .row_bytes = (size_t)(cols) * 4};   \
    } while (0)
    m->layers = calloc((size_t)L, sizeof *m->layers);
    if (!m->layers)
        return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", file);
    MAT(m->tok_embd, V, E);
    p += V * E;
    /* Per-kind arrays, each layer-major. */
    const float *rms_att = p;
    p += L * E;
    for (int64_t l = 0; l < L; l++, p += E * E) MAT(m->layers[l].wq, E, E);
    for (int64_t l = 0; l < L; l++, p += KV * E) MAT(m->layers[l].wk, KV, E);
    for (int64_t l = 0; l < L; l++, p += KV * E) MAT(m->layers[l].wv, KV, E);
    for (int64_t l = 0; l < L; l++, p += E * E) MAT(m->layers[l].wo, E, E);
    const float *rms_ffn = p;
    p += L * E;
    for (int64_t l = 0; l < L; l++, p += F * E) MAT(m->layers[l].w_gate, F, E);
    for (int64_t l = 0; l < L; l++, p += E * F) MAT(m->layers[l].w_down, E, F);
    for (int64_t l = 0; l < L; l++, p += F * E) MAT(m->layers[l].w_up, F, E);
    const float *rms_final = p;
    p += E;
    p += T * m->head_dim; /* the two legacy RoPE tables */
    if (shared)
        m->output = m->tok_embd;
    else
        MAT(m->output, V, E);
#undef MAT

    m->out_norm = malloc((size_t)E * sizeof(float));
    if (!m->out_norm)
        return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", file);
    memcpy(m->out_norm, rms_final, (size_t)E * sizeof(float));
    for (int64_t l = 0; l < L; l++) {
        tl__llm_layer *ly = &m->layers[l];
        ly->attn_norm = malloc((size_t)E * sizeof(float));
        ly->ffn_norm = malloc((size_t)E * sizeof(float));
        if (!ly->attn_norm || !ly->ffn_norm)
            return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", file);
        memcpy(ly->attn_norm, rms_att + l * E, (size_t)E * sizeof(float));
        memcpy(ly->ffn_norm, rms_ffn + l * E, (size_t)E * sizeof(float));
    }
    m->n_params = (uint64_t)(V * E + L * per_layer + E + (shared ? 0 : V * E));
    m->weight_bytes = m->n_params * 4;
    loader Ld = {.m = m, .g = NULL, .file = file};
    if ((rc = rope_setup(&Ld, err)) < 0)
        return rc;

    if (tok_path) {
        rc = tl_tok_load_llama2c(tok_path, &m->tok, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- public ------------------------------------------------------------------- */

static void describe(tl_llm_model *m)
{
    /* The distinct matrix types, in first-seen order. */
    int types[8];
    int nt = 0;
    const tl__llm_mat *all[2] = {&m->tok_embd, &m->output};
    for (int i = 0; i < 2 + m->n_layer * 7; i++) {
        const tl__llm_mat *mt;
        if (i < 2)
            mt = all[i];
        else {
            const tl__llm_layer *ly = &m->layers[(i - 2) / 7];
            const tl__llm_mat *lm[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo,
                                        &ly->w_gate, &ly->w_up, &ly->w_down};
            mt = lm[(i - 2) % 7];
        }
        bool seen = false;
        for (int j = 0; j < nt; j++)
            seen = seen || types[j] == mt->type;
        if (!seen && nt < 8)
            types[nt++] = mt->type;
    }
    char tbuf[80] = "";
    size_t off = 0;
    for (int j = 0; j < nt && off < sizeof tbuf - 12; j++)
        off += (size_t)snprintf(tbuf + off, sizeof tbuf - off, "%s%s", j ? "/" : "",
                                type_name(types[j]));
    snprintf(m->desc, sizeof m->desc,
             "%s: %d layers, embedding %d, %d heads (%d KV) of %d, FFN %d, vocabulary %d, "
             "context %d, %.1fM parameters, %s",
             m->arch_name, m->n_layer, m->n_embd, m->n_head, m->n_head_kv, m->head_dim, m->n_ff,
             m->n_vocab, m->n_ctx_train, (double)m->n_params / 1e6, tbuf);
}

int tl_llm_model_load(const char *path, const tl_llm_load_opts *opts, tl_llm_model **out,
                      tl_err *err)
{
    if (!path || !out)
        return tl_err_set(err, TL_EINVAL, "tl_llm_model_load: path and out are required");
    char magic[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tl_err_set(err, TL_EIO, "model file \"%s\": cannot open: %s", path,
                          strerror(errno));
    ssize_t got = read(fd, magic, 4);
    close(fd);
    tl_llm_model *m = calloc(1, sizeof *m);
    if (!m)
        return tl_err_set(err, TL_ENOMEM, "model file \"%s\": out of memory", path);
    m->n_threads_default = opts && opts->n_threads > 0 ? opts->n_threads : 1;
    int rc;
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0)
        rc = load_gguf(path, m, err);
    else
        rc = load_llama2c(path, opts ? opts->tokenizer_path : NULL, m, err);
    if (rc == 0 && m->tok && tl_tok_n_vocab(m->tok) > m->n_vocab)
        rc = tl_err_set(err, TL_EPARSE,
                        "model file \"%s\": the tokenizer has %d tokens, more than the model's "
                        "%d embedding rows",
                        base_name(path), (int)tl_tok_n_vocab(m->tok), m->n_vocab);
    if (rc < 0) {
        tl_llm_model_free(m);
        return rc;
    }
    describe(m);
    *out = m;
    return 0;
}

void tl_llm_model_free(tl_llm_model *m)
{
    if (!m)
        return;
    if (m->layers) {
        for (int l = 0; l < m->n_layer; l++) {
            tl__llm_layer *ly = &m->layers[l];
            free(ly->attn_norm);
            free(ly->ffn_norm);
            free(ly->bq);
            free(ly->bk);
            free(ly->bv);
        }
        free(m->layers);
    }
    free(m->out_norm);
    free(m->rope_inv_freq);
    free(m->chat_template);
    tl_tok_free(m->tok);
    tl_gguf_close(m->gguf);
    if (m->map)
        munmap(m->map, m->map_size);
    free(m);
}

const char *tl_llm_model_arch(const tl_llm_model *m) { return m->arch_name; }
int tl_llm_model_n_ctx_train(const tl_llm_model *m) { return m->n_ctx_train; }
int tl_llm_model_n_vocab(const tl_llm_model *m) { return m->n_vocab; }
int tl_llm_model_n_embd(const tl_llm_model *m) { return m->n_embd; }
int tl_llm_model_n_layer(const tl_llm_model *m) { return m->n_layer; }
uint64_t tl_llm_model_n_params(const tl_llm_model *m) { return m->n_params; }
uint64_t tl_llm_model_weight_bytes(const tl_llm_model *m) { return m->weight_bytes; }
const tl_tokenizer *tl_llm_model_tokenizer(const tl_llm_model *m) { return m->tok; }
const char *tl_llm_model_chat_template(const tl_llm_model *m) { return m->chat_template; }
const char *tl_llm_model_desc(const tl_llm_model *m) { return m->desc; }
