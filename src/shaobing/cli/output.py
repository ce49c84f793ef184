"""Shared CLI plumbing: database sessions, the acting user, JSON and table output."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.core.db import get_engine, is_initialised, session_scope
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings


def _width() -> int | None:
    # Rich wraps at 80 columns when output is piped, which shreds Chinese tables in logs and
    # files; use a wide fixed width there unless COLUMNS says otherwise.
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return 200


console = Console(highlight=False, width=_width())
err_console = Console(stderr=True, highlight=False, width=_width())


def actor() -> str:
    """Who is acting: ``SHAOBING_ACTOR`` or the operating-system user, marked as CLI."""
    name = os.environ.get("SHAOBING_ACTOR")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return f"cli:{name}"


@contextmanager
def db_session(*, readonly: bool = False) -> Iterator[Session]:
    """A transaction on the configured database; refuses to run before ``shaobing init``."""
    engine = get_engine()
    if not is_initialised(engine):
        raise ShaobingError(t("cli.not_initialised", url=_safe_url()))
    with session_scope(engine, readonly=readonly) as session:
        yield session


def initialised_engine() -> Engine:
    """The configured database engine; refuses (one line) before ``shaobing init``."""
    engine = get_engine()
    if not is_initialised(engine):
        raise ShaobingError(t("cli.not_initialised", url=_safe_url()))
    return engine


def write_json(target: str | None, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``target`` (``-``: standard output; None: nowhere)."""
    if target is None:
        return
    if target == "-":
        print_json(data)
        return
    path = Path(target)
    try:
        path.write_text(
            json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise ShaobingError(t("scan.json_write_failed", path=path, detail=exc.strerror)) from None


def _safe_url() -> str:
    return get_engine().url.render_as_string(hide_password=True)


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """Write ``data`` as UTF-8 JSON (Chinese kept readable) to standard output."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")


def print_table(
    title: str | None, headers: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Render a rich table; ``None`` cells show as an em dash."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*("—" if cell is None else str(cell) for cell in row))
    console.print(table)


def settings_home() -> str:
    """The data directory, for messages."""
    return str(get_settings().home)
