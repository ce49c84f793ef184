"""Fast multi-row INSERT for large imports, on SQLite and PostgreSQL alike.

SQLAlchemy's executemany path spends more time per row in its generic parameter handling
than the database spends inserting it. This helper builds the statement once and applies
each column's own bind processor (the dialect's, so JSON, JSONB and UTC timestamps are
stored exactly as the ORM stores them) in a tight loop, then hands the rows to the
driver's executemany. Values repeated across rows — the import's single timestamp, empty
lists — are converted once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


class _Column:
    """One column's bind processor with a memo of the last and the empty-container value."""

    __slots__ = ("_empty", "_last_in", "_last_out", "name", "process")

    def __init__(self, name: str, process: Callable[[Any], Any]) -> None:
        self.name = name
        self.process = process
        self._last_in: object = object()
        self._last_out: Any = None
        self._empty: dict[type, Any] = {}

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        if value is self._last_in:
            return self._last_out
        if isinstance(value, list | dict) and not value:
            kind = type(value)
            if kind not in self._empty:
                self._empty[kind] = self.process(value)
            return self._empty[kind]
        out = self.process(value)
        self._last_in, self._last_out = value, out
        return out


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table`` in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    preparer = dialect.identifier_preparer
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" for _ in names)
    elif dialect.paramstyle in {"format", "pyformat"}:
        marks = ", ".join("%s" for _ in names)
    else:  # pragma: no cover - the two supported drivers use the styles above
        raise NotImplementedError(dialect.paramstyle)
    # Table and column names come from our metadata and are quoted by the dialect.
    statement = (
        f"INSERT INTO {preparer.format_table(table)} "  # noqa: S608 - quoted metadata names
        f"({', '.join(preparer.quote(name) for name in names)}) VALUES ({marks})"
    )
    plain: list[str] = []
    converted: list[_Column] = []
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is None:
            plain.append(name)
        else:
            converted.append(_Column(name, process))
    order = {name: i for i, name in enumerate(names)}
    width = len(names)
    plain_at = [(order[n], n) for n in plain]
    converted_at = [(order[c.name], c) for c in converted]
    data = []
    for row in rows:
        values: list[Any] = [None] * width
        for index, name in plain_at:
            values[index] = row[name]
        for index, column in converted_at:
            values[index] = column(row[column.name])
        data.append(tuple(values))
    connection.exec_driver_sql(statement, data)
