"""The Samba AD domain controller that the directory tests run against (tests/samba.py):
that it starts, listens where it should and nowhere else, and answers binds as AD does."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.samba import LDAPSocketOpenError, SambaDC, close, ldap3, ldap3_tls_warnings_ignored
from tests.support import require

pytestmark = pytest.mark.directory


PASSWORD = "Kes\u00e4-Salasana-2026!"
DATA = re.compile(r"AcceptSecurityContext error, data ([0-9a-f]+), v1db1$")
_n = iter(range(1, 10_000))


@pytest.fixture
def dc(samba_dc: SambaDC) -> SambaDC:
    require(shutil.which("samba") is not None, "samba is not installed")
    return samba_dc


def new_user(dc: SambaDC, prefix: str = "t") -> tuple[str, str]:
    sam = f"{prefix}.{next(_n)}.{os.getpid()}"[:20]
    return sam, dc.add_user(sam, PASSWORD, given="Aino", surname="Agentti", mail=f"{sam}@x.test")


def data_code(result: dict[str, object]) -> str:
    assert (result["result"], result["description"]) == (49, "invalidCredentials"), result
    match = DATA.search(str(result["message"]))
    assert match, result
    return match.group(1)


def _listening(pid: int) -> set[tuple[str, str, int]]:
    """(protocol, address, port) of the sockets the process listens on (TCP) or has bound
    (UDP), from /proc: the process's socket inodes matched against /proc/net."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode not in inodes or (proto.startswith("tcp") and state != "0A"):
                continue
            address, port = local.split(":")
            if len(address) == 8:
                address = ".".join(str(b) for b in reversed(bytes.fromhex(address)))
            found.add((proto, address, int(port, 16)))
    return found


def test_only_ldap_and_only_on_127_0_0_1(dc: SambaDC) -> None:
    assert dc.process is not None
    assert _listening(dc.process.pid) == {
        ("tcp", "127.0.0.1", port) for port in (389, 636, 3268, 3269)
    }


def test_the_service_account_binds_over_ldaps_and_starttls(dc: SambaDC) -> None:
    assert dc.try_bind(dc.bind_dn, dc.bind_password)["description"] == "success"
    server = ldap3.Server("127.0.0.1", port=389, tls=dc.tls(), get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=dc.bind_dn, password=dc.bind_password)
    try:
        with ldap3_tls_warnings_ignored():
            conn.open()
            assert conn.start_tls()
        assert conn.bind(), conn.result
        assert conn.search(dc.bind_dn, "(objectClass=user)", ldap3.BASE, attributes=["cn"])
        assert conn.entries[0].cn.value == "svc-tallenne"
    finally:
        close(conn)


def test_a_simple_bind_without_tls_is_refused(dc: SambaDC) -> None:
    server = ldap3.Server("127.0.0.1", port=389, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=dc.bind_dn, password=dc.bind_password)
    try:
        conn.open()
        assert not conn.bind()
        assert conn.result["description"] == "strongerAuthRequired"
        assert conn.result["message"] == "BindSimple: Transport encryption required."
    finally:
        close(conn)


def test_a_certificate_from_another_ca_is_refused(dc: SambaDC) -> None:
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY"):
        dc.open(dc.bind_dn, dc.bind_password, ca_file=dc.other_ca_file)


def test_bind_name_forms(dc: SambaDC) -> None:
    sam, dn = new_user(dc)
    for name in (dn, f"{sam}@{dc.upn_suffix}", f"{dc.domain}\\{sam}"):
        assert dc.try_bind(name, PASSWORD)["description"] == "success", name
    for name in (sam, f"{dc.upn_suffix}\\{sam}"):
        assert data_code(dc.try_bind(name, PASSWORD)) == "52e", name


@pytest.mark.parametrize(
    ("change", "right", "wrong"),
    [
        (None, None, "52e"),
        ("disable", "533", "52e"),
        ("lock_out", "775", "775"),
        ("expire_account", "701", "52e"),
        ("expire_password", "773", "52e"),
        ("age_out_password", "532", "52e"),
    ],
)
def test_what_a_simple_bind_answers(
    dc: SambaDC, change: str | None, right: str | None, wrong: str
) -> None:
    sam, dn = new_user(dc)
    if change:
        getattr(dc, change)(sam)
    for name in (dn, f"{sam}@{dc.upn_suffix}", f"{dc.domain}\\{sam}"):
        result = dc.try_bind(name, PASSWORD)
        if right is None:
            assert result["description"] == "success"
        else:
            assert data_code(result) == right
            assert result["message"] == (
                "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, "
                f"data {right}, v1db1"
            )
        assert data_code(dc.try_bind(name, "Wrong-Password-1!")) == wrong


def test_no_such_account(dc: SambaDC) -> None:
    for name in (f"CN=nobody,{dc.users_dn}", f"nobody@{dc.upn_suffix}", f"{dc.domain}\\nobody"):
        assert data_code(dc.try_bind(name, PASSWORD)) == "52e"


def test_each_change_can_be_undone(dc: SambaDC) -> None:
    sam, dn = new_user(dc)
    dc.disable(sam)
    dc.enable(sam)
    dc.lock_out(sam)
    assert dc.lockout_time(sam) != 0
    dc.unlock(sam)
    dc.expire_account(sam)
    dc.unexpire_account(sam)
    assert dc.try_bind(dn, PASSWORD)["description"] == "success"


def test_groups_nest_and_the_in_chain_rule_follows_them(dc: SambaDC) -> None:
    sam, dn = new_user(dc)
    outer, inner = f"outer-{sam}", f"inner-{sam}"
    outer_dn, inner_dn = dc.add_group(outer), dc.add_group(inner)
    dc.add_member(outer, inner)
    dc.add_member(inner, sam)
    assert {outer_dn, inner_dn} <= set(dc.groups_of(dn))
    dc.remove_member(inner, sam)
    assert not {outer_dn, inner_dn} & set(dc.groups_of(dn))


def test_a_rename_keeps_the_object_guid(dc: SambaDC) -> None:
    sam, dn = new_user(dc)
    guid = dc.object_guid(sam)
    new = f"r{sam}"[:20]
    new_dn = dc.rename(sam, new)
    assert new_dn == f"CN={new},{dc.users_dn}" != dn
    assert dc.object_guid(new) == guid
    assert dc.attribute(new, "userPrincipalName") == f"{new}@{dc.upn_suffix}"
    assert dc.attribute(new, "displayName") == "Aino Agentti"
    assert dc.try_bind(f"{new}@{dc.upn_suffix}", PASSWORD)["description"] == "success"
    assert data_code(dc.try_bind(f"{sam}@{dc.upn_suffix}", PASSWORD)) == "52e"


def test_the_service_account_is_no_administrator(dc: SambaDC) -> None:
    conn = dc.connect(dc.bind_dn, dc.bind_password)
    try:
        sam, _ = new_user(dc)
        assert not conn.modify(dc.dn(sam), {"description": [(ldap3.MODIFY_REPLACE, ["x"])]})
        assert conn.result["description"] == "insufficientAccessRights"
    finally:
        close(conn)
