"""`tallenne retention purge`: a recording leaves exactly when its register says, unless a
legal hold keeps it; what goes, goes whole (call, data key, file), and a restored backup is
purged again."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import audit_rows
from webapp import retention
from webapp.extensions import db
from webapp.models import Call, LegalHold, RemovedRecording
from webapp.storage import storage

STARTED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def calls(world) -> dict[str, Call]:
    """Two calls on 10 January 2026: one in a 12-month register, one in a 6-month one."""
    return {
        "twelve": world.add_call("twelve", "aino", started_at=STARTED, service="vesi"),
        "six": world.add_call("six", "aino", started_at=STARTED, service="myynti"),
    }


def _purge(runner, day: str, *extra: str):
    result = runner.invoke(args=["retention", "purge", "--as-of", day, *extra])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result


def _there(call_id: int) -> bool:
    return db.session.get(Call, call_id) is not None


def test_each_register_keeps_its_calls_exactly_its_period(runner, calls) -> None:
    twelve, six = calls["twelve"], calls["six"]
    assert retention.expires_at(six) == datetime(2026, 7, 10, 9, 0, tzinfo=UTC)
    assert retention.expires_at(twelve) == datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    files = {c.id: storage().files.path(c.recording_key) for c in (twelve, six)}
    _purge(runner, "2026-07-09")  # the day before the 6-month expiry
    assert _there(six.id) and _there(twelve.id)
    dry = _purge(runner, "2026-07-11", "--dry-run")
    assert "Would remove 1 expired" in dry.output and _there(six.id)
    done = _purge(runner, "2026-07-11")  # the day after
    assert "Removed 1 expired recordings" in done.output
    assert not _there(six.id) and not files[six.id].exists()
    assert _there(twelve.id) and files[twelve.id].exists()
    before = db.session.scalar(sa.select(sa.func.count(Call.id)))
    _purge(runner, "2027-01-11")
    assert not _there(twelve.id) and not files[twelve.id].exists()
    gone = before - db.session.scalar(sa.select(sa.func.count(Call.id)))
    event = audit_rows(action="retention.purge")[-1]
    assert json.loads(event.detail) == {"removed": gone, "held": 0, "as_of": "2027-01-11"}
    removed = set(db.session.scalars(sa.select(RemovedRecording.call_id)))
    assert {six.id, twelve.id} <= removed
    assert "+358" not in " ".join(str(v) for r in audit_rows() for v in r if v)


def test_a_hold_keeps_a_call_until_it_ends(runner, world, calls) -> None:
    six = calls["six"]
    db.session.add(
        LegalHold(call_id=six.id, reason="complaint", case_ref="REK-1", until=date(2026, 9, 30))
    )
    db.session.commit()
    result = _purge(runner, "2026-08-01")
    assert "1 kept by legal holds" in result.output and _there(six.id)
    _purge(runner, "2026-09-30")  # the hold's last day
    assert _there(six.id)
    _purge(runner, "2026-10-01")
    assert not _there(six.id)


def test_a_holds_last_day_is_a_finnish_day(world, calls, login_as, monkeypatch) -> None:
    """A hold until 30 September keeps its call through 23:59 on that day in Finland, and no
    longer: at 00:30 on 1 October in Helsinki (21:30 UTC on the 30th) the purge and the call
    page both see it ended (the call page, /admin and the policy ask flags.today())."""
    from webapp.customers import flags

    six = calls["six"]
    db.session.add(
        LegalHold(call_id=six.id, reason="complaint", case_ref="REK-1", until=date(2026, 9, 30))
    )
    db.session.commit()
    last_minute = datetime(2026, 9, 30, 20, 59, tzinfo=UTC)  # 23:59 in Helsinki (UTC+3)
    after_midnight = datetime(2026, 9, 30, 21, 30, tzinfo=UTC)  # 00:30 on 1 October
    assert six.id not in retention.plan(last_minute)[0]
    assert six.id in retention.plan(after_midnight)[0]
    aino = login_as("aino")
    for moment, held in ((last_minute, True), (after_midnight, False)):
        monkeypatch.setattr(flags, "today", lambda m=moment: flags.day_in_finland(m))
        page = aino.get(f"/calls/{six.id}", headers={"Accept-Language": "en"}).text
        assert ("a legal hold keeps it until September 30, 2026" in page) is held


def test_a_hold_on_a_customer_keeps_all_their_calls_and_lifting_it_lets_them_go(
    runner, world, calls
) -> None:
    mine = world.add_call(
        "held", "eero", started_at=STARTED, service="myynti", customer=world.customer
    )
    hold = LegalHold(
        customer_id=world.customer.id, reason="dispute", case_ref="RIITA-7", until=date(2030, 1, 1)
    )
    db.session.add(hold)
    db.session.commit()
    _purge(runner, "2026-08-01")
    assert _there(mine.id) and not _there(calls["six"].id)
    hold.lifted_at = datetime(2026, 8, 2, tzinfo=UTC)
    db.session.commit()
    _purge(runner, "2026-08-03")
    assert not _there(mine.id)


def test_after_a_purge_the_audio_opens_nowhere(app, runner, calls, tmp_path: Path) -> None:
    six = calls["six"]
    copy = tmp_path / "backup-of-storage"
    shutil.copytree(app.config["STORAGE_DIR"], copy)  # a storage backup from before
    wrapped = six.recording_sealed_key
    _purge(runner, "2026-07-11")
    assert not storage().files.path(six.recording_key).exists()
    assert (copy / six.recording_key).exists()  # the copy is there, but its key is not:
    with db.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                assert all(wrapped != v for v in row), table


def test_a_purge_stopped_halfway_finishes_when_run_again(runner, world, monkeypatch) -> None:
    made = [
        world.add_call(f"old{i}", "aino", started_at=STARTED, service="myynti") for i in range(5)
    ]
    original, deleted = storage().files.delete, []

    def failing(name: str) -> None:
        if len(deleted) == 2:
            raise OSError("disk went away")
        deleted.append(name)
        original(name)

    monkeypatch.setattr(storage().files, "delete", failing)
    with pytest.raises(OSError):
        retention.remove(retention.plan(datetime(2026, 8, 1, tzinfo=UTC))[0])
    monkeypatch.setattr(storage().files, "delete", original)
    db.session.rollback()
    _purge(runner, "2026-08-01")
    assert not any(_there(c.id) for c in made)
    check = runner.invoke(args=["storage", "check", "--repair", "--grace-minutes", "0"])
    again = runner.invoke(args=["storage", "check", "--grace-minutes", "0"])
    assert again.exit_code == 0, (check.output, again.output)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_restored_backup_is_purged_again(app, runner, calls, tmp_path: Path) -> None:
    database = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    db.session.commit()
    db.engine.dispose()
    with app.app_context():
        from webapp.extensions import db as served

        served.engine.dispose()
    shutil.copy(database, tmp_path / "backup.db")  # the database as it was before
    _purge(runner, "2026-07-11")
    assert not _there(calls["six"].id)
    db.session.close()
    db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.db", database)  # restored: the call is back, and its key
    assert _there(calls["six"].id)
    _purge(runner, "2026-07-11")  # its expiry brings it into the next purge again
    assert not _there(calls["six"].id)


def test_a_call_removed_once_is_removed_again_whenever_it_comes_back(world, calls) -> None:
    """Not expired, but removed before (an erasure, say) and brought back by a restore: the
    record of its removal, which holds no personal data, sends it out again."""
    twelve = calls["twelve"]
    db.session.add(
        RemovedRecording(call_id=twelve.id, recording_key=twelve.recording_key, reason="erasure")
    )
    db.session.commit()
    doomed, _held = retention.plan(datetime(2026, 2, 1, tzinfo=UTC))
    assert twelve.id in doomed and calls["six"].id not in doomed


def test_the_call_page_says_how_long_it_is_kept(world, calls, login_as) -> None:
    six = calls["six"]
    aino = login_as("aino")
    page = aino.get(f"/calls/{six.id}", headers={"Accept-Language": "en"}).text
    assert "Kept until" in page and "July 10, 2026" in page and "legal hold" not in page
    db.session.add(
        LegalHold(call_id=six.id, reason="complaint", case_ref="REK-1", until=date(2099, 3, 1))
    )
    db.session.commit()
    page = aino.get(f"/calls/{six.id}", headers={"Accept-Language": "en"}).text
    assert "a legal hold keeps it until March 1, 2099" in page and "REK-1" not in page


def test_an_administrator_sets_and_lifts_holds_in_admin(runner, world, calls, login_as) -> None:
    pekka = login_as("pekka")
    soon = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    done = pekka.post(
        "/admin/holds",
        data={"customer": "100001", "reason": "dispute", "case_ref": "RIITA-9", "until": later},
    )
    assert done.status_code == 302
    pekka.post(
        "/admin/holds",
        data={"call": calls["six"].id, "reason": "complaint", "case_ref": "REK-5", "until": soon},
    )
    page = pekka.get("/admin/", headers={"Accept-Language": "en"}).text
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert 'class="soon"' in rows[0] and "REK-5" in rows[0] and "ends soon" in rows[0]
    assert "all calls of customer 100001" in rows[1] and "ends soon" not in rows[1]
    set_events = audit_rows(action="hold.set")
    assert [(e.object_type, e.case_ref) for e in set_events] == [
        ("customer", "RIITA-9"),
        ("call", "REK-5"),
    ]
    assert set_events[0].customer_id == world.customer.id

    _purge(runner, "2026-07-11")
    assert _there(calls["six"].id)  # kept by its hold
    hold = db.session.scalar(sa.select(LegalHold).where(LegalHold.case_ref == "REK-5"))
    assert pekka.post(f"/admin/holds/{hold.id}/lift").status_code == 302
    assert audit_rows(action="hold.lift")[-1].case_ref == "REK-5"
    assert "REK-5" not in pekka.get("/admin/").text
    assert pekka.post(f"/admin/holds/{hold.id}/lift").status_code == 404  # lifted already
    _purge(runner, "2026-07-11")
    assert not _there(calls["six"].id)


@pytest.mark.parametrize(
    "data, says",
    [
        ({"call": "1", "customer": "100001"}, "not both"),
        ({}, "Give the call or the customer"),
        ({"call": "999999"}, "no call with this number"),
        ({"customer": "424242"}, "no customer with this number"),
        ({"customer": "100001", "until": "2020-01-01"}, "cannot be in the past"),
        ({"customer": "100001", "case_ref": ""}, "This field is required"),
    ],
)
def test_a_bad_hold_is_refused_saying_why(world, login_as, data, says) -> None:
    form = {"reason": "complaint", "case_ref": "X-1", "until": "2099-01-01", **data}
    response = login_as("pekka").post("/admin/holds", data=form, headers={"Accept-Language": "en"})
    assert response.status_code == 400 and says in response.text
    assert db.session.scalar(sa.select(sa.func.count(LegalHold.id))) == 0
    assert audit_rows(action="hold.set") == []
