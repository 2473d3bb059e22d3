#!/usr/bin/env bash
# docs/openapi.yaml and the route table (`teller serve --print-routes
# --json`) agree both ways: the same paths and methods, and for each
# operation the same summary, roles (x-roles), customer scoping
# (x-customer-scoped), public-ness (security: []), query and path parameters
# and request body schema. With PyYAML missing, a small indentation parser
# checks paths, methods, summaries, roles and public-ness.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

python3 - "$TELLER_SRC/docs/openapi.yaml" <<'PY'
import re, sys
from http_client import Checks, routes

t = Checks()
table = {(r["method"].lower(), r["path"]): r for r in routes()}
text = open(sys.argv[1], encoding="utf-8").read()

try:
    import yaml
    doc = yaml.safe_load(text)
    full = True
except ImportError:
    full = False
    # The subset this document uses: "  /path:" under "paths:", "    get:",
    # and "      key: value" lines of an operation.
    doc, path, op, in_paths = {"paths": {}}, None, None, False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_paths = line.startswith("paths:")
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = doc["paths"].setdefault(m.group(1), {})
            continue
        m = re.match(r"^    (get|post|put|delete|patch):\s*$", line)
        if m and path is not None:
            op = path.setdefault(m.group(1), {})
            continue
        m = re.match(r"^      ([\w-]+):\s*(.*)$", line)
        if m and op is not None:
            k, v = m.group(1), m.group(2).strip()
            if k == "x-roles":
                op[k] = [x.strip() for x in v.strip("[]").split(",") if x.strip()]
            elif k == "security" and v == "[]":
                op[k] = []
            elif k == "x-customer-scoped":
                op[k] = v == "true"
            elif k == "summary":
                op[k] = v.strip('"')
            elif k == "requestBody":
                op[k] = {}
    print("PyYAML is not installed: checking paths, methods, summaries and roles only")


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


ops = {}
for path, item in doc["paths"].items():
    for method, op in item.items():
        if method in ("get", "post", "put", "delete", "patch"):
            ops[(method, path)] = op

for key in sorted(table):
    t.check("route %s %s is in openapi.yaml" % (key[0].upper(), key[1]), key in ops)
for key in sorted(ops):
    t.check("openapi %s %s is in the route table" % (key[0].upper(), key[1]), key in table)

for key in sorted(set(table) & set(ops)):
    r, op = table[key], ops[key]
    name = "%s %s" % (key[0].upper(), key[1])
    t.check(name + ": same summary", op.get("summary") == r["summary"], (op.get("summary"), r["summary"]))
    t.check(name + ": same roles", sorted(op.get("x-roles", ["?"])) == sorted(r["roles"]),
            (op.get("x-roles"), r["roles"]))
    t.check(name + ": public exactly when the table says", (op.get("security") == []) == r["public"])
    if not r["public"]:
        t.check(name + ": same customer scoping", op.get("x-customer-scoped") == r["customer_scoped"])
    t.check(name + ": a request body exactly when the table has a schema",
            ("requestBody" in op) == (r["schema"] is not None))
    if not full:
        continue
    params = [resolve(p) for p in op.get("parameters", [])]
    query = sorted(p["name"] for p in params if p["in"] == "query")
    t.check(name + ": same query parameters", query == sorted(r["query"]), (query, r["query"]))
    in_path = sorted(p["name"] for p in params if p["in"] == "path")
    t.check(name + ": path parameters match the path", in_path == sorted(re.findall(r"\{(\w+)\}", key[1])), in_path)
    if r["schema"]:
        refs = {c["schema"].get("$ref") for c in op["requestBody"]["content"].values()}
        t.check(name + ": body schema " + r["schema"], refs == {"#/components/schemas/" + r["schema"]}, refs)
        t.check(name + ": the schema exists", r["schema"] in doc["components"]["schemas"])
    if not r["public"]:
        codes = set(op["responses"])
        t.check(name + ": documents 401 and 429", {"401", "429"} <= codes, codes)
        if len(r["roles"]) < 4:
            t.check(name + ": documents 403", "403" in codes, codes)
        if r["customer_scoped"]:
            t.check(name + ": documents 404", "404" in codes, codes)
t.finish()
PY
