"""Imports that run by themselves, every few minutes: one at a time, each from where the last
one ended.

The lock is a lease in the database, so it holds across hosts: a run takes it with one
conditional UPDATE, renews it as it goes, and gives it back at the end; a run that died leaves
a lease that runs out after ``LEASE``. The cursor is where a source's records were read up to;
the next run reads again from ``OVERLAP`` before it, since a call's later legs are written when
they end, and skips what it already has."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import String, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from audit import UTCDateTime
from webapp.extensions import db
from webapp.models import utcnow

LEASE = timedelta(minutes=15)
OVERLAP = timedelta(hours=12)
LOCK = "lock:import.asterisk"


class ImportState(db.Model):
    __tablename__ = "import_state"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[datetime | None] = mapped_column(UTCDateTime())  # read up to, UTC
    holder: Mapped[str | None] = mapped_column(String(255))
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Busy(RuntimeError):
    """Another run holds the lock."""


@contextmanager
def exclusive(name: str = LOCK):
    me = f"{socket.gethostname()}:{os.getpid()}"
    _ensure(name)
    now = utcnow()
    taken = db.session.execute(
        update(ImportState)
        .where(ImportState.source == name)
        .where((ImportState.held_until.is_(None)) | (ImportState.held_until < now))
        .values(holder=me, held_until=now + LEASE, updated_at=now)
    ).rowcount
    db.session.commit()
    if taken != 1:
        holder = db.session.get(ImportState, name)
        raise Busy(
            f"another import is running ({holder.holder}, its lease ends "
            f"{holder.held_until:%Y-%m-%d %H:%M} UTC)"
        )
    try:
        yield lambda: renew(name, me)
    finally:
        db.session.rollback()
        db.session.execute(
            update(ImportState)
            .where(ImportState.source == name, ImportState.holder == me)
            .values(holder=None, held_until=None, updated_at=utcnow())
        )
        db.session.commit()


def renew(name: str, me: str) -> None:
    db.session.execute(
        update(ImportState)
        .where(ImportState.source == name, ImportState.holder == me)
        .values(held_until=utcnow() + LEASE)
    )


def since(source: str) -> datetime | None:
    """Where the next run of this source starts reading (UTC), or None: from the beginning."""
    position = db.session.scalar(select(ImportState.position).where(ImportState.source == source))
    return position - OVERLAP if position else None


def advance(source: str, position: datetime) -> None:
    _ensure(source)
    db.session.execute(
        update(ImportState)
        .where(ImportState.source == source)
        .where((ImportState.position.is_(None)) | (ImportState.position < position))
        .values(position=position, updated_at=utcnow())
    )
    db.session.commit()


def _ensure(name: str) -> None:
    if db.session.get(ImportState, name) is None:
        try:
            db.session.execute(insert(ImportState).values(source=name, updated_at=utcnow()))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another run made it first
