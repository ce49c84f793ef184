"""MySQL/MariaDB adapter against a real MariaDB server and against fake peers."""

from __future__ import annotations

import hashlib
import socket
import struct
import threading

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.scan.credentials._stream import ProtocolError
from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.mysql import (
    MySQLAuthenticator,
    MySQLSession,
    parse_error,
    parse_handshake,
    scramble_native,
)
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.helpers import COMMON, Serve, attempt, stream_from, target
from tests.services import mariadb as planted
from tests.services.fake import Handler
from tests.services.mariadb import MariaDBServer

ADAPTER = MySQLAuthenticator()


def test_planted_weak_passwords_are_found(mariadb_server: MariaDBServer) -> None:
    port = mariadb_server.port
    weak = attempt(ADAPTER, port, planted.WEAK_USER, planted.WEAK_PASSWORD)
    assert weak.outcome is Outcome.SUCCESS, weak
    root = attempt(ADAPTER, port, "root", planted.ROOT_PASSWORD)
    assert root.outcome is Outcome.SUCCESS, root


def test_wrong_pairs_fail_and_the_strong_password_is_not_guessed(
    mariadb_server: MariaDBServer,
) -> None:
    port = mariadb_server.port
    wrong = attempt(ADAPTER, port, planted.WEAK_USER, "not-the-password")
    assert wrong.outcome is Outcome.FAILURE
    assert "1045" in wrong.detail
    assert not wrong.reusable  # the server closes the connection after access denied
    for password in COMMON:
        result = attempt(ADAPTER, port, planted.STRONG_USER, password)
        assert result.outcome is Outcome.FAILURE, (password, result)
    assert attempt(ADAPTER, port, "no_such_user", "123456").outcome is Outcome.FAILURE


def test_locked_account_is_reported_locked(mariadb_server: MariaDBServer) -> None:
    result = attempt(ADAPTER, mariadb_server.port, planted.LOCKED_USER, planted.WEAK_PASSWORD)
    assert result.outcome is Outcome.LOCKED, result


def test_success_closes_the_session_by_default(mariadb_server: MariaDBServer) -> None:
    ctx = TestContext()
    session = ADAPTER.open(ctx, target(mariadb_server.port, "mysql"))
    result = session.login(planted.WEAK_USER, planted.WEAK_PASSWORD)
    assert result.outcome is Outcome.SUCCESS and not result.reusable
    assert session.login("root", planted.ROOT_PASSWORD).outcome is Outcome.ERROR


def test_change_user_reuses_one_connection(mariadb_server: MariaDBServer) -> None:
    ctx = TestContext(options={"change_user": True})
    session = ADAPTER.open(ctx, target(mariadb_server.port, "mysql"))
    try:
        first = session.login(planted.WEAK_USER, planted.WEAK_PASSWORD)
        assert first.outcome is Outcome.SUCCESS and first.reusable
        outcomes = [
            session.login(user, password).outcome
            for user, password in [
                # A refused change-user costs MariaDB's one-second delay: try just one.
                (planted.STRONG_USER, "123456"),
                ("root", planted.ROOT_PASSWORD),
                (planted.WEAK_USER, planted.WEAK_PASSWORD),
            ]
        ]
    finally:
        session.close()
    assert outcomes == [Outcome.FAILURE, Outcome.SUCCESS, Outcome.SUCCESS]
    assert len(ctx.connections) == 1


def test_change_user_session_ends_before_the_server_drops_it(
    mariadb_server: MariaDBServer,
) -> None:
    ctx = TestContext(options={"change_user": True})
    session = ADAPTER.open(ctx, target(mariadb_server.port, "mysql"))
    try:
        assert session.login(planted.WEAK_USER, planted.WEAK_PASSWORD).reusable
        results = [session.login(planted.STRONG_USER, f"guess{i}") for i in range(3)]
    finally:
        session.close()
    assert [r.outcome for r in results] == [Outcome.FAILURE] * 3
    assert [r.reusable for r in results] == [True, True, False]


def test_greeting_is_parsed_from_the_real_server(mariadb_server: MariaDBServer) -> None:
    session = ADAPTER.open(TestContext(), target(mariadb_server.port, "mysql"))
    try:
        assert isinstance(session, MySQLSession)
        hello = session.handshake
        assert hello is not None
        assert "MariaDB" in hello.server_version
        assert len(hello.scramble) == 20
        assert hello.auth_plugin == "mysql_native_password"
    finally:
        session.close()


def test_native_scramble_matches_the_servers_stored_hash() -> None:
    # The server stores '*' + hex(SHA1(SHA1(pw))) and checks
    # SHA1(response XOR SHA1(nonce + stored)) == stored; verify that identity directly.
    nonce, password = b"abcdefghijklmnopqrst", b"123456"
    stored = hashlib.sha1(hashlib.sha1(password).digest()).digest()
    response = scramble_native(password, nonce)
    mask = hashlib.sha1(nonce + stored).digest()
    stage1 = bytes(a ^ b for a, b in zip(response, mask, strict=True))
    assert hashlib.sha1(stage1).digest() == stored
    assert scramble_native(b"", nonce) == b""


# --- fake servers speaking the protocol -----------------------------------------------


def _packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _read_packet(conn: socket.socket) -> bytes:
    header = b""
    while len(header) < 4:
        chunk = conn.recv(4 - len(header))
        if not chunk:
            raise ConnectionError("closed")
        header += chunk
    length = int.from_bytes(header[:3], "little")
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return body


NONCE = b"0123456789abcdefghij"


def _greeting(plugin: bytes) -> bytes:
    caps = 0x00FFF7FF | 0x00080000 | 0x00200000
    return (
        b"\x0a8.0.36\x00"
        + struct.pack("<I", 7)
        + NONCE[:8]
        + b"\x00"
        + struct.pack("<H", caps & 0xFFFF)
        + b"\xff\x02\x00"
        + struct.pack("<H", caps >> 16)
        + bytes([21])
        + b"\x00" * 10
        + NONCE[8:]
        + b"\x00"
        + plugin
        + b"\x00"
    )


def _response_token(body: bytes) -> tuple[bytes, bytes]:
    """(username, auth response) from a HandshakeResponse41 with lenenc auth data."""
    pos = 32
    end = body.index(b"\x00", pos)
    user = body[pos:end]
    length = body[end + 1]
    return user, body[end + 2 : end + 2 + length]


def _caching_sha2_server(password: bytes, full: bool) -> Handler:
    """A MySQL 8-style server: caching_sha2_password, fast path or RSA full path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(3)
        conn.sendall(_packet(0, _greeting(b"caching_sha2_password")))
        _, token = _response_token(_read_packet(conn))
        stage1 = hashlib.sha256(password).digest()
        expected = bytes(
            a ^ b
            for a, b in zip(
                stage1,
                hashlib.sha256(hashlib.sha256(stage1).digest() + NONCE).digest(),
                strict=True,
            )
        )
        if not full:
            ok = token == expected
            conn.sendall(
                _packet(2, b"\x01\x03") + _packet(3, b"\x00\x00\x00\x02\x00\x00\x00")
                if ok
                else _packet(2, b"\xff\x15\x04#28000Access denied")
            )
            return
        conn.sendall(_packet(2, b"\x01\x04"))
        if _read_packet(conn) != b"\x02":
            return
        conn.sendall(_packet(4, b"\x01" + pem))
        cipher = _read_packet(conn)
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        mixed = key.decrypt(cipher, oaep)
        plain = bytes(b ^ NONCE[i % len(NONCE)] for i, b in enumerate(mixed))
        if plain == password + b"\x00":
            conn.sendall(_packet(6, b"\x00\x00\x00\x02\x00\x00\x00"))
        else:
            conn.sendall(_packet(6, b"\xff\x15\x04#28000Access denied"))

    return handle


@pytest.mark.parametrize("full", [False, True], ids=["fast-path", "rsa-full-path"])
def test_caching_sha2_password(serve: Serve, full: bool) -> None:
    port = serve(_caching_sha2_server(b"s3cret", full))
    assert attempt(ADAPTER, port, "u", "s3cret").outcome is Outcome.SUCCESS
    assert attempt(ADAPTER, port, "u", "wrong").outcome is Outcome.FAILURE


def test_auth_switch_request_is_followed(serve: Serve) -> None:
    new_nonce = b"ZYXWVUTSRQPONMLKJIHG"

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(3)
        conn.sendall(_packet(0, _greeting(b"caching_sha2_password")))
        _read_packet(conn)
        conn.sendall(_packet(2, b"\xfemysql_native_password\x00" + new_nonce + b"\x00"))
        token = _read_packet(conn)
        ok = token == scramble_native(b"pw", new_nonce)
        conn.sendall(
            _packet(4, b"\x00\x00\x00\x02\x00") if ok else _packet(4, b"\xff\x15\x04#28000no")
        )

    port = serve(handle)
    assert attempt(ADAPTER, port, "u", "pw").outcome is Outcome.SUCCESS
    assert attempt(ADAPTER, port, "u", "nope").outcome is Outcome.FAILURE


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(1129, Outcome.LOCKED), (1130, Outcome.ERROR), (1040, Outcome.ERROR)],
)
def test_greeting_errors(serve: Serve, code: int, outcome: Outcome) -> None:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_packet(0, b"\xff" + struct.pack("<H", code) + b"Host blocked"))

    port = serve(handle)
    result = attempt(ADAPTER, port, "root", "x")
    assert result.outcome is outcome
    assert str(code) in result.detail


# --- parsers against garbage ------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_handshake_parser_raises_only_protocol_errors(data: bytes) -> None:
    try:
        hello = parse_handshake(data)
    except ProtocolError:
        return
    assert len(hello.scramble) <= 20


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_error_parser_raises_only_protocol_errors(data: bytes) -> None:
    try:
        error = parse_error(b"\xff" + data)
    except ProtocolError:
        return
    assert 0 <= error.code <= 0xFFFF


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_session_on_garbage_gives_a_clean_error(data: bytes) -> None:
    session = MySQLSession(stream_from(data))
    result = session.login("root", "123456")
    session.close()
    assert result.outcome in (Outcome.ERROR, Outcome.LOCKED, Outcome.FAILURE, Outcome.SUCCESS)
    assert not result.reusable or result.outcome is Outcome.SUCCESS
