from __future__ import annotations

import re
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from webapp import purposes
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import Call, Criterion, Customer, Scorecard

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
        if field.data and field.data < flags.today():
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
    scorecard_id = SelectField(_l("Scorecard"), coerce=lambda value: int(value) if value else None)
    review_sample_size = IntegerField(
        _l("Review sample size"), validators=[InputRequired(), NumberRange(0, 50)]
    )
    confirm = BooleanField(_l("Yes, remove them at the next purge"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        scorecards = db.session.execute(
            select(Scorecard.id, Scorecard.name).order_by(Scorecard.name)
        )
        self.scorecard_id.choices = [
            SelectChoice("", _l("No scorecard")),
            *(SelectChoice(str(id_), name) for id_, name in scorecards),
        ]


# The scales a criterion is scored on, by "lowest-highest".
SCALES = {"1-5": "1–5", "1-3": "1–3", "0-1": _l("0–1 (no/yes)"), "0-10": "0–10"}


def _one_line(value: str | None) -> str | None:
    # Control characters are no part of a name (and PostgreSQL refuses NUL).
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split()) if value else value


def _text(value: str | None) -> str | None:
    return re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", "", value).strip() if value else value


class CriterionRow(NamedTuple):
    """A criterion as a version stores it, less its position (the order of the rows)."""

    section: str
    title: str
    description: str | None
    scale_min: int
    scale_max: int
    weight: int

    @classmethod
    def of(cls, criterion: Criterion) -> CriterionRow:
        return cls(
            criterion.section,
            criterion.title,
            criterion.description or None,
            criterion.scale_min,
            criterion.scale_max,
            criterion.weight,
        )


class CriterionForm(FlaskForm):
    """One row of a scorecard's criteria. Emptying the title of a row that shows a criterion
    removes the criterion; a new row left blank is none."""

    class Meta:
        csrf = False  # the scorecard's form carries the token

    criterion = HiddenField()  # the id of the criterion the row shows; empty in a new row
    position = IntegerField(_l("Order"), validators=[Optional(), NumberRange(0, 9999)])
    section = StringField(_l("Section"), filters=[_one_line], validators=[Length(max=120)])
    title = StringField(_l("Criterion"), filters=[_one_line], validators=[Length(max=255)])
    description = TextAreaField(
        _l("Description"), filters=[_text], validators=[Length(max=2000)], render_kw={"rows": 2}
    )
    scale = SelectField(
        _l("Scale"), choices=[SelectChoice(k, label) for k, label in SCALES.items()], default="1-5"
    )
    weight = IntegerField(
        _l("Weight"),
        default=1,
        validators=[
            InputRequired(_l("Give a weight from 1 to 10.")),
            NumberRange(1, 10, _l("Give a weight from 1 to 10.")),
        ],
    )

    @property
    def dropped(self) -> bool:
        if self.title.data:
            return False
        typed = (
            self.section.data
            or self.description.data
            or any(value.strip() for value in self.position.raw_data or ())
        )
        return bool(self.criterion.data) or not typed

    def validate(self, extra_validators=None) -> bool:
        if self.dropped:
            return True
        valid = super().validate(extra_validators)
        if not self.section.data:
            self.section.errors.append(_l("Give the criterion's section."))
            valid = False
        return valid

    @property
    def criterion_row(self) -> CriterionRow:
        low, high = (int(end) for end in self.scale.data.split("-"))
        return CriterionRow(
            self.section.data,
            self.title.data,
            self.description.data or None,
            low,
            high,
            self.weight.data,
        )


class ScorecardForm(FlaskForm):
    """A scorecard's name and its criteria, one row each."""

    name = StringField(
        _l("Name"), filters=[_one_line], validators=[DataRequired(), Length(max=255)]
    )
    criteria = FieldList(FormField(CriterionForm))
    # The version the form was filled in on: a save from an older one would undo another's.
    based_on = HiddenField()
    conflict = False  # set when based_on is not the current version

    def __init__(self, *args, scorecard: Scorecard | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scorecard = scorecard
        # The usual scales, and any other that the current version has, kept as it is.
        scales = dict(SCALES)
        if scorecard and scorecard.current:
            for c in scorecard.current.criteria:
                scales.setdefault(f"{c.scale_min}-{c.scale_max}", f"{c.scale_min}–{c.scale_max}")
        for entry in self.criteria:
            entry.form.scale.choices = [SelectChoice(k, label) for k, label in scales.items()]

    def validate_name(self, field: StringField) -> None:
        query = select(Scorecard.id).where(Scorecard.name == field.data)
        if self.scorecard is not None:
            query = query.where(Scorecard.id != self.scorecard.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_l("There is already a scorecard with this name."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        kept = [entry for entry in self.criteria if not entry.form.dropped]
        for entry in kept:
            if not entry.form.title.data:
                entry.form.title.errors.append(
                    _l(
                        "Row %(number)s has no title: give it one, or empty the row.",
                        number=entry.index + 1,
                    )
                )
                valid = False
        if not kept:
            self.form_errors.append(_l("Give the scorecard at least one criterion."))
            valid = False
        current = self.scorecard.current if self.scorecard else None
        if current and self.based_on.data != str(current.number):
            self.form_errors.append(
                _l(
                    "Version %(number)s of this scorecard was saved while you were editing it: "
                    "compare it with your changes, then save again.",
                    number=current.number,
                )
            )
            self.conflict = True
            self.based_on.data = str(current.number)  # saved again, the changes stand
            valid = False
        return valid

    def rows(self) -> list[CriterionRow]:
        """The criteria to store, in order: by position (a row without one after the others,
        rows as they come), then together by section, in the order the sections first come."""
        rows = [entry.form for entry in self.criteria if not entry.form.dropped]
        rows.sort(key=lambda r: (r.position.data is None, r.position.data or 0))
        sections = list(dict.fromkeys(r.section.data for r in rows))
        return sorted((r.criterion_row for r in rows), key=lambda row: sections.index(row.section))
