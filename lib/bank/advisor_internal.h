/*
 * advisor_internal.h - what the two halves of the advisor share: the
 * questionnaire's parsed form, the SHA-256 of canonical JSON, row ids, and
 * the SQL of the advisor's tables (migration 5 in lib/store/migrations.c).
 */
#ifndef TELLER_ADVISOR_INTERNAL_H
#define TELLER_ADVISOR_INTERNAL_H

#include <teller/advisor.h>
#include <teller/store.h>

#define ADV_ID_MAX 64
#define ADV_MAX_CONDS 8

enum adv_kind {
    ADV_TOLERANCE = 0,
    ADV_CAPACITY = 1,
};

struct adv_answer {
    char id[ADV_ID_MAX + 1];
    char *text;
    int score;
};

struct adv_question {
    char id[ADV_ID_MAX + 1];
    char *text;
    enum adv_kind kind;
    bool required;
    int max_score;
    size_t n_answers;
    struct adv_answer answers[TL_ADVICE_MAX_ANSWERS];
};

/* A contradiction: every condition holds (the question's answer is one of
 * the mask's), AND across conditions, OR within one. */
struct adv_rule {
    char id[ADV_ID_MAX + 1];
    char *text;
    size_t n_conds;
    struct {
        size_t question;
        uint32_t answers; /* bit a: answers[a] of that question */
    } conds[ADV_MAX_CONDS];
};

struct tl_advice_questionnaire {
    char id[ADV_ID_MAX + 1];
    char version[ADV_ID_MAX + 24]; /* "ID-vN" */
    int64_t number;
    size_t n_questions;
    struct adv_question *questions;
    size_t n_rules;
    struct adv_rule *rules;
};

/* SHA-256 hex (hex[65]) of v dumped compactly with sorted keys: the same
 * inputs give the same digest whatever order their members came in. */
int tl__advice_digest(const json_t *v, char hex[65], tl_err *err);

/* A fresh row id "PREFIX-" + 16 random hex digits into buf (>= 40 bytes). */
void tl__advice_new_id(const char *prefix, char *buf, size_t size);

/* The latest stored profile of a customer (*out the stored output JSON, new
 * reference, with its "id"), or *out NULL when there is none. */
int tl__advice_latest_profile(tl_ctx *ctx, const char *customer_id, json_t **out, tl_err *err);

/* true when customer_id names a customer. */
int tl__advice_customer_exists(tl_ctx *ctx, const char *customer_id, bool *found, tl_err *err);

/* Long-run correlations between the asset classes cash, bond, mixed,
 * equity, real_estate, commodity (advisor.c; docs/advice.md), and between
 * two products of one class. */
#define ADV_N_CLASSES 6
#define ADV_SAME_CLASS_CORR 0.9
extern const double tl__advice_class_corr[ADV_N_CLASSES][ADV_N_CLASSES];



#endif
