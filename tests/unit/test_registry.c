/* needs: postgres */
/*
 * test_registry.c - the model registry on SQLite and PostgreSQL: versions
 * count up per task (also when two processes add at once), promotion swaps
 * the champion and retires the old one, a task without a champion says so,
 * an artifact altered or truncated in the store is refused with TL_ECRYPTO
 * (and cannot be promoted), the model card has its sections (the standard
 * five, then any others in key order, a scorecard's points as a table), and
 * every change leaves an audit row.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

struct env {
    char *dir;
    tl_config *cfg;
    tl_ctx *ctx;
};

static void env_open(struct env *e, const char *url)
{
    e->dir = tu_tmpdir();
    cr_assert_not_null(e->dir);
    e->cfg = tu_config(url, e->dir);
    tl_err err = {0};
    cr_assert_eq(tl_ctx_open(e->cfg, &e->ctx, &err), 0, "tl_ctx_open: %s", err.msg);
}

static void env_close(struct env *e)
{
    tl_ctx_close(e->ctx);
    tl_config_free(e->cfg);
    free(e->dir);
}

/* Adds a model of task whose artifact is `artifact`; returns its version. */
static int add(tl_ctx *ctx, const char *task, const char *artifact, const char *metadata_json,
               char id[TL_MODEL_ID_MAX])
{
    json_t *meta = metadata_json ? json_loads(metadata_json, 0, NULL) : NULL;
    cr_assert(!metadata_json || meta, "bad test metadata %s", metadata_json);
    struct tl_model_new m = {.task = task,
                             .algo = "scorecard",
                             .artifact = artifact,
                             .artifact_len = strlen(artifact),
                             .metadata = meta,
                             .actor = "tester"};
    struct tl_model_info info;
    tl_err err = {0};
    cr_assert_eq(tl_registry_add(ctx, &m, &info, &err), 0, "add %s: %s", task, err.msg);
    json_decref(meta);
    cr_assert_str_eq(info.status, "challenger");
    cr_assert_str_eq(info.task, task);
    cr_assert_eq(info.artifact_len, strlen(artifact));
    if (id)
        snprintf(id, TL_MODEL_ID_MAX, "%s", info.id);
    int v = info.version;
    tl_model_info_clear(&info);
    return v;
}

static void status_is(tl_ctx *ctx, const char *id, const char *status)
{
    struct tl_model_info m;
    tl_err err = {0};
    cr_assert_eq(tl_registry_get(ctx, id, &m, &err), 0, "get %s: %s", id, err.msg);
    cr_assert_str_eq(m.status, status, "%s is %s, expected %s", id, m.status, status);
    tl_model_info_clear(&m);
}

static void champion_is(tl_ctx *ctx, const char *task, const char *id)
{
    struct tl_model_info m;
    tl_err err = {0};
    cr_assert_eq(tl_registry_champion(ctx, task, &m, &err), 0, "champion %s: %s", task, err.msg);
    cr_assert_str_eq(m.id, id);
    tl_model_info_clear(&m);
}

static void sql(tl_ctx *ctx, const char *text, size_t n, const tl_value *p)
{
    tl_err err = {0};
    cr_assert_eq(tl_store_exec(tl_ctx_store(ctx), text, n, p, NULL, NULL, &err), 0, "%s: %s", text,
                 err.msg);
}

#define BOTH(name)                   \
    static void name(struct env *e); \
    TU_BOTH(name##_run)              \
    {                                \
        struct env e = {0};          \
        env_open(&e, url);           \
        name(&e);                    \
        env_close(&e);               \
    }                                \
    static void name(struct env *e)

/* --------------------------------------------------------------- tests */

BOTH(versions_count_up_per_task)
{
    char id[TL_MODEL_ID_MAX];
    cr_assert_eq(add(e->ctx, "credit", "weights-1", "{\"metrics\":{\"auc\":0.7}}", id), 1);
    cr_assert_str_eq(id, "credit-v1");
    cr_assert_eq(add(e->ctx, "fraud", "trees-1", NULL, id), 1);
    cr_assert_str_eq(id, "fraud-v1");
    cr_assert_eq(add(e->ctx, "credit", "weights-2", NULL, id), 2);
    cr_assert_eq(add(e->ctx, "credit", "weights-3", NULL, id), 3);
    cr_assert_str_eq(id, "credit-v3");

    struct tl_model_info *v = NULL;
    size_t n = 0;
    tl_err err = {0};
    cr_assert_eq(tl_registry_list(e->ctx, NULL, &v, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 4);
    const char *order[] = {"credit-v3", "credit-v2", "credit-v1", "fraud-v1"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(v[i].id, order[i], "list[%zu] is %s", i, v[i].id);
    cr_assert_eq(v[2].artifact_len, strlen("weights-1"));
    cr_assert(json_is_real(json_object_get(json_object_get(v[2].metadata, "metrics"), "auc")));
    cr_assert_eq(json_object_size(v[0].metadata), 0, "no metadata reads back as {}");
    tl_registry_list_free(v, n);

    cr_assert_eq(tl_registry_list(e->ctx, "fraud", &v, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0].id, "fraud-v1");
    tl_registry_list_free(v, n);
    cr_assert_eq(tl_registry_list(e->ctx, "nothing_here", &v, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 0);
    tl_registry_list_free(v, n);

    /* the artifact comes back byte for byte, NUL-terminated */
    char *bytes = NULL;
    size_t len = 0;
    cr_assert_eq(tl_registry_artifact(e->ctx, "credit-v2", &bytes, &len, &err), 0, "%s", err.msg);
    cr_assert_eq(len, strlen("weights-2"));
    cr_assert_str_eq(bytes, "weights-2");
    free(bytes);
}

BOTH(promote_swaps_the_champion)
{
    char v1[TL_MODEL_ID_MAX], v2[TL_MODEL_ID_MAX];
    add(e->ctx, "credit", "a", NULL, v1);
    add(e->ctx, "credit", "b", NULL, v2);

    struct tl_model_info m;
    tl_err err = {0};
    cr_assert_eq(tl_registry_champion(e->ctx, "credit", &m, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no champion for task credit"), "%s", err.msg);

    cr_assert_eq(tl_registry_promote(e->ctx, v1, "tester", &err), 0, "%s", err.msg);
    champion_is(e->ctx, "credit", v1);
    status_is(e->ctx, v2, "challenger");

    cr_assert_eq(tl_registry_promote(e->ctx, v2, "tester", &err), 0, "%s", err.msg);
    champion_is(e->ctx, "credit", v2);
    status_is(e->ctx, v1, "retired");

    /* the champion again changes nothing; a retired one comes back (rollback) */
    cr_assert_eq(tl_registry_promote(e->ctx, v2, "tester", &err), 0, "%s", err.msg);
    champion_is(e->ctx, "credit", v2);
    cr_assert_eq(tl_registry_promote(e->ctx, v1, "tester", &err), 0, "%s", err.msg);
    champion_is(e->ctx, "credit", v1);
    status_is(e->ctx, v2, "retired");

    /* retiring the champion leaves the task without one */
    cr_assert_eq(tl_registry_retire(e->ctx, v1, "tester", &err), 0, "%s", err.msg);
    status_is(e->ctx, v1, "retired");
    cr_assert_eq(tl_registry_champion(e->ctx, "credit", &m, &err), TL_ENOTFOUND);

    /* exactly one champion per task, whatever the order */
    add(e->ctx, "fraud", "f", NULL, NULL);
    cr_assert_eq(tl_registry_promote(e->ctx, "fraud-v1", "tester", &err), 0, "%s", err.msg);
    cr_assert_eq(tl_registry_promote(e->ctx, v2, "tester", &err), 0, "%s", err.msg);
    champion_is(e->ctx, "fraud", "fraud-v1");
    champion_is(e->ctx, "credit", v2);

    cr_assert_eq(tl_registry_promote(e->ctx, "credit-v9", "tester", &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "credit-v9"), "%s", err.msg);
    cr_assert_eq(tl_registry_retire(e->ctx, "credit-v9", "tester", &err), TL_ENOTFOUND);
}

BOTH(tampered_artifacts_are_refused)
{
    char id[TL_MODEL_ID_MAX];
    add(e->ctx, "credit", "{\"weights\":[0.5,-1.25,2]}", NULL, id);
    char *bytes = NULL;
    size_t len = 0;
    tl_err err = {0};
    cr_assert_eq(tl_registry_artifact(e->ctx, id, &bytes, &len, &err), 0, "%s", err.msg);
    free(bytes);

    /* altered: valid base64 of other bytes */
    tl_value p[] = {TL_TEXT("eyJ3ZWlnaHRzIjpbOS41LC0xLjI1LDJdfQ=="), TL_TEXT(id)};
    sql(e->ctx, "UPDATE model_artifacts SET bytes = ? WHERE id = ?", 2, p);
    cr_assert_eq(tl_registry_artifact(e->ctx, id, &bytes, &len, &err), TL_ECRYPTO);
    cr_assert_null(bytes);
    cr_assert_eq(len, 0);
    char want[128];
    snprintf(want, sizeof want, "model %s: artifact checksum mismatch: altered or truncated", id);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    /* a model that cannot load is never made champion */
    cr_assert_eq(tl_registry_promote(e->ctx, id, "tester", &err), TL_ECRYPTO);
    cr_assert(strstr(err.msg, "refusing to promote"), "%s", err.msg);
    status_is(e->ctx, id, "challenger");

    /* truncated: the base64 cut short, on a 4-character boundary and off it */
    tl_value q[] = {TL_TEXT("eyJ3ZWlnaHRzIjpbMC41"), TL_TEXT(id)};
    sql(e->ctx, "UPDATE model_artifacts SET bytes = ? WHERE id = ?", 2, q);
    cr_assert_eq(tl_registry_artifact(e->ctx, id, &bytes, &len, &err), TL_ECRYPTO);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    tl_value r[] = {TL_TEXT("eyJ3ZWlnaHRzIjpbMC"), TL_TEXT(id)};
    sql(e->ctx, "UPDATE model_artifacts SET bytes = ? WHERE id = ?", 2, r);
    cr_assert_eq(tl_registry_artifact(e->ctx, id, &bytes, &len, &err), TL_ECRYPTO);
    cr_assert(strstr(err.msg, want), "%s", err.msg);

    /* the checksum itself edited to match nothing */
    tl_value c[] = {TL_TEXT(id)};
    sql(e->ctx, "UPDATE models SET checksum = 'abc' WHERE id = ?", 1, c);
    cr_assert_eq(tl_registry_artifact(e->ctx, id, &bytes, &len, &err), TL_ECRYPTO);
    cr_assert_eq(tl_registry_artifact(e->ctx, "credit-v7", &bytes, &len, &err), TL_ENOTFOUND);
}

static const char CARD_META[] =
    "{\"metrics\":{\"auc\":0.5},"
    " \"card\":{\"intended_use\":\"Scores retail loan applications.\","
    "  \"data\":{\"source\":\"german_credit\",\"rows\":1000},"
    "  \"metrics\":{\"auc\":0.81234567,\"ks\":0.45},"
    "  \"fairness\":[{\"group\":\"age<25\",\"approval_rate\":0.61},"
    "                {\"group\":\"age>=25\",\"approval_rate\":0.7,\"note\":\"a|b\"}],"
    "  \"limitations\":[\"Not for business loans.\",\"Retrain yearly.\"]}}";

BOTH(card_has_its_sections)
{
    char id[TL_MODEL_ID_MAX];
    add(e->ctx, "credit", "w", CARD_META, id);
    struct tl_model_info m;
    tl_err err = {0};
    cr_assert_eq(tl_registry_get(e->ctx, id, &m, &err), 0, "%s", err.msg);
    char *md = NULL;
    cr_assert_eq(tl_registry_card_markdown(&m, &md, &err), 0, "%s", err.msg);
    const char *want[] = {
        "# Model card: credit-v1\n",
        "| Task | credit |",
        "| Algorithm | scorecard |",
        "| Status | challenger |",
        "\n## Intended use\n\nScores retail loan applications.\n",
        "\n## Data\n\n| | |\n|---|---|\n| source | german_credit |\n| rows | 1000 |\n",
        "\n## Metrics\n\n| | |\n|---|---|\n| auc | 0.812346 |\n| ks | 0.45 |\n",
        "\n## Fairness\n\n| group | approval_rate | note |\n|---|---|---|\n",
        "| age<25 | 0.61 | - |\n| age>=25 | 0.7 | a\\|b |\n",
        "\n## Limitations\n\n- Not for business loans.\n- Retrain yearly.\n",
        "## Artifact",
        m.checksum,
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(md, want[i]), "card lacks \"%s\":\n%s", want[i], md);
    /* sections come in the documented order */
    cr_assert_lt(strstr(md, "## Intended use"), strstr(md, "## Data"));
    cr_assert_lt(strstr(md, "## Data"), strstr(md, "## Metrics"));
    cr_assert_lt(strstr(md, "## Metrics"), strstr(md, "## Fairness"));
    cr_assert_lt(strstr(md, "## Fairness"), strstr(md, "## Limitations"));
    cr_assert_lt(strstr(md, "## Limitations"), strstr(md, "## Artifact"));
    free(md);

    /* the JSON view carries the same facts */
    json_t *j = tl_model_info_json(&m);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "credit-v1");
    cr_assert_eq(json_integer_value(json_object_get(j, "version")), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "artifact_bytes")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(j, "checksum")), m.checksum);
    cr_assert(strchr(json_string_value(json_object_get(j, "created")), 'T'));
    cr_assert(json_is_object(json_object_get(json_object_get(j, "metadata"), "card")));
    json_decref(j);
    tl_model_info_clear(&m);

    /* no card: the sections say so; top-level metrics stand in for the card's */
    add(e->ctx, "credit", "w2", "{\"metrics\":{\"auc\":0.66}}", id);
    cr_assert_eq(tl_registry_get(e->ctx, id, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(tl_registry_card_markdown(&m, &md, &err), 0, "%s", err.msg);
    cr_assert(strstr(md, "## Intended use\n\nNot documented.\n"), "%s", md);
    cr_assert(strstr(md, "| auc | 0.66 |"), "%s", md);
    free(md);
    tl_model_info_clear(&m);

    /* the checksum is the SHA-256 of the artifact bytes (registry.h) */
    unsigned char d[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(d, (const unsigned char *)"w", 1);
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    cr_assert_eq(tl_registry_get(e->ctx, "credit-v1", &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.checksum, hex);
    tl_model_info_clear(&m);
}

/* The card of a new credit model with metadata meta, as Markdown (malloc'ed). */
static char *card_md(struct env *e, const char *meta)
{
    char id[TL_MODEL_ID_MAX];
    add(e->ctx, "credit", "w", meta, id);
    struct tl_model_info m;
    tl_err err = {0};
    cr_assert_eq(tl_registry_get(e->ctx, id, &m, &err), 0, "%s", err.msg);
    char *md = NULL;
    cr_assert_eq(tl_registry_card_markdown(&m, &md, &err), 0, "%s", err.msg);
    tl_model_info_clear(&m);
    return md;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The card from "## Limitations" up to "## Artifact": what does not depend
 * on the model's id or creation time. */
static char *card_tail(const char *md)
{
    const char *a = strstr(md, "\n## Limitations"), *z = strstr(md, "\n## Artifact");
    cr_assert(a && z && a < z, "%s", md);
    return strndup(a, (size_t)(z - a));
}

/* A card as the credit trainer writes it: the five sections, then "points"
 * (its rows' keys in another order than the table's), and other sections a
 * trainer may add. */
static const char EXTRA_META[] =
    "{\"card\":{\"intended_use\":\"Scores loans.\",\"data\":{\"rows\":400},"
    "  \"metrics\":{\"AUC\":\"0.7806\"},\"fairness\":[],\"limitations\":\"Retrain yearly.\","
    "  \"zeta_notes\":\"Last.\","
    "  \"points\":[{\"WoE\":\"-0.192\",\"rows\":272,\"points\":\"68.6\",\"bin\":\"(-inf, 25770.1]\","
    "              \"variable\":\"amount\"},"
    "             {\"variable\":\"purpose\",\"bin\":\"a|b\",\"points\":\"53.9\",\"WoE\":\"0.436\","
    "              \"rows\":58}],"
    "  \"calibration\":{\"method\":\"platt\"},"
    "  \"data_drift\":null,"
    "  \"x\\ny\":\"a key with a line break\"},"
    " \"points_table\":[{\"variable\":\"amount\",\"bin\":\"ignored\",\"points\":1.0}]}";

/* The same card with its keys in another order. */
static const char EXTRA_META_SHUFFLED[] =
    "{\"card\":{\"x\\ny\":\"a key with a line break\",\"data_drift\":null,"
    "  \"calibration\":{\"method\":\"platt\"},"
    "  \"points\":[{\"WoE\":\"-0.192\",\"rows\":272,\"points\":\"68.6\",\"bin\":\"(-inf, 25770.1]\","
    "              \"variable\":\"amount\"},"
    "             {\"variable\":\"purpose\",\"bin\":\"a|b\",\"points\":\"53.9\",\"WoE\":\"0.436\","
    "              \"rows\":58}],"
    "  \"zeta_notes\":\"Last.\",\"limitations\":\"Retrain yearly.\",\"fairness\":[],"
    "  \"metrics\":{\"AUC\":\"0.7806\"},\"data\":{\"rows\":400},\"intended_use\":\"Scores loans.\"}}";

BOTH(card_renders_other_sections_after_the_five)
{
    char *md = card_md(e, EXTRA_META);
    const char *want[] = {
        /* the points table: variable, bin, points first, then the rest as first seen */
        "\n## Points\n\n| variable | bin | points | WoE | rows |\n|---|---|---|---|---|\n"
        "| amount | (-inf, 25770.1] | 68.6 | -0.192 | 272 |\n"
        "| purpose | a\\|b | 53.9 | 0.436 | 58 |\n",
        "\n## Calibration\n\n| | |\n|---|---|\n| method | platt |\n",
        "\n## Data drift\n\nNot documented.\n",
        "\n## Zeta notes\n\nLast.\n",
        "\n## X y\n\na key with a line break\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(md, want[i]), "card lacks \"%s\":\n%s", want[i], md);
    /* after the five, in byte order of their keys, each once */
    const char *order[] = {"## Limitations", "## Calibration", "## Data drift", "## Points",
                           "## X y",         "## Zeta notes",  "## Artifact"};
    for (size_t i = 0; i + 1 < sizeof order / sizeof order[0]; i++)
        cr_assert_lt(strstr(md, order[i]), strstr(md, order[i + 1]), "%s before %s:\n%s", order[i],
                     order[i + 1], md);
    const char *once[] = {"## Intended use", "## Data\n", "## Metrics", "## Fairness",
                          "## Limitations",  "## Points", "| amount |"};
    for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
        cr_assert_eq(count(md, once[i]), 1, "\"%s\" not exactly once:\n%s", once[i], md);
    cr_assert_null(strstr(md, "ignored"), "card.points wins over metadata.points_table:\n%s", md);

    /* the order of the keys in the stored JSON changes nothing */
    char *md2 = card_md(e, EXTRA_META_SHUFFLED);
    char *t1 = card_tail(md), *t2 = card_tail(md2);
    cr_assert_str_eq(t1, t2);
    free(t1);
    free(t2);
    free(md2);
    free(md);

    /* no card.points: metadata.points_table stands in (as the trainer writes it) */
    md = card_md(e, "{\"card\":{\"intended_use\":\"Scores loans.\"},"
                    " \"points_table\":[{\"variable\":\"income\",\"bin\":\"missing\","
                    "\"points\":-3.5,\"woe\":0.25,\"n\":7}]}");
    cr_assert(strstr(md, "\n## Points\n\n| variable | bin | points | woe | n |\n|---|---|---|---|---|\n"
                         "| income | missing | -3.5 | 0.25 | 7 |\n"),
              "%s", md);
    cr_assert_lt(strstr(md, "## Limitations"), strstr(md, "## Points"));
    free(md);

    /* a long key is cut for its title, never inside a UTF-8 character: 78
     * bytes of 'k', then "é" (2 bytes) across the 79-byte limit */
    char meta[512], key[128];
    memset(key, 'k', 78);
    snprintf(key + 78, sizeof key - 78, "\xc3\xa9tail");
    snprintf(meta, sizeof meta, "{\"card\":{\"%s\":\"long\"}}", key);
    md = card_md(e, meta);
    char title[128];
    snprintf(title, sizeof title, "\n## K%.77s\n\nlong\n", key + 1);
    cr_assert(strstr(md, title), "no \"%s\" in:\n%s", title, md);
    free(md);

    /* the five sections alone: nothing after Limitations but the artifact */
    md = card_md(e, CARD_META);
    char *t = card_tail(md);
    cr_assert_eq(count(t, "\n## "), 1, "%s", t);
    free(t);
    free(md);
}

struct actions {
    char text[1024];
};

static int on_entry(void *ud, const struct tl_audit_entry *en)
{
    struct actions *a = ud;
    size_t n = strlen(a->text);
    snprintf(a->text + n, sizeof a->text - n, "%s %s %s;", en->action,
             en->model_version ? en->model_version : "-", en->actor);
    return 0;
}

BOTH(changes_are_journaled)
{
    add(e->ctx, "credit", "a", NULL, NULL);
    add(e->ctx, "credit", "b", NULL, NULL);
    tl_err err = {0};
    cr_assert_eq(tl_registry_promote(e->ctx, "credit-v1", "ops", &err), 0, "%s", err.msg);
    cr_assert_eq(tl_registry_promote(e->ctx, "credit-v2", "ops", &err), 0, "%s", err.msg);
    cr_assert_eq(tl_registry_promote(e->ctx, "credit-v2", "ops", &err), 0, "%s", err.msg); /* no-op */
    cr_assert_eq(tl_registry_retire(e->ctx, "credit-v2", "ops", &err), 0, "%s", err.msg);
    cr_assert_eq(tl_registry_retire(e->ctx, "credit-v2", "ops", &err), 0, "%s", err.msg); /* no-op */
    struct actions a = {0};
    cr_assert_eq(tl_audit_list(e->ctx, NULL, 0, on_entry, &a, &err), 0, "%s", err.msg);
    cr_assert_str_eq(a.text, "model.retire credit-v2 ops;model.promote credit-v2 ops;"
                             "model.promote credit-v1 ops;model.add credit-v2 tester;"
                             "model.add credit-v1 tester;");
    struct tl_audit_report rep;
    cr_assert_eq(tl_audit_verify(e->ctx, &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.ok, "%s", rep.problem);

    /* inside a transaction of the caller's the registry refuses to start its
     * own (which it would have to journal after), and adds nothing */
    cr_assert_eq(tl_store_begin(tl_ctx_store(e->ctx), &err), 0, "%s", err.msg);
    struct tl_model_new m = {.task = "credit", .algo = "x", .artifact = "c", .artifact_len = 1};
    cr_assert_eq(tl_registry_add(e->ctx, &m, NULL, &err), TL_EINVAL);
    cr_assert_eq(tl_store_rollback(tl_ctx_store(e->ctx), &err), 0, "%s", err.msg);
    int64_t n = 0;
    cr_assert_eq(tl_store_count(tl_ctx_store(e->ctx), "models", &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
}

BOTH(bad_input_is_refused)
{
    tl_err err = {0};
    struct tl_model_new m = {.task = "Credit!", .algo = "x", .artifact = "a", .artifact_len = 1};
    cr_assert_eq(tl_registry_add(e->ctx, &m, NULL, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "Credit!"), "%s", err.msg);
    m.task = "credit";
    m.algo = "has space";
    cr_assert_eq(tl_registry_add(e->ctx, &m, NULL, &err), TL_EINVAL);
    m.algo = "woe+logit";
    m.artifact_len = 0;
    cr_assert_eq(tl_registry_add(e->ctx, &m, NULL, &err), TL_EINVAL);
    m.artifact_len = 1;
    json_t *arr = json_array();
    m.metadata = arr;
    cr_assert_eq(tl_registry_add(e->ctx, &m, NULL, &err), TL_EINVAL);
    json_decref(arr);
    m.metadata = NULL;
    cr_assert_eq(tl_registry_add(e->ctx, &m, NULL, &err), 0, "%s", err.msg);

    struct tl_model_info info;
    cr_assert_eq(tl_registry_get(e->ctx, "nope-v1", &info, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "nope-v1"), "%s", err.msg);
    cr_assert_eq(tl_registry_champion(e->ctx, "bad task", &info, &err), TL_EINVAL);
    cr_assert_eq(tl_registry_promote(e->ctx, "credit-v1", NULL, &err), TL_EINVAL);
    cr_assert_eq(tl_registry_promote(e->ctx, "credit-v1", "", &err), TL_EINVAL);
    status_is(e->ctx, "credit-v1", "challenger");
}

#define N_PROCS 3
#define PER_PROC 6

BOTH(concurrent_adds_get_distinct_versions)
{
    const char *url = tl_config_get(e->cfg, "store.url");
    pid_t pids[N_PROCS];
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (pids[i] == 0) {
            tl_config *cfg = tu_config(url, e->dir);
            tl_ctx *ctx = NULL;
            tl_err err = {0};
            int rc = tl_ctx_open(cfg, &ctx, &err);
            for (int k = 0; rc == 0 && k < PER_PROC; k++) {
                char art[32];
                snprintf(art, sizeof art, "p%d-%d", i, k);
                struct tl_model_new m = {.task = "credit", .algo = "x", .artifact = art,
                                         .artifact_len = strlen(art)};
                rc = tl_registry_add(ctx, &m, NULL, &err);
            }
            if (rc < 0)
                fprintf(stderr, "process %d: %s\n", i, err.msg);
            _exit(rc < 0 ? 1 : 0);
        }
    }
    for (int i = 0; i < N_PROCS; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d failed", i);
    }
    struct tl_model_info *v = NULL;
    size_t n = 0;
    tl_err err = {0};
    cr_assert_eq(tl_registry_list(e->ctx, "credit", &v, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, N_PROCS * PER_PROC);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(v[i].version, (int)(n - i), "versions 1..%zu, each once", n);
        char *bytes = NULL;
        size_t len = 0;
        cr_assert_eq(tl_registry_artifact(e->ctx, v[i].id, &bytes, &len, &err), 0, "%s", err.msg);
        free(bytes);
    }
    tl_registry_list_free(v, n);
}
