/*
 * commands.c - the table of teller subcommands: the single source for
 * dispatch, `teller --help`, `teller NAME --help` and docs/cli.md (a test
 * checks that every command here has a section there).
 */
#include "cli.h"

const struct cli_command cli_commands[] = {
    {.name = "init",
     .summary = "create the store or bring its schema up to date",
     .usage = "[--store URL]",
     .help = "Opens the store (sqlite:PATH or postgres://...) and applies every pending\n"
             "migration. Safe to run again: a current store is left as it is.",
     .uses_store = true,
     .run = cli_cmd_init},
    {.name = "generate",
     .summary = "write a synthetic bank as CSV files, deterministic by seed",
     .usage = "--customers N --out DIR [--seed S] [--months M] [--end-date YYYY-MM-DD]",
     .help = "Writes products, customers, accounts, holdings, transactions, applications\n"
             "and interactions as CSV files in DIR, in the format `teller ingest` reads.\n"
             "The same options always give byte-identical files.",
     .opts = cli_generate_opts,
     .run = cli_cmd_generate},
    {.name = "ingest",
     .summary = "load a CSV or JSON Lines file into a table, validated, all or nothing",
     .usage = "TABLE FILE|- [--format csv|jsonl] [--skip-invalid REJECTS.csv]\n"
              "       teller ingest DIR",
     .help = "Validates every row (types, required fields, foreign keys, currencies,\n"
             "amount precision, timestamps, enums, UTF-8, duplicate ids) and loads the\n"
             "file in one transaction: one bad row and the store is left exactly as it\n"
             "was, with an error naming file:line, the column and the value. With\n"
             "--skip-invalid the good rows load and the bad ones are written to\n"
             "REJECTS.csv with their reasons. Loading the same ids again updates them\n"
             "(idempotent). With a directory, loads every TABLE.csv or TABLE.jsonl it\n"
             "holds in dependency order, each file all or nothing.",
     .opts = cli_ingest_opts,
     .min_args = 1,
     .max_args = 2,
     .uses_store = true,
     .run = cli_cmd_ingest},
    {.name = "export",
     .summary = "write a table as CSV or JSON Lines, in the format ingest reads",
     .usage = "TABLE [--out FILE] [--format csv|jsonl]",
     .help = "Writes every row of TABLE ordered by id to FILE (default: stdout).\n"
             "Ingesting the export again changes nothing.",
     .opts = cli_export_opts,
     .min_args = 1,
     .max_args = 1,
     .uses_store = true,
     .run = cli_cmd_export},
    {.name = "stats",
     .summary = "row counts and money sums per table",
     .usage = "[--json] [--checksum]",
     .help = "Prints each table's row count and, per money column and currency, the sum.",
     .opts = cli_stats_opts,
     .uses_store = true,
     .run = cli_cmd_stats},
    {.name = "schema",
     .summary = "the columns each table takes, their types and meaning",
     .usage = "[TABLE] [--markdown] [--json]",
     .help = "Lists every table (or one) with the columns ingest expects: name, type,\n"
             "whether it is required, and what it means.",
     .opts = cli_schema_opts,
     .max_args = 1,
     .run = cli_cmd_schema},
    {.name = "config",
     .summary = "show the effective configuration and where each value came from",
     .usage = "[--config FILE]",
     .help = "Values come from defaults, then the file (--config or TELLER_CONFIG), then\n"
             "TELLER_* environment variables, then flags; later sources win.",
     .uses_store = true,
     .run = cli_cmd_config},
};
const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);
