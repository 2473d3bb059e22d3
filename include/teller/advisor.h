/*
 * advisor.h - robo-advice: a risk profile from a questionnaire, and advice
 * built on it (a target mix by asset class, the bank's own suitable funds
 * and ETFs with their weights and amounts, a projection and a goal plan,
 * and the reasons in plain language), stored and ready to journal.
 *
 * The questionnaire is data (JSON; docs/advice.md gives the format): each
 * question measures risk tolerance (what the customer is willing to bear)
 * or risk capacity (what the customer's situation can bear), and each
 * answer has a score. Both are turned into a level from 1 (cautious) to 5
 * (adventurous); the profile is the lower of the two, because a customer
 * who can afford losses but does not want them should not get them, and a
 * customer who wants risk but could not recover from a loss should not get
 * it either (capacity caps tolerance). Answers that contradict each other
 * are flagged, each with a sentence.
 *
 * Nothing the advice proposes is above the profile's risk level, and nothing
 * the customer is not eligible for (age, income, currency); when nothing
 * suits, the advice says so (rc 0, "suitable": false), it is not an error.
 *
 *     tl_advice_questionnaire *q;
 *     tl_advice_questionnaire_for_ctx(ctx, &q, &err);  // advice.questionnaire_file or the default
 *     json_t *p;
 *     tl_advice_profile_score(q, answers, &p, &err);    // {"profile":3,"explanation":...}
 *     tl_advice_questionnaire_free(q);
 *
 *     json_t *req = json_pack("{s:O,s:s,s:s}", "answers", answers, "amount", "10000.00",
 *                             "monthly", "200.00");
 *     json_t *advice;
 *     if (tl_advice_give(ctx, "C0000042", req, &advice, &err) == 0)
 *         tl_advice_journal(ctx, "cli", "cli", "advice.give", "teller advise", advice, &err);
 */
#ifndef TELLER_ADVISOR_H
#define TELLER_ADVISOR_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

/* ---- the questionnaire ------------------------------------------------------ */

typedef struct tl_advice_questionnaire tl_advice_questionnaire;

/* Bounds of a questionnaire (TL_EINVAL above them). */
#define TL_ADVICE_MAX_QUESTIONS 64
#define TL_ADVICE_MAX_ANSWERS 16
#define TL_ADVICE_MAX_RULES 64
#define TL_ADVICE_MAX_DOC_BYTES (1u << 20)

/* The built-in questionnaire (docs/advice.md lists it). */
TL_API int tl_advice_questionnaire_default(tl_advice_questionnaire **out, tl_err *err);

/* A questionnaire from JSON text (borrowed; `source` names it in errors, may
 * be NULL). Everything is checked: ids unique and id-like, kinds, scores,
 * every question with at least two answers, at least one question of each
 * kind, contradiction rules naming known questions and answers. TL_EPARSE
 * for text that is not JSON, TL_EINVAL naming the member at fault. On
 * error *out is untouched. */
TL_API int tl_advice_questionnaire_parse(const char *json, size_t len, const char *source,
                                         tl_advice_questionnaire **out, tl_err *err);

/* tl_advice_questionnaire_parse of a file (at most TL_ADVICE_MAX_DOC_BYTES). */
TL_API int tl_advice_questionnaire_load(const char *path, tl_advice_questionnaire **out,
                                        tl_err *err);

/* The file of the context's advice.questionnaire_file, or the built-in one
 * when that key is empty. */
TL_API int tl_advice_questionnaire_for_ctx(tl_ctx *ctx, tl_advice_questionnaire **out,
                                           tl_err *err);

TL_API void tl_advice_questionnaire_free(tl_advice_questionnaire *q);

/* "ID-vVERSION", what profiles and advice record as the questionnaire used. */
TL_API const char *tl_advice_questionnaire_version(const tl_advice_questionnaire *q);

/* The questionnaire as JSON, for a client to show it (new reference). */
TL_API json_t *tl_advice_questionnaire_json(const tl_advice_questionnaire *q);

/* ---- the risk profile --------------------------------------------------------- */

/* "cautious", "moderately cautious", "balanced", "moderately adventurous",
 * "adventurous" for 1..5; NULL otherwise. */
TL_API const char *tl_advice_profile_label(int profile);

/* Scores answers, an object {question id: answer id}, with q. Pure: reads no
 * store. *out (new reference):
 *   {"profile":1..5,"label","tolerance":1..5,"capacity":1..5,
 *    "tolerance_score":0..1,"capacity_score":0..1,"capped_by_capacity":bool,
 *    "explanation":"...","drivers":[{"question","answer","kind","text"}],
 *    "contradictions":[{"id","questions":[..],"text"}],
 *    "questionnaire":"ID-vN","answers_digest":"<SHA-256 hex>"}
 * A level is 1 + floor(5 * score) (5 for a score of 1), score being the sum
 * of the answers' scores over the sum of their questions' maxima for that
 * kind. Errors (TL_EINVAL, all the culprits named in one message): answers
 * not an object, unknown question ids, unknown answer ids (with the valid
 * ones), answers that are not strings, required questions unanswered. */
TL_API int tl_advice_profile_score(const tl_advice_questionnaire *q, const json_t *answers,
                                   json_t **out, tl_err *err);

/* Scores the answers with the context's questionnaire for customer
 * customer_id and stores the profile in risk_profiles. *out is
 * tl_advice_profile_score's plus "id" (the stored row), "customer_id",
 * "created_at" and "model" (the questionnaire version, what the audit row
 * names). An unknown customer is TL_ENOTFOUND. */
TL_API int tl_advice_assess(tl_ctx *ctx, const char *customer_id, const json_t *answers,
                            json_t **out, tl_err *err);

/* ---- advice ------------------------------------------------------------------- */

/* Gives advice to customer customer_id and stores it in advice. req, an
 * object (borrowed), all members optional:
 *   "answers"  the questionnaire's answers: assessed and stored first
 *              (tl_advice_assess); absent: the customer's latest stored
 *              profile (TL_EINVAL when there is none)
 *   "amount"   the lump sum to invest now, a decimal string ("10000.00")
 *   "monthly"  the monthly contribution, a decimal string
 *   "goal"     a target amount, a decimal string; needs "by"
 *   "by"       the goal date, YYYY-MM-DD, after today
 *   "currency" the currency of the amounts and of the products proposed
 *              (default: the customer's)
 *   "method"   "table" (the profile's target mix, docs/advice.md) or
 *              "optimize" (efficient risk under the profile's volatility
 *              cap); default advice.method
 * Unknown members are TL_EINVAL naming them.
 * *out (new reference): {"id","customer_id","created_at","profile":{...},
 *   "model","questionnaire","method","currency","suitable":bool,
 *   "target":{"cash":0.05,...},"products":[{"id","name","category",
 *   "asset_class","risk_level","weight","amount","expected_return",
 *   "volatility","reason"}],"amount","invested","leftover",
 *   "expected_return","volatility","projection":{...},"plan":{...}|null,
 *   "excluded":{"above_risk_level":n,"not_eligible":n,"no_figures":n},
 *   "reasons":[...],"inputs_digest"}; money as decimal strings. Weights sum
 * to 1; the amounts are the weights times the amount rounded down to the
 * minor unit and sum to amount - leftover. An unknown customer is
 * TL_ENOTFOUND. */
TL_API int tl_advice_give(tl_ctx *ctx, const char *customer_id, const json_t *req, json_t **out,
                          tl_err *err);

/* Journals a profile or advice (what tl_advice_assess or tl_advice_give
 * returned, borrowed) with tl_audit_append: action ("risk_profile.assess",
 * "advice.give"), the customer, the model version and the inputs digest in
 * their columns, the result's summary in details. actor and role as in
 * audit.h; resource may be NULL. */
TL_API int tl_advice_journal(tl_ctx *ctx, const char *actor, const char *role, const char *action,
                             const char *resource, const json_t *result, tl_err *err);

/* The details JSON text of that audit row (malloc'd, the caller frees;
 * NULL on allocation failure): what a server journaling through its own
 * queue writes. */
TL_API char *tl_advice_audit_details(const json_t *result);

TL_END_DECLS

#endif
