/* teller generate: write a synthetic bank as CSV files. */
#include "cli.h"

#include <string.h>

static const char *opt_customers, *opt_seed, *opt_out, *opt_months, *opt_end;

const struct cli_opt cli_generate_opts[] = {
    {"customers", true, &opt_customers, NULL, "--customers N      number of customers (required)"},
    {"seed", true, &opt_seed, NULL, "--seed S           random seed (default 1)"},
    {"out", true, &opt_out, NULL, "--out DIR          output directory, created if missing (required)"},
    {"months", true, &opt_months, NULL, "--months M         months of history (default 12)"},
    {"end-date", true, &opt_end, NULL, "--end-date DATE    last day of history (default 2026-10-31)"},
    {0},
};

int cli_cmd_generate(struct cli_env *env)
{
    if (!opt_customers || !opt_out)
        return cli_usage_error(env, "--customers and --out are required");
    struct tl_generate_opts o = {.out_dir = opt_out, .end_date = opt_end, .quiet = env->quiet, .seed = 1};
    uint64_t months = 0;
    if (cli_parse_u64(env, "customers", opt_customers, &o.n_customers) ||
        (opt_seed && cli_parse_u64(env, "seed", opt_seed, &o.seed)) ||
        (opt_months && cli_parse_u64(env, "months", opt_months, &months)))
        return CLI_USAGE;
    if (o.n_customers == 0 || o.n_customers > 100000000)
        return cli_usage_error(env, "--customers must be between 1 and 100000000, got %s", opt_customers);
    if (opt_months && (months < 1 || months > 120))
        return cli_usage_error(env, "--months must be between 1 and 120, got %s", opt_months);
    o.months = (int)months;

    struct tl_generate_result res = {0};
    tl_err err = {0};
    int64_t t0 = tl_time_mono_ns();
    if (tl_generate(&o, &res, &err) < 0)
        return cli_fail(env, &err);
    double secs = (double)(tl_time_mono_ns() - t0) / 1e9;
    if (env->json) {
        json_t *rows = json_object();
        for (size_t i = 0; i < res.n_tables; i++)
            json_object_set_new(rows, res.tables[i], json_integer((json_int_t)res.rows[i]));
        cli_print_json(json_pack("{s:s,s:I,s:o,s:I,s:f}", "out", opt_out, "seed", (json_int_t)o.seed,
                                 "rows", rows, "fraud", (json_int_t)res.n_fraud, "seconds", secs));
    } else {
        printf("generated a bank of %llu customers in %s (seed %llu, %.1f s)\n",
               (unsigned long long)o.n_customers, opt_out, (unsigned long long)o.seed, secs);
        for (size_t i = 0; i < res.n_tables; i++)
            printf("  %-13s %10llu rows\n", res.tables[i], (unsigned long long)res.rows[i]);
        printf("  labelled fraud: %llu transactions\n", (unsigned long long)res.n_fraud);
    }
    return CLI_OK;
}
