"""Logging in with Active Directory credentials, against a real Samba AD domain controller
that the suite provisions (tests/samba.py)."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import ldap3
import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.support import AD_PASSWORD, Domain, audit_rows, login, require
from webapp.auth.directory import Directory, Outcome, Settings
from webapp.extensions import db
from webapp.models import Role, User

pytestmark = pytest.mark.directory

MESSAGES_FI = {
    "bad": "Väärä käyttäjätunnus tai salasana.",
    "no_access": "Tunnuksellasi ei ole pääsyä Tallenteeseen.",
    "disabled": "Tunnuksesi on poistettu käytöstä.",
    "locked": "Windows-tunnuksesi on lukittu",
    "account_expired": "Tunnuksesi voimassaolo on päättynyt.",
    "must_change": "Sinun on vaihdettava Windows-salasanasi",
    "password_expired": "Windows-salasanasi on vanhentunut.",
    "unavailable": "Hakemisto (Active Directory) ei vastaa",
    "throttled": "Liian monta epäonnistunutta kirjautumista.",
}


def user_row(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def test_all_three_name_forms_reach_the_same_account(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent", given="Aino")
    ids = set()
    for typed in (sam, f"{sam}@{ad.dc.upn_suffix}", f"{ad.dc.domain}\\{sam}", sam.upper()):
        client = app.test_client()
        response = login(client, typed, AD_PASSWORD)
        assert response.status_code == 302, (typed, response.text)
        assert client.get("/calls").status_code == 200
        user = user_row(sam)
        ids.add(user.id)
    assert len(ids) == 1
    assert user.roles == {Role.AGENT}
    assert user.auth_source == "ldap"
    raw_guid = ad.dc.entry(sam, ["objectGUID"])["objectGUID"].raw_values[0]
    assert user.external_id == str(uuid.UUID(bytes_le=raw_guid))
    assert user.display_name == "Aino Agentti"
    assert user.email == f"{sam}@example.test"
    event = audit_rows(action="login")[-1]
    assert (event.actor_name, event.outcome) == (sam, "allowed")
    assert '"backend":"ldap"' in event.detail


def test_a_role_through_a_nested_group_and_several_roles(app: Flask, ad: Domain) -> None:
    sam = ad.user(Domain.NESTED, "dpo")
    assert login(app.test_client(), sam, AD_PASSWORD).status_code == 302
    assert user_row(sam).roles == {Role.AGENT, Role.DPO}


def test_a_role_removed_in_ad_is_gone_at_the_next_login(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent", "supervisor")
    assert login(app.test_client(), sam, AD_PASSWORD).status_code == 302
    assert user_row(sam).roles == {Role.AGENT, Role.SUPERVISOR}
    ad.dc.remove_member(Domain.GROUPS["supervisor"], sam)
    assert login(app.test_client(), sam, AD_PASSWORD).status_code == 302
    assert user_row(sam).roles == {Role.AGENT}
    change = audit_rows(action="user.roles")[-1]
    assert '"after":["agent"]' in change.detail
    assert '"before":["agent","supervisor"]' in change.detail


def test_a_renamed_account_stays_the_same_user(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent")
    assert login(app.test_client(), sam, AD_PASSWORD).status_code == 302
    before = user_row(sam).id
    new = f"r{sam}"[:20]
    ad.dc.rename(sam, new)
    assert login(app.test_client(), new, AD_PASSWORD).status_code == 302
    assert user_row(new).id == before
    assert user_row(sam) is None


def test_the_department_in_ad_is_the_agents_team(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent")
    assert login(app.test_client(), sam, AD_PASSWORD).status_code == 302
    assert user_row(sam).team is None
    for team in ("Vesihuolto", "Laskutus"):
        change = {"department": [(ldap3.MODIFY_REPLACE, [team])]}
        assert ad.dc.admin.modify(ad.dc.dn(sam), change), ad.dc.admin.result
        assert login(app.test_client(), sam, AD_PASSWORD).status_code == 302
        assert user_row(sam).team == team


def test_someone_in_no_mapped_group_is_told_they_have_no_access(app: Flask, ad: Domain) -> None:
    sam = ad.user()
    client = app.test_client()
    response = login(client, sam, AD_PASSWORD)
    assert response.status_code == 200
    assert MESSAGES_FI["no_access"] in response.text
    assert client.get("/calls").status_code == 302  # not logged in
    event = audit_rows(action="login")[-1]
    assert event.outcome == "denied"
    assert '"reason":"no_access"' in event.detail
    # A wrong password says nothing about group membership.
    assert MESSAGES_FI["bad"] in login(client, sam, "Wrong-1-Password").text


@pytest.mark.parametrize(
    "change, message, reason",
    [
        ("disable", "disabled", "disabled"),
        ("lock_out", "locked", "locked"),
        ("expire_account", "account_expired", "account_expired"),
        ("expire_password", "must_change", "must_change_password"),
        ("age_out_password", "password_expired", "password_expired"),
    ],
)
def test_account_states_get_their_own_message_after_a_correct_password(
    app: Flask, ad: Domain, change: str, message: str, reason: str
) -> None:
    sam = ad.user("agent")
    getattr(ad.dc, change)(sam)
    client = app.test_client()
    if change != "lock_out":  # a locked account would only count the wrong guess further
        wrong = login(client, sam, "Wrong-1-Password")
        assert MESSAGES_FI["bad"] in wrong.text
        assert MESSAGES_FI[message] not in wrong.text
    response = login(client, sam, AD_PASSWORD)
    assert response.status_code == 200
    assert MESSAGES_FI[message] in response.text
    assert client.get("/calls").status_code == 302
    event = audit_rows(action="login")[-1]
    assert event.outcome == "denied"
    assert f'"reason":"{reason}"' in event.detail


@pytest.mark.parametrize(
    "typed",
    ["*", "*)(objectClass=*", "\\", "CORP\\*", "a\x00b", "*@corp.example.test", "(", "x)(|(a=*"],
)
def test_injection_in_the_user_name_finds_nobody(app: Flask, ad: Domain, typed: str) -> None:
    ad.user("agent")  # there is someone for a wildcard to match
    response = login(app.test_client(), typed, AD_PASSWORD)
    assert response.status_code == 200
    if "\x00" in typed:  # refused by the form, before any lookup
        assert "Käyttäjätunnuksessa ei voi olla ohjausmerkkejä." in response.text
        assert audit_rows(action="login") == []
        return
    assert MESSAGES_FI["bad"] in response.text
    assert audit_rows(action="login")[-1].actor_name is None


def test_a_wildcard_after_a_real_name_does_not_match_it(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent")
    assert MESSAGES_FI["bad"] in login(app.test_client(), sam[:-1] + "*", AD_PASSWORD).text


def test_the_filter_escapes_what_the_user_typed(ad: Domain) -> None:
    directory = Directory(Settings.from_config(_settings(ad)))
    query = directory._name_filter("*)(objectClass=*")
    assert "\\2a\\29\\28objectClass=\\2a" in query
    assert "a\\28b\\29\\2a@corp" in directory._name_filter("a(b)*@corp.example.test")
    assert directory._name_filter("a\x00b") is None
    assert directory._name_filter("OTHER\\aino") is None


@pytest.mark.parametrize("password", ["", "   "])
def test_an_empty_password_is_refused_before_any_bind(ad: Domain, password: str) -> None:
    # Pointed at a port where nothing listens: any bind attempt would say "unavailable".
    settings = _settings(ad, LDAP_URLS="ldaps://127.0.0.1:9")
    sam = ad.user("agent")
    result = Directory(Settings.from_config(settings)).authenticate(sam, password)
    assert result.outcome is Outcome.BAD_CREDENTIALS


@pytest.mark.app_config(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=50)
def test_failures_are_throttled_below_the_ad_lockout(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent")
    forms = [sam, f"{sam}@{ad.dc.upn_suffix}", f"{ad.dc.domain}\\{sam}"]
    client = app.test_client()
    for typed in forms:  # all three forms count against the one account
        assert MESSAGES_FI["bad"] in login(client, typed, "Wrong-1-Password").text
    response = login(client, sam, AD_PASSWORD)  # even the right password waits now
    assert response.status_code == 429
    assert MESSAGES_FI["throttled"] in response.text
    assert int(response.headers["Retry-After"]) > 0
    assert audit_rows(action="login")[-1].detail == '{"reason":"throttled"}'
    # AD saw exactly the three failures: below its threshold, so Windows is not locked.
    assert int(ad.dc.attribute(sam, "badPwdCount")) == 3 < ad.dc.lockout_threshold
    assert ad.dc.lockout_time(sam) == 0
    # Another account from the same address is not held back by this one's count.
    other = ad.user("agent")
    assert login(app.test_client(), other, AD_PASSWORD).status_code == 302


@pytest.mark.app_config(LOGIN_MAX_FAILURES_PER_ADDRESS=3)
def test_failures_are_throttled_per_client_address(app: Flask, ad: Domain) -> None:
    client = app.test_client()
    for n in range(3):
        login(client, f"nobody{n}", "Wrong-1-Password")
    response = login(client, ad.user("agent"), AD_PASSWORD)
    assert response.status_code == 429


def test_a_successful_login_clears_the_count(app: Flask, ad: Domain) -> None:
    sam = ad.user("agent")
    client = app.test_client()
    for _ in range(2):
        login(client, sam, "Wrong-1-Password")
    assert login(client, sam, AD_PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(2):
        login(client, sam, "Wrong-1-Password")
    assert login(client, sam, AD_PASSWORD).status_code == 302


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and then never says a word: a hung domain controller."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_the_second_domain_controller_takes_over(ad: Domain) -> None:
    sam = ad.user("agent")
    settings = _settings(ad, LDAP_URLS=f"ldaps://127.0.0.1:9 {ad.dc.url}")
    result = Directory(Settings.from_config(settings)).authenticate(sam, AD_PASSWORD)
    assert result.outcome is Outcome.OK
    assert result.account.roles == {Role.AGENT}


def test_a_hung_first_controller_is_passed_after_the_timeout(ad: Domain, silent_port: int) -> None:
    sam = ad.user("agent")
    settings = _settings(ad, LDAP_URLS=f"ldaps://127.0.0.1:{silent_port} {ad.dc.url}")
    settings["LDAP_RECEIVE_TIMEOUT"] = 1
    result = Directory(Settings.from_config(settings)).authenticate(sam, AD_PASSWORD)
    assert result.outcome is Outcome.OK


def test_starttls_on_ldap_urls(ad: Domain) -> None:
    sam = ad.user("agent")
    settings = _settings(ad, LDAP_URLS=ad.dc.ldap_url_starttls)
    result = Directory(Settings.from_config(settings)).authenticate(sam, AD_PASSWORD)
    assert result.outcome is Outcome.OK


def test_a_certificate_from_an_unknown_ca_is_refused(ad: Domain) -> None:
    sam = ad.user("agent")
    settings = _settings(ad, LDAP_CA_FILE=ad.dc.other_ca_file)
    result = Directory(Settings.from_config(settings)).authenticate(sam, AD_PASSWORD)
    assert result.outcome is Outcome.UNAVAILABLE


def _settings(ad: Domain, **overrides: object) -> dict[str, object]:
    return {**ad.settings, **overrides}


def test_when_no_controller_answers_login_says_so_and_break_glass_works(
    app: Flask, ad: Domain, world, silent_port: int
) -> None:
    app.extensions["tallenne.directory"] = Directory(
        Settings.from_config(
            _settings(ad, LDAP_URLS=f"ldaps://127.0.0.1:{silent_port}", LDAP_RECEIVE_TIMEOUT=1)
        )
    )
    sam = ad.user("agent")
    response = login(app.test_client(), sam, AD_PASSWORD)
    assert response.status_code == 503
    assert MESSAGES_FI["unavailable"] in response.text
    event = audit_rows(action="login")[-1]
    assert event.outcome == "failed"
    assert event.detail == '{"backend":"ldap","reason":"directory_unavailable"}'
    # The local administrator (break-glass) still gets in, and the trail says how.
    client = app.test_client()
    assert login(client, "pekka").status_code == 302
    event = audit_rows(action="login")[-1]
    assert (event.actor_name, event.outcome) == ("pekka", "allowed")
    assert '"break_glass":true' in event.detail


def _session_of(app: Flask, sam: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, sam, AD_PASSWORD).status_code == 302
    assert client.get("/calls").status_code == 200
    return client


def test_users_sync_deactivates_and_ends_sessions(app: Flask, ad: Domain, runner) -> None:
    disabled, removed, demoted, deleted, kept = (ad.user("agent") for _ in range(5))
    ad.dc.add_member(Domain.GROUPS["supervisor"], demoted)
    clients = {sam: _session_of(app, sam) for sam in (disabled, removed, demoted, deleted, kept)}
    ad.dc.disable(disabled)
    ad.dc.remove_member(Domain.GROUPS["agent"], removed)
    ad.dc.remove_member(Domain.GROUPS["supervisor"], demoted)
    ad.dc.delete(deleted)

    result = runner.invoke(args=["users", "sync"])
    assert result.exit_code == 0, result.output
    assert "3 deactivated" in result.output
    for sam in (disabled, removed, deleted):
        assert user_row(sam).active is False
        assert clients[sam].get("/calls").status_code == 302  # the session is over
    assert user_row(demoted).roles == {Role.AGENT}
    for sam in (demoted, kept):
        assert user_row(sam).active is True
        assert clients[sam].get("/calls").status_code == 200
    reasons = [e.detail for e in audit_rows(action="user.deactivated")]
    assert sum('"reason":"disabled"' in r for r in reasons) == 2  # disabled, deleted
    assert sum('"reason":"no_mapped_group"' in r for r in reasons) == 1
    # Back in a group, the user is let in again at the next login.
    ad.dc.add_member(Domain.GROUPS["agent"], removed)
    assert login(app.test_client(), removed, AD_PASSWORD).status_code == 302
    assert user_row(removed).active is True


def test_users_sync_says_when_the_directory_is_down(
    app: Flask, ad: Domain, runner, silent_port: int
) -> None:
    sam = ad.user("agent")
    _session_of(app, sam)
    # The command runs in the test's own (twin) app context: point that one at the hung DC.
    current_app.extensions["tallenne.directory"] = Directory(
        Settings.from_config(
            _settings(ad, LDAP_URLS=f"ldaps://127.0.0.1:{silent_port}", LDAP_RECEIVE_TIMEOUT=1)
        )
    )
    result = runner.invoke(args=["users", "sync"])
    assert result.exit_code == 1, result.output
    assert "did not answer" in result.output
    assert user_row(sam).active is True


LAB = {
    "AUTH_BACKEND": "ldap",
    "LDAP_URLS": "ldaps://dc1.corp.example.test",
    "LDAP_BASE_DN": "DC=corp,DC=example,DC=test",
    "LDAP_BIND_DN": "CN=svc,CN=Users,DC=corp,DC=example,DC=test",
    "LDAP_BIND_PASSWORD": "x",
    "LDAP_DOMAIN": "CORP",
    "LDAP_UPN_SUFFIX": "corp.example.test",
    "LDAP_ROLE_GROUPS": '{"agent": ["CN=Agents,DC=corp,DC=example,DC=test"]}',
}


@pytest.mark.parametrize(
    "override, named",
    [
        ({"LDAP_URLS": "http://dc1.corp.example.test"}, "TALLENNE_LDAP_URLS"),
        ({"LDAP_URLS": ""}, "TALLENNE_LDAP_URLS"),
        ({"LDAP_BIND_DN": " "}, "TALLENNE_LDAP_BIND_DN"),
        ({"LDAP_DOMAIN": None}, "TALLENNE_LDAP_DOMAIN"),
        ({"LDAP_ROLE_GROUPS": "{not json"}, "TALLENNE_LDAP_ROLE_GROUPS"),
        ({"LDAP_ROLE_GROUPS": '{"boss": ["CN=x"]}'}, "TALLENNE_LDAP_ROLE_GROUPS"),
        ({"LDAP_ROLE_GROUPS": '{"agent": ["not a dn"]}'}, "TALLENNE_LDAP_ROLE_GROUPS"),
        ({"LOGIN_MAX_FAILURES": 10}, "TALLENNE_LOGIN_MAX_FAILURES"),
    ],
)
def test_wrong_directory_settings_stop_start_up(override: dict, named: str) -> None:
    from webapp import create_app
    from webapp.config import ConfigurationError

    with pytest.raises(ConfigurationError, match=named):
        create_app({"TESTING": True, "SECRET_KEY": "x", **LAB, **override})


@pytest.fixture
def redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/15"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        require(False, f"no Redis at {url}: {error}")
    finally:
        client.close()
    return url


def test_failures_are_counted_in_redis_when_configured(
    request: pytest.FixtureRequest, ad: Domain, redis_url: str, database_url: str, tmp_path
) -> None:
    """Two app instances (as two gunicorn workers would be) share the count through Redis."""
    import redis

    from tests.conftest import app_config
    from webapp import create_app
    from webapp.models import LoginThrottle

    config = app_config(
        database_url, tmp_path, **{**ad.settings, "REDIS_URL": redis_url, "LOGIN_MAX_FAILURES": 3}
    )
    workers = [create_app(config), create_app(config)]
    sam = ad.user("agent")
    try:
        for n in range(3):  # alternate between the two workers
            response = login(workers[n % 2].test_client(), sam, "Wrong-1-Password")
            assert MESSAGES_FI["bad"] in response.text
        for worker in workers:
            assert login(worker.test_client(), sam, AD_PASSWORD).status_code == 429
        client = redis.Redis.from_url(redis_url)
        keys = client.keys("tallenne:login:*")
        client.close()
        assert len(keys) == 2  # the name and the address, both hashed
        assert all(sam.encode() not in key for key in keys)
        with workers[0].app_context():
            assert db.session.scalars(select(LoginThrottle)).all() == []
    finally:
        for worker in workers:
            with worker.app_context():
                db.engine.dispose()
