"""The SMB2/3 server's message protection (MS-SMB2 3.1.4, 3.3.5.2.1.1, 3.3.5.5): dialect 3.1.1's
negotiate contexts and preauthentication integrity hash, the session's keys (SP800-108 KDF), signing
(HMAC-SHA256 for 2.x; AES-CMAC for 3.1.1) and encryption (the TRANSFORM_HEADER, AES-128/256 GCM or
CCM).  Crypto from ``cryptography``; nothing here does I/O.

API: ``parse_contexts(data, count) -> dict[type, bytes]``, ``answer_contexts(client) -> (contexts,
Choice)``; ``preauth(previous, message) -> hash``; ``Keys.derive(session_key, dialect, preauth,
cipher) -> Keys``; ``sign(keys, message) -> signature``; ``seal(keys, session_id, message) ->
transform``, ``unseal(keys, transform) -> message``; ``transform_session(transform) -> id``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

__all__ = ["Choice", "Keys", "answer_contexts", "parse_contexts", "preauth", "seal", "sign", "unseal"]

DIALECT_311 = 0x0311
PREAUTH_INTEGRITY, ENCRYPTION, SIGNING = 0x0001, 0x0002, 0x0008
SHA512 = 0x0001
AES_128_CCM, AES_128_GCM, AES_256_CCM, AES_256_GCM = 1, 2, 3, 4
HMAC_SHA256, AES_CMAC = 0, 1
TRANSFORM = struct.Struct("<4s16s16sIHHQ")  # ProtocolId, Signature, Nonce, OriginalMessageSize, -, Flags, SessionId
TRANSFORM_MAGIC = b"\xfdSMB"
_CIPHERS_WE_TAKE = (AES_128_GCM, AES_128_CCM, AES_256_GCM, AES_256_CCM)  # in our order of preference


class SecurityError(Exception):
    """A message that fails its check or cannot be decrypted: dropped, as Windows drops it."""


class Choice(NamedTuple):
    cipher: int  #: 0: the client offered none we take
    signing: int  #: AES_CMAC (3.1.1's default) or HMAC_SHA256


def parse_contexts(data: bytes, count: int) -> dict[int, bytes]:
    """The negotiate contexts (type -> data) in ``data``, which starts at the first one (8-aligned)."""
    out: dict[int, bytes] = {}
    at = 0
    for _ in range(count):
        at += -at % 8
        if at + 8 > len(data):
            raise SecurityError("negotiate context outside the request")
        kind, length = struct.unpack_from("<HH", data, at)
        if at + 8 + length > len(data):
            raise SecurityError("negotiate context outside the request")
        out.setdefault(kind, data[at + 8 : at + 8 + length])
        at += 8 + length
    return out


def _ids(data: bytes) -> list[int]:
    if len(data) < 2:
        raise SecurityError("empty negotiate context")
    (n,) = struct.unpack_from("<H", data)
    if len(data) < 2 + 2 * n:
        raise SecurityError("short negotiate context")
    return list(struct.unpack_from(f"<{n}H", data, 2))


def _context(kind: int, data: bytes) -> bytes:
    return struct.pack("<HHI", kind, len(data), 0) + data


def answer_contexts(client: dict[int, bytes]) -> tuple[list[bytes], Choice]:
    """Our contexts for the NEGOTIATE response (MS-SMB2 3.3.5.4): SHA-512 preauth (required), a
    cipher if the client offered one we take, a signing algorithm if it asked."""
    raw = client.get(PREAUTH_INTEGRITY)
    if raw is None or len(raw) < 4:
        raise SecurityError("3.1.1 without a preauth integrity context")
    count, _salt_length = struct.unpack_from("<HH", raw)
    if SHA512 not in struct.unpack_from(f"<{count}H", raw, 4) if len(raw) >= 4 + 2 * count else ():
        raise SecurityError("no SHA-512 in the preauth integrity context")
    out = [_context(PREAUTH_INTEGRITY, struct.pack("<HHH", 1, 32, SHA512) + os.urandom(32))]
    cipher = 0
    if ENCRYPTION in client:
        offered = _ids(client[ENCRYPTION])
        cipher = next((c for c in _CIPHERS_WE_TAKE if c in offered), 0)
        out.append(_context(ENCRYPTION, struct.pack("<HH", 1, cipher)))
    signing = AES_CMAC
    if SIGNING in client:
        offered = _ids(client[SIGNING])
        signing = AES_CMAC if AES_CMAC in offered else HMAC_SHA256
        out.append(_context(SIGNING, struct.pack("<HH", 1, signing)))
    return out, Choice(cipher, signing)


def preauth(previous: bytes, message: bytes) -> bytes:
    """Preauth integrity hash: SHA-512 of the previous value and the message (MS-SMB2 3.3.5.4)."""
    return hashlib.sha512(previous + message).digest()


def _kdf(key: bytes, label: bytes, context: bytes, length: int) -> bytes:
    # SP800-108 counter mode with HMAC-SHA256, as MS-SMB2 3.1.4.2 uses it (r = 32, L = 128 or 256).
    fixed = label + b"\x00" + context + struct.pack(">I", length * 8)
    return hmac.new(key, struct.pack(">I", 1) + fixed, hashlib.sha256).digest()[:length]


class Keys(NamedTuple):
    dialect: int
    signing_algorithm: int
    signing: bytes
    encrypting: bytes  #: server to client
    decrypting: bytes  #: client to server
    cipher: int

    @classmethod
    def derive(cls, session_key: bytes, dialect: int, preauth_hash: bytes, choice: Choice | None) -> Keys:
        key = session_key[:16].ljust(16, b"\0")
        if dialect != DIALECT_311 or choice is None:
            return cls(dialect, HMAC_SHA256, key, b"", b"", 0)
        size = 32 if choice.cipher in (AES_256_CCM, AES_256_GCM) else 16
        # The 256-bit ciphers take the whole session key (MS-SMB2 3.3.5.5.3).
        full = session_key if size == 32 else key
        return cls(
            dialect,
            choice.signing,
            _kdf(key, b"SMBSigningKey\x00", preauth_hash, 16),
            _kdf(full, b"SMBS2CCipherKey\x00", preauth_hash, size) if choice.cipher else b"",
            _kdf(full, b"SMBC2SCipherKey\x00", preauth_hash, size) if choice.cipher else b"",
            choice.cipher,
        )


def sign(keys: Keys, message: bytes) -> bytes:
    """The 16-byte signature of ``message`` (its own signature field taken as zero)."""
    zeroed = message[:48] + bytes(16) + message[64:]
    if keys.signing_algorithm == AES_CMAC:
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.cmac import CMAC

        mac = CMAC(algorithms.AES(keys.signing))
        mac.update(zeroed)
        return mac.finalize()
    return hmac.new(keys.signing, zeroed, hashlib.sha256).digest()[:16]


def _aead(cipher: int, key: bytes) -> tuple[AESGCM | AESCCM, int]:
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

    if cipher in (AES_128_GCM, AES_256_GCM):
        return AESGCM(key), 12
    return AESCCM(key, tag_length=16), 11


def transform_session(transform: bytes) -> int:
    if len(transform) < TRANSFORM.size:
        raise SecurityError("short transform header")
    return int(TRANSFORM.unpack_from(transform)[6])


def unseal(keys: Keys, transform: bytes) -> bytes:
    """The SMB2 message inside an encrypted TRANSFORM message (MS-SMB2 3.3.5.2.1.1)."""
    if not keys.cipher:
        raise SecurityError("an encrypted message on a session without a cipher")
    if len(transform) < TRANSFORM.size:
        raise SecurityError("short transform header")
    magic, signature, nonce, size, _, _flags, _sid = TRANSFORM.unpack_from(transform)
    body = transform[TRANSFORM.size :]
    if magic != TRANSFORM_MAGIC or size != len(body):
        raise SecurityError("bad transform header")
    aead, nonce_size = _aead(keys.cipher, keys.decrypting)
    from cryptography.exceptions import InvalidTag

    try:
        return aead.decrypt(nonce[:nonce_size], body + signature, transform[20 : TRANSFORM.size])
    except InvalidTag:
        raise SecurityError("a message that does not decrypt") from None


def seal(keys: Keys, session_id: int, message: bytes) -> bytes:
    """``message`` encrypted in a TRANSFORM message for the client."""
    aead, nonce_size = _aead(keys.cipher, keys.encrypting)
    nonce = os.urandom(nonce_size).ljust(16, b"\0")
    header = TRANSFORM.pack(TRANSFORM_MAGIC, bytes(16), nonce, len(message), 0, 1, session_id)
    sealed = aead.encrypt(nonce[:nonce_size], message, header[20:])
    return TRANSFORM_MAGIC + sealed[-16:] + header[20:] + sealed[:-16]
