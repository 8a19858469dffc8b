"""Quality review end to end: who reaches which review, a review from start to the agent's
answer, the playback it allows, the monthly sample, and the training library."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.support import ROLES, World, audit_rows, per_request_parts_removed
from webapp import months, retention
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import (
    Call,
    Review,
    ReviewComment,
    ReviewRound,
    ReviewScore,
    TrainingItem,
    utcnow,
)
from webapp.retention import add_months
from webapp.reviews import sampling, scoring
from webapp.reviews.forms import parse_moment

USER_OF_ROLE = {str(role): name for name, role in ROLES.items() if name != "eero"}


def make_review(world: World, call: str, reviewer: str, published: bool = True) -> Review:
    """A review straight into the database, with one pinned comment by its reviewer."""
    the_call = world.calls[call]
    review = Review(
        call_id=the_call.id,
        version_id=world.scorecard.id,
        reviewer_id=world.users[reviewer].id,
        agent_id=the_call.agent_id,
        status=Review.PUBLISHED if published else Review.DRAFT,
        published_at=utcnow() if published else None,
        score=75.0 if published else None,
        comment="Hyvä puhelu.",
    )
    review.comments.append(
        ReviewComment(author_id=world.users[reviewer].id, at_ms=1000, body="Tässä tervehdys.")
    )
    db.session.add(review)
    db.session.commit()
    return review


# --- who reaches which review ---------------------------------------------------------------

# Targets: a published review of aino's call and one of eero's (both by sanna), pekka's
# draft of another of aino's calls, and a review that does not exist.
HIDDEN = {"aino": 404, "eero": 404, "draft": 404, "missing": 404}


def row(aino: int, eero: int, draft: int) -> dict[str, int]:
    return {"aino": aino, "eero": eero, "draft": draft, "missing": 404}


REVIEW_EXPECTED = {
    "reviews.detail": {
        "agent": row(200, 404, 404),
        "supervisor": row(200, 200, 404),
        "admin": row(200, 200, 200),
        "dpo": HIDDEN,
        "maintainer": HIDDEN,
    },
    # Saving scores: only the reviewer of a draft (an empty form saves an empty draft).
    "reviews.save": {
        "agent": row(403, 404, 404),
        "supervisor": row(403, 403, 404),
        "admin": row(403, 403, 302),
        "dpo": HIDDEN,
        "maintainer": HIDDEN,
    },
    # Comments: the reviewer, and the agent on a published review (empty: 400).
    "reviews.comment": {
        "agent": row(400, 404, 404),
        "supervisor": row(400, 400, 404),
        "admin": row(403, 403, 400),
        "dpo": HIDDEN,
        "maintainer": HIDDEN,
    },
    "reviews.delete_comment": {
        "agent": row(403, 404, 404),
        "supervisor": row(403, 403, 404),
        "admin": row(403, 403, 302),
        "dpo": HIDDEN,
        "maintainer": HIDDEN,
    },
    "reviews.acknowledge": {
        "agent": row(302, 404, 404),
        "supervisor": row(403, 403, 404),
        "admin": row(403, 403, 403),
        "dpo": HIDDEN,
        "maintainer": HIDDEN,
    },
}


def review_rules(app: Flask) -> list:
    return [rule for rule in app.url_map.iter_rules() if "review_id" in rule.arguments]


def test_every_route_that_names_a_review_has_a_rule(app: Flask) -> None:
    names = {rule.endpoint for rule in review_rules(app)}
    assert names == set(REVIEW_EXPECTED), f"routes without a rule: {names - set(REVIEW_EXPECTED)}"


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("endpoint", sorted(REVIEW_EXPECTED))
def test_review_route_role_matrix(app: Flask, world, login_as, endpoint: str, role: str) -> None:
    reviews = {
        "aino": make_review(world, "aino", "sanna"),
        "eero": make_review(world, "eero", "sanna"),
        "draft": make_review(world, "aino_secret", "pekka", published=False),
    }
    targets = {name: (r.id, r.comments[0].id) for name, r in reviews.items()}
    targets["missing"] = (max(r for r, _ in targets.values()) + 100, 1)
    username = USER_OF_ROLE[role]
    client = login_as(username)
    rule = next(r for r in review_rules(app) if r.endpoint == endpoint)
    method = "GET" if "GET" in rule.methods else "POST"
    bodies = {}
    for target, (review_id, comment_id) in targets.items():
        before = len(audit_rows(outcome="denied"))
        url = rule.rule.replace("<int:review_id>", str(review_id))
        url = url.replace("<int:comment_id>", str(comment_id))
        response = client.open(url, method=method, data={} if method == "POST" else None)
        expected = REVIEW_EXPECTED[endpoint][role][target]
        assert response.status_code == expected, (endpoint, role, target, response.status_code)
        if expected in (403, 404):
            denied = audit_rows(outcome="denied")[before:]
            assert [(d.object_type, d.object_id, d.actor_name) for d in denied] == [
                ("review", str(review_id), username)
            ], (endpoint, role, target)
        bodies[target] = (
            response.status_code,
            per_request_parts_removed(response.text).replace(f"/reviews/{review_id}", "/r"),
        )
    if REVIEW_EXPECTED[endpoint][role]["draft"] == 404:
        # Someone else's draft and no review at all are indistinguishable.
        assert bodies["draft"] == bodies["missing"]


def test_an_agent_reads_only_their_own_published_reviews(world, login_as) -> None:
    own = make_review(world, "aino", "sanna")
    others = make_review(world, "eero", "sanna")
    draft = make_review(world, "aino_secret", "sanna", published=False)
    page = login_as("aino").get("/reviews").text
    assert f"/reviews/{own.id}" in page
    assert f"/reviews/{others.id}" not in page
    assert f"/reviews/{draft.id}" not in page
    assert login_as("eero").get(f"/reviews/{own.id}").status_code == 404


# Pages that are the reviewers' alone; anyone else gets 403, audited.
REVIEWER_PAGES = ["/reviews/training", "/stats/"]


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("url", REVIEWER_PAGES)
def test_reviewer_pages(world, login_as, url: str, role: str) -> None:
    username = USER_OF_ROLE[role]
    response = login_as(username).get(url)
    if role in ("supervisor", "admin"):
        assert response.status_code == 200
        assert audit_rows()[-1].outcome == "allowed"
    else:
        assert response.status_code == 403
        assert [d.actor_name for d in audit_rows(outcome="denied")] == [username]


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
def test_the_review_list_is_for_agents_and_reviewers(world, login_as, role: str) -> None:
    response = login_as(USER_OF_ROLE[role]).get("/reviews")
    assert response.status_code == (403 if role in ("dpo", "maintainer") else 200)


# --- a review from start to the agent's answer --------------------------------------------


def start_review(client, call: Call) -> int:
    response = client.post(f"/calls/{call.id}/review")
    assert response.status_code == 302, response.text
    match = re.search(r"/reviews/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match[1])


def criteria(world: World) -> list:
    return world.scorecard.criteria


def test_a_review_from_the_queue_to_the_agents_answer(world, login_as) -> None:
    sanna = login_as("sanna")
    call = world.calls["aino"]
    review_id = start_review(sanna, call)
    start = audit_rows(action="review.start")[-1]
    assert (start.purpose, start.case_ref, start.object_id) == (
        "quality",
        f"review:{review_id}",
        str(call.id),
    )
    # The reviewer plays the call for quality assurance, under the review's reference.
    assert sanna.get(f"/calls/{call.id}/audio").status_code == 200
    play = audit_rows(action="call.play")[-1]
    assert (play.purpose, play.case_ref) == ("quality", f"review:{review_id}")

    # A draft: not the agent's to see yet.
    greeting, identified, solution = criteria(world)
    response = sanna.post(
        f"/reviews/{review_id}",
        data={f"c{greeting.id}": "4", "comment": "Selkeä puhelu.", "save": "1"},
    )
    assert response.status_code == 302
    assert login_as("aino").get(f"/reviews/{review_id}").status_code == 404
    response = sanna.post(
        f"/reviews/{review_id}/comments", data={"moment": "0:01", "body": "Hyvä tervehdys."}
    )
    assert response.status_code == 302

    # Publishing needs every criterion answered, and names what is missing.
    response = sanna.post(
        f"/reviews/{review_id}",
        data={f"c{greeting.id}": "4", "comment": "Selkeä puhelu.", "publish": "1"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "Tunnistaminen" in response.text and "Ratkaisu" in response.text
    assert db.session.get(Review, review_id).status == Review.DRAFT

    response = sanna.post(
        f"/reviews/{review_id}",
        data={
            f"c{greeting.id}": "4",
            f"c{identified.id}": "na",
            f"c{solution.id}": "5",
            "comment": "Selkeä puhelu.",
            "publish": "1",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    review = db.session.get(Review, review_id)
    assert review.status == Review.PUBLISHED
    # (4-1)/4 weighted 2 and (5-1)/4 weighted 2; "not applicable" counts for nothing.
    assert review.score == pytest.approx(87.5)
    assert {s.criterion_id: s.value for s in review.scores} == {
        greeting.id: 4,
        identified.id: None,
        solution.id: 5,
    }
    assert audit_rows(action="review.publish")[-1].object_id == str(review_id)
    # Published is final.
    assert sanna.post(f"/reviews/{review_id}", data={"comment": "x"}).status_code == 403

    # The agent reads it, jumps to the comment's moment, acknowledges and answers.
    aino = login_as("aino")
    assert f"/reviews/{review_id}" in aino.get("/reviews").text
    page = aino.get(f"/reviews/{review_id}").text
    assert "Hyvä tervehdys." in page and "Selkeä puhelu." in page
    assert 'data-seek="1.0"' in page
    assert f'src="/calls/{call.id}/audio#t=1.0"' in aino.get(f"/reviews/{review_id}?t=1.0").text
    assert aino.post(f"/reviews/{review_id}/acknowledge").status_code == 302
    assert (
        aino.post(
            f"/reviews/{review_id}/comments", data={"body": "Kiitos, opin tästä."}
        ).status_code
        == 302
    )
    db.session.expire_all()
    review = db.session.get(Review, review_id)
    assert review.acknowledged_at is not None
    assert [(c.author_id, c.body) for c in review.comments][-1] == (
        world.users["aino"].id,
        "Kiitos, opin tästä.",
    )
    assert audit_rows(action="review.acknowledge")[-1].actor_name == "aino"
    # The reviewer sees the answer.
    assert "Kiitos, opin tästä." in sanna.get(f"/reviews/{review_id}").text


def test_a_second_start_goes_back_to_the_same_review(world, login_as) -> None:
    sanna = login_as("sanna")
    first = start_review(sanna, world.calls["eero"])
    assert start_review(sanna, world.calls["eero"]) == first
    # Someone else's draft is not taken over.
    response = login_as("pekka").post(f"/calls/{world.calls['eero'].id}/review")
    assert response.headers["Location"].endswith(f"/calls/{world.calls['eero'].id}")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 1


@pytest.mark.parametrize("leaves", ["deactivated", "no longer a supervisor"])
def test_a_draft_left_by_a_reviewer_who_no_longer_reviews_is_taken_over(
    world, login_as, leaves: str
) -> None:
    from webapp.models import Role, UserRole

    call = world.calls["eero"]
    review_id = start_review(login_as("sanna"), call)
    sanna = world.users["sanna"]
    if leaves == "deactivated":
        sanna.active = False
    else:
        db.session.execute(sa.delete(UserRole).where(UserRole.user_id == sanna.id))
        db.session.add(UserRole(user_id=sanna.id, role=str(Role.AGENT)))
    db.session.commit()
    pekka = login_as("pekka")
    assert start_review(pekka, call) == review_id
    db.session.expire_all()
    review = db.session.get(Review, review_id)
    assert review.reviewer_id == world.users["pekka"].id and not review.published
    event = audit_rows(action="review.take_over")[-1]
    assert (event.actor_name, event.object_id, event.purpose, event.case_ref) == (
        "pekka",
        str(call.id),
        "quality",
        f"review:{review_id}",
    )
    assert json.loads(event.detail) == {"previous_reviewer": sanna.id}
    assert pekka.get(f"/reviews/{review_id}").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 1


@pytest.mark.parametrize(
    ("call", "reason"),
    [("sanna", "own_call"), ("aino", "restriction"), ("aino_secret", "objection")],
)
def test_calls_that_are_not_reviewed(world, login_as, call: str, reason: str) -> None:
    if reason in ("restriction", "objection"):
        flags.record(world.customer, reason, True, "letter", flags.today())
    response = login_as("sanna").post(f"/calls/{world.calls[call].id}/review")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/calls/{world.calls[call].id}")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 0
    denied = audit_rows(action="review.start", outcome="denied")
    assert [d.detail for d in denied] == [f'{{"reason":"{reason}"}}']


def test_bad_comments_are_refused_by_what_is_wrong(world, login_as) -> None:
    sanna = login_as("sanna")
    review_id = start_review(sanna, world.calls["aino"])  # a 2-second call
    for data, message in [
        ({"moment": "0:05", "body": "x"}, "The recording is not that long."),
        ({"moment": "1:75", "body": "x"}, "Write the moment as minutes and seconds"),
        ({"moment": "", "body": ""}, "Write the comment."),
    ]:
        response = sanna.post(
            f"/reviews/{review_id}/comments", data=data, headers={"Accept-Language": "en"}
        )
        assert response.status_code == 400
        assert message in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReviewComment)) == 0
    greeting = criteria(world)[0]
    response = sanna.post(
        f"/reviews/{review_id}", data={f"c{greeting.id}": "9"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400
    assert "Choose a value on the scale." in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReviewScore)) == 0


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1:25", 85_000),
        ("0:01.5", 1_500),
        ("83", 83_000),
        ("2,25", 2_250),
        ("1:60", None),
        ("x", None),
    ],
)
def test_moments_are_read_as_players_write_them(text: str, ms: int | None) -> None:
    assert parse_moment(text) == ms


def test_scores_are_weighted_shares_of_their_scales(world) -> None:
    greeting, identified, solution = criteria(world)
    assert (
        scoring.weighted(criteria(world), {greeting.id: 5, identified.id: 0, solution.id: 1})
        == 40.0
    )
    assert scoring.weighted(criteria(world), {identified.id: None}) is None


def test_reviews_leave_with_their_calls(world) -> None:
    review_id = make_review(world, "aino", "sanna").id
    db.session.add(TrainingItem(call_id=world.calls["aino"].id, title="Tervehdys"))
    db.session.commit()
    retention.remove([world.calls["aino"].id])
    db.session.expire_all()
    assert db.session.get(Review, review_id) is None
    for table in (ReviewComment, ReviewScore, TrainingItem):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(table)) == 0


# --- the monthly sample --------------------------------------------------------------------


def month_of_calls(world: World, agent: str, n: int, first: date, customer=None) -> list[Call]:
    start = datetime(first.year, first.month, 3, 8, 0, tzinfo=UTC)
    return [
        world.add_call(
            f"{agent}-{first}-{i}",
            agent,
            started_at=start + timedelta(hours=i),
            seconds=1,
            customer=customer,
        )
        for i in range(n)
    ]


def test_the_sample_is_reproducible_and_excludes_what_it_must(world) -> None:
    first = date(2026, 9, 1)
    objecting = world.customer
    mine = month_of_calls(world, "aino", 8, first)
    theirs = month_of_calls(world, "eero", 6, first, customer=objecting)
    theirs += month_of_calls(world, "eero", 2, date(2026, 10, 1))  # another month
    seed = sampling.seed_of(first)
    assert sampling.seed_of(first) == seed  # kept, not made again
    assert db.session.get(ReviewRound, "2026-09").seed == seed

    sample = sampling.draw(first, seed)
    register = world.services["vesi"].register_id
    assert sample.answered[world.users["aino"].id, register] == 8
    drawn = sample.calls[world.users["aino"].id, register]
    assert len(drawn) == 3  # the register's sample size
    assert set(drawn) <= {c.id for c in mine}
    assert sampling.draw(first, seed).calls == sample.calls  # the same draw again
    others = {
        tuple(sampling.draw(first, s).calls[world.users["aino"].id, register])
        for s in ("00" * 32, "11" * 32, "22" * 32)
    }
    assert len(others) > 1  # another seed, another draw

    # Eero's customer objects: none of their calls is drawn, the others fill the sample.
    eero = world.users["eero"].id
    assert len(sample.calls[eero, register]) == 3
    flags.record(objecting, "objection", True, "letter", flags.today())
    after = sampling.draw(first, seed)
    assert after.calls[eero, register] == []
    assert after.calls[world.users["aino"].id, register] == drawn


def test_a_register_without_a_sample_size_is_not_sampled(world) -> None:
    first = date(2026, 9, 1)
    month_of_calls(world, "aino", 4, first)
    world.services["vesi"].register.review_sample_size = 0
    db.session.commit()
    assert sampling.draw(first, sampling.seed_of(first)).calls == {}


def test_the_queue_page_lists_the_draw_and_starts_reviews(world, login_as) -> None:
    first = add_months(months.this_month(), -1)
    calls = month_of_calls(world, "aino", 5, first)
    sanna = login_as("sanna")
    page = sanna.get("/reviews").text
    drawn = [c for c in calls if f"/calls/{c.id}/review" in page]
    assert len(drawn) == 3
    again = sanna.get("/reviews").text
    assert [c for c in calls if f"/calls/{c.id}/review" in again] == drawn  # the same draw
    review_id = start_review(sanna, drawn[0])
    again = sanna.get(f"/reviews?month={months.label(first)}").text
    assert f"/reviews/{review_id}" in again
    assert f"/calls/{drawn[0].id}/review" not in again
    assert sanna.get("/reviews?month=1999-01").status_code == 404
    event = audit_rows(action="review.queue")[-1]
    assert months.label(first) in event.detail


def test_months_are_finnish_months() -> None:
    since, until = sampling.bounds(date(2026, 3, 1))
    assert since == datetime(2026, 2, 28, 22, 0, tzinfo=UTC)  # winter time, UTC+2
    assert until == datetime(2026, 3, 31, 21, 0, tzinfo=UTC)  # summer time, UTC+3
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)


# --- the training library ------------------------------------------------------------------


def test_training_marking_use_and_removal_are_audited(world, login_as) -> None:
    sanna = login_as("sanna")
    # The myynti register's purposes have no training: its calls are not marked.
    sanna.post(f"/calls/{world.calls['eero'].id}/training", data={"title": "Myynti"})
    denied = audit_rows(action="training.mark", outcome="denied")
    assert [d.detail for d in denied] == ['{"reason":"training_not_in_register"}']
    call = world.calls["tiina"]
    response = sanna.post(f"/calls/{call.id}/training", data={"title": "Myyntipuhelun avaus"})
    assert response.status_code == 302
    item = db.session.scalar(sa.select(TrainingItem))
    assert item.title == "Myyntipuhelun avaus"
    mark = audit_rows(action="training.mark")[-1]
    assert (mark.object_id, mark.purpose) == (str(call.id), "training")

    pekka = login_as("pekka")
    assert "Myyntipuhelun avaus" in pekka.get("/reviews/training").text
    # Playing needs the training purpose, which the library's button states.
    assert pekka.get(f"/calls/{call.id}/audio").status_code == 403
    assert pekka.post(f"/reviews/training/{item.id}/use").status_code == 302
    use = audit_rows(action="training.use")[-1]
    assert (use.purpose, use.case_ref, use.actor_name) == (
        "training",
        f"training:{item.id}",
        "pekka",
    )
    assert pekka.get(f"/calls/{call.id}/audio").status_code == 200
    play = audit_rows(action="call.play")[-1]
    assert (play.purpose, play.case_ref) == ("training", f"training:{item.id}")

    assert 'id="player"' in pekka.get(f"/reviews/training/{item.id}").text
    assert pekka.post(f"/reviews/training/{item.id}/remove").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingItem)) == 0
    assert audit_rows(action="training.unmark")[-1].object_id == str(call.id)


@pytest.mark.parametrize("kind", ["objection", "restriction"])
def test_objecting_and_restricted_customers_are_not_in_the_library(world, login_as, kind) -> None:
    sanna = login_as("sanna")
    call = world.calls["aino"]
    assert sanna.post(f"/calls/{call.id}/training", data={"title": "Hyvä"}).status_code == 302
    item = db.session.scalar(sa.select(TrainingItem))
    flags.record(world.customer, kind, True, "letter", flags.today())
    assert "Hyvä" not in sanna.get("/reviews/training").text
    assert sanna.get(f"/reviews/training/{item.id}").status_code == 404
    assert sanna.post(f"/reviews/training/{item.id}/use").status_code == 404
    # Marking another of the customer's calls is refused.
    other = world.calls["aino_secret"]
    sanna.post(f"/calls/{other.id}/training", data={"title": "Toinen"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingItem)) == 1
    denied = audit_rows(action="training.mark", outcome="denied")
    assert [d.detail for d in denied] == [f'{{"reason":"{kind}"}}']
    # When the objection or restriction ends, the call is back.
    flags.record(world.customer, kind, False, "letter", flags.today())
    assert "Hyvä" in sanna.get("/reviews/training").text


def test_an_agent_cannot_use_the_library(world, login_as) -> None:
    db.session.add(TrainingItem(call_id=world.calls["aino"].id, title="Hyvä"))
    db.session.commit()
    item = db.session.scalar(sa.select(TrainingItem))
    aino = login_as("aino")
    for method, url in [
        ("GET", f"/reviews/training/{item.id}"),
        ("POST", f"/reviews/training/{item.id}/use"),
        ("POST", f"/reviews/training/{item.id}/remove"),
    ]:
        assert aino.open(url, method=method).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingItem)) == 1


# The training library's items: the reviewers', refused (403, audited) to everyone else; an
# item that is not there is a 404 for the reviewers.
TRAINING_ROUTES = {
    "reviews.training_item": 200,
    "reviews.use_for_training": 302,
    "reviews.unmark": 302,
}


def test_every_route_under_reviews_and_stats_has_a_rule(app: Flask) -> None:
    from tests.test_access_matrix import EXPECTED

    names = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/reviews", "/stats")) or rule.endpoint.startswith("reviews.")
    }
    ruled = set(REVIEW_EXPECTED) | set(TRAINING_ROUTES) | set(EXPECTED)
    ruled |= {"reviews.index", "reviews.training"}  # test_the_review_list…, test_reviewer_pages
    stats = {name for name in names if name.startswith("stats.")}
    assert names - stats <= ruled, f"routes without a rule: {names - stats - ruled}"


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("endpoint", sorted(TRAINING_ROUTES))
def test_training_routes_are_the_reviewers(app: Flask, world, login_as, endpoint, role) -> None:
    item = TrainingItem(call_id=world.calls["aino"].id, title="Hyvä")
    db.session.add(item)
    db.session.commit()
    item_id = item.id
    username = USER_OF_ROLE[role]
    client = login_as(username)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    method = "GET" if "GET" in rule.methods else "POST"
    for target, expected in [(item_id, TRAINING_ROUTES[endpoint]), (item_id + 100, 404)]:
        before = len(audit_rows(outcome="denied"))
        response = client.open(rule.rule.replace("<int:item_id>", str(target)), method=method)
        denied = audit_rows(outcome="denied")[before:]
        if role in ("supervisor", "admin"):
            assert response.status_code == expected, (endpoint, role, target)
            assert len(denied) == (expected == 404)
        else:
            assert response.status_code == 403, (endpoint, role, target)
            assert [(d.actor_name, d.object_type) for d in denied] == [
                (username, "training_library")
            ]
        if endpoint == "reviews.unmark":
            break  # the item is gone after the reviewer's removal
    left = db.session.scalar(sa.select(sa.func.count()).select_from(TrainingItem))
    assert left == (0 if endpoint == "reviews.unmark" and role in ("supervisor", "admin") else 1)


def test_the_agents_call_page_links_its_published_review(world, login_as) -> None:
    call = world.calls["aino"]
    draft = make_review(world, "aino", "sanna", published=False)
    aino = login_as("aino")
    assert f"/reviews/{draft.id}" not in aino.get(f"/calls/{call.id}").text
    draft.status, draft.published_at = Review.PUBLISHED, utcnow()
    db.session.commit()
    assert f"/reviews/{draft.id}" in aino.get(f"/calls/{call.id}").text
