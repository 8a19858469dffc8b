from __future__ import annotations

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


@lru_cache(maxsize=32)
def _patterns(locale: str, width: str) -> tuple[Locale, DateTimePattern, DateTimePattern, str]:
    loc = Locale.parse(locale)
    return (
        loc,
        parse_pattern(loc.date_formats[width].pattern),
        parse_pattern(loc.time_formats[width].pattern),
        loc.datetime_formats[width].replace("'", ""),
    )


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
    loc, date_pattern, time_pattern, joined = _patterns(formats.locale, width)
    local = value.astimezone(formats.zone)
    return joined.replace("{1}", date_pattern.apply(local, loc)).replace(
        "{0}", time_pattern.apply(local, loc)
    )
