"""The call list at scale: whole GET /calls requests against a million calls.

    python -m bench.calls_list [--calls 1000000] [--db sqlite|postgresql|both] [--repeat N]

For each engine it builds a database with the migrations and bulk-loads N calls (or reuses the
one it built before: ``bench/out/calls_<N>.sqlite``, PostgreSQL database ``tallenne_bench_<N>``),
then, for an agent and for a supervisor, times the first page, deep pages and each filter as
whole requests through the Flask test client, logged in, audit event included. Each scenario is
also timed against a bare Flask view that runs the very same SQL (checked statement for
statement) and renders the same rows in a plain table, and its query plan is checked for a
table scan. Figures go to stdout and to ``docs/benchmarks.md``. The exit status is 1 when any
p95 is 50 ms or more, any app/bare ratio is above 2, or any plan scans the table.

PostgreSQL is reached through ``TALLENNE_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), which names a database to connect to while the
benchmark database is created.
"""

from __future__ import annotations

import bisect
import math
import os
import platform
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import click
import phonenumbers
import sqlalchemy as sa
from flask import Flask, render_template, request
from flask_login import login_required
from werkzeug.security import generate_password_hash

from audit import Outcome
from webapp import auditing, create_app, policy
from webapp.calls.forms import CallFilterForm
from webapp.calls.queries import Cursor, apply_filters, page
from webapp.extensions import db
from webapp.models import (
    Call,
    Service,
    User,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOCS = ROOT / "docs" / "benchmarks.md"
LOCAL = ZoneInfo("Europe/Helsinki")

PG_ADMIN_URL = os.environ.get("TALLENNE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-password"  # noqa: S105  (a throw-away benchmark account)
SEED = 20261122
BATCH = 50_000
P95_LIMIT_MS = 50.0
RATIO_LIMIT = 2.0
WARMUP = 5
DEEP_FOLLOW = 20  # rel="next" links followed for the deep page

# The data: twelve months of business days up to this one, 08:00-17:00 Helsinki time.
LAST_DAY = date(2026, 11, 20)
DAY_OPEN, DAY_HOURS = 8, 9
N_AGENTS = 20
N_PHONES = 200_000
N_CUSTOMERS = 60_000  # the first numbers of the pool belong to known customers
SECRET_SHARE = 0.05
INBOUND_SHARE = 0.80
OVERFLOW_SHARE = 0.10  # calls answered by an agent of another team
NO_AGENT_SHARE = 0.01  # calls that ended before an agent answered

ALL_PURPOSES = [
    "order_verification",
    "complaint",
    "quality",
    "training",
    "service_development",
    "data_subject_request",
    "authority_request",
]
# register code, name, retention months, purposes, services (code, name, share of calls), agents
REGISTERS = [
    (
        "asiakaspalvelu",
        "Asiakaspalvelun puhelutallenteet",
        12,
        ALL_PURPOSES,
        [
            ("600", "Vesihuolto", 0.30),
            ("601", "Sähkösopimukset", 0.18),
            ("602", "Jätehuolto", 0.12),
        ],
        11,
    ),
    (
        "laskutus",
        "Laskutuksen puhelutallenteet",
        12,
        ["order_verification", "complaint", "quality", "data_subject_request"],
        [("610", "Laskutus", 0.22), ("611", "Perintä", 0.08)],
        6,
    ),
    (
        "myynti",
        "Myynnin puhelutallenteet",
        6,
        ["order_verification", "quality", "data_subject_request"],
        [("620", "Myynti", 0.10)],
        3,
    ),
]
SUPERVISOR_ID = 1
AGENT_IDS = list(range(2, 2 + N_AGENTS))

SERIAL_TABLES = ("register", "service", "user_account", "customer", "customer_phone", "call")
CALL_COLUMNS = [
    "id",
    "started_at",
    "duration_s",
    "direction",
    "service_id",
    "agent_id",
    "phone_e164",
    "phone_secret",
    "customer_id",
    "external_id",
    "recording_key",
    "recording_bytes",
    "recording_sha256",
    "created_at",
]


def echo(message: str = "") -> None:
    click.echo(message)
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# The data


def phone_pool(rng: random.Random) -> list[str]:
    prefixes = ["40", "41", "44", "45", "46", "50"]
    numbers: set[str] = set()
    while len(numbers) < N_PHONES:
        numbers.add(f"+358{rng.choice(prefixes)}{rng.randrange(10**7):07d}")
    return sorted(numbers, key=lambda _: rng.random())


def business_day_starts() -> list[int]:
    """Epoch seconds of 08:00 Helsinki time on each business day of the twelve months."""
    starts = []
    day = LAST_DAY - timedelta(days=364)
    while day <= LAST_DAY:
        if day.weekday() < 5:
            opening = datetime.combine(day, dtime(DAY_OPEN), tzinfo=LOCAL)
            starts.append(int(opening.timestamp()))
        day += timedelta(days=1)
    return starts


@dataclass
class Plan:
    """Ids and shares that the reference rows and the calls agree on."""

    services: list[tuple[int, int]]  # (service id, register index)
    service_cum: list[float]
    team: dict[int, list[int]]  # register index -> agent ids
    phones: list[str]


def make_plan(rng: random.Random) -> Plan:
    services: list[tuple[int, int]] = []
    shares: list[float] = []
    team: dict[int, list[int]] = {}
    agents = iter(AGENT_IDS)
    for r, (_code, _name, _months, _purposes, svcs, n_agents) in enumerate(REGISTERS):
        for _scode, _sname, share in svcs:
            services.append((len(services) + 1, r))
            shares.append(share)
        team[r] = [next(agents) for _ in range(n_agents)]
    cum, total = [], 0.0
    for share in shares:
        total += share
        cum.append(total)
    return Plan(services, cum, team, phone_pool(rng))


def reference_rows(plan: Plan, password_hash: str) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {
        "register": [],
        "register_purpose": [],
        "service": [],
        "user_account": [],
        "user_role": [],
        "customer": [],
        "customer_phone": [],
    }
    now = datetime(2026, 11, 21, tzinfo=UTC)
    service_id = 0
    for r, (code, name, months, purposes, svcs, _n) in enumerate(REGISTERS, start=1):
        rows["register"].append(
            {
                "id": r,
                "code": code,
                "name": name,
                "retention_months": months,
                "controller": "Benchmark Oy",
                "contact": "asiakaspalvelu@example.invalid",
                "dpo_contact": "tietosuoja@example.invalid",
            }
        )
        rows["register_purpose"] += [{"register_id": r, "purpose_code": p} for p in purposes]
        for scode, sname, _share in svcs:
            service_id += 1
            rows["service"].append(
                {"id": service_id, "register_id": r, "code": scode, "name": sname}
            )
    users = [(SUPERVISOR_ID, "supervisor", "Esihenkilö Sanna", "supervisor")] + [
        (uid, f"agent{i:02d}", f"Asiakasneuvoja {i:02d}", "agent")
        for i, uid in enumerate(AGENT_IDS, start=1)
    ]
    for uid, username, display, role in users:
        rows["user_account"].append(
            {
                "id": uid,
                "username": username,
                "display_name": display,
                "email": f"{username}@example.invalid",
                "auth_source": "local",
                "external_id": None,
                "password_hash": password_hash,
                "active": True,
                "created_at": now,
            }
        )
        rows["user_role"].append({"user_id": uid, "role": role})
    for i in range(1, N_CUSTOMERS + 1):
        rows["customer"].append(
            {
                "id": i,
                "customer_number": f"{100000 + i}",
                "name": f"Asiakas {i}",
                "email": None,
                "language": "fi",
                "contact_person": None,
            }
        )
        rows["customer_phone"].append(
            {"id": i, "customer_id": i, "phone_e164": plan.phones[i - 1], "secret": False}
        )
    return rows


def call_batches(n: int, plan: Plan, rng: random.Random) -> Iterator[list[tuple]]:
    """N calls, oldest first (ids grow with time, as they do when calls arrive), in batches."""
    days = business_day_starts()
    span = DAY_HOURS * 3600
    starts = sorted(rng.choice(days) + rng.randrange(span) for _ in range(n))
    customer_of = {phone: i for i, phone in enumerate(plan.phones[:N_CUSTOMERS], start=1)}
    all_agents = AGENT_IDS
    log_median = math.log(150)
    for first in range(0, n, BATCH):
        batch = []
        for i in range(first, min(first + BATCH, n)):
            call_id = i + 1
            started = datetime.fromtimestamp(starts[i], UTC)
            service_id, register = plan.services[
                bisect.bisect_left(plan.service_cum, rng.random() * plan.service_cum[-1])
            ]
            roll = rng.random()
            if roll < NO_AGENT_SHARE:
                agent_id = None
            elif roll < NO_AGENT_SHARE + OVERFLOW_SHARE:
                agent_id = rng.choice(all_agents)
            else:
                agent_id = rng.choice(plan.team[register])
            duration = int(min(900, max(10, rng.lognormvariate(log_median, 0.8))))
            direction = "in" if rng.random() < INBOUND_SHARE else "out"
            secret = direction == "in" and rng.random() < SECRET_SHARE / INBOUND_SHARE
            phone = None if secret else plan.phones[rng.randrange(N_PHONES)]
            batch.append(
                (
                    call_id,
                    started,
                    duration,
                    direction,
                    service_id,
                    agent_id,
                    phone,
                    secret,
                    customer_of.get(phone) if phone else None,
                    f"pbx-{call_id:09d}",
                    f"{started:%Y/%m/%d}/{call_id}.wav",
                    44 + duration * 16000,
                    f"{call_id:064x}",
                    started + timedelta(seconds=duration + 60),
                )
            )
        yield batch


# ---------------------------------------------------------------------------------------------
# Building and reusing the databases


def app_config(url: str) -> dict[str, object]:
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": "bench",
        "TESTING": True,
        "STORAGE_DIR": str(OUT / "recordings"),
        "WTF_CSRF_ENABLED": False,
    }


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(app_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def driver_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def expected_indexes() -> dict[str, list[str]]:
    return {
        index.name: [c.name for c in index.columns]
        for index in Call.__table__.indexes  # type: ignore[attr-defined]
    }


def is_ready(url: str, n: int) -> bool:
    """The database exists, holds n calls and has the call indexes the models declare."""
    engine = sa.create_engine(driver_url(url))
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if not inspector.has_table("call"):
                return False
            found = {
                ix["name"]: list(ix["column_names"])
                for ix in inspector.get_indexes("call")
                if ix["name"].startswith("ix_")
            }
            if found != expected_indexes():
                echo("  the call indexes differ from the models': rebuilding")
                return False
            count = conn.scalar(sa.text("SELECT count(*) FROM call"))
            return count == n
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def load(url: str, n: int) -> None:
    rng = random.Random(SEED)
    plan = make_plan(rng)
    password_hash = generate_password_hash(PASSWORD)
    reference = reference_rows(plan, password_hash)
    engine = sa.create_engine(driver_url(url))
    postgres = engine.dialect.name == "postgresql"
    # The models' own tables, so that values are stored exactly as the app stores them.
    tables = db.metadata.tables
    started = time.perf_counter()
    with engine.begin() as conn:
        if postgres:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        else:
            conn.exec_driver_sql("PRAGMA cache_size = -1000000")
        for name, rows in reference.items():
            conn.execute(sa.insert(tables[name]), rows)
        done, every = 0, max(BATCH, n // 10)

        def progress(rows: int) -> None:
            nonlocal done
            if (done + rows) // every > done // every or done + rows == n:
                took = time.perf_counter() - started
                echo(f"  {done + rows:>11,} / {n:,} calls ({took:.0f} s)")
            done += rows

        if postgres:
            raw = conn.connection.driver_connection
            columns = ", ".join(CALL_COLUMNS)
            with raw.cursor() as cur, cur.copy(f"COPY call ({columns}) FROM STDIN") as copy:
                for batch in call_batches(n, plan, rng):
                    for row in batch:
                        copy.write_row(row)
                    progress(len(batch))
        else:
            insert = sa.insert(tables["call"])
            for batch in call_batches(n, plan, rng):
                conn.execute(insert, [dict(zip(CALL_COLUMNS, row, strict=True)) for row in batch])
                progress(len(batch))
        if postgres:
            for table in (
                "register",
                "service",
                "user_account",
                "customer",
                "customer_phone",
                "call",
            ):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        echo(f"  committing ({time.perf_counter() - started:.0f} s so far)")
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    echo(f"  loaded {n:,} calls in {time.perf_counter() - started:.0f} s")


def ensure_sqlite(n: int) -> tuple[str, float | None]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"calls_{n}.sqlite"
    url = f"sqlite:///{path}"
    if path.exists() and is_ready(url, n):
        echo(f"  reusing {path.relative_to(ROOT)}")
        return url, None
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    migrate(url)
    load(url, n)
    return url, time.perf_counter() - started


def ensure_postgresql(n: int) -> tuple[str, float | None]:
    name = f"tallenne_bench_{n}"
    admin_url = sa.make_url(driver_url(PG_ADMIN_URL))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    if exists and is_ready(url, n):
        echo(f"  reusing database {name}")
        admin.dispose()
        return url, None
    started = time.perf_counter()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    migrate(url)
    load(url, n)
    return url, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# The bare view: the same SQL, the same rows, a plain table, and nothing else.

BARE_TEMPLATE = """<!doctype html>
<table>
{% for c in calls %}<tr data-id="{{ c.id }}"><td>{{ c.started_at }}</td>
<td>{{ c.service.name }}</td><td>{{ c.agent.display_name if c.agent else '' }}</td>
<td>{{ c.phone_e164 or '' }}</td>
<td>{{ c.direction }}</td><td>{{ c.duration_s }}</td></tr>
{% endfor %}</table>
"""


def create_bare_app(app: Flask) -> Flask:
    """A minimal Flask app on the same database and engine options as the real one."""
    bare = Flask("bench_bare")
    bare.config["SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
    bare.config["SQLALCHEMY_ENGINE_OPTIONS"] = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    db.init_app(bare)
    with bare.app_context():
        users = {u.id: u for u in db.session.scalars(sa.select(User))}
        for user in users.values():
            user.roles  # noqa: B018  (loaded now, the user is kept outside any session)
            db.session.expunge(user)
        services = [str(s) for s in db.session.scalars(sa.select(Service.id))]
    size = app.config["CALLS_PER_PAGE"]
    # Compiled once, as any template is: render_template_string would compile it on every
    # request, which would make the bare view slower and the ratio look better than it is.
    table = bare.jinja_env.from_string(BARE_TEMPLATE)

    @bare.get("/bare/<int:user_id>/calls")
    def calls(user_id: int):
        user = users[user_id]
        sees_all = policy.sees_all_calls(user)
        form = CallFilterForm(request.args)
        form.service.choices = ["", *services]
        if sees_all:
            form.agent.choices = ["", *map(str, users)]
        else:
            del form.agent
        rows: list[Call] = []
        if form.validate():
            query = apply_filters(policy.visible_calls(user), form, may_filter_agent=sees_all)
            after = Cursor.decode(request.args.get("after"))
            rows = list(db.session.scalars(page(query, after, size)))
        return render_template(table, calls=rows[:size])

    return bare


FLOOR_URL = "/bench/floor"
# The app's fixed cost, timed like the scenarios: what any signed-in page of the app costs
# before it has a form or a row, and the same with the durable call.search event a filtered
# list writes first. A ratio below floor/bare cannot be reached by work on the list itself.
FLOORS = {"signed-in page": FLOOR_URL, "signed-in page + search event": FLOOR_URL + "?event=1"}


def add_floor_route(app: Flask) -> None:
    """Add, to the benchmark's own instance of the app, a view with the app's fixed work
    only: the login check (session, user and roles), the page around the content (base.html:
    navigation, language form, CSRF token, security headers) and, when asked, the event."""
    empty = app.jinja_env.from_string('{% extends "base.html" %}{% block content %}{% endblock %}')

    @app.get(FLOOR_URL)
    @login_required
    def floor():
        if request.args.get("event"):
            auditing.write(
                "call.search", Outcome.ALLOWED, detail={"filters": ["bench"]}, keep_loaded=True
            )
        return render_template(empty)


# ---------------------------------------------------------------------------------------------
# Scenarios and measurement

CALL_LINK = re.compile(r'href="/calls/(\d+)"')
BARE_ROW = re.compile(r'data-id="(\d+)"')
NEXT_LINK = re.compile(r'<a rel="next" href="([^"]+)"')


@dataclass
class Scenario:
    name: str
    role: str
    query: str  # the query string, as a browser sends it
    app_ms: list[float] = field(default_factory=list)
    bare_ms: list[float] = field(default_factory=list)
    rows: int = 0
    plan: list[str] = field(default_factory=list)
    plan_summary: str = ""
    plan_ok: bool = True
    audited: int = 0
    sql_ms: float = 0.0
    queries: tuple[int, int] = (0, 0)  # statements per request: app, bare
    floor_p95: float = 0.0  # the app's fixed cost for such a request (see add_floor_route)

    @property
    def p50(self) -> float:
        return percentile(self.app_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.app_ms, 95)

    @property
    def bare_p50(self) -> float:
        return percentile(self.bare_ms, 50)

    @property
    def bare_p95(self) -> float:
        return percentile(self.bare_ms, 95)

    @property
    def ratio(self) -> float:
        return self.p95 / self.bare_p95

    @property
    def floor_ratio(self) -> float:
        """The lowest ratio the app could reach if its form and list cost nothing."""
        return self.floor_p95 / self.bare_p95

    @property
    def failures(self) -> list[str]:
        failed = []
        if self.p95 >= P95_LIMIT_MS:
            failed.append(f"p95 {self.p95:.1f} ms")
        if self.ratio > RATIO_LIMIT:
            failed.append(f"ratio {self.ratio:.2f}")
        if not self.plan_ok:
            failed.append("table scan or sort")
        return failed


def percentile(samples: list[float], pct: float) -> float:
    """Nearest rank."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class EngineResult:
    engine: str
    version: str
    calls: int
    load_s: float | None
    scenarios: list[Scenario]
    repeat: int
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load average, start and end
    floors: dict[str, list[float]] = field(default_factory=dict)  # fixed cost, ms samples


def facts(url: str, agent_id: int | None) -> dict[str, str]:
    """Filter values taken from the data a role sees: values that exist, and typical ones."""
    engine = sa.create_engine(driver_url(url))
    visible = Call.agent_id == agent_id if agent_id else sa.true()
    found: dict[str, str] = {}
    with engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(Call).where(visible))
        newest_first = (Call.started_at.desc(), Call.id.desc())
        mid = conn.execute(
            sa.select(Call.started_at, Call.id)
            .where(visible)
            .order_by(*newest_first)
            .offset(total // 2)
            .limit(1)
        ).one()
        found["deep"] = Cursor(mid.started_at, mid.id).encode()
        by_service = conn.execute(
            sa.select(Call.service_id, sa.func.count().label("n"))
            .where(visible)
            .group_by(Call.service_id)
            .order_by(sa.text("n DESC"))
        ).all()
        found["service"] = str(by_service[min(1, len(by_service) - 1)].service_id)
        phone = conn.scalar(
            sa.select(Call.phone_e164)
            .where(visible, Call.phone_e164.is_not(None))
            .order_by(*newest_first)
            .offset(min(1000, total // 4))
            .limit(1)
        )
        number = phonenumbers.parse(phone, "FI")
        found["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        found["total"] = str(total)
    engine.dispose()
    monday = LAST_DAY - timedelta(weeks=13, days=LAST_DAY.weekday())
    found["from"], found["to"] = monday.isoformat(), (monday + timedelta(days=6)).isoformat()
    return found


def scenarios_for(role: str, values: dict[str, str], agent_id: int) -> list[Scenario]:
    def qs(**params: object) -> str:
        return urlencode(params)

    listed = [
        Scenario("first page", role, ""),
        Scenario(f"page {DEEP_FOLLOW + 1} (rel=next ×{DEEP_FOLLOW})", role, "<follow>"),
        Scenario("deep page (cursor mid-data)", role, qs(after=values["deep"])),
        Scenario("from+to (one week)", role, qs(**{"from": values["from"], "to": values["to"]})),
        Scenario("service", role, qs(service=values["service"])),
        Scenario("phone", role, qs(phone=values["phone"])),
        Scenario("min_duration=600", role, qs(min_duration=600)),
        Scenario("max_duration=30", role, qs(max_duration=30)),
        Scenario("direction=out", role, qs(direction="out")),
    ]
    if role == "supervisor":
        listed.append(Scenario("agent", role, qs(agent=agent_id)))
    return listed


class Capture:
    """The SQL statements an engine runs while switched on."""

    def __init__(self, engine: sa.Engine) -> None:
        self.on = False
        self.statements: list[tuple[str, object]] = []
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on:
            self.statements.append((statement, parameters))

    def list_query(self, client, url: str):
        """GET url; the response, the one call-list statement it ran, and how many it ran."""
        self.statements, self.on = [], True
        try:
            response = get_ok(client, url)
        finally:
            self.on = False
        found = [
            (s, p)
            for s, p in self.statements
            if "FROM call" in s and "ORDER BY call.started_at DESC, call.id DESC" in s
        ]
        if len(found) != 1:
            raise click.ClickException(f"expected one call-list query, found {len(found)}")
        return response, found[0], len(self.statements)


def get_ok(client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        raise click.ClickException(f"GET {url}: {response.status_code}")
    return response


def max_audit_seq(url: str) -> int:
    engine = sa.create_engine(driver_url(url))
    with engine.connect() as conn:
        seq = conn.scalar(sa.text("SELECT coalesce(max(seq), 0) FROM audit_event"))
    engine.dispose()
    return seq


def time_sql(url: str, statement: str, parameters: object, times: int = 20) -> float:
    """p50 of the list statement alone, rows fetched, in ms: what the database's part is."""
    engine = sa.create_engine(driver_url(url))
    samples = []
    with engine.connect() as conn:
        for i in range(WARMUP + times):
            t0 = time.perf_counter()
            conn.exec_driver_sql(statement, parameters).fetchall()
            if i >= WARMUP:
                samples.append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return percentile(samples, 50)


def explain(url: str, statement: str, parameters: object, postgres: bool) -> list[str]:
    engine = sa.create_engine(driver_url(url))
    with engine.connect() as conn:
        if postgres:
            result = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [row[0] for row in result]
        else:
            result = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [row[3] for row in result]
    engine.dispose()
    return lines


SQLITE_CALL_INDEX = re.compile(r"^(?:SCAN|SEARCH) call USING (?:COVERING )?INDEX (\w+)(.*)$")
PG_CALL_INDEX = re.compile(
    r"(?:Index (?:Only )?Scan(?: Backward)? using (\w+) on call\b"
    r"|Bitmap Index Scan on (ix_call\w+))"
)


def judge_plan(lines: list[str], postgres: bool) -> tuple[bool, str]:
    if postgres:
        ok = not any("Seq Scan on call" in line for line in lines)
        indexes = []
        for line in lines:
            for match in PG_CALL_INDEX.finditer(line):
                indexes.append(match.group(1) or match.group(2))
        removed = sum(
            int(m.group(1))
            for line in lines
            if (m := re.search(r"Rows Removed by Filter: (\d+)", line))
        )
        sort = any(re.search(r"->\s+Sort\b|^\s*Sort\b", line) for line in lines)
        took = next((line.split(":")[1].strip() for line in lines if "Execution Time" in line), "")
        summary = ", ".join(dict.fromkeys(indexes)) or "no index"
        summary += f"; {removed:,} rows filtered" if removed else ""
        summary += "; sort" if sort else ""
        summary += f"; {took}"
        return ok, summary
    ok, parts = True, []
    for line in lines:
        if re.match(r"^SCAN call\b", line) and "INDEX" not in line:
            ok = False
            parts.append("SCAN call (table)")
        elif "TEMP B-TREE" in line and "ORDER BY" in line:
            ok = False
            parts.append("temp b-tree for ORDER BY")
        elif match := SQLITE_CALL_INDEX.match(line):
            verb = line.split()[0]
            parts.append(f"{verb} {match.group(1)}{match.group(2)}")
    return ok, "; ".join(parts) or "?"


def follow_next(client, start: str, times: int) -> str:
    url = start
    for _ in range(times):
        match = NEXT_LINK.search(get_ok(client, url).text)
        if not match:
            break
        url = unescape(match.group(1))
    return url


def measure(
    kind: str, url: str, n: int, load_s: float | None, repeat: int, plans: bool = False
) -> EngineResult:
    postgres = kind == "postgresql"
    load_at_start = os.getloadavg()[0]
    app = create_app(app_config(url))
    add_floor_route(app)
    bare = create_bare_app(app)
    with app.app_context():
        app_capture = Capture(db.engine)
    with bare.app_context():
        bare_capture = Capture(db.engine)
        version = db.session.scalar(
            sa.text("SELECT version()" if postgres else "SELECT sqlite_version()")
        )
    version = version.split(" on ")[0] if postgres else f"SQLite {version}"

    agent_counts = {}
    engine = sa.create_engine(driver_url(url))
    with engine.connect() as conn:
        for agent_id, count in conn.execute(
            sa.select(Call.agent_id, sa.func.count())
            .where(Call.agent_id.is_not(None))
            .group_by(Call.agent_id)
        ):
            agent_counts[agent_id] = count
    engine.dispose()
    agent_id = sorted(agent_counts, key=agent_counts.get)[len(agent_counts) // 2]
    with bare.app_context():
        usernames = dict(db.session.execute(sa.select(User.id, User.username)).all())

    scenarios: list[Scenario] = []
    floors: dict[str, list[float]] = {}
    for role, user_id in (("agent", agent_id), ("supervisor", SUPERVISOR_ID)):
        values = facts(url, agent_id if role == "agent" else None)
        echo(
            f"  {role} {usernames[user_id]} sees {int(values['total']):,} calls; "
            f"service={values['service']}, phone={values['phone']!r}, "
            f"week {values['from']}..{values['to']}"
        )
        client = app.test_client()
        login = client.post("/login", data={"username": usernames[user_id], "password": PASSWORD})
        if login.status_code != 302:
            raise click.ClickException(f"login as {usernames[user_id]} failed")
        bare_client = bare.test_client()
        for scenario in scenarios_for(role, values, agent_id):
            if scenario.query == "<follow>":
                target = follow_next(client, "/calls", DEEP_FOLLOW)
                scenario.query = target.partition("?")[2]
            app_url = "/calls" + (f"?{scenario.query}" if scenario.query else "")
            bare_url = f"/bare/{user_id}/calls" + (f"?{scenario.query}" if scenario.query else "")

            # Same SQL, same rows.
            app_response, app_sql, app_count = app_capture.list_query(client, app_url)
            bare_response, bare_sql, bare_count = bare_capture.list_query(bare_client, bare_url)
            scenario.queries = (app_count, bare_count)
            if app_sql != bare_sql:
                raise click.ClickException(f"{scenario.name}: the bare view ran other SQL")
            app_ids = CALL_LINK.findall(app_response.text)
            if app_ids != BARE_ROW.findall(bare_response.text) or not app_ids:
                raise click.ClickException(f"{scenario.name}: the bare view shows other rows")
            scenario.rows = len(app_ids)
            scenario.plan = explain(url, *app_sql, postgres=postgres)
            scenario.plan_ok, scenario.plan_summary = judge_plan(scenario.plan, postgres)
            scenario.sql_ms = time_sql(url, *app_sql)

            # The fixed cost of a request like this one: with the search event if it writes one.
            searches = any(k != "after" and v for k, v in parse_qsl(scenario.query))
            floor_name = "signed-in page + search event" if searches else "signed-in page"
            floor_ms: list[float] = []
            for _ in range(WARMUP):
                get_ok(client, app_url)
                get_ok(bare_client, bare_url)
                get_ok(client, FLOORS[floor_name])
            before = max_audit_seq(url)
            for i in range(repeat):
                # Rotate which goes first, so that none always follows another.
                runs = [
                    (client, app_url, scenario.app_ms),
                    (bare_client, bare_url, scenario.bare_ms),
                    (client, FLOORS[floor_name], floor_ms),
                ]
                for c, u, samples in runs[i % 3 :] + runs[: i % 3]:
                    t0 = time.perf_counter()
                    get_ok(c, u)
                    samples.append((time.perf_counter() - t0) * 1000)
            scenario.audited = max_audit_seq(url) - before - (repeat if searches else 0)
            scenario.floor_p95 = percentile(floor_ms, 95)
            floors.setdefault(floor_name, []).extend(floor_ms)
            mark = "ok" if not scenario.failures else "FAIL " + ", ".join(scenario.failures)
            echo(
                f"    {scenario.name:<30} {role:<10} p50 {scenario.p50:6.1f}  "
                f"p95 {scenario.p95:6.1f}  bare p95 {scenario.bare_p95:6.1f}  "
                f"ratio {scenario.ratio:4.2f} (fixed cost alone {scenario.floor_ratio:4.2f})  "
                f"sql {scenario.sql_ms:5.1f}  "
                f"queries {scenario.queries[0]}/{scenario.queries[1]}  {mark}"
            )
            echo(f"      plan: {scenario.plan_summary}")
            if plans:
                for line in scenario.plan:
                    echo(f"        {line}")
            scenarios.append(scenario)
    for each in (app, bare):
        with each.app_context():
            db.engine.dispose()
    load_average = (load_at_start, os.getloadavg()[0])
    return EngineResult(kind, version, n, load_s, scenarios, repeat, load_average, floors)


# ---------------------------------------------------------------------------------------------
# Reporting

DOC_HEADER = """# Benchmarks

## The call list at a million calls

Written by `python -m bench.calls_list` (`make bench`); the blocks between `<!-- calls_list:… -->`
markers are replaced on every run (one per database engine), text outside them is kept.

Each figure is a whole `GET /calls` request through the Flask test client, logged in
(server-side session, user loader), with the filter form, the `call.search` audit event
(committed; the *audit events* column counts those written while timing) and the full page
template. Each scenario is warmed up, then timed `repeat` times, interleaved with the same request
to a bare Flask view (`create_bare_app` in `bench/calls_list.py`) that runs the same SQL (its
statement and parameters are checked against the app's) and renders the same rows (checked) in a
plain table, from a template compiled once. *Ratio* is app p95 / bare p95. *SQL p50* is the list
statement alone, rows fetched. *Queries* counts the statements of one request. The plan is
SQLite's `EXPLAIN QUERY PLAN` or PostgreSQL's `EXPLAIN (ANALYZE, BUFFERS)` of the statement the
app ran; a table scan (or, on SQLite, a sort for the ORDER BY) fails the run. *Fixed cost / bare*
is the p95 of a view with only the app's fixed work (`add_floor_route`: signed in, the page around
the content, and the search event where the scenario writes one; no form, no list), timed
interleaved with the scenario, over the bare p95: the lowest ratio that work on the list could
reach.

Targets: p95 under 50 ms, ratio at most 2, no table scan (the run exits 1 otherwise).

Data: 20 agents in three teams (10 % of calls overflow to another team), one supervisor, six
services in three registers, calls on business days (08-17 Helsinki time) over twelve months,
80 % inbound, durations 10-900 s (log-normal, median 150 s), numbers from a pool of 200,000
(+35840…/+35850…), 5 % secret numbers, 60,000 customers. The agent is the one with the median
number of calls; the service filter is the role's second busiest service. The SQLite database has
no `ANALYZE` statistics (the app never runs it); PostgreSQL's are fresh (`VACUUM ANALYZE` after
the load, as autovacuum would do).
"""


def section(result: EngineResult) -> str:
    title = "SQLite" if result.engine == "sqlite" else "PostgreSQL"
    loaded = (
        f"loaded in {result.load_s:.0f} s (migrations + bulk load)"
        if result.load_s is not None
        else "database reused from an earlier run"
    )
    lines = [
        f"<!-- calls_list:{result.engine} -->",
        f"### {title}",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {result.version}; "
        f"Python {platform.python_version()}",
        f"- Machine: 2 cores, shared VM ({os.cpu_count()} CPUs seen); 1-minute load average "
        f"{result.load_average[0]:.1f} at the start, {result.load_average[1]:.1f} at the end "
        "(other work, e.g. test runs, shares the machine)",
        f"- Calls: {result.calls:,}; {loaded}",
        f"- Each scenario: {WARMUP} warm-up requests, then {result.repeat} timed",
        "",
        "| scenario | role | rows | p50 ms | p95 ms | bare p50 ms | bare p95 ms | ratio | "
        "fixed cost / bare | SQL p50 ms | queries app/bare | audit events | plan / index used "
        "| ok |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for s in result.scenarios:
        ok = "✓" if not s.failures else "✗ " + ", ".join(s.failures)
        plan = s.plan_summary.replace("|", "\\|")
        lines.append(
            f"| {s.name} | {s.role} | {s.rows} | {s.p50:.1f} | {s.p95:.1f} | {s.bare_p50:.1f} | "
            f"{s.bare_p95:.1f} | {s.ratio:.2f} | {s.floor_ratio:.2f} | {s.sql_ms:.1f} | "
            f"{s.queries[0]}/{s.queries[1]} | "
            f"{s.audited} | {plan} | {ok} |"
        )
    fixed = ", ".join(
        f"{name}: p50 {percentile(samples, 50):.1f} ms, p95 {percentile(samples, 95):.1f} ms"
        for name, samples in result.floors.items()
    )
    lines += [
        "",
        f"The app's fixed cost (`add_floor_route`, no form, no list): {fixed}.",
        "",
        "Scenario values: "
        + "; ".join(f"{s.role} {s.name}: `{s.query or '(none)'}`" for s in result.scenarios),
        f"<!-- /calls_list:{result.engine} -->",
    ]
    return "\n".join(lines) + "\n"


def write_docs(results: list[EngineResult]) -> None:
    text = DOCS.read_text() if DOCS.exists() else ""
    blocks = [("header", f"<!-- calls_list:header -->\n{DOC_HEADER}<!-- /calls_list:header -->\n")]
    blocks += [(result.engine, section(result)) for result in results]
    for name, block in blocks:
        pattern = re.compile(
            rf"<!-- calls_list:{name} -->.*?<!-- /calls_list:{name} -->\n", re.DOTALL
        )
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=block: b, text)
        elif name == "header":
            text = block + text
        else:
            text = text.rstrip("\n") + "\n\n" + block
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


@click.command()
@click.option("--calls", "n", default=1_000_000, show_default=True, help="Calls in the database.")
@click.option(
    "--db",
    "engines",
    type=click.Choice(["sqlite", "postgresql", "both"]),
    default="both",
    show_default=True,
)
@click.option("--repeat", default=40, show_default=True, help="Timed requests per scenario.")
@click.option(
    "--docs/--no-docs", default=True, show_default=True, help="Update docs/benchmarks.md."
)
@click.option("--plans", is_flag=True, help="Print each scenario's whole query plan.")
def main(n: int, engines: str, repeat: int, docs: bool, plans: bool) -> None:
    """Time the call list as whole requests, and check its query plans."""
    kinds = ["sqlite", "postgresql"] if engines == "both" else [engines]
    results = []
    for kind in kinds:
        echo(f"{kind}: {n:,} calls")
        url, load_s = ensure_sqlite(n) if kind == "sqlite" else ensure_postgresql(n)
        results.append(measure(kind, url, n, load_s, repeat, plans))
    if docs:
        write_docs(results)
        echo(f"wrote {DOCS.relative_to(ROOT)}")
    failed = [(r.engine, s) for r in results for s in r.scenarios if s.failures]
    for engine, s in failed:
        echo(f"FAIL {engine} {s.role} {s.name}: {', '.join(s.failures)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
