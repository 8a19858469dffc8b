"""`tallenne import asterisk` and `tallenne agents load`: FreePBX's CSV export, Asterisk's
cdr_csv and cdr_custom, with the monitor folder of recordings, as the phone system writes them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.support import audit_rows, wav_bytes
from webapp.extensions import db
from webapp.importers.records import FREEPBX_CSV
from webapp.models import AgentExtension, Call

HELSINKI = ZoneInfo("Europe/Helsinki")
AGENTS = """extension,username,valid_from,valid_to
201,aino,2026-01-01,2026-11-15
201,eero,2026-11-16,
202,sanna,2026-01-01,
"""


def _uid(local: str, seq: int, fold: int = 0) -> str:
    at = datetime.strptime(local, "%Y-%m-%d %H:%M:%S").replace(tzinfo=HELSINKI, fold=fold)
    return f"{int(at.timestamp())}.{seq}"


def _freepbx_row(**fields: str) -> list[str]:
    row = dict.fromkeys(FREEPBX_CSV, "")
    row.update(fields)
    return [row[name] for name in FREEPBX_CSV]


def _write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def _record(monitor: Path, local: str, name: str, seconds: float = 1.0) -> None:
    folder = monitor / local[:10].replace("-", "/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(wav_bytes(seconds))


@pytest.fixture(params=["with header", "without header"])
def export(request, tmp_path: Path, runner, world) -> dict[str, object]:
    """A FreePBX export: a queue call whose second leg answered, at extension 201 after it
    passed from Aino to Eero; an earlier one Aino answered; a call nobody answered; an outbound
    call by Sanna; and a call whose recording is missing."""
    (tmp_path / "agents.csv").write_text(AGENTS)
    assert runner.invoke(args=["agents", "load", str(tmp_path / "agents.csv")]).exit_code == 0
    monitor = tmp_path / "monitor"
    queue_at, early_at, out_at = "2026-11-30 11:15:00", "2026-11-10 09:00:00", "2026-11-30 12:00:00"
    queue, early, missed, out, lost = (
        _uid(queue_at, 10),
        _uid(early_at, 11),
        _uid(queue_at, 12),
        _uid(out_at, 13),
        _uid(out_at, 14),
    )
    q_file = f"q-600-0401234567-20261130-111500-{queue}.wav"
    e_file = f"q-600-0407654321-20261110-090000-{early}.wav"
    o_file = f"out-0501112233-202-20261130-120000-{out}.wav"
    _record(monitor, queue_at, q_file, 2.0)
    _record(monitor, early_at, e_file)
    _record(monitor, out_at, o_file)
    common = {"calldate": queue_at, "src": "0401234567", "dst": "600", "uniqueid": queue}
    rows = [
        _freepbx_row(
            **common, linkedid=queue, dstchannel="PJSIP/202-0001", disposition="NO ANSWER"
        ),
        _freepbx_row(
            **common,
            linkedid=queue,
            dstchannel="Local/201@from-queue-0000;1",
            disposition="ANSWERED",
            recordingfile=q_file,
        ),
        _freepbx_row(
            calldate=early_at,
            src="0407654321",
            dst="600",
            uniqueid=early,
            linkedid=early,
            dstchannel="PJSIP/201-0002",
            disposition="ANSWERED",
            recordingfile=e_file,
        ),
        _freepbx_row(
            calldate=queue_at,
            src="0409999999",
            dst="600",
            uniqueid=missed,
            linkedid=missed,
            disposition="NO ANSWER",
        ),
        _freepbx_row(
            calldate=out_at,
            src="202",
            dst="0501112233",
            dcontext="from-internal",
            uniqueid=out,
            linkedid=out,
            channel="PJSIP/202-0003",
            disposition="ANSWERED",
            recordingfile=o_file,
        ),
        _freepbx_row(
            calldate=out_at,
            src="0401234567",
            dst="600",
            uniqueid=lost,
            linkedid=lost,
            dstchannel="PJSIP/202-0004",
            disposition="ANSWERED",
            recordingfile=f"q-600-0401234567-20261130-120000-{lost}.wav",
        ),
    ]
    header = FREEPBX_CSV if request.param == "with header" else None
    cdr = _write_csv(tmp_path / "cdr.csv", rows, header=header)
    return {"cdr": cdr, "monitor": monitor, "ids": (queue, early, missed, out, lost)}


def _import(runner, export, *extra: str):
    return runner.invoke(
        args=[
            "import",
            "asterisk",
            "--cdr",
            str(export["cdr"]),
            "--recordings",
            str(export["monitor"]),
            "--layout",
            "freepbx_csv",
            *extra,
        ]
    )


def _call(uid: str) -> Call | None:
    return db.session.scalar(sa.select(Call).where(Call.external_id == f"asterisk:{uid}"))


def test_a_freepbx_export_imports_each_answered_call_once(runner, world, export) -> None:
    queue, early, missed, out, lost = export["ids"]
    result = _import(runner, export, "--outbound-service", "620")
    assert result.exit_code == 1  # the call whose recording is missing
    assert "Imported 3 calls" in result.output and "rejected 1" in result.output
    assert "no recording found" in result.output

    call = _call(queue)
    assert call.started_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert (call.direction, call.service.code, call.agent.username) == ("in", "600", "eero")
    assert call.phone_e164 == "+358401234567" and call.customer_id == world.customer.id
    assert call.duration_s == 2 and call.recording_sealed_key is not None
    assert _call(early).agent.username == "aino"  # the extension was still hers then
    outbound = _call(out)
    assert (outbound.direction, outbound.service.code, outbound.agent.username) == (
        "out",
        "620",
        "sanna",
    )
    assert outbound.phone_e164 == "+358501112233"
    assert _call(missed) is None and _call(lost) is None
    event = audit_rows(action="import.asterisk")[-1]
    assert json.loads(event.detail) == {
        "records": 6,
        "unused_recordings": 0,
        "imported": 3,
        "skipped": 0,
        "rejected": 1,
    }
    assert result.output.count("line ") == 1  # the missing recording, named by its line

    again = _import(runner, export, "--outbound-service", "620")
    # The second run starts where the first ended (less its overlap): the early call is not
    # read again, the two of the last day are, and are skipped.
    assert "Imported 0 calls" in again.output and "skipped 2 already there" in again.output


def test_an_outbound_call_needs_its_service_named(runner, world, export) -> None:
    result = _import(runner, export)
    assert "--outbound-service" in result.output and _call(export["ids"][3]) is None


def test_cdr_csv_in_the_autumns_repeated_hour(runner, world, tmp_path: Path) -> None:
    """03:30 on 25 October 2026 happens twice in Helsinki; the uniqueid's epoch tells which."""
    monitor = tmp_path / "monitor"
    rows = []
    for fold, seq in ((0, 1), (1, 2)):
        uid = _uid("2026-10-25 03:30:00", seq, fold)
        _record(monitor, "2026-10-25 03:30:00", f"q-600-0401234567-20261025-033000-{uid}.wav")
        # 18 columns: loguniqueid=yes and loguserfield=yes, as the sample cdr.conf sets them;
        # recordings found by the uniqueid in their names.
        rows.append(
            [
                "",
                "0401234567",
                "600",
                "from-pstn",
                '"" <0401234567>',
                "PJSIP/trunk-1",
                "PJSIP/202-9",
                "Queue",
                "600",
                "2026-10-25 03:30:00",
                "2026-10-25 03:30:05",
                "2026-10-25 03:31:00",
                "60",
                "55",
                "ANSWERED",
                "DOCUMENTATION",
                uid,
                "",
            ]
        )
    cdr = _write_csv(tmp_path / "Master.csv", rows)
    result = runner.invoke(
        args=["import", "asterisk", "--cdr", str(cdr), "--recordings", str(monitor)]
    )
    assert result.exit_code == 0, result.output
    times = sorted(
        c.started_at
        for c in db.session.scalars(sa.select(Call).where(Call.external_id.like("asterisk:%")))
    )
    assert times == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]


def test_cdr_custom_marks_a_withheld_number_secret(runner, world, tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    columns = "clid,src,dst,dcontext,channel,dstchannel,start,disposition,uniqueid,cid_pres"
    rows = []
    for seq, pres in ((1, "prohib_passed_screen"), (2, "allowed_not_screened")):
        uid = _uid("2026-11-30 10:00:00", seq)
        _record(monitor, "2026-11-30 10:00:00", f"in-600-0401234567-20261130-100000-{uid}.wav")
        rows.append(
            [
                '"" <0401234567>',
                "0401234567",
                "600",
                "from-pstn",
                "PJSIP/trunk-1",
                "PJSIP/202-1",
                "2026-11-30 10:00:00",
                "ANSWERED",
                uid,
                pres,
            ]
        )
    cdr = _write_csv(tmp_path / "custom.csv", rows)
    result = runner.invoke(
        args=[
            "import",
            "asterisk",
            "--cdr",
            str(cdr),
            "--recordings",
            str(monitor),
            "--layout",
            "cdr_custom",
            "--columns",
            columns,
        ]
    )
    assert result.exit_code == 0, result.output
    hidden, shown = (_call(_uid("2026-11-30 10:00:00", seq)) for seq in (1, 2))
    assert hidden.phone_secret and hidden.phone_e164 is None
    assert not shown.phone_secret and shown.phone_e164 == "+358401234567"


@pytest.mark.parametrize(
    "args, says",
    [
        (["--layout", "cdr_custom"], "needs its columns"),
        (["--layout", "cdr_csv"], "cdr_csv has 16 to 21"),
        (["--timezone", "Mars/Olympus"], "no time zone"),
    ],
)
def test_a_file_that_cannot_be_read_as_asked_imports_nothing(runner, world, tmp_path, args, says):
    cdr = _write_csv(tmp_path / "cdr.csv", [["a", "b", "c"]])
    result = runner.invoke(
        args=["import", "asterisk", "--cdr", str(cdr), "--recordings", str(tmp_path), *args]
    )
    assert result.exit_code in (1, 2) and says in result.output
    assert db.session.scalar(sa.select(sa.func.count()).where(Call.external_id.is_not(None))) == 0


@pytest.mark.parametrize(
    "line, says",
    [
        ("201,nobody,2026-01-01,", "no user named 'nobody'"),
        ("201,aino,1.1.2026,", "dates are written"),
        ("201,aino,2026-02-01,2026-01-01", "before valid_from"),
        ("202,aino,2026-06-01,", "extension 202 has two agents on 2026-06-01"),
    ],
)
def test_a_bad_agent_mapping_changes_nothing(runner, world, tmp_path, line, says) -> None:
    (tmp_path / "good.csv").write_text(AGENTS)
    assert runner.invoke(args=["agents", "load", str(tmp_path / "good.csv")]).exit_code == 0
    (tmp_path / "bad.csv").write_text(AGENTS + line + "\n")
    result = runner.invoke(args=["agents", "load", str(tmp_path / "bad.csv")])
    assert result.exit_code == 1 and says in result.output and "not changed" in result.output
    assert db.session.scalar(sa.select(sa.func.count(AgentExtension.id))) == 3


def test_administrators_see_the_mapping_and_the_tokens(runner, world, tmp_path, login_as) -> None:
    (tmp_path / "agents.csv").write_text(AGENTS)
    runner.invoke(args=["agents", "load", str(tmp_path / "agents.csv")])
    token = runner.invoke(args=["tokens", "create", "pbx", "--scope", "ingest"]).stdout.split()[0]
    page = login_as("pekka").get("/admin/", headers={"Accept-Language": "en"}).text
    rows = page.split('id="extensions-title"')[1].split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 3 and "Eero (eero)" in rows and "still valid" in rows
    assert "pbx" in page and "ingest" in page and token not in page
