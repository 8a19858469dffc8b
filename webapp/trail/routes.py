from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import get_day_names
from flask import (
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user, login_required
from sqlalchemy import select

from audit import Outcome, events
from audit import export as trail_export
from audit.export import day_bounds
from webapp import auditing, policy
from webapp.extensions import db
from webapp.models import Customer, User
from webapp.purposes import label as purpose_label
from webapp.trail import bp, patterns, queries
from webapp.trail.forms import AttentionForm, TrailFilterForm, action_label, outcome_label

PAGE = 100
ATTENTION_ROWS = 200
STARTS_CHECKED = 5000


@bp.get("/")
@login_required
def index():
    policy.require_trail_reader(current_user, "audit.search")
    form = TrailFilterForm(request.args)
    args = {k: v for k, v in request.args.items() if k != "before"}
    rows, next_url = [], None
    valid = form.validate()
    if valid:
        # The DPO's reading is audited before its results are read, as every search is.
        auditing.write("audit.search", Outcome.ALLOWED, **_reading(form, args))
        before = request.args.get("before", type=int)
        rows = db.session.execute(queries.newest_first(_filtered(form), before, PAGE)).all()
        if len(rows) > PAGE:
            rows = rows[:PAGE]
            next_url = url_for("trail.index", **args, before=rows[-1].seq)
    first_url = url_for("trail.index", **args) if "before" in request.args else None
    return render_template(
        "trail/index.html",
        form=form,
        rows=rows,
        next_url=next_url,
        first_url=first_url,
        export_url=url_for("trail.export", **args) if valid else None,
        **_labels(rows),
    )


@bp.get("/export")
@login_required
def export():
    """The events that the filters find, all of them, newest first, as CSV: for the DPO to
    keep, or to hand over in answer to a data-subject request. Audited as started and, after
    the end marker, completed."""
    policy.require_trail_reader(current_user, "audit.export")
    form = TrailFilterForm(request.args)
    if not form.validate():
        return redirect(url_for("trail.index", **request.args))
    about = _reading(form, request.args)
    auditing.write("audit.export", Outcome.ALLOWED, **about)
    whose = {k: v for k, v in about.items() if k != "detail"}
    completed = auditing.completion("audit.export.completed", **whose)
    query = _filtered(form).order_by(events.c.seq.desc()).execution_options(yield_per=1000)

    def body():
        result = db.session.execute(query)
        try:
            rows = trail_export.Counted(result)
            yield from trail_export.csv_lines(rows)
        finally:
            result.close()  # also when the download is abandoned: no cursor left open
        completed({"rows": rows.count})

    response = Response(stream_with_context(body()), mimetype="text/csv")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    # The name says when, and nothing about whom the events concern.
    response.headers["Content-Disposition"] = f'attachment; filename="tallenne-audit-{stamp}.csv"'
    return response


def _reading(form: TrailFilterForm, args) -> dict[str, object]:
    """What the trail's own event says about a reading of it: whose data, and which filters
    (their names; the values are the customer and the user, recorded as such)."""
    return {
        "object_type": "user" if form.user_id else "audit_trail",
        "object_id": str(form.user_id) if form.user_id else None,
        "customer_id": form.customer_id,
        "detail": {"filters": sorted(k for k, v in args.items() if v and k != "before")},
    }


def _filtered(form: TrailFilterForm):
    query = select(events)
    if form.from_.data or form.to.data:
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        start, stop = day_bounds(form.from_.data, form.to.data, zone)
        if start:
            query = query.where(events.c.occurred_at >= start)
        if stop:
            query = query.where(events.c.occurred_at < stop)
    if form.user_id:
        query = query.where(events.c.actor_id == form.user_id)
    if form.customer_id:
        query = query.where(events.c.customer_id == form.customer_id)
    if form.call.data:
        query = query.where(
            events.c.object_type == "call", events.c.object_id == str(form.call.data)
        )
    for column in ("action", "outcome", "purpose"):
        if form[column].data:
            query = query.where(events.c[column] == form[column].data)
    return query


@bp.get("/attention")
@login_required
def attention():
    policy.require_trail_reader(current_user, "audit.search")
    form = AttentionForm(request.args)
    days = form.days.data if form.validate() and form.days.data else 30
    auditing.write(
        "audit.search", Outcome.ALLOWED, object_type="audit_trail", detail={"attention_days": days}
    )
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    sections = queries.needing_attention(db.session, start, ATTENTION_ROWS, STARTS_CHECKED)
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    working = patterns.WorkingTime(
        current_app.config["WORKING_HOURS"], current_app.config["WORKING_DAYS"]
    )
    busy = patterns.busy_days(db.session, start, now, zone)[:ATTENTION_ROWS]
    late = patterns.off_hours(db.session, start, now, zone, working)[:ATTENTION_ROWS]
    actor_ids = {b.actor_id for b in busy} | {o.actor_id for o in late}
    names = select(User.id, User.username).where(User.id.in_(actor_ids))
    usernames = {id_: username for id_, username in db.session.execute(names)}
    return render_template(
        "trail/attention.html",
        form=form,
        days=days,
        sections=sections,
        busy=busy,
        off_hours=late,
        usernames=usernames,
        working=_working_label(working),
        factor=patterns.VOLUME_FACTOR,
        baseline_days=patterns.BASELINE_DAYS,
        margin=patterns.VOLUME_MARGIN,
        **_labels([row for rows in sections.values() for row in rows]),
    )


def _working_label(working: patterns.WorkingTime) -> str:
    names = get_day_names("abbreviated", locale=get_locale())
    days = ", ".join(str(names[day - 1]) for day in sorted(working.days))
    return f"{days} {working.hours[0]:02d}–{working.hours[1]:02d}"


def _labels(rows) -> dict[str, object]:
    """What the event tables show in place of codes and ids."""
    customer_ids = {r.customer_id for r in rows if r.customer_id}
    customers = Customer.numbers(customer_ids)
    return {
        "customers": customers,
        "action_label": action_label,
        "outcome_label": outcome_label,
        "purpose_label": purpose_label,
    }
