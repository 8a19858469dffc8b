from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from webapp.customers import flags

STATES = [SelectChoice("1", _l("in force")), SelectChoice("0", _l("withdrawn"))]
# What staff record by hand; data-subject requests and the billing import set their own.
MANUAL_SOURCES = ("call", "letter", "web_form", "national_register")


class SearchForm(FlaskForm):
    """Posted, not put in the URL: a name or a number searched for stays out of browser
    history, proxies' logs and the Referer header."""

    q = StringField(
        _l("Phone number, customer number or name"),
        validators=[InputRequired(), Length(min=2, max=100)],
    )


class FlagForm(FlaskForm):
    """A change of any of a customer's flags, as a supervisor, administrator or the DPO
    records it from a letter, a web form, the national register or a call."""

    kind = SelectField(_l("Flag"), choices=[SelectChoice(k, v) for k, v in flags.KINDS.items()])
    state = SelectField(_l("State"), choices=STATES)
    source = SelectField(
        _l("Source"), choices=[SelectChoice(s, flags.SOURCES[s]) for s in MANUAL_SOURCES]
    )
    call = IntegerField(
        _l("Call number, when the source is a call"), validators=[Optional(), NumberRange(1)]
    )
    valid_from = DateField(_l("Valid from"), validators=[InputRequired()])
    valid_until = DateField(_l("Valid until (last day)"), validators=[Optional()])
    reference = StringField(_l("Reference"), validators=[Optional(), Length(max=128)])

    def validate_valid_until(self, field: DateField) -> None:
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_l("The last day cannot be before the first."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Here, not in validate_call: an empty optional field skips its own validators.
        if self.source.data == "call" and not self.call.data and not self.call.errors:
            self.call.errors = [
                *self.call.errors,
                _l("Give the call in which the customer said it."),
            ]
            return False
        return valid


class CallFlagForm(FlaskForm):
    """A ban or a consent the customer states on the line, recorded from that call's page:
    from this day on, with the call as its source."""

    kind = SelectField(
        _l("Ban or consent"),
        choices=[SelectChoice(k, v) for k, v in {**flags.BANS, **flags.CONSENTS}.items()],
    )
    state = SelectField(_l("State"), choices=STATES)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="flag", **kwargs)


class LinkForm(FlaskForm):
    customer_number = StringField(
        _l("Customer number"), validators=[InputRequired(), Length(max=32)]
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="link", **kwargs)
