from __future__ import annotations

import phonenumbers
from flask import Flask, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

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


ROLE_LABELS = {
    "agent": _l("agent"),
    "supervisor": _l("supervisor"),
    "admin": _l("administrator"),
    "dpo": _l("data-protection officer"),
    "maintainer": _l("technical maintainer"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(str(role), role))


def phone_display(e164: str) -> str:
    """+358401234567 as +358 40 1234567: the same digits, grouped to be read aloud."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
