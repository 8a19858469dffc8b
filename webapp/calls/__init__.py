from flask import Blueprint

bp = Blueprint("calls", __name__)

from webapp.calls import routes  # noqa: E402,F401  (routes register on bp)
