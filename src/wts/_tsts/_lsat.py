"""MS-LSAT / MS-LSAD over ``\\pipe\\lsarpc``: naming SIDs, the calls LookupAccountSidW makes, both directions.

API summary (the conventions of ``_calls``: stubs without PDU headers, Win32 codes in ``error``):

* ``LSARPC`` (the ``lsarpc`` interface, pipe ``lsarpc``); ``Op`` records ``LSAR_CLOSE`` (0),
  ``LSAR_LOOKUP_SIDS`` (15), ``LSAR_OPEN_POLICY2`` (44).
* ``encode_open_policy2_request(access=POLICY_LOOKUP_NAMES)`` / ``decode_open_policy2_request(stub)
  -> access``; ``decode_open_policy2_response(stub) -> HandleResult``;
  ``encode_open_policy2_response(handle, error=0)``.
* ``encode_close_request(handle)`` / ``decode_close_request(stub) -> handle``;
  ``decode_close_response(stub) -> HandleResult``; ``encode_close_response(error=0)``.
* ``encode_lookup_sids_request(handle, sids, level=LOOKUP_WKSTA)`` (``sids``: binary SIDs) /
  ``decode_lookup_sids_request(stub) -> (handle, sids, level)``;
  ``decode_lookup_sids_response(stub) -> LookupResult`` (one ``Name`` per SID asked, in order:
  ``use`` SID_NAME_USE, ``name``, ``domain``; an unmapped SID has use ``SID_TYPE_UNKNOWN``);
  ``encode_lookup_sids_response(names, error=0)`` (None for a SID the server cannot name).
* ``sid_text(binary) -> 'S-1-5-...'`` (ConvertSidToStringSidW's form) and ``sid_bytes(text)``.

Statuses are NTSTATUS: all mapped is 0, some is STATUS_SOME_NOT_MAPPED (a success), none is
STATUS_NONE_MAPPED, which LookupAccountSidW reports as ERROR_NONE_MAPPED (1332).

Documented differences from impacket 0.13.1's ``lsad``/``lsat`` (tests/test_tsts_lsat.py proves the
rest byte for byte): none in the requests wts sends (SystemName NULL and ObjectAttributes.Length 0,
as impacket sends them; MS-LSAD 3.1.4.4.1 has the server ignore both).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from .._winerror import WinError
from ._calls import HandleResult, Interface, Op
from ._ndr import Reader, Writer, utf16le
from ._pdu import SyntaxId
from ._status import from_ntstatus, ntstatus_from_win32

__all__ = ["LSARPC", "LookupResult", "Name", "sid_bytes", "sid_text"]

LSARPC = Interface("lsarpc", SyntaxId(uuid.UUID("12345778-1234-abcd-ef00-0123456789ab"), 0), "lsarpc")
LSAR_CLOSE = Op(LSARPC, 0, "LsarClose")
LSAR_LOOKUP_SIDS = Op(LSARPC, 15, "LsarLookupSids")
LSAR_OPEN_POLICY2 = Op(LSARPC, 44, "LsarOpenPolicy2")
OPS = (LSAR_CLOSE, LSAR_LOOKUP_SIDS, LSAR_OPEN_POLICY2)

POLICY_LOOKUP_NAMES = 0x00000800  #: the access LookupAccountSidW opens the policy with
LOOKUP_WKSTA = 1  #: LsapLookupWksta: what a workstation's LookupAccountSidW asks
SID_TYPE_UNKNOWN = 8  #: SidTypeUnknown: the server could not name this SID
SID_TYPE_USER = 1
STATUS_SOME_NOT_MAPPED = 0x00000107
STATUS_NONE_MAPPED = 0xC0000073
MAX_SIDS = 20480  #: MS-LSAT's range on SidEnumBuffer.Entries
_MAX_SUB_AUTHORITIES = 15


class Name(NamedTuple):
    use: int  #: SID_NAME_USE (1 user, 2 group, 5 well-known group, ..., 8 unknown)
    name: str
    domain: str


class LookupResult(NamedTuple):
    names: list[Name]
    status: int
    error: int  #: 0 when some or all were named; 1332 when none was


# -- SIDs ------------------------------------------------------------------------------------------


def sid_text(sid: bytes) -> str:
    """'S-R-A-S1-S2...' (the authority in hex when it does not fit in 32 bits, as Windows writes it);
    ValueError for bytes that are not a SID."""
    if len(sid) < 8 or sid[1] > _MAX_SUB_AUTHORITIES or len(sid) != 8 + 4 * sid[1]:
        raise ValueError(f"{len(sid)} bytes are not a SID")
    authority = int.from_bytes(sid[2:8], "big")
    head = f"S-{sid[0]}-{authority}" if authority < 1 << 32 else f"S-{sid[0]}-0x{authority:012X}"
    subs = (int.from_bytes(sid[8 + 4 * i : 12 + 4 * i], "little") for i in range(sid[1]))
    return "-".join([head, *map(str, subs)])


def sid_bytes(text: str) -> bytes:
    """The binary SID of 'S-1-5-21-...'; ValueError for text that is not one."""
    parts = text.split("-")
    try:
        if len(parts) < 3 or parts[0].upper() != "S" or len(parts) - 3 > _MAX_SUB_AUTHORITIES:
            raise ValueError
        authority = int(parts[2], 16) if parts[2].lower().startswith("0x") else int(parts[2])
        return (
            bytes([int(parts[1]), len(parts) - 3])
            + authority.to_bytes(6, "big")
            + b"".join(int(p).to_bytes(4, "little") for p in parts[3:])
        )
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a SID") from None


def _write_sid(w: Writer, sid: bytes) -> None:
    w.u32(sid[1])  # the conformant struct's max count (SubAuthorityCount), first
    w.raw(sid)


def _read_sid(r: Reader, field: str) -> bytes:
    count = r.u32(f"{field} sub-authority count")
    head = r.raw(8, field)
    if head[1] != count or count > _MAX_SUB_AUTHORITIES:
        raise r.fail(f"{field} has {head[1]} sub-authorities, its conformance says {count}")
    return head + r.raw(4 * count, field)


def _write_ustring_head(w: Writer, text: str) -> bytes:
    data = utf16le(text)[:0xFFFE]
    w.u16(len(data))
    w.u16(len(data))
    if data:
        w.referent()
    else:
        w.u32(0)
    return data


def _write_ustring_body(w: Writer, data: bytes) -> None:
    if data:
        w.u32(len(data) // 2)
        w.u32(0)
        w.u32(len(data) // 2)
        w.raw(data)


def _read_ustring_body(r: Reader, length: int, maximum: int, field: str) -> str:
    max_count, offset, actual = r.u32(f"{field} max count"), r.u32(f"{field} offset"), r.u32(f"{field} count")
    if offset or actual > max_count or actual != length // 2 or max_count != maximum // 2:
        raise r.fail(f"{field}: {actual}/{max_count} units for Length {length}, MaximumLength {maximum}")
    return r.raw(2 * actual, field).decode("utf-16-le", "replace")


def _name_head(r: Reader) -> tuple[int, int, int]:
    """An RPC_UNICODE_STRING's Length, MaximumLength and Buffer pointer (the struct is 4-aligned)."""
    r.align(4)
    return r.u16("Name.Length"), r.u16("Name.MaximumLength"), r.pointer("Name")


def _status(w: Writer, error: int) -> bytes:
    w.u32(STATUS_NONE_MAPPED if error == WinError.ERROR_NONE_MAPPED else ntstatus_from_win32(error))
    return w.getvalue()


def _error(status: int) -> int:
    if status == STATUS_NONE_MAPPED:
        return int(WinError.ERROR_NONE_MAPPED)
    return 0 if status == STATUS_SOME_NOT_MAPPED else from_ntstatus(status)


# -- LsarOpenPolicy2, LsarClose ----------------------------------------------------------------------


def encode_open_policy2_request(access: int = POLICY_LOOKUP_NAMES) -> bytes:
    w = Writer()
    w.u32(0)  # SystemName: NULL (the server the pipe is on)
    w.u32(0)  # ObjectAttributes.Length (ignored by the server)
    for _ in range(2):  # RootDirectory, ObjectName
        w.u32(0)
    w.u32(0)  # Attributes
    for _ in range(2):  # SecurityDescriptor, SecurityQualityOfService
        w.u32(0)
    w.u32(access)
    return w.getvalue()


def decode_open_policy2_request(stub: bytes) -> int:
    """The access asked for (the server name and object attributes are read and ignored)."""
    r = Reader(stub, "LsarOpenPolicy2 request")
    if r.pointer("SystemName"):
        r.wstring("SystemName")
    r.u32("ObjectAttributes.Length")
    pointers = [r.pointer("RootDirectory"), r.pointer("ObjectName")]
    r.u32("Attributes")
    pointers += [r.pointer("SecurityDescriptor"), r.pointer("SecurityQualityOfService")]
    if any(pointers):
        raise r.fail("object attributes with referents (none are defined for the policy object)")
    access = r.u32("DesiredAccess")
    r.done()
    return access


def _handle_response(stub: bytes, what: str) -> HandleResult:
    r = Reader(stub, what)
    handle = r.context_handle("PolicyHandle")
    status = r.u32("return value")
    r.done()
    return HandleResult(handle, status, from_ntstatus(status))


def decode_open_policy2_response(stub: bytes) -> HandleResult:
    return _handle_response(stub, "LsarOpenPolicy2 response")


def encode_open_policy2_response(handle: bytes, error: int = 0) -> bytes:
    w = Writer()
    w.context_handle(bytes(20) if error else handle)
    return _status(w, error)


def encode_close_request(handle: bytes) -> bytes:
    w = Writer()
    w.context_handle(handle)
    return w.getvalue()


def decode_close_request(stub: bytes) -> bytes:
    r = Reader(stub, "LsarClose request")
    handle = r.context_handle("ObjectHandle")
    r.done()
    return handle


def decode_close_response(stub: bytes) -> HandleResult:
    return _handle_response(stub, "LsarClose response")


def encode_close_response(error: int = 0) -> bytes:
    w = Writer()
    w.context_handle(bytes(20))
    return _status(w, error)


# -- LsarLookupSids ---------------------------------------------------------------------------------


def encode_lookup_sids_request(handle: bytes, sids: Sequence[bytes], level: int = LOOKUP_WKSTA) -> bytes:
    if not 0 < len(sids) <= MAX_SIDS:
        raise ValueError(f"LsarLookupSids takes 1 to {MAX_SIDS} SIDs, not {len(sids)}")
    for sid in sids:
        sid_text(sid)  # ValueError for what is not a SID
    w = Writer()
    w.context_handle(handle)
    w.u32(len(sids))  # SidEnumBuffer.Entries
    w.referent()  # SidEnumBuffer.SidInfo
    w.u32(len(sids))
    for _ in sids:
        w.referent()
    for sid in sids:
        _write_sid(w, sid)
    w.u32(0)  # TranslatedNames.Entries
    w.u32(0)  # TranslatedNames.Names: NULL
    w.u16(level)
    w.u32(0)  # MappedCount
    return w.getvalue()


def decode_lookup_sids_request(stub: bytes) -> tuple[bytes, list[bytes], int]:
    """(policy handle, the SIDs, the lookup level)."""
    r = Reader(stub, "LsarLookupSids request")
    handle = r.context_handle("PolicyHandle")
    entries = r.u32("SidEnumBuffer.Entries")
    sids: list[bytes] = []
    if r.pointer("SidEnumBuffer.SidInfo"):
        n = r.count(4, "SidInfo count")
        if n != entries or n > MAX_SIDS:
            raise r.fail(f"{n} SidInfo elements for Entries {entries} (at most {MAX_SIDS})")
        pointers = [r.pointer("SidInfo.Sid") for _ in range(n)]
        if not all(pointers):
            raise r.fail("a NULL SID in SidInfo")
        sids = [_read_sid(r, "Sid") for _ in pointers]
    elif entries:
        raise r.fail(f"Entries {entries} with no SidInfo")
    r.u32("TranslatedNames.Entries")
    if r.pointer("TranslatedNames.Names"):
        raise r.fail("TranslatedNames given on input")
    level = r.u16("LookupLevel")
    r.u32("MappedCount")
    r.done()
    return handle, sids, level


def decode_lookup_sids_response(stub: bytes) -> LookupResult:
    r = Reader(stub, "LsarLookupSids response")
    domains: list[str] = []
    if r.pointer("ReferencedDomains"):
        entries = r.u32("ReferencedDomains.Entries")
        listed = r.pointer("Domains")
        r.u32("MaxEntries")
        if listed:
            n = r.count(12, "Domains count")
            if n != entries:
                raise r.fail(f"{n} domains for Entries {entries}")
            heads = [
                (r.u16("Name.Length"), r.u16("Name.MaximumLength"), r.pointer("Name"), r.pointer("Sid"))
                for _ in range(n)
            ]
            for length, maximum, name, sid in heads:
                domains.append(_read_ustring_body(r, length, maximum, "domain name") if name else "")
                if sid:
                    _read_sid(r, "domain SID")
    entries = r.u32("TranslatedNames.Entries")
    names: list[Name] = []
    if r.pointer("TranslatedNames.Names"):
        n = r.count(16, "Names count")
        if n != entries:
            raise r.fail(f"{n} names for Entries {entries}")
        rows = [(r.u16("Use"), *_name_head(r), r.i32("DomainIndex")) for _ in range(n)]
        for use, length, maximum, pointer, index in rows:
            text = _read_ustring_body(r, length, maximum, "name") if pointer else ""
            if index >= len(domains):
                raise r.fail(f"DomainIndex {index} of {len(domains)} domains")
            names.append(Name(use, text, domains[index] if index >= 0 else ""))
    r.u32("MappedCount")
    status = r.u32("return value")
    r.done()
    return LookupResult(names, status, _error(status))


def encode_lookup_sids_response(names: Sequence[Name | None], error: int = 0) -> bytes:
    """One entry per SID asked (None: not mapped); the status follows from how many were named
    (``error`` for a failure of the whole call)."""
    w = Writer()
    mapped = sum(1 for n in names if n is not None and n.use != SID_TYPE_UNKNOWN)
    if error or not mapped:
        w.u32(0)  # ReferencedDomains: NULL
        w.u32(0)  # TranslatedNames.Entries
        w.u32(0)
        w.u32(0)  # MappedCount
        return _status(w, error or WinError.ERROR_NONE_MAPPED)
    domains: list[str] = []
    for n in names:
        if n is not None and n.use != SID_TYPE_UNKNOWN and n.domain not in domains:
            domains.append(n.domain)
    w.referent()
    w.u32(len(domains))
    w.referent()
    w.u32(len(domains))  # MaxEntries
    w.u32(len(domains))
    datas = []
    for d in domains:
        datas.append(_write_ustring_head(w, d))
        w.u32(0)  # Sid: the sim does not name its domains' SIDs (LookupAccountSidW does not need them)
    for data in datas:
        _write_ustring_body(w, data)
    w.u32(len(names))
    w.referent()
    w.u32(len(names))
    datas = []
    for n in names:
        named = n is not None and n.use != SID_TYPE_UNKNOWN
        w.u16(n.use if named and n is not None else SID_TYPE_UNKNOWN)
        w.align(4)  # the RPC_UNICODE_STRING that follows is 4-aligned
        datas.append(_write_ustring_head(w, n.name if named and n is not None else ""))
        w.i32(domains.index(n.domain) if named and n is not None else -1)
    for data in datas:
        _write_ustring_body(w, data)
    w.u32(mapped)
    w.u32(0 if mapped == len(names) else STATUS_SOME_NOT_MAPPED)
    return w.getvalue()
