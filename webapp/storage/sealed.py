"""The sealed recording format: AES-256-GCM in fixed-size segments (the STREAM construction of
Tink's streaming AEAD and of age), so that a range is read by decrypting only the segments it
covers, and reordering, truncation and swapping files between recordings are all detected.

    header   = "TLNE" | version 1 | segment size (u32, big-endian) | nonce prefix (7 random bytes)
    segment i = AES-GCM(data key, nonce = prefix | i (u32) | last (1 byte: 1 on the last segment),
                        plaintext bytes i*S .. (i+1)*S, associated data = header | recording name)

Every segment holds S plaintext bytes but the last, which holds 0 to S; each carries a 16-byte
tag. The data key is the recording's own (see keys.py); the name is its storage key.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEGMENT = 64 * 1024
TAG = 16
MAGIC = b"TLNE"
VERSION = 1
HEADER = struct.Struct(">4sBI7s")
_SEGMENT_LIMITS = (4 * 1024, 4 * 1024 * 1024)


class Damaged(Exception):
    """A sealed recording that is not as it was written."""


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def seal(data: bytes, data_key: bytes, name: str, segment: int = SEGMENT) -> Iterator[bytes]:
    """The sealed bytes of a recording, header first, then one segment at a time."""
    header = HEADER.pack(MAGIC, VERSION, segment, os.urandom(7))
    yield header
    aead, aad, prefix = AESGCM(data_key), header + name.encode(), header[-7:]
    view = memoryview(data)
    count = max(1, -(-len(data) // segment))
    for i in range(count):
        part = view[i * segment : (i + 1) * segment]
        yield aead.encrypt(_nonce(prefix, i, i == count - 1), part, aad)


def sealed_size(plain: int, segment: int = SEGMENT) -> int:
    return HEADER.size + plain + max(1, -(-plain // segment)) * TAG


@dataclass(frozen=True)
class Layout:
    """Where a sealed recording's segments lie, from its header and its size on disk."""

    header: bytes
    segment: int
    count: int
    size: int  # plaintext bytes

    @classmethod
    def read(cls, header: bytes, stored: int) -> Layout:
        if len(header) != HEADER.size:
            raise Damaged("shorter than its header")
        magic, version, segment, _prefix = HEADER.unpack(header)
        low, high = _SEGMENT_LIMITS
        if magic != MAGIC or version != VERSION or not low <= segment <= high:
            raise Damaged("not a sealed recording of a known version")
        full, rest = divmod(stored - HEADER.size, segment + TAG)
        if rest == 0 and full > 0:
            return cls(header, segment, full, full * segment)
        if rest < TAG:
            raise Damaged("its length is not that of whole segments")
        return cls(header, segment, full + 1, full * segment + rest - TAG)

    def offset(self, index: int) -> int:
        return HEADER.size + index * (self.segment + TAG)

    def span(self, start: int, stop: int) -> range:
        """The segments that plaintext bytes ``start`` to ``stop`` (exclusive) lie in."""
        if stop <= start:
            return range(0)
        return range(start // self.segment, (stop - 1) // self.segment + 1)

    def open(self, data_key: bytes, name: str, index: int, sealed: bytes) -> bytes:
        last = index == self.count - 1
        prefix = self.header[-7:]
        try:
            return AESGCM(data_key).decrypt(
                _nonce(prefix, index, last), sealed, self.header + name.encode()
            )
        except InvalidTag as error:
            raise Damaged(f"segment {index} does not decrypt") from error
