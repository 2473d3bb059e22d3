/*
 * mask.h - finding and masking personal data in free text (logs now, LLM
 * prompts later).
 *
 *     tl_masker *m;
 *     if (tl_masker_new(&m, &err) < 0) ...
 *     tl_masker_add_name(m, "Anna Müller", &err);      // or tl_masker_load_customers
 *     char *out; size_t n;
 *     tl_masker_mask(m, text, strlen(text), &out, &n, NULL, &err);
 *     // "Anna Müller, DE89 3704 0044 0532 0130 00" -> "[NAME], [IBAN]"
 *     free(out);
 *     tl_masker_free(m);
 *
 * What is found, each replaced by a fixed placeholder (tl_mask_placeholder;
 * the LLM prompts use the same tokens, so they never change):
 *   [CARD]        payment card numbers, 13-19 digits, plain or grouped by
 *                 spaces or dashes, with a known issuer prefix and a valid
 *                 Luhn check digit
 *   [IBAN]        IBANs, compact or in groups of four, with the length and
 *                 BBAN shape of their country and a valid mod-97 check
 *   [EMAIL]       addresses local@domain.tld (a dotted domain is required)
 *   [PHONE]       international (+CC or 00CC) and national numbers with a
 *                 leading 0 and at least 9 digits; dates, times, amounts
 *                 and numbers introduced by words such as "Order" or "IBAN"
 *                 are not phones
 *   [NATIONAL_ID] German tax ids (11 digits with their ISO 7064 check digit,
 *                 the form `teller generate` uses), US SSNs (AAA-GG-SSSS),
 *                 UK National Insurance numbers, Irish PPS numbers, Spanish
 *                 DNI/NIE and Italian codici fiscali, each with its check
 *   [NAME]        the names of customers added with tl_masker_add_name or
 *                 tl_masker_load_customers, matched case- and accent-
 *                 insensitively on word boundaries
 *   [ADDRESS]     street addresses: a street name with a house number,
 *                 with the postal code and town that follow it
 * docs/privacy-masking.md gives the rules in full and the measured recall
 * and precision.
 *
 * A masker is built (new, options, names) by one thread and is read-only
 * afterwards: tl_masker_find and tl_masker_mask may then run on any number
 * of threads at once. It keeps no customer name in clear: only 64-bit
 * hashes of their normalized forms.
 */
#ifndef TELLER_MASK_H
#define TELLER_MASK_H

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_masker tl_masker;

/* What a span is. Values are explicit and append-only: they reach stats,
 * logs and tests. */
enum tl_mask_kind {
    TL_MASK_CARD = 0,
    TL_MASK_IBAN = 1,
    TL_MASK_EMAIL = 2,
    TL_MASK_PHONE = 3,
    TL_MASK_NATIONAL_ID = 4,
    TL_MASK_NAME = 5,
    TL_MASK_ADDRESS = 6,
    TL_MASK_KIND_COUNT = 7,
};

/* One detection: bytes [start, end) of the input. */
struct tl_mask_span {
    size_t start;
    size_t end;
    enum tl_mask_kind kind;
};

/* Counts of one tl_masker_mask call (filled, not accumulated). */
struct tl_mask_stats {
    uint64_t n_spans;
    uint64_t n_by_kind[TL_MASK_KIND_COUNT];
};

/* Options for tl_masker_set_options (bits). */
enum {
    /* Also mask a customer's given name or surname standing alone. Off by
     * default: given names and many surnames are ordinary words ("Grace",
     * "Martin", "Smith & Co"), and masking them costs precision. With or
     * without it, a surname after a title ("Mr", "Frau", "Mme") is masked. */
    TL_MASK_OPT_NAME_PARTS = 1u << 0,
};

/* The placeholder of a kind, e.g. "[CARD]"; "[PII]" for an unknown kind.
 * Static; never NULL. */
TL_API const char *tl_mask_placeholder(enum tl_mask_kind kind);

/* The lower-case name of a kind, e.g. "national_id"; "unknown" for an
 * unknown kind. Static; never NULL. */
TL_API const char *tl_mask_kind_name(enum tl_mask_kind kind);

/* Creates a masker with every detector on and no customer names. On error
 * *out is untouched. Free with tl_masker_free. */
TL_API int tl_masker_new(tl_masker **out, tl_err *err);

/* Frees the masker. NULL is a no-op. */
TL_API void tl_masker_free(tl_masker *m);

/* Sets TL_MASK_OPT_* bits (replacing the previous ones). Construction time
 * only: not while other threads use the masker. */
TL_API void tl_masker_set_options(tl_masker *m, unsigned options);

/* Adds a customer's name. "Given Surname" and "Surname, Given" are both
 * understood; the masker then matches the full name, "Surname Given" and
 * "Surname, Given" (and, for names of three words or more, the same with
 * the last word as the surname), whatever the case, with or without
 * accents, with ä/ö/ü also as ae/oe/ue, and with spaces, hyphens and
 * apostrophes interchangeable between words; a middle initial is looked
 * through and "A. Surname" stands for the full name. A name is matched
 * only as whole words: "Anna Berg" does not match inside "Anna Bergmann".
 * The surname alone is matched after a title ("Frau Müller"); a given name
 * or surname alone only with TL_MASK_OPT_NAME_PARTS. Names with no letter,
 * or longer than 255 bytes (folded) or 8 words, are refused (TL_EINVAL)
 * and the masker is unchanged; TL_ENOMEM leaves it usable but perhaps
 * without some variants of this name. full_name is not kept. Construction
 * time only. */
TL_API int tl_masker_add_name(tl_masker *m, const char *full_name, tl_err *err);

/* Adds the name of every customer of the context's store that was not
 * erased, opening sealed names with the context's keyring (keyring.h,
 * context "customers.name"). *n_added (optional) receives how many names
 * were added. A name that cannot be opened fails the whole call
 * (TL_ECRYPTO, naming the customer id): a masker silently missing
 * customers would leak them. On error the masker may hold some of the
 * names. Construction time only. */
TL_API int tl_masker_load_customers(tl_masker *m, tl_ctx *ctx, size_t *n_added, tl_err *err);

/* Called once per span, in order of start, spans never overlapping.
 * Return nonzero to stop early (not an error). */
typedef int (*tl_mask_span_fn)(void *ud, const struct tl_mask_span *span);

/* Reports every span of in[0..len) to fn. Where candidates overlap, the
 * one that starts first wins, then the longest. Allocates nothing; any
 * bytes are accepted (invalid UTF-8 is never part of a name and never
 * breaks a match of the ASCII kinds). TL_EINVAL (fn never called) when m
 * or fn is NULL, or in is NULL with len > 0. */
TL_API int tl_masker_find(const tl_masker *m, const char *in, size_t len, tl_mask_span_fn fn,
                          void *ud, tl_err *err);

/* Largest input tl_masker_mask accepts (TL_ETOOBIG beyond). */
#define TL_MASK_MAX_INPUT_BYTES ((size_t)256 << 20)

/* Copies in[0..len) to a new buffer with every span replaced by its
 * placeholder. *out is malloc'd and NUL-terminated (caller frees), *out_len
 * its length without the NUL. st (optional) receives the counts. On error
 * *out and *out_len are untouched. */
TL_API int tl_masker_mask(const tl_masker *m, const char *in, size_t len, char **out, size_t *out_len,
                          struct tl_mask_stats *st, tl_err *err);

/* Masks into a caller buffer of out_size bytes without allocating; the
 * result is NUL-terminated and cut short when it does not fit, never
 * inside a placeholder or a UTF-8 sequence and never leaving any part of a
 * span in clear. Returns the length written (< out_size), or 0 when
 * out_size is 0 or an argument is NULL. */
TL_API size_t tl_masker_mask_buf(const tl_masker *m, const char *in, size_t len, char *out,
                                 size_t out_size);

/* A log filter (log.h, tl_log_set_filter) with ud a const tl_masker *:
 *     tl_log_set_filter(tl_masker_log_filter, masker);
 * The masker must outlive the filter's installation. */
TL_API size_t tl_masker_log_filter(void *ud, const char *msg, size_t len, char *out, size_t out_size);

TL_END_DECLS

#endif
