"""Database engine and sessions: SQLite (WAL) embedded by default, PostgreSQL in production."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from shaobing.core.settings import get_settings

# Seconds a writer waits for SQLite's lock before failing; long enough for a CLI run that
# overlaps with a scan writing its batches (organisation-defined default).
SQLITE_BUSY_TIMEOUT_S = 30
SQLITE_CACHE_KIB = 64 * 1024


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions break
        # SAVEPOINT and make read-then-write transactions fail under concurrency).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        # Page cache per connection (negative: KiB). The default 2 MB makes index
        # maintenance of a 100,000-finding import thrash; 64 MB keeps the hot indexes in
        # memory (organisation-defined default, well inside the 1 GB import budget).
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a transaction that reads and then
        # writes (audit chain, upserts) waits for the lock instead of failing half-way.
        # Read-only sessions ask for a deferred BEGIN so they never block writers.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the platform's SQLite pragmas where relevant."""
    # Every feature's tables must be mapped before the first query resolves foreign keys;
    # imported here (not at module level) because the model modules import this one.
    from shaobing.core.schema import load_all_models  # noqa: PLC0415

    load_all_models()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    return make_engine(url or get_settings().effective_database_url)


def dispose_engines() -> None:
    """Close every cached engine (tests, and before a process changes its settings)."""
    get_engine.cache_clear()


@lru_cache(maxsize=4)
def _session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None, *, readonly: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error.

    ``readonly`` sessions take no write lock on SQLite (deferred transaction).
    """
    bind = engine or get_engine()
    if readonly:
        bind = bind.execution_options(sqlite_begin="DEFERRED")
    session = _session_factory(bind)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = Config()
    script_location = resources.files("shaobing").joinpath("migrations")
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(engine: Engine) -> None:
    """Apply every pending migration to the database behind ``engine``."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def is_initialised(engine: Engine) -> bool:
    """Whether the schema has been created (the Alembic version table exists)."""
    return inspect(engine).has_table("alembic_version")
