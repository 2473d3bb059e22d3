/* test_llm_chat.c - chat templates (include/teller/llm_chat.h): the
 * templates and expected prompts of llama.cpp's tests/test-chat-template.cpp
 * (its conversation: a system prompt and five turns, one answer padded with
 * spaces), detected from the template text and rendered to the same bytes
 * llama_chat_apply_template gives. */
#include <criterion/criterion.h>
#include <string.h>

#include <teller/llm_chat.h>

static const tl_llm_chat_msg conv[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};
#define N_CONV (sizeof conv / sizeof conv[0])

static const struct {
    const char *name;
    const char *tmpl; // the model's template (a marker-bearing excerpt for the long ones)
    int kind;
    const char *expected;
} cases[] = {
    {"teknium/OpenHermes-2.5-Mistral-7B",
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
     "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
     "'<|im_start|>assistant\\n' }}{% endif %}",
     TL_CHAT_CHATML,
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>"
     "\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
     "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother "
     "question<|im_end|>\n<|im_start|>assistant\n"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (llama2, no system slot)",
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
     "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
     "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ "
     "'[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
     "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
     "roles are supported!') }}{% endif %}{% endfor %}",
     TL_CHAT_LLAMA2,
     "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I "
     "am an assistant   </s>[INST] Another question [/INST]"},
    {"TheBloke/FusionNet_34Bx2_MoE-AWQ (llama2, <<SYS>>, BOS inside)",
     "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' "
     "-%}\n{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' "
     "-}}\n{%- else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif "
     "messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + "
     "'\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + "
     "messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
     TL_CHAT_LLAMA2_SYS_BOS,
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] "
     "Who are you [/INST]   I am an assistant   </s><s>[INST] Another question [/INST]"},
    {"bofenghuang/vigogne-2-70b-chat (llama2, <<SYS>>, stripped)",
     "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] "
     "%}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = "
     "messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% "
     "if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
     "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
     "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
     "content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
     "content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
     TL_CHAT_LLAMA2_SYS_STRIP,
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] "
     "Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]"},
    {"google/gemma-7b-it",
     "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') "
     "}}{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set "
     "role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ "
     "'<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% "
     "endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
     TL_CHAT_GEMMA,
     "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model"
     "\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model"
     "\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n"
     "<start_of_turn>model\n"},
    {"Llama-3",
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
     "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
     "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% "
     "endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
     TL_CHAT_LLAMA3,
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful "
     "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_"
     "header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_"
     "header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am "
     "an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother "
     "question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Phi-3-mini",
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') "
     "%}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + "
     "'\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + "
     "'\n'}}{% endif %}{% endfor %}",
     TL_CHAT_PHI3,
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi "
     "there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   "
     "<|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (mistral 'v1' with a system prompt)",
     "{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message['role'] == 'user' "
     "%}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' "
     "+ system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n    "
     "        {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- "
     "elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + "
     "eos_token}}\n    {%- endif %}\n{%- endfor %}\n",
     TL_CHAT_MISTRAL_V1,
     " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you "
     "[/INST]    I am an assistant   </s> [INST] Another question [/INST]"},
    {"Mistral-Large-Instruct-2407 (mistral 'v3', excerpt)",
     "{%- if tools is not none and (message == user_messages[-1]) %}\n            {{- "
     "\"[AVAILABLE_TOOLS] [\" }}{%- if loop.last and system_message is defined %}\n            "
     "{{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}",
     TL_CHAT_MISTRAL_V3,
     "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I "
     "am an assistant</s>[INST] Another question[/INST]"},
    {"Mistral-Nemo-Instruct-2407 (mistral 'v3-tekken', excerpt)",
     "{{- \"[AVAILABLE_TOOLS][\" }}{%- if loop.last and system_message is defined %}\n{{- "
     "\"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}{%- else "
     "%}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}",
     TL_CHAT_MISTRAL_V3_TEKKEN,
     "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I "
     "am an assistant   </s>[INST]Another question[/INST]"},
    {"mistralai/Mistral-Large-Instruct-2411 (mistral 'v7')",
     "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' "
     "+ message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ "
     "'[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == "
     "'assistant' %}{{ ' ' + message['content'] + eos_token }}{% else %}{{ raise_exception('Only "
     "user, system and assistant roles are supported!') }}{% endif %}{% endfor %}",
     TL_CHAT_MISTRAL_V7,
     "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi "
     "there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another "
     "question[/INST]"},
    /* Not in llama.cpp's test list, expected text written by hand from its
     * rendering rule. llama.cpp calls a template Zephyr when it holds
     * "<|user|>" and "<|endoftext|>" but not also a literal "<|assistant|>"
     * (that is Falcon 3 or GLM-Edge), as in this one: */
    {"zephyr (role tags built from the role)",
     "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + "
     "message['content'] + '<|endoftext|>' + '\n' }}{% else %}{{ '<|' + message['role'] + "
     "'|>\n' + message['content'] + '<|endoftext|>' + '\n' }}{% endif %}{% endfor %}",
     TL_CHAT_ZEPHYR,
     "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n"
     "<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n"
     "   I am an assistant   <|endoftext|>\n<|user|>\nAnother question<|endoftext|>\n"
     "<|assistant|>\n"},
};

Test(chat, llama_cpp_expectations)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int kind = tl_llm_chat_detect(cases[i].tmpl, strlen(cases[i].tmpl));
        cr_assert_eq(kind, cases[i].kind, "%s: detected %s, want %s", cases[i].name,
                     tl_llm_chat_name(kind), tl_llm_chat_name(cases[i].kind));
        char *out = NULL;
        size_t len = 0;
        tl_err err = {0};
        cr_assert_eq(tl_llm_chat_apply(kind, conv, N_CONV, true, &out, &len, &err), 0, "%s: %s",
                     cases[i].name, err.msg);
        cr_assert_eq(len, strlen(out));
        cr_assert_str_eq(out, cases[i].expected, "%s", cases[i].name);
        free(out);
        /* The family's name detects as itself and parses back. */
        const char *nm = tl_llm_chat_name(kind);
        cr_assert_eq(tl_llm_chat_detect(nm, strlen(nm)), kind, "%s", nm);
        int parsed = -1;
        cr_assert_eq(tl_llm_chat_parse(nm, &parsed, &err), 0);
        cr_assert_eq(parsed, kind);
    }
}

Test(chat, generation_prompt_is_optional)
{
    static const tl_llm_chat_msg two[] = {{"system", "Be brief."}, {"user", " Hi "}};
    tl_err err = {0};
    char *out;
    size_t len;
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_CHATML, two, 2, false, &out, &len, &err), 0);
    cr_assert_str_eq(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi "
                          "<|im_end|>\n");
    free(out);
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_LLAMA3, two, 2, false, &out, &len, &err), 0);
    cr_assert_str_eq(out, "<|start_header_id|>system<|end_header_id|>\n\nBe "
                          "brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    free(out);
    /* Llama 2 has no assistant opening: the answer follows [/INST]. */
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_LLAMA2_SYS, two, 2, true, &out, &len, &err), 0);
    cr_assert_str_eq(out, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi  [/INST]");
    free(out);
    /* An empty conversation is an empty string (or just the opening). */
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_CHATML, NULL, 0, true, &out, &len, &err), 0);
    cr_assert_str_eq(out, "<|im_start|>assistant\n");
    free(out);
}

Test(chat, detection_defaults_and_unknowns)
{
    /* No template: llama.cpp's default, ChatML. */
    cr_assert_eq(tl_llm_chat_detect(NULL, 0), TL_CHAT_CHATML);
    cr_assert_eq(tl_llm_chat_detect("", 0), TL_CHAT_CHATML);
    /* Unrecognized text, and families whose markers overlap ours but which
     * we do not render, are unknown rather than misread. */
    const char *unknown[] = {
        "INVALID TEMPLATE",
        "{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}", // Phi 4
        "<|im_start|>User:{{ message }}<end_of_utterance>",                     // SmolVLM
        "{{ '<|user|>\n' + content }}{{ '<|assistant|>\n' }}{{ eos_token }}</s>", // Falcon 3
        "[gMASK]<sop>{% for item in messages %}<|{{ item['role'] }}|>",          // ChatGLM 4
        "{% for m in messages %}GPT4 Correct {{ m['role'] }}",                   // OpenChat
        "deepseek3",                                                               // by name
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        cr_assert_eq(tl_llm_chat_detect(unknown[i], strlen(unknown[i])), TL_CHAT_UNKNOWN, "%s",
                     unknown[i]);
    /* Detection reads only len bytes. */
    const char *t = "<|im_start|>xxxx";
    cr_assert_eq(tl_llm_chat_detect(t, 5), TL_CHAT_UNKNOWN);
    cr_assert_eq(tl_llm_chat_detect(t, 12), TL_CHAT_CHATML);
    /* A template starting with "mistral" is one of the [INST] family. */
    cr_assert_eq(tl_llm_chat_detect("mistral-ish", 11), TL_CHAT_LLAMA2);
    /* Qwen2.5's template mentions tools but carries <|im_start|>. */
    const char *qwen = "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- endif %}";
    cr_assert_eq(tl_llm_chat_detect(qwen, strlen(qwen)), TL_CHAT_CHATML);

    tl_err err = {0};
    char *out = (char *)"untouched";
    size_t len = 0;
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_UNKNOWN, conv, N_CONV, true, &out, &len, &err),
                 TL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "--chat-template"), "%s", err.msg);
    cr_assert_str_eq(out, "untouched");
    cr_assert_eq(tl_llm_chat_apply(99, conv, N_CONV, true, &out, &len, &err), TL_EINVAL);
    static const tl_llm_chat_msg bad[] = {{"user", "hi"}, {"assistant", NULL}};
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_CHATML, bad, 2, true, &out, &len, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "message 1 has no content"), "%s", err.msg);
}

Test(chat, names_and_stops)
{
    tl_err err = {0};
    int k = -1;
    cr_assert_eq(tl_llm_chat_parse("llama3", &k, &err), 0);
    cr_assert_eq(k, TL_CHAT_LLAMA3);
    cr_assert_eq(tl_llm_chat_parse("mistral-v7-tekken", &k, &err), 0);
    cr_assert_eq(k, TL_CHAT_MISTRAL_V7_TEKKEN);
    cr_assert_eq(tl_llm_chat_parse("jinja", &k, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "\"jinja\"") && strstr(err.msg, "chatml"), "%s", err.msg);
    cr_assert_str_eq(tl_llm_chat_name(TL_CHAT_UNKNOWN), "unknown");
    cr_assert_str_eq(tl_llm_chat_name(-3), "unknown");
    for (int kind = 1; kind < TL_CHAT_KIND_COUNT; kind++) {
        const char *nm = tl_llm_chat_name(kind);
        cr_assert_neq(strcmp(nm, "unknown"), 0, "kind %d has no name", kind);
        cr_assert_eq(tl_llm_chat_parse(nm, &k, &err), 0);
        cr_assert_eq(k, kind);
        const char *const *stops = tl_llm_chat_stops(kind);
        cr_assert(stops && stops[0], "%s has no stop string", nm);
    }
    cr_assert_str_eq(tl_llm_chat_stops(TL_CHAT_CHATML)[0], "<|im_end|>");
    cr_assert_str_eq(tl_llm_chat_stops(TL_CHAT_LLAMA3)[0], "<|eot_id|>");
    cr_assert_str_eq(tl_llm_chat_stops(TL_CHAT_LLAMA2)[0], "</s>");
    cr_assert_eq(tl_llm_chat_stops(TL_CHAT_UNKNOWN)[0], NULL);

    /* mistral-v7-tekken, by name only: v7 without the spaces. */
    static const tl_llm_chat_msg two[] = {{"system", "S"}, {"user", "U"}, {"assistant", "A"}};
    char *out;
    size_t len;
    cr_assert_eq(tl_llm_chat_apply(TL_CHAT_MISTRAL_V7_TEKKEN, two, 3, true, &out, &len, &err), 0);
    cr_assert_str_eq(out, "[SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST]U[/INST]A</s>");
    free(out);
}
