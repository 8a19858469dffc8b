from __future__ import annotations

import pytest
from flask import Flask

from tests.support import PASSWORD, audit_rows, login
from webapp.auth import sessions
from webapp.extensions import db


def test_login_lands_on_calls_and_is_audited(client, world) -> None:
    response = login(client, "aino")
    assert response.status_code == 302
    assert response.headers["Location"] == "/calls"
    event = audit_rows(action="login")[-1]
    assert (event.actor_name, event.actor_roles, event.outcome) == ("aino", "agent", "allowed")
    assert event.client_addr == "127.0.0.1"
    assert event.request_id


@pytest.mark.parametrize("username, password", [("aino", "wrong"), ("nobody", PASSWORD)])
def test_unknown_user_and_wrong_password_get_the_same_answer(
    client, world, username: str, password: str
) -> None:
    response = login(client, username, password)
    assert response.status_code == 200
    assert "Väärä käyttäjätunnus tai salasana." in response.text
    event = audit_rows(action="login")[-1]
    assert event.outcome == "denied"
    # A name that is no account is not written down: it may be a password typed in the wrong box.
    assert event.actor_name == ("aino" if username == "aino" else None)
    assert "nobody" not in (event.detail or "")


@pytest.mark.parametrize("password", ["", "   "])
def test_blank_password_is_refused_before_any_check(client, world, monkeypatch, password) -> None:
    from webapp.auth import backends

    called = []
    monkeypatch.setattr(backends, "authenticate", lambda *a: called.append(a))
    response = login(client, "aino", password)
    assert response.status_code == 200
    assert "Anna salasana." in response.text
    assert called == []


def test_inactive_user_cannot_log_in(client, world) -> None:
    world.users["aino"].active = False
    db.session.commit()
    # A wrong password learns nothing about the account's state; the right one is told why.
    assert "Väärä käyttäjätunnus tai salasana." in login(client, "aino", "wrong").text
    response = login(client, "aino")
    assert "Tunnuksesi on poistettu käytöstä." in response.text
    event = audit_rows(action="login")[-1]
    assert (event.outcome, event.actor_name) == ("denied", "aino")
    assert '"reason":"disabled"' in event.detail


def test_session_id_is_new_at_every_login(app: Flask, world) -> None:
    client = app.test_client()
    client.get("/login")
    login(client, "aino")
    first = client.get_cookie("tallenne_session").value
    client.post("/logout")
    login(client, "aino")
    second = client.get_cookie("tallenne_session").value
    assert first != second


def test_logout_ends_the_session_on_the_server(app: Flask, world) -> None:
    client = app.test_client()
    login(client, "aino")
    stolen = client.get_cookie("tallenne_session").value
    assert client.get("/calls").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302
    assert audit_rows(action="logout")[-1].actor_name == "aino"

    thief = app.test_client()
    thief.set_cookie("tallenne_session", stolen)
    response = thief.get("/calls")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_get_logout_only_asks(app: Flask, world, login_as) -> None:
    client = login_as("aino")
    assert client.get("/logout").status_code == 200
    assert client.get("/calls").status_code == 200


def test_deactivating_a_user_ends_their_sessions(app: Flask, world, login_as) -> None:
    client = login_as("aino")
    assert client.get("/calls").status_code == 200
    user = world.users["aino"]
    user.active = False
    assert sessions.end_all(user) == 1
    db.session.commit()
    assert client.get("/calls").status_code == 302


def test_idle_session_expires(app: Flask, world, login_as) -> None:
    from datetime import timedelta

    from webapp.models import UserSession

    client = login_as("aino")
    row = db.session.query(UserSession).one()
    row.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert client.get("/calls").status_code == 302
    db.session.refresh(row)
    assert row.ended_at is not None


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/calls?direction=in", "/calls?direction=in"),
        ("https://evil.example/", "/calls"),
        ("//evil.example/", "/calls"),
        ("/\\evil.example", "/calls"),
        ("javascript:alert(1)", "/calls"),
        ("", "/calls"),
    ],
)
def test_login_redirects_only_to_a_local_next(client, world, target: str, expected: str) -> None:
    response = client.post(
        "/login", data={"username": "aino", "password": PASSWORD, "next": target}
    )
    assert response.headers["Location"] == expected


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_login_form_needs_its_csrf_token(app, world) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "aino", "password": PASSWORD})
    assert response.status_code == 400
    page = client.get("/login").text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"username": "aino", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    # Every state-changing form on the pages carries the token too.
    assert client.post("/logout").status_code == 400


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_language_choice_needs_csrf_and_sticks(app, world) -> None:
    client = app.test_client()
    page = client.get("/login").text
    assert 'lang="fi"' in page
    assert client.post("/language", data={"lang": "en"}).status_code == 400
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/language", data={"lang": "sv", "csrf_token": token, "next": "/login"})
    assert response.headers["Location"] == "/login"
    assert "Logga in i Tallenne" in client.get("/login").text
