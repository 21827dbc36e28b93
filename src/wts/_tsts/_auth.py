"""RPC authentication over pyspnego: the client's and the server's security context, and the
signing and sealing of PDUs at packet integrity or privacy (MS-RPCE 2.2.2.11-2.2.2.13).

``ClientAuth`` logs on with NTLM (a user, domain and password: auth type ``RPC_C_AUTHN_WINNT``) or
with Negotiate (Kerberos from the ticket cache when python-gssapi is installed: ``GSS_NEGOTIATE``).
``ServerAuth`` is an NTLM (or SPNEGO-wrapped NTLM) acceptor for accounts held in memory, for the
loopback server (``wts sim serve``).  Both are DCE style: the signature covers the whole PDU
(header, stub and its padding, the 8-byte sec_trailer) and only the stub is encrypted.

Errors are ``AuthError`` with the Win32 code Windows gives: a refused logon is 1326, a PDU whose
signature does not verify is 5 (access denied), a missing dependency is a ``ProviderError`` naming
the ``remote`` extra.
"""

from __future__ import annotations

import contextvars
import hmac
import importlib
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from .._credentials import Credentials
from .._errors import ProviderError
from .._winerror import WinError
from ._ntlmseal import NtlmSealer

if TYPE_CHECKING:
    import spnego

__all__ = [
    "AUTHN_GSS_NEGOTIATE",
    "AUTHN_LEVEL_PKT_INTEGRITY",
    "AUTHN_LEVEL_PKT_PRIVACY",
    "AUTHN_WINNT",
    "Account",
    "AuthError",
    "ClientAuth",
    "ServerAuth",
    "import_remote",
    "ntlm_secret",
]

# MS-RPCE 2.2.1.1.7 / 2.2.1.1.8: the sec_trailer's auth_type and auth_level.
AUTHN_GSS_NEGOTIATE = 9
AUTHN_WINNT = 10
AUTHN_GSS_KERBEROS = 16
AUTHN_LEVEL_PKT_INTEGRITY = 5
AUTHN_LEVEL_PKT_PRIVACY = 6

EXTRA_HINT = "pip install 'wts[remote]'"


_IMPORTED: dict[str, Any] = {}


def import_remote(module: str) -> Any:
    """``module`` (spnego, smbprotocol, ...), or a one-line ProviderError naming the extra to install."""
    found = _IMPORTED.get(module)
    if found is not None:
        return found
    try:
        found = _IMPORTED[module] = importlib.import_module(module)
        return found
    except ImportError as exc:
        top = (exc.name or module).split(".")[0]
        raise ProviderError(
            f"the tsts provider needs {top}, which is not installed: {EXTRA_HINT} (smbprotocol and pyspnego)"
        ) from None


def ntlm_secret(password: str) -> str:
    """``password`` in pyspnego's ``LMHASH:NTHASH`` form.  pyspnego derives both hashes in pure
    Python (DES and MD4) at every NTLM logon, about a millisecond, twice per cold server (SMB and
    RPC); a caller that logs on to many servers derives them once and hands this to each logon.  A
    password already in that form is pyspnego's to read as it always has."""
    crypto = import_remote("spnego._ntlm_raw.crypto")
    if crypto.is_ntlm_hash(password):
        return password
    return f"{crypto.lmowfv1(password).hex()}:{crypto.ntowfv1(password).hex()}"


class AuthError(Exception):
    """Authentication or message protection failed; ``winerror`` is the Win32 code Windows gives."""

    def __init__(self, winerror: WinError, message: str) -> None:
        super().__init__(message)
        self.winerror = winerror


class Account:
    """One account a ``ServerAuth`` accepts: ``domain``, ``user`` and the password's NT and LM hashes
    (the password itself is not kept)."""

    __slots__ = ("domain", "lm_hash", "nt_hash", "user")

    def __init__(self, domain: str, user: str, password: str) -> None:
        crypto = import_remote("spnego._ntlm_raw.crypto")
        self.domain = domain
        self.user = user
        self.lm_hash: bytes = crypto.lmowfv1(password)
        self.nt_hash: bytes = crypto.ntowfv1(password)

    def __repr__(self) -> str:
        return f"Account(domain={self.domain!r}, user={self.user!r})"


class _Context:
    """What ClientAuth and ServerAuth share: the steps, and PDU signing and sealing."""

    auth_type: int
    auth_level: int
    #: The sec_trailer's auth_context_id: the binding that uses this context sets it.
    context_id: int = 0
    _ctx: spnego.ContextProxy
    #: The complete context's NtlmSealer, False when it has none (see _ntlm_fast); None: not known yet.
    _fast: NtlmSealer | Literal[False] | None = None
    #: signature_size once the context is complete (it asks pyspnego, which works it out each time).
    _signature_size: int | None = None

    def step(self, in_token: bytes | None) -> bytes | None:
        """The next token to send (None: nothing to send) from the peer's last one."""
        spnego_exc = import_remote("spnego.exceptions")
        try:
            with self._lookup():
                return self._ctx.step(in_token)
        except spnego_exc.SpnegoError as exc:
            raise AuthError(WinError.ERROR_LOGON_FAILURE, f"authentication failed: {_reason(exc)}") from None

    @property
    def complete(self) -> bool:
        return bool(self._ctx.complete)

    @property
    def session_key(self) -> bytes:
        return bytes(self._ctx.session_key)

    @property
    def signature_size(self) -> int:
        """Bytes of the auth_value after the sec_trailer of a protected PDU (16 for NTLM)."""
        size = self._signature_size
        if size is None:
            size = int(self._ctx.query_message_sizes().header)
            if self._ctx.complete:
                self._signature_size = size
        return size

    def seal(self, header: bytes, stub: bytes, trailer: bytes) -> tuple[bytes, bytes]:
        """``(stub', signature)``: at privacy the stub (with its pad) encrypted, at integrity unchanged;
        the signature covers ``header + stub + trailer`` (the PDU up to the auth_value, final lengths
        already in the header)."""
        privacy = self.auth_level == AUTHN_LEVEL_PKT_PRIVACY
        fast = self._ntlm_fast() if privacy else None
        if fast:
            return fast.seal(header, stub, trailer)
        spnego_exc = import_remote("spnego.exceptions")
        try:
            if privacy:
                iov = import_remote("spnego.iov")
                res = self._ctx.wrap_iov(
                    [
                        (iov.BufferType.sign_only, header),
                        (iov.BufferType.data, stub),
                        (iov.BufferType.sign_only, trailer),
                        iov.BufferType.header,
                    ],
                    encrypt=True,
                )
                return bytes(res.buffers[1].data or b""), bytes(res.buffers[3].data or b"")
            return stub, bytes(self._ctx.sign(header + stub + trailer))
        except spnego_exc.SpnegoError as exc:
            raise AuthError(WinError.ERROR_ACCESS_DENIED, f"cannot protect the message: {_reason(exc)}") from None

    def unseal(self, header: bytes, stub: bytes, trailer: bytes, signature: bytes) -> bytes:
        """The plain stub of a PDU the peer protected; AuthError (access denied) when its signature
        does not verify, as the RPC runtime rejects a tampered PDU."""
        privacy = self.auth_level == AUTHN_LEVEL_PKT_PRIVACY
        fast = self._ntlm_fast() if privacy else None
        if fast:
            plain, expected = fast.unseal(header, stub, trailer)
            if not hmac.compare_digest(expected, bytes(signature)):
                raise AuthError(WinError.ERROR_ACCESS_DENIED, "the message failed its check: a bad signature")
            return plain
        spnego_exc = import_remote("spnego.exceptions")
        try:
            if privacy:
                iov = import_remote("spnego.iov")
                res = self._ctx.unwrap_iov(
                    [
                        (iov.BufferType.sign_only, header),
                        (iov.BufferType.data, stub),
                        (iov.BufferType.sign_only, trailer),
                        (iov.BufferType.header, signature),
                    ]
                )
                return bytes(res.buffers[1].data or b"")
            self._ctx.verify(header + stub + trailer, signature)
            return stub
        except spnego_exc.SpnegoError as exc:
            raise AuthError(WinError.ERROR_ACCESS_DENIED, f"the message failed its check: {_reason(exc)}") from None

    def _ntlm_fast(self) -> NtlmSealer | None:
        """``NtlmSealer`` over pyspnego's NTLM context (its keys, RC4 handles and sequence numbers),
        which seals and checks as its ``wrap_iov`` and ``unwrap_iov`` do, without their per-message
        argument checks and flag arithmetic, and without releasing the GIL (see _ntlmseal).  None
        (use the public methods) for anything else: Negotiate, Kerberos, NTLM without extended
        session security, a pyspnego whose NTLM context does not look as expected."""
        fast = self._fast
        if fast is None:
            if not self._ctx.complete:
                return None
            fast = self._fast = NtlmSealer.of(self._ctx) or False
        return fast or None

    # _pdu.Protector's names for the same two operations.
    def wrap(self, header: bytes, body: bytes, trailer: bytes) -> tuple[bytes, bytes]:
        return self.seal(header, body, trailer)

    def unwrap(self, header: bytes, body: bytes, trailer: bytes, signature: bytes) -> bytes:
        return self.unseal(header, body, trailer, signature)

    @contextmanager
    def _lookup(self) -> Iterator[None]:
        yield


def _context_req(level: int) -> Any:
    spnego_mod = import_remote("spnego")
    req = spnego_mod.ContextReq
    flags = req.dce_style | req.integrity | req.replay_detect | req.sequence_detect
    if level == AUTHN_LEVEL_PKT_PRIVACY:
        flags |= req.confidentiality
    return flags


def _reason(exc: BaseException) -> str:
    """pyspnego's message, first line only, without the tokens some of them carry."""
    text = str(getattr(exc, "message", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


class ClientAuth(_Context):
    """The caller's security context for one RPC association.

    With a password: NTLM (``RPC_C_AUTHN_WINNT``), three legs (bind, bind_ack, auth3).  Without one
    (``credentials`` None, or no password): Negotiate, Kerberos from the ticket cache for
    ``host/<server>``; that needs python-gssapi and a ticket (``kinit``).
    """

    def __init__(
        self,
        credentials: Credentials | None,
        server: str,
        level: int = AUTHN_LEVEL_PKT_PRIVACY,
        secret: str | None = None,
    ) -> None:
        """``secret``: ``ntlm_secret(credentials.password)``, to log on without deriving it again."""
        spnego_mod = import_remote("spnego")
        spnego_exc = import_remote("spnego.exceptions")
        self.auth_level = level
        try:
            if credentials is not None and credentials.password is not None:
                self.auth_type = AUTHN_WINNT
                self._ctx = spnego_mod.client(
                    credentials.principal,
                    secret or credentials.password,
                    hostname=server,
                    service="host",
                    protocol="ntlm",
                    context_req=_context_req(level),
                    options=spnego_mod.NegotiateOptions.use_ntlm,
                )
            else:
                self.auth_type = AUTHN_GSS_NEGOTIATE
                self._ctx = spnego_mod.client(
                    credentials.principal if credentials is not None else None,
                    None,
                    hostname=server,
                    service="host",
                    protocol="negotiate",
                    context_req=_context_req(level),
                )
        except spnego_exc.SpnegoError as exc:
            raise AuthError(
                WinError.ERROR_LOGON_FAILURE,
                f"no credentials to log on with: {_reason(exc)} (give -U DOMAIN\\name and a password, "
                "or run kinit with python-gssapi installed)",
            ) from None

    def __repr__(self) -> str:
        return f"ClientAuth(auth_type={self.auth_type}, level={self.auth_level}, complete={self.complete})"


# -- the acceptor's accounts ------------------------------------------------------------------------
#
# pyspnego's NTLM acceptor finds an account's hashes through two functions of spnego._ntlm that read
# the file NTLM_USER_FILE names.  A process-wide variable and a password file on disk both fit a
# server badly (several servers, each with its own accounts, in one process).  So the two functions
# are wrapped once: while a ServerAuth steps (a context variable is set, per thread), the lookup
# answers from that ServerAuth's accounts; at any other time, and for anyone else, it is pyspnego's
# own.  tests/test_tsts_auth.py proves the lookup with a right and a wrong password.
#
# The NTLMv2 check is wrapped the same way.  pyspnego's acceptor rebuilds the client's blob from its
# parsed fields and appends four zero bytes (MS-NLMP's pseudo-code); impacket sends its blob without
# them, and Windows accepts it because it hashes the blob as received.  So while a ServerAuth steps,
# the proof is computed over the blob exactly as the client sent it, as Windows does.

_NTLM_AUTHENTICATE = b"NTLMSSP\x00\x03\x00\x00\x00"

_ACCOUNTS: contextvars.ContextVar[Mapping[tuple[str, str], Account] | None] = contextvars.ContextVar(
    "wts_tsts_accounts", default=None
)
_NT_BLOB: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("wts_tsts_nt_blob", default=None)


def _nt_response(token: bytes | None) -> bytes | None:
    """The NtChallengeResponse field of an NTLM AUTHENTICATE message in ``token`` (raw or in SPNEGO)."""
    if not token:
        return None
    at = token.find(_NTLM_AUTHENTICATE)
    if at < 0 or len(token) < at + 24:
        return None
    length, _, offset = struct.unpack_from("<HHI", token, at + 20)
    blob = token[at + offset : at + offset + length]
    return blob if len(blob) == length else None


_INSTALL_LOCK = threading.Lock()
_installed = False


def _install_account_lookup() -> None:
    global _installed
    with _INSTALL_LOCK:
        if _installed:
            return
        ntlm = import_remote("spnego._ntlm")
        spnego_exc = import_remote("spnego.exceptions")
        original_file: Callable[[], str | None] = ntlm._get_credential_file
        original_get: Callable[..., tuple[str | None, str | None, bytes, bytes]] = ntlm._get_credential

        def credential_file() -> str | None:
            return "<wts accounts>" if _ACCOUNTS.get() is not None else original_file()

        def get_credential(
            store: str | None, domain: str | None = None, username: str | None = None
        ) -> tuple[str | None, str | None, bytes, bytes]:
            accounts = _ACCOUNTS.get()
            if accounts is None:
                return original_get(store, domain, username)
            account = accounts.get(((domain or "").casefold(), (username or "").casefold()))
            if account is None:
                raise spnego_exc.SpnegoError(spnego_exc.ErrorCode.failure, context_msg="unknown user name")
            return account.domain or None, account.user, account.lm_hash, account.nt_hash

        original_v2: Callable[..., tuple[bytes, bytes, bytes]] = ntlm.compute_response_v2
        crypto = import_remote("spnego._ntlm_raw.crypto")

        def compute_response_v2(
            nt_hash: bytes, server_challenge: bytes, client_challenge: bytes, time: Any, av_pairs: Any
        ) -> tuple[bytes, bytes, bytes]:
            blob = _NT_BLOB.get()
            if _ACCOUNTS.get() is None or blob is None or len(blob) <= 16:
                return original_v2(nt_hash, server_challenge, client_challenge, time, av_pairs)
            temp = blob[16:]
            proof = crypto.hmac_md5(nt_hash, server_challenge + temp)
            lm = crypto.hmac_md5(nt_hash, server_challenge + client_challenge) + client_challenge
            return proof + temp, lm, crypto.hmac_md5(nt_hash, proof)

        ntlm._get_credential_file = credential_file
        ntlm._get_credential = get_credential
        ntlm.compute_response_v2 = compute_response_v2
        _installed = True


class ServerAuth(_Context):
    """An acceptor for the accounts given (NTLM for auth type 10, SPNEGO for 9); ``principal`` is
    ``DOMAIN\\\\user`` once ``complete``.

    ``kerberos``: also accept Kerberos (SPNEGO's Kerberos for 9, bare Kerberos for 16) with the keys
    of the keytab ``KRB5_KTNAME`` names (python-gssapi).  A Kerberos client ``user@REALM`` is the
    account of that user name whose domain is the realm, its first label (``WTS`` for ``WTS.TEST``)
    or empty; a principal with no such account is refused (access denied), as is an unknown NTLM user.
    ``mechanism`` says which one the client used, once complete.  ``on_logon(self)`` is called once,
    when the client has been verified and its account found."""

    def __init__(
        self,
        accounts: Iterable[Account],
        auth_type: int = AUTHN_WINNT,
        level: int = AUTHN_LEVEL_PKT_PRIVACY,
        *,
        kerberos: bool = False,
        on_logon: Callable[[ServerAuth], None] | None = None,
    ):
        spnego_mod = import_remote("spnego")
        supported = (
            (AUTHN_WINNT, AUTHN_GSS_NEGOTIATE, AUTHN_GSS_KERBEROS) if kerberos else (AUTHN_WINNT, AUTHN_GSS_NEGOTIATE)
        )
        if auth_type not in supported:
            raise AuthError(WinError.ERROR_ACCESS_DENIED, f"authentication type {auth_type} is not supported")
        _install_account_lookup()
        self._accounts = {(a.domain.casefold(), a.user.casefold()): a for a in accounts}
        self.auth_type = auth_type
        self.auth_level = level
        self.account: Account | None = None
        self._on_logon = on_logon
        options = spnego_mod.NegotiateOptions.use_ntlm
        protocol = "ntlm"
        if auth_type == AUTHN_GSS_NEGOTIATE:
            protocol = "negotiate"
            # Our SPNEGO; without use_ntlm its Kerberos is python-gssapi's, its NTLM still pyspnego's.
            options = spnego_mod.NegotiateOptions.use_negotiate
            if not kerberos:
                options |= spnego_mod.NegotiateOptions.use_ntlm
        elif auth_type == AUTHN_GSS_KERBEROS:
            protocol, options = "kerberos", spnego_mod.NegotiateOptions.use_gssapi
        with self._lookup():
            self._ctx = spnego_mod.server(protocol=protocol, context_req=_context_req(level), options=options)

    @property
    def mechanism(self) -> str | None:
        """``"kerberos"`` or ``"ntlm"``: what the client authenticated with, once its mechanism has
        verified it (``mechanism_principal`` set); None before."""
        if not self.mechanism_principal:
            return None
        return str(self._ctx.negotiated_protocol or "").lower() or None

    def _kerberos_account(self, principal: str) -> Account:
        user, _, realm = principal.rpartition("@")
        domains = {"", realm.casefold(), realm.split(".")[0].casefold()}
        for (domain, name), account in self._accounts.items():
            if name == user.casefold() and domain in domains:
                return account
        raise AuthError(WinError.ERROR_ACCESS_DENIED, f"{principal} has no account on this server")

    @property
    def principal(self) -> str | None:
        """Who logged on (``DOMAIN\\\\user``), None before the context is complete."""
        return self._ctx.client_principal if self.complete else None

    @property
    def mechanism_principal(self) -> str | None:
        """Who logged on, as soon as NTLM has verified them, even while SPNEGO still waits for a
        mechListMIC the client will never send: pyspnego asks for one whenever the client's first
        mechanism (NTLM, for impacket) is not its own first choice (Kerberos), where RFC 4178 asks
        only when the client's first choice is not the one taken; Windows completes such an SMB
        session setup, and so does wts sim serve.  Kerberos names the client only once its context
        is established (DCE style: after the third leg); until then, None."""
        try:
            return self._ctx.client_principal
        except Exception:  # python-gssapi's NameReadError on a context not yet established
            return None

    def step(self, in_token: bytes | None) -> bytes | None:
        blob = _NT_BLOB.set(_nt_response(in_token))
        try:
            out = super().step(in_token)
        finally:
            _NT_BLOB.reset(blob)
        mechanism = self.account is None and self.mechanism
        if mechanism == "kerberos":
            self.account = self._kerberos_account(str(self.mechanism_principal))
        elif mechanism == "ntlm":  # NTLM checked the password of one of our accounts: which one
            domain, _, user = str(self.mechanism_principal).rpartition("\\")
            self.account = self._accounts.get((domain.casefold(), user.casefold()))
        if self.account is not None and self._on_logon is not None:
            told, self._on_logon = self._on_logon, None
            told(self)
        return out

    @contextmanager
    def _lookup(self) -> Iterator[None]:
        token = _ACCOUNTS.set(self._accounts)
        try:
            yield
        finally:
            _ACCOUNTS.reset(token)

    def __repr__(self) -> str:
        return f"ServerAuth(auth_type={self.auth_type}, accounts={len(self._accounts)}, complete={self.complete})"
