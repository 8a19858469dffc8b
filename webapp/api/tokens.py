"""Bearer tokens: made once and shown once, kept as their SHA-256, checked per request."""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps

from flask import g, jsonify, request
from sqlalchemy import select

from audit import Outcome
from webapp import auditing
from webapp.extensions import db
from webapp.models import ApiToken

PREFIX = "tln_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(name: str, scope: str) -> str:
    token = PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(name=name, scope=scope, token_sha256=digest(token)))
    return token


def _refuse(status: int, reason: str, scope: str):
    auditing.write(
        "api.auth", Outcome.DENIED, actor_name=g.get("token_name"), detail={"reason": reason}
    )
    response = jsonify(error=reason)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer realm="tallenne", scope="{scope}"'
    return response


def required(scope: str):
    """The view needs a live token of this scope: 401 without one, 403 with another scope."""

    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            kind, _, token = request.headers.get("Authorization", "").partition(" ")
            if kind.lower() != "bearer" or not token.startswith(PREFIX):
                return _refuse(401, "a bearer token is needed", scope)
            row = db.session.scalar(
                select(ApiToken).where(ApiToken.token_sha256 == digest(token.strip()))
            )
            if row is None or row.revoked_at is not None:
                return _refuse(401, "the token is not valid", scope)
            g.token_name = f"token:{row.name}"
            if row.scope != scope:
                return _refuse(403, f"the token's scope is {row.scope}, not {scope}", scope)
            return view(*args, **kwargs)

        return checked

    return decorate
