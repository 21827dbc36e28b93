"""The command table: each command's name, and the module and function that run it, imported only
when that command runs (pip's lazy registry), so ``wts --help`` loads none of them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ._context import Context

__all__ = ["COMMANDS", "load"]


class Command(NamedTuple):
    module: str  #: under wts._cli
    function: str  #: takes a Context, returns the exit status


COMMANDS: dict[str, Command] = {
    "sessions": Command("_sessions", "run"),
    "ls": Command("_sessions", "run"),
    "disconnect": Command("_actions", "run"),
    "logoff": Command("_actions", "run"),
    "message": Command("_actions", "run"),
    "msg": Command("_actions", "run"),
    "connect": Command("_connect", "run"),
    "tsdiscon": Command("_classic", "run_tsdiscon"),
    "tscon": Command("_classic", "run_tscon"),
    "qwinsta": Command("_classic_query", "run_qwinsta"),
    "quser": Command("_classic_query", "run_quser"),
    "query": Command("_classic_query", "run_query"),
    "rwinsta": Command("_classic_actions", "run_rwinsta"),
    "reset": Command("_classic_actions", "run_reset"),
    "qprocess": Command("_classic_process", "run_qprocess"),
    "tskill": Command("_classic_process", "run_tskill"),
    "bench": Command("_bench", "run"),
    "ps": Command("_processes", "run_ps"),
    "kill": Command("_processes", "run_kill"),
    "sim": Command("_simserve", "run"),
}


def load(name: str) -> Callable[[Context], int]:
    """The function that runs command ``name`` (its module is imported now)."""
    command = COMMANDS[name]
    module = importlib.import_module(f"{__package__}.{command.module}")
    run: Callable[[Context], int] = getattr(module, command.function)
    return run
