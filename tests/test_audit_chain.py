"""The keyed chain: every event chained to the one before it under a key outside the database,
appends serialized across processes, and the database refusing to change or delete an event."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import pytest
import sqlalchemy as sa

import audit
from audit.trail import chain_value, previous_bytes
from tests.support import audit_rows
from webapp import ROOT
from webapp.extensions import db

WRITERS = 8
EVENTS_PER_WRITER = 40


def _append_many(url: str, options: dict[str, Any], key: bytes, writer: int, start) -> None:
    import webapp.extensions  # noqa: F401  (SQLite in WAL mode, as in the app)

    engine = sa.create_engine(url, **options)
    start.wait()
    try:
        for i in range(EVENTS_PER_WRITER):
            event = audit.Event(
                action="test.append", outcome=audit.Outcome.ALLOWED, detail={"w": writer, "i": i}
            )
            with engine.begin() as conn:
                audit.append(conn, event, key)
    finally:
        engine.dispose()


def test_each_event_is_chained_to_the_one_before_under_the_key(app, world, login_as) -> None:
    client = login_as("aino")
    client.get(f"/calls/{world.calls['aino'].id}")
    client.get(f"/calls/{world.calls['aino'].id}/audio")
    rows = audit_rows()
    assert [r.action for r in rows] == ["login", "call.view", "call.play"]
    key = app.config["AUDIT_KEY"]
    previous = None
    for row in rows:
        assert row.chain == chain_value(key, previous_bytes(previous), row._mapping).hex()
        previous = row.chain
    # Another key gives other values: the chain cannot be rebuilt without this one.
    assert rows[0].chain != chain_value(b"k" * 32, previous_bytes(None), rows[0]._mapping).hex()
    head = db.session.execute(sa.select(audit.heads)).one()
    assert (head.seq, head.chain, head.events) == (rows[-1].seq, rows[-1].chain, len(rows))
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))


def test_eight_processes_appending_at_once_neither_fork_nor_lose(app) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [
        context.Process(target=_append_many, args=(url, options, app.config["AUDIT_KEY"], n, start))
        for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(timeout=120)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    rows = audit_rows(action="test.append")
    assert len(rows) == WRITERS * EVENTS_PER_WRITER
    # Every writer's events are all there, and no two events chain to the same predecessor.
    written = {(r.detail) for r in rows}
    assert len(written) == WRITERS * EVENTS_PER_WRITER
    report = audit.verify(db.session.connection(), app.config["AUDIT_KEY"])
    assert report.problem is None, str(report.problem)
    assert report.events == report.tip_seq == WRITERS * EVENTS_PER_WRITER
    db.session.rollback()


def _write_one(app) -> int:
    event = audit.Event(action="test.append", outcome=audit.Outcome.ALLOWED)
    link = audit.append(db.session.connection(), event, app.config["AUDIT_KEY"])
    db.session.commit()
    return link.seq


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'nothing' WHERE seq = :seq",
        "DELETE FROM audit_event WHERE seq = :seq",
        "DELETE FROM audit_event",
        "DELETE FROM audit_head",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_event(app, statement: str) -> None:
    seq = _write_one(app)
    with pytest.raises(sa.exc.DBAPIError, match=r"append-only|never deleted"):
        db.session.execute(sa.text(statement), {"seq": seq})
    db.session.rollback()
    assert [r.action for r in audit_rows(seq=seq)] == ["test.append"]


# SQLite has no TRUNCATE (its DELETE without WHERE is refused above), and no roles or grants.
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@POSTGRESQL_ONLY
def test_truncate_is_refused_on_postgresql(app) -> None:
    _write_one(app)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("TRUNCATE audit_event"))
    db.session.rollback()
    assert len(audit_rows()) == 1


@POSTGRESQL_ONLY
def test_the_documented_grants_leave_the_app_insert_and_select_on_the_trail(app) -> None:
    grants = (ROOT / "deploy" / "postgresql-grants.sql").read_text()
    role = f"tallenne_app_{os.getpid()}"
    admin = db.engine
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(grants.replace("tallenne_app", role)))
    as_app = sa.create_engine(admin.url.set(username=role))
    try:
        with as_app.begin() as conn:
            event = audit.Event(action="test.append", outcome=audit.Outcome.ALLOWED)
            seq = audit.append(conn, event, app.config["AUDIT_KEY"]).seq
        for statement in (
            "UPDATE audit_event SET action = 'x' WHERE seq = :seq",
            "DELETE FROM audit_event WHERE seq = :seq",
            "TRUNCATE audit_event",
            "DELETE FROM audit_head",
        ):
            with as_app.begin() as conn, pytest.raises(sa.exc.ProgrammingError, match="denied"):
                conn.execute(sa.text(statement), {"seq": seq})
        assert [r.action for r in audit_rows(seq=seq)] == ["test.append"]
    finally:
        as_app.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))


def test_the_readme_shows_the_grants_that_are_tested() -> None:
    readme = (ROOT / "README.md").read_text()
    grants = (ROOT / "deploy" / "postgresql-grants.sql").read_text().splitlines()
    statements = [line for line in grants if line and not line.startswith("--")]
    assert statements and all(line in readme for line in statements)
