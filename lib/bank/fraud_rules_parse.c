/*
 * fraud_rules_parse.c - loading a rule set: the JSON document, and the
 * expression language of its "when" conditions (fraud_rules.h,
 * docs/fraud-rules.md).
 *
 * The expression compiler is one recursive-descent pass that types each
 * subexpression as it parses it and emits stack-machine code in postfix
 * order (fraud_rules_internal.h): there is no syntax tree to allocate, walk
 * or free, and everything a bank can get wrong (syntax, unknown field, type
 * mismatch, comparisons chained by mistake) is found here, at load time,
 * with the rule's name and a line:column, rather than on a live transaction.
 * `and`/`or` compile to conditional jumps, so evaluation short-circuits.
 *
 * Hostile input is bounded: the expression length, the nesting depth (the
 * recursion of this parser), the stack the code needs, the values of `in`
 * lists, the number of rules and lists and the size of the whole file all
 * have limits, reported as TL_ETOOBIG with the position that crossed them.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teller/json.h>

#include "core/internal.h"
#include "fraud_rules_internal.h"

/* ----------------------------------------------------------- growth --- */

/* Makes room for `more` elements in *p (holding n of elem bytes, capacity
 * *cap); the caller's limits keep n small, this guards the arithmetic. */
static int grow(void **p, size_t *cap, size_t n, size_t more, size_t elem)
{
    if (n + more <= *cap)
        return 0;
    size_t want = *cap ? *cap : 16;
    while (want < n + more)
        want *= 2;
    if (want > SIZE_MAX / elem || want > UINT32_MAX)
        return TL_ENOMEM;
    void *np = realloc(*p, want * elem);
    if (!np)
        return TL_ENOMEM;
    *p = np;
    *cap = want;
    return 0;
}

#define GROW(r, arr, more) grow((void **)&(r)->arr, &(r)->cap_##arr, (r)->n_##arr, (more), \
                                sizeof *(r)->arr)

static int pool_add(tl_rules *r, const char *s, size_t len, uint32_t *off)
{
    if (len > UINT32_MAX - r->n_pool || grow((void **)&r->pool, &r->cap_pool, r->n_pool, len + 1, 1))
        return TL_ENOMEM;
    memcpy(r->pool + r->n_pool, s, len);
    r->pool[r->n_pool + len] = '\0';
    *off = (uint32_t)r->n_pool;
    r->n_pool += len + 1;
    return 0;
}

/* ------------------------------------------------------------ sets --- */

static int cmp_num(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct str_sort {
    const char *p;
    struct tl__rules_str s;
};

static int cmp_str(const void *a, const void *b)
{
    const struct str_sort *x = a, *y = b;
    size_t n = x->s.len < y->s.len ? x->s.len : y->s.len;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c)
        return c;
    return x->s.len < y->s.len ? -1 : x->s.len > y->s.len;
}

/* Turns nums[first..n_nums) or strs[first..n_strs) into a set: sorted,
 * duplicates dropped (the arrays shrink to match), registered in sets[]. */
static int make_set(tl_rules *r, enum tl_rule_type type, size_t first, uint32_t *set_out)
{
    if (GROW(r, sets, 1))
        return TL_ENOMEM;
    size_t n;
    if (type == TL_RULE_NUM) {
        n = r->n_nums - first;
        if (n > 1) { /* (an empty set may have no array at all) */
            double *v = r->nums + first;
            qsort(v, n, sizeof *v, cmp_num);
            size_t k = 1;
            for (size_t i = 1; i < n; i++)
                if (v[i] != v[k - 1])
                    v[k++] = v[i];
            n = k;
        }
        r->n_nums = first + n;
    } else {
        n = r->n_strs - first;
        if (n > 1) {
            struct str_sort *tmp = malloc(n * sizeof *tmp);
            if (!tmp)
                return TL_ENOMEM;
            for (size_t i = 0; i < n; i++) {
                tmp[i].s = r->strs[first + i];
                tmp[i].p = r->pool + tmp[i].s.off;
            }
            qsort(tmp, n, sizeof *tmp, cmp_str);
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (k == 0 || cmp_str(&tmp[i], &tmp[k - 1]) != 0)
                    tmp[k++] = tmp[i];
            for (size_t i = 0; i < k; i++)
                r->strs[first + i] = tmp[i].s;
            free(tmp);
            n = k;
        }
        r->n_strs = first + n;
    }
    r->sets[r->n_sets] = (struct tl__rules_set){.type = type, .first = (uint32_t)first,
                                                .n = (uint32_t)n};
    *set_out = (uint32_t)r->n_sets++;
    return 0;
}

/* ----------------------------------------------------------- lexer --- */

enum tok {
    T_END, T_NUM, T_STR, T_IDENT, T_TRUE, T_FALSE, T_AND, T_OR, T_NOT, T_IN,
    T_LPAREN, T_RPAREN, T_LBRACKET, T_RBRACKET, T_COMMA,
    T_PLUS, T_MINUS, T_STAR, T_SLASH,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
};

static const struct {
    const char *word;
    enum tok tok;
} KEYWORDS[] = {
    {"and", T_AND}, {"or", T_OR}, {"not", T_NOT}, {"in", T_IN}, {"true", T_TRUE}, {"false", T_FALSE},
};

struct token {
    enum tok kind;
    size_t pos, len;   /* bytes of the source */
    double num;        /* T_NUM */
    uint32_t str;      /* T_STR: index into strs[] (the decoded literal) */
};

struct parser {
    tl_rules *r;
    const char *src;
    size_t len, pos;
    struct token tok;
    int depth;
    int sp, max_sp;      /* stack depth the code emitted so far needs */
    const char *what;    /* "rules[3] \"name\"", for messages */
    tl_err *err;
};

/* Fills err with "<rule>: when L:C: <message>" for the byte offset at. */
TL_PRINTF(4, 5)
static int perr(struct parser *p, size_t at, int code, const char *fmt, ...)
{
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        unsigned char c = (unsigned char)p->src[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    char msg[TL_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tl_err_set(p->err, code, "%s: when %u:%u: %s", p->what, line, col, msg);
}

/* The token for messages: its text quoted, or "the end of the expression". */
static const char *tok_text(const struct parser *p, const struct token *t, char *buf, size_t size)
{
    if (t->kind == T_END)
        return "the end of the expression";
    char q[TL__QUOTE_SIZE];
    tl__quote(q, sizeof q, p->src + t->pos, t->len);
    snprintf(buf, size, "\"%s\"", q);
    return buf;
}

static bool is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

static int lex_number(struct parser *p, struct token *t)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && is_digit(s[i]))
        i++;
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(s[i]))
            return perr(p, i, TL_EPARSE, "a digit must follow the decimal point");
        while (i < p->len && is_digit(s[i]))
            i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(s[i]))
            return perr(p, e, TL_EPARSE, "the exponent of a number needs digits");
        while (i < p->len && is_digit(s[i]))
            i++;
    }
    if (i < p->len && (is_ident_char(s[i]) || s[i] == '.'))
        return perr(p, i, TL_EPARSE, "malformed number (a number cannot run into a name or a second '.')");
    char buf[72];
    if (i - p->pos >= sizeof buf)
        return perr(p, p->pos, TL_EPARSE, "number is longer than %zu characters", sizeof buf - 1);
    memcpy(buf, s + p->pos, i - p->pos);
    buf[i - p->pos] = '\0';
    errno = 0;
    char *endp;
    double d = strtod(buf, &endp);
    if (*endp != '\0' || !isfinite(d))
        return perr(p, p->pos, TL_EPARSE, "number %s is out of range", buf);
    t->num = d;
    t->kind = T_NUM;
    t->len = i - p->pos;
    return 0;
}

/* A '...' or "..." literal; escapes \\ \' \" \n \t \r. Decoded into the pool
 * and registered as strs[t->str]. */
static int lex_string(struct parser *p, struct token *t)
{
    const char *s = p->src;
    char quote = s[p->pos];
    size_t i = p->pos + 1;
    char buf[TL_RULES_MAX_EXPR];
    size_t n = 0;
    for (;;) {
        if (i >= p->len || s[i] == '\n')
            return perr(p, p->pos, TL_EPARSE, "string is not closed (no %c before the end of the line)",
                        quote);
        char c = s[i];
        if (c == quote) {
            i++;
            break;
        }
        if (c == '\\') {
            char e = i + 1 < p->len ? s[i + 1] : '\0';
            switch (e) {
            case '\\': c = '\\'; break;
            case '\'': c = '\''; break;
            case '"': c = '"'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            default:
                return perr(p, i, TL_EPARSE,
                            "unknown escape in a string (use \\\\, \\', \\\", \\n, \\t or \\r)");
            }
            i++;
        }
        buf[n++] = c; /* n < i - p->pos <= TL_RULES_MAX_EXPR */
        i++;
    }
    tl_rules *r = p->r;
    if (GROW(r, strs, 1) || pool_add(r, buf, n, &r->strs[r->n_strs].off))
        return TL_ENOMEM;
    r->strs[r->n_strs].len = (uint32_t)n;
    t->str = (uint32_t)r->n_strs++;
    t->kind = T_STR;
    t->len = i - p->pos;
    return 0;
}

/* Reads the next token into p->tok. */
static int next(struct parser *p)
{
    const char *s = p->src;
    p->pos += p->tok.len;
    while (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' ||
                               s[p->pos] == '\r'))
        p->pos++;
    struct token *t = &p->tok;
    *t = (struct token){.kind = T_END, .pos = p->pos, .len = 0};
    if (p->pos >= p->len)
        return 0;
    char c = s[p->pos], c2 = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
    if (is_digit(c) || (c == '.' && is_digit(c2)))
        return lex_number(p, t);
    if (c == '\'' || c == '"')
        return lex_string(p, t);
    if (is_ident_start(c)) {
        size_t i = p->pos;
        while (i < p->len && is_ident_char(s[i]))
            i++;
        t->len = i - p->pos;
        t->kind = T_IDENT;
        for (size_t k = 0; k < sizeof KEYWORDS / sizeof KEYWORDS[0]; k++)
            if (strlen(KEYWORDS[k].word) == t->len && memcmp(KEYWORDS[k].word, s + p->pos, t->len) == 0)
                t->kind = KEYWORDS[k].tok;
        return 0;
    }
    t->len = 1;
    switch (c) {
    case '(': t->kind = T_LPAREN; return 0;
    case ')': t->kind = T_RPAREN; return 0;
    case '[': t->kind = T_LBRACKET; return 0;
    case ']': t->kind = T_RBRACKET; return 0;
    case ',': t->kind = T_COMMA; return 0;
    case '+': t->kind = T_PLUS; return 0;
    case '-': t->kind = T_MINUS; return 0;
    case '*': t->kind = T_STAR; return 0;
    case '/': t->kind = T_SLASH; return 0;
    case '<':
        t->kind = c2 == '=' ? T_LE : T_LT;
        t->len = c2 == '=' ? 2 : 1;
        return 0;
    case '>':
        t->kind = c2 == '=' ? T_GE : T_GT;
        t->len = c2 == '=' ? 2 : 1;
        return 0;
    case '=':
        if (c2 == '=') {
            t->kind = T_EQ;
            t->len = 2;
            return 0;
        }
        return perr(p, p->pos, TL_EPARSE, "'=' is not an operator; compare with '=='");
    case '!':
        if (c2 == '=') {
            t->kind = T_NE;
            t->len = 2;
            return 0;
        }
        return perr(p, p->pos, TL_EPARSE, "'!' is not an operator; negate with 'not'");
    case '&':
        return perr(p, p->pos, TL_EPARSE, "'&' is not an operator; use 'and'");
    case '|':
        return perr(p, p->pos, TL_EPARSE, "'|' is not an operator; use 'or'");
    default: {
        size_t n = tl__utf8_seq_len((const unsigned char *)s + p->pos, p->len - p->pos);
        char q[TL__QUOTE_SIZE];
        tl__quote(q, sizeof q, s + p->pos, n ? n : 1);
        return perr(p, p->pos, TL_EPARSE, "unexpected character \"%s\"", q);
    }
    }
}

/* --------------------------------------------------------- compiler --- */

/* The type and start of a parsed subexpression. */
struct ex {
    enum tl_rule_type type;
    size_t pos;
};

static const char *type_name(enum tl_rule_type t)
{
    return t == TL_RULE_NUM ? "a number" : t == TL_RULE_STR ? "a string" : "a boolean";
}

/* Appends one instruction that changes the stack depth by delta. */
static int emit(struct parser *p, enum tl__rules_op op, uint32_t arg, int delta)
{
    tl_rules *r = p->r;
    if (GROW(r, code, 1))
        return TL_ENOMEM;
    r->code[r->n_code++] = (struct tl__rules_ins){.op = (uint32_t)op, .arg = arg};
    p->sp += delta;
    if (p->sp > p->max_sp) {
        p->max_sp = p->sp;
        if (p->max_sp > TL__RULES_MAX_STACK)
            return perr(p, p->tok.pos, TL_ETOOBIG, "expression is too complex (it needs more than %d "
                        "values at once)", TL__RULES_MAX_STACK);
    }
    return 0;
}

static int expect(struct parser *p, enum tok kind, const char *what)
{
    if (p->tok.kind != kind) {
        char b[TL__QUOTE_SIZE + 4];
        return perr(p, p->tok.pos, TL_EPARSE, "expected %s, found %s", what,
                    tok_text(p, &p->tok, b, sizeof b));
    }
    return next(p);
}

static int parse_or(struct parser *p, struct ex *out);

static int enter(struct parser *p)
{
    if (++p->depth > TL_RULES_MAX_DEPTH)
        return perr(p, p->tok.pos, TL_ETOOBIG, "expression is nested more than %d deep",
                    TL_RULES_MAX_DEPTH);
    return 0;
}

static int need(struct parser *p, const struct ex *e, enum tl_rule_type type, const char *op,
                const char *side)
{
    if (e->type == type)
        return 0;
    return perr(p, e->pos, TL_EINVAL, "'%s' needs %s, but its %s is %s", op,
                type == TL_RULE_NUM ? "numbers" : "booleans", side, type_name(e->type));
}

static const struct {
    const char *name;
    int n_args;
    enum tl__rules_op op;
} FUNCS[] = {
    {"abs", 1, TL__OP_ABS},
    {"min", 2, TL__OP_MIN},
    {"max", 2, TL__OP_MAX},
    {"hour", 1, TL__OP_HOUR},
};

static int parse_call(struct parser *p, struct ex *out)
{
    const struct token name = p->tok;
    size_t f = 0;
    while (f < sizeof FUNCS / sizeof FUNCS[0] &&
           !(strlen(FUNCS[f].name) == name.len && memcmp(FUNCS[f].name, p->src + name.pos, name.len) == 0))
        f++;
    if (f == sizeof FUNCS / sizeof FUNCS[0]) {
        char q[TL__QUOTE_SIZE];
        tl__quote(q, sizeof q, p->src + name.pos, name.len);
        return perr(p, name.pos, TL_EINVAL, "unknown function \"%s\" (there are abs, min, max and hour)", q);
    }
    int rc;
    if ((rc = next(p)) < 0 || (rc = next(p)) < 0) /* the name, the '(' */
        return rc;
    int n = 0;
    if (p->tok.kind != T_RPAREN) {
        for (;;) {
            struct ex a;
            if ((rc = parse_or(p, &a)) < 0 || (rc = need(p, &a, TL_RULE_NUM, FUNCS[f].name, "argument")) < 0)
                return rc;
            n++;
            if (p->tok.kind != T_COMMA)
                break;
            if ((rc = next(p)) < 0)
                return rc;
        }
    }
    if (n != FUNCS[f].n_args)
        return perr(p, name.pos, TL_EINVAL, "%s takes %d argument%s, not %d", FUNCS[f].name,
                    FUNCS[f].n_args, FUNCS[f].n_args == 1 ? "" : "s", n);
    if ((rc = expect(p, T_RPAREN, "')' after the arguments")) < 0)
        return rc;
    *out = (struct ex){.type = TL_RULE_NUM, .pos = name.pos};
    return emit(p, FUNCS[f].op, 0, 1 - n);
}

static int parse_primary(struct parser *p, struct ex *out)
{
    tl_rules *r = p->r;
    struct token t = p->tok;
    int rc;
    *out = (struct ex){.pos = t.pos};
    switch (t.kind) {
    case T_NUM:
        if (GROW(r, nums, 1))
            return TL_ENOMEM;
        r->nums[r->n_nums] = t.num;
        out->type = TL_RULE_NUM;
        if ((rc = emit(p, TL__OP_NUM, (uint32_t)r->n_nums++, 1)) < 0)
            return rc;
        return next(p);
    case T_STR:
        out->type = TL_RULE_STR;
        if ((rc = emit(p, TL__OP_STR, t.str, 1)) < 0)
            return rc;
        return next(p);
    case T_TRUE:
    case T_FALSE:
        out->type = TL_RULE_BOOL;
        if ((rc = emit(p, TL__OP_BOOL, t.kind == T_TRUE, 1)) < 0)
            return rc;
        return next(p);
    case T_IDENT: {
        size_t after = t.pos + t.len;
        while (after < p->len && (p->src[after] == ' ' || p->src[after] == '\t' ||
                                  p->src[after] == '\n' || p->src[after] == '\r'))
            after++;
        if (after < p->len && p->src[after] == '(') {
            return parse_call(p, out); /* each argument's parse_or counts the depth */
        }
        for (size_t i = 0; i < r->n_fields; i++) {
            const struct tl_rule_field *f = &r->fields[i];
            if (strlen(f->name) != t.len || memcmp(f->name, p->src + t.pos, t.len) != 0)
                continue;
            static const enum tl__rules_op load[] = {
                [TL_RULE_NUM] = TL__OP_LNUM, [TL_RULE_STR] = TL__OP_LSTR, [TL_RULE_BOOL] = TL__OP_LBOOL,
            };
            out->type = f->type;
            if ((rc = emit(p, load[f->type], (uint32_t)i, 1)) < 0)
                return rc;
            return next(p);
        }
        char q[TL__QUOTE_SIZE];
        tl__quote(q, sizeof q, p->src + t.pos, t.len);
        return perr(p, t.pos, TL_EINVAL, "unknown field \"%s\"", q);
    }
    case T_LPAREN:
        if ((rc = next(p)) < 0 || (rc = parse_or(p, out)) < 0) /* parse_or counts the depth */
            return rc;
        out->pos = t.pos;
        return expect(p, T_RPAREN, "')'");
    default: {
        char b[TL__QUOTE_SIZE + 4];
        return perr(p, t.pos, TL_EPARSE, "expected a value, found %s", tok_text(p, &t, b, sizeof b));
    }
    }
}

static int parse_unary(struct parser *p, struct ex *out)
{
    if (p->tok.kind != T_MINUS)
        return parse_primary(p, out);
    size_t pos = p->tok.pos;
    int rc;
    if ((rc = enter(p)) < 0 || (rc = next(p)) < 0 || (rc = parse_unary(p, out)) < 0 ||
        (rc = need(p, out, TL_RULE_NUM, "-", "operand")) < 0)
        return rc;
    p->depth--;
    out->pos = pos;
    return emit(p, TL__OP_NEG, 0, 0);
}

static int parse_binary_num(struct parser *p, struct ex *out, bool mul)
{
    int rc = mul ? parse_unary(p, out) : parse_binary_num(p, out, true);
    if (rc < 0)
        return rc;
    for (;;) {
        enum tok k = p->tok.kind;
        enum tl__rules_op op;
        const char *name;
        if (mul && (k == T_STAR || k == T_SLASH)) {
            op = k == T_STAR ? TL__OP_MUL : TL__OP_DIV;
            name = k == T_STAR ? "*" : "/";
        } else if (!mul && (k == T_PLUS || k == T_MINUS)) {
            op = k == T_PLUS ? TL__OP_ADD : TL__OP_SUB;
            name = k == T_PLUS ? "+" : "-";
        } else {
            return 0;
        }
        struct ex rhs;
        if ((rc = need(p, out, TL_RULE_NUM, name, "left side")) < 0 || (rc = next(p)) < 0 ||
            (rc = mul ? parse_unary(p, &rhs) : parse_binary_num(p, &rhs, true)) < 0 ||
            (rc = need(p, &rhs, TL_RULE_NUM, name, "right side")) < 0 || (rc = emit(p, op, 0, -1)) < 0)
            return rc;
    }
}

static bool is_cmp(enum tok k)
{
    return k >= T_EQ && k <= T_GE;
}

/* The literal list of `x in [...]`: values of x's type, at most
 * TL_RULES_MAX_IN_VALUES, a negative number written with a leading '-'. */
static int parse_in_list(struct parser *p, const struct ex *lhs, bool negated)
{
    tl_rules *r = p->r;
    int rc;
    if (lhs->type == TL_RULE_BOOL)
        return perr(p, lhs->pos, TL_EINVAL, "'in' needs a number or a string on its left, not a boolean");
    /* Taken before the '[' is passed: that lexes the first value, and a
     * string literal lands in strs[] as it is lexed. */
    size_t first = lhs->type == TL_RULE_NUM ? r->n_nums : r->n_strs;
    if ((rc = expect(p, T_LBRACKET, "'[' to open the list after 'in'")) < 0)
        return rc;
    size_t n = 0;
    while (p->tok.kind != T_RBRACKET) {
        if (n > 0 && (rc = expect(p, T_COMMA, "',' or ']' in the list")) < 0)
            return rc;
        if (++n > TL_RULES_MAX_IN_VALUES)
            return perr(p, p->tok.pos, TL_ETOOBIG, "list holds more than %d values", TL_RULES_MAX_IN_VALUES);
        size_t pos = p->tok.pos;
        bool minus = p->tok.kind == T_MINUS;
        if (minus && (rc = next(p)) < 0)
            return rc;
        enum tl_rule_type vt = p->tok.kind == T_NUM ? TL_RULE_NUM : p->tok.kind == T_STR ? TL_RULE_STR : 0;
        if (vt == 0 || (minus && vt != TL_RULE_NUM)) {
            char b[TL__QUOTE_SIZE + 4];
            return perr(p, p->tok.pos, TL_EPARSE, "expected a number or a string in the list, found %s",
                        tok_text(p, &p->tok, b, sizeof b));
        }
        if (vt != lhs->type)
            return perr(p, pos, TL_EINVAL, "the list holds %s, but the value left of 'in' is %s",
                        type_name(vt), type_name(lhs->type));
        if (vt == TL_RULE_NUM) {
            if (GROW(r, nums, 1))
                return TL_ENOMEM;
            r->nums[r->n_nums++] = minus ? -p->tok.num : p->tok.num;
        } else {
            /* The lexer appended the literal to strs[] just now; it stays. */
            if (TL_NEVER(p->tok.str != r->n_strs - 1))
                return tl_err_set(p->err, TL_EINTERNAL, "%s: string list out of order", p->what);
        }
        if ((rc = next(p)) < 0)
            return rc;
    }
    if ((rc = next(p)) < 0)
        return rc;
    uint32_t set;
    if (make_set(r, lhs->type, first, &set) < 0)
        return TL_ENOMEM;
    if ((rc = emit(p, lhs->type == TL_RULE_NUM ? TL__OP_INN : TL__OP_INS, set, 0)) < 0)
        return rc;
    return negated ? emit(p, TL__OP_NOT, 0, 0) : 0;
}

static int parse_cmp(struct parser *p, struct ex *out)
{
    int rc = parse_binary_num(p, out, false);
    if (rc < 0)
        return rc;
    struct token op = p->tok;
    if (op.kind == T_IN || op.kind == T_NOT) {
        if ((rc = next(p)) < 0)
            return rc;
        if (op.kind == T_NOT && (rc = expect(p, T_IN, "'in' after 'not' (or 'and', 'or')")) < 0)
            return rc;
        if ((rc = parse_in_list(p, out, op.kind == T_NOT)) < 0)
            return rc;
    } else if (is_cmp(op.kind)) {
        struct ex rhs;
        if ((rc = next(p)) < 0 || (rc = parse_binary_num(p, &rhs, false)) < 0)
            return rc;
        char q[8];
        snprintf(q, sizeof q, "%.*s", (int)op.len, p->src + op.pos);
        if (rhs.type != out->type)
            return perr(p, op.pos, TL_EINVAL, "'%s' compares %s with %s", q, type_name(out->type),
                        type_name(rhs.type));
        bool eq = op.kind == T_EQ || op.kind == T_NE;
        enum tl__rules_op code;
        if (out->type == TL_RULE_NUM) {
            static const enum tl__rules_op num_ops[] = {
                [T_EQ] = TL__OP_EQN, [T_NE] = TL__OP_NEN, [T_LT] = TL__OP_LT,
                [T_LE] = TL__OP_LE,  [T_GT] = TL__OP_GT,  [T_GE] = TL__OP_GE,
            };
            code = num_ops[op.kind];
        } else if (!eq) {
            return perr(p, op.pos, TL_EINVAL, "'%s' orders numbers only; %ss compare with == and != only",
                        q, out->type == TL_RULE_STR ? "string" : "boolean");
        } else if (out->type == TL_RULE_STR) {
            code = op.kind == T_EQ ? TL__OP_EQS : TL__OP_NES;
        } else {
            code = op.kind == T_EQ ? TL__OP_EQB : TL__OP_NEB;
        }
        if ((rc = emit(p, code, 0, -1)) < 0)
            return rc;
    } else {
        return 0;
    }
    out->type = TL_RULE_BOOL;
    if (is_cmp(p->tok.kind) || p->tok.kind == T_IN)
        return perr(p, p->tok.pos, TL_EPARSE, "comparisons do not chain; join them with 'and'");
    return 0;
}

static int parse_not(struct parser *p, struct ex *out)
{
    if (p->tok.kind != T_NOT)
        return parse_cmp(p, out);
    size_t pos = p->tok.pos;
    int rc;
    if ((rc = enter(p)) < 0 || (rc = next(p)) < 0 || (rc = parse_not(p, out)) < 0 ||
        (rc = need(p, out, TL_RULE_BOOL, "not", "operand")) < 0)
        return rc;
    p->depth--;
    out->pos = pos;
    return emit(p, TL__OP_NOT, 0, 0);
}

/* and (is_and) or or: lhs, then per operator a conditional jump over the
 * right side that keeps the deciding value on the stack. */
static int parse_logic(struct parser *p, struct ex *out, bool is_and)
{
    int rc = is_and ? parse_not(p, out) : parse_logic(p, out, true);
    if (rc < 0)
        return rc;
    const char *name = is_and ? "and" : "or";
    while (p->tok.kind == (is_and ? T_AND : T_OR)) {
        if ((rc = need(p, out, TL_RULE_BOOL, name, "left side")) < 0 || (rc = next(p)) < 0)
            return rc;
        size_t jump = p->r->n_code;
        if ((rc = emit(p, is_and ? TL__OP_JF : TL__OP_JT, 0, -1)) < 0)
            return rc;
        struct ex rhs;
        if ((rc = is_and ? parse_not(p, &rhs) : parse_logic(p, &rhs, true)) < 0 ||
            (rc = need(p, &rhs, TL_RULE_BOOL, name, "right side")) < 0)
            return rc;
        p->r->code[jump].arg = (uint32_t)p->r->n_code;
    }
    return 0;
}

static int parse_or(struct parser *p, struct ex *out)
{
    int rc;
    if ((rc = enter(p)) < 0 || (rc = parse_logic(p, out, false)) < 0)
        return rc;
    p->depth--;
    return 0;
}

/* Compiles expr (len bytes) as the condition of the rule being added: its
 * code goes to the end of r->code, [*start, *end). */
static int compile(tl_rules *r, const char *expr, size_t len, const char *what, uint32_t *start,
                   uint32_t *end, tl_err *err)
{
    struct parser p = {.r = r, .src = expr, .len = len, .what = what, .err = err};
    if (len > TL_RULES_MAX_EXPR)
        return perr(&p, TL_RULES_MAX_EXPR, TL_ETOOBIG, "expression is longer than %d bytes",
                    TL_RULES_MAX_EXPR);
    *start = (uint32_t)r->n_code;
    struct ex e;
    int rc;
    if ((rc = next(&p)) < 0 || (rc = parse_or(&p, &e)) < 0)
        return rc;
    if (p.tok.kind != T_END) {
        char b[TL__QUOTE_SIZE + 4];
        return perr(&p, p.tok.pos, TL_EPARSE, "expected 'and', 'or' or the end of the expression, found %s",
                    tok_text(&p, &p.tok, b, sizeof b));
    }
    if (e.type != TL_RULE_BOOL)
        return perr(&p, 0, TL_EINVAL, "the condition is %s; a rule needs a true/false condition",
                    type_name(e.type));
    if (TL_NEVER(p.sp != 1))
        return tl_err_set(err, TL_EINTERNAL, "%s: compiled code leaves %d values", what, p.sp);
    *end = (uint32_t)r->n_code;
    return 0;
}

/* ----------------------------------------------------------- loader --- */

static bool valid_ident(const char *s)
{
    if (!s || !is_ident_start((unsigned char)s[0]))
        return false;
    size_t n = 1;
    while (s[n] && is_ident_char((unsigned char)s[n]))
        n++;
    if (s[n] || n > TL_RULES_MAX_NAME)
        return false;
    for (size_t k = 0; k < sizeof KEYWORDS / sizeof KEYWORDS[0]; k++)
        if (strcmp(KEYWORDS[k].word, s) == 0)
            return false;
    for (size_t k = 0; k < sizeof FUNCS / sizeof FUNCS[0]; k++)
        if (strcmp(FUNCS[k].name, s) == 0)
            return false;
    return true;
}

/* Rule and list names reach audit records, logs and HTTP bodies: a short
 * run of letters, digits and _ . - : is enough and needs no escaping. */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len > TL_RULES_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!is_ident_char((unsigned char)c) && c != '.' && c != '-' && c != ':')
            return false;
    }
    return true;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Every key of obj must be one of allowed (NULL-terminated): a misspelt
 * "whne" must not load as a rule without a condition. */
static int check_keys(const json_t *obj, const char *const *allowed, const char *what, tl_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t k = 0;
        while (allowed[k] && strcmp(allowed[k], key) != 0)
            k++;
        if (!allowed[k]) {
            char q[TL__QUOTE_SIZE];
            return tl_err_set(err, TL_EINVAL, "%s: unknown key \"%s\"", what,
                              tl__quote(q, sizeof q, key, strlen(key)));
        }
    }
    return 0;
}

static int get_string(const json_t *obj, const char *key, const char *what, size_t max,
                      const char **s, size_t *len, tl_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return tl_err_set(err, TL_EINVAL, "%s: \"%s\" is missing", what, key);
    if (!json_is_string(v))
        return tl_err_set(err, TL_EINVAL, "%s: \"%s\" must be a string", what, key);
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (*len == 0)
        return tl_err_set(err, TL_EINVAL, "%s: \"%s\" is empty", what, key);
    if (*len > max)
        return tl_err_set(err, TL_ETOOBIG, "%s: \"%s\" is longer than %zu bytes", what, key, max);
    return 0;
}

static int load_rule(tl_rules *r, const json_t *obj, size_t index, tl_err *err)
{
    char what[TL__QUOTE_SIZE + 64];
    snprintf(what, sizeof what, "rules[%zu]", index);
    if (!json_is_object(obj))
        return tl_err_set(err, TL_EINVAL, "%s: a rule must be an object", what);
    static const char *const keys[] = {"name", "action", "when", "reason", NULL};
    int rc;
    const char *name, *action, *when, *reason;
    size_t name_len, action_len, when_len, reason_len;
    if ((rc = check_keys(obj, keys, what, err)) < 0 ||
        (rc = get_string(obj, "name", what, TL_RULES_MAX_NAME, &name, &name_len, err)) < 0)
        return rc;
    if (!valid_name(name, name_len)) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL, "%s: name \"%s\" may hold only letters, digits and _ . - :",
                          what, tl__quote(q, sizeof q, name, name_len));
    }
    snprintf(what, sizeof what, "rules[%zu] \"%s\"", index, name);
    for (size_t i = 0; i < r->n_rules; i++)
        if (strcmp(r->rules[i].info.name, name) == 0)
            return tl_err_set(err, TL_EINVAL, "%s: the name is already used by rules[%zu]", what, i);
    if ((rc = get_string(obj, "action", what, 16, &action, &action_len, err)) < 0 ||
        (rc = get_string(obj, "when", what, TL_RULES_MAX_TEXT, &when, &when_len, err)) < 0 ||
        (rc = get_string(obj, "reason", what, TL_RULES_MAX_REASON, &reason, &reason_len, err)) < 0)
        return rc;
    enum tl_rule_action a;
    if (strcmp(action, "allow") == 0)
        a = TL_RULE_ALLOW;
    else if (strcmp(action, "review") == 0)
        a = TL_RULE_REVIEW;
    else if (strcmp(action, "block") == 0)
        a = TL_RULE_BLOCK;
    else {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL, "%s: action must be allow, review or block, not \"%s\"", what,
                          tl__quote(q, sizeof q, action, action_len));
    }
    if (r->n_rules >= TL_RULES_MAX_RULES)
        return tl_err_set(err, TL_ETOOBIG, "%s: a rule set holds at most %d rules", what,
                          TL_RULES_MAX_RULES);
    uint32_t start = 0, end = 0;
    if ((rc = compile(r, when, when_len, what, &start, &end, err)) < 0)
        return rc;
    if (GROW(r, rules, 1))
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    struct tl__rules_rule *ru = &r->rules[r->n_rules];
    *ru = (struct tl__rules_rule){.info.action = a, .code_start = start, .code_end = end};
    ru->info.name = dup_n(name, name_len);
    ru->info.when = dup_n(when, when_len);
    ru->info.reason = dup_n(reason, reason_len);
    r->n_rules++; /* counted before the check so tl_rules_free frees what did get copied */
    if (!ru->info.name || !ru->info.when || !ru->info.reason)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    return 0;
}

static int load_list(tl_rules *r, const json_t *obj, const char *kind, size_t index,
                     size_t *n_values, tl_err *err)
{
    char what[TL__QUOTE_SIZE + 64];
    snprintf(what, sizeof what, "%s[%zu]", kind, index);
    if (!json_is_object(obj))
        return tl_err_set(err, TL_EINVAL, "%s: a list must be an object", what);
    static const char *const keys[] = {"name", "field", "values", NULL};
    int rc;
    const char *name, *field;
    size_t name_len, field_len;
    if ((rc = check_keys(obj, keys, what, err)) < 0 ||
        (rc = get_string(obj, "name", what, TL_RULES_MAX_NAME, &name, &name_len, err)) < 0)
        return rc;
    if (!valid_name(name, name_len)) {
        char q[TL__QUOTE_SIZE];
        return tl_err_set(err, TL_EINVAL, "%s: name \"%s\" may hold only letters, digits and _ . - :",
                          what, tl__quote(q, sizeof q, name, name_len));
    }
    snprintf(what, sizeof what, "%s[%zu] \"%s\"", kind, index, name);
    for (size_t i = 0; i < r->n_lists; i++)
        if (strcmp(r->lists[i].info.name, name) == 0)
            return tl_err_set(err, TL_EINVAL, "%s: the name is already used by another list", what);
    if ((rc = get_string(obj, "field", what, 1024, &field, &field_len, err)) < 0)
        return rc;
    size_t fi = 0;
    while (fi < r->n_fields && strcmp(r->fields[fi].name, field) != 0)
        fi++;
    char q[TL__QUOTE_SIZE];
    if (fi == r->n_fields)
        return tl_err_set(err, TL_EINVAL, "%s: unknown field \"%s\"", what,
                          tl__quote(q, sizeof q, field, field_len));
    enum tl_rule_type type = r->fields[fi].type;
    if (type == TL_RULE_BOOL)
        return tl_err_set(err, TL_EINVAL, "%s: field \"%s\" is a boolean; lists hold numbers or strings",
                          what, field);
    json_t *values = json_object_get(obj, "values");
    if (!json_is_array(values))
        return tl_err_set(err, TL_EINVAL, "%s: \"values\" must be an array", what);
    if (r->n_lists >= TL_RULES_MAX_LISTS)
        return tl_err_set(err, TL_ETOOBIG, "%s: a rule set holds at most %d lists", what,
                          TL_RULES_MAX_LISTS);
    size_t n = json_array_size(values);
    if (n > TL_RULES_MAX_LIST_VALUES - *n_values)
        return tl_err_set(err, TL_ETOOBIG, "%s: the lists hold more than %d values in all", what,
                          TL_RULES_MAX_LIST_VALUES);
    *n_values += n;
    size_t first = type == TL_RULE_NUM ? r->n_nums : r->n_strs;
    if (type == TL_RULE_NUM ? GROW(r, nums, n) : GROW(r, strs, n))
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(values, i);
        if (type == TL_RULE_NUM) {
            if (!json_is_number(v))
                return tl_err_set(err, TL_EINVAL, "%s: values[%zu] must be a number (field \"%s\" is a "
                                  "number)", what, i, field);
            r->nums[r->n_nums++] = json_number_value(v);
        } else {
            if (!json_is_string(v))
                return tl_err_set(err, TL_EINVAL, "%s: values[%zu] must be a string (field \"%s\" is a "
                                  "string)", what, i, field);
            struct tl__rules_str *s = &r->strs[r->n_strs];
            if (pool_add(r, json_string_value(v), json_string_length(v), &s->off) < 0)
                return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
            s->len = (uint32_t)json_string_length(v);
            r->n_strs++;
        }
    }
    uint32_t set;
    if (make_set(r, type, first, &set) < 0 || GROW(r, lists, 1))
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    struct tl__rules_list *l = &r->lists[r->n_lists];
    *l = (struct tl__rules_list){.set = set};
    l->info.is_allow = kind[0] == 'a';
    l->info.field = fi;
    l->info.n_values = r->sets[set].n;
    l->info.name = dup_n(name, name_len);
    r->n_lists++;
    if (!l->info.name)
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", what);
    return 0;
}

static int load_schema(tl_rules *r, const struct tl_rule_field *schema, size_t n, tl_err *err)
{
    if (n > TL_RULES_MAX_FIELDS)
        return tl_err_set(err, TL_ETOOBIG, "rule schema: more than %d fields", TL_RULES_MAX_FIELDS);
    if (n == 0)
        return 0;
    if (!schema)
        return tl_err_set(err, TL_EINVAL, "rule schema: no fields given");
    r->fields = calloc(n, sizeof *r->fields);
    if (!r->fields)
        return tl_err_set(err, TL_ENOMEM, "rule schema: out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = schema[i].name;
        char q[TL__QUOTE_SIZE];
        if (!valid_ident(name))
            return tl_err_set(err, TL_EINVAL, "rule schema: field %zu \"%s\" is no identifier (letters, "
                              "digits, _; not a keyword or function; at most %d bytes)", i,
                              name ? tl__quote(q, sizeof q, name, strlen(name)) : "(null)",
                              TL_RULES_MAX_NAME);
        if (schema[i].type != TL_RULE_NUM && schema[i].type != TL_RULE_STR &&
            schema[i].type != TL_RULE_BOOL)
            return tl_err_set(err, TL_EINVAL, "rule schema: field \"%s\" has no valid type", name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->fields[k].name, name) == 0)
                return tl_err_set(err, TL_EINVAL, "rule schema: field \"%s\" appears twice", name);
        r->fields[i].type = schema[i].type;
        r->fields[i].name = dup_n(name, strlen(name));
        r->n_fields = i + 1;
        if (!r->fields[i].name)
            return tl_err_set(err, TL_ENOMEM, "rule schema: out of memory");
    }
    return 0;
}

static int load_doc(tl_rules *r, const json_t *root, tl_err *err)
{
    if (!json_is_object(root))
        return tl_err_set(err, TL_EINVAL, "rule set: the document must be a JSON object");
    static const char *const keys[] = {"description", "rules", "allow_lists", "block_lists", NULL};
    int rc = check_keys(root, keys, "rule set", err);
    if (rc < 0)
        return rc;
    json_t *rules = json_object_get(root, "rules");
    if (!json_is_array(rules))
        return tl_err_set(err, TL_EINVAL, "rule set: \"rules\" must be an array");
    for (size_t i = 0; i < json_array_size(rules); i++)
        if ((rc = load_rule(r, json_array_get(rules, i), i, err)) < 0)
            return rc;
    size_t n_values = 0;
    static const char *const kinds[] = {"allow_lists", "block_lists"};
    for (size_t k = 0; k < 2; k++) {
        json_t *lists = json_object_get(root, kinds[k]);
        if (!lists)
            continue;
        if (!json_is_array(lists))
            return tl_err_set(err, TL_EINVAL, "rule set: \"%s\" must be an array", kinds[k]);
        for (size_t i = 0; i < json_array_size(lists); i++)
            if ((rc = load_list(r, json_array_get(lists, i), kinds[k], i, &n_values, err)) < 0)
                return rc;
    }
    return 0;
}

int tl_rules_load(const char *text, const struct tl_rule_field *schema, size_t n_fields,
                  tl_rules **out, tl_err *err)
{
    if (!text || !out)
        return tl_err_set(err, TL_EINVAL, "tl_rules_load: no %s", text ? "result pointer" : "text");
    size_t len = strnlen(text, (size_t)TL_RULES_MAX_TEXT + 1);
    if (len > TL_RULES_MAX_TEXT)
        return tl_err_set(err, TL_ETOOBIG, "rule set: longer than %u bytes", TL_RULES_MAX_TEXT);
    tl_rules *r = calloc(1, sizeof *r);
    if (!r)
        return tl_err_set(err, TL_ENOMEM, "rule set: out of memory");
    int rc = load_schema(r, schema, n_fields, err);
    if (rc == 0) {
        json_t *root = tl_json_parse(text, len, "rule set", err);
        rc = root ? load_doc(r, root, err) : (err && err->code < 0 ? err->code : TL_EPARSE);
        json_decref(root);
    }
    if (rc < 0) {
        if (rc == TL_ENOMEM && err && err->code != TL_ENOMEM)
            tl_err_set(err, TL_ENOMEM, "rule set: out of memory");
        tl_rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int tl_rules_load_file(const char *path, const struct tl_rule_field *schema, size_t n_fields,
                       tl_rules **out, tl_err *err)
{
    if (!path)
        return tl_err_set(err, TL_EINVAL, "tl_rules_load_file: no path");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tl_err_set(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, "cannot open %s: %s", path,
                          strerror(errno));
    char *buf = malloc((size_t)TL_RULES_MAX_TEXT + 2);
    if (!buf) {
        fclose(fp);
        return tl_err_set(err, TL_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)TL_RULES_MAX_TEXT + 1, fp);
    int io = ferror(fp);
    fclose(fp);
    int rc;
    if (io)
        rc = tl_err_set(err, TL_EIO, "%s: read error", path);
    else if (n > TL_RULES_MAX_TEXT)
        rc = tl_err_set(err, TL_ETOOBIG, "%s: longer than %u bytes", path, TL_RULES_MAX_TEXT);
    else if (memchr(buf, '\0', n))
        rc = tl_err_set(err, TL_EPARSE, "%s: holds a NUL byte", path);
    else {
        buf[n] = '\0';
        rc = tl_rules_load(buf, schema, n_fields, out, err);
        if (rc < 0)
            tl_err_prefix(err, "%s", path);
    }
    free(buf);
    return rc;
}

void tl_rules_free(tl_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_fields; i++)
        free((char *)r->fields[i].name);
    free(r->fields);
    for (size_t i = 0; i < r->n_rules; i++) {
        free((char *)r->rules[i].info.name);
        free((char *)r->rules[i].info.when);
        free((char *)r->rules[i].info.reason);
    }
    free(r->rules);
    for (size_t i = 0; i < r->n_lists; i++)
        free((char *)r->lists[i].info.name);
    free(r->lists);
    free(r->code);
    free(r->nums);
    free(r->strs);
    free(r->pool);
    free(r->sets);
    free(r);
}

size_t tl_rules_count(const tl_rules *r)
{
    return r ? r->n_rules : 0;
}

const struct tl_rule_info *tl_rules_get(const tl_rules *r, size_t i)
{
    return r && i < r->n_rules ? &r->rules[i].info : NULL;
}

size_t tl_rules_list_count(const tl_rules *r)
{
    return r ? r->n_lists : 0;
}

const struct tl_rules_list_info *tl_rules_list_get(const tl_rules *r, size_t i)
{
    return r && i < r->n_lists ? &r->lists[i].info : NULL;
}

const char *tl_rule_action_name(enum tl_rule_action a)
{
    switch (a) {
    case TL_RULE_ALLOW: return "allow";
    case TL_RULE_REVIEW: return "review";
    case TL_RULE_BLOCK: return "block";
    }
    return "?";
}
