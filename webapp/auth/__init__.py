from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import routes, sessions  # noqa: E402,F401  (routes register on bp)
