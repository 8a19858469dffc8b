"""``tallenne customers load FILE`` and ``tallenne flags check FILE --purpose P``."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from audit import Outcome
from webapp import auditing
from webapp.customers import billing, campaign, flags
from webapp.errors import describe
from webapp.extensions import db


@click.group("customers")
def customers_group() -> None:
    """The customers, as the billing system knows them."""


@customers_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Load the good rows even when some are wrong.")
@with_appcontext
def customers_load_command(file: Path, skip_bad: bool) -> None:
    """Load or update customers from FILE, a billing system's CSV with the header
    customer_number,name,phones,email,language,contact_person and optionally secret_phones
    (numbers separated by ';'). Then link the calls that have no customer to the customer
    whose number they came from.

    The whole file is checked first: when a row is wrong, each is named by its line and
    nothing is loaded, unless --skip-bad loads the others. Exit 1 when any row was wrong."""
    try:
        rows, rejected = billing.read(file)
    except billing.LoadError as error:
        raise click.ClickException(f"{file.name}: {error}; nothing was loaded.") from error
    for line, reason in rejected:  # every one: each is a row to fix
        click.echo(f"  line {line}: {reason}", err=True)
    detail = {"rows": len(rows) + len(rejected), "rejected": len(rejected)}
    if rejected and not skip_bad:
        auditing.for_command("customers.load", Outcome.FAILED, detail={**detail, "loaded": 0})
        click.echo(
            f"{len(rejected)} rejected: nothing was loaded (fix those rows, or load the others "
            "with --skip-bad).",
            err=True,
        )
        sys.exit(1)
    try:
        with click.progressbar(length=len(rows), label="Loading customers", file=sys.stderr) as bar:
            summary = billing.load(rows, progress=bar.update)
        linked = billing.link_calls()
    except SQLAlchemyError as error:
        db.session.rollback()
        raise click.ClickException(
            f"the database refused the load ({describe(error)}); nothing was loaded"
        ) from error
    detail.update(
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        linked_calls=linked,
    )
    # The event commits the load with it: a load is whole, and audited, or not at all.
    auditing.for_command(
        "customers.load", Outcome.FAILED if rejected else Outcome.ALLOWED, detail=detail
    )
    click.echo(
        f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{len(rejected)} rejected; {linked} calls linked to their customer."
    )
    sys.exit(1 if rejected else 0)


@click.group("flags")
def flags_group() -> None:
    """Customers' bans and consents."""


@flags_group.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--purpose", required=True, type=click.Choice(list(flags.PURPOSES)))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the answers here (default: standard output).",
)
@click.option(
    "--on",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Decide as on this day (default: today in Finland).",
)
@with_appcontext
def flags_check_command(file: Path, purpose: str, output: Path | None, day) -> None:
    """Check a campaign's numbers against customers' bans and consents: FILE is CSV with a
    phone column, or one column of numbers. Writes phone,phone_e164,allowed,reason for each
    row, in the file's order, and a summary."""
    try:
        numbers = campaign.read(file)
    except campaign.ListError as error:
        raise click.ClickException(f"{file.name}: {error}; nothing was checked.") from error
    on = day.date() if day else flags.today()
    allowed, denied, malformed = 0, Counter(), 0
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["phone", "phone_e164", "allowed", "reason"])
        with click.progressbar(length=len(numbers), label="Checking", file=sys.stderr) as bar:
            for given, phone, decision in campaign.check(numbers, purpose, on, bar.update):
                if decision is None:
                    malformed += 1
                    writer.writerow([given, "", "false", "malformed"])
                    continue
                if decision.allowed:
                    allowed += 1
                else:
                    denied[decision.reason] += 1
                writer.writerow([given, phone, str(decision.allowed).lower(), decision.reason])
    finally:
        if output:
            out.close()
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(denied.items()))
    click.echo(
        f"{allowed} may be contacted, {denied.total()} may not"
        + (f" ({reasons})" if reasons else "")
        + f", {malformed} malformed.",
        err=output is None,  # the answers have standard output then
    )
    detail = {
        "purpose": purpose,
        "on": on.isoformat(),
        "rows": len(numbers),
        "allowed": allowed,
        "denied": dict(denied),
        "malformed": malformed,
    }
    auditing.for_command("flags.check", detail=detail)
