"""The PDF page frame: fonts, page geometry, running header and footer, text drawing.

Automatic page breaks are off: every block measures itself and asks :meth:`ReportPDF.ensure`
for room first, which is what lets tables repeat their header and headings stay with the
text that follows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fpdf import FPDF

from shaobing.reports.fonts import bold_font, regular_font
from shaobing.reports.labels import labels
from shaobing.reports.model import ReportMeta
from shaobing.reports.render.pdf_text import (
    CharWidths,
    Line,
    clean,
    wrap_marked,
    wrap_plain,
    wrap_runs,
)

FAMILY = "NotoSansCJKSC"
MARGIN_X = 25.0
MARGIN_TOP = 25.0
MARGIN_BOTTOM = 22.0
PT = 25.4 / 72  # millimetres per point

RGB = tuple[int, int, int]
Align = Literal["left", "center", "right"]


def rgb(colour: str) -> RGB:
    """``"C0392B"`` or ``"#C0392B"`` as an RGB tuple."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def tint(colour: RGB, keep: float) -> RGB:
    """``colour`` mixed with white, keeping ``keep`` of the colour."""
    r, g, b = colour
    return (
        round(255 - (255 - r) * keep),
        round(255 - (255 - g) * keep),
        round(255 - (255 - b) * keep),
    )


NAVY: RGB = (31, 58, 95)
TEXT: RGB = (33, 37, 41)
MUTED: RGB = (108, 117, 125)
RULE: RGB = (200, 206, 214)
ZEBRA: RGB = (245, 247, 250)
ACCENT_RED: RGB = (192, 57, 43)


class ReportPDF(FPDF):
    """An A4 report with a CJK font, a running header and a page-numbered footer."""

    def __init__(self, meta: ReportMeta) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.meta = meta
        self.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
        self.set_auto_page_break(False, margin=MARGIN_BOTTOM)
        regular, bold = regular_font(), bold_font()
        self.add_font(FAMILY, "", str(regular.path), collection_font_number=regular.index)
        self.add_font(FAMILY, "B", str(bold.path), collection_font_number=bold.index)
        # None turns the alias off: pages are numbered by number_pages().
        self.alias_nb_pages(None)  # type: ignore[arg-type]
        self.set_font(FAMILY, "", 10.5)
        self._widths = {
            False: CharWidths(self.fonts[FAMILY.lower()].cw),  # type: ignore[arg-type]
            True: CharWidths(self.fonts[FAMILY.lower() + "B"].cw),  # type: ignore[arg-type]
        }
        # True while the page has nothing but its header: a page break there would be empty.
        self.fresh = False
        self.running = False

    # --- geometry -------------------------------------------------------------------

    @property
    def text_width(self) -> float:
        """Width between the side margins."""
        return self.w - 2 * MARGIN_X

    @property
    def bottom(self) -> float:
        """The lowest y content may reach."""
        return self.h - MARGIN_BOTTOM

    @property
    def body_height(self) -> float:
        """Height of a page's content area."""
        return self.bottom - MARGIN_TOP

    def new_page(self) -> None:
        """Start a page (the running header is drawn by :meth:`header`)."""
        self.add_page()
        self.fresh = True

    def ensure(self, height: float) -> None:
        """Break the page unless ``height`` millimetres fit below the cursor.

        The caller then draws, so the page no longer counts as fresh.
        """
        if self.y + height > self.bottom + 1e-6 and not self.fresh:
            self.new_page()
        self.fresh = False

    # --- measuring and drawing text --------------------------------------------------

    def measure(self, text: str, bold: bool, size: float) -> float:
        """Width of ``text`` in millimetres at ``size`` points."""
        return self._widths[bold].em(text) * size * PT

    def wrap(self, text: str, width: float, size: float, bold: bool = False) -> list[str]:
        """``text`` wrapped to ``width`` millimetres."""
        return wrap_plain(text, width, lambda t, b: self.measure(t, b, size), bold)

    def wrap_marked(
        self, runs: Sequence[tuple[str, bool, bool]], widths: Sequence[float], size: float
    ) -> tuple[list[Line], set[int]]:
        """Styled runs wrapped, with the indexes of paragraph-ending lines."""
        return wrap_marked(runs, widths, lambda t, b: self.measure(t, b, size))

    def wrap_rich(
        self, runs: Sequence[tuple[str, bool, bool]], widths: Sequence[float], size: float
    ) -> list[Line]:
        """Styled runs wrapped to the given line widths."""
        return wrap_runs(runs, widths, lambda t, b: self.measure(t, b, size))

    def draw_line(
        self,
        line: Line,
        x: float,
        top: float,
        width: float,
        height: float,
        size: float,
        align: Align = "left",
        colour: RGB = TEXT,
        *,
        justify: bool = False,
    ) -> None:
        """Draw one wrapped line in a box, vertically centred, aligned in ``width``.

        ``justify`` spreads the line to the full width with letter spacing, as Chinese
        body text is set; lines that would need more than a quarter em per gap (a long
        word pushed to the next line) stay ragged.
        """
        total = sum(self.measure(run.text, run.bold, size) for run in line)
        spacing = 0.0
        if align == "center":
            x += (width - total) / 2
        elif align == "right":
            x += width - total
        elif justify:
            gaps = sum(len(run.text) for run in line) - 1
            if gaps > 0 and 0 < width - total <= gaps * size * PT * 0.25:
                spacing = (width - total) / gaps
        baseline = top + height / 2 + size * PT * 0.35
        for run in line:
            self.use_font(run.bold, size)
            self.put_text(x, baseline, run.text, colour, spacing)
            x += self.measure(run.text, run.bold, size) + spacing * len(run.text)

    # --- fast primitives -------------------------------------------------------------
    # fpdf2's text() and rect() are generic and cost most of the time of a 10,000-row
    # table; these emit the same PDF operators directly, inside q/Q so fpdf2's own record
    # of the current colours stays true.

    def use_font(self, bold: bool, size: float) -> None:
        """Select the regular or bold face at ``size`` points (no-op when current)."""
        style = "B" if bold else ""
        if (
            self.font_style != style
            or self.font_size_pt != size
            or self.font_family != FAMILY.lower()
        ):
            self.set_font(FAMILY, style, size)

    def put_text(
        self, x: float, baseline: float, text: str, colour: RGB, spacing: float = 0.0
    ) -> None:
        """Draw ``text`` in the current font with its baseline at ``baseline``.

        ``spacing`` is extra space after each character in millimetres.
        """
        if not text:
            return
        font = self.current_font
        assert font is not None
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        k = self.k
        r, g, b = colour
        tc = f"{spacing * k:.3f} Tc " if spacing else ""
        self._out(
            f"q {r / 255:.3f} {g / 255:.3f} {b / 255:.3f} rg BT {tc}{x * k:.2f} "
            f"{(self.h - baseline) * k:.2f} Td {font.encode_text(text)} ET Q"
        )

    def put_rect(
        self, x: float, y: float, w: float, h: float, fill: RGB | None, stroke: RGB | None
    ) -> None:
        """A rectangle filled with ``fill`` and/or outlined with ``stroke``."""
        k = self.k
        ops = ["q"]
        if fill is not None:
            ops.append(f"{fill[0] / 255:.3f} {fill[1] / 255:.3f} {fill[2] / 255:.3f} rg")
        if stroke is not None:
            ops.append(f"{stroke[0] / 255:.3f} {stroke[1] / 255:.3f} {stroke[2] / 255:.3f} RG")
        op = "B" if fill is not None and stroke is not None else ("f" if fill is not None else "S")
        ops.append(f"{x * k:.2f} {(self.h - y) * k:.2f} {w * k:.2f} {-h * k:.2f} re {op} Q")
        self._out(" ".join(ops))

    def draw_text(
        self,
        text: str,
        x: float,
        top: float,
        size: float,
        *,
        bold: bool = False,
        colour: RGB = TEXT,
    ) -> None:
        """Draw a single-line string with its top at ``top``."""
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*colour)
        self.text(x, top + size * PT * 0.88, clean(text).replace("\n", " "))

    # --- running header and footer ---------------------------------------------------

    def header(self) -> None:
        """Title left, confidentiality mark right, a rule below; not on the cover."""
        if not self.running or self.page_no() <= 1:
            return
        size = 8.5
        top = 12.0
        self.draw_text(self.meta.title, MARGIN_X, top, size, colour=MUTED)
        mark = self.meta.confidentiality
        if mark:
            width = self.measure(mark, True, size)
            self.draw_text(mark, self.w - MARGIN_X - width, top, size, bold=True, colour=ACCENT_RED)
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.line(MARGIN_X, top + 5.5, self.w - MARGIN_X, top + 5.5)
        self.set_y(MARGIN_TOP)

    def footer(self) -> None:
        """A rule and the footer text; not on the cover (page numbers: :meth:`number_pages`)."""
        if not self.running or self.page_no() <= 1:
            return
        size = 8.5
        top = self.h - 14.0
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.line(MARGIN_X, top - 2.5, self.w - MARGIN_X, top - 2.5)
        if self.meta.footer:
            self.draw_text(self.meta.footer, MARGIN_X, top, size, colour=MUTED)

    def number_pages(self) -> None:
        """Write ``第 X 页 共 Y 页`` on every page but the cover, once the count is known.

        Done at the end rather than with fpdf2's page-count alias, which reserves a fixed
        width and so cannot right-align the text exactly.
        """
        total = len(self.pages)
        current = self.page
        size = 8.5
        for page in range(2, total + 1):
            self.page = page
            self.current_font_is_set_on_page = False
            text = str(labels()["page_of"]).format(page=page, pages=total)
            width = self.measure(text, False, size)
            self.draw_text(text, self.w - MARGIN_X - width, self.h - 14.0, size, colour=MUTED)
        self.page = current
        self.current_font_is_set_on_page = False
