from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

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
