/*
 * test_fraud_eval.c - the handbook's evaluation protocol (fraud.h): Card
 * Precision@k on hand-made scores, the removal of known compromised cards
 * on a tiny generated history, bad input, and (with the shared data) the
 * handbook's own split and logistic regression on fraud_sim.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <teller/fraud.h>

#include "testutil.h"

#include "bank/fraud_internal.h" /* internal: the test links the static library */

Test(fraud_eval, card_precision_groups_ranks_and_removes_detected_cards)
{
    /* day 0: A .9 fraud, B .8 genuine, C .7 fraud -> top 2 {A, B}: 1/2;
     *        A is detected and leaves the later days.
     * day 1: A .99 fraud (detected: ignored), C .6 fraud, B .5 genuine and
     *        B .1 fraud (one card: max score .5, max label 1), D .4 fraud
     *        -> top 2 {C, B}: 2/2. Mean 0.75. */
    enum { A, B, C, D };
    const double score[] = {0.9, 0.8, 0.7, 0.99, 0.6, 0.5, 0.1, 0.4};
    const uint8_t y[] = {1, 0, 1, 1, 1, 0, 1, 1};
    const int32_t day[] = {0, 0, 0, 1, 1, 1, 1, 1};
    const uint32_t card[] = {A, B, C, A, C, B, B, D};
    double cp;
    tl_err err = {0};
    cr_assert_eq(tl__fraud_card_precision_at_k(score, y, day, card, 8, 4, 2, &cp, &err), 0, "%s",
                 err.msg);
    cr_assert_float_eq(cp, 0.75, 1e-12);
    /* k larger than the cards: still divided by k. day 0: A, C of 5 (both
     * detected); day 1 (A, C gone): B, D both frauds: 2/5. */
    cr_assert_eq(tl__fraud_card_precision_at_k(score, y, day, card, 8, 4, 5, &cp, &err), 0);
    cr_assert_float_eq(cp, (2.0 / 5 + 2.0 / 5) / 2, 1e-12);
    /* k = 1: day 0 A (fraud, detected); day 1 C: 1. */
    cr_assert_eq(tl__fraud_card_precision_at_k(score, y, day, card, 8, 4, 1, &cp, &err), 0);
    cr_assert_float_eq(cp, 1.0, 1e-12);
    cr_assert_lt(tl__fraud_card_precision_at_k(score, y, day, card, 8, 4, 0, &cp, &err), 0);
    const int32_t back[] = {1, 1, 1, 0, 0, 0, 0, 0};
    cr_assert_eq(tl__fraud_card_precision_at_k(score, y, back, card, 8, 4, 2, &cp, &err),
                 TL_EINVAL, "days must be ascending");
}

/* A tiny history, 2020-01-07 .. 2020-01-30, training from 2020-01-10 (day
 * 0 below): genuine cards c0..c29 pay 3 times a day (10..100.99) at
 * terminals t0..t9; each day d a fresh card f<d> makes one fraud of 500.
 * c0 has a fraud on day 3 (training week), c1 on day 7 (first delay day),
 * c2 on day 13 (last delay day). */
static char *write_history(const char *dir)
{
    size_t size = strlen(dir) + 32;
    char *path = malloc(size);
    snprintf(path, size, "%s/tx.csv", dir);
    FILE *fp = fopen(path, "w");
    cr_assert(fp);
    fprintf(fp, "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud,"
                "tx_fraud_scenario\n");
    long id = 0;
    for (int d = -3; d <= 20; d++) {
        int mday = 10 + d; /* January 2020 */
        for (int k = 0; k < 3; k++)
            for (int c = 0; c < 30; c++) {
                int fraud = k == 1 && ((c == 0 && d == 3) || (c == 1 && d == 7) ||
                                       (c == 2 && d == 13));
                long cents = fraud ? 60000 : 1000 + (id * 7919) % 9100;
                fprintf(fp, "%ld,2020-01-%02d %02d:%02d:%02d,c%d,t%d,%ld.%02ld,%d,%d\n", id, mday,
                        8 + 4 * k, c, c, c, (c + k + d + 10) % 10, cents / 100, cents % 100, fraud,
                        fraud ? 3 : 0);
                id++;
            }
        if (d >= 0)
            fprintf(fp, "%ld,2020-01-%02d 21:00:00,f%d,t%d,500.00,1,1\n", id++, mday, d, d % 10);
    }
    fclose(fp);
    return path;
}

Test(fraud_eval, removes_known_compromised_cards_day_by_day)
{
    char *dir = tu_tmpdir();
    char *path = write_history(dir);
    struct tl_fraud_eval_opts o = TL_FRAUD_EVAL_OPTS_DEFAULT;
    o.data_path = path;
    o.train_start = "2020-01-10";
    o.top_k = 5;
    o.nthread = 1;
    json_t *rep = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), 0, "%s", err.msg);
    json_t *tr = json_object_get(rep, "train"), *te = json_object_get(rep, "test");
    /* training days 0..6: 30 cards x 3 x 7 + 7 fresh fraud cards */
    cr_assert_eq(json_integer_value(json_object_get(tr, "rows")), 630 + 7);
    cr_assert_eq(json_integer_value(json_object_get(tr, "frauds")), 8);
    /* early stopping watches days 5 and 6 */
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(rep, "valid"), "rows")),
                 180 + 2);
    /* test days 14..20: c0 (fraud in training) gone on all 7 days (21 rows),
     * c1 (fraud on day 7 = D - 8 for D = 15) gone from day 15 (18 rows),
     * c2 (fraud on day 13, known only from day 21) stays. */
    cr_assert_eq(json_integer_value(json_object_get(te, "removed_rows")), 39);
    cr_assert_eq(json_integer_value(json_object_get(te, "rows")), 630 + 7 - 39);
    cr_assert_eq(json_integer_value(json_object_get(te, "frauds")), 7);
    cr_assert_eq(json_integer_value(json_object_get(te, "cards")), 29 + 7);
    json_t *pr = json_object_get(rep, "protocol");
    cr_assert_str_eq(json_string_value(json_object_get(pr, "test_start")), "2020-01-24");
    cr_assert_str_eq(json_string_value(json_object_get(pr, "test_end")), "2020-01-31");
    json_t *models = json_object_get(rep, "models");
    cr_assert_eq(json_array_size(models), 3);
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        /* a fraud of 500 among purchases of at most 101: every model finds
         * all seven, each the only fraud card of its day among 36 */
        const char *name = json_string_value(json_object_get(m, "name"));
        cr_assert_gt(json_real_value(json_object_get(m, "auc")), 0.99, "%s", name);
        cr_assert_gt(json_real_value(json_object_get(m, "average_precision")), 0.9, "%s", name);
        cr_assert_float_eq(json_real_value(json_object_get(m, "card_precision_at_k")), 1.0 / 5,
                           1e-12, "%s", name);
    }
    json_decref(rep);
    free(path);
    free(dir);
}

Test(fraud_eval, bad_input_names_the_line_and_column)
{
    char *dir = tu_tmpdir();
    struct tl_fraud_eval_opts o = TL_FRAUD_EVAL_OPTS_DEFAULT;
    json_t *rep = NULL;
    tl_err err = {0};

    char *p = tu_write_file(dir, "nocol.csv", "transaction_id,tx_datetime,customer_id,tx_amount,tx_fraud\n");
    o.data_path = p;
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "terminal_id"), "%s", err.msg);
    free(p);

    p = tu_write_file(dir, "baddate.csv",
                      "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud\n"
                      "0,2018-07-25 10:00:00,1,2,10.00,0\n"
                      "1,2018-07-32 10:00:00,1,2,10.00,0\n");
    o.data_path = p;
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "baddate.csv:3") && strstr(err.msg, "tx_datetime"), "%s", err.msg);
    free(p);

    p = tu_write_file(dir, "badamt.csv",
                      "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud\n"
                      "0,2018-07-25 10:00:00,1,2,10.001,0\n");
    o.data_path = p;
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, ":2") && strstr(err.msg, "tx_amount"), "%s", err.msg);
    free(p);

    p = tu_write_file(dir, "badlabel.csv",
                      "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud\n"
                      "0,2018-07-25 10:00:00,1,2,10.00,yes\n");
    o.data_path = p;
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "tx_fraud"), "%s", err.msg);
    free(p);

    /* well-formed but no fraud anywhere: the periods lack a class */
    p = tu_write_file(dir, "nofraud.csv",
                      "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud\n"
                      "0,2018-07-25 10:00:00,1,2,10.00,0\n");
    o.data_path = p;
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "training period"), "%s", err.msg);
    free(p);

    o.data_path = "/nonexistent/tx.csv.gz";
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EIO);
    o.train_start = "2018-13-01";
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EINVAL);
    o.train_start = NULL;
    o.train_days = 1;
    cr_assert_eq(tl_fraud_eval(NULL, &o, &rep, &err), TL_EINVAL);
    cr_assert_null(rep, "a failed call leaves *report untouched");
    free(dir);
}
