"""Every UI string goes through Flask-Babel; Finnish is the default, Swedish and English exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def extracted() -> set[str]:
    method_map = [("webapp/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}
    return {
        msg
        for _file, _line, msg, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map, keywords=keywords
        )
        if isinstance(msg, str)
    }


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_catalogue_translates_every_string(lang: str) -> None:
    with open(ROOT / f"webapp/translations/{lang}/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    missing = extracted() - translated
    assert not missing, f"untranslated in {lang}: {sorted(missing)[:10]}"


@pytest.mark.parametrize(
    "accept, text",
    [
        (None, "Kirjaudu Tallenteeseen"),
        ("fi", "Kirjaudu Tallenteeseen"),
        ("sv-FI,sv;q=0.9", "Logga in i Tallenne"),
        ("en-GB,en;q=0.8", "Log in to Tallenne"),
        ("de-DE", "Kirjaudu Tallenteeseen"),
    ],
)
def test_language_follows_the_browser_with_finnish_first(client, accept, text) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    page = client.get("/login", headers=headers).text
    assert text in page


def test_purposes_and_roles_are_translated(world, login_as) -> None:
    client = login_as("sanna")
    page = client.get(f"/calls/{world.calls['aino'].id}").text
    assert "Laadunvarmistus" in page and "Reklamaation käsittely" in page
    assert "esihenkilö" in page


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("width", ["short", "medium", "long"])
def test_list_times_read_exactly_as_babel_writes_them(app, lang: str, width: str) -> None:
    from datetime import UTC, datetime, timedelta

    from flask_babel import force_locale, format_datetime

    from webapp.i18n import local_datetime

    # Summer and winter time, a UTC instant that is already tomorrow in Helsinki, every hour
    # of a day (midnight and noon for the 12-hour clock), one- and two-digit days and months.
    # "long" has a zone name, which Babel itself writes.
    instants = [datetime(2026, 6, 1, 9, 5, tzinfo=UTC), datetime(2026, 12, 31, 22, 59, tzinfo=UTC)]
    instants += [datetime(2026, 3, 9, 0, 7, 3, tzinfo=UTC) + timedelta(hours=h) for h in range(24)]
    instants += [datetime(2026, month, 28, 10, 30, 59, tzinfo=UTC) for month in range(1, 13)]
    with app.test_request_context(), force_locale(lang):
        for instant in instants:
            assert local_datetime(instant, width) == format_datetime(instant, width)
