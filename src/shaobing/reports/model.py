"""The document model every report builder produces and every renderer consumes.

A report is a flat list of blocks (headings, paragraphs, tables, charts, images, page breaks)
with the cover data in :class:`ReportMeta`. Builders never format for one output; renderers
(DOCX, PDF, HTML, XLSX) never query the database. Inline text is plain, with ``**bold**``
spans already split into :class:`Span` runs by the markup parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

# Severity/level words whose table cells renderers colour (the same words the findings and
# risk modules print). Colours are organisation-defined, chosen to stay legible in print.
LEVEL_COLOURS: dict[str, str] = {
    "严重": "8B0000",
    "很高": "8B0000",
    "高危": "C0392B",
    "高": "C0392B",
    "中危": "D68910",
    "中等": "D68910",
    "中": "D68910",
    "低危": "2874A6",
    "低": "2874A6",
    "很低": "5D6D7E",
    "信息": "5D6D7E",
    "不符合": "C0392B",
    "部分符合": "D68910",
    "符合": "1E8449",
    "通过": "1E8449",
    "未通过": "C0392B",
}


@dataclass(frozen=True)
class Span:
    """A run of text inside a paragraph; ``bold`` from ``**…**``; ``br`` ends a line."""

    text: str
    bold: bool = False
    br: bool = False


@dataclass(frozen=True)
class Heading:
    """A numbered-by-text heading; level 1–3 map to the Heading 1–3 styles."""

    level: int
    text: str


ParagraphStyle = Literal["body", "note", "center", "caption"]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of spans."""

    spans: tuple[Span, ...]
    style: ParagraphStyle = "body"

    @property
    def text(self) -> str:
        """The paragraph's plain text (line breaks as newlines)."""
        return "".join(s.text + ("\n" if s.br else "") for s in self.spans)


@dataclass(frozen=True)
class BulletList:
    """A bulleted (or numbered) list; each item is a tuple of spans."""

    items: tuple[tuple[Span, ...], ...]
    ordered: bool = False


@dataclass(frozen=True)
class Column:
    """A table column: header text, relative width, alignment."""

    title: str
    width: float = 1.0
    align: Literal["left", "center", "right"] = "left"


@dataclass
class Table:
    """A data table with a repeating header row.

    ``level_column`` names the column whose cells are severity/level words to colour;
    ``sheet`` is the worksheet name when the table is also an XLSX annex.
    """

    columns: list[Column]
    rows: list[list[str]]
    caption: str | None = None
    level_column: int | None = None
    sheet: str | None = None
    empty_text: str = "（无）"


@dataclass(frozen=True)
class KeyValue:
    """A two-column table of labels and values (project facts, a finding's details)."""

    pairs: tuple[tuple[str, str], ...]
    caption: str | None = None


ChartKind = Literal["bar", "barh", "pie", "line", "stacked", "heatmap"]


@dataclass
class ChartSpec:
    """What to draw; the chart module renders it to PNG with a CJK font.

    ``series`` maps a legend label to values aligned with ``labels``. For ``heatmap``,
    ``labels`` are the x categories, ``y_labels`` the rows and ``matrix[y][x]`` the counts.
    """

    kind: ChartKind
    title: str
    labels: list[str]
    series: dict[str, list[float]] = field(default_factory=dict)
    y_labels: list[str] = field(default_factory=list)
    matrix: list[list[float]] = field(default_factory=list)
    x_title: str | None = None
    y_title: str | None = None
    colours: list[str] | None = None


@dataclass
class Chart:
    """A chart block: the spec, and its PNG once rendered (filled by the service)."""

    spec: ChartSpec
    png: bytes | None = None


@dataclass(frozen=True)
class Image:
    """An image (a screenshot, an attachment) with a caption."""

    path: Path
    caption: str | None = None


@dataclass(frozen=True)
class PageBreak:
    """Start a new page."""


@dataclass(frozen=True)
class TableOfContents:
    """The table of contents (a TOC field in DOCX, a linked list in HTML/PDF)."""


Block = (
    Heading
    | Paragraph
    | BulletList
    | Table
    | KeyValue
    | Chart
    | Image
    | PageBreak
    | TableOfContents
)


@dataclass
class ReportMeta:
    """The cover and running header data of one report."""

    report_type: str
    title: str
    client: str
    engagement: str
    engagement_code: str
    report_no: str
    report_date: date
    vendor: str
    confidentiality: str
    period: str | None = None
    subtitle: str | None = None
    logo: Path | None = None
    author: str | None = None
    reviewer: str | None = None
    version: str = "V1.0"
    footer: str | None = None


@dataclass
class ReportDocument:
    """A whole report: cover data, the body blocks, and the annex tables for XLSX."""

    meta: ReportMeta
    blocks: list[Block]
    annexes: list[Table] = field(default_factory=list)

    def headings(self) -> list[Heading]:
        """The headings in order (the table of contents)."""
        return [b for b in self.blocks if isinstance(b, Heading)]
