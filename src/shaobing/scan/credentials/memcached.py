"""Memcached login adapter (text protocol).

Memcached has no authentication unless started with ``-Y`` (ASCII authentication, 1.5.15+)
or ``-S`` (SASL, binary protocol only). A session first sends ``version``: an answer means
anyone may read and write the cache (NO_AUTH); ``CLIENT_ERROR unauthenticated`` means
ASCII authentication, where the pair is sent as the value of a ``set``. A refused pair
keeps the connection; after a success the next ``set`` would really store data, so a
successful session is not reused. SASL-only servers (binary protocol) are reported as an
error: the binary SASL exchange is not implemented.
"""

from __future__ import annotations

from typing import ClassVar

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError, Stream, describe_error
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

_LINE_LIMIT = 1024


def read_line(stream: Stream) -> str:
    """One CRLF-terminated reply line (without the CRLF)."""
    return stream.read_until(b"\r\n", _LINE_LIMIT)[:-2].decode("utf-8", "replace")


def auth_request(username: str, password: str) -> bytes:
    """The ASCII-authentication ``set`` whose value is ``username password``."""
    value = f"{username} {password}".encode()
    return b"set auth 0 0 %d\r\n%s\r\n" % (len(value), value)


class MemcachedSession(LoginSession):
    """One connection; learns on first use whether the server authenticates at all."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._mode: str | None = None  # "open" or "auth"
        self._version = ""
        self._closed = False

    def _probe(self) -> None:
        self._stream.send(b"version\r\n")
        line = read_line(self._stream)
        if line.startswith("VERSION "):
            self._mode, self._version = "open", line[8:40]
        elif line.startswith("CLIENT_ERROR unauthenticated"):
            self._mode = "auth"
        else:
            raise ProtocolError(f"unexpected reply {line[:60]!r}")

    def login(self, username: str | None, password: str) -> Attempt:
        """Try one pair (or report that no authentication is configured)."""
        if self._closed:
            return Attempt(Outcome.ERROR, detail="connection closed")
        try:
            if self._mode is None:
                self._probe()
            if self._mode == "open":
                return Attempt(Outcome.NO_AUTH, reusable=True, detail=f"version {self._version}")
            if not username or " " in username or "\r" in password or "\n" in password:
                return Attempt(Outcome.FAILURE, reusable=True, detail="pair not expressible")
            self._stream.send(auth_request(username, password))
            line = read_line(self._stream)
        except (OSError, ProtocolError) as exc:
            self.close()
            return Attempt(Outcome.ERROR, detail=describe_error(exc))
        if line == "STORED":
            self.close()
            return Attempt(Outcome.SUCCESS, detail="ASCII authentication")
        if line.startswith("CLIENT_ERROR authentication failure"):
            return Attempt(Outcome.FAILURE, reusable=True, detail=line[:100])
        self.close()
        return Attempt(Outcome.ERROR, detail=f"unexpected reply {line[:60]!r}")

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._closed = True
        self._stream.close()


@register_authenticator
class MemcachedAuthenticator(Authenticator):
    """Memcached: no authentication (NO_AUTH) or ASCII authentication."""

    protocol: ClassVar[str] = "memcached"
    default_ports: ClassVar[frozenset[int]] = frozenset({11211})

    def open(self, ctx: CheckContext, target: ServiceTarget) -> MemcachedSession:
        """Connect through the context."""
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        return MemcachedSession(Stream(sock, ctx.timeout))
