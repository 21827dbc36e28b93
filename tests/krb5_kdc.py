"""A throwaway MIT Kerberos realm on loopback, for the Kerberos tests (tests/test_tsts_kerberos.py).

``Realm.start(where, hosts)`` creates the realm ``WTS.TEST`` in ``where`` (its database, stash, kdc.conf,
krb5.conf, a keytab with ``host/NAME`` and ``cifs/NAME`` for each of ``hosts``, a user ``alice`` with a
password), runs ``krb5kdc -n`` on a free 127.0.0.1 port, and returns the Realm; ``env`` holds the
variables that point MIT Kerberos (and python-gssapi, which reads them through libkrb5) at it:
``KRB5_CONFIG``, ``KRB5_KDC_PROFILE``, ``KRB5CCNAME``, ``KRB5_KTNAME``.  Nothing outside ``where`` is
read or written: /etc/krb5.conf is never consulted once ``KRB5_CONFIG`` names ours.  ``kinit()`` gets
alice a ticket (her password on stdin), ``kdestroy()`` drops it, ``stop()`` ends the KDC (bounded).

``missing()`` names what this machine lacks (krb5kdc, kdb5_util, kadmin.local, kinit, python-gssapi),
or None.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

REALM = "WTS.TEST"
USER = "alice"
PASSWORD = "Kerb-Pa55w.rd"
_TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "kdestroy")
_SBIN = ("/usr/sbin", "/sbin")
_WAIT = 20.0  # seconds: any one tool, and the KDC coming up


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for where in _SBIN:
        path = os.path.join(where, name)
        if os.access(path, os.X_OK):
            return path
    return None


def missing() -> str | None:
    """What this machine lacks for a test realm (one phrase), or None."""
    absent = [name for name in _TOOLS if _tool(name) is None]
    try:
        import gssapi  # noqa: F401
    except ImportError:
        absent.append("python-gssapi (pip install gssapi)")
    if not absent:
        return None
    return "no " + ", ".join(absent) + " (apt install krb5-kdc krb5-admin-server krb5-user libkrb5-dev)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Realm:
    def __init__(self, where: Path, port: int) -> None:
        self.where = where
        self.port = port
        self.keytab = where / "server.keytab"
        self.ccache = where / "ccache"
        self.env = {
            "KRB5_CONFIG": str(where / "krb5.conf"),
            "KRB5_KDC_PROFILE": str(where / "kdc.conf"),
            "KRB5CCNAME": f"FILE:{self.ccache}",
            "KRB5_KTNAME": f"FILE:{self.keytab}",
            "KRB5_TRACE": str(where / "trace.log"),
        }
        self.kdc: subprocess.Popen[bytes] | None = None

    def run(self, tool: str, *args: str, stdin: str | None = None) -> str:
        path = _tool(tool)
        assert path is not None, tool
        done = subprocess.run(
            [path, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_WAIT,
            env={**os.environ, **self.env},
            check=False,
        )
        if done.returncode:
            raise AssertionError(f"{tool} {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    @classmethod
    def start(cls, where: Path, hosts: Iterable[str]) -> Realm:
        where.mkdir(parents=True, exist_ok=True)
        realm = cls(where, _free_port())
        port = realm.port
        (where / "krb5.conf").write_text(
            f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    ticket_lifetime = 1h
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}
""",
            encoding="utf-8",
        )
        (where / "kdc.conf").write_text(
            f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}
[realms]
    {REALM} = {{
        database_name = {where}/principal
        key_stash_file = {where}/stash
        acl_file = {where}/kadm5.acl
        kdc_listen = 127.0.0.1:{port}
        kdc_tcp_listen = 127.0.0.1:{port}
        max_life = 1h
    }}
[logging]
    kdc = FILE:{where}/kdc.log
""",
            encoding="utf-8",
        )
        (where / "kadm5.acl").write_text("", encoding="utf-8")
        realm.run("kdb5_util", "-r", REALM, "create", "-s", "-P", "master-" + PASSWORD)
        realm.run("kadmin.local", "-r", REALM, "-q", f"addprinc -pw {PASSWORD} {USER}")
        for host in hosts:
            for service in ("host", "cifs"):
                spn = f"{service}/{host.lower()}"
                realm.run("kadmin.local", "-r", REALM, "-q", f"addprinc -randkey {spn}")
                realm.run("kadmin.local", "-r", REALM, "-q", f"ktadd -k {realm.keytab} {spn}")
        kdc = _tool("krb5kdc")
        assert kdc is not None
        realm.kdc = subprocess.Popen(
            [kdc, "-n", "-r", REALM],
            env={**os.environ, **realm.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if realm.kdc.poll() is not None or time.monotonic() > deadline:
                    realm.stop()
                    log = (where / "kdc.log").read_text(errors="replace")[-400:] if (where / "kdc.log").exists() else ""
                    raise AssertionError(f"krb5kdc did not come up on 127.0.0.1:{port}: {log}") from None
                time.sleep(0.05)
        return realm

    def kinit(self) -> None:
        self.run("kinit", f"{USER}@{REALM}", stdin=PASSWORD + "\n")

    def kdestroy(self) -> None:
        self.run("kdestroy", "-q")

    def stop(self) -> None:
        kdc, self.kdc = self.kdc, None
        if kdc is None:
            return
        kdc.terminate()
        try:
            kdc.wait(timeout=_WAIT)
        except subprocess.TimeoutExpired:
            kdc.kill()
            kdc.wait()
