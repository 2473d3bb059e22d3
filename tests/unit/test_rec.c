/*
 * test_rec.c - the recommenders (recsys.h): metrics on hand-made cases, the
 * top-k selection, NumPy's default_rng and the anchor's per-user split
 * reproduced, models beating popularity on a planted structure, determinism,
 * model files, and bad interaction files.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/nn.h>
#include <teller/nn_optim.h>
#include <teller/recsys.h>

#include "testutil.h"

static struct tl_rec_csr mat(int32_t nr, int32_t nc, const int32_t *r, const int32_t *c, int64_t n)
{
    struct tl_rec_csr m;
    tl_err err = {0};
    cr_assert_eq(tl_rec_csr_from_pairs(nr, nc, r, c, n, &m, &err), 0, "%s", err.msg);
    return m;
}

/* ---- NumPy's generator ----------------------------------------------------------
 * Expected values printed by /usr/bin/python3 with NumPy:
 *   g = numpy.random.default_rng(seed)
 *   hex(numpy.random.default_rng(seed).bit_generator.random_raw())
 *   [list(g.permutation(n)) for n in (10, 3, 1, 7)]   # one generator, in turn */
Test(rec_numpy, default_rng_matches_numpy)
{
    static const struct {
        uint64_t seed, raw;
        int32_t p10[10], p3[3], p7[7];
    } cases[] = {
        {0, 0xa30febcfd9c2825fULL, {4, 6, 2, 7, 3, 5, 9, 0, 8, 1}, {0, 2, 1}, {2, 1, 3, 6, 0, 4, 5}},
        {20261123, 0x0b4a3547eb81ce33ULL, {9, 1, 5, 6, 8, 4, 2, 0, 7, 3}, {2, 0, 1},
         {2, 6, 3, 1, 5, 0, 4}},
        {1099511627783ULL, 0xd46e9e2034de21aaULL, {6, 2, 8, 7, 9, 3, 4, 1, 5, 0}, {1, 0, 2},
         {0, 6, 5, 4, 2, 3, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tl_rec_numpy_rng r;
        tl_rec_numpy_rng_seed(&r, cases[c].seed);
        cr_assert_eq(tl_rec_numpy_rng_next64(&r), cases[c].raw, "seed %llu",
                     (unsigned long long)cases[c].seed);
        tl_rec_numpy_rng_seed(&r, cases[c].seed);
        int32_t p[10];
        tl_rec_numpy_rng_permutation(&r, p, 10);
        cr_assert_arr_eq(p, cases[c].p10, sizeof cases[c].p10);
        tl_rec_numpy_rng_permutation(&r, p, 3);
        cr_assert_arr_eq(p, cases[c].p3, sizeof cases[c].p3);
        tl_rec_numpy_rng_permutation(&r, p, 1);
        cr_assert_eq(p[0], 0);
        tl_rec_numpy_rng_permutation(&r, p, 7);
        cr_assert_arr_eq(p, cases[c].p7, sizeof cases[c].p7);
    }
}

Test(rec_split, per_user_split_is_the_anchors)
{
    /* users 0..3 with items {0..9}, {2,5,7}, {4}, {1,3,5,6,8}; the anchor's
     * split_per_user(..., numpy.random.default_rng(7)) (recsys_anchor.py)
     * puts (0,8), (0,0), (1,5), (3,6) in test: round(0.2 n) items, at least
     * one when n >= 2, none for the single-item user. */
    int32_t u[19], it[19], n = 0;
    static const int32_t rows[4][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, 5, 7}, {4}, {1, 3, 5, 6, 8}};
    static const int lens[4] = {10, 3, 1, 5};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < lens[a]; b++) {
            u[n] = a;
            it[n++] = rows[a][b];
        }
    struct tl_rec_csr all = mat(4, 10, u, it, n), tr, te;
    tl_err err = {0};
    cr_assert_eq(tl_rec_split_csr(&all, TL_REC_SPLIT_PER_USER, 0.2, 7, &tr, &te, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(tl_rec_csr_nnz(&te), 4);
    static const int64_t want_ptr[5] = {0, 2, 3, 3, 4};
    static const int32_t want_idx[4] = {0, 8, 5, 6};
    cr_assert_arr_eq(te.ptr, want_ptr, sizeof want_ptr);
    cr_assert_arr_eq(te.idx, want_idx, sizeof want_idx);
    cr_assert_eq(tl_rec_csr_nnz(&tr), 15);
    /* leave-one-out: the first of the same permutations */
    struct tl_rec_csr tr2, te2;
    cr_assert_eq(tl_rec_split_csr(&all, TL_REC_SPLIT_LEAVE_ONE_OUT, 0, 7, &tr2, &te2, &err), 0);
    static const int64_t loo_ptr[5] = {0, 1, 2, 2, 3};
    cr_assert_arr_eq(te2.ptr, loo_ptr, sizeof loo_ptr);
    cr_assert_eq(te2.idx[0], 8);
    cr_assert_eq(te2.idx[1], 5);
    cr_assert_eq(te2.idx[2], 6);
    tl_rec_csr_free(&tr2);
    tl_rec_csr_free(&te2);
    tl_rec_csr_free(&all);
    tl_rec_csr_free(&tr);
    tl_rec_csr_free(&te);
}

/* ---- metrics --------------------------------------------------------------------- */

Test(rec_eval, metrics_on_a_hand_made_case)
{
    /* popularity from train: item 0 (4 users), 1 (3), 2 (2), 3 (1), 4 and 5 (0).
     * k = 3, lists exclude each user's train items:
     *   u0 train {0}: 1 2 3, test {2,5}: hit at 2 -> recall 1/2, DCG 1/log2 3,
     *      IDCG 1 + 1/log2 3, AP (1/2) / 2
     *   u1 train {0,1}: 2 3 4, test {2,4}: hits at 1, 3 -> recall 1, DCG 1 + 1/2,
     *      AP (1 + 2/3) / 2
     *   u2 train {0,1,2}, no test: not evaluated
     *   u3 train {0,1,2,3}: 4 5 (only two left), test {5}: hit at 2 -> recall 1,
     *      DCG 1/log2 3, IDCG 1, AP 1/2 */
    const int32_t tu[] = {0, 1, 1, 2, 2, 2, 3, 3, 3, 3}, ti[] = {0, 0, 1, 0, 1, 2, 0, 1, 2, 3};
    const int32_t eu[] = {0, 0, 1, 1, 3}, ei[] = {2, 5, 2, 4, 5};
    struct tl_rec_csr tr = mat(4, 6, tu, ti, 10), te = mat(4, 6, eu, ei, 5);
    struct tl_rec_params p;
    tl_rec_params_defaults(TL_REC_POP, &p);
    tl_rec_model *m;
    tl_err err = {0};
    cr_assert_eq(tl_rec_fit(TL_REC_POP, &p, &tr, &m, &err), 0, "%s", err.msg);
    /* categories: 1 = A, 2 = A, 3 = B, 4 = A|B, 5 none */
    const uint64_t cats[6] = {1, 1, 1, 2, 3, 0};
    struct tl_rec_metrics r;
    cr_assert_eq(tl_rec_evaluate(m, &tr, &te, 3, cats, 1, &r, &err), 0, "%s", err.msg);
    double l3 = 1 / log2(3.0);
    cr_assert_eq(r.n_users, 3);
    cr_assert_float_eq(r.recall, (0.5 + 1 + 1) / 3, 1e-12);
    cr_assert_float_eq(r.ndcg, (l3 / (1 + l3) + 1.5 / (1 + l3) + l3) / 3, 1e-12);
    cr_assert_float_eq(r.map, (0.25 + 5.0 / 6 + 0.5) / 3, 1e-12);
    cr_assert_eq(r.n_distinct, 5);
    cr_assert_float_eq(r.coverage, 5.0 / 6, 1e-12);
    /* novelty: -log2((c + 1) / 5) averaged per list, then over users */
    double nv[6];
    const double c[6] = {4, 3, 2, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        nv[i] = -log2((c[i] + 1) / 5);
    double want_nov = ((nv[1] + nv[2] + nv[3]) / 3 + (nv[2] + nv[3] + nv[4]) / 3 + (nv[4] + nv[5]) / 2) / 3;
    cr_assert_float_eq(r.novelty, want_nov, 1e-9);
    /* diversity: 1 - cosine of the category sets, mean over pairs:
     *   u0 {1 A, 2 A, 3 B}: (0 + 1 + 1) / 3; u1 {2 A, 3 B, 4 AB}:
     *   (1 + (1 - 1/sqrt 2) + (1 - 1/sqrt 2)) / 3; u3 {4, 5 none}: 1 */
    double s2 = 1 / sqrt(2.0);
    cr_assert_float_eq(r.ild, (2.0 / 3 + (3 - 2 * s2) / 3 + 1) / 3, 1e-9);
    /* without categories: NaN */
    cr_assert_eq(tl_rec_evaluate(m, &tr, &te, 3, NULL, 2, &r, &err), 0);
    cr_assert(isnan(r.ild));
    cr_assert_float_eq(r.ndcg, (l3 / (1 + l3) + 1.5 / (1 + l3) + l3) / 3, 1e-12);
    tl_rec_model_free(m);
    tl_rec_csr_free(&tr);
    tl_rec_csr_free(&te);
}

Test(rec_eval, topk_selects_orders_and_excludes)
{
    const float s[] = {0.5f, 0.9f, 0.1f, 0.9f, NAN, 0.7f, 0.3f, 0.95f};
    int32_t items[8];
    float sc[8];
    const int32_t ex[] = {7};
    /* 7 excluded; ties at 0.9 go to the lower index; NaN last */
    int n = tl_rec_topk(s, 8, ex, 1, 4, items, sc);
    cr_assert_eq(n, 4);
    const int32_t want[] = {1, 3, 5, 0};
    cr_assert_arr_eq(items, want, sizeof want);
    cr_assert_float_eq(sc[2], 0.7f, 1e-7);
    n = tl_rec_topk(s, 8, NULL, 0, 20, items, NULL);
    cr_assert_eq(n, 8);
    const int32_t all[] = {7, 1, 3, 5, 0, 6, 2, 4};
    cr_assert_arr_eq(items, all, sizeof all);
    cr_assert_eq(tl_rec_topk(s, 8, NULL, 0, 0, items, NULL), 0);
}

/* ---- planted structure -------------------------------------------------------------- */

/* 4 taste groups of 30 users; group g takes 7 of its own 10 items (40..)
 * and one random item; items 0..9 are a popular block everyone may take. */
static tl_rec_data *planted(void)
{
    enum { G = 4, PER = 30, NU = G * PER };
    const char *uid[NU * 12], *iid[NU * 12];
    static char ubuf[NU][8], ibuf[64][8];
    int64_t n = 0;
    tl_rng r;
    tl_rng_seed(&r, 99);
    for (int i = 0; i < 64; i++)
        snprintf(ibuf[i], sizeof ibuf[i], "p%02d", i);
    for (int u = 0; u < NU; u++) {
        snprintf(ubuf[u], sizeof ubuf[u], "c%03d", u);
        int g = u / PER;
        size_t pick[10];
        for (int a = 0; a < 10; a++)
            pick[a] = (size_t)a;
        tl_rng_shuffle(&r, pick, 10);
        for (int a = 0; a < 7; a++) {
            uid[n] = ubuf[u];
            iid[n++] = ibuf[10 + 10 * g + (int)pick[a]];
        }
        for (int a = 0; a < 3; a++) {
            uid[n] = ubuf[u];
            iid[n++] = ibuf[tl_rng_below(&r, 10)]; /* the popular block */
        }
        uid[n] = ubuf[u];
        iid[n++] = ibuf[50 + tl_rng_below(&r, 14)];
    }
    tl_rec_data *d;
    tl_err err = {0};
    cr_assert_eq(tl_rec_data_from_ids(uid, iid, NULL, n, &d, &err), 0, "%s", err.msg);
    return d;
}

static struct tl_rec_params quick_params(int kind)
{
    struct tl_rec_params p;
    tl_rec_params_defaults(kind, &p);
    p.seed = 5;
    p.factors = 16;
    if (kind == TL_REC_ALS)
        p.reg = 1;
    if (kind == TL_REC_BPR) {
        p.epochs = 100;
        p.lr = 0.05;
    }
    if (kind == TL_REC_LIGHTGCN) {
        p.epochs = 40;
        p.batch = 256;
        p.lr = 0.01;
    }
    if (kind == TL_REC_EASE)
        p.ease_lambda = 10;
    if (kind == TL_REC_ITEMKNN)
        p.knn_k = 20;
    return p;
}

Test(rec_models, every_model_beats_popularity_on_planted_tastes, .timeout = 60)
{
    tl_rec_data *d = planted();
    cr_assert_eq(d->n_users, 120);
    cr_assert_eq(d->n_items, 64);
    struct tl_rec_csr tr, te;
    tl_err err = {0};
    cr_assert_eq(tl_rec_split(d, TL_REC_SPLIT_PER_USER, 0.3, 11, &tr, &te, &err), 0, "%s", err.msg);
    double ndcg[TL_REC_KIND_COUNT];
    for (int k = 0; k < TL_REC_KIND_COUNT; k++) {
        struct tl_rec_params p = quick_params(k);
        tl_rec_model *m;
        cr_assert_eq(tl_rec_fit(k, &p, &tr, &m, &err), 0, "%s: %s", tl_rec_kind_name(k), err.msg);
        struct tl_rec_metrics r;
        cr_assert_eq(tl_rec_evaluate(m, &tr, &te, 5, NULL, 1, &r, &err), 0, "%s", err.msg);
        ndcg[k] = r.ndcg;
        tl_rec_model_free(m);
    }
    for (int k = 1; k < TL_REC_KIND_COUNT; k++)
        cr_expect(ndcg[k] > ndcg[TL_REC_POP] + 0.15, "%s NDCG@5 %.3f vs popularity %.3f",
                  tl_rec_kind_name(k), ndcg[k], ndcg[TL_REC_POP]);
    tl_rec_csr_free(&tr);
    tl_rec_csr_free(&te);
    tl_rec_data_free(d);
}

static void fit_twice_same(int kind, int threads_a, int threads_b)
{
    tl_rec_data *d = planted();
    struct tl_rec_csr all;
    tl_err err = {0};
    cr_assert_eq(tl_rec_data_matrix(d, &all, &err), 0);
    struct tl_rec_params p = quick_params(kind);
    tl_rec_model *a, *b;
    p.threads = threads_a;
    cr_assert_eq(tl_rec_fit(kind, &p, &all, &a, &err), 0, "%s", err.msg);
    p.threads = threads_b;
    cr_assert_eq(tl_rec_fit(kind, &p, &all, &b, &err), 0, "%s", err.msg);
    float sa[64], sb[64];
    const int32_t hist[] = {3, 12, 15};
    for (int32_t u = 0; u < d->n_users; u += 7) {
        cr_assert_eq(tl_rec_score(a, u, hist, 3, sa, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_rec_score(b, u, hist, 3, sb, &err), 0);
        cr_assert_arr_eq(sa, sb, sizeof sa, "%s user %d", tl_rec_kind_name(kind), u);
    }
    tl_rec_model_free(a);
    tl_rec_model_free(b);
    tl_rec_csr_free(&all);
    tl_rec_data_free(d);
}

Test(rec_models, the_same_seed_gives_the_same_model, .timeout = 60)
{
    fit_twice_same(TL_REC_BPR, 1, 1);
    fit_twice_same(TL_REC_LIGHTGCN, 1, 1);
    fit_twice_same(TL_REC_LIGHTGCN, 1, 2); /* row-parallel products: the same bits */
    fit_twice_same(TL_REC_ALS, 1, 2); /* per-row solves: threads do not change the bits */
}

Test(rec_models, save_and_load_give_the_same_scores, .timeout = 60)
{
    tl_rec_data *d = planted();
    struct tl_rec_csr all;
    tl_err err = {0};
    cr_assert_eq(tl_rec_data_matrix(d, &all, &err), 0);
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    const int32_t hist[] = {1, 20, 22};
    for (int k = 0; k < TL_REC_KIND_COUNT; k++) {
        struct tl_rec_params p = quick_params(k);
        if (k == TL_REC_LIGHTGCN)
            p.epochs = 2;
        tl_rec_model *m, *l;
        cr_assert_eq(tl_rec_fit(k, &p, &all, &m, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_rec_model_save(m, path, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_rec_model_load(path, &l, &err), 0, "%s: %s", tl_rec_kind_name(k), err.msg);
        cr_assert_eq(tl_rec_model_kind(l), k);
        float a[64], b[64];
        for (int32_t u = 0; u < 120; u += 13) {
            cr_assert_eq(tl_rec_score(m, u, hist, 3, a, &err), 0);
            cr_assert_eq(tl_rec_score(l, u, hist, 3, b, &err), 0);
            cr_assert_arr_eq(a, b, sizeof a, "%s", tl_rec_kind_name(k));
        }
        /* a new user: ALS folds the history in, the others fall back sensibly */
        cr_assert_eq(tl_rec_score(l, -1, hist, 3, b, &err), 0, "%s", err.msg);
        cr_assert_eq(tl_rec_score(l, 120, hist, 3, b, &err), TL_EINVAL);
        tl_rec_model_free(m);
        tl_rec_model_free(l);
    }
    /* not a recommender: a safetensors file without the metadata */
    FILE *fp = fopen(path, "r+b");
    cr_assert(fp);
    char head[256];
    cr_assert(fread(head, 1, sizeof head, fp) > 16);
    char *k = memmem(head, sizeof head, "recommend", 9);
    cr_assert(k, "the metadata names the kind");
    fseek(fp, k - head, SEEK_SET);
    fwrite("recommenX", 1, 9, fp);
    fclose(fp);
    tl_rec_model *l;
    cr_assert_eq(tl_rec_model_load(path, &l, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "not a recommender"), "%s", err.msg);
    remove(path);
    free(dir);
    tl_rec_csr_free(&all);
    tl_rec_data_free(d);
}

/* ---- files ----------------------------------------------------------------------------- */

Test(rec_data, reads_headers_numbers_and_wide_files)
{
    char *dir = tu_tmpdir();
    /* u.data style: tab, no header, numeric ids ordered by value */
    char *p = tu_write_file(dir, "u.data", "10\t3\t5\t100\n2\t3\t1\t90\n2\t7\t4\t95\n");
    tl_rec_data *d;
    tl_err err = {0};
    struct tl_rec_load_opts o = {.user_col = "1", .item_col = "2", .rating_col = "3",
                                 .rating_min = 4, .time_col = "4", .header = -1};
    cr_assert_eq(tl_rec_data_load(p, &o, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d->n_users, 2);
    cr_assert_str_eq(d->user_ids[0], "2"); /* 2 before 10: numeric order */
    cr_assert_eq(d->n_items, 2);            /* item 3 rated 1 by user 2 stays in the catalogue */
    cr_assert_eq(d->n, 2);
    cr_assert_eq(d->ts[0], 100);
    tl_rec_data_free(d);
    /* CSV with a header and quotes */
    free(p);
    p = tu_write_file(dir, "x.csv", "customer,product,when\n\"a, b\",loan,2024-01-02\nc,card,2024-01-01\n");
    struct tl_rec_load_opts h = {.user_col = "customer", .item_col = "product", .time_col = "when",
                                 .header = -1};
    cr_assert_eq(tl_rec_data_load(p, &h, &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(d->user_ids[0], "a, b");
    cr_assert_str_eq(d->item_ids[0], "card");
    cr_assert(d->ts[0] > d->ts[1]);
    tl_rec_data_free(d);
    /* wide 0/1 product columns */
    free(p);
    p = tu_write_file(dir, "w.csv", "id,ind_a_ult1,age,ind_b_ult1\n1,1,30,0\n2,1,40,1\n3,,50,1\n");
    struct tl_rec_load_opts w = {.user_col = "id", .item_cols = "ind_*_ult1", .header = -1};
    cr_assert_eq(tl_rec_data_load(p, &w, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d->n_items, 2);
    cr_assert_eq(d->n, 4);
    tl_rec_data_free(d);
    free(p);
    free(dir);
}

Test(rec_data, bad_files_name_the_place)
{
    char *dir = tu_tmpdir();
    tl_rec_data *d;
    tl_err err = {0};
    struct tl_rec_load_opts o = {.user_col = "user", .item_col = "item", .rating_col = "rating",
                                 .rating_min = 4, .header = -1};
    char *p = tu_write_file(dir, "a.csv", "user,product,rating\n1,2,5\n");
    cr_assert_eq(tl_rec_data_load(p, &o, &d, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "a.csv:1") && strstr(err.msg, "\"item\"") &&
                  strstr(err.msg, "product"), "%s", err.msg);
    free(p);
    p = tu_write_file(dir, "b.csv", "user,item,rating\n1,2,5\n1,3,five\n");
    cr_assert_eq(tl_rec_data_load(p, &o, &d, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "b.csv:3") && strstr(err.msg, "five") && strstr(err.msg, "rating"),
              "%s", err.msg);
    free(p);
    p = tu_write_file(dir, "c.csv", "");
    cr_assert_eq(tl_rec_data_load(p, &o, &d, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "c.csv") && strstr(err.msg, "empty"), "%s", err.msg);
    free(p);
    p = tu_write_file(dir, "d.csv", "user,item,rating\n1,2\n");
    cr_assert_eq(tl_rec_data_load(p, &o, &d, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "d.csv:2"), "%s", err.msg);
    free(p);
    p = tu_write_file(dir, "e.csv", "user,item,rating\n1,2,1\n");
    cr_assert_eq(tl_rec_data_load(p, &o, &d, &err), TL_EINVAL); /* no positive */
    cr_assert(strstr(err.msg, "no positive"), "%s", err.msg);
    cr_assert_eq(tl_rec_data_load("/nonexistent/x.csv", &o, &d, &err), TL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent/x.csv"), "%s", err.msg);
    free(p);
    free(dir);
}

Test(rec_data, temporal_split_holds_out_the_latest)
{
    const char *u[] = {"a", "a", "b", "b", "a"}, *i[] = {"x", "y", "x", "z", "z"};
    const int64_t ts[] = {1, 5, 2, 4, 3};
    tl_rec_data *d;
    tl_err err = {0};
    cr_assert_eq(tl_rec_data_from_ids(u, i, ts, 5, &d, &err), 0);
    struct tl_rec_csr tr, te;
    cr_assert_eq(tl_rec_split(d, TL_REC_SPLIT_TEMPORAL, 0.4, 0, &tr, &te, &err), 0, "%s", err.msg);
    /* the latest 2 of 5: (a, y) at 5 and (b, z) at 4 */
    cr_assert_eq(tl_rec_csr_nnz(&te), 2);
    cr_assert_eq(te.idx[te.ptr[0]], 1); /* a: y */
    cr_assert_eq(te.idx[te.ptr[1]], 2); /* b: z */
    tl_rec_csr_free(&tr);
    tl_rec_csr_free(&te);
    tl_rec_data_free(d);
}

/* ---- LightGCN's hand-written step against the nn engine's tape --------------------
 * The trainer (rec_lightgcn.c) writes the forward and backward out; the
 * oracle here is the same recipe on the engine (propagate, embedding, mul,
 * sum, bpr, the L2 term, Adam) with the same sampling, as the trainer was
 * before. After a few epochs the scores agree to float rounding. */

static bool lg_has(const struct tl_rec_csr *r, int32_t u, int32_t i)
{
    for (int64_t e = r->ptr[u]; e < r->ptr[u + 1]; e++)
        if (r->idx[e] == i)
            return true;
    return false;
}

static float *lightgcn_on_the_tape(const struct tl_rec_csr *tr, const struct tl_rec_params *p)
{
    int64_t nu = tr->n_rows, ni = tr->n_cols, nn = nu + ni, f = p->factors;
    int64_t nnz = tl_rec_csr_nnz(tr);
    tl_err err = {0};
    int32_t *src = malloc((size_t)nnz * sizeof *src), *dst = malloc((size_t)nnz * sizeof *dst);
    int32_t *pu = malloc((size_t)nnz * sizeof *pu);
    size_t *order = malloc((size_t)nnz * sizeof *order);
    int32_t *bu = malloc((size_t)p->batch * sizeof *bu), *bi = malloc((size_t)p->batch * sizeof *bi),
            *bj = malloc((size_t)p->batch * sizeof *bj);
    for (int32_t u = 0; u < tr->n_rows; u++)
        for (int64_t e = tr->ptr[u]; e < tr->ptr[u + 1]; e++) {
            pu[e] = src[e] = u;
            dst[e] = (int32_t)(nu + tr->idx[e]);
        }
    struct tl_nn_adj adj;
    cr_assert_eq(tl_nn_adj_normalized(nn, src, dst, nnz, false, &adj, &err), 0, "%s", err.msg);
    tl_nn_params *ps = tl_nn_params_new();
    tl_tensor *emb;
    cr_assert_eq(tl_nn_params_add(ps, "embedding.weight", 2, (int64_t[]){nn, f}, &emb, &err), 0);
    tl_rng rng;
    tl_rng_seed(&rng, p->seed);
    tl_nn_init_normal(emb, 0.0f, 0.1f, &rng);
    tl_nn_graph *g;
    cr_assert_eq(tl_nn_graph_new(0, p->seed, &g, &err), 0);
    tl_nn_optim_config cfg;
    tl_nn_optim_defaults(TL_NN_OPTIM_ADAM, &cfg);
    cfg.lr = p->lr;
    tl_nn_optim_param op = {emb->data, emb->grad, (size_t)(nn * f), "embedding.weight", true};
    tl_nn_optim *opt;
    cr_assert_eq(tl_nn_optim_new(&cfg, &op, 1, &opt, &err), 0);
    for (int64_t e = 0; e < nnz; e++)
        order[e] = (size_t)e;
    int64_t bmax = p->batch < nnz ? p->batch : nnz;
    for (int ep = 0; ep < p->epochs; ep++) {
        tl_rng_shuffle(&rng, order, (size_t)nnz);
        for (int64_t s0 = 0; s0 < nnz; s0 += bmax) {
            int64_t b = nnz - s0 < bmax ? nnz - s0 : bmax, nb = 0;
            for (int64_t t = 0; t < b; t++) {
                int64_t e = (int64_t)order[s0 + t];
                int32_t u = pu[e], j;
                if (tr->ptr[u + 1] - tr->ptr[u] >= ni)
                    continue;
                do
                    j = (int32_t)tl_rng_below(&rng, (uint64_t)ni);
                while (lg_has(tr, u, j));
                bu[nb] = u;
                bi[nb] = (int32_t)(nu + tr->idx[e]);
                bj[nb++] = (int32_t)(nu + j);
            }
            tl_nn_graph_reset(g);
            tl_tensor *all = tl_nn_lightgcn_propagate(g, &adj.csr, emb, p->layers);
            tl_tensor *eu = tl_nn_embedding(g, all, bu, nb), *ei = tl_nn_embedding(g, all, bi, nb),
                      *ej = tl_nn_embedding(g, all, bj, nb);
            tl_tensor *loss = tl_nn_bpr(g, tl_nn_sum(g, tl_nn_mul(g, eu, ei), 1, false),
                                        tl_nn_sum(g, tl_nn_mul(g, eu, ej), 1, false));
            tl_tensor *e0[3] = {tl_nn_embedding(g, emb, bu, nb), tl_nn_embedding(g, emb, bi, nb),
                                tl_nn_embedding(g, emb, bj, nb)};
            tl_tensor *sq = NULL;
            for (int c = 0; c < 3; c++) {
                tl_tensor *t = tl_nn_sum_all(g, tl_nn_mul(g, e0[c], e0[c]));
                sq = sq ? tl_nn_add(g, sq, t) : t;
            }
            loss = tl_nn_add(g, loss, tl_nn_scale(g, sq, (float)(p->reg / 2.0 / (double)nb), 0));
            cr_assert(loss, "%s", tl_nn_graph_error(g, &err) < 0 ? err.msg : "");
            tl_nn_params_zero_grad(ps);
            cr_assert_eq(tl_nn_backward(g, loss, &err), 0, "%s", err.msg);
            cr_assert_eq(tl_nn_optim_step(opt, &err), 0);
        }
    }
    tl_nn_graph_reset(g);
    tl_nn_graph_set_grad(g, false);
    tl_tensor *fin = tl_nn_lightgcn_propagate(g, &adj.csr, emb, p->layers);
    float *out = malloc((size_t)(nn * f) * sizeof *out);
    tl_nn_tensor_read(fin, out);
    tl_nn_optim_free(opt);
    tl_nn_graph_free(g);
    tl_nn_params_free(ps);
    tl_nn_adj_free(&adj);
    free(src);
    free(dst);
    free(pu);
    free(order);
    free(bu);
    free(bi);
    free(bj);
    return out;
}

Test(rec_models, lightgcn_step_matches_the_engine, .timeout = 60)
{
    tl_rec_data *d = planted();
    struct tl_rec_csr all;
    tl_err err = {0};
    cr_assert_eq(tl_rec_data_matrix(d, &all, &err), 0);
    for (int layers = 0; layers <= 3; layers += 1) {
        struct tl_rec_params p = quick_params(TL_REC_LIGHTGCN);
        p.epochs = 3;
        p.batch = 300;
        p.factors = 37; /* the kernels' 32-wide blocks, a 4-wide one and a single column */
        p.layers = layers;
        p.threads = 2;
        float *ref = lightgcn_on_the_tape(&all, &p);
        tl_rec_model *m;
        cr_assert_eq(tl_rec_fit(TL_REC_LIGHTGCN, &p, &all, &m, &err), 0, "%s", err.msg);
        float sc[64];
        double worst = 0, norm = 0;
        for (int32_t u = 0; u < d->n_users; u++) {
            const int32_t hist[] = {0};
            cr_assert_eq(tl_rec_score(m, u, hist, 1, sc, &err), 0, "%s", err.msg);
            for (int32_t i = 0; i < d->n_items; i++) {
                double want = 0;
                for (int c = 0; c < p.factors; c++)
                    want += (double)ref[u * p.factors + c] *
                            ref[(d->n_users + i) * p.factors + c];
                worst = fmax(worst, fabs(want - sc[i]));
                norm = fmax(norm, fabs(want));
            }
        }
        cr_expect(norm > 0.05, "layers %d: scores of size %g are too small to compare", layers,
                  norm);
        cr_expect(worst <= 1e-4 * norm + 1e-6, "layers %d: scores differ by %g (largest %g)",
                  layers, worst, norm);
        tl_rec_model_free(m);
        free(ref);
    }
    tl_rec_csr_free(&all);
    tl_rec_data_free(d);
}

/* The engine's fused propagation against its unfused definition (spmm, add,
 * scale) on a matrix that is not symmetric, values and gradients. */
Test(rec_models, fused_propagation_is_its_definition)
{
    enum { N = 7, D = 37 };
    static const int64_t rp[N + 1] = {0, 2, 3, 3, 6, 7, 9, 10};
    static const int32_t col[10] = {1, 4, 0, 2, 5, 6, 3, 0, 6, 2};
    static const float val[10] = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f, 1.0f, 0.75f, -2.0f, 0.3f};
    struct tl_nn_csr a = {N, N, rp, col, val};
    float x[N * D], w[N * D];
    for (int q = 0; q < N * D; q++) {
        x[q] = (float)((q * 37) % 11) / 7.0f - 0.6f;
        w[q] = (float)((q * 13) % 5) - 2.0f;
    }
    tl_err err = {0};
    for (int k = 1; k <= 3; k++) {
        float out[2][N * D], grad[2][N * D];
        for (int fused = 0; fused < 2; fused++) {
            tl_nn_params *ps = tl_nn_params_new();
            tl_tensor *e0;
            cr_assert_eq(tl_nn_params_add(ps, "e0", 2, (int64_t[]){N, D}, &e0, &err), 0);
            memcpy(e0->data, x, sizeof x);
            tl_nn_graph *g;
            cr_assert_eq(tl_nn_graph_new(0, 1, &g, &err), 0);
            tl_tensor *o;
            if (fused) {
                o = tl_nn_lightgcn_propagate(g, &a, e0, k);
            } else {
                tl_tensor *e = e0, *sum = e0;
                for (int l = 0; l < k; l++) {
                    e = tl_nn_spmm(g, &a, e);
                    sum = tl_nn_add(g, sum, e);
                }
                o = tl_nn_scale(g, sum, 1.0f / (float)(k + 1), 0.0f);
            }
            cr_assert(o);
            tl_tensor *loss = tl_nn_sum_all(g, tl_nn_mul(g, o, tl_nn_tensor_wrap(g, 2,
                                                                                (int64_t[]){N, D}, w)));
            tl_nn_params_zero_grad(ps);
            cr_assert_eq(tl_nn_backward(g, loss, &err), 0, "%s", err.msg);
            tl_nn_tensor_read(o, out[fused]);
            memcpy(grad[fused], e0->grad, sizeof x);
            tl_nn_graph_free(g);
            tl_nn_params_free(ps);
        }
        for (int q = 0; q < N * D; q++) {
            cr_assert_float_eq(out[1][q], out[0][q], 1e-5, "k %d value %d", k, q);
            cr_assert_float_eq(grad[1][q], grad[0][q], 1e-4, "k %d gradient %d", k, q);
        }
    }
}
