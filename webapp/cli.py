"""The ``tallenne`` command (a FlaskGroup: ``flask --app wsgi …`` is the same)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from webapp.api.cli import tokens_group
from webapp.audit_cli import audit_group
from webapp.customers.cli import customers_group, flags_group
from webapp.extensions import db
from webapp.importers.cli import agents_group, import_group
from webapp.models import Role, User
from webapp.storage.cli import keys_group, storage_group


def _create_app() -> Flask:
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli() -> None:
    """Tallenne: the register of recorded customer-service calls."""


def main() -> None:
    cli.main(prog_name="tallenne")


@click.command("demo")
@click.option("--calls", "n_calls", default=2000, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=2026, show_default=True, hidden=True)
@with_appcontext
def demo_command(n_calls: int, seed: int) -> None:
    """Create or upgrade the embedded database and fill it with demo data."""
    from flask_migrate import upgrade

    from webapp.demo import populate

    upgrade()
    populate(n_calls=n_calls, seed=seed)


@click.group("users")
def users_group() -> None:
    """Tallenne's user accounts."""


@users_group.command("create-local")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([str(r) for r in Role]),
    help="Repeat for several roles.",
)
@click.option("--display-name", default=None)
@click.option("--team", default=None, help="The agent's team, as quality statistics name it.")
@click.password_option(prompt="Password", confirmation_prompt=True)
@with_appcontext
def create_local(
    name: str, roles: tuple[str, ...], display_name: str | None, team: str | None, password: str
) -> None:
    """A local account, e.g. the audited break-glass administrator (prompts for the password)."""
    from webapp.auth.backends import set_local_password

    if db.session.scalar(select(User).where(User.username == name)) is not None:
        click.echo(f"A user named {name!r} already exists.", err=True)
        sys.exit(1)
    if len(password) < 12:
        click.echo("The password must be at least 12 characters long.", err=True)
        sys.exit(2)
    user = User(username=name, display_name=display_name or name, team=team, auth_source="local")
    user.roles = {Role(r) for r in roles}
    set_local_password(user, password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created local user {name} ({', '.join(sorted(roles))}).")


@users_group.command("sync")
@with_appcontext
def sync_users() -> None:
    """Bring directory users in line with AD: deactivate those whom AD disabled or removed
    from every mapped group (ending their sessions), and update everyone's roles."""
    from flask import current_app

    from webapp.auth import backends
    from webapp.auth.directory import Unavailable

    if current_app.config["AUTH_BACKEND"] != "ldap":
        click.echo("TALLENNE_AUTH_BACKEND is not ldap: there is no directory to sync.", err=True)
        sys.exit(2)
    users = db.session.scalars(
        select(User).where(User.auth_source == "ldap", User.external_id.is_not(None))
    ).all()
    by_guid = {user.external_id: user for user in users}
    counts = {"checked": 0, "deactivated": 0, "gone": 0}
    try:
        with click.progressbar(
            backends.directory().lookup(list(by_guid)),
            length=len(by_guid),
            label="Checking users against AD",
            file=sys.stderr,
        ) as found:
            for guid, account in found:
                user = by_guid[guid]
                was_active = user.active
                if account is None:
                    account = backends.gone_from_directory(user)
                    counts["gone"] += 1
                backends.apply_directory_account(user, account)
                db.session.commit()
                counts["checked"] += 1
                counts["deactivated"] += was_active and not user.active
    except Unavailable as error:
        db.session.rollback()
        click.echo(f"The directory did not answer ({error}); nothing more was changed.", err=True)
        sys.exit(1)
    click.echo(
        f"Checked {counts['checked']} directory users: {counts['deactivated']} deactivated "
        f"({counts['gone']} no longer in AD)."
    )


@click.group("retention")
def retention_group() -> None:
    """How long recordings are kept."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would go; remove nothing.")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    hidden=True,  # what-if, and the tests' moved clock
    help="Purge as if it were this UTC time.",
)
@with_appcontext
def purge_command(dry_run: bool, as_of) -> None:
    """Remove every recording past its register's retention period that no legal hold keeps:
    its call, its data key and its file. Safe to stop and run again; run it nightly."""
    from datetime import UTC, datetime

    from audit import Outcome
    from webapp import auditing, retention
    from webapp.requests import erasure

    now = as_of.replace(tzinfo=UTC) if as_of else datetime.now(UTC)
    doomed, held = retention.plan(now)
    # Customers erased on request whom a restored database (or a stopped erasure) left here.
    again = erasure.restored()
    if dry_run:
        click.echo(f"Would remove {len(doomed)} expired recordings; {held} kept by legal holds.")
        if again:
            click.echo(f"Would erase again {len(again)} customers erased on request before.")
        return
    for customer_id, case_ref in again:  # with their calls, before the expired go
        erased = erasure.carry_out(customer_id)
        auditing.for_command(
            "dsr.erase.again",
            object_type="customer",
            object_id=str(customer_id),
            customer_id=customer_id,
            case_ref=case_ref,
            detail=erased._asdict(),
        )
    if again:
        click.echo(f"Erased again {len(again)} customers erased on request before.")
    with click.progressbar(length=len(doomed), label="Purging", file=sys.stderr) as bar:
        removed = retention.remove(doomed, progress=bar.update)
    click.echo(f"Removed {removed} expired recordings; {held} kept by legal holds.")
    detail = {"removed": removed, "held": held, "as_of": f"{now:%Y-%m-%d}"}
    auditing.for_command("retention.purge", Outcome.ALLOWED, detail=detail)


COMMANDS = (
    demo_command,
    users_group,
    audit_group,
    keys_group,
    storage_group,
    import_group,
    agents_group,
    tokens_group,
    retention_group,
    customers_group,
    flags_group,
)

# On the group itself, so that `tallenne --help` lists them even before the app can start
# (say, with TALLENNE_SECRET_KEY still unset); on app.cli for `flask --app wsgi …`.
for _command in COMMANDS:
    cli.add_command(_command)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
