"""Who is this, according to Active Directory? Login and sync against one or more domain
controllers over LDAPS (or LDAP with StartTLS), with ldap3.

A login looks the account up with the service account (by sAMAccountName or
userPrincipalName, the typed name escaped), binds as the account with the typed password, and
reads the roles from the mapped groups, nested ones included (LDAP_MATCHING_RULE_IN_CHAIN).
What the directory says after a correct password (disabled, locked out, expired, password to be
changed) becomes an outcome of its own, so the user can be told what to do.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import re
import ssl
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ldap3 import BASE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.core.results import RESULT_INVALID_CREDENTIALS, RESULT_SUCCESS
from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import parse_dn

from webapp.config import ConfigurationError
from webapp.models import Role

log = logging.getLogger(__name__)

# AD's "match in chain": the group holds the member directly or through nested groups.
IN_CHAIN = "1.2.840.113556.1.4.1941"

# userAccountControl and msDS-User-Account-Control-Computed bits.
UF_ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10
UF_PASSWORD_EXPIRED = 0x800000

ATTRIBUTES = [
    "objectGUID",
    "sAMAccountName",
    "userPrincipalName",
    "displayName",
    "mail",
    "department",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "accountExpires",
    "pwdLastSet",
    "lockoutTime",
]

ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.DPO)


class Outcome(enum.StrEnum):
    """How a login attempt against the directory ended. The value goes into the audit trail."""

    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"  # unknown user or wrong password: never told apart
    NO_ACCESS = "no_access"  # a correct password, but in no mapped group
    DISABLED = "disabled"
    LOCKED = "locked"
    ACCOUNT_EXPIRED = "account_expired"
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105  (a state, not a password)
    MUST_CHANGE_PASSWORD = "must_change_password"  # noqa: S105
    UNAVAILABLE = "directory_unavailable"


# AD reports why a bind was refused as "data NNN" in the message (AcceptSecurityContext
# error). Samba 4.17 answers as Windows does (tests/samba.py): 533, 701, 532 and 773 only when
# the password was right (a wrong one gives 52e); 775, locked out, whatever the password.
_DATA_CODES = {
    "533": Outcome.DISABLED,
    "775": Outcome.LOCKED,
    "701": Outcome.ACCOUNT_EXPIRED,
    "532": Outcome.PASSWORD_EXPIRED,
    "773": Outcome.MUST_CHANGE_PASSWORD,
}
_DATA = re.compile(r"\bdata ([0-9a-f]{3,4})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Account:
    guid: str  # objectGUID as a UUID string: the user's identity in Tallenne
    username: str  # sAMAccountName, lower case
    display_name: str
    email: str | None
    roles: frozenset[Role]
    enabled: bool = True
    department: str | None = None  # the team quality statistics group agents by


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    account: Account | None = None
    # The account's sAMAccountName when the directory knows it, even if the login failed: the
    # trail then names whose account was tried.
    username: str | None = None


class Unavailable(Exception):
    """No domain controller answered usably (down, timed out, certificate refused)."""


@dataclass(frozen=True)
class Settings:
    urls: tuple[str, ...]
    base_dn: str
    bind_dn: str
    bind_password: str
    domain: str
    upn_suffix: str
    role_groups: Mapping[Role, tuple[str, ...]]
    ca_file: str | None
    connect_timeout: float
    receive_timeout: float
    allow_plaintext: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and check the TALLENNE_LDAP_* settings; anything wrong stops start-up."""

        def required(name: str) -> str:
            value = config.get(f"LDAP_{name}")
            if not value or not str(value).strip():
                raise ConfigurationError(f"TALLENNE_LDAP_{name} must be set for the ldap backend.")
            return str(value).strip()

        urls = _list(config.get("LDAP_URLS"))
        if not urls:
            raise ConfigurationError("TALLENNE_LDAP_URLS must name at least one ldaps:// URL.")
        allow_plaintext = _flag(config.get("LDAP_ALLOW_PLAINTEXT"))
        for url in urls:
            scheme = urlsplit(url).scheme.lower()
            if scheme not in {"ldaps", "ldap"} or not urlsplit(url).hostname:
                raise ConfigurationError(
                    f"TALLENNE_LDAP_URLS: {url!r} is not an ldaps:// or ldap:// URL."
                )
        return cls(
            urls=tuple(urls),
            base_dn=required("BASE_DN"),
            bind_dn=required("BIND_DN"),
            bind_password=required("BIND_PASSWORD"),
            domain=required("DOMAIN").upper(),
            upn_suffix=required("UPN_SUFFIX").lower().lstrip("@"),
            role_groups=_role_groups(config.get("LDAP_ROLE_GROUPS")),
            ca_file=config.get("LDAP_CA_FILE") or None,
            connect_timeout=float(config.get("LDAP_CONNECT_TIMEOUT", 5)),
            receive_timeout=float(config.get("LDAP_RECEIVE_TIMEOUT", 10)),
            allow_plaintext=allow_plaintext,
        )

    def group_roles(self, group_dns: set[str]) -> frozenset[Role]:
        held = {_normal_dn(dn) for dn in group_dns}
        return frozenset(
            role
            for role, groups in self.role_groups.items()
            if any(_normal_dn(g) in held for g in groups)
        )


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [str(v).strip() for v in value if str(v).strip()]


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _role_groups(value: Any) -> dict[Role, tuple[str, ...]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ConfigurationError(
                f"TALLENNE_LDAP_ROLE_GROUPS is not valid JSON: {error}"
            ) from None
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(
            "TALLENNE_LDAP_ROLE_GROUPS must map roles to lists of group DNs, e.g. "
            '{"agent": ["CN=Tallenne-Agents,OU=Groups,DC=corp,DC=example"]}.'
        )
    mapping: dict[Role, tuple[str, ...]] = {}
    for name, groups in value.items():
        if name not in {str(r) for r in ROLES}:
            raise ConfigurationError(
                f"TALLENNE_LDAP_ROLE_GROUPS: {name!r} is not a role "
                f"({', '.join(str(r) for r in ROLES)})."
            )
        groups = [groups] if isinstance(groups, str) else list(groups)
        for dn in groups:
            try:
                parse_dn(dn)
            except LDAPException:
                raise ConfigurationError(
                    f"TALLENNE_LDAP_ROLE_GROUPS: {dn!r} for {name} is not a DN."
                ) from None
        mapping[Role(name)] = tuple(groups)
    return mapping


def _normal_dn(dn: str) -> str:
    return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _ in parse_dn(dn))


class Directory:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- connections --------------------------------------------------------------------

    def _server(self, url: str) -> Server:
        parts = urlsplit(url)
        use_ssl = parts.scheme.lower() == "ldaps"
        tls = _VerifiedTls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.settings.ca_file)
        return Server(
            parts.hostname,
            port=parts.port or (636 if use_ssl else 389),
            use_ssl=use_ssl,
            tls=tls,
            get_info=None,
            connect_timeout=self.settings.connect_timeout,
        )

    def _connection(self, server: Server, user: str, password: str) -> Connection:
        """An open connection (TLS up), not yet bound; closed again if it cannot be used."""
        conn = Connection(
            server,
            user=user,
            password=password,
            authentication=SIMPLE,
            # ldap3 packs this into SO_RCVTIMEO: whole seconds only.
            receive_timeout=max(1, math.ceil(self.settings.receive_timeout)),
            raise_exceptions=False,
            read_only=True,
        )
        try:
            conn.open()
            if not server.ssl and not self.settings.allow_plaintext:
                conn.start_tls()
        except BaseException:
            # A failed TLS handshake leaves ldap3's socket open; close it ourselves.
            if getattr(conn, "socket", None) is not None:
                conn.socket.close()
            conn.unbind()
            raise
        return conn

    def _service(self) -> tuple[Connection, Server, str]:
        """The service account's connection to the first domain controller that answers."""
        failures = []
        for url in self.settings.urls:
            server = self._server(url)
            conn = None
            try:
                conn = self._connection(server, self.settings.bind_dn, self.settings.bind_password)
                conn.bind()
            except LDAPException as error:
                if conn is not None:
                    conn.unbind()
                failures.append(f"{url}: {type(error).__name__}")
                log.warning("domain controller %s unusable: %s", url, error)
                continue
            if conn.result["result"] != RESULT_SUCCESS:
                conn.unbind()
                # A refused service account is a configuration error, not an outage of one DC.
                log.error("service account bind refused by %s: %s", url, conn.result["description"])
                raise Unavailable(f"{url}: service account refused")
            return conn, server, url
        raise Unavailable("; ".join(failures))

    # -- login --------------------------------------------------------------------------

    def authenticate(self, typed_name: str, password: str) -> Result:
        if not password or not password.strip():
            # An empty password makes a simple bind "unauthenticated" and it succeeds.
            return Result(Outcome.BAD_CREDENTIALS)
        query = self._name_filter(typed_name)
        if query is None:
            return Result(Outcome.BAD_CREDENTIALS)
        try:
            conn, server, url = self._service()
        except Unavailable:
            return Result(Outcome.UNAVAILABLE)
        try:
            entry = self._find_one(conn, query)
            if entry is None:
                return Result(Outcome.BAD_CREDENTIALS)
            sam = _first(entry, "sAMAccountName").lower()
            outcome = self._bind_as(server, url, entry["dn"], password)
            if outcome is not Outcome.OK:
                return Result(outcome, username=sam)
            state = _account_state(entry)
            if state is not Outcome.OK:
                return Result(state, username=sam)
            account = self._account(conn, entry)
        except LDAPException as error:
            log.warning("directory failed during login at %s: %s", url, type(error).__name__)
            return Result(Outcome.UNAVAILABLE)
        finally:
            conn.unbind()
        if not account.roles:
            return Result(Outcome.NO_ACCESS, account=account, username=account.username)
        return Result(Outcome.OK, account=account, username=account.username)

    def _name_filter(self, typed_name: str) -> str | None:
        """The search filter for what the user typed: name, name@suffix or DOMAIN\\name."""
        name = typed_name.strip()
        if not name or len(name) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in name):
            return None
        if "\\" in name:
            domain, _, name = name.partition("\\")
            if domain.upper() != self.settings.domain or not name or "\\" in name:
                return None
        elif "@" in name:
            upn = escape_filter_chars(name)
            return f"(&(objectCategory=person)(objectClass=user)(userPrincipalName={upn}))"
        sam = escape_filter_chars(name)
        upn = escape_filter_chars(f"{name}@{self.settings.upn_suffix}")
        return (
            "(&(objectCategory=person)(objectClass=user)"
            f"(|(sAMAccountName={sam})(userPrincipalName={upn})))"
        )

    def _find_one(self, conn: Connection, query: str) -> dict | None:
        entries = list(self._search(conn, self.settings.base_dn, query, ATTRIBUTES))
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning("login name matched %d directory accounts; refused", len(entries))
            return None
        return entries[0]

    def _search(
        self, conn: Connection, base: str, query: str, attributes: list[str], scope=SUBTREE
    ) -> Iterator[dict]:
        ok = conn.search(base, query, search_scope=scope, attributes=attributes, paged_size=500)
        if not ok and conn.result["result"] not in (RESULT_SUCCESS, 32):  # 32: no such object
            raise LDAPDirectoryError(conn.result.get("description", "search failed"))
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                yield item

    def _bind_as(self, server: Server, url: str, dn: str, password: str) -> Outcome:
        conn = self._connection(server, dn, password)
        try:
            if conn.bind():
                return Outcome.OK
            result = conn.result
        finally:
            conn.unbind()
        if result["result"] != RESULT_INVALID_CREDENTIALS:
            log.warning("user bind at %s answered %s", url, result.get("description"))
            raise LDAPDirectoryError(result.get("description", "bind failed"))
        match = _DATA.search(result.get("message") or "")
        return _DATA_CODES.get(match.group(1).lower() if match else "", Outcome.BAD_CREDENTIALS)

    def _account(self, conn: Connection, entry: dict) -> Account:
        roles = self.settings.group_roles(self._groups_of(conn, entry["dn"]))
        sam = _first(entry, "sAMAccountName")
        return Account(
            guid=_guid(entry),
            username=sam.lower(),
            display_name=_first(entry, "displayName") or sam,
            email=_first(entry, "mail") or None,
            roles=roles,
            department=_first(entry, "department") or None,
            # Locked out or a password to change is passing; disabled or expired is not.
            enabled=_account_state(entry) not in {Outcome.DISABLED, Outcome.ACCOUNT_EXPIRED},
        )

    def _groups_of(self, conn: Connection, user_dn: str) -> set[str]:
        """The mapped groups that hold the user, directly or through nested groups."""
        wanted = {dn for groups in self.settings.role_groups.values() for dn in groups}
        member = escape_filter_chars(user_dn)
        held = set()
        for dn in wanted:
            # One base search per mapped group: the directory walks the nesting for us.
            query = f"(member:{IN_CHAIN}:={member})"
            if any(True for _ in self._search(conn, dn, query, ["objectClass"], scope=BASE)):
                held.add(dn)
        return held

    # -- sync -----------------------------------------------------------------------------

    def lookup(self, guids: list[str]) -> Iterator[tuple[str, Account | None]]:
        """Each Tallenne directory user's current state in AD (None: no longer there)."""
        conn, _server, _url = self._service()
        try:
            for guid in guids:
                raw = uuid.UUID(guid).bytes_le
                query = f"(&(objectClass=user)(objectGUID={escape_bytes(raw)}))"
                entries = list(self._search(conn, self.settings.base_dn, query, ATTRIBUTES))
                yield guid, self._account(conn, entries[0]) if len(entries) == 1 else None
        finally:
            conn.unbind()


class _VerifiedTls(Tls):
    """TLS whose certificate and host name checks are the standard library's own.

    ldap3 turns the context's host name check off and calls the deprecated (and, since Python
    3.12, removed) ssl.match_hostname instead; here the handshake itself verifies both, against
    the configured CA or the system's, with TLS 1.2 at least."""

    def wrap_socket(self, connection, do_handshake=False):
        context = ssl.create_default_context(cafile=self.ca_certs_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        connection.socket = context.wrap_socket(
            connection.socket,
            server_hostname=connection.server.host,
            do_handshake_on_connect=do_handshake,
        )


class LDAPDirectoryError(LDAPException):
    """The directory answered, but not with something a login can use."""


def _first(entry: dict, name: str) -> str:
    value = entry.get("attributes", {}).get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)


def _guid(entry: dict) -> str:
    raw = entry["raw_attributes"]["objectGUID"][0]
    return str(uuid.UUID(bytes_le=raw))


_NEVER = {0, 0x7FFFFFFFFFFFFFFF}
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _filetime(value: str) -> datetime | None:
    """AD's 100-nanosecond ticks since 1601 (0 and the maximum mean never)."""
    ticks = _int(value)
    if ticks in _NEVER or ticks < 0:
        return None
    return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)


def _account_state(entry: dict) -> Outcome:
    """The account's state as its attributes tell it (read after the password proved right)."""
    uac = _int(_first(entry, "userAccountControl"))
    computed = _int(_first(entry, "msDS-User-Account-Control-Computed"))
    if uac & UF_ACCOUNTDISABLE:
        return Outcome.DISABLED
    if computed & UF_LOCKOUT:
        return Outcome.LOCKED
    expires = _filetime(_first(entry, "accountExpires"))
    if expires is not None and expires <= datetime.now(UTC):
        return Outcome.ACCOUNT_EXPIRED
    if (computed | uac) & UF_PASSWORD_EXPIRED:
        return Outcome.PASSWORD_EXPIRED
    if _first(entry, "pwdLastSet") == "0":
        return Outcome.MUST_CHANGE_PASSWORD
    return Outcome.OK


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
