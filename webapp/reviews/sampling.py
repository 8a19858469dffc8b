"""The monthly review queue: for each agent and register, a sample of the agent's calls of the
month, as many as the register's sample size, so that every agent is reviewed alike.

The sample is random and reproducible: a call's place in the draw is the keyed hash (BLAKE2b, a
MAC) of its id under the month's seed (``ReviewRound``, made the first time anyone opens the
month's queue, and kept), and each agent's sample is the calls that come first in the draw.
Drawn again, from the same seed, the sample is the same; nobody can tell beforehand which calls
it will take, since the seed does not exist until the month's queue is first opened.

What it leaves out: calls of a register whose purposes exclude quality assurance, or that has
no scorecard or a sample size of 0; calls without an agent; and calls of customers who object
to the processing (GDPR Art. 21) or have restricted it (Art. 18) on the day it is drawn. A
call left out makes room for the next one in the draw.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.customers import flags
from webapp.extensions import db
from webapp.models import Call, Register, RegisterPurpose, ReviewRound, Service

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
EXCLUDING = ("objection", "restriction")


def parse_month(text: str | None) -> date | None:
    """The first day of a month written 2026-11, or None for anything else."""
    match = MONTH.match(text or "")
    return date(int(match[1]), int(match[2]), 1) if match else None


def month_label(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def bounds(first: date) -> tuple[datetime, datetime]:
    """The month in Finland, as UTC instants: its first moment and the next month's."""

    def start(day: date) -> datetime:
        return datetime(day.year, day.month, 1, tzinfo=flags.LOCAL).astimezone(UTC)

    return start(first), start(next_month(first))


def seed_of(first: date) -> str:
    """The month's seed, made now if this is the first time anyone asks (two workers asking
    at once agree on the one that was stored first)."""
    month = month_label(first)
    stored = db.session.get(ReviewRound, month)
    if stored is not None:
        return stored.seed
    db.session.add(ReviewRound(month=month, seed=secrets.token_hex(32)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return db.session.get(ReviewRound, month).seed


def place(seed: str) -> Callable[[int], bytes]:
    """A call's place in the month's draw: the keyed BLAKE2b (a MAC) of its id under the
    seed."""
    keyed = hashlib.blake2b(key=bytes.fromhex(seed), digest_size=16)

    def of(call_id: int) -> bytes:
        h = keyed.copy()
        h.update(str(call_id).encode())
        return h.digest()

    return of


@dataclass
class Sample:
    """A month's sample: call ids by (agent id, register id), in the order drawn, and how many
    calls each agent answered there."""

    calls: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    answered: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def call_ids(self) -> set[int]:
        return {call_id for ids in self.calls.values() for call_id in ids}


def draw(first: date, seed: str, day: date | None = None) -> Sample:
    """The sample of the month that begins on ``first``, drawn with ``seed``; customers'
    objections and restrictions as they are on ``day`` (today in Finland by default)."""
    day = day or flags.today()
    since, until = bounds(first)
    quality = select(RegisterPurpose.register_id).where(RegisterPurpose.purpose_code == "quality")
    rows = db.session.connection().execute(
        select(Call.id, Call.agent_id, Service.register_id, Register.review_sample_size)
        .add_columns(Call.customer_id)
        .join(Service, Call.service_id == Service.id)
        .join(Register, Service.register_id == Register.id)
        .where(
            Call.started_at >= since,
            Call.started_at < until,
            Call.agent_id.is_not(None),
            Register.review_sample_size > 0,
            Register.scorecard_id.is_not(None),
            Register.id.in_(quality),
        )
    )
    of = place(seed)
    groups: dict[tuple[int, int], list[tuple[bytes, int, int | None]]] = defaultdict(list)
    sizes: dict[tuple[int, int], int] = {}
    for call_id, agent_id, register_id, size, customer_id in rows:
        groups[agent_id, register_id].append((of(call_id), call_id, customer_id))
        sizes[agent_id, register_id] = size
    for candidates in groups.values():
        candidates.sort()
    sample = Sample(
        calls={key: [] for key in sorted(groups)},
        answered={key: len(groups[key]) for key in groups},
    )
    taken = dict.fromkeys(groups, 0)  # how far down its draw each group has looked
    excluded: dict[int, bool] = {}  # customer id: objects or restricted
    while True:
        # Every group short of its size looks at just enough further calls to fill it; the
        # customers of all of them are looked up together.
        batch = {}
        for key, candidates in groups.items():
            wanted = sizes[key] - len(sample.calls[key])
            if wanted > 0 and taken[key] < len(candidates):
                batch[key] = candidates[taken[key] : taken[key] + wanted]
                taken[key] += len(batch[key])
        if not batch:
            return sample
        _look_up(excluded, {c for part in batch.values() for _, _, c in part if c}, day)
        for key, part in batch.items():
            sample.calls[key] += [i for _, i, c in part if not excluded.get(c, False)]


def _look_up(excluded: dict[int, bool], customer_ids: set[int], day: date) -> None:
    new = customer_ids - set(excluded)
    if not new:
        return
    for customer_id, state in flags.states_at(new, day).items():
        excluded[customer_id] = any(flags.in_force(state[kind]) for kind in EXCLUDING)


def excluded_customer(customer_id: int | None, day: date | None = None) -> str | None:
    """Why a call of this customer may not be sampled, reviewed or used for training
    (``objection`` or ``restriction``), or None."""
    if customer_id is None:
        return None
    state = flags.state_at(customer_id, day or flags.today())
    return next((kind for kind in EXCLUDING if flags.in_force(state[kind])), None)
