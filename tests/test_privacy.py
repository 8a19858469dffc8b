"""A register's settings in /admin, and the privacy notice generated from them: what the
purge and the playback prompt use is what the published notice says."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.support import audit_rows
from webapp import retention
from webapp.extensions import db
from webapp.models import Register

FORM = {
    "name": "Asiakaspalvelun puhelutallenteet",
    "retention_months": "12",
    "purposes": ["order_verification", "complaint", "quality", "data_subject_request"],
    "legal_basis": "legitimate_interest",
    "controller": "Demo Oy\nSatamakatu 1, 15100 Lahti\nY-tunnus 1234567-8",
    "contact": "Asiakaspalvelupäällikkö",
    "dpo_contact": "Tietosuojavastaava, tietosuoja@example.invalid",
    "processors": "Esimerkkiverkot Oy (phone system)\n\nEsimerkkipalvelut Oy (hosting)",
    "scorecard_id": "",
    "review_sample_size": "3",
}


def _register(code: str) -> Register:
    db.session.expire_all()
    return db.session.query(Register).filter_by(code=code).one()


def _save(client, code: str, **changes):
    return client.post(
        f"/admin/registers/{_register(code).id}",
        data={**FORM, **changes},
        headers={"Accept-Language": "en"},
    )


def test_the_notice_is_public_and_in_three_languages(app, world) -> None:
    anonymous = app.test_client()
    listing = anonymous.get("/privacy")
    assert listing.status_code == 200
    assert "/privacy/asiakaspalvelu" in listing.text and "/privacy/myynti" in listing.text
    english = anonymous.get("/privacy/myynti", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    assert "A recording is kept for 6 months from the call" in english.text
    assert "Data Protection Ombudsman" in english.text
    assert "not transferred outside the European Union" in english.text
    finnish = anonymous.get("/privacy/myynti", headers={"Accept-Language": "fi"}).text
    assert "Tietosuojaseloste" in finnish and "6 kuukautta" in finnish
    assert "tietosuojavaltuutettu" in finnish.lower()
    swedish = anonymous.get("/privacy/myynti", headers={"Accept-Language": "sv"}).text
    assert "Dataskyddsbeskrivning" in swedish and "6 månader" in swedish
    assert anonymous.get("/privacy/nosuch").status_code == 404


def test_the_notice_names_exactly_the_register_s_purposes(app, world) -> None:
    anonymous = app.test_client()
    page = anonymous.get("/privacy/myynti", headers={"Accept-Language": "en"}).text
    assert "to verify what you ordered" in page  # myynti: order verification, quality, DSR
    assert "to train our customer-service staff" not in page
    assert "Myynti" in page  # its service
    full = anonymous.get("/privacy/asiakaspalvelu", headers={"Accept-Language": "en"}).text
    assert "to train our customer-service staff" in full


def test_what_the_administrator_saves_is_what_the_notice_says(world, login_as) -> None:
    admin = login_as("pekka")
    response = _save(admin, "asiakaspalvelu", retention_months="18", legal_basis="contract")
    assert response.status_code == 302
    register = _register("asiakaspalvelu")
    assert register.retention_months == 18
    assert register.notice_updated_on == datetime.now(UTC).date()
    assert sorted(p.code for p in register.purposes) == sorted(FORM["purposes"])
    page = admin.get("/privacy/asiakaspalvelu", headers={"Accept-Language": "en"}).text
    assert "kept for 18 months" in page
    assert "the contract between you and us" in page
    assert "<li>Esimerkkiverkot Oy (phone system)</li>" in page
    assert "<li></li>" not in page  # the blank line is no processor
    assert "to train our customer-service staff" not in page  # training was unticked
    assert "Y-tunnus 1234567-8" in page
    (event,) = audit_rows(action="register.change")
    detail = json.loads(event.detail) if isinstance(event.detail, str) else event.detail
    assert detail["retention_months"] == [12, 18]
    assert set(detail["changed"]) >= {"retention_months", "legal_basis", "purposes"}
    assert "Demo Oy" not in json.dumps(detail)  # field names, never their values


def test_saving_nothing_new_changes_nothing(world, login_as) -> None:
    admin = login_as("pekka")
    _save(admin, "asiakaspalvelu")
    audit_before = len(audit_rows(action="register.change"))
    assert _save(admin, "asiakaspalvelu").status_code == 302
    assert len(audit_rows(action="register.change")) == audit_before


def test_shortening_the_period_is_confirmed_with_what_the_purge_will_remove(
    runner, world, login_as
) -> None:
    now = datetime.now(UTC)
    old = world.add_call("old", "aino", started_at=retention.add_months(now, -8), service="vesi")
    world.add_call("new", "aino", started_at=retention.add_months(now, -2), service="vesi")
    admin = login_as("pekka")
    register = _register("asiakaspalvelu")
    expected = retention.removable_count(register, 6, now)  # the old call and the world's
    assert expected >= 1 and retention.removable_count(register, 12, now) == 0
    asked = _save(admin, "asiakaspalvelu", retention_months="6")
    assert asked.status_code == 200
    assert 'role="alert"' in asked.text
    assert f"{expected} recordings of this register are past" in asked.text
    assert _register("asiakaspalvelu").retention_months == 12  # nothing changed yet
    assert audit_rows(action="register.change") == []

    done = _save(admin, "asiakaspalvelu", retention_months="6", confirm="y")
    assert done.status_code == 302
    assert _register("asiakaspalvelu").retention_months == 6
    (event,) = audit_rows(action="register.change")
    detail = json.loads(event.detail) if isinstance(event.detail, str) else event.detail
    assert detail["newly_expired"] == expected
    doomed, _held = retention.plan(now)
    assert old.id in doomed and len([i for i in doomed if i == old.id]) == 1
    page = admin.get(f"/calls/{old.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"retention_months": "0"}, "retention_months"),
        ({"retention_months": "many"}, "retention_months"),
        ({"purposes": []}, "Choose at least one purpose"),
        ({"controller": ""}, "controller"),
        ({"legal_basis": "whim"}, "legal_basis"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(world, login_as, changes, says) -> None:
    admin = login_as("pekka")
    response = admin.post(
        f"/admin/registers/{_register('myynti').id}",
        data={**FORM, **changes},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert says in response.text
    register = _register("myynti")
    assert register.retention_months == 6 and register.name == "Myynnin puhelutallenteet"
    assert audit_rows(action="register.change") == []
