"""What the attention list reads out of hourly counts: a user whose day is far above their own
usual, and access outside working hours. The trail is counted per user and UTC hour in the
database (the indexes keep that to the days asked for), and the hours are put into local days
here, since SQLite knows no time zones."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from audit import Outcome, events

# Deliberate acts: opening a call's page and exporting it. A playback is counted by its page,
# since one playback with seeking is many Range requests.
OPENED = ("call.view", "call.export")
ACCESSED = ("call.view", "call.play", "call.export")
BASELINE_DAYS = 90
# A day stands out when it is VOLUME_FACTOR times the user's usual day and VOLUME_MARGIN more;
# with fewer than MIN_BASELINE_DAYS of history, when it reaches NEW_USER_DAY.
VOLUME_FACTOR = 3
VOLUME_MARGIN = 10
MIN_BASELINE_DAYS = 5
NEW_USER_DAY = 50


class utc_hour(FunctionElement):
    """The UTC hour an event falls in, as ``YYYY-MM-DD HH`` text on either database."""

    type = String()
    inherit_cache = True


@compiles(utc_hour, "sqlite")
def _sqlite_hour(element, compiler, **kw) -> str:
    # SQLite keeps the instant as UTC text: its first 13 characters are the hour.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 13)"


@compiles(utc_hour, "postgresql")
def _postgresql_hour(element, compiler, **kw) -> str:
    return (
        f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
    )


@dataclass(frozen=True)
class WorkingTime:
    hours: tuple[int, int]  # local, whole hours, the end not included
    days: frozenset[int]  # ISO weekdays, Monday 1

    def covers(self, local: datetime) -> bool:
        return local.isoweekday() in self.days and self.hours[0] <= local.hour < self.hours[1]


@dataclass(frozen=True)
class BusyDay:
    day: date
    actor_id: int
    opened: int
    usual: float | None  # the median of the user's active days before; None: too little history


@dataclass(frozen=True)
class OffHours:
    start: datetime  # local, the hour's beginning
    actor_id: int
    events: int


def hourly(session: Session, actions: tuple[str, ...], start: datetime, stop: datetime):
    """(actor id, UTC hour, events) for the allowed ``actions`` between two instants."""
    hour = utc_hour(events.c.occurred_at)
    query = (
        select(events.c.actor_id, hour, func.count())
        .where(
            events.c.occurred_at >= start,
            events.c.occurred_at < stop,
            events.c.action.in_(actions),
            events.c.outcome == str(Outcome.ALLOWED),
            events.c.actor_id.is_not(None),
        )
        .group_by(events.c.actor_id, hour)
    )
    for actor_id, text, count in session.execute(query):
        yield actor_id, datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC), count


def busy_days(session: Session, start: datetime, stop: datetime, zone: tzinfo) -> list[BusyDay]:
    """Days since ``start`` on which a user opened far more calls than they usually do."""
    recent: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    before: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    baseline_start = start - timedelta(days=BASELINE_DAYS)
    for actor_id, hour, count in hourly(session, OPENED, baseline_start, stop):
        days = recent if hour >= start else before
        days[actor_id][hour.astimezone(zone).date()] += count
    found = []
    for actor_id, days in recent.items():
        history = list(before[actor_id].values())
        usual = statistics.median(history) if len(history) >= MIN_BASELINE_DAYS else None
        bar = NEW_USER_DAY if usual is None else max(VOLUME_FACTOR * usual, usual + VOLUME_MARGIN)
        found += [BusyDay(d, actor_id, n, usual) for d, n in days.items() if n >= bar]
    return sorted(found, key=lambda b: (b.day, b.opened), reverse=True)


def off_hours(
    session: Session, start: datetime, stop: datetime, zone: tzinfo, working: WorkingTime
) -> list[OffHours]:
    """Hours since ``start``, outside working time, in which a user opened or played calls."""
    found = []
    for actor_id, hour, count in hourly(session, ACCESSED, start, stop):
        local = hour.astimezone(zone)
        if not working.covers(local):  # working hours begin and end on the hour
            found.append(OffHours(local, actor_id, count))
    return sorted(found, key=lambda o: o.start, reverse=True)
