"""Who is this? Local accounts (the embedded demo and the audited break-glass administrator)
and Active Directory (webapp.auth.directory). One decision, one outcome, for the login route."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from audit import Outcome as AuditOutcome
from webapp import auditing
from webapp.auth import sessions
from webapp.auth.directory import Account, Directory, Outcome, Settings
from webapp.config import ConfigurationError
from webapp.extensions import db
from webapp.models import User

# Checked against when the user does not exist, so that an unknown name costs as much time as
# a wrong password and the two cannot be told apart.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    backend: str  # "local" or "ldap"
    user: User | None = None  # the Tallenne user the attempt was about, when there is one
    break_glass: bool = False  # a local account used while the directory is the backend


def authenticate(username: str, password: str) -> Attempt:
    """A local account of that name answers first (so its password never goes to AD); any
    other name goes to the directory when that is the backend."""
    ldap = current_app.config["AUTH_BACKEND"] == "ldap"
    local = db.session.scalar(
        select(User).where(User.username == username, User.auth_source == "local")
    )
    if local is not None or not ldap:
        outcome = _check_local(local, password)
        return Attempt(outcome, "local", user=local, break_glass=ldap and local is not None)
    result = directory().authenticate(username, password)
    user = None
    if result.account is not None:
        user = _directory_user(result.account)
    elif result.username is not None:
        user = db.session.scalar(
            select(User).where(User.username == result.username, User.auth_source == "ldap")
        )
    return Attempt(result.outcome, "ldap", user=user)


def _check_local(user: User | None, password: str) -> Outcome:
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return Outcome.BAD_CREDENTIALS
    if not check_password_hash(user.password_hash, password):
        return Outcome.BAD_CREDENTIALS
    return Outcome.OK if user.active else Outcome.DISABLED


def authenticate_local(username: str, password: str) -> User | None:
    user = db.session.scalar(
        select(User).where(User.username == username, User.auth_source == "local")
    )
    return user if _check_local(user, password) is Outcome.OK else None


def set_local_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password)


def apply_directory_account(user: User, account: Account) -> None:
    """Bring a Tallenne user in line with AD: names, roles (audited when they change), and
    deactivation with every session ended when AD no longer lets them in."""
    _rename(user, account.username)
    user.display_name = account.display_name
    user.email = account.email
    user.team = account.department
    before = user.roles
    if account.roles != before:
        user.roles = set(account.roles)
        db.session.flush()
        auditing.write(
            "user.roles",
            AuditOutcome.ALLOWED,
            object_type="user",
            object_id=str(user.id),
            detail={"before": sorted(before), "after": sorted(account.roles), "by": "directory"},
        )
    active = account.enabled and bool(account.roles)
    if user.active and not active:
        user.active = False
        ended = sessions.end_all(user)
        auditing.write(
            "user.deactivated",
            AuditOutcome.ALLOWED,
            object_type="user",
            object_id=str(user.id),
            detail={
                "reason": "disabled" if not account.enabled else "no_mapped_group",
                "sessions_ended": ended,
            },
        )
    elif active and not user.active:
        user.active = True


def gone_from_directory(user: User) -> Account:
    """What a user whom AD no longer has (deleted, or moved out of the base DN) amounts to."""
    return Account(
        guid=user.external_id or "",
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        roles=frozenset(),
        enabled=False,
        department=user.team,
    )


def _directory_user(account: Account) -> User:
    user = db.session.scalar(select(User).where(User.external_id == account.guid))
    if user is None:
        user = User(
            username=account.username,
            display_name=account.display_name,
            team=account.department,
            external_id=account.guid,
            auth_source="ldap",
            active=bool(account.roles),
        )
        db.session.add(user)
        _rename(user, account.username)
        user.roles = set(account.roles)
        db.session.flush()
        return user
    apply_directory_account(user, account)
    return user


def _rename(user: User, username: str) -> None:
    """A renamed AD account stays the same user. If its new name is still held by another
    directory user (renamed or removed in AD since), that one steps aside; a local account's
    name is never taken: the directory user is then known by DOMAIN\\name."""
    if user.username == username and user.id is not None:
        return
    with db.session.no_autoflush:
        holder = db.session.scalar(
            select(User).where(User.username == username, User.id != (user.id or 0))
        )
    if holder is not None and holder is not user:
        if holder.auth_source == "local":
            username = f"{current_app.config['LDAP_DOMAIN']}\\{username}"
        else:
            holder.username = f"{holder.username}~{holder.id}"
            db.session.flush()
    user.username = username


def directory() -> Directory:
    return current_app.extensions["tallenne.directory"]


def init_app(app: Flask) -> None:
    if app.config["AUTH_BACKEND"] != "ldap":
        return
    settings = Settings.from_config(app.config)
    threshold = int(app.config["LDAP_LOCKOUT_THRESHOLD"])
    if threshold and int(app.config["LOGIN_MAX_FAILURES"]) >= threshold:
        raise ConfigurationError(
            "TALLENNE_LOGIN_MAX_FAILURES must be below TALLENNE_LDAP_LOCKOUT_THRESHOLD (the "
            "domain's lockout threshold), or Tallenne could lock people out of Windows."
        )
    if settings.allow_plaintext:
        app.logger.warning(
            "TALLENNE_LDAP_ALLOW_PLAINTEXT is on: passwords cross the network unencrypted"
        )
    app.extensions["tallenne.directory"] = Directory(settings)
