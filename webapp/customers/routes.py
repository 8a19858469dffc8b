"""``/customers``: find a customer, see their data, calls and flags, and record a change of a
flag; and, from a call's page, the ban or consent a customer states on the line."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from audit import Outcome
from webapp import auditing, policy
from webapp.customers import bp, flags
from webapp.customers.forms import CallFlagForm, FlagForm, LinkForm, SearchForm
from webapp.customers.panel import may_record_from_call
from webapp.extensions import db
from webapp.models import Call, Customer, CustomerPhone
from webapp.phones import to_e164

RESULTS = 50
CALLS_SHOWN = 50


def _search(text: str) -> tuple[str, list[Customer]]:
    """A phone number in any format, a customer number, or a part of a name; and what it
    was taken for."""
    visible = select(Customer).where(policy.customer_visibility(current_user))
    visible = visible.options(selectinload(Customer.phones)).order_by(Customer.name)
    text = text.strip()
    by_number = db.session.scalars(visible.where(Customer.customer_number == text)).all()
    if by_number:
        return "customer_number", by_number
    if any(c.isdigit() for c in text) and not any(c.isalpha() for c in text):
        try:
            phone = to_e164(text)
        except ValueError:
            return "phone", []
        owners = select(CustomerPhone.customer_id).where(CustomerPhone.phone_e164 == phone)
        return "phone", db.session.scalars(visible.where(Customer.id.in_(owners))).all()
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    named = visible.where(func.lower(Customer.name).like(pattern, escape="\\"))
    return "name", db.session.scalars(named.limit(RESULTS + 1)).all()


@bp.route("/customers", methods=["GET", "POST"])
@login_required
def index():
    form = SearchForm()
    results, searched = None, False
    if form.validate_on_submit():
        by, results = _search(form.q.data)
        searched = True
        # Which kind of search and how many found: never what was searched for.
        auditing.write(
            "customer.search",
            Outcome.ALLOWED,
            object_type="customer",
            customer_id=results[0].id if len(results) == 1 else None,
            detail={"by": by, "found": min(len(results), RESULTS)},
        )
    truncated = results is not None and len(results) > RESULTS
    return render_template(
        "customers/index.html",
        form=form,
        results=results[:RESULTS] if results else results,
        searched=searched,
        truncated=truncated,
        states=flags.states_at([c.id for c in results or []], flags.today()),
    )


@bp.get("/customers/<int:customer_id>")
@login_required
def detail(customer_id: int, flag_form: FlagForm | None = None):
    customer = policy.visible_customer_or_404(current_user, customer_id, "customer.view")
    auditing.about_customer(
        "customer.view",
        Outcome.ALLOWED,
        customer.id,
    )
    calls = db.session.scalars(
        policy.visible_calls(current_user)
        .where(Call.customer_id == customer.id)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(CALLS_SHOWN + 1)
    ).all()
    if not policy.manages_flags(current_user):
        flag_form = None
    elif flag_form is None:
        flag_form = FlagForm(valid_from=flags.today())
    return render_template(
        "customers/detail.html",
        customer=customer,
        calls=calls[:CALLS_SHOWN],
        more_calls=len(calls) > CALLS_SHOWN,
        state=flags.state_at(customer.id, flags.today()),
        history=db.session.scalars(flags.history(customer.id).limit(500)).all(),
        flag_form=flag_form,
        in_force=flags.in_force,
        kinds=flags.KINDS,
        sources=flags.SOURCES,
    )


@bp.post("/customers/<int:customer_id>/flags")
@login_required
def record_flag(customer_id: int):
    customer = policy.visible_customer_or_404(current_user, customer_id, "flag.change")
    if not policy.manages_flags(current_user):
        _denied(customer, "flag.change")
    form = FlagForm()
    if not form.validate_on_submit():
        return detail(customer.id, flag_form=form), 400
    call = None
    if form.source.data == "call":
        call = db.session.scalar(
            policy.visible_calls(current_user).where(Call.id == form.call.data)
        )
        if call is None or call.customer_id != customer.id:
            form.call.errors = [_("This customer has no call with this number.")]
            return detail(customer.id, flag_form=form), 400
    flags.record(
        customer,
        form.kind.data,
        form.state.data == "1",
        form.source.data,
        form.valid_from.data,
        form.valid_until.data,
        call=call,
        reference=form.reference.data,
        by=current_user,
    )
    flash(_("The change is recorded."), "info")
    return redirect(url_for("customers.detail", customer_id=customer.id) + "#flags")


@bp.post("/calls/<int:call_id>/flags")
@login_required
def call_flag(call_id: int):
    """A ban or consent the customer states on this call, from today on."""
    from webapp.calls.routes import detail as call_page

    call = policy.visible_call_or_404(current_user, call_id, "flag.change")
    if call.customer_id is None:
        flash(_("The call is not linked to a customer: link it first."), "error")
        return call_page(call.id), 400
    if not may_record_from_call(call):
        auditing.write("flag.change", Outcome.DENIED, object_type="call", object_id=str(call.id))
        abort(403)
    form = CallFlagForm()
    if not form.validate_on_submit():
        return call_page(call.id, flag_form=form), 400
    flags.record(
        call.customer,
        form.kind.data,
        form.state.data == "1",
        "call",
        flags.today(),
        call=call,
        by=current_user,
    )
    flash(_("The change is recorded."), "info")
    return redirect(url_for("calls.detail", call_id=call.id) + "#customer")


@bp.post("/calls/<int:call_id>/customer")
@login_required
def link_call(call_id: int):
    """Link a call to a customer by hand (one whose number was secret or new, say)."""
    from webapp.calls.routes import detail as call_page

    call = policy.visible_call_or_404(current_user, call_id, "call.link")
    if not policy.manages_flags(current_user):
        auditing.write("call.link", Outcome.DENIED, object_type="call", object_id=str(call.id))
        abort(403)
    form = LinkForm()
    customer = None
    if form.validate_on_submit():
        customer = db.session.scalar(
            select(Customer).where(Customer.customer_number == form.customer_number.data.strip())
        )
        if customer is None:
            form.customer_number.errors = [_("There is no customer with this number.")]
    if customer is None:
        return call_page(call.id, link_form=form), 400
    previous = call.customer_id
    call.customer_id = customer.id
    auditing.about_call("call.link", Outcome.ALLOWED, call, detail={"previous_customer": previous})
    flash(_("The call is linked to the customer."), "info")
    return redirect(url_for("calls.detail", call_id=call.id) + "#customer")


def _denied(customer: Customer, action: str) -> None:
    auditing.about_customer(
        action,
        Outcome.DENIED,
        customer.id,
    )
    abort(403)
