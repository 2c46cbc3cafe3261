#!/usr/bin/python3
"""TEST DOUBLE of the Azure instance metadata endpoint's token service.

Only the managed-identity token endpoint is doubled (nothing else of Azure
is): GET /metadata/identity/oauth2/token?api-version=...&resource=...
with the header "Metadata: true" answers as the real endpoint does, with a
JSON document holding an access token (a JWT), "expires_in" as a string,
"expires_on", "resource" and "token_type".  The tokens are what Azurite's
OAuth mode (--oauth basic) accepts: issuer https://sts.windows.net/...,
audience https://storage.azure.com, nbf/iat/exp; Azurite checks their
lifetime but not their signature.

Control API (JSON):
  POST /_control/lifetime {"seconds": N}  tokens issued from now on expire
        (in their "exp" claim) after N seconds, while "expires_in" still
        says an hour: a token the worker believes valid that the storage
        refuses, as after a key rotation or clock skew.
  GET  /_control/stats    {"tokens_issued": n, "token_requests": n, "refused": n}
  POST /_control/reset

Once listening it prints "READY <port>".  Standard library only.
"""

import argparse
import base64
import json
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        st = self.server.st
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_control/stats":
            with st["lock"]:
                return self.send_json({k: v for k, v in st.items() if k != "lock"})
        if url.path != "/metadata/identity/oauth2/token":
            return self.send_json({"error": "not_found"}, 404)
        with st["lock"]:
            st["token_requests"] += 1
        if self.headers.get("Metadata") != "true":
            with st["lock"]:
                st["refused"] += 1
            return self.send_json({"error": "invalid_request",
                                   "error_description": "Required metadata header not specified"}, 400)
        if not q.get("api-version") or q.get("resource") != "https://storage.azure.com/":
            with st["lock"]:
                st["refused"] += 1
            return self.send_json({"error": "invalid_resource",
                                   "error_description": "AADSTS500011: The resource principal was not found"}, 400)
        now = int(time.time())
        with st["lock"]:
            lifetime = st["lifetime"]
            st["tokens_issued"] += 1
            st["client_ids"].append(q.get("client_id", ""))
        claims = {"aud": "https://storage.azure.com", "iss": "https://sts.windows.net/%s/" % TENANT,
                  "iat": now - 5, "nbf": now - 5, "exp": now + lifetime, "oid": str(uuid.uuid4()),
                  "tid": TENANT, "uti": uuid.uuid4().hex}
        token = "%s.%s.%s" % (b64url(json.dumps({"typ": "JWT", "alg": "RS256"}).encode()),
                              b64url(json.dumps(claims).encode()), b64url(b"test-double-signature"))
        return self.send_json({"access_token": token, "client_id": q.get("client_id", ""),
                               "expires_in": "3599", "expires_on": str(now + 3599), "ext_expires_in": "3599",
                               "not_before": str(now - 5), "resource": "https://storage.azure.com/",
                               "token_type": "Bearer"})

    def do_POST(self):
        st = self.server.st
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n)) if n else {}
        if self.path == "/_control/lifetime":
            with st["lock"]:
                st["lifetime"] = int(req["seconds"])
            return self.send_json({"ok": True})
        if self.path == "/_control/reset":
            with st["lock"]:
                st.update(fresh())
            return self.send_json({"ok": True})
        return self.send_json({"error": "not_found"}, 404)


def fresh():
    return {"tokens_issued": 0, "token_requests": 0, "refused": 0, "lifetime": 3600, "client_ids": []}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.st = fresh()
    server.st["lock"] = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
