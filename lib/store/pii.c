/*
 * pii.c - what the store layer does with personal data: the context a PII
 * value is sealed under, the blind indexes that make it findable without
 * decrypting, and opening a stored value for export.
 *
 * The blind indexes are listed here once, as data, so that ingest (which
 * fills them), rotation (which backfills them) and lookups (which query them)
 * normalize a value the same way: an index that normalized differently on
 * write and on lookup would simply never match.
 */
#include "internal.h"

#include <teller/keyring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NORM_MAX 512 /* longer than any indexed column's max_len */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Emails compare case-insensitively in practice (the local part is case
 * sensitive by the RFC, but no real mailbox relies on it) and arrive with
 * stray blanks from forms. Only ASCII is folded: folding Unicode would need
 * a locale, and two spellings of one internationalized address are rare. */
static size_t norm_email(const char *v, size_t n, char *out)
{
    while (n && is_blank(v[0])) {
        v++;
        n--;
    }
    while (n && is_blank(v[n - 1]))
        n--;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    return n;
}

/* National ids are written with and without separators ("123-45-6789",
 * "123 45 6789") and letters in either case ("ie998877"). */
static size_t norm_national_id(const char *v, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (is_blank(c) || c == '-')
            continue;
        out[k++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    return k;
}

static const struct bidx {
    const char *table;
    const char *source; /* the PII column (file name) */
    const char *column; /* the derived column holding the index */
    size_t (*normalize)(const char *v, size_t n, char *out); /* out has room for n bytes */
} BIDX[] = {
    {"customers", "email", "email_bidx", norm_email},
    {"customers", "national_id", "national_id_bidx", norm_national_id},
};
#define N_BIDX (sizeof BIDX / sizeof BIDX[0])

void tl__pii_context(const struct tl_table_spec *t, const struct tl_column_spec *c, char *buf,
                     size_t size)
{
    snprintf(buf, size, "%s.%s", t->name, tl_schema_db_name(c));
}

static const struct bidx *find_bidx(const char *table, const char *source, const char *column)
{
    for (size_t i = 0; i < N_BIDX; i++) {
        if (strcmp(BIDX[i].table, table) != 0)
            continue;
        if ((source && strcmp(BIDX[i].source, source) == 0) ||
            (column && strcmp(BIDX[i].column, column) == 0))
            return &BIDX[i];
    }
    return NULL;
}

const char *tl__bidx_column(const char *table, const char *source)
{
    const struct bidx *b = table && source ? find_bidx(table, source, NULL) : NULL;
    return b ? b->column : NULL;
}

bool tl__load_updates(const struct tl_table_spec *t, const struct tl_column_spec *c)
{
    return !c->derived || tl__bidx_source(t->name, c->name) != NULL;
}

const char *tl__bidx_source(const char *table, const char *col)
{
    const struct bidx *b = table && col ? find_bidx(table, NULL, col) : NULL;
    return b ? b->source : NULL;
}

int tl__bidx_value(const struct tl_keyring *kr, const char *table, const char *source,
                   const char *v, size_t n, char hex[65])
{
    const struct bidx *b = table && source ? find_bidx(table, source, NULL) : NULL;
    if (!TL_ALWAYS(b && kr))
        return TL_EINVAL;
    if (n > NORM_MAX)
        return TL_EINVAL;
    char norm[NORM_MAX];
    size_t k = b->normalize(v, n, norm);
    if (k == 0)
        return 1;
    char context[TL__PII_CONTEXT_SIZE];
    snprintf(context, sizeof context, "%s.%s", b->table, b->source);
    tl_keyring_hash(kr, context, norm, k, hex);
    return 0;
}

int tl__pii_open(const tl_store *s, const char *context, const char *row_id, const tl_value *v,
                 char **plain, size_t *plain_len, tl_err *err)
{
    *plain = NULL;
    *plain_len = 0;
    if (v->type != TL_VAL_TEXT || !tl_keyring_is_sealed(v->s, v->len))
        return 0;
    if (!s->keyring)
        return tl_err_set(err, TL_ECRYPTO,
                          "%s of row \"%.64s\" is encrypted and no data key is loaded", context,
                          row_id ? row_id : "?");
    int rc = tl_keyring_unseal(s->keyring, context, v->s, v->len, plain, plain_len, err);
    if (rc < 0)
        tl_err_prefix(err, "row \"%.64s\"", row_id ? row_id : "?");
    return rc;
}
