"""The DPO's pages: who has accessed a customer's data, what a user has accessed, and what
needs attention; each reading of the trail is audited too."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

import audit
from tests.support import audit_rows
from webapp.extensions import db


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)


@pytest.fixture
def accesses(world, login_as):
    """Sanna listens to Aino's call of customer 100001 for quality; Eero tries, and is denied."""
    call = world.calls["aino"]
    sanna = login_as("sanna")
    sanna.post(f"/calls/{call.id}/purpose", data={"purpose": "quality"})
    assert sanna.get(f"/calls/{call.id}/audio").data == world.audio[call.id]  # to the end
    login_as("eero").get(f"/calls/{call.id}/audio")
    login_as("aino").get(f"/calls/{world.calls['aino'].id}")
    return call


def test_who_has_accessed_a_customers_data(world, login_as, accesses) -> None:
    tiina = login_as("tiina")
    page = tiina.get("/audit/?customer=100001", headers={"Accept-Language": "fi"}).text
    assert "Who has accessed" in page or "Ketkä ovat käsitelleet" in page
    rows = _rows(page)
    played = [r for r in rows if "sanna" in r and "Toisto</td>" in r]
    assert played and "Laadunvarmistus" in played[0]
    assert all("100001" in r for r in rows)
    assert not any("eero" in r for r in rows)  # his denied try never reached the customer
    # The DPO's reading is itself in the trail, tied to that customer.
    read = audit_rows(action="audit.search")[-1]
    assert read.actor_name == "tiina" and read.customer_id == world.customer.id


def test_what_a_user_has_accessed(world, login_as, accesses) -> None:
    rows = _rows(login_as("tiina").get("/audit/?user=sanna").text)
    assert rows and all("sanna" in r for r in rows)
    assert any(f">{accesses.id}</a>" in r for r in rows)
    read = audit_rows(action="audit.search")[-1]
    assert (read.object_type, read.object_id) == ("user", str(world.users["sanna"].id))


@pytest.mark.parametrize(
    "query, error",
    [
        ("user=nobody", "username"),
        ("customer=999999", "customer"),
        ("from=2026-06-02&to=2026-06-01", "end date"),
        ("call=abc", "integer"),
    ],
)
def test_bad_filters_say_what_is_wrong_and_show_nothing(world, login_as, query, error) -> None:
    page = login_as("tiina").get(f"/audit/?{query}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert error in page.text.lower() or "not a valid" in page.text.lower()
    assert _rows(page.text) == []


def test_the_attention_list(world, login_as, accesses) -> None:
    call = world.calls["aino"]
    sanna = login_as("sanna")
    sanna.post(f"/calls/{call.id}/purpose", data={"purpose": "quality"})
    response = sanna.get(f"/calls/{call.id}/export", buffered=False)
    next(iter(response.response))  # the export is cut short
    response.close()
    page = login_as("tiina").get("/audit/attention").text
    sections = {
        name: _rows(part.split("</section>")[0])
        for name, part in (s.split('"', 1) for s in page.split('<section id="')[1:])
    }
    assert any("eero" in r for r in sections["denied"])
    assert any("sanna" in r and "Laadunvarmistus" in r for r in sections["no_case"])
    unfinished = sections["unfinished"]
    # The cut export stands out; the playback that was completed does not.
    assert len(unfinished) == 1 and "sanna" in unfinished[0]
    assert json.loads(audit_rows(action="audit.search")[-1].detail) == {"attention_days": 30}


def test_pages_of_a_long_trail_follow_one_another(app, world, login_as) -> None:
    for _ in range(230):
        event = audit.Event(
            "call.view", audit.Outcome.ALLOWED, actor_name="x", customer_id=world.customer.id
        )
        audit.append(db.session.connection(), event, app.config["AUDIT_KEY"])
    db.session.commit()
    tiina = login_as("tiina")
    seen: list[int] = []
    url = "/audit/?customer=100001"
    while url:
        page = tiina.get(url).text
        seen += [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', page)]
        found = re.search(r'rel="next" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    # The 230 events, and on top the DPO's own first reading of this customer's data.
    first_reading = audit_rows(action="audit.search")[0]
    assert seen[0] == first_reading.seq and first_reading.customer_id == world.customer.id
    assert len(seen[1:]) == 230


HELSINKI = ZoneInfo("Europe/Helsinki")


def _opened(app, user, when: datetime, times: int = 1, action: str = "call.view") -> None:
    for _ in range(times):
        event = audit.Event(
            action,
            audit.Outcome.ALLOWED,
            occurred_at=when.astimezone(UTC),
            actor_id=user.id,
            actor_name=user.username,
            object_type="call",
            object_id="1",
        )
        audit.append(db.session.connection(), event, app.config["AUDIT_KEY"])
    db.session.commit()


def _section(page: str, name: str) -> list[str]:
    return _rows(page.split(f'<section id="{name}"', 1)[1].split("</section>", 1)[0])


def _last(weekday: int, hour: int) -> datetime:
    """The latest local ``hour`` on an ISO ``weekday`` at least two days ago."""
    day = datetime.now(HELSINKI).date() - timedelta(days=2)
    while day.isoweekday() != weekday:
        day -= timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=HELSINKI)


def test_a_day_far_above_the_users_own_usual_stands_out(app, world, login_as) -> None:
    wednesday = _last(3, 10)
    sanna, eero, pekka = (world.users[n] for n in ("sanna", "eero", "pekka"))
    for back in range(40, 50):  # ten ordinary days before the 30 days looked at
        _opened(app, sanna, wednesday - timedelta(days=back), times=2)
        _opened(app, eero, wednesday - timedelta(days=back), times=10)
    _opened(app, sanna, wednesday, times=12)  # 6x her usual 2, and 10 more: stands out
    _opened(app, eero, wednesday, times=29)  # under 3x his usual 10: does not
    _opened(app, pekka, wednesday, times=49)  # no history: under the bar of 50
    page = login_as("tiina").get("/audit/attention", headers={"Accept-Language": "en"}).text
    busy = _section(page, "busy")
    assert len(busy) == 1 and ">sanna</a>" in busy[0]
    assert '<td class="num">12</td>' in busy[0] and '<td class="num">2</td>' in busy[0]
    day = wednesday.date().isoformat()  # the link opens what she did that day
    assert f"user=sanna&amp;from={day}&amp;to={day}" in busy[0]

    _opened(app, pekka, wednesday, times=1)  # now 50
    busy = _section(login_as("tiina").get("/audit/attention").text, "busy")
    assert [">pekka</a>" in r for r in busy].count(True) == 1


@pytest.mark.app_config(WORKING_HOURS="08-16", WORKING_DAYS="1-5")
def test_access_outside_working_hours_stands_out_by_the_hour(app, world, login_as) -> None:
    aino = world.users["aino"]
    _opened(app, aino, _last(3, 10))  # Wednesday morning: working time
    _opened(app, aino, _last(3, 15).replace(minute=59))  # the last working hour
    _opened(app, aino, _last(3, 16), times=2, action="call.play")  # 16-17: outside
    _opened(app, aino, _last(3, 3).replace(minute=30))  # the night
    _opened(app, aino, _last(6, 12), action="call.export")  # a Saturday
    page = login_as("tiina").get("/audit/attention", headers={"Accept-Language": "en"}).text
    late = _section(page, "off_hours")
    counts = sorted(int(re.search(r'class="num">(\d+)<', r).group(1)) for r in late)
    assert counts == [1, 1, 2] and all(">aino</a>" in r for r in late)
    assert "08–16" in page


def test_the_dpo_downloads_all_of_a_customers_accesses(world, login_as, accesses) -> None:
    tiina = login_as("tiina")
    assert 'href="/audit/export?customer=100001"' in tiina.get("/audit/?customer=100001").text
    response = tiina.get("/audit/export?customer=100001")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "100001" not in disposition
    text = response.data.decode()
    lines = list(csv.reader(io.StringIO(text)))
    header, rows = lines[0], lines[1:-1]
    assert text.endswith(f"\r\n#END rows={len(rows)}\r\n") and rows
    customer = header.index("customer_id")
    assert {r[customer] for r in rows} == {str(world.customer.id)}
    assert any(r[header.index("actor_name")] == "sanna" for r in rows)
    started, completed = audit_rows(action="audit.export") + audit_rows(
        action="audit.export.completed"
    )
    assert started.customer_id == completed.customer_id == world.customer.id
    assert started.request_id == completed.request_id
    assert json.loads(completed.detail) == {"rows": len(rows)}


def test_a_download_with_bad_filters_goes_back_to_the_page(world, login_as) -> None:
    response = login_as("tiina").get("/audit/export?customer=999999")
    assert response.status_code == 302
    assert response.headers["Location"] == "/audit/?customer=999999"
    assert audit_rows(action="audit.export") == []
