#!/usr/bin/python3
#
# gcs_double.py: a TEST DOUBLE of Google Cloud Storage for the reset_system
# tests.
#
# This is not GCS and not a general-purpose emulator.  It was written for the
# reset_system integration tests because no GCS emulator is installable in the
# test environment.  It keeps objects in memory, implements the small part of
# the GCS JSON API that the purge worker and the tests use, and adds
# test-only endpoints to seed data, inject faults and read counters.
#
# Parts of the real API implemented (paths as in the GCS JSON API; object
# names are percent-encoded as ONE path segment, so "a/b" arrives as "a%2Fb"):
#
#   GET    /storage/v1/b/{bucket}                 bucket metadata (a probe)
#   GET    /storage/v1/b/{bucket}/o               list objects: prefix,
#          delimiter, startOffset, endOffset, maxResults (default and cap
#          1000), pageToken (opaque); "fields" is accepted and ignored
#   GET    /storage/v1/b/{bucket}/o/{object}      object metadata, or the
#          content with alt=media
#   DELETE /storage/v1/b/{bucket}/o/{object}      204, or 404 if absent
#   POST   /upload/storage/v1/b/{bucket}/o?uploadType=media&name=NAME
#          simple upload (multipart and resumable uploads are not supported)
#   POST   /batch/storage/v1                      multipart/mixed batch of at
#          most 100 embedded requests, answered part by part in order, with
#          Content-ID "<response-ID>" echoed as Google does.  Headers of the
#          outer request other than Content-* apply to every part unless the
#          part sets them itself.
#   GET    /computeMetadata/v1/instance/service-accounts/default/token
#          GCE metadata server token endpoint (needs "Metadata-Flavor:
#          Google"); every call issues a new random token valid for
#          --token-ttl seconds.  .../default/email and
#          /computeMetadata/v1/project/project-id are answered too.
#
# Errors use the JSON shape of the real API:
#   {"error": {"code": C, "message": M,
#              "errors": [{"domain": "global", "reason": R, "message": M}]}}
#
# Authentication: with --require-auth, storage requests need
# "Authorization: Bearer <token>" holding an unexpired token issued by the
# token endpoint, else 401.  Without it nothing is checked (the behaviour of
# Google's clients in STORAGE_EMULATOR_HOST mode).
#
# Test-only endpoints (NOT part of GCS; no authentication, not counted as
# storage requests, not subject to faults).  In these paths the object name
# may be percent-encoded or contain plain "/":
#
#   PUT    /_test/object/{bucket}/{object}   store the request body
#   GET    /_test/object/{bucket}/{object}   read it back
#   GET    /_test/objects/{bucket}[?prefix=] JSON array of names, sorted
#   DELETE /_test/objects/{bucket}           remove every object of a bucket
#   GET    /_test/exists/{bucket}/{object}   200 or 404
#   POST   /_test/seed/{bucket}              bulk create: {"names": [...],
#                                            "data": "optional content"}
#   PUT    /_test/bucket/{bucket}            create a bucket (idempotent)
#   DELETE /_test/bucket/{bucket}            drop a bucket and its objects
#
# Fault injection and observation (NOT part of GCS), under /_control/:
#
#   POST /_control/fail     {"status": 503, "count": 5, "match": "sub",
#                            "method": "DELETE", "scope": "request",
#                            "retry_after": 2}
#       The next `count` matching requests answer `status` with a JSON error
#       ("injected fault") and do nothing else.  status 0 closes the
#       connection without an answer (a dropped connection; when it hits a
#       part of a batch, the whole batch connection is dropped, after the
#       parts before it have been carried out).  count
#       defaults to 1, a negative count never runs out.  `match` is a
#       substring of the decoded object name or of the request path (raw or
#       decoded); `method` compares the HTTP method.  Rules are queued; the
#       first matching rule wins.  `scope` selects what a rule applies to:
#         "request"  (default) storage operations, whether sent directly or
#                    embedded in a batch; faults are per embedded request,
#                    so a batch can partially fail
#         "direct"   storage operations sent directly only
#         "embedded" operations embedded in a batch only
#         "batch"    the outer POST /batch/storage/v1 request itself
#         "token"    the metadata token endpoint
#   POST /_control/delay    {"ms": 2000, "count": 10, "match": .., "method": ..}
#       The next `count` storage HTTP requests (a batch counts once) sleep
#       that long before being handled.
#   POST /_control/forbid   {"match": "sub"}
#       Operations on objects whose name contains "sub" answer 403 "Access
#       denied: injected 403 for <name>" until /_control/reset.
#   POST /_control/expire_tokens   every token issued so far expires now
#   GET  /_control/stats    counters (see State.stats)
#   GET  /_control/faults   pending fail and delay rules, forbids
#   GET  /_control/log      the last storage operations handled
#   POST /_control/reset_stats     zero the counters
#   POST /_control/reset    zero the counters, drop fault and delay rules
#                           and forbids (objects and tokens are kept)
#   POST /_control/shutdown stop the server
#
# Usage:
#   gcs_double.py --port PORT [--bucket NAME ...] [--token-ttl SECONDS]
#                 [--require-auth] [--state-file PATH] [--verbose]
#
# It listens on 127.0.0.1:PORT (0 picks a free port) and, once listening,
# prints one line "READY <port>" on stdout.  Nothing else goes to stdout.
# With --state-file the final stats are written there as JSON on shutdown
# (through /_control/shutdown, SIGTERM or SIGINT).  With --verbose each
# request is logged on stderr.
#
# Only the Python 3 standard library is used.

import argparse
import base64
import bisect
import collections
import datetime
import hashlib
import http
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
EMAIL_PATH = "/computeMetadata/v1/instance/service-accounts/default/email"
PROJECT_PATH = "/computeMetadata/v1/project/project-id"
BATCH_PATH = "/batch/storage/v1"
STORAGE_PREFIXES = ("/storage/", "/upload/", "/batch/")

PROJECT_ID = "reset-system-test"
SERVICE_ACCOUNT = PROJECT_ID + "@" + PROJECT_ID + ".iam.gserviceaccount.com"

MAX_BATCH_PARTS = 100
MAX_LIST_RESULTS = 1000
MAX_OBJECT_NAME_BYTES = 1024
LOG_ENTRIES = 2000

FAULT_SCOPES = ("request", "direct", "embedded", "batch", "token")

JSON_TYPE = "application/json; charset=UTF-8"


# ---------------------------------------------------------------------------
# Responses

class Response:
    """A response before it is written: status, header list and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, body=b"", headers=None):
        self.status = status
        self.body = body
        self.headers = list(headers or [])


# Returned instead of a Response to close the connection without answering.
DROP = object()


def json_response(status, obj, headers=None):
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return Response(status, body, [("Content-Type", JSON_TYPE)] + list(headers or []))


def default_reason(status):
    return {
        400: "invalid",
        401: "authError",
        403: "forbidden",
        404: "notFound",
        405: "methodNotAllowed",
        409: "conflict",
        412: "conditionNotMet",
        429: "rateLimitExceeded",
    }.get(status, "backendError" if status >= 500 else "badRequest")


def error_response(status, message, reason=None, headers=None, extra=None):
    detail = {"domain": "global", "reason": reason or default_reason(status),
              "message": message}
    if extra:
        detail.update(extra)
    return json_response(status, {"error": {"code": status, "message": message,
                                            "errors": [detail]}}, headers)


def status_phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status %d" % status


def rfc3339_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


# ---------------------------------------------------------------------------
# Request targets

def split_target(target):
    """Split a request target into (raw path, raw query); no decoding."""
    if target.startswith(("http://", "https://")):
        parts = urllib.parse.urlsplit(target)
        return parts.path or "/", parts.query
    target = target.split("#", 1)[0]
    path, _, query = target.partition("?")
    return path, query


def parse_query(query):
    """First value of each query parameter."""
    result = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        result.setdefault(key, value)
    return result


def decode_segment(segment):
    """Percent-decode one path segment as UTF-8; UnicodeDecodeError if bad."""
    return urllib.parse.unquote(segment, errors="strict")


class Route:
    """What a storage request addresses.

    kind is one of "bucket", "objects" (the list endpoint), "object",
    "upload", "batch", "bad_encoding" or "unknown".
    """

    __slots__ = ("kind", "bucket", "name", "path", "query")

    def __init__(self, kind, path, query, bucket=None, name=None):
        self.kind = kind
        self.path = path
        self.query = query
        self.bucket = bucket
        self.name = name


def parse_storage_route(path, query_string):
    query = parse_query(query_string)
    segs = path.split("/")
    try:
        if (len(segs) >= 5 and segs[1:4] == ["storage", "v1", "b"] and segs[4]):
            bucket = decode_segment(segs[4])
            if len(segs) == 5:
                return Route("bucket", path, query, bucket)
            if len(segs) == 6 and segs[5] == "o":
                return Route("objects", path, query, bucket)
            if len(segs) == 7 and segs[5] == "o" and segs[6]:
                return Route("object", path, query, bucket, decode_segment(segs[6]))
        elif (len(segs) == 7 and segs[1:5] == ["upload", "storage", "v1", "b"]
              and segs[5] and segs[6] == "o"):
            return Route("upload", path, query, decode_segment(segs[5]),
                         query.get("name"))
        elif path.rstrip("/") == BATCH_PATH:
            return Route("batch", path, query)
    except UnicodeDecodeError:
        return Route("bad_encoding", path, query)
    return Route("unknown", path, query)


def object_name_problem(name):
    """Why GCS would refuse this object name on upload, or None."""
    if not name:
        return "Required parameter: name"
    if len(name.encode("utf-8")) > MAX_OBJECT_NAME_BYTES:
        return "The maximum object length is 1024 characters, but got a name with more."
    if "\r" in name or "\n" in name:
        return "Object name contains a carriage return or line feed."
    if name in (".", ".."):
        return "Object name cannot be '.' or '..'."
    if name.startswith(".well-known/acme-challenge/"):
        return "Object name cannot start with '.well-known/acme-challenge/'."
    return None


# ---------------------------------------------------------------------------
# Multipart (batch) parsing and formatting

BOUNDARY_RE = re.compile(r'boundary\s*=\s*(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)


def batch_boundary(content_type):
    if not content_type.strip().lower().startswith("multipart/mixed"):
        return None
    m = BOUNDARY_RE.search(content_type)
    if not m:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2)


def split_multipart(body, boundary):
    """Return the raw parts of a multipart body; ValueError if malformed."""
    delim = b"--" + boundary.encode("latin-1")
    pos = body.find(delim)
    if pos < 0 or (pos > 0 and body[pos - 1:pos] != b"\n"):
        raise ValueError("Missing multipart boundary delimiter.")
    parts = []
    while True:
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            return parts
        eol = body.find(b"\n", pos)
        if eol < 0:
            raise ValueError("Truncated multipart body.")
        start = eol + 1
        nxt = body.find(b"\n" + delim, start - 1)
        if nxt < 0:
            raise ValueError("Missing multipart close delimiter.")
        end = nxt
        if end > start and body[end - 1:end] == b"\r":
            end -= 1
        parts.append(body[start:max(start, end)])
        pos = nxt + 1


def split_head(data):
    """Split bytes at the first empty line into (head, rest)."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf < 0 and lf < 0:
        return data, b""
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return data[:crlf], data[crlf + 4:]
    return data[:lf], data[lf + 2:]


def parse_header_lines(lines):
    headers = {}
    last = None
    for line in lines:
        if line[:1] in (" ", "\t") and last is not None:
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


def split_part(raw):
    """Split a batch part into (part headers dict, embedded request bytes)."""
    if raw.startswith(b"\r\n"):
        return {}, raw[2:]
    if raw.startswith(b"\n"):
        return {}, raw[1:]
    head, rest = split_head(raw)
    text = head.decode("utf-8", "replace")
    return parse_header_lines(text.splitlines()), rest


def parse_embedded_request(data):
    """Parse an embedded HTTP request: (method, target, headers, body)."""
    head, body = split_head(data.lstrip(b"\r\n"))
    lines = head.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].strip():
        raise ValueError("Empty embedded request.")
    words = lines[0].split()
    if len(words) not in (2, 3) or (len(words) == 3 and not words[2].startswith("HTTP/")):
        raise ValueError("Malformed embedded request line: %r" % lines[0])
    headers = parse_header_lines(lines[1:])
    if "content-length" in headers:
        try:
            body = body[:int(headers["content-length"])]
        except ValueError:
            raise ValueError("Bad Content-Length in embedded request.")
    return words[0].upper(), words[1], headers, body


def build_batch_response(results):
    boundary = "batch_" + secrets.token_urlsafe(18)
    out = bytearray()
    for content_id, resp in results:
        out += b"--" + boundary.encode("ascii") + b"\r\n"
        out += b"Content-Type: application/http\r\n"
        if content_id:
            cid = content_id.strip()
            if cid.startswith("<") and cid.endswith(">"):
                cid = cid[1:-1]
            out += ("Content-ID: <response-%s>\r\n" % cid).encode("utf-8")
        out += b"\r\n"
        out += ("HTTP/1.1 %d %s\r\n" % (resp.status, status_phrase(resp.status))).encode("ascii")
        for name, value in resp.headers:
            out += ("%s: %s\r\n" % (name, value)).encode("utf-8")
        out += b"Content-Length: %d\r\n\r\n" % len(resp.body)
        out += resp.body
        out += b"\r\n"
    out += b"--" + boundary.encode("ascii") + b"--\r\n"
    return Response(200, bytes(out),
                    [("Content-Type", "multipart/mixed; boundary=" + boundary)])


# ---------------------------------------------------------------------------
# Shared state

class StoredObject:
    __slots__ = ("data", "content_type", "generation", "created")

    def __init__(self, data, content_type, generation):
        self.data = data
        self.content_type = content_type or "application/octet-stream"
        self.generation = generation
        self.created = rfc3339_now()


class State:
    """Objects, tokens, fault rules and counters, all under one lock."""

    def __init__(self, buckets, token_ttl, require_auth):
        self.lock = threading.Lock()
        self.buckets = {name: {} for name in buckets}
        self.token_ttl = token_ttl
        self.require_auth = require_auth
        self.tokens = {}
        self.fail_rules = []
        self.delay_rules = []
        self.forbids = []
        self.generation = int(time.time() * 1000000)
        self.in_flight = 0
        self.log = collections.deque(maxlen=LOG_ENTRIES)
        self._zero_counters()

    # -- counters ----------------------------------------------------------

    def _zero_counters(self):
        self.counters = {
            "requests": 0,          # storage HTTP requests (a batch counts once)
            "deletes": 0,           # delete attempts, direct or in a batch
            "deleted": 0,           # objects really deleted
            "batch_requests": 0,
            "batch_parts": 0,
            "list_requests": 0,
            "uploads": 0,
            "token_requests": 0,
            "tokens_issued": 0,
            "auth_failures": 0,
            "faults_injected": 0,   # includes dropped connections
            "dropped": 0,
            "forbidden": 0,
            "delayed": 0,
        }
        self.by_method = collections.Counter()
        self.batch_by_method = collections.Counter()
        self.max_concurrent = self.in_flight

    def reset_stats(self):
        with self.lock:
            self._zero_counters()

    def reset(self):
        with self.lock:
            self._zero_counters()
            self.fail_rules = []
            self.delay_rules = []
            self.forbids = []

    def stats(self):
        with self.lock:
            result = dict(self.counters)
            result["by_method"] = dict(self.by_method)
            result["batch_by_method"] = dict(self.batch_by_method)
            result["objects"] = sum(len(b) for b in self.buckets.values())
            result["objects_by_bucket"] = {k: len(v) for k, v in self.buckets.items()}
            result["max_concurrent"] = self.max_concurrent
            result["in_flight"] = self.in_flight
            result["fault_rules_pending"] = len(self.fail_rules)
            result["delay_rules_pending"] = len(self.delay_rules)
            result["forbids"] = list(self.forbids)
            return result

    def count(self, name, n=1):
        with self.lock:
            self.counters[name] += n

    def enter_http(self, method):
        with self.lock:
            self.counters["requests"] += 1
            self.by_method[method] += 1
            self.in_flight += 1
            if self.in_flight > self.max_concurrent:
                self.max_concurrent = self.in_flight

    def leave_http(self):
        with self.lock:
            self.in_flight -= 1

    def record(self, method, route, status, embedded):
        with self.lock:
            self.log.append({"time": time.time(), "method": method, "path": route.path,
                             "bucket": route.bucket, "name": route.name,
                             "status": status, "embedded": embedded})

    # -- fault rules -------------------------------------------------------

    @staticmethod
    def _matches(rule, method, path, name):
        if rule.get("method") and rule["method"] != method:
            return False
        sub = rule.get("match")
        if sub is None:
            return True
        haystacks = [path, urllib.parse.unquote(path)]
        if name is not None:
            haystacks.append(name)
        return any(sub in h for h in haystacks)

    @staticmethod
    def _consume(rules, rule):
        if rule["count"] > 0:
            rule["count"] -= 1
            if rule["count"] == 0:
                rules.remove(rule)

    def add_fail_rule(self, rule):
        with self.lock:
            self.fail_rules.append(rule)
            return len(self.fail_rules)

    def add_delay_rule(self, rule):
        with self.lock:
            self.delay_rules.append(rule)
            return len(self.delay_rules)

    def add_forbid(self, sub):
        with self.lock:
            self.forbids.append(sub)
            return len(self.forbids)

    def take_fault(self, scope, method, path, name):
        """Consume and return the first fail rule matching, or None."""
        with self.lock:
            for rule in self.fail_rules:
                rs = rule["scope"]
                if rs == scope or (rs == "request" and scope in ("direct", "embedded")):
                    if self._matches(rule, method, path, name):
                        self._consume(self.fail_rules, rule)
                        self.counters["faults_injected"] += 1
                        if rule["status"] == 0:
                            self.counters["dropped"] += 1
                        return dict(rule)
        return None

    def take_delay(self, method, path, name):
        """Consume the first delay rule matching; return seconds to sleep."""
        with self.lock:
            for rule in self.delay_rules:
                if self._matches(rule, method, path, name):
                    self._consume(self.delay_rules, rule)
                    self.counters["delayed"] += 1
                    return rule["ms"] / 1000.0
        return 0.0

    def is_forbidden(self, name):
        with self.lock:
            if name is not None and any(sub in name for sub in self.forbids):
                self.counters["forbidden"] += 1
                return True
        return False

    def pending_rules(self):
        with self.lock:
            return {"fail": [dict(r) for r in self.fail_rules],
                    "delay": [dict(r) for r in self.delay_rules],
                    "forbid": list(self.forbids)}

    # -- tokens ------------------------------------------------------------

    def issue_token(self):
        token = "ya29.double." + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.counters["tokens_issued"] += 1
        return token

    def expire_tokens(self):
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = float("-inf")
            return len(self.tokens)

    def check_auth(self, headers):
        """None if the request may proceed, else a 401 Response."""
        if not self.require_auth:
            return None
        value = headers.get("authorization", "")
        www = [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')]
        if not value.strip():
            self.count("auth_failures")
            return error_response(
                401, "Anonymous caller does not have storage access to the "
                "Google Cloud Storage bucket or object.", "required", www,
                {"locationType": "header", "location": "Authorization"})
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        with self.lock:
            expiry = self.tokens.get(token) if scheme.lower() == "bearer" else None
            valid = expiry is not None and time.monotonic() < expiry
            if not valid:
                self.counters["auth_failures"] += 1
        if not valid:
            return error_response(401, "Invalid Credentials", "authError", www,
                                  {"locationType": "header", "location": "Authorization"})
        return None

    # -- objects -----------------------------------------------------------

    def _next_generation(self):
        self.generation += 1
        return self.generation

    def put_object(self, bucket, name, data, content_type):
        """Store an object; returns its resource, or None if no such bucket."""
        with self.lock:
            objects = self.buckets.get(bucket)
            if objects is None:
                return None
            obj = StoredObject(data, content_type, self._next_generation())
            objects[name] = obj
            return object_resource(bucket, name, obj)

    def seed(self, bucket, names, data, content_type):
        with self.lock:
            objects = self.buckets.get(bucket)
            if objects is None:
                return None
            for name in names:
                objects[name] = StoredObject(data, content_type, self._next_generation())
            return len(names)


def object_resource(bucket, name, obj):
    quoted = urllib.parse.quote(name, safe="")
    return {
        "kind": "storage#object",
        "id": "%s/%s/%d" % (bucket, name, obj.generation),
        "selfLink": "https://www.googleapis.com/storage/v1/b/%s/o/%s" % (bucket, quoted),
        "name": name,
        "bucket": bucket,
        "generation": str(obj.generation),
        "metageneration": "1",
        "contentType": obj.content_type,
        "storageClass": "STANDARD",
        "size": str(len(obj.data)),
        "md5Hash": base64.b64encode(hashlib.md5(obj.data).digest()).decode("ascii"),
        "timeCreated": obj.created,
        "updated": obj.created,
        "etag": base64.b64encode(str(obj.generation).encode("ascii")).decode("ascii"),
    }


def bucket_not_found(bucket):
    return error_response(404, "The specified bucket does not exist.", "notFound")


def object_not_found(bucket, name):
    return error_response(404, "No such object: %s/%s" % (bucket, name), "notFound")


def method_not_allowed(method):
    return error_response(405, "Method %s is not supported by this endpoint." % method,
                          "methodNotAllowed")


def encode_page_token(after, skip_prefix):
    raw = json.dumps({"after": after, "skip": skip_prefix}, ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def decode_page_token(token):
    raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
    data = json.loads(raw.decode("utf-8"))
    after, skip = data["after"], data.get("skip")
    if not isinstance(after, str) or not (skip is None or isinstance(skip, str)):
        raise ValueError("bad token")
    return after, skip


# ---------------------------------------------------------------------------
# Storage operations

class Storage:
    """The storage API proper, shared by direct and embedded requests."""

    def __init__(self, state):
        self.state = state

    def execute(self, method, target, headers, body, embedded):
        path, query = split_target(target)
        route = parse_storage_route(path, query)
        resp = self._execute(method, route, headers, body, embedded)
        self.state.record(method, route, 0 if resp is DROP else resp.status, embedded)
        return resp

    def _execute(self, method, route, headers, body, embedded):
        st = self.state
        with st.lock:
            if embedded:
                st.counters["batch_parts"] += 1
                st.batch_by_method[method] += 1
            if route.kind == "object" and method == "DELETE":
                st.counters["deletes"] += 1
            elif route.kind == "objects" and method == "GET":
                st.counters["list_requests"] += 1
            elif route.kind == "upload" and method == "POST":
                st.counters["uploads"] += 1

        if route.kind == "unknown":
            return error_response(404, "Not Found", "notFound")
        if route.kind == "batch":
            if embedded:
                return error_response(400, "Batch requests cannot be nested.")
            return error_response(404, "Not Found", "notFound")

        rule = st.take_fault("embedded" if embedded else "direct", method,
                             route.path, route.name)
        if rule is not None:
            return fault_response(rule)

        if route.kind == "bad_encoding":
            return error_response(400, "Invalid UTF-8 in percent-encoded path.", "invalid")

        denied = st.check_auth(headers)
        if denied is not None:
            return denied

        if route.kind == "bucket":
            if method != "GET":
                return method_not_allowed(method)
            return self.get_bucket(route.bucket)
        if route.kind == "objects":
            if method != "GET":
                return method_not_allowed(method)
            return self.list_objects(route.bucket, route.query)
        if route.kind == "object":
            if method not in ("GET", "DELETE"):
                return method_not_allowed(method)
            if st.is_forbidden(route.name):
                return forbidden_response(route.name)
            if method == "DELETE":
                return self.delete_object(route.bucket, route.name)
            return self.get_object(route.bucket, route.name, route.query)
        if route.kind == "upload":
            if embedded:
                return error_response(400, "Uploads are not allowed in a batch request.")
            if method != "POST":
                return method_not_allowed(method)
            return self.upload(route, headers, body)
        return error_response(404, "Not Found", "notFound")

    def get_bucket(self, bucket):
        with self.state.lock:
            if bucket not in self.state.buckets:
                return bucket_not_found(bucket)
        return json_response(200, {
            "kind": "storage#bucket",
            "id": bucket,
            "selfLink": "https://www.googleapis.com/storage/v1/b/" + bucket,
            "projectNumber": "123456789012",
            "name": bucket,
            "metageneration": "1",
            "location": "US",
            "locationType": "multi-region",
            "storageClass": "STANDARD",
            "etag": "CAE=",
        })

    def delete_object(self, bucket, name):
        st = self.state
        with st.lock:
            objects = st.buckets.get(bucket)
            if objects is None:
                return bucket_not_found(bucket)
            if objects.pop(name, None) is None:
                return object_not_found(bucket, name)
            st.counters["deleted"] += 1
        return Response(204)

    def get_object(self, bucket, name, query):
        with self.state.lock:
            objects = self.state.buckets.get(bucket)
            if objects is None:
                return bucket_not_found(bucket)
            obj = objects.get(name)
            if obj is None:
                return object_not_found(bucket, name)
            if query.get("alt") == "media":
                return Response(200, obj.data, [("Content-Type", obj.content_type)])
            return json_response(200, object_resource(bucket, name, obj))

    def upload(self, route, headers, body):
        upload_type = route.query.get("uploadType")
        if upload_type != "media":
            return error_response(
                400, "Upload type %r is not supported by this test double; "
                "use uploadType=media." % upload_type, "invalid")
        name = route.name
        problem = object_name_problem(name)
        if problem:
            return error_response(400, problem, "required" if not name else "invalid")
        if self.state.is_forbidden(name):
            return forbidden_response(name)
        resource = self.state.put_object(route.bucket, name, body,
                                         headers.get("content-type"))
        if resource is None:
            return bucket_not_found(route.bucket)
        return json_response(200, resource)

    def list_objects(self, bucket, query):
        prefix = query.get("prefix") or ""
        delimiter = query.get("delimiter") or ""
        start_offset = query.get("startOffset") or ""
        end_offset = query.get("endOffset") or None
        raw_max = query.get("maxResults")
        if raw_max in (None, ""):
            max_results = MAX_LIST_RESULTS
        else:
            try:
                max_results = int(raw_max)
            except ValueError:
                return error_response(400, "Invalid value for maxResults: %s" % raw_max)
            if max_results < 1:
                return error_response(400, "Invalid value for maxResults: %s" % raw_max)
            max_results = min(max_results, MAX_LIST_RESULTS)
        after = skip_prefix = None
        if query.get("pageToken"):
            try:
                after, skip_prefix = decode_page_token(query["pageToken"])
            except Exception:
                return error_response(400, "Invalid page token.", "invalid")

        items = []
        prefixes = []
        last = None
        more = False
        with self.state.lock:
            objects = self.state.buckets.get(bucket)
            if objects is None:
                return bucket_not_found(bucket)
            names = sorted(objects)
            i = bisect.bisect_left(names, max(prefix, start_offset))
            if after is not None:
                i = max(i, bisect.bisect_right(names, after))
            while i < len(names):
                name = names[i]
                if not name.startswith(prefix):
                    break
                if end_offset is not None and name >= end_offset:
                    break
                if skip_prefix and name.startswith(skip_prefix):
                    i += 1
                    continue
                if len(items) + len(prefixes) >= max_results:
                    more = True
                    break
                cut = name.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    group = name[:cut + len(delimiter)]
                    prefixes.append(group)
                    last = (group, group)
                    while i < len(names) and names[i].startswith(group):
                        i += 1
                    continue
                items.append(object_resource(bucket, name, objects[name]))
                last = (name, None)
                i += 1

        result = {"kind": "storage#objects"}
        if more:
            result["nextPageToken"] = encode_page_token(*last)
        if prefixes:
            result["prefixes"] = prefixes
        if items:
            result["items"] = items
        return json_response(200, result)


def fault_response(rule):
    if rule["status"] == 0:
        return DROP
    headers = []
    if rule.get("retry_after") is not None:
        headers.append(("Retry-After", str(rule["retry_after"])))
    return error_response(rule["status"], "injected fault", headers=headers)


def forbidden_response(name):
    return error_response(403, "Access denied: injected 403 for %s" % name, "forbidden")


# ---------------------------------------------------------------------------
# HTTP front end

class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, state, verbose):
        self.state = state
        self.storage = Storage(state)
        self.verbose = verbose
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) and not self.verbose:
            return
        super().handle_error(request, client_address)


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcs-double/1.0"
    sys_version = ""
    timeout = 120

    def setup(self):
        super().setup()
        # see send(): two writes per answer; avoid Nagle's delay
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("gcs_double: %s %s\n" % (self.address_string(), fmt % args))
            sys.stderr.flush()

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    # -- plumbing ----------------------------------------------------------

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if n < 0:
            raise BadRequest("bad Content-Length")
        return self.rfile.read(n)

    def send(self, resp):
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(resp.body)
        self.wfile.flush()

    def dispatch(self, method):
        try:
            body = self.read_body()
        except BadRequest as exc:
            self.close_connection = True
            self.send(error_response(400, str(exc)))
            return
        path, query = split_target(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}

        if path.startswith(STORAGE_PREFIXES):
            resp = self.storage_http(method, path, query, headers, body)
        elif path == "/" or path.startswith("/computeMetadata/"):
            resp = self.metadata(method, path, headers)
        elif path.startswith("/_control/"):
            resp = self.control(method, path, body)
        elif path.startswith("/_test/"):
            resp = self.test_helper(method, path, query, headers, body)
        else:
            resp = error_response(404, "Not Found", "notFound")

        if resp is DROP:
            self.close_connection = True
            return
        self.send(resp)
        if path == "/_control/shutdown" and resp.status == 200:
            self.close_connection = True
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    # -- storage -----------------------------------------------------------

    def storage_http(self, method, path, query, headers, body):
        state = self.server.state
        state.enter_http(method)
        try:
            route = parse_storage_route(path, query)
            delay = state.take_delay(method, path, route.name)
            if delay > 0:
                time.sleep(delay)
            if route.kind == "batch":
                return self.batch(method, route, headers, body)
            return self.server.storage.execute(method, self.path, headers, body,
                                               embedded=False)
        finally:
            state.leave_http()

    def batch(self, method, route, headers, body):
        state = self.server.state
        state.count("batch_requests")
        resp = self._batch(method, route, headers, body)
        state.record(method, route, 0 if resp is DROP else resp.status, False)
        return resp

    def _batch(self, method, route, headers, body):
        state = self.server.state
        if method != "POST":
            return method_not_allowed(method)
        rule = state.take_fault("batch", method, route.path, None)
        if rule is not None:
            return fault_response(rule)
        boundary = batch_boundary(headers.get("content-type", ""))
        if boundary is None:
            return error_response(400, "Batch requests must be multipart/mixed with a boundary.")
        try:
            parts = split_multipart(body, boundary)
        except ValueError as exc:
            return error_response(400, str(exc))
        if not parts:
            return error_response(400, "The batch request contains no requests.")
        if len(parts) > MAX_BATCH_PARTS:
            return error_response(
                400, "Too many requests in batch: %d; the maximum is %d."
                % (len(parts), MAX_BATCH_PARTS))

        inherited = {k: v for k, v in headers.items()
                     if not k.startswith("content-") and k not in
                     ("host", "connection", "transfer-encoding", "expect")}
        results = []
        for index, raw in enumerate(parts, 1):
            part_headers, content = split_part(raw)
            content_id = part_headers.get("content-id")
            ctype = part_headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/http":
                results.append((content_id, error_response(
                    400, "Part %d: Content-Type must be application/http." % index)))
                continue
            try:
                m, target, part_req_headers, part_body = parse_embedded_request(content)
            except ValueError as exc:
                results.append((content_id, error_response(400, str(exc))))
                continue
            merged = dict(inherited)
            merged.update(part_req_headers)
            resp = self.server.storage.execute(m, target, merged, part_body, embedded=True)
            if resp is DROP:
                return DROP
            results.append((content_id, resp))
        return build_batch_response(results)

    # -- metadata server ---------------------------------------------------

    def metadata(self, method, path, headers):
        state = self.server.state
        flavor = [("Metadata-Flavor", "Google")]
        if path == "/":
            return Response(200, b"computeMetadata/\n",
                            [("Content-Type", "application/text")] + flavor)
        if headers.get("metadata-flavor") != "Google":
            return Response(403, b"Missing Metadata-Flavor:Google header.\n",
                            [("Content-Type", "text/plain; charset=utf-8")])
        if method != "GET":
            return Response(405, b"Method not allowed.\n",
                            [("Content-Type", "text/plain; charset=utf-8")] + flavor)
        if path.rstrip("/") == TOKEN_PATH:
            state.count("token_requests")
            rule = state.take_fault("token", method, path, None)
            if rule is not None:
                return fault_response(rule)
            token = state.issue_token()
            return json_response(200, {"access_token": token,
                                       "expires_in": state.token_ttl,
                                       "token_type": "Bearer"}, flavor)
        if path == EMAIL_PATH:
            return Response(200, SERVICE_ACCOUNT.encode(),
                            [("Content-Type", "application/text")] + flavor)
        if path == PROJECT_PATH:
            return Response(200, PROJECT_ID.encode(),
                            [("Content-Type", "application/text")] + flavor)
        return Response(404, b"Not Found\n", [("Content-Type", "text/plain")] + flavor)

    # -- control endpoints (not GCS) ---------------------------------------

    def control(self, method, path, body):
        state = self.server.state
        action = path[len("/_control/"):].strip("/")
        gets = {"stats", "faults", "log"}
        posts = {"fail", "delay", "forbid", "expire_tokens", "reset_stats", "reset",
                 "shutdown"}
        if action in gets:
            if method != "GET":
                return method_not_allowed(method)
            if action == "stats":
                return json_response(200, state.stats())
            if action == "faults":
                return json_response(200, state.pending_rules())
            with state.lock:
                return json_response(200, list(state.log))
        if action not in posts:
            return error_response(404, "Unknown control endpoint: " + action, "notFound")
        if method != "POST":
            return method_not_allowed(method)
        try:
            args = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "Control request body must be JSON.")

        try:
            if action == "fail":
                rules = args if isinstance(args, list) else [args]
                for rule in rules:
                    n = state.add_fail_rule(parse_fail_rule(rule))
                return json_response(200, {"ok": True, "fault_rules": n})
            if action == "delay":
                return json_response(200, {"ok": True, "delay_rules":
                                           state.add_delay_rule(parse_delay_rule(args))})
            if action == "forbid":
                sub = args.get("match") if isinstance(args, dict) else None
                if not isinstance(sub, str) or not sub:
                    raise ValueError("forbid needs a non-empty string \"match\"")
                return json_response(200, {"ok": True, "forbids": state.add_forbid(sub)})
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(400, "Bad control request: %s" % exc)

        if action == "expire_tokens":
            return json_response(200, {"ok": True, "expired": state.expire_tokens()})
        if action == "reset_stats":
            state.reset_stats()
            return json_response(200, {"ok": True})
        if action == "reset":
            state.reset()
            return json_response(200, {"ok": True})
        return json_response(200, {"ok": True, "shutting_down": True})

    # -- test helpers (not GCS) --------------------------------------------

    def test_helper(self, method, path, query, headers, body):
        state = self.server.state
        segs = path.split("/")
        if len(segs) < 4 or not segs[3]:
            return error_response(404, "Not Found", "notFound")
        action = segs[2]
        bucket = urllib.parse.unquote(segs[3])
        name = urllib.parse.unquote("/".join(segs[4:])) if len(segs) > 4 else None

        if action in ("object", "exists") and not name:
            return error_response(400, "Missing object name.")

        if action == "object" and method == "PUT":
            resource = state.put_object(bucket, name, body, headers.get("content-type"))
            if resource is None:
                return bucket_not_found(bucket)
            return json_response(200, resource)
        if action in ("object", "exists") and method == "GET":
            with state.lock:
                objects = state.buckets.get(bucket)
                if objects is None:
                    return bucket_not_found(bucket)
                obj = objects.get(name)
                if obj is None:
                    if action == "exists":
                        return json_response(404, {"exists": False})
                    return object_not_found(bucket, name)
                if action == "exists":
                    return json_response(200, {"exists": True})
                return Response(200, obj.data, [("Content-Type", obj.content_type)])
        if action == "objects" and len(segs) == 4 and method in ("GET", "DELETE"):
            prefix = parse_query(query).get("prefix", "")
            with state.lock:
                objects = state.buckets.get(bucket)
                if objects is None:
                    return bucket_not_found(bucket)
                if method == "GET":
                    return json_response(200, sorted(n for n in objects
                                                     if n.startswith(prefix)))
                removed = len(objects)
                objects.clear()
            return json_response(200, {"removed": removed})
        if action == "seed" and len(segs) == 4 and method == "POST":
            try:
                args = json.loads(body.decode("utf-8"))
                names = args["names"]
                data = args.get("data", "")
                if not isinstance(names, list) or not all(isinstance(n, str) and n
                                                          for n in names):
                    raise ValueError
                data = data.encode("utf-8") if isinstance(data, str) else b""
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
                return error_response(400, 'Body must be {"names": [non-empty strings], '
                                      '"data": "optional"}.')
            n = state.seed(bucket, names, data, args.get("contentType"))
            if n is None:
                return bucket_not_found(bucket)
            return json_response(200, {"created": n})
        if action == "bucket" and len(segs) == 4 and method in ("PUT", "DELETE"):
            with state.lock:
                if method == "PUT":
                    state.buckets.setdefault(bucket, {})
                    return json_response(200, {"bucket": bucket})
                if state.buckets.pop(bucket, None) is None:
                    return bucket_not_found(bucket)
            return json_response(200, {"deleted": bucket})
        return error_response(404, "Unknown test endpoint or method.", "notFound")


def _optional_str(args, key):
    value = args.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError("%s must be a string" % key)
    return value


def _count(args):
    count = args.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count == 0:
        raise ValueError("count must be a non-zero integer (negative: unlimited)")
    return count


def parse_fail_rule(args):
    if not isinstance(args, dict):
        raise ValueError("a fault rule must be a JSON object")
    status = args.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or \
            not (status == 0 or 100 <= status <= 599):
        raise ValueError("status must be 0 or an HTTP status code")
    scope = args.get("scope", "request")
    if scope not in FAULT_SCOPES:
        raise ValueError("scope must be one of " + ", ".join(FAULT_SCOPES))
    method = _optional_str(args, "method")
    retry_after = args.get("retry_after")
    if retry_after is not None and not isinstance(retry_after, int):
        raise ValueError("retry_after must be an integer")
    return {"status": status, "count": _count(args), "match": _optional_str(args, "match"),
            "method": method.upper() if method else None, "scope": scope,
            "retry_after": retry_after}


def parse_delay_rule(args):
    if not isinstance(args, dict):
        raise ValueError("a delay rule must be a JSON object")
    ms = args.get("ms")
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        raise ValueError("ms must be a non-negative number")
    method = _optional_str(args, "method")
    return {"ms": ms, "count": _count(args), "match": _optional_str(args, "match"),
            "method": method.upper() if method else None}


# ---------------------------------------------------------------------------
# Main

def write_state_file(path, stats):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(stats, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Test double of the GCS JSON API and the GCE metadata token "
                    "endpoint, for the reset_system tests.")
    parser.add_argument("--port", type=int, required=True,
                        help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--bucket", action="append", default=[],
                        help="bucket that exists (empty) at start; repeatable")
    parser.add_argument("--token-ttl", type=int, default=3600,
                        help="lifetime of issued access tokens, seconds (default 3600)")
    parser.add_argument("--require-auth", action="store_true",
                        help="require a valid Bearer token on storage requests")
    parser.add_argument("--state-file",
                        help="write the final stats here as JSON on shutdown")
    parser.add_argument("--verbose", action="store_true",
                        help="log each request on stderr")
    args = parser.parse_args(argv)
    if args.token_ttl < 0:
        parser.error("--token-ttl must not be negative")

    state = State(args.bucket, args.token_ttl, args.require_auth)
    server = DoubleServer(("127.0.0.1", args.port), state, args.verbose)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.state_file:
            write_state_file(args.state_file, state.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
