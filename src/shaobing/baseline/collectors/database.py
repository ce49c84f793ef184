"""Database collectors (C2): SQL rules run through a connection given as a DSN.

``mysql://user:pass@host:port/`` (MySQL and MariaDB, through PyMySQL),
``postgresql://user:pass@host:port/db`` (psycopg), ``redis://[:pass@]host:port/``
(a minimal RESP client of our own: rules only need CONFIG GET, ACL and INFO). Queries are
read-only by construction of the rules; the connection is opened once per check run.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shaobing.baseline.collectors.base import CollectorUnavailable

# Rows kept per query result (a rule that lists users never needs more).
MAX_ROWS = 10_000
# Largest RESP reply accepted from a Redis server (organisation-defined default).
MAX_REPLY_BYTES = 16 * 1024 * 1024
DEFAULT_PORTS = {"mysql": 3306, "postgresql": 5432, "redis": 6379}
SCHEMES = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "redis": "redis",
}


def is_dsn(text: str) -> bool:
    """Whether ``text`` looks like a database DSN this module understands."""
    return urlsplit(text).scheme.lower() in SCHEMES


class DatabaseCollector(ABC):
    """A database connection that answers rule queries."""

    #: mysql | postgresql | redis
    engine: str

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        self.engine = SCHEMES[parts.scheme.lower()]
        if not parts.hostname:
            raise ValueError(dsn)
        self.host = parts.hostname
        self.port = parts.port or DEFAULT_PORTS[self.engine]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.database = unquote(parts.path.lstrip("/")) or None
        self.params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        # rules run concurrently but share one connection: one query at a time on it
        self._lock = asyncio.Lock()

    @property
    def label(self) -> str:
        """The DSN without its password."""
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        db = f"/{self.database}" if self.database else "/"
        return f"{self.engine}://{user}{host}:{self.port}{db}"

    @abstractmethod
    async def query(self, statement: str) -> list[dict[str, Any]]:
        """Rows of a read-only statement (column name → value)."""

    async def close(self) -> None:
        """Close the connection."""
        return


class _BlockingDriverCollector(DatabaseCollector):
    """A DB-API driver used from a worker thread, one statement at a time."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn)
        self._conn: Any = None

    @abstractmethod
    def _query(self, statement: str) -> list[dict[str, Any]]:
        """Rows of the statement (runs in a worker thread)."""

    async def query(self, statement: str) -> list[dict[str, Any]]:
        """Rows of the statement."""
        async with self._lock:
            return await asyncio.to_thread(self._query, statement)

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)
            self._conn = None


class MysqlCollector(_BlockingDriverCollector):
    """MySQL / MariaDB through PyMySQL (in a worker thread)."""

    def _connect(self) -> Any:
        import pymysql  # noqa: PLC0415 - the driver is loaded for MySQL targets only

        if self._conn is None:
            try:
                self._conn = pymysql.connect(
                    host=self.host,
                    port=self.port,
                    user=self.user or "root",
                    password=self.password or "",
                    database=self.database,
                    connect_timeout=10,
                    read_timeout=30,
                    charset="utf8mb4",
                    cursorclass=pymysql.cursors.DictCursor,
                )
            except pymysql.MySQLError as exc:
                raise CollectorUnavailable(f"{self.label}: {exc}") from exc
        return self._conn

    def _query(self, statement: str) -> list[dict[str, Any]]:
        import pymysql  # noqa: PLC0415 - the driver is loaded for MySQL targets only

        conn = self._connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement)
                rows = cursor.fetchmany(MAX_ROWS)
        except pymysql.MySQLError as exc:
            raise CollectorUnavailable(f"{self.label}: {exc}") from exc
        return [dict(row) for row in rows]


class PostgresCollector(_BlockingDriverCollector):
    """PostgreSQL through psycopg (in a worker thread, read-only transaction)."""

    def _connect(self) -> Any:
        import psycopg  # noqa: PLC0415 - the driver is loaded for PostgreSQL targets only

        if self._conn is None:
            try:
                self._conn = psycopg.connect(
                    host=self.host,
                    port=self.port,
                    user=self.user or "postgres",
                    password=self.password or "",
                    dbname=self.database or "postgres",
                    connect_timeout=10,
                    autocommit=True,
                    sslmode=self.params.get("sslmode", "prefer"),
                )
            except psycopg.Error as exc:
                raise CollectorUnavailable(f"{self.label}: {exc}".strip()) from exc
        return self._conn

    def _query(self, statement: str) -> list[dict[str, Any]]:
        import psycopg  # noqa: PLC0415 - the driver is loaded for PostgreSQL targets only
        from psycopg.rows import dict_row  # noqa: PLC0415

        conn = self._connect()
        try:
            with conn.cursor(row_factory=dict_row) as cursor:
                cursor.execute(statement)
                rows = cursor.fetchmany(MAX_ROWS) if cursor.description else []
        except psycopg.Error as exc:
            raise CollectorUnavailable(f"{self.label}: {exc}".strip()) from exc
        return [dict(row) for row in rows]


class RedisCollector(DatabaseCollector):
    """Redis over RESP2. A statement is a command line such as ``CONFIG GET requirepass``."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        if self._writer is not None:
            return
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), 10
            )
        except (OSError, TimeoutError) as exc:
            raise CollectorUnavailable(f"{self.label}: {exc}") from exc
        if self.password is not None:
            args = ["AUTH", self.password] if not self.user else ["AUTH", self.user, self.password]
            reply = await self._call(args)
            if isinstance(reply, Exception):
                raise CollectorUnavailable(f"{self.label}: {reply}")

    async def _readline(self) -> bytes:
        assert self._reader is not None
        line = await asyncio.wait_for(self._reader.readline(), 30)
        if not line.endswith(b"\r\n"):
            raise CollectorUnavailable(f"{self.label}: connection closed")
        return line[:-2]

    async def _reply(self, depth: int = 0) -> Any:
        assert self._reader is not None
        line = await self._readline()
        kind, body = line[:1], line[1:]
        if kind == b"+":
            return body.decode("utf-8", "replace")
        if kind == b"-":
            return RuntimeError(body.decode("utf-8", "replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            if size > MAX_REPLY_BYTES:
                raise CollectorUnavailable(f"{self.label}: reply too large")
            data = await asyncio.wait_for(self._reader.readexactly(size + 2), 30)
            return data[:-2].decode("utf-8", "replace")
        if kind == b"*":
            count = int(body)
            if count < 0:
                return None
            if depth > 8 or count > MAX_ROWS * 10:
                raise CollectorUnavailable(f"{self.label}: reply too deep or long")
            return [await self._reply(depth + 1) for _ in range(count)]
        raise CollectorUnavailable(f"{self.label}: not a Redis reply")

    async def _call(self, args: list[str]) -> Any:
        assert self._writer is not None
        payload = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            raw = arg.encode()
            payload.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        self._writer.write(b"".join(payload))
        await self._writer.drain()
        try:
            return await self._reply()
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
            raise CollectorUnavailable(f"{self.label}: {exc}") from exc

    async def query(self, statement: str) -> list[dict[str, Any]]:
        """Run one command; CONFIG GET pairs and INFO fields come back as name/value rows."""
        async with self._lock:
            await self._connect()
            args = statement.split()
            reply = await self._call(args)
        if isinstance(reply, Exception):
            return [{"error": str(reply)}]
        if args and args[0].upper() == "CONFIG" and isinstance(reply, list):
            return [{"name": reply[i], "value": reply[i + 1]} for i in range(0, len(reply) - 1, 2)]
        if isinstance(reply, str) and args and args[0].upper() == "INFO":
            rows = []
            for line in reply.splitlines():
                name, sep, value = line.partition(":")
                if sep and not line.startswith("#"):
                    rows.append({"name": name, "value": value})
            return rows
        if isinstance(reply, list):
            return [{"value": item} for item in reply]
        return [{"value": reply}]

    async def close(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None


def open_database(dsn: str) -> DatabaseCollector:
    """The collector for a DSN (connection opened on first query)."""
    scheme = SCHEMES.get(urlsplit(dsn).scheme.lower())
    if scheme == "mysql":
        return MysqlCollector(dsn)
    if scheme == "postgresql":
        return PostgresCollector(dsn)
    if scheme == "redis":
        return RedisCollector(dsn)
    raise ValueError(dsn)
