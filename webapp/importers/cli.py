"""``tallenne import …``: calls and their recordings from a phone system."""

from __future__ import annotations

import os
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
from webapp.importers import agents, assemble, import_entries, lookups, manifest, records, runs
from webapp.importers.legs import instant
from webapp.importers.recordings import Monitor
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
    "--cdr",
    "cdr",
    required=True,
    help="The call records: a CSV file, or FreePBX's database, mysql://reader@pbx/asteriskcdrdb "
    "(its password in TALLENNE_CDR_PASSWORD).",
)
@click.option(
    "--recordings",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The monitor folder (FreePBX files recordings under YYYY/MM/DD/).",
)
@click.option("--layout", type=click.Choice(records.LAYOUTS), default="cdr_csv", show_default=True)
@click.option("--columns", help="The file's columns in order, e.g. clid,src,dst,…,cid_pres.")
@click.option("--timezone", "zone_name", default="Europe/Helsinki", show_default=True)
@click.option("--outbound-service", help="The service code that outbound calls belong to.")
@click.option(
    "--dial-prefix",
    "dial_prefixes",
    multiple=True,
    help="An outside-line prefix that outbound numbers are dialled with (9, 0 …); '' for none.",
)
@click.option(
    "--queue-log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Asterisk's queue_log: who took each queue call.",
)
@click.option("--dry-run", is_flag=True, help="Check everything, import nothing.")
@with_appcontext
def asterisk_command(
    cdr: str,
    recordings: Path,
    layout: str,
    columns: str | None,
    zone_name: str,
    outbound_service: str | None,
    dial_prefixes: tuple[str, ...],
    queue_log: Path | None,
    dry_run: bool,
) -> None:
    """Import an Asterisk or FreePBX call-record file (or FreePBX's CDR database) with its
    recordings. Every answered call is imported or named with its reason, and every recording
    of the period is used or named; re-running skips what is already there and starts where the
    last run ended; exit 1 when anything was left out."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise click.BadParameter(
            f"no time zone named {zone_name!r}", param_hint="--timezone"
        ) from error
    names = [c.strip() for c in columns.split(",")] if columns else None
    try:
        with runs.exclusive():
            _asterisk(
                cdr,
                recordings,
                layout,
                names,
                zone,
                outbound_service,
                dial_prefixes,
                queue_log,
                dry_run,
            )
    except runs.Busy as error:
        raise click.ClickException(f"{error}; this run did nothing") from error


def _asterisk(
    cdr, recordings, layout, names, zone, outbound_service, dial_prefixes, queue_log, dry_run
) -> None:
    database = "://" in cdr
    source = f"db:{cdr}" if database else f"file:{Path(cdr).resolve()}"
    since = runs.since(source)
    notes = []
    try:
        if database:
            from webapp.importers import freepbx_db

            local_since = since.astimezone(zone).replace(tzinfo=None) if since else None
            rows = freepbx_db.read(
                cdr, local_since, password=os.environ.get("TALLENNE_CDR_PASSWORD")
            )
        else:
            path = Path(cdr)
            if not path.is_file():
                raise click.BadParameter(f"no file {cdr!r}", param_hint="--cdr")
            found = records.read(path, layout, names)
            rows, notes = found.rows, found.notes
    except (records.LayoutError, ValueError) as error:
        raise click.ClickException(f"{_shown(cdr)}: {error}; nothing was imported.") from error
    if since is not None and not database:
        rows = [r for r in rows if not _before(r[1], since, zone)]
    services, _users = lookups()
    options = assemble.Options(
        zone=zone,
        services=services,
        directory=agents.Directory(),
        members=agents.members(),
        queue_log=_queue_log(queue_log, since),
        outbound_service=outbound_service,
        dial_prefixes=dial_prefixes,
    )
    try:
        plan = assemble.plan(rows, Monitor(recordings, zone), options)
    except assemble.ClockError as error:
        raise click.ClickException(f"{_shown(cdr)}: {error}; nothing was imported.") from error
    for note in notes + plan.notes:
        click.echo(f"Note: {note}.", err=True)
    if rows and not plan.items:
        click.echo(
            f"{len(rows)} call records, of which {plan.unanswered} calls nobody answered: "
            "nothing to import.",
            err=True,
        )
    left = _run(
        "import.asterisk",
        plan.items,
        dry_run,
        extra={"records": len(rows), "unused_recordings": len(plan.unused)},
        exit_when_done=False,
    )
    click.echo(
        f"Calls answered: {plan.calls}; not answered: {plan.unanswered}. Recordings left "
        f"unused: {len(plan.unused)}; still being written (for the next run): "
        f"{len(plan.waiting)}."
    )
    for name, reason in plan.unused:
        click.echo(f"  recording {name}: {reason}", err=True)
    if not dry_run and plan.last is not None:
        runs.advance(source, plan.last)
    nothing = bool(rows) and left.imported == 0 and left.skipped == 0
    sys.exit(1 if left.rejected or plan.unused or nothing else 0)


def _before(row: dict[str, str], since, zone) -> bool:
    try:
        return (
            instant(row.get("start") or row.get("calldate", ""), row.get("uniqueid"), zone) < since
        )
    except ValueError:
        return False


def _queue_log(path: Path | None, since):
    if path is None:
        return None
    from webapp.importers import queue_log

    return queue_log.read(path, since=since) if since else queue_log.read(path)


def _shown(cdr: str) -> str:
    """The source as it may be printed: a database URL without its password."""
    if "://" in cdr:
        head, _, rest = cdr.partition("://")
        return f"{head}://{rest.rsplit('@', 1)[-1]}"
    return Path(cdr).name


def _run(
    action: str,
    items: list,
    dry_run: bool,
    extra: dict | None = None,
    exit_when_done: bool = True,
):
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
        left = summary.rejected or (extra or {}).get("unused_recordings")
        auditing.for_command(action, Outcome.FAILED if left else Outcome.ALLOWED, detail=detail)
    if exit_when_done:
        sys.exit(1 if summary.rejected else 0)
    return summary


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
