"""A data-subject request as a case: its reference, its deadline, and its closing."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, select

from webapp.extensions import db
from webapp.models import Call, CustomerPhone, DataSubjectRequest, User
from webapp.retention import add_months

KIND_LABELS = {
    "access": _l("Access to the data (Art. 15)"),
    "portability": _l("Data portability (Art. 20)"),
    "rectification": _l("Rectification (Art. 16)"),
    "erasure": _l("Erasure (Art. 17)"),
    "restriction": _l("Restriction of processing (Art. 18)"),
    "objection": _l("Objection (Art. 21)"),
}
IDENTITY_LABELS = {
    "in_person": _l("In person, with an identity document"),
    "strong_identification": _l("Strong electronic identification"),
    "registered_contact": _l("Reply to the registered e-mail or postal address"),
    "other": _l("Other (say how in the note)"),
}
STATUS_LABELS = {"open": _l("open"), "done": _l("done"), "refused": _l("refused")}
# What each kind's case does on its page.
PACKAGE_KINDS = ("access", "portability")
FLAG_KINDS = ("restriction", "objection")

UNLINKED_SHOWN = 50  # of the calls from a customer's numbers that are linked to no one
EXTENSION_MONTHS = 2  # "two further months where necessary" (Art. 12(3))
NEAR_DAYS = 7  # an open case this close to its deadline, or past it, is marked on the list
PREFIX = "TP"  # tietosuojapyyntö


def deadline_for(received_on: date) -> date:
    """One calendar month after receipt (GDPR Art. 12(3)): 31 January gives the last of
    February."""
    return add_months(received_on, 1)


def extended_deadline_for(received_on: date) -> date:
    return add_months(received_on, 1 + EXTENSION_MONTHS)


def may_extend(dsr: DataSubjectRequest, today: date) -> bool:
    """Once, while the case is open, and only within the first month: the customer must be
    told of an extension, with its reasons, within one month of receiving the request."""
    in_first_month = today <= deadline_for(dsr.received_on)
    return dsr.status == "open" and dsr.extended_at is None and in_first_month


def extend(dsr: DataSubjectRequest, reason: str, by: User, today: date) -> None:
    """Extend the deadline by two further months; the caller commits it with its event."""
    if not may_extend(dsr, today):
        raise ValueError("this case's deadline can no longer be extended")
    dsr.deadline = extended_deadline_for(dsr.received_on)
    dsr.extended_at = datetime.now(UTC)
    dsr.extended_by_id = by.id
    dsr.extension_reason = reason


def next_reference(year: int) -> str:
    """The next free reference of the year, TP-2026-0001 first. Cases are never deleted, so
    their count is the last number given; two taken at once collide on the unique reference,
    and the caller tries again."""
    prefix = f"{PREFIX}-{year}-"
    taken = db.session.scalar(
        select(func.count(DataSubjectRequest.id)).where(
            DataSubjectRequest.reference.like(f"{prefix}%")
        )
    )
    return f"{prefix}{taken + 1:04d}"


def days_left(dsr: DataSubjectRequest, today: date) -> int:
    return (dsr.deadline - today).days


def near_deadline(dsr: DataSubjectRequest, today: date) -> bool:
    return dsr.status == "open" and days_left(dsr, today) <= NEAR_DAYS


def open_first() -> Select[tuple[DataSubjectRequest]]:
    """Open cases by deadline, the nearest first; then the closed, the latest closed first."""
    is_open = case((DataSubjectRequest.status == "open", 0), else_=1)
    return select(DataSubjectRequest).order_by(
        is_open,
        case((DataSubjectRequest.status == "open", DataSubjectRequest.deadline), else_=None),
        DataSubjectRequest.closed_at.desc(),
        DataSubjectRequest.id.desc(),
    )


def close(dsr: DataSubjectRequest, status: str, outcome: str, by: User) -> None:
    """Close the case; the caller commits it with its audit event."""
    if status not in ("done", "refused"):
        raise ValueError(f"a case closes as done or refused, not {status!r}")
    dsr.status = status
    dsr.outcome = outcome
    dsr.closed_by_id = by.id
    dsr.closed_at = datetime.now(UTC)


def unlinked_calls(customer_id: int) -> tuple[list[Call], int]:
    """The newest calls from one of the customer's numbers that are linked to no customer, and
    how many there are. They are not in an access package, an erasure does not remove them and
    the customer's restriction or objection does not reach them, until the DPO links them:
    a number may have been someone else's then, so linking is a decision, not a rule."""
    numbers = select(CustomerPhone.phone_e164).where(CustomerPhone.customer_id == customer_id)
    unlinked = select(Call).where(Call.customer_id.is_(None), Call.phone_e164.in_(numbers))
    total = db.session.scalar(select(func.count()).select_from(unlinked.subquery()))
    newest = unlinked.order_by(Call.started_at.desc(), Call.id.desc()).limit(UNLINKED_SHOWN)
    return list(db.session.scalars(newest)) if total else [], total
