"""Quality review (SPEC §1, the supervisor's and the agent's part): scorecards, reviews of
calls with comments pinned to moments of the recording, the monthly review queue, and the
training library."""

from flask import Blueprint

bp = Blueprint("reviews", __name__)

from webapp.reviews import routes  # noqa: E402,F401  (routes register on bp)
