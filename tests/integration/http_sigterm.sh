#!/usr/bin/env bash
# needs: postgres
# SIGTERM under load: clients post small unique ingests (and read customers)
# concurrently; the server gets SIGTERM mid-way. It must exit 0 after
# letting what was in flight finish, and after a restart every ingest that
# was acknowledged with a 2xx is fully present (with its audit row), and no
# ingest is present in part.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

rc=0
for store in $(stores); do
  load_mini "$store"
  tag=${store%%:*}
  python3 - "$store" "$WORK" "$tag" <<'PY' || rc=1
import os, sys, threading, time
from http_client import Server, Checks, key, audit_entries

store, work, tag = sys.argv[1:4]
t = Checks(tag + ": ")
service, analyst = key(store, "service"), key(store, "analyst")
log = os.path.join(work, "sigterm-%s.log" % tag)
env = {"TELLER_SERVER_RATE_LIMIT": "0"}
srv = Server(store, log=log, env=env)

N_REQ, ROWS = 240, 5
HEADER = "id,account_id,ts,amount,currency,kind\n"


def body(i):
    return HEADER + "".join("S%04d-%d,A%d,2026-10-%02dT10:%02d:00Z,-%d.%02d,EUR,card\n"
                            % (i, k, 1 + (i + k) % 4, 1 + i % 28, k, 1 + k, i % 100) for k in range(ROWS))


acked, answered, lock = set(), {}, threading.Lock()
next_req = [0]
stop_reads = threading.Event()


def writer():
    while True:
        with lock:
            i = next_req[0]
            next_req[0] += 1
        if i >= N_REQ:
            return
        try:
            r = srv.request("POST", "/v1/ingest/transactions", token=service, body=body(i),
                            headers={"Content-Type": "text/csv"}, timeout=60)
        except OSError:
            continue  # refused or cut: not acknowledged
        with lock:
            answered[i] = r.status
            if 200 <= r.status < 300:
                acked.add(i)


def reader():
    while not stop_reads.is_set():
        try:
            srv.request("GET", "/v1/customers/C1", token=analyst, timeout=60)
        except OSError:
            time.sleep(0.01)


threads = [threading.Thread(target=writer) for _ in range(12)] + [threading.Thread(target=reader) for _ in range(4)]
for th in threads:
    th.start()
deadline = time.time() + 60
while time.time() < deadline:
    with lock:
        if len(acked) >= N_REQ // 5:
            break
    time.sleep(0.01)
with lock:
    acked_before = len(acked)
rc = srv.stop()  # SIGTERM, then wait for the exit
stop_reads.set()
for th in threads:
    th.join()
t.check("SIGTERM with requests in flight: exit 0", rc == 0, rc)
t.check("some ingests were acknowledged before SIGTERM (%d) and some were not (%d of %d)"
        % (acked_before, N_REQ - len(acked), N_REQ), 0 < acked_before and len(acked) < N_REQ)
bad = {i: s for i, s in answered.items() if not (200 <= s < 300) and s != 503}
t.check("no answer other than 2xx or 503", not bad, bad)
text = open(log, encoding="utf-8").read()
t.check("the server drained and said so", "draining" in text and '"stopped"' in text, text[-500:])

srv = Server(store, log=log, env=env)
present = {}
for acct in ("A1", "A2", "A3", "A4"):
    cursor = None
    while True:
        q = "/v1/accounts/%s/transactions?limit=1000" % acct + ("&cursor=" + cursor if cursor else "")
        r = srv.request("GET", q, token=analyst)
        if r.status != 200:
            break
        for x in r.json["items"]:
            if x["id"].startswith("S"):
                i = int(x["id"][1:5])
                present[i] = present.get(i, 0) + 1
        cursor = r.json["next_cursor"]
        if not cursor:
            break
lost = sorted(i for i in acked if present.get(i, 0) != ROWS)
partial = sorted(i for i, n in present.items() if n != ROWS)
t.check("after restart every acknowledged ingest is there (%d acknowledged)" % len(acked), not lost, lost)
t.check("no ingest is there in part", not partial, partial)
audited = sum(1 for e in audit_entries(store, limit=100000) if e["action"] == "ingest")
t.check("every acknowledged ingest was audited", audited >= len(acked), (audited, len(acked)))
t.check("the restarted server stops cleanly", srv.stop() == 0)
t.finish()
PY
done
exit "$rc"
