/*
 * textclf.c - the text classifier's models (BiGRU, fastText-style, their
 * ensemble): featurization, training with Adam and early stopping,
 * prediction, and the safetensors model file.
 */
#include <teller/json.h>
#include <teller/ml_stats.h>
#include <teller/nn.h>
#include <teller/nn_io.h>
#include <teller/nn_optim.h>
#include <teller/nn_text.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#define FORMAT_VERSION 1
#define META_KEY "teller.textclf"
#define NGRAM_MIN 3
#define NGRAM_MAX 5
/* Rows scored per graph when evaluating: the BiGRU's graph holds every step
 * of every row, so 256 rows made validation the peak of a training's memory
 * (226 MB on banking77, against 138 MB at 64, for no measurable speed). */
#define EVAL_BATCH 64

struct tl_textclf {
    int kind;
    char **labels;
    size_t n_labels;
    tl_text_vocab *vocab;
    int threads;
    double ens_weight; /* on the BiGRU's probabilities */
    /* BiGRU */
    int gru_emb, gru_hidden, max_len;
    tl_nn_params *gp;
    struct tl_nn_embedding_layer g_emb;
    struct tl_nn_rnn g_rnn;
    struct tl_nn_linear g_out;
    /* fastText */
    int ft_dim;
    uint32_t ft_buckets;
    tl_nn_params *fp;
    tl_tensor *f_table; /* (vocab + buckets, dim) */
    struct tl_nn_linear f_out;
};

/* Row-compressed features: row r's ids are id[off[r] .. off[r+1]). */
struct feats {
    size_t n;
    size_t *off;
    int32_t *id;
};

static void feats_free(struct feats *f)
{
    free(f->off);
    free(f->id);
    memset(f, 0, sizeof *f);
}

const char *tl_textclf_kind_name(int kind)
{
    switch (kind) {
    case TL_TEXTCLF_BIGRU: return "bigru";
    case TL_TEXTCLF_FASTTEXT: return "fasttext";
    case TL_TEXTCLF_ENSEMBLE: return "ensemble";
    default: return "?";
    }
}

int tl_textclf_kind_parse(const char *name)
{
    for (int k = 0; k <= TL_TEXTCLF_ENSEMBLE; k++)
        if (strcmp(name, tl_textclf_kind_name(k)) == 0)
            return k;
    return -1;
}

void tl_textclf_defaults(tl_textclf_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = TL_TEXTCLF_ENSEMBLE;
    cfg->epochs = 12;
    cfg->patience = 3;
    cfg->seed = 42;
    cfg->threads = 1;
    cfg->min_count = 1;
    cfg->label_smoothing = 0.1f;
    cfg->gru_emb = 128;
    cfg->gru_hidden = 128;
    cfg->gru_batch = 32;
    cfg->gru_lr = 2e-3f;
    cfg->gru_dropout = 0.3f;
    cfg->max_len = 64;
    cfg->ft_dim = 100;
    cfg->ft_batch = 32;
    cfg->ft_buckets = 1u << 17;
    cfg->ft_lr = 5e-3f;
}

static bool has_gru(int kind) { return kind == TL_TEXTCLF_BIGRU || kind == TL_TEXTCLF_ENSEMBLE; }
static bool has_ft(int kind) { return kind == TL_TEXTCLF_FASTTEXT || kind == TL_TEXTCLF_ENSEMBLE; }

/* ---- featurization ------------------------------------------------------------------- */

static int grow(struct feats *f, size_t *cap, size_t need, tl_err *err)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    int32_t *ni = realloc(f->id, nc * sizeof *ni);
    if (!ni)
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for %zu features", nc);
    f->id = ni;
    *cap = nc;
    return 0;
}

/* Word ids, the first max_len tokens. */
static int featurize_gru(const tl_textclf *m, const char *const *texts, size_t n, struct feats *f,
                         tl_err *err)
{
    tl_text_tokens tk = {0};
    size_t cap = 0, used = 0;
    int rc = 0;
    f->n = n;
    f->off = malloc((n + 1) * sizeof *f->off);
    if (!f->off)
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for %zu texts", n);
    f->off[0] = 0;
    for (size_t r = 0; r < n && rc == 0; r++) {
        rc = tl_text_tokenize(texts[r], strlen(texts[r]), &tk, err);
        size_t k = tk.n < (size_t)m->max_len ? tk.n : (size_t)m->max_len;
        if (rc == 0)
            rc = grow(f, &cap, used + k + 1, err);
        for (size_t j = 0; j < k && rc == 0; j++)
            f->id[used++] = tl_text_vocab_id(m->vocab, tk.tok[j], tk.len[j]);
        f->off[r + 1] = used;
    }
    tl_text_tokens_free(&tk);
    if (rc < 0)
        feats_free(f);
    return rc;
}

/* Known word ids, then V + bucket of each word bigram and each word's
 * character n-grams (unknown words still bring their n-grams). */
static int featurize_ft(const tl_textclf *m, const char *const *texts, size_t n, struct feats *f,
                        tl_err *err)
{
    tl_text_tokens tk = {0};
    size_t cap = 0, used = 0;
    int rc = 0;
    uint32_t V = (uint32_t)tl_text_vocab_size(m->vocab), B = m->ft_buckets;
    uint32_t *hw = NULL;
    size_t hw_cap = 0;
    f->n = n;
    f->off = malloc((n + 1) * sizeof *f->off);
    if (!f->off)
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for %zu texts", n);
    f->off[0] = 0;
    for (size_t r = 0; r < n && rc == 0; r++) {
        rc = tl_text_tokenize(texts[r], strlen(texts[r]), &tk, err);
        if (rc < 0)
            break;
        if (tk.n > hw_cap) {
            uint32_t *nh = realloc(hw, tk.n * sizeof *nh);
            if (!nh) {
                rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
                break;
            }
            hw = nh;
            hw_cap = tk.n;
        }
        for (size_t j = 0; j < tk.n && rc == 0; j++) {
            size_t nl = tk.len[j] + 2;
            size_t n_ng = 0;
            for (int q = NGRAM_MIN; q <= NGRAM_MAX; q++)
                n_ng += nl >= (size_t)q ? nl - (size_t)q + 1 : 0;
            rc = grow(f, &cap, used + n_ng + 2, err);
            if (rc < 0)
                break;
            int32_t id = tl_text_vocab_id(m->vocab, tk.tok[j], tk.len[j]);
            hw[j] = tl_text_hash(tk.tok[j], tk.len[j]);
            if (id != TL_TEXT_UNK)
                f->id[used++] = id;
            if (j > 0)
                f->id[used++] = (int32_t)(V + (hw[j - 1] * 116049371u + hw[j]) % B);
            size_t got = tl_text_char_ngrams(tk.tok[j], tk.len[j], NGRAM_MIN, NGRAM_MAX, B,
                                             (uint32_t *)(f->id + used), n_ng);
            for (size_t q = 0; q < got; q++)
                f->id[used + q] = (int32_t)(V + (uint32_t)f->id[used + q]);
            used += got;
        }
        f->off[r + 1] = used;
    }
    free(hw);
    tl_text_tokens_free(&tk);
    if (rc < 0)
        feats_free(f);
    return rc;
}

/* ---- model construction ---------------------------------------------------------------- */

static int build_params(tl_textclf *m, uint64_t seed, tl_err *err)
{
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    int64_t V = (int64_t)tl_text_vocab_size(m->vocab), C = (int64_t)m->n_labels;
    int rc = 0;
    if (has_gru(m->kind)) {
        m->gp = tl_nn_params_new();
        if (!m->gp)
            return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
        rc = tl_nn_embedding_init(&m->g_emb, m->gp, "gru.emb", V, m->gru_emb, &rng, err);
        if (rc == 0)
            rc = tl_nn_rnn_init(&m->g_rnn, m->gp, "gru.rnn", TL_NN_RNN_GRU, m->gru_emb, m->gru_hidden,
                                1, true, 0.0f, true, &rng, err);
        if (rc == 0)
            rc = tl_nn_linear_init(&m->g_out, m->gp, "gru.out", 4 * (int64_t)m->gru_hidden, C, true,
                                   &rng, err);
        if (rc < 0)
            return rc;
        /* N(0, 1) embeddings saturate the GRU's gates at the start;
         * a smaller scale trains faster from scratch. */
        tl_nn_init_normal(m->g_emb.weight, 0.0f, 0.1f, &rng);
    }
    if (has_ft(m->kind)) {
        m->fp = tl_nn_params_new();
        if (!m->fp)
            return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
        rc = tl_nn_params_add(m->fp, "ft.emb.weight", 2,
                              (int64_t[]){V + (int64_t)m->ft_buckets, m->ft_dim}, &m->f_table, err);
        if (rc == 0)
            rc = tl_nn_linear_init(&m->f_out, m->fp, "ft.out", m->ft_dim, C, true, &rng, err);
        if (rc < 0)
            return rc;
        /* fastText's input init: U(-1/dim, 1/dim). */
        tl_nn_init_uniform(m->f_table, -1.0f / (float)m->ft_dim, 1.0f / (float)m->ft_dim, &rng);
    }
    return 0;
}

void tl_textclf_free(tl_textclf *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->labels[i]);
    free(m->labels);
    tl_text_vocab_free(m->vocab);
    tl_nn_params_free(m->gp);
    tl_nn_params_free(m->fp);
    free(m);
}

size_t tl_textclf_n_labels(const tl_textclf *m) { return m->n_labels; }
const char *tl_textclf_label(const tl_textclf *m, size_t i)
{
    return i < m->n_labels ? m->labels[i] : NULL;
}
int tl_textclf_kind(const tl_textclf *m) { return m->kind; }
void tl_textclf_set_threads(tl_textclf *m, int threads) { m->threads = threads < 1 ? 1 : threads; }

/* ---- forward passes ---------------------------------------------------------------------- */

/* Logits (B, C) for rows[0..B) of f, which the caller ordered by decreasing
 * length (the GRU then skips finished rows). Scratch arrays come from the
 * caller so that batches allocate nothing outside the graph's arena. */
static tl_tensor *gru_logits(tl_nn_graph *g, const tl_textclf *m, const struct feats *f,
                             const size_t *rows, size_t B, float dropout, int32_t *idx,
                             int32_t *lens)
{
    size_t T = 1;
    for (size_t b = 0; b < B; b++) {
        size_t l = f->off[rows[b] + 1] - f->off[rows[b]];
        lens[b] = (int32_t)l;
        if (l > T)
            T = l;
    }
    for (size_t b = 0; b < B; b++) {
        const int32_t *src = f->id + f->off[rows[b]];
        for (size_t t = 0; t < T; t++)
            idx[b * T + t] = t < (size_t)lens[b] ? src[t] : TL_TEXT_PAD;
    }
    tl_tensor *e = tl_nn_embedding_forward(g, &m->g_emb, idx, (int64_t)(B * T));
    e = tl_nn_reshape(g, e, 3, (int64_t[]){(int64_t)B, (int64_t)T, m->gru_emb});
    e = tl_nn_dropout(g, e, dropout);
    tl_tensor *h = tl_nn_rnn_forward(g, &m->g_rnn, e, lens, NULL, NULL, NULL, NULL);
    tl_tensor *pools[2] = {tl_nn_max_pool_time(g, h, lens), tl_nn_mean_pool_time(g, h, lens)};
    if (!pools[0] || !pools[1])
        return NULL;
    tl_tensor *z = tl_nn_concat(g, pools, 2, 1);
    z = tl_nn_dropout(g, z, dropout);
    return tl_nn_linear_forward(g, &m->g_out, z);
}

/* Logits (B, C): the mean of the rows' feature embeddings through a sparse
 * (B, n_feats) averaging matrix, then the linear layer. */
static tl_tensor *ft_logits(tl_nn_graph *g, const tl_textclf *m, const struct feats *f,
                            const size_t *rows, size_t B, int32_t *idx, int64_t *row_ptr,
                            int32_t *col, float *val)
{
    size_t nf = 0;
    row_ptr[0] = 0;
    for (size_t b = 0; b < B; b++) {
        size_t a = f->off[rows[b]], z = f->off[rows[b] + 1];
        float w = z > a ? 1.0f / (float)(z - a) : 0.0f;
        for (size_t k = a; k < z; k++) {
            idx[nf] = f->id[k];
            col[nf] = (int32_t)nf;
            val[nf] = w;
            nf++;
        }
        row_ptr[b + 1] = (int64_t)nf;
    }
    /* An empty batch of features still needs one row for the lookup. */
    size_t n_look = nf ? nf : 1;
    if (!nf)
        idx[0] = TL_TEXT_PAD;
    tl_tensor *e = tl_nn_embedding(g, m->f_table, idx, (int64_t)n_look);
    struct tl_nn_csr a = {.n_rows = (int64_t)B, .n_cols = (int64_t)n_look, .row_ptr = row_ptr,
                          .col = col, .val = val};
    tl_tensor *h = tl_nn_spmm(g, &a, e);
    return tl_nn_linear_forward(g, &m->f_out, h);
}

/* Scratch for a batch of at most max_b rows of f. */
struct scratch {
    int32_t *idx, *lens, *col;
    int64_t *row_ptr;
    float *val;
    size_t *rows;
};

static void scratch_free(struct scratch *s)
{
    free(s->idx);
    free(s->lens);
    free(s->col);
    free(s->row_ptr);
    free(s->val);
    free(s->rows);
}

/* The most features (or tokens x rows, for the GRU's padded grid) a batch
 * of max_b rows can need. */
static int scratch_new(const struct feats *f, size_t max_b, bool padded, struct scratch *s,
                       tl_err *err)
{
    size_t longest = 1, *len = NULL;
    memset(s, 0, sizeof *s);
    len = malloc((f->n + 1) * sizeof *len);
    if (!len)
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
    for (size_t r = 0; r < f->n; r++) {
        len[r] = f->off[r + 1] - f->off[r];
        if (len[r] > longest)
            longest = len[r];
    }
    size_t need;
    if (padded) {
        need = max_b * longest;
    } else {
        /* The max_b longest rows bound any batch's features. */
        need = 1;
        size_t *sorted = len;
        for (size_t i = 0; i < f->n && i < max_b; i++) {
            size_t best = i;
            for (size_t j = i + 1; j < f->n; j++)
                if (sorted[j] > sorted[best])
                    best = j;
            size_t t = sorted[i];
            sorted[i] = sorted[best];
            sorted[best] = t;
            need += sorted[i];
        }
    }
    free(len);
    s->idx = malloc((need + 1) * sizeof *s->idx);
    s->col = malloc((need + 1) * sizeof *s->col);
    s->val = malloc((need + 1) * sizeof *s->val);
    s->lens = malloc((max_b + 1) * sizeof *s->lens);
    s->row_ptr = malloc((max_b + 1) * sizeof *s->row_ptr);
    s->rows = malloc((max_b + 1) * sizeof *s->rows);
    if (!s->idx || !s->col || !s->val || !s->lens || !s->row_ptr || !s->rows) {
        scratch_free(s);
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for a batch");
    }
    return 0;
}

/* qsort has no context argument; per thread, as the two models of an
 * ensemble train on their own threads. */
static _Thread_local const struct feats *sort_feats;

static int cmp_len_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    size_t lx = sort_feats->off[x + 1] - sort_feats->off[x];
    size_t ly = sort_feats->off[y + 1] - sort_feats->off[y];
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return x < y ? -1 : (x > y);
}

static void softmax_rows(const float *logits, size_t B, size_t C, float *out)
{
    for (size_t b = 0; b < B; b++) {
        const float *x = logits + b * C;
        float mx = x[0];
        for (size_t c = 1; c < C; c++)
            mx = x[c] > mx ? x[c] : mx;
        double s = 0;
        for (size_t c = 0; c < C; c++) {
            out[b * C + c] = expf(x[c] - mx);
            s += out[b * C + c];
        }
        for (size_t c = 0; c < C; c++)
            out[b * C + c] = (float)(out[b * C + c] / s);
    }
}

/* Probabilities (n_rows, C) of rows[0..n_rows) (all of f when rows NULL)
 * under one of the two models (gru true: the BiGRU). */
static int model_probs(const tl_textclf *m, bool gru, const struct feats *f, const size_t *rows,
                       size_t n_rows, float *probs, tl_err *err)
{
    size_t C = m->n_labels;
    struct scratch s;
    size_t *order = malloc((n_rows + 1) * sizeof *order);
    float *logits = malloc(EVAL_BATCH * C * sizeof *logits);
    tl_nn_graph *g = NULL;
    int rc = 0;
    if (!order || !logits) {
        free(order);
        free(logits);
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for %zu rows", n_rows);
    }
    rc = scratch_new(f, EVAL_BATCH, gru, &s, err);
    if (rc == 0)
        rc = tl_nn_graph_new(0, 0, &g, err);
    if (rc < 0) {
        free(order);
        free(logits);
        if (!g && s.idx)
            scratch_free(&s);
        return rc;
    }
    tl_nn_graph_set_training(g, false);
    tl_nn_graph_set_grad(g, false);
    /* Sorting by length keeps the GRU's padding small; results are put back
     * in row order. */
    for (size_t i = 0; i < n_rows; i++)
        order[i] = rows ? rows[i] : i;
    sort_feats = f;
    if (gru)
        qsort(order, n_rows, sizeof *order, cmp_len_desc);
    size_t *pos = malloc((n_rows + 1) * sizeof *pos);
    if (!pos)
        rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
    /* pos[k]: where order[k] goes in the output. */
    if (rc == 0) {
        if (gru) {
            size_t *inv = malloc((f->n + 1) * sizeof *inv);
            if (!inv) {
                rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
            } else {
                for (size_t i = 0; i < n_rows; i++)
                    inv[rows ? rows[i] : i] = i;
                for (size_t k = 0; k < n_rows; k++)
                    pos[k] = inv[order[k]];
                free(inv);
            }
        } else {
            for (size_t k = 0; k < n_rows; k++)
                pos[k] = k;
        }
    }
    for (size_t b0 = 0; b0 < n_rows && rc == 0; b0 += EVAL_BATCH) {
        size_t B = n_rows - b0 < EVAL_BATCH ? n_rows - b0 : EVAL_BATCH;
        tl_nn_graph_reset(g);
        tl_tensor *lg = gru ? gru_logits(g, m, f, order + b0, B, 0.0f, s.idx, s.lens)
                            : ft_logits(g, m, f, order + b0, B, s.idx, s.row_ptr, s.col, s.val);
        if (!lg) {
            rc = tl_nn_graph_error(g, err);
            if (rc == 0)
                rc = tl_err_set(err, TL_EINTERNAL, "text classifier: forward pass failed");
            break;
        }
        tl_nn_tensor_read(lg, logits);
        softmax_rows(logits, B, C, logits);
        for (size_t b = 0; b < B; b++)
            memcpy(probs + pos[b0 + b] * C, logits + b * C, C * sizeof *probs);
    }
    free(pos);
    free(order);
    free(logits);
    scratch_free(&s);
    tl_nn_graph_free(g);
    return rc;
}

static void argmax_rows(const float *p, size_t n, size_t C, int32_t *pred)
{
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t c = 1; c < C; c++)
            if (p[i * C + c] > p[i * C + best])
                best = c;
        pred[i] = (int32_t)best;
    }
}

/* ---- training -------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Lazy (row-wise) Adam for the fastText table: only the rows a batch
 * touched move, as torch.optim.SparseAdam does; a dense Adam over a table
 * of a hundred thousand rows would cost more than the whole forward pass. */
struct sparse_adam {
    float *m, *v;
    uint8_t *mark;
    int32_t *touched;
    size_t n_touched;
    int64_t step;
};

static void sparse_adam_step(struct sparse_adam *sa, tl_tensor *table, const int32_t *idx, size_t n,
                             double lr)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    size_t d = (size_t)table->shape[1];
    sa->step++;
    double bc1 = 1 - pow(b1, (double)sa->step), bc2 = 1 - pow(b2, (double)sa->step);
    double step_size = lr / bc1, sq = sqrt(bc2);
    sa->n_touched = 0;
    for (size_t i = 0; i < n; i++)
        if (!sa->mark[idx[i]]) {
            sa->mark[idx[i]] = 1;
            sa->touched[sa->n_touched++] = idx[i];
        }
    for (size_t k = 0; k < sa->n_touched; k++) {
        size_t r = (size_t)sa->touched[k];
        sa->mark[r] = 0;
        float *w = table->data + r * d, *g = table->grad + r * d;
        float *mm = sa->m + r * d, *vv = sa->v + r * d;
        for (size_t j = 0; j < d; j++) {
            mm[j] = (float)(b1 * mm[j] + (1 - b1) * g[j]);
            vv[j] = (float)(b2 * vv[j] + (1 - b2) * (double)g[j] * g[j]);
            w[j] -= (float)(step_size * mm[j] / (sqrt(vv[j]) / sq + eps));
            g[j] = 0;
        }
    }
}

/* The params of ps (but skip) as optimizer params; biases exempt from decay. */
static int optim_params(tl_nn_params *ps, const tl_tensor *skip, tl_nn_optim_param **out,
                        size_t *n_out, tl_err *err)
{
    size_t n = tl_nn_params_count(ps), k = 0;
    tl_nn_optim_param *p = calloc(n + 1, sizeof *p);
    if (!p)
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
    for (size_t i = 0; i < n; i++) {
        tl_tensor *t = tl_nn_params_at(ps, i);
        if (t == skip)
            continue;
        p[k] = (tl_nn_optim_param){t->data, t->grad, (size_t)tl_nn_numel(t), t->name,
                                   t->ndim == 1};
        k++;
    }
    *out = p;
    *n_out = k;
    return 0;
}

/* Copies every parameter's data to (save true) or from a flat buffer. */
static void snapshot(tl_nn_params *ps, float *buf, bool save)
{
    size_t off = 0;
    for (size_t i = 0; i < tl_nn_params_count(ps); i++) {
        tl_tensor *t = tl_nn_params_at(ps, i);
        size_t n = (size_t)tl_nn_numel(t);
        if (save)
            memcpy(buf + off, t->data, n * sizeof *buf);
        else
            memcpy(t->data, buf + off, n * sizeof *buf);
        off += n;
    }
}

struct train_data {
    const struct feats *f;
    const int32_t *labels;
    size_t *train_rows, n_train;
    size_t *valid_rows, n_valid;
};

/* Batches of similar length: the epoch's shuffled rows are cut into chunks
 * of 50 batches, each chunk sorted by decreasing length, and the batches
 * taken in a shuffled order. Fills batch_start (n_batches + 1). */
static size_t plan_epoch(const struct train_data *d, size_t bs, bool by_length, tl_rng *rng,
                         size_t *order, size_t *batch_order)
{
    memcpy(order, d->train_rows, d->n_train * sizeof *order);
    tl_rng_shuffle(rng, order, d->n_train);
    if (by_length) {
        sort_feats = d->f;
        size_t chunk = 50 * bs;
        for (size_t a = 0; a < d->n_train; a += chunk) {
            size_t len = d->n_train - a < chunk ? d->n_train - a : chunk;
            qsort(order + a, len, sizeof *order, cmp_len_desc);
        }
    }
    size_t nb = (d->n_train + bs - 1) / bs;
    for (size_t b = 0; b < nb; b++)
        batch_order[b] = b;
    tl_rng_shuffle(rng, batch_order, nb);
    return nb;
}

static int train_one(tl_textclf *m, bool gru, const tl_textclf_config *cfg,
                     const struct train_data *d, float *valid_probs, int *epochs_run,
                     int *best_epoch, tl_err *err)
{
    tl_nn_params *ps = gru ? m->gp : m->fp;
    size_t bs = (size_t)(gru ? cfg->gru_batch : cfg->ft_batch);
    double lr = gru ? cfg->gru_lr : cfg->ft_lr;
    size_t C = m->n_labels, n_par = (size_t)tl_nn_params_numel(ps);
    tl_nn_optim_param *op = NULL;
    size_t n_op = 0;
    tl_nn_optim *opt = NULL;
    tl_nn_graph *g = NULL;
    struct scratch s = {0};
    struct sparse_adam sa = {0};
    float *best = malloc(n_par * sizeof *best);
    size_t *order = malloc((d->n_train + 1) * sizeof *order);
    size_t *batch_order = malloc((d->n_train / bs + 2) * sizeof *batch_order);
    int32_t *blabels = malloc((bs + 1) * sizeof *blabels);
    float *vp = malloc((d->n_valid * C + 1) * sizeof *vp);
    int32_t *vpred = malloc((d->n_valid + 1) * sizeof *vpred);
    int32_t *vtruth = malloc((d->n_valid + 1) * sizeof *vtruth);
    int rc = 0;
    if (!best || !order || !batch_order || !blabels || !vp || !vpred || !vtruth) {
        rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for training");
        goto done;
    }
    for (size_t i = 0; i < d->n_valid; i++)
        vtruth[i] = d->labels[d->valid_rows[i]];
    rc = optim_params(ps, gru ? NULL : m->f_table, &op, &n_op, err);
    tl_nn_optim_config oc;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &oc);
    oc.lr = lr;
    if (rc == 0)
        rc = tl_nn_optim_new(&oc, op, n_op, &opt, err);
    if (rc == 0)
        rc = tl_nn_graph_new(0, cfg->seed ^ (gru ? 0x61u : 0x7fu), &g, err);
    if (rc == 0)
        rc = scratch_new(d->f, bs, gru, &s, err);
    if (rc == 0 && !gru) {
        size_t rows = (size_t)m->f_table->shape[0], dim = (size_t)m->f_table->shape[1];
        sa.m = calloc(rows * dim, sizeof *sa.m);
        sa.v = calloc(rows * dim, sizeof *sa.v);
        sa.mark = calloc(rows, 1);
        sa.touched = malloc(rows * sizeof *sa.touched);
        if (!sa.m || !sa.v || !sa.mark || !sa.touched)
            rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for the optimizer");
    }
    if (rc < 0)
        goto done;
    tl_nn_early_stop es;
    tl_nn_early_stop_init(&es, TL_NN_MODE_MAX, cfg->patience, 0.0, err);
    tl_rng rng;
    tl_rng_seed(&rng, cfg->seed + (gru ? 1 : 2));
    int64_t total_steps = (int64_t)cfg->epochs * (int64_t)((d->n_train + bs - 1) / bs), step = 0;
    *epochs_run = 0;
    *best_epoch = 0;
    for (int ep = 0; ep < cfg->epochs && rc == 0; ep++) {
        size_t nb = plan_epoch(d, bs, gru, &rng, order, batch_order);
        double loss_sum = 0;
        for (size_t bi = 0; bi < nb && rc == 0; bi++) {
            size_t a = batch_order[bi] * bs;
            size_t B = d->n_train - a < bs ? d->n_train - a : bs;
            const size_t *rows = order + a;
            for (size_t b = 0; b < B; b++)
                blabels[b] = d->labels[rows[b]];
            /* Linear decay to a tenth over the run: later epochs refine. */
            double cur = lr * (1.0 - 0.9 * (double)step / (double)(total_steps ? total_steps : 1));
            tl_nn_graph_reset(g);
            tl_tensor *lg = gru ? gru_logits(g, m, d->f, rows, B, cfg->gru_dropout, s.idx, s.lens)
                                : ft_logits(g, m, d->f, rows, B, s.idx, s.row_ptr, s.col, s.val);
            tl_tensor *loss = tl_nn_cross_entropy(g, lg, blabels, NULL, cfg->label_smoothing);
            if (!loss) {
                rc = tl_nn_graph_error(g, err);
                break;
            }
            loss_sum += loss->data[0];
            tl_nn_optim_zero_grad(opt);
            rc = tl_nn_backward(g, loss, err);
            if (rc < 0)
                break;
            if (gru)
                rc = tl_nn_clip_grad_norm(op, n_op, 5.0, NULL, err);
            if (rc < 0)
                break;
            tl_nn_optim_set_lr(opt, cur);
            rc = tl_nn_optim_step(opt, err);
            if (!gru) {
                size_t nf = (size_t)s.row_ptr[B];
                sparse_adam_step(&sa, m->f_table, s.idx, nf ? nf : 1, cur);
            }
            step++;
        }
        if (rc < 0)
            break;
        *epochs_run = ep + 1;
        double acc = NAN;
        if (d->n_valid) {
            rc = model_probs(m, gru, d->f, d->valid_rows, d->n_valid, vp, err);
            if (rc < 0)
                break;
            argmax_rows(vp, d->n_valid, C, vpred);
            double f1;
            tl_text_scores(vtruth, vpred, NULL, d->n_valid, (int)C, &acc, &f1);
            if (tl_nn_early_stop_update(&es, ep, acc)) {
                snapshot(ps, best, true);
                memcpy(valid_probs, vp, d->n_valid * C * sizeof *vp);
                *best_epoch = ep + 1;
            }
        }
        if (cfg->on_epoch)
            cfg->on_epoch(cfg->on_epoch_arg, gru ? "bigru" : "fasttext", ep + 1,
                          loss_sum / (double)(nb ? nb : 1), acc);
        if (d->n_valid && es.stop)
            break;
    }
    if (rc == 0 && d->n_valid && *best_epoch > 0)
        snapshot(ps, best, false);
done:
    tl_nn_optim_free(opt);
    free(op);
    tl_nn_graph_free(g);
    scratch_free(&s);
    free(sa.m);
    free(sa.v);
    free(sa.mark);
    free(sa.touched);
    free(best);
    free(order);
    free(batch_order);
    free(blabels);
    free(vp);
    free(vpred);
    free(vtruth);
    return rc;
}

struct job {
    tl_textclf *m;
    bool gru;
    const tl_textclf_config *cfg;
    struct train_data d;
    struct feats *f;
    float *valid_probs;
    int epochs, best, rc;
    tl_err err;
    const char *const *texts;
    size_t n;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->rc = j->gru ? featurize_gru(j->m, j->texts, j->n, j->f, &j->err)
                   : featurize_ft(j->m, j->texts, j->n, j->f, &j->err);
    j->d.f = j->f;
    if (j->rc == 0)
        j->rc = train_one(j->m, j->gru, j->cfg, &j->d, j->valid_probs, &j->epochs, &j->best,
                          &j->err);
    return NULL;
}

static int check_config(const tl_textclf_config *c, tl_err *err)
{
    const char *bad = NULL;
    if (c->kind < 0 || c->kind > TL_TEXTCLF_ENSEMBLE)
        bad = "kind";
    else if (c->epochs < 1)
        bad = "epochs (at least 1)";
    else if (c->patience < 0)
        bad = "patience";
    else if (c->min_count < 1)
        bad = "min_count (at least 1)";
    else if (!(c->label_smoothing >= 0 && c->label_smoothing < 1))
        bad = "label_smoothing (in [0, 1))";
    else if (c->gru_emb < 1 || c->gru_hidden < 1 || c->gru_batch < 1 || !(c->gru_lr > 0))
        bad = "a BiGRU size or learning rate";
    else if (!(c->gru_dropout >= 0 && c->gru_dropout < 1))
        bad = "gru_dropout (in [0, 1))";
    else if (c->max_len < 1)
        bad = "max_len (at least 1)";
    else if (c->ft_dim < 1 || c->ft_batch < 1 || c->ft_buckets < 1 || !(c->ft_lr > 0))
        bad = "a fastText size or learning rate";
    if (bad)
        return tl_err_set(err, TL_EINVAL, "text classifier: bad configuration: %s", bad);
    return 0;
}

int tl_textclf_train(const tl_textclf_config *cfg, const char *const *texts, const int32_t *labels,
                     size_t n, const char *const *label_names, size_t n_labels,
                     const uint8_t *is_valid, tl_textclf **out, tl_textclf_report *rep,
                     tl_err *err)
{
    int rc = check_config(cfg, err);
    if (rc < 0)
        return rc;
    if (n_labels < 2)
        return tl_err_set(err, TL_EINVAL, "text classifier: %zu labels; at least 2 are needed",
                          n_labels);
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= n_labels)
            return tl_err_set(err, TL_EINVAL, "text classifier: row %zu has label %d outside [0, %zu)",
                              i, (int)labels[i], n_labels);
    double t0 = now_s();
    struct train_data d = {.labels = labels};
    struct feats fg = {0}, ff = {0};
    float *pg = NULL, *pf = NULL, *pe = NULL;
    int32_t *pred = NULL, *truth = NULL;
    tl_textclf *m = calloc(1, sizeof *m);
    d.train_rows = malloc((n + 1) * sizeof *d.train_rows);
    d.valid_rows = malloc((n + 1) * sizeof *d.valid_rows);
    if (!m || !d.train_rows || !d.valid_rows) {
        rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for %zu texts", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_valid && is_valid[i])
            d.valid_rows[d.n_valid++] = i;
        else
            d.train_rows[d.n_train++] = i;
    }
    if (d.n_train == 0) {
        rc = tl_err_set(err, TL_EINVAL, "text classifier: no training rows");
        goto done;
    }
    m->kind = cfg->kind;
    m->threads = cfg->threads < 1 ? 1 : cfg->threads;
    m->gru_emb = cfg->gru_emb;
    m->gru_hidden = cfg->gru_hidden;
    m->max_len = cfg->max_len;
    m->ft_dim = cfg->ft_dim;
    m->ft_buckets = cfg->ft_buckets;
    m->ens_weight = cfg->kind == TL_TEXTCLF_BIGRU ? 1.0 : (cfg->kind == TL_TEXTCLF_FASTTEXT ? 0.0 : 0.5);
    m->labels = calloc(n_labels, sizeof *m->labels);
    if (!m->labels) {
        rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
        goto done;
    }
    m->n_labels = n_labels;
    for (size_t i = 0; i < n_labels && rc == 0; i++)
        if (!(m->labels[i] = strdup(label_names[i])))
            rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
    uint8_t *use = malloc(n + 1);
    if (!use && rc == 0)
        rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            use[i] = !(is_valid && is_valid[i]);
        rc = tl_text_vocab_build(texts, n, use, cfg->min_count, &m->vocab, err);
    }
    free(use);
    if (rc == 0)
        rc = build_params(m, cfg->seed, err);
    if (rc < 0)
        goto done;
    tl_nn_set_blas_threads(m->threads);
    size_t C = n_labels, nv = d.n_valid;
    pg = calloc(nv * C + 1, sizeof *pg);
    pf = calloc(nv * C + 1, sizeof *pf);
    pe = calloc(nv * C + 1, sizeof *pe);
    pred = malloc((nv + 1) * sizeof *pred);
    truth = malloc((nv + 1) * sizeof *truth);
    if (!pg || !pf || !pe || !pred || !truth) {
        rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nv; i++)
        truth[i] = labels[d.valid_rows[i]];
    tl_textclf_report r = {NAN, NAN, 0, 0, NAN, NAN, 0, 0, NAN, NAN, NAN, 0, 0, 0, 0};
    r.n_train = d.n_train;
    r.n_valid = nv;
    r.vocab_size = tl_text_vocab_size(m->vocab);
    /* Each model featurizes and trains on its own thread with one BLAS
     * thread: the GRU's GEMMs are too small to gain from splitting, and the
     * two models together keep two cores busy. */
    struct job jobs[2] = {
        {m, false, cfg, d, &ff, pf, 0, 0, 0, {0}, texts, n},
        {m, true, cfg, d, &fg, pg, 0, 0, 0, {0}, texts, n},
    };
    bool run[2] = {has_ft(m->kind), has_gru(m->kind)};
    pthread_t th[2];
    bool started[2] = {false, false};
    bool both = run[0] && run[1] && cfg->threads >= 2;
    if (both)
        tl_nn_set_blas_threads(1);
    for (int j = 0; j < 2; j++)
        if (run[j] && both)
            started[j] = pthread_create(&th[j], NULL, job_main, &jobs[j]) == 0;
    for (int j = 0; j < 2; j++) {
        if (started[j])
            pthread_join(th[j], NULL);
        else if (run[j])
            job_main(&jobs[j]);
    }
    for (int j = 0; j < 2 && rc == 0; j++)
        if (run[j] && jobs[j].rc < 0) {
            rc = jobs[j].rc;
            *err = jobs[j].err;
        }
    if (rc < 0)
        goto done;
    r.fasttext_epochs = jobs[0].epochs;
    r.fasttext_best_epoch = jobs[0].best;
    r.bigru_epochs = jobs[1].epochs;
    r.bigru_best_epoch = jobs[1].best;
    if (nv && run[0]) {
        argmax_rows(pf, nv, C, pred);
        tl_text_scores(truth, pred, NULL, nv, (int)C, &r.fasttext_accuracy, &r.fasttext_macro_f1);
    }
    if (nv && run[1]) {
        argmax_rows(pg, nv, C, pred);
        tl_text_scores(truth, pred, NULL, nv, (int)C, &r.bigru_accuracy, &r.bigru_macro_f1);
    }
    if (m->kind == TL_TEXTCLF_ENSEMBLE && nv) {
        /* The weight on the BiGRU from 0 to 1 by tenths; ties go to the
         * weight nearest one half (the least committed blend). */
        double best_acc = -1;
        for (int k = 0; k <= 10; k++) {
            double w = k / 10.0, acc, f1;
            for (size_t i = 0; i < nv * C; i++)
                pe[i] = (float)(w * pg[i] + (1 - w) * pf[i]);
            argmax_rows(pe, nv, C, pred);
            tl_text_scores(truth, pred, NULL, nv, (int)C, &acc, &f1);
            if (acc > best_acc + 1e-12 ||
                (fabs(acc - best_acc) <= 1e-12 && fabs(w - 0.5) < fabs(m->ens_weight - 0.5))) {
                best_acc = acc;
                m->ens_weight = w;
                r.ensemble_accuracy = acc;
                r.ensemble_macro_f1 = f1;
            }
        }
        r.ensemble_weight = m->ens_weight;
    }
    r.seconds = now_s() - t0;
    if (rep)
        *rep = r;
done:
    feats_free(&fg);
    feats_free(&ff);
    free(pg);
    free(pf);
    free(pe);
    free(pred);
    free(truth);
    free(d.train_rows);
    free(d.valid_rows);
    if (rc < 0) {
        tl_textclf_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int tl_textclf_predict(const tl_textclf *m, const char *const *texts, size_t n, int32_t *pred,
                       float *probs, tl_err *err)
{
    size_t C = m->n_labels;
    float *p = probs ? probs : malloc((n * C + 1) * sizeof *p);
    float *q = NULL;
    struct feats f = {0};
    int rc = 0;
    if (!p)
        return tl_err_set(err, TL_ENOMEM, "text classifier: out of memory for %zu texts", n);
    if (n == 0)
        goto done;
    tl_nn_set_blas_threads(m->threads);
    if (has_gru(m->kind)) {
        rc = featurize_gru(m, texts, n, &f, err);
        if (rc == 0)
            rc = model_probs(m, true, &f, NULL, n, p, err);
        feats_free(&f);
    }
    if (rc == 0 && has_ft(m->kind)) {
        q = m->kind == TL_TEXTCLF_ENSEMBLE ? malloc(n * C * sizeof *q) : p;
        if (!q)
            rc = tl_err_set(err, TL_ENOMEM, "text classifier: out of memory");
        if (rc == 0)
            rc = featurize_ft(m, texts, n, &f, err);
        if (rc == 0)
            rc = model_probs(m, false, &f, NULL, n, q, err);
        feats_free(&f);
        if (rc == 0 && q != p)
            for (size_t i = 0; i < n * C; i++)
                p[i] = (float)(m->ens_weight * p[i] + (1 - m->ens_weight) * q[i]);
        if (q != p)
            free(q);
    }
    if (rc == 0)
        argmax_rows(p, n, C, pred);
done:
    if (p != probs)
        free(p);
    return rc;
}

/* ---- the model file ------------------------------------------------------------------ */

static int add_tensors(tl_nn_params *ps, tl_nn_st_tensor *t, size_t *k)
{
    for (size_t i = 0; ps && i < tl_nn_params_count(ps); i++) {
        tl_tensor *p = tl_nn_params_at(ps, i);
        t[*k] = (tl_nn_st_tensor){p->name, p->data, p->shape, p->ndim};
        (*k)++;
    }
    return 0;
}

int tl_textclf_save(const tl_textclf *m, const char *path, tl_err *err)
{
    json_t *meta = json_object(), *labels = json_array(), *vocab = json_array();
    int rc = 0;
    if (!meta || !labels || !vocab) {
        json_decref(meta);
        json_decref(labels);
        json_decref(vocab);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < m->n_labels; i++)
        json_array_append_new(labels, json_string(m->labels[i]));
    size_t V = tl_text_vocab_size(m->vocab);
    for (size_t i = 2; i < V; i++)
        json_array_append_new(vocab, json_string(tl_text_vocab_word(m->vocab, (int32_t)i)));
    json_object_set_new(meta, "version", json_integer(FORMAT_VERSION));
    json_object_set_new(meta, "kind", json_string(tl_textclf_kind_name(m->kind)));
    json_object_set_new(meta, "ensemble_weight", json_real(m->ens_weight));
    json_object_set_new(meta, "gru_emb", json_integer(m->gru_emb));
    json_object_set_new(meta, "gru_hidden", json_integer(m->gru_hidden));
    json_object_set_new(meta, "max_len", json_integer(m->max_len));
    json_object_set_new(meta, "ft_dim", json_integer(m->ft_dim));
    json_object_set_new(meta, "ft_buckets", json_integer(m->ft_buckets));
    json_object_set_new(meta, "ngram_min", json_integer(NGRAM_MIN));
    json_object_set_new(meta, "ngram_max", json_integer(NGRAM_MAX));
    json_object_set_new(meta, "labels", labels);
    json_object_set_new(meta, "vocab", vocab);
    char *text = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    size_t nt = (m->gp ? tl_nn_params_count(m->gp) : 0) + (m->fp ? tl_nn_params_count(m->fp) : 0);
    tl_nn_st_tensor *t = calloc(nt + 1, sizeof *t);
    if (!text || !t) {
        free(text);
        free(t);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
    }
    size_t k = 0;
    add_tensors(m->gp, t, &k);
    add_tensors(m->fp, t, &k);
    const char *kv[] = {"format", "pt", META_KEY, text};
    rc = tl_nn_safetensors_write(path, t, k, kv, 2, err);
    free(text);
    free(t);
    return rc;
}

static int meta_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                    const char *path, tl_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return tl_err_set(err, TL_EPARSE, "%s: model metadata: \"%s\" is missing or not an integer "
                          "in [%lld, %lld]", path, key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

static int read_params(tl_nn_params *ps, const tl_nn_st_file *f, const char *path, tl_err *err)
{
    for (size_t i = 0; ps && i < tl_nn_params_count(ps); i++) {
        tl_tensor *p = tl_nn_params_at(ps, i);
        int rc = tl_nn_safetensors_read_f32(f, p->name, p->shape, p->ndim, p->data,
                                            (size_t)tl_nn_numel(p), err);
        if (rc < 0)
            return tl_err_prefix(err, "%s: ", path), TL_EPARSE;
    }
    return 0;
}

int tl_textclf_load(const char *path, tl_textclf **out, tl_err *err)
{
    tl_nn_st_file *f = NULL;
    int rc = tl_nn_safetensors_open(path, &f, err);
    if (rc < 0)
        return rc;
    json_t *meta = NULL;
    tl_textclf *m = NULL;
    const char **words = NULL;
    const char *text = tl_nn_safetensors_meta(f, META_KEY);
    if (!text) {
        rc = tl_err_set(err, TL_EPARSE, "%s: not a Teller text classifier (no \"%s\" metadata)",
                        path, META_KEY);
        goto done;
    }
    json_error_t je;
    meta = json_loads(text, 0, &je);
    if (!json_is_object(meta)) {
        rc = tl_err_set(err, TL_EPARSE, "%s: model metadata is not a JSON object: %s", path, je.text);
        goto done;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    m->threads = 1;
    int64_t ver = 0, ge = 0, gh = 0, ml = 0, fd = 0, fb = 0;
    json_t *kind = json_object_get(meta, "kind"), *labels = json_object_get(meta, "labels");
    json_t *vocab = json_object_get(meta, "vocab"), *ew = json_object_get(meta, "ensemble_weight");
    if ((rc = meta_int(meta, "version", FORMAT_VERSION, FORMAT_VERSION, &ver, path, err)) < 0 ||
        (rc = meta_int(meta, "gru_emb", 1, 1 << 16, &ge, path, err)) < 0 ||
        (rc = meta_int(meta, "gru_hidden", 1, 1 << 16, &gh, path, err)) < 0 ||
        (rc = meta_int(meta, "max_len", 1, 1 << 20, &ml, path, err)) < 0 ||
        (rc = meta_int(meta, "ft_dim", 1, 1 << 16, &fd, path, err)) < 0 ||
        (rc = meta_int(meta, "ft_buckets", 1, (int64_t)1 << 30, &fb, path, err)) < 0)
        goto done;
    m->kind = json_is_string(kind) ? tl_textclf_kind_parse(json_string_value(kind)) : -1;
    if (m->kind < 0 || !json_is_array(labels) || json_array_size(labels) < 2 ||
        !json_is_array(vocab) || !json_is_number(ew) || !(json_number_value(ew) >= 0) ||
        !(json_number_value(ew) <= 1)) {
        rc = tl_err_set(err, TL_EPARSE, "%s: model metadata: bad or missing kind, labels, vocab or "
                        "ensemble_weight", path);
        goto done;
    }
    m->gru_emb = (int)ge;
    m->gru_hidden = (int)gh;
    m->max_len = (int)ml;
    m->ft_dim = (int)fd;
    m->ft_buckets = (uint32_t)fb;
    m->ens_weight = json_number_value(ew);
    m->n_labels = json_array_size(labels);
    m->labels = calloc(m->n_labels, sizeof *m->labels);
    size_t nw = json_array_size(vocab);
    words = calloc(nw + 1, sizeof *words);
    if (!m->labels || !words) {
        rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        json_t *l = json_array_get(labels, i);
        if (!json_is_string(l)) {
            rc = tl_err_set(err, TL_EPARSE, "%s: model metadata: label %zu is not a string", path, i);
            goto done;
        }
        if (!(m->labels[i] = strdup(json_string_value(l)))) {
            rc = tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    for (size_t i = 0; i < nw; i++) {
        json_t *w = json_array_get(vocab, i);
        if (!json_is_string(w)) {
            rc = tl_err_set(err, TL_EPARSE, "%s: model metadata: vocabulary entry %zu is not a string",
                            path, i);
            goto done;
        }
        words[i] = json_string_value(w);
    }
    rc = tl_text_vocab_from(words, nw, &m->vocab, err);
    if (rc < 0) {
        tl_err_prefix(err, "%s: ", path);
        rc = TL_EPARSE;
        goto done;
    }
    rc = build_params(m, 0, err);
    if (rc < 0)
        goto done;
    size_t want = (m->gp ? tl_nn_params_count(m->gp) : 0) + (m->fp ? tl_nn_params_count(m->fp) : 0);
    if (tl_nn_safetensors_count(f) != want) {
        rc = tl_err_set(err, TL_EPARSE, "%s: %zu tensors where a %s model has %zu", path,
                        tl_nn_safetensors_count(f), tl_textclf_kind_name(m->kind), want);
        goto done;
    }
    rc = read_params(m->gp, f, path, err);
    if (rc == 0)
        rc = read_params(m->fp, f, path, err);
done:
    free(words);
    json_decref(meta);
    tl_nn_safetensors_close(f);
    if (rc < 0) {
        tl_textclf_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
