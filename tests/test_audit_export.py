"""`tallenne audit export`: the chosen days in the app's time zone, CSV that a spreadsheet will
not execute, an end marker that shows a cut-short file, and the export itself audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

import audit
from audit.export import safe_cell
from tests.support import audit_rows
from webapp.extensions import db

# Helsinki is UTC+3 in June: 20:59 UTC is still 1 June there, 21:00 UTC is 2 June.
LATE_ON_THE_FIRST = datetime(2026, 6, 1, 20, 59, 59, tzinfo=UTC)
EARLY_ON_THE_SECOND = datetime(2026, 6, 1, 21, 0, tzinfo=UTC)
HOSTILE = {
    "actor_name": '=HYPERLINK("http://evil.example")',
    "case_ref": "+358401234567",
    "purpose": "-2+3",
    "object_id": "@SUM(A1)",
    "client_addr": "\t10.0.0.1",
    "request_id": "\rx",
}


@pytest.fixture
def days(app) -> None:
    key = app.config["AUDIT_KEY"]
    for when, extra in [
        (datetime(2026, 5, 31, 20, 59, tzinfo=UTC), {}),  # 31 May in Helsinki
        (LATE_ON_THE_FIRST, HOSTILE),
        (EARLY_ON_THE_SECOND, {"actor_name": "aino"}),
    ]:
        event = audit.Event("call.play", audit.Outcome.ALLOWED, occurred_at=when, **extra)
        audit.append(db.session.connection(), event, key)
        db.session.commit()


def _export(runner, *args: str):
    return runner.invoke(args=["audit", "export", *args])


def test_csv_holds_the_days_asked_for_safe_cells_and_an_end_marker(runner, days) -> None:
    result = _export(runner, "--since", "2026-06-01", "--until", "2026-06-01", "--format", "csv")
    assert result.exit_code == 0, result.output
    text = result.stdout_bytes.decode()  # .stdout would turn CRLF into LF
    assert text.endswith("\r\n#END rows=1\r\n")
    header, row = list(csv.reader(io.StringIO(text)))[:2]
    cells = dict(zip(header, row, strict=True))
    assert cells["occurred_at"] == LATE_ON_THE_FIRST.isoformat()
    for column, value in HOSTILE.items():
        assert cells[column] == "'" + value
    assert cells["action"] == "call.play"  # plain cells are left alone


def test_jsonl_covers_both_days_inclusive_and_ends_with_the_count(runner, days) -> None:
    result = _export(runner, "--since", "2026-06-01", "--until", "2026-06-02")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("actor_name") for r in lines[:-1]] == [HOSTILE["actor_name"], "aino"]
    assert lines[-1] == {"end": True, "rows": 2}
    # JSON needs no formula guard: values are exported as they are, chain included.
    assert lines[0]["case_ref"] == HOSTILE["case_ref"] and len(lines[0]["chain"]) == 64


def test_the_export_is_audited_started_and_completed(runner, days, tmp_path) -> None:
    target = tmp_path / "trail.csv"
    result = _export(
        runner,
        "--since",
        "2026-06-01",
        "--until",
        "2026-06-02",
        "--format",
        "csv",
        "--output",
        str(target),
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes().endswith(b"#END rows=2\r\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    started, completed = audit_rows(object_type="audit_trail")
    assert (started.action, completed.action) == ("audit.export", "audit.export.completed")
    assert started.actor_name.startswith("cli:")
    assert json.loads(started.detail) == {
        "since": "2026-06-01",
        "until": "2026-06-02",
        "format": "csv",
    }
    assert json.loads(completed.detail)["rows"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "2026-06-02", "--until", "2026-06-01"],
        ["--since", "1.6.2026", "--until", "2026-06-01"],
        ["--since", "2026-06-01", "--until", "2026-06-01", "--format", "xlsx"],
        ["--since", "2026-06-01"],
    ],
)
def test_bad_input_is_wrong_usage_and_exports_nothing(runner, days, args) -> None:
    result = _export(runner, *args)
    assert result.exit_code == 2
    assert "Error" in result.output
    assert audit_rows(object_type="audit_trail") == []


@pytest.mark.parametrize("value", ["=1+1", "+358401234567", "-1", "@A1", "\tx", "\rx", "\0x"])
def test_every_formula_start_is_neutralized(value: str) -> None:
    # NUL cannot reach PostgreSQL text at all, so this is checked on the cell itself.
    assert safe_cell(value) == "'" + value


def test_plain_cells_and_empty_values_are_left_alone() -> None:
    assert [safe_cell(v) for v in ("aino", 42, None, "a=b")] == ["aino", "42", "", "a=b"]
