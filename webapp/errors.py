from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have the right to do this."),
    404: _l("There is no such page, or you do not have access to it."),
    405: _l("This address does not accept that kind of request."),
    413: _l("What you sent is too large."),
    416: _l("The requested part of the recording does not exist."),
    429: _l("Too many attempts. Wait a moment and try again."),
    500: _l("Something went wrong on our side. The error has been logged."),
    503: _l(
        "The service cannot record this access in the audit trail right now, so it was "
        "refused. Try again in a moment."
    ),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _render(code: int, message: str):
    headers = {"Retry-After": "5"} if code == 503 else {}
    try:
        body = render_template("error.html", code=code, message=message)
    except Exception:  # the page itself failed (e.g. no database): say it plainly
        log.exception("error page could not be rendered")
        headers["Content-Type"] = "text/plain; charset=utf-8"
        body = f"{code}: {message}"
    return body, code, headers


def _csrf_error(error: CSRFError):
    return _render(
        400, str(_l("The form had expired or was not sent from this service. Please try again."))
    )


def _http_error(error: HTTPException):
    code = error.code or 500
    message = MESSAGES.get(code, error.name)
    if code == 400 and error.description and getattr(error, "show_description", False):
        message = error.description
    return _render(code, str(message))


def _unexpected(error: Exception):
    if isinstance(error, SQLAlchemyError):
        log.error("unhandled database error: %s", describe(error))
    else:
        log.exception("unhandled error")
    return _render(500, str(MESSAGES[500]))


def describe(error: SQLAlchemyError) -> str:
    """A database error as it may be logged: its kind and SQLSTATE, never its message. The
    server's message quotes the failing row (PostgreSQL's DETAIL), which is personal data."""
    original = getattr(error, "orig", None)
    kind = type(original or error).__name__
    sqlstate = getattr(original, "sqlstate", None)
    return f"{kind} (SQLSTATE {sqlstate})" if sqlstate else kind
