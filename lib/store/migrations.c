/*
 * migrations.c - the versioned schema, identical on SQLite and PostgreSQL.
 *
 * Each migration is portable SQL (TEXT, BIGINT, INTEGER, DOUBLE PRECISION,
 * BLOB-free) that both engines accept unchanged. Append only: a migration that
 * has shipped is never edited, because stores in the field already ran it.
 * Money is integer minor units (`*_minor`) beside an ISO 4217 `currency`;
 * instants are epoch milliseconds UTC (`*_ms`); dates are 'YYYY-MM-DD' text.
 * test_schema checks these columns against lib/store/schema.c.
 */
#include "internal.h"

static const char m0001_core[] =
    "CREATE TABLE products ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " category TEXT NOT NULL,"
    " asset_class TEXT,"
    " risk_level INTEGER NOT NULL,"
    " currency TEXT NOT NULL,"
    " interest_rate_bp INTEGER,"
    " annual_fee_minor BIGINT,"
    " min_age INTEGER,"
    " max_age INTEGER,"
    " min_income_minor BIGINT,"
    " expected_return_bp INTEGER,"
    " volatility_bp INTEGER);"

    "CREATE TABLE customers ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " email TEXT,"
    " phone TEXT,"
    " address TEXT,"
    " national_id TEXT,"
    " birth_date TEXT NOT NULL,"
    " country TEXT NOT NULL,"
    " region TEXT,"
    " occupation TEXT,"
    " annual_income_minor BIGINT,"
    " currency TEXT NOT NULL,"
    " household_size INTEGER,"
    " segment TEXT,"
    " customer_since TEXT NOT NULL);"

    "CREATE TABLE accounts ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " product_id TEXT REFERENCES products(id),"
    " type TEXT NOT NULL,"
    " currency TEXT NOT NULL,"
    " balance_minor BIGINT NOT NULL,"
    " credit_limit_minor BIGINT,"
    " opened_ms BIGINT NOT NULL,"
    " status TEXT NOT NULL);"
    "CREATE INDEX accounts_customer ON accounts(customer_id);"

    "CREATE TABLE holdings ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " product_id TEXT NOT NULL REFERENCES products(id),"
    " account_id TEXT REFERENCES accounts(id),"
    " currency TEXT NOT NULL,"
    " value_minor BIGINT NOT NULL,"
    " units DOUBLE PRECISION,"
    " opened_ms BIGINT NOT NULL);"
    "CREATE INDEX holdings_customer ON holdings(customer_id);"

    "CREATE TABLE transactions ("
    " id TEXT PRIMARY KEY,"
    " account_id TEXT NOT NULL REFERENCES accounts(id),"
    " ts_ms BIGINT NOT NULL,"
    " amount_minor BIGINT NOT NULL,"
    " currency TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " channel TEXT,"
    " mcc INTEGER,"
    " merchant_id TEXT,"
    " terminal_id TEXT,"
    " country TEXT,"
    " description TEXT,"
    " is_fraud INTEGER,"
    " fraud_scenario INTEGER);"
    "CREATE INDEX transactions_account_ts ON transactions(account_id, ts_ms);"

    "CREATE TABLE applications ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " product_id TEXT NOT NULL REFERENCES products(id),"
    " applied_ms BIGINT NOT NULL,"
    " currency TEXT NOT NULL,"
    " amount_minor BIGINT NOT NULL,"
    " term_months INTEGER,"
    " purpose TEXT,"
    " annual_income_minor BIGINT,"
    " existing_debt_minor BIGINT,"
    " employment_years INTEGER,"
    " delinquencies_2y INTEGER,"
    " status TEXT NOT NULL,"
    " defaulted_12m INTEGER);"
    "CREATE INDEX applications_customer ON applications(customer_id);"

    "CREATE TABLE interactions ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " product_id TEXT NOT NULL REFERENCES products(id),"
    " ts_ms BIGINT NOT NULL,"
    " event TEXT NOT NULL,"
    " channel TEXT);"
    "CREATE INDEX interactions_customer ON interactions(customer_id);"

    "CREATE TABLE alerts ("
    " id TEXT PRIMARY KEY,"
    " transaction_id TEXT REFERENCES transactions(id),"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " created_ms BIGINT NOT NULL,"
    " kind TEXT NOT NULL,"
    " score DOUBLE PRECISION,"
    " status TEXT NOT NULL,"
    " reasons TEXT);"

    "CREATE TABLE models ("
    " id TEXT PRIMARY KEY,"
    " task TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " algo TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " checksum TEXT,"
    " metadata TEXT);"

    "CREATE TABLE audit_log ("
    " id TEXT PRIMARY KEY,"
    " ts_ms BIGINT NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " subject TEXT,"
    " model_version TEXT,"
    " inputs_digest TEXT,"
    " output TEXT,"
    " prev_hash TEXT,"
    " hash TEXT NOT NULL);"

    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY,"
    " key_hash TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " customer_id TEXT REFERENCES customers(id),"
    " created_ms BIGINT NOT NULL,"
    " expires_ms BIGINT,"
    " revoked_ms BIGINT);";

/* Privacy and audit: blind indexes for lookups on encrypted PII, the erasure
 * mark, and the audit chain's position and context. One column per ALTER:
 * SQLite adds only one at a time. */
static const char m0002_privacy_audit[] =
    "ALTER TABLE customers ADD COLUMN email_bidx TEXT;"
    "ALTER TABLE customers ADD COLUMN national_id_bidx TEXT;"
    "ALTER TABLE customers ADD COLUMN erased_ms BIGINT;"
    "CREATE INDEX customers_email_bidx ON customers(email_bidx);"
    "CREATE INDEX customers_national_id_bidx ON customers(national_id_bidx);"
    "ALTER TABLE audit_log ADD COLUMN seq BIGINT;"
    "ALTER TABLE audit_log ADD COLUMN role TEXT;"
    "ALTER TABLE audit_log ADD COLUMN resource TEXT;"
    "ALTER TABLE audit_log ADD COLUMN customer_id TEXT;"
    "ALTER TABLE audit_log ADD COLUMN request_id TEXT;"
    "CREATE UNIQUE INDEX audit_log_seq ON audit_log(seq);"
    "ALTER TABLE api_keys ADD COLUMN name TEXT;";

/* The model registry's artifacts and the credit decisions. Artifacts sit in
 * their own table, base64 in TEXT (both engines hold it the same way), so
 * that listing models never drags megabytes of weights along; the key is
 * `id` (the model's id) like every table's, which the store checksum and
 * test_schema rely on. The unique (task, version) index is what makes two
 * processes adding a model of one task at once end with distinct versions.
 * The applications columns are written by the credit service, never
 * ingested. */
static const char m0003_registry_decisions[] =
    "CREATE TABLE model_artifacts ("
    " id TEXT PRIMARY KEY REFERENCES models(id),"
    " bytes TEXT NOT NULL);"
    "CREATE UNIQUE INDEX models_task_version ON models(task, version);"
    "ALTER TABLE applications ADD COLUMN decision TEXT;"
    "ALTER TABLE applications ADD COLUMN decision_score INTEGER;"
    "ALTER TABLE applications ADD COLUMN decision_pd DOUBLE PRECISION;"
    "ALTER TABLE applications ADD COLUMN decision_reasons TEXT;"
    "ALTER TABLE applications ADD COLUMN decision_model TEXT;"
    "ALTER TABLE applications ADD COLUMN decided_ms BIGINT;";

/* Fraud decisions and the alert queue. The transactions columns are written
 * by the fraud service as it decides a card payment, never ingested (a
 * re-ingest of the same transaction keeps them). An alert gathers a card's
 * flagged transactions until an analyst resolves it: the queue index serves
 * "the open ones, highest score first", the account index "this card's open
 * alert", the transactions index "the transactions of this alert". No
 * foreign keys between transactions and alerts: each references the other,
 * and neither engine would let the first row in. */
static const char m0004_fraud_alerts[] =
    "ALTER TABLE transactions ADD COLUMN fraud_score DOUBLE PRECISION;"
    "ALTER TABLE transactions ADD COLUMN fraud_decision TEXT;"
    "ALTER TABLE transactions ADD COLUMN fraud_reasons TEXT;"
    "ALTER TABLE transactions ADD COLUMN fraud_model TEXT;"
    "ALTER TABLE transactions ADD COLUMN fraud_decided_ms BIGINT;"
    "ALTER TABLE transactions ADD COLUMN fraud_alert_id TEXT;"
    "CREATE INDEX transactions_fraud_alert ON transactions(fraud_alert_id);"
    /* the fraud engine replays card payments in time order (tl_fraud_scan_store) */
    "CREATE INDEX transactions_ts ON transactions(ts_ms, id);"
    "ALTER TABLE alerts ADD COLUMN account_id TEXT;"
    "ALTER TABLE alerts ADD COLUMN n_transactions INTEGER;"
    "ALTER TABLE alerts ADD COLUMN updated_ms BIGINT;"
    "ALTER TABLE alerts ADD COLUMN resolved_ms BIGINT;"
    "ALTER TABLE alerts ADD COLUMN outcome TEXT;"
    "ALTER TABLE alerts ADD COLUMN resolved_by TEXT;"
    "ALTER TABLE alerts ADD COLUMN note TEXT;"
    "CREATE INDEX alerts_queue ON alerts(status, score);"
    "CREATE INDEX alerts_account ON alerts(account_id, status);";

/* Robo-advice: every risk profile assessed and every piece of advice given,
 * with the questionnaire and model versions and the inputs digest (the
 * answers are ids, no personal data). */
static const char m0005_advice[] =
    "CREATE TABLE risk_profiles ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " created_ms BIGINT NOT NULL,"
    " profile INTEGER NOT NULL,"
    " tolerance INTEGER NOT NULL,"
    " capacity INTEGER NOT NULL,"
    " questionnaire TEXT NOT NULL,"
    " answers_digest TEXT NOT NULL,"
    " answers TEXT NOT NULL,"
    " output TEXT NOT NULL);"
    "CREATE INDEX risk_profiles_customer ON risk_profiles(customer_id, created_ms);"
    "CREATE TABLE advice ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " created_ms BIGINT NOT NULL,"
    " risk_profile_id TEXT REFERENCES risk_profiles(id),"
    " profile INTEGER NOT NULL,"
    " model TEXT NOT NULL,"
    " questionnaire TEXT NOT NULL,"
    " inputs_digest TEXT NOT NULL,"
    " currency TEXT NOT NULL,"
    " amount_minor BIGINT NOT NULL,"
    " output TEXT NOT NULL);"
    "CREATE INDEX advice_customer ON advice(customer_id, created_ms);";

/* Customer 360 and segments: each customer's profile state (aggregates
 * folded from its transactions, with the watermark of the last one folded,
 * so a refresh reads only what arrived since) and its segment; the
 * segments of each fitted segmentation model, described in words. */
static const char m0006_profiles_segments[] =
    "CREATE TABLE customer_profiles ("
    " id TEXT PRIMARY KEY REFERENCES customers(id),"
    " watermark_ts_ms BIGINT NOT NULL,"
    " watermark_tx_id TEXT NOT NULL,"
    " n_transactions BIGINT NOT NULL,"
    " state TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL,"
    " segment INTEGER,"
    " segment_model TEXT);"
    "CREATE INDEX customer_profiles_segment ON customer_profiles(segment_model, segment);"
    "CREATE TABLE segments ("
    " id TEXT PRIMARY KEY,"
    " model TEXT NOT NULL,"
    " segment INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " description TEXT NOT NULL,"
    " details TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL);"
    "CREATE UNIQUE INDEX segments_model_segment ON segments(model, segment);";

/* Recommendations: every list served, with the model that ranked it and
 * the digest of what it was decided on (items: JSON array of product,
 * score, rank, reason). Frequency capping reads the interactions table;
 * its (customer, product, time) index serves "shown or dismissed lately". */
static const char m0007_recommendations[] =
    "CREATE TABLE recommendations ("
    " id TEXT PRIMARY KEY,"
    " customer_id TEXT NOT NULL REFERENCES customers(id),"
    " model TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " k INTEGER NOT NULL,"
    " items TEXT NOT NULL,"
    " inputs_digest TEXT NOT NULL);"
    "CREATE INDEX recommendations_customer ON recommendations(customer_id, created_ms);"
    "CREATE INDEX interactions_customer_product ON interactions(customer_id, product_id, ts_ms);";

const struct tl_migration tl__migrations[] = {
    {1, "core tables", m0001_core},
    {2, "privacy and audit", m0002_privacy_audit},
    {3, "model artifacts and credit decisions", m0003_registry_decisions},
    {4, "fraud decisions and alerts", m0004_fraud_alerts},
    {5, "risk profiles and advice", m0005_advice},
    {6, "customer profiles and segments", m0006_profiles_segments},
    {7, "recommendations", m0007_recommendations},
};
const size_t tl__n_migrations = sizeof(tl__migrations) / sizeof(tl__migrations[0]);
