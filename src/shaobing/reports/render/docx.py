"""DOCX renderer: a report a consultant opens and edits in Word or WPS.

Cover page (own section, no page number), then the body with a running header and
"第 X 页 共 Y 页" footer; real ``Heading 1..3`` styles (navigation pane), a TOC field Word/WPS
refresh on open (``w:updateFields``), tables with repeating header rows and coloured level
cells, charts and screenshots as pictures with captions. No macros, no encryption.

Styles come from ``$SHAOBING_HOME/reports/reference.docx`` when the organisation has one.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from zipfile import BadZipFile

import docx
from docx.document import Document
from docx.image.exceptions import UnrecognizedImageError
from docx.image.image import Image as DocxImage
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.shape import CT_Inline
from docx.shared import Cm, Emu

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.reports.config import reference_docx
from shaobing.reports.labels import labels
from shaobing.reports.model import (
    Block,
    BulletList,
    Chart,
    Heading,
    Image,
    KeyValue,
    PageBreak,
    Paragraph,
    ReportDocument,
    Table,
    TableOfContents,
)
from shaobing.reports.render.docx_cover import add_cover, add_header_footer
from shaobing.reports.render.docx_styles import StyleIds, page_setup, setup, text_width_twips
from shaobing.reports.render.docx_tables import key_value_xml, table_xml
from shaobing.reports.render.docx_xml import (
    EMU_PER_TWIP,
    clean,
    esc,
    paragraph,
    parse,
    parse_many,
    ppr,
    rpr,
    span_runs,
    text_runs,
)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
TOC_INSTRUCTION = 'TOC \\o "1-3" \\h \\z \\u'
CHART_WIDTH = Cm(15)
MAX_PICTURE_HEIGHT = Cm(18)
# Settings elements that must follow w:updateFields (ECMA-376 CT_Settings order).
_AFTER_UPDATE_FIELDS = (
    "w:hdrShapeDefaults",
    "w:footnotePr",
    "w:endnotePr",
    "w:compat",
    "w:docVars",
    "w:rsids",
    "m:mathPr",
    "w:attachedSchema",
    "w:themeFontLang",
    "w:clrSchemeMapping",
    "w:doNotIncludeSubdocsInStats",
    "w:doNotAutoCompressPictures",
    "w:forceUpgrade",
    "w:captions",
    "w:readModeInkLockDown",
    "w:smartTagType",
    "sl:schemaLibrary",
    "w:shapeDefaults",
    "w:doNotEmbedSmartTags",
    "w:decimalSymbol",
    "w:listSeparator",
)


def render(doc: ReportDocument, path: Path) -> None:
    """Write ``doc`` as a DOCX file at ``path``."""
    document, house_style = _base_document()
    if house_style:
        page_setup(document)
    styles = setup(document, house_style=house_style)
    width = text_width_twips(document)
    add_cover(document, doc.meta, styles)
    add_header_footer(document, doc.meta, styles, width)
    _Body(document, styles, width).write(doc.blocks)
    _update_fields_on_open(document)
    _properties(document, doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))


def _base_document() -> tuple[Document, bool]:
    """The organisation's reference document emptied of content, or python-docx's template."""
    reference = reference_docx()
    if reference is None:
        return docx.Document(), True
    try:
        document = docx.Document(str(reference))
    except (PackageNotFoundError, BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValidationError(
            t("reports.bad_reference_docx", path=str(reference), error=str(exc))
        ) from exc
    document.element.body.clear_content()
    return document, False


class _Body:
    """Writes body blocks; keeps the figure counter and list numbering state."""

    def __init__(self, document: Document, styles: StyleIds, width: int) -> None:
        self.document = document
        self.styles = styles
        self.width = width
        self.figures = 0
        self.headings: list[Heading] = []
        body = document.element.body
        self._sect = body.find(f"{_W}sectPr")
        self._body = body
        self._shape_id = document.part.next_id

    def _append_xml(self, *elements: str) -> None:
        for element in parse_many(elements):
            self._append(element)

    def _append(self, element: object) -> None:
        if self._sect is not None:
            self._sect.addprevious(element)
        else:
            self._body.append(element)

    def write(self, blocks: list[Block]) -> None:
        """Write every block in order."""
        self.headings = [b for b in blocks if isinstance(b, Heading)]
        for i, block in enumerate(blocks):
            self._block(block)
            # The body starts on its own page after the table of contents, as in the PDF.
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            if isinstance(block, TableOfContents) and not isinstance(after, PageBreak | None):
                self._append_xml(paragraph('<w:r><w:br w:type="page"/></w:r>'))

    def _block(self, block: Block) -> None:
        s = self.styles
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 3)
            self._append_xml(paragraph(text_runs(block.text), ppr(s.heading[level - 1])))
        elif isinstance(block, Paragraph):
            style = {"body": s.body, "note": s.note, "center": s.center, "caption": s.caption}
            self._append_xml(paragraph(span_runs(block.spans), ppr(style[block.style])))
        elif isinstance(block, BulletList):
            self._list(block)
        elif isinstance(block, Table):
            self._caption(block.caption, above=True)
            if block.columns:
                self._append_xml(table_xml(block, s, self.width), self._after_table())
        elif isinstance(block, KeyValue):
            self._caption(block.caption, above=True)
            if block.pairs:
                self._append_xml(key_value_xml(block, s, self.width), self._after_table())
        elif isinstance(block, Chart):
            if block.png is not None:
                self._picture(io.BytesIO(block.png), min(CHART_WIDTH, self._width_emu()))
                self._figure_caption(block.spec.title)
        elif isinstance(block, Image):
            self._image(block)
        elif isinstance(block, PageBreak):
            self._append_xml(paragraph('<w:r><w:br w:type="page"/></w:r>'))
        elif isinstance(block, TableOfContents):
            self._toc()

    def _after_table(self) -> str:
        """A 6-point spacer paragraph: Word would merge two adjacent tables into one, and
        text right under a table's bottom border reads cramped."""
        spacing = '<w:spacing w:before="0" w:after="0" w:line="120" w:lineRule="exact"/>'
        return paragraph("", ppr(self.styles.table_text, spacing=spacing))

    def _width_emu(self) -> int:
        return self.width * EMU_PER_TWIP

    def _list(self, block: BulletList) -> None:
        s = self.styles
        style = s.number if block.ordered else s.bullet
        numpr, ind = "", ""
        if block.ordered and s.number_num_id is not None:
            # Each numbered list restarts at 1: a new w:num over the style's abstract list.
            numpr = self._restarted_num(s.number_num_id)
            ind = s.number_ind if numpr else ""
        self._append_xml(
            *(paragraph(span_runs(item), ppr(style, extra=numpr, ind=ind)) for item in block.items)
        )

    def _restarted_num(self, num_id: int) -> str:
        numbering = self.document.part.numbering_part.element
        try:
            base = numbering.num_having_numId(num_id)
        except KeyError:
            return ""
        num = numbering.add_num(base.abstractNumId.val)
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
        return f'<w:numPr><w:ilvl w:val="0"/><w:numId w:val="{num.numId}"/></w:numPr>'

    def _caption(self, text: str | None, *, above: bool) -> None:
        if text:
            pr = ppr(self.styles.caption, keep_next=above)
            self._append_xml(paragraph(text_runs(text), pr))

    def _figure_caption(self, text: str | None) -> None:
        """Captions below figures, numbered "图 N" unless the caption already is."""
        self.figures += 1
        if not text:
            return
        word = str(labels()["figure"])
        if not re.match(rf"^{re.escape(word)}\s*\d", text):
            text = f"{word} {self.figures} {text}"
        self._caption(text, above=False)

    def _picture(self, source: io.BytesIO | str, width: int, height: int | None = None) -> None:
        # python-docx's new_pic_inline finds a free shape id by scanning every id in the
        # document (seconds per picture after a large table), so ids are counted here.
        r_id, image = self.document.part.get_or_add_image(source)
        cx, cy = image.scaled_dimensions(Emu(width), Emu(height) if height else None)
        inline = CT_Inline.new_pic_inline(self._shape_id, r_id, image.filename, cx, cy)
        self._shape_id += 1
        p = parse(paragraph("", ppr(self.styles.center, keep_next=True)))
        p.add_r().add_drawing(inline)
        self._append(p)

    def _image(self, block: Image) -> None:
        try:
            info = DocxImage.from_file(str(block.path))
        except (OSError, UnrecognizedImageError) as exc:
            raise ValidationError(
                t("reports.image_unreadable", path=str(block.path), error=str(exc))
            ) from exc
        natural_w, natural_h = int(info.width), int(info.height)
        scale = min(1.0, self._width_emu() / natural_w, MAX_PICTURE_HEIGHT / natural_h)
        self._picture(str(block.path), int(natural_w * scale), int(natural_h * scale))
        self._figure_caption(block.caption)

    def _toc(self) -> None:
        """The TOC field, its cached result already listing the headings.

        Word and WPS refresh the field on opening (page numbers added); a reader that does
        not update fields (LibreOffice, a preview pane) still shows the chapters instead of
        an empty table of contents.
        """
        words = labels()
        s = self.styles
        self._append_xml(paragraph(text_runs(str(words["toc"])), ppr(s.toc_heading)))
        entries = [(h.level, h.text) for h in self.headings] or [(1, clean(str(words["toc_hint"])))]
        instr = f'<w:instrText xml:space="preserve"> {esc(TOC_INSTRUCTION)} </w:instrText>'
        begin = (
            '<w:r><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>'
            f"<w:r>{instr}</w:r>"
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        )
        end = '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        last = len(entries) - 1
        for i, (level, text) in enumerate(entries):
            # TOC levels indent by two characters each (organisation-defined layout).
            indent = f'<w:ind w:left="{(level - 1) * 420}"/>'
            runs = text_runs(clean(text), rpr(bold=level == 1))
            self._append_xml(
                paragraph(
                    (begin if i == 0 else "") + runs + (end if i == last else ""),
                    ppr(None, ind=indent),
                )
            )


def _update_fields_on_open(document: Document) -> None:
    """Ask Word/WPS to refresh fields (the TOC) when the file is opened."""
    settings = document.settings.element
    for old in settings.findall(f"{_W}updateFields"):
        settings.remove(old)
    settings.insert_element_before(parse('<w:updateFields w:val="true"/>'), *_AFTER_UPDATE_FIELDS)


def _properties(document: Document, doc: ReportDocument) -> None:
    meta = doc.meta
    props = document.core_properties
    now = datetime.now().replace(microsecond=0)
    props.title = clean(meta.title)
    props.author = clean(meta.vendor)
    props.subject = clean(meta.client)
    props.keywords = clean(meta.report_no)
    props.last_modified_by = clean(meta.author or meta.vendor)
    props.comments = ""
    props.language = "zh-CN"
    props.category = clean(meta.report_type)
    props.version = clean(meta.version)
    props.revision = 1
    props.created = now
    props.modified = now
