"""A real, private Samba Active Directory domain controller for the tests.

``start_samba(workdir)`` provisions a fresh domain CORP / corp.example.test into ``workdir``
(about 4 s), makes a test CA and a server certificate, and runs ``samba`` in the foreground
(``-i -M single``; it ends when its stdin, a pipe from this process, closes, so a killed test
run leaves no DC behind), bound to 127.0.0.1 only; 5 to 9 s in all until LDAPS takes a bind.
Only the LDAP service runs (``server services = ldap``): 389 (StartTLS; a simple bind without
TLS is refused, "strongerAuthRequired"), 636 (LDAPS), and the global catalog ports 3268/3269,
which Samba's LDAP service always opens too. No DNS (53), no Kerberos (88/464), no SMB
(139/445), no NetBIOS, no RPC. Samba's LDAP ports cannot be moved, so there is one DC per
machine at a time: a start waits (up to ``LOCK_WAIT_S``) for the lock file that another test
run's DC holds.

Needs Debian's ``samba``, ``samba-dsdb-modules`` (the ldb modules of sam.ldb),
``samba-vfs-modules`` (provisioning sets the sysvol ACL through ``acl_xattr``),
``samba-ad-provision`` (the schema) and the ``openssl`` command, which makes the certificates
(the venv has no ``cryptography``). ``missing_tools()`` says what is missing.

What Samba 4.17 answers to a SIMPLE bind over LDAPS (ldap3; ``conn.result``; the bind name may
be the DN, the UPN or ``CORP\\sam``, the answer is the same). Every refusal is result 49,
description ``"invalidCredentials"``, and the message
``"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data NNN, v1db1"``
(as Windows AD, same DSID for all), with NNN:

==============================================  =========================================
account state                                   right password      wrong password
==============================================  =========================================
normal                                          0 "success", ""     data 52e
no such account (DN, UPN or CORP\\sam)          -                   data 52e
disabled (userAccountControl ACCOUNTDISABLE)    data 533            data 52e
locked out (lockoutTime set by 5 bad binds)     data 775            data 775 (!)
account expired (accountExpires in the past)    data 701            data 52e
must change password (pwdLastSet = 0)           data 773            data 52e
password too old (pwdLastSet > maxPwdAge ago)   data 532            data 52e
==============================================  =========================================

So 533/701/773/532 imply that the password was right; 775 does not (AD behaves the same). A
simple bind with an empty password is refused by ldap3 itself (LDAPPasswordIsMandatoryError)
before anything is sent. Bind names that do NOT work on Samba: the bare ``sam`` and
``corp.example.test\\sam`` (both 52e). LDAP_MATCHING_RULE_IN_CHAIN
``(member:1.2.840.113556.1.4.1941:=<userDN>)`` works: it finds the groups of groups.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

with warnings.catch_warnings():
    # ldap3 2.9.1 imports names that pyasn1 >= 0.6 deprecates (tagMap, typeMap); the tests
    # turn warnings into errors, so only these two are let through, and only on import.
    warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError
    from ldap3.utils.conv import escape_filter_chars

REALM = "CORP.EXAMPLE.TEST"
DOMAIN = "CORP"
UPN_SUFFIX = "corp.example.test"
BASE_DN = "DC=corp,DC=example,DC=test"
HOST = "127.0.0.1"
ADMIN_PASSWORD = "Adm1n-Tallenne-Test!"
SERVICE_ACCOUNT = "svc-tallenne"
SERVICE_PASSWORD = "Svc-Tallenne-Test-1!"
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 60  # long enough never to end during a run
START_DEADLINE_S = 60.0
LOCK_WAIT_S = 600.0
LOCK_PATH = Path(tempfile.gettempdir()) / "tallenne-samba-dc.lock"
PACKAGES = "samba samba-dsdb-modules samba-vfs-modules samba-ad-provision openssl"

# userAccountControl bits
ACCOUNTDISABLE = 0x2
NORMAL_ACCOUNT = 0x200
DONT_EXPIRE_PASSWORD = 0x10000


__all__ = ["LDAPSocketOpenError", "SambaDC", "SambaError", "samba_dc", "start_samba"]


class SambaError(RuntimeError):
    pass


def missing_tools() -> str | None:
    """Why a DC cannot be started here, or None."""
    for tool in ("samba", "samba-tool", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {PACKAGES})"
    if not Path("/usr/share/samba/setup/ad-schema").is_dir():
        return f"samba-ad-provision is not installed (apt-get install {PACKAGES})"
    return None


@contextmanager
def ldap3_tls_warnings_ignored() -> Iterator[None]:
    """ldap3 2.9.1 checks the server's name with ``ssl.match_hostname``, deprecated since
    Python 3.7 and warned about since 3.10; with warnings as errors, every LDAPS connection
    that checks the certificate would fail. Only that warning is ignored, and only inside."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"ssl\.match_hostname\(\) is deprecated", DeprecationWarning
        )
        yield


def close(conn: ldap3.Connection) -> None:
    """Unbind, and close the socket even when ldap3 left it open after a failed open."""
    with suppress(LDAPException):
        conn.unbind()
    if conn.socket is not None:
        conn.socket.close()


def _env() -> dict[str, str]:
    # No Kerberos settings of the user's may leak in.
    return {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run(args: list[str], *, timeout: float = 120) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, env=_env()
    )
    if done.returncode != 0:
        raise SambaError(
            f"{args[0]} {args[1]} ... exited with {done.returncode}:\n"
            f"{_tail(done.stdout)}\n{_tail(done.stderr)}"
        )
    return done.stdout


def _filetime(when: datetime) -> int:
    """AD time: 100 ns intervals since 1601-01-01 UTC."""
    return int((when - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


# --- certificates -----------------------------------------------------------------------


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", f"/O=Tallenne tests/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ]
    )  # fmt: skip
    return key, cert


def _make_server_cert(directory: Path, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )
    _run(
        [
            "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost",
        ]
    )  # fmt: skip
    _run(
        [
            "openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert),
            "-CAkey", str(ca_key), "-set_serial", str(int(time.time() * 1000)),
            "-days", "2", "-extfile", str(ext), "-out", str(cert),
        ]
    )  # fmt: skip
    key.chmod(0o600)  # Samba refuses a key file that others can read
    return key, cert


# --- one DC per machine -----------------------------------------------------------------

_running: SambaDC | None = None  # the DC this process runs, if any


def _take_machine_lock() -> IO[str]:
    """Samba's ports are fixed, so DCs of concurrent test runs take turns."""
    lock = LOCK_PATH.open("a+")
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.seek(0)
                holder = lock.read().strip() or "?"
                lock.close()
                raise SambaError(
                    f"process {holder} has run a Samba DC on {HOST} for over "
                    f"{LOCK_WAIT_S:.0f} s (lock {LOCK_PATH}); one DC per machine at a time"
                ) from None
            time.sleep(0.5)
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _wait_for_free_ports() -> None:
    """A DC that does not take the lock (of an older tests/samba.py, or not ours) may still
    hold the ports for a while."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while busy := [port for port in (389, 636, 3268, 3269) if _answers(port)]:
        if time.monotonic() > deadline:
            raise SambaError(
                f"something else has listened on {HOST}:{busy[0]} for over {LOCK_WAIT_S:.0f} s "
                "(`ss -ltnp`); Samba's LDAP ports cannot be moved"
            )
        time.sleep(0.5)


# Run by Samba's Python: pwdLastSet set to any time on the local sam.ldb.
_SET_PWD_LAST_SET = """
import sys, ldb
from samba import dsdb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
conf, url, dn, value = sys.argv[1:]
lp = LoadParm()
lp.load(conf)
db = SamDB(url=url, session_info=system_session(), lp=lp)
m = ldb.Message(ldb.Dn(db, dn))
m["pwdLastSet"] = ldb.MessageElement(value, ldb.FLAG_MOD_REPLACE, "pwdLastSet")
db.modify(m, controls=["local_oid:%s:0" % dsdb.DSDB_CONTROL_BYPASS_PASSWORD_HASH_OID])
"""


def _samba_python() -> str:
    """The interpreter samba-tool runs on: the one with Samba's Python modules."""
    tool = shutil.which("samba-tool")
    assert tool is not None
    with open(tool, "rb") as f:
        first = f.readline().decode().strip()
    return first[2:].strip().split()[0] if first.startswith("#!") else "/usr/bin/python3"


# --- the DC -----------------------------------------------------------------------------


class SambaDC:
    """A running DC. The helpers change the directory as Administrator over LDAPS (one
    connection, kept open; not for use from several threads at once)."""

    url = f"ldaps://{HOST}:636"
    ldap_url_starttls = f"ldap://{HOST}:389"
    base_dn = BASE_DN
    domain = DOMAIN
    realm = REALM
    upn_suffix = UPN_SUFFIX
    users_dn = f"CN=Users,{BASE_DN}"
    admin_dn = f"CN=Administrator,CN=Users,{BASE_DN}"
    admin_password = ADMIN_PASSWORD
    bind_dn = f"CN={SERVICE_ACCOUNT},CN=Users,{BASE_DN}"
    bind_password = SERVICE_PASSWORD
    lockout_threshold = LOCKOUT_THRESHOLD

    def __init__(self, workdir: Path, ca_file: Path, other_ca_file: Path) -> None:
        self.workdir = workdir
        self.smb_conf = workdir / "etc" / "smb.conf"
        self.log_file = workdir / "samba.log"
        self.ca_file = str(ca_file)
        self.other_ca_file = str(other_ca_file)
        self.process: subprocess.Popen[bytes] | None = None
        self._admin: ldap3.Connection | None = None
        self._lock: IO[str] | None = None

    # -- process -------------------------------------------------------------------------

    def _start(self) -> None:
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                ["samba", "-i", "-M", "single", "-s", str(self.smb_conf), "--debuglevel=1"],
                stdin=subprocess.PIPE,  # in -i mode samba ends when its stdin closes
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=_env(),
            )
        deadline = time.monotonic() + START_DEADLINE_S
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise SambaError(
                    f"samba exited with {code} while starting; its log ({self.log_file}) "
                    f"ends:\n{self.log_tail()}"
                )
            if not _answers(636):  # not ldap3 yet: it leaves sockets open when refused
                time.sleep(0.1)
                continue
            try:
                self.connect(self.admin_dn, self.admin_password).unbind()
            except (OSError, LDAPException, SambaError) as exc:
                last = exc
                time.sleep(0.2)
                continue
            return
        self.stop()
        raise SambaError(
            f"LDAPS on {self.url} did not accept a bind within {START_DEADLINE_S:.0f} s "
            f"(last error: {last!r}); samba's log ({self.log_file}) ends:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return _tail(self.log_file.read_text(errors="replace"), lines)
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        """Stop samba and wait for it; idempotent."""
        global _running
        if self._admin is not None:
            close(self._admin)
            self._admin = None
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)
            if process.stdin:
                process.stdin.close()
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
        if _running is self:
            _running = None

    # -- connections ---------------------------------------------------------------------

    def tls(self, ca_file: str | None = None) -> ldap3.Tls:
        return ldap3.Tls(
            ca_certs_file=ca_file or self.ca_file,
            validate=ssl.CERT_REQUIRED,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )

    def server(self, ca_file: str | None = None) -> ldap3.Server:
        return ldap3.Server(
            HOST, port=636, use_ssl=True, tls=self.tls(ca_file), get_info=ldap3.NONE,
            connect_timeout=5,
        )  # fmt: skip

    def open(self, user: str, password: str, *, ca_file: str | None = None) -> ldap3.Connection:
        """A connection over LDAPS after a simple bind, whatever its outcome (see its
        ``result`` and ``bound``). Raises only if no TLS connection could be made (for
        example LDAPSocketOpenError with ``other_ca_file``). ``close()`` it when done."""
        conn = ldap3.Connection(
            self.server(ca_file),
            user=user,
            password=password,
            authentication=ldap3.SIMPLE,
            receive_timeout=10,
        )
        try:
            with ldap3_tls_warnings_ignored():
                conn.open()
            conn.bind()
        except BaseException:
            close(conn)
            raise
        return conn

    def connect(self, user: str, password: str) -> ldap3.Connection:
        """A bound connection over LDAPS; raises SambaError if the bind is refused."""
        conn = self.open(user, password)
        if not conn.bound:
            result = dict(conn.result)
            close(conn)
            raise SambaError(f"bind as {user} refused: {result}")
        return conn

    def try_bind(self, user: str, password: str) -> dict[str, object]:
        """A simple bind over LDAPS as the app does it: ``conn.result``, whatever it is."""
        conn = self.open(user, password)
        try:
            return dict(conn.result)
        finally:
            close(conn)

    @property
    def admin(self) -> ldap3.Connection:
        if self._admin is None or self._admin.closed:
            self._admin = self.connect(self.admin_dn, self.admin_password)
        return self._admin

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            raise SambaError(f"{what}: {self.admin.result}")

    # -- lookups -------------------------------------------------------------------------

    def entry(self, sam: str, attributes: list[str] | None = None) -> ldap3.Entry:
        """The one entry with this sAMAccountName (user or group); all attributes by default."""
        self.admin.search(
            self.base_dn,
            f"(sAMAccountName={escape_filter_chars(sam)})",
            attributes=attributes or [ldap3.ALL_ATTRIBUTES],
        )
        if len(self.admin.entries) != 1:
            raise SambaError(f"sAMAccountName={sam!r}: {len(self.admin.entries)} entries")
        return self.admin.entries[0]

    def dn(self, sam: str) -> str:
        return self.entry(sam, ["sAMAccountName"]).entry_dn

    def attribute(self, sam: str, name: str) -> object:
        """One attribute's value as ldap3 gives it without a schema (str, or bytes), or a
        list when there are several, or None."""
        return self.entry(sam, [name])[name].value

    def object_guid(self, sam: str) -> str:
        """objectGUID as a UUID string, ``str(uuid.UUID(bytes_le=raw))`` (as the app keeps it)."""
        raw = self.entry(sam, ["objectGUID"])["objectGUID"].raw_values[0]
        return str(uuid.UUID(bytes_le=raw))

    def groups_of(self, user_dn: str) -> list[str]:
        """DNs of all groups the account is in, through nested groups too, found by
        LDAP_MATCHING_RULE_IN_CHAIN."""
        chain = f"(member:1.2.840.113556.1.4.1941:={escape_filter_chars(user_dn)})"
        self.admin.search(self.base_dn, f"(&(objectClass=group){chain})", attributes=["cn"])
        return sorted(e.entry_dn for e in self.admin.entries)

    def lockout_time(self, sam: str) -> int:
        """lockoutTime as a FILETIME; 0 when the account is not locked out."""
        raw = self.entry(sam, ["lockoutTime"])["lockoutTime"].raw_values
        return int(raw[0]) if raw else 0

    # -- changes -------------------------------------------------------------------------

    def add_user(
        self,
        sam: str,
        password: str,
        *,
        given: str,
        surname: str,
        mail: str | None = None,
        never_expires: bool = False,
    ) -> str:
        """A normal, enabled user ``CN=<sam>,CN=Users,...`` with UPN ``sam@corp.example.test``
        and displayName "given surname"; returns its DN. (sAMAccountName: at most 20 chars.)"""
        dn = f"CN={sam},{self.users_dn}"
        attributes: dict[str, object] = {
            "sAMAccountName": sam,
            "userPrincipalName": f"{sam}@{self.upn_suffix}",
            "givenName": given,
            "sn": surname,
            "displayName": f"{given} {surname}",
            "unicodePwd": f'"{password}"'.encode("utf-16-le"),
            "userAccountControl": str(
                NORMAL_ACCOUNT | (DONT_EXPIRE_PASSWORD if never_expires else 0)
            ),
        }
        if mail:
            attributes["mail"] = mail
        classes = ["top", "person", "organizationalPerson", "user"]
        self._check(self.admin.add(dn, classes, attributes), f"add user {sam}")
        return dn

    def add_group(self, name: str) -> str:
        """A global security group ``CN=<name>,CN=Users,...``; returns its DN."""
        dn = f"CN={name},{self.users_dn}"
        self._check(
            self.admin.add(dn, ["top", "group"], {"sAMAccountName": name}), f"add group {name}"
        )
        return dn

    def add_member(self, group: str, member: str) -> None:
        """``group`` and ``member`` are sAMAccountNames; the member a user or another group."""
        change = {"member": [(ldap3.MODIFY_ADD, [self.dn(member)])]}
        self._check(self.admin.modify(self.dn(group), change), f"add {member} to {group}")

    def remove_member(self, group: str, member: str) -> None:
        change = {"member": [(ldap3.MODIFY_DELETE, [self.dn(member)])]}
        self._check(self.admin.modify(self.dn(group), change), f"remove {member} from {group}")

    def _set(self, sam: str, **changes: str) -> None:
        modify = {name: [(ldap3.MODIFY_REPLACE, [value])] for name, value in changes.items()}
        self._check(self.admin.modify(self.dn(sam), modify), f"change {sorted(changes)} of {sam}")

    def _uac(self, sam: str) -> int:
        return int(self.attribute(sam, "userAccountControl"))

    def disable(self, sam: str) -> None:
        self._set(sam, userAccountControl=str(self._uac(sam) | ACCOUNTDISABLE))

    def enable(self, sam: str) -> None:
        self._set(sam, userAccountControl=str(self._uac(sam) & ~ACCOUNTDISABLE))

    def lock_out(self, sam: str) -> None:
        """Lock the account the way AD does: ``lockout_threshold`` simple binds with a wrong
        password. Raises unless lockoutTime is set afterwards. (About 0.3 s.)"""
        dn = self.dn(sam)
        for _ in range(self.lockout_threshold):
            self.try_bind(dn, "Wrong-Password-0!")
        if not self.lockout_time(sam):
            raise SambaError(f"{sam} is not locked out after {self.lockout_threshold} failures")

    def unlock(self, sam: str) -> None:
        self._set(sam, lockoutTime="0")

    def expire_account(self, sam: str) -> None:
        """accountExpires a day ago."""
        self._set(sam, accountExpires=str(_filetime(datetime.now(UTC) - timedelta(days=1))))

    def unexpire_account(self, sam: str) -> None:
        self._set(sam, accountExpires="0")

    def expire_password(self, sam: str) -> None:
        """ "User must change password at next logon": pwdLastSet = 0 (bind: data 773)."""
        self._set(sam, pwdLastSet="0")

    def age_out_password(self, sam: str, days: int = 100) -> None:
        """The password set ``days`` ago, beyond the domain's maxPwdAge of 42 days (bind: data
        532). LDAP only lets pwdLastSet be 0 or -1, so this writes to the DC's sam.ldb
        directly, through Samba's own Python (as samba-tool does; about 0.3 s), with the
        control that lets it bypass the password checks; the running DC sees it at once."""
        when = _filetime(datetime.now(UTC) - timedelta(days=days))
        _run(
            [
                _samba_python(), "-c", _SET_PWD_LAST_SET, str(self.smb_conf),
                str(self.workdir / "private" / "sam.ldb"), self.dn(sam), str(when),
            ]
        )  # fmt: skip

    def rename(self, sam: str, new_sam: str) -> str:
        """New sAMAccountName, UPN and CN (so a new DN too); objectGUID stays. The new DN."""
        self._set(sam, sAMAccountName=new_sam, userPrincipalName=f"{new_sam}@{self.upn_suffix}")
        self._check(self.admin.modify_dn(self.dn(new_sam), f"CN={new_sam}"), f"rename {sam}")
        return self.dn(new_sam)

    def delete(self, sam: str) -> None:
        self._check(self.admin.delete(self.dn(sam)), f"delete {sam}")


def start_samba(workdir: Path) -> SambaDC:
    """Provision a fresh domain into ``workdir`` (empty or not there yet) and start a DC on
    it, with the service account ``bind_dn`` made. Stop it with ``stop()``."""
    global _running
    reason = missing_tools()
    if reason:
        raise SambaError(reason)
    if _running is not None:
        raise SambaError(
            f"this process already runs a Samba DC (in {_running.workdir}); Samba's ports "
            "are fixed, so share that one (the samba_dc fixture does)"
        )
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise SambaError(f"{workdir} is not empty")
    tls_dir = workdir / "tls"
    tls_dir.mkdir()
    ca_key, ca_cert = _make_ca(tls_dir, "Tallenne Test CA")
    _make_ca(tls_dir, "Unrelated Test CA")
    key, cert = _make_server_cert(tls_dir, ca_key, ca_cert)
    dc = SambaDC(workdir, ca_cert, tls_dir / "Unrelated Test CA.pem")

    run_dir = workdir / "run"
    run_dir.mkdir()
    smb_conf = dc.smb_conf
    smb_conf.parent.mkdir()
    # An empty smb.conf of our own, so that nothing of /etc/samba/smb.conf is carried over.
    smb_conf.write_text("")
    options = {
        "interfaces": HOST,  # "lo" would bind ::1 too
        "bind interfaces only": "yes",
        "server services": "ldap",
        "log file": str(dc.log_file),
        "pid directory": str(run_dir),
        "ncalrpc dir": str(run_dir / "ncalrpc"),
        "winbindd socket directory": str(run_dir / "winbindd"),
        "ntp signd socket directory": str(run_dir / "ntp_signd"),
        "tls enabled": "yes",
        "tls keyfile": str(key),
        "tls certfile": str(cert),
        "tls cafile": str(ca_cert),
    }
    args = [
        "samba-tool", "domain", "provision", "-s", str(smb_conf),
        f"--targetdir={workdir}", f"--realm={REALM}", f"--domain={DOMAIN}",
        "--server-role=dc", "--dns-backend=NONE", f"--adminpass={ADMIN_PASSWORD}",
        # The machine may not resolve its own name: Samba gets a name and an address.
        "--host-name=tallennedc", f"--host-ip={HOST}",
    ]  # fmt: skip
    args += [f"--option={name} = {value}" for name, value in options.items()]
    _run(args)
    _run(
        [
            "samba-tool", "domain", "passwordsettings", "set", "-s", str(smb_conf),
            "-H", str(workdir / "private" / "sam.ldb"),
            f"--account-lockout-threshold={LOCKOUT_THRESHOLD}",
            f"--account-lockout-duration={LOCKOUT_MINUTES}",
            f"--reset-account-lockout-after={LOCKOUT_MINUTES}",
            "--min-pwd-age=0", "--history-length=0",
        ]
    )  # fmt: skip

    dc._lock = _take_machine_lock()
    _running = dc
    try:
        _wait_for_free_ports()
        dc._start()
        dc.add_user(
            SERVICE_ACCOUNT, SERVICE_PASSWORD, given="Tallenne", surname="Service",
            never_expires=True,
        )  # fmt: skip
    except BaseException:
        dc.stop()
        raise
    return dc


def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDC]:
    """The body of the session fixture: ``pytest.fixture(scope="session")(samba_dc)``. Skips
    (fails under CI=true) without Samba. Shares the DC if this process already runs one."""
    from tests.support import require

    reason = missing_tools()
    require(reason is None, f"no Samba AD DC: {reason}")
    if _running is not None:
        yield _running
        return
    dc = start_samba(tmp_path_factory.mktemp("samba"))
    try:
        yield dc
    finally:
        dc.stop()
