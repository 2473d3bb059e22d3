/*
 * generate_fraud.c - the fraud schedule of the Fraud Detection Handbook's
 * simulator (ch. 3.2), drawn before any transaction exists because it is
 * global state: which in-store terminals and which cards are compromised on
 * which day. Scenario 1 (amount over a threshold) needs no schedule.
 *
 * The daily draws scale with the number of terminals and customers, so the
 * fraud rate stays near 0.7% of card payments at any size.
 */
#include "generate_internal.h"

#include <stdlib.h>

#define S2_SHARE 0.0028       /* expected share of in-store payments on compromised terminals */
#define S3_SHARE 0.0025       /* expected share of card payments taken over by stolen cards */
#define S1_THRESHOLD_EUR 1000 /* tuned so scenario 1 is ~0.2% of card payments */

static int csr(uint32_t n_entities, size_t n, const uint32_t *ent, const uint32_t *day, uint32_t **first_out,
               uint32_t **days_out)
{
    uint32_t *first = calloc((size_t)n_entities + 1, sizeof *first);
    uint32_t *days = malloc((n ? n : 1) * sizeof *days);
    if (!first || !days) {
        free(first);
        free(days);
        return TL_ENOMEM;
    }
    for (size_t k = 0; k < n; k++)
        first[ent[k] + 1]++;
    for (uint32_t e = 0; e < n_entities; e++)
        first[e + 1] += first[e];
    uint32_t *fill = malloc(((size_t)n_entities + 1) * sizeof *fill);
    if (!fill) {
        free(first);
        free(days);
        return TL_ENOMEM;
    }
    memcpy(fill, first, ((size_t)n_entities + 1) * sizeof *fill);
    for (size_t k = 0; k < n; k++) /* draws come in day order: lists stay sorted */
        days[fill[ent[k]]++] = day[k];
    free(fill);
    *first_out = first;
    *days_out = days;
    return 0;
}

int tl__gen_fraud_schedule(struct gen_world *w, tl_err *err)
{
    struct gen_rng r;
    tl__gen_rng_seed(&r, w->seed, GEN_S_FRAUD, 0);
    double lam2 = w->n_pos_terminals ? S2_SHARE * w->n_pos_terminals / GEN_S2_DAYS : 0;
    double lam3 = S3_SHARE * 3.0 * (double)w->n_customers / GEN_S3_DAYS;
    GEN_VEC(uint32_t) te = {0}, td = {0}, ce = {0}, cd = {0};
    for (int32_t d = 0; d < w->n_days; d++) {
        uint32_t k2 = tl__gen_poisson(&r, lam2), k3 = tl__gen_poisson(&r, lam3);
        for (uint32_t k = 0; k < k2; k++) {
            GEN_PUSH(te, oom);
            GEN_PUSH(td, oom);
            te.v[te.n++] = gen_below(&r, w->n_pos_terminals);
            td.v[td.n++] = (uint32_t)d;
        }
        for (uint32_t k = 0; k < k3; k++) {
            GEN_PUSH(ce, oom);
            GEN_PUSH(cd, oom);
            ce.v[ce.n++] = gen_below(&r, (uint32_t)w->n_customers);
            cd.v[cd.n++] = (uint32_t)d;
        }
    }
    int rc = csr(w->n_pos_terminals, te.n, te.v, td.v, &w->term_comp_first, &w->term_comp_day);
    if (rc == 0)
        rc = csr((uint32_t)w->n_customers, ce.n, ce.v, cd.v, &w->card_comp_first, &w->card_comp_day);
    free(te.v);
    free(td.v);
    free(ce.v);
    free(cd.v);
    w->fraud_threshold_minor = (int64_t)S1_THRESHOLD_EUR * 100;
    if (rc < 0)
        return tl_err_set(err, TL_ENOMEM, "out of memory drawing the fraud schedule");
    return 0;
oom:
    free(te.v);
    free(td.v);
    free(ce.v);
    free(cd.v);
    return tl_err_set(err, TL_ENOMEM, "out of memory drawing the fraud schedule");
}

static bool compromised(const uint32_t *first, const uint32_t *days, uint32_t e, int32_t d, int span)
{
    for (uint32_t k = first[e]; k < first[e + 1]; k++) {
        int32_t s = (int32_t)days[k];
        if (s > d)
            break;
        if (d < s + span)
            return true;
    }
    return false;
}

bool tl__gen_terminal_compromised(const struct gen_world *w, uint32_t terminal, int32_t day)
{
    return terminal < w->n_pos_terminals &&
           compromised(w->term_comp_first, w->term_comp_day, terminal, day - w->start_day, GEN_S2_DAYS);
}

bool tl__gen_card_compromised(const struct gen_world *w, uint32_t ci, int32_t day)
{
    return compromised(w->card_comp_first, w->card_comp_day, ci, day - w->start_day, GEN_S3_DAYS);
}
