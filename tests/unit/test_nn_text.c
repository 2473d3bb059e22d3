/*
 * test_nn_text.c - the text classifier (nn_text.h): tokenizer, n-gram
 * hashing, vocabulary, split and scores; a small synthetic intent set
 * learned by each model; save/load giving identical predictions; corrupt
 * model files refused.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/nn_text.h>

#include "testutil.h"

Test(nn_text, tokenizer_lowercases_and_splits_punctuation)
{
    tl_text_tokens t = {0};
    tl_err err = {0};
    const char *s = "Why hasn't my Card arrived?? 2 weeks!";
    cr_assert_eq(tl_text_tokenize(s, strlen(s), &t, &err), 0);
    const char *want[] = {"why", "hasn't", "my", "card", "arrived", "?", "?", "2", "weeks", "!"};
    cr_assert_eq(t.n, 10);
    for (size_t i = 0; i < t.n; i++) {
        cr_assert_str_eq(t.tok[i], want[i]);
        cr_assert_eq(t.len[i], strlen(want[i]));
    }
    /* A longer text reuses and grows the buffers; an empty one has none. */
    cr_assert_eq(tl_text_tokenize("'quoted' x", 10, &t, &err), 0);
    cr_assert_eq(t.n, 4);
    cr_assert_str_eq(t.tok[0], "'");
    cr_assert_str_eq(t.tok[1], "quoted");
    cr_assert_eq(tl_text_tokenize("  \t ", 4, &t, &err), 0);
    cr_assert_eq(t.n, 0);
    tl_text_tokens_free(&t);
}

Test(nn_text, hashing_matches_fnv1a_and_counts_ngrams)
{
    /* FNV-1a 32 reference values. */
    cr_assert_eq(tl_text_hash("", 0), 2166136261u);
    cr_assert_eq(tl_text_hash("a", 1), 0xe40c292cu);
    uint32_t b[64];
    /* "<card>": 6 bytes: 4 trigrams, 3 four-grams, 2 five-grams. */
    size_t n = tl_text_char_ngrams("card", 4, 3, 5, 1000, b, 64);
    cr_assert_eq(n, 9);
    for (size_t i = 0; i < n; i++)
        cr_assert_lt(b[i], 1000);
    /* The first n-gram is "<ca". */
    cr_assert_eq(b[0], tl_text_hash("<ca", 3) % 1000);
    /* cap bounds the writes but not the count. */
    cr_assert_eq(tl_text_char_ngrams("card", 4, 3, 5, 1000, b, 2), 9);
    cr_assert_eq(tl_text_char_ngrams("a", 1, 3, 5, 1000, b, 64), 1); /* "<a>" */
}

Test(nn_text, vocabulary_min_count_order_and_unknown)
{
    const char *texts[] = {"card card card", "pin pin card", "top up", "secret"};
    const uint8_t use[] = {1, 1, 1, 0};
    tl_text_vocab *v;
    tl_err err = {0};
    cr_assert_eq(tl_text_vocab_build(texts, 4, use, 2, &v, &err), 0);
    cr_assert_eq(tl_text_vocab_size(v), 4); /* pad, unk, card, pin */
    cr_assert_eq(tl_text_vocab_id(v, "card", 4), 2);
    cr_assert_eq(tl_text_vocab_id(v, "pin", 3), 3);
    cr_assert_eq(tl_text_vocab_id(v, "top", 3), TL_TEXT_UNK);
    cr_assert_eq(tl_text_vocab_id(v, "secret", 6), TL_TEXT_UNK);
    cr_assert_str_eq(tl_text_vocab_word(v, 3), "pin");
    cr_assert_null(tl_text_vocab_word(v, 1));
    tl_text_vocab_free(v);
    const char *dup[] = {"a", "b", "a"};
    cr_assert_eq(tl_text_vocab_from(dup, 3, &v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"a\""), "%s", err.msg);
}

Test(nn_text, split_is_stratified_and_scores_are_right)
{
    int32_t y[100];
    uint8_t v[100];
    tl_err err = {0};
    for (int i = 0; i < 100; i++)
        y[i] = i < 60 ? 0 : (i < 90 ? 1 : 2);
    cr_assert_eq(tl_text_stratified_split(y, 100, 3, 0.1, 7, v, &err), 0);
    int per[3] = {0};
    for (int i = 0; i < 100; i++)
        per[y[i]] += v[i];
    cr_assert_eq(per[0], 6);
    cr_assert_eq(per[1], 3);
    cr_assert_eq(per[2], 1);
    y[5] = 3;
    cr_assert_eq(tl_text_stratified_split(y, 100, 3, 0.1, 7, v, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "row 5"), "%s", err.msg);

    const int32_t t[] = {0, 0, 1, 1}, p[] = {0, 1, 1, 1};
    double acc, f1;
    tl_text_scores(t, p, NULL, 4, 2, &acc, &f1);
    cr_assert_float_eq(acc, 0.75, 1e-12);
    /* class 0: P 1, R .5 -> 2/3; class 1: P 2/3, R 1 -> .8 */
    cr_assert_float_eq(f1, (2.0 / 3 + 0.8) / 2, 1e-12);
}

/* A synthetic intent set: each of 4 intents has its own keywords among
 * shared filler, so a model must find the keyword to be right. */
#define N_ROWS 400
static const char *KEYS[4][3] = {{"card", "arrive", "delivery"},
                                 {"pin", "blocked", "unlock"},
                                 {"refund", "merchant", "return"},
                                 {"exchange", "rate", "currency"}};
static const char *LABELS[4] = {"card_arrival", "pin_blocked", "refund", "exchange_rate"};
static const char *FILL[] = {"my", "the", "please", "help", "why", "is", "what", "i", "need", "can"};

static void make_data(char **texts, int32_t *y, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < N_ROWS; i++) {
        char buf[256] = "";
        size_t len = 0;
        y[i] = i % 4;
        for (int w = 0; w < 6; w++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            const char *word = (w == 2 || w == 4) ? KEYS[y[i]][(s >> 33) % 3] : FILL[(s >> 33) % 10];
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", w ? " " : "", word);
        }
        snprintf(buf + len, sizeof buf - len, "?");
        texts[i] = strdup(buf);
    }
}

static tl_textclf *train_kind(int kind, char **texts, int32_t *y, uint8_t *valid,
                              tl_textclf_report *rep)
{
    tl_textclf_config cfg;
    tl_textclf_defaults(&cfg);
    cfg.kind = kind;
    cfg.epochs = 8;
    cfg.gru_emb = 16;
    cfg.gru_hidden = 16;
    cfg.ft_dim = 16;
    cfg.ft_buckets = 4096;
    cfg.gru_lr = 1e-2f;
    cfg.ft_lr = 2e-2f;
    cfg.seed = 3;
    tl_textclf *m = NULL;
    tl_err err = {0};
    int rc = tl_textclf_train(&cfg, (const char *const *)texts, y, N_ROWS, LABELS, 4, valid, &m, rep,
                              &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return m;
}

Test(nn_text, each_model_learns_and_round_trips, .timeout = 300)
{
    char *texts[N_ROWS];
    int32_t y[N_ROWS], pred[N_ROWS], pred2[N_ROWS];
    uint8_t valid[N_ROWS];
    tl_err err = {0};
    make_data(texts, y, 11);
    cr_assert_eq(tl_text_stratified_split(y, N_ROWS, 4, 0.1, 5, valid, &err), 0);
    char *dir = tu_tmpdir();
    for (int kind = 0; kind <= TL_TEXTCLF_ENSEMBLE; kind++) {
        tl_textclf_report rep;
        tl_textclf *m = train_kind(kind, texts, y, valid, &rep);
        double acc = kind == TL_TEXTCLF_BIGRU    ? rep.bigru_accuracy
                     : kind == TL_TEXTCLF_FASTTEXT ? rep.fasttext_accuracy
                                                   : rep.ensemble_accuracy;
        cr_assert_geq(acc, 0.95, "%s: validation accuracy %.3f", tl_textclf_kind_name(kind), acc);
        cr_assert_eq(rep.n_valid, 40);
        float *p1 = malloc(N_ROWS * 4 * sizeof *p1), *p2 = malloc(N_ROWS * 4 * sizeof *p2);
        cr_assert_eq(tl_textclf_predict(m, (const char *const *)texts, N_ROWS, pred, p1, &err), 0,
                     "%s", err.msg);
        double tacc, f1;
        tl_text_scores(y, pred, NULL, N_ROWS, 4, &tacc, &f1);
        cr_assert_geq(tacc, 0.95, "%s: accuracy %.3f on all rows", tl_textclf_kind_name(kind), tacc);

        char path[512];
        snprintf(path, sizeof path, "%s/m%d.safetensors", dir, kind);
        cr_assert_eq(tl_textclf_save(m, path, &err), 0, "%s", err.msg);
        tl_textclf *m2 = NULL;
        cr_assert_eq(tl_textclf_load(path, &m2, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_textclf_kind(m2), kind);
        cr_assert_eq(tl_textclf_n_labels(m2), 4);
        cr_assert_str_eq(tl_textclf_label(m2, 2), "refund");
        cr_assert_eq(tl_textclf_predict(m2, (const char *const *)texts, N_ROWS, pred2, p2, &err), 0);
        cr_assert_eq(memcmp(pred, pred2, sizeof pred), 0);
        cr_assert_eq(memcmp(p1, p2, N_ROWS * 4 * sizeof *p1), 0);
        /* Unseen words and an empty text still get a label. */
        const char *odd[] = {"zzz qqq", "", "UNLOCK my PIN"};
        int32_t po[3];
        cr_assert_eq(tl_textclf_predict(m2, odd, 3, po, NULL, &err), 0);
        cr_assert_eq(po[2], 1);
        free(p1);
        free(p2);
        tl_textclf_free(m);
        tl_textclf_free(m2);
    }
    for (int i = 0; i < N_ROWS; i++)
        free(texts[i]);
    free(dir);
}

Test(nn_text, same_seed_same_model)
{
    char *texts[N_ROWS];
    int32_t y[N_ROWS];
    uint8_t valid[N_ROWS];
    tl_err err = {0};
    make_data(texts, y, 12);
    tl_text_stratified_split(y, N_ROWS, 4, 0.1, 5, valid, &err);
    tl_textclf_report a, b;
    tl_textclf *m1 = train_kind(TL_TEXTCLF_FASTTEXT, texts, y, valid, &a);
    tl_textclf *m2 = train_kind(TL_TEXTCLF_FASTTEXT, texts, y, valid, &b);
    float p1[4 * 8], p2[4 * 8];
    int32_t q[8];
    cr_assert_eq(tl_textclf_predict(m1, (const char *const *)texts, 8, q, p1, &err), 0);
    cr_assert_eq(tl_textclf_predict(m2, (const char *const *)texts, 8, q, p2, &err), 0);
    cr_assert_eq(memcmp(p1, p2, sizeof p1), 0);
    tl_textclf_free(m1);
    tl_textclf_free(m2);
    for (int i = 0; i < N_ROWS; i++)
        free(texts[i]);
}

Test(nn_text, corrupt_or_foreign_model_files_are_refused)
{
    char *dir = tu_tmpdir();
    tl_err err = {0};
    tl_textclf *m = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    cr_assert_eq(tl_textclf_load(path, &m, &err), TL_EIO);
    char *junk = tu_write_file(dir, "junk.safetensors", "this is not a model");
    cr_assert_lt(tl_textclf_load(junk, &m, &err), 0);
    cr_assert(strstr(err.msg, "junk.safetensors"), "%s", err.msg);

    /* A real model, then truncated, then with its metadata tampered. */
    char *texts[N_ROWS];
    int32_t y[N_ROWS];
    make_data(texts, y, 13);
    tl_textclf_config cfg;
    tl_textclf_defaults(&cfg);
    cfg.kind = TL_TEXTCLF_FASTTEXT;
    cfg.epochs = 1;
    cfg.ft_dim = 8;
    cfg.ft_buckets = 256;
    cr_assert_eq(tl_textclf_train(&cfg, (const char *const *)texts, y, N_ROWS, LABELS, 4, NULL, &m,
                                  NULL, &err), 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/good.safetensors", dir);
    cr_assert_eq(tl_textclf_save(m, path, &err), 0);
    tl_textclf_free(m);
    m = NULL;
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)sz);
    cr_assert_eq(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/short.safetensors", dir);
    fp = fopen(bad, "wb");
    fwrite(buf, 1, (size_t)sz - 100, fp);
    fclose(fp);
    cr_assert_lt(tl_textclf_load(bad, &m, &err), 0);
    cr_assert_null(m);
    /* "ft_dim":8 -> "ft_dim":9: the tensors no longer match the metadata. */
    char *hit = memmem(buf, (size_t)sz, "\\\"ft_dim\\\":8", 12);
    cr_assert_not_null(hit);
    hit[11] = '9';
    snprintf(bad, sizeof bad, "%s/tampered.safetensors", dir);
    fp = fopen(bad, "wb");
    fwrite(buf, 1, (size_t)sz, fp);
    fclose(fp);
    cr_assert_eq(tl_textclf_load(bad, &m, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "tampered.safetensors"), "%s", err.msg);
    cr_assert_null(m);
    free(buf);
    free(junk);
    free(dir);
    for (int i = 0; i < N_ROWS; i++)
        free(texts[i]);
}
