/*
 * fraud_scan.c - the store's card transactions in time order, for training
 * and for replaying history through the live engine.
 *
 * Why batches: the callback may itself use the store (a replay records its
 * decisions), and one connection must not run a statement while another of
 * its results is still being stepped. So rows are read a batch at a time
 * into memory (bounded), the statement is finished, and only then does the
 * callback see them. Batches continue from the last (ts, id) read: keyset
 * pagination, which is exact under the ORDER BY and portable.
 */
#include <teller/fraud_alerts.h>
#include <teller/store.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 20000

enum { F_ID, F_ACCOUNT, F_CUSTOMER, F_TERMINAL, F_MERCHANT, F_COUNTRY, F_HOME, F_CHANNEL, N_STR };

struct row {
    uint32_t off[N_STR]; /* into the batch's text; UINT32_MAX for NULL */
    int64_t ts_ms, amount_minor;
    char currency[4];
    int mcc, label;
};

struct batch {
    struct row *rows;
    size_t n;
    char *text;
    size_t text_len, text_cap;
    int rc;
    tl_err *err;
};

static int put_text(struct batch *b, const tl_value *v, uint32_t *off)
{
    if (v->type == TL_VAL_NULL) {
        *off = UINT32_MAX;
        return 0;
    }
    const char *s = v->type == TL_VAL_TEXT ? v->s : "";
    size_t n = v->type == TL_VAL_TEXT ? v->len : 0;
    if (b->text_len + n + 1 > b->text_cap) {
        size_t cap = b->text_cap ? b->text_cap * 2 : 1 << 20;
        while (cap < b->text_len + n + 1)
            cap *= 2;
        if (cap >= UINT32_MAX)
            return TL_ETOOBIG;
        char *t = realloc(b->text, cap);
        if (!t)
            return TL_ENOMEM;
        b->text = t;
        b->text_cap = cap;
    }
    memcpy(b->text + b->text_len, s, n);
    b->text[b->text_len + n] = '\0';
    *off = (uint32_t)b->text_len;
    b->text_len += n + 1;
    return 0;
}

static int on_row(void *ud, size_t n_cols, const tl_value *c, const char *const *names)
{
    (void)names;
    struct batch *b = ud;
    if (n_cols != 13) {
        b->rc = tl_err_set(b->err, TL_EINTERNAL, "card transactions: %zu columns, expected 13",
                           n_cols);
        return 1;
    }
    if (b->n == BATCH)
        return 1; /* the LIMIT makes this unreachable */
    struct row *r = &b->rows[b->n];
    static const int col[N_STR] = {[F_ID] = 0,       [F_ACCOUNT] = 1, [F_CUSTOMER] = 2,
                                   [F_TERMINAL] = 3, [F_MERCHANT] = 4, [F_COUNTRY] = 8,
                                   [F_HOME] = 9,     [F_CHANNEL] = 10};
    for (int k = 0; k < N_STR; k++) {
        int rc = put_text(b, &c[col[k]], &r->off[k]);
        if (rc < 0) {
            b->rc = tl_err_set(b->err, rc, "out of memory reading card transactions");
            return 1;
        }
    }
    r->ts_ms = c[5].i;
    r->amount_minor = c[6].i;
    memset(r->currency, 0, sizeof r->currency);
    if (c[7].type == TL_VAL_TEXT)
        memcpy(r->currency, c[7].s, c[7].len < 3 ? c[7].len : 3);
    r->mcc = c[11].type == TL_VAL_INT ? (int)c[11].i : -1;
    r->label = c[12].type == TL_VAL_INT && (c[12].i == 0 || c[12].i == 1) ? (int)c[12].i : -1;
    b->n++;
    return 0;
}

#define SELECT                                                                                    \
    "SELECT t.id, t.account_id, a.customer_id, t.terminal_id, t.merchant_id, t.ts_ms,"           \
    " t.amount_minor, t.currency, t.country, c.country, t.channel, t.mcc, t.is_fraud"            \
    " FROM transactions t JOIN accounts a ON a.id = t.account_id"                                \
    " JOIN customers c ON c.id = a.customer_id"                                                  \
    " WHERE t.kind = 'card' AND t.amount_minor < 0 AND "
#define ORDER " ORDER BY t.ts_ms, t.id LIMIT 20000"

int tl_fraud_scan_store(tl_ctx *ctx, int64_t from_ms, tl_fraud_tx_fn fn, void *ud, tl_err *err)
{
    tl_store *s = tl_ctx_store(ctx);
    if (!s)
        return tl_err_set(err, TL_EINVAL, "no store to read card transactions from");
    struct batch b = {.err = err};
    if (!(b.rows = malloc(BATCH * sizeof *b.rows)))
        return tl_err_set(err, TL_ENOMEM, "out of memory reading card transactions");
    int rc = 0;
    bool first = true;
    int64_t last_ts = from_ms;
    char last_id[256] = "";
    for (;;) {
        b.n = 0;
        b.text_len = 0;
        b.rc = 0;
        if (first) {
            tl_value p[] = {TL_INT(from_ms)};
            rc = tl_store_exec(s, SELECT "t.ts_ms >= ?" ORDER, 1, p, on_row, &b, err);
        } else {
            tl_value p[] = {TL_INT(last_ts), TL_INT(last_ts), TL_TEXT(last_id)};
            rc = tl_store_exec(s, SELECT "(t.ts_ms > ? OR (t.ts_ms = ? AND t.id > ?))" ORDER, 3,
                               p, on_row, &b, err);
        }
        if (rc == 0)
            rc = b.rc;
        if (rc < 0)
            break;
        first = false;
        for (size_t i = 0; i < b.n; i++) {
            const struct row *r = &b.rows[i];
            const char *str[N_STR];
            for (int k = 0; k < N_STR; k++)
                str[k] = r->off[k] == UINT32_MAX ? NULL : b.text + r->off[k];
            struct tl_fraud_tx tx = {.id = str[F_ID],
                                     .card_id = str[F_ACCOUNT],
                                     .customer_id = str[F_CUSTOMER],
                                     .terminal_id = str[F_TERMINAL],
                                     .merchant_id = str[F_MERCHANT],
                                     .ts_ms = r->ts_ms,
                                     .amount_minor = -r->amount_minor,
                                     .country = str[F_COUNTRY],
                                     .home_country = str[F_HOME],
                                     .channel = str[F_CHANNEL],
                                     .mcc = r->mcc,
                                     .label = r->label};
            memcpy(tx.currency, r->currency, 4);
            if ((rc = fn(ud, &tx, err)) < 0)
                goto out;
        }
        if (b.n < BATCH)
            break;
        const struct row *r = &b.rows[b.n - 1];
        last_ts = r->ts_ms;
        const char *id = b.text + r->off[F_ID];
        if (strlen(id) >= sizeof last_id) {
            rc = tl_err_set(err, TL_EINVAL, "transaction id \"%.40s...\" is too long", id);
            break;
        }
        memcpy(last_id, id, strlen(id) + 1);
    }
out:
    free(b.rows);
    free(b.text);
    return rc;
}

static int on_newest(void *ud, size_t n_cols, const tl_value *c, const char *const *names)
{
    (void)names;
    if (n_cols == 1 && c[0].type == TL_VAL_INT)
        *(int64_t *)ud = c[0].i;
    return 0;
}

int tl_fraud_store_newest_ms(tl_ctx *ctx, int64_t *out, tl_err *err)
{
    tl_store *s = tl_ctx_store(ctx);
    if (!s)
        return tl_err_set(err, TL_EINVAL, "no store to read card transactions from");
    int64_t v = INT64_MIN;
    int rc = tl_store_exec(s,
                           "SELECT max(ts_ms) FROM transactions WHERE kind = 'card' AND "
                           "amount_minor < 0",
                           0, NULL, on_newest, &v, err);
    if (rc < 0)
        return rc;
    *out = v;
    return 0;
}
