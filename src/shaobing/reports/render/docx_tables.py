"""Tables as WordprocessingML text: data tables and label/value tables.

A findings annex can have 10,000 rows; python-docx's per-cell API is far too slow for that,
so the whole ``w:tbl`` is written as one string (per-column cell prefixes prepared once) and
parsed in one go. Header rows repeat on every page (``w:tblHeader``), rows never split across
pages (``w:cantSplit``), and the level column is shaded with the level's colour.
"""

from __future__ import annotations

from shaobing.reports.model import LEVEL_COLOURS, KeyValue, Table
from shaobing.reports.render.docx_styles import StyleIds
from shaobing.reports.render.docx_xml import rpr, text_runs

HEADER_FILL = "D9E2F3"
LABEL_FILL = "F2F2F2"
_JC = {"left": "left", "center": "center", "right": "right"}
_BORDERS = "".join(
    f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    for side in ("top", "left", "bottom", "right", "insideH", "insideV")
)
_BOLD = rpr(bold=True)
_LEVEL_RPR = rpr(bold=True, colour="FFFFFF")


def column_widths(relative: list[float], total: int) -> list[int]:
    """Twips per column from relative widths (non-positive widths count as 1)."""
    weights = [w if w > 0 else 1.0 for w in relative] or [1.0]
    scale = total / sum(weights)
    widths = [int(w * scale) for w in weights]
    widths[-1] += total - sum(widths)
    return widths


def _tbl_open(styles: StyleIds, widths: list[int], *, header: bool) -> str:
    style = f'<w:tblStyle w:val="{styles.table_grid}"/>' if styles.table_grid else ""
    # Explicit borders keep the grid even if a reference document's Table Grid has none.
    look = "04A0" if header else "0000"
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    return (
        f'<w:tbl><w:tblPr>{style}<w:tblW w:w="{sum(widths)}" w:type="dxa"/>'
        f'<w:jc w:val="center"/><w:tblBorders>{_BORDERS}</w:tblBorders>'
        '<w:tblLayout w:type="fixed"/><w:tblCellMar><w:top w:w="28" w:type="dxa"/>'
        '<w:left w:w="85" w:type="dxa"/><w:bottom w:w="28" w:type="dxa"/>'
        '<w:right w:w="85" w:type="dxa"/></w:tblCellMar>'
        f'<w:tblLook w:val="{look}" w:firstRow="{int(header)}" w:lastRow="0" '
        'w:firstColumn="0" w:lastColumn="0" w:noHBand="1" w:noVBand="1"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>"
    )


def _cell(width: int, para_style: str, jc: str, runs: str, fill: str | None = None) -> str:
    shd = f'<w:shd w:val="clear" w:color="auto" w:fill="{fill}"/>' if fill else ""
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{shd}<w:vAlign w:val="center"/>'
        f'</w:tcPr><w:p><w:pPr><w:pStyle w:val="{para_style}"/><w:jc w:val="{jc}"/></w:pPr>'
        f"{runs}</w:p></w:tc>"
    )


def table_xml(table: Table, styles: StyleIds, text_width: int) -> str:
    """A data table: shaded bold header row repeated on each page, then the rows."""
    columns = table.columns
    widths = column_widths([c.width for c in columns], text_width)
    tt = styles.table_text
    out = [_tbl_open(styles, widths, header=True)]
    out.append("<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>")
    for col, width in zip(columns, widths, strict=True):
        out.append(_cell(width, tt, "center", text_runs(col.title, _BOLD), HEADER_FILL))
    out.append("</w:tr>")
    if not table.rows:
        out.append(
            f'<w:tr><w:trPr><w:cantSplit/></w:trPr><w:tc><w:tcPr><w:tcW w:w="{sum(widths)}" '
            f'w:type="dxa"/><w:gridSpan w:val="{len(widths)}"/></w:tcPr><w:p><w:pPr>'
            f'<w:pStyle w:val="{tt}"/><w:jc w:val="center"/></w:pPr>'
            f"{text_runs(table.empty_text)}</w:p></w:tc></w:tr>"
        )
        out.append("</w:tbl>")
        return "".join(out)
    # Everything but the text of a cell is the same down a column: prepare it once.
    # Data cells carry no tcW (the fixed grid sizes them) and left-aligned ones no jc: every
    # attribute costs time when lxml moves a 50,000-cell table into the document.
    heads = [
        f'<w:tc><w:tcPr><w:vAlign w:val="center"/></w:tcPr><w:p><w:pPr><w:pStyle w:val="{tt}"/>'
        + (f'<w:jc w:val="{_JC[col.align]}"/>' if col.align in ("center", "right") else "")
        + "</w:pPr>"
        for col in columns
    ]
    tail = "</w:p></w:tc>"
    level = table.level_column
    ncols = len(columns)
    for row in table.rows:
        out.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>")
        for i in range(ncols):
            value = row[i] if i < len(row) else ""
            text = value if isinstance(value, str) else str(value)
            colour = LEVEL_COLOURS.get(text.strip()) if i == level else None
            if colour:
                out.append(_cell(widths[i], tt, "center", text_runs(text, _LEVEL_RPR), colour))
            else:
                out.append(heads[i] + text_runs(text) + tail)
        out.append("</w:tr>")
    out.append("</w:tbl>")
    return "".join(out)


def key_value_xml(kv: KeyValue, styles: StyleIds, text_width: int) -> str:
    """A two-column label/value table with the label column shaded and bold."""
    widths = column_widths([1.0, 3.0], text_width)
    tt = styles.table_text
    out = [_tbl_open(styles, widths, header=False)]
    for label, value in kv.pairs:
        out.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>")
        out.append(_cell(widths[0], tt, "center", text_runs(label, _BOLD), LABEL_FILL))
        out.append(_cell(widths[1], tt, "left", text_runs(value)))
        out.append("</w:tr>")
    out.append("</w:tbl>")
    return "".join(out)
