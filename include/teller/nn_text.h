/*
 * nn_text.h - short-text classification (banking intents) on the nn engine:
 * a tokenizer, a vocabulary, hashed character n-grams, and three models
 * trained from scratch:
 *
 *   BIGRU     word embedding, bidirectional GRU masked by lengths, max and
 *             mean pooling over time, dense softmax (the product papers'
 *             architecture for banking text);
 *   FASTTEXT  the average of embeddings of the words, word bigrams and the
 *             words' character 3- to 5-grams (bigrams and n-grams hashed into
 *             buckets, as fastText does), then a linear softmax;
 *   ENSEMBLE  both, their class probabilities averaged with a weight chosen
 *             on the validation rows.
 *
 * Training is Adam on cross-entropy (optional label smoothing) with early
 * stopping on validation accuracy; the weights of the best epoch are kept.
 * Runs are deterministic for a seed and a thread count.
 *
 *     tl_textclf_config cfg;
 *     tl_textclf_defaults(&cfg);
 *     cfg.kind = TL_TEXTCLF_ENSEMBLE;
 *     tl_textclf *m;  tl_textclf_report rep;
 *     tl_textclf_train(&cfg, texts, labels, n, names, n_names, is_valid, &m, &rep, &err);
 *     tl_textclf_save(m, "intents.safetensors", &err);
 *     tl_textclf_predict(m, texts, n, pred, NULL, &err);
 *     tl_textclf_free(m);
 *
 * The model file is one safetensors file: the weights as F32 tensors (names
 * "gru.*", "ft.*") and, in the metadata under "teller.textclf", a JSON
 * object with the format version, kind, hyperparameters, labels and
 * vocabulary (docs/nn-text.md).
 */
#ifndef TELLER_NN_TEXT_H
#define TELLER_NN_TEXT_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- tokens ---------------------------------------------------------------
 * Lowercases ASCII letters; a token is a run of letters, digits, bytes of
 * multi-byte UTF-8 characters and apostrophes between letters ("hasn't"
 * stays one word), or a single punctuation character; whitespace and
 * control characters separate. Tokens are views into one lowercased copy,
 * reused across calls, so tokenizing allocates only while a text is longer
 * than any before it. */
typedef struct tl_text_tokens {
    size_t n;          /* tokens */
    const char **tok;  /* (n) each NUL-terminated, valid until the next call or free */
    const uint32_t *len;
    /* --- private --- */
    char *buf;
    size_t buf_cap;
    const char **tok_store;
    uint32_t *len_store;
    size_t tok_cap;
} tl_text_tokens;

/* Zero-initialize t before the first call. TL_ENOMEM leaves t valid (and
 * empty). */
TL_API int tl_text_tokenize(const char *s, size_t len, tl_text_tokens *t, tl_err *err);
TL_API void tl_text_tokens_free(tl_text_tokens *t);

/* 32-bit FNV-1a of s[0..len): the hash fastText uses for n-grams. */
TL_API uint32_t tl_text_hash(const char *s, size_t len);
/* The bucket in [0, n_buckets) of each character n-gram (n_min <= n <=
 * n_max, counted in bytes of the word wrapped as "<word>") of word; writes
 * at most cap buckets into out and returns how many n-grams there are. */
TL_API size_t tl_text_char_ngrams(const char *word, size_t len, int n_min, int n_max,
                                  uint32_t n_buckets, uint32_t *out, size_t cap);

/* ---- vocabulary -------------------------------------------------------------
 * Words seen at least min_count times in training get ids from 2, by
 * decreasing count then bytewise order (deterministic); 0 is padding and 1
 * the unknown word. */
#define TL_TEXT_PAD 0
#define TL_TEXT_UNK 1
typedef struct tl_text_vocab tl_text_vocab;
/* Builds from texts[0..n) (rows with use[i] 0 are skipped; use NULL: all). */
TL_API int tl_text_vocab_build(const char *const *texts, size_t n, const uint8_t *use,
                               int min_count, tl_text_vocab **out, tl_err *err);
/* From words[0..n) in id order starting at 2 (a saved vocabulary). A
 * duplicate word is TL_EINVAL naming it. */
TL_API int tl_text_vocab_from(const char *const *words, size_t n, tl_text_vocab **out,
                              tl_err *err);
TL_API void tl_text_vocab_free(tl_text_vocab *v);
/* Ids including padding and unknown. */
TL_API size_t tl_text_vocab_size(const tl_text_vocab *v);
/* The id of a word, TL_TEXT_UNK when absent. */
TL_API int32_t tl_text_vocab_id(const tl_text_vocab *v, const char *word, size_t len);
/* The word of id (>= 2), NULL otherwise. */
TL_API const char *tl_text_vocab_word(const tl_text_vocab *v, int32_t id);

/* ---- splits and metrics --------------------------------------------------------
 * Stratified hold-out over any number of classes: for class 0, 1, ... in
 * turn, that class's rows in ascending order are shuffled with one tl_rng
 * seeded once with seed (tl_rng_shuffle), and the first round(frac * n_c)
 * of them (at least 1 when n_c >= 2, never all) become validation rows.
 * labels in [0, n_classes), else TL_EINVAL naming the row. */
TL_API int tl_text_stratified_split(const int32_t *labels, size_t n, int n_classes, double frac,
                                    uint64_t seed, uint8_t *is_valid, tl_err *err);
/* Accuracy and macro-F1 (unweighted mean over the classes that occur in
 * truth or prediction; sklearn's f1_score(average="macro") on those labels)
 * of pred against truth, over rows with use[i] != 0 (use NULL: all). */
TL_API void tl_text_scores(const int32_t *truth, const int32_t *pred, const uint8_t *use, size_t n,
                           int n_classes, double *accuracy, double *macro_f1);

/* ---- the classifier ------------------------------------------------------------ */
enum tl_textclf_kind { TL_TEXTCLF_BIGRU = 0, TL_TEXTCLF_FASTTEXT = 1, TL_TEXTCLF_ENSEMBLE = 2 };
/* "bigru", "fasttext", "ensemble"; parse returns -1 for an unknown name. */
TL_API const char *tl_textclf_kind_name(int kind);
TL_API int tl_textclf_kind_parse(const char *name);

typedef struct tl_textclf_config {
    int kind;               /* enum tl_textclf_kind */
    int epochs;             /* most epochs per model */
    int patience;           /* epochs without a better validation accuracy before stopping */
    uint64_t seed;
    int threads;            /* OpenBLAS threads (>= 1) */
    int min_count;          /* vocabulary */
    float label_smoothing;  /* in [0, 1) */
    /* BiGRU */
    int gru_emb, gru_hidden, gru_batch;
    float gru_lr, gru_dropout;
    int max_len;            /* tokens kept per text (the first ones) */
    /* fastText */
    int ft_dim, ft_batch;
    uint32_t ft_buckets;    /* hashed bigrams and character n-grams */
    float ft_lr;
    /* Called after each epoch (may be NULL): model "bigru" or "fasttext". */
    void (*on_epoch)(void *arg, const char *model, int epoch, double train_loss,
                     double valid_accuracy);
    void *on_epoch_arg;
} tl_textclf_config;

TL_API void tl_textclf_defaults(tl_textclf_config *cfg);

/* Validation figures of a training run (NaN where a model was not trained
 * or there were no validation rows). */
typedef struct tl_textclf_report {
    double bigru_accuracy, bigru_macro_f1;
    int bigru_epochs, bigru_best_epoch;     /* epochs run; best (1-based) */
    double fasttext_accuracy, fasttext_macro_f1;
    int fasttext_epochs, fasttext_best_epoch;
    double ensemble_accuracy, ensemble_macro_f1;
    double ensemble_weight;                 /* on the BiGRU's probabilities */
    double seconds;                         /* wall time of training */
    size_t n_train, n_valid, vocab_size;
} tl_textclf_report;

typedef struct tl_textclf tl_textclf;

/* Trains on the rows with is_valid[i] 0 and stops early on those with 1
 * (is_valid NULL or no validation rows: all epochs are run and the last
 * weights kept). labels[i] in [0, n_labels); label_names[0..n_labels) are
 * copied into the model. rep may be NULL. *out is untouched on error. */
TL_API int tl_textclf_train(const tl_textclf_config *cfg, const char *const *texts,
                            const int32_t *labels, size_t n, const char *const *label_names,
                            size_t n_labels, const uint8_t *is_valid, tl_textclf **out,
                            tl_textclf_report *rep, tl_err *err);
/* pred[n] gets each text's label index; probs (n * n_labels, or NULL) its
 * class probabilities. */
TL_API int tl_textclf_predict(const tl_textclf *m, const char *const *texts, size_t n,
                              int32_t *pred, float *probs, tl_err *err);
TL_API size_t tl_textclf_n_labels(const tl_textclf *m);
TL_API const char *tl_textclf_label(const tl_textclf *m, size_t i);
TL_API int tl_textclf_kind(const tl_textclf *m);
/* The OpenBLAS thread count used by predict (default 1). */
TL_API void tl_textclf_set_threads(tl_textclf *m, int threads);

/* Writes the model (atomically, through path.tmp). */
TL_API int tl_textclf_save(const tl_textclf *m, const char *path, tl_err *err);
/* Reads a model written by save. A file that is not safetensors, lacks the
 * metadata, or whose tensors disagree with it is TL_EPARSE naming the file
 * and the problem; a missing file TL_EIO. */
TL_API int tl_textclf_load(const char *path, tl_textclf **out, tl_err *err);
TL_API void tl_textclf_free(tl_textclf *m);

TL_END_DECLS

#endif
