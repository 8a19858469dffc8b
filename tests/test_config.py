from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import ConfigurationError


def test_missing_secret_key_stops_start_up_and_names_it(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TALLENNE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TALLENNE_DEMO", raising=False)
    with pytest.raises(ConfigurationError, match="TALLENNE_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_settings_come_from_tallenne_variables(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TALLENNE_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("TALLENNE_DATABASE_URL", "postgresql://app@db.example.invalid/tallenne")
    monkeypatch.setenv("TALLENNE_STORAGE_DIR", str(tmp_path / "rec"))
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    # Operators write postgresql://; we ship psycopg 3.
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://app@")
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    assert app.config["STORAGE_DIR"] == str(tmp_path / "rec")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_demo_keeps_a_generated_secret_outside_the_repository(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TALLENNE_SECRET_KEY", raising=False)
    monkeypatch.setenv("TALLENNE_DEMO", "1")
    from webapp import config

    first = config._demo_secret(tmp_path)
    assert len(first) == 64
    assert config._demo_secret(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_unknown_auth_backend_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="TALLENNE_AUTH_BACKEND"):
        create_app(
            {
                "SECRET_KEY": "x",
                "AUTH_BACKEND": "kerberos",
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            }
        )
