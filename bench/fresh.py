"""A fresh, migrated SQLite database under bench/out with its own storage, for the benchmarks
that need the app's world rather than a prepared million rows."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from bench.calls_list import OUT, migrate
from webapp import create_app
from webapp.extensions import db
from webapp.importers import batched
from webapp.models import Call, Register, Service


def sqlite_app(name: str) -> tuple[Flask, Path]:
    """The app on ``bench/out/NAME.sqlite`` (made anew), its recordings in NAME-recordings."""
    path = OUT / f"{name}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    migrate(url)
    storage_dir = OUT / f"{name}-recordings"
    shutil.rmtree(storage_dir, ignore_errors=True)
    settings = {"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True}
    return create_app({**settings, "STORAGE_DIR": str(storage_dir)}), storage_dir


def one_service(register: str, months: int, code: str) -> Service:
    """A register with one service, committed (inside the app's context)."""
    row = Register(
        code=register,
        name=register,
        retention_months=months,
        controller="x",
        contact="x",
        dpo_contact="x",
    )
    db.session.add(row)
    db.session.flush()
    service = Service(register_id=row.id, code=code, name=register)
    db.session.add(service)
    db.session.commit()
    return service


def insert_calls(rows: Iterable[dict]) -> None:
    """Calls straight into the table, 10,000 an INSERT, committed at the end."""
    for batch in batched(rows, 10_000):
        db.session.execute(sa.insert(Call), list(batch))
    db.session.commit()
