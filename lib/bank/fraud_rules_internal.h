/*
 * fraud_rules_internal.h - the compiled form of a rule set, shared by
 * fraud_rules_parse.c (which builds it) and fraud_rules_eval.c (which runs
 * it). Not installed.
 *
 * Each rule's condition is compiled to a short run of stack-machine
 * instructions in one code array. The compiler types every subexpression,
 * so the interpreter never checks a type, and it records the deepest stack
 * a rule needs, so the interpreter's stack is a fixed local array and
 * evaluation allocates nothing. Constants and set members live in arrays
 * indexed by the instruction's argument; strings are offsets into one pool,
 * because the pool is reallocated while loading.
 */
#ifndef TL_BANK_FRAUD_RULES_INTERNAL_H
#define TL_BANK_FRAUD_RULES_INTERNAL_H

#include <teller/fraud_rules.h>

/* The deepest value stack a rule may need (checked at load time). */
#define TL__RULES_MAX_STACK 128

enum tl__rules_op {
    TL__OP_NUM,    /* push nums[arg] */
    TL__OP_STR,    /* push strs[arg] */
    TL__OP_BOOL,   /* push arg != 0 */
    TL__OP_LNUM,   /* push values[arg].num */
    TL__OP_LSTR,   /* push values[arg].str */
    TL__OP_LBOOL,  /* push values[arg].b */
    TL__OP_ADD, TL__OP_SUB, TL__OP_MUL, TL__OP_DIV, TL__OP_NEG,
    TL__OP_ABS, TL__OP_MIN, TL__OP_MAX, TL__OP_HOUR,
    TL__OP_EQN, TL__OP_NEN, TL__OP_LT, TL__OP_LE, TL__OP_GT, TL__OP_GE,
    TL__OP_EQS, TL__OP_NES, TL__OP_EQB, TL__OP_NEB,
    TL__OP_NOT,
    TL__OP_JF,     /* top false: jump to arg keeping it; else pop (and) */
    TL__OP_JT,     /* top true: jump to arg keeping it; else pop (or) */
    TL__OP_INN,    /* top = top in number set sets[arg] */
    TL__OP_INS,    /* top = top in string set sets[arg] */
};

struct tl__rules_ins {
    uint32_t op;
    uint32_t arg;
};

struct tl__rules_str {
    uint32_t off; /* into pool */
    uint32_t len;
};

/* A sorted, duplicate-free run of nums[first..first+n) or strs[...]. */
struct tl__rules_set {
    enum tl_rule_type type;
    uint32_t first, n;
};

struct tl__rules_rule {
    struct tl_rule_info info;  /* strings malloc'd */
    uint32_t code_start, code_end;
};

struct tl__rules_list {
    struct tl_rules_list_info info; /* name malloc'd */
    uint32_t set;
};

struct tl_rules {
    size_t n_fields;
    struct tl_rule_field *fields; /* names malloc'd */

    struct tl__rules_rule *rules;
    size_t n_rules, cap_rules;
    struct tl__rules_list *lists;
    size_t n_lists, cap_lists;

    struct tl__rules_ins *code;
    size_t n_code, cap_code;
    double *nums;
    size_t n_nums, cap_nums;
    struct tl__rules_str *strs;
    size_t n_strs, cap_strs;
    char *pool;
    size_t n_pool, cap_pool;
    struct tl__rules_set *sets;
    size_t n_sets, cap_sets;
};

/* Whether s[0..len) is in set (a string set; pool is r->pool). */
bool tl__rules_set_has_str(const struct tl_rules *r, const struct tl__rules_set *set,
                           const char *s, size_t len);
bool tl__rules_set_has_num(const struct tl_rules *r, const struct tl__rules_set *set, double x);

#endif
