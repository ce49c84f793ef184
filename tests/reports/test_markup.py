"""The template markup: structure, literal data, directives and one-line errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.reports.markup import Parts, build_blocks, parse_trusted
from shaobing.reports.model import (
    BulletList,
    Chart,
    ChartSpec,
    Column,
    Heading,
    KeyValue,
    PageBreak,
    Paragraph,
    Table,
    TableOfContents,
)

TABLE = Table([Column("主机")], [["127.0.0.1"]], caption="表 1")
PARTS = Parts(
    tables={"hosts": TABLE},
    kvs={"facts": KeyValue((("客户", "示例局"),))},
    charts={"levels": Chart(ChartSpec("bar", "等级分布", ["高危"], {"数量": [1.0]}))},
)


def test_structure_of_a_template() -> None:
    source = """::toc
::pagebreak
# 一、概述
本次共发现 **{{ n }}** 个问题。
## 1.1 范围
- 主机 {{ hosts | length }} 台
- 应用
1. 第一步
2、 第二步
> 说明文字
^ 居中
::table hosts
::kv facts
::chart levels
"""
    blocks = build_blocks(source, {"n": 7, "hosts": [1, 2]}, PARTS, name="t")
    kinds = [type(b) for b in blocks]
    assert kinds == [
        TableOfContents,
        PageBreak,
        Heading,
        Paragraph,
        Heading,
        BulletList,
        BulletList,
        Paragraph,
        Paragraph,
        Table,
        KeyValue,
        Chart,
    ]
    heading = blocks[2]
    assert isinstance(heading, Heading) and (heading.level, heading.text) == (1, "一、概述")
    para = blocks[3]
    assert isinstance(para, Paragraph)
    assert [(s.text, s.bold) for s in para.spans] == [
        ("本次共发现 ", False),
        ("7", True),
        (" 个问题。", False),
    ]
    bullets, numbered = blocks[5], blocks[6]
    assert isinstance(bullets, BulletList) and not bullets.ordered
    assert [s[0].text for s in bullets.items] == ["主机 2 台", "应用"]
    assert isinstance(numbered, BulletList) and numbered.ordered
    assert [s[0].text for s in numbered.items] == ["第一步", "第二步"]
    assert isinstance(blocks[7], Paragraph) and blocks[7].style == "note"
    assert isinstance(blocks[8], Paragraph) and blocks[8].style == "center"
    assert blocks[9] is TABLE


@pytest.mark.parametrize(
    "value",
    [
        "# 标题伪造",
        "::table hosts",
        "- 列表伪造",
        "**粗体伪造**",
        "第一行\n# 第二行\n::pagebreak",
        "> 注释伪造",
    ],
)
def test_substituted_values_are_never_markup(value: str) -> None:
    blocks = build_blocks("{{ v }}\n", {"v": value}, PARTS, name="t")
    assert len(blocks) == 1
    para = blocks[0]
    assert isinstance(para, Paragraph) and para.style == "body"
    assert para.text == value
    assert not any(s.bold for s in para.spans)


def test_markup_filter_passes_trusted_text() -> None:
    blocks = build_blocks("{{ v | markup }}\n", {"v": "## 工程师小节\n正文"}, PARTS, name="t")
    assert isinstance(blocks[0], Heading) and blocks[0].text == "工程师小节"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("::table nope\n", "nope"),
        ("::frobnicate\n", "::frobnicate"),
        ("{{ missing }}\n", "missing"),
        ("{% for x in %}\n", "t:1"),
        ("{{ ''.__class__.__mro__ }}\n", "t"),
    ],
)
def test_template_errors_are_one_line(source: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_blocks(source, {}, PARTS, name="t")
    message = str(info.value)
    assert "\n" not in message and fragment in message


def test_sandbox_refuses_attribute_escape() -> None:
    with pytest.raises(ValidationError):
        build_blocks("{{ x.__init__.__globals__ }}\n", {"x": object()}, PARTS, name="t")


def test_control_characters_are_dropped() -> None:
    blocks = build_blocks("{{ v }}\n", {"v": "a\x01b\x02c\x03d\x07e"}, PARTS, name="t")
    para = blocks[0]
    assert isinstance(para, Paragraph) and para.text == "abcde"


def test_trusted_sections_parse() -> None:
    blocks = parse_trusted("## 攻击路径\n- 步骤一 **关键**\n", name="notes")
    assert isinstance(blocks[0], Heading) and isinstance(blocks[1], BulletList)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_value_round_trips_as_literal_text(value: str) -> None:
    blocks = build_blocks("前缀{{ v }}\n", {"v": value}, PARTS, name="t")
    assert len(blocks) == 1
    para = blocks[0]
    assert isinstance(para, Paragraph)
    expected = value.replace("\r\n", "\n").replace("\r", "\n")
    expected = "".join(
        ch for ch in expected if ch in "\t\n" or not (ord(ch) < 0x20 or ord(ch) == 0x7F)
    ).strip()
    text = para.text
    assert text == "前缀" + expected
