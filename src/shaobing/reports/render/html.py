"""The HTML renderer: one self-contained file (inline CSS, images as data: URIs).

The page is laid out by the packaged Jinja2 template ``templates/html/report.html.j2``
(autoescaping on: every value from the document is shown as text). This module only turns
the blocks into plain view data: anchors for headings, data URIs for pictures, level
classes for table cells.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from shaobing.reports.labels import cover_rows, labels
from shaobing.reports.model import (
    LEVEL_COLOURS,
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

TEMPLATE_DIR = ("templates", "html")
TEMPLATE = "report.html.j2"
# Control characters are not allowed in HTML text (and some break parsers); tabs and
# newlines are kept.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def clean(value: Any) -> Any:
    """Strip control characters from text on its way into the page.

    Markup (the template's own macro output) passes unchanged: it was built from values
    that went through here already, and turning it into ``str`` would escape it twice.
    """
    from markupsafe import Markup  # noqa: PLC0415

    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub("", value)
    return value


def level_class(word: str) -> str | None:
    """The CSS class of a level word's colour (``lv-C0392B``), None for other text."""
    colour = LEVEL_COLOURS.get(word.strip())
    return f"lv-{colour}" if colour else None


def data_uri(data: bytes) -> str | None:
    """``data`` as a data: URI when it is an image a browser shows, else None."""
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import UnidentifiedImageError  # noqa: PLC0415

    try:
        with PILImage.open(io.BytesIO(data)) as image:
            mime = _MIME.get(image.format or "")
    except (UnidentifiedImageError, OSError):
        return None
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@dataclass
class _View:
    """The blocks as the template reads them, plus the heading list for the TOC."""

    items: list[dict[str, Any]] = field(default_factory=list)
    headings: list[dict[str, Any]] = field(default_factory=list)


def _spans(spans: tuple[Span, ...]) -> list[dict[str, Any]]:
    return [{"text": s.text, "bold": s.bold, "br": s.br} for s in spans]


def _table(table: Table) -> dict[str, Any]:
    rows = []
    for row in table.rows:
        cells = []
        for index, column in enumerate(table.columns):
            value = row[index] if index < len(row) else ""
            level = level_class(value) if index == table.level_column else None
            cells.append({"text": value, "align": column.align, "level": level})
        rows.append(cells)
    total = sum(c.width if c.width > 0 else 1.0 for c in table.columns) or 1.0
    columns = [
        {
            "title": c.title,
            "align": c.align,
            "width": round(100 * (c.width if c.width > 0 else 1.0) / total, 2),
        }
        for c in table.columns
    ]
    empty = table.empty_text or str(labels()["empty_table"])
    return {
        "kind": "table",
        "caption": table.caption,
        "columns": columns,
        "rows": rows,
        "empty": empty,
    }


def _item(block: object, view: _View) -> dict[str, Any] | None:
    if isinstance(block, Heading):
        anchor = f"sec-{len(view.headings) + 1}"
        level = min(max(block.level, 1), 3)
        view.headings.append({"text": block.text, "level": level, "anchor": anchor})
        return {"kind": "heading", "level": level, "text": block.text, "anchor": anchor}
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "style": block.style, "spans": _spans(block.spans)}
    if isinstance(block, BulletList):
        items = [_spans(item) for item in block.items]
        return {"kind": "list", "ordered": block.ordered, "entries": items}
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, KeyValue):
        return {"kind": "kv", "caption": block.caption, "pairs": list(block.pairs)}
    if isinstance(block, Chart):
        uri = data_uri(block.png) if block.png is not None else None
        return (
            {"kind": "figure", "src": uri, "alt": block.spec.title, "caption": None}
            if uri
            else None
        )
    if isinstance(block, Image):
        try:
            uri = data_uri(Path(block.path).read_bytes())
        except OSError:
            uri = None
        alt = block.caption or block.path.name
        return {"kind": "figure", "src": uri, "alt": alt, "caption": block.caption} if uri else None
    if isinstance(block, PageBreak):
        return {"kind": "pagebreak"}
    if isinstance(block, TableOfContents):
        return {"kind": "toc"}
    return None


def view(doc: ReportDocument) -> _View:
    """The template data of the document's blocks."""
    result = _View()
    for block in doc.blocks:
        item = _item(block, result)
        if item is None:
            continue
        previous = result.items[-1]["kind"] if result.items else "toc"
        if item["kind"] == "pagebreak" and previous in ("toc", "pagebreak"):
            continue  # the TOC already ends its page; two breaks would print a blank page
        result.items.append(item)
    return result


def _load(name: str) -> str:
    folder = resources.files("shaobing.reports").joinpath(*TEMPLATE_DIR)
    return folder.joinpath(name).read_text("utf-8")


@cache
def _environment() -> Any:
    from jinja2 import Environment, FunctionLoader, StrictUndefined  # noqa: PLC0415

    return Environment(
        loader=FunctionLoader(_load),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=clean,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(doc: ReportDocument) -> str:
    """The report as one HTML page (a string)."""
    meta = doc.meta
    words = labels()
    cover = words["cover"]
    bottom = (cover["vendor"], cover["report_date"])
    logo = None
    if meta.logo is not None and meta.logo.is_file():
        logo = data_uri(meta.logo.read_bytes())
    date = f"{meta.report_date.year}年{meta.report_date.month}月{meta.report_date.day}日"
    data = view(doc)
    template = _environment().get_template(TEMPLATE)
    return str(
        template.render(
            meta=meta,
            logo=logo,
            date=date,
            cover_rows=[(k, v) for k, v in cover_rows(meta) if k not in bottom],
            labels=words,
            items=data.items,
            headings=data.headings,
            level_colours=sorted(set(LEVEL_COLOURS.values())),
        )
    )


def render(doc: ReportDocument, path: Path) -> None:
    """Write ``doc`` as a self-contained HTML file to ``path``."""
    Path(path).write_text(render_html(doc), encoding="utf-8")
