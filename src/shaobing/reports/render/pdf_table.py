"""Tables in the PDF: a fast own layout over ``rect`` and ``text`` calls.

fpdf2's ``table()`` is too slow for 10,000-row annexes, so rows are wrapped and measured
here. The header row repeats after every page break (with the caption marked 续), a row is
never split across pages unless it is taller than a whole page, and level cells are tinted
with the level colour.
"""

from __future__ import annotations

from dataclasses import dataclass

from shaobing.reports.labels import labels
from shaobing.reports.model import LEVEL_COLOURS, KeyValue, Table
from shaobing.reports.render.pdf_doc import (
    MARGIN_X,
    MUTED,
    NAVY,
    PT,
    RGB,
    RULE,
    TEXT,
    ZEBRA,
    Align,
    ReportPDF,
    rgb,
    tint,
)
from shaobing.reports.render.pdf_text import Run

SIZE = 8.5
LINE = SIZE * PT * 1.45
PAD_X = 1.6
PAD_Y = 1.3
CAPTION_SIZE = 9.5
WHITE: RGB = (255, 255, 255)
LABEL_FILL: RGB = (236, 240, 245)

_LEVELS: dict[str, tuple[RGB, RGB]] = {
    word: (rgb(colour), tint(rgb(colour), 0.16)) for word, colour in LEVEL_COLOURS.items()
}


@dataclass
class _Cell:
    lines: list[str]
    align: Align
    bold: bool = False
    colour: RGB = TEXT
    fill: RGB | None = None


@dataclass
class _Grid:
    """Column geometry and header of one table."""

    widths: list[float]
    header: list[_Cell] | None
    caption: str | None

    @property
    def xs(self) -> list[float]:
        xs = [MARGIN_X]
        for w in self.widths[:-1]:
            xs.append(xs[-1] + w)
        return xs


def _row_height(cells: list[_Cell]) -> float:
    return max(len(c.lines) for c in cells) * LINE + 2 * PAD_Y


def _draw_row(pdf: ReportPDF, grid: _Grid, cells: list[_Cell], fill: RGB | None) -> None:
    height = _row_height(cells)
    top = pdf.y
    pdf.set_line_width(0.2)
    for x, width, cell in zip(grid.xs, grid.widths, cells, strict=True):
        pdf.put_rect(x, top, width, height, cell.fill or fill, RULE)
        for i, text in enumerate(cell.lines):
            pdf.draw_line(
                [Run(text, cell.bold)] if text else [],
                x + PAD_X,
                top + PAD_Y + i * LINE,
                width - 2 * PAD_X,
                LINE,
                SIZE,
                cell.align,
                cell.colour,
            )
    pdf.set_y(top + height)


def _draw_caption(pdf: ReportPDF, caption: str, continued: bool) -> None:
    text = caption + (str(labels()["continued"]) if continued else "")
    size = CAPTION_SIZE if not continued else SIZE
    lines = pdf.wrap_rich([(text, not continued, False)], [pdf.text_width], size)
    height = size * PT * 1.6
    for line in lines:
        pdf.draw_line(
            line,
            MARGIN_X,
            pdf.y,
            pdf.text_width,
            height,
            size,
            "center",
            MUTED if continued else TEXT,
        )
        pdf.set_y(pdf.y + height)
    pdf.set_y(pdf.y + 1.0)


def _caption_height(pdf: ReportPDF, caption: str | None) -> float:
    if not caption:
        return 0.0
    lines = pdf.wrap(caption, pdf.text_width, CAPTION_SIZE, bold=True)
    return len(lines) * CAPTION_SIZE * PT * 1.6 + 1.0


def _continue_page(pdf: ReportPDF, grid: _Grid) -> None:
    pdf.new_page()
    pdf.fresh = False
    if grid.caption:
        _draw_caption(pdf, grid.caption, continued=True)
    if grid.header is not None:
        _draw_row(pdf, grid, grid.header, NAVY)


def _split_tall(pdf: ReportPDF, grid: _Grid, cells: list[_Cell], fill: RGB | None) -> None:
    """Draw a row taller than a page in slices, one per page."""
    remaining = cells
    while True:
        room = int((pdf.bottom - pdf.y - 2 * PAD_Y) // LINE)
        if room < 1:
            _continue_page(pdf, grid)
            continue
        head = [_Cell(c.lines[:room], c.align, c.bold, c.colour, c.fill) for c in remaining]
        _draw_row(pdf, grid, head, fill)
        remaining = [_Cell(c.lines[room:], c.align, c.bold, c.colour, c.fill) for c in remaining]
        if not any(c.lines for c in remaining):
            return
        remaining = [c if c.lines else _Cell([""], c.align) for c in remaining]
        _continue_page(pdf, grid)


def _place_row(pdf: ReportPDF, grid: _Grid, cells: list[_Cell], fill: RGB | None) -> None:
    height = _row_height(cells)
    if pdf.y + height > pdf.bottom:
        header = _row_height(grid.header) if grid.header else 0.0
        if height + header + SIZE * PT * 2.6 > pdf.body_height:
            _split_tall(pdf, grid, cells, fill)
            return
        _continue_page(pdf, grid)
    _draw_row(pdf, grid, cells, fill)


def _widths(pdf: ReportPDF, weights: list[float]) -> list[float]:
    total = sum(w if w > 0 else 1.0 for w in weights) or 1.0
    return [pdf.text_width * (w if w > 0 else 1.0) / total for w in weights]


def _wrap(pdf: ReportPDF, text: str, width: float, bold: bool) -> list[str]:
    return pdf.wrap(text, width - 2 * PAD_X, SIZE, bold)


def draw_table(pdf: ReportPDF, table: Table) -> None:
    """Draw a table: caption above, repeating header, tinted level cells."""
    widths = _widths(pdf, [c.width for c in table.columns])
    header = [
        _Cell(_wrap(pdf, col.title, w, True), "center", True, WHITE)
        for col, w in zip(table.columns, widths, strict=True)
    ]
    grid = _Grid(widths, header, table.caption)
    first_row = _row_height(header) + LINE + 2 * PAD_Y
    pdf.ensure(_caption_height(pdf, table.caption) + first_row)
    if table.caption:
        _draw_caption(pdf, table.caption, continued=False)
    _draw_row(pdf, grid, header, NAVY)
    if not table.rows:
        empty = table.empty_text or str(labels()["empty_table"])
        span = _Grid([pdf.text_width], None, None)
        cell = _Cell(_wrap(pdf, empty, pdf.text_width, False), "center", colour=MUTED)
        _draw_row(pdf, span, [cell], None)
    for index, row in enumerate(table.rows):
        cells: list[_Cell] = []
        for col, (column, width) in enumerate(zip(table.columns, widths, strict=True)):
            value = row[col] if col < len(row) else ""
            level = _LEVELS.get(value.strip()) if col == table.level_column else None
            if level is not None:
                cells.append(_Cell(_wrap(pdf, value, width, True), column.align, True, *level))
            else:
                cells.append(_Cell(_wrap(pdf, value, width, False), column.align))
        _place_row(pdf, grid, cells, ZEBRA if index % 2 else None)
    pdf.set_y(pdf.y + 5.0)


def draw_key_value(pdf: ReportPDF, block: KeyValue) -> None:
    """Draw label/value pairs as a two-column table with shaded labels."""
    widths = _widths(pdf, [1.0, 3.0])
    grid = _Grid(widths, None, block.caption)
    rows = [
        [
            _Cell(_wrap(pdf, key, widths[0], True), "left", True, TEXT, LABEL_FILL),
            _Cell(_wrap(pdf, value, widths[1], False), "left"),
        ]
        for key, value in block.pairs
    ]
    first = _row_height(rows[0]) if rows else 0.0
    pdf.ensure(_caption_height(pdf, block.caption) + first)
    if block.caption:
        _draw_caption(pdf, block.caption, continued=False)
    for cells in rows:
        _place_row(pdf, grid, cells, None)
    pdf.set_y(pdf.y + 5.0)


def table_start_height(pdf: ReportPDF, table: Table) -> float:
    """Height of a table's caption, header and first row (what a heading keeps with)."""
    widths = _widths(pdf, [c.width for c in table.columns])
    header = max(
        (len(_wrap(pdf, c.title, w, True)) for c, w in zip(table.columns, widths, strict=True)),
        default=1,
    )
    first = 1
    if table.rows:
        row = table.rows[0]
        first = max(
            (len(_wrap(pdf, v, w, False)) for v, w in zip(row, widths, strict=False)), default=1
        )
    return _caption_height(pdf, table.caption) + (header + first) * LINE + 4 * PAD_Y


def key_value_start_height(pdf: ReportPDF, block: KeyValue) -> float:
    """Height of a key/value table's caption and first row."""
    if not block.pairs:
        return _caption_height(pdf, block.caption)
    widths = _widths(pdf, [1.0, 3.0])
    key, value = block.pairs[0]
    lines = max(len(_wrap(pdf, key, widths[0], True)), len(_wrap(pdf, value, widths[1], False)))
    return _caption_height(pdf, block.caption) + lines * LINE + 2 * PAD_Y
