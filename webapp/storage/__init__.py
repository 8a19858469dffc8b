"""Where recordings live: sealed (encrypted, see ``sealed.py``) in a directory, behind a small
interface, so that S3-compatible object storage can take the directory's place without the views
changing. Plaintext audio never touches the disk: it is sealed in memory and only the sealed
bytes are written."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app

from webapp.storage import sealed
from webapp.storage.directory import Directory, Missing
from webapp.storage.keys import KeyRing, KeyUnavailable

CHUNK = 64 * 1024


class RecordingMissing(Exception):
    pass


class RecordingDamaged(Exception):
    """The recording is there but not as it was written (or its key cannot be opened)."""


class Recording(NamedTuple):
    """What the store needs to find and open one recording."""

    key: str
    sealed_key: bytes | None  # its data key, wrapped; None: stored plain, before encryption
    key_id: str | None  # the master key that wrapped it


class Stored(NamedTuple):
    key: str
    size: int  # plaintext bytes
    sha256: str  # of the plaintext
    sealed_key: bytes
    key_id: str


class EncryptedStorage:
    def __init__(self, files: Directory, keys: KeyRing, segment: int = sealed.SEGMENT) -> None:
        self.files = files
        self.keys = keys
        self.segment = segment

    def put(self, data: bytes, started_at: datetime) -> Stored:
        key = f"{started_at:%Y/%m}/{uuid.uuid4().hex}.tln"
        data_key = AESGCM.generate_key(256)
        self.files.write(key, sealed.seal(data, data_key, key, self.segment))
        wrapped, key_id = self.keys.wrap(data_key, key)
        return Stored(key, len(data), hashlib.sha256(data).hexdigest(), wrapped, key_id)

    def size(self, recording: Recording) -> int | None:
        """Its plaintext size as its file tells; None when the file cannot be a recording."""
        try:
            stored = self.files.size(recording.key)
            if recording.sealed_key is None:
                return stored
            with self.files.open(recording.key) as f:
                return sealed.Layout.read(f.read(sealed.HEADER.size), stored).size
        except Missing as exc:
            raise RecordingMissing(recording.key) from exc
        except sealed.Damaged:
            return None

    def read_range(self, recording: Recording, start: int, stop: int) -> Iterator[bytes]:
        """Plaintext bytes ``start`` up to ``stop`` (exclusive), decrypting only the segments
        they lie in. The first is decrypted before this returns, so a damaged recording is
        refused before a response begins; a later damaged segment raises RecordingDamaged from
        the iterator."""
        try:
            f = self.files.open(recording.key)
        except Missing as exc:
            raise RecordingMissing(recording.key) from exc
        if recording.sealed_key is None:
            return _plain(f, start, stop)
        try:
            layout = sealed.Layout.read(f.read(sealed.HEADER.size), self.files.size(recording.key))
            data_key = self.keys.unwrap(recording.sealed_key, recording.key_id, recording.key)
            segments = iter(layout.span(start, stop))
            first = next(segments, None)
            head = b"" if first is None else self._segment(f, layout, data_key, recording, first)
        except (sealed.Damaged, KeyUnavailable, Missing) as exc:
            f.close()
            raise RecordingDamaged(str(exc)) from exc

        def chunks() -> Iterator[bytes]:
            with f:
                if first is None:
                    return
                yield _clip(head, first, layout.segment, start, stop)
                for index in segments:
                    try:
                        plain = self._segment(f, layout, data_key, recording, index)
                    except sealed.Damaged as exc:
                        raise RecordingDamaged(str(exc)) from exc
                    yield _clip(plain, index, layout.segment, start, stop)

        return chunks()

    def _segment(self, f, layout: sealed.Layout, data_key: bytes, recording, index: int) -> bytes:
        f.seek(layout.offset(index))
        return layout.open(data_key, recording.key, index, f.read(layout.segment + sealed.TAG))

    def rewrap(self, recording: Recording) -> tuple[bytes, str]:
        """Its data key wrapped by the newest master key; the audio is not touched."""
        data_key = self.keys.unwrap(recording.sealed_key, recording.key_id, recording.key)
        return self.keys.wrap(data_key, recording.key)

    def delete(self, recording: Recording) -> None:
        self.files.delete(recording.key)


def _clip(plain: bytes, index: int, segment: int, start: int, stop: int) -> bytes:
    begins = index * segment
    return plain[max(start - begins, 0) : stop - begins]


def _plain(f, start: int, stop: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        remaining = stop - start
        while remaining > 0:
            block = f.read(min(CHUNK, remaining))
            if not block:
                return
            remaining -= len(block)
            yield block


def init_app(app: Flask) -> None:
    app.extensions["tallenne.storage"] = EncryptedStorage(
        Directory(app.config["STORAGE_DIR"]), app.config["MASTER_KEYS"]
    )


def storage() -> EncryptedStorage:
    return current_app.extensions["tallenne.storage"]
