"""The client side of SCRAM (RFC 5802 / RFC 7677), for PostgreSQL and MongoDB logins.

Passwords are used as UTF-8 without SASLprep (identical for ASCII, which dictionary
passwords are). The server's iteration count is capped so a hostile server cannot make
one attempt burn minutes of CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from shaobing.scan.credentials._stream import ProtocolError

# Real servers use 4,096 (PostgreSQL) to 15,000 (MongoDB) iterations.
MAX_ITERATIONS = 600_000


def _attributes(message: bytes) -> dict[str, str]:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("SCRAM message is not UTF-8") from None
    out: dict[str, str] = {}
    for part in text.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ProtocolError("malformed SCRAM attribute")
        out[part[0]] = part[2:]
    return out


class ScramClient:
    """One SCRAM exchange: ``first()``, ``final(server_first)``, ``verify(server_final)``."""

    def __init__(
        self, hash_name: str, username: str, password: bytes, nonce: str | None = None
    ) -> None:
        if hash_name not in ("sha1", "sha256"):
            raise ValueError(f"unsupported SCRAM hash {hash_name}")
        self._hash = hash_name
        self._password = password
        user = username.replace("=", "=3D").replace(",", "=2C")
        self._nonce = nonce or base64.b64encode(secrets.token_bytes(18)).decode("ascii")
        self._first_bare = f"n={user},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        """client-first-message (no channel binding)."""
        return f"n,,{self._first_bare}".encode()

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self._hash).digest()

    def final(self, server_first: bytes) -> bytes:
        """client-final-message with the proof; ProtocolError for a malformed challenge."""
        attrs = _attributes(server_first)
        nonce, salt_b64, rounds = attrs.get("r", ""), attrs.get("s", ""), attrs.get("i", "")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise ProtocolError("SCRAM server nonce does not extend the client nonce")
        try:
            salt = base64.b64decode(salt_b64, validate=True)
            iterations = int(rounds)
        except (binascii.Error, ValueError):
            raise ProtocolError("SCRAM salt or iteration count malformed") from None
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ProtocolError(f"SCRAM iteration count {iterations} out of bounds")
        salted = hashlib.pbkdf2_hmac(self._hash, self._password, salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self._first_bare},{server_first.decode()},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> bool:
        """Whether the server proved it knows the password too (``v=``)."""
        value = _attributes(server_final).get("v")
        if value is None:
            return False
        try:
            return hmac.compare_digest(base64.b64decode(value), self._server_signature)
        except binascii.Error:
            return False
