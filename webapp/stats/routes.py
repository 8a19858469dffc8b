from __future__ import annotations

from flask_login import current_user, login_required

from webapp import policy
from webapp.stats import bp


@bp.get("/")
@login_required
def index():
    policy.require_role(current_user, policy.REVIEWERS, "stats.view", "statistics")
    return "", 204
