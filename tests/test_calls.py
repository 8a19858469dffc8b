from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import audit_rows

CALL_LINK = re.compile(r'href="/calls/(\d+)"')


def listed(page: str) -> list[int]:
    return [int(x) for x in CALL_LINK.findall(page)]


def next_link(page: str) -> str | None:
    match = re.search(r'<a rel="next" href="([^"]+)"', page)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def many(world):
    """Twelve more calls for aino and eero, one a day, with varying durations and directions."""
    base = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    for i in range(12):
        world.add_call(
            f"many{i}",
            "aino" if i % 3 else "eero",
            started_at=base + timedelta(days=i),
            seconds=1 + i % 4,
            direction="out" if i % 2 else "in",
            phone=f"+35840555{i:04d}",
            service="myynti" if i % 4 == 0 else "vesi",
        )
    return world


def test_filters_each_narrow_the_list(many, login_as) -> None:
    client = login_as("sanna")
    calls = many.calls
    everyone = set(listed(client.get("/calls").text))
    assert everyone == {c.id for c in calls.values()}

    def ids(query: str) -> set[int]:
        response = client.get(f"/calls?{query}")
        assert response.status_code == 200
        return set(listed(response.text))

    # Days are Helsinki days: 2026-03-03 is many2 only.
    assert ids("from=2026-03-03&to=2026-03-03") == {calls["many2"].id}
    since = datetime(2026, 3, 10).date()
    assert ids("from=2026-03-10") == {c.id for c in calls.values() if c.started_at.date() >= since}
    myynti = many.services["myynti"].id
    assert ids(f"service={myynti}") == {c.id for c in calls.values() if c.service_id == myynti}
    assert ids("direction=out") == {c.id for c in calls.values() if c.direction == "out"}
    assert ids("min_duration=3") == {c.id for c in calls.values() if c.duration_s >= 3}
    assert ids("max_duration=1") == {c.id for c in calls.values() if c.duration_s <= 1}
    eero = many.users["eero"].id
    assert ids(f"agent={eero}") == {c.id for c in calls.values() if c.agent_id == eero}
    assert ids("direction=in&min_duration=2&max_duration=3") == {
        c.id for c in calls.values() if c.direction == "in" and 2 <= c.duration_s <= 3
    }


@pytest.mark.parametrize(
    "typed", ["+358405550007", "040 555 0007", "0405550007", "+358 40-555 0007"]
)
def test_phone_filter_takes_any_usual_format(many, login_as, typed: str) -> None:
    page = login_as("sanna").get("/calls", query_string={"phone": typed}).text
    assert listed(page) == [many.calls["many7"].id]
    event = audit_rows(action="call.search")[-1]
    assert event.actor_name == "sanna"
    assert "phone" in event.detail


def test_phone_search_is_audited_as_a_look_up_of_that_customer(world, login_as) -> None:
    login_as("sanna").get("/calls?phone=0401234567")
    event = audit_rows(action="call.search")[-1]
    assert event.customer_id == world.customer.id
    assert "0401234567" not in (event.detail or "") and "1234567" not in (event.detail or "")


@pytest.mark.parametrize("query", ["", "?direction=out"])
def test_a_list_reads_the_user_once_with_the_search_event_or_without(
    many, login_as, app, query: str
) -> None:
    """The session, the user and the roles come in one statement, and the search event's
    commit does not make the list read them again."""
    import sqlalchemy as sa

    from webapp.extensions import db

    client = login_as("sanna")
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = client.get("/calls" + query).text
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert listed(page)
    heads = [" ".join(s.split())[:70] for s in statements]
    # The session with its user and roles; the service and agent choices; the page. A search
    # adds its event: the head's update, the event, the head's chain value.
    assert len(statements) == (7 if query else 4), heads
    assert "FROM user_session LEFT OUTER JOIN user_account" in " ".join(statements[0].split())
    assert not [h for h in heads if h.startswith(("SELECT user_role", "SELECT user_account.id AS"))]


def test_keep_loaded_is_only_for_an_event_that_is_the_only_write(world, app) -> None:
    from audit import Outcome
    from webapp import auditing
    from webapp.extensions import db
    from webapp.models import User

    with app.test_request_context():
        user = db.session.get(User, world.users["aino"].id)
        user.display_name = "changed"
        with pytest.raises(RuntimeError, match="only write"):
            auditing.write("call.search", Outcome.ALLOWED, keep_loaded=True)
    assert not audit_rows(action="call.search")


def test_agents_cannot_widen_their_list_with_the_agent_filter(many, login_as) -> None:
    eero = many.users["eero"].id
    page = login_as("aino").get(f"/calls?agent={eero}").text
    aino = many.users["aino"].id
    assert listed(page)
    assert all(c.agent_id == aino for c in many.calls.values() if c.id in listed(page))
    assert 'name="agent"' not in page  # the filter is not even offered


@pytest.mark.parametrize(
    "query, message",
    [
        ("phone=not-a-number", "Tämä ei ole puhelinnumero."),
        ("from=2026-03-05&to=2026-03-01", "Loppupäivä on ennen alkupäivää."),
        ("min_duration=-5", None),
        ("from=yesterday", None),
        ("direction=sideways", None),
        ("service=99999", None),
    ],
)
def test_bad_filters_say_what_is_wrong_and_show_nothing(world, login_as, query, message) -> None:
    response = login_as("sanna").get(f"/calls?{query}")
    assert response.status_code == 200
    assert listed(response.text) == []
    assert 'class="error"' in response.text
    if message:
        assert message in response.text


def test_keyset_pages_cover_every_call_once_newest_first(many, login_as, app) -> None:
    app.config["CALLS_PER_PAGE"] = 5
    client = login_as("sanna")
    seen: list[int] = []
    url: str | None = "/calls"
    pages = 0
    while url:
        page = client.get(url).text
        seen += listed(page)
        url = next_link(page)
        pages += 1
    expected = sorted(many.calls.values(), key=lambda c: (c.started_at, c.id), reverse=True)
    assert seen == [c.id for c in expected]
    assert pages == -(-len(expected) // 5)


def test_keyset_pages_keep_the_filters(many, login_as, app) -> None:
    app.config["CALLS_PER_PAGE"] = 2
    client = login_as("sanna")
    first = client.get("/calls?direction=out").text
    link = next_link(first)
    assert link and "direction=out" in link and "after=" in link
    second = client.get(link).text
    out = {c.id for c in many.calls.values() if c.direction == "out"}
    assert set(listed(first)) | set(listed(second)) <= out
    assert 'href="/calls?direction=out"' in second  # back to the first page


def test_keyset_cursor_that_is_garbage_starts_from_the_top(world, login_as) -> None:
    client = login_as("sanna")
    assert listed(client.get("/calls?after=zzz").text) == listed(client.get("/calls").text)


def test_secret_number_never_shows_its_digits(world, login_as) -> None:
    client = login_as("aino")
    call = world.calls["aino_secret"]
    assert call.phone_e164 is None
    for url in ("/calls", f"/calls/{call.id}"):
        page = client.get(url).text
        assert "salainen numero" in page
    detail = client.get(f"/calls/{call.id}").text
    assert "+358401234567" not in detail  # the customer's number is known, but not shown here


def test_call_page_shows_helsinki_time_and_metadata(world, login_as) -> None:
    call = world.calls["aino"]  # 2026-06-01 09:00 UTC is 12.00 in Helsinki (EEST)
    page = login_as("aino").get(f"/calls/{call.id}").text
    assert "12.00" in page
    assert "Vesihuolto" in page and "Asiakaspalvelun puhelutallenteet" in page
    assert 'id="player"' in page and f'src="/calls/{call.id}/audio"' in page
    event = audit_rows(action="call.view")[-1]
    assert (event.object_id, event.outcome, event.customer_id) == (
        str(call.id),
        "allowed",
        world.customer.id,
    )
