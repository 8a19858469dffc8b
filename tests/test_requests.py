"""Data-subject requests as the DPO's cases (/requests): opened with a one-month deadline,
marked as the deadline nears, and taken to their end: rectification, restriction and
objection, and erasure, unless a legal hold or a legal obligation blocks it. Bad input is
refused saying why, and changes nothing."""

from __future__ import annotations

import html
import itertools
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.support import audit_rows
from webapp import retention
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import (
    Call,
    Customer,
    CustomerFlag,
    CustomerPhone,
    DataSubjectRequest,
    ErasedCustomer,
    LegalHold,
    RemovedRecording,
)
from webapp.requests import cases
from webapp.storage import storage

EN = {"Accept-Language": "en"}


_numbers = itertools.count(9001)


def _case(world, kind: str = "access", **fields) -> DataSubjectRequest:
    """A case as the DPO opened it, put straight into the database."""
    today = flags.today()
    values = {
        "reference": f"TP-{today.year}-{next(_numbers)}",
        "kind": kind,
        "customer_id": world.customer.id,
        "received_on": today,
        "deadline": today + timedelta(days=30),
        "identity_check": "strong_identification",
        "status": "open",
        "opened_by_id": world.users["tiina"].id,
        **fields,
    }
    dsr = DataSubjectRequest(**values)
    db.session.add(dsr)
    db.session.commit()
    return dsr


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _form(**overrides) -> dict[str, str]:
    return {
        "customer": "100001",
        "kind": "access",
        "received_on": flags.today().isoformat(),
        "identity_check": "strong_identification",
        "identity_note": "",
        **overrides,
    }


@pytest.mark.parametrize(
    "received, deadline",
    [("2026-01-31", date(2026, 2, 28)), ("2024-01-31", date(2024, 2, 29))],
)
def test_a_case_is_opened_with_a_deadline_one_month_on(
    world, login_as, received: str, deadline: date
) -> None:
    tiina = login_as("tiina")
    page = tiina.get(f"/requests/new?customer={world.customer.id}", headers=EN).text
    assert 'value="100001"' in page  # the customer the link came from is filled in
    response = tiina.post(
        f"/requests/new?customer={world.customer.id}",
        data=_form(kind="erasure", received_on=received, identity_check="in_person"),
    )
    assert response.status_code == 302
    dsr = db.session.scalar(sa.select(DataSubjectRequest))
    assert response.headers["Location"] == f"/requests/{dsr.id}"
    year = flags.today().year
    assert (dsr.reference, dsr.kind, dsr.status) == (f"TP-{year}-0001", "erasure", "open")
    assert (dsr.customer_id, dsr.received_on, dsr.deadline) == (
        world.customer.id,
        date.fromisoformat(received),
        deadline,
    )
    assert dsr.opened_by_id == world.users["tiina"].id
    event = audit_rows(action="dsr.open")[-1]
    assert (event.customer_id, event.case_ref, event.object_id) == (
        world.customer.id,
        dsr.reference,
        str(dsr.id),
    )
    assert json.loads(event.detail)["deadline"] == deadline.isoformat()
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    assert f"{deadline:%b} {deadline.day}, {deadline.year}" in page
    assert "Maija Meikäläinen" in page
    assert audit_rows(action="dsr.view")[-1].case_ref == dsr.reference
    tiina.post("/requests/new", data=_form())
    assert db.session.scalars(sa.select(DataSubjectRequest.reference)).all() == [
        f"TP-{year}-0001",
        f"TP-{year}-0002",
    ]


def test_cases_near_their_deadline_are_marked_in_words(world, login_as) -> None:
    today = flags.today()
    near = _case(world, received_on=today - timedelta(days=25), deadline=today + timedelta(days=3))
    late = _case(world, received_on=today - timedelta(days=40), deadline=today - timedelta(days=2))
    far = _case(world, deadline=today + timedelta(days=30))
    done = _case(
        world,
        received_on=today - timedelta(days=40),
        deadline=today - timedelta(days=9),
        status="done",
        outcome="Answered.",
        closed_at=datetime.now(UTC),
    )
    page = login_as("tiina").get("/requests/", headers=EN).text
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = {r.split("</a>")[0].rsplit(">", 1)[1]: r for r in body.split("<tr")[1:]}
    # Open cases first, the nearest deadline first; the closed after them.
    assert list(rows) == [late.reference, near.reference, far.reference, done.reference]
    assert 'class="soon"' in rows[near.reference] and "3 days left" in rows[near.reference]
    assert 'class="soon"' in rows[late.reference] and "2 days overdue" in rows[late.reference]
    assert 'class="soon"' not in rows[far.reference] and "left" not in rows[far.reference]
    assert 'class="soon"' not in rows[done.reference] and "overdue" not in rows[done.reference]


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"customer": "424242"}, "There is no customer with this number."),
        ({"customer": ""}, "This field is required."),
        ({"received_on": "FUTURE"}, "The day of receipt cannot be in the future."),
        ({"received_on": "31.1.2026"}, "Not a valid date value."),
        ({"kind": "deletion"}, "Choose one of the kinds of request listed."),
        ({"identity_check": "hunch"}, "Choose how the identity was verified."),
        ({"identity_check": "other"}, "Say how the identity was verified."),
    ],
)
def test_a_bad_case_is_refused_saying_why(world, login_as, overrides, says) -> None:
    if overrides.get("received_on") == "FUTURE":
        overrides["received_on"] = (flags.today() + timedelta(days=1)).isoformat()
    response = login_as("tiina").post("/requests/new", data=_form(**overrides), headers=EN)
    assert response.status_code == 400
    assert says in response.text
    assert _count(DataSubjectRequest) == 0
    assert audit_rows(action="dsr.open") == []


def test_a_link_to_a_customer_who_does_not_exist_is_404(world, login_as) -> None:
    assert login_as("tiina").get("/requests/new?customer=999999").status_code == 404
    assert _count(DataSubjectRequest) == 0


def test_the_case_names_the_calls_from_the_customers_numbers_linked_to_no_one(
    world, login_as
) -> None:
    """Such calls are in no package and no erasure: the case page lists them for the DPO,
    who links the ones that are the customer's from the call page."""
    stranger = world.add_call("stranger", "eero", phone="+358409999999")  # not their number
    unlinked = set(
        db.session.scalars(
            sa.select(Call.id).where(Call.customer_id.is_(None), Call.phone_e164 == "+358401234567")
        )
    )
    assert unlinked and stranger.id not in unlinked
    dsr = _case(world)
    tiina = login_as("tiina")
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    listed = {int(i) for i in re.findall(r'href="/calls/(\d+)#customer"', page)}
    assert listed == unlinked
    assert f"{len(unlinked)} calls came from the customer's numbers" in html.unescape(page)
    assert "+358 40 1234567" in page

    for call_id in unlinked:  # linked from the call page, as the page says
        linked = tiina.post(f"/calls/{call_id}/customer", data={"link-customer_number": "100001"})
        assert linked.status_code == 302
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    assert "linked to no one" not in page and "#customer" not in page


def test_the_deadline_is_extended_once_within_the_first_month_with_its_reasons(
    world, login_as
) -> None:
    received = flags.today() - timedelta(days=10)
    dsr = _case(world, received_on=received, deadline=cases.deadline_for(received))
    tiina = login_as("tiina")
    url = f"/requests/{dsr.id}/extend"
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    assert "Extend the deadline" in page

    untold = tiina.post(url, data={"extend-reason": "Many recordings."}, headers=EN)
    assert untold.status_code == 400 and "Tell the customer first" in untold.text
    no_reason = tiina.post(url, data={"extend-told": "y"}, headers=EN)
    assert no_reason.status_code == 400 and "This field is required." in no_reason.text
    db.session.expire_all()
    assert dsr.extended_at is None and dsr.deadline == cases.deadline_for(received)

    reason = "Yli 200 tallennetta kolmelta vuodelta."
    done = tiina.post(url, data={"extend-reason": reason, "extend-told": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert dsr.deadline == retention.add_months(received, 3)
    assert (dsr.extension_reason, dsr.extended_by_id) == (reason, world.users["tiina"].id)
    event = audit_rows(action="dsr.extend")[-1]
    assert (event.case_ref, json.loads(event.detail)) == (
        dsr.reference,
        {"deadline": dsr.deadline.isoformat()},
    )
    assert "tallennetta" not in " ".join(str(v) for r in audit_rows() for v in r if v)
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    assert reason in page and "Extend the deadline" not in page

    again = tiina.post(url, data={"extend-reason": "Again.", "extend-told": "y"}, headers=EN)
    assert again.status_code == 409 and "extended already" in again.text
    assert len(audit_rows(action="dsr.extend")) == 1


def test_the_deadline_cannot_be_extended_after_the_first_month(world, login_as) -> None:
    received = flags.today() - timedelta(days=40)
    dsr = _case(world, received_on=received, deadline=cases.deadline_for(received))
    tiina = login_as("tiina")
    assert "Extend the deadline" not in tiina.get(f"/requests/{dsr.id}", headers=EN).text
    late = tiina.post(
        f"/requests/{dsr.id}/extend",
        data={"extend-reason": "Many.", "extend-told": "y"},
        headers=EN,
    )
    assert late.status_code == 409 and "The first month is over" in late.text
    db.session.expire_all()
    assert dsr.extended_at is None and audit_rows(action="dsr.extend") == []


def test_closing_a_case_is_audited_without_its_text(world, login_as) -> None:
    dsr = _case(world)
    tiina = login_as("tiina")
    empty = tiina.post(f"/requests/{dsr.id}/close", data={"close-status": "done"}, headers=EN)
    assert empty.status_code == 400 and "This field is required." in empty.text
    db.session.expire_all()
    assert dsr.status == "open" and audit_rows(action="dsr.close") == []
    outcome = "The package was sent by registered post."
    done = tiina.post(
        f"/requests/{dsr.id}/close", data={"close-status": "refused", "close-outcome": outcome}
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert (dsr.status, dsr.outcome, dsr.closed_by_id) == (
        "refused",
        outcome,
        world.users["tiina"].id,
    )
    event = audit_rows(action="dsr.close")[-1]
    assert (event.case_ref, json.loads(event.detail)) == (dsr.reference, {"status": "refused"})
    assert "registered post" not in " ".join(str(v) for r in audit_rows() for v in r if v)
    again = tiina.post(
        f"/requests/{dsr.id}/close", data={"close-status": "done", "close-outcome": "x"}
    )
    assert again.status_code == 409
    db.session.expire_all()
    assert dsr.status == "refused" and len(audit_rows(action="dsr.close")) == 1


def test_rectification_edits_the_customer_and_audits_the_fields_it_changed(world, login_as) -> None:
    dsr = _case(world, "rectification")
    customer = world.customer
    old_phone = customer.phones[0]
    response = login_as("tiina").post(
        f"/requests/{dsr.id}/rectify",
        data={
            "fix-name": "Maija Virtanen",
            "fix-email": "maija.virtanen@example.invalid",
            "fix-language": "fi",
            "fix-contact_person": "",
            "fix-remove_phones": [str(old_phone.id)],
            "fix-add_phones": "040 765 4321\n+358 9 123 4567",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    customer = db.session.get(Customer, customer.id)
    assert (customer.name, customer.email, customer.language) == (
        "Maija Virtanen",
        "maija.virtanen@example.invalid",
        "fi",
    )
    assert sorted(p.phone_e164 for p in customer.phones) == ["+358407654321", "+35891234567"]
    event = audit_rows(action="dsr.rectify")[-1]
    assert (event.customer_id, event.case_ref) == (customer.id, dsr.reference)
    assert json.loads(event.detail) == {"changed": ["name", "email", "phone_numbers"]}
    trail = " ".join(str(v) for r in audit_rows() for v in r if v)
    assert "Virtanen" not in trail and "+358407654321" not in trail
    assert db.session.get(DataSubjectRequest, dsr.id).status == "open"  # closed by the DPO


@pytest.mark.parametrize(
    "data, says",
    [
        ({"fix-add_phones": "12\nabc"}, "These are not phone numbers: 12, abc"),
        ({"fix-email": "not-an-address"}, "This is not an e-mail address."),
        ({"fix-name": ""}, "This field is required."),
        ({"fix-remove_phones": ["999999"]}, "The customer has no such phone number."),
    ],
)
def test_a_bad_rectification_changes_nothing(world, login_as, data, says) -> None:
    dsr = _case(world, "rectification")
    form = {"fix-name": "Maija Virtanen", "fix-language": "fi", **data}
    response = login_as("tiina").post(f"/requests/{dsr.id}/rectify", data=form, headers=EN)
    assert response.status_code == 400 and says in response.text
    db.session.expire_all()
    customer = db.session.get(Customer, world.customer.id)
    assert customer.name == "Maija Meikäläinen"
    assert [p.phone_e164 for p in customer.phones] == ["+358401234567"]
    assert audit_rows(action="dsr.rectify") == []


@pytest.mark.parametrize("kind", ["restriction", "objection"])
def test_a_restriction_or_objection_by_case_sets_the_flag_and_closes_it(
    world, login_as, kind: str
) -> None:
    dsr = _case(world, kind)
    tiina = login_as("tiina")
    assert not flags.in_force(flags.state_at(world.customer.id, flags.today())[kind])
    assert tiina.post(f"/requests/{dsr.id}/flag").status_code == 302
    db.session.expire_all()
    row = flags.state_at(world.customer.id, flags.today())[kind]
    assert flags.in_force(row)
    assert (row.source, row.reference, row.recorded_by_id, row.valid_from) == (
        "dsr_case",
        dsr.reference,
        world.users["tiina"].id,
        flags.today(),
    )
    dsr = db.session.get(DataSubjectRequest, dsr.id)
    assert dsr.status == "done" and dsr.outcome
    assert audit_rows(action="flag.change")[-1].case_ref == dsr.reference
    assert json.loads(audit_rows(action="dsr.close")[-1].detail) == {
        "status": "done",
        "flag": row.id,
    }
    assert tiina.post(f"/requests/{dsr.id}/flag").status_code == 409  # closed: once only
    assert _count(CustomerFlag) == 1


def test_an_action_of_another_kind_of_case_does_not_exist(world, login_as) -> None:
    dsr = _case(world, "access")
    tiina = login_as("tiina")
    assert tiina.post(f"/requests/{dsr.id}/flag").status_code == 404
    assert tiina.post(f"/requests/{dsr.id}/erase", data={"confirm": "y"}).status_code == 404
    assert tiina.post(f"/requests/{dsr.id}/rectify", data={}).status_code == 404
    assert _count(CustomerFlag) == 0 and db.session.get(Customer, world.customer.id)


# --- erasure ----------------------------------------------------------------------------


@pytest.fixture
def erasable(world):
    """The demo customer with three calls (one in another register), two numbers, a flag."""
    customer = world.customer
    world.add_call("third", "eero", service="myynti", customer=customer)
    customer.phones.append(CustomerPhone(phone_e164="+358501112223", secret=True))
    db.session.commit()
    flags.record(customer, "ban_direct_marketing", True, "letter", date(2026, 3, 1))
    calls = [c for c in world.calls.values() if c.customer_id == customer.id]
    assert len(calls) == 3
    return customer, calls


def _rows_of(customer_id: int) -> dict[str, list[dict]]:
    """The customer's rows, as a backup of the database holds them."""
    tables = {
        "customer": (Customer.__table__, Customer.id),
        "customer_phone": (CustomerPhone.__table__, CustomerPhone.customer_id),
        "call": (Call.__table__, Call.customer_id),
        "customer_flag": (CustomerFlag.__table__, CustomerFlag.customer_id),
    }
    return {
        name: [dict(r._mapping) for r in db.session.execute(sa.select(t).where(c == customer_id))]
        for name, (t, c) in tables.items()
    }


def _restore(rows: dict[str, list[dict]]) -> None:
    for name in ("customer", "customer_phone", "call", "customer_flag"):
        table = db.metadata.tables[name]
        db.session.execute(sa.insert(table), rows[name])
    db.session.commit()


def test_an_erasure_removes_the_customer_and_a_purge_after_a_restore_again(
    world, login_as, runner, erasable
) -> None:
    customer, calls = erasable
    customer_id = customer.id
    call_ids = [c.id for c in calls]
    files = [storage().files.path(c.recording_key) for c in calls]
    wrapped = [c.recording_sealed_key for c in calls]
    keys = {c.recording_key for c in calls}
    backup = _rows_of(customer_id)
    dsr = _case(world, "erasure", identity_note="passport checked by Tiina")
    tiina = login_as("tiina")
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    assert "Erases 3 recordings" in page

    response = tiina.post(f"/requests/{dsr.id}/erase", data={"confirm": "y"}, headers=EN)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, customer_id) is None
    assert not any(db.session.get(Call, i) for i in call_ids)
    assert not any(f.exists() for f in files)
    assert _count(CustomerPhone) == 0 and _count(CustomerFlag) == 0
    removed = db.session.execute(sa.select(RemovedRecording.recording_key, RemovedRecording.reason))
    assert {(k, r) for k, r in removed} == {(k, "erasure") for k in keys}
    dsr = db.session.get(DataSubjectRequest, dsr.id)
    assert (dsr.status, dsr.customer_id, dsr.identity_note) == ("done", None, None)
    assert "3 recordings" in dsr.outcome and "2 phone numbers" in dsr.outcome
    erased = db.session.scalar(sa.select(ErasedCustomer))
    assert (erased.customer_id, erased.case_id) == (customer_id, dsr.id)
    event = audit_rows(action="dsr.erase")[-1]
    assert (event.customer_id, event.case_ref) == (customer_id, dsr.reference)
    assert json.loads(event.detail) == {"status": "done", "recordings": 3, "phones": 2, "flags": 1}
    # Nothing of the person is left: not their data, nor a key that would open a copy of a file.
    with db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                values = [v for v in row if v is not None]
                assert not any(v in wrapped for v in values), table
                text = " ".join(str(v) for v in values)
                assert "Meikäläinen" not in text, table
                assert "+358501112223" not in text and "passport" not in text, table
    page = tiina.get(f"/requests/{dsr.id}", headers=EN)
    assert page.status_code == 200 and "erased on" in page.text
    trail = tiina.get("/audit/?action=dsr.erase", headers=EN).text
    assert "Customer erased" in trail and '?customer="' not in trail  # no empty link

    _restore(backup)  # a database restored from a backup of before, the erasure's record kept
    assert db.session.get(Customer, customer_id) is not None
    dry = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert "Would erase again 1 customers" in dry.output
    assert db.session.get(Customer, customer_id) is not None
    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Customer, customer_id) is None
    assert not any(db.session.get(Call, i) for i in call_ids)
    assert _count(CustomerPhone) == 0 and _count(CustomerFlag) == 0
    again = audit_rows(action="dsr.erase.again")[-1]
    assert (again.customer_id, again.case_ref) == (customer_id, dsr.reference)
    assert json.loads(again.detail) == {"recordings": 3, "phones": 2, "flags": 1}

    # A new customer who is later given the same id is someone else, and stays.
    db.session.add(Customer(id=customer_id, customer_number="200002", name="Uusi Asiakas"))
    db.session.commit()
    runner.invoke(args=["retention", "purge"])
    db.session.expire_all()
    assert db.session.get(Customer, customer_id).name == "Uusi Asiakas"


@pytest.mark.parametrize("on", ["customer", "call"])
def test_a_legal_hold_blocks_the_erasure_and_the_outcome_names_it(
    world, login_as, erasable, on: str
) -> None:
    customer, calls = erasable
    held = calls[0]
    hold = LegalHold(
        customer_id=customer.id if on == "customer" else None,
        call_id=held.id if on == "call" else None,
        reason="dispute",
        case_ref="RIITA-7",
        until=date(2099, 1, 1),
    )
    db.session.add(hold)
    # A hold that was lifted, or has ended, blocks nothing.
    db.session.add(
        LegalHold(
            customer_id=customer.id, reason="complaint", case_ref="REK-OLD", until=date(2020, 1, 1)
        )
    )
    db.session.commit()
    before = _rows_of(customer.id)
    dsr = _case(world, "erasure")
    tiina = login_as("tiina")
    page = tiina.get(f"/requests/{dsr.id}", headers=EN).text
    assert "A legal hold blocks the erasure" in page and "RIITA-7" in page
    response = tiina.post(f"/requests/{dsr.id}/erase", data={"confirm": "y"}, headers=EN)
    assert response.status_code == 302
    db.session.expire_all()
    assert _rows_of(customer.id) == before
    assert all(storage().files.path(c.recording_key).exists() for c in calls)
    assert _count(RemovedRecording) == 0 and _count(ErasedCustomer) == 0
    dsr = db.session.get(DataSubjectRequest, dsr.id)
    assert dsr.status == "refused" and dsr.customer_id == customer.id
    assert "RIITA-7" in dsr.outcome and "Dispute" in dsr.outcome and "2099" in dsr.outcome
    assert "REK-OLD" not in dsr.outcome
    assert (f"call {held.id}" in dsr.outcome) == (on == "call")
    assert audit_rows(action="dsr.erase") == []
    detail = json.loads(audit_rows(action="dsr.close")[-1].detail)
    assert detail == {"status": "refused", "blocked_by": "legal_hold", "holds": [hold.id]}


def test_a_legal_obligation_stated_blocks_the_erasure(world, login_as, erasable) -> None:
    customer, _calls = erasable
    before = _rows_of(customer.id)
    dsr = _case(world, "erasure")
    obligation = "Kirjanpitolaki 2:10: order calls are kept as accounting records."
    response = login_as("tiina").post(f"/requests/{dsr.id}/erase", data={"obligation": obligation})
    assert response.status_code == 302
    db.session.expire_all()
    assert _rows_of(customer.id) == before and _count(ErasedCustomer) == 0
    dsr = db.session.get(DataSubjectRequest, dsr.id)
    assert dsr.status == "refused" and obligation in dsr.outcome
    assert json.loads(audit_rows(action="dsr.close")[-1].detail)["blocked_by"] == "legal_obligation"


def test_an_erasure_unconfirmed_changes_nothing(world, login_as, erasable) -> None:
    customer, _calls = erasable
    before = _rows_of(customer.id)
    dsr = _case(world, "erasure")
    response = login_as("tiina").post(f"/requests/{dsr.id}/erase", data={}, headers=EN)
    assert response.status_code == 400
    assert "Confirm the erasure, or state the legal obligation that blocks it." in response.text
    db.session.expire_all()
    assert _rows_of(customer.id) == before
    assert db.session.get(DataSubjectRequest, dsr.id).status == "open"
    assert audit_rows(action="dsr.erase") == [] and audit_rows(action="dsr.close") == []
