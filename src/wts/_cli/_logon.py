"""The logon options, on every command: ``-U DOMAIN\\NAME`` and ``--password-file`` (the -U account's;
``connect`` has its own, the session owner's) for every provider (tsts logs on with them, win32 and sim
as runas /netonly), ``--connect-timeout`` and ``--encrypt`` for tsts.  The password is read in
``Context.setup`` (--password-file, WTS_PASSWORD or a no-echo prompt), never from argv."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_logon_options"]


def add_logon_options(
    g: argparse._ArgumentGroup, d: Callable[[Any], Any], password_file: bool, seconds: Callable[[str], float]
) -> None:
    """Add them to ``g``; ``d`` gives each default (SUPPRESS on subcommands), ``seconds`` parses one."""
    g.add_argument(
        "-U",
        dest="logon",
        metavar="DOMAIN\\NAME",
        default=d(None),
        help="log on as this account: tsts over NTLM; win32 as runas /netonly (every call impersonating it); "
        "the password from --password-file, WTS_PASSWORD or a prompt, never the command line.  "
        "Without -U: tsts uses Kerberos from the ticket cache, the others this process's user",
    )
    if password_file:
        g.add_argument(
            "--password-file",
            dest="logon_password_file",
            metavar="FILE",
            default=d(None),
            help="the -U account's password, the first line of FILE",
        )
    g.add_argument(
        "--connect-timeout",
        type=seconds,
        default=d(5.0),
        metavar="SECONDS",
        help="tsts: how long reaching a server may take before it counts as unavailable (default 5)",
    )
    g.add_argument(
        "--encrypt",
        action="store_true",
        default=d(False),
        help="tsts: encrypt the SMB sessions (SMB 3) even where the servers do not require it",
    )
