"""Redis adapter against real redis-server instances; RESP parser against garbage."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.scan.credentials._stream import ProtocolError
from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.redis import (
    RedisAuthenticator,
    RedisError,
    RedisSession,
    command,
    read_reply,
)
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.helpers import COMMON, stream_from, target
from tests.services import redis as planted
from tests.services.redis import RedisServers

ADAPTER = RedisAuthenticator()


def test_password_only_logins_on_one_connection(redis_servers: RedisServers) -> None:
    ctx = TestContext()
    session = ADAPTER.open(ctx, target(redis_servers.weak, "redis"))
    try:
        results = [session.login(None, pw) for pw in ["wrong", "admin", planted.WEAK_PASSWORD]]
    finally:
        session.close()
    assert [r.outcome for r in results] == [Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]
    assert all(r.reusable for r in results)
    assert len(ctx.connections) == 1


def test_acl_user_and_password(redis_servers: RedisServers) -> None:
    session = ADAPTER.open(TestContext(), target(redis_servers.weak, "redis"))
    try:
        assert session.login(planted.ACL_USER, "wrong").outcome is Outcome.FAILURE
        assert session.login(planted.ACL_USER, planted.ACL_PASSWORD).outcome is Outcome.SUCCESS
        assert session.login("nobody", planted.ACL_PASSWORD).outcome is Outcome.FAILURE
    finally:
        session.close()


def test_strong_password_is_not_guessed(redis_servers: RedisServers) -> None:
    session = ADAPTER.open(TestContext(), target(redis_servers.strong, "redis"))
    try:
        outcomes = {session.login(None, pw).outcome for pw in COMMON if pw}
    finally:
        session.close()
    assert outcomes == {Outcome.FAILURE}


def test_no_password_is_unauthorised_access(redis_servers: RedisServers) -> None:
    session = ADAPTER.open(TestContext(), target(redis_servers.open, "redis"))
    try:
        # "default" with nopass accepts any password; that must not count as a found pair.
        for user in (None, "default"):
            result = session.login(user, "anything")
            assert result.outcome is Outcome.NO_AUTH, (user, result)
    finally:
        session.close()


def test_many_attempts_share_one_connection(redis_servers: RedisServers) -> None:
    ctx = TestContext()
    session = ADAPTER.open(ctx, target(redis_servers.strong, "redis"))
    try:
        results = [session.login(None, f"guess{i}") for i in range(200)]
    finally:
        session.close()
    assert {r.outcome for r in results} == {Outcome.FAILURE}
    assert len(ctx.connections) == 1


def test_resp_round_trip_of_nested_replies() -> None:
    data = b"*3\r\n$3\r\ndir\r\n:42\r\n*2\r\n+OK\r\n-ERR bad\r\n"
    reply = read_reply(stream_from(data))
    assert reply == [b"dir", 42, ["OK", RedisError("ERR bad")]]
    assert command("AUTH", "pw") == b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_resp_parser_raises_only_protocol_or_socket_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError, OSError):
        read_reply(stream_from(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_session_on_garbage_gives_a_clean_error(data: bytes) -> None:
    result = RedisSession(stream_from(data)).login(None, "123456")
    if not data.startswith((b"+", b"-")):
        assert result.outcome is Outcome.ERROR


def test_auth_reply_meanings_across_versions() -> None:
    from shaobing.scan.credentials.redis import auth_outcome

    assert auth_outcome("OK") is Outcome.SUCCESS
    assert auth_outcome(RedisError("ERR invalid password")) is Outcome.FAILURE  # Redis < 6
    assert auth_outcome(RedisError("WRONGPASS invalid username-password pair")) is Outcome.FAILURE
    no_password = RedisError("ERR Client sent AUTH, but no password is set")
    assert auth_outcome(no_password) is Outcome.NO_AUTH
    configured = RedisError(
        "ERR AUTH <password> called without any password configured for the default user."
    )
    assert auth_outcome(configured) is Outcome.NO_AUTH
    assert auth_outcome(RedisError("ERR max number of clients reached")) is Outcome.ERROR
    assert auth_outcome(RedisError("LOADING Redis is loading the dataset")) is Outcome.ERROR
