/*
 * test_generate.c - the synthetic bank: deterministic, well-formed for
 * ingest (types, references, money precision), and carrying the signals
 * later models need (fraud rate, default risk by debt-to-income, income by
 * occupation).
 */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const TABLES[] = {"products",     "customers",    "accounts",    "holdings",
                                     "transactions", "applications", "interactions"};
#define N_TABLES 7

static char *generate(uint64_t n, uint64_t seed, struct tl_generate_result *res)
{
    char *dir = tu_tmpdir();
    cr_assert(dir);
    struct tl_generate_opts o = {.n_customers = n, .seed = seed, .out_dir = dir, .quiet = true};
    tl_err err = {0};
    int rc = tl_generate(&o, res, &err);
    cr_assert_eq(rc, 0, "tl_generate: %s", err.msg);
    return dir;
}

static void cleanup(char *dir)
{
    char path[1024];
    for (int t = 0; t < N_TABLES; t++) {
        snprintf(path, sizeof path, "%s/%s.csv", dir, TABLES[t]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/t.db", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* Calls fn for every data row of dir/table.csv, after checking that the
 * header is exactly the spec's column names in spec order. */
typedef void (*row_fn)(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg);

static uint64_t each_row(const char *dir, const char *table, row_fn fn, void *arg)
{
    const struct tl_table_spec *t = tl_schema_table(table);
    cr_assert(t);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.csv", dir, table);
    FILE *fp = fopen(path, "rb");
    cr_assert(fp, "cannot open %s", path);
    tl_csv_reader *r;
    tl_err err = {0};
    cr_assert_eq(tl_csv_reader_open(fp, path, 0, &r, &err), 0, "%s", err.msg);
    const tl_csv_record *rec;
    cr_assert_eq(tl_csv_next(r, &rec, &err), 1, "%s: no header (%s)", path, err.msg);
    /* the file columns: all but those teller derives itself */
    size_t n_file = 0;
    for (size_t i = 0; i < t->n_columns; i++) {
        if (t->columns[i].derived)
            continue;
        cr_assert_str_eq(rec->fields[n_file], t->columns[i].name, "%s: header column %zu", path, n_file + 1);
        n_file++;
    }
    cr_assert_eq(rec->n_fields, n_file, "%s: %zu columns in the header", path, rec->n_fields);
    uint64_t n = 0;
    int rc;
    while ((rc = tl_csv_next(r, &rec, &err)) > 0) {
        cr_assert_eq(rec->n_fields, n_file, "%s:%llu: %zu fields", path, (unsigned long long)rec->line,
                     rec->n_fields);
        if (fn)
            fn(t, rec, arg);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    tl_csv_reader_close(r);
    fclose(fp);
    return n;
}

static const char *field(const struct tl_table_spec *t, const tl_csv_record *rec, const char *name)
{
    int i = tl_schema_column_index(t, name);
    cr_assert(i >= 0, "no column %s in %s", name, t->name);
    return rec->fields[i];
}

static char *slurp(const char *dir, const char *table, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.csv", dir, table);
    FILE *fp = fopen(path, "rb");
    cr_assert(fp, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

Test(generate, deterministic_by_seed)
{
    struct tl_generate_result ra, rb, rc;
    char *a = generate(60, 11, &ra), *b = generate(60, 11, &rb), *c = generate(60, 12, &rc);
    for (int t = 0; t < N_TABLES; t++) {
        size_t la, lb;
        char *fa = slurp(a, TABLES[t], &la), *fb = slurp(b, TABLES[t], &lb);
        cr_assert(la == lb && memcmp(fa, fb, la) == 0, "%s.csv differs between two runs", TABLES[t]);
        cr_assert_eq(ra.rows[t], rb.rows[t]);
        free(fa);
        free(fb);
    }
    const char *vary[] = {"customers", "transactions", "accounts"};
    for (int t = 0; t < 3; t++) {
        size_t la, lc;
        char *fa = slurp(a, vary[t], &la), *fc = slurp(c, vary[t], &lc);
        cr_assert(la != lc || memcmp(fa, fc, la) != 0, "%s.csv is the same for seeds 11 and 12", vary[t]);
        free(fa);
        free(fc);
    }
    cleanup(a);
    cleanup(b);
    cleanup(c);
}

Test(generate, row_counts_and_headers)
{
    struct tl_generate_result res;
    char *dir = generate(200, 3, &res);
    cr_assert_eq(res.n_tables, N_TABLES);
    for (int t = 0; t < N_TABLES; t++) {
        cr_assert_str_eq(res.tables[t], TABLES[t]);
        uint64_t n = each_row(dir, TABLES[t], NULL, NULL);
        cr_assert_eq(n, res.rows[t], "%s: %llu rows in the file, %llu reported", TABLES[t],
                     (unsigned long long)n, (unsigned long long)res.rows[t]);
    }
    cr_assert(res.rows[0] >= 25 && res.rows[0] <= 40, "products: %llu", (unsigned long long)res.rows[0]);
    cr_assert_eq(res.rows[1], 200);
    cr_assert(res.rows[2] >= 200 && res.rows[2] <= 200 * 8, "accounts: %llu",
              (unsigned long long)res.rows[2]);
    cr_assert(res.rows[3] >= 40, "holdings: %llu", (unsigned long long)res.rows[3]);
    /* about 25 movements per customer and month over 12 months */
    cr_assert(res.rows[4] >= 200 * 12 * 12 && res.rows[4] <= 200 * 12 * 50, "transactions: %llu",
              (unsigned long long)res.rows[4]);
    cr_assert(res.rows[5] >= 40, "applications: %llu", (unsigned long long)res.rows[5]);
    cr_assert(res.rows[6] >= 200 * 5, "interactions: %llu", (unsigned long long)res.rows[6]);
    cleanup(dir);
}

struct fraud_count {
    uint64_t card, fraud, by_scenario[4];
};

static void count_fraud(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg)
{
    struct fraud_count *fc = arg;
    const char *kind = field(t, rec, "kind");
    bool fraud = strcmp(field(t, rec, "is_fraud"), "1") == 0;
    int scenario = (int)strtol(field(t, rec, "fraud_scenario"), NULL, 10);
    cr_assert(scenario >= 0 && scenario <= 3);
    cr_assert_eq(fraud, scenario != 0, "is_fraud and fraud_scenario disagree at line %llu",
                 (unsigned long long)rec->line);
    if (strcmp(kind, "card") != 0) {
        cr_assert(!fraud, "fraud on a %s movement", kind);
        return;
    }
    fc->card++;
    fc->fraud += fraud;
    fc->by_scenario[scenario]++;
}

Test(generate, fraud_rate_of_card_payments)
{
    struct tl_generate_result res;
    char *dir = generate(500, 5, &res);
    struct fraud_count fc = {0};
    each_row(dir, "transactions", count_fraud, &fc);
    double rate = (double)fc.fraud / (double)fc.card;
    cr_assert(rate >= 0.003 && rate <= 0.015, "fraud rate %.4f of %llu card payments", rate,
              (unsigned long long)fc.card);
    cr_assert_eq(fc.fraud, res.n_fraud);
    for (int s = 1; s <= 3; s++)
        cr_assert(fc.by_scenario[s] > 0, "no fraud of scenario %d", s);
    cleanup(dir);
}

/* ------------------------------------------------------ well-formedness --- */

struct idset {
    char **ids;
    size_t n, cap;
};

static void ids_add(struct idset *s, const char *id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
    }
    s->ids[s->n++] = strdup(id);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ids_has(const struct idset *s, const char *id)
{
    return s->n && bsearch(&id, s->ids, s->n, sizeof *s->ids, cmp_str) != NULL;
}

static void ids_free(struct idset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
}

struct check {
    struct idset ids[N_TABLES];
    char last_ts[32];
};

static int table_index(const char *name)
{
    for (int t = 0; t < N_TABLES; t++)
        if (strcmp(TABLES[t], name) == 0)
            return t;
    return -1;
}

static void collect_ids(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg)
{
    ids_add(arg, rec->fields[0]);
}

static bool money_text(const char *s)
{
    size_t n = strlen(s), i = s[0] == '-' ? 1 : 0;
    if (n < i + 4 || s[n - 3] != '.')
        return false;
    for (size_t k = i; k < n; k++)
        if (k != n - 3 && (s[k] < '0' || s[k] > '9'))
            return false;
    return true;
}

/* Every value as ingest will judge it: type, range, enum, required, refs. */
static void check_row(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg)
{
    struct check *ck = arg;
    tl_err err = {0};
    /* derived columns (blind indexes and the like) come last and are not in files */
    for (size_t i = 0; i < rec->n_fields; i++) {
        const struct tl_column_spec *c = &t->columns[i];
        const char *v = rec->fields[i];
        size_t n = rec->lens[i];
        unsigned long long line = (unsigned long long)rec->line;
        if (!n) {
            cr_assert(!c->required, "%s:%llu: required %s is empty", t->name, line, c->name);
            continue;
        }
        cr_assert(tl_utf8_valid(v, n, NULL), "%s:%llu: %s is not UTF-8", t->name, line, c->name);
        switch (c->type) {
        case TL_COL_MONEY: {
            cr_assert(money_text(v), "%s:%llu: %s \"%s\" needs exactly 2 decimals", t->name, line, c->name,
                      v);
            int64_t minor;
            cr_assert_eq(tl_money_parse(v, n, "EUR", &minor, &err), 0, "%s", err.msg);
            break;
        }
        case TL_COL_TIMESTAMP: {
            int64_t ms;
            cr_assert(n == 20 && v[10] == 'T' && v[19] == 'Z', "%s:%llu: %s \"%s\"", t->name, line, c->name,
                      v);
            cr_assert_eq(tl_time_parse(v, n, &ms, &err), 0, "%s", err.msg);
            break;
        }
        case TL_COL_DATE: {
            int32_t d;
            cr_assert_eq(tl_date_parse(v, n, &d, &err), 0, "%s", err.msg);
            break;
        }
        case TL_COL_INT: {
            char *end;
            long long x = strtoll(v, &end, 10);
            cr_assert(*end == 0 && x >= c->min && x <= c->max, "%s:%llu: %s \"%s\" out of %lld..%lld",
                      t->name, line, c->name, v, (long long)c->min, (long long)c->max);
            break;
        }
        case TL_COL_ENUM: {
            bool ok = false;
            for (size_t k = 0; c->enum_values[k] && !ok; k++)
                ok = strcmp(c->enum_values[k], v) == 0;
            cr_assert(ok, "%s:%llu: %s \"%s\" is not in the enum", t->name, line, c->name, v);
            break;
        }
        case TL_COL_REF: {
            int r = table_index(c->ref_table);
            cr_assert(r >= 0 && ids_has(&ck->ids[r], v), "%s:%llu: %s %s does not exist", t->name, line,
                      c->name, v);
            break;
        }
        case TL_COL_CURRENCY: cr_assert_str_eq(v, "EUR"); break;
        case TL_COL_COUNTRY:
            cr_assert(n == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z', "%s", v);
            break;
        case TL_COL_EMAIL:
            cr_assert(strchr(v, '@') && strchr(strchr(v, '@'), '.'), "%s:%llu: email %s", t->name, line, v);
            break;
        case TL_COL_TEXT:
            cr_assert(!c->max_len || n <= c->max_len, "%s:%llu: %s too long", t->name, line, c->name);
            break;
        case TL_COL_BOOL:
            cr_assert(strcmp(v, "0") == 0 || strcmp(v, "1") == 0, "%s:%llu: %s \"%s\"", t->name, line,
                      c->name, v);
            break;
        default: break;
        }
    }
    if (strcmp(t->name, "transactions") == 0) {
        const char *ts = field(t, rec, "ts");
        cr_assert(strcmp(ck->last_ts, ts) <= 0, "transactions are not in time order at line %llu",
                  (unsigned long long)rec->line);
        snprintf(ck->last_ts, sizeof ck->last_ts, "%s", ts);
    }
}

Test(generate, every_value_is_valid_and_every_reference_exists)
{
    struct tl_generate_result res;
    char *dir = generate(150, 9, &res);
    struct check ck = {0};
    for (int t = 0; t < N_TABLES; t++) {
        if (strcmp(TABLES[t], "transactions") != 0)
            each_row(dir, TABLES[t], collect_ids, &ck.ids[t]);
        if (ck.ids[t].n)
            qsort(ck.ids[t].ids, ck.ids[t].n, sizeof *ck.ids[t].ids, cmp_str);
        for (size_t i = 1; i < ck.ids[t].n; i++)
            cr_assert(strcmp(ck.ids[t].ids[i - 1], ck.ids[t].ids[i]) != 0, "duplicate id %s in %s",
                      ck.ids[t].ids[i], TABLES[t]);
    }
    for (int t = 0; t < N_TABLES; t++)
        each_row(dir, TABLES[t], check_row, &ck);
    for (int t = 0; t < N_TABLES; t++)
        ids_free(&ck.ids[t]);
    cleanup(dir);
}

static void check_sign(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg)
{
    static const char *const credits[] = {"salary", "transfer_in", "interest", NULL};
    const char *kind = field(t, rec, "kind");
    const char *amount = field(t, rec, "amount");
    bool credit = false;
    for (int i = 0; credits[i]; i++)
        credit |= strcmp(kind, credits[i]) == 0;
    cr_assert(strtod(amount, NULL) != 0, "zero amount at line %llu", (unsigned long long)rec->line);
    cr_assert_eq(amount[0] != '-', credit, "a %s of %s at line %llu", kind, amount,
                 (unsigned long long)rec->line);
    int *kinds_seen = arg;
    (*kinds_seen)++;
}

Test(generate, amount_sign_follows_kind)
{
    struct tl_generate_result res;
    char *dir = generate(100, 4, &res);
    int n = 0;
    each_row(dir, "transactions", check_sign, &n);
    cr_assert(n > 1000);
    cleanup(dir);
}

/* ------------------------------------------------------------- signal --- */

struct app_row {
    double dti;
    int defaulted;
};

struct apps {
    struct app_row *v;
    size_t n, cap;
};

static void collect_apps(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg)
{
    struct apps *a = arg;
    const char *d = field(t, rec, "defaulted_12m");
    if (!*d)
        return;
    cr_assert_str_eq(field(t, rec, "status"), "approved", "an outcome for an application not approved");
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 256;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = (struct app_row){strtod(field(t, rec, "existing_debt"), NULL) /
                                        strtod(field(t, rec, "annual_income"), NULL),
                                    d[0] == '1'};
}

static int cmp_dti(const void *a, const void *b)
{
    double x = ((const struct app_row *)a)->dti, y = ((const struct app_row *)b)->dti;
    return (x > y) - (x < y);
}

Test(generate, defaults_rise_with_debt_to_income, .timeout = 300)
{
    struct tl_generate_result res;
    char *dir = generate(4000, 21, &res);
    struct apps a = {0};
    each_row(dir, "applications", collect_apps, &a);
    cr_assert(a.n >= 500, "only %zu applications with an outcome", a.n);
    size_t defaults = 0;
    for (size_t i = 0; i < a.n; i++)
        defaults += (size_t)a.v[i].defaulted;
    double rate = (double)defaults / (double)a.n;
    cr_assert(rate >= 0.03 && rate <= 0.15, "default rate %.3f", rate);
    qsort(a.v, a.n, sizeof *a.v, cmp_dti);
    size_t third = a.n / 3, lo = 0, hi = 0;
    for (size_t i = 0; i < third; i++) {
        lo += (size_t)a.v[i].defaulted;
        hi += (size_t)a.v[a.n - 1 - i].defaulted;
    }
    cr_assert(hi > lo * 1.3, "defaults: %zu in the highest debt-to-income third, %zu in the lowest", hi, lo);
    free(a.v);
    cleanup(dir);
}

struct incomes {
    double sum[2];
    int n[2];
};

static void collect_income(const struct tl_table_spec *t, const tl_csv_record *rec, void *arg)
{
    struct incomes *in = arg;
    const char *occ = field(t, rec, "occupation");
    int k = strcmp(occ, "physician") == 0 || strcmp(occ, "software developer") == 0       ? 0
            : strcmp(occ, "retail worker") == 0 || strcmp(occ, "hospitality worker") == 0 ? 1
                                                                                          : -1;
    if (k < 0)
        return;
    in->sum[k] += strtod(field(t, rec, "annual_income"), NULL);
    in->n[k]++;
}

Test(generate, income_follows_occupation)
{
    struct tl_generate_result res;
    char *dir = generate(800, 8, &res);
    struct incomes in = {0};
    each_row(dir, "customers", collect_income, &in);
    cr_assert(in.n[0] >= 10 && in.n[1] >= 10);
    double high = in.sum[0] / in.n[0], low = in.sum[1] / in.n[1];
    cr_assert(high > 1.8 * low, "physicians and developers earn %.0f, retail and hospitality %.0f", high,
              low);
    cleanup(dir);
}

/* --------------------------------------------------------------- errors --- */

Test(generate, rejects_bad_options)
{
    struct tl_generate_result res;
    tl_err err = {0};
    char *dir = tu_tmpdir();
    struct tl_generate_opts o = {.n_customers = 0, .seed = 1, .out_dir = dir, .quiet = true};
    cr_assert_eq(tl_generate(&o, &res, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "customers"), "%s", err.msg);

    o.n_customers = 5;
    o.end_date = "2026-13-01";
    cr_assert_eq(tl_generate(&o, &res, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "2026-13-01"), "%s", err.msg);

    o.end_date = NULL;
    o.months = 500;
    cr_assert_eq(tl_generate(&o, &res, &err), TL_EINVAL);

    /* a directory below a regular file cannot be created */
    char *file = tu_write_file(dir, "plain", "x");
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/out", file);
    o.months = 0;
    o.out_dir = bad;
    cr_assert_eq(tl_generate(&o, &res, &err), TL_EIO);
    cr_assert(strstr(err.msg, file), "the error names the path: %s", err.msg);
    unlink(file);
    free(file);
    rmdir(dir);
    free(dir);
}

Test(generate, creates_nested_directories_and_honours_months)
{
    char *dir = tu_tmpdir();
    char nested[1100];
    snprintf(nested, sizeof nested, "%s/a/b", dir);
    struct tl_generate_opts o = {.n_customers = 20,
                                 .seed = 2,
                                 .out_dir = nested,
                                 .quiet = true,
                                 .months = 3,
                                 .end_date = "2026-03-31"};
    struct tl_generate_result res;
    tl_err err = {0};
    cr_assert_eq(tl_generate(&o, &res, &err), 0, "%s", err.msg);
    char *first = NULL;
    size_t len;
    char *tx = slurp(nested, "transactions", &len);
    first = strchr(tx, '\n') + 1;
    /* history starts on 2026-01-01 (local time, so UTC may show the 31st) */
    cr_assert(strncmp(strchr(first, ',') + 1 + strlen("A0000001,"), "2026-01", 7) == 0 ||
                  strncmp(strchr(first, ',') + 1 + strlen("A0000001,"), "2025-12-31", 10) == 0,
              "first transaction: %.60s", first);
    cr_assert(strstr(tx, ",2026-03-3") != NULL);
    cr_assert(strstr(tx, ",2026-04-") == NULL);
    free(tx);
    for (int t = 0; t < N_TABLES; t++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.csv", nested, TABLES[t]);
        unlink(path);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/a/b", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/a", dir);
    rmdir(p);
    rmdir(dir);
    free(dir);
}

/* ------------------------------------------------------------- ingest --- */

Test(generate, every_file_ingests_into_sqlite)
{
    struct tl_generate_result res;
    char *dir = generate(40, 13, &res);
    char url[1100];
    snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
    tl_store *s;
    tl_err err = {0};
    cr_assert_eq(tl_store_open(url, &s, &err), 0, "%s", err.msg);
    int applied;
    cr_assert_eq(tl_store_migrate(s, &applied, &err), 0, "%s", err.msg);
    for (int t = 0; t < N_TABLES; t++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.csv", dir, TABLES[t]);
        struct tl_ingest_opts o = {.table = TABLES[t], .path = path, .quiet = true};
        struct tl_ingest_result ir;
        cr_assert_eq(tl_ingest_file(s, &o, &ir, &err), 0, "ingest %s: %s", TABLES[t], err.msg);
        cr_assert_eq(ir.rows_loaded, res.rows[t], "%s", TABLES[t]);
    }
    tl_store_close(s);
    cleanup(dir);
}
