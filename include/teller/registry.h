/*
 * registry.h - the model registry: every trained model, versioned, in the
 * store.
 *
 * A model is a row of `models` (id "<task>-v<version>", task, algo, status,
 * checksum, metadata JSON) plus its artifact in `model_artifacts` (the bytes
 * domain code needs to score: encoding, weights, trees, calibration, as one
 * JSON document, base64 in a TEXT column so both backends hold it the same
 * way). The checksum is the SHA-256 of the artifact bytes, checked on every
 * load: a truncated or altered artifact never scores.
 *
 * Status: a new model is a challenger; promoting it makes it the champion of
 * its task and retires the champion before it, in one transaction. Domain
 * code asks for the champion of a task ("credit", "fraud", ...) and never
 * reads model files itself.
 *
 * metadata is free-form JSON owned by the domain, with these keys the
 * registry and `teller models` understand: "hyperparameters", "metrics",
 * "data" ({"source","rows","fingerprint",...}), "card" (the model card:
 * {"intended_use","data","metrics","fairness","limitations"}, each a string,
 * object or array, rendered to Markdown by tl_registry_card_markdown).
 *
 *     struct tl_model_new m = {.task = "credit", .algo = "scorecard",
 *                              .artifact = bytes, .artifact_len = len, .metadata = meta};
 *     struct tl_model_info info;
 *     tl_registry_add(ctx, &m, &info, &err);       // credit-v3, challenger
 *     tl_registry_promote(ctx, info.id, "cli", &err);
 */
#ifndef TELLER_REGISTRY_H
#define TELLER_REGISTRY_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

#define TL_MODEL_ID_MAX 64

struct tl_model_info {
    char id[TL_MODEL_ID_MAX]; /* "credit-v3" */
    char task[32];
    int version;
    char algo[32];
    char status[16];          /* challenger, champion, retired */
    int64_t created_ms;
    char checksum[65];        /* SHA-256 hex of the artifact */
    size_t artifact_len;
    json_t *metadata;         /* owned: release with tl_model_info_clear */
};

TL_API void tl_model_info_clear(struct tl_model_info *m);

struct tl_model_new {
    const char *task;  /* [a-z0-9_]{1,31} */
    const char *algo;  /* [a-z0-9_+]{1,31} */
    const void *artifact;
    size_t artifact_len; /* at most 256 MiB */
    const json_t *metadata; /* borrowed; an object, or NULL for {} */
    const char *actor;      /* who adds it, for the audit log; NULL: "teller" */
};

/* Stores a new version (the task's highest + 1, from 1) as a challenger, and
 * journals "model.add" in the audit log. *out (optional) receives its info
 * (the caller clears it). Two processes adding models of one task at once get
 * distinct versions. On error *out is zeroed (clearing it is harmless); when
 * only the journal failed, the model is stored and err says so. */
TL_API int tl_registry_add(tl_ctx *ctx, const struct tl_model_new *m, struct tl_model_info *out,
                           tl_err *err);

/* Every model of task (NULL: all tasks), newest first within a task, tasks in
 * name order. *out is malloc'ed; release with tl_registry_list_free. */
TL_API int tl_registry_list(tl_ctx *ctx, const char *task, struct tl_model_info **out, size_t *n,
                            tl_err *err);
TL_API void tl_registry_list_free(struct tl_model_info *v, size_t n);

/* One model by id; TL_ENOTFOUND naming it when there is none. */
TL_API int tl_registry_get(tl_ctx *ctx, const char *id, struct tl_model_info *out, tl_err *err);

/* The champion of task; TL_ENOTFOUND ("no champion for task credit: train
 * one with ... and promote it") when there is none. */
TL_API int tl_registry_champion(tl_ctx *ctx, const char *task, struct tl_model_info *out,
                                tl_err *err);

/* The artifact bytes of model id, checked against its checksum: a mismatch
 * or wrong length is TL_ECRYPTO ("model credit-v2: artifact checksum
 * mismatch: altered or truncated"). *bytes is malloc'ed (NUL-terminated for
 * convenience, not counted in *len). */
TL_API int tl_registry_artifact(tl_ctx *ctx, const char *id, char **bytes, size_t *len,
                                tl_err *err);

/* The artifact of model id of task (id NULL: the task's champion), for a
 * domain's loader: TL_ENOTFOUND as tl_registry_get / tl_registry_champion,
 * TL_EINVAL when id is a model of another task, TL_ECRYPTO as
 * tl_registry_artifact. id_out gets the model's id; *bytes is malloc'ed. */
TL_API int tl_registry_task_artifact(tl_ctx *ctx, const char *task, const char *id,
                                     char id_out[TL_MODEL_ID_MAX], char **bytes, size_t *len,
                                     tl_err *err);

/* Makes id the champion of its task, the previous champion retired, in one
 * transaction; journals "model.promote" with actor. Promoting a retired
 * model is allowed (a rollback); the champion again is a no-op. */
TL_API int tl_registry_promote(tl_ctx *ctx, const char *id, const char *actor, tl_err *err);

/* Sets id retired (a champion retired leaves its task without one). */
TL_API int tl_registry_retire(tl_ctx *ctx, const char *id, const char *actor, tl_err *err);

/* The model card as Markdown: a heading with id, task, algo, status and
 * date, then the sections of metadata.card in the order intended_use, data,
 * metrics, fairness, limitations (objects as two-column tables, arrays as
 * lists or tables, strings as paragraphs), then the card's other sections in
 * byte order of their keys ("points" as a table starting variable, bin,
 * points; metadata.points_table when the card has none), and the artifact
 * checksum. *md is malloc'ed. */
TL_API int tl_registry_card_markdown(const struct tl_model_info *m, char **md, tl_err *err);

/* info as JSON (id, task, version, algo, status, created as ISO 8601,
 * checksum, artifact_bytes, metadata); a new reference. */
TL_API json_t *tl_model_info_json(const struct tl_model_info *m);

TL_END_DECLS

#endif
