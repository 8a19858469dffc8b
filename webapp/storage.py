"""Where recordings live. A small interface, so that an encrypted store or S3-compatible object
storage can take the place of the plain directory without the views changing."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from flask import Flask, current_app

CHUNK = 64 * 1024


class RecordingMissing(Exception):
    pass


class Stored(NamedTuple):
    key: str
    size: int
    sha256: str


class Storage(Protocol):
    def put(self, data: bytes, started_at: datetime) -> Stored: ...

    def size(self, key: str) -> int: ...

    def read_range(self, key: str, start: int, stop: int) -> Iterator[bytes]: ...

    def delete(self, key: str) -> None: ...


class DirectoryStorage:
    """Recordings as files under one directory, named by generated keys (never by anything a
    phone system or a user supplied), written whole or not at all."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("recording key escapes the storage directory")
        return path

    def put(self, data: bytes, started_at: datetime) -> Stored:
        key = f"{started_at:%Y/%m}/{uuid.uuid4().hex}.wav"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return Stored(key, len(data), hashlib.sha256(data).hexdigest())

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise RecordingMissing(key) from exc

    def read_range(self, key: str, start: int, stop: int) -> Iterator[bytes]:
        """Bytes ``start`` up to ``stop`` (exclusive), in chunks."""
        try:
            f = open(self._path(key), "rb")  # noqa: SIM115 -- closed by the generator
        except FileNotFoundError as exc:
            raise RecordingMissing(key) from exc

        def chunks() -> Iterator[bytes]:
            with f:
                f.seek(start)
                remaining = stop - start
                while remaining > 0:
                    block = f.read(min(CHUNK, remaining))
                    if not block:
                        return
                    remaining -= len(block)
                    yield block

        return chunks()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def init_app(app: Flask) -> None:
    app.extensions["tallenne.storage"] = DirectoryStorage(app.config["STORAGE_DIR"])


def storage() -> Storage:
    return current_app.extensions["tallenne.storage"]
