"""Calls brought in from phone systems: each recording checked and sealed, each call written
once. A run can be stopped at any moment: what was committed is whole, a sealed file without
its call opens for no one (its data key was never stored) and `tallenne storage check --repair`
removes it, and a re-run skips what is already there."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import select

from webapp.extensions import db
from webapp.importers import wav
from webapp.importers.entry import Entry, Later, Rejected
from webapp.models import Call, CustomerPhone, Service, User
from webapp.storage import storage

BATCH = 100


@dataclass
class Summary:
    imported: int = 0
    skipped: int = 0  # already imported, by an earlier run or earlier in the same file
    rejected: list[tuple[int, str]] = field(default_factory=list)  # line, reason
    audio_bytes: int = 0


def lookups() -> tuple[dict[str, int], dict[str, int]]:
    """Services by code and users by username."""
    services = dict(db.session.execute(select(Service.code, Service.id)).tuples().all())
    users = dict(db.session.execute(select(User.username, User.id)).tuples().all())
    return services, users


def import_entries(
    items: Iterable[tuple[int, Callable[[], Entry]]],
    *,
    limit: int,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    """Each item is where it came from (a line) and how to check it into an Entry; a Rejected
    or a bad recording is counted with its reason, and the rest are sealed and written, a
    batch to a commit."""
    summary = Summary()
    seen: set[str] = set()
    for batch in batched(items, BATCH):
        known = [e.external_id for _line, e in batch if isinstance(e, Later)]
        if known:
            seen |= set(
                db.session.scalars(select(Call.external_id).where(Call.external_id.in_(known)))
            )
        checked = []
        for line, entry_of in batch:
            if isinstance(entry_of, Later) and entry_of.external_id in seen:
                summary.skipped += 1
                continue
            try:
                checked.append((line, entry_of()))
            except Rejected as error:
                summary.rejected.append((line, str(error)))
        # One look-up a batch for what is already there and whose numbers these are.
        ids = [entry.external_id for _line, entry in checked]
        seen |= set(db.session.scalars(select(Call.external_id).where(Call.external_id.in_(ids))))
        customers = customers_of({e.phone_e164 for _line, e in checked if e.phone_e164})
        for line, entry in checked:
            if entry.external_id in seen:
                summary.skipped += 1
                continue
            try:
                data = _recording(entry.recording, limit)
                audio = wav.read(data, limit, suffix=entry.recording.suffix)
                if entry.span is not None:
                    audio = cut(audio, *entry.span)
            except (Rejected, wav.BadRecording) as error:
                summary.rejected.append((line, str(error)))
                continue
            seen.add(entry.external_id)
            summary.imported += 1
            summary.audio_bytes += len(audio.wav)
            if not dry_run:
                store_call(entry, audio, customers.get(entry.phone_e164))
        if not dry_run:
            db.session.commit()
        progress(len(batch))
    return summary


def batched(items: Iterable, size: int) -> Iterator[list]:
    """itertools.batched, which Python 3.11 does not have yet."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def store_call(entry: Entry, audio: wav.Audio, customer_id: int | None) -> Call:
    """The call with its recording sealed in storage, added to the session (the caller
    commits: until then the sealed file opens for no one, since its data key is not stored)."""
    call = Call(
        external_id=entry.external_id,
        started_at=entry.started_at,
        duration_s=round(audio.seconds),
        direction=entry.direction,
        service_id=entry.service_id,
        agent_id=entry.agent_id,
        phone_e164=entry.phone_e164,
        phone_secret=entry.secret,
        customer_id=customer_id,
    )
    call.keep(storage().put(audio.wav, entry.started_at))
    db.session.add(call)
    return call


def cut(audio: wav.Audio, start_s: float, end_s: float | None) -> wav.Audio:
    """The part of a PCM recording from ``start_s`` to ``end_s`` (None: to its end)."""
    with wave.open(io.BytesIO(audio.wav)) as w:
        frame = w.getnchannels() * w.getsampwidth()
        first = min(int(start_s * audio.rate), w.getnframes())
        last = w.getnframes() if end_s is None else min(int(end_s * audio.rate), w.getnframes())
        w.setpos(first)
        frames = w.readframes(max(last - first, 0))
        params = w.getparams()
    if not frames:
        raise wav.BadRecording("this agent's part of the recording is empty")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    return wav.Audio(out.getvalue(), len(frames) / frame / audio.rate, audio.channels, audio.rate)


def already_there(external_id: str) -> int | None:
    """The id of the call imported with this external id, if there is one."""
    return db.session.scalar(select(Call.id).where(Call.external_id == external_id))


def _recording(path: Path, limit: int) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise wav.BadRecording(f"larger than the limit of {limit:,} bytes")
        return path.read_bytes()
    except OSError as error:
        raise Rejected(f"recording: cannot be read ({error.strerror})") from error


def customers_of(phones: set[str]) -> dict[str, int]:
    """Each number's customer, where exactly one customer has that number."""
    if not phones:
        return {}
    owners: dict[str, set[int]] = {}
    query = select(CustomerPhone.phone_e164, CustomerPhone.customer_id).where(
        CustomerPhone.phone_e164.in_(sorted(phones))
    )
    for phone, customer_id in db.session.execute(query):
        owners.setdefault(phone, set()).add(customer_id)
    return {phone: ids.pop() for phone, ids in owners.items() if len(ids) == 1}
