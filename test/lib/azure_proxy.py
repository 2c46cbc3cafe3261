#!/usr/bin/python3
"""Fault-injecting reverse proxy in front of Azurite (Azure Blob Storage).

Azurite is the real server of the Azure tests: it checks Shared Key and SAS
signatures and bearer tokens, and implements Delete Blob, Blob Batch, List
Blobs, Put Blob and leases.  It cannot be told to fail, so this proxy sits
between the code under test and Azurite and:

  * forwards every request unchanged (over https when Azurite serves https,
    which it requires for bearer tokens) and relays the answers;
  * injects faults on request: Azure error answers (503 ServerBusy with
    Retry-After, 500, 403, ...), a Blob Batch the server "does not
    support", closed connections, delays (a server that does not answer);
  * counts requests (by operation, method and authentication scheme, the
    most in flight at once, batch requests and their parts);
  * offers test set-up helpers that talk to Azurite directly with the
    account key: create a container, seed blobs, list them, take a lease,
    make an account SAS token.

Usage:
  /usr/bin/python3 azure_proxy.py --listen-port 0 --upstream https://127.0.0.1:PORT \\
      --account NAME --key BASE64KEY

Once listening it prints "READY <port>".

Control API (JSON bodies, never forwarded):
  POST /_control/fail     {"status": 503, "count": 3, "match": "...", "method": "DELETE",
                           "op": "delete|batch|list|put", "skip": 0, "code": "ServerBusy",
                           "message": "...", "retry_after": 1}
        The next `count` matching requests get that Azure error (status 0:
        the connection is closed without an answer).  A negative count
        never runs out.
  POST /_control/unsupported_batch {"count": -1}
        Blob Batch requests are answered as by a server without it: 400
        InvalidQueryParameterValue for comp=batch.
  POST /_control/delay    {"ms": N, "count": M, "match": "...", "method": ..., "op": ...}
  GET  /_control/stats    counters
  POST /_control/reset    clear rules and counters;  /_control/reset_stats: counters only
  POST /_test/container   {"name": "media"}
  POST /_test/seed        {"container": "media", "names": [...], "data": "..."}
  GET  /_test/objects?container=media&prefix=P   every blob name (JSON list)
  POST /_test/lease       {"container": "media", "name": "...", "action": "acquire|break"}
  POST /_test/sas         {"permissions": "rl", "hours": 2}   an account SAS token

"match" is a substring tested against the decoded path and, for a batch,
each sub-request line.  Only the Python 3 standard library is used.
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "expect", "host", "content-length"}
VERSION = "2021-08-06"
MESSAGES = {
    "ServerBusy": "The server is currently unable to receive requests. Please retry your request.",
    "InternalError": "The server encountered an internal error. Please retry the request.",
    "AuthorizationPermissionMismatch": "This request is not authorized to perform this operation using this permission.",
    "OperationTimedOut": "The operation could not be completed within the permitted time.",
}
CODES = {500: "InternalError", 503: "ServerBusy", 403: "AuthorizationPermissionMismatch",
         429: "ServerBusy", 408: "OperationTimedOut"}


def http_date():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


class State:
    def __init__(self, args):
        self.args = args
        self.key = base64.b64decode(args.key)
        self.lock = threading.Lock()
        self.rules = []
        self.reset_stats()
        up = urllib.parse.urlsplit(args.upstream)
        self.up_scheme, self.up_host, self.up_port = up.scheme, up.hostname, up.port
        self.local = threading.local()

    def reset_stats(self):
        self.stats = {"requests": 0, "by_op": {}, "by_method": {}, "by_auth": {},
                      "in_flight": 0, "max_concurrent": 0, "batch_requests": 0,
                      "batch_parts": 0, "injected": 0, "by_status": {}, "auth_failed": 0}

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            if self.up_scheme == "https":
                c = http.client.HTTPSConnection(self.up_host, self.up_port, timeout=120,
                                                context=ssl._create_unverified_context())
            else:
                c = http.client.HTTPConnection(self.up_host, self.up_port, timeout=120)
            self.local.conn = c
        return c

    def drop_conn(self):
        c = getattr(self.local, "conn", None)
        if c is not None:
            c.close()
        self.local.conn = None

    def upstream(self, method, path, headers, body):
        """One request to Azurite on this thread's connection (reconnects once)."""
        for attempt in (0, 1):
            try:
                c = self.conn()
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                return r.status, r.reason, r.getheaders(), data
            except (http.client.HTTPException, OSError):
                self.drop_conn()
                if attempt:
                    raise

    # -- Shared Key for the set-up helpers -------------------------------------
    def signed(self, method, path, query=None, body=b"", headers=None, content_type=""):
        query = query or {}
        headers = dict(headers or {})
        headers["x-ms-date"] = http_date()
        headers["x-ms-version"] = VERSION
        xms = sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-ms-"))
        length = str(len(body)) if body else ""
        sts = "\n".join([method, "", "", length, "", content_type, "", "", "", "", "", ""]) + "\n"
        sts += "".join("%s:%s\n" % kv for kv in xms)
        sts += "/%s%s" % (self.args.account, path)
        for k in sorted(query):
            sts += "\n%s:%s" % (k, query[k])
        sig = base64.b64encode(hmac.new(self.key, sts.encode(), hashlib.sha256).digest()).decode()
        headers["Authorization"] = "SharedKey %s:%s" % (self.args.account, sig)
        if content_type:
            headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        qs = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return self.upstream(method, path + ("?" + qs if qs else ""), headers, body)

    def account_sas(self, permissions, hours):
        expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)) \
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        sv = "2019-12-12"
        sts = "\n".join([self.args.account, permissions, "b", "sco", "", expiry, "", "", sv, ""])
        sig = base64.b64encode(hmac.new(self.key, sts.encode(), hashlib.sha256).digest()).decode()
        return urllib.parse.urlencode({"sv": sv, "ss": "b", "srt": "sco", "sp": permissions,
                                       "se": expiry, "sig": sig}, quote_via=urllib.parse.quote)


def op_of(method, query):
    if method == "POST" and query.get("comp") == "batch":
        return "batch"
    if method == "DELETE":
        return "delete"
    if method == "GET" and query.get("comp") == "list":
        return "list"
    if method == "PUT":
        return "put"
    return "other"


def matches(rule, method, op, path, body):
    if rule.get("method") and rule["method"] != method:
        return False
    if rule.get("op") and rule["op"] != op:
        return False
    m = rule.get("match") or ""
    if not m:
        return True
    if m in path:
        return True
    if op == "batch" and body:
        for line in body.decode("utf-8", "replace").split("\r\n"):
            if line.startswith("DELETE ") and m in urllib.parse.unquote(line):
                return True
    return False


def take_rule(state, kind, method, op, path, body):
    """The first rule of that kind that matches, consumed once; None if none."""
    with state.lock:
        for rule in state.rules:
            if rule["kind"] != kind or rule["count"] == 0:
                continue
            if not matches(rule, method, op, path, body):
                continue
            if rule.get("skip", 0) > 0:
                rule["skip"] -= 1
                continue
            if rule["count"] > 0:
                rule["count"] -= 1
            return dict(rule)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AzureFaultProxy"

    def log_message(self, fmt, *args):
        if self.server.state.args.log:
            with open(self.server.state.args.log, "a") as f:
                f.write("%s\n" % (fmt % args))

    def send(self, status, body=b"", headers=None, reason=None):
        self.send_response(status, reason)
        for k, v in (headers or []):
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj, status=200):
        self.send(status, json.dumps(obj).encode(), [("Content-Type", "application/json")])

    def azure_error(self, status, code, message, retry_after=None):
        body = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s\n'
                'RequestId:00000000-0000-0000-0000-000000000000\nTime:%s</Message></Error>'
                % (code, message, datetime.datetime.utcnow().isoformat())).encode()
        headers = [("Content-Type", "application/xml"), ("x-ms-error-code", code)]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        self.send(status, body, headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_control/") or url.path.startswith("/_test/"):
            return self.control(url)
        body = self.body()
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        op = op_of(self.command, query)
        path = urllib.parse.unquote(url.path)
        auth = self.headers.get("Authorization") or ""
        kind = "SharedKey" if auth.startswith("SharedKey") else "Bearer" if auth.startswith("Bearer") \
            else "SAS" if "sig" in query else "none"
        with state.lock:
            s = state.stats
            s["requests"] += 1
            s["by_op"][op] = s["by_op"].get(op, 0) + 1
            s["by_method"][self.command] = s["by_method"].get(self.command, 0) + 1
            s["by_auth"][kind] = s["by_auth"].get(kind, 0) + 1
            if op == "batch":
                s["batch_requests"] += 1
                s["batch_parts"] += body.count(b"\r\nDELETE ")
            s["in_flight"] += 1
            s["max_concurrent"] = max(s["max_concurrent"], s["in_flight"])
        try:
            delay = take_rule(state, "delay", self.command, op, path, body)
            if delay:
                deadline = time.time() + delay["ms"] / 1000.0
                while time.time() < deadline:
                    time.sleep(0.05)
            if op == "batch" and take_rule(state, "unsupported_batch", self.command, op, path, body):
                with state.lock:
                    state.stats["injected"] += 1
                return self.azure_error(400, "InvalidQueryParameterValue",
                                        "Value for one of the query parameters specified in the request URI is invalid.")
            fail = take_rule(state, "fail", self.command, op, path, body)
            if fail:
                with state.lock:
                    state.stats["injected"] += 1
                if fail["status"] == 0:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                code = fail.get("code") or CODES.get(fail["status"], "InternalError")
                return self.azure_error(fail["status"], code, fail.get("message") or MESSAGES.get(code, "injected"),
                                        fail.get("retry_after"))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = "%s:%s" % (state.up_host, state.up_port)
            if body or self.command in ("POST", "PUT"):
                headers["Content-Length"] = str(len(body))
            try:
                status, reason, rheaders, data = state.upstream(self.command, self.path, headers, body)
            except (http.client.HTTPException, OSError) as e:
                return self.send(502, str(e).encode())
            with state.lock:
                key = str(status)
                state.stats["by_status"][key] = state.stats["by_status"].get(key, 0) + 1
                failed = data.count(b"<Code>AuthenticationFailed</Code>")
                if not failed and any(k.lower() == "x-ms-error-code" and v == "AuthenticationFailed"
                                      for k, v in rheaders):
                    failed = 1
                state.stats["auth_failed"] += failed
            self.send(status, data, [(k, v) for k, v in rheaders if k.lower() not in HOP_BY_HOP], reason)
        finally:
            with state.lock:
                state.stats["in_flight"] -= 1

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    # -- control ----------------------------------------------------------------
    def control(self, url):
        state = self.server.state
        raw = self.body()
        req = json.loads(raw) if raw else {}
        p = url.path
        q = dict(urllib.parse.parse_qsl(url.query))
        if p in ("/_control/fail", "/_control/delay", "/_control/unsupported_batch"):
            rule = dict(req)
            rule["kind"] = p.rsplit("/", 1)[1]
            rule.setdefault("count", 1)
            if rule["kind"] == "fail":
                rule.setdefault("status", 503)
            with state.lock:
                state.rules.append(rule)
            return self.send_json({"ok": True})
        if p == "/_control/stats":
            with state.lock:
                return self.send_json(state.stats)
        if p == "/_control/reset":
            with state.lock:
                state.rules = []
                state.reset_stats()
            return self.send_json({"ok": True})
        if p == "/_control/reset_stats":
            with state.lock:
                state.reset_stats()
            return self.send_json({"ok": True})
        prefix = "/" + state.args.account
        if p == "/_test/container":
            st, _, _, data = state.signed("PUT", "%s/%s" % (prefix, req["name"]), {"restype": "container"})
            return self.send_json({"status": st, "body": data.decode("utf-8", "replace")})
        if p == "/_test/seed":
            data = (req.get("data") or "x\n").encode()

            def put(name):
                st, _, _, body = state.signed("PUT", "%s/%s/%s" % (prefix, req["container"], urllib.parse.quote(name)),
                                              body=data, headers={"x-ms-blob-type": "BlockBlob"},
                                              content_type="application/octet-stream")
                if st != 201:
                    raise RuntimeError("PUT %s: %s %s" % (name, st, body[:300]))
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(put, req["names"]))
            return self.send_json({"seeded": len(req["names"])})
        if p == "/_test/objects":
            names, marker = [], None
            while True:
                query = {"restype": "container", "comp": "list", "prefix": q.get("prefix", ""), "maxresults": "5000"}
                if marker:
                    query["marker"] = marker
                st, _, _, data = state.signed("GET", "%s/%s" % (prefix, q["container"]), query)
                if st != 200:
                    return self.send(500, data)
                text = data.decode()
                for part in text.split("<Name>")[1:]:
                    names.append(part.split("</Name>")[0].replace("&amp;", "&").replace("&lt;", "<")
                                 .replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'"))
                marker = text.split("<NextMarker>")[1].split("</NextMarker>")[0] if "<NextMarker>" in text else ""
                if not marker:
                    break
            return self.send_json(names)
        if p == "/_test/lease":
            action = req.get("action", "acquire")
            headers = {"x-ms-lease-action": action}
            if action == "acquire":
                headers["x-ms-lease-duration"] = "-1"
            if action == "break":
                headers["x-ms-lease-break-period"] = "0"
            st, _, _, data = state.signed("PUT", "%s/%s/%s" % (prefix, req["container"], urllib.parse.quote(req["name"])),
                                          {"comp": "lease"}, headers=headers)
            return self.send_json({"status": st, "body": data.decode("utf-8", "replace")})
        if p == "/_test/sas":
            return self.send_json({"sas": state.account_sas(req.get("permissions", "rdlw"), req.get("hours", 2))})
        return self.send(404, b"no such control endpoint")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.listen_port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
