"""Shared fixtures: fresh migrated databases on SQLite and PostgreSQL, and an in-process CLI."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from shaobing.core.db import dispose_engines, make_engine, upgrade_database
from shaobing.core.settings import reset_settings
from tests.services.postgres import PostgresServer, ServiceUnavailable, start_postgres

# make test sets this so a missing PostgreSQL fails the run instead of skipping silently.
REQUIRE_POSTGRES = os.environ.get("SHAOBING_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster per test process."""
    try:
        server = start_postgres()
    except ServiceUnavailable as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(str(exc))
        pytest.skip(f"PostgreSQL not available here: {exc}")
    yield server
    server.stop()


def _admin_engine(server: PostgresServer) -> Engine:
    return create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer) -> str:
    """A migrated database used as the template of every test database (fast copies)."""
    admin = _admin_engine(postgres_server)
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE shaobing_template"))
    admin.dispose()
    engine = make_engine(postgres_server.url("shaobing_template"))
    upgrade_database(engine)
    engine.dispose()
    return "shaobing_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for every test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    # Closing the last connection checkpoints the WAL into the main file, so copying the
    # file alone gives a complete database.
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "shaobing.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield server.url(name)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on the fresh database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@dataclass
class CliResult:
    """Outcome of one in-process CLI run."""

    code: int
    out: str
    err: str


class CliRunner:
    """Runs ``shaobing`` in-process against the test's database and data directory."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *args: str) -> CliResult:
        from shaobing.cli.main import main

        self._capsys.readouterr()
        code = main(list(args))
        captured = self._capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    def ok(self, *args: str) -> CliResult:
        """Run and assert exit code 0."""
        result = self(*args)
        assert result.code == 0, (args, result)
        return result

    def json(self, *args: str) -> object:
        """Run with ``--json`` appended and parse standard output."""
        import json

        return json.loads(self.ok(*args, "--json").out)


@pytest.fixture
def cli(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[CliRunner]:
    """An initialised workspace (``shaobing init`` already run) and a runner for commands."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHAOBING_DATABASE_URL", db_url)
    monkeypatch.setenv("SHAOBING_ACTOR", "tester")
    reset_settings()
    dispose_engines()
    runner = CliRunner(capsys)
    runner.ok("init")
    yield runner
    dispose_engines()
    reset_settings()
