"""How long recordings live: a call expires its register's retention period after it started
(SPEC §3), unless a legal hold on the call or on its customer keeps it. A purge removes what
has expired: the sealed file and, first, its wrapped data key with the call itself, so that a
copy of the storage from before the purge opens for no one."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import delete, func, or_, select

from webapp.customers.flags import day_in_finland
from webapp.extensions import db
from webapp.models import AccessGrant, Call, LegalHold, Register, RemovedRecording, Service
from webapp.storage import Recording, storage

BATCH = 500


def add_months(moment: datetime, months: int) -> datetime:
    """The same time of day ``months`` calendar months later (or earlier, when negative); a
    day the month lacks becomes its last (31 March less a month is the last of February)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def expires_at(call: Call) -> datetime:
    return add_months(call.started_at, call.service.register.retention_months)


def _holding(today: date) -> tuple:
    # A hold's last day is a Finnish date: ``today`` is the day it is in Finland
    # (flags.today(), or day_in_finland of a purge's instant), everywhere a hold is asked about.
    return LegalHold.lifted_at.is_(None), LegalHold.until >= today


def hold_on(call: Call, today: date) -> LegalHold | None:
    """The hold that keeps this call longest, if any does."""
    holds = (
        select(LegalHold)
        .where(*_holding(today))
        .where(
            or_(
                LegalHold.call_id == call.id,
                LegalHold.customer_id == call.customer_id if call.customer_id else False,
            )
        )
    )
    return db.session.scalars(holds.order_by(LegalHold.until.desc())).first()


def holds_on_customer(customer_id: int, today: date) -> list[LegalHold]:
    """The holds in force on a customer or on any of their calls: what blocks an erasure."""
    calls = select(Call.id).where(Call.customer_id == customer_id)
    holds = select(LegalHold).where(
        *_holding(today), or_(LegalHold.customer_id == customer_id, LegalHold.call_id.in_(calls))
    )
    return list(db.session.scalars(holds.order_by(LegalHold.until.desc(), LegalHold.id)))


def _expired(register_id: int, months: int, now: datetime):
    """The calls of one register past a period of ``months``: those holds do not keep, and
    those they do."""
    today = day_in_finland(now)
    held_calls = select(LegalHold.call_id).where(LegalHold.call_id.is_not(None), *_holding(today))
    held_customers = select(LegalHold.customer_id).where(
        LegalHold.customer_id.is_not(None), *_holding(today)
    )
    base = (
        select(Call.id)
        .join(Service)
        .where(Service.register_id == register_id, Call.started_at < add_months(now, -months))
    )
    held = base.where(or_(Call.id.in_(held_calls), Call.customer_id.in_(held_customers)))
    removable = base.where(Call.id.not_in(held_calls)).where(
        or_(Call.customer_id.is_(None), Call.customer_id.not_in(held_customers))
    )
    return removable, held


def expired_calls(now: datetime):
    """Calls past their register's period, register by register (each its own cut-off)."""
    for register_id, months in db.session.execute(select(Register.id, Register.retention_months)):
        yield _expired(register_id, months, now)


def removable_count(register: Register, months: int, now: datetime) -> int:
    """How many of a register's recordings a purge at ``now`` would remove, were its period
    ``months``: what an administrator is told before shortening it."""
    removable, _held = _expired(register.id, months, now)
    return db.session.scalar(select(func.count()).select_from(removable.subquery()))


def restored_calls():
    """Calls whose recording was removed once and came back with a restored database."""
    return select(Call.id).where(Call.recording_key.in_(select(RemovedRecording.recording_key)))


def plan(now: datetime) -> tuple[list[int], int]:
    """The calls a purge at ``now`` removes, and how many expired calls holds keep."""
    doomed: list[int] = []
    held = 0
    for removable, kept in expired_calls(now):
        held += len(db.session.scalars(kept).all())
        doomed += db.session.scalars(removable).all()
    again = set(doomed)
    doomed += [i for i in db.session.scalars(restored_calls()) if i not in again]
    return doomed, held


def remove(
    ids: list[int], progress: Callable[[int], None] = lambda n: None, reason: str = "retention"
) -> int:
    """Remove these calls with their recordings (``reason``: retention, or erasure on a
    data subject's request). Each batch commits the calls' removal (their
    data keys go with them) before their files are deleted: stopped anywhere, what is left is
    a file whose key is gone, which `tallenne storage check --repair` removes."""
    store = storage()
    removed = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        calls = db.session.scalars(select(Call).where(Call.id.in_(batch))).all()
        keys = [c.recording_key for c in calls]
        known = set(
            db.session.scalars(
                select(RemovedRecording.recording_key).where(
                    RemovedRecording.recording_key.in_(keys)
                )
            )
        )
        db.session.add_all(
            RemovedRecording(call_id=c.id, recording_key=c.recording_key, reason=reason)
            for c in calls
            if c.recording_key not in known
        )
        db.session.execute(delete(AccessGrant).where(AccessGrant.call_id.in_(batch)))
        db.session.execute(delete(Call).where(Call.id.in_(batch)))
        db.session.commit()
        for key in keys:
            store.delete(Recording(key, None, None))
        removed += len(calls)
        progress(len(calls))
    return removed
