"""The review queue, the review page, the agent's feedback, and the training library.

Who does what: supervisors and administrators review calls (not their own) and use the
training library; the agent of a reviewed call reads its published review, acknowledges it and
answers. A review one may not see does not exist for one (404, audited as denied), as a call
does; a review one sees but may not change answers 403.
"""

from __future__ import annotations

from datetime import date
from typing import NoReturn

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from audit import Outcome
from webapp import auditing, months, policy
from webapp.auth import sessions
from webapp.auth.forms import ActionForm
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import (
    AccessGrant,
    Call,
    Review,
    ReviewComment,
    ReviewScore,
    Role,
    TrainingItem,
    User,
    utcnow,
)
from webapp.retention import add_months
from webapp.reviews import bp, sampling, scoring
from webapp.reviews.forms import CommentForm, ReviewForm, TrainingForm, moment_label

READERS = (*policy.REVIEWERS, Role.AGENT)
RECENT = 20  # published reviews the queue page lists
QUEUE_MONTHS = 12  # the months whose queue may be opened: this one and the eleven before


def _require_reviewer(
    action: str, object_type: str = "review", object_id: int | None = None
) -> None:
    object_id = None if object_id is None else str(object_id)
    policy.require_role(current_user, policy.REVIEWERS, action, object_type, object_id)


@bp.app_template_filter("moment")
def _moment_filter(ms: int) -> str:
    return moment_label(ms)


# --- the queue and the agent's list ---------------------------------------------------------


@bp.get("/reviews")
@login_required
def index():
    policy.require_role(current_user, READERS, "review.list", "review")
    if not current_user.has_role(*policy.REVIEWERS):
        auditing.write("review.list", Outcome.ALLOWED, object_type="review")
        return render_template("reviews/mine.html", reviews=_own_reviews())
    this_month = months.this_month()
    offered = [add_months(this_month, -i) for i in range(QUEUE_MONTHS)]
    first = months.parse(request.args.get("month")) or offered[1]
    if first not in offered:
        abort(404)
    seed = sampling.seed_of(first)
    auditing.write(
        "review.queue",
        Outcome.ALLOWED,
        object_type="review",
        detail={"month": months.label(first)},
    )
    return render_template(
        "reviews/queue.html",
        months=offered,
        month=first,
        queue=_queue(first, seed),
        drafts=_reviews(Review.reviewer_id == current_user.id, Review.status == Review.DRAFT),
        published=_reviews(Review.status == Review.PUBLISHED, limit=RECENT),
        start_form=ActionForm(),
    )


def _own_reviews() -> list[Review]:
    return _reviews(Review.agent_id == current_user.id, Review.status == Review.PUBLISHED)


def _reviews(*where, limit: int | None = None) -> list[Review]:
    query = (
        select(Review)
        .options(joinedload(Review.call), joinedload(Review.reviewer), joinedload(Review.agent))
        .where(*where)
        .order_by(func.coalesce(Review.published_at, Review.updated_at).desc(), Review.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query).unique())


def _queue(first: date, seed: str) -> list[dict]:
    """The month's sample as the page lists it: for each agent and register, the calls drawn
    and what has become of them."""
    sample = sampling.draw(first, seed)
    ids = sample.call_ids
    calls = {
        c.id: c
        for c in db.session.scalars(
            select(Call).options(joinedload(Call.service)).where(Call.id.in_(ids))
        )
    }
    reviews = {
        r.call_id: r
        for r in db.session.scalars(
            select(Review).options(joinedload(Review.reviewer)).where(Review.call_id.in_(ids))
        )
    }
    agents = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({a for a, _ in sample.calls})))
    }
    rows = []
    for (agent_id, register_id), call_ids in sample.calls.items():
        drawn = [calls[i] for i in call_ids if i in calls]
        if not drawn:
            continue
        rows.append(
            {
                "agent": agents[agent_id],
                "register": drawn[0].service.register,
                "calls": [(call, reviews.get(call.id)) for call in drawn],
                "answered": sample.answered[agent_id, register_id],
                "done": sum(1 for c in drawn if c.id in reviews and reviews[c.id].published),
            }
        )
    rows.sort(key=lambda r: (r["agent"].display_name, r["register"].name))
    return rows


# --- starting a review from a call -----------------------------------------------------------


@bp.post("/calls/<int:call_id>/review")
@login_required
def start(call_id: int):
    """Start reviewing a call (or go on with one's own review of it). Reviewing is the
    purpose stated: quality assurance, under the review's reference."""
    call = policy.visible_call_or_404(current_user, call_id, "review.start")
    _require_reviewer("review.start", "call", call.id)
    if not ActionForm().validate_on_submit():
        abort(400)
    existing = db.session.scalar(select(Review).where(Review.call_id == call.id))
    if existing is not None:
        if existing.reviewer_id == current_user.id or existing.published:
            return redirect(url_for("reviews.detail", review_id=existing.id))
        if _still_reviews(existing.reviewer):
            flash(
                _("%(name)s is already reviewing this call.", name=existing.reviewer.display_name),
                "error",
            )
            return redirect(url_for("calls.detail", call_id=call.id))
    refusal = _why_not_reviewable(call)
    if refusal:
        _refused("review.start", call, refusal)
        flash(REFUSALS[refusal], "error")
        return redirect(url_for("calls.detail", call_id=call.id))
    if existing is not None:
        return _take_over(existing, call)
    agent = call.agent
    review = Review(
        call_id=call.id,
        version_id=call.service.register.scorecard.current.id,
        reviewer_id=current_user.id,
        agent_id=call.agent_id,
        agent_team=agent.team if agent else None,
    )
    db.session.add(review)
    db.session.flush()
    return _reviewing("review.start", call, review)


def _reviewing(action: str, call: Call, review: Review, **detail: object):
    """Audit the start of a review's work, its purpose stated, then go to the review."""
    auditing.about_call(
        action,
        Outcome.ALLOWED,
        call,
        purpose="quality",
        case_ref=policy.review_reference(review.id),
        detail=detail or None,
    )
    return redirect(url_for("reviews.detail", review_id=review.id))


def _still_reviews(user: User) -> bool:
    return user.active and user.has_role(*policy.REVIEWERS)


def _take_over(draft: Review, call: Call):
    """A draft whose reviewer no longer reviews (deactivated, or no longer a supervisor or an
    administrator) would hold its call for ever: the next reviewer to start takes it over,
    with its scores and comments, and the trail says from whom."""
    previous = draft.reviewer_id
    draft.reviewer_id = current_user.id
    flash(_("This draft was left by a reviewer who no longer reviews: it is yours now."), "info")
    return _reviewing("review.take_over", call, draft, previous_reviewer=previous)


REFUSALS = {
    "no_agent": _l("The call has no agent whose work could be reviewed."),
    "own_call": _l("You cannot review your own call."),
    "no_scorecard": _l("The call's register has no scorecard: an administrator sets one."),
    "purpose_not_in_register": _l("Quality assurance is not a purpose of the call's register."),
    "objection": _l(
        "The customer objects to the processing of their data: their calls are not reviewed "
        "or used for training."
    ),
    "restriction": _l(
        "The customer has restricted the processing of their data: their calls are not "
        "reviewed or used for training."
    ),
}


def _why_not_reviewable(call: Call) -> str | None:
    """Why this call cannot be reviewed by the current user, or None."""
    if call.agent_id is None:
        return "no_agent"
    if call.agent_id == current_user.id:
        return "own_call"
    register = call.service.register
    if register.scorecard is None or register.scorecard.current is None:
        return "no_scorecard"
    if "quality" not in {p.code for p in register.purposes}:
        return "purpose_not_in_register"
    return sampling.excluded_customer(call.customer_id)


def _refused(action: str, call: Call, reason: str) -> None:
    auditing.about_call(action, Outcome.DENIED, call, detail={"reason": reason})


# --- the review page ---------------------------------------------------------------------------


@bp.get("/reviews/<int:review_id>")
@login_required
def detail(
    review_id: int,
    form: ReviewForm | None = None,
    comment_form: CommentForm | None = None,
):
    """The call's recording beside the scorecard: the reviewer scores and comments while it
    is a draft; once published, its agent reads it, acknowledges and answers."""
    review = policy.visible_review_or_404(current_user, review_id, "review.view")
    call = review.call
    restricted = policy.restriction_on(call) is not None
    access = policy.playback_access(current_user, call, sessions.current_id(), restricted)
    auditing.write(
        "review.view",
        Outcome.ALLOWED,
        object_type="review",
        object_id=str(review.id),
        customer_id=call.customer_id,
    )
    review = db.session.get(Review, review_id)  # the event's commit expired it
    editing = _is_reviewer(review) and not review.published
    if editing and form is None:
        form = ReviewForm.for_version(review.version, data=_form_data(review))
    comments = sorted(
        review.comments, key=lambda c: (c.at_ms is None, c.at_ms or 0, c.created_at, c.id)
    )
    may_comment = _may_comment(review)
    return render_template(
        "reviews/detail.html",
        review=review,
        call=review.call,
        access=access,
        restricted=restricted,
        form=form if editing else None,
        scores={s.criterion_id: s.value for s in review.scores},
        comments=comments,
        comment_form=(comment_form or CommentForm()) if may_comment else None,
        action_form=ActionForm(),
        is_reviewer=_is_reviewer(review),
        is_agent=review.agent_id == current_user.id,
        t=_start_at(review),
    ), (
        400 if (form is not None and form.errors) or (comment_form and comment_form.errors) else 200
    )


def _start_at(review: Review) -> float | None:
    """A moment the page opens the recording at (``?t=`` seconds), so that a comment's link
    plays from its moment even without JavaScript."""
    try:
        t = float(request.args.get("t", ""))
    except ValueError:
        return None
    return t if 0 <= t <= review.call.duration_s else None


def _form_data(review: Review) -> dict[str, object]:
    data: dict[str, object] = {"comment": review.comment}
    for score in review.scores:
        data[f"c{score.criterion_id}"] = "na" if score.value is None else str(score.value)
    return data


def _is_reviewer(review: Review) -> bool:
    return review.reviewer_id == current_user.id


def _may_comment(review: Review) -> bool:
    """The reviewer comments on their review; the agent answers a published one."""
    return _is_reviewer(review) or (review.published and review.agent_id == current_user.id)


def _refuse(action: str, review: Review) -> NoReturn:
    """A review the user sees but may not change this way: 403, audited as denied."""
    auditing.write(action, Outcome.DENIED, object_type="review", object_id=str(review.id))
    abort(403)


def _own_draft_or_403(review_id: int, action: str) -> Review:
    review = policy.visible_review_or_404(current_user, review_id, action)
    if not _is_reviewer(review) or review.published:
        _refuse(action, review)
    return review


@bp.post("/reviews/<int:review_id>")
@login_required
def save(review_id: int):
    """Save a draft's scores and comment; with ``publish``, publish it, which needs every
    criterion answered. A published review is not changed again."""
    review = _own_draft_or_403(review_id, "review.save")
    form = ReviewForm.for_version(review.version)
    if not form.validate_on_submit():
        return detail(review_id, form=form)
    values = form.values()
    review.scores = [
        ReviewScore(criterion_id=criterion_id, value=value)
        for criterion_id, value in values.items()
    ]
    review.comment = (form.comment.data or "").strip()
    review.updated_at = utcnow()
    if "publish" not in request.form:
        db.session.commit()
        flash(_("The draft is saved."), "ok")
        return redirect(url_for("reviews.detail", review_id=review.id))
    missing = form.unanswered()
    if missing:
        db.session.rollback()
        form.form_errors.append(
            _(
                "Score every criterion, or mark it not applicable, before publishing: %(names)s.",
                names=", ".join(c.title for c in missing),
            )
        )
        return detail(review_id, form=form)
    score = scoring.weighted(review.version.criteria, values)
    if score is None:
        db.session.rollback()
        form.form_errors.append(_("At least one criterion must apply to the call."))
        return detail(review_id, form=form)
    review.score = score
    review.status = Review.PUBLISHED
    review.published_at = utcnow()
    review.agent_team = review.agent.team if review.agent else None
    call = review.call
    auditing.write(
        "review.publish",
        Outcome.ALLOWED,
        object_type="review",
        object_id=str(review.id),
        customer_id=call.customer_id,
        detail={"call": call.id, "score": score},
    )
    flash(_("The review is published: the agent can read it now."), "ok")
    return redirect(url_for("reviews.detail", review_id=review_id))


@bp.post("/reviews/<int:review_id>/comments")
@login_required
def comment(review_id: int):
    review = policy.visible_review_or_404(current_user, review_id, "review.comment")
    if not _may_comment(review):
        _refuse("review.comment", review)
    form = CommentForm()
    form.duration_s = review.call.duration_s
    if not form.validate_on_submit():
        return detail(review_id, comment_form=form)
    db.session.add(
        ReviewComment(
            review_id=review.id,
            author_id=current_user.id,
            at_ms=form.at_ms,
            body=form.body.data.strip(),
        )
    )
    review.updated_at = utcnow()
    db.session.commit()
    return redirect(url_for("reviews.detail", review_id=review.id, _anchor="comments"))


@bp.post("/reviews/<int:review_id>/comments/<int:comment_id>/delete")
@login_required
def delete_comment(review_id: int, comment_id: int):
    """The reviewer takes back a comment of their draft; nothing is taken back once it is
    published."""
    review = _own_draft_or_403(review_id, "review.comment")
    if not ActionForm().validate_on_submit():
        abort(400)
    row = db.session.get(ReviewComment, comment_id)
    if row is None or row.review_id != review.id:
        abort(404)
    db.session.delete(row)
    db.session.commit()
    return redirect(url_for("reviews.detail", review_id=review.id, _anchor="comments"))


@bp.post("/reviews/<int:review_id>/acknowledge")
@login_required
def acknowledge(review_id: int):
    review = policy.visible_review_or_404(current_user, review_id, "review.acknowledge")
    if review.agent_id != current_user.id or not review.published:
        _refuse("review.acknowledge", review)
    if not ActionForm().validate_on_submit():
        abort(400)
    if review.acknowledged_at is None:
        review.acknowledged_at = utcnow()
        auditing.write(
            "review.acknowledge", Outcome.ALLOWED, object_type="review", object_id=str(review.id)
        )
        flash(_("You have acknowledged the review."), "ok")
    return redirect(url_for("reviews.detail", review_id=review_id))


# --- the training library --------------------------------------------------------------------


@bp.post("/calls/<int:call_id>/training")
@login_required
def mark_for_training(call_id: int):
    call = policy.visible_call_or_404(current_user, call_id, "training.mark")
    _require_reviewer("training.mark", "call", call.id)
    form = TrainingForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("calls.detail", call_id=call.id))
    existing = db.session.scalar(select(TrainingItem).where(TrainingItem.call_id == call.id))
    if existing is not None:
        return redirect(url_for("reviews.training_item", item_id=existing.id))
    refusal = _why_not_for_training(call)
    if refusal:
        _refused("training.mark", call, refusal)
        flash(REFUSALS[refusal], "error")
        return redirect(url_for("calls.detail", call_id=call.id))
    item = TrainingItem(
        call_id=call.id, title=form.title.data.strip(), marked_by_id=current_user.id
    )
    db.session.add(item)
    db.session.flush()
    auditing.about_call(
        "training.mark",
        Outcome.ALLOWED,
        call,
        purpose="training",
        case_ref=_training_reference(item.id),
    )
    flash(_("The call is in the training library."), "ok")
    return redirect(url_for("reviews.training_item", item_id=item.id))


def _why_not_for_training(call: Call) -> str | None:
    if "training" not in {p.code for p in call.service.register.purposes}:
        return "training_not_in_register"
    return sampling.excluded_customer(call.customer_id)


REFUSALS["training_not_in_register"] = _l("Training is not a purpose of the call's register.")


def _training_reference(item_id: int) -> str:
    return f"training:{item_id}"


def _library():
    """The library's items that may be used today: none of a customer who objects or has
    restricted processing (their marks stay, and come back if that ends)."""
    items = db.session.scalars(
        select(TrainingItem)
        .options(joinedload(TrainingItem.call).joinedload(Call.service))
        .order_by(TrainingItem.marked_at.desc(), TrainingItem.id.desc())
    ).all()
    customers = {i.call.customer_id for i in items if i.call.customer_id is not None}
    blocked = sampling.excluded_customers(customers, flags.today())
    return [i for i in items if i.call.customer_id not in blocked]


@bp.get("/reviews/training")
@login_required
def training():
    _require_reviewer("training.list", "training_library")
    auditing.write("training.list", Outcome.ALLOWED, object_type="training_library")
    return render_template("reviews/training.html", items=_library())


def _usable_item_or_404(item_id: int, action: str) -> TrainingItem:
    _require_reviewer(action, "training_library")
    item = db.session.get(TrainingItem, item_id)
    if item is None or sampling.excluded_customer(item.call.customer_id):
        auditing.write(action, Outcome.DENIED, object_type="training_item", object_id=str(item_id))
        abort(404)
    return item


@bp.get("/reviews/training/<int:item_id>")
@login_required
def training_item(item_id: int):
    item = _usable_item_or_404(item_id, "training.view")
    call = item.call
    access = policy.playback_access(current_user, call, sessions.current_id())
    auditing.write(
        "training.view",
        Outcome.ALLOWED,
        object_type="training_item",
        object_id=str(item_id),
        customer_id=call.customer_id,
    )
    item = db.session.get(TrainingItem, item_id)
    return render_template(
        "reviews/training_item.html", item=item, call=item.call, access=access, form=ActionForm()
    )


@bp.post("/reviews/training/<int:item_id>/use")
@login_required
def use_for_training(item_id: int):
    """Listening to a library call is training: the purpose is stated by this button, and
    audited with the item's reference, as any stated purpose is."""
    item = _usable_item_or_404(item_id, "training.use")
    if not ActionForm().validate_on_submit():
        abort(400)
    call = item.call
    allowed = {p.code for p in policy.purposes_for(current_user, call)}
    if "training" not in allowed:
        _refused("training.use", call, "training_not_allowed")
        abort(403)
    reference = _training_reference(item.id)
    db.session.add(
        AccessGrant(
            session_id=sessions.current_id(),
            call_id=call.id,
            purpose_code="training",
            case_ref=reference,
        )
    )
    auditing.about_call(
        "training.use",
        Outcome.ALLOWED,
        call,
        purpose="training",
        case_ref=reference,
    )
    return redirect(url_for("reviews.training_item", item_id=item_id, _anchor="recording"))


@bp.post("/reviews/training/<int:item_id>/remove")
@login_required
def unmark(item_id: int):
    item = _usable_item_or_404(item_id, "training.unmark")
    if not ActionForm().validate_on_submit():
        abort(400)
    call = item.call
    db.session.delete(item)
    auditing.about_call(
        "training.unmark", Outcome.ALLOWED, call, case_ref=_training_reference(item_id)
    )
    flash(_("The call is no longer in the training library."), "ok")
    return redirect(url_for("reviews.training"))


@bp.app_context_processor
def _review_links():
    """What a call's page offers reviewers: its review, if there is one."""

    def review_of(call: Call) -> Review | None:
        return db.session.scalar(select(Review).where(Review.call_id == call.id))

    def training_of(call: Call) -> TrainingItem | None:
        return db.session.scalar(select(TrainingItem).where(TrainingItem.call_id == call.id))

    return {"review_of": review_of, "training_of": training_of}
