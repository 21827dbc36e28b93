"""The LSA codec (wts._tsts._lsat: LsarOpenPolicy2, LsarLookupSids, LsarClose) against impacket 0.13.1's
``lsad`` / ``lsat``: our requests equal impacket's byte for byte (NDR's unspecified octets aside:
alignment gaps, referent ids), we decode responses impacket encodes (domains with SIDs, unmapped
names), impacket decodes what ``wts sim serve`` answers, and hostile bytes are one ProtocolError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wts._tsts import _lsat as L
from wts._tsts import _ndr
from wts._tsts._ndr import ProtocolError
from wts._winerror import WinError

lsat: Any = pytest.importorskip("impacket.dcerpc.v5.lsat")
lsad: Any = pytest.importorskip("impacket.dcerpc.v5.lsad")
dtypes: Any = pytest.importorskip("impacket.dcerpc.v5.dtypes")

HANDLE = bytes(range(1, 21))
SIDS = ["S-1-5-21-3279991490-3146339296-4189128327-1000", "S-1-5-18", "S-1-5-90-0-2", "S-1-5-21-1-2-3-500"]


def _request_matches(encode: Callable[[], bytes], theirs: bytes) -> None:
    gaps = _ndr.record_gaps()
    try:
        ours = encode()
    finally:
        _ndr.stop_recording_gaps()
    assert len(ours) == len(theirs), (ours.hex(), theirs.hex())
    free = {i for _, at, n in gaps for i in range(at, at + n)}
    assert [i for i in range(len(ours)) if i not in free and ours[i] != theirs[i]] == []


def test_requests_are_impackets() -> None:
    req = lsat.LsarLookupSids()
    req["PolicyHandle"] = HANDLE
    req["SidEnumBuffer"]["Entries"] = len(SIDS)
    for sid in SIDS:
        item = lsat.LSAPR_SID_INFORMATION()
        item["Sid"].fromCanonical(sid)
        req["SidEnumBuffer"]["SidInfo"].append(item)
    req["TranslatedNames"]["Names"] = dtypes.NULL
    req["LookupLevel"] = lsat.LSAP_LOOKUP_LEVEL.LsapLookupWksta
    _request_matches(lambda: L.encode_lookup_sids_request(HANDLE, [L.sid_bytes(s) for s in SIDS]), req.getData())
    assert L.decode_lookup_sids_request(req.getData()) == (HANDLE, [L.sid_bytes(s) for s in SIDS], 1)

    req = lsad.LsarOpenPolicy2()
    req["SystemName"] = dtypes.NULL
    for field in ("RootDirectory", "ObjectName", "SecurityDescriptor", "SecurityQualityOfService"):
        req["ObjectAttributes"][field] = dtypes.NULL
    req["DesiredAccess"] = L.POLICY_LOOKUP_NAMES
    _request_matches(L.encode_open_policy2_request, req.getData())
    assert L.decode_open_policy2_request(req.getData()) == L.POLICY_LOOKUP_NAMES

    req = lsad.LsarClose()
    req["ObjectHandle"] = HANDLE
    _request_matches(lambda: L.encode_close_request(HANDLE), req.getData())


def _name(text: str) -> Any:
    s = dtypes.RPC_UNICODE_STRING()
    s["Data"] = text
    return s


def _impacket_response(status: int) -> bytes:
    resp = lsat.LsarLookupSidsResponse()
    domains = resp["ReferencedDomains"]
    for text, sid in (("CONTOSO", "S-1-5-21-3279991490-3146339296-4189128327"), ("NT AUTHORITY", "S-1-5")):
        info = lsad.LSAPR_TRUST_INFORMATION()
        info["Name"] = _name(text)
        info["Sid"].fromCanonical(sid)
        domains["Domains"].append(info)
    domains["Entries"] = domains["MaxEntries"] = 2
    for use, text, index in ((1, "alice", 0), (5, "SYSTEM", 1), (8, "", -1)):
        row = lsat.LSAPR_TRANSLATED_NAME()
        row["Use"] = use
        row["Name"] = _name(text)
        row["DomainIndex"] = index
        resp["TranslatedNames"]["Names"].append(row)
    resp["TranslatedNames"]["Entries"] = 3
    resp["MappedCount"] = 2
    resp["ErrorCode"] = status
    return bytes(resp.getData())


def test_decodes_impacket_responses() -> None:
    got = L.decode_lookup_sids_response(_impacket_response(L.STATUS_SOME_NOT_MAPPED))
    assert got.names == [L.Name(1, "alice", "CONTOSO"), L.Name(5, "SYSTEM", "NT AUTHORITY"), L.Name(8, "", "")]
    assert got.error == 0  # some not mapped is a success
    opened = lsad.LsarOpenPolicy2Response()
    opened["PolicyHandle"] = HANDLE
    opened["ErrorCode"] = 0
    assert L.decode_open_policy2_response(opened.getData()) == (HANDLE, 0, 0)


def test_impacket_decodes_what_sim_serve_answers() -> None:
    names = [L.Name(1, "alice", "CONTOSO"), None, L.Name(5, "SYSTEM", "NT AUTHORITY"), L.Name(1, "bob", "CONTOSO")]
    ours = L.encode_lookup_sids_response(names)
    theirs = lsat.LsarLookupSidsResponse(ours)
    domains = [d["Name"] for d in theirs["ReferencedDomains"]["Domains"]]
    rows = [(r["Use"], r["Name"] or "", r["DomainIndex"]) for r in theirs["TranslatedNames"]["Names"]]
    assert domains == ["CONTOSO", "NT AUTHORITY"]
    assert rows == [(1, "alice", 0), (8, "", -1), (5, "SYSTEM", 1), (1, "bob", 0)]
    assert (theirs["MappedCount"], theirs["ErrorCode"]) == (3, L.STATUS_SOME_NOT_MAPPED)
    assert L.decode_lookup_sids_response(ours).names == [n or L.Name(8, "", "") for n in names]


def test_none_mapped_is_1332_and_failures_carry_their_code() -> None:
    got = L.decode_lookup_sids_response(L.encode_lookup_sids_response([None, None]))
    assert (got.names, got.status, got.error) == ([], L.STATUS_NONE_MAPPED, WinError.ERROR_NONE_MAPPED)
    got = L.decode_lookup_sids_response(L.encode_lookup_sids_response([], WinError.ERROR_ACCESS_DENIED))
    assert got.error == WinError.ERROR_ACCESS_DENIED
    assert L.decode_open_policy2_response(L.encode_open_policy2_response(HANDLE, 5)).error == 5


def test_hostile_responses_are_one_protocol_error() -> None:
    good = _impacket_response(0)
    for cut in range(0, len(good), 3):
        with pytest.raises(ProtocolError):
            L.decode_lookup_sids_response(good[:cut])
    bad = bytearray(L.encode_lookup_sids_response([L.Name(1, "alice", "CONTOSO")]))
    bad[-36] = 9  # the name's DomainIndex, past the one domain
    with pytest.raises(ProtocolError):
        L.decode_lookup_sids_response(bytes(bad))


def test_sid_text_both_ways() -> None:
    for text in [*SIDS, "S-1-0-0", "S-1-0x123456789ABC-7"]:
        assert L.sid_text(L.sid_bytes(text)) == text
    for bad in ("", "S-1", "X-1-5", "S-1-5-x", "S-1-5-" + "-".join(["1"] * 16), "S-1-5-4294967296"):
        with pytest.raises(ValueError):
            L.sid_bytes(bad)
    for raw in (b"", b"\x01\x02" + bytes(6) + bytes(4), b"\x01\x10" + bytes(70)):
        with pytest.raises(ValueError):
            L.sid_text(raw)
    with pytest.raises(ValueError):
        L.encode_lookup_sids_request(HANDLE, [])
