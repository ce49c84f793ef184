"""Login protocol adapters for the weak-credential checks (B3).

An :class:`Authenticator` knows one protocol. ``open`` makes a :class:`LoginSession` (one
connection, reached only through the check context so the scope guard applies); the runner
calls ``login`` on it for one username/password pair after another, and opens a new
session whenever an attempt says the connection cannot be reused. Protocols that allow
several attempts per connection (FTP, SSH, Redis, MySQL's change-user) report ``reusable``
so fewer handshakes are spent, which is how hydra gets its speed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from shaobing.scan.checks import CheckContext, ServiceTarget


class Outcome(StrEnum):
    """The result of one login attempt.

    success  the pair is valid
    failure  the pair is wrong
    no_auth  the service granted access without any credentials (unauthorised access)
    locked   the account is locked or the server asks to slow down: back off this account
    error    a connection or protocol problem: not an answer about the pair, may be retried
    """

    SUCCESS = "success"
    FAILURE = "failure"
    NO_AUTH = "no_auth"
    LOCKED = "locked"
    ERROR = "error"


@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome, whether the session can take another, and what was seen."""

    outcome: Outcome
    reusable: bool = False
    detail: str = ""


class LoginSession(ABC):
    """One open connection to the service on which logins are tried."""

    @abstractmethod
    def login(self, username: str | None, password: str) -> Attempt:
        """Try one pair; never raises for network trouble (returns Outcome.ERROR)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent, never raises)."""


class Authenticator(ABC):
    """A login protocol adapter."""

    protocol: ClassVar[str]
    """Service name as identification reports it (``ssh``, ``ftp``, ``mysql``, ...)."""
    default_ports: ClassVar[frozenset[int]] = frozenset()
    needs_username: ClassVar[bool] = True
    """False for password-only logins (Redis ``AUTH pw``, SNMP communities)."""

    @abstractmethod
    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        """Connect (through ``ctx``); raises OSError when the service cannot be reached."""
