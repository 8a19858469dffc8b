"""The charts' geometry, for templates/stats/_charts.html to draw as inline SVG: drawn by the
app itself, no script and no style attribute (the CSP allows neither). A suppressed cell is
drawn as a hatched mark of one fixed size, never as a bar or a point whose place tells its
value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from math import ceil

from babel.dates import format_skeleton
from flask_babel import get_locale

from webapp.stats.figures import Statistic, shown

WIDTH = 640
CHAR = 7  # the width of a character of the 12px labels, about (a little more)
ROW, BAR = 24, 16
VALUE_ROOM = 80
LABEL_CHARS = 34  # a longer label is cut short (its bar's tooltip and the table have it all)
# Each at least 4.5:1 against white (WCAG 2.1 AA asks 3:1 of graphics); lines also differ in
# their dashes, for whoever does not tell the colours apart.
PALETTE = ("#0b5394", "#a4000f", "#1e6b2f", "#7a4500", "#6a1b9a", "#00636e", "#a3004f", "#4d4d4d")
DASHES = ("", "7 4", "2 3", "10 3 2 3")
STRIP_CHARS = 20
MONTH_LABELS = 12  # at most; with more months, every second (or third) one is labelled


@dataclass(frozen=True)
class Bar:
    y: float
    label: str
    title: str  # the full label and value, for a pointer held over it
    width: float
    text: str
    suppressed: bool


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    width: int
    height: int
    label_width: int
    bars: list[Bar]


def _cut(label: str, most: int) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def bar_chart(statistic: Statistic) -> BarChart:
    """Horizontal bars, one a row, longest for the largest value shown."""
    longest = min(LABEL_CHARS, max((len(r.label) for r in statistic.rows), default=0))
    label_width = max(48, ceil(CHAR * longest) + 12)
    room = WIDTH - label_width - VALUE_ROOM
    values = [r.cell.value or 0 for r in statistic.rows]
    scale = room / max(values) if any(values) else 0
    bars = []
    for i, row in enumerate(statistic.rows):
        text = shown(row.cell, statistic.kind)
        bars.append(
            Bar(
                y=i * ROW + (ROW - BAR) / 2,
                label=_cut(row.label, LABEL_CHARS),
                title=f"{row.label}: {text}",
                width=round((row.cell.value or 0) * scale, 1),
                text=text,
                suppressed=row.cell.suppressed,
            )
        )
    return BarChart(
        f"chart-{statistic.name}",
        statistic.title,
        WIDTH,
        len(bars) * ROW + 4,
        label_width,
        bars,
    )


@dataclass(frozen=True)
class Series:
    label: str
    short: str  # for the row of months not shown, left of the chart
    colour: str
    dash: str
    segments: list[str]  # polyline points, one string a run of months with a value
    points: list[tuple[float, float, str]]  # x, y, title
    hidden: list[tuple[float, str]]  # x, title: the months not shown
    hidden_y: float  # the series' row under the chart for them


@dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    ticks: list[tuple[float, str]]  # y, label
    months: list[tuple[float, str]]  # x, label (of those labelled)
    series: list[Series]
    strip: int  # where the rows of months not shown begin, one a series that has any


def month_label(month: date) -> str:
    return format_skeleton("yM", month, locale=get_locale())


def month_name(month: date) -> str:
    return format_skeleton("yMMMM", month, locale=get_locale())


def line_chart(statistic: Statistic) -> LineChart:
    """Lines over months on a 0–100 % scale, a point at every month shown."""
    months = statistic.months
    # Room on the left for the y axis, and for the names of the rows of months not shown.
    hiding = [len(line.label) for line in statistic.lines if any(c.suppressed for c in line.cells)]
    left = max(48, ceil(CHAR * min(STRIP_CHARS, max(hiding, default=0))) + 18)
    top, right, bottom = 10, WIDTH - 28, 210
    step = (right - left) / max(1, len(months) - 1)

    def x(i: int) -> float:
        return round(left + i * step if len(months) > 1 else (left + right) / 2, 1)

    def y(value: float) -> float:
        return round(bottom - value / 100 * (bottom - top), 1)

    strip = bottom + 44
    series = []
    for n, line in enumerate(statistic.lines):
        runs: list[list[str]] = [[]]
        points, hidden = [], []
        for i, cell in enumerate(line.cells):
            about = f"{line.label}, {month_label(months[i])}: {shown(cell, statistic.kind)}"
            if cell.value is None:
                runs.append([])
                if cell.suppressed:
                    hidden.append((x(i), about))
                continue
            runs[-1].append(f"{x(i)},{y(cell.value)}")
            points.append((x(i), y(cell.value), about))
        series.append(
            Series(
                line.label,
                _cut(line.label, STRIP_CHARS),
                PALETTE[n % len(PALETTE)],
                DASHES[(n // len(PALETTE) + n) % len(DASHES)],
                [" ".join(run) for run in runs if len(run) > 1],
                points,
                hidden,
                strip + 10 + 16 * sum(1 for s in series if s.hidden),
            )
        )
    every = ceil(len(months) / MONTH_LABELS)
    labelled = [(x(i), month_label(m)) for i, m in enumerate(months) if i % every == 0]
    rows = sum(1 for s in series if s.hidden)
    return LineChart(
        f"chart-{statistic.name}",
        statistic.title,
        WIDTH,
        strip + (rows * 16 + 10 if rows else -20),
        left,
        top,
        right,
        bottom,
        [(y(v), f"{v}\u00a0%") for v in (0, 25, 50, 75, 100)],
        labelled,
        series,
        strip,
    )
