"""Scorecards in /admin: administrators define them in versions (a change never alters a
version a review may have been made on), and a register names its scorecard and sample size."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from tests.support import audit_rows
from webapp.extensions import db
from webapp.models import Criterion, Register, Review, Scorecard, ScorecardVersion

EN = {"Accept-Language": "en"}

# (position, section, title, description, scale, weight); the second "Avaus" row comes after
# "Ratkaisu" in the rows but belongs with its section.
CRITERIA = [
    ("10", "Avaus", "Tervehdys", "Nimi ja yritys", "1-5", "2"),
    ("20", "Ratkaisu", "Asia ratkesi", "", "0-1", "5"),
    ("30", "Avaus", "Asiakkaan tunnistus", "", "1-3", "1"),
]


def _rows(criteria, start: int = 0) -> dict[str, str]:
    data = {}
    for i, (position, section, title, description, scale, weight) in enumerate(criteria, start):
        data.update(
            {
                f"criteria-{i}-position": position,
                f"criteria-{i}-section": section,
                f"criteria-{i}-title": title,
                f"criteria-{i}-description": description,
                f"criteria-{i}-scale": scale,
                f"criteria-{i}-weight": weight,
            }
        )
    return data


def _create(client, name: str = "Asiakaspalvelu", criteria=CRITERIA):
    return client.post("/admin/scorecards/new", data={"name": name, **_rows(criteria)}, headers=EN)


def _scorecard(name: str) -> Scorecard:
    db.session.expire_all()
    return db.session.scalars(sa.select(Scorecard).where(Scorecard.name == name)).one()


def _stored(version: ScorecardVersion) -> list[tuple]:
    return [
        (c.id, c.position, c.section, c.title, c.description, c.scale_min, c.scale_max, c.weight)
        for c in version.criteria
    ]


def _detail(event) -> dict:
    return json.loads(event.detail) if isinstance(event.detail, str) else event.detail


def _counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Scorecard, ScorecardVersion, Criterion)
    )


class _FormFields(HTMLParser):
    """What a browser would post from the page's scorecard form, as it stands."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "form":
            self._in_form = "scorecard-form" in (attrs.get("class") or "")
        elif not self._in_form or ("name" not in attrs and tag != "option"):
            return
        elif tag == "input" and attrs.get("type") != "submit":
            self.data[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.data[self._textarea] = ""
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs["value"]

    def handle_endtag(self, tag) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data) -> None:
        if self._textarea:
            # A browser drops the newline that follows <textarea>.
            self.data[self._textarea] += data.removeprefix("\n")


def _page_form(client, scorecard_id: int) -> dict[str, str]:
    page = client.get(f"/admin/scorecards/{scorecard_id}", headers=EN)
    assert page.status_code == 200
    parser = _FormFields()
    parser.feed(page.text)
    return parser.data


def _row_of(form: dict[str, str], title: str) -> int:
    (index,) = [
        int(key.split("-")[1])
        for key, value in form.items()
        if key.endswith("-title") and value == title
    ]
    return index


def test_an_administrator_creates_a_scorecard_in_sections(world, login_as) -> None:
    admin = login_as("pekka")
    response = _create(admin)
    scorecard = _scorecard("Asiakaspalvelu")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/scorecards/{scorecard.id}"
    (version,) = scorecard.versions
    assert version.number == 1 and version.created_by_id == world.users["pekka"].id
    assert [(c.position, c.section, c.title) for c in version.criteria] == [
        (1, "Avaus", "Tervehdys"),
        (2, "Avaus", "Asiakkaan tunnistus"),
        (3, "Ratkaisu", "Asia ratkesi"),
    ]
    assert [(name, [c.title for c in cs]) for name, cs in version.sections] == [
        ("Avaus", ["Tervehdys", "Asiakkaan tunnistus"]),
        ("Ratkaisu", ["Asia ratkesi"]),
    ]
    greeting, identifying, solved = version.criteria
    assert (greeting.scale_min, greeting.scale_max, greeting.weight) == (1, 5, 2)
    assert greeting.description == "Nimi ja yritys" and identifying.description is None
    assert (identifying.scale_min, identifying.scale_max, identifying.weight) == (1, 3, 1)
    assert (solved.scale_min, solved.scale_max, solved.weight) == (0, 1, 5)
    (event,) = audit_rows(action="scorecard.change")
    assert (event.object_type, event.object_id, event.actor_name) == (
        "scorecard",
        str(scorecard.id),
        "pekka",
    )
    assert _detail(event) == {"version": 1, "fields": ["name", "criteria"]}

    listing = admin.get("/admin/scorecards", headers=EN).text
    assert f'href="/admin/scorecards/{scorecard.id}">Asiakaspalvelu</a>' in listing
    assert "version 1: 0 reviews" in listing and 'href="/admin/scorecards/new"' in listing
    assert 'href="/admin/scorecards"' in admin.get("/admin/", headers=EN).text


def test_a_row_without_a_number_comes_last(world, login_as) -> None:
    admin = login_as("pekka")
    unnumbered = ("", "Lopetus", "Kiitos", "", "1-5", "1")
    assert _create(admin, criteria=[unnumbered, *CRITERIA]).status_code == 302
    (version,) = _scorecard("Asiakaspalvelu").versions
    assert [c.title for c in version.criteria][-1] == "Kiitos"
    assert [name for name, _criteria in version.sections] == ["Avaus", "Ratkaisu", "Lopetus"]


def test_a_change_makes_a_new_version_and_leaves_the_old_one_as_it_was(world, login_as) -> None:
    admin = login_as("pekka")
    _create(admin)
    scorecard = _scorecard("Asiakaspalvelu")
    first = _stored(scorecard.versions[0])

    form = _page_form(admin, scorecard.id)
    assert form["based_on"] == "1"
    form[f"criteria-{_row_of(form, 'Asia ratkesi')}-weight"] = "7"
    assert admin.post(f"/admin/scorecards/{scorecard.id}", data=form).status_code == 302
    scorecard = _scorecard("Asiakaspalvelu")
    assert [v.number for v in scorecard.versions] == [1, 2]
    version_1, version_2 = scorecard.versions
    assert _stored(version_1) == first
    assert [c.weight for c in version_2.criteria] == [2, 1, 7]
    assert {c.id for c in version_2.criteria}.isdisjoint(row[0] for row in first)
    assert version_2.created_by_id == world.users["pekka"].id
    events = audit_rows(action="scorecard.change")
    assert [_detail(e) for e in events][1:] == [{"version": 2, "fields": ["criteria"]}]

    unchanged = _page_form(admin, scorecard.id)
    assert admin.post(f"/admin/scorecards/{scorecard.id}", data=unchanged).status_code == 302
    assert [v.number for v in _scorecard("Asiakaspalvelu").versions] == [1, 2]
    assert len(audit_rows(action="scorecard.change")) == 2

    removing = _page_form(admin, scorecard.id)
    removing[f"criteria-{_row_of(removing, 'Tervehdys')}-title"] = ""
    assert admin.post(f"/admin/scorecards/{scorecard.id}", data=removing).status_code == 302
    version_3 = _scorecard("Asiakaspalvelu").versions[-1]
    assert version_3.number == 3
    assert [c.title for c in version_3.criteria] == ["Asiakkaan tunnistus", "Asia ratkesi"]
    assert [c.position for c in version_3.criteria] == [1, 2]
    assert _stored(_scorecard("Asiakaspalvelu").versions[0]) == first

    renaming = _page_form(admin, scorecard.id)
    renaming["name"] = "Asiakaspalvelu 2027"
    assert admin.post(f"/admin/scorecards/{scorecard.id}", data=renaming).status_code == 302
    renamed = _scorecard("Asiakaspalvelu 2027")
    assert [v.number for v in renamed.versions] == [1, 2, 3]
    assert _detail(audit_rows(action="scorecard.change")[-1]) == {"version": 3, "fields": ["name"]}

    old = admin.get(f"/admin/scorecards/{scorecard.id}?version=1", headers=EN)
    assert old.status_code == 200
    shown = old.text.split('id="version"', 1)[1]
    assert "Tervehdys" in shown and "Version 1" in shown
    assert re.search(r"Asia ratkesi</td>.*?<td class=\"num\">5</td>", shown, re.S)
    assert "made " in shown and "Pekka" in shown
    missing = admin.get(f"/admin/scorecards/{scorecard.id}?version=9", headers=EN)
    assert missing.status_code == 404


def test_the_list_counts_the_reviews_made_on_each_version(world, login_as) -> None:
    admin = login_as("pekka")
    _create(admin)
    scorecard = _scorecard("Asiakaspalvelu")
    form = _page_form(admin, scorecard.id)
    form["criteria-0-weight"] = "3"
    admin.post(f"/admin/scorecards/{scorecard.id}", data=form)
    first = _scorecard("Asiakaspalvelu").versions[0]
    db.session.add(
        Review(
            call_id=world.calls["aino"].id, version_id=first.id, reviewer_id=world.users["sanna"].id
        )
    )
    register = db.session.scalars(sa.select(Register).where(Register.code == "myynti")).one()
    register.scorecard_id = scorecard.id
    db.session.commit()
    listing = admin.get("/admin/scorecards", headers=EN).text
    (row,) = [r for r in listing.split("<tr>") if f'/admin/scorecards/{scorecard.id}"' in r]
    assert "version 2: 0 reviews" in row and "version 1: 1 review<" in row
    assert f'href="/admin/registers/{register.id}">Myynnin puhelutallenteet</a>' in row
    assert "Asiakaspalvelun puhelutallenteet" not in row


INVALID = {
    "no criteria": ({}, "Give the scorecard at least one criterion.", None),
    "a section but no title": (
        _rows([("", "Lopetus", "", "", "1-5", "1")], start=3),
        "Row 4 has no title",
        "criteria-3-title-error",
    ),
    "weight 0": (
        _rows([("", "Lopetus", "Kiitos", "", "1-5", "0")], start=3),
        "Give a weight from 1 to 10.",
        "criteria-3-weight-error",
    ),
    "no section": (
        _rows([("", "", "Kiitos", "", "1-5", "1")], start=3),
        "Give the criterion's section.",
        "criteria-3-section-error",
    ),
    "an unknown scale": (
        _rows([("", "Lopetus", "Kiitos", "", "1-7", "1")], start=3),
        "Not a valid choice",
        "criteria-3-scale-error",
    ),
    "a taken name": (
        {"name": "Myynti"},
        "There is already a scorecard with this name.",
        "name-error",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
@pytest.mark.parametrize("target", ["new", "edit"])
def test_invalid_input_is_refused_and_stores_nothing(world, login_as, target, case) -> None:
    admin = login_as("pekka")
    _create(admin, "Myynti")
    _create(admin, "Asiakaspalvelu")
    names = set(db.session.scalars(sa.select(Scorecard.name)))
    before, events = _counts(), len(audit_rows(action="scorecard.change"))
    changes, says, error_id = INVALID[case]
    if target == "new":
        url = "/admin/scorecards/new"
        rows = {} if case == "no criteria" else _rows(CRITERIA)
        data = {"name": "Uusi", **rows, **changes}
    else:
        scorecard = _scorecard("Asiakaspalvelu")
        url = f"/admin/scorecards/{scorecard.id}"
        data = _page_form(admin, scorecard.id)
        if case == "no criteria":
            data = {k: "" if k.endswith("-title") else v for k, v in data.items()}
        data.update(changes)
    response = admin.post(url, data=data, headers=EN)
    assert response.status_code == 400
    if error_id:  # beside its field, which names it
        beside = re.search(f'<span class="error" id="{error_id}">([^<]*)</span>', response.text)
        assert beside and says in html.unescape(beside[1])
        assert f'aria-describedby="{error_id}"' in response.text
    else:
        assert says in response.text
    assert _counts() == before
    assert len(audit_rows(action="scorecard.change")) == events
    assert set(db.session.scalars(sa.select(Scorecard.name))) == names


@pytest.mark.parametrize("by", ["creating", "renaming"])
def test_a_name_taken_between_the_check_and_the_save_is_refused(
    world, login_as, monkeypatch, by: str
) -> None:
    """Two administrators saving the same name at once: the one whose write comes second gets
    the form back with the name's error (409), not a server error, and nothing of theirs is
    stored."""
    from webapp.admin.forms import ScorecardForm

    admin = login_as("pekka")
    assert _create(admin, "Laatu").status_code == 302
    assert _create(admin, "Toinen").status_code == 302
    other = _scorecard("Toinen")
    names = sorted(db.session.scalars(sa.select(Scorecard.name)))
    events = len(audit_rows(action="scorecard.change"))
    # The other administrator's commit lands after this form's uniqueness check.
    monkeypatch.setattr(ScorecardForm, "validate_name", lambda self, field: None)
    if by == "creating":
        response = _create(admin, "Laatu")
    else:
        response = admin.post(
            f"/admin/scorecards/{other.id}",
            data={"name": "Laatu", "based_on": str(other.current.number), **_rows(CRITERIA)},
            headers=EN,
        )
    assert response.status_code == 409
    assert "There is already a scorecard with this name." in html.unescape(response.text)
    db.session.expire_all()
    assert sorted(db.session.scalars(sa.select(Scorecard.name))) == names
    assert len(audit_rows(action="scorecard.change")) == events


def test_a_save_from_an_older_version_does_not_undo_a_newer_one(world, login_as) -> None:
    admin = login_as("pekka")
    _create(admin)
    scorecard = _scorecard("Asiakaspalvelu")
    stale = _page_form(admin, scorecard.id)
    newer = dict(stale, **{"criteria-0-weight": "9"})
    assert admin.post(f"/admin/scorecards/{scorecard.id}", data=newer).status_code == 302
    stale["criteria-1-weight"] = "4"
    refused = admin.post(f"/admin/scorecards/{scorecard.id}", data=stale, headers=EN)
    assert refused.status_code == 400
    assert "Version 2 of this scorecard was saved while you were editing it" in refused.text
    assert [v.number for v in _scorecard("Asiakaspalvelu").versions] == [1, 2]
    parser = _FormFields()
    parser.feed(refused.text)
    assert parser.data["based_on"] == "2" and parser.data["criteria-1-weight"] == "4"
    assert admin.post(f"/admin/scorecards/{scorecard.id}", data=parser.data).status_code == 302
    assert [c.weight for c in _scorecard("Asiakaspalvelu").versions[-1].criteria] == [2, 4, 5]


ROUTES = [
    ("GET", "/admin/scorecards"),
    ("GET", "/admin/scorecards/new"),
    ("POST", "/admin/scorecards/new"),
    ("GET", "/admin/scorecards/{id}"),
    ("POST", "/admin/scorecards/{id}"),
]


@pytest.mark.parametrize("username", ["aino", "sanna", "tiina", "matti"])
@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_only_administrators_reach_the_scorecards(world, login_as, username, method, url) -> None:
    scorecard = Scorecard(name="Asiakaspalvelu")
    scorecard.versions.append(
        ScorecardVersion(
            number=1,
            criteria=[
                Criterion(position=1, section="Avaus", title="Tervehdys", scale_min=1, scale_max=5)
            ],
        )
    )
    db.session.add(scorecard)
    db.session.commit()
    before = _counts()
    data = {"name": "Toinen", "based_on": "1", **_rows(CRITERIA)} if method == "POST" else None
    response = login_as(username).open(url.format(id=scorecard.id), method=method, data=data)
    assert response.status_code == 403
    denied = audit_rows(outcome="denied")
    assert [(d.actor_name, d.object_type) for d in denied] == [(username, "configuration")]
    assert _counts() == before
    assert _scorecard("Asiakaspalvelu").name == "Asiakaspalvelu"


def _register_form(register: Register) -> dict:
    """The register's form as its page offers it."""
    return {
        "name": register.name,
        "retention_months": str(register.retention_months),
        "purposes": [p.code for p in register.purposes],
        "legal_basis": register.legal_basis,
        "controller": register.controller,
        "contact": register.contact,
        "dpo_contact": register.dpo_contact,
        "processors": register.processors,
        "scorecard_id": str(register.scorecard_id or ""),
        "review_sample_size": str(register.review_sample_size),
    }


def _myynti() -> Register:
    db.session.expire_all()
    return db.session.scalars(sa.select(Register).where(Register.code == "myynti")).one()


def test_a_register_names_its_scorecard_and_sample_size(world, login_as) -> None:
    admin = login_as("pekka")
    _create(admin, "Myynti")
    scorecard = _scorecard("Myynti")
    register = _myynti()
    assert register.scorecard_id not in (None, scorecard.id)
    url = f"/admin/registers/{register.id}"
    page = admin.get(url, headers=EN).text
    assert '<option value="">No scorecard</option>' in page
    assert f'<option value="{scorecard.id}">Myynti</option>' in page
    assert f'<option selected value="{register.scorecard_id}">' in page
    assert re.search(r'<input [^>]*id="review_sample_size" [^>]*value="3">', page)

    form = dict(_register_form(register), scorecard_id=str(scorecard.id), review_sample_size="5")
    assert admin.post(url, data=form).status_code == 302
    register = _myynti()
    assert (register.scorecard_id, register.review_sample_size) == (scorecard.id, 5)
    (event,) = audit_rows(action="register.change")
    assert sorted(_detail(event)["changed"]) == ["review_sample_size", "scorecard_id"]
    assert f'<option selected value="{scorecard.id}">Myynti</option>' in admin.get(url).text

    assert admin.post(url, data=dict(form, scorecard_id="")).status_code == 302
    assert _myynti().scorecard_id is None
    assert _detail(audit_rows(action="register.change")[-1])["changed"] == ["scorecard_id"]


@pytest.mark.parametrize(
    "changes",
    [
        {"review_sample_size": "51"},
        {"review_sample_size": "-1"},
        {"review_sample_size": ""},
        {"scorecard_id": "999999"},
        {"scorecard_id": "many"},
    ],
)
def test_a_bad_scorecard_or_sample_size_is_refused(world, login_as, changes) -> None:
    admin = login_as("pekka")
    register = _myynti()
    before = (register.scorecard_id, register.review_sample_size)
    response = admin.post(
        f"/admin/registers/{register.id}", data={**_register_form(register), **changes}
    )
    assert response.status_code == 400
    (name,) = changes
    assert f'id="{name}-error"' in response.text
    register = _myynti()
    assert (register.scorecard_id, register.review_sample_size) == before
    assert audit_rows(action="register.change") == []
