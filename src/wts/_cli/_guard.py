"""The error contract of every command: whatever goes wrong ends as one line on stderr naming the
thing and the reason (Windows' text, name and code where there is one) and an ``ExitStatus``; a
traceback only with -vv.  A reader that went away (``wts sessions | head``) ends quietly."""

from __future__ import annotations

import argparse
import os
import traceback
from collections.abc import Callable
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
    status = run_guarded(ctx, load(args.command))
    ctx.close()
    return status if status == ExitStatus.INTERRUPTED else max(status, ctx.status_after_close)


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
        ctx.error(str(exc))
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
        ctx.error("interrupted")
        status = ExitStatus.INTERRUPTED
    except Exception as exc:  # a bug in wts: say so plainly
        _maybe_trace(ctx)
        ctx.error(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback; please report it)")
        status = ExitStatus.FAILED
    finally:
        _flush(ctx.stdout)
    return status


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
