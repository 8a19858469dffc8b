"""/customers: finding a customer, their page and flags, the ban an agent records from their
own call, linking a call by hand, and a restriction that stops playback (SPEC §5)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support import audit_rows
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import Call, Customer, CustomerFlag, CustomerPhone, LegalHold

EN = {"Accept-Language": "en"}


def _detail(row) -> dict:
    return json.loads(row.detail) if isinstance(row.detail, str) else row.detail


@pytest.fixture
def second(world) -> Customer:
    customer = Customer(customer_number="100002", name="Åke Åberg")
    customer.phones.append(CustomerPhone(phone_e164="+358505550000", secret=True))
    db.session.add(customer)
    db.session.commit()
    return customer


@pytest.mark.parametrize(
    "query", ["040 123 4567", "+358 40 1234567", "0401234567", "100001", "meikäl", "MAIJA"]
)
def test_a_customer_is_found_by_any_form_of_number_or_name(world, login_as, query) -> None:
    page = login_as("sanna").post("/customers", data={"q": query}, headers=EN)
    assert page.status_code == 200
    assert f'/customers/{world.customer.id}"' in page.text
    assert "1 customer found" in page.text
    (event,) = audit_rows(action="customer.search")
    assert query not in json.dumps(_detail(event)) and query not in (event.object_id or "")
    assert event.customer_id == world.customer.id


@pytest.mark.parametrize("query", ["åberg", "ÅKE", "Åke Å"])
def test_a_name_is_found_in_any_case_of_its_letters(world, login_as, second, query) -> None:
    page = login_as("sanna").post("/customers", data={"q": query}, headers=EN).text
    assert f'/customers/{second.id}"' in page and "1 customer found" in page


def test_a_search_finds_nothing_and_says_so(world, login_as, second) -> None:
    page = login_as("sanna").post("/customers", data={"q": "050 999 9999"}, headers=EN).text
    assert "0 customers found" in page
    assert "/customers/" not in page.split("found")[1]


def test_a_secret_number_never_shows_its_digits(world, login_as, second) -> None:
    sanna = login_as("sanna")
    found = sanna.post("/customers", data={"q": "100002"}, headers=EN).text
    page = sanna.get(f"/customers/{second.id}", headers=EN).text
    for text in (found, page):
        assert "secret number" in text
        assert "555" not in text.replace(str(second.id), "")


def test_an_agent_sees_only_the_customers_of_their_own_calls(world, login_as, second) -> None:
    aino = login_as("aino")
    assert aino.get(f"/customers/{world.customer.id}").status_code == 200
    assert aino.get(f"/customers/{second.id}").status_code == 404
    assert aino.get("/customers/99999").status_code == 404
    denied = audit_rows(outcome="denied")
    assert [d.object_id for d in denied] == [str(second.id), "99999"]
    # Not even a search reaches the others.
    found = aino.post("/customers", data={"q": "100002"}, headers=EN).text
    assert "0 customers found" in found
    # An agent's view of a customer lists only the agent's own calls.
    world.add_call("eero_maija", "eero", customer=world.customer)
    page = aino.get(f"/customers/{world.customer.id}").text
    assert f"/calls/{world.calls['aino'].id}" in page
    assert f"/calls/{world.calls['eero_maija'].id}" not in page
    assert "Record a change" not in page and 'name="kind"' not in page


def test_a_supervisor_records_a_ban_from_a_letter(world, login_as) -> None:
    sanna = login_as("sanna")
    response = sanna.post(
        f"/customers/{world.customer.id}/flags",
        data={
            "kind": "ban_telemarketing",
            "state": "1",
            "source": "letter",
            "valid_from": "2026-11-01",
            "reference": "Kirje 12/2026",
        },
    )
    assert response.status_code == 302
    page = sanna.get(f"/customers/{world.customer.id}", headers=EN).text
    in_force = page.split("Bans and consents")[1].split("History")[0]
    assert "Ban on telemarketing and distance selling" in in_force
    assert "Letter" in page and "Kirje 12/2026" in page and "Sanna" in page
    (event,) = audit_rows(action="flag.change")
    assert event.actor_name == "sanna" and event.customer_id == world.customer.id
    assert _detail(event)["kind"] == "ban_telemarketing"
    # The call's page shows it beside the call, to anyone who sees the call.
    call_page = login_as("aino").get(f"/calls/{world.calls['aino'].id}", headers=EN).text
    assert "Ban on telemarketing and distance selling" in call_page


def test_an_agent_records_a_ban_from_their_own_call(world, login_as) -> None:
    aino = login_as("aino")
    call = world.calls["aino"]
    response = aino.post(
        f"/calls/{call.id}/flags", data={"flag-kind": "ban_direct_marketing", "flag-state": "1"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    (row,) = db.session.query(CustomerFlag).all()
    assert (row.kind, row.state, row.source, row.call_id) == (
        "ban_direct_marketing",
        True,
        "call",
        call.id,
    )
    assert row.valid_from == flags.today() and row.recorded_by_id == world.users["aino"].id
    page = aino.get(f"/calls/{call.id}", headers=EN).text
    assert "Ban on direct marketing" in page.split('id="customer"')[1].split("</section>")[0]
    assert flags.decide("+358401234567", "telemarketing", flags.today()).allowed is False


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            {"valid_from": "2026-11-02", "valid_until": "2026-11-01"},
            "The last day cannot be before the first.",
        ),
        ({"source": "call"}, "Give the call in which the customer said it."),
        ({"source": "call", "call": "OTHER"}, "This customer has no call with this number."),
        ({"kind": "ban_everything"}, "Not a valid choice"),
        ({"valid_from": "yesterday"}, "Not a valid date value"),
    ],
)
def test_a_bad_flag_change_is_refused_saying_why(world, login_as, data, says) -> None:
    if data.get("call") == "OTHER":
        data = {**data, "call": str(world.calls["eero"].id)}
    form = {"kind": "ban_research", "state": "1", "source": "letter", "valid_from": "2026-11-01"}
    response = login_as("tiina").post(
        f"/customers/{world.customer.id}/flags", data={**form, **data}, headers=EN
    )
    assert response.status_code == 400
    assert says in response.text
    assert db.session.query(CustomerFlag).count() == 0
    assert audit_rows(action="flag.change") == []


def test_a_call_is_linked_to_a_customer_by_hand(world, login_as, second) -> None:
    call = world.calls["eero"]
    sanna = login_as("sanna")
    bad = sanna.post(f"/calls/{call.id}/customer", data={"link-customer_number": "999"}, headers=EN)
    assert bad.status_code == 400 and "There is no customer with this number." in bad.text
    done = sanna.post(f"/calls/{call.id}/customer", data={"link-customer_number": "100002"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Call, call.id).customer_id == second.id
    (event,) = audit_rows(action="call.link")
    assert event.customer_id == second.id and event.object_id == str(call.id)
    assert f"/calls/{call.id}" in sanna.get(f"/customers/{second.id}").text


def _restrict(customer: Customer, day: date | None = None) -> None:
    flags.record(customer, "restriction", True, "dsr_case", day or flags.today(), reference="TP-1")


def _state_purpose(client, call: Call, purpose: str, case_ref: str = "") -> None:
    client.post(f"/calls/{call.id}/purpose", data={"purpose": purpose, "case_ref": case_ref})


def test_a_restricted_customer_s_recording_is_kept_but_not_played(world, login_as) -> None:
    call = world.calls["aino"]
    _restrict(world.customer)
    # The agent's own call: no longer played as their own.
    aino = login_as("aino")
    assert aino.get(f"/calls/{call.id}/audio").status_code == 403
    page = aino.get(f"/calls/{call.id}", headers=EN).text
    assert "restricted the processing" in page and "<audio" not in page
    # A supervisor is not even offered quality assurance, and a grant for it does not play.
    sanna = login_as("sanna")
    page = sanna.get(f"/calls/{call.id}", headers=EN).text
    assert 'value="quality"' not in page
    _state_purpose(sanna, call, "quality")
    assert sanna.get(f"/calls/{call.id}/export").status_code == 403
    refused = audit_rows(action="call.export", outcome="denied")
    assert [_detail(r)["reason"] for r in refused] == ["restricted", "restricted"][: len(refused)]
    assert refused and _detail(refused[-1])["reason"] == "restricted"
    # The DPO, for the data-subject request, with its case reference.
    tiina = login_as("tiina")
    _state_purpose(tiina, call, "data_subject_request", "TP-1")
    played = tiina.get(f"/calls/{call.id}/export")
    assert played.status_code == 200 and played.data == world.audio[call.id]
    # Another customer's calls play as before.
    assert aino.get(f"/calls/{world.calls['aino'].id}/audio").status_code == 403
    own_other = world.add_call("aino_other", "aino", phone="+358409999999")
    assert aino.get(f"/calls/{own_other.id}/audio").status_code == 200


def test_under_a_legal_hold_a_restricted_recording_plays_for_the_claim(world, login_as) -> None:
    call = world.calls["aino"]
    _restrict(world.customer)
    db.session.add(
        LegalHold(
            call_id=call.id,
            reason="complaint",
            case_ref="REK-1",
            until=date.today() + timedelta(days=30),
        )
    )
    db.session.commit()
    sanna = login_as("sanna")
    page = sanna.get(f"/calls/{call.id}").text
    assert 'value="complaint"' in page and 'value="quality"' not in page
    _state_purpose(sanna, call, "complaint", "REK-1")
    assert sanna.get(f"/calls/{call.id}/export").status_code == 200


def test_a_restriction_that_has_not_begun_or_was_withdrawn_stops_nothing(world, login_as) -> None:
    call = world.calls["aino"]
    aino = login_as("aino")
    _restrict(world.customer, flags.today() + timedelta(days=3))
    assert aino.get(f"/calls/{call.id}/audio").status_code == 200
    _restrict(world.customer, flags.today() - timedelta(days=3))
    assert aino.get(f"/calls/{call.id}/audio").status_code == 403
    flags.record(world.customer, "restriction", False, "dsr_case", flags.today(), reference="TP-2")
    assert aino.get(f"/calls/{call.id}/audio").status_code == 200
    assert datetime.now(UTC)  # the days above are Finnish days: flags.today()
