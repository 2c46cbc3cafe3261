"""s3_checksums: the x-amz-checksum-* algorithms S3 accepts on a request body.

Shared by s3_double.py (which verifies them as S3 does) and
s3_verify_proxy.py (which checks what the client sent before forwarding).
Each entry maps the header name to a function returning the raw digest;
the header carries it base64-encoded.
"""

import hashlib
import zlib


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


CHECKSUMS = {
    "x-amz-checksum-crc32": lambda b: (zlib.crc32(b) & 0xFFFFFFFF).to_bytes(4, "big"),
    "x-amz-checksum-crc32c": lambda b: crc32c(b).to_bytes(4, "big"),
    "x-amz-checksum-sha1": lambda b: hashlib.sha1(b).digest(),
    "x-amz-checksum-sha256": lambda b: hashlib.sha256(b).digest(),
}
