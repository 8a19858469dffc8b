"""`tallenne demo`: the embedded demo, filled from nothing and kept on the second run."""

from __future__ import annotations

import hashlib
import io
import shutil
import wave
from pathlib import Path

import sqlalchemy as sa

from tests.support import require
from webapp.extensions import db
from webapp.models import AgentExtension, Call, Customer, CustomerPhone, Register, User
from webapp.storage import storage


def test_demo_fills_then_keeps_then_extends(runner, app) -> None:
    require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed (Debian espeak-ng)")
    result = runner.invoke(args=["demo", "--calls", "40"])
    assert result.exit_code == 0, result.output
    assert "Finnish speech (espeak-ng)" in result.output
    for username in ("aino", "eero", "sanna", "pekka", "tiina"):
        assert username in result.output
    assert "'demo'" in result.output

    roles = {u.username: u.roles_label for u in db.session.scalars(sa.select(User))}
    assert {roles["aino"], roles["eero"], roles["sanna"], roles["pekka"], roles["tiina"]} == {
        "agent",
        "supervisor",
        "admin",
        "dpo",
    }
    registers = list(db.session.scalars(sa.select(Register)))
    assert 2 <= len(registers) <= 3
    assert {r.retention_months for r in registers} == {6, 12}
    assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 200
    assert db.session.scalar(sa.select(sa.func.count()).where(CustomerPhone.secret))

    calls = list(db.session.scalars(sa.select(Call)))
    assert len(calls) == 40
    assert {c.direction for c in calls} == {"in", "out"}
    directory = Path(app.config["STORAGE_DIR"])
    for call in calls:
        assert call.phone_e164 is None or not call.phone_secret
        audio = b"".join(storage().read_range(call.recording, 0, call.recording_bytes))
        with wave.open(io.BytesIO(audio)) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
            assert w.getnframes() == call.duration_s * 8000
        assert hashlib.sha256(audio).hexdigest() == call.recording_sha256
        # On disk it is sealed: no WAV header, no audio.
        on_disk = (directory / call.recording_key).read_bytes()
        assert on_disk.startswith(b"TLNE") and b"RIFF" not in on_disk

    again = runner.invoke(args=["demo", "--calls", "40"])
    assert again.exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(Call.id))) == 40
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == len(roles)

    more = runner.invoke(args=["demo", "--calls", "45"])
    assert more.exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(Call.id))) == 45


def test_demo_logs_in_with_the_demo_password(runner, app) -> None:
    from flask import current_app

    current_app.config["DEMO_PASSWORD"] = "kokeilu"  # commands run in the test's app context
    assert runner.invoke(args=["demo", "--calls", "0"]).exit_code == 0
    client = app.test_client()
    response = client.post("/login", data={"username": "tiina", "password": "kokeilu"})
    assert response.status_code == 302


def test_the_demo_maps_an_extension_to_each_agent(runner, app) -> None:
    assert runner.invoke(args=["demo", "--calls", "0"]).exit_code == 0
    mapped = db.session.execute(
        sa.select(AgentExtension.extension, User.username)
        .join(User)
        .order_by(AgentExtension.extension)
    ).all()
    agents = ["aino", "eero", "leena", "juha", "mari", "olli", "satu", "tomi", "heidi", "jussi"]
    assert [m.username for m in mapped] == agents
    assert [m.extension for m in mapped] == [str(201 + i) for i in range(len(agents))]


def test_the_demo_has_a_months_reviews_to_do_and_months_done(runner, app) -> None:
    from webapp import months
    from webapp.models import Review, Scorecard, TrainingItem
    from webapp.retention import add_months
    from webapp.reviews import sampling

    assert runner.invoke(args=["demo", "--calls", "300"]).exit_code == 0
    scorecard = db.session.scalar(sa.select(Scorecard))
    assert {r.scorecard_id for r in db.session.scalars(sa.select(Register))} == {scorecard.id}
    reviews = list(db.session.scalars(sa.select(Review)))
    assert reviews and all(r.published and r.score is not None for r in reviews)
    assert {r.agent_team for r in reviews} == {"Vesi ja energia", "Laskutus"}
    # Last month's queue has work left in it.
    last = add_months(months.this_month(), -1)
    drawn = sampling.draw(last, sampling.seed_of(last)).call_ids
    assert drawn - {r.call_id for r in reviews}
    assert db.session.scalar(sa.select(sa.func.count(TrainingItem.id)))
