"""The DCE/RPC server behind ``wts sim serve``'s pipes (MS-RPCE over named pipes).

API: ``RpcPipe(pipe, server, accounts, farm)`` is one open of a named pipe (an ``_smbserver.Pipe``):
its association (bind / alter_context, NTLM or SPNEGO authentication at the level the client asks,
connect to privacy, through ``_auth.ServerAuth``), its calls (request fragments reassembled, answers
fragmented at the client's max_recv_frag, signed or sealed as the level asks) and their dispatch by
interface and opnum to ``_tsserver.HANDLERS``.

Faults as Windows gives them: an interface not served on the pipe is a rejected presentation
context; an opnum no handler serves, ``nca_s_op_rng_error``; a request that does not parse,
``rpc_x_bad_stub_data``; a PDU that does not parse, ``nca_s_proto_error``; one that fails its check
(or comes after a failed logon), access denied; a server the farm makes unreachable or busy, 1722 /
1723, as the RPC runtime reports them.  Everything else a call refuses goes back in its own status.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterable

from .._winerror import WinError
from . import _calls, _frames, _lsaserver, _lsat, _pdu, _status
from ._auth import Account, AuthError, ServerAuth
from ._ndr import ProtocolError
from ._tally import Tally
from ._tsserver import HANDLERS as _TS_HANDLERS
from ._tsserver import Calls, Farm, Fault

__all__ = ["PIPES", "RpcPipe"]

#: The interfaces each pipe serves (MS-TSTS 2.1).
PIPES: dict[str, tuple[_calls.Interface, ...]] = {}
for _iface in (_calls.TERMSRV_SESSION, _calls.TERMSRV_ENUMERATION, _calls.RCM_PUBLIC, _calls.LEGACY_API, _lsat.LSARPC):
    PIPES.setdefault(_iface.pipe.lower(), ())
    PIPES[_iface.pipe.lower()] += (_iface,)

#: Every call served: MS-TSTS's (``_tsserver``) and the LSA lookups (``_lsaserver``).
HANDLERS = {**_TS_HANDLERS, **_lsaserver.HANDLERS}

MAX_FRAG = 5840  # what we receive; what we send is the client's max_recv_frag, up to 65535


class _Protector:
    """``_pdu.Protector`` over a completed ``ServerAuth``."""

    def __init__(self, auth: ServerAuth, context_id: int) -> None:
        self.auth = auth
        self.auth_type = auth.auth_type
        self.auth_level = auth.auth_level
        self.context_id = context_id
        self.signature_size = auth.signature_size

    def wrap(self, header: bytes, body: bytes, trailer: bytes) -> tuple[bytes, bytes]:
        return self.auth.seal(header, body, trailer)

    def unwrap(self, header: bytes, body: bytes, trailer: bytes, signature: bytes) -> bytes:
        return self.auth.unseal(header, body, trailer, signature)


class RpcPipe:
    """One open of an MS-TSTS pipe on one simulated server: an RPC association."""

    def __init__(
        self,
        pipe: str,
        server: str,
        accounts: Iterable[Account],
        farm: Farm,
        tally: Tally | None = None,
        *,
        kerberos: bool = False,
        on_logon: Callable[[ServerAuth], None] | None = None,
    ) -> None:
        self.pipe = pipe
        self.kerberos = kerberos  # Kerberos accepted too (auth types 9 and 16): ``_auth.ServerAuth``
        self.on_logon = on_logon  # called once the association's client is verified (ServerAuth's)
        self.tally = tally  # benchmarks: calls counted (``_tally``)
        self.server = server
        self.accounts = tuple(accounts)
        self.farm = farm
        self.interfaces = PIPES.get(pipe.lower(), ())
        self.contexts: dict[int, _calls.Interface] = {}
        self.auth: ServerAuth | None = None
        self.auth_context_id = 0
        self.auth_failed = False
        self.protector: _Protector | None = None
        self.xmit = MAX_FRAG
        self.assoc_group = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF or 1
        self.calls = Calls(server, farm)
        self.reassembly = _pdu.Reassembly(_pdu.REQUEST)
        self.buffer = b""
        self.answers: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    # -- the Pipe side -------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 10:
            try:
                size = _pdu.frag_length(self.buffer[:10])
            except ProtocolError:
                self._broken()
                return
            if len(self.buffer) < size:
                return
            pdu, self.buffer = self.buffer[:size], self.buffer[size:]
            await self._on_pdu(pdu)

    async def read(self) -> bytes:
        answer = await self.answers.get()
        if answer is None:
            self.answers.put_nowait(None)
            raise EOFError("the association is closed")
        return answer

    def close(self) -> None:
        self.closed = True
        self.answers.put_nowait(None)

    def _broken(self) -> None:
        self.buffer = b""
        self.close()

    def _send(self, *fragments: bytes) -> None:
        for fragment in fragments:
            self.answers.put_nowait(fragment)

    # -- PDUs ----------------------------------------------------------------------------------------

    async def _on_pdu(self, raw: bytes) -> None:
        try:
            pdu = _pdu.parse(raw, self.protector if raw[2] == _pdu.REQUEST else None)
        except ProtocolError:
            call_id = int.from_bytes(raw[12:16], "little") if len(raw) >= 16 else 0
            fault = WinError.ERROR_ACCESS_DENIED if self.protector is not None else _status.FAULT_PROTOCOL
            self._send(_frames.encode_fault(call_id, int(fault)))
            return
        except AuthError:
            self._send(_frames.encode_fault(int.from_bytes(raw[12:16], "little"), int(WinError.ERROR_ACCESS_DENIED)))
            return
        if isinstance(pdu, _pdu.Bind):
            self._bind(pdu)
        elif isinstance(pdu, _pdu.Auth3):
            self._auth3(pdu)
        elif isinstance(pdu, _pdu.Request):
            await self._request(pdu)
        # anything else (shutdown, orphaned, a client's response) needs no answer

    def _bind(self, bind: _pdu.Bind) -> None:
        call_id = bind.header.call_id
        first = bind.header.ptype == _pdu.BIND
        if first and self.contexts:
            self._send(_frames.encode_bind_nak(call_id, _pdu.NAK_REASON_NOT_SPECIFIED))
            return
        results = []
        for elem in bind.contexts:
            iface = next((i for i in self.interfaces if i.syntax == elem.abstract), None)
            if iface is None:
                results.append(_reject(_pdu.REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED))
            elif _pdu.NDR_SYNTAX not in elem.transfers:
                results.append(_reject(_pdu.REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED))
            else:
                self.contexts[elem.context_id] = iface
                results.append(_pdu.ContextResult(_pdu.RESULT_ACCEPTANCE, 0, _pdu.NDR_SYNTAX))
        auth, token = None, b""
        if bind.auth is not None:
            try:
                token = self._auth_step(bind.auth, bind.auth_value, first) or b""
            except AuthError:
                self._send(_frames.encode_bind_nak(call_id, _pdu.NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED))
                return
            auth = _pdu.SecTrailer(bind.auth.auth_type, bind.auth.auth_level, 0, bind.auth.context_id)
        if first:
            self.xmit = max(_pdu.MIN_FRAG, min(bind.max_recv_frag, _pdu.MAX_FRAG))
            encode = _frames.encode_bind_ack
            address = "\\PIPE\\" + self.pipe
        else:
            encode = _frames.encode_alter_context_resp
            address = ""
        self._send(
            encode(
                call_id,
                results,
                max_xmit_frag=self.xmit,
                max_recv_frag=MAX_FRAG,
                assoc_group=self.assoc_group,
                secondary_address=address,
                auth=auth,
                auth_value=token,
            )
        )

    def _auth_step(self, trailer: _pdu.SecTrailer, value: bytes, first: bool) -> bytes | None:
        if self.auth is None or (first and self.auth.complete):
            if trailer.auth_level not in (
                _pdu.AUTH_LEVEL_CONNECT,
                _pdu.AUTH_LEVEL_PKT_INTEGRITY,
                _pdu.AUTH_LEVEL_PKT_PRIVACY,
            ):
                raise AuthError(WinError.ERROR_ACCESS_DENIED, f"auth level {trailer.auth_level} is not supported")
            self.auth = ServerAuth(
                self.accounts, trailer.auth_type, trailer.auth_level, kerberos=self.kerberos, on_logon=self.on_logon
            )
            self.auth_context_id = trailer.context_id
        try:
            token = self.auth.step(value)
        except AuthError:
            self.auth_failed = True
            return None
        self._maybe_protect()
        return token

    def _auth3(self, pdu: _pdu.Auth3) -> None:
        if self.auth is None:
            return
        try:
            self.auth.step(pdu.auth_value)
        except AuthError:
            self.auth_failed = True  # rpc_auth_3 has no answer: the next request is refused
            return
        self._maybe_protect()

    def _maybe_protect(self) -> None:
        auth = self.auth
        if auth is not None and auth.complete and auth.auth_level >= _pdu.AUTH_LEVEL_PKT_INTEGRITY:
            self.protector = _Protector(auth, self.auth_context_id)

    async def _request(self, req: _pdu.Request) -> None:
        call_id = req.header.call_id
        iface = self.contexts.get(req.context_id)
        if self.auth_failed or (self.auth is not None and not self.auth.complete) or iface is None:
            denied = WinError.ERROR_ACCESS_DENIED if iface is not None else _status.FAULT_UNKNOWN_IF
            self.reassembly = _pdu.Reassembly(_pdu.REQUEST)
            self._send(_frames.encode_fault(call_id, int(denied), context_id=req.context_id, did_not_execute=True))
            return
        try:
            stub = self.reassembly.add(req)
        except ProtocolError:
            self.reassembly = _pdu.Reassembly(_pdu.REQUEST)
            self._send(_frames.encode_fault(call_id, _status.FAULT_PROTOCOL, context_id=req.context_id))
            return
        if stub is None:
            return  # more fragments to come
        self.reassembly = _pdu.Reassembly(_pdu.REQUEST)  # the next call has its own call id
        handler = HANDLERS.get((iface.syntax.uuid, req.opnum))
        if handler is None:
            self._send(
                _frames.encode_fault(call_id, _status.FAULT_OP_RANGE, context_id=req.context_id, did_not_execute=True)
            )
            return
        if self.tally is not None:
            self.tally.rpc_call(iface.name, req.opnum)
        try:
            answer = await handler(self.calls, stub)
        except ProtocolError:
            self._send(_frames.encode_fault(call_id, _status.FAULT_BAD_STUB, context_id=req.context_id))
            return
        except Fault as exc:
            self._send(_frames.encode_fault(call_id, exc.status, context_id=req.context_id))
            return
        self._send(
            *_frames.response_fragments(call_id, req.context_id, answer, max_frag=self.xmit, protector=self.protector)
        )


def _reject(reason: int) -> _pdu.ContextResult:
    return _pdu.ContextResult(_pdu.RESULT_PROVIDER_REJECTION, reason, _pdu.SyntaxId(uuid.UUID(int=0), 0))
