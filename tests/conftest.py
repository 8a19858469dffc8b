"""Fixtures. Every test database is built by running the migrations (once per run, into a
template that each test copies), on SQLite and, when TALLENNE_TEST_DATABASE_URL names one, on
PostgreSQL. Under CI=true a missing service fails the test instead of skipping it."""

from __future__ import annotations

import gc
import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests import samba
from tests.support import PASSWORD, ROLES, Domain, World, login, require
from webapp import create_app, purposes
from webapp.extensions import db
from webapp.models import (
    Criterion,
    Customer,
    CustomerPhone,
    Register,
    RegisterPurpose,
    Scorecard,
    ScorecardVersion,
    Service,
    User,
)

PG_URL = os.environ.get("TALLENNE_TEST_DATABASE_URL")


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "tallenne.db"
    _migrate(f"sqlite:///{path}")
    return path


def _pg_admin_url() -> sa.URL:
    url = sa.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return url


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require(bool(PG_URL), "TALLENNE_TEST_DATABASE_URL is not set: no PostgreSQL to test on")
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"tallenne_tmpl_{os.getpid()}"
    try:
        with admin.connect() as conn:
            _drop_leftovers(conn)
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        require(False, f"PostgreSQL at TALLENNE_TEST_DATABASE_URL does not answer: {exc}")
    _migrate(_pg_admin_url().set(database=name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _drop_leftovers(conn: sa.Connection) -> None:
    """Databases of earlier runs that were killed before they could drop them."""
    names = conn.execute(
        sa.text("SELECT datname FROM pg_database WHERE datname ~ '^tallenne_(tmpl|t)_[0-9]+'")
    ).scalars()
    for leftover in names:
        pid = int(leftover.split("_")[2])
        if pid == os.getpid() or not Path(f"/proc/{pid}").exists():
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{leftover}" WITH (FORCE)'))


_counter = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "tallenne.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"tallenne_t_{os.getpid()}_{next(_counter)}"
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _pg_admin_url().set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def app_config(database_url: str, tmp_path: Path, **overrides: object) -> dict[str, object]:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "STORAGE_DIR": str(tmp_path / "recordings"),
        "AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit-checkpoints.jsonl"),
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    return config


@pytest.fixture
def app(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app under test. Settings for one test: ``@pytest.mark.app_config(NAME=value)``.

    The test itself runs in the context of a twin app on the same database. Flask reuses an
    app context that is already pushed for the same app, so without the twin every request
    would share the test's ``g`` and session; with it, each request gets a fresh context, as
    it does under gunicorn. (One pair per test: Flask-SQLAlchemy binds a session to the engine
    of the current app, so a second pair would lend the first one's objects its connections.)
    """
    marker = request.node.get_closest_marker("app_config")
    settings = {}
    if request.node.get_closest_marker("directory"):
        settings.update(request.getfixturevalue("ad").settings)
    settings.update(marker.kwargs if marker else {})
    config = app_config(database_url, tmp_path, **settings)
    served = create_app(config)
    twin = create_app(config)
    with twin.app_context():
        yield served
        db.session.remove()
    for each in (served, twin):
        with each.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def password_hash() -> str:
    # scrypt on purpose costs time; once per run is enough for the tests.
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD)


@pytest.fixture
def world(app: Flask, password_hash: str) -> World:
    w = World()
    # One scorecard for both registers: two sections, scales of 1–5 and 0–1, weights 2 and 1.
    w.scorecard = ScorecardVersion(
        scorecard=Scorecard(name="Asiakaspalvelun laatu"),
        number=1,
        criteria=[
            Criterion(
                position=1, section="Avaus", title="Tervehdys", scale_min=1, scale_max=5, weight=2
            ),
            Criterion(
                position=2,
                section="Avaus",
                title="Tunnistaminen",
                scale_min=0,
                scale_max=1,
                weight=1,
            ),
            Criterion(
                position=3, section="Ratkaisu", title="Ratkaisu", scale_min=1, scale_max=5, weight=2
            ),
        ],
    )
    db.session.add(w.scorecard)
    for code, name, months, purpose_codes, services in [
        (
            "asiakaspalvelu",
            "Asiakaspalvelun puhelutallenteet",
            12,
            purposes.CODES,
            [("600", "vesi", "Vesihuolto")],
        ),
        (
            "myynti",
            "Myynnin puhelutallenteet",
            6,
            ["order_verification", "quality", "data_subject_request"],
            [("620", "myynti", "Myynti")],
        ),
    ]:
        register = Register(
            code=code,
            name=name,
            retention_months=months,
            controller="Demo Oy",
            contact="asiakaspalvelu@example.invalid",
            dpo_contact="tietosuoja@example.invalid",
            scorecard=w.scorecard.scorecard,
        )
        db.session.add(register)
        db.session.flush()
        for p in purpose_codes:
            db.session.add(RegisterPurpose(register_id=register.id, purpose_code=p))
        for scode, key, sname in services:
            w.services[key] = Service(register=register, code=scode, name=sname)
            db.session.add(w.services[key])
    for username, role in ROLES.items():
        user = User(username=username, display_name=username.title(), auth_source="local")
        user.roles = {role}
        user.password_hash = password_hash
        db.session.add(user)
        w.users[username] = user
    customer = Customer(customer_number="100001", name="Maija Meikäläinen")
    customer.phones.append(CustomerPhone(phone_e164="+358401234567"))
    db.session.add(customer)
    w.customer = customer
    db.session.commit()
    base = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    w.add_call("aino", "aino", started_at=base, customer=customer)
    w.add_call(
        "aino_secret", "aino", started_at=base + timedelta(hours=1), secret=True, customer=customer
    )
    w.add_call(
        "eero",
        "eero",
        started_at=base + timedelta(hours=2),
        service="myynti",
        direction="out",
        phone="+358409876543",
    )
    w.add_call("sanna", "sanna", started_at=base + timedelta(hours=3))
    w.add_call("tiina", "tiina", started_at=base + timedelta(hours=4))
    w.add_call("matti", "matti", started_at=base + timedelta(hours=5))
    w.add_call("pekka", "pekka", started_at=base + timedelta(hours=6))
    return w


@pytest.fixture
def login_as(app: Flask, world: World) -> Callable[[str], FlaskClient]:
    def _login(username: str) -> FlaskClient:
        client = app.test_client()
        response = login(client, username)
        assert response.status_code == 302, response.text
        return client

    return _login


samba_dc = pytest.fixture(scope="session", name="samba_dc")(samba.samba_dc)


@pytest.fixture(scope="session")
def ad(samba_dc: samba.SambaDC) -> Domain:
    """The suite's private Samba AD domain controller (one per run; tests/samba.py), with
    Tallenne's role groups and a department group nested in the agents' group. Each test makes
    its own users."""
    return Domain(samba_dc)


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    # A connection left open is reported when it is collected; collect now, so that the
    # ResourceWarning (an error here) names the test that leaked it.
    yield
    gc.collect()
