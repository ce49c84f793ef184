"""Charts: every kind draws a PNG, Chinese text never falls back to boxes, output is stable."""

from __future__ import annotations

import io
import struct
import warnings

import pytest
from fontTools.ttLib import TTCollection, TTFont
from PIL import Image as PILImage

from shaobing.reports.charts import (
    DPI,
    PALETTE,
    WIDTH_IN,
    label_colours,
    render_png,
    series_colours,
)
from shaobing.reports.fonts import regular_font
from shaobing.reports.labels import labels
from shaobing.reports.model import LEVEL_COLOURS, ChartSpec

LEVELS = ["严重", "高危", "中危", "低危", "信息"]
MONTHS = [f"2026年{m}月" for m in range(5, 11)]
SYSTEMS = ["政务服务门户", "统一身份认证平台", "数据共享交换平台", "办公自动化系统（OA）"]

SPECS: dict[str, ChartSpec] = {
    "bar": ChartSpec(
        "bar",
        "漏洞等级分布",
        LEVELS,
        {"数量": [2, 15, 40, 33, 8]},
        x_title="风险等级",
        y_title="漏洞数量",
    ),
    "barh": ChartSpec(
        "barh",
        "漏洞最多的主机（前十名）",
        [f"10.0.0.{i}（业务服务器）" for i in range(1, 11)],
        {"漏洞数": [50, 40, 33, 30, 22, 18, 12, 9, 5, 2]},
        x_title="漏洞数量",
    ),
    "pie": ChartSpec("pie", "漏洞等级占比", LEVELS, {"数量": [2, 15, 40, 33, 0]}),
    "line": ChartSpec(
        "line",
        "近六个月漏洞发现与整改趋势",
        MONTHS,
        {
            "高危": [5, 8, 6, 4, 3, 2],
            "中危": [20, 18, 22, 15, 12, 10],
            "低危": [30, 25, 28, 26, 20, 18],
        },
        y_title="漏洞数量（个）",
    ),
    "stacked": ChartSpec(
        "stacked",
        "各业务系统漏洞分布",
        SYSTEMS,
        {"高危": [3, 5, 1, 0], "中危": [10, 7, 4, 6], "低危": [12, 8, 9, 3]},
    ),
    "heatmap": ChartSpec(
        "heatmap",
        "风险热力图（可能性 × 影响程度）",
        ["很低", "低", "中等", "高", "很高"],
        y_labels=["很高", "高", "中等", "低", "很低"],
        matrix=[
            [0, 1, 2, 3, 1],
            [0, 2, 5, 4, 1],
            [1, 3, 8, 2, 0],
            [2, 5, 3, 1, 0],
            [4, 2, 1, 0, 0],
        ],
        x_title="威胁发生可能性",
        y_title="影响程度",
    ),
}


GLYPH_WARNING = r"(?s).*Glyph .* missing from font"


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    """Each spec drawn once, with matplotlib's missing-glyph warning turned into an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_WARNING)
        return {kind: render_png(spec) for kind, spec in SPECS.items()}


def _open(png: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(png))
    image.load()
    return image


def _chunks(png: bytes) -> list[bytes]:
    """The chunk types of a PNG file."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        types.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def _colours(image: PILImage.Image) -> set[tuple[int, int, int]]:
    counted = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert counted is not None
    return {(rgb[0], rgb[1], rgb[2]) for _, rgb in counted if isinstance(rgb, tuple)}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_kind_renders_a_png_that_fits_the_page(kind: str, rendered: dict[str, bytes]) -> None:
    image = _open(rendered[kind])
    assert image.format == "PNG"
    width, height = image.size
    # 6 inches at the chart DPI: 15.2 cm, the text width of an A4 page.
    assert width == round(WIDTH_IN * DPI)
    assert 300 < height < width * 1.3
    # Not a blank canvas: drawn content has many colours.
    assert len(_colours(image)) > 20


def _strings(spec: ChartSpec) -> list[str]:
    texts = [spec.title, *spec.labels, *spec.series, *spec.y_labels]
    texts += [t for t in (spec.x_title, spec.y_title) if t]
    return texts


def _cmap() -> set[int]:
    face = regular_font()
    if face.path.suffix.lower() in (".ttc", ".otc"):
        font = TTCollection(str(face.path), lazy=True)[face.index]
    else:
        font = TTFont(str(face.path), lazy=True)
    return set(font.getBestCmap())


def test_every_character_of_the_specs_is_in_the_cjk_face() -> None:
    cmap = _cmap()
    words = labels()
    texts = [s for spec in SPECS.values() for s in _strings(spec)]
    texts.append(str(words.get("no_data", words["empty_table"])))
    missing = {ch for text in texts for ch in text if ord(ch) not in cmap}
    assert not missing


def test_chinese_text_draws_without_missing_glyphs(rendered: dict[str, bytes]) -> None:
    # The fixture draws under an error filter for the missing-glyph warning, so reaching
    # here with every kind drawn means no character fell back to a box.
    assert set(rendered) == set(SPECS)
    assert all(_open(png).size[0] > 0 for png in rendered.values())


def test_the_glyph_check_catches_a_missing_glyph() -> None:
    # The check above must be able to fail: Thai is not in Noto Sans CJK SC.
    spec = ChartSpec("bar", "ทดสอบ", ["甲"], {"数量": [1.0]})
    assert any(ord(ch) not in _cmap() for ch in spec.title)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_WARNING)
        with pytest.raises(UserWarning, match="missing from font"):
            render_png(spec)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_the_same_spec_gives_the_same_bytes(kind: str, rendered: dict[str, bytes]) -> None:
    first = rendered[kind]
    second = render_png(SPECS[kind])
    assert first == second
    types = _chunks(first)
    assert b"tIME" not in types
    assert b"tEXt" not in types and b"iTXt" not in types


@pytest.mark.parametrize(
    "spec",
    [
        ChartSpec("bar", "漏洞等级分布", [], {}),
        ChartSpec("barh", "主机", ["甲"], {}),
        ChartSpec("pie", "漏洞等级占比", LEVELS, {"数量": [0, 0, 0, 0, 0]}),
        ChartSpec("line", "趋势", [], {"高危": []}),
        ChartSpec("stacked", "分布", [], {}),
        ChartSpec("heatmap", "风险热力图", ["低"], y_labels=[], matrix=[]),
    ],
    ids=lambda spec: spec.kind,
)
def test_empty_data_draws_a_no_data_chart(spec: ChartSpec) -> None:
    image = _open(render_png(spec))
    assert image.size[0] == round(WIDTH_IN * DPI)


def test_ragged_data_is_padded_not_a_crash() -> None:
    spec = ChartSpec("bar", "数量", ["甲", "乙", "丙"], {"一": [1.0], "二": [1.0, 2.0, 3.0, 4.0]})
    _open(render_png(spec))
    heat = ChartSpec("heatmap", "热力图", ["低", "中", "高"], y_labels=["高", "低"], matrix=[[1.0]])
    _open(render_png(heat))


def test_level_words_take_the_level_colours(rendered: dict[str, bytes]) -> None:
    assert label_colours(SPECS["bar"]) == [f"#{LEVEL_COLOURS[w]}" for w in LEVELS]
    assert series_colours(SPECS["stacked"]) == [
        f"#{LEVEL_COLOURS[w]}" for w in ("高危", "中危", "低危")
    ]
    drawn = _colours(_open(rendered["bar"]))
    for word in LEVELS:
        assert _rgb(LEVEL_COLOURS[word]) in drawn, word


def test_other_labels_take_the_palette_or_the_given_colours(rendered: dict[str, bytes]) -> None:
    drawn = _colours(_open(rendered["barh"]))
    assert _rgb(PALETTE[0]) in drawn
    assert _rgb(LEVEL_COLOURS["高危"]) not in drawn
    given = ChartSpec(
        "pie", "系统占比", SYSTEMS, {"数量": [1, 2, 3, 4]}, colours=["112233", "#445566"]
    )
    assert label_colours(given) == ["#112233", "#445566", "#112233", "#445566"]
    assert _rgb("112233") in _colours(_open(render_png(given)))
