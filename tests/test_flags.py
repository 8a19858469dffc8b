"""Customers' bans, consents, restrictions and objections: each change a row, the row recorded
last among those covering a day decides that day, and the contact decision built on them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from tests.support import audit_rows
from webapp.customers import flags
from webapp.customers.flags import decide, decide_many, in_force, record, state_at
from webapp.extensions import db
from webapp.models import Customer, CustomerFlag, CustomerPhone

DAY = date(2026, 6, 1)
MAIJA = "+358401234567"  # the world's customer
SECRET = "+358501112222"
UNKNOWN = "+358449998888"
CONSENT_BASED = {"email_marketing", "sms_marketing"}
BAN_BASED = set(flags.PURPOSES) - CONSENT_BASED


def _customer(number: str, *phones: tuple[str, bool]) -> Customer:
    customer = Customer(customer_number=number, name=f"Asiakas {number}")
    customer.phones = [CustomerPhone(phone_e164=p, secret=secret) for p, secret in phones]
    db.session.add(customer)
    db.session.commit()
    return customer


def _in_force(customer: Customer, day: date) -> set[str]:
    return {kind for kind, row in state_at(customer.id, day).items() if in_force(row)}


def test_every_kind_is_set_withdrawn_and_runs_out(world) -> None:
    maija = world.customer
    assert set(flags.KINDS) == {*flags.BANS, *flags.CONSENTS, "restriction", "objection"}
    assert len(flags.BANS) == 7 and len(flags.CONSENTS) == 2
    for kind in flags.KINDS:
        record(maija, kind, True, "letter", DAY, valid_until=date(2026, 12, 31))
    assert _in_force(maija, date(2026, 5, 31)) == set()
    assert _in_force(maija, DAY) == _in_force(maija, date(2026, 12, 31)) == set(flags.KINDS)
    assert state_at(maija.id, date(2027, 1, 1)) == dict.fromkeys(flags.KINDS)

    for kind in flags.KINDS:
        record(maija, kind, False, "web_form", date(2026, 9, 1))
    assert _in_force(maija, date(2026, 8, 31)) == set(flags.KINDS)
    september = state_at(maija.id, date(2026, 9, 1))
    assert {row.source for row in september.values()} == {"web_form"}
    assert _in_force(maija, date(2026, 9, 1)) == set()
    # A withdrawal with no end outlasts the ban it withdrew: it still decides in 2027.
    assert not any(in_force(row) for row in state_at(maija.id, date(2027, 6, 1)).values())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomerFlag)) == 22


def test_the_row_recorded_last_decides_not_the_one_starting_last(world) -> None:
    maija = world.customer
    ban = record(maija, "ban_research", True, "letter", date(2026, 1, 1))
    lifted = record(
        maija, "ban_research", False, "call", date(2026, 3, 1), call=world.calls["aino"]
    )
    assert state_at(maija.id, date(2026, 2, 1))["ban_research"] == ban
    assert state_at(maija.id, date(2026, 4, 1))["ban_research"] == lifted
    # Recorded later, though from an earlier day: it decides from its first day on.
    again = record(maija, "ban_research", True, "web_form", date(2026, 2, 15))
    assert state_at(maija.id, date(2026, 2, 10))["ban_research"] == ban
    assert state_at(maija.id, date(2026, 4, 1))["ban_research"] == again
    assert list(db.session.scalars(flags.history(maija.id))) == [again, lifted, ban]


def test_rows_recorded_at_the_same_instant_are_decided_by_their_order(world) -> None:
    same = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    rows = [
        CustomerFlag(
            customer_id=world.customer.id,
            kind="ban_directory",
            state=state,
            source="letter",
            valid_from=DAY,
            recorded_at=same,
        )
        for state in (False, True)
    ]
    db.session.add_all(rows)
    db.session.commit()
    assert state_at(world.customer.id, DAY)["ban_directory"] == rows[1]


def test_a_national_register_entry_lasts_three_years(world) -> None:
    maija = world.customer
    letter = record(maija, "ban_telemarketing", True, "letter", date(2020, 1, 1))
    letter_lifted = record(maija, "ban_direct_marketing", False, "letter", date(2020, 1, 1))
    entry = record(maija, "ban_telemarketing", True, "national_register", date(2026, 3, 1))
    assert entry.valid_until == date(2029, 3, 1)
    ban = record(maija, "ban_direct_marketing", True, "national_register", date(2026, 3, 1))
    assert state_at(maija.id, date(2029, 3, 1))["ban_direct_marketing"] == ban
    # Once the entry has run out, the older rows decide again.
    after = state_at(maija.id, date(2029, 3, 2))
    assert after["ban_telemarketing"] == letter and after["ban_direct_marketing"] == letter_lifted
    assert not decide(MAIJA, "direct_marketing", date(2029, 3, 1)).allowed
    assert decide(MAIJA, "direct_marketing", date(2029, 3, 2)).reason == "no_ban"
    leap = record(maija, "ban_telemarketing", True, "national_register", date(2028, 2, 29))
    assert leap.valid_until == date(2031, 2, 28)
    given = record(maija, "ban_research", True, "national_register", DAY, date(2026, 7, 1))
    assert given.valid_until == date(2026, 7, 1)


def test_a_change_is_audited_without_personal_data(world) -> None:
    maija, dpo = world.customer, world.users["tiina"]
    flag = record(maija, "objection", True, "dsr_case", DAY, reference=" DSR-2026-7 ", by=dpo)
    assert (flag.reference, flag.recorded_by_id, flag.recorded_at.tzinfo) == (
        "DSR-2026-7",
        dpo.id,
        UTC,
    )
    event = audit_rows(action="flag.change")[-1]
    assert (event.outcome, event.object_type, event.object_id, event.customer_id) == (
        "allowed",
        "customer",
        str(maija.id),
        maija.id,
    )
    assert (event.actor_name, event.case_ref) == ("tiina", "DSR-2026-7")
    assert json.loads(event.detail) == {
        "flag": flag.id,
        "kind": "objection",
        "state": True,
        "source": "dsr_case",
        "call": None,
        "valid_from": "2026-06-01",
        "valid_until": None,
    }
    assert "Maija" not in str(event) and "401234567" not in str(event)


@pytest.mark.parametrize(
    "kind, source, extra, says",
    [
        ("ban_spam", "letter", {}, "no flag kind 'ban_spam'"),
        ("ban_research", "fax", {}, "no flag source 'fax'"),
        ("ban_research", "call", {}, "needs that call"),
        ("ban_research", "call", {"call": "eero"}, "is not this customer's"),
        ("ban_research", "letter", {"call": "aino"}, "only with the source 'call'"),
        ("ban_research", "dsr_case", {"reference": "  "}, "needs the case's reference"),
        ("ban_research", "letter", {"valid_until": date(2026, 5, 31)}, "before valid_from"),
        ("ban_research", "letter", {"reference": "x" * 129}, "at most 128"),
    ],
)
def test_a_wrong_change_is_refused_and_adds_nothing(world, kind, source, extra, says) -> None:
    if "call" in extra:
        extra = {**extra, "call": world.calls[extra["call"]]}
    with pytest.raises(ValueError, match=says):
        record(world.customer, kind, True, source, DAY, **extra)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomerFlag)) == 0
    assert audit_rows(action="flag.change") == []


def test_a_flag_from_a_call_links_its_recording(world) -> None:
    call = world.calls["aino"]
    flag = record(world.customer, "consent_sms_marketing", True, "call", DAY, call=call)
    assert flag.call_id == call.id
    assert json.loads(audit_rows(action="flag.change")[-1].detail)["call"] == call.id


def test_without_flags_only_the_consent_based_purposes_are_refused(world) -> None:
    for purpose in flags.PURPOSES:
        answer = decide(MAIJA, purpose, DAY)
        expected = ("no_consent", False) if purpose in CONSENT_BASED else ("no_ban", True)
        assert (answer.reason, answer.allowed) == expected, purpose
        assert answer.customer_known and answer.customer_id == world.customer.id
        assert answer.flag is None


@pytest.mark.parametrize("purpose", sorted(BAN_BASED))
def test_a_purposes_own_ban_refuses_it_and_nothing_else(world, purpose) -> None:
    kind = flags.BANNED_BY[purpose][0]
    ban = record(world.customer, kind, True, "letter", DAY)
    answer = decide(MAIJA, purpose, DAY)
    assert (answer.allowed, answer.reason, answer.flag) == (False, "banned", ban)
    others = {p for p in BAN_BASED if kind not in flags.BANNED_BY[p]}
    assert all(decide(MAIJA, p, DAY).reason == "no_ban" for p in others)
    assert decide(MAIJA, purpose, date(2026, 5, 31)).allowed  # not before it began
    lifted = record(world.customer, kind, False, "web_form", date(2026, 8, 1))
    later = decide(MAIJA, purpose, date(2026, 8, 1))
    assert (later.allowed, later.reason, later.flag) == (True, "no_ban", lifted)


def test_a_ban_on_direct_marketing_refuses_its_every_form(world) -> None:
    maija = world.customer
    record(maija, "consent_email_marketing", True, "web_form", DAY)
    record(maija, "consent_sms_marketing", True, "web_form", DAY)
    ban = record(maija, "ban_direct_marketing", True, "letter", DAY)
    forms = {"direct_marketing", "telemarketing", "email_marketing", "sms_marketing"}
    for purpose in flags.PURPOSES:
        answer = decide(MAIJA, purpose, DAY)
        if purpose in forms:
            assert (answer.allowed, answer.reason, answer.flag) == (False, "banned", ban)
        else:
            assert (answer.allowed, answer.reason) == (True, "no_ban"), purpose


def test_marketing_by_email_or_sms_needs_its_own_consent(world) -> None:
    maija = world.customer
    consent = record(maija, "consent_email_marketing", True, "call", DAY, call=world.calls["aino"])
    email = decide(MAIJA, "email_marketing", DAY)
    assert (email.allowed, email.reason, email.flag) == (True, "consented", consent)
    assert decide(MAIJA, "sms_marketing", DAY).reason == "no_consent"
    withdrawn = record(maija, "consent_email_marketing", False, "letter", date(2026, 7, 1))
    later = decide(MAIJA, "email_marketing", date(2026, 7, 1))
    assert (later.allowed, later.reason, later.flag) == (False, "no_consent", withdrawn)


@pytest.mark.parametrize("kind, reason", [("restriction", "restricted"), ("objection", "objected")])
def test_a_restriction_or_an_objection_refuses_every_purpose(world, kind, reason) -> None:
    maija = world.customer
    record(maija, "consent_email_marketing", True, "web_form", DAY)
    record(maija, "ban_research", True, "letter", DAY)
    row = record(maija, kind, True, "dsr_case", DAY, reference="DSR-1")
    for purpose in flags.PURPOSES:
        answer = decide(MAIJA, purpose, DAY)
        assert (answer.allowed, answer.reason, answer.flag) == (False, reason, row), purpose
    record(maija, kind, False, "dsr_case", date(2026, 9, 1), reference="DSR-1")
    assert decide(MAIJA, "email_marketing", date(2026, 9, 1)).reason == "consented"


def test_a_restriction_is_answered_before_an_objection(world) -> None:
    record(world.customer, "objection", True, "letter", DAY)
    record(world.customer, "restriction", True, "letter", DAY)
    assert decide(MAIJA, "research", DAY).reason == "restricted"


def test_a_secret_number_is_never_contacted(world) -> None:
    customer = _customer("200002", (SECRET, True), ("+358505556666", False))
    record(customer, "consent_sms_marketing", True, "web_form", DAY)
    record(customer, "consent_email_marketing", True, "web_form", DAY)
    for purpose in flags.PURPOSES:
        answer = decide(SECRET, purpose, DAY)
        assert (answer.allowed, answer.reason) == (False, "secret_number"), purpose
        assert answer.customer_id == customer.id
    assert decide("+358505556666", "sms_marketing", DAY).reason == "consented"
    record(customer, "ban_genealogy", True, "letter", DAY)
    assert decide(SECRET, "genealogy", DAY).reason == "banned"  # the earlier rule says why


def test_an_unknown_number_has_banned_nothing_and_consented_to_nothing(world) -> None:
    for purpose in flags.PURPOSES:
        answer = decide(UNKNOWN, purpose, DAY)
        expected = (False, "no_consent") if purpose in CONSENT_BASED else (True, "unknown_number")
        assert (answer.allowed, answer.reason) == expected, purpose
        assert not answer.customer_known and answer.customer_id is None and answer.flag is None


def test_a_shared_number_may_be_contacted_only_when_every_holder_allows_it(world) -> None:
    other = _customer("200003", (MAIJA, False))
    assert decide(MAIJA, "telemarketing", DAY).allowed
    ban = record(other, "ban_telemarketing", True, "letter", DAY)
    answer = decide(MAIJA, "telemarketing", DAY)
    assert (answer.allowed, answer.reason, answer.flag, answer.customer_id) == (
        False,
        "banned",
        ban,
        other.id,
    )
    record(world.customer, "restriction", True, "letter", DAY)
    assert decide(MAIJA, "telemarketing", DAY).customer_id == world.customer.id


def test_many_numbers_are_decided_in_a_few_queries(app, world) -> None:
    customers = [Customer(customer_number=f"3{i:05}", name=f"Asiakas {i}") for i in range(1200)]
    for i, customer in enumerate(customers):
        customer.phones = [CustomerPhone(phone_e164=f"+35840{i:07}")]
    db.session.add_all(customers)
    db.session.commit()
    for customer in customers[::3]:
        record(customer, "ban_research", True, "letter", DAY)
    numbers = [f"+35840{i:07}" for i in range(1200)] + [UNKNOWN]
    statements = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        answers = decide_many(numbers, "research", DAY)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 3 * 2  # numbers and flags, each a query per 500
    refused = {phone for phone, answer in answers.items() if not answer.allowed}
    assert refused == {f"+35840{i:07}" for i in range(0, 1200, 3)}
    assert answers[UNKNOWN].reason == "unknown_number"
    assert answers["+358400000001"] == decide("+358400000001", "research", DAY)


def test_an_unknown_purpose_is_refused(world) -> None:
    with pytest.raises(ValueError, match="no purpose 'spam'; the purposes are direct_marketing"):
        decide(MAIJA, "spam", DAY)
