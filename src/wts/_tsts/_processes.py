"""RpcWinStationGetAllProcesses (LegacyApi opnum 43): every process with its session and owner SID.

API summary (conventions of ``_calls`` / ``_actions``):

* ``encode_get_all_processes_request(handle, level=0, max_count=0x8000)`` /
  ``decode_get_all_processes_request(stub) -> (handle, level, max_count)``.
* ``decode_get_all_processes_response(stub) -> ProcessesResult`` (``processes``: ``Process``
  records, ``ok`` / ``status`` / ``error`` as ``_actions.LegacyResult``);
  ``encode_get_all_processes_response(processes, error=0)`` for the server.

The wire form (MS-TSTS 2.2.2.15): pResult, pNumberOfProcesses, then a unique pointer to a conformant
array of TS_ALL_PROCESSES_INFO {pointer to TS_SYS_PROCESS_INFORMATION, SizeOfSid, pointer to the SID
bytes}; after the array, each element's referents in order: the process record (8-aligned, its
ImageName a TS_UNICODE_STRING whose buffer follows the record), then the SID; the BOOLEAN last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ._ndr import Reader, Writer, utf16le, utf16z
from ._status import from_ntstatus, ntstatus_from_win32

__all__ = ["Process", "ProcessesResult"]

#: BOUNDED_ULONG's upper bound for pNumberOfProcesses (MS-TSTS 2.2.1.12), and what impacket asks for.
MAX_PROCESSES = 0x8000
_ELEMENT = 12  # pTsProcessInfo, SizeOfSid, pSid
_RECORD = 136  # TS_SYS_PROCESS_INFORMATION's flat size


class Process(NamedTuple):
    pid: int
    session_id: int
    image_name: str
    sid: bytes  #: the owner's binary SID, b"" when the server gave none
    parent_pid: int = 0
    threads: int = 0
    handles: int = 0
    base_priority: int = 0
    create_time: int = 0  #: FILETIME ticks
    user_time: int = 0  #: 100-ns units
    kernel_time: int = 0
    working_set: int = 0
    peak_working_set: int = 0
    virtual_size: int = 0
    pagefile_usage: int = 0
    private_pages: int = 0
    peak_pagefile_usage: int = 0


class ProcessesResult(NamedTuple):
    processes: list[Process]
    ok: bool
    status: int
    error: int


def encode_get_all_processes_request(handle: bytes, level: int = 0, max_count: int = MAX_PROCESSES) -> bytes:
    w = Writer()
    w.context_handle(handle)
    w.u32(level)
    w.u32(max_count)
    return w.getvalue()


def decode_get_all_processes_request(stub: bytes) -> tuple[bytes, int, int]:
    """(handle, level, the most processes the client takes)."""
    r = Reader(stub, "RpcWinStationGetAllProcesses request")
    out = (r.context_handle("hServer"), r.u32("Level"), r.u32("pNumberOfProcesses"))
    r.done()
    return out


def _record(r: Reader) -> Process:
    r.align(8)
    r.u32("NextEntryOffset")
    threads = r.u32("NumberOfThreads")
    for spare in ("SpareLi1", "SpareLi2", "SpareLi3"):
        r.hyper(spare)
    create, user, kernel = r.hyper("CreateTime"), r.hyper("UserTime"), r.hyper("KernelTime")
    length, maximum, buffer = r.u16("ImageName.Length"), r.u16("ImageName.MaximumLength"), r.pointer("ImageName")
    if length > maximum or length % 2:
        raise r.fail(f"ImageName has Length {length} and MaximumLength {maximum}")
    priority, pid, parent = r.i32("BasePriority"), r.u32("UniqueProcessId"), r.u32("InheritedFromUniqueProcessId")
    handles, session_id = r.u32("HandleCount"), r.u32("SessionId")
    r.u32("SpareUl3")
    _peak_vm, vm, _faults, peak_ws, ws = (r.u32("memory counter") for _ in range(5))
    for _ in range(4):
        r.u32("pool counter")
    pagefile, peak_pagefile, private = (r.u32("pagefile counter") for _ in range(3))
    name = ""
    if buffer:
        max_count, offset, actual = r.u32("ImageName max count"), r.u32("ImageName offset"), r.u32("ImageName count")
        if offset or actual > max_count or actual != length // 2:
            raise r.fail(f"ImageName buffer of {actual}/{max_count} units for a Length of {length} bytes")
        name = utf16z(r.raw(2 * actual, "ImageName"))
    return Process(
        pid,
        session_id,
        name,
        b"",
        parent,
        threads,
        handles,
        priority,
        create,
        user,
        kernel,
        ws,
        peak_ws,
        vm,
        pagefile,
        private,
        peak_pagefile,
    )


def decode_get_all_processes_response(stub: bytes) -> ProcessesResult:
    r = Reader(stub, "RpcWinStationGetAllProcesses response")
    status = r.u32("pResult")
    r.u32("pNumberOfProcesses")
    processes = []
    if r.pointer("ppTsAllProcessesInfo"):
        n = r.count(_ELEMENT, "process count")
        flat = [(r.pointer("pTsProcessInfo"), r.u32("SizeOfSid"), r.pointer("pSid")) for _ in range(n)]
        for info, sid_size, sid in flat:
            process = _record(r) if info else Process(0, 0, "", b"")
            if sid:
                data = r.conformant_bytes("pSid")
                if len(data) != sid_size:
                    raise r.fail(f"SizeOfSid says {sid_size} bytes, the SID has {len(data)}")
                process = process._replace(sid=data)
            processes.append(process)
    ok = r.boolean("return value")
    r.done()
    error = from_ntstatus(status)
    if not ok and not error:
        error = from_ntstatus(0xC0000001)
    return ProcessesResult(processes, ok, status, error)


def encode_get_all_processes_response(processes: Sequence[Process], error: int = 0) -> bytes:
    w = Writer()
    w.u32(ntstatus_from_win32(error))
    if error:
        w.u32(0)
        w.u32(0)
        w.boolean(False)
        return w.getvalue()
    w.u32(len(processes))
    w.referent()
    w.u32(len(processes))
    for p in processes:
        w.referent()
        w.u32(len(p.sid))
        if p.sid:
            w.referent()
        else:
            w.u32(0)
    for p in processes:
        name = utf16le(p.image_name)[:0xFFFE]
        w.align(8)
        w.u32(0)
        w.u32(p.threads)
        for _ in range(3):
            w.hyper(0)
        for t in (p.create_time, p.user_time, p.kernel_time):
            w.hyper(t)
        w.u16(len(name))
        w.u16(len(name))
        w.referent()
        w.i32(p.base_priority)
        for v in (p.pid, p.parent_pid, p.handles, p.session_id, 0, 0, p.virtual_size, 0, p.peak_working_set):
            w.u32(v)
        for v in (p.working_set, 0, 0, 0, 0, p.pagefile_usage, p.peak_pagefile_usage, p.private_pages):
            w.u32(v)
        w.u32(len(name) // 2)
        w.u32(0)
        w.u32(len(name) // 2)
        w.raw(name)
        if p.sid:
            w.conformant_bytes(p.sid)
    w.boolean(True)
    return w.getvalue()
