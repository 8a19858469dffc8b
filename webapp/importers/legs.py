"""One CDR row, whatever wrote it, as a leg of a call: its times as instants, its channels and
numbers. A row that cannot be such a leg is rejected with its reason."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from webapp.importers.entry import Rejected

# The extension in a channel: PJSIP/201-0000001a, SIP/201-…, Local/201@from-queue-…;1, and
# Follow-Me's Local/FMPR-201@… and Local/FMGL-201@….
_EXTENSION = re.compile(r"^(?:PJSIP|SIP|IAX2|DAHDI|Local)/(?:FM(?:PR|GL)-)?(?P<ext>[^-@/;]+)")
_CLID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')
_EPOCH = re.compile(r"^(?:[^-\s]+-)?(\d{9,11})\.\d+$")
_EXCEL = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2})[:.](\d\d)(?:[:.](\d\d))?$")


@dataclass(frozen=True)
class Leg:
    line: int
    start: datetime  # UTC
    answered: datetime | None  # UTC; None when unknown
    end: datetime  # UTC
    billsec: int | None
    disposition: str
    src: str
    dst: str
    dcontext: str
    clid_name: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    uniqueid: str
    linkedid: str
    sequence: int
    recordingfile: str
    did: str
    cid_pres: str
    cnum: str
    cnam: str

    @property
    def talked(self) -> bool:
        return self.disposition == "ANSWERED" and (self.billsec is None or self.billsec > 0)

    @property
    def key(self) -> str:
        """The call it belongs to: its linkedid, else its uniqueid, else (no loguniqueid) a
        digest of what names the row, stable from run to run."""
        if self.linkedid or self.uniqueid:
            return self.linkedid or self.uniqueid
        named = "|".join((self.start.isoformat(), self.src, self.dst, self.channel))
        return "t" + hashlib.sha256(named.encode()).hexdigest()[:20]


def leg(line: int, row: dict[str, str], zone: tzinfo) -> Leg:
    uniqueid = row.get("uniqueid", "")
    start = instant(row.get("start") or row.get("calldate", ""), uniqueid, zone)
    duration = _seconds(row.get("duration"))
    billsec = _seconds(row.get("billsec"))
    end = _optional_instant(row.get("end"), uniqueid, zone)
    if end is None:
        end = start + timedelta(seconds=duration or 0)
    answered = _optional_instant(row.get("answer"), uniqueid, zone)
    if answered is None and billsec is not None and duration is not None:
        answered = start + timedelta(seconds=max(duration - billsec, 0))
    clid = _CLID.match(row.get("clid", ""))
    return Leg(
        line=line,
        start=start,
        answered=answered,
        end=end,
        billsec=billsec,
        disposition=row.get("disposition", "").upper(),
        src=row.get("src", ""),
        dst=row.get("dst", ""),
        dcontext=row.get("dcontext", ""),
        clid_name=(clid["name"].strip() if clid else row.get("clid", "")).strip(),
        channel=row.get("channel", ""),
        dstchannel=row.get("dstchannel", ""),
        lastapp=row.get("lastapp", ""),
        lastdata=row.get("lastdata", ""),
        uniqueid=uniqueid,
        linkedid=row.get("linkedid", ""),
        sequence=_seconds(row.get("sequence")) or 0,
        recordingfile=row.get("recordingfile", ""),
        did=row.get("did", ""),
        cid_pres=row.get("cid_pres", ""),
        cnum=row.get("cnum", ""),
        cnam=row.get("cnam", ""),
    )


def extension(channel: str) -> str | None:
    match = _EXTENSION.match(channel or "")
    return match.group("ext") if match else None


def epoch(uniqueid: str | None) -> datetime | None:
    """The instant in a uniqueid (``1705303812.42``, ``pbx1-1705303812.42``): UTC always."""
    match = _EPOCH.match(uniqueid or "")
    return datetime.fromtimestamp(int(match.group(1)), UTC) if match else None


def instant(text: str, uniqueid: str | None, zone: tzinfo) -> datetime:
    """A CDR time as UTC: epoch seconds (``${CDR(start,u)}``), ISO 8601 with its offset, or a
    wall-clock time in ``zone`` (``2026-11-30 11:15:00``, or Excel's ``30.11.2026 11:15``). In
    the autumn's repeated hour (and the spring's missing one) the uniqueid's epoch says which
    instant it was."""
    text = text.strip()
    if re.fullmatch(r"\d{9,11}(?:\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC).replace(microsecond=0)
    naive = None
    if excel := _EXCEL.match(text):
        day, month, year, hour, minute, second = (int(g or 0) for g in excel.groups())
        try:
            naive = datetime(year, month, day, hour, minute, second)
        except ValueError:
            naive = None
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(UTC).replace(microsecond=0)
        if parsed is not None and len(text) >= 19:
            naive = parsed.replace(microsecond=0)
    if naive is None:
        raise Rejected(
            "the start time is not a time (YYYY-MM-DD HH:MM:SS, epoch seconds, or ISO 8601 "
            "with its offset)"
        )
    choices = [naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    at = epoch(uniqueid)
    if at is None or choices[0] == choices[1]:
        return choices[0]
    return min(choices, key=lambda c: abs((c - at).total_seconds()))


def _optional_instant(text: str | None, uniqueid: str, zone: tzinfo) -> datetime | None:
    if not text or not text.strip():
        return None
    try:
        return instant(text, uniqueid, zone)
    except Rejected:
        return None


def _seconds(text: str | None) -> int | None:
    try:
        return int(float(text)) if text not in (None, "") else None
    except ValueError:
        return None
