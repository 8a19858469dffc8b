"""The trail as JSON Lines or CSV, ending with a row count so that a cut-short file shows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, TextIO

from sqlalchemy import Select, select

from audit.trail import events

COLUMNS = tuple(c.name for c in events.columns)
# A spreadsheet takes a cell starting with one of these for a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def day_bounds(
    first: date | None, last: date | None, zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """The instants that begin the day ``first`` and end the day ``last`` in that zone."""
    start = datetime.combine(first, time(0), tzinfo=zone) if first else None
    stop = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone) if last else None
    return start, stop


def between(start: datetime, stop: datetime) -> Select:
    return (
        select(events)
        .where(events.c.occurred_at >= start, events.c.occurred_at < stop)
        .order_by(events.c.seq)
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def safe_cell(value: Any) -> str:
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(rows: Iterable[Any]) -> Iterator[str]:
    """RFC 4180 (CRLF; a field with CR or LF quoted), a header, and ``#END rows=N`` last."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Any]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(COLUMNS)
    count = 0
    for row in rows:
        yield line(safe_cell(v) for v in row)
        count += 1
    yield f"#END rows={count}\r\n"


def jsonl_lines(rows: Iterable[Any]) -> Iterator[str]:
    """One JSON object an event, and ``{"end": true, "rows": N}`` last."""
    count = 0
    for row in rows:
        record = {
            k: _text(v) if isinstance(v, datetime) else v for k, v in zip(COLUMNS, row, strict=True)
        }
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        count += 1
    yield json.dumps({"end": True, "rows": count}) + "\n"


FORMATS = {"csv": csv_lines, "jsonl": jsonl_lines}


class Counted:
    """Rows passed through, counted: how many went out, for the completed event."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for row in self._rows:
            self.count += 1
            yield row


def write(form: str, rows: Iterable[Any], out: TextIO) -> int:
    """Write the rows in that format and return how many there were."""
    counted = Counted(rows)
    for text in FORMATS[form](counted):
        out.write(text)
    return counted.count
