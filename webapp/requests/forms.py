from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.customers import flags
from webapp.extensions import db
from webapp.i18n import LANGUAGES, phone_display
from webapp.models import Customer
from webapp.phones import to_e164
from webapp.requests.cases import IDENTITY_LABELS, KIND_LABELS


class CaseForm(FlaskForm):
    """A request as it is received."""

    customer = StringField(_l("Customer number"), validators=[InputRequired(), Length(max=32)])
    kind = SelectField(
        _l("Request"),
        choices=[SelectChoice(code, label) for code, label in KIND_LABELS.items()],
        validate_choice=False,
    )
    received_on = DateField(_l("Received on"), validators=[InputRequired()])
    identity_check = SelectField(
        _l("Identity verified"),
        choices=[SelectChoice(code, label) for code, label in IDENTITY_LABELS.items()],
        validate_choice=False,
    )
    # Not Optional(): that would stop the check that "other" says how.
    identity_note = StringField(_l("Note on the identity check"), validators=[Length(max=500)])

    customer_id: int | None = None

    def validate_customer(self, field: StringField) -> None:
        self.customer_id = db.session.scalar(
            select(Customer.id).where(Customer.customer_number == field.data.strip())
        )
        if self.customer_id is None:
            raise ValidationError(_l("There is no customer with this number."))

    def validate_kind(self, field: SelectField) -> None:
        if field.data not in KIND_LABELS:
            raise ValidationError(_l("Choose one of the kinds of request listed."))

    def validate_identity_check(self, field: SelectField) -> None:
        if field.data not in IDENTITY_LABELS:
            raise ValidationError(_l("Choose how the identity was verified."))

    def validate_received_on(self, field: DateField) -> None:
        if field.data and field.data > flags.today():
            raise ValidationError(_l("The day of receipt cannot be in the future."))

    def validate_identity_note(self, field: StringField) -> None:
        if self.identity_check.data == "other" and not (field.data or "").strip():
            raise ValidationError(_l("Say how the identity was verified."))


class CloseForm(FlaskForm):
    status = SelectField(
        _l("Result"),
        choices=[
            SelectChoice("done", _l("Done: the request is answered")),
            SelectChoice("refused", _l("Refused")),
        ],
        validate_choice=False,
    )
    outcome = TextAreaField(
        _l("Outcome"), validators=[InputRequired(), Length(max=4000)], render_kw={"rows": 4}
    )

    def validate_status(self, field: SelectField) -> None:
        if field.data not in ("done", "refused"):
            raise ValidationError(_l("Choose done or refused."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="close", **kwargs)


class ExtendForm(FlaskForm):
    reason = TextAreaField(
        _l("Reasons for the extension"),
        validators=[InputRequired(), Length(max=2000)],
        render_kw={"rows": 3},
    )
    told = BooleanField(
        _l("The customer has been told of the extension and its reasons"),
        validators=[InputRequired(_l("Tell the customer first: the law requires it."))],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="extend", **kwargs)


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RectifyForm(FlaskForm):
    """The customer's data as the customer says it should be."""

    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=255)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=255)])
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()],
        validate_choice=False,
    )
    contact_person = StringField(_l("Contact person"), validators=[Optional(), Length(max=255)])
    remove_phones = SelectMultipleField(
        _l("Remove these phone numbers"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
        validators=[Optional()],
    )
    add_phones = TextAreaField(
        _l("Add phone numbers, one a line"),
        validators=[Optional(), Length(max=1000)],
        render_kw={"rows": 2},
    )
    added_secret = BooleanField(_l("The added numbers are secret numbers"))

    added: list[str]

    def __init__(self, customer: Customer, *args, **kwargs) -> None:
        super().__init__(*args, prefix="fix", **kwargs)
        self.remove_phones.choices = [
            SelectChoice(str(p.id), _phone_label(p.phone_e164, p.secret)) for p in customer.phones
        ]
        self.added = []

    def validate_email(self, field: StringField) -> None:
        if field.data and not EMAIL.match(field.data.strip()):
            raise ValidationError(_l("This is not an e-mail address."))

    def validate_language(self, field: SelectField) -> None:
        if field.data not in LANGUAGES:
            raise ValidationError(_l("Choose one of the languages listed."))

    def validate_remove_phones(self, field: SelectMultipleField) -> None:
        known = {choice.value for choice in field.choices}
        if not set(field.data or ()) <= known:
            raise ValidationError(_l("The customer has no such phone number."))

    def validate_add_phones(self, field: TextAreaField) -> None:
        bad = []
        for line in (field.data or "").splitlines():
            if not line.strip():
                continue
            try:
                self.added.append(to_e164(line.strip()))
            except ValueError:
                bad.append(line.strip())
        if bad:
            raise ValidationError(
                _l("These are not phone numbers: %(numbers)s", numbers=", ".join(bad))
            )


def _phone_label(e164: str, secret: bool) -> str:
    if secret:  # the last digits tell two secret numbers apart, and no more
        return str(_l("secret number ending %(digits)s", digits=e164[-2:]))
    return phone_display(e164)


class EraseForm(FlaskForm):
    confirm = BooleanField(
        _l("I have checked that no law requires keeping the customer's recordings or data")
    )
    obligation = TextAreaField(
        _l("The legal obligation that requires keeping the data"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 3},
    )
