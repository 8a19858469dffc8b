from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from webapp.models import Criterion, ScorecardVersion

NOT_APPLICABLE = "na"
_MOMENT = re.compile(r"^(?:(\d{1,3}):)?(\d{1,5})(?:[.,](\d{1,3}))?$")


def parse_moment(text: str) -> int | None:
    """A moment of the recording written m:ss, m:ss.s or seconds, in milliseconds; None when
    it is none of these (or a colon form with 60 seconds or more)."""
    match = _MOMENT.match(text.strip())
    if not match:
        return None
    minutes, seconds, fraction = match.groups()
    if minutes is not None and int(seconds) >= 60:
        return None
    ms = (int(minutes or 0) * 60 + int(seconds)) * 1000
    return ms + int((fraction or "0").ljust(3, "0"))


def moment_label(ms: int) -> str:
    """m:ss of a moment, as the player shows it."""
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


class ReviewForm(FlaskForm):
    """A review's scores (one field per criterion, added by ``for_version``) and its overall
    comment. A draft may leave criteria open; publishing needs every one answered."""

    comment = TextAreaField(_l("Overall comment"), validators=[Length(max=5000)])

    criterion_fields: list[tuple[Criterion, RadioField]]

    @classmethod
    def for_version(cls, version: ScorecardVersion, **kwargs) -> ReviewForm:
        class Form(cls):
            pass

        for criterion in version.criteria:
            choices = [SelectChoice(str(v), str(v)) for v in criterion.scale]
            choices.append(SelectChoice(NOT_APPLICABLE, _l("Not applicable")))
            field = RadioField(criterion.title, choices=choices, validate_choice=False)
            setattr(Form, f"c{criterion.id}", field)
        form = Form(**kwargs)
        form.criterion_fields = [(c, form[f"c{c.id}"]) for c in version.criteria]
        return form

    def values(self) -> dict[int, int | None]:
        """The answered criteria: a value, or None for not applicable."""
        answered: dict[int, int | None] = {}
        for criterion, field in self.criterion_fields:
            if field.data == NOT_APPLICABLE:
                answered[criterion.id] = None
            elif field.data not in (None, "", "None"):
                answered[criterion.id] = int(field.data)
        return answered

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for criterion, field in self.criterion_fields:
            allowed = {str(v) for v in criterion.scale} | {NOT_APPLICABLE, "None", ""}
            if field.data is not None and field.data not in allowed:
                field.errors = [*field.errors, _l("Choose a value on the scale.")]
                ok = False
        return ok

    def unanswered(self) -> list[Criterion]:
        answered = self.values()
        return [c for c, _field in self.criterion_fields if c.id not in answered]


class CommentForm(FlaskForm):
    """A comment, pinned to a moment of the recording or not."""

    moment = StringField(_l("Moment (min:s)"), validators=[Optional(), Length(max=12)])
    body = TextAreaField(
        _l("Comment"), validators=[InputRequired(_l("Write the comment.")), Length(max=2000)]
    )

    duration_s: int = 0
    at_ms: int | None = None

    def validate_moment(self, field: StringField) -> None:
        self.at_ms = parse_moment(field.data)
        if self.at_ms is None:
            raise ValidationError(_l("Write the moment as minutes and seconds, e.g. 1:25."))
        if self.at_ms > self.duration_s * 1000:
            raise ValidationError(_l("The recording is not that long."))


class TrainingForm(FlaskForm):
    title = StringField(
        _l("What the call teaches"),
        validators=[InputRequired(_l("Give the call a title.")), Length(max=255)],
    )
