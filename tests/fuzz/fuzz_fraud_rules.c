/*
 * fuzz_fraud_rules.c - the fraud rules loader and interpreter
 * (include/teller/fraud_rules.h).
 *
 * An input starting with '{' is a whole rule-set document; any other input
 * is one "when" expression, wrapped into a one-rule set by jansson (so the
 * fuzzer spends its time in the expression compiler, not on JSON quoting).
 * A set that fails to load follows the tl_err contract, and an expression
 * error names the rule and a line:column. A set that loads is evaluated on
 * value vectors drawn from the input; the result must be deterministic and
 * agree with the documented precedence recomputed from the rules and lists
 * it reports as fired.
 */
#include "fuzz.h"

#include <jansson.h>
#include <math.h>
#include <teller/fraud_rules.h>

enum { N_FIELDS = 6 };

static const struct tl_rule_field SCHEMA[N_FIELDS] = {
    {"amount", TL_RULE_NUM}, {"country", TL_RULE_STR}, {"home_country", TL_RULE_STR},
    {"card_id", TL_RULE_STR}, {"is_night", TL_RULE_BOOL}, {"ts_ms", TL_RULE_NUM},
};

static void check_result(const tl_rules *r, const struct tl_rules_result *res)
{
    size_t n_rules = tl_rules_count(r), n_lists = tl_rules_list_count(r);
    FUZZ_CHECK(res->n_fired <= n_rules && res->n_lists_hit <= n_lists);
    int32_t first_of[3] = {-1, -1, -1}, first_allow_list = -1, first_block_list = -1;
    for (uint32_t i = 0; i < res->n_fired; i++) {
        FUZZ_CHECK(res->fired[i] < n_rules);
        FUZZ_CHECK(i == 0 || res->fired[i] > res->fired[i - 1]);
        enum tl_rule_action a = tl_rules_get(r, res->fired[i])->action;
        if (first_of[a] < 0)
            first_of[a] = res->fired[i];
    }
    for (uint32_t i = 0; i < res->n_lists_hit; i++) {
        FUZZ_CHECK(res->lists_hit[i] < n_lists);
        FUZZ_CHECK(i == 0 || res->lists_hit[i] > res->lists_hit[i - 1]);
        int32_t *first = tl_rules_list_get(r, res->lists_hit[i])->is_allow ? &first_allow_list
                                                                          : &first_block_list;
        if (*first < 0)
            *first = res->lists_hit[i];
    }
    if (first_allow_list >= 0) {
        FUZZ_CHECK(res->action == TL_RULE_ALLOW && res->basis == TL_RULES_BY_ALLOW_LIST);
        FUZZ_CHECK(res->decided_by == first_allow_list);
    } else if (first_block_list >= 0) {
        FUZZ_CHECK(res->action == TL_RULE_BLOCK && res->basis == TL_RULES_BY_BLOCK_LIST);
        FUZZ_CHECK(res->decided_by == first_block_list);
    } else if (res->n_fired == 0) {
        FUZZ_CHECK(res->action == TL_RULE_ALLOW && res->basis == TL_RULES_BY_DEFAULT);
        FUZZ_CHECK(res->decided_by == -1);
    } else {
        enum tl_rule_action want = first_of[TL_RULE_BLOCK] >= 0    ? TL_RULE_BLOCK
                                   : first_of[TL_RULE_REVIEW] >= 0 ? TL_RULE_REVIEW
                                                                   : TL_RULE_ALLOW;
        FUZZ_CHECK(res->action == want && res->basis == TL_RULES_BY_RULE);
        FUZZ_CHECK(res->decided_by == first_of[want]);
    }
}

static void evaluate(const tl_rules *r, const uint8_t *data, size_t size)
{
    static const double nums[] = {0, 1, -1, 120, 5000.5, 1e300, -1e300, 1700000000000.0, NAN, INFINITY};
    static const char *const strs[] = {"", "FR", "BR", "c1", "vip1", "bad1", "a'b"};
    for (size_t k = 0; k < 8; k++) {
        struct tl_rule_value v[N_FIELDS];
        memset(v, 0, sizeof v);
        uint8_t b = size ? data[(k * 7) % size] : 0;
        v[0].num = nums[(b + k) % (sizeof nums / sizeof nums[0])];
        for (int f = 1; f <= 3; f++) {
            const char *s = strs[(b / (f + 1) + k * (size_t)f) % (sizeof strs / sizeof strs[0])];
            v[f].str = k == 7 && f == 1 ? NULL : s;
            v[f].str_len = v[f].str ? strlen(s) : 0;
        }
        v[4].b = (b + k) & 1;
        v[5].num = nums[(b * 3 + k) % (sizeof nums / sizeof nums[0])];
        struct tl_rules_result a, c;
        FUZZ_CHECK(tl_rules_eval(r, v, &a) == 0);
        FUZZ_CHECK(tl_rules_eval(r, v, &c) == 0);
        FUZZ_CHECK(a.action == c.action && a.basis == c.basis && a.decided_by == c.decided_by);
        FUZZ_CHECK(a.n_fired == c.n_fired && memcmp(a.fired, c.fired, a.n_fired * sizeof a.fired[0]) == 0);
        check_result(r, &a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    bool whole = size > 0 && data[0] == '{';
    char *text = NULL;
    if (whole) {
        text = malloc(size + 1);
        FUZZ_CHECK(text);
        memcpy(text, data, size);
        text[size] = '\0';
    } else {
        json_t *doc = json_pack("{s:[{s:s,s:s,s:s%,s:s}]}", "rules", "name", "fuzz", "action", "review",
                                "when", (const char *)data, size, "reason", "fuzz");
        if (!doc)
            return 0; /* not UTF-8: the JSON layer's business, fuzzed by fuzz_json */
        text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        FUZZ_CHECK(text);
    }
    tl_rules *r = NULL;
    tl_err err = {0};
    int rc = tl_rules_load(text, SCHEMA, N_FIELDS, &r, &err);
    if (rc < 0) {
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(r == NULL);
        FUZZ_CHECK(rc == TL_EPARSE || rc == TL_EINVAL || rc == TL_ETOOBIG || rc == TL_ENOMEM);
        if (!whole && size > 0 && rc != TL_ENOMEM)
            FUZZ_CHECK(strstr(err.msg, "rules[0] \"fuzz\": when ") != NULL || strstr(err.msg, "NUL") ||
                       strstr(err.msg, "rule set:"));
    } else {
        FUZZ_CHECK(r != NULL);
        if (!whole) {
            FUZZ_CHECK(tl_rules_count(r) == 1);
            const struct tl_rule_info *info = tl_rules_get(r, 0);
            FUZZ_CHECK(strlen(info->when) == size && memcmp(info->when, data, size) == 0);
        }
        evaluate(r, data, size);
        tl_rules_free(r);
    }
    free(text);
    return 0;
}
