/*
 * fraud_alerts.c - fraud decisions in the store (fraud_alerts.h): the
 * decided card payment with its decision, the alert queue analysts work,
 * and their outcomes written back as labels.
 *
 * One alert per card while it is unresolved (status open or
 * investigating): a card under attack makes one entry in the queue, not
 * one per payment, scored by its worst payment. That is how analysts work
 * (they investigate a card, then block it or clear it) and what the
 * handbook's Card Precision@k counts.
 *
 * Writes are one store transaction each, so a decision is stored with its
 * alert or not at all, and a resolution labels every transaction of the
 * alert or none. Rows are read into JSON objects keyed by column name: the
 * same code reads what SQLite and PostgreSQL return.
 */
#include <teller/datetime.h>
#include <teller/fraud_alerts.h>
#include <teller/money.h>
#include <teller/schema.h>
#include <teller/store.h>

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* alerts.reasons and transactions.fraud_reasons (schema.c) */
#define REASONS_MAX 4000
#define NOTE_MAX 1000
#define ID_MAX 64
#define ALERT_PREFIX "FA-"

/* Unresolved statuses: a card's alert that new flagged payments join. */
#define UNRESOLVED "('open', 'investigating')"

/* ---- reading rows --------------------------------------------------------- */

struct rows {
    json_t *arr;
    bool oom;
};

static int collect(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    struct rows *r = ud;
    json_t *o = json_object();
    if (!o) {
        r->oom = true;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x;
        switch (v[i].type) {
        case TL_VAL_INT: x = json_integer((json_int_t)v[i].i); break;
        case TL_VAL_REAL: x = json_real(v[i].d); break;
        case TL_VAL_TEXT: x = json_stringn_nocheck(v[i].s, v[i].len); break;
        default: x = json_null(); break;
        }
        if (!x || json_object_set_new(o, names[i], x) < 0)
            r->oom = true;
    }
    if (json_array_append_new(r->arr, o) < 0)
        r->oom = true;
    return r->oom ? 1 : 0;
}

/* Runs sql and gives its rows as an array of objects (new reference). */
static int query(tl_ctx *ctx, const char *sql, size_t n, const tl_value *p, json_t **out,
                 tl_err *err)
{
    struct rows r = {.arr = json_array()};
    if (!r.arr)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    int rc = tl_store_exec(tl_ctx_store(ctx), sql, n, p, collect, &r, err);
    if (rc == 0 && r.oom)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory reading the store");
    if (rc < 0) {
        json_decref(r.arr);
        return rc;
    }
    *out = r.arr;
    return 0;
}

static int exec(tl_ctx *ctx, const char *sql, size_t n, const tl_value *p, tl_err *err)
{
    return tl_store_exec(tl_ctx_store(ctx), sql, n, p, NULL, NULL, err);
}

static const char *str_of(const json_t *row, const char *col)
{
    return json_string_value(json_object_get(row, col));
}

static int64_t int_of(const json_t *row, const char *col, int64_t dflt)
{
    const json_t *v = json_object_get(row, col);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static json_t *time_json(const json_t *row, const char *col)
{
    const json_t *v = json_object_get(row, col);
    char buf[32];
    if (!json_is_integer(v) || tl_time_format((int64_t)json_integer_value(v), buf, sizeof buf) < 0)
        return json_null();
    return json_string(buf);
}

/* Stored JSON text back as JSON (text that does not parse stays text). */
static json_t *json_text(const json_t *row, const char *col)
{
    const char *s = str_of(row, col);
    if (!s)
        return json_null();
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(s);
}

/* ---- checks ------------------------------------------------------------------ */

static bool id_chars(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static bool in_enum(const char *table, const char *col, const char *v)
{
    const struct tl_table_spec *t = tl_schema_table(table);
    int k = t ? tl_schema_column_index(t, col) : -1;
    if (k < 0 || !t->columns[k].enum_values)
        return false;
    for (const char *const *e = t->columns[k].enum_values; *e; e++)
        if (strcmp(*e, v) == 0)
            return true;
    return false;
}

/* What a stored transaction must satisfy beyond what deciding needs: the
 * schema's limits, so that export and ingest take the row back. Checked
 * before deciding (tl_fraud_enrich) and again before writing. */
static int check_storable(const struct tl_fraud_tx *tx, tl_err *err)
{
    if (!tx->id || !id_chars(tx->id))
        return tl_err_set(err, TL_EINVAL, "transaction: \"id\" must be 1 to 64 characters of "
                                          "A-Z a-z 0-9 . _ : -");
    if (!tx->card_id || !id_chars(tx->card_id))
        return tl_err_set(err, TL_EINVAL, "transaction: \"card_id\" must be an account id (1 to 64 "
                                          "characters of A-Z a-z 0-9 . _ : -)");
    if (tx->amount_minor <= 0)
        return tl_err_set(err, TL_EINVAL, "transaction: \"amount\" must be a payment (not zero)");
    if (!tl_currency_valid(tx->currency))
        return tl_err_set(err, TL_EINVAL, "transaction: \"currency\" is not an ISO 4217 code");
    if (tx->channel && !in_enum("transactions", "channel", tx->channel))
        return tl_err_set(err, TL_EINVAL,
                          "transaction: \"channel\" must be one of pos, online, atm, branch, "
                          "mobile, batch");
    if (tx->mcc < -1 || tx->mcc > 9999)
        return tl_err_set(err, TL_EINVAL, "transaction: \"mcc\" must be 0 to 9999");
    const char *const names[] = {"terminal_id", "merchant_id", "customer_id"};
    const char *const vals[] = {tx->terminal_id, tx->merchant_id, tx->customer_id};
    for (size_t i = 0; i < 3; i++)
        if (vals[i] && (!*vals[i] || strlen(vals[i]) > ID_MAX))
            return tl_err_set(err, TL_EINVAL, "transaction: \"%s\" must be 1 to 64 bytes",
                              names[i]);
    const char *c = tx->country;
    if (c && (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z'))
        return tl_err_set(err, TL_EINVAL, "transaction: \"country\" is not an ISO 3166 alpha-2 "
                                          "code (two upper-case letters)");
    return 0;
}

/* ---- enrichment -------------------------------------------------------------- */

int tl_fraud_enrich(tl_ctx *ctx, struct tl_fraud_tx *tx, char customer_id[65],
                    char home_country[3], tl_err *err)
{
    int rc = check_storable(tx, err);
    if (rc < 0)
        return rc;
    tl_value p[] = {TL_TEXT(tx->card_id)};
    json_t *rows = NULL;
    rc = query(ctx,
               "SELECT a.customer_id AS customer_id, c.country AS country FROM accounts a"
               " JOIN customers c ON c.id = a.customer_id WHERE a.id = ?",
               1, p, &rows, err);
    if (rc < 0)
        return rc;
    const json_t *row = json_array_get(rows, 0);
    if (!row) {
        json_decref(rows);
        return tl_err_set(err, TL_ENOTFOUND, "card \"%s\" is unknown to the bank (no account with "
                                             "that id)", tx->card_id);
    }
    const char *cust = str_of(row, "customer_id"), *country = str_of(row, "country");
    snprintf(customer_id, 65, "%s", cust ? cust : "");
    snprintf(home_country, 3, "%s", country ? country : "");
    json_decref(rows);
    if (!tx->customer_id && customer_id[0])
        tx->customer_id = customer_id;
    if (!tx->home_country && strlen(home_country) == 2)
        tx->home_country = home_country;
    return 0;
}

/* ---- recording a decision ----------------------------------------------------- */

/* The reasons as JSON text of at most REASONS_MAX bytes: the last ones are
 * dropped when all of them do not fit (they come most important first).
 * malloc'd; NULL when out of memory. */
static char *reasons_text(const json_t *reasons)
{
    json_t *r = json_is_array(reasons) ? json_deep_copy(reasons) : json_array();
    char *s = NULL;
    while (r) {
        s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!s || strlen(s) <= REASONS_MAX || json_array_size(r) == 0)
            break;
        free(s);
        s = NULL;
        json_array_remove(r, json_array_size(r) - 1);
    }
    json_decref(r);
    return s;
}

/* The id of the alert a payment opens: "FA-" and its id, or for an id too
 * long for that, its first 44 characters and a hash of the whole. */
static void alert_id_for(const char *tx_id, char out[ID_MAX + 1])
{
    size_t n = strlen(tx_id);
    if (n + strlen(ALERT_PREFIX) <= ID_MAX) {
        snprintf(out, ID_MAX + 1, ALERT_PREFIX "%s", tx_id);
        return;
    }
    unsigned char h[8];
    char hex[17];
    crypto_generichash(h, sizeof h, (const unsigned char *)tx_id, n, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, ID_MAX + 1, ALERT_PREFIX "%.44s-%s", tx_id, hex);
}

/* The decision's parts that are stored, checked. */
struct stored_decision {
    const char *decision;
    double score;
    const char *model;
    const json_t *reasons;
};

static int check_decision(const json_t *d, struct stored_decision *sd, tl_err *err)
{
    if (!json_is_object(d))
        return tl_err_set(err, TL_EINVAL, "a fraud decision must be a JSON object");
    sd->decision = str_of(d, "decision");
    if (!sd->decision || !in_enum("transactions", "fraud_decision", sd->decision))
        return tl_err_set(err, TL_EINVAL, "fraud decision: \"decision\" must be allow, review or "
                                          "block");
    const json_t *score = json_object_get(d, "score");
    sd->score = json_number_value(score);
    if (!json_is_number(score) || !isfinite(sd->score) || sd->score < 0 || sd->score > 1)
        return tl_err_set(err, TL_EINVAL, "fraud decision: \"score\" must be a number from 0 to 1");
    sd->model = str_of(d, "model");
    if (sd->model && strlen(sd->model) > ID_MAX)
        return tl_err_set(err, TL_EINVAL, "fraud decision: \"model\" is longer than 64 bytes");
    sd->reasons = json_object_get(d, "reasons");
    if (sd->reasons && !json_is_array(sd->reasons) && !json_is_null(sd->reasons))
        return tl_err_set(err, TL_EINVAL, "fraud decision: \"reasons\" must be an array");
    return 0;
}

/* The transaction stored under tx->id, compared with tx: 0 when none is,
 * TL_EEXISTS when it is the same payment (account, time, amount),
 * TL_ECONSTRAINT naming the id when it is another. */
static int compare_stored(tl_ctx *ctx, const struct tl_fraud_tx *tx, tl_err *err)
{
    tl_value p[] = {TL_TEXT(tx->id)};
    json_t *rows = NULL;
    int rc = query(ctx,
                   "SELECT account_id, ts_ms, amount_minor, currency FROM transactions"
                   " WHERE id = ?",
                   1, p, &rows, err);
    if (rc < 0)
        return rc;
    const json_t *row = json_array_get(rows, 0);
    if (row) {
        const char *acc = str_of(row, "account_id"), *cur = str_of(row, "currency");
        bool same = acc && strcmp(acc, tx->card_id) == 0 && int_of(row, "ts_ms", 0) == tx->ts_ms &&
                    int_of(row, "amount_minor", 0) == -tx->amount_minor && cur &&
                    strcmp(cur, tx->currency) == 0;
        rc = same ? tl_err_set(err, TL_EEXISTS, "transaction \"%s\" is stored already", tx->id)
                  : tl_err_set(err, TL_ECONSTRAINT,
                               "transaction \"%s\" is stored already with another account, time "
                               "or amount",
                               tx->id);
    }
    json_decref(rows);
    return rc;
}

static json_t *alert_brief(const char *id, const char *status, double score, int64_t n)
{
    return json_pack("{s:s, s:s, s:f, s:I}", "id", id, "status", status, "score", score,
                     "n_transactions", (json_int_t)n);
}

/* Inside the store transaction: writes the payment and opens or joins its
 * card's alert. *alert gets the alert's brief, or stays NULL. */
static int record_in_tx(tl_ctx *ctx, const struct tl_fraud_tx *tx, const struct stored_decision *sd,
                        const char *reasons, json_t **alert, tl_err *err)
{
    int rc = compare_stored(ctx, tx, err);
    if (rc < 0)
        return rc;
    tl_value pa[] = {TL_TEXT(tx->card_id)};
    json_t *acc = NULL;
    if ((rc = query(ctx, "SELECT customer_id FROM accounts WHERE id = ?", 1, pa, &acc, err)) < 0)
        return rc;
    char customer[ID_MAX + 1] = "";
    const char *c = str_of(json_array_get(acc, 0), "customer_id");
    bool known = json_array_size(acc) > 0;
    snprintf(customer, sizeof customer, "%s", c ? c : "");
    json_decref(acc);
    if (!known)
        return tl_err_set(err, TL_ENOTFOUND, "card \"%s\" is unknown to the bank (no account with "
                                             "that id): transaction \"%s\" not stored",
                          tx->card_id, tx->id);

    bool flag = strcmp(sd->decision, "allow") != 0;
    char alert_id[ID_MAX + 1] = "";
    double alert_score = sd->score;
    int64_t n_tx = 1;
    bool join = false;
    if (flag) {
        json_t *open = NULL;
        rc = query(ctx,
                   "SELECT id, score, n_transactions FROM alerts WHERE account_id = ? AND kind = "
                   "'fraud' AND status IN " UNRESOLVED " ORDER BY created_ms, id",
                   1, pa, &open, err);
        if (rc < 0)
            return rc;
        const json_t *row = json_array_get(open, 0);
        if (row) {
            join = true;
            snprintf(alert_id, sizeof alert_id, "%s", str_of(row, "id"));
            double old = json_number_value(json_object_get(row, "score"));
            alert_score = old > sd->score ? old : sd->score;
            n_tx = int_of(row, "n_transactions", 1) + 1;
        } else {
            alert_id_for(tx->id, alert_id);
        }
        json_decref(open);
    }

    int64_t now = tl_time_now_ms();
    tl_value p[] = {
        TL_TEXT(tx->id),
        TL_TEXT(tx->card_id),
        TL_INT(tx->ts_ms),
        TL_INT(-tx->amount_minor),
        TL_TEXT(tx->currency),
        tx->channel ? TL_TEXT(tx->channel) : TL_NULLV,
        tx->mcc >= 0 ? TL_INT(tx->mcc) : TL_NULLV,
        tx->merchant_id ? TL_TEXT(tx->merchant_id) : TL_NULLV,
        tx->terminal_id ? TL_TEXT(tx->terminal_id) : TL_NULLV,
        tx->country ? TL_TEXT(tx->country) : TL_NULLV,
        tx->label == 0 || tx->label == 1 ? TL_INT(tx->label) : TL_NULLV,
        TL_REAL(sd->score),
        TL_TEXT(sd->decision),
        TL_TEXT(reasons),
        sd->model ? TL_TEXT(sd->model) : TL_NULLV,
        TL_INT(now),
        flag ? TL_TEXT(alert_id) : TL_NULLV,
    };
    rc = exec(ctx,
              "INSERT INTO transactions (id, account_id, ts_ms, amount_minor, currency, kind,"
              " channel, mcc, merchant_id, terminal_id, country, is_fraud, fraud_score,"
              " fraud_decision, fraud_reasons, fraud_model, fraud_decided_ms, fraud_alert_id)"
              " VALUES (?, ?, ?, ?, ?, 'card', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              sizeof p / sizeof p[0], p, err);
    if (rc < 0 || !flag)
        return rc;

    tl_value pid[] = {TL_TEXT(alert_id)};
    if (join) {
        /* the alert shows the reasons of its highest-scored payment */
        bool higher = sd->score >= alert_score;
        tl_value pv[] = {TL_REAL(alert_score), TL_INT(n_tx), TL_INT(now),
                         higher ? TL_TEXT(reasons) : TL_NULLV, TL_TEXT(alert_id)};
        rc = exec(ctx,
                  "UPDATE alerts SET score = ?, n_transactions = ?, updated_ms = ?,"
                  " reasons = COALESCE(?, reasons) WHERE id = ?",
                  sizeof pv / sizeof pv[0], pv, err);
    } else {
        json_t *taken = NULL;
        if ((rc = query(ctx, "SELECT id FROM alerts WHERE id = ?", 1, pid, &taken, err)) < 0)
            return rc;
        bool exists = json_array_size(taken) > 0;
        json_decref(taken);
        if (exists)
            return tl_err_set(err, TL_ECONSTRAINT,
                              "alert id \"%s\" for transaction \"%s\" is taken by another alert",
                              alert_id, tx->id);
        tl_value pi[] = {TL_TEXT(alert_id), TL_TEXT(tx->id),   TL_TEXT(customer),
                         TL_INT(now),       TL_REAL(sd->score), TL_TEXT(reasons),
                         TL_TEXT(tx->card_id), TL_INT(now)};
        rc = exec(ctx,
                  "INSERT INTO alerts (id, transaction_id, customer_id, created_ms, kind, score,"
                  " status, reasons, account_id, n_transactions, updated_ms)"
                  " VALUES (?, ?, ?, ?, 'fraud', ?, 'open', ?, ?, 1, ?)",
                  sizeof pi / sizeof pi[0], pi, err);
    }
    if (rc < 0)
        return rc;
    *alert = alert_brief(alert_id, "open", alert_score, n_tx);
    return *alert ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory");
}

int tl_fraud_record(tl_ctx *ctx, const struct tl_fraud_tx *tx, const json_t *decision,
                    json_t **out, tl_err *err)
{
    struct stored_decision sd = {0};
    int rc = check_storable(tx, err);
    if (rc == 0)
        rc = check_decision(decision, &sd, err);
    if (rc < 0)
        return rc;
    char *reasons = reasons_text(sd.reasons);
    if (!reasons)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    tl_store *s = tl_ctx_store(ctx);
    json_t *alert = NULL;
    if ((rc = tl_store_begin(s, err)) < 0) {
        free(reasons);
        return rc;
    }
    rc = record_in_tx(ctx, tx, &sd, reasons, &alert, err);
    free(reasons);
    if (rc == 0)
        rc = tl_store_commit(s, err);
    if (rc < 0) {
        tl_err keep = *err;
        tl_err ignored = {0};
        tl_store_rollback(s, &ignored);
        *err = keep;
        json_decref(alert);
        return rc;
    }
    json_t *o = json_pack("{s:b, s:o}", "stored", 1, "alert", alert ? alert : json_null());
    if (!o)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    if (out)
        *out = o;
    else
        json_decref(o);
    return 0;
}

/* ---- reading decisions and alerts ----------------------------------------------- */

#define ALERT_COLS                                                                            \
    "id, account_id, customer_id, transaction_id, score, status, created_ms, updated_ms,"    \
    " n_transactions, reasons, outcome, resolved_ms, resolved_by"

/* One alerts row (ALERT_COLS) as the API shows it: ids only, no personal
 * data. */
static json_t *alert_json(const json_t *row)
{
    const json_t *n = json_object_get(row, "n_transactions");
    json_int_t n_tx = json_is_integer(n) ? json_integer_value(n)
                      : str_of(row, "transaction_id") ? 1
                                                       : 0;
    const json_t *score = json_object_get(row, "score");
    return json_pack("{s:O, s:O, s:O, s:O, s:o, s:O, s:o, s:o, s:I, s:o, s:O, s:o, s:O}", "id",
                     json_object_get(row, "id"), "account_id", json_object_get(row, "account_id"),
                     "customer_id", json_object_get(row, "customer_id"), "transaction_id",
                     json_object_get(row, "transaction_id"), "score",
                     json_is_number(score) ? json_real(json_number_value(score)) : json_null(),
                     "status", json_object_get(row, "status"), "created_at",
                     time_json(row, "created_ms"), "updated_at", time_json(row, "updated_ms"),
                     "n_transactions", n_tx, "reasons", json_text(row, "reasons"), "outcome",
                     json_object_get(row, "outcome"), "resolved_at", time_json(row, "resolved_ms"),
                     "resolved_by", json_object_get(row, "resolved_by"));
}

int tl_fraud_stored_decision(tl_ctx *ctx, const char *tx_id, json_t **out, tl_err *err)
{
    if (!tx_id || !*tx_id)
        return tl_err_set(err, TL_EINVAL, "a transaction id is required");
    tl_value p[] = {TL_TEXT(tx_id)};
    json_t *rows = NULL;
    int rc = query(ctx,
                   "SELECT t.account_id AS account_id, t.amount_minor AS amount_minor,"
                   " t.currency AS currency, t.fraud_score AS fraud_score,"
                   " t.fraud_decision AS fraud_decision, t.fraud_reasons AS fraud_reasons,"
                   " t.fraud_model AS fraud_model, t.fraud_decided_ms AS fraud_decided_ms,"
                   " a.id AS alert_id, a.status AS alert_status, a.score AS alert_score,"
                   " a.n_transactions AS alert_n"
                   " FROM transactions t LEFT JOIN alerts a ON a.id = t.fraud_alert_id"
                   " WHERE t.id = ?",
                   1, p, &rows, err);
    if (rc < 0)
        return rc;
    const json_t *row = json_array_get(rows, 0);
    if (!row || !str_of(row, "fraud_decision")) {
        rc = tl_err_set(err, TL_ENOTFOUND,
                        row ? "transaction \"%s\" is stored without a fraud decision"
                            : "no transaction with id \"%s\"",
                        tx_id);
        json_decref(rows);
        return rc;
    }
    json_t *reasons = json_text(row, "fraud_reasons");
    bool cold = false;
    size_t i;
    json_t *r;
    json_array_foreach(reasons, i, r)
    {
        const char *kind = str_of(r, "kind");
        cold |= kind && strcmp(kind, "cold_start") == 0;
    }
    json_t *alert = json_null();
    if (str_of(row, "alert_id"))
        alert = alert_brief(str_of(row, "alert_id"), str_of(row, "alert_status"),
                            json_number_value(json_object_get(row, "alert_score")),
                            int_of(row, "alert_n", 1));
    /* the amount paid, as the decision shows it: positive */
    char amount[48] = "";
    const char *cur = str_of(row, "currency");
    if (!cur || tl_money_format(-int_of(row, "amount_minor", 0), cur, amount, sizeof amount) < 0)
        amount[0] = '\0';
    json_t *d = json_pack("{s:s, s:O, s:s, s:O, s:O, s:f, s:O, s:b, s:o, s:b, s:o, s:o}",
                          "transaction_id", tx_id, "card_id", json_object_get(row, "account_id"),
                          "amount", amount, "currency", json_object_get(row, "currency"),
                          "decision",
                          json_object_get(row, "fraud_decision"), "score",
                          json_number_value(json_object_get(row, "fraud_score")), "model",
                          json_object_get(row, "fraud_model"), "cold_start", cold, "reasons",
                          reasons, "duplicate", 1, "decided_at",
                          time_json(row, "fraud_decided_ms"), "alert", alert ? alert : json_null());
    json_decref(rows);
    if (!d)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    *out = d;
    return 0;
}

int tl_fraud_alerts_list(tl_ctx *ctx, const char *status, size_t limit, json_t **out, tl_err *err)
{
    if (limit < 1 || limit > 10000)
        return tl_err_set(err, TL_EINVAL, "limit must be 1 to 10000 (got %zu)", limit);
    bool open = !status || strcmp(status, "open") == 0, all = status && strcmp(status, "all") == 0;
    if (!open && !all && !in_enum("alerts", "status", status))
        return tl_err_set(err, TL_EINVAL,
                          "status \"%.40s\" is not one of open (the unresolved: open and "
                          "investigating), all, investigating, confirmed_fraud, false_positive, "
                          "closed",
                          status);
    /* score NULL last on both engines (PostgreSQL sorts NULL first in DESC) */
    const char *sql =
        open ? "SELECT " ALERT_COLS " FROM alerts WHERE kind = 'fraud' AND status IN " UNRESOLVED
               " ORDER BY COALESCE(score, -1) DESC, created_ms, id LIMIT ?"
        : all ? "SELECT " ALERT_COLS " FROM alerts WHERE kind = 'fraud'"
                " ORDER BY COALESCE(score, -1) DESC, created_ms, id LIMIT ?"
              : "SELECT " ALERT_COLS " FROM alerts WHERE kind = 'fraud' AND status = ?"
                " ORDER BY COALESCE(score, -1) DESC, created_ms, id LIMIT ?";
    tl_value p[2];
    size_t n = 0;
    if (!open && !all)
        p[n++] = TL_TEXT(status);
    p[n++] = TL_INT((int64_t)limit);
    json_t *rows = NULL;
    int rc = query(ctx, sql, n, p, &rows, err);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (!list || json_array_append_new(list, alert_json(row)) < 0) {
            json_decref(list);
            json_decref(rows);
            return tl_err_set(err, TL_ENOMEM, "out of memory");
        }
    }
    json_decref(rows);
    *out = list;
    return 0;
}

int tl_fraud_alert_get(tl_ctx *ctx, const char *alert_id, json_t **out, tl_err *err)
{
    if (!alert_id || !*alert_id)
        return tl_err_set(err, TL_EINVAL, "an alert id is required");
    tl_value p[] = {TL_TEXT(alert_id)};
    json_t *rows = NULL;
    int rc = query(ctx, "SELECT " ALERT_COLS " FROM alerts WHERE id = ?", 1, p, &rows, err);
    if (rc < 0)
        return rc;
    const json_t *row = json_array_get(rows, 0);
    if (!row) {
        json_decref(rows);
        return tl_err_set(err, TL_ENOTFOUND, "no alert with id \"%s\"", alert_id);
    }
    json_t *a = alert_json(row);
    const char *first = str_of(row, "transaction_id");
    /* its payments: those linked to it, and the one an ingested alert names */
    tl_value pt[] = {TL_TEXT(alert_id), TL_TEXT(first ? first : "")};
    json_t *txs = NULL;
    rc = a ? query(ctx,
                   "SELECT id, ts_ms, amount_minor, currency, terminal_id, merchant_id, country,"
                   " fraud_score, fraud_decision, fraud_reasons FROM transactions"
                   " WHERE fraud_alert_id = ? OR id = ? ORDER BY ts_ms, id",
                   2, pt, &txs, err)
           : tl_err_set(err, TL_ENOMEM, "out of memory");
    json_decref(rows);
    json_t *list = rc == 0 ? json_array() : NULL;
    size_t i;
    json_t *t;
    json_array_foreach(txs, i, t)
    {
        char amount[48] = "";
        const char *cur = str_of(t, "currency");
        if (!cur || tl_money_format(int_of(t, "amount_minor", 0), cur, amount, sizeof amount) < 0)
            amount[0] = '\0';
        const json_t *sc = json_object_get(t, "fraud_score");
        json_t *o = json_pack("{s:O, s:o, s:s, s:O, s:O, s:O, s:O, s:o, s:O, s:o}", "id",
                              json_object_get(t, "id"), "ts", time_json(t, "ts_ms"), "amount",
                              amount, "currency", json_object_get(t, "currency"), "terminal_id",
                              json_object_get(t, "terminal_id"), "merchant_id",
                              json_object_get(t, "merchant_id"), "country",
                              json_object_get(t, "country"), "score",
                              json_is_number(sc) ? json_real(json_number_value(sc)) : json_null(),
                              "decision", json_object_get(t, "fraud_decision"), "reasons",
                              json_text(t, "fraud_reasons"));
        if (!list || json_array_append_new(list, o) < 0) {
            json_decref(list);
            list = NULL;
            break;
        }
    }
    json_decref(txs);
    if (rc == 0 && (!list || json_object_set_new(a, "transactions", list) < 0))
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* ---- resolution -------------------------------------------------------------------- */

static int resolve_in_tx(tl_ctx *ctx, const char *alert_id, bool fraud, const char *actor,
                         const char *note, tl_err *err)
{
    tl_value p[] = {TL_TEXT(alert_id)};
    json_t *rows = NULL;
    int rc = query(ctx, "SELECT status, outcome, transaction_id FROM alerts WHERE id = ?", 1, p,
                   &rows, err);
    if (rc < 0)
        return rc;
    const json_t *row = json_array_get(rows, 0);
    const char *status = str_of(row, "status");
    if (!row) {
        rc = tl_err_set(err, TL_ENOTFOUND, "no alert with id \"%s\"", alert_id);
    } else if (!status || (strcmp(status, "open") != 0 && strcmp(status, "investigating") != 0)) {
        const char *o = str_of(row, "outcome");
        rc = tl_err_set(err, TL_ECONSTRAINT, "alert %s is already resolved as %s", alert_id,
                        o ? o : status ? status : "?");
    }
    char first[ID_MAX + 1] = "";
    if (rc == 0 && str_of(row, "transaction_id"))
        snprintf(first, sizeof first, "%s", str_of(row, "transaction_id"));
    json_decref(rows);
    if (rc < 0)
        return rc;
    int64_t now = tl_time_now_ms();
    tl_value pu[] = {TL_TEXT(fraud ? "confirmed_fraud" : "false_positive"),
                     TL_TEXT(fraud ? "fraud" : "genuine"),
                     TL_INT(now),
                     TL_TEXT(actor),
                     note ? TL_TEXT(note) : TL_NULLV,
                     TL_INT(now),
                     TL_TEXT(alert_id)};
    rc = exec(ctx,
              "UPDATE alerts SET status = ?, outcome = ?, resolved_ms = ?, resolved_by = ?,"
              " note = ?, updated_ms = ? WHERE id = ? AND status IN " UNRESOLVED,
              sizeof pu / sizeof pu[0], pu, err);
    if (rc < 0)
        return rc;
    if (tl_store_changes(tl_ctx_store(ctx)) != 1) /* resolved meanwhile elsewhere */
        return tl_err_set(err, TL_ECONSTRAINT, "alert %s is already resolved", alert_id);
    tl_value pl[] = {TL_INT(fraud ? 1 : 0), TL_TEXT(alert_id), TL_TEXT(first)};
    return exec(ctx, "UPDATE transactions SET is_fraud = ? WHERE fraud_alert_id = ? OR id = ?", 3,
                pl, err);
}

int tl_fraud_alert_resolve(tl_ctx *ctx, const char *alert_id, const char *outcome,
                           const char *actor, const char *note, json_t **out, tl_err *err)
{
    if (!alert_id || !*alert_id)
        return tl_err_set(err, TL_EINVAL, "an alert id is required");
    bool fraud = outcome && strcmp(outcome, "fraud") == 0;
    if (!fraud && !(outcome && strcmp(outcome, "genuine") == 0))
        return tl_err_set(err, TL_EINVAL, "outcome must be \"fraud\" or \"genuine\"");
    if (!actor || !*actor || strlen(actor) > 200)
        return tl_err_set(err, TL_EINVAL, "the actor resolving an alert must be named (1 to 200 "
                                          "bytes)");
    if (note && strlen(note) > NOTE_MAX)
        return tl_err_set(err, TL_EINVAL, "note is %zu bytes, longer than the %d allowed",
                          strlen(note), NOTE_MAX);
    tl_store *s = tl_ctx_store(ctx);
    int rc = tl_store_begin(s, err);
    if (rc < 0)
        return rc;
    rc = resolve_in_tx(ctx, alert_id, fraud, actor, note, err);
    if (rc == 0)
        rc = tl_store_commit(s, err);
    if (rc < 0) {
        tl_err keep = *err, ignored = {0};
        tl_store_rollback(s, &ignored);
        *err = keep;
        return rc;
    }
    if (!out)
        return 0;
    return tl_fraud_alert_get(ctx, alert_id, out, err);
}
