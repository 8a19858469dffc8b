"""Call-record files as Asterisk and FreePBX write them, read into rows of named fields (see
``shared/reference/pbx-formats.md`` §7.1–7.4, 7.10):

- ``cdr_csv``: Asterisk's Master.csv, no header, 16 to 21 columns by its ``cdr.conf``
  (``loguniqueid``, ``loguserfield``, ``newcdrcolumns``). 17 and 20 columns are ambiguous (a
  uniqueid or a userfield) and are refused unless ``--columns`` names them;
- ``cdr_custom``: the columns of its mapping, named with ``--columns`` (never guessed), comma
  or tab separated;
- ``freepbx_csv``: FreePBX's CDR report export, with its header (any column order, newest
  first as it downloads) or without (the export's order), also as Excel saves it again with
  Finnish settings (``;`` and Windows-1252).

A file is read whole and its framing checked before anything is imported: a broken quote, a
row of the wrong width or a layout under which no row makes sense stops it, naming the line."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

CDR_CSV_BASE = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")  # newcdrcolumns=yes
# cdr_csv's layouts by column count; 17 and 20 have two readings each.
CDR_CSV = {
    16: [CDR_CSV_BASE],
    17: [(*CDR_CSV_BASE, "uniqueid"), (*CDR_CSV_BASE, "userfield")],
    18: [(*CDR_CSV_BASE, "uniqueid", "userfield")],
    19: [(*CDR_CSV_BASE, *NEW_COLUMNS)],
    20: [(*CDR_CSV_BASE, "uniqueid", *NEW_COLUMNS), (*CDR_CSV_BASE, "userfield", *NEW_COLUMNS)],
    21: [(*CDR_CSV_BASE, "uniqueid", "userfield", *NEW_COLUMNS)],
}
_OPTIONS = {"uniqueid": "loguniqueid=yes", "userfield": "loguserfield=yes"}
FREEPBX_CSV = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "did",
    "cnum",
    "cnam",
    "outbound_cnum",
    "outbound_cnam",
    "dst_cnam",
    "recordingfile",
    "linkedid",
    "peeraccount",
    "sequence",
)
# FreePBX's exports before its newer columns: the table's base DDL, 16 columns.
FREEPBX_CSV_OLD = FREEPBX_CSV[:16]
LAYOUTS = ("cdr_csv", "cdr_custom", "freepbx_csv")
# Every field a CDR can carry, for checking --columns.
KNOWN = {
    *CDR_CSV_BASE,
    *FREEPBX_CSV,
    "uniqueid",
    "userfield",
    *NEW_COLUMNS,
    "cid_pres",
    "calldate",
    "tenantid",
    "-",  # a column to ignore
}
START_FIELDS = ("start", "calldate")
_UNIQUEID = re.compile(r"^(?:[^-\s]+-)?\d{9,11}\.\d+$")


class LayoutError(ValueError):
    """The file as a whole cannot be read as asked: nothing of it is imported."""


@dataclass
class Records:
    rows: list[tuple[int, dict[str, str]]]
    notes: list[str] = field(default_factory=list)  # what the reader had to decide, to say


def read(path: Path, layout: str, columns: list[str] | None) -> Records:
    """The file's rows as (line, fields by name)."""
    raw = path.read_bytes()
    notes: list[str] = []
    text, encoding = _decode(raw)
    delimiter = _delimiter(text)
    if encoding != "UTF-8" or delimiter != ",":
        shown = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
        notes.append(f"read as {shown}-separated {encoding}, as Excel saves a CSV file again")
    lines = _split(text, delimiter)
    if columns:
        unknown = [c for c in columns if c not in KNOWN]
        if unknown:
            raise LayoutError(
                f"--columns names fields no call record has: {', '.join(unknown)} "
                "(use - for a column to ignore)"
            )
    if layout == "freepbx_csv":
        names = _freepbx_names(lines, columns, notes)
        rows = _named(lines, lambda line, n: names)
    elif layout == "cdr_custom" or columns:
        if not columns:
            raise LayoutError("cdr_custom needs its columns: --columns clid,src,dst,…")
        rows = _named(lines, lambda line, n: columns)
    else:
        rows = _named(lines, _cdr_csv_names)
    if rows:
        _check_sense(rows, layout)
    return Records(rows, notes)


def _decode(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as error:
        at = error.start
    try:
        # Excel with Finnish settings saves in Windows-1252; five of its bytes mean nothing.
        return raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        raise LayoutError(
            f"neither UTF-8 (byte {at + 1} is not valid) nor Windows-1252: save it as UTF-8"
        ) from None


def _delimiter(text: str) -> str:
    """A comma, or what the first line shows instead: Excel's semicolon, or cdr_custom's tab.
    (A comma line may hold a semicolon or two, in ``Local/201@from-queue-…;1``.)"""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def _split(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    if delimiter == "\t":
        # cdr_custom's tab-separated mappings quote as they please (or not): a tab never
        # stands inside a field, so each line is split on tabs and a field's quotes dropped.
        return [
            (n, [_unquoted(f) for f in line.rstrip("\r").split("\t")])
            for n, line in enumerate(text.split("\n"), start=1)
            if line.strip()
        ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    lines = []
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                lines.append((reader.line_num, fields))
    except csv.Error as error:
        raise LayoutError(f"line {reader.line_num}: {error}") from error
    return lines


def _unquoted(field: str) -> str:
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def _freepbx_names(lines, columns, notes) -> list[str]:
    if lines and lines[0][1] and lines[0][1][0].strip().lstrip("\ufeff").lower() == "calldate":
        names = [n.strip().lower() for n in lines.pop(0)[1]]
        missing = [n for n in ("calldate", "disposition") if n not in names]
        if missing:
            raise LayoutError(f"the header has no {', '.join(missing)} column")
        return names
    if columns:
        return columns
    width = len(lines[0][1]) if lines else len(FREEPBX_CSV)
    if width == len(FREEPBX_CSV_OLD):
        notes.append("16 columns without a header: read as an older FreePBX export")
        return list(FREEPBX_CSV_OLD)
    return list(FREEPBX_CSV)


def _cdr_csv_names(line: int, width: int) -> tuple[str, ...]:
    readings = CDR_CSV.get(width)
    if readings is None:
        raise LayoutError(f"line {line}: {width} fields; cdr_csv has 16 to 21")
    if len(readings) > 1:
        choices = " or ".join(
            f"--columns {','.join(r)} ({_OPTIONS[next(n for n in r[16:] if n in _OPTIONS)]})"
            for r in readings
        )
        raise LayoutError(
            f"line {line}: {width} fields is either a uniqueid (loguniqueid=yes) or a userfield "
            f"(loguserfield=yes) after amaflags, and the file cannot say which; give {choices}"
        )
    return readings[0]


def _named(lines, names_of) -> list[tuple[int, dict[str, str]]]:
    named = []
    for line, fields in lines:
        names = names_of(line, len(fields))
        if len(fields) != len(names):
            raise LayoutError(f"line {line}: {len(fields)} fields where {len(names)} are named")
        named.append((line, {n: f.strip() for n, f in zip(names, fields, strict=True) if n != "-"}))
    return named


def _check_sense(rows: list[tuple[int, dict[str, str]]], layout: str) -> None:
    """A layout under which no row has a start time and a disposition is the wrong one."""
    names = set(rows[0][1])
    start = next((n for n in START_FIELDS if n in names), None)
    if start is None or "disposition" not in names:
        lacking = [
            w
            for w, ok in (("a start time", start), ("disposition", "disposition" in names))
            if not ok
        ]
        raise LayoutError(
            f"the columns name no {' and no '.join(lacking)}: every call record has them"
        )
    if not any(_looks_like_time(row.get(start, "")) for _line, row in rows):
        raise LayoutError(
            f"no row has a time in its {start} column: the columns are not in the file's order"
        )
    dispositions = {row.get("disposition", "").upper() for _line, row in rows}
    if not dispositions & {"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "CANCEL"}:
        raise LayoutError(
            "no row has a disposition (ANSWERED, NO ANSWER …) in its disposition column: "
            "the columns are not in the file's order"
        )
    if layout != "cdr_custom" and "uniqueid" in names:
        for line, row in rows:
            value = row.get("uniqueid", "")
            if value and not _UNIQUEID.match(value):
                raise LayoutError(
                    f"line {line}: the uniqueid column holds something else; give the "
                    "file's columns with --columns"
                )


_TIME = re.compile(
    r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d|^\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}[:.]\d\d|^\d{9,11}(?:\.\d+)?$"
)


def _looks_like_time(text: str) -> bool:
    return bool(_TIME.match(text))
