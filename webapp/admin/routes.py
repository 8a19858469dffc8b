from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from audit import Outcome
from webapp import auditing, policy, retention
from webapp.admin import bp
from webapp.admin.forms import (
    HOLD_REASONS,
    SCALES,
    CriterionRow,
    HoldForm,
    RegisterForm,
    ScorecardForm,
)
from webapp.auth.forms import ActionForm
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import (
    AgentExtension,
    ApiToken,
    Criterion,
    Customer,
    LegalHold,
    Register,
    RegisterPurpose,
    Review,
    Role,
    Scorecard,
    ScorecardVersion,
)

ENDING_SOON = timedelta(days=14)


@bp.get("/")
@login_required
def index(hold_form: HoldForm | None = None):
    """What the command line configures, to be seen: who answers at which extension, and the
    integrations' tokens (their names and scopes; a token itself is never kept); and the legal
    holds, set and lifted here."""
    policy.require_role(current_user, Role.ADMIN, "admin.view", "configuration")
    extensions = db.session.scalars(
        select(AgentExtension)
        .options(joinedload(AgentExtension.user))
        .order_by(AgentExtension.extension, AgentExtension.valid_from)
    ).all()
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.name)).all()
    today = flags.today()
    holds = db.session.scalars(
        select(LegalHold)
        .where(LegalHold.lifted_at.is_(None), LegalHold.until >= today)
        .order_by(LegalHold.until)
    ).all()
    numbers = Customer.numbers({h.customer_id for h in holds if h.customer_id})
    registers = db.session.scalars(select(Register).order_by(Register.name)).all()
    return render_template(
        "admin/index.html",
        registers=registers,
        extensions=extensions,
        tokens=tokens,
        holds=holds,
        customer_numbers=numbers,
        reasons=HOLD_REASONS,
        soon=today + ENDING_SOON,
        hold_form=hold_form or HoldForm(),
        lift_form=ActionForm(),
    )


@bp.post("/holds")
@login_required
def set_hold():
    policy.require_role(current_user, Role.ADMIN, "hold.set", "legal_hold")
    form = HoldForm()
    if not form.validate_on_submit():
        return index(hold_form=form), 400
    hold = LegalHold(
        call_id=form.call_id,
        customer_id=form.customer_id,
        reason=form.reason.data,
        case_ref=form.case_ref.data.strip(),
        until=form.until.data,
        set_by_id=current_user.id,
    )
    db.session.add(hold)
    db.session.flush()
    _audit("hold.set", hold)
    flash(_("The legal hold is set."), "info")
    return redirect(url_for("admin.index"))


@bp.post("/holds/<int:hold_id>/lift")
@login_required
def lift_hold(hold_id: int):
    policy.require_role(current_user, Role.ADMIN, "hold.lift", "legal_hold")
    hold = db.session.get(LegalHold, hold_id)
    if hold is None or hold.lifted_at is not None or not ActionForm().validate_on_submit():
        abort(404)
    hold.lifted_at = datetime.now(UTC)
    _audit("hold.lift", hold)
    flash(_("The legal hold is lifted."), "info")
    return redirect(url_for("admin.index"))


def _audit(action: str, hold: LegalHold) -> None:
    """Committed with the change itself: no hold is set or lifted without its event."""
    auditing.write(
        action,
        Outcome.ALLOWED,
        object_type="call" if hold.call_id else "customer",
        object_id=str(hold.call_id or hold.customer_id),
        customer_id=hold.customer_id,
        case_ref=hold.case_ref,
        detail={"hold": hold.id, "reason": hold.reason, "until": hold.until.isoformat()},
    )


# What a register's form edits, as the audit event names them (never their values: a contact
# person's name is personal data; the retention period is not and is recorded as it changes).
REGISTER_FIELDS = (
    "name",
    "legal_basis",
    "controller",
    "contact",
    "dpo_contact",
    "processors",
    "scorecard_id",
    "review_sample_size",
)


@bp.route("/registers/<int:register_id>", methods=["GET", "POST"])
@login_required
def edit_register(register_id: int):
    """A register's settings. Its retention period decides every expiry at once (expiry is
    computed, never stored); shortening it is confirmed first with the number of recordings
    that the next purge will then remove."""
    policy.require_role(current_user, Role.ADMIN, "register.change", "configuration")
    register = db.session.get(Register, register_id) or abort(404)
    form = RegisterForm(obj=register)
    if request.method == "GET":
        form.purposes.data = [p.code for p in register.purposes]
        return render_template("admin/register.html", register=register, form=form)
    if not form.validate_on_submit():
        return render_template("admin/register.html", register=register, form=form), 400
    now = datetime.now(UTC)
    months = form.retention_months.data
    newly_expired = 0
    if months < register.retention_months:
        newly_expired = retention.removable_count(
            register, months, now
        ) - retention.removable_count(register, register.retention_months, now)
    if newly_expired and not form.confirm.data:
        return render_template(
            "admin/register.html", register=register, form=form, newly_expired=newly_expired
        )
    changed = _apply(register, form)
    if changed:
        register.notice_updated_on = now.date()
        detail: dict = {"register": register.code, "changed": changed}
        if "retention_months" in changed:
            detail["retention_months"] = form.retention_months.object_data, months
            detail["newly_expired"] = newly_expired
        auditing.write(
            "register.change",
            Outcome.ALLOWED,
            object_type="register",
            object_id=str(register.id),
            detail=detail,
        )
        flash(_("The register's settings are saved."), "info")
        if newly_expired:
            flash(
                ngettext(
                    "%(num)s recording is now past the register's retention period: the "
                    "next purge removes it.",
                    "%(num)s recordings are now past the register's retention period: the "
                    "next purge removes them.",
                    newly_expired,
                ),
                "info",
            )
    return redirect(url_for("admin.index"))


def _apply(register: Register, form: RegisterForm) -> list[str]:
    """Copy the form onto the register; the names of what changed."""
    changed = []
    for name in (*REGISTER_FIELDS, "retention_months"):
        value = getattr(form, name).data
        if isinstance(value, str):
            value = value.strip().replace("\r\n", "\n")
        if getattr(register, name) != value:
            setattr(register, name, value)
            changed.append(name)
    wanted = set(form.purposes.data)
    if wanted != {p.code for p in register.purposes}:
        for row in list(register.purpose_rows):
            if row.purpose_code not in wanted:
                register.purpose_rows.remove(row)
        have = {row.purpose_code for row in register.purpose_rows}
        register.purpose_rows.extend(
            RegisterPurpose(purpose_code=code) for code in sorted(wanted - have)
        )
        changed.append("purposes")
    return changed


@bp.get("/scorecards")
@login_required
def scorecards():
    """The scorecards, with the registers that review on each and the reviews made on each
    version."""
    policy.require_role(current_user, Role.ADMIN, "scorecard.view", "configuration")
    cards = db.session.scalars(select(Scorecard).order_by(Scorecard.name)).all()
    return render_template(
        "admin/scorecards.html",
        scorecards=cards,
        registers=_registers_by_scorecard(),
        reviews=_reviews_by_version(),
    )


@bp.route("/scorecards/new", methods=["GET", "POST"])
@login_required
def new_scorecard():
    _require_scorecard_admin()
    return _scorecard_page(None)


@bp.route("/scorecards/<int:scorecard_id>", methods=["GET", "POST"])
@login_required
def edit_scorecard(scorecard_id: int):
    """A scorecard's criteria, changed into a new version (a version is never changed, so a
    review keeps what it was scored on); its versions, and any one of them to read."""
    _require_scorecard_admin()
    scorecard = db.session.get(Scorecard, scorecard_id) or abort(404)
    return _scorecard_page(scorecard)


def _require_scorecard_admin() -> None:
    action = "scorecard.change" if request.method == "POST" else "scorecard.view"
    policy.require_role(current_user, Role.ADMIN, action, "configuration")


def _scorecard_page(scorecard: Scorecard | None):
    if request.method == "GET":
        form = ScorecardForm(scorecard=scorecard, **_form_data(scorecard))
        return _render_scorecard(scorecard, form)
    form = ScorecardForm(scorecard=scorecard)
    if not form.validate_on_submit():
        while len(form.criteria) < 3:
            form.criteria.append_entry()
        return _render_scorecard(scorecard, form), 400
    return _save_scorecard(scorecard, form)


def _save_scorecard(scorecard: Scorecard | None, form: ScorecardForm):
    """A rename changes the scorecard; changed criteria are a new version, and the versions
    before it stay as they were."""
    current = scorecard.current if scorecard else None
    existing = scorecard
    rows = form.rows()
    changed = []
    if scorecard is None:
        scorecard = Scorecard(name=form.name.data)
        db.session.add(scorecard)
        changed = ["name", "criteria"]
    else:
        if form.name.data != scorecard.name:
            scorecard.name = form.name.data
            changed.append("name")
        if current is None or [CriterionRow.of(c) for c in current.criteria] != rows:
            changed.append("criteria")
    if not changed:
        flash(_("Nothing was changed."), "info")
        return redirect(url_for("admin.edit_scorecard", scorecard_id=scorecard.id))
    number = current.number if current else 0
    if "criteria" in changed:
        number += 1
        version = ScorecardVersion(number=number, created_by_id=current_user.id)
        version.criteria = [
            Criterion(position=position, **row._asdict())
            for position, row in enumerate(rows, start=1)
        ]
        scorecard.versions.append(version)
    try:
        db.session.flush()
    except IntegrityError:  # another administrator saved this name after the form's check
        db.session.rollback()
        form.name.errors = [_("There is already a scorecard with this name.")]
        return _render_scorecard(existing, form), 409
    # Committed with the change itself: no version is written without its event.
    auditing.write(
        "scorecard.change",
        Outcome.ALLOWED,
        object_type="scorecard",
        object_id=str(scorecard.id),
        detail={"version": number, "fields": changed},
    )
    if "criteria" in changed:
        flash(_("The scorecard is saved as version %(number)s.", number=number), "info")
    else:
        flash(_("The scorecard's name is saved."), "info")
    return redirect(url_for("admin.edit_scorecard", scorecard_id=scorecard.id))


def _form_data(scorecard: Scorecard | None) -> dict:
    """The form's rows: the current criteria, numbered in tens to leave room between them,
    and three empty rows for new ones."""
    current = scorecard.current if scorecard else None
    criteria = current.criteria if current else []
    rows = [
        {
            "criterion": str(c.id),
            "position": 10 * n,
            "section": c.section,
            "title": c.title,
            "description": c.description or "",
            "scale": f"{c.scale_min}-{c.scale_max}",
            "weight": c.weight,
        }
        for n, c in enumerate(criteria, start=1)
    ]
    return {
        "name": scorecard.name if scorecard else "",
        "criteria": [*rows, {}, {}, {}],
        "based_on": str(current.number) if current else "",
    }


def _render_scorecard(scorecard: Scorecard | None, form: ScorecardForm) -> str:
    shown = None
    if scorecard is not None and "version" in request.args:
        number = request.args.get("version", type=int)
        shown = next((v for v in scorecard.versions if v.number == number), None)
        if shown is None:
            abort(404)
    return render_template(
        "admin/scorecard.html",
        scorecard=scorecard,
        form=form,
        shown=shown,
        scales=SCALES,
        registers=_registers_by_scorecard().get(scorecard.id, []) if scorecard else [],
        reviews=_reviews_by_version(scorecard) if scorecard else {},
    )


def _registers_by_scorecard() -> dict[int, list[Register]]:
    by_scorecard = defaultdict(list)
    query = select(Register).where(Register.scorecard_id.is_not(None)).order_by(Register.name)
    for register in db.session.scalars(query):
        by_scorecard[register.scorecard_id].append(register)
    return by_scorecard


def _reviews_by_version(scorecard: Scorecard | None = None) -> dict[int, int]:
    """How many reviews were made on each version (of one scorecard, or of all)."""
    query = select(Review.version_id, func.count()).group_by(Review.version_id)
    if scorecard is not None:
        query = query.where(Review.version_id.in_([v.id for v in scorecard.versions]))
    return dict(db.session.execute(query).all())
