"""The SQL behind /stats. The database counts (GROUP BY); no call row is ever loaded. What
needs Finnish time (hours, weekdays) is counted per UTC hour, at most 24 rows a day, and put
into local hours in Python, since SQLite knows no time zones; months are cut at their Helsinki
midnights by a CASE over the period's bounds."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Float, Row, case, cast, distinct, func, select

from webapp.extensions import db
from webapp.models import Call, Criterion, Register, Review, ReviewScore, Scorecard, Service
from webapp.models import ScorecardVersion as Version
from webapp.stats.forms import Period
from webapp.trail.patterns import utc_hour

# Where the duration bands end, in seconds: under 1 min, 1–3, 3–5, 5–10, 10–20, 20 or more.
BAND_LIMITS = (60, 180, 300, 600, 1200)


def _calls_in(period: Period, register_id: int | None) -> list[ColumnElement[bool]]:
    bounds = period.bounds
    where = [Call.started_at >= bounds[0], Call.started_at < bounds[-1]]
    if register_id is not None:
        services = select(Service.id).where(Service.register_id == register_id)
        where.append(Call.service_id.in_(services))
    return where


def _month(period: Period) -> ColumnElement[int]:
    """The index of the period's month in which a call began (its rows are within the period)."""
    bounds = period.bounds
    return case(*[(Call.started_at < stop, i) for i, stop in enumerate(bounds[1:])])


def registers(register_id: int | None) -> list[Row]:
    """(id, code, name) of the registers, by name."""
    query = select(Register.id, Register.code, Register.name).order_by(Register.name)
    if register_id is not None:
        query = query.where(Register.id == register_id)
    return list(db.session.execute(query))


def services(register_id: int | None) -> list[Row]:
    """(id, code, name, register_id) of the services, by register and name."""
    query = (
        select(Service.id, Service.code, Service.name, Service.register_id)
        .join(Register, Service.register_id == Register.id)
        .order_by(Register.name, Service.name)
    )
    if register_id is not None:
        query = query.where(Service.register_id == register_id)
    return list(db.session.execute(query))


def per_service(period: Period, register_id: int | None) -> dict[int, tuple[int, int]]:
    """Calls and their seconds in all, by service id."""
    query = (
        select(Call.service_id, func.count(), func.sum(Call.duration_s))
        .where(*_calls_in(period, register_id))
        .group_by(Call.service_id)
    )
    return {id_: (calls, int(seconds)) for id_, calls, seconds in db.session.execute(query)}


def per_utc_hour(period: Period, register_id: int | None) -> list[tuple[datetime, int]]:
    """(the UTC hour's beginning, calls) for every hour of the period that had calls."""
    hour = utc_hour(Call.started_at)
    query = select(hour, func.count()).where(*_calls_in(period, register_id)).group_by(hour)
    return [
        (datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC), calls)
        for text, calls in db.session.execute(query)
    ]


def per_band(period: Period, register_id: int | None) -> dict[int, int]:
    """Calls by duration band: the index of the first limit a call stays under."""
    band = case(
        *[(Call.duration_s < limit, i) for i, limit in enumerate(BAND_LIMITS)],
        else_=len(BAND_LIMITS),
    )
    query = select(band, func.count()).where(*_calls_in(period, register_id)).group_by(band)
    return dict(tuple(row) for row in db.session.execute(query))


def _published(period: Period, register_id: int | None) -> list[ColumnElement[bool]]:
    return [Review.status == Review.PUBLISHED, *_calls_in(period, register_id)]


def team_scores(period: Period, register_id: int | None) -> list[tuple]:
    """(team or None, month index, average score, reviews, distinct agents) of published
    reviews, by the month of the reviewed call."""
    month = _month(period)
    query = (
        select(
            Review.agent_team,
            month,
            func.avg(Review.score),
            func.count(),
            func.count(distinct(Review.agent_id)),
        )
        .select_from(Review)
        .join(Call, Review.call_id == Call.id)
        .where(*_published(period, register_id), Review.score.is_not(None))
        .group_by(Review.agent_team, month)
    )
    return [tuple(row) for row in db.session.execute(query)]


def criterion_scores(period: Period, register_id: int | None) -> list[tuple]:
    """(scorecard, section, title, position, month index, average share, reviews, distinct
    agents) of the criteria scored in published reviews. A criterion is its scorecard, section
    and title, whatever the version: one kept unchanged in a new version continues its line."""
    month = _month(period)
    # scoring.share, in SQL: where the value lies on the criterion's scale, 0.0 to 1.0.
    share = cast(ReviewScore.value - Criterion.scale_min, Float) / (
        Criterion.scale_max - Criterion.scale_min
    )
    query = (
        select(
            Scorecard.name,
            Criterion.section,
            Criterion.title,
            func.min(Criterion.position),
            month,
            func.avg(share),
            func.count(distinct(Review.id)),
            func.count(distinct(Review.agent_id)),
        )
        .select_from(ReviewScore)
        .join(Review, ReviewScore.review_id == Review.id)
        .join(Call, Review.call_id == Call.id)
        .join(Criterion, ReviewScore.criterion_id == Criterion.id)
        .join(Version, Criterion.version_id == Version.id)
        .join(Scorecard, Version.scorecard_id == Scorecard.id)
        .where(*_published(period, register_id), ReviewScore.value.is_not(None))
        .group_by(Scorecard.name, Criterion.section, Criterion.title, month)
    )
    return [tuple(row) for row in db.session.execute(query)]
