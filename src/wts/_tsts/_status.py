"""The one table from MS-TSTS status values to Win32 codes, both ways.

API summary:

* ``from_hresult(hr) -> int``: what an LSM / RCM call's HRESULT means as a Win32 code (0: success;
  any HRESULT with the severity bit clear is a success, S_FALSE included: Windows answers RpcConnect
  with 1 and RpcLogoff with 0x10000000 on success, which impacket has to special-case).
* ``from_ntstatus(status) -> int``: the legacy API's NTSTATUS ``pResult`` as RtlNtStatusToDosError
  would map it (the codes wts meets; FACILITY_NTWIN32 carries a Win32 code; the rest is
  ERROR_MR_MID_NOT_FOUND, as Windows gives for an NTSTATUS it has no mapping for).
* ``from_fault(status) -> int``: a fault PDU's status (nca_s_* or a Win32 code) as a Win32 code.
* ``hresult_from_win32(code)``, ``ntstatus_from_win32(code)``, ``fault_from_win32(code)``: the
  server's direction, for ``wts sim serve``; ``FAULT_*``: the fault statuses a server sends
  (``FAULT_BAD_STUB`` for a request it cannot read, ``FAULT_OP_RANGE`` for an unknown opnum, ...).
"""

from __future__ import annotations

from .._winerror import WinError

__all__ = [
    "FAULT_BAD_STUB",
    "FAULT_CONTEXT_MISMATCH",
    "FAULT_OP_RANGE",
    "FAULT_PROTOCOL",
    "FAULT_UNKNOWN_IF",
    "fault_from_win32",
    "from_fault",
    "from_hresult",
    "from_ntstatus",
    "hresult_from_win32",
    "ntstatus_from_win32",
]

_MASK32 = (1 << 32) - 1
_SEVERITY = 0x80000000
_FACILITY_WIN32 = 0x80070000  # HRESULT_FROM_WIN32: severity + facility 7 + the code
_FACILITY_NT_BIT = 0x10000000  # HRESULT_FROM_NT sets it on an NTSTATUS
_NTWIN32 = 0xC0070000  # an NTSTATUS that carries a Win32 code (FACILITY_NTWIN32)

# NTSTATUS -> Win32, as RtlNtStatusToDosError maps them (the statuses MS-TSTS servers return).
_NT: dict[int, WinError] = {
    0xC0000001: WinError.ERROR_GEN_FAILURE,  # STATUS_UNSUCCESSFUL
    0xC0000002: WinError.ERROR_CALL_NOT_IMPLEMENTED,  # STATUS_NOT_IMPLEMENTED (Windows: ERROR_INVALID_FUNCTION)
    0xC0000003: WinError.ERROR_INVALID_PARAMETER,  # STATUS_INVALID_INFO_CLASS
    0xC0000008: WinError.ERROR_INVALID_HANDLE,  # STATUS_INVALID_HANDLE
    0xC000000D: WinError.ERROR_INVALID_PARAMETER,  # STATUS_INVALID_PARAMETER
    0xC0000017: WinError.ERROR_NOT_ENOUGH_MEMORY,  # STATUS_NO_MEMORY
    0xC0000022: WinError.ERROR_ACCESS_DENIED,  # STATUS_ACCESS_DENIED
    0xC0000023: WinError.ERROR_INSUFFICIENT_BUFFER,  # STATUS_BUFFER_TOO_SMALL
    0xC000006A: WinError.ERROR_INVALID_PASSWORD,  # STATUS_WRONG_PASSWORD
    0xC000006D: WinError.ERROR_LOGON_FAILURE,  # STATUS_LOGON_FAILURE
    0xC00000BB: WinError.ERROR_NOT_SUPPORTED,  # STATUS_NOT_SUPPORTED
    0xC0000120: WinError.ERROR_CANCELLED,  # STATUS_CANCELLED
    0xC00A0015: WinError.ERROR_CTX_WINSTATION_NOT_FOUND,  # STATUS_CTX_WINSTATION_NOT_FOUND
}
_NT_BY_WIN32: dict[int, int] = {}
for _status, _code in _NT.items():
    _NT_BY_WIN32.setdefault(int(_code), _status)
_NT_BY_WIN32[int(WinError.ERROR_INVALID_PARAMETER)] = 0xC000000D

# Fault statuses a server sends (C706 appendix E, MS-RPCE 2.2.2.11 / 3.1.1.5.5)
FAULT_OP_RANGE = 0x1C010002  #: nca_s_op_rng_error: no such opnum
FAULT_UNKNOWN_IF = 0x1C010003  #: nca_s_unk_if: no such interface (or context id)
FAULT_PROTOCOL = 0x1C01000B  #: nca_s_proto_error
FAULT_CONTEXT_MISMATCH = 0x1C00001A  #: nca_s_fault_context_mismatch: a stale or foreign context handle
FAULT_BAD_STUB = 0x000006F7  #: nca_s_fault_ndr, what Windows sends for a stub it cannot read

_NCA: dict[int, WinError] = {
    FAULT_OP_RANGE: WinError.RPC_S_PROCNUM_OUT_OF_RANGE,
    FAULT_UNKNOWN_IF: WinError.RPC_S_UNKNOWN_IF,
    FAULT_PROTOCOL: WinError.RPC_S_PROTOCOL_ERROR,
    FAULT_CONTEXT_MISMATCH: WinError.ERROR_INVALID_HANDLE,
}
_FAULT_BY_WIN32: dict[int, int] = {int(code): status for status, code in _NCA.items()}
_UNKNOWN = int(WinError.ERROR_MR_MID_NOT_FOUND)


def from_ntstatus(status: int) -> int:
    """An NTSTATUS as a Win32 code; success and informational statuses (severity 0 or 1) are 0."""
    status &= _MASK32
    if status < _SEVERITY:
        return 0
    if status & 0xFFFF_0000 == _NTWIN32:
        return status & 0xFFFF
    code = _NT.get(status)
    return int(code) if code is not None else _UNKNOWN


def from_hresult(hr: int) -> int:
    """An HRESULT as a Win32 code; 0 for every success code."""
    hr &= _MASK32
    if hr < _SEVERITY:
        return 0
    if hr & 0xFFFF_0000 == _FACILITY_WIN32:
        return hr & 0xFFFF
    if hr & _FACILITY_NT_BIT:
        return from_ntstatus(hr & ~_FACILITY_NT_BIT)
    return _UNKNOWN


def from_fault(status: int) -> int:
    """A fault PDU's status as a Win32 code: nca_s_* values mapped, Win32 codes kept, the rest
    RPC_S_CALL_FAILED (the call may have run: the caller must not assume it did not)."""
    status &= _MASK32
    code = _NCA.get(status)
    if code is not None:
        return int(code)
    if 0 < status <= 0xFFFF:
        return status
    return int(WinError.RPC_S_CALL_FAILED)


def hresult_from_win32(code: int) -> int:
    """HRESULT_FROM_WIN32: 0 stays S_OK."""
    return 0 if code == 0 else _FACILITY_WIN32 | (code & 0xFFFF)


def ntstatus_from_win32(code: int) -> int:
    """The NTSTATUS a legacy call reports for a Win32 code: the NT status Windows would have had
    where there is one, else the code carried in FACILITY_NTWIN32 (which maps back unchanged)."""
    if code == 0:
        return 0
    return _NT_BY_WIN32.get(code, _NTWIN32 | (code & 0xFFFF))


def fault_from_win32(code: int) -> int:
    """The status a server's fault PDU carries for a Win32 code (nca_s_* where one exists)."""
    return _FAULT_BY_WIN32.get(code, code)
