"""Failed-login throttling, per user name and per client address, shared by every worker.

A key is blocked once it has failed ``limit`` times with no quiet period of ``window`` since
the previous failure, which is how AD's own lockout counter counts. With the per-name limit
below AD's lockout threshold and the window at least AD's reset time, Tallenne can never be
the thing that locks someone out of Windows.

The counts live in the database, or in Redis when TALLENNE_REDIS_URL names one. Keys are
SHA-256 digests: neither store holds a user name or an address in the clear.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.models import LoginThrottle, utcnow

log = logging.getLogger(__name__)


class ThrottleUnavailable(RuntimeError):
    """The store of counts cannot be reached: logins are refused rather than left unguarded."""


@dataclass(frozen=True)
class Key:
    digest: str
    limit: int


def keys(username: str, client_addr: str | None) -> list[Key]:
    config = current_app.config
    found = [Key(_digest("user", canonical_name(username)), int(config["LOGIN_MAX_FAILURES"]))]
    if client_addr:
        found.append(
            Key(_digest("addr", client_addr), int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]))
        )
    return found


def canonical_name(username: str) -> str:
    """One key for ``name``, ``name@upn.suffix`` and ``DOMAIN\\name``."""
    name = username.strip().lower()
    domain = str(current_app.config.get("LDAP_DOMAIN") or "").lower()
    suffix = str(current_app.config.get("LDAP_UPN_SUFFIX") or "").lower().lstrip("@")
    if domain and name.startswith(domain + "\\"):
        name = name[len(domain) + 1 :]
    if suffix and name.endswith("@" + suffix):
        name = name[: -len(suffix) - 1]
    return name


def _digest(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _window() -> timedelta:
    return timedelta(minutes=float(current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"]))


def retry_after(found: list[Key]) -> int | None:
    """Seconds until a blocked key may try again, or None when none is blocked."""
    return _store().retry_after(found, _window())


def failed(found: list[Key]) -> None:
    _store().failed(found, _window())


def succeeded(key: Key) -> None:
    """A correct password clears the name's count (AD does the same); the address keeps its."""
    _store().clear(key)


class DatabaseStore:
    """Counts in the login_throttle table, written in the request's transaction."""

    def retry_after(self, found: list[Key], window: timedelta) -> int | None:
        rows = db.session.scalars(
            select(LoginThrottle).where(LoginThrottle.key.in_([k.digest for k in found]))
        ).all()
        limits = {k.digest: k.limit for k in found}
        now = utcnow()
        waits = [
            (row.last_failure_at + window - now).total_seconds()
            for row in rows
            if row.failures >= limits[row.key] and row.last_failure_at + window > now
        ]
        return math.ceil(max(waits)) if waits else None

    def failed(self, found: list[Key], window: timedelta) -> None:
        table = LoginThrottle.__table__
        now = utcnow()
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for key in found:
            statement = insert(table).values(key=key.digest, failures=1, last_failure_at=now)
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    # An atomic count: concurrent workers never lose a failure.
                    "failures": case(
                        (table.c.last_failure_at <= now - window, 1),
                        else_=table.c.failures + 1,
                    ),
                    "last_failure_at": now,
                },
            )
            db.session.execute(statement)

    def clear(self, key: Key) -> None:
        row = db.session.get(LoginThrottle, key.digest)
        if row is not None:
            db.session.delete(row)


class RedisStore:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.errors = (redis.RedisError,)

    def _name(self, key: Key) -> str:
        return f"tallenne:login:{key.digest}"

    def retry_after(self, found: list[Key], window: timedelta) -> int | None:
        try:
            pipe = self.client.pipeline()
            for key in found:
                pipe.get(self._name(key))
                pipe.pttl(self._name(key))
            values = pipe.execute()
        except self.errors as error:
            raise ThrottleUnavailable(type(error).__name__) from None
        waits = [
            ttl / 1000
            for key, count, ttl in zip(found, values[::2], values[1::2], strict=True)
            if count is not None and int(count) >= key.limit and ttl > 0
        ]
        return math.ceil(max(waits)) if waits else None

    def failed(self, found: list[Key], window: timedelta) -> None:
        try:
            pipe = self.client.pipeline()
            for key in found:
                pipe.incr(self._name(key))
                # Every failure starts the quiet period again.
                pipe.pexpire(self._name(key), int(window.total_seconds() * 1000))
            pipe.execute()
        except self.errors as error:
            raise ThrottleUnavailable(type(error).__name__) from None

    def clear(self, key: Key) -> None:
        try:
            self.client.delete(self._name(key))
        except self.errors as error:
            raise ThrottleUnavailable(type(error).__name__) from None


def _store() -> DatabaseStore | RedisStore:
    return current_app.extensions["tallenne.throttle"]


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["tallenne.throttle"] = RedisStore(url) if url else DatabaseStore()
