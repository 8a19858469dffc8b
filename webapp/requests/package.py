"""The package that answers an access or portability request (GDPR Art. 15 and 20): one ZIP
with a copy of every recording of the customer (the Finnish DPA has ruled that listening on
site or a summary does not do), the calls' metadata, the customer's data and flag history,
every access to their data, and a SHA-256 manifest over all of it.

Everything but the audio is gathered into memory first, as plain data, so that the audit event
can be committed before the first byte leaves. The ZIP is then streamed: it can be hundreds of
megabytes, and decrypted audio is never written to disk (a spooled temporary file would)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zipfile import ZIP_DEFLATED, ZIP_STORED, ZipFile, ZipInfo
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, or_, select

from audit import events
from webapp import purposes, retention
from webapp.admin.forms import HOLD_REASONS
from webapp.customers import flags
from webapp.extensions import db
from webapp.i18n import LANGUAGES, role_label
from webapp.models import Call, Customer, DataSubjectRequest, Register
from webapp.requests.cases import KIND_LABELS, STATUS_LABELS
from webapp.storage import Recording, RecordingDamaged, RecordingMissing, storage
from webapp.trail.forms import action_label

LOCAL = ZoneInfo("Europe/Helsinki")


@dataclass(frozen=True)
class Audio:
    call_id: int
    recording: Recording
    size: int

    @property
    def name(self) -> str:
        return f"recordings/{self.call_id}.wav"


@dataclass
class Package:
    documents: dict[str, bytes]  # name: content, the README first
    audio: list[Audio]
    counts: dict[str, int] = field(default_factory=dict)


def gather(dsr: DataSubjectRequest, customer: Customer) -> Package:
    """Everything the package holds but the audio itself, in the customer's language."""
    calls = db.session.scalars(
        select(Call).where(Call.customer_id == customer.id).order_by(Call.started_at, Call.id)
    ).all()
    today = flags.today()
    language = customer.language if customer.language in LANGUAGES else "fi"
    with force_locale(language):
        call_rows = [_call(call, today) for call in calls]
        accesses = _accesses(customer.id)
        data = _customer(customer)
        readme = render_template(
            "requests/package_readme.txt",
            dsr=dsr,
            customer=customer,
            calls=len(calls),
            made_on=today,
            contacts=db.session.scalars(
                select(Register.dpo_contact).distinct().order_by(Register.dpo_contact)
            ).all(),
        )
    documents = {
        "README.txt": readme.encode(),
        "calls.json": _json(call_rows),
        "customer.json": _json(data),
        "accesses.json": _json(accesses),
    }
    audio = [Audio(c.id, c.recording, c.recording_bytes) for c in calls]
    counts = {
        "recordings": len(audio),
        "bytes": sum(a.size for a in audio),
        "accesses": len(accesses),
        "flags": len(data["flags"]),
    }
    return Package(documents, audio, counts)


def damaged(package: Package) -> list[int]:
    """The calls whose recording is missing or not the size it was stored at: a package
    without them would not be the complete copy the customer has a right to."""
    bad = []
    for audio in package.audio:
        try:
            size = storage().size(audio.recording)
        except RecordingMissing:
            size = None
        if size != audio.size:
            bad.append(audio.call_id)
    return bad


class _Sink:
    """Where ZipFile writes; what it has written is taken out between entries. It cannot
    seek, so ZipFile writes each entry's sizes after its data."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def stream(package: Package) -> Iterator[bytes]:
    """The ZIP, a piece at a time. A recording found damaged partway raises RecordingDamaged:
    the ZIP then ends without its directory, and no reader takes it for complete."""
    sink = _Sink()
    stamp = datetime.now(LOCAL).timetuple()[:6]
    sums: dict[str, str] = {}
    with ZipFile(sink, "w") as archive:
        for name, content in package.documents.items():
            archive.writestr(_entry(name, stamp, ZIP_DEFLATED), content)
            sums[name] = hashlib.sha256(content).hexdigest()
            yield sink.take()
        for audio in package.audio:
            entry = _entry(audio.name, stamp, ZIP_STORED)
            entry.file_size = audio.size  # so that ZipFile knows whether it needs ZIP64
            digest = hashlib.sha256()
            with archive.open(entry, "w") as out:
                for chunk in storage().read_range(audio.recording, 0, audio.size):
                    digest.update(chunk)
                    out.write(chunk)
                    yield sink.take()
            sums[audio.name] = digest.hexdigest()
            yield sink.take()
        manifest = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
        archive.writestr(_entry("MANIFEST.sha256", stamp, ZIP_DEFLATED), manifest.encode())
    yield sink.take()


def _entry(name: str, stamp: tuple, compression: int) -> ZipInfo:
    entry = ZipInfo(name, stamp)
    entry.compress_type = compression
    entry.external_attr = 0o644 << 16
    return entry


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _call(call: Call, today: date) -> dict[str, Any]:
    hold = retention.hold_on(call, today)
    return {
        "call": call.id,
        "recording": f"recordings/{call.id}.wav",
        "started_at_utc": _utc(call.started_at),
        "started_at_helsinki": call.started_at.astimezone(LOCAL).isoformat(),
        "duration_seconds": call.duration_s,
        "direction": "inbound" if call.direction == "in" else "outbound",
        "service": call.service.name,
        "register": call.service.register.name,
        "agent": call.agent.display_name if call.agent else None,
        # A secret number's digits were never kept; there is nothing to give.
        "phone_number": None if call.phone_secret else call.phone_e164,
        "secret_number": call.phone_secret,
        "recording_bytes": call.recording_bytes,
        "recording_sha256": call.recording_sha256,
        "kept_until": retention.expires_at(call).astimezone(LOCAL).date().isoformat(),
        # A hold's case reference stays out: it may be an authority's or another party's.
        "legal_hold": _hold(hold),
    }


def _hold(hold) -> dict[str, str | None] | None:
    if hold is None:
        return None
    return {"reason": str(HOLD_REASONS.get(hold.reason, hold.reason)), "until": _day(hold.until)}


def _customer(customer: Customer) -> dict[str, Any]:
    history = db.session.scalars(flags.history(customer.id)).all()
    cases = db.session.scalars(
        select(DataSubjectRequest)
        .where(DataSubjectRequest.customer_id == customer.id)
        .order_by(DataSubjectRequest.received_on, DataSubjectRequest.id)
    ).all()
    return {
        "customer_number": customer.customer_number,
        "name": customer.name,
        "email": customer.email,
        "language": customer.language,
        "contact_person": customer.contact_person,
        "phone_numbers": [{"number": p.phone_e164, "secret": p.secret} for p in customer.phones],
        "flags": [
            {
                "kind": row.kind,
                "label": str(flags.KINDS.get(row.kind, row.kind)),
                "in_force": row.state,
                "valid_from": _day(row.valid_from),
                "valid_until": _day(row.valid_until),
                "source": str(flags.SOURCES.get(row.source, row.source)),
                "call": row.call_id,
                "reference": row.reference,
                "recorded_at_utc": _utc(row.recorded_at),
            }
            for row in reversed(history)  # the oldest first, as a history reads
        ],
        "requests": [
            {
                "reference": case.reference,
                "request": str(KIND_LABELS[case.kind]),
                "received_on": _day(case.received_on),
                "deadline": _day(case.deadline),
                "status": str(STATUS_LABELS[case.status]),
            }
            for case in cases
        ],
    }


def _accesses(customer_id: int) -> list[dict[str, Any]]:
    """Every event about the customer or any of their calls (an event written before a call
    was linked to them names only the call).

    The actor is given by role, not by name: the CJEU held in C-579/21 (Pankki S, 2023) that
    Art. 15 gives the data subject the dates and purposes of the consultations of their data,
    but not the identities of the employees who made them under the controller's authority.
    Should a case need a name, the DPO can give it from the trail. Case references stay out
    for the reason that keeps them out of calls.json."""
    about = or_(
        events.c.customer_id == customer_id,
        and_(
            events.c.object_type == "call",
            events.c.object_id.in_(
                select(cast(Call.id, String)).where(Call.customer_id == customer_id)
            ),
        ),
    )
    rows = db.session.execute(
        select(
            events.c.occurred_at,
            events.c.action,
            events.c.outcome,
            events.c.object_type,
            events.c.object_id,
            events.c.purpose,
            events.c.actor_roles,
        )
        .where(about)
        .order_by(events.c.seq)
    )
    return [
        {
            "time_utc": _utc(row.occurred_at),
            "action": row.action,
            "description": action_label(row.action),
            "outcome": row.outcome,
            "call": int(row.object_id) if row.object_type == "call" else None,
            "purpose": purposes.label(row.purpose) if row.purpose else None,
            "actor_role": ", ".join(role_label(r) for r in row.actor_roles.split(","))
            if row.actor_roles
            else str(_l("the system")),
        }
        for row in rows
    ]


__all__ = ["RecordingDamaged", "damaged", "gather", "stream"]
