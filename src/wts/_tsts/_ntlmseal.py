"""NTLM sealing of RPC PDUs with extended session security (MS-NLMP 3.4.3, 3.4.4.2), over a
complete pyspnego NTLM context: its keys, RC4 handles and sequence numbers, used as its own
``wrap_iov`` and ``unwrap_iov`` use them.

Why not those: per message they check their arguments and do flag arithmetic on enums, and feed a
whole 10 KB answer to RC4 and HMAC at once, where both release the GIL; with the engine's workers
all wanting it, each release is a thread switch, which cost more than the crypto.  The primitives
are still OpenSSL's (pyspnego's RC4 handle from ``cryptography``, HMAC-MD5 from ``hmac``).
"""

from __future__ import annotations

import hmac
import struct
from typing import Any

__all__ = ["NtlmSealer"]

_NTLM_SEQ = ("_seq_num_out", "_seq_num_in")

# NTLM flags (MS-NLMP 2.2.2.5).
_NTLM_SIGN, _NTLM_SEAL, _NTLM_ESS, _NTLM_KEY_EXCH = 0x00000010, 0x00000020, 0x00080000, 0x40000000
#: Bytes fed to RC4 and HMAC at a time: hashlib (HASHLIB_GIL_MINSIZE) and cryptography (measured,
#: 50.0) release the GIL for 2,048 bytes and more.  A release is a thread switch among the engine's
#: workers (a 10 KB answer's two releases cost more than its crypto), so the sealer feeds them in
#: pieces just below that.  Another version's threshold would change the speed, never the result.
_PIECE = 2047

try:  # OpenSSL's HMAC object itself: hmac.HMAC wraps it in a Python method per update
    from _hashlib import hmac_new as _hmac_new
except ImportError:  # pragma: no cover - CPython without OpenSSL's hashlib
    _hmac_new = hmac.new  # type: ignore[assignment]


class NtlmSealer:
    """NTLM sealing with extended session security (MS-NLMP 3.4.3, 3.4.4.2) over a complete pyspnego
    NTLM context, composed from the primitives its own functions use (RC4 with the context's
    handles, HMAC-MD5 with its signing keys, its sequence numbers): the stub is RC4'd, the checksum
    is HMAC_MD5(key, seq + header + stub + trailer)[:8], RC4'd too when keys were exchanged."""

    def __init__(self, ctx: Any, flags: int) -> None:
        self._ctx = ctx
        self._key_exch = bool(flags & _NTLM_KEY_EXCH)

    @classmethod
    def of(cls, ctx: Any) -> NtlmSealer | None:
        names = ("_context_attr", "_handle_out", "_handle_in", "_sign_key_out", "_sign_key_in")
        if type(ctx).__name__ != "NTLMProxy" or any(getattr(ctx, n, None) is None for n in names):
            return None
        if not all(isinstance(getattr(type(ctx), n, None), property) for n in _NTLM_SEQ):
            return None
        flags = int(ctx._context_attr)
        need = _NTLM_SIGN | _NTLM_SEAL | _NTLM_ESS
        return cls(ctx, flags) if flags & need == need else None

    def seal(self, header: bytes, stub: bytes, trailer: bytes) -> tuple[bytes, bytes]:
        ctx = self._ctx
        rc4 = _cipher(ctx._handle_out)
        sealed = _rc4(rc4, stub)
        return sealed, self._mac(rc4, ctx._sign_key_out, ctx._seq_num_out, (header, stub, trailer))

    def unseal(self, header: bytes, stub: bytes, trailer: bytes) -> tuple[bytes, bytes]:
        """(the plain stub, the signature it should come with)."""
        ctx = self._ctx
        rc4 = _cipher(ctx._handle_in)
        plain = _rc4(rc4, stub)
        return plain, self._mac(rc4, ctx._sign_key_in, ctx._seq_num_in, (header, plain, trailer))

    def _mac(self, rc4: Any, key: bytes, seq_num: int, parts: tuple[bytes, bytes, bytes]) -> bytes:
        seq = struct.pack("<I", seq_num)
        mac = _hmac_new(key, seq, "md5")
        for part in parts:
            if len(part) <= _PIECE:
                mac.update(part)
            else:
                view = memoryview(part)
                for at in range(0, len(part), _PIECE):
                    mac.update(view[at : at + _PIECE])
        checksum = mac.digest()[:8]
        if self._key_exch:
            checksum = bytes(rc4.update(checksum))
        return b"\x01\x00\x00\x00" + checksum + seq


def _cipher(handle: Any) -> Any:
    """pyspnego's RC4Handle's cipher context (``cryptography``'s), read at each message (its
    ``reset`` replaces it); the handle itself where it has none."""
    return getattr(handle, "_handle", handle)


def _rc4(rc4: Any, data: bytes) -> bytes:
    if len(data) <= _PIECE:
        return bytes(rc4.update(data))
    view = memoryview(data)
    return b"".join([rc4.update(view[at : at + _PIECE]) for at in range(0, len(data), _PIECE)])
