"""Fixtures of the credential-adapter tests: real services started once per test process."""

from tests.services.mariadb import mariadb_server
from tests.services.memcached import memcached_servers
from tests.services.postgres_auth import password_postgres
from tests.services.redis import redis_servers

__all__ = ["mariadb_server", "memcached_servers", "password_postgres", "redis_servers"]
