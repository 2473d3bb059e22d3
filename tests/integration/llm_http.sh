#!/usr/bin/env bash
# OpenAI-compatible LLM serving through the real `teller serve`: the embedded
# backend on stories260K (GET /v1/models, POST /v1/chat/completions whole and
# streamed as server-sent events ending in [DONE], POST /v1/completions
# matching llama2.c's greedy reference), bad requests answering 400 naming
# the field, 401 without a key, the journal rows (model, digest, counts, never
# the text); a server without an LLM answering 503; then a second server with
# the remote backend pointed at the first (its API key in a file), whose
# answers, whole and streamed, equal the first server's own greedy answers.
# Skips visibly without $TELLER_SHARED/models/stories260K.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

SHARED=${TELLER_SHARED:-$TELLER_SRC/../shared}
MODEL="$SHARED/models/stories260K/stories260K.gguf"
if [ ! -r "$MODEL" ]; then
  echo "SKIP llm_http: $MODEL not found (set TELLER_SHARED)"
  exit 0
fi

store1="sqlite:$WORK/llm1.db"
store2="sqlite:$WORK/llm2.db"
teller init --store "$store1" >/dev/null 2>>"$WORK/init.log"
teller init --store "$store2" >/dev/null 2>>"$WORK/init.log"
load_mini "$store1"

rc=0
python3 - "$store1" "$store2" "$WORK" "$MODEL" <<'PY' || rc=1
import json, os, sys
from http_client import Server, Checks, key, audit_entries

store1, store2, work, model = sys.argv[1:5]
t = Checks()
ref = json.load(open(os.path.join(os.path.dirname(model), "expected_greedy.json")))
lily = [c for c in ref["cases"] if c["prompt"] == "Lily went to the park"][0]["text"]

# ---- without an LLM: 503
srv0 = Server(store1, log=os.path.join(work, "server-none.log"),
              env={"TELLER_SERVER_RATE_LIMIT": "0"})
analyst = key(store1, "analyst")
r = srv0.request("GET", "/v1/models", token=analyst)
t.check("llm.backend none: /v1/models is 503 no LLM configured",
        r.status == 503 and "no LLM configured" in r.error().get("message", ""), r)
r = srv0.request("POST", "/v1/chat/completions", token=analyst,
                 body={"messages": [{"role": "user", "content": "hi"}]})
t.check("llm.backend none: chat is 503", r.status == 503, r)
t.check("the server stops cleanly", srv0.stop() == 0)

# ---- the embedded backend
env1 = {"TELLER_SERVER_RATE_LIMIT": "0", "TELLER_LLM_BACKEND": "embedded",
        "TELLER_LLM_MODEL": model, "TELLER_LLM_SESSIONS": "2", "TELLER_LLM_THREADS": "1",
        "TELLER_LOG_LEVEL": "info"}
log1 = os.path.join(work, "server-embedded.log")
srv = Server(store1, log=log1, env=env1)
service = key(store1, "service")
cust = key(store1, "customer", customer="C1")
admin = key(store1, "admin")

r = srv.request("GET", "/v1/models", token=analyst)
t.check("/v1/models lists the model", r.status == 200 and r.json["object"] == "list" and
        r.json["data"][0]["id"] == "stories260K.gguf" and r.json["data"][0]["object"] == "model" and
        r.json["data"][0]["owned_by"] == "teller", r)
r = srv.request("GET", "/v1/models", token=admin)
t.check("/v1/models for any authenticated role", r.status == 200, r)
r = srv.request("GET", "/v1/models")
t.check("no key: 401", r.status == 401, r)
r = srv.request("POST", "/v1/chat/completions", body={"messages": [{"role": "user", "content": "x"}]})
t.check("chat without a key: 401", r.status == 401, r)
r = srv.request("POST", "/v1/chat/completions", token=admin,
                body={"messages": [{"role": "user", "content": "x"}]})
t.check("chat with an admin key: 403", r.status == 403, r)

chat = {"model": "stories260K.gguf", "temperature": 0, "max_tokens": 40,
        "messages": [{"role": "system", "content": "You tell stories to children."},
                     {"role": "user", "content": "Tell me about Lily and her ball."}]}
r = srv.request("POST", "/v1/chat/completions", token=service, body=chat)
ok = r.status == 200 and r.json["object"] == "chat.completion"
t.check("chat: 200 chat.completion", ok, r)
if ok:
    c = r.json["choices"][0]
    u = r.json["usage"]
    t.check("chat: one assistant message with text", c["index"] == 0 and
            c["message"]["role"] == "assistant" and len(c["message"]["content"]) > 0, r)
    t.check("chat: finish_reason and usage", c["finish_reason"] in ("stop", "length") and
            u["prompt_tokens"] > 10 and 1 <= u["completion_tokens"] <= 40 and
            u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], r)
    t.check("chat: id, created, model", r.json["id"].startswith("chatcmpl-") and
            isinstance(r.json["created"], int) and r.json["model"] == "stories260K.gguf", r)
    greedy = c["message"]["content"]
else:
    greedy = None
r2 = srv.request("POST", "/v1/chat/completions", token=analyst, body=chat)
t.check("chat: greedy answers repeat exactly", r2.status == 200 and
        r2.json["choices"][0]["message"]["content"] == greedy, r2)


def sse(resp):
    """The data payloads of an event stream, checking its framing."""
    assert resp.body.endswith("\n\n"), "the stream ends with a blank line"
    events = resp.body.split("\n\n")[:-1]
    out = []
    for e in events:
        assert e.startswith("data: ") and "\n" not in e, "one data line per event: %r" % e
        out.append(e[6:])
    return out


body = dict(chat, stream=True, stream_options={"include_usage": True})
r = srv.request("POST", "/v1/chat/completions", token=service, body=body)
t.check("stream: 200 text/event-stream", r.status == 200 and
        (r.header("content-type") or "").startswith("text/event-stream"), r)
try:
    data = sse(r)
    t.check("stream: ends with data: [DONE]", data[-1] == "[DONE]", data[-3:])
    chunks = [json.loads(d) for d in data[:-1]]
    t.check("stream: every chunk is a chat.completion.chunk of one id",
            all(c["object"] == "chat.completion.chunk" for c in chunks) and
            len({c["id"] for c in chunks}) == 1, chunks[:2])
    t.check("stream: the first delta names the assistant",
            chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[0])
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    t.check("stream: the pieces make the same greedy text", text == greedy, (text, greedy))
    t.check("stream: more than one piece", sum(1 for c in chunks if c["choices"] and
                                               c["choices"][0]["delta"].get("content")) > 3)
    fin = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    t.check("stream: one last chunk with the finish reason",
            len(fin) == 1 and fin[0]["choices"][0]["finish_reason"] in ("stop", "length"), fin)
    t.check("stream: a usage chunk last", chunks[-1]["choices"] == [] and
            chunks[-1]["usage"]["completion_tokens"] >= 1, chunks[-1])
except (AssertionError, ValueError, KeyError, IndexError) as e:
    t.check("stream: well-formed server-sent events (%s)" % e, False, r.body[:300])

r = srv.request("POST", "/v1/completions", token=analyst,
                body={"prompt": "Lily went to the park", "temperature": 0, "max_tokens": 40})
ok = r.status == 200 and r.json["object"] == "text_completion"
t.check("completions: 200 text_completion", ok, r)
if ok:
    text = r.json["choices"][0]["text"]
    t.check("completions: greedy continuation equals llama2.c's reference",
            len(text) > 20 and lily.startswith("Lily went to the park" + text), (text, lily[:200]))
    t.check("completions: 40 tokens, finish length", r.json["usage"]["completion_tokens"] == 40 and
            r.json["choices"][0]["finish_reason"] == "length", r)
r = srv.request("POST", "/v1/completions", token=analyst,
                body={"prompt": "Lily went to the park", "temperature": 0, "max_tokens": 40,
                      "stop": ["mom"]})
t.check("completions: a stop string ends the text before it",
        r.status == 200 and r.json["choices"][0]["text"] == " with her " and
        r.json["choices"][0]["finish_reason"] == "stop", r)
r = srv.request("POST", "/v1/completions", token=analyst,
                body={"prompt": "Lily went to the park", "temperature": 0, "max_tokens": 12,
                      "stream": True})
try:
    data = sse(r)
    text = "".join(json.loads(d)["choices"][0]["text"] for d in data[:-1])
    t.check("completions: streamed, the same text, then [DONE]",
            data[-1] == "[DONE]" and lily.startswith("Lily went to the park" + text) and len(text) > 5,
            data[-3:])
except (AssertionError, ValueError, KeyError, IndexError) as e:
    t.check("completions: well-formed stream (%s)" % e, False, r.body[:300])

r = srv.request("POST", "/v1/chat/completions", token=cust, body=chat)
t.check("chat with a customer key: the same greedy answer", r.status == 200 and
        r.json["choices"][0]["message"]["content"] == greedy, r)

# sampling with a seed repeats
samp = dict(chat, temperature=0.9, top_p=0.9, top_k=40, seed=7)
a = srv.request("POST", "/v1/chat/completions", token=service, body=samp)
b = srv.request("POST", "/v1/chat/completions", token=service, body=samp)
t.check("sampling with a seed repeats", a.status == 200 and b.status == 200 and
        a.json["choices"][0]["message"]["content"] == b.json["choices"][0]["message"]["content"], (a, b))

# ---- bad requests: 400 naming the field
M = [{"role": "user", "content": "hi"}]
bad = [
    ("not JSON", b"{not json", None),
    ("messages missing", {"model": "m"}, "messages"),
    ("messages empty", {"messages": []}, "messages"),
    ("messages not an array", {"messages": "hi"}, "messages"),
    ("a role that is not system/user/assistant", {"messages": [M[0], {"role": "tool", "content": "x"}]},
     "messages[1].role"),
    ("content not a string", {"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content"),
    ("content missing", {"messages": [{"role": "user"}]}, "messages[0].content"),
    ("max_tokens 0", {"messages": M, "max_tokens": 0}, "max_tokens"),
    ("max_tokens huge", {"messages": M, "max_tokens": 10**9}, "max_tokens"),
    ("max_tokens not an integer", {"messages": M, "max_tokens": "5"}, "max_tokens"),
    ("temperature negative", {"messages": M, "temperature": -0.5}, "temperature"),
    ("top_p above 1", {"messages": M, "top_p": 1.5}, "top_p"),
    ("stream not a bool", {"messages": M, "stream": "yes"}, "stream"),
    ("stop not strings", {"messages": M, "stop": [1]}, "stop"),
    ("five stop strings", {"messages": M, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ("n of 2", {"messages": M, "n": 2}, "n"),
    ("an unknown field", {"messages": M, "tools": []}, "tools"),
]
for what, b, field in bad:
    if isinstance(b, bytes):
        r = srv.request("POST", "/v1/chat/completions", token=service, body=b,
                        headers={"Content-Type": "application/json"})
    else:
        r = srv.request("POST", "/v1/chat/completions", token=service, body=b)
    t.check("400 for %s%s" % (what, ", naming " + field if field else ""),
            r.status == 400 and r.error().get("field") == field, r)
r = srv.request("POST", "/v1/completions", token=service, body={"prompt": 5})
t.check("completions: 400 for a prompt that is not a string", r.status == 400 and
        r.error().get("field") == "prompt", r)
r = srv.request("POST", "/v1/completions", token=service, body={"prompt": "park " * 5000})
t.check("completions: a prompt over the context is 400 context_length_exceeded",
        r.status == 400 and r.error().get("code") == "context_length_exceeded", r)

# ---- the journal: a row per completion, no text
rows = [e for e in audit_entries(store1) if e.get("action") in ("llm.chat", "llm.complete")]
# 5 whole chats, 1 streamed; 3 completions (whole, stopped, streamed); refusals none
t.check("every completion is journaled, once (%d rows)" % len(rows), len(rows) == 9,
        [(e.get("action"), e.get("details")) for e in rows])
if rows:
    e = rows[0]
    t.check("a row names the model and a digest", e.get("model_version") == "stories260K.gguf" and
            len(e.get("inputs_digest") or "") == 64, e)
    blob = json.dumps(rows)
    t.check("no prompt or answer text in the journal", "Lily" not in blob and "ball" not in blob and
            (greedy is None or greedy[:20] not in blob), blob[:300])
    t.check("token counts in the details", '"completion_tokens"' in json.dumps(e), e)
    t.check("a customer's completion is journaled under the customer",
            any(x.get("customer_id") == "C1" and x.get("role") == "customer" for x in rows), rows[:3])
logtext = open(log1).read()
t.check("no prompt text in the server log", "Tell me about Lily" not in logtext)

# ---- the remote backend, pointed at the first server
keyfile = os.path.join(work, "remote.key")
with open(keyfile, "w") as f:
    f.write(service + "\n")
env2 = {"TELLER_SERVER_RATE_LIMIT": "0", "TELLER_LLM_BACKEND": "remote",
        "TELLER_LLM_REMOTE_URL": "http://127.0.0.1:%d/v1" % srv.port,
        "TELLER_LLM_REMOTE_KEY_FILE": keyfile, "TELLER_LOG_LEVEL": "info"}
log2 = os.path.join(work, "server-remote.log")
srv2 = Server(store2, log=log2, env=env2)
analyst2 = key(store2, "analyst")
r = srv2.request("POST", "/v1/chat/completions", token=analyst2, body=chat)
t.check("remote: chat through the second server gives the first server's greedy text",
        r.status == 200 and r.json["choices"][0]["message"]["content"] == greedy and
        r.json["model"] == "stories260K.gguf" and r.json["usage"]["completion_tokens"] >= 1, r)
r = srv2.request("GET", "/v1/models", token=analyst2)
t.check("remote: the model name was discovered from the first server",
        r.status == 200 and r.json["data"][0]["id"] == "stories260K.gguf", r)
r = srv2.request("POST", "/v1/chat/completions", token=analyst2,
                 body=dict(chat, stream=True, stream_options={"include_usage": True}))
try:
    data = sse(r)
    chunks = [json.loads(d) for d in data[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    t.check("remote: streamed through, the same text and [DONE]",
            data[-1] == "[DONE]" and text == greedy and chunks[-1]["usage"]["prompt_tokens"] > 10,
            (text, greedy))
except (AssertionError, ValueError, KeyError, IndexError) as e:
    t.check("remote: well-formed stream (%s)" % e, False, r.body[:300])
r = srv2.request("POST", "/v1/completions", token=analyst2,
                 body={"prompt": "Lily went to the park", "temperature": 0, "max_tokens": 40})
t.check("remote: completions equal llama2.c's reference", r.status == 200 and
        lily.startswith("Lily went to the park" + r.json["choices"][0]["text"]), r)
t.check("remote: the API key is not in its log", service not in open(log2).read())
rows2 = [e for e in audit_entries(store2) if e.get("action") == "llm.chat"]
t.check("remote: the second server journals its completions too", len(rows2) >= 2, len(rows2))

# the first server gone: 502 naming nothing internal, details in the log
t.check("the first server stops cleanly", srv.stop() == 0)
r = srv2.request("POST", "/v1/chat/completions", token=analyst2, body=chat)
t.check("remote down: 502 upstream", r.status == 502 and r.error().get("code") == "upstream", r)
t.check("remote down: the log names the URL", "could not be reached" in open(log2).read())
t.check("the second server stops cleanly", srv2.stop() == 0)
t.finish()
PY
check "LLM serving over HTTP" test $rc -eq 0
finish
