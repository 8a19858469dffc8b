"""FreePBX's own CDR table, ``asteriskcdrdb.cdr``, read straight from MariaDB/MySQL with a
read-only account (see ``shared/reference/pbx-formats.md`` §7.4 and §7.10).

The rows come out as the CSV readers (``records.read``) give them: (row number, fields by
name), every value a stripped string, NULL as "", ``calldate`` as ``YYYY-MM-DD HH:MM:SS`` in
the server's local time as stored (UTC only where FreePBX's CDRUSEGMT is on). ``since`` and
``until`` are compared with ``calldate`` as stored, so they are naive datetimes in that time.

The session is read-only (``SET SESSION TRANSACTION READ ONLY``) and its transaction is
never committed; the account should still have nothing but SELECT."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from webapp.importers.records import FREEPBX_CSV

# The table's columns are the export's (in another order), and a presentation column a
# dialplan that keeps it adds (§7.10).
FREEPBX_COLUMNS = (*FREEPBX_CSV, "cid_pres")
REQUIRED = ("calldate", "disposition")
SCHEMES = {"mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql"}
# URL query options passed on to PyMySQL; anything else is more likely a typo than a wish.
DRIVER_OPTIONS = {"read_default_file", "read_default_group"}
CONNECT_TIMEOUT_S = 10
BATCH = 1000

# MySQL/MariaDB error numbers (mysqld_error.h, errmsg.h)
_ACCESS_DENIED = {1044, 1045, 1142, 1143, 1227, 1698}
_UNKNOWN_DATABASE = 1049
_NO_SUCH_TABLE = 1146
_NO_CONNECTION = {2002, 2003, 2005, 2006, 2013}
_SYNTAX = 1064


class CdrDatabaseError(ValueError):
    pass


def read(
    url: str,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    password: str | None = None,
) -> list[tuple[int, dict[str, str]]]:
    """The CDR rows with ``since <= calldate < until``, ordered by calldate, sequence and
    uniqueid, as (1-based row number, fields by name). The password comes from ``password``
    (or the URL, or ``?read_default_file=`` in it); it never appears in an error."""
    for bound in (since, until):
        if bound is not None and bound.tzinfo is not None:
            raise ValueError("since and until are naive: calldate is stored without a zone")
    target, table = _target(url, password)
    engine = _engine(target)
    try:
        with engine.connect() as conn:
            names = _columns(conn, target, table)
            cdr = sa.table(table, *(sa.column(name) for name in names.values()))
            query = sa.select(*(cdr.c[name].label(key) for key, name in names.items()))
            if since is not None:
                query = query.where(cdr.c[names["calldate"]] >= since)
            if until is not None:
                query = query.where(cdr.c[names["calldate"]] < until)
            order = [k for k in ("calldate", "sequence", "uniqueid") if k in names]
            query = query.order_by(*(cdr.c[names[k]] for k in order))
            result = conn.execution_options(yield_per=BATCH).execute(query)
            return [
                (n, {key: _text(value) for key, value in row.items()})
                for n, row in enumerate(result.mappings(), start=1)
            ]
    except sa.exc.DBAPIError as error:
        raise _explained(error, target) from None
    finally:
        engine.dispose()


def _target(url: str, password: str | None) -> tuple[sa.URL, str]:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise CdrDatabaseError(
            "not a database URL; write it as mysql://reader@pbx/asteriskcdrdb"
        ) from None
    if parsed.drivername not in SCHEMES:
        raise CdrDatabaseError(
            f"{parsed.drivername}:// is not MariaDB/MySQL; write mysql://reader@pbx/asteriskcdrdb"
        )
    if not parsed.database:
        raise CdrDatabaseError("the URL names no database: mysql://reader@pbx/asteriskcdrdb")
    query = dict(parsed.query)
    table = query.pop("table", "cdr")
    if not isinstance(table, str) or not table:
        raise CdrDatabaseError("name one table: ?table=cdr")
    unknown = sorted(set(query) - DRIVER_OPTIONS)
    if unknown:
        allowed = ", ".join(sorted({"table", *DRIVER_OPTIONS}))
        raise CdrDatabaseError(f"unknown URL option {', '.join(unknown)} (known: {allowed})")
    target = parsed.set(drivername="mysql+pymysql", query=query)
    if password is not None:
        target = target.set(password=password)
    return target, table


def _engine(target: sa.URL) -> sa.Engine:
    try:
        engine = sa.create_engine(
            target,
            poolclass=sa.NullPool,
            connect_args={"charset": "utf8mb4", "connect_timeout": CONNECT_TIMEOUT_S},
        )
    except ImportError:
        raise CdrDatabaseError(
            "the MySQL driver PyMySQL is not installed (pip install PyMySQL)"
        ) from None

    @sa.event.listens_for(engine, "connect")
    def _read_only(dbapi_connection, _record) -> None:
        import pymysql

        with dbapi_connection.cursor() as cursor:
            try:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            except pymysql.err.ProgrammingError as error:
                if error.args[0] != _SYNTAX:  # older than MySQL 5.6.5: the grants must do
                    raise

    return engine


def _columns(conn: sa.Connection, target: sa.URL, table: str) -> dict[str, str]:
    """FreePBX's column names that the table has, each with its name as the table spells it."""
    found = conn.execute(
        sa.text(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = DATABASE() AND table_name = :table"
        ),
        {"table": table},
    ).scalars()
    spelled = {name.lower(): name for name in found}
    where = f"`{target.database}`.`{table}`"
    if not spelled:
        raise CdrDatabaseError(
            f"no table {where} on {_server(target)} (or the account may not read it)"
        )
    missing = [name for name in REQUIRED if name not in spelled]
    if missing:
        raise CdrDatabaseError(f"{where} is not a CDR table: it has no {', '.join(missing)}")
    return {name: spelled[name] for name in FREEPBX_COLUMNS if name in spelled}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def _server(target: sa.URL) -> str:
    host = target.host or ("the option file's host" if target.query else "localhost")
    return f"{host}:{target.port or 3306}"


def _explained(error: sa.exc.DBAPIError, target: sa.URL) -> CdrDatabaseError:
    """The server's own words (which never carry the password), without SQLAlchemy's
    rendering of the statement and its parameters."""
    args = getattr(error.orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    reason = str(args[1]) if len(args) > 1 else str(error.orig)
    server = _server(target)
    if code in _NO_CONNECTION:
        return CdrDatabaseError(f"cannot connect to MariaDB/MySQL at {server}: {reason}")
    if code in _ACCESS_DENIED:
        return CdrDatabaseError(f"access denied on {server}: {reason}")
    if code == _UNKNOWN_DATABASE:
        return CdrDatabaseError(f"unknown database `{target.database}` on {server}")
    if code == _NO_SUCH_TABLE:
        return CdrDatabaseError(f"no such table on {server}: {reason}")
    return CdrDatabaseError(f"MariaDB/MySQL at {server}: {reason} (error {code})")
