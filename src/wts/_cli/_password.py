"""Passwords from files: the first line of a --password-file (the session owner's for connect, the -U
account's for the tsts provider), read with a bound.  The text is returned, never shown."""

from __future__ import annotations

from ._status import UsageError

__all__ = ["PASSWORD_MAX", "password_file"]

#: The most a password line may hold (bytes of a --password-file, characters from a pipe): far more
#: than any password, and a bound on what /dev/zero or a wrong file can make wts read.
PASSWORD_MAX = 1024


def password_file(path: str, option: str = "--password-file") -> str:
    """The first line of ``path`` (UTF-8, a BOM allowed), reading at most 1 KiB and a line end."""
    try:
        with open(path, "rb") as f:
            data = f.read(PASSWORD_MAX + 2)  # room for the line end after a password of the full length
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    line, newline, _ = data.partition(b"\n")
    line = line.rstrip(b"\r")
    if len(line) > PASSWORD_MAX or (not newline and len(data) > PASSWORD_MAX):
        raise UsageError(
            f"{option}: {path}: the first line is longer than {PASSWORD_MAX} bytes (1 KiB), the most a "
            "password file may hold on it"
        )
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{option}: {path}: the first line is not UTF-8 text") from None
