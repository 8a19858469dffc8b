"""The statistics of /stats (SPEC §7), cell by cell, as the page, its charts and the CSV files
all show them: none names a customer or an agent, only registers, services and teams.

What is not shown. A count or an average built from fewer than ``MIN_CELL`` calls, and a
quality score built from fewer than ``MIN_CELL`` reviews or agents, is suppressed: the cell says
so and carries no number. Zero counts are shown as 0: no call is no one, and a blank would
make every quiet night hour look like a few hidden calls.

Every count statistic divides the same calls, so its total can be read off any other one
(the registers' bars add up to the hours' bars): one hidden cell would be that total minus the
cells shown. So a statistic that hides a cell hides the next smallest ones with it until at
least two are hidden and together they are at least ``MIN_CELL`` calls; and a service is hidden
with its register likewise, since a register's calls are its services' calls. The page shows no
totals at all. Averages and scores are shown without their counts, so no sum can be rebuilt
from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from itertools import pairwise

from babel.dates import get_day_names
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Row

from webapp.customers.flags import LOCAL
from webapp.i18n import duration
from webapp.stats import queries
from webapp.stats.forms import Period

MIN_CELL = 5


@dataclass(frozen=True)
class Cell:
    value: float | None  # None: suppressed, or nothing to show (no calls, no reviews)
    suppressed: bool = False


HIDDEN = Cell(None, suppressed=True)
EMPTY = Cell(None)


@dataclass(frozen=True)
class Bar:
    """A bar: its CSV key columns, its label, its cell."""

    keys: tuple[object, ...]
    label: str
    cell: Cell


@dataclass(frozen=True)
class Line:
    """A line over the period's months: its CSV key columns, its label, a cell a month."""

    keys: tuple[object, ...]
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Statistic:
    name: str
    title: str
    note: str
    key_heading: str  # the table's first column
    value_heading: str
    key_columns: tuple[str, ...]  # the CSV's
    value_column: str
    kind: str  # count, duration (seconds) or percent
    rows: tuple[Bar, ...] = ()
    lines: tuple[Line, ...] = ()
    months: tuple[date, ...] = field(default=())


def hidden_counts(counts: Sequence[int]) -> set[int]:
    """The cells not shown of counts that divide one set of calls between them (see above)."""
    hidden = {i for i, n in enumerate(counts) if 0 < n < MIN_CELL}
    spare = sorted((n, i) for i, n in enumerate(counts) if n >= MIN_CELL)
    while hidden and spare and (len(hidden) < 2 or sum(counts[i] for i in hidden) < MIN_CELL):
        hidden.add(spare.pop(0)[1])
    return hidden


def count_cells(counts: Sequence[int], hidden: set[int]) -> list[Cell]:
    return [HIDDEN if i in hidden else Cell(n) for i, n in enumerate(counts)]


def score_cell(average: float, reviews: int, agents: int) -> Cell:
    if reviews < MIN_CELL or agents < MIN_CELL:
        return HIDDEN
    return Cell(round(float(average), 1))


def shown(cell: Cell, kind: str) -> str:
    """A cell as the page writes it; a suppressed one as a dash (the page says what it means)."""
    if cell.suppressed:
        return "–"
    if cell.value is None:
        return ""
    if kind == "duration":
        return duration(round(cell.value))
    if kind == "percent":
        return f"{format_decimal(cell.value, format='#,##0.0')}\u00a0%"
    return format_decimal(int(cell.value))


def csv_value(cell: Cell, kind: str) -> object:
    if cell.value is None:
        return ""
    return f"{cell.value:.1f}" if kind == "percent" else round(cell.value)


class Figures:
    """The statistics of one period and register (None: all), each computed when first
    asked for; the queries that several share run once."""

    NAMES = (
        "registers",
        "services",
        "hours",
        "weekdays",
        "durations",
        "service_durations",
        "team_scores",
        "criterion_scores",
    )

    def __init__(self, period: Period, register_id: int | None) -> None:
        self.period = period
        self.register_id = register_id

    def statistic(self, name: str) -> Statistic:
        return getattr(self, name)()

    def all(self) -> list[Statistic]:
        return [self.statistic(name) for name in self.NAMES]

    @cached_property
    def _services(self) -> list[Row]:
        return queries.services(self.register_id)

    @cached_property
    def _per_service(self) -> dict[int, tuple[int, int]]:
        return queries.per_service(self.period, self.register_id)

    def _calls_of(self, service) -> int:
        return self._per_service.get(service.id, (0, 0))[0]

    @cached_property
    def _registers(self) -> list[tuple[Row, int]]:
        calls: dict[int, int] = defaultdict(int)
        for service in self._services:
            calls[service.register_id] += self._calls_of(service)
        return [(register, calls[register.id]) for register in queries.registers(self.register_id)]

    @cached_property
    def _local_hours(self) -> list[tuple[int, int, int]]:
        """(local hour, ISO weekday, calls) of each UTC hour with calls: Helsinki is a whole
        number of hours from UTC, so each UTC hour is one local hour, summer or winter."""
        found = []
        for hour, calls in queries.per_utc_hour(self.period, self.register_id):
            local = hour.astimezone(LOCAL)
            found.append((local.hour, local.isoweekday(), calls))
        return found

    def _counts(
        self, name: str, rows: list[tuple[tuple, str, int]], hidden: set[int] | None = None, **about
    ) -> Statistic:
        counts = [n for *_, n in rows]
        cells = count_cells(counts, hidden_counts(counts) if hidden is None else hidden)
        return Statistic(
            name,
            value_heading=_("Calls"),
            value_column="calls",
            kind="count",
            rows=tuple(Bar(k, label, c) for (k, label, _n), c in zip(rows, cells, strict=True)),
            **about,
        )

    def registers(self) -> Statistic:
        rows = [((r.code, r.name), r.name, calls) for r, calls in self._registers]
        return self._counts(
            "registers",
            rows,
            title=_("Calls per register"),
            note=_("Calls that began in the period, by the register that keeps them."),
            key_heading=_("Register"),
            key_columns=("register_code", "register"),
        )

    def services(self) -> Statistic:
        """Hidden within each register's services, and one more in a hidden register's: a
        register's count is the sum of its services'."""
        shown_registers = zip(self._registers, self.registers().rows, strict=True)
        hidden_registers = {r.id for (r, _calls), row in shown_registers if row.cell.suppressed}
        counts = [self._calls_of(service) for service in self._services]
        hidden: set[int] = set()
        for register, _calls in self._registers:
            members = [i for i, s in enumerate(self._services) if s.register_id == register.id]
            found = {members[i] for i in hidden_counts([counts[i] for i in members])}
            used = sorted((counts[i], i) for i in members if counts[i])
            if register.id in hidden_registers and used and not found:
                found.add(used[0][1])
            hidden |= found
        codes = {r.id: r.code for r, _calls in self._registers}
        rows = [
            ((s.code, s.name, codes[s.register_id]), s.name, n)
            for s, n in zip(self._services, counts, strict=True)
        ]
        return self._counts(
            "services",
            rows,
            hidden,
            title=_("Calls per service"),
            note=_("Calls that began in the period, by the service or queue they came to."),
            key_heading=_("Service"),
            key_columns=("service_code", "service", "register_code"),
        )

    def hours(self) -> Statistic:
        counts = [0] * 24
        for hour, _day, calls in self._local_hours:
            counts[hour] += calls
        rows = [((h,), f"{h:02d}–{(h + 1) % 24:02d}", n) for h, n in enumerate(counts)]
        return self._counts(
            "hours",
            rows,
            title=_("Calls per hour of day"),
            note=_("By the hour in which the call began, in Finnish time."),
            key_heading=_("Hour"),
            key_columns=("hour",),
        )

    def weekdays(self) -> Statistic:
        counts = [0] * 7
        for _hour, day, calls in self._local_hours:
            counts[day - 1] += calls
        names = get_day_names("wide", context="stand-alone", locale=get_locale())
        rows = [((d + 1, names[d]), names[d].capitalize(), n) for d, n in enumerate(counts)]
        return self._counts(
            "weekdays",
            rows,
            title=_("Calls per weekday"),
            note=_("By the day on which the call began, in Finnish time."),
            key_heading=_("Weekday"),
            key_columns=("weekday", "name"),
        )

    def durations(self) -> Statistic:
        per_band = queries.per_band(self.period, self.register_id)
        limits = [0, *queries.BAND_LIMITS, None]
        rows = []
        for i, (low, high) in enumerate(pairwise(limits)):
            label = str(BAND_LABELS[i])
            rows.append(((label, low, high or ""), label, per_band.get(i, 0)))
        return self._counts(
            "durations",
            rows,
            title=_("Calls per duration"),
            note=_("How long the calls lasted."),
            key_heading=_("Duration"),
            key_columns=("band", "from_seconds", "below_seconds"),
        )

    def service_durations(self) -> Statistic:
        rows = []
        for service in self._services:
            calls, seconds = self._per_service.get(service.id, (0, 0))
            cell = EMPTY if not calls else HIDDEN if calls < MIN_CELL else Cell(seconds / calls)
            rows.append(Bar((service.code, service.name), service.name, cell))
        return Statistic(
            "service_durations",
            title=_("Average duration per service"),
            note=_("The average length of a service's calls (minutes:seconds)."),
            key_heading=_("Service"),
            value_heading=_("Average duration"),
            key_columns=("service_code", "service"),
            value_column="average_seconds",
            kind="duration",
            rows=tuple(rows),
        )

    def _lines(self, found: dict[tuple, dict[int, Cell]], labels: dict[tuple, str]):
        months = len(self.period.months)
        return tuple(
            Line(key, labels[key], tuple(cells.get(i, EMPTY) for i in range(months)))
            for key, cells in found.items()
        )

    def team_scores(self) -> Statistic:
        found: dict[tuple, dict[int, Cell]] = defaultdict(dict)
        for team, month, average, reviews, agents in queries.team_scores(
            self.period, self.register_id
        ):
            found[(team or "",)][month] = score_cell(average, reviews, agents)
        ordered = dict(sorted(found.items(), key=lambda kv: (kv[0][0] == "", kv[0][0])))
        labels = {key: key[0] or _("no team") for key in ordered}
        return Statistic(
            "team_scores",
            title=_("Quality score per team"),
            note=_(
                "The average score of published reviews, in per cent, by the agent's team and "
                "the month of the call. Not shown: a month of fewer than %(n)d reviews or "
                "agents.",
                n=MIN_CELL,
            ),
            key_heading=_("Team"),
            value_heading=_("Average score"),
            key_columns=("team",),
            value_column="average_score_percent",
            kind="percent",
            lines=self._lines(ordered, labels),
            months=tuple(self.period.months),
        )

    def criterion_scores(self) -> Statistic:
        found: dict[tuple, dict[int, Cell]] = defaultdict(dict)
        order: dict[tuple, int] = {}
        for (
            card,
            section,
            title,
            position,
            month,
            share,
            reviews,
            agents,
        ) in queries.criterion_scores(self.period, self.register_id):
            key = (card, section, title)
            found[key][month] = score_cell(100 * share, reviews, agents)
            order[key] = min(order.get(key, position), position)
        ordered = dict(sorted(found.items(), key=lambda kv: (kv[0][0], order[kv[0]], kv[0])))
        labels = {key: " – ".join(key) for key in ordered}
        return Statistic(
            "criterion_scores",
            title=_("Quality score per criterion"),
            note=_(
                "How high on its scale each criterion was scored in published reviews, on "
                "average, in per cent, by the month of the call. Not shown: a month of fewer "
                "than %(n)d reviews or agents.",
                n=MIN_CELL,
            ),
            key_heading=_("Criterion"),
            value_heading=_("Average"),
            key_columns=("scorecard", "section", "criterion"),
            value_column="average_share_percent",
            kind="percent",
            lines=self._lines(ordered, labels),
            months=tuple(self.period.months),
        )


BAND_LABELS = (
    _l("under 1 min"),
    _l("1–3 min"),
    _l("3–5 min"),
    _l("5–10 min"),
    _l("10–20 min"),
    _l("20 min or more"),
)
