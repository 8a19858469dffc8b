"""``tallenne audit …``: verify the chain, checkpoint it, export it."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app, g
from flask.cli import with_appcontext

import audit
from audit import checkpoints
from audit import export as trail_export
from webapp import auditing
from webapp.extensions import db


@click.group("audit")
def audit_group() -> None:
    """The access audit trail: verify, checkpoint, export."""


@audit_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Walk the whole chain and the checkpoints; exit 1 naming the first bad event."""
    key = current_app.config["AUDIT_KEY"]
    path = current_app.config["AUDIT_CHECKPOINT_FILE"]
    try:
        found = list(checkpoints.read(path, key))
    except FileNotFoundError:
        found = []
        click.echo(
            f"No checkpoint file at {path}: events cut off from the end cannot be told.", err=True
        )
    except audit.ForgedCheckpoint as error:
        click.echo(f"Tampering: {path}, {error}", err=True)
        sys.exit(1)
    with db.engine.connect() as conn:
        total = checkpoints.tip(conn).events
        with click.progressbar(
            length=total, label="Verifying the audit trail", file=sys.stderr
        ) as bar:
            report = audit.verify(conn, key, found, progress=bar.update)
    if report.problem is not None:
        click.echo(f"Tampering: {report.problem}", err=True)
        sys.exit(1)
    unchained = (
        f", of which the first {report.unchained} predate the chain and are not covered"
        if report.unchained
        else ""
    )
    click.echo(
        f"The audit trail is intact: {report.events} events{unchained}; "
        f"{report.checkpoints_matched} of {len(found)} checkpoints matched."
    )


@audit_group.command("checkpoint")
@with_appcontext
def checkpoint_command() -> None:
    """Write a signed checkpoint of the chain now (to TALLENNE_AUDIT_CHECKPOINT_FILE)."""
    link = auditing.for_command("audit.checkpoint")
    path = current_app.config["AUDIT_CHECKPOINT_FILE"]
    if auditing.write_checkpoint(link) is None:
        click.echo(f"Could not write the checkpoint to {path}.", err=True)
        sys.exit(1)
    click.echo(f"Checkpoint at event {link.seq} written to {path}.")


@audit_group.command("export")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--until", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day.")
@click.option("--format", "form", type=click.Choice(sorted(trail_export.FORMATS)), default="jsonl")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="A file (written aside and renamed when complete); standard output by default.",
)
@with_appcontext
def export_command(since: datetime, until: datetime, form: str, output: Path | None) -> None:
    """Export the events of the days SINCE to UNTIL, both included (days in the app's time
    zone, TALLENNE_BABEL_DEFAULT_TIMEZONE). The export is itself audited, started and completed."""
    if until < since:
        raise click.BadParameter("must not be before --since", param_hint="--until")
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    start, stop = trail_export.day_bounds(since.date(), until.date(), zone)
    about = {"since": f"{since:%Y-%m-%d}", "until": f"{until:%Y-%m-%d}", "format": form}
    g.request_id = uuid.uuid4().hex  # ties the completed event to this export's start
    auditing.for_command("audit.export", object_type="audit_trail", detail=about)
    aside = output.with_name(f".{output.name}.partial") if output else None
    with db.engine.connect() as conn:
        result = conn.execution_options(yield_per=10_000).execute(trail_export.between(start, stop))
        if aside is None:
            rows = trail_export.write(form, result, sys.stdout)
        else:
            try:
                with aside.open("w", encoding="utf-8", newline="") as out:
                    rows = trail_export.write(form, result, out)
            except BaseException:
                aside.unlink(missing_ok=True)  # no half an export left lying about
                raise
            os.replace(aside, output)
    auditing.for_command(
        "audit.export.completed", object_type="audit_trail", detail={**about, "rows": rows}
    )
    click.echo(f"Exported {rows} events.", err=True)
