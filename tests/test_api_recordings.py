"""POST /api/v1/recordings: the phone system sends a call and its WAV with a bearer token of
scope ingest; tokens are made by `tallenne tokens create`, shown once and kept hashed."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import sqlalchemy as sa

from tests.support import audit_rows, login, wav_bytes
from webapp.extensions import db
from webapp.models import ApiToken, Call
from webapp.storage import storage

METADATA = {
    "id": "pbx-1764494100.10",
    "started_at": "2026-11-30T09:15:00+02:00",
    "service": "600",
    "direction": "in",
    "agent": "aino",
    "phone": "040 123 4567",
}


def _token(runner, name: str = "pbx", scope: str = "ingest") -> str:
    result = runner.invoke(args=["tokens", "create", name, "--scope", scope])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


def _post(client, token: str | None, metadata=METADATA, audio: bytes | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = {
        "metadata": metadata if isinstance(metadata, str) else json.dumps(metadata),
        "recording": (io.BytesIO(wav_bytes(1.0) if audio is None else audio), "call.wav"),
    }
    return client.post("/api/v1/recordings", data=data, headers=headers)


def test_a_token_is_shown_once_and_kept_hashed(runner, world) -> None:
    token = _token(runner)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == "pbx"))
    assert token.startswith("tln_") and row.scope == "ingest"
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in " ".join(str(v) for r in audit_rows() for v in r)
    again = runner.invoke(args=["tokens", "create", "pbx", "--scope", "ingest"])
    assert again.exit_code == 2 and "exists already" in again.output


def test_the_phone_system_sends_a_call_that_the_agent_then_plays(app, runner, world) -> None:
    token = _token(runner)
    client = app.test_client()
    response = _post(client, token)
    assert response.status_code == 201, response.json
    call = db.session.get(Call, response.json["call"])
    assert response.headers["Location"] == f"/calls/{call.id}"
    assert (call.external_id, call.agent.username, call.phone_e164) == (
        "pbx-1764494100.10",
        "aino",
        "+358401234567",
    )
    assert call.customer_id == world.customer.id and call.recording_sealed_key
    event = audit_rows(action="api.recording")[-1]
    assert (event.actor_name, event.outcome, event.object_id) == (
        "token:pbx",
        "allowed",
        str(call.id),
    )

    aino = app.test_client()
    assert login(aino, "aino").status_code == 302
    assert aino.get(f"/calls/{call.id}/audio").data == wav_bytes(1.0)

    duplicate = _post(client, token)
    assert duplicate.status_code == 409 and duplicate.json["call"] == call.id


@pytest.mark.parametrize(
    "metadata, audio, says",
    [
        ("{not json", None, "metadata: not JSON"),
        ({**METADATA, "service": "999"}, None, "service: no service with the code '999'"),
        ({**METADATA, "started_at": "2026-11-30T09:15:00"}, None, "no UTC offset"),
        ({**METADATA, "recording": "x.wav"}, None, "without 'recording'"),
        (METADATA, b"ID3" + bytes(100), "not a WAV file"),
        (METADATA, wav_bytes(1.0)[:44], "empty"),
    ],
)
def test_bad_input_is_400_naming_what_is_wrong(app, runner, world, metadata, audio, says) -> None:
    response = _post(app.test_client(), _token(runner), metadata, audio)
    assert response.status_code == 400 and says in response.json["error"]
    assert db.session.scalar(sa.select(sa.func.count()).where(Call.external_id.is_not(None))) == 0
    assert audit_rows(action="api.recording")[-1].outcome == "failed"


@pytest.mark.app_config(IMPORT_MAX_BYTES=10_000)
def test_a_recording_over_the_limit_is_413(app, runner, world) -> None:
    response = _post(app.test_client(), _token(runner), audio=wav_bytes(3.0))
    assert response.status_code == 413 and "limit of 10,000 bytes" in response.json["error"]
    assert (
        list(storage().files.walk()) != []
        and db.session.scalar(sa.select(sa.func.count()).where(Call.external_id.is_not(None))) == 0
    )


def test_no_token_a_wrong_one_or_another_scope_is_refused(app, runner, world) -> None:
    client = app.test_client()
    missing = _post(client, None)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert _post(client, "tln_" + "x" * 43).status_code == 401
    contact = _post(client, _token(runner, "crm", "contact"))
    assert contact.status_code == 403 and "scope is contact" in contact.json["error"]
    denied = audit_rows(action="api.auth")
    assert [d.outcome for d in denied] == ["denied"] * 3 and denied[-1].actor_name == "token:crm"
    # A login session is no token.
    browser = app.test_client()
    login(browser, "pekka")
    assert _post(browser, None).status_code == 401
