"""Sealed recordings: sealing and opening speed on one core, a range at the end of an hour-long
recording against one at its start, and streaming a whole recording.

    python -m bench.storage [--minutes 60] [--repeat 7]

An hour of 8 kHz 16-bit mono is 57.6 MB. It is sealed into ``bench/out/storage`` by the app's
own store (``EncryptedStorage``, the fsync included), then read back: the time to the first
byte of a 64 KiB range at its start and in its last minute (median of REPEAT after a warm-up),
and the rate of reading it whole. Figures go to stdout and to ``docs/benchmarks.md``; the exit
status is 1 when a target is missed: sealing and opening at least 500 MB/s, the end's first
byte at most 1.5 times the start's, a whole recording at least 100 MB/s.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime

import click

from bench.calls_list import DOCS, OUT, ROOT, echo
from bench.docs import marked, write_blocks
from webapp.storage import EncryptedStorage, Recording, sealed
from webapp.storage.directory import Directory
from webapp.storage.keys import KeyRing

RATE_TARGET = 500  # MB/s, sealing and opening on one core
RATIO_TARGET = 1.5
STREAM_TARGET = 100  # MB/s
RANGE = 64 * 1024


def _median_seconds(action, repeat: int) -> float:
    action()
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def measure(minutes: int, repeat: int) -> dict[str, float]:
    audio = os.urandom(minutes * 60 * 8000 * 2)  # incompressible, as far as AES cares
    mb = len(audio) / 1e6
    key = os.urandom(32)
    # Consumed a segment at a time, as the store writes them: no copy of the whole.
    seal_s = _median_seconds(lambda: sum(len(part) for part in sealed.seal(audio, key, "x")), 5)
    blob = b"".join(sealed.seal(audio, key, "x"))
    layout = sealed.Layout.read(blob[: sealed.HEADER.size], len(blob))

    def open_all() -> None:
        for i in range(layout.count):
            start = layout.offset(i)
            layout.open(key, "x", i, blob[start : start + layout.segment + sealed.TAG])

    open_s = _median_seconds(open_all, 3)

    root = OUT / "storage"
    shutil.rmtree(root, ignore_errors=True)
    store = EncryptedStorage(Directory(root), KeyRing({"bench": os.urandom(32)}))
    began = time.perf_counter()
    stored = store.put(audio, datetime.now(UTC))
    put_s = time.perf_counter() - began
    recording = Recording(stored.key, stored.sealed_key, stored.key_id)
    last_minute = len(audio) - 60 * 8000 * 2

    def first_byte(at: int):
        return lambda: next(store.read_range(recording, at, at + RANGE))

    start_s = _median_seconds(first_byte(0), repeat)
    end_s = _median_seconds(first_byte(last_minute), repeat)
    whole_s = _median_seconds(
        lambda: sum(len(c) for c in store.read_range(recording, 0, len(audio))), 3
    )
    shutil.rmtree(root, ignore_errors=True)
    return {
        "mb": mb,
        "seal": mb / seal_s,
        "open": mb / open_s,
        "put": mb / put_s,
        "start_ms": start_s * 1000,
        "end_ms": end_s * 1000,
        "ratio": end_s / start_s,
        "whole": mb / whole_s,
    }


def section(minutes: int, f: dict[str, float]) -> str:
    def ok(good: bool) -> str:
        return "✓" if good else "✗"

    return "\n".join(
        [
            "<!-- storage:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}; "
            f"{os.cpu_count()} CPUs seen; 1-minute load average {os.getloadavg()[0]:.1f}",
            f"- Recording: {minutes} minutes of 8 kHz 16-bit mono, {f['mb']:.1f} MB",
            "",
            "| measure | figure | target |",
            "|---|--:|---|",
            f"| sealing, one core | {f['seal']:,.0f} MB/s | ≥ {RATE_TARGET} "
            f"{ok(f['seal'] >= RATE_TARGET)} |",
            f"| opening (every segment), one core | {f['open']:,.0f} MB/s | ≥ {RATE_TARGET} "
            f"{ok(f['open'] >= RATE_TARGET)} |",
            f"| storing it (seal, write, fsync, rename) | {f['put']:,.0f} MB/s | |",
            f"| first byte of a 64 KiB range at the start | {f['start_ms']:.3f} ms | |",
            f"| first byte of a 64 KiB range in the last minute | {f['end_ms']:.3f} ms | |",
            f"| end / start | {f['ratio']:.2f} | ≤ {RATIO_TARGET} "
            f"{ok(f['ratio'] <= RATIO_TARGET)} |",
            f"| reading it whole through the store | {f['whole']:,.0f} MB/s | ≥ {STREAM_TARGET} "
            f"{ok(f['whole'] >= STREAM_TARGET)} |",
            "<!-- /storage:figures -->",
            "",
        ]
    )


HEADER = """## Sealed recordings

Written by `python -m bench.storage`; the block between the `storage:figures` markers is
replaced on every run. Sealing and opening are `webapp/storage/sealed.py` on one core over a
whole recording in memory; the rest goes through `EncryptedStorage` and the file system, as a
playback does (without the HTTP layer, which adds the same to a range at either end).
"""


def write_docs(block: str) -> None:
    write_blocks("storage", {"header": marked("storage", "header", HEADER), "figures": block})


@click.command()
@click.option("--minutes", default=60, show_default=True)
@click.option("--repeat", default=7, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(minutes: int, repeat: int, docs: bool) -> None:
    """Time sealed recordings: sealing, opening, ranges at either end, a whole read."""
    figures = measure(minutes, repeat)
    block = section(minutes, figures)
    echo(block)
    if docs:
        write_docs(block)
        echo(f"wrote {DOCS.relative_to(ROOT)}")
    missed = (
        figures["seal"] < RATE_TARGET
        or figures["open"] < RATE_TARGET
        or figures["ratio"] > RATIO_TARGET
        or figures["whole"] < STREAM_TARGET
    )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
