"""`tallenne flags check FILE --purpose P`: a campaign's list checked against customers' bans
and consents, an answer per row in the file's order, a summary, and counts in the trail."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from tests.support import audit_rows
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import Customer, CustomerPhone

DAY = date(2026, 6, 1)


@pytest.fixture
def customers(world) -> None:
    """Maija (+358401234567) has banned telemarketing; Rantala's landline is secret; Eero
    (+358409876543) has banned nothing."""
    flags.record(world.customer, "ban_telemarketing", True, "letter", date(2026, 1, 1))
    rantala = Customer(customer_number="200002", name="Asunto Oy Rantala")
    rantala.phones = [CustomerPhone(phone_e164="+35897654321", secret=True)]
    eero = Customer(customer_number="200001", name="Eero Esimerkki")
    eero.phones = [CustomerPhone(phone_e164="+358409876543")]
    db.session.add_all([rantala, eero])
    db.session.commit()


def _check(runner, tmp_path: Path, text: str, *extra: str):
    path = tmp_path / "campaign.csv"
    path.write_text(text, encoding="utf-8")
    return runner.invoke(args=["flags", "check", str(path), "--on", DAY.isoformat(), *extra])


def test_each_number_is_answered_in_the_files_order(runner, customers, tmp_path) -> None:
    text = (
        "name,phone\n"
        "Maija,040 123 4567\n"
        "Eero,+358 40 987 6543\n"
        "Rantala,09-765 4321\n"
        "Kuka,044 999 8888\n"
        "Rikki,12ab\n"
        "Tyhjä,\n"
        "Maija taas,0401234567\n"
    )
    out = tmp_path / "answers.csv"
    result = _check(runner, tmp_path, text, "--purpose", "telemarketing", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(out.read_text(encoding="utf-8")))) == [
        ["phone", "phone_e164", "allowed", "reason"],
        ["040 123 4567", "+358401234567", "false", "banned"],
        ["+358 40 987 6543", "+358409876543", "true", "no_ban"],
        ["09-765 4321", "+35897654321", "false", "secret_number"],
        ["044 999 8888", "+358449998888", "true", "unknown_number"],
        ["12ab", "", "false", "malformed"],
        ["", "", "false", "malformed"],
        ["0401234567", "+358401234567", "false", "banned"],
    ]
    summary = "2 may be contacted, 3 may not (banned 2, secret_number 1), 2 malformed."
    assert summary in result.stdout
    event = audit_rows(action="flags.check")[-1]
    assert event.outcome == "allowed" and event.actor_name.startswith("cli:")
    assert json.loads(event.detail) == {
        "purpose": "telemarketing",
        "on": "2026-06-01",
        "rows": 7,
        "allowed": 2,
        "denied": {"banned": 2, "secret_number": 1},
        "malformed": 2,
    }
    assert "1234567" not in str(event) and "Maija" not in str(event)


def test_one_column_without_a_header_goes_to_standard_output(runner, customers, tmp_path) -> None:
    result = _check(runner, tmp_path, "0401234567\n0409876543\n", "--purpose", "sms_marketing")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "phone,phone_e164,allowed,reason",
        "0401234567,+358401234567,false,no_consent",
        "0409876543,+358409876543,false,no_consent",
    ]
    assert "0 may be contacted, 2 may not (no_consent 2), 0 malformed." in result.stderr


def test_the_day_decides(runner, customers, tmp_path, world) -> None:
    flags.record(world.customer, "ban_telemarketing", False, "web_form", date(2026, 7, 1))
    out = io.StringIO(
        _check(runner, tmp_path, "phone\n0401234567\n", "--purpose", "telemarketing").stdout
    )
    assert list(csv.reader(out))[1][2:] == ["false", "banned"]
    july = runner.invoke(
        args=[
            "flags",
            "check",
            str(tmp_path / "campaign.csv"),
            "--purpose",
            "telemarketing",
            "--on",
            "2026-07-01",
        ]
    )
    assert july.stdout.splitlines()[1].endswith("true,no_ban")


def test_an_unknown_purpose_is_wrong_usage_listing_the_purposes(runner, world, tmp_path) -> None:
    result = _check(runner, tmp_path, "phone\n0401234567\n", "--purpose", "spam")
    assert result.exit_code == 2
    assert "'spam' is not one of" in result.output
    assert all(purpose in result.output for purpose in flags.PURPOSES)
    assert audit_rows(action="flags.check") == []


def test_a_list_without_a_phone_column_is_refused(runner, world, tmp_path) -> None:
    result = _check(runner, tmp_path, "name,number\nMaija,0401234567\n", "--purpose", "research")
    assert result.exit_code == 1 and "a header with a phone column" in result.output
