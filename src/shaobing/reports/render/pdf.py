"""The PDF renderer: an A4 report with cover, table of contents, bookmarks and page numbers.

Uses fpdf2 with the Noto Sans CJK SC faces (embedded as subsets). The layout of text and
tables is done here (see :mod:`pdf_text`, :mod:`pdf_table`) rather than with fpdf2's flowing
text and table helpers, for speed on large annexes and for Chinese line breaking.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from shaobing.reports.model import (
    BulletList,
    Chart,
    Heading,
    Image,
    KeyValue,
    PageBreak,
    Paragraph,
    ReportDocument,
    Span,
    Table,
    TableOfContents,
)
from shaobing.reports.render.pdf_doc import MARGIN_X, MUTED, NAVY, PT, RGB, TEXT, Align, ReportPDF
from shaobing.reports.render.pdf_pages import draw_cover, draw_toc, toc_pages
from shaobing.reports.render.pdf_table import (
    draw_key_value,
    draw_table,
    key_value_start_height,
    table_start_height,
)
from shaobing.reports.render.pdf_text import Line

BODY = 10.5
BODY_LINE = BODY * PT * 1.75
CAPTION_LINE = 9.5 * PT * 1.7
CHART_DPI = 170.0
# Screenshots carry no useful DPI; 110 prints a 1280-pixel-wide shot at the full text width.
IMAGE_DPI = 110.0
_HEADINGS: dict[int, tuple[float, float, RGB]] = {
    # level: (size in points, space above in mm, colour)
    1: (16.0, 8.0, NAVY),
    2: (13.5, 5.0, NAVY),
    3: (11.5, 3.5, TEXT),
}
# Room a heading needs below it when nothing is known of what follows.
KEEP_WITH_NEXT = 2 * BODY_LINE + 2.0


def _heading_lines(pdf: ReportPDF, block: Heading) -> tuple[list[Line], float]:
    size = _HEADINGS.get(block.level, _HEADINGS[3])[0]
    return pdf.wrap_rich([(block.text, True, False)], [pdf.text_width], size), size * PT * 1.5


def _start_height(pdf: ReportPDF, block: object) -> float:
    """The height of the first piece of ``block`` that must share a page with a heading."""
    if isinstance(block, Table):
        return table_start_height(pdf, block)
    if isinstance(block, KeyValue):
        return key_value_start_height(pdf, block)
    if isinstance(block, Chart) and block.png is not None:
        size = _picture_size(pdf, block.png, CHART_DPI)
        return size[1] + 4 if size else 0.0
    if isinstance(block, Image):
        try:
            size = _picture_size(pdf, Path(block.path).read_bytes(), IMAGE_DPI)
        except OSError:
            return 0.0
        return size[1] + 4 + (CAPTION_LINE if block.caption else 0.0) if size else 0.0
    if isinstance(block, Heading):
        lines, line = _heading_lines(pdf, block)
        return len(lines) * line + KEEP_WITH_NEXT
    return KEEP_WITH_NEXT


def _heading(pdf: ReportPDF, block: Heading, follow: object = None) -> None:
    """Draw a heading and its bookmark, on a new page unless what follows fits with it."""
    size, above, colour = _HEADINGS.get(block.level, _HEADINGS[3])
    lines, line = _heading_lines(pdf, block)
    height = len(lines) * line
    if not pdf.fresh:
        after = min(_start_height(pdf, follow), pdf.body_height - height - above)
        pdf.ensure(above + height + 4.0 + after)
    if not pdf.fresh and pdf.y > pdf.t_margin + 0.1:
        pdf.set_y(pdf.y + above)
    pdf.fresh = False
    pdf.start_section(block.text, level=max(block.level - 1, 0), strict=False)
    for wrapped in lines:
        pdf.draw_line(wrapped, MARGIN_X, pdf.y, pdf.text_width, line, size, "left", colour)
        pdf.set_y(pdf.y + line)
    if block.level == 1:
        pdf.set_draw_color(*NAVY)
        pdf.set_line_width(0.4)
        pdf.line(MARGIN_X, pdf.y + 0.5, MARGIN_X + pdf.text_width, pdf.y + 0.5)
        pdf.set_y(pdf.y + 3.0)
    else:
        pdf.set_y(pdf.y + 1.5)


def _runs(spans: tuple[Span, ...]) -> list[tuple[str, bool, bool]]:
    return [(s.text, s.bold, s.br) for s in spans]


def _flow(
    pdf: ReportPDF,
    runs: list[tuple[str, bool, bool]],
    *,
    x: float,
    width: float,
    size: float,
    line: float,
    indent: float = 0.0,
    align: Align = "left",
    colour: RGB = TEXT,
    justify: bool = False,
) -> None:
    """Draw wrapped text line by line, breaking pages between lines."""
    lines, hard = pdf.wrap_marked(runs, [width - indent, width], size)
    for i, wrapped in enumerate(lines):
        pdf.ensure(line)
        offset = indent if i == 0 else 0.0
        pdf.draw_line(
            wrapped,
            x + offset,
            pdf.y,
            width - offset,
            line,
            size,
            align,
            colour,
            justify=justify and i not in hard,
        )
        pdf.set_y(pdf.y + line)


def _paragraph(pdf: ReportPDF, block: Paragraph) -> None:
    runs = _runs(block.spans)
    if block.style == "note":
        note = 9.0
        _flow(
            pdf,
            runs,
            x=MARGIN_X,
            width=pdf.text_width,
            size=note,
            line=note * PT * 1.7,
            colour=MUTED,
            justify=True,
        )
    elif block.style == "center":
        _flow(
            pdf, runs, x=MARGIN_X, width=pdf.text_width, size=BODY, line=BODY_LINE, align="center"
        )
    elif block.style == "caption":
        runs = [(text, True, br) for text, _, br in runs]
        _flow(
            pdf,
            runs,
            x=MARGIN_X,
            width=pdf.text_width,
            size=9.5,
            line=CAPTION_LINE,
            align="center",
        )
    else:
        # Chinese body text: first line indented by two characters.
        _flow(
            pdf,
            runs,
            x=MARGIN_X,
            width=pdf.text_width,
            size=BODY,
            line=BODY_LINE,
            indent=2 * BODY * PT,
            justify=True,
        )
    pdf.set_y(pdf.y + 2.0)


def _bullets(pdf: ReportPDF, block: BulletList) -> None:
    hang = 7.0
    for number, item in enumerate(block.items, start=1):
        marker = f"{number}." if block.ordered else "•"
        lines, hard = pdf.wrap_marked(_runs(item), [pdf.text_width - hang], BODY)
        for i, wrapped in enumerate(lines):
            pdf.ensure(BODY_LINE)
            if i == 0:
                marker_line = pdf.wrap_rich([(marker, False, False)], [hang], BODY)[0]
                pdf.draw_line(
                    marker_line, MARGIN_X + 1.5, pdf.y, hang - 1.5, BODY_LINE, BODY, "left", NAVY
                )
            pdf.draw_line(
                wrapped,
                MARGIN_X + hang,
                pdf.y,
                pdf.text_width - hang,
                BODY_LINE,
                BODY,
                justify=i not in hard,
            )
            pdf.set_y(pdf.y + BODY_LINE)
    pdf.set_y(pdf.y + 2.0)


def _picture_size(pdf: ReportPDF, data: bytes, natural_dpi: float) -> tuple[float, float] | None:
    """Printed width and height of an image: its own size, at most the text width and
    most of a page; None when ``data`` is not an image."""
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            px_w, px_h = image.size
            dpi = image.info.get("dpi", (natural_dpi, natural_dpi))[0] or natural_dpi
    except (UnidentifiedImageError, OSError):
        return None
    if px_w <= 0 or px_h <= 0:
        return None
    width = min(pdf.text_width, px_w / float(dpi) * 25.4)
    height = width * px_h / px_w
    limit = pdf.body_height * 0.8
    if height > limit:
        width, height = width * limit / height, limit
    return width, height


def _picture(pdf: ReportPDF, data: bytes, caption: str | None, *, natural_dpi: float) -> None:
    size = _picture_size(pdf, data, natural_dpi)
    if size is None:
        return  # not an image: leave it out rather than fail the whole report
    width, height = size
    caption_h = CAPTION_LINE * 2 if caption else 0.0
    pdf.ensure(height + caption_h + 4)
    pdf.image(io.BytesIO(data), x=(pdf.w - width) / 2, y=pdf.y + 1, w=width, h=height)
    pdf.set_y(pdf.y + height + 3)
    if caption:
        runs = [(caption, True, False)]
        _flow(
            pdf,
            runs,
            x=MARGIN_X,
            width=pdf.text_width,
            size=9.5,
            line=CAPTION_LINE,
            align="center",
        )
    pdf.set_y(pdf.y + 3.0)


def _image(pdf: ReportPDF, block: Image) -> None:
    try:
        data = Path(block.path).read_bytes()
    except OSError:
        return
    _picture(pdf, data, block.caption, natural_dpi=IMAGE_DPI)


def _toc(pdf: ReportPDF, doc: ReportDocument) -> None:
    if pdf.toc_placeholder is not None:
        return  # one table of contents per document
    if not pdf.fresh:
        pdf.new_page()
    pages = toc_pages(pdf, len(doc.headings()))
    pdf.insert_toc_placeholder(draw_toc, pages=pages)
    pdf.fresh = True


def _block(pdf: ReportPDF, doc: ReportDocument, block: object, follow: object) -> None:
    if isinstance(block, Heading):
        _heading(pdf, block, follow)
    elif isinstance(block, Paragraph):
        _paragraph(pdf, block)
    elif isinstance(block, BulletList):
        _bullets(pdf, block)
    elif isinstance(block, Table):
        draw_table(pdf, block)
    elif isinstance(block, KeyValue):
        draw_key_value(pdf, block)
    elif isinstance(block, Chart):
        if block.png is not None:
            _picture(pdf, block.png, None, natural_dpi=CHART_DPI)
    elif isinstance(block, Image):
        _image(pdf, block)
    elif isinstance(block, PageBreak):
        if not pdf.fresh:
            pdf.new_page()
    elif isinstance(block, TableOfContents):
        _toc(pdf, doc)


def render(doc: ReportDocument, path: Path) -> None:
    """Write ``doc`` as a PDF to ``path``."""
    meta = doc.meta
    pdf = ReportPDF(meta)
    pdf.set_title(meta.title)
    pdf.set_author(meta.vendor)
    pdf.set_subject(meta.client)
    pdf.set_creator("Shaobing")
    pdf.set_keywords(meta.report_no)
    pdf.set_lang("zh-CN")
    draw_cover(pdf, meta)
    pdf.running = True
    pdf.new_page()
    for index, block in enumerate(doc.blocks):
        follow = doc.blocks[index + 1] if index + 1 < len(doc.blocks) else None
        _block(pdf, doc, block, follow)
    pdf.number_pages()
    pdf.output(str(path))
