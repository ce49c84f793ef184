"""WordprocessingML snippets as strings: runs, paragraphs, fields.

Report bodies can hold tens of thousands of table cells, so the DOCX renderer writes XML text
and parses it once per block instead of going through python-docx's object API per run.
Every piece of data passes through :func:`esc`, which also drops the characters XML 1.0 cannot
carry (a stray ``\\x07`` in a scanner's output must not make the file unreadable).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.oxml.xmlchemy import BaseOxmlElement

from shaobing.reports.model import Span

W_NS = nsdecls("w")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})

TWIPS_PER_CM = 1440 / 2.54
EMU_PER_TWIP = 635


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (and DEL, which no report needs)."""
    return _NOT_XML.sub("", text)


def esc(text: str) -> str:
    """``text`` cleaned and escaped for an XML text node or attribute value."""
    return clean(text).translate(_ESCAPES)


def _t(text: str) -> str:
    # xml:space only where spaces would otherwise collapse: every attribute costs time when
    # lxml moves a 50,000-cell table into the document.
    if text[0] == " " or text[-1] == " " or "  " in text:
        return f'<w:t xml:space="preserve">{esc(text)}</w:t>'
    return f"<w:t>{esc(text)}</w:t>"


def text_runs(text: str, rpr: str = "") -> str:
    """Runs for ``text``; newlines become ``w:br`` and tabs ``w:tab`` (Word ignores raw ones)."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" not in text and "\t" not in text:
        return f"<w:r>{rpr}{_t(text)}</w:r>"
    parts: list[str] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            parts.append("<w:br/>")
        for j, chunk in enumerate(line.split("\t")):
            if j:
                parts.append("<w:tab/>")
            if chunk:
                parts.append(_t(chunk))
    return f"<w:r>{rpr}{''.join(parts)}</w:r>"


def rpr(*, bold: bool = False, colour: str | None = None, size_pt: float | None = None) -> str:
    """A run-properties element (children in schema order: b, color, sz)."""
    inner = ""
    if bold:
        inner += "<w:b/><w:bCs/>"
    if colour:
        inner += f'<w:color w:val="{colour}"/>'
    if size_pt:
        half = round(size_pt * 2)
        inner += f'<w:sz w:val="{half}"/><w:szCs w:val="{half}"/>'
    return f"<w:rPr>{inner}</w:rPr>" if inner else ""


def span_runs(spans: Iterable[Span], base_rpr: str = "") -> str:
    """Runs for a paragraph's spans: bold spans bold, ``br`` spans followed by a line break."""
    bold_rpr = base_rpr.replace("<w:rPr>", "<w:rPr><w:b/><w:bCs/>") if base_rpr else rpr(bold=True)
    out: list[str] = []
    for span in spans:
        out.append(text_runs(span.text, bold_rpr if span.bold else base_rpr))
        if span.br:
            out.append("<w:r><w:br/></w:r>")
    return "".join(out)


def ppr(
    style_id: str | None,
    *,
    keep_next: bool = False,
    jc: str | None = None,
    extra: str = "",
    spacing: str = "",
    ind: str = "",
) -> str:
    """Paragraph properties in schema order (pStyle, keepNext, …, spacing, ind, jc)."""
    inner = f'<w:pStyle w:val="{style_id}"/>' if style_id else ""
    if keep_next:
        inner += "<w:keepNext/>"
    inner += extra + spacing + ind
    if jc:
        inner += f'<w:jc w:val="{jc}"/>'
    return f"<w:pPr>{inner}</w:pPr>" if inner else ""


def paragraph(content: str, pr: str = "") -> str:
    """A ``w:p`` with properties and runs."""
    return f"<w:p>{pr}{content}</w:p>"


def field(instruction: str, result: str, result_rpr: str = "", *, dirty: bool = False) -> str:
    """A complex field (begin, instruction, separate, cached result, end) as runs."""
    flag = ' w:dirty="true"' if dirty else ""
    instr = f'<w:instrText xml:space="preserve"> {esc(instruction)} </w:instrText>'
    return (
        f'<w:r>{result_rpr}<w:fldChar w:fldCharType="begin"{flag}/></w:r>'
        f"<w:r>{result_rpr}{instr}</w:r>"
        f'<w:r>{result_rpr}<w:fldChar w:fldCharType="separate"/></w:r>'
        f"{text_runs(result, result_rpr)}"
        f'<w:r>{result_rpr}<w:fldChar w:fldCharType="end"/></w:r>'
    )


def nested_formula(
    outer_head: str, inner: str, outer_tail: str, inner_result: str, rpr_: str
) -> str:
    """A formula field holding another field, e.g. ``{ = { NUMPAGES } - 1 }``.

    The formula's own cached result is left empty: Word and WPS compute it when laying out
    pages, and a reader that cannot evaluate formulas (LibreOffice) then shows only the inner
    field's value instead of both values run together.
    """
    return (
        f'<w:r>{rpr_}<w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r>{rpr_}<w:instrText xml:space="preserve"> {outer_head} </w:instrText></w:r>'
        f"{field(inner, inner_result, rpr_)}"
        f'<w:r>{rpr_}<w:instrText xml:space="preserve"> {outer_tail} </w:instrText></w:r>'
        f'<w:r>{rpr_}<w:fldChar w:fldCharType="separate"/></w:r>'
        f'<w:r>{rpr_}<w:fldChar w:fldCharType="end"/></w:r>'
    )


def parse(xml: str) -> BaseOxmlElement:
    """Parse one element written with the ``w:`` prefix (the namespace is declared here)."""
    head, sep, rest = xml.partition(">")
    if head.endswith("/"):
        head, sep = head[:-1], "/>"
    element: BaseOxmlElement = parse_xml(f"{head} {W_NS}{sep}{rest}")
    return element


def parse_many(elements: Iterable[str]) -> list[BaseOxmlElement]:
    """Parse each element string on its own.

    Each is parsed with the namespace declared on itself: lxml moves such a tree into the
    document in linear time, while moving children of a wrapper that declares the namespace
    is quadratic (a 2,000-row table took 20 s).
    """
    return [parse(xml) for xml in elements]
