from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from audit import Outcome
from webapp import auditing
from webapp.auth import bp, sessions
from webapp.auth.backends import authenticate_local
from webapp.auth.forms import ActionForm, LoginForm
from webapp.extensions import db
from webapp.i18n import LANGUAGES
from webapp.models import User


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, scheme or a protocol-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("calls.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        username = form.username.data.strip()
        user = authenticate_local(username, form.password.data)
        if user is not None and user.active:
            sessions.start(user)
            auditing.write("login", Outcome.ALLOWED, user=user, detail={"backend": "local"})
            return redirect(safe_next(form.next.data) or url_for("calls.index"))
        # Name the account only when it exists: a user name typed into the wrong field may be
        # someone's password.
        known = db.session.scalar(select(User).where(User.username == username))
        auditing.write(
            "login",
            Outcome.DENIED,
            user=known,
            detail={"reason": "inactive" if user is not None else "bad_credentials"},
        )
        flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        auditing.write("logout", Outcome.ALLOWED)
        sessions.end()
        db.session.commit()
        flash(_("You have logged out."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", form=form)


@bp.post("/language")
def set_language():
    form = ActionForm()
    lang = request.form.get("lang")
    if form.validate_on_submit() and lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("calls.index"))
