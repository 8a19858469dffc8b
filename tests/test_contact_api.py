"""GET /api/v1/contact-permission: another system asks, with a token of scope contact, whether
a number may be contacted for a purpose; every question is audited, never with the number."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.support import audit_rows
from webapp.customers import flags

PATH = "/api/v1/contact-permission"


def _token(runner, name: str = "crm", scope: str = "contact") -> str:
    result = runner.invoke(args=["tokens", "create", name, "--scope", scope])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


@pytest.fixture
def ask(app, runner, world):
    headers = {"Authorization": f"Bearer {_token(runner)}"}
    client = app.test_client()

    def _ask(**query):
        return client.get(PATH, query_string=query, headers=headers)

    return _ask


def test_no_token_or_an_ingest_token_is_refused(app, runner, world) -> None:
    client = app.test_client()
    query = {"phone": "040 123 4567", "purpose": "telemarketing"}
    missing = client.get(PATH, query_string=query)
    assert missing.status_code == 401 and "bearer token" in missing.json["error"]
    ingest = {"Authorization": f"Bearer {_token(runner, 'pbx', 'ingest')}"}
    wrong = client.get(PATH, query_string=query, headers=ingest)
    assert wrong.status_code == 403 and "scope is ingest" in wrong.json["error"]
    assert audit_rows(action="contact.check") == []
    assert [e.outcome for e in audit_rows(action="api.auth")] == ["denied", "denied"]


def test_a_banned_number_is_refused_naming_the_flag(ask, world) -> None:
    since = flags.today() - timedelta(days=30)
    ban = flags.record(world.customer, "ban_telemarketing", True, "national_register", since)
    response = ask(phone="040 123 4567", purpose="telemarketing")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "allowed": False,
        "reason": "banned",
        "purpose": "telemarketing",
        "phone": "+358401234567",
        "source": "national_register",
        "valid_from": since.isoformat(),
        "valid_until": flags.years_later(since, 3).isoformat(),
        "recorded_at": ban.recorded_at.isoformat(),
        "customer_known": True,
    }
    event = audit_rows(action="contact.check")[-1]
    assert (event.outcome, event.actor_name, event.customer_id, event.object_id) == (
        "denied",
        "token:crm",
        world.customer.id,
        str(world.customer.id),
    )
    assert json.loads(event.detail) == {"purpose": "telemarketing", "reason": "banned"}
    # The same customer may still be asked about for research.
    assert ask(phone="+358 40 1234567", purpose="research").json["allowed"] is True


def test_a_free_number_may_be_contacted(ask, world) -> None:
    response = ask(phone="+358449998888", purpose="direct_marketing")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "allowed": True,
        "reason": "unknown_number",
        "purpose": "direct_marketing",
        "phone": "+358449998888",
        "source": None,
        "valid_from": None,
        "valid_until": None,
        "recorded_at": None,
        "customer_known": False,
    }
    event = audit_rows(action="contact.check")[-1]
    assert (event.outcome, event.customer_id, event.object_id) == ("allowed", None, None)


def test_a_consent_is_what_lets_sms_marketing_through(ask, world) -> None:
    assert ask(phone="0401234567", purpose="sms_marketing").json["reason"] == "no_consent"
    since = flags.today()
    flags.record(world.customer, "consent_sms_marketing", True, "web_form", since)
    answer = ask(phone="0401234567", purpose="sms_marketing").json
    assert (answer["allowed"], answer["reason"], answer["source"]) == (
        True,
        "consented",
        "web_form",
    )
    tomorrow = since + timedelta(days=1)
    flags.record(world.customer, "restriction", True, "letter", tomorrow)
    assert ask(phone="0401234567", purpose="sms_marketing").json["allowed"] is True
    flags.record(world.customer, "restriction", True, "letter", date(2020, 1, 1))
    assert ask(phone="0401234567", purpose="sms_marketing").json["reason"] == "restricted"


@pytest.mark.parametrize(
    "query, wrong, says",
    [
        ({"purpose": "telemarketing"}, ["phone"], "phone: a phone number is needed"),
        ({"phone": "12ab", "purpose": "research"}, ["phone"], "phone: a phone number is needed"),
        ({"phone": "0401", "purpose": "research"}, ["phone"], "phone: a phone number is needed"),
        ({"phone": "040 123 4567"}, ["purpose"], "purpose: one of direct_marketing, telemarketing"),
        (
            {"phone": "0401234567", "purpose": "spam"},
            ["purpose"],
            "sms_survey, directory, genealogy",
        ),
        (
            {"purpose": "spam"},
            ["phone", "purpose"],
            "; purpose: one of direct_marketing",
        ),
    ],
)
def test_a_malformed_question_is_400_saying_what_is_wrong(ask, world, query, wrong, says) -> None:
    response = ask(**query)
    assert response.status_code == 400 and says in response.json["error"]
    assert response.json.get("purposes") == (list(flags.PURPOSES) if "purpose" in wrong else None)
    event = audit_rows(action="contact.check")[-1]
    assert event.outcome == "failed" and event.customer_id is None
    assert json.loads(event.detail) == {"wrong": wrong}


def test_every_question_is_audited_once_and_never_with_the_number(ask, world) -> None:
    flags.record(world.customer, "ban_research", True, "letter", date(2020, 1, 1))
    questions = [
        ("040 123 4567", "research"),
        ("040 123 4567", "genealogy"),
        ("044 999 8888", "research"),
        ("not a number", "research"),
    ]
    for phone, purpose in questions:
        ask(phone=phone, purpose=purpose)
    events = audit_rows(action="contact.check")
    assert [e.outcome for e in events] == ["denied", "allowed", "allowed", "failed"]
    assert [e.customer_id for e in events] == [world.customer.id, world.customer.id, None, None]
    for event in events:
        row = " ".join(str(value) for value in event)
        assert "1234567" not in row and "9998888" not in row and "not a number" not in row
