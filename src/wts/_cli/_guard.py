"""The error contract of every command: whatever goes wrong ends as one line on stderr naming the
thing and the reason (Windows' text, name and code where there is one) and an ``ExitStatus``; a
traceback only with -vv.  A reader that went away (``wts sessions | head``) ends quietly."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO

import wts
from wts import WTSError

from ._commands import load
from ._context import Context, Environment, StreamClosedError
from ._status import ExitStatus, Refused, UsageError
from ._text import error_line

__all__ = ["run_command", "run_guarded", "stdout_to_devnull"]


def run_command(args: argparse.Namespace, env: Environment) -> int:
    """Run the parsed command in a fresh Context, then close it (the audit log; --sim-state is
    written back, and a failure to write it makes the status 1 unless the run was interrupted)."""
    ctx = Context(args, env)
    with _sigterm_stops(ctx):
        try:
            status = run_guarded(ctx, load(args.command))
        finally:
            ctx.close()
    if ctx.terminated:
        return ExitStatus.TERMINATED
    return status if status == ExitStatus.INTERRUPTED else max(status, ctx.status_after_close)


@contextmanager
def _sigterm_stops(ctx: Context) -> Iterator[None]:
    """While the command runs, SIGTERM (a service manager, ``kill``) stops it as Ctrl-C does: a bulk
    run stops sending, reports what it did; anything else ends at once; either way the context is
    closed, so --sim-state is saved and the audit log synced.  Main thread only (where signals land)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        first = not ctx.terminated
        ctx.terminated = True
        handler = signal.getsignal(signal.SIGINT)
        if first and callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)  # a bulk run's own Ctrl-C handler: it stops gently
        else:
            raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_guarded(ctx: Context, command: Callable[[Context], int]) -> int:
    """``command(ctx)``'s status, or the status of the exception it raised, said in one line."""
    status: int = ExitStatus.OK
    try:
        status = command(ctx)
        ctx.stdout.flush()
    except UsageError as exc:
        _maybe_trace(ctx)
        ctx.error(str(exc))
        status = ExitStatus.USAGE
    except Refused as exc:
        ctx.error(str(exc))
        status = exc.status
    except WTSError as exc:
        _maybe_trace(ctx)
        ctx.error(error_line(exc))
        status = ExitStatus.FAILED
    except LookupError as exc:  # an unknown session, named by the user
        _maybe_trace(ctx)
        ctx.error(str(exc))
        status = ExitStatus.FAILED
    except wts.ProviderError as exc:
        _maybe_trace(ctx)
        ctx.error(provider_error_line(ctx, exc))
        status = ExitStatus.USAGE
    except BrokenPipeError:  # the reader went away ('wts sessions | head'): no one to tell, no noise
        stdout_to_devnull(ctx.stdout)
        status = ExitStatus.FAILED
    except StreamClosedError as exc:  # 'wts sessions >&-': what was done stands; its report is lost
        _maybe_trace(ctx)
        ctx.error(f"{exc.stream_name} is closed: the output could not be written")
        status = ExitStatus.FAILED
    except (ValueError, TypeError, OSError) as exc:  # bad input the library refused: it says why
        _maybe_trace(ctx)
        text = str(exc) if not isinstance(exc, OSError) or not exc.strerror else exc.strerror
        ctx.error(text)
        status = ExitStatus.USAGE
    except KeyboardInterrupt:
        ctx.error("terminated" if ctx.terminated else "interrupted")
        status = ExitStatus.INTERRUPTED
    except Exception as exc:  # a bug in wts: say so plainly
        _maybe_trace(ctx)
        ctx.error(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback; please report it)")
        status = ExitStatus.FAILED
    finally:
        _flush(ctx.stdout)
    return status


def provider_error_line(ctx: Context, exc: wts.ProviderError) -> str:
    """No usable provider, in the command's words (its options, not the library's arguments): chosen
    from what the command knows (which provider, whether a farm is loaded), not from the text."""
    if ctx.provider is None:
        import sys

        return (
            f"no WTS provider on {sys.platform}: wtsapi32 exists only on Windows; to use the simulated farm, "
            "add --provider sim --sim-farm FILE (or set WTS_PROVIDER=sim and WTS_SIM_FARM=FILE)"
        )
    if ctx.provider == "sim" and not wts.sim.loaded():
        return "the sim provider has no farm loaded: name one with --sim-farm FILE (or --sim-state FILE, WTS_SIM_FARM)"
    return str(exc)  # an unknown name from WTS_PROVIDER: the library's words name it


def _flush(stream: IO[str]) -> None:
    """Flush what is left after a failure; one that cannot take it any more has had its error said."""
    try:
        stream.flush()
    except (OSError, ValueError):
        pass


def stdout_to_devnull(stdout: IO[str]) -> None:
    """After a broken pipe, what is still buffered for stdout goes nowhere instead of failing again at
    the final flush (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (in-process callers): nothing to do
        pass


def _maybe_trace(ctx: Context) -> None:
    if ctx.verbose >= 2:
        ctx.env.note(traceback.format_exc().rstrip("\n"))
