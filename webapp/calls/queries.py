"""The call list: filters and keyset pagination on top of what the policy lets a user see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_

from webapp.calls.forms import CallFilterForm
from webapp.models import Call

LOCAL = ZoneInfo("Europe/Helsinki")


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's start time and id, newest first."""

    started_at: datetime
    id: int

    def encode(self) -> str:
        micros = int(self.started_at.timestamp() * 1_000_000)
        return f"{micros}.{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            micros, call_id = text.split(".", 1)
            started = datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)
            return cls(started, int(call_id))
        except (ValueError, OverflowError, OSError):
            return None


def local_day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL).astimezone(UTC)


def apply_filters(query: Select, form: CallFilterForm, may_filter_agent: bool) -> Select:
    f = form
    if f.from_.data:
        query = query.where(Call.started_at >= local_day_start(f.from_.data))
    if f.to.data:  # inclusive: the whole of the last day, in Helsinki time
        query = query.where(Call.started_at < local_day_start(f.to.data + timedelta(days=1)))
    if f.service.data:
        query = query.where(Call.service_id == int(f.service.data))
    if may_filter_agent and f.agent.data:
        query = query.where(Call.agent_id == int(f.agent.data))
    if f.phone.data and f.phone_e164:
        query = query.where(Call.phone_e164 == f.phone_e164)
    if f.min_duration.data is not None:
        query = query.where(Call.duration_s >= f.min_duration.data)
    if f.max_duration.data is not None:
        query = query.where(Call.duration_s <= f.max_duration.data)
    if f.direction.data:
        query = query.where(Call.direction == f.direction.data)
    return query


def page(query: Select, after: Cursor | None, size: int) -> Select:
    """One page, newest first, starting after the cursor. Fetches one row more than a page so
    that the caller knows whether there is a next one."""
    if after is not None:
        # (started_at, id) < the cursor's, written so that started_at <= … bounds the index
        # range; the OR then only decides among the rows that share the cursor's instant.
        query = query.where(
            Call.started_at <= after.started_at,
            or_(Call.started_at < after.started_at, Call.id < after.id),
        )
    return query.order_by(Call.started_at.desc(), Call.id.desc()).limit(size + 1)
