"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import io
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
            recording_key=stored.key,
            recording_bytes=stored.size,
            recording_sha256=stored.sha256,
        )
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
