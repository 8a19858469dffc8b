"""``tallenne import …``: calls and their recordings from a phone system."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from audit import Outcome
from webapp import auditing
from webapp.errors import describe
from webapp.importers import agents, asterisk, import_entries, lookups, manifest
from webapp.storage import storage
from webapp.storage.cli import check as storage_check


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
    services, users = lookups()
    items = [(row.line, partial(manifest.check, row, services, users, file.parent)) for row in rows]
    _run("import.manifest", items, dry_run)


@import_group.command("asterisk")
@click.option(
    "--cdr", "cdr", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--recordings",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The monitor folder (FreePBX files recordings under YYYY/MM/DD/).",
)
@click.option("--layout", type=click.Choice(asterisk.LAYOUTS), default="cdr_csv", show_default=True)
@click.option("--columns", help="cdr_custom's columns in order, e.g. clid,src,dst,…,cid_pres.")
@click.option("--timezone", "zone_name", default="Europe/Helsinki", show_default=True)
@click.option("--outbound-service", help="The service code that outbound calls belong to.")
@click.option("--dry-run", is_flag=True, help="Check everything, import nothing.")
@with_appcontext
def asterisk_command(
    cdr: Path,
    recordings: Path,
    layout: str,
    columns: str | None,
    zone_name: str,
    outbound_service: str | None,
    dry_run: bool,
) -> None:
    """Import an Asterisk or FreePBX call-record file with its recordings. Answered calls
    only (one per linkedid); re-running skips what is already there; exit 1 when any call was
    rejected."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise click.BadParameter(
            f"no time zone named {zone_name!r}", param_hint="--timezone"
        ) from error
    names = [c.strip() for c in columns.split(",")] if columns else None
    try:
        rows = asterisk.read(cdr, layout, names)
    except asterisk.LayoutError as error:
        raise click.ClickException(f"{cdr.name}: {error}; nothing was imported.") from error
    services, _users = lookups()
    found = list(
        asterisk.calls(rows, recordings, zone, services, agents.Directory(), outbound_service)
    )
    _run("import.asterisk", found, dry_run, extra={"records": len(rows)})


def _run(action: str, items: list, dry_run: bool, extra: dict | None = None) -> None:
    """Import the checked items with a progress bar, say what happened, audit it, and exit 1
    when anything was rejected."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    with click.progressbar(length=len(items), label="Importing calls", file=sys.stderr) as bar:
        try:
            summary = import_entries(items, limit=limit, dry_run=dry_run, progress=bar.update)
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
        # What earlier runs cut off may have left, and what no importer could have fixed.
        found = storage_check(storage(), grace_s=3600)
        click.echo(
            f"Storage: {len(found['orphans']) + len(found['partial'])} orphan files, "
            f"{len(found['missing'])} calls without a file, {len(found['empty'])} empty "
            "recordings" + (" (see tallenne storage check)." if any(found.values()) else ".")
        )
        detail = {
            **(extra or {}),
            "imported": summary.imported,
            "skipped": summary.skipped,
            "rejected": len(summary.rejected),
        }
        outcome = Outcome.FAILED if summary.rejected else Outcome.ALLOWED
        auditing.for_command(action, outcome, detail=detail)
    sys.exit(1 if summary.rejected else 0)


@click.group("agents")
def agents_group() -> None:
    """The extension → agent mapping."""


@agents_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def agents_load_command(file: Path) -> None:
    """Replace the extension → agent mapping with FILE's: CSV with the header
    extension,username,valid_from,valid_to (ISO dates; an empty valid_to: still valid)."""
    try:
        count = agents.load(file)
    except agents.MappingError as error:
        raise click.ClickException(f"{file.name}: {error}; the mapping was not changed.") from error
    auditing.for_command("agents.load", detail={"mappings": count})
    click.echo(f"{count} extension mappings loaded.")
