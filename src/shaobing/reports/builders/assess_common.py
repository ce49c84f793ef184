"""Helpers shared by the assessment report builders (baseline, hardening, risk, MLPS gap).

The fixed words these builders put into tables, lists and charts live in
``data/builders_assess.yaml``; table layouts (column titles, widths, captions, XLSX sheet
names) are read from there too, so a builder only supplies the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal, cast

import yaml

from shaobing.reports.model import Column, Table
from shaobing.reports.period import Period

Align = Literal["left", "center", "right"]
_ALIGNS: frozenset[str] = frozenset({"left", "center", "right"})


@cache
def phrases() -> dict[str, Any]:
    """The packaged phrases of the assessment builders (``data/builders_assess.yaml``)."""
    text = (
        resources.files("shaobing.reports")
        .joinpath("data", "builders_assess.yaml")
        .read_text("utf-8")
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def words(section: str) -> dict[str, Any]:
    """One report's phrases (``baseline``, ``hardening``, ``risk``, ``mlps_gap``)."""
    found: dict[str, Any] = phrases()[section]
    return found


def common() -> dict[str, Any]:
    """Phrases shared by every assessment report."""
    return words("common")


def none_text() -> str:
    """What an empty cell shows."""
    return str(common()["none"])


def columns(spec: Sequence[Sequence[Any]], **fmt: object) -> list[Column]:
    """Columns from ``[title, width, align]`` triples; titles may hold ``{placeholders}``."""
    out: list[Column] = []
    for title, width, align in spec:
        chosen = str(align) if str(align) in _ALIGNS else "left"
        out.append(Column(str(title).format(**fmt), float(width), cast(Align, chosen)))
    return out


def make_table(
    spec: Mapping[str, Any],
    rows: Sequence[Sequence[object]],
    *,
    sheet: bool = True,
    **fmt: object,
) -> Table:
    """A table laid out by its YAML spec; ``fmt`` fills placeholders in caption and titles.

    Cells become text (None shows as the empty mark). ``sheet=False`` drops the sheet name,
    for per-target tables that should not each become an XLSX sheet.
    """
    caption = spec.get("caption")
    sheet_name = spec.get("sheet") if sheet else None
    level = spec.get("level_column")
    return Table(
        columns=columns(spec["columns"], **fmt),
        rows=[[cell(value) for value in row] for row in rows],
        caption=str(caption).format(**fmt) if caption else None,
        level_column=int(level) if level is not None else None,
        sheet=str(sheet_name).format(**fmt)[:31] if sheet_name else None,
    )


def cell(value: object) -> str:
    """A table cell's text: numbers as written in reports, None as the empty mark."""
    if value is None or value == "":
        return none_text() if value is None else ""
    if isinstance(value, bool):
        return str(common()["yes_word" if value else "no_word"])
    if isinstance(value, int | float):
        return num(value)
    return str(value)


def num(value: float | int | None, decimals: int = 2) -> str:
    """A number without needless decimals (``30``, ``35.29``); None as the empty mark."""
    if value is None:
        return none_text()
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{float(value):.{decimals}f}".rstrip("0").rstrip(".")


def percent(part: int | float, whole: int | float, decimals: int = 1) -> float | None:
    """``part / whole`` in percent, rounded; None when there is no whole."""
    if not whole:
        return None
    return round(100.0 * part / whole, decimals)


def percent_text(value: float | None) -> str:
    """A percentage as text (``83.3%``)."""
    return none_text() if value is None else f"{num(value, 1)}%"


def local_day(moment: datetime | date | None) -> date | None:
    """The calendar day of a stored timestamp (naive values are UTC, as the database keeps them)."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.astimezone().date()
    return moment


def day_text(moment: datetime | date | None) -> str:
    """A date as ``2026年3月1日``."""
    found = local_day(moment)
    if found is None:
        return none_text()
    return f"{found.year}年{found.month}月{found.day}日"


def short_day(moment: datetime | date | None) -> str:
    """A date as ``2026-03-01`` (tables)."""
    found = local_day(moment)
    return found.isoformat() if found else none_text()


def in_period(moment: datetime | date | None, period: Period | None) -> bool:
    """Whether a timestamp falls in the report period (always, without a period)."""
    if period is None:
        return True
    found = local_day(moment)
    return found is not None and period.contains(found)


def joined(values: Sequence[object], limit: int = 0) -> str:
    """Values joined with 、; beyond ``limit`` (when set) ends with 等 N 项."""
    texts = [str(v) for v in values if v is not None and str(v) != ""]
    sep = str(common()["separator"])
    if limit and len(texts) > limit:
        return sep.join(texts[:limit]) + str(common()["more"]).format(count=len(texts))
    return sep.join(texts) if texts else none_text()
