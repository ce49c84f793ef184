"""The cover page and the table of contents of the PDF."""

from __future__ import annotations

import math
from pathlib import Path

from fpdf import FPDF
from fpdf.outline import OutlineSection

from shaobing.reports.labels import cover_rows, labels
from shaobing.reports.model import ReportMeta
from shaobing.reports.render.pdf_doc import (
    ACCENT_RED,
    MARGIN_TOP,
    MARGIN_X,
    MUTED,
    NAVY,
    PT,
    RULE,
    TEXT,
    ReportPDF,
)

TOC_TITLE = 24.0
TOC_LINE = 8.0
_TOC_SIZES = {0: 11.0, 1: 10.5, 2: 10.0}


def _logo(pdf: ReportPDF, logo: Path | None) -> None:
    if logo is None or not logo.is_file():
        return
    try:
        pdf.image(str(logo), x=MARGIN_X, y=18, h=14)
    except (OSError, ValueError, RuntimeError):
        return  # an unreadable logo leaves the cover without it rather than failing the build


def _mark(pdf: ReportPDF, mark: str) -> None:
    size = 11.0
    width = pdf.measure(mark, True, size) + 8
    x = pdf.w - MARGIN_X - width
    pdf.set_draw_color(*ACCENT_RED)
    pdf.set_line_width(0.5)
    pdf.rect(x, 20, width, 9)
    pdf.draw_text(mark, x + 4, 20 + (9 - size * PT) / 2 - 0.4, size, bold=True, colour=ACCENT_RED)


def _centred(
    pdf: ReportPDF, text: str, top: float, size: float, bold: bool, colour: tuple[int, int, int]
) -> float:
    """Draw wrapped, centred text from ``top``; the y below it."""
    height = size * PT * 1.5
    for line in pdf.wrap_rich([(text, bold, False)], [pdf.text_width - 10], size):
        pdf.draw_line(line, MARGIN_X, top, pdf.text_width, height, size, "center", colour)
        top += height
    return top


def draw_cover(pdf: ReportPDF, meta: ReportMeta) -> None:
    """The cover: logo, confidentiality mark, title, facts, vendor and date."""
    pdf.new_page()
    pdf.fresh = False
    _logo(pdf, meta.logo)
    if meta.confidentiality:
        _mark(pdf, meta.confidentiality)
    y = _centred(pdf, meta.title, 78, 28, True, NAVY)
    if meta.subtitle:
        y = _centred(pdf, meta.subtitle, y + 4, 14, False, MUTED)
    pdf.set_fill_color(*NAVY)
    pdf.rect(pdf.w / 2 - 20, y + 8, 40, 1.2, style="F")
    words = labels()["cover"]
    bottom_keys = (words["vendor"], words["report_date"])
    rows = [(k, v) for k, v in cover_rows(meta) if k not in bottom_keys]
    _cover_rows(pdf, rows, max(y + 28, 140))
    date = f"{meta.report_date.year}年{meta.report_date.month}月{meta.report_date.day}日"
    _centred(pdf, meta.vendor, 246, 15, True, TEXT)
    _centred(pdf, date, 256, 12, False, TEXT)


def _cover_rows(pdf: ReportPDF, rows: list[tuple[str, str]], top: float) -> None:
    size = 11.5
    label_w = max((pdf.measure(k + "：", True, size) for k, _ in rows), default=20.0)
    value_w = 95.0
    x = (pdf.w - label_w - value_w) / 2
    height = 10.0
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    for key, value in rows:
        lines = pdf.wrap_rich([(value, False, False)], [value_w - 2], size)
        pdf.draw_line(
            pdf.wrap_rich([(key + "：", True, False)], [label_w], size)[0],
            x,
            top,
            label_w,
            height,
            size,
            "right",
            MUTED,
        )
        for i, line in enumerate(lines):
            pdf.draw_line(
                line, x + label_w + 2, top + i * 7, value_w - 2, height, size, "left", TEXT
            )
        top += height + (len(lines) - 1) * 7
        pdf.line(x + label_w + 1, top - 1.5, x + label_w + value_w, top - 1.5)


def toc_pages(pdf: ReportPDF, headings: int) -> int:
    """How many pages the table of contents of ``headings`` entries needs."""
    first = int((pdf.body_height - TOC_TITLE) // TOC_LINE)
    rest = int(pdf.body_height // TOC_LINE)
    if headings <= first:
        return 1
    return 1 + math.ceil((headings - first) / rest)


def draw_toc(pdf: FPDF, outline: list[OutlineSection]) -> None:
    """Render the table of contents (fpdf2 calls this once the page numbers are known)."""
    assert isinstance(pdf, ReportPDF)
    pdf.fresh = False
    pdf.set_y(MARGIN_TOP)
    _centred(pdf, str(labels()["toc"]), pdf.y + 2, 16, True, NAVY)
    pdf.set_y(MARGIN_TOP + TOC_TITLE)
    for section in outline:
        if pdf.y + TOC_LINE > pdf.bottom:
            pdf.add_page()
            pdf.set_y(MARGIN_TOP)
        _toc_entry(pdf, section)


def _toc_entry(pdf: ReportPDF, section: OutlineSection) -> None:
    level = min(section.level, 2)
    size = _TOC_SIZES[level]
    bold = level == 0
    indent = level * 7.0
    number = str(section.page_number)
    number_w = pdf.measure(number, False, size)
    room = pdf.text_width - indent - number_w - 8
    name = pdf.wrap(section.name, room, size, bold)[0]
    if name != section.name.strip():
        name = name[:-1] + "…"
    x = MARGIN_X + indent
    top = pdf.y
    pdf.draw_line(
        pdf.wrap_rich([(name, bold, False)], [room + 2], size)[0],
        x,
        top,
        room,
        TOC_LINE,
        size,
        "left",
        TEXT,
    )
    name_w = pdf.measure(name, bold, size)
    right = pdf.w - MARGIN_X
    pdf.draw_line(
        pdf.wrap_rich([(number, False, False)], [number_w + 2], size)[0],
        right - number_w,
        top,
        number_w,
        TOC_LINE,
        size,
        "left",
        TEXT,
    )
    # Dotted leader between the heading and its page number.
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.25)
    pdf.set_dash_pattern(dash=0.3, gap=1.2)
    y = top + TOC_LINE / 2 + size * PT * 0.3
    start, end = x + name_w + 2, right - number_w - 2
    if end > start:
        pdf.line(start, y, end, y)
    pdf.set_dash_pattern()
    link = pdf.add_link(page=section.page_number)
    pdf.link(x, top, right - x, TOC_LINE, link)
    pdf.set_y(top + TOC_LINE)
