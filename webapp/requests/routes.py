"""``/requests``: the DPO's data-subject requests, each a case from its receipt to its outcome.
Every page and action is the DPO's alone; anyone else's attempt is refused (403) and audited.
Each change is committed together with its audit event."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from audit import Outcome, events
from webapp import auditing, policy, retention
from webapp.admin.forms import HOLD_REASONS
from webapp.auth.forms import ActionForm
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import (
    Customer,
    CustomerPhone,
    DataSubjectRequest,
    ErasedCustomer,
    LegalHold,
    Role,
)
from webapp.requests import bp, cases, erasure, package
from webapp.requests.forms import CaseForm, CloseForm, EraseForm, ExtendForm, RectifyForm
from webapp.storage import RecordingDamaged, RecordingMissing

LISTED = 500  # cases on the list: every open one comes first


def _require_dpo(action: str) -> None:
    policy.require_role(current_user, Role.DPO, action, "dsr_case")


@bp.get("/")
@login_required
def index():
    _require_dpo("dsr.list")
    rows = db.session.scalars(
        cases.open_first().options(joinedload(DataSubjectRequest.customer)).limit(LISTED)
    ).all()
    return render_template(
        "requests/index.html",
        cases=rows,
        today=flags.today(),
        days_left=cases.days_left,
        near_deadline=cases.near_deadline,
        kinds=cases.KIND_LABELS,
        statuses=cases.STATUS_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    _require_dpo("dsr.open")
    customer = None
    if request.args.get("customer"):
        customer_id = request.args.get("customer", type=int)
        customer = db.session.get(Customer, customer_id) if customer_id else None
        if customer is None:
            abort(404)
    form = CaseForm(
        customer=customer.customer_number if customer else None, received_on=flags.today()
    )
    if request.method == "GET":
        return render_template("requests/new.html", form=form)
    if not form.validate_on_submit():
        return render_template("requests/new.html", form=form), 400
    dsr = _open(form)
    _event(
        "dsr.open",
        dsr,
        {
            "kind": dsr.kind,
            "received_on": dsr.received_on.isoformat(),
            "deadline": dsr.deadline.isoformat(),
            "identity_check": dsr.identity_check,
        },
    )
    flash(_("The case %(reference)s is opened.", reference=dsr.reference), "info")
    return redirect(url_for("requests.detail", case_id=dsr.id))


def _open(form: CaseForm) -> DataSubjectRequest:
    """A new case with the year's next reference; two DPOs opening one at the same moment
    collide on it, and the later one takes the next."""
    year = flags.today().year
    for _attempt in range(5):
        dsr = DataSubjectRequest(
            reference=cases.next_reference(year),
            kind=form.kind.data,
            customer_id=form.customer_id,
            received_on=form.received_on.data,
            deadline=cases.deadline_for(form.received_on.data),
            identity_check=form.identity_check.data,
            identity_note=(form.identity_note.data or "").strip() or None,
            status="open",
            opened_by_id=current_user.id,
        )
        db.session.add(dsr)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            continue
        return dsr
    abort(503)


@bp.get("/<int:case_id>")
@login_required
def detail(case_id: int):
    _require_dpo("dsr.view")
    dsr = _case_or_404(case_id)
    _event("dsr.view", dsr)
    return _page(dsr)


def _page(dsr: DataSubjectRequest, status: int = 200, error: str | None = None, **forms):
    """The case's page, with the forms of what can still be done to it."""
    customer = dsr.customer
    today = flags.today()
    is_open = dsr.status == "open"
    kind = dsr.kind
    context = {
        "dsr": dsr,
        "customer": customer,
        "today": today,
        "days_left": cases.days_left(dsr, today),
        "near": cases.near_deadline(dsr, today),
        "kinds": cases.KIND_LABELS,
        "statuses": cases.STATUS_LABELS,
        "identity_checks": cases.IDENTITY_LABELS,
        "error": error,
        "erased": db.session.scalar(select(ErasedCustomer).where(ErasedCustomer.case_id == dsr.id)),
        "close_form": forms.get("close_form") or (CloseForm(formdata=None) if is_open else None),
        "extend_form": forms.get("extend_form")
        or (ExtendForm(formdata=None) if cases.may_extend(dsr, today) else None),
        "first_deadline": cases.deadline_for(dsr.received_on),
        "extended_deadline": cases.extended_deadline_for(dsr.received_on),
        "action_form": ActionForm(formdata=None),
        "rectify_form": None,
        "erase_form": None,
        "holds": [],
        "calls": 0,
        "counts": None,
        "downloads": [],
        "hold_text": _hold_text,
        "unlinked": ([], 0),
    }
    if customer is not None:
        context["unlinked"] = cases.unlinked_calls(customer.id)
    if customer is not None and kind in cases.PACKAGE_KINDS:
        context["calls"] = erasure.counts(customer.id).recordings
        context["downloads"] = db.session.execute(
            select(events.c.occurred_at, events.c.actor_name)
            .where(events.c.action == "dsr.package", events.c.case_ref == dsr.reference)
            .order_by(events.c.seq.desc())
        ).all()
    if customer is not None and is_open and kind == "rectification":
        context["rectify_form"] = forms.get("rectify_form") or RectifyForm(
            customer, formdata=None, obj=customer
        )
    if customer is not None and is_open and kind == "erasure":
        context["erase_form"] = forms.get("erase_form") or EraseForm(formdata=None)
        context["holds"] = retention.holds_on_customer(customer.id, today)
        context["counts"] = erasure.counts(customer.id)
    return render_template("requests/detail.html", **context), status


@bp.get("/<int:case_id>/package", endpoint="package")
@login_required
def package_download(case_id: int):
    """The access package, streamed. Audited before its first byte, and again after its last:
    a download cut short has its start and no completion."""
    _require_dpo("dsr.package")
    dsr = _case_or_404(case_id, kinds=cases.PACKAGE_KINDS)
    customer = dsr.customer or abort(404)
    contents = package.gather(dsr, customer)
    bad = package.damaged(contents)
    if bad:
        for call_id in bad:
            auditing.write(
                "recording.integrity_failed",
                Outcome.FAILED,
                object_type="call",
                object_id=str(call_id),
                customer_id=customer.id,
                case_ref=dsr.reference,
            )
        flash(
            _(
                "The recordings of these calls are missing or damaged, so the package would not "
                "be complete and was not made: %(calls)s. Ask the administrator to restore them.",
                calls=", ".join(str(c) for c in bad),
            ),
            "error",
        )
        return redirect(url_for("requests.detail", case_id=dsr.id))
    about = {
        "object_type": "dsr_case",
        "object_id": str(dsr.id),
        "customer_id": customer.id,
        "purpose": "data_subject_request",
        "case_ref": dsr.reference,
    }
    # Counts and call numbers: which recordings left, and nothing about the person.
    detail = {**contents.counts, "calls": [audio.call_id for audio in contents.audio]}
    auditing.write("dsr.package", Outcome.ALLOWED, **about, detail=detail)
    completed = auditing.completion("dsr.package.completed", **about)
    failed = auditing.completion("recording.integrity_failed", **about)
    reference = dsr.reference

    def body():
        try:
            yield from package.stream(contents)
        except (RecordingDamaged, RecordingMissing):
            failed({"recording": "damaged while the package was made"}, Outcome.FAILED)
            return
        completed(contents.counts)

    response = Response(
        stream_with_context(body()), mimetype="application/zip", direct_passthrough=True
    )
    # The file name says which case, and nothing about the customer.
    response.headers["Content-Disposition"] = f'attachment; filename="tallenne-{reference}.zip"'
    return response


@bp.post("/<int:case_id>/close")
@login_required
def close(case_id: int):
    _require_dpo("dsr.close")
    dsr = _open_case_or_404(case_id)
    form = CloseForm()
    if not form.validate_on_submit():
        return _page(dsr, 400, close_form=form)
    cases.close(dsr, form.status.data, form.outcome.data.strip(), current_user)
    # The outcome's text stays out of the trail: it may say things about the person.
    _event("dsr.close", dsr, {"status": dsr.status})
    flash(_("The case is closed."), "info")
    return redirect(url_for("requests.detail", case_id=dsr.id))


@bp.post("/<int:case_id>/extend")
@login_required
def extend(case_id: int):
    """The deadline two months further on (Art. 12(3)): once, within the first month, with the
    reasons the customer has been told."""
    _require_dpo("dsr.extend")
    dsr = _open_case_or_404(case_id)
    today = flags.today()
    if not cases.may_extend(dsr, today):
        error = (
            _("The deadline has been extended already.")
            if dsr.extended_at
            else _("The first month is over: the deadline can no longer be extended.")
        )
        return _page(dsr, 409, error=error)
    form = ExtendForm()
    if not form.validate_on_submit():
        return _page(dsr, 400, extend_form=form)
    cases.extend(dsr, form.reason.data.strip(), current_user, today)
    # Like the outcome, the reasons stay out of the trail.
    _event("dsr.extend", dsr, {"deadline": dsr.deadline.isoformat()})
    flash(_("The deadline is extended to %(day)s.", day=format_date(dsr.deadline, "long")), "info")
    return redirect(url_for("requests.detail", case_id=dsr.id))


# What a rectification edits, as the audit event names them (never their values).
CUSTOMER_FIELDS = ("name", "email", "language", "contact_person")


@bp.post("/<int:case_id>/rectify")
@login_required
def rectify(case_id: int):
    _require_dpo("dsr.rectify")
    dsr = _open_case_or_404(case_id, kinds=("rectification",))
    customer = dsr.customer or abort(404)
    form = RectifyForm(customer)
    if not form.validate_on_submit():
        return _page(dsr, 400, rectify_form=form)
    changed = _rectify(customer, form)
    if not changed:
        db.session.rollback()
        flash(_("Nothing was changed: the data was already so."), "info")
        return redirect(url_for("requests.detail", case_id=dsr.id))
    auditing.about_customer(
        "dsr.rectify",
        Outcome.ALLOWED,
        customer.id,
        case_ref=dsr.reference,
        detail={"changed": changed},
    )
    flash(_("The customer's data is saved. Close the case once the customer is answered."), "info")
    return redirect(url_for("requests.detail", case_id=dsr.id))


def _rectify(customer: Customer, form: RectifyForm) -> list[str]:
    """Copy the form onto the customer; the names of what changed."""
    changed = []
    for name in CUSTOMER_FIELDS:
        value = (getattr(form, name).data or "").strip() or None
        if name in ("name", "language"):
            value = value or getattr(customer, name)
        if getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.append(name)
    removed = {int(i) for i in form.remove_phones.data or ()}
    kept = {p.phone_e164 for p in customer.phones if p.id not in removed}
    added = [number for number in dict.fromkeys(form.added) if number not in kept]
    if removed or added:
        for phone in [p for p in customer.phones if p.id in removed]:
            customer.phones.remove(phone)
        db.session.flush()  # gone before a number comes back, say without its secrecy
        for number in added:
            customer.phones.append(CustomerPhone(phone_e164=number, secret=form.added_secret.data))
        changed.append("phone_numbers")
    return changed


@bp.post("/<int:case_id>/erase")
@login_required
def erase(case_id: int):
    """Erase the customer, unless a legal hold or a legal obligation blocks it: then the case
    is refused, and its outcome says what blocked it."""
    _require_dpo("dsr.erase")
    dsr = _open_case_or_404(case_id, kinds=("erasure",))
    customer = dsr.customer or abort(404)
    form = EraseForm()
    if not form.validate_on_submit():
        return _page(dsr, 400, erase_form=form)
    obligation = (form.obligation.data or "").strip()
    if not (form.confirm.data or obligation):
        form.confirm.errors = [
            _("Confirm the erasure, or state the legal obligation that blocks it.")
        ]
        return _page(dsr, 400, erase_form=form)
    holds = retention.holds_on_customer(customer.id, flags.today())
    if holds:
        outcome = _(
            "Not erased: a legal hold keeps the customer's recordings (%(holds)s).",
            holds="; ".join(_hold_text(h) for h in holds),
        )
        cases.close(dsr, "refused", outcome, current_user)
        detail = {"status": "refused", "blocked_by": "legal_hold", "holds": [h.id for h in holds]}
        _event("dsr.close", dsr, detail)
        flash(outcome, "error")
    elif obligation:
        outcome = _(
            "Not erased: a legal obligation requires keeping the data: %(obligation)s",
            obligation=obligation,
        )
        cases.close(dsr, "refused", outcome, current_user)
        _event("dsr.close", dsr, {"status": "refused", "blocked_by": "legal_obligation"})
        flash(outcome, "error")
    else:
        _erase(dsr, customer)
    return redirect(url_for("requests.detail", case_id=dsr.id))


def _erase(dsr: DataSubjectRequest, customer: Customer) -> None:
    """The erasure is recorded, the case closed and the event committed first; then it is
    carried out. Stopped in between, the record makes the next purge finish it."""
    counts = erasure.counts(customer.id)
    outcome = _(
        "Erased: %(recordings)s recordings, %(phones)s phone numbers, %(flags)s flag changes, "
        "and the customer's data.",
        **counts._asdict(),
    )
    erasure.record(customer, dsr)
    cases.close(dsr, "done", outcome, current_user)
    _event("dsr.erase", dsr, {"status": "done", **counts._asdict()})
    erasure.carry_out(customer.id)
    flash(outcome, "info")


@bp.post("/<int:case_id>/flag")
@login_required
def record_flag(case_id: int):
    """A restriction of processing or an objection, from today, with the case as its source."""
    _require_dpo("dsr.flag")
    dsr = _open_case_or_404(case_id, kinds=cases.FLAG_KINDS)
    customer = dsr.customer or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    day = flags.today()
    if dsr.kind == "restriction":
        outcome = _(
            "Processing restricted from %(day)s: the recordings are kept, but played only for a "
            "data-subject request or a legal claim.",
            day=format_date(day, "long"),
        )
    else:
        outcome = _(
            "Objection recorded from %(day)s: the customer's calls are left out of "
            "quality-review sampling and the training library.",
            day=format_date(day, "long"),
        )
    cases.close(dsr, "done", outcome, current_user)
    # The flag's own event (flag.change) commits the flag and the case's closing together.
    flag = flags.record(
        customer, dsr.kind, True, "dsr_case", day, reference=dsr.reference, by=current_user
    )
    _event("dsr.close", dsr, {"status": "done", "flag": flag.id})
    flash(outcome, "info")
    return redirect(url_for("requests.detail", case_id=dsr.id))


def _case_or_404(case_id: int, kinds: tuple[str, ...] | None = None) -> DataSubjectRequest:
    """The case; a case of another kind has no such action, so 404 too."""
    dsr = db.session.get(DataSubjectRequest, case_id)
    if dsr is None or (kinds is not None and dsr.kind not in kinds):
        abort(404)
    return dsr


def _open_case_or_404(case_id: int, kinds: tuple[str, ...] | None = None) -> DataSubjectRequest:
    dsr = _case_or_404(case_id, kinds)
    if dsr.status != "open":
        abort(make_response(_page(dsr, 409, error=_("The case is closed already."))))
    return dsr


def _event(action: str, dsr: DataSubjectRequest, detail: dict | None = None) -> None:
    auditing.write(
        action,
        Outcome.ALLOWED,
        object_type="dsr_case",
        object_id=str(dsr.id),
        customer_id=dsr.customer_id,
        case_ref=dsr.reference,
        detail=detail,
    )


def _hold_text(hold: LegalHold) -> str:
    what = (
        _("call %(number)s", number=hold.call_id)
        if hold.call_id
        else _("all of the customer's calls")
    )
    return _(
        "%(what)s: %(reason)s, case %(case_ref)s, until %(day)s",
        what=what,
        reason=HOLD_REASONS.get(hold.reason, hold.reason),
        case_ref=hold.case_ref,
        day=format_date(hold.until, "long"),
    )
