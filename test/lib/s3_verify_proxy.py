#!/usr/bin/python3
"""Signature-verifying, fault-injecting reverse proxy for S3 test servers.

The test suite runs against a local S3 emulator (s3rver) that accepts any
AWS Signature Version 4 request without checking the signature.  This proxy
sits between the code under test and the emulator and:

  * recomputes the SigV4 signature of every request with botocore's own
    signer (independently of the code under test) and rejects requests
    whose signature, credential scope, payload hash or Content-MD5 is
    wrong, the way Amazon S3 does;
  * rejects DeleteObjects (POST ?delete) requests that carry neither a
    Content-MD5 nor an x-amz-checksum-* header, as S3 does;
  * forwards valid requests to the emulator and relays the responses;
  * injects faults on request (whole-request errors, per-key errors in
    DeleteObjects responses, access denials, delays, dropped connections)
    and keeps request statistics, both driven through control endpoints
    under /_control/ on the proxy itself.

Usage:
  /usr/bin/python3 s3_verify_proxy.py --listen-port 0 \\
      --upstream http://127.0.0.1:4568 --access-key S3RVER \\
      --secret-key S3RVER --region us-east-1 [--log FILE]

Once listening it prints one line "READY <port>" on stdout.

The canonical URI and query string are computed the way S3 does: the path
and each query name/value are percent-decoded and re-encoded (RFC 3986
unreserved characters kept), and the query parameters are sorted.  A client
that percent-encodes keys canonically therefore signs exactly what it sends;
one that sends e.g. "=" unencoded, or an unsorted or "delete" (instead of
"delete=") query, is rejected with a message saying so.  Other options:
--raw-path (sign the path and query exactly as received instead),
--session-token TOKEN (require this x-amz-security-token),
--max-skew SECONDS (default 900; 0 disables the clock check),
--emulate-quiet (drop <Deleted> entries from Quiet DeleteObjects responses,
as S3 does; s3rver always lists every key as deleted).

Control API (JSON bodies, no signature needed, never forwarded):
  POST /_control/fail       {"status": 503, "count": 3, "match": "...",
                             "method": "POST", "op": "delete_objects",
                             "skip": 0, "code": "SlowDown", "message": "...",
                             "retry_after": 1}
        The next `count` matching requests (after `skip` matching ones have
        passed) get `status` with an S3 XML error and are not forwarded.
        status 0 closes the client connection without any response.
  POST /_control/key_errors {"match": "...", "count": N, "code": "InternalError",
                             "message": "injected"}
        In the next N DeleteObjects requests that contain keys matching
        `match`, those keys are removed from the forwarded request and
        reported as <Error> entries in the 200 DeleteResult.
  POST /_control/forbid     {"match": "...", "count": -1}
        Matching single-object/list requests get 403 AccessDenied; matching
        keys in DeleteObjects get per-key AccessDenied errors.
  POST /_control/delay      {"ms": N, "count": M, "match": "...", "method": ...}
  GET  /_control/stats      request counters (see Stats.snapshot)
  GET  /_control/requests   the most recent requests (method, path, status, ...)
  POST /_control/reset      clear all rules and counters

  For all rules: "match" is a substring tested against the decoded path,
  the path as sent, the decoded query string and (for DeleteObjects) each
  key in the request body; omitted or empty matches everything.  "count"
  defaults to 1; a negative count never runs out (until reset), except for
  forbid, which defaults to -1.  "method" and "op" (one of delete_objects,
  delete, list, put, get, head, post, other) restrict a rule further.

Only the Python 3 standard library and botocore are used (Debian's
python3-botocore), so run it with /usr/bin/python3.
"""

import argparse
import base64
import binascii
import calendar
import collections
import hashlib
import http.client
import json
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from s3_checksums import CHECKSUMS

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate",
    "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding",
    "upgrade", "expect",
}
DEFAULT_ERROR_CODES = {
    400: "BadRequest", 403: "AccessDenied", 404: "NoSuchKey",
    409: "OperationAborted", 429: "SlowDown", 500: "InternalError",
    501: "NotImplemented", 502: "BadGateway", 503: "SlowDown",
    504: "GatewayTimeout",
}
DEFAULT_ERROR_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "AccessDenied": "Access Denied",
    "ServiceUnavailable": "Service is unable to handle request.",
}
# Bucket-level query parameters that are not listings.
BUCKET_SUBRESOURCES = {
    "acl", "accelerate", "analytics", "cors", "encryption", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification",
    "ownershipControls", "policy", "policyStatus", "publicAccessBlock",
    "replication", "requestPayment", "tagging", "uploads", "versioning",
    "website", "object-lock", "intelligent-tiering",
}
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")


def xml_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def error_xml(code, message, resource="", extra=None):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
             "<Code>%s</Code>" % xml_escape(code),
             "<Message>%s</Message>" % xml_escape(message)]
    for name, value in (extra or {}).items():
        parts.append("<%s>%s</%s>" % (name, xml_escape(value), name))
    if resource:
        parts.append("<Resource>%s</Resource>" % xml_escape(resource))
    parts.append("<RequestId>%s</RequestId>" % uuid.uuid4().hex[:16].upper())
    parts.append("</Error>")
    return "".join(parts).encode("utf-8")


def uri_encode(raw, safe):
    """AWS UriEncode of the percent-decoded form of `raw`."""
    return urllib.parse.quote(urllib.parse.unquote_to_bytes(raw), safe=safe)


def canonical_path(raw_path):
    # S3 decodes the request path and encodes every byte except the
    # unreserved characters and '/' once, so a client must sign exactly
    # that form (sending "=" or "@" unencoded but signing it unencoded
    # fails on S3).
    return uri_encode(raw_path, "/~") or "/"


def canonical_query(raw_query):
    pairs = []
    for piece in raw_query.split("&"):
        if piece == "":
            continue
        key, _, value = piece.partition("=")
        pairs.append((uri_encode(key, "-_.~"), uri_encode(value, "-_.~")))
    return "&".join("%s=%s" % pair for pair in sorted(pairs))


class Reject(Exception):
    """A request that fails verification."""

    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


class _ExactHeadersSigner(S3SigV4Auth):
    """botocore's S3 SigV4 signer, limited to the headers the client signed.

    botocore normally chooses the headers to sign itself (and leaves out
    e.g. User-Agent); when verifying, the set is the one named in the
    client's SignedHeaders.  Everything else (canonical request, string to
    sign, key derivation, HMAC) is botocore's code.
    """

    verbatim_query = None

    def canonical_query_string(self, request):
        if self.verbatim_query is not None:
            return self.verbatim_query
        return super().canonical_query_string(request)

    def headers_to_sign(self, request):
        header_map = HTTPHeaders()
        for name, value in request.headers.items():
            header_map[name.lower()] = value
        return header_map


def botocore_signature(secret_key, access_key, region, method, path, query,
                       header_pairs, amz_date, token=None, verbatim_query=False):
    url = "http://verify.invalid" + path + ("?" + query if query else "")
    request = AWSRequest(method=method, url=url)
    request.headers = HTTPHeaders()
    for name, value in header_pairs:
        request.headers[name] = value  # appends; repeated headers are kept
    request.context["timestamp"] = amz_date
    signer = _ExactHeadersSigner(Credentials(access_key, secret_key, token),
                                 "s3", region)
    if verbatim_query:
        # Diagnostics only: the query string as written, unsorted.
        signer.verbatim_query = query
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return signer.signature(string_to_sign, request), canonical, string_to_sign


def header_text(value):
    # http.server decodes header bytes as ISO-8859-1; recover the UTF-8
    # text the client signed.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class Verifier:
    def __init__(self, keys, region, session_token=None, max_skew=900,
                 raw_path=False):
        self.keys = keys
        self.region = region
        self.session_token = session_token
        self.max_skew = max_skew
        self.raw_path = raw_path

    def verify(self, method, raw_path, raw_query, headers, body):
        """Raise Reject unless the request is correctly signed."""
        query_params = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        if "X-Amz-Signature" in query_params or "X-Amz-Credential" in query_params:
            raise Reject(403, "SignatureDoesNotMatch",
                         "query-string (presigned) authentication is not "
                         "supported by the test proxy")
        auth_values = headers.get_all("Authorization") or []
        if not auth_values:
            raise Reject(403, "SignatureDoesNotMatch",
                         "missing Authorization header")
        if len(auth_values) > 1:
            raise Reject(403, "SignatureDoesNotMatch",
                         "more than one Authorization header")
        match = AUTH_RE.match(auth_values[0].strip())
        if not match:
            raise Reject(403, "SignatureDoesNotMatch",
                         "Authorization is not AWS4-HMAC-SHA256: %r"
                         % auth_values[0][:60])
        fields = {}
        for part in match.group(1).split(","):
            name, sep, value = part.strip().partition("=")
            if not sep or name in fields:
                raise Reject(403, "SignatureDoesNotMatch",
                             "malformed Authorization header component %r"
                             % part.strip())
            fields[name] = value.strip()
        for name in ("Credential", "SignedHeaders", "Signature"):
            if not fields.get(name):
                raise Reject(403, "SignatureDoesNotMatch",
                             "Authorization header lacks %s" % name)
        if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
            raise Reject(403, "SignatureDoesNotMatch",
                         "unexpected Authorization components %s"
                         % sorted(set(fields) - {"Credential", "SignedHeaders",
                                                 "Signature"}))
        credential = fields["Credential"].split("/")
        if len(credential) != 5:
            raise Reject(403, "SignatureDoesNotMatch",
                         "malformed Credential %r" % fields["Credential"])
        access_key, scope_date, scope_region, service, terminator = credential
        if access_key not in self.keys:
            raise Reject(403, "SignatureDoesNotMatch",
                         "unknown access key %r" % access_key,
                         extra={"AWSAccessKeyId": access_key})
        if service != "s3" or terminator != "aws4_request":
            raise Reject(403, "SignatureDoesNotMatch",
                         "credential scope must end in s3/aws4_request, got "
                         "%s/%s" % (service, terminator))
        if scope_region != self.region:
            raise Reject(403, "SignatureDoesNotMatch",
                         "credential scope region %r, expected %r"
                         % (scope_region, self.region))

        amz_date = headers.get("X-Amz-Date")
        if not amz_date or not AMZ_DATE_RE.match(amz_date.strip()):
            raise Reject(403, "SignatureDoesNotMatch",
                         "missing or malformed X-Amz-Date header: %r"
                         % amz_date)
        amz_date = amz_date.strip()
        if scope_date != amz_date[:8]:
            raise Reject(403, "SignatureDoesNotMatch",
                         "credential scope date %s does not match X-Amz-Date %s"
                         % (scope_date, amz_date))
        if self.max_skew:
            request_time = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
            if abs(time.time() - request_time) > self.max_skew:
                raise Reject(403, "RequestTimeTooSkewed",
                             "The difference between the request time and the "
                             "current time is too large.",
                             extra={"RequestTime": amz_date})

        signed = fields["SignedHeaders"].split(";")
        if signed != sorted(signed) or any(n != n.lower() or not n for n in signed):
            raise Reject(403, "SignatureDoesNotMatch",
                         "SignedHeaders must be lower case and sorted: %r"
                         % fields["SignedHeaders"])
        signed_set = set(signed)
        if "host" not in signed_set:
            raise Reject(403, "SignatureDoesNotMatch",
                         "the host header is not signed")
        present = {name.lower() for name in headers.keys()}
        unsigned_amz = sorted(n for n in present
                              if n.startswith("x-amz-") and n not in signed_set)
        if unsigned_amz:
            raise Reject(403, "AccessDenied",
                         "There were headers present in the request which "
                         "were not signed: %s" % ", ".join(unsigned_amz))
        missing = sorted(n for n in signed_set if n not in present)
        if missing:
            raise Reject(403, "SignatureDoesNotMatch",
                         "signed headers absent from the request: %s"
                         % ", ".join(missing))

        content_sha = headers.get("x-amz-content-sha256")
        if content_sha is None:
            raise Reject(400, "InvalidRequest",
                         "Missing required header for this request: "
                         "x-amz-content-sha256")

        token = headers.get("x-amz-security-token")
        if self.session_token is not None and token != self.session_token:
            raise Reject(403, "InvalidToken",
                         "The provided token is malformed or otherwise invalid."
                         if token else "missing x-amz-security-token")

        header_pairs = []
        for name, value in headers.items():
            if name.lower() in signed_set:
                header_pairs.append((name.lower(), header_text(value)))
        secret = self.keys[access_key]
        provided = fields["Signature"]
        if self.raw_path:
            path, query = raw_path or "/", raw_query
        else:
            path, query = canonical_path(raw_path), canonical_query(raw_query)
        computed, canonical, string_to_sign = botocore_signature(
            secret, access_key, self.region, method, path, query,
            header_pairs, amz_date, token)
        if computed != provided:
            message = "signature mismatch (computed %s, provided %s)" % (
                computed, provided)
            if not self.raw_path:
                # Find out whether the client signed the URL as written
                # (not re-encoded, query parameters not sorted).
                for verbatim in (False, True):
                    as_sent, _, _ = botocore_signature(
                        secret, access_key, self.region, method,
                        raw_path or "/", raw_query, header_pairs, amz_date,
                        token, verbatim_query=verbatim)
                    if as_sent == provided:
                        message = (
                            "URL not canonically encoded: the client signed "
                            "the path and query as written (%r); S3 signs the "
                            "canonical form (%r)" % (
                                raw_path + ("?" + raw_query if raw_query else ""),
                                path + ("?" + query if query else "")))
                        break
            raise Reject(403, "SignatureDoesNotMatch", message,
                         extra={"AWSAccessKeyId": access_key,
                                "StringToSign": string_to_sign,
                                "SignatureProvided": provided,
                                "CanonicalRequest": canonical})

        # The signature covers the x-amz-content-sha256 value; check that
        # the value describes the body.
        if content_sha != UNSIGNED_PAYLOAD:
            if content_sha.startswith("STREAMING-"):
                raise Reject(400, "NotImplemented",
                             "streaming payload signing (%s) is not supported "
                             "by the test proxy" % content_sha)
            actual = hashlib.sha256(body).hexdigest()
            if content_sha.lower() != actual:
                raise Reject(400, "XAmzContentSHA256Mismatch",
                             "The provided 'x-amz-content-sha256' header does "
                             "not match what was computed.",
                             extra={"ClientComputedContentSHA256": content_sha,
                                    "S3ComputedContentSHA256": actual})

        md5 = headers.get("Content-MD5")
        if md5 is not None:
            try:
                digest = base64.b64decode(md5.strip(), validate=True)
            except (binascii.Error, ValueError):
                digest = b""
            if len(digest) != 16:
                raise Reject(400, "InvalidDigest",
                             "The Content-MD5 you specified was invalid.")
            if digest != hashlib.md5(body).digest():
                raise Reject(400, "BadDigest",
                             "The Content-MD5 you specified did not match what "
                             "we received.")
        for name, func in CHECKSUMS.items():
            value = headers.get(name)
            if value is not None and value.strip() != base64.b64encode(func(body)).decode():
                raise Reject(400, "BadDigest",
                             "The %s you specified did not match the calculated "
                             "checksum." % name)
        return access_key


class Rule:
    def __init__(self, kind, spec, default_count=1):
        self.kind = kind
        self.spec = spec
        self.match = str(spec.get("match") or "")
        self.method = (spec.get("method") or "").upper() or None
        self.op = spec.get("op") or None
        count = spec.get("count", default_count)
        self.count = default_count if count is None else int(count)
        self.skip = int(spec.get("skip", 0) or 0)

    def active(self):
        return self.count != 0

    def consume(self):
        if self.count > 0:
            self.count -= 1

    def applies_to(self, info):
        if self.method and info["method"] != self.method:
            return False
        if self.op and info["op"] != self.op:
            return False
        return True

    def matches_request(self, info):
        if not self.match:
            return True
        return any(self.match in text for text in info["match_texts"])

    def matches_key(self, key):
        return not self.match or self.match in key

    def describe(self):
        out = dict(self.spec)
        out.update(kind=self.kind, remaining=self.count, skip=self.skip)
        return out


class State:
    RECENT = 2000

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            in_flight = getattr(self, "stats", {}).get("in_flight", 0)
            self.rules = []
            self.stats = {
                "total_requests": 0,
                "by_method": collections.Counter(),
                "by_op": collections.Counter(),
                "by_status": collections.Counter(),
                "delete_objects_requests": 0,
                "keys_in_delete_requests": 0,
                "keys_forwarded_for_deletion": 0,
                "delete_requests": 0,
                "list_requests": 0,
                "put_requests": 0,
                "get_requests": 0,
                "head_requests": 0,
                "forwarded_requests": 0,
                "signature_failures": 0,
                "failure_reasons": [],
                "verification_failures_by_code": collections.Counter(),
                "injected_failures": 0,
                "injected_key_errors": 0,
                "forbidden_requests": 0,
                "forbidden_keys": 0,
                "injected_delays": 0,
                "dropped_connections": 0,
                "upstream_errors": 0,
                "max_concurrent": 0,
                "in_flight": in_flight,
            }
            self.recent = collections.deque(maxlen=self.RECENT)

    def begin(self, info):
        with self.lock:
            s = self.stats
            s["total_requests"] += 1
            s["by_method"][info["method"]] += 1
            s["by_op"][info["op"]] += 1
            if info["op"] == "delete_objects":
                s["delete_objects_requests"] += 1
                s["keys_in_delete_requests"] += len(info["keys"])
            elif info["op"] in ("delete", "list", "put", "get", "head"):
                s[info["op"] + "_requests"] += 1
            s["in_flight"] += 1
            s["max_concurrent"] = max(s["max_concurrent"], s["in_flight"])

    def end(self, record):
        with self.lock:
            self.stats["in_flight"] -= 1
            self.stats["by_status"][str(record["status"])] += 1
            self.recent.append(record)

    def count(self, name, amount=1):
        with self.lock:
            self.stats[name] += amount

    def verification_failure(self, info, reject):
        with self.lock:
            s = self.stats
            s["signature_failures"] += 1
            s["verification_failures_by_code"][reject.code] += 1
            if len(s["failure_reasons"]) < 20:
                s["failure_reasons"].append({
                    "method": info["method"], "path": info["raw_target"][:300],
                    "code": reject.code, "reason": reject.message[:500]})

    def add_rule(self, rule):
        with self.lock:
            self.rules.append(rule)

    def take_request_rule(self, kind, info):
        """First active rule of `kind` matching the whole request (consumed)."""
        with self.lock:
            for rule in self.rules:
                if rule.kind != kind or not rule.active() or not rule.applies_to(info):
                    continue
                if not rule.matches_request(info):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                rule.consume()
                return rule
        return None

    def key_verdicts(self, info):
        """For DeleteObjects: {key: (code, message)} for forbidden/failing keys."""
        verdicts = {}
        with self.lock:
            for kind in ("forbid", "key_errors"):
                for rule in self.rules:
                    if rule.kind != kind or not rule.active() or not rule.applies_to(info):
                        continue
                    hit = [k for k in info["keys"]
                           if k not in verdicts and rule.matches_key(k)]
                    if not hit:
                        continue
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.consume()
                    if kind == "forbid":
                        code = rule.spec.get("code") or "AccessDenied"
                        message = rule.spec.get("message") or "Access Denied"
                    else:
                        code = rule.spec.get("code") or "InternalError"
                        message = rule.spec.get("message") or "injected"
                    for key in hit:
                        verdicts[key] = (kind, code, message)
        return verdicts

    def snapshot(self):
        with self.lock:
            out = {}
            for name, value in self.stats.items():
                if isinstance(value, collections.Counter):
                    out[name] = dict(value)
                elif isinstance(value, list):
                    out[name] = list(value)
                else:
                    out[name] = value
            out["rules"] = [r.describe() for r in self.rules if r.active()]
            return out

    def recent_requests(self, limit):
        with self.lock:
            items = list(self.recent)
        return items[-limit:] if limit else items


def parse_delete_body(body):
    """Return (quiet, [(key, version_id)]) or None when the XML is unusable."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None

    def local(tag):
        return tag.rsplit("}", 1)[-1]

    if local(root.tag) != "Delete":
        return None
    quiet = False
    objects = []
    for child in root:
        name = local(child.tag)
        if name == "Quiet":
            quiet = (child.text or "").strip().lower() == "true"
        elif name == "Object":
            key = None
            version = None
            for item in child:
                if local(item.tag) == "Key":
                    key = item.text or ""
                elif local(item.tag) == "VersionId":
                    version = item.text
            if key is not None:
                objects.append((key, version))
    return quiet, objects


def build_delete_body(quiet, objects):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="%s">' % S3_XMLNS]
    if quiet:
        parts.append("<Quiet>true</Quiet>")
    for key, version in objects:
        parts.append("<Object><Key>%s</Key>" % xml_escape(key))
        if version is not None:
            parts.append("<VersionId>%s</VersionId>" % xml_escape(version))
        parts.append("</Object>")
    parts.append("</Delete>")
    return "".join(parts).encode("utf-8")


def key_error_xml(key, code, message):
    return ("<Error><Key>%s</Key><Code>%s</Code><Message>%s</Message></Error>"
            % (xml_escape(key), xml_escape(code), xml_escape(message)))


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3-verify-proxy"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------

    def setup(self):
        super().setup()
        self.upstream_conn = None
        # headers and body go out in separate writes: without TCP_NODELAY,
        # Nagle and the client's delayed ACK add ~40 ms to every answer
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream_conn is not None:
                self.upstream_conn.close()
                self.upstream_conn = None

    def log_message(self, fmt, *args):  # silence the default stderr log
        pass

    def do_GET(self):
        self.handle_any()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_raw(self, status, headers, body, reason=None):
        no_body = 100 <= status < 200 or status in (204, 304)
        self.send_response_only(status, reason)
        length = None
        for name, value in headers:
            lname = name.lower()
            if lname in HOP_BY_HOP:
                continue
            if lname == "content-length":
                length = value  # only used for HEAD, see below
                continue
            self.send_header(name, value)
        if not no_body:
            if self.command == "HEAD" and length is not None:
                self.send_header("Content-Length", length)
            else:
                self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body and not no_body:
            self.wfile.write(body)
        self.wfile.flush()
        return status

    def send_xml_error(self, status, code, message, resource="", extra=None,
                       headers=None):
        body = error_xml(code, message, resource, extra)
        hdrs = [("Content-Type", "application/xml"),
                ("Date", self.date_time_string())] + list(headers or [])
        self.send_raw(status, hdrs, body)
        return status

    def send_json(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
        self.send_raw(status, [("Content-Type", "application/json")], body)

    # -- request handling -------------------------------------------------

    def handle_any(self):
        started = time.time()
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send_xml_error(400, "IncompleteBody", "could not read request body")
            return
        target = self.path
        if target.startswith("http://") or target.startswith("https://"):
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        raw_path, _, raw_query = target.partition("?")
        if raw_path.startswith("/_control/"):
            self.handle_control(raw_path, raw_query, body)
            return
        info = self.describe(raw_path, raw_query, body)
        state = self.server.state
        state.begin(info)
        record = {"time": round(started, 3), "method": self.command,
                  "path": target, "op": info["op"], "status": None,
                  "signature_ok": False, "note": ""}
        try:
            record["status"] = self.process(info, raw_path, raw_query, body, record)
        except Exception as exc:  # keep serving; report the failure
            record["note"] = "proxy error: %r" % (exc,)
            record["status"] = 500
            try:
                self.close_connection = True
                self.send_xml_error(500, "InternalError", "proxy error: %r" % (exc,))
            except OSError:
                pass
        finally:
            record["ms"] = round((time.time() - started) * 1000, 1)
            state.end(record)
            self.server.log_request_record(record)

    def describe(self, raw_path, raw_query, body):
        method = self.command
        params = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        segments = raw_path.lstrip("/").split("/", 1)
        if host.endswith(".localhost"):
            bucket = host[: -len(".localhost")]
            key = urllib.parse.unquote(raw_path.lstrip("/"))
        else:
            bucket = urllib.parse.unquote(segments[0]) if segments[0] else ""
            key = urllib.parse.unquote(segments[1]) if len(segments) > 1 else ""
        keys = []
        delete_parsed = None
        if method == "POST" and "delete" in params and bucket and not key:
            op = "delete_objects"
            delete_parsed = parse_delete_body(body)
            if delete_parsed is not None:
                keys = [k for k, _ in delete_parsed[1]]
        elif method == "GET" and bucket and not key and not (set(params) & BUCKET_SUBRESOURCES):
            op = "list"
        elif method == "DELETE" and key:
            op = "delete"
        elif method == "PUT" and key:
            op = "put"
        elif method == "GET" and key:
            op = "get"
        elif method == "HEAD":
            op = "head"
        elif method == "POST":
            op = "post"
        else:
            op = "other"
        match_texts = [raw_path, urllib.parse.unquote(raw_path),
                       urllib.parse.unquote(raw_query)]
        return {"method": method, "op": op, "bucket": bucket, "key": key,
                "keys": keys, "delete": delete_parsed, "match_texts": match_texts,
                "raw_target": self.path}

    def process(self, info, raw_path, raw_query, body, record):
        state = self.server.state
        resource = urllib.parse.unquote(raw_path)
        try:
            self.server.verifier.verify(self.command, raw_path, raw_query,
                                        self.headers, body)
            if info["op"] == "delete_objects":
                has_checksum = self.headers.get("Content-MD5") is not None or any(
                    self.headers.get(h) is not None for h in CHECKSUMS)
                if not has_checksum:
                    raise Reject(400, "InvalidRequest",
                                 "Missing required header for this request: "
                                 "Content-Md5")
        except Reject as rej:
            state.verification_failure(info, rej)
            record["note"] = "%s: %s" % (rej.code, rej.message[:300])
            return self.send_xml_error(rej.status, rej.code, rej.message,
                                       resource, rej.extra)
        record["signature_ok"] = True

        delay = state.take_request_rule("delay", _with_keys(info))
        if delay is not None:
            state.count("injected_delays")
            time.sleep(max(0, float(delay.spec.get("ms", 0))) / 1000.0)

        # For DeleteObjects a forbid rule matching the path or query denies
        # the whole request; one matching only keys denies those keys.
        forbid = state.take_request_rule("forbid", info)
        if forbid is not None:
            state.count("forbidden_requests")
            record["note"] = "injected forbid"
            return self.send_xml_error(
                403, forbid.spec.get("code") or "AccessDenied",
                forbid.spec.get("message") or "Access Denied", resource)

        fail = state.take_request_rule("fail", _with_keys(info))
        if fail is not None:
            state.count("injected_failures")
            status = int(fail.spec.get("status", 503))
            if status == 0:
                state.count("dropped_connections")
                record["note"] = "injected connection drop"
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return 0
            code = fail.spec.get("code") or DEFAULT_ERROR_CODES.get(status, "InternalError")
            message = fail.spec.get("message") or DEFAULT_ERROR_MESSAGES.get(code, "injected failure")
            extra_headers = []
            if fail.spec.get("retry_after") is not None:
                extra_headers.append(("Retry-After", str(fail.spec["retry_after"])))
            record["note"] = "injected %d %s" % (status, code)
            return self.send_xml_error(status, code, message, resource,
                                       headers=extra_headers)

        injected = {}
        forward_body = body
        forward_headers = [(n, v) for n, v in self.headers.items()]
        if info["op"] == "delete_objects" and info["delete"] is not None:
            injected = state.key_verdicts(info)
            if injected:
                quiet, objects = info["delete"]
                remaining = [(k, v) for k, v in objects if k not in injected]
                for kind, _, _ in injected.values():
                    state.count("forbidden_keys" if kind == "forbid" else "injected_key_errors")
                errors = "".join(key_error_xml(k, code, msg)
                                 for k, (_, code, msg) in injected.items())
                record["note"] = "injected %d key errors" % len(injected)
                if not remaining:
                    result = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                              '<DeleteResult xmlns="%s">%s</DeleteResult>'
                              % (S3_XMLNS, errors)).encode("utf-8")
                    return self.send_raw(200, [("Content-Type", "application/xml"),
                                               ("Date", self.date_time_string())],
                                         result)
                forward_body = build_delete_body(quiet, remaining)
                forward_headers = _replace_headers(forward_headers, {
                    "content-md5": base64.b64encode(hashlib.md5(forward_body).digest()).decode(),
                    "x-amz-content-sha256": hashlib.sha256(forward_body).hexdigest(),
                }, drop=set(CHECKSUMS))
                info = dict(info, forwarded_keys=len(remaining))
        if info["op"] == "delete_objects":
            state.count("keys_forwarded_for_deletion",
                        info.get("forwarded_keys", len(info["keys"])))

        try:
            status, reason, resp_headers, resp_body = self.forward(
                raw_path, raw_query, forward_headers, forward_body)
        except (OSError, http.client.HTTPException) as exc:
            state.count("upstream_errors")
            record["note"] = "upstream error: %r" % (exc,)
            return self.send_xml_error(502, "BadGateway",
                                       "upstream request failed: %r" % (exc,),
                                       resource)
        state.count("forwarded_requests")
        if injected and status == 200:
            errors = "".join(key_error_xml(k, code, msg)
                             for k, (_, code, msg) in injected.items())
            text = resp_body.decode("utf-8", "replace")
            pos = text.rfind("</DeleteResult>")
            if pos >= 0:
                resp_body = (text[:pos] + errors + text[pos:]).encode("utf-8")
        if self.server.emulate_quiet and info["op"] == "delete_objects" \
                and status == 200 and info["delete"] is not None and info["delete"][0]:
            resp_body = re.sub(rb"<Deleted>.*?</Deleted>", b"", resp_body, flags=re.S)
        self.send_raw(status, resp_headers, resp_body, reason)
        return status

    def forward(self, raw_path, raw_query, headers, body):
        target = self.server.upstream_prefix + raw_path + ("?" + raw_query if raw_query else "")
        out_headers = [(n, v) for n, v in headers
                       if n.lower() not in HOP_BY_HOP and n.lower() != "content-length"]
        if body or self.command in ("PUT", "POST"):
            out_headers.append(("Content-Length", str(len(body))))
        for attempt in (0, 1):
            reused = self.upstream_conn is not None
            if self.upstream_conn is None:
                self.upstream_conn = http.client.HTTPConnection(
                    self.server.upstream_host, self.server.upstream_port,
                    timeout=self.server.upstream_timeout)
            conn = self.upstream_conn
            try:
                conn.putrequest(self.command, target, skip_host=True,
                                skip_accept_encoding=True)
                for name, value in out_headers:
                    conn.putheader(name, value.encode("latin-1", "replace")
                                   if isinstance(value, str) else value)
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                resp_body = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.BadStatusLine):
                conn.close()
                self.upstream_conn = None
                if reused and attempt == 0:
                    continue  # stale keep-alive connection; retry once
                raise
            except Exception:
                conn.close()
                self.upstream_conn = None
                raise
            if resp.will_close:
                conn.close()
                self.upstream_conn = None
            return resp.status, resp.reason, resp.getheaders(), resp_body
        raise OSError("unreachable")

    # -- control API ------------------------------------------------------

    def handle_control(self, raw_path, raw_query, body):
        state = self.server.state
        name = raw_path[len("/_control/"):].strip("/")
        try:
            spec = json.loads(body.decode("utf-8")) if body.strip() else {}
            if not isinstance(spec, dict):
                raise ValueError("JSON object expected")
        except ValueError as exc:
            self.send_json(400, {"error": "bad JSON: %s" % exc})
            return
        if self.command == "GET" and name == "stats":
            self.send_json(200, state.snapshot())
        elif self.command == "GET" and name == "requests":
            params = urllib.parse.parse_qs(raw_query)
            limit = int(params.get("limit", ["0"])[0] or 0)
            self.send_json(200, state.recent_requests(limit))
        elif self.command == "POST" and name == "reset":
            state.reset()
            self.send_json(200, {"ok": True})
        elif self.command == "POST" and name in ("fail", "key_errors", "forbid", "delay"):
            default_count = -1 if name == "forbid" else 1
            rule = Rule(name, spec, default_count)
            if name == "fail":
                rule.spec.setdefault("status", 503)
            state.add_rule(rule)
            self.send_json(200, {"ok": True, "rule": rule.describe()})
        else:
            self.send_json(404, {"error": "unknown control endpoint %s %s"
                                 % (self.command, raw_path)})


def _with_keys(info):
    """match_texts for fail rules also cover DeleteObjects keys."""
    if info["keys"]:
        return dict(info, match_texts=info["match_texts"] + info["keys"])
    return info


def _replace_headers(headers, replacements, drop=()):
    out = [(n, v) for n, v in headers
           if n.lower() not in replacements and n.lower() not in drop]
    for name, value in replacements.items():
        if any(n.lower() == name for n, _ in headers):
            out.append((name, value))
    return out


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, args):
        super().__init__(address, ProxyHandler)
        upstream = urllib.parse.urlsplit(args.upstream)
        if upstream.scheme != "http":
            raise SystemExit("--upstream must be an http:// URL")
        self.upstream_host = upstream.hostname
        self.upstream_port = upstream.port or 80
        self.upstream_prefix = upstream.path.rstrip("/")
        self.upstream_timeout = args.upstream_timeout
        if len(args.access_key) != len(args.secret_key):
            raise SystemExit("give one --secret-key per --access-key")
        self.verifier = Verifier(dict(zip(args.access_key, args.secret_key)),
                                 args.region, args.session_token,
                                 args.max_skew, args.raw_path)
        self.emulate_quiet = args.emulate_quiet
        self.state = State()
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", buffering=1, encoding="utf-8") if args.log else None

    def log_request_record(self, record):
        if self.log_file is None:
            return
        line = "%s %s %s -> %s sig=%s %sms%s\n" % (
            time.strftime("%H:%M:%S", time.localtime(record["time"])),
            record["method"], record["path"], record["status"],
            "ok" if record["signature_ok"] else "FAIL", record.get("ms"),
            (" " + record["note"]) if record["note"] else "")
        with self.log_lock:
            self.log_file.write(line)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="SigV4-verifying, fault-injecting reverse proxy for S3 tests")
    parser.add_argument("--listen-port", type=int, default=0)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--upstream", required=True,
                        help="upstream base URL, e.g. http://127.0.0.1:4568")
    parser.add_argument("--access-key", action="append", required=True)
    parser.add_argument("--secret-key", action="append", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--session-token", default=None,
                        help="if given, require this x-amz-security-token")
    parser.add_argument("--max-skew", type=int, default=900,
                        help="allowed clock skew in seconds (0: unchecked)")
    parser.add_argument("--raw-path", action="store_true",
                        help="verify against the path/query exactly as sent "
                             "instead of the S3 canonical (decoded and "
                             "re-encoded) form")
    parser.add_argument("--emulate-quiet", action="store_true",
                        help="drop <Deleted> entries from DeleteObjects "
                             "responses when the request asked for Quiet mode")
    parser.add_argument("--upstream-timeout", type=float, default=120.0)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)

    server = ProxyServer((args.listen_host, args.listen_port), args)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
