"""Start the vulnerable application in a subprocess for tests.

Fixtures (import them into a conftest or test module, with ``mariadb_server`` for the
MariaDB ones; ``postgres_server`` comes from ``tests/conftest.py``)::

    from tests.targets.vulnapp.fixture import (
        mariadb_server, vulnapp, vulnapp_factory, vulnapp_full, vulnapp_mariadb,
        vulnapp_postgres,
    )

- ``vulnapp``: SQLite only (session scope);
- ``vulnapp_mariadb`` / ``vulnapp_postgres``: SQLite plus that database, on the session's
  test server (skipped when the server is not installed);
- ``vulnapp_full``: SQLite, MariaDB and PostgreSQL;
- ``vulnapp_factory``: ``start(*extra_args, mysql_dsn=..., pg_dsn=...)`` for a private
  instance with other options (``--session-max-requests 3``...), stopped after the test.

Shared instances keep state between tests: call ``app.reset()`` first when it matters.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.services.mariadb import ROOT_PASSWORD, MariaDBServer, mariadb_server
from tests.services.postgres import PostgresServer
from tests.services.process import stop_process

__all__ = [
    "VulnApp",
    "mariadb_server",
    "start_vulnapp",
    "vulnapp",
    "vulnapp_factory",
    "vulnapp_full",
    "vulnapp_mariadb",
    "vulnapp_postgres",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
SECRET_HEADER = "X-Vulnapp-Secret"
READY = re.compile(r"vulnapp ready on http://127\.0\.0\.1:(\d+)/ backends=(\S+)")

#: Options of the shared instances: a short slow page, everything else as by default.
DEFAULT_ARGS = ("--slow-seconds", "3")


@dataclass
class VulnApp:
    """A running instance."""

    url: str
    port: int
    secret: str
    backends: frozenset[str]
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def _test_call(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, headers={SECRET_HEADER: self.secret}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def events(self) -> dict[str, Any]:
        """Request counter (``requests``, ``by_path``) and the ``destructive`` actions."""
        result: dict[str, Any] = self._test_call("/__test__/events")
        return result

    def reset(self) -> None:
        """Back to the start-up state (counters, events, sessions, lockouts, guestbook)."""
        self._test_call("/__test__/reset", "POST")

    def stop(self) -> None:
        """Stop the process."""
        stop_process(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _read_ready_line(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                if b"\n" in buffer:
                    return buffer.split(b"\n", 1)[0].decode()
            elif process.poll() is not None:
                break
    finally:
        selector.close()
    stop_process(process)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"vulnapp did not start (exit {process.returncode}): {tail}")


def start_vulnapp(
    data_dir: Path,
    *extra_args: str,
    mysql_dsn: str | None = None,
    pg_dsn: str | None = None,
    timeout: float = 30.0,
) -> VulnApp:
    """Start ``python -m tests.targets.vulnapp`` on 127.0.0.1 and a free port; wait until
    it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "vulnapp.log"
    secret = secrets.token_hex(16)
    argv = [
        sys.executable,
        "-m",
        "tests.targets.vulnapp",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--test-secret",
        secret,
        *extra_args,
    ]
    if mysql_dsn:
        argv += ["--mysql-dsn", mysql_dsn]
    if pg_dsn:
        argv += ["--pg-dsn", pg_dsn]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL
        )
    line = _read_ready_line(process, log, timeout)
    match = READY.search(line)
    if match is None:
        stop_process(process)
        raise RuntimeError(f"unexpected first line from vulnapp: {line!r}")
    port = int(match.group(1))
    app = VulnApp(
        url=f"http://127.0.0.1:{port}",
        port=port,
        secret=secret,
        backends=frozenset(match.group(2).split(",")),
        data_dir=data_dir,
        log=log,
        process=process,
    )
    try:
        app.events()
    except OSError:
        app.stop()
        raise
    return app


@contextlib.contextmanager
def _mariadb_database(server: MariaDBServer) -> Iterator[str]:
    name = f"vulnapp_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(
        host="127.0.0.1", port=server.port, user="root", password=ROOT_PASSWORD, autocommit=True
    )
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        try:
            yield f"mysql://root:{ROOT_PASSWORD}@127.0.0.1:{server.port}/{name}"
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        conn.close()


@contextlib.contextmanager
def _postgres_database(server: PostgresServer) -> Iterator[str]:
    name = f"vulnapp_{uuid.uuid4().hex[:10]}"
    admin = f"host=127.0.0.1 port={server.port} user={server.user} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://{server.user}@127.0.0.1:{server.port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def _running(
    tmp: pytest.TempPathFactory,
    *extra_args: str,
    mysql_dsn: str | None = None,
    pg_dsn: str | None = None,
) -> Iterator[VulnApp]:
    app = start_vulnapp(tmp.mktemp("vulnapp"), *extra_args, mysql_dsn=mysql_dsn, pg_dsn=pg_dsn)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def vulnapp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnApp]:
    """The application on SQLite alone."""
    with _running(tmp_path_factory, *DEFAULT_ARGS) as app:
        yield app


@pytest.fixture(scope="session")
def vulnapp_mariadb(
    tmp_path_factory: pytest.TempPathFactory, mariadb_server: MariaDBServer
) -> Iterator[VulnApp]:
    """The application on SQLite and the session's MariaDB server."""
    with (
        _mariadb_database(mariadb_server) as mysql_dsn,
        _running(tmp_path_factory, *DEFAULT_ARGS, mysql_dsn=mysql_dsn) as app,
    ):
        yield app


@pytest.fixture(scope="session")
def vulnapp_postgres(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[VulnApp]:
    """The application on SQLite and the session's PostgreSQL server."""
    with (
        _postgres_database(postgres_server) as pg_dsn,
        _running(tmp_path_factory, *DEFAULT_ARGS, pg_dsn=pg_dsn) as app,
    ):
        yield app


@pytest.fixture(scope="session")
def vulnapp_full(
    tmp_path_factory: pytest.TempPathFactory,
    mariadb_server: MariaDBServer,
    postgres_server: PostgresServer,
) -> Iterator[VulnApp]:
    """The application on SQLite, MariaDB and PostgreSQL: every manifest entry is live."""
    with (
        _mariadb_database(mariadb_server) as mysql_dsn,
        _postgres_database(postgres_server) as pg_dsn,
        _running(tmp_path_factory, *DEFAULT_ARGS, mysql_dsn=mysql_dsn, pg_dsn=pg_dsn) as app,
    ):
        yield app


@pytest.fixture
def vulnapp_factory() -> Iterator[Callable[..., VulnApp]]:
    """``start(*extra_args, mysql_dsn=None, pg_dsn=None)`` -> a private instance."""
    started: list[VulnApp] = []
    roots: list[Path] = []

    def start(*extra_args: str, mysql_dsn: str | None = None, pg_dsn: str | None = None) -> VulnApp:
        root = Path(tempfile.mkdtemp(prefix="vulnapp-"))
        roots.append(root)
        app = start_vulnapp(root, *extra_args, mysql_dsn=mysql_dsn, pg_dsn=pg_dsn)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
