"""The peers of ``wts bench tsts``: impacket's qwinsta pattern on a thread pool, and ``tstool.py qwinsta``
run once per server.

* ``ImpacketServer``: tstool's qwinsta, call for call, through impacket's own ``impacket.dcerpc.v5.tsts``
  classes over impacket's SMB transport: log on (``SMBConnection``), ``TermSrvEnumeration``
  (RpcOpenEnum, RpcGetEnumResult level 1, RpcCloseEnum), then ``TermSrvSession`` and one
  RpcGetSessionInformationEx per session.  ``connect_and_list`` is the cold pattern, ``list`` the same
  calls again on the open pipes (warm).  A server's calls run one after another (an impacket DCE
  connection carries one call at a time); servers run on a ``ThreadPoolExecutor``.
* ``tstool_qwinsta``: one ``python tstool.py DOMAIN/user:password@HOST qwinsta`` subprocess.  tstool
  takes no port: port 445 only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ImpacketServer", "find_impacket", "find_tstool", "tstool_qwinsta"]


def find_impacket() -> str | None:
    """None when impacket's tsts module can be used, else why not (one line)."""
    import importlib

    try:
        importlib.import_module("impacket.dcerpc.v5.tsts")
        importlib.import_module("impacket.smbconnection")
    except ImportError as exc:
        return f"impacket is not installed ({exc}); pip install impacket"
    return None


def find_tstool() -> str | None:
    """The path of impacket's tstool.py script, or None."""
    found = shutil.which("tstool.py")
    if found:
        return found
    beside = Path(sys.executable).with_name("tstool.py")
    return str(beside) if beside.exists() else None


class ImpacketServer:
    """One server through impacket: its SMB connection and the two LSM pipes, kept for ``list``."""

    def __init__(self, host: str, port: int, domain: str, user: str, password: str) -> None:
        self.host = host
        self.port = port
        self._logon = (user, password, domain)
        self._conn: Any = None
        self._lsm: Any = None
        self._session: Any = None

    def connect_and_list(self) -> int:
        from impacket.dcerpc.v5 import tsts  # type: ignore[import-untyped]
        from impacket.smbconnection import SMBConnection  # type: ignore[import-untyped]

        self._conn = SMBConnection(self.host, self.host, sess_port=self.port, timeout=60)
        self._conn.login(*self._logon)
        self._lsm = tsts.TermSrvEnumeration(self._conn, self.host, False)
        self._session = tsts.TermSrvSession(self._conn, self.host, False)
        return self.list()

    def list(self) -> int:
        """The qwinsta calls on the open pipes; the number of sessions listed (each one queried)."""
        handle = self._lsm.hRpcOpenEnum()
        rows = self._lsm.hRpcGetEnumResult(handle, Level=1)["ppSessionEnumResult"]
        self._lsm.hRpcCloseEnum(handle)
        for row in rows:
            session_id = row["SessionInfo"]["SessionEnum_Level1"]["SessionId"]
            self._session.hRpcGetSessionInformationEx(session_id)["LSMSessionInfoExPtr"]
        return len(rows)

    def close(self) -> None:
        for endpoint in (self._lsm, self._session):
            if endpoint is not None:
                try:
                    endpoint._disconnect()
                except Exception:
                    pass
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = self._lsm = self._session = None


def tstool_qwinsta(tstool: str, host: str, domain: str, user: str, password: str, timeout: float) -> int:
    """Run ``tstool.py qwinsta`` against ``host``; the number of session rows it printed.

    Raises RuntimeError with its first line of stderr when it fails."""
    out = subprocess.run(
        [sys.executable, tstool, f"{domain}/{user}:{password}@{host}", "qwinsta"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    lines = out.stdout.splitlines()
    # Its table: a header, a line of '=' under it, then one line per session.
    rule = next((i for i, line in enumerate(lines) if line.startswith("=")), None)
    if out.returncode != 0 or rule is None:
        why = (out.stderr.strip().splitlines() or out.stdout.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"tstool.py qwinsta {host}: exit {out.returncode}: {why[:200]}")
    return sum(1 for line in lines[rule + 1 :] if line.strip())
