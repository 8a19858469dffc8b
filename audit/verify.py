"""Walks the chain, streaming, and names the first event that is not as it was written."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection

from audit.checkpoints import Checkpoint, tip
from audit.trail import chain_value, events, previous_bytes


class Tampering(enum.StrEnum):
    CHANGED = "changed"
    REMOVED = "removed"
    INSERTED = "inserted"
    CUT_OFF = "newest events cut off"
    REBUILT = "chain rebuilt without the key"


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: Tampering
    explanation: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.kind}: {self.explanation}"


@dataclass
class Report:
    events: int = 0
    unchained: int = 0  # written before the chain existed
    tip_seq: int = 0
    tip_chain: str | None = None
    checkpoints_matched: int = 0
    problem: Problem | None = None
    _checkpoints: dict[int, list[Checkpoint]] = field(default_factory=dict, repr=False)

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass
class _Suspect:
    """The first event whose chain value failed, while the walk finds out what happened."""

    seq: int
    chained_to: bytes  # the stored chain value before it
    failing: int = 1


def verify(
    connection: Connection,
    key: bytes,
    checkpoints: Iterable[Checkpoint] = (),
    progress: Callable[[int], None] | None = None,
    batch: int = 10_000,
) -> Report:
    report = Report()
    for checkpoint in checkpoints:
        report._checkpoints.setdefault(checkpoint.seq, []).append(checkpoint)
    rows = connection.execution_options(yield_per=batch).execute(
        select(events).order_by(events.c.seq)
    )
    report.problem = _walk(rows, key, report, progress)
    rows.close()
    if report.problem is None:
        report.problem = _beyond_the_tip(connection, report)
    return report


def _walk(rows, key: bytes, report: Report, progress) -> Problem | None:
    previous = previous_bytes(None)
    previous_seq = 0
    chained = False
    suspect: _Suspect | None = None
    for row in rows:
        event = row._mapping
        seq = event["seq"]
        report.events += 1
        if progress is not None and report.events % 1000 == 0:
            progress(1000)
        if event["chain"] is None:
            if chained or suspect:
                return Problem(seq, Tampering.CHANGED, "its chain value was erased")
            report.unchained += 1
            previous_seq = seq
            if problem := _against_checkpoints(report, seq, None):
                return problem
            continue
        if seq != previous_seq + 1:
            return _removed(previous_seq, seq)
        chained = True
        stored = bytes.fromhex(event["chain"])
        verifies = hmac.compare_digest(chain_value(key, previous, event), stored)
        if suspect is None and not verifies:
            suspect = _Suspect(seq, previous)
        elif suspect is not None:
            if verifies:
                return _changed(suspect, seq)
            if suspect.failing == 1 and hmac.compare_digest(
                chain_value(key, suspect.chained_to, event), stored
            ):
                return Problem(
                    suspect.seq,
                    Tampering.INSERTED,
                    f"it is not in the chain: event {seq} is chained directly to the event "
                    "before it, so it was put in later",
                )
            suspect.failing += 1
        elif problem := _against_checkpoints(report, seq, event["chain"]):
            return problem
        previous, previous_seq = stored, seq
    report.tip_seq = previous_seq
    report.tip_chain = previous.hex() if chained else None
    if suspect is None:
        return None
    if suspect.failing == 1:
        return Problem(
            suspect.seq, Tampering.CHANGED, "the newest event does not match its chain value"
        )
    return Problem(
        suspect.seq,
        Tampering.REBUILT,
        f"none of the {suspect.failing} chain values from here to the newest event verifies "
        "under the audit key: they were recomputed by someone without it",
    )


def _removed(previous_seq: int, seq: int) -> Problem:
    missing = (
        f"event {previous_seq + 1} is missing"
        if seq == previous_seq + 2
        else f"events {previous_seq + 1}-{seq - 1} are missing"
    )
    return Problem(previous_seq + 1, Tampering.REMOVED, f"{missing} before event {seq}")


def _changed(suspect: _Suspect, seq: int) -> Problem:
    what = (
        "its content no longer matches its chain value"
        if suspect.failing == 1
        else f"the {suspect.failing} events up to event {seq - 1} no longer match their chain "
        "values"
    )
    return Problem(
        suspect.seq,
        Tampering.CHANGED,
        f"{what} (or an event before it was removed and the rest renumbered)",
    )


def _against_checkpoints(report: Report, seq: int, chain: str | None) -> Problem | None:
    for checkpoint in report._checkpoints.get(seq, ()):
        if checkpoint.chain != chain:
            return Problem(
                seq, Tampering.CHANGED, f"it differs from the checkpoint of {checkpoint.time}"
            )
        if checkpoint.events != report.events:
            return Problem(
                seq,
                Tampering.REMOVED,
                f"the checkpoint of {checkpoint.time} counted {checkpoint.events} events up to "
                f"here, the trail has {report.events}",
            )
        report.checkpoints_matched += 1
    return None


def _beyond_the_tip(connection: Connection, report: Report) -> Problem | None:
    beyond = [seq for seq in report._checkpoints if seq > report.tip_seq]
    if beyond:
        checkpoint = report._checkpoints[max(beyond)][0]
        return Problem(
            report.tip_seq + 1,
            Tampering.CUT_OFF,
            f"the trail ends at event {report.tip_seq}, but the checkpoint of {checkpoint.time} "
            f"names event {checkpoint.seq}",
        )
    head = tip(connection)
    if head.seq > report.tip_seq:
        return Problem(
            report.tip_seq + 1,
            Tampering.CUT_OFF,
            f"the trail ends at event {report.tip_seq}, but its head names event {head.seq}",
        )
    if head.seq < report.tip_seq:
        return Problem(
            head.seq + 1, Tampering.INSERTED, f"the head of the chain names event {head.seq}"
        )
    if head.chain != report.tip_chain:
        return Problem(
            head.seq, Tampering.CHANGED, "its chain value differs from the one in the head"
        )
    return None
