from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache

import phonenumbers
from babel import Locale
from babel.dates import DateTimePattern, parse_pattern
from flask import Flask, g, request, session
from flask_babel import Babel, format_decimal, get_locale, get_timezone, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from webapp import ROOT

LANGUAGES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}

babel = Babel()


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "fi"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "webapp" / "translations"))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
    app.jinja_env.filters["role_label"] = role_label
    app.jinja_env.filters["phone"] = phone_display
    app.jinja_env.filters["call_phone"] = call_phone
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["number"] = format_decimal


ROLE_LABELS = {
    "agent": _l("agent"),
    "supervisor": _l("supervisor"),
    "admin": _l("administrator"),
    "dpo": _l("data-protection officer"),
    "maintainer": _l("technical maintainer"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(str(role), role))


@lru_cache(maxsize=8192)  # parsing is the dearest part of a list row
def phone_display(e164: str) -> str:
    """+358401234567 as +358 40 1234567: the same digits, grouped to be read aloud."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def call_phone(call) -> Markup:
    """A call's number as shown: never the digits of a secret number."""
    if call.phone_secret:
        return _request_formats().secret
    if call.phone_e164:
        return Markup('<span class="phone">%s</span>') % phone_display(call.phone_e164)
    return _request_formats().unknown


def duration(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


# Babel's pattern fields that a list row's time is written with, computed straight from the
# datetime: DateTimePattern.apply builds a formatter object and looks each field up through it,
# which was most of a row's cost. Any other field (a zone name, a week number…) falls back to
# Babel itself; tests/test_i18n.py compares both for every language and width in use.
_FIELDS: dict[str, Callable[[datetime], str]] = {
    "d": lambda t: str(t.day),
    "dd": lambda t: f"{t.day:02d}",
    "M": lambda t: str(t.month),
    "MM": lambda t: f"{t.month:02d}",
    "y": lambda t: str(t.year),
    "yy": lambda t: f"{t.year % 100:02d}",
    "yyyy": lambda t: f"{t.year:04d}",
    "H": lambda t: str(t.hour),
    "HH": lambda t: f"{t.hour:02d}",
    "h": lambda t: str(t.hour % 12 or 12),
    "hh": lambda t: f"{t.hour % 12 or 12:02d}",
    "m": lambda t: str(t.minute),
    "mm": lambda t: f"{t.minute:02d}",
    "s": lambda t: str(t.second),
    "ss": lambda t: f"{t.second:02d}",
}
_FIELD_NAME = re.compile(r"%\((\w+)\)s")


def _compiled(loc: Locale, pattern: DateTimePattern) -> Callable[[datetime], str]:
    getters: dict[str, Callable[[datetime], str]] = {}
    for name in _FIELD_NAME.findall(pattern.format):
        if name in _FIELDS:
            getters[name] = _FIELDS[name]
        elif name == "a":
            periods = loc.day_periods["format"]["abbreviated"]
            getters[name] = lambda t, p=periods: p["am"] if t.hour < 12 else p["pm"]
        elif name in ("MMM", "MMMM"):
            names = loc.months["format"]["abbreviated" if name == "MMM" else "wide"]
            getters[name] = lambda t, n=names: n[t.month]
        else:
            return lambda t: pattern.apply(t, loc)
    text = pattern.format
    return lambda t: text % {name: get(t) for name, get in getters.items()}


@lru_cache(maxsize=32)
def _patterns(locale: str, width: str) -> Callable[[datetime], str]:
    loc = Locale.parse(locale)
    date = _compiled(loc, parse_pattern(loc.date_formats[width].pattern))
    time = _compiled(loc, parse_pattern(loc.time_formats[width].pattern))
    joined = loc.datetime_formats[width].replace("'", "")
    return lambda t: joined.replace("{1}", date(t)).replace("{0}", time(t))


@dataclass(frozen=True)
class _Formats:
    locale: str
    zone: tzinfo
    secret: Markup
    unknown: Markup


def _request_formats() -> _Formats:
    # A list row is formatted many times per request: look the language and zone up once.
    if "formats" not in g:
        g.formats = _Formats(
            locale=str(get_locale()),
            zone=get_timezone(),
            secret=Markup('<span class="secret">%s</span>') % gettext("secret number"),
            unknown=Markup('<span class="muted">%s</span>') % gettext("unknown"),
        )
    return g.formats


def local_datetime(value: datetime, width: str = "short") -> str:
    """What Babel's format_datetime gives, in the user's language and Helsinki time, with the
    locale's patterns parsed once instead of on every row of a list."""
    formats = _request_formats()
    return _patterns(formats.locale, width)(value.astimezone(formats.zone))
