"""The ``tsts`` provider's Python side: MS-TSTS (DCE/RPC over SMB named pipes) as client and server.

Private.  Needs the ``remote`` extra (smbprotocol, pyspnego); nothing here is imported unless the
provider or ``wts sim serve`` is used.  docs/design.md maps the modules.  The codec needs no extra
and does no I/O: ``_ndr`` (NDR 2.0), ``_pdu`` (the PDUs' records, reading them, reassembly),
``_frames`` (writing them, fragmenting), ``_calls`` / ``_actions`` / ``_processes`` / ``_legacy``
(each MS-TSTS call both ways) and ``_status`` (NTSTATUS / HRESULT / fault codes to Win32 codes).
"""
