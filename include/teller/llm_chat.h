/*
 * llm_chat.h - chat templates: a conversation ({role, content} messages)
 * rendered as the prompt text a chat model was trained on.
 *
 * Like llama.cpp's llama_chat_apply_template (not a Jinja interpreter), the
 * template family is recognized from marker substrings of the model's
 * tokenizer.chat_template, in llama.cpp's llm_chat_detect_template order,
 * and each family is rendered by hand-written code that gives exactly the
 * text llama.cpp gives. docs/llm-chat.md lists the families and their
 * rendering.
 *
 *     tl_llm_chat_msg msgs[] = {{"system", "You are terse."}, {"user", "Hi"}};
 *     int kind = tl_llm_chat_detect(tmpl, tmpl_len);     // tmpl may be NULL
 *     char *prompt; size_t len;
 *     if (tl_llm_chat_apply(kind, msgs, 2, true, &prompt, &len, &err) < 0) ...
 *     ... tokenize prompt with TL_TOK_PARSE_SPECIAL (BOS is the tokenizer's) ...
 *     free(prompt);
 *
 * The templates add no BOS: the tokenizer adds it (add_bos_token), as
 * llama.cpp does.
 */
#ifndef TELLER_LLM_CHAT_H
#define TELLER_LLM_CHAT_H

#include "common.h"
#include "err.h"

TL_BEGIN_DECLS

/* Template families (llama.cpp's names in tl_llm_chat_name). Append-only. */
enum tl_llm_chat_kind {
    TL_CHAT_UNKNOWN = 0,       /* a template none of the families matches */
    TL_CHAT_CHATML = 1,        /* <|im_start|>role\n...<|im_end|>\n (Qwen, SmolLM, ...) */
    TL_CHAT_LLAMA3 = 2,        /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    TL_CHAT_LLAMA2 = 3,        /* [INST] ... [/INST], system as a first line */
    TL_CHAT_LLAMA2_SYS = 4,    /* [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] */
    TL_CHAT_LLAMA2_SYS_BOS = 5,   /* as LLAMA2_SYS, "<s>" before each later [INST] */
    TL_CHAT_LLAMA2_SYS_STRIP = 6, /* as LLAMA2_SYS, contents trimmed */
    TL_CHAT_MISTRAL_V1 = 7,    /* " [INST] ... [/INST] answer</s>" */
    TL_CHAT_MISTRAL_V3 = 8,    /* "[INST] ...[/INST] answer</s>", answers trimmed */
    TL_CHAT_MISTRAL_V3_TEKKEN = 9, /* "[INST]...[/INST]answer</s>" */
    TL_CHAT_MISTRAL_V7 = 10,   /* [SYSTEM_PROMPT] ...[/SYSTEM_PROMPT][INST] ...[/INST] */
    TL_CHAT_PHI3 = 11,         /* <|role|>\n...<|end|>\n */
    TL_CHAT_ZEPHYR = 12,       /* <|role|>\n...<|endoftext|>\n */
    TL_CHAT_GEMMA = 13,        /* <start_of_turn>user\n...<end_of_turn>\n, system merged */
    TL_CHAT_MISTRAL_V7_TEKKEN = 14, /* as MISTRAL_V7 without the spaces (by name only) */
    TL_CHAT_KIND_COUNT
};

typedef struct tl_llm_chat_msg {
    const char *role;    /* "system", "user", "assistant" (other roles are rendered as given) */
    const char *content; /* NUL-terminated */
} tl_llm_chat_msg;

/* The family of a template text (len bytes, not necessarily NUL-terminated).
 * NULL or empty gives TL_CHAT_CHATML, llama.cpp's default when a model has no
 * template. A text equal to a family name ("llama3") gives that family, as
 * llama.cpp accepts. A template of a family we do not render (Phi 4,
 * DeepSeek, Command R, ...) and any unrecognized text give TL_CHAT_UNKNOWN:
 * the caller decides (the engine reports it and asks for --chat-template). */
TL_API int tl_llm_chat_detect(const char *template_text, size_t len);

/* The family named name ("chatml", "llama3", "llama2", "llama2-sys",
 * "llama2-sys-bos", "llama2-sys-strip", "mistral-v1", "mistral-v3",
 * "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "phi3", "zephyr",
 * "gemma"), for a
 * --chat-template override. TL_EINVAL naming it and listing the known names
 * when unknown. */
TL_API int tl_llm_chat_parse(const char *name, int *kind, tl_err *err);

/* llama.cpp's name of a family, "unknown" for TL_CHAT_UNKNOWN or out of
 * range. */
TL_API const char *tl_llm_chat_name(int kind);

/* Renders n messages into *out (malloc'd, NUL-terminated, *len bytes without
 * the NUL; the caller frees). add_generation_prompt appends the opening of
 * the assistant's turn where the family has one. Errors: TL_EUNSUPPORTED for
 * TL_CHAT_UNKNOWN (the message suggests --chat-template), TL_EINVAL for an
 * out-of-range kind or a message with a NULL role or content (named by
 * index), TL_ENOMEM. On error *out is untouched. */
TL_API int tl_llm_chat_apply(int kind, const tl_llm_chat_msg *msgs, size_t n,
                             bool add_generation_prompt, char **out, size_t *len, tl_err *err);

/* The texts that end an assistant turn in a family, NULL-terminated (static,
 * never NULL): the end-of-turn token's text ("<|im_end|>", "<|eot_id|>",
 * "</s>", ...), which the tokenizer usually also marks as end-of-generation,
 * and for families without one the text that would start the next turn.
 * Generation stops at any of them; they are not part of the answer. */
TL_API const char *const *tl_llm_chat_stops(int kind);

TL_END_DECLS

#endif
