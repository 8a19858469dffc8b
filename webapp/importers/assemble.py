"""Legs into calls, and calls into the parts each agent took, each with its recording.

The legs of one call share a linkedid (or, without one, a uniqueid) and are taken in the order
they happened, whatever order the file has them in (FreePBX's export is newest first). A leg
*talked* when it was answered with billable seconds. The agent of a leg is who the queue_log
says took it, else whoever the dated extension mapping puts at its extension that day; a leg
on no agent's extension (an IVR, an announcement, a ``Local/600@…`` dialplan leg) is never a
call's agent while an agent's leg is there.

Every recording found for a call is kept, and each agent gets the part they took: a transfer's
second agent, with a recording of their own, gets a call of their own; one recording spanning
two agents (MixMonitor on the caller's channel goes on across a transfer) is cut where the
second agent answered. Recordings nobody can be given are named with their reason."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path

import phonenumbers

from webapp.importers.agents import Directory
from webapp.importers.entry import Entry, Later, Rejected
from webapp.importers.legs import Leg, epoch, extension, leg
from webapp.importers.recordings import File, Monitor, empty, settling, shown
from webapp.phones import to_e164

WITHHELD = {"anonymous", "restricted", "private", "withheld", "unknown", "unavailable"}
_DIALPLAN_APPS = {"playback", "background", "read", "ivr", "voicemail", "vm", "saydigits"}
SLACK = timedelta(seconds=5)


@dataclass
class Options:
    zone: tzinfo
    services: dict[str, int]
    directory: Directory
    members: dict[str, int] = field(default_factory=dict)  # queue member names → user ids
    queue_log: object | None = None  # webapp.importers.queue_log.QueueLog
    outbound_service: str | None = None
    dial_prefixes: tuple[str, ...] = ()


@dataclass
class Plan:
    items: list[tuple[int, Callable[[], Entry]]] = field(default_factory=list)
    calls: int = 0  # answered calls
    unanswered: int = 0
    unused: list[tuple[str, str]] = field(default_factory=list)  # a file as shown, why
    waiting: list[str] = field(default_factory=list)  # still being written: the next run's
    notes: list[str] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class _Part:
    file: File
    legs: list[Leg]  # the legs it was found by, first first
    agent_leg: Leg | None = None
    agent_id: int | None = None
    extension: str | None = None
    span: tuple[float, float | None] | None = None
    started: datetime | None = None


def plan(rows: list[tuple[int, dict[str, str]]], monitor: Monitor, options: Options) -> Plan:
    result = Plan()
    groups: dict[str, list[Leg]] = defaultdict(list)
    for line, row in rows:
        try:
            one = leg(line, row, options.zone)
        except Rejected as error:
            result.items.append((line, partial(_refuse, str(error))))
            continue
        groups[one.key].append(one)
    if not groups:
        return result
    for legs in groups.values():
        legs.sort(key=lambda g: (g.start, g.sequence, g.line))
    result.first = min(legs[0].start for legs in groups.values())
    result.last = max(max(g.end for g in legs) for legs in groups.values())
    _check_clock(groups, result)
    if not any(g.uniqueid for legs in groups.values() for g in legs):
        result.notes.append(
            "these call records have no uniqueid: recordings are found by their time, source "
            "and destination; loguniqueid=yes in cdr.conf lets every one be found by it"
        )
    claimed: dict[Path, str | None] = {}  # a recording → why it is not imported (None: it is)
    for key, legs in groups.items():
        _plan_call(key, legs, monitor, options, claimed, result)
    if result.first and result.last:
        for file in monitor.between(result.first - SLACK, result.last + SLACK):
            reason = claimed.get(file.path, "no call record names it")
            if file.path not in claimed and empty(file.path):
                reason = "empty: a bare header"
            if file.path in claimed and reason is None:
                continue
            if settling(file.path):
                result.waiting.append(shown(file, monitor.root))
                continue
            result.unused.append((shown(file, monitor.root), reason))
    return result


def _plan_call(key, legs, monitor, options, claimed, result) -> None:
    first = legs[0]
    talked = [g for g in legs if g.talked]
    direction = _direction(legs, options)
    found = _recordings(legs, monitor, claimed)
    if not talked:
        result.unanswered += 1
        for file in found:
            claimed[file.path] = "its call was not answered"
        return
    result.calls += 1
    if direction == "internal":
        for file in found:
            claimed[file.path] = "an internal call between extensions, not a customer's"
        result.items.append(
            (first.line, partial(_refuse, "an internal call between extensions: not imported"))
        )
        return
    offset = _clock_offset(first)
    if offset:
        result.items.append((first.line, partial(_refuse, _clock_reason(offset))))
        return
    agents = [(g, *_agent(g, direction, options)) for g in talked]
    agents = [a for a in agents if a[2] is not None] or []
    parts = _parts(found, agents, first, options.zone)
    # A call with its record written has ended, and so has its recording.
    for part in parts:
        claimed[part.file.path] = None
    ready = parts
    # An agent who talked and whose talk is in no recording is named: their part is lost.
    covered = {p.agent_id for p in parts}
    for g, _ext, agent_id in agents:
        if agent_id not in covered and parts:
            result.items.append(
                (g.line, partial(_refuse, "an agent's part of the call has no recording"))
            )
    if not parts:
        hint = "" if first.uniqueid else " (loguniqueid=yes in cdr.conf makes it findable)"
        result.items.append(
            (
                first.line,
                partial(
                    _refuse,
                    f"no recording found for the call (by its recordingfile or uniqueid){hint}",
                ),
            )
        )
        return
    for number, part in enumerate(ready, start=1):
        external = f"asterisk:{key}" if number == 1 else f"asterisk:{key}/{number}"
        line = (part.agent_leg or part.legs[0]).line
        make = partial(_entry, external, part, legs, direction, options)
        result.items.append((line, Later(external, make)))


def _direction(legs: list[Leg], options: Options) -> str:
    """in, out, or internal: who began the call, and what they dialled."""
    first = legs[0]
    caller = extension(first.channel)
    from_inside = first.dcontext.startswith("from-internal") or (
        caller is not None and options.directory.knows(caller)
    )
    if not from_inside:
        return "in"
    dialled = first.dst
    if dialled in options.services:
        return "internal"  # an agent calling a queue
    if options.directory.knows(dialled) or (dialled.isdigit() and len(dialled) <= 5):
        return "internal"
    return "out"


def _agent(g: Leg, direction: str, options: Options) -> tuple[str | None, int | None]:
    """The extension and agent on the leg: who took it (in) or who dialled (out)."""
    ext = extension(g.channel if direction == "out" else g.dstchannel)
    day = g.start.astimezone(options.zone).date()
    if options.queue_log is not None and direction == "in":
        member = _talk_member(g, ext, options)
        if member is not None:
            return ext, member
    if ext is None or ext in options.services:
        return ext, None  # a dialplan leg: a queue, an IVR, an announcement
    if g.lastapp.lower() in _DIALPLAN_APPS and not g.dstchannel:
        return ext, None
    return ext, options.directory.agent(ext, day)


def _talk_member(g: Leg, ext: str | None, options: Options) -> int | None:
    from webapp.importers.queue_log import extension as member_extension

    talks = []
    for callid in dict.fromkeys((g.linkedid, g.uniqueid)):
        if callid:
            talks += options.queue_log.talks(callid)
    if not talks:
        return None
    at = g.answered or g.start
    same = [t for t in talks if ext is not None and member_extension(t.agent) == ext]
    near = [t for t in talks if abs((t.connected - at).total_seconds()) <= 30]
    pick = min(
        same or near or [], key=lambda t: abs((t.connected - at).total_seconds()), default=None
    )
    if pick is None:
        return None
    day = pick.connected.astimezone(options.zone).date()
    own = member_extension(pick.agent)
    by_name = options.members.get(pick.agent.strip().lower())
    if by_name is not None:
        return by_name
    return options.directory.agent(own, day) if own else None


def _recordings(legs: list[Leg], monitor: Monitor, claimed) -> list[File]:
    """The call's recordings, each once: by recordingfile, by uniqueid, and (without either) by
    the time and numbers in FreePBX's names where exactly one file fits."""
    found: dict[Path, File] = {}
    for g in legs:
        if g.recordingfile:
            name = g.recordingfile.replace("\\", "/").rsplit("/", 1)[-1]
            if file := monitor.named(name, g.start):
                found.setdefault(file.path, file)
        for file in monitor.with_uid({g.uniqueid, g.linkedid} - {""}, g.start):
            found.setdefault(file.path, file)
    if not found:
        for g in legs:
            if not g.talked:
                continue
            fits = [f for f in monitor.near(g.start) if _fits(f, g, monitor.zone)]
            fits = [f for f in fits if f.path not in claimed and f.path not in found]
            if len(fits) == 1:
                found[fits[0].path] = fits[0]
    return sorted(found.values(), key=lambda f: (f.local or datetime.min, f.path.name))


def _fits(file: File, g: Leg, zone: tzinfo) -> bool:
    if file.local is None:
        return False
    lo = g.start.astimezone(zone).replace(tzinfo=None) - SLACK
    hi = g.end.astimezone(zone).replace(tzinfo=None) + SLACK
    if not lo <= file.local <= hi:
        return False
    numbers = {g.src, g.dst, g.did, extension(g.channel), extension(g.dstchannel)} - {None, ""}
    return file.src in numbers or file.dst in numbers


def _parts(found: list[File], agents, first: Leg, zone: tzinfo) -> list[_Part]:
    """Each recording with the agent (or agents, cut at each answer) whose talk it holds."""
    parts = []
    for file in found:
        owners = [a for a in agents if _holds(file, a[0])]
        if not owners and len(found) == 1:
            owners = agents  # the call's one recording holds whoever talked
        elif not owners:
            owners = [a for a in agents if _during(file, a[0], zone)]
        # The same agent on two legs (Follow-Me's Local/FMPR-… and their own phone, or a
        # Local/…;1 and ;2 pair) is one part.
        distinct = []
        for owner in owners:
            if not distinct or distinct[-1][2] != owner[2]:
                distinct.append(owner)
        if len(distinct) <= 1:
            g, ext, agent_id = distinct[0] if distinct else (None, None, None)
            parts.append(_Part(file, [first], g, agent_id, ext, None, None))
            continue
        origin = first.start
        for n, (g, ext, agent_id) in enumerate(distinct):
            begin = 0.0 if n == 0 else _at(g, origin)
            end = _at(distinct[n + 1][0], origin) if n + 1 < len(distinct) else None
            started = origin + timedelta(seconds=begin)
            parts.append(_Part(file, [g], g, agent_id, ext, (begin, end), started))
    return parts


def _holds(file: File, g: Leg) -> bool:
    """The recording was made on this leg: named by it, or by its uniqueid alone."""
    name = g.recordingfile.replace("\\", "/").rsplit("/", 1)[-1]
    if name:
        return file.path.name == name
    return file.uid is not None and file.uid == g.uniqueid


def _during(file: File, g: Leg, zone: tzinfo) -> bool:
    if file.local is None:
        return False
    lo = g.start.astimezone(zone).replace(tzinfo=None) - SLACK
    return lo <= file.local <= g.end.astimezone(zone).replace(tzinfo=None) + SLACK


def _at(g: Leg, origin: datetime) -> float:
    return max(((g.answered or g.start) - origin).total_seconds(), 0.0)


def _entry(external: str, part: _Part, legs: list[Leg], direction: str, options: Options) -> Entry:
    first = legs[0]
    if direction == "out":
        if not options.outbound_service or options.outbound_service not in options.services:
            raise Rejected("an outbound call: name its service with --outbound-service CODE")
        service_id = options.services[options.outbound_service]
        phone, secret = _dialled(first.dst, options.dial_prefixes), False
    else:
        service_id = _service(legs, options)
        secret = _withheld(first)
        phone = None if secret else _caller(first)
    return Entry(
        external_id=external,
        started_at=part.started or first.start,
        service_id=service_id,
        direction=direction,
        agent_id=part.agent_id,
        phone_e164=phone,
        secret=secret,
        recording=part.file.path,
        span=part.span,
    )


def _service(legs: list[Leg], options: Options) -> int:
    codes = [g.dst for g in legs] + [g.did for g in legs]
    codes += [g.lastdata.split(",", 1)[0] for g in legs if g.lastapp.lower() == "queue"]
    if options.queue_log is not None:
        for g in legs:
            for callid in (g.linkedid, g.uniqueid):
                codes += [t.queue for t in options.queue_log.talks(callid)] if callid else []
    queue = next((c for c in codes if c in options.services), None)
    if queue is None:
        raise Rejected("no service whose code is the call's queue, destination or DID")
    return options.services[queue]


def _withheld(first: Leg) -> bool:
    """A caller who withheld the number, though the digits may have come (P-Asserted-Identity):
    presentation prohibited, or a name the phone system shows for a withheld number."""
    if first.cid_pres.strip().lower().startswith("prohib"):
        return True
    names = {first.clid_name, first.cnam, first.src, first.cnum}
    return any(n.strip().lower() in WITHHELD for n in names if n)


def _caller(first: Leg) -> str | None:
    try:
        return to_e164(first.cnum or first.src)
    except ValueError:
        return None  # an extension, a service number: nobody's personal number


def _dialled(number: str, prefixes: tuple[str, ...]) -> str | None:
    """The customer's number as they really have it, without the outside-line prefix; never a
    guess that could be someone else's number."""
    digits = re.sub(r"[\s-]", "", number)
    for prefix in sorted(prefixes, key=len, reverse=True):
        if digits.startswith(prefix) and len(digits) > len(prefix) + 4:
            digits = digits[len(prefix) :]
            break
    else:
        if not prefixes and _looks_prefixed(digits):
            raise Rejected(
                f"the dialled number looks dialled with an outside-line prefix ({digits[0]}): "
                f"give --dial-prefix {digits[0]} (or --dial-prefix '' when there is none)"
            )
    valid = _valid(digits)
    if valid is None:
        raise Rejected("the dialled number is not a valid phone number")
    return valid


def _looks_prefixed(digits: str) -> bool:
    """9 or 0 before a valid national number (``9 040 123 4567``, ``0 040 …``)."""
    return digits[:1] in {"9", "0"} and digits[1:2] == "0" and _valid(digits[1:]) is not None


def _valid(digits: str) -> str | None:
    try:
        parsed = phonenumbers.parse(digits, "FI")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _refuse(reason: str) -> Entry:
    raise Rejected(reason)


def _clock_offset(first: Leg) -> int:
    """Whole hours between the start time and the uniqueid's own instant (0 when they agree or
    cannot be compared): the sign of times written in another zone than was given."""
    at = epoch(first.uniqueid)
    if at is None:
        return 0
    delta = (first.start - at).total_seconds()
    hours = round(delta / 3600)
    return hours if hours and abs(delta - hours * 3600) <= 120 else 0


def _clock_reason(hours: int) -> str:
    way = "ahead of" if hours > 0 else "behind"
    return (
        f"the start time is {abs(hours)} h {way} the uniqueid's own time: the records are in "
        "another time zone than --timezone (UTC, with usegmtime=yes? give --timezone UTC)"
    )


def _check_clock(groups: dict[str, list[Leg]], result: Plan) -> None:
    offsets = [_clock_offset(legs[0]) for legs in groups.values() if legs[0].uniqueid]
    if offsets and sum(1 for o in offsets if o) * 2 > len(offsets):
        common = max(set(offsets), key=offsets.count)
        raise ClockError(_clock_reason(common).replace("the start time is", "the start times are"))


class ClockError(ValueError):
    """Most of the file's times disagree with their uniqueids: nothing is imported."""
