from __future__ import annotations

import sqlalchemy as sa

from tests.support import audit_rows, key_files
from webapp.extensions import db
from webapp.models import User


def test_create_local_user_prompts_for_the_password(runner, app, world) -> None:
    result = runner.invoke(
        args=["users", "create-local", "breakglass", "--role", "admin"],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "breakglass"))
    assert user.roles_label == "admin" and user.auth_source == "local"
    assert "a long enough password" not in (user.password_hash or "")
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "breakglass", "password": "a long enough password"}
    )
    assert response.status_code == 302
    assert audit_rows(action="login")[-1].actor_roles == "admin"


def test_create_local_user_refuses_a_duplicate_and_a_short_password(runner, world) -> None:
    result = runner.invoke(
        args=["users", "create-local", "aino", "--role", "agent"],
        input="x" * 12 + "\n" + "x" * 12 + "\n",
    )
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(
        args=["users", "create-local", "newbie", "--role", "agent"], input="short\nshort\n"
    )
    assert result.exit_code == 2


def test_unknown_role_is_wrong_usage(runner) -> None:
    result = runner.invoke(args=["users", "create-local", "x", "--role", "king"])
    assert result.exit_code == 2


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path) -> None:
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "STORAGE_DIR": str(tmp_path),
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    with app.app_context():
        db.engine.dispose()


def test_console_script_is_the_flask_group(monkeypatch, tmp_path) -> None:
    from click.testing import CliRunner

    from webapp.cli import cli

    monkeypatch.setenv("TALLENNE_SECRET_KEY", "x")
    monkeypatch.setenv("TALLENNE_DATABASE_URL", f"sqlite:///{tmp_path}/t.db")
    for name, path in key_files(tmp_path).items():
        monkeypatch.setenv(f"TALLENNE_{name}", path)
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "users", "db", "audit", "keys", "storage", "run"):
        assert command in result.output


def test_help_lists_our_commands_even_when_the_app_cannot_start(monkeypatch) -> None:
    from click.testing import CliRunner

    from webapp.cli import cli

    monkeypatch.delenv("TALLENNE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TALLENNE_DEMO", raising=False)
    result = CliRunner().invoke(cli, ["--help"])
    assert "demo" in result.output and "users" in result.output
