"""Finding the CJK font the PDF renderer and the charts draw Chinese text with.

Debian's fonts-noto-cjk ships Noto Sans CJK as OpenType collections; the Simplified Chinese
face of the collection is chosen by its family name, not by a fixed index, because the order
of faces differs between releases.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t

_SEARCH_DIRS = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/truetype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
)
_FAMILY = "Noto Sans CJK SC"


@dataclass(frozen=True)
class FontFace:
    """One face of a font file: the file and the index inside a collection."""

    path: Path
    index: int
    family: str


def _faces(path: Path) -> list[tuple[int, str]]:
    from fontTools.ttLib import TTCollection, TTFont  # noqa: PLC0415 - only when drawing

    if path.suffix.lower() in (".ttc", ".otc"):
        with TTCollection(str(path), lazy=True) as collection:
            return [
                (i, font["name"].getBestFamilyName() or "") for i, font in enumerate(collection)
            ]
    with TTFont(str(path), lazy=True) as font:
        return [(0, font["name"].getBestFamilyName() or "")]


def _find(style: str) -> FontFace:
    env = os.environ.get("SHAOBING_REPORT_FONT_BOLD" if style == "Bold" else "SHAOBING_REPORT_FONT")
    candidates: list[Path] = [Path(env)] if env else []
    for folder in _SEARCH_DIRS:
        candidates.extend(sorted(folder.glob(f"NotoSansCJK*-{style}.tt[co]")))
        candidates.extend(sorted(folder.glob(f"NotoSansCJKsc-{style}.otf")))
    for path in candidates:
        if not path.is_file():
            continue
        for index, family in _faces(path):
            if family == _FAMILY or env:
                return FontFace(path, index, family)
    raise ShaobingError(t("reports.no_cjk_font", family=_FAMILY))


@cache
def regular_font() -> FontFace:
    """The regular CJK face (``SHAOBING_REPORT_FONT`` overrides the search)."""
    return _find("Regular")


@cache
def bold_font() -> FontFace:
    """The bold CJK face; the regular one when no bold file is installed."""
    try:
        return _find("Bold")
    except ShaobingError:
        return regular_font()
