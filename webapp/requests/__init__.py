"""Data-subject requests (GDPR Art. 15–21, SPEC §6), handled by the DPO as cases
(``/requests``)."""

from flask import Blueprint

bp = Blueprint("requests", __name__, url_prefix="/requests")

from webapp.requests import routes  # noqa: E402,F401  (routes register on bp)
