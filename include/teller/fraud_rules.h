/*
 * fraud_rules.h - the bank's own fraud rules: a small expression language
 * over transaction fields and features, with card-network precedence.
 *
 * A rule set is a JSON document (docs/fraud-rules.md) of rules, each
 * {name, action: allow|review|block, when: "<expression>", reason}, plus
 * allow lists and block lists of values of one field (card ids, terminal
 * ids, merchants). Expressions name fields of a schema the caller gives at
 * load time, so an unknown field, a type mismatch or a syntax error is
 * rejected when the set loads, with the rule's name and the line:column in
 * its expression, never when a transaction is being decided.
 *
 *     static const struct tl_rule_field schema[] = {
 *         {"amount", TL_RULE_NUM}, {"country", TL_RULE_STR},
 *         {"home_country", TL_RULE_STR}, {"card_id", TL_RULE_STR},
 *     };
 *     tl_rules *rules;
 *     if (tl_rules_load(text, schema, 4, &rules, &err) < 0) ... err.msg
 *     struct tl_rule_value v[4] = {{.num = 7200}, {.str = "FR", .str_len = 2}, ...};
 *     struct tl_rules_result res;
 *     tl_rules_eval(rules, v, &res);     res.action, res.fired[0..n_fired)
 *     tl_rules_free(rules);
 *
 * Precedence when several fire: an allow-list hit wins over everything, then
 * a block-list hit, then any block rule, then any review rule, then allow
 * (an allow rule, or nothing at all). Every rule is evaluated on every
 * transaction and every rule and list that fired is reported, so the audit
 * trail shows all of them, not only the one that decided.
 *
 * A loaded tl_rules is immutable: tl_rules_eval allocates nothing and may be
 * called from many threads at once on the same set.
 */
#ifndef TELLER_FRAUD_RULES_H
#define TELLER_FRAUD_RULES_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* Limits against hostile or runaway rule files (TL_ETOOBIG when exceeded). */
#define TL_RULES_MAX_TEXT (16u << 20)     /* bytes of the whole rule file */
#define TL_RULES_MAX_RULES 512            /* rules per set */
#define TL_RULES_MAX_LISTS 64             /* allow lists + block lists */
#define TL_RULES_MAX_LIST_VALUES 1000000  /* values over all allow/block lists */
#define TL_RULES_MAX_EXPR 4096            /* bytes of one "when" expression */
#define TL_RULES_MAX_DEPTH 48             /* nesting of parentheses, not, unary minus, calls */
#define TL_RULES_MAX_IN_VALUES 1024       /* values in one `in [...]` literal */
#define TL_RULES_MAX_FIELDS 1024          /* schema size */
#define TL_RULES_MAX_NAME 64              /* bytes of a rule, list or field name */
#define TL_RULES_MAX_REASON 512           /* bytes of a rule's reason */

enum tl_rule_type {
    TL_RULE_NUM = 1,  /* a double: amounts, counts, features, epoch-ms timestamps */
    TL_RULE_STR = 2,  /* bytes with a length: ids, country codes, channels */
    TL_RULE_BOOL = 3, /* a flag: is_night, first_seen_merchant */
};

/* Actions are ordered by severity; TL_RULE_ALLOW is also the default. */
enum tl_rule_action {
    TL_RULE_ALLOW = 0,
    TL_RULE_REVIEW = 1,
    TL_RULE_BLOCK = 2,
};

/* What decided tl_rules_result.action. */
enum tl_rules_basis {
    TL_RULES_BY_DEFAULT = 0,    /* nothing fired: allow */
    TL_RULES_BY_ALLOW_LIST = 1, /* a value was on an allow list */
    TL_RULES_BY_BLOCK_LIST = 2, /* a value was on a block list (and none on an allow list) */
    TL_RULES_BY_RULE = 3,       /* the most severe rule that fired */
};

/* One field expressions may name. name is an identifier
 * ([A-Za-z_][A-Za-z0-9_]*, not a keyword), unique within the schema. */
struct tl_rule_field {
    const char *name;
    enum tl_rule_type type;
};

/* The value of one field for one transaction; only the member of the field's
 * type is read. str need not be NUL-terminated; NULL reads as "". A NaN num
 * compares false with everything (so `not (x > 1)` holds for a NaN x). */
struct tl_rule_value {
    double num;
    const char *str;
    size_t str_len;
    bool b;
};

struct tl_rules_result {
    enum tl_rule_action action;
    enum tl_rules_basis basis;
    /* The rule (basis BY_RULE) or list (BY_ALLOW_LIST, BY_BLOCK_LIST) that
     * decided: the first of the winning kind in file order; -1 by default. */
    int32_t decided_by;
    uint32_t n_fired;                      /* rules whose condition held */
    uint16_t fired[TL_RULES_MAX_RULES];    /* their indices, ascending */
    uint32_t n_lists_hit;                  /* allow and block lists holding the value */
    uint16_t lists_hit[TL_RULES_MAX_LISTS]; /* their indices, ascending */
};

/* What a loaded rule says, for reasons and audit records. Strings are owned
 * by the set and live as long as it. */
struct tl_rule_info {
    const char *name;
    enum tl_rule_action action;
    const char *when;   /* the expression as written */
    const char *reason; /* a sentence for the analyst and the audit log */
};

struct tl_rules_list_info {
    const char *name;
    bool is_allow;      /* allow list, else block list */
    size_t field;       /* index into the schema */
    size_t n_values;    /* distinct values */
};

typedef struct tl_rules tl_rules;

/* Parses and checks the rule set in text (NUL-terminated JSON) against
 * schema[0..n_fields) and compiles every expression. The schema is copied.
 * Errors: TL_EPARSE (JSON or expression syntax), TL_EINVAL (unknown field,
 * type mismatch, bad action, duplicate name, bad schema), TL_ETOOBIG (a
 * limit above), TL_ENOMEM; the message names the rule (its name and index)
 * and, for expressions, line:column within its "when" (columns count
 * characters). On error *out is untouched. Free the set with tl_rules_free. */
TL_API int tl_rules_load(const char *text, const struct tl_rule_field *schema, size_t n_fields,
                         tl_rules **out, tl_err *err);

/* tl_rules_load on the contents of a file; messages start with its path. */
TL_API int tl_rules_load_file(const char *path, const struct tl_rule_field *schema,
                              size_t n_fields, tl_rules **out, tl_err *err);

TL_API void tl_rules_free(tl_rules *r);

/* Decides one transaction: values[i] is the value of schema field i. Fills
 * *out (every member). Never allocates. Returns 0, or TL_EINVAL when an
 * argument is NULL (then *out is untouched). */
TL_API int tl_rules_eval(const tl_rules *r, const struct tl_rule_value *values,
                         struct tl_rules_result *out);

/* Number of rules, and rule i (NULL past the end). */
TL_API size_t tl_rules_count(const tl_rules *r);
TL_API const struct tl_rule_info *tl_rules_get(const tl_rules *r, size_t i);

/* Number of allow and block lists, and list i in file order: allow lists
 * first, then block lists (NULL past the end). */
TL_API size_t tl_rules_list_count(const tl_rules *r);
TL_API const struct tl_rules_list_info *tl_rules_list_get(const tl_rules *r, size_t i);

/* "allow", "review", "block" (static; "?" for a value out of range). */
TL_API const char *tl_rule_action_name(enum tl_rule_action a);

TL_END_DECLS

#endif
