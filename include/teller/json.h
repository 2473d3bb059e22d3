/*
 * json.h - JSON over jansson, with errors in the tl_err contract.
 *
 * Values are jansson's json_t; include <jansson.h> to use them. These helpers
 * add what every caller would otherwise repeat: parse errors that name the
 * source and line:column, and typed field access with a precise message.
 */
#ifndef TELLER_JSON_H
#define TELLER_JSON_H

#include "common.h"
#include "err.h"
#include <jansson.h>

TL_BEGIN_DECLS

/* Parses text[0..len) (must be one JSON value). `source` names the input in
 * errors ("body", "file.jsonl:12"). Returns a new reference (caller
 * json_decref's it) or NULL with err filled. Strict: exactly one value of any
 * type, no trailing data, no duplicate object keys, no "\u0000" escapes, and
 * only valid UTF-8. */
TL_API json_t *tl_json_parse(const char *text, size_t len, const char *source, tl_err *err);

/* Reads and parses a whole file. Same ownership as tl_json_parse. */
TL_API json_t *tl_json_load_file(const char *path, tl_err *err);

/* Serializes compactly into a malloc'd NUL-terminated string (caller frees)
 * with keys in insertion order; NULL when out of memory. */
TL_API char *tl_json_dump(const json_t *v);

/* Typed getters: 0 on success; TL_ENOTFOUND when absent (and *out untouched),
 * TL_EINVAL with a message naming `key` when the type is wrong. A member whose
 * value is null counts as absent. tl_json_get_num accepts integers too. */
TL_API int tl_json_get_str(const json_t *obj, const char *key, const char **out, tl_err *err);
TL_API int tl_json_get_int(const json_t *obj, const char *key, int64_t *out, tl_err *err);
TL_API int tl_json_get_num(const json_t *obj, const char *key, double *out, tl_err *err);
TL_API int tl_json_get_bool(const json_t *obj, const char *key, bool *out, tl_err *err);

TL_END_DECLS

#endif
