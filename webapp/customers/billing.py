"""Customers from a billing system's CSV export, with the header
``customer_number,name,phones,email,language,contact_person`` and optionally ``secret_phones``
(in any order). Numbers are separated by ``;`` and written in any usual format; they are kept
as E.164, and a number that is also among the secret ones is secret. The language is fi, sv
or en (empty: fi).

The file is what the billing system knows: a customer in it gets its name, e-mail, language,
contact person and phone numbers exactly as the row says (an empty cell empties the field);
customers not in it are left as they are. Loading it again changes nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.importers import batched
from webapp.models import Call, Customer, CustomerPhone
from webapp.phones import to_e164

COLUMNS = ("customer_number", "name", "phones", "email", "language", "contact_person")
OPTIONAL = ("secret_phones",)
LANGUAGES = ("fi", "sv", "en")
FIELDS = ("name", "email", "language", "contact_person")  # what a row sets besides the numbers
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
BATCH = 1000


class LoadError(ValueError):
    """The file as a whole cannot be read: nothing in it is loaded."""


@dataclass
class Row:
    line: int
    customer_number: str
    name: str
    email: str | None
    language: str
    contact_person: str | None
    phones: dict[str, bool]  # E.164 → secret


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def read(path: Path) -> tuple[list[Row], list[tuple[int, str]]]:
    """The file's rows, checked: the good ones, and (line, what is wrong) for every bad one."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LoadError(f"not UTF-8 (byte {error.start + 1} is not valid)") from error
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in COLUMNS if name not in header]
        unknown = [name for name in header if name not in COLUMNS + OPTIONAL]
        if missing or unknown or len(set(header)) != len(header):
            raise LoadError(
                f"the first line must be the header {','.join(COLUMNS)}, and may add "
                f"{','.join(OPTIONAL)}"
                + (f" (missing: {', '.join(missing)})" if missing else "")
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        rows, rejected, seen = [], [], {}
        while True:
            line = reader.line_num + 1  # where the record starts, should a quoted field span lines
            fields = next(reader, None)
            if fields is None:
                break
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                rejected.append((line, f"{len(fields)} fields, not {len(header)}"))
                continue
            try:
                row = _row(line, dict(zip(header, fields, strict=True)))
            except ValueError as error:
                rejected.append((line, str(error)))
                continue
            if row.customer_number in seen:
                number, first = row.customer_number, seen[row.customer_number]
                rejected.append((line, f"customer number {number} is also on line {first}"))
                continue
            seen[row.customer_number] = line
            rows.append(row)
    except csv.Error as error:
        raise LoadError(f"broken CSV at line {reader.line_num}: {error}") from error
    return rows, rejected


def _row(line: int, cells: dict[str, str]) -> Row:
    cells = {name: value.strip() for name, value in cells.items()}
    problems = []

    def text(name: str, limit: int, required: bool = False) -> str | None:
        value = cells[name]
        if required and not value:
            problems.append(f"{name} is missing")
        elif len(value) > limit:
            problems.append(f"{name} is longer than {limit} characters")
        return value or None

    customer_number = text("customer_number", 32, required=True)
    name = text("name", 255, required=True)
    email = text("email", 255)
    if email and not EMAIL.fullmatch(email):
        problems.append(f"email {email!r} is not an e-mail address")
    language = cells["language"].lower() or "fi"
    if language not in LANGUAGES:
        problems.append(f"language {cells['language']!r} is not one of {', '.join(LANGUAGES)}")
    phones: dict[str, bool] = {}
    for column, secret in (("phones", False), ("secret_phones", True)):
        for given in filter(None, (p.strip() for p in cells.get(column, "").split(";"))):
            try:
                number = to_e164(given)
            except ValueError:
                problems.append(f"{column}: {given!r} is not a phone number")
                continue
            phones[number] = secret or phones.get(number, False)
    contact_person = text("contact_person", 255)
    if problems:
        raise ValueError("; ".join(problems))
    return Row(line, customer_number, name, email, language, contact_person, phones)


def load(rows: list[Row], progress: Callable[[int], None] = lambda n: None) -> Summary:
    """Create and update the rows' customers, a batch to a flush; the caller commits (with
    the audit event), so that a load is whole or not at all."""
    summary = Summary()
    # What the caller holds stays held; what the load brings in is let go batch by batch.
    held = {obj for obj in db.session if isinstance(obj, Customer)}
    for batch in batched(rows, BATCH):
        known = _as_stored([row.customer_number for row in batch])
        new, changed = [], {}
        for row in batch:
            stored = known.get(row.customer_number)
            if stored is None:
                new.append(row)
            elif stored[1] == _facts(row):
                summary.unchanged += 1
            else:
                changed[stored[0]] = row
        _create(new)
        summary.created += len(new)
        touched = []
        if changed:  # only these are loaded whole: comparing the rest needed no objects
            query = (
                select(Customer)
                .options(selectinload(Customer.phones))
                .where(Customer.id.in_(changed))
            )
            for customer in db.session.scalars(query):
                _apply(customer, changed[customer.id])
                touched.append(customer)
            summary.updated += len(changed)
        db.session.flush()
        for customer in touched:  # flushed into the open transaction: no need to hold them
            if customer not in held:
                db.session.expunge(customer)
        progress(len(batch))
    return summary


def _create(rows: list[Row]) -> None:
    """New customers, inserted in bulk: objects for each would cost ten times the time."""
    if not rows:
        return
    ids = dict(
        db.session.execute(
            insert(Customer).returning(Customer.customer_number, Customer.id),
            [
                {"customer_number": row.customer_number}
                | {name: getattr(row, name) for name in FIELDS}
                for row in rows
            ],
        )
        .tuples()
        .all()
    )
    phones = [
        {"customer_id": ids[row.customer_number], "phone_e164": phone, "secret": secret}
        for row in rows
        for phone, secret in sorted(row.phones.items())
    ]
    if phones:
        db.session.execute(insert(CustomerPhone), phones)


def _facts(row: Row) -> tuple:
    return (*(getattr(row, name) for name in FIELDS), row.phones)


def _as_stored(customer_numbers: list[str]) -> dict[str, tuple[int, tuple]]:
    """These customers' ids and facts as stored, by customer number, in two queries."""
    columns = (getattr(Customer, name) for name in FIELDS)
    found = db.session.execute(
        select(Customer.id, Customer.customer_number, *columns).where(
            Customer.customer_number.in_(customer_numbers)
        )
    ).all()
    phones: dict[int, dict[str, bool]] = {id_: {} for id_, *_rest in found}
    query = select(CustomerPhone.customer_id, CustomerPhone.phone_e164, CustomerPhone.secret)
    for customer_id, phone, secret in db.session.execute(
        query.where(CustomerPhone.customer_id.in_(phones))
    ):
        phones[customer_id][phone] = secret
    return {number: (id_, (*facts, phones[id_])) for id_, number, *facts in found}


def _apply(customer: Customer, row: Row) -> bool:
    """Make the customer what the row says; whether anything changed."""
    changed = False
    for name in FIELDS:
        if getattr(customer, name) != getattr(row, name):
            setattr(customer, name, getattr(row, name))
            changed = True
    have = {phone.phone_e164: phone for phone in customer.phones}
    if {number: phone.secret for number, phone in have.items()} == row.phones:
        return changed
    # In place, not a new list: a number that stays must keep its row, or the new row would
    # be inserted before the old one is deleted, against their unique constraint.
    for number, phone in have.items():
        if number not in row.phones:
            customer.phones.remove(phone)
        else:
            phone.secret = row.phones[number]
    for number in sorted(row.phones.keys() - have.keys()):
        customer.phones.append(CustomerPhone(phone_e164=number, secret=row.phones[number]))
    return True


def link_calls() -> int:
    """Give each call without a customer the customer whose number it came from, where
    exactly one customer has that number and not as a secret one; how many were linked."""
    holding = (CustomerPhone.phone_e164 == Call.phone_e164, CustomerPhone.secret.is_(False))
    holders = select(func.count(CustomerPhone.customer_id)).where(*holding).scalar_subquery()
    holder = select(func.min(CustomerPhone.customer_id)).where(*holding).scalar_subquery()
    result = db.session.execute(
        update(Call)
        .where(Call.customer_id.is_(None), Call.phone_e164.is_not(None), holders == 1)
        .values(customer_id=holder)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
