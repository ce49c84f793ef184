"""XLSX renderer: the annex workbook (findings, assets, work orders) a client filters and sorts.

The first sheet holds the report's cover facts; then one sheet per annex table (or, when the
report declares no annexes, per table of the body) with a bold shaded header row that stays
frozen, an autofilter, fitted column widths and level cells in their colours. Written in
openpyxl's write-only mode so 10,000-row annexes stay quick and small in memory.

Data is never executed: text that Excel would read as a formula (``=…``, ``+…``, ``-…``,
``@…``) is stored as a string and marked quote-prefixed, so even editing the cell keeps it text.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from shaobing.reports.labels import cover_rows, labels
from shaobing.reports.model import LEVEL_COLOURS, ReportDocument, Table

MAX_SHEET_NAME = 31
MAX_CELL_CHARS = 32_767  # Excel's limit per cell
WIDTH_SAMPLE_ROWS = 2_000
MIN_WIDTH, MAX_WIDTH = 6.0, 60.0
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FORMULA_START = ("=", "+", "-", "@")
_INTEGER = re.compile(r"^-?(?:0|[1-9]\d{0,8})$")
_DECIMAL = re.compile(r"^-?(?:0|[1-9]\d{0,8})\.\d{1,6}$")
# Excel reserves this sheet name for its change tracking.
_RESERVED = {"history"}

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9E2F3")
_LABEL_FILL = PatternFill("solid", fgColor="F2F2F2")
_TITLE_FONT = Font(bold=True, size=14)
_LEVEL_FONT = Font(bold=True, color="FFFFFF")
_THIN = Side(style="thin", color="A6A6A6")
_HEADER_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_CENTRE_ONLY = Alignment(horizontal="center", vertical="center")


def render(doc: ReportDocument, path: Path) -> None:
    """Write the annex workbook of ``doc`` at ``path``."""
    words = labels()
    workbook = Workbook(write_only=True)
    _properties(workbook, doc)
    names = SheetNames()
    # create_sheet gives write-only sheets; they have Worksheet's attributes (the stubs
    # declare only some of them), hence the Worksheet annotations below.
    _info_sheet(workbook.create_sheet(names.take(str(words["annex_info_sheet"]))), doc)
    tables = doc.annexes or [b for b in doc.blocks if isinstance(b, Table)]
    for index, table in enumerate(tables, start=1):
        title = names.take(_sheet_title(table, index))
        _table_sheet(workbook, workbook.create_sheet(title), table)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(str(path))


class SheetNames:
    """Excel-safe, unique (case-insensitively) worksheet names."""

    def __init__(self) -> None:
        self._taken: set[str] = set(_RESERVED)

    def take(self, wanted: str) -> str:
        """``wanted`` sanitised (≤31 chars, no ``[]:*?/\\``), suffixed "(2)" etc. when taken."""
        base = _SHEET_FORBIDDEN.sub("_", _clean(wanted)).strip().strip("'").strip()
        base = base[:MAX_SHEET_NAME] or "Sheet"
        name, n = base, 1
        while name.casefold() in self._taken:
            n += 1
            suffix = f"({n})"
            name = base[: MAX_SHEET_NAME - len(suffix)] + suffix
        self._taken.add(name.casefold())
        return name


def _sheet_title(table: Table, index: int) -> str:
    """The table's sheet name, else its caption without the "表 N" numbering of the report."""
    word = str(labels()["table"])
    if table.sheet:
        return table.sheet
    if table.caption:
        stripped = re.sub(rf"^{re.escape(word)}\s*[\d.\-]+\s*", "", table.caption).strip()
        return stripped or table.caption
    return f"{word}{index}"


def _clean(text: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_CELL_CHARS]


def _cell(ws: Worksheet, text: str, numeric: bool) -> Any:
    """A cell value: numbers as numbers, formula-looking text as quote-prefixed text."""
    if _INTEGER.match(text):
        return int(text)
    if numeric and _DECIMAL.match(text) and not text.endswith("0"):
        return float(text)
    text = _clean(text)
    if text.startswith(_FORMULA_START):
        cell = WriteOnlyCell(ws, text)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    return text


def _styled(ws: Worksheet, value: str, font: Font, fill: PatternFill) -> Cell:
    cell = WriteOnlyCell(ws, _clean(value))
    cell.data_type = "s"
    cell.font = font
    cell.fill = fill
    return cell


def _display_width(text: str) -> float:
    """Width in Excel character units; CJK characters take two."""
    return float(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text))


def _table_sheet(workbook: Workbook, ws: Worksheet, table: Table) -> None:
    columns = table.columns
    ncols = max(len(columns), 1)
    widths = [_display_width(c.title) for c in columns]
    for row in table.rows[:WIDTH_SAMPLE_ROWS]:
        for i, value in enumerate(row[:ncols]):
            widths[i] = max(widths[i], *map(_display_width, str(value).split("\n")))
    for i, col in enumerate(columns):
        floor = MIN_WIDTH * max(col.width, 1.0)
        width = min(max(widths[i] + 2, floor), MAX_WIDTH)
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    ws.freeze_panes = "A2"
    last = f"{get_column_letter(ncols)}{len(table.rows) + 1}"
    ws.auto_filter.ref = f"A1:{last}"
    ws.print_title_rows = "1:1"
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if ncols > 5:
        ws.page_setup.orientation = "landscape"
    header = []
    for col in columns:
        cell = _styled(ws, col.title, _HEADER_FONT, _HEADER_FILL)
        cell.alignment = _CENTRE
        cell.border = _HEADER_BORDER
        header.append(cell)
    ws.append(header)
    numeric = [c.align == "right" for c in columns]
    level = table.level_column
    level_styles = _LevelStyles(workbook)
    for row in table.rows:
        values: list[Any] = []
        for i in range(len(columns)):
            text = row[i] if i < len(row) else ""
            text = text if isinstance(text, str) else str(text)
            style = level_styles.get(text.strip()) if i == level else None
            if style is not None:
                cell = WriteOnlyCell(ws, _clean(text))
                cell.style = style
                values.append(cell)
            else:
                values.append(_cell(ws, text, numeric[i]))
        ws.append(values)


class _LevelStyles:
    """Named cell styles per level word ("Level 高危"), registered on first use.

    Assigning a named style is a lookup; assigning font and fill objects hashes them, which
    for 10,000 level cells costs about a second.
    """

    def __init__(self, workbook: Workbook) -> None:
        self._workbook = workbook
        self._names: dict[str, str] = {}

    def get(self, word: str) -> str | None:
        """The style name for a level word, or None when the word has no colour."""
        colour = LEVEL_COLOURS.get(word)
        if colour is None:
            return None
        name = self._names.get(word)
        if name is None:
            name = f"Level {word}"
            if name not in self._workbook.named_styles:
                self._workbook.add_named_style(
                    NamedStyle(
                        name=name,
                        font=_LEVEL_FONT,
                        fill=PatternFill("solid", fgColor=colour),
                        alignment=_CENTRE_ONLY,
                    )
                )
            self._names[word] = name
        return name


def _info_sheet(ws: Worksheet, doc: ReportDocument) -> None:
    rows = cover_rows(doc.meta)
    label_width = max((_display_width(label) for label, _ in rows), default=8.0) + 4
    value_width = max((_display_width(value) for _, value in rows), default=20.0) + 4
    ws.column_dimensions["A"].width = min(label_width, MAX_WIDTH)
    ws.column_dimensions["B"].width = min(max(value_width, 30.0), MAX_WIDTH)
    title = WriteOnlyCell(ws, _clean(doc.meta.title))
    title.font = _TITLE_FONT
    ws.append([title])
    if doc.meta.subtitle:
        ws.append([_cell(ws, doc.meta.subtitle, numeric=False)])
    ws.append([])
    for label, value in rows:
        ws.append([_styled(ws, label, _HEADER_FONT, _LABEL_FILL), _cell(ws, value, numeric=False)])
    if doc.meta.confidentiality:
        ws.append([])
        mark = WriteOnlyCell(ws, _clean(doc.meta.confidentiality))
        mark.font = _HEADER_FONT
        ws.append([mark])


def _properties(workbook: Workbook, doc: ReportDocument) -> None:
    meta = doc.meta
    props = workbook.properties
    props.title = _clean(meta.title)
    props.creator = _clean(meta.vendor)
    props.lastModifiedBy = _clean(meta.author or meta.vendor)
    props.subject = _clean(meta.client)
    props.keywords = _clean(meta.report_no)
    props.language = "zh-CN"
    now = datetime.now().replace(microsecond=0)
    props.created = now
    props.modified = now
