#!/usr/bin/env python3
"""Shared helpers of the HTTP integration tests (http_*.sh), standard library
only: start the real `teller serve` on a free loopback port, make requests,
check results the way lib.sh does (ok/FAIL lines), stop the server.

Imported by the tests' inline Python (sys.path gets this directory):

    from http_client import Server, Checks, key
    srv = Server(store, log=work + "/server.log")
    r = srv.request("GET", "/v1/customers/C1", token=analyst)
    t.check("customer read", r.status == 200 and r.json["id"] == "C1", r)
    srv.stop()
"""
import atexit
import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

TELLER = os.environ.get("TELLER_BIN", "teller")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def error(self):
        """The {"error":{...}} member, or {}."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"]
        return {}

    def __repr__(self):
        return "HTTP %s %s" % (self.status, self.body[:300])


class Server:
    """`teller serve` on 127.0.0.1 with port 0: the port is read back from the
    line the server prints once it listens, so there is no race for it."""

    def __init__(self, store, env=None, args=(), log=None):
        e = dict(os.environ)
        e.update(env or {})
        if log is None and os.environ.get("TELLER_TEST_LOGS"):
            # kept for tests/logscan.sh, which searches every log for PII
            os.makedirs(os.environ["TELLER_TEST_LOGS"], exist_ok=True)
            log = os.path.join(os.environ["TELLER_TEST_LOGS"],
                               "server-%d-%d.log" % (os.getpid(), id(self)))
        self.log_path = log
        self.log = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [TELLER, "serve", "--store", store, "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=self.log, env=e)
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.proc.wait(timeout=30)
            raise RuntimeError("teller serve did not start (exit %s): %r; log %s"
                               % (self.proc.returncode, line, log))
        self.port = int(line.strip().rsplit(":", 1)[1])
        atexit.register(self._reap)  # a test that dies mid-way leaves no server behind

    def _reap(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, token=None, body=None, headers=None, timeout=30,
                conn=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        c = conn or self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read().decode("utf-8", "replace")
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if conn is None:
                c.close()

    def raw(self, data, timeout=10, read_until_close=True):
        """Sends raw bytes on a fresh connection; returns what came back."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                out += chunk
                if not read_until_close and b"\r\n\r\n" in out:
                    break
            return out
        finally:
            s.close()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server and waits; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self.log is not subprocess.DEVNULL:
            self.log.close()
        self.proc.stdout.close()
        return rc


class Checks:
    """ok/FAIL lines like lib.sh's check; finish() exits 1 on any failure."""

    def __init__(self, prefix=""):
        self.prefix = prefix
        self.passed = 0
        self.failed = 0

    def check(self, what, cond, detail=None):
        if cond:
            self.passed += 1
            print("ok   %s%s" % (self.prefix, what))
        else:
            self.failed += 1
            print("FAIL %s%s%s" % (self.prefix, what, "   (%r)" % (detail,) if detail is not None else ""))
        sys.stdout.flush()
        return cond

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def key(store, role, customer=None, name=None):
    """A new API key from `teller keys create --json`."""
    cmd = [TELLER, "keys", "create", "--json", "--store", store, "--role", role]
    if customer:
        cmd += ["--customer", customer]
    if name:
        cmd += ["--name", name]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return json.loads(out)["key"]


def checksum(store):
    return subprocess.run([TELLER, "stats", "--checksum", "--store", store], check=True,
                          capture_output=True).stdout.decode().strip()


def audit_entries(store, customer=None, limit=1000):
    cmd = [TELLER, "audit", "log", "--json", "--store", store, "--limit", str(limit)]
    if customer:
        cmd += ["--customer", customer]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return json.loads(out)["entries"]


def routes():
    """The route table, from `teller serve --print-routes --json`."""
    out = subprocess.run([TELLER, "serve", "--print-routes", "--json"], check=True,
                         capture_output=True).stdout
    return json.loads(out)


def rsa_key(directory, kid):
    """An RSA-2048 key pair for a test identity provider: (private PEM path,
    public PEM path named KID.pem as auth.jwt_keys wants)."""
    priv = os.path.join(directory, kid + ".key")
    pub = os.path.join(directory, kid + ".pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return priv, pub


def jwt(priv, kid, claims):
    """An RS256 JWT signed with openssl, as the bank's identity provider would."""
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    signing = head + b"." + body
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", priv], input=signing, check=True,
                         capture_output=True).stdout
    return (signing + b"." + b64(sig)).decode()
