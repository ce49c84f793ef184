"""The cover page, the section break after it, and the body's running header and footer.

The cover is its own section without header or footer; the body section numbers its pages
from 1 and shows "第 X 页 共 Y 页" where Y leaves out the cover (``{ = { NUMPAGES } - 1 }``,
the usual Word construction, also understood by WPS).
"""

from __future__ import annotations

import string
from copy import deepcopy

from docx.document import Document
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm

from shaobing.reports.labels import cover_rows, labels
from shaobing.reports.model import ReportMeta
from shaobing.reports.render.docx_styles import HEAD_ASCII, HEAD_EAST_ASIA, StyleIds
from shaobing.reports.render.docx_xml import (
    EMU_PER_TWIP,
    field,
    nested_formula,
    paragraph,
    parse,
    parse_many,
    ppr,
    rpr,
    text_runs,
)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEAD_FONTS = (
    f'<w:rFonts w:ascii="{HEAD_ASCII}" w:hAnsi="{HEAD_ASCII}" w:eastAsia="{HEAD_EAST_ASIA}"/>'
)
COVER_PAGES = 1
LOGO_HEIGHT = Cm(2.2)


def _append(document: Document, elements: list[str]) -> None:
    for element in parse_many(elements):
        _append_element(document, element)


def _append_element(document: Document, element: BaseOxmlElement) -> None:
    body = document.element.body
    sect = body.find(f"{_W}sectPr")
    if sect is not None:
        sect.addprevious(element)
    else:
        body.append(element)


def _date(meta: ReportMeta) -> str:
    d = meta.report_date
    return f"{d.year}年{d.month}月{d.day}日"


def _rows_table(rows: list[tuple[str, str]], styles: StyleIds) -> str:
    """The cover facts as a borderless table: right-aligned labels, underlined values."""
    label_w, value_w = int(Cm(3.6)) // EMU_PER_TWIP, int(Cm(8.4)) // EMU_PER_TWIP
    value_rpr = rpr(size_pt=14)
    label_rpr = f'<w:rPr>{_HEAD_FONTS}<w:sz w:val="28"/><w:szCs w:val="28"/></w:rPr>'
    para = (
        f'<w:pPr><w:pStyle w:val="{styles.table_text}"/><w:spacing w:before="100" w:after="100"/>'
    )
    out = [
        f'<w:tbl><w:tblPr><w:tblW w:w="{label_w + value_w}" w:type="dxa"/>'
        '<w:jc w:val="center"/><w:tblBorders><w:top w:val="nil"/><w:left w:val="nil"/>'
        '<w:bottom w:val="nil"/><w:right w:val="nil"/><w:insideH w:val="nil"/>'
        '<w:insideV w:val="nil"/></w:tblBorders><w:tblLayout w:type="fixed"/>'
        '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" '
        'w:lastColumn="0" w:noHBand="1" w:noVBand="1"/></w:tblPr>'
        f'<w:tblGrid><w:gridCol w:w="{label_w}"/><w:gridCol w:w="{value_w}"/></w:tblGrid>'
    ]
    for label, value in rows:
        out.append(
            f'<w:tr><w:trPr><w:cantSplit/></w:trPr><w:tc><w:tcPr><w:tcW w:w="{label_w}" '
            f'w:type="dxa"/><w:vAlign w:val="bottom"/></w:tcPr><w:p>{para}<w:jc w:val="right"/>'
            f"</w:pPr>{text_runs(label + '：', label_rpr)}</w:p></w:tc>"
            f'<w:tc><w:tcPr><w:tcW w:w="{value_w}" w:type="dxa"/><w:tcBorders>'
            '<w:bottom w:val="single" w:sz="6" w:space="0" w:color="000000"/></w:tcBorders>'
            f'<w:vAlign w:val="bottom"/></w:tcPr><w:p>{para}<w:jc w:val="center"/></w:pPr>'
            f"{text_runs(value, value_rpr)}</w:p></w:tc></w:tr>"
        )
    out.append("</w:tbl>")
    return "".join(out)


def add_cover(document: Document, meta: ReportMeta, styles: StyleIds) -> None:
    """Write the cover page and end its section (the body starts on a new page)."""
    words: dict[str, str] = labels()["cover"]
    mark_rpr = f'<w:rPr>{_HEAD_FONTS}<w:b/><w:bCs/><w:sz w:val="28"/><w:szCs w:val="28"/></w:rPr>'
    parts = [
        paragraph(text_runs(meta.confidentiality, mark_rpr), ppr(styles.table_text, jc="right"))
        if meta.confidentiality
        else paragraph("", ppr(styles.table_text))
    ]
    _append(document, parts)
    if meta.logo is not None and meta.logo.is_file():
        inline = document.part.new_pic_inline(str(meta.logo), None, LOGO_HEIGHT)
        spacing = '<w:spacing w:before="850" w:after="0"/>'
        logo = parse(paragraph("", ppr(styles.table_text, jc="center", spacing=spacing)))
        logo.add_r().add_drawing(inline)
        _append_element(document, logo)
        top_space = 1000
    else:
        top_space = 2600
    title_ppr = ppr(styles.title, spacing=f'<w:spacing w:before="{top_space}"/>')
    xml = [paragraph(text_runs(meta.title), title_ppr)]
    if meta.subtitle:
        xml.append(paragraph(text_runs(meta.subtitle), ppr(styles.subtitle)))
    xml.append(paragraph("", ppr(styles.table_text, spacing='<w:spacing w:before="1200"/>')))
    # Vendor and date stand at the foot of the cover; the table carries the other facts.
    bottom = {words["vendor"], words["report_date"]}
    xml.append(_rows_table([r for r in cover_rows(meta) if r[0] not in bottom], styles))
    frame = (
        f'<w:framePr w:w="{int(Cm(15)) // EMU_PER_TWIP}" w:wrap="around" w:hAnchor="margin" '
        'w:vAnchor="margin" w:xAlign="center" w:yAlign="bottom"/>'
    )
    vendor_rpr = f'<w:rPr>{_HEAD_FONTS}<w:b/><w:bCs/><w:sz w:val="32"/><w:szCs w:val="32"/></w:rPr>'
    xml.append(
        paragraph(
            text_runs(meta.vendor, vendor_rpr),
            ppr(styles.table_text, extra=frame, jc="center", spacing='<w:spacing w:after="120"/>'),
        )
    )
    xml.append(
        paragraph(
            text_runs(_date(meta), rpr(size_pt=15)),
            ppr(styles.table_text, extra=frame, jc="center"),
        )
    )
    _append(document, xml)
    _end_cover_section(document, styles)


def _end_cover_section(document: Document, styles: StyleIds) -> None:
    """Close the cover section in a small empty paragraph; the body section follows."""
    body_sect = document.element.body.find(f"{_W}sectPr")
    assert body_sect is not None  # python-docx documents always end with one
    for ref in body_sect.findall(f"{_W}headerReference") + body_sect.findall(
        f"{_W}footerReference"
    ):
        body_sect.remove(ref)
    for title_pg in body_sect.findall(f"{_W}titlePg"):
        body_sect.remove(title_pg)
    cover_sect = deepcopy(body_sect)
    for pg in cover_sect.findall(f"{_W}pgNumType"):
        cover_sect.remove(pg)
    breaker = parse(paragraph("", ppr(styles.table_text)))
    ppr_el = breaker.find(f"{_W}pPr")
    assert ppr_el is not None
    ppr_el.append(cover_sect)
    body_sect.addprevious(breaker)
    _start_numbering(body_sect)


def _start_numbering(sect: BaseOxmlElement) -> None:
    """Body pages count from 1 (``w:pgNumType`` sits after pgMar/paperSrc/pgBorders/lnNumType)."""
    for old in sect.findall(f"{_W}pgNumType"):
        sect.remove(old)
    numbering = parse('<w:pgNumType w:start="1"/>')
    anchor = None
    for tag in ("pgMar", "paperSrc", "pgBorders", "lnNumType", "pgSz"):
        anchor = sect.find(f"{_W}{tag}")
        if anchor is not None:
            break
    if anchor is not None:
        anchor.addnext(numbering)
    else:
        sect.insert(0, numbering)


def _page_of(rpr_: str) -> str:
    """ "第 {page} 页 共 {pages} 页" with the placeholders as PAGE and NUMPAGES fields."""
    out: list[str] = []
    for literal_text, name, _, _ in string.Formatter().parse(labels()["page_of"]):
        out.append(text_runs(literal_text, rpr_))
        if name == "page":
            out.append(field("PAGE", "1", rpr_))
        elif name == "pages":
            out.append(nested_formula("=", "NUMPAGES", f"- {COVER_PAGES}", "1", rpr_))
    return "".join(out)


def add_header_footer(document: Document, meta: ReportMeta, styles: StyleIds, width: int) -> None:
    """Body header (title, confidentiality mark, rule below) and footer (text, page X of Y)."""
    section = document.sections[-1]
    section.header.is_linked_to_previous = False
    section.footer.is_linked_to_previous = False

    def tabs(inherited: tuple[int, ...]) -> str:
        # Only our right-aligned stop: an inherited centre stop would catch the tab first.
        cleared = "".join(f'<w:tab w:val="clear" w:pos="{p}"/>' for p in inherited if p != width)
        return f'<w:tabs>{cleared}<w:tab w:val="right" w:pos="{width}"/></w:tabs>'

    rule = '<w:pBdr><w:bottom w:val="single" w:sz="6" w:space="1" w:color="000000"/></w:pBdr>'
    header = text_runs(meta.title)
    if meta.confidentiality:
        header += "<w:r><w:tab/></w:r>" + text_runs(meta.confidentiality)
    _fill(
        section.header._element,
        paragraph(header, ppr(styles.header, extra=rule + tabs(styles.header_tabs))),
    )
    if meta.footer:
        footer = text_runs(meta.footer) + "<w:r><w:tab/></w:r>" + _page_of("")
        footer_ppr = ppr(styles.footer, extra=tabs(styles.footer_tabs))
    else:
        footer, footer_ppr = _page_of(""), ppr(styles.footer, jc="center")
    _fill(section.footer._element, paragraph(footer, footer_ppr))


def _fill(story: BaseOxmlElement, xml: str) -> None:
    for child in list(story):
        story.remove(child)
    for element in parse_many([xml]):
        story.append(element)
