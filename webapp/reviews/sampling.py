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
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import months
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import Call, Register, RegisterPurpose, ReviewRound, Service
from webapp.retention import add_months

EXCLUDING = ("objection", "restriction")


def bounds(first: date) -> tuple[datetime, datetime]:
    """The month in Finland, as UTC instants: its first moment and the next month's."""
    since, until = months.starts([first, add_months(first, 1)])
    return since, until


def seed_of(first: date) -> str:
    """The month's seed, made now if this is the first time anyone asks (two workers asking
    at once agree on the one that was stored first)."""
    month = months.label(first)
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
        select(
            Call.id,
            Call.agent_id,
            Service.register_id,
            Register.review_sample_size,
            Call.customer_id,
        )
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
    looked_up: set[int] = set()  # customers whose flags are known, and of them ...
    excluded: set[int] = set()  # ... those who object or are restricted
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
        new = {c for part in batch.values() for _, _, c in part if c} - looked_up
        excluded |= excluded_customers(new, day)
        looked_up |= new
        for key, part in batch.items():
            sample.calls[key] += [i for _, i, c in part if c not in excluded]


def _exclusion(state: dict) -> str | None:
    """Of a customer's flags on a day (``flags.state_at``), the one that keeps their calls
    out of sampling, review and training, or None."""
    return next((kind for kind in EXCLUDING if flags.in_force(state[kind])), None)


def excluded_customers(customer_ids: set[int], day: date) -> set[int]:
    """Those of these customers whose calls may not be sampled, reviewed or used for
    training on that day."""
    if not customer_ids:
        return set()
    states = flags.states_at(customer_ids, day)
    return {customer_id for customer_id, state in states.items() if _exclusion(state)}


def excluded_customer(customer_id: int | None, day: date | None = None) -> str | None:
    """Why a call of this customer may not be sampled, reviewed or used for training
    (``objection`` or ``restriction``), or None."""
    if customer_id is None:
        return None
    return _exclusion(flags.state_at(customer_id, day or flags.today()))
