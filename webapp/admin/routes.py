from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp import policy
from webapp.admin import bp
from webapp.extensions import db
from webapp.models import AgentExtension, ApiToken, Role


@bp.get("/")
@login_required
def index():
    """What the command line configures, to be seen: who answers at which extension, and the
    integrations' tokens (their names and scopes; a token itself is never kept)."""
    policy.require_role(current_user, Role.ADMIN, "admin.view", "configuration")
    extensions = db.session.scalars(
        select(AgentExtension)
        .options(joinedload(AgentExtension.user))
        .order_by(AgentExtension.extension, AgentExtension.valid_from)
    ).all()
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.name)).all()
    return render_template("admin/index.html", extensions=extensions, tokens=tokens)
