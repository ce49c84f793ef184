"""The database weak-credential checks (MySQL/MariaDB, PostgreSQL, Redis) against real servers.

Planted weak accounts are found, strong ones are not, and the password only ever travels in
``Observation.secret``.
"""

from __future__ import annotations

from shaobing.scan.checks import ServiceTarget, load_checks
from tests.scan.credentials.context import RecordingContext
from tests.services import mariadb as planted_mysql
from tests.services import postgres_auth as planted_pg
from tests.services import redis as planted_redis
from tests.services.mariadb import MariaDBServer, mariadb_server
from tests.services.postgres_auth import PasswordPostgres, password_postgres
from tests.services.redis import RedisServers, redis_servers

__all__ = ["mariadb_server", "password_postgres", "redis_servers"]

# Small dictionaries keep the runs short; the planted pairs are inside them.
_OPTIONS = {"max_attempts_per_account": None, "parallelism": 4}


def _run(check_id: str, port: int, service: str, **options: object) -> list[tuple[str, str]]:
    check = load_checks()[check_id]()
    ctx = RecordingContext(options=_OPTIONS | options)
    target = ServiceTarget(address="127.0.0.1", port=port, service=service)
    found = []
    for observation in check.run(target, ctx):
        assert observation.secret is None or observation.secret not in (observation.evidence or "")
        found.append((observation.identity or "", observation.secret or ""))
    assert ctx.connections or ctx.permits  # it did reach the service, through the context
    return found


def test_mysql_weak_account_found_strong_not(mariadb_server: MariaDBServer) -> None:
    found = _run(
        "weak-credential.mysql",
        mariadb_server.port,
        "mysql",
        users=[planted_mysql.WEAK_USER, planted_mysql.STRONG_USER],
        passwords=["admin", "123456", "password", "qwerty"],
        default_pairs=False,
    )
    assert found == [(planted_mysql.WEAK_USER, planted_mysql.WEAK_PASSWORD)]


def test_postgresql_weak_account_and_trust(password_postgres: PasswordPostgres) -> None:
    found = _run(
        "weak-credential.postgresql",
        password_postgres.port,
        "postgresql",
        users=[planted_pg.WEAK_USER, planted_pg.STRONG_USER],
        passwords=["admin", "123456", "postgres"],
        default_pairs=False,
    )
    assert found == [(planted_pg.WEAK_USER, planted_pg.WEAK_PASSWORD)]


def test_redis_weak_password_found_strong_not(redis_servers: RedisServers) -> None:
    weak = _run(
        "weak-credential.redis",
        redis_servers.weak,
        "redis",
        passwords=["redis", "foobared", "123456", "admin"],
    )
    assert [secret for _, secret in weak] == [planted_redis.WEAK_PASSWORD]
    strong = _run(
        "weak-credential.redis", redis_servers.strong, "redis", passwords=["redis", "123456"]
    )
    assert strong == []
    # A Redis without any password is unauth.redis's finding, not a "weak password".
    assert _run("weak-credential.redis", redis_servers.open, "redis", passwords=["x"]) == []
