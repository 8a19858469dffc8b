"""Reading FreePBX's ``asteriskcdrdb.cdr`` from a real MariaDB (tests/mariadb.py), through an
account that has SELECT and nothing else, as a FreePBX administrator would make it."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests import mariadb
from tests.support import require
from webapp.importers import freepbx_db
from webapp.importers.freepbx_db import CdrDatabaseError, read

QUEUE_UID = "1772435702.16"  # 2026-03-02 09:15:02 in Helsinki
OUT_UID = "1772438400.31"  # 2026-03-02 10:00:00
QUEUE_LEG = {
    "calldate": datetime(2026, 3, 2, 9, 15, 2),
    "clid": '"Maija Mäkinen" <0401234567>',
    "src": "0401234567",
    "dst": "600",
    "dcontext": "ext-queues",
    "channel": "PJSIP/trunk-00000010",
    "lastapp": "Queue",
    "lastdata": "600,t,,,300",
    "uniqueid": QUEUE_UID,
    "linkedid": QUEUE_UID,
    "did": "0952000600",
    "cnum": "0401234567",
    "cnam": "Maija Mäkinen",
    "amaflags": 3,
}
# Inserted out of order on purpose: the reader must sort by calldate, sequence, uniqueid.
ROWS = [
    {
        **QUEUE_LEG,
        "dstchannel": "Local/202@from-queue-00000013;1",
        "disposition": "ANSWERED",
        "duration": 110,
        "billsec": 95,
        "sequence": 22,
        "recordingfile": f"q-600-0401234567-20260302-091502-{QUEUE_UID}.wav",
        "userfield": "  kept as typed  ",
    },
    {
        **QUEUE_LEG,
        "dstchannel": "Local/201@from-queue-00000011;1",
        "disposition": "NO ANSWER",
        "duration": 15,
        "sequence": 20,
    },
    {
        **QUEUE_LEG,
        "dstchannel": "Local/203@from-queue-00000012;1",
        "disposition": "NO ANSWER",
        "duration": 15,
        "sequence": 21,
    },
    {
        "calldate": datetime(2026, 3, 2, 10, 0, 0),
        "clid": '"Aino Agentti" <201>',
        "src": "201",
        "dst": "90401234567",
        "dcontext": "from-internal",
        "channel": "PJSIP/201-00000020",
        "dstchannel": "PJSIP/trunk-00000021",
        "lastapp": "Dial",
        "lastdata": "PJSIP/0401234567@trunk,300,Tb(func-apply-sipheaders^s^1)",
        "duration": 64,
        "billsec": 58,
        "disposition": "ANSWERED",
        "amaflags": 3,
        "uniqueid": OUT_UID,
        "linkedid": OUT_UID,
        "recordingfile": f"out-90401234567-201-20260302-100000-{OUT_UID}.wav",
        "cnum": "201",
        "cnam": "Aino Agentti",
        "outbound_cnum": "0952000600",
        "sequence": 31,
    },
    # around midnight: the day 2026-03-02 is [00:00:00, next 00:00:00)
    {"calldate": datetime(2026, 3, 3, 0, 0, 0), "uniqueid": "1772488800.40", "sequence": 40},
    {"calldate": datetime(2026, 3, 2, 0, 0, 0), "uniqueid": "1772402400.2", "sequence": 2},
    {"calldate": datetime(2026, 3, 1, 23, 59, 59), "uniqueid": "1772402399.1", "sequence": 1},
]
for _row in ROWS:
    _row.setdefault("disposition", "NO ANSWER")
    _row.setdefault("linkedid", _row["uniqueid"])
ORDER = [
    "1772402399.1",
    "1772402400.2",
    f"{QUEUE_UID}/20",
    f"{QUEUE_UID}/21",
    f"{QUEUE_UID}/22",
    f"{OUT_UID}/31",
    "1772488800.40",
]
# The table's 26 columns in its own order (recordingfile 18th, unlike the CSV export's 23rd)
TABLE_ORDER = [
    *("calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp"),
    *("lastdata", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid"),
    "userfield",
    "did",
    "recordingfile",
    "cnum",
    "cnam",
    "outbound_cnum",
    "outbound_cnam",
    "dst_cnam",
    "linkedid",
    "peeraccount",
    "sequence",
]


@dataclass
class Pbx:
    url: str  # the reader's, without its password
    password: str
    root: sa.Engine
    dbname: str

    def table_url(self, table: str) -> str:
        return f"{self.url}?table={table}"

    def root_url(self, database: str | None = None) -> str:
        url = mariadb.admin_url().set(drivername="mysql", database=database or self.dbname)
        return url.render_as_string(hide_password=False)


def _insert(root: sa.Engine, dbname: str, table: str, rows: list[dict]) -> None:
    with root.connect() as conn:
        for row in rows:
            target = sa.table(table, *(sa.column(c) for c in row), schema=dbname)
            conn.execute(sa.insert(target).values(**row))


@pytest.fixture(scope="session")
def pbx() -> Pbx:
    reason = mariadb.unavailable()
    require(reason is None, reason or "")
    with mariadb.freepbx_database() as (url, password, root, dbname):
        _insert(root, dbname, "cdr", ROWS)
        mariadb.create_cdr_table(root, dbname, "cdr_old", old=True)
        old = [{k: v for k, v in r.items() if k not in {"linkedid", "sequence"}} for r in ROWS]
        _insert(root, dbname, "cdr_old", old)
        mariadb.create_cel_table(root, dbname)
        with root.connect() as conn:
            conn.execute(sa.text(f"CREATE TABLE `{dbname}`.cdr_pres LIKE `{dbname}`.cdr"))
            conn.execute(
                sa.text(
                    f"ALTER TABLE `{dbname}`.cdr_pres ADD cid_pres varchar(40) NULL,"
                    " ADD tenantid varchar(80) NOT NULL DEFAULT 'x'"
                )
            )
        _insert(
            root,
            dbname,
            "cdr_pres",
            [
                {**ROWS[0], "cid_pres": "prohib_passed_screen"},
                {**ROWS[3], "cid_pres": None},
            ],
        )
        yield Pbx(url, password, root, dbname)


def _keys(rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    return [f"{r['uniqueid']}/{r['sequence']}" if r["src"] else r["uniqueid"] for _n, r in rows]


def test_reads_every_row_in_calldate_sequence_order(pbx: Pbx) -> None:
    rows = read(pbx.url, password=pbx.password)
    assert [n for n, _row in rows] == list(range(1, len(ROWS) + 1))
    assert _keys(rows) == ORDER
    assert all(set(row) == set(TABLE_ORDER) for _n, row in rows)


def test_values_come_as_the_csv_reader_gives_them(pbx: Pbx) -> None:
    rows = dict(read(pbx.url, password=pbx.password))
    answered = rows[5]
    assert answered["disposition"] == "ANSWERED"
    assert answered["calldate"] == "2026-03-02 09:15:02"
    assert (answered["duration"], answered["billsec"], answered["amaflags"]) == ("110", "95", "3")
    assert answered["sequence"] == "22"
    assert answered["userfield"] == "kept as typed"
    assert answered["cnam"] == "Maija Mäkinen"
    assert answered["dstchannel"] == "Local/202@from-queue-00000013;1"
    assert answered["recordingfile"] == f"q-600-0401234567-20260302-091502-{QUEUE_UID}.wav"
    assert answered["peeraccount"] == answered["dst_cnam"] == ""
    assert all(isinstance(v, str) for row in rows.values() for v in row.values())
    outbound = rows[6]
    assert (outbound["dst"], outbound["dcontext"]) == ("90401234567", "from-internal")
    assert outbound["outbound_cnum"] == "0952000600"


def test_since_is_inclusive_and_until_exclusive(pbx: Pbx) -> None:
    day = read(pbx.url, datetime(2026, 3, 2), datetime(2026, 3, 3), password=pbx.password)
    assert _keys(day) == ORDER[1:-1]
    assert [n for n, _row in day] == list(range(1, 6))
    since = read(pbx.url, since=datetime(2026, 3, 2, 10, 0, 0), password=pbx.password)
    assert _keys(since) == ORDER[-2:]
    until = read(pbx.url, until=datetime(2026, 3, 2, 9, 15, 2), password=pbx.password)
    assert _keys(until) == ORDER[:2]


def test_a_zoned_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        read("mysql://reader@pbx/asteriskcdrdb", since=datetime(2026, 3, 2, tzinfo=UTC))


def test_the_reader_account_cannot_write(pbx: Pbx) -> None:
    engine = sa.create_engine(
        sa.make_url(pbx.url).set(drivername="mysql+pymysql", password=pbx.password),
        poolclass=sa.NullPool,
    )
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as denied:
            conn.execute(sa.text("INSERT INTO cdr (uniqueid) VALUES ('1772500000.1')"))
    finally:
        engine.dispose()
    assert denied.value.orig.args[0] == 1142  # INSERT command denied
    assert len(read(pbx.url, password=pbx.password)) == len(ROWS)


def test_the_session_is_read_only_even_for_an_account_that_may_write(pbx: Pbx) -> None:
    target, _table = freepbx_db._target(pbx.root_url(), None)
    engine = freepbx_db._engine(target)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
            conn.execute(sa.text("INSERT INTO cdr (uniqueid) VALUES ('1772500000.1')"))
    finally:
        engine.dispose()
    assert refused.value.orig.args[0] == 1792  # cannot execute in a READ ONLY transaction
    assert len(read(pbx.root_url())) == len(ROWS)


def test_a_server_side_cursor_streams_the_rows(pbx: Pbx) -> None:
    cursors = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM cdr" in statement:
            cursors.append(type(cursor).__name__)

    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        read(pbx.url, password=pbx.password)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
    assert cursors == ["SSCursor"]


def test_the_password_may_come_from_an_option_file(pbx: Pbx, tmp_path) -> None:
    cnf = tmp_path / "cdr.cnf"
    cnf.write_text(f"[client]\npassword={pbx.password}\n")
    cnf.chmod(0o600)
    rows = read(f"{pbx.url}?read_default_file={cnf}")
    assert len(rows) == len(ROWS)


@pytest.mark.parametrize("scheme", ["mysql", "mariadb", "mysql+pymysql"])
def test_url_forms(pbx: Pbx, scheme: str) -> None:
    url = sa.make_url(pbx.url).set(drivername=scheme)
    assert len(read(url.render_as_string(hide_password=False), password=pbx.password)) == 7
    with_password = url.set(password=pbx.password).render_as_string(hide_password=False)
    assert len(read(with_password)) == len(ROWS)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://reader@pbx/asteriskcdrdb", "is not MariaDB/MySQL"),
        ("mysql://reader@pbx", "names no database"),
        ("mysql://reader@pbx/asteriskcdrdb?tabel=cdr", "unknown URL option tabel"),
        ("not a url", "not a database URL"),
    ],
)
def test_urls_that_name_no_cdr_database(url: str, message: str) -> None:
    with pytest.raises(CdrDatabaseError, match=message):
        read(url)


def test_a_wrong_password_is_access_denied_and_not_repeated(pbx: Pbx) -> None:
    wrong = "Wr0ng-" + pbx.password
    with pytest.raises(CdrDatabaseError, match="access denied") as denied:
        read(pbx.url, password=wrong)
    assert mariadb.READER_PREFIX in str(denied.value)
    assert wrong not in str(denied.value)
    assert pbx.password not in str(denied.value)


def test_an_unknown_database(pbx: Pbx) -> None:
    missing = f"{pbx.dbname}_missing"
    with pytest.raises(CdrDatabaseError, match=f"unknown database `{missing}`"):
        read(pbx.root_url(missing))
    # The reader may not even learn whether it exists: the server says access denied.
    reader = sa.make_url(pbx.url).set(database=missing).render_as_string(hide_password=False)
    with pytest.raises(CdrDatabaseError, match=f"access denied.*{missing}"):
        read(reader, password=pbx.password)


def test_no_such_table(pbx: Pbx) -> None:
    with pytest.raises(CdrDatabaseError, match=f"no table `{pbx.dbname}`.`cdr_nosuch`"):
        read(pbx.table_url("cdr_nosuch"), password=pbx.password)


def test_a_table_without_calldate_is_not_a_cdr_table(pbx: Pbx) -> None:
    with pytest.raises(CdrDatabaseError, match="`cel` is not a CDR table: it has no calldate"):
        read(pbx.table_url("cel"), password=pbx.password)


def test_an_old_table_without_linkedid_and_sequence(pbx: Pbx) -> None:
    rows = read(pbx.table_url("cdr_old"), password=pbx.password)
    older = [c for c in TABLE_ORDER if c not in {"linkedid", "peeraccount", "sequence"}]
    assert all(set(row) == set(older) for _n, row in rows)
    # without sequence the legs of the queue call come in uniqueid order, which is equal
    assert [r["uniqueid"] for _n, r in rows] == [k.split("/")[0] for k in ORDER]


def test_a_presentation_column_is_read_and_null_is_empty(pbx: Pbx) -> None:
    rows = [row for _n, row in read(pbx.table_url("cdr_pres"), password=pbx.password)]
    assert [row["cid_pres"] for row in rows] == ["prohib_passed_screen", ""]
    assert "tenantid" not in rows[0]


def test_a_server_that_does_not_answer() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CdrDatabaseError, match=f"cannot connect .* 127.0.0.1:{port}"):
        read(f"mysql://reader@127.0.0.1:{port}/asteriskcdrdb", password="secret-1")


def test_a_missing_driver_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)
    with pytest.raises(CdrDatabaseError, match="PyMySQL is not installed"):
        read("mysql://reader@127.0.0.1/asteriskcdrdb")
