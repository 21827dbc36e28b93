"""The LSA calls ``wts sim serve`` answers on ``\\pipe\\lsarpc``: LsarOpenPolicy2, LsarLookupSids,
LsarClose (MS-LSAD / MS-LSAT), so that a client's LookupAccountSidW names the farm's SIDs.

API: ``HANDLERS`` as ``_tsserver.HANDLERS`` (``async (calls, stub) -> response stub``), merged with
them by ``_rpcserver``.  The names come from the sim farm through the public API: the server's
process listing (``wts.Server(name, provider="sim").processes()``), whose accounts the sim names with
its own LookupAccountSidW; a SID none of the server's processes runs as is not mapped, and when no
SID of a request is, the call answers STATUS_NONE_MAPPED (the client's 1332).
"""

from __future__ import annotations

from typing import Any

from .._winerror import WinError
from . import _lsat
from ._tsserver import Calls, Handler

__all__ = ["HANDLERS"]

_SID_TYPE_WELL_KNOWN_GROUP = 5


async def _open_policy2(calls: Calls, stub: bytes) -> bytes:
    _lsat.decode_open_policy2_request(stub)
    return _lsat.encode_open_policy2_response(calls.new_handle("policy"))


async def _close(calls: Calls, stub: bytes) -> bytes:
    handle = _lsat.decode_close_request(stub)
    calls.held(handle, "policy")
    del calls.handles[handle]
    return _lsat.encode_close_response()


def _use(sid: str) -> int:
    """As the sim's LookupAccountSidW: a domain's accounts (S-1-5-21-...) are users, the rest
    (NT AUTHORITY's, the virtual accounts) well-known groups."""
    return _lsat.SID_TYPE_USER if sid.startswith("S-1-5-21-") else _SID_TYPE_WELL_KNOWN_GROUP


async def _lookup_sids(calls: Calls, stub: bytes) -> bytes:
    handle, sids, _level = _lsat.decode_lookup_sids_request(stub)
    calls.held(handle, "policy")
    if not sids:
        return _lsat.encode_lookup_sids_response([], WinError.ERROR_INVALID_PARAMETER)
    listed, error = await calls.farm_call("processes")
    if error:
        return _lsat.encode_lookup_sids_response([], error)
    known: dict[str, Any] = {p.sid.upper(): p for p in listed if p.sid and p.user}
    names: list[_lsat.Name | None] = []
    for sid in sids:
        text = _lsat.sid_text(sid).upper()
        p = known.get(text)
        names.append(None if p is None else _lsat.Name(_use(text), p.user, p.domain))
    return _lsat.encode_lookup_sids_response(names)


def _key(op: Any) -> tuple[Any, int]:
    return (op.interface.syntax.uuid, op.opnum)


HANDLERS: dict[tuple[Any, int], Handler] = {
    _key(_lsat.LSAR_OPEN_POLICY2): _open_policy2,
    _key(_lsat.LSAR_LOOKUP_SIDS): _lookup_sids,
    _key(_lsat.LSAR_CLOSE): _close,
}
