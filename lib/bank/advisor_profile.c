/*
 * advisor_profile.c - the risk profile: the questionnaire (built in, or a
 * bank's own JSON file), its validation, scoring answers into tolerance and
 * capacity levels, the profile (capacity caps tolerance), the explanation
 * naming the answers that drove it, and contradictions. Stored per customer
 * in risk_profiles.
 */
#include "advisor_internal.h"

#include <teller/datetime.h>

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in questionnaire: four capacity questions (can the customer
 * bear a loss) and four tolerance questions (does the customer want to),
 * scored 0 (cautious) to 4 (adventurous). docs/advice.md shows it. */
static const char DEFAULT_QUESTIONNAIRE[] =
    "{\"id\":\"teller-default\",\"version\":1,\"questions\":["
    "{\"id\":\"horizon\",\"kind\":\"capacity\",\"text\":\"When will you need most of this money?\","
    "\"answers\":["
    "{\"id\":\"lt3\",\"text\":\"in less than 3 years\",\"score\":0},"
    "{\"id\":\"3to5\",\"text\":\"in 3 to 5 years\",\"score\":1},"
    "{\"id\":\"5to10\",\"text\":\"in 5 to 10 years\",\"score\":2},"
    "{\"id\":\"10to15\",\"text\":\"in 10 to 15 years\",\"score\":3},"
    "{\"id\":\"gt15\",\"text\":\"in more than 15 years\",\"score\":4}]},"
    "{\"id\":\"income_stability\",\"kind\":\"capacity\","
    "\"text\":\"How secure is your income over the next five years?\",\"answers\":["
    "{\"id\":\"unstable\",\"text\":\"it may stop or fall sharply\",\"score\":0},"
    "{\"id\":\"variable\",\"text\":\"it varies from year to year\",\"score\":1},"
    "{\"id\":\"stable\",\"text\":\"it is stable\",\"score\":3},"
    "{\"id\":\"very_stable\",\"text\":\"it is very secure (or I live on my assets)\",\"score\":4}]},"
    "{\"id\":\"emergency_savings\",\"kind\":\"capacity\","
    "\"text\":\"Besides this investment, how much do you keep aside for emergencies?\","
    "\"answers\":["
    "{\"id\":\"none\",\"text\":\"nothing\",\"score\":0},"
    "{\"id\":\"lt3m\",\"text\":\"less than 3 months of expenses\",\"score\":1},"
    "{\"id\":\"3to6m\",\"text\":\"3 to 6 months of expenses\",\"score\":3},"
    "{\"id\":\"gt6m\",\"text\":\"more than 6 months of expenses\",\"score\":4}]},"
    "{\"id\":\"share_of_wealth\",\"kind\":\"capacity\","
    "\"text\":\"What share of your savings is this investment?\",\"answers\":["
    "{\"id\":\"gt75\",\"text\":\"more than three quarters\",\"score\":0},"
    "{\"id\":\"50to75\",\"text\":\"half to three quarters\",\"score\":1},"
    "{\"id\":\"25to50\",\"text\":\"a quarter to half\",\"score\":2},"
    "{\"id\":\"10to25\",\"text\":\"a tenth to a quarter\",\"score\":3},"
    "{\"id\":\"lt10\",\"text\":\"less than a tenth\",\"score\":4}]},"
    "{\"id\":\"loss\",\"kind\":\"tolerance\","
    "\"text\":\"What is the largest fall in a year you could accept without selling?\","
    "\"answers\":["
    "{\"id\":\"none\",\"text\":\"no fall at all\",\"score\":0},"
    "{\"id\":\"5pct\",\"text\":\"a fall of up to 5 %\",\"score\":1},"
    "{\"id\":\"10pct\",\"text\":\"a fall of up to 10 %\",\"score\":2},"
    "{\"id\":\"20pct\",\"text\":\"a fall of up to 20 %\",\"score\":3},"
    "{\"id\":\"30pct_plus\",\"text\":\"a fall of 30 % or more\",\"score\":4}]},"
    "{\"id\":\"reaction\",\"kind\":\"tolerance\","
    "\"text\":\"Your investments fall 20 % in a month. What do you do?\",\"answers\":["
    "{\"id\":\"sell_all\",\"text\":\"sell everything\",\"score\":0},"
    "{\"id\":\"sell_some\",\"text\":\"sell some of it\",\"score\":1},"
    "{\"id\":\"hold\",\"text\":\"wait for it to recover\",\"score\":3},"
    "{\"id\":\"buy_more\",\"text\":\"buy more\",\"score\":4}]},"
    "{\"id\":\"objective\",\"kind\":\"tolerance\",\"text\":\"What matters most to you?\","
    "\"answers\":["
    "{\"id\":\"preserve\",\"text\":\"keeping what I have\",\"score\":0},"
    "{\"id\":\"income\",\"text\":\"a steady income\",\"score\":1},"
    "{\"id\":\"balanced\",\"text\":\"some growth, some stability\",\"score\":2},"
    "{\"id\":\"growth\",\"text\":\"growth\",\"score\":3},"
    "{\"id\":\"max_growth\",\"text\":\"the highest growth, whatever the swings\",\"score\":4}]},"
    "{\"id\":\"experience\",\"kind\":\"tolerance\",\"required\":false,"
    "\"text\":\"Which investments have you held?\",\"answers\":["
    "{\"id\":\"none\",\"text\":\"none\",\"score\":0},"
    "{\"id\":\"deposits\",\"text\":\"savings accounts and deposits only\",\"score\":1},"
    "{\"id\":\"funds\",\"text\":\"funds or ETFs\",\"score\":2},"
    "{\"id\":\"shares\",\"text\":\"shares\",\"score\":3},"
    "{\"id\":\"advanced\",\"text\":\"shares and derivatives\",\"score\":4}]}],"
    "\"contradictions\":["
    "{\"id\":\"short_horizon_high_loss\",\"when\":{\"horizon\":[\"lt3\"],"
    "\"loss\":[\"20pct\",\"30pct_plus\"]},"
    "\"text\":\"You need the money within 3 years but said you could accept a fall of 20 % or "
    "more: a fall that deep may not be recovered by then.\"},"
    "{\"id\":\"no_savings_high_tolerance\",\"when\":{\"emergency_savings\":[\"none\"],"
    "\"loss\":[\"20pct\",\"30pct_plus\"]},"
    "\"text\":\"You keep no emergency savings but said you could accept a fall of 20 % or more: "
    "an unexpected expense could force you to sell after a fall.\"},"
    "{\"id\":\"preserve_but_buy_more\",\"when\":{\"objective\":[\"preserve\"],"
    "\"reaction\":[\"buy_more\"]},"
    "\"text\":\"You want above all to keep what you have, yet would buy more after a 20 % fall: "
    "please check which of the two describes you.\"},"
    "{\"id\":\"unstable_income_max_growth\",\"when\":{\"income_stability\":[\"unstable\"],"
    "\"objective\":[\"max_growth\"]},"
    "\"text\":\"Your income may stop or fall sharply, yet you seek the highest growth whatever the "
    "swings: a loss could come when you have least to fall back on.\"}]}";

static const char *const LABELS[] = {"cautious", "moderately cautious", "balanced",
                                     "moderately adventurous", "adventurous"};

const char *tl_advice_profile_label(int profile)
{
    return profile >= 1 && profile <= 5 ? LABELS[profile - 1] : NULL;
}

void tl_advice_questionnaire_free(tl_advice_questionnaire *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_questions; i++) {
        free(q->questions[i].text);
        for (size_t a = 0; a < q->questions[i].n_answers; a++)
            free(q->questions[i].answers[a].text);
    }
    for (size_t r = 0; r < q->n_rules; r++)
        free(q->rules[r].text);
    free(q->questions);
    free(q->rules);
    free(q);
}

const char *tl_advice_questionnaire_version(const tl_advice_questionnaire *q)
{
    return q->version;
}

static bool id_like(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ADV_ID_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* A string member that must be an id; where names it in the message. */
static int get_id(const json_t *o, const char *name, const char *where, char *dst, tl_err *err)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s || !id_like(s))
        return tl_err_set(err, TL_EINVAL,
                          "%s: member \"%s\" must be an id (1 to %d letters, digits, _ - .)",
                          where, name, ADV_ID_MAX);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int get_text(const json_t *o, const char *where, char **dst, tl_err *err)
{
    const char *s = json_string_value(json_object_get(o, "text"));
    if (!s || !*s || strlen(s) > 1000)
        return tl_err_set(err, TL_EINVAL, "%s: member \"text\" must be 1 to 1000 characters",
                          where);
    if (!(*dst = strdup(s)))
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    return 0;
}

static int find_question(const tl_advice_questionnaire *q, const char *id)
{
    for (size_t i = 0; i < q->n_questions; i++)
        if (strcmp(q->questions[i].id, id) == 0)
            return (int)i;
    return -1;
}

static int find_answer(const struct adv_question *qu, const char *id)
{
    for (size_t a = 0; a < qu->n_answers; a++)
        if (strcmp(qu->answers[a].id, id) == 0)
            return (int)a;
    return -1;
}

static int parse_question(tl_advice_questionnaire *q, size_t i, const json_t *jq, const char *src,
                          tl_err *err)
{
    struct adv_question *qu = &q->questions[i];
    char where[160];
    snprintf(where, sizeof where, "%s: questions[%zu]", src, i);
    if (!json_is_object(jq))
        return tl_err_set(err, TL_EINVAL, "%s must be an object", where);
    int rc = get_id(jq, "id", where, qu->id, err);
    if (rc < 0)
        return rc;
    snprintf(where, sizeof where, "%s: question \"%s\"", src, qu->id);
    if (find_question(q, qu->id) >= 0 && (size_t)find_question(q, qu->id) < i)
        return tl_err_set(err, TL_EINVAL, "%s appears twice", where);
    if ((rc = get_text(jq, where, &qu->text, err)) < 0)
        return rc;
    const char *kind = json_string_value(json_object_get(jq, "kind"));
    if (kind && strcmp(kind, "tolerance") == 0)
        qu->kind = ADV_TOLERANCE;
    else if (kind && strcmp(kind, "capacity") == 0)
        qu->kind = ADV_CAPACITY;
    else
        return tl_err_set(err, TL_EINVAL, "%s: \"kind\" must be \"tolerance\" or \"capacity\"",
                          where);
    const json_t *req = json_object_get(jq, "required");
    if (req && !json_is_boolean(req))
        return tl_err_set(err, TL_EINVAL, "%s: \"required\" must be true or false", where);
    qu->required = !req || json_is_true(req);
    const json_t *ans = json_object_get(jq, "answers");
    if (!json_is_array(ans) || json_array_size(ans) < 2 ||
        json_array_size(ans) > TL_ADVICE_MAX_ANSWERS)
        return tl_err_set(err, TL_EINVAL, "%s: \"answers\" must be an array of 2 to %d answers",
                          where, TL_ADVICE_MAX_ANSWERS);
    qu->max_score = 0;
    int min_score = INT32_MAX;
    for (size_t a = 0; a < json_array_size(ans); a++) {
        const json_t *ja = json_array_get(ans, a);
        struct adv_answer *an = &qu->answers[a];
        char aw[240];
        snprintf(aw, sizeof aw, "%s: answers[%zu]", where, a);
        if (!json_is_object(ja))
            return tl_err_set(err, TL_EINVAL, "%s must be an object", aw);
        if ((rc = get_id(ja, "id", aw, an->id, err)) < 0)
            return rc;
        snprintf(aw, sizeof aw, "%s: answer \"%s\"", where, an->id);
        if (find_answer(qu, an->id) >= 0)
            return tl_err_set(err, TL_EINVAL, "%s appears twice", aw);
        if ((rc = get_text(ja, aw, &an->text, err)) < 0)
            return rc;
        const json_t *sc = json_object_get(ja, "score");
        if (!json_is_integer(sc) || json_integer_value(sc) < 0 || json_integer_value(sc) > 100)
            return tl_err_set(err, TL_EINVAL, "%s: \"score\" must be an integer from 0 to 100", aw);
        an->score = (int)json_integer_value(sc);
        qu->n_answers = a + 1;
        qu->max_score = an->score > qu->max_score ? an->score : qu->max_score;
        min_score = an->score < min_score ? an->score : min_score;
    }
    if (qu->max_score == min_score)
        return tl_err_set(err, TL_EINVAL, "%s: every answer has the same score, so it measures "
                          "nothing", where);
    return 0;
}

static int parse_rule(tl_advice_questionnaire *q, size_t r, const json_t *jr, const char *src,
                      tl_err *err)
{
    struct adv_rule *ru = &q->rules[r];
    char where[160];
    snprintf(where, sizeof where, "%s: contradictions[%zu]", src, r);
    if (!json_is_object(jr))
        return tl_err_set(err, TL_EINVAL, "%s must be an object", where);
    int rc = get_id(jr, "id", where, ru->id, err);
    if (rc < 0)
        return rc;
    snprintf(where, sizeof where, "%s: contradiction \"%s\"", src, ru->id);
    if ((rc = get_text(jr, where, &ru->text, err)) < 0)
        return rc;
    const json_t *when = json_object_get(jr, "when");
    if (!json_is_object(when) || json_object_size(when) == 0 ||
        json_object_size(when) > ADV_MAX_CONDS)
        return tl_err_set(err, TL_EINVAL,
                          "%s: \"when\" must be an object of 1 to %d {question: [answers]}",
                          where, ADV_MAX_CONDS);
    const char *qid;
    const json_t *alts;
    json_object_foreach((json_t *)when, qid, alts) {
        int qi = find_question(q, qid);
        if (qi < 0)
            return tl_err_set(err, TL_EINVAL, "%s: unknown question \"%s\"", where, qid);
        if (!json_is_array(alts) || json_array_size(alts) == 0)
            return tl_err_set(err, TL_EINVAL, "%s: \"%s\" must be a non-empty array of answer ids",
                              where, qid);
        uint32_t mask = 0;
        for (size_t k = 0; k < json_array_size(alts); k++) {
            const char *aid = json_string_value(json_array_get(alts, k));
            int ai = aid ? find_answer(&q->questions[qi], aid) : -1;
            if (ai < 0)
                return tl_err_set(err, TL_EINVAL, "%s: question \"%s\" has no answer \"%s\"", where,
                                  qid, aid ? aid : "(not a string)");
            mask |= 1u << ai;
        }
        ru->conds[ru->n_conds].question = (size_t)qi;
        ru->conds[ru->n_conds].answers = mask;
        ru->n_conds++;
    }
    return 0;
}

int tl_advice_questionnaire_parse(const char *json, size_t len, const char *source,
                                  tl_advice_questionnaire **out, tl_err *err)
{
    const char *src = source ? source : "questionnaire";
    if (len > TL_ADVICE_MAX_DOC_BYTES)
        return tl_err_set(err, TL_ETOOBIG, "%s is larger than %u bytes", src,
                          TL_ADVICE_MAX_DOC_BYTES);
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tl_err_set(err, TL_EPARSE, "%s:%d:%d: %s", src, je.line, je.column, je.text);
    tl_advice_questionnaire *q = calloc(1, sizeof *q);
    int rc = q ? 0 : tl_err_set(err, TL_ENOMEM, "out of memory");
    const json_t *qs = json_object_get(doc, "questions");
    const json_t *rs = json_object_get(doc, "contradictions");
    const json_t *ver = json_object_get(doc, "version");
    if (rc == 0 && !json_is_object(doc))
        rc = tl_err_set(err, TL_EINVAL, "%s must be a JSON object", src);
    if (rc == 0)
        rc = get_id(doc, "id", src, q->id, err);
    if (rc == 0 && (!json_is_integer(ver) || json_integer_value(ver) < 1))
        rc = tl_err_set(err, TL_EINVAL, "%s: \"version\" must be a positive integer", src);
    if (rc == 0 && (!json_is_array(qs) || json_array_size(qs) == 0 ||
                    json_array_size(qs) > TL_ADVICE_MAX_QUESTIONS))
        rc = tl_err_set(err, TL_EINVAL, "%s: \"questions\" must be an array of 1 to %d questions",
                        src, TL_ADVICE_MAX_QUESTIONS);
    if (rc == 0 && rs && (!json_is_array(rs) || json_array_size(rs) > TL_ADVICE_MAX_RULES))
        rc = tl_err_set(err, TL_EINVAL, "%s: \"contradictions\" must be an array of at most %d",
                        src, TL_ADVICE_MAX_RULES);
    if (rc == 0) {
        q->number = json_integer_value(ver);
        snprintf(q->version, sizeof q->version, "%s-v%lld", q->id, (long long)q->number);
        q->questions = calloc(json_array_size(qs), sizeof *q->questions);
        q->rules = calloc(json_array_size(rs) + 1, sizeof *q->rules);
        if (!q->questions || !q->rules)
            rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(qs); i++) {
        q->n_questions = i + 1; /* so that free sees what this one allocated */
        rc = parse_question(q, i, json_array_get(qs, i), src, err);
    }
    bool kinds[2] = {false, false};
    for (size_t i = 0; rc == 0 && i < q->n_questions; i++)
        kinds[q->questions[i].kind] = true;
    if (rc == 0 && (!kinds[ADV_TOLERANCE] || !kinds[ADV_CAPACITY]))
        rc = tl_err_set(err, TL_EINVAL, "%s: needs at least one question of each kind (tolerance "
                        "and capacity): the profile combines the two", src);
    for (size_t r = 0; rc == 0 && r < json_array_size(rs); r++) {
        q->n_rules = r + 1;
        rc = parse_rule(q, r, json_array_get(rs, r), src, err);
    }
    json_decref(doc);
    if (rc < 0) {
        tl_advice_questionnaire_free(q);
        return rc;
    }
    *out = q;
    return 0;
}

int tl_advice_questionnaire_default(tl_advice_questionnaire **out, tl_err *err)
{
    return tl_advice_questionnaire_parse(DEFAULT_QUESTIONNAIRE, sizeof DEFAULT_QUESTIONNAIRE - 1,
                                         "built-in questionnaire", out, err);
}

int tl_advice_questionnaire_load(const char *path, tl_advice_questionnaire **out, tl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tl_err_set(err, TL_EIO, "cannot open questionnaire %s: %s", path, strerror(errno));
    char *buf = malloc(TL_ADVICE_MAX_DOC_BYTES + 1);
    if (!buf) {
        fclose(f);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, TL_ADVICE_MAX_DOC_BYTES + 1, f);
    bool bad = ferror(f);
    fclose(f);
    int rc;
    if (bad)
        rc = tl_err_set(err, TL_EIO, "cannot read questionnaire %s", path);
    else
        rc = tl_advice_questionnaire_parse(buf, n, path, out, err);
    free(buf);
    return rc;
}

int tl_advice_questionnaire_for_ctx(tl_ctx *ctx, tl_advice_questionnaire **out, tl_err *err)
{
    const char *path = tl_config_get(tl_ctx_config(ctx), "advice.questionnaire_file");
    if (path && *path) {
        int rc = tl_advice_questionnaire_load(path, out, err);
        return rc < 0 ? tl_err_prefix(err, "advice.questionnaire_file") : 0;
    }
    return tl_advice_questionnaire_default(out, err);
}

json_t *tl_advice_questionnaire_json(const tl_advice_questionnaire *q)
{
    json_t *qs = json_array();
    for (size_t i = 0; qs && i < q->n_questions; i++) {
        const struct adv_question *qu = &q->questions[i];
        json_t *ans = json_array();
        for (size_t a = 0; ans && a < qu->n_answers; a++)
            json_array_append_new(ans, json_pack("{s:s,s:s,s:i}", "id", qu->answers[a].id, "text",
                                                 qu->answers[a].text, "score",
                                                 qu->answers[a].score));
        json_array_append_new(qs, json_pack("{s:s,s:s,s:s,s:b,s:o}", "id", qu->id, "kind",
                                            qu->kind == ADV_TOLERANCE ? "tolerance" : "capacity",
                                            "text", qu->text, "required", qu->required, "answers",
                                            ans));
    }
    json_t *rs = json_array();
    for (size_t r = 0; rs && r < q->n_rules; r++) {
        json_t *when = json_object();
        for (size_t c = 0; when && c < q->rules[r].n_conds; c++) {
            const struct adv_question *qu = &q->questions[q->rules[r].conds[c].question];
            json_t *alts = json_array();
            for (size_t a = 0; alts && a < qu->n_answers; a++)
                if (q->rules[r].conds[c].answers & (1u << a))
                    json_array_append_new(alts, json_string(qu->answers[a].id));
            json_object_set_new(when, qu->id, alts);
        }
        json_array_append_new(rs, json_pack("{s:s,s:o,s:s}", "id", q->rules[r].id, "when", when,
                                            "text", q->rules[r].text));
    }
    return json_pack("{s:s,s:I,s:o,s:o}", "id", q->id, "version", (json_int_t)q->number,
                     "questions", qs, "contradictions", rs);
}

/* ---- scoring ---------------------------------------------------------------- */

int tl__advice_digest(const json_t *v, char hex[65], tl_err *err)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(hex, 65, h, sizeof h);
    free(s);
    return 0;
}

void tl__advice_new_id(const char *prefix, char *buf, size_t size)
{
    unsigned char r[8];
    randombytes_buf(r, sizeof r);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(buf, size, "%s-%s", prefix, hex);
}

/* Appends ", " + s to a bounded list in buf. */
static void list_add(char *buf, size_t size, const char *s)
{
    size_t n = strlen(buf);
    if (n + 2 + strlen(s) + 5 >= size) {
        if (n + 5 < size && !strstr(buf, "..."))
            snprintf(buf + n, size - n, ", ...");
        return;
    }
    snprintf(buf + n, size - n, "%s%s", n ? ", " : "", s);
}

/* The answers checked against q: chosen[i] is the answer index of question
 * i or -1. Every culprit is named in one message. */
static int check_answers(const tl_advice_questionnaire *q, const json_t *answers, int *chosen,
                         tl_err *err)
{
    if (!json_is_object(answers))
        return tl_err_set(err, TL_EINVAL, "answers must be a JSON object {question id: answer id}");
    for (size_t i = 0; i < q->n_questions; i++)
        chosen[i] = -1;
    char unknown_q[200] = "", bad_a[300] = "", missing[200] = "";
    const char *qid;
    const json_t *v;
    json_object_foreach((json_t *)answers, qid, v) {
        int qi = find_question(q, qid);
        char item[320];
        if (qi < 0) {
            snprintf(item, sizeof item, "\"%.64s\"", qid);
            list_add(unknown_q, sizeof unknown_q, item);
            continue;
        }
        const struct adv_question *qu = &q->questions[qi];
        const char *aid = json_string_value(v);
        int ai = aid ? find_answer(qu, aid) : -1;
        if (ai < 0) {
            char valid[120] = "";
            for (size_t a = 0; a < qu->n_answers; a++)
                list_add(valid, sizeof valid, qu->answers[a].id);
            snprintf(item, sizeof item, "%s: %s%.64s%s (one of %s)", qu->id, aid ? "\"" : "",
                     aid ? aid : "not a string", aid ? "\"" : "", valid);
            list_add(bad_a, sizeof bad_a, item);
            continue;
        }
        chosen[qi] = ai;
    }
    for (size_t i = 0; i < q->n_questions; i++)
        if (q->questions[i].required && chosen[i] < 0 &&
            !json_object_get(answers, q->questions[i].id))
            list_add(missing, sizeof missing, q->questions[i].id);
    if (!unknown_q[0] && !bad_a[0] && !missing[0])
        return 0;
    char msg[TL_ERR_MSG_SIZE] = "";
    if (unknown_q[0])
        snprintf(msg, sizeof msg, "unknown questions %s", unknown_q);
    if (bad_a[0])
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%sunknown answers %s",
                 msg[0] ? "; " : "", bad_a);
    if (missing[0])
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%smissing required answers: %s",
                 msg[0] ? "; " : "", missing);
    return tl_err_set(err, TL_EINVAL, "answers (questionnaire %s): %s", q->version, msg);
}

static int level_of(double score)
{
    int l = 1 + (int)floor(5.0 * score + 1e-9);
    return l > 5 ? 5 : l < 1 ? 1 : l;
}

struct driver {
    size_t q;
    double norm; /* the answer's score over its question's maximum */
};

static int by_norm_asc(const void *a, const void *b)
{
    const struct driver *x = a, *y = b;
    return x->norm < y->norm ? -1 : x->norm > y->norm ? 1 : (x->q > y->q) - (x->q < y->q);
}

static const char *kind_name(enum adv_kind k)
{
    return k == ADV_TOLERANCE ? "tolerance" : "capacity";
}

int tl_advice_profile_score(const tl_advice_questionnaire *q, const json_t *answers, json_t **out,
                            tl_err *err)
{
    int chosen[TL_ADVICE_MAX_QUESTIONS];
    int rc = check_answers(q, answers, chosen, err);
    if (rc < 0)
        return rc;
    /* an unanswered optional question counts for neither sum */
    double got[2] = {0, 0}, max[2] = {0, 0};
    size_t answered[2] = {0, 0};
    for (size_t i = 0; i < q->n_questions; i++) {
        if (chosen[i] < 0)
            continue;
        const struct adv_question *qu = &q->questions[i];
        got[qu->kind] += qu->answers[chosen[i]].score;
        max[qu->kind] += qu->max_score;
        answered[qu->kind]++;
    }
    for (int k = 0; k < 2; k++)
        if (!answered[k])
            return tl_err_set(err, TL_EINVAL, "answers: no %s question is answered, so the "
                              "profile cannot be measured", kind_name((enum adv_kind)k));
    double tol_s = got[ADV_TOLERANCE] / max[ADV_TOLERANCE];
    double cap_s = got[ADV_CAPACITY] / max[ADV_CAPACITY];
    int tol = level_of(tol_s), cap = level_of(cap_s);
    int profile = tol < cap ? tol : cap;
    bool capped = cap < tol;

    /* Drivers: answers of the kind that set the profile. When capacity caps
     * it, what holds it down (the lowest capacity answers); otherwise the
     * tolerance answers pulling furthest from the middle in the profile's
     * direction (lowest for a cautious profile, highest for an adventurous
     * one, both ends for balanced). */
    enum adv_kind bind = capped ? ADV_CAPACITY : ADV_TOLERANCE;
    struct driver d[TL_ADVICE_MAX_QUESTIONS];
    size_t nd = 0;
    for (size_t i = 0; i < q->n_questions; i++)
        if (chosen[i] >= 0 && q->questions[i].kind == bind)
            d[nd++] = (struct driver){i, (double)q->questions[i].answers[chosen[i]].score /
                                             q->questions[i].max_score};
    qsort(d, nd, sizeof d[0], by_norm_asc);
    size_t pick[2];
    size_t np = 0;
    if (capped || profile < 3) {
        for (size_t k = 0; k < nd && np < 2; k++)
            pick[np++] = d[k].q;
    } else if (profile > 3) {
        for (size_t k = nd; k > 0 && np < 2; k--)
            pick[np++] = d[k - 1].q;
    } else {
        pick[np++] = d[nd - 1].q;
        if (nd > 1)
            pick[np++] = d[0].q;
    }
    json_t *drivers = json_array();
    char named[600] = "";
    for (size_t k = 0; drivers && k < np; k++) {
        const struct adv_question *qu = &q->questions[pick[k]];
        const struct adv_answer *an = &qu->answers[chosen[pick[k]]];
        char text[400];
        snprintf(text, sizeof text, "\"%s\": %s", qu->text, an->text);
        json_array_append_new(drivers, json_pack("{s:s,s:s,s:s,s:s}", "question", qu->id, "answer",
                                                 an->id, "kind", kind_name(qu->kind), "text",
                                                 text));
        size_t n = strlen(named);
        snprintf(named + n, sizeof named - n, "%s%s", n ? "; " : "", text);
    }
    char expl[1400];
    if (capped)
        snprintf(expl, sizeof expl,
                 "Your risk profile is %d (%s). You are willing to take the risk of level %d (%s), "
                 "but your situation can bear only level %d, and what you can bear caps what you "
                 "are willing to take. What limits it: %s.",
                 profile, LABELS[profile - 1], tol, LABELS[tol - 1], cap, named);
    else
        snprintf(expl, sizeof expl,
                 "Your risk profile is %d (%s): the risk you are willing to take (level %d) is "
                 "within what your situation can bear (level %d). What set it: %s.",
                 profile, LABELS[profile - 1], tol, cap, named);

    json_t *contra = json_array();
    for (size_t r = 0; contra && r < q->n_rules; r++) {
        const struct adv_rule *ru = &q->rules[r];
        bool all = true;
        json_t *qs = json_array();
        for (size_t c = 0; c < ru->n_conds; c++) {
            int a = chosen[ru->conds[c].question];
            all = all && a >= 0 && (ru->conds[c].answers & (1u << a));
            json_array_append_new(qs, json_string(q->questions[ru->conds[c].question].id));
        }
        if (all)
            json_array_append_new(contra, json_pack("{s:s,s:o,s:s}", "id", ru->id, "questions",
                                                    qs, "text", ru->text));
        else
            json_decref(qs);
    }
    /* a gap the rules may not name: wanting far more risk than one can bear */
    if (contra && tol - cap >= 3) {
        char text[300];
        snprintf(text, sizeof text,
                 "Your answers on the risk you are willing to take (level %d) are far above what "
                 "your situation can bear (level %d): the lower level was used.",
                 tol, cap);
        json_array_append_new(contra, json_pack("{s:s,s:[],s:s}", "id",
                                                "tolerance_far_above_capacity", "questions",
                                                "text", text));
    }
    char digest[65];
    json_t *in = json_pack("{s:s,s:O}", "questionnaire", q->version, "answers", answers);
    rc = in ? tl__advice_digest(in, digest, err) : tl_err_set(err, TL_ENOMEM, "out of memory");
    json_decref(in);
    json_t *o = NULL;
    if (rc == 0)
        o = json_pack("{s:i,s:s,s:i,s:i,s:f,s:f,s:b,s:s,s:o,s:o,s:s,s:s}", "profile", profile,
                      "label", LABELS[profile - 1], "tolerance", tol, "capacity", cap,
                      "tolerance_score", round(tol_s * 1e4) / 1e4, "capacity_score",
                      round(cap_s * 1e4) / 1e4, "capped_by_capacity", capped, "explanation", expl,
                      "drivers", drivers, "contradictions", contra, "questionnaire", q->version,
                      "answers_digest", digest);
    else {
        json_decref(drivers);
        json_decref(contra);
    }
    if (rc == 0 && !o)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory");
    if (rc < 0)
        return rc;
    *out = o;
    return 0;
}

/* ---- stored profiles ---------------------------------------------------------- */

static int on_found(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)n, (void)v, (void)names;
    *(bool *)ud = true;
    return 1;
}

int tl__advice_customer_exists(tl_ctx *ctx, const char *customer_id, bool *found, tl_err *err)
{
    *found = false;
    tl_value p[] = {TL_TEXT(customer_id)};
    return tl_store_exec(tl_ctx_store(ctx), "SELECT id FROM customers WHERE id = ?", 1, p,
                         on_found, found, err);
}

struct latest {
    json_t *out;
    bool bad;
};

static int on_latest(void *ud, size_t n, const tl_value *v, const char *const *names)
{
    (void)names;
    struct latest *l = ud;
    if (n < 2 || v[0].type != TL_VAL_TEXT || v[1].type != TL_VAL_TEXT) {
        l->bad = true;
        return 1;
    }
    json_error_t je;
    l->out = json_loadb(v[1].s, v[1].len, 0, &je);
    if (!json_is_object(l->out)) {
        json_decref(l->out);
        l->out = NULL;
        l->bad = true;
        return 1;
    }
    json_object_set_new(l->out, "id", json_string(v[0].s));
    return 1;
}

int tl__advice_latest_profile(tl_ctx *ctx, const char *customer_id, json_t **out, tl_err *err)
{
    struct latest l = {0};
    tl_value p[] = {TL_TEXT(customer_id)};
    int rc = tl_store_exec(tl_ctx_store(ctx),
                           "SELECT id, output FROM risk_profiles WHERE customer_id = ?"
                           " ORDER BY created_ms DESC, id DESC LIMIT 1",
                           1, p, on_latest, &l, err);
    if (rc < 0)
        return rc;
    if (l.bad)
        return tl_err_set(err, TL_EINTERNAL, "the latest risk profile of customer \"%s\" is not "
                          "readable JSON", customer_id);
    *out = l.out;
    return 0;
}

static json_t *iso_now(int64_t ms)
{
    char buf[40];
    tl_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

int tl_advice_assess(tl_ctx *ctx, const char *customer_id, const json_t *answers, json_t **out,
                     tl_err *err)
{
    if (!customer_id || !*customer_id || strlen(customer_id) > 64)
        return tl_err_set(err, TL_EINVAL, "customer id: 1 to 64 characters expected");
    bool found;
    int rc = tl__advice_customer_exists(ctx, customer_id, &found, err);
    if (rc < 0)
        return rc;
    if (!found)
        return tl_err_set(err, TL_ENOTFOUND, "no customer with id \"%s\"", customer_id);
    tl_advice_questionnaire *q;
    if ((rc = tl_advice_questionnaire_for_ctx(ctx, &q, err)) < 0)
        return rc;
    json_t *p = NULL;
    rc = tl_advice_profile_score(q, answers, &p, err);
    tl_advice_questionnaire_free(q);
    if (rc < 0)
        return rc;
    char id[48];
    tl__advice_new_id("rp", id, sizeof id);
    int64_t now = tl_time_now_ms();
    json_object_set_new(p, "customer_id", json_string(customer_id));
    json_object_set_new(p, "created_at", iso_now(now));
    json_object_set_new(p, "model", json_string(json_string_value(
                                        json_object_get(p, "questionnaire"))));
    json_object_set_new(p, "inputs_digest",
                        json_string(json_string_value(json_object_get(p, "answers_digest"))));
    char *text = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *ans = json_dumps(answers, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text || !ans) {
        free(text);
        free(ans);
        json_decref(p);
        return tl_err_set(err, TL_ENOMEM, "out of memory");
    }
    tl_value v[] = {
        TL_TEXT(id),
        TL_TEXT(customer_id),
        TL_INT(now),
        TL_INT(json_integer_value(json_object_get(p, "profile"))),
        TL_INT(json_integer_value(json_object_get(p, "tolerance"))),
        TL_INT(json_integer_value(json_object_get(p, "capacity"))),
        TL_TEXT(json_string_value(json_object_get(p, "questionnaire"))),
        TL_TEXT(json_string_value(json_object_get(p, "answers_digest"))),
        TL_TEXT(ans),
        TL_TEXT(text),
    };
    rc = tl_store_exec(tl_ctx_store(ctx),
                       "INSERT INTO risk_profiles (id, customer_id, created_ms, profile, tolerance,"
                       " capacity, questionnaire, answers_digest, answers, output)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       sizeof v / sizeof v[0], v, NULL, NULL, err);
    free(text);
    free(ans);
    if (rc < 0) {
        json_decref(p);
        return tl_err_prefix(err, "storing the risk profile");
    }
    json_object_set_new(p, "id", json_string(id));
    *out = p;
    return 0;
}
