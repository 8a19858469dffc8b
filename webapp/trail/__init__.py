"""The data-protection officer's review of the audit trail (``/audit``)."""

from flask import Blueprint

bp = Blueprint("trail", __name__, url_prefix="/audit")

from webapp.trail import routes  # noqa: E402,F401  (routes register on bp)
