/*
 * teller.h - the whole public API of libteller.
 *
 * Link with `pkg-config --cflags --libs teller`. Every function follows the
 * contract of err.h: 0 or a negative TL_E* code, with a tl_err sentence.
 */
#ifndef TELLER_H
#define TELLER_H

#include "common.h"
#include "err.h"
#include "log.h"
#include "arena.h"
#include "utf8.h"
#include "json.h"
#include "csv.h"
#include "money.h"
#include "datetime.h"
#include "config.h"
#include "pool.h"
#include "progress.h"
#include "store.h"
#include "schema.h"
#include "ingest.h"
#include "generate.h"
#include "ctx.h"
#include "keyring.h"
#include "audit.h"
#include "auth.h"
#include "privacy.h"
#include "mask.h"
#include "customer.h"
#include "ml_stats.h"
#include "ml_data.h"
#include "ml_models.h"
#include "ml_iforest.h"
#include "registry.h"
#include "credit.h"
#include "ml_stream.h"
#include "pf_estimate.h"
#include "pf_plan.h"
#include "pf_optimize.h"
#include "fraud.h"
#include "fraud_alerts.h"
#include "fraud_rules.h"
#include "advisor.h"
#include "nn.h"
#include "nn_optim.h"
#include "nn_io.h"
#include "nn_text.h"
#include "nn_tabular.h"
#include "llm_gguf.h"
#include "llm_tokenizer.h"
#include "ml_kmeans.h"
#include "profile.h"
#include "segment.h"

#endif
