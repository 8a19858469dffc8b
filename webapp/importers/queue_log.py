"""Who took each queue call, read from Asterisk's ``queue_log`` file.

``main/logger.c`` ``ast_queue_log`` writes one line per event,
``"%ld|%s|%s|%s|%s|" + fmt``: epoch (``time(NULL)``, so UTC), callid (the caller channel's
uniqueid, or ``REALTIME``/``NONE``), queue, agent, event, then the event's data, which
``apps/app_queue.c`` formats with ``|`` between the fields. The file always has the epoch; only
the realtime (database) backend writes a date string, in local time unless
``queue_log_realtime_use_gmt``, and with ``queue_adaptive_realtime`` splits the data into
``data1``..``data5``. This module reads the file only.

The events that say who talked (``apps/app_queue.c``):

- ``CONNECT(holdtime|bridgedchanneluniqueid|ringtime)``
- ``COMPLETEAGENT`` / ``COMPLETECALLER(holdtime|calltime|origposition)``
- ``BLINDTRANSFER(extension|context|holdtime|calltime|origposition)`` (Asterisk 12+)
- ``ATTENDEDTRANSFER(method|method-data…|holdtime|calltime|origposition)`` (Asterisk 12+):
  ``BRIDGE|bridge``, ``APP|app`` or ``LINK|channel|channel``, so five or six data fields
- ``TRANSFER(extension|context|holdtime|calltime|origposition)``: Asterisk 11 and older

Their agent field is the member's name, which is the interface (``PJSIP/201``) unless the
member was added with a name; ``log_membername_as_agent`` changes only ADDMEMBER/REMOVEMEMBER.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["ENDINGS", "QueueLog", "Talk", "bare_callid", "extension", "read", "same_call"]

ENDINGS = frozenset(
    ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")
)
_ENDINGS = frozenset(e.encode() for e in ENDINGS)
_CONNECT = b"CONNECT"

# "PJSIP/201", "SIP/201@peer", "Local/201@from-queue/n", "Local/201@from-queue-0000;1"
_INTERFACE = re.compile(r"([A-Za-z][A-Za-z0-9]*)/([^@/;\s]+)")
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}$")  # "PJSIP/201-0000001a", a channel name
_NOT_A_DEVICE = frozenset(("agent",))  # app_agent_pool's "Agent/1001" is a login, not a phone


@dataclass(frozen=True)
class Talk:
    queue: str
    agent: str  # the queue member as written: "PJSIP/201", "Local/201@from-queue/n", a name
    connected: datetime  # UTC, from the CONNECT line's epoch
    ended: datetime | None  # UTC, from the ending line's epoch; None if not yet ended
    how: str  # the ending event's name, or ""
    bridged_uniqueid: str | None  # CONNECT's bridgedchanneluniqueid: the agent leg's uniqueid


def bare_callid(callid: str) -> str:
    """The uniqueid without the ``systemname-`` prefix Asterisk puts before ``epoch.seq``."""
    return callid.rpartition("-")[2]


def same_call(a: str, b: str) -> bool:
    """Whether two uniqueids name one call, with or without the systemname prefix.

    ``pbx1-1705303812.42`` matches ``1705303812.42`` but not ``pbx2-1705303812.42``."""
    if a == b:
        return True
    bare_a, bare_b = bare_callid(a), bare_callid(b)
    return bare_a == bare_b and (a == bare_a or b == bare_b)


def extension(agent: str) -> str | None:
    """The extension in a member interface ("201" from "PJSIP/201" or "Local/201@from-queue/n"),
    None for a member name ("Aino Agentti"), which the caller maps through its directory."""
    text = agent.strip()
    m = _INTERFACE.match(text)
    if not m or m.group(1).lower() in _NOT_A_DEVICE:
        return None
    rest = text[m.end() :]
    if rest and rest[0] not in "@/;":
        return None
    resource = m.group(2)
    if m.group(1).lower() != "local":
        resource = _CHANNEL_SUFFIX.sub("", resource)
    return resource or None


@dataclass
class QueueLog:
    problems: list[tuple[int, str]] = field(default_factory=list)
    _calls: dict[str, list[Talk]] = field(default_factory=dict, repr=False)
    _by_bare: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def talks(self, callid: str) -> list[Talk]:
        """Every connection of the call, in order of connection; ``callid`` may be given with
        or without the systemname prefix."""
        found = list(self._calls.get(callid, ()))
        for written in self._by_bare.get(bare_callid(callid), ()):
            if written != callid and same_call(written, callid):
                found.extend(self._calls[written])
        return sorted(found, key=lambda t: t.connected)

    def callids(self) -> Iterator[str]:
        """The calls with a CONNECT, as written."""
        return iter(self._calls)

    def __len__(self) -> int:
        return len(self._calls)

    def _connect(self, callid: str, talk: Talk) -> None:
        if callid not in self._calls:
            self._calls[callid] = []
            self._by_bare.setdefault(bare_callid(callid), []).append(callid)
        self._calls[callid].append(talk)

    def _end(self, callid: str, queue: str, agent: str, when: datetime, how: str) -> bool:
        talks = self._calls.get(callid)
        if not talks:
            return False
        open_ = [i for i, t in enumerate(talks) if t.ended is None and t.agent == agent]
        if not open_:
            return False
        same_queue = [i for i in open_ if talks[i].queue == queue]
        i = (same_queue or open_)[-1]
        t = talks[i]
        talks[i] = Talk(t.queue, t.agent, t.connected, when, how, t.bridged_uniqueid)
        return True


def _when(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def read(path: Path, since: datetime | None = None) -> QueueLog:
    """Read a queue_log file line by line, keeping only CONNECT and the ending events.

    ``since`` (timezone-aware) skips lines whose epoch is older, looking only at the epoch.
    A CONNECT older than ``since`` is then unknown, so its later ending is ignored."""
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    floor = None if since is None else since.timestamp()
    log = QueueLog()
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            bar = line.find(b"|")
            stamp = line[:bar] if bar >= 0 else line
            if not stamp.isdigit():
                text = stamp[:40].decode("utf-8", "replace")
                log.problems.append((number, f"time is not a number: {text!r}"))
                continue
            epoch = int(stamp)
            if floor is not None and epoch < floor:
                continue
            parts = line.split(b"|", 5)
            if len(parts) < 5:
                log.problems.append((number, f"{len(parts)} fields, at least 5 expected"))
                continue
            event = parts[4].strip()
            if event != _CONNECT and event not in _ENDINGS:
                continue
            try:
                when = _when(epoch)
            except (OverflowError, OSError, ValueError):
                log.problems.append((number, f"time out of range: {epoch}"))
                continue
            callid, queue, agent = (p.decode("utf-8", "replace") for p in parts[1:4])
            if not callid or callid in ("NONE", "REALTIME"):
                log.problems.append((number, f"{event.decode()} without a caller uniqueid"))
                continue
            if event == _CONNECT:
                data = parts[5].split(b"|") if len(parts) > 5 else []
                bridged = data[1].decode("utf-8", "replace") if len(data) > 1 else ""
                log._connect(callid, Talk(queue, agent, when, None, "", bridged or None))
            else:
                log._end(callid, queue, agent, when, event.decode())
    return log
