"""The audit event is committed before any audio byte leaves, and if it cannot be, nothing
leaves (fail closed)."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

import audit
from tests.support import PASSWORD, audit_rows, login
from webapp import storage as storage_module
from webapp.extensions import db


def test_event_is_committed_before_the_first_audio_byte(app, world, login_as, monkeypatch) -> None:
    call = world.calls["aino"]
    # An independent connection sees only what has been committed.
    observer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    seen_at_first_byte = []
    original = storage_module.EncryptedStorage.read_range

    def watched(self, key, start, stop):
        def chunks():
            for i, chunk in enumerate(original(self, key, start, stop)):
                if i == 0:
                    with observer.connect() as conn:
                        seen_at_first_byte.append(
                            conn.execute(
                                sa.select(sa.func.count()).where(
                                    audit.events.c.action.in_(["call.play", "call.export"]),
                                    audit.events.c.object_id == str(call.id),
                                )
                            ).scalar()
                        )
                yield chunk

        return chunks()

    monkeypatch.setattr(storage_module.EncryptedStorage, "read_range", watched)
    client = login_as("aino")
    assert client.get(f"/calls/{call.id}/audio").status_code == 200
    assert client.get(f"/calls/{call.id}/export").status_code == 200
    assert seen_at_first_byte == [1, 2]
    observer.dispose()


@pytest.mark.parametrize("route", ["audio", "export"])
def test_no_audio_when_the_audit_write_fails(world, login_as, monkeypatch, route: str) -> None:
    client = login_as("aino")
    call = world.calls["aino"]
    reads = []
    monkeypatch.setattr(
        storage_module.EncryptedStorage, "read_range", lambda *a: reads.append(a) or iter([b"x"])
    )

    def broken(connection, event, key):
        raise OperationalError("INSERT INTO audit_event", {}, Exception("disk I/O error"))

    monkeypatch.setattr(audit, "append", broken)
    response = client.get(f"/calls/{call.id}/{route}")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert b"RIFF" not in response.data
    assert reads == []


def _lock_audit_table(url: str) -> tuple[sa.Connection, sa.Engine]:
    """Hold a write lock on the trail from another connection, as a long transaction would."""
    engine = sa.create_engine(url)
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(sa.text("BEGIN"))
        conn.execute(sa.text("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE"))
    return conn, engine


IMPATIENT = pytest.mark.app_config(DATABASE_LOCK_TIMEOUT=0.3)


@IMPATIENT
def test_locked_audit_store_refuses_playback_then_recovers(app, world) -> None:
    client = app.test_client()
    assert login(client, "aino").status_code == 302
    call = world.calls["aino"]
    conn, engine = _lock_audit_table(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        response = client.get(f"/calls/{call.id}/audio", headers={"Range": "bytes=0-99"})
        assert response.status_code == 503
        assert b"RIFF" not in response.data
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()
    response = client.get(f"/calls/{call.id}/audio", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.data[:4] == b"RIFF"


def test_events_carry_who_what_why_and_from_where(world, login_as) -> None:
    sanna = login_as("sanna")
    call = world.calls["aino"]
    sanna.post(f"/calls/{call.id}/purpose", data={"purpose": "quality"})
    sanna.get(f"/calls/{call.id}/audio", headers={"Range": "bytes=0-9"})
    sanna.get(f"/calls/{call.id}/export")
    login_as("eero").get(f"/calls/{call.id}/audio")  # not his: denied, and a 404
    rows = {(r.action, r.outcome, r.actor_name): r for r in audit_rows(object_id=str(call.id))}
    for key in (
        ("call.play", "allowed", "sanna"),
        ("call.export", "allowed", "sanna"),
        ("call.play", "denied", "eero"),
    ):
        event = rows[key]
        assert event.actor_roles == ("supervisor" if key[2] == "sanna" else "agent")
        assert event.object_type == "call"
        assert event.client_addr == "127.0.0.1"
        assert len(event.request_id) == 32
        assert isinstance(event.occurred_at, datetime) and event.occurred_at.tzinfo is not None
        if key[1] == "allowed":
            assert event.purpose == "quality"
            assert event.customer_id == world.customer.id
    # The denied attempt says nothing of the call it did not reach.
    assert rows[("call.play", "denied", "eero")].customer_id is None


def test_no_secret_reaches_the_trail(world, login_as, client) -> None:
    login(client, "aino", "a wrong password")
    login_as("aino").post("/logout")
    for row in audit_rows():
        text = " ".join(str(v) for v in row)
        assert PASSWORD not in text and "a wrong password" not in text
        assert "tallenne_session" not in text


def test_request_id_from_the_proxy_is_kept_when_well_formed(world, login_as) -> None:
    client = login_as("aino")
    call = world.calls["aino"]
    response = client.get(f"/calls/{call.id}", headers={"X-Request-ID": "proxy-req-12345678"})
    assert response.headers["X-Request-ID"] == "proxy-req-12345678"
    assert audit_rows(action="call.view")[-1].request_id == "proxy-req-12345678"
    response = client.get(f"/calls/{call.id}", headers={"X-Request-ID": "<script>"})
    assert response.headers["X-Request-ID"] != "<script>"


def test_event_refuses_secrets_and_local_times() -> None:
    with pytest.raises(ValueError, match="password"):
        audit.Event(action="login", outcome=audit.Outcome.DENIED, detail={"password": "x"})
    with pytest.raises(ValueError, match="UTC"):
        audit.Event(action="login", outcome=audit.Outcome.DENIED, occurred_at=datetime(2026, 1, 1))


@IMPATIENT
def test_concurrent_playbacks_all_get_their_event(app, world) -> None:
    url = f"/calls/{world.calls['aino'].id}/audio"
    clients = []
    for _ in range(4):
        client = app.test_client()
        login(client, "aino")
        clients.append(client)
    statuses: list[int] = []

    def play(client) -> None:
        for _ in range(5):
            statuses.append(client.get(url).status_code)

    threads = [threading.Thread(target=play, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    played = [r for r in audit_rows(action="call.play") if r.outcome == "allowed"]
    assert statuses.count(200) == len(played)
    assert statuses.count(200) + statuses.count(503) == 20
    assert statuses.count(200) >= 15


def test_a_failed_audit_write_logs_no_personal_data(world, login_as, monkeypatch, caplog) -> None:
    client = login_as("sanna")
    call = world.calls["aino"]
    client.post(f"/calls/{call.id}/purpose", data={"purpose": "complaint", "case_ref": "REK-99"})
    original = audit.append

    def failing(connection, event, key):
        # A real statement failure (action is NOT NULL), raised by the database itself.
        return original(connection, audit.Event(**{**event.__dict__, "action": None}), key)

    monkeypatch.setattr(audit, "append", failing)
    assert client.get(f"/calls/{call.id}/audio").status_code == 503
    logged = caplog.text
    assert "audit write failed" in logged
    # Neither our parameters nor the server's own message (PostgreSQL quotes the failing row).
    assert "REK-99" not in logged and "sanna" not in logged and "127.0.0.1" not in logged
    assert "IntegrityError" in logged or "NotNullViolation" in logged


@pytest.mark.parametrize("route, action", [("audio", "call.play"), ("export", "call.export")])
def test_a_whole_download_is_completed_and_a_cut_one_is_not(world, login_as, route, action):
    client = login_as("aino")
    call = world.calls["aino"]
    assert client.get(f"/calls/{call.id}/{route}").data == world.audio[call.id]
    started, completed = audit_rows(object_id=str(call.id))[-2:]
    assert (started.action, completed.action) == (action, f"{action}.completed")
    assert completed.request_id == started.request_id
    assert json.loads(completed.detail) == {"bytes": len(world.audio[call.id])}

    response = client.get(f"/calls/{call.id}/{route}", buffered=False)
    next(iter(response.response))  # the listener takes the first bytes, and goes
    response.close()
    assert audit_rows(object_id=str(call.id))[-1].action == action


@IMPATIENT
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_full_audit_store_refuses_playback_then_recovers(app, world) -> None:
    """The database's own limit on its size (SQLITE_FULL, as on a full disk) reached while
    agents keep listening: the access that cannot be recorded is refused, and once there is room
    again the next one is served, with no restart."""
    client = app.test_client()
    assert login(client, "aino").status_code == 302
    url = f"/calls/{world.calls['aino'].id}/audio"
    with app.app_context():
        engine = db.engine
    cap: dict[str, int | None] = {"pages": None}

    def limit_size(dbapi_connection, record, proxy) -> None:
        cursor = dbapi_connection.cursor()
        if cap["pages"] is None:
            cursor.execute("PRAGMA max_page_count = 1073741823")
        else:
            cursor.execute(f"PRAGMA max_page_count = {cap['pages']}")
        cursor.close()

    sa.event.listen(engine, "checkout", limit_size)
    try:
        with engine.connect() as conn:
            cap["pages"] = conn.exec_driver_sql("PRAGMA page_count").scalar()
        statuses = []
        for _ in range(300):  # the free room left in the database's pages fills up
            response = client.get(url, headers={"Range": "bytes=0-99"})
            statuses.append(response.status_code)
            body = response.data  # to the end: its completed event is written too
            if response.status_code != 206:
                break
        assert statuses[-1] == 503, statuses[-5:]
        assert b"RIFF" not in body
        assert len(statuses) > 1 and set(statuses[:-1]) == {206}
        cap["pages"] = None
        response = client.get(url, headers={"Range": "bytes=0-99"})
        assert response.status_code == 206 and response.data[:4] == b"RIFF"
    finally:
        sa.event.remove(engine, "checkout", limit_size)
