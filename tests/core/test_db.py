"""Schema and migrations on both databases; settings and import-time behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from shaobing.core.schema import load_all_models
from shaobing.core.settings import Settings

# Tables that are not tenant data: the tenant table itself, and the platform audit log,
# whose rows carry client_id without a foreign key so they outlive a purge (J3).
NOT_TENANT_TABLES = {"clients", "audit_events", "audit_head", "alembic_version"}
# The offline vulnerability database (CVE records, CPE criteria, feed imports) is shared
# public reference data, the same for every client, not tenant data.
NOT_TENANT_TABLES |= {"cves", "cpe_criteria", "vulndb_imports"}
# Platform accounts: staff users belong to no client; client users carry a nullable client_id
# (FK, CASCADE); password history and sessions hang off users, not clients.
NOT_TENANT_TABLES |= {"users", "password_history", "user_sessions"}


def test_migrations_create_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    expected = set(load_all_models().tables)
    assert expected <= tables
    assert "alembic_version" in tables


def test_models_and_migrations_agree(engine: Engine) -> None:
    """A model change without a migration would show up here as a diff."""
    metadata = load_all_models()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_every_table_is_tenant_scoped(engine: Engine) -> None:
    insp = inspect(engine)
    for table in insp.get_table_names():
        if table in NOT_TENANT_TABLES:
            continue
        columns = {c["name"]: c for c in insp.get_columns(table)}
        assert "client_id" in columns, table
        assert not columns["client_id"]["nullable"], table
        fks = [
            fk for fk in insp.get_foreign_keys(table) if fk["constrained_columns"] == ["client_id"]
        ]
        assert fks and fks[0]["referred_table"] == "clients", table


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in (
        "SHAOBING_HOME",
        "SHAOBING_DATABASE_URL",
        "SHAOBING_TIMEZONE",
        "SHAOBING_LANGUAGE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = Settings()
    assert settings.home == tmp_path / ".shaobing"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / '.shaobing' / 'shaobing.db'}"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.language == "zh-CN"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("SHAOBING_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/x")
    monkeypatch.setenv("SHAOBING_TIMEZONE", "UTC")
    settings = Settings()
    assert settings.home == tmp_path / "h"
    assert settings.effective_database_url.startswith("postgresql+psycopg://")
    monkeypatch.setenv("SHAOBING_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Settings()


def test_sqlite_uses_wal(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite-only pragma")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_importing_the_package_creates_no_engine_or_settings() -> None:
    """Importing every module must not read settings or open a database."""
    code = (
        "import shaobing.cli.main, shaobing.core.db as db, shaobing.core.settings as s\n"
        "assert s.get_settings.cache_info().currsize == 0, 'settings created at import'\n"
        "assert db.get_engine.cache_info().currsize == 0, 'engine created at import'\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={"SHAOBING_HOME": "/nonexistent/never-created", "PATH": "/usr/bin:/bin"},
    )


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    """Every migration's downgrade works, so a bad upgrade can be rolled back."""
    from alembic import command

    from shaobing.core.db import alembic_config, upgrade_database

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_database(engine)
    assert set(load_all_models().tables) <= set(inspect(engine).get_table_names())


def test_a_fresh_process_can_use_any_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Mappers need every table registered even when a command imports only one feature."""
    code = (
        "import sys\n"
        "from shaobing.core.db import make_engine, session_scope, upgrade_database\n"
        "from shaobing.findings.models import ImportRun\n"
        "from sqlalchemy import select\n"
        "engine = make_engine(sys.argv[1])\n"
        "upgrade_database(engine)\n"
        "with session_scope(engine) as s:\n"
        "    s.execute(select(ImportRun)).all()\n"
    )
    subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'x.db'}"], check=True)
