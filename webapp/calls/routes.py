from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.http import parse_range_header
from wtforms.fields.choices import SelectChoice

from audit import Outcome
from webapp import auditing, policy, retention
from webapp.auth import sessions
from webapp.calls import bp
from webapp.calls.forms import CallFilterForm, PurposeForm
from webapp.calls.queries import Cursor, apply_filters, page
from webapp.customers import flags
from webapp.customers.forms import CallFlagForm, LinkForm
from webapp.customers.panel import customer_panel
from webapp.extensions import db
from webapp.models import AccessGrant, Call, CustomerPhone, Role, Service, User
from webapp.purposes import label as purpose_label
from webapp.storage import RecordingDamaged, RecordingMissing, storage


@bp.get("/")
@login_required
def home():
    return redirect(url_for("calls.index"))


@bp.get("/calls")
@login_required
def index():
    user = current_user
    sees_all = policy.sees_all_calls(user)
    form = CallFilterForm(request.args)
    services = db.session.execute(select(Service.id, Service.name).order_by(Service.name))
    form.service.choices = [SelectChoice("", _("All services"))] + [
        SelectChoice(str(id_), name) for id_, name in services
    ]
    if sees_all:
        agents = (
            select(User.id, User.display_name)
            .where(User.role_rows.any(role=str(Role.AGENT)))
            .order_by(User.display_name)
        )
        form.agent.choices = [SelectChoice("", _("All agents"))] + [
            SelectChoice(str(id_), name) for id_, name in db.session.execute(agents)
        ]
    else:  # an agent's list is their own calls: there is no one else to choose
        del form.agent
    calls: list[Call] = []
    next_cursor = None
    if form.validate():
        # The search is audited (and committed) before its results are read: no results
        # without the event. It is the request's only write, so the user stays loaded.
        _audit_search(form)
        size = current_app.config["CALLS_PER_PAGE"]
        query = apply_filters(policy.visible_calls(user), form, may_filter_agent=sees_all)
        rows = list(db.session.scalars(page(query, Cursor.decode(request.args.get("after")), size)))
        calls = rows[:size]
        if len(rows) > size:
            next_cursor = Cursor(calls[-1].started_at, calls[-1].id).encode()
    args = request.args.to_dict()
    after = args.pop("after", None)
    first_url = url_for("calls.index", **args) if after else None
    next_url = url_for("calls.index", **args, after=next_cursor) if next_cursor else None
    return render_template(
        "calls/index.html",
        form=form,
        calls=calls,
        next_url=next_url,
        first_url=first_url,
        sees_all=sees_all,
    )


def _audit_search(form: CallFilterForm) -> None:
    used = sorted(k for k, v in request.args.items() if v and k != "after")
    if not used:
        return
    customer_id = None
    if form.phone_e164:  # a search by number is a look-up of that customer
        customer_id = db.session.scalar(
            select(CustomerPhone.customer_id).where(CustomerPhone.phone_e164 == form.phone_e164)
        )
    auditing.write(
        "call.search",
        Outcome.ALLOWED,
        customer_id=customer_id,
        detail={"filters": used},
        keep_loaded=True,
    )


@bp.get("/calls/<int:call_id>")
@login_required
def detail(call_id: int, flag_form: CallFlagForm | None = None, link_form: LinkForm | None = None):
    """The call's facts, its customer's flags, and its recording, or the purpose asked first.
    The customers blueprint renders it again with its forms' errors."""
    call = policy.visible_call_or_404(current_user, call_id, "call.view")
    restriction = policy.restriction_on(call)
    restricted = restriction is not None
    access = policy.playback_access(current_user, call, sessions.current_id(), restricted)
    _call_event("call.view", Outcome.ALLOWED, call, access)
    form = None
    purposes = policy.purposes_for(current_user, call, restricted)
    if access is None and purposes:
        form = PurposeForm()
        form.set_purposes(purposes)
    return render_template(
        "calls/detail.html",
        call=call,
        access=access,
        form=form,
        purpose_label=purpose_label,
        expires=retention.expires_at(call),
        hold=retention.hold_on(call, flags.today()),
        restriction=restriction,
        # After the event's commit, which would expire the flag rows it reads.
        customer=customer_panel(call, flag_form, link_form),
        flag_kinds=flags.KINDS,
    )


@bp.post("/calls/<int:call_id>/purpose")
@login_required
def state_purpose(call_id: int):
    call = policy.visible_call_or_404(current_user, call_id, "call.purpose")
    purposes = policy.purposes_for(current_user, call)
    form = PurposeForm()
    form.set_purposes(purposes)
    if not purposes or not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("calls.detail", call_id=call.id))
    case_ref = (form.case_ref.data or "").strip() or None
    db.session.add(
        AccessGrant(
            session_id=sessions.current_id(),
            call_id=call.id,
            purpose_code=form.purpose.data,
            case_ref=case_ref,
        )
    )
    _call_event("call.purpose", Outcome.ALLOWED, call, policy.Access(form.purpose.data, case_ref))
    return redirect(url_for("calls.detail", call_id=call.id))


def _call_event(
    action: str,
    outcome: Outcome,
    call: Call,
    access: policy.Access | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    auditing.about_call(
        action,
        outcome,
        call,
        purpose=access.purpose if access else None,
        case_ref=access.case_ref if access else None,
        detail=detail,
    )


def _access_or_403(call: Call, action: str) -> policy.Access:
    restricted = policy.restriction_on(call) is not None
    access = policy.playback_access(current_user, call, sessions.current_id(), restricted)
    if access is None:
        reason = "restricted" if restricted else "purpose_required"
        _call_event(action, Outcome.DENIED, call, detail={"reason": reason})
        abort(403)
    return access


def _recording_size(call: Call) -> int:
    try:
        size = storage().size(call.recording)
    except RecordingMissing:
        size = None
    if size != call.recording_bytes:
        _damaged(call, {"expected_bytes": call.recording_bytes, "found_bytes": size})
    return size


def _damaged(call: Call, detail: dict[str, object]) -> None:
    _call_event("recording.integrity_failed", Outcome.FAILED, call, detail=detail)
    abort(500)


def _playable(call_id: int, action: str) -> tuple[Call, policy.Access, int]:
    """A call whose audio may leave: one the user sees (else 404), may play (else 403) and whose
    recording is whole (else 500), each refusal audited. Playback and export both come here."""
    call = policy.visible_call_or_404(current_user, call_id, action)
    access = _access_or_403(call, action)
    return call, access, _recording_size(call)


def _stream(call: Call, start: int, stop: int, action: str, access: policy.Access) -> Response:
    """Bytes ``start`` to ``stop`` of the recording. Only ever called after the access's audit
    event has been committed. After the last byte, a ``<action>.completed`` event: a download
    cut short (the listener gone, a worker killed) has its start and no completion."""
    try:
        chunks = storage().read_range(call.recording, start, stop)
    except RecordingDamaged:
        _damaged(call, {"segment": "first of the range"})
    completed = auditing.completion(
        f"{action}.completed",
        object_type="call",
        object_id=str(call.id),
        customer_id=call.customer_id,
        purpose=access.purpose,
        case_ref=access.case_ref,
    )

    failed = auditing.completion(
        "recording.integrity_failed", object_type="call", object_id=str(call.id)
    )

    def body():
        try:
            yield from chunks
        except RecordingDamaged:
            # Too late for an error status: the response is cut short, and it says why here.
            failed({"segment": "later in the range"}, Outcome.FAILED)
            return
        completed({"bytes": stop - start})

    response = Response(stream_with_context(body()), mimetype="audio/wav", direct_passthrough=True)
    response.content_length = stop - start
    return response


@bp.get("/calls/<int:call_id>/audio")
@login_required
def audio(call_id: int):
    call, access, size = _playable(call_id, "call.play")

    start, stop, status = 0, size, 200
    header = request.headers.get("Range")
    ranges = parse_range_header(header) if header else None
    if ranges is not None and ranges.units == "bytes" and len(ranges.ranges) == 1:
        bounds = ranges.range_for_length(size)
        if bounds is None:
            return Response(
                status=416,
                headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
            )
        (start, stop), status = bounds, 206
    # Several ranges, another unit or an unreadable header: the whole recording (RFC 9110 §14.2).

    # The event is committed before the first byte of audio leaves; if it cannot be, nothing does.
    _call_event("call.play", Outcome.ALLOWED, call, access, {"range": f"{start}-{stop - 1}"})
    response = _stream(call, start, stop, "call.play", access)
    response.status_code = status
    response.headers["Accept-Ranges"] = "bytes"
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response


@bp.get("/calls/<int:call_id>/export")
@login_required
def export(call_id: int):
    call, access, size = _playable(call_id, "call.export")
    _call_event("call.export", Outcome.ALLOWED, call, access, {"bytes": size})
    response = _stream(call, 0, size, "call.export", access)
    # The file name says which call, and nothing about the customer.
    response.headers["Content-Disposition"] = f'attachment; filename="tallenne-{call.id}.wav"'
    return response
