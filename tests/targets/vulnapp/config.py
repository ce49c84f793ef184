"""Run-time settings of the vulnerable application and the loopback-only guards."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: The only addresses the application listens on or connects to.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


class NotLoopback(ValueError):
    """A listen address, database host or fetch destination outside 127.0.0.1/::1."""


def require_loopback(host: str) -> str:
    """``host`` when it is 127.0.0.1 or ::1 (``localhost`` means 127.0.0.1, no DNS)."""
    bare = host.strip("[]")
    if bare == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(bare)
    except ValueError as exc:
        raise NotLoopback(f"not a loopback address: {host!r}") from exc
    if str(address) not in LOOPBACK_HOSTS:
        raise NotLoopback(f"not a loopback address: {host!r}")
    return str(address)


@dataclass(frozen=True)
class Dsn:
    """A database address parsed from ``scheme://user:password@host:port/database``."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def parse(cls, text: str, default_port: int) -> Dsn:
        """Parse ``text``; the host must be loopback."""
        parts = urlsplit(text)
        database = parts.path.lstrip("/")
        if not database:
            raise ValueError(f"the DSN names no database: {text!r}")
        return cls(
            host=require_loopback(parts.hostname or "127.0.0.1"),
            port=parts.port or default_port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=database,
        )


@dataclass(frozen=True)
class AppConfig:
    """Everything the application is told at start-up."""

    data_dir: Path
    mysql: Dsn | None = None
    postgres: Dsn | None = None
    #: Value of the ``X-Vulnapp-Secret`` header that opens ``/__test__/``; empty: closed.
    test_secret: str = ""
    #: How long ``/hostile/slow`` sleeps.
    slow_seconds: float = 5.0
    #: A login session ends after this many seconds (0: never).
    session_ttl: float = 1800.0
    #: A login session ends after this many authenticated requests (0: never).
    session_max_requests: int = 0
    #: Size of the endless streaming responses of ``/hostile/huge*``.
    huge_bytes: int = 1 << 30
    #: Leave the hostile pages out of the navigation (they still answer).
    hide_hostile: bool = False

    @property
    def backends(self) -> frozenset[str]:
        """The databases wired in: always ``sqlite``, plus ``mariadb`` / ``postgres``."""
        names = {"sqlite"}
        if self.mysql is not None:
            names.add("mariadb")
        if self.postgres is not None:
            names.add("postgres")
        return frozenset(names)
