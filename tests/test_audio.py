from __future__ import annotations

import hashlib
import random

import pytest

from tests.support import audit_rows


@pytest.fixture
def aino(world, login_as):
    return login_as("aino")


def audio_url(world, name: str = "aino") -> str:
    return f"/calls/{world.calls[name].id}/audio"


def test_whole_recording_without_range(world, aino) -> None:
    response = aino.get(audio_url(world))
    data = world.audio[world.calls["aino"].id]
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "audio/wav"


@pytest.mark.parametrize(
    "header, expected",
    [
        ("bytes=0-99", slice(0, 100)),
        ("bytes=100-", slice(100, None)),
        ("bytes=-100", slice(-100, None)),
        ("bytes=1000-1000", slice(1000, 1001)),
        ("bytes=30000-9999999", slice(30000, None)),
    ],
)
def test_range_requests(world, aino, header: str, expected: slice) -> None:
    data = world.audio[world.calls["aino"].id]
    response = aino.get(audio_url(world), headers={"Range": header})
    assert response.status_code == 206
    part = data[expected]
    assert response.data == part
    start = expected.start if expected.start >= 0 else len(data) + expected.start
    end = start + len(part) - 1
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
    assert response.headers["Content-Length"] == str(len(part))
    assert response.headers["Cache-Control"] == "no-store"
    assert audit_rows(action="call.play")[-1].detail == f'{{"range":"{start}-{end}"}}'


@pytest.mark.parametrize("header", ["bytes=99999999-", "bytes=32044-32050"])
def test_unsatisfiable_range_is_416(world, aino, header: str) -> None:
    size = len(world.audio[world.calls["aino"].id])
    response = aino.get(audio_url(world), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"
    assert response.data == b""


def test_several_ranges_or_nonsense_get_the_whole_recording(world, aino) -> None:
    data = world.audio[world.calls["aino"].id]
    for header in ("bytes=0-9,20-29", "pages=1-2", "bytes=abc"):
        response = aino.get(audio_url(world), headers={"Range": header})
        assert (response.status_code, response.data) == (200, data), header


def test_random_ranges_reassemble_the_original(world, aino) -> None:
    data = world.audio[world.calls["aino"].id]
    rng = random.Random(7)
    cuts = sorted(rng.sample(range(1, len(data)), 12))
    parts = []
    for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
        response = aino.get(audio_url(world), headers={"Range": f"bytes={start}-{stop - 1}"})
        assert response.status_code == 206
        parts.append(response.data)
    joined = b"".join(parts)
    assert hashlib.sha256(joined).hexdigest() == world.calls["aino"].recording_sha256


def test_export_is_a_wav_download_named_without_personal_data(world, aino) -> None:
    call = world.calls["aino"]
    response = aino.get(f"/calls/{call.id}/export")
    assert response.status_code == 200
    assert response.data == world.audio[call.id]
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="tallenne-{call.id}.wav"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    event = audit_rows(action="call.export")[-1]
    assert (event.actor_name, event.outcome, event.object_id) == ("aino", "allowed", str(call.id))


def test_damaged_recording_is_refused_and_audited(world, aino, app) -> None:
    from pathlib import Path

    call = world.calls["aino"]
    path = Path(app.config["STORAGE_DIR"]) / call.recording_key
    path.write_bytes(path.read_bytes()[:-10])
    response = aino.get(audio_url(world))
    assert response.status_code == 500
    assert b"RIFF" not in response.data
    event = audit_rows(action="recording.integrity_failed")[-1]
    assert event.outcome == "failed"


# --- purposes: playing a call that is not one's own


def state(client, call_id: int, purpose: str, case_ref: str = ""):
    return client.post(f"/calls/{call_id}/purpose", data={"purpose": purpose, "case_ref": case_ref})


def test_supervisor_states_a_purpose_before_playing(world, login_as) -> None:
    sanna = login_as("sanna")
    call = world.calls["aino"]
    page = sanna.get(f"/calls/{call.id}").text
    assert 'id="player"' not in page and 'name="purpose"' in page
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403
    assert sanna.get(f"/calls/{call.id}/export").status_code == 403
    assert audit_rows(action="call.play")[-1].outcome == "denied"

    # A complaint needs its case reference: the page it returns to says so.
    page = sanna.post(
        f"/calls/{call.id}/purpose", data={"purpose": "complaint"}, follow_redirects=True
    ).text
    assert "Tämä käyttötarkoitus vaatii asiaviitteen." in page
    assert 'id="player"' not in page
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403

    assert state(sanna, call.id, "complaint", "REK-2026-17").status_code == 302
    page = sanna.get(f"/calls/{call.id}").text
    assert 'id="player"' in page and "REK-2026-17" in page
    assert sanna.get(f"/calls/{call.id}/audio", headers={"Range": "bytes=0-9"}).status_code == 206
    assert sanna.get(f"/calls/{call.id}/export").status_code == 200
    for action in ("call.purpose", "call.play", "call.export"):
        event = audit_rows(action=action)[-1]
        assert (event.actor_name, event.actor_roles, event.outcome) == (
            "sanna",
            "supervisor",
            "allowed",
        )
        assert (event.purpose, event.case_ref, event.object_id) == (
            "complaint",
            "REK-2026-17",
            str(call.id),
        )
        assert event.client_addr == "127.0.0.1"


def test_purpose_must_be_one_of_the_registers(world, login_as) -> None:
    sanna = login_as("sanna")
    eero = world.calls["eero"]  # the sales register has no training purpose
    page = sanna.get(f"/calls/{eero.id}").text
    assert 'value="training"' not in page and 'value="quality"' in page
    state(sanna, eero.id, "training")
    assert sanna.get(f"/calls/{eero.id}/audio").status_code == 403
    state(sanna, eero.id, "quality")
    assert sanna.get(f"/calls/{eero.id}/audio").status_code == 200


def test_data_subject_request_is_the_dpos_purpose_alone(world, login_as) -> None:
    call = world.calls["aino"]
    sanna, tiina = login_as("sanna"), login_as("tiina")
    assert 'value="data_subject_request"' not in sanna.get(f"/calls/{call.id}").text
    state(sanna, call.id, "data_subject_request", "TSV-1")
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403

    page = tiina.get(f"/calls/{call.id}").text
    assert 'value="data_subject_request"' in page and 'value="quality"' not in page
    state(tiina, call.id, "quality")
    assert tiina.get(f"/calls/{call.id}/audio").status_code == 403
    state(tiina, call.id, "data_subject_request", "TSV-1")
    assert tiina.get(f"/calls/{call.id}/audio").status_code == 200
    assert audit_rows(action="call.play")[-1].purpose == "data_subject_request"


def test_a_stated_purpose_lasts_one_login_session(world, login_as, app) -> None:
    call = world.calls["aino"]
    sanna = login_as("sanna")
    state(sanna, call.id, "quality")
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 200
    sanna.post("/logout")
    sanna = login_as("sanna")
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403
    state(sanna, call.id, "quality")
    app.config["PURPOSE_GRANT_MINUTES"] = 0  # and it expires
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403


def test_own_call_needs_no_purpose_even_for_a_supervisor(world, login_as) -> None:
    sanna = login_as("sanna")
    assert sanna.get(audio_url(world, "sanna")).status_code == 200
    event = audit_rows(action="call.play")[-1]
    assert event.purpose is None and event.outcome == "allowed"


def test_no_purpose_is_chosen_for_the_user(world, login_as) -> None:
    sanna = login_as("sanna")
    call = world.calls["aino"]
    page = sanna.get(f"/calls/{call.id}").text
    options = page.split('name="purpose"')[1].split("</select>")[0]
    assert options.index('value=""') < options.index('value="order_verification"')
    assert "selected" not in options
    # The register's own order: order verification first, authority request last.
    assert options.index("order_verification") < options.index("authority_request")
    page = sanna.post(f"/calls/{call.id}/purpose", data={"purpose": ""}, follow_redirects=True).text
    assert "Valitse käyttötarkoitus." in page
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403


def test_the_registers_purpose_settings_decide_what_needs_a_case_reference(world, login_as) -> None:
    from webapp.extensions import db
    from webapp.models import Purpose

    sanna = login_as("sanna")
    call = world.calls["aino"]
    page = sanna.get(f"/calls/{call.id}").text
    assert "Pakollinen: Reklamaation käsittely, Viranomaispyyntö." in page
    db.session.get(Purpose, "quality").requires_case_ref = True
    db.session.commit()
    page = sanna.get(f"/calls/{call.id}").text
    assert "Pakollinen: Reklamaation käsittely, Laadunvarmistus, Viranomaispyyntö." in page
    page = sanna.post(
        f"/calls/{call.id}/purpose", data={"purpose": "quality"}, follow_redirects=True
    ).text
    assert "Tämä käyttötarkoitus vaatii asiaviitteen." in page
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 403
    state(sanna, call.id, "quality", "LAATU-7")
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 200
