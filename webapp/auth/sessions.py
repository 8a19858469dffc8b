"""Server-side login sessions. The signed cookie carries a random token; the database keeps its
hash, so a session can be ended on the server (logout, deactivation) and a copied cookie stops
working."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, session
from flask_login import login_user, logout_user
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from webapp.extensions import db, login_manager
from webapp.models import User, UserSession, utcnow

# Writing last_seen on every request would turn every read into a write.
_TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User) -> UserSession:
    """A fresh session for a user who has just proven who they are."""
    session.clear()  # nothing from before the login survives into it
    token = secrets.token_urlsafe(32)
    row = UserSession(id=_digest(token), user=user)
    db.session.add(row)
    session["sid"] = token
    login_user(user)
    g.user_session = row
    return row


def end() -> None:
    row = current()
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
    logout_user()
    session.clear()


def end_all(user: User) -> int:
    """End every open session of a user (deactivation, loss of every role)."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return result.rowcount


# Every signed-in request needs the session, its user and the user's roles: one statement.
_WITH_USER = joinedload(UserSession.user).joinedload(User.role_rows)


def current() -> UserSession | None:
    if "user_session" not in g:
        token = session.get("sid")
        g.user_session = (
            db.session.get(UserSession, _digest(token), options=[_WITH_USER]) if token else None
        )
    return g.user_session


def current_id() -> str | None:
    row = current()
    return row.id if row is not None else None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    row = current()
    if row is None or row.ended_at is not None or str(row.user_id) != user_id:
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if now - row.last_seen_at > idle:
        row.ended_at = now
        db.session.commit()
        return None
    user = row.user
    if not user.active:
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return user
