"""``tallenne import …``: calls and their recordings from a phone system."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from audit import Outcome
from webapp import auditing
from webapp.errors import describe
from webapp.importers import import_rows, manifest


@click.group("import")
def import_group() -> None:
    """Bring calls and their recordings in from a phone system."""


@import_group.command("manifest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check everything, import nothing.")
@with_appcontext
def manifest_command(file: Path, dry_run: bool) -> None:
    """Import the calls that FILE (JSON Lines, .jsonl, or CSV with a header, .csv) describes,
    each with its WAV recording named relative to FILE's folder. Re-running skips what is
    already there; exit 1 when any row was rejected."""
    try:
        rows = manifest.read(file)
    except manifest.ManifestError as error:
        raise click.ClickException(f"{file.name}: {error}; nothing was imported.") from error
    limit = current_app.config["IMPORT_MAX_BYTES"]
    with click.progressbar(length=len(rows), label="Importing calls", file=sys.stderr) as bar:
        try:
            summary = import_rows(
                rows, file.parent, limit=limit, dry_run=dry_run, progress=bar.update
            )
        except SQLAlchemyError as error:
            raise click.ClickException(
                f"the database refused a batch ({describe(error)}); what was committed before "
                "it stays, and a re-run goes on from there"
            ) from error
    verb = "Would import" if dry_run else "Imported"
    click.echo(
        f"{verb} {summary.imported} calls ({summary.audio_bytes / 1e6:.1f} MB of audio); "
        f"skipped {summary.skipped} already there; rejected {len(summary.rejected)}."
    )
    for line, reason in summary.rejected:  # every one: each is a row to fix
        click.echo(f"  line {line}: {reason}", err=True)
    if not dry_run:
        detail = {
            "imported": summary.imported,
            "skipped": summary.skipped,
            "rejected": len(summary.rejected),
        }
        try:
            auditing.append_and_commit(
                "import.manifest",
                Outcome.FAILED if summary.rejected else Outcome.ALLOWED,
                actor_name=f"cli:{getpass.getuser()}",
                detail=detail,
            )
        except SQLAlchemyError as error:
            click.echo(f"The audit trail cannot be written ({describe(error)}).", err=True)
            sys.exit(1)
    sys.exit(1 if summary.rejected else 0)
