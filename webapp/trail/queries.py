"""What the DPO asks of the trail, as queries that use its indexes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from audit import Outcome, events

ACCESSES = ("call.play", "call.export")
# Downloads that write a "<action>.completed" event after their last byte.
COMPLETED = (*ACCESSES, "audit.export")


def newest_first(query: Select, before: int | None, size: int) -> Select:
    """One page, newest first, after the keyset ``before`` (a sequence number)."""
    if before is not None:
        query = query.where(events.c.seq < before)
    return query.order_by(events.c.seq.desc()).limit(size + 1)


def since(start: datetime) -> Select:
    return select(events).where(events.c.occurred_at >= start)


def denied(start: datetime) -> Select:
    return since(start).where(events.c.outcome == str(Outcome.DENIED))


def others_calls_without_case_ref(start: datetime) -> Select:
    # A purpose is stated only for someone else's call; one's own is played without.
    return since(start).where(
        events.c.action.in_(ACCESSES),
        events.c.outcome == str(Outcome.ALLOWED),
        events.c.purpose.is_not(None),
        events.c.case_ref.is_(None),
    )


def started(start: datetime) -> Select:
    return since(start).where(
        events.c.action.in_(COMPLETED), events.c.outcome == str(Outcome.ALLOWED)
    )


def completed_requests(start: datetime) -> Select:
    return select(events.c.request_id, events.c.action).where(
        events.c.occurred_at >= start,
        events.c.action.in_([f"{a}.completed" for a in COMPLETED]),
    )


def needing_attention(session: Session, start: datetime, rows: int, checked: int) -> dict:
    """The attention list's event sections since ``start``, newest first, ``rows`` each; of
    the downloads started, the newest ``checked`` are looked for their completion."""
    started_rows = session.execute(newest_first(started(start), None, checked))
    done = set(session.execute(completed_requests(start)).tuples())
    unfinished = [r for r in started_rows if (r.request_id, f"{r.action}.completed") not in done]
    return {
        "denied": session.execute(newest_first(denied(start), None, rows)).all()[:rows],
        "no_case": session.execute(
            newest_first(others_calls_without_case_ref(start), None, rows)
        ).all()[:rows],
        "unfinished": unfinished[:rows],
    }
