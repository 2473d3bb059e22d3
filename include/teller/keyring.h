/*
 * keyring.h - data keys for PII encryption at rest, and keyed hashes.
 *
 * A key file holds one key per line, "KEYID BASE64(32 bytes)"; the last line
 * is the active key that new values are sealed with, the others still open
 * values sealed before a rotation. TELLER_DATA_KEY="KEYID:BASE64" supplies a
 * single key instead of a file. Keys never leave the process.
 *
 * A sealed value is text, "tlenc1:KEYID:BASE64URL(nonce || ciphertext)",
 * XChaCha20-Poly1305 with (context) as associated data, so a value cannot be
 * moved to another column or row unnoticed. The nonce is a keyed hash of
 * (context, plaintext): sealing is deterministic, which keeps re-ingesting
 * the same file a no-op and checksums equal across backends; it reveals only
 * equality of values, which the blind index reveals anyway.
 *
 * Keyed hashes (blind indexes, API key hashes) use an index key derived from
 * the FIRST key of the ring, so they survive data-key rotation unchanged.
 */
#ifndef TELLER_KEYRING_H
#define TELLER_KEYRING_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

typedef struct tl_keyring tl_keyring;

/* Loads the keys of path, or of TELLER_DATA_KEY when set (path ignored then).
 * When path does not exist and create is true, writes a new file (mode 0600)
 * with one fresh random key. On error *out is untouched. */
TL_API int tl_keyring_open(const char *path, bool create, tl_keyring **out, tl_err *err);
TL_API void tl_keyring_free(tl_keyring *kr);

/* Id of the active key (borrowed). */
TL_API const char *tl_keyring_active_id(const tl_keyring *kr);

/* Appends a fresh key to path and makes it active in kr; *new_id (optional,
 * 32 bytes) receives its id. Values sealed before stay readable. */
TL_API int tl_keyring_rotate(tl_keyring *kr, const char *path, char new_id[32], tl_err *err);

/* Seals pt[0..len) under the active key; *out is malloc'd, NUL-terminated
 * (caller frees). context binds the value to its place, e.g. "customers.email". */
TL_API int tl_keyring_seal(const tl_keyring *kr, const char *context, const char *pt, size_t len,
                           char **out, tl_err *err);

/* Opens a sealed value; *out is malloc'd and NUL-terminated, *out_len its
 * length. TL_ECRYPTO when tampered or under an unknown key id (named). */
TL_API int tl_keyring_unseal(const tl_keyring *kr, const char *context, const char *sealed,
                             size_t len, char **out, size_t *out_len, tl_err *err);

/* True when s[0..len) has the sealed-value form. */
TL_API bool tl_keyring_is_sealed(const char *s, size_t len);

/* Key id of a sealed value (copied into id, 32 bytes), for rotation. */
TL_API int tl_keyring_sealed_key_id(const char *sealed, size_t len, char id[32]);

/* Keyed BLAKE2b-256 of data under the index key, domain-separated by
 * context, as 64 hex characters plus NUL. */
TL_API void tl_keyring_hash(const tl_keyring *kr, const char *context, const char *data, size_t len,
                            char hex[65]);

TL_END_DECLS

#endif
