/* rec_eval.c - offline evaluation of a recommender: full ranking of every
 * item a test user does not already hold in train, top-k by a partial
 * selection, accuracy (Recall, NDCG, MAP at k) and beyond-accuracy figures
 * (catalogue coverage, intra-list diversity, novelty); and the protocol that
 * tunes each model on a validation split carved out of train. */
#include "ml/rec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <teller/datetime.h>
#include <teller/pool.h>

struct eval_job {
    const tl_rec_model *m;
    const struct tl_rec_csr *train, *test;
    const uint64_t *cats;
    int k;
    const int32_t *users; /* (n_eval) */
    int64_t n_eval;
    size_t n_chunks;
    double *recall, *ndcg, *ap, *ild, *nov; /* (n_eval) */
    int32_t *top;                            /* (n_eval, k), -1 past a short list */
    int rc;
    tl_err err;
};

static double cat_cos(uint64_t a, uint64_t b)
{
    int na = __builtin_popcountll(a), nb = __builtin_popcountll(b);
    if (!na || !nb)
        return 0.0;
    return __builtin_popcountll(a & b) / sqrt((double)na * (double)nb);
}

static void eval_chunk(size_t c, void *arg)
{
    struct eval_job *j = arg;
    int64_t lo = j->n_eval * (int64_t)c / (int64_t)j->n_chunks;
    int64_t hi = j->n_eval * (int64_t)(c + 1) / (int64_t)j->n_chunks;
    int32_t n = tl_rec_model_n_items(j->m);
    float *scores = malloc((size_t)n * sizeof *scores + 1);
    tl_err err = {0};
    if (!scores) {
        j->rc = TL_ENOMEM;
        return;
    }
    int k = j->k;
    double n_users = (double)j->train->n_rows;
    for (int64_t t = lo; t < hi; t++) {
        int32_t u = j->users[t];
        const int32_t *hist = j->train->idx + j->train->ptr[u];
        int64_t n_hist = j->train->ptr[u + 1] - j->train->ptr[u];
        int rc = tl_rec_score(j->m, u < tl_rec_model_n_users(j->m) ? u : -1, hist, n_hist, scores,
                              &err);
        if (rc < 0) {
            j->rc = rc;
            j->err = err;
            break;
        }
        int32_t *top = j->top + t * k;
        int got = tl_rec_topk(scores, n, hist, n_hist, k, top, NULL);
        for (int r = got; r < k; r++)
            top[r] = -1;
        const int32_t *tt = j->test->idx + j->test->ptr[u];
        int64_t n_test = j->test->ptr[u + 1] - j->test->ptr[u];
        double hits = 0, dcg = 0, idcg = 0, ap = 0, nov = 0;
        for (int r = 0; r < got; r++) {
            int32_t it = top[r];
            /* the test row is sorted: binary search */
            int64_t a = 0, b = n_test;
            while (a < b) {
                int64_t mid = (a + b) / 2;
                if (tt[mid] < it)
                    a = mid + 1;
                else
                    b = mid;
            }
            if (a < n_test && tt[a] == it) {
                hits += 1;
                dcg += 1.0 / log2(r + 2.0);
                ap += hits / (r + 1.0);
            }
            nov += -log2((j->m->pop[it] + 1.0) / (n_users + 1.0));
        }
        int64_t ideal = n_test < k ? n_test : k;
        for (int64_t r = 0; r < ideal; r++)
            idcg += 1.0 / log2((double)r + 2.0);
        j->recall[t] = hits / (double)n_test;
        j->ndcg[t] = dcg / idcg;
        j->ap[t] = ap / (double)ideal;
        j->nov[t] = got ? nov / got : 0;
        if (j->cats) {
            double d = 0;
            int pairs = 0;
            for (int a = 0; a < got; a++)
                for (int b = a + 1; b < got; b++) {
                    d += 1.0 - cat_cos(j->cats[top[a]], j->cats[top[b]]);
                    pairs++;
                }
            j->ild[t] = pairs ? d / pairs : 0;
        }
    }
    free(scores);
}

int tl_rec_evaluate(const tl_rec_model *m, const struct tl_rec_csr *train,
                    const struct tl_rec_csr *test, int k, const uint64_t *item_cats, int threads,
                    struct tl_rec_metrics *out, tl_err *err)
{
    if (k < 1 || k > 1000)
        return tl_err_set(err, TL_EINVAL, "recommend eval: k %d not in [1, 1000]", k);
    if (train->n_rows != test->n_rows || train->n_cols != test->n_cols ||
        train->n_cols != tl_rec_model_n_items(m))
        return tl_err_set(err, TL_EINVAL, "recommend eval: train %d x %d, test %d x %d and a "
                          "model of %d items disagree", train->n_rows, train->n_cols, test->n_rows,
                          test->n_cols, tl_rec_model_n_items(m));
    int64_t n_eval = 0;
    for (int32_t u = 0; u < test->n_rows; u++)
        n_eval += test->ptr[u + 1] > test->ptr[u];
    memset(out, 0, sizeof *out);
    out->ild = NAN;
    if (n_eval == 0)
        return tl_err_set(err, TL_EINVAL, "recommend eval: no user has a test interaction");
    struct eval_job j = {.m = m, .train = train, .test = test, .cats = item_cats, .k = k,
                         .n_eval = n_eval};
    int32_t *users = malloc((size_t)n_eval * sizeof *users);
    double *buf = calloc((size_t)n_eval * 5, sizeof *buf);
    j.top = malloc((size_t)n_eval * (size_t)k * sizeof *j.top);
    bool *seen = calloc((size_t)train->n_cols + 1, sizeof *seen);
    tl_pool *pool = threads > 1 ? tl_pool_new(threads) : NULL;
    int rc = 0;
    if (!users || !buf || !j.top || !seen || (threads > 1 && !pool)) {
        rc = tl_err_set(err, TL_ENOMEM, "recommend eval: out of memory for %lld users",
                        (long long)n_eval);
        goto done;
    }
    n_eval = 0;
    for (int32_t u = 0; u < test->n_rows; u++)
        if (test->ptr[u + 1] > test->ptr[u])
            users[n_eval++] = u;
    j.users = users;
    j.recall = buf;
    j.ndcg = buf + n_eval;
    j.ap = buf + 2 * n_eval;
    j.ild = buf + 3 * n_eval;
    j.nov = buf + 4 * n_eval;
    j.n_chunks = pool ? (size_t)(8 * tl_pool_size(pool)) : 1;
    if ((int64_t)j.n_chunks > n_eval)
        j.n_chunks = (size_t)n_eval;
    tl_pool_parallel_for(pool, j.n_chunks, eval_chunk, &j);
    if (j.rc < 0) {
        rc = j.rc == TL_ENOMEM ? tl_err_set(err, TL_ENOMEM, "recommend eval: out of memory")
                               : (*err = j.err, j.rc);
        goto done;
    }
    /* sums in user order, so the figures do not depend on the thread count */
    double s[5] = {0};
    for (int64_t t = 0; t < n_eval; t++)
        for (int q = 0; q < 5; q++)
            s[q] += buf[q * n_eval + t];
    int32_t distinct = 0;
    for (int64_t t = 0; t < n_eval * k; t++)
        if (j.top[t] >= 0 && !seen[j.top[t]]) {
            seen[j.top[t]] = true;
            distinct++;
        }
    out->recall = s[0] / (double)n_eval;
    out->ndcg = s[1] / (double)n_eval;
    out->map = s[2] / (double)n_eval;
    out->ild = item_cats ? s[3] / (double)n_eval : NAN;
    out->novelty = s[4] / (double)n_eval;
    out->n_users = n_eval;
    out->n_distinct = distinct;
    out->coverage = (double)distinct / (double)train->n_cols;
done:
    tl_pool_free(pool);
    free(users);
    free(buf);
    free(j.top);
    free(seen);
    return rc;
}

/* ---- the protocol --------------------------------------------------------------------- */

/* The validation grids (docs/recommend-models.md): small, so that tuning
 * every model on MovieLens-100K takes seconds. */
static int grid(int kind, const struct tl_rec_params *base, struct tl_rec_params *out, int max)
{
    int n = 0;
#define PUSH(...)                                                                                  \
    do {                                                                                           \
        if (n < max) {                                                                             \
            out[n] = *base;                                                                        \
            struct tl_rec_params *q = &out[n++];                                                   \
            __VA_ARGS__;                                                                           \
        }                                                                                          \
    } while (0)
    switch (kind) {
    case TL_REC_ITEMKNN: {
        static const int ks[] = {20, 50, 100, 200, 0};
        for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
            PUSH(q->knn_k = ks[a]);
        break;
    }
    case TL_REC_ALS: {
        static const int fs[] = {32, 64, 128};
        static const double regs[] = {10, 30, 100}, alphas[] = {2, 5, 10};
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 3; c++)
                    PUSH(q->factors = fs[a]; q->reg = regs[b]; q->alpha = alphas[c]);
        break;
    }
    case TL_REC_BPR: {
        static const double lrs[] = {0.01, 0.02}, regs[] = {0.003, 0.01, 0.03};
        static const int eps[] = {100, 200};
        for (size_t a = 0; a < 2; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 2; c++)
                    PUSH(q->lr = lrs[a]; q->reg = regs[b]; q->epochs = eps[c]);
        break;
    }
    case TL_REC_EASE: {
        static const double ls[] = {50, 100, 200, 400, 800, 1600};
        for (size_t a = 0; a < sizeof ls / sizeof *ls; a++)
            PUSH(q->ease_lambda = ls[a]);
        break;
    }
    case TL_REC_LIGHTGCN: {
        static const double regs[] = {1e-3, 3e-3, 1e-2};
        for (size_t b = 0; b < 3; b++)
            PUSH(q->reg = regs[b]);
        break;
    }
    default:
        PUSH((void)q);
        break;
    }
#undef PUSH
    return n;
}

int tl_rec_eval(const tl_rec_data *d, const struct tl_rec_eval_opts *o,
                struct tl_rec_eval_result *results, size_t *n_results,
                struct tl_rec_eval_summary *summary, tl_err *err)
{
    *n_results = 0;
    struct tl_rec_csr train = {0}, test = {0}, vtrain = {0}, vtest = {0};
    int rc = tl_rec_split(d, o->split, o->test_frac, o->seed, &train, &test, err);
    if (rc < 0)
        return rc;
    bool tune = o->tune;
    if (tune) {
        /* A temporal split's train has no times left in the CSR: its
         * validation split is carved per user (docs/recommend-models.md). */
        enum tl_rec_split_kind vk = o->split == TL_REC_SPLIT_LEAVE_ONE_OUT
                                        ? TL_REC_SPLIT_LEAVE_ONE_OUT
                                        : TL_REC_SPLIT_PER_USER;
        rc = tl_rec_split_csr(&train, vk, o->test_frac, o->seed + 1, &vtrain, &vtest, err);
        if (rc < 0)
            goto done;
    }
    if (summary) {
        memset(summary, 0, sizeof *summary);
        summary->n_train = tl_rec_csr_nnz(&train);
        summary->n_test = tl_rec_csr_nnz(&test);
        summary->n_valid_fit = tune ? tl_rec_csr_nnz(&vtrain) : 0;
        summary->n_valid_held = tune ? tl_rec_csr_nnz(&vtest) : 0;
        for (int32_t u = 0; u < test.n_rows; u++)
            summary->n_test_users += test.ptr[u + 1] > test.ptr[u];
    }
    for (int kind = 0; kind < TL_REC_KIND_COUNT; kind++) {
        if (!(o->models & (1u << kind)))
            continue;
        struct tl_rec_params base;
        if (o->params)
            base = o->params[kind];
        else
            tl_rec_params_defaults(kind, &base);
        if (!o->params) {
            base.threads = o->threads > 0 ? o->threads : 1;
            base.seed = o->seed;
        }
        struct tl_rec_params chosen = base;
        double best = NAN;
        if (tune) {
            struct tl_rec_params cand[64];
            int n = grid(kind, &base, cand, 64);
            for (int c = 0; c < n && n > 1; c++) {
                tl_rec_model *m;
                int64_t t0 = tl_time_mono_ns();
                if ((rc = tl_rec_fit(kind, &cand[c], &vtrain, &m, err)) < 0)
                    goto done;
                double fit_s = (double)(tl_time_mono_ns() - t0) / 1e9;
                struct tl_rec_metrics vm;
                rc = tl_rec_evaluate(m, &vtrain, &vtest, o->k, d->item_cats, base.threads, &vm, err);
                tl_rec_model_free(m);
                if (rc < 0)
                    goto done;
                if (o->on_trial)
                    o->on_trial(o->arg, kind, &cand[c], true, &vm, fit_s);
                if (isnan(best) || vm.ndcg > best) {
                    best = vm.ndcg;
                    chosen = cand[c];
                }
            }
        }
        tl_rec_model *m;
        int64_t t0 = tl_time_mono_ns();
        if ((rc = tl_rec_fit(kind, &chosen, &train, &m, err)) < 0)
            goto done;
        double fit_s = (double)(tl_time_mono_ns() - t0) / 1e9;
        struct tl_rec_eval_result *r = &results[(*n_results)++];
        r->kind = kind;
        r->params = chosen;
        r->valid_ndcg = best;
        r->fit_s = fit_s;
        rc = tl_rec_evaluate(m, &train, &test, o->k, d->item_cats, base.threads, &r->test, err);
        tl_rec_model_free(m);
        if (rc < 0)
            goto done;
        if (o->on_trial)
            o->on_trial(o->arg, kind, &chosen, false, &r->test, fit_s);
    }
done:
    tl_rec_csr_free(&train);
    tl_rec_csr_free(&test);
    tl_rec_csr_free(&vtrain);
    tl_rec_csr_free(&vtest);
    return rc;
}
