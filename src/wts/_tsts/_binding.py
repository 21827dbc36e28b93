"""An RPC association on one named pipe (MS-RPCE 3.3.1, ncacn_np): bind with authentication, then
calls, each one exchange (FSCTL_PIPE_TRANSCEIVE) when its request fits in one fragment.

``Binding(pipe, interfaces, auth)`` binds lazily, on its first call: every interface the pipe serves
(``LSM_API_service`` serves TermSrvEnumeration and TermSrvSession) gets a presentation context in the
one bind, so a pipe needs no alter_context for the second interface.  Authentication follows the
auth type: NTLM's three legs end with auth3 (no answer), Negotiate's with alter_context until the
context is complete.  We offer 65,535-byte fragments; the server's bind_ack says what it takes.

Calls are serialised on the pipe (one at a time: the lock), reassembled from as many fragments as
the answer has, unsealed by the auth context.  Failures are ``RpcError`` with the Win32 code: a
fault PDU's status mapped by ``_status.from_fault``, a refused bind 5 (access denied, as the RPC
runtime reports a failed authentication), a malformed answer 1726 (RPC_S_CALL_FAILED: the call may
have run), and the SMB transport's own codes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import cast

from .._winerror import WinError
from . import _frames, _pdu
from ._auth import AuthError, ClientAuth
from ._calls import Interface
from ._ndr import ProtocolError
from ._smb import Pipe, SmbError
from ._status import from_fault

__all__ = ["MAX_FRAG_OFFERED", "Binding", "RpcError"]

#: What we offer at bind for both directions: the largest a fragment can be.  Fewer, larger fragments
#: mean fewer exchanges for a long answer (100 sessions in about 9 at 4,280 bytes, in 1 or 2 here).
MAX_FRAG_OFFERED = _pdu.MAX_FRAG
_NEGOTIATE_LEGS = 8  # Negotiate (SPNEGO) finishes in 2 or 3; more means a confused peer


class RpcError(Exception):
    """An RPC failure with its Win32 code (``winerror``); ``executed`` False when the call is known
    not to have run (a fault with PFC_DID_NOT_EXECUTE, or nothing sent)."""

    def __init__(self, winerror: int, message: str, executed: bool | None = None) -> None:
        super().__init__(message)
        self.winerror = int(winerror)
        self.executed = executed


class Binding:
    """One pipe's association: its presentation contexts, auth context, call ids and fragment sizes."""

    def __init__(self, pipe: Pipe, interfaces: Sequence[Interface], auth: ClientAuth | None) -> None:
        if not interfaces or any(i.pipe != pipe.name for i in interfaces):
            raise ValueError(f"interfaces {[i.name for i in interfaces]} are not all served on {pipe.name}")
        self.pipe = pipe
        self.interfaces = tuple(interfaces)
        self.auth = auth
        # ClientAuth is a Protector; its signature_size is a read-only property where the Protocol
        # spells a plain attribute, which mypy will not match structurally.
        self._protector = cast("_pdu.Protector | None", auth)
        self._lock = threading.Lock()
        self._bound = False
        self._broken: RpcError | None = None
        self._call_id = 0
        self._max_xmit = _pdu.MIN_FRAG  # what the server takes from us, until its bind_ack says
        self._assoc_group = 0

    def __repr__(self) -> str:
        names = "+".join(i.name for i in self.interfaces)
        return f"Binding({self.pipe.name}: {names}, {'bound' if self._bound else 'not bound'})"

    @property
    def server(self) -> str:
        return self.pipe.session.server

    def _next_call_id(self) -> int:
        self._call_id += 1
        return self._call_id

    # -- bind ------------------------------------------------------------------------------------

    def _contexts(self) -> list[_pdu.ContextElem]:
        return [_pdu.ContextElem(n, i.syntax, (_pdu.NDR_SYNTAX,)) for n, i in enumerate(self.interfaces)]

    def _trailer(self) -> _pdu.SecTrailer | None:
        auth = self.auth
        if auth is None:
            return None
        return _pdu.SecTrailer(auth.auth_type, auth.auth_level, 0, auth.context_id)

    def _step(self, token: bytes | None) -> bytes | None:
        assert self.auth is not None
        try:
            return self.auth.step(token)
        except AuthError as exc:
            raise RpcError(exc.winerror, f"{self.server}: {self.pipe.name}: {exc}", executed=False) from None

    def bind(self) -> None:
        """Bind now (the first call does it otherwise)."""
        with self._lock:
            self._bind_locked()

    def _bind_locked(self) -> None:
        if self._broken is not None:
            raise self._broken
        if self._bound:
            return
        token = self._step(None) if self.auth is not None else None
        flags = _pdu.PFC_FIRST_FRAG | _pdu.PFC_LAST_FRAG
        if self.auth is not None:
            flags |= _pdu.PFC_SUPPORT_HEADER_SIGN  # we sign the header: MS-RPCE 3.3.1.5.2.2
        bind = _frames.encode_bind(
            self._next_call_id(),
            self._contexts(),
            max_xmit_frag=MAX_FRAG_OFFERED,
            max_recv_frag=MAX_FRAG_OFFERED,
            auth=self._trailer(),
            auth_value=token or b"",
            flags=flags,
        )
        ack = self._exchange_control(bind, "bind")
        self._max_xmit = max(_pdu.MIN_FRAG, min(ack.max_recv_frag, MAX_FRAG_OFFERED))
        self._assoc_group = ack.assoc_group
        refused = [(i.name, r.result, r.reason) for i, r in zip(self.interfaces, ack.results) if r.result != 0]
        if refused or len(ack.results) != len(self.interfaces):
            raise RpcError(
                WinError.RPC_S_UNKNOWN_IF,
                f"{self.server}: {self.pipe.name}: the server refused interface(s) "
                + ", ".join(f"{name} (result {result}, reason {reason})" for name, result, reason in refused),
                executed=False,
            )
        if self.auth is not None:
            self._finish_auth(ack)
        self._bound = True

    def _finish_auth(self, ack: _pdu.BindAck) -> None:
        auth = self.auth
        assert auth is not None
        if not ack.auth_value:
            raise RpcError(
                WinError.ERROR_ACCESS_DENIED,
                f"{self.server}: {self.pipe.name}: the server's bind_ack carries no authentication",
                executed=False,
            )
        token = self._step(ack.auth_value)
        legs = 0
        while not auth.complete:
            legs += 1
            if token is None or legs > _NEGOTIATE_LEGS:
                raise RpcError(
                    WinError.ERROR_ACCESS_DENIED,
                    f"{self.server}: {self.pipe.name}: authentication did not complete",
                    executed=False,
                )
            alter = _frames.encode_alter_context(
                self._next_call_id(),
                self._contexts(),
                max_xmit_frag=MAX_FRAG_OFFERED,
                max_recv_frag=MAX_FRAG_OFFERED,
                assoc_group=self._assoc_group,
                auth=self._trailer(),
                auth_value=token,
                flags=_pdu.PFC_FIRST_FRAG | _pdu.PFC_LAST_FRAG | _pdu.PFC_SUPPORT_HEADER_SIGN,
            )
            answer = self._exchange_control(alter, "alter_context")
            token = self._step(answer.auth_value) if answer.auth_value else None
        if token:  # the last leg (NTLM's AUTHENTICATE): auth3, which has no answer
            trailer = self._trailer()
            assert trailer is not None
            self._send_only(_frames.encode_auth3(self._next_call_id(), trailer, token))

    def _exchange_control(self, pdu: bytes, what: str) -> _pdu.BindAck:
        answer = self._parse(self._transceive(pdu), what)
        if isinstance(answer, _pdu.BindNak):
            # A refused authentication is a bind_nak (reason 8 or 9) or, from Windows, access denied.
            raise RpcError(
                WinError.ERROR_ACCESS_DENIED,
                f"{self.server}: {self.pipe.name}: the server refused the {what} (bind_nak reason {answer.reason})",
                executed=False,
            )
        if isinstance(answer, _pdu.Fault):
            raise RpcError(from_fault(answer.status), f"{self.server}: {self.pipe.name}: {what} failed", False)
        if not isinstance(answer, _pdu.BindAck):
            raise self._bad(f"a PDU of type {answer.header.ptype} in answer to a {what}")
        return answer

    # -- calls -----------------------------------------------------------------------------------

    def call(self, interface: Interface, opnum: int, stub: bytes, timeout: float | None = None) -> bytes:
        """The response stub of ``opnum`` on ``interface`` called with ``stub``; RpcError on failure."""
        try:
            context_id = self.interfaces.index(interface)
        except ValueError:
            raise ValueError(f"{interface.name} is not bound on {self.pipe.name}") from None
        with self._lock:
            self._bind_locked()
            call_id = self._next_call_id()
            fragments = _frames.request_fragments(
                call_id, context_id, opnum, stub, max_frag=self._max_xmit, protector=self._protector
            )
            for fragment in fragments[:-1]:
                self._send_only(fragment)
            data = self._transceive(fragments[-1], timeout)
            reassembly = _pdu.Reassembly(_pdu.RESPONSE, call_id)
            while True:
                pdu, data = self._next_pdu(data, timeout)
                answer = self._parse(pdu, "response")
                if isinstance(answer, _pdu.Fault):
                    executed = not answer.header.flags & _pdu.PFC_DID_NOT_EXECUTE
                    raise RpcError(
                        from_fault(answer.status),
                        f"{self.server}: opnum {opnum} of {interface.name} failed (fault 0x{answer.status:08x})",
                        executed=None if executed else False,
                    )
                if not isinstance(answer, _pdu.Response):
                    raise self._bad(f"a PDU of type {answer.header.ptype} in answer to a request")
                try:
                    whole = reassembly.add(answer)
                except ProtocolError as exc:
                    raise self._bad(str(exc)) from None
                if whole is not None:
                    return whole

    def _next_pdu(self, data: bytes, timeout: float | None) -> tuple[bytes, bytes]:
        """The first whole fragment in ``data`` (reading on until it is whole), and what follows it."""
        while len(data) < 10:
            data += self._read(timeout)
        try:
            length = _pdu.frag_length(data)
        except ProtocolError as exc:
            raise self._bad(str(exc)) from None
        while len(data) < length:
            data += self._read(timeout)
        return data[:length], data[length:]

    # -- the pipe --------------------------------------------------------------------------------

    def _parse(self, pdu: bytes, what: str) -> _pdu.Pdu:
        try:
            return _pdu.parse(pdu, self._protector)  # only requests and responses are unwrapped
        except AuthError as exc:
            raise self._fail(RpcError(exc.winerror, f"{self.server}: {self.pipe.name}: {exc}")) from None
        except ProtocolError as exc:
            raise self._bad(f"{what}: {exc}") from None

    def _bad(self, why: str) -> RpcError:
        return self._fail(RpcError(WinError.RPC_S_CALL_FAILED, f"{self.server}: {self.pipe.name}: {why}"))

    def _fail(self, error: RpcError) -> RpcError:
        # The association is out of step (sequence numbers, call ids): nothing more goes on this pipe.
        self._broken = error
        return error

    def _transceive(self, pdu: bytes, timeout: float | None = None) -> bytes:
        try:
            return self.pipe.transceive(pdu, timeout)
        except SmbError as exc:
            raise self._fail(RpcError(exc.winerror, str(exc))) from None

    def _send_only(self, pdu: bytes) -> None:
        try:
            self.pipe.write(pdu)
        except SmbError as exc:
            raise self._fail(RpcError(exc.winerror, str(exc))) from None

    def _read(self, timeout: float | None) -> bytes:
        try:
            data = self.pipe.read(timeout)
        except SmbError as exc:
            raise self._fail(RpcError(exc.winerror, str(exc))) from None
        if not data:
            raise self._bad("the pipe ended in the middle of an answer")
        return data

    @property
    def broken(self) -> bool:
        """True once the association failed; the client opens a new pipe instead."""
        return self._broken is not None
