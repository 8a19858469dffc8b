"""`tallenne customers load FILE`: customers from a billing system's CSV, loaded whole or not
at all, idempotent, and the calls from their numbers linked to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import audit_rows
from webapp.extensions import db
from webapp.models import Call, Customer

HEADER = "customer_number,name,phones,email,language,contact_person,secret_phones\n"
GOOD = (
    HEADER
    + '200001,Eero Esimerkki,"040 987 6543; +358 9 123 4567",eero@example.invalid,fi,,\n'
    + "200002,Asunto Oy Rantala,09-765 4321,isannoitsija@example.invalid,SV,Kari Isännöitsijä,"
    + "050 111 2222\n"
)


def _write(tmp_path: Path, text: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(runner, path: Path, *extra: str):
    return runner.invoke(args=["customers", "load", str(path), *extra])


def _customers() -> dict[str, tuple]:
    """Every customer as a comparable tuple, by customer number."""
    db.session.expire_all()
    return {
        c.customer_number: (
            c.name,
            c.email,
            c.language,
            c.contact_person,
            sorted((p.phone_e164, p.secret) for p in c.phones),
        )
        for c in db.session.scalars(sa.select(Customer))
    }


def test_a_file_is_loaded_and_loading_it_again_changes_nothing(runner, world, tmp_path) -> None:
    path = _write(tmp_path, GOOD)
    result = _load(runner, path)
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged, 0 rejected" in result.stdout
    customers = _customers()
    assert customers["200001"] == (
        "Eero Esimerkki",
        "eero@example.invalid",
        "fi",
        None,
        [("+358409876543", False), ("+35891234567", False)],
    )
    assert customers["200002"] == (
        "Asunto Oy Rantala",
        "isannoitsija@example.invalid",
        "sv",
        "Kari Isännöitsijä",
        [("+358501112222", True), ("+35897654321", False)],
    )
    assert customers["100001"][0] == "Maija Meikäläinen"  # not in the file: left as it was

    again = _load(runner, path)
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 2 unchanged, 0 rejected; 0 calls linked" in again.stdout
    assert _customers() == customers
    events = audit_rows(action="customers.load")
    assert [json.loads(e.detail) for e in events] == [
        {
            "rows": 2,
            "rejected": 0,
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "linked_calls": 5,
        },
        {
            "rows": 2,
            "rejected": 0,
            "created": 0,
            "updated": 0,
            "unchanged": 2,
            "linked_calls": 0,
        },
    ]
    assert all(e.outcome == "allowed" and e.actor_name.startswith("cli:") for e in events)
    assert "Eero" not in str(events) and "9876543" not in str(events)


def test_a_changed_row_updates_its_customer_and_replaces_the_numbers(
    runner, world, tmp_path
) -> None:
    assert _load(runner, _write(tmp_path, GOOD)).exit_code == 0
    changed = (
        "name,customer_number,email,phones,contact_person,language,secret_phones\n"
        "Eero Esimerkki,200001,,+358 9 123 4567,,en,040 987 6543\n"
        "Asunto Oy Rantala,200002,isannoitsija@example.invalid,09-765 4321,Kari Isännöitsijä,"
        "sv,050 111 2222\n"
    )
    result = _load(runner, _write(tmp_path, changed, "changed.csv"))
    assert result.exit_code == 0, result.output
    assert "0 created, 1 updated, 1 unchanged, 0 rejected" in result.stdout
    assert _customers()["200001"] == (
        "Eero Esimerkki",
        None,
        "en",
        None,
        [("+358409876543", True), ("+35891234567", False)],
    )
    fewer = HEADER + "200001,Eero Esimerkki,,,en,,\n100001,Maija Meikäläinen,0401234567,,sv,,\n"
    assert "2 updated" in _load(runner, _write(tmp_path, fewer, "fewer.csv")).stdout
    assert _customers()["200001"][4] == []
    assert world.customer.language == "sv"  # what the caller held is still its own


def test_calls_are_linked_to_the_customer_whose_number_they_came_from(
    runner, world, tmp_path
) -> None:
    eero_call = world.calls["eero"]  # from +358409876543, no customer yet
    secret_call = world.add_call("from_secret", "aino", phone="+358501112222")
    shared = world.add_call("shared", "aino", phone="+35897654321")
    text = GOOD + "200003,Toinen Asukas,09 765 4321,,fi,,\n"  # the same landline as 200002
    result = _load(runner, _write(tmp_path, text))
    assert result.exit_code == 0, result.output
    # Eero's call, and the four from Maija's number that the world left without a customer.
    assert "5 calls linked to their customer" in result.stdout
    db.session.expire_all()
    eero = db.session.scalar(sa.select(Customer).where(Customer.customer_number == "200001"))
    assert db.session.get(Call, eero_call.id).customer_id == eero.id
    assert db.session.get(Call, world.calls["sanna"].id).customer_id == world.customer.id
    # A secret number links nothing, and neither does a number two customers share.
    assert db.session.get(Call, secret_call.id).customer_id is None
    assert db.session.get(Call, shared.id).customer_id is None
    # A call linked before stays with its customer.
    linked = db.session.scalars(sa.select(Call.id).where(Call.customer_id == world.customer.id))
    assert len(list(linked)) == 6


BROKEN = (
    HEADER
    + "200001,Eero Esimerkki,040 987 6543,eero@example.invalid,fi,,\n"
    + ",Nimetön,,,fi,,\n"
    + "200004,,040 555 6666,,fi,,\n"
    + "200005,Väärä Numero,12ab; 040 555 7777,,fi,,\n"
    + "200006,Kieli Väärin,,,de,,\n"
    + "200007,Posti Väärin,,ei-osoite,fi,,\n"
    + "200008,Liikaa,,,fi,,,extra\n"
    + "200001,Toinen Eero,,,fi,,\n"
    + "100001,Maija Muutettu,,,sv,,abc\n"
)


def test_broken_rows_are_named_by_line_and_nothing_is_loaded(runner, world, tmp_path) -> None:
    before = _customers()
    result = _load(runner, _write(tmp_path, BROKEN))
    assert result.exit_code == 1
    for says in [
        "line 3: customer_number is missing",
        "line 4: name is missing",
        "line 5: phones: '12ab' is not a phone number",
        "line 6: language 'de' is not one of fi, sv, en",
        "line 7: email 'ei-osoite' is not an e-mail address",
        "line 8: 8 fields, not 7",
        "line 9: customer number 200001 is also on line 2",
        "line 10: secret_phones: 'abc' is not a phone number",
        "8 rejected: nothing was loaded",
    ]:
        assert says in result.output
    assert "line 2:" not in result.output
    assert _customers() == before
    event = audit_rows(action="customers.load")[-1]
    assert event.outcome == "failed"
    assert json.loads(event.detail) == {"rows": 9, "rejected": 8, "loaded": 0}


def test_skip_bad_loads_the_good_rows_and_still_says_so(runner, world, tmp_path) -> None:
    result = _load(runner, _write(tmp_path, BROKEN), "--skip-bad")
    assert result.exit_code == 1
    assert "1 created, 0 updated, 0 unchanged, 8 rejected" in result.stdout
    customers = _customers()
    assert customers["200001"][0] == "Eero Esimerkki"
    assert customers["100001"][0] == "Maija Meikäläinen" and "200004" not in customers
    assert audit_rows(action="customers.load")[-1].outcome == "failed"


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "the first line must be the header"),
        ("customer_number,name,phones,email,language\n1,A,,,fi\n", "missing: contact_person"),
        (HEADER.replace("secret_phones", "secret_phone"), "unknown: secret_phone"),
        (HEADER + '1,"A,,,fi,,\n', "broken CSV"),
    ],
)
def test_a_file_that_cannot_be_read_loads_nothing(runner, world, tmp_path, text, says) -> None:
    before = _customers()
    result = _load(runner, _write(tmp_path, text))
    assert result.exit_code == 1 and says in result.output, result.output
    assert "nothing was loaded" in result.output
    assert _customers() == before


def test_a_file_not_in_utf8_is_refused(runner, world, tmp_path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "1,Äijä,,,fi,,\n").encode("latin-1"))
    result = _load(runner, path)
    assert result.exit_code == 1 and "not UTF-8" in result.output
