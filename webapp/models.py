from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit import UTCDateTime
from webapp.extensions import db
from webapp.storage import Recording, Stored


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    DPO = "dpo"
    MAINTAINER = "maintainer"


class Direction(enum.StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    # The team an agent works in (AD's department attribute): what quality statistics group by.
    team: Mapped[str | None] = mapped_column(String(255))
    auth_source: Mapped[str] = mapped_column(String(16), default="local")
    # AD objectGUID for directory users: a renamed account stays the same user.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    @roles.setter
    def roles(self, roles: set[Role]) -> None:
        self.role_rows = [UserRole(role=str(role)) for role in sorted(roles)]

    def has_role(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def roles_label(self) -> str:
        return ",".join(sorted(self.roles))

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


class UserRole(db.Model):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user: Mapped[User] = relationship(back_populates="role_rows")


class UserSession(db.Model):
    """A login. The cookie carries only a random token whose SHA-256 is the key here, so that
    logging out or deactivating a user ends the session on the server."""

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_user_session_user_id", "user_id"),)


class LoginThrottle(db.Model):
    """Failed logins per user name and per client address, shared by every worker. A key is
    blocked after too many failures until a quiet period has passed since the last one, the way
    AD's own lockout counter resets, so Tallenne stays below AD's lockout threshold. Keys are
    hashes: the table holds no user names."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Register(db.Model):
    __tablename__ = "register"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    retention_months: Mapped[int] = mapped_column(Integer)
    controller: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(Text)
    dpo_contact: Mapped[str] = mapped_column(Text)
    # What the privacy notice says that the rest of the system does not already know.
    legal_basis: Mapped[str] = mapped_column(
        String(32), default="legitimate_interest", server_default="legitimate_interest"
    )
    processors: Mapped[str] = mapped_column(Text, default="", server_default="")  # one a line
    notice_updated_on: Mapped[date] = mapped_column(
        Date, default=lambda: utcnow().date(), server_default=text("CURRENT_DATE")
    )
    # Quality review: the scorecard its calls are reviewed on, and how many calls of each
    # agent a month's review queue samples.
    scorecard_id: Mapped[int | None] = mapped_column(ForeignKey("scorecard.id"))
    review_sample_size: Mapped[int] = mapped_column(Integer, default=3, server_default="3")

    services: Mapped[list[Service]] = relationship(back_populates="register")
    purpose_rows: Mapped[list[RegisterPurpose]] = relationship(cascade="all, delete-orphan")

    @property
    def purposes(self) -> list[Purpose]:
        return sorted((row.purpose for row in self.purpose_rows), key=lambda p: p.position)

    scorecard: Mapped[Scorecard | None] = relationship()

    __table_args__ = (
        CheckConstraint("retention_months > 0", name="retention_positive"),
        CheckConstraint("review_sample_size >= 0", name="sample_size_nonnegative"),
    )


class Purpose(db.Model):
    """Why a recording that is not one's own is played or exported."""

    __tablename__ = "purpose"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    requires_case_ref: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class RegisterPurpose(db.Model):
    __tablename__ = "register_purpose"

    register_id: Mapped[int] = mapped_column(ForeignKey("register.id"), primary_key=True)
    purpose_code: Mapped[str] = mapped_column(ForeignKey("purpose.code"), primary_key=True)

    purpose: Mapped[Purpose] = relationship(lazy="joined")


class Service(db.Model):
    """A service or queue that calls are directed to; it belongs to one register."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("register.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))

    register: Mapped[Register] = relationship(back_populates="services", lazy="joined")


class Customer(db.Model):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default="fi")
    contact_person: Mapped[str | None] = mapped_column(String(255))

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )

    @staticmethod
    def numbers(ids: set[int]) -> dict[int, str]:
        """The customer numbers of these customers, by id: what pages show for a customer."""
        query = select(Customer.id, Customer.customer_number).where(Customer.id.in_(ids))
        return {id_: number for id_, number in db.session.execute(query)}


class CustomerPhone(db.Model):
    __tablename__ = "customer_phone"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    phone_e164: Mapped[str] = mapped_column(String(16))
    # A secret number: calls from it arrive withheld and never show its digits.
    secret: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="phones")

    __table_args__ = (
        UniqueConstraint("customer_id", "phone_e164", name="uq_customer_phone_number"),
        Index("ix_customer_phone_phone_e164", "phone_e164"),
    )


class Call(db.Model):
    __tablename__ = "call"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # None when the customer called from a secret (withheld) number: its digits are never kept.
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    phone_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    external_id: Mapped[str | None] = mapped_column(String(150), unique=True)
    recording_key: Mapped[str] = mapped_column(String(255))
    recording_bytes: Mapped[int] = mapped_column(Integer)
    recording_sha256: Mapped[str] = mapped_column(String(64))
    # The recording's own data key, wrapped by the master key named; None for one stored plain
    # before recordings were encrypted.
    recording_sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    recording_key_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    service: Mapped[Service] = relationship(lazy="joined")
    agent: Mapped[User | None] = relationship(lazy="joined")
    customer: Mapped[Customer | None] = relationship()

    @property
    def recording(self) -> Recording:
        return Recording(self.recording_key, self.recording_sealed_key, self.recording_key_id)

    def keep(self, stored: Stored) -> None:
        """Take a recording just put in storage as this call's."""
        self.recording_key, self.recording_bytes, self.recording_sha256 = stored[:3]
        self.recording_sealed_key, self.recording_key_id = stored.sealed_key, stored.key_id

    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        CheckConstraint("duration_s >= 0", name="duration_nonnegative"),
        CheckConstraint("NOT (phone_secret AND phone_e164 IS NOT NULL)", name="secret_no_digits"),
        # Every list filter is served by an index that ends in the keyset order.
        Index("ix_call_started_at_id_duration_s", "started_at", "id", "duration_s"),
        Index(
            "ix_call_agent_id_started_at_id_filters",
            "agent_id",
            "started_at",
            "id",
            "service_id",
            "direction",
            "duration_s",
        ),
        Index(
            "ix_call_service_id_started_at_id_agent_id",
            "service_id",
            "started_at",
            "id",
            "agent_id",
        ),
        Index("ix_call_phone_e164_started_at_id", "phone_e164", "started_at", "id"),
        Index(
            "ix_call_direction_started_at_id_agent_id", "direction", "started_at", "id", "agent_id"
        ),
        Index("ix_call_duration_s_started_at", "duration_s", "started_at"),
        Index("ix_call_customer_id_started_at", "customer_id", "started_at"),
        Index("ix_call_recording_key_id", "recording_key_id"),  # for `tallenne keys rotate`
    )


class CustomerFlag(db.Model):
    """One change of a customer's ban, consent, restriction or objection (SPEC §5), from a
    day on. The history is the rows: a change adds a row and none is ever updated; they leave
    only with their customer, when the customer is erased. webapp.customers.flags reads them."""

    __tablename__ = "customer_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    # True: the ban, consent, restriction or objection is in force; False: withdrawn.
    state: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(24))
    # The recording in which the customer said it; the row outlives the call once it is purged.
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call.id", ondelete="SET NULL"))
    reference: Mapped[str | None] = mapped_column(String(128))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # the last day; None: no end
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recorded_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="period"),
    )


class AgentExtension(db.Model):
    """Which agent answered at an extension, from when until when (an extension passed on to
    someone else never shows their calls to the wrong person)."""

    __tablename__ = "agent_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    extension: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # the last day; None: still valid

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_agent_extension_extension_valid_from", "extension", "valid_from"),)


class ApiToken(db.Model):
    """A bearer token of one integration, with one scope; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    INGEST = "ingest"
    CONTACT = "contact"
    SCOPES = (INGEST, CONTACT)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LegalHold(db.Model):
    """Keeps a call's recording, or all of a customer's, past its expiry (and from erasure)."""

    __tablename__ = "legal_hold"

    REASONS = ("complaint", "dispute", "authority_request")

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys: a hold's history outlives the call it kept, once that call is purged.
    call_id: Mapped[int | None] = mapped_column(Integer, index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(32))
    case_ref: Mapped[str] = mapped_column(String(128))
    until: Mapped[date] = mapped_column(Date)  # the last day it holds
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("(call_id IS NULL) <> (customer_id IS NULL)", name="one_object"),
    )


class RemovedRecording(db.Model):
    """A recording that has left the system, kept without personal data: if a database is
    restored from a backup, the next purge removes what it brings back."""

    __tablename__ = "removed_recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(Integer)
    recording_key: Mapped[str] = mapped_column(String(255), unique=True)
    reason: Mapped[str] = mapped_column(String(16))  # retention, erasure
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DataSubjectRequest(db.Model):
    """A data subject's request (GDPR Art. 15–21), handled by the DPO as a case. The case
    outlives the erasure of its customer, then without the person."""

    __tablename__ = "dsr_case"

    KINDS = ("access", "portability", "rectification", "erasure", "restriction", "objection")
    IDENTITY_CHECKS = ("in_person", "strong_identification", "registered_contact", "other")
    STATUSES = ("open", "done", "refused")

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)  # TP-2026-0001
    kind: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    received_on: Mapped[date] = mapped_column(Date)
    # received_on + 1 calendar month, or + 3 once extended (Art. 12(3))
    deadline: Mapped[date] = mapped_column(Date)
    identity_check: Mapped[str] = mapped_column(String(24))
    identity_note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(8), default="open")
    outcome: Mapped[str | None] = mapped_column(Text)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The deadline extended by two further months, the reasons as the customer was told them.
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extended_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    extension_reason: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer | None] = relationship()
    opened_by: Mapped[User | None] = relationship(foreign_keys=[opened_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    extended_by: Mapped[User | None] = relationship(foreign_keys=[extended_by_id])

    __table_args__ = (
        CheckConstraint(
            "kind IN ('access', 'portability', 'rectification', 'erasure', 'restriction', "
            "'objection')",
            name="kind",
        ),
        CheckConstraint("status IN ('open', 'done', 'refused')", name="status"),
        CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_when_done"),
        CheckConstraint("deadline >= received_on", name="deadline_after_receipt"),
        CheckConstraint(
            "(extended_at IS NULL) = (extension_reason IS NULL)", name="extension_has_reason"
        ),
    )


class ErasedCustomer(db.Model):
    """A customer erased on request, kept without personal data, so that a purge after a
    restore from backup erases again what the restore brings back. No foreign keys: this
    record must outlive the rows it names, and survive into a restored database. The
    fingerprint (a keyed hash of the id and the customer number) tells the restored row from a
    new customer who was later given the same id."""

    __tablename__ = "erased_customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccessGrant(db.Model):
    """A purpose stated in one login session for one call that is not the user's own."""

    __tablename__ = "access_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("user_session.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"))
    purpose_code: Mapped[str] = mapped_column(ForeignKey("purpose.code"))
    case_ref: Mapped[str | None] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_access_grant_session_call", "session_id", "call_id"),)


class Scorecard(db.Model):
    """What a quality review scores. Its criteria live in versions: a change makes a new
    version, and a review keeps the version it was made on, so an old score keeps its meaning."""

    __tablename__ = "scorecard"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[ScorecardVersion]] = relationship(
        back_populates="scorecard", order_by="ScorecardVersion.number"
    )

    @property
    def current(self) -> ScorecardVersion | None:
        return self.versions[-1] if self.versions else None


class ScorecardVersion(db.Model):
    """One version of a scorecard: never changed once written."""

    __tablename__ = "scorecard_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecard.id"))
    number: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    scorecard: Mapped[Scorecard] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship()
    criteria: Mapped[list[Criterion]] = relationship(
        order_by="Criterion.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def sections(self) -> list[tuple[str, list[Criterion]]]:
        """The criteria grouped in their sections, in order."""
        grouped: list[tuple[str, list[Criterion]]] = []
        for criterion in self.criteria:
            if not grouped or grouped[-1][0] != criterion.section:
                grouped.append((criterion.section, []))
            grouped[-1][1].append(criterion)
        return grouped

    __table_args__ = (UniqueConstraint("scorecard_id", "number", name="uq_scorecard_version"),)


class Criterion(db.Model):
    """One thing a review scores, on a scale from ``scale_min`` to ``scale_max``, weighted."""

    __tablename__ = "scorecard_criterion"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("scorecard_version.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    scale_min: Mapped[int] = mapped_column(Integer)
    scale_max: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def scale(self) -> range:
        return range(self.scale_min, self.scale_max + 1)

    __table_args__ = (
        CheckConstraint("scale_max > scale_min", name="scale"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )


class Review(db.Model):
    """A supervisor's quality review of one call: a draft until published, then the agent's
    to read, acknowledge and answer. It leaves with its call (purged or erased)."""

    __tablename__ = "review"

    DRAFT = "draft"
    PUBLISHED = "published"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("scorecard_version.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The call's agent, and their team when the review was published: what statistics count.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    agent_team: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    comment: Mapped[str] = mapped_column(Text, default="")
    # The weighted score in per cent of the scale, set when published.
    score: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    call: Mapped[Call] = relationship()
    version: Mapped[ScorecardVersion] = relationship()
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])
    scores: Mapped[list[ReviewScore]] = relationship(cascade="all, delete-orphan")
    comments: Mapped[list[ReviewComment]] = relationship(
        cascade="all, delete-orphan", order_by="ReviewComment.id"
    )

    @property
    def published(self) -> bool:
        return self.status == self.PUBLISHED

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published')", name="status"),
        CheckConstraint("(status = 'published') = (published_at IS NOT NULL)", name="published"),
    )


class ReviewScore(db.Model):
    """A criterion's score in a review; None: not applicable to this call."""

    __tablename__ = "review_score"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), primary_key=True
    )
    criterion_id: Mapped[int] = mapped_column(
        ForeignKey("scorecard_criterion.id"), primary_key=True
    )
    value: Mapped[int | None] = mapped_column(Integer)


class ReviewComment(db.Model):
    """A comment on a review: the reviewer's, pinned to a moment of the recording or not,
    or the agent's reply."""

    __tablename__ = "review_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at_ms: Mapped[int | None] = mapped_column(Integer)  # the moment, from the recording's start
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User | None] = relationship()

    @property
    def at_s(self) -> float | None:
        return None if self.at_ms is None else self.at_ms / 1000

    __table_args__ = (CheckConstraint("at_ms IS NULL OR at_ms >= 0", name="moment"),)


class ReviewRound(db.Model):
    """A month's review queue: the secret seed its sample is drawn with. Drawn again from the
    same seed, the sample is the same; no one can tell beforehand which calls it will take."""

    __tablename__ = "review_round"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-11
    seed: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrainingItem(db.Model):
    """A call in the training library, marked by a supervisor. It leaves with its call; while
    its customer objects or has restricted processing, the library does not offer it."""

    __tablename__ = "training_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    call: Mapped[Call] = relationship()
    marked_by: Mapped[User | None] = relationship()
