"""Who a provider logs on as: ``wts.Credentials`` (tsts: to each server; win32 and sim: as ``runas /netonly``).

A password is held for the logon only: it never appears in ``repr``/``str``, errors, logs or the
audit log, and a ``Credentials`` does not pickle (a pickle would carry the password in clear).
"""

from __future__ import annotations

from typing import NoReturn

__all__ = ["Credentials"]


class Credentials:
    """A user (``user``, ``domain``) and a password for NTLM, or no password: Kerberos from the
    ticket cache (``kinit``).  ``Credentials.parse("CONTOSO\\\\admin", pw)`` takes smbclient's
    ``DOMAIN\\\\name`` spelling, or ``name@realm``."""

    __slots__ = ("_password", "domain", "user")

    def __init__(self, user: str, domain: str = "", password: str | None = None) -> None:
        if not isinstance(user, str) or not user.strip():
            raise ValueError("credentials: the user name is empty")
        if not isinstance(domain, str):
            raise TypeError("credentials: the domain must be a str")
        if password is not None and not isinstance(password, str):
            raise TypeError("credentials: the password must be a str or None")
        for what, value in (("user name", user), ("domain", domain)):
            if any(ord(c) < 32 for c in value) or "\\" in value:
                raise ValueError(f"credentials: the {what} {value!r} holds a control character or a backslash")
        self.user = user.strip()
        self.domain = domain.strip()
        self._password = password

    @classmethod
    def parse(cls, spec: str, password: str | None = None) -> Credentials:
        """``DOMAIN\\\\name``, ``name@realm`` (kept whole, as Windows takes a UPN) or ``name``."""
        domain, sep, user = spec.partition("\\")
        if not sep:
            domain, user = "", spec
        return cls(user, domain, password)

    @property
    def password(self) -> str | None:
        """The password (None: Kerberos from the ticket cache).  Never shown by ``repr``."""
        return self._password

    @property
    def principal(self) -> str:
        """``DOMAIN\\\\user`` (or ``user`` without a domain): what logs and errors may name."""
        return f"{self.domain}\\{self.user}" if self.domain else self.user

    def __repr__(self) -> str:
        secret = "None" if self._password is None else "'***'"
        return f"Credentials(user={self.user!r}, domain={self.domain!r}, password={secret})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.user, self.domain, self._password) == (other.user, other.domain, other._password)

    def __hash__(self) -> int:
        return hash((self.user.casefold(), self.domain.casefold()))

    def __reduce__(self) -> NoReturn:
        raise TypeError("wts.Credentials does not pickle: the pickle would hold the password in clear")
