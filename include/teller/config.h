/*
 * config.h - configuration with a fixed precedence: defaults, then the file
 * (INI via inih), then environment variables TELLER_<KEY>, then flags.
 *
 * Keys are flat, lower case, dotted for sections: the INI entry
 *     [store]
 *     url = sqlite:bank.db
 * is the key "store.url", the environment variable TELLER_STORE_URL, and the
 * flag --store (programs map their flags to keys). Unknown keys in the file
 * are an error naming file:line, so typos do not pass silently.
 */
#ifndef TELLER_CONFIG_H
#define TELLER_CONFIG_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_config tl_config;

enum tl_config_source {
    TL_CONFIG_DEFAULT = 0,
    TL_CONFIG_FILE = 1,
    TL_CONFIG_ENV = 2,
    TL_CONFIG_FLAG = 3,
};

/* A new configuration holding the built-in defaults for every known key.
 * Returns NULL when out of memory. Free with tl_config_free. */
TL_API tl_config *tl_config_new(void);
TL_API void tl_config_free(tl_config *c);

/* Loads an INI file (only keys known to tl_config_new are accepted). */
TL_API int tl_config_load_file(tl_config *c, const char *path, tl_err *err);

/* Applies TELLER_* variables from envp (NULL = the process environment). */
TL_API int tl_config_load_env(tl_config *c, char *const *envp, tl_err *err);

/* Sets one key from a given source. A value from a lower-precedence source
 * never overrides one from a higher source, so the loads may happen in any
 * order. Unknown key: TL_ENOTFOUND naming it. */
TL_API int tl_config_set(tl_config *c, const char *key, const char *value,
                         enum tl_config_source src, tl_err *err);

/* Current value (borrowed, valid until the key is set again or c is freed),
 * or NULL for an unknown key. */
TL_API const char *tl_config_get(const tl_config *c, const char *key);

/* Where the current value of key came from; -1 for an unknown key. */
TL_API int tl_config_source_of(const tl_config *c, const char *key);

/* Integer value of a key, or TL_EINVAL naming the key and value. */
TL_API int tl_config_get_int(const tl_config *c, const char *key, int64_t *out, tl_err *err);

/* Number of known keys, and the i-th key's name (for `teller config`). */
TL_API size_t tl_config_count(const tl_config *c);
TL_API const char *tl_config_key_at(const tl_config *c, size_t i);

TL_END_DECLS

#endif
