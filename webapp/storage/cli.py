"""``tallenne keys rotate``: every recording's data key re-wrapped by the newest master key."""

from __future__ import annotations

import getpass
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from audit import Outcome
from webapp import auditing
from webapp.errors import describe
from webapp.extensions import db
from webapp.models import Call
from webapp.storage import storage
from webapp.storage.keys import KeyUnavailable

BATCH = 500


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
    try:
        auditing.append_and_commit(
            "keys.rotate",
            Outcome.FAILED if failed else Outcome.ALLOWED,
            actor_name=f"cli:{getpass.getuser()}",
            object_type="master_key",
            object_id=current,
            detail=detail,
        )
    except SQLAlchemyError as error:
        click.echo(f"The audit trail cannot be written ({describe(error)}).", err=True)
        sys.exit(1)
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
