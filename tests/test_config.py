from __future__ import annotations

import pytest

from tests.support import key_files
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
    for name, path in key_files(tmp_path).items():
        monkeypatch.setenv(f"TALLENNE_{name}", path)
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    # Operators write postgresql://; we ship psycopg 3.
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://app@")
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    assert app.config["STORAGE_DIR"] == str(tmp_path / "rec")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["AUDIT_KEY"] == bytes.fromhex("ab" * 32)
    assert app.config["MASTER_KEYS"].current == "test-1"


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


def _production(tmp_path, **settings: object) -> dict[str, object]:
    return {"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **settings}


def _with_key(tmp_path, **settings: object) -> dict[str, object]:
    return _production(tmp_path, **key_files(tmp_path), **settings)


def test_missing_audit_key_stops_start_up_and_names_it(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TALLENNE_AUDIT_KEY_FILE", raising=False)
    monkeypatch.delenv("TALLENNE_DEMO", raising=False)
    with pytest.raises(ConfigurationError, match="TALLENNE_AUDIT_KEY_FILE is not set"):
        create_app(_production(tmp_path))
    with pytest.raises(
        ConfigurationError, match=r"TALLENNE_AUDIT_KEY_FILE names .* cannot be read"
    ):
        create_app(_production(tmp_path, AUDIT_KEY_FILE=str(tmp_path / "nowhere")))
    (tmp_path / "short").write_text("abcd")
    with pytest.raises(ConfigurationError, match="at least 64 hexadecimal digits"):
        create_app(_production(tmp_path, AUDIT_KEY_FILE=str(tmp_path / "short")))
    (tmp_path / "not-hex").write_text("x" * 64)
    with pytest.raises(ConfigurationError, match="at least 64 hexadecimal digits"):
        create_app(_production(tmp_path, AUDIT_KEY_FILE=str(tmp_path / "not-hex")))


def test_demo_generates_one_audit_key_outside_the_database(monkeypatch, tmp_path) -> None:
    from webapp import config

    first = config._demo_secret(tmp_path, "audit_key")
    assert len(bytes.fromhex(first)) == 32
    assert config._demo_secret(tmp_path, "audit_key") == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit_key"]  # nothing left aside


@pytest.mark.parametrize(
    "setting, value",
    [
        ("WORKING_HOURS", "7:30-16"),
        ("WORKING_HOURS", "18-07"),
        ("WORKING_HOURS", "8-25"),
        ("WORKING_HOURS", "eight"),
        ("WORKING_DAYS", "0-5"),
        ("WORKING_DAYS", "mon-fri"),
        ("WORKING_DAYS", "1,8"),
    ],
)
def test_bad_working_time_stops_start_up_and_names_it(tmp_path, setting, value) -> None:
    with pytest.raises(ConfigurationError, match=f"TALLENNE_{setting}"):
        create_app(_with_key(tmp_path, **{setting: value}))


def test_working_time_is_read_as_hours_and_weekdays(tmp_path) -> None:
    app = create_app(_with_key(tmp_path, WORKING_HOURS="07:00-18:00", WORKING_DAYS="1-3,6"))
    assert app.config["WORKING_HOURS"] == (7, 18)
    assert app.config["WORKING_DAYS"] == {1, 2, 3, 6}
