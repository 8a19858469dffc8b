from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(_l("Enter your username.")),
            Length(max=255),
            # NUL and other control characters are no one's name (and PostgreSQL refuses NUL).
            Regexp(r"^[^\x00-\x1f\x7f]*$", message=_l("A username has no control characters.")),
        ],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    # DataRequired strips whitespace: a blank password never reaches any backend.
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class ActionForm(FlaskForm):
    """A form that is nothing but its CSRF token: a button that changes state."""
