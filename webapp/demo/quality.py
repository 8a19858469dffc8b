"""The demo's quality review: a scorecard on every register, six months of reviews drawn from
each month's queue as a supervisor would have done them (the last month half done, so the
queue has work in it), and a few calls in the training library."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import click
from sqlalchemy import select

from webapp import months
from webapp.extensions import db
from webapp.models import (
    Call,
    Criterion,
    Register,
    Review,
    ReviewComment,
    ReviewScore,
    Scorecard,
    ScorecardVersion,
    TrainingItem,
    User,
)
from webapp.retention import add_months
from webapp.reviews import sampling, scoring

CRITERIA = [
    # section, title, description, scale, weight
    (
        "Avaus",
        "Tervehdys ja esittäytyminen",
        "Yrityksen nimi, oma nimi, ystävällinen sävy.",
        (1, 5),
        1,
    ),
    (
        "Avaus",
        "Asiakkaan tunnistaminen",
        "Asiakasnumero tai osoite tarkistettu ennen asiaa.",
        (0, 1),
        2,
    ),
    (
        "Asian hoito",
        "Tarpeen selvittäminen",
        "Kysyy ja varmistaa, mitä asiakas tarvitsee.",
        (1, 5),
        3,
    ),
    (
        "Asian hoito",
        "Ratkaisu ja sen perustelu",
        "Oikea ratkaisu, selkeästi kerrottuna.",
        (1, 5),
        3,
    ),
    ("Lopetus", "Yhteenveto ja jatko", "Kertoo, mitä seuraavaksi tapahtuu ja milloin.", (1, 5), 2),
    ("Lopetus", "Kiitos ja lopputervehdys", None, (0, 1), 1),
]
COMMENTS = [
    "Tässä hyvä, rauhallinen selitys.",
    "Asiakasnumero olisi kannattanut tarkistaa jo tässä.",
    "Hyvä kysymys: asiakkaan tarve selvisi heti.",
    "Tässä kohtaa voisi kertoa, milloin asia on hoidettu.",
    "Erinomainen yhteenveto lopussa.",
]
REPLIES = ["Kiitos palautteesta!", "Totta, muistan tämän jatkossa.", "Hyvä huomio, kiitos."]
MONTHS = 6


def populate(rng: random.Random) -> None:
    supervisor = db.session.scalar(select(User).where(User.username == "sanna"))
    version = ScorecardVersion(scorecard=Scorecard(name="Asiakaspalvelun laatu"), number=1)
    for position, (section, title, description, (low, high), weight) in enumerate(CRITERIA, 1):
        version.criteria.append(
            Criterion(
                position=position,
                section=section,
                title=title,
                description=description,
                scale_min=low,
                scale_max=high,
                weight=weight,
            )
        )
    db.session.add(version)
    for register in db.session.scalars(select(Register)):
        register.scorecard = version.scorecard
        register.review_sample_size = 3
    db.session.commit()
    if supervisor is None:
        return
    first = months.this_month()
    reviewed = 0
    for age in range(1, MONTHS + 1):
        first = add_months(first, -1)
        sample = sampling.draw(first, sampling.seed_of(first))
        for call_ids in sample.calls.values():
            # The last month half done; the ones before it, all.
            for call_id in call_ids[: 1 if age == 1 else len(call_ids)]:
                _review(rng, db.session.get(Call, call_id), version, supervisor, age)
                reviewed += 1
        db.session.commit()
    _library(rng, supervisor)
    db.session.commit()
    click.echo(f"Reviewed {reviewed} demo calls on a scorecard of {len(CRITERIA)} criteria.")


def _review(rng: random.Random, call: Call, version, supervisor: User, age: int) -> None:
    """A published review whose scores get better month by month, the billing team a little
    behind."""
    skill = 0.55 + 0.05 * (MONTHS - age) + (0.0 if call.agent.team == "Laskutus" else 0.08)
    values = {}
    for criterion in version.criteria:
        span = criterion.scale_max - criterion.scale_min
        share = min(1.0, max(0.0, rng.gauss(skill, 0.2)))
        values[criterion.id] = criterion.scale_min + round(share * span)
    # Reviewed days after the call, and never later than now.
    latest = datetime.now(UTC) - timedelta(days=2)
    published = min(call.started_at + timedelta(days=rng.randrange(3, 20)), latest)
    review = Review(
        call=call,
        version=version,
        reviewer=supervisor,
        agent=call.agent,
        agent_team=call.agent.team,
        status=Review.PUBLISHED,
        comment=rng.choice(["Hyvä puhelu kokonaisuutena.", "Selkeä ja ystävällinen.", ""]),
        score=scoring.weighted(version.criteria, values),
        created_at=published - timedelta(hours=1),
        updated_at=published,
        published_at=published,
        acknowledged_at=published + timedelta(days=1) if rng.random() < 0.7 else None,
    )
    review.scores = [ReviewScore(criterion_id=c, value=v) for c, v in values.items()]
    at = rng.randrange(0, max(1, call.duration_s)) * 1000
    review.comments.append(
        ReviewComment(author=supervisor, at_ms=at, body=rng.choice(COMMENTS), created_at=published)
    )
    if review.acknowledged_at and rng.random() < 0.3:
        review.comments.append(
            ReviewComment(
                author=call.agent, body=rng.choice(REPLIES), created_at=review.acknowledged_at
            )
        )
    db.session.add(review)


def _library(rng: random.Random, supervisor: User) -> None:
    titles = [
        "Hyvä esimerkki laskun selittämisestä",
        "Rauhallinen reklamaation käsittely",
        "Selkeä sopimuksen vahvistus",
    ]
    since = datetime.now(UTC) - timedelta(days=120)
    calls = db.session.scalars(
        select(Call)
        .where(Call.started_at >= since, Call.duration_s >= 10)
        .order_by(Call.id)
        .limit(50)
    ).all()
    for title, call in zip(
        titles, rng.sample(list(calls), min(len(calls), len(titles))), strict=False
    ):
        purposes = {p.code for p in call.service.register.purposes}
        if "training" in purposes and sampling.excluded_customer(call.customer_id) is None:
            db.session.add(TrainingItem(call=call, title=title, marked_by=supervisor))
