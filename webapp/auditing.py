"""Writes audit events from a request: the web application's side of ``audit``."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, g, has_request_context, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

import audit
from audit import Outcome
from webapp.errors import describe
from webapp.extensions import db
from webapp.models import User

log = logging.getLogger(__name__)


def write(
    action: str,
    outcome: Outcome,
    *,
    user: User | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    customer_id: int | None = None,
    purpose: str | None = None,
    case_ref: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Write an event and commit it together with whatever the request has pending.

    Nothing that depends on the event may happen unless this returns: if the write fails,
    the request is refused with 503 (fail closed).
    """
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    event = audit.Event(
        action=action,
        outcome=outcome,
        actor_id=user.id if user else None,
        actor_name=user.username if user else None,
        actor_roles=user.roles_label if user else None,
        object_type=object_type,
        object_id=object_id,
        customer_id=customer_id,
        purpose=purpose,
        case_ref=case_ref,
        client_addr=request.remote_addr if has_request_context() else None,
        request_id=g.get("request_id") if has_request_context() else None,
        detail=detail or {},
    )
    try:
        seq = audit.append(db.session.connection(), event)
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("audit write failed (%s); the request was refused", describe(error))
        abort(503)
    return seq
