"""Fixtures of the unauthorised-access tests: real Redis, memcached and rsync daemons."""

from tests.services.memcached import memcached_servers
from tests.services.redis import redis_servers
from tests.services.rsyncd import rsync_daemons

__all__ = ["memcached_servers", "redis_servers", "rsync_daemons"]
