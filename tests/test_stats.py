"""/stats: figures that identify no one, for supervisors and administrators, with any cell of
fewer than 5 calls or people suppressed on the page and in the CSV files alike."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from tests.support import audit_rows
from webapp.customers.flags import LOCAL
from webapp.extensions import db
from webapp.models import (
    Call,
    Criterion,
    Review,
    ReviewScore,
    Role,
    Scorecard,
    ScorecardVersion,
    Service,
    User,
)
from webapp.reviews.scoring import share
from webapp.stats.charts import PALETTE
from webapp.stats.figures import MIN_CELL, Figures, hidden_counts

EN = {"Accept-Language": "en"}
MARCH = "from=2026-03&to=2026-03"
_keys = itertools.count()


def add_calls(service: Service, at: datetime, n: int, seconds: int = 90, agent=None) -> list:
    """``n`` calls (rows only: these tests need no recordings) to ``service`` at ``at``."""
    calls = [
        Call(
            started_at=at,
            duration_s=seconds,
            direction="in",
            service_id=service.id,
            agent_id=agent.id if agent else None,
            recording_key=f"stats/{next(_keys)}",
            recording_bytes=0,
            recording_sha256="0" * 64,
        )
        for _ in range(n)
    ]
    db.session.add_all(calls)
    db.session.commit()
    return calls


def new_service(world, code: str, name: str, register_of: str = "vesi") -> Service:
    service = Service(register_id=world.services[register_of].register_id, code=code, name=name)
    db.session.add(service)
    db.session.commit()
    return service


def main_of(html: str) -> str:
    """The page's own content: the header names the signed-in user, which is no figure."""
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def section(html: str, name: str) -> str:
    return html.split(f'<section class="statistic" id="{name}"', 1)[1].split("</section>", 1)[0]


def table_cell(html: str, name: str, label: str) -> str:
    """What a statistic's table says for one row (bars) or month (lines)."""
    match = re.search(
        rf'<th scope="row">{re.escape(label)}</th>\s*(<td.*?</td>)', section(html, name), re.S
    )
    assert match, f"no row {label!r} in {name}"
    return match.group(1)


def bar(html: str, name: str, label: str) -> str:
    """A bar chart's group for one row: its label, its mark and its value."""
    for group in re.findall(r'<g class="bar.*?</g>', section(html, name), re.S):
        if f'text-anchor="end">{label}</text>' in group:
            return group
    raise AssertionError(f"no bar {label!r} in {name}")


def csv_rows(client, name: str, query: str) -> list[dict[str, str]]:
    response = client.get(f"/stats/{name}.csv?{query}")
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


# Who -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["aino", "tiina", "matti"])
@pytest.mark.parametrize(
    "url, action", [("/stats/", "stats.view"), ("/stats/hours.csv", "stats.export")]
)
def test_only_supervisors_and_administrators_read_statistics(
    login_as, username, url, action
) -> None:
    response = login_as(username).get(url)
    assert response.status_code == 403
    denied = audit_rows(action=action, actor_name=username)
    assert [(e.outcome, e.object_type) for e in denied] == [("denied", "statistics")]


@pytest.mark.parametrize("username", ["sanna", "pekka"])
def test_supervisors_and_administrators_see_the_page_and_it_is_audited(login_as, username) -> None:
    response = login_as(username).get("/stats/", headers=EN)
    assert response.status_code == 200
    assert "Calls per hour of day" in response.text
    assert "fewer than 5 calls or people are not shown" in response.text
    (event,) = audit_rows(action="stats.view", actor_name=username)
    assert (event.outcome, event.object_type) == ("allowed", "statistics")
    now = datetime.now(LOCAL)
    year_ago = (now.year * 12 + now.month - 1) - 11
    expected = {"from": f"{year_ago // 12}-{year_ago % 12 + 1:02d}", "to": f"{now:%Y-%m}"}
    assert json.loads(event.detail) == {"filters": expected}


# Suppression -----------------------------------------------------------------------------------


@pytest.fixture
def march(world):
    """In March 2026 (Helsinki is UTC+2 until the 29th): Vesihuolto has 4 calls at 10–11,
    Kaukolämpö 2 at 11–12 (both in the customer-service register, so its total, 6, is shown),
    and Myynti, alone in its register, 5 calls at 14–15, all on Tuesday the 10th."""
    heat = new_service(world, "610", "Kaukolämpö")
    add_calls(world.services["vesi"], datetime(2026, 3, 10, 8, 15, tzinfo=UTC), 4, seconds=200)
    add_calls(heat, datetime(2026, 3, 10, 9, 15, tzinfo=UTC), 2)
    add_calls(world.services["myynti"], datetime(2026, 3, 10, 12, 5, tzinfo=UTC), 5, seconds=150)
    return world


def test_a_cell_of_four_calls_is_suppressed_on_the_page_and_five_are_shown(login_as, march):
    page = main_of(login_as("sanna").get(f"/stats/?{MARCH}", headers=EN).text)
    for name, small, five in [
        ("services", "Vesihuolto", "Myynti"),
        ("hours", "10–11", "14–15"),
        ("service_durations", "Vesihuolto", "Myynti"),
    ]:
        cell = table_cell(page, name, small)
        assert "suppressed" in cell and "not shown" in cell and "4" not in cell
        mark = bar(page, name, small)
        assert "not shown" in mark and ">4<" not in mark and "hatch" in mark
        assert "suppressed" not in table_cell(page, name, five)
    assert ">5</td>" in table_cell(page, "services", "Myynti")
    assert ">5</text>" in bar(page, "hours", "14–15")
    assert ">2:30</td>" in table_cell(page, "service_durations", "Myynti")
    assert "3:20" not in page  # Vesihuolto's average, of its 4 calls
    assert ">6</td>" in table_cell(page, "registers", "Asiakaspalvelun puhelutallenteet")
    assert ">11</td>" in table_cell(page, "weekdays", "Tuesday")
    # A suppressed bar is one fixed hatched mark, never a bar as long as its value.
    assert 'width="16" height="16" fill="url(#chart-hours-hatch)"' in bar(page, "hours", "10–11")


def test_a_cell_of_four_calls_is_suppressed_in_the_csv(login_as, march) -> None:
    client = login_as("pekka")
    services = {r["service_code"]: r for r in csv_rows(client, "services", MARCH)}
    assert (services["600"]["calls"], services["600"]["suppressed"]) == ("", "true")
    assert (services["610"]["calls"], services["610"]["suppressed"]) == ("", "true")
    assert (services["620"]["calls"], services["620"]["suppressed"]) == ("5", "false")
    hours = {r["hour"]: r for r in csv_rows(client, "hours", MARCH)}
    assert (hours["10"]["calls"], hours["10"]["suppressed"]) == ("", "true")
    assert (hours["14"]["calls"], hours["14"]["suppressed"]) == ("5", "false")
    assert (hours["3"]["calls"], hours["3"]["suppressed"]) == ("0", "false")
    averages = {r["service_code"]: r for r in csv_rows(client, "service_durations", MARCH)}
    assert (averages["600"]["average_seconds"], averages["600"]["suppressed"]) == ("", "true")
    assert averages["620"]["average_seconds"] == "150"


@pytest.mark.parametrize(
    "counts, hidden",
    [
        ([4, 2, 5, 0], {0, 1}),  # two small ones hide each other: 6 calls between them
        ([4, 5, 100, 0], {0, 1}),  # one alone would be the total minus the rest
        ([1, 1, 9, 7], {0, 1, 3}),  # two that add up to 2 are not enough
        ([3, 0, 0], {0}),  # nothing else to hide: the total itself is under 5
        ([0, 5, 7], set()),  # a zero is shown
    ],
)
def test_a_small_cell_cannot_be_worked_out_from_a_total(counts, hidden) -> None:
    assert hidden_counts(counts) == hidden


def test_a_service_is_hidden_with_its_register(login_as, world) -> None:
    """Vesihuolto's 4 calls would be their register's 104 less Kaukolämpö's 100; and with the
    register hidden, Myynti's 100 would give away the other register's 4 out of the total."""
    heat = new_service(world, "610", "Kaukolämpö")
    march = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    add_calls(world.services["vesi"], march, 4)
    add_calls(heat, march, 100)
    add_calls(world.services["myynti"], march, 50)
    client = login_as("sanna")
    services = {r["service_code"]: r["suppressed"] for r in csv_rows(client, "services", MARCH)}
    assert services == {"600": "true", "610": "true", "620": "false"}

    add_calls(world.services["myynti"], march, 50)  # now 100, and Kaukolämpö's 100 go
    db.session.execute(delete(Call).where(Call.service_id == heat.id))
    db.session.commit()
    registers = {r["register_code"]: r for r in csv_rows(client, "registers", MARCH)}
    assert {k: r["suppressed"] for k, r in registers.items()} == {
        "asiakaspalvelu": "true",
        "myynti": "true",
    }
    services = {r["service_code"]: r for r in csv_rows(client, "services", MARCH)}
    assert services["600"]["suppressed"] == services["620"]["suppressed"] == "true"
    assert (services["610"]["calls"], services["610"]["suppressed"]) == ("0", "false")


# Finnish time ----------------------------------------------------------------------------------


def test_hours_weekdays_and_months_are_finnish_time(login_as, world) -> None:
    # Tuesday 14 July 2026, 22:30 UTC is Wednesday 01:30 in Helsinki (summer time, UTC+3);
    # Wednesday 14 January, 22:30 UTC is Thursday 00:30 (UTC+2); Friday 31 July, 21:30 UTC is
    # already Saturday 1 August.
    vesi = world.services["vesi"]
    add_calls(vesi, datetime(2026, 7, 14, 22, 30, tzinfo=UTC), 5)
    add_calls(vesi, datetime(2026, 1, 14, 22, 30, tzinfo=UTC), 6)
    add_calls(vesi, datetime(2026, 7, 31, 21, 30, tzinfo=UTC), 7)
    client = login_as("sanna")
    july = "from=2026-07&to=2026-07"
    hours = {int(r["hour"]): r["calls"] for r in csv_rows(client, "hours", july)}
    assert (hours[1], hours[22], hours[0]) == ("5", "0", "0")
    days = {int(r["weekday"]): r["calls"] for r in csv_rows(client, "weekdays", july)}
    assert (days[3], days[2], days[6]) == ("5", "0", "0")
    august = {int(r["weekday"]): r["calls"] for r in csv_rows(client, "weekdays", "from=2026-08")}
    assert august[6] == "7"
    january = "from=2026-01&to=2026-01"
    hours = {int(r["hour"]): r["calls"] for r in csv_rows(client, "hours", january)}
    assert (hours[0], hours[1]) == ("6", "0")
    page = main_of(client.get(f"/stats/?{july}", headers=EN).text)
    assert ">5</td>" in table_cell(page, "weekdays", "Wednesday")


# Quality scores --------------------------------------------------------------------------------


@pytest.fixture
def agents(world) -> list[User]:
    people = []
    for n in range(10):
        user = User(username=f"agent{n}", display_name=f"Ville Virtanen{n}", team=None)
        user.roles = {Role.AGENT}
        people.append(user)
    db.session.add_all(people)
    db.session.commit()
    return people


def scorecard(name: str, number: int, *criteria: tuple[str, str, int, int]) -> ScorecardVersion:
    card = db.session.scalar(select(Scorecard).where(Scorecard.name == name))
    version = ScorecardVersion(scorecard=card or Scorecard(name=name), number=number)
    for position, (section_, title, low, high) in enumerate(criteria, 1):
        version.criteria.append(
            Criterion(
                position=position, section=section_, title=title, scale_min=low, scale_max=high
            )
        )
    db.session.add(version)
    db.session.commit()
    return version


def review(world, version, agent, team, at, score, values=None, status="published") -> Review:
    (call,) = add_calls(world.services["vesi"], at, 1, agent=agent)
    row = Review(
        call_id=call.id,
        version_id=version.id,
        reviewer_id=world.users["sanna"].id,
        agent_id=agent.id,
        agent_team=team,
        status=status,
        score=score,
        published_at=at + timedelta(days=1) if status == "published" else None,
    )
    for criterion, value in zip(version.criteria, values or [], strict=False):
        row.scores.append(ReviewScore(criterion_id=criterion.id, value=value))
    db.session.add(row)
    db.session.commit()
    return row


def test_team_scores_need_five_reviews_of_five_agents(login_as, world, agents) -> None:
    version = scorecard("Tilastot", 1, ("Avaus", "Tervehdys", 1, 5))
    april = datetime(2026, 4, 8, 9, 0, tzinfo=UTC)
    for agent, score in zip(agents[:5], [60, 70, 80, 90, 100], strict=True):
        review(world, version, agent, "Vesi", april, score)
    review(world, version, agents[0], "Vesi", april, 0, status="draft")  # not counted
    for agent in agents[5:9]:  # eight reviews, but of four people
        review(world, version, agent, "Myynti", april, 50)
        review(world, version, agent, "Myynti", april, 50)
    for agent in agents[:5]:
        review(world, version, agent, None, april, 40)
    client = login_as("sanna")
    rows = {r["team"]: r for r in csv_rows(client, "team_scores", "from=2026-04&to=2026-04")}
    assert {k: (r["average_score_percent"], r["suppressed"]) for k, r in rows.items()} == {
        "Vesi": ("80.0", "false"),
        "Myynti": ("", "true"),
        "": ("40.0", "false"),
    }
    assert rows["Vesi"]["month"] == "2026-04"
    page = main_of(client.get("/stats/?from=2026-03&to=2026-05", headers=EN).text)
    scores = section(page, "team_scores")
    assert "no team" in scores and "Myynti" in scores  # the legend names each line
    april_row = re.search(r'<th scope="row">April 2026</th>(.*?)</tr>', scores, re.S).group(1)
    assert "80.0\u00a0%" in april_row and "40.0\u00a0%" in april_row
    assert april_row.count("not shown") == 1 and "50" not in april_row
    assert "Not shown (fewer than 5 reviews or agents)" in scores  # the chart's own mark
    assert "Virtanen" not in page


def test_criterion_scores_are_shares_of_the_scale_across_versions(login_as, world, agents):
    first = scorecard("Tilastot", 1, ("Avaus", "Tervehdys", 1, 5), ("Avaus", "Kiitos", 0, 1))
    second = scorecard("Tilastot", 2, ("Avaus", "Tervehdys", 0, 10), ("Ratkaisu", "Uusi", 1, 3))
    may = datetime(2026, 5, 20, 7, 0, tzinfo=UTC)
    given = [(first, agents[0], [5, 1]), (first, agents[1], [3, 0]), (first, agents[2], [2, 1])]
    given += [(second, agents[3], [10, 3]), (second, agents[4], [4, 2])]
    given += [(second, agents[5], [None, 1])]  # not applicable: no share either way
    for version, agent, values in given:
        review(world, version, agent, "Vesi", may, 50, values)
    expected = [
        share(version.criteria[0], values[0])
        for version, _agent, values in given
        if values[0] is not None
    ]
    rows = csv_rows(login_as("pekka"), "criterion_scores", "from=2026-05&to=2026-05")
    by_title = {r["criterion"]: r for r in rows}
    assert set(by_title) == {"Tervehdys", "Kiitos", "Uusi"}  # one line for both versions
    greeting = by_title["Tervehdys"]
    assert greeting["average_share_percent"] == f"{100 * sum(expected) / len(expected):.1f}"
    assert greeting["average_share_percent"] == "63.0"  # (1 + .5 + .25 + 1 + .4) / 5
    assert (greeting["scorecard"], greeting["section"]) == ("Tilastot", "Avaus")
    assert (by_title["Kiitos"]["suppressed"], by_title["Kiitos"]["average_share_percent"]) == (
        "true",
        "",
    )
    assert by_title["Uusi"]["suppressed"] == "true"


# The CSV files and the filters -----------------------------------------------------------------


def test_a_csv_download_is_an_audited_attachment(login_as, march) -> None:
    response = login_as("sanna").get(f"/stats/services.csv?{MARCH}&register=")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="tallenne-services-2026-03-2026-03.csv"'
    assert response.text.splitlines()[0] == "service_code,service,register_code,calls,suppressed"
    (event,) = audit_rows(action="stats.export")
    assert (event.outcome, event.object_type, event.object_id) == (
        "allowed",
        "statistics",
        "services",
    )
    detail = json.loads(event.detail)
    assert detail == {"statistic": "services", "filters": {"from": "2026-03", "to": "2026-03"}}


def test_every_statistic_downloads_and_an_unknown_one_does_not(login_as, march) -> None:
    client = login_as("sanna")
    page = client.get(f"/stats/?{MARCH}").text
    links = re.findall(r'href="(/stats/[a-z_]+\.csv\?[^"]+)"', page)
    assert len(links) == len(Figures.NAMES)
    for link in links:
        assert client.get(link.replace("&amp;", "&")).status_code == 200
    assert client.get(f"/stats/everything.csv?{MARCH}").status_code == 404


def test_a_register_narrows_every_statistic(login_as, march) -> None:
    register_id = march.services["myynti"].register_id
    client = login_as("sanna")
    query = f"{MARCH}&register={register_id}"
    assert [r["service_code"] for r in csv_rows(client, "services", query)] == ["620"]
    hours = {r["hour"]: r["calls"] for r in csv_rows(client, "hours", query)}
    assert (hours["14"], hours["10"]) == ("5", "0")
    (event,) = audit_rows(action="stats.export")[-1:]
    assert json.loads(event.detail)["filters"]["register"] == str(register_id)


@pytest.mark.parametrize(
    "query, error",
    [
        ("from=2026-13", "Enter the month as YYYY-MM"),
        ("to=March", "Enter the month as YYYY-MM"),
        ("from=2026-05&to=2026-01", "The end month is before the start month"),
        ("from=2020-01&to=2026-01", "A period is at most 24 months"),
        ("register=999", "Not a valid choice"),
        ("register=x", "Not a valid choice"),
    ],
)
@pytest.mark.parametrize("url", ["/stats/", "/stats/hours.csv"])
def test_bad_filters_are_refused_saying_why(login_as, url, query, error) -> None:
    response = login_as("sanna").get(f"{url}?{query}", headers=EN)
    assert response.status_code == 400
    assert error in response.text
    assert 'class="statistic"' not in response.text
    assert audit_rows(action="stats.view") == audit_rows(action="stats.export") == []


# What the page is made of ----------------------------------------------------------------------


def test_no_customer_or_agent_is_named(login_as, world, agents) -> None:
    """The world's calls (June 2026) are of customer 100001, Maija Meikäläinen, on
    +358 40 1234567, answered by Aino and Eero; reviews name their agents."""
    version = scorecard("Tilastot", 1, ("Avaus", "Tervehdys", 1, 5))
    for agent in agents[:5]:
        review(world, version, agent, "Vesi", datetime(2026, 6, 2, 9, tzinfo=UTC), 70, [4])
    client = login_as("sanna")
    query = "from=2026-01&to=2026-12"
    texts = [main_of(client.get(f"/stats/?{query}", headers=EN).text)]
    texts += [client.get(f"/stats/{name}.csv?{query}").text for name in Figures.NAMES]
    assert "Vesi" in texts[0] and "Tervehdys" in texts[0]  # there is something to see
    for text in texts:
        for personal in ["Maija", "Meikäläinen", "100001", "1234567", "9876543"]:
            assert personal not in text
        for agent in ["Aino", "Eero", "aino", "eero", "agent0", "Virtanen"]:
            assert not re.search(rf"\b{agent}\b", text)


def test_the_charts_are_svg_the_csp_allows_with_tables_and_legends(login_as, march) -> None:
    page = main_of(login_as("sanna").get(f"/stats/?{MARCH}", headers=EN).text)
    assert (
        "style=" not in page
        and "<script" not in page
        and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert page.count('role="img"') == page.count("<figure>") == 6  # no scores this month
    for name in ("registers", "hours", "durations"):
        part = section(page, name)
        assert f'aria-labelledby="chart-{name}-title chart-{name}-desc"' in part
        assert "<figcaption>" in part and "Show as a table" in part and "<table" in part
    assert "Nothing to show for this period." in section(page, "team_scores")


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_chart_colours_stand_out_from_white_and_lines_have_legends(login_as, world, agents):
    assert all((1.05) / (_luminance(c) + 0.05) >= 3 for c in PALETTE)
    assert len(set(PALETTE)) == len(PALETTE)
    version = scorecard("Tilastot", 1, ("Avaus", "Tervehdys", 1, 5))
    for month in (4, 5):
        for agent in agents[:5]:
            review(world, version, agent, "Vesi", datetime(2026, month, 2, 9, tzinfo=UTC), 70)
    page = main_of(login_as("sanna").get("/stats/?from=2026-04&to=2026-05", headers=EN).text)
    scores = section(page, "team_scores")
    assert '<ul class="legend">' in scores and "Vesi</li>" in scores
    assert re.search(r'<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"', scores)
    assert MIN_CELL == 5
