"""A private FreePBX CDR database on the MariaDB/MySQL server that TALLENNE_TEST_MARIADB_URL
names (default ``mysql://root@127.0.0.1:3306``, an account that may create databases and
users).

``freepbx_database()`` makes ``asteriskcdrdb_test_<pid>`` with FreePBX's ``cdr`` table and a
reader account ``tallenne_reader_<pid>`` (@127.0.0.1 and @localhost) that has SELECT on it and
nothing else, and drops both at the end. Databases and accounts of earlier runs that were
killed before they could drop theirs go first.

The table is FreePBX/framework ``installlib/SQL/cdr.sql`` as it is now, which already carries
the caller-ID columns FreePBX/cdr ``install.php`` used to add (cnum, cnam, outbound_cnum,
outbound_cnam, dst_cnam), plus linkedid, peeraccount and sequence: neither of those files adds
those three, so their types are from pbx-formats.md §7.4. ``OLD_CDR_SQL`` is the framework's
earlier cdr.sql (no caller-ID columns, zero-date default) with ``install.php``'s VARCHAR(40)
caller-ID columns of that time: a FreePBX of before linkedid and sequence."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

# FreePBX/framework installlib/SQL/cdr.sql (commit c68e3ff7dd)
CDR_SQL = """CREATE TABLE {table} (
   calldate datetime NOT NULL default '1000-01-01 00:00:00',
   clid varchar(80) NOT NULL default '',
   src varchar(80) NOT NULL default '',
   dst varchar(80) NOT NULL default '',
   dcontext varchar(80) NOT NULL default '',
   channel varchar(80) NOT NULL default '',
   dstchannel varchar(80) NOT NULL default '',
   lastapp varchar(80) NOT NULL default '',
   lastdata varchar(80) NOT NULL default '',
   duration int(11) NOT NULL default '0',
   billsec int(11) NOT NULL default '0',
   disposition varchar(45) NOT NULL default '',
   amaflags int(11) NOT NULL default '0',
   accountcode varchar(20) NOT NULL default '',
   uniqueid varchar(32) NOT NULL default '',
   userfield varchar(255) NOT NULL default '',
   did varchar(50) NOT NULL default '',
   recordingfile varchar(255) NOT NULL default '',
   cnum varchar(80) NOT NULL default '',
   cnam varchar(80) NOT NULL default '',
   outbound_cnum varchar(80) NOT NULL default '',
   outbound_cnam varchar(80) NOT NULL default '',
   dst_cnam varchar(80) NOT NULL default '',
   KEY `calldate` (`calldate`),
   KEY `dst` (`dst`),
   KEY `accountcode` (`accountcode`),
   KEY `uniqueid` (`uniqueid`),
   KEY `did` (`did`)
)"""
# pbx-formats.md §7.4, columns 24-26
CDR_LATER_COLUMNS = (
    "ALTER TABLE {table} ADD linkedid varchar(32) NOT NULL default '',"
    " ADD peeraccount varchar(80) NOT NULL default '', ADD sequence int(11) NOT NULL default '0'"
)
# FreePBX/framework installlib/SQL/cdr.sql (commit 65b72ae6bf)
OLD_CDR_SQL = """CREATE TABLE {table} (
   calldate datetime NOT NULL default '0000-00-00 00:00:00',
   clid varchar(80) NOT NULL default '',
   src varchar(80) NOT NULL default '',
   dst varchar(80) NOT NULL default '',
   dcontext varchar(80) NOT NULL default '',
   channel varchar(80) NOT NULL default '',
   dstchannel varchar(80) NOT NULL default '',
   lastapp varchar(80) NOT NULL default '',
   lastdata varchar(80) NOT NULL default '',
   duration int(11) NOT NULL default '0',
   billsec int(11) NOT NULL default '0',
   disposition varchar(45) NOT NULL default '',
   amaflags int(11) NOT NULL default '0',
   accountcode varchar(20) NOT NULL default '',
   uniqueid varchar(32) NOT NULL default '',
   userfield varchar(255) NOT NULL default '',
   did varchar(50) NOT NULL default '',
   recordingfile varchar(255) NOT NULL default '',
   KEY `calldate` (`calldate`),
   KEY `dst` (`dst`),
   KEY `accountcode` (`accountcode`),
   KEY `uniqueid` (`uniqueid`),
   KEY `did` (`did`)
)"""
# FreePBX/cdr install.php (commit 0660b3fdf0), one per caller-ID field
OLD_CID_COLUMNS = tuple(
    f"ALTER TABLE {{table}} ADD {cf} VARCHAR ( 40 ) NOT NULL DEFAULT ''"
    for cf in ("cnum", "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam")
)
# FreePBX/cdr install.php (commit 0660b3fdf0): the CEL table, which lives next to cdr
CEL_SQL = """CREATE TABLE IF NOT EXISTS {table} (
  `id` int(11) NOT NULL auto_increment,
  `eventtype` varchar(30) NOT NULL,
  `eventtime` datetime NOT NULL,
  `cid_name` varchar(80) NOT NULL,
  `cid_num` varchar(80) NOT NULL,
  `cid_ani` varchar(80) NOT NULL,
  `cid_rdnis` varchar(80) NOT NULL,
  `cid_dnid` varchar(80) NOT NULL,
  `exten` varchar(80) NOT NULL,
  `context` varchar(80) NOT NULL,
  `channame` varchar(80) NOT NULL,
  `src` varchar(80) NOT NULL,
  `dst` varchar(80) NOT NULL,
  `channel` varchar(80) NOT NULL,
  `dstchannel` varchar(80) NOT NULL,
  `appname` varchar(80) NOT NULL,
  `appdata` varchar(80) NOT NULL,
  `amaflags` int(11) NOT NULL,
  `accountcode` varchar(20) NOT NULL,
  `uniqueid` varchar(32) NOT NULL,
  `linkedid` varchar(32) NOT NULL,
  `peer` varchar(80) NOT NULL,
  `userdeftype` varchar(255) NOT NULL,
  `eventextra` varchar(255) NOT NULL,
  `userfield` varchar(255) NOT NULL,
  PRIMARY KEY  (`id`),
  KEY `uniqueid_index` (`uniqueid`),
  KEY `linkedid_index` (`linkedid`)
)"""

DATABASE_PREFIX = "asteriskcdrdb_test_"
READER_PREFIX = "tallenne_reader_"
READER_HOSTS = ("127.0.0.1", "localhost")


def admin_url() -> sa.URL:
    text = os.environ.get("TALLENNE_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306")
    url = sa.make_url(text)
    return url.set(drivername="mysql+pymysql", database=None)


def admin_engine() -> sa.Engine:
    return sa.create_engine(
        admin_url(),
        poolclass=sa.NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"charset": "utf8mb4", "connect_timeout": 5},
    )


def unavailable() -> str | None:
    """Why there is no MariaDB to test on, or None."""
    try:
        import pymysql  # noqa: F401
    except ImportError:
        return "PyMySQL is not installed: no MariaDB/MySQL driver"
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as error:
        where = admin_url().render_as_string(hide_password=True)
        return f"no MariaDB/MySQL at {where} (TALLENNE_TEST_MARIADB_URL): {error.orig}"
    finally:
        engine.dispose()
    return None


def create_cdr_table(root: sa.Engine, dbname: str, table: str = "cdr", *, old: bool = False):
    """FreePBX's cdr table (``old``: as before linkedid and sequence) under another name."""
    name = f"`{dbname}`.`{table}`"
    statements = [OLD_CDR_SQL, *OLD_CID_COLUMNS] if old else [CDR_SQL, CDR_LATER_COLUMNS]
    with root.connect() as conn:
        for statement in statements:
            conn.execute(sa.text(statement.format(table=name)))


def create_cel_table(root: sa.Engine, dbname: str, table: str = "cel") -> None:
    with root.connect() as conn:
        conn.execute(sa.text(CEL_SQL.format(table=f"`{dbname}`.`{table}`")))


@contextmanager
def freepbx_database() -> Iterator[tuple[str, str, sa.Engine, str]]:
    """(reader URL without its password, the reader's password, an AUTOCOMMIT engine of the
    admin account, the database's name); the database has FreePBX's empty ``cdr`` table."""
    pid = os.getpid()
    dbname, reader = f"{DATABASE_PREFIX}{pid}", f"{READER_PREFIX}{pid}"
    password = secrets.token_urlsafe(18)
    root = admin_engine()
    try:
        with root.connect() as conn:
            _drop_leftovers(conn)
            conn.execute(sa.text(f"CREATE DATABASE `{dbname}` CHARACTER SET utf8mb4"))
            for host in READER_HOSTS:
                conn.execute(
                    sa.text("CREATE USER :user@:host IDENTIFIED BY :password"),
                    {"user": reader, "host": host, "password": password},
                )
                conn.execute(
                    sa.text(f"GRANT SELECT ON `{dbname}`.* TO :user@:host"),
                    {"user": reader, "host": host},
                )
        create_cdr_table(root, dbname)
        url = admin_url().set(drivername="mysql", username=reader, password=None, database=dbname)
        yield url.render_as_string(hide_password=False), password, root, dbname
    finally:
        with root.connect() as conn:
            _drop(conn, dbname, reader)
        root.dispose()


def _drop(conn: sa.Connection, dbname: str, reader: str) -> None:
    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{dbname}`"))
    for host in READER_HOSTS:
        conn.execute(sa.text("DROP USER IF EXISTS :user@:host"), {"user": reader, "host": host})


def _drop_leftovers(conn: sa.Connection) -> None:
    """What earlier runs left when they were killed (their process is gone)."""
    names = conn.execute(sa.text("SHOW DATABASES LIKE :like"), {"like": f"{DATABASE_PREFIX}%"})
    users = conn.execute(
        sa.text("SELECT DISTINCT user FROM mysql.user WHERE user LIKE :like"),
        {"like": f"{READER_PREFIX}%"},
    )
    pids = {n.removeprefix(DATABASE_PREFIX) for n in names.scalars()}
    pids |= {u.removeprefix(READER_PREFIX) for u in users.scalars()}
    for pid in pids:
        if pid.isdigit() and (int(pid) == os.getpid() or not Path(f"/proc/{pid}").exists()):
            _drop(conn, f"{DATABASE_PREFIX}{pid}", f"{READER_PREFIX}{pid}")
