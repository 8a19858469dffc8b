"""Importing from a phone system as `tallenne import asterisk` does: a FreePBX export of N
answered calls over many days, each with its recording in the monitor folder's
``YYYY/MM/DD/``, read, assembled into calls (legs, agents, recordings looked up by the rows'
dates), sealed and committed; then the same again, when everything is already there.

    python -m bench.pbx_import [--calls 100000]

Targets: at least 500 new calls a second, and a re-run that finds nothing new in under 5 s.
Figures go to stdout and to ``docs/benchmarks.md``; exit status 1 when a target is missed."""

from __future__ import annotations

import csv
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bench.calls_list import OUT, echo
from bench.docs import publish
from bench.fresh import one_service, sqlite_app
from bench.imports import _wav
from webapp.extensions import db
from webapp.importers import agents, assemble, import_entries, lookups, records
from webapp.importers.recordings import Monitor

NEW_TARGET = 500  # calls a second
RERUN_TARGET = 5.0  # seconds
HELSINKI = ZoneInfo("Europe/Helsinki")


def _source(folder: Path, n: int) -> tuple[Path, Path]:
    monitor = folder / "monitor"
    audio = _wav(0.1, 440)
    start = datetime(2026, 1, 5, 7, tzinfo=HELSINKI)
    out = (folder / "cdr.csv").open("w", newline="")
    writer = csv.writer(out)
    writer.writerow(records.FREEPBX_CSV)
    made: set[Path] = set()
    for i in range(n):
        at = start + timedelta(days=i // 1000, seconds=30 * (i % 1000))
        uid = f"{int(at.timestamp())}.{i}"
        name = f"q-600-040{i % 10_000_000:07d}-{at:%Y%m%d-%H%M%S}-{uid}.wav"
        day = monitor / f"{at:%Y/%m/%d}"
        if day not in made:
            day.mkdir(parents=True, exist_ok=True)
            made.add(day)
        (day / name).write_bytes(audio)
        row = dict.fromkeys(records.FREEPBX_CSV, "")
        row.update(
            calldate=f"{at:%Y-%m-%d %H:%M:%S}",
            src=f"040{i % 10_000_000:07d}",
            dst="600",
            dstchannel=f"PJSIP/{200 + i % 50}-1",
            duration="20",
            billsec="15",
            disposition="ANSWERED",
            uniqueid=uid,
            linkedid=uid,
            recordingfile=name,
        )
        writer.writerow([row[c] for c in records.FREEPBX_CSV])
    out.close()
    return folder / "cdr.csv", monitor


def _once(cdr: Path, monitor: Path) -> tuple[float, object, object]:
    began = time.perf_counter()
    rows = records.read(cdr, "freepbx_csv", None).rows
    services, _users = lookups()
    options = assemble.Options(zone=HELSINKI, services=services, directory=agents.Directory())
    plan = assemble.plan(rows, Monitor(monitor, HELSINKI), options)
    summary = import_entries(plan.items, limit=256 * 1024 * 1024)
    return time.perf_counter() - began, plan, summary


@click.command()
@click.option("--calls", default=100_000, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(calls: int, docs: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    app, storage_dir = sqlite_app("pbx_import")
    folder = OUT / "pbx_import-source"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with app.app_context():
        one_service("asiakaspalvelu", 12, "600")
        echo(f"writing {calls:,} calls' records and recordings …")
        cdr, monitor = _source(folder, calls)
        first, plan, summary = _once(cdr, monitor)
        assert summary.imported == calls and not summary.rejected, summary.rejected[:3]
        assert not plan.unused, plan.unused[:3]
        again, _plan, rerun = _once(cdr, monitor)
        assert rerun.imported == 0 and rerun.skipped == calls
        db.engine.dispose()
    rate = calls / first
    ok = rate >= NEW_TARGET and again < RERUN_TARGET
    figures = "\n".join(
        [
            "<!-- pbx_import:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
            f"{os.cpu_count()} CPUs seen",
            "",
            "| run | calls | time | rate | target |",
            "|---|--:|--:|--:|---|",
            f"| new calls | {calls:,} | {first:.1f} s | {rate:,.0f} calls/s | ≥ {NEW_TARGET} "
            f"{'✓' if rate >= NEW_TARGET else '✗'} |",
            f"| re-run, nothing new | {calls:,} | {again:.1f} s | | < {RERUN_TARGET:g} s "
            f"{'✓' if again < RERUN_TARGET else '✗'} |",
            "<!-- /pbx_import:figures -->",
            "",
        ]
    )
    echo(figures)
    if docs:
        publish("pbx_import", HEADER, figures)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(storage_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


HEADER = """## Importing from a phone system

Written by `python -m bench.pbx_import`: a FreePBX export of answered queue calls, 1,000 a day,
each with a 0.1 s recording under the monitor folder's `YYYY/MM/DD/`, imported into a fresh
SQLite database by the code of `tallenne import asterisk` (rows read, legs assembled,
recordings looked up by the rows' dates, every one decoded, sealed and synced, the period's
folders checked for unused recordings), then imported again when all of it is there.
"""


if __name__ == "__main__":
    main()
