/*
 * generate.h - a synthetic bank, deterministic by seed.
 *
 * Writes one CSV per table (products, customers, accounts, holdings,
 * transactions, applications, interactions) in the format `teller ingest`
 * reads, with real signal for later models: incomes log-normal by occupation
 * and region, spending by merchant category with daily, weekly and seasonal
 * rhythm, labelled fraud following the fraud-detection handbook's three
 * scenarios, and credit outcomes driven by a latent risk.
 */
#ifndef TELLER_GENERATE_H
#define TELLER_GENERATE_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

struct tl_generate_opts {
    uint64_t n_customers; /* > 0 */
    uint64_t seed;
    const char *out_dir;  /* created if missing */
    int months;           /* history length; 0 means 12 */
    const char *end_date; /* "YYYY-MM-DD" last day of history; NULL means 2026-10-31 */
    bool quiet;           /* no progress bar */
};

struct tl_generate_result {
    uint64_t rows[16];      /* per table, in tl_schema order of the files written */
    const char *tables[16]; /* table name of rows[i] */
    size_t n_tables;
    uint64_t n_fraud;
};

/* Generates the bank. Identical opts give byte-identical files. */
TL_API int tl_generate(const struct tl_generate_opts *opts, struct tl_generate_result *res,
                       tl_err *err);

TL_END_DECLS

#endif
