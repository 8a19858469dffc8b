"""The nightly purge at scale: 100,000 expired recordings removed, calls, keys and files.

    python -m bench.retention [--calls 100000]

A fresh SQLite database under ``bench/out`` gets CALLS calls of a 6-month register, all
expired, each with a file in the storage (a few hundred bytes: the purge only unlinks them),
and as many again that have not expired; ``retention.plan`` and ``retention.remove`` run as
`tallenne retention purge` runs them. Figures go to stdout and to ``docs/benchmarks.md``;
exit status 1 when the purge takes a minute or more, or leaves a file or an unexpired call
wrong.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta

import click
import sqlalchemy as sa

from bench.calls_list import OUT, echo
from bench.docs import publish
from bench.fresh import insert_calls, one_service, sqlite_app
from webapp import retention
from webapp.extensions import db
from webapp.models import Call
from webapp.storage import storage

LIMIT_S = 60.0
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _fill(n: int) -> tuple[object, int]:
    app, _storage_dir = sqlite_app("retention")
    with app.app_context():
        service = one_service("myynti", 6, "620")
        insert_calls(_expired_and_not(n, service.id, storage().files))
    return app, n


def _expired_and_not(n: int, service_id: int, files):
    """N expired calls and N that have not expired, each with its file."""
    for i in range(2 * n):
        expired = i < n
        started = NOW - timedelta(days=200 if expired else 30, seconds=i)
        key = f"{started:%Y/%m}/{i:08x}.tln"
        _plain_write(files, key)
        yield {
            "started_at": started,
            "duration_s": 60,
            "direction": "in",
            "service_id": service_id,
            "recording_key": key,
            "recording_bytes": 204,
            "recording_sha256": "0" * 64,
            "recording_sealed_key": os.urandom(60),
            "recording_key_id": "bench",
            "phone_secret": False,
            "created_at": started,
        }


def _plain_write(files, key: str) -> None:
    # No fsync: this is the benchmark's set-up, not what it measures.
    path = files.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"TLNE" + bytes(200))


def measure(n: int) -> dict[str, float]:
    app, n = _fill(n)
    with app.app_context():
        began = time.perf_counter()
        doomed, _held = retention.plan(NOW)
        planned = time.perf_counter() - began
        removed = retention.remove(doomed)
        took = time.perf_counter() - began
        left = db.session.scalar(sa.select(sa.func.count(Call.id)))
        files = sum(1 for _ in storage().files.walk())
        db.engine.dispose()
    right = removed == n and left == n and files == n
    return {"calls": n, "plan_s": planned, "seconds": took, "rate": n / took, "right": right}


def section(f: dict[str, float]) -> str:
    fast = "✓" if f["seconds"] < LIMIT_S and f["right"] else "✗"
    return "\n".join(
        [
            "<!-- retention:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; SQLite; Python "
            f"{platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f}",
            "",
            "| measure | figure |",
            "|---|--:|",
            f"| expired calls removed (of twice as many) | {f['calls']:,} |",
            f"| finding them | {f['plan_s']:.1f} s |",
            f"| the whole purge: calls, keys, files | {f['seconds']:.1f} s "
            f"({f['rate']:,.0f}/s) {fast} |",
            f"| what is left is exactly what had not expired | {'✓' if f['right'] else '✗'} |",
            "<!-- /retention:figures -->",
            "",
        ]
    )


HEADER = """## The nightly purge

Written by `python -m bench.retention`; the block between the `retention:figures` markers is
replaced on every run. Target: 100,000 expired recordings purged in under a minute.
"""


@click.command()
@click.option("--calls", "n", default=100_000, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(n: int, docs: bool) -> None:
    """Time the purge of N expired recordings."""
    OUT.mkdir(parents=True, exist_ok=True)
    figures = measure(n)
    block = section(figures)
    echo(block)
    if docs:
        publish("retention", HEADER, block)
    sys.exit(0 if figures["seconds"] < LIMIT_S and figures["right"] else 1)


if __name__ == "__main__":
    main()
