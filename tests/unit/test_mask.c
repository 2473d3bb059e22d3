/*
 * test_mask.c - PII masking (mask.h): recall and precision on the labelled
 * set tests/fixtures/pii/labelled.tsv, each detector on its own, word
 * boundaries, UTF-8 safety, big and hostile inputs, threads, the store
 * loader and the log filter.
 *
 * The labelled set is scored span by span: a detection counts when one of
 * the expected spans has exactly its start, end and kind. Run with
 *     ctest -R unit.test_mask -V     (or ./tests/test_mask --verbose)
 * to see the figures and every miss and false positive.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <teller/csv.h>
#include <teller/ctx.h>
#include <teller/generate.h>
#include <teller/ingest.h>
#include <teller/keyring.h>
#include <teller/log.h>
#include <teller/mask.h>

#include "testutil.h"

/* The customers of the labelled set (tests/fixtures/pii/labelled.tsv). */
static const char *const NAMES[] = {
    "Anna Müller", "Jürgen Weiß", "O'Brien, Liam", "José García López", "María Fernández Ruiz",
    "Bram van den Berg", "Sanne de Jong", "Giulia Rossi", "Łukasz Wiśniewski",
    "Małgorzata Kowalczyk", "Özlem Yılmaz", "Mehmet Şahin", "Ahmad Al-Hassan",
    "Siobhán Ní Bhriain", "François Lefèvre", "Chloé Martin", "Björn Åkesson", "Ivana Kovačević",
    "Dimitrios Papadopoulos", "Hans-Peter Schmidt", "Emily Smith", "Seán Murphy",
    "Nguyen Thi Mai", "Zoë Dubois-Laurent", "Karl-Heinz Böhm", "Lotte de Vries", "Ayşe Çelik",
    "Pieter Jansen", "Fatima Haddad", "Sérgio Gonçalves", "Tomasz Nowak", "Grace O'Connor",
};
#define N_NAMES (sizeof NAMES / sizeof NAMES[0])

static tl_masker *new_masker(void)
{
    tl_masker *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_masker_new(&m, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < N_NAMES; i++)
        cr_assert_eq(tl_masker_add_name(m, NAMES[i], &err), 0, "%s: %s", NAMES[i], err.msg);
    return m;
}

static char *mask_n(const tl_masker *m, const char *s, size_t n)
{
    char *out = NULL;
    size_t out_len = 0;
    tl_err err = {0};
    cr_assert_eq(tl_masker_mask(m, s, n, &out, &out_len, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(out), out_len);
    return out;
}

static char *mask_str(const tl_masker *m, const char *s)
{
    return mask_n(m, s, strlen(s));
}

#define EXPECT_MASK(m, in, want)                                                                   \
    do {                                                                                           \
        char *got_ = mask_str((m), (in));                                                          \
        cr_expect_str_eq(got_, (want), "masking \"%s\"", (in));                                    \
        free(got_);                                                                                \
    } while (0)

#define EXPECT_KEPT(m, in) EXPECT_MASK(m, in, in)

/* ---------------------------------------------------- span lists --- */

struct spans {
    struct tl_mask_span *v;
    size_t n, cap;
};

static void spans_push(struct spans *l, size_t a, size_t b, enum tl_mask_kind k)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        cr_assert(l->v);
    }
    l->v[l->n++] = (struct tl_mask_span){a, b, k};
}

static int on_span(void *ud, const struct tl_mask_span *sp)
{
    spans_push(ud, sp->start, sp->end, sp->kind);
    return 0;
}

static void find_spans(const tl_masker *m, const char *s, size_t n, struct spans *out)
{
    tl_err err = {0};
    out->n = 0;
    cr_assert_eq(tl_masker_find(m, s, n, on_span, out, &err), 0, "%s", err.msg);
}

/* Which placeholder starts at e (its kind, or -1). */
static int placeholder_at(const char *e, size_t el, size_t *plen)
{
    for (int k = 0; k < TL_MASK_KIND_COUNT; k++) {
        const char *ph = tl_mask_placeholder((enum tl_mask_kind)k);
        size_t n = strlen(ph);
        if (n <= el && memcmp(e, ph, n) == 0) {
            *plen = n;
            return k;
        }
    }
    return -1;
}

/* The spans of t that the masked form e implies: e is t with some pieces
 * replaced by placeholders; each placeholder covers the shortest piece that
 * lets the rest of e match the rest of t. */
static bool align(const char *t, size_t tl, size_t ti, const char *e, size_t el, size_t ei,
                  struct spans *out)
{
    size_t plen = 0;
    int k;
    while (ei < el && (k = placeholder_at(e + ei, el - ei, &plen)) < 0) {
        if (ti >= tl || t[ti] != e[ei])
            return false;
        ti++;
        ei++;
    }
    if (ei == el)
        return ti == tl;
    for (size_t j = ti + 1; j <= tl; j++) {
        size_t mark = out->n;
        spans_push(out, ti, j, (enum tl_mask_kind)k);
        if (align(t, tl, j, e, el, ei + plen, out))
            return true;
        out->n = mark;
    }
    return false;
}

/* How many ways e aligns with t (stops counting at 2): a row of the
 * labelled set must say its spans unambiguously. */
static int count_alignments(const char *t, size_t tl, size_t ti, const char *e, size_t el, size_t ei)
{
    size_t plen = 0;
    int k;
    while (ei < el && (k = placeholder_at(e + ei, el - ei, &plen)) < 0) {
        if (ti >= tl || t[ti] != e[ei])
            return 0;
        ti++;
        ei++;
    }
    if (ei == el)
        return ti == tl;
    int n = 0;
    for (size_t j = ti + 1; j <= tl && n < 2; j++)
        n += count_alignments(t, tl, j, e, el, ei + plen);
    return n;
}

/* ------------------------------------------------ the labelled set --- */

struct row {
    char *text, *expected;
    int line;
};

/* The source tree: $TELLER_SRC (CTest sets it), else found from this
 * file's path, so the binary also runs by hand from a build directory. */
static const char *src_dir(char *buf, size_t size)
{
    const char *src = getenv("TELLER_SRC");
    if (src && *src) {
        snprintf(buf, size, "%s", src);
        return buf;
    }
    snprintf(buf, size, "%s", __FILE__);
    char *tail = strstr(buf, "/tests/unit/");
    if (tail)
        *tail = 0;
    else
        snprintf(buf, size, "..");
    return buf;
}

static const char *fixture_path(char *buf, size_t size)
{
    char src[3000];
    snprintf(buf, size, "%s/tests/fixtures/pii/labelled.tsv", src_dir(src, sizeof src));
    return buf;
}

static struct row *load_rows(size_t *n_rows)
{
    char path[4096];
    fixture_path(path, sizeof path);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open the labelled set %s (set TELLER_SRC)", path);
    struct row *rows = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    int lineno = 0;
    while ((got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (got == 0 || line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        cr_assert(tab, "%s:%d: no TAB between text and expected", path, lineno);
        *tab = 0;
        cr_assert(!strchr(tab + 1, '\t'), "%s:%d: more than two columns", path, lineno);
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            rows = realloc(rows, cap * sizeof *rows);
            cr_assert(rows);
        }
        rows[n++] = (struct row){strdup(line), strdup(tab + 1), lineno};
    }
    free(line);
    fclose(f);
    *n_rows = n;
    return rows;
}

static void free_rows(struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].text);
        free(rows[i].expected);
    }
    free(rows);
}

static bool span_in(const struct spans *l, const struct tl_mask_span *sp)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].start == sp->start && l->v[i].end == sp->end && l->v[i].kind == sp->kind)
            return true;
    return false;
}

Test(mask_labelled, recall_and_precision)
{
    size_t n_rows;
    struct row *rows = load_rows(&n_rows);
    tl_masker *m = new_masker();
    uint64_t tp = 0, fn = 0, fp = 0, n_neg_rows = 0, exact_rows = 0;
    uint64_t kind_exp[TL_MASK_KIND_COUNT] = {0}, kind_tp[TL_MASK_KIND_COUNT] = {0};
    uint64_t kind_fp[TL_MASK_KIND_COUNT] = {0};
    struct spans want = {0}, got = {0};
    for (size_t r = 0; r < n_rows; r++) {
        const char *t = rows[r].text, *e = rows[r].expected;
        want.n = 0;
        cr_assert(align(t, strlen(t), 0, e, strlen(e), 0, &want),
                  "labelled.tsv:%d: the expected column is not the text with placeholders", rows[r].line);
        cr_assert_eq(count_alignments(t, strlen(t), 0, e, strlen(e), 0), 1,
                     "labelled.tsv:%d: the placeholders could stand for other pieces of the text",
                     rows[r].line);
        if (want.n == 0)
            n_neg_rows++;
        find_spans(m, t, strlen(t), &got);
        for (size_t i = 0; i < want.n; i++) {
            kind_exp[want.v[i].kind]++;
            if (span_in(&got, &want.v[i])) {
                tp++;
                kind_tp[want.v[i].kind]++;
            } else {
                fn++;
                fprintf(stderr, "MISS  labelled.tsv:%d %s \"%.*s\" in: %s\n", rows[r].line,
                        tl_mask_kind_name(want.v[i].kind), (int)(want.v[i].end - want.v[i].start),
                        t + want.v[i].start, t);
            }
        }
        for (size_t i = 0; i < got.n; i++) {
            if (!span_in(&want, &got.v[i])) {
                fp++;
                kind_fp[got.v[i].kind]++;
                fprintf(stderr, "FALSE labelled.tsv:%d %s \"%.*s\" in: %s\n", rows[r].line,
                        tl_mask_kind_name(got.v[i].kind), (int)(got.v[i].end - got.v[i].start),
                        t + got.v[i].start, t);
            }
        }
        char *masked = mask_str(m, t);
        if (strcmp(masked, e) == 0)
            exact_rows++;
        free(masked);
        /* placeholders never look like personal data themselves */
        char *again = mask_str(m, e);
        cr_expect_str_eq(again, e, "labelled.tsv:%d: masking the masked text changed it", rows[r].line);
        free(again);
    }
    double recall = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    double precision = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    fprintf(stderr, "labelled set: %zu rows (%llu without PII), %llu spans expected, %llu found\n",
            n_rows, (unsigned long long)n_neg_rows, (unsigned long long)(tp + fn),
            (unsigned long long)(tp + fp));
    for (int k = 0; k < TL_MASK_KIND_COUNT; k++)
        fprintf(stderr, "  %-12s expected %4llu  correct %4llu  false %3llu\n",
                tl_mask_kind_name((enum tl_mask_kind)k), (unsigned long long)kind_exp[k],
                (unsigned long long)kind_tp[k], (unsigned long long)kind_fp[k]);
    fprintf(stderr, "recall %.4f (%llu/%llu)  precision %.4f (%llu/%llu)  rows exact %llu/%zu\n", recall,
            (unsigned long long)tp, (unsigned long long)(tp + fn), precision, (unsigned long long)tp,
            (unsigned long long)(tp + fp), (unsigned long long)exact_rows, n_rows);
    cr_expect_geq(n_rows, 300, "the labelled set needs at least 300 rows, has %zu", n_rows);
    cr_expect_geq(n_neg_rows, 120, "the labelled set needs at least 120 near-misses, has %llu",
                  (unsigned long long)n_neg_rows);
    for (int k = 0; k < TL_MASK_KIND_COUNT; k++)
        cr_expect_geq(kind_exp[k], 20, "kind %s has only %llu examples",
                      tl_mask_kind_name((enum tl_mask_kind)k),
                      (unsigned long long)kind_exp[k]);
    cr_expect_geq(recall, 0.99, "recall %.4f below 0.99", recall);
    cr_expect_geq(precision, 0.97, "precision %.4f below 0.97", precision);
    free(want.v);
    free(got.v);
    tl_masker_free(m);
    free_rows(rows, n_rows);
}

/* Many threads on one masker see what one thread sees. */
struct thread_job {
    const tl_masker *m;
    struct row *rows;
    size_t n_rows;
    uint64_t digest;
};

static int on_span_digest(void *ud, const struct tl_mask_span *sp)
{
    uint64_t *d = ud;
    *d = *d * 1000003u ^ (sp->start * 31u + sp->end * 7u + (uint64_t)sp->kind);
    return 0;
}

static void *thread_main(void *arg)
{
    struct thread_job *j = arg;
    for (int rep = 0; rep < 3; rep++) {
        uint64_t d = 0;
        for (size_t r = 0; r < j->n_rows; r++)
            tl_masker_find(j->m, j->rows[r].text, strlen(j->rows[r].text), on_span_digest, &d, NULL);
        j->digest = d;
    }
    return NULL;
}

Test(mask_labelled, threads_share_one_masker)
{
    size_t n_rows;
    struct row *rows = load_rows(&n_rows);
    tl_masker *m = new_masker();
    struct thread_job one = {m, rows, n_rows, 0};
    thread_main(&one);
    pthread_t th[4];
    struct thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct thread_job){m, rows, n_rows, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(jobs[i].digest, one.digest, "thread %d saw other spans", i);
    }
    tl_masker_free(m);
    free_rows(rows, n_rows);
}

/* ------------------------------------------------------------ cards --- */

Test(mask_card, luhn_and_issuer)
{
    tl_masker *m = new_masker();
    EXPECT_MASK(m, "4111111111111111", "[CARD]");
    EXPECT_KEPT(m, "4111111111111112");                   /* Luhn fails */
    EXPECT_MASK(m, "4111 1111 1111 1111", "[CARD]");
    EXPECT_MASK(m, "4111-1111-1111-1111", "[CARD]");
    EXPECT_KEPT(m, "4111 1111-1111 1111");                 /* mixed separators */
    EXPECT_KEPT(m, "4111  1111 1111 1111");                /* double space */
    EXPECT_MASK(m, "5555 5555 5555 4444", "[CARD]");       /* Mastercard 5x */
    EXPECT_MASK(m, "2223003122003222", "[CARD]");          /* Mastercard 2-series */
    EXPECT_MASK(m, "3782 822463 10005", "[CARD]");         /* Amex 4-6-5 */
    EXPECT_MASK(m, "378282246310005", "[CARD]");
    EXPECT_MASK(m, "3782 8224 6310 005", "[CARD]");        /* Amex, grouped by fours */
    EXPECT_MASK(m, "6011 1111 1111 1117", "[CARD]");       /* Discover */
    EXPECT_MASK(m, "3530111333300000", "[CARD]");          /* JCB */
    EXPECT_MASK(m, "3056 930902 5904", "[CARD]");          /* Diners 4-6-4 */
    EXPECT_MASK(m, "4222222222222", "[CARD]");             /* Visa, 13 digits */
    EXPECT_KEPT(m, "1234567890123452");                    /* Luhn-valid, no issuer starts with 1 */
    EXPECT_KEPT(m, "411111111111111");                     /* Visa with 15 digits */
    EXPECT_KEPT(m, "41111111111111111111");                /* 20 digits */
    EXPECT_KEPT(m, "x4111111111111111");                   /* inside a word */
    EXPECT_KEPT(m, "4111111111111111x");
    EXPECT_KEPT(m, "12.4111111111111111");                 /* the tail of a number */
    EXPECT_KEPT(m, "4111111111111111,50 EUR");             /* an amount */
    EXPECT_MASK(m, "(4111111111111111)", "([CARD])");
    EXPECT_MASK(m, "card 4111 1111 1111 1111 2024", "card [CARD] 2024");
    EXPECT_MASK(m, "pan=4111111111111111;", "pan=[CARD];");
    tl_masker_free(m);
}

/* ------------------------------------------------------------ IBANs --- */

Test(mask_iban, mod97_length_and_shape)
{
    tl_masker *m = new_masker();
    EXPECT_MASK(m, "DE89 3704 0044 0532 0130 00", "[IBAN]");
    EXPECT_MASK(m, "DE89370400440532013000", "[IBAN]");
    EXPECT_MASK(m, "de89370400440532013000", "[IBAN]");
    EXPECT_KEPT(m, "DE88 3704 0044 0532 0130 00");          /* check digits */
    EXPECT_KEPT(m, "DE89 3704 0044 0532 0130 01");          /* checksum; nor a phone inside */
    EXPECT_MASK(m, "DE89370400440532013000 7", "[IBAN] 7");
    EXPECT_MASK(m, "DE89-3704-0044-0532-0130-00", "[IBAN]");
    EXPECT_KEPT(m, "DE8937040044053201300");                /* 21 characters */
    EXPECT_KEPT(m, "DE893704004405320130001");              /* 23 */
    EXPECT_KEPT(m, "XDE89370400440532013000");
    EXPECT_MASK(m, "GB82 WEST 1234 5698 7654 32", "[IBAN]");
    EXPECT_MASK(m, "IE29 AIBK 9311 5212 3456 78", "[IBAN]");
    EXPECT_MASK(m, "FR14 2004 1010 0505 0001 3M02 606", "[IBAN]");
    EXPECT_MASK(m, "NL91 ABNA 0417 1643 00", "[IBAN]");
    EXPECT_MASK(m, "ES91 2100 0418 4502 0005 1332", "[IBAN]");
    EXPECT_MASK(m, "IT60 X054 2811 1010 0000 0123 456", "[IBAN]");
    EXPECT_MASK(m, "AT61 1904 3002 3457 3201", "[IBAN]");
    EXPECT_MASK(m, "BE68 5390 0754 7034", "[IBAN]");
    EXPECT_MASK(m, "CH93 0076 2011 6238 5295 7", "[IBAN]");
    EXPECT_KEPT(m, "NL91 1234 0417 1643 00");               /* NL needs a bank code of letters */
    EXPECT_MASK(m, "IBAN: DE89 3704 0044 0532 0130 00.", "IBAN: [IBAN].");
    tl_masker_free(m);
}

/* ----------------------------------------------------------- emails --- */

Test(mask_email, shapes_and_boundaries)
{
    tl_masker *m = new_masker();
    EXPECT_MASK(m, "anna.mueller@example.de", "[EMAIL]");
    EXPECT_MASK(m, "<anna@example.de>", "<[EMAIL]>");
    EXPECT_MASK(m, "mail anna@example.de.", "mail [EMAIL].");
    EXPECT_MASK(m, "mailto:a.b+c@mail.example.co.uk,", "mailto:[EMAIL],");
    EXPECT_MASK(m, "«anna@example.de»", "«[EMAIL]»");
    EXPECT_KEPT(m, "user@localhost");
    EXPECT_KEPT(m, "@anna");
    EXPECT_KEPT(m, "anna@");
    EXPECT_KEPT(m, "anna@example.d");
    EXPECT_KEPT(m, "anna@example.123");
    EXPECT_KEPT(m, "anna..b@example.de");
    EXPECT_KEPT(m, "anna@-example.de");
    EXPECT_MASK(m, "a@b.cd and c@d.ef", "[EMAIL] and [EMAIL]");
    EXPECT_MASK(m, "x@y@example.de", "x@[EMAIL]");
    EXPECT_MASK(m, "jürgen@müller.de", "[EMAIL]");
    /* a local part longer than 64 bytes is not an address */
    char big[200];
    memset(big, 'a', 100);
    memcpy(big + 100, "@example.de", 12);
    EXPECT_KEPT(m, big);
    tl_masker_free(m);
}

/* ----------------------------------------------------------- phones --- */

Test(mask_phone, formats)
{
    tl_masker *m = new_masker();
    EXPECT_MASK(m, "+49 30 1234567", "[PHONE]");
    EXPECT_MASK(m, "+49 (0)30 1234567", "[PHONE]");
    EXPECT_MASK(m, "+49-171-1234567", "[PHONE]");
    EXPECT_MASK(m, "+491711234567", "[PHONE]");
    EXPECT_MASK(m, "0049 171 1234567", "[PHONE]");
    EXPECT_MASK(m, "030 1234567", "[PHONE]");
    EXPECT_MASK(m, "0171-1234567", "[PHONE]");
    EXPECT_MASK(m, "(030) 123 4567", "[PHONE]");
    EXPECT_MASK(m, "089/12345678", "[PHONE]");
    EXPECT_MASK(m, "01 23 45 67 89", "[PHONE]");
    EXPECT_MASK(m, "01.23.45.67.89", "[PHONE]");
    EXPECT_MASK(m, "Tel:+49 30 1234567", "Tel:[PHONE]");
    EXPECT_MASK(m, "call 030 1234567.", "call [PHONE].");
    EXPECT_KEPT(m, "+49");
    EXPECT_KEPT(m, "+12345");                              /* too short */
    EXPECT_KEPT(m, "+49 30 1234567890123");                /* 16 digits */
    EXPECT_KEPT(m, "+0 30 1234567");                       /* no country code 0 */
    EXPECT_KEPT(m, "030 12345");                           /* 8 digits */
    EXPECT_KEPT(m, "0301234");
    EXPECT_KEPT(m, "01.02.2024");
    EXPECT_KEPT(m, "01.02.2024 10:30");
    EXPECT_KEPT(m, "030 1234567,89");                      /* decimal tail */
    EXPECT_KEPT(m, "0301234567 EUR");
    EXPECT_KEPT(m, "Order 0301234567");
    EXPECT_KEPT(m, "Rechnungsnr. 0301234567");
    EXPECT_KEPT(m, "Kunden-Nr.: 0301234567");
    EXPECT_MASK(m, "Tel.-Nr.: 0301234567", "Tel.-Nr.: [PHONE]");
    EXPECT_KEPT(m, "2024-0171-1234567");
    EXPECT_KEPT(m, "A0301234567");
    tl_masker_free(m);
}

/* ----------------------------------------------------- national ids --- */

Test(mask_national_id, checks)
{
    tl_masker *m = new_masker();
    /* German tax id, ISO 7064 MOD 11,10: 8609574271 -> check digit 9 */
    EXPECT_MASK(m, "86095742719", "[NATIONAL_ID]");
    EXPECT_MASK(m, "86 095 742 719", "[NATIONAL_ID]");
    EXPECT_KEPT(m, "86095742718");
    EXPECT_KEPT(m, "Order 86095742719");
    EXPECT_MASK(m, "Steuer-ID: 86095742719", "Steuer-ID: [NATIONAL_ID]");
    EXPECT_MASK(m, "SSN 123-45-6789", "SSN [NATIONAL_ID]");
    EXPECT_KEPT(m, "000-45-6789");
    EXPECT_KEPT(m, "666-45-6789");
    EXPECT_KEPT(m, "900-45-6789");
    EXPECT_KEPT(m, "123-00-6789");
    EXPECT_KEPT(m, "123-45-0000");
    EXPECT_KEPT(m, "123-45 6789");
    EXPECT_MASK(m, "AB123456C", "[NATIONAL_ID]");
    EXPECT_MASK(m, "AB 12 34 56 C", "[NATIONAL_ID]");
    EXPECT_KEPT(m, "QQ123456C");
    EXPECT_KEPT(m, "GB123456A");
    EXPECT_KEPT(m, "AB123456E");
    EXPECT_MASK(m, "1234567T", "[NATIONAL_ID]");            /* Irish PPS */
    EXPECT_MASK(m, "1234567FA", "[NATIONAL_ID]");
    EXPECT_KEPT(m, "1234567A");
    EXPECT_MASK(m, "12345678Z", "[NATIONAL_ID]");           /* Spanish DNI */
    EXPECT_MASK(m, "12345678-Z", "[NATIONAL_ID]");
    EXPECT_KEPT(m, "12345678A");
    EXPECT_MASK(m, "X1234567L", "[NATIONAL_ID]");           /* NIE */
    EXPECT_MASK(m, "RSSMRA85T10A562S", "[NATIONAL_ID]");    /* codice fiscale */
    EXPECT_KEPT(m, "RSSMRA85T10A562T");
    tl_masker_free(m);
}

/* ------------------------------------------------------------ names --- */

Test(mask_name, variants_and_boundaries)
{
    tl_masker *m = new_masker();
    EXPECT_MASK(m, "Anna Müller", "[NAME]");
    EXPECT_MASK(m, "anna müller", "[NAME]");
    EXPECT_MASK(m, "ANNA MÜLLER", "[NAME]");
    EXPECT_MASK(m, "Anna Mueller", "[NAME]");
    EXPECT_MASK(m, "Anna Muller", "[NAME]");
    EXPECT_MASK(m, "Müller Anna", "[NAME]");
    EXPECT_MASK(m, "Müller, Anna", "[NAME]");
    EXPECT_MASK(m, "Anna\xc2\xa0Müller", "[NAME]");           /* no-break space */
    EXPECT_MASK(m, "Anna Mu\xcc\x88ller", "[NAME]");          /* decomposed ü */
    EXPECT_MASK(m, "(Anna Müller)", "([NAME])");
    EXPECT_KEPT(m, "Annapolis");
    EXPECT_KEPT(m, "Anna Müllerstraße");
    EXPECT_KEPT(m, "Hanna Müller");
    EXPECT_KEPT(m, "Anna");                                  /* a given name alone */
    EXPECT_KEPT(m, "Müller");                                /* a surname alone */
    EXPECT_MASK(m, "Frau Müller", "Frau [NAME]");
    EXPECT_MASK(m, "Hr. Müller", "Hr. [NAME]");
    EXPECT_MASK(m, "Liam O'Brien", "[NAME]");
    EXPECT_MASK(m, "Liam O\xe2\x80\x99" "Brien", "[NAME]");
    EXPECT_MASK(m, "O'Brien, Liam", "[NAME]");
    EXPECT_MASK(m, "Mr O'Brien", "Mr [NAME]");
    EXPECT_MASK(m, "Liam O'Brien's", "[NAME]'s");
    EXPECT_MASK(m, "A. Müller", "[NAME]");                /* initial and surname */
    EXPECT_MASK(m, "Emily J. Smith", "[NAME]");           /* a middle initial */
    EXPECT_KEPT(m, "B. Müller");
    EXPECT_KEPT(m, "A Müller");
    EXPECT_KEPT(m, "not a Smith fan");
    EXPECT_MASK(m, "Bram van den Berg", "[NAME]");
    EXPECT_MASK(m, "van den Berg, Bram", "[NAME]");
    EXPECT_MASK(m, "José García López", "[NAME]");
    EXPECT_MASK(m, "Jose Garcia Lopez", "[NAME]");
    EXPECT_MASK(m, "Sr. López", "Sr. [NAME]");
    EXPECT_MASK(m, "Jürgen Weiss", "[NAME]");
    EXPECT_MASK(m, "Juergen Weiß", "[NAME]");
    EXPECT_MASK(m, "Ahmad Al Hassan", "[NAME]");
    EXPECT_MASK(m, "Özlem Yilmaz", "[NAME]");
    EXPECT_MASK(m, "Anna Müller2", "Anna Müller2");
    tl_masker_free(m);
}

Test(mask_name, name_parts_option_and_bad_names)
{
    tl_masker *m = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_masker_new(&m, &err), 0);
    cr_expect_eq(tl_masker_add_name(m, "", &err), TL_EINVAL);
    cr_expect_eq(tl_masker_add_name(m, "  ,- ", &err), TL_EINVAL);
    cr_expect_eq(tl_masker_add_name(m, "12345", &err), TL_EINVAL);
    cr_expect_eq(tl_masker_add_name(m, "a b c d e f g h i", &err), TL_EINVAL, "nine words");
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cr_expect_eq(tl_masker_add_name(m, longname, &err), TL_EINVAL);
    /* 254 bytes, but 254 + separators once ß is folded to ss: refused whole */
    char eszett[300] = "Herr ";
    for (int i = 0; i < 127; i++)
        memcpy(eszett + 5 + 2 * i, "\xc3\x9f", 3);
    cr_expect_eq(tl_masker_add_name(m, eszett + 5, &err), TL_EINVAL, "%s", err.msg);
    EXPECT_KEPT(m, eszett);
    cr_expect_eq(tl_masker_add_name(m, NULL, &err), TL_EINVAL);
    cr_expect_eq(tl_masker_add_name(m, "Anna Müller", &err), 0, "%s", err.msg);
    cr_expect_eq(tl_masker_add_name(m, "Anna Müller", &err), 0, "adding twice is fine");
    cr_expect_eq(tl_masker_add_name(m, "Cher", &err), 0, "one word: a surname");
    EXPECT_KEPT(m, "Anna called");
    EXPECT_KEPT(m, "Cher sang");
    EXPECT_MASK(m, "Ms Cher sang", "Ms [NAME] sang");
    tl_masker_set_options(m, TL_MASK_OPT_NAME_PARTS);
    EXPECT_MASK(m, "Anna called", "[NAME] called");
    EXPECT_MASK(m, "the Müller file", "the [NAME] file");
    EXPECT_MASK(m, "Cher sang", "[NAME] sang");
    EXPECT_KEPT(m, "Annapolis");
    tl_masker_set_options(m, 0);
    EXPECT_KEPT(m, "Anna called");
    tl_masker_free(m);
}

/* -------------------------------------------------------- addresses --- */

Test(mask_address, forms)
{
    tl_masker *m = new_masker();
    EXPECT_MASK(m, "Hauptstraße 5, 10115 Berlin", "[ADDRESS]");
    EXPECT_MASK(m, "Hauptstr. 5", "[ADDRESS]");
    EXPECT_MASK(m, "Linzer Straße 12a, 1140 Wien.", "[ADDRESS].");
    EXPECT_MASK(m, "12 Rue de Rivoli, 75001 Paris", "[ADDRESS]");
    EXPECT_MASK(m, "Am Markt 3, 04109 Leipzig", "[ADDRESS]");
    EXPECT_KEPT(m, "Am Markt 3");                            /* a weak prefix needs the postal code */
    EXPECT_KEPT(m, "Im Jahr 2023");
    EXPECT_KEPT(m, "Hauptstraße");
    EXPECT_KEPT(m, "Die Hauptstraße ist gesperrt");
    EXPECT_MASK(m, "Die Hauptstraße 5 ist gesperrt", "Die [ADDRESS] ist gesperrt");
    EXPECT_KEPT(m, "10115 Berlin");
    tl_masker_free(m);
}

/* ------------------------------------------------ API and edge cases --- */

Test(mask_api, placeholders_and_arguments)
{
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_CARD), "[CARD]");
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_IBAN), "[IBAN]");
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_EMAIL), "[EMAIL]");
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_PHONE), "[PHONE]");
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_NATIONAL_ID), "[NATIONAL_ID]");
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_NAME), "[NAME]");
    cr_expect_str_eq(tl_mask_placeholder(TL_MASK_ADDRESS), "[ADDRESS]");
    cr_expect_str_eq(tl_mask_placeholder((enum tl_mask_kind)99), "[PII]");
    cr_expect_str_eq(tl_mask_kind_name(TL_MASK_NATIONAL_ID), "national_id");
    cr_expect_str_eq(tl_mask_kind_name((enum tl_mask_kind)-1), "unknown");

    tl_masker *m = new_masker();
    tl_err err = {0};
    char *out = (char *)"untouched";
    size_t n = 7;
    cr_expect_eq(tl_masker_mask(NULL, "x", 1, &out, &n, NULL, &err), TL_EINVAL);
    cr_expect_eq(tl_masker_mask(m, NULL, 1, &out, &n, NULL, &err), TL_EINVAL);
    cr_expect_str_eq(out, "untouched");
    cr_expect_eq(n, 7);
    cr_expect_eq(tl_masker_find(m, "x", 1, NULL, NULL, &err), TL_EINVAL);
    cr_expect_eq(tl_masker_mask(m, "x", TL_MASK_MAX_INPUT_BYTES + 1, &out, &n, NULL, &err), TL_ETOOBIG);

    /* empty input, with and without a pointer */
    cr_assert_eq(tl_masker_mask(m, NULL, 0, &out, &n, NULL, &err), 0);
    cr_expect_str_eq(out, "");
    cr_expect_eq(n, 0);
    free(out);
    cr_assert_eq(tl_masker_mask(m, "", 0, &out, &n, NULL, &err), 0);
    cr_expect_str_eq(out, "");
    free(out);

    /* stats */
    struct tl_mask_stats st;
    memset(&st, 0xff, sizeof st);
    const char *text = "Anna Müller 4111111111111111 anna@example.de +49 30 1234567 4111111111111111";
    cr_assert_eq(tl_masker_mask(m, text, strlen(text), &out, &n, &st, &err), 0);
    cr_expect_str_eq(out, "[NAME] [CARD] [EMAIL] [PHONE] [CARD]");
    cr_expect_eq(st.n_spans, 5);
    cr_expect_eq(st.n_by_kind[TL_MASK_CARD], 2);
    cr_expect_eq(st.n_by_kind[TL_MASK_NAME], 1);
    cr_expect_eq(st.n_by_kind[TL_MASK_IBAN], 0);
    free(out);

    /* embedded NUL bytes are just bytes */
    const char nul[] = "4111111111111111\0Anna Müller";
    cr_assert_eq(tl_masker_mask(m, nul, sizeof nul - 1, &out, &n, NULL, &err), 0);
    cr_expect_eq(n, strlen("[CARD]") + 1 + strlen("[NAME]"));
    cr_expect_eq(memcmp(out, "[CARD]\0[NAME]", n), 0);
    free(out);
    tl_masker_free(m);
    tl_masker_free(NULL);
}

static int stop_after_one(void *ud, const struct tl_mask_span *sp)
{
    (*(int *)ud)++;
    return 1;
}

Test(mask_api, callback_stops_early)
{
    tl_masker *m = new_masker();
    int calls = 0;
    const char *t = "4111111111111111 4111111111111111 4111111111111111";
    cr_expect_eq(tl_masker_find(m, t, strlen(t), stop_after_one, &calls, NULL), 0);
    cr_expect_eq(calls, 1);
    tl_masker_free(m);
}

Test(mask_api, fixed_buffer_never_leaks_a_span)
{
    tl_masker *m = new_masker();
    const char *t = "Kundin Anna Müller, Karte 4111 1111 1111 1111, Tel. +49 30 1234567 – danke";
    char *full = mask_str(m, t);
    size_t full_len = strlen(full);
    char buf[256];
    for (size_t size = 1; size < sizeof buf; size++) {
        size_t n = tl_masker_mask_buf(m, t, strlen(t), buf, size);
        cr_assert_lt(n, size);
        cr_assert_eq(buf[n], 0);
        cr_assert_eq(memcmp(buf, full, n), 0, "size %zu: not a prefix of the masked text", size);
        cr_assert(!strstr(buf, "4111") && !strstr(buf, "Müller") && !strstr(buf, "1234567"));
        /* never inside a placeholder */
        const char *open = strrchr(buf, '[');
        cr_assert(!open || strchr(open, ']'), "size %zu cut a placeholder: %s", size, buf);
        if (size > full_len)
            cr_assert_str_eq(buf, full);
    }
    cr_expect_eq(tl_masker_mask_buf(m, t, strlen(t), buf, 0), 0);
    cr_expect_eq(tl_masker_mask_buf(NULL, t, strlen(t), buf, sizeof buf), 0);
    cr_expect_str_eq(buf, "");
    free(full);
    tl_masker_free(m);
}

/* Random bytes, heavy in what detectors look at: nothing crashes (ASan,
 * UBSan), spans are ordered and inside the input, and the fixed-buffer form
 * is always a prefix of the allocating one. */
Test(mask_api, random_and_invalid_utf8)
{
    tl_masker *m = new_masker();
    static const char alphabet[] = "0123456789 +-./()@,:AaDdEeIiNnMmüÜß\xc3\xa4\xe2\x80\x99\xff\xfe\x80\xc3";
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char in[600], buf[700];
    struct spans sp = {0};
    for (int iter = 0; iter < 3000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = (size_t)(x % sizeof in);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            in[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        find_spans(m, in, n, &sp);
        size_t last = 0;
        for (size_t i = 0; i < sp.n; i++) {
            cr_assert(sp.v[i].start >= last && sp.v[i].end > sp.v[i].start && sp.v[i].end <= n);
            last = sp.v[i].end;
        }
        char *full = mask_n(m, in, n);
        size_t k = tl_masker_mask_buf(m, in, n, buf, (size_t)(x % sizeof buf) + 1);
        cr_assert_eq(memcmp(buf, full, k), 0);
        free(full);
    }
    /* truncated UTF-8 at the very end, around a name and an email */
    EXPECT_MASK(m, "Anna Müller \xc3", "[NAME] \xc3");
    EXPECT_MASK(m, "\xff" "anna@example.de\xff", "\xff[EMAIL]\xff");
    EXPECT_MASK(m, "\xe2\x82" "4111111111111111", "\xe2\x82[CARD]");
    free(sp.v);
    tl_masker_free(m);
}

/* ------------------------------------------------------- big inputs --- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double time_mask(const tl_masker *m, const char *s, size_t n)
{
    double t0 = now_s();
    char *out = mask_n(m, s, n);
    double dt = now_s() - t0;
    free(out);
    return dt;
}

#define MIB ((size_t)1 << 20)

/* Fills buf with repeats of unit. */
static char *repeat(const char *unit, size_t total)
{
    char *b = malloc(total + 1);
    cr_assert(b);
    size_t u = strlen(unit);
    for (size_t i = 0; i < total; i++)
        b[i] = unit[i % u];
    b[total] = 0;
    return b;
}

Test(mask_big, one_mebibyte_is_linear, .timeout = 300)
{
    tl_masker *m = new_masker();
    size_t n_rows;
    struct row *rows = load_rows(&n_rows);
    char *text = malloc(MIB + 4096);
    size_t o = 0;
    for (size_t r = 0; o < MIB; r = (r + 1) % n_rows) {
        size_t l = strlen(rows[r].text);
        memcpy(text + o, rows[r].text, l);
        o += l;
        text[o++] = '\n';
    }
    double dt = time_mask(m, text, o);
    fprintf(stderr, "masked %.2f MiB of labelled text in %.3f s: %.1f MiB/s (this build)\n",
            (double)o / (double)MIB, dt, (double)o / (double)MIB / dt);
    cr_expect_lt(dt, 30.0);
    free(text);
    free_rows(rows, n_rows);

    /* hostile shapes: each would be quadratic with an unbounded look-ahead
     * or look-behind */
    static const char *const units[] = {
        "1",  "0", "0 ", "+1 ", "@", "a@", "a", "Anna ", "Müller, ", "4111 ", "DE89 ", "a.",
        "\xc3\xbc", "\xff", "Hauptstraße ", "12 ", "(0", "Mr ", "Anna-", "x@y.", "-1", "AB12 ",
    };
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        char *b = repeat(units[u], MIB);
        double t = time_mask(m, b, MIB);
        cr_expect_lt(t, 30.0, "1 MiB of \"%s\" took %.1f s", units[u], t);
        free(b);
    }
    tl_masker_free(m);
}

/* ------------------------------------------------------------ store --- */

Test(mask_store, loads_and_unseals_customer_names)
{
    char src[3000], url[1100], key[1100], other_key[1100], csv[4200];
    snprintf(csv, sizeof csv, "%s/tests/fixtures/mini/customers.csv", src_dir(src, sizeof src));
    char *dir = tu_tmpdir();
    cr_assert(dir);
    snprintf(url, sizeof url, "sqlite:%s/bank.db", dir);
    snprintf(key, sizeof key, "%s/teller.key", dir);
    snprintf(other_key, sizeof other_key, "%s/other.key", dir);
    unsetenv("TELLER_DATA_KEY");

    tl_err err = {0};
    tl_config *cfg = tl_config_new();
    cr_assert(cfg);
    cr_assert_eq(tl_config_set(cfg, "store.url", url, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_config_set(cfg, "data.key_file", key, TL_CONFIG_FLAG, &err), 0, "%s", err.msg);
    tl_ctx *ctx = NULL;
    tl_log_set_level(TL_LOG_OFF);
    cr_assert_eq(tl_ctx_open(cfg, &ctx, &err), 0, "%s", err.msg);
    tl_store *s = tl_ctx_store(ctx);
    struct tl_ingest_opts io = {.table = "customers", .path = csv, .quiet = true};
    struct tl_ingest_result ir;
    cr_assert_eq(tl_ingest_file(s, &io, &ir, &err), 0, "%s", err.msg);

    /* one name sealed by hand, so the unseal path runs whatever ingest does */
    char *sealed = NULL;
    const char *grace = "Grace O'Connor";
    cr_assert_eq(tl_keyring_seal(tl_ctx_keyring(ctx), "customers.name", grace, strlen(grace), &sealed, &err),
                 0, "%s", err.msg);
    tl_value p[] = {TL_TEXT(sealed)};
    cr_assert_eq(tl_store_exec(s, "UPDATE customers SET name = ? WHERE id = 'C3'", 1, p, NULL, NULL, &err), 0,
                 "%s", err.msg);
    free(sealed);
    cr_assert_eq(tl_store_exec(s, "UPDATE customers SET erased_ms = 1 WHERE id = 'C2'", 0, NULL, NULL, NULL,
                               &err),
                 0, "%s", err.msg);

    tl_masker *m = NULL;
    cr_assert_eq(tl_masker_new(&m, &err), 0);
    size_t added = 0;
    cr_assert_eq(tl_masker_load_customers(m, ctx, &added, &err), 0, "%s", err.msg);
    cr_expect_eq(added, 2);
    EXPECT_MASK(m, "Anna Müller and Grace O'Connor", "[NAME] and [NAME]");
    EXPECT_KEPT(m, "Liam O'Brien was erased");
    tl_masker_free(m);

    /* a name sealed under a key this context does not hold fails the load */
    tl_keyring *other = NULL;
    cr_assert_eq(tl_keyring_open(other_key, true, &other, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_keyring_seal(other, "customers.name", grace, strlen(grace), &sealed, &err), 0);
    tl_value q[] = {TL_TEXT(sealed)};
    cr_assert_eq(tl_store_exec(s, "UPDATE customers SET name = ? WHERE id = 'C3'", 1, q, NULL, NULL, &err),
                 0);
    free(sealed);
    tl_keyring_free(other);
    cr_assert_eq(tl_masker_new(&m, &err), 0);
    tl_err_clear(&err);
    cr_expect_eq(tl_masker_load_customers(m, ctx, NULL, &err), TL_ECRYPTO);
    cr_expect(strstr(err.msg, "C3"), "the error names the customer: %s", err.msg);
    tl_masker_free(m);

    tl_ctx_close(ctx);
    tl_config_free(cfg);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(dir);
}

/* The PII `teller generate` writes (generate_customers.c): every name,
 * email, phone, address and national id, put in a sentence, is masked whole.
 * This is the recall check on the formats the demo bank really has. */
Test(mask_generated, catches_what_teller_generate_makes, .timeout = 300)
{
    char *dir = tu_tmpdir();
    cr_assert(dir);
    tl_err err = {0};
    struct tl_generate_opts go = {.n_customers = 3000, .seed = 7, .out_dir = dir, .months = 1, .quiet = true};
    struct tl_generate_result gr;
    cr_assert_eq(tl_generate(&go, &gr, &err), 0, "%s", err.msg);
    char path[1200];
    snprintf(path, sizeof path, "%s/customers.csv", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    tl_csv_reader *r = NULL;
    cr_assert_eq(tl_csv_reader_open(f, path, 0, &r, &err), 0, "%s", err.msg);
    const tl_csv_record *rec;
    cr_assert_eq(tl_csv_next(r, &rec, &err), 1, "header");
    cr_assert_str_eq(rec->fields[1], "name");
    cr_assert_str_eq(rec->fields[5], "national_id");
    /* (name, email, phone, address, national id) per customer */
    size_t n = 0, cap = 0;
    char **cols = NULL;
    int rc;
    while ((rc = tl_csv_next(r, &rec, &err)) > 0) {
        if (n + 5 > cap) {
            cap = cap ? cap * 2 : 1024;
            cols = realloc(cols, cap * sizeof *cols);
            cr_assert(cols);
        }
        for (size_t c = 1; c <= 5; c++)
            cols[n++] = strdup(rec->fields[c]);
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    tl_csv_reader_close(r);
    fclose(f);

    tl_masker *m = NULL;
    cr_assert_eq(tl_masker_new(&m, &err), 0);
    for (size_t i = 0; i < n; i += 5)
        cr_assert_eq(tl_masker_add_name(m, cols[i], &err), 0, "%s: %s", cols[i], err.msg);
    size_t missed = 0;
    for (size_t i = 0; i < n; i += 5) {
        char text[1200];
        snprintf(text, sizeof text, "Kunde %s, Tel. %s, E-Mail %s, Adresse %s, Steuer-ID %s.", cols[i],
                 cols[i + 2], cols[i + 1], cols[i + 3], cols[i + 4]);
        char *got = mask_str(m, text);
        const char *want =
            "Kunde [NAME], Tel. [PHONE], E-Mail [EMAIL], Adresse [ADDRESS], Steuer-ID [NATIONAL_ID].";
        if (strcmp(got, want) != 0) {
            missed++;
            fprintf(stderr, "generated customer: %s\n  -> %s\n", text, got);
        }
        free(got);
    }
    fprintf(stderr, "generated customers: %zu of %zu fully masked\n", n / 5 - missed, n / 5);
    cr_expect_eq(missed, 0);
    for (size_t i = 0; i < n; i++)
        free(cols[i]);
    free(cols);
    tl_masker_free(m);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(dir);
}

/* -------------------------------------------------------- log filter --- */

static char *capture_stderr(void (*fn)(void *), void *arg)
{
    int fds[2], saved = dup(2);
    cr_assert_eq(pipe(fds), 0);
    dup2(fds[1], 2);
    close(fds[1]);
    fn(arg);
    dup2(saved, 2);
    close(saved);
    char *out = calloc(1, 65536);
    size_t o = 0;
    ssize_t r;
    while ((r = read(fds[0], out + o, 65535 - o)) > 0)
        o += (size_t)r;
    close(fds[0]);
    return out;
}

static void log_pii(void *arg)
{
    tl_log_set_level(TL_LOG_INFO);
    tl_log(TL_LOG_INFO, "test", "card %s of %s, mail %s", "4111 1111 1111 1111", "Anna Müller",
           "anna@example.de");
}

Test(mask_log, masker_as_log_filter)
{
    tl_masker *m = new_masker();
    tl_log_set_filter(tl_masker_log_filter, m);
    char *out = capture_stderr(log_pii, NULL);
    cr_expect(strstr(out, "\"msg\":\"card [CARD] of [NAME], mail [EMAIL]\""), "got: %s", out);
    cr_expect(!strstr(out, "4111") && !strstr(out, "Müller") && !strstr(out, "anna@"), "leaked: %s", out);
    free(out);

    tl_log_set_filter(NULL, NULL);
    out = capture_stderr(log_pii, NULL);
    cr_expect(strstr(out, "4111 1111 1111 1111"), "without a filter the message is as given: %s", out);
    free(out);
    tl_masker_free(m);
}

/* A filter that writes more than it may: the logger cuts it. */
static size_t greedy_filter(void *ud, const char *msg, size_t len, char *out, size_t out_size)
{
    (*(int *)ud)++;
    memset(out, 'x', out_size);
    return out_size + 100;
}

static void log_once(void *arg)
{
    tl_log_set_level(TL_LOG_INFO);
    tl_log(TL_LOG_DEBUG, "test", "dropped before the filter");
    tl_log(TL_LOG_INFO, "test", "hello");
}

Test(mask_log, filter_output_is_bounded)
{
    int calls = 0;
    tl_log_set_filter(greedy_filter, &calls);
    char *out = capture_stderr(log_once, NULL);
    cr_expect_eq(calls, 1, "messages below the level never reach the filter");
    cr_expect(strstr(out, "\"msg\":\"xxxx"), "got: %.80s", out);
    cr_expect(strchr(out, '\n') && strchr(out, '\n')[1] == 0, "one line");
    cr_expect_lt(strlen(out), 4097);
    tl_log_set_filter(NULL, NULL);
    free(out);
}
