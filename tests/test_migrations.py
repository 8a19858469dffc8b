"""The schema exists only through the migrations, and they agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from webapp.extensions import db, migrate, target_metadata


def test_there_is_one_head(app: Flask) -> None:
    config = migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_the_models(app: Flask) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, target_metadata)
    assert diff == []


def test_purposes_are_reference_data_of_every_installation(app: Flask) -> None:
    from webapp.models import Purpose

    codes = {p.code: p.requires_case_ref for p in db.session.query(Purpose)}
    assert codes == {
        "order_verification": False,
        "complaint": True,
        "quality": False,
        "training": False,
        "service_development": False,
        "data_subject_request": True,
        "authority_request": True,
    }
