"""MongoDB adapter against a fake server speaking the real wire format; BSON codec."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.scan.credentials import _bson
from shaobing.scan.credentials._stream import ProtocolError
from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.mongodb import MongoAuthenticator, MongoClient, MongoSession
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.fake_mongo import FakeMongo
from tests.scan.dbcreds.helpers import Serve, attempt, stream_from, target

ADAPTER = MongoAuthenticator()
USERS = {"admin": "123456", "appsvc": "Kq9!zT4@wP2#"}


def test_no_auth_is_unauthorised_access(serve: Serve) -> None:
    port = serve(FakeMongo(require_auth=False).handler)
    assert attempt(ADAPTER, port, "admin", "x").outcome is Outcome.NO_AUTH


@pytest.mark.parametrize(
    ("wire", "sha1_only"),
    [(13, False), (13, True), (5, False)],
    ids=["scram-sha-256-op-msg", "scram-sha-1-fallback", "scram-sha-1-op-query"],
)
def test_scram_logins(serve: Serve, wire: int, sha1_only: bool) -> None:
    port = serve(FakeMongo(users=USERS, wire_version=wire, sha1_only=sha1_only).handler)
    ctx = TestContext()
    session = ADAPTER.open(ctx, target(port, "mongodb"))
    try:
        results = [
            session.login("admin", "wrong"),
            session.login("appsvc", "123456"),
            session.login("nosuch", "123456"),
            session.login("admin", "123456"),
        ]
    finally:
        session.close()
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.FAILURE, Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]
    assert [r.reusable for r in results] == [True, True, True, False]
    assert len(ctx.connections) == 1
    expected = "SCRAM-SHA-1" if sha1_only or wire < 7 else "SCRAM-SHA-256"
    assert results[-1].detail == expected


def test_bson_matches_the_specification_example() -> None:
    # bsonspec.org: {"hello": "world"}
    encoded = b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
    assert _bson.encode({"hello": "world"}) == encoded
    assert _bson.decode(encoded) == {"hello": "world"}


def test_bson_round_trip() -> None:
    doc = {
        "a": 1,
        "b": 2**40,
        "c": 1.5,
        "d": True,
        "e": None,
        "f": b"\x00\x01",
        "g": [1, "x"],
        "h": {"i": "j"},
    }
    assert _bson.decode(_bson.encode(doc)) == doc


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_bson_decoder_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        _bson.decode(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=120))
def test_bson_decoder_on_well_framed_garbage(body: bytes) -> None:
    # Valid outer length and terminator, garbage elements inside: exercises element parsing.
    data = (len(body) + 5).to_bytes(4, "little") + body + b"\x00"
    with contextlib.suppress(ProtocolError):
        _bson.decode(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_session_on_garbage_gives_a_clean_error(data: bytes) -> None:
    session = MongoSession(MongoClient(stream_from(data)), "admin")
    assert session.login("admin", "123456").outcome is Outcome.ERROR
