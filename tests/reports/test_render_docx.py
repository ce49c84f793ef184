"""The DOCX renderer: real files written and opened back with python-docx and as zip/XML."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import docx
import pytest
from docx.document import Document
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph as DocxParagraph

from shaobing.core.errors import ValidationError
from shaobing.core.settings import reset_settings
from shaobing.reports.labels import labels
from shaobing.reports.model import (
    LEVEL_COLOURS,
    Block,
    BulletList,
    Chart,
    ChartSpec,
    Column,
    Heading,
    Image,
    KeyValue,
    PageBreak,
    Paragraph,
    ReportDocument,
    ReportMeta,
    Span,
    Table,
)
from shaobing.reports.render import renderer
from shaobing.reports.render.docx import TOC_INSTRUCTION, render
from tests.reports.sample import findings_table, png_bytes, sample_document

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts" / "reports"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SHAOBING_HOME, so no real reference.docx of the machine is used."""
    path = tmp_path / "home"
    monkeypatch.setenv("SHAOBING_HOME", str(path))
    reset_settings()
    yield path
    reset_settings()


def _keep(path: Path, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ARTEFACTS / name)


def _part(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


def _cover_text(document: Document) -> str:
    """All text of the body before the first section break (the cover page)."""
    texts: list[str] = []
    for element in document.element.body.iterchildren():
        texts.extend(t.text or "" for t in element.iter(qn("w:t")))
        if element.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
            return "\n".join(texts)
    raise AssertionError("no section break after the cover")


def _style(paragraph: DocxParagraph) -> str:
    return paragraph.style.name if paragraph.style is not None else ""


def _row_texts(table: object) -> list[str]:
    return [cell.text for cell in table.rows[0].cells]  # type: ignore[attr-defined]


@pytest.fixture
def sample(tmp_path: Path) -> tuple[ReportDocument, Path]:
    doc = sample_document(tmp_path)
    out = tmp_path / "sample.docx"
    render(doc, out)
    _keep(out, "sample.docx")
    return doc, out


def test_headings_use_real_heading_styles_in_order(sample: tuple[ReportDocument, Path]) -> None:
    doc, out = sample
    document = docx.Document(str(out))
    found = [(_style(p), p.text) for p in document.paragraphs if _style(p).startswith("Heading")]
    assert found == [(f"Heading {h.level}", h.text) for h in doc.headings()]
    heading_1 = document.styles["Heading 1"].element
    fonts = heading_1.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
    assert fonts is not None and fonts.get(qn("w:eastAsia")) == "黑体"


def test_house_style_fonts_sizes_and_page(sample: tuple[ReportDocument, Path]) -> None:
    _, out = sample
    document = docx.Document(str(out))
    styles = _part(out, "word/styles.xml")
    defaults = styles[styles.index("<w:docDefaults") : styles.index("</w:docDefaults>")]
    assert 'w:eastAsia="宋体"' in defaults and 'w:eastAsia="zh-CN"' in defaults
    body = document.styles["Body Text"]
    assert body.paragraph_format.line_spacing == 1.5
    ind = body.element.find(f"{qn('w:pPr')}/{qn('w:ind')}")
    assert ind is not None and ind.get(qn("w:firstLineChars")) == "200"
    section = document.sections[-1]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    body_paragraphs = [p for p in document.paragraphs if p.text.startswith("本次扫描共发现")]
    assert [_style(p) for p in body_paragraphs] == ["Body Text"]
    assert [r.bold for r in body_paragraphs[0].runs] == [None, True, None, True, None]
    note = [p for p in document.paragraphs if p.text.startswith("注：")]
    assert _style(note[0]) == "Note"
    bullets = [_style(p) for p in document.paragraphs if p.text in {"主机：127.0.0.1", "第一步"}]
    assert bullets == ["List Bullet", "List Number"]


def test_toc_field_and_update_on_open(sample: tuple[ReportDocument, Path]) -> None:
    _, out = sample
    xml = _part(out, "word/document.xml")
    assert f'<w:instrText xml:space="preserve"> {TOC_INSTRUCTION} </w:instrText>' in xml
    document = docx.Document(str(out))
    texts = [p.text for p in document.paragraphs]
    toc_at = texts.index(labels()["toc"])
    assert _style(document.paragraphs[toc_at]) == "TOC Heading"
    # The field's cached result already lists every heading, in order, before Word updates it.
    doc, _ = sample
    headings = [h.text for h in doc.headings()]
    assert texts[toc_at + 1 : toc_at + 1 + len(headings)] == headings
    assert '<w:updateFields w:val="true"/>' in _part(out, "word/settings.xml")


def test_tables_repeat_header_and_colour_levels(sample: tuple[ReportDocument, Path]) -> None:
    _, out = sample
    document = docx.Document(str(out))
    findings = findings_table(60)
    data = [t for t in document.tables if _row_texts(t) == [c.title for c in findings.columns]]
    assert len(data) == 1
    table = data[0]
    assert len(table.rows) == 61
    first_tr = table.rows[0]._tr
    assert first_tr.find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None
    assert all(r._tr.find(f"{qn('w:trPr')}/{qn('w:cantSplit')}") is not None for r in table.rows)
    header_fill = table.rows[0].cells[0]._tc.find(f"{qn('w:tcPr')}/{qn('w:shd')}")
    assert header_fill is not None and header_fill.get(qn("w:fill")) == "D9E2F3"
    for row, source in zip(table.rows[1:], findings.rows, strict=True):
        cells = row.cells
        assert [c.text for c in cells] == source
        shd = cells[3]._tc.find(f"{qn('w:tcPr')}/{qn('w:shd')}")
        assert shd is not None and shd.get(qn("w:fill")) == LEVEL_COLOURS[source[3]]
        assert cells[1]._tc.find(f"{qn('w:tcPr')}/{qn('w:shd')}") is None
    # Column widths follow Column.width: 漏洞名称 (3.5) against 序号 (0.6).
    grid = [int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.iter(qn("w:gridCol"))]
    assert grid[4] / grid[0] == pytest.approx(3.5 / 0.6, rel=0.01)
    # Every data table's first row repeats; the empty table shows its empty text.
    empty = next(t for t in document.tables if _row_texts(t) == ["空表"])
    assert empty.rows[0]._tr.find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None
    assert [c.text for c in empty.rows[1].cells] == ["（无）"]
    # The caption stands right above its table.
    previous = table._tbl.getprevious()
    assert "".join(t.text for t in previous.iter(qn("w:t"))) == "表 1 漏洞清单"


def test_key_value_table_shades_labels(sample: tuple[ReportDocument, Path]) -> None:
    doc, out = sample
    kv = next(b for b in doc.blocks if isinstance(b, KeyValue))
    document = docx.Document(str(out))
    table = next(t for t in document.tables if t.rows[0].cells[0].text == kv.pairs[0][0])
    assert [(r.cells[0].text, r.cells[1].text) for r in table.rows] == list(kv.pairs)
    for row in table.rows:
        shd = row.cells[0]._tc.find(f"{qn('w:tcPr')}/{qn('w:shd')}")
        assert shd is not None and shd.get(qn("w:fill")) == "F2F2F2"


def test_cover_header_footer_and_page_numbers(sample: tuple[ReportDocument, Path]) -> None:
    doc, out = sample
    document = docx.Document(str(out))
    cover = _cover_text(document)
    meta = doc.meta
    for value in (meta.client, meta.engagement, meta.report_no, meta.confidentiality):
        assert value in cover
    assert "2026年10月31日" in cover and meta.title in cover and meta.vendor in cover
    assert "一、项目概述" not in cover
    cover_section, body_section = document.sections
    assert cover_section.header.is_linked_to_previous  # no header/footer of its own
    assert cover_section.footer.is_linked_to_previous
    header = "".join(t.text for t in body_section.header._element.iter(qn("w:t")))
    assert meta.title in header and meta.confidentiality in header
    footer_xml = body_section.footer._element.xml
    instructions = re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", footer_xml)
    assert [i.strip() for i in instructions] == ["PAGE", "=", "NUMPAGES", "- 1"]
    footer_text = "".join(t.text for t in body_section.footer._element.iter(qn("w:t")))
    assert footer_text.startswith(meta.footer or "") and "第 " in footer_text
    start = body_section._sectPr.find(qn("w:pgNumType"))
    assert start is not None and start.get(qn("w:start")) == "1"
    assert cover_section._sectPr.find(qn("w:pgNumType")) is None


def test_pictures_captions_properties_and_plain_zip(sample: tuple[ReportDocument, Path]) -> None:
    doc, out = sample
    document = docx.Document(str(out))
    assert len(document.inline_shapes) == 2  # the chart and the screenshot
    chart_shape = document.inline_shapes[0]
    assert chart_shape.width.cm == pytest.approx(15.0, abs=0.01)
    captions = [p.text for p in document.paragraphs if _style(p) == "Caption"]
    assert "图 1 漏洞等级分布" in captions and "图 1 登录页面截图" in captions
    props = document.core_properties
    assert (props.title, props.author, props.subject) == (
        doc.meta.title,
        doc.meta.vendor,
        doc.meta.client,
    )
    assert out.read_bytes()[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
        assert all(not info.flag_bits & 0x1 for info in archive.infolist())  # not encrypted
    assert len([n for n in names if n.startswith("word/media/")]) == 2
    shape_ids = re.findall(r'<wp:docPr id="(\d+)"', _part(out, "word/document.xml"))
    assert len(shape_ids) == 2 and len(set(shape_ids)) == 2
    assert not [n for n in names if "vba" in n.lower() or n == "EncryptedPackage"]


@pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="needs LibreOffice and poppler-utils",
)
def test_layout_as_laid_out_by_libreoffice(
    sample: tuple[ReportDocument, Path], tmp_path: Path
) -> None:
    """The cover is one page without page number; the body counts from 1 (page images kept)."""
    doc, out = sample
    profile = (tmp_path / "lo-profile").as_uri()
    convert = ["soffice", f"-env:UserInstallation={profile}", "--headless"]
    subprocess.run(
        [*convert, "--convert-to", "pdf", "--outdir", str(tmp_path), str(out)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "sample.pdf"

    def page(number: int) -> str:
        args = ["pdftotext", "-enc", "UTF-8", "-f", str(number), "-l", str(number), str(pdf), "-"]
        text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        return re.sub(r"\s+", "", text)

    cover, toc, body = page(1), page(2), page(3)
    assert doc.meta.title in cover and doc.meta.client in cover and doc.meta.vendor in cover
    assert "页" not in cover.replace(doc.meta.title, "")
    assert toc.startswith(doc.meta.title + doc.meta.confidentiality.replace(" ", ""))
    assert labels()["toc"] in toc and "第1页" in toc
    assert "一、项目概述" in body and "第2页" in body
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    images = ARTEFACTS / "sample-docx"
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "4", str(pdf), str(images)],
        check=True,
        timeout=120,
    )


def test_renderer_registry_finds_docx() -> None:
    assert renderer("docx") is render


def test_reference_docx_styles_win(home: Path, tmp_path: Path) -> None:
    reference = docx.Document()
    heading = reference.styles["Heading 1"]
    heading.font.color.rgb = RGBColor(0x12, 0x34, 0x56)
    heading.font.size = Pt(20)
    heading.style_id = "1"  # as a Chinese Word names it; paragraphs must follow the id
    reference.add_paragraph("参考文档中的旧内容")
    (home / "reports").mkdir(parents=True)
    reference.save(str(home / "reports" / "reference.docx"))
    out = tmp_path / "ref.docx"
    doc = sample_document(tmp_path)
    render(doc, out)
    _keep(out, "sample-reference.docx")
    document = docx.Document(str(out))
    style = document.styles["Heading 1"]
    assert style.font.color.rgb == RGBColor(0x12, 0x34, 0x56)
    assert style.font.size == Pt(20)
    headings = [p.text for p in document.paragraphs if _style(p) == "Heading 1"]
    assert headings == [h.text for h in doc.headings() if h.level == 1]
    assert "参考文档中的旧内容" not in "\n".join(p.text for p in document.paragraphs)
    # Styles the reference lacks are added, so tables still use the table text style.
    assert document.styles["Table Text"] is not None


def _meta(**changes: object) -> ReportMeta:
    values: dict[str, object] = {
        "report_type": "vuln_scan",
        "title": "测试报告",
        "client": "客户",
        "engagement": "项目",
        "engagement_code": "P-1",
        "report_no": "R-1",
        "report_date": date(2026, 10, 31),
        "vendor": "编制单位",
        "confidentiality": "内部资料",
    }
    values.update(changes)
    return ReportMeta(**values)  # type: ignore[arg-type]


def test_xml_special_and_control_characters_do_not_break_the_file(tmp_path: Path) -> None:
    hostile = "<script>&\x07\x00\x1b]0;</script>\ufffe"
    doc = ReportDocument(
        meta=_meta(title=hostile, client='"甲"&<乙>', footer=None),
        blocks=[
            Heading(1, "标题" + hostile),
            Paragraph((Span(hostile, bold=True), Span("行一\n行二\t列")), style="center"),
            Table([Column("名称\x0b")], [[hostile], ["=1+1"]], caption=hostile),
            KeyValue(((hostile, hostile),)),
            BulletList(((Span(hostile),),)),
            Chart(ChartSpec(kind="bar", title="无图", labels=["a"]), png=None),
        ],
    )
    out = tmp_path / "hostile.docx"
    render(doc, out)
    document = docx.Document(str(out))
    clean = "<script>&]0;</script>"
    assert document.paragraphs and document.core_properties.title == clean
    texts = [p.text for p in document.paragraphs]
    assert "标题" + clean in texts
    assert document.tables[-2].rows[1].cells[0].text == clean
    assert '"甲"&<乙>' in _cover_text(document)
    assert len(document.inline_shapes) == 0  # a chart without PNG is left out
    header = "".join(t.text for t in document.sections[-1].header._element.iter(qn("w:t")))
    assert header.startswith(clean)
    # No footer text: the page numbers are centred on their own.
    footer = document.sections[-1].footer.paragraphs[0]
    assert footer.alignment is not None and footer.alignment == 1
    xml = _part(out, "word/document.xml")
    assert "<w:br/>" in xml and "<w:tab/>" in xml and "\x07" not in xml


def test_each_numbered_list_restarts(tmp_path: Path) -> None:
    items = ((Span("一"),), (Span("二"),))
    doc = ReportDocument(
        meta=_meta(),
        blocks=[
            BulletList(items, ordered=True),
            Paragraph((Span("中间"),)),
            BulletList(items, True),
        ],
    )
    out = tmp_path / "lists.docx"
    render(doc, out)
    document = docx.Document(str(out))
    numbered = [p for p in document.paragraphs if _style(p) == "List Number"]
    ids = [int(p._p.xpath("./w:pPr/w:numPr/w:numId/@w:val")[0]) for p in numbered]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    numbering = document.part.numbering_part.element
    for num_id in {ids[0], ids[2]}:
        num = numbering.num_having_numId(num_id)
        start = num.find(f"{qn('w:lvlOverride')}/{qn('w:startOverride')}")
        assert start is not None and start.get(qn("w:val")) == "1"


def test_ten_thousand_rows_render_quickly_and_reopen(tmp_path: Path) -> None:
    doc = sample_document(tmp_path, rows=10_000)
    out = tmp_path / "large.docx"
    started = time.perf_counter()
    render(doc, out)
    elapsed = time.perf_counter() - started
    print(f"DOCX with a 10,000 x 5 table: {elapsed:.2f} s, {out.stat().st_size / 1e6:.1f} MB")
    document = docx.Document(str(out))
    titles = [c.title for c in findings_table(1).columns]
    table = next(t for t in document.tables if _row_texts(t) == titles)
    assert len(table.rows) == 10_001
    assert [c.text for c in table.rows[-1].cells] == findings_table(10_000).rows[-1]


def test_unreadable_image_or_reference_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    missing = ReportDocument(meta=_meta(), blocks=[Image(tmp_path / "无此文件.png", "图 1 缺失")])
    with pytest.raises(ValidationError):
        render(missing, tmp_path / "missing.docx")
    not_image = tmp_path / "伪装.png"
    not_image.write_text("not a picture", encoding="utf-8")
    with pytest.raises(ValidationError):
        render(ReportDocument(meta=_meta(), blocks=[Image(not_image)]), tmp_path / "bad.docx")
    (home / "reports").mkdir(parents=True)
    (home / "reports" / "reference.docx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValidationError):
        render(ReportDocument(meta=_meta(), blocks=[]), tmp_path / "ref.docx")


def test_logo_on_cover(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(png_bytes(400, 120, "#1E8449"))
    doc = ReportDocument(meta=_meta(logo=logo), blocks=[Heading(1, "正文")])
    out = tmp_path / "logo.docx"
    render(doc, out)
    document = docx.Document(str(out))
    assert len(document.inline_shapes) == 1
    assert document.inline_shapes[0].height.cm == pytest.approx(2.2, abs=0.01)
    first_section = next(
        i
        for i, el in enumerate(document.element.body.iterchildren())
        if el.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None
    )
    drawings = [
        i
        for i, el in enumerate(document.element.body.iterchildren())
        if el.find(f".//{qn('w:drawing')}") is not None
    ]
    assert drawings and drawings[0] < first_section


@pytest.mark.parametrize("explicit_break", [False, True])
def test_body_starts_on_a_new_page_after_the_toc(tmp_path: Path, explicit_break: bool) -> None:
    doc = sample_document(tmp_path)
    blocks: list[Block] = [b for b in doc.blocks if not isinstance(b, PageBreak)]
    if explicit_break:
        blocks.insert(1, PageBreak())
    doc.blocks = blocks
    out = tmp_path / "toc.docx"
    render(doc, out)
    xml = _part(out, "word/document.xml")
    toc_end = xml.index('w:fldCharType="end"', xml.index("TOC \\o"))
    first_heading = xml.index(doc.headings()[0].text, toc_end)
    # Exactly one page break between the TOC and the first chapter, whether or not the
    # template asked for one.
    assert xml[toc_end:first_heading].count('<w:br w:type="page"/>') == 1
