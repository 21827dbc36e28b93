"""What ``wts sim serve``'s side counts, for benchmarks: connections, SMB answers, RPC calls.

``Tally()`` is handed to ``_serve.serve(tally=)`` (and by it to each ``SmbServer`` and ``RpcPipe``);
without one nothing is counted.  Counted at the served side, so a client's round trips are known
without instrumenting the client: every SMB answer is one exchange the client waited for (the
server's ``latency`` delays each one), every TCP connection accepted one more round trip on a real
network (the injected latency does not delay it).  ``take()`` returns the counts so far and starts
again from zero; the asyncio loop is the only writer, ``take`` may run on another thread.
"""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["SMB_COMMANDS", "Tally"]

#: MS-SMB2 2.2.1.2: the names of the commands the server answers.
SMB_COMMANDS = {
    0: "NEGOTIATE",
    1: "SESSION_SETUP",
    2: "LOGOFF",
    3: "TREE_CONNECT",
    4: "TREE_DISCONNECT",
    5: "CREATE",
    6: "CLOSE",
    8: "READ",
    9: "WRITE",
    11: "IOCTL",
    12: "CANCEL",
    13: "ECHO",
}


class Tally:
    """Counts by key: ``tcp`` (connections accepted), ``smb`` (answers sent) and ``smb:COMMAND``,
    ``rpc`` (calls dispatched to a handler) and ``rpc:INTERFACE:OPNUM``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def connection(self) -> None:
        with self._lock:
            self._counts["tcp"] += 1

    def smb_answer(self, command: int) -> None:
        name = SMB_COMMANDS.get(command, str(command))
        with self._lock:
            self._counts["smb"] += 1
            self._counts["smb:" + name] += 1

    def rpc_call(self, interface: str, opnum: int) -> None:
        with self._lock:
            self._counts["rpc"] += 1
            self._counts[f"rpc:{interface}:{opnum}"] += 1

    def take(self) -> dict[str, int]:
        """The counts since the last ``take`` (or since creation), and zero again."""
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts
