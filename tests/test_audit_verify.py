"""`tallenne audit verify` catches each kind of tampering, names the first bad event and what
happened to it; `tallenne audit checkpoint` and the regular checkpoints anchor the newest end.
Tampering needs the triggers gone first, as it would for an attacker."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app

import audit
from audit.trail import chain_value, previous_bytes
from tests.support import audit_rows, login
from webapp import create_app
from webapp.config import ConfigurationError
from webapp.extensions import db

EVENTS = 30


@pytest.fixture
def trail(app) -> list[sa.Row]:
    """A chain of EVENTS events, the way the app writes them."""
    key = app.config["AUDIT_KEY"]
    for i in range(EVENTS):
        event = audit.Event(
            action="call.play",
            outcome=audit.Outcome.ALLOWED,
            actor_name="sanna",
            object_type="call",
            object_id=str(i),
            purpose="quality",
        )
        audit.append(db.session.connection(), event, key)
        db.session.commit()
    return audit_rows()


def _drop_triggers() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("DROP TRIGGER audit_event_append_only ON audit_event"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_event_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_event_no_delete"))
    db.session.commit()


def _tamper(*statements: str, **params: object) -> None:
    _drop_triggers()
    for statement in statements:
        db.session.execute(sa.text(statement), params)
    db.session.commit()


def _verify(runner) -> tuple[int, str]:
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _reinsert(rows: list[sa.Row], shift: int = 0) -> None:
    for row in rows:
        values = dict(row._mapping)
        values["seq"] += shift
        db.session.execute(sa.insert(audit.events).values(**values))


def test_an_untouched_trail_verifies(runner, trail) -> None:
    code, output = _verify(runner)
    assert code == 0, output
    assert f"intact: {EVENTS} events" in output


def test_a_changed_field_is_caught(runner, trail) -> None:
    _tamper("UPDATE audit_event SET purpose = 'complaint' WHERE seq = 12")
    code, output = _verify(runner)
    assert code == 1
    assert "event 12: changed" in output


def test_a_removed_event_is_caught(runner, trail) -> None:
    _tamper("DELETE FROM audit_event WHERE seq = 7")
    code, output = _verify(runner)
    assert code == 1
    assert "event 7: removed" in output and "before event 8" in output


def test_a_forged_event_inserted_between_two_good_ones_is_caught(runner, trail) -> None:
    _tamper("DELETE FROM audit_event WHERE seq >= 11")
    forged = dict(trail[10]._mapping, actor_name="someone-else", chain="ab" * 32)
    db.session.execute(sa.insert(audit.events).values(**forged))
    _reinsert(trail[10:], shift=1)
    db.session.execute(sa.text("UPDATE audit_head SET seq = seq + 1, events = events + 1"))
    db.session.commit()
    code, output = _verify(runner)
    assert code == 1
    assert "event 11: inserted" in output


def test_the_newest_events_cut_off_are_caught_by_the_checkpoint(runner, trail) -> None:
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert f"at event {EVENTS + 1}" in result.output  # the checkpoint's own event is covered
    assert _verify(runner)[0] == 0
    # A careful attacker cuts the tail and sets the head back to match.
    last = trail[24]
    _tamper(
        "DELETE FROM audit_event WHERE seq > 25",
        "UPDATE audit_head SET seq = 25, chain = :chain, events = 25",
        chain=last.chain,
    )
    code, output = _verify(runner)
    assert code == 1
    assert "event 26: newest events cut off" in output
    assert f"names event {EVENTS + 1}" in output


def test_the_newest_events_cut_off_are_caught_by_the_head_without_a_checkpoint(
    runner, trail
) -> None:
    _tamper("DELETE FROM audit_event WHERE seq > 25")
    code, output = _verify(runner)
    assert code == 1
    assert "event 26: newest events cut off" in output
    assert "No checkpoint file" in output


def test_a_chain_rebuilt_without_the_key_is_caught(app, runner, trail) -> None:
    # Someone who can write the database but has not the key edits an event and recomputes
    # every chain value with a key of their own: internally consistent, and wrong.
    _tamper("DELETE FROM audit_event")
    previous = None
    for row in trail:
        values = dict(row._mapping)
        if values["seq"] == 5:
            values["purpose"] = "training"
        values["chain"] = chain_value(b"not the key", previous_bytes(previous), values).hex()
        previous = values["chain"]
        db.session.execute(sa.insert(audit.events).values(**values))
    db.session.execute(sa.text("UPDATE audit_head SET chain = :c"), {"c": previous})
    db.session.commit()
    code, output = _verify(runner)
    assert code == 1
    assert "event 1: chain rebuilt without the key" in output


def test_a_forged_checkpoint_is_caught(app, runner, trail) -> None:
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    path = Path(app.config["AUDIT_CHECKPOINT_FILE"])
    line = json.loads(path.read_text())
    line["seq"] += 100  # "there were more events": would make the trail look cut off
    path.write_text(json.dumps(line) + "\n")
    code, output = _verify(runner)
    assert code == 1
    assert "checkpoint line 1: its signature does not verify" in output


def test_a_checkpoint_is_signed_and_names_the_tip(app, runner, trail) -> None:
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    line = json.loads(Path(app.config["AUDIT_CHECKPOINT_FILE"]).read_text())
    tip = audit_rows()[-1]
    assert tip.action == "audit.checkpoint" and tip.actor_name.startswith("cli:")
    assert (line["seq"], line["chain"], line["count"]) == (tip.seq, tip.chain, EVENTS + 1)
    signature = line.pop("signature")
    signed = (
        b"tallenne audit checkpoint v1\x00"
        + json.dumps(line, sort_keys=True, separators=(",", ":")).encode()
    )
    assert signature == hmac.new(app.config["AUDIT_KEY"], signed, hashlib.sha256).hexdigest()


@pytest.mark.app_config(AUDIT_CHECKPOINT_EVERY=3)
def test_checkpoints_are_written_regularly_after_the_commit(app, world, runner) -> None:
    for _ in range(4):
        assert login(app.test_client(), "aino").status_code == 302  # an event each
    assert len(audit_rows()) == 4
    lines = Path(app.config["AUDIT_CHECKPOINT_FILE"]).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [3]
    code, output = _verify(runner)
    assert code == 0 and "1 of 1 checkpoints matched" in output


def test_a_checkpoint_that_cannot_be_written_fails_the_command(runner, trail, tmp_path):
    # A directory cannot be appended to. (The command runs in the test's own app context.)
    current_app.config["AUDIT_CHECKPOINT_FILE"] = str(tmp_path)
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert "Could not write the checkpoint" in result.output


def test_events_from_before_the_chain_are_reported_not_covered(app, runner) -> None:
    # As migration 0003 leaves a trail written by 0001: unchained events, the head after them.
    for seq in (1, 2, 3):
        values = dict(audit.trail.stored_row(audit.Event("login", audit.Outcome.ALLOWED)), seq=seq)
        db.session.execute(sa.insert(audit.events).values(**values))
    db.session.execute(sa.text("UPDATE audit_head SET seq = 3, events = 3"))
    db.session.commit()
    audit.append(
        db.session.connection(),
        audit.Event("logout", audit.Outcome.ALLOWED),
        app.config["AUDIT_KEY"],
    )
    db.session.commit()
    code, output = _verify(runner)
    assert code == 0, output
    assert "4 events, of which the first 3 predate the chain" in output
    # Erasing a chained event's value does not make it "old".
    _tamper("UPDATE audit_event SET chain = NULL WHERE seq = 4")
    code, output = _verify(runner)
    assert code == 1 and "event 4: changed" in output


def test_a_checkpoint_goes_to_syslog_too_where_configured(runner, trail, app) -> None:
    """A syslog server over UDP on 127.0.0.1 (a plain socket that reads what arrives) gets the
    same signed line as the file: facility auth, severity info, the tag tallenne."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(10)
        current_app.config["AUDIT_SYSLOG"] = server.getsockname()
        result = runner.invoke(args=["audit", "checkpoint"])
        assert result.exit_code == 0, result.output
        message = server.recv(4096).decode()
    line = Path(current_app.config["AUDIT_CHECKPOINT_FILE"]).read_text().splitlines()[-1]
    assert message == f"<{4 * 8 + 6}>tallenne: {line}\x00"
    path = current_app.config["AUDIT_CHECKPOINT_FILE"]
    checkpoint = list(audit.checkpoints.read(path, app.config["AUDIT_KEY"]))[-1]
    assert checkpoint.seq == audit_rows()[-1].seq


@pytest.mark.parametrize("value", ["dev/log", "loghost", "loghost:port", "loghost:70000"])
def test_a_bad_syslog_address_stops_start_up_and_names_it(tmp_path, value) -> None:
    with pytest.raises(ConfigurationError, match="TALLENNE_AUDIT_SYSLOG"):
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                "SECRET_KEY": "x",
                "AUDIT_SYSLOG": value,
            }
        )
