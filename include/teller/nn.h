/*
 * nn.h - the neural-network core: F32 tensors with strides, views without
 * copies, broadcasting, and a reverse-mode autograd tape whose tensors live
 * in one arena per batch.
 *
 * Two kinds of tensor:
 *   - parameters, made by tl_nn_params_add: their data and grad are malloc'd
 *     and persist across batches (an optimizer updates data from grad);
 *   - graph tensors, made by the ops below inside a tl_nn_graph: struct,
 *     data and grad come from the graph's arena and all vanish at once on
 *     tl_nn_graph_reset.
 *
 * Every op records, when any input needs a gradient, how to send the
 * gradient of its output back to its inputs (the tape). tl_nn_backward walks
 * the tape in reverse and ADDS into every .grad it reaches, parameters
 * included: zero the parameters' grads between steps.
 *
 *     tl_nn_params *ps = tl_nn_params_new();
 *     tl_tensor *w;  tl_nn_params_add(ps, "w", 2, (int64_t[]){4, 1}, &w, &err);
 *     tl_nn_graph *g; tl_nn_graph_new(0, 42, &g, &err);
 *     for (each batch) {
 *         tl_nn_graph_reset(g);
 *         tl_tensor *x = tl_nn_tensor_wrap(g, 2, (int64_t[]){n, 4}, batch_x);
 *         tl_tensor *y = tl_nn_tensor_wrap(g, 2, (int64_t[]){n, 1}, batch_y);
 *         tl_tensor *loss = tl_nn_mse(g, tl_nn_matmul(g, x, w), y);
 *         if (!loss) return tl_nn_graph_error(g, &err);
 *         tl_nn_params_zero_grad(ps);
 *         tl_nn_backward(g, loss, &err);
 *         ... update w->data from w->grad ...
 *     }
 *     tl_nn_graph_free(g); tl_nn_params_free(ps);
 *
 * Errors in ops: an op returns a tensor, or NULL when an input is NULL or
 * the op fails. The first failure is kept in the graph (a sticky error, as
 * a stream's error flag) so that a whole forward pass can be written as
 * nested calls and checked once: tl_nn_graph_error copies it out. An op
 * given a NULL input returns NULL without touching the recorded error. The
 * library never prints or aborts on bad shapes; the message names the op,
 * the argument and the shapes.
 *
 * Layout: shape[0] is the outermost dimension; stride[d] counts elements,
 * not bytes. An op's output is always contiguous unless the op is a view
 * (tl_nn_slice, tl_nn_transpose, tl_nn_reshape of a contiguous tensor,
 * tl_nn_unsqueeze). A view shares its base's data AND grad storage, so it
 * needs no backward step of its own.
 *
 * Determinism: the same seed, inputs and OpenBLAS thread count give the same
 * bits. Elementwise kernels, reductions and scatters run on one thread in a
 * fixed order; only GEMM is threaded (tl_nn_set_blas_threads).
 *
 * Not thread-safe per graph: one graph per thread. Parameters may be read
 * by several graphs at once only when none of them runs backward.
 */
#ifndef TELLER_NN_H
#define TELLER_NN_H

#include "common.h"
#include "err.h"
#include "ml_stats.h"

TL_BEGIN_DECLS

#define TL_NN_MAX_DIMS 4
/* A name longer than this is cut (parameters' names, for safetensors). */
#define TL_NN_NAME_MAX 96

typedef struct tl_nn_graph tl_nn_graph;
typedef struct tl_tensor tl_tensor;

/* Where a backward step reads its saved values; set by the ops, opaque to
 * callers. */
struct tl__nn_node;

struct tl_tensor {
    int ndim;                        /* 0 (scalar) to TL_NN_MAX_DIMS */
    int64_t shape[TL_NN_MAX_DIMS];   /* unused trailing entries are 1 */
    int64_t stride[TL_NN_MAX_DIMS];  /* in elements; unused entries are 0 */
    float *data;                     /* first element (views point inside their base) */
    float *grad;                     /* same layout as data; NULL until backward (graph
                                        tensors) or always set (parameters) */
    bool requires_grad;              /* set it on a leaf before using it in an op */
    bool is_param;                   /* storage owned by a tl_nn_params */
    char name[TL_NN_NAME_MAX];       /* parameters' names; "" for graph tensors */
    /* --- private to lib/nn --- */
    tl_tensor *view_root;            /* the tensor owning the storage; NULL: itself */
    int64_t view_offset;             /* elements from view_root->data */
    struct tl__nn_node *node;        /* how to backprop into the inputs; NULL for leaves */
    tl_tensor *tape_prev;            /* tape order, newest first */
};

/* ---- tensors ---------------------------------------------------------------- */

/* Number of elements (1 for a scalar). */
TL_API int64_t tl_nn_numel(const tl_tensor *t);
/* True when the elements are laid out row-major with no gaps. */
TL_API bool tl_nn_is_contiguous(const tl_tensor *t);
/* Copies the elements, row-major, into dst[numel] whatever the strides. */
TL_API void tl_nn_tensor_read(const tl_tensor *t, float *dst);
/* Element at flat row-major index i (0 <= i < numel), through the strides. */
TL_API float tl_nn_tensor_get(const tl_tensor *t, int64_t i);

/* ---- parameters ---------------------------------------------------------------
 * An ordered, named set of persistent tensors: a model's weights. The
 * optimizer and the safetensors writer walk it in insertion order. */
typedef struct tl_nn_params tl_nn_params;

/* NULL when out of memory. */
TL_API tl_nn_params *tl_nn_params_new(void);
/* Frees every parameter's struct, data and grad. */
TL_API void tl_nn_params_free(tl_nn_params *ps);
/* Adds a zero-filled parameter (data and grad) of the given shape; *out
 * stays valid until tl_nn_params_free. A duplicate name, a bad shape or an
 * empty name is TL_EINVAL; on error *out is untouched. */
TL_API int tl_nn_params_add(tl_nn_params *ps, const char *name, int ndim, const int64_t *shape,
                            tl_tensor **out, tl_err *err);
TL_API size_t tl_nn_params_count(const tl_nn_params *ps);
/* The i-th parameter in insertion order (NULL past the end). */
TL_API tl_tensor *tl_nn_params_at(const tl_nn_params *ps, size_t i);
/* The parameter of that name, or NULL. */
TL_API tl_tensor *tl_nn_params_find(const tl_nn_params *ps, const char *name);
/* Total number of elements over all parameters. */
TL_API int64_t tl_nn_params_numel(const tl_nn_params *ps);
/* Sets every parameter's grad to 0. */
TL_API void tl_nn_params_zero_grad(tl_nn_params *ps);

/* ---- initialization (seeded; fills t->data in row-major order) ----------------
 * fan_in / fan_out are explicit because the layout decides them: for this
 * library's Linear, W is (in, out), so fan_in = shape[0], fan_out = shape[1].
 * Normals come from Box-Muller on tl_rng_uniform. t must be contiguous. */
TL_API void tl_nn_init_constant(tl_tensor *t, float v);
TL_API void tl_nn_init_uniform(tl_tensor *t, float lo, float hi, tl_rng *rng);
TL_API void tl_nn_init_normal(tl_tensor *t, float mean, float std, tl_rng *rng);
/* U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
TL_API void tl_nn_init_xavier_uniform(tl_tensor *t, int64_t fan_in, int64_t fan_out, float gain,
                                      tl_rng *rng);
/* N(0, gain^2 * 2 / (fan_in + fan_out)). */
TL_API void tl_nn_init_xavier_normal(tl_tensor *t, int64_t fan_in, int64_t fan_out, float gain,
                                     tl_rng *rng);
/* He for ReLU: U(-a, a), a = sqrt(6 / fan_in) (PyTorch's kaiming_uniform_ with
 * a=0, mode fan_in). */
TL_API void tl_nn_init_kaiming_uniform(tl_tensor *t, int64_t fan_in, tl_rng *rng);
/* N(0, 2 / fan_in). */
TL_API void tl_nn_init_kaiming_normal(tl_tensor *t, int64_t fan_in, tl_rng *rng);

/* ---- the graph ---------------------------------------------------------------- */

/* A graph with its arena capped at max_bytes (0: no cap) and its dropout
 * generator seeded with seed. Starts in training mode with gradients on.
 * On error *out is untouched. */
TL_API int tl_nn_graph_new(size_t max_bytes, uint64_t seed, tl_nn_graph **out, tl_err *err);
TL_API void tl_nn_graph_free(tl_nn_graph *g);
/* Forgets every graph tensor (their pointers become invalid) and the
 * recorded error; keeps the arena's first block, the mode and the dropout
 * generator's position (so successive batches get fresh masks). */
TL_API void tl_nn_graph_reset(tl_nn_graph *g);
/* Training mode: dropout drops. Off: dropout is the identity. */
TL_API void tl_nn_graph_set_training(tl_nn_graph *g, bool training);
/* Gradients off (inference): ops record nothing and outputs never require
 * grad, so no backward memory is kept. */
TL_API void tl_nn_graph_set_grad(tl_nn_graph *g, bool enabled);
/* Reseeds the dropout generator. */
TL_API void tl_nn_graph_seed(tl_nn_graph *g, uint64_t seed);
/* Copies the first failure of an op since the last reset into err and
 * returns its code (0 when none). */
TL_API int tl_nn_graph_error(const tl_nn_graph *g, tl_err *err);
/* Bytes the arena handed out since the last reset. */
TL_API size_t tl_nn_graph_bytes(const tl_nn_graph *g);

/* OpenBLAS's thread count for GEMM (process-wide: OpenBLAS keeps it in a
 * global). n below 1 means 1. */
TL_API void tl_nn_set_blas_threads(int n);

/* Graph tensors: zero-filled, copied from data, or borrowing data (which
 * must stay valid and unchanged until the graph is reset; no op writes to
 * it). None requires grad unless the caller sets requires_grad. NULL (and
 * the graph's error) on a bad shape or when the arena is full. */
TL_API tl_tensor *tl_nn_tensor_new(tl_nn_graph *g, int ndim, const int64_t *shape);
TL_API tl_tensor *tl_nn_tensor_from(tl_nn_graph *g, int ndim, const int64_t *shape,
                                    const float *data);
TL_API tl_tensor *tl_nn_tensor_wrap(tl_nn_graph *g, int ndim, const int64_t *shape,
                                    const float *data);
TL_API tl_tensor *tl_nn_scalar(tl_nn_graph *g, float v);

/* Runs the tape backward from loss, a tensor with one element, whose
 * gradient is taken as 1. Allocates the grads of graph tensors (zeroed) and
 * adds into parameters' grads. Run it once per graph between resets. */
TL_API int tl_nn_backward(tl_nn_graph *g, tl_tensor *loss, tl_err *err);

/* ---- views (no copy; share data and grad with their input) ----------------- */

/* Elements [start, end) of axis (negative axis counts from the end). */
TL_API tl_tensor *tl_nn_slice(tl_nn_graph *g, tl_tensor *x, int axis, int64_t start, int64_t end);
/* Swaps two axes. */
TL_API tl_tensor *tl_nn_transpose(tl_nn_graph *g, tl_tensor *x, int axis0, int axis1);
/* New shape with the same numel; one entry may be -1 (inferred). A view when
 * x is contiguous, otherwise a contiguous copy first (with its backward). */
TL_API tl_tensor *tl_nn_reshape(tl_nn_graph *g, tl_tensor *x, int ndim, const int64_t *shape);
/* Inserts an axis of size 1 at position axis (0..ndim). */
TL_API tl_tensor *tl_nn_unsqueeze(tl_nn_graph *g, tl_tensor *x, int axis);
/* A contiguous copy (x itself when already contiguous). */
TL_API tl_tensor *tl_nn_contiguous(tl_nn_graph *g, tl_tensor *x);

/* ---- elementwise, with NumPy broadcasting ----------------------------------- */

TL_API tl_tensor *tl_nn_add(tl_nn_graph *g, tl_tensor *a, tl_tensor *b);
TL_API tl_tensor *tl_nn_sub(tl_nn_graph *g, tl_tensor *a, tl_tensor *b);
TL_API tl_tensor *tl_nn_mul(tl_nn_graph *g, tl_tensor *a, tl_tensor *b);
TL_API tl_tensor *tl_nn_div(tl_nn_graph *g, tl_tensor *a, tl_tensor *b);
/* s * x + bias: scale and shift by constants. */
TL_API tl_tensor *tl_nn_scale(tl_nn_graph *g, tl_tensor *x, float s, float bias);
TL_API tl_tensor *tl_nn_relu(tl_nn_graph *g, tl_tensor *x);
/* The tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 * PyTorch's gelu(approximate="tanh"). */
TL_API tl_tensor *tl_nn_gelu(tl_nn_graph *g, tl_tensor *x);
TL_API tl_tensor *tl_nn_tanh(tl_nn_graph *g, tl_tensor *x);
TL_API tl_tensor *tl_nn_sigmoid(tl_nn_graph *g, tl_tensor *x);
TL_API tl_tensor *tl_nn_exp(tl_nn_graph *g, tl_tensor *x);
/* Natural log; inputs <= 0 give -inf or NaN, as in C. */
TL_API tl_tensor *tl_nn_log(tl_nn_graph *g, tl_tensor *x);
/* Inverted dropout: in training mode each element is zeroed with
 * probability p (from the graph's generator) and the kept ones scaled by
 * 1 / (1 - p); otherwise, or with p 0, x itself. p must be in [0, 1). */
TL_API tl_tensor *tl_nn_dropout(tl_nn_graph *g, tl_tensor *x, float p);

/* ---- reductions ----------------------------------------------------------------- */

/* Over one axis (negative counts from the end); keepdim leaves it as size 1. */
TL_API tl_tensor *tl_nn_sum(tl_nn_graph *g, tl_tensor *x, int axis, bool keepdim);
TL_API tl_tensor *tl_nn_mean(tl_nn_graph *g, tl_tensor *x, int axis, bool keepdim);
/* Over every element, to a scalar (ndim 0). Accumulates in double. */
TL_API tl_tensor *tl_nn_sum_all(tl_nn_graph *g, tl_tensor *x);
TL_API tl_tensor *tl_nn_mean_all(tl_nn_graph *g, tl_tensor *x);

/* ---- shape-combining ---------------------------------------------------------- */

/* Joins n tensors along axis; every other dimension must agree. */
TL_API tl_tensor *tl_nn_concat(tl_nn_graph *g, tl_tensor *const *xs, int n, int axis);

/* ---- linear algebra ------------------------------------------------------------ */

/* (m, k) x (k, n) -> (m, n), or batched: (B, m, k) x (B, k, n) -> (B, m, n),
 * where either batch may be 1 or missing (a 2-d operand is shared by every
 * batch). Transposed views are passed to GEMM without a copy. */
TL_API tl_tensor *tl_nn_matmul(tl_nn_graph *g, tl_tensor *a, tl_tensor *b);

/* A sparse matrix in CSR form, borrowed by the graph until its reset:
 * row r's entries are col[row_ptr[r] .. row_ptr[r+1]) with values val[...]
 * (val NULL: every value 1). No gradient flows into the values. */
struct tl_nn_csr {
    int64_t n_rows, n_cols;
    const int64_t *row_ptr;  /* n_rows + 1 */
    const int32_t *col;      /* row_ptr[n_rows] */
    const float *val;        /* row_ptr[n_rows], or NULL */
};
/* A (n_rows, n_cols) x X (n_cols, d) -> (n_rows, d): graph propagation. The
 * CSR is checked (row_ptr non-decreasing, columns in range) once per call. */
TL_API tl_tensor *tl_nn_spmm(tl_nn_graph *g, const struct tl_nn_csr *a, tl_tensor *x);

/* Rows idx[0..n) of a 2-d table (V, d) -> (n, d): the embedding lookup. The
 * gradient adds each output row into the table's row (only the rows used
 * are touched). idx is copied; an index outside [0, V) is an error naming
 * its position. */
TL_API tl_tensor *tl_nn_embedding(tl_nn_graph *g, tl_tensor *table, const int32_t *idx,
                                  int64_t n);

/* ---- normalization and probabilities (over the last axis) --------------------- */

TL_API tl_tensor *tl_nn_softmax(tl_nn_graph *g, tl_tensor *x);
/* x - max - log(sum(exp(x - max))): stable for large logits. */
TL_API tl_tensor *tl_nn_log_softmax(tl_nn_graph *g, tl_tensor *x);
/* (x - mean) / sqrt(var + eps) * gamma + beta over the last axis, var the
 * biased variance; gamma and beta of shape (d) or NULL (1 and 0). */
TL_API tl_tensor *tl_nn_layer_norm(tl_nn_graph *g, tl_tensor *x, tl_tensor *gamma, tl_tensor *beta,
                                   float eps);

/* ---- losses (each a scalar: the mean over the batch) --------------------------- */

/* Binary cross-entropy on logits x against target t of the same shape
 * (values in [0, 1]; no gradient flows into t): the mean of
 * -(pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), computed stably as
 * (1 - t) x + (1 + (pw - 1) t) softplus(-x). pos_weight pw > 0 weighs the
 * positive part as PyTorch's BCEWithLogitsLoss(pos_weight); 1 for none. */
TL_API tl_tensor *tl_nn_bce_logits(tl_nn_graph *g, tl_tensor *logits, tl_tensor *target,
                                   float pos_weight);
/* Categorical cross-entropy from logits (N, C) and labels[N] in [0, C), with
 * optional class weights w[C] (NULL: all 1) and label smoothing eps in
 * [0, 1), exactly as PyTorch's cross_entropy(weight, label_smoothing) with
 * mean reduction: ((1 - eps) sum_i w_yi (-log p_i,yi) + eps / C sum_i sum_c
 * w_c (-log p_i,c)) / sum_i w_yi. labels and weights are copied. */
TL_API tl_tensor *tl_nn_cross_entropy(tl_nn_graph *g, tl_tensor *logits, const int32_t *labels,
                                      const float *class_weight, float label_smoothing);
/* Mean of (a - b)^2 over every element; same shapes. */
TL_API tl_tensor *tl_nn_mse(tl_nn_graph *g, tl_tensor *a, tl_tensor *b);
/* Bayesian personalized ranking: mean of -log sigmoid(pos - neg), same
 * shapes. */
TL_API tl_tensor *tl_nn_bpr(tl_nn_graph *g, tl_tensor *pos, tl_tensor *neg);

/* ---- layers ---------------------------------------------------------------------
 * Each layer is a small struct of borrowed parameter pointers: _init adds its
 * parameters to ps under "<prefix>.<name>" (PyTorch's state_dict names) and
 * initializes them from rng; _forward builds the ops. */

/* y = x W + b; W (in, out) named "<prefix>.weight", b (out) "<prefix>.bias".
 * Weight: Xavier uniform; bias: zero. x (..., in). Note: PyTorch stores
 * weight as (out, in): transpose when exchanging weights with it. */
struct tl_nn_linear {
    int64_t in, out;
    tl_tensor *weight;  /* (in, out) */
    tl_tensor *bias;    /* (out), or NULL */
};
TL_API int tl_nn_linear_init(struct tl_nn_linear *l, tl_nn_params *ps, const char *prefix,
                             int64_t in, int64_t out, bool bias, tl_rng *rng, tl_err *err);
TL_API tl_tensor *tl_nn_linear_forward(tl_nn_graph *g, const struct tl_nn_linear *l,
                                       tl_tensor *x);

/* A (V, d) table named "<prefix>.weight", N(0, 1) as PyTorch's nn.Embedding. */
struct tl_nn_embedding_layer {
    int64_t n_vocab, dim;
    tl_tensor *weight;  /* (n_vocab, dim) */
};
TL_API int tl_nn_embedding_init(struct tl_nn_embedding_layer *e, tl_nn_params *ps,
                                const char *prefix, int64_t n_vocab, int64_t dim, tl_rng *rng,
                                tl_err *err);
/* idx[n] -> (n, dim). */
TL_API tl_tensor *tl_nn_embedding_forward(tl_nn_graph *g, const struct tl_nn_embedding_layer *e,
                                          const int32_t *idx, int64_t n);

/* Linear layers with an activation between them (none after the last) and
 * dropout after each activation; layers named "<prefix>.<i>" (i counting
 * linears). sizes[0] is the input width, sizes[n_sizes-1] the output.
 * Hidden weights use He uniform for relu/gelu, Xavier for tanh/sigmoid. */
#define TL_NN_MLP_MAX_LAYERS 16
enum tl_nn_act { TL_NN_ACT_RELU = 0, TL_NN_ACT_GELU = 1, TL_NN_ACT_TANH = 2, TL_NN_ACT_SIGMOID = 3 };
struct tl_nn_mlp {
    int n_layers;
    enum tl_nn_act act;
    float dropout;
    struct tl_nn_linear layers[TL_NN_MLP_MAX_LAYERS];
};
TL_API int tl_nn_mlp_init(struct tl_nn_mlp *m, tl_nn_params *ps, const char *prefix,
                          const int64_t *sizes, int n_sizes, enum tl_nn_act act, float dropout,
                          tl_rng *rng, tl_err *err);
TL_API tl_tensor *tl_nn_mlp_forward(tl_nn_graph *g, const struct tl_nn_mlp *m, tl_tensor *x);

/* ==== sequence and graph layers (lib/nn/rnn.c, conv.c, graphconv.c) ============
 * Batch-first sequences: x is (B, T, F) and lengths[B] (each in [0, T]; NULL:
 * every sequence has all T steps) says how many leading steps of each row are
 * real. Steps at or past a row's length are padding: they never touch a
 * state, their outputs are 0, and no gradient reaches their inputs, so a
 * padded batch computes exactly what each sequence computes alone. lengths
 * is copied; it need not be sorted (sorted by decreasing length, the
 * recurrent GEMMs skip finished rows). */

/* GRU and LSTM, one or more layers, uni- or bidirectional, with PyTorch's
 * equations, gate order and parameter names (nn.GRU / nn.LSTM with
 * batch_first=True), so state_dicts exchange without reordering:
 *   "<prefix>.weight_ih_l<k>[_reverse]"  (G H, F_k)   F_0 = input_size,
 *                                                      F_k = D H above
 *   "<prefix>.weight_hh_l<k>[_reverse]"  (G H, H)
 *   "<prefix>.bias_ih_l<k>[_reverse]"    (G H)
 *   "<prefix>.bias_hh_l<k>[_reverse]"    (G H)
 * G = 3 for the GRU (rows r, z, n), 4 for the LSTM (rows i, f, g, o); D = 2
 * when bidirectional. GRU: r = s(W_ir x + b_ir + W_hr h + b_hr), z likewise,
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h.
 * LSTM: c' = f c + i g, h' = o tanh(c'). Every parameter starts
 * U(-1/sqrt(H), 1/sqrt(H)), drawn in the order above, layer by layer,
 * forward direction first. Each direction's recurrence is one fused op with
 * a hand-written backward (BPTT); the input projections are one GEMM each. */
#define TL_NN_RNN_MAX_LAYERS 8
enum tl_nn_rnn_kind { TL_NN_RNN_GRU = 0, TL_NN_RNN_LSTM = 1 };
struct tl_nn_rnn_cell {
    tl_tensor *w_ih;  /* (G H, F_k) */
    tl_tensor *w_hh;  /* (G H, H) */
    tl_tensor *b_ih;  /* (G H), or NULL without bias */
    tl_tensor *b_hh;  /* (G H), or NULL without bias */
};
struct tl_nn_rnn {
    enum tl_nn_rnn_kind kind;
    int64_t input_size, hidden_size;
    int n_layers;
    bool bidirectional;
    float dropout;  /* on each layer's output but the last, in training mode */
    struct tl_nn_rnn_cell cell[TL_NN_RNN_MAX_LAYERS][2];  /* [layer][0 forward, 1 reverse] */
};
/* Adds the parameters to ps and initializes them from rng. n_layers in
 * [1, TL_NN_RNN_MAX_LAYERS], dropout in [0, 1); on error r is untouched
 * (parameters added before the failure stay in ps). */
TL_API int tl_nn_rnn_init(struct tl_nn_rnn *r, tl_nn_params *ps, const char *prefix,
                          enum tl_nn_rnn_kind kind, int64_t input_size, int64_t hidden_size,
                          int n_layers, bool bidirectional, float dropout, bool bias, tl_rng *rng,
                          tl_err *err);
/* x (B, T, input_size) -> the last layer's outputs (B, T, D H), forward
 * direction in the first H columns; 0 at padded steps. The reverse
 * direction starts at each row's own last real step. h0 and c0 (L D, B, H)
 * are the initial states (NULL: zeros; c0 only for the LSTM), indexed
 * layer * D + direction as in PyTorch. When h_n (and, for the LSTM, c_n) is
 * not NULL it receives the final states (L D, B, H): each row's state after
 * its own last real step (h0 for a row of length 0). NULL on error (the
 * graph's sticky error names the input). */
TL_API tl_tensor *tl_nn_rnn_forward(tl_nn_graph *g, const struct tl_nn_rnn *r, tl_tensor *x,
                                    const int32_t *lengths, tl_tensor *h0, tl_tensor *c0,
                                    tl_tensor **h_n, tl_tensor **c_n);

/* Conv1D over time, stride 1: y[b, t, o] = bias[o] + sum_c sum_j
 * weight[o, c, j] x[b, t + j - padding, c] (a cross-correlation, as
 * nn.Conv1d), where x outside [0, length_b) reads as 0: (B, T, C_in) ->
 * (B, T + 2 padding - kernel + 1, C_out). Output steps at or past
 * length_b + 2 padding - kernel + 1 are 0. weight (out, in, kernel) and bias
 * (out) are named "<prefix>.weight" / "<prefix>.bias" and start as PyTorch's:
 * U(-1/sqrt(in kernel), 1/sqrt(in kernel)). */
struct tl_nn_conv1d {
    int64_t in_channels, out_channels, kernel, padding;
    tl_tensor *weight;  /* (out_channels, in_channels, kernel) */
    tl_tensor *bias;    /* (out_channels), or NULL */
};
TL_API int tl_nn_conv1d_init(struct tl_nn_conv1d *c, tl_nn_params *ps, const char *prefix,
                             int64_t in_channels, int64_t out_channels, int64_t kernel,
                             int64_t padding, bool bias, tl_rng *rng, tl_err *err);
/* out_lengths[B] (may be NULL) receives each row's number of real output
 * steps, max(0, length + 2 padding - kernel + 1), ready for the pooling. */
TL_API tl_tensor *tl_nn_conv1d_forward(tl_nn_graph *g, const struct tl_nn_conv1d *c, tl_tensor *x,
                                       const int32_t *lengths, int32_t *out_lengths);
/* Global pooling over time of x (B, T, C) -> (B, C), over each row's first
 * lengths[b] steps (NULL: all T). A row of length 0 gives 0. Max sends the
 * gradient to the step that won (the first on ties). */
TL_API tl_tensor *tl_nn_max_pool_time(tl_nn_graph *g, tl_tensor *x, const int32_t *lengths);
TL_API tl_tensor *tl_nn_mean_pool_time(tl_nn_graph *g, tl_tensor *x, const int32_t *lengths);

/* A normalized adjacency matrix in CSR, owning its arrays; csr points at
 * them (pass &adj->csr to tl_nn_spmm and the layers below). */
struct tl_nn_adj {
    struct tl_nn_csr csr;
    int64_t *row_ptr;  /* (n + 1) */
    int32_t *col;      /* (nnz) */
    float *val;        /* (nnz) */
};
/* D^-1/2 (A [+ I]) D^-1/2 for the undirected graph on n_nodes nodes whose
 * edges are (src[e], dst[e]), e < n_edges: each edge counts in both
 * directions, duplicates count once, D is the degree of A [+ I]. With
 * self_loops (GCN, Kipf and Welling) every node also links to itself;
 * without (LightGCN) an isolated node's row is empty. Columns sorted within
 * each row. A node id outside [0, n_nodes) is TL_EINVAL naming the edge; on
 * error *out is untouched. Free with tl_nn_adj_free. */
TL_API int tl_nn_adj_normalized(int64_t n_nodes, const int32_t *src, const int32_t *dst,
                                int64_t n_edges, bool self_loops, struct tl_nn_adj *out,
                                tl_err *err);
TL_API void tl_nn_adj_free(struct tl_nn_adj *adj);

/* GCN layer: H' = act(A H W + b), A normalized (tl_nn_adj_normalized with
 * self loops). W (in, out) "<prefix>.weight", Xavier uniform; b (out)
 * "<prefix>.bias", zero (PyTorch Geometric's GCNConv). activate false:
 * no activation (the last layer, giving logits). */
struct tl_nn_gcn {
    int64_t in, out;
    bool activate;
    enum tl_nn_act act;
    tl_tensor *weight;  /* (in, out) */
    tl_tensor *bias;    /* (out), or NULL */
};
TL_API int tl_nn_gcn_init(struct tl_nn_gcn *l, tl_nn_params *ps, const char *prefix, int64_t in,
                          int64_t out, bool bias, bool activate, enum tl_nn_act act, tl_rng *rng,
                          tl_err *err);
/* h (n_nodes, in) -> (n_nodes, out). adj's arrays are borrowed until the
 * graph's reset. */
TL_API tl_tensor *tl_nn_gcn_forward(tl_nn_graph *g, const struct tl_nn_gcn *l,
                                    const struct tl_nn_csr *adj, tl_tensor *h);
/* LightGCN propagation: (E + A E + A^2 E + ... + A^K E) / (K + 1) for
 * e0 (n_nodes, d), A normalized without self loops over users and items
 * as one graph (items numbered after users). k_layers >= 0. */
TL_API tl_tensor *tl_nn_lightgcn_propagate(tl_nn_graph *g, const struct tl_nn_csr *adj,
                                           tl_tensor *e0, int k_layers);

TL_END_DECLS

#endif
