/*
 * fraud_cli.h - what the files of `teller fraud` share: the parsed options
 * (one table in fraud.c for all subcommands) and the handlers that live in
 * fraud_stream.c.
 */
#ifndef TELLER_CLI_FRAUD_H
#define TELLER_CLI_FRAUD_H

#include "cli.h"

/* Option values as given (NULL when absent); flags false when absent. */
struct cli_fraud_opts {
    const char *data, *train_start, *train_days, *delay_days, *test_days, *valid_days, *top_k,
        *threads, *eta;
    const char *model;   /* --model ID: a registered fraud model (default: the champion) */
    const char *rules;   /* --rules FILE: overrides fraud.rules_file */
    const char *state;   /* --state FILE: restored when it exists, saved at the end */
    const char *from;    /* --from DATE|TIME: replay from here (default: the store's whole history) */
    const char *reasons; /* --reasons shap|exact|approx: overrides fraud.reasons */
    bool no_handbook, no_register, no_iforest, with_lr, promote, write;
};

/* `teller fraud stream`: JSON lines on stdin, one decision per line on stdout. */
int cli_fraud_stream(struct cli_env *env, const struct cli_fraud_opts *o);
/* `teller fraud replay`: the store's card transactions through the engine. */
int cli_fraud_replay(struct cli_env *env, const struct cli_fraud_opts *o);

#endif
