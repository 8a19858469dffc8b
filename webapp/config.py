"""Settings: defaults, then ``instance/config.py``, then ``TALLENNE_*`` variables, then a
mapping passed by the tests."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from webapp.storage.keys import KeyFileError, KeyRing


class ConfigurationError(RuntimeError):
    pass


DEFAULTS: dict[str, Any] = {
    "DEMO": False,
    "DEMO_PASSWORD": "demo",
    "AUTH_BACKEND": "local",
    "DATABASE_URL": None,  # SQLite under instance/ when unset
    "STORAGE_DIR": None,  # instance/recordings when unset
    "PROXY_COUNT": 0,  # reverse proxies in front of us whose X-Forwarded-For we trust
    "CALLS_PER_PAGE": 50,
    "PURPOSE_GRANT_MINUTES": 60,
    "SESSION_IDLE_MINUTES": 480,
    "BABEL_DEFAULT_LOCALE": "fi",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Helsinki",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "tallenne_session",
    # Seconds a request waits for a database lock before it gives up (and an access that needs
    # an audit event is refused) instead of hanging.
    "DATABASE_LOCK_TIMEOUT": 5,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "IMPORT_MAX_BYTES": 256 * 1024 * 1024,  # the largest recording an import takes
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the server-side session
    # Active Directory (TALLENNE_AUTH_BACKEND=ldap); see webapp/auth/directory.py and README.
    "LDAP_URLS": None,  # ldaps://dc1.corp.example:636 ldaps://dc2… tried in order
    "LDAP_CA_FILE": None,  # the CA that signed the domain controllers' certificates
    "LDAP_BASE_DN": None,
    "LDAP_BIND_DN": None,  # a service account that may read users and groups, nothing more
    "LDAP_BIND_PASSWORD": None,
    "LDAP_DOMAIN": None,  # NetBIOS name: CORP\\name
    "LDAP_UPN_SUFFIX": None,  # name@corp.example
    "LDAP_ROLE_GROUPS": None,  # JSON: {"agent": ["CN=…"], "supervisor": […], …}
    "LDAP_CONNECT_TIMEOUT": 5,
    "LDAP_RECEIVE_TIMEOUT": 10,
    "LDAP_ALLOW_PLAINTEXT": False,  # ldap:// without StartTLS: a lab only, never production
    "LDAP_LOCKOUT_THRESHOLD": 10,  # the domain's lockoutThreshold (0: AD locks no one out)
    # Failed logins before a pause; the per-name limit stays below LDAP_LOCKOUT_THRESHOLD.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 30,
    # Quiet minutes after the last failure that reset the count: at least AD's
    # "reset account lockout counter after".
    "LOGIN_FAILURE_WINDOW_MINUTES": 30,
    "REDIS_URL": None,  # throttle counts in Redis instead of the database
    "MASTER_KEY_FILE": None,  # wraps the recordings' data keys; generated in the demo and tests
    "AUDIT_KEY_FILE": None,  # generated into instance/audit_key in the demo and the tests
    "AUDIT_CHECKPOINT_FILE": None,  # instance/audit-checkpoints.jsonl when unset
    "AUDIT_CHECKPOINT_EVERY": 1000,  # events; 0 writes checkpoints only on demand
    "AUDIT_SYSLOG": None,  # checkpoints to syslog too: /dev/log, or host:port (UDP)
    # Access outside these (local, whole hours; ISO weekdays) is on the DPO's attention list.
    "WORKING_HOURS": "07-18",
    "WORKING_DAYS": "1-5",
}

AUDIT_KEY_BYTES = 32


def load(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("TALLENNE")
    if test_config is not None:
        app.config.update(test_config)

    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'tallenne.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = _driver_url(app.config["DATABASE_URL"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], float(app.config["DATABASE_LOCK_TIMEOUT"])
    )
    app.config["STORAGE_DIR"] = str(app.config["STORAGE_DIR"] or instance / "recordings")
    if not (app.config["DEMO"] or app.testing or app.debug):
        # Outside the demo the app is reached over HTTPS through the organisation's proxy.
        app.config["SESSION_COOKIE_SECURE"] = True
    if not app.config.get("SECRET_KEY"):
        if not (app.config["DEMO"] or app.testing):
            raise ConfigurationError(
                "TALLENNE_SECRET_KEY is not set: set it to a long random value "
                "(python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        app.config["SECRET_KEY"] = _demo_secret(instance)
    if app.config["AUTH_BACKEND"] not in {"local", "ldap"}:
        raise ConfigurationError("TALLENNE_AUTH_BACKEND must be 'local' or 'ldap'.")
    app.config["AUDIT_KEY"] = _audit_key(app, instance)
    app.config["MASTER_KEYS"] = _master_keys(app, instance)
    app.config["AUDIT_CHECKPOINT_FILE"] = str(
        app.config["AUDIT_CHECKPOINT_FILE"] or instance / "audit-checkpoints.jsonl"
    )
    app.config["AUDIT_CHECKPOINT_EVERY"] = int(app.config["AUDIT_CHECKPOINT_EVERY"])
    app.config["AUDIT_SYSLOG"] = _syslog_address(app.config["AUDIT_SYSLOG"])
    app.config["WORKING_HOURS"] = _working_hours(str(app.config["WORKING_HOURS"]))
    app.config["WORKING_DAYS"] = _working_days(str(app.config["WORKING_DAYS"]))


def _driver_url(url: str) -> str:
    # Operators write postgresql://…; SQLAlchemy would pick psycopg2, which we do not ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(url: str, lock_timeout: float) -> dict[str, Any]:
    # hide_parameters: a failed statement's values (names, phone numbers) stay out of the logs.
    if url.startswith("sqlite"):
        return {"hide_parameters": True, "connect_args": {"timeout": lock_timeout}}
    # pool_pre_ping: the first request after a database restart must not fail.
    return {
        "hide_parameters": True,
        "pool_pre_ping": True,
        "connect_args": {"options": f"-c lock_timeout={int(lock_timeout * 1000)}"},
    }


def _demo_secret(instance: Path, name: str = "secret_key") -> str:
    # The demo keeps its sessions (and its audit chain) across restarts without a secret in the
    # repository. Written aside and linked into place, so that processes starting at once all
    # end up with the same complete key.
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd, aside = tempfile.mkstemp(dir=instance, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key)
        os.link(aside, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        os.unlink(aside)
    return key


_RANDOM_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"


def _key_file(app: Flask, name: str, what: str) -> tuple[str, str] | None:
    """A required key file's path and text; None in the demo and the tests, which generate
    their keys under instance/ instead."""
    path = app.config[name]
    if not path:
        if app.config["DEMO"] or app.testing:
            return None
        raise ConfigurationError(
            f"TALLENNE_{name} is not set: name a file, readable by Tallenne alone and kept apart "
            f"from the database, its backups and the recordings, that holds {what} ({_RANDOM_KEY})."
        )
    try:
        return path, Path(path).read_text()
    except OSError as error:
        raise ConfigurationError(
            f"TALLENNE_{name} names {path}, which cannot be read ({error.strerror})."
        ) from error


def _master_keys(app: Flask, instance: Path) -> KeyRing:
    """The master keys that wrap every recording's data key: one ``ID HEX`` line a key, the
    newest last."""
    found = _key_file(app, "MASTER_KEY_FILE", "lines such as '2026-12 <64 hex digits>'")
    if found is None:
        return KeyRing({"demo": bytes.fromhex(_demo_secret(instance, "master_key"))})
    path, text = found
    try:
        return KeyRing.from_text(text)
    except KeyFileError as error:
        raise ConfigurationError(f"TALLENNE_MASTER_KEY_FILE ({path}): {error}.") from error


def _audit_key(app: Flask, instance: Path) -> bytes:
    """The key of the audit chain (hex, 32 bytes or more)."""
    found = _key_file(app, "AUDIT_KEY_FILE", "a random key")
    if found is None:
        return bytes.fromhex(_demo_secret(instance, "audit_key"))
    path, text = found
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < AUDIT_KEY_BYTES:
        raise ConfigurationError(
            f"TALLENNE_AUDIT_KEY_FILE ({path}) must hold a key of at least "
            f"{AUDIT_KEY_BYTES * 2} hexadecimal digits."
        )
    return key


def _working_hours(text: str) -> tuple[int, int]:
    """``07-18`` or ``07:00-18:00``: whole local hours, the end not included."""
    try:
        start, end = (int(part.strip().removesuffix(":00")) for part in text.split("-"))
    except ValueError:
        start = end = -1
    if not 0 <= start < end <= 24:
        raise ConfigurationError(
            f"TALLENNE_WORKING_HOURS must be whole hours such as 07-18, not {text!r}."
        )
    return start, end


def _working_days(text: str) -> frozenset[int]:
    """ISO weekdays (Monday 1, Sunday 7): a range such as ``1-5``, or a list such as ``1,2,3``."""
    days: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            days.update(range(int(first), int(last or first) + 1))
    except ValueError:
        days = {0}
    if not days or not days <= set(range(1, 8)):
        raise ConfigurationError(
            f"TALLENNE_WORKING_DAYS must be ISO weekdays (Monday 1) such as 1-5, not {text!r}."
        )
    return frozenset(days)


def _syslog_address(text: str | None) -> str | tuple[str, int] | None:
    """A Unix socket's path (``/dev/log``), or ``host:port`` of a syslog server over UDP."""
    if not text:
        return None
    text = str(text)
    if text.startswith("/"):
        return text
    host, _, port = text.rpartition(":")
    if host and port.isdigit() and 0 < int(port) < 65536:
        return host.strip("[]"), int(port)
    raise ConfigurationError(
        f"TALLENNE_AUDIT_SYSLOG must be a socket's path such as /dev/log, or host:port, "
        f"not {text!r}."
    )
