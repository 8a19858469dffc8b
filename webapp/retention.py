"""How long recordings live: a call expires its register's retention period after it started
(SPEC §3), unless a legal hold on the call or on its customer keeps it. A purge removes what
has expired: the sealed file and, first, its wrapped data key with the call itself, so that a
copy of the storage from before the purge opens for no one."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import delete, or_, select

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


def expired_calls(now: datetime):
    """Calls past their register's period, register by register (each its own cut-off)."""
    today = now.date()
    held_calls = select(LegalHold.call_id).where(LegalHold.call_id.is_not(None), *_holding(today))
    held_customers = select(LegalHold.customer_id).where(
        LegalHold.customer_id.is_not(None), *_holding(today)
    )
    for register_id, months in db.session.execute(select(Register.id, Register.retention_months)):
        cutoff = add_months(now, -months)
        base = (
            select(Call.id)
            .join(Service)
            .where(Service.register_id == register_id, Call.started_at < cutoff)
        )
        held = base.where(or_(Call.id.in_(held_calls), Call.customer_id.in_(held_customers)))
        yield (
            base.where(Call.id.not_in(held_calls)).where(
                or_(Call.customer_id.is_(None), Call.customer_id.not_in(held_customers))
            ),
            held,
        )


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


def remove(ids: list[int], progress: Callable[[int], None] = lambda n: None) -> int:
    """Remove these calls with their recordings. Each batch commits the calls' removal (their
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
            RemovedRecording(call_id=c.id, recording_key=c.recording_key, reason="retention")
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
