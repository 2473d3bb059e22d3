/*
 * internal.h - what the files of lib/nn share: the graph, the tape node, and
 * the helpers every op uses to make outputs, record backward steps and walk
 * strided tensors.
 */
#ifndef TELLER_NN_INTERNAL_H
#define TELLER_NN_INTERNAL_H

#include <teller/arena.h>
#include <teller/nn.h>

/* A backward step: reads out->grad (and whatever the op saved in the node)
 * and adds into the grads of the inputs that require grad. It may take
 * scratch from the graph's arena; it fails only when that is full. */
typedef int (*tl__nn_backward_fn)(tl_nn_graph *g, tl_tensor *out);

struct tl__nn_node {
    tl__nn_backward_fn backward;
    const char *op;         /* for messages */
    tl_tensor *src[3];
    tl_tensor **srcs;       /* concat: n_srcs inputs */
    int n_srcs;
    int64_t iarg[4];
    float farg[4];
    void *aux;              /* saved values (masks, indices, statistics), arena */
    void *aux2;
};

struct tl_nn_graph {
    tl_arena *arena;
    size_t block_bytes;     /* the arena's block size: grown to a batch's peak */
    size_t max_bytes;       /* the arena's cap (0: none) */
    tl_tensor *tape;        /* newest first, through tape_prev */
    tl_rng rng;             /* dropout */
    bool training;
    bool grad_enabled;
    bool backward_done;
    tl_err err;             /* first failure since the last reset */
};

/* Records the first failure (later ones are dropped) and returns NULL. */
tl_tensor *tl__nn_fail(tl_nn_graph *g, int code, const char *fmt, ...) TL_PRINTF(3, 4);

/* "(2, 3)" into buf. */
const char *tl__nn_shape_str(const tl_tensor *t, char *buf, size_t n);

/* A fresh contiguous graph tensor (data uninitialized, or zeroed), pushed on
 * the tape. NULL and the graph's error when the arena is full. */
tl_tensor *tl__nn_new(tl_nn_graph *g, int ndim, const int64_t *shape, bool zero, const char *op);

/* Attaches a node to out when gradients are on and any of the inputs needs
 * one; returns the node (out->requires_grad set) or NULL when none is
 * needed. *failed is set when the arena is full (the error is recorded). */
struct tl__nn_node *tl__nn_record(tl_nn_graph *g, tl_tensor *out, tl__nn_backward_fn fn,
                                  const char *op, tl_tensor *a, tl_tensor *b, tl_tensor *c,
                                  bool *failed);

/* Scratch from the graph's arena (NULL when full; the error is recorded). */
void *tl__nn_scratch(tl_nn_graph *g, size_t n_bytes, bool zero);

/* t's shape and strides right-aligned into 4 dims (leading 1s, stride 0). */
void tl__nn_pad4(const tl_tensor *t, int64_t shape[4], int64_t stride[4]);

/* dst (+)= src elementwise over shape4, both strided. */
void tl__nn_copy4(float *dst, const int64_t dst_st[4], const float *src, const int64_t src_st[4],
                  const int64_t shape[4], bool accumulate);

/* Normalizes a possibly negative axis; -1 when out of range. */
int tl__nn_axis(const tl_tensor *t, int axis);

#endif
