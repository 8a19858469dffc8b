"""Signed checkpoints of the chain, kept outside the database: a verifier that finds the trail
shorter than a checkpoint knows that its newest events were cut off."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection

from audit.trail import HEAD_ID, Link, heads

_DOMAIN = b"tallenne audit checkpoint v1\x00"


class Checkpoint(NamedTuple):
    seq: int
    chain: str | None
    events: int
    time: str
    line: int = 0


class ForgedCheckpoint(ValueError):
    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"checkpoint line {line}: {why}")
        self.line = line


def _signed_bytes(fields: dict[str, Any]) -> bytes:
    return _DOMAIN + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def line_for(key: bytes, link: Link, at: datetime | None = None) -> str:
    at = at or datetime.now(UTC)
    fields = {
        "seq": link.seq,
        "chain": link.chain,
        "count": link.events,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    fields["signature"] = hmac.new(key, _signed_bytes(fields), hashlib.sha256).hexdigest()
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def tip(connection: Connection) -> Link:
    row = connection.execute(
        select(heads.c.seq, heads.c.chain, heads.c.events).where(heads.c.id == HEAD_ID)
    ).one()
    return Link(*row)


def record(path: str | Path, line: str) -> None:
    """Append one line with a single write, and make it durable before returning."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: str | Path, key: bytes) -> Iterator[Checkpoint]:
    """The file's checkpoints; a line whose signature does not verify raises ForgedCheckpoint."""
    with open(path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                fields = json.loads(text)
                signature = fields.pop("signature")
                checkpoint = Checkpoint(
                    int(fields["seq"]),
                    fields["chain"],
                    int(fields["count"]),
                    fields["time"],
                    number,
                )
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise ForgedCheckpoint(number, "not a checkpoint") from error
            expected = hmac.new(key, _signed_bytes(fields), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, str(signature)):
                raise ForgedCheckpoint(number, "its signature does not verify under the key")
            yield checkpoint
