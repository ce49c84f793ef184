"""Chinese line breaking of the PDF renderer: closing punctuation never starts a line."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.reports.render.pdf_text import _NO_LINE_START, _Builder


def _wrap(text: str, width: float) -> list[str]:
    builder = _Builder([width], lambda token, bold: float(len(token)))
    for ch in text:
        builder.add(ch, False)
    builder.newline()
    return ["".join(t for t, _ in line) for line in builder.lines]


def test_two_closing_marks_move_down_with_the_character_before() -> None:
    assert _wrap("一二三四五六七八站点）。后面", 10) == ["一二三四五六七八站", "点）。后面"]


def test_single_closing_mark() -> None:
    assert _wrap("一二三四五六七八九十。", 10) == ["一二三四五六七八九", "十。"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="一二三四五，。）》、", min_size=1, max_size=80), st.integers(3, 20))
def test_no_line_starts_with_closing_punctuation(text: str, width: int) -> None:
    lines = _wrap(text, width)
    assert "".join(lines) == text
    for previous, line in itertools.pairwise(lines):
        # Only a previous line that cannot give up a character (it would be left with only
        # closing marks, or empty) allows a closing mark at the start of the next one.
        if line and line[0] in _NO_LINE_START:
            assert len(previous) <= 1 or all(ch in _NO_LINE_START for ch in previous[1:])
