"""MongoDB login adapter and a small wire-protocol client (also used by the access check).

The handshake is ``isMaster`` over OP_QUERY, which every server from 2.x to 7.x answers;
later commands use OP_MSG when the server speaks wire version 6 (3.6) or newer, else
OP_QUERY. A session first runs ``listDatabases`` without credentials: if that works the
server grants access to anyone (NO_AUTH). Otherwise pairs are tried with SCRAM-SHA-256
(servers 4.0+) or SCRAM-SHA-1 against the ``admin`` database (policy option
``auth_database``). Error code 18 is a wrong pair; a refused attempt keeps the
connection, a successful one closes it (servers 5+ allow one authentication per
connection).
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Mapping
from typing import Any, ClassVar

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials import _bson
from shaobing.scan.credentials._scram import ScramClient
from shaobing.scan.credentials._stream import ProtocolError, Stream, describe_error
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
_HEADER = struct.Struct("<iiii")
# listDatabases with nameOnly stays small; isMaster is well under 1 KB.
_MESSAGE_LIMIT = 4 * 1024 * 1024
_AUTH_FAILED = 18
_UNAUTHORIZED = 13
_MECHANISM_UNAVAILABLE = 334
_request_ids = itertools.count(1)


def _query_message(request_id: int, database: str, document: dict[str, Any]) -> bytes:
    body = (
        struct.pack("<i", 0)
        + f"{database}.$cmd".encode()
        + b"\0"
        + struct.pack("<ii", 0, -1)
        + _bson.encode(document)
    )
    return _HEADER.pack(16 + len(body), request_id, 0, OP_QUERY) + body


def _msg_message(request_id: int, database: str, document: dict[str, Any]) -> bytes:
    body = struct.pack("<I", 0) + b"\x00" + _bson.encode({**document, "$db": database})
    return _HEADER.pack(16 + len(body), request_id, 0, OP_MSG) + body


def parse_reply(opcode: int, body: bytes) -> dict[str, Any]:
    """The command reply document of an OP_REPLY or OP_MSG body; ProtocolError otherwise."""
    if opcode == OP_REPLY:
        if len(body) < 20:
            raise ProtocolError("OP_REPLY truncated")
        count = struct.unpack_from("<i", body, 16)[0]
        if count < 1:
            raise ProtocolError("OP_REPLY without a document")
        return _bson.decode_at(body, 20)[0]
    if opcode == OP_MSG:
        if len(body) < 5 or body[4] != 0:
            raise ProtocolError("OP_MSG without a body section")
        return _bson.decode_at(body, 5)[0]
    raise ProtocolError(f"unexpected opcode {opcode}")


class MongoClient:
    """Commands over one connection; ``handshake()`` first."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.hello: dict[str, Any] = {}
        self._op_msg = False

    def _roundtrip(self, message: bytes, request_id: int) -> dict[str, Any]:
        self.stream.send(message)
        deadline = self.stream.deadline()
        header = self.stream.read_exact(16, deadline)
        length, _, response_to, opcode = _HEADER.unpack(header)
        if not 16 < length <= _MESSAGE_LIMIT:
            raise ProtocolError(f"message of {length} bytes")
        body = self.stream.read_exact(length - 16, deadline)
        if response_to != request_id:
            raise ProtocolError("reply to another request")
        return parse_reply(opcode, body)

    def handshake(self) -> dict[str, Any]:
        """isMaster over OP_QUERY; decides whether later commands use OP_MSG."""
        request_id = next(_request_ids)
        self.hello = self._roundtrip(
            _query_message(request_id, "admin", {"isMaster": 1}), request_id
        )
        wire = self.hello.get("maxWireVersion")
        if not isinstance(wire, int) or "ok" not in self.hello:
            raise ProtocolError("not a MongoDB isMaster reply")
        self._op_msg = wire >= 6
        return self.hello

    def command(self, database: str, document: dict[str, Any]) -> dict[str, Any]:
        """Run one command and return its reply document."""
        request_id = next(_request_ids)
        if self._op_msg:
            return self._roundtrip(_msg_message(request_id, database, document), request_id)
        return self._roundtrip(_query_message(request_id, database, document), request_id)

    def list_databases(self) -> dict[str, Any]:
        """``listDatabases`` (names only) on ``admin``."""
        return self.command("admin", {"listDatabases": 1, "nameOnly": True})


def is_ok(reply: Mapping[str, Any]) -> bool:
    """Whether a reply says ``ok: 1``."""
    ok = reply.get("ok")
    return ok is True or (isinstance(ok, int | float) and not isinstance(ok, bool) and ok == 1)


def scram_sha1_password(username: str, password: str) -> bytes:
    """MongoDB's SCRAM-SHA-1 pre-hash: hex(md5(user:mongo:password))."""
    digest = hashlib.md5(f"{username}:mongo:{password}".encode())  # noqa: S324 - protocol
    return digest.hexdigest().encode()


class MongoSession(LoginSession):
    """One connection; the first use checks for unauthenticated access."""

    def __init__(self, client: MongoClient, auth_database: str) -> None:
        self._client = client
        self._auth_db = auth_database
        self._open: bool | None = None
        self._mechanism = ""
        self._closed = False

    def _probe(self) -> None:
        hello = self._client.handshake()
        self._mechanism = "SCRAM-SHA-256" if hello["maxWireVersion"] >= 7 else "SCRAM-SHA-1"
        reply = self._client.list_databases()
        if is_ok(reply):
            self._open = True
        elif reply.get("code") == _UNAUTHORIZED or "auth" in str(reply.get("errmsg", "")):
            self._open = False
        else:
            raise ProtocolError(f"listDatabases: {str(reply.get('errmsg', ''))[:100]}")

    def login(self, username: str | None, password: str) -> Attempt:
        """SCRAM with the pair, or NO_AUTH when the server needs no credentials."""
        if self._closed:
            return Attempt(Outcome.ERROR, detail="connection closed")
        try:
            if self._open is None:
                self._probe()
            if self._open:
                return Attempt(Outcome.NO_AUTH, reusable=True, detail="listDatabases without auth")
            attempt = self._scram(username or "admin", password)
            if self._mechanism == "SCRAM-SHA-256" and attempt.detail.startswith(
                f"{_MECHANISM_UNAVAILABLE}:"
            ):
                # Users created before 4.0 hold SCRAM-SHA-1 credentials only.
                self._mechanism = "SCRAM-SHA-1"
                attempt = self._scram(username or "admin", password)
        except (OSError, ProtocolError, ValueError, KeyError) as exc:
            attempt = Attempt(Outcome.ERROR, detail=describe_error(exc))
        if not attempt.reusable:
            self.close()
        return attempt

    def _failed(self, reply: Mapping[str, Any]) -> Attempt:
        code = reply.get("code")
        detail = f"{code}: {str(reply.get('errmsg', ''))[:150]}"
        if code == _AUTH_FAILED:
            return Attempt(Outcome.FAILURE, reusable=True, detail=detail)
        return Attempt(Outcome.ERROR, reusable=True, detail=detail)

    def _scram(self, username: str, password: str) -> Attempt:
        sha1 = self._mechanism == "SCRAM-SHA-1"
        secret = scram_sha1_password(username, password) if sha1 else password.encode()
        scram = ScramClient("sha1" if sha1 else "sha256", username, secret)
        reply = self._client.command(
            self._auth_db,
            {
                "saslStart": 1,
                "mechanism": self._mechanism,
                "payload": scram.first(),
                "autoAuthorize": 1,
                "options": {"skipEmptyExchange": True},
            },
        )
        if not is_ok(reply):
            return self._failed(reply)
        conversation = reply.get("conversationId")
        payload = reply.get("payload")
        if not isinstance(payload, bytes):
            raise ProtocolError("saslStart reply without payload")
        final = scram.final(payload)
        for round_ in range(3):
            reply = self._client.command(
                self._auth_db,
                {"saslContinue": 1, "conversationId": conversation, "payload": final},
            )
            if not is_ok(reply):
                return self._failed(reply)
            if round_ == 0:
                server_final = reply.get("payload")
                if not isinstance(server_final, bytes) or not scram.verify(server_final):
                    return Attempt(Outcome.ERROR, detail="server signature did not verify")
            if reply.get("done") is True:
                return Attempt(Outcome.SUCCESS, detail=self._mechanism)
            final = b""
        raise ProtocolError("SASL conversation did not finish")

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._closed = True
        self._client.stream.close()


@register_authenticator
class MongoAuthenticator(Authenticator):
    """MongoDB: unauthenticated access and SCRAM-SHA-1/256 logins."""

    protocol: ClassVar[str] = "mongodb"
    default_ports: ClassVar[frozenset[int]] = frozenset({27017, 27018, 27019})

    def open(self, ctx: CheckContext, target: ServiceTarget) -> MongoSession:
        """Connect; authenticate against the option ``auth_database`` (default admin)."""
        database = str(ctx.options.get("auth_database") or "admin")
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        return MongoSession(MongoClient(Stream(sock, ctx.timeout)), database)
