from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from audit import Outcome as AuditOutcome
from webapp import auditing
from webapp.auth import backends, bp, sessions, throttle
from webapp.auth.directory import Outcome
from webapp.auth.forms import ActionForm, LoginForm
from webapp.extensions import db
from webapp.i18n import LANGUAGES


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, scheme or a protocol-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


# What the user is told. An unknown name and a wrong password get the same words; what AD
# says only after a correct password gets words of its own, with what to do about it.
MESSAGES = {
    Outcome.BAD_CREDENTIALS: _l("Wrong username or password."),
    Outcome.NO_ACCESS: _l(
        "Your account has no access to Tallenne. If your work needs it, ask your supervisor "
        "to request it from the IT service desk."
    ),
    Outcome.DISABLED: _l(
        "Your account is disabled. Contact the IT service desk if you should still have access."
    ),
    Outcome.LOCKED: _l(
        "Your Windows account is locked after too many failed logins. It unlocks by itself "
        "after a while; the IT service desk can unlock it sooner."
    ),
    Outcome.ACCOUNT_EXPIRED: _l(
        "Your account has expired. Ask your supervisor to have the IT service desk extend it."
    ),
    Outcome.PASSWORD_EXPIRED: _l(
        "Your Windows password has expired. Change it on your workstation "
        "(Ctrl+Alt+Del, Change a password), then log in again."
    ),
    Outcome.MUST_CHANGE_PASSWORD: _l(
        "You must change your Windows password before you can log in. Change it on your "
        "workstation (Ctrl+Alt+Del, Change a password), then log in again."
    ),
    Outcome.UNAVAILABLE: _l(
        "The directory (Active Directory) does not answer, so you cannot log in right now. "
        "Try again in a few minutes; if it goes on, contact the IT service desk."
    ),
}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("calls.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)

    username = form.username.data.strip()
    keys = throttle.keys(username, request.remote_addr)
    try:
        wait = throttle.retry_after(keys)
    except throttle.ThrottleUnavailable:
        abort(503)
    if wait is not None:
        auditing.write("login", AuditOutcome.DENIED, detail={"reason": "throttled"})
        minutes = max(1, math.ceil(wait / 60))
        flash(
            _(
                "Too many failed logins. Wait %(minutes)d minutes and try again: more attempts "
                "could lock your Windows account.",
                minutes=minutes,
            ),
            "error",
        )
        return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}

    attempt = backends.authenticate(username, form.password.data)
    detail = {"backend": attempt.backend}
    if attempt.break_glass:
        detail["break_glass"] = True
    if attempt.outcome is Outcome.OK:
        throttle.succeeded(keys[0])
        sessions.start(attempt.user)
        auditing.write("login", AuditOutcome.ALLOWED, user=attempt.user, detail=detail)
        return redirect(safe_next(form.next.data) or url_for("calls.index"))

    if attempt.outcome is Outcome.BAD_CREDENTIALS:
        try:
            throttle.failed(keys)
        except throttle.ThrottleUnavailable:
            abort(503)
    # The trail names the account only when it exists: a user name typed into the wrong
    # field may be someone's password.
    auditing.write(
        "login",
        AuditOutcome.FAILED if attempt.outcome is Outcome.UNAVAILABLE else AuditOutcome.DENIED,
        user=attempt.user,
        detail={**detail, "reason": str(attempt.outcome)},
    )
    flash(str(MESSAGES[attempt.outcome]), "error")
    status = 503 if attempt.outcome is Outcome.UNAVAILABLE else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        auditing.write("logout", AuditOutcome.ALLOWED)
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
