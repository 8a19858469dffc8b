"""``/privacy``: each register's privacy notice (tietosuojaseloste, GDPR Art. 13), generated
from the same settings that the system runs on (the retention period the purge uses, the
purposes the playback prompt offers, the controller and processors set in /admin), so that the
published notice cannot drift from what the system does. Public: a notice is for everyone."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Register

bp = Blueprint("privacy", __name__, url_prefix="/privacy")

# Each purpose as the customer reads it.
PURPOSES = {
    "order_verification": _l("to verify what you ordered or agreed on the phone"),
    "complaint": _l("to establish what was said when a complaint or a dispute is handled"),
    "quality": _l("to assure the quality of our customer service"),
    "training": _l("to train our customer-service staff"),
    "service_development": _l("to plan and develop our customer service"),
    "data_subject_request": _l("to answer your own requests about your data"),
    "authority_request": _l("to disclose a recording to an authority where the law requires it"),
}

LEGAL_BASES = {
    "legitimate_interest": _l(
        "The legal basis is our legitimate interest (GDPR Art. 6(1)(f)) in being able to "
        "verify what was agreed on a call and in keeping our customer service good. You are "
        "told at the start of every call that it is recorded."
    ),
    "legal_obligation": _l(
        "The legal basis is compliance with a legal obligation that applies to us (GDPR Art. "
        "6(1)(c))."
    ),
    "contract": _l(
        "The legal basis is the contract between you and us, and the steps taken at your "
        "request before one (GDPR Art. 6(1)(b))."
    ),
    "consent": _l(
        "The legal basis is your consent (GDPR Art. 6(1)(a)), which you may withdraw at any "
        "time without affecting what was done before."
    ),
}


def _registers():
    return select(Register).options(
        selectinload(Register.services), selectinload(Register.purpose_rows)
    )


@bp.get("")
def index():
    registers = db.session.scalars(_registers().order_by(Register.name)).all()
    if len(registers) == 1:
        return notice(registers[0].code)
    return render_template("privacy/index.html", registers=registers)


@bp.get("/<code>")
def notice(code: str):
    register = db.session.scalar(_registers().where(Register.code == code)) or abort(404)
    return render_template(
        "privacy/notice.html",
        register=register,
        purposes=[PURPOSES[p.code] for p in register.purposes if p.code in PURPOSES],
        legal_basis=LEGAL_BASES.get(register.legal_basis, LEGAL_BASES["legitimate_interest"]),
        processors=[line.strip() for line in register.processors.splitlines() if line.strip()],
    )
