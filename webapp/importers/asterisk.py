"""Asterisk and FreePBX call records (CDR) with their recordings, as the phone system writes
them (see ``shared/reference/pbx-formats.md``):

- ``cdr_csv``: Asterisk's Master.csv, no header, 16 to 21 columns by its configuration;
- ``cdr_custom``: any columns, named with ``--columns`` (never guessed from the file's name);
- ``freepbx_csv``: FreePBX's CSV export, with or without its header row.

A queue or ring-group call writes a row for every leg; the rows of one call share a linkedid
(or, without one, a uniqueid), and the call is the one its ANSWERED row says, answered by the
agent of that row's extension. A call nobody answered has no recording and is left out. Local
times are read in the given zone; in the autumn's repeated hour the uniqueid's epoch (UTC)
decides which of the two it was. A presentation column (``cid_pres``) marking ``prohib…``,
or a caller the phone system shows as anonymous, makes the number secret: its digits are never
stored."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from functools import partial
from pathlib import Path

from webapp.importers.agents import Directory
from webapp.importers.entry import Entry, Rejected
from webapp.phones import to_e164

CDR_CSV = (
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
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
)
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
LAYOUTS = ("cdr_csv", "cdr_custom", "freepbx_csv")
# FreePBX's recording names: type-dst-src-YYYYMMDD-HHMMSS-uniqueid.ext, anchored on the time.
RECORDING_NAME = re.compile(
    r"^(?P<type>[^-]+)-(?P<dst>.*)-(?P<src>.*)-(?P<date>\d{8})-(?P<time>\d{6})-"
    r"(?P<uid>(?:[^-]+-)?\d+\.\d+)\.(?P<ext>[A-Za-z0-9]+)$"
)
OUTBOUND_TYPES = {"out", "ondemand"}
WITHHELD = {"anonymous", "unknown", "private", "restricted", "unavailable", "withheld"}
_EXTENSION = re.compile(r"^(?:PJSIP|SIP|IAX2|DAHDI|Local)/(?P<ext>[^-@/;]+)")


class LayoutError(ValueError):
    pass


def read(path: Path, layout: str, columns: list[str] | None) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line, fields by name); LayoutError when they cannot be named."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LayoutError(f"not UTF-8 (byte {error.start + 1} is not valid)") from error
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for fields in reader:
            if fields:
                rows.append((reader.line_num, fields))
    except csv.Error as error:
        raise LayoutError(f"line {reader.line_num}: {error}") from error
    if layout == "freepbx_csv" and rows and rows[0][1][:1] == ["calldate"]:
        names = [n.strip() for n in rows.pop(0)[1]]
    elif layout == "freepbx_csv":
        names = FREEPBX_CSV
    elif layout == "cdr_custom":
        if not columns:
            raise LayoutError("cdr_custom needs its columns: --columns clid,src,dst,…")
        names = columns
    else:
        names = None  # cdr_csv: from each row's count
    named = []
    for line, fields in rows:
        if names is None:
            if not 16 <= len(fields) <= 21:
                raise LayoutError(f"line {line}: {len(fields)} fields; cdr_csv has 16 to 21")
            row_names = CDR_CSV[: len(fields)]
        elif len(fields) != len(names):
            raise LayoutError(f"line {line}: {len(fields)} fields where {len(names)} are named")
        else:
            row_names = names
        named.append((line, dict(zip(row_names, (f.strip() for f in fields), strict=True))))
    return named


def calls(
    rows: list[tuple[int, dict[str, str]]],
    recordings: Path,
    zone: tzinfo,
    services: dict[str, int],
    agents: Directory,
    outbound_service: str | None,
) -> Iterator[tuple[int, object]]:
    """(line, a check that makes the Entry) for each call, in the order of its first row."""
    groups: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for line, row in rows:
        groups[row.get("linkedid") or row.get("uniqueid") or f"line {line}"].append((line, row))
    index = _recording_index(recordings)
    for key, legs in groups.items():
        answered = [leg for leg in legs if leg[1].get("disposition") == "ANSWERED"]
        if not answered:
            continue  # nobody answered: no recording, no call
        line, row = answered[0]
        yield line, partial(_entry, key, row, legs, index, zone, services, agents, outbound_service)


def _entry(key, row, legs, index, zone, services, agents, outbound_service) -> Entry:
    started = local_time(row.get("start") or row.get("calldate", ""), row.get("uniqueid"), zone)
    path = _find_recording(row, legs, index)
    kind = RECORDING_NAME.match(path.name)
    outbound = (kind and kind["type"] in OUTBOUND_TYPES) or (
        not kind and "from-internal" in row.get("dcontext", "")
    )
    if outbound:
        if not outbound_service or outbound_service not in services:
            raise Rejected("an outbound call: name its service with --outbound-service CODE")
        service_id = services[outbound_service]
        extension, number = _extension(row.get("channel")), row.get("dst", "")
    else:
        first = legs[0][1]
        queue = next(
            (c for c in (first.get("dst"), row.get("did"), first.get("did")) if c in services),
            None,
        )
        if queue is None:
            raise Rejected("no service whose code is the call's queue, destination or DID")
        service_id = services[queue]
        extension, number = _extension(row.get("dstchannel")), row.get("src", "")
    secret = row.get("cid_pres", "").lower().startswith("prohib") or (
        not outbound and number.strip().lower() in WITHHELD
    )
    phone = None
    if not secret and number:
        try:
            phone = to_e164(number)
        except ValueError:
            phone = None  # an extension or a service number: nobody's personal number
    local_day = started.astimezone(zone).date()
    return Entry(
        external_id=f"asterisk:{key}",
        started_at=started,
        service_id=service_id,
        direction="out" if outbound else "in",
        agent_id=agents.agent(extension, local_day),
        phone_e164=phone,
        secret=secret,
        recording=path,
    )


def local_time(text: str, uniqueid: str | None, zone: tzinfo) -> datetime:
    """A local time from the CDR as UTC. In the autumn's repeated hour (and the spring's missing
    one) the epoch in the uniqueid says which instant it was."""
    try:
        naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError as error:
        raise Rejected("the start time is not written YYYY-MM-DD HH:MM:SS") from error
    choices = [naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    epoch = _epoch(uniqueid)
    if epoch is None or choices[0] == choices[1]:
        return choices[0]
    return min(choices, key=lambda c: abs((c - epoch).total_seconds()))


def _epoch(uniqueid: str | None) -> datetime | None:
    match = re.search(r"(\d{9,11})\.\d+$", uniqueid or "")
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def _extension(channel: str | None) -> str | None:
    match = _EXTENSION.match(channel or "")
    return match.group("ext") if match else None


def _recording_index(root: Path) -> dict[str, Path]:
    """Every file under the monitor folder, by its name and by the uniqueid in its name."""
    index: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            index.setdefault(path.name, path)
            if match := RECORDING_NAME.match(path.name):
                index.setdefault(f"uid:{match['uid']}", path)
    return index


def _find_recording(row: dict[str, str], legs, index: dict[str, Path]) -> Path:
    name = Path(row.get("recordingfile", "").replace("\\", "/")).name
    if name and name in index:
        return index[name]
    for _line, leg in [(0, row), *legs]:
        uid = leg.get("uniqueid")
        if uid and f"uid:{uid}" in index:
            return index[f"uid:{uid}"]
    raise Rejected("no recording found for the call (by its recordingfile or uniqueid)")
