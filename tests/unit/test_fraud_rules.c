/* test_fraud_rules.c - the fraud rules engine (fraud_rules.h): the expression
 * language, load-time errors with positions, precedence, lists and limits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/fraud_rules.h>

#include "testutil.h"

enum { F_AMOUNT, F_COUNTRY, F_HOME, F_CARD, F_TERMINAL, F_NIGHT, F_NEW_MERCHANT, F_TS, F_AVG, N_FIELDS };

static const struct tl_rule_field SCHEMA[N_FIELDS] = {
    [F_AMOUNT] = {"amount", TL_RULE_NUM},
    [F_COUNTRY] = {"country", TL_RULE_STR},
    [F_HOME] = {"home_country", TL_RULE_STR},
    [F_CARD] = {"card_id", TL_RULE_STR},
    [F_TERMINAL] = {"terminal_id", TL_RULE_NUM},
    [F_NIGHT] = {"is_night", TL_RULE_BOOL},
    [F_NEW_MERCHANT] = {"first_seen_merchant", TL_RULE_BOOL},
    [F_TS] = {"ts_ms", TL_RULE_NUM},
    [F_AVG] = {"avg_amount_7d", TL_RULE_NUM},
};

struct tx {
    double amount;
    const char *country, *home, *card;
    double terminal;
    bool night, new_merchant;
    double ts_ms, avg;
};

static void to_values(const struct tx *t, struct tl_rule_value v[N_FIELDS])
{
    memset(v, 0, N_FIELDS * sizeof *v);
    v[F_AMOUNT].num = t->amount;
    v[F_COUNTRY].str = t->country;
    v[F_COUNTRY].str_len = t->country ? strlen(t->country) : 0;
    v[F_HOME].str = t->home;
    v[F_HOME].str_len = t->home ? strlen(t->home) : 0;
    v[F_CARD].str = t->card;
    v[F_CARD].str_len = t->card ? strlen(t->card) : 0;
    v[F_TERMINAL].num = t->terminal;
    v[F_NIGHT].b = t->night;
    v[F_NEW_MERCHANT].b = t->new_merchant;
    v[F_TS].num = t->ts_ms;
    v[F_AVG].num = t->avg;
}

/* A rule set of one block rule with condition expr (JSON-escaped by the
 * caller when it holds quotes). */
static char *one_rule(const char *expr)
{
    size_t n = strlen(expr) * 2 + 256;
    char *s = malloc(n);
    snprintf(s, n, "{\"rules\":[{\"name\":\"r1\",\"action\":\"block\",\"when\":\"%s\",\"reason\":\"x\"}]}",
             expr);
    return s;
}

static tl_rules *load_ok(const char *text)
{
    tl_rules *r = NULL;
    tl_err err = {0};
    int rc = tl_rules_load(text, SCHEMA, N_FIELDS, &r, &err);
    cr_assert_eq(rc, 0, "load failed: %s\n%s", err.msg, text);
    cr_assert(r);
    return r;
}

/* Evaluates one expression on t: 1 fired, 0 not. */
static int fires(const char *expr, const struct tx *t)
{
    char *text = one_rule(expr);
    tl_rules *r = load_ok(text);
    struct tl_rule_value v[N_FIELDS];
    to_values(t, v);
    struct tl_rules_result res;
    cr_assert_eq(tl_rules_eval(r, v, &res), 0);
    cr_assert(res.n_fired <= 1);
    cr_assert_eq(res.action, res.n_fired ? TL_RULE_BLOCK : TL_RULE_ALLOW);
    int got = (int)res.n_fired;
    tl_rules_free(r);
    free(text);
    return got;
}

/* Loads a one-rule set that must fail with code, and a message that holds
 * want (the position and the gist). */
static void load_bad(const char *expr, int code, const char *want)
{
    char *text = one_rule(expr);
    tl_rules *r = (tl_rules *)0x1;
    tl_err err = {0};
    int rc = tl_rules_load(text, SCHEMA, N_FIELDS, &r, &err);
    cr_assert_eq(rc, code, "expr %s: rc %d, want %d (%s)", expr, rc, code, err.msg);
    cr_assert_eq(err.code, rc);
    cr_assert_eq(r, (tl_rules *)0x1, "*out untouched on error");
    cr_assert(strstr(err.msg, want), "expr %s: message \"%s\" lacks \"%s\"", expr, err.msg, want);
    free(text);
}

static const struct tx BASE = {.amount = 120, .country = "FR", .home = "FR", .card = "c1",
                               .terminal = 17, .ts_ms = 1700000000000.0, .avg = 60};

Test(fraud_rules, the_issue_example)
{
    struct tx t = BASE;
    cr_assert_eq(fires("amount > 5000 and country != home_country", &t), 0);
    t.amount = 5000.01;
    cr_assert_eq(fires("amount > 5000 and country != home_country", &t), 0);
    t.country = "BR";
    cr_assert_eq(fires("amount > 5000 and country != home_country", &t), 1);
    t.amount = 5000;
    cr_assert_eq(fires("amount > 5000 and country != home_country", &t), 0);
}

Test(fraud_rules, boolean_truth_tables)
{
    for (int a = 0; a < 2; a++) {
        for (int b = 0; b < 2; b++) {
            struct tx t = BASE;
            t.night = a;
            t.new_merchant = b;
            cr_assert_eq(fires("is_night and first_seen_merchant", &t), a && b);
            cr_assert_eq(fires("is_night or first_seen_merchant", &t), a || b);
            cr_assert_eq(fires("not is_night", &t), !a);
            cr_assert_eq(fires("not is_night or first_seen_merchant", &t), !a || b);
            cr_assert_eq(fires("not (is_night or first_seen_merchant)", &t), !(a || b));
            cr_assert_eq(fires("is_night == first_seen_merchant", &t), a == b);
            cr_assert_eq(fires("is_night != first_seen_merchant", &t), a != b);
            cr_assert_eq(fires("is_night == true", &t), a);
            /* and binds tighter than or */
            cr_assert_eq(fires("true or is_night and first_seen_merchant", &t), 1);
            cr_assert_eq(fires("false and is_night or first_seen_merchant", &t), b);
            cr_assert_eq(fires("not false and is_night", &t), a);
        }
    }
}

Test(fraud_rules, comparisons_and_arithmetic)
{
    struct tx t = BASE; /* amount 120, avg 60 */
    static const struct {
        const char *expr;
        int want;
    } cases[] = {
        {"amount == 120", 1}, {"amount != 120", 0}, {"amount < 120", 0}, {"amount <= 120", 1},
        {"amount > 119.5", 1}, {"amount >= 120.0001", 0}, {"amount > 2 * avg_amount_7d", 0},
        {"amount >= 2 * avg_amount_7d", 1}, {"amount / avg_amount_7d == 2", 1},
        {"amount - avg_amount_7d * 2 == 0", 1}, {"(amount - avg_amount_7d) * 2 == 120", 1},
        {"1 + 2 * 3 == 7", 1}, {"(1 + 2) * 3 == 9", 1}, {"10 - 4 - 3 == 3", 1}, {"24 / 4 / 2 == 3", 1},
        {"-amount == -120", 1}, {"- -amount == 120", 1}, {"2 * -3 == -6", 1},
        {"abs(-amount) == 120", 1}, {"min(amount, avg_amount_7d) == 60", 1},
        {"max(amount, 500) == 500", 1}, {"max(min(1, 2), abs(-3)) == 3", 1},
        {"1e3 == 1000", 1}, {"2.5E-1 == 0.25", 1}, {".5 == 0.5", 1},
        {"country == 'FR'", 1}, {"country == \\\"FR\\\"", 1}, {"country != 'fr'", 1},
        {"country == home_country", 1}, {"card_id == 'c1'", 1}, {"'a\\\\'b' == \\\"a'b\\\"", 1},
        /* the division by zero is NaN: false both ways */
        {"amount / 0 > 0", 0}, {"amount / 0 <= 0", 0}, {"amount / 0 != 1", 0},
        {"not (amount / 0 > 0)", 1},
        /* 1700000000000 ms is 2023-11-14T22:13:20Z */
        {"hour(ts_ms) == 22", 1}, {"hour(ts_ms - 23 * 3600000) == 23", 1}, {"hour(-1) == 23", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(fires(cases[i].expr, &t), cases[i].want, "%s", cases[i].expr);
    cr_assert_eq(fires("amount>100 and\\n  country=='FR'", &t), 1);
}

Test(fraud_rules, in_lists)
{
    struct tx t = BASE;
    cr_assert_eq(fires("country in ['FR', 'DE']", &t), 1);
    cr_assert_eq(fires("country in ['DE', 'IT', 'FR', 'DE']", &t), 1);
    cr_assert_eq(fires("country not in ['FR', 'DE']", &t), 0);
    cr_assert_eq(fires("country in []", &t), 0);
    cr_assert_eq(fires("country not in []", &t), 1);
    cr_assert_eq(fires("amount in []", &t), 0);
    cr_assert_eq(fires("country in ['F', 'FRA', 'fr']", &t), 0);
    cr_assert_eq(fires("terminal_id in [3, 17, -4]", &t), 1);
    cr_assert_eq(fires("terminal_id in [3, 17.5, -4]", &t), 0);
    cr_assert_eq(fires("-terminal_id in [-17]", &t), 1);
    cr_assert_eq(fires("amount + 1 in [121]", &t), 1);
    cr_assert_eq(fires("not country in ['FR']", &t), 0);
    cr_assert_eq(fires("country in ['FR'] and amount > 5", &t), 1);
    /* A long list: every member found, non-members not. */
    char expr[4096];
    size_t o = (size_t)snprintf(expr, sizeof expr, "terminal_id in [");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(expr + o, sizeof expr - o, "%s%d", i ? "," : "", (i * 37) % 1000);
    snprintf(expr + o, sizeof expr - o, "]");
    for (int k = 0; k < 1000; k++) {
        bool member = false;
        for (int i = 0; i < 300; i++)
            member = member || (i * 37) % 1000 == k;
        t.terminal = k;
        if (k % 7 == 0 || member)
            cr_assert_eq(fires(expr, &t), member, "terminal %d", k);
    }
    /* A NULL string reads as "". */
    t.country = NULL;
    cr_assert_eq(fires("country == ''", &t), 1);
    cr_assert_eq(fires("country in ['']", &t), 1);
}

Test(fraud_rules, bad_syntax_has_positions)
{
    static const struct {
        const char *expr;
        const char *want;
    } cases[] = {
        {"  \\n ", "when 2:2: expected a value, found the end"},
        {"amount >", "when 1:9: expected a value, found the end"},
        {"amount > 5000 and", "when 1:18: expected a value"},
        {"amount > 5000 amount", "when 1:15: expected 'and', 'or' or the end of the expression, found \"amount\""},
        {"(amount > 5", "when 1:12: expected ')'"},
        {"amount > 5)", "when 1:11: expected 'and', 'or'"},
        {"amount = 5", "when 1:8: '=' is not an operator; compare with '=='"},
        {"amount > 5 && is_night", "when 1:12: '&' is not an operator; use 'and'"},
        {"amount > 5 || is_night", "when 1:12: '|' is not an operator; use 'or'"},
        {"!is_night", "when 1:1: '!' is not an operator"},
        {"amount > 5.", "when 1:12: a digit must follow the decimal point"},
        {"amount > 5e", "when 1:11: the exponent of a number needs digits"},
        {"amount > 100and is_night", "when 1:13: malformed number"},
        {"amount > 1.2.3", "when 1:13: malformed number"},
        {"amount > 1e999", "when 1:10: number 1e999 is out of range"},
        {"country == 'FR", "when 1:12: string is not closed"},
        {"country == 'F\\\\qR'", "when 1:14: unknown escape"},
        {"amount > 5 @", "when 1:12: unexpected character \"@\""},
        {"country == '\\u00e9' and \\u00e9", "when 1:20: unexpected character \"é\""},
        {"is_night and\\n  amount >", "when 2:11: expected a value"},
        {"is_night and\\n\\n   (amount > 1", "when 3:15: expected ')'"},
        {"amount < 5 < 7", "when 1:12: comparisons do not chain"},
        {"amount == 5 == true", "when 1:13: comparisons do not chain"},
        {"country in 'FR'", "when 1:12: expected '[' to open the list"},
        {"country in ['FR' 'DE']", "when 1:18: expected ',' or ']' in the list"},
        {"country in ['FR', ]", "when 1:19: expected a number or a string in the list, found \"]\""},
        {"country in [home_country]", "when 1:13: expected a number or a string in the list"},
        {"country not ['FR']", "when 1:13: expected 'in' after 'not'"},
        {"abs(amount", "when 1:11: expected ')' after the arguments"},
        {"min(amount,)", "when 1:12: expected a value"},
        {"()", "when 1:2: expected a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        load_bad(cases[i].expr, TL_EPARSE, cases[i].want);
    /* The rule's name and index are in the message. */
    load_bad("amount >", TL_EPARSE, "rules[0] \"r1\": when 1:9:");
}

Test(fraud_rules, type_and_name_errors_have_positions)
{
    static const struct {
        const char *expr;
        const char *want;
    } cases[] = {
        {"amount > 5000 and contry != home_country", "when 1:19: unknown field \"contry\""},
        {"amount > '5000'", "when 1:8: '>' compares a number with a string"},
        {"country == 5", "when 1:9: '==' compares a string with a number"},
        {"is_night == 1", "when 1:10: '==' compares a boolean with a number"},
        {"country < 'M'", "when 1:9: '<' orders numbers only; strings compare with == and != only"},
        {"is_night >= false", "when 1:10: '>=' orders numbers only"},
        {"amount", "when 1:1: the condition is a number"},
        {"country", "when 1:1: the condition is a string"},
        {"amount + 1", "when 1:1: the condition is a number"},
        {"amount and is_night", "when 1:1: 'and' needs booleans, but its left side is a number"},
        {"is_night or  country", "when 1:14: 'or' needs booleans, but its right side is a string"},
        {"not amount", "when 1:5: 'not' needs booleans, but its operand is a number"},
        {"-country == 1", "when 1:2: '-' needs numbers, but its operand is a string"},
        {"amount + country == 1", "when 1:10: '+' needs numbers, but its right side is a string"},
        {"is_night * 2 == 1", "when 1:1: '*' needs numbers, but its left side is a boolean"},
        {"country in [1, 2]", "when 1:13: the list holds a number, but the value left of 'in' is a string"},
        {"amount in [1, 'x']", "when 1:15: the list holds a string"},
        {"is_night in [1]", "when 1:1: 'in' needs a number or a string on its left"},
        {"abs(country) > 1", "when 1:5: 'abs' needs numbers, but its argument is a string"},
        {"abs(1, 2) > 1", "when 1:1: abs takes 1 argument, not 2"},
        {"min(1) > 1", "when 1:1: min takes 2 arguments, not 1"},
        {"amount > floor(amount)", "when 1:10: unknown function \"floor\""},
        {"is_night and (amount > 1 or nope)", "when 1:29: unknown field \"nope\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        load_bad(cases[i].expr, TL_EINVAL, cases[i].want);
}

Test(fraud_rules, columns_count_characters)
{
    /* "é" is two bytes but one column. */
    load_bad("country == '\\u00e9\\u00e9' and nope", TL_EINVAL, "when 1:21: unknown field");
}

static const char *PRECEDENCE =
    "{\"description\": \"precedence test\", \"rules\": ["
    " {\"name\":\"big\",\"action\":\"review\",\"when\":\"amount > 1000\",\"reason\":\"Large amount.\"},"
    " {\"name\":\"huge_abroad\",\"action\":\"block\",\"when\":\"amount > 5000 and country != home_country\","
    "  \"reason\":\"Large amount abroad.\"},"
    " {\"name\":\"trusted_small\",\"action\":\"allow\",\"when\":\"amount < 10\",\"reason\":\"Small.\"},"
    " {\"name\":\"night\",\"action\":\"review\",\"when\":\"is_night\",\"reason\":\"At night.\"},"
    " {\"name\":\"night_huge\",\"action\":\"block\",\"when\":\"is_night and amount > 5000\","
    "  \"reason\":\"Large at night.\"}],"
    "\"allow_lists\": [{\"name\":\"vip\",\"field\":\"card_id\",\"values\":[\"vip1\",\"vip2\",\"bad1\"]}],"
    "\"block_lists\": [{\"name\":\"stolen\",\"field\":\"card_id\",\"values\":[\"bad1\",\"bad2\"]},"
    "  {\"name\":\"bad_terminals\",\"field\":\"terminal_id\",\"values\":[666, 13]}]}";

static struct tl_rules_result decide(const tl_rules *r, const struct tx *t)
{
    struct tl_rule_value v[N_FIELDS];
    to_values(t, v);
    struct tl_rules_result res;
    memset(&res, 0xAB, sizeof res);
    cr_assert_eq(tl_rules_eval(r, v, &res), 0);
    return res;
}

static void fired_are(const struct tl_rules_result *res, const char *want, const tl_rules *r)
{
    char got[256] = "";
    size_t o = 0;
    for (uint32_t i = 0; i < res->n_fired; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", i ? "," : "",
                              tl_rules_get(r, res->fired[i])->name);
    cr_assert_str_eq(got, want);
}

Test(fraud_rules, precedence)
{
    tl_rules *r = load_ok(PRECEDENCE);
    cr_assert_eq(tl_rules_count(r), 5);
    cr_assert_eq(tl_rules_list_count(r), 3);
    cr_assert_str_eq(tl_rules_get(r, 1)->name, "huge_abroad");
    cr_assert_str_eq(tl_rules_get(r, 1)->reason, "Large amount abroad.");
    cr_assert_str_eq(tl_rules_get(r, 1)->when, "amount > 5000 and country != home_country");
    cr_assert_eq(tl_rules_get(r, 1)->action, TL_RULE_BLOCK);
    cr_assert_null(tl_rules_get(r, 5));
    const struct tl_rules_list_info *li = tl_rules_list_get(r, 0);
    cr_assert_str_eq(li->name, "vip");
    cr_assert(li->is_allow);
    cr_assert_eq(li->field, F_CARD);
    cr_assert_eq(li->n_values, 3);
    cr_assert(!tl_rules_list_get(r, 1)->is_allow);
    cr_assert_str_eq(tl_rules_list_get(r, 2)->name, "bad_terminals");
    cr_assert_null(tl_rules_list_get(r, 3));

    struct tx t = BASE; /* amount 120, FR at home, card c1, terminal 17, day */
    struct tl_rules_result res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_ALLOW);
    cr_assert_eq(res.basis, TL_RULES_BY_DEFAULT);
    cr_assert_eq(res.decided_by, -1);
    cr_assert_eq(res.n_lists_hit, 0);
    fired_are(&res, "", r);

    t.amount = 5;
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_ALLOW);
    cr_assert_eq(res.basis, TL_RULES_BY_RULE);
    cr_assert_eq(res.decided_by, 2);
    fired_are(&res, "trusted_small", r);

    /* review beats allow */
    t.night = true;
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_REVIEW);
    cr_assert_eq(res.decided_by, 3);
    fired_are(&res, "trusted_small,night", r);

    /* block beats review; decided_by is the first block rule in file order */
    t.amount = 6000;
    t.country = "BR";
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_BLOCK);
    cr_assert_eq(res.basis, TL_RULES_BY_RULE);
    cr_assert_eq(res.decided_by, 1);
    fired_are(&res, "big,huge_abroad,night,night_huge", r);

    /* a block list beats the rules, and the rules that fired are still listed */
    t.terminal = 13;
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_BLOCK);
    cr_assert_eq(res.basis, TL_RULES_BY_BLOCK_LIST);
    cr_assert_eq(res.decided_by, 2);
    cr_assert_eq(res.n_lists_hit, 1);
    cr_assert_eq(res.lists_hit[0], 2);
    fired_are(&res, "big,huge_abroad,night,night_huge", r);

    /* an allow list beats a block list and block rules */
    t.card = "vip2";
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_ALLOW);
    cr_assert_eq(res.basis, TL_RULES_BY_ALLOW_LIST);
    cr_assert_eq(res.decided_by, 0);
    cr_assert_eq(res.n_lists_hit, 2);
    cr_assert_eq(res.lists_hit[0], 0);
    cr_assert_eq(res.lists_hit[1], 2);
    fired_are(&res, "big,huge_abroad,night,night_huge", r);

    /* a card on both lists: allow wins, both reported */
    t = BASE;
    t.card = "bad1";
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_ALLOW);
    cr_assert_eq(res.basis, TL_RULES_BY_ALLOW_LIST);
    cr_assert_eq(res.n_lists_hit, 2);
    cr_assert_eq(res.lists_hit[1], 1);
    t.card = "bad2";
    res = decide(r, &t);
    cr_assert_eq(res.action, TL_RULE_BLOCK);
    cr_assert_eq(res.basis, TL_RULES_BY_BLOCK_LIST);
    cr_assert_eq(res.decided_by, 1);
    /* a near miss is no hit */
    t.card = "bad";
    res = decide(r, &t);
    cr_assert_eq(res.basis, TL_RULES_BY_DEFAULT);
    tl_rules_free(r);
}

Test(fraud_rules, nan_features_never_fire)
{
    struct tx t = BASE;
    t.avg = NAN;
    cr_assert_eq(fires("avg_amount_7d > 0", &t), 0);
    cr_assert_eq(fires("avg_amount_7d <= 0", &t), 0);
    cr_assert_eq(fires("avg_amount_7d != 5", &t), 0);
    cr_assert_eq(fires("avg_amount_7d == avg_amount_7d", &t), 0);
    cr_assert_eq(fires("min(avg_amount_7d, 5) < 10", &t), 0);
    cr_assert_eq(fires("avg_amount_7d in [1, 2]", &t), 0);
    cr_assert_eq(fires("hour(avg_amount_7d) >= 0", &t), 0);
}

static void doc_bad(const char *text, int code, const char *want)
{
    tl_rules *r = NULL;
    tl_err err = {0};
    int rc = tl_rules_load(text, SCHEMA, N_FIELDS, &r, &err);
    cr_assert_eq(rc, code, "%s: rc %d (%s)", text, rc, err.msg);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
}

Test(fraud_rules, bad_documents)
{
    doc_bad("", TL_EPARSE, "rule set:");
    doc_bad("{\"rules\": [", TL_EPARSE, "rule set:1:");
    doc_bad("[]", TL_EINVAL, "must be a JSON object");
    doc_bad("{}", TL_EINVAL, "\"rules\" must be an array");
    doc_bad("{\"rules\": [], \"rulez\": []}", TL_EINVAL, "unknown key \"rulez\"");
    doc_bad("{\"rules\": [5]}", TL_EINVAL, "rules[0]: a rule must be an object");
    doc_bad("{\"rules\": [{\"name\":\"a\",\"action\":\"block\",\"whne\":\"true\",\"reason\":\"x\"}]}",
            TL_EINVAL, "rules[0]: unknown key \"whne\"");
    doc_bad("{\"rules\": [{\"name\":\"a\",\"action\":\"block\",\"reason\":\"x\"}]}", TL_EINVAL,
            "rules[0] \"a\": \"when\" is missing");
    doc_bad("{\"rules\": [{\"name\":\"a\",\"action\":\"deny\",\"when\":\"true\",\"reason\":\"x\"}]}",
            TL_EINVAL, "rules[0] \"a\": action must be allow, review or block, not \"deny\"");
    doc_bad("{\"rules\": [{\"name\":\"a\",\"action\":\"block\",\"when\":\"true\",\"reason\":\"\"}]}",
            TL_EINVAL, "\"reason\" is empty");
    doc_bad("{\"rules\": [{\"name\":\"a b\",\"action\":\"block\",\"when\":\"true\",\"reason\":\"x\"}]}",
            TL_EINVAL, "rules[0]: name \"a b\" may hold only");
    doc_bad("{\"rules\": [{\"name\":\"a\",\"action\":\"block\",\"when\":\"true\",\"reason\":\"x\"},"
            "{\"name\":\"b\",\"action\":\"block\",\"when\":\"true\",\"reason\":\"x\"},"
            "{\"name\":\"a\",\"action\":\"block\",\"when\":\"true\",\"reason\":\"x\"}]}",
            TL_EINVAL, "rules[2] \"a\": the name is already used by rules[0]");
    doc_bad("{\"rules\": [{\"name\":\"a\",\"action\":\"block\",\"when\":\"true\",\"reason\":\"x\"},"
            "{\"name\":\"b\",\"action\":\"block\",\"when\":\"amount >> 1\",\"reason\":\"x\"}]}",
            TL_EPARSE, "rules[1] \"b\": when 1:9: expected a value");
    doc_bad("{\"rules\": [], \"allow_lists\": [{\"name\":\"l\",\"field\":\"cardid\",\"values\":[]}]}",
            TL_EINVAL, "allow_lists[0] \"l\": unknown field \"cardid\"");
    doc_bad("{\"rules\": [], \"block_lists\": [{\"name\":\"l\",\"field\":\"card_id\","
            "\"values\":[\"a\", 5]}]}",
            TL_EINVAL, "block_lists[0] \"l\": values[1] must be a string");
    doc_bad("{\"rules\": [], \"block_lists\": [{\"name\":\"l\",\"field\":\"terminal_id\","
            "\"values\":[\"5\"]}]}",
            TL_EINVAL, "values[0] must be a number");
    doc_bad("{\"rules\": [], \"block_lists\": [{\"name\":\"l\",\"field\":\"is_night\",\"values\":[]}]}",
            TL_EINVAL, "is a boolean");
    doc_bad("{\"rules\": [], \"block_lists\": [{\"name\":\"l\",\"field\":\"card_id\",\"values\":{}}]}",
            TL_EINVAL, "\"values\" must be an array");
    doc_bad("{\"rules\": [], \"allow_lists\": [{\"name\":\"l\",\"field\":\"card_id\",\"values\":[]}],"
            "\"block_lists\": [{\"name\":\"l\",\"field\":\"card_id\",\"values\":[]}]}",
            TL_EINVAL, "block_lists[0] \"l\": the name is already used");
}

Test(fraud_rules, bad_schema)
{
    tl_rules *r = NULL;
    tl_err err = {0};
    struct tl_rule_field s1[] = {{"amount", TL_RULE_NUM}, {"amount", TL_RULE_STR}};
    cr_assert_eq(tl_rules_load("{\"rules\":[]}", s1, 2, &r, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"amount\" appears twice"), "%s", err.msg);
    struct tl_rule_field s2[] = {{"and", TL_RULE_NUM}};
    cr_assert_eq(tl_rules_load("{\"rules\":[]}", s2, 1, &r, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "is no identifier"), "%s", err.msg);
    struct tl_rule_field s3[] = {{"x-y", TL_RULE_NUM}};
    cr_assert_eq(tl_rules_load("{\"rules\":[]}", s3, 1, &r, &err), TL_EINVAL);
    struct tl_rule_field s4[] = {{"x", (enum tl_rule_type)9}};
    cr_assert_eq(tl_rules_load("{\"rules\":[]}", s4, 1, &r, &err), TL_EINVAL);
    struct tl_rule_field s5[] = {{NULL, TL_RULE_NUM}};
    cr_assert_eq(tl_rules_load("{\"rules\":[]}", s5, 1, &r, &err), TL_EINVAL);
    cr_assert_null(r);
    /* An empty rule set with no schema loads and allows everything. */
    cr_assert_eq(tl_rules_load("{\"rules\":[]}", NULL, 0, &r, &err), 0, "%s", err.msg);
    struct tl_rules_result res;
    cr_assert_eq(tl_rules_eval(r, NULL, &res), 0);
    cr_assert_eq(res.action, TL_RULE_ALLOW);
    cr_assert_eq(res.n_fired, 0);
    cr_assert_eq(tl_rules_eval(NULL, NULL, &res), TL_EINVAL);
    cr_assert_eq(tl_rules_eval(r, NULL, NULL), TL_EINVAL);
    tl_rules_free(r);
    tl_rules_free(NULL);
    cr_assert_str_eq(tl_rule_action_name(TL_RULE_REVIEW), "review");
}

/* A condition of n nested parentheses around `is_night`. */
static char *nested(int n, const char *open, const char *close)
{
    size_t cap = (size_t)n * (strlen(open) + strlen(close)) + 16;
    char *s = malloc(cap), *p = s;
    for (int i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s", open);
    p += snprintf(p, cap - (size_t)(p - s), "is_night");
    for (int i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s", close);
    return s;
}

Test(fraud_rules, limits)
{
    struct tx t = BASE;
    t.night = true;
    /* Nesting: 40 deep is fine, 1000 is refused (not a stack overflow). */
    char *e = nested(40, "(", ")");
    cr_assert_eq(fires(e, &t), 1);
    free(e);
    e = nested(40, "not ", "");
    cr_assert_eq(fires(e, &t), 1);
    free(e);
    e = nested(1000, "(", ")");
    load_bad(e, TL_ETOOBIG, "nested more than 48 deep");
    free(e);
    e = nested(1000, "not ", "");
    load_bad(e, TL_ETOOBIG, "nested more than 48 deep");
    free(e);
    e = malloc(4000);
    char *p = e;
    for (int i = 0; i < 1000; i++)
        p += snprintf(p, 4000 - (size_t)(p - e), "-");
    snprintf(p, 4000 - (size_t)(p - e), "1 > 0");
    load_bad(e, TL_ETOOBIG, "nested more than");
    free(e);
    /* A long but flat expression is fine; the stack stays shallow. */
    e = malloc(4200);
    p = e;
    p += snprintf(p, 4200, "amount");
    for (int i = 0; i < 800; i++)
        p += snprintf(p, 4200 - (size_t)(p - e), "+1");
    snprintf(p, 4200 - (size_t)(p - e), " == 920");
    cr_assert_eq(fires(e, &t), 1);
    free(e);
    /* Expression length. */
    e = malloc(TL_RULES_MAX_EXPR + 64);
    memset(e, ' ', TL_RULES_MAX_EXPR + 1);
    memcpy(e, "is_night", 8);
    e[TL_RULES_MAX_EXPR + 1] = '\0';
    load_bad(e, TL_ETOOBIG, "longer than 4096 bytes");
    free(e);
    /* `in` list size. */
    size_t cap = 8 * (TL_RULES_MAX_IN_VALUES + 2) + 64;
    e = malloc(cap);
    p = e;
    p += snprintf(p, cap, "amount in [");
    for (int i = 0; i <= TL_RULES_MAX_IN_VALUES; i++)
        p += snprintf(p, cap - (size_t)(p - e), "%s%d", i ? "," : "", i % 10);
    snprintf(p, cap - (size_t)(p - e), "]");
    load_bad(e, TL_ETOOBIG, "more than 1024 values");
    free(e);
    /* Rule count. */
    cap = 100 * (TL_RULES_MAX_RULES + 2) + 64;
    e = malloc(cap);
    p = e;
    p += snprintf(p, cap, "{\"rules\":[");
    for (int i = 0; i <= TL_RULES_MAX_RULES; i++)
        p += snprintf(p, cap - (size_t)(p - e),
                      "%s{\"name\":\"r%d\",\"action\":\"review\",\"when\":\"is_night\",\"reason\":\"x\"}",
                      i ? "," : "", i);
    snprintf(p, cap - (size_t)(p - e), "]}");
    doc_bad(e, TL_ETOOBIG, "rules[512] \"r512\": a rule set holds at most 512 rules");
    /* ...and exactly the limit loads, all of them firing. */
    char *last = strstr(e, ",{\"name\":\"r512\"");
    cr_assert(last);
    snprintf(last, cap - (size_t)(last - e), "]}");
    tl_rules *r = load_ok(e);
    struct tl_rules_result res = decide(r, &t);
    cr_assert_eq(res.n_fired, TL_RULES_MAX_RULES);
    cr_assert_eq(res.fired[511], 511);
    cr_assert_eq(res.action, TL_RULE_REVIEW);
    tl_rules_free(r);
    free(e);
}

Test(fraud_rules, load_file)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "rules.json", PRECEDENCE);
    tl_rules *r = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_rules_load_file(path, SCHEMA, N_FIELDS, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_rules_count(r), 5);
    tl_rules_free(r);
    r = NULL;
    char *bad = tu_write_file(dir, "bad.json",
                              "{\"rules\":[{\"name\":\"x\",\"action\":\"block\",\"when\":\"amount >\","
                              "\"reason\":\"x\"}]}");
    cr_assert_eq(tl_rules_load_file(bad, SCHEMA, N_FIELDS, &r, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "bad.json") && strstr(err.msg, "rules[0] \"x\": when 1:9:"), "%s", err.msg);
    cr_assert_null(r);
    char missing[1024];
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    cr_assert_eq(tl_rules_load_file(missing, SCHEMA, N_FIELDS, &r, &err), TL_ENOTFOUND);
    free(bad);
    free(path);
    free(dir);
}
