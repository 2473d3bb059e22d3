/*
 * fraud_internal.h - what the fraud modules of lib/bank share with each
 * other and with their tests, but not with the public API.
 */
#ifndef TL_BANK_FRAUD_INTERNAL_H
#define TL_BANK_FRAUD_INTERNAL_H

#include <teller/err.h>

#include <stddef.h>
#include <stdint.h>

/* Card Precision@k (the handbook's chapter 3): per test day, transactions
 * grouped by card (max score, max label), the top k cards by score;
 * precision = compromised among them / k; the compromised ones are
 * detected from then on. Mean over the days that have rows. day[i] is the
 * row's test day, card[i] its card index below n_cards. */
int tl__fraud_card_precision_at_k(const double *score, const uint8_t *y, const int32_t *day,
                                  const uint32_t *card, size_t n, size_t n_cards, int k,
                                  double *out, tl_err *err);

#endif
