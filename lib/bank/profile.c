/*
 * profile.c - the incremental customer profile (see profile.h): the fold of
 * one transaction into a customer's aggregate state, the state's text form,
 * and its storage in customer_profiles with a watermark.
 *
 * The fold is a pure function of (state, transaction), applied in (ts_ms,
 * id) order, and the text form holds integers only: that is what makes
 * "fold everything at once" and "fold in pieces with refreshes between"
 * give byte-identical states. Reading a profile out of a state lives in
 * profile_signals.c.
 */
#include "profile_internal.h"

#include <teller/datetime.h>
#include <teller/store.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- calendar -------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int32_t tl__pf_month_of(int64_t ms)
{
    int y;
    unsigned m, d;
    tl_civil_from_days(floor_div(ms, 86400000), &y, &m, &d);
    return (int32_t)(y * 12 + (int)m - 1);
}

/* day of month and whether it is the month's last */
static void day_info(int64_t ms, unsigned *dom, bool *last)
{
    int64_t days = floor_div(ms, 86400000);
    int y, y2;
    unsigned m, d, m2, d2;
    tl_civil_from_days(days, &y, &m, &d);
    tl_civil_from_days(days + 1, &y2, &m2, &d2);
    *dom = d;
    *last = m2 != m;
}

/* ---- the fold -------------------------------------------------------------- */

static const char *const KINDS[PF_K_COUNT] = {"card", "salary", "transfer_in", "transfer_out", "bill",
                                              "rent", "atm",    "fee",         "interest",
                                              "loan_payment"};

static int kind_of(const char *k)
{
    for (int i = 0; k && i < PF_K_COUNT; i++)
        if (strcmp(KINDS[i], k) == 0)
            return i;
    return -1;
}

static int channel_of(const char *c)
{
    for (int i = 0; c && i < TL_CH_COUNT; i++)
        if (strcmp(tl_profile_channel_name(i), c) == 0)
            return i;
    return -1;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* case-insensitive substring */
static bool contains(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && toupper((unsigned char)p[i]) == toupper((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static bool mortgage_text(const char *desc)
{
    static const char *const words[] = {"BAUFINANZ", "HYPOTHEK", "MORTGAGE", "IMMOBILIENKREDIT",
                                        "PRET IMMO", "HIPOTECA", "MUTUO"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (contains(desc, words[i]))
            return true;
    return false;
}

/* The spending category of a debit: the kind where it says it all, else the
 * MCC. */
static int category_of(int kind, int mcc)
{
    switch (kind) {
    case PF_K_RENT: return TL_CAT_HOUSING;
    case PF_K_LOAN_PAYMENT: return TL_CAT_DEBT;
    case PF_K_FEE:
    case PF_K_INTEREST: return TL_CAT_FEES;
    case PF_K_ATM: return TL_CAT_CASH;
    default: break;
    }
    int c = mcc >= 0 ? tl_profile_category_of_mcc(mcc) : -1;
    if (c >= 0)
        return c;
    return kind == PF_K_BILL ? TL_CAT_UTILITIES : TL_CAT_OTHER;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--; /* never cut a UTF-8 sequence */
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

void tl__pf_state_init(struct pf_state *s, const char *currency, const char *home_country)
{
    memset(s, 0, sizeof *s);
    copy_str(s->currency, sizeof s->currency, currency);
    copy_str(s->home_country, sizeof s->home_country, home_country);
}

/* Moves the ring forward to month m, clearing the slots it reuses. */
static void advance(struct pf_state *s, int32_t m)
{
    if (s->last_month != 0 && m <= s->last_month)
        return;
    int32_t from = s->last_month == 0 || m - s->last_month >= PF_RING ? m - PF_RING + 1 : s->last_month + 1;
    for (int32_t k = from; k <= m; k++) {
        size_t slot = (size_t)(k % PF_RING);
        memset(&s->ring[slot], 0, sizeof s->ring[slot]);
        s->ring[slot].month = k;
        for (uint32_t i = 0; i < s->n_streams; i++) {
            s->streams[i].amount_minor[slot] = 0;
            s->streams[i].count[slot] = 0;
        }
    }
    s->last_month = m;
    s->last_closed = false;
}

static void stream_add(struct pf_state *s, const struct pf_tx *tx, int kind, int sign, int32_t m)
{
    char desc[TL_PROFILE_DESC_MAX];
    copy_str(desc, sizeof desc, tx->description ? tx->description : "");
    struct pf_stream *st = NULL;
    for (uint32_t i = 0; i < s->n_streams; i++) {
        struct pf_stream *c = &s->streams[i];
        if (c->kind == kind && c->sign == sign && strcmp(c->desc, desc) == 0) {
            st = c;
            break;
        }
    }
    if (!st) {
        if (s->n_streams < PF_MAX_STREAMS) {
            st = &s->streams[s->n_streams++];
        } else {
            /* full: the stalest stream gives way, when it has been silent
             * for three months; else the newcomer is dropped */
            uint32_t old = 0;
            for (uint32_t i = 1; i < s->n_streams; i++)
                if (s->streams[i].last_ms < s->streams[old].last_ms)
                    old = i;
            if (tl__pf_month_of(s->streams[old].last_ms) > m - 3) {
                s->streams_dropped++;
                return;
            }
            st = &s->streams[old];
        }
        memset(st, 0, sizeof *st);
        memcpy(st->desc, desc, sizeof desc);
        st->kind = (uint8_t)kind;
        st->sign = (int8_t)sign;
        st->mcc = (int16_t)(tx->mcc >= 0 && tx->mcc <= 9999 ? tx->mcc : -1);
        st->first_ms = tx->ts_ms;
    }
    size_t slot = (size_t)(m % PF_RING);
    int64_t a = tx->amount_minor < 0 ? -tx->amount_minor : tx->amount_minor;
    st->amount_minor[slot] += a;
    if (st->count[slot] < UINT16_MAX)
        st->count[slot]++;
    st->last_ms = tx->ts_ms;
}

static void signal_add(struct pf_state *s, int which, const struct pf_tx *tx)
{
    struct pf_first *f = &s->sig[which];
    int64_t a = tx->amount_minor < 0 ? -tx->amount_minor : tx->amount_minor;
    if (f->count == 0) {
        f->first_ms = tx->ts_ms;
        f->amount_minor = a;
        copy_str(f->tx_id, sizeof f->tx_id, tx->id);
        copy_str(f->desc, sizeof f->desc, tx->description ? tx->description : "");
        copy_str(f->country, sizeof f->country, tx->country ? tx->country : "");
    }
    f->count++;
    f->last_ms = tx->ts_ms;
    f->total_minor += a;
}

void tl__pf_fold(struct pf_state *s, const struct pf_tx *tx)
{
    s->wm_ms = tx->ts_ms;
    copy_str(s->wm_id, sizeof s->wm_id, tx->id);
    s->n_tx++;
    if (!str_eq(tx->currency, s->currency)) {
        s->n_foreign++;
        return;
    }
    int32_t m = tl__pf_month_of(tx->ts_ms);
    if (s->last_month == 0)
        s->first_ms = tx->ts_ms;
    advance(s, m);
    unsigned dom;
    bool last_day;
    day_info(tx->ts_ms, &dom, &last_day);
    if (last_day)
        s->last_closed = true;

    struct pf_month *mo = &s->ring[m % PF_RING];
    mo->n_tx++;
    int ch = channel_of(tx->channel);
    if (ch >= 0)
        mo->channel[ch]++;
    int kind = kind_of(tx->kind);
    bool current = str_eq(tx->acct_type, "current");
    bool liquid = current || str_eq(tx->acct_type, "savings") || str_eq(tx->acct_type, "deposit");
    int64_t amt = tx->amount_minor;
    if (liquid)
        mo->liquid_net_minor += amt;

    if (amt > 0) {
        if (kind == PF_K_CARD) {
            mo->spend_minor[category_of(kind, tx->mcc)] -= amt; /* a refund */
        } else if (current) {
            mo->credits_minor += amt;
            /* salaries, benefits and pensions come in batch; transfers
             * from people (mobile, online) are not income streams */
            if (kind == PF_K_SALARY || kind == PF_K_INTEREST ||
                (kind == PF_K_TRANSFER_IN && (ch == TL_CH_BATCH || ch < 0)))
                stream_add(s, tx, kind, +1, m);
        }
        return;
    }
    if (amt == 0 || kind < 0)
        return;
    int64_t a = -amt;
    if (kind == PF_K_TRANSFER_OUT) {
        mo->transfers_out_minor += a;
        if (liquid && ch == TL_CH_BATCH)
            stream_add(s, tx, kind, -1, m); /* standing orders: savings plans, card bills */
        return;
    }
    int cat = category_of(kind, tx->mcc);
    mo->spend_minor[cat] += a;
    bool sub = kind == PF_K_CARD && ch == TL_CH_ONLINE &&
               (cat == TL_CAT_ENTERTAINMENT || cat == TL_CAT_UTILITIES || cat == TL_CAT_PERSONAL ||
                tx->mcc == 5968);
    if (kind == PF_K_RENT || kind == PF_K_BILL || kind == PF_K_LOAN_PAYMENT || sub)
        stream_add(s, tx, kind, -1, m);

    if (kind == PF_K_RENT || tx->mcc == 6513)
        signal_add(s, PF_SIG_RENT, tx);
    if (kind == PF_K_LOAN_PAYMENT)
        signal_add(s, mortgage_text(tx->description) ? PF_SIG_MORTGAGE : PF_SIG_LOAN, tx);
    if (cat == TL_CAT_CHILDREN)
        signal_add(s, PF_SIG_CHILDREN, tx);
    /* paid in person abroad: an online shop registered abroad is not travel */
    bool abroad = tx->country && *tx->country && s->home_country[0] &&
                  strcmp(tx->country, s->home_country) != 0 && ch != TL_CH_ONLINE &&
                  (kind == PF_K_CARD || kind == PF_K_ATM);
    if (cat == TL_CAT_TRAVEL || abroad) {
        signal_add(s, PF_SIG_TRAVEL, tx);
        if (abroad) {
            bool known = false;
            for (uint32_t i = 0; i < s->n_countries; i++)
                known = known || strcmp(s->countries[i], tx->country) == 0;
            if (!known && s->n_countries < PF_MAX_COUNTRIES)
                copy_str(s->countries[s->n_countries++], 3, tx->country);
        }
    }
}

void tl__pf_window(const struct pf_state *s, int32_t *from, int32_t *to)
{
    *from = *to = 0;
    if (s->last_month == 0)
        return;
    int32_t first = tl__pf_month_of(s->first_ms);
    unsigned dom;
    bool last;
    day_info(s->first_ms, &dom, &last);
    int32_t lo = dom <= 2 ? first : first + 1;
    int32_t hi = s->last_closed ? s->last_month : s->last_month - 1;
    if (lo < s->last_month - (PF_RING - 1))
        lo = s->last_month - (PF_RING - 1);
    if (hi - lo > PF_RING - 2)
        lo = hi - (PF_RING - 2); /* at most a year */
    if (hi < lo)
        return;
    *from = lo;
    *to = hi;
}

/* ---- the text form ----------------------------------------------------------- */

static json_t *int_array(const int64_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

char *tl__pf_state_dump(const struct pf_state *s)
{
    json_t *ring = json_array(), *streams = json_array(), *sig = json_array(), *cc = json_array();
    for (size_t k = 0; k < PF_RING; k++) {
        const struct pf_month *m = &s->ring[k];
        int64_t ch[TL_CH_COUNT];
        for (int c = 0; c < TL_CH_COUNT; c++)
            ch[c] = m->channel[c];
        json_array_append_new(ring, json_pack("[i,I,I,I,I,o,o]", (int)m->month, (json_int_t)m->n_tx,
                                              (json_int_t)m->credits_minor,
                                              (json_int_t)m->transfers_out_minor,
                                              (json_int_t)m->liquid_net_minor,
                                              int_array(m->spend_minor, TL_CAT_COUNT),
                                              int_array(ch, TL_CH_COUNT)));
    }
    for (uint32_t i = 0; i < s->n_streams; i++) {
        const struct pf_stream *st = &s->streams[i];
        int64_t cnt[PF_RING];
        for (int k = 0; k < PF_RING; k++)
            cnt[k] = st->count[k];
        json_array_append_new(streams, json_pack("[s,i,i,i,I,I,o,o]", st->desc, st->kind, st->sign,
                                                 st->mcc, (json_int_t)st->first_ms,
                                                 (json_int_t)st->last_ms,
                                                 int_array(st->amount_minor, PF_RING),
                                                 int_array(cnt, PF_RING)));
    }
    for (int k = 0; k < PF_SIG_COUNT; k++) {
        const struct pf_first *f = &s->sig[k];
        json_array_append_new(sig, json_pack("[I,I,I,I,I,s,s,s]", (json_int_t)f->count,
                                             (json_int_t)f->first_ms, (json_int_t)f->last_ms,
                                             (json_int_t)f->total_minor, (json_int_t)f->amount_minor,
                                             f->tx_id, f->desc, f->country));
    }
    for (uint32_t i = 0; i < s->n_countries; i++)
        json_array_append_new(cc, json_string(s->countries[i]));
    json_t *j = json_pack("{s:i,s:s,s:s,s:[I,s],s:I,s:I,s:I,s:i,s:b,s:o,s:o,s:I,s:o,s:o}", "v",
                          PF_STATE_VERSION, "cur", s->currency, "home", s->home_country, "wm",
                          (json_int_t)s->wm_ms, s->wm_id, "n", (json_int_t)s->n_tx, "nf",
                          (json_int_t)s->n_foreign, "first", (json_int_t)s->first_ms, "lm",
                          (int)s->last_month, "lc", (int)s->last_closed, "ring", ring, "st", streams,
                          "sd", (json_int_t)s->streams_dropped, "sig", sig, "cc", cc);
    if (!j)
        return NULL;
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return text;
}

static bool load_ints(const json_t *a, int64_t *v, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        if (!json_is_integer(e))
            return false;
        v[i] = json_integer_value(e);
    }
    return true;
}

static bool load_str(const json_t *e, char *dst, size_t cap)
{
    const char *v = json_string_value(e);
    if (!v || strlen(v) >= cap)
        return false;
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

int tl__pf_state_load(const char *text, struct pf_state *s, tl_err *err)
{
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        return tl_err_set(err, TL_ESTORE, "profile state: not JSON (%s)", je.text);
    const char *what = "version";
    if (json_integer_value(json_object_get(j, "v")) != PF_STATE_VERSION)
        goto bad;
    what = "header";
    json_t *wm = json_object_get(j, "wm");
    if (!load_str(json_object_get(j, "cur"), s->currency, sizeof s->currency) ||
        !load_str(json_object_get(j, "home"), s->home_country, sizeof s->home_country) ||
        !json_is_array(wm) || !json_is_integer(json_array_get(wm, 0)) ||
        !load_str(json_array_get(wm, 1), s->wm_id, sizeof s->wm_id))
        goto bad;
    s->wm_ms = json_integer_value(json_array_get(wm, 0));
    s->n_tx = (uint64_t)json_integer_value(json_object_get(j, "n"));
    s->n_foreign = (uint64_t)json_integer_value(json_object_get(j, "nf"));
    s->first_ms = json_integer_value(json_object_get(j, "first"));
    s->last_month = (int32_t)json_integer_value(json_object_get(j, "lm"));
    s->last_closed = json_is_true(json_object_get(j, "lc"));
    s->streams_dropped = (uint64_t)json_integer_value(json_object_get(j, "sd"));

    what = "ring";
    json_t *ring = json_object_get(j, "ring");
    if (json_array_size(ring) != PF_RING)
        goto bad;
    for (size_t k = 0; k < PF_RING; k++) {
        json_t *e = json_array_get(ring, k);
        struct pf_month *m = &s->ring[k];
        int64_t head[5], ch[TL_CH_COUNT];
        if (json_array_size(e) != 7)
            goto bad;
        for (size_t i = 0; i < 5; i++) {
            if (!json_is_integer(json_array_get(e, i)))
                goto bad;
            head[i] = json_integer_value(json_array_get(e, i));
        }
        if (!load_ints(json_array_get(e, 5), m->spend_minor, TL_CAT_COUNT) ||
            !load_ints(json_array_get(e, 6), ch, TL_CH_COUNT))
            goto bad;
        m->month = (int32_t)head[0];
        m->n_tx = (uint32_t)head[1];
        m->credits_minor = head[2];
        m->transfers_out_minor = head[3];
        m->liquid_net_minor = head[4];
        for (int c = 0; c < TL_CH_COUNT; c++)
            m->channel[c] = (uint32_t)ch[c];
    }
    what = "streams";
    json_t *st = json_object_get(j, "st");
    if (!json_is_array(st) || json_array_size(st) > PF_MAX_STREAMS)
        goto bad;
    s->n_streams = (uint32_t)json_array_size(st);
    for (uint32_t i = 0; i < s->n_streams; i++) {
        json_t *e = json_array_get(st, i);
        struct pf_stream *p = &s->streams[i];
        int64_t cnt[PF_RING];
        if (json_array_size(e) != 8 || !load_str(json_array_get(e, 0), p->desc, sizeof p->desc) ||
            !load_ints(json_array_get(e, 6), p->amount_minor, PF_RING) ||
            !load_ints(json_array_get(e, 7), cnt, PF_RING))
            goto bad;
        p->kind = (uint8_t)json_integer_value(json_array_get(e, 1));
        p->sign = (int8_t)json_integer_value(json_array_get(e, 2));
        p->mcc = (int16_t)json_integer_value(json_array_get(e, 3));
        p->first_ms = json_integer_value(json_array_get(e, 4));
        p->last_ms = json_integer_value(json_array_get(e, 5));
        for (int k = 0; k < PF_RING; k++)
            p->count[k] = (uint16_t)cnt[k];
        if (p->kind >= PF_K_COUNT)
            goto bad;
    }
    what = "signals";
    json_t *sig = json_object_get(j, "sig");
    if (json_array_size(sig) != PF_SIG_COUNT)
        goto bad;
    for (int k = 0; k < PF_SIG_COUNT; k++) {
        json_t *e = json_array_get(sig, k);
        struct pf_first *f = &s->sig[k];
        int64_t v[5];
        for (size_t i = 0; i < 5; i++) {
            if (!json_is_integer(json_array_get(e, i)))
                goto bad;
            v[i] = json_integer_value(json_array_get(e, i));
        }
        if (!load_str(json_array_get(e, 5), f->tx_id, sizeof f->tx_id) ||
            !load_str(json_array_get(e, 6), f->desc, sizeof f->desc) ||
            !load_str(json_array_get(e, 7), f->country, sizeof f->country))
            goto bad;
        f->count = (uint32_t)v[0];
        f->first_ms = v[1];
        f->last_ms = v[2];
        f->total_minor = v[3];
        f->amount_minor = v[4];
    }
    what = "countries";
    json_t *cc = json_object_get(j, "cc");
    if (!json_is_array(cc) || json_array_size(cc) > PF_MAX_COUNTRIES)
        goto bad;
    s->n_countries = (uint32_t)json_array_size(cc);
    for (uint32_t i = 0; i < s->n_countries; i++)
        if (!load_str(json_array_get(cc, i), s->countries[i], 3))
            goto bad;
    json_decref(j);
    return 0;
bad:
    json_decref(j);
    memset(s, 0, sizeof *s);
    return tl_err_set(err, TL_ESTORE, "profile state: its %s is malformed (rebuild the profile)", what);
}

/* ---- storage ------------------------------------------------------------------- */

static bool valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!(isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return false;
    }
    return true;
}

struct cust_row {
    bool found;
    char currency[4], country[3];
    bool has_state;
    char *state; /* malloc'ed */
};

static int on_cust(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct cust_row *r = ud;
    r->found = true;
    copy_str(r->currency, sizeof r->currency, v[0].type == TL_VAL_TEXT ? v[0].s : "");
    copy_str(r->country, sizeof r->country, v[1].type == TL_VAL_TEXT ? v[1].s : "");
    if (n > 2 && v[2].type == TL_VAL_TEXT && v[2].len > 0) { /* '' : dropped by a rebuild */
        r->has_state = true;
        r->state = strdup(v[2].s);
    }
    return 1;
}

static int read_customer(tl_store *st, const char *id, struct cust_row *r, tl_err *err)
{
    memset(r, 0, sizeof *r);
    tl_value p[] = {TL_TEXT(id)};
    int rc = tl_store_exec(st,
                           "SELECT c.currency, c.country, p.state FROM customers c"
                           " LEFT JOIN customer_profiles p ON p.id = c.id WHERE c.id = ?",
                           1, p, on_cust, r, err);
    if (rc < 0)
        return rc;
    if (r->has_state && !r->state)
        return tl_err_set(err, TL_ENOMEM, "out of memory reading the profile of %s", id);
    if (!r->found)
        return tl_err_set(err, TL_ENOTFOUND, "customer %s not found", id);
    return 0;
}

/* Loads the customer's state, or a fresh one when it has none (*had
 * false). */
static int load_state(tl_store *st, const char *id, struct pf_state *s, bool *had, tl_err *err)
{
    struct cust_row r;
    *had = false;
    int rc = read_customer(st, id, &r, err);
    if (rc < 0)
        return rc;
    if (r.has_state) {
        *had = true;
        rc = tl__pf_state_load(r.state, s, err);
        if (rc < 0)
            tl_err_prefix(err, "customer %s", id);
    } else {
        tl__pf_state_init(s, r.currency, r.country);
    }
    free(r.state);
    return rc;
}

static int save_state(tl_store *st, const char *id, const struct pf_state *s, tl_err *err)
{
    char *text = tl__pf_state_dump(s);
    if (!text)
        return tl_err_set(err, TL_ENOMEM, "out of memory writing the profile of %s", id);
    tl_value p[] = {TL_TEXT(id), TL_INT(s->wm_ms), TL_TEXT(s->wm_id), TL_INT((int64_t)s->n_tx),
                    TL_TEXT(text), TL_INT(tl_time_now_ms())};
    int rc = tl_store_exec(st,
                           "INSERT INTO customer_profiles (id, watermark_ts_ms, watermark_tx_id,"
                           " n_transactions, state, updated_ms) VALUES (?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (id) DO UPDATE SET watermark_ts_ms = excluded.watermark_ts_ms,"
                           " watermark_tx_id = excluded.watermark_tx_id,"
                           " n_transactions = excluded.n_transactions, state = excluded.state,"
                           " updated_ms = excluded.updated_ms",
                           6, p, NULL, NULL, err);
    free(text);
    return rc;
}

struct fold_ctx {
    struct pf_state *s;
    uint64_t n, foreign;
};

static const char *text_or_null(const tl_value *v)
{
    return v->type == TL_VAL_TEXT ? v->s : NULL;
}

static int on_tx(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct fold_ctx *f = ud;
    struct pf_tx tx = {
        .id = text_or_null(&v[0]),
        .ts_ms = v[1].i,
        .amount_minor = v[2].i,
        .currency = text_or_null(&v[3]),
        .kind = text_or_null(&v[4]),
        .channel = text_or_null(&v[5]),
        .mcc = v[6].type == TL_VAL_INT ? (int)v[6].i : -1,
        .country = text_or_null(&v[7]),
        .description = text_or_null(&v[8]),
        .acct_type = text_or_null(&v[9]),
    };
    uint64_t nf = f->s->n_foreign;
    tl__pf_fold(f->s, &tx);
    f->n++;
    f->foreign += f->s->n_foreign - nf;
    return 0;
}

/* Folds the customer's transactions after the state's watermark. */
static int fold_after(tl_store *st, const char *id, struct pf_state *s, struct fold_ctx *f, tl_err *err)
{
    f->s = s;
    tl_value p[] = {TL_TEXT(id), TL_INT(s->wm_ms), TL_INT(s->wm_ms), TL_TEXT(s->wm_id)};
    return tl_store_exec(st,
                         "SELECT t.id, t.ts_ms, t.amount_minor, t.currency, t.kind, t.channel, t.mcc,"
                         " t.country, t.description, a.type FROM transactions t"
                         " JOIN accounts a ON a.id = t.account_id WHERE a.customer_id = ?"
                         " AND (t.ts_ms > ? OR (t.ts_ms = ? AND t.id > ?)) ORDER BY t.ts_ms, t.id",
                         4, p, on_tx, f, err);
}

static int on_one(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)v, (void)names;
    *(bool *)ud = true;
    return 1;
}

/* Whether the customer has no state yet or transactions after its
 * watermark: a refresh with nothing new reads two index ranges and never
 * parses the state. */
static int anything_new(tl_store *st, const char *id, bool *news, tl_err *err)
{
    bool has = false;
    *news = true;
    tl_value p[] = {TL_TEXT(id)};
    int rc = tl_store_exec(st,
                           "SELECT 1 FROM customer_profiles p WHERE p.id = ? AND p.state <> ''"
                           " AND NOT EXISTS (SELECT 1"
                           " FROM transactions t JOIN accounts a ON a.id = t.account_id"
                           " WHERE a.customer_id = p.id AND (t.ts_ms > p.watermark_ts_ms OR"
                           " (t.ts_ms = p.watermark_ts_ms AND t.id > p.watermark_tx_id)))",
                           1, p, on_one, &has, err);
    if (rc == 0)
        *news = !has;
    return rc;
}

/* Refreshes one customer inside its own store transaction. */
static int refresh_one(tl_store *st, const char *id, struct pf_state *s,
                       struct tl_profile_refresh_stats *stats, tl_err *err)
{
    int rc = tl_store_begin(st, err);
    if (rc < 0)
        return rc;
    bool had = false, news = true;
    struct fold_ctx f = {0};
    rc = anything_new(st, id, &news, err);
    if (rc == 0 && !news) {
        tl_store_rollback(st, NULL);
        return 0;
    }
    if (rc == 0)
        rc = load_state(st, id, s, &had, err);
    if (rc == 0)
        rc = fold_after(st, id, s, &f, err);
    if (rc == 0 && (f.n > 0 || !had))
        rc = save_state(st, id, s, err);
    if (rc < 0) {
        tl_store_rollback(st, NULL);
        return rc;
    }
    rc = tl_store_commit(st, err);
    if (rc == 0 && stats && (f.n > 0 || !had)) {
        stats->customers++;
        stats->transactions += f.n;
        stats->foreign += f.foreign;
    }
    return rc;
}

struct id_list {
    char (*v)[65];
    size_t n, cap;
    bool oom;
};

static int on_id(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct id_list *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        void *nv = realloc(l->v, cap * sizeof *l->v);
        if (!nv) {
            l->oom = true;
            return 1;
        }
        l->v = nv;
        l->cap = cap;
    }
    copy_str(l->v[l->n++], 65, v[0].s);
    return 0;
}

int tl_profile_refresh(tl_ctx *ctx, const char *customer_id, struct tl_profile_refresh_stats *stats,
                       tl_err *err)
{
    if (stats)
        *stats = (struct tl_profile_refresh_stats){0};
    tl_store *st = tl_ctx_store(ctx);
    if (customer_id && !valid_id(customer_id))
        return tl_err_set(err, TL_EINVAL, "customer id \"%.80s\" is not an id", customer_id);
    struct pf_state *s = malloc(sizeof *s);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "out of memory for a profile state");
    int rc = 0;
    if (customer_id) {
        rc = refresh_one(st, customer_id, s, stats, err);
    } else {
        struct id_list ids = {0};
        rc = tl_store_exec(st, "SELECT id FROM customers ORDER BY id", 0, NULL, on_id, &ids, err);
        if (rc == 0 && ids.oom)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory listing customers");
        for (size_t i = 0; rc == 0 && i < ids.n; i++)
            rc = refresh_one(st, ids.v[i], s, stats, err);
        free(ids.v);
    }
    free(s);
    return rc;
}

struct acct_row {
    bool found;
    char customer[65], type[16];
};

static int on_acct(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct acct_row *a = ud;
    a->found = true;
    copy_str(a->customer, sizeof a->customer, v[0].s);
    copy_str(a->type, sizeof a->type, v[1].s);
    return 1;
}

int tl_profile_observe(tl_ctx *ctx, const struct tl_profile_tx *tx, bool *folded, tl_err *err)
{
    if (folded)
        *folded = false;
    if (!tx || !valid_id(tx->id))
        return tl_err_set(err, TL_EINVAL, "transaction id \"%.80s\" is not an id",
                          tx && tx->id ? tx->id : "");
    if (!valid_id(tx->account_id))
        return tl_err_set(err, TL_EINVAL, "transaction %s: account_id is not an id", tx->id);
    if (kind_of(tx->kind) < 0)
        return tl_err_set(err, TL_EINVAL, "transaction %s: kind \"%.40s\" is not a transaction kind",
                          tx->id, tx->kind ? tx->kind : "");
    if (!tx->currency || strlen(tx->currency) != 3)
        return tl_err_set(err, TL_EINVAL, "transaction %s: currency must be an ISO 4217 code", tx->id);
    tl_store *st = tl_ctx_store(ctx);
    struct acct_row a = {0};
    tl_value p[] = {TL_TEXT(tx->account_id)};
    int rc = tl_store_exec(st, "SELECT customer_id, type FROM accounts WHERE id = ?", 1, p, on_acct, &a,
                           err);
    if (rc < 0)
        return rc;
    if (!a.found)
        return tl_err_set(err, TL_ENOTFOUND, "transaction %s: account %s not found", tx->id,
                          tx->account_id);
    struct pf_state *s = malloc(sizeof *s);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "out of memory for a profile state");
    if ((rc = tl_store_begin(st, err)) < 0) {
        free(s);
        return rc;
    }
    bool had = false, after = false;
    rc = load_state(st, a.customer, s, &had, err);
    if (rc == 0 && !had) {
        /* no state yet: the history first (this transaction with it, when stored) */
        struct fold_ctx f = {0};
        rc = fold_after(st, a.customer, s, &f, err);
    }
    if (rc == 0) {
        after = tx->ts_ms > s->wm_ms || (tx->ts_ms == s->wm_ms && strcmp(tx->id, s->wm_id) > 0);
        if (after) {
            struct pf_tx t = {.id = tx->id, .ts_ms = tx->ts_ms, .amount_minor = tx->amount_minor,
                              .currency = tx->currency, .kind = tx->kind, .channel = tx->channel,
                              .mcc = tx->mcc, .country = tx->country, .description = tx->description,
                              .acct_type = a.type};
            tl__pf_fold(s, &t);
        }
        if (after || !had)
            rc = save_state(st, a.customer, s, err);
    }
    if (rc < 0) {
        tl_store_rollback(st, NULL);
        free(s);
        return rc;
    }
    rc = tl_store_commit(st, err);
    free(s);
    if (rc == 0 && folded)
        *folded = after;
    return rc;
}

int tl_profile_rebuild(tl_ctx *ctx, const char *customer_id, tl_err *err)
{
    tl_store *st = tl_ctx_store(ctx);
    /* the state goes, the segment stays: the customer is still in it */
    static const char DROP[] = "UPDATE customer_profiles SET state = '', watermark_ts_ms = -1,"
                               " watermark_tx_id = '', n_transactions = 0";
    if (!customer_id)
        return tl_store_exec(st, DROP, 0, NULL, NULL, NULL, err);
    if (!valid_id(customer_id))
        return tl_err_set(err, TL_EINVAL, "customer id \"%.80s\" is not an id", customer_id);
    struct cust_row r;
    int rc = read_customer(st, customer_id, &r, err);
    free(r.state);
    if (rc < 0)
        return rc;
    tl_value p[] = {TL_TEXT(customer_id)};
    return tl_store_exec(st, "UPDATE customer_profiles SET state = '', watermark_ts_ms = -1,"
                             " watermark_tx_id = '', n_transactions = 0 WHERE id = ?",
                         1, p, NULL, NULL, err);
}

struct state_row {
    char *state;
    int64_t wm;
    char wm_id[65];
    bool found;
};

static int on_state(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)names;
    struct state_row *r = ud;
    r->found = v[0].type == TL_VAL_TEXT && v[0].len > 0; /* '' : dropped by a rebuild */
    r->state = r->found ? strdup(v[0].s) : NULL;
    r->wm = v[1].i;
    copy_str(r->wm_id, sizeof r->wm_id, v[2].type == TL_VAL_TEXT ? v[2].s : "");
    return 1;
}

int tl_profile_state(tl_ctx *ctx, const char *customer_id, char **state, int64_t *watermark_ms,
                     char watermark_id[65], tl_err *err)
{
    *state = NULL;
    if (watermark_ms)
        *watermark_ms = 0;
    if (watermark_id)
        watermark_id[0] = '\0';
    if (!valid_id(customer_id))
        return tl_err_set(err, TL_EINVAL, "customer id \"%.80s\" is not an id",
                          customer_id ? customer_id : "");
    struct state_row r = {0};
    tl_value p[] = {TL_TEXT(customer_id)};
    int rc = tl_store_exec(tl_ctx_store(ctx),
                           "SELECT state, watermark_ts_ms, watermark_tx_id FROM customer_profiles"
                           " WHERE id = ?",
                           1, p, on_state, &r, err);
    if (rc < 0)
        return rc;
    if (r.found && !r.state)
        return tl_err_set(err, TL_ENOMEM, "out of memory reading the profile of %s", customer_id);
    *state = r.state;
    if (watermark_ms)
        *watermark_ms = r.wm;
    if (watermark_id)
        memcpy(watermark_id, r.wm_id, sizeof r.wm_id);
    return 0;
}
