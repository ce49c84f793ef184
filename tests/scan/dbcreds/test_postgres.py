"""PostgreSQL adapter against a real cluster with password methods, and SCRAM vectors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.scan.credentials._scram import ScramClient
from shaobing.scan.credentials._stream import ProtocolError
from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.postgres import (
    PostgresAuthenticator,
    PostgresSession,
    md5_password,
    parse_error_fields,
)
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.helpers import COMMON, attempt, stream_from, target
from tests.services import postgres_auth as planted
from tests.services.postgres_auth import PasswordPostgres

ADAPTER = PostgresAuthenticator()


def test_weak_passwords_are_found_with_each_method(password_postgres: PasswordPostgres) -> None:
    port = password_postgres.port
    for user, password in [
        (planted.WEAK_USER, planted.WEAK_PASSWORD),  # SCRAM-SHA-256
        (planted.MD5_USER, planted.MD5_PASSWORD),  # md5
        (planted.CLEAR_USER, planted.CLEAR_PASSWORD),  # cleartext
    ]:
        assert attempt(ADAPTER, port, user, password).outcome is Outcome.SUCCESS, user
        wrong = attempt(ADAPTER, port, user, password + "x")
        assert wrong.outcome is Outcome.FAILURE, user
        assert wrong.detail.startswith("28P01")


def test_strong_password_is_not_guessed(password_postgres: PasswordPostgres) -> None:
    for password in COMMON:
        result = attempt(ADAPTER, password_postgres.port, planted.STRONG_USER, password)
        assert result.outcome is Outcome.FAILURE, password


def test_trust_is_unauthorised_access(password_postgres: PasswordPostgres) -> None:
    result = attempt(ADAPTER, password_postgres.port, planted.TRUST_USER, "anything")
    assert result.outcome is Outcome.NO_AUTH


def test_one_attempt_per_session(password_postgres: PasswordPostgres) -> None:
    ctx = TestContext()
    session = ADAPTER.open(ctx, target(password_postgres.port, "postgresql"))
    first = session.login(planted.WEAK_USER, "wrong")
    second = session.login(planted.WEAK_USER, planted.WEAK_PASSWORD)
    session.close()
    assert first.outcome is Outcome.FAILURE and not first.reusable
    assert second.outcome is Outcome.ERROR
    assert len(ctx.connections) == 1


def test_database_option_is_used(password_postgres: PasswordPostgres) -> None:
    ctx = TestContext(options={"database": "no_such_db"})
    session = ADAPTER.open(ctx, target(password_postgres.port, "postgresql"))
    # Authentication precedes the database check, so the right password still succeeds.
    assert session.login(planted.WEAK_USER, planted.WEAK_PASSWORD).outcome is Outcome.SUCCESS


def test_scram_sha256_rfc7677_vector() -> None:
    client = ScramClient("sha256", "user", b"pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert client.first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = (
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    assert client.final(server_first) == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert client.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    assert not client.verify(b"v=AAAA")


def test_scram_sha1_rfc5802_vector() -> None:
    client = ScramClient("sha1", "user", b"pencil", nonce="fyko+d2lbbFgONRv9qkxdawL")
    server_first = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    assert client.final(server_first) == (
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    )
    assert client.verify(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")


def test_md5_answer_format() -> None:
    # md5(md5("secret" + "alice") + salt), as libpq computes it.
    answer = md5_password("alice", "secret", b"\x01\x02\x03\x04")
    assert answer.startswith(b"md5") and answer.endswith(b"\0") and len(answer) == 36


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_scram_challenge_parser_raises_only_protocol_errors(data: bytes) -> None:
    client = ScramClient("sha256", "", b"pw", nonce="abc")
    with contextlib.suppress(ProtocolError):
        client.final(b"r=abcdef,s=" + data)


def test_huge_iteration_count_is_refused() -> None:
    client = ScramClient("sha256", "", b"pw", nonce="abc")
    with pytest.raises(ProtocolError, match="iteration"):
        client.final(b"r=abcdef,s=QUJD,i=2000000000")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_error_fields_parser_never_raises(data: bytes) -> None:
    assert isinstance(parse_error_fields(data), dict)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_session_on_garbage_gives_a_clean_error(data: bytes) -> None:
    session = PostgresSession(stream_from(data), "postgres")
    result = session.login("postgres", "123456")
    assert not result.reusable
    if not data.startswith((b"R", b"E")):
        assert result.outcome is Outcome.ERROR


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("28P01", Outcome.FAILURE),
        ("28000", Outcome.ERROR),
        ("53300", Outcome.ERROR),
        ("57P03", Outcome.ERROR),
    ],
)
def test_error_codes(code: str, outcome: Outcome) -> None:
    body = b"SFATAL\0C" + code.encode() + b"\0Mrefused\0\0"
    message = b"E" + (len(body) + 4).to_bytes(4, "big") + body
    result = PostgresSession(stream_from(message), "postgres").login("u", "p")
    assert result.outcome is outcome
    assert result.detail.startswith(code)


def test_unsupported_method_is_an_error() -> None:
    kerberos = b"R\x00\x00\x00\x08\x00\x00\x00\x02"
    result = PostgresSession(stream_from(kerberos), "postgres").login("u", "p")
    assert result.outcome is Outcome.ERROR and "method 2" in result.detail
