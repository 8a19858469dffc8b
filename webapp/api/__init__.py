"""JSON under /api/v1 for integrations, with bearer tokens instead of logins (no cookies, so
no CSRF): the phone system sends recordings; other systems ask before they contact a customer."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.api import routes  # noqa: E402,F401  (routes register on bp)
