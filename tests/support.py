"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import wave
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from webapp.extensions import db
from webapp.models import Call, Customer, Role, Service, User
from webapp.storage import storage

CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery staple"

ROLES = {
    "aino": Role.AGENT,
    "eero": Role.AGENT,
    "sanna": Role.SUPERVISOR,
    "pekka": Role.ADMIN,
    "tiina": Role.DPO,
    "matti": Role.MAINTAINER,
}


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing, except in CI, where that is a failure."""
    if not condition:
        if CI:
            pytest.fail(f"CI must prove this, but: {reason}")
        pytest.skip(reason)


def key_files(folder) -> dict[str, str]:
    """The key files that a start-up outside the demo and the tests needs, made in ``folder``."""
    (folder / "audit_key").write_text("ab" * 32 + "\n")
    (folder / "master_keys").write_text(f"test-1 {'cd' * 32}\n")
    return {
        "AUDIT_KEY_FILE": str(folder / "audit_key"),
        "MASTER_KEY_FILE": str(folder / "master_keys"),
    }


def wav_bytes(seconds: float = 2.0, rate: int = 8000, tone: int = 440) -> bytes:
    frames = bytearray()
    for i in range(int(seconds * rate)):
        value = int(8000 * math.sin(2 * math.pi * tone * i / rate))
        frames += value.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buffer.getvalue()


class World:
    """Named things the tests refer to."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.calls: dict[str, Call] = {}
        self.services: dict[str, Service] = {}
        self.audio: dict[int, bytes] = {}
        self.customer: Customer | None = None
        self.scorecard = None  # the ScorecardVersion both registers review on

    def add_call(
        self,
        name: str,
        agent: str | None,
        *,
        started_at: datetime | None = None,
        seconds: float = 2.0,
        service: str = "vesi",
        direction: str = "in",
        phone: str | None = "+358401234567",
        secret: bool = False,
        customer: Customer | None = None,
    ) -> Call:
        data = wav_bytes(seconds, tone=300 + 10 * len(self.calls))
        started = started_at or datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
        stored = storage().put(data, started)
        call = Call(
            started_at=started,
            duration_s=int(seconds),
            direction=direction,
            service=self.services[service],
            agent=self.users[agent] if agent else None,
            phone_e164=None if secret else phone,
            phone_secret=secret,
            customer=customer,
        )
        call.keep(stored)
        db.session.add(call)
        db.session.commit()
        self.calls[name] = call
        self.audio[call.id] = data
        return call


def login(client: FlaskClient, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def audit_rows(**where: object) -> list[sa.Row]:
    from audit import events

    query = sa.select(events).order_by(events.c.seq)
    for column, value in where.items():
        query = query.where(events.c[column] == value)
    return list(db.session.execute(query))


def per_request_parts_removed(html: str) -> str:
    """A page without what every request makes anew: its request id and its CSRF token (which
    carries a timestamp), so that two answers can be compared for what they reveal."""
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="<token>"', html)
    return re.sub(r"[0-9a-f]{32}", "<request-id>", html)


class Domain:
    """Tallenne's view of the test domain: role groups, one nested department group, the
    settings that point the app at it, and users made on demand."""

    GROUPS = {
        "agent": "Tallenne-Agents",
        "supervisor": "Tallenne-Supervisors",
        "admin": "Tallenne-Admins",
        "dpo": "Tallenne-DPO",
    }
    NESTED = "Asiakaspalvelu-Vesi"  # a department group inside Tallenne-Agents

    def __init__(self, dc) -> None:
        import json

        self.dc = dc
        self.group_dns = {role: dc.add_group(name) for role, name in self.GROUPS.items()}
        dc.add_group(self.NESTED)
        dc.add_member(self.GROUPS["agent"], self.NESTED)
        self._n = itertools.count(1)
        self.settings = {
            "AUTH_BACKEND": "ldap",
            "LDAP_URLS": dc.url,
            "LDAP_CA_FILE": dc.ca_file,
            "LDAP_BASE_DN": dc.base_dn,
            "LDAP_BIND_DN": dc.bind_dn,
            "LDAP_BIND_PASSWORD": dc.bind_password,
            "LDAP_DOMAIN": dc.domain,
            "LDAP_UPN_SUFFIX": dc.upn_suffix,
            "LDAP_ROLE_GROUPS": json.dumps({r: [dn] for r, dn in self.group_dns.items()}),
            "LDAP_LOCKOUT_THRESHOLD": dc.lockout_threshold,
            "LOGIN_MAX_FAILURES": dc.lockout_threshold - 2,
            "LDAP_CONNECT_TIMEOUT": 2,
            "LDAP_RECEIVE_TIMEOUT": 2,
        }

    def user(self, *groups: str, given: str = "Aino", surname: str = "Agentti") -> str:
        """A new enabled account in the given groups (role names or group names); returns its
        sAMAccountName. Every test gets fresh accounts: the DC lives for the whole run."""
        sam = f"{given.lower()}.{next(self._n)}.{os.getpid()}"[:20]
        self.dc.add_user(sam, AD_PASSWORD, given=given, surname=surname, mail=f"{sam}@example.test")
        for group in groups:
            self.dc.add_member(self.GROUPS.get(group, group), sam)
        return sam


AD_PASSWORD = "Kes\u00e4-Salasana-2026!"
