"""The HTML renderer: valid, self-contained, escaped, with a working table of contents."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import html5lib
import pytest

from shaobing.reports.model import (
    LEVEL_COLOURS,
    BulletList,
    Column,
    Heading,
    KeyValue,
    Paragraph,
    ReportDocument,
    Span,
    Table,
    TableOfContents,
)
from shaobing.reports.render import renderer
from shaobing.reports.render.html import render, render_html
from tests.reports.sample import sample_document

NS = "{http://www.w3.org/1999/xhtml}"
ATTACK = "<script>alert(1)</script>"


def _parse(text: str) -> ElementTree.Element:
    tree: ElementTree.Element = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True).parse(
        text
    )
    return tree


def _all(tree: ElementTree.Element, tag: str) -> list[ElementTree.Element]:
    return list(tree.iter(f"{NS}{tag}"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportDocument, str]:
    folder = tmp_path_factory.mktemp("html")
    doc = sample_document(folder)
    out = folder / "report.html"
    render(doc, out)
    return doc, out.read_text("utf-8")


def test_the_renderer_is_found_by_format() -> None:
    assert renderer("html") is render


def test_valid_html5_with_language_and_charset(sample: tuple[ReportDocument, str]) -> None:
    _, text = sample
    tree = _parse(text)  # strict: raises on any parse error
    root = tree if tree.tag == f"{NS}html" else next(iter(_all(tree, "html")))
    assert root.get("lang") == "zh-CN"
    head = next(iter(_all(tree, "head")))
    assert head[0].tag == f"{NS}meta" and head[0].get("charset") == "utf-8"


def test_no_external_resources(sample: tuple[ReportDocument, str]) -> None:
    _, text = sample
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", text, re.I)
    assert not re.search(r"url\(|@import|<link\b|<script\b", text, re.I)
    tree = _parse(text)
    images = _all(tree, "img")
    assert len(images) == 2  # the chart and the screenshot
    for image in images:
        assert (image.get("src") or "").startswith("data:image/png;base64,")
        assert image.get("alt")


def test_cover_headings_and_table_values(sample: tuple[ReportDocument, str]) -> None:
    doc, text = sample
    tree = _parse(text)
    body = "".join(tree.itertext())
    meta = doc.meta
    for value in (meta.title, meta.client, meta.report_no, meta.confidentiality, meta.vendor):
        assert value in body
    assert "2026年10月31日" in body
    for heading in doc.headings():
        assert heading.text in body
    tables = [t for t in _all(tree, "table") if "data" in (t.get("class") or "").split()]
    findings = next(t for t in tables if "漏洞清单" in "".join(t.itertext()))
    heads = _all(findings, "thead")
    assert len(heads) == 1
    assert [("".join(th.itertext())) for th in _all(heads[0], "th")] == [
        "序号",
        "主机",
        "端口",
        "等级",
        "漏洞名称",
    ]
    rows = _all(next(iter(_all(findings, "tbody"))), "tr")
    assert len(rows) == 60
    assert "（无）" in body


def test_level_cells_carry_a_coloured_class(sample: tuple[ReportDocument, str]) -> None:
    _, text = sample
    tree = _parse(text)
    cells = [td for td in _all(tree, "td") if "".join(td.itertext()) == "高危"]
    assert cells
    colour = LEVEL_COLOURS["高危"]
    for td in cells:
        assert f"lv-{colour}" in (td.get("class") or "").split()
    assert re.search(rf"td\.lv-{colour}\s*\{{[^}}]*color:\s*#{colour}", text)


def test_toc_links_resolve_to_heading_ids(sample: tuple[ReportDocument, str]) -> None:
    doc, text = sample
    tree = _parse(text)
    ids = {el.get("id") for el in tree.iter() if el.get("id")}
    nav = next(iter(_all(tree, "nav")))
    links = _all(nav, "a")
    assert len(links) == len(doc.headings())
    for link, heading in zip(links, doc.headings(), strict=True):
        href = link.get("href") or ""
        assert href.startswith("#") and href[1:] in ids
        target = next(el for el in tree.iter() if el.get("id") == href[1:])
        assert target.tag == f"{NS}h{heading.level}"
        assert "".join(target.itertext()) == heading.text == "".join(link.itertext())


def test_print_css_repeats_table_headers_on_a4(sample: tuple[ReportDocument, str]) -> None:
    _, text = sample
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", text)
    assert re.search(r"thead\s*\{\s*display:\s*table-header-group", text)


def test_everything_is_escaped(tmp_path: Path) -> None:
    doc = sample_document(tmp_path)
    doc.meta.client = ATTACK
    doc.blocks = [
        TableOfContents(),
        Heading(1, ATTACK),
        Paragraph((Span(ATTACK), Span(ATTACK, bold=True))),
        BulletList(((Span(ATTACK),),)),
        KeyValue(((ATTACK, ATTACK),), caption=ATTACK),
        Table(columns=[Column(ATTACK)], rows=[[ATTACK]], caption=ATTACK),
        Paragraph((Span('" onmouseover="alert(1)'),)),
    ]
    text = render_html(doc)
    assert "<script" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    tree = _parse(text)
    assert not [el for el in tree.iter() if el.get("onmouseover") is not None]
    assert ATTACK in "".join(tree.itertext())  # shown as text


def test_control_characters_are_dropped(tmp_path: Path) -> None:
    doc = sample_document(tmp_path)
    doc.blocks = [
        Heading(1, "标题\x00\x08"),
        Paragraph((Span("正文\x07\x1b\x7f内容\t制表"),)),
        Table(columns=[Column("列\x0b")], rows=[["值\x1f"]]),
    ]
    text = render_html(doc)
    _parse(text)  # strict parsing rejects control characters
    assert "正文内容\t制表" in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)


def test_missing_pictures_are_left_out(tmp_path: Path) -> None:
    from shaobing.reports.model import Chart, ChartSpec, Image

    doc = sample_document(tmp_path)
    (tmp_path / "not-an-image.png").write_text("plain text", "utf-8")
    doc.blocks = [
        Chart(ChartSpec("bar", "未绘制", ["甲"], {"数": [1.0]}), png=None),
        Image(tmp_path / "missing.png", caption="缺失"),
        Image(tmp_path / "not-an-image.png", caption="不是图片"),
    ]
    text = render_html(doc)
    _parse(text)
    assert "<img" not in text.split("<main", 1)[1]
