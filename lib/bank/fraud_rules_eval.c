/*
 * fraud_rules_eval.c - deciding one transaction with a loaded rule set
 * (fraud_rules.h; the compiled form is in fraud_rules_internal.h).
 *
 * This is the hot path of fraud scoring, so it allocates nothing and checks
 * nothing the loader already proved: operand types and stack depth were
 * verified when the rules were compiled, so the interpreter is a plain
 * switch over a fixed local stack. Every rule runs on every transaction,
 * because the decision must list all rules that fired, not only the first.
 */
#include <math.h>
#include <string.h>

#include "fraud_rules_internal.h"

union slot {
    double n;
    bool b;
    struct {
        const char *p;
        size_t len;
    } s;
};

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return na < nb ? -1 : na > nb;
}

bool tl__rules_set_has_str(const struct tl_rules *r, const struct tl__rules_set *set,
                           const char *s, size_t len)
{
    if (set->n == 0) /* (its array may not exist at all) */
        return false;
    const struct tl__rules_str *v = r->strs + set->first;
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_bytes(r->pool + v[mid].off, v[mid].len, s, len);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool tl__rules_set_has_num(const struct tl_rules *r, const struct tl__rules_set *set, double x)
{
    if (set->n == 0) /* (its array may not exist at all) */
        return false;
    const double *v = r->nums + set->first;
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid; /* also for a NaN x, which is in no set */
    }
    return false;
}

/* The hour of day (UTC, 0..23) of an epoch-millisecond timestamp; NaN for
 * a value that is no timestamp at all (NaN, infinite). */
static double hour_of(double ts_ms)
{
    if (!isfinite(ts_ms))
        return NAN;
    double h = fmod(floor(ts_ms / 3600000.0), 24.0);
    return h < 0 ? h + 24.0 : h;
}

static bool run(const struct tl_rules *r, const struct tl__rules_rule *rule,
                const struct tl_rule_value *values)
{
    union slot st[TL__RULES_MAX_STACK];
    int sp = -1; /* index of the top */
    const struct tl__rules_ins *code = r->code;
    uint32_t pc = rule->code_start, end = rule->code_end;
    while (pc < end) {
        const struct tl__rules_ins in = code[pc++];
        switch ((enum tl__rules_op)in.op) {
        case TL__OP_NUM: st[++sp].n = r->nums[in.arg]; break;
        case TL__OP_STR:
            sp++;
            st[sp].s.p = r->pool + r->strs[in.arg].off;
            st[sp].s.len = r->strs[in.arg].len;
            break;
        case TL__OP_BOOL: st[++sp].b = in.arg != 0; break;
        case TL__OP_LNUM: st[++sp].n = values[in.arg].num; break;
        case TL__OP_LSTR:
            sp++;
            st[sp].s.p = values[in.arg].str ? values[in.arg].str : "";
            st[sp].s.len = values[in.arg].str ? values[in.arg].str_len : 0;
            break;
        case TL__OP_LBOOL: st[++sp].b = values[in.arg].b; break;
        case TL__OP_ADD: sp--; st[sp].n = st[sp].n + st[sp + 1].n; break;
        case TL__OP_SUB: sp--; st[sp].n = st[sp].n - st[sp + 1].n; break;
        case TL__OP_MUL: sp--; st[sp].n = st[sp].n * st[sp + 1].n; break;
        case TL__OP_DIV:
            /* x / 0 is NaN, not an infinity, so that it compares false both
             * ways rather than passing every `>` test (docs/fraud-rules.md). */
            sp--;
            st[sp].n = st[sp + 1].n == 0 ? NAN : st[sp].n / st[sp + 1].n;
            break;
        case TL__OP_NEG: st[sp].n = -st[sp].n; break;
        case TL__OP_ABS: st[sp].n = fabs(st[sp].n); break;
        case TL__OP_MIN:
            sp--;
            st[sp].n = isnan(st[sp].n) || isnan(st[sp + 1].n) ? NAN : fmin(st[sp].n, st[sp + 1].n);
            break;
        case TL__OP_MAX:
            sp--;
            st[sp].n = isnan(st[sp].n) || isnan(st[sp + 1].n) ? NAN : fmax(st[sp].n, st[sp + 1].n);
            break;
        case TL__OP_HOUR: st[sp].n = hour_of(st[sp].n); break;
        case TL__OP_EQN: sp--; st[sp].b = st[sp].n == st[sp + 1].n; break;
        case TL__OP_NEN:
            /* NaN compares false with everything, != included, so that a
             * missing feature never makes a rule fire by itself. */
            sp--;
            st[sp].b = st[sp].n < st[sp + 1].n || st[sp].n > st[sp + 1].n;
            break;
        case TL__OP_LT: sp--; st[sp].b = st[sp].n < st[sp + 1].n; break;
        case TL__OP_LE: sp--; st[sp].b = st[sp].n <= st[sp + 1].n; break;
        case TL__OP_GT: sp--; st[sp].b = st[sp].n > st[sp + 1].n; break;
        case TL__OP_GE: sp--; st[sp].b = st[sp].n >= st[sp + 1].n; break;
        case TL__OP_EQS:
        case TL__OP_NES: {
            sp--;
            bool eq = st[sp].s.len == st[sp + 1].s.len &&
                      (st[sp].s.len == 0 || memcmp(st[sp].s.p, st[sp + 1].s.p, st[sp].s.len) == 0);
            st[sp].b = in.op == TL__OP_EQS ? eq : !eq;
            break;
        }
        case TL__OP_EQB: sp--; st[sp].b = st[sp].b == st[sp + 1].b; break;
        case TL__OP_NEB: sp--; st[sp].b = st[sp].b != st[sp + 1].b; break;
        case TL__OP_NOT: st[sp].b = !st[sp].b; break;
        case TL__OP_JF:
            if (!st[sp].b)
                pc = in.arg;
            else
                sp--;
            break;
        case TL__OP_JT:
            if (st[sp].b)
                pc = in.arg;
            else
                sp--;
            break;
        case TL__OP_INN: st[sp].b = tl__rules_set_has_num(r, &r->sets[in.arg], st[sp].n); break;
        case TL__OP_INS:
            st[sp].b = tl__rules_set_has_str(r, &r->sets[in.arg], st[sp].s.p, st[sp].s.len);
            break;
        }
    }
    return sp == 0 && st[0].b;
}

int tl_rules_eval(const tl_rules *r, const struct tl_rule_value *values,
                  struct tl_rules_result *out)
{
    if (!r || !out || (!values && r->n_fields > 0))
        return TL_EINVAL;
    out->n_fired = 0;
    out->n_lists_hit = 0;
    int32_t first_allow_list = -1, first_block_list = -1;
    for (size_t i = 0; i < r->n_lists; i++) {
        const struct tl__rules_list *l = &r->lists[i];
        const struct tl_rule_value *v = &values[l->info.field];
        const struct tl__rules_set *set = &r->sets[l->set];
        bool hit = set->type == TL_RULE_STR
                       ? tl__rules_set_has_str(r, set, v->str ? v->str : "", v->str ? v->str_len : 0)
                       : tl__rules_set_has_num(r, set, v->num);
        if (!hit)
            continue;
        out->lists_hit[out->n_lists_hit++] = (uint16_t)i;
        int32_t *first = l->info.is_allow ? &first_allow_list : &first_block_list;
        if (*first < 0)
            *first = (int32_t)i;
    }
    int32_t first_of[3] = {-1, -1, -1}; /* by action */
    for (size_t i = 0; i < r->n_rules; i++) {
        if (!run(r, &r->rules[i], values))
            continue;
        out->fired[out->n_fired++] = (uint16_t)i;
        enum tl_rule_action a = r->rules[i].info.action;
        if (first_of[a] < 0)
            first_of[a] = (int32_t)i;
    }
    if (first_allow_list >= 0) {
        out->action = TL_RULE_ALLOW;
        out->basis = TL_RULES_BY_ALLOW_LIST;
        out->decided_by = first_allow_list;
    } else if (first_block_list >= 0) {
        out->action = TL_RULE_BLOCK;
        out->basis = TL_RULES_BY_BLOCK_LIST;
        out->decided_by = first_block_list;
    } else {
        out->action = TL_RULE_ALLOW;
        out->basis = TL_RULES_BY_DEFAULT;
        out->decided_by = -1;
        static const enum tl_rule_action by_severity[] = {TL_RULE_BLOCK, TL_RULE_REVIEW,
                                                          TL_RULE_ALLOW};
        for (size_t k = 0; k < 3; k++) {
            if (first_of[by_severity[k]] >= 0) {
                out->action = by_severity[k];
                out->basis = TL_RULES_BY_RULE;
                out->decided_by = first_of[by_severity[k]];
                break;
            }
        }
    }
    return 0;
}
