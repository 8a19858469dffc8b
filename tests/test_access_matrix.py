"""Who reaches which call, on every URL that names one. The matrix is built from the app's own
URL map: a route that names a call and has no row here fails the suite."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.support import ROLES, audit_rows, per_request_parts_removed
from webapp.customers import flags
from webapp.extensions import db
from webapp.models import Customer, DataSubjectRequest

# What a user gets for (their own call, another agent's call, a call that does not exist).
# Others' calls are reached by those who see all calls, but playing or exporting one needs a
# stated purpose first (403 until then); the maintainer has no standing access to any call.
VISIBLE = {"own": 200, "other": 200, "missing": 404}
NEEDS_PURPOSE = {"own": 200, "other": 403, "missing": 404}
PURPOSE_FORM = {"own": 302, "other": 302, "missing": 404}
ONLY_OWN = {"own": 200, "other": 404, "missing": 404}
ONLY_OWN_FORM = {"own": 302, "other": 404, "missing": 404}
NOTHING = {"own": 404, "other": 404, "missing": 404}
# Forms posted empty: refused as incomplete (400) where the user may use them at all.
FORM_INCOMPLETE = {"own": 400, "other": 400, "missing": 404}
ONLY_OWN_INCOMPLETE = {"own": 400, "other": 404, "missing": 404}
ONLY_OWN_REFUSED = {"own": 403, "other": 404, "missing": 404}
REFUSED = {"own": 403, "other": 403, "missing": 404}

EXPECTED = {
    "calls.detail": {
        "agent": ONLY_OWN,
        "supervisor": VISIBLE,
        "admin": VISIBLE,
        "dpo": VISIBLE,
        "maintainer": NOTHING,
    },
    "calls.audio": {
        "agent": ONLY_OWN,
        "supervisor": NEEDS_PURPOSE,
        "admin": NEEDS_PURPOSE,
        "dpo": NEEDS_PURPOSE,
        "maintainer": NOTHING,
    },
    "calls.export": {
        "agent": ONLY_OWN,
        "supervisor": NEEDS_PURPOSE,
        "admin": NEEDS_PURPOSE,
        "dpo": NEEDS_PURPOSE,
        "maintainer": NOTHING,
    },
    "calls.state_purpose": {
        "agent": ONLY_OWN_FORM,
        "supervisor": PURPOSE_FORM,
        "admin": PURPOSE_FORM,
        "dpo": PURPOSE_FORM,
        "maintainer": NOTHING,
    },
    # A ban or consent stated on the call: an agent from their own call (aino's is linked to
    # a customer; the others' calls are not, which is a 400 too).
    "customers.call_flag": {
        "agent": ONLY_OWN_INCOMPLETE,
        "supervisor": FORM_INCOMPLETE,
        "admin": FORM_INCOMPLETE,
        "dpo": FORM_INCOMPLETE,
        "maintainer": NOTHING,
    },
    # Reviewing a call and marking it for training: supervisors and administrators, on any
    # call they see (their own call is refused with a message, and so redirected like the rest).
    "reviews.start": {
        "agent": ONLY_OWN_REFUSED,
        "supervisor": PURPOSE_FORM,
        "admin": PURPOSE_FORM,
        "dpo": REFUSED,
        "maintainer": NOTHING,
    },
    "reviews.mark_for_training": {
        "agent": ONLY_OWN_REFUSED,
        "supervisor": PURPOSE_FORM,
        "admin": PURPOSE_FORM,
        "dpo": REFUSED,
        "maintainer": NOTHING,
    },
    # Linking a call to a customer by hand: those who manage customers' flags.
    "customers.link_call": {
        "agent": ONLY_OWN_REFUSED,
        "supervisor": FORM_INCOMPLETE,
        "admin": FORM_INCOMPLETE,
        "dpo": FORM_INCOMPLETE,
        "maintainer": NOTHING,
    },
}

# Pages that name no call but are one role's alone: that role gets 200, every other 403.
ONE_ROLE = {
    "trail.index": "dpo",
    "trail.attention": "dpo",
    "trail.export": "dpo",
    "admin.index": "admin",
    "admin.scorecards": "admin",
    "admin.new_scorecard": "admin",
}

# Routes that answer without a login; every other route sends an anonymous visitor to /login.
PUBLIC = {
    "static",
    "health.healthz",
    "auth.login",
    "auth.set_language",
    "privacy.index",
    "privacy.notice",
}

USER_OF_ROLE = {str(role): name for name, role in ROLES.items() if name != "eero"}


def call_rules(app: Flask) -> list:
    return [rule for rule in app.url_map.iter_rules() if "call_id" in rule.arguments]


def test_every_route_that_names_a_call_has_a_rule(app: Flask) -> None:
    names = {rule.endpoint for rule in call_rules(app)}
    assert names, "the URL map names no call at all"
    assert names == set(EXPECTED), f"routes without a rule: {names - set(EXPECTED)}"


def test_every_other_route_needs_a_login_or_a_token(app: Flask, world) -> None:
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.arguments:
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(rule.rule, method=method)
        if rule.rule.startswith("/api/"):  # integrations: a bearer token, never a login
            assert response.status_code == 401, rule.rule
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), rule.rule
            continue
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/login"), rule.rule


# Changes that are one role's alone: anyone else gets 403 and the attempt is audited.
ONE_ROLE_CHANGES = {
    "admin.set_hold": ("admin", "legal_hold"),
    "admin.lift_hold": ("admin", "legal_hold"),
    "admin.edit_register": ("admin", "configuration"),
    "admin.new_scorecard": ("admin", "configuration"),
    "admin.edit_scorecard": ("admin", "configuration"),
}


def test_every_audit_and_admin_page_has_a_rule(app: Flask) -> None:
    names = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/audit", "/admin"))
    }
    ruled = set(ONE_ROLE) | set(ONE_ROLE_CHANGES)
    assert names == ruled, f"pages without a rule: {names - ruled}"


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("endpoint", sorted(ONE_ROLE_CHANGES))
def test_one_role_changes(app: Flask, world, login_as, endpoint: str, role: str) -> None:
    allowed, object_type = ONE_ROLE_CHANGES[endpoint]
    username = USER_OF_ROLE[role]
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    response = login_as(username).post(re.sub(r"<int:\w+>", "1", rule.rule), data={})
    if role == allowed:
        assert response.status_code in (400, 404)  # an empty form, a hold that is not there
        assert audit_rows(outcome="denied") == []
    else:
        assert response.status_code == 403
        denied = audit_rows(outcome="denied")
        assert [(d.actor_name, d.object_type) for d in denied] == [(username, object_type)]


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("endpoint", sorted(ONE_ROLE))
def test_one_role_pages(app: Flask, world, login_as, endpoint: str, role: str) -> None:
    username = USER_OF_ROLE[role]
    client = login_as(username)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    response = client.get(rule.rule)
    if role == ONE_ROLE[endpoint]:
        assert response.status_code == 200
        assert audit_rows()[-1].outcome == "allowed"
    else:
        assert response.status_code == 403
        denied = audit_rows(outcome="denied")
        refused = "configuration" if endpoint.startswith("admin.") else "audit_trail"
        assert [(d.actor_name, d.object_type) for d in denied] == [(username, refused)]


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_route_role_matrix(app: Flask, world, login_as, endpoint: str, role: str) -> None:
    username = USER_OF_ROLE[role]
    client = login_as(username)
    rule = next(r for r in call_rules(app) if r.endpoint == endpoint)
    method = "GET" if "GET" in rule.methods else "POST"
    targets = {
        "own": world.calls[username].id,
        "other": world.calls["eero"].id,
        "missing": max(c.id for c in world.calls.values()) + 1000,
    }
    bodies = {}
    for target, call_id in targets.items():
        before = len(audit_rows(outcome="denied"))
        response = client.open(
            rule.rule.replace("<int:call_id>", str(call_id)),
            method=method,
            data={"purpose": "quality"} if method == "POST" else None,
        )
        expected = EXPECTED[endpoint][role][target]
        assert response.status_code == expected, (endpoint, role, target, response.status_code)
        if expected in (403, 404):
            denied = audit_rows(outcome="denied")[before:]
            assert len(denied) == 1, (endpoint, role, target)
            assert denied[0].object_id == str(call_id)
            assert denied[0].actor_name == username
            assert denied[0].actor_roles == role
        if expected == 200 and endpoint in ("calls.audio", "calls.export"):
            assert response.data == world.audio[call_id]
        if response.mimetype == "audio/wav":
            body = response.data
        else:  # the page may echo its own address, and so the id asked for
            body = per_request_parts_removed(response.text).replace(
                f"/calls/{call_id}", "/calls/<id>"
            )
        bodies[target] = (response.status_code, body)
    if EXPECTED[endpoint][role]["other"] == 404:
        # Someone else's call and no call at all are indistinguishable.
        assert bodies["other"] == bodies["missing"]


def test_list_shows_agents_only_their_own_calls(world, login_as) -> None:
    page = login_as("aino").get("/calls").text
    own = {world.calls["aino"].id, world.calls["aino_secret"].id}
    shown = {c.id for c in world.calls.values() if f'/calls/{c.id}"' in page}
    assert shown == own


@pytest.mark.parametrize("username", ["sanna", "pekka", "tiina"])
def test_list_shows_all_calls_to_those_who_see_all(world, login_as, username: str) -> None:
    page = login_as(username).get("/calls").text
    assert all(f'/calls/{c.id}"' in page for c in world.calls.values())


def test_maintainer_sees_no_calls(world, login_as) -> None:
    page = login_as("matti").get("/calls").text
    assert not any(f'/calls/{c.id}"' in page for c in world.calls.values())


# The data-subject requests are the DPO's alone: anyone else gets 403 on every method of every
# route, the attempt is audited, and nothing changes. The DPO's own request is what each row
# sends (a case of the kind its route acts on): it is done, which shows the refusal is the
# role's. A route under /requests without a row fails the suite.
DSR_ROUTES = {
    "requests.index": ("access", {}),
    "requests.new": (
        "access",
        {
            "customer": "100001",
            "kind": "access",
            "received_on": "2026-01-05",
            "identity_check": "in_person",
        },
    ),
    "requests.detail": ("access", {}),
    "requests.package": ("access", {}),
    "requests.close": ("access", {"close-status": "done", "close-outcome": "Answered."}),
    "requests.extend": ("access", {"extend-reason": "Many recordings.", "extend-told": "y"}),
    "requests.rectify": ("rectification", {"fix-name": "Maija Virtanen", "fix-language": "fi"}),
    "requests.erase": ("erasure", {"obligation": "Kirjanpitolaki 2:10"}),
    "requests.record_flag": ("restriction", {}),
}


def test_every_request_route_has_a_rule(app: Flask) -> None:
    names = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/requests")}
    assert names == set(DSR_ROUTES), f"routes without a rule: {names - set(DSR_ROUTES)}"


@pytest.mark.parametrize("role", sorted(USER_OF_ROLE))
@pytest.mark.parametrize("endpoint", sorted(DSR_ROUTES))
def test_request_routes_are_the_dpos_alone(
    app: Flask, world, login_as, endpoint: str, role: str
) -> None:
    kind, data = DSR_ROUTES[endpoint]
    dsr = DataSubjectRequest(
        reference="TP-2026-0900",
        kind=kind,
        customer_id=world.customer.id,
        received_on=flags.today(),  # within its first month, so that it may be extended
        deadline=flags.today(),
        identity_check="in_person",
        status="open",
    )
    db.session.add(dsr)
    db.session.commit()
    username = USER_OF_ROLE[role]
    client = login_as(username)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    url = rule.rule.replace("<int:case_id>", str(dsr.id))
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        before = len(audit_rows(outcome="denied"))
        response = client.open(url, method=method, data=data if method == "POST" else None)
        denied = audit_rows(outcome="denied")[before:]
        if role == "dpo":
            assert response.status_code in (200, 302), (endpoint, method, response.status_code)
            assert denied == []
        else:
            assert response.status_code == 403, (endpoint, method, response.status_code)
            assert [(d.actor_name, d.object_type) for d in denied] == [(username, "dsr_case")]
    if role != "dpo":
        db.session.expire_all()
        cases = db.session.scalars(sa.select(DataSubjectRequest)).all()
        assert [(c.id, c.status) for c in cases] == [(dsr.id, "open")]
        assert db.session.get(Customer, world.customer.id).name == "Maija Meikäläinen"
        done = [e for e in audit_rows(outcome="allowed") if e.action.startswith("dsr.")]
        assert done == []
