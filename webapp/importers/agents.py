"""The extension → agent mapping, as administrators keep it in a CSV file:
``extension,username,valid_from,valid_to`` (ISO dates, both days included; an empty valid_to:
still valid). Loading replaces the whole mapping in one transaction, or changes nothing."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from itertools import pairwise
from pathlib import Path

from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import AgentExtension, User

HEADER = ["extension", "username", "valid_from", "valid_to"]


class MappingError(ValueError):
    pass


def load(path: Path) -> int:
    """Replace the mapping with the file's; MappingError names every line that is wrong."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except UnicodeDecodeError as error:
        raise MappingError(f"not UTF-8 (byte {error.start + 1} is not valid)") from error
    except csv.Error as error:
        raise MappingError(f"broken CSV: {error}") from error
    if not lines or [h.strip() for h in lines[0]] != HEADER:
        raise MappingError(f"the first line must be the header {','.join(HEADER)}")
    users = dict(db.session.execute(select(User.username, User.id)).tuples().all())
    rows, problems = [], []
    for number, fields in enumerate(lines[1:], start=2):
        if not any(f.strip() for f in fields):
            continue
        try:
            rows.append(_row(fields, users))
        except ValueError as error:
            problems.append(f"line {number}: {error}")
    problems += _overlaps(rows)
    if problems:
        raise MappingError("; ".join(problems))
    db.session.execute(delete(AgentExtension))
    db.session.add_all(rows)
    db.session.commit()
    return len(rows)


def _row(fields: list[str], users: dict[str, int]) -> AgentExtension:
    if len(fields) != len(HEADER):
        raise ValueError(f"{len(fields)} fields, not {len(HEADER)}")
    extension, username, first, last = (f.strip() for f in fields)
    if not extension or len(extension) > 32:
        raise ValueError("an extension of 1 to 32 characters is needed")
    if username not in users:
        raise ValueError(f"no user named {username!r}")
    try:
        valid_from = date.fromisoformat(first)
        valid_to = date.fromisoformat(last) if last else None
    except ValueError as error:
        raise ValueError("dates are written 2026-12-01") from error
    if valid_to is not None and valid_to < valid_from:
        raise ValueError("valid_to is before valid_from")
    return AgentExtension(
        extension=extension, user_id=users[username], valid_from=valid_from, valid_to=valid_to
    )


def _overlaps(rows: list[AgentExtension]) -> list[str]:
    """An extension answered by two agents on the same day would make the agent a guess."""
    by_extension = defaultdict(list)
    for row in rows:
        by_extension[row.extension].append(row)
    problems = []
    for extension, periods in sorted(by_extension.items()):
        periods.sort(key=lambda r: r.valid_from)
        for before, after in pairwise(periods):
            if before.valid_to is None or before.valid_to >= after.valid_from:
                problems.append(f"extension {extension} has two agents on {after.valid_from}")
    return problems


class Directory:
    """Who answered at an extension on a given day, from the mapping, read once."""

    def __init__(self) -> None:
        self._periods: dict[str, list[tuple[date, date | None, int]]] = defaultdict(list)
        for row in db.session.scalars(select(AgentExtension)):
            self._periods[row.extension].append((row.valid_from, row.valid_to, row.user_id))

    def knows(self, extension: str | None) -> bool:
        """An extension some agent has had, on any day."""
        return bool(extension) and extension in self._periods

    def agent(self, extension: str | None, day: date) -> int | None:
        for first, last, user_id in self._periods.get(extension or "", ()):
            if first <= day and (last is None or day <= last):
                return user_id
        return None


def members() -> dict[str, int]:
    """Queue members as the queue_log may name them (log_membername_as_agent): by username or
    display name, in lower case, where the name is one person's."""
    names: dict[str, set[int]] = defaultdict(set)
    for user_id, username, display in db.session.execute(
        select(User.id, User.username, User.display_name)
    ):
        names[username.lower()].add(user_id)
        if display:
            names[display.strip().lower()].add(user_id)
    return {name: ids.pop() for name, ids in names.items() if len(ids) == 1}
