from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Form, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from webapp.models import Purpose
from webapp.phones import to_e164
from webapp.purposes import label
from webapp.widgets import Select


class CallFilterForm(Form):
    """The /calls filters. Read from the query string (GET, no CSRF: it changes nothing)."""

    from_ = DateField(_l("From"), validators=[Optional()], name="from")
    to = DateField(_l("To"), validators=[Optional()])
    service = SelectField(_l("Service"), coerce=str, validators=[Optional()], widget=Select())
    agent = SelectField(_l("Agent"), coerce=str, validators=[Optional()], widget=Select())
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=32)])
    min_duration = IntegerField(
        _l("Duration at least (s)"), validators=[Optional(), NumberRange(min=0, max=86400)]
    )
    max_duration = IntegerField(
        _l("Duration at most (s)"), validators=[Optional(), NumberRange(min=0, max=86400)]
    )
    direction = SelectField(
        _l("Direction"),
        choices=[
            SelectChoice("", _l("Both")),
            SelectChoice("in", _l("Inbound")),
            SelectChoice("out", _l("Outbound")),
        ],
        validators=[Optional()],
        widget=Select(),
    )

    phone_e164: str | None = None

    def validate_phone(self, field: StringField) -> None:
        try:
            self.phone_e164 = to_e164(field.data)
        except ValueError as exc:
            raise ValidationError(_l("This is not a phone number.")) from exc

    def validate_to(self, field: DateField) -> None:
        if field.data and self.from_.data and field.data < self.from_.data:
            raise ValidationError(_l("The end date is before the start date."))


class PurposeForm(FlaskForm):
    purpose = SelectField(_l("Purpose"), validators=[InputRequired(_l("Choose a purpose."))])
    # No Optional(): it would end the chain before validate_case_ref could demand one.
    case_ref = StringField(_l("Case reference"), validators=[Length(max=128)])

    needs_case_ref: frozenset[str] = frozenset()

    def set_purposes(self, purposes: list[Purpose]) -> None:
        # No purpose is chosen for the user: an unthinking default would make the trail lie.
        self.purpose.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(p.code, label(p.code)) for p in purposes
        ]
        self.needs_case_ref = frozenset(p.code for p in purposes if p.requires_case_ref)

    @property
    def case_ref_hint(self) -> str | None:
        needing = [label(code) for code, *_ in self.purpose.choices if code in self.needs_case_ref]
        return _l("Required for: %(purposes)s.", purposes=", ".join(needing)) if needing else None

    def validate_case_ref(self, field: StringField) -> None:
        if self.purpose.data in self.needs_case_ref and not (field.data or "").strip():
            raise ValidationError(_l("This purpose needs a case reference."))
