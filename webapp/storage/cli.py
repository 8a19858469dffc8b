"""``tallenne keys rotate``: every recording's data key re-wrapped by the newest master key."""

from __future__ import annotations

import hashlib
import sys
import time

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from audit import Outcome
from webapp import auditing
from webapp.extensions import db
from webapp.models import Call
from webapp.storage import Recording, RecordingDamaged, storage
from webapp.storage.directory import PARTIAL
from webapp.storage.keys import KeyUnavailable

BATCH = 500
EMPTY_BYTES = 44  # a bare WAV header: what FreePBX, too, takes for a missing recording
SAYS = {
    "missing": "calls whose recording file is missing",
    "wrong_size": "calls whose recording is not of the size stored (damaged or cut short)",
    "empty": "calls whose recording is empty (44 bytes or fewer)",
    "wrong_audio": "calls whose audio is not what was stored (decrypted and hashed: damaged)",
    "plain": "recordings stored plain, before encryption (--repair seals them)",
    "orphans": "files that no call names (--repair removes them)",
    "partial": "pieces of writes that were cut off (--repair removes them)",
}


@click.group("keys")
def keys_group() -> None:
    """The master keys that wrap the recordings' data keys."""


@keys_group.command("rotate")
@with_appcontext
def rotate_command() -> None:
    """Re-wrap every data key by the newest master key in TALLENNE_MASTER_KEY_FILE (its last
    line), without rewriting any audio. Safe to stop and run again: each batch is committed, and
    what is done is not done twice. Afterwards the older keys can be taken out of the file."""
    store = storage()
    current = store.keys.current
    older = (
        Call.recording_sealed_key.is_not(None),
        Call.recording_key_id != current,
    )
    total = db.session.scalar(select(func.count(Call.id)).where(*older))
    plain = db.session.scalar(
        select(func.count(Call.id)).where(Call.recording_sealed_key.is_(None))
    )
    moved, failed, last_id = 0, [], 0
    with click.progressbar(length=total, label="Re-wrapping data keys", file=sys.stderr) as bar:
        while True:
            batch = db.session.scalars(
                select(Call).where(*older, Call.id > last_id).order_by(Call.id).limit(BATCH)
            ).all()
            if not batch:
                break
            for call in batch:
                last_id = call.id
                try:
                    call.recording_sealed_key, call.recording_key_id = store.rewrap(call.recording)
                    moved += 1
                except KeyUnavailable:
                    failed.append(call.id)
            db.session.commit()
            bar.update(len(batch))
    detail = {"to": current, "rewrapped": moved, "failed": len(failed), "plain": plain}
    outcome = Outcome.FAILED if failed else Outcome.ALLOWED
    auditing.for_command(
        "keys.rotate", outcome, object_type="master_key", object_id=current, detail=detail
    )
    click.echo(f"{moved} data keys re-wrapped by master key {current!r}.")
    if plain:
        click.echo(f"{plain} recordings were stored before encryption and have no data key.")
    if failed:
        shown = ", ".join(str(i) for i in failed[:10])
        click.echo(
            f"{len(failed)} data keys could not be opened (their master key is missing from the "
            f"file, or they were tampered with): calls {shown}{' …' if len(failed) > 10 else ''}.",
            err=True,
        )
        sys.exit(1)


@click.group("storage")
def storage_group() -> None:
    """The recordings' storage."""


@storage_group.command("check")
@click.option("--repair", is_flag=True, help="Remove leftovers and seal plain recordings.")
@click.option(
    "--audio", is_flag=True, help="Also decrypt every recording and check its SHA-256 (slow)."
)
@click.option(
    "--grace-minutes",
    default=60,
    show_default=True,
    type=click.IntRange(0),
    help="Files this new are left alone: an import may still be writing them.",
)
@with_appcontext
def check_command(repair: bool, audio: bool, grace_minutes: int) -> None:
    """Compare the storage with the calls: files no call names (and pieces of cut-off writes),
    calls whose file is missing or of the wrong size, empty recordings, and recordings stored
    plain before encryption. With --repair, remove the leftovers and seal the plain ones.
    Exit 1 when something is left that needs a person."""
    store = storage()
    found = check(store, grace_minutes * 60, audio=audio)
    repaired = _repair(store, found) if repair else {}
    for line in _summary(found, repaired):
        click.echo(line)
    needs_a_person = (
        found["missing"]
        or found["wrong_size"]
        or found["wrong_audio"]
        or repaired.get("seal_failed")
    )
    unrepaired = not repair and (found["orphans"] or found["partial"] or found["plain"])
    detail = {k: len(v) for k, v in found.items()} | {
        f"repaired_{k}": n for k, n in repaired.items()
    }
    outcome = Outcome.FAILED if needs_a_person else Outcome.ALLOWED
    auditing.for_command("storage.check", outcome, object_type="storage", detail=detail)
    sys.exit(1 if needs_a_person or unrepaired else 0)


def check(store, grace_s: float, audio: bool = False) -> dict[str, list]:
    """What the storage holds against what the calls say: a list for each kind of finding
    (call ids, or the names of files no call names)."""
    files = {name: mtime for name, _size, mtime in store.files.walk()}
    found: dict[str, list] = {
        k: []
        for k in ("orphans", "partial", "missing", "wrong_size", "wrong_audio", "empty", "plain")
    }
    named = set()
    total = db.session.scalar(select(func.count(Call.id)))
    calls = db.session.execute(
        select(
            Call.id,
            Call.recording_key,
            Call.recording_sealed_key,
            Call.recording_key_id,
            Call.recording_bytes,
            Call.recording_sha256,
        )
        .order_by(Call.id)
        .execution_options(yield_per=1000)
    )
    with click.progressbar(
        calls, length=total, label="Checking recordings", file=sys.stderr
    ) as bar:
        for call_id, key, sealed_key, key_id, size, sha256 in bar:
            named.add(key)
            if key not in files:
                found["missing"].append(call_id)
                continue
            if size <= EMPTY_BYTES:
                found["empty"].append(call_id)
            if sealed_key is None:
                found["plain"].append(call_id)
            recording = Recording(key, sealed_key, key_id)
            if store.size(recording) != size:
                found["wrong_size"].append(call_id)
            elif audio and not _audio_matches(store, recording, size, sha256):
                found["wrong_audio"].append(call_id)
    recent = time.time() - grace_s
    for name, mtime in files.items():
        if name not in named and mtime < recent:
            found["partial" if name.endswith(PARTIAL) else "orphans"].append(name)
    return found


def _audio_matches(store, recording: Recording, size: int, sha256: str) -> bool:
    digest = hashlib.sha256()
    try:
        for chunk in store.read_range(recording, 0, size):
            digest.update(chunk)
    except RecordingDamaged:
        return False
    return digest.hexdigest() == sha256


def _repair(store, found: dict[str, list]) -> dict[str, int]:
    """Remove the leftovers (no data key exists for a sealed orphan: it opens for no one), and
    seal each plain recording: the sealed file first, then the call, then the plain file goes.
    Cut off anywhere, what is left is a leftover that the next run removes."""
    for name in found["partial"] + found["orphans"]:
        store.files.delete(name)
    sealed, failed = 0, 0
    for call_id in found["plain"]:
        call = db.session.get(Call, call_id)
        plain = call.recording
        data = b"".join(store.read_range(plain, 0, call.recording_bytes))
        if hashlib.sha256(data).hexdigest() != call.recording_sha256:
            failed += 1  # not what was stored: left as it is, for a person to look at
            continue
        call.keep(store.put(data, call.started_at))
        db.session.commit()
        store.delete(plain)
        sealed += 1
    removed = len(found["partial"]) + len(found["orphans"])
    return {"removed": removed, "sealed": sealed, "seal_failed": failed}


def _summary(found: dict[str, list], repaired: dict[str, int]) -> list[str]:
    def some(ids: list) -> str:
        shown = ", ".join(str(i) for i in ids[:10])
        return f"{shown}{' …' if len(ids) > 10 else ''}"

    lines = []
    for kind, says in SAYS.items():
        if found[kind]:
            lines.append(f"{len(found[kind])} {says}: {some(found[kind])}")
    if repaired:
        lines.append(
            f"Repaired: {repaired['removed']} leftover files removed, {repaired['sealed']} plain "
            f"recordings sealed"
            + (f", {repaired['seal_failed']} could not be" if repaired["seal_failed"] else "")
            + "."
        )
    return lines or ["The storage and the calls agree."]
