"""PostgreSQL login adapter: StartupMessage and the password methods, written here.

Cleartext, md5 and SCRAM-SHA-256 are answered; ``trust`` (AuthenticationOk without any
request) is unauthorised access. The protocol has no re-authentication, so each session
carries exactly one attempt. SQLSTATE 28P01 is a wrong password (also for unknown roles,
which PostgreSQL does not reveal); 28000 (no pg_hba.conf entry, login not permitted),
53300 (too many connections) and 57P03 (starting up) are errors. TLS is not negotiated: a
server that only admits ``hostssl`` answers 28000, reported as an error.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._scram import ScramClient
from shaobing.scan.credentials._stream import ProtocolError, Stream, describe_error
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

_PROTOCOL_V3 = 196608
_MESSAGE_LIMIT = 64 * 1024
_MAX_MESSAGES = 32

AUTH_OK = 0
AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12

_SQLSTATE_OUTCOMES = {
    "28P01": Outcome.FAILURE,  # invalid_password
    "28000": Outcome.ERROR,  # invalid_authorization_specification
    "53300": Outcome.ERROR,  # too_many_connections
    "57P03": Outcome.ERROR,  # cannot_connect_now
}


@dataclass(frozen=True)
class Message:
    """One backend message: type byte and body."""

    kind: bytes
    body: bytes


def parse_error_fields(body: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse / NoticeResponse body (code letter → text)."""
    fields: dict[str, str] = {}
    for part in body.split(b"\0"):
        if len(part) >= 1:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")[:300]
    return fields


def startup_message(user: str, database: str) -> bytes:
    """A protocol 3.0 StartupMessage for ``user`` on ``database``."""
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    return struct.pack("!II", 8 + len(params), _PROTOCOL_V3) + params


def md5_password(user: str, password: str, salt: bytes) -> bytes:
    """The md5 method's answer: 'md5' + md5(md5(password + user) + salt), NUL-terminated."""
    inner = hashlib.md5(password.encode() + user.encode()).hexdigest()  # noqa: S324
    outer = hashlib.md5(inner.encode() + salt).hexdigest()  # noqa: S324 - the protocol's hash
    return b"md5" + outer.encode() + b"\0"


def _frontend(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


class PostgresSession(LoginSession):
    """One connection, good for one attempt."""

    def __init__(self, stream: Stream, database: str) -> None:
        self._stream = stream
        self._database = database
        self._used = False

    def _read(self, deadline: float) -> Message:
        header = self._stream.read_exact(5, deadline)
        kind, length = header[:1], struct.unpack("!I", header[1:])[0]
        if not 4 <= length <= _MESSAGE_LIMIT or not kind.isalpha():
            raise ProtocolError(f"not a PostgreSQL message ({header.hex()})")
        return Message(kind, self._stream.read_exact(length - 4, deadline))

    def login(self, username: str | None, password: str) -> Attempt:
        """Send the startup message as ``username`` and answer the server's method."""
        if self._used:
            return Attempt(Outcome.ERROR, detail="one attempt per connection")
        self._used = True
        user = username or "postgres"
        try:
            return self._login(user, password)
        except (OSError, ProtocolError, ValueError) as exc:
            return Attempt(Outcome.ERROR, detail=describe_error(exc))
        finally:
            self.close()

    def _login(self, user: str, password: str) -> Attempt:
        self._stream.send(startup_message(user, self._database))
        deadline = self._stream.deadline()
        scram: ScramClient | None = None
        answered = False
        for _ in range(_MAX_MESSAGES):
            message = self._read(deadline)
            if message.kind == b"E":
                fields = parse_error_fields(message.body)
                code = fields.get("C", "")
                detail = f"{code}: {fields.get('M', '')}"
                if code == "3D000" and answered:
                    # The database check comes after authentication: the password was right.
                    return Attempt(Outcome.SUCCESS, detail=detail)
                return Attempt(_SQLSTATE_OUTCOMES.get(code, Outcome.ERROR), detail=detail)
            if message.kind != b"R":
                continue  # notices, NegotiateProtocolVersion
            if len(message.body) < 4:
                raise ProtocolError("authentication request truncated")
            code = struct.unpack_from("!I", message.body)[0]
            data = message.body[4:]
            if code == AUTH_OK:
                if not answered:
                    return Attempt(Outcome.NO_AUTH, detail="trust authentication")
                self._stream.send(_frontend(b"X", b""))
                return Attempt(Outcome.SUCCESS)
            answered = True
            if code == AUTH_CLEARTEXT:
                self._stream.send(_frontend(b"p", password.encode() + b"\0"))
            elif code == AUTH_MD5 and len(data) == 4:
                self._stream.send(_frontend(b"p", md5_password(user, password, data)))
            elif code == AUTH_SASL:
                mechanisms = data.split(b"\0")
                if b"SCRAM-SHA-256" not in mechanisms:
                    return Attempt(Outcome.ERROR, detail="no supported SASL mechanism")
                scram = ScramClient("sha256", "", password.encode())
                first = scram.first()
                body = b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first
                self._stream.send(_frontend(b"p", body))
            elif code == AUTH_SASL_CONTINUE and scram is not None:
                self._stream.send(_frontend(b"p", scram.final(data)))
            elif code == AUTH_SASL_FINAL and scram is not None:
                if not scram.verify(data):
                    return Attempt(Outcome.ERROR, detail="server signature did not verify")
            else:
                return Attempt(Outcome.ERROR, detail=f"unsupported authentication method {code}")
        raise ProtocolError("no authentication result")

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._stream.close()


@register_authenticator
class PostgresAuthenticator(Authenticator):
    """PostgreSQL (and wire-compatible servers that keep its password methods)."""

    protocol: ClassVar[str] = "postgresql"
    default_ports: ClassVar[frozenset[int]] = frozenset({5432, 5433})

    def open(self, ctx: CheckContext, target: ServiceTarget) -> PostgresSession:
        """Connect; the database is the policy option ``database`` (default ``postgres``)."""
        options: Mapping[str, object] = ctx.options
        database = str(options.get("database") or "postgres")
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        return PostgresSession(Stream(sock, ctx.timeout), database)
