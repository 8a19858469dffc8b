"""Who may see and play which call. Every view that touches a call goes through here, so the
list, the page, the audio and the export can never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app
from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true

from audit import Outcome
from webapp import auditing, retention
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import (
    AccessGrant,
    Call,
    Customer,
    CustomerFlag,
    Purpose,
    Review,
    Role,
    User,
    utcnow,
)

SEES_ALL_CALLS = (Role.SUPERVISOR, Role.ADMIN, Role.DPO)
# Who reviews calls for quality, marks them for training, and reads the statistics.
REVIEWERS = (Role.SUPERVISOR, Role.ADMIN)
# The DPO plays a recording only for a data-subject request; that purpose is theirs alone.
DPO_PURPOSES = ("data_subject_request",)
# What a restricted recording may still be played for while a legal hold keeps it (Art. 18(2)).
LEGAL_CLAIM_PURPOSES = ("complaint", "authority_request")


def call_visibility(user: User) -> ColumnElement[bool]:
    if user.has_role(*SEES_ALL_CALLS):
        return true()
    if user.has_role(Role.AGENT):
        return Call.agent_id == user.id
    return false()


def visible_calls(user: User) -> Select[tuple[Call]]:
    return select(Call).where(call_visibility(user))


def sees_all_calls(user: User) -> bool:
    return user.has_role(*SEES_ALL_CALLS)


def visible_call_or_404(user: User, call_id: int, action: str) -> Call:
    """The call, or a 404 that is the same whether the call is someone else's or does not
    exist; the attempt is audited as denied either way."""
    call = db.session.scalar(visible_calls(user).where(Call.id == call_id))
    if call is None:
        auditing.write(action, Outcome.DENIED, object_type="call", object_id=str(call_id))
        abort(404)
    return call


def customer_visibility(user: User) -> ColumnElement[bool]:
    """Those who see all calls see every customer; an agent, the customers of their own calls
    (to record a ban a customer states on the line); anyone else, none."""
    if user.has_role(*SEES_ALL_CALLS):
        return true()
    if user.has_role(Role.AGENT):
        return Customer.id.in_(select(Call.customer_id).where(Call.agent_id == user.id))
    return false()


def visible_customer_or_404(user: User, customer_id: int, action: str) -> Customer:
    """As ``visible_call_or_404``: a customer one may not see does not exist for one."""
    customer = db.session.scalar(
        select(Customer).where(Customer.id == customer_id, customer_visibility(user))
    )
    if customer is None:
        auditing.write(action, Outcome.DENIED, object_type="customer", object_id=str(customer_id))
        abort(404)
    return customer


def manages_flags(user: User) -> bool:
    """Who records any customer's bans and consents; an agent does so only from their call."""
    return user.has_role(*SEES_ALL_CALLS)


def require_role(
    user: User,
    role: Role | tuple[Role, ...],
    action: str,
    object_type: str,
    object_id: str | None = None,
) -> None:
    """A page that is one role's alone (or a few roles'): anyone else's attempt is refused
    (403: the pages exist, and that is no secret) and audited as denied."""
    if not user.has_role(*(role if isinstance(role, tuple) else (role,))):
        auditing.write(action, Outcome.DENIED, object_type=object_type, object_id=object_id)
        abort(403)


def require_trail_reader(user: User, action: str) -> None:
    """Only the data-protection officer reads the audit trail."""
    require_role(user, Role.DPO, action, "audit_trail")


def restriction_on(call: Call) -> CustomerFlag | None:
    """The customer's restriction of processing (GDPR Art. 18) in force today, if any."""
    if call.customer_id is None:
        return None
    row = flags.state_at(call.customer_id, flags.today())["restriction"]
    return row if flags.in_force(row) else None


def purposes_for(user: User, call: Call, restricted: bool | None = None) -> list[Purpose]:
    """The purposes this user may state for playing this call, in the register's order. A
    restricted customer's recording is played only for a data-subject request (the DPO) or,
    while a legal hold keeps it, for the legal claim (a complaint or an authority request)."""
    register_purposes = call.service.register.purposes
    allowed: set[str] = set()
    if user.has_role(Role.SUPERVISOR, Role.ADMIN):
        allowed |= {p.code for p in register_purposes} - set(DPO_PURPOSES)
    if user.has_role(Role.DPO):
        allowed |= set(DPO_PURPOSES)
    if restricted is None:
        restricted = restriction_on(call) is not None
    if restricted:
        under_hold = retention.hold_on(call, flags.today()) is not None
        allowed &= set(DPO_PURPOSES) | (set(LEGAL_CLAIM_PURPOSES) if under_hold else set())
    return [purpose for purpose in register_purposes if purpose.code in allowed]


@dataclass(frozen=True)
class Access:
    """On what grounds a user may play a call: their own call, or a stated purpose."""

    purpose: str | None = None
    case_ref: str | None = None

    @property
    def own_call(self) -> bool:
        return self.purpose is None


def playback_access(
    user: User, call: Call, session_id: str | None, restricted: bool | None = None
) -> Access | None:
    """On what grounds this user may play this call now, or None. A restricted customer's
    call is not played as one's own call, only for a purpose ``purposes_for`` allows. A caller
    that has looked the restriction up already passes ``restricted``."""
    if restricted is None:
        restricted = restriction_on(call) is not None
    if call.agent_id == user.id and not restricted:
        return Access()
    if session_id is None:
        return None
    since = utcnow() - timedelta(minutes=current_app.config["PURPOSE_GRANT_MINUTES"])
    grant = db.session.scalar(
        select(AccessGrant)
        .where(
            AccessGrant.session_id == session_id,
            AccessGrant.call_id == call.id,
            AccessGrant.granted_at >= since,
        )
        .order_by(AccessGrant.granted_at.desc())
        .limit(1)
    )
    allowed = {p.code for p in purposes_for(user, call, restricted)}
    if grant is not None and grant.purpose_code in allowed:
        return Access(grant.purpose_code, grant.case_ref)
    # Reviewing a call is the purpose stated: its reviewer plays it for quality assurance.
    if "quality" in allowed:
        review_id = db.session.scalar(
            select(Review.id).where(Review.call_id == call.id, Review.reviewer_id == user.id)
        )
        if review_id is not None:
            return Access("quality", review_reference(review_id))
    return None


def review_reference(review_id: int) -> str:
    """The case reference that a review's playback is audited under."""
    return f"review:{review_id}"


def review_visibility(user: User) -> ColumnElement[bool]:
    """Supervisors and administrators see every published review and their own drafts; an
    agent sees the published reviews of their own calls; no one else sees any."""
    published = Review.status == Review.PUBLISHED
    seen = []
    if user.has_role(*REVIEWERS):
        seen.append(or_(published, Review.reviewer_id == user.id))
    if user.has_role(Role.AGENT):
        seen.append(and_(published, Review.agent_id == user.id))
    return or_(*seen) if seen else false()


def visible_review_or_404(user: User, review_id: int, action: str) -> Review:
    """As ``visible_call_or_404``: a review one may not see does not exist for one."""
    review = db.session.scalar(
        select(Review).where(Review.id == review_id, review_visibility(user))
    )
    if review is None:
        auditing.write(action, Outcome.DENIED, object_type="review", object_id=str(review_id))
        abort(404)
    return review
