"""The monitor folder, looked up by the days the call records name: FreePBX files recordings
under ``YYYY/MM/DD/`` (server local time) and names them
``type-dst-src-YYYYMMDD-HHMMSS-uniqueid.ext``; plain Asterisk often writes them straight into
the folder, named by their uniqueid. Only the folders of the days asked about (and the top
folder) are ever listed, never the whole tree: years of recordings cost nothing.

File names hold callers' numbers, so what is said about a file (:func:`shown`) keeps its folder,
type, time and uniqueid and leaves the numbers out."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

# Anchored on the date-time block, since a number may hold a dash; the uniqueid may carry a
# systemname- prefix.
NAME = re.compile(
    r"^(?P<type>[^-]+)-(?P<dst>.*)-(?P<src>.*)-(?P<date>\d{8})-(?P<time>\d{6})-"
    r"(?P<uid>(?:[^-]+-)?\d+\.\d+)\.(?P<ext>[A-Za-z0-9]+)$"
)
_UID_NAME = re.compile(r"^(?:.*?[-_])?(?P<uid>(?:[^-_]+-)?\d{9,11}\.\d+)\.(?P<ext>[A-Za-z0-9]+)$")
AUDIO = {".wav", ".wav49", ".gsm", ".ulaw", ".ul", ".alaw", ".al", ".sln", ".sln16", ".mu"}
HEADER_ONLY = 44  # a bare WAV header: FreePBX, too, takes such a file for a missing recording
SETTLING_S = 60  # a file changed this recently may still be being written


@dataclass(frozen=True)
class File:
    path: Path
    uid: str | None
    local: datetime | None  # when the recording started (its name), local wall clock
    src: str | None
    dst: str | None
    kind: str | None


class Monitor:
    def __init__(self, root: Path, zone: tzinfo) -> None:
        self.root, self.zone = root, zone
        self._days: dict[date, list[File]] = {}
        self._top: list[File] | None = None
        self._names: dict[date | None, dict[str, File]] = {}
        self._uids: dict[date | None, dict[str, list[File]]] = {}

    def day(self, day: date) -> list[File]:
        """The recordings in the day's folder (YYYY/MM/DD), listed once."""
        if day not in self._days:
            folder = self.root / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
            self._days[day] = _files(folder)
        return self._days[day]

    def top(self) -> list[File]:
        if self._top is None:
            self._top = _files(self.root)
        return self._top

    def near(self, at: datetime) -> list[File]:
        """The files that may belong to a leg at this instant: its local day's folder, the days
        either side (midnight, and a PBX clock set to another zone), and the top folder."""
        local = at.astimezone(self.zone).date()
        files: list[File] = []
        for offset in (0, -1, 1):
            files += self.day(local + timedelta(days=offset))
        return files + self.top()

    def named(self, name: str, at: datetime) -> File | None:
        """The file of this name in the leg's days' folders or the top folder."""
        for key, files in self._indexed(at):
            if hit := self._index(key, files)[0].get(name):
                return hit
        return None

    def with_uid(self, uids: set[str], at: datetime) -> list[File]:
        found = []
        for key, files in self._indexed(at):
            by_uid = self._index(key, files)[1]
            for uid in uids:
                found += by_uid.get(uid, ())
        return found

    def _indexed(self, at: datetime):
        local = at.astimezone(self.zone).date()
        for offset in (0, -1, 1):
            day = local + timedelta(days=offset)
            yield day, self.day(day)
        yield None, self.top()

    def _index(self, key, files):
        if key not in self._names:
            self._names[key] = {f.path.name: f for f in files}
            uids: dict[str, list[File]] = {}
            for f in files:
                if f.uid:
                    uids.setdefault(f.uid, []).append(f)
            self._uids[key] = uids
        return self._names[key], self._uids[key]

    def between(self, first: datetime, last: datetime) -> list[File]:
        """Every recording made from ``first`` to ``last`` (by its name's time, else by when the
        file was last written): what the call records of that period ought to have named."""
        a, b = first.astimezone(self.zone), last.astimezone(self.zone)
        days = [a.date() + timedelta(days=n) for n in range((b.date() - a.date()).days + 1)]
        lo, hi = a.replace(tzinfo=None), b.replace(tzinfo=None)
        found = []
        for file in [f for d in days for f in self.day(d)] + self.top():
            when = file.local
            if when is None:
                try:
                    when = datetime.fromtimestamp(file.path.stat().st_mtime, self.zone)
                except OSError:
                    continue
                when = when.replace(tzinfo=None)
            if lo <= when <= hi:
                found.append(file)
        return found


def _files(folder: Path) -> list[File]:
    try:
        with os.scandir(folder) as found:  # the directory's own entry types: no stat a file
            names = sorted(
                e.name
                for e in found
                if os.path.splitext(e.name)[1].lower() in AUDIO and e.is_file()
            )
    except OSError:
        return []
    return [_file(folder / name) for name in names]


def _file(path: Path) -> File:
    if match := NAME.match(path.name):
        try:
            local = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
        except ValueError:
            local = None
        return File(path, match["uid"], local, match["src"], match["dst"], match["type"])
    if match := _UID_NAME.match(path.name):
        return File(path, match["uid"], None, None, None, None)
    return File(path, None, None, None, None, None)


def settling(path: Path) -> bool:
    """Written to in the last minute: a call still being recorded, for the next run."""
    try:
        return time.time() - path.stat().st_mtime < SETTLING_S
    except OSError:
        return False


def empty(path: Path) -> bool:
    try:
        return path.stat().st_size <= HEADER_ONLY
    except OSError:
        return True


def shown(file: File, root: Path) -> str:
    """A file as it may be said in output and logs: folder, type, time and uniqueid, without
    the numbers in its name."""
    try:
        folder = file.path.parent.relative_to(root).as_posix()
    except ValueError:
        folder = "?"
    prefix = "" if folder == "." else folder + "/"
    if match := NAME.match(file.path.name):
        return (
            f"{prefix}{match['type']}-…-{match['date']}-{match['time']}-{match['uid']}."
            f"{match['ext']}"
        )
    if match := _UID_NAME.match(file.path.name):
        return f"{prefix}…{match['uid']}.{match['ext']}"
    return prefix + re.sub(r"\d{5,}", "…", file.path.name)
