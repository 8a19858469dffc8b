from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp import purposes
from webapp.extensions import db
from webapp.models import Call, Customer

HOLD_REASONS = {
    "complaint": _l("Complaint"),
    "dispute": _l("Dispute"),
    "authority_request": _l("Authority request"),
}


class HoldForm(FlaskForm):
    """A legal hold on one call or on all of one customer's calls."""

    call = IntegerField(_l("Call number"), validators=[Optional(), NumberRange(min=1)])
    customer = StringField(_l("Customer number"), validators=[Optional(), Length(max=32)])
    reason = SelectField(
        _l("Reason"), choices=[SelectChoice(code, label) for code, label in HOLD_REASONS.items()]
    )
    case_ref = StringField(_l("Case reference"), validators=[InputRequired(), Length(max=128)])
    until = DateField(_l("Last day"), validators=[InputRequired()])

    call_id: int | None = None
    customer_id: int | None = None

    def validate_call(self, field: IntegerField) -> None:
        if field.data and self.customer.data:
            raise ValidationError(_l("Give a call or a customer, not both."))
        if field.data:
            self.call_id = db.session.scalar(select(Call.id).where(Call.id == field.data))
            if self.call_id is None:
                raise ValidationError(_l("There is no call with this number."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.call.data and not (self.customer.data or "").strip():
            self.customer.errors = [
                *self.customer.errors,
                _l("Give the call or the customer that the hold keeps."),
            ]
            return False
        return valid

    def validate_customer(self, field: StringField) -> None:
        if field.data:
            self.customer_id = db.session.scalar(
                select(Customer.id).where(Customer.customer_number == field.data.strip())
            )
            if self.customer_id is None:
                raise ValidationError(_l("There is no customer with this number."))

    def validate_until(self, field: DateField) -> None:
        if field.data and field.data < datetime.now(UTC).date():
            raise ValidationError(_l("The last day cannot be in the past."))


LEGAL_BASES = {
    "legitimate_interest": _l("Legitimate interest (GDPR Art. 6(1)(f))"),
    "legal_obligation": _l("Legal obligation (GDPR Art. 6(1)(c))"),
    "contract": _l("Contract with the customer (GDPR Art. 6(1)(b))"),
    "consent": _l("Consent (GDPR Art. 6(1)(a))"),
}


class RegisterForm(FlaskForm):
    """A register's settings: what the purge, the purpose prompt and the privacy notice use."""

    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=255)])
    retention_months = IntegerField(
        _l("Retention period in months"), validators=[InputRequired(), NumberRange(1, 120)]
    )
    purposes = SelectMultipleField(
        _l("Purposes"),
        choices=[SelectChoice(code, label) for code, label in purposes.LABELS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[InputRequired(_l("Choose at least one purpose."))],
    )
    legal_basis = SelectField(
        _l("Legal basis"),
        choices=[SelectChoice(code, label) for code, label in LEGAL_BASES.items()],
    )
    controller = TextAreaField(
        _l("Controller"), validators=[InputRequired(), Length(max=2000)], render_kw={"rows": 3}
    )
    contact = TextAreaField(
        _l("Contact person"), validators=[InputRequired(), Length(max=2000)], render_kw={"rows": 2}
    )
    dpo_contact = TextAreaField(
        _l("Data-protection officer"),
        validators=[InputRequired(), Length(max=2000)],
        render_kw={"rows": 2},
    )
    processors = TextAreaField(
        _l("Processors, one a line"), validators=[Length(max=4000)], render_kw={"rows": 4}
    )
    confirm = BooleanField(_l("Yes, remove them at the next purge"))
