"""Erasure on a data subject's request (GDPR Art. 17): the customer's recordings (each call
with its data key and file, through ``retention.remove``), phone numbers, flags and the
customer row itself. What was erased is recorded first, without personal data
(``ErasedCustomer``; ``RemovedRecording`` for each recording): a purge then finishes an erasure
that was stopped halfway, and erases again what a database restored from backup brings back."""

from __future__ import annotations

import hashlib
import hmac
from typing import NamedTuple

from flask import current_app
from sqlalchemy import delete, func, select, update

from webapp import retention
from webapp.extensions import db
from webapp.models import (
    Call,
    Customer,
    CustomerFlag,
    CustomerPhone,
    DataSubjectRequest,
    ErasedCustomer,
)


class Erased(NamedTuple):
    recordings: int
    phones: int
    flags: int


def fingerprint(customer_id: int, customer_number: str) -> str:
    """Tells a restored row of an erased customer from a new customer who has since been given
    the same id (a restored sequence gives ids out again). Keyed, under a key kept outside the
    database, so that the record reveals no customer number; the audit key, since it never
    changes while the chain it signs lives."""
    key = hmac.new(current_app.config["AUDIT_KEY"], b"tallenne erased customer", "sha256")
    message = f"{customer_id}:{customer_number}".encode()
    return hmac.new(key.digest(), message, hashlib.sha256).hexdigest()


def counts(customer_id: int) -> Erased:
    def count(model, column) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(column))

    return Erased(
        count(Call, Call.customer_id == customer_id),
        count(CustomerPhone, CustomerPhone.customer_id == customer_id),
        count(CustomerFlag, CustomerFlag.customer_id == customer_id),
    )


def record(customer: Customer, dsr: DataSubjectRequest) -> None:
    """Record the erasure, to be committed with the case's closing and its audit event before
    anything is erased."""
    db.session.add(
        ErasedCustomer(
            customer_id=customer.id,
            fingerprint=fingerprint(customer.id, customer.customer_number),
            case_id=dsr.id,
        )
    )


def carry_out(customer_id: int) -> Erased:
    """Erase the customer. Their recordings go in batches that commit (retention.remove); the
    rest commits at the end. Calls linked to the customer after the erasure was recorded (by a
    restored database) are not the erasure's: they stay, without the link."""
    calls = list(db.session.scalars(select(Call.id).where(Call.customer_id == customer_id)))
    flags = db.session.execute(delete(CustomerFlag).where(CustomerFlag.customer_id == customer_id))
    phones = db.session.execute(
        delete(CustomerPhone).where(CustomerPhone.customer_id == customer_id)
    )
    erased = Erased(len(calls), phones.rowcount, flags.rowcount)
    retention.remove(calls, reason="erasure")
    db.session.execute(update(Call).where(Call.customer_id == customer_id).values(customer_id=None))
    # The cases stay, without the person: a note on the identity check may name them.
    db.session.execute(
        update(DataSubjectRequest)
        .where(DataSubjectRequest.customer_id == customer_id)
        .values(customer_id=None, identity_note=None)
    )
    db.session.execute(delete(Customer).where(Customer.id == customer_id))
    db.session.commit()
    db.session.expire_all()
    return erased


def restored() -> list[tuple[int, str | None]]:
    """The erased customers whose rows are here again (restored from a backup, or left by an
    erasure stopped halfway): each one's id and the reference of the case that erased them."""
    rows = db.session.execute(
        select(ErasedCustomer, Customer.customer_number, DataSubjectRequest.reference)
        .join(Customer, Customer.id == ErasedCustomer.customer_id)
        .outerjoin(DataSubjectRequest, DataSubjectRequest.id == ErasedCustomer.case_id)
        .order_by(ErasedCustomer.id)
    )
    return [
        (erased.customer_id, reference)
        for erased, number, reference in rows
        if hmac.compare_digest(erased.fingerprint, fingerprint(erased.customer_id, number))
    ]
