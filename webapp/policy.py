"""Who may see and play which call. Every view that touches a call goes through here, so the
list, the page, the audio and the export can never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app
from sqlalchemy import ColumnElement, Select, false, select, true

from audit import Outcome
from webapp import auditing
from webapp.extensions import db
from webapp.models import AccessGrant, Call, Purpose, Role, User, utcnow

SEES_ALL_CALLS = (Role.SUPERVISOR, Role.ADMIN, Role.DPO)
# The DPO plays a recording only for a data-subject request; that purpose is theirs alone.
DPO_PURPOSES = ("data_subject_request",)


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


def require_role(user: User, role: Role, action: str, object_type: str) -> None:
    """A page that is one role's alone: anyone else's attempt is refused (403: the pages
    exist, and that is no secret) and audited as denied."""
    if not user.has_role(role):
        auditing.write(action, Outcome.DENIED, object_type=object_type)
        abort(403)


def require_trail_reader(user: User, action: str) -> None:
    """Only the data-protection officer reads the audit trail."""
    require_role(user, Role.DPO, action, "audit_trail")


def purposes_for(user: User, call: Call) -> list[Purpose]:
    """The purposes this user may state for playing this call, in the register's order."""
    register_purposes = call.service.register.purposes
    allowed: set[str] = set()
    if user.has_role(Role.SUPERVISOR, Role.ADMIN):
        allowed |= {p.code for p in register_purposes} - set(DPO_PURPOSES)
    if user.has_role(Role.DPO):
        allowed |= set(DPO_PURPOSES)
    return [purpose for purpose in register_purposes if purpose.code in allowed]


@dataclass(frozen=True)
class Access:
    """On what grounds a user may play a call: their own call, or a stated purpose."""

    purpose: str | None = None
    case_ref: str | None = None

    @property
    def own_call(self) -> bool:
        return self.purpose is None


def playback_access(user: User, call: Call, session_id: str | None) -> Access | None:
    if call.agent_id == user.id:
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
    if grant is None or grant.purpose_code not in {p.code for p in purposes_for(user, call)}:
        return None
    return Access(grant.purpose_code, grant.case_ref)
