"""The PDF renderer, checked with poppler: text, TOC page numbers, fonts, page images."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage

from shaobing.reports.model import (
    Chart,
    ChartSpec,
    Column,
    Heading,
    Image,
    Paragraph,
    ReportDocument,
    Span,
    Table,
    TableOfContents,
)
from shaobing.reports.render import renderer
from shaobing.reports.render.pdf import _heading, render
from shaobing.reports.render.pdf_doc import ReportPDF
from tests.reports.sample import findings_table, png_bytes, sample_document

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts" / "reports"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _text(pdf: Path, page: int | None = None, *, layout: bool = False) -> str:
    args = ["pdftotext", "-enc", "UTF-8"]
    if layout:
        args.append("-layout")
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return _run(*args, str(pdf), "-")


def _squash(text: str) -> str:
    """Text without whitespace (pdftotext drops or adds spaces around CJK characters)."""
    return re.sub(r"\s+", "", text)


def _pages(pdf: Path) -> int:
    match = re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M)
    assert match
    return int(match.group(1))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportDocument, Path]:
    folder = tmp_path_factory.mktemp("pdf")
    doc = sample_document(folder)
    out = folder / "sample.pdf"
    render(doc, out)
    return doc, out


def test_the_renderer_is_found_by_format() -> None:
    assert renderer("pdf") is render


def test_headings_cover_and_table_values_are_in_the_text(
    sample: tuple[ReportDocument, Path],
) -> None:
    doc, pdf = sample
    text = _squash(_text(pdf))
    meta = doc.meta
    for value in (meta.title, meta.client, meta.report_no, meta.engagement, meta.confidentiality):
        assert _squash(value) in text, value
    for heading in doc.headings():
        assert _squash(heading.text) in text, heading.text
    table = next(b for b in doc.blocks if isinstance(b, Table) and b.rows)
    for row in table.rows:
        assert _squash(row[4]) in text
    assert "表1漏洞清单" in text
    assert "（无）" in text  # the empty table says so


def test_cover_has_no_running_header_and_body_pages_are_numbered(
    sample: tuple[ReportDocument, Path],
) -> None:
    doc, pdf = sample
    total = _pages(pdf)
    cover = _squash(_text(pdf, 1))
    assert "第1页" not in cover
    assert _squash(doc.meta.footer or "") not in cover
    for page in range(2, total + 1):
        text = _squash(_text(pdf, page))
        assert f"第{page}页共{total}页" in text
        assert _squash(doc.meta.footer or "") in text


def test_toc_page_numbers_point_at_the_headings(sample: tuple[ReportDocument, Path]) -> None:
    doc, pdf = sample
    toc = _text(pdf, 2, layout=True)
    assert "目录" in toc
    checked = 0
    for heading in doc.headings():
        line = next(ln for ln in toc.splitlines() if heading.text in ln)
        number = int(line.split()[-1])
        assert _squash(heading.text) in _squash(_text(pdf, number)), heading.text
        checked += 1
    assert checked == len(doc.headings())
    # The last heading (after the long table) is not on the page the first one is.
    first = int(next(ln for ln in toc.splitlines() if doc.headings()[0].text in ln).split()[-1])
    last = int(next(ln for ln in toc.splitlines() if doc.headings()[-1].text in ln).split()[-1])
    assert last > first


def test_cjk_font_is_embedded_as_a_subset(sample: tuple[ReportDocument, Path]) -> None:
    _, pdf = sample
    fonts = _run("pdffonts", str(pdf)).splitlines()[2:]
    cjk = [ln for ln in fonts if "NotoSansCJK" in ln]
    assert cjk
    for line in cjk:
        name, *_rest = line.split()
        assert re.match(r"^[A-Z]{6}\+", name), line
        assert re.search(r"\byes\s+yes\s+yes\b", line), line  # embedded, subset, unicode map


def test_metadata_and_no_encryption(sample: tuple[ReportDocument, Path]) -> None:
    doc, pdf = sample
    info = _run("pdfinfo", str(pdf))
    assert re.search(rf"^Title:\s+{doc.meta.title}$", info, re.M)
    assert re.search(rf"^Author:\s+{doc.meta.vendor}$", info, re.M)
    assert re.search(rf"^Subject:\s+{doc.meta.client}$", info, re.M)
    assert re.search(r"^Encrypted:\s+no$", info, re.M)
    assert re.search(r"^Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info, re.M)
    assert b"/Outlines" in pdf.read_bytes()  # bookmarks for the headings


def test_first_pages_render_to_png_artefacts(sample: tuple[ReportDocument, Path]) -> None:
    _, pdf = sample
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTEFACTS.glob("sample-pdf-*.png"):
        old.unlink()
    prefix = ARTEFACTS / "sample-pdf"
    _run("pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "3", str(pdf), str(prefix))
    pages = sorted(ARTEFACTS.glob("sample-pdf-*.png"))
    assert len(pages) == 3
    for page in pages:
        with PILImage.open(page) as image:
            assert abs(image.size[0] - 210 / 25.4 * 60) < 2
            extrema = image.convert("L").getextrema()
            assert isinstance(extrema[0], int) and isinstance(extrema[1], int)
            assert extrema[0] < 100 and extrema[1] == 255  # text on a white page


def _table_doc(tmp_path: Path, rows: int) -> ReportDocument:
    doc = sample_document(tmp_path)
    doc.blocks = [Heading(1, "附录一 漏洞清单"), findings_table(rows)]
    return doc


def test_long_table_repeats_its_header_and_keeps_every_row(tmp_path: Path) -> None:
    out = tmp_path / "long.pdf"
    render(_table_doc(tmp_path, 2000), out)
    total = _pages(out)
    assert total > 20
    seen: list[str] = []
    for page in range(2, total + 1):
        text = _text(out, page)
        assert text.count("漏洞名称") == 1, page  # the header row, once per page
        if page > 2:
            assert "（续）" in text
        seen += re.findall(r"CVE-2021-(\d+)", text)
    assert sorted(int(n) for n in seen) == list(range(41773, 41773 + 2000))


def test_heading_never_sits_alone_at_the_foot_of_a_page(tmp_path: Path) -> None:
    doc = sample_document(tmp_path)
    pdf = ReportPDF(doc.meta)
    pdf.running = True
    pdf.new_page()
    pdf.fresh = False
    pdf.set_y(pdf.bottom - 15)  # room for the heading itself, not for what follows
    _heading(pdf, Heading(2, "2.3 处置建议"))
    assert pdf.page == 2
    assert pdf.y < 60


def test_heading_moves_with_the_chart_that_follows_it(tmp_path: Path) -> None:
    doc = sample_document(tmp_path)
    chart = Chart(ChartSpec("bar", "图", ["甲"], {"数": [1.0]}), png=png_bytes(1020, 578))
    for follow, expected_page in ((None, 1), (chart, 2)):
        pdf = ReportPDF(doc.meta)
        pdf.running = True
        pdf.new_page()
        pdf.fresh = False
        pdf.set_y(pdf.bottom - 60)  # room for a heading and text, not for a 86 mm chart
        _heading(pdf, Heading(1, "二、漏洞统计"), chart if follow else None)
        assert pdf.page == expected_page


def test_control_characters_and_long_unbroken_strings(tmp_path: Path) -> None:
    url = "https://portal.example.gov.cn/" + "a1b2c3d4e5" * 47  # 500 characters, no break
    assert len(url) == 500
    doc = sample_document(tmp_path)
    doc.blocks = [
        Paragraph((Span("控制字符\x00\x07\x1b\x7f测试\t制表符"), Span(url))),
        Table(
            columns=[Column("序号", 0.5), Column("地址", 2.0), Column("说明", 1.0)],
            rows=[["1", url, "含\x0b控制\x1f字符"], ["2", "短", url]],
            caption="表 9 长地址",
        ),
        Heading(2, "标题\x08含控制字符"),
        Chart(ChartSpec("bar", "未渲染", ["甲"], {"数": [1.0]}), png=None),
        Image(tmp_path / "不存在.png", caption="缺失的图片"),
    ]
    out = tmp_path / "odd.pdf"
    render(doc, out)
    text = _squash(_text(out))
    assert "控制字符测试制表符" in text
    assert "标题含控制字符" in text
    assert url in text  # the paragraph: wrapped, with nothing lost
    # Nothing is drawn past the right margin (25 mm) of the A4 page.
    bbox = _run("pdftotext", "-bbox", str(out), "-")
    right = 595.28 - 25 / 25.4 * 72
    overflow = [float(x) for x in re.findall(r'xMax="([\d.]+)"', bbox) if float(x) > right + 1.0]
    assert not overflow


def test_ten_thousand_rows_timing(tmp_path: Path) -> None:
    out = tmp_path / "big.pdf"
    doc = _table_doc(tmp_path, 10_000)
    doc.blocks.insert(0, TableOfContents())
    start = time.perf_counter()
    render(doc, out)
    elapsed = time.perf_counter() - start
    print(f"PDF 10,000 rows x 5 columns: {elapsed:.1f} s, {_pages(out)} pages")
    assert _pages(out) > 100
