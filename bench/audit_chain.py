"""The audit chain at scale: append rate with concurrent writers, and verification speed.

    python -m bench.audit_chain [--events 1000000] [--db sqlite|postgresql|both]
                                [--writers 8] [--appends 250]

Appends: WRITERS processes start together on a fresh, migrated database and each appends
APPENDS events, one transaction and one durable commit per event, as a request does; then
the chain is verified (no fork, no lost event). Verification: a database of EVENTS events
(built once with chain values computed here and bulk-inserted, then reused:
``bench/out/audit_<N>.sqlite``, PostgreSQL database ``tallenne_bench_audit_<N>``) is checked
end to end by ``tallenne audit verify`` in a child process, checkpoint included, and its wall
time and peak memory are measured. Figures go to stdout and to ``docs/benchmarks.md``; the exit
status is 1 when a chain forks or loses an event, or verification takes a minute or more.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

import audit
from audit import checkpoints
from audit.trail import chain_value, previous_bytes, stored_row
from bench.calls_list import DOCS, OUT, PG_ADMIN_URL, ROOT, driver_url, echo, migrate
from bench.docs import marked, write_blocks

SEED = 20261122
BATCH = 20_000
VERIFY_LIMIT_S = 60.0
KEY_FILE = OUT / "audit_key"
ACTIONS = ["call.play", "call.view", "call.search", "call.export", "login", "logout"]
PURPOSES = ["quality", "complaint", "training", "order_verification", None]


def bench_key() -> bytes:
    OUT.mkdir(parents=True, exist_ok=True)
    if not KEY_FILE.exists():
        KEY_FILE.write_text(os.urandom(32).hex())
        KEY_FILE.chmod(0o600)
    return bytes.fromhex(KEY_FILE.read_text())


def fresh_database(kind: str, name: str) -> str:
    """A new, migrated database; its URL as operators write it."""
    if kind == "sqlite":
        path = OUT / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        admin_url = sa.make_url(driver_url(PG_ADMIN_URL))
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    migrate(url)
    return url


def engine_for(url: str) -> sa.Engine:
    import webapp.extensions  # noqa: F401  (SQLite in WAL mode, as in the app)
    from webapp.config import _engine_options

    return sa.create_engine(driver_url(url), **_engine_options(driver_url(url), 30.0))


# ---------------------------------------------------------------------------------------------
# Appends


def _writer(url: str, key: bytes, writer: int, appends: int, start, results) -> None:
    engine = engine_for(url)
    latencies = []
    start.wait()
    for i in range(appends):
        event = audit.Event(
            action="call.play",
            outcome=audit.Outcome.ALLOWED,
            actor_name=f"agent{writer}",
            object_type="call",
            object_id=str(i),
            detail={"writer": writer, "i": i},
        )
        began = time.perf_counter()
        with engine.begin() as conn:
            audit.append(conn, event, key)
        latencies.append(time.perf_counter() - began)
    engine.dispose()
    results.put(latencies)


@dataclass
class AppendResult:
    writers: int
    appends: int
    committed: int
    seconds: float
    p50_ms: float
    p95_ms: float
    intact: bool


def measure_appends(kind: str, key: bytes, writers: int, appends: int) -> AppendResult:
    url = fresh_database(kind, "tallenne_bench_audit_append")
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_writer, args=(url, key, n, appends, start, results))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    time.sleep(2)  # let every child import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    latencies = sorted(x for _ in processes for x in results.get(timeout=600))
    seconds = time.perf_counter() - began
    for process in processes:
        process.join()
    engine = engine_for(url)
    with engine.connect() as conn:
        committed = conn.scalar(sa.select(sa.func.count()).select_from(audit.events))
        report = audit.verify(conn, key)
    engine.dispose()
    return AppendResult(
        writers,
        appends,
        committed,
        seconds,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.95)] * 1000,
        report.intact and committed == writers * appends,
    )


# ---------------------------------------------------------------------------------------------
# Verification


def event_rows(n: int, key: bytes):
    """n events as the app would have written them over a year, chained, in batches."""
    rng = random.Random(SEED)
    at = datetime(2025, 11, 20, 6, 0, tzinfo=UTC)
    step = timedelta(days=365) / n
    previous = None
    batch = []
    for seq in range(1, n + 1):
        at += step
        action = rng.choice(ACTIONS)
        purpose = rng.choice(PURPOSES) if action in ("call.play", "call.export") else None
        event = audit.Event(
            action=action,
            outcome=audit.Outcome.ALLOWED if rng.random() < 0.98 else audit.Outcome.DENIED,
            actor_id=rng.randrange(1, 23),
            actor_name=f"agent{rng.randrange(1, 23)}",
            actor_roles="agent",
            object_type="call" if action.startswith("call.") else None,
            object_id=str(rng.randrange(1, 1_000_000)) if action.startswith("call.") else None,
            customer_id=rng.randrange(1, 60_000) if purpose else None,
            purpose=purpose,
            case_ref=f"REK-{rng.randrange(10_000)}" if purpose == "complaint" else None,
            client_addr=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            request_id=f"{rng.getrandbits(128):032x}",
            detail={"range": f"0-{rng.randrange(10**6)}"} if action == "call.play" else {},
            occurred_at=at,
        )
        row = stored_row(event)
        row["seq"] = seq
        row["chain"] = previous = chain_value(key, previous_bytes(previous), row).hex()
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def verify_database(kind: str, n: int, key: bytes) -> tuple[str, float | None]:
    name = f"tallenne_bench_audit_{n}"
    url = (
        f"sqlite:///{OUT / f'audit_{n}.sqlite'}"
        if kind == "sqlite"
        else sa.make_url(driver_url(PG_ADMIN_URL)).set(database=name).render_as_string(False)
    )
    try:
        engine = engine_for(url)
        with engine.connect() as conn:
            if checkpoints.tip(conn).events == n:
                echo(f"  reusing the {n:,}-event database")
                engine.dispose()
                return url, None
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        pass
    began = time.perf_counter()
    url = fresh_database(kind, name if kind == "postgresql" else f"audit_{n}")
    engine = engine_for(url)
    columns = [c.name for c in audit.events.columns]
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for i, batch in enumerate(event_rows(n, key)):
            if kind == "postgresql":
                with (
                    raw.cursor() as cur,
                    cur.copy(f"COPY audit_event ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    for row in batch:
                        copy.write_row([row[c] for c in columns])
            else:
                conn.execute(sa.insert(audit.events), batch)
            if (i + 1) % 10 == 0:
                echo(f"  {(i + 1) * BATCH:>9,} events ({time.perf_counter() - began:.0f} s)")
        tip = batch[-1]
        conn.execute(sa.update(audit.heads).values(seq=tip["seq"], chain=tip["chain"], events=n))
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE audit_event")
    engine.dispose()
    return url, time.perf_counter() - began


@dataclass
class VerifyResult:
    events: int
    seconds: float
    peak_rss_mb: float
    exit_code: int
    last_line: str
    build_s: float | None


def measure_verify(kind: str, n: int, key: bytes) -> VerifyResult:
    url, build_s = verify_database(kind, n, key)
    checkpoint_file = OUT / f"audit_checkpoints_{kind}_{n}.jsonl"
    engine = engine_for(url)
    with engine.connect() as conn:
        tip = checkpoints.tip(conn)
    engine.dispose()
    checkpoint_file.write_text(checkpoints.line_for(key, tip) + "\n")
    env = {
        **os.environ,
        "TALLENNE_DATABASE_URL": url,
        "TALLENNE_SECRET_KEY": "bench",
        "TALLENNE_AUDIT_KEY_FILE": str(KEY_FILE),
        "TALLENNE_AUDIT_CHECKPOINT_FILE": str(checkpoint_file),
    }
    tallenne = Path(sys.executable).with_name("tallenne")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(
            [str(tallenne), "audit", "verify"], env=env, stdout=out, stderr=err
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        said = (out.read().strip() or err.read().strip()).splitlines()
    peak = usage.ru_maxrss / 1024  # this child's alone
    last = said[-1] if said else ""
    return VerifyResult(n, seconds, peak, child.returncode, last, build_s)


# ---------------------------------------------------------------------------------------------
# The DPO's pages


def dpo_readings(end: datetime) -> dict[str, Callable[[Session], object]]:
    """The queries the /audit pages run, on the data's last 30 days where they look back."""
    from webapp.trail import patterns, queries

    events = audit.events
    start = end - timedelta(days=30)
    zone = ZoneInfo("Europe/Helsinki")
    working = patterns.WorkingTime((7, 18), frozenset(range(1, 6)))

    def page(query, before=None):
        return lambda s: s.execute(queries.newest_first(query, before, 100)).all()

    everything = sa.select(events)
    return {
        "newest 100 events": page(everything),
        "a deep page (before event 500,000)": page(everything, 500_000),
        "one customer's accesses": page(everything.where(events.c.customer_id == 4242)),
        "one user's events": page(everything.where(events.c.actor_id == 7)),
        "one week": page(
            everything.where(
                events.c.occurred_at >= end - timedelta(days=7), events.c.occurred_at < end
            )
        ),
        "denied only (2 % of events)": page(everything.where(events.c.outcome == "denied")),
        "attention: denied, no case ref, unfinished": lambda s: queries.needing_attention(
            s, start, 200, 5000
        ),
        "attention: days far above usual (30 + 90 days)": lambda s: patterns.busy_days(
            s, start, end, zone
        ),
        "attention: outside working hours": lambda s: patterns.off_hours(
            s, start, end, zone, working
        ),
    }


def measure_dpo(url: str, n: int) -> list[tuple[str, float]]:
    """Each reading's median time of 5, after one that warms the cache."""
    engine = engine_for(url)
    timings = []
    with Session(engine) as session:
        end = session.scalar(sa.select(sa.func.max(audit.events.c.occurred_at)))
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        for name, reading in dpo_readings(end).items():
            reading(session)
            runs = []
            for _ in range(5):
                began = time.perf_counter()
                reading(session)
                runs.append(time.perf_counter() - began)
            timings.append((name, sorted(runs)[2] * 1000))
            echo(f"  {name}: {timings[-1][1]:.1f} ms")
    engine.dispose()
    return timings


# ---------------------------------------------------------------------------------------------
# Report


def version(kind: str) -> str:
    if kind == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = sa.create_engine(driver_url(PG_ADMIN_URL))
    with engine.connect() as conn:
        text = conn.scalar(sa.text("SHOW server_version"))
    engine.dispose()
    return f"PostgreSQL {text}"


def section(
    kind: str, appends: AppendResult, verify: VerifyResult, readings: list[tuple[str, float]]
) -> str:
    title = "SQLite" if kind == "sqlite" else "PostgreSQL"
    built = (
        f"built in {verify.build_s:.0f} s (chain computed in Python, bulk insert)"
        if verify.build_s is not None
        else "database reused from an earlier run"
    )
    rate = appends.committed / appends.seconds
    verdict = "✓" if appends.intact else "✗ forked or lost events"
    fast = "✓" if verify.exit_code == 0 and verify.seconds < VERIFY_LIMIT_S else "✗"
    lines = [
        f"<!-- audit_chain:{kind} -->",
        f"### {title}",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {version(kind)}; "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs seen; 1-minute load "
        f"average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| measure | figure |",
        "|---|--:|",
        f"| concurrent writers × appends each | {appends.writers} × {appends.appends} |",
        f"| events committed / expected | {appends.committed:,} / "
        f"{appends.writers * appends.appends:,} |",
        f"| append rate, all writers together | {rate:,.0f} events/s |",
        f"| one append + commit, p50 / p95 | {appends.p50_ms:.1f} / {appends.p95_ms:.1f} ms |",
        f"| chain after the race (verify: no fork, none lost) | {verdict} |",
        f"| `tallenne audit verify` of {verify.events:,} events, whole command | "
        f"{verify.seconds:.1f} s ({verify.events / verify.seconds:,.0f} events/s) {fast} |",
        f"| its peak memory (max RSS) | {verify.peak_rss_mb:.0f} MB |",
        *(
            f"| `/audit` on {verify.events:,} events: {name} | {ms:,.1f} ms |"
            for name, ms in readings
        ),
        "",
        f"The {verify.events:,}-event database: {built}. `verify` said: "
        f"“{verify.last_line}” (exit {verify.exit_code}).",
        f"<!-- /audit_chain:{kind} -->",
    ]
    return "\n".join(lines) + "\n"


DOC_HEADER = """## The audit chain: concurrent appends and verification

Written by `python -m bench.audit_chain`; the blocks between `<!-- audit_chain:… -->` markers
are replaced on every run, text outside them is kept. Appends: 8 processes start together and
each appends its events one transaction and one durable commit at a time, as requests do
(SQLite WAL, `synchronous=FULL`; PostgreSQL `synchronous_commit=on`), serialized on the
`audit_head` row. Verification: `tallenne audit verify` run as a command on a database of a
million events spread over a year, with one checkpoint at the tip; the time includes start-up.
Target: verify a million events in under a minute. The DPO's readings: the SQL that the
`/audit` pages run, on the same database (median of 5 after a warm-up), the attention list
looking at the data's last 30 days.
"""


def write_docs(sections: dict[str, str]) -> None:
    write_blocks("audit_chain", {"header": marked("audit_chain", "header", DOC_HEADER), **sections})


@click.command()
@click.option("--events", "n", default=1_000_000, show_default=True)
@click.option(
    "--db", "engines", type=click.Choice(["sqlite", "postgresql", "both"]), default="both"
)
@click.option("--writers", default=8, show_default=True)
@click.option("--appends", default=250, show_default=True, help="Events per writer.")
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(n: int, engines: str, writers: int, appends: int, docs: bool) -> None:
    """Time concurrent appends and the verification of the audit chain."""
    key = bench_key()
    sections, failed = {}, False
    for kind in ["sqlite", "postgresql"] if engines == "both" else [engines]:
        echo(f"{kind}: {writers} writers × {appends} appends")
        appended = measure_appends(kind, key, writers, appends)
        echo(f"  {appended}")
        echo(f"{kind}: verify {n:,} events")
        verified = measure_verify(kind, n, key)
        echo(f"  {verified}")
        echo(f"{kind}: the DPO's readings of {n:,} events")
        url, _built = verify_database(kind, n, key)
        readings = measure_dpo(url, n)
        sections[kind] = section(kind, appended, verified, readings)
        failed |= not appended.intact
        failed |= verified.exit_code != 0 or verified.seconds >= VERIFY_LIMIT_S
    if docs:
        write_docs(sections)
        echo(f"wrote {DOCS.relative_to(ROOT)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
