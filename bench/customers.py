"""The customer register at scale: a billing system's CSV of 100,000 customers loaded, loaded
again unchanged, and a campaign list of as many numbers checked against their flags.

    python -m bench.customers [--customers 100000]

A fresh SQLite database under ``bench/out``. The CSV is what `tallenne customers load` reads
(through ``billing.read`` and ``billing.load``); a tenth of the customers get a ban on
telemarketing from the national register and a twentieth a restriction; the campaign list is
every customer's number in another format plus a tenth of unknown ones, checked as `tallenne
flags check --purpose telemarketing` checks it (``campaign.check``). Figures go to stdout and to
``docs/benchmarks.md``; exit status 1 when a step takes a minute or more, or an answer count is
wrong.
"""

from __future__ import annotations

import csv
import os
import platform
import sys
import time
from datetime import UTC, date, datetime

import click
import sqlalchemy as sa

from bench.calls_list import OUT, echo
from bench.docs import publish
from bench.fresh import sqlite_app
from webapp.customers import billing, campaign
from webapp.extensions import db
from webapp.models import Customer, CustomerFlag

LIMIT_S = 60.0
DAY = date(2026, 12, 1)


def _csv(n: int) -> tuple[object, object]:
    billing_file = OUT / "customers.csv"
    campaign_file = OUT / "campaign.csv"
    with billing_file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["customer_number", "name", "phones", "email", "language", "contact_person"]
        )
        for i in range(n):
            writer.writerow([f"{200000 + i}", f"Asiakas {i}", f"+35840{i:07d}", "", "fi", ""])
    with campaign_file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone"])
        for i in range(n):
            writer.writerow([f"040 {i:07d}"])
        for i in range(n // 10):
            writer.writerow([f"050 {i:07d}"])
    return billing_file, campaign_file


def _load(path) -> tuple[float, billing.Summary]:
    began = time.perf_counter()
    rows, rejected = billing.read(path)
    assert not rejected, rejected[:3]
    summary = billing.load(rows)
    db.session.commit()
    return time.perf_counter() - began, summary


def _flag(n: int) -> None:
    ids = db.session.scalars(sa.select(Customer.id).order_by(Customer.id)).all()
    now = datetime.now(UTC)
    rows = [
        {
            "customer_id": i,
            "kind": "ban_telemarketing",
            "state": True,
            "source": "national_register",
            "valid_from": date(2025, 1, 1),
            "valid_until": date(2028, 1, 1),
            "recorded_at": now,
        }
        for i in ids[::10]
    ] + [
        {
            "customer_id": i,
            "kind": "restriction",
            "state": True,
            "source": "letter",
            "valid_from": date(2025, 1, 1),
            "valid_until": None,
            "recorded_at": now,
        }
        for i in ids[5::20]
    ]
    db.session.execute(sa.insert(CustomerFlag), rows)
    db.session.commit()


def measure(n: int) -> dict[str, float]:
    OUT.mkdir(parents=True, exist_ok=True)
    billing_file, campaign_file = _csv(n)
    app, _storage = sqlite_app("customers")
    with app.app_context():
        first_s, first = _load(billing_file)
        again_s, again = _load(billing_file)
        _flag(n)
        began = time.perf_counter()
        answers = list(campaign.check(campaign.read(campaign_file), "telemarketing", DAY))
        check_s = time.perf_counter() - began
        db.engine.dispose()
    refused = sum(1 for _g, _p, d in answers if d is not None and not d.allowed)
    expected_refused = len(range(0, n, 10)) + len([i for i in range(5, n, 20) if i % 10 != 0])
    right = (
        first.created == n
        and again.unchanged == n
        and len(answers) == n + n // 10
        and refused == expected_refused
    )
    return {
        "customers": n,
        "first_s": first_s,
        "again_s": again_s,
        "numbers": len(answers),
        "check_s": check_s,
        "refused": refused,
        "right": right,
    }


def _mark(seconds: float) -> str:
    return "✓" if seconds < LIMIT_S else "✗"


def section(f: dict[str, float]) -> str:
    return "\n".join(
        [
            "<!-- customers:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; SQLite; Python "
            f"{platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f}",
            "",
            "| measure | figure |",
            "|---|--:|",
            f"| `customers load`: {f['customers']:,} new customers | {f['first_s']:.1f} s "
            f"{_mark(f['first_s'])} |",
            f"| `customers load` again, nothing changed | {f['again_s']:.1f} s "
            f"{_mark(f['again_s'])} |",
            f"| `flags check`: {f['numbers']:,} numbers, telemarketing | {f['check_s']:.1f} s "
            f"({f['numbers'] / f['check_s']:,.0f}/s) {_mark(f['check_s'])} |",
            f"| refused (bans and restrictions), counted right | {f['refused']:,} "
            f"{'✓' if f['right'] else '✗'} |",
            "<!-- /customers:figures -->",
            "",
        ]
    )


HEADER = """## The customer register

Written by `python -m bench.customers`; the block between the `customers:figures` markers is
replaced on every run. Target (ours; the issue sets none): each step under a minute for
100,000 customers. Most of a load's time is parsing phone numbers (`phonenumbers`).
"""


@click.command()
@click.option("--customers", "n", default=100_000, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(n: int, docs: bool) -> None:
    """Time a billing load of N customers, its re-load, and a campaign check."""
    figures = measure(n)
    block = section(figures)
    echo(block)
    if docs:
        publish("customers", HEADER, block)
    ok = figures["right"] and max(figures["first_s"], figures["again_s"], figures["check_s"])
    sys.exit(0 if ok and ok < LIMIT_S else 1)


if __name__ == "__main__":
    main()
