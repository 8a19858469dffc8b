"""The /stats filters: a period of whole months in Finnish time, and a register."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from wtforms import Form, SelectField
from wtforms.fields import MonthField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from webapp.months import starts, this_month
from webapp.retention import add_months

# Two years is more than any register keeps its calls, and as many months as a chart can label.
MAX_MONTHS = 24
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Period:
    """Whole months, from the first day of ``first`` to the end of ``last``, in Helsinki."""

    first: date
    last: date

    @property
    def months(self) -> list[date]:
        count = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
        return [add_months(self.first, i) for i in range(count)]

    @property
    def bounds(self) -> list[datetime]:
        """The UTC instants at which each month begins, and the one at which the last ends."""
        return starts([*self.months, add_months(self.last, 1)])


class StatsFilterForm(Form):
    """Read from the query string (GET: it changes nothing)."""

    from_ = MonthField(
        _l("From month"),
        name="from",
        validators=[Optional()],
        invalid_value_message=_l("Enter the month as YYYY-MM, for example 2026-03."),
    )
    to = MonthField(
        _l("To month"),
        validators=[Optional()],
        invalid_value_message=_l("Enter the month as YYYY-MM, for example 2026-03."),
    )
    register = SelectField(_l("Register"), validators=[Optional()])

    period: Period | None = None

    def set_registers(self, registers: list[tuple[int, str]]) -> None:
        self.register.choices = [SelectChoice("", _l("All registers"))] + [
            SelectChoice(str(id_), name) for id_, name in registers
        ]

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        last = self.to.data or this_month()
        first = self.from_.data or add_months(last, 1 - DEFAULT_MONTHS)
        if first > last:
            self.to.errors.append(_l("The end month is before the start month."))
            return False
        period = Period(first, last)
        if len(period.months) > MAX_MONTHS:
            self.to.errors.append(_l("A period is at most %(months)d months.", months=MAX_MONTHS))
            return False
        self.period = period
        return True

    @property
    def register_id(self) -> int | None:
        return int(self.register.data) if self.register.data else None

    def filters(self) -> dict[str, str]:
        """The filters in effect, as query parameters: for the CSV links and the audit trail."""
        assert self.period is not None
        chosen = {"from": f"{self.period.first:%Y-%m}", "to": f"{self.period.last:%Y-%m}"}
        return chosen | ({"register": self.register.data} if self.register.data else {})
