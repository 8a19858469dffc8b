"""Calendar months as they are in Finland: what the review queue draws by and the statistics
count by. A month is the date of its first day; ``retention.add_months`` steps between them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from webapp.customers.flags import LOCAL, today

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def this_month() -> date:
    return today().replace(day=1)


def parse(text: str | None) -> date | None:
    """The month written 2026-11, or None for anything else."""
    match = _MONTH.match(text or "")
    return date(int(match[1]), int(match[2]), 1) if match else None


def label(month: date) -> str:
    return f"{month:%Y-%m}"


def starts(months: Iterable[date]) -> list[datetime]:
    """The UTC instants at which these months begin in Finland."""
    return [datetime(m.year, m.month, 1, tzinfo=LOCAL).astimezone(UTC) for m in months]
