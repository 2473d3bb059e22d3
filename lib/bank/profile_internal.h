/*
 * profile_internal.h - the per-customer aggregate state behind profile.h,
 * shared by profile.c (fold, storage), profile_signals.c (reading a profile
 * out of a state) and segment.c.
 */
#ifndef TELLER_PROFILE_INTERNAL_H
#define TELLER_PROFILE_INTERNAL_H

#include <teller/profile.h>

#define PF_RING TL_PROFILE_MONTHS
#define PF_MAX_STREAMS 40
#define PF_MAX_COUNTRIES 8
#define PF_STATE_VERSION 1

/* transactions.kind, in schema order */
enum pf_kind {
    PF_K_CARD = 0,
    PF_K_SALARY,
    PF_K_TRANSFER_IN,
    PF_K_TRANSFER_OUT,
    PF_K_BILL,
    PF_K_RENT,
    PF_K_ATM,
    PF_K_FEE,
    PF_K_INTEREST,
    PF_K_LOAN_PAYMENT,
    PF_K_COUNT
};

/* the first occurrences behind life signals */
enum pf_sig { PF_SIG_RENT = 0, PF_SIG_MORTGAGE, PF_SIG_LOAN, PF_SIG_CHILDREN, PF_SIG_TRAVEL, PF_SIG_COUNT };

/* One calendar month (UTC) of sums. month is year * 12 + (month - 1); 0 marks
 * a slot not in use. */
struct pf_month {
    int32_t month;
    uint32_t n_tx;
    int64_t credits_minor;       /* credits to current accounts */
    int64_t transfers_out_minor; /* transfer_out debits, positive */
    int64_t liquid_net_minor;    /* net flow on current, savings and deposit accounts */
    int64_t spend_minor[TL_CAT_COUNT]; /* debits less refunds, positive */
    uint32_t channel[TL_CH_COUNT];
};

/* A stream: movements with the same description, kind and direction, with
 * its monthly totals in the ring's slots (slot = month % PF_RING). */
struct pf_stream {
    char desc[TL_PROFILE_DESC_MAX];
    uint8_t kind;  /* enum pf_kind */
    int8_t sign;   /* +1 credits, -1 debits */
    int16_t mcc;   /* -1 none */
    int64_t first_ms, last_ms;
    int64_t amount_minor[PF_RING]; /* absolute totals */
    uint16_t count[PF_RING];
};

struct pf_first {
    uint32_t count;
    int64_t first_ms, last_ms, total_minor;
    int64_t amount_minor; /* the first one's, absolute */
    char tx_id[65];
    char desc[TL_PROFILE_DESC_MAX];
    char country[3];
};

struct pf_state {
    char currency[4];
    char home_country[3];
    int64_t wm_ms;    /* watermark: the last transaction folded */
    char wm_id[65];
    uint64_t n_tx, n_foreign;
    int64_t first_ms; /* first transaction folded; 0 none */
    int32_t last_month; /* month of the latest transaction; 0 none */
    bool last_closed;   /* a transaction fell on the last day of last_month */
    struct pf_month ring[PF_RING];
    struct pf_stream streams[PF_MAX_STREAMS];
    uint32_t n_streams;
    uint64_t streams_dropped;
    struct pf_first sig[PF_SIG_COUNT];
    char countries[PF_MAX_COUNTRIES][3]; /* foreign countries paid in, in order seen */
    uint32_t n_countries;
};

/* A transaction as the fold reads it (strings borrowed). */
struct pf_tx {
    const char *id;
    int64_t ts_ms, amount_minor;
    const char *currency, *kind, *channel, *country, *description;
    int mcc;              /* -1 none */
    const char *acct_type; /* accounts.type */
};

/* month index of an instant, and of a day count */
int32_t tl__pf_month_of(int64_t ms);
/* Initializes an empty state for a customer. */
void tl__pf_state_init(struct pf_state *s, const char *currency, const char *home_country);
/* Folds one transaction (the caller guarantees (ts, id) after the
 * watermark); advances the watermark. */
void tl__pf_fold(struct pf_state *s, const struct pf_tx *tx);
/* State <-> text (compact JSON of integers: the same state, the same text). */
char *tl__pf_state_dump(const struct pf_state *s);
int tl__pf_state_load(const char *text, struct pf_state *s, tl_err *err);

/* The complete months [*from, *to] of a state (both 0 when none). */
void tl__pf_window(const struct pf_state *s, int32_t *from, int32_t *to);

/* Fills the transaction-derived parts of a profile from a state. */
void tl__pf_summarize(const struct pf_state *s, struct tl_profile *p);

#endif
