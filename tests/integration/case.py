#!/usr/bin/env python3
"""Materializes one bad-input case file (tests/integration/bad/*.case).

A case is `key: value` lines (table, expect, format, generate), a `---` line,
then the file's bytes verbatim. `generate` names inputs too big or too
regular to commit. Prints table=, file=, expect= for the shell runner."""
import os
import sys

case, outdir = sys.argv[1], sys.argv[2]
raw = open(case, "rb").read()
head, _, body = raw.partition(b"---\n")
meta = dict(
    line.split(": ", 1) for line in head.decode().splitlines() if ": " in line
)
os.makedirs(outdir, exist_ok=True)
ext = "jsonl" if meta.get("format") == "jsonl" else "csv"
path = os.path.join(outdir, "bad." + ext)

HEADER = (b"id,account_id,ts,amount,currency,kind,channel,mcc,merchant_id,"
          b"terminal_id,country,description,is_fraud,fraud_scenario\n")
gen = meta.get("generate")
if gen == "bigfield":
    body = HEADER + (b"T101,A1,2026-10-05T10:00:00Z,-1.00,EUR,card,pos,5411,M1,TM1,DE,"
                     + b"x" * (10 << 20) + b",0,0\n")
elif gen == "bad-last-row":
    rows = [b"T%04d,A1,2026-10-05T10:%02d:00Z,-1.00,EUR,card,pos,5411,M1,TM1,DE,ok,0,0\n"
            % (i, i % 60) for i in range(999)]
    body = HEADER + b"".join(rows) + \
        b"T9999,A1,2026-10-05T11:00:00Z,-1.0x,EUR,card,pos,5411,M1,TM1,DE,ok,0,0\n"
with open(path, "wb") as f:
    f.write(body)
print("table=" + meta["table"])
print("file=" + path)
print("expect=" + meta.get("expect", ""))
