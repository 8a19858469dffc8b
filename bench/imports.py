"""Importing calls: call records with next to no audio (the records' own cost), and calls with
real-sized recordings (megabytes a second, sealing and fsync included).

    python -m bench.imports [--records 100000] [--calls 200] [--minutes 2]

Each run imports a generated manifest (CSV) into a fresh, migrated SQLite database under
``bench/out``, through the same code as ``tallenne import manifest`` (manifest.read and
import_entries, every recording checked, sealed and synced, calls committed in batches).
Figures go to stdout and to ``docs/benchmarks.md``; exit status 1 when a target is missed:
at least 500 call records a second, and at least 50 MB of audio a second.
"""

from __future__ import annotations

import io
import math
import os
import platform
import shutil
import sys
import time
import wave
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import click

from bench.calls_list import DOCS, OUT, ROOT, echo
from bench.docs import marked, write_blocks
from bench.fresh import one_service, sqlite_app
from webapp.extensions import db
from webapp.importers import import_entries, lookups, manifest

RECORDS_TARGET = 500  # calls a second
AUDIO_TARGET = 50  # MB a second


def _wav(seconds: float, tone: int) -> bytes:
    frames = bytearray()
    for i in range(int(seconds * 8000)):
        frames += int(6000 * math.sin(2 * math.pi * tone * i / 8000)).to_bytes(
            2, "little", signed=True
        )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames))
    return out.getvalue()


def _world(name: str):
    app, storage_dir = sqlite_app(name)
    with app.app_context():
        one_service("asiakaspalvelu", 12, "600")
    return app, storage_dir


def _manifest(folder: Path, n: int, files: list[str]) -> Path:
    start = datetime(2026, 6, 1, 6, tzinfo=UTC)
    lines = ["id,started_at,service,direction,phone,recording"]
    for i in range(n):
        at = (start + timedelta(seconds=30 * i)).isoformat()
        lines.append(f"b{i},{at},600,in,040{i % 10_000_000:07d},{files[i % len(files)]}")
    path = folder / "calls.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(label: str, n: int, seconds: float, distinct: int) -> dict[str, float]:
    app, storage_dir = _world(f"import_{label}")
    folder = OUT / f"import_{label}-source"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = []
    for k in range(distinct):
        (folder / f"r{k}.wav").write_bytes(_wav(seconds, 300 + k))
        files.append(f"r{k}.wav")
    path = _manifest(folder, n, files)
    with app.app_context():
        began = time.perf_counter()
        rows = manifest.read(path)
        services, users = lookups()
        items = ((r.line, partial(manifest.check, r, services, users, folder)) for r in rows)
        summary = import_entries(items, limit=256 * 1024 * 1024)
        took = time.perf_counter() - began
        db.engine.dispose()
    assert summary.imported == n and not summary.rejected, summary.rejected[:3]
    mb = summary.audio_bytes / 1e6
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(storage_dir, ignore_errors=True)
    return {"calls": n, "seconds": took, "rate": n / took, "mb": mb, "mb_s": mb / took}


def section(records: dict[str, float], audio: dict[str, float], minutes: float) -> str:
    def ok(good: bool) -> str:
        return "✓" if good else "✗"

    return "\n".join(
        [
            "<!-- imports:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
            f"{os.cpu_count()} CPUs seen; 1-minute load average {os.getloadavg()[0]:.1f}",
            "",
            "| import | calls | audio | time | rate | target |",
            "|---|--:|--:|--:|--:|---|",
            f"| call records (0.1 s recordings) | {records['calls']:,} | {records['mb']:,.0f} MB | "
            f"{records['seconds']:.1f} s | {records['rate']:,.0f} calls/s | ≥ {RECORDS_TARGET} "
            f"{ok(records['rate'] >= RECORDS_TARGET)} |",
            f"| calls with {minutes:g}-minute recordings | {audio['calls']:,} "
            f"| {audio['mb']:,.0f} MB "
            f"| {audio['seconds']:.1f} s | {audio['mb_s']:,.0f} MB/s | ≥ {AUDIO_TARGET} "
            f"{ok(audio['mb_s'] >= AUDIO_TARGET)} |",
            "<!-- /imports:figures -->",
            "",
        ]
    )


HEADER = """## Importing calls

Written by `python -m bench.imports`; the block between the `imports:figures` markers is
replaced on every run. A generated manifest is imported into a fresh SQLite database by the
code of `tallenne import manifest`: every recording read, checked, rewritten as a clean WAV,
sealed and synced, the calls committed a hundred at a time (SQLite `synchronous=FULL`).
"""


def write_docs(block: str) -> None:
    write_blocks("imports", {"header": marked("imports", "header", HEADER), "figures": block})


@click.command()
@click.option("--records", default=100_000, show_default=True)
@click.option("--calls", default=200, show_default=True)
@click.option("--minutes", default=2.0, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(records: int, calls: int, minutes: float, docs: bool) -> None:
    """Time imports of call records and of calls with their recordings."""
    OUT.mkdir(parents=True, exist_ok=True)
    echo(f"{records:,} call records")
    by_records = measure("records", records, 0.1, 20)
    echo(f"  {by_records}")
    echo(f"{calls:,} calls with {minutes:g}-minute recordings")
    by_audio = measure("audio", calls, minutes * 60, 10)
    echo(f"  {by_audio}")
    block = section(by_records, by_audio, minutes)
    echo(block)
    if docs:
        write_docs(block)
        echo(f"wrote {DOCS.relative_to(ROOT)}")
    sys.exit(0 if by_records["rate"] >= RECORDS_TARGET and by_audio["mb_s"] >= AUDIO_TARGET else 1)


if __name__ == "__main__":
    main()
