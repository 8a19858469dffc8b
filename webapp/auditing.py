"""Writes audit events from a request: the web application's side of ``audit``."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable
from logging.handlers import SysLogHandler
from typing import Any

import click
from flask import abort, current_app, g, has_app_context, has_request_context, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

import audit
from audit import Link, Outcome, checkpoints
from webapp.errors import describe
from webapp.extensions import db
from webapp.models import Call, User

log = logging.getLogger(__name__)


def write(
    action: str,
    outcome: Outcome,
    *,
    user: User | None = None,
    actor_name: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    customer_id: int | None = None,
    purpose: str | None = None,
    case_ref: str | None = None,
    detail: dict[str, Any] | None = None,
    keep_loaded: bool = False,
) -> int:
    """Write an event and commit it together with whatever the request has pending.

    Nothing that depends on the event may happen unless this returns: if the write fails,
    the request is refused with 503 (fail closed).

    ``keep_loaded`` is for an event that is the request's only write (a search): the commit
    then changes nothing the request has loaded, so it is kept instead of expired, and the
    user, their roles and the rest are not read again after it.
    """
    try:
        link = append_and_commit(
            action,
            outcome,
            user=user,
            actor_name=actor_name,
            object_type=object_type,
            object_id=object_id,
            customer_id=customer_id,
            purpose=purpose,
            case_ref=case_ref,
            detail=detail,
            keep_loaded=keep_loaded,
        )
    except SQLAlchemyError as error:
        log.error("audit write failed (%s); the request was refused", describe(error))
        abort(503)
    return link.seq


def about_customer(action: str, outcome: Outcome, customer_id: int, **about: Any) -> int:
    """An event whose object is a customer: ``write`` with the customer named twice over, as
    the object and as the customer whose data it touches."""
    return write(
        action,
        outcome,
        object_type="customer",
        object_id=str(customer_id),
        customer_id=customer_id,
        **about,
    )


def about_call(action: str, outcome: Outcome, call: Call, **about: Any) -> int:
    """An event whose object is a call: ``write`` with the call and its customer named."""
    return write(
        action,
        outcome,
        object_type="call",
        object_id=str(call.id),
        customer_id=call.customer_id,
        **about,
    )


def for_command(action: str, outcome: Outcome = Outcome.ALLOWED, **about: Any) -> Link:
    """An event written by a ``tallenne`` command: the command line has no signed-in user, so
    the operating-system account acts. If the trail cannot be written, the command stops with
    exit status 1 (the trail is not optional there either)."""
    try:
        return append_and_commit(action, outcome, actor_name=f"cli:{getpass.getuser()}", **about)
    except SQLAlchemyError as error:
        click.echo(f"The audit trail cannot be written ({describe(error)}).", err=True)
        sys.exit(1)


def completion(action: str, **about: Any) -> Callable[[dict[str, Any]], None]:
    """Who and where now, for an event written once the response has been sent (the last byte
    of a download): by then the request's session and its objects are gone. Nothing is left
    to refuse then, so a failed write is only logged."""
    actor = _actor_fields(current_user if current_user.is_authenticated else None)

    def write_completed(detail: dict[str, Any], outcome: Outcome = Outcome.ALLOWED) -> None:
        event = audit.Event(action=action, outcome=outcome, detail=detail, **actor, **about)
        try:
            _append_and_commit(event)
        except SQLAlchemyError as error:
            log.error("audit write failed (%s); %s is not recorded", describe(error), action)

    return write_completed


def _actor_fields(user: User | None, actor_name: str | None = None) -> dict[str, Any]:
    return {
        "actor_id": user.id if user else None,
        "actor_name": user.username if user else actor_name,
        "actor_roles": user.roles_label if user else None,
        "client_addr": request.remote_addr if has_request_context() else None,
        # A request's id, or the one a command sets for all the events it writes.
        "request_id": g.get("request_id") if has_app_context() else None,
    }


def append_and_commit(
    action: str,
    outcome: Outcome,
    *,
    user: User | None = None,
    actor_name: str | None = None,
    detail: dict[str, Any] | None = None,
    keep_loaded: bool = False,
    **about: Any,
) -> Link:
    """Append an event, commit, and checkpoint when one is due. A failed write is rolled back
    and raised: the caller refuses whatever depended on it, and logs it (by kind, never with
    its values)."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    event = audit.Event(
        action=action,
        outcome=outcome,
        detail=detail or {},
        **_actor_fields(user, actor_name),
        **about,
    )
    return _append_and_commit(event, keep_loaded)


def _append_and_commit(event: audit.Event, keep_loaded: bool = False) -> Link:
    session = db.session()
    if keep_loaded and (session.new or session.dirty or session.deleted):
        raise RuntimeError("keep_loaded is for an event that is the request's only write")
    expire = session.expire_on_commit
    session.expire_on_commit = expire and not keep_loaded
    try:
        link = audit.append(session.connection(), event, current_app.config["AUDIT_KEY"])
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = expire
    every = current_app.config["AUDIT_CHECKPOINT_EVERY"]
    if every and link.seq % every == 0:
        write_checkpoint(link)
    return link


def write_checkpoint(link: Link) -> str | None:
    """Write a signed checkpoint of a committed link; a failure is logged, since the event it
    follows is already safely committed."""
    line = checkpoints.line_for(current_app.config["AUDIT_KEY"], link)
    try:
        checkpoints.record(current_app.config["AUDIT_CHECKPOINT_FILE"], line)
    except OSError as error:
        log.error("audit checkpoint at event %d not written (%s)", link.seq, error.strerror)
        return None
    # For a log host, where the logging configuration sends it, and syslog where configured.
    log.info("audit checkpoint %s", line)
    if current_app.config["AUDIT_SYSLOG"]:
        _to_syslog(current_app.config["AUDIT_SYSLOG"], line)
    return line


def _to_syslog(address: str | tuple[str, int], line: str) -> None:
    """One checkpoint to syslog (facility auth, tag ``tallenne``): a copy on a host that the
    database's administrators do not control. A socket a checkpoint, closed at once, since
    checkpoints are rare and an open one would outlive the app."""
    try:
        handler = SysLogHandler(address=address, facility=SysLogHandler.LOG_AUTH)
    except OSError as error:
        log.error("audit checkpoint not sent to syslog (%s)", error.strerror)
        return
    handler.ident = "tallenne: "
    try:
        handler.emit(logging.LogRecord(log.name, logging.INFO, __file__, 0, line, None, None))
    finally:
        handler.close()
