from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)
from sqlalchemy.engine import Connection

from audit.sqltypes import UTCDateTime

metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})


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


def append(connection: Connection, event: Event) -> int:
    """Write one event inside the caller's transaction and return its sequence number.

    The caller commits; an access that depends on the event must not proceed until then.
    """
    row = asdict(event)
    row["outcome"] = str(event.outcome)
    row["detail"] = json.dumps(event.detail, sort_keys=True, separators=(",", ":")) or None
    result = connection.execute(insert(events).values(**row))
    return result.inserted_primary_key[0]
