"""``/stats``: how the service is doing, in figures that identify no one (SPEC §7)."""

from flask import Blueprint

bp = Blueprint("stats", __name__, url_prefix="/stats")

from webapp.stats import routes  # noqa: E402,F401  (routes register on bp)
