"""A manifest of calls, for phone systems that have no importer of their own: JSON Lines (one
object a line) or CSV (UTF-8, with a header), one call a row, its recording a WAV file beside
the manifest. The columns are in the README ("Importing calls").

The whole file is read and its framing checked before anything is imported: a broken quote or
an unknown column stops it with nothing written. A bad row is rejected with its reason, and
the rest go on."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from webapp.importers.entry import Entry, Rejected
from webapp.phones import to_e164

REQUIRED = ("id", "started_at", "service", "direction", "recording")
OPTIONAL = ("agent", "phone", "secret")
COLUMNS = REQUIRED + OPTIONAL
MAX_BYTES = 256 * 1024 * 1024
_TRUE, _FALSE = {"1", "true", "yes"}, {"", "0", "false", "no"}


class ManifestError(ValueError):
    """The file as a whole cannot be read: nothing of it is imported."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]


def read(path: Path) -> list[Row]:
    if path.stat().st_size > MAX_BYTES:
        raise ManifestError(f"larger than {MAX_BYTES // (1024 * 1024)} MB: split it")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManifestError(f"not UTF-8 (byte {error.start + 1} is not valid)") from error
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return _jsonl(text)
    if path.suffix.lower() == ".csv":
        return _csv(text)
    raise ManifestError("name the format by the file's ending: .jsonl or .csv")


def _jsonl(text: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
        except json.JSONDecodeError as error:
            values = {"_error": f"not JSON ({error.msg} at column {error.colno})"}
        if not isinstance(values, dict):
            values = {"_error": "not a JSON object"}
        rows.append(Row(number, values))
    return rows


def _csv(text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ManifestError("empty")
        header = [h.strip() for h in header]
        unknown = sorted(set(header) - set(COLUMNS))
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing or len(set(header)) != len(header):
            raise ManifestError(
                "the header must name each column once, from: "
                f"{', '.join(COLUMNS)} (unknown: {', '.join(unknown) or 'none'}; "
                f"missing: {', '.join(missing) or 'none'})"
            )
        rows = []
        for fields in reader:
            number = reader.line_num
            if fields == []:
                continue
            if len(fields) != len(header):
                values = {"_error": f"{len(fields)} fields where the header has {len(header)}"}
            else:
                values = dict(zip(header, fields, strict=True))
            rows.append(Row(number, values))
    except csv.Error as error:
        raise ManifestError(f"line {reader.line_num}: {error}") from error
    return rows


def check(row: Row, services: dict[str, int], users: dict[str, int], folder: Path) -> Entry:
    """The row as an Entry, or Rejected naming what is wrong with it."""
    if "_error" in row.values:
        raise Rejected(row.values["_error"])
    text = describe(row.values, services, users)
    if not text.get("recording"):
        raise Rejected("recording: missing")
    return entry(text, services, users, _inside(folder, text["recording"]))


def describe(values: dict[str, Any], services: dict[str, int], users: dict[str, int]) -> dict:
    """The fields of a call as checked text (all but its recording), or Rejected."""
    unknown = sorted(set(values) - set(COLUMNS))
    if unknown:
        raise Rejected(f"unknown field {unknown[0]!r}")
    text = {k: _text(k, v) for k, v in values.items()}
    for column in REQUIRED:
        if column != "recording" and not text.get(column):
            raise Rejected(f"{column}: missing")
    if any("\x00" in v for v in text.values()):
        raise Rejected("a field holds a NUL character")
    if len(text["id"]) > 150:
        raise Rejected("id: longer than 150 characters")
    try:
        started = datetime.fromisoformat(text["started_at"].replace("Z", "+00:00"))
    except ValueError as error:
        raise Rejected(
            "started_at: not an ISO 8601 time, e.g. 2026-11-30T09:15:00+02:00"
        ) from error
    if started.tzinfo is None:
        raise Rejected("started_at: no UTC offset (write +02:00, +03:00 or Z)")
    if text["service"] not in services:
        raise Rejected(f"service: no service with the code {text['service']!r}")
    if text["direction"] not in ("in", "out"):
        raise Rejected("direction: must be in or out")
    agent = text.get("agent") or None
    if agent is not None and agent not in users:
        raise Rejected(f"agent: no user named {agent!r}")
    secret = text.get("secret", "").lower()
    if secret not in _TRUE | _FALSE:
        raise Rejected("secret: must be true or false")
    if secret not in _TRUE and text.get("phone"):
        try:
            text["phone"] = to_e164(text["phone"])
        except ValueError as error:
            raise Rejected("phone: not a phone number") from error
    text["started_at"] = started.astimezone(UTC)
    text["secret"] = secret in _TRUE
    return text


def entry(text: dict, services: dict[str, int], users: dict[str, int], recording) -> Entry:
    agent = text.get("agent") or None
    return Entry(
        external_id=text["id"],
        started_at=text["started_at"],
        service_id=services[text["service"]],
        direction=text["direction"],
        agent_id=users[agent] if agent else None,
        # A secret number's digits are never kept.
        phone_e164=None if text["secret"] else (text.get("phone") or None),
        secret=text["secret"],
        recording=recording,
    )


def _text(column: str, value: Any) -> str:
    if column == "secret" and isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise Rejected(f"{column}: not text")
    return str(value).strip()


def _inside(folder: Path, name: str) -> Path:
    """The recording's path, which must stay inside the manifest's folder."""
    path = (folder / name).resolve()
    if Path(name).is_absolute() or folder.resolve() not in path.parents:
        raise Rejected("recording: must be a path inside the manifest's folder")
    return path
