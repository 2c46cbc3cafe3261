#!/usr/bin/python3
"""s3_double.py: a TEST DOUBLE of Amazon S3 for the reset_system tests.

This is NOT Amazon S3 and not a general-purpose S3 emulator.  It is a small
in-memory HTTP server, written for the reset_system integration tests, that
answers the part of the S3 REST API that the extension's "s3" storage
backend and the tests use, the way Amazon S3 answers it.

Why it exists: the tests normally run the S3 backend against s3rver (an npm
package), but a CI machine may reach no registry other than Debian's apt, and
Debian ships no S3 server that can be started for a test (radosgw needs a
whole Ceph cluster; MinIO, moto, LocalStack and s3rver are not packaged).
So this double, written with the Python 3 standard library only, stands in.
It is meant to run behind test/lib/s3_verify_proxy.py, which verifies the
SigV4 signature and Content-MD5 of each request and injects faults; the
double itself checks no signature.

Usage:
  /usr/bin/python3 test/lib/s3_double.py --port PORT [--bucket NAME ...]
                                         [--verbose] [--host 127.0.0.1]

It listens on 127.0.0.1 (port 0 picks a free port), prints exactly one line
"READY <port>" on stdout and nothing else there, logs to stderr only with
--verbose, and exits 0 on SIGTERM or SIGINT.  Objects live in memory only.
Buckets named with --bucket exist from the start.

S3 API implemented (path-style addressing only: /BUCKET and /BUCKET/KEY; the
key is percent-decoded once from the path as UTF-8, "/" is kept, and "+" is
a plus sign, never a space; the same holds for query values):

  GET    /                               ListBuckets
  PUT    /BUCKET                         CreateBucket (the body, a
                                         CreateBucketConfiguration, is
                                         ignored); 200 again if it exists
                                         (the us-east-1 behaviour)
  HEAD   /BUCKET                         HeadBucket (404 without body)
  DELETE /BUCKET                         DeleteBucket (409 BucketNotEmpty)
  GET    /BUCKET?location                GetBucketLocation (always empty,
                                         i.e. us-east-1)
  GET    /BUCKET?list-type=2&...         ListObjectsV2: prefix, delimiter
                                         (CommonPrefixes), max-keys (default
                                         and cap 1000), continuation-token
                                         (opaque), start-after, fetch-owner,
                                         encoding-type=url
  GET    /BUCKET?...                     ListObjects (v1): prefix, delimiter,
                                         marker, max-keys, encoding-type=url;
                                         NextMarker only with a delimiter
  POST   /BUCKET?delete                  DeleteObjects (also "?delete=")
  PUT    /BUCKET/KEY                     PutObject; ETag = quoted MD5 hex;
                                         Content-Type, Content-Encoding,
                                         Content-Disposition, Cache-Control
                                         and x-amz-meta-* are kept; honours
                                         If-None-Match: *
  GET    /BUCKET/KEY                     GetObject: one byte Range (206/416),
                                         If-Match / If-None-Match
  HEAD   /BUCKET/KEY                     HeadObject (404 without body)
  DELETE /BUCKET/KEY                     DeleteObject: 204 whether or not the
                                         key existed

  Keys are listed in UTF-8 binary order.  Keys up to 1024 UTF-8 bytes.

  Request checks, as S3 makes them:
  * a request with an "Authorization: AWS4-HMAC-SHA256 ..." header must carry
    x-amz-content-sha256 (400 InvalidRequest, as s3rver); requests without
    an Authorization header are anonymous and need not (as s3rver);
  * x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-* or 64 hex
    digits (400 InvalidArgument), and a hex value must be the SHA-256 of the
    body (400 XAmzContentSHA256Mismatch).  STREAMING-* bodies are decoded
    from the aws-chunked encoding; chunk signatures are not checked;
  * Content-MD5 and x-amz-checksum-{crc32,crc32c,sha1,sha256}, when given,
    must match the body (400 InvalidDigest / BadDigest);
  * DeleteObjects needs Content-MD5 unless an x-amz-checksum-* header is
    present (400 InvalidRequest "Missing required header for this request:
    Content-MD5"), at most 1000 keys and a valid <Delete> document (400
    MalformedXML; namespace optional, local names matched).  Deleting a
    missing key reports it as <Deleted> (as S3).  <Quiet>true</Quiet> leaves
    out the <Deleted> entries (s3rver ignores Quiet).
  * PUT/POST without Content-Length or chunked body: 411 MissingContentLength.

  Errors are S3 XML documents (Content-Type application/xml), e.g.
    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code>NoSuchBucket</Code><Message>The specified bucket does not
    exist</Message><BucketName>b</BucketName><RequestId>..</RequestId>
    <HostId>..</HostId></Error>
  with S3's status (NoSuchBucket/NoSuchKey 404, MalformedXML,
  InvalidArgument, InvalidRequest, BadDigest 400, MethodNotAllowed 405,
  BucketNotEmpty 409, MissingContentLength 411, PreconditionFailed 412,
  InvalidRange 416, NotImplemented 501, ...).  HEAD errors have no body.
  Every response carries x-amz-request-id and x-amz-id-2, and a
  Content-Length (except 204 and 304, which have no body by definition);
  connections are kept alive (HTTP/1.1).

  Not implemented (501 NotImplemented): multipart uploads, CopyObject,
  versioning, ACLs, tagging, policies and the other subresources,
  virtual-hosted addressing, presigned URLs, POST object uploads.

  Known differences from Amazon S3: no signature or credential checks (the
  proxy does them) and anonymous requests are allowed; max-keys=0 answers
  an empty, untruncated listing (as s3rver); continuation tokens are
  standard base64 text that name the bucket and the last item returned,
  and always contain "+", "/" and "=" like S3's own (a client must
  percent-encode them in the query and sign them as encoded); VersionId in DeleteObjects is ignored; a bucket name must
  be a valid S3 name (3-63 characters) everywhere, including --bucket.

Test-only endpoints (NOT part of S3; no signature needed; not counted in the
statistics).  The verifying proxy rejects unsigned requests, so tests call
these on the double's own port, not through the proxy:

  POST   /_test/seed/BUCKET      {"keys": [...], "body": "x",
                                  "content_type": "...", "create": false}
                                 creates (or overwrites) many objects at once;
                                 404 unless the bucket exists or "create" is
                                 true.  Answers {"seeded": N, "objects": M}.
  GET    /_test/keys/BUCKET[?prefix=P]   JSON array of the keys, UTF-8 order
  PUT    /_test/bucket/BUCKET    create a bucket (idempotent)
  DELETE /_test/objects/BUCKET[?prefix=P]  remove objects without counting
  GET    /_test/stats            JSON counters: "requests" (S3 API requests),
                                 "by_op" {list, delete_objects, delete, put,
                                 get, head, other}, "by_status", "errors"
                                 (by S3 error code), "keys_deleted" (objects
                                 that existed and were removed by DeleteObject
                                 or DeleteObjects), "keys_deleted_missing"
                                 (keys reported deleted that did not exist),
                                 "delete_objects_keys" (keys named in
                                 DeleteObjects requests), "objects" {bucket:
                                 count}, "in_flight", "max_concurrent"
  POST   /_test/reset_stats      zero the counters (objects are kept)
"""

import argparse
import base64
import binascii
import bisect
import email.utils
import hashlib
import itertools
import json
import re
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from s3_checksums import CHECKSUMS

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_KEYS = 1000
MAX_KEY_BYTES = 1024
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
OWNER_NAME = "s3-double"
OPS = ("list", "delete_objects", "delete", "put", "get", "head", "other")

# Query parameters that name a subresource (not implemented unless handled).
BUCKET_SUBRESOURCES = {
    "accelerate", "acl", "analytics", "cors", "encryption",
    "intelligent-tiering", "inventory", "lifecycle", "logging", "metrics",
    "notification", "object-lock", "ownershipControls", "policy",
    "policyStatus", "publicAccessBlock", "replication", "requestPayment",
    "tagging", "uploads", "versioning", "versions", "website",
}
OBJECT_SUBRESOURCES = {
    "acl", "attributes", "legal-hold", "partNumber", "restore", "retention",
    "select", "tagging", "torrent", "uploadId", "uploads", "versionId",
}
KEPT_HEADERS = ("content-type", "content-encoding", "content-disposition",
                "content-language", "cache-control", "expires")

MESSAGES = {
    "AccessDenied": (403, "Access Denied"),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we "
                       "received."),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "IncompleteBody": (400, "You did not provide the number of bytes "
                            "specified by the Content-Length HTTP header"),
    "InternalError": (500, "We encountered an internal error. Please try "
                           "again."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidURI": (400, "Couldn't parse the specified URI."),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedXML": (400, "The XML you provided was not well-formed or did "
                          "not validate against our published schema"),
    "MethodNotAllowed": (405, "The specified method is not allowed against "
                              "this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP "
                                  "header."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NotImplemented": (501, "A header or query you provided implies "
                            "functionality that is not implemented"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you "
                                "specified did not hold"),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' "
                                       "header does not match what was "
                                       "computed."),
}

# Every continuation token starts with these bytes: in base64 "++++////".
TOKEN_MARK = b"\xfb\xef\xbe\xff\xff\xff"

HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IPV4_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
XML_UNSAFE_RE = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f]")


# -- helpers ---------------------------------------------------------------

class S3Error(Exception):
    """An S3 error answer: status, code, message and extra elements."""

    def __init__(self, code, message=None, status=None, **extra):
        default_status, default_message = MESSAGES.get(code, (400, code))
        super().__init__(message or default_message)
        self.code = code
        self.message = message or default_message
        self.status = status or default_status
        self.extra = extra


def xml_escape(text):
    text = (str(text).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))
    # Control characters as character references, like S3 (XML 1.0 parsers
    # reject most of them anyway; clients should use encoding-type=url).
    return XML_UNSAFE_RE.sub(lambda m: "&#x%X;" % ord(m.group()), text)


def element(name, value):
    return "<%s>%s</%s>" % (name, xml_escape(value), name)


def xml_document(body):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def iso_time(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + \
        ".%03dZ" % int((ts % 1) * 1000)


def http_time(ts):
    return email.utils.formatdate(int(ts), usegmt=True)


def valid_bucket_name(name):
    return (BUCKET_RE.match(name) is not None and ".." not in name
            and ".-" not in name and "-." not in name
            and not IPV4_RE.match(name))


def decode_component(raw):
    """Percent-decode one URL component (str as read by http.server) once.

    http.server decodes the request line as ISO-8859-1, so raw non-ASCII
    bytes come back as their latin-1 characters; "+" stays a plus.
    """
    data = urllib.parse.unquote_to_bytes(raw.encode("latin-1", "replace"))
    return data.decode("utf-8")  # UnicodeDecodeError for invalid UTF-8


def parse_query(raw_query):
    """{name: value} of the first occurrence of each parameter."""
    params = {}
    for piece in raw_query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        try:
            name = decode_component(name)
            value = decode_component(value)
        except UnicodeDecodeError:
            raise S3Error("InvalidURI")
        params.setdefault(name, value)
    return params


def url_encode(text):
    # encoding-type=url: what S3 sends and botocore decodes (unquote_plus).
    return urllib.parse.quote_plus(text, safe="/")


def decode_aws_chunked(body):
    """Decode an aws-chunked body: (payload, {trailer name: value})."""
    pos = 0
    out = []
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise ValueError("chunk header without CRLF")
        size = int(body[pos:eol].split(b";", 1)[0].strip() or b"x", 16)
        pos = eol + 2
        if size == 0:
            break
        if pos + size + 2 > len(body) or body[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("truncated chunk")
        out.append(body[pos:pos + size])
        pos += size + 2
    trailers = {}
    for line in body[pos:].split(b"\r\n"):
        if line.strip():
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError("bad trailer line")
            trailers[name.strip().lower().decode("latin-1")] = \
                value.strip().decode("latin-1")
    return b"".join(out), trailers


def local_name(tag):
    return tag.rsplit("}", 1)[-1]


# -- storage ---------------------------------------------------------------

class StoredObject:
    __slots__ = ("data", "etag", "mtime", "headers", "meta")

    def __init__(self, data, headers=None, meta=None):
        self.data = data
        self.etag = '"%s"' % hashlib.md5(data).hexdigest()
        self.mtime = time.time()
        self.headers = headers or {}
        self.meta = meta or {}


class Bucket:
    """Objects of one bucket, with an index sorted in UTF-8 byte order.

    The index may hold keys deleted since (skipped when listing, dropped
    when they are many); new keys wait in `pending` until the next listing,
    so bulk creation and deletion stay cheap.  Callers hold the state lock.
    """

    def __init__(self, name):
        self.name = name
        self.created = time.time()
        self.objects = {}          # key (str) -> StoredObject
        self.index = []            # sorted UTF-8 keys (bytes), maybe stale
        self.indexed = set()       # keys (bytes) in self.index
        self.pending = set()       # keys (bytes) not yet in self.index
        self.stale = 0             # entries of self.index no longer present

    def put(self, key, obj):
        if key not in self.objects:
            kb = key.encode("utf-8")
            if kb in self.indexed:
                self.stale -= 1
            else:
                self.pending.add(kb)
        self.objects[key] = obj

    def delete(self, key):
        if self.objects.pop(key, None) is None:
            return False
        kb = key.encode("utf-8")
        if kb in self.pending:
            self.pending.discard(kb)
        else:
            self.stale += 1
        return True

    def clear(self, prefix=""):
        for key in [k for k in self.objects if k.startswith(prefix)]:
            self.delete(key)

    def sorted_index(self):
        if self.stale > 1000 and self.stale * 2 > len(self.index):
            self.index = [k for k in self.index
                          if k.decode("utf-8") in self.objects]
            self.indexed = set(self.index)
            self.stale = 0
        if self.pending:
            if len(self.pending) < 32:
                for kb in self.pending:
                    bisect.insort(self.index, kb)
            else:
                self.index = sorted(self.index + list(self.pending))
            self.indexed.update(self.pending)
            self.pending = set()
        return self.index

    def iter_keys(self, start=b"", after=None):
        """Live keys (bytes) >= start and > after, in order."""
        index = self.sorted_index()
        pos = bisect.bisect_left(index, start)
        if after is not None:
            pos = max(pos, bisect.bisect_right(index, after))
        objects = self.objects
        while pos < len(index):
            kb = index[pos]
            pos += 1
            if kb.decode("utf-8") in objects:
                yield kb


def prefix_upper_bound(prefix):
    """The smallest byte string greater than every string starting with
    `prefix` (None when there is none)."""
    data = bytearray(prefix)
    while data and data[-1] == 0xFF:
        data.pop()
    if not data:
        return None
    data[-1] += 1
    return bytes(data)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.buckets = {}
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            in_flight = getattr(self, "in_flight", 0)
            self.requests = 0
            self.by_op = {op: 0 for op in OPS}
            self.by_status = {}
            self.errors = {}
            self.keys_deleted = 0
            self.keys_deleted_missing = 0
            self.delete_objects_keys = 0
            self.in_flight = in_flight
            self.max_concurrent = in_flight

    def begin(self, op):
        with self.lock:
            self.requests += 1
            self.by_op[op] += 1
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)

    def end(self, status, code):
        with self.lock:
            self.in_flight -= 1
            key = str(status)
            self.by_status[key] = self.by_status.get(key, 0) + 1
            if code:
                self.errors[code] = self.errors.get(code, 0) + 1

    def snapshot(self):
        with self.lock:
            return {
                "requests": self.requests,
                "by_op": dict(self.by_op),
                "by_status": dict(self.by_status),
                "errors": dict(self.errors),
                "keys_deleted": self.keys_deleted,
                "keys_deleted_missing": self.keys_deleted_missing,
                "delete_objects_keys": self.delete_objects_keys,
                "objects": {name: len(b.objects)
                            for name, b in sorted(self.buckets.items())},
                "in_flight": self.in_flight,
                "max_concurrent": self.max_concurrent,
            }

    def bucket(self, name):
        """The bucket (caller holds the lock) or NoSuchBucket."""
        bucket = self.buckets.get(name)
        if bucket is None:
            raise S3Error("NoSuchBucket", BucketName=name)
        return bucket

    def create_bucket(self, name):
        with self.lock:
            if name not in self.buckets:
                self.buckets[name] = Bucket(name)


# -- HTTP ------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3-double"
    sys_version = ""

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def vlog(self, text):
        if self.server.verbose:
            sys.stderr.write("s3_double: %s\n" % text)
            sys.stderr.flush()

    def do_GET(self):
        self.handle_any()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET

    # -- plumbing ----------------------------------------------------------

    def read_body(self):
        """The request body, or None (and a closed connection) if unusable."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ValueError("connection closed in chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = self.rfile.read(size)
                if len(data) != size:
                    raise ValueError("short chunk")
                chunks.append(data)
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        length = int(length.strip())
        if length < 0:
            raise ValueError("negative Content-Length")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ValueError("short body")
        return data

    def send(self, status, body=b"", headers=(), content_type=None,
             head_length=None):
        """Send a complete answer; HEAD answers carry no body."""
        self.send_response(status)
        self.send_header("x-amz-request-id", self.request_id)
        self.send_header("x-amz-id-2", self.host_id)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if status not in (204, 304):
            length = len(body) if head_length is None else head_length
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body in one write: two small writes on a keep-alive
        # connection meet Nagle's algorithm and the peer's delayed ACK
        # (40 ms stalls).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and body and status not in (204, 304):
            self._headers_buffer.append(body)
        self.flush_headers()
        self.status_sent = status

    def send_error_xml(self, err, resource=""):
        self.error_code = err.code
        if self.command == "HEAD":
            self.send(err.status, b"", content_type="application/xml",
                      head_length=0)
            return
        parts = ["<Error>", element("Code", err.code),
                 element("Message", err.message)]
        for name, value in err.extra.items():
            parts.append(element(name, value))
        if resource:
            parts.append(element("Resource", resource))
        parts.append(element("RequestId", self.request_id))
        parts.append(element("HostId", self.host_id))
        parts.append("</Error>")
        self.send(err.status, xml_document("".join(parts)),
                  content_type="application/xml")

    def send_json(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False)
                + "\n").encode("utf-8")
        self.send(status, body, content_type="application/json")

    def handle_any(self):
        started = time.time()
        self.request_id = uuid.uuid4().hex[:16].upper()
        self.host_id = base64.b64encode(uuid.uuid4().bytes).decode()
        self.status_sent = None
        self.error_code = None
        self.trailers = {}
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = target.split("/", 3)
            target = "/" + (parts[3] if len(parts) > 3 else "")
        raw_path, _, raw_query = target.partition("?")
        is_test = raw_path.startswith("/_test/")
        op = "other" if is_test else self.classify(raw_path, raw_query)
        state = self.server.state
        if not is_test:
            state.begin(op)
        try:
            try:
                body = self.read_body()
            except (ValueError, OSError):
                self.close_connection = True
                raise S3Error("IncompleteBody")
            if is_test:
                self.handle_test(raw_path, raw_query, body)
            else:
                self.handle_s3(raw_path, raw_query, body)
        except S3Error as err:
            self.send_error_xml(err, self.resource_of(raw_path))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # keep serving; report the failure
            if self.server.verbose:
                traceback.print_exc()
            self.close_connection = True
            try:
                self.send_error_xml(S3Error("InternalError",
                                            "s3 double error: %r" % (exc,)))
            except OSError:
                pass
        finally:
            if not is_test:
                state.end(self.status_sent or 0, self.error_code)
            self.vlog("%s %s -> %s%s %.1fms" % (
                self.command, self.path, self.status_sent,
                " " + self.error_code if self.error_code else "",
                (time.time() - started) * 1000))

    @staticmethod
    def resource_of(raw_path):
        try:
            return decode_component(raw_path)
        except UnicodeDecodeError:
            return raw_path

    def classify(self, raw_path, raw_query):
        """The operation class used in the statistics (as the proxy's)."""
        bucket, _, key = raw_path.lstrip("/").partition("/")
        names = {p.partition("=")[0] for p in raw_query.split("&") if p}
        method = self.command
        if method == "GET" and bucket and not key and not (names & BUCKET_SUBRESOURCES) \
                and "location" not in names:
            return "list"
        if method == "POST" and bucket and not key and "delete" in names:
            return "delete_objects"
        if method == "DELETE" and key:
            return "delete"
        if method == "PUT" and key:
            return "put"
        if method == "GET" and key:
            return "get"
        if method == "HEAD":
            return "head"
        return "other"

    # -- S3 API ------------------------------------------------------------

    def handle_s3(self, raw_path, raw_query, body):
        if not raw_path.startswith("/"):
            raise S3Error("InvalidURI")
        bucket_raw, slash, key_raw = raw_path[1:].partition("/")
        try:
            bucket = decode_component(bucket_raw)
            key = decode_component(key_raw) if key_raw else None
        except UnicodeDecodeError:
            raise S3Error("InvalidURI")
        query = parse_query(raw_query)
        body = self.check_payload(body)
        method = self.command

        if not bucket:
            if method in ("GET", "HEAD"):
                return self.list_buckets()
            raise S3Error("MethodNotAllowed", Method=method,
                          ResourceType="SERVICE")
        if key is None:
            return self.bucket_request(method, bucket, query, body)
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise S3Error("KeyTooLongError", Size=len(key.encode("utf-8")),
                          MaxSizeAllowed=MAX_KEY_BYTES)
        unsupported = sorted(set(query) & OBJECT_SUBRESOURCES)
        if unsupported:
            raise S3Error("NotImplemented", "the %s subresource is not "
                          "implemented by the S3 test double" % unsupported[0])
        if method == "PUT":
            return self.put_object(bucket, key, body)
        if method in ("GET", "HEAD"):
            return self.get_object(bucket, key)
        if method == "DELETE":
            return self.delete_object(bucket, key)
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")

    def check_payload(self, body):
        """x-amz-content-sha256, aws-chunked, Content-MD5 and checksums."""
        headers = self.headers
        auth = headers.get("Authorization")
        sha = headers.get("x-amz-content-sha256")
        if sha is None:
            if auth is not None and auth.strip().startswith("AWS4-HMAC-SHA256"):
                raise S3Error("InvalidRequest",
                              "Missing required header for this request: "
                              "x-amz-content-sha256")
        else:
            sha = sha.strip()
            if sha.startswith("STREAMING-"):
                try:
                    body, trailers = decode_aws_chunked(body)
                except ValueError as exc:
                    raise S3Error("IncompleteBody",
                                  "aws-chunked body could not be decoded: %s"
                                  % exc)
                self.trailers = trailers
                decoded = headers.get("x-amz-decoded-content-length")
                if decoded is not None and decoded.strip() != str(len(body)):
                    raise S3Error("IncompleteBody")
            elif sha == "UNSIGNED-PAYLOAD":
                pass
            elif HEX64_RE.match(sha):
                actual = hashlib.sha256(body).hexdigest()
                if sha.lower() != actual:
                    raise S3Error("XAmzContentSHA256Mismatch",
                                  ClientComputedContentSHA256=sha,
                                  S3ComputedContentSHA256=actual)
            else:
                raise S3Error("InvalidArgument",
                              "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                              "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid "
                              "sha256 value.",
                              ArgumentName="x-amz-content-sha256",
                              ArgumentValue=sha)
        if self.command in ("PUT", "POST") and headers.get("Content-Length") is None \
                and "chunked" not in (headers.get("Transfer-Encoding") or "").lower():
            raise S3Error("MissingContentLength")

        md5 = headers.get("Content-MD5")
        if md5 is not None:
            try:
                digest = base64.b64decode(md5.strip(), validate=True)
            except (binascii.Error, ValueError):
                digest = b""
            if len(digest) != 16:
                raise S3Error("InvalidDigest")
            if digest != hashlib.md5(body).digest():
                raise S3Error("BadDigest",
                              ExpectedDigest=md5.strip(),
                              CalculatedDigest=base64.b64encode(
                                  hashlib.md5(body).digest()).decode())
        trailers = self.trailers
        for name, func in CHECKSUMS.items():
            value = headers.get(name)
            if value is None:
                value = trailers.get(name)
            if value is not None and \
                    value.strip() != base64.b64encode(func(body)).decode():
                raise S3Error("BadDigest",
                              "The %s you specified did not match the "
                              "calculated checksum." % name)
        return body

    def has_checksum(self):
        if any(name.lower().startswith("x-amz-checksum-")
               for name in self.headers.keys()):
            return True
        trailer = (self.headers.get("x-amz-trailer") or "").lower()
        return "x-amz-checksum-" in trailer

    def list_buckets(self):
        state = self.server.state
        with state.lock:
            buckets = sorted((b.name, b.created) for b in state.buckets.values())
        parts = ['<ListAllMyBucketsResult xmlns="%s">' % S3_XMLNS,
                 "<Owner>", element("ID", OWNER_ID),
                 element("DisplayName", OWNER_NAME), "</Owner><Buckets>"]
        for name, created in buckets:
            parts.append("<Bucket>%s%s</Bucket>" % (
                element("Name", name), element("CreationDate", iso_time(created))))
        parts.append("</Buckets></ListAllMyBucketsResult>")
        self.send(200, xml_document("".join(parts)),
                  content_type="application/xml")

    def bucket_request(self, method, bucket, query, body):
        state = self.server.state
        unsupported = sorted(set(query) & BUCKET_SUBRESOURCES)
        if method == "GET" and "location" in query:
            with state.lock:
                state.bucket(bucket)
            return self.send(200, xml_document(
                '<LocationConstraint xmlns="%s"/>' % S3_XMLNS),
                content_type="application/xml")
        if unsupported:
            raise S3Error("NotImplemented", "the %s subresource is not "
                          "implemented by the S3 test double" % unsupported[0])
        if method == "GET":
            return self.list_objects(bucket, query)
        if method == "HEAD":
            with state.lock:
                state.bucket(bucket)
            return self.send(200, headers=[("x-amz-bucket-region", "us-east-1")],
                             content_type="application/xml", head_length=0)
        if method == "PUT":
            if not valid_bucket_name(bucket):
                raise S3Error("InvalidBucketName", BucketName=bucket)
            state.create_bucket(bucket)
            return self.send(200, headers=[("Location", "/" + bucket)])
        if method == "DELETE":
            with state.lock:
                b = state.bucket(bucket)
                if b.objects:
                    raise S3Error("BucketNotEmpty", BucketName=bucket)
                del state.buckets[bucket]
            return self.send(204)
        if method == "POST" and "delete" in query:
            return self.delete_objects(bucket, body)
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="BUCKET")

    # ListObjects / ListObjectsV2

    def list_objects(self, bucket_name, query):
        v2 = "list-type" in query
        if v2 and query["list-type"] != "2":
            raise S3Error("InvalidArgument", "Invalid List Type specified",
                          ArgumentName="list-type",
                          ArgumentValue=query["list-type"])
        if v2 and "marker" in query:
            raise S3Error("InvalidArgument",
                          "Marker unsupported with REST.GET.BUCKET in "
                          "list-type=2", ArgumentName="marker")
        if not v2:
            for name in ("continuation-token", "start-after"):
                if name in query:
                    raise S3Error("InvalidArgument", "%s only supported in "
                                  "REST.GET.BUCKET with list-type=2" % name,
                                  ArgumentName=name)
        max_keys_text = query.get("max-keys", "")
        max_keys = MAX_KEYS
        if max_keys_text != "":
            if not re.match(r"^-?\d+$", max_keys_text) or \
                    not -2 ** 31 <= int(max_keys_text) < 2 ** 31:
                raise S3Error("InvalidArgument",
                              "Provided max-keys not an integer or within "
                              "integer range", ArgumentName="max-keys",
                              ArgumentValue=max_keys_text)
            max_keys = int(max_keys_text)
            if max_keys < 0:
                raise S3Error("InvalidArgument",
                              "Argument maxKeys must be an integer between 0 "
                              "and 2147483647", ArgumentName="maxKeys",
                              ArgumentValue=max_keys_text)
            max_keys = min(max_keys, MAX_KEYS)
        encoding = query.get("encoding-type")
        if encoding is not None and encoding != "url":
            raise S3Error("InvalidArgument", "Invalid Encoding Method "
                          "specified in Request", ArgumentName="encoding-type",
                          ArgumentValue=encoding)
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        token = query.get("continuation-token")
        after = None          # resume strictly after this key (bytes)
        skip_prefix = None    # ... and after every key starting with this
        if v2 and token is not None:
            if token == "":
                raise S3Error("InvalidArgument", "The continuation token "
                              "provided is incorrect",
                              ArgumentName="continuation-token")
            try:
                raw = base64.b64decode(token.encode("ascii"), validate=True)
                assert raw.startswith(TOKEN_MARK)
                decoded = json.loads(raw[len(TOKEN_MARK):])
                tok_bucket, last, is_prefix = decoded
                assert tok_bucket == bucket_name and isinstance(last, str)
            except Exception:
                raise S3Error("InvalidArgument", "The continuation token "
                              "provided is incorrect",
                              ArgumentName="continuation-token")
            after = last.encode("utf-8")
            if is_prefix:
                skip_prefix = after
        elif v2 and query.get("start-after"):
            after = query["start-after"].encode("utf-8")
        elif not v2 and query.get("marker"):
            after = query["marker"].encode("utf-8")

        prefix_b = prefix.encode("utf-8")
        delim_b = delimiter.encode("utf-8")
        contents = []         # (key, StoredObject)
        prefixes = []         # common prefixes (str)
        truncated = False
        last_item = None      # (text, is_prefix)
        state = self.server.state
        with state.lock:
            bucket = state.bucket(bucket_name)
            if max_keys > 0:
                index = bucket.sorted_index()
                pos = bisect.bisect_left(index, prefix_b)
                if after is not None:
                    pos = max(pos, bisect.bisect_right(index, after))
                if skip_prefix is not None:
                    upper = prefix_upper_bound(skip_prefix)
                    pos = max(pos, len(index) if upper is None
                              else bisect.bisect_left(index, upper))
                objects = bucket.objects
                while pos < len(index):
                    kb = index[pos]
                    if not kb.startswith(prefix_b):
                        break    # sorted: past the keys under the prefix
                    key = kb.decode("utf-8")
                    obj = objects.get(key)
                    if obj is None:
                        pos += 1
                        continue
                    common = None
                    if delim_b:
                        cut = kb.find(delim_b, len(prefix_b))
                        if cut >= 0:
                            common = kb[:cut + len(delim_b)]
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    if common is not None:
                        prefixes.append(common.decode("utf-8"))
                        last_item = (prefixes[-1], True)
                        upper = prefix_upper_bound(common)
                        pos = len(index) if upper is None else \
                            bisect.bisect_left(index, upper)
                    else:
                        contents.append((key, obj))
                        last_item = (key, False)
                        pos += 1

        enc = url_encode if encoding == "url" else (lambda s: s)
        parts = ['<ListBucketResult xmlns="%s">' % S3_XMLNS,
                 element("Name", bucket_name), element("Prefix", enc(prefix))]
        if v2:
            if token is not None:
                parts.append(element("ContinuationToken", token))
            if truncated:
                next_token = base64.b64encode(TOKEN_MARK + json.dumps(
                    [bucket_name, last_item[0], last_item[1]]).encode()
                ).decode()
                parts.append(element("NextContinuationToken", next_token))
            if "start-after" in query:
                parts.append(element("StartAfter", enc(query["start-after"])))
            parts.append(element("KeyCount", len(contents) + len(prefixes)))
        else:
            parts.append(element("Marker", enc(query.get("marker", ""))))
            if truncated and delimiter:
                parts.append(element("NextMarker", enc(last_item[0])))
        parts.append(element("MaxKeys", max_keys_text or MAX_KEYS))
        if delimiter:
            parts.append(element("Delimiter", enc(delimiter)))
        if encoding:
            parts.append(element("EncodingType", encoding))
        parts.append(element("IsTruncated", "true" if truncated else "false"))
        owner = (not v2) or query.get("fetch-owner") == "true"
        for key, obj in contents:
            parts.append("<Contents>%s%s%s%s" % (
                element("Key", enc(key)), element("LastModified", iso_time(obj.mtime)),
                element("ETag", obj.etag), element("Size", len(obj.data))))
            if owner:
                parts.append("<Owner>%s%s</Owner>" % (
                    element("ID", OWNER_ID), element("DisplayName", OWNER_NAME)))
            parts.append("<StorageClass>STANDARD</StorageClass></Contents>")
        for common in prefixes:
            parts.append("<CommonPrefixes>%s</CommonPrefixes>"
                         % element("Prefix", enc(common)))
        parts.append("</ListBucketResult>")
        self.send(200, xml_document("".join(parts)),
                  content_type="application/xml")

    # DeleteObjects

    def delete_objects(self, bucket_name, body):
        if self.headers.get("Content-MD5") is None and not self.has_checksum():
            raise S3Error("InvalidRequest", "Missing required header for this "
                          "request: Content-MD5")
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise S3Error("MalformedXML")
        if local_name(root.tag) != "Delete":
            raise S3Error("MalformedXML")
        quiet = False
        keys = []
        for child in root:
            name = local_name(child.tag)
            if name == "Quiet":
                text = (child.text or "").strip().lower()
                if text not in ("true", "false"):
                    raise S3Error("MalformedXML")
                quiet = text == "true"
            elif name == "Object":
                key = None
                for item in child:
                    if local_name(item.tag) == "Key":
                        key = item.text or ""
                if not key:
                    raise S3Error("MalformedXML")
                keys.append(key)
            else:
                raise S3Error("MalformedXML")
        if not keys or len(keys) > MAX_KEYS:
            raise S3Error("MalformedXML")

        results = []          # (key, error code or None, message)
        state = self.server.state
        with state.lock:
            bucket = state.bucket(bucket_name)
            state.delete_objects_keys += len(keys)
            for key in keys:
                if len(key.encode("utf-8")) > MAX_KEY_BYTES:
                    results.append((key, "KeyTooLongError",
                                    MESSAGES["KeyTooLongError"][1]))
                elif bucket.delete(key):
                    state.keys_deleted += 1
                    results.append((key, None, None))
                else:
                    state.keys_deleted_missing += 1
                    results.append((key, None, None))
        parts = ['<DeleteResult xmlns="%s">' % S3_XMLNS]
        for key, code, message in results:
            if code is None:
                if not quiet:
                    parts.append("<Deleted>%s</Deleted>" % element("Key", key))
            else:
                parts.append("<Error>%s%s%s</Error>" % (
                    element("Key", key), element("Code", code),
                    element("Message", message)))
        parts.append("</DeleteResult>")
        self.send(200, xml_document("".join(parts)),
                  content_type="application/xml")

    # Objects

    def put_object(self, bucket_name, key, body):
        for name in ("x-amz-copy-source",):
            if self.headers.get(name) is not None:
                raise S3Error("NotImplemented", "%s is not implemented by the "
                              "S3 test double" % name, Header=name)
        headers = {}
        for name in KEPT_HEADERS:
            value = self.headers.get(name)
            if value is None:
                continue
            if name == "content-encoding":
                value = ",".join(v.strip() for v in value.split(",")
                                 if v.strip().lower() != "aws-chunked")
                if not value:
                    continue
            headers[name] = value
        meta = {name.lower(): value for name, value in self.headers.items()
                if name.lower().startswith("x-amz-meta-")}
        obj = StoredObject(body, headers, meta)
        state = self.server.state
        with state.lock:
            bucket = state.bucket(bucket_name)
            if (self.headers.get("If-None-Match") or "").strip() == "*" \
                    and key in bucket.objects:
                raise S3Error("PreconditionFailed", Condition="If-None-Match")
            bucket.put(key, obj)
        self.send(200, headers=[("ETag", obj.etag)])

    def get_object(self, bucket_name, key):
        state = self.server.state
        with state.lock:
            bucket = state.bucket(bucket_name)
            obj = bucket.objects.get(key)
            if obj is None:
                raise S3Error("NoSuchKey", Key=key)
        headers = [("ETag", obj.etag), ("Last-Modified", http_time(obj.mtime)),
                   ("Accept-Ranges", "bytes")]
        for name, value in obj.meta.items():
            headers.append((name, value))
        for name, value in obj.headers.items():
            if name != "content-type":
                headers.append((name.title(), value))
        content_type = obj.headers.get("content-type", "binary/octet-stream")

        if_match = self.headers.get("If-Match")
        if if_match is not None and not self.etag_matches(if_match, obj.etag):
            raise S3Error("PreconditionFailed", Condition="If-Match")
        if_none = self.headers.get("If-None-Match")
        if if_none is not None and self.etag_matches(if_none, obj.etag):
            return self.send(304, headers=headers)

        data = obj.data
        status = 200
        range_header = self.headers.get("Range")
        if range_header is not None:
            span = self.parse_range(range_header, len(data))
            if span == "invalid":
                raise S3Error("InvalidRange", RangeRequested=range_header,
                              ActualObjectSize=len(data))
            if span is not None:
                start, end = span
                headers.append(("Content-Range", "bytes %d-%d/%d"
                                % (start, end, len(data))))
                data = data[start:end + 1]
                status = 206
        self.send(status, data, headers=headers, content_type=content_type,
                  head_length=len(data))

    @staticmethod
    def etag_matches(header, etag):
        wanted = [v.strip() for v in header.split(",")]
        return "*" in wanted or etag in wanted or etag.strip('"') in wanted

    @staticmethod
    def parse_range(header, size):
        """(start, end) inclusive, None to ignore, or "invalid" (416)."""
        match = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", header)
        if not match or (match.group(1) == "" and match.group(2) == ""):
            return None   # S3 ignores ranges it does not understand
        first, last = match.group(1), match.group(2)
        if first == "":
            length = int(last)
            if length == 0 or size == 0:
                return "invalid"
            return max(0, size - length), size - 1
        start = int(first)
        if start >= size:
            return "invalid"
        end = size - 1 if last == "" else min(int(last), size - 1)
        if end < start:
            return None
        return start, end

    def delete_object(self, bucket_name, key):
        state = self.server.state
        with state.lock:
            bucket = state.bucket(bucket_name)
            if bucket.delete(key):
                state.keys_deleted += 1
        self.send(204)

    # -- test-only endpoints ---------------------------------------------

    def handle_test(self, raw_path, raw_query, body):
        state = self.server.state
        parts = raw_path[len("/_test/"):].split("/", 1)
        name = parts[0]
        try:
            arg = decode_component(parts[1]) if len(parts) > 1 else ""
            query = parse_query(raw_query)
        except (UnicodeDecodeError, S3Error):
            return self.send_json(400, {"error": "bad URL encoding"})
        method = self.command
        if method == "GET" and name == "stats" and not arg:
            return self.send_json(200, state.snapshot())
        if method == "POST" and name == "reset_stats" and not arg:
            state.reset_stats()
            return self.send_json(200, {"ok": True})
        if method == "PUT" and name == "bucket" and arg:
            if not valid_bucket_name(arg):
                return self.send_json(400, {"error": "invalid bucket name %r"
                                            % arg})
            state.create_bucket(arg)
            return self.send_json(200, {"ok": True, "bucket": arg})
        if method == "GET" and name == "keys" and arg:
            prefix = query.get("prefix", "")
            with state.lock:
                bucket = state.buckets.get(arg)
                if bucket is None:
                    return self.send_json(404, {"error": "no bucket %r" % arg})
                prefix_b = prefix.encode("utf-8")
                keys = [kb.decode("utf-8") for kb in itertools.takewhile(
                    lambda kb: kb.startswith(prefix_b),
                    bucket.iter_keys(prefix_b))]
            return self.send_json(200, keys)
        if method == "DELETE" and name == "objects" and arg:
            prefix = query.get("prefix", "")
            with state.lock:
                bucket = state.buckets.get(arg)
                if bucket is None:
                    return self.send_json(404, {"error": "no bucket %r" % arg})
                before = len(bucket.objects)
                bucket.clear(prefix)
                removed = before - len(bucket.objects)
            return self.send_json(200, {"removed": removed})
        if method == "POST" and name == "seed" and arg:
            return self.seed(arg, body)
        return self.send_json(404, {"error": "unknown test endpoint %s %s"
                                    % (method, raw_path)})

    def seed(self, bucket_name, body):
        state = self.server.state
        try:
            spec = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(spec, dict):
                raise ValueError("a JSON object is expected")
            keys = spec.get("keys", [])
            if not isinstance(keys, list) or not all(
                    isinstance(k, str) and k for k in keys):
                raise ValueError('"keys" must be a list of non-empty strings')
            for key in keys:
                if len(key.encode("utf-8")) > MAX_KEY_BYTES:
                    raise ValueError("key too long: %r" % key[:80])
            if "body_base64" in spec:
                data = base64.b64decode(spec["body_base64"])
            else:
                data = str(spec.get("body", "")).encode("utf-8")
        except (ValueError, UnicodeError, binascii.Error) as exc:
            return self.send_json(400, {"error": "bad seed request: %s" % exc})
        headers = {}
        if spec.get("content_type"):
            headers["content-type"] = str(spec["content_type"])
        if spec.get("create"):
            if not valid_bucket_name(bucket_name):
                return self.send_json(400, {"error": "invalid bucket name %r"
                                            % bucket_name})
            state.create_bucket(bucket_name)
        template = StoredObject(data, headers)
        with state.lock:
            bucket = state.buckets.get(bucket_name)
            if bucket is None:
                return self.send_json(404, {"error": "no bucket %r (give "
                                            '"create": true)' % bucket_name})
            for key in keys:
                obj = StoredObject.__new__(StoredObject)
                obj.data, obj.etag = template.data, template.etag
                obj.mtime, obj.headers, obj.meta = time.time(), headers, {}
                bucket.put(key, obj)
            total = len(bucket.objects)
        return self.send_json(200, {"bucket": bucket_name, "seeded": len(keys),
                                    "objects": total})


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, verbose):
        super().__init__(address, Handler)
        self.state = State()
        self.verbose = verbose

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="In-memory test double of Amazon S3 (path-style) for "
                    "the reset_system tests")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--bucket", action="append", default=[],
                        help="create this bucket at start (repeatable)")
    parser.add_argument("--verbose", action="store_true",
                        help="log requests and errors to stderr")
    args = parser.parse_args(argv)
    for name in args.bucket:
        if not valid_bucket_name(name):
            parser.error("invalid bucket name %r" % name)

    server = DoubleServer((args.host, args.port), args.verbose)
    for name in args.bucket:
        server.state.create_bucket(name)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
