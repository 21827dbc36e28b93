"""The ``tsts`` provider's Python side: MS-TSTS (DCE/RPC over SMB named pipes) as client and server.

Private.  Needs the ``remote`` extra (smbprotocol, pyspnego); nothing here is imported unless the
provider or ``wts sim serve`` is used.  docs/design.md maps the modules.
"""
