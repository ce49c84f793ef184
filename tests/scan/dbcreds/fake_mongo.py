"""A fake MongoDB speaking the real wire format (OP_QUERY/OP_REPLY, OP_MSG, SCRAM).

MongoDB is not packaged in Debian, so the adapter and the access check are tested against
this server. It answers isMaster/hello, listDatabases, buildInfo, saslStart and
saslContinue; the SCRAM server side is written here from RFC 5802 independently of the
client under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from shaobing.scan.credentials import _bson

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
SALT = b"fake-mongo-salt!"
ITERATIONS = 4096


@dataclass
class FakeMongo:
    """Behaviour of the fake: auth required?, users, wire version, SHA-1-only users."""

    require_auth: bool = True
    users: dict[str, str] = field(default_factory=dict)
    wire_version: int = 13
    sha1_only: bool = False
    databases: tuple[str, ...] = ("admin", "config", "local", "gov_portal")

    def handler(self, conn: socket.socket, stop: threading.Event) -> None:
        """Serve one connection until the client closes (for tests.services.fake)."""
        conn.settimeout(5)
        state: dict[str, Any] = {"authenticated": False}
        while not stop.is_set():
            header = _recv(conn, 16)
            if header is None:
                return
            length, request_id, _, opcode = struct.unpack("<iiii", header)
            body = _recv(conn, length - 16) or b""
            if opcode == OP_QUERY:
                pos = body.index(b"\0", 4) + 1 + 8
                reply = self._command(_bson.decode(body[pos:]), state)
                out = struct.pack("<iqii", 0, 0, 0, 1) + _bson.encode(reply)
                conn.sendall(struct.pack("<iiii", 16 + len(out), 1, request_id, OP_REPLY) + out)
            elif opcode == OP_MSG and self.wire_version >= 6:
                reply = self._command(_bson.decode(body[5:]), state)
                out = b"\0\0\0\0\0" + _bson.encode(reply)
                conn.sendall(struct.pack("<iiii", 16 + len(out), 1, request_id, OP_MSG) + out)
            else:
                return

    def _command(self, doc: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        name = next(iter(doc))
        if name in ("isMaster", "ismaster", "hello"):
            return {
                "ismaster": True,
                "maxWireVersion": self.wire_version,
                "minWireVersion": 0,
                "ok": 1.0,
            }
        if name == "buildInfo":
            return {"version": "4.4.29", "ok": 1.0}
        if name == "listDatabases":
            if self.require_auth and not state["authenticated"]:
                return {
                    "ok": 0.0,
                    "errmsg": "command listDatabases requires authentication",
                    "code": 13,
                    "codeName": "Unauthorized",
                }
            return {
                "databases": [
                    {"name": n, "sizeOnDisk": 8192, "empty": False} for n in self.databases
                ],
                "totalSize": 1,
                "ok": 1.0,
            }
        if name == "saslStart":
            return self._sasl_start(doc, state)
        if name == "saslContinue":
            return self._sasl_continue(doc, state)
        return {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59}

    def _sasl_start(self, doc: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        mechanism = doc["mechanism"]
        if mechanism == "SCRAM-SHA-256" and self.sha1_only:
            return {
                "ok": 0.0,
                "code": 334,
                "codeName": "MechanismUnavailable",
                "errmsg": "Unable to use SCRAM-SHA-256 based authentication",
            }
        first = doc["payload"].decode()
        bare = first.split(",", 2)[2]
        attrs = dict(item.split("=", 1) for item in bare.split(","))
        nonce = attrs["r"] + "SERVERNONCE"
        server_first = f"r={nonce},s={base64.b64encode(SALT).decode()},i={ITERATIONS}"
        state.update(
            mechanism=mechanism, user=attrs["n"], bare=bare, server_first=server_first, nonce=nonce
        )
        return {"conversationId": 1, "done": False, "payload": server_first.encode(), "ok": 1.0}

    def _sasl_continue(self, doc: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        final = doc["payload"].decode()
        without_proof, _, proof_b64 = final.rpartition(",p=")
        hash_name = "sha256" if state["mechanism"] == "SCRAM-SHA-256" else "sha1"
        user = state["user"]
        password = self.users.get(user)
        failed = {
            "ok": 0.0,
            "code": 18,
            "codeName": "AuthenticationFailed",
            "errmsg": "Authentication failed.",
        }
        if password is None or f"r={state['nonce']}" not in without_proof:
            return failed
        if hash_name == "sha1":
            password = hashlib.md5(f"{user}:mongo:{password}".encode()).hexdigest()
        salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), SALT, ITERATIONS)
        client_key = hmac.new(salted, b"Client Key", hash_name).digest()
        stored = hashlib.new(hash_name, client_key).digest()
        message = f"{state['bare']},{state['server_first']},{without_proof}".encode()
        signature = hmac.new(stored, message, hash_name).digest()
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        if base64.b64decode(proof_b64) != expected:
            return failed
        server_key = hmac.new(salted, b"Server Key", hash_name).digest()
        verifier = base64.b64encode(hmac.new(server_key, message, hash_name).digest())
        state["authenticated"] = True
        return {"conversationId": 1, "done": True, "payload": b"v=" + verifier, "ok": 1.0}


def _recv(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = conn.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data
