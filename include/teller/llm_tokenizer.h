/*
 * llm_tokenizer.h - the tokenizers of the LLM engine: text <-> token ids.
 *
 * Three families, chosen by the GGUF key tokenizer.ggml.model, with the
 * semantics of llama.cpp's llama_tokenize (docs/llm-tokenizers.md):
 *
 *   "llama"  SentencePiece-style: a space is prepended, spaces become U+2581,
 *            adjacent pieces are merged by score, unknown characters fall
 *            back to <0xNN> byte tokens.
 *   "gpt2"   byte-level BPE: a pre-tokenizer regex (chosen by
 *            tokenizer.ggml.pre) splits the text, each chunk's bytes are
 *            mapped to the GPT-2 alphabet and merged by rank.
 *   "bert"   WordPiece: BERT basic tokenization (lower-casing, accent
 *            stripping, CJK and punctuation splitting), then greedy longest
 *            match per word.
 *
 * and llama2.c's tokenizer file (tok512.bin), encoded as llama2.c's run.c does.
 *
 *     tl_tokenizer *tok;
 *     if (tl_tok_load_gguf(g, &tok, &err) < 0) ...
 *     int32_t *ids; size_t n;
 *     tl_tok_encode(tok, text, len, TL_TOK_ADD_BOS, &ids, &n, &err);
 *     char *s; size_t slen;
 *     tl_tok_decode(tok, ids, n, false, &s, &slen, &err);
 *     free(ids); free(s); tl_tok_free(tok);
 *
 * A loaded tokenizer is immutable: any number of threads may encode and
 * decode with it at once.
 */
#ifndef TELLER_LLM_TOKENIZER_H
#define TELLER_LLM_TOKENIZER_H

#include "common.h"
#include "err.h"
#include "llm_gguf.h"

TL_BEGIN_DECLS

typedef struct tl_tokenizer tl_tokenizer;

/* Flags of tl_tok_encode. */
enum {
    TL_TOK_ADD_BOS = 1,       /* prepend the BOS token (when the vocabulary has one) */
    TL_TOK_ADD_EOS = 2,       /* append the EOS token (when the vocabulary has one) */
    TL_TOK_PARSE_SPECIAL = 4, /* text equal to a control token's text becomes that token */
};

/* Builds a tokenizer from the tokenizer.ggml.* keys of g. Everything needed
 * is copied, so g may be closed afterwards; a vocabulary-only GGUF (no
 * tensors) is enough. Errors: TL_EPARSE when a key is missing or malformed
 * (the message names the key), TL_EUNSUPPORTED for an unknown
 * tokenizer.ggml.model or tokenizer.ggml.pre, TL_ENOMEM. */
TL_API int tl_tok_load_gguf(const tl_gguf *g, tl_tokenizer **out, tl_err *err);

/* Loads a llama2.c tokenizer file (tok512.bin: max_token_length, then per id
 * a float score, a length and the bytes). BOS is 1, EOS 2. Errors: TL_EIO
 * when the file cannot be read, TL_EPARSE for a truncated or malformed file
 * (the message names the file, the token and the byte offset). */
TL_API int tl_tok_load_llama2c(const char *path, tl_tokenizer **out, tl_err *err);

/* Frees; NULL is a no-op. */
TL_API void tl_tok_free(tl_tokenizer *t);

/* The number of tokens in the vocabulary. */
TL_API int32_t tl_tok_n_vocab(const tl_tokenizer *t);

/* The BOS and EOS ids, or -1 when the vocabulary has none. */
TL_API int32_t tl_tok_bos(const tl_tokenizer *t);
TL_API int32_t tl_tok_eos(const tl_tokenizer *t);

/* True when id ends a generation: EOS, EOT (tokenizer.ggml.eot_token_id) and
 * the control tokens that chat models end a turn with (<|im_end|>,
 * <|eot_id|>, <|end_of_text|>, <|endoftext|>, <end_of_turn>, ...). */
TL_API bool tl_tok_is_eog(const tl_tokenizer *t, int32_t id);

/* True when id is a control token (BOS, EOS, <|im_start|>, ...): its piece
 * is empty unless special pieces are asked for. */
TL_API bool tl_tok_is_control(const tl_tokenizer *t, int32_t id);

/* Whether prompts should start with BOS: tokenizer.ggml.add_bos_token, or
 * the model's default (llama and bert: true, gpt2: false except llama3-style
 * pre-tokenizers). */
TL_API bool tl_tok_default_add_bos(const tl_tokenizer *t);

/* The id of the token whose text is exactly text[0..len) (as stored in the
 * vocabulary: U+2581 for spaces in llama vocabularies, the GPT-2 alphabet
 * in gpt2 ones), or -1. */
TL_API int32_t tl_tok_find(const tl_tokenizer *t, const char *text, size_t len);

/* "llama", "gpt2" or "bert" (tok512.bin files say "llama"). */
TL_API const char *tl_tok_model_name(const tl_tokenizer *t);

/* Encodes text[0..len) into *ids (malloc'd, caller frees; *n_ids may be 0,
 * then *ids is still a valid allocation). With flags 0 the ids equal
 * llama.cpp's llama_tokenize(add_special=false, parse_special=false).
 * Invalid UTF-8 is refused with TL_EINVAL naming the byte offset. Errors
 * leave *ids NULL and *n_ids 0. */
TL_API int tl_tok_encode(const tl_tokenizer *t, const char *text, size_t len, unsigned flags,
                         int32_t **ids, size_t *n_ids, tl_err *err);

/* The bytes token id stands for, written to buf (U+2581 becomes a space,
 * <0xNN> the byte, the GPT-2 alphabet the original bytes). Control and
 * unknown tokens give 0 bytes unless special. Returns the full byte length,
 * which may exceed cap: then, as snprintf, buf holds a truncated copy (no
 * terminator is written). Returns TL_EINVAL for an id out of range. */
TL_API int tl_tok_piece(const tl_tokenizer *t, int32_t id, bool special, char *buf, size_t cap);

/* Concatenates the pieces of ids[0..n) into *out (malloc'd, NUL-terminated,
 * *len bytes without the terminator). For llama and bert vocabularies the
 * one leading space that encoding adds to the first word is dropped, so
 * decode(encode(x)) == x. Errors: TL_EINVAL naming the position of an id out
 * of range, TL_ENOMEM. */
TL_API int tl_tok_decode(const tl_tokenizer *t, const int32_t *ids, size_t n, bool special,
                         char **out, size_t *len, tl_err *err);

TL_END_DECLS

#endif
