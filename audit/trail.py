from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    update,
)
from sqlalchemy.engine import Connection

from audit.sqltypes import UTCDateTime

metadata = MetaData(
    naming_convention={"pk": "pk_%(table_name)s", "ck": "ck_%(table_name)s_%(constraint_name)s"}
)


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


events = Table(
    "audit_event",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("actor_id", Integer),
    Column("actor_name", String(255)),
    Column("actor_roles", String(255)),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("object_type", String(32)),
    Column("object_id", String(64)),
    Column("customer_id", Integer),
    Column("purpose", String(64)),
    Column("case_ref", String(128)),
    Column("client_addr", String(64)),
    Column("request_id", String(64)),
    Column("detail", Text),
    # HMAC chain value over the previous one and this event's canonical form; filled once the
    # keyed chain exists, so that the table needs no rebuild to take it.
    Column("chain", String(64)),
    Index("ix_audit_event_actor_id_seq", "actor_id", "seq"),
    Index("ix_audit_event_object", "object_type", "object_id", "seq"),
    Index("ix_audit_event_customer_id_seq", "customer_id", "seq"),
    Index("ix_audit_event_occurred_at", "occurred_at"),
)

# The tip of the chain, one row. Every append updates it first: that write lock (a row lock on
# PostgreSQL, the database's write lock on SQLite) is what serializes appends, so that no two
# events ever chain to the same predecessor, and it makes reading the tip O(1).
heads = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("chain", String(64)),
    Column("events", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)

HEAD_ID = 1
# The predecessor of the first chained event.
GENESIS = bytes(32)
# The fields of an event in their canonical order (schema version 1). The sequence number is
# not among them: an event's place is fixed by the chain value it is chained to, and a gap in
# the numbers is seen for itself.
CANONICAL_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_roles",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "customer_id",
    "purpose",
    "case_ref",
    "client_addr",
    "request_id",
    "detail",
)
_INTEGER_FIELDS = {"actor_id", "customer_id"}
_CHAIN_VERSION = b"\x01"

# Keys that must never reach the trail, however a caller builds its detail.
_FORBIDDEN_DETAIL = {"password", "token", "session", "session_id", "secret", "cookie"}


@dataclass(frozen=True)
class Event:
    action: str
    outcome: Outcome
    actor_id: int | None = None
    actor_name: str | None = None
    actor_roles: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    customer_id: int | None = None
    purpose: str | None = None
    case_ref: str | None = None
    client_addr: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        leaked = {k for k in self.detail if k.lower() in _FORBIDDEN_DETAIL}
        if leaked:
            raise ValueError(f"audit detail may not carry {sorted(leaked)}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("audit events are stamped in UTC")


class Link(NamedTuple):
    """Where the chain stands after an event: its number, chain value and the events so far."""

    seq: int
    chain: str
    events: int


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes an event's chain value covers, from its stored values (schema version 1)."""
    values: list[Any] = [1]
    for name in CANONICAL_FIELDS:
        value = row[name]
        if name == "occurred_at":
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values.append(value)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()


def chain_value(key: bytes, previous: bytes, row: Mapping[str, Any]) -> bytes:
    """HMAC-SHA256 under the audit key of the previous chain value and the event."""
    return hmac.digest(key, _CHAIN_VERSION + previous + canonical(row), hashlib.sha256)


def previous_bytes(chain: str | None) -> bytes:
    return bytes.fromhex(chain) if chain else GENESIS


def stored_row(event: Event) -> dict[str, Any]:
    """The event's values as the database gives them back, so that the chain value computed
    now is the one a verifier computes from the stored row."""
    row = asdict(event)
    row["outcome"] = str(event.outcome)
    row["detail"] = json.dumps(event.detail, sort_keys=True, separators=(",", ":"))
    for name in CANONICAL_FIELDS[1:]:
        if row[name] is not None:
            row[name] = int(row[name]) if name in _INTEGER_FIELDS else str(row[name])
    return row


def append(connection: Connection, event: Event, key: bytes) -> Link:
    """Write one event, chained to the tip, inside the caller's transaction.

    The caller commits; an access that depends on the event must not proceed until then. The
    head row is updated first, before the tip is read: until the commit, every other append
    waits for this one.
    """
    tip = connection.execute(
        update(heads)
        .where(heads.c.id == HEAD_ID)
        .values(seq=heads.c.seq + 1, events=heads.c.events + 1)
        .returning(heads.c.seq, heads.c.chain, heads.c.events)
    ).one()
    row = stored_row(event)
    chain = chain_value(key, previous_bytes(tip.chain), row).hex()
    connection.execute(insert(events).values(seq=tip.seq, chain=chain, **row))
    connection.execute(update(heads).where(heads.c.id == HEAD_ID).values(chain=chain))
    return Link(tip.seq, chain, tip.events)
