/*
 * generate_internal.h - what the modules of the synthetic bank share.
 *
 * The generator runs in passes over one world (struct gen_world), one
 * module each:
 *
 *   generate_world.c        regions, cities, merchants, terminals, ATMs,
 *                           statement texts (generate_data.c holds the tables)
 *   generate_products.c     the catalogue (products.csv) and product affinity
 *   generate_customers.c    pass A: profile, latent traits, PII (customers.csv)
 *   generate_portfolio.c    pass A: accounts, holdings, credit applications
 *                           decided by the bank, trips abroad
 *   generate_fraud.c        the per-day compromised terminals and cards
 *   generate_habits.c       pass T: a customer's tastes, payees and budget
 *   generate_tx.c           pass T: month by month, every customer's money
 *                           movements, sorted by time (transactions.csv)
 *   generate_accounts.c     pass B: credit outcomes from simulated behaviour,
 *                           accounts.csv, holdings.csv, applications.csv
 *   generate_interactions.c pass B: funnels and browsing (interactions.csv)
 *
 * Every random draw comes from a substream keyed by (seed, stream, index),
 * so what is drawn for a customer depends on the seed and its index only,
 * never on the order in which work ran. Only ids (numbered in customer
 * order) and the rare email collision depend on the customers before.
 */
#ifndef TL_BANK_GENERATE_INTERNAL_H
#define TL_BANK_GENERATE_INTERNAL_H

#include <teller/err.h>
#include <teller/generate.h>
#include <teller/progress.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- RNG --- */

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
struct gen_rng {
    uint64_t s[4];
};

enum gen_stream {
    GEN_S_WORLD = 1,
    GEN_S_PROFILE = 2,
    GEN_S_PII = 3,
    GEN_S_HABIT = 4,
    GEN_S_TX = 5,
    GEN_S_FRAUD = 6,
    GEN_S_ACCOUNTS = 7,
    GEN_S_APPS = 8,
    GEN_S_INTERACT = 9,
};

static inline uint64_t gen_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t gen_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t gen_next(struct gen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = gen_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gen_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double gen_unif(struct gen_rng *r)
{
    return (double)(gen_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n); n > 0 (Lemire's multiply-shift, bias < 2^-32). */
static inline uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
    return (uint32_t)(((gen_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform integer in [lo, hi]. */
static inline int gen_range(struct gen_rng *r, int lo, int hi)
{
    return lo + (int)gen_below(r, (uint32_t)(hi - lo + 1));
}

static inline bool gen_chance(struct gen_rng *r, double p)
{
    return gen_unif(r) < p;
}

static inline double gen_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static inline double gen_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void tl__gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream, uint64_t index);
double tl__gen_normal(struct gen_rng *r);
/* exp(N(log(median), sigma)). */
double tl__gen_lognormal(struct gen_rng *r, double median, double sigma);
uint32_t tl__gen_poisson(struct gen_rng *r, double lambda);
/* Index i with probability w[i] / sum(w); n > 0 and the sum > 0. */
size_t tl__gen_pick(struct gen_rng *r, const double *w, size_t n);

/* ------------------------------------------------------------- output --- */

/* A CSV file written through one large buffer. Rows are formatted straight
 * into buf by the gen_put_* helpers after gen_need() made room. */
struct gen_out {
    FILE *fp;
    char *buf;
    size_t len, cap;
    uint64_t rows;
    bool failed;
    char path[1024];
};

#define GEN_ROW_MAX 4096 /* bytes one formatted row may take, at most */

/* Opens dir/table.csv and writes the header (the spec's column names). */
int tl__gen_out_open(struct gen_out *o, const char *dir, const char *table, tl_err *err);
void tl__gen_out_flush(struct gen_out *o);
/* Flushes and closes; reports a write failure naming the path. Safe on a
 * struct that was never opened (zeroed) or already closed. */
int tl__gen_out_close(struct gen_out *o, tl_err *err);

static inline void gen_need(struct gen_out *o, size_t n)
{
    if (o->cap - o->len < n)
        tl__gen_out_flush(o);
}

static inline void gen_put(struct gen_out *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void gen_puts(struct gen_out *o, const char *s)
{
    gen_put(o, s, strlen(s));
}

static inline void gen_putc(struct gen_out *o, char c)
{
    o->buf[o->len++] = c;
}

static inline void gen_sep(struct gen_out *o)
{
    o->buf[o->len++] = ',';
}

static inline void gen_eol(struct gen_out *o)
{
    o->buf[o->len++] = '\n';
    o->rows++;
}

/* Decimal digits of v, at least `width` of them (zero padded). */
static inline void gen_put_u64w(struct gen_out *o, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    char *w = o->buf + o->len;
    for (int i = 0; i < n; i++)
        w[i] = tmp[n - 1 - i];
    o->len += (size_t)n;
}

static inline void gen_put_u64(struct gen_out *o, uint64_t v)
{
    gen_put_u64w(o, v, 1);
}

static inline void gen_put_i64(struct gen_out *o, int64_t v)
{
    if (v < 0) {
        gen_putc(o, '-');
        gen_put_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        gen_put_u64(o, (uint64_t)v);
    }
}

/* An external id: prefix then the 1-based number zero padded to width. */
static inline void gen_put_id(struct gen_out *o, const char *prefix, uint64_t n, int width)
{
    gen_puts(o, prefix);
    gen_put_u64w(o, n, width);
}

/* Minor units of EUR (exponent 2) as "-12.30". */
static inline void gen_put_money(struct gen_out *o, int64_t minor)
{
    uint64_t a = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    if (minor < 0)
        gen_putc(o, '-');
    gen_put_u64(o, a / 100);
    gen_putc(o, '.');
    gen_putc(o, (char)('0' + a / 10 % 10));
    gen_putc(o, (char)('0' + a % 10));
}

/* A double with a fixed number of decimals (units held). */
void tl__gen_put_fixed(struct gen_out *o, double v, int decimals);
/* Days since 1970-01-01 as YYYY-MM-DD. */
void tl__gen_put_date(struct gen_out *o, int64_t days);
/* Epoch seconds as YYYY-MM-DDTHH:MM:SSZ. */
void tl__gen_put_ts(struct gen_out *o, int64_t secs);
/* A text field, quoted as tl_csv_write_field would quote it. */
void tl__gen_put_text(struct gen_out *o, const char *s);

/* ------------------------------------------------------------- tables --- */

enum gen_category {
    GEN_C_CURRENT,
    GEN_C_SAVINGS,
    GEN_C_TERM_DEPOSIT,
    GEN_C_CREDIT_CARD,
    GEN_C_PERSONAL_LOAN,
    GEN_C_AUTO_LOAN,
    GEN_C_MORTGAGE,
    GEN_C_INSURANCE,
    GEN_C_FUND,
    GEN_C_ETF,
};

enum gen_asset {
    GEN_A_NONE,
    GEN_A_CASH,
    GEN_A_BOND,
    GEN_A_EQUITY,
    GEN_A_MIXED,
    GEN_A_REAL_ESTATE,
    GEN_A_COMMODITY
};

enum gen_product_id {
    GEN_P_CUR_BASIC,
    GEN_P_CUR_PLUS,
    GEN_P_CUR_YOUTH,
    GEN_P_SAV_FLEX,
    GEN_P_SAV_BONUS,
    GEN_P_TD_12,
    GEN_P_TD_36,
    GEN_P_CC_CLASSIC,
    GEN_P_CC_GOLD,
    GEN_P_CC_PLATINUM,
    GEN_P_LOAN_PERSONAL,
    GEN_P_LOAN_AUTO,
    GEN_P_MORTGAGE_10,
    GEN_P_MORTGAGE_20,
    GEN_P_INS_LIFE,
    GEN_P_INS_HOME,
    GEN_P_INS_TRAVEL,
    GEN_P_FUND_MONEY,
    GEN_P_FUND_GOVBOND,
    GEN_P_ETF_CORPBOND,
    GEN_P_FUND_HIGHYIELD,
    GEN_P_FUND_BALANCED,
    GEN_P_FUND_GROWTH,
    GEN_P_ETF_WORLD,
    GEN_P_FUND_EUROPE,
    GEN_P_ETF_DAX,
    GEN_P_ETF_EMERGING,
    GEN_P_FUND_TECH,
    GEN_P_ETF_ESG,
    GEN_P_FUND_REALESTATE,
    GEN_P_ETF_GOLD,
    GEN_P_COUNT
};

#define GEN_NONE_BP INT32_MIN

struct gen_product {
    const char *name;
    enum gen_category category;
    enum gen_asset asset;
    int risk;          /* 1..5 */
    int32_t rate_bp;   /* deposit or lending rate; GEN_NONE_BP when none */
    int64_t fee_minor; /* yearly fee or premium */
    int min_age, max_age;
    int64_t min_income_minor;
    int32_t return_bp, vol_bp; /* funds and ETFs; GEN_NONE_BP otherwise */
    double nav;                /* price of one unit, funds and ETFs */
};

extern const struct gen_product tl__gen_products[GEN_P_COUNT];

static inline bool gen_is_investment(int p)
{
    enum gen_category c = tl__gen_products[p].category;
    return c == GEN_C_FUND || c == GEN_C_ETF;
}

/* Card spending categories (merchant category codes, ISO 18245). */
enum gen_spend {
    GEN_K_GROCERY,
    GEN_K_BAKERY,
    GEN_K_RESTAURANT,
    GEN_K_FASTFOOD,
    GEN_K_BAR,
    GEN_K_FUEL,
    GEN_K_DEPARTMENT,
    GEN_K_CLOTHING,
    GEN_K_ELECTRONICS,
    GEN_K_DIY,
    GEN_K_PHARMACY,
    GEN_K_TRANSIT,
    GEN_K_TAXI,
    GEN_K_CINEMA,
    GEN_K_MISC,
    GEN_K_AIRLINE,
    GEN_K_HOTEL,
    GEN_K_DIGITAL,
    GEN_K_COUNT
};

enum gen_hours {
    GEN_H_SHOP,
    GEN_H_BAKERY,
    GEN_H_MEAL,
    GEN_H_FAST,
    GEN_H_BAR,
    GEN_H_FUEL,
    GEN_H_COMMUTE,
    GEN_H_EVENING,
    GEN_H_ONLINE,
    GEN_H_NIGHT,
    GEN_H_OFFICE,
    GEN_H_COUNT
};

struct gen_spend_cat {
    const char *name;
    int mcc;
    double share;        /* baseline share of a customer's card payments */
    double median_eur;   /* typical ticket */
    double sigma;        /* log-normal spread of the ticket */
    double online_share; /* card-not-present share */
    enum gen_hours hours;
    double dow[7];                  /* in-store weight Monday..Sunday (German Sunday closing) */
    double month[12];               /* seasonal weight January..December */
    double per_customer;            /* in-store merchants per resident customer of a city */
    int min_merchants;              /* per city */
    int term_lo, term_hi;           /* terminals per merchant */
    double abroad;                  /* weight while travelling (0: never abroad) */
    const char *const *brands;      /* home-market chains and names */
    const char *const *brands_intl; /* names used abroad */
    const char *const *online;      /* card-not-present merchants "NAME|CC" */
};

extern const struct gen_spend_cat tl__gen_spend[GEN_K_COUNT];
extern const double tl__gen_hour_profile[GEN_H_COUNT][24];

struct gen_city {
    const char *name;    /* as written in addresses */
    const char *stmt;    /* upper-case ASCII as printed on statements */
    const char *country; /* ISO 3166-1 alpha-2 */
    const char *region;
    double income_mult; /* regional income level */
    double rent_mult;
    double residents; /* share of customers living there */
    double visitors;  /* attractiveness as a travel destination */
    int plz_lo, plz_hi;
    const char *area_code; /* landline prefix without the country code */
    const char *const *streets;
    bool flight; /* usually reached by air from Germany */
};

extern const struct gen_city tl__gen_cities[];
extern const size_t tl__gen_n_cities;

struct gen_country {
    const char *code;
    const char *phone; /* "+49" */
};
extern const struct gen_country tl__gen_countries[];
extern const size_t tl__gen_n_countries;
int tl__gen_country_index(const char *code);

enum gen_occupation {
    GEN_O_STUDENT,
    GEN_O_RETAIL,
    GEN_O_HOSPITALITY,
    GEN_O_DRIVER,
    GEN_O_CRAFTS,
    GEN_O_CLERK,
    GEN_O_NURSE,
    GEN_O_TEACHER,
    GEN_O_CIVIL_SERVANT,
    GEN_O_ENGINEER,
    GEN_O_SOFTWARE,
    GEN_O_MANAGER,
    GEN_O_LAWYER,
    GEN_O_PHYSICIAN,
    GEN_O_SELF_EMPLOYED,
    GEN_O_RETIRED,
    GEN_O_UNEMPLOYED,
    GEN_O_COUNT
};

struct gen_occupation_info {
    const char *name;
    double median_eur;            /* gross yearly income at mid-career in an average region */
    double sigma;                 /* log-normal spread */
    double weight;                /* share among working-age customers */
    double stability;             /* employment stability: scales years with the employer */
    const char *const *employers; /* payers printed on salary credits */
};

extern const struct gen_occupation_info tl__gen_occupations[GEN_O_COUNT];

struct gen_name_group {
    const char *const *male;
    const char *const *female;
    const char *const *last;
    double weight;
    const char *home; /* country code of residents abroad who draw from it, or NULL */
};

extern const struct gen_name_group tl__gen_name_groups[];
extern const size_t tl__gen_n_name_groups;
extern const char *const tl__gen_email_domains[];
extern const char *const tl__gen_landlords[];
extern const char *const tl__gen_utilities[];
extern const char *const tl__gen_telcos[];
extern const char *const tl__gen_mobile[];
extern const char *const tl__gen_insurers[];
extern const char *const tl__gen_gyms[];
extern const char *const tl__gen_loan_purposes[];

/* Entries of a NULL-terminated string list. */
size_t tl__gen_count(const char *const *list);

/* --------------------------------------------------------------- world --- */

enum gen_table { /* result order: the schema's order */
                 GEN_TB_PRODUCTS,
                 GEN_TB_CUSTOMERS,
                 GEN_TB_ACCOUNTS,
                 GEN_TB_HOLDINGS,
                 GEN_TB_TRANSACTIONS,
                 GEN_TB_APPLICATIONS,
                 GEN_TB_INTERACTIONS,
};

enum gen_kind { /* transactions.kind, in the schema's order */
                GEN_T_CARD,
                GEN_T_SALARY,
                GEN_T_TRANSFER_IN,
                GEN_T_TRANSFER_OUT,
                GEN_T_BILL,
                GEN_T_RENT,
                GEN_T_ATM,
                GEN_T_FEE,
                GEN_T_INTEREST,
                GEN_T_LOAN_PAYMENT,
};

enum gen_channel { GEN_CH_POS, GEN_CH_ONLINE, GEN_CH_ATM, GEN_CH_BRANCH, GEN_CH_MOBILE, GEN_CH_BATCH };

enum gen_acct_type { /* accounts.type, in the schema's order */
                     GEN_AT_CURRENT,
                     GEN_AT_SAVINGS,
                     GEN_AT_DEPOSIT,
                     GEN_AT_CREDIT_CARD,
                     GEN_AT_LOAN,
                     GEN_AT_MORTGAGE,
                     GEN_AT_INVESTMENT,
};

enum gen_acct_status { GEN_AS_OPEN, GEN_AS_CLOSED, GEN_AS_FROZEN };
enum gen_app_status { GEN_AP_PENDING, GEN_AP_APPROVED, GEN_AP_DECLINED, GEN_AP_WITHDRAWN };
enum gen_segment {
    GEN_SEG_MASS,
    GEN_SEG_AFFLUENT,
    GEN_SEG_PRIVATE,
    GEN_SEG_YOUTH,
    GEN_SEG_SENIOR,
    GEN_SEG_SMB
};

#define GEN_NO_INDEX UINT32_MAX

struct gen_merchant {
    uint32_t term_first; /* terminals term_first .. term_first + n_term - 1 */
    uint16_t n_term;
    uint8_t cat;     /* enum gen_spend */
    uint8_t country; /* index into tl__gen_countries */
    uint16_t city;   /* index into tl__gen_cities; UINT16_MAX for online */
    uint32_t text;   /* statement text */
    double pop_cum;  /* popularity, cumulative within the merchant's shelf */
};

/* Merchants of one spending category in one city (or online), contiguous in
 * world->merchants; their pop_cum makes weighted draws a binary search. */
struct gen_shelf {
    uint32_t first, n;
};

struct gen_account {
    uint32_t cust;
    uint8_t type;    /* enum gen_acct_type */
    uint8_t status;  /* enum gen_acct_status */
    uint8_t product; /* enum gen_product_id, or UINT8_MAX */
    uint8_t pay_dom; /* day of month of loan payments */
    int32_t opened_day;
    int32_t matures_day; /* loans: last payment; INT32_MAX otherwise */
    int32_t opened_sec;  /* second of the day (UTC) */
    int16_t term_months;
    int64_t limit_minor;   /* credit limit or loan principal */
    int64_t payment_minor; /* monthly loan payment */
    int64_t balance_minor; /* at the end of history */
};

struct gen_holding {
    uint32_t cust;
    uint8_t product;
    int32_t opened_day;
    int32_t opened_sec;
    uint32_t account; /* GEN_NO_INDEX when the holding sits in no account */
    int64_t value_minor;
};

struct gen_app {
    uint32_t cust;
    uint8_t product;
    uint8_t status; /* enum gen_app_status */
    uint8_t purpose;
    uint8_t delinquencies;
    uint8_t employment_years;
    int32_t applied_day;
    int32_t applied_sec;
    int16_t term_months; /* 0 for cards */
    int64_t amount_minor, income_minor, debt_minor;
    uint32_t account; /* the account it opened, when approved */
    int8_t defaulted; /* outcome: 1, 0, or -1 while unknown */
};

#define GEN_MAX_TRIPS 8

struct gen_trip {
    int32_t start_day;
    uint8_t nights;
    uint8_t flight;
    uint16_t city;
};

struct gen_cust {
    int32_t birth_day, since_day;
    uint16_t city;
    uint8_t occupation, segment, household, age, risk_pref;
    uint8_t employment_years;
    bool has_car, pays_rent, revolver, investor;
    float fragility;   /* latent financial fragility, ~N(0,1): drives credit risk */
    float appetite;    /* latent risk appetite, ~N(0,1) */
    float spend_ratio; /* share of net income spent */
    float cash_share;
    float engagement;        /* digital engagement: interactions */
    int64_t income_minor;    /* gross yearly */
    int64_t net_month_minor; /* net monthly pay */
    uint32_t acct_first, hold_first, app_first;
    uint8_t n_acct, n_hold, n_app;
    int8_t acct_cur, acct_sav, acct_card, acct_inv; /* offsets from acct_first; -1 none */
    uint8_t n_trips;
    struct gen_trip trips[GEN_MAX_TRIPS];

    /* pass T state */
    struct gen_rng rng;
    int64_t cur_minor, sav_minor, card_minor, card_stmt_minor, plan_minor;
    double od_interest_minor;
    uint16_t od_days;
    uint8_t od_months, active_months;
    double spend_sum, spend_sq; /* monthly spending, EUR */
    uint32_t n_card_tx;
};

/* One transaction of the month being generated. */
struct gen_tx {
    int64_t ts;           /* epoch seconds */
    int64_t amount_minor; /* signed */
    uint32_t account;
    uint32_t terminal; /* POS/online terminal, n_terminals + ATM, or GEN_NO_INDEX */
    uint32_t text;
    uint16_t mcc; /* 0 for none */
    uint8_t kind, channel, country, fraud;
};

/* Growable array; grows geometrically, never per element. */
#define GEN_VEC(T)                                                                                           \
    struct {                                                                                                 \
        T *v;                                                                                                \
        size_t n, cap;                                                                                       \
    }

int tl__gen_grow(void **v, size_t *cap, size_t need, size_t elem);
#define GEN_PUSH(vec, err_label)                                                                             \
    do {                                                                                                     \
        if ((vec).n == (vec).cap &&                                                                          \
            tl__gen_grow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof *(vec).v) < 0)                   \
            goto err_label;                                                                                  \
    } while (0)

struct gen_world {
    uint64_t seed, n_customers;
    int months;
    int32_t start_day, end_day, n_days; /* history: [start_day, end_day] */
    int8_t *utc_offset_h;               /* per history day: local - UTC (1 or 2) */
    const char *out_dir;

    GEN_VEC(struct gen_merchant) merchants;
    GEN_VEC(uint32_t) term_merchant; /* terminal -> merchant */
    uint32_t n_pos_terminals;        /* terminals [0, n_pos_terminals) are in-store */
    struct gen_shelf *shelves;       /* (n_cities, GEN_K_COUNT) */
    struct gen_shelf online[GEN_K_COUNT];
    uint32_t *atm_first, *atm_n; /* per city */
    uint32_t *city_atm_text;     /* per city */
    uint32_t n_atms;

    GEN_VEC(char *) texts; /* statement texts, CSV-ready */
    GEN_VEC(char) text_pool;
    uint32_t text_savings_in, text_savings_out, text_card_pay, text_card_in;
    uint32_t text_od_interest, text_card_interest, text_account_fee, text_card_fee;
    uint32_t text_interest, text_broadcast, text_plan, text_atm_fee, text_parents;
    uint32_t text_benefits, text_clients, text_p2p_in, text_p2p_out, text_loan, text_mortgage;
    uint32_t text_insurance, text_transfer_from_sav, text_transfer_to_cur;
    uint32_t *employer_text; /* per occupation: first text of its employers */
    uint32_t landlord_text, utility_text, telco_text, mobile_text, insurer_text, gym_text;

    struct gen_cust *cust;
    GEN_VEC(struct gen_account) accounts;
    GEN_VEC(struct gen_holding) holdings;
    GEN_VEC(struct gen_app) apps;

    /* fraud schedule: per entity, start days of compromise (CSR) */
    uint32_t *term_comp_first, *term_comp_day;
    uint32_t *card_comp_first, *card_comp_day;
    int64_t fraud_threshold_minor; /* scenario 1 */

    uint64_t n_fraud, n_card_tx;
    uint64_t rows[8];
    tl_progress *prog;
    uint64_t prog_done, prog_total;
};

/* Adds a statement text (escaped for CSV once, here) and returns its index. */
int tl__gen_text_add(struct gen_world *w, const char *s, uint32_t *out);
static inline const char *gen_text(const struct gen_world *w, uint32_t i)
{
    return w->texts.v[i];
}

/* Hours to add to UTC for German local time on a day (CET/CEST). */
int tl__gen_utc_offset(int64_t day);
/* Epoch seconds of a local time of day on a day of history or before. */
static inline int64_t gen_local_ts(const struct gen_world *w, int64_t day, int local_sec)
{
    int off = (day >= w->start_day && day <= w->end_day) ? w->utc_offset_h[day - w->start_day]
                                                         : tl__gen_utc_offset(day);
    return day * 86400 + local_sec - off * 3600;
}

/* Day of week of a day number: 0 Monday .. 6 Sunday. */
static inline int gen_weekday(int64_t day)
{
    int64_t wd = (day + 3) % 7; /* 1970-01-01 was a Thursday */
    return (int)(wd < 0 ? wd + 7 : wd);
}

int tl__gen_age_at(int32_t birth_day, int64_t day);

/* ------------------------------------------------------------- pass T --- */

#define GEN_S2_DAYS 28 /* a compromised terminal stays compromised this long */
#define GEN_S3_DAYS 14 /* a compromised card stays compromised this long */

bool tl__gen_terminal_compromised(const struct gen_world *w, uint32_t terminal, int32_t day);
bool tl__gen_card_compromised(const struct gen_world *w, uint32_t ci, int32_t day);

#define GEN_MAX_FAV 4
#define GEN_MAX_BILLS 10
#define GEN_MAX_SUBS 8

struct gen_bill {
    int64_t amount_minor;
    uint32_t text;
    uint16_t mcc;
    uint8_t dom;
    uint8_t quarterly; /* paid in January, April, July and October only */
};

struct gen_sub {
    int64_t amount_minor;
    uint32_t merchant;
    uint8_t dom;
};

struct gen_habits {
    double base[GEN_K_COUNT];      /* taste: share of payments per category */
    double ticket[GEN_K_COUNT];    /* personal ticket multiplier per category */
    double online_ok[GEN_K_COUNT]; /* card-not-present share, 0 without online merchants */
    uint32_t fav[GEN_K_COUNT][GEN_MAX_FAV], fav_term[GEN_K_COUNT][GEN_MAX_FAV];
    double fav_cum[GEN_K_COUNT][GEN_MAX_FAV];
    uint8_t n_fav[GEN_K_COUNT];
    uint32_t fav_online[GEN_K_COUNT]; /* GEN_NO_INDEX: none */
    double rate;                      /* card payments a month at home */
    double amt_mult;                  /* ticket scale that makes the budget add up */
    double sigma_mult;
    double credit_share; /* share of card payments on the credit card */
    uint32_t salary_text;
    int payday; /* 0: last business day, else day of month */
    bool bonus; /* a 13th salary in November */
    int64_t rent_minor;
    uint32_t rent_text;
    uint8_t rent_dom;
    struct gen_bill bills[GEN_MAX_BILLS];
    int n_bills;
    struct gen_sub subs[GEN_MAX_SUBS];
    int n_subs;
    double atm_rate;
    double atm_typical_eur;
    uint32_t atm_home[2];
    double p2p_out_rate, p2p_in_rate;
    int64_t savings_order_minor;
    uint8_t savings_dom;
    int64_t parents_minor;
    double hotel_eur, flight_eur;
};

/* Fills h with customer ci's habits (the same every call). */
void tl__gen_habits(const struct gen_world *w, uint32_t ci, const struct gen_cust *c, struct gen_habits *h);

/* A merchant of a non-empty shelf, weighted by popularity. */
uint32_t tl__gen_pick_merchant(struct gen_rng *r, const struct gen_world *w, const struct gen_shelf *s);

int tl__gen_world_build(struct gen_world *w, tl_err *err);
void tl__gen_world_free(struct gen_world *w);
int tl__gen_write_products(struct gen_world *w, tl_err *err);
int tl__gen_customers(struct gen_world *w, tl_err *err);
/* Pass A for one customer after its profile: accounts, holdings,
 * applications, trips and the opening balances of the simulation. */
int tl__gen_portfolio(struct gen_world *w, uint32_t ci, struct gen_cust *c, struct gen_rng *r, double wealth);
int tl__gen_fraud_schedule(struct gen_world *w, tl_err *err);
int tl__gen_transactions(struct gen_world *w, tl_err *err);
int tl__gen_write_accounts(struct gen_world *w, tl_err *err);
int tl__gen_write_applications(struct gen_world *w, tl_err *err);
int tl__gen_write_interactions(struct gen_world *w, tl_err *err);

/* Product utility for a customer: shared by holdings and interactions so
 * that what people browse agrees with what they buy. */
double tl__gen_product_affinity(const struct gen_world *w, const struct gen_cust *c, int product);
bool tl__gen_eligible(const struct gen_cust *c, int product, int age);
/* The log-odds that an approved application defaults within 12 months,
 * before the unobserved noise. */
double tl__gen_default_logit(const struct gen_cust *c, const struct gen_app *a);

void tl__gen_progress(struct gen_world *w, uint64_t add);

#endif
