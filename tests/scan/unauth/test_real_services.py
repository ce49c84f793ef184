"""Unauthorised-access checks against real Redis, memcached and rsync daemons."""

from __future__ import annotations

from shaobing.findings.severity import Severity
from shaobing.scan.checks import ServiceTarget
from shaobing.scan.plugins.unauthorised_access import (
    MemcachedUnauthCheck,
    RedisUnauthCheck,
    RsyncUnauthCheck,
)
from tests.scan.dbcreds.context import TestContext
from tests.services.memcached import MemcachedServers
from tests.services.redis import RedisServers
from tests.services.rsyncd import RsyncDaemons


def _target(port: int, service: str, protocol: str = "tcp") -> ServiceTarget:
    return ServiceTarget("127.0.0.1", port, protocol, service)


def test_redis_without_password_is_reported(redis_servers: RedisServers) -> None:
    found = list(RedisUnauthCheck().run(_target(redis_servers.open, "redis"), TestContext()))
    assert len(found) == 1
    obs = found[0]
    assert obs.check_id == "unauth.redis"
    assert obs.severity is Severity.CRITICAL
    assert obs.title == "Redis 未授权访问"
    assert obs.cwe_ids == [306]
    assert obs.cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert obs.evidence is not None
    assert "redis_version=7." in obs.evidence and "role=master" in obs.evidence
    # CONFIG GET dir answered with the instance's own working directory.
    assert str(redis_servers.root / "open") in obs.evidence
    assert obs.extra["config_readable"] is True


def test_redis_with_password_is_not_reported(redis_servers: RedisServers) -> None:
    for port in (redis_servers.weak, redis_servers.strong):
        assert list(RedisUnauthCheck().run(_target(port, "redis"), TestContext())) == []


def test_memcached_tcp_and_udp(memcached_servers: MemcachedServers) -> None:
    ctx = TestContext()
    found = list(MemcachedUnauthCheck().run(_target(memcached_servers.open, "memcached"), ctx))
    by_identity = {obs.identity: obs for obs in found}
    assert set(by_identity) == {"tcp", "udp"}
    tcp, udp = by_identity["tcp"], by_identity["udp"]
    assert tcp.protocol == "tcp" and udp.protocol == "udp"
    assert tcp.evidence is not None and "version=1.6" in tcp.evidence
    assert udp.evidence is not None and "放大约" in udp.evidence
    assert 406 in udp.cwe_ids
    assert any(udp_flag for _, _, udp_flag in ctx.connections)


def test_memcached_with_authentication_is_not_reported(
    memcached_servers: MemcachedServers,
) -> None:
    found = list(
        MemcachedUnauthCheck().run(_target(memcached_servers.auth, "memcached"), TestContext())
    )
    assert found == []


def test_rsync_module_without_auth(rsync_daemons: RsyncDaemons) -> None:
    found = list(RsyncUnauthCheck().run(_target(rsync_daemons.open, "rsync"), TestContext()))
    assert len(found) == 1
    assert found[0].extra["modules"] == ["public"]
    assert found[0].evidence is not None and "public" in found[0].evidence
    assert "secret" not in found[0].evidence


def test_rsync_with_every_module_protected(rsync_daemons: RsyncDaemons) -> None:
    found = list(RsyncUnauthCheck().run(_target(rsync_daemons.closed, "rsync"), TestContext()))
    assert found == []
