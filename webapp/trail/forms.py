from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import DateField, Form, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from audit import Outcome
from webapp.extensions import db
from webapp.models import Customer, User
from webapp.purposes import LABELS as PURPOSE_LABELS

ACTION_LABELS = {
    "call.play": _l("Playback"),
    "call.play.completed": _l("Playback completed"),
    "call.export": _l("Export"),
    "call.export.completed": _l("Export completed"),
    "call.view": _l("Call viewed"),
    "call.search": _l("Call search"),
    "call.purpose": _l("Purpose stated"),
    "call.link": _l("Call linked to a customer"),
    "recording.integrity_failed": _l("Recording damaged"),
    "api.recording": _l("Recording received from the phone system"),
    "import.asterisk": _l("Calls imported from the phone system"),
    "import.manifest": _l("Calls imported from a manifest"),
    "customer.search": _l("Customer search"),
    "customer.view": _l("Customer viewed"),
    "customers.load": _l("Customers loaded"),
    "flag.change": _l("Flag changed"),
    "flags.check": _l("Campaign list checked"),
    "hold.set": _l("Legal hold set"),
    "hold.lift": _l("Legal hold lifted"),
    "retention.purge": _l("Expired recordings purged"),
    "register.change": _l("Register changed"),
    "agents.load": _l("Agents' extensions loaded"),
    "user.roles": _l("Roles changed"),
    "user.deactivated": _l("User deactivated"),
    "keys.rotate": _l("Master key rotated"),
    "storage.check": _l("Storage checked"),
    "scorecard.change": _l("Scorecard changed"),
    "review.start": _l("Review started"),
    "review.take_over": _l("Review draft taken over"),
    "review.publish": _l("Review published"),
    "review.view": _l("Review viewed"),
    "review.acknowledge": _l("Review acknowledged"),
    "training.mark": _l("Call marked for training"),
    "training.use": _l("Call listened to for training"),
    "training.unmark": _l("Call removed from training"),
    "stats.view": _l("Statistics viewed"),
    "stats.export": _l("Statistics exported"),
    "login": _l("Login"),
    "logout": _l("Logout"),
    "audit.search": _l("Audit trail read"),
    "audit.export": _l("Audit trail exported"),
    "audit.export.completed": _l("Audit trail export completed"),
    "audit.checkpoint": _l("Audit checkpoint"),
    "dsr.open": _l("Data-subject request opened"),
    "dsr.view": _l("Data-subject request viewed"),
    "dsr.package": _l("Access package downloaded"),
    "dsr.package.completed": _l("Access package download completed"),
    "dsr.rectify": _l("Customer's data rectified"),
    "dsr.erase": _l("Customer erased"),
    "dsr.erase.again": _l("Restored customer erased again"),
    "dsr.list": _l("Data-subject requests listed"),
    "dsr.flag": _l("Restriction or objection recorded by request"),
    "dsr.extend": _l("Data-subject request's deadline extended"),
    "dsr.close": _l("Data-subject request closed"),
}
OUTCOME_LABELS = {
    Outcome.ALLOWED: _l("allowed"),
    Outcome.DENIED: _l("denied"),
    Outcome.FAILED: _l("failed"),
}


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


def outcome_label(code: str) -> str:
    return str(OUTCOME_LABELS.get(code, code))


def _choices(labels: dict, everything: str) -> list[SelectChoice]:
    return [SelectChoice("", everything)] + [SelectChoice(k, v) for k, v in labels.items()]


class TrailFilterForm(Form):
    """The /audit filters, read from the query string (GET: it changes nothing)."""

    from_ = DateField(_l("From"), validators=[Optional()], name="from")
    to = DateField(_l("To"), validators=[Optional()])
    user = StringField(_l("User (username)"), validators=[Optional(), Length(max=255)])
    customer = StringField(_l("Customer number"), validators=[Optional(), Length(max=32)])
    call = IntegerField(_l("Call number"), validators=[Optional(), NumberRange(min=1)])
    action = SelectField(
        _l("Event"), choices=_choices(ACTION_LABELS, _l("All events")), validators=[Optional()]
    )
    outcome = SelectField(
        _l("Outcome"), choices=_choices(OUTCOME_LABELS, _l("All outcomes")), validators=[Optional()]
    )
    purpose = SelectField(
        _l("Purpose"), choices=_choices(PURPOSE_LABELS, _l("All purposes")), validators=[Optional()]
    )

    user_id: int | None = None
    customer_id: int | None = None

    def validate_to(self, field: DateField) -> None:
        if field.data and self.from_.data and field.data < self.from_.data:
            raise ValidationError(_l("The end date is before the start date."))

    def validate_user(self, field: StringField) -> None:
        self.user_id = db.session.scalar(select(User.id).where(User.username == field.data))
        if self.user_id is None:
            raise ValidationError(_l("There is no user with this username."))

    def validate_customer(self, field: StringField) -> None:
        self.customer_id = db.session.scalar(
            select(Customer.id).where(Customer.customer_number == field.data.strip())
        )
        if self.customer_id is None:
            raise ValidationError(_l("There is no customer with this number."))


class AttentionForm(Form):
    days = IntegerField(
        _l("Days back"), default=30, validators=[Optional(), NumberRange(min=1, max=366)]
    )
