"""Bounded, deadline-driven reads on a socket for the login adapters and access checks.

Every read has a deadline for the whole unit (one packet, one reply line), not per
``recv`` call, so a peer that trickles one byte at a time cannot stretch an attempt past
the timeout; every read has a size limit, so a peer that streams garbage cannot exhaust
memory. Violations raise :class:`ProtocolError` (or ``TimeoutError``/``OSError`` from the
socket), which the adapters turn into ``Outcome.ERROR``.
"""

from __future__ import annotations

import contextlib
import socket
import time


class ProtocolError(Exception):
    """The peer does not speak the expected protocol (garbage, truncated, oversized)."""


class Stream:
    """A socket with an input buffer; reads bounded by size and an overall deadline."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self._buffer = bytearray()
        sock.settimeout(timeout)

    def deadline(self) -> float:
        """A monotonic deadline ``timeout`` seconds from now, for a multi-part read."""
        return time.monotonic() + self.timeout

    def send(self, data: bytes) -> None:
        """Send everything (the socket's own timeout bounds a stalled peer)."""
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("read deadline passed")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ProtocolError("connection closed by peer")
        self._buffer += chunk

    def read_exact(self, size: int, deadline: float | None = None) -> bytes:
        """Exactly ``size`` bytes before the deadline."""
        end = self.deadline() if deadline is None else deadline
        while len(self._buffer) < size:
            self._fill(end)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_until(self, delimiter: bytes, limit: int, deadline: float | None = None) -> bytes:
        """Bytes up to and including ``delimiter``; ProtocolError past ``limit`` bytes."""
        end = self.deadline() if deadline is None else deadline
        start = 0
        while True:
            index = self._buffer.find(delimiter, start)
            if index >= 0:
                stop = index + len(delimiter)
                data = bytes(self._buffer[:stop])
                del self._buffer[:stop]
                return data
            if len(self._buffer) > limit:
                raise ProtocolError(f"no {delimiter!r} within {limit} bytes")
            start = max(0, len(self._buffer) - len(delimiter) + 1)
            self._fill(end)

    def read_some(self, limit: int, deadline: float | None = None) -> bytes:
        """Whatever is buffered or arrives next (at most ``limit`` bytes)."""
        if not self._buffer:
            self._fill(self.deadline() if deadline is None else deadline)
        data = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        return data

    def close(self) -> None:
        """Close the socket (idempotent, never raises)."""
        with contextlib.suppress(OSError):
            self.sock.close()


def describe_error(exc: BaseException) -> str:
    """A short, single-line description of a network or protocol error for ``detail``."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    text = str(exc).replace("\n", " ").strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
