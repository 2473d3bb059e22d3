/*
 * profile.h - customer 360: a profile per customer from its accounts,
 * holdings and transactions, computed incrementally as transactions arrive.
 *
 * What a profile says (struct tl_profile): estimated monthly income
 * (recurring salary-like credits), spending by about 20 readable categories
 * (from the merchant category code, or the kind of movement when there is
 * none), fixed costs (recurring debits: rent, mortgage, loans, utilities,
 * telecom, insurance, subscriptions), the savings rate, the balance with its
 * trend and volatility, the products held, tenure, age, channel use, life
 * signals (new rent or mortgage payments, child-related spending, travel)
 * each with the date first seen and its evidence, and the customer's
 * segment (segment.h) when one was fitted.
 *
 *     struct tl_profile p;
 *     if (tl_profile_get(ctx, "C000042", &p, &err) < 0) ...    // TL_ENOTFOUND when unknown
 *     printf("%lld %s a month\n", (long long)p.income_monthly_minor, p.currency);
 *     json_t *j = tl_profile_json(&p);                          // what the API answers
 *
 * Incremental: each customer's aggregates live in customer_profiles (a
 * state document and a watermark: the (ts_ms, id) of the last transaction
 * folded). tl_profile_refresh folds only the transactions after the
 * watermark, in (ts_ms, id) order; tl_profile_observe folds one arriving
 * transaction. The state keeps a ring of TL_PROFILE_MONTHS calendar months
 * (UTC) of sums, plus the customer's recurring streams (same description and
 * kind) with their monthly totals in the same ring, so a fold is exact: the
 * state after folding a history at once is byte-identical to the state after
 * folding it in pieces with refreshes between. A transaction arriving late
 * (before the watermark) is not folded; tl_profile_rebuild drops the state so
 * that the next refresh folds the whole history again.
 *
 * Averages ("a month") are over the complete months in the ring: the
 * customer's first month counts only if its first transaction fell on the
 * 1st or 2nd, the latest month only if a transaction fell on its last day
 * (month-end fees and interest mark it closed); at most
 * TL_PROFILE_MONTHS - 1 months.
 *
 * Money is integer minor units in the customer's currency (p.currency);
 * transactions in other currencies are counted but not summed. Nothing in a
 * profile is personal data under privacy.h (no name, contact or national
 * id), but it is customer data: the server audits every read.
 */
#ifndef TELLER_PROFILE_H
#define TELLER_PROFILE_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

/* Calendar months kept per customer (a year plus the month in progress). */
#define TL_PROFILE_MONTHS 13

/* Spending categories, from the MCC (tl_profile_category_of_mcc) or, for a
 * movement without one, its kind (rent: housing; loan_payment: debt; fee:
 * fees; atm: cash). Append only: the numbers are stored in states. */
enum tl_profile_category {
    TL_CAT_GROCERIES = 0,
    TL_CAT_RESTAURANTS = 1,
    TL_CAT_FUEL = 2,
    TL_CAT_TRANSPORT = 3,
    TL_CAT_TRAVEL = 4,
    TL_CAT_SHOPPING = 5,
    TL_CAT_CLOTHING = 6,
    TL_CAT_ELECTRONICS = 7,
    TL_CAT_HOME = 8,
    TL_CAT_HEALTH = 9,
    TL_CAT_ENTERTAINMENT = 10,
    TL_CAT_UTILITIES = 11,
    TL_CAT_INSURANCE = 12,
    TL_CAT_HOUSING = 13,
    TL_CAT_DEBT = 14,
    TL_CAT_CASH = 15,
    TL_CAT_CHILDREN = 16,
    TL_CAT_PERSONAL = 17,
    TL_CAT_FEES = 18,
    TL_CAT_OTHER = 19,
    TL_CAT_COUNT = 20
};

/* "groceries", "restaurants", ... (ids in JSON); NULL out of range. */
TL_API const char *tl_profile_category_name(int cat);
/* "groceries", "eating out", "travel (airlines, hotels)", ... for sentences. */
TL_API const char *tl_profile_category_label(int cat);
/* The category of a merchant category code (ISO 18245), or -1 for a code
 * the table does not know (such spending counts as TL_CAT_OTHER). */
TL_API int tl_profile_category_of_mcc(int mcc);

/* Channels as the transactions table names them. */
enum tl_profile_channel {
    TL_CH_POS = 0,
    TL_CH_ONLINE = 1,
    TL_CH_ATM = 2,
    TL_CH_BRANCH = 3,
    TL_CH_MOBILE = 4,
    TL_CH_BATCH = 5,
    TL_CH_COUNT = 6
};
/* "pos", "online", ...; NULL out of range. */
TL_API const char *tl_profile_channel_name(int ch);

#define TL_PROFILE_MAX_RECURRING 24
#define TL_PROFILE_MAX_INCOME 4
#define TL_PROFILE_MAX_PRODUCTS 32
#define TL_PROFILE_MAX_SIGNALS 8
#define TL_PROFILE_DESC_MAX 48 /* description bytes kept, NUL included */

/* A recurring stream: credits or debits with the same description and kind
 * in at least 3 of the last 6 complete months (2 of 2 or 3 when fewer are
 * complete), with similar monthly totals (income: within 25 % of their
 * median in most months, unless the bank marked them salary). */
struct tl_profile_recurring {
    char description[TL_PROFILE_DESC_MAX]; /* as the bank wrote it, truncated */
    char kind[16];   /* the transactions' kind: salary, rent, bill, card, ... */
    char type[16];   /* salary, benefits, other_income; rent, mortgage, loan,
                        utilities, telecom, insurance, subscription, fitness, bill */
    int mcc;         /* -1 when none */
    int64_t monthly_minor; /* median monthly total over the months it was seen */
    int months_seen;       /* of the complete months in the window */
    int64_t first_ms, last_ms;
};

/* A life signal: something that changed or tells about the customer's life. */
struct tl_profile_signal {
    char kind[16];         /* new_rent, new_mortgage, new_loan, children, travel */
    int64_t first_ms;      /* first transaction that showed it */
    int64_t last_ms;
    uint32_t count;        /* transactions that showed it */
    int64_t total_minor;   /* their total (debits, positive) */
    char evidence_tx[65];  /* the first one's id */
    char evidence[160];    /* a sentence: "first MIETE DEUTSCHE WOHNEN debit of 250.00 EUR ..." */
};

/* A product held: an open account with a product, or a holding. */
struct tl_profile_product {
    char product_id[65];
    char category[24];   /* the product's category (products.category) */
    char source[8];      /* "account" or "holding" */
    char ref_id[65];     /* the account or holding id */
    int64_t value_minor; /* balance (accounts; negative for debt) or value (holdings) */
};

struct tl_profile {
    char customer_id[65];
    char currency[4];
    int64_t as_of_ms;           /* the last transaction folded (0: none) */
    uint64_t n_transactions;    /* folded in the state, whole history */
    int months;                 /* complete months averaged (0: averages are 0) */
    char window_from[8], window_to[8]; /* "YYYY-MM" of those months, "" when none */

    /* money in */
    int64_t income_monthly_minor;        /* recurring salary-like credits, median of each stream */
    bool income_found;                   /* a salary-like stream was found */
    int64_t other_credits_monthly_minor; /* every other credit to current accounts, average */
    struct tl_profile_recurring income[TL_PROFILE_MAX_INCOME];
    size_t n_income;

    /* money out */
    int64_t spending_monthly_minor;                 /* sum of the categories */
    int64_t spending_by_category_minor[TL_CAT_COUNT]; /* monthly averages */
    int64_t transfers_out_monthly_minor;            /* to others or own savings: not spending */
    int64_t fixed_costs_monthly_minor;              /* sum of fixed[] */
    struct tl_profile_recurring fixed[TL_PROFILE_MAX_RECURRING];
    size_t n_fixed;

    /* savings rate (income - spending) / income, with income the estimated
     * income when found, else every credit; savings_rate_known false when
     * there was no income at all */
    double savings_rate;
    bool savings_rate_known;

    /* liquid balance: current, savings and deposit accounts, now (from the
     * accounts table), and month-end balances rebuilt backwards from it with
     * the months' net flows: least-squares slope per month and the standard
     * deviation of the month-end balances around that line */
    int64_t balance_minor;
    int64_t balance_trend_minor_per_month;
    int64_t balance_volatility_minor;
    int64_t debt_minor; /* owed on loans, mortgages and credit cards (positive) */

    struct tl_profile_product products[TL_PROFILE_MAX_PRODUCTS];
    size_t n_products;
    uint32_t n_product_categories; /* distinct categories held */

    int tenure_months; /* from customers.customer_since to as_of (or now without transactions) */
    int age_years;     /* at the same instant */
    char country[3];

    double channel_share[TL_CH_COUNT]; /* of the window's transactions; sum 1 (0 when none) */

    struct tl_profile_signal signals[TL_PROFILE_MAX_SIGNALS];
    size_t n_signals;

    int segment;                    /* -1: not segmented */
    char segment_model[64];         /* "segments-v3" */
    char segment_description[256];
};

/* What a refresh did. */
struct tl_profile_refresh_stats {
    uint64_t customers;    /* states written */
    uint64_t transactions; /* transactions folded */
    uint64_t foreign;      /* of which in another currency than the customer's (counted only) */
};

/* Folds the transactions after each watermark into the states, for one
 * customer (customer_id) or every customer (NULL), and stores them. Each
 * customer's state is written in its own store transaction with its
 * watermark, so an interrupted refresh loses nothing and folds nothing
 * twice. stats is optional. An unknown customer is TL_ENOTFOUND. */
TL_API int tl_profile_refresh(tl_ctx *ctx, const char *customer_id,
                              struct tl_profile_refresh_stats *stats, tl_err *err);

/* One transaction, as the server sees it arriving. Strings are borrowed. */
struct tl_profile_tx {
    const char *id;          /* required */
    const char *account_id;  /* required: its customer is the account's owner */
    int64_t ts_ms;
    int64_t amount_minor;    /* signed: negative debits, positive credits */
    const char *currency;    /* ISO 4217 */
    const char *kind;        /* card, salary, ... (transactions.kind) */
    const char *channel;     /* optional */
    int mcc;                 /* -1 unknown */
    const char *country;     /* optional */
    const char *description; /* optional */
};

/* Folds one transaction into its customer's state (loading, folding and
 * storing it in one store transaction): what POST /v1/transactions calls
 * after storing the transaction. A transaction at or before the watermark
 * was folded already or arrived late and is skipped (*folded false; rc 0).
 * Before the customer has a state, the history is folded first (a refresh
 * of that customer), which includes this transaction when it is stored.
 * folded is optional. TL_ENOTFOUND for an unknown account. */
TL_API int tl_profile_observe(tl_ctx *ctx, const struct tl_profile_tx *tx, bool *folded,
                              tl_err *err);

/* Drops the state of one customer (or all: NULL), so the next refresh folds
 * the whole history again: for corrections and late transactions. */
TL_API int tl_profile_rebuild(tl_ctx *ctx, const char *customer_id, tl_err *err);

/* The customer's profile, refreshed first (only what arrived since the last
 * refresh is folded). *out is filled completely; on error it is zeroed with
 * segment -1. TL_ENOTFOUND for an unknown customer. */
TL_API int tl_profile_get(tl_ctx *ctx, const char *customer_id, struct tl_profile *out,
                          tl_err *err);

/* The profile as JSON (new reference): money as decimal strings in the
 * profile's currency, instants ISO 8601, shares as numbers; docs/profile.md
 * shows one. */
TL_API json_t *tl_profile_json(const struct tl_profile *p);

/* The stored state of a customer as its text and watermark, for tests and
 * debugging (*state malloc'ed; NULL and rc 0 when there is none). */
TL_API int tl_profile_state(tl_ctx *ctx, const char *customer_id, char **state,
                            int64_t *watermark_ms, char watermark_id[65], tl_err *err);

TL_END_DECLS

#endif
