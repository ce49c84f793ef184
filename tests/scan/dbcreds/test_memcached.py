"""Memcached adapter against real memcached: no authentication and ASCII authentication."""

from __future__ import annotations

from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.memcached import MemcachedAuthenticator, auth_request
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.helpers import target
from tests.services import memcached as planted
from tests.services.memcached import MemcachedServers

ADAPTER = MemcachedAuthenticator()


def test_open_instance_is_unauthorised_access(memcached_servers: MemcachedServers) -> None:
    session = ADAPTER.open(TestContext(), target(memcached_servers.open, "memcached"))
    try:
        result = session.login("any", "thing")
    finally:
        session.close()
    assert result.outcome is Outcome.NO_AUTH
    assert "1." in result.detail  # the version number


def test_ascii_authentication(memcached_servers: MemcachedServers) -> None:
    ctx = TestContext()
    session = ADAPTER.open(ctx, target(memcached_servers.auth, "memcached"))
    try:
        results = [
            session.login(planted.AUTH_USER, "wrong"),
            session.login("root", planted.AUTH_PASSWORD),
            session.login(planted.AUTH_USER, planted.AUTH_PASSWORD),
        ]
    finally:
        session.close()
    assert [r.outcome for r in results] == [Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]
    # Refusals keep the connection; a success ends it (a further "set" would store data).
    assert [r.reusable for r in results] == [True, True, False]
    assert len(ctx.connections) == 1


def test_auth_request_format() -> None:
    assert auth_request("u", "p w") == b"set auth 0 0 5\r\nu p w\r\n"
