"""The access package (GDPR Art. 15 and 20), opened and checked as the customer would: every
recording there and byte-identical to the stored audio, the manifest's checksums right, and
every access to the customer's data listed, by role and purpose, not by name."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

import audit
from tests.support import audit_rows
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import DataSubjectRequest, LegalHold
from webapp.storage import storage


def _open_case(client, kind: str = "access") -> DataSubjectRequest:
    response = client.post(
        "/requests/new",
        data={
            "customer": "100001",
            "kind": kind,
            "received_on": flags.today().isoformat(),
            "identity_check": "strong_identification",
        },
    )
    assert response.status_code == 302, response.text
    return db.session.scalar(sa.select(DataSubjectRequest).order_by(DataSubjectRequest.id.desc()))


@pytest.fixture
def customer_calls(world, login_as):
    """The demo customer's two calls and a third, longer one in another register, one of them
    under a legal hold, and one played by a supervisor for quality assurance."""
    customer = world.customer
    customer.language = "en"
    db.session.commit()
    third = world.add_call(
        "third",
        "eero",
        service="myynti",
        seconds=5.0,
        started_at=datetime(2026, 1, 15, 8, 30, tzinfo=UTC),
        customer=customer,
    )
    db.session.add(
        LegalHold(call_id=third.id, reason="complaint", case_ref="REK-12", until=date(2099, 3, 1))
    )
    db.session.commit()
    flags.record(customer, "ban_telemarketing", True, "letter", date(2026, 3, 1), reference="K-1")
    sanna = login_as("sanna")
    played = world.calls["aino"]
    sanna.post(f"/calls/{played.id}/purpose", data={"purpose": "quality"})
    assert sanna.get(f"/calls/{played.id}/audio").status_code == 200
    return [world.calls["aino"], world.calls["aino_secret"], third]


def _package(client, dsr: DataSubjectRequest) -> zipfile.ZipFile:
    response = client.get(f"/requests/{dsr.id}/package")
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="tallenne-{dsr.reference}.zip"'
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_the_package_holds_every_recording_exactly_and_a_right_manifest(
    world, login_as, customer_calls
) -> None:
    tiina = login_as("tiina")
    dsr = _open_case(tiina)
    archive = _package(tiina, dsr)
    assert archive.testzip() is None
    names = archive.namelist()
    wavs = {f"recordings/{c.id}.wav" for c in customer_calls}
    expected = {"README.txt", "calls.json", "customer.json", "accesses.json", "MANIFEST.sha256"}
    assert set(names) == expected | wavs and len(names) == len(set(names))
    for call in customer_calls:
        stored = b"".join(storage().read_range(call.recording, 0, call.recording_bytes))
        packed = archive.read(f"recordings/{call.id}.wav")
        assert packed == stored == world.audio[call.id]
        assert packed[:4] == b"RIFF"
    # What /calls/<id>/export serves the DPO for this request is the same bytes.
    exported = world.calls["aino"]
    tiina.post(
        f"/calls/{exported.id}/purpose",
        data={"purpose": "data_subject_request", "case_ref": dsr.reference},
    )
    export = tiina.get(f"/calls/{exported.id}/export")
    assert export.status_code == 200
    assert archive.read(f"recordings/{exported.id}.wav") == export.data

    manifest = archive.read("MANIFEST.sha256").decode()
    listed = {}
    for line in manifest.splitlines():
        digest, name = line.split("  ", 1)  # sha256sum's text format
        listed[name] = digest
    assert set(listed) == set(names) - {"MANIFEST.sha256"}
    for name, digest in listed.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name


def test_the_package_describes_the_calls_the_customer_and_every_access(
    world, login_as, customer_calls
) -> None:
    tiina = login_as("tiina")
    dsr = _open_case(tiina)
    archive = _package(tiina, dsr)
    calls = {c["call"]: c for c in json.loads(archive.read("calls.json"))}
    assert set(calls) == {c.id for c in customer_calls}
    aino, secret, third = customer_calls
    assert calls[aino.id]["phone_number"] == "+358401234567"
    assert calls[secret.id]["phone_number"] is None and calls[secret.id]["secret_number"]
    assert calls[third.id]["started_at_utc"] == "2026-01-15T08:30:00Z"
    assert calls[third.id]["started_at_helsinki"] == "2026-01-15T10:30:00+02:00"
    assert calls[aino.id]["started_at_helsinki"] == "2026-06-01T12:00:00+03:00"
    assert calls[third.id]["duration_seconds"] == 5 and calls[third.id]["direction"] == "inbound"
    assert calls[third.id]["register"] == "Myynnin puhelutallenteet"
    assert calls[third.id]["agent"] == "Eero" and calls[third.id]["service"] == "Myynti"
    assert calls[third.id]["kept_until"] == "2026-07-15"  # six months
    assert calls[aino.id]["kept_until"] == "2027-06-01"  # twelve months
    assert calls[third.id]["legal_hold"] == {"reason": "Complaint", "until": "2099-03-01"}
    assert calls[aino.id]["legal_hold"] is None
    assert "REK-12" not in archive.read("calls.json").decode()

    customer = json.loads(archive.read("customer.json"))
    assert (customer["customer_number"], customer["name"]) == ("100001", "Maija Meikäläinen")
    assert customer["phone_numbers"] == [{"number": "+358401234567", "secret": False}]
    assert [(f["kind"], f["in_force"], f["valid_from"]) for f in customer["flags"]] == [
        ("ban_telemarketing", True, "2026-03-01")
    ]
    assert [r["reference"] for r in customer["requests"]] == [dsr.reference]

    accesses = json.loads(archive.read("accesses.json"))
    plays = [a for a in accesses if a["action"] == "call.play"]
    assert plays and all(a["call"] == aino.id for a in plays)
    assert plays[0]["purpose"] == "Quality assurance"
    assert plays[0]["actor_role"] == "supervisor" and plays[0]["outcome"] == "allowed"
    assert any(a["action"] == "flag.change" for a in accesses)
    assert any(a["action"] == "dsr.open" for a in accesses)
    text = archive.read("accesses.json").decode()
    assert "Sanna" not in text and "sanna" not in text  # roles, not names

    readme = archive.read("README.txt").decode()
    assert dsr.reference in readme and "sha256sum -c MANIFEST.sha256" in readme
    assert "3 recordings" in readme
    for name in ("calls.json", "customer.json", "accesses.json"):
        assert name in readme


def test_the_package_speaks_the_customers_language(world, login_as, customer_calls) -> None:
    world.customer.language = "fi"
    db.session.commit()
    tiina = login_as("tiina")
    archive = _package(tiina, _open_case(tiina))
    plays = [a for a in json.loads(archive.read("accesses.json")) if a["action"] == "call.play"]
    assert plays[0]["purpose"] == "Laadunvarmistus" and plays[0]["actor_role"] == "esihenkilö"


def test_the_download_is_audited_before_and_after(world, login_as, customer_calls) -> None:
    tiina = login_as("tiina")
    dsr = _open_case(tiina, "portability")
    _package(tiina, dsr)
    started = audit_rows(action="dsr.package")
    assert len(started) == 1
    event = started[0]
    assert (event.customer_id, event.case_ref, event.purpose, event.actor_name) == (
        world.customer.id,
        dsr.reference,
        "data_subject_request",
        "tiina",
    )
    detail = json.loads(event.detail)
    assert detail["recordings"] == 3 and sorted(detail["calls"]) == sorted(
        c.id for c in customer_calls
    )
    assert detail["bytes"] == sum(c.recording_bytes for c in customer_calls)
    completed = audit_rows(action="dsr.package.completed")
    assert len(completed) == 1 and completed[0].seq > event.seq
    trail = " ".join(str(v) for r in audit_rows() for v in r if v)
    assert "Meikäläinen" not in trail and "+358401234567" not in trail
    page = tiina.get(f"/requests/{dsr.id}", headers={"Accept-Language": "en"}).text
    assert "Downloaded:" in page


def test_no_package_leaves_when_the_audit_write_fails(world, login_as, monkeypatch) -> None:
    tiina = login_as("tiina")
    dsr = _open_case(tiina)

    def broken(connection, event, key):
        raise OperationalError("INSERT INTO audit_event", {}, Exception("disk I/O error"))

    monkeypatch.setattr(audit, "append", broken)
    response = tiina.get(f"/requests/{dsr.id}/package")
    assert response.status_code == 503
    assert not response.data.startswith(b"PK") and b"RIFF" not in response.data


def test_a_missing_recording_stops_the_package_saying_which(world, login_as) -> None:
    tiina = login_as("tiina")
    dsr = _open_case(tiina)
    gone = world.calls["aino_secret"]
    storage().files.path(gone.recording_key).unlink()
    # The message is flashed in the language of the request that made it.
    response = tiina.get(f"/requests/{dsr.id}/package", headers={"Accept-Language": "en"})
    assert response.status_code == 302
    page = tiina.get(response.headers["Location"], headers={"Accept-Language": "en"}).text
    assert "missing or damaged" in page and str(gone.id) in page
    assert audit_rows(action="dsr.package") == []
    failed = audit_rows(action="recording.integrity_failed")
    assert [(e.object_id, e.outcome) for e in failed] == [(str(gone.id), "failed")]


@pytest.mark.parametrize("kind", ["rectification", "erasure", "restriction", "objection"])
def test_only_access_and_portability_cases_have_a_package(world, login_as, kind: str) -> None:
    tiina = login_as("tiina")
    dsr = _open_case(tiina, kind)
    assert tiina.get(f"/requests/{dsr.id}/package").status_code == 404
    assert audit_rows(action="dsr.package") == []
