"""Tallenne: the register of recorded customer-service calls."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    from webapp import config

    config.load(app, test_config)
    register_extensions(app)
    register_request_context(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from webapp import auth, extensions, i18n, storage

    extensions.init_app(app)
    i18n.init_app(app)
    storage.init_app(app)
    auth.init_app(app)


def register_request_context(app: Flask) -> None:
    from webapp import http

    http.init_app(app)


def register_blueprints(app: Flask) -> None:
    from webapp import (
        admin,
        api,
        auth,
        calls,
        customers,
        health,
        privacy,
        requests,
        reviews,
        stats,
        trail,
    )

    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(calls.bp)
    app.register_blueprint(customers.bp)
    app.register_blueprint(trail.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(privacy.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(reviews.bp)
    app.register_blueprint(stats.bp)


def register_error_handlers(app: Flask) -> None:
    from webapp import errors

    errors.init_app(app)


def register_cli(app: Flask) -> None:
    from webapp import cli

    cli.init_app(app)
