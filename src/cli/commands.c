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
    {.name = "keys",
     .summary = "API keys (create, list, revoke) and rotation of the PII data key",
     .usage = "create --role admin|analyst|service|customer [--customer ID] [--name TEXT]\n"
              "                   [--expires 90d|ISO8601]\n"
              "       teller keys list\n"
              "       teller keys revoke ID\n"
              "       teller keys rotate-data-key",
     .help = "create makes an API key and prints it once, alone on stdout: the store keeps\n"
             "only its keyed hash, so it cannot be shown again. A customer-role key needs\n"
             "--customer (an existing customer) and acts for that customer only; the other\n"
             "roles take none. list shows every key's id, role, customer, times and status,\n"
             "never a secret. revoke ID stops a key (a running server sees it within a\n"
             "second). rotate-data-key adds a new\n"
             "data key to data.key_file and re-seals every PII value under it.",
     .opts = cli_keys_opts,
     .min_args = 1,
     .max_args = 2,
     .uses_store = true,
     .run = cli_cmd_keys},
    {.name = "audit",
     .summary = "verify the hash-chained audit log, list it, or append to it",
     .usage = "verify [--expect-head SEQ:HASH] [--json]\n"
              "       teller audit log [--customer ID] [--limit N] [--json]\n"
              "       teller audit append --action A [--customer ID] [--details JSON]",
     .help = "verify recomputes every row's hash in order and exits 0 when the chain is\n"
             "intact, 1 when it is not, naming the first altered, inserted or deleted row.\n"
             "It prints the head (SEQ:HASH): record it somewhere the database's writers\n"
             "cannot reach, and pass it back with --expect-head to also catch rows deleted\n"
             "from the end or a chain rewritten with recomputed hashes. log lists entries,\n"
             "newest first. append journals an action by hand (actor and role \"cli\").",
     .opts = cli_audit_opts,
     .min_args = 1,
     .max_args = 1,
     .uses_store = true,
     .run = cli_cmd_audit},
    {.name = "customer",
     .summary = "a customer's data: export it, erase it, or find a customer by email",
     .usage = "export ID [--out FILE]\n"
              "       teller customer erase ID [--yes]\n"
              "       teller customer find email|national_id VALUE|-",
     .help = "export writes everything held about the customer as one JSON document: the\n"
             "customer with PII decrypted, accounts, holdings, transactions, applications,\n"
             "interactions, alerts, API keys and the audit rows about them. erase replaces\n"
             "the customer's PII by erasure marks for good and clears the lookup indexes;\n"
             "accounts and transactions stay, so totals do not change. It asks for the id\n"
             "to be typed back on a terminal; elsewhere it needs --yes. find prints the id\n"
             "of the customer with that email or national id (\"-\" reads the value from\n"
             "stdin). Each is journaled in the audit log.",
     .opts = cli_customer_opts,
     .min_args = 2,
     .max_args = 3,
     .uses_store = true,
     .run = cli_cmd_customer},
    {.name = "models",
     .summary = "the model registry: list, show, promote, retire, model cards, export, import",
     .usage = "list [--task T] [--json]\n"
              "       teller models show ID [--json]\n"
              "       teller models promote ID\n"
              "       teller models retire ID\n"
              "       teller models card ID [--format md|json]\n"
              "       teller models export ID --out FILE\n"
              "       teller models import FILE",
     .help = "list shows every model (id task-vN, task, version, algorithm, status, date,\n"
             "artifact size), newest first within a task. show prints one model's metadata and\n"
             "metrics. promote makes a model the champion of its task and retires the one\n"
             "before it, in one transaction; retire takes a model out of service. card prints\n"
             "the model card as Markdown. export writes a model to FILE as a JSON envelope\n"
             "with its artifact and SHA-256 checksum; import checks that checksum and adds\n"
             "the model as a new challenger version: a truncated or altered file is refused\n"
             "and the store is left as it was. Changes are journaled in the audit log.",
     .opts = cli_models_opts,
     .min_args = 1,
     .max_args = 2,
     .uses_store = true,
     .run = cli_cmd_models},
    {.name = "credit",
     .summary = "credit risk: train scorecard/GBDT models, score applications, cross-validate",
     .usage = "train [--data FILE.csv --label COL [--positive V]] [--algo scorecard|gbdt|both|mlp|all]\n"
              "                    [--drop COL,..] [--protected COL,..] [--allow-protected COL,..]\n"
              "                    [--seed S] [--cv K] [--dry-run]\n"
              "       teller credit score [--model ID] [--json-in FILE | --data FILE.csv --out FILE.csv]\n"
              "       teller credit eval [--data FILE.csv --label COL ...] [--folds K] [--seed S]\n"
              "                    [--folds-out FILE.csv]",
     .help = "train fits a scorecard (WoE bins, logistic regression, points) and/or gradient-\n"
             "boosted trees (--algo both, the default), a neural network (mlp) or all three,\n"
             "each with a calibrated PD, on FILE.csv or on the store's approved\n"
             "applications with known outcomes; registers each model (task credit) with its\n"
             "model card and promotes the better by validation AUC when there is no champion.\n"
             "Protected attributes (age, sex, marital status, ...) are kept out of the inputs\n"
             "unless allowed, and reported on in the card's fairness section. score prints a\n"
             "JSON decision (approve/refer/decline, PD, score, four reasons) for a JSON\n"
             "application, or writes a CSV of decisions; each is journaled. eval prints the\n"
             "k-fold stratified cross-validated AUC, Gini, KS and log loss of each algorithm\n"
             "on the same folds. See docs/credit.md.",
     .opts = cli_credit_opts,
     .min_args = 1,
     .max_args = 1,
     .uses_store = true,
     .run = cli_cmd_credit},
    {.name = "fraud",
     .summary = "fraud detection: train, decide a stream of transactions, replay, evaluate",
     .usage = "train [--data FILE.csv[.gz]] [--train-days N] [--delay-days 7] [--eta 0.1]\n"
              "                   [--no-iforest] [--with-lr] [--no-register] [--json]\n"
              "       teller fraud stream [--model ID] [--rules FILE] [--state FILE] [--reasons M]\n"
              "                   < tx.jsonl\n"
              "       teller fraud replay [--from DATE] [--model ID] [--rules FILE] [--state FILE]\n"
              "                   [--json]\n"
              "       teller fraud eval --data FILE.csv[.gz] [--train-start YYYY-MM-DD]\n"
              "                   [--train-days 7] [--delay-days 7] [--test-days 7] [--top-k 100]",
     .help = "train replays the store's card transactions (or --data, a file with the\n"
             "fraud_sim columns) through the streaming feature engine, trains gradient-boosted\n"
             "trees and an isolation forest for cards with little history, sets the review and\n"
             "block thresholds on the last days, and registers the model (promoted when the task\n"
             "has no champion). stream decides JSON lines from stdin with the champion and the\n"
             "bank's rules, one JSON decision per line on stdout (a malformed line is reported\n"
             "with its number and the stream goes on). replay runs the store's history through\n"
             "the engine: how the model would have decided, and the state for --state. eval\n"
             "runs the Fraud Detection Handbook's chapter 3 protocol on a labelled file and\n"
             "prints AUC ROC, average precision and Card Precision@k next to its published\n"
             "figures. See docs/fraud.md.",
     .opts = cli_fraud_opts,
     .min_args = 1,
     .max_args = 1,
     .uses_store = true,
     .run = cli_cmd_fraud},
    {.name = "risk-profile",
     .summary = "score a risk questionnaire: a profile from 1 (cautious) to 5 (adventurous)",
     .usage = "--answers FILE.json [--customer ID] [--json]\n"
              "       teller risk-profile --questionnaire",
     .help = "Scores the answers ({question id: answer id}) with the questionnaire in effect\n"
             "(advice.questionnaire_file, or the built-in one that --questionnaire prints):\n"
             "risk tolerance and risk capacity each from 1 to 5, the profile the lower of the\n"
             "two, an explanation naming the answers that drove it, and contradictory answers\n"
             "flagged. With --customer the profile is stored for that customer and journaled.\n"
             "Unknown questions or answers and missing required answers are named. See\n"
             "docs/advice.md.",
     .opts = cli_risk_profile_opts,
     .uses_store = true,
     .run = cli_cmd_risk_profile},
    {.name = "advise",
     .summary = "investment advice: suitable funds and ETFs, amounts, a projection and a goal plan",
     .usage = "CUSTOMER [--answers FILE.json] [--amount AMOUNT] [--monthly AMOUNT]\n"
              "                      [--goal AMOUNT --by YYYY-MM-DD] [--currency CODE]\n"
              "                      [--method table|optimize] [--json]",
     .help = "Advises a customer: the risk profile (assessed from --answers and stored, or the\n"
             "latest stored one), a target mix by asset class, the bank's funds and ETFs that\n"
             "suit it (never above the profile's risk level, only those the customer is\n"
             "eligible for by age, income and currency) with weights and amounts rounded down\n"
             "to the cent, a ten-year projection (or to --by), and with --goal the chance of\n"
             "reaching it and the monthly contribution that gives 80 %, with the reasons.\n"
             "When nothing suits, it says so. The advice is stored and journaled (advice.give).\n"
             "See docs/advice.md.",
     .opts = cli_advise_opts,
     .min_args = 1,
     .max_args = 1,
     .uses_store = true,
     .run = cli_cmd_advise},
    {.name = "profile",
     .summary = "customer 360: income, spending by category, fixed costs, products, life signals",
     .usage = "CUSTOMER [--rebuild] [--json]\n"
              "       teller profile --refresh-all [--rebuild] [--json]",
     .help = "Prints the customer's profile: estimated monthly income (recurring salary-like\n"
             "credits), spending by category, fixed costs, savings rate, balance with its trend\n"
             "and volatility, products held, tenure, channel use, life signals (new rent or\n"
             "mortgage, children, travel) with their evidence, and the segment. Profiles are\n"
             "kept incrementally: only transactions that arrived since the last refresh are\n"
             "folded. --refresh-all folds every customer's; --rebuild drops the stored state\n"
             "and folds the whole history again (after late or corrected transactions). The\n"
             "read is journaled (profile.read). See docs/profile.md.",
     .opts = cli_profile_opts,
     .min_args = 0,
     .max_args = 1,
     .uses_store = true,
     .run = cli_cmd_profile},
    {.name = "segments",
     .summary = "customer segments by k-means on profiles, each described in words",
     .usage = "[--k K|auto] [--seed S] [--json]\n"
              "       teller segments --show [--model ID] [--json]",
     .help = "Fits segments: k-means++ on the standardized features of every customer's\n"
             "profile, k chosen by the silhouette over 2..8 (or --k), each segment described\n"
             "by the three features that set it apart most from the population. The model is\n"
             "stored in the registry (task segments) and promoted, the segments and each\n"
             "customer's segment stored. --show prints the stored segmentation without\n"
             "fitting. Deterministic for a seed. See docs/profile.md.",
     .opts = cli_segments_opts,
     .uses_store = true,
     .run = cli_cmd_segments},
    {.name = "portfolio",
     .summary = "portfolio optimisation, discrete allocation, backtests and goal planning",
     .usage = "optimize --prices FILE.csv [--returns mean|mean-arith|ema|capm] [--market FILE.csv]\n"
              "                   [--risk sample|semicov|exp|ledoit-wolf|lw-single-factor|lw-const-corr]\n"
              "                   [--method max-sharpe|min-volatility|efficient-risk|efficient-return|\n"
              "                   max-utility|hrp|erc|min-cvar|min-cdar|min-semivariance]\n"
              "                   [--measure variance|cvar|cdar|semivariance] [--target X] [--rf R]\n"
              "                   [--gamma G] [--risk-aversion A] [--bounds LO,HI] [--market-neutral]\n"
              "                   [--frequency N] [--beta B] [--span N] [--benchmark B] [--log-returns]\n"
              "                   [--from DATE] [--to DATE] [--dropna] [--resample weekly|monthly] [--json]\n"
              "       teller portfolio allocate --weights FILE.json --prices FILE.csv --cash AMOUNT\n"
              "                   [--method greedy|integer] [--short-ratio R] [--reinvest] [--json]\n"
              "       teller portfolio backtest --prices FILE.csv --weights FILE.json|equal\n"
              "                   [--rebalance none|monthly|quarterly|yearly|N|threshold:X] [--cost-bps B]\n"
              "                   [--initial AMOUNT] [--rf R] [--from DATE] [--to DATE] [--json]\n"
              "       teller portfolio goal --target AMOUNT --months N [--amount AMOUNT] [--monthly AMOUNT]\n"
              "                   [--mu R --sigma S] [--safe-mu R --safe-sigma S --rho R] [--risky-start X]\n"
              "                   [--risky-end X --glide-months N] [--paths N] [--seed S]\n"
              "                   [--probability P [--max-monthly AMOUNT]] [--currency CODE] [--json]",
     .help = "optimize estimates expected returns and a risk model from a price CSV (as\n"
             "PyPortfolioOpt defines them) and prints the weights by ticker (cleaned: below 1e-4\n"
             "is 0, 5 decimals; --json also gives the raw ones) and the performance: expected\n"
             "return, volatility and Sharpe ratio, or the method's own risk measure (CVaR, CDaR,\n"
             "semideviation and Sortino). --target is the risk for efficient-risk and the return\n"
             "for efficient-return; --measure picks the risk they use. allocate turns weights\n"
             "(optimize --json's output or {ticker: weight}) into whole shares at the latest\n"
             "prices and prints the leftover cash. backtest runs fixed target weights over the\n"
             "prices with rebalancing and costs and prints CAGR, volatility, Sharpe, Sortino,\n"
             "maximum drawdown and Calmar. goal simulates monthly returns and contributions and\n"
             "prints the probability of reaching --target in --months, or with --probability the\n"
             "monthly contribution that reaches it. See docs/portfolio.md.",
     .opts = cli_portfolio_opts,
     .min_args = 1,
     .max_args = 1,
     .run = cli_cmd_portfolio},
    {.name = "serve",
     .summary = "run the HTTP/JSON API server until SIGTERM",
     .usage = "[--listen HOST:PORT] [--print-routes [--json]]",
     .help = "Serves the JSON API of docs/http.md (routes in docs/openapi.yaml) on\n"
             "server.listen with a pool of server.threads workers. Callers authenticate\n"
             "with an API key (teller keys create) or a JWT from the bank's identity\n"
             "provider; every read of customer data is journaled in the audit log.\n"
             "SIGTERM or SIGINT stops accepting, lets requests in flight finish, and\n"
             "exits 0. --print-routes prints the route table (method, path, roles)\n"
             "instead of serving.",
     .opts = cli_serve_opts,
     .uses_store = true,
     .run = cli_cmd_serve},
    {.name = "nn",
     .summary = "neural networks: train and apply the text classifier (and tabular MLPs)",
     .usage = "train-text --data FILE.csv --text COL --label COL -o MODEL\n"
              "                   [--model bigru|fasttext|ensemble] [--epochs N] [--seed S]\n"
              "                   [--threads N] [--register [--store URL]] [--json]\n"
              "       teller nn predict-text -m MODEL --data FILE.csv --text COL [--label COL]\n"
              "                   [--out FILE] [--json]\n"
              "       teller nn train-tabular ...",
     .help = "train-text trains a text classifier from scratch (a bidirectional GRU, a\n"
             "fastText-style n-gram model, or their ensemble) on FILE.csv, holding out a\n"
             "stratified 10% of the rows for early stopping, and prints the validation\n"
             "accuracy and macro-F1 of each model and the time taken; the model (weights,\n"
             "vocabulary and labels) is written to MODEL as safetensors. predict-text writes\n"
             "one predicted label per row of FILE.csv (stdout, or --out FILE) and, with\n"
             "--label, the accuracy and macro-F1. --register also stores the model in the\n"
             "registry (task intent, promoted when there is no champion). See docs/nn-text.md.",
     .opts = cli_nn_opts,
     .min_args = 1,
     .max_args = 5,
     .uses_store = true,
     .run = cli_cmd_nn},
    {.name = "recommend",
     .summary = "next-best products for a customer; train the recommenders; evaluate them",
     .usage = "CUSTOMER [--k 5] [--json]\n"
              "       teller recommend train [--model NAMES|all] [--no-ranker] [--no-promote] [--seed S]\n"
              "                   [--json]\n"
              "       teller recommend eval [--k 5] [--test-frac F] [--model NAMES|all] [--json]\n"
              "       teller recommend eval --interactions FILE --user-col C --item-col C\n"
              "                   [--rating-col C --rating-min X]\n"
              "                   [--split per-user|temporal|leave-one-out] [--test-frac F] [--seed S]\n"
              "                   [--k K] [--model NAMES|all] [--item-features FILE] [--json]",
     .help = "CUSTOMER ranks every product with the champion of task recommend (a CF model\n"
             "blended with the neural ranker), applies the rules (eligibility, suitability, held,\n"
             "frequency caps, MMR diversity), gives each item a reason, stores and journals the list.\n"
             "train learns from the store's interactions, accounts and holdings (default: ease plus\n"
             "the ranker) and registers each model; the best is promoted when there is no champion.\n"
             "eval without --interactions splits the store's positives in time and reports the raw\n"
             "models, the blend and the served lists with rule_violations. With --interactions it\n"
             "splits a file (per user with NumPy's default_rng, by time, or leave-one-out), tunes\n"
             "each model on validation and prints Recall, NDCG, MAP, coverage, diversity, novelty.\n"
             "See docs/recommend.md and docs/recommend-models.md.",
     .opts = cli_recommend_opts,
     .min_args = 1,
     .max_args = 2,
     .uses_store = true,
     .run = cli_cmd_recommend},
    {.name = "llm",
     .summary = "the embedded LLM engine: generate, tokenize, chat, benchmark, random models",
     .usage = "run -m MODEL [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
              "                   [--repeat-penalty R] [--seed S] [--stop TEXT] [-t N] [-c N] [--stats]\n"
              "       teller llm tokenize -m MODEL [--bos] [--special] [--json]   (text on stdin)\n"
              "       teller llm chat -m MODEL [--system TEXT] [--chat-template NAME] [sampling]\n"
              "       teller llm bench -m MODEL [-p 512] [-n 128] [-t N] [--reps R] [--json]\n"
              "       teller llm gen-random --shape NAME|k=v,.. --type TYPE -o FILE [--arch A]\n"
              "                   [--vocab FROM.gguf] [--seed S]",
     .help = "Runs GGUF models (llama: Llama 2/3, TinyLlama, SmolLM; qwen2: Qwen2/2.5) and\n"
             "llama2.c checkpoints (--tokenizer FILE) on this machine's CPUs. run prints the\n"
             "generated text only, streamed, so it can be piped; --temp 0 is greedy. tokenize\n"
             "reads all of stdin as one text and prints the token ids on one line (no BOS\n"
             "unless --bos; special-token text is plain text unless --special); it also takes\n"
             "vocabulary-only GGUFs. chat reads one user turn per line and answers through the\n"
             "model's chat template. bench measures prefill and decode tokens/s and peak RSS.\n"
             "gen-random writes a random-weight GGUF with a real layout. See docs/llm.md.",
     .opts = cli_llm_opts,
     .min_args = 1,
     .max_args = 16,
     .run = cli_cmd_llm},
    {.name = "config",
     .summary = "show the effective configuration and where each value came from",
     .usage = "[--config FILE]",
     .help = "Values come from defaults, then the file (--config or TELLER_CONFIG), then\n"
             "TELLER_* environment variables, then flags; later sources win.",
     .uses_store = true,
     .run = cli_cmd_config},
};
const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);
