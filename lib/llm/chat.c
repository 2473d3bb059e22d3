/*
 * chat.c - chat templates (include/teller/llm_chat.h, docs/llm-chat.md).
 *
 * Detection follows llama.cpp's llm_chat_detect_template check by check, in
 * its order, because the markers overlap ("[INST]" is in Llama 2 and every
 * Mistral template; "<|user|>" in Zephyr, Falcon 3 and GLM-Edge): a family we
 * do not render still has to be recognized, and answered TL_CHAT_UNKNOWN,
 * so that a later, looser check does not claim it. Rendering reproduces
 * llm_chat_apply_template's output for each family we support.
 */
#include <teller/llm_chat.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[TL_CHAT_KIND_COUNT] = {
    [TL_CHAT_UNKNOWN] = "unknown",
    [TL_CHAT_CHATML] = "chatml",
    [TL_CHAT_LLAMA3] = "llama3",
    [TL_CHAT_LLAMA2] = "llama2",
    [TL_CHAT_LLAMA2_SYS] = "llama2-sys",
    [TL_CHAT_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [TL_CHAT_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
    [TL_CHAT_MISTRAL_V1] = "mistral-v1",
    [TL_CHAT_MISTRAL_V3] = "mistral-v3",
    [TL_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [TL_CHAT_MISTRAL_V7] = "mistral-v7",
    [TL_CHAT_PHI3] = "phi3",
    [TL_CHAT_ZEPHYR] = "zephyr",
    [TL_CHAT_GEMMA] = "gemma",
    [TL_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
};

/* llama.cpp's other template names: a text equal to one of them is that
 * family, which we do not render. */
static const char *const other_names[] = {
    "phi4",     "falcon3",   "monarch",  "orion",         "openchat",      "vicuna",
    "vicuna-orca", "deepseek", "deepseek2", "deepseek3",   "command-r",     "chatglm3",
    "chatglm4", "glmedge",   "minicpm",  "exaone3",       "exaone4",       "rwkv-world",
    "granite",  "gigachat",  "megrez",   "yandex",        "bailing",       "llama4",
    "smolvlm",  "hunyuan-moe", "hunyuan-dense", "kimi-k2",
};

const char *tl_llm_chat_name(int kind)
{
    return kind > 0 && kind < TL_CHAT_KIND_COUNT ? names[kind] : "unknown";
}

int tl_llm_chat_parse(const char *name, int *kind, tl_err *err)
{
    for (int k = 1; k < TL_CHAT_KIND_COUNT; k++) {
        if (name && strcmp(name, names[k]) == 0) {
            *kind = k;
            return 0;
        }
    }
    return tl_err_set(err, TL_EINVAL,
                      "unknown chat template \"%s\" (known: chatml, llama3, llama2, llama2-sys, "
                      "llama2-sys-bos, llama2-sys-strip, mistral-v1, mistral-v3, "
                      "mistral-v3-tekken, mistral-v7, mistral-v7-tekken, phi3, zephyr, gemma)",
                      name ? name : "");
}

/* ---- detection ---------------------------------------------------------------- */

struct text {
    const char *p;
    size_t n;
};

static bool has(struct text t, const char *needle)
{
    size_t k = strlen(needle);
    if (k > t.n)
        return false;
    for (size_t i = 0; i + k <= t.n; i++)
        if (t.p[i] == needle[0] && memcmp(t.p + i, needle, k) == 0)
            return true;
    return false;
}

int tl_llm_chat_detect(const char *tmpl, size_t len)
{
    if (!tmpl || len == 0)
        return TL_CHAT_CHATML;
    struct text t = {tmpl, len};
    for (int k = 1; k < TL_CHAT_KIND_COUNT; k++)
        if (strlen(names[k]) == len && memcmp(names[k], tmpl, len) == 0)
            return k;
    for (size_t i = 0; i < sizeof other_names / sizeof other_names[0]; i++)
        if (strlen(other_names[i]) == len && memcmp(other_names[i], tmpl, len) == 0)
            return TL_CHAT_UNKNOWN;

    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>") || has(t, "<end_of_utterance>"))
            return TL_CHAT_UNKNOWN; // Phi 4, SmolVLM: not ChatML despite the marker
        return TL_CHAT_CHATML;
    }
    if ((len >= 7 && memcmp(tmpl, "mistral", 7) == 0) || has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]"))
            return TL_CHAT_MISTRAL_V7;
        if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            if (has(t, " [INST]"))
                return TL_CHAT_MISTRAL_V1;
            if (has(t, "\"[INST]\""))
                return TL_CHAT_MISTRAL_V3_TEKKEN;
            return TL_CHAT_MISTRAL_V3;
        }
        if (has(t, "content.strip()"))
            return TL_CHAT_LLAMA2_SYS_STRIP;
        if (has(t, "bos_token + '[INST]"))
            return TL_CHAT_LLAMA2_SYS_BOS;
        if (has(t, "<<SYS>>"))
            return TL_CHAT_LLAMA2_SYS;
        return TL_CHAT_LLAMA2;
    }
    if (has(t, "<|assistant|>") && has(t, "<|end|>"))
        return TL_CHAT_PHI3;
    if (has(t, "[gMASK]<sop>"))
        return TL_CHAT_UNKNOWN; // ChatGLM 4
    if (has(t, "<|assistant|>") && has(t, "<|user|>"))
        return TL_CHAT_UNKNOWN; // Falcon 3, GLM-Edge
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>"))
        return TL_CHAT_UNKNOWN; // GLM-Edge
    if (has(t, "<|user|>") && has(t, "<|endoftext|>"))
        return TL_CHAT_ZEPHYR;
    if (has(t, "bos_token + message['role']"))
        return TL_CHAT_UNKNOWN; // Monarch
    if (has(t, "<start_of_turn>"))
        return TL_CHAT_GEMMA;
    if (has(t, "'\\n\\nAssistant: ' + eos_token") || has(t, "GPT4 Correct ") ||
        (has(t, "USER: ") && has(t, "ASSISTANT: ")) ||
        (has(t, "### Instruction:") && has(t, "<|EOT|>")) ||
        (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")))
        return TL_CHAT_UNKNOWN; // Orion, OpenChat, Vicuna, DeepSeek Coder, Command R
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
        return TL_CHAT_LLAMA3;
    /* Every later check in llama.cpp names a family we do not render. */
    return TL_CHAT_UNKNOWN;
}

/* ---- rendering ------------------------------------------------------------------ */

struct sb {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(struct sb *b, const char *s)
{
    put(b, s, strlen(s));
}

/* llama.cpp's trim: ASCII whitespace off both ends. */
static void put_trim(struct sb *b, const char *s)
{
    size_t i = 0, j = strlen(s);
    while (i < j && isspace((unsigned char)s[i]))
        i++;
    while (j > i && isspace((unsigned char)s[j - 1]))
        j--;
    put(b, s + i, j - i);
}

static void put_maybe_trim(struct sb *b, const char *s, bool trim)
{
    if (trim)
        put_trim(b, s);
    else
        puts_(b, s);
}

static void render(int kind, const tl_llm_chat_msg *m, size_t n, bool add_ass, struct sb *b)
{
    switch (kind) {
    case TL_CHAT_CHATML:
        for (size_t i = 0; i < n; i++) {
            puts_(b, "<|im_start|>");
            puts_(b, m[i].role);
            puts_(b, "\n");
            puts_(b, m[i].content);
            puts_(b, "<|im_end|>\n");
        }
        if (add_ass)
            puts_(b, "<|im_start|>assistant\n");
        break;
    case TL_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            puts_(b, "<|start_header_id|>");
            puts_(b, m[i].role);
            puts_(b, "<|end_header_id|>\n\n");
            put_trim(b, m[i].content);
            puts_(b, "<|eot_id|>");
        }
        if (add_ass)
            puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case TL_CHAT_LLAMA2:
    case TL_CHAT_LLAMA2_SYS:
    case TL_CHAT_LLAMA2_SYS_BOS:
    case TL_CHAT_LLAMA2_SYS_STRIP: {
        bool sys = kind != TL_CHAT_LLAMA2, bos = kind == TL_CHAT_LLAMA2_SYS_BOS,
             strip = kind == TL_CHAT_LLAMA2_SYS_STRIP;
        /* The first [INST] opens without "<s>": the tokenizer's BOS is it. */
        bool inside = true;
        puts_(b, "[INST] ");
        for (size_t i = 0; i < n; i++) {
            if (!inside) {
                inside = true;
                puts_(b, bos ? "<s>[INST] " : "[INST] ");
            }
            if (strcmp(m[i].role, "system") == 0) {
                if (sys) {
                    puts_(b, "<<SYS>>\n");
                    put_maybe_trim(b, m[i].content, strip);
                    puts_(b, "\n<</SYS>>\n\n");
                } else {
                    /* No system slot: it leads the first instruction. */
                    put_maybe_trim(b, m[i].content, strip);
                    puts_(b, "\n");
                }
            } else if (strcmp(m[i].role, "user") == 0) {
                put_maybe_trim(b, m[i].content, strip);
                puts_(b, " [/INST]");
            } else {
                put_maybe_trim(b, m[i].content, strip);
                puts_(b, "</s>");
                inside = false;
            }
        }
        break; // the answer follows [/INST] directly: no generation prompt
    }
    case TL_CHAT_MISTRAL_V1:
    case TL_CHAT_MISTRAL_V3:
    case TL_CHAT_MISTRAL_V3_TEKKEN: {
        const char *lead = kind == TL_CHAT_MISTRAL_V1 ? " " : "";
        const char *trail = kind == TL_CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
        bool trim_answer = kind == TL_CHAT_MISTRAL_V3;
        bool inside = false;
        for (size_t i = 0; i < n; i++) {
            if (!inside) {
                puts_(b, lead);
                puts_(b, "[INST]");
                puts_(b, trail);
                inside = true;
            }
            if (strcmp(m[i].role, "system") == 0) {
                puts_(b, m[i].content);
                puts_(b, "\n\n");
            } else if (strcmp(m[i].role, "user") == 0) {
                puts_(b, m[i].content);
                puts_(b, lead);
                puts_(b, "[/INST]");
            } else {
                puts_(b, trail);
                put_maybe_trim(b, m[i].content, trim_answer);
                puts_(b, "</s>");
                inside = false;
            }
        }
        break;
    }
    case TL_CHAT_MISTRAL_V7:
    case TL_CHAT_MISTRAL_V7_TEKKEN: {
        const char *sp = kind == TL_CHAT_MISTRAL_V7 ? " " : "";
        for (size_t i = 0; i < n; i++) {
            if (strcmp(m[i].role, "system") == 0) {
                puts_(b, "[SYSTEM_PROMPT]");
                puts_(b, sp);
                puts_(b, m[i].content);
                puts_(b, "[/SYSTEM_PROMPT]");
            } else if (strcmp(m[i].role, "user") == 0) {
                puts_(b, "[INST]");
                puts_(b, sp);
                puts_(b, m[i].content);
                puts_(b, "[/INST]");
            } else {
                puts_(b, sp);
                puts_(b, m[i].content);
                puts_(b, "</s>");
            }
        }
        break;
    }
    case TL_CHAT_PHI3:
    case TL_CHAT_ZEPHYR:
        for (size_t i = 0; i < n; i++) {
            puts_(b, "<|");
            puts_(b, m[i].role);
            puts_(b, "|>\n");
            puts_(b, m[i].content);
            puts_(b, kind == TL_CHAT_PHI3 ? "<|end|>\n" : "<|endoftext|>\n");
        }
        if (add_ass)
            puts_(b, "<|assistant|>\n");
        break;
    case TL_CHAT_GEMMA: {
        /* No system role: it is trimmed and merged into the next user turn. */
        struct sb sys = {0};
        for (size_t i = 0; i < n; i++) {
            if (strcmp(m[i].role, "system") == 0) {
                put_trim(&sys, m[i].content);
                continue;
            }
            bool model = strcmp(m[i].role, "assistant") == 0;
            puts_(b, "<start_of_turn>");
            puts_(b, model ? "model" : m[i].role);
            puts_(b, "\n");
            if (sys.n > 0 && !model) {
                put(b, sys.p, sys.n);
                puts_(b, "\n\n");
                sys.n = 0;
            }
            put_trim(b, m[i].content);
            puts_(b, "<end_of_turn>\n");
        }
        if (sys.oom)
            b->oom = true;
        free(sys.p);
        if (add_ass)
            puts_(b, "<start_of_turn>model\n");
        break;
    }
    default:
        break;
    }
}

int tl_llm_chat_apply(int kind, const tl_llm_chat_msg *msgs, size_t n, bool add_generation_prompt,
                      char **out, size_t *len, tl_err *err)
{
    if (kind == TL_CHAT_UNKNOWN)
        return tl_err_set(err, TL_EUNSUPPORTED,
                          "the model's chat template is not one Teller renders (chatml, llama3, "
                          "llama2, mistral, phi3, zephyr, gemma): choose one with --chat-template");
    if (kind < 0 || kind >= TL_CHAT_KIND_COUNT)
        return tl_err_set(err, TL_EINVAL, "chat template kind %d is out of range", kind);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return tl_err_set(err, TL_EINVAL, "chat message %zu has no %s", i,
                              msgs[i].role ? "content" : "role");
    struct sb b = {0};
    put(&b, "", 0); // an empty conversation still gives a string
    render(kind, msgs, n, add_generation_prompt, &b);
    if (b.oom) {
        free(b.p);
        return tl_err_set(err, TL_ENOMEM, "chat template: out of memory");
    }
    *out = b.p;
    *len = b.n;
    return 0;
}

const char *const *tl_llm_chat_stops(int kind)
{
    static const char *const none[] = {NULL};
    static const char *const chatml[] = {"<|im_end|>", "<|im_start|>", NULL};
    static const char *const llama3[] = {"<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>",
                                         NULL};
    static const char *const inst[] = {"</s>", "[INST]", NULL};
    static const char *const phi3[] = {"<|end|>", "<|endoftext|>", "<|user|>", NULL};
    static const char *const zephyr[] = {"<|endoftext|>", "</s>", "<|user|>", NULL};
    static const char *const gemma[] = {"<end_of_turn>", "<start_of_turn>", NULL};
    switch (kind) {
    case TL_CHAT_CHATML:
        return chatml;
    case TL_CHAT_LLAMA3:
        return llama3;
    case TL_CHAT_LLAMA2:
    case TL_CHAT_LLAMA2_SYS:
    case TL_CHAT_LLAMA2_SYS_BOS:
    case TL_CHAT_LLAMA2_SYS_STRIP:
    case TL_CHAT_MISTRAL_V1:
    case TL_CHAT_MISTRAL_V3:
    case TL_CHAT_MISTRAL_V3_TEKKEN:
    case TL_CHAT_MISTRAL_V7:
    case TL_CHAT_MISTRAL_V7_TEKKEN:
        return inst;
    case TL_CHAT_PHI3:
        return phi3;
    case TL_CHAT_ZEPHYR:
        return zephyr;
    case TL_CHAT_GEMMA:
        return gemma;
    default:
        return none;
    }
}
