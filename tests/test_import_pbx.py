"""Real phone systems' layouts and legs, as Asterisk and FreePBX write them (cdr_csv.c's
column orders, FreePBX's export order and naming, Excel's re-save), through
`tallenne import asterisk`."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import sqlalchemy as sa

from tests.support import require
from tests.test_import_asterisk import AGENTS, _freepbx_row, _record, _uid, _write_csv
from webapp.extensions import db
from webapp.importers.records import CDR_CSV_BASE, FREEPBX_CSV
from webapp.models import Call


def _load_agents(runner, tmp_path: Path) -> None:
    (tmp_path / "agents.csv").write_text(AGENTS)
    assert runner.invoke(args=["agents", "load", str(tmp_path / "agents.csv")]).exit_code == 0


def _calls() -> list[Call]:
    query = sa.select(Call).where(Call.external_id.like("asterisk:%")).order_by(Call.started_at)
    return list(db.session.scalars(query))


def _run(runner, cdr: Path, monitor: Path, *extra: str):
    return runner.invoke(
        args=["import", "asterisk", "--cdr", str(cdr), "--recordings", str(monitor), *extra]
    )


def _cdr_csv(
    at: str,
    uid: str,
    *,
    src="0401234567",
    dst="600",
    dstchannel="PJSIP/201-1",
    billsec="60",
    disposition="ANSWERED",
    channel="PJSIP/trunk-1",
    userfield=None,
):
    row = dict.fromkeys(CDR_CSV_BASE, "")
    row.update(
        src=src,
        dst=dst,
        dcontext="from-pstn",
        channel=channel,
        dstchannel=dstchannel,
        start=at,
        duration="65",
        billsec=billsec,
        disposition=disposition,
        amaflags="DOCUMENTATION",
    )
    fields = [row[n] for n in CDR_CSV_BASE] + [uid]
    return fields + ([userfield] if userfield is not None else [])


def test_a_17_column_file_is_refused_naming_both_readings(runner, world, tmp_path) -> None:
    at = "2026-11-30 10:00:00"
    cdr = _write_csv(tmp_path / "Master.csv", [_cdr_csv(at, "campaign-a")])
    result = _run(runner, cdr, tmp_path)
    assert result.exit_code == 1 and "loguniqueid=yes" in result.output
    assert "--columns accountcode,src" in result.output and _calls() == []
    columns = ",".join((*CDR_CSV_BASE, "userfield"))
    named = _run(runner, cdr, tmp_path, "--columns", columns)
    assert "no recording found" in named.output and "loguniqueid=yes" in named.output


def test_times_in_utc_are_named_not_shifted(runner, world, tmp_path) -> None:
    """usegmtime=yes: the times are two hours behind Helsinki's, the uniqueids say so."""
    _load_agents(runner, tmp_path)
    monitor, rows = tmp_path / "monitor", []
    for seq in (1, 2):
        uid = _uid("2026-11-30 10:00:00", seq)
        _record(monitor, "2026-11-30 10:00:00", f"in-600-0401234567-20261130-100000-{uid}.wav")
        rows.append(_cdr_csv("2026-11-30 08:00:00", uid, userfield=""))
    cdr = _write_csv(tmp_path / "Master.csv", rows)
    wrong = _run(runner, cdr, monitor)
    assert wrong.exit_code == 1 and "--timezone UTC" in wrong.output and _calls() == []
    right = _run(runner, cdr, monitor, "--timezone", "UTC")
    assert right.exit_code == 0, right.output
    assert [c.started_at.hour for c in _calls()] == [8, 8]


def test_a_transfer_keeps_both_agents_parts(runner, world, tmp_path) -> None:
    """Aino (201) answers and transfers to Sanna (202); each leg wrote its own recording."""
    (tmp_path / "agents.csv").write_text(
        "extension,username,valid_from,valid_to\n201,aino,2026-01-01,\n202,sanna,2026-01-01,\n"
    )
    runner.invoke(args=["agents", "load", str(tmp_path / "agents.csv")])
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid = _uid(at, 5)
    first, second = (f"q-600-0401234567-20261130-1000{s}-{uid}.wav" for s in ("00", "30"))
    _record(monitor, at, first, 1.0)
    _record(monitor, at, second, 3.0)
    common = {"src": "0401234567", "dst": "600", "uniqueid": uid, "linkedid": uid}
    rows = [
        _freepbx_row(
            calldate="2026-11-30 10:00:30",
            dstchannel="PJSIP/202-2",
            duration="300",
            billsec="290",
            disposition="ANSWERED",
            recordingfile=second,
            **common,
        ),
        _freepbx_row(
            calldate=at,
            dstchannel="PJSIP/201-1",
            duration="30",
            billsec="25",
            disposition="ANSWERED",
            recordingfile=first,
            **common,
        ),
    ]  # newest first, as FreePBX's export downloads
    cdr = _write_csv(tmp_path / "cdr.csv", rows, header=list(FREEPBX_CSV))
    result = _run(runner, cdr, monitor, "--layout", "freepbx_csv")
    assert result.exit_code == 0, result.output
    calls = _calls()
    assert [(c.agent.username, c.duration_s, c.service.code) for c in calls] == [
        ("aino", 1, "600"),
        ("sanna", 3, "600"),
    ]


def test_one_recording_across_a_transfer_is_cut_where_the_next_agent_answered(
    runner, world, tmp_path
) -> None:
    (tmp_path / "agents.csv").write_text(
        "extension,username,valid_from,valid_to\n201,aino,2026-01-01,\n202,sanna,2026-01-01,\n"
    )
    runner.invoke(args=["agents", "load", str(tmp_path / "agents.csv")])
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid = _uid(at, 6)
    _record(monitor, at, f"q-600-0401234567-20261130-100000-{uid}.wav", 10.0)
    common = {"src": "0401234567", "dst": "600", "uniqueid": uid, "linkedid": uid}
    rows = [
        _freepbx_row(
            calldate=at,
            dstchannel="PJSIP/201-1",
            duration="4",
            billsec="4",
            disposition="ANSWERED",
            **common,
        ),
        _freepbx_row(
            calldate="2026-11-30 10:00:04",
            dstchannel="PJSIP/202-2",
            duration="6",
            billsec="6",
            disposition="ANSWERED",
            **common,
        ),
    ]
    cdr = _write_csv(tmp_path / "cdr.csv", rows, header=list(FREEPBX_CSV))
    assert _run(runner, cdr, monitor, "--layout", "freepbx_csv").exit_code == 0
    assert [(c.agent.username, c.duration_s) for c in _calls()] == [("aino", 4), ("sanna", 6)]


def test_an_ivr_or_follow_me_leg_never_beats_the_agents(runner, world, tmp_path) -> None:
    _load_agents(runner, tmp_path)
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid = _uid(at, 7)
    _record(monitor, at, f"in-600-0401234567-20261130-100000-{uid}.wav", 2.0)
    common = {"src": "0401234567", "uniqueid": uid, "linkedid": uid, "disposition": "ANSWERED"}
    rows = [
        _freepbx_row(
            calldate=at,
            dst="600",
            dstchannel="Local/600@from-internal-0001;1",
            duration="100",
            billsec="100",
            **common,
        ),
        _freepbx_row(
            calldate="2026-11-30 10:00:10",
            dst="600",
            dstchannel="Local/FMPR-202@from-internal-0002;1",
            duration="90",
            billsec="80",
            **common,
        ),
    ]
    cdr = _write_csv(tmp_path / "cdr.csv", rows, header=list(FREEPBX_CSV))
    assert _run(runner, cdr, monitor, "--layout", "freepbx_csv").exit_code == 0
    assert [c.agent.username for c in _calls()] == ["sanna"]


def test_an_outside_line_prefix_is_never_stored_as_the_number(runner, world, tmp_path) -> None:
    _load_agents(runner, tmp_path)
    monitor, at = tmp_path / "monitor", "2026-11-30 12:00:00"
    uid = _uid(at, 8)
    _record(monitor, at, f"out-90501112233-202-20261130-120000-{uid}.wav")
    row = _freepbx_row(
        calldate=at,
        src="202",
        dst="90501112233",
        dcontext="from-internal",
        channel="PJSIP/202-3",
        uniqueid=uid,
        linkedid=uid,
        billsec="5",
        disposition="ANSWERED",
    )
    cdr = _write_csv(tmp_path / "cdr.csv", [row], header=list(FREEPBX_CSV))
    args = ("--layout", "freepbx_csv", "--outbound-service", "620")
    guessed = _run(runner, cdr, monitor, *args)
    assert guessed.exit_code == 1 and "--dial-prefix 9" in guessed.output and _calls() == []
    result = _run(runner, cdr, monitor, *args, "--dial-prefix", "9")
    assert result.exit_code == 0, result.output
    (call,) = _calls()
    assert (call.direction, call.phone_e164, call.agent.username) == (
        "out",
        "+358501112233",
        "sanna",
    )


def test_an_anonymous_caller_with_digits_is_secret(runner, world, tmp_path) -> None:
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    rows = []
    for seq, clid in ((9, '"Anonymous" <+358401234567>'), (10, '"RESTRICTED" <0401234567>')):
        uid = _uid(at, seq)
        _record(monitor, at, f"in-600-0401234567-20261130-100000-{uid}.wav")
        rows.append(
            _freepbx_row(
                calldate=at,
                clid=clid,
                src="0401234567",
                dst="600",
                uniqueid=uid,
                linkedid=uid,
                dstchannel="PJSIP/201-1",
                billsec="5",
                disposition="ANSWERED",
            )
        )
    cdr = _write_csv(tmp_path / "cdr.csv", rows, header=list(FREEPBX_CSV))
    assert _run(runner, cdr, monitor, "--layout", "freepbx_csv").exit_code == 0
    assert [(c.phone_secret, c.phone_e164) for c in _calls()] == [(True, None), (True, None)]


def test_a_recording_no_record_names_is_listed_without_its_numbers(runner, world, tmp_path):
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid, stray = _uid(at, 11), _uid("2026-11-30 10:00:20", 12)
    _record(monitor, at, f"in-600-0401234567-20261130-100000-{uid}.wav")
    _record(monitor, at, f"in-600-0409876543-20261130-100020-{stray}.wav")
    for path in monitor.rglob("*.wav"):  # written a while ago: not a call still in progress
        os.utime(path, (path.stat().st_atime - 120, path.stat().st_mtime - 120))
    row = _freepbx_row(
        calldate=at,
        src="0401234567",
        dst="600",
        uniqueid=uid,
        linkedid=uid,
        dstchannel="PJSIP/201-1",
        duration="60",
        billsec="55",
        disposition="ANSWERED",
    )
    cdr = _write_csv(tmp_path / "cdr.csv", [row], header=list(FREEPBX_CSV))
    result = _run(runner, cdr, monitor, "--layout", "freepbx_csv")
    assert result.exit_code == 1 and len(_calls()) == 1
    assert f"in-…-20261130-100020-{stray}.wav: no call record names it" in result.output
    assert "0409876543" not in result.output


def test_an_excel_resave_in_finnish_settings_is_read(runner, world, tmp_path) -> None:
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid = _uid(at, 13)
    _record(monitor, at, f"in-600-0401234567-20261130-100000-{uid}.wav")
    row = _freepbx_row(
        calldate="30.11.2026 10:00",
        clid='"Äijälä" <0401234567>',
        src="0401234567",
        dst="600",
        uniqueid=uid,
        linkedid=uid,
        dstchannel="PJSIP/201-1",
        billsec="5",
        disposition="ANSWERED",
    )
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([FREEPBX_CSV, row])
    (tmp_path / "cdr.csv").write_bytes(out.getvalue().encode("cp1252"))
    result = _run(runner, tmp_path / "cdr.csv", monitor, "--layout", "freepbx_csv")
    assert result.exit_code == 0, result.output
    assert "semicolon-separated Windows-1252" in result.output and len(_calls()) == 1


def test_without_uniqueids_freepbx_names_are_found_by_time_and_numbers(runner, world, tmp_path):
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    _record(monitor, at, f"in-600-0401234567-20261130-100002-{_uid(at, 14)}.wav")
    cdr = _write_csv(tmp_path / "Master.csv", [_cdr_csv(at, "x")[:16]])
    result = _run(runner, cdr, monitor)
    assert result.exit_code == 0, result.output
    assert "loguniqueid=yes" in result.output and len(_calls()) == 1


def test_a_columns_list_under_which_no_row_makes_sense_is_refused(runner, world, tmp_path):
    at = "2026-11-30 10:00:00"
    cdr = _write_csv(tmp_path / "Master.csv", [_cdr_csv(at, _uid(at, 1), userfield="")])
    wrong = ",".join(reversed((*CDR_CSV_BASE, "uniqueid", "userfield")))
    result = _run(runner, cdr, tmp_path, "--layout", "cdr_custom", "--columns", wrong)
    assert result.exit_code == 1 and "not in the file's order" in result.output


def test_a_second_run_waits_for_the_first(runner, world, tmp_path, app) -> None:
    from webapp.importers import runs

    cdr = _write_csv(
        tmp_path / "Master.csv", [_cdr_csv("2026-11-30 10:00:00", "1.1", userfield="")]
    )
    with runs.exclusive():
        result = _run(runner, cdr, tmp_path)
    assert result.exit_code == 1 and "another import is running" in result.output


def test_the_queue_log_says_who_took_the_call_on_a_hot_desk(runner, world, tmp_path) -> None:
    """Aino and Sanna share extension 201 on the same day, logged in by member name; the
    mapping would give both calls to Eero, the queue_log gives each to who took it."""
    _load_agents(runner, tmp_path)
    monitor, rows, log = tmp_path / "monitor", [], []
    for seq, (at, member) in enumerate(
        (("2026-11-30 09:00:00", "aino"), ("2026-11-30 13:00:00", "Sanna")), start=20
    ):
        uid = _uid(at, seq)
        _record(
            monitor,
            at,
            f"q-600-0401234567-{at[:10].replace('-', '')}-{at[11:].replace(':', '')}-{uid}.wav",
        )
        rows.append(
            _freepbx_row(
                calldate=at,
                src="0401234567",
                dst="600",
                uniqueid=uid,
                linkedid=uid,
                dstchannel="Local/201@from-queue-0001;1",
                duration="70",
                billsec="60",
                disposition="ANSWERED",
            )
        )
        epoch = int(uid.split(".")[0])
        log += [
            f"{epoch}|{uid}|600|NONE|ENTERQUEUE||0401234567|1",
            f"{epoch + 10}|{uid}|600|{member}|CONNECT|10|{uid}9|3",
            f"{epoch + 70}|{uid}|600|{member}|COMPLETECALLER|10|60|1",
        ]
    (tmp_path / "queue_log").write_text("\n".join(log) + "\n")
    cdr = _write_csv(tmp_path / "cdr.csv", rows, header=list(FREEPBX_CSV))
    args = ("--layout", "freepbx_csv")
    assert (
        _run(runner, cdr, monitor, *args, "--queue-log", str(tmp_path / "queue_log")).exit_code == 0
    )
    assert [c.agent.username for c in _calls()] == ["aino", "sanna"]


def test_freepbx_database_is_read_with_a_read_only_account_from_where_the_last_run_ended(
    runner, world, tmp_path, monkeypatch
) -> None:
    from tests import mariadb

    mariadb_missing = mariadb.unavailable()
    require(mariadb_missing is None, mariadb_missing or "")
    _load_agents(runner, tmp_path)
    monitor = tmp_path / "monitor"
    with mariadb.freepbx_database() as (url, password, root, dbname):
        monkeypatch.setenv("TALLENNE_CDR_PASSWORD", password)

        def add(at: str, seq: int) -> str:
            uid = _uid(at, seq)
            name = (
                f"in-600-0401234567-{at[:10].replace('-', '')}-{at[11:].replace(':', '')}-{uid}.wav"
            )
            _record(monitor, at, name)
            with root.begin() as conn:
                conn.execute(
                    sa.text(
                        f"INSERT INTO `{dbname}`.cdr (calldate, clid, src, dst, dcontext, channel,"
                        " dstchannel, lastapp, lastdata, duration, billsec, disposition, amaflags,"
                        " accountcode, uniqueid, userfield, did, recordingfile, linkedid, sequence)"
                        " VALUES (:at, '\"\" <0401234567>', '0401234567', '600', 'from-pstn',"
                        " 'PJSIP/trunk-1', 'PJSIP/201-1', 'Dial', '', 70, 60, 'ANSWERED', 3, '',"
                        " :uid, '', '', :name, :uid, :seq)"
                    ),
                    {"at": at, "uid": uid, "name": name, "seq": seq},
                )
            return uid

        add("2026-11-30 09:00:00", 1)
        first = _run(runner, url, monitor)
        assert first.exit_code == 0, first.output
        assert password not in first.output and len(_calls()) == 1
        add("2026-11-30 15:00:00", 2)
        second = _run(runner, url, monitor)
        assert second.exit_code == 0, second.output
        assert "Imported 1 calls" in second.output
        assert [c.agent.username for c in _calls()] == ["eero", "eero"]
        monkeypatch.setenv("TALLENNE_CDR_PASSWORD", "wrong")
        refused = _run(runner, url, monitor)
        assert refused.exit_code == 1 and "denied" in refused.output.lower()


def test_cdr_custom_tab_separated_with_epoch_and_iso_times(runner, world, tmp_path) -> None:
    """The sample mapping's fields, the start as ${CDR(start,u)} (epoch) in one file and as
    ISO 8601 with its offset in another, tab-separated."""
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid = _uid(at, 30)
    _record(monitor, at, f"in-600-0401234567-20261130-100000-{uid}.wav")
    columns = "clid,src,dst,dcontext,channel,dstchannel,start,disposition,billsec,uniqueid"
    for start in (uid.split(".")[0] + ".123456", "2026-11-30T10:00:00+02:00"):
        line = [
            '"" <0401234567>',
            "0401234567",
            "600",
            "from-pstn",
            "PJSIP/trunk-1",
            "PJSIP/201-1",
            start,
            "ANSWERED",
            "60",
            uid,
        ]
        (tmp_path / "custom.tsv").write_text("\t".join(line) + "\n")
        result = _run(
            runner, tmp_path / "custom.tsv", monitor, "--layout", "cdr_custom", "--columns", columns
        )
        assert result.exit_code == 0, result.output
    (call,) = _calls()
    assert call.started_at.isoformat() == "2026-11-30T08:00:00+00:00"


def test_an_on_demand_recording_takes_its_call_from_the_record(runner, world, tmp_path) -> None:
    """*1 on an inbound call names the file ondemand-…; the call is still inbound, from the
    caller, taken by the agent of the record's leg."""
    _load_agents(runner, tmp_path)
    monitor, at = tmp_path / "monitor", "2026-11-30 10:00:00"
    uid = _uid(at, 31)
    _record(monitor, at, f"ondemand-0401234567-201-20261130-100010-{uid}.wav")
    row = _freepbx_row(
        calldate=at,
        src="0401234567",
        dst="600",
        dcontext="from-pstn",
        channel="PJSIP/trunk-1",
        dstchannel="PJSIP/201-1",
        uniqueid=uid,
        linkedid=uid,
        billsec="50",
        disposition="ANSWERED",
    )
    cdr = _write_csv(tmp_path / "cdr.csv", [row], header=list(FREEPBX_CSV))
    assert _run(runner, cdr, monitor, "--layout", "freepbx_csv").exit_code == 0
    (call,) = _calls()
    assert (call.direction, call.service.code, call.agent.username, call.phone_e164) == (
        "in",
        "600",
        "eero",
        "+358401234567",
    )


def test_a_file_of_unanswered_calls_imports_nothing_and_says_so(runner, world, tmp_path):
    at = "2026-11-30 10:00:00"
    row = _cdr_csv(at, _uid(at, 32), billsec="0", disposition="NO ANSWER", userfield="")
    result = _run(runner, _write_csv(tmp_path / "Master.csv", [row]), tmp_path)
    assert result.exit_code == 1 and "nobody answered" in result.output
