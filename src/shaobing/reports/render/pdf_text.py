"""Line breaking for the PDF renderer: clean text, measure it, wrap it to a width.

Chinese text may break between any two ideographs; Latin words, numbers and URLs break at
spaces, and a word longer than the line is cut between characters. Closing punctuation is
never put at the start of a line (the character before it moves down with it), which is the
common rule of Chinese typesetting (避头尾).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# C0/C1 control characters, lone surrogates and non-characters: they have no glyph and
# some of them break the PDF text encoding.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# One token: a run of whitespace, one wide (CJK) character, or a run of other characters.
_WIDE = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_TOKEN = re.compile(rf"[ \u00a0]+|[{_WIDE}]|[^ \u00a0{_WIDE}]+")
_NO_LINE_START = frozenset("，。、；：？！）》」』】〉”’…·%,.;:?!)]}")

Measure = Callable[[str, bool], float]


def clean(text: str) -> str:
    """Text fit for the PDF: tabs as spaces, newlines kept, control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub("", text)


class CharWidths:
    """Character widths of one face in thousandths of an em, memoised per character."""

    def __init__(self, widths: dict[int, int] | Sequence[int], default: int = 1000) -> None:
        self._source = widths
        self._default = default
        self._cache: dict[str, float] = {}

    def em(self, text: str) -> float:
        """The width of ``text`` in ems."""
        cache = self._cache
        total = 0.0
        for ch in text:
            w = cache.get(ch)
            if w is None:
                w = self._lookup(ch)
                cache[ch] = w
            total += w
        return total

    def _lookup(self, ch: str) -> float:
        code = ord(ch)
        try:
            raw = self._source[code]
        except (KeyError, IndexError):
            raw = 0
        if not raw:
            # A glyph missing from the font is drawn as .notdef: wide ones as a full em.
            raw = self._default if unicodedata.east_asian_width(ch) in "WF" else 600
        return raw / 1000.0


@dataclass(frozen=True)
class Run:
    """A piece of one line drawn in one style."""

    text: str
    bold: bool


Line = list[Run]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _split_long(token: str, bold: bool, room: float, width: float, measure: Measure) -> list[str]:
    """Cut a token wider than the line into pieces; the first fills ``room``."""
    pieces: list[str] = []
    current = ""
    limit = room
    for ch in token:
        if current and measure(current + ch, bold) > limit:
            pieces.append(current)
            current = ""
            limit = width
        current += ch
    if current:
        pieces.append(current)
    return pieces


class _Builder:
    def __init__(self, widths: Sequence[float], measure: Measure) -> None:
        self.widths = widths
        self.measure = measure
        self.lines: list[list[tuple[str, bool]]] = []
        self.current: list[tuple[str, bool]] = []
        self.used = 0.0

    @property
    def width(self) -> float:
        index = min(len(self.lines), len(self.widths) - 1)
        return self.widths[index]

    def newline(self) -> None:
        while self.current and not self.current[-1][0].strip():
            self.used -= self.measure(*self.current.pop())
        self.lines.append(self.current)
        self.current = []
        self.used = 0.0

    def _carry(self) -> list[tuple[str, bool]]:
        """Single characters to move down with closing punctuation (避头尾).

        Takes the trailing closing marks (e.g. the ）of ）。) and the character before them,
        so the new line starts with that character; nothing when the line would be emptied.
        """
        count = 0
        while count < len(self.current):
            text = self.current[-1 - count][0]
            if len(text) != 1:
                return []
            count += 1
            if text not in _NO_LINE_START:
                break
        else:
            return []
        if count >= len(self.current):
            return []
        carried = self.current[-count:]
        del self.current[-count:]
        for piece in carried:
            self.used -= self.measure(*piece)
        return carried

    def add(self, token: str, bold: bool) -> None:
        w = self.measure(token, bold)
        blank = not token.strip()
        if self.used + w <= self.width + 1e-6:
            if not (blank and not self.current):
                self.current.append((token, bold))
                self.used += w
            return
        if blank:
            self.newline()
            return
        if token[0] in _NO_LINE_START:
            carried = self._carry()
            if carried:
                self.newline()
                for kept in carried:
                    self.current.append(kept)
                    self.used += self.measure(*kept)
                self.add(token, bold)
                return
        if w > self.width:
            room = self.width - self.used
            pieces = _split_long(token, bold, room, self.width, self.measure)
            if pieces and self.measure(pieces[0], bold) > room + 1e-6:
                self.newline()
                pieces = _split_long(token, bold, self.width, self.width, self.measure)
            for i, piece in enumerate(pieces):
                if i:
                    self.newline()
                self.current.append((piece, bold))
                self.used += self.measure(piece, bold)
            return
        self.newline()
        self.add(token, bold)


def wrap_runs(
    runs: Sequence[tuple[str, bool, bool]],
    widths: Sequence[float],
    measure: Measure,
) -> list[Line]:
    """Wrap styled runs ``(text, bold, line_break_after)`` into lines.

    ``widths`` gives the width of the first lines in order; the last one repeats (a first
    line indent is ``[width - indent, width]``).
    """
    return wrap_marked(runs, widths, measure)[0]


def wrap_marked(
    runs: Sequence[tuple[str, bool, bool]],
    widths: Sequence[float],
    measure: Measure,
) -> tuple[list[Line], set[int]]:
    """Like :func:`wrap_runs`, with the indexes of lines that end a paragraph or a forced
    line break (the lines a justified paragraph leaves ragged)."""
    builder = _Builder(widths, measure)
    hard: set[int] = set()
    for text, bold, br in runs:
        parts = clean(text).split("\n")
        for i, part in enumerate(parts):
            if i:
                hard.add(len(builder.lines))
                builder.newline()
            for token in _tokens(part):
                builder.add(token, bold)
        if br:
            hard.add(len(builder.lines))
            builder.newline()
    if builder.current or not builder.lines:
        builder.newline()
    hard.add(len(builder.lines) - 1)
    return [_merge(line) for line in builder.lines], hard


def _merge(pieces: list[tuple[str, bool]]) -> Line:
    merged: Line = []
    for text, bold in pieces:
        if merged and merged[-1].bold == bold:
            merged[-1] = Run(merged[-1].text + text, bold)
        else:
            merged.append(Run(text, bold))
    return merged


def wrap_plain(text: str, width: float, measure: Measure, bold: bool = False) -> list[str]:
    """Wrap one plain string to ``width``; each line as text."""
    text = clean(text)
    if "\n" not in text:
        # Most table cells fit on one line: skip tokenising them.
        stripped = text.strip(" \u00a0")
        if measure(stripped, bold) <= width:
            return [stripped]
    lines = wrap_runs([(text, bold, False)], [width], measure)
    return ["".join(run.text for run in line) for line in lines]
