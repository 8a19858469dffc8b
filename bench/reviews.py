"""The monthly review queue at scale: a month of 100,000 calls by 200 agents, drawn.

    python -m bench.reviews [--calls 100000]

A fresh SQLite database under ``bench/out`` gets one register with a scorecard and a sample
size of 3, 200 agents, 20,000 customers of whom a twentieth object to processing, and CALLS
calls in November 2026 (Helsinki). Timed: the draw (``sampling.draw``, as the queue page makes
it), the same draw again (it must be equal), and the queue page as a whole request, signed in
as a supervisor. Figures go to stdout and to ``docs/benchmarks.md``; exit status 1 when the
page takes a second or more, or the draw is not reproducible or takes an objecting
customer's call.
"""

from __future__ import annotations

import os
import platform
import random
import secrets
import sys
import time
from datetime import UTC, date, datetime, timedelta

import click
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from bench.calls_list import OUT, echo
from bench.docs import publish
from bench.fresh import insert_calls, one_service, sqlite_app
from webapp.extensions import db
from webapp.models import (
    Call,
    Criterion,
    Customer,
    CustomerFlag,
    Register,
    Role,
    Scorecard,
    ScorecardVersion,
    User,
)
from webapp.reviews import sampling

LIMIT_S = 1.0
MONTH = date(2026, 11, 1)
AGENTS = 200
CUSTOMERS = 20_000
PASSWORD = secrets.token_urlsafe(12)  # the supervisor's, for this run only


def _fill(n: int):
    app, _storage = sqlite_app("reviews")
    app.config["WTF_CSRF_ENABLED"] = False  # the benchmark signs in without a form
    rng = random.Random(8)
    with app.app_context():
        service = one_service("asiakaspalvelu", 12, "600")
        register = db.session.get(Register, service.register_id)
        version = ScorecardVersion(
            scorecard=Scorecard(name="Laatu"),
            number=1,
            criteria=[Criterion(position=1, section="A", title="A", scale_min=1, scale_max=5)],
        )
        register.scorecard = version.scorecard
        register.review_sample_size = 3
        db.session.add(version)
        db.session.execute(
            sa.text("INSERT INTO register_purpose VALUES (:r, 'quality')"), {"r": register.id}
        )
        hashed = generate_password_hash(PASSWORD)
        supervisor = User(username="esihenkilo", display_name="Esihenkilö", password_hash=hashed)
        supervisor.roles = {Role.SUPERVISOR}
        db.session.add(supervisor)
        agents = []
        for i in range(AGENTS):
            agent = User(username=f"agent{i}", display_name=f"Agentti {i}", team=f"T{i % 8}")
            agent.roles = {Role.AGENT}
            agents.append(agent)
        db.session.add_all(agents)
        db.session.execute(
            sa.insert(Customer),
            [{"customer_number": str(i), "name": f"Asiakas {i}"} for i in range(CUSTOMERS)],
        )
        db.session.flush()
        agent_ids = [a.id for a in agents]
        customer_ids = db.session.scalars(sa.select(Customer.id)).all()
        objecting = set(customer_ids[::20])
        db.session.execute(
            sa.insert(CustomerFlag),
            [
                {
                    "customer_id": c,
                    "kind": "objection",
                    "state": True,
                    "source": "letter",
                    "valid_from": date(2026, 1, 1),
                    "recorded_at": datetime(2026, 1, 1, tzinfo=UTC),
                }
                for c in objecting
            ],
        )
        since, until = sampling.bounds(MONTH)
        span = (until - since).total_seconds()
        starts = (since + timedelta(seconds=span * i / n) for i in range(n))
        insert_calls(
            {
                "started_at": started,
                "duration_s": 120,
                "direction": "in",
                "service_id": service.id,
                "agent_id": rng.choice(agent_ids),
                "customer_id": rng.choice(customer_ids) if rng.random() < 0.8 else None,
                "recording_key": f"{i:08x}",
                "recording_bytes": 0,
                "recording_sha256": "0" * 64,
                "phone_secret": False,
                "created_at": started,
            }
            for i, started in enumerate(starts)
        )
    return app, objecting


def measure(n: int) -> dict[str, object]:
    app, objecting = _fill(n)
    with app.app_context():
        seed = sampling.seed_of(MONTH)
        began = time.perf_counter()
        sample = sampling.draw(MONTH, seed, day=date(2026, 12, 1))
        draw_s = time.perf_counter() - began
        began = time.perf_counter()
        again = sampling.draw(MONTH, seed, day=date(2026, 12, 1))
        again_s = time.perf_counter() - began
        drawn = sample.call_ids
        customers = dict(
            db.session.execute(sa.select(Call.id, Call.customer_id).where(Call.id.in_(drawn)))
            .tuples()
            .all()
        )
        clean = not ({customers[i] for i in drawn} & objecting)
        client = app.test_client()
        client.post("/login", data={"username": "esihenkilo", "password": PASSWORD})
        pages = []
        for _ in range(5):
            began = time.perf_counter()
            response = client.get("/reviews?month=2026-11")
            pages.append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
        db.engine.dispose()
    return {
        "calls": n,
        "drawn": len(drawn),
        "draw_s": draw_s,
        "again_s": again_s,
        "same": again.calls == sample.calls,
        "clean": clean,
        "page_s": sorted(pages)[len(pages) // 2],
    }


def section(f: dict[str, object]) -> str:
    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    return "\n".join(
        [
            "<!-- reviews:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; SQLite; Python "
            f"{platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f}",
            "",
            "| measure | figure |",
            "|---|--:|",
            f"| calls in the month, by {AGENTS} agents | {f['calls']:,} |",
            f"| calls drawn (3 a agent) | {f['drawn']:,} |",
            f"| the draw | {f['draw_s']:.2f} s |",
            f"| the same draw again | {f['again_s']:.2f} s, equal {mark(f['same'])} |",
            f"| no objecting customer's call drawn | {mark(f['clean'])} |",
            f"| the queue page, median of 5 requests | {f['page_s']:.2f} s "
            f"{mark(f['page_s'] < LIMIT_S)} |",
            "<!-- /reviews:figures -->",
            "",
        ]
    )


HEADER = """## The monthly review queue

Written by `python -m bench.reviews`; the block between the `reviews:figures` markers is
replaced on every run. Target: a month of 100,000 calls drawn and the queue page served in
under a second, the same draw every time, no objecting customer's call in it.
"""


@click.command()
@click.option("--calls", "n", default=100_000, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(n: int, docs: bool) -> None:
    """Time the review queue of a month of N calls."""
    OUT.mkdir(parents=True, exist_ok=True)
    figures = measure(n)
    block = section(figures)
    echo(block)
    if docs:
        publish("reviews", HEADER, block)
    ok = figures["page_s"] < LIMIT_S and figures["same"] and figures["clean"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
