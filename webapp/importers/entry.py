"""What every importer makes of a phone system's record of a call, before its audio is read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


class Rejected(ValueError):
    """One call cannot be imported; the reason names what is wrong, without personal data."""


@dataclass(frozen=True)
class Entry:
    external_id: str
    started_at: datetime  # UTC
    service_id: int
    direction: str
    agent_id: int | None
    phone_e164: str | None
    secret: bool
    recording: Path
    # The part of the recording that is this call's, in seconds (end None: to the end): one
    # recording that spans a transfer is cut where the next agent answered.
    span: tuple[float, float | None] | None = None


@dataclass(frozen=True)
class Later:
    """How to make a call's Entry, with the external id it will have known beforehand, so that
    a call already imported is skipped without making its Entry."""

    external_id: str
    make: Callable[[], Entry]

    def __call__(self) -> Entry:
        return self.make()
