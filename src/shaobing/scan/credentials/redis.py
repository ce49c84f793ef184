"""Redis login adapter and a small RESP2 client (also used by the unauthorised-access check).

A session first sends ``PING``: ``+PONG`` means the server answers without
authentication, and every pair is then reported as unauthorised access (NO_AUTH) rather
than tried — with ``nopass`` even ``AUTH default anything`` succeeds, which would
otherwise look like a found password. Otherwise ``AUTH password`` (``username`` None) or
the ACL form ``AUTH username password`` (Redis 6+) is sent. Redis keeps the connection
after a refused AUTH, so every attempt is reusable. ``-DENIED`` (protected mode) and
``-ERR max number of clients`` are errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError, Stream, describe_error
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

# Replies the checks read are INFO (a few KB) and CONFIG GET answers.
_BULK_LIMIT = 256 * 1024
_LINE_LIMIT = 4096
_ARRAY_LIMIT = 1024
_MAX_DEPTH = 4


@dataclass(frozen=True)
class RedisError:
    """An error reply (``-ERR ...``, ``-NOAUTH ...``)."""

    message: str

    @property
    def code(self) -> str:
        """The first word (ERR, NOAUTH, WRONGPASS, DENIED, ...)."""
        return self.message.split(" ", 1)[0]


Reply = str | int | bytes | None | RedisError | list["Reply"]


def command(*args: str | bytes) -> bytes:
    """A command encoded as a RESP array of bulk strings."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _line(stream: Stream, deadline: float) -> str:
    raw = stream.read_until(b"\r\n", _LINE_LIMIT, deadline)[:-2]
    return raw.decode("utf-8", "replace")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProtocolError("RESP length is not a number") from None


def read_reply(stream: Stream, deadline: float | None = None, depth: int = 0) -> Reply:
    """One RESP2 reply; ProtocolError for anything that is not RESP or too large."""
    end = stream.deadline() if deadline is None else deadline
    kind = stream.read_exact(1, end)
    if kind == b"+":
        return _line(stream, end)
    if kind == b"-":
        return RedisError(_line(stream, end))
    if kind == b":":
        return _int(_line(stream, end))
    if kind == b"$":
        size = _int(_line(stream, end))
        if size == -1:
            return None
        if not 0 <= size <= _BULK_LIMIT:
            raise ProtocolError(f"bulk string of {size} bytes")
        data = stream.read_exact(size + 2, end)
        if data[-2:] != b"\r\n":
            raise ProtocolError("bulk string not terminated")
        return data[:-2]
    if kind == b"*":
        count = _int(_line(stream, end))
        if count == -1:
            return None
        if not 0 <= count <= _ARRAY_LIMIT or depth >= _MAX_DEPTH:
            raise ProtocolError(f"array of {count} items")
        return [read_reply(stream, end, depth + 1) for _ in range(count)]
    raise ProtocolError(f"not a RESP reply (starts with {kind!r})")


def call(stream: Stream, *args: str | bytes) -> Reply:
    """Send one command and read its reply."""
    stream.send(command(*args))
    return read_reply(stream)


def auth_outcome(reply: Reply) -> Outcome:
    """What an AUTH reply means."""
    if reply == "OK":
        return Outcome.SUCCESS
    if isinstance(reply, RedisError):
        text = reply.message.lower()
        if reply.code == "WRONGPASS" or "invalid password" in text or "invalid username" in text:
            return Outcome.FAILURE
        # Redis < 6: "no password is set"; 6+: "called without any password configured".
        if "no password is set" in text or "without any password configured" in text:
            return Outcome.NO_AUTH
    return Outcome.ERROR


class RedisSession(LoginSession):
    """One connection; AUTH is retried on it as often as the runner likes."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._open_without_auth: bool | None = None
        self._closed = False

    def _probe(self) -> None:
        reply = call(self._stream, "PING")
        if reply == "PONG":
            self._open_without_auth = True
        elif isinstance(reply, RedisError) and reply.code in ("NOAUTH", "ERR", "WRONGPASS"):
            # NOAUTH (requirepass/ACL); old servers answer "-ERR operation not permitted".
            self._open_without_auth = False
        elif isinstance(reply, RedisError):
            raise ProtocolError(reply.message[:200])
        else:
            raise ProtocolError("unexpected PING reply")

    def login(self, username: str | None, password: str) -> Attempt:
        """AUTH with the pair; NO_AUTH when the server needs no password at all."""
        if self._closed:
            return Attempt(Outcome.ERROR, detail="connection closed")
        try:
            if self._open_without_auth is None:
                self._probe()
            if self._open_without_auth:
                return Attempt(Outcome.NO_AUTH, reusable=True, detail="PING without AUTH")
            args = ("AUTH", username, password) if username else ("AUTH", password)
            reply = call(self._stream, *args)
        except (OSError, ProtocolError) as exc:
            self.close()
            return Attempt(Outcome.ERROR, detail=describe_error(exc))
        outcome = auth_outcome(reply)
        detail = reply.message[:200] if isinstance(reply, RedisError) else str(reply)[:200]
        reusable = outcome is not Outcome.ERROR
        if not reusable:
            self.close()
        return Attempt(outcome, reusable=reusable, detail=detail)

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._closed = True
        self._stream.close()


@register_authenticator
class RedisAuthenticator(Authenticator):
    """Redis ``AUTH`` (password only, or ACL user and password when a username is given)."""

    protocol: ClassVar[str] = "redis"
    default_ports: ClassVar[frozenset[int]] = frozenset({6379, 6380})
    needs_username: ClassVar[bool] = False

    def open(self, ctx: CheckContext, target: ServiceTarget) -> RedisSession:
        """Connect through the context."""
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        return RedisSession(Stream(sock, ctx.timeout))
