"""``tallenne tokens create NAME --scope ingest|contact``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp import auditing
from webapp.api import tokens
from webapp.extensions import db
from webapp.models import ApiToken


@click.group("tokens")
def tokens_group() -> None:
    """Bearer tokens of the integrations."""


@tokens_group.command("create")
@click.argument("name")
@click.option("--scope", required=True, type=click.Choice(ApiToken.SCOPES))
@with_appcontext
def tokens_create_command(name: str, scope: str) -> None:
    """A token for the integration NAME, shown once: only its SHA-256 is kept."""
    if db.session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise click.BadParameter(f"a token named {name!r} exists already", param_hint="NAME")
    token = tokens.create(name, scope)
    db.session.commit()
    auditing.for_command(
        "tokens.create", object_type="api_token", object_id=name, detail={"scope": scope}
    )
    click.echo(token)
    click.echo(
        f"The {scope} token of {name!r}, shown only now: keep it in the integration's secrets.",
        err=True,
    )
