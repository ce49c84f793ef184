"""MySQL / MariaDB login adapter: the client protocol, written here (no client library).

Handshake v10 is parsed, the password is scrambled for ``mysql_native_password`` or
``caching_sha2_password`` (fast path; the full path asks the server for its RSA key and
sends the password OAEP-encrypted), and auth-switch requests are followed. After a
successful login the connection can be reused with ``COM_CHANGE_USER`` (policy option
``change_user: true``). It is off by default because measurements on MariaDB 10.11 showed
it does not pay: a refused change-user is answered after a deliberate delay of about one
second, while a fresh connection with a refused handshake costs about 0.3 ms on loopback;
MariaDB also answers the fourth refused change-user with "unknown command" and drops the
connection, so at most three are tried. A failed login in the handshake ends the
connection (the server closes it after access denied), so that failure is not reusable.

Server errors map to outcomes: 1045/1698 access denied → failure; 1129 host blocked,
locked accounts and per-user limits → locked; 1130 host not allowed, 1040 too many
connections and anything unknown → error; an expired but valid password → success.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import ClassVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError, Stream, describe_error
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

# Capability flags (MySQL client/server protocol, "Capabilities Flags").
CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000

_WANTED_CAPS = (
    CLIENT_LONG_PASSWORD
    | CLIENT_LONG_FLAG
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
)
_CHARSET_UTF8MB4 = 45
_MAX_PACKET = 16 * 1024 * 1024 - 1
# Handshakes, errors and RSA keys are small; anything larger is not a MySQL server.
_READ_LIMIT = 64 * 1024
_COM_CHANGE_USER = 0x11
_COM_QUIT = 0x01
_MAX_AUTH_ROUNDS = 6
_MAX_CHANGE_FAILURES = 3

NATIVE = "mysql_native_password"
CACHING_SHA2 = "caching_sha2_password"
SHA256 = "sha256_password"

# Server error codes (mysqld_error.h of MySQL and MariaDB).
_FAILURE_CODES = frozenset({1045, 1698})
_LOCKED_CODES = frozenset({1129, 1203, 1226, 3118, 3955, 4151})
_EXPIRED_CODES = frozenset({1820, 1862})


@dataclass(frozen=True)
class Handshake:
    """The fields of a protocol-10 server greeting that a login needs."""

    server_version: str
    connection_id: int
    capabilities: int
    scramble: bytes
    auth_plugin: str


@dataclass(frozen=True)
class ServerError:
    """An ERR packet: error code, SQL state and message."""

    code: int
    state: str
    message: str


def _cstring(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise ProtocolError("unterminated string")
    return data[pos:end], end + 1


def parse_error(payload: bytes) -> ServerError:
    """Parse an ERR packet (first byte 0xff); ProtocolError when it is too short."""
    if len(payload) < 3 or payload[0] != 0xFF:
        raise ProtocolError("not an error packet")
    code = struct.unpack_from("<H", payload, 1)[0]
    rest = payload[3:]
    state = ""
    if rest[:1] == b"#" and len(rest) >= 6:
        state, rest = rest[1:6].decode("ascii", "replace"), rest[6:]
    return ServerError(code, state, rest.decode("utf-8", "replace")[:300])


def parse_handshake(payload: bytes) -> Handshake:
    """Parse a protocol-10 greeting; ProtocolError for anything else (never other errors)."""
    if not payload or payload[0] != 10:
        raise ProtocolError("not a protocol-10 handshake")
    raw_version, pos = _cstring(payload, 1)
    if len(payload) < pos + 4 + 8 + 1 + 2:
        raise ProtocolError("handshake truncated")
    connection_id = struct.unpack_from("<I", payload, pos)[0]
    scramble = payload[pos + 4 : pos + 12]
    pos += 13
    capabilities = struct.unpack_from("<H", payload, pos)[0]
    pos += 2
    auth_data_len = 0
    if len(payload) >= pos + 16:
        capabilities |= struct.unpack_from("<H", payload, pos + 3)[0] << 16
        auth_data_len = payload[pos + 5]
        pos += 16
    plugin = NATIVE
    if capabilities & CLIENT_SECURE_CONNECTION and pos < len(payload):
        part_len = max(13, auth_data_len - 8)
        part = payload[pos : pos + part_len]
        if len(part) < 12:
            raise ProtocolError("handshake scramble truncated")
        pos += part_len
        scramble += part.rstrip(b"\0") if len(part) == 13 else part
        if capabilities & CLIENT_PLUGIN_AUTH and pos < len(payload):
            # Some 5.5 servers omit the terminating NUL of the plugin name.
            end = payload.find(b"\0", pos)
            name = payload[pos : end if end >= 0 else len(payload)]
            plugin = name.decode("ascii", "replace") or NATIVE
    if not capabilities & CLIENT_PROTOCOL_41:
        raise ProtocolError("server does not speak protocol 4.1")
    return Handshake(
        server_version=raw_version.decode("utf-8", "replace")[:100],
        connection_id=connection_id,
        capabilities=capabilities,
        scramble=scramble[:20] if len(scramble) > 20 else scramble,
        auth_plugin=plugin,
    )


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def scramble_native(password: bytes, nonce: bytes) -> bytes:
    """mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))); empty pw → b""."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password).digest()  # noqa: S324 - the protocol mandates SHA-1
    stage2 = hashlib.sha1(stage1).digest()  # noqa: S324
    return _xor(stage1, hashlib.sha1(nonce + stage2).digest())  # noqa: S324


def scramble_caching_sha2(password: bytes, nonce: bytes) -> bytes:
    """caching_sha2_password fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce)."""
    if not password:
        return b""
    stage1 = hashlib.sha256(password).digest()
    stage2 = hashlib.sha256(stage1).digest()
    return _xor(stage1, hashlib.sha256(stage2 + nonce).digest())


def encrypt_password(password: bytes, nonce: bytes, pem: bytes) -> bytes:
    """RSA-OAEP(SHA-1) of (password + NUL) XOR nonce, for the full-authentication path."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ProtocolError("server key is not an RSA public key")
    plain = password + b"\0"
    mixed = bytes(b ^ nonce[i % len(nonce)] for i, b in enumerate(plain))
    sha1 = hashes.SHA1()  # noqa: S303 - MySQL's RSA_PKCS1_OAEP_PADDING uses SHA-1
    oaep = padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None)
    return key.encrypt(mixed, oaep)


def _lenenc(data: bytes) -> bytes:
    # Auth responses are at most a few hundred bytes (an RSA-4096 ciphertext is 512).
    if len(data) < 251:
        return bytes([len(data)]) + data
    return b"\xfc" + struct.pack("<H", len(data)) + data


def _auth_response(plugin: str, password: bytes, nonce: bytes) -> bytes:
    if plugin == NATIVE:
        return scramble_native(password, nonce)
    if plugin == CACHING_SHA2:
        return scramble_caching_sha2(password, nonce)
    if plugin == SHA256:
        # Empty password is sent as a single NUL; otherwise ask for the public key (0x01).
        return b"\0" if not password else b"\x01"
    raise ProtocolError(f"unsupported authentication plugin {plugin[:40]}")


def error_outcome(error: ServerError) -> Outcome:
    """The attempt outcome a server error stands for."""
    if error.code in _FAILURE_CODES:
        return Outcome.FAILURE
    if error.code in _LOCKED_CODES:
        return Outcome.LOCKED
    if error.code in _EXPIRED_CODES:
        return Outcome.SUCCESS
    return Outcome.ERROR


class MySQLSession(LoginSession):
    """One connection: the first pair goes into the handshake, later ones via change-user."""

    def __init__(self, stream: Stream, change_user: bool = False) -> None:
        self._stream = stream
        self._change_user = change_user
        self._handshake: Handshake | None = None
        self._greeting_error: str | None = None
        self._greeting_outcome = Outcome.ERROR
        self._authenticated = False
        self._change_failures = 0
        self._closed = False
        self._seq = 0
        try:
            payload = self._read_packet()
            if payload[:1] == b"\xff":
                error = parse_error(payload)
                self._greeting_outcome = (
                    Outcome.LOCKED if error.code in _LOCKED_CODES else Outcome.ERROR
                )
                self._greeting_error = f"server error {error.code}: {error.message}"
            else:
                self._handshake = parse_handshake(payload)
        except (OSError, ProtocolError) as exc:
            self._greeting_error = describe_error(exc)

    @property
    def handshake(self) -> Handshake | None:
        """The parsed greeting (None when the peer did not send a valid one)."""
        return self._handshake

    def _read_packet(self) -> bytes:
        deadline = self._stream.deadline()
        header = self._stream.read_exact(4, deadline)
        length = header[0] | header[1] << 8 | header[2] << 16
        if length > _READ_LIMIT:
            raise ProtocolError(f"packet of {length} bytes")
        self._seq = (header[3] + 1) & 0xFF
        return self._stream.read_exact(length, deadline)

    def _write_packet(self, payload: bytes) -> None:
        header = struct.pack("<I", len(payload))[:3] + bytes([self._seq])
        self._seq = (self._seq + 1) & 0xFF
        self._stream.send(header + payload)

    def login(self, username: str | None, password: str) -> Attempt:
        """Try one pair; a failure closes the connection, a success keeps it for reuse."""
        if self._closed:
            return Attempt(Outcome.ERROR, detail="connection closed")
        if self._handshake is None:
            self.close()
            return Attempt(self._greeting_outcome, detail=self._greeting_error or "no greeting")
        user = (username or "").encode("utf-8")
        secret = password.encode("utf-8")
        changing = self._authenticated
        try:
            attempt = self._login(self._handshake, user, secret)
        except (OSError, ProtocolError, ValueError) as exc:
            attempt = Attempt(Outcome.ERROR, detail=describe_error(exc))
        if changing and attempt.outcome is Outcome.FAILURE:
            # MariaDB keeps the connection after a refused COM_CHANGE_USER but answers the
            # fourth one with 1047 and drops it (measured on 10.11); a server that closes
            # it sooner shows up as an error on the next attempt.
            self._change_failures += 1
            reusable = self._change_failures < _MAX_CHANGE_FAILURES
            attempt = Attempt(Outcome.FAILURE, reusable=reusable, detail=attempt.detail)
        elif attempt.outcome is Outcome.SUCCESS and not self._change_user:
            attempt = Attempt(Outcome.SUCCESS, reusable=False, detail=attempt.detail)
        else:
            self._authenticated = attempt.outcome is Outcome.SUCCESS and attempt.reusable
        if not attempt.reusable:
            self.close()
        return attempt

    def _login(self, hello: Handshake, user: bytes, secret: bytes) -> Attempt:
        plugin = hello.auth_plugin
        nonce = hello.scramble
        try:
            token = _auth_response(plugin, secret, nonce)
        except ProtocolError:
            # Answer with native and let the server switch us to what it wants.
            plugin, token = NATIVE, scramble_native(secret, nonce)
        if self._authenticated:
            self._seq = 0
            self._write_packet(
                bytes([_COM_CHANGE_USER])
                + user
                + b"\0"
                + bytes([len(token)])
                + token
                + b"\0"
                + struct.pack("<H", _CHARSET_UTF8MB4)
                + plugin.encode()
                + b"\0"
            )
        else:
            caps = _WANTED_CAPS & (hello.capabilities | CLIENT_PROTOCOL_41)
            body = struct.pack("<IIB23x", caps, _MAX_PACKET, _CHARSET_UTF8MB4) + user + b"\0"
            if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
                body += _lenenc(token)
            else:
                body += bytes([len(token)]) + token
            if caps & CLIENT_PLUGIN_AUTH:
                body += plugin.encode() + b"\0"
            self._write_packet(body)
        return self._auth_loop(plugin, secret, nonce)

    def _auth_loop(self, plugin: str, secret: bytes, nonce: bytes) -> Attempt:
        for _ in range(_MAX_AUTH_ROUNDS):
            payload = self._read_packet()
            kind = payload[:1]
            if kind == b"\x00":
                return Attempt(Outcome.SUCCESS, reusable=True, detail=f"plugin {plugin}")
            if kind == b"\xff":
                error = parse_error(payload)
                return Attempt(error_outcome(error), detail=f"{error.code}: {error.message}")
            if kind == b"\xfe" and len(payload) > 1:
                name, pos = _cstring(payload, 1)
                plugin = name.decode("ascii", "replace")
                nonce = payload[pos:].rstrip(b"\0")[:20]
                self._write_packet(_auth_response(plugin, secret, nonce))
            elif kind == b"\x01" and len(payload) >= 2:
                self._more_data(plugin, payload[1:], secret, nonce)
            else:
                raise ProtocolError(f"unexpected authentication packet {payload[:1].hex()}")
        raise ProtocolError("too many authentication rounds")

    def _more_data(self, plugin: str, data: bytes, secret: bytes, nonce: bytes) -> None:
        if plugin == CACHING_SHA2 and data == b"\x03":
            return  # fast authentication succeeded; the OK packet follows
        if plugin == CACHING_SHA2 and data == b"\x04":
            self._write_packet(b"\x02")  # full authentication: request the public key
            return
        if plugin in (CACHING_SHA2, SHA256) and data.startswith(b"-----BEGIN"):
            self._write_packet(encrypt_password(secret, nonce, data))
            return
        raise ProtocolError("unexpected authentication data")

    def close(self) -> None:
        """Say goodbye when logged in and close the socket."""
        if self._closed:
            return
        self._closed = True
        if self._authenticated:
            try:
                self._seq = 0
                self._write_packet(bytes([_COM_QUIT]))
            except OSError:
                pass
        self._stream.close()


@register_authenticator
class MySQLAuthenticator(Authenticator):
    """MySQL and MariaDB (``mysql`` as identification names both)."""

    protocol: ClassVar[str] = "mysql"
    default_ports: ClassVar[frozenset[int]] = frozenset({3306, 3307})

    def open(self, ctx: CheckContext, target: ServiceTarget) -> MySQLSession:
        """Connect and read the greeting; OSError only when the connect itself fails."""
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        change_user = ctx.options.get("change_user") is True
        return MySQLSession(Stream(sock, ctx.timeout), change_user=change_user)
