/*
 * schema.c - the table specs of schema.h: the single description of every
 * column a bank loads. Ingestion validates against it, export formats from it,
 * and test_schema checks it against what the migrations created.
 */
#include <teller/schema.h>

#include <string.h>

#define COL(...) {__VA_ARGS__}
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const CUSTOMER_SEGMENTS[] = {"mass", "affluent", "private", "youth", "senior",
                                                "smb", NULL};
static const char *const PRODUCT_CATEGORIES[] = {
    "current_account", "savings_account", "term_deposit", "credit_card", "personal_loan",
    "auto_loan",       "mortgage",        "insurance",    "fund",        "etf",
    NULL};
static const char *const ASSET_CLASSES[] = {"none", "cash", "bond", "equity", "mixed",
                                            "real_estate", "commodity", NULL};
static const char *const ACCOUNT_TYPES[] = {"current", "savings", "deposit", "credit_card", "loan",
                                            "mortgage", "investment", NULL};
static const char *const ACCOUNT_STATUS[] = {"open", "closed", "frozen", NULL};
static const char *const TX_KINDS[] = {"card", "salary", "transfer_in", "transfer_out", "bill",
                                       "rent", "atm", "fee", "interest", "loan_payment", NULL};
static const char *const TX_CHANNELS[] = {"pos", "online", "atm", "branch", "mobile", "batch",
                                          NULL};
static const char *const APP_STATUS[] = {"pending", "approved", "declined", "withdrawn", NULL};
static const char *const APP_DECISIONS[] = {"approve", "refer", "decline", NULL};
static const char *const INTERACTION_EVENTS[] = {"viewed", "clicked", "applied", "bought",
                                                 "dismissed", NULL};
static const char *const INTERACTION_CHANNELS[] = {"web", "mobile", "branch", "email", "call",
                                                   NULL};
static const char *const ALERT_STATUS[] = {"open", "investigating", "confirmed_fraud",
                                           "false_positive", "closed", NULL};
static const char *const FRAUD_DECISIONS[] = {"allow", "review", "block", NULL};
static const char *const ALERT_OUTCOMES[] = {"fraud", "genuine", NULL};
static const char *const MODEL_STATUS[] = {"challenger", "champion", "retired", NULL};
static const char *const KEY_ROLES[] = {"admin", "analyst", "service", "customer", NULL};

#define ID_COL COL(.name = "id", .type = TL_COL_ID, .required = true, .doc = "the bank's external id")

static const struct tl_column_spec customers[] = {
    ID_COL,
    COL(.name = "name", .type = TL_COL_TEXT, .required = true, .pii = true, .max_len = 200,
        .doc = "full name"),
    COL(.name = "email", .type = TL_COL_EMAIL, .pii = true, .max_len = 254, .doc = "email address"),
    COL(.name = "phone", .type = TL_COL_TEXT, .pii = true, .max_len = 40, .doc = "phone number"),
    COL(.name = "address", .type = TL_COL_TEXT, .pii = true, .max_len = 400, .doc = "postal address"),
    COL(.name = "national_id", .type = TL_COL_TEXT, .pii = true, .max_len = 40,
        .doc = "national identity number"),
    COL(.name = "birth_date", .type = TL_COL_DATE, .required = true, .doc = "date of birth"),
    COL(.name = "country", .type = TL_COL_COUNTRY, .required = true, .doc = "country of residence"),
    COL(.name = "region", .type = TL_COL_TEXT, .max_len = 80, .doc = "region within the country"),
    COL(.name = "occupation", .type = TL_COL_TEXT, .max_len = 80, .doc = "occupation"),
    COL(.name = "annual_income", .db_name = "annual_income_minor", .type = TL_COL_MONEY,
        .currency_col = "currency", .doc = "declared gross annual income"),
    COL(.name = "currency", .type = TL_COL_CURRENCY, .required = true,
        .doc = "currency of the customer's income"),
    COL(.name = "household_size", .type = TL_COL_INT, .min = 1, .max = 30, .doc = "people in the household"),
    COL(.name = "segment", .type = TL_COL_ENUM, .enum_values = CUSTOMER_SEGMENTS, .doc = "the bank's own segment"),
    COL(.name = "customer_since", .type = TL_COL_DATE, .required = true, .doc = "start of the relationship"),
    COL(.name = "email_bidx", .type = TL_COL_TEXT, .derived = true, .max_len = 64,
        .doc = "keyed blind index of the normalized email, for lookups without decrypting"),
    COL(.name = "national_id_bidx", .type = TL_COL_TEXT, .derived = true, .max_len = 64,
        .doc = "keyed blind index of the normalized national id"),
    COL(.name = "erased_at", .db_name = "erased_ms", .type = TL_COL_TIMESTAMP, .derived = true,
        .doc = "when the customer's personal data was erased (data subject request)"),
};

static const struct tl_column_spec products[] = {
    ID_COL,
    COL(.name = "name", .type = TL_COL_TEXT, .required = true, .max_len = 200, .doc = "product name"),
    COL(.name = "category", .type = TL_COL_ENUM, .required = true, .enum_values = PRODUCT_CATEGORIES,
        .doc = "product family"),
    COL(.name = "asset_class", .type = TL_COL_ENUM, .enum_values = ASSET_CLASSES,
        .doc = "for funds and ETFs"),
    COL(.name = "risk_level", .type = TL_COL_INT, .required = true, .min = 1, .max = 5,
        .doc = "1 (lowest) to 5 (highest), as in a KID"),
    COL(.name = "currency", .type = TL_COL_CURRENCY, .required = true, .doc = "product currency"),
    COL(.name = "interest_rate_bp", .type = TL_COL_INT, .min = -10000, .max = 100000,
        .doc = "annual rate in basis points (deposit or lending)"),
    COL(.name = "annual_fee", .db_name = "annual_fee_minor", .type = TL_COL_MONEY,
        .currency_col = "currency", .doc = "yearly fee"),
    COL(.name = "min_age", .type = TL_COL_INT, .min = 0, .max = 120, .doc = "eligibility: minimum age"),
    COL(.name = "max_age", .type = TL_COL_INT, .min = 0, .max = 150, .doc = "eligibility: maximum age"),
    COL(.name = "min_income", .db_name = "min_income_minor", .type = TL_COL_MONEY,
        .currency_col = "currency", .doc = "eligibility: minimum annual income"),
    COL(.name = "expected_return_bp", .type = TL_COL_INT, .min = -10000, .max = 10000,
        .doc = "funds and ETFs: long-run expected annual return, basis points"),
    COL(.name = "volatility_bp", .type = TL_COL_INT, .min = 0, .max = 20000,
        .doc = "funds and ETFs: annual volatility, basis points"),
};

static const struct tl_column_spec accounts[] = {
    ID_COL,
    COL(.name = "customer_id", .type = TL_COL_REF, .required = true, .ref_table = "customers",
        .doc = "owner"),
    COL(.name = "product_id", .type = TL_COL_REF, .ref_table = "products", .doc = "product held"),
    COL(.name = "type", .type = TL_COL_ENUM, .required = true, .enum_values = ACCOUNT_TYPES,
        .doc = "account type"),
    COL(.name = "currency", .type = TL_COL_CURRENCY, .required = true, .doc = "account currency"),
    COL(.name = "balance", .db_name = "balance_minor", .type = TL_COL_MONEY, .required = true,
        .currency_col = "currency", .doc = "current balance (negative for amounts owed)"),
    COL(.name = "credit_limit", .db_name = "credit_limit_minor", .type = TL_COL_MONEY,
        .currency_col = "currency", .doc = "credit limit or loan principal"),
    COL(.name = "opened_at", .db_name = "opened_ms", .type = TL_COL_TIMESTAMP, .required = true,
        .doc = "when the account was opened"),
    COL(.name = "status", .type = TL_COL_ENUM, .required = true, .enum_values = ACCOUNT_STATUS,
        .doc = "open, closed or frozen"),
};

static const struct tl_column_spec holdings[] = {
    ID_COL,
    COL(.name = "customer_id", .type = TL_COL_REF, .required = true, .ref_table = "customers", .doc = "owner"),
    COL(.name = "product_id", .type = TL_COL_REF, .required = true, .ref_table = "products", .doc = "product held"),
    COL(.name = "account_id", .type = TL_COL_REF, .ref_table = "accounts", .doc = "account it sits in"),
    COL(.name = "currency", .type = TL_COL_CURRENCY, .required = true, .doc = "valuation currency"),
    COL(.name = "value", .db_name = "value_minor", .type = TL_COL_MONEY, .required = true,
        .currency_col = "currency", .doc = "market or book value"),
    COL(.name = "units", .type = TL_COL_REAL, .min = 0, .max = 1000000000000LL, .doc = "units or shares held"),
    COL(.name = "opened_at", .db_name = "opened_ms", .type = TL_COL_TIMESTAMP, .required = true,
        .doc = "when the holding began"),
};

static const struct tl_column_spec transactions[] = {
    ID_COL,
    COL(.name = "account_id", .type = TL_COL_REF, .required = true, .ref_table = "accounts",
        .doc = "account debited or credited"),
    COL(.name = "ts", .db_name = "ts_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "when it happened"),
    COL(.name = "amount", .db_name = "amount_minor", .type = TL_COL_MONEY, .required = true,
        .currency_col = "currency", .doc = "signed: negative debits, positive credits"),
    COL(.name = "currency", .type = TL_COL_CURRENCY, .required = true, .doc = "transaction currency"),
    COL(.name = "kind", .type = TL_COL_ENUM, .required = true, .enum_values = TX_KINDS, .doc = "what kind of movement"),
    COL(.name = "channel", .type = TL_COL_ENUM, .enum_values = TX_CHANNELS, .doc = "where it was made"),
    COL(.name = "mcc", .type = TL_COL_INT, .min = 0, .max = 9999, .doc = "merchant category code (ISO 18245)"),
    COL(.name = "merchant_id", .type = TL_COL_TEXT, .max_len = 64, .doc = "merchant"),
    COL(.name = "terminal_id", .type = TL_COL_TEXT, .max_len = 64, .doc = "terminal"),
    COL(.name = "country", .type = TL_COL_COUNTRY, .doc = "country where it was made"),
    COL(.name = "description", .type = TL_COL_TEXT, .max_len = 500, .doc = "statement text"),
    COL(.name = "is_fraud", .type = TL_COL_BOOL, .doc = "label: confirmed fraud"),
    COL(.name = "fraud_scenario", .type = TL_COL_INT, .min = 0, .max = 99,
        .doc = "synthetic data: which injected scenario (0 none)"),
    /* written by the fraud service when it decides a card payment */
    COL(.name = "fraud_score", .type = TL_COL_REAL, .derived = true, .min = 0, .max = 1,
        .doc = "the fraud model's score, 0 to 1"),
    COL(.name = "fraud_decision", .type = TL_COL_ENUM, .derived = true,
        .enum_values = FRAUD_DECISIONS, .doc = "the fraud decision: allow, review or block"),
    COL(.name = "fraud_reasons", .type = TL_COL_TEXT, .derived = true, .max_len = 4000,
        .doc = "why (JSON array: model features, rules, lists)"),
    COL(.name = "fraud_model", .type = TL_COL_TEXT, .derived = true, .max_len = 64,
        .doc = "id of the fraud model that decided (models.id)"),
    COL(.name = "fraud_decided_at", .db_name = "fraud_decided_ms", .type = TL_COL_TIMESTAMP,
        .derived = true, .doc = "when the fraud decision was made"),
    COL(.name = "fraud_alert_id", .type = TL_COL_TEXT, .derived = true, .max_len = 64,
        .doc = "the alert the transaction raised or joined (alerts.id)"),
};

static const struct tl_column_spec applications[] = {
    ID_COL,
    COL(.name = "customer_id", .type = TL_COL_REF, .required = true, .ref_table = "customers", .doc = "applicant"),
    COL(.name = "product_id", .type = TL_COL_REF, .required = true, .ref_table = "products", .doc = "credit product"),
    COL(.name = "applied_at", .db_name = "applied_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "when"),
    COL(.name = "currency", .type = TL_COL_CURRENCY, .required = true, .doc = "currency of the amounts"),
    COL(.name = "amount", .db_name = "amount_minor", .type = TL_COL_MONEY, .required = true,
        .currency_col = "currency", .doc = "amount requested"),
    COL(.name = "term_months", .type = TL_COL_INT, .min = 1, .max = 480, .doc = "term"),
    COL(.name = "purpose", .type = TL_COL_TEXT, .max_len = 80, .doc = "stated purpose"),
    COL(.name = "annual_income", .db_name = "annual_income_minor", .type = TL_COL_MONEY,
        .currency_col = "currency", .doc = "declared income at application"),
    COL(.name = "existing_debt", .db_name = "existing_debt_minor", .type = TL_COL_MONEY,
        .currency_col = "currency", .doc = "debt outstanding at application"),
    COL(.name = "employment_years", .type = TL_COL_INT, .min = 0, .max = 80, .doc = "years with the employer"),
    COL(.name = "delinquencies_2y", .type = TL_COL_INT, .min = 0, .max = 1000,
        .doc = "payments 30+ days late in the past two years"),
    COL(.name = "status", .type = TL_COL_ENUM, .required = true, .enum_values = APP_STATUS, .doc = "decision"),
    COL(.name = "defaulted_12m", .type = TL_COL_BOOL,
        .doc = "outcome: default within 12 months (empty while unknown)"),
    /* written by the credit service when it decides, never loaded from files */
    COL(.name = "decision", .type = TL_COL_ENUM, .derived = true, .enum_values = APP_DECISIONS,
        .doc = "the credit model's decision: approve, refer or decline"),
    COL(.name = "decision_score", .type = TL_COL_INT, .derived = true, .min = 0, .max = 1000,
        .doc = "credit score on the scorecard's scale"),
    COL(.name = "decision_pd", .type = TL_COL_REAL, .derived = true, .min = 0, .max = 1,
        .doc = "estimated probability of default within 12 months"),
    COL(.name = "decision_reasons", .type = TL_COL_TEXT, .derived = true, .max_len = 4000,
        .doc = "adverse-action reason codes (JSON array)"),
    COL(.name = "decision_model", .type = TL_COL_TEXT, .derived = true, .max_len = 64,
        .doc = "id of the model that decided (models.id)"),
    COL(.name = "decided_at", .db_name = "decided_ms", .type = TL_COL_TIMESTAMP, .derived = true,
        .doc = "when the decision was made"),
};

static const struct tl_column_spec interactions[] = {
    ID_COL,
    COL(.name = "customer_id", .type = TL_COL_REF, .required = true, .ref_table = "customers", .doc = "who"),
    COL(.name = "product_id", .type = TL_COL_REF, .required = true, .ref_table = "products", .doc = "which product"),
    COL(.name = "ts", .db_name = "ts_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "when"),
    COL(.name = "event", .type = TL_COL_ENUM, .required = true, .enum_values = INTERACTION_EVENTS, .doc = "what happened"),
    COL(.name = "channel", .type = TL_COL_ENUM, .enum_values = INTERACTION_CHANNELS, .doc = "where"),
};

static const struct tl_column_spec alerts[] = {
    ID_COL,
    COL(.name = "transaction_id", .type = TL_COL_REF, .ref_table = "transactions", .doc = "transaction flagged"),
    COL(.name = "customer_id", .type = TL_COL_REF, .required = true, .ref_table = "customers", .doc = "customer concerned"),
    COL(.name = "created_at", .db_name = "created_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "when raised"),
    COL(.name = "kind", .type = TL_COL_TEXT, .required = true, .max_len = 40, .doc = "fraud, early_warning, ..."),
    COL(.name = "score", .type = TL_COL_REAL, .min = 0, .max = 1, .doc = "model score"),
    COL(.name = "status", .type = TL_COL_ENUM, .required = true, .enum_values = ALERT_STATUS, .doc = "work state"),
    COL(.name = "reasons", .type = TL_COL_TEXT, .max_len = 4000, .doc = "why it was raised (JSON)"),
    /* kept by the fraud service as transactions join the alert and an
     * analyst resolves it */
    COL(.name = "account_id", .type = TL_COL_TEXT, .derived = true, .max_len = 64,
        .doc = "the card (account) whose transactions it gathers"),
    COL(.name = "n_transactions", .type = TL_COL_INT, .derived = true, .min = 0, .max = INT64_MAX,
        .doc = "transactions gathered"),
    COL(.name = "updated_at", .db_name = "updated_ms", .type = TL_COL_TIMESTAMP, .derived = true,
        .doc = "when a transaction last joined it, or it was resolved"),
    COL(.name = "resolved_at", .db_name = "resolved_ms", .type = TL_COL_TIMESTAMP, .derived = true,
        .doc = "when an analyst resolved it"),
    COL(.name = "outcome", .type = TL_COL_ENUM, .derived = true, .enum_values = ALERT_OUTCOMES,
        .doc = "the analyst's finding: fraud or genuine"),
    COL(.name = "resolved_by", .type = TL_COL_TEXT, .derived = true, .max_len = 200,
        .doc = "who resolved it (key id or subject)"),
    COL(.name = "note", .type = TL_COL_TEXT, .derived = true, .max_len = 1000,
        .doc = "the analyst's note"),
};

static const struct tl_column_spec models[] = {
    ID_COL,
    COL(.name = "task", .type = TL_COL_TEXT, .required = true, .max_len = 40, .doc = "credit, fraud, ..."),
    COL(.name = "version", .type = TL_COL_INT, .required = true, .min = 1, .max = 1000000, .doc = "version within the task"),
    COL(.name = "algo", .type = TL_COL_TEXT, .required = true, .max_len = 40, .doc = "algorithm"),
    COL(.name = "status", .type = TL_COL_ENUM, .required = true, .enum_values = MODEL_STATUS, .doc = "lifecycle"),
    COL(.name = "created_at", .db_name = "created_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "trained at"),
    COL(.name = "checksum", .type = TL_COL_TEXT, .max_len = 64, .doc = "SHA-256 of the artifact"),
    COL(.name = "metadata", .type = TL_COL_TEXT, .max_len = 1u << 20, .doc = "hyperparameters, metrics, card (JSON)"),
};

/* base64 of at most 256 MiB (registry.h) */
#define ARTIFACT_B64_MAX ((size_t)4 * (((size_t)256 << 20) + 2) / 3)

static const struct tl_column_spec model_artifacts[] = {
    COL(.name = "id", .type = TL_COL_ID, .required = true, .doc = "the model's id (models.id)"),
    COL(.name = "bytes", .type = TL_COL_TEXT, .required = true, .max_len = ARTIFACT_B64_MAX,
        .doc = "the artifact, base64; its SHA-256 is models.checksum"),
};

static const struct tl_column_spec audit_log[] = {
    ID_COL,
    COL(.name = "ts", .db_name = "ts_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "when"),
    COL(.name = "actor", .type = TL_COL_TEXT, .required = true, .max_len = 200, .doc = "key id or subject"),
    COL(.name = "action", .type = TL_COL_TEXT, .required = true, .max_len = 80, .doc = "what was decided or done"),
    COL(.name = "subject", .type = TL_COL_TEXT, .max_len = 200, .doc = "what it concerned"),
    COL(.name = "model_version", .type = TL_COL_TEXT, .max_len = 80, .doc = "model that decided"),
    COL(.name = "inputs_digest", .type = TL_COL_TEXT, .max_len = 64, .doc = "SHA-256 of the inputs"),
    COL(.name = "output", .type = TL_COL_TEXT, .max_len = 65536, .doc = "decision and reasons (JSON)"),
    COL(.name = "prev_hash", .type = TL_COL_TEXT, .max_len = 64, .doc = "hash of the previous entry"),
    COL(.name = "hash", .type = TL_COL_TEXT, .required = true, .max_len = 64, .doc = "hash of this entry"),
    COL(.name = "seq", .type = TL_COL_INT, .min = 1, .max = INT64_MAX, .doc = "position in the chain, from 1"),
    COL(.name = "role", .type = TL_COL_TEXT, .max_len = 20, .doc = "role of the actor"),
    COL(.name = "resource", .type = TL_COL_TEXT, .max_len = 200, .doc = "route or object acted on"),
    COL(.name = "customer_id", .type = TL_COL_TEXT, .max_len = 64, .doc = "customer whose data was read or decided on"),
    COL(.name = "request_id", .type = TL_COL_TEXT, .max_len = 64, .doc = "request that caused it"),
};

static const struct tl_column_spec api_keys[] = {
    ID_COL,
    COL(.name = "key_hash", .type = TL_COL_TEXT, .required = true, .max_len = 128, .doc = "keyed hash of the secret"),
    COL(.name = "role", .type = TL_COL_ENUM, .required = true, .enum_values = KEY_ROLES, .doc = "role granted"),
    COL(.name = "customer_id", .type = TL_COL_REF, .ref_table = "customers", .doc = "for customer keys"),
    COL(.name = "created_at", .db_name = "created_ms", .type = TL_COL_TIMESTAMP, .required = true, .doc = "issued"),
    COL(.name = "expires_at", .db_name = "expires_ms", .type = TL_COL_TIMESTAMP, .doc = "expiry"),
    COL(.name = "revoked_at", .db_name = "revoked_ms", .type = TL_COL_TIMESTAMP, .doc = "revocation"),
    COL(.name = "name", .type = TL_COL_TEXT, .max_len = 200, .doc = "what the key is for"),
};

#define TABLE(n, d, ing) {.name = #n, .doc = d, .columns = n, .n_columns = N(n), .ingestible = ing}

static const struct tl_table_spec tables[] = {
    TABLE(products, "the bank's product catalogue", true),
    TABLE(customers, "one row per customer; PII columns are encrypted at rest", true),
    TABLE(accounts, "accounts, cards and loans, each owned by a customer", true),
    TABLE(holdings, "products a customer holds (funds, insurance, deposits)", true),
    TABLE(transactions, "money movements on accounts", true),
    TABLE(applications, "credit applications with their outcomes", true),
    TABLE(interactions, "customer interactions with products", true),
    TABLE(alerts, "fraud and early-warning alerts", true),
    TABLE(models, "the model registry", false),
    TABLE(model_artifacts, "the bytes of each registered model", false),
    TABLE(audit_log, "the hash-chained audit journal", false),
    TABLE(api_keys, "API keys (hashed)", false),
};

size_t tl_schema_table_count(void)
{
    return N(tables);
}

const struct tl_table_spec *tl_schema_table_at(size_t i)
{
    return i < N(tables) ? &tables[i] : NULL;
}

const struct tl_table_spec *tl_schema_table(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N(tables); i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}

int tl_schema_column_index(const struct tl_table_spec *t, const char *name)
{
    for (size_t i = 0; i < t->n_columns; i++)
        if (strcmp(t->columns[i].name, name) == 0)
            return (int)i;
    return -1;
}
