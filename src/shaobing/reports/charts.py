"""Drawing report charts (bar, barh, pie, line, stacked, heat map) to PNG with a CJK font.

matplotlib is imported only here and only when a chart is drawn; the object-oriented API
(``Figure`` + Agg canvas) is used instead of pyplot so that drawing keeps no global state.
Output is deterministic: the PNG carries no software or time stamp, so the same spec gives
the same bytes (reports are hashed and re-built).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from shaobing.reports.fonts import FontFace, bold_font, regular_font
from shaobing.reports.labels import labels
from shaobing.reports.model import LEVEL_COLOURS, ChartSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 170
# 6 inches at 170 dpi prints 15.2 cm wide: the text width of an A4 page with 2.5 cm margins.
WIDTH_IN = 6.0
# A sober palette for categories that are not level words (blue-grey first, then muted hues).
PALETTE = (
    "#2E5C8A",
    "#5B8DB8",
    "#E0A458",
    "#7A9E7E",
    "#B56576",
    "#6D6875",
    "#8FB3D3",
    "#A3A3A3",
    "#C9A66B",
    "#4F6D7A",
)
# Heat map ramp: few findings read as green, many as red, with a readable yellow between.
HEAT_RAMP = ("#D5F0DD", "#F7E08B", "#F0A04B", "#C0392B")
TEXT = "#2C3E50"
GRID = "#D5DBE1"


def _hex(colour: str) -> str:
    return colour if colour.startswith("#") else f"#{colour}"


def _is_levels(words: list[str]) -> bool:
    return bool(words) and all(w in LEVEL_COLOURS for w in words)


def _palette(spec: ChartSpec, count: int) -> list[str]:
    base = [_hex(c) for c in spec.colours] if spec.colours else list(PALETTE)
    return [base[i % len(base)] for i in range(count)]


def label_colours(spec: ChartSpec) -> list[str]:
    """One colour per label: level colours when every label is a level word."""
    if _is_levels(spec.labels) and not spec.colours:
        return [_hex(LEVEL_COLOURS[w]) for w in spec.labels]
    return _palette(spec, len(spec.labels))


def series_colours(spec: ChartSpec) -> list[str]:
    """One colour per series: level colours when every series name is a level word."""
    names = list(spec.series)
    if _is_levels(names) and not spec.colours:
        return [_hex(LEVEL_COLOURS[w]) for w in names]
    return _palette(spec, len(names))


def _number(value: float) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def _values(spec: ChartSpec) -> dict[str, list[float]]:
    """Series values aligned with the labels (short series padded with 0, long cut)."""
    n = len(spec.labels)
    return {
        name: [_number(v) for v in values[:n]] + [0.0] * max(0, n - len(values))
        for name, values in spec.series.items()
    }


def has_data(spec: ChartSpec) -> bool:
    """Whether the spec has anything to draw (otherwise a 'no data' chart is drawn)."""
    if spec.kind == "heatmap":
        return bool(spec.labels and spec.y_labels and spec.matrix)
    values = _values(spec)
    if not spec.labels or not values:
        return False
    if spec.kind == "pie":
        return sum(v for v in next(iter(values.values())) if v > 0) > 0
    return True


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


@contextmanager
def _style(face: FontFace) -> Iterator[None]:
    import matplotlib as mpl  # noqa: PLC0415 - loaded only when drawing
    from matplotlib import font_manager  # noqa: PLC0415

    _register(font_manager, face)
    _register(font_manager, bold_font())
    with mpl.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [face.family],
            "font.size": 9,
            "axes.unicode_minus": False,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlepad": 12,
            "axes.titlecolor": TEXT,
            "axes.labelcolor": TEXT,
            "axes.edgecolor": "#8A97A5",
            "xtick.color": TEXT,
            "ytick.color": TEXT,
            "legend.frameon": False,
            "svg.hashsalt": "shaobing",
        }
    ):
        yield


def _register(font_manager: Any, face: FontFace) -> None:
    """Make the face findable by family name (a collection's face included)."""
    wanted = (str(face.path), face.index)
    for weight in ("normal", "bold"):
        props = font_manager.FontProperties(family=face.family, weight=weight)
        try:
            found = font_manager.findfont(props, fallback_to_default=False)
        except ValueError:
            found = None
        if found is not None and (str(found), getattr(found, "face_index", 0)) == wanted:
            return
    font_manager.fontManager.addfont(str(face.path))


def _new_figure(height: float) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")


def _tidy(ax: Axes, spec: ChartSpec, *, grid_axis: Literal["x", "y"] = "y") -> None:
    ax.set_title(spec.title)
    if spec.x_title:
        ax.set_xlabel(spec.x_title)
    if spec.y_title:
        ax.set_ylabel(spec.y_title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _text_inches(text: str, points: float = 9.0) -> float:
    # CJK ideographs are one em wide, Latin letters and digits about half.
    ems = sum(1.0 if ord(ch) >= 0x2E80 else 0.55 for ch in text)
    return ems * points / 72


def _rotate_if_crowded(ax: Axes, spec: ChartSpec) -> None:
    slot = (WIDTH_IN - 1.2) / max(len(spec.labels), 1)
    if max((_text_inches(label) for label in spec.labels), default=0.0) > 0.9 * slot:
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")


def _counts_axis(ax: Axes, values: dict[str, list[float]], axis: Literal["x", "y"]) -> None:
    """Whole-number ticks when the values are counts (no 2.5 findings)."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    if all(float(v).is_integer() for data in values.values() for v in data):
        target = ax.xaxis if axis == "x" else ax.yaxis
        target.set_major_locator(MaxNLocator(integer=True))


def _legend_right(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _draw_no_data(fig: Figure, spec: ChartSpec) -> None:
    ax = fig.subplots()
    ax.set_title(spec.title)
    ax.set_axis_off()
    words = labels()
    ax.text(
        0.5,
        0.5,
        str(words.get("no_data", words["empty_table"])),
        ha="center",
        va="center",
        fontsize=14,
        color="#7F8C8D",
        transform=ax.transAxes,
    )


def _draw_bar(fig: Figure, spec: ChartSpec, horizontal: bool) -> None:
    ax = fig.subplots()
    values = _values(spec)
    positions = list(range(len(spec.labels)))
    count = len(values)
    span = 0.7 if count == 1 else 0.8
    width = span / count
    single = count == 1
    if single and not _is_levels(spec.labels) and not spec.colours:
        # One series of ordinary categories (hosts, systems): one colour reads calmer.
        colours = [PALETTE[0]] * len(spec.labels)
    else:
        colours = label_colours(spec) if single else series_colours(spec)
    for i, (name, data) in enumerate(values.items()):
        offset = (i - (count - 1) / 2) * width
        pos = [p + offset for p in positions]
        colour: Any = colours if single else colours[i]
        if horizontal:
            bars = ax.barh(pos, data, height=width, color=colour, label=name)
        else:
            bars = ax.bar(pos, data, width=width, color=colour, label=name)
        ax.bar_label(bars, labels=[_fmt(v) for v in data], padding=2, fontsize=8, color=TEXT)
    _counts_axis(ax, values, "x" if horizontal else "y")
    if horizontal:
        ax.set_yticks(positions, spec.labels)
        ax.invert_yaxis()  # the first label (the largest, by convention) on top
        ax.margins(x=0.12)
        _tidy(ax, spec, grid_axis="x")
    else:
        ax.set_xticks(positions, spec.labels)
        ax.margins(y=0.12)
        _tidy(ax, spec)
        _rotate_if_crowded(ax, spec)
    if not single:
        _legend_right(ax)


def _draw_stacked(fig: Figure, spec: ChartSpec) -> None:
    ax = fig.subplots()
    values = _values(spec)
    positions = list(range(len(spec.labels)))
    bottoms = [0.0] * len(positions)
    for colour, (name, data) in zip(series_colours(spec), values.items(), strict=True):
        ax.bar(positions, data, 0.6, bottom=bottoms, color=colour, label=name)
        bottoms = [b + v for b, v in zip(bottoms, data, strict=True)]
    for x, total in zip(positions, bottoms, strict=True):
        ax.annotate(
            _fmt(total),
            (x, total),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color=TEXT,
        )
    ax.set_xticks(positions, spec.labels)
    ax.margins(y=0.12)
    _counts_axis(ax, values, "y")
    _tidy(ax, spec)
    _rotate_if_crowded(ax, spec)
    _legend_right(ax)


def _draw_line(fig: Figure, spec: ChartSpec) -> None:
    ax = fig.subplots()
    positions = list(range(len(spec.labels)))
    values = _values(spec)
    for colour, (name, data) in zip(series_colours(spec), values.items(), strict=True):
        ax.plot(positions, data, marker="o", markersize=4, linewidth=1.8, color=colour, label=name)
    ax.set_xticks(positions, spec.labels)
    ax.set_ylim(bottom=0)
    _counts_axis(ax, values, "y")
    ax.margins(y=0.12)
    _tidy(ax, spec)
    _rotate_if_crowded(ax, spec)
    if len(values) > 1:
        _legend_right(ax)


def _draw_pie(fig: Figure, spec: ChartSpec) -> None:
    ax = fig.subplots()
    data = next(iter(_values(spec).values()))
    # Zero slices are left out: they only crowd the labels.
    kept = [(lab, v, c) for lab, v, c in zip(spec.labels, data, label_colours(spec), strict=True)]
    kept = [item for item in kept if item[1] > 0]
    total = sum(v for _, v, _ in kept)
    wedges, _texts, autotexts = ax.pie(
        [v for _, v, _ in kept],
        colors=[c for _, _, c in kept],
        startangle=90,
        counterclock=False,
        autopct=lambda pct: f"{pct:.1f}%" if pct >= 4 else "",
        pctdistance=0.78,
        wedgeprops={"width": 0.45, "edgecolor": "white", "linewidth": 1.2},
    )
    for text in autotexts:
        text.set_color("white")
        text.set_fontsize(8)
    ax.text(0, 0, _fmt(total), ha="center", va="center", fontsize=16, fontweight="bold", color=TEXT)
    ax.set_title(spec.title)
    ax.set_aspect("equal")
    ax.legend(
        wedges,
        [f"{lab}  {_fmt(v)}" for lab, v, _ in kept],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
    )


def _draw_heatmap(fig: Figure, spec: ChartSpec) -> None:
    from matplotlib.colors import LinearSegmentedColormap  # noqa: PLC0415

    ax = fig.subplots()
    rows = [
        [_number(row[x]) if x < len(row) else 0.0 for x in range(len(spec.labels))]
        for row in spec.matrix[: len(spec.y_labels)]
    ]
    rows += [[0.0] * len(spec.labels) for _ in range(len(spec.y_labels) - len(rows))]
    peak = max((v for row in rows for v in row), default=0.0)
    ramp = LinearSegmentedColormap.from_list("risk", list(HEAT_RAMP))
    ax.imshow(rows, cmap=ramp, vmin=0, vmax=max(peak, 1.0), aspect="auto")
    for y, row in enumerate(rows):
        for x, value in enumerate(row):
            dark = peak > 0 and value / peak > 0.6
            ax.text(
                x,
                y,
                _fmt(value),
                ha="center",
                va="center",
                fontsize=10,
                fontweight="bold",
                color="white" if dark else TEXT,
            )
    ax.set_xticks(range(len(spec.labels)), spec.labels)
    ax.set_yticks(range(len(spec.y_labels)), spec.y_labels)
    ax.set_xticks([i - 0.5 for i in range(1, len(spec.labels))], minor=True)
    ax.set_yticks([i - 0.5 for i in range(1, len(spec.y_labels))], minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="both", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(spec.title)
    if spec.x_title:
        ax.set_xlabel(spec.x_title)
    if spec.y_title:
        ax.set_ylabel(spec.y_title)


def _height(spec: ChartSpec) -> float:
    if not has_data(spec):
        return 2.0
    if spec.kind == "heatmap":
        return max(2.8, min(6.0, 1.4 + 0.5 * len(spec.y_labels)))
    if spec.kind == "barh":
        return max(2.8, min(7.0, 1.2 + 0.32 * len(spec.labels)))
    return 3.4


def render_png(spec: ChartSpec) -> bytes:
    """Draw ``spec`` to PNG bytes (a 'no data' chart when there is nothing to draw)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

    with _style(regular_font()):
        fig = _new_figure(_height(spec))
        FigureCanvasAgg(fig)
        if not has_data(spec):
            _draw_no_data(fig, spec)
        elif spec.kind in ("bar", "barh"):
            _draw_bar(fig, spec, horizontal=spec.kind == "barh")
        elif spec.kind == "stacked":
            _draw_stacked(fig, spec)
        elif spec.kind == "line":
            _draw_line(fig, spec)
        elif spec.kind == "pie":
            _draw_pie(fig, spec)
        else:
            _draw_heatmap(fig, spec)
        fig.tight_layout()
        buf = io.BytesIO()
        # No "Software" text chunk: identical specs give identical bytes.
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()
