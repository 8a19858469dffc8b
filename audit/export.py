"""The trail as JSON Lines or CSV, ending with a row count so that a cut-short file shows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
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


def as_csv(rows: Iterable[Any], out: TextIO) -> int:
    writer = csv.writer(out)  # RFC 4180: CRLF, and a field with CR or LF is quoted
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        count += 1
    out.write(f"#END rows={count}\r\n")
    return count


def as_jsonl(rows: Iterable[Any], out: TextIO) -> int:
    count = 0
    for row in rows:
        record = {
            k: _text(v) if isinstance(v, datetime) else v for k, v in zip(COLUMNS, row, strict=True)
        }
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    out.write(json.dumps({"end": True, "rows": count}) + "\n")
    return count


FORMATS = {"csv": as_csv, "jsonl": as_jsonl}
